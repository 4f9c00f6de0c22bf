/* Cross-table rules (spec §6.1 rules 13, 47-49): an enabled ITS whose
 * tables hold nothing, tables that overlap each other, tables outside
 * guest RAM.
 *
 * Tables: the command queue, the device table (flat or level 1), each
 * level-2 page of a valid L1 entry, the collection table, each ITT of a
 * live DTE (with Size <= 15), the LPI property table and each pending table. The property and
 * pending tables are the VM's: overlaps among them alone are recorded in the
 * call for ITS 0; their placement is rules_lpi's (PROP_TABLE_NOT_RAM,
 * PEND_TABLE_NOT_RAM). With several ITSes, an overlap between two of them
 * is recorded in the call for the later one. Not TABLE_OVERLAP: two ITTs of
 * one ITS (ITT_OVERLAP), two L1 entries of one ITS naming the same page
 * (L2_ALIASED), two vCPUs with the same pending table (PENDBASER_SHARED). */
#include "rules_int.h"

#include "its/search.h"

#include <stdio.h>
#include <stdlib.h>

#include "its/bits.h"

/* Overlaps counted per call before giving up (a corrupt image could make
 * thousands of tables overlap thousands of others). */
#define OVERLAP_BUDGET (1u << 20)

enum rkind { RK_CMDQ, RK_DT, RK_L2, RK_CT, RK_ITT, RK_PROP, RK_PEND };

struct xrange {
	uint64_t start, end;
	int owner;			/* ITS index; -1: the VM's (LPI tables) */
	enum rkind kind;
	uint32_t id;			/* L1 index, DeviceID or vCPU */
	uint64_t placer;		/* entry or register that places it */
};

struct xlist {
	struct xrange *v;
	size_t nr, cap;
};

struct xctx {
	const struct check_ctx *cx;
	unsigned its;
	struct findings *fs;
	int rc;
	size_t budget;
};

static int xpush(struct xlist *l, uint64_t start, uint64_t len, int owner,
		 enum rkind kind, uint32_t id, uint64_t placer)
{
	struct xrange *r;

	if (!len)
		return 0;
	if (l->nr == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct xrange *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	r = &l->v[l->nr++];
	r->start = start;
	r->end = len > UINT64_MAX - start ? UINT64_MAX : start + len;
	r->owner = owner;
	r->kind = kind;
	r->id = id;
	r->placer = placer;
	return 0;
}

static int xrange_cmp(const void *pa, const void *pb)
{
	const struct xrange *a = pa, *b = pb;
	int c;

	if ((c = rules_cmp_u64(a->start, b->start)))
		return c;
	if ((c = rules_cmp_u64((uint64_t)(a->owner + 1), (uint64_t)(b->owner + 1))))
		return c;
	if ((c = rules_cmp_u64(a->kind, b->kind)))
		return c;
	return rules_cmp_u64(a->id, b->id);
}

static void xsort(struct xlist *l)
{
	if (l->nr > 1)
		qsort(l->v, l->nr, sizeof(*l->v), xrange_cmp);
}

/* The tables of ITS j: non-ITT ranges to a, ITTs to b. */
static int its_ranges(const struct check_ctx *cx, unsigned j, struct xlist *a,
		      struct xlist *b)
{
	const struct its_image_its *it = &cx->img->its[j];
	const struct its_regs_raw *r = &it->regs;
	int o = (int)j;
	struct xlist l2 = { NULL, 0, 0 };
	int rc = 0;

