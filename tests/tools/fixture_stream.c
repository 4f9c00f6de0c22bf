/*
 * its-fixture: the QEMU migration stream writer (--format stream / libvirt),
 * byte for byte as QEMU 7.2 / 10.0 write a saved VM
 * (shared/spec/qemu-migration-stream.md; section numbers below are its):
 *
 *   [libvirt header + XML + padding (§15)]   or   [offset=N zero bytes]
 *   "QEVM" be32 3, CONFIGURATION (§3)
 *   START "ram" v4: MEM_SIZE block list [mapped-ram headers (§11)], EOS, footer
 *   PART ...: page records (ZERO fill 0 / PAGE, CONTINUE, idstr) EOS footer (§9)
 *   [COMMAND SWITCHOVER_START (§5)]  END: last pass, EOS, footer
 *   FULL arm_gicv3, arm_gicv3_its..., others (fixture_vmstate.c), each + footer
 *   EOF, VMDESCRIPTION (§8)
 *
 * Page content never lives in memory as a whole: each page is produced into
 * the output buffer (from the sparse RAM model and its "fill" background) and
 * turned into a ZERO record when it is all zero.  Per page the writer keeps
 * 10 bytes of bookkeeping (state flags, times sent, file offset of the last
 * data copy) for the manifest.
 */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* §3, §4 */
#define QEMU_VM_FILE_MAGIC 0x5145564dull
#define QEMU_VM_EOF 0x00
#define QEMU_VM_SECTION_START 0x01
#define QEMU_VM_SECTION_PART 0x02
#define QEMU_VM_SECTION_END 0x03
#define QEMU_VM_SECTION_FULL 0x04
#define QEMU_VM_VMDESCRIPTION 0x06
#define QEMU_VM_CONFIGURATION 0x07
#define QEMU_VM_COMMAND 0x08
#define QEMU_VM_SECTION_FOOTER 0x7e
#define MIG_CMD_SWITCHOVER_START 11
/* §9.2 */
#define RAM_SAVE_FLAG_ZERO 0x02ull
#define RAM_SAVE_FLAG_MEM_SIZE 0x04ull
#define RAM_SAVE_FLAG_PAGE 0x08ull
#define RAM_SAVE_FLAG_EOS 0x10ull
#define RAM_SAVE_FLAG_CONTINUE 0x20ull
#define RAM_SECTION_VERSION 4
/* §11 */
#define MAPPED_RAM_HDR_VERSION 1
#define MAPPED_RAM_HDR_SIZE 28u
#define MAPPED_RAM_FILE_OFFSET_ALIGNMENT 0x100000ull
/* §15 */
#define LIBVIRT_HDR_SIZE 92u
#define QEMU_SAVE_VERSION 2
#define LIBVIRT_FORMAT_SPARSE 6

#define OUT_BUF (8u << 20)

enum { PG_ABSENT = 1, PG_RESEND = 2 };
enum { CONTENT_FINAL = -2, CONTENT_ZERO = -1 };

struct blk {
	const struct fx_block *b;
	uint64_t npages;
	uint8_t *flags;            /* PG_* */
	uint8_t *nsent;            /* times sent, saturating at 255 */
	uint64_t *last;            /* file offset of the last data copy, 0 = none */
	uint64_t records_data, records_zero;
	/* mapped-ram */
	uint64_t hdr_off, bitmap_off, pages_off, bitmap_size;
	uint8_t *bitmap;
};

struct record {
	uint64_t off, size;
	uint8_t type;
	bool has_section, has_header;
	uint32_t section_id, instance_id, version_id;
	const char *idstr;
	int command;               /* COMMAND, else -1 */
	uint64_t payload_off, payload_len;
	const struct fx_section *sec;
};

struct fx_stream {
	const struct fx_stream_opts *o;
	const struct fx_stream_in *in;
	uint64_t P;
	struct blk *blk;
	size_t nblk;
	uint64_t ram_total;
	uint32_t ram_sid;
	struct fx_section *sec;
	size_t nsec;
	struct record *rec;
	size_t nrec, rcap;
	/* container */
	uint64_t stream_off, eof_off, vmdesc_off, vmdesc_len, end_off, file_size;
	uint64_t lv_data_len, lv_xml_len, lv_cookie_off;
	bool fc_done;
	uint64_t fc_off;
	uint32_t fc_real_id;
	const char *fc_idstr;
	uint32_t fc_instance;
	/* RAM emission */
	long cur_blk;              /* block of the last page header (CONTINUE) */
	bool in_section;
	size_t sec_rec;            /* record index of the open PART/END */
	uint64_t part_count;
	/* output */
	const char *path;
	int fd;
	uint8_t *buf;
	size_t blen;
	uint64_t bstart;           /* file offset of buf[0] */
	uint8_t *run;              /* mapped-ram: contiguous page run */
	size_t run_len;
	uint64_t run_off;
};

