/* Helpers shared by the rule files (src/check/rules_*.c); not a public API.
 *
 * Two sets of entries recur in the rules (spec §6.1 rule 39):
 *  V  "live candidates": valid entries KVM's walk could read. A valid DTE
 *     is one unless it sits in the L2 page of an invalid L1 entry (the walk
 *     never reads that page, nor the DTE's ITT); ITEs are the valid ones in
 *     the ITTs of those DTEs, except DTEs with Size > 15, which are corrupt
 *     (DTE_SIZE_RANGE, TCG_DTE_BAD) and whose ITT is not judged entry by
 *     entry. Checks of an entry's own fields use V.
 *  R  what the restore model (kvm_restore_run) restores: rr->ctes and
 *     rr->devs[].events. Checks of the restored state use R. */
#ifndef ITS_RULES_INT_H
#define ITS_RULES_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "its/check.h"
#include "its/layout.h"
#include "its/regs.h"

/* Record a finding; remember -ENOMEM in *rcp and go on (the finding is
 * still counted by finding_add). */
#define RULE_ADD(rcp, fs, p, w, ...)					\
	do {								\
		if (finding_add((fs), (p), (w), __VA_ARGS__) < 0)	\
			*(rcp) = -ENOMEM;				\
	} while (0)

#define RULES_MAX_LPI_BITS	16	/* KVM: INTERRUPT_ID_BITS_ITS; QEMU: 16 */
#define RULES_MAX_LPIS		(1u << RULES_MAX_LPI_BITS)

static inline bool rules_is_kvm(const struct its_image_its *it)
{
	return it->layout == &its_layout_kvm;
}

static inline bool rules_is_tcg(const struct its_image_its *it)
{
	return it->layout == &its_layout_tcg;
}

/* rr says what KVM restores (KVM layout, restore model run). */
static inline bool rules_have_restore(const struct restore_result *rr)
{
	return rr && !rr->skipped;
}

/* A valid DTE the walk could read (member of V). */
static inline bool rules_dte_live(const struct its_dev_rec *d)
{
	return d->e.valid && !(d->flags & ITS_F_IN_INVALID_L1);
}

/* A live DTE whose ITT has a meaningful byte range: Size <= 15 (a larger
 * Size is corrupt, and reported as such; its ITT would span everything). */
static inline bool rules_itt_sized(const struct its_dev_rec *d)
{
	return rules_dte_live(d) && d->event_bits &&
	       d->e.size < ITS_WALK_MAX_EVENT_BITS;
}

/* A valid ITE that maps a physical LPI. */
static inline bool rules_ite_live(const struct its_ite_rec *e)
{
	return e->e.valid && e->e.physical;
}

/* Table a DTE sits in. */
static inline enum its_table_kind rules_dte_table(const struct its_image_its *it)
{
	return it->dt.indirect ? ITS_TABLE_L2 : ITS_TABLE_DEVICES;
}

/* Location of a DTE / ITE / CTE / L1 entry of the image, raw bytes set. */
struct finding rules_at_dte(unsigned its, const struct its_image_its *it,
			    const struct its_dev_rec *d);
struct finding rules_at_ite(unsigned its, const struct its_image_its *it,
			    const struct its_dev_rec *d,
			    const struct its_ite_rec *e);
struct finding rules_at_cte(unsigned its, const struct its_cte_rec *c);
struct finding rules_at_l1(unsigned its, const struct its_l1_rec *l);
/* Location of a restored ITE: raw bytes from the image when it has them. */
struct finding rules_at_event(unsigned its, const struct its_image_its *it,
			      uint32_t device_id, uint32_t event_id,
			      uint64_t gpa);

/* Register values as raw bytes. */
void rules_raw32(struct finding *w, uint32_t v);

/* The GICR_PROPBASER KVM keeps: the last redistributor's (non-zero) value;
 * NULL when none is known. */
const struct gicr_regs_raw *rules_propbaser(const struct its_image *img);
/* LPI INTID bits the property table covers: min(IDbits + 1, 16). */
unsigned rules_lpi_bits(uint64_t propbaser);
/* A programmed GICR_PENDBASER (present and not the reset value 0). */
bool rules_pendbaser_known(const struct gicr_regs_raw *rd);

/* Bytes of [gpa, gpa + len) that are not guest RAM (GMEM_NOT_RAM; addresses
 * past the top of the address space count too); *first is the first. */
uint64_t rules_not_ram(const struct gmem *g, uint64_t gpa, uint64_t len,
		       uint64_t *first);

/* Read [gpa, gpa + len) into buf; ok[i] = 1 where byte i is in the
 * snapshot (absent or not-RAM bytes read as 0 with ok[i] = 0). Returns 0 or
 * a negative errno for file errors (-EIO...). */
int rules_read_known(const struct gmem *g, uint64_t gpa, uint8_t *buf,
		     uint8_t *ok, size_t len);

/* One mapped LPI: an event and where its collection points. */
struct rules_map {
	uint32_t lpi;
	uint32_t device_id, event_id;
	unsigned its;
	int64_t vcpu;		/* -1: collection unmapped or unknown */
	uint64_t gpa;		/* of the ITE */
	size_t order;		/* position in walk order */
};

/* The mappings of ITS its: R when rr holds a restore of a KVM ITS, else V
 * (valid physical ITEs of live DTEs, target from the collection table).
 * *out is malloc'ed (NULL when empty). 0 or -ENOMEM. */
int rules_maps(const struct check_ctx *cx, unsigned its,
	       const struct restore_result *rr, struct rules_map **out,
	       size_t *nr);
/* Sort by LPI, then ITS, then walk order. */
void rules_maps_sort(struct rules_map *m, size_t nr);

int rules_cmp_u64(uint64_t a, uint64_t b);

/* The entries the restore failed on (rr->fails), for lookups: the model
 * steps over them as if they were invalid, so what follows one is reached
 * by stepping, and its failure explains that. */
struct rules_fails {
	uint64_t *key;		/* (table, DeviceID, EventID) packed, sorted */
	size_t nr;
};
int rules_fails_init(struct rules_fails *f, const struct restore_result *rr);
bool rules_failed(const struct rules_fails *f, enum its_table_kind table,
		  uint32_t device_id, int64_t event_id);
void rules_fails_release(struct rules_fails *f);

#endif
