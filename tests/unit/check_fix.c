/* its-fsck --fix end to end on the problem fixtures (tests/fixtures/fsck):
 * repair, re-check, undo byte for byte; --dry-run and -o write nothing to
 * the input; a register repaired inside a stream; a repair killed after
 * each write is undone to the original bytes; -o keeps an undo file that
 * gives the copy back the input's bytes (plain, live, mapped-ram, ZERO
 * record re-encoded, ELF, libvirt), refuses the input and a changed copy,
 * and -o with nothing to write says so. */
#include <check.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
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

/* spec: a path; the outputs are TMP/NAME.EXT and TMP/NAME.regs.json */
static char *gen_spec(char *spec, const char *fixture, const char *ext, bool regs)
{
	char *writer = t_build("its-fixture"), *out, *r;
	struct t_run run;

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

/* fixture: tests/fixtures/fsck/NAME, or DIR/NAME under tests/fixtures */
static char *gen(const char *fixture, const char *ext, bool regs)
{
	char *spec;

	ck_assert_int_ge(asprintf(&spec, "%s/tests/fixtures/%s%s.json",
				  t_env("ITS_SOURCE_DIR"),
				  strchr(fixture, '/') ? "" : "fsck/", fixture), 0);
	if (strrchr(fixture, '/'))
		fixture = strrchr(fixture, '/') + 1;
	return gen_spec(spec, fixture, ext, regs);
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
	char *undo, nbuf[12];

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

/* ------------------------------------------------------------ -o + undo */

/* stream-live with the RES0 bit 56 set in collection 1, whose page the
 * stream sends stale (every byte 0xa5) before its final copy: the repair
 * writes both copies. */
static char *gen_live_cte_res0(void)
{
	char *src, *spec;
	json_object *doc, *colls;

	ck_assert_int_ge(asprintf(&src, "%s/tests/fixtures/stream-live.json",
				  t_env("ITS_SOURCE_DIR")), 0);
	ck_assert_int_ge(asprintf(&spec, "%s/live-cte-res0.json", t_tmpdir()), 0);
	doc = json_object_from_file(src);
	ck_assert_ptr_nonnull(doc);
	colls = json_object_object_get(json_object_array_get_idx(
		json_object_object_get(doc, "its"), 0), "collections");
	ck_assert_int_eq(json_object_array_put_idx(colls, 1,
		json_tokener_parse("{\"raw\": \"0x8100000000010001\"}")), 0);
	ck_assert_int_eq(json_object_to_file(spec, doc), 0);
	json_object_put(doc);
	free(src);
	return gen_spec(spec, "live-cte-res0", "mig", false);
}

struct copy_case {
	const char *fixture;	/* as gen(); NULL: gen_live_cte_res0 */
	const char *ext;
	bool regs;
	const char *mode;
	const char *left;	/* the copy's problems after the repair */
	unsigned records;	/* in the undo file */
	size_t differ;		/* bytes the copy differs in (grow 0) */
	long grow;		/* the copy's size less the input's */
};

/* Reviewed one by one: a CTE whose bit 56 is cleared differs in one byte
 * (0x81 -> 0x80); in the live stream its stale copy too (8 bytes of 0xa5
 * become the entry, 0xa5 -> 0x01, 0x00, 0x01, 0x00 x 4, 0x80); the
 * clear-bit mapped-ram page is written whole (256 ranges of 16 bytes, its
 * slot all zeros here) and its bitmap byte (0 -> 1): two unmapped CTEs,
 * ICID 0 and 1 with target 0xffffffff and bit 63 (5 + 6 bytes not zero),
 * and the bit; the ZERO record is a header (flags 0x02 -> 0x08) and a
 * splice of a fill byte into a page (4095 bytes more). */
static const struct copy_case copy_cases[] = {
	{ "fsck-cte-res0", "mig", false, "-p", "", 1, 1, 0 },
	{ NULL, "mig", false, "-p", "CTE_UNMAPPED ITE_COLLECTION_UNMAPPED", 2, 9, 0 },
	{ "fix/fix-icid-zero-page-mapped-ram", "mig", false, "-y",
	  "CTE_UNMAPPED ITE_COLLECTION_UNMAPPED", 257, 12, 0 },
	{ "fix/fix-icid-zero-page", "mig", false, "-y",
	  "CTE_UNMAPPED ITE_COLLECTION_UNMAPPED", 2, 0, 4095 },
	{ "fsck-cte-res0", "elf", true, "-p", "", 1, 1, 0 },
	{ "fsck-cte-res0", "save", false, "-p", "", 1, 1, 0 },
};

static size_t differing_bytes(const char *a, size_t na, const char *b, size_t nb)
{
	size_t n = 0;

	ck_assert_uint_eq(na, nb);
	for (size_t i = 0; i < na; i++)
		n += a[i] != b[i];
	return n;
}

static uint32_t le32_at(const char *b, size_t off)
{
	const uint8_t *p = (const uint8_t *)b + off;

	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* its-fsck --undo UNDO SNAP: the exit status, stderr in err (a copy) */
static int undo_run(const char *undo, const char *snap, char **err)
{
	char *prog = t_build("its-fsck");
	const char *argv[] = { prog, "--undo", undo, snap, NULL };
	struct t_run r;
	int st;

	t_run(&r, argv);
	st = r.status;
	*err = strdup(r.err);
	t_run_free(&r);
	free(prog);
	return st;
}

static bool one_line(const char *s)
{
	return s[0] && strchr(s, '\n') == s + strlen(s) - 1;
}

static bool same_mtime(const char *a, const char *b)
{
	struct stat sa, sb;

	ck_assert_int_eq(stat(a, &sa), 0);
	ck_assert_int_eq(stat(b, &sb), 0);
	return sa.st_mtim.tv_sec == sb.st_mtim.tv_sec &&
	       sa.st_mtim.tv_nsec == sb.st_mtim.tv_nsec;
}

START_TEST(copy_then_undo)
{
	const struct copy_case *c = &copy_cases[_i];
	char *snap = c->fixture ? gen(c->fixture, c->ext, c->regs) : gen_live_cte_res0();
	char *regs = NULL, *copy, *undo, *in_undo, *orig, *now, *u, *msg, left[512];
	const char *name = c->fixture ? c->fixture : "live-cte-res0";
	struct stat st0, st1;
	size_t n0, n1, nu;

	if (strrchr(name, '/'))
		name = strrchr(name, '/') + 1;
	if (c->regs)
		ck_assert_int_ge(asprintf(&regs, "%s/%s.regs.json", t_tmpdir(), name), 0);
	ck_assert_int_ge(asprintf(&copy, "%s/copy.%s", t_tmpdir(), c->ext), 0);
	ck_assert_int_ge(asprintf(&undo, "%s.its-undo", copy), 0);
	ck_assert_int_ge(asprintf(&in_undo, "%s.its-undo", snap), 0);
	orig = t_read_file(snap, &n0);
	ck_assert_int_eq(stat(snap, &st0), 0);
	ck_assert_int_eq(fsck(snap, regs, c->mode, "-o", copy, NULL, 0), 1);
	/* the input untouched; the undo file beside the copy, complete */
	now = t_read_file(snap, &n1);
	ck_assert(n0 == n1 && !memcmp(orig, now, n0));
	free(now);
	ck_assert_int_eq(stat(snap, &st1), 0);
	ck_assert(st0.st_mtim.tv_sec == st1.st_mtim.tv_sec &&
		  st0.st_mtim.tv_nsec == st1.st_mtim.tv_nsec);
	ck_assert_int_ne(access(in_undo, F_OK), 0);
	u = t_read_file(undo, &nu);
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(memcmp(u, "ITSUNDO\0", 8), 0);
	ck_assert_uint_eq(le32_at(u, 8), 2);		/* version */
	ck_assert_uint_eq(le32_at(u, 36), c->records);
	ck_assert_uint_eq(le32_at(u, 64), 1);		/* a copy */
	ck_assert_int_eq(memcmp(u + nu - 64, "COMPLETE", 8), 0);
	ck_assert_int_eq(memcmp(u + nu - 32, "APPLIED\0", 8), 0);
	free(u);
	/* the copy: repaired, grown by the re-encoded page only */
	now = t_read_file(copy, &n1);
	ck_assert_uint_eq(n1, n0 + (size_t)c->grow);
	if (!c->grow && c->differ)
		ck_assert_uint_eq(differing_bytes(orig, n0, now, n1), c->differ);
	free(now);
	ck_assert_int_eq(fsck(copy, regs, NULL, NULL, NULL, left, sizeof(left)), 0);
	ck_assert_str_eq(left, c->left);
	/* the input is not what the undo file undoes */
	ck_assert_int_eq(undo_run(undo, snap, &msg), 8);
	ck_assert_msg(strstr(msg, "is the input of the repair (same inode)") && one_line(msg),
		      "%s", msg);
	free(msg);
	now = t_read_file(snap, &n1);
	ck_assert(n0 == n1 && !memcmp(orig, now, n0));
	free(now);
	/* the copy gets back every byte of the input, its size and mtime */
	ck_assert_int_eq(undo_run(undo, copy, &msg), 0);
	ck_assert_msg(strstr(msg, "every byte recorded in") != NULL, "%s", msg);
	free(msg);
	now = t_read_file(copy, &n1);
	ck_assert_uint_eq(n1, n0);
	ck_assert_msg(!memcmp(orig, now, n0), "%s: the copy after --undo is not the input",
		      name);
	free(now);
	ck_assert(same_mtime(snap, copy));
	ck_assert_int_eq(undo_run(undo, copy, &msg), 0);
	ck_assert_msg(strstr(msg, "nothing to undo") != NULL, "%s", msg);
	free(msg);
	free(orig);
	free(in_undo);
	free(undo);
	free(copy);
	free(regs);
	free(snap);
}
END_TEST

/* A copy changed since the repair, by one byte of the re-encoded page or
 * by its size: refused in one line, exit 8, nothing written; put back, it
 * is undone. */
START_TEST(copy_undo_refuses_changed)
{
	char *snap = gen("fix/fix-icid-zero-page", "mig", false), *copy, *undo;
	char *orig, *now, *rep, *msg, expect[160];
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
	struct stat st;
	size_t n0, n1, nr;
	long at;
	int fd;

	ck_assert_int_ge(asprintf(&copy, "%s/copy.mig", t_tmpdir()), 0);
	ck_assert_int_ge(asprintf(&undo, "%s.its-undo", copy), 0);
	orig = t_read_file(snap, &n0);
	ck_assert_int_eq(fsck(snap, NULL, "-y", "-o", copy, NULL, 0), 1);
	rep = t_read_file(copy, &nr);
	ck_assert_uint_eq(nr, n0 + 4095);
	ck_assert_int_eq(stat(copy, &st), 0);
	ts[1] = st.st_mtim;
	/* the first byte where the copy has the page's fill byte and the
	 * input the next record: inside the re-encoded page, outside the
	 * repaired entry */
	at = -1;
	for (size_t i = 0; i < n0 && at < 0; i++)
		if (orig[i] != rep[i])
			at = (long)i;
	ck_assert_int_ge(at, 0);
	fd = open(copy, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "\x5a", 1, at + 100), 1);
	ck_assert_int_eq(futimens(fd, ts), 0);
	ck_assert_int_eq(undo_run(undo, copy, &msg), 8);
	ck_assert_msg(strstr(msg, "the 4096 bytes of the page the repair re-encoded here are not what it wrote") &&
		      one_line(msg), "%s", msg);
	free(msg);
	now = t_read_file(copy, &n1);
	ck_assert_uint_eq(n1, nr);
	ck_assert_uint_eq(differing_bytes(rep, nr, now, n1), 1);
	free(now);
	ck_assert_int_eq(pwrite(fd, rep + at + 100, 1, at + 100), 1);
	/* one byte more */
	ck_assert_int_eq(pwrite(fd, "\0", 1, (off_t)nr), 1);
	ck_assert_int_eq(futimens(fd, ts), 0);
	ck_assert_int_eq(undo_run(undo, copy, &msg), 8);
	snprintf(expect, sizeof(expect), "the copy is %zu bytes, but was %zu after the repair (and %zu before)",
		 nr + 1, nr, n0);
	ck_assert_msg(strstr(msg, expect) && one_line(msg), "%s", msg);
	free(msg);
	ck_assert_int_eq(ftruncate(fd, (off_t)nr), 0);
	/* only the mtime */
	ck_assert_int_eq(undo_run(undo, copy, &msg), 8);
	ck_assert_msg(strstr(msg, "modified since the repair") && one_line(msg), "%s", msg);
	free(msg);
	now = t_read_file(copy, &n1);
	ck_assert(n1 == nr && !memcmp(now, rep, nr));
	free(now);
	ck_assert_int_eq(futimens(fd, ts), 0);
	close(fd);
	ck_assert_int_eq(undo_run(undo, copy, &msg), 0);
	free(msg);
	now = t_read_file(copy, &n1);
	ck_assert(n1 == n0 && !memcmp(now, orig, n0));
	free(now);
	free(rep);
	free(orig);
	free(undo);
	free(copy);
	free(snap);
}
END_TEST

/* --undo-file with -o: the undo file there and nowhere else; naming the
 * copy or the input is refused before anything is written; a second -o
 * onto the same copy replaces the copy and its undo file. */
START_TEST(copy_undo_file_option)
{
	char *snap = gen("fsck-cte-res0", "mig", false), *copy, *undo, *def, *orig, *now;
	char *prog = t_build("its-fsck"), *msg;
	size_t n0, n1;

	ck_assert_int_ge(asprintf(&copy, "%s/copy.mig", t_tmpdir()), 0);
	ck_assert_int_ge(asprintf(&undo, "%s/elsewhere.undo", t_tmpdir()), 0);
	ck_assert_int_ge(asprintf(&def, "%s.its-undo", copy), 0);
	orig = t_read_file(snap, &n0);
	{
		const char *argv[] = { prog, "-p", "-o", copy, "--undo-file", undo, snap, NULL };
		struct t_run r;

		t_run(&r, argv);
		ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
		t_run_free(&r);
	}
	ck_assert_int_eq(access(undo, F_OK), 0);
	ck_assert_int_ne(access(def, F_OK), 0);
	/* again, onto the same copy: the old undo file undoes a file that
	 * is being replaced */
	{
		const char *argv[] = { prog, "-p", "-o", copy, "--undo-file", undo, snap, NULL };
		struct t_run r;

		t_run(&r, argv);
		ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
		t_run_free(&r);
	}
	ck_assert_int_eq(undo_run(undo, copy, &msg), 0);
	free(msg);
	now = t_read_file(copy, &n1);
	ck_assert(n0 == n1 && !memcmp(orig, now, n0));
	free(now);
	/* the undo file may not be the copy or the input */
	for (int k = 0; k < 2; k++) {
		const char *argv[] = { prog, "-p", "-o", copy, "--undo-file", k ? snap : copy,
				       snap, NULL };
		struct t_run r;

		t_run(&r, argv);
		ck_assert_int_eq(r.status, 8);
		ck_assert_msg(strstr(r.err, k ? "the undo file would be the snapshot itself" :
					     "the undo file would be the copy itself") &&
			      one_line(r.err), "%s", r.err);
		t_run_free(&r);
		now = t_read_file(copy, &n1);
		ck_assert(n0 == n1 && !memcmp(orig, now, n0));
		free(now);
		now = t_read_file(snap, &n1);
		ck_assert(n0 == n1 && !memcmp(orig, now, n0));
		free(now);
	}
	free(orig);
	free(prog);
	free(def);
	free(undo);
	free(copy);
	free(snap);
}
END_TEST

/* -o with nothing to write: one line, no copy, no undo file. */
START_TEST(copy_nothing_to_repair)
{
	char *snap = gen("fsck-clean", "mig", false), *copy, *undo, *expect;
	char *prog = t_build("its-fsck");
	struct t_run r;

	ck_assert_int_ge(asprintf(&copy, "%s/copy.mig", t_tmpdir()), 0);
	ck_assert_int_ge(asprintf(&undo, "%s.its-undo", copy), 0);
	ck_assert_int_ge(asprintf(&expect, "its-fsck: nothing to repair: %s not written\n", copy), 0);
	{
		const char *argv[] = { prog, "-y", "-o", copy, snap, NULL };

		t_run(&r, argv);
	}
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.err, expect);
	t_run_free(&r);
	ck_assert_int_ne(access(copy, F_OK), 0);
	ck_assert_int_ne(access(undo, F_OK), 0);
	free(expect);
	free(undo);
	free(copy);
	free(prog);
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
	tcase_add_loop_test(tc, copy_then_undo, 0,
			    (int)(sizeof(copy_cases) / sizeof(copy_cases[0])));
	tcase_add_test(tc, copy_undo_refuses_changed);
	tcase_add_test(tc, copy_undo_file_option);
	tcase_add_test(tc, copy_nothing_to_repair);
	suite_add_tcase(s, tc);
	return s;
}
