/* The table walker on hand-built guest RAM (a raw image at GPA 0x40000000):
 * flat and two-level device tables, invalid entries, holes and flags. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "its/bits.h"
#include "its/snapshot.h"
#include "its/walk.h"
#include "suites.h"
#include "testutil.h"

#define RAM	0x40000000ULL
#define RAMSZ	0x100000ULL	/* 1 MiB */
#define DT	0x40010000ULL
#define CT	0x40020000ULL
#define L2A	0x40030000ULL
#define L2B	0x40040000ULL

static uint8_t *ram;
static struct its_regset rs;
static struct snapshot *snap;
static struct its_image *img;
static struct its_err err;

static void put(uint64_t gpa, uint64_t v)
{
	ck_assert(gpa >= RAM && gpa + 8 <= RAM + RAMSZ);
	its_put_le64(ram + (gpa - RAM), v);
}

/* BASER: Valid | InnerCache 7 | Type | Entry_Size 7 | PA | inner | 64K | pages-1 */
static uint64_t baser(unsigned type, uint64_t pa, bool indirect, unsigned pages)
{
	return (1ULL << 63) | ((uint64_t)indirect << 62) | (7ULL << 59) |
	       ((uint64_t)type << 56) | (7ULL << 48) | pa | (1ULL << 10) |
	       (2ULL << 8) | (pages - 1);
}

static void setup(void)
{
	ram = calloc(1, RAMSZ);
	ck_assert_ptr_nonnull(ram);
	memset(&rs, 0, sizeof(rs));
	ck_assert_int_eq(its_regset_reserve(&rs, 1, 2), 0);
	rs.its[0].iidr = 0x4b00043b;
	rs.its[0].present = ITS_REG_IIDR | ITS_REG_BASER(0) | ITS_REG_BASER(1);
	rs.its[0].baser[1] = baser(4, CT, false, 1);
	snap = NULL;
	img = NULL;
}

static void teardown(void)
{
	its_image_free(img);
	snapshot_close(snap);
	its_regset_release(&rs);
	free(ram);
	t_cleanup();
}

static void walk(int want)
{
	struct snap_ram_base rb = { NULL, RAM };
	struct snap_open_opts o = { .ram_bases = &rb, .nr_ram_bases = 1 };
	char *path = t_write_file("ram.bin", 0, ram, RAMSZ);

	ck_assert_int_eq(snapshot_open(path, &o, &snap, &err), 0);
	free(path);
	ck_assert_int_eq(its_walk(snap->mem, &rs, NULL, &img, &err), want);
}

static void std_collections(void)
{
	put(CT + 0, 0x8000000000000000ULL);	/* ICID 0 -> vCPU 0 */
	put(CT + 8, 0x8000000000010001ULL);	/* ICID 1 -> vCPU 1 */
}

START_TEST(flat_table)
{
	const struct its_image_its *its;
	const struct its_dev_rec *d;

	rs.its[0].baser[0] = baser(1, DT, false, 1);
	std_collections();
	/* DeviceID 8: ITT 0x40050000, 2 bits, next 8; DeviceID 16: last */
	put(DT + 8 * 8, (1ULL << 63) | (8ULL << 49) | ((0x40050000ULL >> 8) << 5) | 1);
	put(DT + 16 * 8, (1ULL << 63) | ((0x40050100ULL >> 8) << 5) | 0);
	put(0x40050000, 0x0001000020000000ULL);	/* ev 0: LPI 8192 ICID 0 next 1 */
	put(0x40050008, 0x0000000020010001ULL);	/* ev 1: LPI 8193 ICID 1 last */
	put(0x40050100, 0x0000000020020001ULL);	/* DeviceID 16 ev 0: LPI 8194 */
	walk(0);
	its = &img->its[0];
	ck_assert_str_eq(its->layout->name, "kvm");
	ck_assert(its->dt.valid && !its->dt.indirect);
	ck_assert_uint_eq(its->dt.slots, 8192);
	ck_assert_uint_eq(its->ct.slots, 8192);
	ck_assert_uint_eq(its->nr_ctes, 2);
	ck_assert_uint_eq(its->ct_terminator, 2);
	ck_assert_uint_eq(its->nr_devs, 2);
	d = its_image_device(its, 8);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->gpa, DT + 64);
	ck_assert_uint_eq(d->e.itt, 0x40050000);
	ck_assert_uint_eq(d->event_bits, 2);
	ck_assert_uint_eq(d->nr_events, 2);
	ck_assert_uint_eq(d->events[1].event_id, 1);
	ck_assert_uint_eq(d->events[1].e.lpi, 8193);
	ck_assert_uint_eq(d->events[1].e.icid, 1);
	ck_assert_uint_eq(d->events[1].gpa, 0x40050008);
	ck_assert_uint_eq(d->flags, 0);
	ck_assert_uint_eq(d->events[0].flags, 0);
	ck_assert_uint_eq(its_image_device(its, 16)->events[0].e.lpi, 8194);
	ck_assert_ptr_null(its_image_device(its, 9));
	ck_assert_uint_eq(its->nr_holes, 0);
}
END_TEST