/* ------------------------------------------------------------ output */

static void pwrite_all(struct fx_stream *s, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *b = buf;
	while (len) {
		ssize_t n = pwrite(s->fd, b, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fx_fatal("%s: write at offset 0x%llx: %s", s->path,
				 (unsigned long long)off, n < 0 ? strerror(errno) : "short write");
		b += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
}

static uint64_t pos(const struct fx_stream *s)
{
	return s->bstart + s->blen;
}

static void flush(struct fx_stream *s)
{
	if (s->blen)
		pwrite_all(s, s->buf, s->blen, s->bstart);
	s->bstart += s->blen;
	s->blen = 0;
}

/* room for n contiguous bytes at the current position */
static uint8_t *reserve(struct fx_stream *s, size_t n)
{
	if (n > OUT_BUF)
		fx_fatal("internal error: record of %zu bytes", n);
	if (s->blen + n > OUT_BUF)
		flush(s);
	return s->buf + s->blen;
}

static void commit(struct fx_stream *s, size_t n)
{
	s->blen += n;
}

static void put(struct fx_stream *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		size_t k = n < OUT_BUF ? n : OUT_BUF;
		memcpy(reserve(s, k), b, k);
		commit(s, k);
		b += k;
		n -= k;
	}
}

static void put_be(struct fx_stream *s, uint64_t v, unsigned n)
{
	uint8_t *p = reserve(s, n);
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	commit(s, n);
}

static void put_counted(struct fx_stream *s, const char *str)
{
	size_t n = strlen(str);
	put_be(s, n, 1);
	put(s, str, n);
}

/* continue the stream at file offset off (qemu_set_offset) */
static void seek_to(struct fx_stream *s, uint64_t off)
{
	flush(s);
	s->bstart = off;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * (7 - i)));
}

/* ------------------------------------------------------------ records */

static size_t rec_begin(struct fx_stream *s, uint8_t type)
{
	if (s->nrec == s->rcap) {
		s->rcap = s->rcap ? s->rcap * 2 : 64;
		s->rec = fx_realloc(s->rec, s->rcap, sizeof(*s->rec));
	}
	struct record *r = &s->rec[s->nrec];
	memset(r, 0, sizeof(*r));
	r->off = pos(s);
	r->type = type;
	r->command = -1;
	put_be(s, type, 1);
	return s->nrec++;
}

static void rec_end(struct fx_stream *s, size_t i)
{
	s->rec[i].size = pos(s) - s->rec[i].off;
}

/* START / FULL: be32 section_id, counted idstr, be32 instance, be32 version */
static size_t section_header(struct fx_stream *s, uint8_t type, uint32_t sid,
			     const char *idstr, uint32_t inst, uint32_t ver)
{
	size_t i = rec_begin(s, type);
	struct record *r = &s->rec[i];
	r->has_section = true;
	r->section_id = sid;
	put_be(s, sid, 4);
	if (idstr) {
		r->has_header = true;
		r->idstr = idstr;
		r->instance_id = inst;
		r->version_id = ver;
		put_counted(s, idstr);
		put_be(s, inst, 4);
		put_be(s, ver, 4);
	}
	return i;
}

/* footer 7e + be32 section_id, or the wrong id footer_corrupt asks for */
static void footer(struct fx_stream *s, uint32_t sid, const char *idstr, uint32_t inst)
{
	const struct fx_stream_opts *o = s->o;
	uint32_t id = sid;
	if (o->footer_corrupt && !s->fc_done && !strcmp(idstr, o->fc_idstr) &&
	    (!o->fc_has_instance || o->fc_instance == inst)) {
		s->fc_done = true;
		s->fc_off = pos(s);
		s->fc_real_id = sid;
		s->fc_idstr = idstr;
		s->fc_instance = inst;
		id = o->fc_section_id;
	}
	put_be(s, QEMU_VM_SECTION_FOOTER, 1);
	put_be(s, id, 4);
}

/* ------------------------------------------------------------ validation */

