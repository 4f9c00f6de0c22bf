/*
 * badinput-gen: write the damaged snapshots of the bad-input corpus.
 *
 *   badinput-gen BASEDIR OUTDIR
 *
 * BASEDIR holds the healthy inputs run.sh makes first: min.mig, min.save,
 * min.elf (tests/fixtures/minimal.json written by its-fixture), their
 * manifests min.mig.json, min.save.json, min.elf.json, and kvm2.elf (the
 * real KVM sample kvm-virt-2level.elf). Every case is one file OUTDIR/NAME.EXT
 * plus one line "NAME<TAB>FILE<TAB>ARGS" in OUTDIR/cases.tsv; the damage is
 * a function of fixed seeds and of the base files only, so two runs write
 * the same bytes. Files are written sparse: only non-zero 4 KiB blocks.
 *
 * Like its-fixture this tool is an independent oracle: it includes nothing
 * from src/ or include/; offsets come from the manifests and from the
 * format specs (../shared/spec/qemu-migration-stream.md §3-§9, §15 for the
 * libvirt header; ELF64 from the System V gABI; entries from
 * kvm-its-abi.md §1.2-§1.5).
 *
 * Exit status: 0 written, 1 error (one line on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* kvm-its-abi.md §1.2-§1.5 */
#define KVM_ITS_DTE_VALID_SHIFT 63
#define KVM_ITS_DTE_NEXT_SHIFT 49
#define KVM_ITS_DTE_ITTADDR_SHIFT 5
#define KVM_ITS_ITE_NEXT_SHIFT 48
#define KVM_ITS_ITE_PINTID_SHIFT 16
#define KVM_ITS_CTE_VALID_SHIFT 63
#define KVM_ITS_CTE_RDBASE_SHIFT 16
#define KVM_ITS_L1E_VALID_SHIFT 63

/* qemu-migration-stream.md §4, §9.2 */
#define RAM_SAVE_FLAG_ZERO 0x002
#define RAM_SAVE_FLAG_MEM_SIZE 0x004
#define RAM_SAVE_FLAG_PAGE 0x008
#define RAM_SAVE_FLAG_CONTINUE 0x020
#define STREAM_PAGE 4096u	/* target-page-bits 12 in every base here */

/* ELF64 (System V gABI) */
#define EHDR_SIZE 64u
#define EHDR32_SIZE 52u
#define E_PHOFF 32u
#define E_SHOFF 40u
#define E_PHENTSIZE 54u
#define E_PHNUM 56u
#define E_SHNUM 60u
#define E_SHSTRNDX 62u
#define PHDR_SIZE 56u
#define SHDR_SIZE 64u
#define P_OFFSET 8u
#define P_PADDR 24u
#define P_FILESZ 32u
#define P_MEMSZ 40u
#define PT_LOAD 1u
#define PT_NOTE 4u
#define NHDR_SIZE 12u

/* libvirt save header (qemu-migration-stream.md §15.1) */
#define LIBVIRT_HDR 92u
#define LV_VERSION 16u
#define LV_DATA_LEN 20u
#define LV_FORMAT 28u
#define LV_COOKIE 32u

#define BLOCK 4096u
#define MAX_PATCH 64

/* The sample's facts (kvm-virt-2level.expected.json / registers.json). */
#define K_L1 0x422a0000ull
#define K_L2 0x41170000ull
#define K_CT 0x422b0000ull
#define K_ITT_10 0x415ab000ull
#define K_RAM_END 0x44000000ull

struct base {
	const char *name;
	uint8_t *buf;
	size_t len;
	size_t *blocks;		/* indexes of the non-zero 4 KiB blocks */
	size_t nr_blocks;
};

struct patch {
	uint64_t off;
	size_t n;
	uint8_t b[8];
};

struct kase {
	char name[96];
	const char *ext;
	const struct base *base;
	uint64_t len;
	struct patch p[MAX_PATCH];
	size_t nr;
	char args[512];
};

static const char *outdir;
static FILE *list;
static char **names;
static size_t nr_names, cap_names;
static unsigned nr_cases;

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("badinput-gen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p)
		die("out of memory");
	return p;
}

/* splitmix64: small, and the same on every host */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void find_blocks(struct base *b)
{
	b->nr_blocks = 0;
	b->blocks = xcalloc(b->len / BLOCK + 1, sizeof(*b->blocks));
	for (size_t off = 0; off < b->len; off += BLOCK) {
		size_t n = b->len - off < BLOCK ? b->len - off : BLOCK;

		for (size_t i = 0; i < n; i++)
			if (b->buf[off + i]) {
				b->blocks[b->nr_blocks++] = off / BLOCK;
				break;
			}
	}
}

static void load(struct base *b, const char *dir, const char *file)
{
	char path[4096];
	struct stat st;
	int fd;
	size_t done = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	b->name = file;
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0)
		die("%s: %s", path, strerror(errno));
	b->len = (size_t)st.st_size;
	b->buf = xcalloc(b->len, 1);
	while (done < b->len) {
		ssize_t r = pread(fd, b->buf + done, b->len - done, (off_t)done);

		if (r <= 0)
			die("%s: short read", path);
		done += (size_t)r;
	}
	close(fd);
	find_blocks(b);
}

static void base_free(struct base *b)
{
	free(b->buf);
	free(b->blocks);
}

static json_object *load_json(const char *dir, const char *file)
{
	char path[4096];
	json_object *j;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	j = json_object_from_file(path);
	if (!j)
		die("%s: cannot parse", path);
	return j;
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		die("manifest: no key '%s'", key);
	return v;
}

/* manifest numbers are "0x..." strings or JSON integers */
static uint64_t jnum(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	if (json_object_is_type(v, json_type_string))
		return strtoull(json_object_get_string(v), NULL, 0);
	return (uint64_t)json_object_get_int64(v);
}

static const char *jstr(json_object *o, const char *key)
{
	return json_object_get_string(jget(o, key));
}

static uint64_t get_be(const struct base *b, uint64_t off, unsigned n)
{
	uint64_t v = 0;

	if (off + n > b->len)
		die("%s: read past end at 0x%" PRIx64, b->name, off);
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | b->buf[off + i];
	return v;
}

