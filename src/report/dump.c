/* The its-dump document. Every field goes through the emitter once, so the
 * text and JSON outputs carry the same content in the same order. */
#include "its/report.h"

#include <string.h>

#include "its/migstream.h"
#include "its/regs.h"

#define GPA_FMT "0x%012llx"
#define RAW_FMT "0x%016llx"

static bool want_device(const struct dump_opts *opts, uint32_t id)
{
	if (!opts->devices)
		return true;
	for (size_t i = 0; i < opts->nr_devices; i++)
		if (opts->devices[i] == id)
			return true;
	return false;
}

/* Flagged entries stand out; entries no restore reaches, or invalid ones
 * shown by --all, recede. */
static enum out_role row_role(unsigned flags, bool valid)
{
	if (flags & ITS_F_ANOMALY)
		return OUT_ROLE_WARNING;
	if (!valid || (flags & ITS_F_UNREACHABLE))
		return OUT_ROLE_DIM;
	return OUT_ROLE_NONE;
}

static void emit_flags(struct out *o, unsigned flags)
{
	bool first = true;

	out_arr_begin(o, "flags");
	for (unsigned b = 0; b < 32; b++) {
		if (!(flags & (1u << b)))
			continue;
		out_str(o, NULL, first ? "  [%s" : ",%s", its_flag_name(b));
		first = false;
	}
	if (!first)
		out_text(o, "]");
	out_arr_end(o);
}

static void emit_fields(struct out *o, const struct reg_desc *d, uint64_t v)
{
	for (size_t i = 0; i < d->nr_fields; i++) {
		const struct reg_field *f = &d->fields[i];
		uint64_t x = reg_field_value(f, v);
		const char *nm = reg_field_value_name(f, x);

		out_text(o, " %s=", f->name);
		if (f->fmt == REGF_NUM)
			out_u64(o, f->name, x < 10 ? "%llu" : "0x%llx", x);
		else
			out_hex(o, f->name, "0x%llx", x, 0);
		if (nm)
			out_text(o, "(%s)", nm);
	}
}

static void emit_reg_value(struct out *o, const char *key, const char *label,
			   bool present, uint64_t v, int digits)
{
	out_text(o, "    %-14s ", label);
	if (present)
		out_hex(o, key, digits == 16 ? RAW_FMT : "0x%08llx", v, digits);
	else
		out_null(o, key, "-");
	out_text(o, "\n");
}

