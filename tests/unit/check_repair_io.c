/* repair/ I/O on snapshots its-fixture writes (ELF core, plain, live and
 * mapped-ram streams): where an entry's bytes are (checked against the
 * writer's manifest and, for ELF, against the program headers read here
 * with libelf), in-place writes that change exactly those bytes, the undo
 * file and the undo (whole-file checksums before, after the fix and after
 * the undo), -o copies and their undo files (a ZERO record re-encoded
 * undone by a splice), the refusals (registers of an ELF core, ZERO
 * pages, read-only files, full disks, snapshots changed behind our back),
 * kill -9 at every write of the apply step, and undo files of version 1. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <json-c/json.h>
#include <libelf.h>
#include <linux/fs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "its/layout.h"
#include "its/migstream.h"
#include "its/repair.h"
#include "its/snapshot.h"
#include "its/undo.h"
#include "testutil.h"

Suite *suite_repair_io(void);

static void teardown(void)
{
	t_cleanup();
}

/* ------------------------------------------------------------ fixtures */

static json_object *get(json_object *o, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no key '%s'", key);
	return v;
}

static uint64_t hexnum(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	if (json_object_is_type(v, json_type_int))
		return (uint64_t)json_object_get_int64(v);
	return strtoull(json_object_get_string(v), NULL, 0);
}

/* Write NAME.EXT and its manifest into the temp dir; returns the path. */
static char *gen(const char *name, const char *ext, json_object **man)
{
	char *writer = t_build("its-fixture"), *spec, *out, *mpath, *text;
	struct t_run r;

	ck_assert_int_ge(asprintf(&spec, "%s/tests/fixtures/%s.json",
				  t_env("ITS_SOURCE_DIR"), name), 0);
	ck_assert_int_ge(asprintf(&out, "%s/%s.%s", t_tmpdir(), name, ext), 0);
	ck_assert_int_ge(asprintf(&mpath, "%s/%s.%s.manifest.json", t_tmpdir(),
				  name, ext), 0);
	{
		const char *argv[] = { writer, spec, "-o", out, "--manifest",
				       mpath, NULL };

		t_run(&r, argv);
	}
	ck_assert_msg(r.status == 0, "its-fixture %s: %s", name, r.err);
	t_run_free(&r);
	if (man) {
		text = t_read_file(mpath, NULL);
		ck_assert_ptr_nonnull(text);
		*man = json_tokener_parse(text);
		ck_assert_ptr_nonnull(*man);
		free(text);
	}
	free(mpath);
	free(spec);
	free(writer);
	return out;
}

static struct snapshot *open_snap(const char *path)
{
	struct snapshot *s = NULL;
	struct its_err err;
	int rc = snapshot_open(path, NULL, &s, &err);

	ck_assert_msg(rc == 0, "snapshot_open %s: %s", path, err.msg);
	return s;
}

/* The manifest's device with this DeviceID / collection with this ICID. */
static json_object *device(json_object *man, uint64_t id)
{
	json_object *devs = get(man, "devices");

	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		json_object *d = json_object_array_get_idx(devs, i);

		if (hexnum(d, "device_id") == id)
			return d;
	}
	ck_abort_msg("no device %llu in the manifest", (unsigned long long)id);
	return NULL;
}

static json_object *collection(json_object *man, uint64_t icid)
{
	json_object *c = get(man, "collections");

	for (size_t i = 0; i < json_object_array_length(c); i++) {
		json_object *e = json_object_array_get_idx(c, i);

		if (hexnum(e, "icid") == icid)
			return e;
	}
	ck_abort_msg("no collection %llu in the manifest", (unsigned long long)icid);
	return NULL;
}

static struct repair_write ram_write(uint64_t gpa, uint64_t old, uint64_t new)
{
	struct repair_write w;

	memset(&w, 0, sizeof(w));
	w.kind = REPAIR_RAM;
	w.gpa = gpa;
	w.len = 8;
	for (unsigned i = 0; i < 8; i++) {
		w.old[i] = (uint8_t)(old >> (8 * i));
		w.new[i] = (uint8_t)(new >> (8 * i));
	}
	w.level = REPAIR_SAFE;
	snprintf(w.why, sizeof(w.why), "test write at 0x%llx",
		 (unsigned long long)gpa);
	return w;
}

static struct repair_write reg_write(int reg, uint64_t old, uint64_t new)
{
	struct repair_write w;

	memset(&w, 0, sizeof(w));
	w.kind = REPAIR_REGISTER;
	w.its = 0;
	w.reg = reg;
	w.reg_old = old;
	w.reg_new = new;
	snprintf(w.why, sizeof(w.why), "test register write");
	return w;
}

/* DTE of device id: next field set to 5; CTE of icid: target vCPU 2. */
static struct repair_write dte_write(json_object *man, uint64_t id)
{
	json_object *d = device(man, id);
	uint64_t raw = hexnum(d, "raw");

	return ram_write(hexnum(d, "gpa"), raw,
			 (raw & ~KVM_ITS_DTE_NEXT_MASK) |
			 (5ULL << KVM_ITS_DTE_NEXT_SHIFT));
}

static struct repair_write cte_write(json_object *man, uint64_t icid)
{
	json_object *c = collection(man, icid);
	uint64_t raw = hexnum(c, "raw");

	return ram_write(hexnum(c, "gpa"), raw,
			 (raw & ~(0xffffffffULL << KVM_ITS_CTE_RDBASE_SHIFT)) |
			 (2ULL << KVM_ITS_CTE_RDBASE_SHIFT));
}

/* ------------------------------------------------------------ files */

static uint32_t file_crc(const char *path)
{
	static uint8_t buf[1 << 16];
	int fd = open(path, O_RDONLY);
	uint32_t crc = 0;
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		crc = its_crc32c(crc, buf, (size_t)n);
	ck_assert_int_eq(n, 0);
	close(fd);
	return crc;
}

static struct stat stat_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st;
}

static bool same_mtime(const struct stat *a, const struct stat *b)
{
	return a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static char *copy_file(const char *from, const char *name)
{
	char *to;
	char *cmd;

	ck_assert_int_ge(asprintf(&to, "%s/%s", t_tmpdir(), name), 0);
	ck_assert_int_ge(asprintf(&cmd, "cp --sparse=always '%s' '%s'", from, to), 0);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	return to;
}

struct range {
	uint64_t off;
	unsigned len;
};

static bool in_ranges(uint64_t off, const struct range *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (off >= r[i].off && off - r[i].off < r[i].len)
			return true;
	return false;
}

/* a and b have the same size; they differ at every byte of the ranges
 * where want_diff (when the plan changes them) and nowhere else. Returns the
 * number of differing bytes. */
static uint64_t diff_files(const char *a, const char *b, const struct range *r,
			   size_t n)
{
	static uint8_t x[1 << 16], y[1 << 16];
	int fa = open(a, O_RDONLY), fb = open(b, O_RDONLY);
	uint64_t off = 0, diffs = 0;
	struct stat sa, sb;

	ck_assert_int_ge(fa, 0);
	ck_assert_int_ge(fb, 0);
	ck_assert_int_eq(fstat(fa, &sa), 0);
	ck_assert_int_eq(fstat(fb, &sb), 0);
	ck_assert_int_eq(sa.st_size, sb.st_size);
	for (;;) {
		ssize_t na = read(fa, x, sizeof(x)), nb = read(fb, y, sizeof(y));

		ck_assert_int_eq(na, nb);
		if (na <= 0)
			break;
		if (memcmp(x, y, (size_t)na))
			for (ssize_t i = 0; i < na; i++)
				if (x[i] != y[i]) {
					ck_assert_msg(in_ranges(off + (uint64_t)i, r, n),
						      "%s and %s differ at offset 0x%llx, outside the written ranges",
						      a, b, (unsigned long long)(off + (uint64_t)i));
					diffs++;
				}
		off += (uint64_t)na;
	}
	close(fa);
	close(fb);
	return diffs;
}

/* The ranges a plan writes, through repair_locate. */
static size_t plan_ranges(const struct snapshot *s, const struct repair_plan *p,
			  struct range *out, size_t max)
{
	size_t total = 0;

	for (size_t i = 0; i < p->nr; i++) {
		uint64_t offs[16];
		size_t n;
		struct its_err err;
		unsigned len = p->v[i].kind == REPAIR_RAM ? p->v[i].len :
			       p->v[i].reg <= RREG_IIDR ? 4 : 8;

		ck_assert_msg(repair_locate(s, &p->v[i], offs, 16, &n, &err) == 0,
			      "locate: %s", err.msg);
		for (size_t k = 0; k < n; k++) {
			ck_assert_uint_lt(total, max);
			out[total].off = offs[k];
			out[total].len = len;
			total++;
		}
	}
	return total;
}

static char *undo_path_of(const char *snap)
{
	char *u;

	ck_assert_int_ge(asprintf(&u, "%s.its-undo", snap), 0);
	return u;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* An ELF core's file offset of gpa, from its program headers. */
static uint64_t elf_offset(const char *path, uint64_t gpa)
{
	int fd = open(path, O_RDONLY);
	Elf *e;
	size_t n;
	uint64_t off = UINT64_MAX;

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_ne(elf_version(EV_CURRENT), EV_NONE);
	e = elf_begin(fd, ELF_C_READ, NULL);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(elf_getphdrnum(e, &n), 0);
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		ck_assert_ptr_nonnull(gelf_getphdr(e, (int)i, &ph));
		if (ph.p_type == PT_LOAD && gpa >= ph.p_paddr &&
		    gpa - ph.p_paddr < ph.p_filesz)
			off = ph.p_offset + (gpa - ph.p_paddr);
	}
	elf_end(e);
	close(fd);
	ck_assert_uint_ne(off, UINT64_MAX);
	return off;
}

static uint64_t le64_at(const char *path, uint64_t off)
{
	uint8_t b[8];
	int fd = open(path, O_RDONLY);
	uint64_t v = 0;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, b, 8, (off_t)off), 8);
	close(fd);
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* ------------------------------------------------------------ locate */

/* A mapped-ram page's slot and bitmap bit, from the reader's info. */
struct zslot {
	uint64_t slot;		/* file offset of the page's slot */
	uint64_t bm_off;	/* its bitmap byte */
	uint8_t bit;
	uint32_t psz;
};

static struct zslot zslot_of(const struct snapshot *s, uint64_t gpa)
{
	const struct migstream_info *mi = migstream_info(s);
	struct zslot z = { 0 };

