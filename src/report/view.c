/* The view behind --format=dot and --format=map: the translation graph
 * (devices, events, collections, vCPUs) and the placed objects of guest
 * memory, built once from the walked image so that the two formats cannot
 * disagree; its-fsck adds its findings and the restore's drops as marks on
 * the entries they name. */
#include "view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its/layout.h"
#include "its/regs.h"
#include "its/search.h"
#include "its/vec.h"

/* LPI INTID bits a property table covers: KVM implements 16
 * (INTERRUPT_ID_BITS_ITS), QEMU's emulated ITS too; the checker uses the
 * same bound, so the map's sizes are the ones its overlap rule judges. */
#define VIEW_MAX_LPI_BITS	16
/* Below this PROPBASER.IDbits no INTID reaches GIC_LPI_OFFSET: no table. */
#define VIEW_MIN_PROP_IDBITS	13
#define GITS_CBASER_PAGE_BYTES	4096

struct builder {
	struct view *v;
	const struct view_opts *o;
	struct its_err *err;
};

static int oom(struct builder *b)
{
	return its_err_set(b->err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET,
			   "out of memory");
}

static bool want_device(const struct view_opts *o, uint32_t id)
{
	if (!o->devices)
		return true;
	for (size_t i = 0; i < o->nr_devices; i++)
		if (o->devices[i] == id)
			return true;
	return false;
}

static bool is_kvm(const struct its_image_its *its)
{
	return its->layout == &its_layout_kvm;
}

static int cmp_u32(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;

	return a < b ? -1 : a > b;
}

/* ---- vCPUs: the VM's, and any other a collection targets ---- */

static struct view_vcpu *find_vcpu(const struct view *v, uint64_t cpu)
{
	return ITS_FIND_SORTED(v->vcpus, v->nr_vcpus, cpu, cpu);
}

static int build_vcpus(struct builder *b)
{
	struct view *v = b->v;
	uint32_t *ids = NULL;
	size_t n = 0;
	int rc = 0;

	for (int c = 0; c < v->nr_vm_vcpus; c++) {
		uint32_t *p = its_vec_push(&ids, &n, sizeof(*ids));

		if (!p)
			goto nomem;
		*p = (uint32_t)c;
	}
	for (size_t i = 0; i < v->img->nr_its; i++) {
		const struct its_image_its *its = &v->img->its[i];

		for (size_t k = 0; k < its->nr_ctes; k++) {
			const struct its_cte *e = &its->ctes[k].e;
			uint32_t *p;

			if (!e->valid || e->target == COLLECTION_NOT_MAPPED ||
			    e->target < (uint32_t)v->nr_vm_vcpus)
				continue;
			if (!(p = its_vec_push(&ids, &n, sizeof(*ids))))
				goto nomem;
			*p = e->target;
		}
	}
	if (n)
		qsort(ids, n, sizeof(*ids), cmp_u32);
	v->vcpus = calloc(n ? n : 1, sizeof(*v->vcpus));
	if (!v->vcpus)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		struct view_vcpu *c;

		if (v->nr_vcpus && v->vcpus[v->nr_vcpus - 1].cpu == ids[i])
			continue;
		c = &v->vcpus[v->nr_vcpus++];
		c->cpu = ids[i];
		c->exists = ids[i] < (uint32_t)v->nr_vm_vcpus;
	}
	for (size_t i = 0; i < v->img->nr_rd; i++) {
		const struct gicr_regs_raw *rd = &v->img->rd[i];
		struct view_vcpu *c = find_vcpu(v, rd->cpu);

		if (c && (rd->present & GICR_REG_PENDBASER) && rd->pendbaser) {
			c->has_pend = true;
			c->pendbaser = rd->pendbaser;
		}
	}
	goto out;
nomem:
	rc = oom(b);
out:
	free(ids);
	return rc;
}

/* ---- collections ---- */

/* Which CTE of an ICID the events reach: a live one before one the
 * restore never reads, before an invalid one (shown with --all only). */
static unsigned coll_rank(const struct view_coll *c)
{
	if (!c->rec)
		return 0;
	if (!c->rec->e.valid)
		return 2;
	return (c->rec->flags & ITS_F_UNREACHABLE) ? 1 : 0;
}