static uint64_t get_le(const struct base *b, uint64_t off, unsigned n)
{
	uint64_t v = 0;

	if (off + n > b->len)
		die("%s: read past end at 0x%" PRIx64, b->name, off);
	for (unsigned i = n; i-- > 0;)
		v = v << 8 | b->buf[off + i];
	return v;
}

static struct kase *k_new(const struct base *b, const char *ext,
			  const char *args, const char *fmt, ...)
{
	static struct kase k;
	va_list ap;

	memset(&k, 0, sizeof(k));
	va_start(ap, fmt);
	vsnprintf(k.name, sizeof(k.name), fmt, ap);
	va_end(ap);
	k.base = b;
	k.ext = ext;
	k.len = b->len;
	snprintf(k.args, sizeof(k.args), "%s", args);
	return &k;
}

static void k_put(struct kase *k, uint64_t off, uint64_t v, unsigned n,
		  bool big)
{
	struct patch *p;

	if (k->nr == MAX_PATCH)
		die("%s: too many patches", k->name);
	p = &k->p[k->nr++];
	p->off = off;
	p->n = n;
	for (unsigned i = 0; i < n; i++)
		p->b[big ? n - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

#define k_be(k, off, v, n) k_put(k, off, v, n, true)
#define k_le(k, off, v, n) k_put(k, off, v, n, false)

static void k_xor(struct kase *k, uint64_t off, uint8_t x)
{
	k_put(k, off, k->base->buf[off] ^ x, 1, false);
}

static bool seen(const char *name)
{
	for (size_t i = 0; i < nr_names; i++)
		if (!strcmp(names[i], name))
			return true;
	if (nr_names == cap_names) {
		cap_names = cap_names ? 2 * cap_names : 256;
		names = realloc(names, cap_names * sizeof(*names));
		if (!names)
			die("out of memory");
	}
	names[nr_names] = strdup(name);
	if (!names[nr_names])
		die("out of memory");
	nr_names++;
	return false;
}

static void pwrite_all(int fd, const void *buf, size_t n, uint64_t off,
		       const char *path)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);

		if (w <= 0)
			die("%s: %s", path, strerror(errno));
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
}

/* A second case with the same name is the same damage drawn twice by a
 * random class: dropped, so every name is one file. */
static void k_emit(struct kase *k)
{
	char path[4096], file[160];
	const struct base *b = k->base;
	int fd;

	if (seen(k->name))
		return;
	snprintf(file, sizeof(file), "%s.%s", k->name, k->ext);
	snprintf(path, sizeof(path), "%s/%s", outdir, file);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	for (size_t i = 0; i < b->nr_blocks; i++) {
		uint64_t off = (uint64_t)b->blocks[i] * BLOCK;
		uint64_t n = b->len - off < BLOCK ? b->len - off : BLOCK;

		if (off >= k->len)
			break;
		if (off + n > k->len)
			n = k->len - off;
		pwrite_all(fd, b->buf + off, (size_t)n, off, path);
	}
	for (size_t i = 0; i < k->nr; i++) {
		const struct patch *p = &k->p[i];

		if (p->off >= k->len)
			continue;
		pwrite_all(fd, p->b, p->off + p->n > k->len ?
			   (size_t)(k->len - p->off) : p->n, p->off, path);
	}
	if (ftruncate(fd, (off_t)k->len) < 0 || close(fd) < 0)
		die("%s: %s", path, strerror(errno));
	fprintf(list, "%s\t%s\t%s\n", k->name, file, k->args);
	nr_cases++;
}

/* ------------------------------------------------------------ truncations */

struct points {
	uint64_t *v;
	size_t n, cap;
};

static void pt_add(struct points *p, uint64_t off)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 128;
		p->v = realloc(p->v, p->cap * sizeof(*p->v));
		if (!p->v)
			die("out of memory");
	}
	p->v[p->n++] = off;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every point strictly inside the file, once, in ascending order. */