	ck_assert_ptr_nonnull(mi);
	ck_assert(mi->mapped_ram);
	for (size_t i = 0; i < mi->nr_blocks; i++) {
		const struct migstream_ramblock *b = &mi->blocks[i];
		uint64_t page;

		if (!b->mapped || gpa < b->gpa || gpa - b->gpa >= b->used_length)
			continue;
		page = (gpa - b->gpa) / mi->page_size;
		z.psz = mi->page_size;
		z.slot = b->pages_offset + page * mi->page_size;
		z.bm_off = b->bitmap_offset + page / 8;
		z.bit = (uint8_t)(1u << (page % 8));
		return z;
	}
	ck_abort_msg("GPA 0x%llx in no mapped block", (unsigned long long)gpa);
	return z;
}


START_TEST(locate_elf)
{
	json_object *man;
	char *path = gen("twolevel-24dev", "elf", &man);
	struct snapshot *s = open_snap(path);
	struct repair_write w = dte_write(man, 8), c = cte_write(man, 3);
	struct its_err err;
	uint64_t offs[4];
	size_t n;

	ck_assert_int_eq(repair_locate(s, &w, offs, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(offs[0], elf_offset(path, w.gpa));
	ck_assert_uint_eq(le64_at(path, offs[0]), hexnum(device(man, 8), "raw"));
	ck_assert_int_eq(repair_locate(s, &c, offs, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(offs[0], elf_offset(path, c.gpa));
	/* registers: an ELF core holds none */
	w = reg_write(RREG_BASER0 + 1, 0, 0x8000000000000000ULL);
	ck_assert_int_eq(repair_locate(s, &w, offs, 4, &n, &err), -EROFS);
	ck_assert_ptr_nonnull(strstr(err.msg, "holds no ITS registers"));
	ck_assert_ptr_nonnull(strstr(err.msg, "GITS_BASER1"));
	ck_assert_ptr_nonnull(strstr(err.msg, "0x8000000000000000"));
	snapshot_close(s);
	json_object_put(man);
	free(path);
}
END_TEST

START_TEST(locate_stream_plain)
{
	json_object *man;
	char *path = gen("stream-twolevel", "mig", &man);
	struct snapshot *s = open_snap(path);
	json_object *its = json_object_array_get_idx(get(get(man, "stream"), "its"), 0);
	struct repair_write w = dte_write(man, 8), c = cte_write(man, 0);
	struct its_err err;
	uint64_t offs[4];
	size_t n;

	ck_assert_int_eq(repair_locate(s, &w, offs, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(offs[0], hexnum(device(man, 8), "file_offset"));
	ck_assert_int_eq(repair_locate(s, &c, offs, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(offs[0], hexnum(collection(man, 0), "file_offset"));
	/* registers: fields of the arm_gicv3_its payload */
	w = reg_write(RREG_CWRITER, s->regs.its[0].cwriter, 0);
	ck_assert_int_eq(repair_locate(s, &w, offs, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(offs[0], hexnum(its, "payload_offset") + 16);
	w = reg_write(RREG_IIDR, s->regs.its[0].iidr, 0);
	ck_assert_int_eq(repair_locate(s, &w, offs, 4, &n, &err), 0);
	ck_assert_uint_eq(offs[0], hexnum(its, "payload_offset") + 4);
	w = reg_write(RREG_BASER0 + 7, 0, 1);
	ck_assert_int_eq(repair_locate(s, &w, offs, 4, &n, &err), 0);
	ck_assert_uint_eq(offs[0], hexnum(its, "payload_offset") + 32 + 56);
	w.its = 1;
	ck_assert_int_eq(repair_locate(s, &w, offs, 4, &n, &err), -ENOENT);
	snapshot_close(s);
	json_object_put(man);
	free(path);
}
END_TEST

START_TEST(locate_stream_live)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man);
	struct snapshot *s = open_snap(path);
	const uint64_t dtes[] = { 8, 16, 24 }, ctes[] = { 0, 1, 3 };
	struct its_err err;
	uint64_t offs[8];
	size_t n;

	/* L2 page and collection table: DATA(stale 0xa5) -> ZERO -> DATA */
	for (size_t k = 0; k < 6; k++) {
		json_object *e = k < 3 ? device(man, dtes[k]) :
					 collection(man, ctes[k - 3]);
		struct repair_write w = k < 3 ? dte_write(man, dtes[k]) :
						cte_write(man, ctes[k - 3]);

		ck_assert_int_eq(repair_locate(s, &w, offs, 8, &n, &err), 0);
		ck_assert_uint_eq(n, 2);
		ck_assert_uint_eq(offs[0], hexnum(e, "file_offset"));
		ck_assert_uint_eq(le64_at(path, offs[0]), hexnum(e, "raw"));
		/* the earlier copy: before the last, stale bytes of pass 1 */
		ck_assert_uint_lt(offs[1], offs[0]);
		ck_assert_uint_eq(le64_at(path, offs[1]), 0xa5a5a5a5a5a5a5a5ULL);
	}
	/* ITT page: ZERO -> ZERO -> DATA: one copy with bytes */
	{
		json_object *e = json_object_array_get_idx(get(device(man, 8), "events"), 0);
		struct repair_write w = ram_write(hexnum(e, "gpa"), hexnum(e, "raw"), 0);

		ck_assert_int_eq(repair_locate(s, &w, offs, 8, &n, &err), 0);
		ck_assert_uint_eq(n, 1);
		ck_assert_uint_eq(offs[0], hexnum(e, "file_offset"));
	}
	/* L1 page: 64 KiB table, its first 4 KiB page resent */
	{
		json_object *l1 = json_object_array_get_idx(get(man, "l1"), 0);
		struct repair_write w = ram_write(hexnum(l1, "gpa"), hexnum(l1, "raw"), 0);

		ck_assert_int_eq(repair_locate(s, &w, offs, 8, &n, &err), 0);
		ck_assert_uint_eq(n, 2);
		ck_assert_uint_eq(offs[0], hexnum(l1, "file_offset"));
		/* max smaller than the copies: n still says how many */
		ck_assert_int_eq(repair_locate(s, &w, offs, 1, &n, &err), 0);
		ck_assert_uint_eq(n, 2);
	}
	/* a page that ends up ZERO (DATA -> ZERO -> ZERO): no offset (only
	 * a copy, which re-encodes the record, can hold the entry) */
	{
		struct repair_write w = ram_write(0x40e00100, 0, 1);

		n = 99;
		ck_assert_int_eq(repair_locate(s, &w, offs, 8, &n, &err), 0);
		ck_assert_uint_eq(n, 0);
	}
	/* not guest RAM */
	{
		struct repair_write w = ram_write(0x1000, 0, 1);

		ck_assert_int_eq(repair_locate(s, &w, offs, 8, &n, &err), -EFAULT);
	}
	snapshot_close(s);
	json_object_put(man);
	free(path);
}
END_TEST

START_TEST(locate_mapped_ram)
{
	json_object *man;
	char *path = gen("stream-mapped-ram", "mig", &man);
	struct snapshot *s = open_snap(path);
	struct repair_write w = dte_write(man, 8), c = cte_write(man, 1);
	struct its_err err;
	uint64_t offs[4];
	size_t n;

	ck_assert_int_eq(repair_locate(s, &w, offs, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(offs[0], hexnum(device(man, 8), "file_offset"));
	ck_assert_int_eq(repair_locate(s, &c, offs, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(offs[0], hexnum(collection(man, 1), "file_offset"));
	/* the pending table: bitmap bits clear (stale bytes in the slots):
	 * the entry's place in the slot, then the bitmap byte */
	w = ram_write(0x40a51008, 0, 1);
	ck_assert_int_eq(repair_locate(s, &w, offs, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	{
		struct zslot z = zslot_of(s, 0x40a51008);

		ck_assert_uint_eq(offs[0], z.slot + 8);
		ck_assert_uint_eq(offs[1], z.bm_off);
	}
	snapshot_close(s);
	json_object_put(man);
	free(path);
}
END_TEST

/* ------------------------------------------------------------ mapped-ram
 * zero pages: a clear bitmap bit over a slot holding stale bytes */

static uint8_t byte_at(const char *path, uint64_t off)
{
	uint8_t b;
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
	close(fd);
	return b;
}

/* The pending table of stream-mapped-ram (bits clear, 0xa5 in the slots):
 * two entries in page 0x40a50000, one in 0x40a51000 (the same bitmap
 * byte). */
#define ZS_PAGE0	0x40a50000ULL
#define ZS_PAGE1	0x40a51000ULL

static void zero_slot_plan(struct repair_plan *p)
{
	struct repair_write w;

	repair_plan_init(p);
	w = ram_write(ZS_PAGE0 + 0x08, 0, 0x8000000000000001ULL);
	ck_assert_int_eq(repair_plan_add(p, &w), 0);
	w = ram_write(ZS_PAGE0 + 0xff8, 0, 0x1122334455667788ULL);
	ck_assert_int_eq(repair_plan_add(p, &w), 0);
	w = ram_write(ZS_PAGE1 + 0x100, 0, 0x0102030405060708ULL);
	ck_assert_int_eq(repair_plan_add(p, &w), 0);
}

/* file (repaired from orig) holds the two slots as zeros + the entries and
 * the bits set, and differs from orig nowhere else; a fresh open reads the
 * pages as data with the entries. */
static void check_zero_slots(const char *orig, const char *file,
			     const struct repair_plan *p)
{
	struct snapshot *s0 = open_snap(orig), *s;
	struct zslot z0 = zslot_of(s0, ZS_PAGE0), z1 = zslot_of(s0, ZS_PAGE1);
	struct range r[3] = { { z0.slot, z0.psz }, { z1.slot, z1.psz },
			      { z0.bm_off, 1 } };
	uint8_t *want = calloc(1, z0.psz), *got = malloc(z0.psz);
	uint8_t bm0 = byte_at(orig, z0.bm_off);
	struct its_err err;
	int fd;

	ck_assert_ptr_nonnull(want);
	ck_assert_ptr_nonnull(got);
	/* the input: bits clear, stale bytes */
	ck_assert_uint_eq(z0.bm_off, z1.bm_off);
	ck_assert_uint_eq(bm0 & (z0.bit | z1.bit), 0);
	ck_assert_uint_eq(byte_at(orig, z0.slot), 0xa5);
	ck_assert_uint_eq(byte_at(orig, z1.slot + z1.psz - 1), 0xa5);
	/* only the slots and the bitmap byte changed */
	ck_assert_uint_gt(diff_files(orig, file, r, 3), 0);
	ck_assert_uint_eq(byte_at(file, z0.bm_off), bm0 | z0.bit | z1.bit);
	fd = open(file, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	for (int k = 0; k < 2; k++) {
		const struct zslot *z = k ? &z1 : &z0;
		uint64_t page = k ? ZS_PAGE1 : ZS_PAGE0;

		memset(want, 0, z->psz);
		for (size_t i = 0; i < p->nr; i++)
			if (p->v[i].gpa - page < z->psz)
				memcpy(want + (p->v[i].gpa - page), p->v[i].new,
				       p->v[i].len);
		ck_assert_int_eq(pread(fd, got, z->psz, (off_t)z->slot),
				 (ssize_t)z->psz);
		ck_assert_msg(!memcmp(got, want, z->psz),
			      "slot of GPA 0x%llx: not zeros + the entries",
			      (unsigned long long)page);
	}
	close(fd);
	/* a fresh open: the pages are data, with the entries */
	s = open_snap(file);
	for (int k = 0; k < 2; k++) {
		uint64_t page = k ? ZS_PAGE1 : ZS_PAGE0;
		uint64_t foff;

		ck_assert_int_eq(gmem_locate(s->mem, page, &foff, &err), 0);
		ck_assert_uint_eq(foff, k ? z1.slot : z0.slot);
		memset(want, 0, z0.psz);
		for (size_t i = 0; i < p->nr; i++)
			if (p->v[i].gpa - page < z0.psz)
				memcpy(want + (p->v[i].gpa - page), p->v[i].new,
				       p->v[i].len);
		ck_assert_int_eq(gmem_read(s->mem, page, got, z0.psz, 0, &err), 0);
		ck_assert_int_eq(memcmp(got, want, z0.psz), 0);
	}
	/* the next page of the table is still a zero page */
	ck_assert_int_eq(gmem_span(s->mem, ZS_PAGE1 + z0.psz, 8, &(uint64_t){0}),
			 GMEM_ZERO);
	ck_assert_uint_eq(migstream_info(s)->blocks[2].pages_data,
			  migstream_info(s0)->blocks[2].pages_data + 2);
	snapshot_close(s);
	snapshot_close(s0);
	free(want);
	free(got);
}

START_TEST(zero_slot_in_place)
{
	char *path = gen("stream-mapped-ram", "mig", NULL);
	char *orig = copy_file(path, "orig"), *undo = undo_path_of(path);
	struct snapshot *s = open_snap(path);
	struct zslot z = zslot_of(s, ZS_PAGE0);
	struct stat st0 = stat_of(path), st;
	uint32_t crc0 = file_crc(path);
	struct repair_ranges rr;
	struct repair_plan p;
	struct its_err err;
	size_t bm = 0;
	int rc;

	zero_slot_plan(&p);
	/* the ranges: two whole slots, then one bitmap byte for both */
	ck_assert_int_eq(repair_collect(s, &p, 0, &rr, &err), 0);
	ck_assert_uint_eq(rr.nr, 2 * (z.psz / 16) + 1);
	for (size_t i = 0; i < rr.nr; i++)
		if (rr.v[i].set_bits) {
			bm++;
			ck_assert_uint_eq(i, rr.nr - 1);
			ck_assert_uint_eq(rr.v[i].off, z.bm_off);
			ck_assert_uint_eq(rr.v[i].new[0],
					  rr.v[i].old[0] | z.bit | (z.bit << 1));
		} else {
			ck_assert(rr.v[i].zero_page);
		}
	ck_assert_uint_eq(bm, 1);
	repair_ranges_release(&rr);
	/* in place */
	rc = repair_apply(s, &p, NULL, &err);
	ck_assert_msg(rc == 0, "apply: %s", err.msg);
	ck_assert(exists(undo));
	check_zero_slots(orig, path, &p);
	/* undo: the stale bytes and the clear bits back, byte for byte */
	rc = repair_undo(undo, path, &err);
	ck_assert_msg(rc == 0, "undo: %s", err.msg);
	ck_assert_uint_eq(file_crc(path), crc0);
	ck_assert_uint_eq(diff_files(orig, path, NULL, 0), 0);
	st = stat_of(path);
	ck_assert(same_mtime(&st0, &st));
	ck_assert_int_eq(repair_undo(undo, path, &err), REPAIR_UNDO_NOTHING);
	/* a plan that expects other bytes than the zeros a reader sees */
	{
		struct repair_plan q;
		struct repair_write w = ram_write(ZS_PAGE0 + 0x10, 0xa5a5, 1);

		repair_plan_init(&q);
		repair_plan_add(&q, &w);
		ck_assert_int_eq(repair_apply(s, &q, NULL, &err), -ESTALE);
		ck_assert_uint_eq(file_crc(path), crc0);
		/* two writes to the same bytes of a zero page */
		w = ram_write(ZS_PAGE0 + 0x10, 0, 1);
		repair_plan_release(&q);
		repair_plan_init(&q);
		repair_plan_add(&q, &w);
		w.gpa += 4;
		repair_plan_add(&q, &w);
		ck_assert_int_eq(repair_apply(s, &q, NULL, &err), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err.msg, "the same bytes"));
		ck_assert_uint_eq(file_crc(path), crc0);
		repair_plan_release(&q);
	}
	repair_plan_release(&p);
	snapshot_close(s);
	free(undo);
	free(orig);
	free(path);
}
END_TEST

START_TEST(zero_slot_copy)
{
	char *path = gen("stream-mapped-ram", "mig", NULL);
	char *orig = copy_file(path, "orig"), *undo = undo_path_of(path), *out;
	struct snapshot *s = open_snap(path);
	struct stat st0 = stat_of(path), st;
	uint32_t crc0 = file_crc(path);
	struct repair_apply_opts o = { 0 };
	struct repair_plan p;
	struct its_err err;

	zero_slot_plan(&p);
	ck_assert_int_ge(asprintf(&out, "%s/repaired.mig", t_tmpdir()), 0);
	o.out_path = out;
	ck_assert_msg(repair_apply(s, &p, &o, &err) == 0, "%s", err.msg);
	/* the input untouched, no undo file */
	ck_assert_uint_eq(file_crc(path), crc0);
	st = stat_of(path);
	ck_assert(same_mtime(&st0, &st));
	ck_assert(!exists(undo));
	check_zero_slots(orig, out, &p);
	/* holes stay holes */
	ck_assert_int_le(stat_of(out).st_blocks, st0.st_blocks + 64);
	/* the copy's undo file: the stale slots and the clear bits back */
	{
		char *out_undo = undo_path_of(out);
		int rc = repair_undo(out_undo, out, &err);

		ck_assert_msg(rc == 0, "undo: %s", err.msg);
		ck_assert_uint_eq(diff_files(orig, out, NULL, 0), 0);
		st = stat_of(out);
		ck_assert(same_mtime(&st0, &st));
		ck_assert_int_le(st.st_blocks, st0.st_blocks + 64);
		free(out_undo);
	}
	repair_plan_release(&p);
	snapshot_close(s);
	free(out);
	free(undo);
	free(orig);
	free(path);
}
END_TEST

/* ------------------------------------------------------------ apply/undo */

/* Apply p in place to a copy of path and check every byte; then undo. */
static void fix_and_undo(const char *path, struct repair_plan *p)
{
	char *orig = copy_file(path, "orig");
	char *undo = undo_path_of(path);
	struct snapshot *s = open_snap(path), *s2;
	struct range r[64];
	size_t nr = plan_ranges(s, p, r, 64);
	struct stat st0 = stat_of(path), st2;
	uint32_t crc0 = file_crc(path);
	struct its_err err;
	uint64_t diffs, want = 0;
	int rc;

	rc = repair_apply(s, p, NULL, &err);
	ck_assert_msg(rc == 0, "apply: %s", err.msg);
	ck_assert(exists(undo));
	/* exactly the ranges changed, every byte the plan changes */
	diffs = diff_files(orig, path, r, nr);
	for (size_t i = 0; i < nr; i++) {
		uint8_t a[16], b[16];
		int fa = open(orig, O_RDONLY), fb = open(path, O_RDONLY);

		ck_assert_int_eq(pread(fa, a, r[i].len, (off_t)r[i].off), r[i].len);
		ck_assert_int_eq(pread(fb, b, r[i].len, (off_t)r[i].off), r[i].len);
		for (unsigned k = 0; k < r[i].len; k++)
			want += a[k] != b[k];
		close(fa);
		close(fb);
	}
	ck_assert_uint_eq(diffs, want);
	ck_assert_uint_gt(diffs, 0);
	/* read back through a fresh open */
	s2 = open_snap(path);
	for (size_t i = 0; i < p->nr; i++) {
		const struct repair_write *w = &p->v[i];
		uint8_t b[16];

		if (w->kind != REPAIR_RAM)
			continue;
		ck_assert_int_eq(gmem_read(s2->mem, w->gpa, b, w->len, 0, &err), 0);
		ck_assert_int_eq(memcmp(b, w->new, w->len), 0);
	}
	snapshot_close(s2);
	ck_assert_uint_ne(file_crc(path), crc0);
	/* undo: byte for byte, and the original mtime */
	rc = repair_undo(undo, path, &err);
	ck_assert_msg(rc == 0, "undo: %s", err.msg);
	ck_assert_uint_eq(file_crc(path), crc0);
	ck_assert_uint_eq(diff_files(orig, path, NULL, 0), 0);
	st2 = stat_of(path);
	ck_assert(same_mtime(&st0, &st2));
	/* a second undo has nothing left to do */
	rc = repair_undo(undo, path, &err);
	ck_assert_int_eq(rc, REPAIR_UNDO_NOTHING);
	ck_assert_int_eq(err.code, 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "nothing to undo"));
	ck_assert_uint_eq(file_crc(path), crc0);
	snapshot_close(s);
	free(undo);
	free(orig);
}

START_TEST(apply_undo_elf)
{
	json_object *man;
	char *path = gen("twolevel-24dev", "elf", &man);
	struct repair_plan p;
	struct repair_write w;

	repair_plan_init(&p);
	w = dte_write(man, 8);
	ck_assert_int_eq(repair_plan_add(&p, &w), 0);
	w = cte_write(man, 3);
	ck_assert_int_eq(repair_plan_add(&p, &w), 0);
	fix_and_undo(path, &p);
	repair_plan_release(&p);
	json_object_put(man);
	free(path);
}
END_TEST

START_TEST(apply_undo_stream)
{
	json_object *man;
	char *path = gen("stream-twolevel", "mig", &man);
	struct snapshot *s = open_snap(path);
	struct repair_plan p;
	struct repair_write w;

	repair_plan_init(&p);
	w = dte_write(man, 16);
	ck_assert_int_eq(repair_plan_add(&p, &w), 0);
	w = cte_write(man, 2);
	ck_assert_int_eq(repair_plan_add(&p, &w), 0);
	w = reg_write(RREG_CWRITER, s->regs.its[0].cwriter, 0x40);
	ck_assert_int_eq(repair_plan_add(&p, &w), 0);
	snapshot_close(s);
	fix_and_undo(path, &p);
	repair_plan_release(&p);
	json_object_put(man);
	free(path);
}
END_TEST

START_TEST(apply_undo_live)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man);
	struct snapshot *s = open_snap(path);
	struct repair_plan p;
	struct repair_write w;

	repair_plan_init(&p);
	w = dte_write(man, 8);
	ck_assert_int_eq(repair_plan_add(&p, &w), 0);
	w = cte_write(man, 3);
	ck_assert_int_eq(repair_plan_add(&p, &w), 0);
	w = reg_write(RREG_BASER0 + 1, s->regs.its[0].baser[1],
		      s->regs.its[0].baser[1] ^ 0x100);
	ck_assert_int_eq(repair_plan_add(&p, &w), 0);
	snapshot_close(s);
	fix_and_undo(path, &p);
	repair_plan_release(&p);
	json_object_put(man);
	free(path);
}
END_TEST

START_TEST(apply_undo_mapped_ram)
{
	json_object *man;
	char *path = gen("stream-mapped-ram", "mig", &man);
	struct repair_plan p;
	struct repair_write w;

	repair_plan_init(&p);
	w = dte_write(man, 24);
	ck_assert_int_eq(repair_plan_add(&p, &w), 0);
	w = cte_write(man, 1);
	ck_assert_int_eq(repair_plan_add(&p, &w), 0);
	fix_and_undo(path, &p);
	repair_plan_release(&p);
	json_object_put(man);
	free(path);
}
END_TEST

/* Every register of the stream's ITS, rewritten and read back. */
START_TEST(register_write_stream)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man);
	struct snapshot *s = open_snap(path), *s2;
	struct its_regs_raw r0 = s->regs.its[0];
	struct repair_plan p;
	struct repair_write w;
	struct its_err err;

	repair_plan_init(&p);
	w = reg_write(RREG_CTLR, r0.ctlr, r0.ctlr & ~1u);
	repair_plan_add(&p, &w);
	w = reg_write(RREG_IIDR, r0.iidr, 0x4b00043b);
	repair_plan_add(&p, &w);
	w = reg_write(RREG_CBASER, r0.cbaser, r0.cbaser | 0x3);
	repair_plan_add(&p, &w);
	w = reg_write(RREG_CWRITER, r0.cwriter, 0x20);
	repair_plan_add(&p, &w);
	w = reg_write(RREG_CREADR, r0.creadr, 0x20);
	repair_plan_add(&p, &w);
	for (int i = 0; i < 8; i++) {
		w = reg_write(RREG_BASER0 + i, r0.baser[i],
			      r0.baser[i] ^ (0x1111ULL << i));
		repair_plan_add(&p, &w);
	}
	ck_assert_msg(repair_apply(s, &p, NULL, &err) == 0, "%s", err.msg);
	s2 = open_snap(path);
	ck_assert_uint_eq(s2->regs.its[0].ctlr, r0.ctlr & ~1u);
	ck_assert_uint_eq(s2->regs.its[0].iidr, 0x4b00043b);
	ck_assert_uint_eq(s2->regs.its[0].cbaser, r0.cbaser | 0x3);
	ck_assert_uint_eq(s2->regs.its[0].cwriter, 0x20);
	ck_assert_uint_eq(s2->regs.its[0].creadr, 0x20);
	for (int i = 0; i < 8; i++)
		ck_assert_uint_eq(s2->regs.its[0].baser[i],
				  r0.baser[i] ^ (0x1111ULL << i));
	snapshot_close(s2);
	repair_plan_release(&p);
	snapshot_close(s);
	json_object_put(man);
	free(path);
}
END_TEST

START_TEST(register_write_elf)
{
	json_object *man;
	char *path = gen("twolevel-24dev", "elf", &man), *undo = undo_path_of(path);
	struct snapshot *s = open_snap(path);
	uint32_t crc = file_crc(path);
	struct repair_plan p;
	struct repair_write w;
	struct its_err err;
	struct repair_apply_opts o = { 0 };
	char *out;

	repair_plan_init(&p);
	w = dte_write(man, 8);
	repair_plan_add(&p, &w);
	w = reg_write(RREG_BASER0, 0, 0x8000000000000000ULL);
	repair_plan_add(&p, &w);
	ck_assert_int_eq(repair_apply(s, &p, NULL, &err), -EROFS);
	ck_assert_ptr_nonnull(strstr(err.msg, "GITS_BASER0"));
	ck_assert_ptr_nonnull(strstr(err.msg, "corrected value is 0x8000000000000000"));
	ck_assert(!exists(undo));
	ck_assert_uint_eq(file_crc(path), crc);
	ck_assert_int_ge(asprintf(&out, "%s/out.elf", t_tmpdir()), 0);
	o.out_path = out;
	ck_assert_int_eq(repair_apply(s, &p, &o, &err), -EROFS);
	ck_assert(!exists(out));
	free(out);
	repair_plan_release(&p);
	snapshot_close(s);
	json_object_put(man);
	free(undo);
	free(path);
}
END_TEST

START_TEST(zero_page_reencoded)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man), *undo = undo_path_of(path);
	struct snapshot *s = open_snap(path), *s2;
	const struct migstream_info *mi = migstream_info(s), *mi2;
	uint32_t crc = file_crc(path);
	struct repair_plan p;
	struct repair_write w = ram_write(0x40e00008, 0, 0x8000000000000001ULL);
	struct repair_write d = dte_write(man, 24);
	struct repair_apply_opts o = { 0 };
	struct its_err err;
	uint8_t b[4096];
	uint64_t v;
	char *out;

	repair_plan_init(&p);
	repair_plan_add(&p, &w);
	w.gpa = 0x40e00ff8;	/* a second entry in the same ZERO page */
	repair_plan_add(&p, &w);
	repair_plan_add(&p, &d);	/* an entry after it in the file */
	/* in place: refused, naming -o; nothing written */
	ck_assert_int_eq(repair_apply(s, &p, NULL, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "ZERO record"));
	ck_assert_ptr_nonnull(strstr(err.msg, "-o OUT"));
	ck_assert(!exists(undo));
	ck_assert_uint_eq(file_crc(path), crc);
	/* -o: the record re-encoded as a PAGE record, the rest shifted */
	ck_assert_int_ge(asprintf(&out, "%s/out.mig", t_tmpdir()), 0);
	o.out_path = out;
	ck_assert_msg(repair_apply(s, &p, &o, &err) == 0, "%s", err.msg);
	ck_assert(!exists(undo));
	ck_assert_uint_eq(file_crc(path), crc);
	ck_assert_uint_eq(stat_of(out).st_size, stat_of(path).st_size + 4095);
	s2 = open_snap(out);
	mi2 = migstream_info(s2);
	ck_assert_ptr_nonnull(mi2);
	ck_assert(mi2->complete);
	ck_assert_uint_eq(mi2->nr_warnings_seen, mi->nr_warnings_seen);
	ck_assert_uint_eq(mi2->nr_records, mi->nr_records);
	ck_assert_uint_eq(mi2->ram_records_zero + 1, mi->ram_records_zero);
	ck_assert_uint_eq(mi2->ram_records_data, mi->ram_records_data + 1);
	ck_assert_int_eq(gmem_read(s2->mem, 0x40e00000, b, sizeof(b), 0, &err), 0);
	for (size_t i = 0; i < sizeof(b); i++)
		if (i < 8 || (i >= 16 && i < 4088))
			ck_assert_uint_eq(b[i], 0);
	memcpy(&v, b + 8, 8);
	ck_assert_uint_eq(v, 0x8000000000000001ULL);
	memcpy(&v, b + 4088, 8);
	ck_assert_uint_eq(v, 0x8000000000000001ULL);
	ck_assert_int_eq(gmem_read(s2->mem, d.gpa, b, 8, 0, &err), 0);
	ck_assert_int_eq(memcmp(b, d.new, 8), 0);
	/* every other record the same, shifted by one page less a byte */
	for (size_t i = 0; i < mi->nr_records; i++) {
		ck_assert_uint_eq(mi2->records[i].type, mi->records[i].type);
		ck_assert_str_eq(mi2->records[i].idstr, mi->records[i].idstr);
	}
	snapshot_close(s2);
	/* the undo file of the copy: refused against the input; against the
	 * copy, the input's bytes and size back (the page spliced out, the
	 * rest moved down), the copy's mode kept */
	{
		char *out_undo = undo_path_of(out);
		struct stat st0 = stat_of(path), st;

		ck_assert_int_eq(repair_undo(out_undo, path, &err), -ESTALE);
		ck_assert_ptr_nonnull(strstr(err.msg, "is the input of the repair"));
		ck_assert_uint_eq(file_crc(path), crc);
		ck_assert_int_eq(chmod(out, 0640), 0);
		ck_assert_msg(repair_undo(out_undo, out, &err) == 0, "%s", err.msg);
		st = stat_of(out);
		ck_assert_int_eq(st.st_size, st0.st_size);
		ck_assert_uint_eq(file_crc(out), crc);
		ck_assert(same_mtime(&st0, &st));
		ck_assert_int_eq(st.st_mode & 07777, 0640);
		ck_assert_int_eq(repair_undo(out_undo, out, &err), REPAIR_UNDO_NOTHING);
		ck_assert_uint_eq(file_crc(out), crc);
		free(out_undo);
	}
	free(out);
	repair_plan_release(&p);
	snapshot_close(s);
	json_object_put(man);
	free(undo);
	free(path);
}
END_TEST

/* -o: the input untouched, the copy differing exactly at the ranges. */
static void copy_case(const char *fixture, const char *ext, bool sparse)
{
	json_object *man;
	char *path = gen(fixture, ext, &man), *undo = undo_path_of(path), *out;
	struct snapshot *s = open_snap(path), *s2;
	struct repair_plan p;
	struct repair_write w;
	struct repair_apply_opts o = { 0 };
	struct range r[16];
	struct stat st0 = stat_of(path), st1;
	uint32_t crc = file_crc(path);
	struct its_err err;
	size_t nr;

	repair_plan_init(&p);
	w = dte_write(man, 24);
	repair_plan_add(&p, &w);
	w = cte_write(man, 1);
	repair_plan_add(&p, &w);
	nr = plan_ranges(s, &p, r, 16);
	ck_assert_int_ge(asprintf(&out, "%s/repaired.%s", t_tmpdir(), ext), 0);
	o.out_path = out;
	ck_assert_msg(repair_apply(s, &p, &o, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(file_crc(path), crc);
	st1 = stat_of(path);
	ck_assert(same_mtime(&st0, &st1));
	ck_assert(!exists(undo));
	ck_assert_uint_eq(diff_files(path, out, r, nr) > 0, 1);
	s2 = open_snap(out);
	for (size_t i = 0; i < p.nr; i++) {
		uint8_t b[16];

		ck_assert_int_eq(gmem_read(s2->mem, p.v[i].gpa, b, 8, 0, &err), 0);
		ck_assert_int_eq(memcmp(b, p.v[i].new, 8), 0);
	}
	snapshot_close(s2);
	st1 = stat_of(out);
	ck_assert_int_eq(st1.st_mode & 07777, st0.st_mode & 07777);
	if (sparse)	/* holes stay holes */
		ck_assert_int_le(st1.st_blocks, st0.st_blocks + 64);
	/* its undo file gives it back the input's bytes, in place */
	{
		char *out_undo = undo_path_of(out);

		ck_assert_msg(repair_undo(out_undo, out, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(file_crc(out), crc);
		ck_assert_uint_eq(stat_of(out).st_ino, st1.st_ino);
		free(out_undo);
	}
	/* a copy onto the input itself is refused */
	o.out_path = path;
	ck_assert_int_eq(repair_apply(s, &p, &o, &err), -EINVAL);
	ck_assert_uint_eq(file_crc(path), crc);
	repair_plan_release(&p);
	snapshot_close(s);
	json_object_put(man);
	free(out);
	free(undo);
	free(path);
}

START_TEST(copy_live)
{
	copy_case("stream-live", "mig", false);
}
END_TEST

START_TEST(copy_mapped_ram_sparse)
{
	copy_case("stream-mapped-ram", "mig", true);
}
END_TEST

START_TEST(copy_elf_sparse)
{
	copy_case("twolevel-24dev", "elf", true);
}
END_TEST

/* ------------------------------------------------------------ refusals */

START_TEST(undo_refuses_changed)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man), *undo = undo_path_of(path);
	struct snapshot *s = open_snap(path);
	struct repair_plan p;
	struct repair_write w;
	struct its_err err;
	uint32_t crc0 = file_crc(path), crc1;
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
	struct stat st1;
	int fd;

	repair_plan_init(&p);
	w = dte_write(man, 8);
	repair_plan_add(&p, &w);
	ck_assert_msg(repair_apply(s, &p, NULL, &err) == 0, "%s", err.msg);
	crc1 = file_crc(path);
	st1 = stat_of(path);
	/* touched */
	usleep(20000);
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
	ck_assert_int_eq(repair_undo(undo, path, &err), -ESTALE);
	ck_assert_ptr_nonnull(strstr(err.msg, "modified since the repair"));
	ck_assert_ptr_nonnull(strstr(err.msg, "nothing was restored"));
	ck_assert_uint_eq(file_crc(path), crc1);
	/* a byte changed elsewhere: outside the recorded ranges only the
	 * mtime tells, and it does */
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "X", 1, 100), 1);
	close(fd);
	ck_assert_int_eq(repair_undo(undo, path, &err), -ESTALE);
	ck_assert_ptr_nonnull(strstr(err.msg, "modified since the repair"));
	/* a byte changed inside a written range, mtime as the repair left it */
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "Y", 1, (off_t)hexnum(device(man, 8), "file_offset")), 1);
	{
		struct timespec back[2] = { { 0, UTIME_OMIT }, st1.st_mtim };

		ck_assert_int_eq(futimens(fd, back), 0);
	}
	close(fd);
	ck_assert_int_eq(repair_undo(undo, path, &err), -ESTALE);
	ck_assert_ptr_nonnull(strstr(err.msg, "neither what the repair wrote nor the original"));
	/* a size change */
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "Z", 1), 1);
	close(fd);
	ck_assert_int_eq(repair_undo(undo, path, &err), -ESTALE);
	ck_assert_ptr_nonnull(strstr(err.msg, "bytes, but was"));
	ck_assert_uint_ne(file_crc(path), crc0);
	/* a file that is no undo file */
	ck_assert_int_eq(repair_undo(path, path, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not an its-fsck undo file"));
	/* none at all */
	ck_assert_int_lt(repair_undo("/nonexistent/x.its-undo", path, &err), 0);
	repair_plan_release(&p);
	snapshot_close(s);
	json_object_put(man);
	free(undo);
	free(path);
}
END_TEST

START_TEST(apply_refuses_stale_plan)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man), *undo = undo_path_of(path);
	struct snapshot *s = open_snap(path);
	uint32_t crc = file_crc(path);
	struct repair_plan p;
	struct repair_write w;
	struct its_err err;

	repair_plan_init(&p);
	w = dte_write(man, 8);
	w.old[0] ^= 1;		/* not what the file holds */
	repair_plan_add(&p, &w);
	ck_assert_int_eq(repair_apply(s, &p, NULL, &err), -ESTALE);
	ck_assert_ptr_nonnull(strstr(err.msg, "changed since it was checked"));
	ck_assert_uint_eq(file_crc(path), crc);
	ck_assert(!exists(undo));
	/* two writes to the same bytes */
	repair_plan_release(&p);
	w = dte_write(man, 8);
	repair_plan_add(&p, &w);
	repair_plan_add(&p, &w);
	ck_assert_int_eq(repair_apply(s, &p, NULL, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "write the same bytes"));
	ck_assert(!exists(undo));
	/* an empty plan writes nothing, not even an undo file */
	repair_plan_release(&p);
	ck_assert_int_eq(repair_apply(s, &p, NULL, &err), 0);
	ck_assert(!exists(undo));
	ck_assert_uint_eq(file_crc(path), crc);
	repair_plan_release(&p);
	snapshot_close(s);
	json_object_put(man);
	free(undo);
	free(path);
}
END_TEST

/* The snapshot grows after snapshot_open: refused before anything. */
START_TEST(apply_refuses_changed_since_open)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man), *undo = undo_path_of(path);
	struct snapshot *s = open_snap(path);
	struct repair_plan p;
	struct repair_write w = dte_write(man, 8);
	struct its_err err;
	int fd;

	repair_plan_init(&p);
	repair_plan_add(&p, &w);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "\0", 1), 1);
	close(fd);
	ck_assert_int_eq(repair_apply(s, &p, NULL, &err), -ESTALE);
	ck_assert_ptr_nonnull(strstr(err.msg, "when it was opened"));
	ck_assert(!exists(undo));
	repair_plan_release(&p);
	snapshot_close(s);
	json_object_put(man);
	free(undo);
	free(path);
}
END_TEST

