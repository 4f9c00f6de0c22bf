/* --format=map: guest physical memory as the ITS and the redistributors
 * place objects in it, one line per object by GPA (readelf -l crossed with
 * /proc/iomem): the range, its size, what it is and which RAM holds it.
 * Objects that share bytes carry a '*' and each overlapping pair gets a
 * line of its own, so that a misplaced table shows at a glance. */
#include "view.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAP_GPA_FMT "0x%012llx"

/* Exact sizes in the largest unit that divides them. */
static const char *human(char *buf, size_t len, uint64_t v)
{
	if (v && v % (1ULL << 30) == 0)
		snprintf(buf, len, "%llu GiB", (unsigned long long)(v >> 30));
	else if (v && v % (1ULL << 20) == 0)
		snprintf(buf, len, "%llu MiB", (unsigned long long)(v >> 20));
	else if (v && v % (1ULL << 10) == 0)
		snprintf(buf, len, "%llu KiB", (unsigned long long)(v >> 10));
	else
		snprintf(buf, len, "%llu B", (unsigned long long)v);
	return buf;
}

static void its_prefix(char *buf, size_t len, const struct view *v, int its)
{
	if (v->nr_its > 1 && its >= 0)
		snprintf(buf, len, "ITS %d ", its);
	else
		buf[0] = '\0';
}

static void describe(char *buf, size_t len, const struct view *v,
		     const struct view_obj *o)
{
	char pre[16], name[64];

	its_prefix(pre, sizeof(pre), v, o->its);
	view_obj_name(o, name, sizeof(name));
	switch (o->kind) {
	case VIEW_OBJ_CMDQ:
		snprintf(buf, len, "%s%s (GITS_CBASER)", pre, name);
		break;
	case VIEW_OBJ_DT:
		snprintf(buf, len, "%s%s (GITS_BASER0)", pre,
			 o->detail ? name : "device table, flat");
		break;
	case VIEW_OBJ_L2:
		snprintf(buf, len, "%s%s", pre, name);
		break;
	case VIEW_OBJ_CT:
		snprintf(buf, len, "%s%s (GITS_BASER1)", pre, name);
		break;
	case VIEW_OBJ_ITT:
		if (o->clamped)
			snprintf(buf, len, "%s%s (DTE Size > 15: %u bits walked)",
				 pre, name, o->detail);
		else
			snprintf(buf, len, "%s%s (%u EventID bit%s)", pre, name,
				 o->detail, o->detail == 1 ? "" : "s");
		break;
	case VIEW_OBJ_PROP:
		if (o->detail == 1)
			snprintf(buf, len, "%s (GICR_PROPBASER of vCPU %u)",
				 name, o->id);
		else
			snprintf(buf, len, "%s (GICR_PROPBASER of %u vCPUs)",
				 name, o->detail);
		break;
	case VIEW_OBJ_PEND:
		snprintf(buf, len, "%s (GICR_PENDBASER)", name);
		break;
	}
}

static void where(char *buf, size_t len, const struct view *v,
		  const struct view_obj *o)
{
	const struct gmem_region *r;
	size_t n;

	if (o->region < 0) {
		snprintf(buf, len, "NOT RAM");
		return;
	}
	r = gmem_region_at(v->snap->mem, (size_t)o->region);
	n = (size_t)snprintf(buf, len, "%s", r->name);
	if (n < len && o->nr_regions > 1)
		n += (size_t)snprintf(buf + n, len - n, " + %u more region%s",
				      o->nr_regions - 1, o->nr_regions == 2 ? "" : "s");
	if (n < len && o->absent && o->absent == o->bytes - o->not_ram)
		n += (size_t)snprintf(buf + n, len - n, ": absent");
	else if (n < len && o->absent)
		n += (size_t)snprintf(buf + n, len - n, ": 0x%llx bytes absent",
				      (unsigned long long)o->absent);
	if (n < len && o->not_ram)
		snprintf(buf + n, len - n, "%s0x%llx bytes NOT RAM",
			 o->absent ? ", " : ": ", (unsigned long long)o->not_ram);
}

static void short_name(char *buf, size_t len, const struct view *v,
		       const struct view_obj *o)
{
	char pre[16], name[64];

	its_prefix(pre, sizeof(pre), v, o->its);
	view_obj_name(o, name, sizeof(name));
	snprintf(buf, len, "%s%s", pre, name);
}

int report_map(FILE *f, const struct view *v, struct its_err *err)
{
	const struct gmem *g = v->snap->mem;
	char size[32], what[128], ram[160];

	fprintf(f, "Guest physical memory of %s\n", v->snap->path);
	fputs("RAM regions:\n", f);
	for (size_t i = 0; i < gmem_nr_regions(g); i++) {
		const struct gmem_region *r = gmem_region_at(g, i);

		fprintf(f, "  " MAP_GPA_FMT "-" MAP_GPA_FMT " %9s  %s\n",
			(unsigned long long)r->gpa,
			(unsigned long long)(r->gpa + (r->size ? r->size - 1 : 0)),
			human(size, sizeof(size), r->size), r->name);
	}
	fputs("\nPlaced objects by GPA (* shares bytes with another):\n", f);
	fprintf(f, "  %-29s %9s  %-48s %s\n", "GPA range", "Size", "What", "RAM");
	for (size_t i = 0; i < v->nr_objs; i++) {
		const struct view_obj *o = &v->objs[i];

		describe(what, sizeof(what), v, o);
		where(ram, sizeof(ram), v, o);
		fprintf(f, "%c " MAP_GPA_FMT "-" MAP_GPA_FMT " %9s  %-48s %s\n",
			o->overlaps ? '*' : ' ', (unsigned long long)o->gpa,
			(unsigned long long)(o->gpa + (o->bytes - 1)),
			human(size, sizeof(size), o->bytes), what, ram);
	}
	if (!v->nr_objs)
		fputs("  (none)\n", f);
	fputs("\nOverlaps:", f);
	if (!v->nr_ovl)
		fputs(" none", f);
	fputs("\n", f);
	for (size_t i = 0; i < v->nr_ovl; i++) {
		const struct view_overlap *p = &v->ovl[i];
		char a[96], b[96];

		short_name(a, sizeof(a), v, &v->objs[p->a]);
		short_name(b, sizeof(b), v, &v->objs[p->b]);
		fprintf(f, "  overlaps: %s with %s: %s from 0x%llx\n", a, b,
			human(size, sizeof(size), p->bytes),
			(unsigned long long)p->gpa);
	}
	if (v->ovl_more)
		fprintf(f, "  ... more overlapping pairs not listed (the first %d are)\n",
			VIEW_MAX_OVERLAPS);
	if (v->nr_unplaced) {
		fputs("\nNot placed:\n", f);
		for (size_t i = 0; i < v->nr_unplaced; i++) {
			const struct view_unplaced *u = &v->unplaced[i];
			char pre[16];

			its_prefix(pre, sizeof(pre), v, u->its);
			if (u->its < 0 && !strcmp(u->what, "pending table"))
				fprintf(f, "  pending table of vCPU %u: %s\n", u->cpu, u->why);
			else
				fprintf(f, "  %s%s: %s\n", pre, u->what, u->why);
		}
	}
	if (fflush(f) != 0 || ferror(f))
		return its_err_set(err, -EIO, NULL, ITS_ERR_NO_OFFSET,
				   "error writing the output");
	return 0;
}
