/* its-dump: decode the GICv3 ITS tables of a VM snapshot. */
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "its/cli.h"
#include "its/report.h"

#define MAX_LIST 4096

void (*argp_program_version_hook)(FILE *, struct argp_state *) = cli_version_hook;

enum { OPT_SECTIONS = 0x100 };

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Output:", 1 },
	{ "all", 'a', NULL, 0, "also show non-zero invalid entries", 1 },
	{ "device", 'd', "ID", 0, "only this DeviceID (repeatable; 0x... or decimal)", 1 },
	{ "sections", OPT_SECTIONS, NULL, 0, "list a migration stream's sections and records, with offsets and sizes", 1 },
	{ NULL, 0, NULL, 0, NULL, 0 },
};

struct args {
	struct cli_snap_args snap;
	struct cli_out_args out;
	bool all, sections;
	uint32_t devices[MAX_LIST];
	size_t nr_devices;
};

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
	struct args *a = st->input;

	switch (key) {
	case ARGP_KEY_INIT:
		st->child_inputs[0] = &a->snap;
		st->child_inputs[1] = &a->out;
		break;
	case 'a': a->all = true; break;
	case OPT_SECTIONS: a->sections = true; break;
	case 'd':
		if (a->nr_devices >= MAX_LIST)
			argp_error(st, "too many --device options");
		a->devices[a->nr_devices++] =
			(uint32_t)cli_number(st, "--device", arg, UINT32_MAX);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = {
	options, parse_opt, "[SNAPSHOT]",
	"Decode the GICv3 ITS tables (collections, devices, events) of an arm64 "
	"VM snapshot: a QEMU migration stream, a virsh save image, a QEMU "
	"dump-guest-memory ELF core, or a raw RAM image. Without SNAPSHOT, "
	"standard input is read if it is a file."
	"\vExit status: 0 all decoded; 1 decoded, but some entries are "
	"unreadable (absent memory) or flagged; 8 the snapshot cannot be read; "
	"16 usage error.",
	cli_children, NULL, NULL,
};

/* --format=dot|map: one view, drawn by its renderer; the exit status is
 * the one the text report would give. -1 on failure (err filled). */
static int dump_view(const struct args *a, const struct cli_opened *op,
		     struct its_err *err)
{
	struct view_opts vo = { .all = a->all, .nr_devices = a->nr_devices,
				.devices = a->nr_devices ? a->devices : NULL };
	struct dump_summary sum;
	struct view *v;
	int rc = report_view_new(op->snap, op->img, &vo, &v, err);

	if (rc == 0)
		rc = a->out.format == CLI_FORMAT_DOT ? report_dot(stdout, v, err) :
						       report_map(stdout, v, err);
	if (rc == 0)
		report_view_dump_summary(v, &sum);
	report_view_free(v);
	if (rc < 0)
		return -1;
	return (sum.unreadable || sum.flagged) ? DUMP_EXIT_PARTIAL : DUMP_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct args a;
	struct cli_opened op = { 0 };
	struct dump_opts dopts = { 0 };
	struct dump_summary sum;
	struct its_err err;
	struct out *o = NULL;
	struct cli_meter meter;
	bool usage, opened, stdout_failed = false;
	int status = DUMP_EXIT_ERROR;

	memset(&a, 0, sizeof(a));
	argp_err_exit_status = DUMP_EXIT_USAGE;
	argp_parse(&argp, argc, argv, 0, NULL, &a);
	its_err_clear(&err);
	if ((a.out.format == CLI_FORMAT_DOT || a.out.format == CLI_FORMAT_MAP) &&
	    a.sections) {
		its_err_set(&err, -EINVAL, NULL, ITS_ERR_NO_OFFSET,
			    "--sections lists a stream's records, which --format=%s does not show: use --format=text or json",
			    a.out.format == CLI_FORMAT_DOT ? "dot" : "map");
		status = DUMP_EXIT_USAGE;
		goto fail;
	}

	cli_meter_init(&meter, "its-dump", a.out.progress, stderr, isatty(2) == 1);
	a.snap.progress = cli_meter_update;
	a.snap.progress_arg = &meter;
	cli_meter_start(&meter, a.snap.path);
	opened = cli_open(&a.snap, &op, &usage, &err) == 0;
	cli_meter_finish(&meter, opened, op.snap ? op.snap->file_size : 0);
	if (!opened) {
		if (usage)
			status = DUMP_EXIT_USAGE;
		goto fail;
	}
	if (a.out.format == CLI_FORMAT_DOT || a.out.format == CLI_FORMAT_MAP) {
		status = dump_view(&a, &op, &err);
		if (status < 0) {
			stdout_failed = err.code == -EIO;
			status = DUMP_EXIT_ERROR;
			goto fail;
		}
		goto out;
	}
	o = out_new(a.out.format == CLI_FORMAT_JSON ? OUT_JSON : OUT_TEXT, stdout, a.out.pretty);
	if (!o) {
		its_err_set(&err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET, "out of memory");
		goto fail;
	}
	out_set_color(o, cli_use_color(&a.out, 1));
	dopts.all = a.all;
	dopts.sections = a.sections;
	dopts.devices = a.nr_devices ? a.devices : NULL;
	dopts.nr_devices = a.nr_devices;
	dopts.regs_source = a.snap.its_regs;
	report_dump(o, op.snap, op.img, &dopts, &sum);
	if (out_finish_err(o, "standard output", &err) < 0) {
		/* a document over the JSON limit was not written: the
		 * error can still go out as JSON */
		if (err.code != -EFBIG && err.code != -ENOMEM) {
			stdout_failed = true;
			a.out.format = CLI_FORMAT_TEXT;
		}
		goto fail;
	}
	status = (sum.unreadable || sum.flagged) ? DUMP_EXIT_PARTIAL :
						   DUMP_EXIT_OK;
	goto out;
fail:
	cli_error("its-dump", a.out.format == CLI_FORMAT_JSON, &err);
out:
	out_free(o);
	cli_close(&op, &a.snap);
	if (cli_close_stdout(&err) < 0 && !stdout_failed) {
		cli_error("its-dump", false, &err);
		status = DUMP_EXIT_ERROR;
	}
	return status;
}
