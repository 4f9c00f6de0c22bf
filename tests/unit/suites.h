#ifndef ITS_TEST_SUITES_H
#define ITS_TEST_SUITES_H

#include <check.h>

Suite *suite_codec(void);
Suite *suite_gmem(void);
Suite *suite_regs(void);
Suite *suite_walk(void);
Suite *suite_elfcore(void);
Suite *suite_migstream(void);

Suite *suite_problem(void);
Suite *suite_restore(void);
Suite *suite_rules(void);
Suite *suite_dump(void);
Suite *suite_fsck(void);
Suite *suite_fsck_cli(void);
Suite *suite_repair_io(void);
Suite *suite_fix(void);
Suite *suite_stream(void);
Suite *suite_render(void);
Suite *suite_term(void);
Suite *suite_fixfuzz(void);
Suite *suite_limits(void);
Suite *suite_real(void);

#endif
