/* KVM ITS ABI rev 0 codecs against the worked examples of
 * spec/kvm-its-abi.md §1.2-1.5. */
#include <check.h>

#include "its/bits.h"
#include "its/layout.h"
#include "suites.h"

static void le(uint64_t v, uint8_t b[8])
{
	its_put_le64(b, v);
}

START_TEST(dte_example)
{
	uint8_t b[8];
	struct its_dte d;

	le(0x80100000084F2581ULL, b);
	kvm_dte_decode(b, &d);
	ck_assert(d.valid);
	ck_assert_uint_eq(d.next, 8);
	ck_assert_uint_eq(d.itt, 0x42792C00ULL);
	ck_assert_uint_eq(d.size, 1);
	ck_assert_uint_eq(kvm_dte_encode(&d), 0x80100000084F2581ULL);
	d.next = 0;
	ck_assert_uint_eq(kvm_dte_encode(&d), 0x80000000084F2581ULL);
}
END_TEST

START_TEST(dte_fields_max)
{
	uint8_t b[8];
	struct its_dte d;

	/* next at its 14-bit cap, the highest 52-bit ITT, Size 31 */
	le(0xFFFFFFFFFFFFFFFFULL, b);
	kvm_dte_decode(b, &d);
	ck_assert(d.valid);
	ck_assert_uint_eq(d.next, 16383);
	ck_assert_uint_eq(d.itt, 0x000FFFFFFFFFFF00ULL);
	ck_assert_uint_eq(d.size, 31);
	le(0x7FFFFFFFFFFFFFFFULL, b);
	kvm_dte_decode(b, &d);
	ck_assert(!d.valid);
}
END_TEST

START_TEST(ite_examples)
{
	uint8_t b[8];
	struct its_ite e;

	le(0x0001000020020000ULL, b);
	kvm_ite_decode(b, &e);
	ck_assert(e.valid);
	ck_assert_uint_eq(e.lpi, 8194);
	ck_assert_uint_eq(e.icid, 0);
	ck_assert_uint_eq(e.next, 1);
	ck_assert_uint_eq(kvm_ite_encode(&e), 0x0001000020020000ULL);

	le(0x0000000020040000ULL, b);
	kvm_ite_decode(b, &e);
	ck_assert_uint_eq(e.lpi, 8196);
	ck_assert_uint_eq(e.next, 0);

	/* pINTID 0: no valid bit exists, the entry is unused */
	le(0x0005000000000007ULL, b);
	kvm_ite_decode(b, &e);
	ck_assert(!e.valid);
	ck_assert_uint_eq(e.icid, 7);
	ck_assert_uint_eq(e.next, 5);
}
END_TEST

START_TEST(cte_examples)
{
	uint8_t b[8];
	struct its_cte c;

	le(0x8000000000000000ULL, b);
	kvm_cte_decode(b, &c);
	ck_assert(c.valid);
	ck_assert_uint_eq(c.icid, 0);
	ck_assert_uint_eq(c.target, 0);

	le(0x8000000000010001ULL, b);
	kvm_cte_decode(b, &c);
	ck_assert_uint_eq(c.icid, 1);
	ck_assert_uint_eq(c.target, 1);
	ck_assert_uint_eq(kvm_cte_encode(&c), 0x8000000000010001ULL);

	le(0x8000FFFFFFFF0005ULL, b);
	kvm_cte_decode(b, &c);
	ck_assert_uint_eq(c.icid, 5);
	ck_assert_uint_eq(c.target, COLLECTION_NOT_MAPPED);

	/* bits [51:48] of RDBase are ignored by KVM */
	le(0x800F000000020003ULL, b);
	kvm_cte_decode(b, &c);
	ck_assert_uint_eq(c.target, 2);
	ck_assert_uint_eq(c.icid, 3);
}
END_TEST

START_TEST(l1e_examples)
{
	uint8_t b[8];
	struct its_l1e l;

	le(0x80000000431c0000ULL, b);
	kvm_l1e_decode(b, &l);
	ck_assert(l.valid);
	ck_assert_uint_eq(l.l2, 0x431c0000ULL);
	/* low bits and [62:52] are not part of the address */
	le(0xC01F0000431CFFFFULL, b);
	kvm_l1e_decode(b, &l);
	ck_assert_uint_eq(l.l2, 0x000F0000431C0000ULL);
}
END_TEST

