/* The undo file: every byte a repair replaces, kept before the first write,
 * and `its-fsck --undo FILE SNAPSHOT` putting them back.
 *
 * Format, version 1. Integers little-endian; CRCs are CRC-32C (its_crc32c).
 *
 *   header, 512 bytes
 *       0   8  magic "ITSUNDO\0"
 *       8   4  version (1)
 *      12   4  header size (512)
 *      16   8  snapshot size in bytes, when the repair started
 *      24   8  snapshot mtime, seconds (signed), when the repair started
 *      32   4  snapshot mtime, nanoseconds
 *      36   4  number of records N
 *      40   8  snapshot st_dev
 *      48   8  snapshot st_ino
 *      56   8  bytes of the record area that follows the header
 *      64 440  snapshot path as given (NUL-terminated, cut if longer)
 *     504   4  reserved, 0
 *     508   4  CRC of bytes 0..507
 *   N records, back to back, each a multiple of 8 bytes
 *       0   8  file offset
 *       8   4  length L (1..16)
 *      12   4  CRC of the old bytes
 *      16   4  CRC of the new bytes: the region as the repair leaves it
 *      20   4  CRC of bytes 0..19 of the record and its 2L data bytes
 *      24   L  old bytes
 *    24+L   L  new bytes
 *              zeros up to a multiple of 8
 *   trailer "complete", 32 bytes: written after the header and records are
 *   on disk (fsync), then fsync'ed itself; the snapshot is written only
 *   after that (and after the file got its final name, see below)
 *       0   8  magic "COMPLETE"
 *       8   4  N
 *      12   4  CRC of every byte before the trailer
 *      16   8  offset of the trailer (512 + record area)
 *      24   4  reserved, 0
 *      28   4  CRC of bytes 0..27
 *   stamps, 32 bytes each, appended (and fsync'ed) later
 *       0   8  magic "APPLIED\0": every range written and fsync'ed; or
 *                    "UNDOING\0": an undo started putting bytes back
 *       8   8  snapshot size after the writes (APPLIED; 0 for UNDOING)
 *      16   8  snapshot mtime seconds after the writes (APPLIED)
 *      24   4  nanoseconds
 *      28   4  CRC of bytes 0..27
 *
 * The file is written as NAME.tmp and renamed to NAME once complete, so a
 * file under the final name is complete unless the disk lost it. Its size
 * is bounded by the plan: 512 + N * (24 + 2L rounded up to 8) + 32 + stamps.
 *
 * Undo rules: no valid trailer: the repair died while writing the undo file,
 * before any write to the snapshot: nothing to undo (REPAIR_UNDO_NOTHING).
 * Otherwise the snapshot must have the recorded size and every recorded
 * range must hold either its old or its new bytes (checked by CRC and by
 * comparison); with an APPLIED stamp (and no UNDOING one) every range must
 * hold its new bytes and the mtime must be the stamp's: anything else means
 * the snapshot changed after the repair, and nothing is written. Then an
 * UNDOING stamp, the old bytes, fsync, and the snapshot's original mtime. */
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
#define UNDO_VERSION		1
#define UNDO_HDR		512
#define UNDO_PATH_MAX		440
#define UNDO_TRAILER		32
#define UNDO_REC_HDR		24
#define UNDO_MAX_RECORDS	(1u << 20)
#define UNDO_MAX_STAMPS		64
#define TRAILER_MAGIC		"COMPLETE"
#define APPLIED_MAGIC		"APPLIED\0"
#define UNDOING_MAGIC		"UNDOING\0"

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