static void trunc_cases(const struct base *b, const char *ext,
			const char *args, const char *prefix, struct points *p)
{
	qsort(p->v, p->n, sizeof(*p->v), cmp_u64);
	for (size_t i = 0; i < p->n; i++) {
		struct kase *k;

		if (p->v[i] >= b->len || (i && p->v[i] == p->v[i - 1]))
			continue;
		k = k_new(b, ext, args, "%s-trunc-0x%06" PRIx64, prefix,
			  p->v[i]);
		k->len = p->v[i];
		k_emit(k);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static void around(struct points *p, uint64_t off)
{
	if (off)
		pt_add(p, off - 1);
	pt_add(p, off);
	pt_add(p, off + 1);
}

/* Stream offsets of the START "ram" section's block list
 * (qemu-migration-stream.md §9.3): MEM_SIZE header, then per block the
 * idstr length byte and used_length. */
struct ram_start {
	uint64_t mem_size;	/* the be64 MEM_SIZE record header */
	uint64_t idstr;		/* first block's counted idstr */
	uint64_t used_length;	/* first block's be64 used_length */
	uint64_t eos;		/* the be64 EOS record header */
	uint64_t footer;
};

static uint64_t section_header_end(const struct base *b, uint64_t rec)
{
	/* type, be32 section_id, counted idstr, be32 instance, be32 version */
	return rec + 1 + 4 + 1 + get_be(b, rec + 5, 1) + 4 + 4;
}

static struct ram_start parse_ram_start(const struct base *b, uint64_t rec)
{
	struct ram_start r;
	uint64_t total, sum = 0, pos;

	r.mem_size = section_header_end(b, rec);
	total = get_be(b, r.mem_size, 8);
	if (!(total & RAM_SAVE_FLAG_MEM_SIZE))
		die("%s: no MEM_SIZE at 0x%" PRIx64, b->name, r.mem_size);
	total &= ~(uint64_t)(STREAM_PAGE - 1);
	pos = r.mem_size + 8;
	r.idstr = pos;
	r.used_length = pos + 1 + get_be(b, pos, 1);
	while (sum < total) {
		pos += 1 + get_be(b, pos, 1);
		sum += get_be(b, pos, 8);
		pos += 8;
	}
	r.eos = pos;
	r.footer = pos + 8;
	return r;
}

struct stream {
	json_object *man, *records;
	size_t nr_records;
	uint64_t stream_off;
	struct ram_start ram;
	uint64_t part;		/* first PART record */
	uint64_t its, its_payload, its_footer;
	size_t its_index;	/* its record's index in the manifest */
	uint64_t gic, gic_payload;
	uint64_t command;
	uint64_t vmdesc, vmdesc_len;
};

static void parse_stream(const struct base *b, json_object *man,
			 struct stream *s)
{
	json_object *st = jget(man, "stream");

	memset(s, 0, sizeof(*s));
	s->man = man;
	s->records = jget(st, "records");
	s->nr_records = json_object_array_length(s->records);
	s->stream_off = jnum(st, "stream_offset");
	for (size_t i = 0; i < s->nr_records; i++) {
		json_object *r = json_object_array_get_idx(s->records, i);
		const char *type = jstr(r, "type");
		uint64_t off = jnum(r, "offset");

		if (!strcmp(type, "START"))
			s->ram = parse_ram_start(b, off);
		else if (!strcmp(type, "PART") && !s->part)
			s->part = off;
		else if (!strcmp(type, "COMMAND"))
			s->command = off;
		else if (!strcmp(type, "VMDESCRIPTION"))
			s->vmdesc = off;
		else if (!strcmp(type, "FULL") &&
			 !strcmp(jstr(r, "idstr"), "arm_gicv3_its")) {
			s->its = off;
			s->its_index = i;
			s->its_payload = jnum(r, "payload_offset");
			s->its_footer = s->its_payload + jnum(r, "payload_size");
		} else if (!strcmp(type, "FULL") &&
			   !strcmp(jstr(r, "idstr"), "arm_gicv3")) {
			s->gic = off;
			s->gic_payload = jnum(r, "payload_offset");
		}
	}
	if (!s->part || !s->its || !s->gic || !s->vmdesc || !s->command)
		die("%s: manifest lacks a record this generator needs", b->name);
	s->vmdesc_len = get_be(b, s->vmdesc + 1, 4);
}

static void stream_trunc(const struct base *b, const struct stream *s,
			 const char *ext, const char *prefix)
{
	struct points p = { 0 };
	uint64_t part_end = 0;

	pt_add(&p, s->stream_off + 4);
	/* CONFIGURATION: type, be32 name length, name, subsection (§3) */
	pt_add(&p, s->stream_off + 9);
	pt_add(&p, s->stream_off + 13);
	pt_add(&p, s->stream_off + 13 + get_be(b, s->stream_off + 9, 4));
	for (size_t i = 0; i < s->nr_records; i++) {
		json_object *r = json_object_array_get_idx(s->records, i);
		const char *type = jstr(r, "type");
		uint64_t off = jnum(r, "offset");

		/* around and inside the sections the tools decode, the first
		 * one they only skip and the last one; the other FULL sections
		 * repeat the skipped one: their start is enough */
		if (!strcmp(type, "FULL") && off != s->gic && off != s->its &&
		    i != s->its_index + 1 && i + 3 != s->nr_records) {
			pt_add(&p, off);
			continue;
		}
		around(&p, off);
		if (!strcmp(type, "START") || !strcmp(type, "FULL")) {
			pt_add(&p, off + 5);	/* idstr length */
			pt_add(&p, off + 6);	/* inside the idstr */
			around(&p, section_header_end(b, off));
		}
		if (!strcmp(type, "FULL")) {
			uint64_t f = jnum(r, "payload_offset") +
				     jnum(r, "payload_size");

			around(&p, f);		/* the footer */
			pt_add(&p, f + 4);	/* inside its section_id */
		}
		if (!strcmp(type, "PART")) {
			pt_add(&p, off + 5 + 4);  /* inside a record header */
			pt_add(&p, off + 5 + 8);  /* at the block idstr */
			pt_add(&p, off + 5 + 8 + 5);
			part_end = off + jnum(r, "size");
		}
		if (!strcmp(type, "COMMAND"))
			pt_add(&p, off + 3);
		if (!strcmp(type, "VMDESCRIPTION")) {
			pt_add(&p, off + 3);
			around(&p, off + 5);
			pt_add(&p, off + 5 + s->vmdesc_len / 2);
			pt_add(&p, b->len - 1);
		}
	}
	pt_add(&p, s->ram.mem_size + 4);
	around(&p, s->ram.idstr);
	around(&p, s->ram.used_length);
	around(&p, s->ram.eos);
	around(&p, s->ram.footer);
	/* A prime stride lands in page headers and inside page data alike. */
	for (uint64_t o = s->part + 4099; o < part_end; o += 7919)
		pt_add(&p, o);
	trunc_cases(b, ext, "", prefix, &p);
}

/* ------------------------------------------------------------ ELF */

struct elf {
	uint64_t phoff, shoff;
	unsigned phnum, shnum;
	uint64_t note_ph, note_off, note_sz;	/* PT_NOTE header, data */
	uint64_t load_ph, load_off, load_sz, load_gpa;
};

static void parse_elf(const struct base *b, struct elf *e)
{
	memset(e, 0, sizeof(*e));
	if (b->len < EHDR_SIZE || memcmp(b->buf, "\177ELF\2\1", 6))
		die("%s: not a little-endian ELF64 file", b->name);
	e->phoff = get_le(b, E_PHOFF, 8);
	e->shoff = get_le(b, E_SHOFF, 8);
	e->phnum = (unsigned)get_le(b, E_PHNUM, 2);
	e->shnum = (unsigned)get_le(b, E_SHNUM, 2);
	for (unsigned i = 0; i < e->phnum; i++) {
		uint64_t ph = e->phoff + (uint64_t)i * PHDR_SIZE;
		uint32_t type = (uint32_t)get_le(b, ph, 4);

		if (type == PT_NOTE && !e->note_ph) {
			e->note_ph = ph;
			e->note_off = get_le(b, ph + P_OFFSET, 8);
			e->note_sz = get_le(b, ph + P_FILESZ, 8);
		} else if (type == PT_LOAD && !e->load_ph) {
			e->load_ph = ph;
			e->load_off = get_le(b, ph + P_OFFSET, 8);
			e->load_sz = get_le(b, ph + P_FILESZ, 8);
			e->load_gpa = get_le(b, ph + P_PADDR, 8);
		}
	}
	if (!e->note_ph || !e->load_ph)
		die("%s: needs a PT_NOTE and a PT_LOAD", b->name);
}

static uint64_t elf_gpa_off(const struct base *b, const struct elf *e,
			    uint64_t gpa)
{
	if (gpa < e->load_gpa || gpa - e->load_gpa + 8 > e->load_sz)
		die("%s: GPA 0x%" PRIx64 " is not in the first PT_LOAD",
		    b->name, gpa);
	return e->load_off + (gpa - e->load_gpa);
}

static void elf_trunc(const struct base *b, const struct elf *e,
		      json_object *man, const char *args)
{
	struct points p = { 0 };
	json_object *devs = jget(man, "devices"), *cols = jget(man, "collections");
	uint64_t pos;

	pt_add(&p, 1);
	around(&p, 4);
	around(&p, 16);
	around(&p, EHDR32_SIZE);
	around(&p, EHDR_SIZE);
	for (unsigned i = 0; i <= e->shnum; i++)
		around(&p, e->shoff + (uint64_t)i * SHDR_SIZE);
	for (unsigned i = 0; i <= e->phnum; i++)
		around(&p, e->phoff + (uint64_t)i * PHDR_SIZE);
	/* every note: header, name, descriptor (4-byte aligned) */
	for (pos = e->note_off; pos + NHDR_SIZE <= e->note_off + e->note_sz;) {
		uint64_t nsz = get_le(b, pos, 4), dsz = get_le(b, pos + 4, 4);
		uint64_t name = pos + NHDR_SIZE;
		uint64_t desc = name + ((nsz + 3) & ~3ull);

		around(&p, pos);
		pt_add(&p, pos + 6);
		around(&p, name);
		around(&p, desc);
		pt_add(&p, desc + dsz / 2);
		pos = desc + ((dsz + 3) & ~3ull);
	}
	around(&p, e->load_off);
	for (uint64_t o = 0x400000; o < e->load_sz; o += 0x400000)
		pt_add(&p, e->load_off + o);
	/* at and inside the table entries: the data the tools need most */
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		json_object *d = json_object_array_get_idx(devs, i);
		json_object *evs = jget(d, "events");
		uint64_t o = elf_gpa_off(b, e, jnum(d, "gpa"));

		pt_add(&p, o);
		pt_add(&p, o + 4);
		for (size_t j = 0; j < json_object_array_length(evs); j++)
			pt_add(&p, elf_gpa_off(b, e, jnum(
				json_object_array_get_idx(evs, j), "gpa")) + 4);
	}
	for (size_t i = 0; i < json_object_array_length(cols); i++)
		pt_add(&p, elf_gpa_off(b, e, jnum(
			json_object_array_get_idx(cols, i), "gpa")) + 4);
	pt_add(&p, b->len - 1);
	trunc_cases(b, "elf", args, "elf", &p);
}

/* ------------------------------------------------------------ byte flips */

/* n single-byte flips (XOR with 1..255) at seeded positions of
 * [start, end); the name says where and with what. */
static void flips(const struct base *b, const char *ext, const char *args,
		  const char *prefix, const char *region, uint64_t start,
		  uint64_t end, unsigned n, uint64_t seed)
{
	uint64_t s = seed;
	unsigned made = 0, tries = 0;

	if (end > b->len)
		end = b->len;
	if (end <= start)
		die("%s: empty flip region %s", b->name, region);
	while (made < n && tries++ < 100 * n) {
		uint64_t off = start + rng_next(&s) % (end - start);
		uint8_t x = (uint8_t)(1 + rng_next(&s) % 255);
		struct kase *k = k_new(b, ext, args, "%s-flip-%s-0x%06" PRIx64
				       "-x%02x", prefix, region, off, x);
		unsigned before = nr_cases;

		k_xor(k, off, x);
		k_emit(k);
		made += nr_cases != before;
	}
}

/* ------------------------------------------------------------ length fields */

static const uint64_t len32[] = { 0, 1, 0x7fffffff, 0x80000000, 0xffffffff };
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void set_field(const struct base *b, const char *ext, const char *args,
		      const char *prefix, const char *field, uint64_t off,
		      unsigned n, bool big, uint64_t v)
{
	struct kase *k = k_new(b, ext, args, "%s-len-%s-0x%" PRIx64, prefix,
			       field, v);

	k_put(k, off, v, n, big);
	k_emit(k);
}

static void set_fields(const struct base *b, const char *ext,
		       const char *args, const char *prefix, const char *field,
		       uint64_t off, unsigned n, bool big,
		       const uint64_t *vals, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		set_field(b, ext, args, prefix, field, off, n, big, vals[i]);
}

static void stream_lengths(const struct base *b, const struct stream *s)
{
	static const uint64_t u8s[] = { 0, 0xff };
	uint64_t so = s->stream_off;
	uint64_t used = get_be(b, s->ram.used_length, 8);
	uint64_t total = get_be(b, s->ram.mem_size, 8);
	uint64_t ms[] = { RAM_SAVE_FLAG_MEM_SIZE,
			  0xfffffffffffff000ull | RAM_SAVE_FLAG_MEM_SIZE,
			  0x8000000000000000ull | RAM_SAVE_FLAG_MEM_SIZE,
			  (total & ~0xfffull) * 2 | RAM_SAVE_FLAG_MEM_SIZE };
	uint64_t ul[] = { 0, 0xffffffffffffffffull, 0x8000000000000000ull,
			  0xffffffff, used + 1, used * 2, used - STREAM_PAGE };
	uint64_t vl[] = { 0, 1, 0x7fffffff, 0x80000000, 0xffffffff,
			  s->vmdesc_len - 1, s->vmdesc_len + 1 };

	/* CONFIGURATION machine name and first subsection name (§3) */
	set_fields(b, "mig", "", "mig", "cfg-name", so + 9, 4, true, len32,
		   N(len32));
	set_fields(b, "mig", "", "mig", "cfg-subsec-name",
		   so + 13 + get_be(b, so + 9, 4) + 1, 1, true, u8s, N(u8s));
	/* section idstr lengths (§4) */
	set_fields(b, "mig", "", "mig", "start-idstr",
		   jnum(json_object_array_get_idx(s->records, 1), "offset") + 5,
		   1, true, u8s, N(u8s));
	set_fields(b, "mig", "", "mig", "its-idstr", s->its + 5, 1, true,
		   u8s, N(u8s));
	set_field(b, "mig", "", "mig", "its-idstr", s->its + 5, 1, true, 1);
	set_fields(b, "mig", "", "mig", "gic-idstr", s->gic + 5, 1, true,
		   u8s, N(u8s));
	/* RAM block list (§9.3) */
	set_fields(b, "mig", "", "mig", "mem-size", s->ram.mem_size, 8, true,
		   ms, N(ms));
	set_fields(b, "mig", "", "mig", "block-idstr", s->ram.idstr, 1, true,
		   u8s, N(u8s));
	set_fields(b, "mig", "", "mig", "used-length", s->ram.used_length, 8,
		   true, ul, N(ul));
	/* the first page record's block idstr (§9.1) */
	set_fields(b, "mig", "", "mig", "page-idstr", s->part + 5 + 8, 1,
		   true, u8s, N(u8s));
	/* COMMAND be16 length (§5) */
	set_field(b, "mig", "", "mig", "command-len", s->command + 3, 2, true,
		  0xffff);
	set_field(b, "mig", "", "mig", "command-len", s->command + 3, 2, true,
		  1);
	/* vmdesc be32 length (§8) */
	set_fields(b, "mig", "", "mig", "vmdesc", s->vmdesc + 1, 4, true,
		   vl, N(vl));
}

/* Page record headers that name no page or a page outside the block,
 * and flags no file stream may hold (§9.2). */
static void stream_records(const struct base *b, const struct stream *s)
{
	static const struct {
		const char *name;
		uint64_t h;
	} recs[] = {
		{ "offset-past-block", 0x1000000 | RAM_SAVE_FLAG_ZERO },
		{ "offset-max", 0xfffffffffffff000ull | RAM_SAVE_FLAG_ZERO },
		{ "flag-full", 0x001 },
		{ "flag-xbzrle", 0x040 },
		{ "flag-hook", 0x080 },
		{ "flag-compress", 0x100 },
		{ "flag-multifd-flush", 0x200 },
		{ "flags-zero-page", RAM_SAVE_FLAG_ZERO | RAM_SAVE_FLAG_PAGE },
		{ "flag-continue-first", RAM_SAVE_FLAG_ZERO |
					 RAM_SAVE_FLAG_CONTINUE },
		{ "flag-none", 0 },
	};
	uint64_t first = s->part + 5;

	for (size_t i = 0; i < N(recs); i++) {
		struct kase *k = k_new(b, "mig", "", "mig-rec-%s", recs[i].name);

		k_be(k, first, recs[i].h, 8);
		k_emit(k);
	}
	{
		/* the ZERO record's fill byte (10.0 rejects non-zero) */
		uint64_t h = get_be(b, first, 8);
		struct kase *k;

		if ((h & (STREAM_PAGE - 1)) != RAM_SAVE_FLAG_ZERO)
			die("%s: first page record is not ZERO", b->name);
		k = k_new(b, "mig", "", "mig-rec-zero-fill-0xff");
		k_be(k, first + 8 + 1 + get_be(b, first + 8, 1), 0xff, 1);
		k_emit(k);
	}
	{
		struct kase *k = k_new(b, "mig", "", "mig-rec-its-footer-id");

		k_be(k, s->its_footer + 1, 0x7fffffff, 4);
		k_emit(k);
		k = k_new(b, "mig", "", "mig-rec-its-no-footer");
		k_be(k, s->its_footer, 0x00, 1);
		k_emit(k);
		k = k_new(b, "mig", "", "mig-rec-header-version-0");
		k_be(k, s->stream_off + 4, 0, 4);
		k_emit(k);
		k = k_new(b, "mig", "", "mig-rec-header-version-max");
		k_be(k, s->stream_off + 4, 0xffffffff, 4);
		k_emit(k);
		k = k_new(b, "mig", "", "mig-rec-type-0x7f");
		k_be(k, s->gic, 0x7f, 1);
		k_emit(k);
		k = k_new(b, "mig", "", "mig-rec-command-id-max");
		k_be(k, s->command + 1, 0xffff, 2);
		k_emit(k);
	}
}

static void elf_lengths(const struct base *b, const struct elf *e,
			const char *args)
{
	static const uint64_t phnums[] = { 0, 1, 3, 0x7fff, 0xffff };
	static const uint64_t phentsizes[] = { 0, 32, 0xffff };
	uint64_t phoffs[] = { 0, 0xc1, b->len, 0x7fffffffffffffffull,
			      0xffffffffffffffffull };
	uint64_t lfs[] = { 0, 0xffffffff, 0x8000000000000000ull,
			   0xffffffffffffffffull, e->load_sz + 1,
			   b->len - e->load_off + 1 };
	uint64_t lofs[] = { 0, b->len, 0x8000000000000000ull,
			    0xffffffffffffffffull, 0xfffffffffffff000ull };
	uint64_t lms[] = { 0, 0xffffffff, 0xffffffffffffffffull };
	uint64_t pas[] = { 0, 0xfffffffffffff000ull, 0x000fffffffffffffull };
	uint64_t nfs[] = { 0, 1, 13, 0xffffffff, 0xffffffffffffffffull };
	uint64_t nos[] = { b->len, 0xffffffffffffffffull };
	uint64_t n2 = e->note_off + NHDR_SIZE +
		      ((get_le(b, e->note_off, 4) + 3) & ~3ull) +
		      ((get_le(b, e->note_off + 4, 4) + 3) & ~3ull);

	set_fields(b, "elf", args, "elf", "e_phnum", E_PHNUM, 2, false,
		   phnums, N(phnums));
	set_fields(b, "elf", args, "elf", "e_phoff", E_PHOFF, 8, false,
		   phoffs, N(phoffs));
	set_fields(b, "elf", args, "elf", "e_phentsize", E_PHENTSIZE, 2,
		   false, phentsizes, N(phentsizes));
	set_field(b, "elf", args, "elf", "e_shnum", E_SHNUM, 2, false, 0xffff);
	set_field(b, "elf", args, "elf", "e_shoff", E_SHOFF, 8, false,
		  0xffffffffffffffffull);
	set_field(b, "elf", args, "elf", "e_shstrndx", E_SHSTRNDX, 2, false,
		  0xffff);
	set_fields(b, "elf", args, "elf", "load-p_filesz",
		   e->load_ph + P_FILESZ, 8, false, lfs, N(lfs));
	set_fields(b, "elf", args, "elf", "load-p_offset",
		   e->load_ph + P_OFFSET, 8, false, lofs, N(lofs));
	set_fields(b, "elf", args, "elf", "load-p_memsz", e->load_ph + P_MEMSZ,
		   8, false, lms, N(lms));
	set_fields(b, "elf", args, "elf", "load-p_paddr", e->load_ph + P_PADDR,
		   8, false, pas, N(pas));
	set_fields(b, "elf", args, "elf", "note-p_filesz",
		   e->note_ph + P_FILESZ, 8, false, nfs, N(nfs));
	set_fields(b, "elf", args, "elf", "note-p_offset",
		   e->note_ph + P_OFFSET, 8, false, nos, N(nos));
	set_fields(b, "elf", args, "elf", "n_namesz", e->note_off, 4, false,
		   len32, N(len32));
	set_fields(b, "elf", args, "elf", "n_descsz", e->note_off + 4, 4,
		   false, len32, N(len32));
	set_field(b, "elf", args, "elf", "n2_namesz", n2, 4, false,
		  0xffffffff);
	set_field(b, "elf", args, "elf", "n2_descsz", n2 + 4, 4, false,
		  0x7fffffff);
}

static void libvirt_lengths(const struct base *b, json_object *man)
{
	json_object *lv = jget(jget(man, "stream"), "libvirt");
	uint64_t dl = jnum(lv, "data_len");
	uint64_t dls[] = { 0, 0x7fffffff, 0x80000000, 0xffffffff, dl - 1,
			   dl + 1 };
	static const uint64_t vers[] = { 0, 1, 3, 0xffffffff };
	static const uint64_t fmts[] = { 7, 0xffffffff };
	uint64_t cks[] = { dl, dl + 1, 0xffffffff };

	set_fields(b, "save", "", "save", "data_len", LV_DATA_LEN, 4, false,
		   dls, N(dls));
	set_fields(b, "save", "", "save", "version", LV_VERSION, 4, false,
		   vers, N(vers));
	set_fields(b, "save", "", "save", "format", LV_FORMAT, 4, false, fmts,
		   N(fmts));
	set_fields(b, "save", "", "save", "cookie", LV_COOKIE, 4, false, cks,
		   N(cks));
}

static void libvirt_trunc(const struct base *b, json_object *man)
{
	json_object *st = jget(man, "stream"), *lv = jget(st, "libvirt");
	struct points p = { 0 };
	uint64_t so = jnum(st, "stream_offset");

	pt_add(&p, 15);
	around(&p, 16);
	around(&p, LV_DATA_LEN);
	around(&p, LIBVIRT_HDR);
	pt_add(&p, jnum(lv, "xml_offset") + jnum(lv, "xml_length") / 2);
	around(&p, jnum(lv, "xml_offset") + jnum(lv, "xml_length"));
	around(&p, so);
	pt_add(&p, so + 4);
	pt_add(&p, so + 8);
	pt_add(&p, so + 62);
	trunc_cases(b, "save", "", "save", &p);
}

/* ------------------------------------------------------------ guest data */

static uint64_t dte(uint64_t next, uint64_t itt, uint64_t size)
{
	return 1ull << KVM_ITS_DTE_VALID_SHIFT | next << KVM_ITS_DTE_NEXT_SHIFT |
	       (itt >> 8) << KVM_ITS_DTE_ITTADDR_SHIFT | size;
}

static uint64_t ite(uint64_t next, uint64_t lpi, uint64_t icid)
{
	return next << KVM_ITS_ITE_NEXT_SHIFT |
	       lpi << KVM_ITS_ITE_PINTID_SHIFT | icid;
}

static uint64_t cte(bool valid, uint64_t target, uint64_t icid)
{
	return (uint64_t)valid << KVM_ITS_CTE_VALID_SHIFT |
	       target << KVM_ITS_CTE_RDBASE_SHIFT | icid;
}

static uint64_t l1e(bool valid, uint64_t l2)
{
	return (uint64_t)valid << KVM_ITS_L1E_VALID_SHIFT | l2;
}

struct gw {
	uint64_t gpa, v;
};

/* The sample's entries the guest cases change, checked before use so a
 * changed sample fails here instead of making meaningless cases. */
static const struct gw sample_facts[] = {
	{ K_L1, 0x8000000041170000ull },
	{ K_CT, 0x8000000000000000ull },
	{ K_CT + 8, 0x8000000000010001ull },
	{ K_L2 + 0x8 * 8, 0x80100000082b5641ull },
	{ K_L2 + 0x10 * 8, 0x80100000082b5602ull },
	{ K_L2 + 0x18 * 8, 0x80100000082b5680ull },
	{ K_L2 + 0x200 * 8, 0x80000000082b5622ull },
	{ K_ITT_10, 0x0001000020000001ull },
	{ K_ITT_10 + 8, 0x0001000020010000ull },
	{ K_ITT_10 + 16, 0x0001000020020001ull },
	{ K_ITT_10 + 32, 0x0000000020040001ull },
};

static void guest(const struct base *b, const struct elf *e,
		  const char *name, const char *extra, size_t n,
		  const struct gw *w)
{
	char args[512];
	struct kase *k;

	snprintf(args, sizeof(args), "--its-regs kvm2.regs.json%s%s",
		 *extra ? " " : "", extra);
	k = k_new(b, "elf", args, "guest-%s", name);
	for (size_t i = 0; i < n; i++)
		k_le(k, elf_gpa_off(b, e, w[i].gpa), w[i].v, 8);
	k_emit(k);
}

#define G(name, extra, ...)                                                  \
	do {                                                                 \
		const struct gw w_[] = { __VA_ARGS__ };                      \
		guest(b, e, name, extra, N(w_), w_);                         \
	} while (0)
#define GA(name, extra) guest(b, e, name, extra, 0, NULL)

static void guest_cases(const struct base *b, const struct elf *e)
{
	const uint64_t d8 = K_L2 + 0x8 * 8, d10 = K_L2 + 0x10 * 8;
	const uint64_t d18 = K_L2 + 0x18 * 8, d200 = K_L2 + 0x200 * 8;
	const uint64_t i10 = K_ITT_10;

	for (size_t i = 0; i < N(sample_facts); i++)
		if (get_le(b, elf_gpa_off(b, e, sample_facts[i].gpa), 8) !=
		    sample_facts[i].v)
			die("%s: GPA 0x%" PRIx64 " does not hold 0x%016" PRIx64
			    ": not the sample this generator knows", b->name,
			    sample_facts[i].gpa, sample_facts[i].v);

	GA("none", "");
	/* ITT walks (§2.3.4) */
	G("ite-next-beyond-itt", "", { i10 + 32, ite(5, 8196, 1) });
	G("ite-next-max", "", { i10 + 32, ite(0xffff, 8196, 1) });
	G("ite-next-onto-invalid", "", { i10 + 8, 0 });
	G("ite-chain-ends-early", "", { i10, ite(0, 8192, 1) });
	G("ite-next-skips-event", "", { i10, ite(2, 8192, 1) });
	G("ite-lpi-below-8192", "", { i10 + 16, ite(1, 100, 1) });
	G("ite-lpi-max", "", { i10 + 16, ite(1, 0xffffffff, 1) });
	G("ite-icid-unknown", "", { i10 + 16, ite(1, 8194, 9) });
	G("ite-lpi-shared", "", { i10 + 16, ite(1, 8192, 1) });
	G("ite-all-invalid", "", { i10, 0 }, { i10 + 8, 0 }, { i10 + 16, 0 },
	  { i10 + 24, 0 }, { i10 + 32, 0 });
	/* device table walks (§2.3.3) */
	G("dte-next-beyond-l2", "", { d200, dte(0x3fff, 0x415ab100, 2) });
	G("dte-chain-ends-early", "", { d8, dte(0, 0x415ab200, 1) });
	G("dte-next-onto-invalid", "", { d8, dte(4, 0x415ab200, 1) });
	G("dte-next-skips-device", "", { d8, dte(16, 0x415ab200, 1) });
	G("dte-size-31", "", { d10, dte(8, K_ITT_10, 31) });
	G("dte-size-15-itt-past-ram-end", "",
	  { d18, dte(8, K_RAM_END - 0x10000, 15) });
	G("dte-itt-outside-ram", "", { d18, dte(8, 0x80000000, 0) });
	G("dte-itt-top-of-pa", "", { d18, dte(8, 0x000fffffffffff00ull, 15) });
	G("dte-itt-is-device-table", "", { d18, dte(8, K_L2, 0) });
	G("dte-itt-is-collection-table", "", { d18, dte(8, K_CT, 0) });
	G("dte-itt-shared", "", { d18, dte(8, K_ITT_10, 0) });
	G("dte-itt-overlaps-itts", "", { d10, dte(8, K_ITT_10, 5) });
	G("dtes-zeroed-but-last", "", { d8, 0 }, { d10, 0 }, { d18, 0 },
	  { K_L2 + 0x20 * 8, 0 }, { K_L2 + 0x100 * 8, 0 });
	/* level-1 entries (§1.5) */
	G("l1-invalid", "", { K_L1, l1e(false, K_L2) });
	G("l1-outside-ram", "", { K_L1, l1e(true, 0x80000000) });
	G("l1-points-to-l1", "", { K_L1, l1e(true, K_L1) });
	G("l1-addr-low-bits", "", { K_L1, l1e(true, K_L2) | 0xabc });
	G("l1-alias-loop", "", { K_L1 + 8, l1e(true, K_L2) },
	  { d200, dte(0x1e00, 0x415ab100, 2) });
	G("l1-top-of-pa", "", { K_L1, l1e(true, 0x000fffffffff0000ull) });
	/* collection table (§2.3.2) */
	G("cte-target-bad", "", { K_CT + 8, cte(true, 5, 1) });
	G("cte-dup-icid", "", { K_CT + 8, cte(true, 1, 0) });
	G("cte-icid-huge", "", { K_CT + 8, cte(true, 1, 0xffff) });
	G("cte-first-invalid", "", { K_CT, cte(false, 0, 0) });
	G("cte-unmapped", "", { K_CT + 8, cte(true, 0xffffffff, 1) });
	G("cte-no-terminator-overlap", "", { K_CT + 16, cte(true, 0, 2) },
	  { K_CT + 24, cte(true, 1, 3) });
	/* registers that disagree with the tables (§2.4, §4.1) */
	GA("baser-dt-outside-ram", "--baser 0=0xf907000080000600");
	GA("baser-ct-outside-ram", "--baser 1=0xbc07000080000600");
	GA("baser-dt-flat", "--baser 0=0xb9070000422a0600");
	GA("baser-dt-size-max", "--baser 0=0xf9070000422a06ff");
	GA("baser-dt-top-of-pa", "--baser 0=0xf907fffffffff6ff");
	GA("baser-ct-over-device-table", "--baser 1=0xbc07000041170600");
	GA("baser-dt-invalid", "--baser 0=0x79070000422a0600");
	GA("propbaser-outside-ram", "--propbaser 0x8000078f");
	GA("pendbaser-outside-ram", "--pendbaser 0=0x80000780");
	GA("iidr-revision-1", "--iidr 0x4b00143b");
	GA("iidr-tcg", "--iidr 0");
}


/* The same damage in the pages of a stream: entries patched where the
 * manifest says their last copy is (fixtures README §5.4). */
static void stream_guest(const struct base *b, json_object *man)
{
	json_object *d = json_object_array_get_idx(jget(man, "devices"), 0);
	json_object *ev = json_object_array_get_idx(jget(d, "events"), 0);
	json_object *c = json_object_array_get_idx(jget(man, "collections"), 0);
	uint64_t dte_off = jnum(d, "file_offset"), ite_off = jnum(ev, "file_offset");
	uint64_t itt = jnum(d, "itt");
	struct kase *k;

	k = k_new(b, "mig", "", "mig-guest-dte-itt-outside-ram");
	k_le(k, dte_off, dte(0, 0x80000000, 0), 8);
	k_emit(k);
	k = k_new(b, "mig", "", "mig-guest-ite-next-beyond-itt");
	k_le(k, ite_off, ite(2, 8192, 0), 8);
	k_emit(k);
	k = k_new(b, "mig", "", "mig-guest-cte-target-bad");
	k_le(k, jnum(c, "file_offset"), cte(true, 7, 0), 8);
	k_emit(k);
	k = k_new(b, "mig", "", "mig-guest-dte-size-31");
	k_le(k, dte_off, dte(0, itt, 31), 8);
	k_emit(k);
}

/* A raw RAM image: the PT_LOAD bytes of the minimal core, registers on
 * the command line. */
#define RAW_REGS "--iidr 0x4b00043b --baser 0=0xb907000040a10600 " \
		 "--baser 1=0xbc07000040a30600 --propbaser 0x40a4078f " \
		 "--pendbaser 0=0x40a50780"

static void raw_cases(const struct base *elfb, const struct elf *e)
{
	static const uint64_t cuts[] = { 1, 0x1001, 0xa10040, 0xa10044,
					 0xa30000, 0xc00004 };
	static const char *const bases[] = { "0x40000001",
					     "0xffffffffffff0000",
					     "0xfffffff000000",
					     "0" };
	struct base b = { "min.raw", elfb->buf + e->load_off,
			  (size_t)e->load_sz, NULL, 0 };
	char args[512];
	struct kase *k;

	find_blocks(&b);
	snprintf(args, sizeof(args), "--ram-base 0x40000000 " RAW_REGS);
	k = k_new(&b, "raw", args, "ok-raw");
	k_emit(k);
	for (size_t i = 0; i < N(cuts); i++) {
		k = k_new(&b, "raw", args, "raw-trunc-0x%06" PRIx64, cuts[i]);
		k->len = cuts[i];
		k_emit(k);
	}
	for (size_t i = 0; i < N(bases); i++) {
		snprintf(args, sizeof(args), "--ram-base %s " RAW_REGS,
			 bases[i]);
		k = k_new(&b, "raw", args, "raw-ram-base-%s", bases[i]);
		k_emit(k);
	}
	free(b.blocks);
}

int main(int argc, char **argv)
{
	struct base mig, sav, elf, kvm;
	struct stream sm, ss;
	struct elf em, ek;
	json_object *mm, *ms, *me;
	const char *ea = "--its-regs min.regs.json";
	char path[4096];

	if (argc != 3) {
		fputs("usage: badinput-gen BASEDIR OUTDIR\n", stderr);
		return 1;
	}
	outdir = argv[2];
	load(&mig, argv[1], "min.mig");
	load(&sav, argv[1], "min.save");
	load(&elf, argv[1], "min.elf");
	load(&kvm, argv[1], "kvm2.elf");
	mm = load_json(argv[1], "min.mig.json");
	ms = load_json(argv[1], "min.save.json");
	me = load_json(argv[1], "min.elf.json");
	parse_stream(&mig, mm, &sm);
	parse_stream(&sav, ms, &ss);
	parse_elf(&elf, &em);
	parse_elf(&kvm, &ek);
	snprintf(path, sizeof(path), "%s/cases.tsv", outdir);
	list = fopen(path, "w");
	if (!list)
		die("%s: %s", path, strerror(errno));

	/* healthy controls: each damaged class differs from one of these */
	k_emit(k_new(&mig, "mig", "", "ok-mig"));
	k_emit(k_new(&sav, "save", "", "ok-save"));
	k_emit(k_new(&elf, "elf", ea, "ok-elf"));

	stream_trunc(&mig, &sm, "mig", "mig");
	elf_trunc(&elf, &em, me, ea);
	libvirt_trunc(&sav, ms);

	flips(&mig, "mig", "", "mig", "cfg", 0, 0x3e, 10, 1);
	flips(&mig, "mig", "", "mig", "start", 0x3e, sm.part, 10, 2);
	flips(&mig, "mig", "", "mig", "its", sm.its, sm.its_payload, 6, 3);
	flips(&mig, "mig", "", "mig", "its-footer", sm.its_footer,
	      sm.its_footer + 5, 3, 4);
	flips(&mig, "mig", "", "mig", "gic", sm.gic, sm.gic_payload + 4, 6, 5);
	flips(&mig, "mig", "", "mig", "vmdesc-len", sm.vmdesc,
	      sm.vmdesc + 5, 4, 6);
	flips(&mig, "mig", "", "mig", "vmdesc", sm.vmdesc + 5, mig.len, 10, 7);
	flips(&elf, "elf", ea, "elf", "ehdr", 0, EHDR_SIZE, 12, 8);
	flips(&elf, "elf", ea, "elf", "phdr", em.phoff,
	      em.phoff + (uint64_t)em.phnum * PHDR_SIZE, 10, 9);
	flips(&elf, "elf", ea, "elf", "nhdr", em.note_off,
	      em.note_off + NHDR_SIZE + 8, 6, 10);
	flips(&sav, "save", "", "save", "hdr", 0, LIBVIRT_HDR, 12, 11);

	stream_lengths(&mig, &sm);
	stream_records(&mig, &sm);
	elf_lengths(&elf, &em, ea);
	libvirt_lengths(&sav, ms);

	guest_cases(&kvm, &ek);
	stream_guest(&mig, mm);
	raw_cases(&elf, &em);

	if (fclose(list) != 0)
		die("%s: write error", path);
	json_object_put(mm);
	json_object_put(ms);
	json_object_put(me);
	base_free(&mig);
	base_free(&sav);
	base_free(&elf);
	base_free(&kvm);
	for (size_t i = 0; i < nr_names; i++)
		free(names[i]);
	free(names);
	printf("badinput-gen: %u cases in %s\n", nr_cases, outdir);
	return 0;
}
