/* Check suite for the QEMU migration stream reader (src/snap/migstream*.c).
 *
 * Real samples (made by QEMU 7.2 and 10.0, and the synthetic KVM stream)
 * are found through ITS_SAMPLES_DIR, decompressed:
 *   $ITS_SAMPLES_DIR/qemu10-virt-its-stopped.mig
 *   $ITS_SAMPLES_DIR/qemu72-virt-its-stopped.mig
 *   $ITS_SAMPLES_DIR/kvm-virt-2level.mig
 * Expected values are those of samples/README.md and
 * kvm-synthetic/kvm-virt-2level.{registers,expected}.json. Damaged and
 * synthetic streams are built here, in temporary files. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "its/bits.h"
#include "its/gmem.h"
#include "its/migstream.h"
#include "its/snapshot.h"
#include "testutil.h"

Suite *suite_migstream(void);

#define QEMU10 "qemu10-virt-its-stopped.mig"
#define QEMU72 "qemu72-virt-its-stopped.mig"
#define KVM "kvm-virt-2level.mig"

#define QEMU10_SIZE 63002253ULL
#define KVM_SIZE 589804ULL

/* ------------------------------------------------------------ helpers */

static char *sample(const char *name)
{
	const char *dir = getenv("ITS_SAMPLES_DIR");
	struct stat st;
	char *p;

	ck_assert_msg(dir && *dir,
		      "ITS_SAMPLES_DIR is not set: point it at a directory holding the decompressed samples "
		      "(" QEMU10 ", " QEMU72 ", " KVM "; e.g. xz -dc samples/" QEMU10 ".xz > build/samples/" QEMU10 ")");
	ck_assert(asprintf(&p, "%s/%s", dir, name) > 0);
	ck_assert_msg(stat(p, &st) == 0,
		      "sample %s is missing (ITS_SAMPLES_DIR=%s): decompress samples/%s.xz there",
		      p, dir, name);
	return p;
}

static int open_path(const char *path, unsigned flags,
		     const struct snap_open_opts *o, struct snapshot *s,
		     struct its_err *err)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->nr_vcpus = -1;
	s->path = strdup(path);
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(s->fd >= 0, "cannot open %s", path);
	ck_assert(fstat(s->fd, &st) == 0);
	s->file_size = (uint64_t)st.st_size;
	its_err_clear(err);
	return migstream_open_flags(s, o, flags, err);
}

static void close_snap(struct snapshot *s)
{
	if (s->priv_free)
		s->priv_free(s->priv);
	gmem_free(s->mem);
	its_regset_release(&s->regs);
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	memset(s, 0, sizeof(*s));
}

static void open_sample(const char *name, unsigned flags,
			const struct snap_open_opts *o, struct snapshot *s)
{
	struct its_err err;
	char *p = sample(name), line[1024];
	int rc = open_path(p, flags, o, s, &err);

	its_err_format(&err, line, sizeof(line));
	ck_assert_msg(rc == 0, "migstream_open(%s) = %d: %s", p, rc, line);
	free(p);
}

/* A growing byte buffer, for damaged and synthetic streams. */
struct sb {
	uint8_t *p;
	size_t n, cap;
};

