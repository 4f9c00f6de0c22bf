/* its-fsck repairs under random damage (issue 7, item 5).
 *
 * Good snapshots (a KVM-layout ELF core with its registers file, the KVM
 * and the real QEMU TCG migration streams of ../shared/samples, and
 * fixture-writer outputs: plain, live, mapped-ram and libvirt streams, a
 * page sent as a ZERO record, an ELF core) get 1-4 seeded damages in their
 * ITS table entries, found through its-dump --json: bit flips, flipped
 * address bits, random `next` fields, LPIs below 8192 or above the IDbits
 * range, random ICIDs, zeroed and swapped entries. Then its-fsck -y runs
 * three ways on each:
 *   --dry-run -j      the plan: every write's GPA, first file offset, old
 *                     and new bytes (with and without -o, which differ in
 *                     what cannot be written in place)
 *   -o COPY           the input keeps every byte and its mtime; the copy
 *                     differs from it only inside the plan's writes; its
 *                     undo file is where it is said to be (--undo-file in
 *                     even cases, COPY.its-undo in odd ones) and nowhere
 *                     else; with nothing to write, no copy, no undo file
 *                     and one line saying so
 *   in place (WORK)   the same check of the differing bytes, then --undo
 *                     must give back the input's bytes exactly; with
 *                     nothing to write, on the input itself: untouched,
 *                     and no undo file
 *   --undo of COPY    gives back the input's bytes exactly (whole file,
 *                     its size too where a ZERO record was re-encoded),
 *                     after the same undo file refused the input itself
 * The dry-run JSON names one file offset per write (the copy a reader
 * uses), while a stream may hold older copies of the page that the repair
 * writes too; so this file scans the RAM records itself (its-dump
 * --sections only says where the sections are) and knows every copy of
 * every page; the plan's offset is checked against that scan. A page whose
 * last copy is a ZERO record is re-encoded by -o as a PAGE record, which
 * shifts the rest of the copy: the comparison follows that shift.
 * A failure names the case, its seed, the damages and the byte ranges that
 * differ outside the plan. ITS_FIXFUZZ_VERBOSE=1 prints one line a case. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "suites.h"
#include "testutil.h"

/* ------------------------------------------------------------ bases */

struct base {
	const char *name;
	const char *spec;	/* tests/fixtures/SPEC.json, or NULL: a sample */
	const char *sample;	/* build/samples/NAME */
	const char *ext;	/* elf, mig or save: what the writer makes */
	bool regs;		/* an ELF core: registers from a file */
};

static const struct base bases[] = {
	{ "kvm-elf", NULL, "kvm-virt-2level.elf", "elf", true },
	{ "kvm-mig", NULL, "kvm-virt-2level.mig", "mig", false },
	{ "qemu10-tcg", NULL, "qemu10-virt-its-stopped.mig", "mig", false },
	{ "twolevel-elf", "twolevel-24dev", NULL, "elf", true },
	{ "stream-twolevel", "stream-twolevel", NULL, "mig", false },
	{ "stream-live", "stream-live", NULL, "mig", false },
	{ "stream-mapped-ram", "stream-mapped-ram", NULL, "mig", false },
	{ "zero-page", "fix/fix-icid-zero-page", NULL, "mig", false },
	{ "zero-page-mapped-ram", "fix/fix-icid-zero-page-mapped-ram", NULL, "mig", false },
	{ "stream-libvirt", "stream-libvirt", NULL, "save", false },
};
enum { B_KVM_ELF, B_KVM_MIG, B_QEMU10, B_TWOLEVEL_ELF, B_STREAM_TWOLEVEL,
       B_LIVE, B_MAPPED, B_ZERO_PAGE, B_ZERO_PAGE_MAPPED, B_LIBVIRT };

/* ------------------------------------------------------------ damage */

enum dkind { D_FLIP, D_ADDR, D_NEXT, D_LPI_LOW, D_LPI_HIGH, D_ICID, D_ZERO,
	     D_SWAP, D_NR };
static const char *const dnames[] = {
	"flip", "addr-flip", "next", "lpi-low", "lpi-high", "icid", "zero",
	"swap",
};

enum ekind { E_L1, E_DTE, E_ITE, E_CTE };
static const char *const enames[] = { "L1", "DTE", "ITE", "CTE" };

struct entry {
	enum ekind kind;
	bool tcg;
	uint64_t gpa;
	unsigned len;
};

/* A damage given by hand (the cases of item 3): kind, on the nth entry
 * of entry kind ek, with value v (the field's new value; D_SWAP: n2 is
 * the second entry). */
struct fixed_damage {
	enum dkind kind;
	enum ekind ek;
	unsigned n, n2;
	uint64_t v;
};

enum expect {
	X_ANY,
	X_NOTHING_WRITTEN,	/* no write planned that can be made */
	X_REFUSED,		/* the planner refuses a repair, and says why */
	X_NOT_IN_PLACE,		/* planned, but only a copy (-o) can hold it */
	X_OLDER_COPIES,		/* written into older copies of a stream page */
	X_CLEAR_BIT,		/* written into a clear-bit mapped-ram page */
};

struct fuzz_case {
	unsigned base;
	uint64_t seed;
	const struct fixed_damage *fixed;	/* NULL: random from seed */
	size_t nr_fixed;
	enum expect expect;
	const char *why;
};

/* ------------------------------------------------------------ helpers */

/* ck_assert_msg records its location with a write(2) even when it holds,
 * which costs seconds in the loops over RAM records and bytes here */
#define REQUIRE(cond, ...) \
	do { \
		if (!(cond)) \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

#define MAX_LOG 8192

struct ctx {
	const struct base *b;
	char *base_path, *regs, *snap, *copy, *work, *undo_o, *undo_w;
	char *undo_c;			/* COPY.its-undo */
	json_object *dump;
	struct entry *ents;
	size_t nents;
	unsigned idbits;
	char log[MAX_LOG];		/* case, seed, damages: every message */
};

static void say(struct ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct ctx *c, const char *fmt, ...)
{
	size_t n = strlen(c->log);
	va_list ap;

	if (n + 2 >= sizeof(c->log))
		return;
	va_start(ap, fmt);
	vsnprintf(c->log + n, sizeof(c->log) - n, fmt, ap);
	va_end(ap);
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: every seed gives its own fixed sequence */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t hexval(const char *s)
{
	REQUIRE(s && s[0] == '0' && s[1] == 'x', "not a hex string: %s", s ? s : "(null)");
	return strtoull(s + 2, NULL, 16);
}

/* "0x..." (little-endian bytes printed as one number) into bytes; returns
 * how many. */
static unsigned hexbytes(const char *s, uint8_t *out, unsigned max)
{
	size_t nd;
	unsigned n;

	REQUIRE(s && s[0] == '0' && s[1] == 'x', "not a hex string");
	nd = strlen(s + 2);
	REQUIRE(nd % 2 == 0 && nd / 2 <= max, "odd hex bytes: %s", s);
	n = (unsigned)(nd / 2);
	for (unsigned i = 0; i < n; i++) {
		char two[3] = { s[2 + nd - 2 * i - 2], s[2 + nd - 2 * i - 1], 0 };

		out[i] = (uint8_t)strtoul(two, NULL, 16);
	}
	return n;
}

static json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v = jget(o, k);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));

		REQUIRE(r > 0, "pread at 0x%llx: %s", (unsigned long long)(off + done),
			r < 0 ? strerror(errno) : "end of file");
		done += (size_t)r;
	}
}

static void pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	REQUIRE(pwrite(fd, buf, n, (off_t)off) == (ssize_t)n, "pwrite at 0x%llx: %s",
		(unsigned long long)off, strerror(errno));
}

static uint64_t file_size(const char *p)
{
	struct stat st;

	REQUIRE(stat(p, &st) == 0, "%s: %s", p, strerror(errno));
	return (uint64_t)st.st_size;
}

static bool exists(const char *p)
{
	return access(p, F_OK) == 0;
}

/* The next run of data at or after off: [*data, *hole); *data < 0 when
 * only a hole is left. Without SEEK_DATA everything is data. */
static void data_run(int fd, uint64_t off, uint64_t size, off_t *data, off_t *hole)
{
	*data = lseek(fd, (off_t)off, SEEK_DATA);
	if (*data < 0) {
		if (errno == ENXIO)
			return;
		*data = (off_t)off;
		*hole = (off_t)size;
		return;
	}
	*hole = lseek(fd, *data, SEEK_HOLE);
	if (*hole < 0 || (uint64_t)*hole > size)
		*hole = (off_t)size;
}

/* FNV-1a over the 8-byte words of the file's data runs, each run preceded
 * by its offset: one changed word always changes the hash (more than one
 * collide with odds of 2^-64), so "the input kept its bytes" needs no
 * second copy of a 63 MB stream. A hole filled with written zeros would
 * change it too: a false alarm, never a miss. */