static bool all_zero(const uint8_t *p, size_t n)
{
	uint64_t acc = 0, w;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		acc |= w;
		if (acc && (i & 511) == 0)
			return false;
	}
	for (; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static struct blk *blk_of_gpa(struct fx_stream *s, uint64_t gpa, uint64_t len)
{
	for (size_t i = 0; i < s->nblk; i++) {
		const struct fx_block *b = s->blk[i].b;
		if (b->region && gpa >= b->gpa && gpa - b->gpa < b->size &&
		    len <= b->size - (gpa - b->gpa))
			return &s->blk[i];
	}
	return NULL;
}

static void mark(struct blk *k, uint64_t P, uint64_t gpa, uint64_t len, uint8_t flag)
{
	uint64_t first = (gpa - k->b->gpa) / P;
	uint64_t last = (gpa + len - 1 - k->b->gpa) / P;
	for (uint64_t i = first; i <= last; i++)
		k->flags[i] |= flag;
}

static void prepare(struct fx_stream *s)
{
	const struct fx_stream_opts *o = s->o;
	const struct fx_stream_in *in = s->in;
	const struct fx_ram *ram = in->ram;
	uint64_t P = s->P;

	if (ram->nholes)
		fx_spec_error("holes: a RAMBlock is contiguous, so a migration stream cannot "
			      "have holes; describe separate \"ram\" regions or use \"absent\"");
	s->nblk = in->nblocks;
	s->blk = fx_calloc(s->nblk, sizeof(*s->blk));
	for (size_t i = 0; i < in->nblocks; i++) {
		const struct fx_block *b = &in->blocks[i];
		struct blk *k = &s->blk[i];
		size_t n = strlen(b->name);
		k->b = b;
		if (n == 0 || n > 255)
			fx_spec_error("ram[%zu].name: a RAMBlock idstr has 1..255 bytes", i);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(in->blocks[j].name, b->name))
				fx_spec_error("ram[%zu].name: \"%s\" is used twice (RAMBlock names are unique)",
					      i, b->name);
		if (b->size % P)
			fx_spec_error("ram[%zu] (\"%s\"): size 0x%llx is not a multiple of the stream page size 0x%llx",
				      i, b->name, (unsigned long long)b->size, (unsigned long long)P);
		k->npages = b->size / P;
		k->flags = fx_calloc(k->npages, 1);
		k->nsent = fx_calloc(k->npages, 1);
		k->last = fx_calloc(k->npages, sizeof(*k->last));
		s->ram_total += b->size;
	}
	for (size_t i = 0; i < ram->nabsent; i++) {
		const struct fx_range *a = &ram->absent[i];
		struct blk *k = blk_of_gpa(s, a->gpa, a->size);
		if (o->mapped_ram)
			fx_spec_error("absent[%zu]: a mapped-ram stream cannot leave pages out "
				      "(a clear bitmap bit means a zero page)", i);
		if (!k)
			fx_fatal("internal error: absent range in no block");
		if ((a->gpa - k->b->gpa) % P || a->size % P)
			fx_spec_error("absent[%zu]: 0x%llx+0x%llx is not aligned to the stream page size 0x%llx",
				      i, (unsigned long long)a->gpa, (unsigned long long)a->size,
				      (unsigned long long)P);
		mark(k, P, a->gpa, a->size, PG_ABSENT);
	}
	if (o->nresend && o->passes < 2)
		fx_spec_error("stream.live.resend: needs \"passes\" of 2 or more");
	for (size_t i = 0; i < o->nresend; i++) {
		const struct fx_resend *r = &o->resend[i];
		struct blk *k = blk_of_gpa(s, r->gpa, r->size);
		if (!k)
			fx_spec_error("stream.live.resend[%zu]: 0x%llx+0x%llx is not inside one RAM region",
				      i, (unsigned long long)r->gpa, (unsigned long long)r->size);
		mark(k, P, r->gpa, r->size, PG_RESEND);
	}
	if (o->format == FX_FMT_LIBVIRT) {
		bool sparse = o->lv_format == LIBVIRT_FORMAT_SPARSE;
		if (sparse != o->mapped_ram)
			fx_spec_error("stream.libvirt.format: libvirt writes format \"sparse\" (6) exactly "
				      "when the stream is mapped-ram (stream.mapped_ram)");
		if (o->offset)
			fx_spec_error("stream.offset: not with --format libvirt (the stream follows the libvirt header)");
	}
}

/* ------------------------------------------------------------ page content */

/* Produce page pi of block k into data (P bytes); true if not all zero. */
static bool page_content(struct fx_stream *s, const struct blk *k, uint64_t pi,
			 int content, uint8_t *data)
{
	const struct fx_ram *ram = s->in->ram;
	const struct fx_region *r = k->b->region;
	uint64_t P = s->P;

	if (content >= 0) {
		memset(data, content, P);
		return content != 0;
	}
	if (content == CONTENT_ZERO || !r) {
		memset(data, 0, P);
		return false;
	}
	uint64_t gpa = r->gpa + pi * P;
	/* fast path: an untouched 4 KiB page without background */
	if (P == FX_PAGE_SIZE && !r->pages[pi] && !fx_ram_filled(ram, gpa, P)) {
		memset(data, 0, P);
		return false;
	}
	fx_ram_read(ram, gpa, data, P);
	return !all_zero(data, P);
}

