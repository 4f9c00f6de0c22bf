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

const char *problem_repair_name(enum problem_repair r)
{
	switch (r) {
	case REPAIR_NONE: return "none";
	case REPAIR_SAFE: return "safe";
	case REPAIR_OPTIN: return "opt-in";
	}
	return "?";
}
