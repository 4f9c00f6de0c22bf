/* its-fsck end to end against tests/fixtures/fsck: for every NAME.expect.json
 * there, the snapshot is written by its-fixture (the independent writer,
 * tests/tools) from NAME.json (or the expect file's "spec"), its-fsck -j runs
 * on it, and its exit status, verdict keys, problems and dropped entries are
 * compared with the expectation, which was written from the spec
 * (../shared/spec/kvm-its-abi.md), not from the program's output. The format
 * of the expect files is in tests/fixtures/fsck/README. One more test proves
 * that every row of the problem table has a fixture. */
#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its/problems.h"
#include "suites.h"
#include "testutil.h"

#define FSCK_DIR "tests/fixtures/fsck"
#define EXPECT_SUFFIX ".expect.json"
#define MAX_FIXTURES 512

static char *fixture_names[MAX_FIXTURES];
static int nr_fixtures;
static char list_error[1200];

static void teardown(void)
{
	t_cleanup();
}

/* ---- a growing message buffer (everything that differs, in one failure) ---- */

struct msg {
	char *s;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3))) msg_add(struct msg *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = m->cap - m->len;

		va_start(ap, fmt);
		n = vsnprintf(m->s ? m->s + m->len : NULL, m->s ? room : 0, fmt, ap);
		va_end(ap);
		ck_assert_int_ge(n, 0);
		if (m->s && (size_t)n < room) {
			m->len += (size_t)n;
			return;
		}
		m->cap = (m->cap ? m->cap * 2 : 1024) + (size_t)n + 1;
		m->s = realloc(m->s, m->cap);
		ck_assert_ptr_nonnull(m->s);
		if (m->len == 0)
			m->s[0] = '\0';
	}
}

static const char *js(json_object *o)
{
	return o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE)
		 : "(missing)";
}

/* ---- JSON helpers ---- */

static bool is_number(json_object *o)
{
	return json_object_is_type(o, json_type_int) ||
	       json_object_is_type(o, json_type_double);
}

/* Deep equality: numbers by value, objects by key set, arrays in order. */
static bool json_equal(json_object *a, json_object *b)
{
	if (!a || !b || json_object_is_type(a, json_type_null) ||
	    json_object_is_type(b, json_type_null))
		return (!a || json_object_is_type(a, json_type_null)) ==
		       (!b || json_object_is_type(b, json_type_null)) &&
		       (a != NULL) == (b != NULL);
	if (is_number(a) && is_number(b)) {
		if (json_object_is_type(a, json_type_int) &&
		    json_object_is_type(b, json_type_int))
			return json_object_get_int64(a) == json_object_get_int64(b);
		return json_object_get_double(a) == json_object_get_double(b);
	}
	if (json_object_get_type(a) != json_object_get_type(b))
		return false;
	switch (json_object_get_type(a)) {
	case json_type_boolean:
		return json_object_get_boolean(a) == json_object_get_boolean(b);
	case json_type_string:
		return !strcmp(json_object_get_string(a), json_object_get_string(b));
	case json_type_array: {
		size_t n = json_object_array_length(a);

		if (n != json_object_array_length(b))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!json_equal(json_object_array_get_idx(a, i),
					json_object_array_get_idx(b, i)))
				return false;
		return true;
	}
	case json_type_object: {
		if (json_object_object_length(a) != json_object_object_length(b))
			return false;
		json_object_object_foreach(a, k, va) {
			json_object *vb;

			if (!json_object_object_get_ex(b, k, &vb) || !json_equal(va, vb))
				return false;
		}
		return true;
	}
	default:
		return false;
	}
}

static json_object *key(json_object *o, const char *k)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

/* Does actual a carry every key of expectation e with the same value?
 * ("comment" keys of the expectation are notes, not keys.) A key that the
 * expectation gives as null matches an absent key too. */
