/* Register rules (spec §6.1 rules 1-10): the table format, GITS_IIDR, the
 * GITS_BASERs as KVM would have written them, the ITS enable against the
 * Valid bits, and the command queue. Only registers the snapshot holds are
 * judged. For QEMU's emulated ITS only the format is reported here
 * (rules_tcg judges the rest). */
#include "rules_int.h"

#include <stdio.h>
#include <string.h>

#include "its/bits.h"

#define ITS_CMD_SIZE		32
#define ITS_CMD_OFFSET(v)	((v) & ITS_GENMASK(19, 5))

/* the reason walk.c gives when --layout chose the format */
static const char *cmd_name(unsigned op)
{
	switch (op) {
	case 0x01: return "MOVI";
	case 0x03: return "INT";
	case 0x04: return "CLEAR";
	case 0x05: return "SYNC";
	case 0x08: return "MAPD";
	case 0x09: return "MAPC";
	case 0x0a: return "MAPTI";
	case 0x0b: return "MAPI";
	case 0x0c: return "INV";
	case 0x0d: return "INVALL";
	case 0x0e: return "MOVALL";
	case 0x0f: return "DISCARD";
	}
	return "unknown";
}

static struct finding at_reg64(unsigned its, uint64_t v)
{
	struct finding w = finding_at(its, -1);

	finding_raw64(&w, v);
	return w;
}

static struct finding at_reg32(unsigned its, uint32_t v)
{
	struct finding w = finding_at(its, -1);

	rules_raw32(&w, v);
	return w;
}

static void check_layout(unsigned its, const struct its_image_its *it,
			 struct findings *fs, int *rc)
{
	struct finding w = finding_at(its, -1);

	if (rules_is_tcg(it))
		RULE_ADD(rc, fs, PR_LAYOUT_QEMU_TCG, &w, "%s", it->layout_why);
	if (!(it->regs.present & ITS_REG_IIDR) && !it->layout_forced)
		RULE_ADD(rc, fs, PR_LAYOUT_GUESSED, &w, "layout %s: %s",
			 it->layout->name, it->layout_why);
}

static void check_iidr(unsigned its, const struct its_regs_raw *r,
		       struct findings *fs, int *rc)
{
	struct finding w;

	if (!(r->present & ITS_REG_IIDR))
		return;
	w = at_reg32(its, r->iidr);
	if (GITS_IIDR_REV(r->iidr) != 0)
		RULE_ADD(rc, fs, PR_IIDR_REVISION, &w,
			 "GITS_IIDR 0x%08x: Revision %u (KVM knows revision 0 only)",
			 r->iidr, GITS_IIDR_REV(r->iidr));
	if (GITS_IIDR_IMPLEMENTER(r->iidr) != IMPLEMENTER_ARM ||
	    GITS_IIDR_PRODUCT_ID(r->iidr) != PRODUCT_ID_KVM)
		RULE_ADD(rc, fs, PR_IIDR_NOT_KVM, &w,
			 "GITS_IIDR 0x%08x: Implementer 0x%x, ProductID 0x%x",
			 r->iidr, GITS_IIDR_IMPLEMENTER(r->iidr),
			 GITS_IIDR_PRODUCT_ID(r->iidr));
}

/* What vgic_sanitise_its_baser would change in the cache/share fields. */
static void check_cache(unsigned its, unsigned n, uint64_t v,
			struct findings *fs, int *rc)
{
	static const char *const cache[] = {
		"nCnB", "nC", "RaWt", "RaWb", "WaWt", "WaWb", "RaWaWt",
		"RaWaWb",
	};
	unsigned share = (unsigned)its_field(v, 11, 10);
	unsigned inner = (unsigned)its_field(v, 61, 59);
	unsigned outer = (unsigned)its_field(v, 55, 53);
	char what[160] = "";
	size_t len = 0;
	struct finding w;

	if (share == 2)
		len += (size_t)snprintf(what + len, sizeof(what) - len,
					"; Shareability outer (KVM: inner)");
	if (inner <= 1)
		len += (size_t)snprintf(what + len, sizeof(what) - len,
					"; InnerCache %s (KVM: RaWb)",
					cache[inner]);
	if (outer > 1)
		snprintf(what + len, sizeof(what) - len,
			 "; OuterCache %s (KVM: same-as-inner)", cache[outer]);
	if (!what[0])
		return;
	w = at_reg64(its, v);
	RULE_ADD(rc, fs, PR_BASER_CACHE_SANITISED, &w,
		 "GITS_BASER%u 0x%016llx: %s", n, (unsigned long long)v,
		 what + 2);
}

static void check_basers(unsigned its, const struct its_image_its *it,
			 struct findings *fs, int *rc)
{
	static const unsigned want_type[2] = {
		GITS_BASER_TYPE_DEVICE, GITS_BASER_TYPE_COLLECTION,
	};
	static const char *const type_name[8] = {
		"none", "devices", "vPEs", "reserved", "collections",
		"reserved", "reserved", "reserved",
	};
	static const char *const page_name[4] = { "4K", "16K", "64K", "reserved" };
	const struct its_regs_raw *r = &it->regs;

