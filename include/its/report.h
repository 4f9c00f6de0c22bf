/* What its-dump shows, built once through the emitter (text or JSON). */
#ifndef ITS_REPORT_H
#define ITS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "its/out.h"
#include "its/snapshot.h"
#include "its/walk.h"

#define REPORT_FORMAT_VERSION 1

struct dump_opts {
	bool all;			/* also non-zero invalid entries */
	bool sections;			/* list a stream's records */
	const uint32_t *devices;	/* --device filter, NULL: all */
	size_t nr_devices;
	const char *regs_source;	/* where registers came from, for the report */
};

struct dump_summary {
	size_t collections, devices, events;	/* live entries shown */
	size_t unreachable;			/* valid-looking, never reached */
	size_t hidden;				/* non-zero invalid entries not shown */
	size_t flagged;				/* entries with an anomaly flag */
	size_t unreadable;			/* holes in the tables */
};

/* Emit the whole its-dump document; fills sum (which decides the exit status). */
void report_dump(struct out *o, const struct snapshot *s,
		 const struct its_image *img, const struct dump_opts *opts,
		 struct dump_summary *sum);

/* Emit the register block of one ITS: "registers" (values, the shape
 * --its-regs reads back) then "fields" (every named field). */
void report_its_registers(struct out *o, const struct its_image_its *its);

/* ---- its-fsck ---- */

struct check_ctx;
struct check_result;

struct repair_plan;

struct fsck_opts {
	bool strict;			/* info findings count as problems */
	/* repairs (NULL: a read-only check) */
	const struct repair_plan *plan;
	const int64_t *file_offsets;	/* per write: first copy, -1 none */
	const char *const *not_written;	/* per write: why it is not written, or NULL */
	bool dry_run;
	/* the check after writing, NULL when nothing was written */
	const struct check_ctx *after_cx;
	const struct check_result *after_cr;
};

struct fsck_summary {
	size_t errors, warnings, info;
	bool restore_fails;
	/* after a repair */
	size_t after_errors, after_warnings, after_info;
	bool after_restore_fails;
};

/* Emit the its-fsck document: verdict first, then problems grouped by
 * table, what the restore drops and restores, and the summary. */
void report_fsck(struct out *o, const struct check_ctx *cx,
		 const struct check_result *cr, const struct fsck_opts *opts,
		 struct fsck_summary *sum);

/* The problem table (--list-problems). */
void report_problem_table(struct out *o);

/* ---- --format=dot and --format=map (view.c, dot.c, map.c) ----
 * Both formats render one view, built once from the walked image (and, for
 * its-fsck, the check result), so that they show the same data. */

/* Events drawn per device; the rest become one "... N more events" node
 * so that a 2^16-event ITT stays a readable graph. */
#define REPORT_DOT_MAX_EVENTS 64

struct view;

struct view_opts {
	bool all;			/* also non-zero invalid entries */
	const uint32_t *devices;	/* --device filter, NULL: all */
	size_t nr_devices;
	/* its-fsck: highlight findings and dropped entries (NULL: its-dump) */
	const struct check_ctx *cx;
	const struct check_result *cr;
};

int report_view_new(const struct snapshot *s, const struct its_image *img,
		    const struct view_opts *opts, struct view **out,
		    struct its_err *err);
void report_view_free(struct view *v);

/* The its-dump counts (same rules as report_dump), for the exit status. */
void report_view_dump_summary(const struct view *v, struct dump_summary *sum);
/* The its-fsck counts (same rules as report_fsck), for the exit status. */
void report_fsck_counts(const struct check_result *cr, struct fsck_summary *sum);

/* Graphviz digraph: DeviceID -> EventID/LPI -> collection -> vCPU. */
int report_dot(FILE *f, const struct view *v, struct its_err *err);
/* Text map of guest physical memory: every placed table, by GPA. */
int report_map(FILE *f, const struct view *v, struct its_err *err);

#endif
