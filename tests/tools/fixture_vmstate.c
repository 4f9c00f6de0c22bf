/*
 * its-fixture: vmstate payloads and their vmdesc descriptions, written the
 * way QEMU's migration/vmstate.c and migration/savevm.c write them
 * (shared/spec/qemu-migration-stream.md §6, §8, §12, §13):
 *
 *   - fields back to back, big-endian, no tags; a struct field carries its
 *     own subsections; subsections = 05, u8 len, name, be32 version, body;
 *   - the vmdesc entry is built alongside, byte for byte as QEMU's JSON
 *     writer prints it ({"key": value, ...}, ", " and ": " separators),
 *     with "size" = bytes actually written and the 10.0 / 7.2 quirks:
 *     compressed arrays get "array_len", arrays of structs get "index" per
 *     element, and QEMU 10.0 leaves "index" out on the last element.
 *
 * The device sections: arm_gicv3 (§13, fixed layout), arm_gicv3_its (§12,
 * 96 bytes) per ITS, then timer, pflash_cfi01 x2, cpu_common/cpu per vCPU,
 * pl011, pl031, virt_acpi_build, globalstate with the layouts of the real
 * 7.2 / 10.0 samples (cpu: a small made-up payload), in QEMU's save order
 * (priority GICv3 5 > ITS 4 > default 0, then registration order).
 */
#define _GNU_SOURCE /* vasprintf */
#include "fixture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ buffers */

struct bytes {
	uint8_t *p;
	size_t len, cap;
};

static void b_put(struct bytes *b, const void *src, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		b->p = fx_realloc(b->p, cap, 1);
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void b_be(struct bytes *b, uint64_t v, unsigned n)
{
	uint8_t t[8];
	for (unsigned i = 0; i < n; i++)
		t[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	b_put(b, t, n);
}

struct text {
	char *s;
	size_t len, cap;
};

static void t_put(struct text *t, const char *s)
{
	size_t n = strlen(s);
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 1024;
		while (cap < t->len + n + 1)
			cap *= 2;
		t->s = fx_realloc(t->s, cap, 1);
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n + 1);
	t->len += n;
}

static void t_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void t_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fx_fatal("out of memory");
	t_put(t, s);
	free(s);
}

/* A JSON string as QEMU's writer prints it (names here are plain ASCII;
 * quote, backslash and control characters are escaped anyway). */