static void sb_put(struct sb *b, const void *d, size_t n)
{
	if (!n)
		return;
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		ck_assert(b->p);
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void sb_u8(struct sb *b, uint8_t v)
{
	sb_put(b, &v, 1);
}

static void sb_be(struct sb *b, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		sb_u8(b, (uint8_t)(v >> (8 * i)));
}

static void sb_str(struct sb *b, const char *s)
{
	sb_u8(b, (uint8_t)strlen(s));
	sb_put(b, s, strlen(s));
}

static void sb_zeros(struct sb *b, size_t n)
{
	while (n--)
		sb_u8(b, 0);
}

static void sb_free(struct sb *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void sb_file(struct sb *b, const char *path, uint64_t off, uint64_t n)
{
	int fd = open(path, O_RDONLY);
	uint8_t buf[1 << 16];

	ck_assert(fd >= 0);
	while (n) {
		size_t k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
		ssize_t r = pread(fd, buf, k, (off_t)off);

		ck_assert_msg(r > 0, "short read of %s", path);
		sb_put(b, buf, (size_t)r);
		off += (uint64_t)r;
		n -= (uint64_t)r;
	}
	close(fd);
}

static char *tmp_write(const void *d, size_t n)
{
	const char *t = getenv("TMPDIR");
	char *path;
	int fd;

	ck_assert(asprintf(&path, "%s/check_migstream_XXXXXX",
			   t && *t ? t : "/tmp") > 0);
	fd = mkstemp(path);
	ck_assert_msg(fd >= 0, "mkstemp %s", path);
	ck_assert(write(fd, d, n) == (ssize_t)n);
	close(fd);
	return path;
}

/* Open bytes as a stream (kept in a temporary file until close). */
static int open_bytes(const struct sb *b, unsigned flags,
		      const struct snap_open_opts *o, struct snapshot *s,
		      struct its_err *err)
{
	char *path = tmp_write(b->p, b->n);
	int rc = open_path(path, flags, o, s, err);

	unlink(path);	/* the fd keeps it */
	free(path);
	return rc;
}

static void patch(struct sb *b, uint64_t off, const void *d, size_t n)
{
	ck_assert(off + n <= b->n);
	memcpy(b->p + off, d, n);
}

static void patch_be32(struct sb *b, uint64_t off, uint32_t v)
{
	uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };

	patch(b, off, x, 4);
}

/* Assert the error code, offset, that the one-line message names the
 * offset, and (optionally) contains a phrase. The snapshot is untouched. */
static void check_err(int rc, const struct its_err *err,
		      const struct snapshot *s, int code, uint64_t off,
		      const char *phrase)
{
	char line[1024], hex[48];

	its_err_format(err, line, sizeof(line));
	ck_assert_msg(rc == code, "rc %d, expected %d (%s)", rc, code, line);
	ck_assert_int_eq(err->code, code);
	ck_assert_msg(err->offset == off,
		      "error offset %llu, expected %llu (%s)",
		      (unsigned long long)err->offset,
		      (unsigned long long)off, line);
	snprintf(hex, sizeof(hex), "offset 0x%llx: ", (unsigned long long)off);
	ck_assert_msg(strstr(line, hex), "message '%s' does not name '%s'",
		      line, hex);
	if (phrase)
		ck_assert_msg(strstr(line, phrase),
			      "message '%s' lacks '%s'", line, phrase);
	ck_assert_ptr_null(s->mem);
	ck_assert_ptr_null(s->priv);
	ck_assert_uint_eq(s->regs.nr_its, 0);
	ck_assert_uint_eq(s->regs.nr_rd, 0);
}

/* check_err, and the whole line: "FILE: offset 0xOFF: MSG" exactly. */
static void check_line(int rc, const struct its_err *err,
		       const struct snapshot *s, int code, uint64_t off,
		       const char *msg)
{
	char line[1024], want[1024];

	check_err(rc, err, s, code, off, NULL);
	its_err_format(err, line, sizeof(line));
	snprintf(want, sizeof(want), "%s: offset 0x%llx: %s", err->file,
		 (unsigned long long)off, msg);
	ck_assert_str_eq(line, want);
}

static uint64_t rd64(const struct snapshot *s, uint64_t gpa)
{
	struct its_err err;
	uint8_t v[8];
	char line[512];
	int rc = gmem_read(s->mem, gpa, v, 8, 0, &err);

	its_err_format(&err, line, sizeof(line));
	ck_assert_msg(rc == 0, "gmem_read(0x%llx): %s",
		      (unsigned long long)gpa, line);
	return its_le64(v);
}

static uint64_t locate(const struct snapshot *s, uint64_t gpa)
{
	struct its_err err;
	uint64_t off = 0;

	ck_assert_int_eq(gmem_locate(s->mem, gpa, &off, &err), 0);
	return off;
}

static const struct migstream_record *
rec_at(const struct migstream_info *mi, uint64_t off)
{
	for (size_t i = 0; i < mi->nr_records; i++)
		if (mi->records[i].offset == off)
			return &mi->records[i];
	ck_abort_msg("no record at offset %llu", (unsigned long long)off);
	return NULL;
}

static void check_rec(const struct migstream_info *mi, uint64_t off,
		      uint8_t type, uint32_t sid, const char *idstr,
		      uint32_t inst, uint32_t ver)
{
	const struct migstream_record *r = rec_at(mi, off);

	ck_assert_uint_eq(r->type, type);
	ck_assert_uint_eq(r->section_id, sid);
	ck_assert_str_eq(r->idstr, idstr);
	ck_assert_uint_eq(r->instance_id, inst);
	ck_assert_uint_eq(r->version_id, ver);
}

static size_t count_type(const struct migstream_info *mi, uint8_t type)
{
	size_t n = 0;

	for (size_t i = 0; i < mi->nr_records; i++)
		n += mi->records[i].type == type;
	return n;
}

static bool has_warning(const struct migstream_info *mi, const char *phrase)
{
	for (size_t i = 0; i < mi->nr_warnings; i++)
		if (strstr(mi->warnings[i], phrase))
			return true;
	return false;
}

/* ------------------------------------------------------------ QEMU 10 */

START_TEST(test_qemu10_structure)
{
	struct snapshot s;
	const struct migstream_info *mi;

	open_sample(QEMU10, 0, NULL, &s);
	mi = migstream_info(&s);
	ck_assert_ptr_nonnull(mi);
	ck_assert_int_eq(s.format, SNAP_FORMAT_QEMU_STREAM);
	ck_assert_str_eq(s.format_desc,
			 "QEMU migration stream v3, machine virt-10.0");
	ck_assert_str_eq(mi->machine, "virt-10.0");
	ck_assert_uint_eq(mi->version, 3);
	ck_assert_uint_eq(mi->page_size, 4096);
	ck_assert(mi->page_bits_given);
	ck_assert_uint_eq(mi->nr_capabilities, 0);
	ck_assert(!mi->mapped_ram && !mi->libvirt);
	ck_assert_uint_eq(mi->stream_offset, 0);
	ck_assert(mi->complete);
	ck_assert(mi->has_vmdesc);
	ck_assert_uint_eq(mi->vmdesc_offset, 62961484);
	ck_assert_uint_eq(mi->vmdesc_length, 40764);
	ck_assert_int_eq(s.nr_vcpus, 2);

	/* configuration ends at 62 */
	ck_assert_uint_eq(rec_at(mi, 8)->type, QEMU_VM_CONFIGURATION);
	ck_assert_uint_eq(rec_at(mi, 8)->size, 54);
	check_rec(mi, 62, QEMU_VM_SECTION_START, 1, "ram", 0, 4);
	ck_assert_uint_eq(count_type(mi, QEMU_VM_SECTION_PART), 2);
	ck_assert_uint_eq(rec_at(mi, 62650311)->type, QEMU_VM_COMMAND);
	ck_assert_uint_eq(rec_at(mi, 62650311)->command, 11);
	ck_assert_uint_eq(rec_at(mi, 62650311)->size, 5);
	ck_assert_str_eq(migstream_command_name(11), "SWITCHOVER_START");
	check_rec(mi, 62650316, QEMU_VM_SECTION_END, 1, "ram", 0, 4);
	/* END + EOS (at 62,650,321) + footer: RAM ends at 62,650,334 */
	ck_assert_uint_eq(rec_at(mi, 62650316)->size, 62650334 - 62650316);
	check_rec(mi, 62650334, QEMU_VM_SECTION_FULL, 9, "arm_gicv3", 0, 1);
	check_rec(mi, 62661364, QEMU_VM_SECTION_FULL, 10, "arm_gicv3_its", 0,
		  0);
	ck_assert_uint_eq(rec_at(mi, 62661364)->size, 128);
	ck_assert(rec_at(mi, 62661364)->flags & MIGSTREAM_REC_DECODED);
	check_rec(mi, 62661492, QEMU_VM_SECTION_FULL, 22,
		  "0000:00:04.0/pcie-root-port", 0, 1);
	check_rec(mi, 62669858, QEMU_VM_SECTION_FULL, 0, "timer", 0, 2);
	check_rec(mi, 62669948, QEMU_VM_SECTION_FULL, 4, "pflash_cfi01", 1, 1);
	check_rec(mi, 62675724, QEMU_VM_SECTION_FULL, 8, "cpu", 1, 22);
	check_rec(mi, 62682266, QEMU_VM_SECTION_FULL, 19,
		  "0000:00:01.0/virtio-net", 0, 11);
	check_rec(mi, 62825173, QEMU_VM_SECTION_FULL, 26, "PCIBUS", 2, 1);
	check_rec(mi, 62825202, QEMU_VM_SECTION_FULL, 27,
		  "0000:00:05.0:00.0/e1000e", 0, 1);
	check_rec(mi, 62961349, QEMU_VM_SECTION_FULL, 29, "globalstate", 0, 1);
	ck_assert_uint_eq(rec_at(mi, 62961483)->type, QEMU_VM_EOF);
	ck_assert_uint_eq(rec_at(mi, 62961484)->type, QEMU_VM_VMDESCRIPTION);
	ck_assert_uint_eq(rec_at(mi, 62961484)->size, QEMU10_SIZE - 62961484);
	ck_assert_uint_eq(count_type(mi, QEMU_VM_SECTION_FULL), 28);
	ck_assert_uint_eq(mi->nr_records, mi->nr_records_seen);
	/* records tile the file from the configuration to the end */
	for (size_t i = 1; i < mi->nr_records; i++)
		ck_assert_uint_eq(mi->records[i - 1].offset +
				  mi->records[i - 1].size,
				  mi->records[i].offset);
	ck_assert_ptr_eq(migstream_find_section(mi, "arm_gicv3_its", 0),
			 rec_at(mi, 62661364));
	ck_assert_ptr_null(migstream_find_section(mi, "arm_gicv3_its", 1));
	ck_assert_uint_eq(mi->nr_warnings, 0);
	close_snap(&s);
}
END_TEST

START_TEST(test_qemu10_ram)
{
	static const struct {
		const char *name;
		uint64_t len, data, zero;
	} want[] = {
		{ "mach-virt.ram", 0x10000000, 15079, 50457 },
		{ "virt.flash0", 0x4000000, 0, 16384 },
		{ "virt.flash1", 0x4000000, 0, 16384 },
		{ "/rom@etc/acpi/tables", 0x20000, 2, 30 },
		{ "/rom@etc/table-loader", 0x1000, 1, 0 },
		{ "/rom@etc/acpi/rsdp", 0x1000, 1, 0 },
	};
	struct snapshot s;
	const struct migstream_info *mi;
	const struct migstream_ramblock *b;

	open_sample(QEMU10, 0, NULL, &s);
	mi = migstream_info(&s);
	ck_assert_uint_eq(mi->ram_total, 402792448);
	ck_assert_uint_eq(mi->nr_blocks, 6);
	for (size_t i = 0; i < 6; i++) {
		b = &mi->blocks[i];
		ck_assert_str_eq(b->name, want[i].name);
		ck_assert_uint_eq(b->used_length, want[i].len);
		ck_assert_uint_eq(b->pages_data, want[i].data);
		ck_assert_uint_eq(b->pages_zero, want[i].zero);
		ck_assert_uint_eq(b->pages_absent, 0);
		ck_assert_uint_eq(b->pages_resent, 0);
		ck_assert_uint_eq(b->records_data, want[i].data);
		ck_assert_uint_eq(b->records_zero, want[i].zero);
	}
	ck_assert_uint_eq(mi->ram_records_data, 15083);
	ck_assert_uint_eq(mi->ram_records_zero, 83255);
	b = migstream_find_block(mi, "mach-virt.ram");
	ck_assert(b->gpa_known && b->mapped);
	ck_assert_uint_eq(b->gpa, 0x40000000);
	ck_assert_str_eq(b->role, "guest RAM");
	ck_assert_uint_eq(b->decl_offset, 87);
	b = migstream_find_block(mi, "virt.flash1");
	ck_assert(b->gpa_known && !b->mapped);
	ck_assert_uint_eq(b->gpa, 0x04000000);
	ck_assert(!migstream_find_block(mi, "/rom@etc/acpi/rsdp")->gpa_known);
	/* only guest RAM is in the memory map */
	ck_assert_uint_eq(gmem_nr_regions(s.mem), 1);
	ck_assert_uint_eq(gmem_region_at(s.mem, 0)->gpa, 0x40000000);
	ck_assert_uint_eq(gmem_region_at(s.mem, 0)->size, 0x10000000);
	close_snap(&s);
}
END_TEST

START_TEST(test_qemu10_registers)
{
	struct snapshot s;
	const struct its_regs_raw *r;

	open_sample(QEMU10, 0, NULL, &s);
	ck_assert_uint_eq(s.regs.nr_its, 1);
	r = &s.regs.its[0];
	ck_assert_uint_eq(r->present, ITS_REG_ALL);
	ck_assert_uint_eq(r->ctlr, 0x80000001);
	ck_assert_uint_eq(r->iidr, 0);
	ck_assert_uint_eq(r->cbaser, 0xb80000004258040fULL);
	ck_assert_uint_eq(r->cwriter, 0x9e0);
	ck_assert_uint_eq(r->creadr, 0x9e0);
	ck_assert_uint_eq(r->baser[0], 0xf907000042590600ULL);
	ck_assert_uint_eq(r->baser[1], 0xbc070000425a0600ULL);
	for (int i = 2; i < 8; i++)
		ck_assert_uint_eq(r->baser[i], 0);
	ck_assert_str_eq(r->source,
			 "stream section 'arm_gicv3_its' (id 10) at offset 62661364");
	ck_assert_uint_eq(s.regs.nr_rd, 2);
	for (unsigned i = 0; i < 2; i++) {
		ck_assert_uint_eq(s.regs.rd[i].cpu, i);
		ck_assert_uint_eq(s.regs.rd[i].present,
				  GICR_REG_PROPBASER | GICR_REG_PENDBASER);
		ck_assert_uint_eq(s.regs.rd[i].propbaser, 0x425b078f);
	}
	ck_assert_uint_eq(s.regs.rd[0].pendbaser, 0x425c0780);
	ck_assert_uint_eq(s.regs.rd[1].pendbaser, 0x425d0780);
	close_snap(&s);
}
END_TEST

static void check_qemu10_tables(const struct snapshot *s)
{
	static const struct {
		uint64_t gpa, raw;
	} dte[] = {
		{ 0x431c0040, 0x0000000010c0fb03ULL },
		{ 0x431c0080, 0x0000000010c0f903ULL },
		{ 0x431c00c0, 0x0000000010e1f501ULL },
		{ 0x431c0100, 0x0000000010c0ed81ULL },
		{ 0x431c0140, 0x0000000010c0e801ULL },
		{ 0x431c0800, 0x0000000010e1f203ULL },
		{ 0x431c1000, 0x0000000010e20803ULL },
	};
	static const uint8_t ite0[12] = { 0x0b, 0x80, 0, 0, 0, 0, 0, 0,
					  0xff, 0x03, 0, 0 };
	static const uint8_t ite1[12] = { 0x0f, 0x80, 0, 0, 1, 0, 0, 0,
					  0xff, 0x03, 0, 0 };
	static const uint8_t lpis[20] = { 0xa3, 0xa3, 0xa3, 0xa3, 0xa3, 0xa2,
					  0xa3, 0xa3, 0xa3, 0xa2, 0xa3, 0xa3,
					  0xa3, 0xa3, 0xa3, 0xa2, 0xa3, 0xa3,
					  0xa3, 0xa2 };
	uint8_t buf[24];
	struct its_err err;
	uint64_t run, off;

	/* device table L1 entry 0 and where its page is in the file */
	ck_assert_uint_eq(rd64(s, 0x42590000), 0x80000000431c0000ULL);
	ck_assert_uint_eq(rd64(s, 0x42590008), 0);
	ck_assert_uint_eq(locate(s, 0x42590000), 37465979);
	ck_assert_uint_eq(locate(s, 0x42580000), 37461740);
	ck_assert_uint_eq(locate(s, 0x431c0000), 49001027);
	ck_assert_uint_eq(locate(s, 0x431c1000), 49005131);
	ck_assert_uint_eq(locate(s, 0x425a0000), 37470218);
	ck_assert_uint_eq(locate(s, 0x425b0000), 37474457);
	ck_assert_uint_eq(locate(s, 0x431c0040), 49001027 + 0x40);
	for (size_t i = 0; i < sizeof(dte) / sizeof(dte[0]); i++)
		ck_assert_uint_eq(rd64(s, dte[i].gpa), dte[i].raw);
	/* ITT of DeviceID 0x8 at 0x4303ec00 (stream offset 47,919,545) */
	ck_assert_uint_eq(locate(s, 0x4303ec00), 47919545);
	ck_assert_int_eq(gmem_read(s->mem, 0x4303ec00, buf, 24, 0, &err), 0);
	ck_assert_mem_eq(buf, ite0, 12);
	ck_assert_mem_eq(buf + 12, ite1, 12);
	/* collection table: ICID 0 -> CPU0, ICID 1 -> CPU1 */
	ck_assert_uint_eq(rd64(s, 0x425a0000), 1);
	ck_assert_uint_eq(rd64(s, 0x425a0008), 3);
	ck_assert_int_eq(gmem_read(s->mem, 0x425b0000, buf, 20, 0, &err), 0);
	ck_assert_mem_eq(buf, lpis, 20);
	/* pending tables: zero pages, no copy in the file */
	ck_assert_int_eq(gmem_span(s->mem, 0x425c0000, 0x10000, &run),
			 GMEM_ZERO);
	ck_assert_uint_eq(run, 0x10000);
	ck_assert_int_eq(gmem_span(s->mem, 0x425d0000, 0x10000, &run),
			 GMEM_ZERO);
	ck_assert_int_eq(gmem_locate(s->mem, 0x425c0000, &off, &err), -ENOENT);
	ck_assert_uint_eq(rd64(s, 0x425c0000), 0);
	/* outside mach-virt.ram: not guest RAM */
	ck_assert_int_eq(gmem_read(s->mem, 0x3ffffff8, buf, 8, 0, &err),
			 -EFAULT);
	ck_assert_int_eq(gmem_read(s->mem, 0x50000000, buf, 8, 0, &err),
			 -EFAULT);
}

START_TEST(test_qemu10_tables_through_gmem)
{
	struct snapshot s;

	open_sample(QEMU10, 0, NULL, &s);
	check_qemu10_tables(&s);
	close_snap(&s);
}
END_TEST

/* pread windows and mmap give the same answers */
START_TEST(test_qemu10_pread_same)
{
	struct snapshot a, b;
	const struct migstream_info *ma, *mb;
	const struct gmem_region *ra, *rb;

	open_sample(QEMU10, 0, NULL, &a);
	open_sample(QEMU10, MIGSTREAM_PREAD, NULL, &b);
	check_qemu10_tables(&b);
	ma = migstream_info(&a);
	mb = migstream_info(&b);
	ck_assert_uint_eq(ma->nr_records, mb->nr_records);
	for (size_t i = 0; i < ma->nr_records; i++) {
		ck_assert_uint_eq(ma->records[i].offset, mb->records[i].offset);
		ck_assert_uint_eq(ma->records[i].size, mb->records[i].size);
	}
	ra = gmem_region_at(a.mem, 0);
	rb = gmem_region_at(b.mem, 0);
	ck_assert_uint_eq(ra->nr_pages, 65536);
	ck_assert_uint_eq(rb->nr_pages, 65536);
	for (uint64_t k = 0; k < 65536; k++)
		ck_assert_uint_eq(gmem_region_page(ra, k),
				  gmem_region_page(rb, k));
	ck_assert_mem_eq(&a.regs.its[0], &b.regs.its[0], sizeof(a.regs.its[0]));
	close_snap(&a);
	close_snap(&b);
}
END_TEST

/* ------------------------------------------------------------ QEMU 7.2 */

START_TEST(test_qemu72)
{
	struct snapshot s;
	const struct migstream_info *mi;
	const struct migstream_ramblock *b;
	const struct its_regs_raw *r;

	open_sample(QEMU72, 0, NULL, &s);
	mi = migstream_info(&s);
	ck_assert_str_eq(s.format_desc,
			 "QEMU migration stream v3, machine virt-7.2");
	ck_assert_uint_eq(rec_at(mi, 8)->size, 53);
	check_rec(mi, 61, QEMU_VM_SECTION_START, 2, "ram", 0, 4);
	ck_assert_uint_eq(count_type(mi, QEMU_VM_SECTION_PART), 4);
	ck_assert_uint_eq(count_type(mi, QEMU_VM_COMMAND), 0);
	check_rec(mi, 62613180, QEMU_VM_SECTION_END, 2, "ram", 0, 4);
	ck_assert_uint_eq(rec_at(mi, 62613180)->size, 62621699 - 62613180);
	check_rec(mi, 62621699, QEMU_VM_SECTION_FULL, 10, "arm_gicv3", 0, 1);
	check_rec(mi, 62632729, QEMU_VM_SECTION_FULL, 11, "arm_gicv3_its", 0,
		  0);
	check_rec(mi, 62641223, QEMU_VM_SECTION_FULL, 0, "timer", 0, 2);
	check_rec(mi, 62796055, QEMU_VM_SECTION_FULL, 28,
		  "0000:00:05.0:00.0/e1000e", 0, 1);
	check_rec(mi, 62932194, QEMU_VM_SECTION_FULL, 30, "globalstate", 0, 1);
	ck_assert_uint_eq(rec_at(mi, 62932328)->type, QEMU_VM_EOF);
	ck_assert_uint_eq(mi->vmdesc_offset, 62932329);
	ck_assert_uint_eq(mi->vmdesc_length, 40226);
	b = migstream_find_block(mi, "mach-virt.ram");
	ck_assert_uint_eq(b->pages_data, 15072);
	ck_assert_uint_eq(b->pages_zero, 50464);
	ck_assert_uint_eq(b->pages_absent, 0);
	ck_assert_uint_eq(b->pages_resent, 0);
	ck_assert_uint_eq(mi->ram_records_data, 15076);
	ck_assert_uint_eq(mi->ram_records_zero, 83262);
	r = &s.regs.its[0];
	ck_assert_uint_eq(s.regs.nr_its, 1);
	ck_assert_uint_eq(r->ctlr, 0x80000001);
	ck_assert_uint_eq(r->cbaser, 0xb80000004258040fULL);
	ck_assert_uint_eq(r->baser[0], 0xf907000042590600ULL);
	ck_assert_uint_eq(r->baser[1], 0xbc070000425a0600ULL);
	ck_assert_str_eq(r->source,
			 "stream section 'arm_gicv3_its' (id 11) at offset 62632729");
	ck_assert_uint_eq(s.regs.rd[1].pendbaser, 0x425d0780);
	ck_assert_int_eq(s.nr_vcpus, 2);
	ck_assert_uint_eq(rd64(&s, 0x42590000), 0x8000000042dd0000ULL);
	ck_assert_uint_eq(locate(&s, 0x42590000), 37437349);
	ck_assert_uint_eq(locate(&s, 0x42dd0000), 44806882);
	ck_assert_uint_eq(locate(&s, 0x42dd1000), 44810986);
	ck_assert_uint_eq(locate(&s, 0x425a0000), 37441588);
	ck_assert_uint_eq(locate(&s, 0x42580000), 37433110);
	ck_assert_uint_eq(rd64(&s, 0x42dd0040), 0x0000000010b2f283ULL);
	ck_assert_uint_eq(rd64(&s, 0x42dd1000), 0x0000000010b13803ULL);
	ck_assert_uint_eq(locate(&s, 0x42c4e000), 43574908);
	close_snap(&s);
}
END_TEST

/* ------------------------------------------------------------ KVM */

static void check_kvm_regs(const struct snapshot *s)
{
	const struct its_regs_raw *r = &s->regs.its[0];

	/* kvm-virt-2level.registers.json */
	ck_assert_uint_eq(s->regs.nr_its, 1);
	ck_assert_uint_eq(r->ctlr, 0x80000001);
	ck_assert_uint_eq(r->iidr, 0x4b00043b);
	ck_assert_uint_eq(r->cbaser, 0xb80000004229040fULL);
	ck_assert_uint_eq(r->cwriter, 0x700);
	ck_assert_uint_eq(r->creadr, 0x700);
	ck_assert_uint_eq(r->baser[0], 0xf9070000422a0600ULL);
	ck_assert_uint_eq(r->baser[1], 0xbc070000422b0600ULL);
	for (int i = 2; i < 8; i++)
		ck_assert_uint_eq(r->baser[i], 0);
	ck_assert_uint_eq(s->regs.nr_rd, 2);
	ck_assert_uint_eq(s->regs.rd[0].propbaser, 0x422c078f);
	ck_assert_uint_eq(s->regs.rd[0].pendbaser, 0x422d0780);
	ck_assert_uint_eq(s->regs.rd[1].propbaser, 0x422c078f);
	ck_assert_uint_eq(s->regs.rd[1].pendbaser, 0x422e0780);
	ck_assert_int_eq(s->nr_vcpus, 2);
}

static void check_kvm(const struct snapshot *s)
{
	check_kvm_regs(s);
	/* kvm-virt-2level.expected.json: KVM ABI entries */
	ck_assert_uint_eq(rd64(s, 0x422a0000) >> 63, 1);
	ck_assert_uint_eq(rd64(s, 0x41170040), 0x80100000082b5641ULL);
	ck_assert_uint_eq(rd64(s, 0x41170080), 0x80100000082b5602ULL);
	ck_assert_uint_eq(rd64(s, 0x415ab200), 0x0001000020100001ULL);
	ck_assert_uint_eq(rd64(s, 0x415ab210), 0x0000000020120001ULL);
	ck_assert_uint_eq(rd64(s, 0x422b0000), 0x8000000000000000ULL);
	ck_assert_uint_eq(rd64(s, 0x422b0008), 0x8000000000010001ULL);
}

START_TEST(test_kvm_synthetic)
{
	struct snapshot s;
	const struct migstream_info *mi;
	const struct migstream_ramblock *b;

	open_sample(KVM, 0, NULL, &s);
	mi = migstream_info(&s);
	check_kvm(&s);
	ck_assert_str_eq(s.regs.its[0].source,
			 "stream section 'arm_gicv3_its' (id 11) at offset 585163");
	check_rec(mi, 574133, QEMU_VM_SECTION_FULL, 10, "arm_gicv3", 0, 1);
	b = migstream_find_block(mi, "mach-virt.ram");
	ck_assert_uint_eq(b->used_length, 0x4000000);
	ck_assert_uint_eq(b->pages_data + b->pages_zero, 16384);
	ck_assert_uint_eq(b->pages_absent, 0);
	ck_assert(mi->has_vmdesc);
	close_snap(&s);
}
END_TEST

/* ------------------------------------------------------------ no vmdesc */

/* Without the vmdesc, arm_gicv3 and arm_gicv3_its decode with the fixed
 * layouts, and the other sections are sized by their footers. */
START_TEST(test_no_vmdesc_fixed_layouts)
{
	static const struct {
		const char *name;
		uint64_t eof;
		uint32_t its_sid;
		uint64_t its_off;
	} cases[] = {
		{ QEMU10, 62961483, 10, 62661364 },
		{ QEMU72, 62932328, 11, 62632729 },
		{ KVM, 585473, 11, 585163 },
	};

	for (size_t c = 0; c < 3; c++) {
		struct sb b = { 0 };
		struct snapshot s;
		struct its_err err;
		const struct migstream_info *mi;
		char *p = sample(cases[c].name);
		int rc;

		sb_file(&b, p, 0, cases[c].eof + 1);
		rc = open_bytes(&b, 0, NULL, &s, &err);
		ck_assert_msg(rc == 0, "%s without vmdesc: %s", p, err.msg);
		mi = migstream_info(&s);
		ck_assert(!mi->has_vmdesc);
		ck_assert(mi->complete);
		ck_assert(rec_at(mi, cases[c].its_off)->flags &
			  MIGSTREAM_REC_DECODED);
		ck_assert_uint_eq(rec_at(mi, cases[c].its_off)->size, 128);
		ck_assert_uint_eq(rec_at(mi, cases[c].eof)->type, QEMU_VM_EOF);
		ck_assert(has_warning(mi, "no vmdesc"));
		ck_assert_uint_eq(s.regs.nr_its, 1);
		ck_assert_uint_eq(s.regs.nr_rd, 2);
		ck_assert_int_eq(s.nr_vcpus, 2);
		if (c == 2) {
			check_kvm(&s);
		} else {
			ck_assert_uint_eq(s.regs.its[0].baser[0],
					  0xf907000042590600ULL);
			ck_assert_uint_eq(s.regs.rd[0].pendbaser, 0x425c0780);
			ck_assert_uint_eq(s.regs.rd[1].pendbaser, 0x425d0780);
		}
		if (c == 0) {
			/* footer resync found the same ends as the vmdesc */
			ck_assert(rec_at(mi, 62661492)->flags &
				  MIGSTREAM_REC_SIZE_GUESSED);
			ck_assert_uint_eq(rec_at(mi, 62825202)->size, 136112);
			check_qemu10_tables(&s);
		}
		close_snap(&s);
		sb_free(&b);
		free(p);
	}
}
END_TEST

/* ------------------------------------------------------------ libvirt */

static void libvirt_header(struct sb *b, const char *magic, uint32_t format,
			   bool big_endian, uint32_t data_len)
{
	static const char xml[] =
		"<domain type='kvm'><name>guest</name></domain>\n";
	uint32_t f[5] = { 2, data_len, 1, format, 0 };

	sb_put(b, magic, 16);
	for (int i = 0; i < 5; i++) {
		uint32_t v = big_endian ? __builtin_bswap32(f[i]) : f[i];
		uint8_t x[4] = { v, v >> 8, v >> 16, v >> 24 };

		sb_put(b, x, 4);
	}
	sb_zeros(b, 56);
	sb_put(b, xml, sizeof(xml));
	sb_zeros(b, data_len - sizeof(xml));
}

static void libvirt_image(struct sb *b, const char *magic, uint32_t format,
			  bool big_endian, uint32_t data_len)
{
	char *p = sample(KVM);

	libvirt_header(b, magic, format, big_endian, data_len);
	sb_file(b, p, 0, KVM_SIZE);
	free(p);
}

START_TEST(test_libvirt_raw)
{
	for (int be = 0; be < 2; be++) {
		struct sb b = { 0 };
		struct snapshot s;
		struct its_err err;
		const struct migstream_info *mi;
		const uint64_t base = 92 + 65536;

		libvirt_image(&b, "LibvirtQemudSave", 0, be, 65536);
		ck_assert_int_eq(open_bytes(&b, 0, NULL, &s, &err), 0);
		mi = migstream_info(&s);
		ck_assert_int_eq(s.format, SNAP_FORMAT_LIBVIRT);
		ck_assert_str_eq(s.format_desc,
				 "libvirt save image (raw), QEMU migration stream v3, machine virt-7.2");
		ck_assert(mi->libvirt);
		ck_assert_uint_eq(mi->libvirt_version, 2);
		ck_assert_uint_eq(mi->libvirt_format, 0);
		ck_assert(mi->libvirt_was_running);
		ck_assert_uint_eq(mi->stream_offset, base);
		ck_assert_uint_eq(mi->libvirt_xml_offset, 92);
		check_kvm(&s);
		/* offsets are file offsets */
		check_rec(mi, base + 585163, QEMU_VM_SECTION_FULL, 11,
			  "arm_gicv3_its", 0, 0);
		ck_assert_uint_eq(mi->vmdesc_offset, base + 585474);
		ck_assert_uint_eq(locate(&s, 0x41170040),
				  base + 44609);
		close_snap(&s);
		sb_free(&b);
	}
}
END_TEST

START_TEST(test_libvirt_compressed)
{
	static const char *names[] = { "gzip", "bzip2", "xz", "lzop", "zstd" };

	for (uint32_t f = 1; f <= 5; f++) {
		struct sb b = { 0 };
		struct snapshot s;
		struct its_err err;
		int rc;

		libvirt_image(&b, "LibvirtQemudSave", f, false, 4096);
		rc = open_bytes(&b, 0, NULL, &s, &err);
		check_err(rc, &err, &s, -ENOTSUP, 28, names[f - 1]);
		ck_assert(strstr(err.msg, "not supported: "));
		ck_assert(strstr(err.msg, "uncompressed"));
		ck_assert(strstr(err.msg, "save_image_format = \"raw\""));
		close_snap(&s);
		sb_free(&b);
	}
}
END_TEST

START_TEST(test_libvirt_incomplete)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	int rc;

	libvirt_image(&b, "LibvirtQemudPart", 0, false, 4096);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 0, "incomplete");
	close_snap(&s);
	sb_free(&b);
	/* XML length past the end of the file */
	libvirt_image(&b, "LibvirtQemudSave", 0, false, 4096);
	patch(&b, 20, "\xff\xff\xff\x0f", 4);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 20, "more than the file holds");
	close_snap(&s);
	sb_free(&b);
}
END_TEST

