#include "its/regs.h"

#include "its/bits.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define F(n, h, l) { n, h, l, REGF_NUM, NULL, 0 }
#define FA(n, h, l) { n, h, l, REGF_ADDR, NULL, 0 }
#define FN(n, h, l, names) { n, h, l, REGF_NUM, names, N(names) }
#define DESC(var, nm, b, f) \
	const struct reg_desc var = { nm, b, f, N(f) }

static const char *const cache_names[] = {
	"Device-nGnRnE", "NC", "RaWt", "RaWb", "WaWt", "WaWb", "RaWaWt",
	"RaWaWb",
};
static const char *const outer_cache_names[] = {
	"same-as-inner", "NC", "RaWt", "RaWb", "WaWt", "WaWb", "RaWaWt",
	"RaWaWb",
};
static const char *const share_names[] = {
	"non-shareable", "inner", "outer", "reserved",
};
static const char *const page_names[] = { "4K", "16K", "64K", "reserved" };
static const char *const type_names[] = {
	"none", "devices", "vPEs", "reserved", "collections", "reserved",
	"reserved", "reserved",
};

static const struct reg_field ctlr_f[] = {
	F("Enabled", 0, 0), F("ImDe", 1, 1), F("ITS_Number", 7, 4),
	F("Quiescent", 31, 31),
};
static const struct reg_field iidr_f[] = {
	F("Implementer", 11, 0), F("Revision", 15, 12), F("Variant", 19, 16),
	F("ProductID", 31, 24),
};
static const struct reg_field typer_f[] = {
	F("Physical", 0, 0), F("Virtual", 1, 1), F("ITT_entry_size", 7, 4),
	F("IDbits", 12, 8), F("Devbits", 17, 13), F("SEIS", 18, 18),
	F("PTA", 19, 19), F("HCC", 31, 24), F("CIDbits", 35, 32),
	F("CIL", 36, 36), F("VMOVP", 37, 37),
};
static const struct reg_field cbaser_f[] = {
	F("Valid", 63, 63), FN("InnerCache", 61, 59, cache_names),
	FN("OuterCache", 55, 53, outer_cache_names),
	FA("Physical_Address", 51, 12), FN("Shareability", 11, 10, share_names),
	F("Size", 7, 0),
};
static const struct reg_field cwriter_f[] = {
	FA("Offset", 19, 5), F("Retry", 0, 0),
};
static const struct reg_field creadr_f[] = {
	FA("Offset", 19, 5), F("Stalled", 0, 0),
};
static const struct reg_field baser_f[] = {
	F("Valid", 63, 63), F("Indirect", 62, 62),
	FN("InnerCache", 61, 59, cache_names), FN("Type", 58, 56, type_names),
	FN("OuterCache", 55, 53, outer_cache_names), F("Entry_Size", 52, 48),
	{ "Physical_Address", 47, 12, REGF_BASER_PA, NULL, 0 },
	FN("Shareability", 11, 10, share_names),
	FN("Page_Size", 9, 8, page_names), F("Size", 7, 0),
};
static const struct reg_field propbaser_f[] = {
	FN("OuterCache", 58, 56, outer_cache_names),
	FA("Physical_Address", 51, 12), FN("Shareability", 11, 10, share_names),
	FN("InnerCache", 9, 7, cache_names), F("IDbits", 4, 0),
};
static const struct reg_field pendbaser_f[] = {
	F("PTZ", 62, 62), FN("OuterCache", 58, 56, outer_cache_names),
	FA("Physical_Address", 51, 16), FN("Shareability", 11, 10, share_names),
	FN("InnerCache", 9, 7, cache_names),
};

DESC(reg_gits_ctlr, "GITS_CTLR", 32, ctlr_f);
DESC(reg_gits_iidr, "GITS_IIDR", 32, iidr_f);
DESC(reg_gits_typer, "GITS_TYPER", 64, typer_f);
DESC(reg_gits_cbaser, "GITS_CBASER", 64, cbaser_f);
DESC(reg_gits_cwriter, "GITS_CWRITER", 64, cwriter_f);
DESC(reg_gits_creadr, "GITS_CREADR", 64, creadr_f);
DESC(reg_gits_baser, "GITS_BASER", 64, baser_f);
DESC(reg_gicr_propbaser, "GICR_PROPBASER", 64, propbaser_f);
DESC(reg_gicr_pendbaser, "GICR_PENDBASER", 64, pendbaser_f);

uint64_t its_baser_page_bytes(uint64_t baser)
{
	switch (GITS_BASER_PAGE_SIZE(baser)) {
	case GITS_BASER_PAGE_SIZE_4K: return 4096;
	case GITS_BASER_PAGE_SIZE_16K: return 16384;
	default: return 65536;
	}
}

uint64_t its_baser_addr(uint64_t baser, bool force_64k)
{
	if (force_64k || its_baser_page_bytes(baser) == 65536)
		return (baser & ITS_GENMASK(47, 16)) |
		       (its_field(baser, 15, 12) << 48);
	return baser & ITS_GENMASK(47, 12);
}

uint64_t reg_field_value(const struct reg_field *f, uint64_t v)
{
	switch (f->fmt) {
	case REGF_ADDR:
		return v & ITS_GENMASK(f->hi, f->lo);
	case REGF_BASER_PA:
		return its_baser_addr(v, false);
	case REGF_NUM:
		break;
	}
	return its_field(v, f->hi, f->lo);
}

const char *reg_field_value_name(const struct reg_field *f, uint64_t value)
{
	if (!f->names || value >= f->nr_names)
		return NULL;
	return f->names[value];
}
