/* Where a repair writes: every file range that holds the bytes of a plan's
 * entry or register, for each kind of snapshot.
 *
 *   ELF core, raw image: the one PT_LOAD (extent) byte range, through
 *       gmem. Registers: the file holds none (-EROFS).
 *   QEMU stream: the reader's index keeps only the LAST copy of each page,
 *       but a live stream sends a page several times, and a reader that
 *       stops early, or a tool that reads the first copy, would see the old
 *       value in an earlier copy. So the RAM section records (every
 *       SECTION_START/PART/END of 'ram' the reader listed, in file order)
 *       are scanned again, headers only, for the pages the plan touches:
 *       every PAGE record of such a page is a copy (written too), a ZERO
 *       record holds no bytes (nothing to write). The last record must be
 *       the one the index points at; when it is a ZERO record the entry
 *       cannot be written in place (-ENOENT), but a copy (-o) can
 *       re-encode that record as a PAGE record (REPAIR_COLLECT_REENCODE).
 *   mapped-ram stream: one slot a page, at its fixed offset. A clear bitmap
 *       bit is a zero page whose slot may hold stale bytes: the whole slot
 *       is written (zeros, with every entry the plan puts in that page),
 *       then the bit is set (one range per bitmap byte, after every other
 *       range, so that a reader never sees the bit set before the slot is
 *       whole).
 *   Registers of a stream: the big-endian field in the payload of the
 *       'arm_gicv3_its' section (spec §12).
 * Page data is never read here, only the bytes about to be replaced. */
#include "its/undo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "its/bits.h"
#include "its/gmem.h"
#include "its/io.h"
#include "its/migstream.h"

/* RAM record flags and record types (spec §4, §9.2) */
#define F_ZERO		0x002
#define F_MEM_SIZE	0x004
#define F_PAGE		0x008
#define F_EOS		0x010
#define F_CONTINUE	0x020
#define ITS_SECTION	"arm_gicv3_its"
#define ITS_PAYLOAD	96

void repair_ranges_release(struct repair_ranges *r)
{
	free(r->v);
	free(r->re);
	free(r->zp_at);
	memset(r, 0, sizeof(*r));
}

static int ranges_push(struct repair_ranges *r, const struct repair_range *x)
{
	if (r->nr == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct repair_range *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->nr++] = *x;
	return 0;
}

static int nomem(const struct snapshot *s, struct its_err *err)
{
	return its_err_set(err, -ENOMEM, s->path, ITS_ERR_NO_OFFSET,
			   "out of memory");
}

/* ------------------------------------------------------------ registers */

static const struct {
	const char *name;
	unsigned off, size;
} reg_fields[] = {
	[RREG_CTLR] = { "GITS_CTLR", 0, 4 },
	[RREG_IIDR] = { "GITS_IIDR", 4, 4 },
	[RREG_CBASER] = { "GITS_CBASER", 8, 8 },
	[RREG_CWRITER] = { "GITS_CWRITER", 16, 8 },
	[RREG_CREADR] = { "GITS_CREADR", 24, 8 },
};

/* Name, payload offset and size of register reg; false if unknown. */
static bool reg_field(int reg, char name[16], unsigned *off, unsigned *size)
{
	if (reg >= RREG_BASER0 && reg < RREG_BASER0 + 8) {
		snprintf(name, 16, "GITS_BASER%d", reg - RREG_BASER0);
		*off = 32 + 8 * (unsigned)(reg - RREG_BASER0);
		*size = 8;
		return true;
	}
	if (reg < 0 || reg >= RREG_BASER0)
		return false;
	snprintf(name, 16, "%s", reg_fields[reg].name);
	*off = reg_fields[reg].off;
	*size = reg_fields[reg].size;
	return true;
}

const char *repair_reg_name(int reg, char buf[16])
{
	unsigned off, size;

	if (reg == RREG_GICR_PROPBASER)
		snprintf(buf, 16, "GICR_PROPBASER");
	else if (!reg_field(reg, buf, &off, &size))
		snprintf(buf, 16, "register %d", reg);
	return buf;
}

static void put_be(uint8_t *p, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * (size - 1 - i)));
}

/* A redistributor's register: its big-endian field in the arm_gicv3
 * section, at the offset the reader recorded for that vCPU (spec §13). */
static int locate_gicr(const struct snapshot *s, const struct repair_write *w,
		       size_t wi, struct repair_ranges *out,
		       struct its_err *err)
{
	const struct migstream_info *mi = migstream_info(s);
	struct repair_range x;

	if (!mi)
		return its_err_set(err, -EROFS, s->path, ITS_ERR_NO_OFFSET,
				   "vCPU %u GICR_PROPBASER: a snapshot of this kind (%s) holds no redistributor registers, so it cannot be written in the file; the corrected value is 0x%llx (give it to the restore by other means)",
				   w->cpu, snap_format_name(s->format),
				   (unsigned long long)w->reg_new);
	if (w->cpu >= mi->nr_gicr_propbaser)
		return its_err_set(err, -ENOENT, s->path, ITS_ERR_NO_OFFSET,
				   "vCPU %u GICR_PROPBASER: the stream's 'arm_gicv3' section holds %zu vCPUs",
				   w->cpu, mi->nr_gicr_propbaser);
	memset(&x, 0, sizeof(x));
	x.off = mi->gicr_propbaser_offset[w->cpu];
	x.len = 8;
	x.last = true;
	x.write = wi;
	put_be(x.new, w->reg_new, 8);
	put_be(x.expect, w->reg_old, 8);
	/* x.old: read with every range by repair_collect */
	return ranges_push(out, &x) < 0 ? nomem(s, err) : 0;
}

