/*
 * its-fixture: turn a readable JSON spec of a synthetic arm64 guest into a
 * dump-guest-memory style ELF64 core, or a QEMU migration stream (bare or
 * behind a libvirt save header), the matching registers JSON and a manifest
 * of every ITS table entry written.
 *
 *   its-fixture SPEC.json -o OUT [--format elf|stream|libvirt]
 *                         [--regs OUT.regs.json] [--manifest OUT.manifest.json]
 *
 * The spec format is documented in tests/fixtures/README.  Entry encodings
 * follow shared/spec/kvm-its-abi.md §1.2-1.7 (KVM ITS table ABI rev 0) and
 * §4.1 (GITS_BASER); the stream follows shared/spec/qemu-migration-stream.md
 * (fixture_stream.c, fixture_vmstate.c); nothing is taken from the its-tools
 * sources.
 *
 * Exit status: 0 written, 1 operational error (I/O), 2 bad spec or usage.
 */
#define _GNU_SOURCE /* vasprintf */
#include "fixture.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ ABI constants
 * kvm-its-abi.md §1.2 (DTE), §1.3 (ITE), §1.4 (CTE), §1.5 (L1 entry),
 * §4.1 (GITS_BASER). */
#define KVM_ITS_DTE_VALID_SHIFT 63
#define KVM_ITS_DTE_NEXT_SHIFT 49
#define KVM_ITS_DTE_NEXT_MAX 0x3fffull          /* 14 bits, save caps at 16383 */
#define KVM_ITS_DTE_ITTADDR_SHIFT 5
#define KVM_ITS_DTE_ITTADDR_MASK 0x0001ffffffffffe0ull /* [48:5] */
#define KVM_ITS_DTE_SIZE_MASK 0x1full
#define KVM_ITS_ITE_NEXT_SHIFT 48
#define KVM_ITS_ITE_NEXT_MAX 0xffffull
#define KVM_ITS_ITE_PINTID_SHIFT 16
#define KVM_ITS_ITE_PINTID_MASK 0x0000ffffffff0000ull  /* [47:16] */
#define KVM_ITS_ITE_ICID_MASK 0xffffull
#define KVM_ITS_CTE_VALID_SHIFT 63
#define KVM_ITS_CTE_RDBASE_SHIFT 16
#define KVM_ITS_CTE_ICID_MASK 0xffffull
#define KVM_ITS_L1E_VALID_SHIFT 63
#define KVM_ITS_L1E_ADDR_MASK 0x000fffffffff0000ull    /* [51:16] */
#define COLLECTION_NOT_MAPPED 0xffffffffull

#define ITS_ESZ 8u
#define ITS_PAGE 0x10000ull                    /* KVM forces 64 KiB ITS pages */
#define L2_DTES (ITS_PAGE / ITS_ESZ)            /* 8192 DeviceIDs per L2 page */
#define PA_LIMIT (1ull << 52)

#define GITS_BASER_VALID (1ull << 63)
#define GITS_BASER_INDIRECT (1ull << 62)
#define GITS_BASER_INNERCACHE_SHIFT 59
#define GITS_BASER_RaWaWb 7ull
#define GITS_BASER_TYPE_SHIFT 56
#define GITS_BASER_TYPE_DEVICE 1ull
#define GITS_BASER_TYPE_COLLECTION 4ull
#define GITS_BASER_ENTRY_SIZE_SHIFT 48
#define GITS_BASER_SHAREABILITY_SHIFT 10
#define GITS_BASER_InnerShareable 1ull
#define GITS_BASER_PAGE_SIZE_SHIFT 8
#define GITS_BASER_PAGE_SIZE_64K 2ull
#define GITS_BASER_NR_BASER 8

#define DEFAULT_GITS_CTLR 0x80000001ull
#define DEFAULT_GITS_IIDR 0x4b00043bull

/* ------------------------------------------------------------ model */

struct entry {
	char *path;      /* spec location, for messages */
	uint64_t gpa;
	uint64_t enc;    /* value the writer encoded */
	uint64_t final;  /* value in the image at the end */
	bool has_raw;    /* "raw" given: enc = raw */
	bool written;    /* false: target not file-backed (allow_outside_ram) */
};

struct l1e {
	struct entry e;
	uint64_t index, l2;
	bool valid;
};

struct cte {
	struct entry e;
	uint64_t slot, icid, target;
	bool valid;
};

struct ite {
	struct entry e;
	uint64_t event_id, lpi, icid, next;
	bool next_auto, live;
};

struct dte {
	struct entry e;
	uint64_t device_id, itt, size, next;
	unsigned bits;   /* EventID bits: bounds the spec's event IDs */
	bool valid, next_auto, live;
	struct ite *ev;
	size_t nev;
};

struct table {
	bool present;
	uint64_t gpa, pages;
	bool indirect, valid;
};

struct its {
	uint64_t ctlr, iidr, cbaser, cwriter, creadr;
	uint64_t baser[GITS_BASER_NR_BASER];
	bool baser_given[GITS_BASER_NR_BASER];
	struct table dt, ct;
	struct l1e *l1;
	size_t nl1;
	struct cte *coll;
	size_t ncoll;
	struct dte *dev;
	size_t ndev;
};

struct redist {
	uint64_t cpu, propbaser, pendbaser;
	bool has_prop, has_pend;
};

enum rawop_kind { RAW_U64, RAW_HEX, RAW_FILL };

struct rawop {
	char *path;
	enum rawop_kind kind;
	uint64_t gpa, len, u64;
	uint8_t *bytes;
	uint8_t fill;
	bool written;
};

static struct {
	const char *spec_path;
	json_object *root;
	const char *description;
	unsigned vcpus;
	bool allow_outside_ram;
	struct fx_ram ram;
	struct its *its;
	size_t nits;
	struct redist *rd;
	size_t nrd;
	struct rawop *raw;
	size_t nraw;
	struct fx_phdr_patch *patch;
	size_t npatch;
	bool truncate;
	uint64_t truncate_to;
	struct entry **entries;   /* every encoded entry */
	size_t nentries, entries_cap;
	struct fx_block *blocks;  /* every "ram" element, spec order */
	size_t nblocks;
	enum fx_format format;
	struct fx_stream_opts so;
	struct fx_stream *stream; /* after writing a stream */
} S;

/* ------------------------------------------------------------ utilities */

static const char *progname = "its-fixture";

void fx_spec_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: %s: ", progname, S.spec_path ? S.spec_path : "SPEC");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void fx_fatal(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void *fx_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		fx_fatal("out of memory");
	return p;
}

void *fx_realloc(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		fx_fatal("out of memory");
	size_t bytes = n * size;
	void *q = realloc(p, bytes ? bytes : 1);
	if (!q)
		fx_fatal("out of memory");
	return q;
}

char *fx_strdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		fx_fatal("out of memory");
	return p;
}

char *fx_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fx_fatal("out of memory");
	return s;
}

/* ------------------------------------------------------------ JSON access */

/* Every object accepts "comment" (ignored) besides its own keys. */
static void check_keys(json_object *o, const char *path, const char *const *allowed)
{
	if (!json_object_is_type(o, json_type_object))
		fx_spec_error("%s: expected a JSON object", *path ? path : "top level");
	json_object_object_foreach(o, key, val) {
		(void)val;
		bool ok = !strcmp(key, "comment");
		for (const char *const *a = allowed; !ok && *a; a++)
			ok = !strcmp(key, *a);
		if (!ok)
			fx_spec_error("%s%sunknown key \"%s\"", path, *path ? ": " : "", key);
	}
}

/* A key whose value is JSON null counts as absent. */
static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

/* A number: a non-negative JSON integer, or a string "0x<hex>" or "<decimal>". */
static uint64_t parse_u64(json_object *v, const char *what)
{
	if (json_object_is_type(v, json_type_int)) {
		if (json_object_get_int64(v) < 0)
			fx_spec_error("%s: negative number", what);
		return json_object_get_uint64(v);
	}
	if (!json_object_is_type(v, json_type_string))
		fx_spec_error("%s: expected an integer or a \"0x...\" string", what);

	const char *s = json_object_get_string(v);
	int base = 10;
	const char *digits = s;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		digits = s + 2;
	}
	if (!*digits)
		fx_spec_error("%s: \"%s\" is not a number", what, s);
	for (const char *p = digits; *p; p++) {
		bool ok = base == 16 ? strchr("0123456789abcdefABCDEF", *p) != NULL
				     : (*p >= '0' && *p <= '9');
		if (!ok)
			fx_spec_error("%s: \"%s\" is not a number", what, s);
	}
	errno = 0;
	unsigned long long x = strtoull(digits, NULL, base);
	if (errno == ERANGE)
		fx_spec_error("%s: \"%s\" does not fit in 64 bits", what, s);
	return x;
}

static bool get_u64(json_object *o, const char *key, const char *path, uint64_t *out)
{
	json_object *v = get(o, key);
	if (!v)
		return false;
	char *what = fx_printf("%s%s%s", path, *path ? "." : "", key);
	*out = parse_u64(v, what);
	free(what);
	return true;
}

static uint64_t req_u64(json_object *o, const char *key, const char *path)
{
	uint64_t x;
	if (!get_u64(o, key, path, &x))
		fx_spec_error("%s%s\"%s\" is missing", path, *path ? ": " : "", key);
	return x;
}

static uint64_t get_u64_max(json_object *o, const char *key, const char *path,
			    uint64_t dflt, uint64_t max)
{
	uint64_t x = dflt;
	if (get_u64(o, key, path, &x) && x > max)
		fx_spec_error("%s%s%s: 0x%llx is larger than 0x%llx", path, *path ? "." : "", key,
			      (unsigned long long)x, (unsigned long long)max);
	return x;
}

