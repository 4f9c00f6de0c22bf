/* its-dump end to end: fixtures written by its-fixture (an independent
 * writer, tests/tools), the real samples, golden outputs, bad input, jq. */
#include <check.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdbool.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

#define JQ "/usr/bin/jq"

static void teardown(void)
{
	t_cleanup();
}

/* Write NAME.elf, NAME.regs.json, NAME.manifest.json into the temp dir. */
static void gen(const char *name)
{
	char *writer = t_build("its-fixture"), *spec, out[512], regs[512], man[512];
	struct t_run r;

	ck_assert_int_ge(asprintf(&spec, "tests/fixtures/%s.json", name), 0);
	free(spec);
	spec = NULL;
	ck_assert_int_ge(asprintf(&spec, "%s/tests/fixtures/%s.json",
				  t_env("ITS_SOURCE_DIR"), name), 0);
	snprintf(out, sizeof(out), "%s/%s.elf", t_tmpdir(), name);
	snprintf(regs, sizeof(regs), "%s/%s.regs.json", t_tmpdir(), name);
	snprintf(man, sizeof(man), "%s/%s.manifest.json", t_tmpdir(), name);
	{
		const char *argv[] = { writer, spec, "-o", out, "--regs", regs,
				       "--manifest", man, NULL };

		t_run(&r, argv);
	}
	ck_assert_msg(r.status == 0, "its-fixture %s: %s", name, r.err);
	t_run_free(&r);
	free(spec);
	free(writer);
}

static json_object *parse(const char *text)
{
	json_object *o = json_tokener_parse(text);

	ck_assert_msg(o != NULL, "not JSON: %.200s", text);
	return o;
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no key '%s' in %s",
		      key, json_object_to_json_string(o));
	return v;
}

static const char *gets(json_object *o, const char *key)
{
	return json_object_get_string(get(o, key));
}

static int64_t geti(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	ck_assert_msg(json_object_is_type(v, json_type_int), "'%s' is not a number", key);
	return json_object_get_int64(v);
}

static json_object *idx(json_object *a, size_t i)
{
	ck_assert(json_object_is_type(a, json_type_array));
	ck_assert_uint_lt(i, json_object_array_length(a));
	return json_object_array_get_idx(a, i);
}

static size_t len(json_object *a)
{
	ck_assert(json_object_is_type(a, json_type_array));
	return json_object_array_length(a);
}

static void same_str(json_object *a, json_object *b, const char *key)
{
	ck_assert_msg(!strcmp(gets(a, key), gets(b, key)), "%s: %s != %s", key,
		      gets(a, key), gets(b, key));
}

static void same_int(json_object *a, json_object *b, const char *key)
{
	ck_assert_msg(geti(a, key) == geti(b, key), "%s: %lld != %lld", key,
		      (long long)geti(a, key), (long long)geti(b, key));
}

static size_t nonzero_count(json_object *arr)
{
	size_t n = 0;

	for (size_t i = 0; i < len(arr); i++)
		if (strtoull(gets(idx(arr, i), "raw"), NULL, 16))
			n++;
	return n;
}

/* Every non-zero entry the writer encoded is decoded at the same GPA with the
 * same raw value and fields, and nothing else is (its-dump --all output).
 * Also used by check_stream.c. */
void compare_with_manifest(json_object *man, json_object *doc)
{
	json_object *its, *md, *dd, *mc, *dc;
	size_t di = 0;

	its = idx(get(doc, "its"), 0);
	mc = get(man, "collections");
	dc = get(its, "collections");
	ck_assert_uint_eq(len(dc), nonzero_count(mc));
	for (size_t i = 0, j = 0; i < len(mc); i++) {
		json_object *m = idx(mc, i), *d;

		if (!strtoull(gets(m, "raw"), NULL, 16))
			continue;
		d = idx(dc, j++);
		same_int(m, d, "slot");
		same_int(m, d, "icid");
		same_int(m, d, "target");
		same_str(m, d, "gpa");
		same_str(m, d, "raw");
		ck_assert_int_eq(json_object_get_boolean(get(m, "valid")),
				 json_object_get_boolean(get(d, "valid")));
	}
	if (json_object_object_get_ex(man, "l1", &mc)) {
		dc = get(get(its, "device_table"), "l1");
		ck_assert_uint_eq(len(dc), nonzero_count(mc));
		for (size_t i = 0, j = 0; i < len(mc); i++) {
			json_object *m = idx(mc, i), *d;

			if (!strtoull(gets(m, "raw"), NULL, 16))
				continue;
			d = idx(dc, j++);
			same_int(m, d, "index");
			same_str(m, d, "gpa");
			same_str(m, d, "raw");
		}
	}
	md = get(man, "devices");
	dd = get(its, "devices");
	for (size_t i = 0; i < len(md); i++) {
		json_object *m = idx(md, i), *d, *me, *de;
		size_t ej = 0;

		if (!strtoull(gets(m, "raw"), NULL, 16))
			continue;
		d = idx(dd, di++);
		same_int(m, d, "device_id");
		same_str(m, d, "gpa");
		same_str(m, d, "raw");
		same_str(m, d, "itt");
		same_int(m, d, "event_id_bits");
		same_int(m, d, "next");
		ck_assert_int_eq(json_object_get_boolean(get(m, "valid")),
				 json_object_get_boolean(get(d, "valid")));
		me = get(m, "events");
		de = get(d, "events");
		if (!json_object_get_boolean(get(m, "valid")) ||
		    strstr(json_object_to_json_string(get(d, "flags")), "in_invalid_l1")) {
			/* the ITT of an invalid or unreachable DTE is not read */
			ck_assert_uint_eq(len(de), 0);
			continue;
		}
		ck_assert_uint_eq(len(de), nonzero_count(me));
		for (size_t k = 0; k < len(me); k++) {
			json_object *a = idx(me, k), *b;

			if (!strtoull(gets(a, "raw"), NULL, 16))
				continue;
			b = idx(de, ej++);
			same_int(a, b, "event_id");
			same_str(a, b, "gpa");
			same_str(a, b, "raw");
			same_int(a, b, "lpi");
			same_int(a, b, "icid");
			same_int(a, b, "next");
		}
	}
	ck_assert_uint_eq(len(dd), di);
}

