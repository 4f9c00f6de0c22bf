/* Register fields (spec/kvm-its-abi.md §4) and the registers file. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "its/regs.h"
#include "its/regs_file.h"
#include "suites.h"

static uint64_t field(const struct reg_desc *d, const char *name, uint64_t v)
{
	for (size_t i = 0; i < d->nr_fields; i++)
		if (!strcmp(d->fields[i].name, name))
			return reg_field_value(&d->fields[i], v);
	ck_abort_msg("no field %s in %s", name, d->name);
	return 0;
}

START_TEST(baser_example)
{
	/* §4.1: Valid, Indirect, InnerCache 7, Type 1, Entry_Size 8,
	 * PA 0x42590000, inner-shareable, 64 KiB, 1 page */
	uint64_t v = 0xF907000042590600ULL;

	ck_assert_uint_eq(field(&reg_gits_baser, "Valid", v), 1);
	ck_assert_uint_eq(field(&reg_gits_baser, "Indirect", v), 1);
	ck_assert_uint_eq(field(&reg_gits_baser, "InnerCache", v), 7);
	ck_assert_uint_eq(field(&reg_gits_baser, "Type", v), 1);
	ck_assert_uint_eq(field(&reg_gits_baser, "Entry_Size", v), 7);
	ck_assert_uint_eq(field(&reg_gits_baser, "Physical_Address", v), 0x42590000);
	ck_assert_uint_eq(field(&reg_gits_baser, "Shareability", v), 1);
	ck_assert_uint_eq(field(&reg_gits_baser, "Page_Size", v), 2);
	ck_assert_uint_eq(field(&reg_gits_baser, "Size", v), 0);
	ck_assert_uint_eq(GITS_BASER_ENTRY_SIZE(v), 8);
	ck_assert_uint_eq(GITS_BASER_NR_PAGES(v), 1);
}
END_TEST

START_TEST(baser_52bit_address)
{
	/* 64 KiB pages: bits [15:12] are PA[51:48] */
	uint64_t v = 0x8000000042590000ULL | (0x3ULL << 12) | (2ULL << 8);

	ck_assert_uint_eq(its_baser_addr(v, false), 0x0003000042590000ULL);
	/* 4 KiB pages: [47:12] in place */
	v = 0x8000000042593000ULL;
	ck_assert_uint_eq(its_baser_addr(v, false), 0x42593000ULL);
	/* KVM decodes 64K-style whatever Page_Size says */
	ck_assert_uint_eq(its_baser_addr(v, true), 0x0003000042590000ULL);
}
END_TEST

START_TEST(cbaser_propbaser)
{
	uint64_t v = 0xB80000004258040FULL;	/* §4.2 fixture example */

	ck_assert_uint_eq(field(&reg_gits_cbaser, "Valid", v), 1);
	ck_assert_uint_eq(field(&reg_gits_cbaser, "InnerCache", v), 7);
	ck_assert_uint_eq(field(&reg_gits_cbaser, "Physical_Address", v), 0x42580000);
	ck_assert_uint_eq(field(&reg_gits_cbaser, "Size", v), 15);
	ck_assert_uint_eq(field(&reg_gicr_propbaser, "IDbits", 0x425b078fULL), 15);
	ck_assert_uint_eq(field(&reg_gicr_propbaser, "Physical_Address", 0x425b078fULL), 0x425b0000);
	ck_assert_uint_eq(field(&reg_gicr_pendbaser, "Physical_Address", 0x422d0780ULL), 0x422d0000);
	ck_assert_uint_eq(field(&reg_gits_typer, "ITT_entry_size", 0x1EF71), 7);
	ck_assert_uint_eq(field(&reg_gits_typer, "Devbits", 0x1EF71), 15);
	ck_assert_uint_eq(field(&reg_gits_typer, "IDbits", 0x1EF71), 15);
	ck_assert_uint_eq(field(&reg_gits_iidr, "ProductID", 0x4B00043B), 0x4b);
	ck_assert_uint_eq(field(&reg_gits_iidr, "Implementer", 0x4B00043B), 0x43b);
}
END_TEST