/* stale content of a re-sent page in pass p < passes: odd passes carry the
 * range's dirty byte, even passes zeros */
static int stale_content(struct fx_stream *s, const struct blk *k, uint64_t pi, unsigned p)
{
	if (!(p & 1))
		return CONTENT_ZERO;
	uint64_t gpa = k->b->gpa + pi * s->P;
	int v = s->o->dirty_value;
	for (size_t i = 0; i < s->o->nresend; i++) {
		const struct fx_resend *r = &s->o->resend[i];
		if (r->dirty >= 0 && gpa < r->gpa + r->size && r->gpa < gpa + s->P)
			v = r->dirty;
	}
	return v;
}

static void count_sent(struct blk *k, uint64_t pi)
{
	if (k->nsent[pi] < 255)
		k->nsent[pi]++;
}

/* ------------------------------------------------------------ RAM, records */

static void ram_section_begin(struct fx_stream *s, uint8_t type)
{
	s->sec_rec = section_header(s, type, s->ram_sid, NULL, 0, 0);
	s->in_section = true;
	s->part_count = 0;
}

static void ram_section_end(struct fx_stream *s)
{
	put_be(s, RAM_SAVE_FLAG_EOS, 8);
	footer(s, s->ram_sid, "ram", 0);
	rec_end(s, s->sec_rec);
	s->in_section = false;
}

static void emit_page(struct fx_stream *s, size_t bi, uint64_t pi, int content)
{
	struct blk *k = &s->blk[bi];
	bool cont = s->cur_blk == (long)bi;
	size_t nlen = strlen(k->b->name);
	size_t hlen = 8 + (cont ? 0 : 1 + nlen);
	uint8_t *p = reserve(s, hlen + s->P);
	uint8_t *data = p + hlen;
	bool nz = page_content(s, k, pi, content, data);
	uint64_t h = pi * s->P | (cont ? RAM_SAVE_FLAG_CONTINUE : 0) |
		     (nz ? RAM_SAVE_FLAG_PAGE : RAM_SAVE_FLAG_ZERO);

	put_be64(p, h);
	if (!cont) {
		p[8] = (uint8_t)nlen;
		memcpy(p + 9, k->b->name, nlen);
	}
	if (nz) {
		k->last[pi] = pos(s) + hlen;
		k->records_data++;
		commit(s, hlen + s->P);
	} else {
		data[0] = 0;                  /* fill byte: QEMU always writes 0 */
		k->last[pi] = 0;
		k->records_zero++;
		commit(s, hlen + 1);
	}
	count_sent(k, pi);
	s->cur_blk = (long)bi;
	s->part_count++;
}

/* mapped-ram: pages go to pages_offset + i * P; contiguous runs batched */
static void run_flush(struct fx_stream *s)
{
	if (s->run_len)
		pwrite_all(s, s->run, s->run_len, s->run_off);
	s->run_len = 0;
}

static void mapped_page(struct fx_stream *s, size_t bi, uint64_t pi, int content)
{
	struct blk *k = &s->blk[bi];
	uint64_t off = k->pages_off + pi * s->P;
	if (s->run_len && (s->run_off + s->run_len != off || s->run_len + s->P > OUT_BUF))
		run_flush(s);
	uint8_t *data = s->run + s->run_len;
	bool nz = page_content(s, k, pi, content, data);
	count_sent(k, pi);
	if (!nz) {
		/* zero pages are not written; the bit is cleared (stale bytes
		 * of an earlier pass stay in the page area) */
		k->bitmap[pi / 8] &= (uint8_t)~(1u << (pi % 8));
		k->last[pi] = 0;
		run_flush(s);
		return;
	}
	if (!s->run_len)
		s->run_off = off;
	s->run_len += s->P;
	k->bitmap[pi / 8] |= (uint8_t)(1u << (pi % 8));
	k->last[pi] = off;
}

static void switchover_start(struct fx_stream *s)
{
	if (!s->o->switchover)
		return;
	size_t r = rec_begin(s, QEMU_VM_COMMAND);
	s->rec[r].command = MIG_CMD_SWITCHOVER_START;
	put_be(s, MIG_CMD_SWITCHOVER_START, 2);
	put_be(s, 0, 2);
	rec_end(s, r);
}

/* The final phase: [an empty PART if none was written,] SWITCHOVER_START,
 * then SECTION_END opens. */
static void begin_end_section(struct fx_stream *s, bool any_part)
{
	if (s->in_section)
		ram_section_end(s);
	if (!any_part) {
		ram_section_begin(s, QEMU_VM_SECTION_PART);
		ram_section_end(s);
	}
	switchover_start(s);
	ram_section_begin(s, QEMU_VM_SECTION_END);
}