static uint64_t file_hash(const char *path)
{
	int fd = open(path, O_RDONLY);
	uint64_t h = 0xcbf29ce484222325ull, size, off = 0;
	static uint64_t buf[1 << 17];

	REQUIRE(fd >= 0, "%s: %s", path, strerror(errno));
	size = file_size(path);
	while (off < size) {
		off_t data, hole;

		data_run(fd, off, size, &data, &hole);
		if (data < 0)
			break;
		h = (h ^ (uint64_t)data) * 0x100000001b3ull;
		for (uint64_t p = (uint64_t)data; p < (uint64_t)hole;) {
			size_t n = (uint64_t)hole - p < sizeof(buf) ? (size_t)((uint64_t)hole - p) : sizeof(buf);

			if (n % 8)
				buf[n / 8] = 0;
			pread_full(fd, buf, n, p);
			for (size_t i = 0; i < (n + 7) / 8; i++)
				h = (h ^ buf[i]) * 0x100000001b3ull;
			p += n;
		}
		off = (uint64_t)hole;
	}
	close(fd);
	return h ^ size;
}

/* A copy that keeps holes as holes (the ELF cores are 64 MiB, mostly
 * holes). */
static void copy_file(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY), out;
	uint64_t size, off = 0;
	static char buf[1 << 16];

	REQUIRE(in >= 0, "%s: %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	REQUIRE(out >= 0, "%s: %s", dst, strerror(errno));
	size = file_size(src);
	ck_assert_int_eq(ftruncate(out, (off_t)size), 0);
	while (off < size) {
		off_t data, hole;

		data_run(in, off, size, &data, &hole);
		if (data < 0)
			break;
		for (uint64_t p = (uint64_t)data; p < (uint64_t)hole;) {
			size_t n = (uint64_t)hole - p < sizeof(buf) ? (size_t)((uint64_t)hole - p) : sizeof(buf);

			pread_full(in, buf, n, p);
			pwrite_full(out, buf, n, p);
			p += n;
		}
		off = (uint64_t)hole;
	}
	close(in);
	close(out);
}

/* ------------------------------------------------------------ page map */

enum ckind {
	C_DATA,		/* page bytes at off (PAGE record, mapped-ram set bit) */
	C_ZERO,		/* ZERO record: header at off, fill byte at fill_off */
	C_CLEAR,	/* mapped-ram clear bit: slot at off (reads as zeros) */
};

struct copy {
	uint64_t page;		/* GPA of the page */
	uint64_t seq;		/* file order */
	enum ckind kind;
	uint64_t off, fill_off, bm_off;
	uint8_t fill, bm_bit;
};

struct seg {
	uint64_t gpa, off, filesz;
};

struct pmap {
	bool elf;
	uint32_t psz;
	struct seg *segs;
	size_t nsegs;
	struct copy *v;
	size_t n, cap;
};

static void pmap_push(struct pmap *m, const struct copy *c)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->v = realloc(m->v, m->cap * sizeof(*m->v));
		REQUIRE(m->v, "out of memory");
	}
	m->v[m->n] = *c;
	m->v[m->n].seq = m->n;
	m->n++;
}

static int copy_cmp(const void *a, const void *b)
{
	const struct copy *x = a, *y = b;

	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every copy of the page holding gpa, in file order (the last one is what
 * a reader uses); *n = 0 when the page is not in the file. */
static const struct copy *pmap_copies(const struct pmap *m, uint64_t gpa, size_t *n)
{
	uint64_t page = gpa & ~(uint64_t)(m->psz - 1);
	size_t lo = 0, hi = m->n, k;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->v[mid].page < page)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = lo; k < m->n && m->v[k].page == page; k++)
		;
	*n = k - lo;
	return *n ? &m->v[lo] : NULL;
}

/* The file offset a reader takes byte gpa from; false if none (absent,
 * a ZERO record, a clear bit). */
static bool pmap_byte(const struct pmap *m, uint64_t gpa, uint64_t *off)
{
	const struct copy *c;
	size_t n;

	if (m->elf) {
		for (size_t i = 0; i < m->nsegs; i++)
			if (gpa >= m->segs[i].gpa && gpa - m->segs[i].gpa < m->segs[i].filesz) {
				*off = m->segs[i].off + (gpa - m->segs[i].gpa);
				return true;
			}
		return false;
	}
	c = pmap_copies(m, gpa, &n);
	if (!n || c[n - 1].kind != C_DATA)
		return false;
	*off = c[n - 1].off + (gpa & (m->psz - 1));
	return true;
}

static uint64_t be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void load_elf(struct pmap *m, const char *path)
{
	int fd = open(path, O_RDONLY);
	uint8_t eh[64], ph[56];
	uint64_t phoff;
	unsigned phnum;

	ck_assert_int_ge(fd, 0);
	pread_full(fd, eh, sizeof(eh), 0);
	ck_assert(!memcmp(eh, "\177ELF", 4) && eh[4] == 2 && eh[5] == 1);
	phoff = 0;
	for (int j = 7; j >= 0; j--)		/* e_phoff, little-endian */
		phoff = phoff << 8 | eh[32 + j];
	phnum = eh[56] | (unsigned)eh[57] << 8;
	m->elf = true;
	m->psz = 4096;
	m->segs = calloc(phnum + 1, sizeof(*m->segs));
	ck_assert_ptr_nonnull(m->segs);
	for (unsigned i = 0; i < phnum; i++) {
		uint64_t f[6];

		pread_full(fd, ph, sizeof(ph), phoff + 56ull * i);
		if (ph[0] != 1 || ph[1] || ph[2] || ph[3])	/* PT_LOAD */
			continue;
		for (int k = 0; k < 6; k++) {
			f[k] = 0;
			for (int j = 7; j >= 0; j--)
				f[k] = f[k] << 8 | ph[8 + 8 * k + j];
		}
		/* p_offset, p_vaddr, p_paddr, p_filesz */
		m->segs[m->nsegs++] = (struct seg){ f[2], f[0], f[3] };
	}
	close(fd);
}

/* A window over the file for the header-only scan of the RAM records. */
#define WIN (1u << 20)
struct rdr {
	int fd;
	uint64_t size, base;
	size_t len;
	uint8_t *buf;
};

static const uint8_t *rd_at(struct rdr *r, uint64_t off, size_t n)
{
	REQUIRE(n <= WIN && off <= r->size && n <= r->size - off,
		"RAM records run past the end of the file at 0x%llx",
		(unsigned long long)off);
	if (off < r->base || off + n > r->base + r->len) {
		r->base = off;
		r->len = r->size - off < WIN ? (size_t)(r->size - off) : WIN;
		pread_full(r->fd, r->buf, r->len, off);
	}
	return r->buf + (off - r->base);
}

/* RAM record flags (qemu-migration-stream.md §9.2) */
#define RAM_ZERO	0x002
#define RAM_MEM_SIZE	0x004
#define RAM_PAGE	0x008
#define RAM_EOS		0x010
#define RAM_CONTINUE	0x020

struct scan {
	struct rdr r;
	struct pmap *m;
	json_object *ram;	/* its-dump's snapshot.ram: block names, GPAs */
	bool mapped;
	char block[256];	/* the block CONTINUE refers to */
};

/* GPA of the RAMBlock name (false: not guest RAM, e.g. flash). */
static bool block_gpa(const struct scan *s, const char *name, uint64_t *gpa)
{
	for (size_t i = 0; i < json_object_array_length(s->ram); i++) {
		json_object *b = json_object_array_get_idx(s->ram, i);
		const char *g = jstr(b, "gpa");

		if (!strcmp(jstr(b, "name"), name)) {
			if (!g)
				return false;
			*gpa = hexval(g);
			return true;
		}
	}
	return false;
}

static void counted(struct scan *s, uint64_t *p, char out[256])
{
	unsigned len = *rd_at(&s->r, *p, 1);

	memcpy(out, rd_at(&s->r, *p + 1, len), len);
	out[len] = '\0';
	*p += 1 + len;
}

static void scan_mem_size(struct scan *s, uint64_t *p, uint64_t total)
{
	uint64_t sum = 0;

	while (sum < total) {
		char name[256];
		uint64_t used, gpa;

		counted(s, p, name);
		used = be(rd_at(&s->r, *p, 8), 8);
		*p += 8;
		sum += used;
		if (s->mapped) {
			/* version, page size, bitmap offset, pages offset */
			const uint8_t *h = rd_at(&s->r, *p, 28);
			uint64_t bmap = be(h + 12, 8), pages = be(h + 20, 8);

			ck_assert_uint_eq(be(h + 4, 8), s->m->psz);
			if (block_gpa(s, name, &gpa))
				for (uint64_t i = 0; i < used / s->m->psz; i++) {
					uint8_t bits = *rd_at(&s->r, bmap + i / 8, 1);
					struct copy c = {
						.page = gpa + i * s->m->psz,
						.kind = bits >> (i % 8) & 1 ? C_DATA : C_CLEAR,
						.off = pages + i * s->m->psz,
						.bm_off = bmap + i / 8,
						.bm_bit = (uint8_t)(1u << (i % 8)),
					};

					pmap_push(s->m, &c);
				}
			*p = pages + used;
		}
	}
}