static void check_against_manifest(const char *name)
{
	char path[512], *text;
	json_object *man, *doc;
	struct t_run r;

	gen(name);
	t_run_fixture(&r, "its-dump", name, "--json", "--all", NULL);
	ck_assert_msg(r.status == 0 || r.status == 1, "%s: exit %d: %s", name,
		      r.status, r.err);
	snprintf(path, sizeof(path), "%s/%s.manifest.json", t_tmpdir(), name);
	text = t_read_file(path, NULL);
	man = parse(text);
	free(text);
	doc = parse(r.out);
	compare_with_manifest(man, doc);
	json_object_put(man);
	json_object_put(doc);
	t_run_free(&r);
}

START_TEST(manifest_minimal) { check_against_manifest("minimal"); }
END_TEST
START_TEST(manifest_flat) { check_against_manifest("flat-24dev"); }
END_TEST
START_TEST(manifest_twolevel) { check_against_manifest("twolevel-24dev"); }
END_TEST
START_TEST(manifest_invalid) { check_against_manifest("invalid-entries"); }
END_TEST
START_TEST(manifest_replica) { check_against_manifest("kvm-synthetic-replica"); }
END_TEST
START_TEST(manifest_abi) { check_against_manifest("abi-examples"); }
END_TEST

/* The independent generator's KVM-ABI core (with its registers file) and
 * stream decode to exactly the collections, devices and events of its
 * expected.json. */
static void kvm_synthetic(bool stream)
{
	char *prog = t_build("its-dump"), regs[512], snap[512], exp_path[512], *text;
	json_object *exp, *doc, *its, *ec, *dc, *ed, *dd;
	struct t_run r;

	snprintf(regs, sizeof(regs), "%s/samples/kvm-synthetic/kvm-virt-2level.registers.json",
		 t_env("ITS_SHARED_DIR"));
	snprintf(exp_path, sizeof(exp_path), "%s/samples/kvm-synthetic/kvm-virt-2level.expected.json",
		 t_env("ITS_SHARED_DIR"));
	snprintf(snap, sizeof(snap), "%s/kvm-virt-2level.%s", t_env("ITS_SAMPLES_DIR"),
		 stream ? "mig" : "elf");
	if (stream) {
		const char *argv[] = { prog, "-j", snap, NULL };

		t_run(&r, argv);
	} else {
		const char *argv[] = { prog, "-j", "--its-regs", regs, snap, NULL };

		t_run(&r, argv);
	}
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	text = t_read_file(exp_path, NULL);
	exp = parse(text);
	free(text);
	doc = parse(r.out);
	its = idx(get(doc, "its"), 0);
	ck_assert_str_eq(gets(its, "layout"), "kvm");
	ec = get(exp, "collections");
	dc = get(its, "collections");
	ck_assert_uint_eq(len(ec), 2);
	ck_assert_uint_eq(len(dc), len(ec));
	for (size_t i = 0; i < len(ec); i++) {
		same_int(idx(ec, i), idx(dc, i), "icid");
		same_int(idx(ec, i), idx(dc, i), "target");
		same_str(idx(ec, i), idx(dc, i), "gpa");
		same_str(idx(ec, i), idx(dc, i), "raw");
	}
	ed = get(exp, "devices");
	dd = get(its, "devices");
	ck_assert_uint_eq(len(ed), 6);
	ck_assert_uint_eq(len(dd), len(ed));
	for (size_t i = 0; i < len(ed); i++) {
		json_object *e = idx(ed, i), *d = idx(dd, i);
		json_object *ee = get(e, "events"), *de = get(d, "events");

		same_int(e, d, "device_id");
		same_str(e, d, "itt");
		same_int(e, d, "event_id_bits");
		same_int(e, d, "next");
		same_str(e, d, "gpa");
		same_str(e, d, "raw");
		ck_assert_uint_eq(len(de), len(ee));
		for (size_t k = 0; k < len(ee); k++) {
			same_int(idx(ee, k), idx(de, k), "event_id");
			same_int(idx(ee, k), idx(de, k), "lpi");
			same_int(idx(ee, k), idx(de, k), "icid");
			same_int(idx(ee, k), idx(de, k), "next");
			same_str(idx(ee, k), idx(de, k), "gpa");
			same_str(idx(ee, k), idx(de, k), "raw");
		}
	}
	ck_assert_int_eq(geti(get(doc, "summary"), "events"), 20);
	ck_assert_str_eq(json_object_get_string(get(get(its, "registers"), "GITS_IIDR")), "0x4b00043b");
	json_object_put(exp);
	json_object_put(doc);
	t_run_free(&r);
	free(prog);
}