static const char *hook_path;
static int hook_kind;

static void change_snapshot(void *arg)
{
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 12345, 0 } };
	int fd;

	(void)arg;
	if (hook_kind == 0) {
		ck_assert_int_eq(utimensat(AT_FDCWD, hook_path, ts, 0), 0);
	} else {
		fd = open(hook_path, O_WRONLY | O_APPEND);
		ck_assert_int_eq(write(fd, "\0", 1), 1);
		close(fd);
	}
}

/* Changed between the check (the undo file is written) and the write. */
START_TEST(apply_refuses_changed_before_write)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man), *undo = undo_path_of(path);
	char *orig = copy_file(path, "orig");
	struct repair_plan p;
	struct repair_write w;
	struct its_err err;

	repair_plan_init(&p);
	w = dte_write(man, 8);
	repair_plan_add(&p, &w);
	w = cte_write(man, 0);
	repair_plan_add(&p, &w);
	hook_path = path;
	repair_test_before_write = change_snapshot;
	for (hook_kind = 0; hook_kind < 2; hook_kind++) {
		struct snapshot *s = open_snap(path);

		ck_assert_int_eq(repair_apply(s, &p, NULL, &err), -ESTALE);
		ck_assert_ptr_nonnull(strstr(err.msg, hook_kind ?
					     "bytes, it was" : "modified (mtime)"));
		ck_assert_ptr_nonnull(strstr(err.msg, "nothing was written"));
		ck_assert(!exists(undo));
		snapshot_close(s);
		if (hook_kind == 0)	/* only the mtime changed */
			ck_assert_uint_eq(diff_files(orig, path, NULL, 0), 0);
	}
	repair_test_before_write = NULL;
	repair_plan_release(&p);
	json_object_put(man);
	free(orig);
	free(undo);
	free(path);
}
END_TEST