/*
 * All passes over RAM.  Pass 1 sends every page (stale content for pages
 * in "resend" ranges), passes 2.. re-send those pages, the last pass with
 * the final content.  Passes 1..N-1 (or the only pass) go in SECTION_PARTs
 * of at most part_pages pages each, pass N > 1 in SECTION_END.  With
 * mapped-ram the sections only carry EOS and the pages go to their fixed
 * offsets, but the sections are cut the same way (one per iteration).
 */
static void write_ram_pages(struct fx_stream *s)
{
	const struct fx_stream_opts *o = s->o;
	unsigned N = o->passes;
	bool any_part = false;

	for (unsigned p = 1; p <= N; p++) {
		bool in_end = N > 1 && p == N;
		if (in_end)
			begin_end_section(s, any_part);
		for (size_t bi = 0; bi < s->nblk; bi++) {
			struct blk *k = &s->blk[bi];
			for (uint64_t pi = 0; pi < k->npages; pi++) {
				uint8_t f = k->flags[pi];
				if (f & PG_ABSENT)
					continue;
				if (p > 1 && !(f & PG_RESEND))
					continue;
				int content = (f & PG_RESEND) && p < N ? stale_content(s, k, pi, p)
								       : CONTENT_FINAL;
				if (!in_end && s->in_section && s->part_count >= o->part_pages)
					ram_section_end(s);
				if (!s->in_section) {
					ram_section_begin(s, QEMU_VM_SECTION_PART);
					any_part = true;
				}
				if (o->mapped_ram) {
					mapped_page(s, bi, pi, content);
					s->part_count++;
				} else {
					emit_page(s, bi, pi, content);
				}
			}
		}
		run_flush(s);
	}
	if (N == 1)
		begin_end_section(s, any_part);
	if (o->mapped_ram) {
		/* ram_save_complete writes the bitmaps at the end */
		for (size_t bi = 0; bi < s->nblk; bi++)
			pwrite_all(s, s->blk[bi].bitmap, s->blk[bi].bitmap_size,
				   s->blk[bi].bitmap_off);
	}
	ram_section_end(s);
}

/* §9.3 (+ §11): the START section */
static void write_ram_start(struct fx_stream *s)
{
	const struct fx_stream_opts *o = s->o;
	s->sec_rec = section_header(s, QEMU_VM_SECTION_START, s->ram_sid, "ram", 0,
				    RAM_SECTION_VERSION);
	s->in_section = true;
	put_be(s, s->ram_total | RAM_SAVE_FLAG_MEM_SIZE, 8);
	for (size_t bi = 0; bi < s->nblk; bi++) {
		struct blk *k = &s->blk[bi];
		put_counted(s, k->b->name);
		put_be(s, k->b->size, 8);
		if (!o->mapped_ram)
			continue;
		k->hdr_off = pos(s);
		k->bitmap_off = k->hdr_off + MAPPED_RAM_HDR_SIZE;
		k->bitmap_size = (k->npages + 63) / 64 * 8;   /* unsigned longs of a 64-bit host */
		k->pages_off = (k->bitmap_off + k->bitmap_size + MAPPED_RAM_FILE_OFFSET_ALIGNMENT - 1) /
			       MAPPED_RAM_FILE_OFFSET_ALIGNMENT * MAPPED_RAM_FILE_OFFSET_ALIGNMENT;
		k->bitmap = fx_calloc(k->bitmap_size, 1);
		put_be(s, MAPPED_RAM_HDR_VERSION, 4);
		put_be(s, s->P, 8);
		put_be(s, k->bitmap_off, 8);
		put_be(s, k->pages_off, 8);
		seek_to(s, k->pages_off + k->b->size);
	}
	ram_section_end(s);
}

/* ------------------------------------------------------------ the file */

static void write_libvirt_header(struct fx_stream *s)
{
	const struct fx_stream_opts *o = s->o;
	uint8_t h[LIBVIRT_HDR_SIZE] = { 0 };
	size_t xml_len = strlen(o->lv_xml) + 1;
	size_t cookie_len = o->lv_cookie ? strlen(o->lv_cookie) + 1 : 0;

	s->lv_xml_len = xml_len;
	s->lv_cookie_off = o->lv_cookie ? xml_len : 0;
	s->lv_data_len = xml_len + cookie_len + o->lv_padding;
	if (s->lv_data_len > 0xffffffffull)
		fx_spec_error("stream.libvirt: XML + cookie + padding do not fit in 32 bits");
	memcpy(h, o->lv_incomplete ? "LibvirtQemudPart" : "LibvirtQemudSave", 16);
	put_le32(h + 16, QEMU_SAVE_VERSION);
	put_le32(h + 20, (uint32_t)s->lv_data_len);
	put_le32(h + 24, o->lv_was_running);
	put_le32(h + 28, o->lv_format);
	put_le32(h + 32, (uint32_t)s->lv_cookie_off);
	put(s, h, sizeof(h));
	put(s, o->lv_xml, xml_len);
	if (o->lv_cookie)
		put(s, o->lv_cookie, cookie_len);
	/* zero padding: a hole in the (sparse) file */
	seek_to(s, LIBVIRT_HDR_SIZE + s->lv_data_len);
}

