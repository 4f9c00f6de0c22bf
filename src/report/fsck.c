/* The its-fsck document, through the same emitter as its-dump: the verdict
 * (what KVM's restore will do, or what QEMU's own ITS does), the problems
 * grouped by table, the entries the restore drops, what it restores, and a
 * count by severity. */
#include "its/report.h"

#include <errno.h>
#include <string.h>

#include "its/check.h"
#include "its/problems.h"
#include "its/repair.h"

#define RAW_FMT "0x%016llx"

static const char *errno_name(int e)
{
	switch (e) {
	case -EINVAL: return "EINVAL";
	case -EFAULT: return "EFAULT";
	case -EEXIST: return "EEXIST";
	case -ENOMEM: return "ENOMEM";
	}
	return "error";
}

/* What QEMU prints when RESTORE_TABLES fails (it aborts: &error_abort). */
static const char *qemu_strerror(int e)
{
	switch (e) {
	case -EINVAL: return "Invalid argument";
	case -EFAULT: return "Bad address";
	case -EEXIST: return "File exists";
	case -ENOMEM: return "Cannot allocate memory";
	}
	return "Operation not permitted";
}

static enum out_role severity_role(enum problem_severity s)
{
	return s == SEV_ERROR ? OUT_ROLE_ERROR :
	       s == SEV_WARNING ? OUT_ROLE_WARNING : OUT_ROLE_NONE;
}

static void emit_location(struct out *o, const struct finding *f)
{
	bool sep = false;

	out_text(o, "    ");
	if (f->has_table)
		out_str(o, "table", "%s", its_table_name(f->table));
	else
		out_null(o, "table", "snapshot");
	sep = true;
	if (f->device_id != FINDING_NONE)
		out_u64(o, "device_id", " DeviceID 0x%llx", (uint64_t)f->device_id);
	else
		out_null(o, "device_id", NULL);
	if (f->event_id != FINDING_NONE)
		out_u64(o, "event_id", " EventID %llu", (uint64_t)f->event_id);
	else
		out_null(o, "event_id", NULL);
	if (f->icid != FINDING_NONE)
		out_u64(o, "icid", " ICID %llu", (uint64_t)f->icid);
	else
		out_null(o, "icid", NULL);
	if (f->cpu != FINDING_NONE)
		out_u64(o, "cpu", " vCPU %llu", (uint64_t)f->cpu);
	else
		out_null(o, "cpu", NULL);
	if (f->has_gpa)
		out_hex(o, "gpa", ", GPA 0x%llx", f->gpa, 0);
	else
		out_null(o, "gpa", NULL);
	if (f->has_raw)
		out_hex_le(o, "raw", ", raw %s", f->raw, f->raw_len);
	else
		out_null(o, "raw", NULL);
	(void)sep;
	out_text(o, "\n");
}

static void emit_problems(struct out *o, const struct check_result *cr)
{
	const struct findings *fs = &cr->findings;
	int group = -1;
	unsigned its = (unsigned)-1;

	out_arr_begin(o, "problems");
	for (size_t i = 0; i < fs->nr; i++) {
		const struct finding *f = &fs->v[i];
		const struct problem_info *p = &problem_table[f->problem];

		if ((int)(p->code >> 16) != group || f->its != its) {
			group = (int)(p->code >> 16);
			its = f->its;
			if (cr->nr_its > 1)
				out_text(o, "\n%s (ITS %u):\n", problem_group_name(p->code), its);
			else
				out_text(o, "\n%s:\n", problem_group_name(p->code));
		}
		out_obj_begin(o, NULL);
		out_text(o, "  ");
		out_role(o, severity_role(p->severity));
		out_str(o, "code", "%s", p->name);
		{
			char num[16];

			snprintf(num, sizeof(num), "0x%06x", p->code);
			out_str(o, "number", " (%s)", num);
		}
		out_str(o, "severity", " %s", problem_severity_name(p->severity));
		out_str(o, "message", ": %s", p->message);
		out_role(o, OUT_ROLE_NONE);
		out_text(o, "\n");
		out_u64(o, "its", NULL, f->its);
		emit_location(o, f);
		out_str(o, "detail", "    %s\n", f->detail);
		out_str(o, "kvm", "    KVM: %s", p->kvm);
		out_str(o, "repair", "; repair: %s\n", problem_repair_name(p->repair));
		out_obj_end(o);
	}
	out_arr_end(o);
	if (fs->not_stored)
		out_u64(o, "problems_not_listed", "\n%llu more problems of the same kinds not listed\n",
			fs->not_stored);
}

