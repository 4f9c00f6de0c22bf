#include "its/gmem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "its/bits.h"
#include "its/io.h"

/* ------------------------------------------------------------ index */

#define LEAF_MASK	(GMEM_PINDEX_LEAF - 1)
#define MID_SHIFT	GMEM_PINDEX_LEAF_BITS
#define TOP_SHIFT	(GMEM_PINDEX_LEAF_BITS + GMEM_PINDEX_MID_BITS)
#define LEAF_BYTES	(GMEM_PINDEX_LEAF * sizeof(uint64_t))
#define MID_BYTES	(GMEM_PINDEX_MID * sizeof(uint64_t *))

struct gmem_pindex {
	uint64_t nr_pages;
	uint64_t ***top;		/* [i >> TOP_SHIFT][mid][leaf] */
	size_t nr_top;
	uint64_t *flat;			/* gmem_add_pages: every leaf in it */
	uint64_t bytes;
};

static uint64_t top_entries(uint64_t nr_pages)
{
	return (nr_pages >> TOP_SHIFT) +
	       ((nr_pages & ((1ULL << TOP_SHIFT) - 1)) != 0);
}

uint64_t gmem_pindex_base_bytes(uint64_t nr_pages)
{
	return sizeof(struct gmem_pindex) +
	       top_entries(nr_pages) * sizeof(uint64_t **);
}

int gmem_pindex_new(struct gmem_pindex **out, uint64_t nr_pages)
{
	struct gmem_pindex *x = calloc(1, sizeof(*x));
	uint64_t nr_top = top_entries(nr_pages);

	if (!x || nr_top > SIZE_MAX / sizeof(*x->top) ||
	    !(x->top = calloc(nr_top ? (size_t)nr_top : 1, sizeof(*x->top)))) {
		free(x);
		return -ENOMEM;
	}
	x->nr_pages = nr_pages;
	x->nr_top = (size_t)nr_top;
	x->bytes = gmem_pindex_base_bytes(nr_pages);
	*out = x;
	return 0;
}

void gmem_pindex_free(struct gmem_pindex *x)
{
	if (!x)
		return;
	for (size_t t = 0; t < x->nr_top; t++) {
		if (!x->top[t])
			continue;
		for (size_t m = 0; !x->flat && m < GMEM_PINDEX_MID; m++)
			free(x->top[t][m]);
		free(x->top[t]);
	}
	free(x->top);
	free(x->flat);
	free(x);
}

uint64_t gmem_pindex_nr_pages(const struct gmem_pindex *x)
{
	return x->nr_pages;
}

uint64_t gmem_pindex_bytes(const struct gmem_pindex *x)
{
	return x->bytes;
}

static uint64_t *leaf_of(const struct gmem_pindex *x, uint64_t i)
{
	uint64_t **mid = x->top[i >> TOP_SHIFT];

	return mid ? mid[(i >> MID_SHIFT) & (GMEM_PINDEX_MID - 1)] : NULL;
}

uint64_t gmem_pindex_get(const struct gmem_pindex *x, uint64_t i)
{
	const uint64_t *leaf = leaf_of(x, i);

	return leaf ? leaf[i & LEAF_MASK] : GMEM_PAGE_ABSENT;
}

uint64_t gmem_pindex_leaf_cost(const struct gmem_pindex *x, uint64_t i)
{
	if (!x->top[i >> TOP_SHIFT])
		return MID_BYTES + LEAF_BYTES;
	return leaf_of(x, i) ? 0 : LEAF_BYTES;
}

uint64_t *gmem_pindex_leaf(struct gmem_pindex *x, uint64_t i)
{
	uint64_t ***mid = &x->top[i >> TOP_SHIFT], **slot;

	if (!*mid) {
		*mid = calloc(GMEM_PINDEX_MID, sizeof(**mid));
		if (!*mid)
			return NULL;
		x->bytes += MID_BYTES;
	}
	slot = &(*mid)[(i >> MID_SHIFT) & (GMEM_PINDEX_MID - 1)];
	if (!*slot) {
		*slot = calloc(GMEM_PINDEX_LEAF, sizeof(**slot));
		if (!*slot)
			return NULL;
		x->bytes += LEAF_BYTES;
	}
	return *slot;
}