/* ------------------------------------------------------------ bad input */

START_TEST(test_empty_file)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	int rc;

	sb_put(&b, "", 0);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 0, "empty file");
	close_snap(&s);
}
END_TEST

START_TEST(test_bad_magic_and_version)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	char *p = sample(KVM);
	int rc;

	sb_file(&b, p, 0, KVM_SIZE);
	patch(&b, 3, "N", 1);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 0, "not a QEMU migration stream");
	close_snap(&s);

	patch(&b, 3, "M", 1);
	patch_be32(&b, 4, 2);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -ENOTSUP, 4, "stream version 2");
	close_snap(&s);

	patch_be32(&b, 4, 4);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 4, "unsupported stream version 4");
	close_snap(&s);
	sb_free(&b);

	/* a stream written with file:...,offset=4096 */
	sb_zeros(&b, 4096);
	sb_file(&b, p, 0, KVM_SIZE);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 0, "starts at offset 4096");
	close_snap(&s);
	sb_free(&b);
	free(p);
}
END_TEST

/* The first N bytes of the QEMU 10 stream: where the error must point. */
START_TEST(test_truncated)
{
	static const struct {
		uint64_t n, off;
		const char *phrase;
	} cases[] = {
		{ 1, 0, "stream header" },
		{ 6, 0, "stream header" },
		{ 8, 8, "CONFIGURATION" },
		{ 12, 8, "CONFIGURATION" },
		{ 13, 13, "machine type name" },
		{ 21, 13, "machine type name" },
		{ 22, 22, "after the configuration" },
		{ 30, 24, "subsection name" },
		{ 55, 54, "subsection version" },
		{ 60, 58, "target-page-bits" },
		{ 62, 62, "after the configuration" },
		{ 63, 62, "after the configuration" },
		{ 70, 68, "section header" },
		{ 80, 79, "RAM record header" },
		{ 100, 88, "RAMBlock name in the block list" },
		{ 105, 101, "RAMBlock length" },
		{ 245, 243, "footer of section 'ram' (id 1)" },
		{ 260, 253, "RAM record header" },
		{ 300, 275, "data of a page record" },
		{ 62650313, 62650311, "COMMAND" },
		{ 62661400, 62661391, "arm_gicv3_its" },
		{ 62961483, 62961483, "no QEMU_VM_EOF" },
	};
	char *p = sample(QEMU10);
	struct sb full = { 0 };

	sb_file(&full, p, 0, 62961484 + 200);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sb b = { .p = full.p, .n = cases[i].n };
		struct snapshot s;
		struct its_err err;
		int rc = open_bytes(&b, i & 1 ? MIGSTREAM_PREAD : 0, NULL, &s,
				    &err);

		check_err(rc, &err, &s, -EINVAL, cases[i].off, cases[i].phrase);
		ck_assert_msg(strstr(err.msg, "unexpected end of file"),
			      "N=%llu: %s", (unsigned long long)cases[i].n,
			      err.msg);
		close_snap(&s);
	}
	/* cut inside the vmdesc: its length runs past the end */
	{
		struct sb b = { .p = full.p, .n = 62961484 + 100 };
		struct snapshot s;
		struct its_err err;
		int rc = open_bytes(&b, 0, NULL, &s, &err);

		check_err(rc, &err, &s, -EINVAL, 62961484, "truncated");
		close_snap(&s);
	}
	sb_free(&full);
	free(p);
}
END_TEST

