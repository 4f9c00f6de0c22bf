/* The KVM restore model on hand-built tables: walk order, terminators,
 * next jumps, L2 page cuts, entries before the head, errno precedence,
 * kernel profiles, and what is dropped and why (spec/kvm-its-abi.md §2.3,
 * §6.3). */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "its/check.h"
#include "its/repair.h"
#include "ramimg.h"
#include "suites.h"

static struct ramimg R;
static struct check_ctx cx;
static struct restore_result rr;
static struct findings fs;

static void setup(void)
{
	ri_setup(&R);
	memset(&cx, 0, sizeof(cx));
	memset(&rr, 0, sizeof(rr));
	findings_init(&fs);
	kernel_profile_upstream(&cx.profile);
	cx.nr_vcpus = 2;
	ri_put(&R, RI_CT + 0, ri_cte(0, 0));
	ri_put(&R, RI_CT + 8, ri_cte(1, 1));
}

static void teardown(void)
{
	restore_result_release(&rr);
	findings_release(&fs);
	ri_teardown(&R);
}

static void run(const char *kernel)
{
	struct its_err err;

	ck_assert_int_eq(ri_walk(&R), 0);
	if (kernel)
		ck_assert_int_eq(kernel_profile_parse(kernel, &cx.profile, &err), 0);
	cx.snap = R.snap;
	cx.mem = R.snap->mem;
	cx.img = R.img;
	restore_result_release(&rr);
	findings_release(&fs);
	findings_init(&fs);
	ck_assert_int_eq(kvm_restore_run(&cx, 0, &rr, &fs, &err), 0);
}

/* DeviceID 8 (2 events) -> DeviceID 16 (1 event), flat table */
static void two_devices(void)
{
	R.rs.its[0].baser[0] = ri_baser(1, RI_DT, false, 1);
	ri_put(&R, RI_DT + 8 * 8, ri_dte(RI_ITT, 2, 8));
	ri_put(&R, RI_DT + 16 * 8, ri_dte(RI_ITT + 0x100, 1, 0));
	ri_put(&R, RI_ITT, ri_ite(8192, 0, 1));
	ri_put(&R, RI_ITT + 8, ri_ite(8193, 1, 0));
	ri_put(&R, RI_ITT + 0x100, ri_ite(8194, 1, 0));
}

START_TEST(healthy_flat)
{
	two_devices();
	run(NULL);
	ck_assert_uint_eq(rr.nr_fails, 0);
	ck_assert_uint_eq(rr.nr_ctes, 2);
	ck_assert_uint_eq(rr.ct_terminator, 2);
	ck_assert_uint_eq(rr.nr_devs, 2);
	ck_assert_uint_eq(rr.nr_events, 3);
	ck_assert_uint_eq(rr.devs[0].device_id, 8);
	ck_assert_uint_eq(rr.devs[0].events[1].lpi, 8193);
	ck_assert_int_eq(rr.devs[0].events[1].vcpu, 1);
	ck_assert(rr.terminated);
	ck_assert_uint_eq(rr.terminated_at, 16);
	/* 3 CTE slots; DTE slots 0..8 and 16; 2 + 1 ITEs */
	ck_assert_uint_eq(rr.entries_read, 3 + 10 + 3);
	ck_assert_uint_eq(rr.nr_drops, 0);
	ck_assert_uint_eq(fs.nr, 0);
}
END_TEST

/* A stale valid DTE before the head is restored as live, and its next = 0
 * ends the walk: the real devices are silently dropped (spec §0 item 3). */
