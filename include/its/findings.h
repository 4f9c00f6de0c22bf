/* Findings: what the rules found, where. Rules only record; the CLI and the
 * report print, and the repair planner reads them. */
#ifndef ITS_FINDINGS_H
#define ITS_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "its/limits.h"
#include "its/problems.h"
#include "its/walk.h"

#define FINDING_NONE (-1)
/* Stored: FINDINGS_MAX_PER_PROBLEM per problem in each table kind of each
 * ITS, FINDINGS_MAX_STORED in all (its/limits.h); the rest are counted. */

struct finding {
	enum problem_id problem;
	unsigned its;
	enum its_table_kind table;
	bool has_table;
	int64_t device_id, event_id, icid;	/* FINDING_NONE when not relevant */
	int64_t cpu;				/* redistributor, or FINDING_NONE */
	bool has_gpa;
	uint64_t gpa;
	bool has_raw;
	uint8_t raw[16];			/* entry bytes (little-endian) */
	unsigned raw_len;
	char detail[200];			/* the specifics, one line */
};

struct findings {
	struct finding *v;
	size_t nr, cap;
	size_t by_severity[3];			/* stored + not stored */
	size_t per_problem[PR_COUNT];		/* stored + not stored */
	size_t not_stored;
	size_t not_stored_per_problem[PR_COUNT];
	bool oom;
	/* stored per (ITS, table kind or none, problem) */
	uint32_t *per_table;
	size_t nr_per_table_its;
};

void findings_init(struct findings *fs);
void findings_release(struct findings *fs);

/* A location with nothing set but the ITS (and the table, when >= 0). */
struct finding finding_at(unsigned its, int table);

/* Record a problem at w (copied) with a printf-style detail. Returns 0, or
 * -ENOMEM (the finding is still counted). */
int finding_add(struct findings *fs, enum problem_id p, const struct finding *w,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Set the raw bytes of a location from a 64-bit entry or from bytes. */
void finding_raw64(struct finding *w, uint64_t raw);
void finding_raw(struct finding *w, const uint8_t *raw, unsigned len);

/* Sort by ITS, table, then problem code, then location (stable output). */
void findings_sort(struct findings *fs);

size_t findings_count(const struct findings *fs, enum problem_id p);
/* Of those, how many were counted but not stored. */
size_t findings_not_stored(const struct findings *fs, enum problem_id p);

#endif
