/* The undo file: every byte a repair replaces, kept before the first write,
 * and `its-fsck --undo FILE SNAPSHOT` putting them back. In place it undoes
 * the snapshot; with -o OUT it undoes the copy: OUT gets back the input's
 * bytes exactly, even where the copy re-encoded a ZERO record as a PAGE
 * record and grew.
 *
 * Format, version 2. Integers little-endian; CRCs are CRC-32C (its_crc32c).
 * "The file" is the one the undo is applied to: the snapshot repaired in
 * place, or the copy (-o).
 *
 *   header, 512 bytes
 *       0   8  magic "ITSUNDO\0"
 *       8   4  version (2)
 *      12   4  header size (512)
 *      16   8  size of the original bytes (in place: the snapshot when the
 *              repair started; -o: the input)
 *      24   8  their mtime, seconds (signed), which the undo sets back
 *      32   4  their mtime, nanoseconds
 *      36   4  number of records N
 *      40   8  st_dev of the file
 *      48   8  st_ino of the file
 *      56   8  bytes of the record area that follows the header
 *      64   4  flags: 1 = the file is a copy (-o) of the input named below
 *      68   4  reserved, 0
 *      72   8  size of the file as the repair leaves it: the size at 16 plus
 *              new length - old length of every record
 *      80   8  st_dev of the input (in place: the file's)
 *      88   8  st_ino of the input
 *      96 408  path of the file as given (NUL-terminated, cut if longer)
 *     504   4  reserved, 0
 *     508   4  CRC of bytes 0..507
 *   N records, back to back, each a multiple of 8 bytes
 *       0   8  offset X in the file as the repair leaves it
 *       8   4  old length L (1..16): the original held these bytes
 *      12   4  new length M: the repair put M bytes at X in their place.
 *              M = L: an overwrite, the new bytes are kept. M > L (up to
 *              L + 2^30): a splice, only the CRC of the M bytes is kept;
 *              everything after them sits M - L bytes further than in
 *              the original
 *      16   4  CRC of the old bytes
 *      20   4  CRC of the new bytes
 *      24   4  CRC of bytes 0..23 of the record and its data bytes
 *      28   4  reserved, 0
 *      32   L  old bytes
 *    32+L   L  new bytes (an overwrite only)
 *              zeros up to a multiple of 8
 *   trailer "complete", 32 bytes: written after the header and records are
 *   on disk (fsync), then fsync'ed itself; the file is written only after
 *   that (and after the undo file got its final name, see below)
 *       0   8  magic "COMPLETE"
 *       8   4  N
 *      12   4  CRC of every byte before the trailer
 *      16   8  offset of the trailer (512 + record area)
 *      24   4  reserved, 0
 *      28   4  CRC of bytes 0..27
 *   stamps, 32 bytes each, appended (and fsync'ed) later
 *       0   8  magic "APPLIED\0": every range written and fsync'ed;
 *                    "UNDOING\0": an undo started putting bytes back; or
 *                    "UNDONE\0\0": every original byte is back, flushed
 *       8   8  size of the file after the writes (APPLIED; else 0)
 *      16   8  its mtime seconds after the writes (APPLIED)
 *      24   4  nanoseconds
 *      28   4  CRC of bytes 0..27
 *
 * Version 1 (still read and applied; written before -o kept an undo file):
 * the same header up to byte 63, then the path (64..503), no flags (in
 * place), and records of 24 bytes plus data: offset (8), length L (4), CRC
 * old (4), CRC new (4), CRC of bytes 0..19 and the data (4), L old bytes,
 * L new bytes.
 *
 * The file is written as NAME.tmp and renamed to NAME once complete (with
 * -o: once the copy is complete too, just before the copy is renamed to
 * OUT, so that a copy that fails leaves the undo file of the OUT it was to
 * replace), so a file under the final name is complete unless the disk
 * lost it. Its size
 * is bounded by the plan: 512 + N * (32 + 2L rounded up to 8) + 32 + stamps.
 *
 * Undo rules: no valid trailer: the repair died while writing the undo file,
 * before any write to the file: nothing to undo (REPAIR_UNDO_NOTHING).
 * The input of a copy (its device and inode) is refused. Otherwise the file
 * must have the size the repair left, every overwrite must hold either its
 * old or its new bytes (checked by CRC and by comparison) and every splice
 * its new bytes (by CRC); or, when there are splices, the original size and
 * the old bytes everywhere (an undo done already: nothing to undo). With an
 * APPLIED stamp (and no UNDOING one) every range must hold its new bytes
 * and the mtime must be the stamp's: anything else means the file changed
 * after the repair, and nothing is written. Then an UNDOING stamp, and:
 *   - overwrites only: the old bytes written in place, fsync, the original
 *     mtime. Killed half way, the undo runs again (every range holds its
 *     old or its new bytes).
 *   - with splices: the original is rebuilt beside the file (NAME.its-tmp.
 *     XXXXXX, holes kept): each stretch between splices copied down by
 *     what the splices before it added (copy_file_range, or 1 MiB at a
 *     time), each splice's L old bytes in place of its M, the overwrites'
 *     old bytes at their original offsets; fsync, the original mtime and
 *     mode, then renamed over the file. Moving the tail down inside the
 *     file itself would leave, when killed half way, a file neither
 *     version nor the undo file can describe; renamed, the file is always
 *     one or the other (it costs the free space of one copy meanwhile).
 * Last, an UNDONE stamp: such an undo file may be replaced by the next
 * repair. */
#include "its/undo.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "its/bits.h"
#include "its/io.h"

