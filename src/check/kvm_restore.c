/* A model of KVM_DEV_ARM_ITS_RESTORE_TABLES for ITS table ABI rev 0
 * (spec/kvm-its-abi.md §2.3): the collection table first, then the device
 * table (flat, or L1 -> L2 pages) with each DTE's ITT right after it, in
 * KVM's order and with KVM's stop conditions and errno precedence, under a
 * kernel profile (§6.3).
 *
 * KVM stops at the first error. The model records that error as the
 * verdict and then goes on as if the failing entry were invalid, so that
 * every entry the walk would fail on is reported, not only the first. */
#include "its/check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its/bits.h"
#include "its/layout.h"
#include "its/regs.h"
#include "its/search.h"
#include "its/vec.h"

#define ESZ			8
#define L2_BYTES		65536ULL
#define DTES_PER_L2		(L2_BYTES / ESZ)
#define MAX_DEVID		0xFFFFu		/* VITS_MAX_DEVID */
#define MODEL_MAX_EVENT_BITS	16		/* longer ITT walks are cut */
#define OVERRUN_MAX_ENTRIES	(1u << 20)	/* pre-6.0.6 overrun: model bound */
#define RESTORE_COST_REPORT	(1u << 16)	/* sequential entries worth a note */

struct sim {
	const struct check_ctx *cx;
	const struct its_image_its *its;
	const struct kernel_profile *p;
	struct restore_result *r;
	struct findings *fs;
	struct its_err *err;
	/* restored collections by ICID: index into r->ctes + 1, 0 = none */
	uint32_t *coll;
	/* LPIs already allocated (KVM reuses the vgic_irq): a hash set */
	uint32_t *lpi_set;
	size_t lpi_cap, lpi_nr;
	/* the last block of guest memory read: the walk reads entry by
	 * entry, the file is read a block at a time */
	uint64_t cache_gpa;
	size_t cache_len;
	bool cache_absent;
	uint8_t *cache;
	struct restore_dev *dev;	/* device whose ITT is walked */
	unsigned bits;
	uint64_t run;			/* invalid entries stepped in a row */
	uint64_t propbase;
	bool have_prop;
	int oom;
};

const char *restore_drop_reason_name(enum restore_drop_reason r)
{
	switch (r) {
	case DROP_AFTER_TERMINATOR: return "after_terminator";
	case DROP_JUMPED_OVER: return "jumped_over";
	case DROP_INVALID_L1: return "invalid_l1";
	case DROP_NOT_WALKED: return "not_walked";
	}
	return "?";
}

static void *grow(void *arr_p, size_t *nr, size_t sz, struct sim *s)
{
	void *p = its_vec_push(arr_p, nr, sz);

	if (!p)
		s->oom = -ENOMEM;
	return p;
}

static const char *errname(int e)
{
	switch (e) {
	case -EINVAL: return "EINVAL";
	case -EFAULT: return "EFAULT";
	case -EEXIST: return "EEXIST";
	case -ENOMEM: return "ENOMEM";
	case 1: return "1";
	}
	return "?";
}

