/* Helpers shared by the rule files: locations, the effective LPI tables,
 * memory placement, and the list of mapped LPIs. */
#include "rules_int.h"

#include <stdlib.h>
#include <string.h>

#include "its/bits.h"

int rules_cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

struct finding rules_at_dte(unsigned its, const struct its_image_its *it,
			    const struct its_dev_rec *d)
{
	struct finding w = finding_at(its, (int)rules_dte_table(it));

	w.device_id = d->device_id;
	w.has_gpa = true;
	w.gpa = d->gpa;
	finding_raw64(&w, d->e.raw);
	return w;
}

struct finding rules_at_ite(unsigned its, const struct its_image_its *it,
			    const struct its_dev_rec *d,
			    const struct its_ite_rec *e)
{
	struct finding w = finding_at(its, ITS_TABLE_ITT);

	w.device_id = d->device_id;
	w.event_id = e->event_id;
	w.has_gpa = true;
	w.gpa = e->gpa;
	finding_raw(&w, e->e.raw, it->layout->ite_size);
	return w;
}

struct finding rules_at_cte(unsigned its, const struct its_cte_rec *c)
{
	struct finding w = finding_at(its, ITS_TABLE_COLLECTIONS);

	w.icid = c->e.icid;
	w.has_gpa = true;
	w.gpa = c->gpa;
	finding_raw64(&w, c->e.raw);
	return w;
}

struct finding rules_at_l1(unsigned its, const struct its_l1_rec *l)
{
	struct finding w = finding_at(its, ITS_TABLE_DEVICES);

	w.has_gpa = true;
	w.gpa = l->gpa;
	finding_raw64(&w, l->e.raw);
	return w;
}

struct finding rules_at_event(unsigned its, const struct its_image_its *it,
			      uint32_t device_id, uint32_t event_id,
			      uint64_t gpa)
{
	const struct its_dev_rec *d = its_image_device(it, device_id);
	const struct its_ite_rec *e = d ? its_dev_event(d, event_id) : NULL;
	struct finding w;

	if (e && e->gpa == gpa)
		return rules_at_ite(its, it, d, e);
	w = finding_at(its, ITS_TABLE_ITT);
	w.device_id = device_id;
	w.event_id = event_id;
	w.has_gpa = true;
	w.gpa = gpa;
	return w;
}

void rules_raw32(struct finding *w, uint32_t v)
{
	uint8_t b[4];

	its_put_le32(b, v);
	finding_raw(w, b, 4);
}

const struct gicr_regs_raw *rules_propbaser(const struct its_image *img)
{
	for (size_t i = img->nr_rd; i-- > 0;)
		if ((img->rd[i].present & GICR_REG_PROPBASER) &&
		    img->rd[i].propbaser)
			return &img->rd[i];
	return NULL;
}

unsigned rules_lpi_bits(uint64_t propbaser)
{
	unsigned bits = GICR_PROPBASER_IDBITS(propbaser) + 1;

	return bits < RULES_MAX_LPI_BITS ? bits : RULES_MAX_LPI_BITS;
}

bool rules_pendbaser_known(const struct gicr_regs_raw *rd)
{
	return (rd->present & GICR_REG_PENDBASER) && rd->pendbaser;
}

uint64_t rules_not_ram(const struct gmem *g, uint64_t gpa, uint64_t len,
		       uint64_t *first)
{
	uint64_t bad = 0, beyond = 0;

	*first = gpa;
	/* table ranges come from 52-bit addresses and sizes of at most a few
	 * MiB; a range past the top of the address space cannot be RAM */
	if (len > UINT64_MAX - gpa) {
		beyond = len - (UINT64_MAX - gpa);
		len = UINT64_MAX - gpa;
	}
	while (len) {
		uint64_t run;
		enum gmem_kind k = gmem_span(g, gpa, len, &run);

		if (run > len || run == 0)
			run = len;
		if (k == GMEM_NOT_RAM) {
			if (!bad)
				*first = gpa;
			bad += run;
		}
		gpa += run;
		len -= run;
	}
	if (beyond && !bad)
		*first = gpa;
	return bad + beyond;
}