START_TEST(entry_before_head_terminates)
{
	two_devices();
	ri_put(&R, RI_DT + 2 * 8, ri_dte(RI_ITT + 0x200, 1, 0));
	ri_put(&R, RI_ITT + 0x200, ri_ite(8200, 0, 0));
	run(NULL);
	ck_assert_uint_eq(rr.nr_fails, 0);
	ck_assert_uint_eq(rr.nr_devs, 1);
	ck_assert_uint_eq(rr.devs[0].device_id, 2);
	/* each dropped DTE, then its events, never read */
	ck_assert_uint_eq(rr.nr_drops, 5);
	ck_assert_uint_eq(rr.drops[0].device_id, 8);
	ck_assert_int_eq(rr.drops[0].table, ITS_TABLE_DEVICES);
	ck_assert_int_eq(rr.drops[0].reason, DROP_AFTER_TERMINATOR);
	ck_assert_int_eq(rr.drops[1].table, ITS_TABLE_ITT);
	ck_assert_int_eq(rr.drops[1].event_id, 0);
	ck_assert_int_eq(rr.drops[1].reason, DROP_NOT_WALKED);
	ck_assert_int_eq(rr.drops[2].event_id, 1);
	ck_assert_uint_eq(rr.drops[3].device_id, 16);
	ck_assert_int_eq(rr.drops[4].device_id, 16);
	ck_assert_int_eq(rr.drops[4].reason, DROP_NOT_WALKED);
	ck_assert_uint_eq(findings_count(&fs, PR_DTE_DROPPED), 2);
	ck_assert_uint_eq(findings_count(&fs, PR_ITE_DROPPED), 3);
}
END_TEST

START_TEST(jumped_over)
{
	two_devices();
	ri_put(&R, RI_DT + 12 * 8, ri_dte(RI_ITT + 0x200, 1, 0));
	ri_put(&R, RI_ITT + 8, ri_ite(8193, 1, 0));
	/* EventID 0 -> 2 jumps over EventID 1 */
	ri_put(&R, RI_ITT, ri_ite(8192, 0, 2));
	ri_put(&R, RI_ITT + 16, ri_ite(8195, 0, 0));
	run(NULL);
	ck_assert_uint_eq(rr.nr_fails, 0);
	ck_assert_uint_eq(rr.nr_devs, 2);
	ck_assert_uint_eq(rr.devs[0].nr_events, 2);
	/* listed in table order: DeviceID 8's event, then DeviceID 12 */
	ck_assert_uint_eq(rr.nr_drops, 2);
	ck_assert_int_eq(rr.drops[0].table, ITS_TABLE_ITT);
	ck_assert_uint_eq(rr.drops[0].device_id, 8);
	ck_assert_uint_eq(rr.drops[0].event_id, 1);
	ck_assert_int_eq(rr.drops[0].reason, DROP_JUMPED_OVER);
	ck_assert_int_eq(rr.drops[1].table, ITS_TABLE_DEVICES);
	ck_assert_uint_eq(rr.drops[1].device_id, 12);
	ck_assert_int_eq(rr.drops[1].reason, DROP_JUMPED_OVER);
}
END_TEST

/* Collections are restored first: their failure is the verdict even when
 * an ITE fails too; every failure is still reported. */
START_TEST(errno_precedence)
{
	two_devices();
	ri_put(&R, RI_CT + 16, ri_cte(0, 1));		/* duplicate ICID 0 */
	ri_put(&R, RI_ITT + 8, ri_ite(42, 1, 0));	/* LPI < 8192 */
	run(NULL);
	ck_assert_uint_eq(rr.nr_fails, 2);
	ck_assert_int_eq(rr.fails[0].err, -EEXIST);
	ck_assert_int_eq(rr.fails[0].problem, PR_CTE_DUPLICATE_ICID);
	ck_assert_uint_eq(rr.fails[0].where.gpa, RI_CT + 16);
	ck_assert_int_eq(rr.fails[1].err, -EINVAL);
	ck_assert_int_eq(rr.fails[1].problem, PR_ITE_LPI_BELOW_MIN);
	ck_assert_int_eq(rr.fails[1].where.device_id, 8);
	ck_assert_int_eq(rr.fails[1].where.event_id, 1);
	ck_assert_uint_eq(rr.fails[1].where.gpa, RI_ITT + 8);
}
END_TEST