static bool get_bool(json_object *o, const char *key, const char *path, bool dflt)
{
	json_object *v = get(o, key);
	if (!v)
		return dflt;
	if (!json_object_is_type(v, json_type_boolean))
		fx_spec_error("%s%s%s: expected true or false", path, *path ? "." : "", key);
	return json_object_get_boolean(v);
}

static json_object *get_array(json_object *o, const char *key, const char *path)
{
	json_object *v = get(o, key);
	if (v && !json_object_is_type(v, json_type_array))
		fx_spec_error("%s%s%s: expected an array", path, *path ? "." : "", key);
	return v;
}

static size_t array_len(json_object *a)
{
	return a ? json_object_array_length(a) : 0;
}

/* "next": "auto" (default) or a number <= max. */
static void get_next(json_object *o, const char *path, uint64_t max, unsigned bits,
		     bool *is_auto, uint64_t *val)
{
	json_object *v = get(o, "next");
	*is_auto = true;
	*val = 0;
	if (!v)
		return;
	if (json_object_is_type(v, json_type_string) &&
	    !strcmp(json_object_get_string(v), "auto"))
		return;
	char *what = fx_printf("%s.next", path);
	*val = parse_u64(v, what);
	if (*val > max)
		fx_spec_error("%s: %llu does not fit in the %u-bit next field", what,
			      (unsigned long long)*val, bits);
	free(what);
	*is_auto = false;
}

static void check_gpa(uint64_t gpa, uint64_t align, const char *path, const char *key)
{
	if (gpa >= PA_LIMIT)
		fx_spec_error("%s.%s: 0x%llx is beyond the 52-bit physical address space",
			      path, key, (unsigned long long)gpa);
	if (gpa % align)
		fx_spec_error("%s.%s: 0x%llx is not aligned to 0x%llx", path, key,
			      (unsigned long long)gpa, (unsigned long long)align);
}

static void add_entry(struct entry *e)
{
	if (S.nentries == S.entries_cap) {
		S.entries_cap = S.entries_cap ? S.entries_cap * 2 : 256;
		S.entries = fx_realloc(S.entries, S.entries_cap, sizeof(*S.entries));
	}
	S.entries[S.nentries++] = e;
}

/* ------------------------------------------------------------ RAM */

static int cmp_region(const void *a, const void *b)
{
	const struct fx_region *x = a, *y = b;
	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

static void parse_ranges(json_object *a, const char *key, struct fx_range **out, size_t *nout)
{
	static const char *const keys[] = { "gpa", "size", NULL };
	size_t n = array_len(a);
	*out = fx_calloc(n, sizeof(**out));
	*nout = n;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(a, i);
		char *path = fx_printf("%s[%zu]", key, i);
		check_keys(o, path, keys);
		struct fx_range *r = &(*out)[i];
		r->gpa = req_u64(o, "gpa", path);
		r->size = req_u64(o, "size", path);
		if (!r->size)
			fx_spec_error("%s.size: must not be 0", path);
		if (r->gpa + r->size < r->gpa)
			fx_spec_error("%s: range wraps around 2^64", path);
		/* must lie inside one RAM region */
		bool inside = false;
		for (size_t k = 0; k < S.ram.nregions; k++) {
			const struct fx_region *g = &S.ram.regions[k];
			if (r->gpa >= g->gpa && r->gpa + r->size <= g->gpa + g->size)
				inside = true;
		}
		if (!inside)
			fx_spec_error("%s: 0x%llx+0x%llx is not inside one RAM region", path,
				      (unsigned long long)r->gpa, (unsigned long long)r->size);
		free(path);
	}
}

static void parse_ram(json_object *root)
{
	static const char *const keys[] = { "name", "gpa", "size", "stream_only", NULL };
	json_object *a = get_array(root, "ram", "");
	size_t n = array_len(a), nguest = 0;
	if (!n)
		fx_spec_error("ram: at least one RAM region is required");

	/* guest RAM regions (a GPA and not stream_only) go to the RAM model;
	 * the others are RAMBlocks of the stream only, all zero */
	S.ram.regions = fx_calloc(n, sizeof(*S.ram.regions));
	S.blocks = fx_calloc(n, sizeof(*S.blocks));
	S.nblocks = n;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(a, i);
		char *path = fx_printf("ram[%zu]", i);
		check_keys(o, path, keys);
		struct fx_block *b = &S.blocks[i];
		json_object *name = get(o, "name");
		if (name && !json_object_is_type(name, json_type_string))
			fx_spec_error("%s.name: expected a string", path);
		char *nm = name ? fx_strdup(json_object_get_string(name)) : fx_printf("ram%zu", i);
		/* "gpa": null (given, but null) = a RAMBlock with no GPA */
		json_object *g = NULL;
		if (!json_object_object_get_ex(o, "gpa", &g))
			fx_spec_error("%s: \"gpa\" is missing (null for a stream-only block)", path);
		b->has_gpa = get_u64(o, "gpa", path, &b->gpa);
		b->size = req_u64(o, "size", path);
		b->stream_only = get_bool(o, "stream_only", path, false) || !b->has_gpa;
		if (!b->size)
			fx_spec_error("%s.size: must not be 0", path);
		if (b->has_gpa && (b->gpa + b->size < b->gpa || b->gpa + b->size > PA_LIMIT))
			fx_spec_error("%s: 0x%llx+0x%llx is beyond the 52-bit physical address space",
				      path, (unsigned long long)b->gpa, (unsigned long long)b->size);
		if (b->stream_only) {
			b->name = nm;
			free(path);
			continue;
		}
		struct fx_region *r = &S.ram.regions[nguest++];
		r->name = nm;
		r->gpa = b->gpa;
		r->size = b->size;
		r->spec_index = i;
		r->npages = (size_t)((r->size + FX_PAGE_SIZE - 1) / FX_PAGE_SIZE);
		r->pages = fx_calloc(r->npages, sizeof(*r->pages));
		free(path);
	}
	if (!nguest)
		fx_spec_error("ram: at least one guest RAM region (with a \"gpa\", not \"stream_only\") is required");
	S.ram.nregions = nguest;
	qsort(S.ram.regions, nguest, sizeof(*S.ram.regions), cmp_region);
	for (size_t i = 1; i < nguest; i++) {
		const struct fx_region *p = &S.ram.regions[i - 1], *r = &S.ram.regions[i];
		if (p->gpa + p->size > r->gpa)
			fx_spec_error("ram: regions \"%s\" and \"%s\" overlap", p->name, r->name);
	}
	for (size_t i = 0; i < nguest; i++) {
		struct fx_block *b = &S.blocks[S.ram.regions[i].spec_index];
		b->name = S.ram.regions[i].name;
		b->region = &S.ram.regions[i];
	}
	for (size_t i = 0; i < n; i++) {
		const struct fx_block *b = &S.blocks[i];
		if (!b->stream_only || !b->has_gpa)
			continue;
		for (size_t k = 0; k < nguest; k++) {
			const struct fx_region *r = &S.ram.regions[k];
			if (b->gpa < r->gpa + r->size && r->gpa < b->gpa + b->size)
				fx_spec_error("ram: stream_only \"%s\" overlaps region \"%s\"",
					      b->name, r->name);
		}
	}

	parse_ranges(get_array(root, "holes", ""), "holes", &S.ram.holes, &S.ram.nholes);
	parse_ranges(get_array(root, "absent", ""), "absent", &S.ram.absent, &S.ram.nabsent);

	/* holes and absent ranges must not overlap each other */
	size_t nall = S.ram.nholes + S.ram.nabsent;
	for (size_t i = 0; i < nall; i++)
		for (size_t j = i + 1; j < nall; j++) {
			const struct fx_range *x = i < S.ram.nholes ? &S.ram.holes[i]
							      : &S.ram.absent[i - S.ram.nholes];
			const struct fx_range *y = j < S.ram.nholes ? &S.ram.holes[j]
							      : &S.ram.absent[j - S.ram.nholes];
			if (x->gpa < y->gpa + y->size && y->gpa < x->gpa + x->size)
				fx_spec_error("holes/absent: 0x%llx+0x%llx and 0x%llx+0x%llx overlap",
					      (unsigned long long)x->gpa, (unsigned long long)x->size,
					      (unsigned long long)y->gpa, (unsigned long long)y->size);
		}
}

/* "fill": one object or an array of {gpa, size, pattern, seed} */
static void parse_fill(json_object *root)
{
	static const char *const keys[] = { "gpa", "size", "pattern", "seed", NULL };
	json_object *v = get(root, "fill");
	if (!v)
		return;
	bool one = json_object_is_type(v, json_type_object);
	if (!one && !json_object_is_type(v, json_type_array))
		fx_spec_error("fill: expected an object or an array of objects");
	size_t n = one ? 1 : array_len(v);
	S.ram.fills = fx_calloc(n, sizeof(*S.ram.fills));
	S.ram.nfills = n;
	for (size_t i = 0; i < n; i++) {
		json_object *o = one ? v : json_object_array_get_idx(v, i);
		char *path = one ? fx_strdup("fill") : fx_printf("fill[%zu]", i);
		check_keys(o, path, keys);
		struct fx_fill *f = &S.ram.fills[i];
		f->gpa = req_u64(o, "gpa", path);
		f->size = req_u64(o, "size", path);
		get_u64(o, "seed", path, &f->seed);
		if (!f->size)
			fx_spec_error("%s.size: must not be 0", path);
		bool inside = false;
		for (size_t k = 0; k < S.ram.nregions; k++) {
			const struct fx_region *g = &S.ram.regions[k];
			if (f->gpa >= g->gpa && f->gpa - g->gpa < g->size &&
			    f->size <= g->size - (f->gpa - g->gpa))
				inside = true;
		}
		if (!inside)
			fx_spec_error("%s: 0x%llx+0x%llx is not inside one RAM region", path,
				      (unsigned long long)f->gpa, (unsigned long long)f->size);
		json_object *pt = get(o, "pattern");
		const char *ps = pt && json_object_is_type(pt, json_type_string)
				 ? json_object_get_string(pt) : NULL;
		if (pt && !ps)
			fx_spec_error("%s.pattern: expected \"random\" or \"counter\"", path);
		if (!ps || !strcmp(ps, "random"))
			f->pattern = FX_FILL_RANDOM;
		else if (!strcmp(ps, "counter"))
			f->pattern = FX_FILL_COUNTER;
		else
			fx_spec_error("%s.pattern: \"%s\" is not \"random\" or \"counter\"", path, ps);
		free(path);
	}
}

