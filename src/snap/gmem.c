#include "its/gmem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its/bits.h"
#include "its/io.h"

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
		free(g->r[i].pages);
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

int gmem_add_pages(struct gmem *g, const char *name, uint64_t gpa,
		   uint64_t size, unsigned page_shift, uint64_t **pages,
		   struct its_err *err)
{
	struct gmem_region *r;
	uint64_t nr;
	int rc;

	if (page_shift < 9 || page_shift > 30 ||
	    (size & ((1ULL << page_shift) - 1)))
		return its_err_set(err, -EINVAL, g->path, ITS_ERR_NO_OFFSET,
				   "RAM region '%s': size 0x%llx is not a multiple of the %llu-byte page",
				   name, (unsigned long long)size,
				   1ULL << (page_shift < 63 ? page_shift : 0));
	nr = size >> page_shift;
	if (nr > SIZE_MAX / sizeof(uint64_t))
		return its_err_set(err, -ENOMEM, g->path, ITS_ERR_NO_OFFSET,
				   "RAM region '%s' is too large to index", name);
	rc = region_push(g, name, gpa, size, &r, err);
	if (rc < 0)
		return rc;
	r->type = GMEM_REGION_PAGES;
	r->page_shift = page_shift;
	r->nr_pages = nr;
	r->pages = calloc((size_t)nr, sizeof(uint64_t));
	if (!r->pages) {
		g->n--;
		return its_err_set(err, -ENOMEM, g->path, ITS_ERR_NO_OFFSET,
				   "out of memory for the page index of '%s' (%llu pages)",
				   name, (unsigned long long)nr);
	}
	*pages = r->pages;
	return 0;
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
		uint64_t psz = 1ULL << r->page_shift;
		uint64_t idx = off >> r->page_shift, e = r->pages[idx];
		enum gmem_kind k = e == GMEM_PAGE_ABSENT ? GMEM_ABSENT :
				   GMEM_PAGE_IS_ZERO(e) ? GMEM_ZERO :
				   GMEM_FILE_BYTES;
		uint64_t n = psz - (off & (psz - 1));

		/* Extend over following pages of the same kind, except file
		 * pages, whose offsets need not be contiguous. */
		while (k != GMEM_FILE_BYTES && n < left &&
		       ++idx < r->nr_pages &&
		       (k == GMEM_ABSENT ? r->pages[idx] == GMEM_PAGE_ABSENT :
					   r->pages[idx] == e))
			n += psz;
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
		uint64_t e = r->pages[off >> r->page_shift];

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