#define UNDO_MAGIC		"ITSUNDO\0"
#define UNDO_VERSION		2
#define UNDO_VERSION_1		1
#define UNDO_HDR		512
#define UNDO_PATH_AT		96
#define UNDO_PATH_MAX		408
#define UNDO_PATH_AT_V1		64
#define UNDO_PATH_MAX_V1	440
#define UNDO_TRAILER		32
#define UNDO_REC_HDR		32
#define UNDO_REC_HDR_V1		24
#define UNDO_MAX_RECORDS	(1u << 20)
#define UNDO_MAX_SPLICE		(1ull << 30)	/* bytes a splice adds */
#define UNDO_MAX_STAMPS		64
#define UNDO_F_COPY		1u
#define TRAILER_MAGIC		"COMPLETE"
#define APPLIED_MAGIC		"APPLIED\0"
#define UNDOING_MAGIC		"UNDOING\0"
#define UNDONE_MAGIC		"UNDONE\0\0"

/* ------------------------------------------------------------ CRC-32C */

static uint32_t crc_table[256];
static int crc_ready;

uint32_t its_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!crc_ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = (c >> 1) ^ (c & 1 ? 0x82F63B78u : 0);
			crc_table[i] = c;
		}
		crc_ready = 1;
	}
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ------------------------------------------------------------ helpers */

int its_pwrite_full(int fd, const void *buf, size_t len, uint64_t off,
		    const char *path, struct its_err *err)
{
	const uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, p + done, len - done,
				   (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : ENOSPC;

			return its_err_set(err, -e, path, off + done,
					   "write failed: %s", strerror(e));
		}
		done += (size_t)n;
	}
	return 0;
}

int its_fsync_dir_of(const char *path, struct its_err *err)
{
	char *copy = strdup(path);
	int fd, rc = 0;

	if (!copy)
		return its_err_set(err, -ENOMEM, path, ITS_ERR_NO_OFFSET,
				   "out of memory");
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = its_err_set(err, -errno, path, ITS_ERR_NO_OFFSET,
				 "cannot flush the directory holding it: %s",
				 strerror(errno));
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

int undo_ident_of(int fd, const char *path, struct undo_ident *id,
		  struct its_err *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return its_err_set(err, -errno, path, ITS_ERR_NO_OFFSET,
				   "cannot stat: %s", strerror(errno));
	memset(id, 0, sizeof(*id));
	id->size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);

		if (end < 0)
			return its_err_set(err, -errno, path,
					   ITS_ERR_NO_OFFSET,
					   "cannot size block device: %s",
					   strerror(errno));
		id->size = (uint64_t)end;
	}
	id->mtime_sec = (int64_t)st.st_mtim.tv_sec;
	id->mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	return 0;
}

bool undo_ident_same(const struct undo_ident *a, const struct undo_ident *b)
{
	return a->size == b->size && a->mtime_sec == b->mtime_sec &&
	       a->mtime_nsec == b->mtime_nsec && a->dev == b->dev &&
	       a->ino == b->ino;
}

static void fmt_time(char *buf, size_t len, int64_t sec, uint32_t nsec)
{
	time_t t = (time_t)sec;
	struct tm tm;

	size_t n = 0;

	if (localtime_r(&t, &tm))
		n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	if (n)
		snprintf(buf + n, len - n, ".%09u", nsec);
	else
		snprintf(buf, len, "%lld.%09u", (long long)sec, nsec);
}

/* ------------------------------------------------------------ encode */

static size_t rec_size(unsigned len, uint64_t new_len)
{
	return (UNDO_REC_HDR + (size_t)len + (new_len == len ? len : 0) + 7) &
	       ~(size_t)7;
}

static size_t rec_size_v1(unsigned len)
{
	return (UNDO_REC_HDR_V1 + 2 * (size_t)len + 7) & ~(size_t)7;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	its_put_le32(p, v);
}

static void put_u64(uint8_t *p, uint64_t v)
{
	its_put_le64(p, v);
}

static void stamp_encode(uint8_t b[32], const char magic[8],
			 const struct undo_ident *id)
{
	memset(b, 0, 32);
	memcpy(b, magic, 8);
	if (id) {
		put_u64(b + 8, id->size);
		put_u64(b + 16, (uint64_t)id->mtime_sec);
		put_u32(b + 24, id->mtime_nsec);
	}
	put_u32(b + 28, its_crc32c(0, b, 28));
}

static int append_stamp(const char *path, const char magic[8],
			const struct undo_ident *id, struct its_err *err)
{
	uint8_t b[32];
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC), rc;

	if (fd < 0)
		return its_err_set(err, -errno, path, ITS_ERR_NO_OFFSET,
				   "cannot open the undo file for writing: %s",
				   strerror(errno));
	stamp_encode(b, magic, id);
	rc = its_pwrite_full(fd, b, sizeof(b), (uint64_t)lseek(fd, 0, SEEK_END),
			     path, err);
	if (rc == 0 && fsync(fd) < 0)
		rc = its_err_set(err, -errno, path, ITS_ERR_NO_OFFSET,
				 "cannot flush the undo file: %s",
				 strerror(errno));
	close(fd);
	return rc;
}

int undo_stamp_applied(const char *path, const struct undo_ident *after,
		       struct its_err *err)
{
	return append_stamp(path, APPLIED_MAGIC, after, err);
}

static int commit(const char *tmp, const char *path, struct its_err *err)
{
	int rc = 0;

	if (rename(tmp, path) < 0)
		rc = its_err_set(err, -errno, path, ITS_ERR_NO_OFFSET,
				 "cannot rename %s to it: %s", tmp,
				 strerror(errno));
	if (rc == 0)
		rc = its_fsync_dir_of(path, err);
	return rc;
}

static int write_undo(const char *path, const char *snap_path,
		      const struct undo_target *t, const struct undo_record *v,
		      size_t n, unsigned abort_stage, bool rename_it,
		      struct its_err *err)
{
	size_t body = 0, at = UNDO_HDR, plen;
	uint64_t grown = 0;
	uint8_t *buf, trailer[UNDO_TRAILER];
	char *tmp;
	int fd, rc;