START_TEST(kvm_synthetic_elf) { kvm_synthetic(false); }
END_TEST
START_TEST(kvm_synthetic_stream) { kvm_synthetic(true); }
END_TEST

/* Golden outputs: reviewed by hand against the fixture specs and
 * spec/kvm-its-abi.md when first written (tests/fixtures/golden/README). */
static void golden(const char *name, const char *variant, const char *x1,
		   const char *x2, int want_status)
{
	char rel[256], *path, *want;
	struct t_run r;

	gen(name);
	t_run_fixture(&r, "its-dump", name, x1, x2, NULL);
	ck_assert_msg(r.status == want_status, "%s: exit %d, expected %d: %s",
		      name, r.status, want_status, r.err);
	snprintf(rel, sizeof(rel), "tests/fixtures/golden/%s%s", name, variant);
	path = t_src(rel);
	want = t_read_file(path, NULL);
	ck_assert_msg(want != NULL, "missing golden file %s", path);
	ck_assert_msg(!strcmp(want, r.out),
		      "%s differs from the output:\n%s", rel, r.out);
	ck_assert_str_eq(r.err, "");
	free(want);
	free(path);
	t_run_free(&r);
}

START_TEST(golden_minimal_text) { golden("minimal", ".txt", NULL, NULL, 0); }
END_TEST
START_TEST(golden_minimal_json) { golden("minimal", ".json", "--pretty", NULL, 0); }
END_TEST
START_TEST(golden_twolevel_text) { golden("twolevel-24dev", ".txt", NULL, NULL, 0); }
END_TEST
START_TEST(golden_invalid_text) { golden("invalid-entries", ".txt", "--all", NULL, 0); }
END_TEST
START_TEST(golden_invalid_json) { golden("invalid-entries", ".json", "--all", "--pretty", 0); }
END_TEST
START_TEST(golden_itt_absent_text) { golden("bad-itt-absent", ".txt", NULL, NULL, 1); }
END_TEST
START_TEST(golden_itt_absent_json) { golden("bad-itt-absent", ".json", "--pretty", NULL, 1); }
END_TEST
START_TEST(golden_next_text) { golden("bad-next", ".txt", NULL, NULL, 1); }
END_TEST
START_TEST(golden_size31_text) { golden("bad-dte-size31", ".txt", NULL, NULL, 1); }
END_TEST
START_TEST(golden_baser_outside_text) { golden("bad-baser-outside-ram", ".txt", NULL, NULL, 1); }
END_TEST

/* A damaged container: exit 8 and one line naming the file and offset. */
static void bad_elf(const char *name, const char *want_err)
{
	struct t_run r;
	json_object *doc;

	gen(name);
	t_run_fixture(&r, "its-dump", name, NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 8);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, want_err);
	t_run_free(&r);
	t_run_fixture(&r, "its-dump", name, "-j", NULL, NULL);
	ck_assert_int_eq(r.status, 8);
	doc = parse(r.out);
	ck_assert_str_eq(gets(get(doc, "error"), "file"), strchr(want_err, ' ') + 1 ?
			 gets(get(doc, "error"), "file") : "");
	ck_assert_msg(strstr(want_err, gets(get(doc, "error"), "message")) != NULL,
		      "JSON message differs: %s", r.out);
	json_object_put(doc);
	t_run_free(&r);
}

START_TEST(bad_elf_truncated)
{
	bad_elf("bad-elf-truncated",
		"its-dump: bad-elf-truncated.elf: offset 0xc0: program header table (2 entries) runs past end of file (220 bytes): truncated core?\n");
}
END_TEST

START_TEST(bad_elf_past_eof)
{
	bad_elf("bad-elf-phdr-past-eof",
		"its-dump: bad-elf-phdr-past-eof.elf: offset 0x130: PT_LOAD #2 (paddr 0x40e10000, offset 0xe008f8, filesz 0x2f0000) extends past end of file (16713976 bytes)\n");
}
END_TEST

START_TEST(bad_elf_overlap)
{
	bad_elf("bad-elf-overlap",
		"its-dump: bad-elf-overlap.elf: RAM regions 'PT_LOAD #1' and 'PT_LOAD #2' overlap at GPA 0x40df0000\n");
}
END_TEST

