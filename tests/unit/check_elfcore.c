/* The ELF core reader on the real QEMU 10.0 dump and on damaged cores. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its/bits.h"
#include "its/snapshot.h"
#include "suites.h"
#include "testutil.h"

static char *sample(const char *name)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/%s", t_env("ITS_SAMPLES_DIR"), name), 0);
	return p;
}

START_TEST(qemu10_elf)
{
	char *path = sample("qemu10-virt-its-stopped.elf");
	struct snapshot *s;
	struct its_err err;
	const struct gmem_region *r;
	uint64_t off;
	uint8_t b[8];

	ck_assert_int_eq(snapshot_open(path, NULL, &s, &err), 0);
	ck_assert_int_eq(s->format, SNAP_FORMAT_ELF);
	ck_assert_str_eq(s->format_desc, "ELF64 core, EM_AARCH64, little-endian");
	ck_assert_int_eq(s->nr_vcpus, 2);
	ck_assert_uint_eq(gmem_nr_regions(s->mem), 1);
	r = gmem_region_at(s->mem, 0);
	ck_assert_uint_eq(r->gpa, 0x40000000);
	ck_assert_uint_eq(r->size, 0x10000000);
	ck_assert_uint_eq(r->file_off, 0x8b0);
	/* samples/README.md: GPA g at 0x8b0 + (g - 0x40000000) */
	ck_assert_int_eq(gmem_locate(s->mem, 0x42590000, &off, &err), 0);
	ck_assert_uint_eq(off, 0x25908b0);
	ck_assert_int_eq(gmem_read(s->mem, 0x42590000, b, 8, 0, &err), 0);
	ck_assert_uint_eq(its_le64(b), 0x80000000431c0000ULL);	/* L1 entry 0 */
	ck_assert_int_eq(gmem_read(s->mem, 0x431c0040, b, 8, 0, &err), 0);
	ck_assert_uint_eq(its_le64(b), 0x0000000010c0fb03ULL);	/* TCG DTE 0x8 */
	ck_assert_int_eq(gmem_read(s->mem, 0x3ffffff8, b, 8, 0, &err), -EFAULT);
	snapshot_close(s);
	free(path);
}
END_TEST

static int open_bytes(const void *buf, size_t len, struct its_err *err)
{
	char *path = t_write_file("core", 0, buf, len);
	struct snapshot *s = NULL;
	int rc = snapshot_open(path, NULL, &s, err);

	snapshot_close(s);
	free(path);
	return rc;
}

