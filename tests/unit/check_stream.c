/* its-dump and the stream reader on streams its-fixture writes (plain, live
 * with resent pages, mapped-ram, libvirt), checked against the writer's
 * manifest: every entry, every RAMBlock's page counts, every record, and
 * the file offset of the last copy of each entry's page. Then damaged
 * streams: each named error, and truncation at every record boundary. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "its/snapshot.h"
#include "suites.h"
#include "testutil.h"

void compare_with_manifest(json_object *man, json_object *doc);

static void teardown(void)
{
	t_cleanup();
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no key '%s' in %.300s",
		      key, json_object_to_json_string(o));
	return v;
}

static uint64_t hexnum(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	if (json_object_is_type(v, json_type_int))
		return (uint64_t)json_object_get_int64(v);
	return strtoull(json_object_get_string(v), NULL, 0);
}

/* Write NAME.EXT (and NAME.manifest.json) in the temp dir; returns the path. */
static char *gen(const char *name, const char *ext)
{
	char *writer = t_build("its-fixture"), *spec, *out, man[512];
	struct t_run r;

	ck_assert_int_ge(asprintf(&spec, "%s/tests/fixtures/%s.json",
				  t_env("ITS_SOURCE_DIR"), name), 0);
	ck_assert_int_ge(asprintf(&out, "%s/%s.%s", t_tmpdir(), name, ext), 0);
	snprintf(man, sizeof(man), "%s/%s.manifest.json", t_tmpdir(), name);
	{
		const char *argv[] = { writer, spec, "-o", out, "--manifest", man, NULL };

		t_run(&r, argv);
	}
	ck_assert_msg(r.status == 0, "its-fixture %s: %s", name, r.err);
	t_run_free(&r);
	free(spec);
	free(writer);
	return out;
}

static json_object *manifest(const char *name)
{
	char path[512], *text;
	json_object *m;

	snprintf(path, sizeof(path), "%s/%s.manifest.json", t_tmpdir(), name);
	text = t_read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	m = json_tokener_parse(text);
	ck_assert_ptr_nonnull(m);
	free(text);
	return m;
}

static void run_dump(struct t_run *r, const char *path, const char *opt)
{
	char *prog = t_build("its-dump");
	const char *argv[] = { prog, "-j", "--all", "--sections", path, opt, NULL };

	t_run(r, argv);
	free(prog);
}

static const char *record_type(const char *manifest_type)
{
	/* the manifest says START, its-dump says SECTION_START */
	static char buf[32];

	if (!strcmp(manifest_type, "START") || !strcmp(manifest_type, "PART") ||
	    !strcmp(manifest_type, "END") || !strcmp(manifest_type, "FULL")) {
		snprintf(buf, sizeof(buf), "SECTION_%s", manifest_type);
		return buf;
	}
	return manifest_type;
}