static void scan_section(struct scan *s, uint64_t off, unsigned type)
{
	uint64_t p = off, psz = s->m->psz;
	const uint8_t *h = rd_at(&s->r, p, 5);

	REQUIRE(h[0] == type, "no section of type %u at 0x%llx", type,
		(unsigned long long)off);
	p += 5;
	if (type == 0x01) {		/* START: idstr, instance, version */
		char name[256];

		counted(s, &p, name);
		p += 8;
	}
	for (;;) {
		uint64_t hdr = be(rd_at(&s->r, p, 8), 8), flags = hdr & (psz - 1);
		uint64_t addr = hdr & ~(psz - 1), gpa;
		uint64_t rec = p;

		p += 8;
		if (flags == RAM_EOS)
			break;
		if (flags == RAM_MEM_SIZE) {
			scan_mem_size(s, &p, addr);
			continue;
		}
		REQUIRE(!s->mapped, "page record in a mapped-ram stream at 0x%llx",
			(unsigned long long)rec);
		if (!(flags & RAM_CONTINUE))
			counted(s, &p, s->block);
		flags &= ~(uint64_t)RAM_CONTINUE;
		REQUIRE(flags == RAM_ZERO || flags == RAM_PAGE,
			"RAM record flags 0x%llx at 0x%llx: not handled here",
			(unsigned long long)flags, (unsigned long long)rec);
		if (block_gpa(s, s->block, &gpa)) {
			struct copy c = { .page = gpa + addr, .off = p };

			if (flags == RAM_ZERO) {
				c.kind = C_ZERO;
				c.off = rec;
				c.fill_off = p;
				c.fill = *rd_at(&s->r, p, 1);
			}
			pmap_push(s->m, &c);
		}
		p += flags == RAM_ZERO ? 1 : psz;
	}
}

static void load_stream(struct pmap *m, const char *path, json_object *sections,
			json_object *ram, bool mapped)
{
	struct scan s = { .m = m, .ram = ram, .mapped = mapped };

	m->psz = 4096;		/* target-page-bits 12: every base here */
	s.r.fd = open(path, O_RDONLY);
	ck_assert_int_ge(s.r.fd, 0);
	s.r.size = file_size(path);
	s.r.buf = malloc(WIN);
	ck_assert_ptr_nonnull(s.r.buf);
	for (size_t i = 0; i < json_object_array_length(sections); i++) {
		json_object *x = json_object_array_get_idx(sections, i);
		const char *t = jstr(x, "type"), *name = jstr(x, "name");
		unsigned type = !strcmp(t, "SECTION_START") ? 1 :
				!strcmp(t, "SECTION_PART") ? 2 :
				!strcmp(t, "SECTION_END") ? 3 : 0;

		if (type && name && !strcmp(name, "ram"))
			scan_section(&s, hexval(jstr(x, "offset")), type);
	}
	free(s.r.buf);
	close(s.r.fd);
	qsort(m->v, m->n, sizeof(*m->v), copy_cmp);
	REQUIRE(m->n > 0, "%s: no RAM page found", path);
}

/* ------------------------------------------------------------ programs */

/* its-fsck -j ARGS... [--its-regs R] PATH; the parsed stdout in *doc. */
static int fsck(struct ctx *c, const char *path, const char *const *args,
		json_object **doc, char **err)
{
	char *prog = t_build("its-fsck");
	const char *argv[16];
	struct t_run r;
	int n = 0, st;

	argv[n++] = prog;
	argv[n++] = "-j";
	for (; args && *args; args++)
		argv[n++] = *args;
	if (c->regs) {
		argv[n++] = "--its-regs";
		argv[n++] = c->regs;
	}
	argv[n++] = path;
	argv[n] = NULL;
	t_run(&r, argv);
	st = r.status;
	REQUIRE(st < 128, "%s: its-fsck killed by signal %d: %s", c->log, st - 128, r.err);
	if (doc) {
		*doc = json_tokener_parse(r.out);
		REQUIRE(*doc, "%s: its-fsck output is not JSON (exit %d): %s",
			c->log, st, r.err);
	}
	if (err)
		*err = strdup(r.err);
	t_run_free(&r);
	free(prog);
	return st;
}

static json_object *dump(struct ctx *c, const char *path, bool sections)
{
	char *prog = t_build("its-dump");
	const char *argv[8];
	struct t_run r;
	json_object *doc;
	int n = 0;

	argv[n++] = prog;
	argv[n++] = "-j";
	if (sections)
		argv[n++] = "--sections";
	if (c->regs) {
		argv[n++] = "--its-regs";
		argv[n++] = c->regs;
	}
	argv[n++] = path;
	argv[n] = NULL;
	t_run(&r, argv);
	REQUIRE(r.status == 0, "its-dump %s: exit %d: %s", path, r.status, r.err);
	doc = json_tokener_parse(r.out);
	ck_assert_ptr_nonnull(doc);
	t_run_free(&r);
	free(prog);
	return doc;
}

/* ------------------------------------------------------------ entries */

static void add_entry(struct ctx *c, enum ekind k, bool tcg, json_object *o)
{
	uint8_t raw[16];
	struct entry *e;

	c->ents = realloc(c->ents, (c->nents + 1) * sizeof(*c->ents));
	REQUIRE(c->ents, "out of memory");
	e = &c->ents[c->nents++];
	e->kind = k;
	e->tcg = tcg;
	e->gpa = hexval(jstr(o, "gpa"));
	e->len = hexbytes(jstr(o, "raw"), raw, sizeof(raw));
}

static void collect_entries(struct ctx *c)
{
	json_object *its = jget(c->dump, "its"), *rd = jget(c->dump, "redistributors");
	json_object *pb = jget(jget(rd ? json_object_array_get_idx(rd, 0) : NULL, "fields"),
			       "GICR_PROPBASER");

	c->idbits = jget(pb, "IDbits") ? (unsigned)json_object_get_int(jget(pb, "IDbits")) : 15;
	for (size_t i = 0; its && i < json_object_array_length(its); i++) {
		json_object *x = json_object_array_get_idx(its, i), *a;
		bool tcg = !strcmp(jstr(x, "layout"), "tcg");

		a = jget(x, "collections");
		for (size_t k = 0; a && k < json_object_array_length(a); k++)
			add_entry(c, E_CTE, tcg, json_object_array_get_idx(a, k));
		a = jget(jget(x, "device_table"), "l1");
		for (size_t k = 0; a && k < json_object_array_length(a); k++)
			add_entry(c, E_L1, tcg, json_object_array_get_idx(a, k));
		a = jget(x, "devices");
		for (size_t k = 0; a && k < json_object_array_length(a); k++) {
			json_object *d = json_object_array_get_idx(a, k), *ev = jget(d, "events");

			add_entry(c, E_DTE, tcg, d);
			for (size_t j = 0; ev && j < json_object_array_length(ev); j++)
				add_entry(c, E_ITE, tcg, json_object_array_get_idx(ev, j));
		}
	}
}

/* Every byte of the entry is in the file (where a reader takes it). */
static bool entry_mapped(const struct pmap *m, const struct entry *e)
{
	uint64_t off;

	for (unsigned i = 0; i < e->len; i++)
		if (!pmap_byte(m, e->gpa + i, &off))
			return false;
	return true;
}

static void entry_io(const struct pmap *m, const char *path, const struct entry *e,
		     uint8_t *buf, bool write)
{
	int fd = open(path, write ? O_RDWR : O_RDONLY);

	ck_assert_int_ge(fd, 0);
	for (unsigned i = 0; i < e->len; i++) {
		uint64_t off;

		REQUIRE(pmap_byte(m, e->gpa + i, &off), "GPA 0x%llx not in the file",
			(unsigned long long)(e->gpa + i));
		if (write)
			pwrite_full(fd, buf + i, 1, off);
		else
			pread_full(fd, buf + i, 1, off);
	}
	close(fd);
}

static uint64_t get_bits(const uint8_t *b, unsigned lo, unsigned w)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < w; i++)
		v |= (uint64_t)(b[(lo + i) / 8] >> ((lo + i) % 8) & 1) << i;
	return v;
}

static void set_bits(uint8_t *b, unsigned lo, unsigned w, uint64_t v)
{
	for (unsigned i = 0; i < w; i++) {
		unsigned bit = lo + i;

		b[bit / 8] = (uint8_t)((b[bit / 8] & ~(1u << (bit % 8))) |
				       (unsigned)(v >> i & 1) << (bit % 8));
	}
}

struct field {
	unsigned lo, w;
};

/* Where the damaged field is, per layout (kvm-its-abi.md §1,
 * qemu-tcg-its.md); w = 0: the entry has no such field. */
static struct field field_of(enum dkind d, const struct entry *e)
{
	switch (d) {
	case D_ADDR:
		if (e->kind == E_DTE)
			return e->tcg ? (struct field){ 6, 44 } : (struct field){ 5, 44 };
		if (e->kind == E_L1)
			return e->tcg ? (struct field){ 12, 40 } : (struct field){ 16, 36 };
		break;
	case D_NEXT:
		if (e->tcg)
			break;
		if (e->kind == E_DTE)
			return (struct field){ 49, 14 };
		if (e->kind == E_ITE)
			return (struct field){ 48, 16 };
		break;
	case D_LPI_LOW:
	case D_LPI_HIGH:
		if (e->kind == E_ITE)
			return e->tcg ? (struct field){ 2, 24 } : (struct field){ 16, 32 };
		break;
	case D_ICID:
		if (e->kind == E_ITE)
			return e->tcg ? (struct field){ 32, 16 } : (struct field){ 0, 16 };
		if (e->kind == E_CTE && !e->tcg)
			return (struct field){ 0, 16 };
		break;
	default:
		break;
	}
	return (struct field){ 0, 0 };
}

static bool eligible(const struct pmap *m, enum dkind d, const struct entry *e)
{
	if (!entry_mapped(m, e))
		return false;
	if (d == D_FLIP || d == D_ZERO || d == D_SWAP)
		return true;
	return field_of(d, e).w != 0;
}