START_TEST(two_level)
{
	const struct its_image_its *its;

	rs.its[0].baser[0] = baser(1, DT, true, 1);
	std_collections();
	put(DT + 0, 0x8000000000000000ULL | L2A);
	put(DT + 8, 0x8000000000000000ULL | L2B);
	put(DT + 16, 0x0000000040060000ULL);	/* L1[2] invalid: not walked */
	put(0x40060000 + 5 * 8, (1ULL << 63) | ((0x40070000ULL >> 8) << 5));
	/* DeviceID 3 in L2A, next jumps to 8192+2 in L2B (cut at page end) */
	put(L2A + 3 * 8, (1ULL << 63) | (8191ULL << 49) | ((0x40050000ULL >> 8) << 5));
	put(L2B + 2 * 8, (1ULL << 63) | ((0x40050100ULL >> 8) << 5));
	put(0x40050000, 0x0000000020000000ULL);
	put(0x40050100, 0x0000000020010001ULL);
	walk(0);
	its = &img->its[0];
	ck_assert(its->dt.indirect);
	ck_assert_uint_eq(its->dt.slots, 8192);	/* L1 entries */
	ck_assert_uint_eq(its->nr_l1, 3);
	ck_assert(its->l1[0].e.valid && its->l1[1].e.valid && !its->l1[2].e.valid);
	ck_assert_uint_eq(its->l1[1].e.l2, L2B);
	ck_assert_uint_eq(its->nr_devs, 3);
	ck_assert_uint_eq(its->devs[0].device_id, 3);
	ck_assert_uint_eq(its->devs[1].device_id, 8194);
	/* the page an invalid L1 entry still names: shown as unreachable */
	ck_assert_uint_eq(its->devs[2].device_id, 2 * 8192 + 5);
	ck_assert_uint_eq(its->devs[2].flags, ITS_F_IN_INVALID_L1);
	ck_assert_uint_eq(its->devs[2].nr_events, 0);
	ck_assert_uint_eq(its->devs[1].gpa, L2B + 16);
	/* 3 + 8191 leaves L2 page 0: KVM >= 6.1 stops there; not an anomaly */
	ck_assert_uint_eq(its->devs[0].flags, ITS_F_NEXT_CROSSES_L2);
	ck_assert_uint_eq(its->devs[0].flags & ITS_F_ANOMALY, 0);
	ck_assert_uint_eq(its->devs[1].events[0].e.lpi, 8193);
}
END_TEST

START_TEST(invalid_entries_kept)
{
	const struct its_image_its *its;

	rs.its[0].baser[0] = baser(1, DT, false, 1);
	std_collections();
	put(CT + 24, 0x8000000000000003ULL);	/* after the terminator at slot 2 */
	put(DT + 4 * 8, ((0x40050000ULL >> 8) << 5) | 3);	/* V=0, fields set */
	put(DT + 5 * 8, (1ULL << 63) | ((0x40050000ULL >> 8) << 5) | 1);
	put(0x40050000, 0x0000000000000007ULL);	/* LPI 0, ICID 7: unused */
	put(0x40050008, 0x0000000020000000ULL);
	walk(0);
	its = &img->its[0];
	ck_assert_uint_eq(its->nr_ctes, 3);
	ck_assert_uint_eq(its->ct_terminator, 2);
	ck_assert_uint_eq(its->ctes[2].slot, 3);
	ck_assert_uint_eq(its->ctes[2].flags, ITS_F_AFTER_TERMINATOR);
	ck_assert_uint_eq(its->nr_devs, 2);
	ck_assert(!its->devs[0].e.valid);
	ck_assert_uint_eq(its->devs[0].e.size, 3);
	ck_assert_uint_eq(its->devs[0].nr_events, 0);	/* ITT of an invalid DTE: not read */
	ck_assert_uint_eq(its->devs[1].nr_events, 2);
	ck_assert(!its->devs[1].events[0].e.valid);
	ck_assert_uint_eq(its->devs[1].events[0].e.icid, 7);
}
END_TEST

