/* The ITS as data: every table reachable from the registers, read through
 * gmem into an its_image, with every entry's GPA, raw value and fields.
 * Invalid and unreachable entries are kept (the checker needs them); all-zero
 * slots are counted, not stored. No bound from the file is trusted: table
 * sizes are clamped to what the architecture allows, and every read is
 * checked; what cannot be read is recorded as a hole. */
#ifndef ITS_WALK_H
#define ITS_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "its/err.h"
#include "its/gmem.h"
#include "its/layout.h"
#include "its/limits.h"
#include "its/regset.h"

/* Walk limits: ITS_WALK_MAX_* in its/limits.h. A clamped walk says which
 * limit it hit with a flag; past ITS_WALK_MAX_ENTRIES it fails. */

enum its_entry_flag {
	ITS_F_NEXT_OUT_OF_RANGE	 = 1u << 0,	/* next jumps past its table, L2 page or ITT */
	ITS_F_NEXT_LANDS_INVALID = 1u << 1,	/* next lands on a slot with no valid entry */
	/* valid entry after its list's end: a CTE past the first slot
	 * without a valid CTE; a DTE or ITE past one whose next is 0 */
	ITS_F_AFTER_TERMINATOR	 = 1u << 2,
	ITS_F_SIZE_CLAMPED	 = 1u << 3,	/* DTE Size > 15: ITT walked for 2^16 events only */
	ITS_F_ITT_UNREADABLE	 = 1u << 4,	/* part of the ITT is absent or not RAM */
	ITS_F_L2_UNREADABLE	 = 1u << 5,	/* part of the L2 page is absent or not RAM */
	ITS_F_L2_NOT_WALKED	 = 1u << 6,	/* over ITS_WALK_MAX_L2_PAGES */
	/* DTE next reaching past its L2 page: KVM's SAVE computes deltas
	 * across pages and its restore stops at the page end (>= 6.1), so this
	 * is normal; kernels before the Oct-2022 fix overran (spec rule 26) */
	ITS_F_NEXT_CROSSES_L2	 = 1u << 7,
	/* DTE in the L2 page an invalid L1 entry still points at: KVM never
	 * reads it (stale, e.g. left by a SAVE before the guest dropped the
	 * L1 entry); its ITT is not read either */
	ITS_F_IN_INVALID_L1	 = 1u << 8,
	ITS_F_ITT_NOT_WALKED	 = 1u << 9,	/* over ITS_WALK_MAX_ITT_SLOTS */
	/* valid DTE or ITE that a next jumps over (or past the table end) */
	ITS_F_SKIPPED_BY_NEXT	 = 1u << 10,
};
/* Flags that make its-dump's exit status 1: the walk could not decode
 * everything, or a link points where no SAVE would point it. */
#define ITS_F_ANOMALY (ITS_F_NEXT_OUT_OF_RANGE | ITS_F_NEXT_LANDS_INVALID | \
		       ITS_F_SIZE_CLAMPED | ITS_F_ITT_UNREADABLE | \
		       ITS_F_L2_UNREADABLE | ITS_F_L2_NOT_WALKED | \
		       ITS_F_ITT_NOT_WALKED)
/* Valid-looking entries KVM's restore never reaches (left over from an
 * earlier SAVE, typically): shown, flagged, not counted as live. its_walk
 * flags CTEs after the list's end and DTEs of invalid L1 pages; whether a
 * DTE or ITE is on its next-linked list follows the restore's order, which
 * its_chain_dte/ite give to whoever goes through the entries in ID order. */
#define ITS_F_UNREACHABLE (ITS_F_AFTER_TERMINATOR | ITS_F_IN_INVALID_L1 | \
			   ITS_F_SKIPPED_BY_NEXT)

/* Names for the flags, in bit order ("next_out_of_range", ...). */
const char *its_flag_name(unsigned bit);

enum its_table_kind {
	ITS_TABLE_COLLECTIONS,
	ITS_TABLE_DEVICES,	/* flat table or L1 table */
	ITS_TABLE_L2,
	ITS_TABLE_ITT,
};
const char *its_table_name(enum its_table_kind t);

struct its_cte_rec {
	uint32_t slot;
	uint64_t gpa;
	struct its_cte e;
	unsigned flags;
};