static void hexs(char *buf, const uint8_t *b, unsigned n)
{
	buf[0] = '\0';
	for (unsigned i = n; i-- > 0;)
		sprintf(buf + strlen(buf), "%02x", b[i]);
}

/* Apply damage d (value v, or random from *rs when rs) to entry e (and
 * e2 for D_SWAP) in the snapshot; logs what it did. */
static void damage(struct ctx *c, const struct pmap *m, enum dkind d,
		   const struct entry *e, const struct entry *e2, uint64_t v,
		   uint64_t *rs)
{
	uint8_t b[16], b2[16], before[16];
	struct field f = field_of(d, e);
	char h1[40], h2[40];

	entry_io(m, c->snap, e, b, false);
	memcpy(before, b, sizeof(before));
	switch (d) {
	case D_FLIP: {
		unsigned nb = rs ? 1 + (unsigned)(rng_next(rs) % 3) : 1;

		for (unsigned i = 0; i < nb; i++) {
			unsigned bit = rs ? (unsigned)(rng_next(rs) % (e->len * 8)) : (unsigned)v;

			b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		break;
	}
	case D_ADDR: {
		unsigned bit = f.lo + (rs ? (unsigned)(rng_next(rs) % f.w) : (unsigned)v);

		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		break;
	}
	case D_NEXT:
		if (rs)
			v = rng_next(rs) & 1 ? rng_next(rs) % 9 : rng_next(rs) % (1ull << f.w);
		set_bits(b, f.lo, f.w, v);
		break;
	case D_LPI_LOW:
		if (rs)
			v = 1 + rng_next(rs) % 8191;
		set_bits(b, f.lo, f.w, v);
		break;
	case D_LPI_HIGH: {
		unsigned top = c->idbits + 1 < f.w ? c->idbits + 1 : f.w - 1;
		uint64_t min = 1ull << top, span = (1ull << f.w) - min;

		if (rs)
			v = min + (rng_next(rs) & 1 ? rng_next(rs) % 4096 : rng_next(rs) % span);
		set_bits(b, f.lo, f.w, v);
		break;
	}
	case D_ICID:
		if (rs)
			v = rng_next(rs) & 1 ? rng_next(rs) % 8 : rng_next(rs) % 65536;
		set_bits(b, f.lo, f.w, v);
		break;
	case D_ZERO:
		memset(b, 0, e->len);
		break;
	case D_SWAP:
		entry_io(m, c->snap, e2, b2, false);
		entry_io(m, c->snap, e, b2, true);
		entry_io(m, c->snap, e2, b, true);
		hexs(h1, b, e->len);
		hexs(h2, b2, e2->len);
		say(c, " [swap %s@0x%llx 0x%s <-> %s@0x%llx 0x%s]", enames[e->kind],
		    (unsigned long long)e->gpa, h1, enames[e2->kind],
		    (unsigned long long)e2->gpa, h2);
		return;
	default:
		ck_abort();
	}
	entry_io(m, c->snap, e, b, true);
	hexs(h1, before, e->len);
	hexs(h2, b, e->len);
	if (f.w)
		say(c, " [%s %s@0x%llx =0x%llx: 0x%s -> 0x%s]", dnames[d], enames[e->kind],
		    (unsigned long long)e->gpa, (unsigned long long)get_bits(b, f.lo, f.w), h1, h2);
	else
		say(c, " [%s %s@0x%llx: 0x%s -> 0x%s]", dnames[d], enames[e->kind],
		    (unsigned long long)e->gpa, h1, h2);
}

static const struct entry *nth_of(const struct ctx *c, enum ekind k, unsigned n)
{
	unsigned left = n;

	for (size_t i = 0; i < c->nents; i++)
		if (c->ents[i].kind == k && left-- == 0)
			return &c->ents[i];
	ck_abort_msg("%s: no %s number %u", c->log, enames[k], n);
	return NULL;
}

static void random_damage(struct ctx *c, const struct pmap *m, uint64_t seed)
{
	uint64_t rs = seed;
	unsigned nd = 1 + (unsigned)(rng_next(&rs) % 4);

	for (unsigned k = 0; k < nd; k++) {
		enum dkind d = (enum dkind)(rng_next(&rs) % D_NR);
		size_t cand[4096], nc = 0;
		const struct entry *e, *e2 = NULL;

		for (size_t i = 0; i < c->nents && nc < 4096; i++)
			if (eligible(m, d, &c->ents[i]))
				cand[nc++] = i;
		if (!nc) {
			/* no entry has that field (e.g. `next` in QEMU's layout) */
			d = D_FLIP;
			for (size_t i = 0; i < c->nents && nc < 4096; i++)
				if (eligible(m, d, &c->ents[i]))
					cand[nc++] = i;
		}
		REQUIRE(nc, "%s: no entry to damage", c->log);
		if (rng_next(&rs) & 1) {
			/* half of the time an entry of a page the stream holds
			 * older data copies of (a live save), if there is one:
			 * the repair must write every copy */
			size_t nm = 0;

			for (size_t i = 0; i < nc; i++) {
				const struct copy *cp = NULL;
				size_t ncp = 0;
				bool older = false;

				if (!m->elf)
					cp = pmap_copies(m, c->ents[cand[i]].gpa, &ncp);
				for (size_t j = 0; j + 1 < ncp; j++)
					older |= cp[j].kind == C_DATA;
				if (older)
					cand[nm++] = cand[i];
			}
			if (nm)
				nc = nm;
		}
		e = &c->ents[cand[rng_next(&rs) % nc]];
		if (d == D_SWAP) {
			size_t same[4096], ns = 0;

			for (size_t i = 0; i < nc; i++)
				if (&c->ents[cand[i]] != e && c->ents[cand[i]].kind == e->kind &&
				    c->ents[cand[i]].len == e->len)
					same[ns++] = cand[i];
			if (ns)
				e2 = &c->ents[same[rng_next(&rs) % ns]];
			else
				d = D_FLIP;
		}
		damage(c, m, d, e, e2, 0, &rs);
	}
}

/* ------------------------------------------------------------ the plan */

struct pw {
	bool ram, not_written, has_off;
	uint64_t gpa, off;
	unsigned len;
	uint8_t old[16], new[16];
};

struct iv {
	uint64_t lo, hi;	/* [lo, hi) */
};

struct reenc {
	uint64_t hdr, fill_off, page;
	uint8_t fill;
};

struct allowed {
	struct iv *v;
	size_t n, cap;
	struct reenc re[64];
	size_t nre;
	struct iv gpas[256];	/* GPA ranges written (for re-encoded pages) */
	size_t ngpas;
	size_t nwrites;		/* writes made */
	size_t older, clear;	/* coverage: bytes written into older copies
				 * of a stream page, clear-bit mapped-ram
				 * pages written whole */
};

static void allow(struct allowed *a, uint64_t lo, uint64_t hi)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 64;
		a->v = realloc(a->v, a->cap * sizeof(*a->v));
		REQUIRE(a->v, "out of memory");
	}
	a->v[a->n++] = (struct iv){ lo, hi };
}

static int iv_cmp(const void *x, const void *y)
{
	const struct iv *a = x, *b = y;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static bool allowed_at(const struct allowed *a, uint64_t off)
{
	size_t lo = 0, hi = a->n;

	/* sorted, merged: the last interval starting at or before off */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (a->v[mid].lo <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && off < a->v[lo - 1].hi;
}

static size_t parse_plan(json_object *doc, struct pw *out, size_t max)
{
	json_object *rep = jget(doc, "repairs");
	size_t n = rep ? json_object_array_length(rep) : 0;

	ck_assert_uint_le(n, max);
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(rep, i);
		const char *t = jstr(r, "target"), *fo = jstr(r, "file_offset");
		struct pw *w = &out[i];

		memset(w, 0, sizeof(*w));
		w->ram = !strcmp(t, "guest RAM");
		w->not_written = jget(r, "not_written") != NULL;
		w->has_off = fo != NULL;
		w->off = fo ? hexval(fo) : 0;
		if (w->ram) {
			w->gpa = hexval(jstr(r, "gpa"));
			w->len = hexbytes(jstr(r, "old"), w->old, sizeof(w->old));
			ck_assert_uint_eq(hexbytes(jstr(r, "new"), w->new, sizeof(w->new)), w->len);
		} else {
			/* a register field in the stream (qemu-migration-stream.md
			 * §12, §13): GITS_CTLR and GITS_IIDR are be32 */
			w->len = !strcmp(t, "GITS_CTLR") || !strcmp(t, "GITS_IIDR") ? 4 : 8;
		}
	}
	return n;
}

static void plan_text(const struct pw *p, size_t n, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < n && strlen(buf) + 120 < len; i++) {
		char o[40], w[40];

		hexs(o, p[i].old, p[i].len);
		hexs(w, p[i].new, p[i].len);
		snprintf(buf + strlen(buf), len - strlen(buf),
			 " {%s gpa 0x%llx off %s0x%llx len %u 0x%s -> 0x%s%s}",
			 p[i].ram ? "ram" : "reg", (unsigned long long)p[i].gpa,
			 p[i].has_off ? "" : "none ", (unsigned long long)p[i].off,
			 p[i].len, o, w, p[i].not_written ? " not written" : "");
	}
}

