/* GITS_* and GICR_* registers as named fields (Arm IHI 0069, as summarised in
 * spec/kvm-its-abi.md §4). One descriptor table per register drives both the
 * decoder and every printer, so a field is named in one place only. */
#ifndef ITS_REGS_H
#define ITS_REGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* GITS_BASER<n> */
#define GITS_BASER_VALID		(1ULL << 63)
#define GITS_BASER_INDIRECT		(1ULL << 62)
#define GITS_BASER_TYPE(v)		((unsigned)(((v) >> 56) & 0x7))
#define GITS_BASER_TYPE_NONE		0
#define GITS_BASER_TYPE_DEVICE		1
#define GITS_BASER_TYPE_VCPU		2
#define GITS_BASER_TYPE_COLLECTION	4
#define GITS_BASER_ENTRY_SIZE(v)	((unsigned)(((v) >> 48) & 0x1f) + 1)
#define GITS_BASER_PAGE_SIZE(v)		((unsigned)(((v) >> 8) & 0x3))
#define GITS_BASER_PAGE_SIZE_4K		0
#define GITS_BASER_PAGE_SIZE_16K	1
#define GITS_BASER_PAGE_SIZE_64K	2
#define GITS_BASER_NR_PAGES(v)		((unsigned)((v) & 0xff) + 1)
#define GITS_BASER_ADDR_48_TO_52	/* 64 KiB pages: [15:12] = PA[51:48] */
#define GITS_LVL1_ENTRY_SIZE		8

/* GITS_CBASER */
#define GITS_CBASER_VALID		(1ULL << 63)
#define GITS_CBASER_ADDRESS(v)		((v) & 0x000FFFFFFFFFF000ULL)
#define GITS_CBASER_NR_PAGES(v)		((unsigned)((v) & 0xff) + 1)

/* GITS_CTLR, GITS_IIDR */
#define GITS_CTLR_ENABLE		(1u << 0)
#define GITS_CTLR_QUIESCENT		(1u << 31)
#define GITS_IIDR_REV(v)		(((v) >> 12) & 0xf)
#define GITS_IIDR_PRODUCT_ID(v)		(((v) >> 24) & 0xff)
#define GITS_IIDR_IMPLEMENTER(v)	((v) & 0xfff)
#define IMPLEMENTER_ARM			0x43b
#define PRODUCT_ID_KVM			0x4b

/* GICR_PROPBASER / GICR_PENDBASER */
#define GICR_PROPBASER_IDBITS(v)	((unsigned)((v) & 0x1f))
#define GICR_PROPBASER_ADDRESS(v)	((v) & 0x000FFFFFFFFFF000ULL)
#define GICR_PENDBASER_ADDRESS(v)	((v) & 0x000FFFFFFFFF0000ULL)
#define GICR_PENDBASER_PTZ		(1ULL << 62)

#define GIC_LPI_OFFSET			8192

enum reg_field_fmt {
	REGF_NUM,	/* plain number */
	REGF_ADDR,	/* the masked bits, in place: an address */
	REGF_BASER_PA,	/* GITS_BASER address, decoded per Page_Size */
};

struct reg_field {
	const char *name;
	unsigned hi, lo;
	enum reg_field_fmt fmt;
	const char *const *names;	/* value names, indexed by value */
	unsigned nr_names;
};

struct reg_desc {
	const char *name;		/* architecture name: "GITS_BASER" */
	unsigned bits;			/* 32 or 64 */
	const struct reg_field *fields;
	size_t nr_fields;
};

extern const struct reg_desc reg_gits_ctlr, reg_gits_iidr, reg_gits_typer,
	reg_gits_cbaser, reg_gits_cwriter, reg_gits_creadr, reg_gits_baser,
	reg_gicr_propbaser, reg_gicr_pendbaser;

/* Value of field f in v, as printed (addresses in place). */
uint64_t reg_field_value(const struct reg_field *f, uint64_t v);
/* Name of a field value, or NULL. */
const char *reg_field_value_name(const struct reg_field *f, uint64_t value);

/* Table base from a GITS_BASER: Page_Size 64 KiB takes bits [15:12] as
 * PA[51:48]. force_64k applies that rule whatever Page_Size says (KVM does). */
uint64_t its_baser_addr(uint64_t baser, bool force_64k);
uint64_t its_baser_page_bytes(uint64_t baser);	/* 3 reads as 64 KiB */

#endif