void report_its_registers(struct out *o, const struct its_image_its *its)
{
	const struct its_regs_raw *r = &its->regs;
	char label[32];

	out_text(o, "  Registers:\n");
	out_obj_begin(o, "registers");
	emit_reg_value(o, "GITS_CTLR", "GITS_CTLR", r->present & ITS_REG_CTLR,
		       r->ctlr, 8);
	emit_reg_value(o, "GITS_IIDR", "GITS_IIDR", r->present & ITS_REG_IIDR,
		       r->iidr, 8);
	emit_reg_value(o, "GITS_CBASER", "GITS_CBASER",
		       r->present & ITS_REG_CBASER, r->cbaser, 16);
	emit_reg_value(o, "GITS_CWRITER", "GITS_CWRITER",
		       r->present & ITS_REG_CWRITER, r->cwriter, 16);
	emit_reg_value(o, "GITS_CREADR", "GITS_CREADR",
		       r->present & ITS_REG_CREADR, r->creadr, 16);
	out_arr_begin(o, "GITS_BASER");
	for (unsigned n = 0; n < ITS_NR_BASER; n++) {
		snprintf(label, sizeof(label), "GITS_BASER%u", n);
		emit_reg_value(o, NULL, label, r->present & ITS_REG_BASER(n),
			       r->baser[n], 16);
	}
	out_arr_end(o);
	out_obj_end(o);

	out_text(o, "  Register fields:\n");
	out_obj_begin(o, "fields");
	if (r->present & ITS_REG_CTLR) {
		out_text(o, "    %-14s", "GITS_CTLR");
		out_obj_begin(o, "GITS_CTLR");
		emit_fields(o, &reg_gits_ctlr, r->ctlr);
		out_obj_end(o);
		out_text(o, "\n");
	}
	if (r->present & ITS_REG_IIDR) {
		out_text(o, "    %-14s", "GITS_IIDR");
		out_obj_begin(o, "GITS_IIDR");
		emit_fields(o, &reg_gits_iidr, r->iidr);
		out_obj_end(o);
		out_text(o, "\n");
	}
	/* GITS_TYPER is recomputed by each side of a migration, never saved */
	out_text(o, "    %-14s", "GITS_TYPER");
	out_obj_begin(o, "GITS_TYPER");
	out_hex(o, "value", " 0x%llx", its->layout->typer, 0);
	out_str(o, "implied_by", " (implied by layout %s, not saved in snapshots):",
		its->layout->name);
	emit_fields(o, &reg_gits_typer, its->layout->typer);
	out_obj_end(o);
	out_text(o, "\n");
	if (r->present & ITS_REG_CBASER) {
		out_text(o, "    %-14s", "GITS_CBASER");
		out_obj_begin(o, "GITS_CBASER");
		emit_fields(o, &reg_gits_cbaser, r->cbaser);
		out_obj_end(o);
		out_text(o, "\n");
	}
	if (r->present & ITS_REG_CWRITER) {
		out_text(o, "    %-14s", "GITS_CWRITER");
		out_obj_begin(o, "GITS_CWRITER");
		emit_fields(o, &reg_gits_cwriter, r->cwriter);
		out_obj_end(o);
		out_text(o, "\n");
	}
	if (r->present & ITS_REG_CREADR) {
		out_text(o, "    %-14s", "GITS_CREADR");
		out_obj_begin(o, "GITS_CREADR");
		emit_fields(o, &reg_gits_creadr, r->creadr);
		out_obj_end(o);
		out_text(o, "\n");
	}
	out_arr_begin(o, "GITS_BASER");
	for (unsigned n = 0; n < ITS_NR_BASER; n++) {
		if (!(r->present & ITS_REG_BASER(n)) || !r->baser[n])
			continue;
		snprintf(label, sizeof(label), "GITS_BASER%u", n);
		out_text(o, "    %-14s", label);
		out_obj_begin(o, NULL);
		out_u64(o, "n", NULL, n);
		emit_fields(o, &reg_gits_baser, r->baser[n]);
		out_obj_end(o);
		out_text(o, "\n");
	}
	out_arr_end(o);
	out_obj_end(o);
}

static void emit_ram_regions(struct out *o, const struct snapshot *s)
{
	out_text(o, "  RAM regions:\n    %-22s %-18s %s\n", "Name", "GPA", "Size");
	out_arr_begin(o, "ram");
	for (size_t i = 0; i < gmem_nr_regions(s->mem); i++) {
		const struct gmem_region *r = gmem_region_at(s->mem, i);

		out_obj_begin(o, NULL);
		out_str(o, "name", "    %-22s", r->name);
		out_hex(o, "gpa", " 0x%016llx", r->gpa, 0);
		out_hex(o, "size", " 0x%llx\n", r->size, 0);
		out_obj_end(o);
	}
	out_arr_end(o);
}

/* A stream's RAMBlocks with where their pages came from. */
static void emit_ram_blocks(struct out *o, const struct migstream_info *mi)
{
	out_text(o, "  RAM blocks:\n    %-22s %-18s %-12s %8s %8s %8s %8s\n",
		 "Name", "GPA", "Size", "data", "zero", "absent", "resent");
	out_arr_begin(o, "ram");
	for (size_t i = 0; i < mi->nr_blocks; i++) {
		const struct migstream_ramblock *b = &mi->blocks[i];

		out_obj_begin(o, NULL);
		out_str(o, "name", "    %-22s", b->name);
		if (b->mapped)
			out_hex(o, "gpa", " 0x%016llx", b->gpa, 0);
		else
			out_null(o, "gpa", " -                 ");
		out_hex(o, "size", " 0x%-10llx", b->used_length, 0);
		out_obj_begin(o, "pages");
		out_u64(o, "data", " %8llu", b->pages_data);
		out_u64(o, "zero", " %8llu", b->pages_zero);
		out_u64(o, "absent", " %8llu", b->pages_absent);
		out_u64(o, "resent", " %8llu", b->pages_resent);
		out_obj_end(o);
		out_str(o, "role", "  %s", b->role ? b->role : "");
		out_text(o, "%s\n", b->mapped ? "" : " (not mapped: GPA unknown)");
		out_obj_end(o);
	}
	out_arr_end(o);
}

