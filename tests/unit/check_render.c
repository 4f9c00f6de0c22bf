/* --format=dot and --format=map of its-dump and its-fsck: golden outputs of
 * the real samples (checked by hand against ../shared/samples/README.md),
 * the map agreeing with the graph, overlaps, its-fsck's highlights, the
 * collapsed events of a big ITT, several ITSes, escaping, exit statuses,
 * combinations refused, and every graph rendered by Graphviz when it is
 * installed. */
#include <check.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suites.h"
#include "testutil.h"

static void teardown(void)
{
	t_cleanup();
}

/* ---- running the programs ---- */

/* Write NAME.elf and NAME.regs.json into the temp dir from spec (a path). */
static void gen_spec(const char *spec, const char *name)
{
	char *writer = t_build("its-fixture"), out[512], regs[512];
	struct t_run r;

	snprintf(out, sizeof(out), "%s/%s.elf", t_tmpdir(), name);
	snprintf(regs, sizeof(regs), "%s/%s.regs.json", t_tmpdir(), name);
	{
		const char *argv[] = { writer, spec, "-o", out, "--regs", regs, NULL };

		t_run(&r, argv);
	}
	ck_assert_msg(r.status == 0, "its-fixture %s: %s", spec, r.err);
	t_run_free(&r);
	free(writer);
}

/* A spec of the tree (relative to the source dir). */
static void gen(const char *rel, const char *name)
{
	char *spec = t_src(rel);

	gen_spec(spec, name);
	free(spec);
}

/* prog --its-regs NAME.regs.json [x1] [x2] NAME.elf, in the temp dir. */
static void run_fix(struct t_run *r, const char *prog, const char *name,
		    const char *x1, const char *x2)
{
	t_run_fixture(r, prog, name, x1, x2, NULL);
}

/* prog [x1] [x2] SAMPLE, in the samples directory (relative names). */
static void run_sample(struct t_run *r, const char *prog, const char *sample,
		       const char *x1, const char *x2)
{
	char *p = t_build(prog);
	const char *argv[6];
	int n = 0;

	argv[n++] = p;
	if (x1)
		argv[n++] = x1;
	if (x2)
		argv[n++] = x2;
	argv[n++] = sample;
	argv[n] = NULL;
	t_run_in(r, t_env("ITS_SAMPLES_DIR"), argv);
	free(p);
}

/* ---- Graphviz ---- */