static int parse(const char *json, struct its_regset *rs, struct its_err *err)
{
	return its_regs_json_parse(json, strlen(json), "regs.json", rs, err);
}

START_TEST(regs_json_document)
{
	struct its_regset rs = { 0 };
	struct its_err err;
	const char *doc =
		"{\"format_version\":1,\"its\":[{\"index\":0,\"registers\":{"
		"\"GITS_CTLR\":\"0x80000001\",\"GITS_IIDR\":\"0x4b00043b\","
		"\"GITS_CBASER\":\"0xb80000004229040f\",\"GITS_CWRITER\":\"0x700\","
		"\"GITS_CREADR\":null,\"GITS_BASER\":[\"0xf9070000422a0600\","
		"\"0xbc070000422b0600\",\"0x0\",null]}}],"
		"\"redistributors\":[{\"cpu\":0,\"GICR_PROPBASER\":\"0x422c078f\","
		"\"GICR_PENDBASER\":\"0x422d0780\",\"fields\":{}},{\"cpu\":1,\"GICR_PENDBASER\":"
		"\"0x422e0780\",\"GICR_PROPBASER\":null}]}\n";

	ck_assert_int_eq(parse(doc, &rs, &err), 0);
	ck_assert_uint_eq(rs.nr_its, 1);
	ck_assert_uint_eq(rs.its[0].ctlr, 0x80000001);
	ck_assert_uint_eq(rs.its[0].iidr, 0x4b00043b);
	ck_assert_uint_eq(rs.its[0].cbaser, 0xb80000004229040fULL);
	ck_assert_uint_eq(rs.its[0].cwriter, 0x700);
	ck_assert_uint_eq(rs.its[0].baser[0], 0xf9070000422a0600ULL);
	ck_assert_uint_eq(rs.its[0].baser[1], 0xbc070000422b0600ULL);
	ck_assert_uint_eq(rs.its[0].present,
			  ITS_REG_CTLR | ITS_REG_IIDR | ITS_REG_CBASER |
			  ITS_REG_CWRITER | ITS_REG_BASER(0) |
			  ITS_REG_BASER(1) | ITS_REG_BASER(2));
	ck_assert_uint_eq(rs.nr_rd, 2);
	ck_assert_uint_eq(rs.rd[0].propbaser, 0x422c078f);
	ck_assert_uint_eq(rs.rd[0].present, GICR_REG_PROPBASER | GICR_REG_PENDBASER);
	ck_assert_uint_eq(rs.rd[1].pendbaser, 0x422e0780);
	ck_assert_uint_eq(rs.rd[1].present, GICR_REG_PENDBASER);
	its_regset_release(&rs);
}
END_TEST

START_TEST(regs_json_bare_object)
{
	struct its_regset rs = { 0 };
	struct its_err err;

	ck_assert_int_eq(parse("{\"GITS_IIDR\": 0, \"GITS_BASER1\": \"0xbc070000425a0600\"}", &rs, &err), 0);
	ck_assert_uint_eq(rs.nr_its, 1);
	ck_assert_uint_eq(rs.its[0].present, ITS_REG_IIDR | ITS_REG_BASER(1));
	ck_assert_uint_eq(rs.its[0].baser[1], 0xbc070000425a0600ULL);
	its_regset_release(&rs);
	ck_assert_int_eq(parse("{\"registers\":{\"GITS_CTLR\":\"1\"}}", &rs, &err), 0);
	ck_assert_uint_eq(rs.its[0].ctlr, 1);
	its_regset_release(&rs);
}
END_TEST

