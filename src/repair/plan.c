/* From findings to rewrites (spec/kvm-its-abi.md §6.2). Every rewrite is a
 * whole entry or register. A plan is judged before anything is written:
 * laid over guest memory as an overlay, walked again, and run through the
 * restore model; a plan that loses a mapping the original restore kept (and
 * that the user did not ask to remove) or that makes the verdict worse is
 * cut down to the repairs that pass, and what is dropped says why. */
#include "its/repair.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its/bits.h"
#include "its/layout.h"
#include "its/regs.h"

#define ESZ 8
#define L2_IDS 8192u
#define MAX_GROUPS_TRIED 64	/* repairs judged one by one, at most */

struct planner {
	const struct check_ctx *cx;
	const struct check_result *cr;
	enum repair_mode mode;
	struct repair_plan *p;
	struct its_err *err;
	int rc;
};

static bool allowed(const struct planner *pl, enum problem_id id)
{
	enum problem_repair r = problem_table[id].repair;

	return r == REPAIR_SAFE || (r == REPAIR_OPTIN && pl->mode == REPAIR_MODE_ALL);
}

static struct repair_write *find_ram(struct repair_plan *p, unsigned its,
				     uint64_t gpa)
{
	for (size_t i = 0; i < p->nr; i++)
		if (p->v[i].kind == REPAIR_RAM && p->v[i].its == its &&
		    p->v[i].gpa == gpa)
			return &p->v[i];
	return NULL;
}

/* The value an entry has once the writes planned so far are made. */
static uint64_t planned(struct planner *pl, unsigned its, uint64_t gpa,
			uint64_t orig)
{
	struct repair_write *w = find_ram(pl->p, its, gpa);

	return w ? its_le64(w->new) : orig;
}