START_TEST(test_bad_footers)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	char *p = sample(KVM);
	int rc;

	sb_file(&b, p, 0, KVM_SIZE);
	/* ITS section at 585163: 27-byte header, 96 bytes, footer at 585286 */
	ck_assert_uint_eq(b.p[585286], 0x7e);
	b.p[585286] = 0x7f;
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 585286,
		  "'arm_gicv3_its' (id 11) not followed by its footer");
	close_snap(&s);
	b.p[585286] = 0x7e;
	patch_be32(&b, 585287, 12);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 585286, "footer");
	close_snap(&s);
	patch_be32(&b, 585287, 11);
	/* the RAM START's footer at 242 */
	ck_assert_uint_eq(b.p[242], 0x7e);
	b.p[242] = 0x00;
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 242,
		  "section 'ram' (id 2) not followed by its footer");
	close_snap(&s);
	b.p[242] = 0x7e;
	/* the arm_gicv3 footer (after 11,030 - 5 bytes) */
	ck_assert_uint_eq(b.p[574133 + 11025], 0x7e);
	b.p[574133 + 11025] = 0;
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 574133 + 11025, "arm_gicv3");
	close_snap(&s);
	/* the same without vmdesc: the fixed layout finds no footer */
	b.n = 585474;
	rc = open_bytes(&b, 0, NULL, &s, &err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert(strstr(err.msg, "arm_gicv3"));
	close_snap(&s);
	sb_free(&b);
	free(p);
}
END_TEST

START_TEST(test_section_versions)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	char *p = sample(KVM);
	int rc;

	sb_file(&b, p, 0, KVM_SIZE);
	/* arm_gicv3_its header: 04 sid 0d "arm_gicv3_its" inst version */
	patch_be32(&b, 585163 + 1 + 4 + 1 + 13 + 4, 1);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -ENOTSUP, 585163,
		  "section 'arm_gicv3_its' (id 11) version 1 (only version 0");
	close_snap(&s);
	patch_be32(&b, 585163 + 1 + 4 + 1 + 13 + 4, 0);
	patch_be32(&b, 574133 + 1 + 4 + 1 + 9 + 4, 3);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -ENOTSUP, 574133,
		  "section 'arm_gicv3' (id 10) version 3 (only version 1");
	close_snap(&s);
	patch_be32(&b, 574133 + 1 + 4 + 1 + 9 + 4, 1);
	/* ram version 5 */
	patch_be32(&b, 61 + 1 + 4 + 1 + 3 + 4, 5);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -ENOTSUP, 61, "version 5");
	close_snap(&s);
	sb_free(&b);
	free(p);
}
END_TEST

/* Rebuild the KVM stream with its vmdesc JSON edited. */
static void kvm_with_vmdesc(struct sb *b, const char *from, const char *to)
{
	char *p = sample(KVM);
	struct sb j = { 0 };
	char *hit;

	sb_file(b, p, 0, 585474);
	sb_file(&j, p, 585479, KVM_SIZE - 585479);
	sb_u8(&j, 0);
	hit = strstr((char *)j.p, from);
	ck_assert_msg(hit, "vmdesc lacks '%s'", from);
	sb_u8(b, 0x06);
	sb_be(b, j.n - 1 - strlen(from) + strlen(to), 4);
	sb_put(b, j.p, (size_t)(hit - (char *)j.p));
	sb_put(b, to, strlen(to));
	sb_put(b, hit + strlen(from), strlen(hit + strlen(from)));
	sb_free(&j);
	free(p);
}

START_TEST(test_vmdesc_bad)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	const struct migstream_info *mi;
	char *p = sample(KVM);
	int rc;

	/* not JSON */
	sb_file(&b, p, 0, KVM_SIZE);
	b.p[585479 + 1] = '#';
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 585474, "vmdesc JSON at offset 585479 unreadable");
	close_snap(&s);
	sb_free(&b);

	/* JSON, but no devices array */
	kvm_with_vmdesc(&b, "\"devices\"", "\"devizes\"");
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 585474, "\"devices\" array");
	close_snap(&s);
	sb_free(&b);

	/* lying about the ITS section: 9 BASERs */
	kvm_with_vmdesc(&b, "\"name\":\"baser\",\"array_len\":8",
			"\"name\":\"baser\",\"array_len\":9");
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 585163,
		  "vmdesc describes section 'arm_gicv3_its' (id 11) as 104 bytes");
	close_snap(&s);
	sb_free(&b);

	/* lying about arm_gicv3 */
	kvm_with_vmdesc(&b, "{\"name\":\"gicd_ctlr\",\"type\":\"uint32\",\"size\":4}",
			"{\"name\":\"gicd_ctlr\",\"type\":\"uint32\",\"size\":8}");
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 574133 + 11025 + 4,
		  "does not match the stream");
	close_snap(&s);
	sb_free(&b);

	/* a negative size */
	kvm_with_vmdesc(&b, "\"cpu_ticks_offset\",\"type\":\"int64\",\"size\":8",
			"\"cpu_ticks_offset\",\"type\":\"int64\",\"size\":-8");
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 585291, "no valid \"size\"");
	close_snap(&s);
	sb_free(&b);

	/* lying about a section we only skip: the footer finds its end */
	kvm_with_vmdesc(&b, "\"cpu_ticks_offset\",\"type\":\"int64\",\"size\":8",
			"\"cpu_ticks_offset\",\"type\":\"int64\",\"size\":9");
	ck_assert_int_eq(open_bytes(&b, 0, NULL, &s, &err), 0);
	mi = migstream_info(&s);
	ck_assert(has_warning(mi, "section 'timer' (id 0) does not match"));
	ck_assert(rec_at(mi, 585291)->flags & MIGSTREAM_REC_SIZE_GUESSED);
	ck_assert_uint_eq(rec_at(mi, 585291)->size, 48);
	check_kvm(&s);
	close_snap(&s);
	sb_free(&b);

	/* a section the vmdesc does not describe */
	kvm_with_vmdesc(&b, "\"name\":\"timer\"", "\"name\":\"tymer\"");
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 585291, "no entry in the vmdesc");
	close_snap(&s);
	sb_free(&b);

	/* page_size disagreeing with target-page-bits */
	kvm_with_vmdesc(&b, "\"page_size\":4096", "\"page_size\":8192");
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, 585474, "page_size 8192");
	close_snap(&s);
	sb_free(&b);

	/* garbage after the stream */
	sb_file(&b, p, 0, KVM_SIZE);
	sb_put(&b, "junk", 4);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, KVM_SIZE, "after the vmdesc");
	close_snap(&s);
	sb_free(&b);

	/* zero padding after the stream is fine (O_DIRECT writers) */
	sb_file(&b, p, 0, KVM_SIZE);
	sb_zeros(&b, 4096);
	ck_assert_int_eq(open_bytes(&b, 0, NULL, &s, &err), 0);
	ck_assert(migstream_info(&s)->has_vmdesc);
	close_snap(&s);
	sb_free(&b);
	free(p);
}
END_TEST