	if (n > UNDO_MAX_RECORDS)
		return its_err_set(err, -E2BIG, path, ITS_ERR_NO_OFFSET,
				   "a plan of %zu ranges is more than an undo file holds (%u)",
				   n, UNDO_MAX_RECORDS);
	for (size_t i = 0; i < n; i++) {
		if (v[i].old_len < 1 || v[i].old_len > 16 ||
		    v[i].new_len < v[i].old_len ||
		    v[i].new_len - v[i].old_len > UNDO_MAX_SPLICE)
			return its_err_set(err, -EINVAL, path, ITS_ERR_NO_OFFSET,
					   "record %zu: %u bytes replaced by %llu: not a range an undo file keeps; nothing was written",
					   i, v[i].old_len,
					   (unsigned long long)v[i].new_len);
		body += rec_size(v[i].old_len, v[i].new_len);
		grown += v[i].new_len - v[i].old_len;
	}
	if (t->before.size + grown != t->size_after)
		return its_err_set(err, -EINVAL, path, ITS_ERR_NO_OFFSET,
				   "the records grow the file by %llu bytes, not %llu - %llu; nothing was written",
				   (unsigned long long)grown,
				   (unsigned long long)t->size_after,
				   (unsigned long long)t->before.size);
	buf = calloc(1, UNDO_HDR + body);
	if (asprintf(&tmp, "%s.tmp", path) < 0)
		tmp = NULL;
	if (!buf || !tmp) {
		free(buf);
		free(tmp);
		return its_err_set(err, -ENOMEM, path, ITS_ERR_NO_OFFSET,
				   "out of memory");
	}
	memcpy(buf, UNDO_MAGIC, 8);
	put_u32(buf + 8, UNDO_VERSION);
	put_u32(buf + 12, UNDO_HDR);
	put_u64(buf + 16, t->before.size);
	put_u64(buf + 24, (uint64_t)t->before.mtime_sec);
	put_u32(buf + 32, t->before.mtime_nsec);
	put_u32(buf + 36, (uint32_t)n);
	put_u64(buf + 40, t->before.dev);
	put_u64(buf + 48, t->before.ino);
	put_u64(buf + 56, body);
	put_u32(buf + 64, t->copy ? UNDO_F_COPY : 0);
	put_u64(buf + 72, t->size_after);
	put_u64(buf + 80, t->copy ? t->in_dev : t->before.dev);
	put_u64(buf + 88, t->copy ? t->in_ino : t->before.ino);
	plen = strlen(snap_path);
	memcpy(buf + UNDO_PATH_AT, snap_path,
	       plen < UNDO_PATH_MAX - 1 ? plen : UNDO_PATH_MAX - 1);
	put_u32(buf + 508, its_crc32c(0, buf, 508));
	for (size_t i = 0; i < n; i++) {
		uint8_t *r = buf + at;
		unsigned l = v[i].old_len;
		bool splice = v[i].new_len != l;
		uint32_t c;

		put_u64(r, v[i].off);
		put_u32(r + 8, l);
		put_u32(r + 12, (uint32_t)v[i].new_len);
		put_u32(r + 16, its_crc32c(0, v[i].old, l));
		put_u32(r + 20, splice ? v[i].crc_new : its_crc32c(0, v[i].new, l));
		memcpy(r + UNDO_REC_HDR, v[i].old, l);
		if (!splice)
			memcpy(r + UNDO_REC_HDR + l, v[i].new, l);
		c = its_crc32c(0, r, 24);
		c = its_crc32c(c, r + UNDO_REC_HDR, splice ? l : 2 * (size_t)l);
		put_u32(r + 24, c);
		at += rec_size(l, v[i].new_len);
	}
	memset(trailer, 0, sizeof(trailer));
	memcpy(trailer, TRAILER_MAGIC, 8);
	put_u32(trailer + 8, (uint32_t)n);
	put_u32(trailer + 12, its_crc32c(0, buf, at));
	put_u64(trailer + 16, at);
	put_u32(trailer + 28, its_crc32c(0, trailer, 28));

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = its_err_set(err, -errno, tmp, ITS_ERR_NO_OFFSET,
				 "cannot create the undo file: %s; nothing was written",
				 strerror(errno));
		goto out;
	}
	rc = its_pwrite_full(fd, buf, at, 0, tmp, err);
	if (rc == 0 && fsync(fd) < 0)
		rc = its_err_set(err, -errno, tmp, ITS_ERR_NO_OFFSET,
				 "fsync failed: %s", strerror(errno));
	if (rc == 0 && abort_stage == REPAIR_ABORT_IN_UNDO)
		_exit(99);
	if (rc == 0)
		rc = its_pwrite_full(fd, trailer, sizeof(trailer), at, tmp, err);
	if (rc == 0 && fsync(fd) < 0)
		rc = its_err_set(err, -errno, tmp, ITS_ERR_NO_OFFSET,
				 "fsync failed: %s", strerror(errno));
	if (close(fd) < 0 && rc == 0)
		rc = its_err_set(err, -errno, tmp, ITS_ERR_NO_OFFSET,
				 "close failed: %s", strerror(errno));
	if (rc == 0 && rename_it)
		rc = commit(tmp, path, err);
	if (rc < 0) {
		its_err_prefix(err, "undo file: ");
		if (strlen(err->msg) + 32 < sizeof(err->msg) &&
		    !strstr(err->msg, "nothing was written"))
			strcat(err->msg, "; nothing was written");
		unlink(tmp);
	}
out:
	free(tmp);
	free(buf);
	return rc;
}

int undo_write(const char *path, const char *snap_path,
	       const struct undo_target *t, const struct undo_record *v,
	       size_t n, unsigned abort_stage, struct its_err *err)
{
	return write_undo(path, snap_path, t, v, n, abort_stage, true, err);
}