/* jq reads the JSON, and the JSON feeds --its-regs back. */
START_TEST(jq_and_regs_round_trip)
{
	char *prog = t_build("its-dump"), *json_path, *text;
	struct t_run r, r2;
	FILE *f;

	gen("flat-24dev");
	t_run_fixture(&r, "its-dump", "flat-24dev", "-j", NULL, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_ge(asprintf(&json_path, "%s/out.json", t_tmpdir()), 0);
	f = fopen(json_path, "w");
	fputs(r.out, f);
	fclose(f);
	{
		const char *argv[] = { JQ, "-e", "[.its[0].devices[].events[].lpi] | length == 60 and .[0] == 8192 and .[59] == 8251", json_path, NULL };

		t_run(&r2, argv);
		ck_assert_msg(r2.status == 0, "jq: %s%s", r2.out, r2.err);
		ck_assert_str_eq(r2.out, "true\n");
		t_run_free(&r2);
	}
	{
		const char *argv[] = { JQ, "-r", ".its[0].registers.GITS_BASER[0], (.its[0].devices | length), .its[0].collections[2].target, .format_version", json_path, NULL };

		t_run(&r2, argv);
		ck_assert_int_eq(r2.status, 0);
		ck_assert_str_eq(r2.out, "0xb907000040a10601\n24\n2\n1\n");
		t_run_free(&r2);
	}
	/* its-dump -j > regs.json; its-dump --its-regs regs.json: same output */
	{
		char elf[512];
		const char *a1[] = { prog, "--its-regs", "out.json", "flat-24dev.elf", NULL };
		const char *a2[] = { prog, "--its-regs", "flat-24dev.regs.json", "flat-24dev.elf", NULL };

		snprintf(elf, sizeof(elf), "%s/flat-24dev.elf", t_tmpdir());
		t_run_in(&r2, t_tmpdir(), a1);
		ck_assert_int_eq(r2.status, 0);
		text = strdup(r2.out);
		t_run_free(&r2);
		t_run_in(&r2, t_tmpdir(), a2);
		/* only the name of the registers file differs */
		ck_assert_ptr_nonnull(strstr(text, "registers from: out.json\n"));
		ck_assert_ptr_nonnull(strstr(r2.out, "registers from: flat-24dev.regs.json\n"));
		ck_assert_uint_eq(strlen(text) - strlen("out.json"),
				  strlen(r2.out) - strlen("flat-24dev.regs.json"));
		ck_assert_str_eq(strstr(text, "  Registers:"), strstr(r2.out, "  Registers:"));
		free(text);
		t_run_free(&r2);
	}
	free(json_path);
	free(prog);
	t_run_free(&r);
}
END_TEST

START_TEST(device_filter_and_options)
{
	struct t_run r;
	json_object *doc, *devs;

	gen("flat-24dev");
	t_run_fixture(&r, "its-dump", "flat-24dev", "-j", "-d", "0x10");
	ck_assert_int_eq(r.status, 0);
	doc = parse(r.out);
	devs = get(idx(get(doc, "its"), 0), "devices");
	ck_assert_uint_eq(len(devs), 1);
	ck_assert_int_eq(geti(idx(devs, 0), "device_id"), 16);
	ck_assert_uint_eq(len(get(idx(devs, 0), "events")), 2);
	json_object_put(doc);
	t_run_free(&r);
	/* a command-line register overrides the file: BASER0 invalid */
	t_run_fixture(&r, "its-dump", "flat-24dev", "-j", "--baser", "0=0x3907000040a10601");
	ck_assert_int_eq(r.status, 0);
	doc = parse(r.out);
	ck_assert_uint_eq(len(get(idx(get(doc, "its"), 0), "devices")), 0);
	ck_assert_int_eq(json_object_get_boolean(get(get(idx(get(doc, "its"), 0), "device_table"), "valid")), 0);
	json_object_put(doc);
	t_run_free(&r);
}
END_TEST

START_TEST(usage_errors)
{
	char *prog = t_build("its-dump"), elf[512];
	struct t_run r;

	gen("minimal");
	snprintf(elf, sizeof(elf), "%s/minimal.elf", t_tmpdir());
	{
		const char *argv[] = { prog, NULL };

		t_run(&r, argv);
		ck_assert_int_eq(r.status, 16);
		ck_assert_ptr_nonnull(strstr(r.err, "no snapshot given"));
		t_run_free(&r);
	}
	{
		const char *argv[] = { prog, "--baser", "8=0x1", elf, NULL };

		t_run(&r, argv);
		ck_assert_int_eq(r.status, 16);
		ck_assert_ptr_nonnull(strstr(r.err, "--baser: '8' is not a valid index (0..7)"));
		t_run_free(&r);
	}
	{
		const char *argv[] = { prog, "--layout", "xen", elf, NULL };

		t_run(&r, argv);
		ck_assert_int_eq(r.status, 16);
		t_run_free(&r);
	}
	{
		const char *argv[] = { prog, "--ctlr", "0x100000000", elf, NULL };

		t_run(&r, argv);
		ck_assert_int_eq(r.status, 16);
		t_run_free(&r);
	}
	{
		/* an ELF core holds no registers: say how to give them */
		const char *argv[] = { prog, "minimal.elf", NULL };

		t_run_in(&r, t_tmpdir(), argv);
		ck_assert_int_eq(r.status, 16);
		ck_assert_str_eq(r.err, "its-dump: minimal.elf: ELF cores carry no ITS registers: supply --its-regs FILE (e.g. its-dump -j of a migration stream of the same VM) or --baser N=VALUE\n");
		t_run_free(&r);
	}
	{
		const char *argv[] = { prog, "--its-regs", "/nonexistent.json", elf, NULL };

		t_run(&r, argv);
		ck_assert_int_eq(r.status, 8);
		ck_assert_str_eq(r.err, "its-dump: /nonexistent.json: cannot open: No such file or directory\n");
		t_run_free(&r);
	}
	free(prog);
}
END_TEST

/* Issue 7: --ram-base 0x40000001 was taken, every table read one byte
 * off, and its-dump said 0 with nothing decoded. */
START_TEST(regress_ram_base_unaligned)
{
	char *prog = t_build("its-dump");
	struct t_run r;
	const char *argv[] = { prog, "--ram-base", "0x40000001", "ram.bin",
			       NULL };

	t_run_in(&r, t_tmpdir(), argv);
	ck_assert_int_eq(r.status, 16);
	ck_assert_str_eq(r.err, "its-dump: --ram-base: GPA 0x40000001 is not aligned to 4 KiB (RAM starts on a page boundary)\n"
			 "Try `its-dump --help' or `its-dump --usage' for more information.\n");
	ck_assert_str_eq(r.out, "");
	t_run_free(&r);
	free(prog);
}
END_TEST

/* Issue 7: valid DTEs and ITEs past a next of 0, or jumped over by a next,
 * were counted as live ("0 unreachable"); its-dump(1) counts them
 * unreachable, and so does its-fsck (DTE_DROPPED, ITE_DROPPED). DeviceID 8
 * ends its ITT at event 1; 16's event 0 jumps over event 1; DeviceID 16's
 * next (16) jumps over 24 to 32, whose next 0 leaves 40 after the end
 * (tests/fixtures/unreachable-chains.json). */
START_TEST(regress_unreachable_chains)
{
	char *writer = t_build("its-fixture"), *dump = t_build("its-dump");
	char *fsck = t_build("its-fsck"), spec[512], elf[512], regs[512];
	json_object *doc, *devs, *probs;
	size_t dropped = 0;
	struct t_run r;

	snprintf(spec, sizeof(spec), "%s/tests/fixtures/unreachable-chains.json",
		 t_env("ITS_SOURCE_DIR"));
	snprintf(elf, sizeof(elf), "%s/chains.elf", t_tmpdir());
	snprintf(regs, sizeof(regs), "%s/chains.regs.json", t_tmpdir());
	{
		const char *argv[] = { writer, spec, "-o", elf, "--regs", regs,
				       NULL };

		t_run(&r, argv);
		ck_assert_msg(r.status == 0, "its-fixture: %s", r.err);
		t_run_free(&r);
	}
	{
		const char *argv[] = { dump, "--its-regs", regs, elf, NULL };

		t_run(&r, argv);
	}
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\nSummary: 1 collections, 3 devices, 5 events; 7 unreachable, 0 flagged entries, 0 unreadable ranges; 0 invalid entries not shown\n"));
	t_run_free(&r);
	{
		const char *argv[] = { dump, "-j", "--its-regs", regs, elf, NULL };

		t_run(&r, argv);
	}
	doc = parse(r.out);
	devs = get(idx(get(doc, "its"), 0), "devices");
	ck_assert_uint_eq(len(devs), 5);
	/* the flags of each device and of each of its events, in order */
	{
		static const char *const want[5] = {
			"[] [] [] [\"after_terminator\"] [\"after_terminator\"]",
			"[] [] [\"skipped_by_next\"] []",
			"[\"skipped_by_next\"] []",
			"[] []",
			"[\"after_terminator\"] []",
		};

		for (size_t i = 0; i < 5; i++) {
			json_object *d = idx(devs, i), *ev = get(d, "events");
			char got[512];
			size_t n;

			n = (size_t)snprintf(got, sizeof(got), "%s",
					     json_object_to_json_string_ext(get(d, "flags"), JSON_C_TO_STRING_PLAIN));
			for (size_t k = 0; k < len(ev); k++)
				n += (size_t)snprintf(got + n, sizeof(got) - n, " %s",
						      json_object_to_json_string_ext(get(idx(ev, k), "flags"), JSON_C_TO_STRING_PLAIN));
			ck_assert_str_eq(got, want[i]);
		}
	}
	ck_assert_int_eq(geti(get(doc, "summary"), "unreachable"), 7);
	json_object_put(doc);
	t_run_free(&r);
	/* its-fsck finds the same 7 entries dropped */
	{
		const char *argv[] = { fsck, "-n", "-j", "--its-regs", regs, elf,
				       NULL };

		t_run(&r, argv);
	}
	doc = parse(r.out);
	probs = get(doc, "problems");
	for (size_t i = 0; i < len(probs); i++) {
		const char *code = gets(idx(probs, i), "code");

		dropped += !strcmp(code, "DTE_DROPPED") ||
			   !strcmp(code, "ITE_DROPPED");
	}
	ck_assert_uint_eq(dropped, 7);
	json_object_put(doc);
	t_run_free(&r);
	free(fsck);
	free(dump);
	free(writer);
}
END_TEST

/* its-dump < file reads it; a pipe cannot be read (the readers seek). */
START_TEST(standard_input)
{
	char *prog = t_build("its-dump"), path[512];
	const char *argv[] = { prog, NULL };
	struct t_run r;
	int fd, p[2];

	snprintf(path, sizeof(path), "%s/kvm-virt-2level.mig", t_env("ITS_SAMPLES_DIR"));
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	t_run_full(&r, NULL, fd, argv);
	close(fd);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "Summary: 2 collections, 6 devices, 20 events;"));
	t_run_free(&r);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "QEVM", 4), 4);
	close(p[1]);
	t_run_full(&r, NULL, p[0], argv);
	close(p[0]);
	ck_assert_int_eq(r.status, 8);
	ck_assert_str_eq(r.err, "its-dump: (standard input): not seekable: a regular file or block device is needed (save the stream to a file and give its name)\n");
	t_run_free(&r);
	free(prog);
}
END_TEST