START_TEST(layout_table)
{
	ck_assert_ptr_eq(its_layout_find("kvm"), &its_layout_kvm);
	ck_assert_ptr_eq(its_layout_find("tcg"), &its_layout_tcg);
	ck_assert_ptr_null(its_layout_find("auto"));
	ck_assert_ptr_null(its_layout_find("KVM"));
	ck_assert_uint_eq(its_layout_kvm.dte_size, 8);
	ck_assert_uint_eq(its_layout_kvm.typer, 0x1EF71);
}
END_TEST

/* spec/qemu-tcg-its.md §4-6 and the real samples (samples/README.md) */
START_TEST(tcg_dte)
{
	uint8_t b[8];
	struct its_dte d;

	le(0x0000000010c0fb03ULL, b);	/* qemu10 DeviceID 0x8 */
	tcg_dte_decode(b, &d);
	ck_assert(d.valid);
	ck_assert_uint_eq(d.size, 1);
	ck_assert_uint_eq(d.itt, 0x4303ec00ULL);
	ck_assert_uint_eq(d.next, 0);
	le(0x0000000010e1f501ULL, b);	/* DeviceID 0x18: 1 EventID bit */
	tcg_dte_decode(b, &d);
	ck_assert_uint_eq(d.size, 0);
	ck_assert_uint_eq(d.itt, 0x4387d400ULL);
	le(0x00000000109E4B03ULL, b);	/* spec §4 example */
	tcg_dte_decode(b, &d);
	ck_assert_uint_eq(d.itt, 0x42792C00ULL);
}
END_TEST

START_TEST(tcg_ite)
{
	const uint8_t ev1[12] = { 0x0f, 0x80, 0, 0, 1, 0, 0, 0, 0xff, 0x03, 0, 0 };
	const uint8_t v62[12] = { 0x0f, 0x80, 0, 0xfc, 1, 0, 0, 0, 0xaa, 0xbb, 0, 0 };
	struct its_ite e;

	tcg_ite_decode(ev1, &e);
	ck_assert(e.valid && e.physical);
	ck_assert_uint_eq(e.lpi, 8195);
	ck_assert_uint_eq(e.icid, 1);
	ck_assert_uint_eq(e.vpe_id, 0);
	ck_assert_uint_eq(e.doorbell, 0x3ff);
	ck_assert_uint_eq(e.raw[8], 0xff);
	/* QEMU 6.2 left doorbell bits in [31:26]: not part of the INTID */
	tcg_ite_decode(v62, &e);
	ck_assert_uint_eq(e.lpi, 8195);
	ck_assert_uint_eq(e.icid, 1);
}
END_TEST

START_TEST(tcg_cte_l1e)
{
	uint8_t b[8];
	struct its_cte c;
	struct its_l1e l;

	le(0x3, b);	/* ICID 1 -> CPU1 */
	tcg_cte_decode(b, &c);
	ck_assert(c.valid);
	ck_assert_uint_eq(c.target, 1);
	le(0x2, b);
	tcg_cte_decode(b, &c);
	ck_assert(!c.valid);
	le(0x80000000431c0000ULL, b);
	tcg_l1e_decode(b, &l);
	ck_assert(l.valid);
	ck_assert_uint_eq(l.l2, 0x431c0000ULL);
	/* QEMU keeps low bits, drops bit 51 */
	le(0x80080000431c0123ULL, b);
	tcg_l1e_decode(b, &l);
	ck_assert_uint_eq(l.l2, 0x431c0123ULL);
}
END_TEST

Suite *suite_codec(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("kvm");

	tcase_add_test(tc, dte_example);
	tcase_add_test(tc, dte_fields_max);
	tcase_add_test(tc, ite_examples);
	tcase_add_test(tc, cte_examples);
	tcase_add_test(tc, l1e_examples);
	tcase_add_test(tc, layout_table);
	tcase_add_test(tc, tcg_dte);
	tcase_add_test(tc, tcg_ite);
	tcase_add_test(tc, tcg_cte_l1e);
	suite_add_tcase(s, tc);
	return s;
}
