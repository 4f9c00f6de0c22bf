#include "its/walk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its/bits.h"
#include "its/regs.h"
#include "its/search.h"
#include "its/vec.h"

#define WALK_CHUNK 65536

struct walker {
	const struct gmem *g;
	struct its_image_its *its;
	const struct its_layout *L;
	struct its_err *err;
	uint8_t *buf;			/* WALK_CHUNK bytes */
	struct its_dev_rec *cur_dev;	/* ITT being walked */
	uint32_t id_base;		/* first DeviceID of the L2 page */
	unsigned dev_flags;		/* flags for the DTEs being scanned */
	bool quiet;			/* unreadable ranges are no holes (KVM
					 * never reads them) */
	uint64_t stored;		/* entries and holes of this ITS */
	uint64_t itt_slots;		/* ITT slots read for this ITS */
	int push_rc;			/* why the last push failed */
};

typedef int (*entry_fn)(struct walker *w, uint64_t idx, uint64_t gpa,
			const uint8_t *raw);

static const char *const flag_names[] = {
	"next_out_of_range", "next_lands_invalid", "after_terminator",
	"size_clamped", "itt_unreadable", "l2_unreadable", "l2_not_walked",
	"next_crosses_l2_page", "in_invalid_l1", "itt_not_walked",
	"skipped_by_next",
};

const char *its_flag_name(unsigned bit)
{
	return bit < sizeof(flag_names) / sizeof(flag_names[0]) ?
	       flag_names[bit] : "?";
}

const char *its_table_name(enum its_table_kind t)
{
	switch (t) {
	case ITS_TABLE_COLLECTIONS: return "collection_table";
	case ITS_TABLE_DEVICES: return "device_table";
	case ITS_TABLE_L2: return "l2_page";
	case ITS_TABLE_ITT: return "itt";
	}
	return "?";
}

/* Grow *arr (of *nr elements of size sz) by one zeroed element; at most
 * ITS_WALK_MAX_ENTRIES in all for one ITS. */
static void *push(void *arr_p, size_t *nr, size_t sz, struct walker *w)
{
	void *p;

	if (w->stored >= ITS_WALK_MAX_ENTRIES) {
		w->push_rc = its_err_set(w->err, -E2BIG, gmem_path(w->g),
					 ITS_ERR_NO_OFFSET,
					 "non-zero table entries and unreadable ranges over the limit of %u (a KVM ITS holds at most 65536 devices and 65536 LPIs)",
					 ITS_WALK_MAX_ENTRIES);
		return NULL;
	}
	p = its_vec_push(arr_p, nr, sz);
	if (!p)
		w->push_rc = its_err_set(w->err, -ENOMEM, gmem_path(w->g),
					 ITS_ERR_NO_OFFSET, "out of memory");
	else
		w->stored++;
	return p;
}