/* ------------------------------------------------------------ synthetic */

/* Synthetic streams: a QEMU-style header, a 'ram' section (id 2) built
 * here, and the device sections, EOF and vmdesc of the KVM sample. */
static void syn_head(struct sb *b, const char *machine, const char *cap)
{
	sb_put(b, "QEVM\0\0\0\3", 8);
	sb_u8(b, 0x07);
	sb_be(b, strlen(machine), 4);
	sb_put(b, machine, strlen(machine));
	sb_u8(b, 0x05);
	sb_str(b, "configuration/target-page-bits");
	sb_be(b, 1, 4);
	sb_be(b, 12, 4);
	if (cap) {
		sb_u8(b, 0x05);
		sb_str(b, "configuration/capabilities");
		sb_be(b, 1, 4);
		sb_be(b, 1, 4);
		sb_str(b, cap);
	}
}

static void syn_footer(struct sb *b)
{
	sb_u8(b, 0x7e);
	sb_be(b, 2, 4);
}

static void syn_eos(struct sb *b)
{
	sb_be(b, 0x10, 8);
	syn_footer(b);
}

struct syn_block {
	const char *name;
	uint64_t len;
};

static void syn_ram_start(struct sb *b, const struct syn_block *bl, size_t n)
{
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += bl[i].len;
	sb_u8(b, 0x01);
	sb_be(b, 2, 4);
	sb_str(b, "ram");
	sb_be(b, 0, 4);
	sb_be(b, 4, 4);
	sb_be(b, total | 0x04, 8);
	for (size_t i = 0; i < n; i++) {
		sb_str(b, bl[i].name);
		sb_be(b, bl[i].len, 8);
	}
	syn_eos(b);
}

static void syn_part(struct sb *b, uint8_t type)
{
	sb_u8(b, type);
	sb_be(b, 2, 4);
}

/* A page record; name NULL sets CONTINUE. */
static void syn_page(struct sb *b, uint64_t off, const char *name,
		     int fill_or_data, bool zero)
{
	uint8_t page[4096];

	sb_be(b, off | (zero ? 0x02 : 0x08) | (name ? 0 : 0x20), 8);
	if (name)
		sb_str(b, name);
	if (zero) {
		sb_u8(b, (uint8_t)fill_or_data);
	} else {
		memset(page, fill_or_data, sizeof(page));
		sb_put(b, page, sizeof(page));
	}
}

static void syn_tail(struct sb *b)
{
	char *p = sample(KVM);

	/* arm_gicv3 .. vmdesc of the KVM sample */
	sb_file(b, p, 574133, KVM_SIZE - 574133);
	free(p);
}

static const struct syn_block one_block[] = {
	{ "mach-virt.ram", 32 * 4096 },
	{ "virt.flash0", 4 * 4096 },
};

/* Live-stream shape: pages re-sent in later sections; last copy wins. */
START_TEST(test_resent_pages)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	const struct migstream_info *mi;
	const struct migstream_ramblock *bl;
	uint8_t buf[4096], want[4096];
	uint64_t data5_off;
	unsigned flags = (unsigned)_i;

	syn_head(&b, "virt-7.2", NULL);
	syn_ram_start(&b, one_block, 2);
	syn_part(&b, 0x02);
	for (unsigned i = 0; i < 16; i++)
		syn_page(&b, i * 4096ULL, i ? NULL : "mach-virt.ram", 0x10 + i,
			 false);
	syn_page(&b, 0, "virt.flash0", 0, true);
	syn_eos(&b);
	syn_part(&b, 0x02);
	/* CONTINUE refers to the last block named anywhere: virt.flash0 */
	syn_page(&b, 4096, NULL, 0, true);
	syn_page(&b, 3 * 4096, "mach-virt.ram", 0, true);
	data5_off = b.n + 8;	/* CONTINUE: no name */
	syn_page(&b, 5 * 4096, NULL, 0xaa, false);
	syn_page(&b, 7 * 4096, NULL, 0xb1, false);
	syn_page(&b, 7 * 4096, NULL, 0xb2, false);
	syn_page(&b, 20 * 4096, NULL, 0x55, true);
	syn_eos(&b);
	sb_u8(&b, 0x08);	/* SWITCHOVER_START */
	sb_be(&b, 11, 2);
	sb_be(&b, 0, 2);
	syn_part(&b, 0x03);
	syn_page(&b, 8 * 4096, NULL, 0, true);
	syn_eos(&b);
	syn_tail(&b);

	ck_assert_int_eq(open_bytes(&b, flags, NULL, &s, &err), 0);
	mi = migstream_info(&s);
	bl = migstream_find_block(mi, "mach-virt.ram");
	ck_assert_uint_eq(bl->records_data, 16 + 3);
	ck_assert_uint_eq(bl->records_zero, 3);
	/* pages 0..15 data, then 3 and 8 zero, 20 zero (fill 0x55) */
	ck_assert_uint_eq(bl->pages_data, 14);
	ck_assert_uint_eq(bl->pages_zero, 3);
	ck_assert_uint_eq(bl->pages_absent, 32 - 17);
	ck_assert_uint_eq(bl->pages_resent, 4);	/* 3, 5, 7, 8 */
	bl = migstream_find_block(mi, "virt.flash0");
	ck_assert_uint_eq(bl->pages_zero, 2);
	ck_assert_uint_eq(bl->pages_absent, 2);
	ck_assert_uint_eq(mi->ram_records_data, 19);
	ck_assert_uint_eq(mi->ram_records_zero, 5);
	ck_assert(has_warning(mi, "non-zero fill byte"));
	ck_assert(has_warning(mi, "15 of 32 pages never sent"));

	ck_assert_int_eq(gmem_read(s.mem, 0x40000000 + 3 * 4096, buf, 4096,
				   0, &err), 0);
	memset(want, 0, sizeof(want));
	ck_assert_mem_eq(buf, want, 4096);
	ck_assert_int_eq(gmem_read(s.mem, 0x40000000 + 5 * 4096, buf, 4096,
				   0, &err), 0);
	memset(want, 0xaa, sizeof(want));
	ck_assert_mem_eq(buf, want, 4096);
	ck_assert_uint_eq(locate(&s, 0x40000000 + 5 * 4096 + 1),
			  data5_off + 1);
	ck_assert_int_eq(gmem_read(s.mem, 0x40000000 + 7 * 4096, buf, 4096,
				   0, &err), 0);
	memset(want, 0xb2, sizeof(want));
	ck_assert_mem_eq(buf, want, 4096);
	ck_assert_int_eq(gmem_read(s.mem, 0x40000000 + 9 * 4096, buf, 16, 0,
				   &err), 0);
	memset(want, 0x19, sizeof(want));
	ck_assert_mem_eq(buf, want, 16);
	ck_assert_int_eq(gmem_read(s.mem, 0x40000000 + 20 * 4096, buf, 16, 0,
				   &err), 0);
	memset(want, 0x55, sizeof(want));
	ck_assert_mem_eq(buf, want, 16);
	/* never sent: absent, not zeros */
	ck_assert_int_eq(gmem_read(s.mem, 0x40000000 + 16 * 4096, buf, 8, 0,
				   &err), -ENODATA);
	ck_assert_int_eq(gmem_read(s.mem, 0x40000000 + 16 * 4096, buf, 8,
				   GMEM_ZERO_ABSENT, &err), 0);
	ck_assert_uint_eq(s.regs.its[0].iidr, 0x4b00043b);
	close_snap(&s);
	sb_free(&b);
}
END_TEST

static const struct syn_block sbsa_blocks[] = {
	{ "sbsa-ref.ram", 32 * 4096 },
	{ "sbsa-ref.flash0", 4 * 4096 },
};

/* A machine this reader has no table for: RAM it cannot place is refused
 * (every table read would fail, and the checker would blame the tables),
 * unless --ram-base places it; the virt board's RAMBlock name places it as
 * on machine virt. */
START_TEST(test_unknown_machine_and_ram_base)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	const struct migstream_info *mi;
	struct snap_ram_base rb[] = { { "sbsa-ref.ram", 0x80000000 } };
	struct snap_ram_base bad[] = { { "pc.ram", 0 } };
	struct snap_ram_base virt[] = { { "mach-virt.ram", 0x100000000ULL } };
	struct snap_open_opts o = { .ram_bases = rb, .nr_ram_bases = 1 },
			      ob = { .ram_bases = bad, .nr_ram_bases = 1 },
			      ov = { .ram_bases = virt, .nr_ram_bases = 1 };
	int rc;

	syn_head(&b, "sbsa-ref", NULL);
	syn_ram_start(&b, sbsa_blocks, 2);
	syn_part(&b, 0x03);
	syn_page(&b, 0, "sbsa-ref.ram", 0x42, false);
	syn_eos(&b);
	syn_tail(&b);

	/* no table for this machine: refused, naming the block to place, at
	 * its entry in the block list (header 8, configuration 13 + 40,
	 * 'ram' START 17 + MEM_SIZE 8) */
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_line(rc, &err, &s, -EINVAL, 0x56,
		   "guest RAM placement unknown: no RAMBlock has a known guest-physical address for machine 'sbsa-ref' (the largest, 'sbsa-ref.ram', holds 0x20000 bytes): give --ram-base sbsa-ref.ram=GPA");
	close_snap(&s);

	/* --ram-base places it */
	ck_assert_int_eq(open_bytes(&b, 0, &o, &s, &err), 0);
	mi = migstream_info(&s);
	ck_assert_str_eq(migstream_find_block(mi, "sbsa-ref.ram")->gpa_source,
			 "--ram-base");
	ck_assert(!migstream_find_block(mi, "sbsa-ref.flash0")->gpa_known);
	ck_assert_str_eq(migstream_find_block(mi, "sbsa-ref.flash0")->role,
			 "unknown");
	ck_assert(has_warning(mi, "--ram-base sbsa-ref.flash0=GPA"));
	ck_assert_uint_eq(gmem_nr_regions(s.mem), 1);
	ck_assert_uint_eq(rd64(&s, 0x80000000), 0x4242424242424242ULL);
	close_snap(&s);

	rc = open_bytes(&b, 0, &ob, &s, &err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert(strstr(err.msg, "--ram-base pc.ram: no RAMBlock"));
	ck_assert(strstr(err.msg, "'sbsa-ref.ram'"));
	close_snap(&s);
	sb_free(&b);

	/* an unknown type name whose RAM is the virt board's */
	syn_head(&b, "virt-custom", NULL);
	syn_ram_start(&b, one_block, 2);
	syn_part(&b, 0x03);
	syn_page(&b, 0, "mach-virt.ram", 0x42, false);
	syn_eos(&b);
	syn_tail(&b);
	ck_assert_int_eq(open_bytes(&b, 0, NULL, &s, &err), 0);
	close_snap(&s);
	patch(&b, 13, "vjrt", 4);
	ck_assert_int_eq(open_bytes(&b, 0, NULL, &s, &err), 0);
	mi = migstream_info(&s);
	ck_assert_str_eq(mi->machine, "vjrt-custom");
	ck_assert_str_eq(migstream_find_block(mi, "mach-virt.ram")->gpa_source,
			 "machine virt");
	ck_assert(has_warning(mi, "machine 'vjrt-custom' is not a known type, but RAMBlock 'mach-virt.ram' is the virt board's: placed as on machine virt"));
	ck_assert_uint_eq(rd64(&s, 0x40000000), 0x4242424242424242ULL);
	close_snap(&s);
	sb_free(&b);

	/* overriding the virt table: the ITS tables move with the block */
	open_sample(KVM, 0, &ov, &s);
	ck_assert_uint_eq(rd64(&s, 0x100000000ULL + 0x01170040),
			  0x80100000082b5641ULL);
	{
		uint8_t v[8];

		ck_assert_int_eq(gmem_read(s.mem, 0x41170040, v, 8, 0, &err),
				 -EFAULT);
	}
	close_snap(&s);
}
END_TEST