START_TEST(not_a_core)
{
	uint8_t hdr[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	struct its_err err;

	/* ET_EXEC, EM_AARCH64 */
	hdr[16] = 2;
	hdr[18] = 183;
	hdr[20] = 1;
	ck_assert_int_eq(open_bytes(hdr, sizeof(hdr), &err), -EINVAL);
	ck_assert_str_eq(err.msg, "ELF file is not a core dump (e_type 2, expected 4 ET_CORE)");
	hdr[16] = 4;
	hdr[18] = 62;	/* x86-64 */
	ck_assert_int_eq(open_bytes(hdr, sizeof(hdr), &err), -EINVAL);
	ck_assert_str_eq(err.msg, "core dump is for machine 62, not ARM (expected 183 EM_AARCH64)");
	ck_assert_int_eq(open_bytes(hdr, 10, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "truncated ELF header (10 bytes)");
	t_cleanup();
}
END_TEST

START_TEST(unknown_kinds)
{
	struct its_err err;

	ck_assert_int_eq(open_bytes("KDUMP   \0\0\0\0", 12, &err), -ENOTSUP);
	ck_assert_uint_eq(err.offset, 0);
	ck_assert_int_eq(open_bytes("hello world, not a snapshot", 27, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "unknown snapshot format (magic 68 65 6c 6c): expected an ELF core, a QEMU migration stream, a virsh save image, or a raw RAM image with --ram-base GPA");
	ck_assert_int_eq(open_bytes("", 0, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "empty file (0 bytes): not a snapshot");
	t_cleanup();
}
END_TEST

START_TEST(directory_and_pipe)
{
	struct snapshot *s;
	struct its_err err;

	ck_assert_int_eq(snapshot_open(t_tmpdir(), NULL, &s, &err), -EISDIR);
	ck_assert_int_eq(snapshot_open("/nonexistent/x", NULL, &s, &err), -ENOENT);
	ck_assert_int_eq(snapshot_open("/dev/null", NULL, &s, &err), -ESPIPE);
	t_cleanup();
}
END_TEST

/* issue 7, item 4: each damaged core is refused with exactly this error:
 * code -EINVAL, offset, one-line message. */
static void elf_fails(const void *buf, size_t len, uint64_t off,
		      const char *msg)
{
	struct its_err err;

	its_err_clear(&err);
	ck_assert_int_eq(open_bytes(buf, len, &err), -EINVAL);
	ck_assert_msg(err.offset == off, "offset 0x%llx, expected 0x%llx (%s)",
		      (unsigned long long)err.offset, (unsigned long long)off,
		      err.msg);
	ck_assert_str_eq(err.msg, msg);
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* An ELF64 aarch64 core header with nph program headers at 64, and the
 * headers zeroed (p_type of header i at 64 + 56 * i). */
static void core_header(uint8_t *b, size_t len, unsigned nph)
{
	memset(b, 0, len);
	memcpy(b, "\177ELF\2\1\1", 7);
	put_le(b + 16, 4, 2);		/* ET_CORE */
	put_le(b + 18, 183, 2);		/* EM_AARCH64 */
	put_le(b + 20, 1, 4);
	put_le(b + 32, 64, 8);		/* e_phoff */
	put_le(b + 52, 64, 2);		/* e_ehsize */
	put_le(b + 54, 56, 2);		/* e_phentsize */
	put_le(b + 56, nph, 2);		/* e_phnum */
}

/* A cut header: the file's length, never bytes past its end. */
START_TEST(regress_short_header)
{
	uint8_t b[64];

	core_header(b, sizeof(b), 0);
	elf_fails(b, 1, 0,
		  "the file is 1 byte long, too short for an ELF header (magic 7f)");
	elf_fails(b, 3, 0,
		  "the file is 3 bytes long, too short for an ELF header (magic 7f 45 4c)");
	/* an ELF64 header is 64 bytes: libelf calls 52..63 "not ELF" */
	elf_fails(b, 52, 0, "truncated ELF header (52 bytes)");
	elf_fails(b, 63, 0, "truncated ELF header (63 bytes)");
	elf_fails("he", 2, 0,
		  "unknown snapshot format (magic 68 65, the whole file): expected an ELF core, a QEMU migration stream, a virsh save image, or a raw RAM image with --ram-base GPA");
	t_cleanup();
}
END_TEST

/* e_phoff 0 or all ones: the field (at 0x20) is named, with its value. */
START_TEST(regress_e_phoff)
{
	uint8_t b[64 + 2 * 56];

	core_header(b, sizeof(b), 2);
	put_le(b + 32, 0, 8);
	elf_fails(b, sizeof(b), 0x20,
		  "e_phoff is 0 with e_phnum 2: the program header table is missing (no guest RAM)");
	put_le(b + 32, UINT64_MAX, 8);
	elf_fails(b, sizeof(b), 0x20,
		  "e_phoff 0xffffffffffffffff: the program header table (2 entries) would end past 2^64, far beyond the end of the file (176 bytes)");
	t_cleanup();
}
END_TEST

/* Program headers, but no PT_LOAD (or only empty ones): no guest memory,
 * refused rather than read as a guest whose every table is not RAM. */
START_TEST(regress_no_pt_load)
{
	uint8_t b[64 + 2 * 56];

	core_header(b, sizeof(b), 1);
	put_le(b + 64, 4, 4);			/* PT_NOTE, no notes */
	elf_fails(b, 64 + 56, 0x40,
		  "no PT_LOAD in the program header table (1 entry: PT_NOTE): the core holds no guest memory");
	core_header(b, sizeof(b), 2);
	put_le(b + 64, 4, 4);
	put_le(b + 64 + 56, 0xb801, 4);
	elf_fails(b, sizeof(b), 0x40,
		  "no PT_LOAD in the program header table (2 entries: PT_NOTE, type 0xb801): the core holds no guest memory");
	put_le(b + 64 + 56, 1, 4);		/* PT_LOAD, p_memsz 0 */
	put_le(b + 64 + 56 + 24, 0x40000000, 8);
	elf_fails(b, sizeof(b), 0x40,
		  "no PT_LOAD in the program header table (2 entries: PT_NOTE, PT_LOAD (empty)): the core holds no guest memory");
	t_cleanup();
}
END_TEST

Suite *suite_elfcore(void)
{
	Suite *s = suite_create("elfcore");
	TCase *tc = tcase_create("elfcore");

	tcase_add_test(tc, qemu10_elf);
	tcase_add_test(tc, not_a_core);
	tcase_add_test(tc, unknown_kinds);
	tcase_add_test(tc, directory_and_pipe);
	tcase_add_test(tc, regress_short_header);
	tcase_add_test(tc, regress_e_phoff);
	tcase_add_test(tc, regress_no_pt_load);
	suite_add_tcase(s, tc);
	return s;
}