static void emit_sections(struct out *o, const struct migstream_info *mi)
{
	out_text(o, "  Sections:\n    [%5s] %-12s %10s  %-15s %4s %-32s %4s %4s\n",
		 "Nr", "Offset", "Size", "Type", "Id", "Name", "Inst", "Ver");
	out_arr_begin(o, "sections");
	for (size_t i = 0; i < mi->nr_records; i++) {
		const struct migstream_record *r = &mi->records[i];
		bool sect = r->type >= QEMU_VM_SECTION_START &&
			    r->type <= QEMU_VM_SECTION_FULL;

		out_obj_begin(o, NULL);
		out_u64(o, "index", "    [%5llu]", i);
		out_hex(o, "offset", " 0x%010llx", r->offset, 0);
		out_u64(o, "size", " %10llu", r->size);
		out_str(o, "type", "  %-15s", migstream_record_type_name(r->type));
		if (sect) {
			out_u64(o, "section_id", " %4llu", r->section_id);
			out_str(o, "name", " %-32s", r->idstr);
			out_u64(o, "instance_id", " %4llu", r->instance_id);
			out_u64(o, "version_id", " %4llu", r->version_id);
		} else if (r->type == QEMU_VM_COMMAND) {
			out_u64(o, "command", " %4llu", r->command);
			out_str(o, "name", " %s", migstream_command_name(r->command));
		}
		if (r->flags & MIGSTREAM_REC_SIZE_GUESSED)
			out_str(o, "note", "  %s", "size found by the section footer");
		else if (r->flags & MIGSTREAM_REC_SIZE_UNKNOWN)
			out_str(o, "note", "  %s", "the read stopped in this record");
		out_text(o, "\n");
		out_obj_end(o);
	}
	out_arr_end(o);
	if (mi->nr_records_seen > mi->nr_records)
		out_u64(o, "sections_not_listed", "    ... and %llu more records\n",
			mi->nr_records_seen - mi->nr_records);
}

static void emit_snapshot(struct out *o, const struct snapshot *s,
			  const struct dump_opts *opts)
{
	const struct migstream_info *mi = migstream_info(s);

	out_obj_begin(o, "snapshot");
	out_str(o, "path", "Snapshot: %s\n", s->path);
	out_str(o, "format", "  format: %s", snap_format_name(s->format));
	out_str(o, "description", " (%s)\n", s->format_desc);
	if (mi)
		out_str(o, "machine", "  machine: %s\n", mi->machine);
	if (s->nr_vcpus >= 0)
		out_u64(o, "vcpus", "  vCPUs: %llu\n", (uint64_t)s->nr_vcpus);
	else
		out_null(o, "vcpus", "  vCPUs: unknown\n");
	if (mi)
		emit_ram_blocks(o, mi);
	else
		emit_ram_regions(o, s);
	if (mi && opts->sections)
		emit_sections(o, mi);
	if (mi) {
		out_arr_begin(o, "warnings");
		for (size_t i = 0; i < mi->nr_warnings; i++) {
			out_text(o, "  ");
			out_role(o, OUT_ROLE_WARNING);
			out_str(o, NULL, "warning: %s", mi->warnings[i]);
			out_role(o, OUT_ROLE_NONE);
			out_text(o, "\n");
		}
		out_arr_end(o);
	}
	out_obj_end(o);
}

static void emit_collections(struct out *o, const struct its_image_its *its,
			     const struct dump_opts *opts,
			     struct dump_summary *sum)
{
	const struct its_table_info *t = &its->ct;

	out_obj_begin(o, "collection_table");
	out_text(o, "  Collection table:");
	out_bool(o, "valid", "", " not valid (GITS_BASER1.Valid = 0)\n", t->valid);
	if (t->valid) {
		out_hex(o, "gpa", " GPA 0x%llx", t->gpa, 0);
		out_u64(o, "bytes", ", %llu bytes", t->bytes);
		out_u64(o, "slots", ", %llu slots", t->slots);
		if (!its->layout->collections_indexed)
			out_u64(o, "terminator",
				", list ends at slot %llu", its->ct_terminator);
		out_text(o, "\n");
	}
	out_obj_end(o);