static void check_stream(const char *name, const char *ext)
{
	char *path = gen(name, ext);
	json_object *man = manifest(name), *doc, *ms, *blocks, *ram, *recs, *secs;
	struct snapshot *snap;
	struct its_err err;
	struct t_run r;

	run_dump(&r, path, NULL);
	ck_assert_msg(r.status == 0, "%s: exit %d: %s", name, r.status, r.err);
	doc = json_tokener_parse(r.out);
	ck_assert_ptr_nonnull(doc);
	compare_with_manifest(man, doc);

	ms = get(man, "stream");
	blocks = get(ms, "blocks");
	ram = get(get(doc, "snapshot"), "ram");
	ck_assert_uint_eq(json_object_array_length(ram), json_object_array_length(blocks));
	for (size_t i = 0; i < json_object_array_length(blocks); i++) {
		json_object *b = json_object_array_get_idx(blocks, i);
		json_object *d = json_object_array_get_idx(ram, i), *p = get(d, "pages");

		ck_assert_str_eq(json_object_get_string(get(d, "name")),
				 json_object_get_string(get(b, "name")));
		ck_assert_uint_eq(hexnum(d, "size"), hexnum(b, "used_length"));
		ck_assert_uint_eq(hexnum(p, "data"), hexnum(b, "pages_data"));
		ck_assert_uint_eq(hexnum(p, "zero"), hexnum(b, "pages_zero"));
		ck_assert_uint_eq(hexnum(p, "absent"), hexnum(b, "pages_absent"));
		/* a mapped-ram file keeps one slot a page: resends leave no
		 * trace in it, whatever the writer did */
		ck_assert_uint_eq(hexnum(p, "resent"),
				  json_object_get_boolean(get(ms, "mapped_ram")) ?
				  0 : hexnum(b, "pages_resent"));
	}
	recs = get(ms, "records");
	secs = get(get(doc, "snapshot"), "sections");
	ck_assert_uint_eq(json_object_array_length(secs), json_object_array_length(recs));
	for (size_t i = 0; i < json_object_array_length(recs); i++) {
		json_object *m = json_object_array_get_idx(recs, i);
		json_object *d = json_object_array_get_idx(secs, i), *v;

		ck_assert_uint_eq(hexnum(d, "offset"), hexnum(m, "offset"));
		ck_assert_uint_eq(hexnum(d, "size"), hexnum(m, "size"));
		ck_assert_str_eq(json_object_get_string(get(d, "type")),
				 record_type(json_object_get_string(get(m, "type"))));
		if (json_object_object_get_ex(m, "idstr", &v)) {
			ck_assert_str_eq(json_object_get_string(get(d, "name")),
					 json_object_get_string(v));
			ck_assert_uint_eq(hexnum(d, "section_id"), hexnum(m, "section_id"));
			ck_assert_uint_eq(hexnum(d, "instance_id"), hexnum(m, "instance_id"));
			ck_assert_uint_eq(hexnum(d, "version_id"), hexnum(m, "version_id"));
		}
	}

	/* the GPA -> file offset map points at the last copy of each entry */
	ck_assert_int_eq(snapshot_open(path, NULL, &snap, &err), 0);
	{
		json_object *devs = get(man, "devices");

		for (size_t i = 0; i < json_object_array_length(devs); i++) {
			json_object *d = json_object_array_get_idx(devs, i), *ev, *fo;
			uint64_t off;

			if (!json_object_object_get_ex(d, "file_offset", &fo))
				continue;
			ck_assert_int_eq(gmem_locate(snap->mem, hexnum(d, "gpa"), &off, &err), 0);
			ck_assert_uint_eq(off, hexnum(d, "file_offset"));
			ev = get(d, "events");
			for (size_t k = 0; k < json_object_array_length(ev); k++) {
				json_object *e = json_object_array_get_idx(ev, k);

				if (!json_object_object_get_ex(e, "file_offset", &fo))
					continue;
				ck_assert_int_eq(gmem_locate(snap->mem, hexnum(e, "gpa"), &off, &err), 0);
				ck_assert_uint_eq(off, hexnum(e, "file_offset"));
			}
		}
	}
	snapshot_close(snap);
	json_object_put(doc);
	json_object_put(man);
	t_run_free(&r);
	free(path);
}

START_TEST(stream_plain) { check_stream("stream-twolevel", "mig"); }
END_TEST
START_TEST(stream_live) { check_stream("stream-live", "mig"); }
END_TEST
START_TEST(stream_mapped_ram) { check_stream("stream-mapped-ram", "mig"); }
END_TEST
START_TEST(stream_libvirt) { check_stream("stream-libvirt", "save"); }
END_TEST
START_TEST(stream_no_vmdesc) { check_stream("stream-novmdesc", "mig"); }
END_TEST

