/* LPI property and pending table rules (spec §6.1 rules 42-45; F3, F14).
 *
 * The redistributor registers are the VM's, not an ITS's: the rules about
 * them alone (PROPBASER_*, PROP_TABLE_NOT_RAM, PEND_TABLE_NOT_RAM,
 * PENDBASER_SHARED, PENDING_BELOW_8192, PENDING_UNMAPPED) are recorded once,
 * in the call for ITS 0. LPI_DISABLED and PENDING_WRONG_VCPU are about the
 * LPIs one ITS maps and are recorded per ITS. A register value of 0 is the
 * reset value: that redistributor never programmed its LPI tables. Tables
 * hold INTIDs below 2^min(PROPBASER.IDbits + 1, 16) (16 bits when no
 * PROPBASER is known). Bytes the snapshot lacks are skipped. */
#include "rules_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pend_table {
	const struct gicr_regs_raw *rd;	/* first redistributor using it */
	uint64_t gpa;
	uint8_t *buf, *ok;
};

struct cpu_table {
	uint32_t cpu;
	size_t table;			/* index into the distinct tables */
};

struct lpi_ctx {
	const struct check_ctx *cx;
	unsigned its;
	struct findings *fs;
	int rc;
	const struct gicr_regs_raw *prop;
	unsigned bits;			/* LPI INTID bits */
	uint64_t pend_size;		/* bytes of a pending table */
	struct pend_table *t;		/* distinct pending tables */
	size_t nr_t;
	struct cpu_table *ct;		/* cpu -> table, sorted by cpu */
	size_t nr_ct;
};

static struct finding at_rd(unsigned its, const struct gicr_regs_raw *rd,
			    uint64_t raw)
{
	struct finding w = finding_at(its, -1);

	w.cpu = rd->cpu;
	finding_raw64(&w, raw);
	return w;
}

static void check_propbaser(struct lpi_ctx *c)
{
	const struct its_image *img = c->cx->img;
	const struct gicr_regs_raw *p = c->prop;
	uint64_t v = p->propbaser;
	unsigned idbits = GICR_PROPBASER_IDBITS(v);
	struct finding w = at_rd(c->its, p, v);

	if (idbits < 13) {
		RULE_ADD(&c->rc, c->fs, PR_PROPBASER_IDBITS, &w,
			 "GICR_PROPBASER 0x%016llx (vCPU %u): IDbits %u (%u INTID bits): no LPI is in range",
			 (unsigned long long)v, p->cpu, idbits, idbits + 1);
	} else {
		uint64_t base = GICR_PROPBASER_ADDRESS(v), first;
		uint64_t len = (1ULL << c->bits) - GIC_LPI_OFFSET;
		uint64_t bad = rules_not_ram(c->cx->mem, base, len, &first);

		if (bad) {
			w.has_gpa = true;
			w.gpa = first;
			RULE_ADD(&c->rc, c->fs, PR_PROP_TABLE_NOT_RAM, &w,
				 "property table [0x%llx, 0x%llx) (IDbits %u): 0x%llx bytes from 0x%llx are not guest RAM",
				 (unsigned long long)base,
				 (unsigned long long)(base + len), idbits,
				 (unsigned long long)bad,
				 (unsigned long long)first);
		}
	}
	for (size_t i = 0; i < img->nr_rd; i++) {
		const struct gicr_regs_raw *rd = &img->rd[i];

		if (!(rd->present & GICR_REG_PROPBASER) || !rd->propbaser ||
		    rd->propbaser == v)
			continue;
		w = at_rd(c->its, rd, rd->propbaser);
		RULE_ADD(&c->rc, c->fs, PR_PROPBASER_DIFFERS, &w,
			 "vCPU %u: GICR_PROPBASER 0x%016llx; vCPU %u's (the value KVM keeps): 0x%016llx",
			 rd->cpu, (unsigned long long)rd->propbaser, p->cpu,
			 (unsigned long long)v);
	}
}

static int cpu_cmp(const void *pa, const void *pb)
{
	const struct cpu_table *a = pa, *b = pb;

	return rules_cmp_u64(a->cpu, b->cpu);
}