	out_arr_begin(o, "collections");
	if (t->valid)
		out_text(o, "    %6s %6s %10s  %-14s  %s\n", "Slot", "ICID",
			 "Target", "GPA", "Raw");
	for (size_t i = 0; i < its->nr_ctes; i++) {
		const struct its_cte_rec *c = &its->ctes[i];

		if (!c->e.valid && !opts->all) {
			sum->hidden++;
			continue;
		}
		if (c->e.valid && (c->flags & ITS_F_UNREACHABLE))
			sum->unreachable++;
		else if (c->e.valid)
			sum->collections++;
		if (c->flags & ITS_F_ANOMALY)
			sum->flagged++;
		out_obj_begin(o, NULL);
		out_text(o, "    ");
		out_role(o, row_role(c->flags, c->e.valid));
		out_u64(o, "slot", "%6llu", c->slot);
		out_u64(o, "icid", " %6llu", c->e.icid);
		out_u64(o, "target", " %10llu", c->e.target);
		out_hex(o, "gpa", "  " GPA_FMT, c->gpa, 0);
		out_hex(o, "raw", "  " RAW_FMT, c->e.raw, 16);
		out_bool(o, "valid", "", "  invalid", c->e.valid);
		out_bool(o, "mapped", "", "  unmapped",
			 c->e.target != COLLECTION_NOT_MAPPED);
		emit_flags(o, c->flags);
		out_role(o, OUT_ROLE_NONE);
		out_text(o, "\n");
		out_obj_end(o);
	}
	out_arr_end(o);
}

static void emit_device_table(struct out *o, const struct its_image_its *its,
			      const struct dump_opts *opts,
			      struct dump_summary *sum)
{
	const struct its_table_info *t = &its->dt;

	out_obj_begin(o, "device_table");
	out_text(o, "  Device table:");
	out_bool(o, "valid", "", " not valid (GITS_BASER0.Valid = 0)\n", t->valid);
	if (t->valid) {
		out_hex(o, "gpa", " GPA 0x%llx", t->gpa, 0);
		out_u64(o, "bytes", ", %llu bytes", t->bytes);
		out_bool(o, "indirect", ", two-level", ", flat", t->indirect);
		out_u64(o, "entries", ", %llu DeviceIDs", t->ids);
		if (t->indirect) {
			out_u64(o, "l1_entries", " in %llu L1 entries",
				t->slots);
			out_u64(o, "l2_page_bytes", " of %llu-byte L2 pages",
				t->l2_bytes);
		}
		out_text(o, "\n");
	}
	out_arr_begin(o, "l1");
	if (t->valid && t->indirect)
		out_text(o, "    %6s  %-14s  %-18s  %s\n", "L1", "GPA", "Raw",
			 "L2 page");
	for (size_t i = 0; i < its->nr_l1; i++) {
		const struct its_l1_rec *l = &its->l1[i];

		if (!l->e.valid && !opts->all) {
			sum->hidden++;
			continue;
		}
		if (l->flags & ITS_F_ANOMALY)
			sum->flagged++;
		out_obj_begin(o, NULL);
		out_text(o, "    ");
		out_role(o, row_role(l->flags, l->e.valid));
		out_u64(o, "index", "%6llu", l->index);
		out_hex(o, "gpa", "  " GPA_FMT, l->gpa, 0);
		out_hex(o, "raw", "  " RAW_FMT, l->e.raw, 16);
		out_hex(o, "l2", "  " GPA_FMT, l->e.l2, 0);
		out_bool(o, "valid", "", "  invalid", l->e.valid);
		emit_flags(o, l->flags);
		out_role(o, OUT_ROLE_NONE);
		out_text(o, "\n");
		out_obj_end(o);
	}
	out_arr_end(o);
	out_obj_end(o);
}

/* itt_read: whether a restore reads this ITT at all (not when it never
 * reaches the device, or rejects its DTE): when not, every valid ITE is
 * one it never reaches. */
