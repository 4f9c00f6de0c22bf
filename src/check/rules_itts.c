/* ITT rules KVM does not check (spec §6.1 rules 32, 34, 37, 38, 40): LPIs
 * beyond the property table, links to nothing, LPIs mapped twice (in any
 * device of any ITS), events of unmapped collections and orphaned ITEs.
 * ITE_LPI_ABOVE_MAX and ITE_LPI_DUPLICATE hold for every layout (QEMU does
 * not check them either); the rest read KVM's ABI. */
#include "rules_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_ites(const struct check_ctx *cx, unsigned its,
		       struct findings *fs, int *rc)
{
	const struct its_image_its *it = &cx->img->its[its];
	const struct gicr_regs_raw *prop = rules_propbaser(cx->img);
	unsigned idbits = prop ? GICR_PROPBASER_IDBITS(prop->propbaser) : 0;
	uint64_t limit = prop ? 1ULL << rules_lpi_bits(prop->propbaser) : 0;
	bool kvm = rules_is_kvm(it);

	/* IDbits < 13 leaves no LPI in range: PROPBASER_IDBITS says it */
	if (idbits < 13)
		limit = 0;
	for (size_t i = 0; i < it->nr_devs; i++) {
		const struct its_dev_rec *d = &it->devs[i];

		if (!rules_itt_sized(d))
			continue;
		for (size_t j = 0; j < d->nr_events; j++) {
			const struct its_ite_rec *e = &d->events[j];
			struct finding w;

			if (!rules_ite_live(e))
				continue;
			w = rules_at_ite(its, it, d, e);
			/* QEMU's ITEs >= 65536: TCG_ITE_LPI_RANGE */
			if (limit && e->e.lpi >= limit &&
			    (kvm || e->e.lpi < RULES_MAX_LPIS))
				RULE_ADD(rc, fs, PR_ITE_LPI_ABOVE_MAX, &w,
					 "DeviceID 0x%x EventID %u: LPI %u >= %llu (GICR_PROPBASER.IDbits %u)",
					 d->device_id, e->event_id, e->e.lpi,
					 (unsigned long long)limit, idbits);
			if (kvm && (e->flags & ITS_F_NEXT_LANDS_INVALID))
				RULE_ADD(rc, fs, PR_ITE_NEXT_LANDS_INVALID, &w,
					 "DeviceID 0x%x EventID %u: next %u lands on EventID %llu, which holds no valid ITE",
					 d->device_id, e->event_id, e->e.next,
					 (unsigned long long)e->event_id +
						 e->e.next);
		}
	}
}

static const struct rules_map *map_find(const struct rules_map *v, size_t n,
					uint32_t lpi)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].lpi < lpi)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo].lpi == lpi ? &v[lo] : NULL;
}

/* Rule 37, rule 49: each mapping of an LPI after the first (in walk order)
 * within this ITS, and the first one when an ITS with a lower index maps
 * the LPI too (so each pair is reported once, by the later ITS). Other
 * ITSes count with their live entries: their restore is not at hand. */
static int check_duplicates(const struct check_ctx *cx, unsigned its,
			    const struct restore_result *rr,
			    struct findings *fs, int *rc)
{
	const struct its_image_its *it = &cx->img->its[its];
	struct rules_map *v = NULL, *low = NULL;
	size_t n = 0, nlow = 0;

	if (rules_maps(cx, its, rr, &v, &n) < 0)
		return -ENOMEM;
	for (unsigned j = 0; j < its; j++) {
		struct rules_map *m;
		size_t nm;

		if (rules_maps(cx, j, NULL, &m, &nm) < 0)
			goto oom;
		if (nm) {
			struct rules_map *t = realloc(low, (nlow + nm) *
							   sizeof(*low));

			if (!t) {
				free(m);
				goto oom;
			}
			low = t;
			memcpy(low + nlow, m, nm * sizeof(*m));
			nlow += nm;
		}
		free(m);
	}
	rules_maps_sort(v, n);
	rules_maps_sort(low, nlow);
	for (size_t i = 0, head = 0; i < n; i++) {
		const struct rules_map *m = &v[i], *o;
		struct finding w;

		if (!i || m->lpi != v[head].lpi)
			head = i;
		if (i != head) {
			o = &v[head];
			w = rules_at_event(its, it, m->device_id, m->event_id,
					   m->gpa);
			RULE_ADD(rc, fs, PR_ITE_LPI_DUPLICATE, &w,
				 "DeviceID 0x%x EventID %u: LPI %u is mapped by DeviceID 0x%x EventID %u too",
				 m->device_id, m->event_id, m->lpi,
				 o->device_id, o->event_id);
		} else if ((o = map_find(low, nlow, m->lpi)) != NULL) {
			w = rules_at_event(its, it, m->device_id, m->event_id,
					   m->gpa);
			RULE_ADD(rc, fs, PR_ITE_LPI_DUPLICATE, &w,
				 "DeviceID 0x%x EventID %u: LPI %u is mapped by ITS %u DeviceID 0x%x EventID %u too",
				 m->device_id, m->event_id, m->lpi, o->its,
				 o->device_id, o->event_id);
		}
	}
	free(v);
	free(low);
	return 0;
oom:
	free(v);
	free(low);
	return -ENOMEM;
}

static int cte_icid_cmp(const void *pa, const void *pb)
{
	const struct restore_cte *a = pa, *b = pb;

	return rules_cmp_u64(a->icid, b->icid);
}

/* Rule 38: restored events whose collection has no target. */
static int check_unmapped(unsigned its, const struct its_image_its *it,
			  const struct restore_result *rr,
			  struct findings *fs, int *rc)
{
	struct restore_cte *c;

