/* QEMU's emulated ITS (spec qemu-tcg-its.md §9-§11): what QEMU itself
 * guarantees about the entries it writes, and what it would do with each
 * MSI. QEMU's tables are live (no save/restore walk), so every entry it
 * can reach counts: DTEs outside the L2 pages of invalid L1 entries, ITEs
 * of valid DTEs, every collection slot. */
#include "rules_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "its/bits.h"

#define TCG_ITE_DOORBELL_NONE	0x3FF	/* ITE_H of a physical ITE */
#define TCG_ITE_QEMU62_BITS	0x3F	/* doorbell bits 6.2 left in [31:26] */

#define ITS_CMD_OFFSET(v)	((v) & ITS_GENMASK(19, 5))

static void check_basers(unsigned its, const struct its_regs_raw *r,
			 struct findings *fs, int *rc)
{
	for (unsigned n = 0; n < ITS_NR_BASER; n++) {
		uint64_t v = r->baser[n];
		unsigned type = GITS_BASER_TYPE(v);
		unsigned want = n == 0 ? GITS_BASER_TYPE_DEVICE :
				n == 1 ? GITS_BASER_TYPE_COLLECTION :
				n == 2 && type == GITS_BASER_TYPE_VCPU ?
					GITS_BASER_TYPE_VCPU :
					GITS_BASER_TYPE_NONE;
		char why[96] = "";
		struct finding w;

		if (!(r->present & ITS_REG_BASER(n)))
			continue;
		if (type != want)
			snprintf(why, sizeof(why), "Type %u, QEMU's is %u",
				 type, want);
		else if (type == GITS_BASER_TYPE_NONE && v)
			snprintf(why, sizeof(why),
				 "Type 0 (not implemented) but not zero");
		else if (type != GITS_BASER_TYPE_NONE &&
			 GITS_BASER_ENTRY_SIZE(v) != 8)
			snprintf(why, sizeof(why), "Entry_Size %u, QEMU's is 7",
				 GITS_BASER_ENTRY_SIZE(v) - 1);
		if (!why[0])
			continue;
		w = finding_at(its, -1);
		finding_raw64(&w, v);
		RULE_ADD(rc, fs, PR_TCG_BASER_NOT_QEMU, &w,
			 "GITS_BASER%u 0x%016llx: %s", n,
			 (unsigned long long)v, why);
	}
}

static void check_cmdq(unsigned its, const struct its_regs_raw *r,
		       struct findings *fs, int *rc)
{
	uint64_t rd = ITS_CMD_OFFSET(r->creadr), wr = ITS_CMD_OFFSET(r->cwriter);
	bool stalled = r->creadr & 1;
	struct finding w;

	if ((r->present & (ITS_REG_CREADR | ITS_REG_CWRITER)) !=
	    (ITS_REG_CREADR | ITS_REG_CWRITER) || (rd == wr && !stalled))
		return;
	w = finding_at(its, -1);
	finding_raw64(&w, r->creadr);
	if ((r->present & ITS_REG_CBASER) && (r->cbaser & GITS_CBASER_VALID)) {
		w.has_gpa = true;
		w.gpa = GITS_CBASER_ADDRESS(r->cbaser) + rd;
	}
	RULE_ADD(rc, fs, PR_TCG_CMDQ_NOT_QUIESCENT, &w,
		 "GITS_CREADR 0x%llx, GITS_CWRITER 0x%llx%s",
		 (unsigned long long)r->creadr, (unsigned long long)r->cwriter,
		 stalled ? " (CREADR.Stalled)" : "");
}

static void check_l1(unsigned its, const struct its_image_its *it,
		     struct findings *fs, int *rc)
{
	uint64_t mask = it->dt.l2_bytes - 1;