struct its_ite_rec {
	uint32_t event_id;
	uint64_t gpa;
	struct its_ite e;
	unsigned flags;
};

struct its_dev_rec {
	uint32_t device_id;
	uint64_t gpa;
	struct its_dte e;
	unsigned flags;
	unsigned event_bits;		/* EventID bits walked (clamped) */
	struct its_ite_rec *events;	/* non-zero ITEs, by EventID */
	size_t nr_events;
	bool events_shared;		/* another device's copy: same ITT and size */
};

struct its_l1_rec {
	uint32_t index;
	uint64_t gpa;
	struct its_l1e e;
	unsigned flags;
};

/* A range of a table the snapshot cannot give (GMEM_ABSENT or GMEM_NOT_RAM). */
struct its_hole {
	enum its_table_kind table;
	uint32_t id;			/* DeviceID for an ITT, L1 index for L2 */
	uint64_t gpa, len;
	enum gmem_kind kind;
};

struct its_table_info {
	bool valid;			/* BASER (or CBASER) Valid */
	bool indirect;
	uint64_t gpa;
	uint64_t bytes;
	uint64_t slots;			/* entries (L1 entries when indirect) */
	uint64_t ids;			/* IDs the geometry addresses */
	uint64_t l2_bytes;		/* level-2 page size (indirect) */
};

struct its_image_its {
	unsigned index;
	struct its_regs_raw regs;
	const struct its_layout *layout;
	bool layout_forced;		/* --layout, not detected */
	char layout_why[160];
	struct its_table_info ct, dt;
	uint32_t ct_terminator;		/* KVM: first slot without a valid CTE */
	struct its_cte_rec *ctes;
	size_t nr_ctes;
	struct its_l1_rec *l1;
	size_t nr_l1;
	struct its_dev_rec *devs;
	size_t nr_devs;
	struct its_hole *holes;
	size_t nr_holes;
};

struct its_image {
	struct its_image_its *its;
	size_t nr_its;
	struct gicr_regs_raw *rd;
	size_t nr_rd;
};

struct its_walk_opts {
	const struct its_layout *layout;	/* NULL: detect */
};

int its_walk(const struct gmem *g, const struct its_regset *regs,
	     const struct its_walk_opts *opts, struct its_image **out,
	     struct its_err *err);
void its_image_free(struct its_image *img);

/* KVM's restore walk of one list of a KVM-layout table (scan_its_table):
 * from its first slot, an invalid entry steps to the next slot, a valid
 * one jumps by its next, next 0 ends the list; each L2 page of a two-level
 * device table is a list of its own. An entry the restore rejects by
 * itself (a DTE Size over 15 or DeviceID over 0xffff; an ITE LPI below
 * 8192 or next past its ITT) is read on from as if invalid, as its-fsck's
 * model does. Feed every stored (non-zero) entry of one list in ID order,
 * the DTEs of invalid L1 pages excepted (the zero slots between are
 * invalid: stepped over). Each call returns the flag a valid entry the
 * walk never reaches earns (AFTER_TERMINATOR, SKIPPED_BY_NEXT), else 0. */
struct its_chain {
	uint64_t pos;			/* the next slot the walk reads */
	uint64_t per_page;		/* DeviceIDs per L2 page, 0: one list */
	uint64_t page;
	bool ended;
	bool fed;			/* last_id/last_flag: the entry before */
	uint64_t last_id;
	unsigned last_flag;
};
/* its: for its device table (and L2 pages); NULL for an ITT. */
void its_chain_start(struct its_chain *c, const struct its_image_its *its);
/* *itt_read: whether the restore reads the device's ITT at all. */
unsigned its_chain_dte(struct its_chain *c, const struct its_dev_rec *d,
		       bool *itt_read);
/* event_bits: the device's EventID bits as walked (d->event_bits). */
unsigned its_chain_ite(struct its_chain *c, const struct its_ite_rec *e,
		       unsigned event_bits);

/* Lookups in a walked image (binary search; NULL when absent). */
const struct its_dev_rec *its_image_device(const struct its_image_its *its,
					   uint32_t device_id);
const struct its_ite_rec *its_dev_event(const struct its_dev_rec *d,
					uint32_t event_id);

#endif
