/* Device table rules KVM does not check (spec §6.1 rules 20-30, 40): level-1
 * entries, aliased level-2 pages, DTE fields and links, overlapping ITTs and
 * orphaned DTEs. L2_ALIASED, DTE_ITT_ZERO and ITT_OVERLAP hold for every
 * layout; the rest read KVM's ABI (QEMU's DTEs: rules_tcg). A DTE with
 * Size > 15 has no meaningful ITT range (DTE_SIZE_RANGE, TCG_DTE_BAD): it
 * takes no part in ITT_OVERLAP. */
#include "rules_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "its/bits.h"
#include "its/search.h"

/* First device record with device_id >= id (records are sorted by ID). */
static size_t dev_lower_bound(const struct its_image_its *it, uint64_t id)
{
	return ITS_LOWER_BOUND(it->devs, it->nr_devs, device_id, id);
}

static uint64_t per_l2_page(const struct its_image_its *it)
{
	return it->dt.l2_bytes / it->layout->dte_size;
}

static void check_l1(unsigned its, const struct its_image_its *it,
		     struct findings *fs, int *rc)
{
	uint64_t per_page = per_l2_page(it);
	uint64_t max_index = per_page ? (1ULL << VITS_TYPER_DEVBITS) / per_page : 0;

	for (size_t i = 0; i < it->nr_l1; i++) {
		const struct its_l1_rec *l = &it->l1[i];
		uint64_t hi = l->e.raw & ITS_GENMASK(62, 52);
		uint64_t lo = l->e.raw & ITS_GENMASK(15, 0);
		uint64_t first = (uint64_t)l->index * per_page;
		size_t n = 0, j;
		struct finding w;

		if (!l->e.valid)
			continue;
		w = rules_at_l1(its, l);
		if (hi || lo)
			RULE_ADD(rc, fs, PR_L1_RES0, &w,
				 "L1[%u] 0x%016llx: bits [62:52] = 0x%llx, bits [15:0] = 0x%llx",
				 l->index, (unsigned long long)l->e.raw,
				 (unsigned long long)(hi >> 52),
				 (unsigned long long)lo);
		if (l->index < max_index || (l->flags & ITS_F_L2_NOT_WALKED))
			continue;
		for (j = dev_lower_bound(it, first);
		     j < it->nr_devs && it->devs[j].device_id < first + per_page;
		     j++)
			n += it->devs[j].e.valid;
		if (!n)
			continue;
		j = dev_lower_bound(it, first);
		while (!it->devs[j].e.valid)
			j++;
		w.device_id = it->devs[j].device_id;
		RULE_ADD(rc, fs, PR_L1_BEYOND_DEVBITS, &w,
			 "L1[%u] (DeviceIDs 0x%llx-0x%llx): L2 page 0x%llx holds %zu valid DTE%s, first DeviceID 0x%x",
			 l->index, (unsigned long long)first,
			 (unsigned long long)(first + per_page - 1),
			 (unsigned long long)l->e.l2, n, n == 1 ? "" : "s",
			 it->devs[j].device_id);
	}
}

static int l1_addr_cmp(const void *pa, const void *pb)
{
	const struct its_l1_rec *a = *(const struct its_l1_rec *const *)pa;
	const struct its_l1_rec *b = *(const struct its_l1_rec *const *)pb;
	int c = rules_cmp_u64(a->e.l2, b->e.l2);

	return c ? c : rules_cmp_u64(a->index, b->index);
}

static int check_aliases(unsigned its, const struct its_image_its *it,
			 struct findings *fs, int *rc)
{
	const struct its_l1_rec **v;
	size_t n = 0;

	if (!it->nr_l1)
		return 0;
	v = malloc(it->nr_l1 * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < it->nr_l1; i++)
		if (it->l1[i].e.valid)
			v[n++] = &it->l1[i];
	if (n > 1)
		qsort(v, n, sizeof(*v), l1_addr_cmp);
	for (size_t i = 1, head = 0; i < n; i++) {
		struct finding w;

		if (v[i]->e.l2 != v[head]->e.l2) {
			head = i;
			continue;
		}
		w = rules_at_l1(its, v[i]);
		RULE_ADD(rc, fs, PR_L2_ALIASED, &w,
			 "L1[%u] and L1[%u] both point at L2 page 0x%llx",
			 v[i]->index, v[head]->index,
			 (unsigned long long)v[i]->e.l2);
	}
	free(v);
	return 0;
}

