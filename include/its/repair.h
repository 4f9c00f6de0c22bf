/* Repairs: the only code that writes. A plan is a list of whole-entry (or
 * register) rewrites, each tied to the problem it corrects; it is checked
 * on an in-memory copy before anything is written, written with an undo
 * file, then the snapshot is re-read and re-checked. */
#ifndef ITS_REPAIR_H
#define ITS_REPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "its/check.h"
#include "its/err.h"
#include "its/problems.h"
#include "its/snapshot.h"

enum repair_target_kind {
	REPAIR_RAM,		/* guest RAM: an 8-byte entry (12 for TCG ITEs) */
	REPAIR_REGISTER,	/* an ITS register (in the stream's arm_gicv3_its
				 * section) or a redistributor's (arm_gicv3) */
};

/* Registers a repair can rewrite (ITS instance its; the GICR ones: the
 * redistributor cpu). */
enum repair_reg {
	RREG_CTLR, RREG_IIDR, RREG_CBASER, RREG_CWRITER, RREG_CREADR,
	RREG_BASER0,		/* BASERn = RREG_BASER0 + n */
	RREG_GICR_PROPBASER = RREG_BASER0 + 8,
};

struct repair_write {
	enum repair_target_kind kind;
	unsigned its;
	/* REPAIR_RAM */
	uint64_t gpa;
	unsigned len;				/* bytes, at most 16 */
	uint8_t old[16], new[16];		/* little-endian, as in guest RAM */
	/* REPAIR_REGISTER */
	int reg;				/* enum repair_reg */
	unsigned cpu;				/* RREG_GICR_*: index of the
						 * redistributor (its_image rd) */
	uint64_t reg_old, reg_new;
	/* why */
	enum problem_id problem;
	enum problem_repair level;		/* REPAIR_SAFE or REPAIR_OPTIN */
	char why[200];
};

struct repair_plan {
	struct repair_write *v;
	size_t nr, cap;
	/* repairs the planner considered and refused, with the reason */
	char refused[8][240];
	size_t nr_refused;
};

void repair_plan_init(struct repair_plan *p);
void repair_plan_release(struct repair_plan *p);
int repair_plan_add(struct repair_plan *p, const struct repair_write *w);

/* ---- plan.c ---- */

enum repair_mode {
	REPAIR_MODE_SAFE = 1,		/* --fix, -p */
	REPAIR_MODE_ALL = 2,		/* --fix=all, -y */
};

/* Build the plan for the findings of cr at this mode, simulate it on an
 * in-memory copy of the tables, re-run the restore model, and keep only
 * repairs that lose no mapping the original restore kept and do not make
 * the verdict worse. */
int repair_plan_build(const struct check_ctx *cx, const struct check_result *cr,
		      enum repair_mode mode, struct repair_plan *out,
		      struct its_err *err);

/* ---- apply.c / undo.c ---- */

/* Every file offset that holds the bytes of w (an ELF PT_LOAD: one; a
 * stream: every copy of the page, the last one first; mapped-ram: the page
 * slot). A mapped-ram page whose bitmap bit is clear (a zero page; its slot
 * may hold stale bytes): the offset of w's bytes in the slot first, then
 * the bitmap byte (repair_apply writes the whole slot, zeros with the
 * plan's entries, then sets the bit; in place and with -o). A page whose
 * last copy in a plain stream is a ZERO record: 0 with *n = 0
 * (repair_apply writes it only into a copy, -o, which re-encodes the
 * record as a PAGE record; in place it fails with -ENOENT). -ENOENT when a
 * byte has no copy in the file otherwise (absent memory), -EROFS for a
 * register in a snapshot that does not hold registers (an ELF core). At
 * most max offsets; *n is how many exist. */
int repair_locate(const struct snapshot *s, const struct repair_write *w,
		  uint64_t *offs, size_t max, size_t *n, struct its_err *err);

struct repair_apply_opts {
	const char *undo_path;		/* default: SNAPSHOT.its-undo, or
					 * OUT.its-undo with out_path */
	const char *out_path;		/* -o: write a repaired copy instead */
	unsigned abort_after;		/* tests: _exit(99) after this many writes */
};

/* Write the plan: undo file first (flushed, marked complete last), then
 * every copy of every entry (a clear-bit mapped-ram page: its whole slot,
 * then its bitmap bit; the undo file keeps the slot's stale bytes and the
 * bitmap byte), fsync. With out_path the input is copied and the copy is
 * written, after an undo file that gives the copy back the input's bytes;
 * a page whose last copy is a ZERO record is re-encoded in the copy as a
 * PAGE record (later bytes of the copy shift by page size - 1, which the
 * undo file records as a splice). */
int repair_apply(const struct snapshot *s, const struct repair_plan *p,
		 const struct repair_apply_opts *o, struct its_err *err);

/* Put back every byte an undo file recorded (a copy written with -o: the
 * input's bytes, its size too); refuse if the snapshot is not the one the
 * undo file was written for (size, mtime, checksums; for a copy, not the
 * input either). */
int repair_undo(const char *undo_path, const char *snapshot_path,
		struct its_err *err);

#endif