/* ------------------------------------------------------------ ITS spec */

static void parse_table(json_object *o, const char *path, bool device, struct table *t)
{
	static const char *const dkeys[] = { "gpa", "indirect", "pages", "valid", NULL };
	static const char *const ckeys[] = { "gpa", "pages", "valid", NULL };
	check_keys(o, path, device ? dkeys : ckeys);
	t->present = true;
	t->gpa = req_u64(o, "gpa", path);
	check_gpa(t->gpa, ITS_PAGE, path, "gpa");
	t->pages = get_u64_max(o, "pages", path, 1, 256);
	if (t->pages == 0)
		fx_spec_error("%s.pages: must be 1..256", path);
	t->indirect = device && get_bool(o, "indirect", path, false);
	t->valid = get_bool(o, "valid", path, true);
}

/* The canonical value KVM itself holds (kvm-its-abi.md §2.4, §4.1). */
static uint64_t canonical_baser(const struct table *t, uint64_t type)
{
	if (!t->present)
		return 0;
	return (t->valid ? GITS_BASER_VALID : 0) |
	       (t->indirect ? GITS_BASER_INDIRECT : 0) |
	       (GITS_BASER_RaWaWb << GITS_BASER_INNERCACHE_SHIFT) |
	       (type << GITS_BASER_TYPE_SHIFT) |
	       ((uint64_t)(ITS_ESZ - 1) << GITS_BASER_ENTRY_SIZE_SHIFT) |
	       (t->gpa & 0x0000ffffffff0000ull) |
	       (((t->gpa >> 48) & 0xf) << 12) |
	       (GITS_BASER_InnerShareable << GITS_BASER_SHAREABILITY_SHIFT) |
	       (GITS_BASER_PAGE_SIZE_64K << GITS_BASER_PAGE_SIZE_SHIFT) |
	       (t->pages - 1);
}

static void parse_registers(json_object *o, const char *path, struct its *its)
{
	static const char *const keys[] = { "GITS_CTLR", "GITS_IIDR", "GITS_CBASER",
		"GITS_CWRITER", "GITS_CREADR", "GITS_BASER", NULL };
	its->ctlr = DEFAULT_GITS_CTLR;
	its->iidr = DEFAULT_GITS_IIDR;
	if (!o)
		return;
	check_keys(o, path, keys);
	its->ctlr = get_u64_max(o, "GITS_CTLR", path, DEFAULT_GITS_CTLR, 0xffffffffull);
	its->iidr = get_u64_max(o, "GITS_IIDR", path, DEFAULT_GITS_IIDR, 0xffffffffull);
	get_u64(o, "GITS_CBASER", path, &its->cbaser);
	get_u64(o, "GITS_CWRITER", path, &its->cwriter);
	get_u64(o, "GITS_CREADR", path, &its->creadr);
	json_object *b = get_array(o, "GITS_BASER", path);
	if (array_len(b) > GITS_BASER_NR_BASER)
		fx_spec_error("%s.GITS_BASER: at most 8 values", path);
	for (size_t i = 0; i < array_len(b); i++) {
		json_object *v = json_object_array_get_idx(b, i);
		if (!v || (json_object_is_type(v, json_type_string) &&
			   !strcmp(json_object_get_string(v), "auto")))
			continue;
		char *what = fx_printf("%s.GITS_BASER[%zu]", path, i);
		its->baser[i] = parse_u64(v, what);
		its->baser_given[i] = true;
		free(what);
	}
}

static int cmp_l1(const void *a, const void *b)
{
	const struct l1e *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_cte(const void *a, const void *b)
{
	const struct cte *x = a, *y = b;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static int cmp_dte(const void *a, const void *b)
{
	const struct dte *x = a, *y = b;
	return x->device_id < y->device_id ? -1 : x->device_id > y->device_id;
}

static int cmp_ite(const void *a, const void *b)
{
	const struct ite *x = a, *y = b;
	return x->event_id < y->event_id ? -1 : x->event_id > y->event_id;
}

static void parse_l1(json_object *a, const char *ipath, struct its *its)
{
	static const char *const keys[] = { "index", "l2", "valid", "raw", NULL };
	size_t n = array_len(a);
	if (n && !(its->dt.present && its->dt.indirect))
		fx_spec_error("%s.l1: needs an indirect device_table", ipath);
	its->l1 = fx_calloc(n, sizeof(*its->l1));
	its->nl1 = n;
	uint64_t nslots = its->dt.pages * ITS_PAGE / ITS_ESZ;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(a, i);
		struct l1e *l = &its->l1[i];
		l->e.path = fx_printf("%s.l1[%zu]", ipath, i);
		check_keys(o, l->e.path, keys);
		l->index = req_u64(o, "index", l->e.path);
		if (l->index >= nslots)
			fx_spec_error("%s.index: %llu is beyond the level-1 table (%llu entries)",
				      l->e.path, (unsigned long long)l->index,
				      (unsigned long long)nslots);
		l->valid = get_bool(o, "valid", l->e.path, true);
		l->e.has_raw = get_u64(o, "raw", l->e.path, &l->e.enc);
		if (!get_u64(o, "l2", l->e.path, &l->l2)) {
			if (!l->e.has_raw)
				fx_spec_error("%s: \"l2\" is missing", l->e.path);
			l->l2 = l->e.enc & KVM_ITS_L1E_ADDR_MASK;
		}
		check_gpa(l->l2, ITS_PAGE, l->e.path, "l2");
		if (!l->e.has_raw)
			l->e.enc = ((uint64_t)l->valid << KVM_ITS_L1E_VALID_SHIFT) |
				   (l->l2 & KVM_ITS_L1E_ADDR_MASK);
		l->e.gpa = its->dt.gpa + l->index * ITS_ESZ;
	}
	qsort(its->l1, n, sizeof(*its->l1), cmp_l1);
	for (size_t i = 1; i < n; i++)
		if (its->l1[i].index == its->l1[i - 1].index)
			fx_spec_error("%s and %s: same level-1 index %llu", its->l1[i - 1].e.path,
				      its->l1[i].e.path, (unsigned long long)its->l1[i].index);
}

static void parse_collections(json_object *a, const char *ipath, struct its *its)
{
	static const char *const keys[] = { "icid", "target", "valid", "slot", "raw", NULL };
	size_t n = array_len(a);
	if (n && !its->ct.present)
		fx_spec_error("%s.collections: needs a collection_table", ipath);
	its->coll = fx_calloc(n, sizeof(*its->coll));
	its->ncoll = n;
	uint64_t nslots = its->ct.pages * ITS_PAGE / ITS_ESZ;
	uint64_t next_slot = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(a, i);
		struct cte *c = &its->coll[i];
		c->e.path = fx_printf("%s.collections[%zu]", ipath, i);
		check_keys(o, c->e.path, keys);
		c->e.has_raw = get_u64(o, "raw", c->e.path, &c->e.enc);
		if (!c->e.has_raw) {
			c->icid = req_u64(o, "icid", c->e.path);
			if (c->icid > KVM_ITS_CTE_ICID_MASK)
				fx_spec_error("%s.icid: %llu does not fit in 16 bits", c->e.path,
					      (unsigned long long)c->icid);
			json_object *t = get(o, "target");
			if (!t)
				fx_spec_error("%s: \"target\" is missing", c->e.path);
			if (json_object_is_type(t, json_type_string) &&
			    !strcmp(json_object_get_string(t), "unmapped")) {
				c->target = COLLECTION_NOT_MAPPED;
			} else {
				c->target = get_u64_max(o, "target", c->e.path, 0, 0xffffffffull);
			}
			c->valid = get_bool(o, "valid", c->e.path, true);
			c->e.enc = ((uint64_t)c->valid << KVM_ITS_CTE_VALID_SHIFT) |
				   (c->target << KVM_ITS_CTE_RDBASE_SHIFT) | c->icid;
		} else if (get(o, "icid") || get(o, "target") || get(o, "valid")) {
			fx_spec_error("%s: \"raw\" replaces icid/target/valid; give only one", c->e.path);
		}
		c->slot = next_slot;
		get_u64(o, "slot", c->e.path, &c->slot);
		if (c->slot >= nslots)
			fx_spec_error("%s.slot: %llu is beyond the collection table (%llu entries)",
				      c->e.path, (unsigned long long)c->slot,
				      (unsigned long long)nslots);
		next_slot = c->slot + 1;
		c->e.gpa = its->ct.gpa + c->slot * ITS_ESZ;
	}
	qsort(its->coll, n, sizeof(*its->coll), cmp_cte);
	for (size_t i = 1; i < n; i++)
		if (its->coll[i].slot == its->coll[i - 1].slot)
			fx_spec_error("%s and %s: same slot %llu", its->coll[i - 1].e.path,
				      its->coll[i].e.path, (unsigned long long)its->coll[i].slot);
}