static void t_str(struct text *t, const char *s)
{
	t_put(t, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			t_printf(t, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			t_printf(t, "\\u%04x", c);
		else
			t_printf(t, "%c", c);
	}
	t_put(t, "\"");
}

/* ------------------------------------------------------------ vmstate writer */

#define VM_DEPTH 8

struct vmw {
	struct bytes pay;       /* the payload */
	struct text js;         /* the vmdesc object */
	bool qemu10;
	int depth;
	struct {
		bool subs;          /* inside "subsections" (else "fields") */
		unsigned n;         /* items emitted at this level */
		size_t start;       /* payload offset of a struct element */
	} lv[VM_DEPTH];
};

/* {"vmsd_name": ..., "version": ..., "fields": [  (the brace optional) */
static void vm_open(struct vmw *w, const char *vmsd, uint32_t version, bool brace)
{
	if (w->depth == VM_DEPTH)
		fx_fatal("internal error: vmstate nesting too deep");
	if (brace)
		t_put(&w->js, "{");
	t_put(&w->js, "\"vmsd_name\": ");
	t_str(&w->js, vmsd);
	t_printf(&w->js, ", \"version\": %u, \"fields\": [", version);
	w->lv[w->depth].subs = false;
	w->lv[w->depth].n = 0;
	w->depth++;
}

static void vm_close(struct vmw *w)
{
	w->depth--;
	t_put(&w->js, "]}");
}

/* "array_len" for compressed arrays of more than one element; "index"
 * (>= 0) for one element of an uncompressed array. */
static void field_start(struct vmw *w, const char *name, const char *type,
			size_t array_len, long index)
{
	if (w->lv[w->depth - 1].n++)
		t_put(&w->js, ", ");
	t_put(&w->js, "{\"name\": ");
	t_str(&w->js, name);
	if (array_len > 1)
		t_printf(&w->js, ", \"array_len\": %zu", array_len);
	if (index >= 0)
		t_printf(&w->js, ", \"index\": %ld", index);
	t_put(&w->js, ", \"type\": ");
	t_str(&w->js, type);
}

static void field_end(struct vmw *w, size_t size)
{
	t_printf(&w->js, ", \"size\": %zu}", size);
}

/* integers: n bytes big-endian; type as vmdesc names it */
static void vm_int(struct vmw *w, const char *name, const char *type, unsigned n, uint64_t v)
{
	field_start(w, name, type, 0, -1);
	b_be(&w->pay, v, n);
	field_end(w, n);
}

#define vm_u8(w, name, v) vm_int(w, name, "uint8", 1, v)
#define vm_u32(w, name, v) vm_int(w, name, "uint32", 4, v)
#define vm_u64(w, name, v) vm_int(w, name, "uint64", 8, v)

/* a compressed array of n integers of n_bytes each; vals NULL = zeros */
static void vm_array(struct vmw *w, const char *name, const char *type, unsigned nbytes,
		     const uint64_t *vals, size_t n)
{
	field_start(w, name, type, n, -1);
	for (size_t i = 0; i < n; i++)
		b_be(&w->pay, vals ? vals[i] : 0, nbytes);
	field_end(w, nbytes);
}

static void vm_buffer(struct vmw *w, const char *name, const char *type,
		      const void *bytes, size_t n)
{
	field_start(w, name, type, 0, -1);
	b_put(&w->pay, bytes, n);
	field_end(w, n);
}

/* element i of an array of n structs (never compressed: they carry
 * subsections); QEMU 10.0 omits "index" on the last element */
static void vm_struct_begin(struct vmw *w, const char *name, size_t i, size_t n,
			    const char *vmsd, uint32_t version)
{
	long index = -1;
	if (n > 1 && (!w->qemu10 || n - i > 1))
		index = (long)i;
	field_start(w, name, "struct", 0, index);
	t_put(&w->js, ", \"struct\": ");
	w->lv[w->depth].start = w->pay.len;
	vm_open(w, vmsd, version, true);
}

static size_t vm_struct_end(struct vmw *w)
{
	vm_close(w);
	size_t size = w->pay.len - w->lv[w->depth].start;
	field_end(w, size);
	return size;
}

static void vm_sub_begin(struct vmw *w, const char *name, uint32_t version)
{
	typeof(w->lv[0]) *l = &w->lv[w->depth - 1];
	if (!l->subs) {
		t_put(&w->js, "], \"subsections\": [");
		l->subs = true;
		l->n = 0;
	}
	if (l->n++)
		t_put(&w->js, ", ");
	size_t len = strlen(name);
	b_be(&w->pay, 0x05, 1);       /* QEMU_VM_SUBSECTION */
	b_be(&w->pay, len, 1);
	b_put(&w->pay, name, len);
	b_be(&w->pay, version, 4);
	vm_open(w, name, version, true);
}

#define vm_sub_end vm_close

/* ------------------------------------------------------------ sections */

struct builder {
	const struct fx_stream_opts *o;
	const struct fx_stream_in *in;
	struct fx_section *v;
	size_t n, cap;
	struct vmw w;
};

static void sec_begin(struct builder *b, const char *idstr, uint32_t section_id,
		      uint32_t instance_id, const char *vmsd, uint32_t version)
{
	memset(&b->w, 0, sizeof(b->w));
	b->w.qemu10 = b->o->qemu >= FX_QEMU_10_0;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->v = fx_realloc(b->v, b->cap, sizeof(*b->v));
	}
	struct fx_section *s = &b->v[b->n];
	memset(s, 0, sizeof(*s));
	s->idstr = fx_strdup(idstr);
	s->section_id = section_id;
	s->instance_id = instance_id;
	s->version_id = version;
	s->its_index = -1;
	t_put(&b->w.js, "{\"name\": ");
	t_str(&b->w.js, idstr);
	t_printf(&b->w.js, ", \"instance_id\": %u, ", instance_id);
	vm_open(&b->w, vmsd, version, false);
}