/* What samples/README.md lists for the real QEMU samples: the same
 * DeviceIDs, EventIDs, LPIs and ICIDs in every capture; ITT and table
 * addresses per boot. */
struct real_sample {
	const char *l1_raw;
	uint64_t l2;
	const char *itt[7];
	const char *dte_raw[7];
};

static const struct real_sample qemu10 = {
	"0x80000000431c0000", 0x431c0000,
	{ "0x4303ec00", "0x4303e400", "0x4387d400", "0x4303b600", "0x4303a000",
	  "0x4387c800", "0x43882000" },
	{ "0x0000000010c0fb03", "0x0000000010c0f903", "0x0000000010e1f501",
	  "0x0000000010c0ed81", "0x0000000010c0e801", "0x0000000010e1f203",
	  "0x0000000010e20803" },
};

static const struct real_sample qemu72 = {
	"0x8000000042dd0000", 0x42dd0000,
	{ "0x42cbca00", "0x42cbda00", "0x42c4e400", "0x42c4b200", "0x42c4ac00",
	  "0x42da2200", "0x42c4e000" },
	{ "0x0000000010b2f283", "0x0000000010b2f683", "0x0000000010b13901",
	  "0x0000000010b12c81", "0x0000000010b12b01", "0x0000000010b68883",
	  "0x0000000010b13803" },
};

