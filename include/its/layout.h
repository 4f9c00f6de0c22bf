/* Table entry formats. One codec per format behind one interface: KVM's ITS
 * table ABI rev 0 (spec/kvm-its-abi.md §1) and, later, QEMU's emulated ITS
 * (spec/qemu-tcg-its.md). Adding a format is adding one layout_*.c file. */
#ifndef ITS_LAYOUT_H
#define ITS_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "its/err.h"
#include "its/gmem.h"
#include "its/regset.h"

/* KVM ITS table ABI rev 0 (arch/arm64/kvm/vgic/vgic.h names) */
#define KVM_ITS_DTE_VALID_SHIFT		63
#define KVM_ITS_DTE_VALID_MASK		(1ULL << 63)
#define KVM_ITS_DTE_NEXT_SHIFT		49
#define KVM_ITS_DTE_NEXT_MASK		(0x3FFFULL << 49)	/* [62:49] */
#define KVM_ITS_DTE_ITTADDR_SHIFT	5
#define KVM_ITS_DTE_ITTADDR_MASK	(0xFFFFFFFFFFFULL << 5)	/* [48:5] */
#define KVM_ITS_DTE_SIZE_MASK		0x1FULL
#define KVM_ITS_ITE_NEXT_SHIFT		48
#define KVM_ITS_ITE_PINTID_SHIFT	16
#define KVM_ITS_ITE_PINTID_MASK		(0xFFFFFFFFULL << 16)	/* [47:16] */
#define KVM_ITS_ITE_ICID_MASK		0xFFFFULL
#define KVM_ITS_CTE_VALID_SHIFT		63
#define KVM_ITS_CTE_VALID_MASK		(1ULL << 63)
#define KVM_ITS_CTE_RDBASE_SHIFT	16
#define KVM_ITS_CTE_ICID_MASK		0xFFFFULL
#define KVM_ITS_L1E_VALID_MASK		(1ULL << 63)
#define KVM_ITS_L1E_ADDR_MASK		(0xFFFFFFFFFULL << 16)	/* [51:16] */
#define KVM_ITS_ABI0_ESZ		8
#define KVM_ITS_TYPER			0x1EF71ULL
#define KVM_ITS_IIDR			0x4B00043BU
#define VITS_DTE_MAX_DEVID_OFFSET	((1U << 14) - 1)
#define VITS_ITE_MAX_EVENTID_OFFSET	((1U << 16) - 1)
#define VITS_TYPER_IDBITS		16
#define VITS_TYPER_DEVBITS		16
#define COLLECTION_NOT_MAPPED		0xFFFFFFFFU

#define ITS_MAX_ENTRY_SIZE 16

struct its_dte {
	uint64_t raw;
	bool valid;
	uint32_t next;		/* DeviceID delta, 0 = last */
	uint64_t itt;		/* ITT GPA */
	unsigned size;		/* Size field: EventID bits - 1 */
};

struct its_ite {
	uint8_t raw[ITS_MAX_ENTRY_SIZE];
	bool valid;
	uint32_t lpi;		/* pINTID; 0 = invalid in KVM's ABI */
	uint32_t icid;
	uint32_t next;		/* EventID delta, 0 = last (KVM) */
	bool physical;		/* IntType (TCG; KVM ITEs are all physical) */
	uint32_t vpe_id;	/* TCG */
	uint32_t doorbell;	/* TCG */
};

struct its_cte {
	uint64_t raw;
	bool valid;
	uint32_t target;	/* vCPU id; COLLECTION_NOT_MAPPED = unmapped */
	uint32_t icid;		/* from the entry (KVM) or its slot (TCG) */
};

struct its_l1e {
	uint64_t raw;
	bool valid;
	uint64_t l2;		/* level-2 page GPA */
};

struct its_layout {
	const char *name;		/* "kvm", "tcg" */
	const char *desc;
	unsigned dte_size, ite_size, cte_size;
	bool has_next;			/* DTE/ITE carry next deltas */
	bool collections_indexed;	/* slot = ICID (else packed list) */
	bool force_64k;			/* BASER address always decoded 64K-style */
	uint64_t l2_page_bytes;		/* 0: the BASER page size */
	uint64_t typer;			/* GITS_TYPER the implementation reports */
	uint64_t max_ids;		/* IDs the implementation caps tables at (0: none) */
	void (*decode_dte)(const uint8_t *raw, struct its_dte *out);
	void (*decode_ite)(const uint8_t *raw, struct its_ite *out);
	void (*decode_cte)(const uint8_t *raw, struct its_cte *out);
	void (*decode_l1e)(const uint8_t *raw, struct its_l1e *out);
	uint64_t (*encode_dte)(const struct its_dte *e);
	uint64_t (*encode_ite)(const struct its_ite *e);
	uint64_t (*encode_cte)(const struct its_cte *e);
};

extern const struct its_layout its_layout_kvm;
extern const struct its_layout its_layout_tcg;

/* "kvm", "tcg" -> layout; NULL if unknown. */
const struct its_layout *its_layout_find(const char *name);

/* Choose a layout for one ITS from its GITS_IIDR and the shape of entries in
 * guest memory; says which and why. -ENOTSUP for a layout not supported yet. */
int its_layout_detect(const struct its_regs_raw *regs, const struct gmem *g,
		      const struct its_layout **out, char *why, size_t whylen,
		      struct its_err *err);

/* KVM ABI rev 0 codecs, usable directly by tests and the repair planner. */
void kvm_dte_decode(const uint8_t raw[8], struct its_dte *out);
void kvm_ite_decode(const uint8_t raw[8], struct its_ite *out);
void kvm_cte_decode(const uint8_t raw[8], struct its_cte *out);
void kvm_l1e_decode(const uint8_t raw[8], struct its_l1e *out);
uint64_t kvm_dte_encode(const struct its_dte *e);
uint64_t kvm_ite_encode(const struct its_ite *e);
uint64_t kvm_cte_encode(const struct its_cte *e);

/* QEMU emulated ITS (spec/qemu-tcg-its.md §4-6) */
#define TCG_ITS_TYPER			0x1F0001EFB1ULL
#define TCG_ITS_DTE_VALID		(1ULL << 0)
#define TCG_ITS_ITE_SIZE		12
#define TCG_ITS_MAX_IDS			(1ULL << 16)
void tcg_dte_decode(const uint8_t raw[8], struct its_dte *out);
void tcg_ite_decode(const uint8_t raw[12], struct its_ite *out);
void tcg_cte_decode(const uint8_t raw[8], struct its_cte *out);
void tcg_l1e_decode(const uint8_t raw[8], struct its_l1e *out);

#endif