static struct fx_section *sec_end(struct builder *b)
{
	vm_close(&b->w);
	struct fx_section *s = &b->v[b->n++];
	s->payload = b->w.pay.p;
	s->len = b->w.pay.len;
	s->desc = b->w.js.s;
	return s;
}

#define GICV3_MAXIRQ 1020
#define GIC_INTERNAL 32
#define GICV3_BMP_SIZE 32      /* u32 words of an SPI bitmap */
#define GICV3_LR_MAX 16

/* §13: the fixed arm_gicv3 layout, one arm_gicv3_cpu element per vCPU */
static void build_gicv3(struct builder *b, uint32_t sid)
{
	const struct fx_stream_opts *o = b->o;
	unsigned n = b->in->vcpus;
	struct vmw *w = &b->w;
	static const char *const bitmaps[] = { "group", "grpmod", "enabled", "pending",
		"active", "level", "edge_trigger" };

	sec_begin(b, "arm_gicv3", sid, 0, "arm_gicv3", o->gicv3_version);
	size_t *off = fx_calloc(n, sizeof(*off)), *len = fx_calloc(n, sizeof(*len));

	vm_u32(w, "gicd_ctlr", o->gicd_ctlr);
	vm_array(w, "gicd_statusr", "uint32", 4, NULL, 2);
	for (size_t i = 0; i < sizeof(bitmaps) / sizeof(bitmaps[0]); i++)
		vm_array(w, bitmaps[i], "uint32", 4, NULL, GICV3_BMP_SIZE);
	vm_array(w, "gicd_ipriority", "uint8", 1, NULL, GICV3_MAXIRQ);
	vm_array(w, "gicd_irouter", "uint64", 8, NULL, GICV3_MAXIRQ);
	vm_array(w, "gicd_nsacr", "uint32", 4, NULL, 2 * GICV3_BMP_SIZE);

	for (unsigned i = 0; i < n; i++) {
		const struct fx_gicr *g = &b->in->gicr[i];
		off[i] = w->pay.len;
		vm_struct_begin(w, "cpu", i, n, "arm_gicv3_cpu", 1);
		vm_u32(w, "level", 0);
		vm_u32(w, "gicr_ctlr", o->gicr_ctlr);
		vm_array(w, "gicr_statusr", "uint32", 4, NULL, 2);
		vm_u32(w, "gicr_waker", 0);
		vm_u64(w, "gicr_propbaser", g->propbaser);
		vm_u64(w, "gicr_pendbaser", g->pendbaser);
		vm_u32(w, "gicr_igroupr0", 0);
		vm_u32(w, "gicr_ienabler0", 0);
		vm_u32(w, "gicr_ipendr0", 0);
		vm_u32(w, "gicr_iactiver0", 0);
		vm_u32(w, "edge_trigger", 0);
		vm_u32(w, "gicr_igrpmodr0", 0);
		vm_u32(w, "gicr_nsacr", 0);
		vm_array(w, "gicr_ipriorityr", "uint8", 1, NULL, GIC_INTERNAL);
		vm_array(w, "icc_ctlr_el1", "uint64", 8, NULL, 2);
		vm_u64(w, "icc_pmr_el1", 0);
		vm_array(w, "icc_bpr", "uint64", 8, NULL, 3);
		vm_array(w, "icc_apr", "uint64", 8, NULL, 3 * 4);
		vm_array(w, "icc_igrpen", "uint64", 8, NULL, 3);
		vm_u64(w, "icc_ctlr_el3", 0);
		/* §13.3, in declaration order */
		if (o->gic_virt) {
			vm_sub_begin(w, "arm_gicv3_cpu/virt", 1);
			vm_array(w, "ich_apr", "uint64", 8, NULL, 3 * 4);
			vm_u64(w, "ich_hcr_el2", 0);
			vm_array(w, "ich_lr_el2", "uint64", 8, NULL, GICV3_LR_MAX);
			vm_u64(w, "ich_vmcr_el2", 0);
			vm_sub_end(w);
		}
		if (o->sre_el1[i] != 7) {
			vm_sub_begin(w, "arm_gicv3_cpu/sre_el1", 1);
			vm_u64(w, "icc_sre_el1", o->sre_el1[i]);
			vm_sub_end(w);
		}
		if (o->gic_v4) {
			vm_sub_begin(w, "arm_gicv3_cpu/gicv4", 1);
			vm_u64(w, "gicr_vpropbaser", 0);
			vm_u64(w, "gicr_vpendbaser", 0);
			vm_sub_end(w);
		}
		if (o->gic_nmi) {
			vm_sub_begin(w, "arm_gicv3_cpu/nmi", 1);
			vm_u32(w, "gicr_inmir0", 0);
			vm_sub_end(w);
		}
		len[i] = vm_struct_end(w);
	}
	/* §13.4 */
	if (o->gic_shift_bug) {
		vm_sub_begin(w, "arm_gicv3/gicd_no_migration_shift_bug", 1);
		vm_int(w, "gicd_no_migration_shift_bug", "bool", 1, 1);
		vm_sub_end(w);
	}
	if (o->gic_nmi) {
		vm_sub_begin(w, "arm_gicv3/gicd_nmi", 1);
		vm_array(w, "nmi", "uint32", 4, NULL, GICV3_BMP_SIZE);
		vm_sub_end(w);
	}
	struct fx_section *s = sec_end(b);
	s->gicv3 = true;
	s->cpu_off = off;
	s->cpu_len = len;
	s->ncpu = n;
}