static int locate_register(const struct snapshot *s,
			   const struct repair_write *w, size_t wi,
			   struct repair_ranges *out, struct its_err *err)
{
	const struct migstream_info *mi = migstream_info(s);
	const struct migstream_record *rec = NULL;
	struct repair_range x;
	unsigned foff, size, k = 0;
	uint8_t b[ITS_PAYLOAD + 5];
	uint64_t payload;
	char name[16];
	int rc;

	if (!reg_field(w->reg, name, &foff, &size))
		return its_err_set(err, -EINVAL, s->path, ITS_ERR_NO_OFFSET,
				   "repair names an unknown ITS register (%d)",
				   w->reg);
	if (!mi)
		return its_err_set(err, -EROFS, s->path, ITS_ERR_NO_OFFSET,
				   "ITS %u %s: a snapshot of this kind (%s) holds no ITS registers, so it cannot be written in the file; the corrected value is 0x%llx (give it to the restore by other means)",
				   w->its, name, snap_format_name(s->format),
				   (unsigned long long)w->reg_new);
	/* the ITS instances, numbered as the reader numbered them: decoded
	 * 'arm_gicv3_its' sections in file order */
	for (size_t i = 0; i < mi->nr_records; i++) {
		const struct migstream_record *r = &mi->records[i];

		if (r->type != 0x04 || strcmp(r->idstr, ITS_SECTION) ||
		    !(r->flags & MIGSTREAM_REC_DECODED))
			continue;
		if (k++ == w->its) {
			rec = r;
			break;
		}
	}
	if (!rec)
		return its_err_set(err, -ENOENT, s->path, ITS_ERR_NO_OFFSET,
				   "ITS %u %s: the stream has no decoded '%s' section for this ITS",
				   w->its, name, ITS_SECTION);
	/* header: type, section id, counted idstr, instance, version */
	payload = rec->offset + 6 + strlen(ITS_SECTION) + 8;
	rc = its_pread_full(s->fd, b, sizeof(b), payload, s->path, err);
	if (rc < 0)
		return rc;
	if (b[ITS_PAYLOAD] != 0x7e ||
	    its_be32(b + ITS_PAYLOAD + 1) != rec->section_id)
		return its_err_set(err, -EIO, s->path, payload + ITS_PAYLOAD,
				   "section '%s' (id %u) no longer ends with its footer here: the file changed since it was read",
				   ITS_SECTION, rec->section_id);
	memset(&x, 0, sizeof(x));
	x.off = payload + foff;
	x.len = size;
	x.last = true;
	x.write = wi;
	put_be(x.new, w->reg_new, size);
	put_be(x.expect, w->reg_old, size);
	memcpy(x.old, b + foff, size);
	return ranges_push(out, &x) < 0 ? nomem(s, err) : 0;
}

/* One piece of a RAM write: bytes [woff, woff + len) of w, at gpa, inside
 * one page (stream) or one extent. */
struct piece {
	size_t write;
	uint64_t gpa;
	unsigned woff, len;
};

/* A piece of a write in a mapped-ram page whose bitmap bit is clear. */
struct zpiece {
	uint64_t slot;			/* file offset of the page's slot */
	uint64_t bm_off;		/* its bitmap byte */
	uint8_t bit;			/* its bit in that byte */
	uint32_t page_size;
	unsigned in_page;
	size_t write;
	unsigned woff, len;
};

struct zpieces {
	struct zpiece *v;
	size_t nr, cap;
};

/* A page of a stream block whose copies the scan collects. */
struct copy {
	uint64_t off;			/* page data, or UINT64_MAX: ZERO */
	uint64_t rec;			/* ZERO: the record header */
	uint64_t fill_off;		/* ZERO: its fill byte */
	uint8_t fill;
};

struct query {
	size_t block;			/* index in mi->blocks */
	uint64_t page;			/* page index in the block */
	uint64_t last;			/* the index's file offset */
	struct copy *c;
	size_t nr, cap;
};

static int query_cmp(const void *a, const void *b)
{
	const struct query *x = a, *y = b;

	if (x->block != y->block)
		return x->block < y->block ? -1 : 1;
	return x->page < y->page ? -1 : x->page > y->page;
}

static int zero_page_error(const struct snapshot *s, const char *what,
			   uint64_t gpa, struct its_err *err)
{
	return its_err_set(err, -ENOENT, s->path, ITS_ERR_NO_OFFSET,
			   "GPA 0x%llx is in a page the %s: the file holds no bytes of it to rewrite in place; writing it needs -o with re-encoding of the stream, which is not supported yet",
			   (unsigned long long)gpa, what);
}

static int zero_record_error(const struct snapshot *s, uint64_t gpa,
			     uint64_t rec, struct its_err *err)
{
	return its_err_set(err, -ENOENT, s->path, rec,
			   "GPA 0x%llx is in a page the stream encodes as a ZERO record: the file holds no bytes of it to rewrite in place; write a repaired copy with -o OUT instead (the copy re-encodes the page as a PAGE record)",
			   (unsigned long long)gpa);
}

