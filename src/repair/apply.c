/* Writing a plan: in place (undo file first, then every copy of every
 * entry, then fsync), or into a repaired copy (-o OUT: undo file first,
 * then the copy; the input is never written).
 *
 * Order of an in-place repair, and what a crash (kill -9) at each point
 * leaves:
 *   1. identity of the snapshot (fstat of s->fd), every range located, the
 *      bytes it holds read and the authoritative ones compared with the
 *      plan's "old" values                      -> nothing written
 *   2. undo file: NAME.tmp, fsync, trailer, fsync, rename, fsync dir
 *                                               -> snapshot untouched; an
 *      undo of the .tmp says "nothing to undo"
 *   3. identity compared again (a snapshot that changed since step 1 is
 *      refused and the undo file removed)
 *   4. every range written, fsync               -> --undo restores
 *   5. APPLIED stamp in the undo file           -> --undo also checks mtime
 * A write that fails in step 4 puts back the ranges already written.
 *
 * -o OUT: step 1, then
 *   2. OUT.its-tmp.XXXXXX created (empty: the undo file names its inode)
 *      and the undo file (OUT.its-undo by default) written as NAME.tmp,
 *      complete and flushed: where the copy will differ from the input,
 *      at the copy's offsets, with the input's bytes as the old ones (a
 *      ZERO record re-encoded as a PAGE record is a splice: its fill byte
 *      became a page)                           -> OUT as it was
 *   3. the copy made, compared, written, flushed -> OUT as it was
 *   4. the undo file renamed to NAME, then the copy to OUT, each followed
 *      by an fsync of the directory             -> --undo OUT restores
 *   5. APPLIED stamp                            -> --undo also checks mtime
 * Until step 4 an undo file already at NAME (of the OUT this replaces)
 * stays as it was, and a failure leaves both as they were. */
#include "its/undo.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "its/io.h"

void (*repair_test_before_write)(void *arg);
void *repair_test_before_write_arg;

/* What a range is, for messages: "the entry at GPA 0x40b10040" or
 * "ITS 0 GITS_BASER1". */
static void range_what(const struct repair_plan *p, const struct repair_range *x,
		       char *buf, size_t len)
{
	const struct repair_write *w = &p->v[x->write];
	char name[16];

	if (w->kind == REPAIR_RAM)
		snprintf(buf, len, "the entry at GPA 0x%llx",
			 (unsigned long long)w->gpa);
	else if (w->reg == RREG_GICR_PROPBASER)
		snprintf(buf, len, "vCPU %u %s", w->cpu,
			 repair_reg_name(w->reg, name));
	else
		snprintf(buf, len, "ITS %u %s", w->its,
			 repair_reg_name(w->reg, name));
}

static void hex(char *buf, size_t len, const uint8_t *b, unsigned n)
{
	size_t k = 0;

	for (unsigned i = 0; i < n && k + 3 < len; i++)
		k += (size_t)snprintf(buf + k, len - k, "%02x", b[i]);
	buf[k] = '\0';
}

/* Every authoritative range must hold what the plan says it holds. */
static int check_old(const struct snapshot *s, const struct repair_plan *p,
		     const struct repair_ranges *r, struct its_err *err)
{
	for (size_t i = 0; i < r->nr; i++) {
		const struct repair_range *x = &r->v[i];
		char what[96], a[40], b[40];

		static const uint8_t zeros[16];
		/* a clear-bit mapped-ram page reads as zeros */
		const uint8_t *have = x->zero_page ? zeros : x->old;

		if (!x->last || !memcmp(have, x->expect, x->len))
			continue;
		range_what(p, x, what, sizeof(what));
		hex(a, sizeof(a), have, x->len);
		hex(b, sizeof(b), x->expect, x->len);
		return its_err_set(err, -ESTALE, s->path, x->off,
				   "%s holds bytes %s, but the plan was made for %s: the snapshot changed since it was checked; nothing was written",
				   what, a, b);
	}
	return 0;
}

static int stale(const struct snapshot *s, const struct undo_ident *was,
		 const struct undo_ident *now, const char *when,
		 struct its_err *err)
{
	if (now->dev != was->dev || now->ino != was->ino)
		return its_err_set(err, -ESTALE, s->path, ITS_ERR_NO_OFFSET,
				   "the file was replaced %s; nothing was written",
				   when);
	if (now->size != was->size)
		return its_err_set(err, -ESTALE, s->path, ITS_ERR_NO_OFFSET,
				   "the file is %llu bytes, it was %llu %s; nothing was written, check it again",
				   (unsigned long long)now->size,
				   (unsigned long long)was->size, when);
	return its_err_set(err, -ESTALE, s->path, ITS_ERR_NO_OFFSET,
			   "the file was modified (mtime) %s; nothing was written, check it again",
			   when);
}