static void emit_events(struct out *o, const struct its_layout *layout,
			const struct its_dev_rec *d, bool itt_read,
			const struct dump_opts *opts, struct dump_summary *sum)
{
	unsigned inherited = itt_read ? 0 : ITS_F_UNREACHABLE;
	struct its_chain chain;
	bool header = false;

	its_chain_start(&chain, NULL);
	out_arr_begin(o, "events");
	for (size_t j = 0; j < d->nr_events; j++) {
		const struct its_ite_rec *e = &d->events[j];
		unsigned flags = e->flags;

		if (layout->has_next)
			flags |= its_chain_ite(&chain, e, d->event_bits);
		if (!e->e.valid && !opts->all) {
			sum->hidden++;
			continue;
		}
		if (!header) {
			out_text(o, "      %6s %10s %6s %6s  %-14s  %s\n",
				 "Event", "LPI", "ICID", "Next", "GPA", "Raw");
			header = true;
		}
		if (e->e.valid && ((flags | inherited) & ITS_F_UNREACHABLE))
			sum->unreachable++;
		else if (e->e.valid)
			sum->events++;
		if (flags & ITS_F_ANOMALY)
			sum->flagged++;
		out_obj_begin(o, NULL);
		out_text(o, "      ");
		out_role(o, row_role(flags | inherited, e->e.valid));
		out_u64(o, "event_id", "%6llu", e->event_id);
		out_u64(o, "lpi", " %10llu", e->e.lpi);
		out_u64(o, "icid", " %6llu", e->e.icid);
		if (layout->has_next)
			out_u64(o, "next", " %6llu", e->e.next);
		else
			out_text(o, " %6s", "-");
		out_hex(o, "gpa", "  " GPA_FMT, e->gpa, 0);
		out_hex_le(o, "raw", "  %s", e->e.raw, layout->ite_size);
		if (!layout->has_next) {
			/* QEMU's ITE carries GICv4 fields KVM's does not */
			out_str(o, "int_type", "  %s",
				e->e.physical ? "physical" : "virtual");
			out_u64(o, "vpe_id", " vPEID=%llu", e->e.vpe_id);
			out_u64(o, "doorbell", " doorbell=%llu", e->e.doorbell);
		}
		out_bool(o, "valid", "", "  invalid", e->e.valid);
		emit_flags(o, flags);
		out_role(o, OUT_ROLE_NONE);
		out_text(o, "\n");
		out_obj_end(o);
	}
	out_arr_end(o);
}

static void emit_devices(struct out *o, const struct its_image_its *its,
			 const struct dump_opts *opts, struct dump_summary *sum)
{
	struct its_chain chain;

	out_text(o, "  Devices:\n");
	if (its->nr_devs)
		out_text(o, "    %-10s %-14s %4s %6s  %-14s  %s\n", "DeviceID",
			 "ITT", "Bits", "Next", "GPA", "Raw");
	its_chain_start(&chain, its);
	out_arr_begin(o, "devices");
	for (size_t i = 0; i < its->nr_devs; i++) {
		const struct its_dev_rec *d = &its->devs[i];
		unsigned flags = d->flags;
		bool itt_read = true;

		/* the list runs through every entry, shown or not */
		if (its->layout->has_next && !(flags & ITS_F_IN_INVALID_L1))
			flags |= its_chain_dte(&chain, d, &itt_read);
		if (!want_device(opts, d->device_id))
			continue;
		if (!d->e.valid && !opts->all) {
			sum->hidden++;
			continue;
		}
		if (d->e.valid && (flags & ITS_F_UNREACHABLE))
			sum->unreachable++;
		else if (d->e.valid)
			sum->devices++;
		if (flags & ITS_F_ANOMALY)
			sum->flagged++;
		out_obj_begin(o, NULL);
		out_text(o, "    ");
		out_role(o, row_role(flags, d->e.valid));
		out_u64(o, "device_id", "0x%08llx", d->device_id);
		out_hex(o, "itt", " " GPA_FMT, d->e.itt, 0);
		out_u64(o, "event_id_bits", " %4llu", (uint64_t)d->e.size + 1);
		if (its->layout->has_next)
			out_u64(o, "next", " %6llu", d->e.next);
		else
			out_text(o, " %6s", "-");
		out_hex(o, "gpa", "  " GPA_FMT, d->gpa, 0);
		out_hex(o, "raw", "  " RAW_FMT, d->e.raw, 16);
		out_bool(o, "valid", "", "  invalid", d->e.valid);
		emit_flags(o, flags);
		out_role(o, OUT_ROLE_NONE);
		out_text(o, "\n");
		emit_events(o, its->layout, d, itt_read, opts, sum);
		out_obj_end(o);
	}
	out_arr_end(o);
}

static void emit_holes(struct out *o, const struct its_image_its *its,
		       struct dump_summary *sum)
{
	out_arr_begin(o, "unreadable");
	if (its->nr_holes)
		out_text(o, "  Unreadable:\n");
	for (size_t i = 0; i < its->nr_holes; i++) {
		const struct its_hole *h = &its->holes[i];

		sum->unreadable++;
		out_obj_begin(o, NULL);
		out_text(o, "    ");
		out_role(o, OUT_ROLE_ERROR);
		out_str(o, "table", "%s", its_table_name(h->table));
		if (h->table == ITS_TABLE_ITT)
			out_u64(o, "id", " of DeviceID 0x%llx", h->id);
		else if (h->table == ITS_TABLE_L2)
			out_u64(o, "id", " of L1 entry %llu", h->id);
		else
			out_u64(o, "id", NULL, h->id);
		out_hex(o, "gpa", ": GPA 0x%llx", h->gpa, 0);
		out_hex(o, "size", ", 0x%llx bytes", h->len, 0);
		out_str(o, "reason", ": %s", gmem_kind_name(h->kind));
		out_text(o, "%s", h->kind == GMEM_NOT_RAM ?
			 " (not guest RAM: KVM's read fails with EFAULT)" :
			 " (guest RAM the snapshot does not hold)");
		out_role(o, OUT_ROLE_NONE);
		out_text(o, "\n");

		out_obj_end(o);
	}
	out_arr_end(o);
}