/* §12: 96 bytes, no subsections */
static void build_its(struct builder *b, uint32_t sid, size_t k)
{
	const struct fx_its_regs *r = &b->in->its[k];
	struct vmw *w = &b->w;
	sec_begin(b, "arm_gicv3_its", sid, (uint32_t)k, "arm_gicv3_its", b->o->its_version);
	vm_u32(w, "ctlr", r->ctlr);
	vm_u32(w, "iidr", r->iidr);
	vm_u64(w, "cbaser", r->cbaser);
	vm_u64(w, "cwriter", r->cwriter);
	vm_u64(w, "creadr", r->creadr);
	vm_array(w, "baser", "uint64", 8, r->baser, 8);
	sec_end(b)->its_index = (int)k;
}

/* The rest: layouts of the real samples' sections (values made up). */
static void build_timer(struct builder *b, uint32_t sid)
{
	static const uint8_t unused[8];
	sec_begin(b, "timer", sid, 0, "timer", 2);
	vm_int(&b->w, "cpu_ticks_offset", "int64", 8, 0x7e16dae6);
	vm_buffer(&b->w, "unused", "unused_buffer", unused, sizeof(unused));
	vm_int(&b->w, "cpu_clock_offset", "int64", 8, 0x1bb00b31aull);
	sec_end(b);
}

static void build_pflash(struct builder *b, uint32_t sid, uint32_t inst)
{
	sec_begin(b, "pflash_cfi01", sid, inst, "pflash_cfi01", 1);
	vm_u8(&b->w, "wcycle", 0);
	vm_u8(&b->w, "cmd", 0);
	vm_u8(&b->w, "status", 0x80);
	vm_u64(&b->w, "counter", 0);
	sec_end(b);
}

