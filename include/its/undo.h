/* Internals of repair/: what locate.c finds (file ranges to write), what
 * undo.c keeps of them (the undo file), and the test hooks of apply.c.
 * The public API is its/repair.h; the undo file format is described at the
 * top of src/repair/undo.c. */
#ifndef ITS_UNDO_H
#define ITS_UNDO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "its/err.h"
#include "its/repair.h"
#include "its/snapshot.h"

/* repair_undo() returns this (not an error: err->code stays 0, err->msg
 * says why) when it wrote nothing: the undo file is incomplete (the repair
 * stopped before the snapshot was touched), or the snapshot already holds
 * every original byte. 0 means bytes were put back. */
#define REPAIR_UNDO_NOTHING	1

/* Special values of repair_apply_opts.abort_after (tests only; 0 = off,
 * N = _exit(99) after N range writes). */
#define REPAIR_ABORT_NO_WRITE	UINT_MAX	/* undo file complete, before
						 * the first snapshot write */
#define REPAIR_ABORT_IN_UNDO	(UINT_MAX - 1)	/* undo file written up to its
						 * trailer, which is missing */

/* Tests only: repair_undo calls _exit(99) after this many range writes
 * (0, the default: never). */
extern unsigned repair_test_undo_abort_after;

/* Tests only: called by repair_apply (in place) once the undo file is
 * complete, just before the snapshot's identity is compared again and the
 * first byte is written; NULL (the default) in normal runs. */
extern void (*repair_test_before_write)(void *arg);
extern void *repair_test_before_write_arg;

/* One file range a plan writes: one copy of (part of) one entry. */
struct repair_range {
	uint64_t off;			/* absolute file offset */
	unsigned len;			/* 1..16 */
	uint8_t old[16];		/* what the file holds (read by
					 * repair_collect) */
	uint8_t new[16];
	uint8_t expect[16];		/* what the plan says it holds */
	bool last;			/* the copy a reader uses: old must
					 * equal expect */
	size_t write;			/* index in the plan */
	size_t reenc;			/* 0: off is a file offset; else 1 +
					 * the index in ranges.re of the ZERO
					 * record re-encoded, and off is the
					 * offset inside its page */
	bool zero_page;			/* a piece of the slot of a mapped-ram
					 * page whose bitmap bit is clear: a
					 * reader sees zeros there, so expect
					 * is compared with zeros, not old
					 * (the slot's stale bytes) */
	uint8_t set_bits;		/* not 0: a mapped-ram bitmap byte;
					 * new = old | set_bits (the bits of
					 * every clear page the plan writes,
					 * clear in old) */
};

/* A ZERO record (the last copy of a page in a plain stream) that -o
 * re-encodes as a PAGE record: the same header (flags ZERO -> PAGE, the
 * CONTINUE bit and the block idstr kept), then the page's bytes (the fill
 * byte, with the plan's entries written in) instead of the fill byte. */
struct repair_reencode {
	uint64_t rec;			/* file offset of the record header */
	uint64_t fill_off;		/* of its fill byte (the record's last) */
	uint8_t fill;
	uint32_t page_size;
};

struct repair_ranges {
	struct repair_range *v;
	size_t nr, cap;
	struct repair_reencode *re;	/* sorted by rec */
	size_t nr_re, cap_re;
	uint64_t *zp_at;		/* file offsets of the plan's bytes in
					 * clear-bit mapped-ram page slots
					 * (for repair_locate) */
	size_t nr_zp;
};

void repair_ranges_release(struct repair_ranges *r);

/* repair_collect flags */
#define REPAIR_COLLECT_REENCODE	1u	/* a page whose last copy is a ZERO
					 * record (plain stream) becomes a
					 * re-encoded range (for -o); without
					 * it such a page is -ENOENT */

/* locate.c: every file range the plan writes (per write, per page piece,
 * every copy, the last copy first), the current bytes read into old (for a
 * re-encoded page: the fill byte), and refused when two ranges overlap.
 * A mapped-ram page whose bitmap bit is clear is written whole: its slot
 * (zeros with the plan's entries in it) as 16-byte zero_page ranges, then,
 * after every range, one range per bitmap byte that sets its bit (pages
 * sharing a byte share the range). Errors as repair_locate. */
