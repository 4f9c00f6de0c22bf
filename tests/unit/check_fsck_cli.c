/* its-fsck as a program: the real samples' verdicts, --strict, jq on the
 * JSON, --list-problems, usage errors. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its/problems.h"
#include "suites.h"
#include "testutil.h"

static void teardown(void)
{
	t_cleanup();
}

static json_object *jget(json_object *o, const char *k)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, k, &v), "no key %s", k);
	return v;
}

static char *sample(const char *name)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/%s", t_env("ITS_SAMPLES_DIR"), name), 0);
	return p;
}

/* QEMU's emulated ITS: no KVM restore; QEMU delivers all 16 events. */
START_TEST(qemu10_sample_tcg)
{
	char *prog = t_build("its-fsck"), *path = sample("qemu10-virt-its-stopped.mig");
	const char *argv[] = { prog, "-j", path, NULL };
	const char *strict[] = { prog, "--strict", path, NULL };
	json_object *doc, *v, *p;
	struct t_run r;

	t_run(&r, argv);
	ck_assert_int_eq(r.status, 0);
	doc = json_tokener_parse(r.out);
	ck_assert_ptr_nonnull(doc);
	v = jget(doc, "verdict");
	ck_assert_str_eq(json_object_get_string(jget(v, "restore")), "n/a");
	ck_assert_str_eq(json_object_get_string(jget(v, "layout")), "qemu-tcg");
	ck_assert_uint_eq(json_object_array_length(jget(v, "delivering")), 16);
	ck_assert_uint_eq(json_object_array_length(jget(v, "undeliverable")), 0);
	p = json_object_array_get_idx(jget(v, "delivering"), 1);
	ck_assert_int_eq(json_object_get_int(jget(p, "device_id")), 8);
	ck_assert_int_eq(json_object_get_int(jget(p, "lpi")), 8195);
	ck_assert_int_eq(json_object_get_int(jget(p, "vcpu")), 1);
	p = jget(doc, "problems");
	ck_assert_uint_eq(json_object_array_length(p), 1);
	ck_assert_str_eq(json_object_get_string(jget(json_object_array_get_idx(p, 0), "code")),
			 "LAYOUT_QEMU_TCG");
	json_object_put(doc);
	t_run_free(&r);
	/* --strict: the info finding counts */
	t_run(&r, strict);
	ck_assert_int_eq(r.status, 4);
	t_run_free(&r);
	free(path);
	free(prog);
}
END_TEST

/* The KVM-ABI sample restores cleanly: 2 collections, 6 devices, 20 events. */
START_TEST(kvm_sample_ok)
{
	char *prog = t_build("its-fsck"), *path = sample("kvm-virt-2level.mig");
	const char *argv[] = { prog, "-j", "--kernel", "5.10", path, NULL };
	json_object *doc, *v;
	struct t_run r;

	t_run(&r, argv);
	ck_assert_msg(r.status == 0, "%s%s", r.out, r.err);
	doc = json_tokener_parse(r.out);
	v = jget(doc, "verdict");
	ck_assert_str_eq(json_object_get_string(jget(v, "restore")), "ok");
	ck_assert_str_eq(json_object_get_string(jget(v, "kernel")), "5.10");
	ck_assert_int_eq(json_object_get_int(jget(v, "collections")), 2);
	ck_assert_int_eq(json_object_get_int(jget(v, "devices")), 6);
	ck_assert_int_eq(json_object_get_int(jget(v, "events")), 20);
	ck_assert_int_eq(json_object_get_int(jget(v, "entries_read")), 38);
	ck_assert_uint_eq(json_object_array_length(jget(doc, "problems")), 0);
	ck_assert_uint_eq(json_object_array_length(jget(doc, "dropped")), 0);
	json_object_put(doc);
	t_run_free(&r);
	free(path);
	free(prog);
}
END_TEST

