/* its-fsck --fix end to end on the problem fixtures (tests/fixtures/fsck):
 * repair, re-check, undo byte for byte; --dry-run and -o write nothing to
 * the input; a register repaired inside a stream; a repair killed after
 * each write is undone to the original bytes. */
#include <check.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "its/problems.h"
#include "suites.h"
#include "testutil.h"

struct fix_case {
	const char *fixture;	/* tests/fixtures/fsck/NAME.json, as an ELF */
	const char *mode;	/* -p or -y */
	const char *kernel;	/* --kernel, or NULL */
	int fix_exit, recheck_exit;
	const char *left;	/* problem codes after the repair, sorted, space-separated */
	bool written;		/* an undo file is expected */
};

/* Reviewed one by one: register repairs on an ELF core are shown, not
 * written (a core holds no registers), so those problems stay. */
static const struct fix_case cases[] = {
	{ "fsck-cte-after-terminator", "-p", NULL, 1, 0, "", true },
	{ "fsck-cte-res0", "-p", NULL, 1, 0, "", true },
	{ "fsck-dte-orphan", "-p", NULL, 1, 0, "", true },
	{ "fsck-f1-noterm", "-p", NULL, 1, 0, "", true },
	{ "fsck-f7-next-7397", "-p", NULL, 1, 0, "", true },
	{ "fsck-f7-next-7397", "-p", "6.0.5", 1, 0, "", true },
	{ "fsck-ite-next-invalid", "-p", NULL, 1, 0, "", true },
	{ "fsck-ite-orphan", "-p", NULL, 1, 0, "", true },
	{ "fsck-l1-res0", "-y", NULL, 1, 0, "", true },
	{ "fsck-devid-range", "-y", NULL, 1, 0, "", true },
	{ "fsck-f13-size27", "-y", NULL, 1, 0, "", true },
	{ "fsck-ite-lpi-below-min", "-y", NULL, 1, 0, "", true },
	{ "fsck-ite-next-beyond", "-y", NULL, 1, 0, "", true },
	{ "fsck-ite-lpi-above-max", "-y", NULL, 1, 0, "DTE_NO_EVENTS", true },
	{ "fsck-f9-target5", "-y", NULL, 1, 0, "CTE_UNMAPPED ITE_COLLECTION_UNMAPPED", true },
	{ "fsck-f15-dropped-icid", "-y", NULL, 1, 0, "CTE_UNMAPPED ITE_COLLECTION_UNMAPPED", true },
	{ "fsck-f8-orphan-ite", "-y", NULL, 1, 0,
	  "CTE_UNMAPPED ITE_COLLECTION_UNMAPPED LPI_DISABLED", true },
	/* no safe way: collections with one ICID and two targets */
	{ "fsck-cte-duplicate", "-y", NULL, 4, 4, "CTE_DUPLICATE_ICID", false },
	/* stale DTEs under an invalid L1 entry: the cut next is fixed, the
	 * dropped devices stay (resurrecting them is a guess) */
	{ "fsck-f15-invalid-l1", "-y", NULL, 5, 4, "DTE_DROPPED", true },
	{ "fsck-baser-type", "-y", NULL, 4, 4, "BASER_TYPE", false },
	/* GICR_PROPBASER: not in an ELF core either */
	{ "fsck-propbaser-differs", "-y", NULL, 4, 4, "PROPBASER_DIFFERS", false },
	/* QEMU's emulated ITS: bits it neither writes nor reads */
	{ "fsck-tcg-cte-res0", "-p", NULL, 1, 0, "LAYOUT_QEMU_TCG", true },
	{ "fsck-tcg-dte-invalid-nonzero", "-p", NULL, 1, 0, "LAYOUT_QEMU_TCG", true },
	/* identical duplicates: the list is repacked (0, 1, 2, terminator) */
	{ "fix/fix-cte-duplicate-identical", "-p", NULL, 1, 0, "CTE_UNUSED", true },
};

static void teardown(void)
{
	t_cleanup();
}

