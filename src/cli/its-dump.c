/* its-dump: decode the GICv3 ITS tables of a VM snapshot. */
#include <argp.h>
#include <errno.h>
#include <gelf.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "its/cli.h"
#include "its/layout.h"
#include "its/regs_file.h"
#include "its/report.h"
#include "its/snapshot.h"
#include "its/walk.h"

#ifndef ITS_VERSION
#define ITS_VERSION "unknown"
#endif

#define MAX_LIST 4096

const char *argp_program_version = "its-dump (its-tools) " ITS_VERSION;
const char *argp_program_bug_address = NULL;

enum {
	OPT_PRETTY = 0x100, OPT_LAYOUT, OPT_RAM_BASE, OPT_ITS_REGS, OPT_BASER,
	OPT_CTLR, OPT_IIDR, OPT_CBASER, OPT_CWRITER, OPT_CREADR, OPT_PROPBASER,
	OPT_PENDBASER, OPT_SECTIONS,
};

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Output:", 1 },
	{ "json", 'j', NULL, 0, "JSON output (compact)", 1 },
	{ "pretty", OPT_PRETTY, NULL, 0, "indented JSON output (implies --json)", 1 },
	{ "all", 'a', NULL, 0, "also show non-zero invalid entries", 1 },
	{ "device", 'd', "ID", 0, "only this DeviceID (repeatable; 0x... or decimal)", 1 },
	{ "sections", OPT_SECTIONS, NULL, 0, "list a migration stream's sections and records, with offsets and sizes", 1 },
	{ NULL, 0, NULL, 0, "Decoding:", 2 },
	{ "layout", OPT_LAYOUT, "auto|kvm|tcg", 0, "table format (default auto: from GITS_IIDR and entry shapes)", 2 },
	{ "ram-base", OPT_RAM_BASE, "[NAME=]GPA", 0, "GPA of a raw RAM image, or of a stream's RAM block NAME (repeatable)", 2 },
	{ NULL, 0, NULL, 0, "Registers (streams carry them; ELF cores and raw images do not; these override):", 3 },
	{ "its-regs", OPT_ITS_REGS, "FILE", 0, "registers from an its-dump --json document or a registers object", 3 },
	{ "baser", OPT_BASER, "N=VALUE", 0, "GITS_BASER<N> (repeatable)", 3 },
	{ "ctlr", OPT_CTLR, "VALUE", 0, "GITS_CTLR", 3 },
	{ "iidr", OPT_IIDR, "VALUE", 0, "GITS_IIDR (0x4b00043b: KVM)", 3 },
	{ "cbaser", OPT_CBASER, "VALUE", 0, "GITS_CBASER", 3 },
	{ "cwriter", OPT_CWRITER, "VALUE", 0, "GITS_CWRITER", 3 },
	{ "creadr", OPT_CREADR, "VALUE", 0, "GITS_CREADR", 3 },
	{ "propbaser", OPT_PROPBASER, "VALUE", 0, "GICR_PROPBASER (every vCPU)", 3 },
	{ "pendbaser", OPT_PENDBASER, "CPU=VALUE", 0, "GICR_PENDBASER of one vCPU (repeatable)", 3 },
	{ NULL, 0, NULL, 0, NULL, 0 },
};

struct args {
	const char *path;
	bool json, pretty, all, sections;
	uint32_t devices[MAX_LIST];
	size_t nr_devices;
	const char *layout;
	struct snap_ram_base ram_bases[64];
	char *ram_base_names[64];
	size_t nr_ram_bases;
	const char *its_regs;
	struct its_regset cli_regs;	/* ITS 0 and per-CPU values from options */
	bool propbaser_all;
	uint64_t propbaser;
};

static int parse_value(struct argp_state *st, const char *what, const char *s,
		       uint64_t max, uint64_t *v)
{
	if (its_parse_u64(s, max, v) < 0)
		argp_error(st, "%s: '%s' is not a number%s", what, s,
			   max == UINT32_MAX ? " below 2^32" : "");
	return 0;
}

/* "N=VALUE" */
static void parse_pair(struct argp_state *st, const char *what, const char *arg,
		       uint64_t max_key, uint64_t *key, uint64_t *val)
{
	char buf[128];
	char *eq;

	snprintf(buf, sizeof(buf), "%s", arg);
	eq = strchr(buf, '=');
	if (!eq)
		argp_error(st, "%s: expected N=VALUE, got '%s'", what, arg);
	*eq = '\0';
	if (its_parse_u64(buf, max_key, key) < 0)
		argp_error(st, "%s: '%s' is not a valid index (0..%llu)", what,
			   buf, (unsigned long long)max_key);
	parse_value(st, what, eq + 1, UINT64_MAX, val);
}