static size_t rec_size(unsigned len)
{
	return (UNDO_REC_HDR + 2 * (size_t)len + 7) & ~(size_t)7;
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

int undo_write(const char *path, const char *snap_path,
	       const struct undo_ident *id, const struct repair_range *v,
	       size_t n, unsigned abort_stage, struct its_err *err)
{
	size_t body = 0, at = UNDO_HDR, plen;
	uint8_t *buf, trailer[UNDO_TRAILER];
	char *tmp;
	int fd, rc;

	if (n > UNDO_MAX_RECORDS)
		return its_err_set(err, -E2BIG, path, ITS_ERR_NO_OFFSET,
				   "a plan of %zu ranges is more than an undo file holds (%u)",
				   n, UNDO_MAX_RECORDS);
	for (size_t i = 0; i < n; i++)
		body += rec_size(v[i].len);
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
	put_u64(buf + 16, id->size);
	put_u64(buf + 24, (uint64_t)id->mtime_sec);
	put_u32(buf + 32, id->mtime_nsec);
	put_u32(buf + 36, (uint32_t)n);
	put_u64(buf + 40, id->dev);
	put_u64(buf + 48, id->ino);
	put_u64(buf + 56, body);
	plen = strlen(snap_path);
	memcpy(buf + 64, snap_path, plen < UNDO_PATH_MAX - 1 ? plen :
							      UNDO_PATH_MAX - 1);
	put_u32(buf + 508, its_crc32c(0, buf, 508));
	for (size_t i = 0; i < n; i++) {
		uint8_t *r = buf + at;
		uint32_t c;

		put_u64(r, v[i].off);
		put_u32(r + 8, v[i].len);
		put_u32(r + 12, its_crc32c(0, v[i].old, v[i].len));
		put_u32(r + 16, its_crc32c(0, v[i].new, v[i].len));
		memcpy(r + UNDO_REC_HDR, v[i].old, v[i].len);
		memcpy(r + UNDO_REC_HDR + v[i].len, v[i].new, v[i].len);
		c = its_crc32c(0, r, 20);
		c = its_crc32c(c, r + UNDO_REC_HDR, 2 * (size_t)v[i].len);
		put_u32(r + 20, c);
		at += rec_size(v[i].len);
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
	if (rc == 0 && rename(tmp, path) < 0)
		rc = its_err_set(err, -errno, path, ITS_ERR_NO_OFFSET,
				 "cannot rename %s to it: %s", tmp,
				 strerror(errno));
	if (rc == 0)
		rc = its_fsync_dir_of(path, err);
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

/* ------------------------------------------------------------ decode */

struct undo_rec {
	uint64_t off;
	unsigned len;
	uint32_t crc_old, crc_new;
	uint8_t old[16], new[16];
};

struct undo_file {
	struct undo_ident id;		/* when the repair started */
	char snap_path[UNDO_PATH_MAX];
	uint32_t nr;
	struct undo_rec *rec;
	bool complete;
	bool applied, undoing;
	struct undo_ident after;	/* APPLIED: size and mtime */
};

static void undo_file_release(struct undo_file *u)
{
	free(u->rec);
	u->rec = NULL;
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

/* Read an undo file. 0 with u->complete false: incomplete. -ENOENT when it
 * does not exist, -EINVAL when it is not an undo file or is damaged. */
static int undo_read(const char *path, struct undo_file *u,
		     struct its_err *err)
{
	uint8_t *b = NULL;
	size_t len = 0, at;
	uint64_t body, tr;
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
			    rec_size(16) + UNDO_TRAILER + 32 * (UNDO_MAX_STAMPS + 1))
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
	if (its_le32(b + 8) != UNDO_VERSION || its_le32(b + 12) != UNDO_HDR) {
		free(b);
		return its_err_set(err, -ENOTSUP, path, 8,
				   "undo file version %u (this its-fsck reads version %u)",
				   its_le32(b + 8), UNDO_VERSION);
	}
	u->id.size = its_le64(b + 16);
	u->id.mtime_sec = (int64_t)its_le64(b + 24);
	u->id.mtime_nsec = its_le32(b + 32);
	u->nr = its_le32(b + 36);
	u->id.dev = its_le64(b + 40);
	u->id.ino = its_le64(b + 48);
	body = its_le64(b + 56);
	memcpy(u->snap_path, b + 64, UNDO_PATH_MAX);
	u->snap_path[UNDO_PATH_MAX - 1] = '\0';
	if (u->nr > UNDO_MAX_RECORDS || body > (uint64_t)u->nr * rec_size(16)) {
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
		const uint8_t *r = b + at;
		struct undo_rec *x = &u->rec[i];
		uint32_t c;

		if (at + UNDO_REC_HDR > tr)
			break;
		x->off = its_le64(r);
		x->len = its_le32(r + 8);
		if (x->len == 0 || x->len > 16 || at + rec_size(x->len) > tr)
			break;
		x->crc_old = its_le32(r + 12);
		x->crc_new = its_le32(r + 16);
		c = its_crc32c(its_crc32c(0, r, 20), r + UNDO_REC_HDR,
			       2 * (size_t)x->len);
		if (c != its_le32(r + 20))
			break;
		memcpy(x->old, r + UNDO_REC_HDR, x->len);
		memcpy(x->new, r + UNDO_REC_HDR + x->len, x->len);
		at += rec_size(x->len);
		if (i + 1 == u->nr && at == tr)
			u->complete = true;
	}
	if (u->nr == 0 && tr == UNDO_HDR)
		u->complete = true;
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
		}
	}
	free(b);
	return 0;
}

/* What each recorded range of the snapshot holds now. */
enum range_state { RS_OLD = 1, RS_NEW = 2, RS_OTHER = 4 };

static int range_states(int fd, const char *path, const struct undo_file *u,
			unsigned *seen, size_t *first_other,
			struct its_err *err)
{
	*seen = 0;
	*first_other = SIZE_MAX;
	for (uint32_t i = 0; i < u->nr; i++) {
		const struct undo_rec *x = &u->rec[i];
		uint8_t cur[16];
		uint32_t c;
		int rc = its_pread_full(fd, cur, x->len, x->off, path, err);

		if (rc < 0)
			return rc;
		c = its_crc32c(0, cur, x->len);
		if (!memcmp(x->old, x->new, x->len) &&
		    !memcmp(cur, x->old, x->len))
			continue;	/* a write that changed nothing */
		if (c == x->crc_old && !memcmp(cur, x->old, x->len)) {
			*seen |= RS_OLD;
		} else if (c == x->crc_new && !memcmp(cur, x->new, x->len)) {
			*seen |= RS_NEW;
		} else {
			*seen |= RS_OTHER;
			if (*first_other == SIZE_MAX)
				*first_other = i;
		}
	}
	return 0;
}

int undo_replaceable(const char *path, int snap_fd,
		     const struct undo_ident *id, struct its_err *err)
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
	if (u.id.dev == id->dev && u.id.ino == id->ino &&
	    u.id.size == id->size &&
	    range_states(snap_fd, path, &u, &seen, &other, &e2) == 0 &&
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

int repair_undo(const char *undo_path, const char *snapshot_path,
		struct its_err *err)
{
	struct its_err local_err;
	struct undo_ident now, again;
	struct undo_file u;
	struct timespec ts[2];
	size_t other, written = 0;
	unsigned seen;
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
	if (now.size != u.id.size) {
		rc = its_err_set(err, -ESTALE, snapshot_path, ITS_ERR_NO_OFFSET,
				 "the snapshot is %llu bytes, but was %llu when %s was written: it changed since the repair (or is another file); nothing was restored",
				 (unsigned long long)now.size,
				 (unsigned long long)u.id.size, undo_path);
		goto out;
	}
	rc = range_states(fd, snapshot_path, &u, &seen, &other, err);
	if (rc < 0)
		goto out;
	if (seen & RS_OTHER) {
		rc = its_err_set(err, -ESTALE, snapshot_path,
				 u.rec[other].off,
				 "%u bytes here hold neither what the repair wrote nor the original bytes (undo file %s): the snapshot changed since the repair, or is another file; nothing was restored",
				 u.rec[other].len, undo_path);
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
	for (uint32_t i = 0; i < u.nr; i++) {
		rc = its_pwrite_full(fd, u.rec[i].old, u.rec[i].len,
				     u.rec[i].off, snapshot_path, err);
		if (rc < 0) {
			its_err_prefix(err, "restore stopped after %zu of %u ranges, run the undo again: ",
				       written, u.nr);
			goto out;
		}
		if (++written == repair_test_undo_abort_after)
			_exit(99);
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
	ts[1].tv_sec = (time_t)u.id.mtime_sec;
	ts[1].tv_nsec = (long)u.id.mtime_nsec;
	if (futimens(fd, ts) < 0 || fsync(fd) < 0) {
		rc = its_err_set(err, -errno, snapshot_path, ITS_ERR_NO_OFFSET,
				 "bytes restored, but the modification time could not be set back: %s",
				 strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	undo_file_release(&u);
	return rc;
}