static void count_write(unsigned *done, unsigned abort_after)
{
	if (++*done == abort_after)
		_exit(99);
}

/* The undo record of range x, at off in the file written. */
static void overwrite_record(struct undo_record *rec,
			     const struct repair_range *x, uint64_t off)
{
	memset(rec, 0, sizeof(*rec));
	rec->off = off;
	rec->old_len = x->len;
	rec->new_len = x->len;
	memcpy(rec->old, x->old, x->len);
	memcpy(rec->new, x->new, x->len);
}

/* ------------------------------------------------------------ in place */

/* Put back ranges [0, upto]; true when every one was put back. */
static bool roll_back(int fd, const struct repair_ranges *r, size_t upto)
{
	bool ok = true;

	for (size_t i = 0; i <= upto && i < r->nr; i++)
		if (its_pwrite_full(fd, r->v[i].old, r->v[i].len, r->v[i].off,
				    "", NULL) < 0)
			ok = false;
	return fsync(fd) == 0 && ok;
}

static int apply_in_place(const struct snapshot *s, const struct repair_plan *p,
			  const struct repair_ranges *r,
			  const struct repair_apply_opts *o,
			  const struct undo_ident *id0, struct its_err *err)
{
	struct undo_ident id, after;
	char *undo = NULL;
	const char *undo_path = o->undo_path;
	unsigned done = 0;
	int fd, rc;

	fd = open(s->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return its_err_set(err, -errno, s->path, ITS_ERR_NO_OFFSET,
				   "cannot open for writing: %s (write a repaired copy with -o OUT instead); nothing was written",
				   strerror(errno));
	rc = undo_ident_of(fd, s->path, &id, err);
	if (rc == 0 && (id.dev != id0->dev || id.ino != id0->ino))
		rc = stale(s, id0, &id, "since it was opened", err);
	if (rc == 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
		rc = its_err_set(err, errno == EWOULDBLOCK ? -EBUSY : -errno,
				 s->path, ITS_ERR_NO_OFFSET,
				 "cannot lock: %s (another its-fsck at work on it?); nothing was written",
				 errno == EWOULDBLOCK ? "it is locked" :
							strerror(errno));
	if (rc < 0)
		goto out;
	if (!undo_path) {
		if (asprintf(&undo, "%s.its-undo", s->path) < 0) {
			undo = NULL;
			rc = its_err_set(err, -ENOMEM, s->path,
					 ITS_ERR_NO_OFFSET, "out of memory");
			goto out;
		}
		undo_path = undo;
	}
	rc = undo_replaceable(undo_path, fd, id0, NULL, err);
	if (rc < 0)
		goto out;
	{
		struct undo_target t = { .before = *id0,
					 .size_after = id0->size };
		struct undo_record *rec = calloc(r->nr + 1, sizeof(*rec));

		if (!rec) {
			rc = its_err_set(err, -ENOMEM, s->path,
					 ITS_ERR_NO_OFFSET, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < r->nr; i++)
			overwrite_record(&rec[i], &r->v[i], r->v[i].off);
		rc = undo_write(undo_path, s->path, &t, rec, r->nr,
				o->abort_after, err);
		free(rec);
	}
	if (rc < 0)
		goto out;
	if (repair_test_before_write)
		repair_test_before_write(repair_test_before_write_arg);
	if (o->abort_after == REPAIR_ABORT_NO_WRITE)
		_exit(99);
	/* the last look before writing: same file, size and mtime as when
	 * this repair started, same bytes where it writes */
	rc = undo_ident_of(s->fd, s->path, &id, err);
	if (rc == 0 && !undo_ident_same(&id, id0))
		rc = stale(s, id0, &id, "since the repair started", err);
	for (size_t i = 0; i < r->nr && rc == 0; i++) {
		uint8_t cur[16];

		rc = its_pread_full(fd, cur, r->v[i].len, r->v[i].off, s->path,
				    err);
		if (rc == 0 && memcmp(cur, r->v[i].old, r->v[i].len))
			rc = its_err_set(err, -ESTALE, s->path, r->v[i].off,
					 "the bytes here changed since the repair started; nothing was written, check it again");
	}
	if (rc < 0) {
		unlink(undo_path);
		its_fsync_dir_of(undo_path, NULL);
		goto out;
	}
	for (size_t i = 0; i < r->nr; i++) {
		rc = its_pwrite_full(fd, r->v[i].new, r->v[i].len, r->v[i].off,
				     s->path, err);
		if (rc < 0) {
			char what[96];

			range_what(p, &r->v[i], what, sizeof(what));
			if (roll_back(fd, r, i)) {
				unlink(undo_path);
				its_err_prefix(err, "writing %s failed, the %zu ranges written before were put back (the snapshot is unchanged): ",
					       what, i);
			} else {
				its_err_prefix(err, "writing %s failed, and putting back the bytes failed too: run its-fsck --undo %s: ",
					       what, undo_path);
			}
			goto out;
		}
		count_write(&done, o->abort_after);
	}
	if (fsync(fd) < 0) {
		rc = its_err_set(err, -errno, s->path, ITS_ERR_NO_OFFSET,
				 "fsync failed: %s: the repair may not be on disk; its-fsck --undo %s restores the original bytes",
				 strerror(errno), undo_path);
		goto out;
	}
	/* the undo can then refuse a snapshot modified after the repair; a
	 * missing stamp only makes it less strict */
	if (undo_ident_of(fd, s->path, &after, NULL) == 0)
		(void)undo_stamp_applied(undo_path, &after, NULL);
	rc = 0;
out:
	close(fd);
	free(undo);
	return rc;
}

/* ------------------------------------------------------------ -o OUT */

/* Bytes [off, off + len) of in go to off + delta in out. */
static int copy_plain(int in, int out, uint64_t off, uint64_t len,
		      uint64_t delta, uint64_t *copied, const char *in_path,
		      const char *out_path, struct its_err *err)
{
	static const size_t chunk = 1u << 20;
	uint8_t *buf = malloc(chunk);
	int rc = 0;

	if (!buf)
		return its_err_set(err, -ENOMEM, out_path, ITS_ERR_NO_OFFSET,
				   "out of memory");
	while (len && rc == 0) {
		size_t n = len < chunk ? (size_t)len : chunk;

		rc = its_pread_full(in, buf, n, off, in_path, err);
		if (rc == 0)
			rc = its_pwrite_full(out, buf, n, off + delta, out_path,
					     err);
		off += n;
		len -= n;
		if (rc == 0)
			*copied += n;
	}
	free(buf);
	return rc;
}

static int copy_range(int in, int out, uint64_t off, uint64_t len,
		      uint64_t delta, uint64_t *copied, const char *in_path,
		      const char *out_path, struct its_err *err)
{
	while (len) {
		loff_t a = (loff_t)off, b = (loff_t)(off + delta);
		ssize_t n = copy_file_range(in, &a, out, &b,
					    len > (1u << 30) ? (1u << 30) : len,
					    0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == ENOSYS ||
			      errno == EINVAL || errno == EOPNOTSUPP ||
			      errno == EBADF))
			return copy_plain(in, out, off, len, delta, copied,
					  in_path, out_path, err);
		if (n < 0)
			return its_err_set(err, -errno, out_path, off,
					   "write failed: %s", strerror(errno));
		if (n == 0)
			return its_err_set(err, -EIO, in_path, off,
					   "unexpected end of file while copying (the file shrank?)");
		off += (uint64_t)n;
		len -= (uint64_t)n;
		*copied += (uint64_t)n;
	}
	return 0;
}

int repair_copy_span(int in, int out, uint64_t off, uint64_t end,
		     uint64_t delta, uint64_t *copied, const char *in_path,
		     const char *out_path, struct its_err *err)
{
	while (off < end) {
		off_t data = lseek(in, (off_t)off, SEEK_DATA), hole;
		int rc;

		if (data < 0 && errno == ENXIO)
			break;			/* a hole up to the end */
		if (data < 0) {
			data = (off_t)off;	/* no SEEK_DATA: all data */
			hole = (off_t)end;
		} else {
			hole = lseek(in, data, SEEK_HOLE);
			if (hole < 0 || (uint64_t)hole > end)
				hole = (off_t)end;
		}
		if ((uint64_t)data >= end)
			break;
		rc = copy_range(in, out, (uint64_t)data,
				(uint64_t)(hole - data), delta, copied, in_path,
				out_path, err);
		if (rc < 0)
			return rc;
		off = (uint64_t)hole;
	}
	return 0;
}

/* Copy in to out, holes left as holes. */
static int copy_sparse(int in, int out, uint64_t size, uint64_t *copied,
		       const char *in_path, const char *out_path,
		       struct its_err *err)
{
	*copied = 0;
	if (ftruncate(out, (off_t)size) < 0)
		return its_err_set(err, -errno, out_path, ITS_ERR_NO_OFFSET,
				   "cannot size the copy to %llu bytes: %s",
				   (unsigned long long)size, strerror(errno));
	return repair_copy_span(in, out, 0, size, 0, copied, in_path,
				out_path, err);
}

/* Where byte off of the input is in a copy that re-encodes r->re (sorted):
 * every ZERO record before it grew by page size - 1 bytes. */
static uint64_t out_offset(const struct repair_ranges *r, uint64_t off)
{
	uint64_t d = 0;

	for (size_t i = 0; i < r->nr_re && r->re[i].fill_off < off; i++)
		d += r->re[i].page_size - 1;
	return off + d;
}

/* RAM record flags (spec §9.2) */
#define F_ZERO		0x002
#define F_PAGE		0x008
#define F_CONTINUE	0x020

/* A ZERO record of r->re as the copy re-encodes it. */
struct reenc_plan {
	uint8_t old_hdr[8], new_hdr[8];	/* big-endian, as in the stream */
	uint32_t page_crc;		/* of the page the copy holds */
	uint64_t delta;			/* what the records before it add */
};

/* The page re-encoded record i holds: the fill byte, with the bytes of
 * the ranges that name it. */
static void reenc_page(const struct repair_ranges *r, size_t i, uint8_t *page)
{
	uint32_t psz = r->re[i].page_size;

	memset(page, r->re[i].fill, psz);
	for (size_t k = 0; k < r->nr; k++) {
		const struct repair_range *x = &r->v[k];

		if (x->reenc == i + 1 && x->off + x->len <= psz)
			memcpy(page + x->off, x->new, x->len);
	}
}

/* Check every ZERO record of r->re in the input and work out its PAGE
 * record: the header's flags ZERO -> PAGE (offset and CONTINUE kept), and
 * the CRC of its page (for the undo file). pl: r->nr_re entries. */
static int plan_reencodes(int in, uint64_t size, const struct repair_ranges *r,
			  struct reenc_plan *pl, const char *in_path,
			  struct its_err *err)
{
	uint64_t pos = 0, delta = 0;
	uint8_t *page = NULL;
	int rc = 0;

	for (size_t i = 0; i < r->nr_re && rc == 0; i++) {
		const struct repair_reencode *z = &r->re[i];
		uint64_t psz = z->page_size, h = 0;

		if (z->fill_off < pos || z->fill_off >= size ||
		    z->fill_off < z->rec + 8 || psz < 2 || psz > (1u << 24))
			return its_err_set(err, -EINVAL, in_path, z->rec,
					   "cannot re-encode the ZERO record here");
		rc = its_pread_full(in, pl[i].old_hdr, 8, z->rec, in_path, err);
		if (rc < 0)
			break;
		for (int k = 0; k < 8; k++)
			h = h << 8 | pl[i].old_hdr[k];
		if ((h & (psz - 1) & ~(uint64_t)F_CONTINUE) != F_ZERO) {
			rc = its_err_set(err, -EIO, in_path, z->rec,
					 "not the ZERO record found before: the file changed since it was read?");
			break;
		}
		h = (h & ~(uint64_t)F_ZERO) | F_PAGE;
		for (int k = 7; k >= 0; k--, h >>= 8)
			pl[i].new_hdr[k] = (uint8_t)h;
		free(page);
		page = malloc(psz);
		if (!page) {
			rc = its_err_set(err, -ENOMEM, in_path,
					 ITS_ERR_NO_OFFSET, "out of memory");
			break;
		}
		reenc_page(r, i, page);
		pl[i].page_crc = its_crc32c(0, page, psz);
		pl[i].delta = delta;
		pos = z->fill_off + 1;
		delta += psz - 1;
	}
	free(page);
	return rc;
}

/* Copy in to out with every ZERO record of r->re re-encoded as a PAGE
 * record holding its page (pl: plan_reencodes). Holes stay holes;
 * everything else is copied byte for byte. */
static int copy_reencoded(int in, int out, uint64_t size,
			  const struct repair_ranges *r,
			  const struct reenc_plan *pl, uint64_t *copied,
			  const char *in_path, const char *out_path,
			  struct its_err *err)
{
	uint64_t pos = 0, delta = 0, total = size;
	uint8_t *page = NULL;
	int rc = 0;

	*copied = 0;
	for (size_t i = 0; i < r->nr_re; i++)
		total += r->re[i].page_size - 1;
	if (ftruncate(out, (off_t)total) < 0)
		return its_err_set(err, -errno, out_path, ITS_ERR_NO_OFFSET,
				   "cannot size the copy to %llu bytes: %s",
				   (unsigned long long)total, strerror(errno));
	for (size_t i = 0; i < r->nr_re && rc == 0; i++) {
		const struct repair_reencode *z = &r->re[i];
		uint64_t psz = z->page_size;

		rc = repair_copy_span(in, out, pos, z->fill_off, delta, copied,
				      in_path, out_path, err);
		if (rc == 0)
			rc = its_pwrite_full(out, pl[i].new_hdr, 8,
					     z->rec + delta, out_path, err);
		if (rc < 0)
			break;
		free(page);
		page = malloc(psz);
		if (!page) {
			rc = its_err_set(err, -ENOMEM, out_path,
					 ITS_ERR_NO_OFFSET, "out of memory");
			break;
		}
		reenc_page(r, i, page);
		rc = its_pwrite_full(out, page, psz, z->fill_off + delta,
				     out_path, err);
		if (rc < 0)
			break;
		*copied += psz;
		pos = z->fill_off + 1;
		delta += psz - 1;
	}
	free(page);
	if (rc == 0)
		rc = repair_copy_span(in, out, pos, size, delta, copied,
				      in_path, out_path, err);
	return rc;
}

/* The undo records of a copy: every range at its offset in the copy, and
 * for each re-encoded record its header (an overwrite) and its fill byte
 * that became a page (a splice). *n: how many. */
static struct undo_record *copy_records(const struct repair_ranges *r,
					const struct reenc_plan *pl, size_t *n)
{
	struct undo_record *v = calloc(r->nr + 2 * r->nr_re + 1, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < r->nr; i++)
		if (!r->v[i].reenc)
			overwrite_record(&v[(*n)++], &r->v[i],
					 out_offset(r, r->v[i].off));
	for (size_t i = 0; i < r->nr_re; i++) {
		const struct repair_reencode *z = &r->re[i];
		struct undo_record *h = &v[(*n)++], *f = &v[(*n)++];

		h->off = z->rec + pl[i].delta;
		h->old_len = 8;
		h->new_len = 8;
		memcpy(h->old, pl[i].old_hdr, 8);
		memcpy(h->new, pl[i].new_hdr, 8);
		f->off = z->fill_off + pl[i].delta;
		f->old_len = 1;
		f->new_len = z->page_size;
		f->old[0] = z->fill;
		f->crc_new = pl[i].page_crc;
	}
	return v;
}

/* a and b name the same file: the same inode, or (one missing) the same
 * name in the same directory. */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	char *ca, *cb, *da, *db;
	bool same = false;

	if (!strcmp(a, b))
		return true;
	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	ca = strdup(a);
	cb = strdup(b);
	if (ca && cb && !strcmp(strrchr(a, '/') ? strrchr(a, '/') + 1 : a,
				strrchr(b, '/') ? strrchr(b, '/') + 1 : b)) {
		da = realpath(dirname(ca), NULL);
		db = realpath(dirname(cb), NULL);
		same = da && db && !strcmp(da, db);
		free(da);
		free(db);
	}
	free(ca);
	free(cb);
	return same;
}

static int apply_copy(const struct snapshot *s, const struct repair_plan *p,
		      const struct repair_ranges *r,
		      const struct repair_apply_opts *o,
		      const struct undo_ident *id0, struct its_err *err)
{
	const char *out = o->out_path, *undo_path = o->undo_path;
	struct undo_ident id, copy_id, after, replaced;
	struct undo_target t;
	struct undo_record *rec = NULL;
	struct reenc_plan *pl = NULL;
	struct stat st;
	uint64_t copied = 0;
	unsigned done = 0;
	bool has_replaced = false, prepared = false, committed = false;
	char *tmp = NULL, *undo = NULL;
	size_t nrec = 0;
	int fd = -1, rc;

	(void)p;
	if (stat(out, &st) == 0 && (uint64_t)st.st_dev == id0->dev &&
	    (uint64_t)st.st_ino == id0->ino)
		return its_err_set(err, -EINVAL, out, ITS_ERR_NO_OFFSET,
				   "-o names the snapshot itself: repair it in place (without -o), or name another file");
	if (stat(out, &st) == 0) {
		has_replaced = true;
		memset(&replaced, 0, sizeof(replaced));
		replaced.dev = (uint64_t)st.st_dev;
		replaced.ino = (uint64_t)st.st_ino;
	}
	if (!undo_path) {
		if (asprintf(&undo, "%s.its-undo", out) < 0)
			return its_err_set(err, -ENOMEM, out, ITS_ERR_NO_OFFSET,
					   "out of memory");
		undo_path = undo;
	}
	if (same_file(undo_path, out) || same_file(undo_path, s->path)) {
		rc = its_err_set(err, -EINVAL, undo_path, ITS_ERR_NO_OFFSET,
				 "the undo file would be the %s itself: name another undo file",
				 same_file(undo_path, out) ? "copy" : "snapshot");
		free(undo);
		return rc;
	}
	if (fstat(s->fd, &st) < 0) {
		rc = its_err_set(err, -errno, s->path, ITS_ERR_NO_OFFSET,
				 "cannot stat: %s", strerror(errno));
		free(undo);
		return rc;
	}
	rc = undo_replaceable(undo_path, -1, NULL,
			      has_replaced ? &replaced : NULL, err);
	if (rc < 0) {
		free(undo);
		return rc;
	}
	pl = calloc(r->nr_re + 1, sizeof(*pl));
	if (!pl) {
		free(undo);
		return its_err_set(err, -ENOMEM, out, ITS_ERR_NO_OFFSET,
				   "out of memory");
	}
	rc = plan_reencodes(s->fd, id0->size, r, pl, s->path, err);
	if (rc == 0) {
		rec = copy_records(r, pl, &nrec);
		if (!rec)
			rc = its_err_set(err, -ENOMEM, out, ITS_ERR_NO_OFFSET,
					 "out of memory");
	}
	if (rc == 0 && asprintf(&tmp, "%s.its-tmp.XXXXXX", out) < 0) {
		tmp = NULL;
		rc = its_err_set(err, -ENOMEM, out, ITS_ERR_NO_OFFSET,
				 "out of memory");
	}
	if (rc < 0)
		goto fail;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = its_err_set(err, -errno, out, ITS_ERR_NO_OFFSET,
				 "cannot create the copy: %s; nothing was written, the input is untouched",
				 strerror(errno));
		goto fail;
	}
	/* the undo file, complete and flushed before a byte of the copy */
	rc = undo_ident_of(fd, tmp, &copy_id, err);
	if (rc < 0)
		goto fail;
	memset(&t, 0, sizeof(t));
	t.before = *id0;
	t.before.dev = copy_id.dev;
	t.before.ino = copy_id.ino;
	t.size_after = id0->size;
	for (size_t i = 0; i < r->nr_re; i++)
		t.size_after += r->re[i].page_size - 1;
	t.copy = true;
	t.in_dev = id0->dev;
	t.in_ino = id0->ino;
	rc = undo_prepare(undo_path, out, &t, rec, nrec, o->abort_after, err);
	if (rc < 0)
		goto fail;
	prepared = true;
	if (o->abort_after == REPAIR_ABORT_NO_WRITE)
		_exit(99);
	rc = r->nr_re ? copy_reencoded(s->fd, fd, id0->size, r, pl, &copied,
				       s->path, tmp, err) :
			copy_sparse(s->fd, fd, id0->size, &copied, s->path, tmp,
				    err);
	if (rc < 0) {
		its_err_prefix(err, "copying the snapshot failed after %llu of %llu bytes: ",
			       (unsigned long long)copied,
			       (unsigned long long)id0->size);
		goto fail;
	}
	/* the input must not have changed while it was copied */
	rc = undo_ident_of(s->fd, s->path, &id, err);
	if (rc == 0 && !undo_ident_same(&id, id0))
		rc = stale(s, id0, &id, "while it was copied", err);
	/* the copy holds what the input held where it will be written (the
	 * re-encoded pages are written already) */
	for (size_t i = 0; i < r->nr && rc == 0; i++) {
		uint8_t cur[16];

		if (r->v[i].reenc)
			continue;
		rc = its_pread_full(fd, cur, r->v[i].len,
				    out_offset(r, r->v[i].off), tmp, err);
		if (rc == 0 && memcmp(cur, r->v[i].old, r->v[i].len))
			rc = its_err_set(err, -EIO, tmp, r->v[i].off,
					 "the copy differs from the snapshot here");
	}
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < r->nr; i++) {
		if (!r->v[i].reenc) {
			rc = its_pwrite_full(fd, r->v[i].new, r->v[i].len,
					     out_offset(r, r->v[i].off), tmp,
					     err);
			if (rc < 0)
				goto fail;
		}
		count_write(&done, o->abort_after);
	}
	if (fchmod(fd, st.st_mode & 07777) < 0 || fsync(fd) < 0) {
		rc = its_err_set(err, -errno, tmp, ITS_ERR_NO_OFFSET,
				 "cannot finish the copy: %s", strerror(errno));
		goto fail;
	}
	rc = undo_ident_of(fd, tmp, &after, err);
	if (rc < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		rc = its_err_set(err, -errno, tmp, ITS_ERR_NO_OFFSET,
				 "cannot finish the copy: %s", strerror(errno));
		goto fail;
	}
	fd = -1;
	/* the undo file under its name, then the copy under its own */
	rc = undo_commit(undo_path, err);
	if (rc < 0) {
		prepared = false;
		goto fail;
	}
	committed = true;
	if (rename(tmp, out) < 0) {
		rc = its_err_set(err, -errno, out, ITS_ERR_NO_OFFSET,
				 "cannot rename %s to it: %s", tmp,
				 strerror(errno));
		goto fail;
	}
	rc = its_fsync_dir_of(out, err);
	/* as in place: the undo can then refuse a copy modified since */
	if (rc == 0)
		(void)undo_stamp_applied(undo_path, &after, NULL);
	free(tmp);
	free(rec);
	free(pl);
	free(undo);
	return rc;