/* The README's recipe: the codes of the errors, through jq. */
START_TEST(jq_error_codes)
{
	char *prog = t_build("its-fsck"), *writer = t_build("its-fixture");
	char spec[512], elf[512], regs[512], json[512];
	struct t_run r;
	FILE *f;

	snprintf(spec, sizeof(spec), "%s/tests/fixtures/bad-next.json", t_env("ITS_SOURCE_DIR"));
	snprintf(elf, sizeof(elf), "%s/x.elf", t_tmpdir());
	snprintf(regs, sizeof(regs), "%s/x.regs.json", t_tmpdir());
	snprintf(json, sizeof(json), "%s/x.json", t_tmpdir());
	{
		const char *argv[] = { writer, spec, "-o", elf, "--regs", regs, NULL };

		t_run(&r, argv);
		ck_assert_int_eq(r.status, 0);
		t_run_free(&r);
	}
	{
		const char *argv[] = { prog, "-j", "--its-regs", regs, elf, NULL };

		t_run(&r, argv);
		ck_assert_int_eq(r.status, 4);
		f = fopen(json, "w");
		fputs(r.out, f);
		fclose(f);
		t_run_free(&r);
	}
	{
		const char *argv[] = { "/usr/bin/jq", "-r",
				       ".problems[] | select(.severity==\"error\") | .code",
				       json, NULL };

		t_run(&r, argv);
		ck_assert_int_eq(r.status, 0);
		ck_assert_str_eq(r.out, "ITE_NEXT_BEYOND_ITT\n");
		t_run_free(&r);
	}
	{
		const char *argv[] = { "/usr/bin/jq", "-r",
				       "[.verdict.restore, .verdict.errno, .verdict.device_id, .verdict.event_id] | @tsv",
				       json, NULL };

		t_run(&r, argv);
		ck_assert_str_eq(r.out, "fail\tEINVAL\t8\t1\n");
		t_run_free(&r);
	}
	free(writer);
	free(prog);
}
END_TEST

START_TEST(list_problems)
{
	char *prog = t_build("its-fsck");
	const char *text[] = { prog, "--list-problems", NULL };
	const char *json[] = { prog, "--list-problems", "-j", NULL };
	json_object *doc;
	struct t_run r;

	t_run(&r, text);
	ck_assert_int_eq(r.status, 0);
	for (size_t i = 0; i < PR_COUNT; i++)
		ck_assert_msg(strstr(r.out, problem_table[i].name), "%s not listed",
			      problem_table[i].name);
	t_run_free(&r);
	t_run(&r, json);
	ck_assert_int_eq(r.status, 0);
	doc = json_tokener_parse(r.out);
	ck_assert_uint_eq(json_object_array_length(doc), PR_COUNT);
	ck_assert_str_eq(json_object_get_string(jget(json_object_array_get_idx(doc, 0), "number")),
			 "0x000001");
	json_object_put(doc);
	t_run_free(&r);
	free(prog);
}
END_TEST

START_TEST(usage)
{
	char *prog = t_build("its-fsck"), *path = sample("kvm-virt-2level.mig");
	const char *badk[] = { prog, "--kernel", "4.9", path, NULL };
	const char *fix[] = { prog, "--fix=some", path, NULL };
	const char *none[] = { prog, "/nonexistent", NULL };
	struct t_run r;

	t_run(&r, badk);
	ck_assert_int_eq(r.status, 16);
	ck_assert_str_eq(r.err, "its-fsck: --kernel: 4.9 has no ITS table restore (it appeared in 4.12)\n");
	t_run_free(&r);
	t_run(&r, fix);
	ck_assert_int_eq(r.status, 16);
	ck_assert_ptr_nonnull(strstr(r.err, "--fix: 'some' is not 'all'"));
	t_run_free(&r);
	t_run(&r, none);
	ck_assert_int_eq(r.status, 8);
	ck_assert_str_eq(r.err, "its-fsck: /nonexistent: cannot open: No such file or directory\n");
	t_run_free(&r);
	free(path);
	free(prog);
}
END_TEST

Suite *suite_fsck_cli(void)
{
	Suite *s = suite_create("fsck_cli");
	TCase *tc = tcase_create("cli");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, qemu10_sample_tcg);
	tcase_add_test(tc, kvm_sample_ok);
	tcase_add_test(tc, jq_error_codes);
	tcase_add_test(tc, list_problems);
	tcase_add_test(tc, usage);
	suite_add_tcase(s, tc);
	return s;
}
