/* its-fsck: will this VM's ITS restore, and if not, why? Read-only. */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "its/check.h"
#include "its/cli.h"
#include "its/repair.h"
#include "its/report.h"
#include "its/undo.h"

void (*argp_program_version_hook)(FILE *, struct argp_state *) = cli_version_hook;

enum {
	OPT_KERNEL = 0x100, OPT_STRICT, OPT_LIST, OPT_FIX,
	OPT_DRY_RUN, OPT_UNDO, OPT_UNDO_FILE, OPT_TEST_ABORT,
};

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Checking:", 1 },
	{ "no-change", 'n', NULL, 0, "open read-only and change nothing (the default)", 1 },
	{ "kernel", OPT_KERNEL, "X.Y[.Z]|upstream", 0, "predict the restore of this destination kernel (default: upstream)", 1 },
	{ "strict", OPT_STRICT, NULL, 0, "informational findings count as problems (exit 4)", 1 },
	{ NULL, 0, NULL, 0, "Repairing (every write is planned, judged, shown, backed up, re-checked):", 3 },
	{ "fix", OPT_FIX, "all", OPTION_ARG_OPTIONAL, "repair: safe repairs (asking for each on a terminal); =all adds the opt-in ones", 3 },
	{ "preen", 'p', NULL, 0, "apply the safe repairs without asking", 3 },
	{ "yes", 'y', NULL, 0, "apply every repair, opt-in ones too, without asking", 3 },
	{ "dry-run", OPT_DRY_RUN, NULL, 0, "show the repairs (GPA, file offset, old, new, why) and change nothing", 3 },
	{ "output", 'o', "OUT", 0, "write the repaired snapshot to OUT (and its undo file); the input is not touched", 3 },
	{ "undo-file", OPT_UNDO_FILE, "FILE", 0, "where to keep the old bytes (default SNAPSHOT.its-undo, with -o OUT.its-undo)", 3 },
	{ "undo", OPT_UNDO, "FILE", 0, "put back every byte FILE recorded into SNAPSHOT", 3 },
	{ "test-abort-after", OPT_TEST_ABORT, "N", OPTION_HIDDEN, "tests: die after N writes", 3 },
	{ NULL, 0, NULL, 0, "Output:", 2 },
	{ "list-problems", OPT_LIST, NULL, 0, "print the problem table and exit", 2 },
	{ NULL, 0, NULL, 0, NULL, 0 },
};