static unsigned bits_for(uint64_t max_id)
{
	unsigned b = 1;
	while (b < 32 && (max_id >> b))
		b++;
	return b;
}

static void parse_events(json_object *a, struct dte *d)
{
	static const char *const keys[] = { "event_id", "lpi", "icid", "next", "raw", NULL };
	size_t n = array_len(a);
	d->ev = fx_calloc(n, sizeof(*d->ev));
	d->nev = n;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(a, i);
		struct ite *t = &d->ev[i];
		t->e.path = fx_printf("%s.events[%zu]", d->e.path, i);
		check_keys(o, t->e.path, keys);
		t->event_id = get_u64_max(o, "event_id", t->e.path, 0, 0xffffffffull);
		if (!get(o, "event_id"))
			fx_spec_error("%s: \"event_id\" is missing", t->e.path);
		t->e.has_raw = get_u64(o, "raw", t->e.path, &t->e.enc);
		if (t->e.has_raw) {
			if (get(o, "lpi") || get(o, "icid") || get(o, "next"))
				fx_spec_error("%s: \"raw\" replaces lpi/icid/next; give only one",
					      t->e.path);
			t->live = (t->e.enc & KVM_ITS_ITE_PINTID_MASK) != 0;
		} else {
			if (!get(o, "lpi"))
				fx_spec_error("%s: \"lpi\" is missing", t->e.path);
			t->lpi = get_u64_max(o, "lpi", t->e.path, 0, 0xffffffffull);
			t->icid = get_u64_max(o, "icid", t->e.path, 0, KVM_ITS_ITE_ICID_MASK);
			get_next(o, t->e.path, KVM_ITS_ITE_NEXT_MAX, 16, &t->next_auto, &t->next);
			t->live = t->lpi != 0;   /* pINTID 0 = invalid ITE (§1.3) */
		}
	}
	qsort(d->ev, n, sizeof(*d->ev), cmp_ite);
	for (size_t i = 1; i < n; i++)
		if (d->ev[i].event_id == d->ev[i - 1].event_id)
			fx_spec_error("%s and %s: same event_id %llu", d->ev[i - 1].e.path,
				      d->ev[i].e.path, (unsigned long long)d->ev[i].event_id);
}

static void parse_devices(json_object *a, const char *ipath, struct its *its)
{
	static const char *const keys[] = { "device_id", "itt", "event_id_bits", "size",
		"next", "valid", "raw", "events", NULL };
	size_t n = array_len(a);
	if (n && !its->dt.present)
		fx_spec_error("%s.devices: needs a device_table", ipath);
	its->dev = fx_calloc(n, sizeof(*its->dev));
	its->ndev = n;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(a, i);
		struct dte *d = &its->dev[i];
		d->e.path = fx_printf("%s.devices[%zu]", ipath, i);
		check_keys(o, d->e.path, keys);
		if (!get(o, "device_id"))
			fx_spec_error("%s: \"device_id\" is missing", d->e.path);
		d->device_id = get_u64_max(o, "device_id", d->e.path, 0, 0xffffffffull);
		parse_events(get_array(o, "events", d->e.path), d);

		d->e.has_raw = get_u64(o, "raw", d->e.path, &d->e.enc);
		if (d->e.has_raw && (get(o, "valid") || get(o, "next")))
			fx_spec_error("%s: \"raw\" replaces valid/next; give only one", d->e.path);
		if (!get_u64(o, "itt", d->e.path, &d->itt)) {
			if (!d->e.has_raw)
				fx_spec_error("%s: \"itt\" is missing", d->e.path);
			d->itt = ((d->e.enc & KVM_ITS_DTE_ITTADDR_MASK) >> KVM_ITS_DTE_ITTADDR_SHIFT) << 8;
		}
		check_gpa(d->itt, 256, d->e.path, "itt");

		uint64_t bits = 0;
		bool has_bits = get_u64(o, "event_id_bits", d->e.path, &bits);
		if (has_bits && (bits < 1 || bits > 32))
			fx_spec_error("%s.event_id_bits: must be 1..32", d->e.path);
		bool has_size = get_u64(o, "size", d->e.path, &d->size);
		if (has_size && d->size > KVM_ITS_DTE_SIZE_MASK)
			fx_spec_error("%s.size: %llu does not fit in 5 bits", d->e.path,
				      (unsigned long long)d->size);
		if (!has_bits) {
			if (has_size)
				bits = d->size + 1;
			else if (d->e.has_raw)
				bits = (d->e.enc & KVM_ITS_DTE_SIZE_MASK) + 1;
			else
				bits = bits_for(d->nev ? d->ev[d->nev - 1].event_id : 1);
		}
		if (!has_size)
			d->size = bits - 1;
		d->bits = (unsigned)bits;
		for (size_t k = 0; k < d->nev; k++) {
			if (bits < 32 && d->ev[k].event_id >> bits)
				fx_spec_error("%s.event_id: %llu does not fit in %u EventID bits",
					      d->ev[k].e.path, (unsigned long long)d->ev[k].event_id,
					      d->bits);
			d->ev[k].e.gpa = d->itt + d->ev[k].event_id * ITS_ESZ;
		}

		if (d->e.has_raw) {
			d->live = d->e.enc >> KVM_ITS_DTE_VALID_SHIFT;
		} else {
			d->valid = get_bool(o, "valid", d->e.path, true);
			d->live = d->valid;
			get_next(o, d->e.path, KVM_ITS_DTE_NEXT_MAX, 14, &d->next_auto, &d->next);
		}

		/* where the DTE lives (§1.6) */
		if (!its->dt.indirect) {
			uint64_t nslots = its->dt.pages * ITS_PAGE / ITS_ESZ;
			if (d->device_id >= nslots)
				fx_spec_error("%s.device_id: %llu is beyond the flat device table (%llu entries)",
					      d->e.path, (unsigned long long)d->device_id,
					      (unsigned long long)nslots);
			d->e.gpa = its->dt.gpa + d->device_id * ITS_ESZ;
		} else {
			uint64_t idx = d->device_id / L2_DTES;
			const struct l1e *l = NULL;
			for (size_t k = 0; k < its->nl1; k++)
				if (its->l1[k].index == idx)
					l = &its->l1[k];
			if (!l)
				fx_spec_error("%s.device_id: 0x%llx needs level-1 entry %llu, which \"l1\" does not list",
					      d->e.path, (unsigned long long)d->device_id,
					      (unsigned long long)idx);
			d->e.gpa = l->l2 + (d->device_id % L2_DTES) * ITS_ESZ;
		}
	}
	qsort(its->dev, n, sizeof(*its->dev), cmp_dte);
	for (size_t i = 1; i < n; i++)
		if (its->dev[i].device_id == its->dev[i - 1].device_id)
			fx_spec_error("%s and %s: same device_id %llu", its->dev[i - 1].e.path,
				      its->dev[i].e.path, (unsigned long long)its->dev[i].device_id);
}

/* "next": "auto" as KVM's SAVE computes it (§1.7): the ID delta to the next
 * live entry in ID order, clamped, 0 for the last. */
static void encode_its(struct its *its)
{
	for (size_t i = 0; i < its->ndev; i++) {
		struct dte *d = &its->dev[i];
		for (size_t k = 0; k < d->nev; k++) {
			struct ite *t = &d->ev[k];
			if (t->e.has_raw)
				continue;
			if (t->next_auto) {
				t->next = 0;
				for (size_t j = k + 1; j < d->nev; j++)
					if (d->ev[j].live) {
						uint64_t delta = d->ev[j].event_id - t->event_id;
						t->next = delta < KVM_ITS_ITE_NEXT_MAX ? delta
										       : KVM_ITS_ITE_NEXT_MAX;
						break;
					}
			}
			t->e.enc = (t->next << KVM_ITS_ITE_NEXT_SHIFT) |
				   (t->lpi << KVM_ITS_ITE_PINTID_SHIFT) | t->icid;
		}
		if (d->e.has_raw)
			continue;
		if (d->next_auto) {
			d->next = 0;
			for (size_t j = i + 1; j < its->ndev; j++)
				if (its->dev[j].live) {
					uint64_t delta = its->dev[j].device_id - d->device_id;
					d->next = delta < KVM_ITS_DTE_NEXT_MAX ? delta : KVM_ITS_DTE_NEXT_MAX;
					break;
				}
		}
		d->e.enc = ((uint64_t)d->valid << KVM_ITS_DTE_VALID_SHIFT) |
			   (d->next << KVM_ITS_DTE_NEXT_SHIFT) |
			   (((d->itt >> 8) << KVM_ITS_DTE_ITTADDR_SHIFT) & KVM_ITS_DTE_ITTADDR_MASK) |
			   d->size;
	}
	if (!its->baser_given[0])
		its->baser[0] = canonical_baser(&its->dt, GITS_BASER_TYPE_DEVICE);
	if (!its->baser_given[1])
		its->baser[1] = canonical_baser(&its->ct, GITS_BASER_TYPE_COLLECTION);
}

/* after all sorting: the arrays no longer move */
static void collect_entries(struct its *its)
{
	for (size_t k = 0; k < its->nl1; k++)
		add_entry(&its->l1[k].e);
	for (size_t k = 0; k < its->ncoll; k++)
		add_entry(&its->coll[k].e);
	for (size_t k = 0; k < its->ndev; k++) {
		add_entry(&its->dev[k].e);
		for (size_t j = 0; j < its->dev[k].nev; j++)
			add_entry(&its->dev[k].ev[j].e);
	}
}