	if (!rr->nr_ctes || !rr->nr_devs)
		return 0;
	c = malloc(rr->nr_ctes * sizeof(*c));
	if (!c)
		return -ENOMEM;
	memcpy(c, rr->ctes, rr->nr_ctes * sizeof(*c));
	qsort(c, rr->nr_ctes, sizeof(*c), cte_icid_cmp);
	for (size_t i = 0; i < rr->nr_devs; i++) {
		const struct restore_dev *d = &rr->devs[i];

		for (size_t j = 0; j < d->nr_events; j++) {
			const struct restore_ite *e = &d->events[j];
			struct restore_cte key = { .icid = e->icid };
			const struct restore_cte *t;
			struct finding w;

			t = bsearch(&key, c, rr->nr_ctes, sizeof(*c),
				    cte_icid_cmp);
			if (!t || t->target != COLLECTION_NOT_MAPPED)
				continue;
			w = rules_at_event(its, it, d->device_id, e->event_id,
					   e->gpa);
			w.icid = e->icid;
			RULE_ADD(rc, fs, PR_ITE_COLLECTION_UNMAPPED, &w,
				 "DeviceID 0x%x EventID %u: LPI %u in collection ICID %u, which is not mapped (target 0xffffffff)",
				 d->device_id, e->event_id, e->lpi, e->icid);
		}
	}
	free(c);
	return 0;
}

static int u32_cmp(const void *pa, const void *pb)
{
	return rules_cmp_u64(*(const uint32_t *)pa, *(const uint32_t *)pb);
}

/* The valid ITE just before e (after the restored EventID prev) is one the
 * restore failed on: the walk stepped over it to reach e. */
static bool stepped_after_failure(const struct its_dev_rec *d,
				  const struct rules_fails *fails,
				  const struct its_ite_rec *e, uint32_t prev)
{
	const struct its_ite_rec *q = e;

	while (q > d->events) {
		q--;
		if (q->event_id <= prev)
			return false;
		if (q->e.valid)
			return rules_failed(fails, ITS_TABLE_ITT, d->device_id,
					    q->event_id);
	}
	return false;
}

/* Rule 40: a restored ITE that is not the first restored one of its ITT
 * and that no `next` of a valid ITE of the ITT links to (nor reached by
 * stepping over an ITE the restore failed on: that failure is the
 * finding). */
static int check_orphans(unsigned its, const struct its_image_its *it,
			 const struct restore_result *rr,
			 struct findings *fs, int *rc)
{
	size_t cap = 0;
	uint32_t *ev = NULL;
	uint8_t *linked = calloc(RULES_MAX_LPIS / 8, 1);
	struct rules_fails fails[1];

	if (!linked || rules_fails_init(fails, rr) < 0) {
		free(linked);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rr->nr_devs; i++) {
		const struct restore_dev *rd = &rr->devs[i];
		const struct its_dev_rec *d = its_image_device(it, rd->device_id);
		size_t n = rd->nr_events;

		if (n < 2 || !d)
			continue;
		if (n > cap) {
			uint32_t *t = realloc(ev, n * sizeof(*ev));

			if (!t) {
				free(ev);
				free(linked);
				rules_fails_release(fails);
				return -ENOMEM;
			}
			ev = t;
			cap = n;
		}
		for (size_t j = 0; j < n; j++)
			ev[j] = rd->events[j].event_id;
		qsort(ev, n, sizeof(*ev), u32_cmp);
		/* targets of every valid ITE's next: set, use, clear */
		for (size_t j = 0; j < d->nr_events; j++) {
			uint64_t t = (uint64_t)d->events[j].event_id +
				     d->events[j].e.next;

			if (d->events[j].e.valid && d->events[j].e.next &&
			    t < RULES_MAX_LPIS)
				linked[t / 8] |= (uint8_t)(1u << (t % 8));
		}
		for (size_t j = 1; j < n; j++) {
			const struct its_ite_rec *e, *p;
			struct finding w;

			if (ev[j] == ev[j - 1] || ev[j] >= RULES_MAX_LPIS ||
			    (linked[ev[j] / 8] & (1u << (ev[j] % 8))))
				continue;
			e = its_dev_event(d, ev[j]);
			p = its_dev_event(d, ev[j - 1]);
			if (e && stepped_after_failure(d, fails, e, ev[j - 1]))
				continue;
			if (e)
				w = rules_at_ite(its, it, d, e);
			else
				w = rules_at_event(its, it, d->device_id, ev[j],
						   d->e.itt + (uint64_t)ev[j] *
						   it->layout->ite_size);
			RULE_ADD(rc, fs, PR_ITE_ORPHAN, &w,
				 "DeviceID 0x%x EventID %u: restored, but no next links to it and it is not the first ITE of its ITT (EventID %u before it: next %u)",
				 d->device_id, ev[j], ev[j - 1],
				 p ? p->e.next : 0);
		}
		for (size_t j = 0; j < d->nr_events; j++) {
			uint64_t t = (uint64_t)d->events[j].event_id +
				     d->events[j].e.next;

			if (t < RULES_MAX_LPIS)
				linked[t / 8] = 0;
		}
	}
	free(ev);
	free(linked);
	rules_fails_release(fails);
	return 0;
}

int rules_itts(const struct check_ctx *cx, unsigned its,
	       const struct restore_result *rr, struct findings *fs)
{
	const struct its_image_its *it = &cx->img->its[its];
	int rc = 0;

	check_ites(cx, its, fs, &rc);
	if (check_duplicates(cx, its, rr, fs, &rc) < 0)
		return -ENOMEM;
	if (!rules_is_kvm(it) || !rules_have_restore(rr))
		return rc;
	if (check_unmapped(its, it, rr, fs, &rc) < 0 ||
	    check_orphans(its, it, rr, fs, &rc) < 0)
		return -ENOMEM;
	return rc;
}