static void check_dtes(unsigned its, const struct its_image_its *it,
		       struct findings *fs, int *rc)
{
	uint64_t per_page = per_l2_page(it);
	bool kvm = rules_is_kvm(it);

	for (size_t i = 0; i < it->nr_devs; i++) {
		const struct its_dev_rec *d = &it->devs[i];
		uint64_t tgt, limit;
		struct finding w;

		if (!rules_dte_live(d))
			continue;
		w = rules_at_dte(its, it, d);
		if (d->e.itt == 0)
			RULE_ADD(rc, fs, PR_DTE_ITT_ZERO, &w,
				 "DeviceID 0x%x: ITT address 0 (%u EventID bit%s)",
				 d->device_id, d->e.size + 1,
				 d->e.size ? "s" : "");
		if (!kvm || !d->e.next)
			continue;
		tgt = (uint64_t)d->device_id + d->e.next;
		if (d->flags & ITS_F_NEXT_LANDS_INVALID)
			RULE_ADD(rc, fs, PR_DTE_NEXT_LANDS_INVALID, &w,
				 "DeviceID 0x%x: next %u lands on DeviceID 0x%llx, which holds no valid DTE",
				 d->device_id, d->e.next,
				 (unsigned long long)tgt);
		/* rule 26: a next that ends exactly at the end is what the
		 * repair writes (old kernels' remaining length becomes 0) */
		limit = it->dt.indirect ?
			(d->device_id / per_page + 1) * per_page : it->dt.slots;
		if (tgt <= limit)
			continue;
		RULE_ADD(rc, fs, PR_DTE_NEXT_PAST_PAGE, &w,
			 "DeviceID 0x%x: next %u reaches 0x%llx, past %s (last DeviceID 0x%llx); next %llu would end at the %s end",
			 d->device_id, d->e.next, (unsigned long long)tgt,
			 it->dt.indirect ? "its L2 page" : "the table",
			 (unsigned long long)(limit - 1),
			 (unsigned long long)(limit - d->device_id),
			 it->dt.indirect ? "page" : "table");
	}
}

struct itt_range {
	uint64_t start, end;
	const struct its_dev_rec *d;
};

static int itt_cmp(const void *pa, const void *pb)
{
	const struct itt_range *a = pa, *b = pb;
	int c = rules_cmp_u64(a->start, b->start);

	return c ? c : rules_cmp_u64(a->d->device_id, b->d->device_id);
}

/* rule 30: byte ranges, sorted and swept once (ITTs may share a page) */
static int check_itt_overlap(unsigned its, const struct its_image_its *it,
			     struct findings *fs, int *rc)
{
	struct itt_range *v, far = { 0, 0, NULL };
	size_t n = 0;

	if (!it->nr_devs)
		return 0;
	v = malloc(it->nr_devs * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < it->nr_devs; i++) {
		const struct its_dev_rec *d = &it->devs[i];

		if (!rules_itt_sized(d))
			continue;
		v[n].start = d->e.itt;
		v[n].end = d->e.itt +
			   ((uint64_t)it->layout->ite_size << d->event_bits);
		v[n].d = d;
		n++;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), itt_cmp);
	if (n)
		far = v[0];	/* the range seen so far that reaches furthest */
	for (size_t i = 1; i < n; i++) {
		if (v[i].start < far.end) {
			struct finding w = rules_at_dte(its, it, v[i].d);

			RULE_ADD(rc, fs, PR_ITT_OVERLAP, &w,
				 "ITT of DeviceID 0x%x [0x%llx, 0x%llx) overlaps ITT of DeviceID 0x%x [0x%llx, 0x%llx)",
				 v[i].d->device_id,
				 (unsigned long long)v[i].start,
				 (unsigned long long)v[i].end,
				 far.d->device_id,
				 (unsigned long long)far.start,
				 (unsigned long long)far.end);
		}
		if (v[i].end > far.end)
			far = v[i];
	}
	free(v);
	return 0;
}

static int u64_cmp(const void *pa, const void *pb)
{
	return rules_cmp_u64(*(const uint64_t *)pa, *(const uint64_t *)pb);
}