START_TEST(holes_and_flags)
{
	const struct its_image_its *its;
	const struct its_dev_rec *d;

	rs.its[0].baser[0] = baser(1, DT, false, 1);
	std_collections();
	/* DeviceID 1: ITT outside RAM; 2: Size 31; 3: ITE next past the ITT;
	 * 4: next lands on an empty slot */
	put(DT + 1 * 8, (1ULL << 63) | (1ULL << 49) | ((0x50000000ULL >> 8) << 5) | 0);
	put(DT + 2 * 8, (1ULL << 63) | (1ULL << 49) | ((0x40080000ULL >> 8) << 5) | 31);
	put(DT + 3 * 8, (1ULL << 63) | (1ULL << 49) | ((0x40050000ULL >> 8) << 5) | 0);
	put(DT + 4 * 8, (1ULL << 63) | (2ULL << 49) | ((0x40050100ULL >> 8) << 5) | 0);
	put(0x40080000, 0x0000000020000000ULL);
	put(0x40050000, 0x0005000020010000ULL);	/* event 0 + 5 >= 2 */
	put(0x40050100, 0x0000000020020000ULL);
	walk(0);
	its = &img->its[0];
	d = its_image_device(its, 1);
	ck_assert_uint_eq(d->flags, ITS_F_ITT_UNREADABLE);
	ck_assert_uint_eq(d->nr_events, 0);
	ck_assert_uint_eq(its->nr_holes, 1);
	ck_assert_int_eq(its->holes[0].table, ITS_TABLE_ITT);
	ck_assert_uint_eq(its->holes[0].id, 1);
	ck_assert_uint_eq(its->holes[0].gpa, 0x50000000);
	ck_assert_uint_eq(its->holes[0].len, 16);
	ck_assert_int_eq(its->holes[0].kind, GMEM_NOT_RAM);
	d = its_image_device(its, 2);
	ck_assert_uint_eq(d->flags, ITS_F_SIZE_CLAMPED);
	ck_assert_uint_eq(d->event_bits, 16);
	ck_assert_uint_eq(d->nr_events, 1);
	d = its_image_device(its, 3);
	ck_assert_uint_eq(d->events[0].flags, ITS_F_NEXT_OUT_OF_RANGE);
	d = its_image_device(its, 4);
	ck_assert_uint_eq(d->flags, ITS_F_NEXT_LANDS_INVALID);
}
END_TEST

START_TEST(baser_outside_ram)
{
	const struct its_image_its *its;

	rs.its[0].baser[0] = baser(1, 0x80000000, false, 2);
	std_collections();
	walk(0);
	its = &img->its[0];
	ck_assert_uint_eq(its->nr_devs, 0);
	ck_assert_uint_eq(its->nr_holes, 1);
	ck_assert_int_eq(its->holes[0].table, ITS_TABLE_DEVICES);
	ck_assert_uint_eq(its->holes[0].gpa, 0x80000000);
	ck_assert_uint_eq(its->holes[0].len, 0x20000);
	/* a table straddling the end of RAM: the part inside is read */
	its_image_free(img);
	img = NULL;
	snapshot_close(snap);
	snap = NULL;
	rs.its[0].baser[0] = baser(1, RAM + RAMSZ - 0x10000, false, 2);
	put(RAM + RAMSZ - 8, (1ULL << 63) | ((0x40050000ULL >> 8) << 5));
	walk(0);
	its = &img->its[0];
	ck_assert_uint_eq(its->nr_devs, 1);
	ck_assert_uint_eq(its->devs[0].device_id, 8191);
	ck_assert_uint_eq(its->nr_holes, 1);
	ck_assert_uint_eq(its->holes[0].gpa, RAM + RAMSZ);
	ck_assert_uint_eq(its->holes[0].len, 0x10000);
}
END_TEST