static const struct restore_failure *first_failure(const struct check_result *cr,
						   const struct restore_result **rr)
{
	for (size_t i = 0; i < cr->nr_its; i++)
		if (cr->restore[i].nr_fails) {
			*rr = &cr->restore[i];
			return &cr->restore[i].fails[0];
		}
	return NULL;
}

static void emit_verdict(struct out *o, const struct check_ctx *cx,
			 const struct check_result *cr, struct fsck_summary *sum)
{
	const struct restore_result *rr = NULL;
	const struct restore_failure *f = first_failure(cr, &rr);
	size_t colls = 0, devs = 0, events = 0;
	uint64_t read = 0;
	bool kvm = false, tcg = false;

	for (size_t i = 0; i < cr->nr_its; i++) {
		const struct restore_result *r = &cr->restore[i];

		colls += r->nr_ctes;
		devs += r->nr_devs;
		events += r->nr_events;
		read += r->entries_read;
		if (r->skipped)
			tcg = true;
		else
			kvm = true;
	}
	out_obj_begin(o, "verdict");
	if (!kvm && tcg) {
		size_t undeliverable = 0;

		for (size_t i = 0; i < cr->nr_its; i++)
			undeliverable += cr->restore[i].nr_undeliverable;
		out_role(o, undeliverable ? OUT_ROLE_WARNING : OUT_ROLE_OK);
		out_str(o, "restore", "QEMU TCG ITS: no KVM restore (%s); ", "n/a");
		out_str(o, "layout", "layout %s: ", "qemu-tcg");
		out_text(o, "QEMU's emulated ITS delivers");
		out_u64(o, "events", " %llu events", events);
		out_u64(o, "devices", " of %llu devices", devs);
		out_u64(o, "collections", " through %llu collections", colls);
		out_text(o, ", and drops %zu", undeliverable);
		out_role(o, OUT_ROLE_NONE);
		out_text(o, "\n");
		out_arr_begin(o, "delivering");
		for (size_t i = 0; i < cr->nr_its; i++)
			for (size_t d = 0; d < cr->restore[i].nr_devs; d++) {
				const struct restore_dev *rd = &cr->restore[i].devs[d];

				for (size_t e = 0; e < rd->nr_events; e++) {
					out_obj_begin(o, NULL);
					out_u64(o, "device_id", "  DeviceID 0x%llx", rd->device_id);
					out_u64(o, "event_id", " EventID %llu", rd->events[e].event_id);
					out_u64(o, "lpi", " -> LPI %llu", rd->events[e].lpi);
					out_u64(o, "vcpu", " -> vCPU %llu\n", (uint64_t)rd->events[e].vcpu);
					out_obj_end(o);
				}
			}
		out_arr_end(o);
		out_arr_begin(o, "undeliverable");
		for (size_t i = 0; i < cr->nr_its; i++)
			for (size_t u = 0; u < cr->restore[i].nr_undeliverable; u++) {
				const struct tcg_undeliverable *x = &cr->restore[i].undeliverable[u];

				out_obj_begin(o, NULL);
				out_text(o, "  ");
				out_role(o, OUT_ROLE_DIM);
				out_u64(o, "device_id", "DeviceID 0x%llx", x->device_id);
				out_u64(o, "event_id", " EventID %llu", x->event_id);
				out_str(o, "reason", " dropped: %s", x->reason);
				out_role(o, OUT_ROLE_NONE);
				out_text(o, "\n");
				out_obj_end(o);
			}
		out_arr_end(o);
		out_obj_end(o);
		return;
	}
	if (kvm)
		out_role(o, f ? OUT_ROLE_ERROR : OUT_ROLE_OK);
	out_text(o, "KVM restore");
	out_str(o, "kernel", " (kernel %s): ", cx->profile.name);
	if (!kvm) {
		out_str(o, "restore", "%s: the snapshot holds no ITS\n", "n/a");
		out_obj_end(o);
		return;
	}
	out_str(o, "layout", NULL, "kvm");
	if (!f) {
		out_str(o, "restore", "%s", "ok");
		out_null(o, "errno", NULL);
		out_null(o, "table", NULL);
		out_null(o, "device_id", NULL);
		out_null(o, "event_id", NULL);
		out_null(o, "icid", NULL);
		out_null(o, "gpa", NULL);
	} else {
		sum->restore_fails = true;
		out_str(o, "restore", "would %s", "fail");
		out_str(o, "errno", " with %s", f->err == 1 ? "1" : errno_name(f->err));
		out_str(o, "table", " at %s", its_table_name(f->where.table));
		if (f->where.device_id != FINDING_NONE)
			out_u64(o, "device_id", " DeviceID 0x%llx", (uint64_t)f->where.device_id);
		else
			out_null(o, "device_id", NULL);
		if (f->where.event_id != FINDING_NONE)
			out_u64(o, "event_id", " EventID %llu", (uint64_t)f->where.event_id);
		else
			out_null(o, "event_id", NULL);
		if (f->where.icid != FINDING_NONE)
			out_u64(o, "icid", " ICID %llu", (uint64_t)f->where.icid);
		else
			out_null(o, "icid", NULL);
		out_hex(o, "gpa", " (GPA 0x%llx)", f->where.gpa, 0);
		out_str(o, "code", ": %s", problem_table[f->problem].name);
		out_str(o, "reason", " (%s)", f->where.detail);
		out_u64(o, "its", NULL, rr->its);
	}
	out_u64(o, "collections", f ? "; past the failures it restores %llu collections" :
				     "; %llu collections", colls);
	out_u64(o, "devices", ", %llu devices", devs);
	out_u64(o, "events", ", %llu events", events);
	out_u64(o, "entries_read", " (%llu entries read)", read);
	out_role(o, OUT_ROLE_NONE);
	out_text(o, "\n");
	if (f && f->err < 0) {
		char line[160];

		snprintf(line, sizeof(line),
			 "KVM_SET_DEVICE_ATTR failed: Group 4 attr 0x0000000000000002: %s",
			 qemu_strerror(f->err));
		out_text(o, "  ");
		out_role(o, OUT_ROLE_ERROR);
		out_str(o, "qemu_error", "QEMU would abort with: %s", line);
		out_role(o, OUT_ROLE_NONE);
		out_text(o, "\n");
	}
	for (size_t i = 0; i < cr->nr_its; i++)
		if (cr->restore[i].older[0]) {
			out_str(o, "older", "  older kernels differ: %s\n",
				cr->restore[i].older);
			break;
		}
	for (size_t i = 0; i < cr->nr_its; i++)
		if (!cr->restore[i].skipped && cr->restore[i].prop_unknown) {
			out_bool(o, "lpi_tables_checked", "", "  GICR_PROPBASER unknown: property and pending bytes not checked\n", false);
			break;
		}
	out_obj_end(o);
}

