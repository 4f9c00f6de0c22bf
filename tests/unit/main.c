/* One runner for every suite: unit suites (codecs, gmem, registers, walker,
 * ELF and stream readers) and the its-dump suite that runs the built
 * programs. The suite of real QEMU captures joins when ITS_REAL_DIR names
 * make-real-fixtures.sh's output (make check-real). */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(suite_codec());
	int failed;

	srunner_add_suite(sr, suite_gmem());
	srunner_add_suite(sr, suite_regs());
	srunner_add_suite(sr, suite_walk());
	srunner_add_suite(sr, suite_elfcore());
	srunner_add_suite(sr, suite_migstream());
	srunner_add_suite(sr, suite_problem());
	srunner_add_suite(sr, suite_restore());
	srunner_add_suite(sr, suite_rules());
	srunner_add_suite(sr, suite_dump());
	srunner_add_suite(sr, suite_fsck());
	srunner_add_suite(sr, suite_fsck_cli());
	srunner_add_suite(sr, suite_repair_io());
	srunner_add_suite(sr, suite_fix());
	srunner_add_suite(sr, suite_stream());
	srunner_add_suite(sr, suite_render());
	srunner_add_suite(sr, suite_term());
	srunner_add_suite(sr, suite_fixfuzz());
	srunner_add_suite(sr, suite_limits());
	if (getenv("ITS_REAL_DIR"))
		srunner_add_suite(sr, suite_real());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