static void parse_its(json_object *root)
{
	static const char *const keys[] = { "registers", "device_table", "collection_table",
		"l1", "collections", "devices", NULL };
	json_object *a = get_array(root, "its", "");
	S.nits = array_len(a);
	S.its = fx_calloc(S.nits, sizeof(*S.its));
	for (size_t i = 0; i < S.nits; i++) {
		json_object *o = json_object_array_get_idx(a, i);
		struct its *its = &S.its[i];
		char *path = fx_printf("its[%zu]", i);
		check_keys(o, path, keys);
		char *sub = fx_printf("%s.registers", path);
		parse_registers(get(o, "registers"), sub, its);
		free(sub);
		json_object *t;
		if ((t = get(o, "device_table"))) {
			sub = fx_printf("%s.device_table", path);
			parse_table(t, sub, true, &its->dt);
			free(sub);
		}
		if ((t = get(o, "collection_table"))) {
			sub = fx_printf("%s.collection_table", path);
			parse_table(t, sub, false, &its->ct);
			free(sub);
		}
		parse_l1(get_array(o, "l1", path), path, its);
		parse_collections(get_array(o, "collections", path), path, its);
		parse_devices(get_array(o, "devices", path), path, its);
		encode_its(its);
		collect_entries(its);
		free(path);
	}
}

