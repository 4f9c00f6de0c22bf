/* Every named limit of its/limits.h: an input just over it gives its exact
 * one-line error (or, for limits that count the rest, the exact counts),
 * and one just under it is read. The inputs are built here, byte by byte,
 * and kept small: big files are sparse. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "its/bits.h"
#include "its/findings.h"
#include "its/gmem.h"
#include "its/limits.h"
#include "its/migstream.h"
#include "its/snapshot.h"
#include "its/walk.h"
#include "suites.h"
#include "testutil.h"

/* ------------------------------------------------------------ bytes */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void u8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void be(struct buf *b, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		u8(b, (uint8_t)(v >> (8 * i)));
}

static void le(struct buf *b, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		u8(b, (uint8_t)(v >> (8 * i)));
}

static void counted(struct buf *b, const char *s)
{
	u8(b, (uint8_t)strlen(s));
	put(b, s, strlen(s));
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void fill(struct buf *b, int c, size_t n)
{
	while (n--)
		u8(b, (uint8_t)c);
}

/* The file name, in the test's directory; size > b->n extends it with a
 * hole. Caller frees. */
static char *save(const char *name, const struct buf *b, uint64_t size)
{
	char *path = t_write_file(name, 0, b->p, b->n);

	if (size > b->n)
		ck_assert_int_eq(truncate(path, (off_t)size), 0);
	return path;
}

/* ------------------------------------------------------------ opening */

static struct snapshot *open_ok(const char *path)
{
	struct snapshot *s = NULL;
	struct its_err err;
	char line[1024];
	int rc;

	its_err_clear(&err);
	rc = snapshot_open(path, NULL, &s, &err);
	its_err_format(&err, line, sizeof(line));
	ck_assert_msg(rc == 0, "%s", line);
	return s;
}

/* The exact line: "PATH: offset 0xOFF: MSG". */
static void open_fails(const char *path, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void open_fails(const char *path, uint64_t off, const char *fmt, ...)
{
	struct snapshot *s = NULL;
	struct its_err err;
	char line[1024], want[1024], msg[800];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(want, sizeof(want), "%s: offset 0x%llx: %s", path,
		 (unsigned long long)off, msg);
	its_err_clear(&err);
	rc = snapshot_open(path, NULL, &s, &err);
	its_err_format(&err, line, sizeof(line));
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(line, want);
}

/* ------------------------------------------------------------ streams */

#define PAGE		4096ULL
#define RAM_ID		2
#define MACH_RAM	"mach-virt.ram"

static void head(struct buf *b, const char *machine)
{
	put(b, "QEVM\0\0\0\3", 8);
	u8(b, 0x07);
	be(b, strlen(machine), 4);
	put(b, machine, strlen(machine));
	u8(b, 0x05);
	counted(b, "configuration/target-page-bits");
	be(b, 1, 4);
	be(b, 12, 4);
}

static void footer(struct buf *b, uint32_t sid)
{
	u8(b, 0x7e);
	be(b, sid, 4);
}

static void eos(struct buf *b)
{
	be(b, 0x10, 8);
	footer(b, RAM_ID);
}

/* SECTION_START of "ram" with one block; *decl: its block-list entry. */
static void ram_start(struct buf *b, const char *name, uint64_t len,
		      uint64_t *decl)
{
	u8(b, 0x01);
	be(b, RAM_ID, 4);
	counted(b, "ram");
	be(b, 0, 4);
	be(b, 4, 4);
	be(b, len | 0x04, 8);
	if (decl)
		*decl = b->n;
	counted(b, name);
	be(b, len, 8);
	eos(b);
}

static void section(struct buf *b, uint8_t type)
{
	u8(b, type);
	be(b, RAM_ID, 4);
}

/* A zero page; name NULL: CONTINUE (the block named last). */
static void zero_page(struct buf *b, uint64_t off, const char *name)
{
	be(b, off | 0x02 | (name ? 0 : 0x20), 8);
	if (name)
		counted(b, name);
	u8(b, 0);
}

static void data_page(struct buf *b, uint64_t off, const char *name, int c)
{
	be(b, off | 0x08 | (name ? 0 : 0x20), 8);
	if (name)
		counted(b, name);
	fill(b, c, PAGE);
}

/* END of "ram" (EOS only) and QEMU_VM_EOF: no device sections. */
static void tail(struct buf *b)
{
	section(b, 0x03);
	eos(b);
	u8(b, 0x00);
}

/* A stream with one small block and one data page, from head on. */
static void small_ram(struct buf *b)
{
	ram_start(b, MACH_RAM, 16 * PAGE, NULL);
	section(b, 0x02);
	data_page(b, 0, MACH_RAM, 0x5a);
	eos(b);
}

static void release(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------------------ header */

START_TEST(machine_name)
{
	struct buf b = { 0 };
	struct snapshot *s;
	char name[MS_MAX_MACHINE_NAME + 2];
	char *path;

	memset(name, 'v', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	head(&b, name);
	small_ram(&b);
	tail(&b);
	path = save("long.mig", &b, 0);
	open_fails(path, 9, "machine type name of 256 bytes over the limit of 255");
	free(path);
	release(&b);

	name[MS_MAX_MACHINE_NAME] = '\0';
	head(&b, name);
	small_ram(&b);
	tail(&b);
	path = save("ok.mig", &b, 0);
	s = open_ok(path);
	ck_assert_uint_eq(strlen(migstream_info(s)->machine), 255);
	snapshot_close(s);
	free(path);
	release(&b);
}
END_TEST

static char *caps_stream(unsigned n, uint64_t *count_at)
{
	struct buf b = { 0 };
	char *path;

	head(&b, "virt");
	u8(&b, 0x05);
	counted(&b, "configuration/capabilities");
	be(&b, 1, 4);
	*count_at = b.n;
	be(&b, n, 4);
	for (unsigned i = 0; i < n; i++)
		counted(&b, "c");
	small_ram(&b);
	tail(&b);
	path = save("caps.mig", &b, 0);
	release(&b);
	return path;
}

START_TEST(capabilities)
{
	struct snapshot *s;
	uint64_t at;
	char *path = caps_stream(MS_MAX_CAPABILITIES + 1, &at);

	open_fails(path, at, "capability count 257 over the limit of 256");
	free(path);
	path = caps_stream(MS_MAX_CAPABILITIES, &at);
	s = open_ok(path);
	ck_assert_uint_eq(migstream_info(s)->nr_capabilities, 256);
	snapshot_close(s);
	free(path);
}
END_TEST

/* ------------------------------------------------------------ RAM */

static char *blocks_stream(unsigned n, uint64_t *last_decl)
{
	struct buf b = { 0 };
	char name[16];
	char *path;

	head(&b, "virt");
	u8(&b, 0x01);
	be(&b, RAM_ID, 4);
	counted(&b, "ram");
	be(&b, 0, 4);
	be(&b, 4, 4);
	be(&b, n * PAGE | 0x04, 8);
	for (unsigned i = 0; i < n; i++) {
		*last_decl = b.n;
		snprintf(name, sizeof(name), "b%u", i);
		counted(&b, name);
		be(&b, PAGE, 8);
	}
	eos(&b);
	tail(&b);
	path = save("blocks.mig", &b, 0);
	release(&b);
	return path;
}

START_TEST(ram_blocks)
{
	const struct migstream_info *mi;
	struct snapshot *s;
	uint64_t decl;
	char *path = blocks_stream(MS_MAX_BLOCKS + 1, &decl);

	open_fails(path, decl,
		   "RAMBlock 'b4096' is block 4097 of the block list, over the limit of 4096");
	free(path);
	path = blocks_stream(MS_MAX_BLOCKS, &decl);
	s = open_ok(path);
	mi = migstream_info(s);
	ck_assert_uint_eq(mi->nr_blocks, 4096);
	/* one "no known guest-physical address" warning per block, and one
	 * for the stream: the first MIGSTREAM_MAX_WARNINGS kept */
	ck_assert_uint_eq(mi->nr_warnings, MIGSTREAM_MAX_WARNINGS);
	ck_assert_uint_eq(mi->nr_warnings_seen, 4097);
	snapshot_close(s);
	free(path);
}
END_TEST

START_TEST(ramblock_bytes)
{
	struct buf b = { 0 };
	const struct migstream_ramblock *bl;
	struct snapshot *s;
	struct its_err err;
	uint64_t decl, v;
	char *path;

	head(&b, "virt");
	ram_start(&b, MACH_RAM, MS_MAX_RAMBLOCK_BYTES + PAGE, &decl);
	tail(&b);
	path = save("big.mig", &b, 0);
	open_fails(path, decl,
		   "RAMBlock 'mach-virt.ram' length 0x10000000001000 over the limit of 0x10000000000000 (the 52-bit physical address space)");
	free(path);
	release(&b);

	/* 2^52 bytes with its first and last pages: the index is sparse */
	head(&b, "virt");
	ram_start(&b, MACH_RAM, MS_MAX_RAMBLOCK_BYTES, NULL);
	section(&b, 0x02);
	data_page(&b, 0, MACH_RAM, 0x11);
	data_page(&b, MS_MAX_RAMBLOCK_BYTES - PAGE, NULL, 0x22);
	eos(&b);
	tail(&b);
	path = save("max.mig", &b, 0);
	s = open_ok(path);
	bl = migstream_find_block(migstream_info(s), MACH_RAM);
	ck_assert_uint_eq(bl->pages_data, 2);
	ck_assert_uint_eq(bl->pages_absent, (MS_MAX_RAMBLOCK_BYTES >> 12) - 2);
	/* the top array (2^40 pages / 2^20 per entry, 8 MiB), two middle
	 * nodes and two leaves */
	ck_assert_uint_le(gmem_pindex_bytes(gmem_region_at(s->mem, 0)->index),
			  (8u << 20) + 2 * (16384 + 4096) + 64);
	ck_assert_int_eq(gmem_read(s->mem, 0x40000000 + MS_MAX_RAMBLOCK_BYTES - 8,
				   &v, 8, 0, &err), 0);
	ck_assert_uint_eq(v, 0x2222222222222222ULL);
	snapshot_close(s);
	free(path);
	release(&b);
}
END_TEST

/* A 1 TiB block with three pages: index memory for three pages. */
START_TEST(sparse_terabyte)
{
	const uint64_t tib = 1ULL << 40, base = 0x40000000;
	struct buf b = { 0 };
	const struct migstream_ramblock *bl;
	const struct gmem_region *r;
	struct snapshot *s;
	struct its_err err;
	uint64_t v, run;
	char *path;

	head(&b, "virt");
	ram_start(&b, MACH_RAM, tib, NULL);
	section(&b, 0x02);
	data_page(&b, 0x1000, MACH_RAM, 0x33);
	zero_page(&b, tib / 2, NULL);
	data_page(&b, tib - PAGE, NULL, 0x44);
	eos(&b);
	tail(&b);
	path = save("tib.mig", &b, 0);
	s = open_ok(path);
	bl = migstream_find_block(migstream_info(s), MACH_RAM);
	ck_assert_uint_eq(bl->pages_data, 2);
	ck_assert_uint_eq(bl->pages_zero, 1);
	ck_assert_uint_eq(bl->pages_absent, (tib >> 12) - 3);
	r = gmem_region_at(s->mem, 0);
	ck_assert_uint_eq(r->nr_pages, 1ULL << 28);
	/* 256 top entries, 3 middle nodes, 3 leaves: 2 KiB + 60 KiB */
	ck_assert_uint_le(gmem_pindex_bytes(r->index),
			  2048 + 3 * (16384 + 4096) + 64);
	ck_assert_uint_eq(gmem_region_page(r, 0), GMEM_PAGE_ABSENT);
	ck_assert_uint_eq(gmem_region_page(r, (tib / 2) >> 12), GMEM_PAGE_ZERO);
	ck_assert_int_eq(gmem_read(s->mem, base + 0x1ff8, &v, 8, 0, &err), 0);
	ck_assert_uint_eq(v, 0x3333333333333333ULL);
	ck_assert_int_eq(gmem_read(s->mem, base + tib / 2, &v, 8, 0, &err), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(gmem_read(s->mem, base + 0x2000, &v, 8, 0, &err),
			 -ENODATA);
	/* the absent run between the pages is one answer, found by leaves */
	ck_assert_int_eq(gmem_span(s->mem, base + 0x2000, tib, &run),
			 GMEM_ABSENT);
	ck_assert_uint_eq(run, tib / 2 - 0x2000);
	snapshot_close(s);
	free(path);
	release(&b);
}
END_TEST

/* ZERO records one leaf apart: 9 bytes of file, a 4 KiB leaf each. */
static char *scattered_stream(unsigned n, uint64_t *offs)
{
	struct buf b = { 0 };
	char *path;

	head(&b, "virt");
	ram_start(&b, MACH_RAM, 1ULL << 40, NULL);
	section(&b, 0x02);
	for (unsigned k = 0; k < n; k++) {
		offs[k] = b.n;
		zero_page(&b, k * GMEM_PINDEX_LEAF * PAGE, k ? NULL : MACH_RAM);
	}
	eos(&b);
	tail(&b);
	path = save("scattered.mig", &b, 0);
	release(&b);
	return path;
}

START_TEST(index_budget)
{
	const unsigned n = 20000;
	uint64_t *offs = calloc(n, sizeof(*offs));
	struct gmem_pindex *x;
	struct snapshot *s;
	uint64_t budget, bytes;
	char *path = scattered_stream(n, offs);
	unsigned k;
	FILE *f = fopen(path, "rb");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	budget = (uint64_t)ftell(f) + MS_INDEX_SLACK;
	fclose(f);
	/* the record whose leaf would cross the budget */
	ck_assert_int_eq(gmem_pindex_new(&x, 1ULL << 28), 0);
	bytes = gmem_pindex_bytes(x);
	gmem_pindex_free(x);
	for (k = 0; k < n; k++) {
		uint64_t cost = GMEM_PINDEX_LEAF * 8 +
				(k % GMEM_PINDEX_MID ? 0 : GMEM_PINDEX_MID * 8);

		if (bytes + cost > budget)
			break;
		bytes += cost;
	}
	ck_assert_uint_lt(k, n);
	open_fails(path, offs[k],
		   "RAMBlock 'mach-virt.ram': the page index would grow over the limit of %llu bytes (the file's size plus 64 MiB): pages too scattered for a stream of this size",
		   (unsigned long long)budget);
	free(path);

	path = scattered_stream(k - 10, offs);
	s = open_ok(path);
	ck_assert_uint_eq(migstream_find_block(migstream_info(s), MACH_RAM)->pages_zero,
			  k - 10);
	snapshot_close(s);
	free(path);
	free(offs);
}
END_TEST

/* ------------------------------------------------------------ records */

/* MIGSTREAM_MAX_RECORDS are listed, the rest counted; the sections past
 * the limit are read as usual (the ITS registers in them too). */
START_TEST(records)
{
	const unsigned parts = MIGSTREAM_MAX_RECORDS;
	const struct migstream_info *mi;
	struct buf b = { 0 };
	struct snapshot *s;
	char *path;

	head(&b, "virt");
	ram_start(&b, MACH_RAM, 16 * PAGE, NULL);
	for (unsigned i = 0; i < parts; i++) {
		section(&b, 0x02);
		if (i == 7)
			data_page(&b, PAGE, MACH_RAM, 0x66);
		eos(&b);
	}
	section(&b, 0x03);
	eos(&b);
	for (unsigned i = 0; i < 2; i++) {
		u8(&b, 0x04);
		be(&b, 10 + i, 4);
		counted(&b, "arm_gicv3_its");
		be(&b, i, 4);
		be(&b, 0, 4);
		be(&b, 0x80000001ULL, 4);	/* GITS_CTLR */
		be(&b, 0x4b00043b, 4);		/* GITS_IIDR */
		fill(&b, 0, 88);
		footer(&b, 10 + i);
	}
	u8(&b, 0x00);
	path = save("records.mig", &b, 0);
	s = open_ok(path);
	mi = migstream_info(s);
	/* CONFIGURATION, START, the PARTs, END, 2 FULL, EOF */
	ck_assert_uint_eq(mi->nr_records, MIGSTREAM_MAX_RECORDS);
	ck_assert_uint_eq(mi->nr_records_seen, MIGSTREAM_MAX_RECORDS + 6);
	ck_assert_int_eq(mi->records[MIGSTREAM_MAX_RECORDS - 1].type, 0x02);
	ck_assert(mi->complete);
	ck_assert_uint_eq(s->regs.nr_its, 2);
	ck_assert_uint_eq(s->regs.its[1].iidr, 0x4b00043b);
	ck_assert_uint_eq(migstream_find_block(mi, MACH_RAM)->pages_data, 1);
	snapshot_close(s);
	free(path);
	release(&b);
}
END_TEST

/* ------------------------------------------------------------ GIC */

static char *its_stream(unsigned n, uint64_t *last)
{
	struct buf b = { 0 };
	char *path;

	head(&b, "virt");
	small_ram(&b);
	section(&b, 0x03);
	eos(&b);
	for (unsigned i = 0; i < n; i++) {
		*last = b.n;
		u8(&b, 0x04);
		be(&b, 10 + i, 4);
		counted(&b, "arm_gicv3_its");
		be(&b, i, 4);
		be(&b, 0, 4);
		fill(&b, 0, 96);
		footer(&b, 10 + i);
	}
	u8(&b, 0x00);
	path = save("its.mig", &b, 0);
	release(&b);
	return path;
}

START_TEST(its_sections)
{
	struct snapshot *s;
	uint64_t last;
	char *path = its_stream(MS_MAX_ITS + 1, &last);

	open_fails(path, last,
		   "section 'arm_gicv3_its' instance 64 (id 74) is ITS 65, over the limit of 64");
	free(path);
	path = its_stream(MS_MAX_ITS, &last);
	s = open_ok(path);
	ck_assert_uint_eq(s->regs.nr_its, 64);
	snapshot_close(s);
	free(path);
}
END_TEST

#define GICV3_TOP	10344
#define GICV3_CPU	272

static char *gicv3_stream(unsigned cpus, uint64_t *last_cpu)
{
	struct buf b = { 0 };
	char *path;

	head(&b, "virt");
	small_ram(&b);
	section(&b, 0x03);
	eos(&b);
	u8(&b, 0x04);
	be(&b, 9, 4);
	counted(&b, "arm_gicv3");
	be(&b, 0, 4);
	be(&b, 1, 4);
	fill(&b, 0, GICV3_TOP);
	for (unsigned i = 0; i < cpus; i++) {
		*last_cpu = b.n;
		fill(&b, 0, GICV3_CPU);
	}
	footer(&b, 9);
	u8(&b, 0x00);
	path = save("gicv3.mig", &b, 0);
	release(&b);
	return path;
}

START_TEST(vcpus)
{
	struct snapshot *s;
	uint64_t last;
	char *path = gicv3_stream(MS_MAX_VCPUS + 1, &last);

	open_fails(path, last,
		   "section 'arm_gicv3' (id 9): 4097 vCPUs or more, over the limit of 4096");
	free(path);
	path = gicv3_stream(MS_MAX_VCPUS, &last);
	s = open_ok(path);
	ck_assert_int_eq(s->nr_vcpus, 4096);
	ck_assert_uint_eq(s->regs.nr_rd, 4096);
	snapshot_close(s);
	free(path);
}
END_TEST

/* ------------------------------------------------------------ resync */

/* Device sections without a vmdesc, before the RAM ends (so that one that
 * cannot be sized is an error), each followed after len bytes by its
 * footer and then by a SECTION_PART of "ram" (spec 14.4); pieces are
 * written at their offsets, the payloads stay holes. *last: the last
 * section's offset. */
static char *resync_stream(unsigned n, uint64_t len, uint64_t *last)
{
	struct buf b = { 0 };
	uint64_t off;
	char *path;

	head(&b, "virt");
	ram_start(&b, MACH_RAM, 16 * PAGE, NULL);
	path = save("resync.mig", &b, 0);
	off = b.n;
	for (unsigned i = 0; i < n; i++) {
		release(&b);
		*last = off;
		u8(&b, 0x04);
		be(&b, 5 + i, 4);
		counted(&b, "dev");
		be(&b, i, 4);
		be(&b, 1, 4);
		free(t_write_file("resync.mig", off, b.p, b.n));
		off += b.n + len;
		release(&b);
		footer(&b, 5 + i);
		free(t_write_file("resync.mig", off, b.p, b.n));
		off += b.n;
	}
	release(&b);
	section(&b, 0x02);
	eos(&b);
	tail(&b);
	free(t_write_file("resync.mig", off, b.p, b.n));
	release(&b);
	return path;
}

START_TEST(resync_window)
{
	struct snapshot *s;
	uint64_t last;
	/* the footer must start inside the window */
	char *path = resync_stream(1, MS_RESYNC_WINDOW, &last);

	open_fails(path, last,
		   "not supported: section 'dev' (id 5) cannot be sized without the vmdesc (no footer nearby)");
	free(path);
	path = resync_stream(1, MS_RESYNC_WINDOW - 1, &last);
	s = open_ok(path);
	/* header 17, payload, footer 5 */
	ck_assert_uint_eq(migstream_info(s)->records[2].size,
			  17 + MS_RESYNC_WINDOW - 1 + 5);
	snapshot_close(s);
	free(path);
}
END_TEST

/* 64 sections that each take the whole window exhaust the budget. */
START_TEST(resync_budget)
{
	const unsigned n = MS_RESYNC_BUDGET / MS_RESYNC_WINDOW;
	struct snapshot *s;
	uint64_t last;
	char *path = resync_stream(n + 1, MS_RESYNC_WINDOW - 1, &last);

	open_fails(path, last,
		   "not supported: section 'dev' (id 69) cannot be sized without the vmdesc (no footer nearby)");
	free(path);
	path = resync_stream(n, MS_RESYNC_WINDOW - 1, &last);
	s = open_ok(path);
	snapshot_close(s);
	free(path);
}
END_TEST

/* ------------------------------------------------------------ vmdesc */

/* A small stream ending with EOF and the vmdesc record of json (len
 * bytes: json, then spaces, then "}" when pad); *marker: its 0x06. */
static char *vmdesc_stream(const char *json, uint64_t len, bool pad,
			   uint64_t *marker)
{
	struct buf b = { 0 };
	char *path;

	head(&b, "virt");
	small_ram(&b);
	tail(&b);
	*marker = b.n;
	u8(&b, 0x06);
	be(&b, len, 4);
	put(&b, json, strlen(json));
	if (pad) {
		fill(&b, ' ', len - strlen(json) - 1);
		u8(&b, '}');
	}
	path = save("vmdesc.mig", &b, 0);
	release(&b);
	return path;
}

START_TEST(vmdesc_bytes)
{
	struct snapshot *s;
	uint64_t marker;
	char *path;

	/* announced, and in the file (a hole), but over the limit */
	path = vmdesc_stream("", MS_MAX_VMDESC + 1, false, &marker);
	ck_assert_int_eq(truncate(path, (off_t)(marker + 5 + MS_MAX_VMDESC + 1)), 0);
	open_fails(path, marker,
		   "vmdesc JSON of 67108865 bytes over the limit of 67108864");
	free(path);
	path = vmdesc_stream("{\"devices\": []", MS_MAX_VMDESC, true, &marker);
	s = open_ok(path);
	ck_assert(migstream_info(s)->has_vmdesc);
	ck_assert_uint_eq(migstream_info(s)->vmdesc_length, MS_MAX_VMDESC);
	snapshot_close(s);
	free(path);
}
END_TEST

/* {"devices":[E,E,...]} with n elements */
static char *vmdesc_array(const char *elem, unsigned n, uint64_t *marker)
{
	size_t el = strlen(elem), len = 12 + n * (el + 1) + 1;
	char *j = malloc(len + 1), *q = j, *path;

	ck_assert_ptr_nonnull(j);
	q += sprintf(q, "{\"devices\":[");
	for (unsigned i = 0; i < n; i++) {
		memcpy(q, elem, el);
		q += el;
		*q++ = ',';
	}
	q[-1] = ']';
	*q++ = '}';
	*q = '\0';
	path = vmdesc_stream(j, strlen(j), false, marker);
	free(j);
	return path;
}

START_TEST(vmdesc_objects)
{
	struct snapshot *s;
	uint64_t marker;
	/* the outer object and array count too */
	char *path = vmdesc_array("[]", MS_MAX_VMDESC_OBJECTS - 1, &marker);

	open_fails(path, marker,
		   "vmdesc JSON of 131073 objects and arrays over the limit of 131072");
	free(path);
	path = vmdesc_array("[]", MS_MAX_VMDESC_OBJECTS - 2, &marker);
	s = open_ok(path);
	ck_assert(migstream_info(s)->has_vmdesc);
	snapshot_close(s);
	free(path);
}
END_TEST

START_TEST(vmdesc_values)
{
	struct snapshot *s;
	uint64_t marker;
	/* n numbers: n - 1 commas, 2 containers, 1 */
	char *path = vmdesc_array("0", MS_MAX_VMDESC_VALUES - 1, &marker);

	open_fails(path, marker,
		   "vmdesc JSON of 2097153 values over the limit of 2097152");
	free(path);
	path = vmdesc_array("0", MS_MAX_VMDESC_VALUES - 2, &marker);
	s = open_ok(path);
	ck_assert(migstream_info(s)->has_vmdesc);
	snapshot_close(s);
	free(path);
}
END_TEST

/* levels of nesting: the object and levels - 1 arrays */
static char *vmdesc_nested(unsigned levels, uint64_t *marker)
{
	struct buf j = { 0 };
	char *path;

	puts_(&j, "{\"devices\":");
	fill(&j, '[', levels - 1);
	fill(&j, ']', levels - 1);
	put(&j, "}", 2);
	path = vmdesc_stream((const char *)j.p, j.n - 1, false, marker);
	release(&j);
	return path;
}

START_TEST(vmdesc_depth)
{
	struct snapshot *s;
	uint64_t marker;
	char *path = vmdesc_nested(MS_JSON_DEPTH + 1, &marker);

	open_fails(path, marker,
		   "vmdesc JSON at offset %llu unreadable: nesting over the limit of 256 levels",
		   (unsigned long long)marker + 5);
	free(path);
	path = vmdesc_nested(MS_JSON_DEPTH, &marker);
	s = open_ok(path);
	snapshot_close(s);
	free(path);
}
END_TEST

/* A FULL section 'dev' whose vmdesc description nests subsections. */
static char *vmsd_nested(unsigned depth, uint64_t *full)
{
	struct buf b = { 0 }, j = { 0 };
	char *path;

	puts_(&j, "{\"devices\": [{\"name\": \"dev\", \"instance_id\": 0, \"vmsd_name\": \"dev\", \"version\": 1, \"fields\": []");
	for (unsigned i = 0; i < depth; i++)
		puts_(&j, ", \"subsections\": [{\"vmsd_name\": \"s\", \"version\": 1, \"fields\": []");
	for (unsigned i = 0; i < depth; i++)
		puts_(&j, "}]");
	put(&j, "}]}", 4);
	head(&b, "virt");
	small_ram(&b);
	section(&b, 0x03);
	eos(&b);
	*full = b.n;
	u8(&b, 0x04);
	be(&b, 5, 4);
	counted(&b, "dev");
	be(&b, 0, 4);
	be(&b, 1, 4);
	for (unsigned i = 0; i < depth; i++) {
		u8(&b, 0x05);
		counted(&b, "s");
		be(&b, 1, 4);
	}
	footer(&b, 5);
	u8(&b, 0x00);
	u8(&b, 0x06);
	be(&b, j.n - 1, 4);
	put(&b, j.p, j.n - 1);
	path = save("vmsd.mig", &b, 0);
	release(&b);
	release(&j);
	return path;
}

START_TEST(vmsd_depth)
{
	struct snapshot *s;
	uint64_t full;
	char *path = vmsd_nested(VMSD_MAX_DEPTH + 1, &full);

	open_fails(path, full,
		   "vmdesc description of section 'dev' (id 5) unusable: subsections nested over the limit of 64 levels");
	free(path);
	path = vmsd_nested(VMSD_MAX_DEPTH, &full);
	s = open_ok(path);
	snapshot_close(s);
	free(path);
}
END_TEST

/* ------------------------------------------------------------ ELF */

#define PN_XNUM_	0xffff

/* ELF64 core, phnum program headers through PN_XNUM: PT_LOAD (one page at
 * 0x40000000, or PT_NOTE of note_bytes when non-zero), then PT_NULLs. */
static char *elf_core(unsigned phnum, uint64_t note_bytes)
{
	struct buf b = { 0 };
	uint64_t data = 128 + (uint64_t)phnum * 56;
	char *path;

	put(&b, "\177ELF\2\1\1", 7);
	fill(&b, 0, 9);
	le(&b, 4, 2);			/* ET_CORE */
	le(&b, 183, 2);			/* EM_AARCH64 */
	le(&b, 1, 4);
	le(&b, 0, 8);			/* e_entry */
	le(&b, 128, 8);			/* e_phoff */
	le(&b, 64, 8);			/* e_shoff */
	le(&b, 0, 4);
	le(&b, 64, 2);
	le(&b, 56, 2);
	le(&b, PN_XNUM_, 2);
	le(&b, 64, 2);
	le(&b, 1, 2);			/* e_shnum */
	le(&b, 0, 2);
	fill(&b, 0, 44);		/* section header 0 ... */
	le(&b, phnum, 4);		/* sh_info: the real phnum */
	fill(&b, 0, 16);
	if (note_bytes) {
		le(&b, 4, 4);		/* PT_NOTE: one note filling it */
		le(&b, 0, 4);
		le(&b, data, 8);
		le(&b, 0, 8);
		le(&b, 0, 8);
		le(&b, note_bytes, 8);
		le(&b, 0, 8);
		le(&b, 0, 8);
	}
	le(&b, 1, 4);			/* PT_LOAD */
	le(&b, 0, 4);
	le(&b, data + note_bytes, 8);
	le(&b, 0x40000000, 8);
	le(&b, 0x40000000, 8);
	le(&b, PAGE, 8);
	le(&b, PAGE, 8);
	le(&b, 0, 8);
	if (note_bytes) {
		while (b.n < data)
			u8(&b, 0);
		le(&b, 0, 4);			/* n_namesz */
		le(&b, note_bytes - 12, 4);	/* n_descsz */
		le(&b, 0, 4);			/* n_type */
	}
	path = save("core.elf", &b, data + note_bytes + PAGE);
	release(&b);
	return path;
}

START_TEST(elf_phnum)
{
	struct snapshot *s;
	char *path = elf_core(ELFCORE_MAX_PHNUM + 1, 0);

	/* the count is section header 0's sh_info */
	open_fails(path, 64 + 44, "262145 program headers over the limit of 262144");
	free(path);
	path = elf_core(ELFCORE_MAX_PHNUM, 0);
	s = open_ok(path);
	ck_assert_uint_eq(gmem_nr_regions(s->mem), 1);
	snapshot_close(s);
	free(path);
}
END_TEST

START_TEST(elf_notes)
{
	struct snapshot *s;
	char *path = elf_core(2, ELFCORE_MAX_NOTE_BYTES + 1);

	open_fails(path, 128,
		   "PT_NOTE #0: 67108865 bytes of notes in all, over the limit of 67108864");
	free(path);
	path = elf_core(2, ELFCORE_MAX_NOTE_BYTES);
	s = open_ok(path);
	ck_assert_int_eq(s->nr_vcpus, -1);
	snapshot_close(s);
	free(path);
}
END_TEST

/* ------------------------------------------------------------ walk */

#define RAM	0x40000000ULL

static uint64_t baser(unsigned type, uint64_t pa, bool indirect, unsigned pages)
{
	return (1ULL << 63) | ((uint64_t)indirect << 62) | (7ULL << 59) |
	       ((uint64_t)type << 56) | (7ULL << 48) | pa | (1ULL << 10) |
	       (2ULL << 8) | (pages - 1);
}

static void put64(struct buf *b, uint64_t gpa, uint64_t v)
{
	uint64_t off = gpa - RAM;

	while (b->n < off + 8)
		u8(b, 0);
	its_put_le64(b->p + off, v);
}

/* Walk a raw image (size bytes at RAM, the rest of b a hole) with BASER0
 * and BASER1 as given: its_walk's rc, *img and err. */
static int walk_raw(const struct buf *b, uint64_t size, uint64_t baser0,
		    uint64_t baser1, struct snapshot **snap,
		    struct its_image **img, char line[1024])
{
	struct snap_ram_base rb = { NULL, RAM };
	struct snap_open_opts o = { .ram_bases = &rb, .nr_ram_bases = 1 };
	struct its_regset rs = { 0 };
	struct its_err err;
	char *path = save("ram.bin", b, size);
	int rc;

	its_err_clear(&err);
	ck_assert_int_eq(snapshot_open(path, &o, snap, &err), 0);
	free(path);
	ck_assert_int_eq(its_regset_reserve(&rs, 1, 1), 0);
	rs.its[0].iidr = 0x4b00043b;
	rs.its[0].baser[0] = baser0;
	rs.its[0].baser[1] = baser1;
	rs.its[0].present = ITS_REG_IIDR | ITS_REG_BASER(0) | ITS_REG_BASER(1);
	*img = NULL;
	rc = its_walk((*snap)->mem, &rs, NULL, img, &err);
	its_err_format(&err, line, 1024);
	its_regset_release(&rs);
	return rc;
}

/* A 16 MiB flat device table, every DTE non-zero (invalid): 2^21 entries;
 * one CTE more crosses ITS_WALK_MAX_ENTRIES. */
START_TEST(walk_entries)
{
	const uint64_t dt = RAM, ct = RAM + (16u << 20);
	struct buf b = { 0 };
	struct snapshot *snap;
	struct its_image *img;
	char line[1024], want[1200];
	int rc;

	fill(&b, 0x01, 16u << 20);
	rc = walk_raw(&b, 17u << 20, baser(1, dt, false, 256),
		      baser(4, ct, false, 1), &snap, &img, line);
	ck_assert_msg(rc == 0, "%s", line);
	ck_assert_uint_eq(img->its[0].nr_devs, ITS_WALK_MAX_ENTRIES);
	ck_assert_uint_eq(img->its[0].nr_ctes, 0);
	its_image_free(img);
	snapshot_close(snap);

	put64(&b, ct, (1ULL << 63) | 1);
	rc = walk_raw(&b, 17u << 20, baser(1, dt, false, 256),
		      baser(4, ct, false, 1), &snap, &img, line);
	snprintf(want, sizeof(want),
		 "%s/ram.bin: ITS 0: non-zero table entries and unreadable ranges over the limit of 2097152 (a KVM ITS holds at most 65536 devices and 65536 LPIs)",
		 t_tmpdir());
	ck_assert_int_eq(rc, -E2BIG);
	ck_assert_ptr_null(img);
	ck_assert_str_eq(line, want);
	snapshot_close(snap);
	release(&b);
}
END_TEST

/* 65537 devices with distinct 2^16-event ITTs (in a hole of the file, so
 * that reading them costs nothing): the first 65536 fill
 * ITS_WALK_MAX_ITT_SLOTS, the last is flagged itt_not_walked. */
START_TEST(walk_itt_slots)
{
	const unsigned n = 65537;
	const uint64_t dt = RAM, itt = RAM + (16u << 20);
	struct buf b = { 0 };
	struct snapshot *snap;
	struct its_image *img;
	const struct its_dev_rec *d;
	char line[1024];

	for (unsigned i = 0; i < n; i++)
		put64(&b, dt + 8ULL * i,
		      (1ULL << 63) | (((itt + 256ULL * i) >> 8) << 5) | 15);
	ck_assert_int_eq(walk_raw(&b, 64u << 20, baser(1, dt, false, 9), 0,
				  &snap, &img, line), 0);
	ck_assert_uint_eq(img->its[0].nr_devs, n);
	d = its_image_device(&img->its[0], 65535);
	ck_assert_uint_eq(d->flags & ITS_F_ITT_NOT_WALKED, 0);
	ck_assert_uint_eq(d->event_bits, 16);
	d = its_image_device(&img->its[0], 65536);
	ck_assert_uint_eq(d->flags, ITS_F_ITT_NOT_WALKED);
	ck_assert_str_eq(its_flag_name(9), "itt_not_walked");
	its_image_free(img);
	snapshot_close(snap);
	release(&b);
}
END_TEST

/* 4097 valid L1 entries (all naming one L2 page): the last is flagged. */
START_TEST(walk_l2_pages)
{
	const uint64_t dt = RAM, l2 = RAM + 0x10000;
	struct buf b = { 0 };
	struct snapshot *snap;
	struct its_image *img;
	char line[1024];

	for (unsigned i = 0; i <= ITS_WALK_MAX_L2_PAGES; i++)
		put64(&b, dt + 8ULL * i, (1ULL << 63) | l2);
	ck_assert_int_eq(walk_raw(&b, 1u << 20, baser(1, dt, true, 1), 0,
				  &snap, &img, line), 0);
	ck_assert_uint_eq(img->its[0].nr_l1, ITS_WALK_MAX_L2_PAGES + 1);
	ck_assert_uint_eq(img->its[0].l1[ITS_WALK_MAX_L2_PAGES - 1].flags, 0);
	ck_assert_uint_eq(img->its[0].l1[ITS_WALK_MAX_L2_PAGES].flags,
			  ITS_F_L2_NOT_WALKED);
	its_image_free(img);
	snapshot_close(snap);
	release(&b);
}
END_TEST

/* Holes of a sparse image are zeros that are not read: one read across
 * data, hole and data gives the bytes; gmem_file_run names the runs. */
START_TEST(sparse_reads)
{
	struct snap_ram_base rb = { NULL, RAM };
	struct snap_open_opts o = { .ram_bases = &rb, .nr_ram_bases = 1 };
	struct snapshot *snap;
	struct its_err err;
	uint8_t page[PAGE], *got = malloc(3 * 65536);
	char *path;
	bool hole;

	ck_assert_ptr_nonnull(got);
	memset(page, 0xa5, sizeof(page));
	free(t_write_file("sparse.bin", 0, page, sizeof(page)));
	path = t_write_file("sparse.bin", 2 * 65536 + PAGE, page, sizeof(page));
	ck_assert_int_eq(truncate(path, 3 * 65536), 0);
	ck_assert_int_eq(snapshot_open(path, &o, &snap, &err), 0);
	ck_assert_uint_eq(gmem_file_run(snap->mem, RAM, 3 * 65536, &hole), PAGE);
	ck_assert(!hole);
	ck_assert_uint_eq(gmem_file_run(snap->mem, RAM + PAGE, 3 * 65536, &hole),
			  2 * 65536);
	ck_assert(hole);
	ck_assert_uint_eq(gmem_file_run(snap->mem, RAM + 2 * 65536 + 2 * PAGE,
					65536, &hole), 65536 - 2 * PAGE);
	ck_assert(hole);
	memset(got, 0x77, 3 * 65536);
	ck_assert_int_eq(gmem_read(snap->mem, RAM, got, 3 * 65536, 0, &err), 0);
	for (size_t i = 0; i < 3 * 65536; i++)
		ck_assert_uint_eq(got[i], i < PAGE ||
				  (i >= 2 * 65536 + PAGE && i < 2 * 65536 + 2 * PAGE) ?
				  0xa5 : 0);
	snapshot_close(snap);
	free(path);
	free(got);
}
END_TEST

/* ------------------------------------------------------------ findings */

START_TEST(findings_per_table)
{
	struct findings fs;
	struct finding w;

	findings_init(&fs);
	/* ITS 0's ITTs: 1001; ITS 1's ITTs: 1000; ITS 0's device table: 5 */
	w = finding_at(0, ITS_TABLE_ITT);
	for (unsigned i = 0; i < 1001; i++)
		finding_add(&fs, PR_ITE_LPI_BELOW_MIN, &w, "event %u", i);
	w = finding_at(1, ITS_TABLE_ITT);
	for (unsigned i = 0; i < 1000; i++)
		finding_add(&fs, PR_ITE_LPI_BELOW_MIN, &w, "event %u", i);
	w = finding_at(0, ITS_TABLE_DEVICES);
	for (unsigned i = 0; i < 5; i++)
		finding_add(&fs, PR_ITE_LPI_BELOW_MIN, &w, "x");
	ck_assert_uint_eq(fs.nr, 2005);
	ck_assert_uint_eq(fs.not_stored, 1);
	ck_assert_uint_eq(findings_count(&fs, PR_ITE_LPI_BELOW_MIN), 2006);
	ck_assert_uint_eq(findings_not_stored(&fs, PR_ITE_LPI_BELOW_MIN), 1);
	ck_assert_str_eq(fs.v[1000].detail, "event 0");
	findings_release(&fs);
}
END_TEST

START_TEST(findings_stored)
{
	struct findings fs;
	struct finding w;

	findings_init(&fs);
	/* 66 ITSs x 1000: past FINDINGS_MAX_STORED, counted only */
	for (unsigned its = 0; its < 66; its++) {
		w = finding_at(its, ITS_TABLE_ITT);
		for (unsigned i = 0; i < 1000; i++)
			finding_add(&fs, PR_ITE_LPI_BELOW_MIN, &w, "e");
	}
	ck_assert_uint_eq(fs.nr, FINDINGS_MAX_STORED);
	ck_assert_uint_eq(fs.not_stored, 66000 - 65536);
	ck_assert_uint_eq(findings_count(&fs, PR_ITE_LPI_BELOW_MIN), 66000);
	ck_assert_uint_eq(fs.by_severity[problem_table[PR_ITE_LPI_BELOW_MIN].severity],
			  66000);
	findings_release(&fs);
}
END_TEST

Suite *suite_limits(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, NULL, t_cleanup);
	tcase_add_test(tc, machine_name);
	tcase_add_test(tc, capabilities);
	tcase_add_test(tc, ram_blocks);
	tcase_add_test(tc, ramblock_bytes);
	tcase_add_test(tc, sparse_terabyte);
	tcase_add_test(tc, index_budget);
	tcase_add_test(tc, records);
	tcase_add_test(tc, its_sections);
	tcase_add_test(tc, vcpus);
	tcase_add_test(tc, resync_window);
	tcase_add_test(tc, resync_budget);
	tcase_add_test(tc, vmdesc_bytes);
	tcase_add_test(tc, vmdesc_objects);
	tcase_add_test(tc, vmdesc_values);
	tcase_add_test(tc, vmdesc_depth);
	tcase_add_test(tc, vmsd_depth);
	tcase_add_test(tc, elf_phnum);
	tcase_add_test(tc, elf_notes);
	tcase_add_test(tc, walk_entries);
	tcase_add_test(tc, walk_itt_slots);
	tcase_add_test(tc, walk_l2_pages);
	tcase_add_test(tc, sparse_reads);
	tcase_add_test(tc, findings_per_table);
	tcase_add_test(tc, findings_stored);
	suite_add_tcase(s, tc);
	return s;
}
