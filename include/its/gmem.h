/* Guest-physical memory map of a snapshot: "give me guest bytes at GPA X".
 *
 * A gmem is a sorted set of regions (ELF PT_LOADs, stream RAM blocks, a raw
 * image). A region is either one extent backed by a contiguous file range, or
 * a per-page index for streams whose pages are scattered: 8 bytes a page,
 * kept only where the stream has pages (a 1 TiB guest with a handful of
 * pages costs a few KiB).
 * Memory that no region covers is not guest RAM: KVM's read of it fails with
 * EFAULT. Memory inside a region that the snapshot does not hold is ABSENT:
 * reported as such, never silently as zeros. */
#ifndef ITS_GMEM_H
#define ITS_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "its/err.h"

enum gmem_kind {
	GMEM_FILE_BYTES,	/* bytes are in the file */
	GMEM_ZERO,		/* the snapshot says: all bytes equal (normally 0) */
	GMEM_ABSENT,		/* guest RAM, but the snapshot does not hold it */
	GMEM_NOT_RAM,		/* no region covers it */
};

/* Per-page index entries of a GMEM_REGION_PAGES region. */
#define GMEM_PAGE_ABSENT	0ULL
#define GMEM_PAGE_ZERO		(1ULL << 63)	/* low 8 bits: fill byte */
#define GMEM_PAGE_IS_ZERO(e)	(((e) & GMEM_PAGE_ZERO) != 0)
#define GMEM_PAGE_FILL(e)	((uint8_t)((e) & 0xff))

/* A sparse page index: page i's entry (file offset, GMEM_PAGE_ZERO|fill or
 * GMEM_PAGE_ABSENT) lives in a leaf of GMEM_PINDEX_LEAF entries, allocated
 * on first use; pages of a leaf never allocated are ABSENT. Leaves hang
 * from middle nodes of GMEM_PINDEX_MID leaves, allocated the same way, and
 * those from one array sized by the region: for 2^52 bytes of 4 KiB pages
 * it is 8 MiB, for 1 TiB 2 KiB. */
#define GMEM_PINDEX_LEAF_BITS	9
#define GMEM_PINDEX_LEAF	(1ULL << GMEM_PINDEX_LEAF_BITS)
#define GMEM_PINDEX_MID_BITS	11
#define GMEM_PINDEX_MID		(1ULL << GMEM_PINDEX_MID_BITS)

struct gmem_pindex;

int gmem_pindex_new(struct gmem_pindex **out, uint64_t nr_pages);
/* Bytes gmem_pindex_new allocates for nr_pages (leaves come later). */
uint64_t gmem_pindex_base_bytes(uint64_t nr_pages);
void gmem_pindex_free(struct gmem_pindex *x);
uint64_t gmem_pindex_nr_pages(const struct gmem_pindex *x);
/* Entry of page i (< nr_pages). */
uint64_t gmem_pindex_get(const struct gmem_pindex *x, uint64_t i);
/* Bytes that gmem_pindex_leaf(x, i) would allocate (0: the leaf exists). */
uint64_t gmem_pindex_leaf_cost(const struct gmem_pindex *x, uint64_t i);
/* The leaf holding page i: GMEM_PINDEX_LEAF entries, the first for page
 * i & ~(GMEM_PINDEX_LEAF - 1); allocated (all ABSENT) when missing. NULL
 * when out of memory. */
uint64_t *gmem_pindex_leaf(struct gmem_pindex *x, uint64_t i);
/* The first allocated leaf holding a page >= i, or NULL; *first: the page
 * of its entry 0. */
uint64_t *gmem_pindex_next_leaf(const struct gmem_pindex *x, uint64_t i,
				uint64_t *first);
/* Bytes allocated, the index included. */
uint64_t gmem_pindex_bytes(const struct gmem_pindex *x);

enum gmem_region_type {
	GMEM_REGION_EXTENT,	/* [0, file_len) at file_off; the rest ABSENT */
	GMEM_REGION_PAGES,	/* index: a page's file offset, GMEM_PAGE_ZERO|fill
				 * or ABSENT */
};

struct gmem_region {
	char name[64];
	uint64_t gpa, size;
	enum gmem_region_type type;
	uint64_t file_off, file_len;	/* EXTENT */
	unsigned page_shift;		/* PAGES */
	uint64_t nr_pages;
	struct gmem_pindex *index;
};

