/* The data --format=dot and --format=map show, built once by view.c and
 * read by dot.c and map.c (private to src/report/). Keeping one model is
 * what makes the two formats agree: a device node's ITT size in the graph
 * is the byte range the map places, and every ITT the map places belongs
 * to a device the graph draws. */
#ifndef ITS_REPORT_VIEW_H
#define ITS_REPORT_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "its/check.h"
#include "its/report.h"

/* Problem names kept per node for its label and tooltip; the rest are
 * counted. */
#define VIEW_MAX_NOTES	4

/* What its-fsck found at one node (all zero for its-dump). */
struct view_mark {
	bool has_problem;
	enum problem_severity worst;	/* when has_problem */
	bool dropped;			/* KVM's restore skips the entry */
	enum restore_drop_reason drop_reason;
	unsigned nr;			/* distinct problems */
	enum problem_id prob[VIEW_MAX_NOTES];
};

/* rec of an event or a device is the walked record as the view shows it:
 * a copy whose flags add what its_chain_* say of KVM's restore, as
 * its-dump's text and JSON count it (SKIPPED_BY_NEXT, AFTER_TERMINATOR);
 * an event of an ITT the restore never reads carries its DTE's flag for
 * it, SKIPPED_BY_NEXT when the restore rejects the DTE and reads past it
 * (the text and JSON only dim such an event: a graph node has no dimmer
 * look than the flag's). rec points at the copy held beside it. */
struct view_event {
	const struct its_ite_rec *rec;	/* &ite */
	struct its_ite_rec ite;
	long coll;			/* index into view_its.colls, -1: none */
	struct view_mark mark;
};

/* Collapsed events of a device reach this collection `count` times. */
struct view_edge {
	size_t coll;
	size_t count;
};

struct view_dev {
	const struct its_dev_rec *rec;	/* &dte */
	struct its_dev_rec dte;
	uint64_t itt_bytes;		/* 0: the walk did not read the ITT */
	size_t first_event, nr_events;	/* shown, in view_its.events */
	size_t nr_more;			/* events past REPORT_DOT_MAX_EVENTS */
	size_t first_edge, nr_edges;	/* of the collapsed ones, in more_edges */
	struct view_mark mark, more_mark;
};

struct view_coll {
	const struct its_cte_rec *rec;	/* NULL: an ICID events name, no CTE */
	uint32_t icid;
	bool primary;			/* the node events of this ICID reach */
	long vcpu;			/* into view.vcpus; -1: not mapped */
	struct view_mark mark;
};

struct view_icid {
	uint32_t icid;
	size_t coll;
};

struct view_its {
	const struct its_image_its *its;
	struct view_dev *devs;
	size_t nr_devs;
	struct view_event *events;
	size_t nr_events;
	struct view_edge *more_edges;
	size_t nr_more_edges;
	struct view_coll *colls;	/* CTEs in slot order, then missing ICIDs */
	size_t nr_colls;
	size_t nr_cte_colls;		/* colls[0..nr_cte_colls) have a CTE */
	struct view_icid *by_icid;	/* primary collections, sorted by ICID */
	size_t nr_by_icid;
	bool unmapped;			/* some collection has no vCPU */
	struct view_mark mark;		/* findings no entry of the graph names */
};

struct view_vcpu {
	uint32_t cpu;
	bool exists;			/* below the VM's vCPU count */
	bool has_pend;
	uint64_t pendbaser;
	struct view_mark mark;
};

enum view_obj_kind {
	VIEW_OBJ_CMDQ,
	VIEW_OBJ_DT,
	VIEW_OBJ_L2,
	VIEW_OBJ_CT,
	VIEW_OBJ_ITT,
	VIEW_OBJ_PROP,
	VIEW_OBJ_PEND,
};

/* One placed object of guest memory, and what memory holds it. */
struct view_obj {
	enum view_obj_kind kind;
	int its;			/* -1: the VM's (LPI tables) */
	uint32_t id;			/* L1 index, DeviceID or vCPU */
	uint64_t gpa, bytes;		/* bytes > 0; gpa + bytes may wrap */
	unsigned detail;		/* EventID bits, IDbits, vCPUs sharing */
	bool clamped;			/* ITT of a DTE Size > 15, 2^16 events */
	bool overlaps;
	long region;			/* gmem region of the first RAM byte, -1 */
	unsigned nr_regions;		/* regions the range touches */
	uint64_t absent, not_ram;	/* bytes the snapshot lacks / not RAM */
};

/* A table a register would place but does not (not valid, not known). */
struct view_unplaced {
	int its;
	const char *what, *why;
	uint32_t cpu;
};

struct view_overlap {
	size_t a, b;			/* into view.objs, a < b */
	uint64_t gpa, bytes;
};

/* Overlapping pairs listed by the map; the rest are counted as "more". */
#define VIEW_MAX_OVERLAPS	256

struct view {
	const struct snapshot *snap;
	const struct its_image *img;
	bool fsck;
	char verdict[400];		/* its-fsck: the restore and the counts */
	int nr_vm_vcpus;		/* as its-fsck counts them */
	struct view_its *its;
	size_t nr_its;
	struct view_vcpu *vcpus;	/* sorted by cpu */
	size_t nr_vcpus;
	struct view_obj *objs;		/* sorted by GPA */
	size_t nr_objs;
	struct view_overlap *ovl;
	size_t nr_ovl;
	bool ovl_more;
	struct view_unplaced *unplaced;
	size_t nr_unplaced;
	struct dump_summary sum;	/* counted as report_dump counts */
};

const char *view_obj_name(const struct view_obj *o, char *buf, size_t len);

#endif