static const int real_want[7][4] = {	/* DeviceID, bits, first LPI, events */
	{ 0x8, 2, 8194, 3 }, { 0x10, 2, 8198, 3 }, { 0x18, 1, 8202, 2 },
	{ 0x20, 1, 8192, 1 }, { 0x28, 1, 8193, 1 }, { 0x100, 2, 8204, 3 },
	{ 0x200, 2, 8208, 3 },
};
static const int real_icid[7][3] = {
	{ 0, 1, 0 }, { 1, 0, 1 }, { 0, 1 }, { 0 }, { 1 }, { 0, 1, 0 }, { 1, 0, 1 },
};

/* The facts that hold for every capture of the fixture guest (also used by
 * check_real.c). */
void check_real_mapping(json_object *doc)
{
	json_object *its = idx(get(doc, "its"), 0), *devs;

	ck_assert_str_eq(gets(its, "layout"), "tcg");
	ck_assert_uint_eq(len(get(its, "collections")), 2);
	ck_assert_str_eq(gets(idx(get(its, "collections"), 0), "raw"), "0x0000000000000001");
	ck_assert_str_eq(gets(idx(get(its, "collections"), 1), "raw"), "0x0000000000000003");
	devs = get(its, "devices");
	ck_assert_uint_eq(len(devs), 7);
	for (size_t i = 0; i < 7; i++) {
		json_object *d = idx(devs, i), *ev = get(d, "events");

		ck_assert_int_eq(geti(d, "device_id"), real_want[i][0]);
		ck_assert_int_eq(geti(d, "event_id_bits"), real_want[i][1]);
		ck_assert(json_object_get_boolean(get(d, "valid")));
		ck_assert_uint_eq(len(ev), (size_t)real_want[i][3]);
		for (size_t k = 0; k < len(ev); k++) {
			ck_assert_int_eq(geti(idx(ev, k), "event_id"), (int64_t)k);
			ck_assert_int_eq(geti(idx(ev, k), "lpi"), real_want[i][2] + (int64_t)k);
			ck_assert_int_eq(geti(idx(ev, k), "icid"), real_icid[i][k]);
		}
	}
	ck_assert_int_eq(geti(get(doc, "summary"), "events"), 16);
	ck_assert_int_eq(geti(get(doc, "summary"), "flagged"), 0);
	ck_assert_int_eq(geti(get(doc, "summary"), "unreadable"), 0);
}

