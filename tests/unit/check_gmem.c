/* The guest memory map: extents, page indexes, holes, overlap refusal. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "its/gmem.h"
#include "suites.h"
#include "testutil.h"

static int fd;
static char *path;
static struct gmem *g;
static struct its_err err;

/* file: 0x3000 bytes, byte i = i & 0xff, plus 0x10 marker at 0x2000 */
static void setup(void)
{
	uint8_t buf[0x3000];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	path = t_write_file("mem.bin", 0, buf, sizeof(buf));
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(gmem_new(&g, path, fd, &err), 0);
}

static void teardown(void)
{
	gmem_free(g);
	close(fd);
	free(path);
	t_cleanup();
}

START_TEST(extent_read_and_tail)
{
	uint8_t b[8];
	uint64_t off, run;

	/* 0x2000 bytes in the file at 0x1000, the next 0x1000 not dumped */
	ck_assert_int_eq(gmem_add_extent(g, "a", 0x40000000, 0x3000, 0x1000,
					 0x2000, &err), 0);
	ck_assert_int_eq(gmem_seal(g, &err), 0);
	ck_assert_int_eq(gmem_read(g, 0x40000010, b, 4, 0, &err), 0);
	ck_assert_uint_eq(b[0], 0x10);
	ck_assert_uint_eq(b[3], 0x13);
	ck_assert_int_eq(gmem_locate(g, 0x40000010, &off, &err), 0);
	ck_assert_uint_eq(off, 0x1010);
	ck_assert_int_eq(gmem_span(g, 0x40001ff0, 0x100, &run), GMEM_FILE_BYTES);
	ck_assert_uint_eq(run, 0x10);
	ck_assert_int_eq(gmem_span(g, 0x40002000, 0x10000, &run), GMEM_ABSENT);
	ck_assert_uint_eq(run, 0x1000);
	ck_assert_int_eq(gmem_read(g, 0x40001ffc, b, 8, 0, &err), -ENODATA);
	ck_assert_int_eq(gmem_read(g, 0x40001ffc, b, 8, GMEM_ZERO_ABSENT, &err), 0);
	ck_assert_uint_eq(b[0], 0xfc);
	ck_assert_uint_eq(b[4], 0);
	ck_assert_int_eq(gmem_locate(g, 0x40002000, &off, &err), -ENOENT);
}
END_TEST

START_TEST(not_ram)
{
	uint8_t b[8];
	uint64_t run;

	ck_assert_int_eq(gmem_add_extent(g, "a", 0x1000, 0x1000, 0, 0x1000, &err), 0);
	ck_assert_int_eq(gmem_add_extent(g, "b", 0x4000, 0x1000, 0x1000, 0x1000, &err), 0);
	ck_assert_int_eq(gmem_seal(g, &err), 0);
	ck_assert_int_eq(gmem_span(g, 0x2000, 0x10000, &run), GMEM_NOT_RAM);
	ck_assert_uint_eq(run, 0x2000);
	ck_assert_int_eq(gmem_span(g, 0x5000, 0x10, &run), GMEM_NOT_RAM);
	ck_assert_uint_eq(run, 0x10);
	ck_assert_int_eq(gmem_span(g, 0, 0x10000, &run), GMEM_NOT_RAM);
	ck_assert_uint_eq(run, 0x1000);
	/* a read that crosses from region a into the gap faults */
	ck_assert_int_eq(gmem_read(g, 0x1ffc, b, 8, 0, &err), -EFAULT);
	ck_assert_str_eq(err.msg, "GPA 0x2000 is not guest RAM in this snapshot");
	ck_assert_int_eq(gmem_read(g, 0x4ff8, b, 8, 0, &err), 0);
	ck_assert_uint_eq(b[0], 0xf8);
	ck_assert_int_eq(gmem_read(g, UINT64_MAX - 3, b, 8, 0, &err), -EFAULT);
}
END_TEST