/* ------------------------------------------------------------ scan */

/* A window over the file, read with pread: the scan is sequential and
 * touches only record headers. */
struct win {
	const struct snapshot *s;
	uint8_t *buf;
	uint64_t off;
	size_t len, cap;
};

#define WIN_SIZE (1u << 20)

static const uint8_t *win_get(struct win *w, uint64_t off, size_t n,
			      struct its_err *err)
{
	uint64_t size = w->s->file_size;
	size_t want, got = 0;

	if (off >= w->off && off - w->off <= w->len && n <= w->len - (off - w->off))
		return w->buf + (off - w->off);
	if (off > size || n > size - off) {
		its_err_set(err, -EIO, w->s->path, off,
			    "unexpected end of file while scanning the RAM records (the file changed since it was read?)");
		return NULL;
	}
	want = size - off < w->cap ? (size_t)(size - off) : w->cap;
	while (got < want) {
		ssize_t k = pread(w->s->fd, w->buf + got, want - got,
				  (off_t)(off + got));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			its_err_set(err, k < 0 ? -errno : -EIO, w->s->path,
				    off + got, "read failed: %s",
				    k < 0 ? strerror(errno) : "unexpected end of file");
			w->len = 0;
			return NULL;
		}
		got += (size_t)k;
	}
	w->off = off;
	w->len = got;
	if (got < n) {
		its_err_set(err, -EIO, w->s->path, off,
			    "unexpected end of file while scanning the RAM records");
		return NULL;
	}
	return w->buf;
}

struct scan {
	const struct snapshot *s;
	const struct migstream_info *mi;
	struct win win;
	struct query *q;
	size_t nq;
	size_t cur;			/* current block, SIZE_MAX: none */
	bool x_ignore_shared;
	struct its_err *err;
};

static int scan_bad(struct scan *sc, uint64_t off, const char *what)
{
	return its_err_set(sc->err, -EIO, sc->s->path, off,
			   "rescan of the RAM records: %s (the file changed since it was read?)",
			   what);
}

static size_t block_by_name(const struct migstream_info *mi, const uint8_t *n,
			    size_t len)
{
	for (size_t i = 0; i < mi->nr_blocks; i++)
		if (strlen(mi->blocks[i].name) == len &&
		    !memcmp(mi->blocks[i].name, n, len))
			return i;
	return SIZE_MAX;
}

