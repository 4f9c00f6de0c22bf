/* The terminal side of both programs: colour roles and their escape
 * sequences (--color, NO_COLOR, TERM=dumb, a real pty), the progress meter
 * (a fake clock for the drawing rules, the real programs for -q and
 * --progress, the snap layer's hook on a stream past 64 MiB), write errors
 * on standard output (/dev/full, a closed pipe with SIGPIPE default and
 * ignored), errors as JSON in -j mode, and the JSON size limit of the
 * emitter: exact byte accounting against json-c's output, a lowered limit
 * crossed, and the size of a maximal legitimate document. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "its/check.h"
#include "its/cli.h"
#include "its/layout.h"
#include "its/out.h"
#include "its/profile.h"
#include "its/report.h"
#include "its/snapshot.h"
#include "suites.h"
#include "testutil.h"

#define RED	"\033[31m"
#define YELLOW	"\033[33m"
#define DIM	"\033[2m"
#define GREEN	"\033[32m"
#define RESET	"\033[0m"

static void teardown(void)
{
	t_cleanup();
}

/* ------------------------------------------------------------ helpers */

/* its-fixture SPEC (relative to the source tree) -o tmp/NAME [--regs
 * tmp/NAME.regs.json when regs]. */
static void gen(const char *spec_rel, const char *name, bool regs)
{
	char *writer = t_build("its-fixture"), *spec = t_src(spec_rel);
	char out[512], rp[512];
	const char *argv[] = { writer, spec, "-o", out, regs ? "--regs" : NULL,
			       rp, NULL };
	struct t_run r;

	snprintf(out, sizeof(out), "%s/%s", t_tmpdir(), name);
	snprintf(rp, sizeof(rp), "%s/%s.regs.json", t_tmpdir(), name);
	t_run(&r, argv);
	ck_assert_msg(r.status == 0, "its-fixture %s: %s", spec_rel, r.err);
	t_run_free(&r);
	free(spec);
	free(writer);
}

/* How a program runs: standard output to a file (captured), a pty, or a
 * given fd; standard error to a file or the pty; environment changes
 * ("NAME=VALUE" sets, "NAME" unsets); SIGPIPE ignored or default. Runs in
 * the temporary directory. */
struct how {
	bool out_pty, err_pty;
	int out_fd;			/* >= 0: standard output */
	bool ignore_sigpipe;
	const char *env[4];
};