/* The file ranges the written part of plan p may change, from this file's
 * own page map (every copy of a page), and checks that the plan's one file
 * offset per write is the copy a reader uses. copy: the -o run (a page
 * whose last copy is a ZERO record is re-encoded); else in place (such a
 * write must be marked not written). */
static void plan_regions(struct ctx *c, const struct pmap *m, const struct pw *p,
			 size_t n, bool copy, struct allowed *a)
{
	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < n; i++) {
		const struct pw *w = &p[i];

		if (w->not_written) {
			/* in place, only a ZERO-record page (or a register of
			 * a core) is left out */
			if (w->ram && !m->elf) {
				const struct copy *cp;
				size_t nc;

				cp = pmap_copies(m, w->gpa, &nc);
				REQUIRE(nc && cp[nc - 1].kind == C_ZERO && !copy,
					"%s: write at GPA 0x%llx not written, but its page is no ZERO record (or -o)",
					c->log, (unsigned long long)w->gpa);
			}
			REQUIRE(w->ram ? !m->elf : m->elf || !copy,
				"%s: unexpected not_written", c->log);
			continue;
		}
		a->nwrites++;
		if (!w->ram) {
			REQUIRE(w->has_off && !m->elf, "%s: register write without a file offset",
				c->log);
			allow(a, w->off, w->off + w->len);
			continue;
		}
		ck_assert_uint_lt(a->ngpas, 256);
		a->gpas[a->ngpas++] = (struct iv){ w->gpa, w->gpa + w->len };
		for (unsigned k = 0; k < w->len; k++) {
			uint64_t g = w->gpa + k, in = g & (m->psz - 1), off;
			const struct copy *cp;
			size_t nc;
			bool first = k == 0;

			if (m->elf) {
				REQUIRE(pmap_byte(m, g, &off), "%s: GPA 0x%llx not in the core",
					c->log, (unsigned long long)g);
				allow(a, off, off + 1);
				if (first)
					REQUIRE(w->has_off && w->off == off,
						"%s: plan offset of GPA 0x%llx is 0x%llx, the core has it at 0x%llx",
						c->log, (unsigned long long)g,
						(unsigned long long)w->off, (unsigned long long)off);
				continue;
			}
			cp = pmap_copies(m, g, &nc);
			REQUIRE(nc, "%s: GPA 0x%llx has no copy in the file", c->log,
				(unsigned long long)g);
			for (size_t j = 0; j < nc; j++) {
				a->older += j + 1 < nc && cp[j].kind == C_DATA;
				a->clear += cp[j].kind == C_CLEAR && first;
				if (cp[j].kind == C_DATA)
					allow(a, cp[j].off + in, cp[j].off + in + 1);
				else if (cp[j].kind == C_CLEAR) {
					/* the whole slot is written, then its bit */
					allow(a, cp[j].off, cp[j].off + m->psz);
					allow(a, cp[j].bm_off, cp[j].bm_off + 1);
				}
			}
			if (cp[nc - 1].kind == C_ZERO) {
				bool have = false;

				REQUIRE(copy, "%s: write into the ZERO record page of GPA 0x%llx made in place",
					c->log, (unsigned long long)g);
				for (size_t j = 0; j < a->nre; j++)
					have |= a->re[j].hdr == cp[nc - 1].off;
				if (!have) {
					ck_assert_uint_lt(a->nre, 64);
					a->re[a->nre++] = (struct reenc){ cp[nc - 1].off,
						cp[nc - 1].fill_off, cp[nc - 1].page, cp[nc - 1].fill };
					/* the header's flags: ZERO -> PAGE */
					allow(a, cp[nc - 1].off + 7, cp[nc - 1].off + 8);
				}
				if (first)
					REQUIRE(!w->has_off,
						"%s: plan gives offset 0x%llx for GPA 0x%llx, whose page is a ZERO record",
						c->log, (unsigned long long)w->off,
						(unsigned long long)g);
			} else if (first) {
				off = cp[nc - 1].off + in;
				REQUIRE(w->has_off && w->off == off,
					"%s: plan offset of GPA 0x%llx is %s0x%llx, its last copy is at 0x%llx",
					c->log, (unsigned long long)g, w->has_off ? "" : "none ",
					(unsigned long long)w->off, (unsigned long long)off);
			}
		}
	}
	if (a->n) {
		size_t k = 0;

		qsort(a->v, a->n, sizeof(*a->v), iv_cmp);
		for (size_t i = 1; i < a->n; i++) {
			if (a->v[i].lo <= a->v[k].hi) {
				if (a->v[i].hi > a->v[k].hi)
					a->v[k].hi = a->v[i].hi;
			} else {
				a->v[++k] = a->v[i];
			}
		}
		a->n = k + 1;
	}
	/* re-encoded records in file order (the copy shifts after each) */
	for (size_t i = 1; i < a->nre; i++)
		for (size_t j = i; j > 0 && a->re[j - 1].hdr > a->re[j].hdr; j--) {
			struct reenc t = a->re[j];

			a->re[j] = a->re[j - 1];
			a->re[j - 1] = t;
		}
}

/* ------------------------------------------------------------ compare */

struct diff {
	struct iv bad[16];	/* differing outside the plan (snapshot offsets) */
	size_t nbad;
	struct iv all[16];	/* every differing range */
	size_t nall, bytes;
};

static void note(struct iv *v, size_t *n, uint64_t off)
{
	if (*n && v[*n - 1].hi == off) {
		v[*n - 1].hi++;
		return;
	}
	if (*n < 16)
		v[(*n)++] = (struct iv){ off, off + 1 };
}

/* Bytes [lo, hi) of a against [lo + delta, ...) of b. */
static void cmp_seg(int fa, int fb, uint64_t lo, uint64_t hi, uint64_t delta,
		    const struct allowed *al, struct diff *d)
{
	static uint8_t x[1 << 16], y[1 << 16];

	while (lo < hi) {
		size_t n = hi - lo < sizeof(x) ? (size_t)(hi - lo) : sizeof(x);
		off_t da = lseek(fa, (off_t)lo, SEEK_DATA), db;
		uint64_t next = da >= 0 ? (uint64_t)da : errno == ENXIO ? hi : lo;

		/* a hole in both files reads as zeros in both: equal (the
		 * mapped-ram and ELF files are mostly holes); without
		 * SEEK_DATA every byte is compared */
		db = lseek(fb, (off_t)(lo + delta), SEEK_DATA);
		if (db >= 0 && (uint64_t)db - delta < next)
			next = (uint64_t)db - delta;
		else if (db < 0 && errno != ENXIO)
			next = lo;
		if (next > lo) {
			lo = next < hi ? next : hi;
			continue;
		}
		pread_full(fa, x, n, lo);
		pread_full(fb, y, n, lo + delta);
		if (memcmp(x, y, n))
			for (size_t i = 0; i < n; i++)
				if (x[i] != y[i]) {
					d->bytes++;
					note(d->all, &d->nall, lo + i);
					if (!al || !allowed_at(al, lo + i))
						note(d->bad, &d->nbad, lo + i);
				}
		lo += n;
	}
}

static bool in_gpas(const struct allowed *a, uint64_t g)
{
	for (size_t i = 0; i < a->ngpas; i++)
		if (g >= a->gpas[i].lo && g < a->gpas[i].hi)
			return true;
	return false;
}

static void ranges_text(const struct iv *v, size_t n, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < n && strlen(buf) + 48 < len; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), " 0x%llx-0x%llx",
			 (unsigned long long)v[i].lo, (unsigned long long)v[i].hi);
	if (n == 16)
		snprintf(buf + strlen(buf), len - strlen(buf), " ...");
}

/* b against a: the bytes that differ, and those outside al (snapshot
 * offsets; al NULL: every differing byte), with al's ZERO records
 * re-encoded in b. */
static void diff_files(struct ctx *c, const char *pa, const char *pb,
		       const struct allowed *al, uint32_t psz, const char *what,
		       struct diff *d)
{
	int fa = open(pa, O_RDONLY), fb = open(pb, O_RDONLY);
	uint64_t sa = file_size(pa), sb = file_size(pb), pos = 0, delta = 0;

	memset(d, 0, sizeof(*d));
	ck_assert(fa >= 0 && fb >= 0);
	REQUIRE(sb == sa + (al ? al->nre : 0) * (uint64_t)(psz - 1),
		"%s: %s: %llu bytes, expected %llu (+ %zu re-encoded pages)", c->log, what,
		(unsigned long long)sb, (unsigned long long)sa, al ? al->nre : 0);
	for (size_t i = 0; al && i < al->nre; i++) {
		const struct reenc *r = &al->re[i];
		uint8_t h, h2, *page = malloc(psz);

		ck_assert_ptr_nonnull(page);
		cmp_seg(fa, fb, pos, r->fill_off, delta, al, d);
		pread_full(fa, &h, 1, r->hdr + 7);
		pread_full(fb, &h2, 1, r->hdr + 7 + delta);
		REQUIRE(h2 == ((h & ~RAM_ZERO) | RAM_PAGE),
			"%s: %s: record at 0x%llx: flags byte 0x%02x, expected a PAGE record",
			c->log, what, (unsigned long long)r->hdr, h2);
		pread_full(fb, page, psz, r->fill_off + delta);
		for (uint32_t k = 0; k < psz; k++)
			if (page[k] != r->fill) {
				d->bytes++;
				note(d->all, &d->nall, r->fill_off + k);
				if (!in_gpas(al, r->page + k))
					note(d->bad, &d->nbad, r->fill_off + k);
			}
		free(page);
		pos = r->fill_off + 1;
		delta += psz - 1;
	}
	cmp_seg(fa, fb, pos, sa, delta, al, d);
	close(fa);
	close(fb);
}

