/* --format=dot: the translation path DeviceID -> EventID/LPI -> collection
 * -> vCPU as a Graphviz digraph. Walk flags and its-fsck's findings colour
 * the entries they name: errors red, warnings orange, entries the restore
 * never reads dashed; a path that cannot translate ends in a red node.
 * Node IDs are built from IDs only (d_<its>_0x<DeviceID>, ...) so that they
 * are valid and stable; every label is escaped, since a path or a name can
 * hold anything. */
#include "view.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "its/layout.h"
#include "its/regs.h"

/* Problem names written into a label (the tooltip has all kept ones). */
#define DOT_LABEL_NOTES		2

#define DOT_RED			"red"
#define DOT_RED_FILL		"#ffd6d6"
#define DOT_ORANGE		"darkorange"
#define DOT_ORANGE_FILL		"#ffe4b5"
#define DOT_GREY		"grey50"

struct sbuf {
	char s[8192];
	size_t n;
};

static void __attribute__((format(printf, 2, 3)))
sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->n >= sizeof(b->s) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->n += (size_t)n < sizeof(b->s) - b->n ? (size_t)n :
			sizeof(b->s) - 1 - b->n;
}

/* A DOT quoted string: quotes and backslashes escaped (a backslash would
 * otherwise start an escape such as \N or \l), new lines as \n, other
 * control and non-ASCII bytes as '?' (dot wants valid UTF-8). */
static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c < 0x20 || c >= 0x7f) {
			fputc('?', f);
		} else {
			fputc(c, f);
		}
	}
	fputc('"', f);
}

/* How a node looks: what is wrong with it and how it is drawn. */
struct look {
	const char *shape;
	const char *base_style;		/* "dotted", or NULL */
	const struct view_mark *mark;	/* its-fsck, or NULL */
	unsigned flags;			/* ITS_F_* */
	bool invalid;			/* shown by --all */
	bool broken;			/* the path cannot translate here */
};

static void add_flag_names(struct sbuf *b, unsigned flags, unsigned mask)
{
	bool first = true;

	for (unsigned bit = 0; bit < 32; bit++) {
		if (!(flags & mask & (1u << bit)))
			continue;
		sb_add(b, "%s%s", first ? "" : ", ", its_flag_name(bit));
		first = false;
	}
}

/* Extra label lines: what a reader must see without hovering. */
static void label_notes(struct sbuf *b, const struct look *l)
{
	const struct view_mark *m = l->mark;

	if (l->flags & (ITS_F_ANOMALY | ITS_F_UNREACHABLE)) {
		sb_add(b, "\n[");
		add_flag_names(b, l->flags, ITS_F_ANOMALY | ITS_F_UNREACHABLE);
		sb_add(b, "]");
	}
	if (m && m->has_problem) {
		unsigned shown = m->nr < DOT_LABEL_NOTES ? m->nr : DOT_LABEL_NOTES;

		sb_add(b, "\n");
		for (unsigned i = 0; i < shown; i++)
			sb_add(b, "%s%s", i ? ", " : "", problem_table[m->prob[i]].name);
		if (m->nr > shown)
			sb_add(b, " +%u more", m->nr - shown);
	}
	if (m && m->dropped)
		sb_add(b, "\nnot restored: %s", restore_drop_reason_name(m->drop_reason));
}

static void tooltip(struct sbuf *b, const struct look *l)
{
	const struct view_mark *m = l->mark;
	const char *sep = "";

	if (m && m->has_problem) {
		unsigned kept = m->nr < VIEW_MAX_NOTES ? m->nr : VIEW_MAX_NOTES;

		for (unsigned i = 0; i < kept; i++) {
			const struct problem_info *p = &problem_table[m->prob[i]];

			sb_add(b, "%s%s (%s): %s", sep, p->name,
			       problem_severity_name(p->severity), p->message);
			sep = "\n";
		}
		if (m->nr > kept)
			sb_add(b, "%sand %u more problems", sep, m->nr - kept);
		sep = "\n";
	}
	if (m && m->dropped) {
		sb_add(b, "%snot restored by KVM: %s", sep,
		       restore_drop_reason_name(m->drop_reason));
		sep = "\n";
	}
	if (l->flags) {
		sb_add(b, "%swalk flags: ", sep);
		add_flag_names(b, l->flags, ~0u);
	}
}