static void emit_dropped(struct out *o, const struct check_result *cr)
{
	size_t n = 0;

	for (size_t i = 0; i < cr->nr_its; i++)
		n += cr->restore[i].nr_drops;
	out_arr_begin(o, "dropped");
	if (n)
		out_text(o, "\nSilently not restored (%zu valid-looking entr%s):\n", n,
			 n == 1 ? "y" : "ies");
	for (size_t i = 0; i < cr->nr_its; i++)
		for (size_t k = 0; k < cr->restore[i].nr_drops; k++) {
			const struct restore_drop *d = &cr->restore[i].drops[k];

			out_obj_begin(o, NULL);
			out_u64(o, "its", NULL, cr->restore[i].its);
			out_text(o, "  ");
			out_role(o, OUT_ROLE_DIM);
			out_str(o, "table", "%-16s", its_table_name(d->table));
			if (d->device_id != FINDING_NONE)
				out_u64(o, "device_id", " DeviceID 0x%llx", (uint64_t)d->device_id);
			else
				out_null(o, "device_id", NULL);
			if (d->event_id != FINDING_NONE)
				out_u64(o, "event_id", " EventID %llu", (uint64_t)d->event_id);
			else
				out_null(o, "event_id", NULL);
			if (d->icid != FINDING_NONE)
				out_u64(o, "icid", " ICID %llu", (uint64_t)d->icid);
			else
				out_null(o, "icid", NULL);
			out_hex(o, "gpa", " GPA 0x%llx", d->gpa, 0);
			out_hex(o, "raw", " raw " RAW_FMT, d->raw, 16);
			out_str(o, "reason", ": %s", restore_drop_reason_name(d->reason));
			out_role(o, OUT_ROLE_NONE);
			out_text(o, "\n");
			out_obj_end(o);
		}
	out_arr_end(o);
}

