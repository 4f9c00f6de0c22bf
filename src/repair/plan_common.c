/* The plan container: a growable array of writes (repair_plan_build in
 * plan.c fills it; tests build plans by hand). */
#include "its/repair.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void repair_plan_init(struct repair_plan *p)
{
	memset(p, 0, sizeof(*p));
}

void repair_plan_release(struct repair_plan *p)
{
	if (!p)
		return;
	free(p->v);
	repair_plan_init(p);
}

int repair_plan_add(struct repair_plan *p, const struct repair_write *w)
{
	if (p->nr == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct repair_write *v;

		if (cap > SIZE_MAX / sizeof(*v))
			return -ENOMEM;
		v = realloc(p->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->nr++] = *w;
	return 0;
}