START_TEST(ite_checks_in_order)
{
	two_devices();
	/* next past the ITT (1 + 3 >= 4), then an unknown ICID */
	ri_put(&R, RI_ITT + 8, ri_ite(8193, 1, 3));
	ri_put(&R, RI_ITT + 0x100, ri_ite(8194, 7, 0));
	run(NULL);
	ck_assert_uint_eq(rr.nr_fails, 2);
	ck_assert_int_eq(rr.fails[0].problem, PR_ITE_NEXT_BEYOND_ITT);
	ck_assert_int_eq(rr.fails[1].problem, PR_ITE_ICID_UNKNOWN);
	ck_assert_int_eq(rr.fails[1].where.icid, 7);
}
END_TEST

START_TEST(cte_target_and_profiles)
{
	two_devices();
	ri_put(&R, RI_CT + 8, ri_cte(1, 5));		/* vCPU 5 of 2 */
	run(NULL);
	ck_assert_int_eq(rr.fails[0].problem, PR_CTE_TARGET_NO_VCPU);
	ck_assert_int_eq(rr.fails[0].err, -EINVAL);
	/* unmapped: fine upstream (info), EINVAL before 5.6 */
	ri_put(&R, RI_CT + 8, ri_cte(1, 0xffffffff));
	run(NULL);
	ck_assert_uint_eq(rr.nr_fails, 0);
	ck_assert_uint_eq(findings_count(&fs, PR_CTE_UNMAPPED), 1);
	ck_assert_int_eq(rr.devs[0].events[1].vcpu, -1);
	run("5.5");
	/* the CTE, then both ITEs naming ICID 1 */
	ck_assert_uint_eq(rr.nr_fails, 3);
	ck_assert_int_eq(rr.fails[0].problem, PR_CTE_UNMAPPED);
	ck_assert_int_eq(rr.fails[1].problem, PR_ITE_ICID_UNKNOWN);
	ck_assert_int_eq(rr.fails[2].problem, PR_ITE_ICID_UNKNOWN);
	ck_assert_int_eq(rr.fails[2].where.device_id, 16);
}
END_TEST

START_TEST(icid_range_by_profile)
{
	two_devices();
	ri_put(&R, RI_CT + 8, ri_cte(9000, 1));	/* table holds 8192 */
	ri_put(&R, RI_ITT + 8, ri_ite(8193, 9000, 0));
	run(NULL);
	ck_assert_int_eq(rr.fails[0].problem, PR_CTE_ICID_RANGE);
	ck_assert_int_eq(rr.fails[0].err, -EINVAL);
	/* before 5.19 the collection silently vanishes; its ITE fails */
	run("5.18");
	ck_assert_int_eq(rr.fails[0].problem, PR_ITE_ICID_UNKNOWN);
	ck_assert_uint_eq(findings_count(&fs, PR_CTE_ICID_RANGE), 1);
}
END_TEST

START_TEST(size_check_by_profile)
{
	two_devices();
	ri_put(&R, RI_DT + 16 * 8, ri_dte(RI_ITT + 0x100, 17, 0));
	run(NULL);
	ck_assert_int_eq(rr.fails[0].problem, PR_DTE_SIZE_RANGE);
	ck_assert_int_eq(rr.fails[0].where.device_id, 16);
	run("6.6");
	ck_assert_uint_eq(rr.nr_fails, 0);
	ck_assert_uint_eq(rr.nr_devs, 2);
	ck_assert_uint_eq(findings_count(&fs, PR_DTE_SIZE_RANGE), 1);
}
END_TEST

START_TEST(empty_table_by_profile)
{
	R.rs.its[0].baser[0] = ri_baser(1, RI_DT, false, 1);
	run(NULL);
	ck_assert_uint_eq(rr.nr_fails, 0);
	ck_assert_uint_eq(findings_count(&fs, PR_DTE_TABLE_EMPTY), 1);
	ck_assert_uint_eq(rr.entries_read, 3 + 8192);
	run("4.14");
	ck_assert_uint_eq(rr.nr_fails, 1);
	ck_assert_int_eq(rr.fails[0].problem, PR_DTE_TABLE_EMPTY);
	ck_assert_int_eq(rr.fails[0].err, -EINVAL);
}
END_TEST