/* Immutable (root ignores modes but not this), or 0444 for other users. */
static bool make_read_only(const char *path, bool on)
{
	int fd = open(path, O_RDONLY), flags = 0;
	bool ok = false;

	if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
	}
	if (fd >= 0)
		close(fd);
	if (!ok && geteuid() != 0)
		ok = chmod(path, on ? 0444 : 0644) == 0;
	return ok;
}

START_TEST(apply_read_only)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man), *undo = undo_path_of(path);
	struct snapshot *s = open_snap(path);
	uint32_t crc = file_crc(path);
	struct repair_plan p;
	struct repair_write w = dte_write(man, 8);
	struct its_err err;
	int rc;

	repair_plan_init(&p);
	repair_plan_add(&p, &w);
	if (!make_read_only(path, true)) {
		fprintf(stderr, "apply_read_only: cannot make %s read-only here (no FS_IMMUTABLE_FL as root): only the error path via the open is untested\n",
			path);
	} else {
		rc = repair_apply(s, &p, NULL, &err);
		make_read_only(path, false);
		ck_assert_int_lt(rc, 0);
		ck_assert_msg(rc == -EPERM || rc == -EACCES, "rc %d", rc);
		ck_assert_ptr_nonnull(strstr(err.msg, "cannot open for writing"));
		ck_assert_ptr_nonnull(strstr(err.msg, "-o OUT"));
		ck_assert_ptr_nonnull(strstr(err.msg, "nothing was written"));
		ck_assert(!exists(undo));
		ck_assert_uint_eq(file_crc(path), crc);
	}
	repair_plan_release(&p);
	snapshot_close(s);
	json_object_put(man);
	free(undo);
	free(path);
}
END_TEST

