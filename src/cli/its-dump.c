/* its-dump: decode the GICv3 ITS tables of a VM snapshot. */
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "its/cli.h"
#include "its/report.h"

#ifndef ITS_VERSION
#define ITS_VERSION "unknown"
#endif

#define MAX_LIST 4096

const char *argp_program_version = "its-dump (its-tools) " ITS_VERSION;

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

int main(int argc, char **argv)
{
	struct args a;
	struct cli_opened op = { 0 };
	struct dump_opts dopts = { 0 };
	struct dump_summary sum;
	struct its_err err;
	struct out *o = NULL;
	bool usage;
	int status = DUMP_EXIT_ERROR;

	memset(&a, 0, sizeof(a));
	argp_err_exit_status = DUMP_EXIT_USAGE;
	argp_parse(&argp, argc, argv, 0, NULL, &a);
	its_err_clear(&err);
	if (a.out.format == CLI_FORMAT_DOT || a.out.format == CLI_FORMAT_MAP) {
		its_err_set(&err, -ENOTSUP, NULL, ITS_ERR_NO_OFFSET,
			    "not supported yet: --format=%s",
			    a.out.format == CLI_FORMAT_DOT ? "dot" : "map");
		status = DUMP_EXIT_USAGE;
		goto fail;
	}

	if (cli_open(&a.snap, &op, &usage, &err) < 0) {
		if (usage)
			status = DUMP_EXIT_USAGE;
		goto fail;
	}
	o = out_new(a.out.format == CLI_FORMAT_JSON ? OUT_JSON : OUT_TEXT, stdout, a.out.pretty);
	if (!o) {
		its_err_set(&err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET, "out of memory");
		goto fail;
	}
	dopts.all = a.all;
	dopts.sections = a.sections;
	dopts.devices = a.nr_devices ? a.devices : NULL;
	dopts.nr_devices = a.nr_devices;
	dopts.regs_source = a.snap.its_regs;
	report_dump(o, op.snap, op.img, &dopts, &sum);
	if (out_finish(o) < 0) {
		its_err_set(&err, -EIO, NULL, ITS_ERR_NO_OFFSET,
			    "error writing the output");
		a.out.format = CLI_FORMAT_TEXT;
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
	return status;
}