/* fixture: tests/fixtures/fsck/NAME, or DIR/NAME under tests/fixtures */
static char *gen(const char *fixture, const char *ext, bool regs)
{
	char *writer = t_build("its-fixture"), *spec, *out, *r;
	struct t_run run;

	ck_assert_int_ge(asprintf(&spec, "%s/tests/fixtures/%s%s.json",
				  t_env("ITS_SOURCE_DIR"),
				  strchr(fixture, '/') ? "" : "fsck/", fixture), 0);
	if (strrchr(fixture, '/'))
		fixture = strrchr(fixture, '/') + 1;
	ck_assert_int_ge(asprintf(&out, "%s/%s.%s", t_tmpdir(), fixture, ext), 0);
	ck_assert_int_ge(asprintf(&r, "%s/%s.regs.json", t_tmpdir(), fixture), 0);
	{
		const char *argv[] = { writer, spec, "-o", out, regs ? "--regs" : NULL, r, NULL };

		t_run(&run, argv);
	}
	ck_assert_msg(run.status == 0, "%s: %s", fixture, run.err);
	t_run_free(&run);
	free(spec);
	free(r);
	free(writer);
	return out;
}

/* its-fsck [args] --its-regs R SNAPSHOT; returns the exit status, and the
 * sorted problem codes in *codes (space-separated). */
static int fsck(const char *snap, const char *regs, const char *a1,
		const char *a2, const char *a3, char *codes, size_t len)
{
	char *prog = t_build("its-fsck");
	const char *argv[12];
	struct t_run r;
	json_object *doc, *p;
	int n = 0, st;

	argv[n++] = prog;
	argv[n++] = "-j";
	if (a1) argv[n++] = a1;
	if (a2) argv[n++] = a2;
	if (a3) argv[n++] = a3;
	if (regs) {
		argv[n++] = "--its-regs";
		argv[n++] = regs;
	}
	argv[n++] = snap;
	argv[n] = NULL;
	t_run(&r, argv);
	st = r.status;
	if (codes) {
		char *list[256];
		size_t k = 0;

		doc = json_tokener_parse(r.out);
		ck_assert_msg(doc != NULL, "not JSON (exit %d): %s", st, r.err);
		p = json_object_object_get(doc, "problems");
		for (size_t i = 0; i < json_object_array_length(p) && k < 256; i++) {
			const char *c = json_object_get_string(json_object_object_get(
				json_object_array_get_idx(p, i), "code"));
			bool dup = false;

			for (size_t j = 0; j < k; j++)
				dup |= !strcmp(list[j], c);
			if (!dup)
				list[k++] = strdup(c);
		}
		for (size_t i = 1; i < k; i++)
			for (size_t j = i; j > 0 && strcmp(list[j - 1], list[j]) > 0; j--) {
				char *t = list[j];

				list[j] = list[j - 1];
				list[j - 1] = t;
			}
		codes[0] = '\0';
		for (size_t i = 0; i < k; i++) {
			snprintf(codes + strlen(codes), len - strlen(codes), "%s%s",
				 i ? " " : "", list[i]);
			free(list[i]);
		}
		json_object_put(doc);
	}
	t_run_free(&r);
	free(prog);
	return st;
}

/* its-fsck --undo UNDO SNAP must succeed (the bytes are compared by the
 * caller). */
static void undo_ok(const char *undo, const char *snap)
{
	char *prog = t_build("its-fsck");
	const char *argv[] = { prog, "--undo", undo, snap, NULL };
	struct t_run r;

	t_run(&r, argv);
	ck_assert_msg(r.status == 0, "its-fsck --undo %s: exit %d: %s", undo,
		      r.status, r.err);
	t_run_free(&r);
	free(prog);
}