static bool entry_matches(json_object *e, json_object *a)
{
	if (!json_object_is_type(a, json_type_object))
		return false;
	json_object_object_foreach(e, k, ve) {
		json_object *va;
		bool has;

		if (!strcmp(k, "comment"))
			continue;
		has = json_object_object_get_ex(a, k, &va);
		if (!has) {
			if (json_object_is_type(ve, json_type_null))
				continue;
			return false;
		}
		if (!json_equal(ve, va))
			return false;
	}
	return true;
}

/* ---- one-to-one matching of expected entries to actual ones ---- */

struct matcher {
	size_t ne, na;
	bool *adj;		/* ne x na */
	int *match_a;		/* actual -> expected, -1 */
	int *match_e;		/* expected -> actual, -1 */
	bool *seen;
};

static bool augment(struct matcher *m, size_t e)
{
	for (size_t a = 0; a < m->na; a++) {
		if (!m->adj[e * m->na + a] || m->seen[a])
			continue;
		m->seen[a] = true;
		if (m->match_a[a] < 0 || augment(m, (size_t)m->match_a[a])) {
			m->match_a[a] = (int)e;
			m->match_e[e] = (int)a;
			return true;
		}
	}
	return false;
}

/* A short form of an actual entry for messages: the identifying keys. */
static void short_entry(struct msg *out, json_object *a)
{
	static const char *const keys[] = {
		"code", "severity", "table", "device_id", "event_id", "icid",
		"cpu", "gpa", "raw", "reason",
	};
	bool first = true;

	msg_add(out, "{");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_object *v = key(a, keys[i]);

		if (!v || json_object_is_type(v, json_type_null))
			continue;
		msg_add(out, "%s\"%s\":%s", first ? "" : ",", keys[i], js(v));
		first = false;
	}
	if (key(a, "detail"))
		msg_add(out, "%s\"detail\":%s", first ? "" : ",", js(key(a, "detail")));
	msg_add(out, "}");
}

/* Match the expected array exactly against the actual one; describe any
 * difference into out. Returns true when every entry pairs up. */
static bool match_exact(const char *what, json_object *exp, json_object *act,
			struct msg *out)
{
	struct matcher m = { 0 };
	bool ok = true;

	if (!act || !json_object_is_type(act, json_type_array)) {
		msg_add(out, "\n  %s: the output has no \"%s\" array (%s)", what, what, js(act));
		return false;
	}
	m.ne = json_object_array_length(exp);
	m.na = json_object_array_length(act);
	m.adj = calloc(m.ne * m.na + 1, sizeof(*m.adj));
	m.match_a = malloc((m.na + 1) * sizeof(*m.match_a));
	m.match_e = malloc((m.ne + 1) * sizeof(*m.match_e));
	m.seen = calloc(m.na + 1, sizeof(*m.seen));
	ck_assert(m.adj && m.match_a && m.match_e && m.seen);
	for (size_t a = 0; a < m.na; a++)
		m.match_a[a] = -1;
	for (size_t e = 0; e < m.ne; e++) {
		m.match_e[e] = -1;
		for (size_t a = 0; a < m.na; a++)
			m.adj[e * m.na + a] = entry_matches(json_object_array_get_idx(exp, e),
							    json_object_array_get_idx(act, a));
	}
	for (size_t e = 0; e < m.ne; e++) {
		memset(m.seen, 0, (m.na + 1) * sizeof(*m.seen));
		augment(&m, e);
	}
	for (size_t e = 0; e < m.ne; e++)
		if (m.match_e[e] < 0)
			ok = false;
	for (size_t a = 0; a < m.na; a++)
		if (m.match_a[a] < 0)
			ok = false;
	if (!ok) {
		msg_add(out, "\n  %s differ:", what);
		for (size_t e = 0; e < m.ne; e++)
			if (m.match_e[e] < 0)
				msg_add(out, "\n    expected, not in the output: %s",
					js(json_object_array_get_idx(exp, e)));
		for (size_t a = 0; a < m.na; a++)
			if (m.match_a[a] < 0) {
				msg_add(out, "\n    in the output, not expected: ");
				short_entry(out, json_object_array_get_idx(act, a));
			}
		msg_add(out, "\n    whole output %s (%zu):", what, m.na);
		for (size_t a = 0; a < m.na; a++) {
			msg_add(out, "\n      ");
			short_entry(out, json_object_array_get_idx(act, a));
		}
	}
	free(m.adj);
	free(m.match_a);
	free(m.match_e);
	free(m.seen);
	return ok;
}

