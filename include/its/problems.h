/* The problem table (src/check/problems.def) as C. */
#ifndef ITS_PROBLEMS_H
#define ITS_PROBLEMS_H

#include <stddef.h>
#include <stdint.h>

enum problem_severity { SEV_ERROR, SEV_WARNING, SEV_INFO };
enum problem_repair { REPAIR_NONE, REPAIR_SAFE, REPAIR_OPTIN };

enum problem_id {
#define PROBLEM(id, code, sev, repair, msg, kvm) PR_##id,
#include "../../src/check/problems.def"
#undef PROBLEM
	PR_COUNT
};

struct problem_info {
	enum problem_id id;
	const char *name;		/* "ITE_LPI_BELOW_MIN" */
	uint32_t code;			/* 0x030001 */
	enum problem_severity severity;
	enum problem_repair repair;
	const char *message;
	const char *kvm;
};

extern const struct problem_info problem_table[PR_COUNT];

const struct problem_info *problem_get(enum problem_id id);
const struct problem_info *problem_by_name(const char *name);
const char *problem_severity_name(enum problem_severity s);	/* "error" */
const char *problem_repair_name(enum problem_repair r);		/* "safe" */
const char *problem_group_name(uint32_t code);	/* "Device table" */

#endif