static bool u64_has(const uint64_t *v, size_t n, uint64_t x)
{
	return n && bsearch(&x, v, n, sizeof(*v), u64_cmp) != NULL;
}

/* Rule 40: a restored DTE that is not the first of its walk (the flat
 * table, or its L2 page) and that no `next` of a live DTE links to. One
 * reached by stepping on after a capped next (16383) is what KVM's SAVE
 * writes for gaps of 16384 DeviceIDs or more: not an orphan; nor is one
 * reached by stepping over a DTE the restore failed on (that failure is
 * the finding). */
/* The live DTE just before d (after the restored DTE prev) is one the
 * restore failed on: the walk stepped over it to reach d. */
static bool stepped_after_failure(const struct its_image_its *it,
				  const struct rules_fails *fails,
				  const struct its_dev_rec *d, uint64_t prev)
{
	const struct its_dev_rec *q = d;

	while (q > it->devs) {
		q--;
		if (q->device_id <= prev)
			return false;
		if (rules_dte_live(q))
			return rules_failed(fails, rules_dte_table(it),
					    q->device_id, FINDING_NONE);
	}
	return false;
}

static int check_orphans(unsigned its, const struct its_image_its *it,
			 const struct restore_result *rr, struct findings *fs,
			 int *rc)
{
	uint64_t per_page = it->dt.indirect ? per_l2_page(it) : 0;
	uint64_t *ids, *links;
	struct rules_fails fails[1];
	size_t nl = 0;

	if (!rr->nr_devs)
		return 0;
	ids = malloc(rr->nr_devs * sizeof(*ids));
	links = malloc((it->nr_devs ? it->nr_devs : 1) * sizeof(*links));
	if (!ids || !links || rules_fails_init(fails, rr) < 0) {
		free(ids);
		free(links);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rr->nr_devs; i++)
		ids[i] = rr->devs[i].device_id;
	qsort(ids, rr->nr_devs, sizeof(*ids), u64_cmp);
	for (size_t i = 0; i < it->nr_devs; i++)
		if (rules_dte_live(&it->devs[i]) && it->devs[i].e.next)
			links[nl++] = (uint64_t)it->devs[i].device_id +
				      it->devs[i].e.next;
	qsort(links, nl, sizeof(*links), u64_cmp);
	for (size_t i = 1; i < rr->nr_devs; i++) {
		uint64_t id = ids[i], prev = ids[i - 1];
		const struct its_dev_rec *d, *p;
		struct finding w;

		if (per_page && id / per_page != prev / per_page)
			continue;	/* first DTE of its L2 page */
		if (id == prev || u64_has(links, nl, id))
			continue;
		p = its_image_device(it, (uint32_t)prev);
		if (p && p->e.next == VITS_DTE_MAX_DEVID_OFFSET)
			continue;
		d = its_image_device(it, (uint32_t)id);
		if (d && stepped_after_failure(it, fails, d, prev))
			continue;
		if (d) {
			w = rules_at_dte(its, it, d);
		} else {
			w = finding_at(its, (int)rules_dte_table(it));
			w.device_id = (int64_t)id;
		}
		RULE_ADD(rc, fs, PR_DTE_ORPHAN, &w,
			 "DeviceID 0x%llx: restored, but no next links to it and it is not the first DTE of its walk (DeviceID 0x%llx before it: next %u)",
			 (unsigned long long)id, (unsigned long long)prev,
			 p ? p->e.next : 0);
	}
	free(ids);
	free(links);
	rules_fails_release(fails);
	return 0;
}

int rules_devices(const struct check_ctx *cx, unsigned its,
		  const struct restore_result *rr, struct findings *fs)
{
	const struct its_image_its *it = &cx->img->its[its];
	int rc = 0;

	if (!it->dt.valid)
		return 0;
	if (rules_is_kvm(it) && it->dt.indirect)
		check_l1(its, it, fs, &rc);
	if (it->dt.indirect && check_aliases(its, it, fs, &rc) < 0)
		return -ENOMEM;
	check_dtes(its, it, fs, &rc);
	if (check_itt_overlap(its, it, fs, &rc) < 0)
		return -ENOMEM;
	if (rules_is_kvm(it) && rules_have_restore(rr) &&
	    check_orphans(its, it, rr, fs, &rc) < 0)
		return -ENOMEM;
	return rc;
}