struct rd_addr {
	uint64_t gpa;
	size_t idx;			/* into img->rd */
};

static int rd_addr_cmp(const void *pa, const void *pb)
{
	const struct rd_addr *a = pa, *b = pb;
	int c = rules_cmp_u64(a->gpa, b->gpa);

	return c ? c : rules_cmp_u64(a->idx, b->idx);
}

/* The distinct pending tables (read), which redistributor uses which, and
 * (in the call for ITS 0) PEND_TABLE_NOT_RAM and PENDBASER_SHARED. */
static int load_pending(struct lpi_ctx *c, bool vm)
{
	const struct its_image *img = c->cx->img;
	struct rd_addr *v;
	size_t n = 0;

	if (!img->nr_rd)
		return 0;
	v = malloc(img->nr_rd * sizeof(*v));
	c->t = calloc(img->nr_rd, sizeof(*c->t));
	c->ct = malloc(img->nr_rd * sizeof(*c->ct));
	if (!v || !c->t || !c->ct) {
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < img->nr_rd; i++) {
		const struct gicr_regs_raw *rd = &img->rd[i];
		uint64_t gpa = GICR_PENDBASER_ADDRESS(rd->pendbaser), first, bad;
		struct finding w;

		if (!rules_pendbaser_known(rd))
			continue;
		v[n].gpa = gpa;
		v[n].idx = i;
		n++;
		if (!vm)
			continue;
		bad = rules_not_ram(c->cx->mem, gpa, c->pend_size, &first);
		if (!bad)
			continue;
		w = at_rd(c->its, rd, rd->pendbaser);
		w.has_gpa = true;
		w.gpa = first;
		RULE_ADD(&c->rc, c->fs, PR_PEND_TABLE_NOT_RAM, &w,
			 "vCPU %u: pending table [0x%llx, 0x%llx): 0x%llx bytes from 0x%llx are not guest RAM",
			 rd->cpu, (unsigned long long)gpa,
			 (unsigned long long)(gpa + c->pend_size),
			 (unsigned long long)bad, (unsigned long long)first);
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), rd_addr_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct gicr_regs_raw *rd = &img->rd[v[i].idx];
		struct pend_table *t;

		if (i && v[i].gpa == v[i - 1].gpa) {
			t = &c->t[c->nr_t - 1];
			if (vm) {
				struct finding w = at_rd(c->its, rd,
							 rd->pendbaser);

				w.has_gpa = true;
				w.gpa = v[i].gpa;
				RULE_ADD(&c->rc, c->fs, PR_PENDBASER_SHARED,
					 &w,
					 "vCPU %u: pending table 0x%llx is vCPU %u's too",
					 rd->cpu, (unsigned long long)v[i].gpa,
					 t->rd->cpu);
			}
		} else {
			t = &c->t[c->nr_t++];
			t->rd = rd;
			t->gpa = v[i].gpa;
			t->buf = malloc(c->pend_size);
			t->ok = malloc(c->pend_size);
			if (!t->buf || !t->ok) {
				free(v);
				return -ENOMEM;
			}
			if (rules_read_known(c->cx->mem, t->gpa, t->buf, t->ok,
					     c->pend_size) < 0)
				memset(t->ok, 0, c->pend_size);
		}
		c->ct[c->nr_ct].cpu = rd->cpu;
		c->ct[c->nr_ct].table = c->nr_t - 1;
		c->nr_ct++;
	}
	free(v);
	if (c->nr_ct > 1)
		qsort(c->ct, c->nr_ct, sizeof(*c->ct), cpu_cmp);
	return 0;
}

static void free_pending(struct lpi_ctx *c)
{
	for (size_t i = 0; i < c->nr_t; i++) {
		free(c->t[i].buf);
		free(c->t[i].ok);
	}
	free(c->t);
	free(c->ct);
}

/* Pending bit of INTID n in table t: 1 set, 0 clear, -1 not in the snapshot. */
static int pend_bit(const struct lpi_ctx *c, const struct pend_table *t,
		    uint64_t n)
{
	if (n / 8 >= c->pend_size || !t->ok[n / 8])
		return -1;
	return (t->buf[n / 8] >> (n % 8)) & 1;
}