static void parse_redistributors(json_object *root)
{
	static const char *const keys[] = { "cpu", "GICR_PROPBASER", "GICR_PENDBASER", NULL };
	json_object *a = get_array(root, "redistributors", "");
	S.nrd = array_len(a);
	S.rd = fx_calloc(S.nrd, sizeof(*S.rd));
	for (size_t i = 0; i < S.nrd; i++) {
		json_object *o = json_object_array_get_idx(a, i);
		struct redist *r = &S.rd[i];
		char *path = fx_printf("redistributors[%zu]", i);
		check_keys(o, path, keys);
		r->cpu = get_u64_max(o, "cpu", path, 0, 0xffffffffull);
		if (!get(o, "cpu"))
			fx_spec_error("%s: \"cpu\" is missing", path);
		r->has_prop = get_u64(o, "GICR_PROPBASER", path, &r->propbaser);
		r->has_pend = get_u64(o, "GICR_PENDBASER", path, &r->pendbaser);
		for (size_t k = 0; k < i; k++)
			if (S.rd[k].cpu == r->cpu)
				fx_spec_error("%s: cpu %llu listed twice", path,
					      (unsigned long long)r->cpu);
		free(path);
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void parse_raw(json_object *root)
{
	static const char *const keys[] = { "gpa", "u64", "hex", "size", "fill", NULL };
	json_object *a = get_array(root, "raw", "");
	S.nraw = array_len(a);
	S.raw = fx_calloc(S.nraw, sizeof(*S.raw));
	for (size_t i = 0; i < S.nraw; i++) {
		json_object *o = json_object_array_get_idx(a, i);
		struct rawop *r = &S.raw[i];
		r->path = fx_printf("raw[%zu]", i);
		check_keys(o, r->path, keys);
		r->gpa = req_u64(o, "gpa", r->path);
		int kinds = !!get(o, "u64") + !!get(o, "hex") + !!get(o, "fill");
		if (kinds != 1)
			fx_spec_error("%s: give exactly one of \"u64\", \"hex\", \"fill\"", r->path);
		if (get(o, "size") && !get(o, "fill"))
			fx_spec_error("%s: \"size\" goes with \"fill\" only", r->path);
		if (get_u64(o, "u64", r->path, &r->u64)) {
			r->kind = RAW_U64;
			r->len = 8;
		} else if (get(o, "hex")) {
			json_object *h = get(o, "hex");
			if (!json_object_is_type(h, json_type_string))
				fx_spec_error("%s.hex: expected a string of hex digits", r->path);
			const char *s = json_object_get_string(h);
			size_t n = strlen(s);
			if (!n || n % 2)
				fx_spec_error("%s.hex: need a non-empty, even number of hex digits", r->path);
			r->kind = RAW_HEX;
			r->len = n / 2;
			r->bytes = fx_calloc(r->len, 1);
			for (size_t k = 0; k < r->len; k++) {
				int hi = hexval(s[2 * k]), lo = hexval(s[2 * k + 1]);
				if (hi < 0 || lo < 0)
					fx_spec_error("%s.hex: \"%s\" is not hex", r->path, s);
				r->bytes[k] = (uint8_t)(hi << 4 | lo);
			}
		} else {
			r->kind = RAW_FILL;
			r->fill = (uint8_t)get_u64_max(o, "fill", r->path, 0, 0xff);
			r->len = req_u64(o, "size", r->path);
			if (!r->len)
				fx_spec_error("%s.size: must not be 0", r->path);
		}
	}
}

static void parse_elf(json_object *root)
{
	static const char *const keys[] = { "truncate", "phdr", NULL };
	static const char *const pkeys[] = { "index", "p_type", "p_flags", "p_offset",
		"p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_align", NULL };
	json_object *o = get(root, "elf");
	if (!o)
		return;
	check_keys(o, "elf", keys);
	S.truncate = get_u64(o, "truncate", "elf", &S.truncate_to);
	json_object *a = get_array(o, "phdr", "elf");
	S.npatch = array_len(a);
	S.patch = fx_calloc(S.npatch, sizeof(*S.patch));
	for (size_t i = 0; i < S.npatch; i++) {
		json_object *p = json_object_array_get_idx(a, i);
		struct fx_phdr_patch *pt = &S.patch[i];
		char *path = fx_printf("elf.phdr[%zu]", i);
		check_keys(p, path, pkeys);
		pt->index = (size_t)req_u64(p, "index", path);
		uint64_t v;
		if (get_u64(p, "p_type", path, &v)) {
			pt->mask |= FX_PH_TYPE;
			pt->val.p_type = (uint32_t)get_u64_max(p, "p_type", path, 0, 0xffffffffull);
		}
		if (get_u64(p, "p_flags", path, &v)) {
			pt->mask |= FX_PH_FLAGS;
			pt->val.p_flags = (uint32_t)get_u64_max(p, "p_flags", path, 0, 0xffffffffull);
		}
		if (get_u64(p, "p_offset", path, &pt->val.p_offset))
			pt->mask |= FX_PH_OFFSET;
		if (get_u64(p, "p_vaddr", path, &pt->val.p_vaddr))
			pt->mask |= FX_PH_VADDR;
		if (get_u64(p, "p_paddr", path, &pt->val.p_paddr))
			pt->mask |= FX_PH_PADDR;
		if (get_u64(p, "p_filesz", path, &pt->val.p_filesz))
			pt->mask |= FX_PH_FILESZ;
		if (get_u64(p, "p_memsz", path, &pt->val.p_memsz))
			pt->mask |= FX_PH_MEMSZ;
		if (get_u64(p, "p_align", path, &pt->val.p_align))
			pt->mask |= FX_PH_ALIGN;
		free(path);
	}
}

/* ------------------------------------------------------------ stream spec */

static const char *const lv_format_names[] = { "raw", "gzip", "bzip2", "xz", "lzop",
	"zstd", "sparse", NULL };

static char *get_string(json_object *o, const char *key, const char *path)
{
	json_object *v = get(o, key);
	if (!v)
		return NULL;
	if (!json_object_is_type(v, json_type_string))
		fx_spec_error("%s.%s: expected a string", path, key);
	return fx_strdup(json_object_get_string(v));
}

/* "virt-A.B" -> A * 100 + B, else -1 */
static long machine_version(const char *m)
{
	unsigned a, b;
	char tail;
	if (sscanf(m, "virt-%u.%u%c", &a, &b, &tail) != 2)
		return -1;
	return (long)a * 100 + b;
}

static void default_xml(void)
{
	uint64_t kib = 0;
	for (size_t i = 0; i < S.ram.nregions; i++)
		kib += S.ram.regions[i].size / 1024;
	S.so.lv_xml = fx_printf(
		"<domain type='kvm'>\n"
		"  <name>its-fixture</name>\n"
		"  <uuid>6f1c2d3e-4b5a-4c6d-8e7f-000000000001</uuid>\n"
		"  <memory unit='KiB'>%llu</memory>\n"
		"  <currentMemory unit='KiB'>%llu</currentMemory>\n"
		"  <vcpu placement='static'>%u</vcpu>\n"
		"  <os>\n"
		"    <type arch='aarch64' machine='%s'>hvm</type>\n"
		"  </os>\n"
		"  <features>\n"
		"    <gic version='3'/>\n"
		"  </features>\n"
		"  <cpu mode='host-passthrough' check='none'/>\n"
		"  <devices>\n"
		"    <emulator>/usr/bin/qemu-system-aarch64</emulator>\n"
		"  </devices>\n"
		"</domain>\n",
		(unsigned long long)kib, (unsigned long long)kib, S.vcpus, S.so.machine);
}

static void parse_stream(json_object *root)
{
	static const char *const keys[] = { "qemu", "machine", "version", "page_bits",
		"switchover", "vmdesc", "mapped_ram", "offset", "part_pages", "live",
		"its_section_version", "gicv3_section_version", "gicv3", "footer_corrupt",
		"truncate", "libvirt", NULL };
	static const char *const lkeys[] = { "passes", "resend", "dirty_value", NULL };
	static const char *const rkeys[] = { "gpa", "size", "dirty_value", NULL };
	static const char *const gkeys[] = { "gicd_ctlr", "gicr_ctlr", "sre_el1", "virt",
		"gicv4", "nmi", "no_migration_shift_bug", NULL };
	static const char *const fkeys[] = { "idstr", "instance_id", "section_id", NULL };
	static const char *const vkeys[] = { "xml", "cookie", "format", "was_running",
		"incomplete", "padding", NULL };
	struct fx_stream_opts *so = &S.so;
	json_object *o = get(root, "stream");
	json_object *empty = json_object_new_object();
	if (!o)
		o = empty;
	check_keys(o, "stream", keys);

	char *q = get_string(o, "qemu", "stream");
	so->qemu = FX_QEMU_10_0;
	if (q && !strcmp(q, "7.2"))
		so->qemu = FX_QEMU_7_2;
	else if (q && strcmp(q, "10.0"))
		fx_spec_error("stream.qemu: \"%s\": the writer reproduces \"7.2\" and \"10.0\"", q);
	free(q);
	so->machine = get_string(o, "machine", "stream");
	if (!so->machine)
		so->machine = fx_strdup(so->qemu == FX_QEMU_7_2 ? "virt-7.2" : "virt-10.0");
	if (!*so->machine || strlen(so->machine) > 255)
		fx_spec_error("stream.machine: 1..255 characters");
	so->version = (uint32_t)get_u64_max(o, "version", "stream", 3, 0xffffffffull);
	so->page_bits = (unsigned)get_u64_max(o, "page_bits", "stream", 12, 16);
	if (so->page_bits < 10)
		fx_spec_error("stream.page_bits: 10..16 (1 KiB .. 64 KiB pages)");
	/* SWITCHOVER_START: QEMU >= 10.0 with a machine type >= 10.0 (§5) */
	long mv = machine_version(so->machine);
	so->switchover = get_bool(o, "switchover", "stream",
				  so->qemu >= FX_QEMU_10_0 && (mv < 0 || mv >= 1000));
	so->vmdesc = get_bool(o, "vmdesc", "stream", true);
	so->mapped_ram = get_bool(o, "mapped_ram", "stream", false);
	if (so->mapped_ram && so->qemu < FX_QEMU_10_0)
		fx_spec_error("stream.mapped_ram: needs QEMU >= 9.0 (stream.qemu \"10.0\")");
	get_u64(o, "offset", "stream", &so->offset);
	so->part_pages = get_u64_max(o, "part_pages", "stream", 16384, UINT64_MAX);
	if (!so->part_pages)
		fx_spec_error("stream.part_pages: at least 1");

	json_object *l = get(o, "live");
	so->passes = 1;
	so->dirty_value = 0xa5;
	if (l) {
		check_keys(l, "stream.live", lkeys);
		so->passes = (unsigned)get_u64_max(l, "passes", "stream.live", 3, 64);
		if (!so->passes)
			fx_spec_error("stream.live.passes: 1..64");
		so->dirty_value = (uint8_t)get_u64_max(l, "dirty_value", "stream.live", 0xa5, 0xff);
		json_object *a = get_array(l, "resend", "stream.live");
		so->nresend = array_len(a);
		so->resend = fx_calloc(so->nresend, sizeof(*so->resend));
		for (size_t i = 0; i < so->nresend; i++) {
			json_object *r = json_object_array_get_idx(a, i);
			char *path = fx_printf("stream.live.resend[%zu]", i);
			check_keys(r, path, rkeys);
			so->resend[i].gpa = req_u64(r, "gpa", path);
			so->resend[i].size = req_u64(r, "size", path);
			if (!so->resend[i].size)
				fx_spec_error("%s.size: must not be 0", path);
			so->resend[i].dirty = get(r, "dirty_value")
				? (int)get_u64_max(r, "dirty_value", path, 0, 0xff) : -1;
			free(path);
		}
	}
	so->its_version = (uint32_t)get_u64_max(o, "its_section_version", "stream", 0, 0xffffffffull);
	so->gicv3_version = (uint32_t)get_u64_max(o, "gicv3_section_version", "stream", 1,
						   0xffffffffull);

	json_object *g = get(o, "gicv3");
	json_object *gempty = json_object_new_object();
	if (!g)
		g = gempty;
	check_keys(g, "stream.gicv3", gkeys);
	so->gicd_ctlr = (uint32_t)get_u64_max(g, "gicd_ctlr", "stream.gicv3", 0, 0xffffffffull);
	so->gicr_ctlr = (uint32_t)get_u64_max(g, "gicr_ctlr", "stream.gicv3", 0, 0xffffffffull);
	so->gic_virt = get_bool(g, "virt", "stream.gicv3", false);
	so->gic_v4 = get_bool(g, "gicv4", "stream.gicv3", false);
	so->gic_nmi = get_bool(g, "nmi", "stream.gicv3", false);
	if (so->gic_nmi && so->qemu < FX_QEMU_10_0)
		fx_spec_error("stream.gicv3.nmi: QEMU 7.2 has no GICv3 NMI state");
	so->gic_shift_bug = get_bool(g, "no_migration_shift_bug", "stream.gicv3", true);
	so->sre_el1 = fx_calloc(S.vcpus, sizeof(*so->sre_el1));
	for (unsigned i = 0; i < S.vcpus; i++)
		so->sre_el1[i] = 7;   /* SRE|DFB|DIB: a booted Linux, no subsection */
	json_object *sre = get(g, "sre_el1");
	if (sre && json_object_is_type(sre, json_type_array)) {
		if (array_len(sre) != S.vcpus)
			fx_spec_error("stream.gicv3.sre_el1: %zu values for %u vCPUs", array_len(sre),
				      S.vcpus);
		for (unsigned i = 0; i < S.vcpus; i++) {
			char *what = fx_printf("stream.gicv3.sre_el1[%u]", i);
			so->sre_el1[i] = parse_u64(json_object_array_get_idx(sre, i), what);
			free(what);
		}
	} else if (sre) {
		uint64_t v = parse_u64(sre, "stream.gicv3.sre_el1");
		for (unsigned i = 0; i < S.vcpus; i++)
			so->sre_el1[i] = v;
	}
	json_object_put(gempty);

	json_object *f = get(o, "footer_corrupt");
	if (f) {
		check_keys(f, "stream.footer_corrupt", fkeys);
		so->footer_corrupt = true;
		so->fc_idstr = get_string(f, "idstr", "stream.footer_corrupt");
		if (!so->fc_idstr)
			fx_spec_error("stream.footer_corrupt: \"idstr\" is missing");
		so->fc_section_id = (uint32_t)get_u64_max(f, "section_id", "stream.footer_corrupt",
							  0, 0xffffffffull);
		if (!get(f, "section_id"))
			fx_spec_error("stream.footer_corrupt: \"section_id\" is missing");
		so->fc_has_instance = get(f, "instance_id") != NULL;
		so->fc_instance = (uint32_t)get_u64_max(f, "instance_id", "stream.footer_corrupt",
							0, 0xffffffffull);
	}
	so->truncate = get_u64(o, "truncate", "stream", &so->truncate_to);

	json_object *v = get(o, "libvirt");
	json_object *vempty = json_object_new_object();
	if (!v)
		v = vempty;
	check_keys(v, "stream.libvirt", vkeys);
	so->lv_xml = get_string(v, "xml", "stream.libvirt");
	if (!so->lv_xml)
		default_xml();
	so->lv_cookie = get_string(v, "cookie", "stream.libvirt");
	json_object *fm = get(v, "format");
	so->lv_format = 0;
	if (fm && json_object_is_type(fm, json_type_string) &&
	    !strchr("0123456789", json_object_get_string(fm)[0])) {
		const char *name = json_object_get_string(fm);
		bool found = false;
		for (uint32_t i = 0; lv_format_names[i]; i++)
			if (!strcmp(name, lv_format_names[i])) {
				so->lv_format = i;
				found = true;
			}
		if (!found)
			fx_spec_error("stream.libvirt.format: \"%s\" is not raw, gzip, bzip2, xz, lzop, zstd, sparse or a number",
				      name);
	} else if (fm) {
		so->lv_format = (uint32_t)get_u64_max(v, "format", "stream.libvirt", 0, 0xffffffffull);
	}
	so->lv_was_running = get_bool(v, "was_running", "stream.libvirt", true);
	so->lv_incomplete = get_bool(v, "incomplete", "stream.libvirt", false);
	so->lv_padding = get_u64_max(v, "padding", "stream.libvirt", 0x10000, 0x40000000);
	json_object_put(vempty);
	json_object_put(empty);
}

/* ------------------------------------------------------------ placing */

static int cmp_entry_gpa(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* May [gpa, gpa+len) be written?  false: drop it (allow_outside_ram). */
static bool may_write(const char *path, uint64_t gpa, uint64_t len)
{
	if (fx_ram_backed(&S.ram, gpa, len))
		return true;
	if (S.allow_outside_ram)
		return false;
	char *why = fx_ram_why_not(&S.ram, gpa, len);
	fx_spec_error("%s: %s (set \"allow_outside_ram\": true to describe that on purpose)",
		      path, why);
}

static void place_entries(void)
{
	/* no two encoded entries may share bytes */
	struct entry **v = fx_calloc(S.nentries, sizeof(*v));
	for (size_t i = 0; i < S.nentries; i++)
		v[i] = S.entries[i];
	qsort(v, S.nentries, sizeof(*v), cmp_entry_gpa);
	for (size_t i = 1; i < S.nentries; i++)
		if (v[i]->gpa < v[i - 1]->gpa + ITS_ESZ)
			fx_spec_error("%s and %s: both entries are at GPA 0x%llx", v[i - 1]->path,
				      v[i]->path, (unsigned long long)v[i]->gpa);
	free(v);

	for (size_t i = 0; i < S.nentries; i++) {
		struct entry *e = S.entries[i];
		uint8_t b[8];
		e->final = e->enc;
		if (!may_write(e->path, e->gpa, ITS_ESZ))
			continue;
		put_le64(b, e->enc);
		fx_ram_write(&S.ram, e->gpa, b, ITS_ESZ);
		e->written = true;
	}

	for (size_t i = 0; i < S.nraw; i++) {
		struct rawop *r = &S.raw[i];
		if (r->gpa + r->len < r->gpa)
			fx_spec_error("%s: range wraps around 2^64", r->path);
		if (!may_write(r->path, r->gpa, r->len))
			continue;
		if (r->kind == RAW_U64) {
			uint8_t b[8];
			put_le64(b, r->u64);
			fx_ram_write(&S.ram, r->gpa, b, 8);
		} else if (r->kind == RAW_HEX) {
			fx_ram_write(&S.ram, r->gpa, r->bytes, r->len);
		} else {
			fx_ram_fill(&S.ram, r->gpa, r->fill, r->len);
		}
		r->written = true;
	}

	/* read back: a top-level "raw" may have overwritten an entry */
	for (size_t i = 0; i < S.nentries; i++) {
		struct entry *e = S.entries[i];
		uint8_t b[8];
		if (!e->written)
			continue;
		fx_ram_read(&S.ram, e->gpa, b, ITS_ESZ);
		e->final = get_le64(b);
	}
}

/* ------------------------------------------------------------ output */

static json_object *jhex(uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	return json_object_new_string(buf);
}

static json_object *jhex16(uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%016llx", (unsigned long long)v);
	return json_object_new_string(buf);
}

static void add(json_object *o, const char *key, json_object *v)
{
	json_object_object_add(o, key, v);
}

static void write_json(const char *path, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_SPACED |
						     JSON_C_TO_STRING_NOSLASHESCAPE);
	FILE *f = fopen(path, "w");
	if (!f)
		fx_fatal("%s: %s", path, strerror(errno));
	fputs(s, f);
	fputc('\n', f);
	if (ferror(f) | fclose(f))
		fx_fatal("%s: write error", path);
}

static void write_regs(const char *path)
{
	json_object *root = json_object_new_object();
	json_object *its = json_object_new_array();
	for (size_t i = 0; i < S.nits; i++) {
		const struct its *t = &S.its[i];
		json_object *o = json_object_new_object();
		json_object *r = json_object_new_object();
		json_object *b = json_object_new_array();
		add(o, "index", json_object_new_int64((int64_t)i));
		add(r, "GITS_CTLR", jhex(t->ctlr));
		add(r, "GITS_IIDR", jhex(t->iidr));
		add(r, "GITS_CBASER", jhex(t->cbaser));
		add(r, "GITS_CWRITER", jhex(t->cwriter));
		add(r, "GITS_CREADR", jhex(t->creadr));
		for (int k = 0; k < GITS_BASER_NR_BASER; k++)
			json_object_array_add(b, jhex16(t->baser[k]));
		add(r, "GITS_BASER", b);
		add(o, "registers", r);
		json_object_array_add(its, o);
	}
	add(root, "its", its);
	json_object *rd = json_object_new_array();
	for (size_t i = 0; i < S.nrd; i++) {
		json_object *o = json_object_new_object();
		add(o, "cpu", json_object_new_int64((int64_t)S.rd[i].cpu));
		if (S.rd[i].has_prop)
			add(o, "GICR_PROPBASER", jhex(S.rd[i].propbaser));
		if (S.rd[i].has_pend)
			add(o, "GICR_PENDBASER", jhex(S.rd[i].pendbaser));
		json_object_array_add(rd, o);
	}
	add(root, "redistributors", rd);
	write_json(path, root);
	json_object_put(root);
}

/* common tail of every manifest entry; for a stream, where its bytes are in
 * the file: the copy in the last record of its page (null: that record is a
 * ZERO record / a clear mapped-ram bit, or the page was never sent) */
static void entry_flags(json_object *o, const struct entry *e)
{
	uint64_t off;
	add(o, "written", json_object_new_boolean(e->written));
	if (e->has_raw)
		add(o, "raw_override", json_object_new_boolean(1));
	if (e->final != e->enc)
		add(o, "clobbered", json_object_new_boolean(1));
	if (S.stream)
		add(o, "file_offset", e->written && fx_stream_locate(S.stream, e->gpa, &off)
					      ? jhex(off) : NULL);
}

static void write_manifest(const char *path, const struct fx_elf_plan *plan)
{
	json_object *root = json_object_new_object();
	json_object *ca = json_object_new_array(), *la = json_object_new_array();
	json_object *da = json_object_new_array();

	if (S.description)
		add(root, "description", json_object_new_string(S.description));
	add(root, "vcpus", json_object_new_int64(S.vcpus));

	/* Fields are decoded from the bytes in the image (the encoded value
	 * when nothing was written), so they always match "raw". */
	for (size_t i = 0; i < S.nits; i++) {
		const struct its *t = &S.its[i];
		for (size_t k = 0; k < t->ncoll; k++) {
			const struct cte *c = &t->coll[k];
			uint64_t v = c->e.final;
			json_object *o = json_object_new_object();
			add(o, "its", json_object_new_int64((int64_t)i));
			add(o, "slot", json_object_new_int64((int64_t)c->slot));
			add(o, "icid", json_object_new_int64((int64_t)(v & KVM_ITS_CTE_ICID_MASK)));
			add(o, "target", json_object_new_int64((int64_t)((v >> KVM_ITS_CTE_RDBASE_SHIFT) & 0xffffffffull)));
			add(o, "valid", json_object_new_boolean((int)(v >> KVM_ITS_CTE_VALID_SHIFT)));
			add(o, "gpa", jhex(c->e.gpa));
			add(o, "raw", jhex16(v));
			entry_flags(o, &c->e);
			json_object_array_add(ca, o);
		}
		for (size_t k = 0; k < t->nl1; k++) {
			const struct l1e *l = &t->l1[k];
			uint64_t v = l->e.final;
			json_object *o = json_object_new_object();
			add(o, "its", json_object_new_int64((int64_t)i));
			add(o, "index", json_object_new_int64((int64_t)l->index));
			add(o, "l2", jhex(v & KVM_ITS_L1E_ADDR_MASK));
			add(o, "valid", json_object_new_boolean((int)(v >> KVM_ITS_L1E_VALID_SHIFT)));
			add(o, "gpa", jhex(l->e.gpa));
			add(o, "raw", jhex16(v));
			entry_flags(o, &l->e);
			json_object_array_add(la, o);
		}
		for (size_t k = 0; k < t->ndev; k++) {
			const struct dte *d = &t->dev[k];
			uint64_t v = d->e.final;
			json_object *o = json_object_new_object();
			add(o, "its", json_object_new_int64((int64_t)i));
			add(o, "device_id", json_object_new_int64((int64_t)d->device_id));
			add(o, "gpa", jhex(d->e.gpa));
			add(o, "raw", jhex16(v));
			add(o, "valid", json_object_new_boolean((int)(v >> KVM_ITS_DTE_VALID_SHIFT)));
			add(o, "itt", jhex(((v & KVM_ITS_DTE_ITTADDR_MASK) >> KVM_ITS_DTE_ITTADDR_SHIFT) << 8));
			add(o, "event_id_bits", json_object_new_int64((int64_t)(v & KVM_ITS_DTE_SIZE_MASK) + 1));
			add(o, "size", json_object_new_int64((int64_t)(v & KVM_ITS_DTE_SIZE_MASK)));
			add(o, "next", json_object_new_int64((int64_t)((v >> KVM_ITS_DTE_NEXT_SHIFT) & KVM_ITS_DTE_NEXT_MAX)));
			entry_flags(o, &d->e);
			json_object *ea = json_object_new_array();
			for (size_t j = 0; j < d->nev; j++) {
				const struct ite *e = &d->ev[j];
				uint64_t w = e->e.final;
				json_object *eo = json_object_new_object();
				add(eo, "event_id", json_object_new_int64((int64_t)e->event_id));
				add(eo, "gpa", jhex(e->e.gpa));
				add(eo, "raw", jhex16(w));
				add(eo, "lpi", json_object_new_int64((int64_t)((w & KVM_ITS_ITE_PINTID_MASK) >> KVM_ITS_ITE_PINTID_SHIFT)));
				add(eo, "icid", json_object_new_int64((int64_t)(w & KVM_ITS_ITE_ICID_MASK)));
				add(eo, "next", json_object_new_int64((int64_t)(w >> KVM_ITS_ITE_NEXT_SHIFT)));
				add(eo, "valid", json_object_new_boolean((w & KVM_ITS_ITE_PINTID_MASK) != 0));
				entry_flags(eo, &e->e);
				json_object_array_add(ea, eo);
			}
			add(o, "events", ea);
			json_object_array_add(da, o);
		}
	}
	add(root, "collections", ca);
	add(root, "l1", la);
	add(root, "devices", da);

	json_object *ra = json_object_new_array();
	for (size_t i = 0; i < S.nraw; i++) {
		json_object *o = json_object_new_object();
		add(o, "gpa", jhex(S.raw[i].gpa));
		add(o, "size", jhex(S.raw[i].len));
		add(o, "written", json_object_new_boolean(S.raw[i].written));
		json_object_array_add(ra, o);
	}
	add(root, "raw", ra);

	if (S.ram.nfills) {
		static const char *const pat[] = { "random", "counter" };
		json_object *fa = json_object_new_array();
		for (size_t i = 0; i < S.ram.nfills; i++) {
			const struct fx_fill *f = &S.ram.fills[i];
			json_object *o = json_object_new_object();
			add(o, "gpa", jhex(f->gpa));
			add(o, "size", jhex(f->size));
			add(o, "pattern", json_object_new_string(pat[f->pattern]));
			add(o, "seed", jhex(f->seed));
			json_object_array_add(fa, o);
		}
		add(root, "fill", fa);
	}

	if (S.stream) {
		add(root, "stream", fx_stream_manifest(S.stream));
		add(root, "file_size", jhex(fx_stream_file_size(S.stream)));
		write_json(path, root);
		json_object_put(root);
		return;
	}

	/* program headers as they are in the file (after "elf" corruption) */
	json_object *pa = json_object_new_array();
	for (size_t i = 1; i < plan->nphdrs; i++) {
		struct fx_phdr ph = plan->phdrs[i];
		for (size_t k = 0; k < S.npatch; k++) {
			const struct fx_phdr_patch *pt = &S.patch[k];
			if (pt->index != i)
				continue;
			if (pt->mask & FX_PH_TYPE) ph.p_type = pt->val.p_type;
			if (pt->mask & FX_PH_FLAGS) ph.p_flags = pt->val.p_flags;
			if (pt->mask & FX_PH_OFFSET) ph.p_offset = pt->val.p_offset;
			if (pt->mask & FX_PH_VADDR) ph.p_vaddr = pt->val.p_vaddr;
			if (pt->mask & FX_PH_PADDR) ph.p_paddr = pt->val.p_paddr;
			if (pt->mask & FX_PH_FILESZ) ph.p_filesz = pt->val.p_filesz;
			if (pt->mask & FX_PH_MEMSZ) ph.p_memsz = pt->val.p_memsz;
			if (pt->mask & FX_PH_ALIGN) ph.p_align = pt->val.p_align;
		}
		json_object *o = json_object_new_object();
		add(o, "index", json_object_new_int64((int64_t)i));
		add(o, "gpa", jhex(ph.p_paddr));
		add(o, "offset", jhex(ph.p_offset));
		add(o, "filesz", jhex(ph.p_filesz));
		add(o, "memsz", jhex(ph.p_memsz));
		json_object_array_add(pa, o);
	}
	add(root, "pt_load", pa);
	add(root, "file_size", jhex(S.truncate ? S.truncate_to : plan->file_size));
	write_json(path, root);
	json_object_put(root);
}

/* ------------------------------------------------------------ main */

static json_object *load_spec(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fx_spec_error("cannot open: %s", strerror(errno));
	size_t cap = 4096, len = 0;
	char *buf = fx_calloc(cap, 1);
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len < cap)
			break;
		cap *= 2;
		buf = fx_realloc(buf, cap, 1);
	}
	if (ferror(f))
		fx_spec_error("read error");
	fclose(f);

	json_tokener *tok = json_tokener_new();
	if (!tok)
		fx_fatal("out of memory");
	json_object *root = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	if (!root || jerr != json_tokener_success) {
		if (jerr == json_tokener_continue)
			fx_spec_error("JSON: unexpected end of file");
		fx_spec_error("JSON: %s at offset %zu", json_tokener_error_desc(jerr), end);
	}
	for (size_t i = end; i < len; i++)
		if (!strchr(" \t\r\n", buf[i]))
			fx_spec_error("JSON: trailing data at offset %zu", i);
	json_tokener_free(tok);
	free(buf);
	return root;
}