/* b against a: byte for byte equal (al NULL), or differing only inside
 * al; returns the number of differing bytes. */
static size_t compare(struct ctx *c, const char *pa, const char *pb,
		      const struct allowed *al, uint32_t psz, const char *what,
		      const char *plan)
{
	struct diff d;
	char txt[1024], txt2[1024];

	diff_files(c, pa, pb, al, psz, what, &d);
	ranges_text(d.bad, d.nbad, txt, sizeof(txt));
	ranges_text(d.all, d.nall, txt2, sizeof(txt2));
	REQUIRE(d.nbad == 0, "%s: %s: bytes differ outside the plan at%s (all differing:%s; plan:%s)",
		c->log, what, txt, txt2, plan ? plan : " none");
	return d.bytes;
}

/* Every copy of every written entry holds the plan's new bytes, and the
 * snapshot the old ones where a reader takes them. */
static void check_written(struct ctx *c, const struct pmap *m, const struct pw *p,
			  size_t n, const struct allowed *al, const char *path,
			  const char *what)
{
	int fs = open(c->snap, O_RDONLY), fo = open(path, O_RDONLY);

	ck_assert(fs >= 0 && fo >= 0);
	for (size_t i = 0; i < n; i++) {
		const struct pw *w = &p[i];

		if (!w->ram || w->not_written)
			continue;
		for (unsigned k = 0; k < w->len; k++) {
			uint64_t g = w->gpa + k, in = g & (m->psz - 1), off;
			const struct copy *cp;
			uint8_t x;
			size_t nc;

			if (m->elf) {
				REQUIRE(pmap_byte(m, g, &off), "GPA 0x%llx not in the core",
					(unsigned long long)g);
				pread_full(fs, &x, 1, off);
				REQUIRE(x == w->old[k], "%s: GPA 0x%llx holds 0x%02x, plan says old 0x%02x",
					c->log, (unsigned long long)g, x, w->old[k]);
				pread_full(fo, &x, 1, off);
				REQUIRE(x == w->new[k], "%s: %s: GPA 0x%llx holds 0x%02x, not the new 0x%02x",
					c->log, what, (unsigned long long)g, x, w->new[k]);
				continue;
			}
			cp = pmap_copies(m, g, &nc);
			for (size_t j = 0; j < nc; j++) {
				uint64_t at, delta = 0;

				if (cp[j].kind == C_ZERO && j + 1 < nc)
					continue;	/* an older ZERO record: kept */
				if (cp[j].kind == C_ZERO) {
					for (size_t r = 0; r < al->nre && al->re[r].hdr < cp[j].off; r++)
						delta += m->psz - 1;
					at = cp[j].fill_off + delta + in;
					REQUIRE(w->old[k] == cp[j].fill, "%s: ZERO page GPA 0x%llx: plan old 0x%02x",
						c->log, (unsigned long long)g, w->old[k]);
				} else {
					for (size_t r = 0; r < al->nre && al->re[r].fill_off < cp[j].off; r++)
						delta += m->psz - 1;
					at = cp[j].off + in + delta;
					if (j + 1 == nc && cp[j].kind == C_DATA) {
						pread_full(fs, &x, 1, cp[j].off + in);
						REQUIRE(x == w->old[k],
							"%s: GPA 0x%llx holds 0x%02x, plan says old 0x%02x",
							c->log, (unsigned long long)g, x, w->old[k]);
					}
				}
				pread_full(fo, &x, 1, at);
				REQUIRE(x == w->new[k],
					"%s: %s: copy %zu/%zu of GPA 0x%llx (file 0x%llx) holds 0x%02x, not the new 0x%02x",
					c->log, what, j + 1, nc, (unsigned long long)g,
					(unsigned long long)at, x, w->new[k]);
				if (cp[j].kind == C_CLEAR) {
					pread_full(fo, &x, 1, cp[j].bm_off + delta);
					REQUIRE(x & cp[j].bm_bit, "%s: %s: bitmap bit of GPA 0x%llx not set",
						c->log, what, (unsigned long long)g);
				}
			}
		}
	}
	close(fs);
	close(fo);
}

/* ------------------------------------------------------------ one case */

static void prepare(struct ctx *c, struct pmap *m)
{
	const struct base *b = c->b;
	const char *tmp = t_tmpdir();

	if (b->spec) {
		char *writer = t_build("its-fixture"), *spec, *man;
		struct t_run r;

		ck_assert_int_ge(asprintf(&spec, "%s/tests/fixtures/%s.json",
					  t_env("ITS_SOURCE_DIR"), b->spec), 0);
		ck_assert_int_ge(asprintf(&c->base_path, "%s/base.%s", tmp, b->ext), 0);
		ck_assert_int_ge(asprintf(&man, "%s/base.manifest.json", tmp), 0);
		if (b->regs)
			ck_assert_int_ge(asprintf(&c->regs, "%s/base.regs.json", tmp), 0);
		{
			const char *argv[] = { writer, spec, "-o", c->base_path, "--manifest", man,
					       b->regs ? "--regs" : NULL, c->regs, NULL };

			t_run(&r, argv);
		}
		REQUIRE(r.status == 0, "its-fixture %s: %s", b->spec, r.err);
		t_run_free(&r);
		free(writer);
		free(spec);
		free(man);
	} else {
		ck_assert_int_ge(asprintf(&c->base_path, "%s/%s", t_env("ITS_SAMPLES_DIR"),
					  b->sample), 0);
		if (b->regs)
			ck_assert_int_ge(asprintf(&c->regs, "%s/samples/kvm-synthetic/kvm-virt-2level.registers.json",
						  t_env("ITS_SHARED_DIR")), 0);
	}
	c->dump = dump(c, c->base_path, strcmp(b->ext, "elf") != 0);
	collect_entries(c);
	if (!strcmp(b->ext, "elf")) {
		load_elf(m, c->base_path);
	} else {
		json_object *snap = jget(c->dump, "snapshot");
		const char *desc = jstr(snap, "description");

		load_stream(m, c->base_path, jget(snap, "sections"), jget(snap, "ram"),
			    strstr(desc, "mapped-ram") != NULL);
	}
	ck_assert_int_ge(asprintf(&c->snap, "%s/snap.%s", tmp, b->ext), 0);
	ck_assert_int_ge(asprintf(&c->copy, "%s/copy.%s", tmp, b->ext), 0);
	ck_assert_int_ge(asprintf(&c->work, "%s/work.%s", tmp, b->ext), 0);
	ck_assert_int_ge(asprintf(&c->undo_o, "%s/copy-run.its-undo", tmp), 0);
	ck_assert_int_ge(asprintf(&c->undo_w, "%s.its-undo", c->work), 0);
	ck_assert_int_ge(asprintf(&c->undo_c, "%s.its-undo", c->copy), 0);
	copy_file(c->base_path, c->snap);
}

static bool same_json(json_object *a, json_object *b, const char *k)
{
	const char *x = json_object_to_json_string(jget(a, k));
	const char *y = json_object_to_json_string(jget(b, k));

	return !strcmp(x, y);
}