/* Every RAM record kind a file must not hold, and malformed page records. */
START_TEST(test_ram_records_refused)
{
	static const struct {
		uint64_t flags;
		int code;
		const char *phrase;
	} cases[] = {
		{ 0x040, -ENOTSUP, "XBZRLE" },
		{ 0x060, -ENOTSUP, "XBZRLE" },
		{ 0x100, -ENOTSUP, "legacy compressed page" },
		{ 0x080, -ENOTSUP, "RDMA" },
		{ 0x200, -ENOTSUP, "MULTIFD_FLUSH" },
		{ 0x001, -ENOTSUP, "RAM_SAVE_FLAG_FULL" },
		{ 0x00a, -EINVAL, "flags 0x00a" },
		{ 0x030, -EINVAL, "flags 0x030" },
		{ 0x400, -EINVAL, "flags 0x400" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sb b = { 0 };
		struct snapshot s;
		struct its_err err;
		uint64_t at;
		int rc;

		syn_head(&b, "virt-7.2", NULL);
		syn_ram_start(&b, one_block, 2);
		syn_part(&b, 0x02);
		syn_page(&b, 0, "mach-virt.ram", 1, false);
		at = b.n;
		sb_be(&b, 4096 | cases[i].flags, 8);
		sb_zeros(&b, 64);
		rc = open_bytes(&b, 0, NULL, &s, &err);
		check_err(rc, &err, &s, cases[i].code, at, cases[i].phrase);
		if (cases[i].code == -ENOTSUP)
			ck_assert(!strncmp(err.msg, "not supported: ", 15));
		close_snap(&s);
		sb_free(&b);
	}
}
END_TEST

START_TEST(test_ram_malformed)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	uint64_t at;
	int rc;

	/* unknown block */
	syn_head(&b, "virt-7.2", NULL);
	syn_ram_start(&b, one_block, 2);
	syn_part(&b, 0x02);
	at = b.n;
	syn_page(&b, 0, "pc.ram", 1, false);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, at, "unknown RAMBlock 'pc.ram'");
	close_snap(&s);
	sb_free(&b);

	/* page offset past the block */
	syn_head(&b, "virt-7.2", NULL);
	syn_ram_start(&b, one_block, 2);
	syn_part(&b, 0x02);
	at = b.n;
	syn_page(&b, 4 * 4096, "virt.flash0", 1, true);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, at,
		  "page offset 0x4000 beyond RAMBlock 'virt.flash0' (0x4000 bytes)");
	close_snap(&s);
	sb_free(&b);

	/* CONTINUE first */
	syn_head(&b, "virt-7.2", NULL);
	syn_ram_start(&b, one_block, 2);
	syn_part(&b, 0x02);
	at = b.n;
	syn_page(&b, 0, NULL, 1, true);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, at, "CONTINUE but no current block");
	close_snap(&s);
	sb_free(&b);

	/* block list that does not add up */
	syn_head(&b, "virt-7.2", NULL);
	at = b.n;
	syn_ram_start(&b, one_block, 2);
	patch(&b, at + 17 + 7, "\x04", 1);	/* total 0x...04: too small */
	patch(&b, at + 17 + 6, "\x10", 1);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert(strstr(err.msg, "RAM block list inconsistent"));
	close_snap(&s);
	sb_free(&b);

	/* the same block twice */
	{
		static const struct syn_block twice[] = {
			{ "virt.flash0", 4096 }, { "virt.flash0", 4096 },
		};

		syn_head(&b, "virt-7.2", NULL);
		syn_ram_start(&b, twice, 2);
		rc = open_bytes(&b, 0, NULL, &s, &err);
		ck_assert_int_eq(rc, -EINVAL);
		ck_assert(strstr(err.msg, "listed twice"));
		close_snap(&s);
		sb_free(&b);
	}

	/* a section id nobody declared */
	syn_head(&b, "virt-7.2", NULL);
	syn_ram_start(&b, one_block, 2);
	at = b.n;
	sb_u8(&b, 0x02);
	sb_be(&b, 7, 4);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, at, "section id 7");
	close_snap(&s);
	sb_free(&b);

	/* an unknown record type */
	syn_head(&b, "virt-7.2", NULL);
	syn_ram_start(&b, one_block, 2);
	at = b.n;
	sb_u8(&b, 0x09);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_err(rc, &err, &s, -EINVAL, at, "unknown record type 0x09");
	close_snap(&s);
	sb_free(&b);
}
END_TEST

START_TEST(test_commands_and_iterables)
{
	static const struct {
		uint16_t cmd, len;
		uint64_t payload;
		int code;
		const char *phrase;
	} cases[] = {
		{ 2, 4, 0, -ENOTSUP, "command 2 (PING)" },
		{ 7, 4, 0, -ENOTSUP, "command 7 (PACKAGED)" },
		{ 1, 0, 0, -ENOTSUP, "OPEN_RETURN_PATH" },
		{ 3, 16, 0x201000, -ENOTSUP, "postcopy huge-page block list" },
		{ 3, 16, 0x200000, -ENOTSUP, "postcopy huge-page block list" },
		{ 3, 8, 0, -EINVAL, "POSTCOPY_ADVISE with 8" },
		{ 11, 4, 0, -EINVAL, "SWITCHOVER_START with 4" },
		{ 0, 0, 0, -EINVAL, "command 0" },
		{ 99, 0, 0, -EINVAL, "unknown command 99" },
		{ 3, 0, 0, 0, NULL },
		{ 3, 16, 0x1000, 0, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sb b = { 0 };
		struct snapshot s;
		struct its_err err;
		uint64_t at;
		int rc;

		syn_head(&b, "virt-7.2", NULL);
		at = b.n;
		sb_u8(&b, 0x08);
		sb_be(&b, cases[i].cmd, 2);
		sb_be(&b, cases[i].len, 2);
		if (cases[i].len == 16) {
			sb_be(&b, cases[i].payload, 8);
			sb_be(&b, 4096, 8);
		} else {
			sb_zeros(&b, cases[i].len);
		}
		syn_ram_start(&b, one_block, 2);
		syn_part(&b, 0x03);
		syn_eos(&b);
		syn_tail(&b);
		rc = open_bytes(&b, 0, NULL, &s, &err);
		if (cases[i].code)
			check_err(rc, &err, &s, cases[i].code, at,
				  cases[i].phrase);
		else
			ck_assert_msg(rc == 0, "command %u: %s", cases[i].cmd,
				      err.msg);
		close_snap(&s);
		sb_free(&b);
	}

	/* iterable sections other than ram */
	{
		struct sb b = { 0 };
		struct snapshot s;
		struct its_err err;
		uint64_t at;
		int rc;

		syn_head(&b, "virt-7.2", NULL);
		syn_ram_start(&b, one_block, 2);
		at = b.n;
		sb_u8(&b, 0x01);
		sb_be(&b, 3, 4);
		sb_str(&b, "block");
		sb_be(&b, 0, 4);
		sb_be(&b, 1, 4);
		sb_zeros(&b, 16);
		rc = open_bytes(&b, 0, NULL, &s, &err);
		check_err(rc, &err, &s, -ENOTSUP, at,
			  "iterable section 'block' (id 3");
		close_snap(&s);
		sb_free(&b);
	}
}
END_TEST

/* mapped-ram (spec §11): pages at fixed offsets, indexed from the bitmap */
static void syn_mapped_ram(struct sb *b, uint32_t version, uint64_t align,
			   uint64_t *pages_off, uint64_t *inject_at)
{
	static const struct syn_block bl[] = {
		{ "mach-virt.ram", 16 * 4096 },
		{ "virt.flash0", 4 * 4096 },
	};
	/* host-endian (little) unsigned long bitmaps: mach-virt.ram pages
	 * 0, 1, 5 and 15; virt.flash0 page 2 */
	static const uint8_t bitmap[2][8] = {
		{ 0x23, 0x80, 0, 0, 0, 0, 0, 0 },
		{ 0x04, 0, 0, 0, 0, 0, 0, 0 },
	};
	uint64_t total = 20 * 4096;

	syn_head(b, "virt-10.0", "mapped-ram");
	sb_u8(b, 0x01);
	sb_be(b, 2, 4);
	sb_str(b, "ram");
	sb_be(b, 0, 4);
	sb_be(b, 4, 4);
	sb_be(b, total | 0x04, 8);
	for (size_t i = 0; i < 2; i++) {
		uint64_t bm, pages, npages = bl[i].len / 4096;

		sb_str(b, bl[i].name);
		sb_be(b, bl[i].len, 8);
		bm = b->n + 28;
		pages = (bm + 8 + align - 1) / align * align;
		pages_off[i] = pages;
		sb_be(b, version, 4);
		sb_be(b, 4096, 8);
		sb_be(b, bm, 8);
		sb_be(b, pages, 8);
		sb_put(b, bitmap[i], 8);
		sb_zeros(b, pages - b->n);
		for (uint64_t k = 0; k < npages; k++) {
			uint8_t page[4096];

			/* clear bits: stale bytes a reader must ignore */
			memset(page, 0x60 + (int)k, sizeof(page));
			sb_put(b, page, sizeof(page));
		}
	}
	syn_eos(b);
	if (inject_at) {
		syn_part(b, 0x02);
		*inject_at = b->n;
		syn_page(b, 0, "mach-virt.ram", 1, true);
		syn_eos(b);
	}
	syn_part(b, 0x03);
	syn_eos(b);
	syn_tail(b);
}

START_TEST(test_mapped_ram)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	const struct migstream_info *mi;
	const struct migstream_ramblock *bl;
	uint64_t pages[2], run;
	uint8_t buf[16], want[16];
	int rc;

	syn_mapped_ram(&b, 1, 0x100000, pages, NULL);
	ck_assert_int_eq(open_bytes(&b, 0, NULL, &s, &err), 0);
	mi = migstream_info(&s);
	ck_assert(mi->mapped_ram);
	ck_assert_uint_eq(mi->nr_capabilities, 1);
	ck_assert_str_eq(mi->capabilities[0], "mapped-ram");
	ck_assert_str_eq(s.format_desc,
			 "QEMU migration stream v3, machine virt-10.0, mapped-ram");
	bl = migstream_find_block(mi, "mach-virt.ram");
	ck_assert(bl->mapped_ram);
	ck_assert_uint_eq(bl->pages_offset, pages[0]);
	ck_assert_uint_eq(bl->pages_offset, 0x100000);
	ck_assert_uint_eq(bl->pages_data, 4);
	ck_assert_uint_eq(bl->pages_zero, 12);
	ck_assert_uint_eq(bl->pages_absent, 0);
	bl = migstream_find_block(mi, "virt.flash0");
	ck_assert_uint_eq(bl->pages_data, 1);
	ck_assert_uint_eq(bl->pages_zero, 3);
	ck_assert_uint_eq(locate(&s, 0x40000000 + 5 * 4096 + 8),
			  pages[0] + 5 * 4096 + 8);
	ck_assert_int_eq(gmem_read(s.mem, 0x40000000 + 5 * 4096, buf, 16, 0,
				   &err), 0);
	memset(want, 0x65, sizeof(want));
	ck_assert_mem_eq(buf, want, 16);
	/* page 2's bit is clear: zero, whatever the page area holds */
	ck_assert_int_eq(gmem_span(s.mem, 0x40000000 + 2 * 4096, 4096, &run),
			 GMEM_ZERO);
	ck_assert_uint_eq(rd64(&s, 0x40000000 + 2 * 4096), 0);
	ck_assert_uint_eq(s.regs.its[0].iidr, 0x4b00043b);
	ck_assert(mi->complete);
	close_snap(&s);
	sb_free(&b);

	/* header version 2 */
	syn_mapped_ram(&b, 2, 0x100000, pages, NULL);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert(strstr(err.msg, "mapped-ram header for 'mach-virt.ram' invalid: version 2"));
	close_snap(&s);
	sb_free(&b);

	/* pages_offset not page-aligned */
	syn_mapped_ram(&b, 1, 0x100, pages, NULL);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert(strstr(err.msg, "not page-aligned"));
	close_snap(&s);
	sb_free(&b);

	/* a page record in a mapped-ram stream */
	{
		uint64_t at;

		syn_mapped_ram(&b, 1, 0x100000, pages, &at);
		rc = open_bytes(&b, 0, NULL, &s, &err);
		check_err(rc, &err, &s, -EINVAL, at, "mapped-ram stream");
		close_snap(&s);
	}
	sb_free(&b);
}
END_TEST