/* Full disk: RLIMIT_FSIZE (EFBIG, SIGXFSZ ignored) in a child, and a
 * 64 KiB tmpfs (ENOSPC) when this process may mount one. */
static int limited_apply(const char *path, const char *out, rlim_t limit,
			 char *msg, size_t len)
{
	int pfd[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl = { limit, limit };
		struct snapshot *s = NULL;
		struct repair_plan p;
		struct repair_write w = ram_write(0x40b10040, 0x8010000008180000ULL, 0);
		struct repair_apply_opts o = { .out_path = out };
		struct its_err err;
		int rc;

		close(pfd[0]);
		if (snapshot_open(path, NULL, &s, &err) < 0)
			_exit(98);
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(97);
		repair_plan_init(&p);
		repair_plan_add(&p, &w);
		rc = repair_apply(s, &p, &o, &err);
		if (write(pfd[1], err.msg, strlen(err.msg) + 1) < 0)
			_exit(96);
		_exit(rc == -EFBIG ? 1 : rc == -ENOSPC ? 2 : rc == 0 ? 0 : 3);
	}
	close(pfd[1]);
	memset(msg, 0, len);
	{
		size_t got = 0;
		ssize_t n;

		while (got + 1 < len && (n = read(pfd[0], msg + got, len - 1 - got)) > 0)
			got += (size_t)n;
	}
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(apply_full_disk)
{
	char *path = gen("stream-live", "mig", NULL), *undo = undo_path_of(path);
	char *out, *dir, msg[600];
	uint32_t crc = file_crc(path);
	int st;

	/* -o: the copy does not fit */
	ck_assert_int_ge(asprintf(&out, "%s/out.mig", t_tmpdir()), 0);
	st = limited_apply(path, out, 64 * 1024, msg, sizeof(msg));
	ck_assert_msg(st == 1, "status %d: %s", st, msg);
	ck_assert_ptr_nonnull(strstr(msg, "File too large"));
	ck_assert_ptr_nonnull(strstr(msg, "the input is untouched"));
	ck_assert(!exists(out));
	{
		/* written before the copy, removed with it */
		char *out_undo = undo_path_of(out);

		ck_assert(!exists(out_undo));
		/* a copy made, then a second one onto it that does not fit:
		 * the first copy and its undo file are as they were */
		st = limited_apply(path, out, RLIM_INFINITY, msg, sizeof(msg));
		ck_assert_msg(st == 0, "status %d: %s", st, msg);
		{
			uint32_t crc1 = file_crc(out), crcu = file_crc(out_undo);

			st = limited_apply(path, out, 64 * 1024, msg, sizeof(msg));
			ck_assert_msg(st == 1, "status %d: %s", st, msg);
			ck_assert_uint_eq(file_crc(out), crc1);
			ck_assert_uint_eq(file_crc(out_undo), crcu);
		}
		{
			struct its_err err;

			ck_assert_msg(repair_undo(out_undo, out, &err) == 0, "%s", err.msg);
		}
		ck_assert_uint_eq(file_crc(out), crc);
		unlink(out);
		unlink(out_undo);
		free(out_undo);
	}
	ck_assert_uint_eq(file_crc(path), crc);
	/* in place: the undo file does not fit: no undo file, no write */
	st = limited_apply(path, NULL, 100, msg, sizeof(msg));
	ck_assert_msg(st == 1, "status %d: %s", st, msg);
	ck_assert_ptr_nonnull(strstr(msg, "undo file"));
	ck_assert_ptr_nonnull(strstr(msg, "nothing was written"));
	ck_assert(!exists(undo));
	ck_assert_uint_eq(file_crc(path), crc);
	/* a real ENOSPC on a tiny tmpfs, in a private mount namespace */
	ck_assert_int_ge(asprintf(&dir, "%s/tiny", t_tmpdir()), 0);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	{
		pid_t pid = fork();
		int status;

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			char *o2;

			if (unshare(CLONE_NEWNS) < 0 ||
			    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
			    mount("tmpfs", dir, "tmpfs", 0, "size=64k") < 0)
				_exit(77);
			if (asprintf(&o2, "%s/out.mig", dir) < 0)
				_exit(76);
			st = limited_apply(path, o2, RLIM_INFINITY, msg, sizeof(msg));
			if (st != 2 || !strstr(msg, "No space left on device") ||
			    !strstr(msg, "the input is untouched") || exists(o2))
				_exit(10 + st);
			{
				/* nothing left behind in the full file system */
				char cmd[600];

				snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", dir);
				_exit(system(cmd) == 0 ? 0 : 20);
			}
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status));
		if (WEXITSTATUS(status) == 77)
			fprintf(stderr, "apply_full_disk: cannot mount a tmpfs here: ENOSPC tested through RLIMIT_FSIZE only\n");
		else
			ck_assert_msg(WEXITSTATUS(status) == 0, "tmpfs case: %d",
				      WEXITSTATUS(status));
	}
	ck_assert_uint_eq(file_crc(path), crc);
	free(dir);
	free(out);
	free(undo);
	free(path);
}
END_TEST