static void parse_spec(void)
{
	static const char *const keys[] = { "description", "vcpus", "ram", "holes",
		"absent", "fill", "its", "redistributors", "raw", "elf", "stream",
		"allow_outside_ram", NULL };
	json_object *root = S.root;
	check_keys(root, "", keys);
	json_object *d = get(root, "description");
	if (d && !json_object_is_type(d, json_type_string))
		fx_spec_error("description: expected a string");
	S.description = d ? json_object_get_string(d) : NULL;
	S.vcpus = (unsigned)get_u64_max(root, "vcpus", "", 2, 4096);
	if (!S.vcpus)
		fx_spec_error("vcpus: at least 1");
	S.allow_outside_ram = get_bool(root, "allow_outside_ram", "", false);
	parse_ram(root);
	parse_fill(root);
	parse_its(root);
	parse_redistributors(root);
	parse_raw(root);
	parse_elf(root);
	parse_stream(root);
}

static void release(void)
{
	for (size_t i = 0; i < S.nits; i++) {
		struct its *t = &S.its[i];
		for (size_t k = 0; k < t->nl1; k++)
			free(t->l1[k].e.path);
		for (size_t k = 0; k < t->ncoll; k++)
			free(t->coll[k].e.path);
		for (size_t k = 0; k < t->ndev; k++) {
			for (size_t j = 0; j < t->dev[k].nev; j++)
				free(t->dev[k].ev[j].e.path);
			free(t->dev[k].ev);
			free(t->dev[k].e.path);
		}
		free(t->l1);
		free(t->coll);
		free(t->dev);
	}
	free(S.its);
	free(S.rd);
	for (size_t i = 0; i < S.nraw; i++) {
		free(S.raw[i].path);
		free(S.raw[i].bytes);
	}
	free(S.raw);
	free(S.patch);
	free(S.entries);
	for (size_t i = 0; i < S.nblocks; i++)
		if (!S.blocks[i].region)
			free((char *)S.blocks[i].name);
	free(S.blocks);
	fx_stream_free(S.stream);
	free(S.so.machine);
	free(S.so.resend);
	free(S.so.sre_el1);
	free(S.so.fc_idstr);
	free(S.so.lv_xml);
	free(S.so.lv_cookie);
	fx_ram_free(&S.ram);
	json_object_put(S.root);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: %s SPEC.json -o OUT [--format elf|stream|libvirt] "
		   "[--regs OUT.regs.json] [--manifest OUT.manifest.json]\n"
		   "  --format defaults from OUT's ending: .mig stream, .save libvirt, "
		   "else elf\n", progname);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

