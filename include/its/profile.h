/* Kernel profiles for the restore model (spec/kvm-its-abi.md §6.3): what
 * KVM's RESTORE_TABLES does differently from one kernel to another. */
#ifndef ITS_PROFILE_H
#define ITS_PROFILE_H

#include <stdbool.h>

#include "its/err.h"

struct kernel_profile {
	char name[32];			/* "upstream", "5.10", "6.1.55" */
	unsigned major, minor, patch;	/* 0.0.0 for upstream */
	/* 4.12-4.14 */
	bool empty_table_einval;	/* device walk without terminator: EINVAL */
	bool itt_unterminated_drops;	/* ITT without terminator: device dropped */
	bool full_ct_fails;		/* full collection table returns 1 */
	bool addr_48bit;		/* BASER address bits [47:16] only */
	/* before 5.6 (without 8c58be34494b) */
	bool unmapped_cte_einval;	/* CTE target 0xffffffff: EINVAL */
	/* 5.19: vgic_its_check_id / check_event_id, undo on failure */
	bool visibility_checks;
	/* before the Oct 2022 scan_its_table fix (6.1, 6.0.6) */
	bool scan_overrun;
	/* 2026: DTE Size > 15 rejected */
	bool size_check;
	/* before 6.7: targets compared with the vCPU count */
	bool target_by_count;
};

/* "upstream" (the default: current kernels), "2026", or X.Y[.Z]. */
int kernel_profile_parse(const char *s, struct kernel_profile *out,
			 struct its_err *err);
void kernel_profile_upstream(struct kernel_profile *out);

/* Names accepted by --kernel, for --help and completion. */
extern const char *const kernel_profile_names[];

#endif