static void build_cpu_common(struct builder *b, uint32_t sid, uint32_t cpu)
{
	sec_begin(b, "cpu_common", sid, cpu, "cpu_common", 1);
	vm_u32(&b->w, "halted", 1);
	vm_u32(&b->w, "interrupt_request", 0);
	sec_end(b);
}

/* a made-up miniature of target/arm's "cpu" (the real one is ~5.6 KB) */
static void build_cpu(struct builder *b, uint32_t sid, uint32_t cpu)
{
	uint64_t xregs[32] = { 0 };
	xregs[0] = cpu;
	xregs[30] = 0xffff800008012340ull;
	xregs[31] = 0xffff80000a00fe00ull + 0x4000ull * cpu;
	sec_begin(b, "cpu", sid, cpu, "cpu", 22);
	vm_array(&b->w, "env.xregs", "uint64", 8, xregs, 32);
	vm_u64(&b->w, "env.pc", 0xffff800008a1b2c4ull);
	vm_int(&b->w, "cpsr", "cpsr", 4, 0x3c5);
	vm_int(&b->w, "power_state", "powered_off", 1, 0);
	vm_sub_begin(&b->w, "cpu/irq-line-state", 1);
	vm_u32(&b->w, "env.irq_line_state", 0);
	vm_sub_end(&b->w);
	sec_end(b);
}

static void build_pl011(struct builder *b, uint32_t sid)
{
	static const uint8_t unused[4];
	struct vmw *w = &b->w;
	sec_begin(b, "pl011", sid, 0, "pl011", 2);
	if (b->o->qemu >= FX_QEMU_10_0)
		vm_buffer(w, "unused", "unused_buffer", unused, sizeof(unused));
	else
		vm_u32(w, "readbuff", 0);
	vm_u32(w, "flags", 0x90);
	vm_u32(w, "lcr", 0x70);
	vm_u32(w, "rsr", 0);
	vm_u32(w, "cr", 0xf01);
	vm_u32(w, "dmacr", 0);
	vm_u32(w, "int_enabled", 0x50);
	vm_u32(w, "int_level", 0x20);
	vm_array(w, "read_fifo", "uint32", 4, NULL, 16);
	vm_u32(w, "ilpr", 0);
	vm_u32(w, "ibrd", 0x27);
	vm_u32(w, "fbrd", 0x4);
	vm_u32(w, "ifl", 0x12);
	vm_int(w, "read_pos", "int32", 4, 0);
	vm_int(w, "read_count", "int32", 4, 0);
	vm_int(w, "read_trigger", "int32", 4, 1);
	vm_sub_begin(w, "pl011/clock", 1);
	vm_struct_begin(w, "clk", 0, 1, "clock", 0);
	vm_u64(w, "period", 0);
	vm_struct_end(w);
	vm_sub_end(w);
	sec_end(b);
}

static void build_pl031(struct builder *b, uint32_t sid)
{
	struct vmw *w = &b->w;
	sec_begin(b, "pl031", sid, 0, "pl031", 1);
	vm_u32(w, "tick_offset_vmstate", 0x6b0bbf30);
	vm_u32(w, "mr", 0);
	vm_u32(w, "lr", 0);
	vm_u32(w, "cr", 0);
	vm_u32(w, "im", 0);
	vm_u32(w, "is", 0);
	vm_sub_begin(w, "pl031/tick-offset", 1);
	vm_u32(w, "tick_offset", 0);
	vm_sub_end(w);
	sec_end(b);
}

static void build_acpi(struct builder *b, uint32_t sid)
{
	sec_begin(b, "virt_acpi_build", sid, 0, "virt_acpi_build", 1);
	vm_int(&b->w, "patched", "bool", 1, 0);
	sec_end(b);
}