static void stat_of(const char *p, struct stat *st)
{
	ck_assert_int_eq(stat(p, st), 0);
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The case's base in the tmp dir, damaged: c->snap. */
static void damaged(struct ctx *c, struct pmap *m, const struct fuzz_case *fc, unsigned idx)
{
	memset(c, 0, sizeof(*c));
	memset(m, 0, sizeof(*m));
	c->b = &bases[fc->base];
	say(c, "case %u base %s seed 0x%llx%s%s damages:", idx, c->b->name,
	    (unsigned long long)fc->seed, fc->why ? " " : "", fc->why ? fc->why : "");
	prepare(c, m);
	if (!fc->fixed) {
		random_damage(c, m, fc->seed);
		return;
	}
	for (size_t i = 0; i < fc->nr_fixed; i++) {
		const struct fixed_damage *f = &fc->fixed[i];
		const struct entry *e = nth_of(c, f->ek, f->n);

		damage(c, m, f->kind, e, f->kind == D_SWAP ? nth_of(c, f->ek, f->n2) : NULL,
		       f->v, NULL);
	}
}

static void ctx_release(struct ctx *c, struct pmap *m)
{
	json_object_put(c->dump);
	free(m->v);
	free(m->segs);
	free(c->ents);
	free(c->base_path);
	free(c->regs);
	free(c->snap);
	free(c->copy);
	free(c->work);
	free(c->undo_o);
	free(c->undo_w);
	free(c->undo_c);
}

#define MAX_PLAN 512

static void run_case(const struct fuzz_case *fc, unsigned idx)
{
	struct ctx c;
	struct pmap m;
	struct pw *pin = calloc(MAX_PLAN, sizeof(*pin)), *pcp = calloc(MAX_PLAN, sizeof(*pcp));
	size_t nin, ncp;
	struct allowed ain, acp;
	json_object *dry_in, *dry_cp, *run_cp, *run_in;
	struct stat st0, st1;
	char planbuf[4096], *err;
	int s_dry, s_dryo, s_cp, s_in;
	size_t dcp = 0, din = 0;
	bool wrote_cp, wrote_in;
	const char *undo_cp;
	struct timespec t0, t1;
	uint64_t h0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert(pin && pcp);
	damaged(&c, &m, fc, idx);
	h0 = file_hash(c.snap);
	stat_of(c.snap, &st0);

	/* the plan, in place and for a copy */
	{
		const char *a1[] = { "-y", "--dry-run", NULL };
		const char *a2[] = { "-y", "--dry-run", "-o", c.copy, NULL };

		s_dry = fsck(&c, c.snap, a1, &dry_in, NULL);
		s_dryo = fsck(&c, c.snap, a2, &dry_cp, NULL);
	}
	REQUIRE((s_dry == 0 || s_dry == 4) && s_dryo == s_dry,
		"%s: --dry-run exit %d, with -o %d", c.log, s_dry, s_dryo);
	REQUIRE(!exists(c.copy), "%s: --dry-run -o wrote the copy", c.log);
	nin = parse_plan(dry_in, pin, MAX_PLAN);
	ncp = parse_plan(dry_cp, pcp, MAX_PLAN);
	REQUIRE(nin == ncp, "%s: the plan has %zu writes, with -o %zu", c.log, nin, ncp);
	plan_regions(&c, &m, pin, nin, false, &ain);
	plan_regions(&c, &m, pcp, ncp, true, &acp);
	plan_text(pcp, ncp, planbuf, sizeof(planbuf));
	if (fc->expect == X_NOTHING_WRITTEN)
		REQUIRE(ain.nwrites == 0 && acp.nwrites == 0,
			"%s: expected nothing written, the plan has%s", c.log, planbuf);
	if (fc->expect == X_NOT_IN_PLACE)
		REQUIRE(ain.nwrites == 0 && nin > 0 && acp.nwrites == ncp,
			"%s: expected writes that only -o makes, the plan has%s", c.log, planbuf);
	if (fc->expect == X_OLDER_COPIES)
		REQUIRE(acp.older > 0 && ain.older == acp.older,
			"%s: expected writes into older page copies (-o %zu, in place %zu bytes)",
			c.log, acp.older, ain.older);
	if (fc->expect == X_CLEAR_BIT)
		REQUIRE(acp.clear > 0 && ain.clear == acp.clear,
			"%s: expected writes into clear-bit pages (-o %zu, in place %zu)",
			c.log, acp.clear, ain.clear);
	if (fc->expect == X_REFUSED) {
		json_object *r = jget(dry_in, "refused");

		REQUIRE(r && json_object_array_length(r) > 0 &&
			strstr(json_object_get_string(json_object_array_get_idx(r, 0)), ": "),
			"%s: expected a refused repair, with why: %s", c.log,
			json_object_to_json_string(r));
	}

	/* (a) -o COPY: the input untouched, the undo file where it is said
	 * to be (--undo-file, or COPY.its-undo) and nowhere else */
	undo_cp = idx % 2 ? c.undo_c : c.undo_o;
	{
		const char *a[] = { "-y", "-o", c.copy, idx % 2 ? NULL : "--undo-file",
				    c.undo_o, NULL };

		s_cp = fsck(&c, c.snap, a, &run_cp, &err);
	}
	stat_of(c.snap, &st1);
	REQUIRE(same_stat(&st0, &st1), "%s: -o changed the input's size, inode or mtime", c.log);
	REQUIRE(file_hash(c.snap) == h0, "%s: -o changed the input's bytes", c.log);
	REQUIRE(!exists(idx % 2 ? c.undo_o : c.undo_c), "%s: -o wrote an undo file %s",
		c.log, idx % 2 ? "without being told to (--undo-file)" : "besides --undo-file's");
	{
		char *def;

		ck_assert_int_ge(asprintf(&def, "%s.its-undo", c.snap), 0);
		REQUIRE(!exists(def), "%s: -o wrote %s", c.log, def);
		free(def);
	}
	REQUIRE(same_json(dry_cp, run_cp, "repairs") && same_json(dry_cp, run_cp, "refused"),
		"%s: -o made another plan than --dry-run -o:\n%s\n%s", c.log,
		json_object_to_json_string(jget(dry_cp, "repairs")),
		json_object_to_json_string(jget(run_cp, "repairs")));
	wrote_cp = acp.nwrites > 0;
	if (wrote_cp) {
		REQUIRE(s_cp == 1 || s_cp == 5, "%s: -o exit %d after %zu writes: %s", c.log,
			s_cp, acp.nwrites, err);
		REQUIRE(jget(run_cp, "after"), "%s: -o: no re-check of the copy", c.log);
		REQUIRE(exists(c.copy), "%s: -o exit %d, no copy", c.log, s_cp);
		REQUIRE(exists(undo_cp), "%s: -o: no undo file %s", c.log, undo_cp);
		REQUIRE(!strstr(err, "nothing to repair"), "%s: -o wrote, but says: %s", c.log, err);
		/* (b) the copy differs only where the plan writes */
		dcp = compare(&c, c.snap, c.copy, &acp, m.psz, "the copy (-o)", planbuf);
		check_written(&c, &m, pcp, ncp, &acp, c.copy, "the copy (-o)");
	} else {
		REQUIRE(s_cp == s_dry, "%s: -o with nothing to write: exit %d, --dry-run %d: %s",
			c.log, s_cp, s_dry, err);
		REQUIRE(!exists(c.copy), "%s: -o with nothing to write made a copy", c.log);
		REQUIRE(!exists(undo_cp), "%s: -o with nothing to write made an undo file", c.log);
		REQUIRE(strstr(err, "its-fsck: nothing to repair: ") && strstr(err, " not written\n"),
			"%s: -o with nothing to write does not say so: %s", c.log, err);
	}
	free(err);

	/* (d) in place: on WORK, then --undo; with nothing to write, on the
	 * input itself (item 3: untouched, and no undo file) */
	wrote_in = ain.nwrites > 0;
	if (wrote_in)
		copy_file(c.snap, c.work);
	{
		const char *a[] = { "-y", NULL };

		s_in = fsck(&c, wrote_in ? c.work : c.snap, a, &run_in, &err);
	}
	REQUIRE(same_json(dry_in, run_in, "repairs") && same_json(dry_in, run_in, "refused"),
		"%s: in place made another plan than --dry-run:\n%s\n%s", c.log,
		json_object_to_json_string(jget(dry_in, "repairs")),
		json_object_to_json_string(jget(run_in, "repairs")));
	if (wrote_in) {
		char *prog = t_build("its-fsck");
		const char *argv[] = { prog, "--undo", c.undo_w, c.work, NULL };
		struct t_run r;

		REQUIRE(s_in == 1 || s_in == 5, "%s: in place exit %d after %zu writes: %s",
			c.log, s_in, ain.nwrites, err);
		REQUIRE(exists(c.undo_w), "%s: in place: no undo file", c.log);
		plan_text(pin, nin, planbuf, sizeof(planbuf));
		din = compare(&c, c.snap, c.work, &ain, m.psz, "in place", planbuf);
		check_written(&c, &m, pin, nin, &ain, c.work, "in place");
		if (wrote_cp && acp.nre == 0)
			compare(&c, c.copy, c.work, NULL, m.psz, "in place against the copy", NULL);
		t_run(&r, argv);
		REQUIRE(r.status == 0, "%s: --undo exit %d: %s", c.log, r.status, r.err);
		t_run_free(&r);
		free(prog);
		/* (c) every byte back */
		compare(&c, c.snap, c.work, NULL, m.psz, "after --undo", NULL);
	} else {
		char *def;

		ck_assert_int_ge(asprintf(&def, "%s.its-undo", c.snap), 0);
		REQUIRE(s_in == s_dry, "%s: in place with nothing to write: exit %d, --dry-run %d: %s",
			c.log, s_in, s_dry, err);
		REQUIRE(!exists(def), "%s: nothing written, but an undo file", c.log);
		free(def);
	}
	free(err);
	/* (c) of the copy: refused against the input, then every byte of
	 * the input back in the copy, its size too */
	if (wrote_cp) {
		char *prog = t_build("its-fsck");
		const char *bad[] = { prog, "--undo", undo_cp, c.snap, NULL };
		const char *argv[] = { prog, "--undo", undo_cp, c.copy, NULL };
		struct t_run r;

		t_run(&r, bad);
		REQUIRE(r.status == 8 && strstr(r.err, "is the input of the repair") &&
			strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
			"%s: --undo of the copy's undo file against the input: exit %d: %s",
			c.log, r.status, r.err);
		t_run_free(&r);
		t_run(&r, argv);
		REQUIRE(r.status == 0, "%s: --undo of the copy: exit %d: %s", c.log, r.status,
			r.err);
		t_run_free(&r);
		free(prog);
		compare(&c, c.snap, c.copy, NULL, m.psz, "the copy after --undo", NULL);
	}
	stat_of(c.snap, &st1);
	REQUIRE(same_stat(&st0, &st1), "%s: the input's size, inode or mtime changed", c.log);
	REQUIRE(file_hash(c.snap) == h0, "%s: the input's bytes changed", c.log);

	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (getenv("ITS_FIXFUZZ_VERBOSE"))
		fprintf(stderr, "fixfuzz: %.2fs %s | dry %d | -o exit %d writes %zu bytes %zu reenc %zu | in place exit %d writes %zu bytes %zu | not-written %zu | refused %zu | older-copy bytes %zu | clear-bit pages %zu\n",
			(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
			c.log, s_dry, s_cp, acp.nwrites, dcp, acp.nre, s_in, ain.nwrites, din,
			nin - ain.nwrites, json_object_array_length(jget(dry_in, "refused")),
			acp.older, acp.clear);

	json_object_put(dry_in);
	json_object_put(dry_cp);
	json_object_put(run_cp);
	json_object_put(run_in);
	free(ain.v);
	free(acp.v);
	free(pin);
	free(pcp);
	ctx_release(&c, &m);
}

/* ------------------------------------------------------------ cases */

#define NR_RANDOM 60

/* Case i: base rota[i % 12] (the live stream and the ZERO-record page
 * twice: their rarer paths, older page copies and re-encoding, need the
 * luck of a repair there); seed from i (the same damage on every run). */
static const unsigned rota[] = {
	B_KVM_ELF, B_KVM_MIG, B_QEMU10, B_TWOLEVEL_ELF, B_STREAM_TWOLEVEL, B_LIVE,
	B_MAPPED, B_ZERO_PAGE, B_ZERO_PAGE_MAPPED, B_LIBVIRT, B_LIVE, B_ZERO_PAGE,
};

static uint64_t case_seed(unsigned i)
{
	uint64_t s = 0x1f5c0de5ull + i;

	return rng_next(&s);
}

START_TEST(random_damage_fix_undo)
{
	struct fuzz_case fc = { rota[(unsigned)_i % (sizeof(rota) / sizeof(rota[0]))],
				case_seed((unsigned)_i), NULL, 0, X_ANY, NULL };

	run_case(&fc, (unsigned)_i);
}
END_TEST

/* Item 3: repairs refused, not planned, or not possible in place. What
 * is not planned is not written (the byte checks of run_case), and where
 * nothing is written there is no undo file and no copy. Then the rarer
 * write paths, by hand. */
static const struct fixed_damage no_damage[1];	/* nr_fixed 0: not read */
static const struct fixed_damage tcg_lpi[] = { { D_LPI_HIGH, E_ITE, 3, 0, 70000 } };
/* ICID 9000 (past the 8192-slot table) on vCPU 7 (of 2): making it
 * unmapped would only trade EINVAL for EINVAL (check_restore.c) */
static const struct fixed_damage icid_range[] = {
	{ D_ICID, E_CTE, 1, 0, 9000 }, { D_FLIP, E_CTE, 1, 0, 17 }, { D_FLIP, E_CTE, 1, 0, 18 },
};
static const struct fixed_damage zero_page_icid[] = { { D_ICID, E_ITE, 0, 0, 1 } };
/* the live stream's collection table is sent stale, then final */
static const struct fixed_damage live_cte[] = { { D_ICID, E_CTE, 1, 0, 0x1651 } };

static const struct fuzz_case fixed_cases[] = {
	/* the base as it is: nothing to repair */
	{ B_KVM_MIG, 0, no_damage, 0, X_NOTHING_WRITTEN, "(healthy)" },
	/* QEMU drops the MSI; no repair exists for TCG INTIDs */
	{ B_QEMU10, 0, tcg_lpi, 1, X_NOTHING_WRITTEN, "(TCG INTID 70000)" },
	/* refused; the collection its ITEs lose is added (unmapped) */
	{ B_KVM_MIG, 0, icid_range, 3, X_REFUSED, "(CTE ICID 9000 on vCPU 7)" },
	/* in place the ZERO-record page cannot be written: shown, not made */
	{ B_ZERO_PAGE, 0, zero_page_icid, 1, X_NOT_IN_PLACE, "(ZERO record page)" },
	/* the paths random damage reaches only sometimes, every time */
	{ B_LIVE, 0, live_cte, 1, X_OLDER_COPIES, "(older copies)" },
	{ B_ZERO_PAGE_MAPPED, 0, zero_page_icid, 1, X_CLEAR_BIT, "(clear bit)" },
};

START_TEST(fixed_damage_fix_undo)
{
	run_case(&fixed_cases[_i], 1000u + (unsigned)_i);
}
END_TEST

/* The comparison is no formality: a byte changed just past a planned
 * write is named, one inside it is not, and the equality check of the
 * undo sees a single byte. */
static const struct fixed_damage low_lpi[] = { { D_LPI_LOW, E_ITE, 0, 0, 100 } };

START_TEST(stray_byte_is_caught)
{
	static const struct fuzz_case fc = { B_KVM_MIG, 0, low_lpi, 1, X_ANY, "(control)" };
	const char *dry[] = { "-y", "--dry-run", "-o", NULL, NULL };
	const char *run[] = { "-y", "-o", NULL, NULL };
	struct pw p[8];
	struct allowed a;
	struct diff d;
	struct ctx c;
	struct pmap m;
	json_object *doc;
	uint64_t at;
	uint8_t b;
	size_t n;
	int fd;
	struct stat st_rep;	/* the copy as the repair left it */

	damaged(&c, &m, &fc, 2000);
	dry[3] = run[2] = c.copy;
	ck_assert_int_eq(fsck(&c, c.snap, dry, &doc, NULL), 4);
	n = parse_plan(doc, p, 8);
	json_object_put(doc);
	plan_regions(&c, &m, p, n, true, &a);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(a.nwrites, 1);
	ck_assert_int_eq(fsck(&c, c.snap, run, &doc, NULL), 1);
	json_object_put(doc);
	stat_of(c.copy, &st_rep);
	diff_files(&c, c.snap, c.copy, &a, m.psz, "control", &d);
	ck_assert_uint_eq(d.nbad, 0);
	ck_assert_uint_gt(d.bytes, 0);
	/* the byte after the entry */
	at = p[0].off + p[0].len;
	ck_assert(!allowed_at(&a, at));
	fd = open(c.copy, O_RDWR);
	ck_assert_int_ge(fd, 0);
	pread_full(fd, &b, 1, at);
	b ^= 0x40;
	pwrite_full(fd, &b, 1, at);
	diff_files(&c, c.snap, c.copy, &a, m.psz, "control", &d);
	ck_assert_uint_eq(d.nbad, 1);
	ck_assert_uint_eq(d.bad[0].lo, at);
	ck_assert_uint_eq(d.bad[0].hi, at + 1);
	/* put back: the entry's own bytes are allowed, nothing else differs */
	b ^= 0x40;
	pwrite_full(fd, &b, 1, at);
	close(fd);
	diff_files(&c, c.snap, c.copy, &a, m.psz, "control", &d);
	ck_assert_uint_eq(d.nbad, 0);
	ck_assert_uint_gt(d.nall, 0);
	for (size_t i = 0; i < d.nall; i++)
		ck_assert(d.all[i].lo >= p[0].off && d.all[i].hi <= p[0].off + p[0].len);
	/* without a plan, the same bytes are all named */
	diff_files(&c, c.snap, c.copy, NULL, m.psz, "control", &d);
	ck_assert_uint_gt(d.nbad, 0);
	ck_assert_uint_eq(d.nbad, d.nall);
	/* the undo of the copy sees a changed copy: one byte inside the
	 * entry (its mtime as the repair left it), or only the mtime; put
	 * back, it gives back the input's bytes */
	{
		char *prog = t_build("its-fsck");
		const char *argv[] = { prog, "--undo", c.undo_c, c.copy, NULL };
		struct timespec ts[2] = { { 0, UTIME_OMIT }, st_rep.st_mtim };
		struct t_run r;
		uint64_t h;

		fd = open(c.copy, O_RDWR);
		ck_assert_int_ge(fd, 0);
		pread_full(fd, &b, 1, p[0].off);
		b ^= 0x01;
		pwrite_full(fd, &b, 1, p[0].off);
		ck_assert_int_eq(futimens(fd, ts), 0);
		h = file_hash(c.copy);
		t_run(&r, argv);
		ck_assert_int_eq(r.status, 8);
		ck_assert_msg(strstr(r.err, "neither what the repair wrote nor the original") &&
			      strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "%s", r.err);
		ck_assert_uint_eq(file_hash(c.copy), h);
		t_run_free(&r);
		b ^= 0x01;
		pwrite_full(fd, &b, 1, p[0].off);
		h = file_hash(c.copy);
		t_run(&r, argv);
		ck_assert_int_eq(r.status, 8);
		ck_assert_msg(strstr(r.err, "modified since the repair"), "%s", r.err);
		ck_assert_uint_eq(file_hash(c.copy), h);
		t_run_free(&r);
		ck_assert_int_eq(futimens(fd, ts), 0);
		close(fd);
		t_run(&r, argv);
		ck_assert_msg(r.status == 0, "%s", r.err);
		t_run_free(&r);
		diff_files(&c, c.snap, c.copy, NULL, m.psz, "control", &d);
		ck_assert_uint_eq(d.bytes, 0);
		free(prog);
	}
	free(a.v);
	ctx_release(&c, &m);
}
END_TEST

static void teardown(void)
{
	t_cleanup();
}

Suite *suite_fixfuzz(void)
{
	Suite *s = suite_create("fixfuzz");
	TCase *tc = tcase_create("fixfuzz");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, random_damage_fix_undo, 0, NR_RANDOM);
	tcase_add_loop_test(tc, fixed_damage_fix_undo, 0,
			    (int)(sizeof(fixed_cases) / sizeof(fixed_cases[0])));
	tcase_add_test(tc, stray_byte_is_caught);
	suite_add_tcase(s, tc);
	return s;
}