static void emit_restored(struct out *o, const struct check_result *cr)
{
	out_obj_begin(o, "restored");
	out_arr_begin(o, "its");
	for (size_t i = 0; i < cr->nr_its; i++) {
		const struct restore_result *r = &cr->restore[i];

		out_obj_begin(o, NULL);
		out_u64(o, "index", NULL, r->its);
		out_arr_begin(o, "collections");
		for (size_t c = 0; c < r->nr_ctes; c++) {
			out_obj_begin(o, NULL);
			out_u64(o, "icid", NULL, r->ctes[c].icid);
			out_u64(o, "target", NULL, r->ctes[c].target);
			out_u64(o, "slot", NULL, r->ctes[c].slot);
			out_hex(o, "gpa", NULL, r->ctes[c].gpa, 0);
			out_obj_end(o);
		}
		out_arr_end(o);
		out_arr_begin(o, "devices");
		for (size_t d = 0; d < r->nr_devs; d++) {
			const struct restore_dev *rd = &r->devs[d];

			out_obj_begin(o, NULL);
			out_u64(o, "device_id", NULL, rd->device_id);
			out_hex(o, "itt", NULL, rd->itt, 0);
			out_u64(o, "event_id_bits", NULL, rd->bits);
			out_arr_begin(o, "events");
			for (size_t e = 0; e < rd->nr_events; e++) {
				out_obj_begin(o, NULL);
				out_u64(o, "event_id", NULL, rd->events[e].event_id);
				out_u64(o, "lpi", NULL, rd->events[e].lpi);
				out_u64(o, "icid", NULL, rd->events[e].icid);
				if (rd->events[e].vcpu >= 0)
					out_u64(o, "vcpu", NULL, (uint64_t)rd->events[e].vcpu);
				else
					out_null(o, "vcpu", NULL);
				out_obj_end(o);
			}
			out_arr_end(o);
			out_obj_end(o);
		}
		out_arr_end(o);
		out_obj_end(o);
	}
	out_arr_end(o);
	out_obj_end(o);
}

static const char *const reg_names[] = {
	"GITS_CTLR", "GITS_IIDR", "GITS_CBASER", "GITS_CWRITER", "GITS_CREADR",
	"GITS_BASER0", "GITS_BASER1", "GITS_BASER2", "GITS_BASER3",
	"GITS_BASER4", "GITS_BASER5", "GITS_BASER6", "GITS_BASER7",
	"GICR_PROPBASER",
};

static void emit_repairs(struct out *o, const struct fsck_opts *opts)
{
	const struct repair_plan *p = opts->plan;

	out_text(o, "\n%s (%zu write%s):\n",
		 opts->dry_run ? "Repairs planned, not written (--dry-run)" : "Repairs",
		 p->nr, p->nr == 1 ? "" : "s");
	out_arr_begin(o, "repairs");
	for (size_t i = 0; i < p->nr; i++) {
		const struct repair_write *w = &p->v[i];

		out_obj_begin(o, NULL);
		out_u64(o, "its", NULL, w->its);
		if (w->kind == REPAIR_RAM) {
			out_str(o, "target", "  %s", "guest RAM");
			out_hex(o, "gpa", " GPA 0x%llx", w->gpa, 0);
			if (opts->file_offsets && opts->file_offsets[i] >= 0)
				out_hex(o, "file_offset", ", file offset 0x%llx",
					(uint64_t)opts->file_offsets[i], 0);
			else
				out_null(o, "file_offset", ", no file offset");
			out_hex_le(o, "old", ": %s", w->old, w->len);
			out_hex_le(o, "new", " -> %s", w->new, w->len);
		} else {
			out_str(o, "target", "  %s", reg_names[w->reg]);
			out_null(o, "gpa", NULL);
			if (opts->file_offsets && opts->file_offsets[i] >= 0)
				out_hex(o, "file_offset", ", file offset 0x%llx",
					(uint64_t)opts->file_offsets[i], 0);
			else
				out_null(o, "file_offset", NULL);
			out_hex(o, "old", ": 0x%llx", w->reg_old, 0);
			out_hex(o, "new", " -> 0x%llx", w->reg_new, 0);
		}
		out_str(o, "code", "\n    %s", problem_table[w->problem].name);
		out_str(o, "level", " (%s)", problem_repair_name(w->level));
		out_str(o, "why", ": %s\n", w->why);
		if (opts->not_written && opts->not_written[i]) {
			out_text(o, "    ");
			out_role(o, OUT_ROLE_WARNING);
			out_str(o, "not_written", "not written: %s",
				opts->not_written[i]);
			out_role(o, OUT_ROLE_NONE);
			out_text(o, "\n");
		}
		out_obj_end(o);
	}
	out_arr_end(o);
	out_arr_begin(o, "refused");
	for (size_t i = 0; i < p->nr_refused; i++) {
		out_text(o, "  ");
		out_role(o, OUT_ROLE_WARNING);
		out_str(o, NULL, "refused: %s", p->refused[i]);
		out_role(o, OUT_ROLE_NONE);
		out_text(o, "\n");
	}
	out_arr_end(o);
}