int undo_prepare(const char *path, const char *snap_path,
		 const struct undo_target *t, const struct undo_record *v,
		 size_t n, unsigned abort_stage, struct its_err *err)
{
	return write_undo(path, snap_path, t, v, n, abort_stage, false, err);
}

int undo_commit(const char *path, struct its_err *err)
{
	char *tmp;
	int rc;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return its_err_set(err, -ENOMEM, path, ITS_ERR_NO_OFFSET,
				   "out of memory");
	rc = commit(tmp, path, err);
	if (rc < 0) {
		its_err_prefix(err, "undo file: ");
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

/* ------------------------------------------------------------ decode */

struct undo_rec {
	uint64_t off;			/* in the file as the repair left it */
	uint64_t orig;			/* in the original: off less what the
					 * splices before it add */
	unsigned len;			/* of the old bytes */
	uint64_t new_len;		/* len, or more: a splice */
	uint32_t crc_old, crc_new;
	uint8_t old[16], new[16];
};

struct undo_file {
	struct undo_target t;
	char snap_path[UNDO_PATH_MAX_V1];
	uint32_t nr;
	struct undo_rec *rec;
	size_t *splice;			/* indexes of the splices, by offset */
	size_t nr_splice;
	bool complete;
	bool applied, undoing, undone;
	struct undo_ident after;	/* APPLIED: size and mtime */
};

static void undo_file_release(struct undo_file *u)
{
	free(u->rec);
	free(u->splice);
	u->rec = NULL;
	u->splice = NULL;
}

static bool is_splice(const struct undo_rec *x)
{
	return x->new_len != x->len;
}

/* A "COMPLETE" trailer anywhere (8-aligned): the file was complete once. */
static bool has_trailer_magic(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i + 8 <= len; i += 8)
		if (!memcmp(b + i, TRAILER_MAGIC, 8))
			return true;
	return false;
}

static int damaged(const char *path, struct its_err *err, const char *what)
{
	return its_err_set(err, -EINVAL, path, ITS_ERR_NO_OFFSET,
			   "undo file damaged (%s): refusing to use it", what);
}

/* One record at b (at most end - b bytes): 0, or -1 when it does not
 * parse or fails its CRC. *size: its bytes. */
static int rec_decode(const uint8_t *b, size_t avail, unsigned version,
		      struct undo_rec *x, size_t *size)
{
	size_t hdr = version == UNDO_VERSION_1 ? UNDO_REC_HDR_V1 : UNDO_REC_HDR;
	size_t data;
	uint32_t c;

	if (avail < hdr)
		return -1;
	memset(x, 0, sizeof(*x));
	x->off = its_le64(b);
	x->len = its_le32(b + 8);
	if (x->len == 0 || x->len > 16)
		return -1;
	if (version == UNDO_VERSION_1) {
		x->new_len = x->len;
		x->crc_old = its_le32(b + 12);
		x->crc_new = its_le32(b + 16);
		*size = rec_size_v1(x->len);
		data = 2 * (size_t)x->len;
		if (*size > avail)
			return -1;
		c = its_crc32c(its_crc32c(0, b, 20), b + hdr, data);
		if (c != its_le32(b + 20))
			return -1;
	} else {
		x->new_len = its_le32(b + 12);
		if (x->new_len < x->len ||
		    x->new_len - x->len > UNDO_MAX_SPLICE)
			return -1;
		x->crc_old = its_le32(b + 16);
		x->crc_new = its_le32(b + 20);
		*size = rec_size(x->len, x->new_len);
		data = is_splice(x) ? x->len : 2 * (size_t)x->len;
		if (*size > avail)
			return -1;
		c = its_crc32c(its_crc32c(0, b, 24), b + hdr, data);
		if (c != its_le32(b + 24))
			return -1;
	}
	memcpy(x->old, b + hdr, x->len);
	if (!is_splice(x))
		memcpy(x->new, b + hdr + x->len, x->len);
	return 0;
}

static int splice_cmp(const void *a, const void *b, void *arg)
{
	const struct undo_rec *r = arg;
	uint64_t x = r[*(const size_t *)a].off, y = r[*(const size_t *)b].off;

	return x < y ? -1 : x > y;
}

/* Index the splices, put every record at its offset in the original, and
 * check that they fit the sizes: -1 when they do not. */
static int place_records(struct undo_file *u)
{
	uint64_t *grown;		/* before splice k: what they add */
	uint64_t total = 0;
	int rc = 0;

	for (uint32_t i = 0; i < u->nr; i++)
		u->nr_splice += is_splice(&u->rec[i]);
	u->splice = calloc(u->nr_splice + 1, sizeof(*u->splice));
	grown = calloc(u->nr_splice + 1, sizeof(*grown));
	if (!u->splice || !grown) {
		free(grown);
		return -ENOMEM;
	}
	for (uint32_t i = 0, k = 0; i < u->nr; i++)
		if (is_splice(&u->rec[i]))
			u->splice[k++] = i;
	qsort_r(u->splice, u->nr_splice, sizeof(*u->splice), splice_cmp,
		u->rec);
	for (size_t k = 0; k < u->nr_splice; k++) {
		const struct undo_rec *x = &u->rec[u->splice[k]];

		grown[k] = total;
		total += x->new_len - x->len;
		if (k && u->rec[u->splice[k - 1]].off +
				 u->rec[u->splice[k - 1]].new_len > x->off)
			rc = -1;	/* overlapping splices */
	}
	grown[u->nr_splice] = total;
	if (u->t.before.size + total != u->t.size_after)
		rc = -1;
	for (uint32_t i = 0; i < u->nr && rc == 0; i++) {
		struct undo_rec *x = &u->rec[i];
		size_t lo = 0, hi = u->nr_splice;

		/* lo: the splices that start before x */
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (u->rec[u->splice[mid]].off < x->off)
				lo = mid + 1;
			else
				hi = mid;
		}
		x->orig = x->off - grown[lo];
		if (x->off > u->t.size_after ||
		    x->new_len > u->t.size_after - x->off)
			rc = -1;
		/* an overwrite inside a splice's bytes: no such repair */
		if (!is_splice(x) &&
		    ((lo > 0 && u->rec[u->splice[lo - 1]].off +
					u->rec[u->splice[lo - 1]].new_len > x->off) ||
		     (lo < u->nr_splice &&
		      u->rec[u->splice[lo]].off < x->off + x->len)))
			rc = -1;
	}
	free(grown);
	return rc;
}