static struct its_regs_raw *cli_its0(struct args *a)
{
	if (its_regset_reserve(&a->cli_regs, 1, a->cli_regs.nr_rd) < 0) {
		fprintf(stderr, "its-dump: out of memory\n");
		exit(DUMP_EXIT_ERROR);
	}
	snprintf(a->cli_regs.its[0].source, sizeof(a->cli_regs.its[0].source),
		 "command line");
	return &a->cli_regs.its[0];
}

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
	struct args *a = st->input;
	uint64_t k, v;

	switch (key) {
	case 'j': a->json = true; break;
	case OPT_PRETTY: a->json = a->pretty = true; break;
	case 'a': a->all = true; break;
	case OPT_SECTIONS: a->sections = true; break;
	case 'd':
		if (a->nr_devices >= MAX_LIST)
			argp_error(st, "too many --device options");
		parse_value(st, "--device", arg, UINT32_MAX, &v);
		a->devices[a->nr_devices++] = (uint32_t)v;
		break;
	case OPT_LAYOUT:
		if (strcmp(arg, "auto") && strcmp(arg, "kvm") && strcmp(arg, "tcg"))
			argp_error(st, "--layout: '%s' is not one of auto, kvm, tcg", arg);
		a->layout = arg;
		break;
	case OPT_RAM_BASE: {
		char *eq = strchr(arg, '=');
		size_t n = a->nr_ram_bases;

		if (n >= sizeof(a->ram_bases) / sizeof(a->ram_bases[0]))
			argp_error(st, "too many --ram-base options");
		if (eq) {
			a->ram_base_names[n] = strndup(arg, (size_t)(eq - arg));
			a->ram_bases[n].name = a->ram_base_names[n];
			parse_value(st, "--ram-base", eq + 1, UINT64_MAX, &v);
		} else {
			parse_value(st, "--ram-base", arg, UINT64_MAX, &v);
		}
		a->ram_bases[n].gpa = v;
		a->nr_ram_bases++;
		break;
	}
	case OPT_ITS_REGS: a->its_regs = arg; break;
	case OPT_BASER:
		parse_pair(st, "--baser", arg, ITS_NR_BASER - 1, &k, &v);
		cli_its0(a)->baser[k] = v;
		cli_its0(a)->present |= ITS_REG_BASER(k);
		break;
	case OPT_CTLR:
		parse_value(st, "--ctlr", arg, UINT32_MAX, &v);
		cli_its0(a)->ctlr = (uint32_t)v;
		cli_its0(a)->present |= ITS_REG_CTLR;
		break;
	case OPT_IIDR:
		parse_value(st, "--iidr", arg, UINT32_MAX, &v);
		cli_its0(a)->iidr = (uint32_t)v;
		cli_its0(a)->present |= ITS_REG_IIDR;
		break;
	case OPT_CBASER:
		parse_value(st, "--cbaser", arg, UINT64_MAX, &v);
		cli_its0(a)->cbaser = v;
		cli_its0(a)->present |= ITS_REG_CBASER;
		break;
	case OPT_CWRITER:
		parse_value(st, "--cwriter", arg, UINT64_MAX, &v);
		cli_its0(a)->cwriter = v;
		cli_its0(a)->present |= ITS_REG_CWRITER;
		break;
	case OPT_CREADR:
		parse_value(st, "--creadr", arg, UINT64_MAX, &v);
		cli_its0(a)->creadr = v;
		cli_its0(a)->present |= ITS_REG_CREADR;
		break;
	case OPT_PROPBASER:
		parse_value(st, "--propbaser", arg, UINT64_MAX, &a->propbaser);
		a->propbaser_all = true;
		break;
	case OPT_PENDBASER:
		parse_pair(st, "--pendbaser", arg, 4095, &k, &v);
		if (its_regset_reserve(&a->cli_regs, a->cli_regs.nr_its,
				       (size_t)k + 1) < 0)
			argp_failure(st, DUMP_EXIT_ERROR, ENOMEM, "--pendbaser");
		a->cli_regs.rd[k].pendbaser = v;
		a->cli_regs.rd[k].present |= GICR_REG_PENDBASER;
		break;
	case ARGP_KEY_ARG:
		if (a->path)
			argp_error(st, "one snapshot at a time ('%s' and '%s')",
				   a->path, arg);
		a->path = arg;
		break;
	case ARGP_KEY_NO_ARGS: {
		struct stat sb;

		/* `its-dump < guest.mig` reads standard input when it is a
		 * file (or says why a pipe cannot be read) */
		if (fstat(0, &sb) < 0 || !(S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode) ||
					   S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode)))
			argp_error(st, "no snapshot given");
		a->path = "-";
		break;
	}
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = {
	options, parse_opt, "SNAPSHOT",
	"Decode the GICv3 ITS tables (collections, devices, events) of an arm64 "
	"VM snapshot: a QEMU migration stream, a virsh save image, a QEMU "
	"dump-guest-memory ELF core, or a raw RAM image."
	"\vExit status: 0 all decoded; 1 decoded, but some entries are "
	"unreadable (absent memory) or flagged; 8 the snapshot cannot be read; "
	"16 usage error.",
	NULL, NULL, NULL,
};