int repair_collect(const struct snapshot *s, const struct repair_plan *p,
		   unsigned flags, struct repair_ranges *out,
		   struct its_err *err);

/* "GITS_BASER1" (into buf) for enum repair_reg values. */
const char *repair_reg_name(int reg, char buf[16]);

/* Identity of a snapshot file, as the undo file keeps it. */
struct undo_ident {
	uint64_t size;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint64_t dev, ino;
};

/* fstat(fd) into id; -errno with err set. */
int undo_ident_of(int fd, const char *path, struct undo_ident *id,
		  struct its_err *err);
bool undo_ident_same(const struct undo_ident *a, const struct undo_ident *b);

/* What an undo file undoes (its header). */
struct undo_target {
	struct undo_ident before;	/* size and mtime of the bytes the undo
					 * gives back (in place: the snapshot
					 * when the repair started; -o: the
					 * input), dev and ino of the file it
					 * is applied to (-o: the copy) */
	uint64_t size_after;		/* of that file once written: before
					 * .size plus what the splices add */
	bool copy;			/* -o: the file is a copy of the input */
	uint64_t in_dev, in_ino;	/* -o: the input (an undo of it is
					 * refused) */
};

/* One record: at off (in the file as the repair leaves it) the repair put
 * new_len bytes where the original held the old_len bytes old. new_len ==
 * old_len: new holds them. new_len > old_len, a splice (a ZERO record
 * re-encoded by -o): only their CRC, crc_new, is kept. */
struct undo_record {
	uint64_t off;
	unsigned old_len;		/* 1..16 */
	uint64_t new_len;		/* old_len, or old_len + 1..2^30 */
	uint8_t old[16], new[16];
	uint32_t crc_new;		/* a splice's */
};

/* undo.c: may an undo file at path be replaced? Yes (0) when there is
 * none, when it is incomplete, when it belongs to the file replaced (-o:
 * the old OUT, same device and inode; NULL: none), when it is a copy's
 * whose undo finished or whose copy was never made, or when it belongs to
 * this snapshot file (snap_fd, id; snap_fd < 0: not asked) and every range
 * it records already holds its old bytes; otherwise -EEXIST, with err
 * saying why. */
int undo_replaceable(const char *path, int snap_fd,
		     const struct undo_ident *id,
		     const struct undo_ident *replaced, struct its_err *err);

/* Write the undo file for records v (path.tmp, fsync, "complete" trailer,
 * fsync, rename to path, fsync of the directory). abort_stage
 * REPAIR_ABORT_IN_UNDO: _exit(99) before the trailer. */
int undo_write(const char *path, const char *snap_path,
	       const struct undo_target *t, const struct undo_record *v,
	       size_t n, unsigned abort_stage, struct its_err *err);

/* The same in two steps: path.tmp written, complete and flushed (not
 * renamed), then renamed to path and the directory flushed. -o uses them
 * so that a copy that fails leaves the undo file of the copy it was to
 * replace as it was. */
int undo_prepare(const char *path, const char *snap_path,
		 const struct undo_target *t, const struct undo_record *v,
		 size_t n, unsigned abort_stage, struct its_err *err);
int undo_commit(const char *path, struct its_err *err);

/* Append the "applied" stamp (the snapshot's identity after the writes and
 * the fsync) and fsync it. */
int undo_stamp_applied(const char *path, const struct undo_ident *after,
		       struct its_err *err);

/* apply.c: copy bytes [off, end) of in to off + delta of out (modulo 2^64:
 * a delta of -d moves them d bytes down), holes left as holes (out is
 * sized already), adding to *copied. */
int repair_copy_span(int in, int out, uint64_t off, uint64_t end,
		     uint64_t delta, uint64_t *copied, const char *in_path,
		     const char *out_path, struct its_err *err);

/* CRC-32C (Castagnoli, reflected, as iSCSI/ext4 use): start with crc 0. */
uint32_t its_crc32c(uint32_t crc, const void *buf, size_t len);

/* Write len bytes at off, retrying short writes; -errno with err set. */
int its_pwrite_full(int fd, const void *buf, size_t len, uint64_t off,
		    const char *path, struct its_err *err);

/* fsync the directory holding path (a new name in it is durable). */
int its_fsync_dir_of(const char *path, struct its_err *err);

#endif