/* libvirt "sparse" (format 6): a mapped-ram stream behind the header,
 * whose offsets are absolute file offsets */
START_TEST(test_libvirt_sparse)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	const struct migstream_info *mi;
	uint64_t pages[2];

	libvirt_header(&b, "LibvirtQemudSave", 6, false, 8192);
	syn_mapped_ram(&b, 1, 0x100000, pages, NULL);
	ck_assert_int_eq(open_bytes(&b, 0, NULL, &s, &err), 0);
	mi = migstream_info(&s);
	ck_assert_int_eq(s.format, SNAP_FORMAT_LIBVIRT);
	ck_assert_str_eq(s.format_desc,
			 "libvirt save image (sparse), QEMU migration stream v3, machine virt-10.0, mapped-ram");
	ck_assert_uint_eq(mi->stream_offset, 92 + 8192);
	ck_assert_uint_eq(pages[0], 0x100000);
	ck_assert_uint_eq(locate(&s, 0x40000000 + 15 * 4096),
			  pages[0] + 15 * 4096);
	ck_assert_uint_eq(migstream_find_block(mi, "mach-virt.ram")->pages_data,
			  4);
	close_snap(&s);
	sb_free(&b);
}
END_TEST

/* x-ignore-shared: every block-list entry carries mr_addr; a shared block
 * is never sent, so its pages are absent (and cost no index) */
START_TEST(test_x_ignore_shared)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	const struct migstream_info *mi;
	const struct migstream_ramblock *bl;
	const struct gmem_region *r;
	uint8_t v[8];

	syn_head(&b, "virt-9.2", "x-ignore-shared");
	sb_u8(&b, 0x01);
	sb_be(&b, 2, 4);
	sb_str(&b, "ram");
	sb_be(&b, 0, 4);
	sb_be(&b, 4, 4);
	sb_be(&b, (64 * 4096 + 4 * 4096) | 0x04, 8);
	sb_str(&b, "mach-virt.ram");
	sb_be(&b, 64 * 4096, 8);
	sb_be(&b, 0x40000000, 8);
	sb_str(&b, "virt.flash0");
	sb_be(&b, 4 * 4096, 8);
	sb_be(&b, 0, 8);
	syn_eos(&b);
	syn_part(&b, 0x03);
	syn_page(&b, 0, "virt.flash0", 0, true);
	syn_eos(&b);
	syn_tail(&b);
	ck_assert_int_eq(open_bytes(&b, 0, NULL, &s, &err), 0);
	mi = migstream_info(&s);
	ck_assert_uint_eq(mi->nr_capabilities, 1);
	ck_assert_str_eq(mi->capabilities[0], "x-ignore-shared");
	bl = migstream_find_block(mi, "mach-virt.ram");
	ck_assert(bl->has_mr_addr);
	ck_assert_uint_eq(bl->mr_addr, 0x40000000);
	ck_assert_uint_eq(bl->pages_absent, 64);
	ck_assert(has_warning(mi, "64 of 64 pages never sent"));
	r = gmem_region_at(s.mem, 0);
	ck_assert_int_eq(r->type, GMEM_REGION_EXTENT);
	ck_assert_uint_eq(r->file_len, 0);
	ck_assert_int_eq(gmem_read(s.mem, 0x40000000, v, 8, 0, &err), -ENODATA);
	ck_assert_uint_eq(migstream_find_block(mi, "virt.flash0")->pages_zero,
			  1);
	close_snap(&s);
	sb_free(&b);
}
END_TEST

/* two ITS instances (no vmdesc: both decode with the fixed layout) */
START_TEST(test_two_its)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	char *p = sample(KVM);
	const uint64_t its = 585163, its_len = 128;

	sb_file(&b, p, 0, its + its_len);
	sb_file(&b, p, its, its_len);		/* a copy of the section */
	patch_be32(&b, its + its_len + 1, 31);	/* section id */
	patch_be32(&b, its + its_len + 19, 1);	/* instance */
	patch_be32(&b, its + its_len + 27, 0x1);	/* CTLR */
	patch_be32(&b, its + its_len + 124, 31);	/* footer */
	sb_file(&b, p, its + its_len, 585474 - (its + its_len));
	ck_assert_int_eq(open_bytes(&b, 0, NULL, &s, &err), 0);
	ck_assert_uint_eq(s.regs.nr_its, 2);
	ck_assert_uint_eq(s.regs.its[0].ctlr, 0x80000001);
	ck_assert_uint_eq(s.regs.its[1].ctlr, 0x1);
	ck_assert_uint_eq(s.regs.its[1].iidr, 0x4b00043b);
	ck_assert_str_eq(s.regs.its[1].source,
			 "stream section 'arm_gicv3_its' instance 1 (id 31) at offset 585291");
	ck_assert_uint_eq(s.regs.nr_rd, 2);
	ck_assert_ptr_nonnull(migstream_find_section(migstream_info(&s),
						     "arm_gicv3_its", 1));
	close_snap(&s);
	sb_free(&b);
	free(p);
}
END_TEST

/* No vmdesc and a section whose end is ambiguous (a footer-like pattern
 * inside it): the pass stops there (spec 8.6), and the GIC sections after
 * it are found by their headers (spec 14.3). */
START_TEST(test_ambiguous_stop)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	const struct migstream_info *mi;
	char *p = sample(KVM);
	uint64_t at;

	syn_head(&b, "virt-7.2", NULL);
	syn_ram_start(&b, one_block, 2);
	syn_part(&b, 0x03);
	syn_page(&b, 0, "mach-virt.ram", 7, false);
	syn_eos(&b);
	at = b.n;
	sb_u8(&b, 0x04);
	sb_be(&b, 40, 4);
	sb_str(&b, "mystery");
	sb_be(&b, 0, 4);
	sb_be(&b, 1, 4);
	/* payload: its own footer, EOF and zeros, then more */
	sb_u8(&b, 0x7e);
	sb_be(&b, 40, 4);
	sb_zeros(&b, 3);
	sb_put(&b, "data", 4);
	sb_u8(&b, 0x7e);
	sb_be(&b, 40, 4);
	/* arm_gicv3, arm_gicv3_its, timer, globalstate, EOF; no vmdesc */
	sb_file(&b, p, 574133, 585474 - 574133);
	ck_assert_int_eq(open_bytes(&b, 0, NULL, &s, &err), 0);
	mi = migstream_info(&s);
	ck_assert(!mi->complete);
	ck_assert(rec_at(mi, at)->flags & MIGSTREAM_REC_SIZE_UNKNOWN);
	ck_assert(has_warning(mi, "section 'mystery' (id 40) and the device sections after it not decoded"));
	check_kvm_regs(&s);
	/* found after the stop: 21-byte header + 17-byte payload */
	ck_assert_ptr_eq(migstream_find_section(mi, "arm_gicv3", 0),
			 rec_at(mi, at + 38));
	ck_assert(rec_at(mi, at + 38)->flags & MIGSTREAM_REC_DECODED);
	ck_assert(rec_at(mi, at + 38 + 11030)->flags & MIGSTREAM_REC_DECODED);
	ck_assert_str_eq(rec_at(mi, at + 38 + 11030)->idstr, "arm_gicv3_its");
	close_snap(&s);
	sb_free(&b);

	/* the same before the RAM ends: an error */
	syn_head(&b, "virt-7.2", NULL);
	syn_ram_start(&b, one_block, 2);
	at = b.n;
	sb_u8(&b, 0x04);
	sb_be(&b, 40, 4);
	sb_str(&b, "mystery");
	sb_be(&b, 0, 4);
	sb_be(&b, 1, 4);
	sb_u8(&b, 0x7e);
	sb_be(&b, 40, 4);
	sb_zeros(&b, 3);
	sb_u8(&b, 0x7e);
	sb_be(&b, 40, 4);
	syn_part(&b, 0x03);
	syn_eos(&b);
	sb_file(&b, p, 574133, 585474 - 574133);
	ck_assert_int_eq(open_bytes(&b, 0, NULL, &s, &err), -ENOTSUP);
	ck_assert_uint_eq(err.offset, at);
	ck_assert(strstr(err.msg, "cannot be sized without the vmdesc"));
	close_snap(&s);
	sb_free(&b);
	free(p);
}
END_TEST

/* migstream_info() only answers for streams */
START_TEST(test_info_other_snapshot)
{
	struct snapshot s;

	memset(&s, 0, sizeof(s));
	ck_assert_ptr_null(migstream_info(&s));
	s.priv = &s;
	s.priv_free = free;
	ck_assert_ptr_null(migstream_info(&s));
	ck_assert_ptr_null(migstream_info(NULL));
	ck_assert_str_eq(migstream_record_type_name(0x04), "SECTION_FULL");
	ck_assert_str_eq(migstream_record_type_name(0x7e), "SECTION_FOOTER");
	ck_assert_str_eq(migstream_record_type_name(0x42), "unknown");
	ck_assert_str_eq(migstream_command_name(500), "unknown");
}
END_TEST