static void emit_redistributors(struct out *o, const struct its_image *img)
{
	out_arr_begin(o, "redistributors");
	if (img->nr_rd)
		out_text(o, "\nRedistributors:\n");
	for (size_t i = 0; i < img->nr_rd; i++) {
		const struct gicr_regs_raw *r = &img->rd[i];
		bool prop = r->present & GICR_REG_PROPBASER;
		bool pend = r->present & GICR_REG_PENDBASER;

		out_obj_begin(o, NULL);
		out_u64(o, "cpu", "  CPU %llu:", r->cpu);
		out_text(o, " GICR_PROPBASER ");
		if (prop)
			out_hex(o, "GICR_PROPBASER", RAW_FMT, r->propbaser, 16);
		else
			out_null(o, "GICR_PROPBASER", "-");
		out_text(o, "  GICR_PENDBASER ");
		if (pend)
			out_hex(o, "GICR_PENDBASER", RAW_FMT, r->pendbaser, 16);
		else
			out_null(o, "GICR_PENDBASER", "-");
		out_text(o, "\n");
		out_obj_begin(o, "fields");
		if (prop) {
			out_text(o, "    GICR_PROPBASER:");
			out_obj_begin(o, "GICR_PROPBASER");
			emit_fields(o, &reg_gicr_propbaser, r->propbaser);
			out_obj_end(o);
			out_text(o, "\n");
		}
		if (pend) {
			out_text(o, "    GICR_PENDBASER:");
			out_obj_begin(o, "GICR_PENDBASER");
			emit_fields(o, &reg_gicr_pendbaser, r->pendbaser);
			out_obj_end(o);
			out_text(o, "\n");
		}
		out_obj_end(o);
		out_obj_end(o);
	}
	out_arr_end(o);
}

void report_dump(struct out *o, const struct snapshot *s,
		 const struct its_image *img, const struct dump_opts *opts,
		 struct dump_summary *sum)
{
	memset(sum, 0, sizeof(*sum));
	out_obj_begin(o, NULL);
	out_u64(o, "format_version", NULL, REPORT_FORMAT_VERSION);
	emit_snapshot(o, s, opts);
	out_arr_begin(o, "its");
	for (size_t i = 0; i < img->nr_its; i++) {
		const struct its_image_its *its = &img->its[i];

		out_obj_begin(o, NULL);
		out_u64(o, "index", "\nITS %llu\n", its->index);
		out_str(o, "layout", "  layout: %s", its->layout->name);
		out_str(o, "layout_reason", " (%s)\n", its->layout_why);
		out_str(o, "registers_source", "  registers from: %s\n",
			its->regs.source[0] ? its->regs.source :
			opts->regs_source ? opts->regs_source : "command line");
		report_its_registers(o, its);
		emit_collections(o, its, opts, sum);
		emit_device_table(o, its, opts, sum);
		emit_devices(o, its, opts, sum);
		emit_holes(o, its, sum);
		out_obj_end(o);
	}
	out_arr_end(o);
	emit_redistributors(o, img);
	out_obj_begin(o, "summary");
	out_u64(o, "collections", "\nSummary: %llu collections", sum->collections);
	out_u64(o, "devices", ", %llu devices", sum->devices);
	out_u64(o, "events", ", %llu events", sum->events);
	out_u64(o, "unreachable", "; %llu unreachable", sum->unreachable);
	out_u64(o, "flagged", ", %llu flagged entries", sum->flagged);
	out_u64(o, "unreadable", ", %llu unreadable ranges", sum->unreadable);
	out_u64(o, "hidden", "; %llu invalid entries not shown", sum->hidden);
	out_text(o, "%s\n", sum->hidden && !opts->all ? " (use --all)" : "");
	out_obj_end(o);
	out_obj_end(o);
}