	if (!it->dt.valid || !it->dt.indirect)
		return;
	for (size_t i = 0; i < it->nr_l1; i++) {
		const struct its_l1_rec *l = &it->l1[i];
		struct finding w;

		if (!l->e.valid || !(l->e.raw & mask))
			continue;
		w = rules_at_l1(its, l);
		RULE_ADD(rc, fs, PR_TCG_L1_LOW_BITS, &w,
			 "L1[%u] 0x%016llx: bits [%d:0] = 0x%llx; QEMU reads the L2 page at 0x%llx",
			 l->index, (unsigned long long)l->e.raw,
			 63 - __builtin_clzll(mask),
			 (unsigned long long)(l->e.raw & mask),
			 (unsigned long long)l->e.l2);
	}
}

static void check_ctes(const struct check_ctx *cx, unsigned its,
		       const struct its_image_its *it, struct findings *fs,
		       int *rc)
{
	for (size_t i = 0; i < it->nr_ctes; i++) {
		const struct its_cte_rec *c = &it->ctes[i];
		uint64_t res0 = c->e.raw & ITS_GENMASK(63, 17);
		struct finding w = rules_at_cte(its, c);

		if (res0)
			RULE_ADD(rc, fs, PR_TCG_CTE_RES0, &w,
				 "ICID %u: CTE 0x%016llx, bits [63:17] = 0x%llx",
				 c->e.icid, (unsigned long long)c->e.raw,
				 (unsigned long long)(res0 >> 17));
		if (c->e.valid && cx->nr_vcpus > 0 &&
		    c->e.target >= (unsigned)cx->nr_vcpus)
			RULE_ADD(rc, fs, PR_TCG_CTE_TARGET_NO_VCPU, &w,
				 "ICID %u: target CPU %u, but the VM has %d vCPU%s",
				 c->e.icid, c->e.target, cx->nr_vcpus,
				 cx->nr_vcpus == 1 ? "" : "s");
	}
}

static int slot_cmp(const void *key, const void *elem)
{
	uint32_t s = *(const uint32_t *)key;
	const struct its_cte_rec *c = elem;

	return s < c->slot ? -1 : s > c->slot;
}

static void check_ite(unsigned its, const struct its_image_its *it,
		      const struct its_dev_rec *d, const struct its_ite_rec *e,
		      struct findings *fs, int *rc)
{
	uint64_t lo = its_le64(e->e.raw);
	uint32_t hi = its_le32(e->e.raw + 8);
	unsigned b31_26 = (unsigned)its_field(lo, 31, 26);
	struct finding w = rules_at_ite(its, it, d, e);
	char why[120] = "";
	size_t len = 0;