int rules_read_known(const struct gmem *g, uint64_t gpa, uint8_t *buf,
		     uint8_t *ok, size_t len)
{
	size_t off = 0;

	while (off < len) {
		uint64_t run;
		enum gmem_kind k = gmem_span(g, gpa + off, len - off, &run);
		size_t n = run > len - off ? len - off : (size_t)run;

		if (k == GMEM_NOT_RAM || k == GMEM_ABSENT) {
			memset(buf + off, 0, n);
			memset(ok + off, 0, n);
		} else {
			int rc = gmem_read(g, gpa + off, buf + off, n, 0, NULL);

			if (rc < 0)
				return rc;
			memset(ok + off, 1, n);
		}
		off += n;
	}
	return 0;
}

/* ---- mapped LPIs ---- */

struct maps_buf {
	struct rules_map *v;
	size_t nr, cap;
};

static int maps_push(struct maps_buf *b, const struct rules_map *m)
{
	if (b->nr == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct rules_map *v = realloc(b->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->nr] = *m;
	b->v[b->nr].order = b->nr;
	b->nr++;
	return 0;
}

static int cte_by_slot(const void *key, const void *elem)
{
	uint32_t s = *(const uint32_t *)key;
	const struct its_cte_rec *c = elem;

	return s < c->slot ? -1 : s > c->slot;
}

/* Target of ICID icid in QEMU's indexed collection table; -1 if none. */
static int64_t indexed_target(const struct its_image_its *it, uint32_t icid)
{
	/* no collection table walked: ctes is NULL, which bsearch refuses */
	const struct its_cte_rec *c = !it->nr_ctes ? NULL :
		bsearch(&icid, it->ctes, it->nr_ctes, sizeof(*it->ctes),
			cte_by_slot);

	if (!c || !c->e.valid || c->e.target == COLLECTION_NOT_MAPPED)
		return -1;
	return c->e.target;
}

/* ICID -> target of KVM's list up to its terminator (the first CTE of an
 * ICID wins, as in the restore); -1 where none. */
static int64_t *list_targets(const struct its_image_its *it)
{
	int64_t *t = malloc(RULES_MAX_LPIS * sizeof(*t));
	uint8_t *seen = calloc(RULES_MAX_LPIS / 8, 1);

	if (!t || !seen) {
		free(t);
		free(seen);
		return NULL;
	}
	for (uint32_t i = 0; i < RULES_MAX_LPIS; i++)
		t[i] = -1;
	for (size_t i = 0; i < it->nr_ctes; i++) {
		const struct its_cte_rec *c = &it->ctes[i];
		uint32_t icid = c->e.icid;

		if (c->slot >= it->ct_terminator)
			break;
		if (!c->e.valid || icid >= RULES_MAX_LPIS ||
		    (seen[icid / 8] & (1u << (icid % 8))))
			continue;
		seen[icid / 8] |= (uint8_t)(1u << (icid % 8));
		if (c->e.target != COLLECTION_NOT_MAPPED)
			t[icid] = c->e.target;
	}
	free(seen);
	return t;
}

int rules_maps(const struct check_ctx *cx, unsigned its,
	       const struct restore_result *rr, struct rules_map **out,
	       size_t *nr)
{
	const struct its_image_its *it = &cx->img->its[its];
	struct maps_buf b = { NULL, 0, 0 };
	struct rules_map m;
	int64_t *targets = NULL;

	memset(&m, 0, sizeof(m));
	m.its = its;
	if (rules_is_kvm(it) && rules_have_restore(rr)) {
		for (size_t i = 0; i < rr->nr_devs; i++) {
			const struct restore_dev *d = &rr->devs[i];

			for (size_t j = 0; j < d->nr_events; j++) {
				const struct restore_ite *e = &d->events[j];

				m.lpi = e->lpi;
				m.device_id = d->device_id;
				m.event_id = e->event_id;
				m.vcpu = e->vcpu;
				m.gpa = e->gpa;
				if (maps_push(&b, &m) < 0)
					goto oom;
			}
		}
		goto done;
	}
	/* KVM's list: look ICIDs up in a table made in one pass */
	if (!it->layout->collections_indexed) {
		targets = list_targets(it);
		if (!targets)
			goto oom;
	}
	for (size_t i = 0; i < it->nr_devs; i++) {
		const struct its_dev_rec *d = &it->devs[i];

		if (!rules_itt_sized(d))
			continue;
		for (size_t j = 0; j < d->nr_events; j++) {
			const struct its_ite_rec *e = &d->events[j];

			if (!rules_ite_live(e))
				continue;
			m.lpi = e->e.lpi;
			m.device_id = d->device_id;
			m.event_id = e->event_id;
			m.gpa = e->gpa;
			if (!targets)
				m.vcpu = indexed_target(it, e->e.icid);
			else if (e->e.icid < RULES_MAX_LPIS)
				m.vcpu = targets[e->e.icid];
			else
				m.vcpu = -1;
			if (maps_push(&b, &m) < 0)
				goto oom;
		}
	}
done:
	free(targets);
	*out = b.v;
	*nr = b.nr;
	return 0;
oom:
	free(targets);
	free(b.v);
	*out = NULL;
	*nr = 0;
	return -ENOMEM;
}

static int map_cmp(const void *pa, const void *pb)
{
	const struct rules_map *a = pa, *b = pb;
	int c;

	if ((c = rules_cmp_u64(a->lpi, b->lpi)))
		return c;
	if ((c = rules_cmp_u64(a->its, b->its)))
		return c;
	return rules_cmp_u64(a->order, b->order);
}

void rules_maps_sort(struct rules_map *m, size_t nr)
{
	if (nr > 1)
		qsort(m, nr, sizeof(*m), map_cmp);
}

/* ---- failed entries ---- */

static uint64_t fail_key(enum its_table_kind table, uint32_t device_id,
			 int64_t event_id)
{
	/* DTEs (flat or L2) share one kind; EventID + 1 fits 17 bits */
	uint64_t t = table == ITS_TABLE_ITT ? 2 :
		     table == ITS_TABLE_COLLECTIONS ? 0 : 1;
	uint64_t e = event_id < 0 ? 0 : (uint64_t)event_id + 1;

	return t << 62 | (uint64_t)device_id << 20 | (e & 0xFFFFF);
}

static int u64_cmp(const void *pa, const void *pb)
{
	return rules_cmp_u64(*(const uint64_t *)pa, *(const uint64_t *)pb);
}

int rules_fails_init(struct rules_fails *f, const struct restore_result *rr)
{
	f->key = NULL;
	f->nr = 0;
	if (!rules_have_restore(rr) || !rr->nr_fails)
		return 0;
	f->key = malloc(rr->nr_fails * sizeof(*f->key));
	if (!f->key)
		return -ENOMEM;
	for (size_t i = 0; i < rr->nr_fails; i++) {
		const struct finding *w = &rr->fails[i].where;

		if (!w->has_table || w->device_id < 0 ||
		    w->device_id > UINT32_MAX)
			continue;
		f->key[f->nr++] = fail_key(w->table, (uint32_t)w->device_id,
					   w->event_id);
	}
	if (f->nr > 1)
		qsort(f->key, f->nr, sizeof(*f->key), u64_cmp);
	return 0;
}

bool rules_failed(const struct rules_fails *f, enum its_table_kind table,
		  uint32_t device_id, int64_t event_id)
{
	uint64_t k = fail_key(table, device_id, event_id);

	return f->nr && bsearch(&k, f->key, f->nr, sizeof(*f->key),
				u64_cmp) != NULL;
}

void rules_fails_release(struct rules_fails *f)
{
	free(f->key);
	f->key = NULL;
	f->nr = 0;
}