START_TEST(fix_recheck_undo)
{
	const struct fix_case *c = &cases[_i];
	char *snap = gen(c->fixture, "elf", true), *regs, *orig, *now, *undo;
	const char *base = strrchr(c->fixture, '/') ? strrchr(c->fixture, '/') + 1 :
			   c->fixture;
	char left[2048];
	size_t n1, n2;
	const char *kflag = c->kernel ? "--kernel" : NULL;
	int st;

	ck_assert_int_ge(asprintf(&regs, "%s/%s.regs.json", t_tmpdir(), base), 0);
	ck_assert_int_ge(asprintf(&undo, "%s.its-undo", snap), 0);
	orig = t_read_file(snap, &n1);
	st = fsck(snap, regs, c->mode, kflag, c->kernel, NULL, 0);
	ck_assert_msg(st == c->fix_exit, "%s %s: exit %d, expected %d", c->fixture,
		      c->mode, st, c->fix_exit);
	st = fsck(snap, regs, kflag, c->kernel, NULL, left, sizeof(left));
	ck_assert_msg(st == c->recheck_exit, "%s: re-check exit %d, expected %d (%s)",
		      c->fixture, st, c->recheck_exit, left);
	ck_assert_msg(!strcmp(left, c->left), "%s: left '%s', expected '%s'",
		      c->fixture, left, c->left);
	ck_assert_int_eq(access(undo, F_OK) == 0, c->written);
	if (c->written)
		undo_ok(undo, snap);
	now = t_read_file(snap, &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_msg(!memcmp(orig, now, n1), "%s: not the original bytes after undo",
		      c->fixture);
	free(orig);
	free(now);
	free(undo);
	free(regs);
	free(snap);
}
END_TEST

/* --dry-run shows the writes and changes nothing; -o writes a repaired
 * copy and leaves the input as it was. */
START_TEST(dry_run_and_copy)
{
	char *snap = gen("fsck-ite-next-invalid", "elf", true), *regs, *orig, *now;
	char *copy, *undo, left[512];
	size_t n1, n2;

	ck_assert_int_ge(asprintf(&regs, "%s/fsck-ite-next-invalid.regs.json", t_tmpdir()), 0);
	ck_assert_int_ge(asprintf(&copy, "%s/copy.elf", t_tmpdir()), 0);
	ck_assert_int_ge(asprintf(&undo, "%s.its-undo", snap), 0);
	orig = t_read_file(snap, &n1);
	ck_assert_int_eq(fsck(snap, regs, "--dry-run", NULL, NULL, NULL, 0), 4);
	ck_assert_int_ne(access(undo, F_OK), 0);
	ck_assert_int_eq(fsck(snap, regs, "-p", "-o", copy, NULL, 0), 1);
	ck_assert_int_ne(access(undo, F_OK), 0);
	now = t_read_file(snap, &n2);
	ck_assert(n1 == n2 && !memcmp(orig, now, n1));
	ck_assert_int_eq(fsck(copy, regs, NULL, NULL, NULL, left, sizeof(left)), 0);
	ck_assert_str_eq(left, "");
	ck_assert_int_eq(fsck(snap, regs, NULL, NULL, NULL, left, sizeof(left)), 4);
	ck_assert_str_eq(left, "ITE_NEXT_LANDS_INVALID");
	free(orig);
	free(now);
	free(copy);
	free(undo);
	free(regs);
	free(snap);
}
END_TEST

/* A register inside a migration stream's arm_gicv3_its section. */
static const char *const stream_regs[][2] = {
	{ "fsck-iidr-revision", "IIDR_REVISION" },
	{ "fsck-baser-type", "BASER_TYPE" },
	{ "fsck-baser-entry-size", "BASER_ENTRY_SIZE" },
	{ "fsck-baser-page-size", "BASER_PAGE_SIZE" },
	{ "fsck-baser-unused-set", "BASER_UNUSED_SET" },
	{ "fsck-baser-coll-indirect", "BASER_COLL_INDIRECT" },
	/* info only: --strict makes it count */
	{ "fsck-baser-cache", "BASER_CACHE_SANITISED" },
};

START_TEST(stream_register)
{
	char *snap = gen(stream_regs[_i][0], "mig", false), *orig, *now, *undo;
	char left[512];
	size_t n1, n2;

	ck_assert_int_ge(asprintf(&undo, "%s.its-undo", snap), 0);
	orig = t_read_file(snap, &n1);
	ck_assert_int_eq(fsck(snap, NULL, "--strict", NULL, NULL, left, sizeof(left)), 4);
	ck_assert_str_eq(left, stream_regs[_i][1]);
	ck_assert_int_eq(fsck(snap, NULL, "-p", NULL, NULL, NULL, 0), 1);
	ck_assert_int_eq(fsck(snap, NULL, "--strict", NULL, NULL, left, sizeof(left)), 0);
	undo_ok(undo, snap);
	now = t_read_file(snap, &n2);
	ck_assert(n1 == n2 && !memcmp(orig, now, n1));
	free(orig);
	free(now);
	free(undo);
	free(snap);
}
END_TEST

/* GICR_PROPBASER inside a stream's arm_gicv3 section (opt-in): with the
 * vmdesc, and by the fixed layout without it (three vCPUs, two rewritten). */
static const char *const stream_propbaser[] = {
	"fsck-propbaser-differs",
	"fix/fix-propbaser-differs-novmdesc",
};

START_TEST(stream_gicr_propbaser)
{
	const char *fx = stream_propbaser[_i];
	char *snap = gen(fx, "mig", false), *orig, *now, *undo;
	char left[512];
	size_t n1, n2;

	ck_assert_int_ge(asprintf(&undo, "%s.its-undo", snap), 0);
	orig = t_read_file(snap, &n1);
	ck_assert_int_eq(fsck(snap, NULL, NULL, NULL, NULL, left, sizeof(left)), 4);
	ck_assert_str_eq(left, "PROPBASER_DIFFERS");
	/* opt-in: -p leaves it */
	ck_assert_int_eq(fsck(snap, NULL, "-p", NULL, NULL, NULL, 0), 4);
	ck_assert_int_ne(access(undo, F_OK), 0);
	ck_assert_int_eq(fsck(snap, NULL, "-y", NULL, NULL, NULL, 0), 1);
	ck_assert_int_eq(fsck(snap, NULL, NULL, NULL, NULL, left, sizeof(left)), 0);
	ck_assert_str_eq(left, "");
	now = t_read_file(snap, &n2);
	ck_assert(n1 == n2 && memcmp(orig, now, n1));
	free(now);
	undo_ok(undo, snap);
	now = t_read_file(snap, &n2);
	ck_assert(n1 == n2 && !memcmp(orig, now, n1));
	free(orig);
	free(now);
	free(undo);
	free(snap);
}
END_TEST

/* Killed after N writes (N = 0, 1, 2): the undo gives back every byte. */
START_TEST(killed_then_undone)
{
	char *snap = gen("fsck-ite-lpi-below-min", "elf", true), *regs, *orig, *now;
	char *undo, nbuf[8];

	ck_assert_int_ge(asprintf(&regs, "%s/fsck-ite-lpi-below-min.regs.json", t_tmpdir()), 0);
	ck_assert_int_ge(asprintf(&undo, "%s.its-undo", snap), 0);
	for (int n = 0; n <= 2; n++) {
		size_t n1, n2;
		int st;

		orig = t_read_file(snap, &n1);
		snprintf(nbuf, sizeof(nbuf), "%d", n);
		st = fsck(snap, regs, "-y", "--test-abort-after", nbuf, NULL, 0);
		ck_assert_msg(st == 99, "abort after %d: exit %d", n, st);
		undo_ok(undo, snap);
		now = t_read_file(snap, &n2);
		ck_assert(n1 == n2);
		ck_assert_msg(!memcmp(orig, now, n1), "killed after %d writes: bytes differ after undo", n);
		unlink(undo);
		free(orig);
		free(now);
	}
	free(undo);
	free(regs);
	free(snap);
}
END_TEST

/* A repair into a page the stream sends as a ZERO record: refused in
 * place (exit 8, naming -o), written into a copy that re-encodes the
 * record as a PAGE record; the copy decodes and re-checks clean. */
START_TEST(zero_page_needs_copy)
{
	char *snap = gen("fix/fix-icid-zero-page", "mig", false), *orig, *now;
	char *copy, *undo, *prog = t_build("its-fsck"), left[512];
	size_t n1, n2;

	ck_assert_int_ge(asprintf(&copy, "%s/zero-copy.mig", t_tmpdir()), 0);
	ck_assert_int_ge(asprintf(&undo, "%s.its-undo", snap), 0);
	orig = t_read_file(snap, &n1);
	ck_assert_int_eq(fsck(snap, NULL, NULL, NULL, NULL, left, sizeof(left)), 4);
	ck_assert_str_eq(left, "ITE_ICID_UNKNOWN");
	{
		const char *argv[] = { prog, "-y", snap, NULL };
		struct t_run r;

		/* in place the write is shown, not made; the problem stays */
		t_run(&r, argv);
		ck_assert_msg(r.status == 4, "in place: exit %d: %s", r.status, r.err);
		ck_assert_msg(strstr(r.out, "not written: the page is a ZERO record") &&
			      strstr(r.out, "-o OUT"), "in place: %s", r.out);
		t_run_free(&r);
	}
	ck_assert_int_ne(access(undo, F_OK), 0);
	now = t_read_file(snap, &n2);
	ck_assert(n1 == n2 && !memcmp(orig, now, n1));
	free(now);
	ck_assert_int_eq(fsck(snap, NULL, "-y", "-o", copy, NULL, 0), 1);
	ck_assert_int_ne(access(undo, F_OK), 0);
	now = t_read_file(snap, &n2);
	ck_assert(n1 == n2 && !memcmp(orig, now, n1));
	free(now);
	ck_assert_int_eq(fsck(copy, NULL, NULL, NULL, NULL, left, sizeof(left)), 0);
	ck_assert_str_eq(left, "CTE_UNMAPPED ITE_COLLECTION_UNMAPPED");
	{
		char *dump = t_build("its-dump");
		const char *argv[] = { dump, copy, NULL };
		struct t_run r;

		t_run(&r, argv);
		ck_assert_msg(r.status == 0, "its-dump of the copy: %s", r.err);
		ck_assert_ptr_null(strstr(r.err, "warning"));
		t_run_free(&r);
		free(dump);
	}
	free(orig);
	free(copy);
	free(undo);
	free(prog);
	free(snap);
}
END_TEST

/* --fix on a terminal asks for each repair (script(1) gives it one):
 * "n" leaves the problem (4) and says the user cancelled (32); "y" fixes. */
static int fix_on_tty(const char *snap, const char *regs, const char *answer)
{
	char *prog = t_build("its-fsck"), *cmd;
	const char *argv[] = { "/usr/bin/script", "-qec", NULL, "/dev/null", NULL };
	struct t_run r;
	int p[2], st;

	ck_assert_int_ge(asprintf(&cmd, "%s --fix --its-regs %s %s", prog, regs, snap), 0);
	argv[2] = cmd;
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], answer, strlen(answer)), (ssize_t)strlen(answer));
	close(p[1]);
	t_run_full(&r, NULL, p[0], argv);
	close(p[0]);
	st = r.status;
	ck_assert_msg(strstr(r.out, "Fix? [y/N]") != NULL, "no question asked: %s", r.out);
	t_run_free(&r);
	free(cmd);
	free(prog);
	return st;
}