START_TEST(overlap_refused)
{
	ck_assert_int_eq(gmem_add_extent(g, "PT_LOAD #1", 0x40000000, 0x2000, 0, 0x2000, &err), 0);
	ck_assert_int_eq(gmem_add_extent(g, "PT_LOAD #2", 0x40001000, 0x1000, 0, 0x1000, &err), 0);
	ck_assert_int_eq(gmem_seal(g, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "RAM regions 'PT_LOAD #1' and 'PT_LOAD #2' overlap at GPA 0x40001000");
}
END_TEST

START_TEST(wrap_refused)
{
	ck_assert_int_eq(gmem_add_extent(g, "x", UINT64_MAX - 0xfff, 0x2000, 0, 0, &err), -EINVAL);
	ck_assert_int_eq(gmem_add_extent(g, "x", 0, 0, 0, 0, &err), -EINVAL);
}
END_TEST

START_TEST(pages)
{
	uint64_t *pages, run, off;
	uint8_t b[16];

	ck_assert_int_eq(gmem_add_pages(g, "mach-virt.ram", 0x40000000, 0x5000, 12, &pages, &err), 0);
	pages[0] = 0x2000;			/* data at file offset 0x2000 */
	pages[1] = GMEM_PAGE_ZERO;
	pages[2] = GMEM_PAGE_ZERO;
	pages[3] = GMEM_PAGE_ZERO | 0xab;	/* old QEMU: zero page with a fill */
	/* page 4 never sent */
	ck_assert_int_eq(gmem_seal(g, &err), 0);
	ck_assert_int_eq(gmem_span(g, 0x40000000, 0x10000, &run), GMEM_FILE_BYTES);
	ck_assert_uint_eq(run, 0x1000);
	ck_assert_int_eq(gmem_span(g, 0x40001800, 0x10000, &run), GMEM_ZERO);
	ck_assert_uint_eq(run, 0x1800);	/* pages 1-2, not 3 (other fill) */
	ck_assert_int_eq(gmem_span(g, 0x40004000, 0x10000, &run), GMEM_ABSENT);
	ck_assert_uint_eq(run, 0x1000);
	ck_assert_int_eq(gmem_read(g, 0x40000ff8, b, 16, 0, &err), 0);
	ck_assert_uint_eq(b[0], 0xf8);	/* file byte 0x2ff8 */
	ck_assert_uint_eq(b[8], 0);
	ck_assert_int_eq(gmem_read(g, 0x40003ff8, b, 8, 0, &err), 0);
	ck_assert_uint_eq(b[0], 0xab);
	ck_assert_int_eq(gmem_read(g, 0x40003ff8, b, 16, 0, &err), -ENODATA);
	ck_assert_int_eq(gmem_locate(g, 0x40000123, &off, &err), 0);
	ck_assert_uint_eq(off, 0x2123);
	ck_assert_int_eq(gmem_locate(g, 0x40001000, &off, &err), -ENOENT);
	ck_assert_int_eq(gmem_add_pages(g, "odd", 0, 0x1800, 12, &pages, &err), -EINVAL);
}
END_TEST

START_TEST(set_gpa_then_seal)
{
	uint64_t *pages;
	uint8_t b;

	ck_assert_int_eq(gmem_add_pages(g, "blk", 0, 0x1000, 12, &pages, &err), 0);
	pages[0] = 0x1000;
	ck_assert_int_eq(gmem_set_gpa(g, 0, 0x80000000, &err), 0);
	ck_assert_int_eq(gmem_seal(g, &err), 0);
	ck_assert_int_eq(gmem_read(g, 0x80000001, &b, 1, 0, &err), 0);
	ck_assert_uint_eq(b, 1);
	ck_assert_int_eq(gmem_read(g, 1, &b, 1, 0, &err), -EFAULT);
	ck_assert_uint_eq(gmem_nr_regions(g), 1);
	ck_assert_str_eq(gmem_region_at(g, 0)->name, "blk");
}
END_TEST

START_TEST(short_file)
{
	uint8_t b[8];

	/* the extent claims more file bytes than the file has */
	ck_assert_int_eq(gmem_add_extent(g, "a", 0, 0x10000, 0x2ffc, 0x10000, &err), 0);
	ck_assert_int_eq(gmem_seal(g, &err), 0);
	ck_assert_int_eq(gmem_read(g, 0, b, 8, 0, &err), -EIO);
	ck_assert_uint_eq(err.offset, 0x3000);
}
END_TEST

Suite *suite_gmem(void)
{
	Suite *s = suite_create("gmem");
	TCase *tc = tcase_create("gmem");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, extent_read_and_tail);
	tcase_add_test(tc, not_ram);
	tcase_add_test(tc, overlap_refused);
	tcase_add_test(tc, wrap_refused);
	tcase_add_test(tc, pages);
	tcase_add_test(tc, set_gpa_then_seal);
	tcase_add_test(tc, short_file);
	suite_add_tcase(s, tc);
	return s;
}