static void set_entry(struct planner *pl, unsigned its, uint64_t gpa,
		      uint64_t orig, uint64_t v, enum problem_id prob,
		      const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void set_entry(struct planner *pl, unsigned its, uint64_t gpa,
		      uint64_t orig, uint64_t v, enum problem_id prob,
		      const char *fmt, ...)
{
	struct repair_write *w = find_ram(pl->p, its, gpa), nw;
	va_list ap;

	if (w) {
		/* a second repair of the same entry: one write, both reasons */
		size_t n = strlen(w->why);

		its_put_le64(w->new, v);
		if (n + 3 < sizeof(w->why)) {
			va_start(ap, fmt);
			snprintf(w->why + n, sizeof(w->why) - n, "; ");
			vsnprintf(w->why + n + 2, sizeof(w->why) - n - 2, fmt, ap);
			va_end(ap);
		}
		return;
	}
	if (v == orig)
		return;
	memset(&nw, 0, sizeof(nw));
	nw.kind = REPAIR_RAM;
	nw.its = its;
	nw.gpa = gpa;
	nw.len = ESZ;
	its_put_le64(nw.old, orig);
	its_put_le64(nw.new, v);
	nw.problem = prob;
	nw.level = problem_table[prob].repair;
	va_start(ap, fmt);
	vsnprintf(nw.why, sizeof(nw.why), fmt, ap);
	va_end(ap);
	if (repair_plan_add(pl->p, &nw) < 0)
		pl->rc = -ENOMEM;
}

static void set_reg(struct planner *pl, unsigned its, int reg, uint64_t old,
		    uint64_t v, enum problem_id prob, const char *why)
{
	struct repair_write nw;

	if (old == v)
		return;
	memset(&nw, 0, sizeof(nw));
	nw.kind = REPAIR_REGISTER;
	nw.its = its;
	nw.reg = reg;
	nw.reg_old = old;
	nw.reg_new = v;
	nw.problem = prob;
	nw.level = problem_table[prob].repair;
	snprintf(nw.why, sizeof(nw.why), "%s", why);
	if (repair_plan_add(pl->p, &nw) < 0)
		pl->rc = -ENOMEM;
}

static bool found(const struct findings *fs, unsigned its, enum problem_id p)
{
	for (size_t i = 0; i < fs->nr; i++)
		if (fs->v[i].problem == p && fs->v[i].its == its)
			return true;
	return false;
}

/* GITS_BASER as KVM's vgic_sanitise_its_baser leaves it (spec §2.4). */
static uint64_t canonical_baser(unsigned n, uint64_t v)
{
	unsigned share = (unsigned)its_field(v, 11, 10);
	unsigned inner = (unsigned)its_field(v, 61, 59);
	unsigned outer = (unsigned)its_field(v, 55, 53);

	if (n > 1)
		return 0;
	v = its_field_put(v, 58, 56, n == 0 ? GITS_BASER_TYPE_DEVICE :
					     GITS_BASER_TYPE_COLLECTION);
	v = its_field_put(v, 52, 48, 7);
	v = its_field_put(v, 9, 8, GITS_BASER_PAGE_SIZE_64K);
	if (n == 1)
		v &= ~GITS_BASER_INDIRECT;
	if (share == 2)
		v = its_field_put(v, 11, 10, 1);
	if (inner <= 1)
		v = its_field_put(v, 61, 59, 3);
	if (outer > 1)
		v = its_field_put(v, 55, 53, 0);
	return v;
}

/* Every redistributor's non-zero GICR_PROPBASER to the value KVM keeps:
 * the last vCPU's non-zero one (spec §6.2 rule 42). */
static void plan_propbaser(struct planner *pl, unsigned its)
{
	const struct its_image *img = pl->cx->img;
	const struct gicr_regs_raw *keep = NULL;

	for (size_t i = img->nr_rd; i-- > 0 && !keep;)
		if ((img->rd[i].present & GICR_REG_PROPBASER) &&
		    img->rd[i].propbaser)
			keep = &img->rd[i];
	if (!keep)
		return;
	for (size_t i = 0; i < img->nr_rd; i++) {
		const struct gicr_regs_raw *rd = &img->rd[i];
		struct repair_write nw;
		bool dup = false;

		if (!(rd->present & GICR_REG_PROPBASER) || !rd->propbaser ||
		    rd->propbaser == keep->propbaser)
			continue;
		for (size_t k = 0; k < pl->p->nr; k++)
			dup |= pl->p->v[k].kind == REPAIR_REGISTER &&
			       pl->p->v[k].reg == RREG_GICR_PROPBASER &&
			       pl->p->v[k].cpu == i;
		if (dup)
			continue;
		memset(&nw, 0, sizeof(nw));
		nw.kind = REPAIR_REGISTER;
		nw.its = its;
		nw.reg = RREG_GICR_PROPBASER;
		nw.cpu = (unsigned)i;
		nw.reg_old = rd->propbaser;
		nw.reg_new = keep->propbaser;
		nw.problem = PR_PROPBASER_DIFFERS;
		nw.level = problem_table[PR_PROPBASER_DIFFERS].repair;
		snprintf(nw.why, sizeof(nw.why),
			 "vCPU %u's GICR_PROPBASER to vCPU %u's, the value KVM keeps (the last written)",
			 rd->cpu, keep->cpu);
		if (repair_plan_add(pl->p, &nw) < 0)
			pl->rc = -ENOMEM;
	}
}

static void plan_registers(struct planner *pl, unsigned its)
{
	const struct its_regs_raw *r = &pl->cx->img->its[its].regs;
	const struct findings *fs = &pl->cr->findings;
	static const enum problem_id baser_probs[] = {
		PR_BASER_TYPE, PR_BASER_ENTRY_SIZE, PR_BASER_PAGE_SIZE,
		PR_BASER_COLL_INDIRECT, PR_BASER_CACHE_SANITISED,
	};

	if (!its && found(fs, its, PR_PROPBASER_DIFFERS) &&
	    allowed(pl, PR_PROPBASER_DIFFERS))
		plan_propbaser(pl, its);
	if ((r->present & ITS_REG_IIDR) && found(fs, its, PR_IIDR_REVISION) &&
	    allowed(pl, PR_IIDR_REVISION) &&
	    GITS_IIDR_IMPLEMENTER(r->iidr) == IMPLEMENTER_ARM &&
	    GITS_IIDR_PRODUCT_ID(r->iidr) == PRODUCT_ID_KVM)
		set_reg(pl, its, RREG_IIDR, r->iidr, r->iidr & ~0xF000u,
			PR_IIDR_REVISION, "GITS_IIDR.Revision to 0, the only ITS table ABI");
	for (unsigned n = 0; n < ITS_NR_BASER; n++) {
		enum problem_id why = PR_COUNT;

		if (!(r->present & ITS_REG_BASER(n)) || !r->baser[n])
			continue;
		if (n > 1) {
			if (found(fs, its, PR_BASER_UNUSED_SET) &&
			    allowed(pl, PR_BASER_UNUSED_SET))
				set_reg(pl, its, RREG_BASER0 + (int)n, r->baser[n], 0,
					PR_BASER_UNUSED_SET,
					"GITS_BASER2..7 to 0: KVM implements BASER0 and BASER1 only");
			continue;
		}
		for (size_t k = 0; k < sizeof(baser_probs) / sizeof(baser_probs[0]); k++)
			if (found(fs, its, baser_probs[k]) && allowed(pl, baser_probs[k])) {
				why = baser_probs[k];
				break;
			}
		if (why != PR_COUNT)
			set_reg(pl, its, RREG_BASER0 + (int)n, r->baser[n],
				canonical_baser(n, r->baser[n]), why,
				"GITS_BASER to the value KVM itself would hold (Type, Entry_Size, Page_Size, Indirect, cacheability)");
	}
}

static const struct its_cte_rec *cte_at_gpa(const struct its_image_its *its,
					    uint64_t gpa)
{
	for (size_t i = 0; i < its->nr_ctes; i++)
		if (its->ctes[i].gpa == gpa)
			return &its->ctes[i];
	return NULL;
}

static void plan_collections(struct planner *pl, unsigned itsn,
			     const struct restore_result *rr)
{
	const struct its_image_its *its = &pl->cx->img->its[itsn];
	const struct findings *fs = &pl->cr->findings;

	for (size_t i = 0; i < fs->nr; i++) {
		const struct finding *f = &fs->v[i];
		const struct its_cte_rec *c;
		uint64_t v;

		if (f->its != itsn || !f->has_gpa || !allowed(pl, f->problem))
			continue;
		c = cte_at_gpa(its, f->gpa);
		if (!c)
			continue;
		v = planned(pl, itsn, c->gpa, c->e.raw);
		switch (f->problem) {
		case PR_CTE_AFTER_TERMINATOR:
			set_entry(pl, itsn, c->gpa, c->e.raw, 0, f->problem,
				  "zero the collection after the terminator (KVM never reads it)");
			break;
		case PR_CTE_RES0:
			set_entry(pl, itsn, c->gpa, c->e.raw,
				  v & ~ITS_GENMASK(62, 48), f->problem,
				  "clear CTE bits [62:48], which KVM ignores");
			break;
		case PR_CTE_TARGET_NO_VCPU:
			set_entry(pl, itsn, c->gpa, c->e.raw,
				  its_field_put(v, 47, 16, COLLECTION_NOT_MAPPED),
				  f->problem,
				  "make ICID %u unmapped (target 0xffffffff): its LPIs lose their target until the guest maps it again",
				  c->e.icid);
			break;
		default:
			break;
		}
	}
	/* identical duplicates: repack the list without them */
	if (found(fs, itsn, PR_CTE_DUPLICATE_ICID) &&
	    allowed(pl, PR_CTE_DUPLICATE_ICID)) {
		uint32_t slot = 0;
		bool identical = true;

		for (size_t i = 0; i < its->nr_ctes && identical; i++) {
			const struct its_cte_rec *a = &its->ctes[i];

			for (size_t j = 0; j < i; j++)
				if (its->ctes[j].e.valid && a->e.valid &&
				    its->ctes[j].e.icid == a->e.icid &&
				    its->ctes[j].e.raw != a->e.raw)
					identical = false;
		}
		if (!identical) {
			if (pl->p->nr_refused < 8)
				snprintf(pl->p->refused[pl->p->nr_refused++], 240,
					 "ITS %u: collections with the same ICID but other targets: which one is right is the guest's to say",
					 itsn);
			return;
		}
		for (size_t i = 0; i < its->nr_ctes; i++) {
			const struct its_cte_rec *a = &its->ctes[i];
			bool dup = false;

			if (!a->e.valid || a->slot >= rr->ct_terminator)
				continue;
			for (size_t j = 0; j < i; j++)
				dup |= its->ctes[j].e.valid &&
				       its->ctes[j].slot < rr->ct_terminator &&
				       its->ctes[j].e.icid == a->e.icid;
			if (dup)
				continue;
			if (its->ct.gpa + (uint64_t)slot * ESZ != a->gpa) {
				const struct its_cte_rec *old =
					cte_at_gpa(its, its->ct.gpa + (uint64_t)slot * ESZ);

				set_entry(pl, itsn, its->ct.gpa + (uint64_t)slot * ESZ,
					  old ? old->e.raw : 0, a->e.raw,
					  PR_CTE_DUPLICATE_ICID,
					  "repack the collection list without duplicates");
			}
			slot++;
		}
		/* a terminator right after, and the old tail cleared */
		for (size_t i = 0; i < its->nr_ctes; i++) {
			const struct its_cte_rec *a = &its->ctes[i];

			if (a->slot >= slot && a->slot < rr->ct_terminator)
				set_entry(pl, itsn, a->gpa, a->e.raw, 0,
					  PR_CTE_DUPLICATE_ICID,
					  "clear the slot freed by repacking");
		}
	}
}

/* Rule 25/34/26: every restored entry's next points at the next restored
 * entry: exact for ITEs; for DTEs capped at 16383 in a flat table, and cut
 * at the L2 page end in a two-level one. */
static void rethread(struct planner *pl, unsigned itsn,
		     const struct restore_result *rr, bool devices, bool events,
		     enum problem_id dev_prob, enum problem_id ev_prob)
{
	const struct its_image_its *its = &pl->cx->img->its[itsn];

	for (size_t i = 0; i < rr->nr_devs; i++) {
		const struct restore_dev *d = &rr->devs[i];
		const struct its_dev_rec *img = its_image_device(its, d->device_id);

		if (!img)
			continue;
		if (devices) {
			uint64_t next = 0, v;

			if (i + 1 < rr->nr_devs) {
				uint64_t delta = rr->devs[i + 1].device_id - d->device_id;

				if (its->dt.indirect) {
					uint64_t end = (d->device_id / L2_IDS + 1) * L2_IDS;

					next = rr->devs[i + 1].device_id < end ? delta :
					       end - d->device_id;
				} else {
					next = delta < VITS_DTE_MAX_DEVID_OFFSET ? delta :
					       VITS_DTE_MAX_DEVID_OFFSET;
				}
			}
			v = planned(pl, itsn, img->gpa, img->e.raw);
			set_entry(pl, itsn, img->gpa, img->e.raw,
				  (v & ~KVM_ITS_DTE_NEXT_MASK) |
				  (next << KVM_ITS_DTE_NEXT_SHIFT), dev_prob,
				  "DeviceID 0x%x: next %llu to the next restored DTE",
				  d->device_id, (unsigned long long)next);
		}
		if (!events)
			continue;
		for (size_t k = 0; k < d->nr_events; k++) {
			const struct restore_ite *e = &d->events[k];
			const struct its_ite_rec *ie = its_dev_event(img, e->event_id);
			uint64_t next = k + 1 < d->nr_events ?
					d->events[k + 1].event_id - e->event_id : 0;
			uint64_t raw, v;

			if (!ie)
				continue;
			raw = its_le64(ie->e.raw);
			v = planned(pl, itsn, ie->gpa, raw);
			set_entry(pl, itsn, ie->gpa, raw,
				  (v & ~(0xFFFFULL << KVM_ITS_ITE_NEXT_SHIFT)) |
				  (next << KVM_ITS_ITE_NEXT_SHIFT), ev_prob,
				  "DeviceID 0x%x EventID %u: next %llu to the next restored ITE",
				  d->device_id, e->event_id, (unsigned long long)next);
		}
	}
}

static void plan_devices(struct planner *pl, unsigned itsn,
			 const struct restore_result *rr)
{
	const struct its_image_its *its = &pl->cx->img->its[itsn];
	const struct findings *fs = &pl->cr->findings;
	bool dte_link = found(fs, itsn, PR_DTE_NEXT_LANDS_INVALID) &&
			allowed(pl, PR_DTE_NEXT_LANDS_INVALID);
	bool ite_link = found(fs, itsn, PR_ITE_NEXT_LANDS_INVALID) &&
			allowed(pl, PR_ITE_NEXT_LANDS_INVALID);
	bool past = found(fs, itsn, PR_DTE_NEXT_PAST_PAGE) &&
		    allowed(pl, PR_DTE_NEXT_PAST_PAGE);

	if (dte_link || ite_link || past)
		rethread(pl, itsn, rr, dte_link || past, ite_link,
			 dte_link ? PR_DTE_NEXT_LANDS_INVALID : PR_DTE_NEXT_PAST_PAGE,
			 PR_ITE_NEXT_LANDS_INVALID);
	for (size_t i = 0; i < fs->nr; i++) {
		const struct finding *f = &fs->v[i];
		const struct its_dev_rec *d;
		const struct its_ite_rec *e;
		uint64_t v, raw;

		if (f->its != itsn || !f->has_gpa || !allowed(pl, f->problem))
			continue;
		d = f->device_id == FINDING_NONE ? NULL :
		    its_image_device(its, (uint32_t)f->device_id);
		switch (f->problem) {
		case PR_DTE_DEVID_RANGE:
		case PR_DTE_SIZE_RANGE:
			if (d && d->gpa == f->gpa)
				set_entry(pl, itsn, d->gpa, d->e.raw, 0, f->problem,
					  "invalidate DeviceID 0x%x, which KVM cannot restore: its MSIs are lost",
					  d->device_id);
			break;
		case PR_L1_RES0:
			for (size_t k = 0; k < its->nr_l1; k++)
				if (its->l1[k].gpa == f->gpa)
					set_entry(pl, itsn, f->gpa, its->l1[k].e.raw,
						  planned(pl, itsn, f->gpa, its->l1[k].e.raw) &
						  ~(ITS_GENMASK(62, 52) | ITS_GENMASK(15, 0)),
						  f->problem, "clear L1 bits [62:52] and [15:0], which KVM ignores");
			break;
		case PR_ITE_LPI_BELOW_MIN:
		case PR_ITE_LPI_ABOVE_MAX:
			if (!d || f->event_id == FINDING_NONE)
				break;
			e = its_dev_event(d, (uint32_t)f->event_id);
			if (e)
				set_entry(pl, itsn, e->gpa, its_le64(e->e.raw), 0,
					  f->problem,
					  "invalidate DeviceID 0x%x EventID %u (LPI %u): the event is unmapped",
					  d->device_id, e->event_id, e->e.lpi);
			break;
		case PR_ITE_NEXT_BEYOND_ITT: {
			uint64_t next = 0;

			if (!d || f->event_id == FINDING_NONE)
				break;
			e = its_dev_event(d, (uint32_t)f->event_id);
			if (!e)
				break;
			/* the next valid ITE a sequential scan meets */
			for (size_t k = 0; k < d->nr_events; k++)
				if (d->events[k].event_id > e->event_id &&
				    d->events[k].e.valid) {
					next = d->events[k].event_id - e->event_id;
					break;
				}
			raw = its_le64(e->e.raw);
			v = planned(pl, itsn, e->gpa, raw);
			set_entry(pl, itsn, e->gpa, raw,
				  (v & ~(0xFFFFULL << KVM_ITS_ITE_NEXT_SHIFT)) |
				  (next << KVM_ITS_ITE_NEXT_SHIFT), f->problem,
				  "DeviceID 0x%x EventID %u: next %llu to the next valid ITE",
				  d->device_id, e->event_id, (unsigned long long)next);
			break;
		}
		default:
			break;
		}
	}
}

/* ITE_ICID_UNKNOWN (opt-in): add an unmapped collection for each ICID the
 * restored ITEs miss, at the end of the collection list. */
static void plan_missing_collections(struct planner *pl, unsigned itsn,
				     const struct restore_result *rr)
{
	const struct its_image_its *its = &pl->cx->img->its[itsn];
	const struct findings *fs = &pl->cr->findings;
	uint32_t slot = rr->ct_terminator;
	uint32_t added[64];
	size_t nr_added = 0;

	if (!allowed(pl, PR_ITE_ICID_UNKNOWN) || !its->ct.valid ||
	    slot == UINT32_MAX)
		return;
	for (size_t i = 0; i < fs->nr; i++) {
		const struct finding *f = &fs->v[i];
		bool dup = false;
		uint64_t gpa;

		if (f->its != itsn || f->problem != PR_ITE_ICID_UNKNOWN ||
		    f->icid == FINDING_NONE)
			continue;
		for (size_t k = 0; k < nr_added; k++)
			dup |= added[k] == (uint32_t)f->icid;
		/* a listed collection that fails is repaired where it is */
		for (size_t k = 0; k < its->nr_ctes; k++)
			dup |= its->ctes[k].e.valid && its->ctes[k].slot < slot &&
			       its->ctes[k].e.icid == (uint32_t)f->icid;
		if (dup)
			continue;
		/* the ICID must fit the table, and a slot must be free */
		if ((uint64_t)f->icid >= its->ct.slots || slot + 1 >= its->ct.slots ||
		    nr_added == sizeof(added) / sizeof(added[0]))
			break;
		gpa = its->ct.gpa + (uint64_t)slot * ESZ;
		set_entry(pl, itsn, gpa, planned(pl, itsn, gpa, 0),
			  KVM_ITS_CTE_VALID_MASK |
			  ((uint64_t)COLLECTION_NOT_MAPPED << KVM_ITS_CTE_RDBASE_SHIFT) |
			  (uint64_t)f->icid, PR_ITE_ICID_UNKNOWN,
			  "add ICID %lld as an unmapped collection: its events keep their mapping, without a target",
			  (long long)f->icid);
		added[nr_added++] = (uint32_t)f->icid;
		slot++;
	}
}

/* ---- judging a plan ---- */

struct mapping { uint32_t dev, ev, lpi, icid; };

static int map_cmp(const void *a, const void *b)
{
	const struct mapping *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ev != y->ev)
		return x->ev < y->ev ? -1 : 1;
	if (x->lpi != y->lpi)
		return x->lpi < y->lpi ? -1 : 1;
	return x->icid < y->icid ? -1 : x->icid > y->icid;
}