static void node(FILE *f, const char *id, const struct look *l,
		 struct sbuf *label)
{
	const struct view_mark *m = l->mark;
	bool error = l->broken || (m && m->has_problem && m->worst == SEV_ERROR);
	bool warning = !error && m && m->has_problem && m->worst == SEV_WARNING;
	bool dashed = (m && m->dropped) || (l->flags & ITS_F_UNREACHABLE) ||
		      l->invalid;
	const char *color = NULL, *fill = NULL;
	bool bold = false;
	struct sbuf tip = { .n = 0 };
	char style[32] = "";

	if (error) {
		color = DOT_RED;
		fill = DOT_RED_FILL;
		bold = true;
	} else if (warning) {
		color = DOT_ORANGE;
		fill = DOT_ORANGE_FILL;
		bold = true;
	} else if ((m && m->dropped) || l->invalid) {
		color = DOT_GREY;
	} else if (l->flags & (ITS_F_ANOMALY | ITS_F_UNREACHABLE)) {
		color = DOT_ORANGE;
		bold = (l->flags & ITS_F_ANOMALY) != 0;
	}
	label_notes(label, l);
	snprintf(style, sizeof(style), "%s%s%s%s%s",
		 l->base_style ? l->base_style : "",
		 l->base_style && dashed ? "," : "", dashed ? "dashed" : "",
		 (l->base_style || dashed) && fill ? "," : "", fill ? "filled" : "");
	fprintf(f, "\t%s [shape=%s, label=", id, l->shape);
	put_quoted(f, label->s);
	if (color)
		fprintf(f, ", color=\"%s\"", color);
	if (style[0])
		fprintf(f, ", style=\"%s\"", style);
	if (fill)
		fprintf(f, ", fillcolor=\"%s\"", fill);
	if (bold)
		fputs(", penwidth=2", f);
	tooltip(&tip, l);
	if (tip.n) {
		fputs(", tooltip=", f);
		put_quoted(f, tip.s);
	}
	fputs("];\n", f);
}

static void coll_id(char *buf, size_t len, unsigned its,
		    const struct view_coll *c)
{
	if (c->primary)
		snprintf(buf, len, "c_%u_%u", its, c->icid);
	else
		snprintf(buf, len, "c_%u_%u_s%u", its, c->icid, c->rec->slot);
}

static void emit_vcpus(FILE *f, const struct view *v)
{
	for (size_t i = 0; i < v->nr_vcpus; i++) {
		const struct view_vcpu *c = &v->vcpus[i];
		struct look l = { .shape = "box3d", .mark = v->fsck ? &c->mark : NULL,
				  .broken = !c->exists };
		struct sbuf lb = { .n = 0 };
		char id[32];

		snprintf(id, sizeof(id), "v_%u", c->cpu);
		sb_add(&lb, "vCPU %u", c->cpu);
		if (c->has_pend)
			sb_add(&lb, "\npending 0x%llx",
			       (unsigned long long)GICR_PENDBASER_ADDRESS(c->pendbaser));
		if (!c->exists)
			sb_add(&lb, "\nno such vCPU (%d in the VM)", v->nr_vm_vcpus);
		node(f, id, &l, &lb);
	}
}

/* The edge of a drawn or collapsed event to its collection. */
static void coll_edge(FILE *f, const char *from, unsigned n,
		      const struct view_coll *c, const char *extra)
{
	char cid[48];

	coll_id(cid, sizeof(cid), n, c);
	fprintf(f, "\t%s -> %s", from, cid);
	if (!c->rec)
		fprintf(f, " [%scolor=\"" DOT_RED "\", penwidth=2]", extra);
	else if (c->rec->flags & ITS_F_UNREACHABLE)
		fprintf(f, " [%scolor=\"" DOT_ORANGE "\", style=dashed]", extra);
	else if (extra[0])
		fprintf(f, " [%sstyle=dotted]", extra);
	fputs(";\n", f);
}

/* A device and its events in a box of their own (the ITT): dot then keeps
 * them together instead of sorting events by collection. Edges to the
 * collections are written after the box, which they would pull in. */
