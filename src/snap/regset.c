#include "its/regset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int its_regset_reserve(struct its_regset *rs, size_t nr_its, size_t nr_rd)
{
	if (nr_its > rs->nr_its) {
		struct its_regs_raw *p = realloc(rs->its, nr_its * sizeof(*p));

		if (!p)
			return -ENOMEM;
		memset(p + rs->nr_its, 0, (nr_its - rs->nr_its) * sizeof(*p));
		rs->its = p;
		rs->nr_its = nr_its;
	}
	if (nr_rd > rs->nr_rd) {
		struct gicr_regs_raw *p = realloc(rs->rd, nr_rd * sizeof(*p));

		if (!p)
			return -ENOMEM;
		memset(p + rs->nr_rd, 0, (nr_rd - rs->nr_rd) * sizeof(*p));
		for (size_t i = rs->nr_rd; i < nr_rd; i++)
			p[i].cpu = (uint32_t)i;
		rs->rd = p;
		rs->nr_rd = nr_rd;
	}
	return 0;
}

void its_regset_release(struct its_regset *rs)
{
	free(rs->its);
	free(rs->rd);
	rs->its = NULL;
	rs->rd = NULL;
	rs->nr_its = rs->nr_rd = 0;
}