/* A damaged stream: exit 8 and exactly this line on stderr. */
static void bad_stream(const char *name, const char *ext, const char *want)
{
	char *path = gen(name, ext), *prog = t_build("its-dump"), line[1024];
	struct t_run r;
	const char *argv[] = { prog, path, NULL };

	t_run(&r, argv);
	ck_assert_int_eq(r.status, 8);
	ck_assert_str_eq(r.out, "");
	snprintf(line, sizeof(line), "its-dump: %s: %s\n", path, want);
	ck_assert_str_eq(r.err, line);
	t_run_free(&r);
	free(prog);
	free(path);
}

START_TEST(stream_v2)
{
	bad_stream("stream-v2", "mig", "offset 0x4: not supported: stream version 2 (the obsolete SaveVM v2 format; only version 3 is read)");
}
END_TEST

START_TEST(stream_its_v1)
{
	bad_stream("stream-its-v1", "mig", "offset 0x1ea58: not supported: section 'arm_gicv3_its' (id 9) version 1 (only version 0 is read)");
}
END_TEST

START_TEST(stream_bad_footer)
{
	/* what is there is said: another section's footer (issue 7) */
	bad_stream("stream-bad-footer", "mig", "offset 0x1ead9: section 'arm_gicv3_its' (id 8, header at offset 0x1ea5e): the footer after the 96-byte version 0 layout names section id 99");
}
END_TEST

START_TEST(stream_libvirt_gzip)
{
	bad_stream("stream-libvirt-gzip", "save", "offset 0x1c: not supported: libvirt save image compressed with gzip (format 1): make an uncompressed one, e.g. set save_image_format = \"raw\" in /etc/libvirt/qemu.conf and run virsh save again");
}
END_TEST

/* Cut the stream at, and one byte either side of, every record boundary,
 * and inside the vmdesc: every cut is one line naming the file and an
 * offset, exit 8; except the cut right after EOF, which leaves a complete
 * stream without its (optional) vmdesc: exit 0. */
/* minimal.json written as a stream of machine `machine` whose RAMBlock
 * is named `block`: NAME.mig in the temp dir; returns its path. */
static char *gen_renamed(const char *name, const char *machine,
			 const char *block)
{
	char *writer = t_build("its-fixture"), *src, spec[512], *out;
	json_object *doc, *st;
	struct t_run r;

	ck_assert_int_ge(asprintf(&src, "%s/tests/fixtures/minimal.json",
				  t_env("ITS_SOURCE_DIR")), 0);
	doc = json_object_from_file(src);
	ck_assert_ptr_nonnull(doc);
	json_object_object_add(json_object_array_get_idx(get(doc, "ram"), 0),
			       "name", json_object_new_string(block));
	st = json_object_new_object();
	json_object_object_add(st, "machine", json_object_new_string(machine));
	json_object_object_add(doc, "stream", st);
	snprintf(spec, sizeof(spec), "%s/%s.json", t_tmpdir(), name);
	ck_assert_int_eq(json_object_to_file(spec, doc), 0);
	ck_assert_int_ge(asprintf(&out, "%s/%s.mig", t_tmpdir(), name), 0);
	{
		const char *argv[] = { writer, spec, "-o", out, NULL };

		t_run(&r, argv);
	}
	ck_assert_msg(r.status == 0, "its-fixture %s: %s", spec, r.err);
	t_run_free(&r);
	json_object_put(doc);
	free(src);
	free(writer);
	return out;
}

/* Issue 7: a machine whose RAM this reader cannot place. its-fsck used to
 * predict "would fail with EFAULT" and blame every table (7 errors); the
 * snapshot cannot be read without --ram-base, and both programs say so
 * (exit 8), naming the block. With --ram-base the same tables check clean. */