/* summary.errors/warnings/info agree with the problems' severities */
static bool check_summary(json_object *doc, struct msg *out)
{
	json_object *probs = key(doc, "problems"), *sum = key(doc, "summary");
	int64_t n[3] = { 0, 0, 0 };
	static const char *const names[3] = { "errors", "warnings", "info" };
	static const char *const sev[3] = { "error", "warning", "info" };
	bool ok = true;

	if (!probs || !json_object_is_type(probs, json_type_array) || !sum) {
		msg_add(out, "\n  summary: missing (%s)", js(sum));
		return false;
	}
	for (size_t i = 0; i < json_object_array_length(probs); i++) {
		json_object *s = key(json_object_array_get_idx(probs, i), "severity");

		for (int k = 0; k < 3; k++)
			if (s && json_object_is_type(s, json_type_string) &&
			    !strcmp(json_object_get_string(s), sev[k]))
				n[k]++;
	}
	for (int k = 0; k < 3; k++) {
		json_object *v = key(sum, names[k]);

		if (!v || !json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) != n[k]) {
			msg_add(out, "\n  summary.%s = %s, but %" PRId64 " problems have severity \"%s\"",
				names[k], js(v), n[k], sev[k]);
			ok = false;
		}
	}
	return ok;
}

/* ---- writing the snapshot ---- */

static json_object *load_json(const char *path)
{
	json_object *o = json_object_from_file(path);

	ck_assert_msg(o != NULL, "%s: cannot read or parse: %s", path,
		      json_util_get_last_err());
	return o;
}

/* Remove the registers named in "regs_omit" from every ITS of the written
 * registers file (e.g. GITS_IIDR: a snapshot whose IIDR is unknown). */
static void omit_regs(const char *path, json_object *omit)
{
	json_object *doc = load_json(path), *its = key(doc, "its");

	ck_assert_msg(its && json_object_is_type(its, json_type_array),
		      "%s: no \"its\" array", path);
	for (size_t i = 0; i < json_object_array_length(its); i++) {
		json_object *r = key(json_object_array_get_idx(its, i), "registers");

		for (size_t k = 0; r && k < json_object_array_length(omit); k++)
			json_object_object_del(r, json_object_get_string(
					json_object_array_get_idx(omit, k)));
	}
	ck_assert_int_eq(json_object_to_file_ext(path, doc, JSON_C_TO_STRING_PRETTY), 0);
	json_object_put(doc);
}

/* ---- one fixture ---- */