static char *dot_program(void)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL, *found = NULL;

	if (!path)
		path = "/usr/bin:/bin";
	copy = strdup(path);
	ck_assert_ptr_nonnull(copy);
	for (char *d = strtok_r(copy, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		char *p;

		ck_assert_int_ge(asprintf(&p, "%s/dot", d), 0);
		if (access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

/* Render text with dot -Tsvg: exit 0, an SVG, nothing on stderr. */
static void render(const char *what, const char *text)
{
	static int seq;
	char *dot = dot_program(), name[64], *path;
	struct t_run r;

	if (!dot) {
		fprintf(stderr, "check_render: %s: Graphviz dot not installed, rendering not checked\n", what);
		return;
	}
	snprintf(name, sizeof(name), "render-%d.dot", seq++);
	path = t_write_file(name, 0, text, strlen(text));
	{
		const char *argv[] = { dot, "-Tsvg", path, NULL };

		t_run(&r, argv);
	}
	ck_assert_msg(r.status == 0, "%s: dot -Tsvg exit %d: %s", what, r.status, r.err);
	ck_assert_msg(strlen(r.out) > 100 && strstr(r.out, "<svg"),
		      "%s: dot -Tsvg wrote no SVG", what);
	ck_assert_msg(r.err[0] == '\0', "%s: dot -Tsvg: %s", what, r.err);
	t_run_free(&r);
	free(path);
	free(dot);
}

static void golden_cmp(const char *rel, const char *out)
{
	char *path = t_src(rel), *want = t_read_file(path, NULL);

	ck_assert_msg(want != NULL, "missing golden file %s", path);
	ck_assert_msg(!strcmp(want, out), "%s differs from the output:\n%s", rel, out);
	free(want);
	free(path);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void has(const char *text, const char *needle)
{
	ck_assert_msg(strstr(text, needle) != NULL, "missing:\n%s\nin:\n%.3000s", needle, text);
}

/* ---- golden outputs of the real samples ---- */

static void golden_sample(const char *sample, const char *fmt_opt,
			  const char *rel, int want_status)
{
	struct t_run r;

	run_sample(&r, "its-dump", sample, fmt_opt, NULL);
	ck_assert_msg(r.status == want_status, "%s %s: exit %d: %s", sample,
		      fmt_opt, r.status, r.err);
	ck_assert_str_eq(r.err, "");
	golden_cmp(rel, r.out);
	if (!strcmp(fmt_opt, "--format=dot"))
		render(rel, r.out);
	t_run_free(&r);
}

START_TEST(golden_qemu10_dot)
{
	golden_sample("qemu10-virt-its-stopped.mig", "--format=dot",
		      "tests/fixtures/golden/qemu10-virt-its-stopped.dot", 0);
}
END_TEST

START_TEST(golden_qemu10_map)
{
	golden_sample("qemu10-virt-its-stopped.mig", "--format=map",
		      "tests/fixtures/golden/qemu10-virt-its-stopped.map", 0);
}
END_TEST

START_TEST(golden_kvm_dot)
{
	golden_sample("kvm-virt-2level.mig", "--format=dot",
		      "tests/fixtures/golden/kvm-virt-2level.dot", 0);
}
END_TEST

START_TEST(golden_kvm_map)
{
	golden_sample("kvm-virt-2level.mig", "--format=map",
		      "tests/fixtures/golden/kvm-virt-2level.map", 0);
}
END_TEST

/* The samples README's counts, independently of the golden files: 7
 * DeviceIDs, 16 events, 2 collections, 2 vCPUs; its-fsck draws the same. */
START_TEST(qemu10_counts)
{
	static const char *const progs[] = { "its-dump", "its-fsck" };

	for (int i = 0; i < 2; i++) {
		struct t_run r;

		run_sample(&r, progs[i], "qemu10-virt-its-stopped.mig", "--format=dot", NULL);
		ck_assert_int_eq(r.status, 0);
		ck_assert_uint_eq(count(r.out, "[shape=box, label=\"DeviceID "), 7);
		ck_assert_uint_eq(count(r.out, "[shape=ellipse, label=\"EventID "), 16);
		ck_assert_uint_eq(count(r.out, "[shape=hexagon, "), 2);
		ck_assert_uint_eq(count(r.out, "[shape=box3d, "), 2);
		/* README: virtio-rng (0x18) event 1 -> LPI 8203 -> ICID 1 -> CPU1 */
		has(r.out, "\te_0_0x18_1 [shape=ellipse, label=\"EventID 1\\nLPI 8203\"];\n");
		has(r.out, "\te_0_0x18_1 -> c_0_1;\n");
		has(r.out, "\tc_0_1 -> v_1;\n");
		/* no finding but the layout's own info note */
		ck_assert_ptr_null(strstr(r.out, "color=\"red\""));
		if (i == 1)
			has(r.out, "\tp_0 [shape=note, label=\"ITS 0\\nLAYOUT_QEMU_TCG\"");
		t_run_free(&r);
	}
}
END_TEST

/* ---- the map and the graph show the same data ---- */

/* Every ITT line of the map has a device node in the graph with the same
 * ITT address and size, and the graph draws no other device with an ITT. */
static void map_matches_dot(const char *map, const char *dot)
{
	size_t itts = 0;

	for (const char *line = map; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		unsigned long long start, end;
		unsigned id;
		const char *w = strstr(line, "ITT of DeviceID 0x");
		const char *eol = strchr(line, '\n');
		char node[160];

		if (!w || (eol && w > eol) || !strncmp(line, "  overlaps:", 11))
			continue;
		ck_assert_int_eq(sscanf(line + 2, "0x%llx-0x%llx", &start, &end), 2);
		ck_assert_int_eq(sscanf(w, "ITT of DeviceID 0x%x", &id), 1);
		snprintf(node, sizeof(node),
			 "\td_0_0x%x [shape=box, label=\"DeviceID 0x%x\\nITT 0x%llx\\n%llu B, ",
			 id, id, start, end - start + 1);
		has(dot, node);
		itts++;
	}
	ck_assert_uint_eq(itts, count(dot, " B, "));
	ck_assert_uint_gt(itts, 0);
}

static void pair_sample(const char *prog, const char *sample)
{
	struct t_run m, d;

	run_sample(&m, prog, sample, "--format=map", NULL);
	run_sample(&d, prog, sample, "--format=dot", NULL);
	ck_assert_int_eq(m.status, d.status);
	map_matches_dot(m.out, d.out);
	t_run_free(&m);
	t_run_free(&d);
}

static void pair_fix(const char *prog, const char *name, const char *x)
{
	struct t_run m, d;

	run_fix(&m, prog, name, "--format=map", x);
	run_fix(&d, prog, name, "--format=dot", x);
	ck_assert_int_eq(m.status, d.status);
	map_matches_dot(m.out, d.out);
	render(name, d.out);
	t_run_free(&m);
	t_run_free(&d);
}

START_TEST(map_itts_are_dot_devices)
{
	pair_sample("its-dump", "qemu10-virt-its-stopped.mig");
	pair_sample("its-fsck", "qemu10-virt-its-stopped.mig");
	pair_sample("its-dump", "kvm-virt-2level.mig");
	gen("tests/fixtures/fsck/fsck-itt-overlap.json", "itt-overlap");
	pair_fix("its-dump", "itt-overlap", NULL);
	pair_fix("its-fsck", "itt-overlap", NULL);
	gen("tests/fixtures/bad-itt-absent.json", "itt-absent");
	pair_fix("its-dump", "itt-absent", NULL);
	gen("tests/fixtures/invalid-entries.json", "invalid");
	pair_fix("its-dump", "invalid", "--all");
}
END_TEST

/* ---- overlaps and placement ---- */

START_TEST(map_overlaps)
{
	struct t_run r;

	/* F6: DeviceID 16's ITT inside the collection table page */
	gen("tests/fixtures/fsck/fsck-f6-overlap.json", "f6");
	run_fix(&r, "its-dump", "f6", "--format=map", NULL);
	ck_assert_int_eq(r.status, 0);
	has(r.out, "* 0x000040a30000-0x000040a3ffff    64 KiB  collection table (GITS_BASER1)                   PT_LOAD #1\n");
	has(r.out, "* 0x000040a30100-0x000040a3010f      16 B  ITT of DeviceID 0x10 (1 EventID bit)             PT_LOAD #1\n");
	has(r.out, "  0x000040c00000-0x000040c0000f      16 B  ITT of DeviceID 0x8 (1 EventID bit)              PT_LOAD #1\n");
	has(r.out, "\nOverlaps:\n  overlaps: collection table with ITT of DeviceID 0x10: 16 B from 0x40a30100\n");
	ck_assert_uint_eq(count(r.out, "\n* "), 2);
	t_run_free(&r);
	/* its-fsck: the same map, and its own exit status (TABLE_OVERLAP) */
	run_fix(&r, "its-fsck", "f6", "--format=map", NULL);
	ck_assert_int_eq(r.status, 4);
	has(r.out, "  overlaps: collection table with ITT of DeviceID 0x10: 16 B from 0x40a30100\n");
	t_run_free(&r);

	/* DeviceID 8's 64-event ITT (512 B) holds DeviceID 16's at +0x100 */
	gen("tests/fixtures/fsck/fsck-itt-overlap.json", "itto");
	run_fix(&r, "its-dump", "itto", "--format=map", NULL);
	ck_assert_int_eq(r.status, 0);
	has(r.out, "* 0x000040c00000-0x000040c001ff     512 B  ITT of DeviceID 0x8 (6 EventID bits)");
	has(r.out, "* 0x000040c00100-0x000040c0010f      16 B  ITT of DeviceID 0x10 (1 EventID bit)");
	has(r.out, "  overlaps: ITT of DeviceID 0x8 with ITT of DeviceID 0x10: 16 B from 0x40c00100\n");
	t_run_free(&r);

	/* no overlap in a healthy guest */
	gen("tests/fixtures/minimal.json", "minimal");
	run_fix(&r, "its-dump", "minimal", "--format=map", NULL);
	ck_assert_int_eq(r.status, 0);
	has(r.out, "\nOverlaps: none\n");
	ck_assert_uint_eq(count(r.out, "\n* "), 0);
	t_run_free(&r);
}
END_TEST

/* An ITT in absent memory and one in a hole (bad-itt-absent.json). */
START_TEST(map_absent_not_ram)
{
	struct t_run r;

	gen("tests/fixtures/bad-itt-absent.json", "absent");
	run_fix(&r, "its-dump", "absent", "--format=map", NULL);
	ck_assert_int_eq(r.status, 1);
	has(r.out, "  0x000040000000-0x000040d0ffff 13376 KiB  PT_LOAD #1\n");
	has(r.out, "  0x000040d00100-0x000040d0010f      16 B  ITT of DeviceID 0x10 (1 EventID bit)             PT_LOAD #1: absent\n");
	has(r.out, "  0x000040e00200-0x000040e0020f      16 B  ITT of DeviceID 0x18 (1 EventID bit)             NOT RAM\n");
	t_run_free(&r);
}
END_TEST

/* ---- its-fsck's highlights ---- */

START_TEST(fsck_dot_error_red)
{
	struct t_run r;

	/* F15: DeviceID 0x10 EventID 1 names ICID 2, which has no CTE */
	gen("tests/fixtures/fsck/fsck-f15-dropped-icid.json", "f15");
	run_fix(&r, "its-fsck", "f15", "--format=dot", NULL);
	ck_assert_int_eq(r.status, 4);
	has(r.out, "\te_0_0x10_1 [shape=ellipse, label=\"EventID 1\\nLPI 8195\\nITE_ICID_UNKNOWN\", color=\"red\", style=\"filled\", fillcolor=\"#ffd6d6\", penwidth=2, tooltip=\"ITE_ICID_UNKNOWN (error): ");
	has(r.out, "\te_0_0x10_1 -> c_0_2 [color=\"red\", penwidth=2];\n");
	has(r.out, "\tc_0_2 [shape=hexagon, label=\"ICID 2\\nno collection\", color=\"red\"");
	has(r.out, "KVM restore (kernel upstream): would fail with EINVAL at itt DeviceID 0x10 EventID 1 ICID 2: ITE_ICID_UNKNOWN; 1 error, 0 warnings, 0 info");
	/* exactly that entry is red among the events */
	ck_assert_uint_eq(count(r.out, "[shape=ellipse, label=\"EventID 1\\nLPI 8195\\nITE_ICID_UNKNOWN\", color=\"red\""), 1);
	ck_assert_uint_eq(count(r.out, "ellipse, label=\"EventID 0\\nLPI 8192\"];"), 1);
	render("f15", r.out);
	t_run_free(&r);

	/* its-dump draws the broken path (no collection) without findings */
	run_fix(&r, "its-dump", "f15", "--format=dot", NULL);
	ck_assert_int_eq(r.status, 0);
	has(r.out, "\te_0_0x10_1 [shape=ellipse, label=\"EventID 1\\nLPI 8195\"];\n");
	has(r.out, "\te_0_0x10_1 -> c_0_2 [color=\"red\", penwidth=2];\n");
	t_run_free(&r);
}
END_TEST

START_TEST(fsck_dot_dropped_and_unmapped)
{
	struct t_run r;

	/* invalid-entries: DTE 0x2008 in an invalid L1 entry's page (dropped,
	 * DTE_DROPPED warning), the CTE after the terminator (dropped) */
	gen("tests/fixtures/invalid-entries.json", "inv");
	run_fix(&r, "its-fsck", "inv", "--format=dot", NULL);
	ck_assert_int_eq(r.status, 4);
	has(r.out, "\td_0_0x2008 [shape=box, label=\"DeviceID 0x2008\\nITT 0x40c00300 (not read)\\n[in_invalid_l1]\\nDTE_DROPPED\\nnot restored: invalid_l1\", color=\"darkorange\", style=\"dashed,filled\"");
	has(r.out, "\tc_0_2 [shape=hexagon, label=\"ICID 2\\n[after_terminator]\\nCTE_AFTER_TERMINATOR\\nnot restored: after_terminator\", color=\"grey50\", style=\"dashed\"");
	render("inv", r.out);
	t_run_free(&r);

	/* a collection whose target is 0xffffffff: red edge to "unmapped" */
	gen("tests/fixtures/fsck/fsck-cte-unmapped.json", "unm");
	run_fix(&r, "its-dump", "unm", "--format=dot", NULL);
	has(r.out, "\tx_0 [shape=octagon, label=\"unmapped\\n(no vCPU)\", color=\"red\"");
	has(r.out, " -> x_0 [color=\"red\", penwidth=2];\n");
	render("unm", r.out);
	t_run_free(&r);

	/* a collection targeting vCPU 5 of a 4-vCPU guest */
	gen("tests/fixtures/fsck/fsck-f9-target5.json", "t5");
	run_fix(&r, "its-fsck", "t5", "--format=dot", NULL);
	ck_assert_int_eq(r.status, 4);
	has(r.out, "\tv_5 [shape=box3d, label=\"vCPU 5\\nno such vCPU (4 in the VM)\", color=\"red\"");
	has(r.out, " -> v_5 [color=\"red\", penwidth=2];\n");
	render("t5", r.out);
	t_run_free(&r);
}
END_TEST

/* ---- a big ITT: events past REPORT_DOT_MAX_EVENTS collapse ---- */

static void write_big_spec(const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char path[512];

	ck_assert_ptr_nonnull(f);
	fputs("{\"description\": \"DeviceID 8 with 100 events: ICID 0 and 1 in turn, event 99 ICID 5 (no collection)\",\n"
	      " \"vcpus\": 2,\n"
	      " \"ram\": [{\"name\": \"mach-virt.ram\", \"gpa\": \"0x40000000\", \"size\": \"0x1000000\"}],\n"
	      " \"its\": [{\"registers\": {\"GITS_CBASER\": \"0xb800000040a0040f\"},\n"
	      "   \"device_table\": {\"gpa\": \"0x40a10000\", \"indirect\": true},\n"
	      "   \"collection_table\": {\"gpa\": \"0x40a30000\"},\n"
	      "   \"l1\": [{\"index\": 0, \"l2\": \"0x40b10000\"}],\n"
	      "   \"collections\": [{\"icid\": 0, \"target\": 0}, {\"icid\": 1, \"target\": 1}],\n"
	      "   \"devices\": [{\"device_id\": 8, \"itt\": \"0x40c00000\", \"event_id_bits\": 7, \"events\": [\n", f);
	for (int i = 0; i < 100; i++)
		fprintf(f, "     {\"event_id\": %d, \"lpi\": %d, \"icid\": %d}%s\n", i,
			8192 + i, i == 99 ? 5 : i % 2, i == 99 ? "" : ",");
	fputs("   ]}]}],\n"
	      " \"redistributors\": [{\"cpu\": 0, \"GICR_PROPBASER\": \"0x40a4078f\", \"GICR_PENDBASER\": \"0x40a50780\"},\n"
	      "                      {\"cpu\": 1, \"GICR_PROPBASER\": \"0x40a4078f\", \"GICR_PENDBASER\": \"0x40a60780\"}],\n"
	      " \"raw\": [{\"gpa\": \"0x40a40000\", \"size\": \"0x10000\", \"fill\": \"0xa3\"}]}\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s.json", name);
	free(t_write_file(path, 0, buf, len));
	free(buf);
	snprintf(path, sizeof(path), "%s/%s.json", t_tmpdir(), name);
	gen_spec(path, name);
}

START_TEST(dot_collapses_big_itt)
{
	struct t_run r;

	write_big_spec("big");
	run_fix(&r, "its-dump", "big", "--format=dot", NULL);
	ck_assert_int_eq(r.status, 0);
	/* REPORT_DOT_MAX_EVENTS = 64 drawn: EventIDs 0..63 */
	ck_assert_uint_eq(count(r.out, "[shape=ellipse, label=\"EventID "), 64);
	has(r.out, "\te_0_0x8_63 [shape=ellipse, label=\"EventID 63\\nLPI 8255\"];\n");
	ck_assert_ptr_null(strstr(r.out, "e_0_0x8_64"));
	/* 64..99: 18 to ICID 0, 17 to ICID 1, event 99 to the missing ICID 5 */
	has(r.out, "\tm_0_0x8 [shape=box, label=\"... 36 more events\", style=\"dotted\"];\n");
	has(r.out, "\td_0_0x8 -> m_0_0x8 [style=dotted];\n");
	has(r.out, "\tm_0_0x8 -> c_0_0 [label=\"18\", style=dotted];\n");
	has(r.out, "\tm_0_0x8 -> c_0_1 [label=\"17\", style=dotted];\n");
	has(r.out, "\tm_0_0x8 -> c_0_5 [label=\"1\", color=\"red\", penwidth=2];\n");
	has(r.out, "\td_0_0x8 [shape=box, label=\"DeviceID 0x8\\nITT 0x40c00000\\n1024 B, 7 EventID bits\"];\n");
	render("big", r.out);
	t_run_free(&r);

	/* its-fsck: the collapsed event's error marks the summary node */
	run_fix(&r, "its-fsck", "big", "--format=dot", NULL);
	ck_assert_int_eq(r.status, 4);
	has(r.out, "\tm_0_0x8 [shape=box, label=\"... 36 more events\\nITE_ICID_UNKNOWN\", color=\"red\", style=\"dotted,filled\"");
	render("big fsck", r.out);
	t_run_free(&r);

	/* the map lists the ITT once, 128 events of 8 bytes */
	run_fix(&r, "its-dump", "big", "--format=map", NULL);
	has(r.out, "  0x000040c00000-0x000040c003ff     1 KiB  ITT of DeviceID 0x8 (7 EventID bits)             PT_LOAD #1\n");
	t_run_free(&r);
}
END_TEST

/* ---- several ITSes: one cluster each ---- */

START_TEST(dot_two_its_clusters)
{
	static const char spec[] =
		"{\"vcpus\": 2,\n"
		" \"ram\": [{\"name\": \"mach-virt.ram\", \"gpa\": \"0x40000000\", \"size\": \"0x1000000\"}],\n"
		" \"its\": [\n"
		"  {\"device_table\": {\"gpa\": \"0x40a10000\"}, \"collection_table\": {\"gpa\": \"0x40a30000\"},\n"
		"   \"collections\": [{\"icid\": 0, \"target\": 0}],\n"
		"   \"devices\": [{\"device_id\": 8, \"itt\": \"0x40c00000\", \"events\": [{\"event_id\": 0, \"lpi\": 8192, \"icid\": 0}]}]},\n"
		"  {\"device_table\": {\"gpa\": \"0x40a80000\"}, \"collection_table\": {\"gpa\": \"0x40a90000\"},\n"
		"   \"collections\": [{\"icid\": 0, \"target\": 1}],\n"
		"   \"devices\": [{\"device_id\": 8, \"itt\": \"0x40c01000\", \"events\": [{\"event_id\": 0, \"lpi\": 8193, \"icid\": 0}]}]}],\n"
		" \"redistributors\": [{\"cpu\": 0, \"GICR_PROPBASER\": \"0x40a4078f\", \"GICR_PENDBASER\": \"0x40a50780\"},\n"
		"                      {\"cpu\": 1, \"GICR_PROPBASER\": \"0x40a4078f\", \"GICR_PENDBASER\": \"0x40a60780\"}]}\n";
	char path[512];
	struct t_run r;
	const char *c0, *c1, *end;

	free(t_write_file("two.json", 0, spec, sizeof(spec) - 1));
	snprintf(path, sizeof(path), "%s/two.json", t_tmpdir());
	gen_spec(path, "two");
	run_fix(&r, "its-dump", "two", "--format=dot", NULL);
	ck_assert_int_eq(r.status, 0);
	c0 = strstr(r.out, "\tsubgraph cluster_its0 {\n\tlabel=\"ITS 0 (layout kvm)\";\n");
	c1 = strstr(r.out, "\tsubgraph cluster_its1 {\n\tlabel=\"ITS 1 (layout kvm)\";\n");
	ck_assert_ptr_nonnull(c0);
	ck_assert_ptr_nonnull(c1);
	ck_assert(c0 < c1);
	has(c0, "\te_0_0x8_0 -> c_0_0;\n");
	has(c1, "\te_1_0x8_0 -> c_1_0;\n");
	/* the vCPUs are the VM's: declared before, reached after the clusters */
	ck_assert(strstr(r.out, "\tv_1 [shape=box3d") < c0);
	end = strstr(r.out, "\tc_0_0 -> v_0;\n");
	ck_assert_ptr_nonnull(end);
	ck_assert(end > c1);
	has(end, "\tc_1_0 -> v_1;\n");
	render("two", r.out);
	t_run_free(&r);

	run_fix(&r, "its-dump", "two", "--format=map", NULL);
	has(r.out, "  0x000040c00000-0x000040c0000f      16 B  ITS 0 ITT of DeviceID 0x8 (1 EventID bit)        PT_LOAD #1\n");
	has(r.out, "  0x000040c01000-0x000040c0100f      16 B  ITS 1 ITT of DeviceID 0x8 (1 EventID bit)        PT_LOAD #1\n");
	has(r.out, "  0x000040a80000-0x000040a8ffff    64 KiB  ITS 1 device table, flat (GITS_BASER0)           PT_LOAD #1\n");
	t_run_free(&r);
}
END_TEST

/* ---- entries KVM's restore never reaches through the next lists ---- */

/* tests/fixtures/unreachable-chains.json, the input of check_dump.c's
 * regress_unreachable_chains: DeviceID 8's
 * event 1 ends its ITT at event 1; 16's event 0 jumps over event 1;
 * DeviceID 16's next (16) jumps over 24 to 32, whose next 0 leaves 40
 * after the end. Unreachable: DTEs 0x18 and 0x28, events 8/2, 8/3, 16/1
 * and the events of the two devices the restore never reaches. */
static long long json_count(json_object *sum, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(sum, key, &v) &&
		      json_object_is_type(v, json_type_int),
		      "no count '%s' in %s", key, json_object_to_json_string(sum));
	return json_object_get_int64(v);
}

/* The graph's title as dot.c words its-dump's summary, from its-dump -j's
 * counts (x: an extra option, or NULL). */
static void dot_title_from_json(char *buf, size_t len, const char *x,
				long long *unreachable)
{
	struct t_run r;
	json_object *doc, *sum;
	long long c, d, e, u, f, h;

	run_fix(&r, "its-dump", "chains", "-j", x);
	ck_assert_int_eq(r.status, 0);
	doc = json_tokener_parse(r.out);
	ck_assert_msg(doc && json_object_object_get_ex(doc, "summary", &sum),
		      "no summary in %.200s", r.out);
	c = json_count(sum, "collections");
	d = json_count(sum, "devices");
	e = json_count(sum, "events");
	u = json_count(sum, "unreachable");
	f = json_count(sum, "flagged");
	h = json_count(sum, "unreadable");
	snprintf(buf, len, "ITS 0, layout kvm; %lld collection%s, %lld device%s, %lld event%s; %lld unreachable, %lld flagged, %lld unreadable\"];\n",
		 c, c == 1 ? "" : "s", d, d == 1 ? "" : "s", e, e == 1 ? "" : "s",
		 u, f, h);
	*unreachable = u;
	json_object_put(doc);
	t_run_free(&r);
}

/* A node line of the graph (its attributes up to "];"). */
static char *node_line(const char *dot, const char *id)
{
	char key[96];
	const char *p, *end;

	snprintf(key, sizeof(key), "\t%s [", id);
	p = strstr(dot, key);
	ck_assert_msg(p != NULL, "no node %s in:\n%.3000s", id, dot);
	end = strstr(p, "];\n");
	ck_assert_ptr_nonnull(end);
	return strndup(p, (size_t)(end - p));
}

START_TEST(dot_unreachable_chains)
{
	static const char *const unreachable[] = {
		"d_0_0x18", "d_0_0x28", "e_0_0x8_2", "e_0_0x8_3",
		"e_0_0x10_1", "e_0_0x18_0", "e_0_0x28_0",
	};
	static const char *const live[] = {
		"d_0_0x8", "d_0_0x10", "d_0_0x20", "e_0_0x8_0", "e_0_0x8_1",
		"e_0_0x10_0", "e_0_0x10_2", "e_0_0x20_0",
	};
	char path[512], title[256];
	long long nr_unreachable;
	struct t_run r, m;

	snprintf(path, sizeof(path), "%s/tests/fixtures/unreachable-chains.json",
		 t_env("ITS_SOURCE_DIR"));
	gen_spec(path, "chains");

	/* the title counts what its-dump -j counts: 7 off the lists */
	dot_title_from_json(title, sizeof(title), NULL, &nr_unreachable);
	ck_assert_str_eq(title, "ITS 0, layout kvm; 1 collection, 3 devices, 5 events; 7 unreachable, 0 flagged, 0 unreadable\"];\n");
	run_fix(&r, "its-dump", "chains", "--format=dot", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.err, "");
	has(r.out, title);
	/* each of them dashed, and nothing else */
	for (size_t i = 0; i < sizeof(unreachable) / sizeof(unreachable[0]); i++) {
		char *line = node_line(r.out, unreachable[i]);

		ck_assert_msg(strstr(line, ", color=\"darkorange\", style=\"dashed\"") != NULL,
			      "%s not drawn unreachable: %s", unreachable[i], line);
		free(line);
	}
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		char *line = node_line(r.out, live[i]);

		ck_assert_msg(strstr(line, "style=") == NULL, "%s drawn unreachable: %s",
			      live[i], line);
		free(line);
	}
	ck_assert_uint_eq(count(r.out, "style=\"dashed\""), (size_t)nr_unreachable);
	/* the device the list skips names why; its event, never read, too */
	has(r.out, "\td_0_0x18 [shape=box, label=\"DeviceID 0x18\\nITT 0x40c00200\\n16 B, 1 EventID bit\\n[skipped_by_next]\", color=\"darkorange\", style=\"dashed\", tooltip=\"walk flags: skipped_by_next\"];\n");
	has(r.out, "\te_0_0x8_2 [shape=ellipse, label=\"EventID 2\\nLPI 8194\\n[after_terminator]\", color=\"darkorange\", style=\"dashed\", tooltip=\"walk flags: after_terminator\"];\n");
	render("chains", r.out);
	/* the map places the ITTs of the devices the graph draws, and exits
	 * as the text does */
	run_fix(&m, "its-dump", "chains", "--format=map", NULL);
	ck_assert_int_eq(m.status, 0);
	map_matches_dot(m.out, r.out);
	t_run_free(&m);
	t_run_free(&r);

	/* one device: the lists are still walked through every entry */
	dot_title_from_json(title, sizeof(title), "--device=0x18", &nr_unreachable);
	ck_assert_str_eq(title, "ITS 0, layout kvm; 1 collection, 0 devices, 0 events; 2 unreachable, 0 flagged, 0 unreadable\"];\n");
	run_fix(&r, "its-dump", "chains", "--format=dot", "--device=0x18");
	ck_assert_int_eq(r.status, 0);
	has(r.out, title);
	ck_assert_uint_eq(count(r.out, "style=\"dashed\""), 2);
	t_run_free(&r);
}
END_TEST

/* ---- escaping, filters, statuses, refusals ---- */

START_TEST(dot_escapes_labels)
{
	static const char odd[] = "q\"b\\s.elf";
	char from[512], to[512];
	struct t_run r;
	char *p = t_build("its-dump");

	gen("tests/fixtures/minimal.json", "minimal");
	snprintf(from, sizeof(from), "%s/minimal.elf", t_tmpdir());
	snprintf(to, sizeof(to), "%s/%s", t_tmpdir(), odd);
	ck_assert_int_eq(link(from, to), 0);
	{
		const char *argv[] = { p, "--format=dot", "--its-regs", "minimal.regs.json", odd, NULL };

		t_run_in(&r, t_tmpdir(), argv);
	}
	ck_assert_int_eq(r.status, 0);
	has(r.out, "label=\"its-dump: q\\\"b\\\\s.elf\\nITS 0, layout kvm; 1 collection, 1 device, 1 event\"];\n");
	render("odd name", r.out);
	t_run_free(&r);
	free(p);
}
END_TEST

START_TEST(device_filter)
{
	struct t_run r;

	run_sample(&r, "its-dump", "qemu10-virt-its-stopped.mig", "--format=map", "--device=0x18");
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(count(r.out, "ITT of DeviceID"), 1);
	has(r.out, "  0x00004387d400-0x00004387d417      24 B  ITT of DeviceID 0x18 (1 EventID bit)");
	t_run_free(&r);
	run_sample(&r, "its-dump", "qemu10-virt-its-stopped.mig", "--format=dot", "--device=0x18");
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(count(r.out, "label=\"DeviceID "), 1);
	ck_assert_uint_eq(count(r.out, "label=\"EventID "), 2);
	t_run_free(&r);
}
END_TEST

/* The status of each format is the status of the text report. */
START_TEST(exit_status_as_text)
{
	static const struct { const char *prog, *spec, *x; int status; } cases[] = {
		{ "its-dump", "tests/fixtures/minimal.json", NULL, 0 },
		{ "its-dump", "tests/fixtures/bad-next.json", NULL, 1 },
		{ "its-dump", "tests/fixtures/bad-itt-absent.json", NULL, 1 },
		{ "its-dump", "tests/fixtures/bad-dte-size31.json", NULL, 1 },
		{ "its-dump", "tests/fixtures/invalid-entries.json", "--all", 0 },
		{ "its-fsck", "tests/fixtures/fsck/fsck-clean.json", NULL, 0 },
		{ "its-fsck", "tests/fixtures/bad-next.json", NULL, 4 },
		{ "its-fsck", "tests/fixtures/fsck/fsck-cte-after-terminator.json", NULL, 0 },
		{ "its-fsck", "tests/fixtures/fsck/fsck-cte-after-terminator.json", "--strict", 4 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct t_run t, d, m;

		gen(cases[i].spec, "st");
		run_fix(&t, cases[i].prog, "st", cases[i].x, NULL);
		run_fix(&d, cases[i].prog, "st", "--format=dot", cases[i].x);
		run_fix(&m, cases[i].prog, "st", "--format=map", cases[i].x);
		ck_assert_msg(t.status == cases[i].status, "%s %s: text exit %d",
			      cases[i].prog, cases[i].spec, t.status);
		ck_assert_msg(d.status == cases[i].status && m.status == cases[i].status,
			      "%s %s: dot exit %d, map exit %d, text %d", cases[i].prog,
			      cases[i].spec, d.status, m.status, t.status);
		ck_assert_str_eq(d.err, "");
		ck_assert_str_eq(m.err, "");
		render(cases[i].spec, d.out);
		t_run_free(&t);
		t_run_free(&d);
		t_run_free(&m);
	}
}
END_TEST

START_TEST(refused_combinations)
{
	static const struct { const char *prog, *a, *b, *msg; } cases[] = {
		{ "its-dump", "--format=map", "--sections",
		  "its-dump: --sections lists a stream's records, which --format=map does not show: use --format=text or json\n" },
		{ "its-dump", "--format=dot", "--sections",
		  "its-dump: --sections lists a stream's records, which --format=dot does not show: use --format=text or json\n" },
		{ "its-fsck", "--format=dot", "--list-problems",
		  "its-fsck: --format=dot draws the snapshot as checked and cannot show --list-problems: use --format=text or json\n" },
		{ "its-fsck", "--format=map", "-p",
		  "its-fsck: --format=map draws the snapshot as checked and cannot show repairs: use --format=text or json\n" },
		{ "its-fsck", "--format=dot", "--dry-run",
		  "its-fsck: --format=dot draws the snapshot as checked and cannot show repairs: use --format=text or json\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct t_run r;

		run_sample(&r, cases[i].prog, "kvm-virt-2level.mig", cases[i].a, cases[i].b);
		ck_assert_int_eq(r.status, 16);
		ck_assert_str_eq(r.out, "");
		ck_assert_str_eq(r.err, cases[i].msg);
		t_run_free(&r);
	}
}
END_TEST

Suite *suite_render(void)
{
	Suite *s = suite_create("render");
	TCase *tc = tcase_create("render");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, golden_qemu10_dot);
	tcase_add_test(tc, golden_qemu10_map);
	tcase_add_test(tc, golden_kvm_dot);
	tcase_add_test(tc, golden_kvm_map);
	tcase_add_test(tc, qemu10_counts);
	tcase_add_test(tc, map_itts_are_dot_devices);
	tcase_add_test(tc, map_overlaps);
	tcase_add_test(tc, map_absent_not_ram);
	tcase_add_test(tc, fsck_dot_error_red);
	tcase_add_test(tc, fsck_dot_dropped_and_unmapped);
	tcase_add_test(tc, dot_collapses_big_itt);
	tcase_add_test(tc, dot_two_its_clusters);
	tcase_add_test(tc, dot_unreachable_chains);
	tcase_add_test(tc, dot_escapes_labels);
	tcase_add_test(tc, device_filter);
	tcase_add_test(tc, exit_status_as_text);
	tcase_add_test(tc, refused_combinations);
	suite_add_tcase(s, tc);
	return s;
}