START_TEST(asks_on_a_terminal)
{
	char *snap = gen("fsck-cte-res0", "elf", true), *regs, left[256];

	ck_assert_int_ge(asprintf(&regs, "%s/fsck-cte-res0.regs.json", t_tmpdir()), 0);
	ck_assert_int_eq(fix_on_tty(snap, regs, "n\n"), 4 | 32);
	ck_assert_int_eq(fsck(snap, regs, NULL, NULL, NULL, left, sizeof(left)), 4);
	ck_assert_str_eq(left, "CTE_RES0");
	ck_assert_int_eq(fix_on_tty(snap, regs, "y\n"), 1);
	ck_assert_int_eq(fsck(snap, regs, NULL, NULL, NULL, left, sizeof(left)), 0);
	free(regs);
	free(snap);
}
END_TEST

/* A mapped-ram stream whose collection-table page is a clear bitmap bit:
 * the repair fills the slot and sets the bit, in place, and undoes both. */
START_TEST(mapped_ram_zero_page)
{
	char *snap = gen("fix/fix-icid-zero-page-mapped-ram", "mig", false);
	char *orig, *now, *undo, left[512];
	size_t n1, n2;

	ck_assert_int_ge(asprintf(&undo, "%s.its-undo", snap), 0);
	orig = t_read_file(snap, &n1);
	ck_assert_int_eq(fsck(snap, NULL, NULL, NULL, NULL, left, sizeof(left)), 4);
	ck_assert_str_eq(left, "ITE_ICID_UNKNOWN");
	ck_assert_int_eq(fsck(snap, NULL, "-y", NULL, NULL, NULL, 0), 1);
	ck_assert_int_eq(fsck(snap, NULL, NULL, NULL, NULL, left, sizeof(left)), 0);
	ck_assert_str_eq(left, "CTE_UNMAPPED ITE_COLLECTION_UNMAPPED");
	undo_ok(undo, snap);
	now = t_read_file(snap, &n2);
	ck_assert(n1 == n2 && !memcmp(orig, now, n1));
	free(orig);
	free(now);
	free(undo);
	free(snap);
}
END_TEST