static void run_fixture(const char *name)
{
	char *dir = t_src(FSCK_DIR), *writer = t_build("its-fixture"),
	     *fsck = t_build("its-fsck"), *expect_path, *spec_path;
	json_object *exp, *o, *doc, *verdict;
	const char *format, *spec;
	char snap[512], regs[512], snap_rel[300], regs_rel[300];
	const char *argv[64];
	struct t_run r;
	struct msg m = { 0 };
	bool stream, ok = true;
	int n = 0, want_exit;

	ck_assert_int_ge(asprintf(&expect_path, "%s/%s%s", dir, name, EXPECT_SUFFIX), 0);
	exp = load_json(expect_path);
	o = key(exp, "spec");
	spec = o ? json_object_get_string(o) : NULL;
	if (spec)
		ck_assert_int_ge(asprintf(&spec_path, "%s/%s", dir, spec), 0);
	else
		ck_assert_int_ge(asprintf(&spec_path, "%s/%s.json", dir, name), 0);
	o = key(exp, "format");
	ck_assert_msg(o != NULL, "%s: no \"format\"", expect_path);
	format = json_object_get_string(o);
	ck_assert_msg(!strcmp(format, "elf") || !strcmp(format, "stream"),
		      "%s: format \"%s\" (expected elf or stream)", expect_path, format);
	stream = !strcmp(format, "stream");
	o = key(exp, "exit");
	ck_assert_msg(o && json_object_is_type(o, json_type_int), "%s: no \"exit\"", expect_path);
	want_exit = json_object_get_int(o);
	ck_assert_msg(key(exp, "problems") &&
		      json_object_is_type(key(exp, "problems"), json_type_array),
		      "%s: no \"problems\" array", expect_path);

	/* write the snapshot */
	snprintf(snap_rel, sizeof(snap_rel), "%s.%s", name, stream ? "mig" : "elf");
	snprintf(regs_rel, sizeof(regs_rel), "%s.regs.json", name);
	snprintf(snap, sizeof(snap), "%s/%s", t_tmpdir(), snap_rel);
	snprintf(regs, sizeof(regs), "%s/%s", t_tmpdir(), regs_rel);
	{
		const char *wargv[] = { writer, spec_path, "-o", snap, "--regs", regs, NULL };

		t_run(&r, wargv);
		ck_assert_msg(r.status == 0, "%s: its-fixture %s failed (%d): %s",
			      name, spec_path, r.status, r.err);
		t_run_free(&r);
	}
	if ((o = key(exp, "regs_omit")))
		omit_regs(regs, o);

	/* run its-fsck -j [args] [--its-regs R] SNAPSHOT in the temp dir */
	argv[n++] = fsck;
	argv[n++] = "-j";
	if ((o = key(exp, "args")))
		for (size_t i = 0; i < json_object_array_length(o) && n < 58; i++)
			argv[n++] = json_object_get_string(json_object_array_get_idx(o, i));
	if (!stream) {
		argv[n++] = "--its-regs";
		argv[n++] = regs_rel;
	}
	argv[n++] = snap_rel;
	argv[n] = NULL;
	{
		FILE *f = fopen(fsck, "r");

		ck_assert_msg(f != NULL, "%s: %s not built (make build/its-fsck)", name, fsck);
		fclose(f);
	}
	t_run_in(&r, t_tmpdir(), argv);
	msg_add(&m, "%s:", name);
	for (int i = 0; i < n; i++)
		msg_add(&m, " %s", i == 0 ? "its-fsck" : argv[i]);

	doc = json_tokener_parse(r.out);
	if (!doc || !json_object_is_type(doc, json_type_object)) {
		ck_abort_msg("%s\n  exit %d (expected %d), stdout is not a JSON object: %.1500s\n  stderr: %.1500s",
			     m.s, r.status, want_exit, r.out, r.err);
	}
	if (r.status != want_exit) {
		msg_add(&m, "\n  exit status %d, expected %d", r.status, want_exit);
		if (r.err[0])
			msg_add(&m, " (stderr: %.600s)", r.err);
		ok = false;
	}

	/* verdict: every key listed matches exactly */
	verdict = key(doc, "verdict");
	if ((o = key(exp, "verdict"))) {
		json_object_object_foreach(o, k, ve) {
			json_object *va = NULL;
			bool has = verdict && json_object_object_get_ex(verdict, k, &va);

			if (!strcmp(k, "comment"))
				continue;
			if (!has && json_object_is_type(ve, json_type_null))
				continue;	/* null: absent is fine */
			if (!has) {
				msg_add(&m, "\n  verdict.%s: expected %s, the output has no such key",
					k, js(ve));
				ok = false;
			} else if (!json_equal(ve, va)) {
				msg_add(&m, "\n  verdict.%s: expected %s, got %s", k, js(ve), js(va));
				ok = false;
			}
		}
		if (!ok)
			msg_add(&m, "\n  whole verdict: %s", js(verdict));
	}

	/* problems and dropped: exact, one to one */
	if (!match_exact("problems", key(exp, "problems"), key(doc, "problems"), &m))
		ok = false;
	if ((o = key(exp, "dropped")) &&
	    !match_exact("dropped", o, key(doc, "dropped"), &m))
		ok = false;
	if (!check_summary(doc, &m))
		ok = false;

	if (!ok)	/* Check truncates long messages: the whole story on stderr */
		fprintf(stderr, "%s\n", m.s);
	ck_assert_msg(ok, "%s", m.s);

	free(m.s);
	json_object_put(doc);
	json_object_put(exp);
	t_run_free(&r);
	free(expect_path);
	free(spec_path);
	free(dir);
	free(writer);
	free(fsck);
}

