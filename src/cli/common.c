#include "its/cli.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "its/layout.h"
#include "its/regs_file.h"

enum {
	OPT_LAYOUT = 0x200, OPT_RAM_BASE, OPT_ITS_REGS, OPT_BASER, OPT_CTLR,
	OPT_IIDR, OPT_CBASER, OPT_CWRITER, OPT_CREADR, OPT_PROPBASER,
	OPT_PENDBASER, OPT_PRETTY, OPT_FORMAT, OPT_COLOR, OPT_PROGRESS,
};

/* the smallest page a RAM block or image is placed at (arm's 4 KiB) */
#define RAM_BASE_ALIGN 4096u

static const struct argp_option snap_options[] = {
	{ NULL, 0, NULL, 0, "Decoding:", 10 },
	{ "layout", OPT_LAYOUT, "auto|kvm|tcg", 0, "table format (default auto: from GITS_IIDR and entry shapes)", 10 },
	{ "ram-base", OPT_RAM_BASE, "[NAME=]GPA", 0, "GPA of a raw RAM image, or of a stream's RAM block NAME (repeatable)", 10 },
	{ NULL, 0, NULL, 0, "Registers (streams carry them; ELF cores and raw images do not; these override):", 11 },
	{ "its-regs", OPT_ITS_REGS, "FILE", 0, "registers from an its-dump --json document or a registers object", 11 },
	{ "baser", OPT_BASER, "N=VALUE", 0, "GITS_BASER<N> (repeatable)", 11 },
	{ "ctlr", OPT_CTLR, "VALUE", 0, "GITS_CTLR", 11 },
	{ "iidr", OPT_IIDR, "VALUE", 0, "GITS_IIDR (0x4b00043b: KVM; 0: QEMU's emulated ITS)", 11 },
	{ "cbaser", OPT_CBASER, "VALUE", 0, "GITS_CBASER", 11 },
	{ "cwriter", OPT_CWRITER, "VALUE", 0, "GITS_CWRITER", 11 },
	{ "creadr", OPT_CREADR, "VALUE", 0, "GITS_CREADR", 11 },
	{ "propbaser", OPT_PROPBASER, "VALUE", 0, "GICR_PROPBASER (every vCPU)", 11 },
	{ "pendbaser", OPT_PENDBASER, "CPU=VALUE", 0, "GICR_PENDBASER of one vCPU (repeatable)", 11 },
	{ NULL, 0, NULL, 0, NULL, 0 },
};

uint64_t cli_number(struct argp_state *st, const char *what, const char *s,
		    uint64_t max)
{
	uint64_t v;

	if (its_parse_u64(s, max, &v) < 0)
		argp_error(st, "%s: '%s' is not a number%s", what, s,
			   max == UINT32_MAX ? " below 2^32" : "");
	return v;
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
	*val = cli_number(st, what, eq + 1, UINT64_MAX);
}

static struct its_regs_raw *cli_its0(struct argp_state *st,
				     struct cli_snap_args *a)
{
	if (its_regset_reserve(&a->cli_regs, 1, a->cli_regs.nr_rd) < 0)
		argp_failure(st, DUMP_EXIT_ERROR, ENOMEM, "registers");
	snprintf(a->cli_regs.its[0].source, sizeof(a->cli_regs.its[0].source),
		 "command line");
	return &a->cli_regs.its[0];
}