static bool regs_any(const struct its_regset *rs)
{
	for (size_t i = 0; i < rs->nr_its; i++)
		if (rs->its[i].present)
			return true;
	return false;
}

/* Registers: the snapshot's own, then --its-regs, then single options. */
static int gather_regs(struct args *a, const struct snapshot *s,
		       struct its_regset *rs, struct its_err *err)
{
	struct its_regset file = { 0 };
	size_t cpus;
	int rc;

	if (its_regset_overlay(rs, &s->regs) < 0)
		return its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET,
				   "out of memory");
	if (a->its_regs) {
		rc = its_regs_file_read(a->its_regs, &file, err);
		if (rc == 0 && its_regset_overlay(rs, &file) < 0)
			rc = its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET,
					 "out of memory");
		its_regset_release(&file);
		if (rc < 0)
			return rc;
	}
	if (its_regset_overlay(rs, &a->cli_regs) < 0)
		return its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET,
				   "out of memory");
	/* one redistributor per vCPU the snapshot knows of */
	cpus = s->nr_vcpus > 0 ? (size_t)s->nr_vcpus : 0;
	if (a->propbaser_all && cpus == 0 && rs->nr_rd == 0)
		cpus = 1;
	if (its_regset_reserve(rs, rs->nr_its, cpus) < 0)
		return its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET,
				   "out of memory");
	if (a->propbaser_all)
		for (size_t i = 0; i < rs->nr_rd; i++) {
			rs->rd[i].propbaser = a->propbaser;
			rs->rd[i].present |= GICR_REG_PROPBASER;
		}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	struct snap_open_opts so = { 0 };
	struct snapshot *s = NULL;
	struct its_regset regs = { 0 };
	struct its_image *img = NULL;
	struct its_walk_opts wo = { 0 };
	struct dump_opts dopts = { 0 };
	struct dump_summary sum;
	struct its_err err;
	struct out *o = NULL;
	int rc, status = DUMP_EXIT_ERROR;

	argp_err_exit_status = DUMP_EXIT_USAGE;
	argp_parse(&argp, argc, argv, 0, NULL, &a);
	its_err_clear(&err);

	so.ram_bases = a.ram_bases;
	so.nr_ram_bases = a.nr_ram_bases;
	if (!strcmp(a.path, "-")) {
		struct stat st;

		/* the readers seek: a pipe cannot be read */
		if (fstat(0, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
			its_err_set(&err, -ESPIPE, "(standard input)", ITS_ERR_NO_OFFSET,
				    "not seekable: its-dump needs a regular file or block device (save the stream to a file and give its name)");
			goto fail;
		}
		a.path = "/dev/stdin";
	}
	rc = snapshot_open(a.path, &so, &s, &err);
	if (rc < 0)
		goto fail;
	rc = gather_regs(&a, s, &regs, &err);
	if (rc < 0)
		goto fail;
	if (!regs_any(&regs)) {
		its_err_set(&err, -EINVAL, a.path, ITS_ERR_NO_OFFSET,
			    "%s carry no ITS registers: supply --its-regs FILE (e.g. its-dump -j of a migration stream of the same VM) or --baser N=VALUE",
			    s->format == SNAP_FORMAT_ELF ? "ELF cores" :
			    s->format == SNAP_FORMAT_RAW ? "raw RAM images" :
			    "this snapshot has no ITS section and so does");
		if (s->format == SNAP_FORMAT_ELF || s->format == SNAP_FORMAT_RAW)
			status = DUMP_EXIT_USAGE;
		goto fail;
	}
	if (a.layout && strcmp(a.layout, "auto"))
		wo.layout = its_layout_find(a.layout);
	rc = its_walk(s->mem, &regs, &wo, &img, &err);
	if (rc < 0)
		goto fail;

	o = out_new(a.json ? OUT_JSON : OUT_TEXT, stdout, a.pretty);
	if (!o) {
		its_err_set(&err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET, "out of memory");
		goto fail;
	}
	dopts.all = a.all;
	dopts.sections = a.sections;
	dopts.devices = a.nr_devices ? a.devices : NULL;
	dopts.nr_devices = a.nr_devices;
	dopts.regs_source = a.its_regs;
	report_dump(o, s, img, &dopts, &sum);
	if (out_finish(o) < 0) {
		its_err_set(&err, -EIO, NULL, ITS_ERR_NO_OFFSET,
			    "error writing the output");
		a.json = false;
		goto fail;
	}
	status = (sum.unreadable || sum.flagged) ? DUMP_EXIT_PARTIAL :
						   DUMP_EXIT_OK;
	goto out;
fail:
	cli_error("its-dump", a.json, &err);
out:
	out_free(o);
	its_image_free(img);
	its_regset_release(&regs);
	its_regset_release(&a.cli_regs);
	snapshot_close(s);
	for (size_t i = 0; i < a.nr_ram_bases; i++)
		free(a.ram_base_names[i]);
	return status;
}