/* Two-level: a next past its L2 page ends that page's walk (>= 6.1) and
 * the walk goes on with the next L1 entry; kernels before the Oct 2022 fix
 * run on past the page (F7). */
START_TEST(l2_page_cut)
{
	/* below L2A, so that a walk running past L2A's end does not meet it */
	uint64_t l2b = RI_RAM;

	R.rs.its[0].baser[0] = ri_baser(1, RI_DT, true, 1);
	ri_put(&R, RI_DT, 0x8000000000000000ULL | RI_L2A);
	ri_put(&R, RI_DT + 8, 0x8000000000000000ULL | l2b);
	ri_put(&R, RI_L2A + 8190 * 8, ri_dte(RI_ITT, 1, 3));
	ri_put(&R, l2b + 1 * 8, ri_dte(RI_ITT + 0x100, 1, 0));
	ri_put(&R, RI_ITT, ri_ite(8192, 0, 0));
	ri_put(&R, RI_ITT + 0x100, ri_ite(8193, 1, 0));
	run(NULL);
	ck_assert_uint_eq(rr.nr_fails, 0);
	ck_assert_uint_eq(rr.nr_devs, 2);
	ck_assert_uint_eq(rr.devs[1].device_id, 8193);
	/* 6.0.5 walks on from L2A past its end, over zeros to the end of RAM */
	run("6.0.5");
	ck_assert_uint_ge(rr.nr_fails, 1);
	ck_assert_int_eq(rr.fails[0].err, -EFAULT);
	ck_assert_int_eq(rr.fails[0].problem, PR_MEM_NOT_RAM);
	ck_assert_uint_eq(rr.fails[0].where.gpa, RI_RAM + RI_RAMSZ);
}
END_TEST

START_TEST(devid_beyond_16_bits)
{
	R.rs.its[0].baser[0] = ri_baser(1, RI_DT, true, 1);
	ri_put(&R, RI_DT + 8 * 8, 0x8000000000000000ULL | RI_L2B);	/* L1[8] */
	ri_put(&R, RI_L2B + 8, ri_dte(RI_ITT, 1, 0));
	ri_put(&R, RI_ITT, ri_ite(8192, 0, 0));
	run(NULL);
	ck_assert_int_eq(rr.fails[0].problem, PR_DTE_DEVID_RANGE);
	ck_assert_int_eq(rr.fails[0].where.device_id, 65537);
	run("5.18");
	ck_assert_uint_eq(rr.nr_fails, 0);
	ck_assert_uint_eq(rr.nr_devs, 1);
	ck_assert_uint_eq(findings_count(&fs, PR_DTE_DEVID_RANGE), 1);
}
END_TEST

START_TEST(property_byte_outside_ram)
{
	two_devices();
	R.rs.rd[1].propbaser = 0x8000078fULL;	/* KVM keeps the last one */
	R.rs.rd[1].present = GICR_REG_PROPBASER;
	run(NULL);
	ck_assert_int_eq(rr.fails[0].err, -EFAULT);
	ck_assert_int_eq(rr.fails[0].problem, PR_MEM_NOT_RAM);
	ck_assert_uint_eq(rr.fails[0].where.gpa, 0x80000000ULL);
	ck_assert_int_eq(rr.fails[0].where.event_id, 0);
}
END_TEST

START_TEST(cte_after_terminator)
{
	two_devices();
	ri_put(&R, RI_CT + 32, ri_cte(4, 1));
	run(NULL);
	ck_assert_uint_eq(rr.nr_ctes, 2);
	ck_assert_uint_eq(rr.nr_drops, 1);
	ck_assert_int_eq(rr.drops[0].table, ITS_TABLE_COLLECTIONS);
	ck_assert_int_eq(rr.drops[0].icid, 4);
	ck_assert_uint_eq(findings_count(&fs, PR_CTE_AFTER_TERMINATOR), 1);
}
END_TEST

/* Fuzz regression (tests/fuzz/regress/plan-cte-target-masks-icid-range):
 * KVM checks a CTE's target before its ICID's range, so a CTE failing on
 * its target hides CTE_ICID_RANGE. Making it unmapped only swapped one
 * EINVAL for another: the planner must refuse it, not report a new error. */
