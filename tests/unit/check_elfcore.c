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

Suite *suite_elfcore(void)
{
	Suite *s = suite_create("elfcore");
	TCase *tc = tcase_create("elfcore");

	tcase_add_test(tc, qemu10_elf);
	tcase_add_test(tc, not_a_core);
	tcase_add_test(tc, unknown_kinds);
	tcase_add_test(tc, directory_and_pipe);
	suite_add_tcase(s, tc);
	return s;
}