fail:
	if (fd >= 0)
		close(fd);
	/* name the file the user gave, not our temporary */
	if (tmp && !strcmp(err->file, tmp))
		snprintf(err->file, sizeof(err->file), "%s", out);
	if (tmp)
		unlink(tmp);
	/* no copy: the undo file has nothing to undo (and an undo file
	 * of the copy OUT is, stays as it was, until the commit) */
	if (committed) {
		unlink(undo_path);
		its_fsync_dir_of(undo_path, NULL);
	} else if (prepared) {
		char *ut;

		if (asprintf(&ut, "%s.tmp", undo_path) >= 0) {
			unlink(ut);
			free(ut);
		}
	}
	free(tmp);
	free(rec);
	free(pl);
	if (!strstr(err->msg, "nothing was written") &&
	    strlen(err->msg) + 64 < sizeof(err->msg))
		strcat(err->msg, "; no copy was written, the input is untouched");
	free(undo);
	return rc;
}

/* ------------------------------------------------------------ API */

int repair_apply(const struct snapshot *s, const struct repair_plan *p,
		 const struct repair_apply_opts *o, struct its_err *err)
{
	struct its_err local_err;
	static const struct repair_apply_opts none;
	struct repair_ranges r;
	struct undo_ident id0;
	int rc;

	if (!err)
		err = &local_err;
	its_err_clear(err);
	if (!o)
		o = &none;
	if (!p || p->nr == 0)
		return 0;
	/* the identity this repair is made for */
	rc = undo_ident_of(s->fd, s->path, &id0, err);
	if (rc < 0)
		return rc;
	if (id0.size != s->file_size)
		return its_err_set(err, -ESTALE, s->path, ITS_ERR_NO_OFFSET,
				   "the file is %llu bytes, it was %llu when it was opened; nothing was written, check it again",
				   (unsigned long long)id0.size,
				   (unsigned long long)s->file_size);
	rc = repair_collect(s, p, o->out_path ? REPAIR_COLLECT_REENCODE : 0,
			    &r, err);
	if (rc < 0)
		return rc;
	rc = check_old(s, p, &r, err);
	if (rc == 0)
		rc = o->out_path ? apply_copy(s, p, &r, o, &id0, err) :
				   apply_in_place(s, p, &r, o, &id0, err);
	repair_ranges_release(&r);
	return rc;
}