/* A failure: the first is the verdict; all are findings. */
static void fail(struct sim *s, int e, enum problem_id p, struct finding *w,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void fail(struct sim *s, int e, enum problem_id p, struct finding *w,
		 const char *fmt, ...)
{
	struct restore_failure *f = grow(&s->r->fails, &s->r->nr_fails,
					 sizeof(*f), s);
	char detail[sizeof(w->detail)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (f) {
		f->err = e;
		f->problem = p;
		f->where = *w;
		snprintf(f->where.detail, sizeof(f->where.detail), "%s", detail);
	}
	if (finding_add(s->fs, p, w, "%s (restore: %s)", detail, errname(e)) < 0)
		s->oom = -ENOMEM;
}

static void note(struct sim *s, enum problem_id p, const struct finding *w,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void note(struct sim *s, enum problem_id p, const struct finding *w,
		 const char *fmt, ...)
{
	char detail[sizeof(w->detail)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (finding_add(s->fs, p, w, "%s", detail) < 0)
		s->oom = -ENOMEM;
}

static struct finding loc(struct sim *s, enum its_table_kind t, uint64_t gpa)
{
	struct finding w = finding_at(s->its->index, (int)t);

	w.has_gpa = true;
	w.gpa = gpa;
	return w;
}

static bool visible(struct sim *s, uint64_t gpa)
{
	uint64_t run;

	return gmem_span(s->cx->mem, gpa, 1, &run) != GMEM_NOT_RAM;
}

/* Read len bytes as the destination would: memory outside RAM faults,
 * memory the snapshot lacks reads as zeros (and is reported once per
 * table and ID). */
static int guest_read(struct sim *s, enum its_table_kind t, int64_t dev,
		      uint64_t gpa, void *buf, size_t len, struct finding *w)
{
	int rc = gmem_read(s->cx->mem, gpa, buf, len, 0, NULL);

	if (rc == -ENODATA) {
		struct finding *a;

		rc = gmem_read(s->cx->mem, gpa, buf, len, GMEM_ZERO_ABSENT,
			       s->err);
		if (rc < 0)
			return rc;
		/* reported once per table and ID, and only so often */
		if (s->r->nr_absent >= FINDINGS_MAX_PER_PROBLEM)
			return 1;
		for (size_t i = 0; i < s->r->nr_absent; i++)
			if (s->r->absent[i].table == t &&
			    s->r->absent[i].device_id == dev)
				return 1;
		a = grow(&s->r->absent, &s->r->nr_absent, sizeof(*a), s);
		if (a) {
			*a = *w;
			a->table = t;
			a->device_id = dev;
		}
		note(s, PR_MEM_ABSENT, w,
		     "%s at GPA 0x%llx is not in the snapshot: the destination reads zeros",
		     its_table_name(t), (unsigned long long)gpa);
		return 1;
	}
	if (rc == -EFAULT)
		return -EFAULT;
	if (rc < 0)
		return gmem_read(s->cx->mem, gpa, buf, len, 0, s->err);
	return 0;
}

#define CACHE_BYTES 65536

/* The 8-byte entry at gpa, through the block cache; 0, -EFAULT, or an I/O
 * error. Memory the snapshot lacks reads as zeros and is reported. */
static int read_entry(struct sim *s, enum its_table_kind t, int64_t dev,
		      uint64_t gpa, uint64_t *v, struct finding *w)
{
	uint8_t b[ESZ];
	uint64_t run;
	enum gmem_kind k;
	int rc;

	if (s->cache_len && gpa >= s->cache_gpa &&
	    gpa - s->cache_gpa + ESZ <= s->cache_len) {
		if (s->cache_absent) {
			rc = guest_read(s, t, dev, gpa, b, ESZ, w);
			if (rc < 0)
				return rc;
		}
		*v = its_le64(s->cache + (gpa - s->cache_gpa));
		return 0;
	}
	k = gmem_span(s->cx->mem, gpa, CACHE_BYTES, &run);
	run -= run % ESZ;
	if (k == GMEM_NOT_RAM)
		return -EFAULT;
	if (run < ESZ) {
		/* an entry straddling a page or region boundary */
		s->cache_len = 0;
		rc = guest_read(s, t, dev, gpa, b, ESZ, w);
		if (rc < 0)
			return rc;
		*v = its_le64(b);
		return 0;
	}
	s->cache_gpa = gpa;
	s->cache_len = 0;
	s->cache_absent = k == GMEM_ABSENT;
	if (s->cache_absent) {
		memset(s->cache, 0, run);
		rc = guest_read(s, t, dev, gpa, b, ESZ, w);
	} else {
		rc = gmem_read(s->cx->mem, gpa, s->cache, run, 0, s->err);
	}
	if (rc < 0)
		return rc;
	s->cache_len = run;
	*v = its_le64(s->cache + (gpa - s->cache_gpa));
	return 0;
}

/* Zero entries the cache holds from gpa on (at most max). */
static uint64_t zero_run(struct sim *s, uint64_t gpa, uint64_t max)
{
	uint64_t n = 0;

	if (!s->cache_len || gpa < s->cache_gpa)
		return 0;
	while (n < max && gpa - s->cache_gpa + (n + 1) * ESZ <= s->cache_len &&
	       its_le64(s->cache + (gpa - s->cache_gpa) + n * ESZ) == 0)
		n++;
	return n;
}

typedef int (*entry_fn)(struct sim *s, uint64_t id, uint64_t gpa, uint64_t v,
			void *ctx);

/* KVM's scan_its_table: fn returns < 0 (error), 0 (last element found) or
 * k > 0 (advance k entries). A step past the end stops the walk ("last not
 * found", 1); kernels before the Oct 2022 fix subtracted it from an
 * unsigned length instead and walked on past the table. */
static int scan(struct sim *s, enum its_table_kind t, int64_t dev,
		uint64_t base, uint64_t size, uint64_t id, entry_fn fn, void *ctx)
{
	/* in a flat device table or an L2 page the walker's ID is the
	 * DeviceID of the slot it reads */
	bool devid_ids = t == ITS_TABLE_L2 ||
			 (t == ITS_TABLE_DEVICES && !s->its->dt.indirect);
	uint64_t len = size, gpa = base, steps = 0;
	bool over = false;
	/* a zero entry is "invalid, step one" everywhere but in the
	 * collection table, where it ends the list */
	bool zero_steps = t != ITS_TABLE_COLLECTIONS;

	while (len > 0 || over) {
		struct finding w = loc(s, t, gpa);
		uint64_t v;
		int rc;
		int64_t k;

		if (s->oom)
			return s->oom;
		if (over && ++steps > OVERRUN_MAX_ENTRIES)
			return 1;
		w.device_id = devid_ids ? (int64_t)id : dev;
		rc = read_entry(s, t, dev, gpa, &v, &w);
		if (rc == 0 && v == 0 && zero_steps) {
			/* step over the whole run of zeros at once */
			uint64_t n = zero_run(s, gpa, over ? OVERRUN_MAX_ENTRIES :
							     len / ESZ);

			if (n == 0)
				n = 1;
			s->r->entries_read += n;
			s->run += n;
			if (s->run > s->r->longest_scan)
				s->r->longest_scan = s->run;
			if (over)
				steps += n - 1;
			else if (n * ESZ >= len)
				return 1;
			else
				len -= n * ESZ;
			gpa += n * ESZ;
			id += n;
			continue;
		}
		s->r->entries_read++;
		if (rc == -EFAULT) {
			uint64_t run;

			fail(s, -EFAULT, PR_MEM_NOT_RAM, &w,
			     "%s entry at GPA 0x%llx is not guest RAM%s",
			     its_table_name(t), (unsigned long long)gpa,
			     over ? " (reached by walking past the table end)" : "");
			if (over)
				return 1;
			/* go on after the unreadable run, as if it were empty */
			gmem_span(s->cx->mem, gpa, len, &run);
			run = (run + ESZ - 1) / ESZ * ESZ;
			if (run >= len)
				return 1;
			len -= run;
			gpa += run;
			id += run / ESZ;
			continue;
		}
		if (rc < 0)
			return rc;
		k = fn(s, id, gpa, v, ctx);
		if (k < 0)
			return (int)k;
		if (k == 0)
			return 0;
		if (k == 1)
			s->run++;
		else
			s->run = 0;
		if (s->run > s->r->longest_scan)
			s->r->longest_scan = s->run;
		if ((uint64_t)k * ESZ >= len && !over) {
			/* old kernels: len -= step; exactly 0 ends the loop,
			 * more wraps the unsigned length */
			if (!s->p->scan_overrun || (uint64_t)k * ESZ == len)
				return 1;
			over = true;
		}
		if (!over)
			len -= (uint64_t)k * ESZ;
		gpa += (uint64_t)k * ESZ;
		id += (uint64_t)k;
	}
	return 1;
}

/* ---- collections ---- */

static bool target_exists(struct sim *s, uint32_t target)
{
	/* QEMU numbers vCPUs 0..n-1 and uses the index as vcpu_id, so the
	 * count test (< 6.7) and the vcpu_id lookup (>= 6.7) agree */
	return s->cx->nr_vcpus > 0 && target < (uint32_t)s->cx->nr_vcpus;
}

static int restore_cte(struct sim *s, uint64_t slot, uint64_t gpa, uint64_t v,
		       void *ctx)
{
	uint32_t target = (uint32_t)its_field(v, 47, 16);
	uint32_t icid = (uint32_t)(v & KVM_ITS_CTE_ICID_MASK);
	const struct its_table_info *ct = &s->its->ct;
	struct finding w = loc(s, ITS_TABLE_COLLECTIONS, gpa);
	struct restore_cte *c;

	(void)ctx;
	w.icid = icid;
	finding_raw64(&w, v);
	if (!(v & KVM_ITS_CTE_VALID_MASK)) {
		s->r->ct_terminator = (uint32_t)slot;
		return 0;
	}
	if (target != COLLECTION_NOT_MAPPED) {
		if (!target_exists(s, target)) {
			fail(s, -EINVAL, PR_CTE_TARGET_NO_VCPU, &w,
			     "ICID %u targets vCPU %u, but the VM has %d vCPU%s",
			     icid, target, s->cx->nr_vcpus,
			     s->cx->nr_vcpus == 1 ? "" : "s");
			return 1;
		}
	} else if (s->p->unmapped_cte_einval) {
		fail(s, -EINVAL, PR_CTE_UNMAPPED, &w,
		     "ICID %u is unmapped (target 0xffffffff): kernel %s rejects it",
		     icid, s->p->name);
		return 1;
	} else {
		note(s, PR_CTE_UNMAPPED, &w, "ICID %u is unmapped (target 0xffffffff)",
		     icid);
	}
	if (s->coll[icid]) {
		fail(s, -EEXIST, PR_CTE_DUPLICATE_ICID, &w,
		     "ICID %u already restored from slot %u", icid,
		     s->r->ctes[s->coll[icid] - 1].slot);
		return 1;
	}
	/* vgic_its_check_id on the collection table: indexed slot */
	if (icid >= ct->bytes / ESZ || !visible(s, ct->gpa + (uint64_t)icid * ESZ)) {
		bool range = icid >= ct->bytes / ESZ;

		if (s->p->visibility_checks) {
			fail(s, -EINVAL, range ? PR_CTE_ICID_RANGE : PR_SLOT_NOT_VISIBLE, &w,
			     range ? "ICID %u >= %llu collection table entries" :
				     "ICID %u: indexed slot at GPA 0x%llx is outside every memslot",
			     icid, range ? (unsigned long long)(ct->bytes / ESZ) :
					   (unsigned long long)(ct->gpa + (uint64_t)icid * ESZ));
			return 1;
		}
		/* before 5.19: a positive ITS error taken as success */
		note(s, range ? PR_CTE_ICID_RANGE : PR_SLOT_NOT_VISIBLE, &w,
		     "ICID %u cannot be restored: kernel %s drops the collection silently",
		     icid, s->p->name);
		return 1;
	}
	c = grow(&s->r->ctes, &s->r->nr_ctes, sizeof(*c), s);
	if (!c)
		return s->oom;
	c->slot = (uint32_t)slot;
	c->icid = icid;
	c->target = target;
	c->gpa = gpa;
	s->coll[icid] = (uint32_t)s->r->nr_ctes;
	return 1;
}

static void restore_collections(struct sim *s)
{
	const struct its_table_info *ct = &s->its->ct;
	int rc;

	s->r->ct_terminator = UINT32_MAX;
	if (!ct->valid)
		return;
	rc = scan(s, ITS_TABLE_COLLECTIONS, FINDING_NONE, ct->gpa, ct->bytes, 0,
		  restore_cte, NULL);
	if (rc == 1 && s->p->full_ct_fails) {
		struct finding w = loc(s, ITS_TABLE_COLLECTIONS, ct->gpa);

		fail(s, 1, PR_CTE_AFTER_TERMINATOR, &w,
		     "the collection table is full (no terminator): kernel %s returns 1, which QEMU takes as a failure",
		     s->p->name);
	}
}

/* ---- ITTs ---- */

/* Insert lpi into the set; true if it was new. 0 is never an LPI here. */
static bool lpi_insert(struct sim *s, uint32_t lpi)
{
	size_t mask, h;

	if (s->lpi_nr * 2 >= s->lpi_cap) {
		size_t cap = s->lpi_cap ? s->lpi_cap * 2 : 1024;
		uint32_t *t = calloc(cap, sizeof(*t));

		if (!t) {
			s->oom = -ENOMEM;
			return false;
		}
		for (size_t i = 0; i < s->lpi_cap; i++) {
			uint32_t v = s->lpi_set[i];

			if (!v)
				continue;
			for (h = (v * 2654435761u) & (cap - 1); t[h]; h = (h + 1) & (cap - 1))
				;
			t[h] = v;
		}
		free(s->lpi_set);
		s->lpi_set = t;
		s->lpi_cap = cap;
	}
	mask = s->lpi_cap - 1;
	for (h = (lpi * 2654435761u) & mask; s->lpi_set[h]; h = (h + 1) & mask)
		if (s->lpi_set[h] == lpi)
			return false;
	s->lpi_set[h] = lpi;
	s->lpi_nr++;
	return true;
}

static int restore_ite(struct sim *s, uint64_t event, uint64_t gpa, uint64_t v,
		       void *ctx)
{
	struct restore_dev *d = s->dev;
	uint32_t lpi = (uint32_t)((v & KVM_ITS_ITE_PINTID_MASK) >>
				  KVM_ITS_ITE_PINTID_SHIFT);
	uint32_t next = (uint32_t)(v >> KVM_ITS_ITE_NEXT_SHIFT);
	uint32_t icid = (uint32_t)(v & KVM_ITS_ITE_ICID_MASK);
	struct finding w = loc(s, ITS_TABLE_ITT, gpa);
	struct restore_ite *e;
	const struct restore_cte *c;
	int64_t vcpu = -1;

	(void)ctx;
	w.device_id = d->device_id;
	w.event_id = (int64_t)event;
	w.icid = icid;
	finding_raw64(&w, v);
	if (lpi == 0)
		return 1;	/* "invalid entry, no choice but to scan next" */
	if (lpi < GIC_LPI_OFFSET) {
		fail(s, -EINVAL, PR_ITE_LPI_BELOW_MIN, &w,
		     "DeviceID 0x%x EventID %llu: pINTID %u < 8192", d->device_id,
		     (unsigned long long)event, lpi);
		return 1;
	}
	if (event + next >= (1ULL << s->bits)) {
		fail(s, -EINVAL, PR_ITE_NEXT_BEYOND_ITT, &w,
		     "DeviceID 0x%x EventID %llu: next %u runs past the %llu-entry ITT",
		     d->device_id, (unsigned long long)event, next,
		     1ULL << s->bits);
		return 1;
	}
	if (!s->coll[icid]) {
		fail(s, -EINVAL, PR_ITE_ICID_UNKNOWN, &w,
		     "DeviceID 0x%x EventID %llu: ICID %u is not a restored collection",
		     d->device_id, (unsigned long long)event, icid);
		return 1;
	}
	c = &s->r->ctes[s->coll[icid] - 1];
	if (c->target != COLLECTION_NOT_MAPPED)
		vcpu = c->target;
	/* vgic_add_lpi: a new LPI reads its property byte, and its pending
	 * byte when it has a target */
	if (lpi_insert(s, lpi)) {
		uint8_t byte;
		int rc;

		if (s->have_prop) {
			uint64_t pa = s->propbase + lpi - GIC_LPI_OFFSET;
			struct finding pw = w;

			pw.gpa = pa;
			pw.has_raw = false;
			rc = guest_read(s, ITS_TABLE_ITT, d->device_id, pa, &byte, 1, &pw);
			if (rc == -EFAULT) {
				fail(s, -EFAULT, PR_MEM_NOT_RAM, &pw,
				     "LPI %u: property byte at GPA 0x%llx is not guest RAM",
				     lpi, (unsigned long long)pa);
				return 1;
			}
			if (rc < 0)
				return rc;
		}
		if (vcpu >= 0 && (size_t)vcpu < s->cx->img->nr_rd &&
		    (s->cx->img->rd[vcpu].present & GICR_REG_PENDBASER)) {
			uint64_t pa = GICR_PENDBASER_ADDRESS(s->cx->img->rd[vcpu].pendbaser) +
				      lpi / 8;
			struct finding pw = w;

			pw.gpa = pa;
			pw.has_raw = false;
			pw.cpu = vcpu;
			rc = guest_read(s, ITS_TABLE_ITT, d->device_id, pa, &byte, 1, &pw);
			if (rc == -EFAULT) {
				fail(s, -EFAULT, PR_MEM_NOT_RAM, &pw,
				     "LPI %u: pending byte of vCPU %lld at GPA 0x%llx is not guest RAM",
				     lpi, (long long)vcpu, (unsigned long long)pa);
				return 1;
			}
			if (rc < 0)
				return rc;
		}
	}
	e = grow(&d->events, &d->nr_events, sizeof(*e), s);
	if (!e)
		return s->oom;
	e->event_id = (uint32_t)event;
	e->lpi = lpi;
	e->icid = icid;
	e->gpa = gpa;
	e->vcpu = vcpu;
	s->r->nr_events++;
	if (next == 0)
		d->terminated_at = (int64_t)event;
	return (int)next;
}

/* ---- devices ---- */

static int restore_dte(struct sim *s, uint64_t id, uint64_t gpa, uint64_t v,
		       void *ctx)
{
	struct its_dte dte;
	struct finding w = loc(s, ctx ? ITS_TABLE_L2 : ITS_TABLE_DEVICES, gpa);
	struct restore_dev *d;
	unsigned bits;
	size_t fails;
	int rc;
	uint8_t raw[8];

	its_put_le64(raw, v);
	kvm_dte_decode(raw, &dte);
	w.device_id = (int64_t)id;
	finding_raw64(&w, v);
	if (!dte.valid)
		return 1;
	bits = dte.size + 1;
	if (bits > VITS_TYPER_IDBITS) {
		if (s->p->size_check) {
			fail(s, -EINVAL, PR_DTE_SIZE_RANGE, &w,
			     "DeviceID 0x%llx: Size %u (%u EventID bits > 16)",
			     (unsigned long long)id, dte.size, bits);
			return 1;
		}
		note(s, PR_DTE_SIZE_RANGE, &w,
		     "DeviceID 0x%llx: Size %u (%u EventID bits > 16): kernel %s walks a %llu-entry ITT",
		     (unsigned long long)id, dte.size, bits, s->p->name,
		     1ULL << bits);
	}
	if (id > MAX_DEVID) {
		if (s->p->visibility_checks) {
			fail(s, -EINVAL, PR_DTE_DEVID_RANGE, &w,
			     "DeviceID 0x%llx > 0xffff", (unsigned long long)id);
			return 1;
		}
		note(s, PR_DTE_DEVID_RANGE, &w,
		     "DeviceID 0x%llx > 0xffff: kernel %s restores it and the next save fails",
		     (unsigned long long)id, s->p->name);
	}
	d = grow(&s->r->devs, &s->r->nr_devs, sizeof(*d), s);
	if (!d)
		return s->oom;
	d->device_id = (uint32_t)id;
	d->gpa = gpa;
	d->itt = dte.itt;
	d->bits = bits;
	d->terminated_at = -1;
	s->dev = d;
	s->bits = bits > MODEL_MAX_EVENT_BITS ? MODEL_MAX_EVENT_BITS : bits;
	fails = s->r->nr_fails;
	rc = scan(s, ITS_TABLE_ITT, (int64_t)id, dte.itt, (1ULL << s->bits) * ESZ,
		  0, restore_ite, NULL);
	s->dev = NULL;
	if (rc < 0)
		return rc;
	/* an ITT the walk could not read is no empty ITT */
	if (rc == 1 && d->nr_events == 0 && s->r->nr_fails == fails)
		note(s, PR_DTE_NO_EVENTS, &w,
		     "DeviceID 0x%llx: no valid ITE in its %llu-entry ITT%s",
		     (unsigned long long)id, 1ULL << s->bits,
		     s->p->itt_unterminated_drops ? " (kernel drops the device)" : "");
	if (rc == 1 && s->p->itt_unterminated_drops) {
		/* 4.12-4.14: the device is freed and the walk steps on */
		s->r->nr_events -= d->nr_events;
		free(d->events);
		s->r->nr_devs--;
		return 1;
	}
	if (dte.next == 0) {
		s->r->terminated = true;
		s->r->terminated_at = (uint32_t)id;
	}
	return (int)dte.next;
}

static int handle_l1(struct sim *s, uint64_t idx, uint64_t gpa, uint64_t v,
		     void *ctx)
{
	(void)ctx;
	(void)gpa;
	if (!(v & KVM_ITS_L1E_VALID_MASK))
		return 1;
	return scan(s, ITS_TABLE_L2, (int64_t)idx, v & KVM_ITS_L1E_ADDR_MASK,
		    L2_BYTES, idx * DTES_PER_L2, restore_dte, (void *)1);
}

static void restore_devices(struct sim *s)
{
	const struct its_table_info *dt = &s->its->dt;
	struct finding w;
	int rc;

	if (!dt->valid)
		return;
	if (!dt->indirect)
		rc = scan(s, ITS_TABLE_DEVICES, FINDING_NONE, dt->gpa, dt->bytes, 0,
			  restore_dte, NULL);
	else
		rc = scan(s, ITS_TABLE_DEVICES, FINDING_NONE, dt->gpa, dt->bytes, 0,
			  handle_l1, NULL);
	if (rc != 1)
		return;
	w = loc(s, ITS_TABLE_DEVICES, dt->gpa);
	if (s->p->empty_table_einval)
		fail(s, -EINVAL, PR_DTE_TABLE_EMPTY, &w,
		     "no DTE with next = 0 ends the device table walk (%zu device%s restored)",
		     s->r->nr_devs, s->r->nr_devs == 1 ? "" : "s");
	else
		note(s, PR_DTE_TABLE_EMPTY, &w,
		     "no DTE with next = 0 ends the device table walk (%zu device%s restored)",
		     s->r->nr_devs, s->r->nr_devs == 1 ? "" : "s");
}

/* ---- what the walk leaves behind ---- */

static const struct restore_dev *restored_dev(const struct restore_result *r,
					      uint32_t id)
{
	/* the walk restores devices in DeviceID order */
	return ITS_FIND_SORTED(r->devs, r->nr_devs, device_id, id);
}

static bool restored_event(const struct restore_dev *d, uint32_t ev)
{
	/* an ITT is walked forward: events are restored in EventID order */
	return ITS_FIND_SORTED(d->events, d->nr_events, event_id, ev) != NULL;
}

/* GPAs of the entries the restore failed on (each names one), sorted:
 * find_drops asks about every entry, and a failed restore can list as
 * many failures as there are entries. */
struct fail_gpa {
	uint64_t gpa;
};

static int fail_gpa_cmp(const void *a, const void *b)
{
	const struct fail_gpa *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

static struct fail_gpa *failed_gpas(const struct restore_result *r, size_t *n)
{
	struct fail_gpa *v = malloc((r->nr_fails + 1) * sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < r->nr_fails; i++)
		if (r->fails[i].where.has_gpa && r->fails[i].where.has_raw)
			v[(*n)++].gpa = r->fails[i].where.gpa;
	qsort(v, *n, sizeof(*v), fail_gpa_cmp);
	return v;
}

static void drop(struct sim *s, enum its_table_kind t, int64_t dev, int64_t ev,
		 int64_t icid, uint64_t gpa, uint64_t raw,
		 enum restore_drop_reason why, enum problem_id p, const char *what)
{
	struct restore_drop *d = grow(&s->r->drops, &s->r->nr_drops, sizeof(*d), s);
	struct finding w = loc(s, t, gpa);

	if (d) {
		d->table = t;
		d->device_id = dev;
		d->event_id = ev;
		d->icid = icid;
		d->gpa = gpa;
		d->raw = raw;
		d->reason = why;
	}
	w.device_id = dev;
	w.event_id = ev;
	w.icid = icid;
	finding_raw64(&w, raw);
	note(s, p, &w, "%s: %s", what,
	     why == DROP_AFTER_TERMINATOR ? "after the walk's terminator" :
	     why == DROP_JUMPED_OVER ? "jumped over by a next" :
	     why == DROP_INVALID_L1 ? "in the L2 page of an invalid L1 entry" :
	     why == DROP_NOT_WALKED ? "its DTE is not restored, its ITT never read" :
	     restore_drop_reason_name(why));
}

/* The valid ITEs of a DTE the walk does not restore: never read (rule 39). */
static void drop_events(struct sim *s, const struct its_dev_rec *d)
{
	char what[96];

	for (size_t j = 0; j < d->nr_events; j++) {
		const struct its_ite_rec *e = &d->events[j];

		if (!e->e.valid)
			continue;
		snprintf(what, sizeof(what), "DeviceID 0x%x EventID %u",
			 d->device_id, e->event_id);
		drop(s, ITS_TABLE_ITT, d->device_id, e->event_id, e->e.icid,
		     e->gpa, its_le64(e->e.raw), DROP_NOT_WALKED,
		     PR_ITE_DROPPED, what);
	}
}

static void find_drops(struct sim *s)
{
	const struct its_image_its *its = s->its;
	size_t nr_failed;
	struct fail_gpa *failed = failed_gpas(s->r, &nr_failed);
	char what[96];

	if (!failed) {
		s->oom = -ENOMEM;
		return;
	}

	for (size_t i = 0; i < its->nr_ctes; i++) {
		const struct its_cte_rec *c = &its->ctes[i];

		if (!c->e.valid || c->slot <= s->r->ct_terminator ||
		    s->r->ct_terminator == UINT32_MAX)
			continue;
		snprintf(what, sizeof(what), "collection slot %u (ICID %u)",
			 c->slot, c->e.icid);
		drop(s, ITS_TABLE_COLLECTIONS, FINDING_NONE, FINDING_NONE,
		     c->e.icid, c->gpa, c->e.raw, DROP_AFTER_TERMINATOR,
		     PR_CTE_AFTER_TERMINATOR, what);
	}
	for (size_t i = 0; i < its->nr_devs; i++) {
		const struct its_dev_rec *d = &its->devs[i];
		const struct restore_dev *rd;
		enum restore_drop_reason why;

		if (!d->e.valid)
			continue;
		if (ITS_FIND_SORTED(failed, nr_failed, gpa, d->gpa)) {
			drop_events(s, d);
			continue;
		}
		rd = restored_dev(s->r, d->device_id);
		if (!rd) {
			why = (d->flags & ITS_F_IN_INVALID_L1) ? DROP_INVALID_L1 :
			      (s->r->terminated && d->device_id > s->r->terminated_at) ?
			      DROP_AFTER_TERMINATOR : DROP_JUMPED_OVER;
			snprintf(what, sizeof(what), "DeviceID 0x%x", d->device_id);
			drop(s, d->flags & ITS_F_IN_INVALID_L1 || its->dt.indirect ?
			     ITS_TABLE_L2 : ITS_TABLE_DEVICES, d->device_id,
			     FINDING_NONE, FINDING_NONE, d->gpa, d->e.raw, why,
			     PR_DTE_DROPPED, what);
			drop_events(s, d);
			continue;
		}
		for (size_t j = 0; j < d->nr_events; j++) {
			const struct its_ite_rec *e = &d->events[j];

			if (!e->e.valid || restored_event(rd, e->event_id) ||
			    ITS_FIND_SORTED(failed, nr_failed, gpa, e->gpa))
				continue;
			snprintf(what, sizeof(what), "DeviceID 0x%x EventID %u",
				 d->device_id, e->event_id);
			drop(s, ITS_TABLE_ITT, d->device_id, e->event_id, e->e.icid,
			     e->gpa, its_le64(e->e.raw),
			     rd->terminated_at >= 0 && e->event_id > rd->terminated_at ?
			     DROP_AFTER_TERMINATOR : DROP_JUMPED_OVER,
			     PR_ITE_DROPPED, what);
		}
	}
	free(failed);
}

int kvm_restore_run(const struct check_ctx *cx, unsigned itsn,
		    struct restore_result *out, struct findings *fs,
		    struct its_err *err)
{
	const struct its_image_its *its = &cx->img->its[itsn];
	struct sim s = { 0 };

	memset(out, 0, sizeof(*out));
	out->its = itsn;
	if (its->layout != &its_layout_kvm) {
		out->skipped = true;
		return 0;
	}
	s.cx = cx;
	s.its = its;
	s.p = &cx->profile;
	s.r = out;
	s.fs = fs;
	s.err = err;
	s.coll = calloc(1u << 16, sizeof(*s.coll));
	s.cache = malloc(CACHE_BYTES);
	if (!s.coll || !s.cache) {
		free(s.cache);
		return its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET,
				   "out of memory");
	}
	/* KVM keeps one PROPBASER for the VM: the last one written */
	for (size_t i = cx->img->nr_rd; i-- > 0;)
		if (cx->img->rd[i].present & GICR_REG_PROPBASER) {
			s.propbase = GICR_PROPBASER_ADDRESS(cx->img->rd[i].propbaser);
			s.have_prop = true;
			break;
		}
	out->prop_unknown = !s.have_prop;
	restore_collections(&s);
	if (!s.oom)
		restore_devices(&s);
	if (!s.oom)
		find_drops(&s);
	if (!s.oom && out->longest_scan >= RESTORE_COST_REPORT) {
		struct finding w = finding_at(itsn, ITS_TABLE_DEVICES);

		note(&s, PR_RESTORE_COST, &w,
		     "the walk reads %llu entries, %llu of them invalid in a row",
		     (unsigned long long)out->entries_read,
		     (unsigned long long)out->longest_scan);
	}
	free(s.coll);
	free(s.cache);
	free(s.lpi_set);
	if (s.oom)
		return its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET,
				   "out of memory");
	return 0;
}

void restore_result_release(struct restore_result *r)
{
	for (size_t i = 0; i < r->nr_devs; i++)
		free(r->devs[i].events);
	free(r->devs);
	free(r->ctes);
	free(r->drops);
	free(r->fails);
	free(r->absent);
	free(r->undeliverable);
	memset(r, 0, sizeof(*r));
}