static void write_configuration(struct fx_stream *s, const uint8_t *cfg, size_t cfg_len)
{
	put_be(s, QEMU_VM_FILE_MAGIC, 4);
	put_be(s, s->o->version, 4);
	size_t r = rec_begin(s, QEMU_VM_CONFIGURATION);
	put(s, cfg, cfg_len);
	rec_end(s, r);
}

static void write_sections(struct fx_stream *s)
{
	for (size_t i = 0; i < s->nsec; i++) {
		const struct fx_section *c = &s->sec[i];
		size_t r = section_header(s, QEMU_VM_SECTION_FULL, c->section_id, c->idstr,
					  c->instance_id, c->version_id);
		s->rec[r].sec = c;
		s->rec[r].payload_off = pos(s);
		s->rec[r].payload_len = c->len;
		put(s, c->payload, c->len);
		footer(s, c->section_id, c->idstr, c->instance_id);
		rec_end(s, r);
	}
}

static void write_vmdesc(struct fx_stream *s, const char *cfg_desc)
{
	size_t len = 0, cap = 4096;
	char *j = fx_calloc(cap, 1);
#define APPEND(str) do { \
		const char *a_ = (str); size_t n_ = strlen(a_); \
		while (len + n_ + 1 > cap) { cap *= 2; j = fx_realloc(j, cap, 1); } \
		memcpy(j + len, a_, n_ + 1); len += n_; \
	} while (0)
	char num[64];

	APPEND("{");
	if (s->o->qemu >= FX_QEMU_10_0) {
		APPEND("\"configuration\": ");
		APPEND(cfg_desc);
		APPEND(", ");
	}
	snprintf(num, sizeof(num), "\"page_size\": %llu, \"devices\": [",
		 (unsigned long long)s->P);
	APPEND(num);
	for (size_t i = 0; i < s->nsec; i++) {
		if (i)
			APPEND(", ");
		APPEND(s->sec[i].desc);
	}
	APPEND("]}");
#undef APPEND
	size_t r = rec_begin(s, QEMU_VM_VMDESCRIPTION);
	s->vmdesc_off = s->rec[r].off;
	s->vmdesc_len = len;
	put_be(s, len, 4);
	put(s, j, len);
	rec_end(s, r);
	free(j);
}

struct fx_stream *fx_stream_write(const char *path, const struct fx_stream_opts *o,
				  const struct fx_stream_in *in)
{
	struct fx_stream *s = fx_calloc(1, sizeof(*s));
	s->o = o;
	s->in = in;
	s->P = 1ull << o->page_bits;
	s->path = path;
	s->cur_blk = -1;
	prepare(s);

	uint8_t *cfg;
	size_t cfg_len;
	char *cfg_desc;
	fx_build_configuration(o, &cfg, &cfg_len, &cfg_desc);
	fx_build_sections(o, in, &s->ram_sid, &s->sec, &s->nsec);
	if (o->footer_corrupt) {
		bool found = !strcmp(o->fc_idstr, "ram") &&
			     (!o->fc_has_instance || o->fc_instance == 0);
		for (size_t i = 0; i < s->nsec; i++)
			if (!strcmp(s->sec[i].idstr, o->fc_idstr) &&
			    (!o->fc_has_instance || s->sec[i].instance_id == o->fc_instance))
				found = true;
		if (!found)
			fx_spec_error("stream.footer_corrupt: the stream has no section \"%s\"%s",
				      o->fc_idstr, o->fc_has_instance ? " with that instance_id" : "");
	}

	s->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (s->fd < 0)
		fx_fatal("%s: %s", path, strerror(errno));
	s->buf = fx_calloc(1, OUT_BUF);
	if (o->mapped_ram)
		s->run = fx_calloc(1, OUT_BUF);

	if (o->format == FX_FMT_LIBVIRT)
		write_libvirt_header(s);
	else if (o->offset)
		seek_to(s, o->offset);
	s->stream_off = pos(s);
	write_configuration(s, cfg, cfg_len);
	write_ram_start(s);
	write_ram_pages(s);
	write_sections(s);
	size_t r = rec_begin(s, QEMU_VM_EOF);
	rec_end(s, r);
	s->eof_off = s->rec[r].off;
	if (o->vmdesc)
		write_vmdesc(s, cfg_desc);
	flush(s);
	s->end_off = pos(s);
	s->file_size = o->truncate ? o->truncate_to : s->end_off;
	if (ftruncate(s->fd, (off_t)s->file_size) < 0)
		fx_fatal("%s: ftruncate: %s", path, strerror(errno));
	if (close(s->fd) < 0)
		fx_fatal("%s: close: %s", path, strerror(errno));
	free(s->buf);
	free(s->run);
	s->buf = s->run = NULL;
	free(cfg);
	free(cfg_desc);
	s->in = NULL;   /* the caller's; only the blocks (S.blocks) are kept */
	return s;
}

