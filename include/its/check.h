/* Judgement: the restore model and the rules. No printing, no exiting; the
 * snapshot is only read through gmem. */
#ifndef ITS_CHECK_H
#define ITS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "its/findings.h"
#include "its/gmem.h"
#include "its/profile.h"
#include "its/snapshot.h"
#include "its/walk.h"

/* ---- the KVM restore model (kvm_restore.c) ---- */

enum restore_drop_reason {
	DROP_AFTER_TERMINATOR,		/* after the first next = 0 (or the CTE terminator) */
	DROP_JUMPED_OVER,		/* between an entry and where its next lands */
	DROP_INVALID_L1,		/* in the L2 page of an invalid L1 entry */
	DROP_NOT_WALKED,		/* ITT of a DTE KVM never restores */
};
const char *restore_drop_reason_name(enum restore_drop_reason r);

struct restore_ite {
	uint32_t event_id, lpi, icid;
	uint64_t gpa;
	int64_t vcpu;			/* target, -1 when the collection is unmapped */
};

struct restore_dev {
	uint32_t device_id;
	uint64_t gpa, itt;
	unsigned bits;
	int64_t terminated_at;		/* EventID whose next = 0 ended the ITT walk */
	struct restore_ite *events;
	size_t nr_events;
};

struct restore_cte {
	uint32_t slot, icid, target;
	uint64_t gpa;
};

/* A valid-looking entry the walk does not restore. */
struct restore_drop {
	enum its_table_kind table;
	int64_t device_id, event_id, icid;
	uint64_t gpa, raw;
	enum restore_drop_reason reason;
};

/* One failure the walk meets (the first one is the verdict; the model goes
 * on as if the failing entry were invalid, so every failure is listed). */
struct restore_failure {
	int err;			/* -EINVAL, -EFAULT, -EEXIST */
	enum problem_id problem;	/* the row that explains it */
	struct finding where;		/* location, raw, detail */
};

/* QEMU's emulated ITS: a mapped event it cannot deliver, and why. */
struct tcg_undeliverable {
	uint32_t device_id, event_id;
	const char *reason;
};

struct restore_result {
	unsigned its;
	bool skipped;			/* layout is not KVM's: no KVM restore */
	bool terminated;		/* the device walk met next = 0 */
	uint32_t terminated_at;		/* ... at this DeviceID */
	uint32_t ct_terminator;		/* first collection slot not restored */
	struct restore_cte *ctes;
	size_t nr_ctes;
	struct restore_dev *devs;
	size_t nr_devs;
	size_t nr_events;
	struct restore_drop *drops;
	size_t nr_drops;
	struct restore_failure *fails;
	size_t nr_fails;
	/* reads of memory the snapshot lacks (read as zeros, GMEM_ABSENT) */
	struct finding *absent;
	size_t nr_absent;
	uint64_t entries_read;		/* restore cost (spec rule 41) */
	uint64_t longest_scan;		/* longest run of invalid entries stepped */
	bool prop_unknown;		/* no GICR_PROPBASER: property bytes not read */
	char older[512];		/* where older profiles would differ */
	/* QEMU TCG layout: what its ITS does with each mapped event (devs
	 * then lists the events it delivers, vcpu = target CPU) */
	struct tcg_undeliverable *undeliverable;
	size_t nr_undeliverable;
};


struct check_ctx {
	const struct snapshot *snap;
	const struct gmem *mem;
	const struct its_image *img;
	struct kernel_profile profile;
	int nr_vcpus;			/* from the snapshot, else the redistributors */
};

/* For a QEMU TCG-format ITS: fill rr->devs with the events QEMU delivers
 * and rr->undeliverable with those it drops (qemu_translate.c). */
int qemu_translate_run(const struct check_ctx *cx, unsigned its,
		       struct restore_result *out, struct its_err *err);

/* Simulate KVM_DEV_ARM_ITS_RESTORE_TABLES for ITS its (KVM layout only;
 * for other layouts out->skipped is set). It records the findings of what
 * KVM itself checks on restore, with the kernel profile's consequences:
 * CTE_TARGET_NO_VCPU, CTE_UNMAPPED, CTE_DUPLICATE_ICID, CTE_ICID_RANGE,
 * CTE_AFTER_TERMINATOR, DTE_DEVID_RANGE, DTE_SIZE_RANGE, DTE_DROPPED,
 * DTE_TABLE_EMPTY, DTE_NO_EVENTS, ITE_LPI_BELOW_MIN, ITE_NEXT_BEYOND_ITT,
 * ITE_ICID_UNKNOWN, ITE_DROPPED, MEM_NOT_RAM, MEM_ABSENT, SLOT_NOT_VISIBLE,
 * RESTORE_COST. The rules never record these. */
int kvm_restore_run(const struct check_ctx *cx, unsigned its,
		    struct restore_result *out, struct findings *fs,
		    struct its_err *err);
void restore_result_release(struct restore_result *r);

/* ---- rules (rules_*.c): the checks KVM does not make ----
 * Each reads the image (and rr: what the restore walk restores, drops and
 * fails on; rr->skipped for non-KVM layouts) and records findings of the
 * problems that kvm_restore_run does not record. */

typedef int (*check_rule_fn)(const struct check_ctx *cx, unsigned its,
			     const struct restore_result *rr,
			     struct findings *fs);

int rules_registers(const struct check_ctx *cx, unsigned its,
		    const struct restore_result *rr, struct findings *fs);
int rules_collections(const struct check_ctx *cx, unsigned its,
		      const struct restore_result *rr, struct findings *fs);
int rules_devices(const struct check_ctx *cx, unsigned its,
		  const struct restore_result *rr, struct findings *fs);
int rules_itts(const struct check_ctx *cx, unsigned its,
	       const struct restore_result *rr, struct findings *fs);
int rules_lpi(const struct check_ctx *cx, unsigned its,
	      const struct restore_result *rr, struct findings *fs);
int rules_cross(const struct check_ctx *cx, unsigned its,
		const struct restore_result *rr, struct findings *fs);
int rules_tcg(const struct check_ctx *cx, unsigned its,
	      const struct restore_result *rr, struct findings *fs);

/* ---- everything together (check.c) ---- */

struct check_result {
	struct restore_result *restore;	/* one per ITS */
	size_t nr_its;
	struct findings findings;
};

/* Run the restore model and every rule on every ITS of cx->img. */
int check_run(const struct check_ctx *cx, struct check_result *out,
	      struct its_err *err);
void check_result_release(struct check_result *r);

#endif