	if ((r->present & ITS_REG_CBASER) && (r->cbaser & GITS_CBASER_VALID)) {
		uint64_t base = GITS_CBASER_ADDRESS(r->cbaser);

		/* KVM clears address bits [15:12] */
		if (rules_is_kvm(it))
			base &= ~0xFFFFULL;
		rc |= xpush(a, base,
			    (uint64_t)GITS_CBASER_NR_PAGES(r->cbaser) * 4096, o,
			    RK_CMDQ, 0, r->cbaser);
	}
	if (it->dt.valid)
		rc |= xpush(a, it->dt.gpa, it->dt.bytes, o, RK_DT, 0,
			    r->baser[0]);
	if (it->ct.valid)
		rc |= xpush(a, it->ct.gpa, it->ct.bytes, o, RK_CT, 0,
			    r->baser[1]);
	if (it->dt.valid && it->dt.indirect) {
		/* one range per distinct page (aliases are L2_ALIASED) */
		for (size_t i = 0; i < it->nr_l1; i++)
			if (it->l1[i].e.valid)
				rc |= xpush(&l2, it->l1[i].e.l2,
					    it->dt.l2_bytes, o, RK_L2,
					    it->l1[i].index, it->l1[i].e.raw);
		xsort(&l2);
		for (size_t i = 0; i < l2.nr; i++) {
			const struct xrange *p = &l2.v[i];

			if (i && p->start == l2.v[i - 1].start)
				continue;
			rc |= xpush(a, p->start, p->end - p->start, o, RK_L2,
				    p->id, p->placer);
		}
		free(l2.v);
	}
	for (size_t i = 0; i < it->nr_devs; i++) {
		const struct its_dev_rec *d = &it->devs[i];

		if (!rules_itt_sized(d))
			continue;
		rc |= xpush(b, d->e.itt,
			    (uint64_t)it->layout->ite_size << d->event_bits, o,
			    RK_ITT, d->device_id, d->e.raw);
	}
	return rc ? -ENOMEM : 0;
}

/* The VM's LPI tables: the property table KVM uses and each distinct
 * pending table. */
static int vm_ranges(const struct check_ctx *cx, struct xlist *a)
{
	const struct its_image *img = cx->img;
	const struct gicr_regs_raw *p = rules_propbaser(img);
	unsigned bits = p ? rules_lpi_bits(p->propbaser) : RULES_MAX_LPI_BITS;
	struct xlist pend = { NULL, 0, 0 };
	int rc = 0;

	if (p && GICR_PROPBASER_IDBITS(p->propbaser) >= 13)
		rc |= xpush(a, GICR_PROPBASER_ADDRESS(p->propbaser),
			    (1ULL << bits) - GIC_LPI_OFFSET, -1, RK_PROP, p->cpu,
			    p->propbaser);
	for (size_t i = 0; i < img->nr_rd; i++)
		if (rules_pendbaser_known(&img->rd[i]))
			rc |= xpush(&pend,
				    GICR_PENDBASER_ADDRESS(img->rd[i].pendbaser),
				    bits >= 3 ? (1ULL << bits) / 8 : 1, -1,
				    RK_PEND, img->rd[i].cpu,
				    img->rd[i].pendbaser);
	xsort(&pend);
	for (size_t i = 0; i < pend.nr; i++) {
		const struct xrange *r = &pend.v[i];

		/* shared tables are PENDBASER_SHARED */
		if (i && r->start == pend.v[i - 1].start)
			continue;
		rc |= xpush(a, r->start, r->end - r->start, -1, RK_PEND, r->id,
			    r->placer);
	}
	free(pend.v);
	return rc ? -ENOMEM : 0;
}

static void xname(const struct xctx *c, const struct xrange *r, char *buf,
		  size_t len)
{
	int n = 0;

	if (r->owner >= 0 && (unsigned)r->owner != c->its)
		n = snprintf(buf, len, "ITS %d ", r->owner);
	buf += n;
	len -= (size_t)n;
	switch (r->kind) {
	case RK_CMDQ: snprintf(buf, len, "command queue"); break;
	case RK_DT: snprintf(buf, len, "device table"); break;
	case RK_L2: snprintf(buf, len, "L2 page of L1[%u]", r->id); break;
	case RK_CT: snprintf(buf, len, "collection table"); break;
	case RK_ITT: snprintf(buf, len, "ITT of DeviceID 0x%x", r->id); break;
	case RK_PROP: snprintf(buf, len, "LPI property table"); break;
	case RK_PEND: snprintf(buf, len, "pending table of vCPU %u", r->id); break;
	}
}

static struct finding xat(const struct xctx *c, const struct xrange *r,
			  uint64_t gpa)
{
	static const int table[] = {
		[RK_CMDQ] = -1, [RK_DT] = ITS_TABLE_DEVICES,
		[RK_L2] = ITS_TABLE_L2, [RK_CT] = ITS_TABLE_COLLECTIONS,
		[RK_ITT] = ITS_TABLE_ITT, [RK_PROP] = -1, [RK_PEND] = -1,
	};
	struct finding w = finding_at(c->its, table[r->kind]);

	if (r->kind == RK_ITT)
		w.device_id = r->id;
	if (r->kind == RK_PEND || r->kind == RK_PROP)
		w.cpu = r->id;
	w.has_gpa = true;
	w.gpa = gpa;
	finding_raw64(&w, r->placer);
	return w;
}

static bool allowed(const struct xctx *c, const struct xrange *x,
		    const struct xrange *y)
{
	bool mine = (x->owner >= 0 && (unsigned)x->owner == c->its) ||
		    (y->owner >= 0 && (unsigned)y->owner == c->its);

	if (x->owner == y->owner && x->kind == RK_ITT && y->kind == RK_ITT)
		return false;
	if (mine)
		return true;
	return x->owner < 0 && y->owner < 0 && c->its == 0;
}

static void report(struct xctx *c, const struct xrange *x,
		   const struct xrange *y)
{
	char nx[48], ny[48];
	const struct xrange *p = x, *q = y;
	uint64_t s;
	struct finding w;

	if (!c->budget || !allowed(c, x, y))
		return;
	c->budget--;
	/* the entry of this ITS names the finding */
	if (!(x->owner >= 0 && (unsigned)x->owner == c->its) &&
	    y->owner >= 0 && (unsigned)y->owner == c->its) {
		p = y;
		q = x;
	}
	s = x->start > y->start ? x->start : y->start;
	xname(c, p, nx, sizeof(nx));
	xname(c, q, ny, sizeof(ny));
	w = xat(c, p, s);
	RULE_ADD(&c->rc, c->fs, PR_TABLE_OVERLAP, &w,
		 "%s [0x%llx, 0x%llx) overlaps %s [0x%llx, 0x%llx)", nx,
		 (unsigned long long)p->start, (unsigned long long)p->end, ny,
		 (unsigned long long)q->start, (unsigned long long)q->end);
}

/* First index of l with start >= x. */
static size_t lower_bound(const struct xlist *l, uint64_t x)
{
	return ITS_LOWER_BOUND(l->v, l->nr, start, x);
}

/* Every overlapping pair of x in l1 and y in l2 (both sorted), once: y
 * starting inside x (at or after x's start), or x strictly inside y.
 * only_mine: l1 entries of other ITSes are skipped. */
static void cross_pairs(struct xctx *c, const struct xlist *l1,
			const struct xlist *l2, bool only_mine)
{
	for (size_t i = 0; i < l1->nr && c->budget; i++) {
		const struct xrange *x = &l1->v[i];

		if (only_mine && (x->owner < 0 || (unsigned)x->owner != c->its))
			continue;
		for (size_t j = lower_bound(l2, x->start);
		     j < l2->nr && l2->v[j].start < x->end && c->budget; j++)
			report(c, x, &l2->v[j]);
	}
	for (size_t j = 0; j < l2->nr && c->budget; j++) {
		const struct xrange *y = &l2->v[j];

		if (y->end - y->start < 2)
			continue;
		for (size_t i = lower_bound(l1, y->start + 1);
		     i < l1->nr && l1->v[i].start < y->end && c->budget; i++) {
			const struct xrange *x = &l1->v[i];

			if (only_mine &&
			    (x->owner < 0 || (unsigned)x->owner != c->its))
				continue;
			report(c, x, y);
		}
	}
}

static void check_overlaps(struct xctx *c, struct xlist *a,
			   struct xlist *b_mine, struct xlist *b_low)
{
	xsort(a);
	xsort(b_mine);
	xsort(b_low);
	for (size_t i = 0; i < a->nr && c->budget; i++)
		for (size_t j = i + 1;
		     j < a->nr && a->v[j].start < a->v[i].end && c->budget; j++)
			report(c, &a->v[i], &a->v[j]);
	cross_pairs(c, a, b_mine, false);
	cross_pairs(c, a, b_low, true);
	cross_pairs(c, b_mine, b_low, false);
}

static void check_not_ram(struct xctx *c, const struct xlist *l)
{
	for (size_t i = 0; i < l->nr; i++) {
		const struct xrange *r = &l->v[i];
		uint64_t first, bad;
		char name[48];
		struct finding w;

		if (r->owner < 0 || (unsigned)r->owner != c->its)
			continue;
		bad = rules_not_ram(c->cx->mem, r->start, r->end - r->start,
				    &first);
		if (!bad)
			continue;
		xname(c, r, name, sizeof(name));
		w = xat(c, r, first);
		RULE_ADD(&c->rc, c->fs, PR_TABLE_NOT_RAM, &w,
			 "%s [0x%llx, 0x%llx): 0x%llx bytes from 0x%llx are not guest RAM",
			 name, (unsigned long long)r->start,
			 (unsigned long long)r->end, (unsigned long long)bad,
			 (unsigned long long)first);
	}
}

static void check_empty(struct xctx *c, const struct its_image_its *it)
{
	const struct its_regs_raw *r = &it->regs;
	struct finding w;

	if (!rules_is_kvm(it) || !(r->present & ITS_REG_CTLR) ||
	    !(r->ctlr & GITS_CTLR_ENABLE) || !it->dt.valid || !it->ct.valid)
		return;
	for (size_t i = 0; i < it->nr_devs; i++)
		if (it->devs[i].e.valid)
			return;
	for (size_t i = 0; i < it->nr_ctes; i++)
		if (it->ctes[i].e.valid)
			return;
	w = finding_at(c->its, -1);
	RULE_ADD(&c->rc, c->fs, PR_TABLES_EMPTY_ITS_ENABLED, &w,
		 "GITS_CTLR.Enabled, GITS_BASER0 and GITS_BASER1 Valid, but no valid DTE or CTE in the device table at 0x%llx or the collection table at 0x%llx",
		 (unsigned long long)it->dt.gpa,
		 (unsigned long long)it->ct.gpa);
}

int rules_cross(const struct check_ctx *cx, unsigned its,
		const struct restore_result *rr, struct findings *fs)
{
	struct xctx c = { cx, its, fs, 0, OVERLAP_BUDGET };
	struct xlist a = { NULL, 0, 0 }, b_mine = { NULL, 0, 0 };
	struct xlist b_low = { NULL, 0, 0 };
	int rc = 0;

	(void)rr;
	check_empty(&c, &cx->img->its[its]);
	rc = its_ranges(cx, its, &a, &b_mine);
	for (unsigned j = 0; rc == 0 && j < its; j++)
		rc = its_ranges(cx, j, &a, &b_low);
	if (rc == 0)
		rc = vm_ranges(cx, &a);
	if (rc == 0) {
		check_not_ram(&c, &a);
		check_not_ram(&c, &b_mine);
		check_overlaps(&c, &a, &b_mine, &b_low);
	}
	free(a.v);
	free(b_mine.v);
	free(b_low.v);
	return rc < 0 ? rc : c.rc;
}