static void emit_summary(struct out *o, const char *key,
			 const struct findings *fs)
{
	size_t e = fs->by_severity[SEV_ERROR], w = fs->by_severity[SEV_WARNING];

	out_obj_begin(o, key);
	if (e)
		out_role(o, OUT_ROLE_ERROR);
	out_u64(o, "errors", "%llu error", e);
	out_text(o, "%s", e == 1 ? "" : "s");
	out_role(o, OUT_ROLE_NONE);
	out_text(o, ", ");
	if (w)
		out_role(o, OUT_ROLE_WARNING);
	out_u64(o, "warnings", "%llu warning", w);
	out_text(o, "%s", w == 1 ? "" : "s");
	out_role(o, OUT_ROLE_NONE);
	out_u64(o, "info", ", %llu info\n", fs->by_severity[SEV_INFO]);

	out_obj_end(o);
}

void report_fsck(struct out *o, const struct check_ctx *cx,
		 const struct check_result *cr, const struct fsck_opts *opts,
		 struct fsck_summary *sum)
{
	const struct findings *fs = &cr->findings;

	memset(sum, 0, sizeof(*sum));
	sum->errors = fs->by_severity[SEV_ERROR];
	sum->warnings = fs->by_severity[SEV_WARNING];
	sum->info = fs->by_severity[SEV_INFO];
	out_obj_begin(o, NULL);
	out_u64(o, "format_version", NULL, REPORT_FORMAT_VERSION);
	out_obj_begin(o, "snapshot");
	out_str(o, "path", "%s: ", cx->snap->path);
	out_str(o, "format", "%s", snap_format_name(cx->snap->format));
	out_str(o, "description", " (%s)", cx->snap->format_desc);
	if (cx->nr_vcpus > 0)
		out_u64(o, "vcpus", ", %llu vCPUs\n", (uint64_t)cx->nr_vcpus);
	else
		out_null(o, "vcpus", ", vCPU count unknown\n");
	out_obj_end(o);
	emit_verdict(o, cx, cr, sum);
	emit_problems(o, cr);
	emit_dropped(o, cr);
	emit_restored(o, cr);
	out_text(o, "\nSummary: ");
	emit_summary(o, "summary", fs);
	if (opts && opts->plan)
		emit_repairs(o, opts);
	if (opts && opts->after_cr) {
		struct fsck_summary after;

		memset(&after, 0, sizeof(after));
		out_text(o, "\nAfter the repair, re-read from the file:\n");
		out_obj_begin(o, "after");
		emit_verdict(o, opts->after_cx, opts->after_cr, &after);
		out_text(o, "Summary: ");
		emit_summary(o, "summary", &opts->after_cr->findings);
		out_obj_end(o);
		sum->after_errors = opts->after_cr->findings.by_severity[SEV_ERROR];
		sum->after_warnings = opts->after_cr->findings.by_severity[SEV_WARNING];
		sum->after_info = opts->after_cr->findings.by_severity[SEV_INFO];
		sum->after_restore_fails = after.restore_fails;
	}
	out_obj_end(o);
}

void report_problem_table(struct out *o)
{
	out_text(o, "%-8s  %-28s %-7s  %-6s  %s\n", "Code", "Name", "Level",
		 "Repair", "Message / KVM consequence");
	out_arr_begin(o, NULL);
	for (size_t i = 0; i < PR_COUNT; i++) {
		const struct problem_info *p = &problem_table[i];
		char num[16];

		snprintf(num, sizeof(num), "0x%06x", p->code);
		out_obj_begin(o, NULL);
		out_str(o, "number", "%-8s", num);
		out_str(o, "code", "  %-28s", p->name);
		out_str(o, "severity", " %-7s", problem_severity_name(p->severity));
		out_str(o, "repair", "  %-6s", problem_repair_name(p->repair));
		out_str(o, "message", "  %s\n", p->message);
		out_text(o, "%50s", "");
		out_str(o, "kvm", " KVM: %s\n", p->kvm);
		out_obj_end(o);
	}
	out_arr_end(o);
}
