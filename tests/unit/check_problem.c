/* The problem table: codes strictly increasing within and across groups,
 * names unique and upper case, every row complete. */
#include <check.h>
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "its/problems.h"
#include "suites.h"

START_TEST(codes_increasing_names_unique)
{
	for (size_t i = 0; i < PR_COUNT; i++) {
		const struct problem_info *p = &problem_table[i];

		ck_assert_int_eq(p->id, (int)i);
		ck_assert_ptr_eq(problem_get(p->id), p);
		ck_assert_ptr_eq(problem_by_name(p->name), p);
		if (i)
			ck_assert_msg(problem_table[i - 1].code < p->code,
				      "%s (0x%06x) does not follow %s (0x%06x)", p->name,
				      p->code, problem_table[i - 1].name,
				      problem_table[i - 1].code);
		for (const char *c = p->name; *c; c++)
			ck_assert_msg(isupper((unsigned char)*c) || isdigit((unsigned char)*c) ||
				      *c == '_', "%s: not an upper-case id", p->name);
		ck_assert_msg(p->message[0] && p->kvm[0], "%s: empty text", p->name);
		ck_assert_msg(!strchr(p->message, '\n') && p->message[strlen(p->message) - 1] != '.',
			      "%s: message must be one line without a full stop", p->name);
	}
	ck_assert_ptr_null(problem_by_name("NO_SUCH_PROBLEM"));
	ck_assert_ptr_null(problem_get(PR_COUNT));
}
END_TEST

START_TEST(groups_and_names)
{
	static const uint32_t groups[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x07 };

	for (size_t i = 0; i < PR_COUNT; i++) {
		bool ok = false;

		for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
			ok |= problem_table[i].code >> 16 == groups[g];
		ck_assert_msg(ok, "%s: code 0x%06x in no group", problem_table[i].name,
			      problem_table[i].code);
	}
	ck_assert_str_eq(problem_severity_name(SEV_ERROR), "error");
	ck_assert_str_eq(problem_severity_name(SEV_INFO), "info");
	ck_assert_str_eq(problem_repair_name(REPAIR_OPTIN), "opt-in");
	ck_assert_uint_eq(problem_by_name("ITE_LPI_BELOW_MIN")->code, 0x030001);
	ck_assert_int_eq(problem_by_name("ITE_LPI_BELOW_MIN")->severity, SEV_ERROR);
}
END_TEST

Suite *suite_problem(void)
{
	Suite *s = suite_create("problem");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, codes_increasing_names_unique);
	tcase_add_test(tc, groups_and_names);
	suite_add_tcase(s, tc);
	return s;
}