/* Read an undo file. 0 with u->complete false: incomplete. -ENOENT when it
 * does not exist, -EINVAL when it is not an undo file or is damaged. */
static int undo_read(const char *path, struct undo_file *u,
		     struct its_err *err)
{
	uint8_t *b = NULL;
	size_t len = 0, at;
	uint64_t body, tr;
	unsigned version;
	int rc;

	memset(u, 0, sizeof(*u));
	{
		struct stat st;

		if (stat(path, &st) < 0)
			return its_err_set(err, -errno, path,
					   ITS_ERR_NO_OFFSET,
					   "cannot open the undo file: %s",
					   strerror(errno));
		if (!S_ISREG(st.st_mode))
			return its_err_set(err, -EINVAL, path,
					   ITS_ERR_NO_OFFSET,
					   "not an undo file (not a regular file)");
		if ((uint64_t)st.st_size > UNDO_HDR + (uint64_t)UNDO_MAX_RECORDS *
			    rec_size(16, 16) + UNDO_TRAILER + 32 * (UNDO_MAX_STAMPS + 1))
			return its_err_set(err, -EINVAL, path,
					   ITS_ERR_NO_OFFSET,
					   "not an undo file (%lld bytes, more than one can hold)",
					   (long long)st.st_size);
	}
	rc = its_read_small_file(path, SIZE_MAX / 2, (char **)&b, &len, err);
	if (rc < 0) {
		its_err_prefix(err, "undo file: ");
		return rc;
	}
	if (len < UNDO_HDR || its_le32(b + 508) != its_crc32c(0, b, 508)) {
		/* the header is written first, in one piece */
		if (len >= 8 && memcmp(b, UNDO_MAGIC, 8)) {
			free(b);
			return its_err_set(err, -EINVAL, path, 0,
					   "not an its-fsck undo file (no \"ITSUNDO\" magic)");
		}
		if (len >= UNDO_HDR && has_trailer_magic(b, len)) {
			free(b);
			return damaged(path, err, "header checksum");
		}
		free(b);
		return 0;	/* incomplete */
	}
	if (memcmp(b, UNDO_MAGIC, 8)) {
		free(b);
		return its_err_set(err, -EINVAL, path, 0,
				   "not an its-fsck undo file (no \"ITSUNDO\" magic)");
	}
	version = its_le32(b + 8);
	if ((version != UNDO_VERSION && version != UNDO_VERSION_1) ||
	    its_le32(b + 12) != UNDO_HDR) {
		free(b);
		return its_err_set(err, -ENOTSUP, path, 8,
				   "undo file version %u (this its-fsck reads versions %u and %u)",
				   version, UNDO_VERSION_1, UNDO_VERSION);
	}
	u->t.before.size = its_le64(b + 16);
	u->t.before.mtime_sec = (int64_t)its_le64(b + 24);
	u->t.before.mtime_nsec = its_le32(b + 32);
	u->nr = its_le32(b + 36);
	u->t.before.dev = its_le64(b + 40);
	u->t.before.ino = its_le64(b + 48);
	body = its_le64(b + 56);
	if (version == UNDO_VERSION_1) {
		u->t.size_after = u->t.before.size;
		u->t.in_dev = u->t.before.dev;
		u->t.in_ino = u->t.before.ino;
		memcpy(u->snap_path, b + UNDO_PATH_AT_V1, UNDO_PATH_MAX_V1);
	} else {
		uint32_t flags = its_le32(b + 64);

		if (flags & ~UNDO_F_COPY) {
			free(b);
			return its_err_set(err, -ENOTSUP, path, 64,
					   "undo file flags 0x%x (this its-fsck knows 0x%x)",
					   flags, UNDO_F_COPY);
		}
		u->t.copy = flags & UNDO_F_COPY;
		u->t.size_after = its_le64(b + 72);
		u->t.in_dev = its_le64(b + 80);
		u->t.in_ino = its_le64(b + 88);
		memcpy(u->snap_path, b + UNDO_PATH_AT, UNDO_PATH_MAX);
	}
	u->snap_path[sizeof(u->snap_path) - 1] = '\0';
	if (u->nr > UNDO_MAX_RECORDS || body > (uint64_t)u->nr * rec_size(16, 16)) {
		free(b);
		return damaged(path, err, "record count");
	}
	tr = UNDO_HDR + body;
	if (len < tr + UNDO_TRAILER) {
		free(b);
		return 0;	/* incomplete: died before the trailer was whole */
	}
	if (memcmp(b + tr, TRAILER_MAGIC, 8) ||
	    its_le32(b + tr + 28) != its_crc32c(0, b + tr, 28)) {
		/* a whole trailer that claims completeness but fails its
		 * check was complete once: the file was damaged since */
		bool once = !memcmp(b + tr, TRAILER_MAGIC, 8) ||
			    has_trailer_magic(b + UNDO_HDR, len - UNDO_HDR);

		free(b);
		if (once)
			return damaged(path, err, "trailer");
		return 0;	/* incomplete */
	}
	if (its_le32(b + tr + 8) != u->nr || its_le64(b + tr + 16) != tr ||
	    its_le32(b + tr + 12) != its_crc32c(0, b, (size_t)tr)) {
		free(b);
		return damaged(path, err, "checksum of the records");
	}
	u->rec = calloc(u->nr ? u->nr : 1, sizeof(*u->rec));
	if (!u->rec) {
		free(b);
		return its_err_set(err, -ENOMEM, path, ITS_ERR_NO_OFFSET,
				   "out of memory");
	}
	at = UNDO_HDR;
	for (uint32_t i = 0; i < u->nr; i++) {
		size_t size;

		if (rec_decode(b + at, (size_t)tr - at, version, &u->rec[i],
			       &size) < 0)
			break;
		at += size;
		if (i + 1 == u->nr && at == tr)
			u->complete = true;
	}
	if (u->nr == 0 && tr == UNDO_HDR)
		u->complete = true;
	if (u->complete) {
		rc = place_records(u);
		if (rc == -ENOMEM) {
			free(b);
			undo_file_release(u);
			return its_err_set(err, -ENOMEM, path,
					   ITS_ERR_NO_OFFSET, "out of memory");
		}
		u->complete = rc == 0;
	}
	if (!u->complete) {
		free(b);
		undo_file_release(u);
		return damaged(path, err, "records");
	}
	/* stamps */
	for (size_t k = 0, s = (size_t)tr + UNDO_TRAILER;
	     k < UNDO_MAX_STAMPS && s + 32 <= len; k++, s += 32) {
		const uint8_t *st = b + s;

		if (its_le32(st + 28) != its_crc32c(0, st, 28))
			break;		/* torn: as if never written */
		if (!memcmp(st, APPLIED_MAGIC, 8)) {
			u->applied = true;
			u->after.size = its_le64(st + 8);
			u->after.mtime_sec = (int64_t)its_le64(st + 16);
			u->after.mtime_nsec = its_le32(st + 24);
		} else if (!memcmp(st, UNDOING_MAGIC, 8)) {
			u->undoing = true;
			u->undone = false;
		} else if (!memcmp(st, UNDONE_MAGIC, 8)) {
			u->undone = true;
		}
	}
	free(b);
	return 0;
}

