/* What the programs do on the terminal: the progress meter on stderr, the
 * colour decision for stdout, and the check of standard output at exit
 * (coreutils' close_stdout). */
#include "its/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* A read shorter than this shows no meter at all. */
#define CLI_METER_DELAY		1.0
/* Redraws on a terminal (\r), and lines when stderr is a log file. */
#define CLI_METER_TTY_EVERY	0.1
#define CLI_METER_LOG_EVERY	1.0
#define MB			1e6

bool cli_use_color(const struct cli_out_args *a, int fd)
{
	const char *no_color = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	if (a->format != CLI_FORMAT_TEXT || a->color == CLI_COLOR_NEVER)
		return false;
	/* an explicit --color=always wins over NO_COLOR, which is about
	 * defaults (https://no-color.org) */
	if (a->color == CLI_COLOR_ALWAYS)
		return true;
	if (no_color && no_color[0])
		return false;
	if (term && !strcmp(term, "dumb"))
		return false;
	return isatty(fd) == 1;
}

static double monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_meter_init(struct cli_meter *m, const char *prog,
		    enum cli_progress mode, FILE *f, bool tty)
{
	memset(m, 0, sizeof(*m));
	m->prog = prog;
	m->f = f;
	m->tty = tty;
	m->force = mode == CLI_PROGRESS_FORCE;
	m->on = mode == CLI_PROGRESS_FORCE || (mode == CLI_PROGRESS_AUTO && tty);
	m->clock = monotonic;
}

void cli_meter_start(struct cli_meter *m, const char *label)
{
	m->label = !label || !strcmp(label, "-") ? "(standard input)" : label;
	m->start = m->last = m->clock();
	m->done = m->total = 0;
	m->width = 0;
	m->drawn = false;
}

/* A line that wraps cannot be redrawn with \r: on a terminal the meter
 * names the file by its last component, and is cut to the width. */
static const char *shown_label(const struct cli_meter *m)
{
	const char *slash = strrchr(m->label, '/');

	return m->tty && slash && slash[1] ? slash + 1 : m->label;
}

/* On a terminal the line is redrawn in place, padded over the last one. */
static void put_line(struct cli_meter *m, char *line, bool final)
{
	struct winsize ws;
	size_t n = strlen(line);

	if (m->tty) {
		if (ioctl(fileno(m->f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
		    n >= ws.ws_col) {
			n = ws.ws_col - 1u;
			line[n] = '\0';
		}
		fprintf(m->f, "\r%s%*s%s", line,
			m->width > n ? (int)(m->width - n) : 0, "",
			final ? "\n" : "");
		m->width = n;
	} else {
		fprintf(m->f, "%s\n", line);
	}
	fflush(m->f);
}

void cli_meter_update(void *arg, uint64_t done, uint64_t total)
{
	struct cli_meter *m = arg;
	double t, secs, rate;
	char line[256];

	if (!m->on)
		return;
	/* the snap layer calls once per 64 MiB of file: one clock read per
	 * call is nothing beside that */
	t = m->clock();
	m->done = done;
	m->total = total;
	secs = t - m->start;
	if (secs < CLI_METER_DELAY ||
	    (m->drawn && t - m->last < (m->tty ? CLI_METER_TTY_EVERY :
					    CLI_METER_LOG_EVERY)))
		return;
	rate = (double)done / secs;
	if (total >= done && total > 0) {
		unsigned long eta = rate > 0 ?
			(unsigned long)((double)(total - done) / rate + 0.999) : 0;

		snprintf(line, sizeof(line),
			 "%s: %s: %.1f of %.1f MB (%u%%), %.1f MB/s, ETA %lu:%02lu",
			 m->prog, shown_label(m), (double)done / MB, (double)total / MB,
			 (unsigned)(done * 100 / total), rate / MB, eta / 60,
			 eta % 60);
	} else {
		snprintf(line, sizeof(line), "%s: %s: %.1f MB, %.1f MB/s",
			 m->prog, shown_label(m), (double)done / MB, rate / MB);
	}
	put_line(m, line, false);
	m->drawn = true;
	m->last = t;
}

void cli_meter_finish(struct cli_meter *m, bool ok, uint64_t bytes)
{
	double secs;
	char line[256];

	if (!m->on)
		return;
	if (!ok) {
		/* the error line that follows starts a line of its own */
		if (m->tty && m->drawn) {
			fputc('\n', m->f);
			fflush(m->f);
		}
		m->drawn = false;
		return;
	}
	/* --progress always leaves one line saying what was read and how
	 * fast, even when the read was too quick for the meter */
	if (!m->drawn && !m->force)
		return;
	secs = m->clock() - m->start;
	snprintf(line, sizeof(line), "%s: %s: %.1f MB read in %.1f s (%.1f MB/s)",
		 m->prog, shown_label(m), (double)bytes / MB, secs,
		 secs > 0 ? (double)bytes / MB / secs : 0.0);
	put_line(m, line, true);
	m->drawn = false;
}

int cli_close_stdout(struct its_err *err)
{
	int e = 0;

	errno = 0;
	if (fflush(stdout) != 0)
		e = errno ? errno : EIO;
	else if (ferror(stdout))
		e = EIO;
	/* close(2) can report a write that failed late (NFS, full disks) */
	errno = 0;
	if (fclose(stdout) != 0 && !e && errno != EBADF)
		e = errno ? errno : EIO;
	if (!e)
		return 0;
	return its_err_set(err, -e, NULL, ITS_ERR_NO_OFFSET,
			   "error writing standard output: %s", strerror(e));
}