/* ------------------------------------------------------------ manifest */

bool fx_stream_locate(const struct fx_stream *s, uint64_t gpa, uint64_t *off)
{
	for (size_t i = 0; i < s->nblk; i++) {
		const struct blk *k = &s->blk[i];
		const struct fx_block *b = k->b;
		if (!b->region || gpa < b->gpa || gpa - b->gpa >= b->size)
			continue;
		uint64_t pi = (gpa - b->gpa) / s->P;
		if (!k->last[pi])
			return false;
		*off = k->last[pi] + (gpa - b->gpa) % s->P;
		return true;
	}
	return false;
}

uint64_t fx_stream_file_size(const struct fx_stream *s)
{
	return s->file_size;
}

static json_object *jhex(uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	return json_object_new_string(buf);
}

static json_object *jint(uint64_t v)
{
	return json_object_new_int64((int64_t)v);
}

static void add(json_object *o, const char *key, json_object *v)
{
	json_object_object_add(o, key, v);
}

static const char *record_name(uint8_t t)
{
	switch (t) {
	case QEMU_VM_EOF: return "EOF";
	case QEMU_VM_SECTION_START: return "START";
	case QEMU_VM_SECTION_PART: return "PART";
	case QEMU_VM_SECTION_END: return "END";
	case QEMU_VM_SECTION_FULL: return "FULL";
	case QEMU_VM_VMDESCRIPTION: return "VMDESCRIPTION";
	case QEMU_VM_CONFIGURATION: return "CONFIGURATION";
	case QEMU_VM_COMMAND: return "COMMAND";
	}
	return "?";
}

static const char *const lv_formats[] = { "raw", "gzip", "bzip2", "xz", "lzop", "zstd", "sparse" };