static int cmp_coll_idx(const void *pa, const void *pb, void *ctx)
{
	const struct view_coll *colls = ctx;
	size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
	const struct view_coll *a = &colls[ia], *b = &colls[ib];
	unsigned ra = coll_rank(a), rb = coll_rank(b);

	if (a->icid != b->icid)
		return a->icid < b->icid ? -1 : 1;
	if (ra != rb)
		return ra < rb ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

static int index_colls(struct builder *b, struct view_its *vi)
{
	size_t *idx = malloc((vi->nr_colls ? vi->nr_colls : 1) * sizeof(*idx));

	free(vi->by_icid);
	vi->by_icid = malloc((vi->nr_colls ? vi->nr_colls : 1) *
			     sizeof(*vi->by_icid));
	vi->nr_by_icid = 0;
	if (!idx || !vi->by_icid) {
		free(idx);
		return oom(b);
	}
	for (size_t i = 0; i < vi->nr_colls; i++)
		idx[i] = i;
	if (vi->nr_colls > 1)
		qsort_r(idx, vi->nr_colls, sizeof(*idx), cmp_coll_idx, vi->colls);
	for (size_t i = 0; i < vi->nr_colls; i++) {
		struct view_coll *c = &vi->colls[idx[i]];
		bool first = i == 0 || vi->colls[idx[i - 1]].icid != c->icid;

		c->primary = first && coll_rank(c) < 2;
		if (c->primary) {
			vi->by_icid[vi->nr_by_icid].icid = c->icid;
			vi->by_icid[vi->nr_by_icid++].coll = idx[i];
		}
	}
	free(idx);
	return 0;
}

static long coll_of(const struct view_its *vi, uint32_t icid)
{
	const struct view_icid *p = ITS_FIND_SORTED(vi->by_icid, vi->nr_by_icid,
						     icid, icid);

	return p ? (long)p->coll : -1;
}

/* Events go to a collection only when they map a physical LPI; QEMU's
 * virtual ITEs name a vPE instead. */
static bool event_routes(const struct its_ite_rec *e)
{
	return e->e.valid && e->e.physical;
}

static int build_colls(struct builder *b, struct view_its *vi)
{
	const struct its_image_its *its = vi->its;
	uint32_t *missing = NULL;
	size_t nr_missing = 0;
	int rc;

	for (size_t k = 0; k < its->nr_ctes; k++) {
		const struct its_cte_rec *c = &its->ctes[k];
		struct view_coll *vc;

		if (!c->e.valid && !b->o->all)
			continue;
		if (!(vc = its_vec_push(&vi->colls, &vi->nr_colls, sizeof(*vc))))
			return oom(b);
		vc->rec = c;
		vc->icid = c->e.icid;
		vc->vcpu = -1;
	}
	vi->nr_cte_colls = vi->nr_colls;
	if ((rc = index_colls(b, vi)) < 0)
		return rc;
	/* ICIDs events name without a collection get a node of their own, so
	 * that the broken path ends somewhere visible */
	for (size_t i = 0; i < its->nr_devs; i++) {
		const struct its_dev_rec *d = &its->devs[i];

		/* a shared ITT is looked at through the device that read it
		 * (drawn whenever no --device filter hides it) */
		if (!want_device(b->o, d->device_id) || (!d->e.valid && !b->o->all) ||
		    (d->events_shared && !b->o->devices))
			continue;
		for (size_t j = 0; j < d->nr_events; j++) {
			uint32_t *p;

			if (!event_routes(&d->events[j]) ||
			    coll_of(vi, d->events[j].e.icid) >= 0)
				continue;
			if (!(p = its_vec_push(&missing, &nr_missing, sizeof(*p)))) {
				free(missing);
				return oom(b);
			}
			*p = d->events[j].e.icid;
		}
	}
	if (nr_missing > 1)
		qsort(missing, nr_missing, sizeof(*missing), cmp_u32);
	for (size_t i = 0; i < nr_missing; i++) {
		struct view_coll *vc;

		if (i && missing[i] == missing[i - 1])
			continue;
		if (!(vc = its_vec_push(&vi->colls, &vi->nr_colls, sizeof(*vc)))) {
			free(missing);
			return oom(b);
		}
		vc->icid = missing[i];
		vc->vcpu = -1;
	}
	free(missing);
	if (nr_missing && (rc = index_colls(b, vi)) < 0)
		return rc;
	for (size_t i = 0; i < vi->nr_colls; i++) {
		struct view_coll *vc = &vi->colls[i];
		const struct view_vcpu *cpu;

		if (!vc->rec || !vc->rec->e.valid)
			continue;
		if (vc->rec->e.target == COLLECTION_NOT_MAPPED) {
			vi->unmapped = true;
			continue;
		}
		cpu = find_vcpu(b->v, vc->rec->e.target);
		vc->vcpu = cpu ? (long)(cpu - b->v->vcpus) : -1;
		if (!cpu)
			vi->unmapped = true;
	}
	return 0;
}

/* ---- devices and events ---- */

/* report_dump's rule for an entry it shows: live (*live), unreachable or,
 * invalid ones shown by --all, neither; flagged besides. */
static void count_entry(struct dump_summary *s, size_t *live, bool valid,
			bool unreached, unsigned flags)
{
	if (valid && unreached)
		s->unreachable++;
	else if (valid)
		(*live)++;
	if (flags & ITS_F_ANOMALY)
		s->flagged++;
}

/* The flag an event of an ITT the restore never reads is drawn with: the
 * reason its DTE is not reached, else (the DTE is reached and rejected,
 * its ITT read past with it) SKIPPED_BY_NEXT. */
static unsigned unread_itt_flag(unsigned dte_flags)
{
	unsigned f = dte_flags & ITS_F_UNREACHABLE;

	return f ? f : ITS_F_SKIPPED_BY_NEXT;
}

/* A device's events: drawn up to REPORT_DOT_MAX_EVENTS, the rest
 * collapsed into edges per collection; every one fed to the ITT's list in
 * EventID order (shown or not, as report_dump does) and counted. */
static int build_events(struct builder *b, struct view_its *vi,
			struct view_dev *vd, const struct its_dev_rec *d,
			bool itt_read, size_t *count, size_t *touched)
{
	const struct its_image_its *its = vi->its;
	struct dump_summary *sum = &b->v->sum;
	unsigned inherited = itt_read ? 0 : unread_itt_flag(vd->dte.flags);
	struct its_chain chain;
	size_t nr_touched = 0;

	its_chain_start(&chain, NULL);
	vd->first_event = vi->nr_events;
	vd->first_edge = vi->nr_more_edges;
	for (size_t j = 0; j < d->nr_events; j++) {
		const struct its_ite_rec *e = &d->events[j];
		long c = event_routes(e) ? coll_of(vi, e->e.icid) : -1;
		unsigned flags = e->flags;

		if (its->layout->has_next)
			flags |= its_chain_ite(&chain, e, d->event_bits);
		if (!e->e.valid && !b->o->all) {
			sum->hidden++;
			continue;
		}
		count_entry(sum, &sum->events, e->e.valid,
			    (flags & ITS_F_UNREACHABLE) || inherited, flags);
		if (e->e.valid && !(flags & ITS_F_UNREACHABLE))
			flags |= inherited;
		if (vd->nr_events < REPORT_DOT_MAX_EVENTS) {
			struct view_event *ve = its_vec_push(&vi->events,
							     &vi->nr_events,
							     sizeof(*ve));

			if (!ve)
				return oom(b);
			ve->ite = *e;
			ve->ite.flags = flags;
			ve->coll = c;
			vd->nr_events++;
			continue;
		}
		vd->nr_more++;
		if (c >= 0 && count[c]++ == 0)
			touched[nr_touched++] = (size_t)c;
	}
	/* edges in collection order: stable output */
	for (size_t x = 1; x < nr_touched; x++)
		for (size_t y = x; y > 0 && touched[y - 1] > touched[y]; y--) {
			size_t t = touched[y];

			touched[y] = touched[y - 1];
			touched[y - 1] = t;
		}
	for (size_t x = 0; x < nr_touched; x++) {
		struct view_edge *ed = its_vec_push(&vi->more_edges,
						    &vi->nr_more_edges,
						    sizeof(*ed));

		if (!ed)
			return oom(b);
		ed->coll = touched[x];
		ed->count = count[touched[x]];
		count[touched[x]] = 0;
		vd->nr_edges++;
	}
	return 0;
}

static int build_devs(struct builder *b, struct view_its *vi)
{
	const struct its_image_its *its = vi->its;
	struct dump_summary *sum = &b->v->sum;
	size_t *count = calloc(vi->nr_colls ? vi->nr_colls : 1, sizeof(*count));
	size_t *touched = malloc((vi->nr_colls ? vi->nr_colls : 1) *
				 sizeof(*touched));
	struct its_chain chain;
	int rc = 0;

	if (!count || !touched) {
		rc = oom(b);
		goto out;
	}
	its_chain_start(&chain, its);
	for (size_t i = 0; rc == 0 && i < its->nr_devs; i++) {
		const struct its_dev_rec *d = &its->devs[i];
		unsigned flags = d->flags;
		bool itt_read = true;
		struct view_dev *vd;

		/* the list runs through every entry, drawn or not */
		if (its->layout->has_next && !(flags & ITS_F_IN_INVALID_L1))
			flags |= its_chain_dte(&chain, d, &itt_read);
		if (!want_device(b->o, d->device_id))
			continue;
		if (!d->e.valid && !b->o->all) {
			sum->hidden++;
			continue;
		}
		count_entry(sum, &sum->devices, d->e.valid,
			    flags & ITS_F_UNREACHABLE, flags);
		if (!(vd = its_vec_push(&vi->devs, &vi->nr_devs, sizeof(*vd)))) {
			rc = oom(b);
			break;
		}
		vd->dte = *d;
		vd->dte.flags = flags;
		if (d->event_bits)
			vd->itt_bytes = (uint64_t)its->layout->ite_size << d->event_bits;
		rc = build_events(b, vi, vd, d, itt_read, count, touched);
	}
	/* the vectors have stopped moving: point at the copies */
	for (size_t i = 0; i < vi->nr_devs; i++)
		vi->devs[i].rec = &vi->devs[i].dte;
	for (size_t i = 0; i < vi->nr_events; i++)
		vi->events[i].rec = &vi->events[i].ite;
out:
	free(count);
	free(touched);
	return rc;
}

/* ---- the memory map ---- */

static int add_obj(struct builder *b, enum view_obj_kind kind, int its,
		   uint32_t id, uint64_t gpa, uint64_t bytes, unsigned detail,
		   struct view_obj **out)
{
	struct view_obj *o;
	uint64_t room = UINT64_MAX - gpa;

	if (!bytes)
		return 0;
	if (!(o = its_vec_push(&b->v->objs, &b->v->nr_objs, sizeof(*o))))
		return oom(b);
	/* a range past the top of the address space ends there */
	if (bytes - 1 > room)
		bytes = room + 1;
	o->kind = kind;
	o->its = its;
	o->id = id;
	o->gpa = gpa;
	o->bytes = bytes;
	o->detail = detail;
	o->region = -1;
	if (out)
		*out = o;
	return 0;
}

static int add_unplaced(struct builder *b, int its, const char *what,
			const char *why, uint32_t cpu)
{
	struct view_unplaced *u = its_vec_push(&b->v->unplaced,
					       &b->v->nr_unplaced, sizeof(*u));

	if (!u)
		return oom(b);
	u->its = its;
	u->what = what;
	u->why = why;
	u->cpu = cpu;
	return 0;
}

static int its_objs(struct builder *b, size_t i)
{
	const struct view_its *vi = &b->v->its[i];
	const struct its_image_its *its = vi->its;
	const struct its_regs_raw *r = &its->regs;
	int n = (int)i, rc = 0;

	if ((r->present & ITS_REG_CBASER) && (r->cbaser & GITS_CBASER_VALID)) {
		uint64_t base = GITS_CBASER_ADDRESS(r->cbaser);

		/* KVM ignores address bits [15:12] (64 KiB-aligned queue) */
		if (is_kvm(its))
			base &= ~0xFFFFULL;
		rc = add_obj(b, VIEW_OBJ_CMDQ, n, 0, base,
			     (uint64_t)GITS_CBASER_NR_PAGES(r->cbaser) *
			     GITS_CBASER_PAGE_BYTES, 0, NULL);
	} else {
		rc = add_unplaced(b, n, "command queue",
				  (r->present & ITS_REG_CBASER) ?
				  "GITS_CBASER not valid" : "GITS_CBASER unknown", 0);
	}
	if (rc == 0 && its->dt.valid)
		rc = add_obj(b, VIEW_OBJ_DT, n, 0, its->dt.gpa, its->dt.bytes,
			     its->dt.indirect, NULL);
	else if (rc == 0)
		rc = add_unplaced(b, n, "device table",
				  (r->present & ITS_REG_BASER(0)) ?
				  "GITS_BASER0 not valid" : "GITS_BASER0 unknown", 0);
	for (size_t k = 0; rc == 0 && its->dt.valid && its->dt.indirect &&
	     k < its->nr_l1; k++)
		if (its->l1[k].e.valid)
			rc = add_obj(b, VIEW_OBJ_L2, n, its->l1[k].index,
				     its->l1[k].e.l2, its->dt.l2_bytes, 0, NULL);
	if (rc == 0 && its->ct.valid)
		rc = add_obj(b, VIEW_OBJ_CT, n, 0, its->ct.gpa, its->ct.bytes, 0,
			     NULL);
	else if (rc == 0)
		rc = add_unplaced(b, n, "collection table",
				  (r->present & ITS_REG_BASER(1)) ?
				  "GITS_BASER1 not valid" : "GITS_BASER1 unknown", 0);
	/* the ITTs of the devices the graph draws, and only those */
	for (size_t k = 0; rc == 0 && k < vi->nr_devs; k++) {
		const struct view_dev *vd = &vi->devs[k];
		struct view_obj *o = NULL;

		rc = add_obj(b, VIEW_OBJ_ITT, n, vd->rec->device_id,
			     vd->rec->e.itt, vd->itt_bytes, vd->rec->event_bits, &o);
		if (o)
			o->clamped = (vd->rec->flags & ITS_F_SIZE_CLAMPED) != 0;
	}
	return rc;
}

/* The GICR_PROPBASER KVM keeps: the last redistributor's non-zero value
 * (every write updates the one dist->propbaser). */
static const struct gicr_regs_raw *kept_propbaser(const struct its_image *img)
{
	for (size_t i = img->nr_rd; i-- > 0;)
		if ((img->rd[i].present & GICR_REG_PROPBASER) &&
		    img->rd[i].propbaser)
			return &img->rd[i];
	return NULL;
}

static unsigned lpi_bits(uint64_t propbaser)
{
	unsigned bits = GICR_PROPBASER_IDBITS(propbaser) + 1;

	return bits < VIEW_MAX_LPI_BITS ? bits : VIEW_MAX_LPI_BITS;
}

static int vm_objs(struct builder *b)
{
	const struct its_image *img = b->v->img;
	const struct gicr_regs_raw *kept = kept_propbaser(img);
	unsigned bits = kept ? lpi_bits(kept->propbaser) : VIEW_MAX_LPI_BITS;
	size_t first_prop = b->v->nr_objs;
	int rc = 0;

	if (!img->nr_its && !img->nr_rd)
		return 0;
	if (!kept)
		rc = add_unplaced(b, -1, "LPI property table",
				  "no GICR_PROPBASER known", 0);
	/* one object per distinct table the redistributors name */
	for (size_t i = 0; rc == 0 && i < img->nr_rd; i++) {
		const struct gicr_regs_raw *rd = &img->rd[i];
		uint64_t v = rd->propbaser, gpa = GICR_PROPBASER_ADDRESS(v);
		uint64_t bytes;
		bool seen = false;

		if (!(rd->present & GICR_REG_PROPBASER) || !v)
			continue;
		if (GICR_PROPBASER_IDBITS(v) < VIEW_MIN_PROP_IDBITS) {
			if (rd == kept)
				rc = add_unplaced(b, -1, "LPI property table",
						  "GICR_PROPBASER.IDbits below 13: no LPI", rd->cpu);
			continue;
		}
		bytes = (1ULL << lpi_bits(v)) - GIC_LPI_OFFSET;
		for (size_t k = first_prop; k < b->v->nr_objs; k++)
			if (b->v->objs[k].gpa == gpa && b->v->objs[k].bytes == bytes) {
				b->v->objs[k].detail++;
				seen = true;
			}
		if (!seen)
			rc = add_obj(b, VIEW_OBJ_PROP, -1, rd->cpu, gpa, bytes, 1, NULL);
	}
	for (size_t i = 0; rc == 0 && i < img->nr_rd; i++) {
		const struct gicr_regs_raw *rd = &img->rd[i];

		if (!(rd->present & GICR_REG_PENDBASER) || !rd->pendbaser) {
			rc = add_unplaced(b, -1, "pending table",
					  "GICR_PENDBASER unknown", rd->cpu);
			continue;
		}
		/* one bit per INTID below 2^bits */
		rc = add_obj(b, VIEW_OBJ_PEND, -1, rd->cpu,
			     GICR_PENDBASER_ADDRESS(rd->pendbaser),
			     (1ULL << bits) / 8, bits, NULL);
	}
	return rc;
}

static void locate_obj(const struct gmem *g, struct view_obj *o)
{
	uint64_t at = o->gpa, left = o->bytes;
	long last = -1;

	while (left) {
		uint64_t run = 0;
		enum gmem_kind k = gmem_span(g, at, left, &run);

		if (!run || run > left)
			run = left;
		if (k == GMEM_NOT_RAM) {
			o->not_ram += run;
		} else {
			const struct gmem_region *gr = gmem_region_of(g, at);
			long r = gr ? (long)(gr - gmem_region_at(g, 0)) : -1;

			if (r >= 0 && r != last) {
				if (o->region < 0)
					o->region = r;
				o->nr_regions++;
				last = r;
			}
			if (k == GMEM_ABSENT)
				o->absent += run;
		}
		left -= run;
		at += run;
	}
}

static int cmp_obj(const void *pa, const void *pb)
{
	const struct view_obj *a = pa, *b = pb;

	if (a->gpa != b->gpa)
		return a->gpa < b->gpa ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->its != b->its)
		return a->its < b->its ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static uint64_t obj_last(const struct view_obj *o)
{
	return o->gpa + (o->bytes - 1);
}

static int find_overlaps(struct builder *b)
{
	struct view *v = b->v;
	uint64_t max_last = 0;
	size_t max_i = 0;

	/* every object that overlaps any other is marked (one pass: the
	 * object reaching furthest so far is the one a later start hits) */
	for (size_t i = 0; i < v->nr_objs; i++) {
		struct view_obj *o = &v->objs[i];

		if (i && o->gpa <= max_last) {
			o->overlaps = true;
			v->objs[max_i].overlaps = true;
		}
		if (i == 0 || obj_last(o) > max_last) {
			max_last = obj_last(o);
			max_i = i;
		}
	}
	/* the pairs are listed up to a budget: a corrupt table can make
	 * thousands of ITTs overlap each other */
	for (size_t i = 0; i < v->nr_objs && !v->ovl_more; i++) {
		const struct view_obj *x = &v->objs[i];

		for (size_t j = i + 1; j < v->nr_objs && v->objs[j].gpa <= obj_last(x); j++) {
			const struct view_obj *y = &v->objs[j];
			uint64_t last = obj_last(x) < obj_last(y) ? obj_last(x) : obj_last(y);
			struct view_overlap *p;

			if (v->nr_ovl == VIEW_MAX_OVERLAPS) {
				v->ovl_more = true;
				break;
			}
			if (!(p = its_vec_push(&v->ovl, &v->nr_ovl, sizeof(*p))))
				return oom(b);
			p->a = i;
			p->b = j;
			p->gpa = y->gpa;
			p->bytes = last - y->gpa + 1;
		}
	}
	return 0;
}

static int build_map(struct builder *b)
{
	struct view *v = b->v;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < v->nr_its; i++)
		rc = its_objs(b, i);
	if (rc == 0)
		rc = vm_objs(b);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < v->nr_objs; i++)
		locate_obj(v->snap->mem, &v->objs[i]);
	if (v->nr_objs > 1)
		qsort(v->objs, v->nr_objs, sizeof(*v->objs), cmp_obj);
	return find_overlaps(b);
}