static struct finding at_pend(const struct lpi_ctx *c,
			      const struct pend_table *t, uint64_t n)
{
	struct finding w = finding_at(c->its, -1);

	w.cpu = t->rd->cpu;
	w.has_gpa = true;
	w.gpa = t->gpa + n / 8;
	finding_raw(&w, &t->buf[n / 8], 1);
	return w;
}

static void check_below_8192(struct lpi_ctx *c)
{
	uint64_t end = c->pend_size < GIC_LPI_OFFSET / 8 ? c->pend_size :
							    GIC_LPI_OFFSET / 8;

	for (size_t i = 0; i < c->nr_t; i++) {
		const struct pend_table *t = &c->t[i];
		uint64_t first = 0;
		size_t set = 0;

		for (uint64_t b = 0; b < end; b++) {
			if (!t->ok[b] || !t->buf[b])
				continue;
			if (!set)
				first = b * 8 + (unsigned)__builtin_ctz(t->buf[b]);
			set += (size_t)__builtin_popcount(t->buf[b]);
		}
		if (set) {
			struct finding w = at_pend(c, t, first);

			RULE_ADD(&c->rc, c->fs, PR_PENDING_BELOW_8192, &w,
				 "vCPU %u: %zu pending bit%s set for INTIDs below 8192 (first INTID %llu)",
				 t->rd->cpu, set, set == 1 ? "" : "s",
				 (unsigned long long)first);
		}
	}
}

static const struct pend_table *table_of(const struct lpi_ctx *c, int64_t cpu)
{
	struct cpu_table key, *r;

	if (cpu < 0 || cpu > UINT32_MAX || !c->nr_ct)
		return NULL;
	key.cpu = (uint32_t)cpu;
	r = bsearch(&key, c->ct, c->nr_ct, sizeof(*c->ct), cpu_cmp);
	return r ? &c->t[r->table] : NULL;
}

/* LPI_DISABLED and PENDING_WRONG_VCPU for the first mapping of each LPI of
 * this ITS (the one KVM creates the LPI with). */
static int check_mapped(struct lpi_ctx *c, const struct restore_result *rr)
{
	const struct check_ctx *cx = c->cx;
	uint64_t top = 1ULL << c->bits, prop_len = 0, base = 0;
	uint8_t *prop = NULL, *prop_ok = NULL;
	struct rules_map *m;
	size_t n;

	if (rules_maps(cx, c->its, rr, &m, &n) < 0)
		return -ENOMEM;
	rules_maps_sort(m, n);
	if (c->prop && GICR_PROPBASER_IDBITS(c->prop->propbaser) >= 13) {
		base = GICR_PROPBASER_ADDRESS(c->prop->propbaser);
		prop_len = top - GIC_LPI_OFFSET;
		prop = malloc(prop_len);
		prop_ok = malloc(prop_len);
		if (!prop || !prop_ok) {
			free(prop);
			free(prop_ok);
			free(m);
			return -ENOMEM;
		}
		if (rules_read_known(cx->mem, base, prop, prop_ok,
				     prop_len) < 0)
			memset(prop_ok, 0, prop_len);
	}
	for (size_t i = 0; i < n; i++) {
		const struct rules_map *e = &m[i];
		const struct pend_table *tt;
		uint64_t off = (uint64_t)e->lpi - GIC_LPI_OFFSET;

		if ((i && e->lpi == m[i - 1].lpi) || e->lpi < GIC_LPI_OFFSET ||
		    e->lpi >= top)
			continue;
		if (prop && prop_ok[off] && !(prop[off] & 1)) {
			struct finding w = finding_at(c->its, -1);

			w.device_id = e->device_id;
			w.event_id = e->event_id;
			w.has_gpa = true;
			w.gpa = base + off;
			finding_raw(&w, &prop[off], 1);
			RULE_ADD(&c->rc, c->fs, PR_LPI_DISABLED, &w,
				 "LPI %u (DeviceID 0x%x EventID %u): property byte 0x%02x at 0x%llx has Enable clear",
				 e->lpi, e->device_id, e->event_id, prop[off],
				 (unsigned long long)(base + off));
		}
		if (e->vcpu < 0)
			continue;
		tt = table_of(c, e->vcpu);
		if (tt && pend_bit(c, tt, e->lpi) != 0)
			continue;	/* picked up, or not known */
		for (size_t j = 0; j < c->nr_t; j++) {
			const struct pend_table *t = &c->t[j];
			struct finding w;

			if (t == tt || pend_bit(c, t, e->lpi) != 1)
				continue;
			w = at_pend(c, t, e->lpi);
			w.device_id = e->device_id;
			w.event_id = e->event_id;
			RULE_ADD(&c->rc, c->fs, PR_PENDING_WRONG_VCPU, &w,
				 "LPI %u pending in vCPU %u's table (0x%llx bit %u), but DeviceID 0x%x EventID %u targets vCPU %lld",
				 e->lpi, t->rd->cpu,
				 (unsigned long long)(t->gpa + e->lpi / 8),
				 e->lpi % 8, e->device_id, e->event_id,
				 (long long)e->vcpu);
		}
	}
	free(prop);
	free(prop_ok);
	free(m);
	return 0;
}