static void check_real_tables(json_object *doc, const struct real_sample *rs)
{
	const int (*want)[4] = real_want;
	const int (*icid)[3] = real_icid;
	json_object *its = idx(get(doc, "its"), 0), *devs;
	char gpa[32];

	check_real_mapping(doc);
	ck_assert_str_eq(gets(its, "layout"), "tcg");
	ck_assert_int_eq(geti(get(doc, "snapshot"), "vcpus"), 2);
	ck_assert_uint_eq(len(get(its, "collections")), 2);
	ck_assert_str_eq(gets(idx(get(its, "collections"), 0), "raw"), "0x0000000000000001");
	ck_assert_str_eq(gets(idx(get(its, "collections"), 1), "raw"), "0x0000000000000003");
	ck_assert_int_eq(geti(idx(get(its, "collections"), 1), "target"), 1);
	ck_assert_int_eq(geti(idx(get(its, "collections"), 1), "icid"), 1);
	ck_assert_str_eq(gets(get(its, "device_table"), "gpa"), "0x42590000");
	ck_assert_uint_eq(len(get(get(its, "device_table"), "l1")), 1);
	ck_assert_str_eq(gets(idx(get(get(its, "device_table"), "l1"), 0), "raw"), rs->l1_raw);
	devs = get(its, "devices");
	ck_assert_uint_eq(len(devs), 7);
	for (size_t i = 0; i < 7; i++) {
		json_object *d = idx(devs, i), *ev = get(d, "events");

		ck_assert_int_eq(geti(d, "device_id"), want[i][0]);
		ck_assert_int_eq(geti(d, "event_id_bits"), want[i][1]);
		ck_assert_str_eq(gets(d, "itt"), rs->itt[i]);
		ck_assert_str_eq(gets(d, "raw"), rs->dte_raw[i]);
		snprintf(gpa, sizeof(gpa), "0x%llx",
			 (unsigned long long)(rs->l2 + 8 * (uint64_t)want[i][0]));
		ck_assert_str_eq(gets(d, "gpa"), gpa);
		ck_assert_uint_eq(len(ev), (size_t)want[i][3]);
		ck_assert(!json_object_object_get_ex(d, "next", NULL));
		for (size_t k = 0; k < len(ev); k++) {
			ck_assert_int_eq(geti(idx(ev, k), "event_id"), (int64_t)k);
			ck_assert_int_eq(geti(idx(ev, k), "lpi"), want[i][2] + (int64_t)k);
			ck_assert_int_eq(geti(idx(ev, k), "icid"), icid[i][k]);
			ck_assert_str_eq(gets(idx(ev, k), "int_type"), "physical");
			ck_assert_int_eq(geti(idx(ev, k), "doorbell"), 0x3ff);
			ck_assert(!json_object_object_get_ex(idx(ev, k), "next", NULL));
		}
	}
	/* an ITE's raw value: its 12 bytes as one little-endian number */
	ck_assert_str_eq(gets(idx(get(idx(devs, 0), "events"), 1), "raw"),
			 "0x000003ff000000010000800f");
	ck_assert_int_eq(geti(get(doc, "summary"), "events"), 16);
	ck_assert_int_eq(geti(get(doc, "summary"), "devices"), 7);
}

static json_object *run_json(const char *const argv[])
{
	struct t_run r;
	json_object *doc;

	t_run(&r, argv);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.err, "");
	doc = parse(r.out);
	t_run_free(&r);
	return doc;
}

/* The real QEMU 10.0 ELF dump, with the registers its stream carries. */
START_TEST(qemu10_elf_tcg)
{
	char *prog = t_build("its-dump"), elf[512];
	json_object *doc;

	snprintf(elf, sizeof(elf), "%s/qemu10-virt-its-stopped.elf", t_env("ITS_SAMPLES_DIR"));
	{
		const char *argv[] = { prog, "-j", "--iidr", "0", "--baser", "0=0xf907000042590600",
				       "--baser", "1=0xbc070000425a0600", elf, NULL };

		doc = run_json(argv);
	}
	check_real_tables(doc, &qemu10);
	json_object_put(doc);
	free(prog);
}
END_TEST