START_TEST(test_fixture)
{
	ck_assert_msg(!list_error[0], "%s", list_error);
	ck_assert_int_lt(_i, nr_fixtures);
	run_fixture(fixture_names[_i]);
}
END_TEST

/* ---- every problem has a fixture ---- */

START_TEST(test_every_problem_has_a_fixture)
{
	bool listed[PR_COUNT] = { false };
	struct msg m = { 0 };
	int missing = 0;

	ck_assert_msg(!list_error[0], "%s", list_error);
	ck_assert_int_gt(nr_fixtures, 0);
	for (int i = 0; i < nr_fixtures; i++) {
		char *dir = t_src(FSCK_DIR), *path;
		json_object *exp, *probs;

		ck_assert_int_ge(asprintf(&path, "%s/%s%s", dir, fixture_names[i], EXPECT_SUFFIX), 0);
		exp = load_json(path);
		probs = key(exp, "problems");
		for (size_t k = 0; probs && k < json_object_array_length(probs); k++) {
			json_object *c = key(json_object_array_get_idx(probs, k), "code");
			const struct problem_info *p = c ? problem_by_name(json_object_get_string(c)) : NULL;

			ck_assert_msg(p != NULL, "%s: problem code %s is not in problems.def",
				      path, js(c));
			listed[p->id] = true;
		}
		json_object_put(exp);
		free(path);
		free(dir);
	}
	msg_add(&m, "problems that no tests/fixtures/fsck expect file lists:");
	for (size_t i = 0; i < PR_COUNT; i++)
		if (!listed[i]) {
			msg_add(&m, " %s", problem_table[i].name);
			missing++;
		}
	ck_assert_msg(missing == 0, "%s", m.s);
	free(m.s);
}
END_TEST

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The fixture list, read when the suite is built (sorted, so that loop index
 * i is the same fixture in every run). */
static void list_fixtures(void)
{
	const char *src = getenv("ITS_SOURCE_DIR");
	char path[1024];
	struct dirent *de;
	DIR *d;

	if (!src || !*src) {
		snprintf(list_error, sizeof(list_error),
			 "environment variable ITS_SOURCE_DIR is not set: run the tests with 'make check'");
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", src, FSCK_DIR);
	d = opendir(path);
	if (!d) {
		snprintf(list_error, sizeof(list_error), "cannot open %s", path);
		return;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name), sl = strlen(EXPECT_SUFFIX);

		if (len <= sl || strcmp(de->d_name + len - sl, EXPECT_SUFFIX))
			continue;
		if (nr_fixtures == MAX_FIXTURES) {
			snprintf(list_error, sizeof(list_error),
				 "more than %d fixtures in %s", MAX_FIXTURES, path);
			break;
		}
		fixture_names[nr_fixtures] = strndup(de->d_name, len - sl);
		if (!fixture_names[nr_fixtures])
			abort();
		nr_fixtures++;
	}
	closedir(d);
	qsort(fixture_names, (size_t)nr_fixtures, sizeof(fixture_names[0]), cmp_names);
	if (!nr_fixtures && !list_error[0])
		snprintf(list_error, sizeof(list_error), "no *%s in %s", EXPECT_SUFFIX, path);
}

Suite *suite_fsck(void)
{
	Suite *s = suite_create("fsck");
	TCase *tc = tcase_create("fixtures"), *tp = tcase_create("coverage");

	if (!nr_fixtures && !list_error[0])
		list_fixtures();
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	/* at least one iteration, so that a listing error is reported */
	tcase_add_loop_test(tc, test_fixture, 0, nr_fixtures ? nr_fixtures : 1);
	tcase_add_test(tp, test_every_problem_has_a_fixture);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tp);
	return s;
}