struct args {
	struct cli_snap_args snap;
	struct cli_out_args out;
	bool strict, list, dry_run;
	enum repair_mode mode;		/* 0: read-only */
	bool ask;			/* --fix: ask on a terminal */
	const char *kernel, *out_path, *undo, *undo_file;
	unsigned abort_after;
	struct cli_meter meter;		/* of each snapshot read */
};

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
	struct args *a = st->input;

	switch (key) {
	case ARGP_KEY_INIT:
		st->child_inputs[0] = &a->snap;
		st->child_inputs[1] = &a->out;
		break;
	case 'n': break;
	case OPT_KERNEL: a->kernel = arg; break;
	case OPT_STRICT: a->strict = true; break;
	case OPT_LIST:
		a->list = true;
		a->snap.no_snapshot_ok = true;
		break;
	case OPT_FIX:
		if (arg && strcmp(arg, "all"))
			argp_error(st, "--fix: '%s' is not 'all'", arg);
		a->mode = arg ? REPAIR_MODE_ALL : REPAIR_MODE_SAFE;
		a->ask = true;
		break;
	case 'p':
		a->mode = REPAIR_MODE_SAFE;
		break;
	case 'y':
		a->mode = REPAIR_MODE_ALL;
		break;
	case OPT_DRY_RUN: a->dry_run = true; break;
	case 'o': a->out_path = arg; break;
	case OPT_UNDO_FILE: a->undo_file = arg; break;
	case OPT_UNDO: a->undo = arg; break;
	case OPT_TEST_ABORT:
		/* 0: die with the undo file complete, before the first write */
		a->abort_after = (unsigned)cli_number(st, "--test-abort-after", arg, 1000000);
		if (!a->abort_after)
			a->abort_after = REPAIR_ABORT_NO_WRITE;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = {
	options, parse_opt, "[SNAPSHOT]",
	"Check the GICv3 ITS tables of an arm64 VM snapshot (QEMU migration "
	"stream, virsh save image, dump-guest-memory ELF core, raw RAM image): "
	"say whether KVM's KVM_DEV_ARM_ITS_RESTORE_TABLES will succeed and, if "
	"not, where and with which errno, and list every problem found. "
	"Read-only unless a repair option is given."
	"\vExit status (fsck(8), OR-ed): 0 no problems; 1 problems corrected; "
	"4 problems left (errors or warnings; info too with --strict); "
	"8 operational error (nothing written, or the undo applied); 16 usage "
	"error; 32 cancelled by the user.",
	cli_children, NULL, NULL,
};

/* Ask about each planned write on a terminal (--fix without -y/-p), as
 * e2fsck does; returns how many the user declined. */
static size_t ask(struct repair_plan *p)
{
	size_t kept = 0, declined = 0;
	char line[64];

	for (size_t i = 0; i < p->nr; i++) {
		const struct repair_write *w = &p->v[i];

		if (w->kind == REPAIR_RAM)
			fprintf(stderr, "%s at GPA 0x%llx: %s. Fix? [y/N] ",
				problem_table[w->problem].name,
				(unsigned long long)w->gpa, w->why);
		else
			fprintf(stderr, "%s: %s. Fix? [y/N] ",
				problem_table[w->problem].name, w->why);
		if (fgets(line, sizeof(line), stdin) && (line[0] == 'y' || line[0] == 'Y'))
			p->v[kept++] = *w;
		else
			declined++;
	}
	p->nr = kept;
	return declined;
}

/* Open and check a snapshot at path (the input, or the repaired copy). */
static int check_path(struct args *a, const char *path, struct cli_opened *op,
		      struct check_ctx *cx, struct check_result *cr, bool *usage,
		      struct its_err *err)
{
	const char *saved = a->snap.path;
	int rc;

	a->snap.path = path;
	cli_meter_start(&a->meter, path);
	rc = cli_open(&a->snap, op, usage, err);
	cli_meter_finish(&a->meter, rc == 0, op->snap ? op->snap->file_size : 0);
	a->snap.path = saved;
	if (rc < 0)
		return rc;
	cx->snap = op->snap;
	cx->mem = op->snap->mem;
	cx->img = op->img;
	cx->nr_vcpus = op->snap->nr_vcpus > 0 ? op->snap->nr_vcpus : (int)op->img->nr_rd;
	return check_run(cx, cr, err);
}

/* --format=dot|map: the checked snapshot drawn, findings highlighted; the
 * exit status is the one the text report would give. -1 on failure. */
static int fsck_view(const struct args *a, const struct cli_opened *op,
		     const struct check_ctx *cx, const struct check_result *cr,
		     struct its_err *err)
{
	struct view_opts vo = { .cx = cx, .cr = cr };
	struct fsck_summary sum;
	struct view *v;
	int rc = report_view_new(op->snap, op->img, &vo, &v, err);

	if (rc == 0)
		rc = a->out.format == CLI_FORMAT_DOT ? report_dot(stdout, v, err) :
						       report_map(stdout, v, err);
	report_view_free(v);
	if (rc < 0)
		return -1;
	report_fsck_counts(cr, &sum);
	return (sum.errors || sum.warnings || sum.restore_fails ||
		(a->strict && sum.info)) ? FSCK_EXIT_UNCORRECTED : FSCK_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct args a;
	struct cli_opened op = { 0 }, op2 = { 0 };
	struct check_ctx cx, cx2;
	struct check_result cr = { 0 }, cr2 = { 0 };
	struct repair_plan plan;
	struct fsck_opts fo = { 0 };
	struct fsck_summary sum;
	struct its_err err;
	struct out *o = NULL;
	int64_t *offs = NULL;
	const char **not_written = NULL;
	char (*why_not)[512] = NULL;
	size_t declined = 0, written = 0;
	bool usage = false, stdout_failed = false;
	int rc;
	int status = FSCK_EXIT_ERROR;

	memset(&a, 0, sizeof(a));
	memset(&cx, 0, sizeof(cx));
	repair_plan_init(&plan);
	argp_err_exit_status = FSCK_EXIT_USAGE;
	argp_parse(&argp, argc, argv, 0, NULL, &a);
	its_err_clear(&err);
	cli_meter_init(&a.meter, "its-fsck", a.out.progress, stderr, isatty(2) == 1);
	a.snap.progress = cli_meter_update;
	a.snap.progress_arg = &a.meter;
	if (a.out.format == CLI_FORMAT_DOT || a.out.format == CLI_FORMAT_MAP) {
		/* the graph and the map draw the snapshot as checked: the
		 * problem table, an undo and repairs have nothing to draw */
		const char *what = a.list ? "--list-problems" : a.undo ? "--undo" :
				   (a.mode || a.dry_run) ? "repairs" : NULL;

		if (what) {
			its_err_set(&err, -EINVAL, NULL, ITS_ERR_NO_OFFSET,
				    "--format=%s draws the snapshot as checked and cannot show %s: use --format=text or json",
				    a.out.format == CLI_FORMAT_DOT ? "dot" : "map", what);
			status = FSCK_EXIT_USAGE;
			goto fail;
		}
	}

	if (a.list) {
		o = out_new(a.out.format == CLI_FORMAT_JSON ? OUT_JSON : OUT_TEXT, stdout, a.out.pretty);
		if (!o) {
			its_err_set(&err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET, "out of memory");
			goto fail;
		}
		report_problem_table(o);
		if (out_finish_err(o, "standard output", &err) < 0) {
			if (err.code != -EFBIG && err.code != -ENOMEM) {
				stdout_failed = true;
				a.out.format = CLI_FORMAT_TEXT;
			}
			goto fail;
		}
		status = FSCK_EXIT_OK;
		goto out;
	}
	if (a.undo) {
		if (!strcmp(a.snap.path, "-")) {
			its_err_set(&err, -EINVAL, NULL, ITS_ERR_NO_OFFSET,
				    "--undo needs the snapshot's file name");
			status = FSCK_EXIT_USAGE;
			goto fail;
		}
		rc = repair_undo(a.undo, a.snap.path, &err);
		if (rc < 0)
			goto fail;
		if (rc == REPAIR_UNDO_NOTHING)
			fprintf(stderr, "its-fsck: %s: %s\n", a.snap.path, err.msg);
		else
			fprintf(stderr, "its-fsck: %s: every byte recorded in %s is back\n",
				a.snap.path, a.undo);
		status = FSCK_EXIT_OK;
		goto out;
	}
	if (a.dry_run && !a.mode)
		a.mode = REPAIR_MODE_SAFE;
	if (a.kernel) {
		if (kernel_profile_parse(a.kernel, &cx.profile, &err) < 0) {
			status = FSCK_EXIT_USAGE;
			goto fail;
		}
	} else {
		kernel_profile_upstream(&cx.profile);
	}
	cx2 = cx;
	if (check_path(&a, a.snap.path, &op, &cx, &cr, &usage, &err) < 0) {
		if (usage)
			status = FSCK_EXIT_USAGE;
		goto fail;
	}
	if (a.out.format == CLI_FORMAT_DOT || a.out.format == CLI_FORMAT_MAP) {
		status = fsck_view(&a, &op, &cx, &cr, &err);
		if (status < 0) {
			stdout_failed = err.code == -EIO;
			status = FSCK_EXIT_ERROR;
			goto fail;
		}
		goto out;
	}
	if (a.mode) {
		if (repair_plan_build(&cx, &cr, a.mode, &plan, &err) < 0)
			goto fail;
		/* --fix asks on a terminal; without one it keeps the safe repairs */
		if (a.ask && !a.dry_run && plan.nr) {
			if (isatty(0) && isatty(2)) {
				declined = ask(&plan);
			} else if (a.mode == REPAIR_MODE_ALL) {
				size_t kept = 0;

				for (size_t i = 0; i < plan.nr; i++)
					if (plan.v[i].level == REPAIR_SAFE)
						plan.v[kept++] = plan.v[i];
				plan.nr = kept;
			}
		}
		offs = calloc(plan.nr + 1, sizeof(*offs));
		not_written = calloc(plan.nr + 1, sizeof(*not_written));
		why_not = calloc(plan.nr + 1, sizeof(*why_not));
		if (!offs || !not_written || !why_not) {
			its_err_set(&err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < plan.nr; i++) {
			uint64_t off[1];
			size_t n = 0;
			struct its_err le;
			int rc = repair_locate(op.snap, &plan.v[i], off, 1, &n, &le);

			offs[i] = rc == 0 && n ? (int64_t)off[0] : -1;
			if (rc < 0) {
				memcpy(why_not[i], le.msg, sizeof(why_not[i]));
				not_written[i] = why_not[i];
			} else if (n == 0 && !a.out_path) {
				/* a ZERO record: only a copy can re-encode it */
				snprintf(why_not[i], sizeof(why_not[i]),
					 "the page is a ZERO record in the stream: write a repaired copy with -o OUT, which re-encodes it");
				not_written[i] = why_not[i];
			}
		}
		/* what cannot be written (a core's registers, a page the
		 * stream encodes as zero) is shown, then left out */
		if (!a.dry_run) {
			struct repair_plan todo;

			repair_plan_init(&todo);
			for (size_t i = 0; i < plan.nr; i++)
				if (!not_written[i] && repair_plan_add(&todo, &plan.v[i]) < 0) {
					repair_plan_release(&todo);
					its_err_set(&err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET, "out of memory");
					goto fail;
				}
			if (todo.nr) {
				struct repair_apply_opts ao = { a.undo_file, a.out_path, a.abort_after };

				if (repair_apply(op.snap, &todo, &ao, &err) < 0) {
					repair_plan_release(&todo);
					goto fail;
				}
				written = todo.nr;
				if (check_path(&a, a.out_path ? a.out_path : a.snap.path, &op2, &cx2,
					       &cr2, &usage, &err) < 0) {
					repair_plan_release(&todo);
					goto fail;
				}
				fo.after_cx = &cx2;
				fo.after_cr = &cr2;
			} else if (a.out_path) {
				fprintf(stderr, "its-fsck: nothing to repair: %s not written\n", a.out_path);
			}
			repair_plan_release(&todo);
		}
		fo.plan = &plan;
		fo.file_offsets = offs;
		fo.not_written = not_written;
		fo.dry_run = a.dry_run;
	}
	o = out_new(a.out.format == CLI_FORMAT_JSON ? OUT_JSON : OUT_TEXT, stdout, a.out.pretty);
	if (!o) {
		its_err_set(&err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET, "out of memory");
		goto fail;
	}
	out_set_color(o, cli_use_color(&a.out, 1));
	fo.strict = a.strict;
	report_fsck(o, &cx, &cr, &fo, &sum);
	if (out_finish_err(o, "standard output", &err) < 0) {
		/* a document over the JSON limit was not written: the
		 * error can still go out as JSON */
		if (err.code != -EFBIG && err.code != -ENOMEM) {
			stdout_failed = true;
			a.out.format = CLI_FORMAT_TEXT;
		}
		/* repairs written stay said in the status */
		status = FSCK_EXIT_ERROR | (written ? FSCK_EXIT_CORRECTED : 0);
		goto fail;
	}
	if (fo.after_cr) {
		status = FSCK_EXIT_CORRECTED;
		if (sum.after_errors || sum.after_warnings || sum.after_restore_fails ||
		    (a.strict && sum.after_info))
			status |= FSCK_EXIT_UNCORRECTED;
	} else {
		status = (sum.errors || sum.warnings || sum.restore_fails ||
			  (a.strict && sum.info)) ? FSCK_EXIT_UNCORRECTED : FSCK_EXIT_OK;
	}
	if (declined && !written)
		status |= FSCK_EXIT_CANCELLED;
	goto out;
fail:
	cli_error("its-fsck", a.out.format == CLI_FORMAT_JSON, &err);
out:
	out_free(o);
	free(offs);
	free(not_written);
	free(why_not);
	repair_plan_release(&plan);
	check_result_release(&cr2);
	cli_close(&op2, NULL);
	check_result_release(&cr);
	cli_close(&op, &a.snap);
	if (cli_close_stdout(&err) < 0 && !stdout_failed) {
		cli_error("its-fsck", false, &err);
		status = FSCK_EXIT_ERROR | (written ? FSCK_EXIT_CORRECTED : 0);
	}
	return status;
}