static void check_real_stream(const char *file, const struct real_sample *rs,
			      uint64_t data, uint64_t zero, const char *its_off,
			      int its_id)
{
	char *prog = t_build("its-dump"), path[512];
	json_object *doc, *regs, *ram, *sec, *rd, *its_sec = NULL;

	snprintf(path, sizeof(path), "%s/%s", t_env("ITS_SAMPLES_DIR"), file);
	{
		const char *argv[] = { prog, "-j", "--sections", path, NULL };

		doc = run_json(argv);
	}
	check_real_tables(doc, rs);
	regs = get(idx(get(doc, "its"), 0), "registers");
	ck_assert_str_eq(gets(regs, "GITS_CTLR"), "0x80000001");
	ck_assert_str_eq(gets(regs, "GITS_IIDR"), "0x00000000");
	ck_assert_str_eq(gets(regs, "GITS_CBASER"), "0xb80000004258040f");
	ck_assert_str_eq(gets(regs, "GITS_CWRITER"), "0x00000000000009e0");
	ck_assert_str_eq(gets(regs, "GITS_CREADR"), "0x00000000000009e0");
	ck_assert_str_eq(json_object_get_string(idx(get(regs, "GITS_BASER"), 0)), "0xf907000042590600");
	ck_assert_str_eq(json_object_get_string(idx(get(regs, "GITS_BASER"), 1)), "0xbc070000425a0600");
	ck_assert_str_eq(json_object_get_string(idx(get(regs, "GITS_BASER"), 2)), "0x0000000000000000");
	rd = get(doc, "redistributors");
	ck_assert_uint_eq(len(rd), 2);
	ck_assert_str_eq(gets(idx(rd, 0), "GICR_PROPBASER"), "0x00000000425b078f");
	ck_assert_str_eq(gets(idx(rd, 1), "GICR_PROPBASER"), "0x00000000425b078f");
	ck_assert_str_eq(gets(get(doc, "snapshot"), "format"), "qemu-stream");
	ram = idx(get(get(doc, "snapshot"), "ram"), 0);
	ck_assert_str_eq(gets(ram, "name"), "mach-virt.ram");
	ck_assert_str_eq(gets(ram, "gpa"), "0x40000000");
	ck_assert_str_eq(gets(ram, "size"), "0x10000000");
	ck_assert_int_eq(geti(get(ram, "pages"), "data"), (int64_t)data);
	ck_assert_int_eq(geti(get(ram, "pages"), "zero"), (int64_t)zero);
	ck_assert_int_eq(geti(get(ram, "pages"), "absent"), 0);
	ck_assert_int_eq(geti(get(ram, "pages"), "resent"), 0);
	sec = get(get(doc, "snapshot"), "sections");
	for (size_t i = 0; i < len(sec); i++)
		if (json_object_object_get_ex(idx(sec, i), "name", NULL) &&
		    !strcmp(gets(idx(sec, i), "name"), "arm_gicv3_its"))
			its_sec = idx(sec, i);
	ck_assert_ptr_nonnull(its_sec);
	ck_assert_str_eq(gets(its_sec, "offset"), its_off);
	ck_assert_int_eq(geti(its_sec, "section_id"), its_id);
	ck_assert_int_eq(geti(its_sec, "size"), 128);
	ck_assert_str_eq(gets(its_sec, "type"), "SECTION_FULL");
	json_object_put(doc);
	free(prog);
}

START_TEST(qemu10_stream)
{
	/* README: ITS section at 62,661,364 = 0x3bc22f4, section_id 10 */
	check_real_stream("qemu10-virt-its-stopped.mig", &qemu10, 15079, 50457,
			  "0x3bc22f4", 10);
}
END_TEST

START_TEST(qemu72_stream)
{
	/* README: ITS section at 62,632,729 = 0x3bbb319, section_id 11 */
	check_real_stream("qemu72-virt-its-stopped.mig", &qemu72, 15072, 50464,
			  "0x3bbb319", 11);
}
END_TEST

Suite *suite_dump(void)
{
	Suite *s = suite_create("dump");
	TCase *tc = tcase_create("oracle");
	TCase *tg = tcase_create("golden");
	TCase *tb = tcase_create("cli");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_checked_fixture(tg, NULL, teardown);
	tcase_add_checked_fixture(tb, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_set_timeout(tg, 60);
	tcase_set_timeout(tb, 60);
	tcase_add_test(tc, manifest_minimal);
	tcase_add_test(tc, manifest_flat);
	tcase_add_test(tc, manifest_twolevel);
	tcase_add_test(tc, manifest_invalid);
	tcase_add_test(tc, manifest_replica);
	tcase_add_test(tc, manifest_abi);
	tcase_add_test(tc, kvm_synthetic_elf);
	tcase_add_test(tc, kvm_synthetic_stream);
	tcase_add_test(tc, qemu10_elf_tcg);
	tcase_add_test(tc, qemu10_stream);
	tcase_add_test(tc, qemu72_stream);
	tcase_add_test(tg, golden_minimal_text);
	tcase_add_test(tg, golden_minimal_json);
	tcase_add_test(tg, golden_twolevel_text);
	tcase_add_test(tg, golden_invalid_text);
	tcase_add_test(tg, golden_invalid_json);
	tcase_add_test(tg, golden_itt_absent_text);
	tcase_add_test(tg, golden_itt_absent_json);
	tcase_add_test(tg, golden_next_text);
	tcase_add_test(tg, golden_size31_text);
	tcase_add_test(tg, golden_baser_outside_text);
	tcase_add_test(tb, bad_elf_truncated);
	tcase_add_test(tb, bad_elf_past_eof);
	tcase_add_test(tb, bad_elf_overlap);
	tcase_add_test(tb, jq_and_regs_round_trip);
	tcase_add_test(tb, device_filter_and_options);
	tcase_add_test(tb, usage_errors);
	tcase_add_test(tb, standard_input);
	tcase_add_test(tb, regress_ram_base_unaligned);
	tcase_add_test(tb, regress_unreachable_chains);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tg);
	suite_add_tcase(s, tb);
	return s;
}