const char *view_obj_name(const struct view_obj *o, char *buf, size_t len)
{
	switch (o->kind) {
	case VIEW_OBJ_CMDQ: snprintf(buf, len, "command queue"); break;
	case VIEW_OBJ_DT:
		snprintf(buf, len, o->detail ? "device table L1" : "device table");
		break;
	case VIEW_OBJ_L2: snprintf(buf, len, "L2 page of L1[%u]", o->id); break;
	case VIEW_OBJ_CT: snprintf(buf, len, "collection table"); break;
	case VIEW_OBJ_ITT: snprintf(buf, len, "ITT of DeviceID 0x%x", o->id); break;
	case VIEW_OBJ_PROP: snprintf(buf, len, "LPI property table"); break;
	case VIEW_OBJ_PEND: snprintf(buf, len, "pending table of vCPU %u", o->id); break;
	}
	return buf;
}

/* ---- its-dump's counts, exactly as report_dump makes them ---- */

static void dump_counts(struct view *v, const struct view_opts *o)
{
	struct dump_summary *s = &v->sum;

	for (size_t i = 0; i < v->img->nr_its; i++) {
		const struct its_image_its *its = &v->img->its[i];

		for (size_t k = 0; k < its->nr_ctes; k++) {
			const struct its_cte_rec *c = &its->ctes[k];

			if (!c->e.valid && !o->all) {
				s->hidden++;
				continue;
			}
			count_entry(s, &s->collections, c->e.valid,
				    c->flags & ITS_F_UNREACHABLE, c->flags);
		}
		for (size_t k = 0; k < its->nr_l1; k++) {
			if (!its->l1[k].e.valid && !o->all) {
				s->hidden++;
				continue;
			}
			if (its->l1[k].flags & ITS_F_ANOMALY)
				s->flagged++;
		}
		/* devices and events: counted by build_devs, which has their
		 * lists' walk */
		s->unreadable += its->nr_holes;
	}
}