static int copy_push(struct query *q, uint64_t off, uint64_t rec,
		     uint64_t fill_off, uint8_t fill)
{
	if (q->nr == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 4;
		struct copy *c = realloc(q->c, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		q->c = c;
		q->cap = cap;
	}
	q->c[q->nr].off = off;
	q->c[q->nr].rec = rec;
	q->c[q->nr].fill_off = fill_off;
	q->c[q->nr].fill = fill;
	q->nr++;
	return 0;
}

/* The MEM_SIZE block list at *pos (not mapped-ram), skipped. */
static int skip_block_list(struct scan *sc, uint64_t total, uint64_t *pos)
{
	uint64_t q = *pos, sum = 0;

	while (sum < total) {
		const uint8_t *b = win_get(&sc->win, q, 1, sc->err);
		uint64_t used;

		if (!b)
			return sc->err->code ? sc->err->code : -EIO;
		q += 1 + b[0];
		b = win_get(&sc->win, q, 8, sc->err);
		if (!b)
			return sc->err->code ? sc->err->code : -EIO;
		used = its_be64(b);
		if (used > total - sum)
			return scan_bad(sc, q, "the block list does not add up");
		sum += used;
		q += 8 + (sc->x_ignore_shared ? 8 : 0);
	}
	*pos = q;
	return 0;
}

/* The RAM records of one section, from q to its EOS; *end: the footer. */
static int scan_records(struct scan *sc, uint64_t q, uint64_t *end)
{
	const uint64_t psz = sc->mi->page_size, pmask = psz - 1;
	const unsigned shift = sc->mi->page_shift;

	for (;;) {
		const uint8_t *b = win_get(&sc->win, q, 8, sc->err);
		uint64_t h, flags, off, rec = q;
		bool zero;
		int rc;

		if (!b)
			return sc->err->code ? sc->err->code : -EIO;
		h = its_be64(b);
		flags = h & pmask;
		off = h & ~pmask;
		q += 8;
		switch (flags) {
		case F_EOS:
			*end = q;
			return 0;
		case F_MEM_SIZE:
			rc = skip_block_list(sc, off, &q);
			if (rc < 0)
				return rc;
			continue;
		case F_ZERO | F_CONTINUE:
		case F_PAGE | F_CONTINUE:
			if (sc->cur == SIZE_MAX)
				return scan_bad(sc, rec,
						"CONTINUE record with no current block");
			break;
		case F_ZERO:
		case F_PAGE:
			b = win_get(&sc->win, q, 1, sc->err);
			if (!b)
				return sc->err->code ? sc->err->code : -EIO;
			{
				size_t len = b[0];

				b = win_get(&sc->win, q + 1, len, sc->err);
				if (!b)
					return sc->err->code ? sc->err->code : -EIO;
				sc->cur = block_by_name(sc->mi, b, len);
				if (sc->cur == SIZE_MAX)
					return scan_bad(sc, rec,
							"page record for an unknown RAMBlock");
				q += 1 + len;
			}
			break;
		default:
			return scan_bad(sc, rec, "unexpected RAM record flags");
		}
		zero = flags & F_ZERO;
		if (sc->nq) {
			struct query key = { .block = sc->cur,
					     .page = off >> shift };
			struct query *hit = bsearch(&key, sc->q, sc->nq,
						    sizeof(*sc->q), query_cmp);

			uint8_t fill = 0;

			if (hit && zero) {
				b = win_get(&sc->win, q, 1, sc->err);
				if (!b)
					return sc->err->code ? sc->err->code : -EIO;
				fill = b[0];
			}
			if (hit && copy_push(hit, zero ? UINT64_MAX : q, rec, q,
					     fill) < 0)
				return nomem(sc->s, sc->err);
		}
		q += zero ? 1 : psz;
	}
}

static bool is_ram_section(const struct migstream_record *r)
{
	return (r->type == 0x01 || r->type == 0x02 || r->type == 0x03) &&
	       !strcmp(r->idstr, "ram");
}

static int scan_stream(struct scan *sc)
{
	const struct migstream_info *mi = sc->mi;
	bool seen_end = false;
	int rc = 0;

	for (size_t i = 0; i < mi->nr_capabilities; i++)
		if (!strcmp(mi->capabilities[i], "x-ignore-shared"))
			sc->x_ignore_shared = true;
	sc->cur = SIZE_MAX;
	sc->win.s = sc->s;
	sc->win.cap = WIN_SIZE;
	sc->win.buf = malloc(WIN_SIZE);
	if (!sc->win.buf)
		return nomem(sc->s, sc->err);
	for (size_t i = 0; i < mi->nr_records && rc == 0; i++) {
		const struct migstream_record *r = &mi->records[i];
		uint64_t q, end = 0;
		const uint8_t *b;

		if (!is_ram_section(r))
			continue;
		q = r->type == 0x01 ? r->offset + 6 + strlen(r->idstr) + 8 :
				      r->offset + 5;
		rc = scan_records(sc, q, &end);
		if (rc < 0)
			break;
		b = win_get(&sc->win, end, 5, sc->err);
		if (!b) {
			rc = sc->err->code ? sc->err->code : -EIO;
			break;
		}
		if (b[0] != 0x7e || its_be32(b + 1) != r->section_id ||
		    end + 5 != r->offset + r->size)
			rc = scan_bad(sc, end,
				      "the section does not end where the reader found its end");
		if (r->type == 0x03)
			seen_end = true;
	}
	if (rc == 0 && !seen_end && mi->nr_records_seen > mi->nr_records)
		rc = its_err_set(sc->err, -ENOTSUP, sc->s->path,
				 ITS_ERR_NO_OFFSET,
				 "not supported: the stream has more than %llu records, and the RAM sections past them cannot be searched for every copy of a page",
				 (unsigned long long)mi->nr_records);
	free(sc->win.buf);
	sc->win.buf = NULL;
	return rc;
}

/* ------------------------------------------------------------ RAM */

/* The RAMBlock a gmem region was made from (placed at its GPA; gmem keeps
 * only the first 63 bytes of a name), or SIZE_MAX. */
static size_t block_of_region(const struct migstream_info *mi,
			      const struct gmem_region *r)
{
	for (size_t i = 0; i < mi->nr_blocks; i++)
		if (mi->blocks[i].mapped && mi->blocks[i].gpa == r->gpa &&
		    mi->blocks[i].used_length == r->size &&
		    !strncmp(mi->blocks[i].name, r->name, sizeof(r->name) - 1))
			return i;
	return SIZE_MAX;
}

/* The piece of w at gpa (w->gpa + done, at most run bytes) in a mapped-ram
 * page whose bitmap bit is clear: cut at the page's end, kept in zp;
 * *used: its length. */
static int split_zero_slot(const struct snapshot *s,
			   const struct migstream_info *mi, size_t wi,
			   uint64_t gpa, unsigned done, uint64_t run,
			   struct zpieces *zp, uint64_t *used,
			   struct its_err *err)
{
	const struct gmem_region *r = gmem_region_of(s->mem, gpa);
	const struct migstream_ramblock *bl;
	uint64_t psz, in_page, page, slot;
	size_t b;

	if (!r)
		return -EIO;
	b = block_of_region(mi, r);
	if (b == SIZE_MAX || r->type != GMEM_REGION_PAGES ||
	    !mi->blocks[b].mapped_ram)
		return its_err_set(err, -EIO, s->path, ITS_ERR_NO_OFFSET,
				   "GPA 0x%llx: region '%s' is no mapped-ram RAMBlock of the stream",
				   (unsigned long long)gpa, r->name);
	bl = &mi->blocks[b];
	psz = (uint64_t)1 << r->page_shift;
	if (psz != mi->page_size)
		return its_err_set(err, -EIO, s->path, ITS_ERR_NO_OFFSET,
				   "GPA 0x%llx: region '%s' has pages of %llu bytes, the stream's are %u",
				   (unsigned long long)gpa, r->name,
				   (unsigned long long)psz, mi->page_size);
	page = (gpa - r->gpa) >> r->page_shift;
	in_page = (gpa - r->gpa) & (psz - 1);
	if (run > psz - in_page)
		run = psz - in_page;
	if (its_add_overflows(bl->pages_offset, page * psz, &slot) ||
	    slot + psz > s->file_size ||
	    bl->bitmap_offset + page / 8 >= s->file_size)
		return its_err_set(err, -EIO, s->path, ITS_ERR_NO_OFFSET,
				   "GPA 0x%llx: its mapped-ram slot or bitmap byte is past the end of the file (the file changed since it was read?)",
				   (unsigned long long)gpa);
	if (zp->nr == zp->cap) {
		size_t c = zp->cap ? zp->cap * 2 : 8;
		struct zpiece *v = realloc(zp->v, c * sizeof(*v));

		if (!v)
			return nomem(s, err);
		zp->v = v;
		zp->cap = c;
	}
	zp->v[zp->nr++] = (struct zpiece){
		.slot = slot, .bm_off = bl->bitmap_offset + page / 8,
		.bit = (uint8_t)(1u << (page % 8)), .page_size = (uint32_t)psz,
		.in_page = (unsigned)in_page, .write = wi, .woff = done,
		.len = (unsigned)run };
	*used = run;
	return 0;
}

/* Split w into pieces that each lie in one page / extent run of file
 * bytes; ranges of extents (and mapped-ram slots) go to out directly,
 * stream pages become queries. */
static int split_ram(const struct snapshot *s, const struct repair_write *w,
		     size_t wi, bool stream, unsigned flags,
		     struct piece **pv, size_t *np,
		     size_t *cp, struct query **qv, size_t *nq, size_t *cq,
		     struct zpieces *zp, struct repair_ranges *out,
		     struct its_err *err)
{
	const struct migstream_info *mi = migstream_info(s);
	uint64_t end;
	unsigned done = 0;

	if (w->len == 0 || w->len > sizeof(w->new))
		return its_err_set(err, -EINVAL, s->path, ITS_ERR_NO_OFFSET,
				   "repair at GPA 0x%llx writes %u bytes (1 to %zu expected)",
				   (unsigned long long)w->gpa, w->len,
				   sizeof(w->new));
	if (its_add_overflows(w->gpa, w->len - 1, &end))
		return its_err_set(err, -EFAULT, s->path, ITS_ERR_NO_OFFSET,
				   "repair at GPA 0x%llx wraps the address space",
				   (unsigned long long)w->gpa);
	while (done < w->len) {
		uint64_t gpa = w->gpa + done, run, foff;
		enum gmem_kind k = gmem_span(s->mem, gpa, w->len - done, &run);
		const struct gmem_region *r;
		struct repair_range x;
		bool zero = false;
		int rc;

		switch (k) {
		case GMEM_NOT_RAM:
			return its_err_set(err, -EFAULT, s->path,
					   ITS_ERR_NO_OFFSET,
					   "GPA 0x%llx is not guest RAM in this snapshot: nothing to write",
					   (unsigned long long)gpa);
		case GMEM_ABSENT:
			return its_err_set(err, -ENOENT, s->path,
					   ITS_ERR_NO_OFFSET,
					   "GPA 0x%llx is guest RAM the snapshot does not hold (absent): the file has no bytes of it to rewrite",
					   (unsigned long long)gpa);
		case GMEM_ZERO:
			if (mi && mi->mapped_ram) {
				rc = split_zero_slot(s, mi, wi, gpa, done,
						     run, zp, &run, err);
				if (rc < 0)
					return rc;
				done += (unsigned)run;
				continue;
			}
			if (!mi)
				return its_err_set(err, -ENOENT, s->path,
						   ITS_ERR_NO_OFFSET,
						   "GPA 0x%llx is memory the snapshot records as zeros without file bytes: nothing to rewrite in place",
						   (unsigned long long)gpa);
			zero = true;	/* the rescan finds the ZERO record */
			(void)flags;	/* REENCODE is decided after it */
			break;
		case GMEM_FILE_BYTES:
			break;
		}
		r = gmem_region_of(s->mem, gpa);
		if (!r)
			return -EIO;
		if (zero) {
			if (r->type != GMEM_REGION_PAGES)
				return zero_page_error(s,
					"stream encodes as zeros", gpa, err);
			foff = UINT64_MAX;
		} else {
			rc = gmem_locate(s->mem, gpa, &foff, err);
			if (rc < 0)
				return rc;
		}
		if (stream && r->type == GMEM_REGION_PAGES && !mi->mapped_ram) {
			uint64_t psz = (uint64_t)1 << r->page_shift;
			uint64_t left = psz - ((gpa - r->gpa) & (psz - 1));

			if (run > left)
				run = left;
			struct query qq;
			size_t b = block_of_region(mi, r);

			if (b == SIZE_MAX)
				return its_err_set(err, -EIO, s->path,
						   ITS_ERR_NO_OFFSET,
						   "GPA 0x%llx: region '%s' is no RAMBlock of the stream",
						   (unsigned long long)gpa, r->name);
			if (*nq == *cq) {
				size_t c = *cq ? *cq * 2 : 16;
				struct query *v = realloc(*qv, c * sizeof(*v));

				if (!v)
					return nomem(s, err);
				*qv = v;
				*cq = c;
			}
			memset(&qq, 0, sizeof(qq));
			qq.block = b;
			qq.page = (gpa - r->gpa) >> r->page_shift;
			qq.last = zero ? UINT64_MAX :
				  foff - ((gpa - r->gpa) &
					  (((uint64_t)1 << r->page_shift) - 1));
			(*qv)[(*nq)++] = qq;
			if (*np == *cp) {
				size_t c = *cp ? *cp * 2 : 16;
				struct piece *v = realloc(*pv, c * sizeof(*v));

				if (!v)
					return nomem(s, err);
				*pv = v;
				*cp = c;
			}
			(*pv)[(*np)++] = (struct piece){
				.write = wi, .gpa = gpa, .woff = done,
				.len = (unsigned)run };
		} else {
			memset(&x, 0, sizeof(x));
			x.off = foff;
			x.len = (unsigned)run;
			x.last = true;
			x.write = wi;
			memcpy(x.new, w->new + done, x.len);
			memcpy(x.expect, w->old + done, x.len);
			if (ranges_push(out, &x) < 0)
				return nomem(s, err);
		}
		done += (unsigned)run;
	}
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct repair_range *x = *(const struct repair_range *const *)a;
	const struct repair_range *y = *(const struct repair_range *const *)b;

	if (x->reenc != y->reenc)
		return x->reenc < y->reenc ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Refuse overlapping ranges (two writes of one plan to the same bytes). */
static int check_overlaps(const struct snapshot *s, const struct repair_plan *p,
			  struct repair_ranges *out, struct its_err *err)
{
	const struct repair_range **v;
	int rc = 0;

	if (out->nr < 2)
		return 0;
	v = malloc(out->nr * sizeof(*v));
	if (!v)
		return nomem(s, err);
	for (size_t i = 0; i < out->nr; i++)
		v[i] = &out->v[i];
	qsort(v, out->nr, sizeof(*v), range_cmp);
	for (size_t i = 1; i < out->nr; i++)
		if (v[i - 1]->reenc == v[i]->reenc &&
		    v[i - 1]->off + v[i - 1]->len > v[i]->off) {
			size_t a = v[i - 1]->write, b = v[i]->write;

			if (a > b) {
				size_t t = a;

				a = b;
				b = t;
			}
			rc = its_err_set(err, -EINVAL, s->path, v[i]->off,
					 "repairs %zu (%s) and %zu (%s) of the plan write the same bytes: refusing the plan",
					 a, p->v[a].why[0] ? p->v[a].why : "no reason given",
					 b, p->v[b].why[0] ? p->v[b].why : "no reason given");
			break;
		}
	free(v);
	return rc;
}

/* The re-encoding of the ZERO record c (one per record), 1 + its index in
 * out->re, or 0 when out of memory. */
static size_t reencode_of(struct repair_ranges *out, const struct copy *c,
			  uint32_t page_size)
{
	for (size_t i = 0; i < out->nr_re; i++)
		if (out->re[i].rec == c->rec)
			return i + 1;
	if (out->nr_re == out->cap_re) {
		size_t cap = out->cap_re ? out->cap_re * 2 : 4;
		struct repair_reencode *v = realloc(out->re, cap * sizeof(*v));

		if (!v)
			return 0;
		out->re = v;
		out->cap_re = cap;
	}
	out->re[out->nr_re] = (struct repair_reencode){
		.rec = c->rec, .fill_off = c->fill_off, .fill = c->fill,
		.page_size = page_size };
	return ++out->nr_re;
}

static int reencode_cmp(const void *a, const void *b)
{
	const struct repair_reencode *x = a, *y = b;

	return x->rec < y->rec ? -1 : x->rec > y->rec;
}

/* out->re sorted by file offset, the ranges' indexes renumbered. */
static int sort_reencodes(struct repair_ranges *out)
{
	size_t *map;

	if (out->nr_re < 2)
		return 0;
	map = malloc(out->nr_re * sizeof(*map));
	if (!map)
		return -ENOMEM;
	{
		/* sort a copy that remembers where each came from */
		struct { struct repair_reencode r; size_t from; } *t =
			malloc(out->nr_re * sizeof(*t));

		if (!t) {
			free(map);
			return -ENOMEM;
		}
		for (size_t i = 0; i < out->nr_re; i++) {
			t[i].r = out->re[i];
			t[i].from = i;
		}
		qsort(t, out->nr_re, sizeof(*t), reencode_cmp);
		for (size_t i = 0; i < out->nr_re; i++) {
			out->re[i] = t[i].r;
			map[t[i].from] = i;
		}
		free(t);
	}
	for (size_t i = 0; i < out->nr; i++)
		if (out->v[i].reenc)
			out->v[i].reenc = map[out->v[i].reenc - 1] + 1;
	free(map);
	return 0;
}

static int zpiece_cmp(const void *a, const void *b)
{
	const struct zpiece *x = a, *y = b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return x->in_page < y->in_page ? -1 : x->in_page > y->in_page;
}

/* The clear-bit mapped-ram pages of zp: each page's whole slot (zeros with
 * the pieces written in) as 16-byte ranges, then one range per bitmap
 * byte (its old and new bytes are set once old is read). The file offset of every piece goes to out->zp_at. */
static int collect_zero_slots(const struct snapshot *s,
			      const struct repair_plan *p, struct zpieces *zp,
			      struct repair_ranges *out,
			      struct its_err *err)
{
	uint8_t *nw = NULL, *ex = NULL;
	size_t first_bm;
	int rc = 0;

	out->zp_at = malloc(zp->nr * sizeof(*out->zp_at));
	if (!out->zp_at)
		return nomem(s, err);
	/* in plan order, for repair_locate */
	for (size_t i = 0; i < zp->nr; i++)
		out->zp_at[i] = zp->v[i].slot + zp->v[i].in_page;
	out->nr_zp = zp->nr;
	qsort(zp->v, zp->nr, sizeof(*zp->v), zpiece_cmp);
	for (size_t i = 0; i < zp->nr && rc == 0;) {
		uint64_t slot = zp->v[i].slot;
		uint32_t psz = zp->v[i].page_size;
		size_t j;

		free(nw);
		free(ex);
		nw = calloc(1, psz);
		ex = calloc(1, psz);
		if (!nw || !ex) {
			rc = nomem(s, err);
			break;
		}
		for (j = i; j < zp->nr && zp->v[j].slot == slot; j++) {
			const struct zpiece *z = &zp->v[j];
			const struct repair_write *w = &p->v[z->write];

			if (j > i && zp->v[j - 1].in_page + zp->v[j - 1].len >
					     z->in_page) {
				size_t a = zp->v[j - 1].write, b = z->write;

				if (a > b) {
					size_t t = a;

					a = b;
					b = t;
				}
				rc = its_err_set(err, -EINVAL, s->path,
						 slot + z->in_page,
						 "repairs %zu (%s) and %zu (%s) of the plan write the same bytes: refusing the plan",
						 a, p->v[a].why[0] ? p->v[a].why : "no reason given",
						 b, p->v[b].why[0] ? p->v[b].why : "no reason given");
				break;
			}
			memcpy(nw + z->in_page, w->new + z->woff, z->len);
			memcpy(ex + z->in_page, w->old + z->woff, z->len);
		}
		for (uint32_t k = 0; k < psz && rc == 0; k += 16) {
			struct repair_range x;

			memset(&x, 0, sizeof(x));
			x.off = slot + k;
			x.len = psz - k < 16 ? psz - k : 16;
			x.last = true;
			x.zero_page = true;
			x.write = zp->v[i].write;
			for (size_t q = i; q < j; q++)
				if (zp->v[q].in_page < k + x.len &&
				    zp->v[q].in_page + zp->v[q].len > k) {
					x.write = zp->v[q].write;
					break;
				}
			memcpy(x.new, nw + k, x.len);
			memcpy(x.expect, ex + k, x.len);
			if (ranges_push(out, &x) < 0)
				rc = nomem(s, err);
		}
		i = j;
	}
	free(nw);
	free(ex);
	/* the bitmap bytes, after every slot; one range per byte */
	first_bm = out->nr;
	for (size_t i = 0; i < zp->nr && rc == 0; i++) {
		const struct zpiece *z = &zp->v[i];
		size_t k;

		for (k = first_bm; k < out->nr; k++)
			if (out->v[k].off == z->bm_off)
				break;
		if (k < out->nr) {
			out->v[k].set_bits |= z->bit;
			continue;
		}
		{
			struct repair_range x;

			memset(&x, 0, sizeof(x));
			x.off = z->bm_off;
			x.len = 1;
			x.write = z->write;
			x.set_bits = z->bit;
			if (ranges_push(out, &x) < 0)
				rc = nomem(s, err);
		}
	}
	return rc;
}

int repair_collect(const struct snapshot *s, const struct repair_plan *p,
		   unsigned flags, struct repair_ranges *out,
		   struct its_err *err)
{
	const struct migstream_info *mi = migstream_info(s);
	struct piece *pv = NULL;
	struct query *qv = NULL;
	struct zpieces zp = { 0 };
	size_t np = 0, cp = 0, nq = 0, cq = 0;
	struct its_err local_err;
	int rc = 0;

	if (!err)
		err = &local_err;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < p->nr && rc == 0; i++) {
		const struct repair_write *w = &p->v[i];

		if (w->kind == REPAIR_REGISTER && w->reg == RREG_GICR_PROPBASER)
			rc = locate_gicr(s, w, i, out, err);
		else if (w->kind == REPAIR_REGISTER)
			rc = locate_register(s, w, i, out, err);
		else if (w->kind == REPAIR_RAM)
			rc = split_ram(s, w, i, mi != NULL, flags, &pv, &np,
				       &cp, &qv, &nq, &cq, &zp, out, err);
		else
			rc = its_err_set(err, -EINVAL, s->path,
					 ITS_ERR_NO_OFFSET,
					 "repair %zu has an unknown target kind %d",
					 i, (int)w->kind);
	}
	if (rc == 0 && nq) {
		struct scan sc;
		size_t u = 0;

		/* one query per distinct page */
		qsort(qv, nq, sizeof(*qv), query_cmp);
		for (size_t i = 0; i < nq; i++)
			if (u == 0 || query_cmp(&qv[u - 1], &qv[i]))
				qv[u++] = qv[i];
		nq = u;
		memset(&sc, 0, sizeof(sc));
		sc.s = s;
		sc.mi = mi;
		sc.q = qv;
		sc.nq = nq;
		sc.err = err;
		rc = scan_stream(&sc);
		for (size_t i = 0; i < np && rc == 0; i++) {
			const struct repair_write *w = &p->v[pv[i].write];
			const struct gmem_region *r = gmem_region_of(s->mem, pv[i].gpa);
			struct query key, *q;
			uint64_t in_page;

			memset(&key, 0, sizeof(key));
			key.block = block_of_region(mi, r);
			key.page = (pv[i].gpa - r->gpa) >> r->page_shift;
			in_page = (pv[i].gpa - r->gpa) &
				  (((uint64_t)1 << r->page_shift) - 1);
			q = bsearch(&key, qv, nq, sizeof(*qv), query_cmp);
			if (!q || !q->nr || q->c[q->nr - 1].off != q->last) {
				rc = its_err_set(err, -EIO, s->path,
						 ITS_ERR_NO_OFFSET,
						 "GPA 0x%llx: the rescan of the RAM records does not find the page copy the index points at (offset 0x%llx): the file changed since it was read?",
						 (unsigned long long)pv[i].gpa,
						 (unsigned long long)(q ? q->last : 0));
				break;
			}
			/* the last copy first, then the earlier ones */
			for (size_t c = q->nr; c-- > 0 && rc == 0;) {
				struct repair_range x;

				if (q->c[c].off == UINT64_MAX &&
				    c == q->nr - 1) {
					/* the last copy is a ZERO record */
					size_t k;

					if (!(flags & REPAIR_COLLECT_REENCODE)) {
						rc = zero_record_error(s, pv[i].gpa,
								       q->c[c].rec, err);
						break;
					}
					k = reencode_of(out, &q->c[c],
							(uint32_t)1 << r->page_shift);
					if (!k) {
						rc = nomem(s, err);
						break;
					}
					memset(&x, 0, sizeof(x));
					x.off = in_page;
					x.len = pv[i].len;
					x.last = true;
					x.write = pv[i].write;
					x.reenc = k;
					memcpy(x.new, w->new + pv[i].woff, x.len);
					memcpy(x.expect, w->old + pv[i].woff, x.len);
					memset(x.old, q->c[c].fill, x.len);
					if (ranges_push(out, &x) < 0)
						rc = nomem(s, err);
					continue;
				}
				if (q->c[c].off == UINT64_MAX)
					continue;	/* ZERO: no bytes */
				memset(&x, 0, sizeof(x));
				x.off = q->c[c].off + in_page;
				x.len = pv[i].len;
				x.last = c == q->nr - 1;
				x.write = pv[i].write;
				memcpy(x.new, w->new + pv[i].woff, x.len);
				memcpy(x.expect, w->old + pv[i].woff, x.len);
				if (ranges_push(out, &x) < 0)
					rc = nomem(s, err);
			}
		}
	}
	if (rc == 0 && zp.nr)
		rc = collect_zero_slots(s, p, &zp, out, err);
	/* what the file holds now, in every range (a re-encoded page: the
	 * fill byte, set above) */
	for (size_t i = 0; i < out->nr && rc == 0; i++) {
		struct repair_range *x = &out->v[i];

		if (!x->reenc)
			rc = its_pread_full(s->fd, x->old, x->len, x->off,
					    s->path, err);
		if (rc == 0 && x->set_bits) {
			if (x->old[0] & x->set_bits)
				rc = its_err_set(err, -EIO, s->path, x->off,
						 "a mapped-ram bitmap bit read as clear is set now: the file changed since it was read?");
			x->new[0] = x->old[0] | x->set_bits;
			x->expect[0] = x->old[0];
		}
	}
	if (rc == 0 && sort_reencodes(out) < 0)
		rc = nomem(s, err);
	if (rc == 0)
		rc = check_overlaps(s, p, out, err);
	for (size_t i = 0; i < nq; i++)
		free(qv[i].c);
	free(qv);
	free(pv);
	free(zp.v);
	if (rc < 0)
		repair_ranges_release(out);
	return rc;
}

/* ------------------------------------------------------------ public */

int repair_locate(const struct snapshot *s, const struct repair_write *w,
		  uint64_t *offs, size_t max, size_t *n, struct its_err *err)
{
	struct its_err local_err;
	struct repair_plan one = { .v = (struct repair_write *)w, .nr = 1,
				   .cap = 1 };
	struct repair_ranges r;
	int rc;

	if (!err)
		err = &local_err;
	its_err_clear(err);
	*n = 0;
	rc = repair_collect(s, &one, REPAIR_COLLECT_REENCODE, &r, err);
	if (rc < 0)
		return rc;
	/* a page whose last copy is a ZERO record: no offset to name */
	for (size_t i = 0; i < r.nr; i++)
		if (r.v[i].reenc) {
			repair_ranges_release(&r);
			return 0;
		}
	/* a clear-bit mapped-ram page: where w's bytes go in its slot, then
	 * the other ranges, the bitmap byte last */
	for (size_t i = 0; i < r.nr_zp; i++) {
		if (*n < max)
			offs[*n] = r.zp_at[i];
		++*n;
	}
	for (size_t i = 0; i < r.nr; i++) {
		if (r.v[i].zero_page)
			continue;
		if (*n < max)
			offs[*n] = r.v[i].off;
		++*n;
	}
	repair_ranges_release(&r);
	return 0;
}
