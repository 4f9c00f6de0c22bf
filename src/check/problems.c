#include "its/problems.h"

#include <string.h>

const struct problem_info problem_table[PR_COUNT] = {
#define PROBLEM(id, code, sev, repair, msg, kvm) \
	{ PR_##id, #id, code, SEV_##sev, REPAIR_##repair, msg, kvm },
#include "problems.def"
#undef PROBLEM
};

const struct problem_info *problem_get(enum problem_id id)
{
	return (unsigned)id < PR_COUNT ? &problem_table[id] : NULL;
}

const struct problem_info *problem_by_name(const char *name)
{
	for (size_t i = 0; i < PR_COUNT; i++)
		if (!strcmp(problem_table[i].name, name))
			return &problem_table[i];
	return NULL;
}

const char *problem_severity_name(enum problem_severity s)
{
	switch (s) {
	case SEV_ERROR: return "error";
	case SEV_WARNING: return "warning";
	case SEV_INFO: return "info";
	}
	return "?";
}

/* The code's top byte names the table it concerns (problems.def); its-fsck
 * groups its text report and the manual page its PROBLEM CODES by it. */
const char *problem_group_name(uint32_t code)
{
	switch (code >> 16) {
	case 0x00: return "Registers and snapshot";
	case 0x01: return "Collection table";
	case 0x02: return "Device table";
	case 0x03: return "Interrupt translation tables";
	case 0x04: return "Memory and placement";
	case 0x05: return "LPI property and pending tables";
	case 0x07: return "QEMU emulated ITS";
	}
	return "Other";
}

const char *problem_repair_name(enum problem_repair r)
{
	switch (r) {
	case REPAIR_NONE: return "none";
	case REPAIR_SAFE: return "safe";
	case REPAIR_OPTIN: return "opt-in";
	}
	return "?";
}