static int add_hole(struct walker *w, enum its_table_kind t, uint32_t id,
		    uint64_t gpa, uint64_t len, enum gmem_kind kind)
{
	struct its_image_its *its = w->its;
	struct its_hole *h;

	if (w->quiet)
		return 0;
	if (its->nr_holes) {
		h = &its->holes[its->nr_holes - 1];
		if (h->table == t && h->id == id && h->kind == kind &&
		    h->gpa + h->len == gpa) {
			h->len += len;
			return 0;
		}
	}
	h = push(&its->holes, &its->nr_holes, sizeof(*h), w);
	if (!h)
		return w->push_rc;
	h->table = t;
	h->id = id;
	h->gpa = gpa;
	h->len = len;
	h->kind = kind;
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i = 0;

	/* a word at a time: most of most tables is zero */
	for (; i + 8 <= n; i += 8)
		if (its_le64(p + i))
			return false;
	for (; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Visit every non-zero entry among n entries of esz bytes at base. Ranges
 * the snapshot cannot give become holes and set *unreadable. */
static int scan(struct walker *w, enum its_table_kind t, uint32_t id,
		uint64_t base, uint64_t n, unsigned esz, entry_fn fn,
		bool *unreadable)
{
	uint64_t i = 0, end;

	/* entries past the top of the address space do not exist */
	if (its_add_overflows(base, n * esz, &end))
		n = (UINT64_MAX - base) / esz;
	while (i < n) {
		uint64_t gpa = base + i * esz, run, cnt;
		enum gmem_kind k = gmem_span(w->g, gpa, (n - i) * esz, &run);
		int rc;

		if (k == GMEM_NOT_RAM || k == GMEM_ABSENT) {
			/* every entry that starts in the run is unreadable */
			cnt = (run + esz - 1) / esz;
			if (cnt > n - i)
				cnt = n - i;
			rc = add_hole(w, t, id, gpa, cnt * esz, k);
			if (rc < 0)
				return rc;
			*unreadable = true;
			i += cnt;
			continue;
		}
		cnt = run / esz;
		if (cnt == 0) {
			/* an entry straddling a page or region boundary */
			uint8_t e[ITS_MAX_ENTRY_SIZE];

			rc = gmem_read(w->g, gpa, e, esz, 0, w->err);
			if (rc == -EFAULT || rc == -ENODATA) {
				rc = add_hole(w, t, id, gpa, esz,
					      rc == -EFAULT ? GMEM_NOT_RAM :
							      GMEM_ABSENT);
				if (rc < 0)
					return rc;
				*unreadable = true;
			} else if (rc < 0) {
				return rc;
			} else if (!all_zero(e, esz)) {
				rc = fn(w, i, gpa, e);
				if (rc < 0)
					return rc;
			}
			i++;
			continue;
		}
		if (k == GMEM_ZERO && !gmem_overlay_hits(w->g, gpa, cnt * esz)) {
			uint8_t e[ITS_MAX_ENTRY_SIZE];

			/* zero pages: skip unless the fill byte is not 0 */
			rc = gmem_read(w->g, gpa, e, esz, 0, w->err);
			if (rc < 0)
				return rc;
			if (all_zero(e, esz)) {
				i += cnt;
				continue;
			}
		}
		while (cnt) {
			uint64_t c = cnt < WALK_CHUNK / esz ? cnt : WALK_CHUNK / esz;
			uint64_t ext = 0;
			bool hole = false;

			/* a sparse file's holes read as zeros: skip them, and
			 * read only up to the next one (a maximal ITT of a
			 * sparse core is a page of data and 508 KiB of hole) */
			if (!gmem_overlay_hits(w->g, base + i * esz, cnt * esz))
				ext = gmem_file_run(w->g, base + i * esz,
						    cnt * esz, &hole);
			if (hole && ext >= esz) {
				i += ext / esz;
				cnt -= ext / esz;
				continue;
			}
			if (!hole && ext && (ext + esz - 1) / esz < c)
				c = (ext + esz - 1) / esz;
			rc = gmem_read(w->g, base + i * esz, w->buf,
				       (size_t)(c * esz), 0, w->err);
			if (rc < 0)
				return rc;
			if (all_zero(w->buf, (size_t)(c * esz))) {
				i += c;
				cnt -= c;
				continue;
			}
			for (uint64_t j = 0; j < c; j++) {
				const uint8_t *e = w->buf + j * esz;

				if (all_zero(e, esz))
					continue;
				rc = fn(w, i + j, base + (i + j) * esz, e);
				if (rc < 0)
					return rc;
			}
			i += c;
			cnt -= c;
		}
	}
	return 0;
}

static int cte_fn(struct walker *w, uint64_t idx, uint64_t gpa,
		  const uint8_t *raw)
{
	struct its_cte_rec *r = push(&w->its->ctes, &w->its->nr_ctes,
				     sizeof(*r), w);

	if (!r)
		return w->push_rc;
	r->slot = (uint32_t)idx;
	r->gpa = gpa;
	w->L->decode_cte(raw, &r->e);
	if (w->L->collections_indexed)
		r->e.icid = (uint32_t)idx;
	return 0;
}

static int l1_fn(struct walker *w, uint64_t idx, uint64_t gpa,
		 const uint8_t *raw)
{
	struct its_l1_rec *r = push(&w->its->l1, &w->its->nr_l1, sizeof(*r), w);

	if (!r)
		return w->push_rc;
	r->index = (uint32_t)idx;
	r->gpa = gpa;
	w->L->decode_l1e(raw, &r->e);
	return 0;
}

static int dte_fn(struct walker *w, uint64_t idx, uint64_t gpa,
		  const uint8_t *raw)
{
	struct its_dev_rec *r = push(&w->its->devs, &w->its->nr_devs,
				     sizeof(*r), w);

	if (!r)
		return w->push_rc;
	r->device_id = w->id_base + (uint32_t)idx;
	r->gpa = gpa;
	r->flags = w->dev_flags;
	w->L->decode_dte(raw, &r->e);
	return 0;
}

static int ite_fn(struct walker *w, uint64_t idx, uint64_t gpa,
		  const uint8_t *raw)
{
	struct its_dev_rec *d = w->cur_dev;
	struct its_ite_rec *r = push(&d->events, &d->nr_events, sizeof(*r), w);

	if (!r)
		return w->push_rc;
	r->event_id = (uint32_t)idx;
	r->gpa = gpa;
	w->L->decode_ite(raw, &r->e);
	return 0;
}

/* Table geometry from a GITS_BASER, as the layout's implementation reads it. */
static void table_info(const struct its_layout *L, uint64_t baser, bool present,
		       unsigned esz, struct its_table_info *t)
{
	uint64_t page = L->force_64k ? 65536 : its_baser_page_bytes(baser);

	memset(t, 0, sizeof(*t));
	t->valid = present && (baser & GITS_BASER_VALID);
	if (!t->valid)
		return;
	t->gpa = its_baser_addr(baser, L->force_64k);
	t->bytes = (uint64_t)GITS_BASER_NR_PAGES(baser) * page;
	t->indirect = (baser & GITS_BASER_INDIRECT) != 0;
	t->slots = t->bytes / (t->indirect ? GITS_LVL1_ENTRY_SIZE : esz);
	t->l2_bytes = L->l2_page_bytes ? L->l2_page_bytes : page;
	t->ids = t->indirect ? t->slots * (t->l2_bytes / esz) : t->slots;
}

static int walk_collections(struct walker *w)
{
	struct its_image_its *its = w->its;
	bool unreadable = false;
	uint32_t term = 0;
	int rc;

	/* KVM never reads the collection table as two-level */
	if (w->L == &its_layout_kvm)
		its->ct.indirect = false;
	if (!its->ct.valid)
		return 0;
	its->ct.slots = its->ct.ids = its->ct.bytes / w->L->cte_size;
	rc = scan(w, ITS_TABLE_COLLECTIONS, 0, its->ct.gpa, its->ct.slots,
		  w->L->cte_size, cte_fn, &unreadable);
	if (rc < 0)
		return rc;
	if (w->L->collections_indexed)
		return 0;
	/* a packed list ends at the first slot without a valid CTE */
	for (size_t i = 0; i < its->nr_ctes; i++) {
		if (its->ctes[i].slot != term || !its->ctes[i].e.valid)
			break;
		term++;
	}
	its->ct_terminator = term;
	for (size_t i = 0; i < its->nr_ctes; i++)
		if (its->ctes[i].e.valid && its->ctes[i].slot > term)
			its->ctes[i].flags |= ITS_F_AFTER_TERMINATOR;
	return 0;
}

static int walk_devices(struct walker *w)
{
	struct its_image_its *its = w->its;
	const struct its_layout *L = w->L;
	bool unreadable = false;
	uint64_t l2_bytes, per_page;
	unsigned walked = 0;
	int rc;

	if (!its->dt.valid)
		return 0;
	w->id_base = 0;
	if (!its->dt.indirect) {
		/* DeviceIDs are 32 bits at most */
		uint64_t n = its->dt.slots > (1ULL << 32) ? (1ULL << 32) :
							    its->dt.slots;

		return scan(w, ITS_TABLE_DEVICES, 0, its->dt.gpa, n,
			    L->dte_size, dte_fn, &unreadable);
	}
	rc = scan(w, ITS_TABLE_DEVICES, 0, its->dt.gpa, its->dt.slots,
		  GITS_LVL1_ENTRY_SIZE, l1_fn, &unreadable);
	if (rc < 0)
		return rc;
	l2_bytes = its->dt.l2_bytes;
	per_page = l2_bytes / L->dte_size;
	for (size_t i = 0; i < its->nr_l1; i++) {
		struct its_l1_rec *l1 = &its->l1[i];
		uint64_t first = (uint64_t)l1->index * per_page;

		/* an invalid entry that still names a page: show what is
		 * left there, as unreachable */
		if (!l1->e.valid && !l1->e.l2)
			continue;
		if (walked >= ITS_WALK_MAX_L2_PAGES ||
		    first + per_page - 1 > UINT32_MAX) {
			l1->flags |= ITS_F_L2_NOT_WALKED;
			continue;
		}
		walked++;
		unreadable = false;
		w->id_base = (uint32_t)first;
		w->quiet = !l1->e.valid;
		w->dev_flags = l1->e.valid ? 0 : ITS_F_IN_INVALID_L1;
		rc = scan(w, ITS_TABLE_L2, l1->index, l1->e.l2, per_page,
			  L->dte_size, dte_fn, &unreadable);
		w->quiet = false;
		w->dev_flags = 0;
		if (rc < 0)
			return rc;
		if (unreadable && l1->e.valid)
			l1->flags |= ITS_F_L2_UNREADABLE;
	}
	return 0;
}

/* Devices whose DTEs name the same ITT (address and size) share one
 * decoded copy of it: a table where every DTE aliases one 2^16-event ITT
 * is read once, not 65536 times. Open addressing on (ITT, bits). */
struct itt_seen {
	uint64_t *key;		/* ITT address | bits, 0 = empty */
	size_t *dev;		/* index of the device that read it */
	size_t cap;
};

static size_t *itt_seen_slot(struct itt_seen *h, uint64_t key)
{
	size_t i = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 20) & (h->cap - 1);

	while (h->key[i] && h->key[i] != key)
		i = (i + 1) & (h->cap - 1);
	if (!h->key[i]) {
		h->key[i] = key;
		h->dev[i] = SIZE_MAX;
	}
	return &h->dev[i];
}

static int walk_itts(struct walker *w)
{
	struct itt_seen h = { 0 };
	int rc = 0;

	h.cap = 16;
	while (h.cap < 2 * w->its->nr_devs)
		h.cap *= 2;
	h.key = calloc(h.cap, sizeof(*h.key));
	h.dev = calloc(h.cap, sizeof(*h.dev));
	if (!h.key || !h.dev) {
		rc = its_err_set(w->err, -ENOMEM, gmem_path(w->g),
				 ITS_ERR_NO_OFFSET, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < w->its->nr_devs; i++) {
		struct its_dev_rec *d = &w->its->devs[i];
		bool unreadable = false;
		unsigned bits = d->e.size + 1;
		size_t *first;

		if (!d->e.valid || (d->flags & ITS_F_IN_INVALID_L1))
			continue;
		if (bits > ITS_WALK_MAX_EVENT_BITS) {
			d->flags |= ITS_F_SIZE_CLAMPED;
			bits = ITS_WALK_MAX_EVENT_BITS;
		}
		d->event_bits = bits;
		/* the ITT address is 256-byte aligned: bits fit below it */
		first = itt_seen_slot(&h, (d->e.itt | bits) + 1);
		if (*first != SIZE_MAX) {
			const struct its_dev_rec *f = &w->its->devs[*first];

			d->events = f->events;
			d->nr_events = f->nr_events;
			d->events_shared = true;
			d->flags |= f->flags & (ITS_F_ITT_UNREADABLE |
						ITS_F_ITT_NOT_WALKED);
			continue;
		}
		*first = i;
		if (w->itt_slots + (1ULL << bits) > ITS_WALK_MAX_ITT_SLOTS) {
			d->flags |= ITS_F_ITT_NOT_WALKED;
			continue;
		}
		w->itt_slots += 1ULL << bits;
		w->cur_dev = d;
		rc = scan(w, ITS_TABLE_ITT, d->device_id, d->e.itt, 1ULL << bits,
			  w->L->ite_size, ite_fn, &unreadable);
		if (rc < 0)
			goto out;
		if (unreadable)
			d->flags |= ITS_F_ITT_UNREADABLE;
	}
out:
	free(h.key);
	free(h.dev);
	return rc;
}

void its_chain_start(struct its_chain *c, const struct its_image_its *its)
{
	memset(c, 0, sizeof(*c));
	if (its && its->dt.indirect && its->layout)
		c->per_page = its->dt.l2_bytes / its->layout->dte_size;
	c->page = UINT64_MAX;
}

/* One entry of the list: fails says KVM's restore rejects it; the model
 * of its-fsck then reads on as if it were invalid, so that every failure
 * is found, and so does this walk. */
static unsigned chain_walk(struct its_chain *c, uint64_t id, bool valid,
			   uint32_t next, bool fails)
{
	/* each L2 page is a list of its own (KVM >= 6.1) */
	if (c->per_page && id / c->per_page != c->page) {
		c->page = id / c->per_page;
		c->pos = c->page * c->per_page;
		c->ended = false;
	}
	if (c->ended)
		return valid ? ITS_F_AFTER_TERMINATOR : 0;
	if (id < c->pos)
		return valid ? ITS_F_SKIPPED_BY_NEXT : 0;
	if (!valid || fails)
		c->pos = id + 1;
	else if (!next)
		c->ended = true;
	else
		c->pos = id + next;
	return 0;
}

static unsigned chain_step(struct its_chain *c, uint64_t id, bool valid,
			   uint32_t next, bool fails)
{
	unsigned f;

	/* one slot, one answer: an ID given twice (an image built by hand)
	 * is not read twice */
	if (c->fed && id == c->last_id)
		return valid ? c->last_flag : 0;
	c->fed = true;
	c->last_id = id;
	f = chain_walk(c, id, valid, next, fails);
	c->last_flag = f;
	return f;
}

unsigned its_chain_dte(struct its_chain *c, const struct its_dev_rec *d,
		       bool *itt_read)
{
	/* the checks of the DTE alone that fail the restore (vgic-its.c) */
	bool fails = d->e.size + 1u > VITS_TYPER_IDBITS ||
		     d->device_id >> VITS_TYPER_DEVBITS;
	unsigned f = chain_step(c, d->device_id, d->e.valid, d->e.next, fails);

	*itt_read = d->e.valid && !f && !fails;
	return f;
}

unsigned its_chain_ite(struct its_chain *c, const struct its_ite_rec *e,
		       unsigned event_bits)
{
	/* the checks of the ITE alone that fail the restore */
	bool fails = e->e.lpi < GIC_LPI_OFFSET ||
		     e->event_id + (uint64_t)e->e.next >= 1ULL << event_bits;

	return chain_step(c, e->event_id, e->e.valid, e->e.next, fails);
}

const struct its_dev_rec *its_image_device(const struct its_image_its *its,
					   uint32_t device_id)
{
	return ITS_FIND_SORTED(its->devs, its->nr_devs, device_id, device_id);
}

const struct its_ite_rec *its_dev_event(const struct its_dev_rec *d,
					uint32_t event_id)
{
	return ITS_FIND_SORTED(d->events, d->nr_events, event_id, event_id);
}

static bool in_hole(const struct its_image_its *its, uint64_t gpa)
{
	for (size_t i = 0; i < its->nr_holes; i++)
		if (gpa - its->holes[i].gpa < its->holes[i].len)
			return true;
	return false;
}

/* Where each `next` lands. KVM's SAVE writes exact deltas (DTE deltas capped
 * at 16383), so a link that leaves its range or lands on nothing was not
 * written by one SAVE. */
static void mark_links(struct its_image_its *its)
{
	uint64_t per_page = its->dt.l2_bytes / its->layout->dte_size;

	for (size_t i = 0; i < its->nr_devs; i++) {
		struct its_dev_rec *d = &its->devs[i];
		uint64_t limit, tgt, nbits = (uint64_t)d->e.size + 1;

		if (!d->e.valid || (d->flags & ITS_F_IN_INVALID_L1))
			continue;
		for (size_t j = 0; j < d->nr_events; j++) {
			struct its_ite_rec *e = &d->events[j];
			const struct its_ite_rec *t;

			if (!e->e.valid || !e->e.next)
				continue;
			tgt = (uint64_t)e->event_id + e->e.next;
			if (nbits >= 64 || tgt >= (1ULL << nbits)) {
				e->flags |= ITS_F_NEXT_OUT_OF_RANGE;
				continue;
			}
			t = its_dev_event(d, (uint32_t)tgt);
			if ((!t || !t->e.valid) &&
			    !in_hole(its, d->e.itt + tgt * its->layout->ite_size))
				e->flags |= ITS_F_NEXT_LANDS_INVALID;
		}
		if (!d->e.next)
			continue;
		tgt = (uint64_t)d->device_id + d->e.next;
		limit = its->dt.indirect ?
			(d->device_id / per_page + 1) * per_page : its->dt.slots;
		if (tgt >= limit) {
			d->flags |= its->dt.indirect ? ITS_F_NEXT_CROSSES_L2 :
						       ITS_F_NEXT_OUT_OF_RANGE;
		} else if (d->e.next < VITS_DTE_MAX_DEVID_OFFSET) {
			const struct its_dev_rec *t = its_image_device(its,
								      (uint32_t)tgt);

			if ((!t || !t->e.valid) &&
			    !in_hole(its, d->gpa + (uint64_t)d->e.next *
							   its->layout->dte_size))
				d->flags |= ITS_F_NEXT_LANDS_INVALID;
		}
	}
}

static int walk_one(struct walker *w, const struct its_regs_raw *regs,
		    const struct its_walk_opts *opts)
{
	struct its_image_its *its = w->its;
	int rc;

	its->regs = *regs;
	if (opts && opts->layout) {
		its->layout = opts->layout;
		its->layout_forced = true;
		snprintf(its->layout_why, sizeof(its->layout_why),
			 "chosen with --layout");
	} else {
		rc = its_layout_detect(regs, w->g, &its->layout,
				       its->layout_why,
				       sizeof(its->layout_why), w->err);
		if (rc < 0)
			return rc;
	}
	w->L = its->layout;
	table_info(w->L, regs->baser[1], regs->present & ITS_REG_BASER(1),
		   w->L->cte_size, &its->ct);
	table_info(w->L, regs->baser[0], regs->present & ITS_REG_BASER(0),
		   w->L->dte_size, &its->dt);
	rc = walk_collections(w);
	if (rc == 0)
		rc = walk_devices(w);
	if (rc == 0)
		rc = walk_itts(w);
	if (rc == 0 && w->L->has_next)
		mark_links(its);
	return rc;
}

int its_walk(const struct gmem *g, const struct its_regset *regs,
	     const struct its_walk_opts *opts, struct its_image **out,
	     struct its_err *err)
{
	struct its_image *img = calloc(1, sizeof(*img));
	struct walker w = { .g = g, .err = err };
	int rc = 0;

	if (!img || !(w.buf = malloc(WALK_CHUNK))) {
		free(img);
		return its_err_set(err, -ENOMEM, gmem_path(g),
				   ITS_ERR_NO_OFFSET, "out of memory");
	}
	if (regs->nr_its) {
		img->its = calloc(regs->nr_its, sizeof(*img->its));
		if (!img->its)
			rc = its_err_set(err, -ENOMEM, gmem_path(g),
					 ITS_ERR_NO_OFFSET, "out of memory");
	}
	for (size_t i = 0; rc == 0 && i < regs->nr_its; i++) {
		img->nr_its = i + 1;
		img->its[i].index = (unsigned)i;
		w.its = &img->its[i];
		w.stored = w.itt_slots = 0;
		rc = walk_one(&w, &regs->its[i], opts);
		if (rc < 0)
			its_err_prefix(err, "ITS %zu: ", i);
	}
	if (rc == 0 && regs->nr_rd) {
		img->rd = malloc(regs->nr_rd * sizeof(*img->rd));
		if (!img->rd)
			rc = its_err_set(err, -ENOMEM, gmem_path(g),
					 ITS_ERR_NO_OFFSET, "out of memory");
		else
			memcpy(img->rd, regs->rd, regs->nr_rd * sizeof(*img->rd));
		img->nr_rd = regs->nr_rd;
	}
	free(w.buf);
	if (rc < 0) {
		its_image_free(img);
		return rc;
	}
	*out = img;
	return 0;
}

void its_image_free(struct its_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->nr_its; i++) {
		struct its_image_its *its = &img->its[i];

		for (size_t j = 0; j < its->nr_devs; j++)
			if (!its->devs[j].events_shared)
				free(its->devs[j].events);
		free(its->devs);
		free(its->ctes);
		free(its->l1);
		free(its->holes);
	}
	free(img->its);
	free(img->rd);
	free(img);
}