static error_t parse_snap_opt(int key, char *arg, struct argp_state *st)
{
	struct cli_snap_args *a = st->input;
	struct its_regs_raw *r;
	uint64_t k, v;

	switch (key) {
	case OPT_LAYOUT:
		if (strcmp(arg, "auto") && strcmp(arg, "kvm") && strcmp(arg, "tcg"))
			argp_error(st, "--layout: '%s' is not one of auto, kvm, tcg", arg);
		a->layout = arg;
		break;
	case OPT_RAM_BASE: {
		char *eq = strchr(arg, '=');
		size_t n = a->nr_ram_bases;

		if (n >= CLI_MAX_RAM_BASES)
			argp_error(st, "too many --ram-base options");
		if (eq) {
			a->ram_base_names[n] = strndup(arg, (size_t)(eq - arg));
			a->ram_bases[n].name = a->ram_base_names[n];
			a->ram_bases[n].gpa = cli_number(st, "--ram-base", eq + 1, UINT64_MAX);
		} else {
			a->ram_bases[n].gpa = cli_number(st, "--ram-base", arg, UINT64_MAX);
		}
		/* guest RAM starts on a page boundary: an odd GPA would read
		 * every table a few bytes off and find nothing */
		if (a->ram_bases[n].gpa & (RAM_BASE_ALIGN - 1))
			argp_error(st, "--ram-base: GPA 0x%llx is not aligned to 4 KiB (RAM starts on a page boundary)",
				   (unsigned long long)a->ram_bases[n].gpa);
		a->nr_ram_bases++;
		break;
	}
	case OPT_ITS_REGS: a->its_regs = arg; break;
	case OPT_BASER:
		parse_pair(st, "--baser", arg, ITS_NR_BASER - 1, &k, &v);
		r = cli_its0(st, a);
		r->baser[k] = v;
		r->present |= ITS_REG_BASER(k);
		break;
	case OPT_CTLR:
		r = cli_its0(st, a);
		r->ctlr = (uint32_t)cli_number(st, "--ctlr", arg, UINT32_MAX);
		r->present |= ITS_REG_CTLR;
		break;
	case OPT_IIDR:
		r = cli_its0(st, a);
		r->iidr = (uint32_t)cli_number(st, "--iidr", arg, UINT32_MAX);
		r->present |= ITS_REG_IIDR;
		break;
	case OPT_CBASER:
		r = cli_its0(st, a);
		r->cbaser = cli_number(st, "--cbaser", arg, UINT64_MAX);
		r->present |= ITS_REG_CBASER;
		break;
	case OPT_CWRITER:
		r = cli_its0(st, a);
		r->cwriter = cli_number(st, "--cwriter", arg, UINT64_MAX);
		r->present |= ITS_REG_CWRITER;
		break;
	case OPT_CREADR:
		r = cli_its0(st, a);
		r->creadr = cli_number(st, "--creadr", arg, UINT64_MAX);
		r->present |= ITS_REG_CREADR;
		break;
	case OPT_PROPBASER:
		a->propbaser = cli_number(st, "--propbaser", arg, UINT64_MAX);
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

		if (a->no_snapshot_ok)
			break;
		/* `prog < guest.mig` reads standard input when it is a file
		 * (or says why a pipe cannot be read) */
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

const struct argp cli_snap_argp = {
	snap_options, parse_snap_opt, NULL, NULL, NULL, NULL, NULL,
};

static const struct argp_option out_options[] = {
	{ NULL, 0, NULL, 0, "Output format:", 5 },
	{ "json", 'j', NULL, 0, "JSON output (compact); the same as --format=json", 5 },
	{ "pretty", OPT_PRETTY, NULL, 0, "indented JSON output (implies --json)", 5 },
	{ "format", OPT_FORMAT, "text|json|dot|map", 0, "text (default), JSON, Graphviz of the translation path, or a map of guest memory with each table's placement", 5 },
	{ "color", OPT_COLOR, "auto|always|never", OPTION_ARG_OPTIONAL, "colour text output (default auto: on a terminal, unless NO_COLOR is set; alone: always)", 5 },
	{ "quiet", 'q', NULL, 0, "no progress meter", 5 },
	{ "progress", OPT_PROGRESS, NULL, 0, "show the progress meter even when stderr is not a terminal", 5 },
	{ NULL, 0, NULL, 0, NULL, 0 },
};

static error_t parse_out_opt(int key, char *arg, struct argp_state *st)
{
	static const char *const formats[] = { "text", "json", "dot", "map" };
	static const char *const colors[] = { "auto", "always", "never" };
	struct cli_out_args *a = st->input;
	size_t i;

	switch (key) {
	case 'j': a->format = CLI_FORMAT_JSON; break;
	case OPT_PRETTY:
		a->format = CLI_FORMAT_JSON;
		a->pretty = true;
		break;
	case OPT_FORMAT:
		for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
			if (!strcmp(arg, formats[i]))
				break;
		if (i == sizeof(formats) / sizeof(formats[0]))
			argp_error(st, "--format: '%s' is not text, json, dot or map", arg);
		a->format = (enum cli_format)i;
		break;
	case OPT_COLOR:
		if (!arg) {
			a->color = CLI_COLOR_ALWAYS;
			break;
		}
		for (i = 0; i < sizeof(colors) / sizeof(colors[0]); i++)
			if (!strcmp(arg, colors[i]))
				break;
		if (i == sizeof(colors) / sizeof(colors[0]))
			argp_error(st, "--color: '%s' is not auto, always or never", arg);
		a->color = (enum cli_color)i;
		break;
	case 'q': a->progress = CLI_PROGRESS_QUIET; break;
	case OPT_PROGRESS: a->progress = CLI_PROGRESS_FORCE; break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cli_out_argp = {
	out_options, parse_out_opt, NULL, NULL, NULL, NULL, NULL,
};

const struct argp_child cli_children[] = {
	{ &cli_snap_argp, 0, NULL, 0 },
	{ &cli_out_argp, 0, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};

static bool regs_any(const struct its_regset *rs)
{
	for (size_t i = 0; i < rs->nr_its; i++)
		if (rs->its[i].present)
			return true;
	return false;
}

/* Registers: the snapshot's own, then --its-regs, then single options. */
static int gather_regs(struct cli_snap_args *a, const struct snapshot *s,
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

int cli_open(struct cli_snap_args *a, struct cli_opened *o, bool *usage,
	     struct its_err *err)
{
	struct snap_open_opts so = {
		.ram_bases = a->ram_bases, .nr_ram_bases = a->nr_ram_bases,
		.progress = a->progress, .progress_arg = a->progress_arg,
	};
	struct its_walk_opts wo = { 0 };
	const char *path = a->path;
	int rc;

	memset(o, 0, sizeof(*o));
	*usage = false;
	if (!strcmp(path, "-")) {
		struct stat st;

		/* the readers seek: a pipe cannot be read */
		if (fstat(0, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
			return its_err_set(err, -ESPIPE, "(standard input)",
					   ITS_ERR_NO_OFFSET,
					   "not seekable: a regular file or block device is needed (save the stream to a file and give its name)");
		path = "/dev/stdin";
	}
	rc = snapshot_open(path, &so, &o->snap, err);
	if (rc < 0)
		return rc;
	rc = gather_regs(a, o->snap, &o->regs, err);
	if (rc < 0)
		return rc;
	if (!regs_any(&o->regs) && o->snap->format != SNAP_FORMAT_QEMU_STREAM &&
	    o->snap->format != SNAP_FORMAT_LIBVIRT) {
		*usage = true;
		return its_err_set(err, -EINVAL, a->path, ITS_ERR_NO_OFFSET,
				   "%s carry no ITS registers: supply --its-regs FILE (e.g. its-dump -j of a migration stream of the same VM) or --baser N=VALUE",
				   o->snap->format == SNAP_FORMAT_ELF ? "ELF cores" :
				   "raw RAM images");
	}
	if (a->layout && strcmp(a->layout, "auto"))
		wo.layout = its_layout_find(a->layout);
	return its_walk(o->snap->mem, &o->regs, &wo, &o->img, err);
}

void cli_close(struct cli_opened *o, struct cli_snap_args *a)
{
	its_image_free(o->img);
	its_regset_release(&o->regs);
	snapshot_close(o->snap);
	memset(o, 0, sizeof(*o));
	if (a) {
		its_regset_release(&a->cli_regs);
		for (size_t i = 0; i < a->nr_ram_bases; i++)
			free(a->ram_base_names[i]);
		a->nr_ram_bases = 0;
	}
}

void cli_error(const char *prog, bool json, const struct its_err *err)
{
	char line[1024];

	its_err_format(err, line, sizeof(line));
	fprintf(stderr, "%s: %s\n", prog, line);
	if (json) {
		json_object *root = json_object_new_object();
		json_object *e = json_object_new_object();
		char off[24];

		json_object_object_add(e, "file", err->file[0] ?
				       json_object_new_string(err->file) : NULL);
		if (err->offset != ITS_ERR_NO_OFFSET) {
			snprintf(off, sizeof(off), "0x%llx",
				 (unsigned long long)err->offset);
			json_object_object_add(e, "offset",
					       json_object_new_string(off));
		} else {
			json_object_object_add(e, "offset", NULL);
		}
		json_object_object_add(e, "message",
				       json_object_new_string(err->msg));
		json_object_object_add(root, "error", e);
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	}
}