static struct mapping *mappings(const struct restore_result *r, size_t *n)
{
	struct mapping *m = malloc((r->nr_events + 1) * sizeof(*m));
	size_t k = 0;

	if (!m)
		return NULL;
	for (size_t i = 0; i < r->nr_devs; i++)
		for (size_t j = 0; j < r->devs[i].nr_events; j++)
			m[k++] = (struct mapping){ r->devs[i].device_id,
						   r->devs[i].events[j].event_id,
						   r->devs[i].events[j].lpi,
						   r->devs[i].events[j].icid };
	qsort(m, k, sizeof(*m), map_cmp);
	*n = k;
	return m;
}

/* Was (dev, ev) removed on purpose by an opt-in invalidation? */
static bool intended(const struct repair_plan *p, const struct check_ctx *cx,
		     unsigned itsn, const struct mapping *m)
{
	const struct its_dev_rec *d = its_image_device(&cx->img->its[itsn], m->dev);
	const struct its_ite_rec *e = d ? its_dev_event(d, m->ev) : NULL;

	for (size_t i = 0; i < p->nr; i++) {
		const struct repair_write *w = &p->v[i];

		if (w->kind != REPAIR_RAM || w->level != REPAIR_OPTIN ||
		    its_le64(w->new) != 0)
			continue;
		if ((e && w->gpa == e->gpa) || (d && w->gpa == d->gpa))
			return true;
	}
	return false;
}