json_object *fx_stream_manifest(const struct fx_stream *s)
{
	const struct fx_stream_opts *o = s->o;
	json_object *m = json_object_new_object();

	add(m, "format", json_object_new_string(o->format == FX_FMT_LIBVIRT ? "libvirt" : "stream"));
	add(m, "qemu", json_object_new_string(o->qemu >= FX_QEMU_10_0 ? "10.0" : "7.2"));
	add(m, "machine", json_object_new_string(o->machine));
	add(m, "header_version", jint(o->version));
	add(m, "page_size", jint(s->P));
	add(m, "stream_offset", jhex(s->stream_off));
	add(m, "mapped_ram", json_object_new_boolean(o->mapped_ram));
	add(m, "switchover", json_object_new_boolean(o->switchover));
	add(m, "passes", jint(o->passes));
	if (o->format == FX_FMT_LIBVIRT) {
		json_object *l = json_object_new_object();
		add(l, "magic", json_object_new_string(o->lv_incomplete ? "LibvirtQemudPart"
								       : "LibvirtQemudSave"));
		add(l, "version", jint(QEMU_SAVE_VERSION));
		add(l, "data_len", jhex(s->lv_data_len));
		add(l, "was_running", jint(o->lv_was_running));
		add(l, "format", jint(o->lv_format));
		if (o->lv_format < sizeof(lv_formats) / sizeof(lv_formats[0]))
			add(l, "format_name", json_object_new_string(lv_formats[o->lv_format]));
		add(l, "cookie_offset", jhex(s->lv_cookie_off));
		add(l, "xml_offset", jhex(LIBVIRT_HDR_SIZE));
		add(l, "xml_length", jhex(s->lv_xml_len));
		add(m, "libvirt", l);
	}
	add(m, "ram_total", jhex(s->ram_total));

	json_object *ba = json_object_new_array();
	for (size_t i = 0; i < s->nblk; i++) {
		const struct blk *k = &s->blk[i];
		uint64_t data = 0, zero = 0, absent = 0, resent = 0;
		for (uint64_t pi = 0; pi < k->npages; pi++) {
			if (k->last[pi])
				data++;
			else if (k->nsent[pi] || o->mapped_ram)
				zero++;
			else
				absent++;
			resent += k->nsent[pi] > 1;
		}
		json_object *b = json_object_new_object();
		add(b, "name", json_object_new_string(k->b->name));
		add(b, "used_length", jhex(k->b->size));
		add(b, "gpa", k->b->has_gpa ? jhex(k->b->gpa) : NULL);
		add(b, "stream_only", json_object_new_boolean(k->b->stream_only));
		add(b, "pages", jint(k->npages));
		add(b, "pages_data", jint(data));
		add(b, "pages_zero", jint(zero));
		add(b, "pages_absent", jint(absent));
		add(b, "pages_resent", jint(resent));
		add(b, "records_data", jint(k->records_data));
		add(b, "records_zero", jint(k->records_zero));
		if (o->mapped_ram) {
			add(b, "header_offset", jhex(k->hdr_off));
			add(b, "bitmap_offset", jhex(k->bitmap_off));
			add(b, "bitmap_size", jhex(k->bitmap_size));
			add(b, "pages_offset", jhex(k->pages_off));
		}
		json_object_array_add(ba, b);
	}
	add(m, "blocks", ba);

	json_object *ra = json_object_new_array();
	json_object *its = json_object_new_array();
	json_object *gic = NULL;
	for (size_t i = 0; i < s->nrec; i++) {
		const struct record *r = &s->rec[i];
		json_object *j = json_object_new_object();
		add(j, "offset", jhex(r->off));
		add(j, "type", json_object_new_string(record_name(r->type)));
		if (r->has_section)
			add(j, "section_id", jint(r->section_id));
		if (r->has_header) {
			add(j, "idstr", json_object_new_string(r->idstr));
			add(j, "instance_id", jint(r->instance_id));
			add(j, "version_id", jint(r->version_id));
		}
		if (r->command >= 0)
			add(j, "command", jint((uint64_t)r->command));
		if (r->sec) {
			add(j, "payload_offset", jhex(r->payload_off));
			add(j, "payload_size", jhex(r->payload_len));
		}
		add(j, "size", jhex(r->size));
		json_object_array_add(ra, j);

		if (r->sec && r->sec->its_index >= 0) {
			json_object *t = json_object_new_object();
			add(t, "index", jint((uint64_t)r->sec->its_index));
			add(t, "section_id", jint(r->section_id));
			add(t, "version_id", jint(r->version_id));
			add(t, "section_offset", jhex(r->off));
			add(t, "payload_offset", jhex(r->payload_off));
			add(t, "payload_size", jhex(r->payload_len));
			json_object_array_add(its, t);
		}
		if (r->sec && r->sec->gicv3) {
			gic = json_object_new_object();
			add(gic, "section_id", jint(r->section_id));
			add(gic, "version_id", jint(r->version_id));
			add(gic, "section_offset", jhex(r->off));
			add(gic, "payload_offset", jhex(r->payload_off));
			add(gic, "payload_size", jhex(r->payload_len));
			json_object *ca = json_object_new_array();
			for (unsigned c = 0; c < r->sec->ncpu; c++) {
				uint64_t e = r->payload_off + r->sec->cpu_off[c];
				json_object *co = json_object_new_object();
				add(co, "cpu", jint(c));
				add(co, "offset", jhex(e));
				add(co, "size", jhex(r->sec->cpu_len[c]));
				add(co, "gicr_propbaser_offset", jhex(e + FX_GICR_PROPBASER_OFF));
				add(co, "gicr_pendbaser_offset", jhex(e + FX_GICR_PENDBASER_OFF));
				json_object_array_add(ca, co);
			}
			add(gic, "cpus", ca);
		}
	}
	add(m, "records", ra);
	add(m, "arm_gicv3", gic);
	add(m, "its", its);
	add(m, "eof_offset", jhex(s->eof_off));
	if (o->vmdesc) {
		json_object *v = json_object_new_object();
		add(v, "offset", jhex(s->vmdesc_off));
		add(v, "json_offset", jhex(s->vmdesc_off + 5));
		add(v, "length", jhex(s->vmdesc_len));
		add(m, "vmdesc", v);
	} else {
		add(m, "vmdesc", NULL);
	}
	if (s->fc_done) {
		json_object *f = json_object_new_object();
		add(f, "idstr", json_object_new_string(s->fc_idstr));
		add(f, "instance_id", jint(s->fc_instance));
		add(f, "offset", jhex(s->fc_off));
		add(f, "section_id", jint(s->fc_real_id));
		add(f, "written_id", jint(o->fc_section_id));
		add(m, "footer_corrupt", f);
	}
	add(m, "end_offset", jhex(s->end_off));
	return m;
}

void fx_stream_free(struct fx_stream *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nblk; i++) {
		free(s->blk[i].flags);
		free(s->blk[i].nsent);
		free(s->blk[i].last);
		free(s->blk[i].bitmap);
	}
	free(s->blk);
	free(s->rec);
	fx_sections_free(s->sec, s->nsec);
	free(s);
}