/* What each recorded range of the file holds now. */
enum range_state { RS_OLD = 1, RS_NEW = 2, RS_OTHER = 4 };

/* CRC of bytes [off, off + len) of fd, read 64 KiB at a time. */
static int crc_of_span(int fd, const char *path, uint64_t off, uint64_t len,
		       uint32_t *crc, struct its_err *err)
{
	static uint8_t buf[1 << 16];

	*crc = 0;
	while (len) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		int rc = its_pread_full(fd, buf, n, off, path, err);

		if (rc < 0)
			return rc;
		*crc = its_crc32c(*crc, buf, n);
		off += n;
		len -= n;
	}
	return 0;
}

/* after: the file has the size the repair left, the records are at their
 * offsets; otherwise (splices only) it has the original's size and the
 * records are at their original offsets, where the old bytes belong. */
static int range_states(int fd, const char *path, const struct undo_file *u,
			bool after, unsigned *seen, size_t *first_other,
			struct its_err *err)
{
	*seen = 0;
	*first_other = SIZE_MAX;
	for (uint32_t i = 0; i < u->nr; i++) {
		const struct undo_rec *x = &u->rec[i];
		uint8_t cur[16];
		uint32_t c;
		unsigned st = RS_OTHER;
		int rc;

		if (after && is_splice(x)) {
			rc = crc_of_span(fd, path, x->off, x->new_len, &c, err);
			if (rc < 0)
				return rc;
			if (c == x->crc_new)
				st = RS_NEW;
		} else {
			rc = its_pread_full(fd, cur, x->len,
					    after ? x->off : x->orig, path, err);
			if (rc < 0)
				return rc;
			c = its_crc32c(0, cur, x->len);
			if (!is_splice(x) && !memcmp(x->old, x->new, x->len) &&
			    !memcmp(cur, x->old, x->len))
				continue;	/* a write that changed nothing */
			if (c == x->crc_old && !memcmp(cur, x->old, x->len))
				st = RS_OLD;
			else if (after && c == x->crc_new &&
				 !memcmp(cur, x->new, x->len))
				st = RS_NEW;
		}
		*seen |= st;
		if (st == RS_OTHER && *first_other == SIZE_MAX)
			*first_other = i;
	}
	return 0;
}

/* The copy an undo file of -o names is there (under the name it was
 * given, with the inode it recorded). */
static bool copy_exists(const struct undo_file *u)
{
	struct stat st;

	return stat(u->snap_path, &st) == 0 &&
	       (uint64_t)st.st_dev == u->t.before.dev &&
	       (uint64_t)st.st_ino == u->t.before.ino;
}

int undo_replaceable(const char *path, int snap_fd,
		     const struct undo_ident *id,
		     const struct undo_ident *replaced, struct its_err *err)
{
	struct undo_file u;
	struct its_err e2;
	size_t other;
	unsigned seen;
	int rc;

	its_err_clear(&e2);
	rc = undo_read(path, &u, &e2);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return its_err_set(err, -EEXIST, path, ITS_ERR_NO_OFFSET,
				   "cannot write the undo file here: a file of that name exists (%s); move it away or name another undo file; nothing was written",
				   e2.msg);
	if (!u.complete)
		return 0;	/* from a repair that never wrote */
	rc = -EEXIST;
	if (u.undone && u.t.copy)
		rc = 0;		/* its undo finished (the copy's inode may
				 * be another now); a snapshot undone in
				 * place is looked at below, since the undo
				 * may have gone to another file */
	else if (replaced && u.t.before.dev == replaced->dev &&
		 u.t.before.ino == replaced->ino)
		rc = 0;		/* the file it undoes is being replaced */
	else if (u.t.copy && !u.applied && !copy_exists(&u))
		rc = 0;		/* its copy was never made (killed before
				 * the rename) */
	else if (snap_fd >= 0 && u.t.before.dev == id->dev &&
		 u.t.before.ino == id->ino &&
		 (id->size == u.t.size_after ||
		  (u.nr_splice && id->size == u.t.before.size)) &&
		 range_states(snap_fd, path, &u, id->size == u.t.size_after,
			      &seen, &other, &e2) == 0 &&
		 !(seen & (RS_NEW | RS_OTHER)))
		rc = 0;		/* already undone: it keeps nothing */
	undo_file_release(&u);
	if (rc < 0)
		return its_err_set(err, rc, path, ITS_ERR_NO_OFFSET,
				   "an undo file of an earlier repair is here and still undoes something: run its-fsck --undo %s first, or move it away, or name another undo file; nothing was written",
				   path);
	return 0;
}