/* The snapshot as the plan would leave it: planned writes laid over guest
 * memory, registers replaced, tables walked again and checked again. */
struct simulated {
	struct gmem_patch *patch;
	struct its_regset rs;
	struct its_image *img;
	struct check_ctx cx;
	struct check_result cr;
	bool checked;
};

static void simulated_release(struct simulated *sim, struct gmem *g)
{
	gmem_set_overlay(g, NULL, 0);
	if (sim->checked)
		check_result_release(&sim->cr);
	its_image_free(sim->img);
	its_regset_release(&sim->rs);
	free(sim->patch);
	memset(sim, 0, sizeof(*sim));
}

/* Leaves the overlay set (the caller releases it with the simulation). */
static int simulate(const struct check_ctx *cx, const struct repair_plan *p,
		    struct simulated *sim, struct its_err *err)
{
	struct gmem *g = (struct gmem *)cx->mem;
	struct its_walk_opts wo = { 0 };
	int rc;

	memset(sim, 0, sizeof(*sim));
	sim->patch = calloc(p->nr + 1, sizeof(*sim->patch));
	if (!sim->patch)
		return its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET, "out of memory");
	for (size_t i = 0; i < p->nr; i++)
		if (p->v[i].kind == REPAIR_RAM)
			sim->patch[i] = (struct gmem_patch){ p->v[i].gpa, p->v[i].len,
							     p->v[i].new };
	rc = its_regset_reserve(&sim->rs, cx->img->nr_its, cx->img->nr_rd);
	if (rc < 0)
		return its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET, "out of memory");
	for (size_t i = 0; i < cx->img->nr_its; i++)
		sim->rs.its[i] = cx->img->its[i].regs;
	if (cx->img->nr_rd)
		memcpy(sim->rs.rd, cx->img->rd, cx->img->nr_rd * sizeof(*sim->rs.rd));
	for (size_t i = 0; i < p->nr; i++) {
		const struct repair_write *w = &p->v[i];
		struct its_regs_raw *r;

		if (w->kind != REPAIR_REGISTER)
			continue;
		if (w->reg == RREG_GICR_PROPBASER) {
			if (w->cpu < sim->rs.nr_rd)
				sim->rs.rd[w->cpu].propbaser = w->reg_new;
			continue;
		}
		r = &sim->rs.its[w->its];
		switch (w->reg) {
		case RREG_CTLR: r->ctlr = (uint32_t)w->reg_new; break;
		case RREG_IIDR: r->iidr = (uint32_t)w->reg_new; break;
		case RREG_CBASER: r->cbaser = w->reg_new; break;
		case RREG_CWRITER: r->cwriter = w->reg_new; break;
		case RREG_CREADR: r->creadr = w->reg_new; break;
		default: r->baser[w->reg - RREG_BASER0] = w->reg_new; break;
		}
	}
	gmem_set_overlay(g, sim->patch, p->nr);
	/* keep the layout the original walk used */
	if (cx->img->nr_its)
		wo.layout = cx->img->its[0].layout;
	rc = its_walk(g, &sim->rs, &wo, &sim->img, err);
	if (rc < 0)
		return rc;
	sim->cx = *cx;
	sim->cx.img = sim->img;
	rc = check_run(&sim->cx, &sim->cr, err);
	if (rc < 0)
		return rc;
	sim->checked = true;
	return 0;
}