/* Inputs the fuzzer (tests/fuzz/fuzz_migstream.c) found, fed as they are to
 * snapshot_open: exact code, offset and one-line message. */
static void check_regress(const char *name, int code, uint64_t off,
			  const char *msg)
{
	char *rel, *path, *want, line[1024];
	struct snapshot *s = NULL;
	struct its_err err;
	int rc;

	ck_assert_int_gt(asprintf(&rel, "tests/fuzz/regress/%s", name), 0);
	path = t_src(rel);
	its_err_clear(&err);
	rc = snapshot_open(path, NULL, &s, &err);
	its_err_format(&err, line, sizeof(line));
	ck_assert_msg(rc == code, "%s: rc %d, expected %d (%s)", name, rc,
		      code, line);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(err.code, code);
	ck_assert_uint_eq(err.offset, off);
	ck_assert_int_gt(asprintf(&want, "%s: offset 0x%llx: %s", path,
				  (unsigned long long)off, msg), 0);
	ck_assert_str_eq(line, want);
	free(want);
	free(path);
	free(rel);
}

/* A RAMBlock name holding a newline (and other control bytes) went as is
 * into the "RAM block list inconsistent" message, which then took two
 * lines; names are now refused unless printable, like section idstrs. */
START_TEST(test_regress_ramblock_name_newline)
{
	check_regress("migstream-ramblock-name-newline", -EINVAL, 0x57,
		      "a RAMBlock name in the block list is empty or not printable");
}
END_TEST

/* The same with a configuration subsection name ("configuration\ntarget-
 * page-bits"): it went as is into "configuration subsection '%s' ..."
 * messages; names are now refused unless printable. */
START_TEST(test_regress_config_subsection_newline)
{
	check_regress("migstream-config-subsection-newline", -EINVAL, 0x17,
		      "a configuration subsection name is not printable");
}
END_TEST

/* And an arm_gicv3 subsection name in a stream without vmdesc
 * ("arm_gicv3/gic\n..."): "unknown subsection '%s'" took two lines. Found
 * by review after the two above; the pre-fix harness aborts on it. */
START_TEST(test_regress_gicv3_subsection_newline)
{
	check_regress("migstream-gicv3-subsection-newline", -EINVAL, 0x633e,
		      "section 'arm_gicv3': a subsection name is not printable");
}
END_TEST

/* ---------------------------------------------- issue 7, item 4: bad input */

/* The KVM sample: arm_gicv3 at 574133 (0x8c2b5; payload 574156, 11002
 * bytes, footer at 585158 = 0x8edc6), arm_gicv3_its at 585163 (0x8edcb;
 * footer at 585286 = 0x8ee46), QEMU_VM_EOF at 585473, the vmdesc record
 * at 585474 (0x8ef02). */

/* Cut inside the arm_gicv3 footer (no vmdesc then: the fixed layout):
 * the end of the file, not "layout not recognised (found byte 0x7e)". */
START_TEST(test_regress_gicv3_footer_cut)
{
	char *p = sample(KVM);
	struct sb full = { 0 };

	sb_file(&full, p, 0, 585474);
	for (unsigned left = 1; left <= 4; left += 3) {
		struct sb b = { .p = full.p, .n = 585158 + left };
		struct snapshot s;
		struct its_err err;
		char msg[160];
		int rc = open_bytes(&b, 0, NULL, &s, &err);

		snprintf(msg, sizeof(msg),
			 "unexpected end of file while reading the footer of section 'arm_gicv3' (5 bytes needed, %u left)",
			 left);
		check_line(rc, &err, &s, -EINVAL, 585158, msg);
		close_snap(&s);
	}
	sb_free(&full);
	free(p);
}
END_TEST

/* A footer that names another section id (the header's or the footer's
 * id damaged): say what is there, and where the header is. */
START_TEST(test_regress_footer_names_other_id)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	char *p = sample(KVM);
	int rc;

	sb_file(&b, p, 0, KVM_SIZE);
	patch_be32(&b, 585287, 12);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_line(rc, &err, &s, -EINVAL, 585286,
		   "section 'arm_gicv3_its' (id 11, header at offset 0x8edcb): the footer after the 96-byte version 0 layout names section id 12");
	close_snap(&s);
	patch_be32(&b, 585287, 11);
	patch_be32(&b, 585164, 41);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_line(rc, &err, &s, -EINVAL, 585286,
		   "section 'arm_gicv3_its' (id 41, header at offset 0x8edcb): the footer after the 96-byte version 0 layout names section id 11");
	close_snap(&s);
	patch_be32(&b, 585164, 11);
	b.p[585286] = 0x7f;
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_line(rc, &err, &s, -EINVAL, 585286,
		   "section 'arm_gicv3_its' (id 11) not followed by its footer after the 96-byte version 0 layout (found byte 0x7f, expected 0x7e)");
	close_snap(&s);
	b.p[585286] = 0x7e;
	/* arm_gicv3, sized by the vmdesc */
	patch_be32(&b, 574134, 211);
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_line(rc, &err, &s, -EINVAL, 585158,
		   "section 'arm_gicv3' (id 211, header at offset 0x8c2b5): the footer after the 11002 bytes the vmdesc describes names section id 10");
	close_snap(&s);
	patch_be32(&b, 574134, 10);
	b.p[585158] = 0x12;
	rc = open_bytes(&b, 0, NULL, &s, &err);
	check_line(rc, &err, &s, -EINVAL, 585158,
		   "vmdesc description of section 'arm_gicv3' (id 10) does not match the stream: no footer after its 11002 bytes (found byte 0x12, expected 0x7e)");
	close_snap(&s);
	sb_free(&b);
	free(p);
}
END_TEST

/* Damage inside the CONFIGURATION record (the sample's: machine name
 * "virt-7.2" at 0xd, its subsection at 0x15, the name at 0x17) is named
 * there, not at the vmdesc as a page-size disagreement. */
START_TEST(test_regress_configuration)
{
	static const struct {
		uint64_t at;
		const char *bytes;
		size_t n;
		uint64_t off;
		const char *msg;
	} cases[] = {
		{ 0x15, "\xcb", 1, 0x15,
		  "byte 0xcb where configuration subsection 'configuration/target-page-bits' starts (expected 0x05)" },
		{ 0x9, "\0\0\0\1", 4, 0x9,
		  "machine type name length 1 does not fit the record: byte 0x69 follows the name at offset 0xe, but a configuration subsection starts at offset 0x15 (length 8?)" },
		{ 0x9, "\0\0\0\0", 4, 0x9,
		  "machine type name length is 0, but a configuration subsection starts at offset 0x15 (length 8?)" },
		{ 0x1a, "O", 1, 0x1a,
		  "configuration subsection name 'conOiguration/target-page-bits' does not start with 'configuration/'" },
		{ 0x16, "\0", 1, 0x16,
		  "a configuration subsection name is empty (length 0)" },
		{ 0x10, "\x13", 1, 0x10,
		  "machine type name is not printable (byte 0x13)" },
		/* the subsection's type byte and its name both damaged */
		{ 0x15, "\xcb\x1ex", 3, 0x15,
		  "unexpected byte 0xcb after the machine type name 'virt-7.2' (expected a configuration subsection 0x05 or a section record)" },
	};
	char *p = sample(KVM);
	struct sb full = { 0 };

	sb_file(&full, p, 0, KVM_SIZE);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sb b = { 0 };
		struct snapshot s;
		struct its_err err;
		int rc;

		sb_put(&b, full.p, full.n);
		patch(&b, cases[i].at, cases[i].bytes, cases[i].n);
		rc = open_bytes(&b, i & 1 ? MIGSTREAM_PREAD : 0, NULL, &s, &err);
		check_line(rc, &err, &s, -EINVAL, cases[i].off, cases[i].msg);
		close_snap(&s);
		sb_free(&b);
	}
	sb_free(&full);
	free(p);
}
END_TEST

/* The vmdesc record's type byte damaged: the vmdesc is still found by its
 * length and JSON, and the error names the byte after QEMU_VM_EOF, not a
 * section before it that then seemed to have no footer. */
START_TEST(test_regress_vmdesc_type_byte)
{
	struct sb b = { 0 };
	struct snapshot s;
	struct its_err err;
	char *p = sample(KVM);
	int rc;

	sb_file(&b, p, 0, KVM_SIZE);
	ck_assert_uint_eq(b.p[585474], 0x06);
	b.p[585474] ^= 0xb2;
	for (unsigned flags = 0; flags <= MIGSTREAM_PREAD; flags += MIGSTREAM_PREAD) {
		rc = open_bytes(&b, flags, NULL, &s, &err);
		check_line(rc, &err, &s, -EINVAL, 585474,
			   "unexpected byte 0xb4 after QEMU_VM_EOF where the vmdesc record (0x06) belongs: its length and 4325 bytes of JSON follow");
		close_snap(&s);
	}
	sb_free(&b);
	free(p);
}
END_TEST

Suite *suite_migstream(void)
{
	Suite *s = suite_create("migstream");
	TCase *real = tcase_create("samples");
	TCase *bad = tcase_create("bad-input");
	TCase *syn = tcase_create("synthetic");

	tcase_set_timeout(real, 120);
	tcase_set_timeout(bad, 120);
	tcase_set_timeout(syn, 60);
	tcase_add_test(real, test_qemu10_structure);
	tcase_add_test(real, test_qemu10_ram);
	tcase_add_test(real, test_qemu10_registers);
	tcase_add_test(real, test_qemu10_tables_through_gmem);
	tcase_add_test(real, test_qemu10_pread_same);
	tcase_add_test(real, test_qemu72);
	tcase_add_test(real, test_kvm_synthetic);
	tcase_add_test(real, test_no_vmdesc_fixed_layouts);
	tcase_add_test(real, test_libvirt_raw);
	suite_add_tcase(s, real);
	tcase_add_test(bad, test_empty_file);
	tcase_add_test(bad, test_bad_magic_and_version);
	tcase_add_test(bad, test_truncated);
	tcase_add_test(bad, test_bad_footers);
	tcase_add_test(bad, test_section_versions);
	tcase_add_test(bad, test_vmdesc_bad);
	tcase_add_test(bad, test_libvirt_compressed);
	tcase_add_test(bad, test_libvirt_incomplete);
	tcase_add_test(bad, test_ram_records_refused);
	tcase_add_test(bad, test_ram_malformed);
	tcase_add_test(bad, test_commands_and_iterables);
	tcase_add_test(bad, test_regress_ramblock_name_newline);
	tcase_add_test(bad, test_regress_config_subsection_newline);
	tcase_add_test(bad, test_regress_gicv3_subsection_newline);
	tcase_add_test(bad, test_regress_gicv3_footer_cut);
	tcase_add_test(bad, test_regress_footer_names_other_id);
	tcase_add_test(bad, test_regress_configuration);
	tcase_add_test(bad, test_regress_vmdesc_type_byte);
	suite_add_tcase(s, bad);
	tcase_add_loop_test(syn, test_resent_pages, 0, 2);
	tcase_add_test(syn, test_unknown_machine_and_ram_base);
	tcase_add_test(syn, test_mapped_ram);
	tcase_add_test(syn, test_libvirt_sparse);
	tcase_add_test(syn, test_x_ignore_shared);
	tcase_add_test(syn, test_two_its);
	tcase_add_test(syn, test_ambiguous_stop);
	tcase_add_test(syn, test_info_other_snapshot);
	suite_add_tcase(s, syn);
	return s;
}
