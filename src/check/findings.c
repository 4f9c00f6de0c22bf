#include "its/findings.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its/bits.h"

void findings_init(struct findings *fs)
{
	memset(fs, 0, sizeof(*fs));
}

void findings_release(struct findings *fs)
{
	free(fs->v);
	free(fs->per_table);
	memset(fs, 0, sizeof(*fs));
}

/* Table keys: no table, then each enum its_table_kind. */
#define TABLE_KEYS (ITS_TABLE_ITT + 2)
/* ITS indices past this share the last row: a snapshot has at most
 * MS_MAX_ITS ITSs, --its-regs as many. */
#define ITS_KEYS 256u

/* The stored count of (w's ITS, w's table, p), or NULL when out of memory. */
static uint32_t *stored_slot(struct findings *fs, const struct finding *w,
			     enum problem_id p)
{
	size_t its = w->its < ITS_KEYS ? w->its : ITS_KEYS - 1;
	size_t t = w->has_table && (unsigned)w->table <= ITS_TABLE_ITT ?
		   (size_t)w->table + 1 : 0;

	if (its >= fs->nr_per_table_its) {
		size_t row = TABLE_KEYS * PR_COUNT;
		uint32_t *v = realloc(fs->per_table,
				      (its + 1) * row * sizeof(*v));

		if (!v)
			return NULL;
		memset(v + fs->nr_per_table_its * row, 0,
		       (its + 1 - fs->nr_per_table_its) * row * sizeof(*v));
		fs->per_table = v;
		fs->nr_per_table_its = its + 1;
	}
	return &fs->per_table[(its * TABLE_KEYS + t) * PR_COUNT + p];
}

struct finding finding_at(unsigned its, int table)
{
	struct finding w;

	memset(&w, 0, sizeof(w));
	w.its = its;
	w.has_table = table >= 0;
	w.table = table >= 0 ? (enum its_table_kind)table : ITS_TABLE_COLLECTIONS;
	w.device_id = w.event_id = w.icid = w.cpu = FINDING_NONE;
	return w;
}

void finding_raw64(struct finding *w, uint64_t raw)
{
	its_put_le64(w->raw, raw);
	w->raw_len = 8;
	w->has_raw = true;
}

void finding_raw(struct finding *w, const uint8_t *raw, unsigned len)
{
	if (len > sizeof(w->raw))
		len = sizeof(w->raw);
	memcpy(w->raw, raw, len);
	w->raw_len = len;
	w->has_raw = true;
}

int finding_add(struct findings *fs, enum problem_id p, const struct finding *w,
		const char *fmt, ...)
{
	struct finding *f;
	uint32_t *kept;
	va_list ap;

	fs->by_severity[problem_table[p].severity]++;
	fs->per_problem[p]++;
	kept = stored_slot(fs, w, p);
	if (!kept)
		goto nomem;
	if (*kept >= FINDINGS_MAX_PER_PROBLEM || fs->nr >= FINDINGS_MAX_STORED) {
		fs->not_stored++;
		fs->not_stored_per_problem[p]++;
		return 0;
	}
	if (fs->nr == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 32;
		struct finding *v = realloc(fs->v, cap * sizeof(*v));

		if (!v)
			goto nomem;
		fs->v = v;
		fs->cap = cap;
	}
	(*kept)++;
	f = &fs->v[fs->nr++];
	*f = *w;
	f->problem = p;
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
	va_end(ap);
	return 0;
nomem:
	fs->oom = true;
	fs->not_stored++;
	fs->not_stored_per_problem[p]++;
	return -ENOMEM;
}

static int cmp64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int finding_cmp(const void *pa, const void *pb)
{
	const struct finding *a = pa, *b = pb;
	int c;

	if ((c = cmp64(a->its, b->its)))
		return c;
	if ((c = cmp64(problem_table[a->problem].code >> 16,
		       problem_table[b->problem].code >> 16)))
		return c;
	if ((c = cmp64(a->device_id, b->device_id)))
		return c;
	if ((c = cmp64(a->event_id, b->event_id)))
		return c;
	if ((c = cmp64(a->icid, b->icid)))
		return c;
	if ((c = cmp64(a->cpu, b->cpu)))
		return c;
	if ((c = cmp64(problem_table[a->problem].code,
		       problem_table[b->problem].code)))
		return c;
	if (a->gpa != b->gpa)
		return a->gpa < b->gpa ? -1 : 1;
	return strcmp(a->detail, b->detail);
}

void findings_sort(struct findings *fs)
{
	if (fs->nr > 1)
		qsort(fs->v, fs->nr, sizeof(*fs->v), finding_cmp);
}

size_t findings_count(const struct findings *fs, enum problem_id p)
{
	return fs->per_problem[p];
}

size_t findings_not_stored(const struct findings *fs, enum problem_id p)
{
	return fs->not_stored_per_problem[p];
}
