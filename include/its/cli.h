/* Shared by the command-line programs: the options that say how to read a
 * snapshot (registers, layout, RAM bases), opening and walking it, exit
 * statuses, and error printing. Only src/cli/ includes this. */
#ifndef ITS_CLI_H
#define ITS_CLI_H

#include <argp.h>
#include <stdbool.h>
#include <stdint.h>

#include "its/err.h"
#include "its/regset.h"
#include "its/snapshot.h"
#include "its/walk.h"

/* its-dump exit statuses */
#define DUMP_EXIT_OK		0
#define DUMP_EXIT_PARTIAL	1	/* printed, but entries unreadable or flagged */
#define DUMP_EXIT_ERROR		8	/* the snapshot cannot be read */
#define DUMP_EXIT_USAGE		16

/* fsck(8) exit statuses, OR-ed */
#define FSCK_EXIT_OK		0
#define FSCK_EXIT_CORRECTED	1
#define FSCK_EXIT_UNCORRECTED	4
#define FSCK_EXIT_ERROR		8
#define FSCK_EXIT_USAGE		16
#define FSCK_EXIT_CANCELLED	32

#define CLI_MAX_RAM_BASES 64

/* What the snapshot options collect (the argp child below fills it). */
struct cli_snap_args {
	const char *path;		/* SNAPSHOT, "-" for standard input */
	const char *layout;		/* auto|kvm|tcg, NULL = auto */
	struct snap_ram_base ram_bases[CLI_MAX_RAM_BASES];
	char *ram_base_names[CLI_MAX_RAM_BASES];
	size_t nr_ram_bases;
	const char *its_regs;
	struct its_regset cli_regs;	/* ITS 0 and per-CPU values from options */
	bool propbaser_all;
	uint64_t propbaser;
	bool no_snapshot_ok;		/* set by the program: e.g. --list-problems */
	snap_progress_fn progress;	/* set by the program: the meter */
	void *progress_arg;
};

/* How the programs print: the format, colour, progress meter. */
enum cli_format { CLI_FORMAT_TEXT, CLI_FORMAT_JSON, CLI_FORMAT_DOT, CLI_FORMAT_MAP };
enum cli_color { CLI_COLOR_AUTO, CLI_COLOR_ALWAYS, CLI_COLOR_NEVER };
enum cli_progress { CLI_PROGRESS_AUTO, CLI_PROGRESS_QUIET, CLI_PROGRESS_FORCE };

struct cli_out_args {
	enum cli_format format;		/* -j = --format=json */
	bool pretty;			/* --pretty: indented JSON */
	enum cli_color color;		/* --color[=WHEN] */
	enum cli_progress progress;	/* -q, --progress */
};

/* argp child: -j/--json, --pretty, --format, --color, -q/--quiet,
 * --progress. Its input is a struct cli_out_args. */
extern const struct argp cli_out_argp;

/* argp child: --layout, --ram-base, --its-regs, --baser, --ctlr, --iidr,
 * --cbaser, --cwriter, --creadr, --propbaser, --pendbaser; and the
 * SNAPSHOT argument (standard input when it is a file). Its input is a
 * struct cli_snap_args. */
extern const struct argp cli_snap_argp;
/* The children a program's argp names: the snapshot options (input 0, a
 * struct cli_snap_args) and the output options (input 1, a struct
 * cli_out_args). */
extern const struct argp_child cli_children[];

/* A snapshot opened, its registers gathered, its tables walked. */
struct cli_opened {
	struct snapshot *snap;
	struct its_regset regs;
	struct its_image *img;
};

/* Open, gather registers (snapshot, then --its-regs, then options), walk.
 * On failure returns the exit status to use (*usage set for usage-type
 * failures such as a core with no registers) with err filled. */
int cli_open(struct cli_snap_args *a, struct cli_opened *o, bool *usage,
	     struct its_err *err);
void cli_close(struct cli_opened *o, struct cli_snap_args *a);

/* One line on stderr ("prog: file: offset 0x..: message"); in JSON mode the
 * same as {"error": {...}} on stdout. */
void cli_error(const char *prog, bool json, const struct its_err *err);

/* 0x... or decimal, at most max; argp_error on anything else. */
uint64_t cli_number(struct argp_state *st, const char *what, const char *s,
		    uint64_t max);

/* ---- the terminal (src/cli/progress.c) ---- */

/* Colour text on fd (stdout)? --color=always: yes; JSON, dot, map or
 * --color=never: no; auto: when fd is a terminal, unless NO_COLOR is set
 * and not empty or TERM is "dumb". */
bool cli_use_color(const struct cli_out_args *a, int fd);

/* The progress meter of a snapshot read, on stderr: the first draw after
 * a second; then on a terminal one line redrawn with \r at most 10 times
 * a second (the file named by its last path component, the line cut to
 * the width), elsewhere (--progress) a line at most once a second. -q:
 * nothing. */
struct cli_meter {
	FILE *f;
	const char *prog, *label;
	bool on, tty, force;
	double (*clock)(void);		/* seconds; tests set their own */
	double start, last;		/* the read's start, the last draw */
	uint64_t done, total;
	size_t width;			/* of the last line drawn (terminal) */
	bool drawn;
};

void cli_meter_init(struct cli_meter *m, const char *prog,
		    enum cli_progress mode, FILE *f, bool tty);
/* A read of label (the snapshot's path) begins. */
void cli_meter_start(struct cli_meter *m, const char *label);
/* A snap_progress_fn; arg is the struct cli_meter. */
void cli_meter_update(void *arg, uint64_t done, uint64_t total);
/* The read ended: when it succeeded, a last line "N MB read in S s" (if
 * the meter was shown, or always with --progress); when it failed, the
 * meter's line is ended so that the error starts a line of its own. */
void cli_meter_finish(struct cli_meter *m, bool ok, uint64_t bytes);

/* At exit, as coreutils' close_stdout: flush and close standard output.
 * 0, or the negative errno with err "error writing standard output: ...". */
int cli_close_stdout(struct its_err *err);

/* argp_program_version_hook of both programs (src/cli/version.c): the
 * version and the json-c, libelf and glibc versions. */
void cli_version_hook(FILE *stream, struct argp_state *state);

#endif