/* Pending bits of LPIs that no ITS maps (restored mappings of this ITS,
 * live entries of the others). */
static int check_unmapped(struct lpi_ctx *c, const struct restore_result *rr)
{
	uint64_t top = 1ULL << c->bits;
	uint8_t *mapped;

	if (top <= GIC_LPI_OFFSET || !c->nr_t)
		return 0;
	mapped = calloc(RULES_MAX_LPIS / 8, 1);
	if (!mapped)
		return -ENOMEM;
	for (unsigned i = 0; i < c->cx->img->nr_its; i++) {
		struct rules_map *m;
		size_t n;

		if (rules_maps(c->cx, i, i == c->its ? rr : NULL, &m, &n) < 0) {
			free(mapped);
			return -ENOMEM;
		}
		for (size_t j = 0; j < n; j++)
			if (m[j].lpi < RULES_MAX_LPIS)
				mapped[m[j].lpi / 8] |=
					(uint8_t)(1u << (m[j].lpi % 8));
		free(m);
	}
	for (size_t i = 0; i < c->nr_t; i++) {
		const struct pend_table *t = &c->t[i];

		for (uint64_t b = GIC_LPI_OFFSET / 8; b < top / 8; b++) {
			uint8_t set;

			if (!t->ok[b] || !(set = t->buf[b] & ~mapped[b]))
				continue;
			for (unsigned k = 0; k < 8; k++) {
				struct finding w;

				if (!(set & (1u << k)))
					continue;
				w = at_pend(c, t, b * 8 + k);
				RULE_ADD(&c->rc, c->fs, PR_PENDING_UNMAPPED, &w,
					 "vCPU %u: LPI %llu pending (0x%llx bit %u), but no event maps it",
					 t->rd->cpu,
					 (unsigned long long)(b * 8 + k),
					 (unsigned long long)(t->gpa + b), k);
			}
		}
	}
	free(mapped);
	return 0;
}

int rules_lpi(const struct check_ctx *cx, unsigned its,
	      const struct restore_result *rr, struct findings *fs)
{
	struct lpi_ctx c;
	bool vm = its == 0;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	c.cx = cx;
	c.its = its;
	c.fs = fs;
	c.prop = rules_propbaser(cx->img);
	c.bits = c.prop ? rules_lpi_bits(c.prop->propbaser) :
			  RULES_MAX_LPI_BITS;
	c.pend_size = (1ULL << c.bits) / 8;
	if (!c.pend_size)
		c.pend_size = 1;
	if (vm && c.prop)
		check_propbaser(&c);
	if (load_pending(&c, vm) < 0)
		rc = -ENOMEM;
	if (rc == 0 && vm)
		check_below_8192(&c);
	if (rc == 0)
		rc = check_mapped(&c, rr);
	if (rc == 0 && vm)
		rc = check_unmapped(&c, rr);
	free_pending(&c);
	return rc < 0 ? rc : c.rc;
}
