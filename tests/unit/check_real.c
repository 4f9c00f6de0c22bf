/* Streams and dumps that real QEMU 7.2 and 10.0 write, made fresh by
 * shared/tools/make-real-fixtures.sh (`make check-real`): stopped, live
 * (pages resent), file: and mapped-ram streams, and the ELF dump of the same
 * stopped state. Guest RAM differs from boot to boot, so only what is
 * stable is asserted (registers, DeviceIDs, EventIDs, LPIs, ICIDs, page
 * totals); and the ELF dump must decode exactly as the stream of the same
 * moment does. */
#include <check.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

void check_real_mapping(json_object *doc);

static json_object *get(json_object *o, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no key '%s'", key);
	return v;
}

static int64_t geti(json_object *o, const char *key)
{
	return json_object_get_int64(get(o, key));
}

static char *real(const char *rel)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/%s", t_env("ITS_REAL_DIR"), rel), 0);
	return p;
}

/* its-dump -j [--its-regs REGS] PATH: exit 0, parsed output. */
static json_object *dump(const char *path, const char *regs, char **text)
{
	char *prog = t_build("its-dump");
	struct t_run r;
	json_object *doc;

	if (regs) {
		const char *argv[] = { prog, "-j", "--its-regs", regs, path, NULL };

		t_run(&r, argv);
	} else {
		const char *argv[] = { prog, "-j", path, NULL };

		t_run(&r, argv);
	}
	ck_assert_msg(r.status == 0, "%s: exit %d: %s", path, r.status, r.err);
	doc = json_tokener_parse(r.out);
	ck_assert_msg(doc != NULL, "%s: not JSON", path);
	if (text)
		*text = strdup(r.out);
	t_run_free(&r);
	free(prog);
	return doc;
}

static void stream(const char *rel, bool live)
{
	char *path = real(rel);
	json_object *doc = dump(path, NULL, NULL), *regs, *ram;

	check_real_mapping(doc);
	regs = get(json_object_array_get_idx(get(doc, "its"), 0), "registers");
	ck_assert_str_eq(json_object_get_string(get(regs, "GITS_CTLR")), "0x80000001");
	ck_assert_str_eq(json_object_get_string(get(regs, "GITS_IIDR")), "0x00000000");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(get(regs, "GITS_BASER"), 2)),
			 "0x0000000000000000");
	ck_assert_uint_eq(json_object_array_length(get(doc, "redistributors")), 2);
	ram = json_object_array_get_idx(get(get(doc, "snapshot"), "ram"), 0);
	ck_assert_str_eq(json_object_get_string(get(ram, "name")), "mach-virt.ram");
	ck_assert_str_eq(json_object_get_string(get(ram, "gpa")), "0x40000000");
	/* 256 MiB: every page accounted for, none missing */
	ck_assert_int_eq(geti(get(ram, "pages"), "data") + geti(get(ram, "pages"), "zero"), 65536);
	ck_assert_int_eq(geti(get(ram, "pages"), "absent"), 0);
	if (live)
		ck_assert_int_gt(geti(get(ram, "pages"), "resent"), 0);
	json_object_put(doc);
	/* its-fsck: QEMU delivers every event; nothing but the layout note */
	{
		char *prog = t_build("its-fsck");
		const char *argv[] = { prog, "-j", path, NULL };
		struct t_run r;

		t_run(&r, argv);
		ck_assert_msg(r.status == 0, "%s: its-fsck exit %d", rel, r.status);
		doc = json_tokener_parse(r.out);
		ck_assert_uint_eq(json_object_array_length(get(get(doc, "verdict"), "delivering")), 16);
		ck_assert_uint_eq(json_object_array_length(get(get(doc, "verdict"), "undeliverable")), 0);
		ck_assert_int_eq(geti(get(doc, "summary"), "errors"), 0);
		ck_assert_int_eq(geti(get(doc, "summary"), "warnings"), 0);
		json_object_put(doc);
		t_run_free(&r);
		free(prog);
	}
	free(path);
}

START_TEST(q10_stopped) { stream("qemu-10.0/guest-stopped.mig", false); }
END_TEST
START_TEST(q10_live) { stream("qemu-10.0/guest-live.mig", true); }
END_TEST
START_TEST(q10_file) { stream("qemu-10.0/guest-stopped-file.mig", false); }
END_TEST
START_TEST(q10_mapped_ram) { stream("qemu-10.0/guest-stopped-mapped-ram.mig", false); }
END_TEST
START_TEST(q72_stopped) { stream("qemu-7.2/guest-stopped.mig", false); }
END_TEST
START_TEST(q72_live) { stream("qemu-7.2/guest-live.mig", true); }
END_TEST

/* The ELF of the stopped VM, with registers from the stream's own JSON,
 * gives the same tables, entry for entry, as the stream. */
static void elf_vs_stream(const char *dir)
{
	char rel[256], *mig, *elf, *regs, *a, *b;
	json_object *da, *db, *ta, *tb;
	FILE *f;

	snprintf(rel, sizeof(rel), "%s/guest-stopped.mig", dir);
	mig = real(rel);
	snprintf(rel, sizeof(rel), "%s/guest.elf", dir);
	elf = real(rel);
	da = dump(mig, NULL, &a);
	ck_assert_int_ge(asprintf(&regs, "%s/regs.json", t_tmpdir()), 0);
	f = fopen(regs, "w");
	ck_assert_ptr_nonnull(f);
	fputs(a, f);
	fclose(f);
	db = dump(elf, regs, &b);
	check_real_mapping(db);
	ta = json_object_array_get_idx(get(da, "its"), 0);
	tb = json_object_array_get_idx(get(db, "its"), 0);
	ck_assert_str_eq(json_object_to_json_string(get(ta, "registers")),
			 json_object_to_json_string(get(tb, "registers")));
	ck_assert_str_eq(json_object_to_json_string(get(ta, "collections")),
			 json_object_to_json_string(get(tb, "collections")));
	ck_assert_str_eq(json_object_to_json_string(get(ta, "device_table")),
			 json_object_to_json_string(get(tb, "device_table")));
	ck_assert_str_eq(json_object_to_json_string(get(ta, "devices")),
			 json_object_to_json_string(get(tb, "devices")));
	ck_assert_str_eq(json_object_to_json_string(get(da, "redistributors")),
			 json_object_to_json_string(get(db, "redistributors")));
	json_object_put(da);
	json_object_put(db);
	free(a);
	free(b);
	free(regs);
	free(mig);
	free(elf);
}

START_TEST(q10_elf) { elf_vs_stream("qemu-10.0"); }
END_TEST
START_TEST(q72_elf) { elf_vs_stream("qemu-7.2"); }
END_TEST

static void teardown(void)
{
	t_cleanup();
}

Suite *suite_real(void)
{
	Suite *s = suite_create("real");
	TCase *tc = tcase_create("real");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, q10_stopped);
	tcase_add_test(tc, q10_live);
	tcase_add_test(tc, q10_file);
	tcase_add_test(tc, q10_mapped_ram);
	tcase_add_test(tc, q72_stopped);
	tcase_add_test(tc, q72_live);
	tcase_add_test(tc, q10_elf);
	tcase_add_test(tc, q72_elf);
	suite_add_tcase(s, tc);
	return s;
}