static void emit_dev(FILE *f, const struct view *v, unsigned n,
		     const struct view_its *vi, const struct view_dev *vd)
{
	const struct its_dev_rec *d = vd->rec;
	struct look l = { .shape = "box", .mark = v->fsck ? &vd->mark : NULL,
			  .flags = d->flags, .invalid = !d->e.valid };
	struct sbuf lb = { .n = 0 };
	char did[48], mid[48], eid[64];

	snprintf(did, sizeof(did), "d_%u_0x%x", n, d->device_id);
	snprintf(mid, sizeof(mid), "m_%u_0x%x", n, d->device_id);
	fprintf(f, "\tsubgraph cluster_%s {\n\tlabel=\"\"; style=rounded; color=\"grey80\";\n", did);
	sb_add(&lb, "DeviceID 0x%x\nITT 0x%llx", d->device_id,
	       (unsigned long long)d->e.itt);
	if (vd->itt_bytes)
		sb_add(&lb, "\n%llu B, %u EventID bit%s",
		       (unsigned long long)vd->itt_bytes, d->event_bits,
		       d->event_bits == 1 ? "" : "s");
	else
		sb_add(&lb, " (not read)");
	if (!d->e.valid)
		sb_add(&lb, "\n(invalid DTE)");
	node(f, did, &l, &lb);
	for (size_t j = 0; j < vd->nr_events; j++) {
		const struct its_ite_rec *e = vi->events[vd->first_event + j].rec;
		struct look el = { .shape = "ellipse",
				   .mark = v->fsck ? &vi->events[vd->first_event + j].mark : NULL,
				   .flags = e->flags, .invalid = !e->e.valid };

		lb.n = 0;
		lb.s[0] = '\0';
		snprintf(eid, sizeof(eid), "e_%u_0x%x_%u", n, d->device_id,
			 e->event_id);
		sb_add(&lb, "EventID %u", e->event_id);
		if (!e->e.valid)
			sb_add(&lb, "\n(invalid ITE)");
		else if (!e->e.physical)
			sb_add(&lb, "\nvirtual, vPEID %u", e->e.vpe_id);
		else
			sb_add(&lb, "\nLPI %u", e->e.lpi);
		node(f, eid, &el, &lb);
		fprintf(f, "\t%s -> %s%s;\n", did, eid,
			e->e.valid ? "" : " [style=dashed, color=\"" DOT_GREY "\"]");
	}
	if (vd->nr_more) {
		struct look ml = { .shape = "box", .base_style = "dotted",
				   .mark = v->fsck ? &vd->more_mark : NULL };

		lb.n = 0;
		lb.s[0] = '\0';
		sb_add(&lb, "... %zu more event%s", vd->nr_more,
		       vd->nr_more == 1 ? "" : "s");
		node(f, mid, &ml, &lb);
		fprintf(f, "\t%s -> %s [style=dotted];\n", did, mid);
	}
	fputs("\t}\n", f);
	for (size_t j = 0; j < vd->nr_events; j++) {
		const struct view_event *ve = &vi->events[vd->first_event + j];

		if (ve->coll < 0)
			continue;
		snprintf(eid, sizeof(eid), "e_%u_0x%x_%u", n, d->device_id,
			 ve->rec->event_id);
		coll_edge(f, eid, n, &vi->colls[ve->coll], "");
	}
	for (size_t k = 0; k < vd->nr_edges; k++) {
		const struct view_edge *ed = &vi->more_edges[vd->first_edge + k];
		char extra[48];

		snprintf(extra, sizeof(extra), "label=\"%zu\", ", ed->count);
		coll_edge(f, mid, n, &vi->colls[ed->coll], extra);
	}
}

static void emit_colls(FILE *f, const struct view *v, unsigned n,
		       const struct view_its *vi)
{
	for (size_t i = 0; i < vi->nr_colls; i++) {
		const struct view_coll *c = &vi->colls[i];
		struct look l = { .shape = "hexagon",
				  .mark = v->fsck ? &c->mark : NULL };
		struct sbuf lb = { .n = 0 };
		char cid[48];

		coll_id(cid, sizeof(cid), n, c);
		sb_add(&lb, "ICID %u", c->icid);
		if (!c->rec) {
			l.broken = true;
			sb_add(&lb, "\nno collection");
		} else {
			l.flags = c->rec->flags;
			l.invalid = !c->rec->e.valid;
			if (!c->primary || l.invalid)
				sb_add(&lb, "\nslot %u", c->rec->slot);
			if (l.invalid)
				sb_add(&lb, "\n(invalid CTE)");
			else if (c->rec->e.target == COLLECTION_NOT_MAPPED)
				sb_add(&lb, "\ntarget unmapped");
		}
		node(f, cid, &l, &lb);
	}
	if (vi->unmapped) {
		struct look l = { .shape = "octagon", .broken = true };
		struct sbuf lb = { .n = 0 };
		char xid[32];

		snprintf(xid, sizeof(xid), "x_%u", n);
		sb_add(&lb, "unmapped\n(no vCPU)");
		node(f, xid, &l, &lb);
	}
	if (v->fsck && vi->mark.has_problem) {
		struct look l = { .shape = "note", .mark = &vi->mark };
		struct sbuf lb = { .n = 0 };
		char pid[32];

		snprintf(pid, sizeof(pid), "p_%u", n);
		sb_add(&lb, "ITS %u", n);
		node(f, pid, &l, &lb);
	}
}