/* Index entry of page i of a PAGES region. */
uint64_t gmem_region_page(const struct gmem_region *r, uint64_t i);

enum gmem_read_flags {
	GMEM_ZERO_ABSENT = 1 << 0,	/* read ABSENT bytes as zeros (QEMU's
					 * destination RAM starts zeroed) */
};

struct gmem;

int gmem_new(struct gmem **out, const char *path, int fd, struct its_err *err);
void gmem_free(struct gmem *g);

/* Add a region backed by one file range: file_len bytes at file_off hold the
 * first file_len bytes of the region, the rest of it is ABSENT. */
int gmem_add_extent(struct gmem *g, const char *name, uint64_t gpa,
		    uint64_t size, uint64_t file_off, uint64_t file_len,
		    struct its_err *err);

/* Add a page-indexed region with every leaf allocated: *pages (all
 * GMEM_PAGE_ABSENT, one entry per page) is owned by g and filled in by the
 * caller. size must be a multiple of the page size. For small regions. */
int gmem_add_pages(struct gmem *g, const char *name, uint64_t gpa,
		   uint64_t size, unsigned page_shift, uint64_t **pages,
		   struct its_err *err);
/* Add a page-indexed region over a sparse index of size >> page_shift
 * pages, which g owns from then on (also on failure). The caller may go on
 * filling it until gmem_seal. */
int gmem_add_index(struct gmem *g, const char *name, uint64_t gpa,
		   uint64_t size, unsigned page_shift, struct gmem_pindex *index,
		   struct its_err *err);

/* Move a region (a stream's RAMBlock gets its GPA once it is known). */
int gmem_set_gpa(struct gmem *g, size_t index, uint64_t gpa,
		 struct its_err *err);

/* Sort by GPA and refuse overlapping regions. Call once after adding. */
int gmem_seal(struct gmem *g, struct its_err *err);

size_t gmem_nr_regions(const struct gmem *g);
const struct gmem_region *gmem_region_at(const struct gmem *g, size_t i);
/* The region holding gpa, NULL when none does. */
const struct gmem_region *gmem_region_of(const struct gmem *g, uint64_t gpa);
const char *gmem_path(const struct gmem *g);

/* What is at gpa, and how many bytes from gpa on share that answer (at least
 * 1; runs are cut at page and region boundaries, never longer than max). */
enum gmem_kind gmem_span(const struct gmem *g, uint64_t gpa, uint64_t max,
			 uint64_t *run);

/* Read len bytes at gpa. -EFAULT if any byte is not guest RAM, -ENODATA if
 * any byte is ABSENT (unless GMEM_ZERO_ABSENT), -EIO for file errors. */
int gmem_read(const struct gmem *g, uint64_t gpa, void *buf, size_t len,
	      unsigned flags, struct its_err *err);

/* File bytes at gpa of an extent (ELF core, raw image) in a sparse file:
 * the length of the run from gpa on (at most max) that is all hole (*hole
 * true: it reads as zeros without reading it) or all data. 0 when gpa is
 * no such bytes or the file system cannot tell. Planned writes are not
 * looked at. */
uint64_t gmem_file_run(const struct gmem *g, uint64_t gpa, uint64_t max,
		       bool *hole);

/* File offset of the byte at gpa, for in-place writes; -ENOENT when the
 * byte has no file copy (ZERO or ABSENT), -EFAULT when not guest RAM. */
int gmem_locate(const struct gmem *g, uint64_t gpa, uint64_t *file_off,
		struct its_err *err);

const char *gmem_kind_name(enum gmem_kind k);

/* Planned writes laid over what gmem_read returns, so that a repair plan
 * can be walked and judged before anything is written. The array must stay
 * valid while set; NULL/0 removes it. */
struct gmem_patch {
	uint64_t gpa;
	unsigned len;
	const uint8_t *bytes;
};
void gmem_set_overlay(struct gmem *g, const struct gmem_patch *p, size_t n);
/* Does a planned write touch [gpa, gpa + len)? */
bool gmem_overlay_hits(const struct gmem *g, uint64_t gpa, uint64_t len);

#endif