/* The stream's device state: ITS registers and per-vCPU GICR values. */
static struct fx_stream *write_stream(const char *out)
{
	struct fx_its_regs *its = fx_calloc(S.nits, sizeof(*its));
	struct fx_gicr *gicr = fx_calloc(S.vcpus, sizeof(*gicr));
	for (size_t i = 0; i < S.nits; i++) {
		its[i].ctlr = S.its[i].ctlr;
		its[i].iidr = S.its[i].iidr;
		its[i].cbaser = S.its[i].cbaser;
		its[i].cwriter = S.its[i].cwriter;
		its[i].creadr = S.its[i].creadr;
		memcpy(its[i].baser, S.its[i].baser, sizeof(its[i].baser));
	}
	for (size_t i = 0; i < S.nrd; i++) {
		if (S.rd[i].cpu >= S.vcpus)
			fx_spec_error("redistributors[%zu].cpu: %llu, but \"vcpus\" is %u (the stream's "
				      "arm_gicv3 section has one element per vCPU)", i,
				      (unsigned long long)S.rd[i].cpu, S.vcpus);
		gicr[S.rd[i].cpu].propbaser = S.rd[i].propbaser;
		gicr[S.rd[i].cpu].pendbaser = S.rd[i].pendbaser;
	}
	struct fx_stream_in in = {
		.ram = &S.ram, .blocks = S.blocks, .nblocks = S.nblocks,
		.its = its, .nits = S.nits, .gicr = gicr, .vcpus = S.vcpus,
	};
	S.so.format = S.format;
	struct fx_stream *st = fx_stream_write(out, &S.so, &in);
	free(its);
	free(gicr);
	return st;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "regs", required_argument, NULL, 'r' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *regs = NULL, *manifest = NULL, *format = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'r': regs = optarg; break;
		case 'm': manifest = optarg; break;
		case 'f': format = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || !out) {
		usage(stderr);
		return 2;
	}
	if (!format)
		S.format = ends_with(out, ".mig") ? FX_FMT_STREAM
			 : ends_with(out, ".save") ? FX_FMT_LIBVIRT : FX_FMT_ELF;
	else if (!strcmp(format, "elf"))
		S.format = FX_FMT_ELF;
	else if (!strcmp(format, "stream"))
		S.format = FX_FMT_STREAM;
	else if (!strcmp(format, "libvirt"))
		S.format = FX_FMT_LIBVIRT;
	else {
		fprintf(stderr, "%s: --format: \"%s\" is not elf, stream or libvirt\n",
			progname, format);
		usage(stderr);
		return 2;
	}
	S.spec_path = argv[optind];
	S.root = load_spec(S.spec_path);
	parse_spec();
	place_entries();

	if (S.format != FX_FMT_ELF) {
		S.stream = write_stream(out);
		if (regs)
			write_regs(regs);
		if (manifest)
			write_manifest(manifest, NULL);
		release();
		return 0;
	}

	struct fx_elf_plan plan;
	fx_elf_plan(&S.ram, S.vcpus, &plan);
	if (plan.nphdrs >= 0xffff)
		fx_spec_error("ram: %zu program headers need PN_XNUM, which is not supported",
			      plan.nphdrs);
	for (size_t i = 0; i < S.npatch; i++)
		if (S.patch[i].index >= plan.nphdrs)
			fx_spec_error("elf.phdr[%zu].index: %zu, but the core has %zu program headers",
				      i, S.patch[i].index, plan.nphdrs);

	fx_elf_write(out, &S.ram, &plan, S.patch, S.npatch, S.truncate, S.truncate_to);
	if (regs)
		write_regs(regs);
	if (manifest)
		write_manifest(manifest, &plan);
	fx_elf_plan_free(&plan);
	release();
	return 0;
}