/* ------------------------------------------------------------ crashes */

static int apply_in_child(struct snapshot *s, const struct repair_plan *p,
			  unsigned abort_after)
{
	struct repair_apply_opts o = { .abort_after = abort_after };
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct its_err err;
		int rc = repair_apply(s, p, &o, &err);

		_exit(rc == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Files a and b hold the same bytes (holes read as zeros): every data
 * segment of each compared with the other's bytes there. Fast on large
 * sparse files. */
static bool same_bytes(const char *a, const char *b)
{
	static uint8_t x[1 << 16], y[1 << 16];
	int fd[2] = { open(a, O_RDONLY), open(b, O_RDONLY) };
	struct stat sa, sb;
	bool same = true;

	ck_assert_int_ge(fd[0], 0);
	ck_assert_int_ge(fd[1], 0);
	ck_assert_int_eq(fstat(fd[0], &sa), 0);
	ck_assert_int_eq(fstat(fd[1], &sb), 0);
	if (sa.st_size != sb.st_size)
		same = false;
	for (int k = 0; k < 2 && same; k++) {
		off_t off = 0, size = sa.st_size;

		while (off < size && same) {
			off_t data = lseek(fd[k], off, SEEK_DATA), hole;

			if (data < 0)
				break;
			hole = lseek(fd[k], data, SEEK_HOLE);
			if (hole < 0 || hole > size)
				hole = size;
			for (off = data; off < hole && same;) {
				size_t n = hole - off < (off_t)sizeof(x) ?
					   (size_t)(hole - off) : sizeof(x);

				ck_assert_int_eq(pread(fd[0], x, n, off), (ssize_t)n);
				ck_assert_int_eq(pread(fd[1], y, n, off), (ssize_t)n);
				same = !memcmp(x, y, n);
				off += (off_t)n;
			}
		}
	}
	close(fd[0]);
	close(fd[1]);
	return same;
}

/* kill -9 at every point of the apply step: after 0, 1, ..., all writes.
 * zero_slot: the plan writes two clear-bit mapped-ram pages (their whole
 * slots, 16 bytes a write, then their shared bitmap byte), and the files
 * are compared byte for byte with a copy of the input (sparse-aware, the
 * stream being large). */
static void crash_loop(const char *fixture, const char *ext, bool with_reg,
		       bool zero_slot)
{
	json_object *man;
	char *path = gen(fixture, ext, &man), *undo = undo_path_of(path);
	char *orig = zero_slot ? copy_file(path, "orig") : NULL;
	struct snapshot *s = open_snap(path);
	struct stat st0 = stat_of(path), st;
	uint32_t crc0 = zero_slot ? 0 : file_crc(path);
	struct repair_plan p;
	struct repair_write w;
	struct repair_ranges rr;
	size_t total;
	unsigned points = 0, restored = 0;
	struct its_err err;

	repair_plan_init(&p);
	if (zero_slot) {
		zero_slot_plan(&p);
	} else {
		w = dte_write(man, 8);
		repair_plan_add(&p, &w);
		w = dte_write(man, 16);
		repair_plan_add(&p, &w);
		w = cte_write(man, 3);
		repair_plan_add(&p, &w);
	}
	if (with_reg) {
		w = reg_write(RREG_CWRITER, s->regs.its[0].cwriter, 0);
		repair_plan_add(&p, &w);
	}
	/* one write a range */
	ck_assert_msg(repair_collect(s, &p, 0, &rr, &err) == 0, "%s", err.msg);
	total = rr.nr;
	repair_ranges_release(&rr);
	if (!zero_slot) {
		struct range r[32];

		ck_assert_uint_eq(plan_ranges(s, &p, r, 32), total);
	}
	for (unsigned n = 0; n <= total; n++) {
		unsigned ab = n == 0 ? REPAIR_ABORT_NO_WRITE : n;
		int rc;

		ck_assert_int_eq(apply_in_child(s, &p, ab), 99);
		points++;
		ck_assert(exists(undo));
		if (n > 0)
			ck_assert(zero_slot ? !same_bytes(orig, path) :
					      file_crc(path) != crc0);
		rc = repair_undo(undo, path, &err);
		ck_assert_msg(rc == (n == 0 ? REPAIR_UNDO_NOTHING : 0),
			      "abort after %u writes: undo %d: %s", n, rc, err.msg);
		ck_assert_msg(zero_slot ? same_bytes(orig, path) :
					  file_crc(path) == crc0,
			      "abort after %u of %zu writes: not restored", n, total);
		st = stat_of(path);
		ck_assert(same_mtime(&st, &st0));
		restored++;
	}
	/* and the run that finishes */
	ck_assert_int_eq(apply_in_child(s, &p, 0), 0);
	if (zero_slot) {
		check_zero_slots(orig, path, &p);
		ck_assert_int_eq(repair_undo(undo, path, &err), 0);
		ck_assert(same_bytes(orig, path));
		st = stat_of(path);
		ck_assert(same_mtime(&st, &st0));
	} else {
		ck_assert_uint_ne(file_crc(path), crc0);
		ck_assert_int_eq(repair_undo(undo, path, &err), 0);
		ck_assert_uint_eq(file_crc(path), crc0);
	}
	fprintf(stderr, "crash loop %s.%s: %zu writes, %u abort points, %u restored byte for byte\n",
		fixture, ext, total, points, restored);
	ck_assert_uint_eq(restored, total + 1);
	repair_plan_release(&p);
	snapshot_close(s);
	json_object_put(man);
	free(orig);
	free(undo);
	free(path);
}

START_TEST(crash_loop_live)
{
	crash_loop("stream-live", "mig", true, false);
}
END_TEST

START_TEST(crash_loop_zero_slot)
{
	crash_loop("stream-mapped-ram", "mig", false, true);
}
END_TEST

START_TEST(crash_loop_elf)
{
	crash_loop("twolevel-24dev", "elf", false, false);
}
END_TEST

/* kill -9 during the undo: a second undo finishes it. */
START_TEST(crash_during_undo)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man), *undo = undo_path_of(path);
	struct snapshot *s = open_snap(path);
	uint32_t crc0 = file_crc(path);
	struct stat st0 = stat_of(path), st;
	struct repair_plan p;
	struct repair_write w;
	struct range r[16];
	size_t total;
	struct its_err err;

	repair_plan_init(&p);
	w = dte_write(man, 8);
	repair_plan_add(&p, &w);
	w = cte_write(man, 3);
	repair_plan_add(&p, &w);
	total = plan_ranges(s, &p, r, 16);
	for (unsigned n = 1; n < total; n++) {
		pid_t pid;
		int status, rc;

		ck_assert_int_eq(apply_in_child(s, &p, 0), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			repair_test_undo_abort_after = n;
			rc = repair_undo(undo, path, &err);
			_exit(rc == 0 ? 0 : 1);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 99);
		ck_assert_uint_ne(file_crc(path), crc0);
		rc = repair_undo(undo, path, &err);
		ck_assert_msg(rc == 0, "undo after an undo killed at %u: %s", n, err.msg);
		ck_assert_uint_eq(file_crc(path), crc0);
		st = stat_of(path);
		ck_assert(same_mtime(&st, &st0));
	}
	repair_plan_release(&p);
	snapshot_close(s);
	json_object_put(man);
	free(undo);
	free(path);
}
END_TEST