uint64_t *gmem_pindex_next_leaf(const struct gmem_pindex *x, uint64_t i,
				uint64_t *first)
{
	i &= ~LEAF_MASK;
	while (i < x->nr_pages) {
		uint64_t *leaf;

		if (!x->top[i >> TOP_SHIFT]) {
			/* a missing middle node: none of its leaves */
			i = ((i >> TOP_SHIFT) + 1) << TOP_SHIFT;
			continue;
		}
		leaf = leaf_of(x, i);
		if (leaf) {
			*first = i;
			return leaf;
		}
		i += GMEM_PINDEX_LEAF;
	}
	return NULL;
}

/* Pages from i on (counting at most max of them) whose entries equal e:
 * the pages of a leaf never allocated are all ABSENT. */
static uint64_t same_run(const struct gmem_pindex *x, uint64_t i, uint64_t e,
			 uint64_t max)
{
	uint64_t n = 0;

	while (n < max && i < x->nr_pages) {
		const uint64_t *leaf = leaf_of(x, i);
		uint64_t skip;

		if (!leaf) {
			if (e != GMEM_PAGE_ABSENT)
				break;
			skip = x->top[i >> TOP_SHIFT] ?
			       GMEM_PINDEX_LEAF - (i & LEAF_MASK) :
			       (1ULL << TOP_SHIFT) -
			       (i & ((1ULL << TOP_SHIFT) - 1));
			n += skip;
			i += skip;
			continue;
		}
		do {
			if (leaf[i & LEAF_MASK] != e)
				return n;
			n++;
			i++;
		} while ((i & LEAF_MASK) && n < max && i < x->nr_pages);
	}
	if (i > x->nr_pages)
		n -= i - x->nr_pages;
	return n < max ? n : max;
}

uint64_t gmem_region_page(const struct gmem_region *r, uint64_t i)
{
	return gmem_pindex_get(r->index, i);
}

/* ------------------------------------------------------------ map */

/* Reads of at least this many bytes of an extent (an ELF core's PT_LOAD, a
 * raw image) look for holes first, two lseeks: a maximal ITT in a sparse
 * core is one page of data and 508 KiB of hole. A stream's page copies are
 * data, never looked at. */
#define GMEM_SPARSE_READ 4096

static uint64_t file_run_at(int fd, uint64_t foff, uint64_t max, bool *hole);

struct gmem {
	char *path;
	int fd;
	const struct gmem_patch *overlay;
	size_t nr_overlay;
	struct gmem_region *r;
	size_t n, cap;
	bool sealed;
};

int gmem_new(struct gmem **out, const char *path, int fd, struct its_err *err)
{
	struct gmem *g = calloc(1, sizeof(*g));

	if (!g || !(g->path = strdup(path ? path : ""))) {
		free(g);
		return its_err_set(err, -ENOMEM, path, ITS_ERR_NO_OFFSET,
				   "out of memory");
	}
	g->fd = fd;
	*out = g;
	return 0;
}

void gmem_free(struct gmem *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		gmem_pindex_free(g->r[i].index);
	free(g->r);
	free(g->path);
	free(g);
}

static int region_push(struct gmem *g, const char *name, uint64_t gpa,
		       uint64_t size, struct gmem_region **out,
		       struct its_err *err)
{
	uint64_t end;

	if (size == 0)
		return its_err_set(err, -EINVAL, g->path, ITS_ERR_NO_OFFSET,
				   "RAM region '%s' at GPA 0x%llx is empty",
				   name, (unsigned long long)gpa);
	if (its_add_overflows(gpa, size - 1, &end))
		return its_err_set(err, -EINVAL, g->path, ITS_ERR_NO_OFFSET,
				   "RAM region '%s' at GPA 0x%llx size 0x%llx runs past the end of the address space",
				   name, (unsigned long long)gpa,
				   (unsigned long long)size);
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		struct gmem_region *r = realloc(g->r, cap * sizeof(*r));