START_TEST(regs_json_errors)
{
	struct its_regset rs = { 0 };
	struct its_err err;

	ck_assert_int_eq(parse("{\"GITS_CTLR\":\"0x100000000\"}", &rs, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "key 'registers.GITS_CTLR': expected a 32-bit value such as \"0x80000001\"");
	its_regset_release(&rs);
	ck_assert_int_eq(parse("{\"its\":[{\"registers\":{\"GITS_BASER\":[\"x\"]}}]}", &rs, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "key 'its[0].registers.GITS_BASER[0]': expected a 64-bit value such as \"0xf907000042590600\"");
	its_regset_release(&rs);
	ck_assert_int_eq(parse("{\"GITS_BOGUS\":\"0x1\"}", &rs, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "key 'registers.GITS_BOGUS': unknown register") == err.msg, "%s", err.msg);
	its_regset_release(&rs);
	ck_assert_int_eq(parse("{\"GITS_CTLR\":-1}", &rs, &err), -EINVAL);
	its_regset_release(&rs);
	ck_assert_int_eq(parse("{\"GITS_CTLR\":1.5}", &rs, &err), -EINVAL);
	its_regset_release(&rs);
	ck_assert_int_eq(parse("{\"GITS_CTLR\":\"0x1\"", &rs, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "not valid JSON: unexpected end of file");
	its_regset_release(&rs);
	ck_assert_int_eq(parse("{} x", &rs, &err), -EINVAL);
	ck_assert_uint_eq(err.offset, 3);
	its_regset_release(&rs);
	ck_assert_int_eq(parse("[1]", &rs, &err), -EINVAL);
	its_regset_release(&rs);
	ck_assert_int_eq(parse("{\"its\":[{\"index\":99,\"registers\":{}}]}", &rs, &err), -EINVAL);
	its_regset_release(&rs);
	ck_assert_int_eq(parse("{\"redistributors\":[{\"cpu\":5000}]}", &rs, &err), -EINVAL);
	its_regset_release(&rs);
}
END_TEST

START_TEST(overlay_later_wins)
{
	struct its_regset a = { 0 }, b = { 0 };
	struct its_err err;

	ck_assert_int_eq(parse("{\"GITS_CTLR\":\"1\",\"GITS_IIDR\":\"2\"}", &a, &err), 0);
	ck_assert_int_eq(parse("{\"GITS_IIDR\":\"3\",\"GITS_BASER\":[\"4\"]}", &b, &err), 0);
	ck_assert_int_eq(its_regset_overlay(&a, &b), 0);
	ck_assert_uint_eq(a.its[0].ctlr, 1);
	ck_assert_uint_eq(a.its[0].iidr, 3);
	ck_assert_uint_eq(a.its[0].baser[0], 4);
	ck_assert_uint_eq(a.its[0].present, ITS_REG_CTLR | ITS_REG_IIDR | ITS_REG_BASER(0));
	its_regset_release(&a);
	its_regset_release(&b);
}
END_TEST

START_TEST(parse_u64)
{
	uint64_t v;

	ck_assert_int_eq(its_parse_u64("0xffffffffffffffff", UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(its_parse_u64("0x10000000000000000", UINT64_MAX, &v), -EINVAL);
	ck_assert_int_eq(its_parse_u64("12", 11, &v), -EINVAL);
	ck_assert_int_eq(its_parse_u64("-1", UINT64_MAX, &v), -EINVAL);
	ck_assert_int_eq(its_parse_u64("", UINT64_MAX, &v), -EINVAL);
	ck_assert_int_eq(its_parse_u64("0x", UINT64_MAX, &v), -EINVAL);
	ck_assert_int_eq(its_parse_u64("7z", UINT64_MAX, &v), -EINVAL);
}
END_TEST

Suite *suite_regs(void)
{
	Suite *s = suite_create("regs");
	TCase *tc = tcase_create("regs");

	tcase_add_test(tc, baser_example);
	tcase_add_test(tc, baser_52bit_address);
	tcase_add_test(tc, cbaser_propbaser);
	tcase_add_test(tc, regs_json_document);
	tcase_add_test(tc, regs_json_bare_object);
	tcase_add_test(tc, regs_json_errors);
	tcase_add_test(tc, overlay_later_wins);
	tcase_add_test(tc, parse_u64);
	suite_add_tcase(s, tc);
	return s;
}