/* DTEs naming the same ITT share one decoded copy: a table of 65536
 * aliases of one 2^16-event ITT is read once */
START_TEST(aliased_itts_read_once)
{
	const struct its_image_its *its;

	rs.its[0].baser[0] = baser(1, DT, false, 1);
	std_collections();
	for (unsigned id = 0; id < 8192; id++)
		put(DT + id * 8, (1ULL << 63) | ((0x40050000ULL >> 8) << 5) | 15);
	put(0x40050000 + 3 * 8, 0x0000000020000000ULL);
	walk(0);
	its = &img->its[0];
	ck_assert_uint_eq(its->nr_devs, 8192);
	ck_assert(!its->devs[0].events_shared);
	ck_assert(its->devs[8191].events_shared);
	ck_assert_ptr_eq(its->devs[8191].events, its->devs[0].events);
	ck_assert_uint_eq(its->devs[8191].nr_events, 1);
	ck_assert_uint_eq(its->devs[8191].events[0].event_id, 3);
	ck_assert_uint_eq(its->devs[8191].event_bits, 16);
}
END_TEST

START_TEST(baser_not_valid)
{
	rs.its[0].baser[0] = baser(1, DT, false, 1) & ~(1ULL << 63);
	rs.its[0].present &= ~ITS_REG_BASER(1);
	put(DT, (1ULL << 63) | ((0x40050000ULL >> 8) << 5));
	walk(0);
	ck_assert(!img->its[0].dt.valid);
	ck_assert(!img->its[0].ct.valid);
	ck_assert_uint_eq(img->its[0].nr_devs, 0);
}
END_TEST

START_TEST(detect_layout)
{
	rs.its[0].iidr = 0;
	rs.its[0].baser[0] = baser(1, DT, false, 1);
	walk(0);
	ck_assert_str_eq(img->its[0].layout->name, "tcg");
	ck_assert_str_eq(img->its[0].layout_why,
			 "GITS_IIDR 0: QEMU's emulated ITS never stores it");
	its_image_free(img);
	img = NULL;
	snapshot_close(snap);
	snap = NULL;
	/* with no IIDR, TCG-shaped entries (valid bit 0) decide */
	rs.its[0].present &= ~ITS_REG_IIDR;
	put(CT, 0x1);
	put(CT + 8, 0x3);
	walk(0);
	ck_assert_str_eq(img->its[0].layout->name, "tcg");
	ck_assert_str_eq(img->its[0].layout_why,
			 "2 table entries carry QEMU's valid bit 0, 0 KVM's bit 63 (no GITS_IIDR given)");
	/* indexed collections: the ICID is the slot */
	ck_assert_uint_eq(img->its[0].nr_ctes, 2);
	ck_assert_uint_eq(img->its[0].ctes[1].e.icid, 1);
	ck_assert_uint_eq(img->its[0].ctes[1].e.target, 1);
	its_image_free(img);
	img = NULL;
	snapshot_close(snap);
	snap = NULL;
	rs.its[0].present |= ITS_REG_IIDR;
	rs.its[0].iidr = 0x0100043b;
	walk(-ENOTSUP);
	ck_assert_str_eq(err.msg, "ITS 0: unknown ITS implementation (GITS_IIDR 0x100043b: neither KVM's 0x4b00043b nor QEMU's 0); choose a table format with --layout kvm or --layout tcg");
}
END_TEST

Suite *suite_walk(void)
{
	Suite *s = suite_create("walk");
	TCase *tc = tcase_create("walk");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, flat_table);
	tcase_add_test(tc, two_level);
	tcase_add_test(tc, invalid_entries_kept);
	tcase_add_test(tc, holes_and_flags);
	tcase_add_test(tc, baser_outside_ram);
	tcase_add_test(tc, baser_not_valid);
	tcase_add_test(tc, aliased_itts_read_once);
	tcase_add_test(tc, detect_layout);
	suite_add_tcase(s, tc);
	return s;
}