/* 0 when the plan keeps every mapping and the verdict is no worse;
 * 1 with *why filled when it does not; < 0 on errors. */
static int judge(const struct check_ctx *cx, const struct check_result *cr,
		 const struct repair_plan *p, char *why, size_t whylen,
		 struct its_err *err)
{
	struct simulated sim;
	int rc = simulate(cx, p, &sim, err), verdict = 0;

	for (size_t i = 0; rc == 0 && i < cx->img->nr_its && !verdict; i++) {
		const struct restore_result *r0 = &cr->restore[i];
		const struct restore_result *r1 = &sim.cr.restore[i];
		struct mapping *m0, *m1;
		size_t n0, n1;

		if (!r0->skipped && (r1->nr_fails > r0->nr_fails ||
		    (r0->nr_fails == 0 && r1->nr_fails))) {
			snprintf(why, whylen,
				 "ITS %zu: the restore would fail %zu time%s instead of %zu",
				 i, r1->nr_fails, r1->nr_fails == 1 ? "" : "s", r0->nr_fails);
			verdict = 1;
		}
		/* for QEMU's ITS the mappings are the events it delivers */
		m0 = mappings(r0, &n0);
		m1 = mappings(r1, &n1);
		if (!m0 || !m1) {
			free(m0);
			free(m1);
			rc = its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET, "out of memory");
			break;
		}
		for (size_t a = 0, b = 0; a < n0 && !verdict; a++) {
			while (b < n1 && map_cmp(&m1[b], &m0[a]) < 0)
				b++;
			if ((b == n1 || map_cmp(&m1[b], &m0[a])) &&
			    !intended(p, cx, (unsigned)i, &m0[a])) {
				snprintf(why, whylen,
					 "ITS %zu: DeviceID 0x%x EventID %u (LPI %u) would no longer be restored",
					 i, m0[a].dev, m0[a].ev, m0[a].lpi);
				verdict = 1;
			}
		}
		free(m0);
		free(m1);
	}
	/* a repair can unmask a failure KVM checks after the one it fixed
	 * (a CTE's target is checked before its ICID's range): the re-check
	 * must not report an error class the original check did not */
	for (int id = 0; rc == 0 && !verdict && id < PR_COUNT; id++)
		if (problem_table[id].severity == SEV_ERROR &&
		    sim.cr.findings.per_problem[id] &&
		    !cr->findings.per_problem[id]) {
			snprintf(why, whylen, "the check would newly report %s (%zu time%s)",
				 problem_table[id].name, sim.cr.findings.per_problem[id],
				 sim.cr.findings.per_problem[id] == 1 ? "" : "s");
			verdict = 1;
		}
	simulated_release(&sim, (struct gmem *)cx->mem);
	return rc < 0 ? rc : verdict;
}