	for (unsigned n = 0; n < ITS_NR_BASER; n++) {
		uint64_t v = r->baser[n];
		unsigned long long vv = (unsigned long long)v;
		struct finding w = at_reg64(its, v);

		if (!(r->present & ITS_REG_BASER(n)))
			continue;
		if (n >= 2) {
			if (v)
				RULE_ADD(rc, fs, PR_BASER_UNUSED_SET, &w,
					 "GITS_BASER%u 0x%016llx: KVM implements GITS_BASER0 and GITS_BASER1 only",
					 n, vv);
			continue;
		}
		/* KVM's BASER0/1 always read back Type and Entry_Size: 0 is
		 * "no table given" (a tool's input), judged by the Valid rules */
		if (!v)
			continue;
		if (GITS_BASER_TYPE(v) != want_type[n])
			RULE_ADD(rc, fs, PR_BASER_TYPE, &w,
				 "GITS_BASER%u 0x%016llx: Type %u (%s), KVM reports %u (%s)",
				 n, vv, GITS_BASER_TYPE(v),
				 type_name[GITS_BASER_TYPE(v)], want_type[n],
				 type_name[want_type[n]]);
		if (GITS_BASER_ENTRY_SIZE(v) != KVM_ITS_ABI0_ESZ)
			RULE_ADD(rc, fs, PR_BASER_ENTRY_SIZE, &w,
				 "GITS_BASER%u 0x%016llx: Entry_Size %u (%u-byte entries)",
				 n, vv, GITS_BASER_ENTRY_SIZE(v) - 1,
				 GITS_BASER_ENTRY_SIZE(v));
		if (GITS_BASER_PAGE_SIZE(v) != GITS_BASER_PAGE_SIZE_64K)
			RULE_ADD(rc, fs, PR_BASER_PAGE_SIZE, &w,
				 "GITS_BASER%u 0x%016llx: Page_Size %u (%s); KVM reads %u 64K page%s at 0x%llx",
				 n, vv, GITS_BASER_PAGE_SIZE(v),
				 page_name[GITS_BASER_PAGE_SIZE(v)],
				 GITS_BASER_NR_PAGES(v),
				 GITS_BASER_NR_PAGES(v) == 1 ? "" : "s",
				 (unsigned long long)its_baser_addr(v, true));
		if (n == 1 && (v & GITS_BASER_INDIRECT))
			RULE_ADD(rc, fs, PR_BASER_COLL_INDIRECT, &w,
				 "GITS_BASER1 0x%016llx: Indirect set; KVM reads the collection table flat",
				 vv);
		check_cache(its, n, v, fs, rc);
	}
}

static size_t count_valid_ctes(const struct its_image_its *it)
{
	size_t n = 0;

	for (size_t i = 0; i < it->nr_ctes; i++)
		n += it->ctes[i].e.valid;
	return n;
}

static size_t count_valid_dtes(const struct its_image_its *it)
{
	size_t n = 0;

	for (size_t i = 0; i < it->nr_devs; i++)
		n += rules_dte_live(&it->devs[i]);
	return n;
}

static void check_enable(unsigned its, const struct its_image_its *it,
			 struct findings *fs, int *rc)
{
	const struct its_regs_raw *r = &it->regs;
	bool enabled = (r->present & ITS_REG_CTLR) &&
		       (r->ctlr & GITS_CTLR_ENABLE);
	char which[64] = "";
	size_t len = 0;
	struct finding w;

	for (unsigned n = 0; n < 2; n++) {
		size_t other;
		const char *what;

		if (!(r->present & ITS_REG_BASER(n)) ||
		    (r->baser[n] & GITS_BASER_VALID))
			continue;
		len += (size_t)snprintf(which + len, sizeof(which) - len,
					"%sGITS_BASER%u", len ? ", " : "", n);
		/* rule 7: other evidence that LPIs are in use */
		other = n == 0 ? count_valid_ctes(it) : count_valid_dtes(it);
		what = n == 0 ? "collection table holds" : "device table holds";
		w = at_reg64(its, r->baser[n]);
		if (enabled)
			RULE_ADD(rc, fs, PR_BASER_INVALID_LPIS_IN_USE, &w,
				 "GITS_BASER%u 0x%016llx: not Valid, but GITS_CTLR.Enabled",
				 n, (unsigned long long)r->baser[n]);
		else if (other)
			RULE_ADD(rc, fs, PR_BASER_INVALID_LPIS_IN_USE, &w,
				 "GITS_BASER%u 0x%016llx: not Valid, but the %s %zu valid entries",
				 n, (unsigned long long)r->baser[n], what, other);
	}
	if ((r->present & ITS_REG_CBASER) && !(r->cbaser & GITS_CBASER_VALID)) {
		snprintf(which + len, sizeof(which) - len, "%sGITS_CBASER",
			 len ? ", " : "");
		if (enabled) {
			w = at_reg64(its, r->cbaser);
			RULE_ADD(rc, fs, PR_CBASER_INVALID, &w,
				 "GITS_CBASER 0x%016llx: not Valid while GITS_CTLR.Enabled",
				 (unsigned long long)r->cbaser);
		}
	}
	if (enabled && which[0]) {
		w = at_reg32(its, r->ctlr);
		RULE_ADD(rc, fs, PR_CTLR_ENABLED_TABLE_INVALID, &w,
			 "GITS_CTLR 0x%08x: Enabled, but %s not Valid: KVM leaves the ITS disabled",
			 r->ctlr, which);
	}
}