static void run_how(struct t_run *r, const struct how *h,
		    const char *const argv[])
{
	char op[300], ep[300];
	int of, ef, master = -1, slave = -1, st;
	char *tty_text = NULL;
	pid_t pid;

	snprintf(op, sizeof(op), "%s/.term-out", t_tmpdir());
	snprintf(ep, sizeof(ep), "%s/.term-err", t_tmpdir());
	of = open(op, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ef = open(ep, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert(of >= 0 && ef >= 0);
	if (h->out_pty || h->err_pty) {
		struct termios t;

		master = posix_openpt(O_RDWR | O_NOCTTY);
		ck_assert_int_ge(master, 0);
		ck_assert_int_eq(grantpt(master), 0);
		ck_assert_int_eq(unlockpt(master), 0);
		slave = open(ptsname(master), O_RDWR | O_NOCTTY);
		ck_assert_int_ge(slave, 0);
		/* no \n -> \r\n: the bytes come back as written */
		ck_assert_int_eq(tcgetattr(slave, &t), 0);
		cfmakeraw(&t);
		ck_assert_int_eq(tcsetattr(slave, TCSANOW, &t), 0);
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(h->out_pty ? slave : h->out_fd >= 0 ? h->out_fd : of, 1);
		dup2(h->err_pty ? slave : ef, 2);
		if (master >= 0)
			close(master);
		signal(SIGPIPE, h->ignore_sigpipe ? SIG_IGN : SIG_DFL);
		for (size_t i = 0; i < 4 && h->env[i]; i++) {
			if (strchr(h->env[i], '='))
				putenv(strdup(h->env[i]));
			else
				unsetenv(h->env[i]);
		}
		if (chdir(t_tmpdir()) != 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (slave >= 0) {
		close(slave);
		tty_text = t_slurp_fd(master);
		close(master);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	lseek(of, 0, SEEK_SET);
	lseek(ef, 0, SEEK_SET);
	r->out = h->out_pty ? tty_text : t_slurp_fd(of);
	r->err = h->err_pty ? tty_text : t_slurp_fd(ef);
	if (h->out_pty && h->err_pty)
		r->err = strdup(tty_text);
	if (!h->out_pty && !h->err_pty)
		free(tty_text);
	close(of);
	close(ef);
}

static void run(struct t_run *r, const char *const argv[])
{
	struct how h = { .out_fd = -1 };

	run_how(r, &h, argv);
}

/* Remove every ESC [ ... m sequence in place. */
static char *strip_sgr(char *s)
{
	char *w = s;

	for (const char *p = s; *p;) {
		if (p[0] == '\033' && p[1] == '[') {
			const char *m = p + 2;

			while (*m && *m != 'm')
				m++;
			ck_assert_msg(*m == 'm', "unterminated escape sequence");
			p = m + 1;
			continue;
		}
		*w++ = *p++;
	}
	*w = '\0';
	return s;
}

static void assert_has(const char *hay, const char *needle)
{
	ck_assert_msg(strstr(hay, needle) != NULL, "missing:\n%s\nin:\n%s",
		      needle, hay);
}

/* ------------------------------------------------------------ colour */

/* An error and the verdict of a clean restore, from the fsck fixtures. */
START_TEST(color_always_fsck_error)
{
	char *prog = t_build("its-fsck");
	const char *argv[] = { prog, "--color=always", "--its-regs", "e.elf.regs.json",
			       "e.elf", NULL };
	const char *plain[] = { prog, "--its-regs", "e.elf.regs.json", "e.elf", NULL };
	struct t_run r, p;

	gen("tests/fixtures/fsck/fsck-ite-lpi-above-max.json", "e.elf", true);
	run(&r, argv);
	ck_assert_int_eq(r.status, 4);
	ck_assert_str_eq(r.err, "");
	assert_has(r.out, "\n" GREEN "KVM restore (kernel upstream): ok; 2 collections, 2 devices, 3 events (17 entries read)" RESET "\n");
	assert_has(r.out, "\nInterrupt translation tables:\n  " RED
		   "ITE_LPI_ABOVE_MAX (0x030002) error: ITE pINTID beyond the LPI range of GICR_PROPBASER.IDbits"
		   RESET "\n    itt DeviceID 0x10 EventID 0, GPA 0x40c00100, raw 0x0000000100000001\n");
	assert_has(r.out, "\nSummary: " RED "1 error" RESET ", 0 warnings, 0 info\n");
	/* colour adds escape sequences and nothing else */
	run(&p, plain);
	ck_assert_str_eq(strip_sgr(r.out), p.out);
	t_run_free(&r);
	t_run_free(&p);
	free(prog);
}
END_TEST

/* A failing restore (red, with QEMU's abort line), a warning and the
 * dropped list (dim). */
START_TEST(color_always_fsck_fail_and_dropped)
{
	char *prog = t_build("its-fsck");
	const char *fail[] = { prog, "--color", "--its-regs", "f.elf.regs.json", "f.elf", NULL };
	const char *drop[] = { prog, "--color=always", "d.mig", NULL };
	struct t_run r;

	gen("tests/fixtures/fsck/fsck-devid-range.json", "f.elf", true);
	gen("tests/fixtures/fsck/fsck-ite-dropped.json", "d.mig", false);
	run(&r, fail);
	ck_assert_int_eq(r.status, 4);
	assert_has(r.out, "\n" RED "KVM restore (kernel upstream): would fail with EINVAL at l2_page DeviceID 0x10008 (GPA 0x40b90040): DTE_DEVID_RANGE (DeviceID 0x10008 > 0xffff); past the failures it restores 2 collections, 2 devices, 3 events (16400 entries read)" RESET "\n  "
		   RED "QEMU would abort with: KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000002: Invalid argument" RESET "\n");
	t_run_free(&r);
	run(&r, drop);
	ck_assert_int_eq(r.status, 4);
	assert_has(r.out, "\n  " YELLOW "ITE_DROPPED (0x030008) warning: valid ITE that the restore walk never reaches" RESET "\n");
	assert_has(r.out, "\nSilently not restored (1 valid-looking entry):\n  " DIM
		   "itt              DeviceID 0x8 EventID 1 ICID 1 GPA 0x40c00008 raw 0x0001000020030001: jumped_over"
		   RESET "\n");
	assert_has(r.out, "\nSummary: 0 errors, " YELLOW "1 warning" RESET ", 0 info\n");
	t_run_free(&r);
	free(prog);
}
END_TEST

/* its-dump: flagged entries yellow, entries no restore reaches dim. */
START_TEST(color_always_dump)
{
	char *prog = t_build("its-dump");
	const char *next[] = { prog, "--color=always", "--its-regs", "n.elf.regs.json", "n.elf", NULL };
	const char *next_plain[] = { prog, "--color=never", "--its-regs", "n.elf.regs.json", "n.elf", NULL };
	const char *term[] = { prog, "--color=always", "--its-regs", "t.elf.regs.json", "t.elf", NULL };
	struct t_run r, p;

	gen("tests/fixtures/bad-next.json", "n.elf", true);
	gen("tests/fixtures/fsck/fsck-cte-after-terminator.json", "t.elf", true);
	run(&r, next);
	ck_assert_int_eq(r.status, 1);
	assert_has(r.out, "\n      " YELLOW "     1       8193      1      4  0x000040c00008  0x0004000020010001  [next_out_of_range]" RESET "\n");
	assert_has(r.out, "\n    " YELLOW "0x00001ff8 0x000040c00200    1    100  0x000040a1ffc0  0x80c8000008180040  [next_out_of_range]" RESET "\n");
	run(&p, next_plain);
	ck_assert_str_eq(strip_sgr(r.out), p.out);
	t_run_free(&r);
	t_run_free(&p);
	run(&r, term);
	assert_has(r.out, "\n    " DIM "     3      2          0  0x000040a30018  0x8000000000000002  [after_terminator]" RESET "\n");
	t_run_free(&r);
	free(prog);
}
END_TEST

/* --color=never, and auto on a file: not one escape byte, and the same
 * bytes as without the option. */
START_TEST(color_never_and_auto_on_a_file)
{
	char *prog = t_build("its-fsck");
	const char *never[] = { prog, "--color=never", "--its-regs", "e.elf.regs.json", "e.elf", NULL };
	const char *dflt[] = { prog, "--its-regs", "e.elf.regs.json", "e.elf", NULL };
	struct t_run r, d;

	gen("tests/fixtures/fsck/fsck-ite-lpi-above-max.json", "e.elf", true);
	run(&r, never);
	run(&d, dflt);
	ck_assert_int_eq(r.status, 4);
	ck_assert_ptr_null(strchr(r.out, '\033'));
	ck_assert_ptr_null(strchr(d.out, '\033'));
	ck_assert_str_eq(r.out, d.out);
	t_run_free(&r);
	t_run_free(&d);
	free(prog);
}
END_TEST

/* JSON is never coloured, even when asked. */
START_TEST(color_never_in_json)
{
	char *fsck = t_build("its-fsck"), *dump = t_build("its-dump");
	const char *a[] = { fsck, "-j", "--color=always", "--its-regs", "e.elf.regs.json", "e.elf", NULL };
	const char *b[] = { dump, "--pretty", "--color=always", "--its-regs", "e.elf.regs.json", "e.elf", NULL };
	struct how tty = { .out_pty = true, .out_fd = -1, .env = { "TERM=xterm", "NO_COLOR" } };
	struct t_run r;
	json_object *doc;

	gen("tests/fixtures/fsck/fsck-ite-lpi-above-max.json", "e.elf", true);
	run(&r, a);
	ck_assert_int_eq(r.status, 4);
	ck_assert_ptr_null(strchr(r.out, '\033'));
	doc = json_tokener_parse(r.out);
	ck_assert_ptr_nonnull(doc);
	json_object_put(doc);
	t_run_free(&r);
	run_how(&r, &tty, b);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_null(strchr(r.out, '\033'));
	ck_assert_ptr_nonnull(strstr(r.out, "\"format_version\": 1"));
	t_run_free(&r);
	free(fsck);
	free(dump);
}
END_TEST

/* auto on a real terminal: colour, unless NO_COLOR is set and not empty
 * or TERM is dumb; --color=always wins over NO_COLOR; never wins. */
START_TEST(color_auto_on_a_terminal)
{
	char *prog = t_build("its-fsck");
	const char *autoc[] = { prog, "--its-regs", "e.elf.regs.json", "e.elf", NULL };
	const char *always[] = { prog, "--color=always", "--its-regs", "e.elf.regs.json", "e.elf", NULL };
	const char *never[] = { prog, "--color=never", "--its-regs", "e.elf.regs.json", "e.elf", NULL };
	static const struct {
		const char *env[2];
		bool always, never, coloured;
	} cases[] = {
		{ { "TERM=xterm", "NO_COLOR" }, false, false, true },
		{ { "TERM=xterm", "NO_COLOR=1" }, false, false, false },
		{ { "TERM=xterm", "NO_COLOR=" }, false, false, true },
		{ { "TERM=dumb", "NO_COLOR" }, false, false, false },
		{ { "TERM=xterm", "NO_COLOR=1" }, true, false, true },
		{ { "TERM=xterm", "NO_COLOR" }, false, true, false },
	};
	const char *line = "  " RED "ITE_LPI_ABOVE_MAX (0x030002) error:";

	gen("tests/fixtures/fsck/fsck-ite-lpi-above-max.json", "e.elf", true);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct how h = { .out_pty = true, .out_fd = -1,
				 .env = { cases[i].env[0], cases[i].env[1] } };
		struct t_run r;

		run_how(&r, &h, cases[i].always ? always : cases[i].never ? never : autoc);
		ck_assert_int_eq(r.status, 4);
		ck_assert_msg((strstr(r.out, line) != NULL) == cases[i].coloured,
			      "case %zu (%s %s): colour %s", i, cases[i].env[0],
			      cases[i].env[1], cases[i].coloured ? "missing" : "unwanted");
		if (!cases[i].coloured)
			ck_assert_ptr_null(strchr(r.out, '\033'));
		t_run_free(&r);
	}
	free(prog);
}
END_TEST

/* ------------------------------------------------------------ meter */

static double fake_now;

static double fake_clock(void)
{
	return fake_now;
}

struct memf {
	FILE *f;
	char *buf;
	size_t len;
};

static void memf_open(struct memf *m)
{
	m->buf = NULL;
	m->f = open_memstream(&m->buf, &m->len);
	ck_assert_ptr_nonnull(m->f);
}

static const char *memf_text(struct memf *m)
{
	fflush(m->f);
	return m->buf;
}

static void memf_close(struct memf *m)
{
	fclose(m->f);
	free(m->buf);
}

#define MIB(n) ((uint64_t)(n) << 20)

/* --progress into a log: nothing in the first second, then a line at
 * most once a second, and the last line always. */
START_TEST(meter_log_lines)
{
	struct cli_meter m;
	struct memf mf;

	memf_open(&mf);
	cli_meter_init(&m, "its-dump", CLI_PROGRESS_FORCE, mf.f, false);
	m.clock = fake_clock;
	fake_now = 100.0;
	cli_meter_start(&m, "x.mig");
	fake_now = 100.5;
	cli_meter_update(&m, MIB(64), MIB(640));
	ck_assert_str_eq(memf_text(&mf), "");
	fake_now = 101.0;
	cli_meter_update(&m, MIB(128), MIB(640));
	fake_now = 101.5;
	cli_meter_update(&m, MIB(192), MIB(640));
	fake_now = 102.0;
	cli_meter_update(&m, MIB(256), MIB(640));
	fake_now = 105.0;
	cli_meter_finish(&m, true, MIB(640));
	ck_assert_str_eq(memf_text(&mf),
			 "its-dump: x.mig: 134.2 of 671.1 MB (20%), 134.2 MB/s, ETA 0:04\n"
			 "its-dump: x.mig: 268.4 of 671.1 MB (40%), 134.2 MB/s, ETA 0:03\n"
			 "its-dump: x.mig: 671.1 MB read in 5.0 s (134.2 MB/s)\n");
	memf_close(&mf);
}
END_TEST

/* On a terminal: \r redraws at most every 0.1 s, the last line padded
 * over the longer one before it and ended with a newline. */
START_TEST(meter_tty_redraws)
{
	const char *l1 = "its-dump: x.mig: 134.2 of 671.1 MB (20%), 134.2 MB/s, ETA 0:04";
	const char *l2 = "its-dump: x.mig: 268.4 of 671.1 MB (40%), 214.7 MB/s, ETA 0:02";
	const char *l3 = "its-dump: x.mig: 671.1 MB read in 2.0 s (335.5 MB/s)";
	struct cli_meter m;
	struct memf mf;
	char want[512];

	memf_open(&mf);
	cli_meter_init(&m, "its-dump", CLI_PROGRESS_AUTO, mf.f, true);
	m.clock = fake_clock;
	fake_now = 0.0;
	cli_meter_start(&m, "x.mig");
	fake_now = 1.0;
	cli_meter_update(&m, MIB(128), MIB(640));
	fake_now = 1.05;
	cli_meter_update(&m, MIB(192), MIB(640));
	fake_now = 1.25;
	cli_meter_update(&m, MIB(256), MIB(640));
	fake_now = 2.0;
	cli_meter_finish(&m, true, MIB(640));
	snprintf(want, sizeof(want), "\r%s\r%s\r%s%*s\n", l1, l2, l3,
		 (int)(strlen(l2) - strlen(l3)), "");
	ck_assert_str_eq(memf_text(&mf), want);
	memf_close(&mf);
}
END_TEST

/* On a real terminal 40 columns wide: the file's last path component, and
 * the line cut to 39 columns so that \r can redraw it. */
START_TEST(meter_tty_narrow)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 40 };
	struct termios t;
	struct cli_meter m;
	char *buf;
	int master = posix_openpt(O_RDWR | O_NOCTTY), slave;
	FILE *f;

	ck_assert_int_ge(master, 0);
	ck_assert(grantpt(master) == 0 && unlockpt(master) == 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	ck_assert_int_ge(slave, 0);
	ck_assert_int_eq(tcgetattr(slave, &t), 0);
	cfmakeraw(&t);
	ck_assert_int_eq(tcsetattr(slave, TCSANOW, &t), 0);
	ck_assert_int_eq(ioctl(slave, TIOCSWINSZ, &ws), 0);
	f = fdopen(slave, "w");
	ck_assert_ptr_nonnull(f);
	cli_meter_init(&m, "its-dump", CLI_PROGRESS_AUTO, f, true);
	m.clock = fake_clock;
	fake_now = 0.0;
	cli_meter_start(&m, "/var/lib/libvirt/qemu/save/x.mig");
	fake_now = 1.0;
	cli_meter_update(&m, MIB(128), MIB(640));
	fake_now = 2.0;
	cli_meter_finish(&m, true, MIB(640));
	fclose(f);
	buf = t_slurp_fd(master);
	ck_assert_str_eq(buf, "\rits-dump: x.mig: 134.2 of 671.1 MB (20%"
			 "\rits-dump: x.mig: 671.1 MB read in 2.0 s\n");
	ck_assert_uint_eq(strlen("its-dump: x.mig: 671.1 MB read in 2.0 s"), 39);
	free(buf);
	close(master);
}
END_TEST

/* A read that fails ends the meter's line, so the error starts its own;
 * a quick read on a terminal draws nothing; -q draws nothing ever; auto
 * without a terminal draws nothing. */
START_TEST(meter_silent_cases)
{
	struct cli_meter m;
	struct memf mf;

	memf_open(&mf);
	cli_meter_init(&m, "its-fsck", CLI_PROGRESS_AUTO, mf.f, true);
	m.clock = fake_clock;
	fake_now = 0.0;
	cli_meter_start(&m, "-");
	fake_now = 1.5;
	cli_meter_update(&m, MIB(64), 0);
	cli_meter_finish(&m, false, 0);
	ck_assert_str_eq(memf_text(&mf), "\rits-fsck: (standard input): 67.1 MB, 44.7 MB/s\n");
	memf_close(&mf);

	memf_open(&mf);
	m.f = mf.f;
	fake_now = 10.0;
	cli_meter_start(&m, "y.mig");
	fake_now = 10.5;
	cli_meter_update(&m, MIB(64), MIB(65));
	cli_meter_finish(&m, true, MIB(65));
	ck_assert_str_eq(memf_text(&mf), "");
	memf_close(&mf);

	for (int i = 0; i < 2; i++) {
		memf_open(&mf);
		if (i == 0)
			cli_meter_init(&m, "its-dump", CLI_PROGRESS_QUIET, mf.f, true);
		else
			cli_meter_init(&m, "its-dump", CLI_PROGRESS_AUTO, mf.f, false);
		m.clock = fake_clock;
		fake_now = 0.0;
		cli_meter_start(&m, "z.mig");
		fake_now = 5.0;
		cli_meter_update(&m, MIB(64), MIB(640));
		cli_meter_finish(&m, true, MIB(640));
		ck_assert_str_eq(memf_text(&mf), "");
		memf_close(&mf);
	}
}
END_TEST

/* The real programs: --progress leaves one final line on stderr (a
 * stream this small is read before the meter would draw), -q and the
 * default (stderr no terminal) leave stderr empty, and a quick read with
 * stderr on a terminal draws nothing either. */
START_TEST(progress_in_the_programs)
{
	char *dump = t_build("its-dump"), *fsck = t_build("its-fsck");
	char snap[512], want[700];
	const char *forced[] = { dump, "--progress", snap, NULL };
	const char *forced_fsck[] = { fsck, "--progress", "-j", snap, NULL };
	const char *quiet[] = { dump, "-q", snap, NULL };
	const char *quiet_last[] = { dump, "--progress", "-q", snap, NULL };
	const char *plain[] = { dump, snap, NULL };
	struct how tty = { .err_pty = true, .out_fd = -1 };
	struct t_run r;
	double secs, rate;
	char tail[64];
	struct stat st;

	snprintf(snap, sizeof(snap), "%s/kvm-virt-2level.mig", t_env("ITS_SAMPLES_DIR"));
	ck_assert_int_eq(stat(snap, &st), 0);
	ck_assert_int_eq(st.st_size, 589804);
	run(&r, forced);
	ck_assert_int_eq(r.status, 0);
	snprintf(want, sizeof(want), "its-dump: %s: 0.6 MB read in ", snap);
	ck_assert_msg(!strncmp(r.err, want, strlen(want)), "stderr: %s", r.err);
	ck_assert_int_eq(sscanf(r.err + strlen(want), "%lf s (%lf MB/s)%63[^$]",
				&secs, &rate, tail), 3);
	ck_assert_str_eq(tail, "\n");
	ck_assert(secs >= 0 && secs < 60 && rate >= 0);
	t_run_free(&r);

	run(&r, forced_fsck);
	ck_assert_int_eq(r.status, 0);
	snprintf(want, sizeof(want), "its-fsck: %s: 0.6 MB read in ", snap);
	ck_assert_msg(!strncmp(r.err, want, strlen(want)), "stderr: %s", r.err);
	ck_assert_ptr_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	t_run_free(&r);

	for (int i = 0; i < 3; i++) {
		run(&r, i == 0 ? quiet : i == 1 ? quiet_last : plain);
		ck_assert_int_eq(r.status, 0);
		ck_assert_str_eq(r.err, "");
		t_run_free(&r);
	}
	run_how(&r, &tty, plain);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.err, "");
	t_run_free(&r);
	free(dump);
	free(fsck);
}
END_TEST

struct calls {
	size_t n;
	uint64_t done[8], total[8];
};

static void record(void *arg, uint64_t done, uint64_t total)
{
	struct calls *c = arg;

	if (c->n < 8) {
		c->done[c->n] = done;
		c->total[c->n] = total;
	}
	c->n++;
}

/* The snap layer's hook: a stream of 68 MiB of data pages passes 64 MiB
 * once, and the reader says so once, with the file size as the total. A
 * small stream never calls it. */
START_TEST(progress_hook_in_the_stream_reader)
{
	char *spec_path = t_src("tests/fixtures/minimal.json"), big[512], path[512];
	json_object *spec = json_object_from_file(spec_path), *ram, *fill;
	struct snap_open_opts so = { 0 };
	struct calls c = { 0 };
	struct snapshot *s = NULL;
	struct its_err err;
	struct stat st;

	ck_assert_ptr_nonnull(spec);
	ck_assert(json_object_object_get_ex(spec, "ram", &ram));
	json_object_object_add(json_object_array_get_idx(ram, 0), "size",
			       json_object_new_string("0x6000000"));
	fill = json_object_new_object();
	json_object_object_add(fill, "gpa", json_object_new_string("0x41000000"));
	json_object_object_add(fill, "size", json_object_new_string("0x4400000"));
	json_object_object_add(fill, "pattern", json_object_new_string("random"));
	json_object_object_add(fill, "seed", json_object_new_string("0x5"));
	json_object_object_add(spec, "fill", fill);
	snprintf(big, sizeof(big), "%s/big.json", t_tmpdir());
	ck_assert_int_eq(json_object_to_file(big, spec), 0);
	json_object_put(spec);
	{
		char *writer = t_build("its-fixture");
		const char *argv[] = { writer, big, "-o", path, NULL };
		struct t_run r;

		snprintf(path, sizeof(path), "%s/big.mig", t_tmpdir());
		t_run(&r, argv);
		ck_assert_msg(r.status == 0, "%s", r.err);
		t_run_free(&r);
		free(writer);
	}
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_gt((uint64_t)st.st_size, MIB(68));
	ck_assert_uint_lt((uint64_t)st.st_size, MIB(128));
	so.progress = record;
	so.progress_arg = &c;
	ck_assert_int_eq(snapshot_open(path, &so, &s, &err), 0);
	snapshot_close(s);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_uint_eq(c.total[0], (uint64_t)st.st_size);
	/* the first page record header at or past 64 MiB */
	ck_assert_uint_ge(c.done[0], MIB(64));
	ck_assert_uint_lt(c.done[0], MIB(64) + 4096 + 64);

	c.n = 0;
	snprintf(path, sizeof(path), "%s/kvm-virt-2level.mig", t_env("ITS_SAMPLES_DIR"));
	ck_assert_int_eq(snapshot_open(path, &so, &s, &err), 0);
	snapshot_close(s);
	ck_assert_uint_eq(c.n, 0);
	free(spec_path);
}
END_TEST

/* ------------------------------------------------------------ stdout */

START_TEST(write_error_dev_full)
{
	char *dump = t_build("its-dump"), *fsck = t_build("its-fsck"), snap[512];
	const char *const *cases[4];
	const char *a[] = { dump, snap, NULL }, *b[] = { dump, "-j", snap, NULL };
	const char *c[] = { fsck, snap, NULL }, *d[] = { fsck, "--pretty", snap, NULL };
	int full = open("/dev/full", O_WRONLY);

	ck_assert_int_ge(full, 0);
	snprintf(snap, sizeof(snap), "%s/kvm-virt-2level.mig", t_env("ITS_SAMPLES_DIR"));
	cases[0] = a;
	cases[1] = b;
	cases[2] = c;
	cases[3] = d;
	for (int i = 0; i < 4; i++) {
		struct how h = { .out_fd = full };
		struct t_run r;

		run_how(&r, &h, cases[i]);
		ck_assert_int_eq(r.status, 8);
		ck_assert_str_eq(r.err, i < 2 ?
				 "its-dump: error writing standard output: No space left on device\n" :
				 "its-fsck: error writing standard output: No space left on device\n");
		t_run_free(&r);
	}
	close(full);
	free(dump);
	free(fsck);
}
END_TEST

/* A closed pipe: SIGPIPE's default ends the program silently, as it ends
 * cat; with SIGPIPE ignored the write fails with EPIPE, an error like any
 * other (exit 8). */
START_TEST(write_error_closed_pipe)
{
	char *dump = t_build("its-dump"), *fsck = t_build("its-fsck"), snap[512];
	const char *a[] = { dump, snap, NULL }, *b[] = { fsck, "-j", snap, NULL };

	snprintf(snap, sizeof(snap), "%s/kvm-virt-2level.mig", t_env("ITS_SAMPLES_DIR"));
	for (int i = 0; i < 4; i++) {
		struct how h = { .ignore_sigpipe = i >= 2 };
		struct t_run r;
		int p[2];

		ck_assert_int_eq(pipe(p), 0);
		close(p[0]);
		h.out_fd = p[1];
		run_how(&r, &h, i % 2 ? b : a);
		close(p[1]);
		if (i < 2) {
			ck_assert_int_eq(r.status, 128 + SIGPIPE);
			ck_assert_str_eq(r.err, "");
		} else {
			ck_assert_int_eq(r.status, 8);
			ck_assert_str_eq(r.err, i % 2 ?
					 "its-fsck: error writing standard output: Broken pipe\n" :
					 "its-dump: error writing standard output: Broken pipe\n");
		}
		t_run_free(&r);
	}
	free(dump);
	free(fsck);
}
END_TEST

/* ------------------------------------------------------------ JSON errors */

static void json_error_case(const char *prog_name, const char *const extra[],
			    int status, const char *json, const char *line)
{
	char *prog = t_build(prog_name);
	const char *argv[8];
	struct t_run r;
	int n = 0;

	argv[n++] = prog;
	argv[n++] = "-j";
	for (size_t i = 0; extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	run(&r, argv);
	ck_assert_int_eq(r.status, status);
	ck_assert_str_eq(r.out, json);
	ck_assert_str_eq(r.err, line);
	t_run_free(&r);
	free(prog);
}

START_TEST(json_errors)
{
	const char *missing[] = { "no-such.mig", NULL };
	const char *cut[] = { "cut.mig", NULL };
	const char *noregs[] = { "m.elf", NULL };
	char src[512], dst[512];
	size_t len;
	char *bytes;

	json_error_case("its-dump", missing, 8,
			"{\"error\":{\"file\":\"no-such.mig\",\"offset\":null,\"message\":\"cannot open: No such file or directory\"}}\n",
			"its-dump: no-such.mig: cannot open: No such file or directory\n");
	json_error_case("its-fsck", missing, 8,
			"{\"error\":{\"file\":\"no-such.mig\",\"offset\":null,\"message\":\"cannot open: No such file or directory\"}}\n",
			"its-fsck: no-such.mig: cannot open: No such file or directory\n");

	/* a stream cut inside the data of a RAM page */
	snprintf(src, sizeof(src), "%s/kvm-virt-2level.mig", t_env("ITS_SAMPLES_DIR"));
	bytes = t_read_file(src, &len);
	ck_assert_ptr_nonnull(bytes);
	ck_assert_uint_eq(len, 589804);
	snprintf(dst, sizeof(dst), "cut.mig");
	free(t_write_file(dst, 0, bytes, 100000));
	free(bytes);
	json_error_case("its-dump", cut, 8,
			"{\"error\":{\"file\":\"cut.mig\",\"offset\":\"0x1869b\",\"message\":\"unexpected end of file while reading a RAM record header (8 bytes needed, 5 left)\"}}\n",
			"its-dump: cut.mig: offset 0x1869b: unexpected end of file while reading a RAM record header (8 bytes needed, 5 left)\n");
	json_error_case("its-fsck", cut, 8,
			"{\"error\":{\"file\":\"cut.mig\",\"offset\":\"0x1869b\",\"message\":\"unexpected end of file while reading a RAM record header (8 bytes needed, 5 left)\"}}\n",
			"its-fsck: cut.mig: offset 0x1869b: unexpected end of file while reading a RAM record header (8 bytes needed, 5 left)\n");

	/* a usage error found after parsing (exit 16) is JSON too */
	gen("tests/fixtures/minimal.json", "m.elf", false);
	json_error_case("its-dump", noregs, 16,
			"{\"error\":{\"file\":\"m.elf\",\"offset\":null,\"message\":\"ELF cores carry no ITS registers: supply --its-regs FILE (e.g. its-dump -j of a migration stream of the same VM) or --baser N=VALUE\"}}\n",
			"its-dump: m.elf: ELF cores carry no ITS registers: supply --its-regs FILE (e.g. its-dump -j of a migration stream of the same VM) or --baser N=VALUE\n");
	json_error_case("its-fsck", noregs, 16,
			"{\"error\":{\"file\":\"m.elf\",\"offset\":null,\"message\":\"ELF cores carry no ITS registers: supply --its-regs FILE (e.g. its-dump -j of a migration stream of the same VM) or --baser N=VALUE\"}}\n",
			"its-fsck: m.elf: ELF cores carry no ITS registers: supply --its-regs FILE (e.g. its-dump -j of a migration stream of the same VM) or --baser N=VALUE\n");
}
END_TEST

/* Errors of the command line itself stay argp's text on stderr, -j or
 * not: argp reports them while parsing, before it may have seen -j (it can
 * come later on the line), and a script has nothing to parse until its
 * command line is right. */
START_TEST(usage_errors_stay_text)
{
	static const char *const progs[] = { "its-dump", "its-fsck" };

	for (int i = 0; i < 2; i++) {
		char *prog = t_build(progs[i]), want[300];
		const char *argv[] = { prog, "-j", "--bogus", "x.mig", NULL };
		struct t_run r;

		run(&r, argv);
		ck_assert_int_eq(r.status, 16);
		ck_assert_str_eq(r.out, "");
		/* argp names the program as invoked, then by its short name */
		snprintf(want, sizeof(want),
			 "%s: unrecognized option '--bogus'\nTry `%s --help' or `%s --usage' for more information.\n",
			 prog, progs[i], progs[i]);
		ck_assert_str_eq(r.err, want);
		t_run_free(&r);
		free(prog);
	}
}
END_TEST

/* ------------------------------------------------------------ JSON size */

/* The compact size the emitter counts is the size json-c writes, for
 * every kind of value and for escapes. */
START_TEST(json_bytes_exact)
{
	const char *want = "{\"a\":1,\"b\":[true,null,\"x\\n\\\"\\\\\\u0001/\\u001f\\t\"],\"c\":{},\"d\":\"0x00ff\",\"e\\\"k\":false,\"f\":18446744073709551615,\"g\":[]}\n";
	struct memf mf;
	struct out *o;

	memf_open(&mf);
	o = out_new(OUT_JSON, mf.f, false);
	out_obj_begin(o, NULL);
	out_u64(o, "a", NULL, 1);
	out_arr_begin(o, "b");
	out_bool(o, NULL, NULL, NULL, true);
	out_null(o, NULL, NULL);
	out_str(o, NULL, NULL, "x\n\"\\\001/\037\t");
	out_arr_end(o);
	out_obj_begin(o, "c");
	out_obj_end(o);
	out_hex(o, "d", NULL, 0xff, 4);
	out_bool(o, "e\"k", NULL, NULL, false);
	out_u64(o, "f", NULL, UINT64_MAX);
	out_arr_begin(o, "g");
	out_arr_end(o);
	out_obj_end(o);
	ck_assert_uint_eq(out_json_bytes(o), strlen(want) - 1);
	ck_assert_int_eq(out_finish(o), 0);
	ck_assert_str_eq(memf_text(&mf), want);
	out_free(o);
	memf_close(&mf);
}
END_TEST

static struct out *small_doc(FILE *f, enum out_mode mode, uint64_t limit)
{
	struct out *o = out_new(mode, f, false);

	out_set_json_limit(o, limit);
	out_obj_begin(o, NULL);
	out_str(o, "path", "path %s\n", "guest.mig");
	out_arr_begin(o, "ids");
	for (uint64_t i = 0; i < 4; i++)
		out_u64(o, NULL, "id %llu\n", 1000 + i);
	out_arr_end(o);
	out_obj_end(o);
	return o;
}

/* The limit: a document of exactly the limit goes out; one byte less and
 * nothing is written, with the error naming the limit. Text has none. */
START_TEST(json_limit_crossed)
{
	const char *want = "{\"path\":\"guest.mig\",\"ids\":[1000,1001,1002,1003]}\n";
	struct its_err err;
	struct memf mf;
	struct out *o;

	ck_assert_uint_eq(strlen(want) - 1, 48);
	memf_open(&mf);
	o = small_doc(mf.f, OUT_JSON, 48);
	ck_assert_uint_eq(out_json_bytes(o), 48);
	ck_assert_int_eq(out_finish_err(o, "standard output", &err), 0);
	ck_assert_str_eq(memf_text(&mf), want);
	out_free(o);
	memf_close(&mf);

	memf_open(&mf);
	o = small_doc(mf.f, OUT_JSON, 47);
	ck_assert_int_eq(out_finish_err(o, "standard output", &err), -EFBIG);
	ck_assert_int_eq(err.code, -EFBIG);
	ck_assert_str_eq(err.msg, "JSON output over the limit of 47 bytes: nothing written (text output has no limit)");
	ck_assert_str_eq(memf_text(&mf), "");
	out_free(o);
	memf_close(&mf);

	memf_open(&mf);
	o = small_doc(mf.f, OUT_TEXT, 1);
	ck_assert_int_eq(out_finish(o), 0);
	ck_assert_str_eq(memf_text(&mf), "path guest.mig\nid 1000\nid 1001\nid 1002\nid 1003\n");
	out_free(o);
	memf_close(&mf);

	o = out_new(OUT_JSON, stdout, false);
	ck_assert_uint_eq(out_json_bytes(o), 0);
	out_free(o);
	ck_assert_uint_eq(OUT_JSON_MAX_BYTES, 2199023255552ULL);
}
END_TEST

/* Whole its-dump and its-fsck documents of the real samples (and a path
 * that needs escapes): the count is the length json-c writes. */
START_TEST(json_bytes_of_real_documents)
{
	char regs[512], elf[512], mig[512], odd[512];
	const char *snaps[3] = { elf, mig, odd };

	snprintf(regs, sizeof(regs), "%s/samples/kvm-synthetic/kvm-virt-2level.registers.json",
		 t_env("ITS_SHARED_DIR"));
	snprintf(elf, sizeof(elf), "%s/kvm-virt-2level.elf", t_env("ITS_SAMPLES_DIR"));
	snprintf(mig, sizeof(mig), "%s/qemu10-virt-its-stopped.mig", t_env("ITS_SAMPLES_DIR"));
	snprintf(odd, sizeof(odd), "%s/we\"ird\\na\tme.mig", t_tmpdir());
	ck_assert_int_eq(symlink(mig, odd), 0);
	for (int i = 0; i < 3; i++) {
		struct cli_snap_args a;
		struct cli_opened op;
		struct check_ctx cx;
		struct check_result cr = { 0 };
		struct fsck_opts fo = { 0 };
		struct fsck_summary fsum;
		struct dump_opts dopts = { .all = true, .sections = true };
		struct dump_summary dsum;
		struct its_err err;
		struct memf mf;
		struct out *o;
		bool usage;

		memset(&a, 0, sizeof(a));
		a.path = snaps[i];
		a.its_regs = i == 0 ? regs : NULL;
		ck_assert_int_eq(cli_open(&a, &op, &usage, &err), 0);

		memf_open(&mf);
		o = out_new(OUT_JSON, mf.f, false);
		report_dump(o, op.snap, op.img, &dopts, &dsum);
		ck_assert_int_eq(out_finish(o), 0);
		ck_assert_uint_gt(out_json_bytes(o), 1000);
		ck_assert_uint_eq(out_json_bytes(o) + 1, strlen(memf_text(&mf)));
		out_free(o);
		memf_close(&mf);

		memset(&cx, 0, sizeof(cx));
		kernel_profile_upstream(&cx.profile);
		cx.snap = op.snap;
		cx.mem = op.snap->mem;
		cx.img = op.img;
		cx.nr_vcpus = op.snap->nr_vcpus > 0 ? op.snap->nr_vcpus : (int)op.img->nr_rd;
		ck_assert_int_eq(check_run(&cx, &cr, &err), 0);
		memf_open(&mf);
		o = out_new(OUT_JSON, mf.f, false);
		report_fsck(o, &cx, &cr, &fo, &fsum);
		ck_assert_int_eq(out_finish(o), 0);
		ck_assert_uint_eq(out_json_bytes(o) + 1, strlen(memf_text(&mf)));
		if (i == 2)
			assert_has(memf_text(&mf), "\"path\":\"" );
		out_free(o);
		memf_close(&mf);
		check_result_release(&cr);
		cli_close(&op, &a);
	}
}
END_TEST

/* Every walk flag the JSON can carry: the bits its_flag_name names (the
 * emitter writes each bit of 32 by that name). */
static unsigned every_flag(void)
{
	unsigned all = 0;

	for (unsigned b = 0; b < 32; b++)
		if (strcmp(its_flag_name(b), "?"))
			all |= 1u << b;
	return all;
}

/* The compact bytes of an its-dump -j document of ndev devices with nev
 * events each, every number as wide as the format allows (DeviceID and
 * EventID 65535, 52-bit GPAs, LPI at the top of its field), every entry
 * valid; with every flag set on every entry when flags. */
static uint64_t dump_bytes(const struct snapshot *s, const char *layout,
			   size_t ndev, size_t nev, bool flags)
{
	const struct its_layout *l = its_layout_find(layout);
	bool kvm = !strcmp(layout, "kvm");
	struct its_image_its its;
	struct its_image img = { &its, 1, NULL, 0 };
	struct its_dev_rec *devs = calloc(ndev, sizeof(*devs));
	struct its_ite_rec *evs = calloc(nev, sizeof(*evs));
	struct dump_opts dopts = { .all = true };
	struct dump_summary sum;
	uint64_t n;
	struct out *o;
	FILE *null = fopen("/dev/null", "w");

	ck_assert_ptr_nonnull(l);
	ck_assert(devs && evs && null);
	memset(&its, 0, sizeof(its));
	its.layout = l;
	snprintf(its.layout_why, sizeof(its.layout_why), "test");
	snprintf(its.regs.source, sizeof(its.regs.source), "test");
	for (size_t j = 0; j < nev; j++) {
		struct its_ite_rec *e = &evs[j];

		e->event_id = 65535;
		e->gpa = 0xfffffffffffffULL;
		memset(e->e.raw, 0xff, sizeof(e->e.raw));
		e->e.valid = true;
		e->e.lpi = kvm ? UINT32_MAX : (1u << 24) - 1;
		e->e.icid = 65535;
		e->e.next = 65535;
		e->e.physical = true;
		e->e.vpe_id = 65535;
		e->e.doorbell = (1u << 25) - 1;
		e->flags = flags ? every_flag() : 0;
	}
	for (size_t i = 0; i < ndev; i++) {
		struct its_dev_rec *d = &devs[i];

		d->device_id = 65535;
		d->gpa = 0xfffffffffffffULL;
		d->e.raw = UINT64_MAX;
		d->e.valid = true;
		d->e.next = 16383;
		d->e.itt = 0xfffffffffff00ULL;
		d->e.size = 15;
		d->flags = flags ? every_flag() : 0;
		d->event_bits = 16;
		d->events = evs;
		d->nr_events = nev;
	}
	its.devs = devs;
	its.nr_devs = ndev;
	o = out_new(OUT_JSON, null, false);
	report_dump(o, s, &img, &dopts, &sum);
	n = out_json_bytes(o);
	out_free(o);
	fclose(null);
	free(devs);
	free(evs);
	return n;
}

/* A maximal legitimate document, 65536 DeviceIDs x 2^16 events, all valid,
 * stays below OUT_JSON_MAX_BYTES with room; so does the same with every
 * flag on every entry. The per-event and per-device sizes are exact. */
START_TEST(json_limit_above_the_largest_document)
{
	static const struct {
		const char *layout;
		bool flags;
		uint64_t event, device;
	} want[] = {
		{ "kvm", false, 137, 162 },	/* max 588421138151 */
		{ "tcg", false, 187, 149 },	/* max 803168650990 */
		{ "kvm", true, 334, 359 },	/* max 1434542606055 */
		{ "tcg", true, 384, 346 },	/* max 1649290118894 */
	};
	char path[512];
	struct snapshot *s = NULL;
	struct its_err err;

	/* the table names every flag up to the last one added */
	ck_assert_uint_eq(every_flag() & (every_flag() + 1), 0);
	ck_assert_uint_eq(every_flag() & (ITS_F_ANOMALY | ITS_F_UNREACHABLE |
					  ITS_F_NEXT_CROSSES_L2),
			  ITS_F_ANOMALY | ITS_F_UNREACHABLE | ITS_F_NEXT_CROSSES_L2);
	snprintf(path, sizeof(path), "%s/kvm-virt-2level.mig", t_env("ITS_SAMPLES_DIR"));
	ck_assert_int_eq(snapshot_open(path, NULL, &s, &err), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t one = dump_bytes(s, want[i].layout, 1, 1, want[i].flags);
		uint64_t ev = dump_bytes(s, want[i].layout, 1, 2, want[i].flags) - one;
		uint64_t dev = dump_bytes(s, want[i].layout, 2, 1, want[i].flags) - one - ev;
		/* summary counts up to 2^32 take at most 9 more digits each */
		uint64_t base = one - ev - dev + 7 * 9;
		uint64_t max = base + 65536 * dev + 65536ULL * 65536 * ev;

		ck_assert_msg(ev == want[i].event && dev == want[i].device,
			      "%s%s: %llu bytes an event, %llu a device, max %llu",
			      want[i].layout, want[i].flags ? " flagged" : "",
			      (unsigned long long)ev, (unsigned long long)dev,
			      (unsigned long long)max);
		ck_assert_uint_lt(max, OUT_JSON_MAX_BYTES);
		if (!want[i].flags)
			ck_assert_uint_lt(2 * max, OUT_JSON_MAX_BYTES);
	}
	snapshot_close(s);
}
END_TEST

Suite *suite_term(void)
{
	Suite *s = suite_create("term");
	TCase *color = tcase_create("color");
	TCase *meter = tcase_create("progress");
	TCase *output = tcase_create("output");

	tcase_add_checked_fixture(color, NULL, teardown);
	tcase_add_test(color, color_always_fsck_error);
	tcase_add_test(color, color_always_fsck_fail_and_dropped);
	tcase_add_test(color, color_always_dump);
	tcase_add_test(color, color_never_and_auto_on_a_file);
	tcase_add_test(color, color_never_in_json);
	tcase_add_test(color, color_auto_on_a_terminal);
	suite_add_tcase(s, color);

	tcase_add_checked_fixture(meter, NULL, teardown);
	tcase_add_test(meter, meter_log_lines);
	tcase_add_test(meter, meter_tty_redraws);
	tcase_add_test(meter, meter_tty_narrow);
	tcase_add_test(meter, meter_silent_cases);
	tcase_add_test(meter, progress_in_the_programs);
	tcase_add_test(meter, progress_hook_in_the_stream_reader);
	suite_add_tcase(s, meter);

	tcase_add_checked_fixture(output, NULL, teardown);
	tcase_add_test(output, write_error_dev_full);
	tcase_add_test(output, write_error_closed_pipe);
	tcase_add_test(output, json_errors);
	tcase_add_test(output, usage_errors_stay_text);
	tcase_add_test(output, json_bytes_exact);
	tcase_add_test(output, json_limit_crossed);
	tcase_add_test(output, json_bytes_of_real_documents);
	tcase_add_test(output, json_limit_above_the_largest_document);
	tcase_set_timeout(output, 60);
	suite_add_tcase(s, output);
	return s;
}