/* ------------------------------------------------------------ undo */

unsigned repair_test_undo_abort_after;

static void count_undo_write(size_t *written)
{
	if (++*written == repair_test_undo_abort_after)
		_exit(99);
}

/* The original rebuilt beside the file (see the top of this file), then
 * renamed over it. */
static int rebuild(int fd, const char *path, const struct undo_file *u,
		   size_t *written, struct its_err *err)
{
	char *real = realpath(path, NULL), *tmp = NULL;
	const char *target = real ? real : path;
	uint64_t pos = 0, delta = 0, copied = 0;
	struct timespec ts[2];
	struct stat st;
	int out = -1, rc;

	if (fstat(fd, &st) < 0) {
		rc = its_err_set(err, -errno, path, ITS_ERR_NO_OFFSET,
				 "cannot stat: %s; nothing was restored",
				 strerror(errno));
		goto out;
	}
	if (asprintf(&tmp, "%s.its-tmp.XXXXXX", target) < 0) {
		tmp = NULL;
		rc = its_err_set(err, -ENOMEM, path, ITS_ERR_NO_OFFSET,
				 "out of memory");
		goto out;
	}
	out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0) {
		rc = its_err_set(err, -errno, path, ITS_ERR_NO_OFFSET,
				 "cannot create a file beside it to rebuild the original in: %s; nothing was restored",
				 strerror(errno));
		goto out;
	}
	if (ftruncate(out, (off_t)u->t.before.size) < 0) {
		rc = its_err_set(err, -errno, tmp, ITS_ERR_NO_OFFSET,
				 "cannot size it to %llu bytes: %s",
				 (unsigned long long)u->t.before.size,
				 strerror(errno));
		goto fail;
	}
	for (size_t k = 0; k < u->nr_splice; k++) {
		const struct undo_rec *x = &u->rec[u->splice[k]];

		rc = repair_copy_span(fd, out, pos, x->off, delta, &copied,
				      path, tmp, err);
		if (rc == 0)
			rc = its_pwrite_full(out, x->old, x->len, x->orig, tmp,
					     err);
		if (rc < 0)
			goto fail;
		count_undo_write(written);
		pos = x->off + x->new_len;
		delta -= x->new_len - x->len;
	}
	rc = repair_copy_span(fd, out, pos, u->t.size_after, delta, &copied,
			      path, tmp, err);
	if (rc < 0)
		goto fail;
	for (uint32_t i = 0; i < u->nr; i++) {
		const struct undo_rec *x = &u->rec[i];

		if (is_splice(x))
			continue;
		rc = its_pwrite_full(out, x->old, x->len, x->orig, tmp, err);
		if (rc < 0)
			goto fail;
		count_undo_write(written);
	}
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = (time_t)u->t.before.mtime_sec;
	ts[1].tv_nsec = (long)u->t.before.mtime_nsec;
	if (fchmod(out, st.st_mode & 07777) < 0 || fsync(out) < 0 ||
	    futimens(out, ts) < 0 || fsync(out) < 0) {
		rc = its_err_set(err, -errno, tmp, ITS_ERR_NO_OFFSET,
				 "cannot finish the rebuilt file: %s",
				 strerror(errno));
		goto fail;
	}
	rc = close(out);
	out = -1;
	if (rc < 0) {
		rc = its_err_set(err, -errno, tmp, ITS_ERR_NO_OFFSET,
				 "cannot finish the rebuilt file: %s",
				 strerror(errno));
		goto fail;
	}
	if (rename(tmp, target) < 0) {
		rc = its_err_set(err, -errno, path, ITS_ERR_NO_OFFSET,
				 "cannot rename %s to it: %s", tmp,
				 strerror(errno));
		goto fail;
	}
	rc = its_fsync_dir_of(target, err);
	if (rc < 0)
		its_err_prefix(err, "the original bytes are back, but ");
	goto out;
fail:
	if (out >= 0)
		close(out);
	unlink(tmp);
	its_err_prefix(err, "rebuilding the original failed after %llu bytes, the file is as the repair left it: ",
		       (unsigned long long)copied);
out:
	free(tmp);
	free(real);
	return rc;
}

int repair_undo(const char *undo_path, const char *snapshot_path,
		struct its_err *err)
{
	struct its_err local_err;
	struct undo_ident now, again;
	struct undo_file u;
	struct timespec ts[2];
	size_t other, written = 0;
	unsigned seen;
	bool after;
	int fd, rc;