/* runstate before migration: "paused" for a stopped VM, "running" live */
static void build_globalstate(struct builder *b, uint32_t sid)
{
	const char *rs = b->o->passes > 1 ? "running" : "paused";
	uint8_t buf[100] = { 0 };
	memcpy(buf, rs, strlen(rs));
	sec_begin(b, "globalstate", sid, 0, "globalstate", 1);
	vm_u32(&b->w, "size", strlen(rs) + 1);
	if (b->o->qemu >= FX_QEMU_10_0) {
		static const uint8_t unused[66];
		vm_buffer(&b->w, "runstate", "buffer", buf, 32);
		vm_u8(&b->w, "has_vm_was_suspended", 1);
		vm_u8(&b->w, "vm_was_suspended", 0);
		vm_buffer(&b->w, "unused", "buffer", unused, sizeof(unused));
	} else {
		vm_buffer(&b->w, "runstate", "buffer", buf, 100);
	}
	sec_end(b);
}

/*
 * Section ids follow the registration order of the real samples: 10.0:
 * timer 0, ram 1, pflash 3/4, cpu_common/cpu from 5, arm_gicv3 after the
 * CPUs, then the ITSes; 7.2 counts one more in front of ram and of pflash
 * (timer 0, ram 2, pflash 4/5, ...).  The stream order is by priority.
 */
void fx_build_sections(const struct fx_stream_opts *o, const struct fx_stream_in *in,
		       uint32_t *ram_section_id, struct fx_section **out, size_t *n)
{
	struct builder b = { .o = o, .in = in };
	uint32_t base = o->qemu >= FX_QEMU_10_0 ? 0 : 1;
	uint32_t cpus = 5 + base;
	uint32_t gic = cpus + 2 * in->vcpus;
	uint32_t its = gic + 1;
	uint32_t rest = its + (uint32_t)in->nits;

	*ram_section_id = 1 + base;
	build_gicv3(&b, gic);
	for (size_t k = 0; k < in->nits; k++)
		build_its(&b, its + (uint32_t)k, k);
	build_timer(&b, 0);
	build_pflash(&b, 3 + base, 0);
	build_pflash(&b, 4 + base, 1);
	for (unsigned i = 0; i < in->vcpus; i++) {
		build_cpu_common(&b, cpus + 2 * i, i);
		build_cpu(&b, cpus + 2 * i + 1, i);
	}
	build_pl011(&b, rest);
	build_pl031(&b, rest + 1);
	build_acpi(&b, rest + 2);
	build_globalstate(&b, rest + 3);
	*out = b.v;
	*n = b.n;
}

/*
 * The CONFIGURATION record's payload (§3: be32 len, machine name, then the
 * subsections) and its vmdesc object (written by QEMU 10.0 only).
 */
void fx_build_configuration(const struct fx_stream_opts *o, uint8_t **payload,
			    size_t *len, char **desc)
{
	struct vmw w = { .qemu10 = o->qemu >= FX_QEMU_10_0 };
	size_t mlen = strlen(o->machine);

	vm_open(&w, "configuration", 1, true);
	vm_u32(&w, "len", mlen);
	vm_buffer(&w, "name", "buffer", o->machine, mlen);
	/* arm's minimum target page bits is 10: only larger values are sent */
	if (o->page_bits > 10) {
		vm_sub_begin(&w, "configuration/target-page-bits", 1);
		vm_u32(&w, "target_page_bits", o->page_bits);
		vm_sub_end(&w);
	}
	if (o->mapped_ram) {
		static const char cap[] = "mapped-ram";
		vm_sub_begin(&w, "configuration/capabilities", 1);
		vm_u32(&w, "caps_count", 1);
		field_start(&w, "capabilities", "capability", 1, -1);
		b_be(&w.pay, strlen(cap), 1);
		b_put(&w.pay, cap, strlen(cap));
		field_end(&w, 1 + strlen(cap));
		vm_sub_end(&w);
	}
	vm_close(&w);
	*payload = w.pay.p;
	*len = w.pay.len;
	*desc = w.js.s;
}

void fx_sections_free(struct fx_section *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].idstr);
		free(v[i].payload);
		free(v[i].desc);
		free(v[i].cpu_off);
		free(v[i].cpu_len);
	}
	free(v);
}