		if (!r)
			return its_err_set(err, -ENOMEM, g->path,
					   ITS_ERR_NO_OFFSET, "out of memory");
		g->r = r;
		g->cap = cap;
	}
	*out = &g->r[g->n++];
	memset(*out, 0, sizeof(**out));
	snprintf((*out)->name, sizeof((*out)->name), "%s", name);
	(*out)->gpa = gpa;
	(*out)->size = size;
	g->sealed = false;
	return 0;
}

int gmem_add_extent(struct gmem *g, const char *name, uint64_t gpa,
		    uint64_t size, uint64_t file_off, uint64_t file_len,
		    struct its_err *err)
{
	struct gmem_region *r;
	int rc;

	if (file_len > size)
		file_len = size;
	rc = region_push(g, name, gpa, size, &r, err);
	if (rc < 0)
		return rc;
	r->type = GMEM_REGION_EXTENT;
	r->file_off = file_off;
	r->file_len = file_len;
	return 0;
}

static int check_pages(struct gmem *g, const char *name, uint64_t size,
		       unsigned page_shift, struct its_err *err)
{
	if (page_shift < 9 || page_shift > 30 ||
	    (size & ((1ULL << page_shift) - 1)))
		return its_err_set(err, -EINVAL, g->path, ITS_ERR_NO_OFFSET,
				   "RAM region '%s': size 0x%llx is not a multiple of the %llu-byte page",
				   name, (unsigned long long)size,
				   1ULL << (page_shift < 63 ? page_shift : 0));
	return 0;
}

int gmem_add_index(struct gmem *g, const char *name, uint64_t gpa,
		   uint64_t size, unsigned page_shift, struct gmem_pindex *index,
		   struct its_err *err)
{
	struct gmem_region *r;
	int rc = check_pages(g, name, size, page_shift, err);

	if (rc == 0 && index->nr_pages != size >> page_shift)
		rc = its_err_set(err, -EINVAL, g->path, ITS_ERR_NO_OFFSET,
				 "RAM region '%s': index of %llu pages for 0x%llx bytes",
				 name, (unsigned long long)index->nr_pages,
				 (unsigned long long)size);
	if (rc == 0)
		rc = region_push(g, name, gpa, size, &r, err);
	if (rc < 0) {
		gmem_pindex_free(index);
		return rc;
	}
	r->type = GMEM_REGION_PAGES;
	r->page_shift = page_shift;
	r->nr_pages = index->nr_pages;
	r->index = index;
	return 0;
}

int gmem_add_pages(struct gmem *g, const char *name, uint64_t gpa,
		   uint64_t size, unsigned page_shift, uint64_t **pages,
		   struct its_err *err)
{
	struct gmem_pindex *x = NULL;
	uint64_t nr, leaves;
	int rc = check_pages(g, name, size, page_shift, err);

	if (rc < 0)
		return rc;
	nr = size >> page_shift;
	leaves = (nr + LEAF_MASK) >> GMEM_PINDEX_LEAF_BITS;
	if (leaves > SIZE_MAX / LEAF_BYTES || gmem_pindex_new(&x, nr) < 0)
		goto nomem;
	x->flat = calloc(leaves ? (size_t)leaves : 1, LEAF_BYTES);
	if (!x->flat)
		goto nomem;
	x->bytes += leaves * LEAF_BYTES;
	for (uint64_t i = 0; i < nr; i += GMEM_PINDEX_LEAF) {
		uint64_t ***mid = &x->top[i >> TOP_SHIFT];

		if (!*mid) {
			*mid = calloc(GMEM_PINDEX_MID, sizeof(**mid));
			if (!*mid)
				goto nomem;
			x->bytes += MID_BYTES;
		}
		(*mid)[(i >> MID_SHIFT) & (GMEM_PINDEX_MID - 1)] = x->flat + i;
	}
	rc = gmem_add_index(g, name, gpa, size, page_shift, x, err);
	if (rc < 0)
		return rc;
	*pages = x->flat;
	return 0;
nomem:
	gmem_pindex_free(x);
	return its_err_set(err, -ENOMEM, g->path, ITS_ERR_NO_OFFSET,
			   "out of memory for the page index of '%s' (%llu pages)",
			   name, (unsigned long long)nr);
}