/* Died while writing the undo file: nothing to undo, the snapshot
 * untouched; every shorter prefix of an undo file says the same; a
 * complete one damaged afterwards is refused. */
START_TEST(incomplete_undo_file)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man), *undo = undo_path_of(path);
	char *tmp, *cut, *buf;
	struct snapshot *s = open_snap(path);
	uint32_t crc0 = file_crc(path);
	struct repair_plan p;
	struct repair_write w;
	struct its_err err;
	size_t len, trailer;

	repair_plan_init(&p);
	w = dte_write(man, 8);
	repair_plan_add(&p, &w);
	w = cte_write(man, 3);
	repair_plan_add(&p, &w);
	ck_assert_int_ge(asprintf(&tmp, "%s.tmp", undo), 0);
	ck_assert_int_eq(apply_in_child(s, &p, REPAIR_ABORT_IN_UNDO), 99);
	ck_assert(!exists(undo));
	ck_assert(exists(tmp));
	ck_assert_uint_eq(file_crc(path), crc0);
	ck_assert_int_eq(repair_undo(tmp, path, &err), REPAIR_UNDO_NOTHING);
	ck_assert_int_eq(err.code, 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "incomplete"));
	ck_assert_ptr_nonnull(strstr(err.msg, "nothing to undo"));
	ck_assert_uint_eq(file_crc(path), crc0);
	/* a later repair is not blocked by the leftover */
	ck_assert_int_eq(apply_in_child(s, &p, REPAIR_ABORT_NO_WRITE), 99);
	ck_assert(exists(undo));
	ck_assert(!exists(tmp));
	/* every prefix shorter than the complete file */
	buf = t_read_file(undo, &len);
	ck_assert_uint_gt(len, 512);
	trailer = len - 32;
	ck_assert_int_eq(memcmp(buf + trailer, "COMPLETE", 8), 0);
	ck_assert_int_ge(asprintf(&cut, "%s/cut.its-undo", t_tmpdir()), 0);
	for (size_t l = 0; l < len; l++) {
		int fd = open(cut, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int rc;

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, buf, l), (ssize_t)l);
		close(fd);
		rc = repair_undo(cut, path, &err);
		ck_assert_msg(rc == REPAIR_UNDO_NOTHING, "prefix %zu: %d %s", l, rc, err.msg);
		ck_assert_msg(strstr(err.msg, l < trailer + 32 ? "incomplete" : "nothing"),
			      "prefix %zu: %s", l, err.msg);
	}
	/* complete, then damaged: refused, not taken for incomplete */
	buf[600] ^= 0x40;
	{
		int fd = open(cut, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
		close(fd);
	}
	ck_assert_int_eq(repair_undo(cut, path, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "damaged"));
	buf[600] ^= 0x40;
	buf[8] ^= 1;		/* header checksum */
	{
		int fd = open(cut, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
		close(fd);
	}
	ck_assert_int_eq(repair_undo(cut, path, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "damaged"));
	ck_assert_uint_eq(file_crc(path), crc0);
	free(buf);
	free(cut);
	free(tmp);
	repair_plan_release(&p);
	snapshot_close(s);
	json_object_put(man);
	free(undo);
	free(path);
}
END_TEST

/* An undo file still needed is never overwritten; one already undone is. */
START_TEST(undo_file_kept)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man), *undo = undo_path_of(path);
	char *other;
	struct snapshot *s = open_snap(path), *s2;
	uint32_t crc0 = file_crc(path);
	struct repair_plan p, q;
	struct repair_write w;
	struct repair_apply_opts o = { 0 };
	struct its_err err;

	repair_plan_init(&p);
	repair_plan_init(&q);
	w = dte_write(man, 8);
	repair_plan_add(&p, &w);
	w = cte_write(man, 3);
	repair_plan_add(&q, &w);
	ck_assert_msg(repair_apply(s, &p, NULL, &err) == 0, "%s", err.msg);
	s2 = open_snap(path);
	ck_assert_int_eq(repair_apply(s2, &q, NULL, &err), -EEXIST);
	ck_assert_ptr_nonnull(strstr(err.msg, "--undo"));
	ck_assert_ptr_nonnull(strstr(err.msg, "nothing was written"));
	/* another undo file name works, and both undo in reverse order */
	ck_assert_int_ge(asprintf(&other, "%s/second.its-undo", t_tmpdir()), 0);
	o.undo_path = other;
	ck_assert_msg(repair_apply(s2, &q, &o, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(repair_undo(other, path, &err), 0);
	ck_assert_int_eq(repair_undo(undo, path, &err), 0);
	ck_assert_uint_eq(file_crc(path), crc0);
	snapshot_close(s2);
	/* undone: the old file is replaced by the next repair */
	s2 = open_snap(path);
	ck_assert_msg(repair_apply(s2, &q, NULL, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(repair_undo(undo, path, &err), 0);
	ck_assert_uint_eq(file_crc(path), crc0);
	snapshot_close(s2);
	free(other);
	repair_plan_release(&p);
	repair_plan_release(&q);
	snapshot_close(s);
	json_object_put(man);
	free(undo);
	free(path);
}
END_TEST

/* A libvirt save image: offsets are absolute, past the XML */
START_TEST(locate_libvirt)
{
	json_object *man;
	char *path = gen("stream-libvirt", "save", &man);
	struct snapshot *s = open_snap(path);
	json_object *its = json_object_array_get_idx(get(get(man, "stream"), "its"), 0);
	json_object *d = json_object_array_get_idx(get(man, "devices"), 0);
	struct repair_plan p;
	struct repair_write w = ram_write(hexnum(d, "gpa"), hexnum(d, "raw"),
					  hexnum(d, "raw") ^ 0x1);
	struct its_err err;
	uint64_t offs[4];
	size_t n;

	ck_assert_int_eq(repair_locate(s, &w, offs, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(offs[0], hexnum(d, "file_offset"));
	repair_plan_init(&p);
	repair_plan_add(&p, &w);
	w = reg_write(RREG_CREADR, s->regs.its[0].creadr, 0x40);
	ck_assert_int_eq(repair_locate(s, &w, offs, 4, &n, &err), 0);
	ck_assert_uint_eq(offs[0], hexnum(its, "payload_offset") + 24);
	repair_plan_add(&p, &w);
	snapshot_close(s);
	fix_and_undo(path, &p);
	repair_plan_release(&p);
	json_object_put(man);
	free(path);
}
END_TEST

/* A write across a page boundary: one range per page, in order. */
START_TEST(page_crossing_write)
{
	json_object *man;
	char *path = gen("stream-twolevel", "mig", &man);
	struct snapshot *s = open_snap(path);
	struct repair_plan p;
	struct repair_write w;
	struct its_err err;
	uint64_t offs[4], a, b;
	uint8_t old[12];
	size_t n;

	ck_assert_int_eq(gmem_read(s->mem, 0x40c00ffa, old, 12, 0, &err), 0);
	memset(&w, 0, sizeof(w));
	w.kind = REPAIR_RAM;
	w.gpa = 0x40c00ffa;
	w.len = 12;
	memcpy(w.old, old, 12);
	for (unsigned i = 0; i < 12; i++)
		w.new[i] = (uint8_t)(old[i] ^ (0x11 * (i + 1)));
	ck_assert_int_eq(gmem_locate(s->mem, 0x40c00ffa, &a, &err), 0);
	ck_assert_int_eq(gmem_locate(s->mem, 0x40c01000, &b, &err), 0);
	ck_assert_uint_eq(b, hexnum(json_object_array_get_idx(get(device(man, 136), "events"), 0),
				    "file_offset"));
	ck_assert_int_eq(repair_locate(s, &w, offs, 4, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(offs[0], a);
	ck_assert_uint_eq(offs[1], b);
	repair_plan_init(&p);
	repair_plan_add(&p, &w);
	ck_assert_msg(repair_apply(s, &p, NULL, &err) == 0, "%s", err.msg);
	snapshot_close(s);
	s = open_snap(path);
	ck_assert_int_eq(gmem_read(s->mem, 0x40c00ffa, old, 12, 0, &err), 0);
	ck_assert_int_eq(memcmp(old, w.new, 12), 0);
	snapshot_close(s);
	{
		char *undo = undo_path_of(path);

		ck_assert_int_eq(repair_undo(undo, path, &err), 0);
		s = open_snap(path);
		ck_assert_int_eq(gmem_read(s->mem, 0x40c00ffa, old, 12, 0, &err), 0);
		ck_assert_int_eq(memcmp(old, w.old, 12), 0);
		snapshot_close(s);
		free(undo);
	}
	repair_plan_release(&p);
	json_object_put(man);
	free(path);
}
END_TEST

/* ------------------------------------------------------------ -o undo */

static int apply_copy_in_child(struct snapshot *s, const struct repair_plan *p,
			       const char *out, unsigned abort_after)
{
	struct repair_apply_opts o = { .out_path = out, .abort_after = abort_after };
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct its_err err;
		int rc = repair_apply(s, p, &o, &err);

		_exit(rc == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* The plan of zero_page_reencoded: two entries into a page the live
 * stream sends last as a ZERO record, one into a page after it. */
static void reencode_plan(json_object *man, struct repair_plan *p)
{
	struct repair_write w = ram_write(0x40e00008, 0, 0x8000000000000001ULL);
	struct repair_write d = dte_write(man, 24);

	repair_plan_init(p);
	repair_plan_add(p, &w);
	w.gpa = 0x40e00ff8;
	repair_plan_add(p, &w);
	repair_plan_add(p, &d);
}

/* kill -9 in -o: with the undo file complete (as NAME.tmp), and after
 * each write into the copy: no copy under its name, no undo file under
 * its own, the next -o is not blocked. Then kill -9 in the undo of a copy
 * with a splice, after each write into the rebuilt file: the copy is as
 * the repair left it, and the next undo finishes. */
START_TEST(copy_crashes)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man), *out, *out_undo, *out_undo_tmp;
	struct snapshot *s = open_snap(path);
	uint32_t crc0 = file_crc(path), crc1;
	struct repair_plan p;
	struct its_err err;
	unsigned points = 0;

	reencode_plan(man, &p);
	ck_assert_int_ge(asprintf(&out, "%s/out.mig", t_tmpdir()), 0);
	out_undo = undo_path_of(out);
	ck_assert_int_ge(asprintf(&out_undo_tmp, "%s.tmp", out_undo), 0);
	for (unsigned n = 0; n <= 2; n++) {
		ck_assert_int_eq(apply_copy_in_child(s, &p, out,
						     n ? n : REPAIR_ABORT_NO_WRITE), 99);
		ck_assert(!exists(out));
		ck_assert(!exists(out_undo));
		ck_assert(exists(out_undo_tmp));
		ck_assert_int_eq(repair_undo(out_undo_tmp, out, &err), -ENOENT);
		ck_assert_ptr_nonnull(strstr(err.msg, "nothing was restored"));
		ck_assert_uint_eq(file_crc(path), crc0);
	}
	ck_assert_int_eq(apply_copy_in_child(s, &p, out, 0), 0);
	crc1 = file_crc(out);
	ck_assert_uint_ne(crc1, crc0);
	/* the rebuild writes the splice's old byte, then the header's and
	 * the DTE's old bytes: 3 */
	for (unsigned n = 1; n <= 3; n++) {
		pid_t pid = fork();
		int status;

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			repair_test_undo_abort_after = n;
			_exit(repair_undo(out_undo, out, &err) == 0 ? 0 : 1);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 99);
		ck_assert_uint_eq(file_crc(out), crc1);
		points++;
	}
	ck_assert_msg(repair_undo(out_undo, out, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(file_crc(out), crc0);
	ck_assert_int_eq(stat_of(out).st_size, stat_of(path).st_size);
	ck_assert_uint_eq(points, 3);
	ck_assert(!exists(out_undo_tmp));
	repair_plan_release(&p);
	snapshot_close(s);
	json_object_put(man);
	free(out_undo_tmp);
	free(out_undo);
	free(out);
	free(path);
}
END_TEST

/* -o never replaces an undo file that still undoes another file; it does
 * replace the one of the copy it replaces, also once that copy was
 * undone (renamed over: another inode). */
START_TEST(copy_undo_file_replaced)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man), *other, *out, *out_undo;
	struct snapshot *s = open_snap(path), *s2;
	uint32_t crc0 = file_crc(path);
	struct repair_apply_opts o = { 0 };
	struct repair_plan p, q;
	struct repair_write w;
	struct its_err err;

	reencode_plan(man, &p);
	ck_assert_int_ge(asprintf(&out, "%s/out.mig", t_tmpdir()), 0);
	out_undo = undo_path_of(out);
	/* another snapshot repaired in place, its undo file at OUT.its-undo */
	other = copy_file(path, "other.mig");
	s2 = open_snap(other);
	repair_plan_init(&q);
	w = cte_write(man, 3);
	repair_plan_add(&q, &w);
	o.undo_path = out_undo;
	ck_assert_msg(repair_apply(s2, &q, &o, &err) == 0, "%s", err.msg);
	o.undo_path = NULL;
	o.out_path = out;
	ck_assert_int_eq(repair_apply(s, &p, &o, &err), -EEXIST);
	ck_assert_ptr_nonnull(strstr(err.msg, "still undoes something"));
	ck_assert(!exists(out));
	ck_assert_msg(repair_undo(out_undo, other, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(file_crc(other), crc0);
	unlink(out_undo);
	/* twice onto the same copy; undone; then again */
	ck_assert_msg(repair_apply(s, &p, &o, &err) == 0, "%s", err.msg);
	ck_assert_msg(repair_apply(s, &p, &o, &err) == 0, "%s", err.msg);
	ck_assert_msg(repair_undo(out_undo, out, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(file_crc(out), crc0);
	ck_assert_msg(repair_apply(s, &p, &o, &err) == 0, "%s", err.msg);
	ck_assert_msg(repair_undo(out_undo, out, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(file_crc(out), crc0);
	repair_plan_release(&q);
	repair_plan_release(&p);
	snapshot_close(s2);
	snapshot_close(s);
	json_object_put(man);
	free(other);
	free(out_undo);
	free(out);
	free(path);
}
END_TEST

/* An undo file of version 1 (in place, before -o kept one), made here
 * from the ranges of the plan: applied as before. */
static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

START_TEST(undo_version_1)
{
	json_object *man;
	char *path = gen("stream-live", "mig", &man), *undo = undo_path_of(path);
	struct snapshot *s = open_snap(path);
	struct stat st0 = stat_of(path), st;
	uint32_t crc0 = file_crc(path);
	struct repair_ranges rr;
	struct repair_plan p;
	struct repair_write w;
	struct its_err err;
	uint8_t *b;
	size_t at = 512, len;
	int fd;

	repair_plan_init(&p);
	w = dte_write(man, 8);
	repair_plan_add(&p, &w);
	w = cte_write(man, 3);
	repair_plan_add(&p, &w);
	/* both pages are sent stale, as zero, then final: two copies each */
	ck_assert_msg(repair_collect(s, &p, 0, &rr, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(rr.nr, 4);
	ck_assert_msg(repair_apply(s, &p, NULL, &err) == 0, "%s", err.msg);
	ck_assert_uint_ne(file_crc(path), crc0);
	/* header, records (24 bytes, old, new, padding), trailer */
	len = 512 + rr.nr * 40 + 32;
	b = calloc(1, len);
	ck_assert_ptr_nonnull(b);
	memcpy(b, "ITSUNDO\0", 8);
	put_le(b + 8, 1, 4);
	put_le(b + 12, 512, 4);
	put_le(b + 16, (uint64_t)st0.st_size, 8);
	put_le(b + 24, (uint64_t)st0.st_mtim.tv_sec, 8);
	put_le(b + 32, (uint64_t)st0.st_mtim.tv_nsec, 4);
	put_le(b + 36, rr.nr, 4);
	put_le(b + 40, st0.st_dev, 8);
	put_le(b + 48, st0.st_ino, 8);
	put_le(b + 56, rr.nr * 40, 8);
	snprintf((char *)b + 64, 440, "%s", path);
	put_le(b + 508, its_crc32c(0, b, 508), 4);
	for (size_t i = 0; i < rr.nr; i++) {
		const struct repair_range *x = &rr.v[i];

		ck_assert_uint_eq(x->len, 8);
		put_le(b + at, x->off, 8);
		put_le(b + at + 8, x->len, 4);
		put_le(b + at + 12, its_crc32c(0, x->old, 8), 4);
		put_le(b + at + 16, its_crc32c(0, x->new, 8), 4);
		memcpy(b + at + 24, x->old, 8);
		memcpy(b + at + 32, x->new, 8);
		put_le(b + at + 20, its_crc32c(its_crc32c(0, b + at, 20), b + at + 24, 16), 4);
		at += 40;
	}
	memcpy(b + at, "COMPLETE", 8);
	put_le(b + at + 8, rr.nr, 4);
	put_le(b + at + 12, its_crc32c(0, b, at), 4);
	put_le(b + at + 16, at, 8);
	put_le(b + at + 28, its_crc32c(0, b + at, 28), 4);
	fd = open(undo, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, b, len), (ssize_t)len);
	close(fd);
	ck_assert_msg(repair_undo(undo, path, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(file_crc(path), crc0);
	st = stat_of(path);
	ck_assert(same_mtime(&st0, &st));
	ck_assert_int_eq(repair_undo(undo, path, &err), REPAIR_UNDO_NOTHING);
	/* damaged, it is refused as a version 2 file would be */
	b[512 + 30] ^= 1;
	fd = open(undo, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, b, len), (ssize_t)len);
	close(fd);
	ck_assert_int_eq(repair_undo(undo, path, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "damaged"));
	free(b);
	repair_ranges_release(&rr);
	repair_plan_release(&p);
	snapshot_close(s);
	json_object_put(man);
	free(undo);
	free(path);
}
END_TEST

START_TEST(crc32c_known)
{
	/* the standard check value of CRC-32C */
	ck_assert_uint_eq(its_crc32c(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(its_crc32c(its_crc32c(0, "1234", 4), "56789", 5),
			  0xE3069283u);
}
END_TEST

Suite *suite_repair_io(void)
{
	Suite *s = suite_create("repair_io");
	TCase *tc = tcase_create("repair_io");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, crc32c_known);
	tcase_add_test(tc, locate_elf);
	tcase_add_test(tc, locate_stream_plain);
	tcase_add_test(tc, locate_stream_live);
	tcase_add_test(tc, locate_mapped_ram);
	tcase_add_test(tc, locate_libvirt);
	tcase_add_test(tc, page_crossing_write);
	tcase_add_test(tc, apply_undo_elf);
	tcase_add_test(tc, apply_undo_stream);
	tcase_add_test(tc, apply_undo_live);
	tcase_add_test(tc, apply_undo_mapped_ram);
	tcase_add_test(tc, register_write_stream);
	tcase_add_test(tc, register_write_elf);
	tcase_add_test(tc, zero_page_reencoded);
	tcase_add_test(tc, copy_live);
	tcase_add_test(tc, copy_mapped_ram_sparse);
	tcase_add_test(tc, copy_elf_sparse);
	tcase_add_test(tc, zero_slot_in_place);
	tcase_add_test(tc, zero_slot_copy);
	tcase_add_test(tc, undo_refuses_changed);
	tcase_add_test(tc, apply_refuses_stale_plan);
	tcase_add_test(tc, apply_refuses_changed_since_open);
	tcase_add_test(tc, apply_refuses_changed_before_write);
	tcase_add_test(tc, apply_read_only);
	tcase_add_test(tc, apply_full_disk);
	tcase_add_test(tc, crash_loop_live);
	tcase_add_test(tc, crash_loop_elf);
	tcase_add_test(tc, crash_loop_zero_slot);
	tcase_add_test(tc, crash_during_undo);
	tcase_add_test(tc, incomplete_undo_file);
	tcase_add_test(tc, undo_file_kept);
	tcase_add_test(tc, copy_crashes);
	tcase_add_test(tc, copy_undo_file_replaced);
	tcase_add_test(tc, undo_version_1);
	suite_add_tcase(s, tc);
	return s;
}