START_TEST(cte_target_masks_icid_range)
{
	struct check_result cr = { 0 };
	struct repair_plan plan;
	struct its_err err;

	two_devices();
	ri_put(&R, RI_CT + 16, ri_cte(9000, 7));
	run(NULL);
	ck_assert_uint_eq(rr.nr_fails, 1);
	ck_assert_int_eq(rr.fails[0].err, -EINVAL);
	ck_assert_int_eq(rr.fails[0].problem, PR_CTE_TARGET_NO_VCPU);
	ck_assert_uint_eq(findings_count(&fs, PR_CTE_ICID_RANGE), 0);
	ck_assert_int_eq(check_run(&cx, &cr, &err), 0);
	ck_assert_int_eq(repair_plan_build(&cx, &cr, REPAIR_MODE_ALL, &plan, &err), 0);
	for (size_t i = 0; i < plan.nr; i++)
		ck_assert_int_ne(plan.v[i].problem, PR_CTE_TARGET_NO_VCPU);
	ck_assert_uint_ge(plan.nr_refused, 1);
	ck_assert_str_eq(plan.refused[plan.nr_refused - 1],
			 "CTE_TARGET_NO_VCPU repairs: the check would newly report CTE_ICID_RANGE (1 time)");
	repair_plan_release(&plan);
	check_result_release(&cr);
}
END_TEST

/* Fuzz regression (tests/fuzz/regress/walk-many-failures): an ITT whose
 * every entry fails listed 65536 failures, and deciding what the restore
 * dropped looked each entry up in that list and in the device's restored
 * events one by one: 2^32 comparisons, seconds on a table of 512 KiB (the
 * fuzzer's input took over a second). Both lookups are binary searches now;
 * the counts must not change. */
START_TEST(many_failures_stay_linear)
{
	/* DeviceIDs 0..7 share one ITT, as the fuzzer's did: 2^18
	 * failures, 2^19 entries to judge */
	R.rs.its[0].baser[0] = ri_baser(1, RI_DT, false, 1);
	for (unsigned d = 0; d < 8; d++)
		ri_put(&R, RI_DT + 8 * d, ri_dte(RI_ITT, 16, d < 7 ? 1 : 0));
	for (uint32_t ev = 0; ev < 65536; ev++)
		ri_put(&R, RI_ITT + 8ULL * ev,
		       ri_ite(8192 + (ev & 0x3fff), ev & 1 ? 1 : 100, ev < 65535 ? 1 : 0));
	run(NULL);
	/* the even events name ICID 100, which has no collection */
	ck_assert_uint_eq(rr.nr_fails, 8 * 32768);
	ck_assert_int_eq(rr.fails[0].err, -EINVAL);
	ck_assert_uint_eq(rr.nr_devs, 8);
	ck_assert_uint_eq(rr.devs[7].nr_events, 32768);
	ck_assert_uint_eq(rr.nr_drops, 0);
}
END_TEST

Suite *suite_restore(void)
{
	Suite *s = suite_create("restore");
	TCase *tc = tcase_create("restore");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, healthy_flat);
	tcase_add_test(tc, entry_before_head_terminates);
	tcase_add_test(tc, jumped_over);
	tcase_add_test(tc, errno_precedence);
	tcase_add_test(tc, ite_checks_in_order);
	tcase_add_test(tc, cte_target_and_profiles);
	tcase_add_test(tc, icid_range_by_profile);
	tcase_add_test(tc, size_check_by_profile);
	tcase_add_test(tc, empty_table_by_profile);
	tcase_add_test(tc, l2_page_cut);
	tcase_add_test(tc, devid_beyond_16_bits);
	tcase_add_test(tc, property_byte_outside_ram);
	tcase_add_test(tc, cte_after_terminator);
	tcase_add_test(tc, cte_target_masks_icid_range);
	tcase_add_test(tc, many_failures_stay_linear);
	suite_add_tcase(s, tc);
	return s;
}