static void refuse(struct repair_plan *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void refuse(struct repair_plan *p, const char *fmt, ...)
{
	va_list ap;

	if (p->nr_refused >= sizeof(p->refused) / sizeof(p->refused[0]))
		return;
	va_start(ap, fmt);
	vsnprintf(p->refused[p->nr_refused++], sizeof(p->refused[0]), fmt, ap);
	va_end(ap);
}

#define PLAN_ROUNDS	3
#define PLAN_SIG_MAX	4096

/* QEMU's emulated ITS writes 0 for an unmapped DTE and only bits [16:0]
 * of a CTE; it ignores the rest, so clearing them changes nothing it does. */
static void plan_tcg(struct planner *pl, unsigned itsn)
{
	const struct its_image_its *its = &pl->cx->img->its[itsn];
	const struct findings *fs = &pl->cr->findings;

	for (size_t i = 0; i < fs->nr; i++) {
		const struct finding *f = &fs->v[i];

		if (f->its != itsn || !f->has_gpa || !allowed(pl, f->problem))
			continue;
		if (f->problem == PR_TCG_CTE_RES0) {
			const struct its_cte_rec *c = cte_at_gpa(its, f->gpa);

			if (c)
				set_entry(pl, itsn, c->gpa, c->e.raw,
					  planned(pl, itsn, c->gpa, c->e.raw) &
					  ITS_GENMASK(16, 0), f->problem,
					  "clear CTE bits [63:17], which QEMU neither writes nor reads");
		} else if (f->problem == PR_TCG_DTE_INVALID_NONZERO &&
			   f->device_id != FINDING_NONE) {
			const struct its_dev_rec *d =
				its_image_device(its, (uint32_t)f->device_id);

			if (d && d->gpa == f->gpa && !d->e.valid)
				set_entry(pl, itsn, d->gpa, d->e.raw, 0, f->problem,
					  "zero the unmapped DTE of DeviceID 0x%x, as QEMU's MAPD V=0 does",
					  d->device_id);
		}
	}
}

static void plan_round(struct planner *pl)
{
	for (size_t i = 0; i < pl->cx->img->nr_its && pl->rc == 0; i++) {
		const struct restore_result *rr = &pl->cr->restore[i];

		if (rr->skipped) {
			plan_tcg(pl, (unsigned)i);
			continue;
		}
		plan_registers(pl, (unsigned)i);
		plan_collections(pl, (unsigned)i, rr);
		plan_devices(pl, (unsigned)i, rr);
		plan_missing_collections(pl, (unsigned)i, rr);
	}
}

/* The new values of a plan, to tell whether a round changed anything. */
static size_t plan_signature(const struct repair_plan *p, uint8_t *buf, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nr; i++)
		for (unsigned k = 0; k < 16; k++) {
			if (n < len)
				buf[n] = p->v[i].kind == REPAIR_RAM ? p->v[i].new[k] :
					 (uint8_t)(p->v[i].reg_new >> (8 * (k & 7)));
			n++;
		}
	return n;
}