	if (!e->e.valid) {
		RULE_ADD(rc, fs, PR_TCG_ITE_NOT_CANONICAL, &w,
			 "DeviceID 0x%x EventID %u: invalid ITE not zero",
			 d->device_id, e->event_id);
		return;
	}
	if (!e->e.physical) {
		RULE_ADD(rc, fs, PR_TCG_ITE_VIRTUAL, &w,
			 "DeviceID 0x%x EventID %u: vINTID %u, vPEID %u, doorbell %u",
			 d->device_id, e->event_id, e->e.lpi, e->e.vpe_id,
			 e->e.doorbell);
		return;
	}
	if (e->e.lpi < GIC_LPI_OFFSET || e->e.lpi >= TCG_ITS_MAX_IDS)
		RULE_ADD(rc, fs, PR_TCG_ITE_LPI_RANGE, &w,
			 "DeviceID 0x%x EventID %u: INTID %u outside 8192..65535",
			 d->device_id, e->event_id, e->e.lpi);
	if (it->regs.present & ITS_REG_BASER(1)) {
		uint64_t ids = it->ct.valid ? it->ct.ids : 0;
		const struct its_cte_rec *c;
		struct finding wc = w;

		if (ids > TCG_ITS_MAX_IDS)
			ids = TCG_ITS_MAX_IDS;
		wc.icid = e->e.icid;
		c = !it->nr_ctes ? NULL :
			bsearch(&e->e.icid, it->ctes, it->nr_ctes,
				sizeof(*it->ctes), slot_cmp);
		if (e->e.icid >= ids)
			RULE_ADD(rc, fs, PR_TCG_ITE_ICID_RANGE, &wc,
				 "DeviceID 0x%x EventID %u: ICID %u, the collection table holds %llu",
				 d->device_id, e->event_id, e->e.icid,
				 (unsigned long long)ids);
		else if (!c || !c->e.valid)
			RULE_ADD(rc, fs, PR_TCG_ITE_ICID_UNMAPPED, &wc,
				 "DeviceID 0x%x EventID %u: collection %u not mapped",
				 d->device_id, e->event_id, e->e.icid);
	}
	if (b31_26 == TCG_ITE_QEMU62_BITS) {
		RULE_ADD(rc, fs, PR_TCG_ITE_QEMU62, &w,
			 "DeviceID 0x%x EventID %u: bits [31:26] = 0x3f",
			 d->device_id, e->event_id);
		/* 6.2 did not write bytes 8-11 */
		hi = TCG_ITE_DOORBELL_NONE;
	} else if (b31_26) {
		len += (size_t)snprintf(why + len, sizeof(why) - len,
					", bits [31:26] = 0x%x", b31_26);
	}
	if (e->e.vpe_id)
		len += (size_t)snprintf(why + len, sizeof(why) - len,
					", vPEID %u", e->e.vpe_id);
	if (hi != TCG_ITE_DOORBELL_NONE)
		snprintf(why + len, sizeof(why) - len,
			 ", ITE_H 0x%x (QEMU writes 0x3ff)", hi);
	if (why[0])
		RULE_ADD(rc, fs, PR_TCG_ITE_NOT_CANONICAL, &w,
			 "DeviceID 0x%x EventID %u: LPI %u%s", d->device_id,
			 e->event_id, e->e.lpi, why);
}

static void check_devices(unsigned its, const struct its_image_its *it,
			  struct findings *fs, int *rc)
{
	for (size_t i = 0; i < it->nr_devs; i++) {
		const struct its_dev_rec *d = &it->devs[i];
		uint64_t high = d->e.raw & ITS_GENMASK(63, 50);
		struct finding w;

		if (d->flags & ITS_F_IN_INVALID_L1)
			continue;
		w = rules_at_dte(its, it, d);
		if (!d->e.valid) {
			RULE_ADD(rc, fs, PR_TCG_DTE_INVALID_NONZERO, &w,
				 "DeviceID 0x%x: DTE 0x%016llx has Valid clear but other bits set",
				 d->device_id, (unsigned long long)d->e.raw);
			continue;
		}
		if (d->e.size > 15 || high) {
			RULE_ADD(rc, fs, PR_TCG_DTE_BAD, &w,
				 "DeviceID 0x%x: DTE 0x%016llx: Size %u (%u EventID bit%s), bits [63:50] = 0x%llx",
				 d->device_id, (unsigned long long)d->e.raw,
				 d->e.size, d->e.size + 1, d->e.size ? "s" : "",
				 (unsigned long long)(high >> 50));
			/* Size > 15: the ITT is not QEMU's, its entries
			 * are not judged one by one */
			if (d->e.size > 15)
				continue;
		}
		for (size_t j = 0; j < d->nr_events; j++)
			check_ite(its, it, d, &d->events[j], fs, rc);
	}
}

int rules_tcg(const struct check_ctx *cx, unsigned its,
	      const struct restore_result *rr, struct findings *fs)
{
	const struct its_image_its *it = &cx->img->its[its];
	int rc = 0;

	(void)rr;
	if (!rules_is_tcg(it))
		return 0;
	check_basers(its, &it->regs, fs, &rc);
	check_cmdq(its, &it->regs, fs, &rc);
	check_l1(its, it, fs, &rc);
	check_ctes(cx, its, it, fs, &rc);
	check_devices(its, it, fs, &rc);
	return rc;
}