void report_view_dump_summary(const struct view *v, struct dump_summary *sum)
{
	*sum = v->sum;
}

/* ---- its-fsck: marks and the verdict ---- */

void report_fsck_counts(const struct check_result *cr, struct fsck_summary *sum)
{
	bool kvm = false, fails = false;

	memset(sum, 0, sizeof(*sum));
	sum->errors = cr->findings.by_severity[SEV_ERROR];
	sum->warnings = cr->findings.by_severity[SEV_WARNING];
	sum->info = cr->findings.by_severity[SEV_INFO];
	/* as the verdict says it: a failure counts once a KVM ITS is judged */
	for (size_t i = 0; i < cr->nr_its; i++) {
		kvm |= !cr->restore[i].skipped;
		fails |= cr->restore[i].nr_fails > 0;
	}
	sum->restore_fails = kvm && fails;
}

static struct view_dev *find_dev(struct view_its *vi, int64_t id)
{
	size_t lo = 0, hi = vi->nr_devs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t m = vi->devs[mid].rec->device_id;

		if (m == id)
			return &vi->devs[mid];
		if (m < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct view_mark *event_mark(struct view_its *vi, struct view_dev *vd,
				    int64_t ev)
{
	size_t lo = vd->first_event, hi = vd->first_event + vd->nr_events;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t m = vi->events[mid].rec->event_id;

		if (m == ev)
			return &vi->events[mid].mark;
		if (m < ev)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* an event past the drawn ones is one of the collapsed */
	if (vd->nr_more && vd->nr_events &&
	    ev > vi->events[vd->first_event + vd->nr_events - 1].rec->event_id)
		return &vd->more_mark;
	return &vd->mark;
}

static struct view_mark *coll_mark(struct view_its *vi, int64_t icid,
				   bool has_gpa, uint64_t gpa)
{
	long c;

	if (has_gpa) {
		size_t lo = 0, hi = vi->nr_cte_colls;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			uint64_t m = vi->colls[mid].rec->gpa;

			if (m == gpa)
				return &vi->colls[mid].mark;
			if (m < gpa)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	if (icid < 0 || icid > UINT32_MAX)
		return NULL;
	c = coll_of(vi, (uint32_t)icid);
	return c >= 0 ? &vi->colls[c].mark : NULL;
}

/* The node a finding or a drop names: the entry itself when the graph
 * draws it, else the nearest drawn thing that holds it, else the ITS. */
static struct view_mark *locate(struct view *v, unsigned its, bool has_table,
				enum its_table_kind table, int64_t dev,
				int64_t ev, int64_t icid, int64_t cpu,
				bool has_gpa, uint64_t gpa)
{
	struct view_its *vi;
	struct view_mark *m = NULL;

	if (its >= v->nr_its)
		return NULL;
	vi = &v->its[its];
	if (dev != FINDING_NONE) {
		struct view_dev *vd = find_dev(vi, dev);

		if (!vd)
			return &vi->mark;
		return ev != FINDING_NONE ? event_mark(vi, vd, ev) : &vd->mark;
	}
	if (icid != FINDING_NONE ||
	    (has_table && table == ITS_TABLE_COLLECTIONS && has_gpa))
		m = coll_mark(vi, icid, has_gpa, gpa);
	else if (cpu != FINDING_NONE && cpu <= UINT32_MAX) {
		struct view_vcpu *c = find_vcpu(v, (uint64_t)cpu);

		m = c ? &c->mark : NULL;
	}
	return m ? m : &vi->mark;
}

static void mark_problem(struct view_mark *m, enum problem_id p)
{
	enum problem_severity s = problem_table[p].severity;

	for (unsigned i = 0; i < m->nr && i < VIEW_MAX_NOTES; i++)
		if (m->prob[i] == p)
			return;
	if (m->nr < VIEW_MAX_NOTES)
		m->prob[m->nr] = p;
	m->nr++;
	if (!m->has_problem || s < m->worst)
		m->worst = s;
	m->has_problem = true;
}

static void build_marks(struct view *v, const struct check_result *cr)
{
	for (size_t i = 0; i < cr->findings.nr; i++) {
		const struct finding *f = &cr->findings.v[i];
		struct view_mark *m = locate(v, f->its, f->has_table, f->table,
					     f->device_id, f->event_id, f->icid,
					     f->cpu, f->has_gpa, f->gpa);

		if (m)
			mark_problem(m, f->problem);
	}
	for (size_t i = 0; i < cr->nr_its; i++) {
		const struct restore_result *rr = &cr->restore[i];

		for (size_t k = 0; k < rr->nr_drops; k++) {
			const struct restore_drop *d = &rr->drops[k];
			struct view_mark *m = locate(v, rr->its, true, d->table,
						     d->device_id, d->event_id,
						     d->icid, FINDING_NONE, true,
						     d->gpa);

			if (m && !m->dropped) {
				m->dropped = true;
				m->drop_reason = d->reason;
			}
		}
	}
}

static const char *errno_name(int e)
{
	const char *n = e < 0 ? strerrorname_np(-e) : NULL;

	return n ? n : "an error";
}

static void build_verdict(struct view *v, const struct check_ctx *cx,
			  const struct check_result *cr)
{
	const struct restore_failure *f = NULL;
	struct fsck_summary sum;
	bool kvm = false;
	size_t delivered = 0, undeliverable = 0;
	char *p = v->verdict;
	size_t left = sizeof(v->verdict);
	int n;

	report_fsck_counts(cr, &sum);
	for (size_t i = 0; i < cr->nr_its; i++) {
		const struct restore_result *rr = &cr->restore[i];

		kvm |= !rr->skipped;
		if (!f && rr->nr_fails)
			f = &rr->fails[0];
		delivered += rr->nr_events;
		undeliverable += rr->nr_undeliverable;
	}
	if (!cr->nr_its)
		n = snprintf(p, left, "no ITS");
	else if (!kvm)
		n = snprintf(p, left, "QEMU emulated ITS (no KVM restore): %zu events delivered, %zu dropped",
			     delivered, undeliverable);
	else if (!f)
		n = snprintf(p, left, "KVM restore (kernel %s): ok", cx->profile.name);
	else {
		n = snprintf(p, left, "KVM restore (kernel %s): would fail with %s at %s",
			     cx->profile.name, errno_name(f->err),
			     its_table_name(f->where.table));
		if (n > 0 && (size_t)n < left && f->where.device_id != FINDING_NONE)
			n += snprintf(p + n, left - (size_t)n, " DeviceID 0x%llx",
				      (unsigned long long)f->where.device_id);
		if (n > 0 && (size_t)n < left && f->where.event_id != FINDING_NONE)
			n += snprintf(p + n, left - (size_t)n, " EventID %lld",
				      (long long)f->where.event_id);
		if (n > 0 && (size_t)n < left && f->where.icid != FINDING_NONE)
			n += snprintf(p + n, left - (size_t)n, " ICID %lld",
				      (long long)f->where.icid);
		if (n > 0 && (size_t)n < left)
			n += snprintf(p + n, left - (size_t)n, ": %s",
				      problem_table[f->problem].name);
	}
	if (n < 0 || (size_t)n >= left)
		return;
	snprintf(p + n, left - (size_t)n, "; %zu error%s, %zu warning%s, %zu info",
		 sum.errors, sum.errors == 1 ? "" : "s", sum.warnings,
		 sum.warnings == 1 ? "" : "s", sum.info);
}

/* ---- together ---- */

int report_view_new(const struct snapshot *s, const struct its_image *img,
		    const struct view_opts *opts, struct view **out,
		    struct its_err *err)
{
	struct view *v = calloc(1, sizeof(*v));
	struct builder b = { v, opts, err };
	int rc = 0;

	*out = NULL;
	if (!v)
		return oom(&b);
	v->snap = s;
	v->img = img;
	v->fsck = opts->cr != NULL;
	/* as its-fsck counts them (check_ctx.nr_vcpus) */
	v->nr_vm_vcpus = s->nr_vcpus > 0 ? s->nr_vcpus : (int)img->nr_rd;
	if (img->nr_its && !(v->its = calloc(img->nr_its, sizeof(*v->its))))
		rc = oom(&b);
	else
		v->nr_its = img->nr_its;
	if (rc == 0)
		rc = build_vcpus(&b);
	for (size_t i = 0; rc == 0 && i < v->nr_its; i++) {
		v->its[i].its = &img->its[i];
		rc = build_colls(&b, &v->its[i]);
		if (rc == 0)
			rc = build_devs(&b, &v->its[i]);
	}
	if (rc == 0)
		rc = build_map(&b);
	if (rc < 0) {
		report_view_free(v);
		return rc;
	}
	dump_counts(v, opts);
	if (opts->cr) {
		build_marks(v, opts->cr);
		if (opts->cx)
			build_verdict(v, opts->cx, opts->cr);
	}
	*out = v;
	return 0;
}

void report_view_free(struct view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nr_its; i++) {
		free(v->its[i].devs);
		free(v->its[i].events);
		free(v->its[i].more_edges);
		free(v->its[i].colls);
		free(v->its[i].by_icid);
	}
	free(v->its);
	free(v->vcpus);
	free(v->objs);
	free(v->ovl);
	free(v->unplaced);
	free(v);
}