	if (!err)
		err = &local_err;
	its_err_clear(err);
	rc = undo_read(undo_path, &u, err);
	if (rc < 0)
		return rc;
	if (!u.complete) {
		its_err_set(err, 0, undo_path, ITS_ERR_NO_OFFSET,
			    "undo file is incomplete: the repair stopped while writing it, before the snapshot was touched; nothing to undo");
		return REPAIR_UNDO_NOTHING;
	}
	fd = open(snapshot_path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = its_err_set(err, -errno, snapshot_path, ITS_ERR_NO_OFFSET,
				 "cannot open for writing: %s; nothing was restored",
				 strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = its_err_set(err, errno == EWOULDBLOCK ? -EBUSY : -errno,
				 snapshot_path, ITS_ERR_NO_OFFSET,
				 "cannot lock: %s (another its-fsck at work on it?); nothing was restored",
				 errno == EWOULDBLOCK ? "it is locked" :
							strerror(errno));
		goto out;
	}
	rc = undo_ident_of(fd, snapshot_path, &now, err);
	if (rc < 0)
		goto out;
	if (u.t.copy && now.dev == u.t.in_dev && now.ino == u.t.in_ino) {
		rc = its_err_set(err, -ESTALE, snapshot_path, ITS_ERR_NO_OFFSET,
				 "is the input of the repair (same inode), not the copy %s undoes (%s); nothing was restored",
				 undo_path, u.snap_path);
		goto out;
	}
	after = now.size == u.t.size_after;
	if (!after && !(u.nr_splice && now.size == u.t.before.size)) {
		if (u.nr_splice)
			rc = its_err_set(err, -ESTALE, snapshot_path, ITS_ERR_NO_OFFSET,
					 "the %s is %llu bytes, but was %llu after the repair (and %llu before) %s undoes: it changed since the repair (or is another file); nothing was restored",
					 u.t.copy ? "copy" : "snapshot",
					 (unsigned long long)now.size,
					 (unsigned long long)u.t.size_after,
					 (unsigned long long)u.t.before.size,
					 undo_path);
		else
			rc = its_err_set(err, -ESTALE, snapshot_path, ITS_ERR_NO_OFFSET,
					 "the %s is %llu bytes, but was %llu when %s was written: it changed since the repair (or is another file); nothing was restored",
					 u.t.copy ? "copy" : "snapshot",
					 (unsigned long long)now.size,
					 (unsigned long long)u.t.size_after,
					 undo_path);
		goto out;
	}
	rc = range_states(fd, snapshot_path, &u, after, &seen, &other, err);
	if (rc < 0)
		goto out;
	if (seen & RS_OTHER) {
		const struct undo_rec *x = &u.rec[other];

		if (after && is_splice(x))
			rc = its_err_set(err, -ESTALE, snapshot_path, x->off,
					 "the %llu bytes of the page the repair re-encoded here are not what it wrote (undo file %s): the copy changed since the repair, or is another file; nothing was restored",
					 (unsigned long long)x->new_len,
					 undo_path);
		else if (after)
			rc = its_err_set(err, -ESTALE, snapshot_path, x->off,
					 "%u bytes here hold neither what the repair wrote nor the original bytes (undo file %s): the %s changed since the repair, or is another file; nothing was restored",
					 x->len, undo_path,
					 u.t.copy ? "copy" : "snapshot");
		else
			rc = its_err_set(err, -ESTALE, snapshot_path, x->orig,
					 "has the size of the original, but %u bytes here are not the original ones (undo file %s): it is another file; nothing was restored",
					 x->len, undo_path);
		goto out;
	}
	if (!(seen & RS_NEW)) {
		its_err_set(err, 0, snapshot_path, ITS_ERR_NO_OFFSET,
			    "already holds the original bytes of every range in %s: nothing to undo",
			    undo_path);
		rc = REPAIR_UNDO_NOTHING;
		goto out;
	}
	if (u.applied && !u.undoing &&
	    (now.mtime_sec != u.after.mtime_sec ||
	     now.mtime_nsec != u.after.mtime_nsec || (seen & RS_OLD))) {
		char t1[64], t2[64];

		fmt_time(t1, sizeof(t1), now.mtime_sec, now.mtime_nsec);
		fmt_time(t2, sizeof(t2), u.after.mtime_sec,
			 u.after.mtime_nsec);
		rc = its_err_set(err, -ESTALE, snapshot_path, ITS_ERR_NO_OFFSET,
				 "modified since the repair (mtime %s, the repair left %s): putting the old bytes back could mix two versions; nothing was restored",
				 t1, t2);
		goto out;
	}
	/* an interrupted undo (or apply) is accepted by a second run */
	rc = append_stamp(undo_path, UNDOING_MAGIC, NULL, err);
	if (rc < 0) {
		its_err_prefix(err, "cannot record the undo in the undo file (copy it somewhere writable first): ");
		goto out;
	}
	rc = undo_ident_of(fd, snapshot_path, &again, err);
	if (rc < 0)
		goto out;
	if (!undo_ident_same(&now, &again)) {
		rc = its_err_set(err, -ESTALE, snapshot_path, ITS_ERR_NO_OFFSET,
				 "changed while the undo was being prepared; nothing was restored, run the undo again");
		goto out;
	}
	if (u.nr_splice) {
		rc = rebuild(fd, snapshot_path, &u, &written, err);
		if (rc < 0)
			goto out;
		goto done;
	}
	for (uint32_t i = 0; i < u.nr; i++) {
		rc = its_pwrite_full(fd, u.rec[i].old, u.rec[i].len,
				     u.rec[i].off, snapshot_path, err);
		if (rc < 0) {
			its_err_prefix(err, "restore stopped after %zu of %u ranges, run the undo again: ",
				       written, u.nr);
			goto out;
		}
		count_undo_write(&written);
	}
	if (fsync(fd) < 0) {
		rc = its_err_set(err, -errno, snapshot_path, ITS_ERR_NO_OFFSET,
				 "fsync failed after restoring: %s; run the undo again",
				 strerror(errno));
		goto out;
	}
	/* the original identity too, so that the file is what it was */
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = (time_t)u.t.before.mtime_sec;
	ts[1].tv_nsec = (long)u.t.before.mtime_nsec;
	if (futimens(fd, ts) < 0 || fsync(fd) < 0) {
		rc = its_err_set(err, -errno, snapshot_path, ITS_ERR_NO_OFFSET,
				 "bytes restored, but the modification time could not be set back: %s",
				 strerror(errno));
		goto out;
	}
done:
	/* a missing stamp only keeps the next repair from replacing the
	 * undo file without looking at the file */
	(void)append_stamp(undo_path, UNDONE_MAGIC, NULL, NULL);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	undo_file_release(&u);
	return rc;
}