/* Every problem the table says a repair exists for is repaired by one of
 * the tests above: the fixture cases, the stream registers, the zero-page
 * copy and the PROPBASER streams. */
static const char *const repaired_elsewhere[] = {
	"PROPBASER_DIFFERS",		/* stream_gicr_propbaser */
};

static bool repaired_somewhere(const char *code)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char spec[512], *text;
		bool hit;

		if (!cases[i].written)
			continue;
		snprintf(spec, sizeof(spec), "%s/tests/fixtures/%s%s.expect.json",
			 t_env("ITS_SOURCE_DIR"), strchr(cases[i].fixture, '/') ? "" : "fsck/",
			 cases[i].fixture);
		text = t_read_file(spec, NULL);
		if (!text) {
			/* fixtures of their own (tests/fixtures/fix): the spec
			 * says what it exercises */
			snprintf(spec, sizeof(spec), "%s/tests/fixtures/%s.json",
				 t_env("ITS_SOURCE_DIR"), cases[i].fixture);
			text = t_read_file(spec, NULL);
		}
		hit = text && strstr(text, code) && !strstr(cases[i].left, code);
		free(text);
		if (hit)
			return true;
	}
	for (size_t i = 0; i < sizeof(stream_regs) / sizeof(stream_regs[0]); i++)
		if (!strcmp(stream_regs[i][1], code))
			return true;
	for (size_t i = 0; i < sizeof(repaired_elsewhere) / sizeof(repaired_elsewhere[0]); i++)
		if (!strcmp(repaired_elsewhere[i], code))
			return true;
	return false;
}

START_TEST(every_repair_is_tested)
{
	char missing[2048] = "";

	for (size_t i = 0; i < PR_COUNT; i++)
		if (problem_table[i].repair != REPAIR_NONE &&
		    !repaired_somewhere(problem_table[i].name))
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
				 " %s", problem_table[i].name);
	ck_assert_msg(!missing[0], "repairable problems no test repairs:%s", missing);
}
END_TEST

Suite *suite_fix(void)
{
	Suite *s = suite_create("fix");
	TCase *tc = tcase_create("fix");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, fix_recheck_undo, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, dry_run_and_copy);
	tcase_add_loop_test(tc, stream_register, 0,
			    (int)(sizeof(stream_regs) / sizeof(stream_regs[0])));
	tcase_add_test(tc, killed_then_undone);
	tcase_add_test(tc, zero_page_needs_copy);
	tcase_add_loop_test(tc, stream_gicr_propbaser, 0,
			    (int)(sizeof(stream_propbaser) / sizeof(stream_propbaser[0])));
	tcase_add_test(tc, asks_on_a_terminal);
	tcase_add_test(tc, every_repair_is_tested);
	tcase_add_test(tc, mapped_ram_zero_page);
	suite_add_tcase(s, tc);
	return s;
}
