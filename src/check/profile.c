/* Kernel version -> restore behaviour (spec §3.2 and §6.3). Stable
 * backports blur these lines; the report says so when an older profile
 * would answer differently. */
#include "its/profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const kernel_profile_names[] = {
	"upstream", "2026", "6.13", "6.7", "6.1", "6.0", "5.19", "5.10", "5.6",
	"5.4", "4.15", "4.14", NULL,
};

/* version as one comparable number */
#define V(a, b, c) ((a) * 1000000u + (b) * 1000u + (c))

static void derive(struct kernel_profile *p, unsigned v)
{
	p->empty_table_einval = v < V(4, 15, 0);
	p->itt_unterminated_drops = v < V(4, 15, 0);
	p->full_ct_fails = v < V(4, 15, 0);
	p->addr_48bit = v < V(4, 15, 0);
	p->unmapped_cte_einval = v < V(5, 6, 0);
	p->visibility_checks = v >= V(5, 19, 0);
	/* the scan fix reached 6.1 and 6.0.6 */
	p->scan_overrun = v < V(6, 0, 6);
	p->target_by_count = v < V(6, 7, 0);
	/* the May 2026 fix: first release after it assumed 7.1 */
	p->size_check = v >= V(7, 1, 0);
}

void kernel_profile_upstream(struct kernel_profile *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "upstream");
	derive(out, V(999, 0, 0));
}

int kernel_profile_parse(const char *s, struct kernel_profile *out,
			 struct its_err *err)
{
	unsigned a = 0, b = 0, c = 0;
	int n = 0;

	if (!strcmp(s, "upstream") || !strcmp(s, "2026")) {
		kernel_profile_upstream(out);
		snprintf(out->name, sizeof(out->name), "%s", s);
		return 0;
	}
	if ((sscanf(s, "%u.%u.%u%n", &a, &b, &c, &n) != 3 || s[n]) &&
	    (c = 0, n = 0, sscanf(s, "%u.%u%n", &a, &b, &n) != 2 || s[n]))
		return its_err_set(err, -EINVAL, NULL, ITS_ERR_NO_OFFSET,
				   "--kernel: '%s' is not a kernel version (X.Y or X.Y.Z) or 'upstream'",
				   s);
	if (a < 4 || (a == 4 && b < 12) || a > 99 || b > 999 || c > 999)
		return its_err_set(err, -EINVAL, NULL, ITS_ERR_NO_OFFSET,
				   "--kernel: %s has no ITS table restore (it appeared in 4.12)",
				   s);
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", s);
	out->major = a;
	out->minor = b;
	out->patch = c;
	derive(out, V(a, b, c));
	return 0;
}