START_TEST(stream_ram_placement_unknown)
{
	char *path = gen_renamed("sbsa", "sbsa-ref", "sbsa-ref.ram");
	char *dump = t_build("its-dump"), *fsck = t_build("its-fsck");
	char want[1024];
	struct t_run r;

	{
		const char *argv[] = { fsck, "-n", path, NULL };

		t_run(&r, argv);
	}
	ck_assert_int_eq(r.status, 8);
	snprintf(want, sizeof(want),
		 "its-fsck: %s: offset 0x56: guest RAM placement unknown: no RAMBlock has a known guest-physical address for machine 'sbsa-ref' (the largest, 'sbsa-ref.ram', holds 0x1000000 bytes): give --ram-base sbsa-ref.ram=GPA\n",
		 path);
	ck_assert_str_eq(r.err, want);
	ck_assert_str_eq(r.out, "");
	t_run_free(&r);
	{
		const char *argv[] = { dump, path, NULL };

		t_run(&r, argv);
	}
	ck_assert_int_eq(r.status, 8);
	/* the same line from its-dump ("its-dump: " as long as "its-fsck: ") */
	ck_assert_str_eq(r.err + 10, want + 10);
	ck_assert(!strncmp(r.err, "its-dump: ", 10));
	t_run_free(&r);
	{
		const char *argv[] = { fsck, "-n", "--ram-base",
				       "sbsa-ref.ram=0x40000000", path, NULL };

		t_run(&r, argv);
	}
	ck_assert_msg(r.status == 0, "exit %d: %s%s", r.status, r.out, r.err);
	ck_assert(strstr(r.out, "KVM restore (kernel upstream): ok"));
	t_run_free(&r);
	free(fsck);
	free(dump);
	free(path);
}
END_TEST

START_TEST(stream_truncated_everywhere)
{
	char *path = gen("stream-twolevel", "mig"), *prog = t_build("its-dump");
	json_object *man = manifest("stream-twolevel"), *recs;
	char *data, cut[512];
	size_t size, nr_cuts = 0;
	uint64_t vmdesc;

	data = t_read_file(path, &size);
	ck_assert_ptr_nonnull(data);
	recs = get(get(man, "stream"), "records");
	vmdesc = hexnum(get(get(man, "stream"), "vmdesc"), "offset");
	snprintf(cut, sizeof(cut), "%s/cut.mig", t_tmpdir());
	for (size_t i = 0; i <= json_object_array_length(recs); i++) {
		uint64_t at = i < json_object_array_length(recs) ?
			      hexnum(json_object_array_get_idx(recs, i), "offset") :
			      size - 100;

		for (int d = -1; d <= 1; d++) {
			uint64_t n = at + (uint64_t)(int64_t)d;
			struct t_run r;
			const char *argv[] = { prog, cut, NULL };
			FILE *f;

			if (n == 0 || n >= size)
				continue;
			f = fopen(cut, "wb");
			ck_assert_uint_eq(fwrite(data, 1, n, f), n);
			fclose(f);
			t_run(&r, argv);
			nr_cuts++;
			if (n == vmdesc) {
				ck_assert_int_eq(r.status, 0);
				t_run_free(&r);
				continue;
			}
			ck_assert_msg(r.status == 8, "cut at %llu: exit %d: %s",
				      (unsigned long long)n, r.status, r.err);
			ck_assert_msg(!strncmp(r.err, "its-dump: ", 10) &&
				      strstr(r.err, "cut.mig: offset 0x") &&
				      strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
				      "cut at %llu: %s", (unsigned long long)n, r.err);
			t_run_free(&r);
		}
	}
	ck_assert_uint_ge(nr_cuts, 50);
	json_object_put(man);
	free(data);
	free(prog);
	free(path);
}
END_TEST

Suite *suite_stream(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("stream");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, stream_plain);
	tcase_add_test(tc, stream_live);
	tcase_add_test(tc, stream_mapped_ram);
	tcase_add_test(tc, stream_libvirt);
	tcase_add_test(tc, stream_no_vmdesc);
	tcase_add_test(tc, stream_v2);
	tcase_add_test(tc, stream_its_v1);
	tcase_add_test(tc, stream_bad_footer);
	tcase_add_test(tc, stream_libvirt_gzip);
	tcase_add_test(tc, stream_truncated_everywhere);
	tcase_add_test(tc, stream_ram_placement_unknown);
	suite_add_tcase(s, tc);
	return s;
}