int gmem_set_gpa(struct gmem *g, size_t index, uint64_t gpa,
		 struct its_err *err)
{
	uint64_t end;

	if (index >= g->n)
		return its_err_set(err, -EINVAL, g->path, ITS_ERR_NO_OFFSET,
				   "no RAM region #%zu", index);
	if (its_add_overflows(gpa, g->r[index].size - 1, &end))
		return its_err_set(err, -EINVAL, g->path, ITS_ERR_NO_OFFSET,
				   "RAM region '%s' at GPA 0x%llx runs past the end of the address space",
				   g->r[index].name, (unsigned long long)gpa);
	g->r[index].gpa = gpa;
	g->sealed = false;
	return 0;
}

static int region_cmp(const void *a, const void *b)
{
	const struct gmem_region *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

int gmem_seal(struct gmem *g, struct its_err *err)
{
	if (g->n > 1)
		qsort(g->r, g->n, sizeof(*g->r), region_cmp);
	for (size_t i = 1; i < g->n; i++) {
		const struct gmem_region *a = &g->r[i - 1], *b = &g->r[i];

		if (b->gpa - a->gpa < a->size)
			return its_err_set(err, -EINVAL, g->path,
					   ITS_ERR_NO_OFFSET,
					   "RAM regions '%s' and '%s' overlap at GPA 0x%llx",
					   a->name, b->name,
					   (unsigned long long)b->gpa);
	}
	g->sealed = true;
	return 0;
}

size_t gmem_nr_regions(const struct gmem *g)
{
	return g->n;
}

const struct gmem_region *gmem_region_at(const struct gmem *g, size_t i)
{
	return i < g->n ? &g->r[i] : NULL;
}

const char *gmem_path(const struct gmem *g)
{
	return g->path;
}

/* Region holding gpa, or the first region above it (NULL if none). */
static const struct gmem_region *find_region(const struct gmem *g,
					     uint64_t gpa, bool *inside)
{
	size_t lo = 0, hi = g->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (g->r[mid].gpa <= gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* lo = first region with gpa > target */
	if (lo > 0 && gpa - g->r[lo - 1].gpa < g->r[lo - 1].size) {
		*inside = true;
		return &g->r[lo - 1];
	}
	*inside = false;
	return lo < g->n ? &g->r[lo] : NULL;
}

const struct gmem_region *gmem_region_of(const struct gmem *g, uint64_t gpa)
{
	bool inside;
	const struct gmem_region *r = find_region(g, gpa, &inside);

	return inside ? r : NULL;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

enum gmem_kind gmem_span(const struct gmem *g, uint64_t gpa, uint64_t max,
			 uint64_t *run)
{
	const struct gmem_region *r;
	bool inside;
	uint64_t off, left;

	if (max == 0)
		max = 1;
	r = find_region(g, gpa, &inside);
	if (!inside) {
		uint64_t gap = r ? r->gpa - gpa : UINT64_MAX - gpa;

		*run = min64(max, gap ? gap : 1);
		return GMEM_NOT_RAM;
	}
	off = gpa - r->gpa;
	left = min64(max, r->size - off);
	if (r->type == GMEM_REGION_EXTENT) {
		if (off < r->file_len) {
			*run = min64(left, r->file_len - off);
			return GMEM_FILE_BYTES;
		}
		*run = left;
		return GMEM_ABSENT;
	} else {
		const unsigned shift = r->page_shift;
		uint64_t psz = 1ULL << shift;
		uint64_t idx = off >> shift, e = gmem_pindex_get(r->index, idx);
		enum gmem_kind k = e == GMEM_PAGE_ABSENT ? GMEM_ABSENT :
				   GMEM_PAGE_IS_ZERO(e) ? GMEM_ZERO :
				   GMEM_FILE_BYTES;
		uint64_t n = psz - (off & (psz - 1));

		/* Extend over following pages of the same kind, except file
		 * pages, whose offsets need not be contiguous. */
		if (k != GMEM_FILE_BYTES && n < left) {
			uint64_t want = (left - n) >> shift;

			if ((left - n) & (psz - 1))
				want++;
			n += same_run(r->index, idx + 1, e, want) << shift;
		}
		*run = min64(n, left);
		return k;
	}
}

const char *gmem_kind_name(enum gmem_kind k)
{
	switch (k) {
	case GMEM_FILE_BYTES: return "data";
	case GMEM_ZERO: return "zero";
	case GMEM_ABSENT: return "absent";
	case GMEM_NOT_RAM: return "not-ram";
	}
	return "?";
}

/* File offset and fill of the piece at gpa (inside region r). */
static void piece(const struct gmem_region *r, uint64_t off, uint64_t *foff,
		  uint8_t *fill)
{
	if (r->type == GMEM_REGION_EXTENT) {
		*foff = r->file_off + off;
		*fill = 0;
	} else {
		uint64_t e = gmem_pindex_get(r->index, off >> r->page_shift);

		*fill = GMEM_PAGE_FILL(e);
		*foff = e + (off & ((1ULL << r->page_shift) - 1));
	}
}

void gmem_set_overlay(struct gmem *g, const struct gmem_patch *p, size_t n)
{
	g->overlay = p;
	g->nr_overlay = p ? n : 0;
}

bool gmem_overlay_hits(const struct gmem *g, uint64_t gpa, uint64_t len)
{
	for (size_t i = 0; i < g->nr_overlay; i++)
		if (g->overlay[i].gpa < gpa + len &&
		    gpa < g->overlay[i].gpa + g->overlay[i].len)
			return true;
	return false;
}

static void apply_overlay(const struct gmem *g, uint64_t gpa, uint8_t *buf,
			  size_t len)
{
	for (size_t i = 0; i < g->nr_overlay; i++) {
		const struct gmem_patch *o = &g->overlay[i];
		uint64_t lo = o->gpa > gpa ? o->gpa : gpa;
		uint64_t hi = o->gpa + o->len < gpa + len ? o->gpa + o->len : gpa + len;

		if (lo < hi)
			memcpy(buf + (lo - gpa), o->bytes + (lo - o->gpa),
			       (size_t)(hi - lo));
	}
}

static int read_raw(const struct gmem *g, uint64_t gpa, void *buf, size_t len,
		    unsigned flags, struct its_err *err);

int gmem_read(const struct gmem *g, uint64_t gpa, void *buf, size_t len,
	      unsigned flags, struct its_err *err)
{
	int rc = read_raw(g, gpa, buf, len, flags, err);

	if (rc == 0 && g->nr_overlay)
		apply_overlay(g, gpa, buf, len);
	return rc;
}

static int read_raw(const struct gmem *g, uint64_t gpa, void *buf, size_t len,
		    unsigned flags, struct its_err *err)
{
	uint8_t *p = buf;
	uint64_t end;

	if (len && its_add_overflows(gpa, len - 1, &end))
		return its_err_set(err, -EFAULT, g->path, ITS_ERR_NO_OFFSET,
				   "read of %zu bytes at GPA 0x%llx wraps the address space",
				   len, (unsigned long long)gpa);
	while (len) {
		uint64_t run, foff;
		uint8_t fill;
		bool inside;
		const struct gmem_region *r;
		enum gmem_kind k = gmem_span(g, gpa, len, &run);
		int rc;

		switch (k) {
		case GMEM_NOT_RAM:
			return its_err_set(err, -EFAULT, g->path,
					   ITS_ERR_NO_OFFSET,
					   "GPA 0x%llx is not guest RAM in this snapshot",
					   (unsigned long long)gpa);
		case GMEM_ABSENT:
			if (!(flags & GMEM_ZERO_ABSENT))
				return its_err_set(err, -ENODATA, g->path,
						   ITS_ERR_NO_OFFSET,
						   "GPA 0x%llx is guest RAM that the snapshot does not hold",
						   (unsigned long long)gpa);
			memset(p, 0, (size_t)run);
			break;
		case GMEM_ZERO:
			r = find_region(g, gpa, &inside);
			piece(r, gpa - r->gpa, &foff, &fill);
			memset(p, fill, (size_t)run);
			break;
		case GMEM_FILE_BYTES:
			r = find_region(g, gpa, &inside);
			piece(r, gpa - r->gpa, &foff, &fill);
			if (r->type == GMEM_REGION_EXTENT &&
			    run >= GMEM_SPARSE_READ) {
				/* a sparse file's holes: zeros, not read */
				bool hole;
				uint64_t ext = file_run_at(g->fd, foff, run,
							   &hole);

				if (ext)
					run = ext;
				if (ext && hole) {
					memset(p, 0, (size_t)run);
					break;
				}
			}
			rc = its_pread_full(g->fd, p, (size_t)run, foff, g->path,
					    err);
			if (rc < 0) {
				its_err_prefix(err, "GPA 0x%llx: ",
					       (unsigned long long)gpa);
				return rc;
			}
			break;
		}
		p += run;
		gpa += run;
		len -= (size_t)run;
	}
	return 0;
}

/* The run of at most max file bytes from foff on that is all hole (*hole)
 * or all data; 0 when the file system cannot tell. */
static uint64_t file_run_at(int fd, uint64_t foff, uint64_t max, bool *hole)
{
	struct stat st;
	off_t d;

	*hole = false;
	if (foff > INT64_MAX)
		return 0;
	d = lseek(fd, (off_t)foff, SEEK_DATA);
	if (d < 0) {
		/* no data after foff: a hole up to the end of the file, but
		 * not past it (a cut file must fail to read, not read 0s) */
		if (errno != ENXIO || fstat(fd, &st) < 0 ||
		    (uint64_t)st.st_size <= foff)
			return 0;
		*hole = true;
		return min64(max, (uint64_t)st.st_size - foff);
	}
	if ((uint64_t)d > foff) {
		*hole = true;
		return min64(max, (uint64_t)d - foff);
	}
	d = lseek(fd, (off_t)foff, SEEK_HOLE);
	return d > (off_t)foff ? min64(max, (uint64_t)d - foff) : 0;
}

uint64_t gmem_file_run(const struct gmem *g, uint64_t gpa, uint64_t max,
		       bool *hole)
{
	const struct gmem_region *r;
	uint64_t run, foff;
	uint8_t fill;
	bool inside;

	*hole = false;
	if (gmem_span(g, gpa, max, &run) != GMEM_FILE_BYTES)
		return 0;
	r = find_region(g, gpa, &inside);
	if (r->type != GMEM_REGION_EXTENT)
		return 0;
	piece(r, gpa - r->gpa, &foff, &fill);
	return file_run_at(g->fd, foff, run, hole);
}

int gmem_locate(const struct gmem *g, uint64_t gpa, uint64_t *file_off,
		struct its_err *err)
{
	uint64_t run;
	uint8_t fill;
	bool inside;
	const struct gmem_region *r;

	switch (gmem_span(g, gpa, 1, &run)) {
	case GMEM_NOT_RAM:
		return its_err_set(err, -EFAULT, g->path, ITS_ERR_NO_OFFSET,
				   "GPA 0x%llx is not guest RAM in this snapshot",
				   (unsigned long long)gpa);
	case GMEM_ZERO:
	case GMEM_ABSENT:
		return its_err_set(err, -ENOENT, g->path, ITS_ERR_NO_OFFSET,
				   "GPA 0x%llx has no copy in the file",
				   (unsigned long long)gpa);
	case GMEM_FILE_BYTES:
		break;
	}
	r = find_region(g, gpa, &inside);
	piece(r, gpa - r->gpa, file_off, &fill);
	return 0;
}