/* Collection -> vCPU edges, outside every cluster: an edge inside one would
 * pull the vCPU node into that ITS's box. */
static void emit_targets(FILE *f, const struct view *v, unsigned n,
			 const struct view_its *vi)
{
	for (size_t i = 0; i < vi->nr_colls; i++) {
		const struct view_coll *c = &vi->colls[i];
		char cid[48];

		if (!c->rec || !c->rec->e.valid)
			continue;
		coll_id(cid, sizeof(cid), n, c);
		if (c->vcpu < 0) {
			fprintf(f, "\t%s -> x_%u [color=\"" DOT_RED "\", penwidth=2];\n",
				cid, n);
			continue;
		}
		fprintf(f, "\t%s -> v_%u%s;\n", cid, v->vcpus[c->vcpu].cpu,
			!v->vcpus[c->vcpu].exists ?
			" [color=\"" DOT_RED "\", penwidth=2]" :
			(c->rec->flags & ITS_F_UNREACHABLE) || !c->primary ?
			" [style=dashed]" : "");
	}
}

static void graph_label(struct sbuf *b, const struct view *v)
{
	const struct dump_summary *s = &v->sum;

	sb_add(b, "%s: %s\n", v->fsck ? "its-fsck" : "its-dump", v->snap->path);
	if (v->nr_its == 1)
		sb_add(b, "ITS 0, layout %s; ", v->its[0].its->layout->name);
	if (v->fsck) {
		sb_add(b, "%s", v->verdict);
		return;
	}
	sb_add(b, "%zu collection%s, %zu device%s, %zu event%s", s->collections,
	       s->collections == 1 ? "" : "s", s->devices,
	       s->devices == 1 ? "" : "s", s->events, s->events == 1 ? "" : "s");
	if (s->unreachable || s->flagged || s->unreadable)
		sb_add(b, "; %zu unreachable, %zu flagged, %zu unreadable",
		       s->unreachable, s->flagged, s->unreadable);
}

int report_dot(FILE *f, const struct view *v, struct its_err *err)
{
	struct sbuf lb = { .n = 0 };
	bool clusters = v->nr_its > 1;

	graph_label(&lb, v);
	fputs("digraph its {\n\tgraph [rankdir=LR, labelloc=t, fontname=\"Helvetica\", fontsize=12, label=", f);
	put_quoted(f, lb.s);
	fputs("];\n\tnode [fontname=\"Helvetica\", fontsize=10];\n"
	      "\tedge [fontname=\"Helvetica\", fontsize=9];\n", f);
	emit_vcpus(f, v);
	for (unsigned n = 0; n < v->nr_its; n++) {
		const struct view_its *vi = &v->its[n];

		if (clusters) {
			lb.n = 0;
			lb.s[0] = '\0';
			sb_add(&lb, "ITS %u (layout %s)", n, vi->its->layout->name);
			fprintf(f, "\tsubgraph cluster_its%u {\n\tlabel=", n);
			put_quoted(f, lb.s);
			fputs(";\n", f);
		}
		for (size_t i = 0; i < vi->nr_devs; i++)
			emit_dev(f, v, n, vi, &vi->devs[i]);
		emit_colls(f, v, n, vi);
		if (clusters)
			fputs("\t}\n", f);
	}
	for (unsigned n = 0; n < v->nr_its; n++)
		emit_targets(f, v, n, &v->its[n]);
	fputs("}\n", f);
	if (fflush(f) != 0 || ferror(f))
		return its_err_set(err, -EIO, NULL, ITS_ERR_NO_OFFSET,
				   "error writing the output");
	return 0;
}