static void check_cmdq(unsigned its, const struct check_ctx *cx,
		       const struct its_image_its *it, struct findings *fs,
		       int *rc)
{
	const struct its_regs_raw *r = &it->regs;
	uint64_t size, base, rd, wr;
	bool rd_ok = false, wr_ok = false;
	struct finding w;

	if (!(r->present & ITS_REG_CBASER))
		return;
	/* KVM clears address bits [15:12] (vgic_sanitise_its_cbaser) */
	base = GITS_CBASER_ADDRESS(r->cbaser) & ~0xFFFFULL;
	size = (uint64_t)GITS_CBASER_NR_PAGES(r->cbaser) * 4096;
	if (GITS_CBASER_ADDRESS(r->cbaser) & 0xF000) {
		w = at_reg64(its, r->cbaser);
		RULE_ADD(rc, fs, PR_CBASER_ALIGN, &w,
			 "GITS_CBASER 0x%016llx: queue at 0x%llx, KVM uses 0x%llx",
			 (unsigned long long)r->cbaser,
			 (unsigned long long)GITS_CBASER_ADDRESS(r->cbaser),
			 (unsigned long long)base);
	}
	rd = ITS_CMD_OFFSET(r->creadr);
	wr = ITS_CMD_OFFSET(r->cwriter);
	if (r->present & ITS_REG_CREADR) {
		rd_ok = rd < size;
		if (!rd_ok) {
			w = at_reg64(its, r->creadr);
			RULE_ADD(rc, fs, PR_CREADR_RANGE, &w,
				 "GITS_CREADR 0x%llx: offset 0x%llx >= queue size 0x%llx (GITS_CBASER.Size %u)",
				 (unsigned long long)r->creadr,
				 (unsigned long long)rd,
				 (unsigned long long)size,
				 GITS_CBASER_NR_PAGES(r->cbaser) - 1);
		}
	}
	if (r->present & ITS_REG_CWRITER) {
		wr_ok = wr < size;
		if (!wr_ok) {
			w = at_reg64(its, r->cwriter);
			RULE_ADD(rc, fs, PR_CWRITER_RANGE, &w,
				 "GITS_CWRITER 0x%llx: offset 0x%llx >= queue size 0x%llx (GITS_CBASER.Size %u)",
				 (unsigned long long)r->cwriter,
				 (unsigned long long)wr,
				 (unsigned long long)size,
				 GITS_CBASER_NR_PAGES(r->cbaser) - 1);
		}
	}
	if (rd_ok && wr_ok && rd != wr && (r->cbaser & GITS_CBASER_VALID)) {
		uint64_t n = ((wr + size - rd) % size) / ITS_CMD_SIZE;
		uint8_t cmd[16];
		char first[40] = "";

		w = finding_at(its, -1);
		w.has_gpa = true;
		w.gpa = base + rd;
		if (gmem_read(cx->mem, w.gpa, cmd, sizeof(cmd), 0, NULL) == 0) {
			finding_raw(&w, cmd, sizeof(cmd));
			snprintf(first, sizeof(first), "; first: %s (0x%02x)",
				 cmd_name(cmd[0]), cmd[0]);
		}
		RULE_ADD(rc, fs, PR_CMDQ_PENDING, &w,
			 "%llu command%s between GITS_CREADR 0x%llx and GITS_CWRITER 0x%llx%s",
			 (unsigned long long)n, n == 1 ? "" : "s",
			 (unsigned long long)rd, (unsigned long long)wr,
			 first);
	}
}

int rules_registers(const struct check_ctx *cx, unsigned its,
		    const struct restore_result *rr, struct findings *fs)
{
	const struct its_image_its *it = &cx->img->its[its];
	int rc = 0;

	(void)rr;
	check_layout(its, it, fs, &rc);
	if (!rules_is_kvm(it))
		return rc;
	check_iidr(its, &it->regs, fs, &rc);
	check_basers(its, it, fs, &rc);
	check_enable(its, it, fs, &rc);
	check_cmdq(its, cx, it, fs, &rc);
	return rc;
}
