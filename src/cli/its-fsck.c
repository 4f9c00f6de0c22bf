/* its-fsck: will this VM's ITS restore, and if not, why? Read-only. */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its/check.h"
#include "its/cli.h"
#include "its/report.h"

#ifndef ITS_VERSION
#define ITS_VERSION "unknown"
#endif

const char *argp_program_version = "its-fsck (its-tools) " ITS_VERSION;

enum { OPT_PRETTY = 0x100, OPT_KERNEL, OPT_STRICT, OPT_LIST, OPT_FIX };

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Checking:", 1 },
	{ "no-change", 'n', NULL, 0, "open read-only and change nothing (the default)", 1 },
	{ "kernel", OPT_KERNEL, "X.Y[.Z]|upstream", 0, "predict the restore of this destination kernel (default: upstream)", 1 },
	{ "strict", OPT_STRICT, NULL, 0, "informational findings count as problems (exit 4)", 1 },
	{ "fix", OPT_FIX, "all", OPTION_ARG_OPTIONAL, "repair (not supported yet)", 1 },
	{ "preen", 'p', NULL, 0, "repair safe problems (not supported yet)", 1 },
	{ "yes", 'y', NULL, 0, "repair everything repairable (not supported yet)", 1 },
	{ NULL, 0, NULL, 0, "Output:", 2 },
	{ "json", 'j', NULL, 0, "JSON output (compact)", 2 },
	{ "pretty", OPT_PRETTY, NULL, 0, "indented JSON output (implies --json)", 2 },
	{ "list-problems", OPT_LIST, NULL, 0, "print the problem table and exit", 2 },
	{ NULL, 0, NULL, 0, NULL, 0 },
};

struct args {
	struct cli_snap_args snap;
	bool json, pretty, strict, list, repair;
	const char *kernel;
};

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
	struct args *a = st->input;

	switch (key) {
	case ARGP_KEY_INIT:
		st->child_inputs[0] = &a->snap;
		break;
	case 'n': break;
	case 'j': a->json = true; break;
	case OPT_PRETTY: a->json = a->pretty = true; break;
	case OPT_KERNEL: a->kernel = arg; break;
	case OPT_STRICT: a->strict = true; break;
	case OPT_LIST:
		a->list = true;
		a->snap.no_snapshot_ok = true;
		break;
	case OPT_FIX:
		if (arg && strcmp(arg, "all"))
			argp_error(st, "--fix: '%s' is not 'all'", arg);
		a->repair = true;
		break;
	case 'p':
	case 'y':
		a->repair = true;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child children[] = {
	{ &cli_snap_argp, 0, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};

static const struct argp argp = {
	options, parse_opt, "[SNAPSHOT]",
	"Check the GICv3 ITS tables of an arm64 VM snapshot (QEMU migration "
	"stream, virsh save image, dump-guest-memory ELF core, raw RAM image): "
	"say whether KVM's KVM_DEV_ARM_ITS_RESTORE_TABLES will succeed and, if "
	"not, where and with which errno, and list every problem found. "
	"Read-only."
	"\vExit status (fsck(8)): 0 no problems; 4 problems found (errors or "
	"warnings; info too with --strict); 8 operational error; 16 usage "
	"error.",
	children, NULL, NULL,
};

int main(int argc, char **argv)
{
	struct args a;
	struct cli_opened op = { 0 };
	struct check_ctx cx;
	struct check_result cr = { 0 };
	struct fsck_opts fo = { 0 };
	struct fsck_summary sum;
	struct its_err err;
	struct out *o = NULL;
	bool usage = false;
	int status = FSCK_EXIT_ERROR;

	memset(&a, 0, sizeof(a));
	memset(&cx, 0, sizeof(cx));
	argp_err_exit_status = FSCK_EXIT_USAGE;
	argp_parse(&argp, argc, argv, 0, NULL, &a);
	its_err_clear(&err);

	if (a.list) {
		o = out_new(a.json ? OUT_JSON : OUT_TEXT, stdout, a.pretty);
		if (!o)
			return FSCK_EXIT_ERROR;
		report_problem_table(o);
		status = out_finish(o) < 0 ? FSCK_EXIT_ERROR : FSCK_EXIT_OK;
		out_free(o);
		return status;
	}
	if (a.repair) {
		its_err_set(&err, -ENOTSUP, NULL, ITS_ERR_NO_OFFSET,
			    "not supported yet: repairs (--fix, -p, -y); its-fsck checks read-only");
		goto fail;
	}
	if (a.kernel) {
		if (kernel_profile_parse(a.kernel, &cx.profile, &err) < 0) {
			status = FSCK_EXIT_USAGE;
			goto fail;
		}
	} else {
		kernel_profile_upstream(&cx.profile);
	}
	if (cli_open(&a.snap, &op, &usage, &err) < 0) {
		if (usage)
			status = FSCK_EXIT_USAGE;
		goto fail;
	}
	cx.snap = op.snap;
	cx.mem = op.snap->mem;
	cx.img = op.img;
	cx.nr_vcpus = op.snap->nr_vcpus > 0 ? op.snap->nr_vcpus : (int)op.img->nr_rd;
	if (check_run(&cx, &cr, &err) < 0)
		goto fail;
	o = out_new(a.json ? OUT_JSON : OUT_TEXT, stdout, a.pretty);
	if (!o) {
		its_err_set(&err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET, "out of memory");
		goto fail;
	}
	fo.strict = a.strict;
	report_fsck(o, &cx, &cr, &fo, &sum);
	if (out_finish(o) < 0) {
		its_err_set(&err, -EIO, NULL, ITS_ERR_NO_OFFSET,
			    "error writing the output");
		a.json = false;
		goto fail;
	}
	status = (sum.errors || sum.warnings || sum.restore_fails ||
		  (a.strict && sum.info)) ? FSCK_EXIT_UNCORRECTED : FSCK_EXIT_OK;
	goto out;
fail:
	cli_error("its-fsck", a.json, &err);
out:
	out_free(o);
	check_result_release(&cr);
	cli_close(&op, &a.snap);
	return status;
}
