/*
 * its-fixture: the synthetic guest RAM (sparse, 4 KiB pages allocated on the
 * first write), its holes / absent ranges and its "fill" background (pattern
 * bytes generated on the fly, so that a 4 GiB guest full of data costs no
 * memory: only pages that are written are stored).
 */
#include "fixture.h"

#include <stdlib.h>
#include <string.h>

static const struct fx_region *find_region(const struct fx_ram *ram, uint64_t gpa)
{
	for (size_t i = 0; i < ram->nregions; i++) {
		const struct fx_region *r = &ram->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

/* does [a, a+alen) intersect [b, b+blen)? (lengths > 0, no wrap) */
static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static const struct fx_range *hit(const struct fx_range *v, size_t n,
				  uint64_t gpa, uint64_t len)
{
	for (size_t i = 0; i < n; i++)
		if (overlaps(gpa, len, v[i].gpa, v[i].size))
			return &v[i];
	return NULL;
}

bool fx_ram_backed(const struct fx_ram *ram, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return true;
	if (gpa + len < gpa)
		return false;
	const struct fx_region *r = find_region(ram, gpa);
	if (!r || gpa + len - r->gpa > r->size)
		return false;
	return !hit(ram->holes, ram->nholes, gpa, len) &&
	       !hit(ram->absent, ram->nabsent, gpa, len);
}

char *fx_ram_why_not(const struct fx_ram *ram, uint64_t gpa, uint64_t len)
{
	const struct fx_region *r = find_region(ram, gpa);
	const struct fx_range *h;

	if (gpa + len < gpa || !r || gpa + len - r->gpa > r->size)
		return fx_printf("GPA 0x%llx+0x%llx is outside RAM",
				 (unsigned long long)gpa, (unsigned long long)len);
	if ((h = hit(ram->holes, ram->nholes, gpa, len)))
		return fx_printf("GPA 0x%llx+0x%llx is in hole 0x%llx+0x%llx",
				 (unsigned long long)gpa, (unsigned long long)len,
				 (unsigned long long)h->gpa, (unsigned long long)h->size);
	if ((h = hit(ram->absent, ram->nabsent, gpa, len)))
		return fx_printf("GPA 0x%llx+0x%llx is in absent range 0x%llx+0x%llx",
				 (unsigned long long)gpa, (unsigned long long)len,
				 (unsigned long long)h->gpa, (unsigned long long)h->size);
	return fx_printf("GPA 0x%llx+0x%llx is RAM", (unsigned long long)gpa,
			 (unsigned long long)len);
}

/* ------------------------------------------------------------ fill */

/* One 64-bit word of a fill pattern, for the 8-aligned word at GPA w. */
static uint64_t fill_word(const struct fx_fill *f, uint64_t w)
{
	if (f->pattern == FX_FILL_COUNTER)
		return w;
	/* splitmix64's finaliser over (seed, word index): deterministic,
	 * independent per word, non-zero with overwhelming probability */
	uint64_t z = f->seed ^ (((w >> 3) + 1) * 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void store_le64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, 8);
#else
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
#endif
}

bool fx_ram_filled(const struct fx_ram *ram, uint64_t gpa, uint64_t len)
{
	for (size_t i = 0; i < ram->nfills; i++)
		if (overlaps(gpa, len, ram->fills[i].gpa, ram->fills[i].size))
			return true;
	return false;
}

void fx_fill_apply(const struct fx_ram *ram, uint64_t gpa, uint8_t *buf, uint64_t len)
{
	for (size_t i = 0; i < ram->nfills; i++) {
		const struct fx_fill *f = &ram->fills[i];
		uint64_t a = gpa > f->gpa ? gpa : f->gpa;
		uint64_t b = gpa + len < f->gpa + f->size ? gpa + len : f->gpa + f->size;
		uint64_t x = a;
		if (a >= b)
			continue;
		for (; x < b && (x & 7); x++)
			buf[x - gpa] = (uint8_t)(fill_word(f, x & ~7ull) >> (8 * (x & 7)));
		for (; b - x >= 8; x += 8)
			store_le64(buf + (x - gpa), fill_word(f, x));
		for (; x < b; x++)
			buf[x - gpa] = (uint8_t)(fill_word(f, x & ~7ull) >> (8 * (x & 7)));
	}
}

/* ------------------------------------------------------------ pages */

static uint8_t *page_for_write(struct fx_ram *ram, uint64_t gpa)
{
	struct fx_region *r = (struct fx_region *)find_region(ram, gpa);
	if (!r)
		fx_fatal("internal error: write outside RAM at 0x%llx",
			 (unsigned long long)gpa);
	size_t pi = (gpa - r->gpa) / FX_PAGE_SIZE;
	if (!r->pages[pi]) {
		uint64_t pg = r->gpa + (uint64_t)pi * FX_PAGE_SIZE;
		uint64_t n = r->gpa + r->size - pg < FX_PAGE_SIZE ? r->gpa + r->size - pg
								    : FX_PAGE_SIZE;
		r->pages[pi] = fx_calloc(1, FX_PAGE_SIZE);
		/* a written page keeps its background */
		fx_fill_apply(ram, pg, r->pages[pi], n);
	}
	return r->pages[pi];
}

/* Walk [gpa, gpa+len) in chunks that stay inside one page of one region. */
static uint64_t chunk_len(const struct fx_ram *ram, uint64_t gpa, uint64_t len)
{
	const struct fx_region *r = find_region(ram, gpa);
	uint64_t off = (gpa - r->gpa) % FX_PAGE_SIZE;
	uint64_t n = FX_PAGE_SIZE - off;
	return n < len ? n : len;
}

void fx_ram_write(struct fx_ram *ram, uint64_t gpa, const void *buf, uint64_t len)
{
	const uint8_t *src = buf;
	while (len) {
		uint64_t n = chunk_len(ram, gpa, len);
		const struct fx_region *r = find_region(ram, gpa);
		uint8_t *p = page_for_write(ram, gpa);
		memcpy(p + (gpa - r->gpa) % FX_PAGE_SIZE, src, n);
		gpa += n;
		src += n;
		len -= n;
	}
}

void fx_ram_fill(struct fx_ram *ram, uint64_t gpa, uint8_t byte, uint64_t len)
{
	while (len) {
		uint64_t n = chunk_len(ram, gpa, len);
		const struct fx_region *r = find_region(ram, gpa);
		size_t pi = (gpa - r->gpa) / FX_PAGE_SIZE;
		/* filling an untouched page with zeros needs no page, unless
		 * the page has a "fill" background */
		if (byte != 0 || r->pages[pi] || fx_ram_filled(ram, gpa, n)) {
			uint8_t *p = page_for_write(ram, gpa);
			memset(p + (gpa - r->gpa) % FX_PAGE_SIZE, byte, n);
		}
		gpa += n;
		len -= n;
	}
}

void fx_ram_read(const struct fx_ram *ram, uint64_t gpa, void *buf, uint64_t len)
{
	uint8_t *dst = buf;
	while (len) {
		uint64_t n = chunk_len(ram, gpa, len);
		const struct fx_region *r = find_region(ram, gpa);
		const uint8_t *p = r->pages[(gpa - r->gpa) / FX_PAGE_SIZE];
		if (p) {
			memcpy(dst, p + (gpa - r->gpa) % FX_PAGE_SIZE, n);
		} else {
			memset(dst, 0, n);
			fx_fill_apply(ram, gpa, dst, n);
		}
		gpa += n;
		dst += n;
		len -= n;
	}
}

void fx_ram_free(struct fx_ram *ram)
{
	for (size_t i = 0; i < ram->nregions; i++) {
		struct fx_region *r = &ram->regions[i];
		for (size_t p = 0; p < r->npages; p++)
			free(r->pages[p]);
		free(r->pages);
		free(r->name);
	}
	free(ram->regions);
	free(ram->holes);
	free(ram->absent);
	free(ram->fills);
	memset(ram, 0, sizeof(*ram));
}