static bool plan_same(const struct repair_plan *p, const uint8_t *sig, size_t n)
{
	uint8_t now[PLAN_SIG_MAX];
	size_t m = plan_signature(p, now, sizeof(now));

	return m == n && !memcmp(now, sig, n < sizeof(now) ? n : sizeof(now));
}

int repair_plan_build(const struct check_ctx *cx, const struct check_result *cr,
		      enum repair_mode mode, struct repair_plan *out,
		      struct its_err *err)
{
	struct planner pl = { cx, cr, mode, out, err, 0 };
	struct repair_plan all;
	char why[240];
	int rc;

	repair_plan_init(out);
	plan_round(&pl);
	/* a repair can leave work for another (an invalidated ITE leaves a
	 * next landing on it): plan again on the simulated result */
	for (int round = 1; round < PLAN_ROUNDS && pl.rc == 0 && out->nr; round++) {
		struct simulated sim;
		size_t before = out->nr;
		uint8_t sig[PLAN_SIG_MAX];
		size_t nsig = plan_signature(out, sig, sizeof(sig));

		rc = simulate(cx, out, &sim, err);
		if (rc < 0) {
			simulated_release(&sim, (struct gmem *)cx->mem);
			repair_plan_release(out);
			return rc;
		}
		pl.cx = &sim.cx;
		pl.cr = &sim.cr;
		plan_round(&pl);
		pl.cx = cx;
		pl.cr = cr;
		simulated_release(&sim, (struct gmem *)cx->mem);
		if (out->nr == before &&
		    plan_signature(out, sig + 0, 0) == nsig &&
		    plan_same(out, sig, nsig))
			break;
	}
	if (pl.rc < 0) {
		repair_plan_release(out);
		return its_err_set(err, pl.rc, NULL, ITS_ERR_NO_OFFSET, "out of memory");
	}
	if (!out->nr)
		return 0;
	rc = judge(cx, cr, out, why, sizeof(why), err);
	if (rc <= 0) {
		if (rc < 0)
			repair_plan_release(out);
		return rc;
	}
	/* the whole plan does worse: keep the repairs that pass one problem
	 * at a time */
	all = *out;
	repair_plan_init(out);
	out->nr_refused = all.nr_refused;
	memcpy(out->refused, all.refused, sizeof(out->refused));
	refuse(out, "the whole plan: %s", why);
	{
		enum problem_id seen[MAX_GROUPS_TRIED];
		size_t nr_seen = 0;

		for (size_t i = 0; i < all.nr; i++) {
			enum problem_id prob = all.v[i].problem;
			size_t mark = out->nr;
			bool done = false;

			for (size_t k = 0; k < nr_seen; k++)
				done |= seen[k] == prob;
			if (done)
				continue;
			if (nr_seen == MAX_GROUPS_TRIED) {
				refuse(out, "more than %d kinds of repair: the rest not tried",
				       MAX_GROUPS_TRIED);
				break;
			}
			seen[nr_seen++] = prob;
			for (size_t k = i; k < all.nr; k++)
				if (all.v[k].problem == prob &&
				    repair_plan_add(out, &all.v[k]) < 0) {
					repair_plan_release(&all);
					repair_plan_release(out);
					return its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET,
							   "out of memory");
				}
			rc = judge(cx, cr, out, why, sizeof(why), err);
			if (rc < 0) {
				repair_plan_release(&all);
				repair_plan_release(out);
				return rc;
			}
			if (rc) {
				out->nr = mark;
				refuse(out, "%s repairs: %s", problem_table[prob].name, why);
			}
		}
	}
	repair_plan_release(&all);
	return 0;
}
