/* The "ram" section of a QEMU migration stream (spec §9, §11, §16): the
 * MEM_SIZE block list, page records and mapped-ram bitmaps, turned into one
 * page index per RAMBlock (8 bytes a page: file offset of the last copy,
 * GMEM_PAGE_ZERO|fill, or GMEM_PAGE_ABSENT), kept only where the stream
 * has pages. Page data is never read. */
#include "migstream_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ blocks */

static int by_name_cmp(const void *a, const void *b)
{
	const struct migstream_ramblock *x =
		*(const struct migstream_ramblock *const *)a;
	const struct migstream_ramblock *y =
		*(const struct migstream_ramblock *const *)b;

	return strcmp(x->name, y->name);
}

/* Block named by the counted string (s, len), or NULL. */
static struct ms_block *ms_block_lookup(struct ms_parser *p, const uint8_t *s,
					size_t len)
{
	size_t lo = 0, hi = p->mi->nr_blocks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		size_t i = (size_t)(p->by_name[mid] - p->mi->blocks);
		const char *n = p->by_name[mid]->name;
		size_t nl = strlen(n);
		int c = memcmp(s, n, len < nl ? len : nl);

		if (c == 0)
			c = len < nl ? -1 : len > nl;
		if (c == 0)
			return &p->blocks[i];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* s: the NUL-terminated copy of a name ms_name accepted */
static int ms_block_add(struct ms_parser *p, uint64_t decl, const char *s,
			uint64_t used_length)
{
	struct migstream_info *mi = p->mi;
	struct migstream_ramblock *b;
	char *name;

	if (mi->nr_blocks >= MS_MAX_BLOCKS)
		return ms_bad(p, decl,
			      "RAMBlock '%s' is block %zu of the block list, over the limit of %u",
			      s, mi->nr_blocks + 1, MS_MAX_BLOCKS);
	for (size_t i = 0; i < mi->nr_blocks; i++)
		if (!strcmp(mi->blocks[i].name, s))
			return ms_bad(p, decl,
				      "RAMBlock '%s' listed twice in the block list",
				      s);
	if (mi->nr_blocks == p->cap_blocks) {
		size_t cap = p->cap_blocks ? p->cap_blocks * 2 : 16;

		b = realloc(mi->blocks, cap * sizeof(*b));
		if (!b)
			return ms_nomem(p);
		mi->blocks = b;
		p->cap_blocks = cap;
	}
	name = strdup(s);
	if (!name)
		return ms_nomem(p);
	b = &mi->blocks[mi->nr_blocks++];
	memset(b, 0, sizeof(*b));
	b->name = name;
	b->decl_offset = decl;
	b->used_length = used_length;
	return 0;
}

/* ------------------------------------------------------------ GPAs */

static bool machine_is_virt(const char *m)
{
	return !strcmp(m, "virt") || !strncmp(m, "virt-", 5);
}

static void place(struct migstream_ramblock *b, uint64_t gpa, bool mapped,
		  const char *role, const char *source)
{
	b->gpa_known = true;
	b->gpa = gpa;
	b->mapped = mapped;
	b->role = role;
	b->gpa_source = source;
}

/* "ram-node<N>" -> N, or -1 */
static long numa_node(const char *name)
{
	char *end;
	long n;

	if (strncmp(name, "ram-node", 8) || !name[8] || name[8] < '0' ||
	    name[8] > '9')
		return -1;
	n = strtol(name + 8, &end, 10);
	return *end || n < 0 || n > 4096 ? -1 : n;
}

/* Known placements of the arm `virt` machine (spec §16). */
static void ms_map_virt(struct ms_parser *p)
{
	struct migstream_info *mi = p->mi;
	bool have_main = migstream_find_block(mi, "mach-virt.ram") != NULL;
	uint64_t next = 0x40000000;

	for (size_t i = 0; i < mi->nr_blocks; i++) {
		struct migstream_ramblock *b = &mi->blocks[i];

		if (b->gpa_known)
			continue;
		if (!strcmp(b->name, "mach-virt.ram"))
			place(b, 0x40000000, true, "guest RAM", "machine virt");
		else if (!strcmp(b->name, "virt.flash0"))
			place(b, 0, false, "firmware flash", "machine virt");
		else if (!strcmp(b->name, "virt.flash1"))
			place(b, 0x04000000, false, "firmware flash",
			      "machine virt");
		else if (!strcmp(b->name, "virt.secure-ram"))
			b->role = "secure RAM";
		else if (!strncmp(b->name, "/rom@", 5))
			b->role = "fw_cfg blob";
		else if (strlen(b->name) > 4 &&
			 !strcmp(b->name + strlen(b->name) - 4, ".rom"))
			b->role = "option ROM";
	}
	/* NUMA backends, back to back from 0x40000000 in node order */
	if (have_main)
		return;
	for (long n = 0;; n++) {
		struct migstream_ramblock *hit = NULL;

		for (size_t i = 0; i < mi->nr_blocks; i++)
			if (numa_node(mi->blocks[i].name) == n)
				hit = &mi->blocks[i];
		if (!hit)
			break;
		if (!hit->gpa_known) {
			place(hit, next, true, "guest RAM",
			      "machine virt NUMA layout (guessed)");
			ms_warn(p, "RAMBlock '%s' placed at GPA 0x%llx by the usual NUMA layout: check it, or give --ram-base %s=GPA",
				hit->name, (unsigned long long)next,
				hit->name);
		}
		next += hit->used_length;
	}
}

static int ms_map_blocks(struct ms_parser *p, uint64_t rec)
{
	struct migstream_info *mi = p->mi;
	const struct snap_open_opts *o = p->opts;

	for (size_t i = 0; o && i < o->nr_ram_bases; i++) {
		const struct snap_ram_base *rb = &o->ram_bases[i];
		struct migstream_ramblock *b = NULL;

		if (!rb->name) {
			/* "any block": the first of the list, the main RAM */
			if (mi->nr_blocks)
				b = &mi->blocks[0];
		} else {
			for (size_t k = 0; k < mi->nr_blocks; k++)
				if (!strcmp(mi->blocks[k].name, rb->name))
					b = &mi->blocks[k];
		}
		if (!b) {
			char names[256] = "";
			size_t n = 0;

			for (size_t k = 0; k < mi->nr_blocks && n < sizeof(names); k++)
				n += (size_t)snprintf(names + n, sizeof(names) - n,
						      "%s'%s'", k ? ", " : "",
						      mi->blocks[k].name);
			return ms_bad(p, rec,
				      "--ram-base %s: no RAMBlock of that name in the stream (blocks: %s)",
				      rb->name ? rb->name : "(any)", names);
		}
		place(b, rb->gpa, true, "guest RAM", "--ram-base");
	}
	if (machine_is_virt(mi->machine)) {
		ms_map_virt(p);
	} else if (migstream_find_block(mi, "mach-virt.ram")) {
		/* only the virt board names its RAM so (hw/arm/virt.c): a
		 * virt machine under a type name this reader does not know */
		ms_warn(p, "machine '%s' is not a known type, but RAMBlock 'mach-virt.ram' is the virt board's: placed as on machine virt",
			mi->machine);
		ms_map_virt(p);
	}
	for (size_t i = 0; i < mi->nr_blocks; i++) {
		struct migstream_ramblock *b = &mi->blocks[i];

		if (!b->role) {
			b->role = "unknown";
			if (b->used_length)
				ms_warn(p, "RAMBlock '%s' (0x%llx bytes) has no known guest-physical address: give --ram-base %s=GPA to read it",
					b->name,
					(unsigned long long)b->used_length,
					b->name);
		}
	}
	return 0;
}

/* ------------------------------------------------------------ index */

static int ms_index_over(struct ms_parser *p, struct ms_block *b,
			 uint64_t rec, uint64_t cost)
{
	uint64_t budget = p->rd.size + MS_INDEX_SLACK;

	if (cost <= budget && p->index_bytes <= budget - cost) {
		p->index_bytes += cost;
		return 0;
	}
	return ms_bad(p, rec,
		      "RAMBlock '%s': the page index would grow over the limit of %llu bytes (the file's size plus %u MiB): pages too scattered for a stream of this size",
		      b->info->name, (unsigned long long)budget,
		      MS_INDEX_SLACK >> 20);
}

/* The index of block b (from its first page record on), and its leaf for
 * page i in b->leaf. Index memory is checked before it is allocated: at
 * most the file's size plus MS_INDEX_SLACK in all. */
static int ms_block_leaf(struct ms_parser *p, struct ms_block *b, uint64_t i,
			 uint64_t rec)
{
	struct migstream_ramblock *bi = b->info;
	int rc;

	if (!b->index) {
		rc = ms_index_over(p, b, rec,
				   gmem_pindex_base_bytes(b->nr_pages));
		if (rc < 0)
			return rc;
		if (gmem_pindex_new(&b->index, b->nr_pages) < 0)
			return ms_nomem(p);
		b->own_index = true;
		if (bi->mapped) {
			/* gmem owns it from here, also on failure */
			b->own_index = false;
			rc = gmem_add_index(p->mem, bi->name, bi->gpa,
					    bi->used_length, p->page_shift,
					    b->index, p->err);
			if (rc < 0) {
				b->index = NULL;
				p->err->offset = bi->decl_offset;
				return rc;
			}
		}
	}
	rc = ms_index_over(p, b, rec, gmem_pindex_leaf_cost(b->index, i));
	if (rc < 0)
		return rc;
	b->leaf = gmem_pindex_leaf(b->index, i);
	if (!b->leaf)
		return ms_nomem(p);
	b->leaf_first = i & ~(GMEM_PINDEX_LEAF - 1);
	return 0;
}

/* mapped-ram: page i is at pages_offset + i * P when its bitmap bit is
 * set, zero otherwise (spec §11). */
static int ms_mapped_ram_index(struct ms_parser *p, struct ms_block *b)
{
	struct migstream_ramblock *bi = b->info;
	uint64_t nbytes = (b->nr_pages + 7) / 8, done = 0, data = 0;
	int rc;

	while (done < nbytes) {
		size_t n = nbytes - done > MS_RD_MAX_GET ? MS_RD_MAX_GET :
							  (size_t)(nbytes - done);
		const uint8_t *bm = ms_get(&p->rd, bi->bitmap_offset + done, n);

		if (!bm)
			return ms_trunc(p, bi->bitmap_offset + done, n,
					"a mapped-ram bitmap");
		for (size_t k = 0; k < n; k++) {
			uint64_t first = (done + k) * 8;

			for (unsigned bit = 0; bit < 8; bit++) {
				uint64_t i = first + bit;
				bool set = (bm[k] >> bit) & 1;

				if (i >= b->nr_pages)
					break;
				data += set;
				if (!bi->mapped)
					continue;
				if (!b->leaf || i - b->leaf_first >=
						GMEM_PINDEX_LEAF) {
					rc = ms_block_leaf(p, b, i,
							   bi->decl_offset);
					if (rc < 0)
						return rc;
				}
				b->leaf[i - b->leaf_first] = set ?
					bi->pages_offset + i * p->page_size :
					GMEM_PAGE_ZERO;
			}
		}
		done += n;
	}
	bi->pages_data = data;
	bi->pages_zero = b->nr_pages - data;
	return 0;
}

/* ------------------------------------------------------------ MEM_SIZE */

static int ms_mapped_ram_header(struct ms_parser *p, const char *name,
				uint64_t at, uint64_t used_length,
				struct migstream_ramblock *b, uint64_t *next)
{
	const uint8_t *h = ms_get(&p->rd, at, 28);
	uint64_t ps, bmo, pgo, bmsize, nr_pages, end;
	uint32_t ver;

	if (!h)
		return ms_trunc(p, at, 28, "a mapped-ram block header");
	ver = its_be32(h);
	ps = its_be64(h + 4);
	bmo = its_be64(h + 12);
	pgo = its_be64(h + 20);
	if (ver != 1)
		return ms_bad(p, at,
			      "mapped-ram header for '%s' invalid: version %u (1 expected)",
			      name, ver);
	if (ps != p->page_size)
		return ms_bad(p, at + 4,
			      "mapped-ram header for '%s' invalid: page size %llu, the stream's is %u",
			      name, (unsigned long long)ps, p->page_size);
	nr_pages = used_length >> p->page_shift;
	bmsize = (nr_pages + 63) / 64 * 8;
	if (!ms_have(&p->rd, bmo, bmsize))
		return ms_bad(p, at + 12,
			      "mapped-ram header for '%s' invalid: bitmap at offset %llu (%llu bytes) is past the end of the file",
			      name, (unsigned long long)bmo,
			      (unsigned long long)bmsize);
	if (pgo & (p->page_size - 1))
		return ms_bad(p, at + 20,
			      "mapped-ram header for '%s' invalid: pages_offset 0x%llx is not page-aligned",
			      name, (unsigned long long)pgo);
	if (its_add_overflows(pgo, used_length, &end) || end > p->rd.size)
		return ms_bad(p, at + 20,
			      "mapped-ram header for '%s' invalid: page area at 0x%llx (0x%llx bytes) ends past the end of the file",
			      name, (unsigned long long)pgo,
			      (unsigned long long)used_length);
	if (end < at + 28)
		return ms_bad(p, at + 20,
			      "mapped-ram header for '%s' invalid: the stream would continue at offset %llu, before this header",
			      name, (unsigned long long)end);
	b->mapped_ram = true;
	b->bitmap_offset = bmo;
	b->pages_offset = pgo;
	*next = end;
	return 0;
}

static int ms_mem_size(struct ms_parser *p, uint64_t rec, uint64_t total,
		       uint64_t *pos)
{
	struct migstream_info *mi = p->mi;
	uint64_t q = *pos, sum = 0;
	int rc;

	if (p->have_block_list)
		return ms_bad(p, rec, "a second RAM block list (MEM_SIZE record)");
	mi->ram_total = total;
	while (sum < total) {
		struct migstream_ramblock tmp;
		const uint8_t *s, *b;
		uint64_t used, decl = q;
		size_t len;
		char name[256];

		rc = ms_name(p, q, &s, &len, "a RAMBlock name in the block list");
		if (rc < 0)
			return rc;
		memcpy(name, s, len);
		name[len] = '\0';
		b = ms_get(&p->rd, q + 1 + len, 8);
		if (!b)
			return ms_trunc(p, q + 1 + len, 8,
					"a RAMBlock length in the block list");
		used = its_be64(b);
		rc = ms_block_add(p, decl, name, used);
		if (rc < 0)
			return rc;
		q += 1 + len + 8;
		if (used > total - sum)
			return ms_bad(p, decl,
				      "RAM block list inconsistent: total 0x%llx, listed 0x%llx with RAMBlock '%s' (0x%llx bytes)",
				      (unsigned long long)total,
				      (unsigned long long)sum,
				      name, (unsigned long long)used);
		if (used & (p->page_size - 1))
			return ms_bad(p, decl,
				      "RAMBlock '%s' length 0x%llx is not a multiple of the %u-byte page",
				      name, (unsigned long long)used,
				      p->page_size);
		if (used > MS_MAX_RAMBLOCK_BYTES)
			return ms_bad(p, decl,
				      "RAMBlock '%s' length 0x%llx over the limit of 0x%llx (the 52-bit physical address space)",
				      name, (unsigned long long)used,
				      (unsigned long long)MS_MAX_RAMBLOCK_BYTES);
		sum += used;
		memset(&tmp, 0, sizeof(tmp));
		if (p->x_ignore_shared) {
			b = ms_get(&p->rd, q, 8);
			if (!b)
				return ms_trunc(p, q, 8, "a RAMBlock mr_addr");
			tmp.has_mr_addr = true;
			tmp.mr_addr = its_be64(b);
			q += 8;
		}
		if (mi->mapped_ram) {
			rc = ms_mapped_ram_header(p, name, q, used, &tmp, &q);
			if (rc < 0)
				return rc;
		}
		{
			struct migstream_ramblock *bl =
				&mi->blocks[mi->nr_blocks - 1];

			bl->has_mr_addr = tmp.has_mr_addr;
			bl->mr_addr = tmp.mr_addr;
			bl->mapped_ram = tmp.mapped_ram;
			bl->bitmap_offset = tmp.bitmap_offset;
			bl->pages_offset = tmp.pages_offset;
		}
	}
	p->have_block_list = true;
	p->blocks = calloc(mi->nr_blocks ? mi->nr_blocks : 1,
			   sizeof(*p->blocks));
	p->by_name = calloc(mi->nr_blocks ? mi->nr_blocks : 1,
			    sizeof(*p->by_name));
	if (!p->blocks || !p->by_name)
		return ms_nomem(p);
	for (size_t i = 0; i < mi->nr_blocks; i++) {
		p->blocks[i].info = &mi->blocks[i];
		p->blocks[i].nr_pages = mi->blocks[i].used_length >>
					p->page_shift;
		p->by_name[i] = &mi->blocks[i];
	}
	qsort(p->by_name, mi->nr_blocks, sizeof(*p->by_name), by_name_cmp);
	rc = ms_map_blocks(p, rec);
	if (rc < 0)
		return rc;
	if (mi->mapped_ram)
		for (size_t i = 0; i < mi->nr_blocks; i++) {
			rc = ms_mapped_ram_index(p, &p->blocks[i]);
			if (rc < 0)
				return rc;
		}
	*pos = q;
	return 0;
}

/* ------------------------------------------------------------ records */

static int ms_ram_other(struct ms_parser *p, uint64_t rec, uint64_t flags)
{
	switch (flags & ~(uint64_t)RAM_SAVE_FLAG_CONTINUE) {
	case RAM_SAVE_FLAG_XBZRLE:
		return ms_unsup(p, rec,
				"XBZRLE-encoded page (capability xbzrle)");
	case RAM_SAVE_FLAG_COMPRESS_PAGE:
		return ms_unsup(p, rec,
				"legacy compressed page (capability compress)");
	}
	switch (flags) {
	case RAM_SAVE_FLAG_HOOK:
		return ms_unsup(p, rec, "RDMA hook record in the RAM section");
	case RAM_SAVE_FLAG_MULTIFD_FLUSH:
		return ms_unsup(p, rec,
				"MULTIFD_FLUSH record: a multifd stream, whose pages travel on other channels");
	case RAM_SAVE_FLAG_FULL:
		return ms_unsup(p, rec, "obsolete RAM_SAVE_FLAG_FULL record");
	}
	return ms_bad(p, rec, "unsupported RAM record flags 0x%03llx",
		      (unsigned long long)flags);
}

int ms_ram_records(struct ms_parser *p, uint64_t *pos)
{
	struct ms_rd *rd = &p->rd;
	struct ms_block *cur = p->cur;
	const uint64_t pmask = p->page_size - 1, psz = p->page_size;
	const unsigned shift = p->page_shift;
	const bool mapped_ram = p->mi->mapped_ram;
	uint64_t q = *pos;
	int rc;

	for (;;) {
		const uint8_t *b = ms_get(rd, q, 8);
		uint64_t h, flags, off, rec = q, e, i;
		uint64_t *slot;

		if (!b) {
			p->cur = cur;
			return ms_trunc(p, q, 8, "a RAM record header");
		}
		if (q >= rd->drop_next)
			ms_rd_drop(rd, q);
		h = its_be64(b);
		flags = h & pmask;
		off = h & ~pmask;
		q += 8;
		switch (flags) {
		case RAM_SAVE_FLAG_ZERO | RAM_SAVE_FLAG_CONTINUE:
		case RAM_SAVE_FLAG_PAGE | RAM_SAVE_FLAG_CONTINUE:
			if (!cur)
				return ms_bad(p, rec,
					      "RAM page record with CONTINUE but no current block");
			break;
		case RAM_SAVE_FLAG_ZERO:
		case RAM_SAVE_FLAG_PAGE: {
			const uint8_t *s;
			size_t len;

			rc = ms_name(p, q, &s, &len,
				     "the RAMBlock name of a page record");
			if (rc < 0)
				return rc;
			cur = p->have_block_list ? ms_block_lookup(p, s, len) :
						   NULL;
			if (!cur) {
				char name[256];

				memcpy(name, s, len);
				name[len] = '\0';
				return ms_bad(p, rec,
					      "page for unknown RAMBlock '%s'",
					      name);
			}
			q += 1 + len;
			break;
		}
		case RAM_SAVE_FLAG_EOS:
			p->cur = cur;
			*pos = q;
			return 0;
		case RAM_SAVE_FLAG_MEM_SIZE:
			rc = ms_mem_size(p, rec, off, &q);
			if (rc < 0)
				return rc;
			continue;
		default:
			return ms_ram_other(p, rec, flags);
		}
		if (mapped_ram)
			return ms_bad(p, rec,
				      "page record in a mapped-ram stream (pages live in the block's page area)");
		if (off >= cur->info->used_length)
			return ms_bad(p, rec,
				      "page offset 0x%llx beyond RAMBlock '%s' (0x%llx bytes)",
				      (unsigned long long)off, cur->info->name,
				      (unsigned long long)cur->info->used_length);
		i = off >> shift;
		if (!cur->leaf || i - cur->leaf_first >= GMEM_PINDEX_LEAF) {
			rc = ms_block_leaf(p, cur, i, rec);
			if (rc < 0)
				return rc;
		}
		if (flags & RAM_SAVE_FLAG_ZERO) {
			b = ms_get(rd, q, 1);
			if (!b)
				return ms_trunc(p, q, 1,
						"the fill byte of a zero-page record");
			e = GMEM_PAGE_ZERO | b[0];
			if (b[0] && !p->zero_fill_nonzero++)
				p->zero_fill_first = rec;
			q += 1;
			cur->info->records_zero++;
		} else {
			if (!ms_have(rd, q, psz))
				return ms_trunc(p, q, psz,
						"the data of a page record");
			e = q;
			q += psz;
			cur->info->records_data++;
		}
		slot = &cur->leaf[i - cur->leaf_first];
		if (*slot != GMEM_PAGE_ABSENT)
			e |= MS_PAGE_RESENT;
		*slot = e;
	}
}

/* ------------------------------------------------------------ finish */

int ms_ram_finish(struct ms_parser *p)
{
	struct migstream_info *mi = p->mi;
	bool any_mapped = false;
	int rc;

	if (!p->ram_started)
		ms_warn(p, "the stream has no 'ram' section: no guest memory");
	else if (!p->have_block_list)
		ms_warn(p, "the 'ram' section has no block list: no guest memory");
	for (size_t i = 0; p->blocks && i < mi->nr_blocks; i++) {
		struct ms_block *b = &p->blocks[i];
		struct migstream_ramblock *bi = b->info;

		if (b->index) {
			uint64_t d = 0, z = 0, r = 0, first = 0, *leaf;

			/* leaves never allocated hold absent pages only */
			while ((leaf = gmem_pindex_next_leaf(b->index, first,
							     &first))) {
				for (uint64_t k = 0; k < GMEM_PINDEX_LEAF; k++) {
					uint64_t e = leaf[k];

					if (e & MS_PAGE_RESENT) {
						r++;
						e &= ~MS_PAGE_RESENT;
						leaf[k] = e;
					}
					if (e == GMEM_PAGE_ABSENT)
						continue;
					if (GMEM_PAGE_IS_ZERO(e))
						z++;
					else
						d++;
				}
				first += GMEM_PINDEX_LEAF;
			}
			bi->pages_data = d;
			bi->pages_zero = z;
			bi->pages_absent = b->nr_pages - d - z;
			bi->pages_resent = r;
		} else if (!bi->mapped_ram) {
			bi->pages_absent = b->nr_pages;
			/* guest RAM the stream never sent: ABSENT, no index */
			if (bi->mapped && bi->used_length) {
				rc = gmem_add_extent(p->mem, bi->name, bi->gpa,
						     bi->used_length, 0, 0,
						     p->err);
				if (rc < 0)
					return rc;
			}
		}
		if (bi->mapped)
			any_mapped = true;
		mi->ram_records_data += bi->records_data;
		mi->ram_records_zero += bi->records_zero;
		if (bi->mapped && bi->pages_absent)
			ms_warn(p, "RAMBlock '%s': %llu of %llu pages never sent (absent)",
				bi->name,
				(unsigned long long)bi->pages_absent,
				(unsigned long long)b->nr_pages);
	}
	if (p->have_block_list && !any_mapped) {
		const struct migstream_ramblock *big = NULL;

		for (size_t i = 0; i < mi->nr_blocks; i++) {
			const struct migstream_ramblock *bi = &mi->blocks[i];

			if (bi->pages_data + bi->pages_zero &&
			    (!big || bi->used_length > big->used_length))
				big = bi;
		}
		/* pages in the file, and none of them at a known GPA: every
		 * table read would fail, and the checker would blame the
		 * tables for what is the reader's ignorance */
		if (big)
			return ms_bad(p, big->decl_offset,
				      "guest RAM placement unknown: no RAMBlock has a known guest-physical address for machine '%s' (the largest, '%s', holds 0x%llx bytes): give --ram-base %s=GPA",
				      mi->machine, big->name,
				      (unsigned long long)big->used_length,
				      big->name);
		ms_warn(p, "no RAMBlock has a known guest-physical address (machine '%s'): give --ram-base NAME=GPA",
			mi->machine);
	}
	if (p->zero_fill_nonzero)
		ms_warn(p, "offset %llu: %llu zero-page records with a non-zero fill byte (QEMU 10 refuses to load them)",
			(unsigned long long)p->zero_fill_first,
			(unsigned long long)p->zero_fill_nonzero);
	return 0;
}

void ms_ram_release(struct ms_parser *p)
{
	for (size_t i = 0; p->blocks && i < p->mi->nr_blocks; i++)
		if (p->blocks[i].own_index)
			gmem_pindex_free(p->blocks[i].index);
	free(p->blocks);
	free(p->by_name);
	p->blocks = NULL;
	p->by_name = NULL;
}
