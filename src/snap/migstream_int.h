/* Internals of the QEMU migration stream reader, shared by migstream*.c. */
#ifndef ITS_MIGSTREAM_INT_H
#define ITS_MIGSTREAM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "its/bits.h"
#include "its/err.h"
#include "its/gmem.h"
#include "its/limits.h"
#include "its/migstream.h"
#include "its/regset.h"
#include "its/snapshot.h"

struct json_object;

/* RAM record flags (migration/ram.h) */
#define RAM_SAVE_FLAG_FULL		0x001
#define RAM_SAVE_FLAG_ZERO		0x002
#define RAM_SAVE_FLAG_MEM_SIZE		0x004
#define RAM_SAVE_FLAG_PAGE		0x008
#define RAM_SAVE_FLAG_EOS		0x010
#define RAM_SAVE_FLAG_CONTINUE		0x020
#define RAM_SAVE_FLAG_XBZRLE		0x040
#define RAM_SAVE_FLAG_HOOK		0x080
#define RAM_SAVE_FLAG_COMPRESS_PAGE	0x100
#define RAM_SAVE_FLAG_MULTIFD_FLUSH	0x200

/* COMMAND numbers (migration/savevm.c enum qemu_vm_cmd) */
#define MIG_CMD_POSTCOPY_ADVISE		3
#define MIG_CMD_PACKAGED		7
#define MIG_CMD_SWITCHOVER_START	11

#define QEMU_VM_FILE_MAGIC		0x5145564dU
#define QEMU_VM_FILE_VERSION		3
#define QEMU_VM_FILE_VERSION_COMPAT	2

/* Transient marker in a page index entry during the pass: the page was sent
 * before. File offsets stay below 2^62 (checked), so it never collides. */
#define MS_PAGE_RESENT			(1ULL << 62)

/* Bounds on what the file may make us allocate or scan: its/limits.h. */

/* ------------------------------------------------------------ reader */

/* Bytes of the file, through one read-only private mapping of the whole
 * file, or (MIGSTREAM_PREAD, or when mmap fails) a 1 MiB window filled by
 * pread. */
struct ms_rd {
	const char *path;
	int fd;
	uint64_t size;
	const uint8_t *map;		/* whole file, or NULL */
	size_t map_len;
	uint8_t *buf;			/* window mode */
	uint64_t buf_off;
	size_t buf_len, buf_cap;
	int io_errno;			/* last pread failure, 0 if none */
	uint64_t dropped, drop_next;	/* mmap: pages released behind */
	snap_progress_fn progress;	/* called where pages are released */
	void *progress_arg;
};

#define MS_RD_MAX_GET	(64u << 10)	/* largest single ms_get */

const uint8_t *ms_rd_fill(struct ms_rd *r, uint64_t off, size_t n);
void ms_rd_drop(struct ms_rd *r, uint64_t off);

/* n bytes at off (n <= MS_RD_MAX_GET), valid until the next call; NULL when
 * the file ends first (or a read failed: r->io_errno). */
static inline const uint8_t *ms_get(struct ms_rd *r, uint64_t off, size_t n)
{
	if (off > r->size || n > r->size - off)
		return NULL;
	if (r->map)
		return r->map + off;
	if (off >= r->buf_off && off - r->buf_off <= r->buf_len &&
	    n <= r->buf_len - (off - r->buf_off))
		return r->buf + (off - r->buf_off);
	return ms_rd_fill(r, off, n);
}

static inline bool ms_have(const struct ms_rd *r, uint64_t off, uint64_t n)
{
	return off <= r->size && n <= r->size - off;
}

/* ------------------------------------------------------------ parser */

struct ms_block {
	struct migstream_ramblock *info;	/* into mi->blocks (stable
						 * once the list is read) */
	uint64_t nr_pages;
	struct gmem_pindex *index;	/* gmem's or ours, or NULL */
	bool own_index;			/* ours: free at the end */
	uint64_t *leaf;			/* of the last page recorded */
	uint64_t leaf_first;		/* its first page */
};

struct ms_vmdesc_key {
	const char *name;
	int64_t instance;
	size_t index;			/* in devices */
};

struct ms_vmdesc {
	struct json_object *root;
	struct json_object *devices;	/* array */
	size_t nr_devices;
	size_t cursor;			/* next expected device entry */
	struct ms_vmdesc_key *keys;	/* sorted by (name, instance, index) */
	size_t nr_keys;
};

struct ms_parser {
	struct ms_rd rd;
	const char *path;
	struct snapshot *s;
	const struct snap_open_opts *opts;
	struct its_err *err;
	struct migstream_info *mi;
	struct gmem *mem;

	uint64_t base;			/* stream start */
	uint32_t page_size;
	unsigned page_shift;
	bool x_ignore_shared;

	/* RAM */
	struct ms_block *blocks;	/* parallel to mi->blocks */
	size_t cap_blocks;
	struct migstream_ramblock **by_name; /* blocks sorted by name */
	bool have_block_list;
	struct ms_block *cur;		/* for CONTINUE */
	bool ram_started, ram_ended;
	uint32_t ram_section_id;
	const char *ram_idstr;		/* "ram" */
	uint32_t ram_instance, ram_version;
	char idstr_buf[QEMU_COUNTED_STRING_MAX + 1]; /* records not kept */
	uint64_t index_bytes;		/* page index allocated so far */
	uint64_t zero_fill_nonzero;	/* ZERO records with fill != 0 */
	uint64_t zero_fill_first;

	/* device state */
	struct ms_vmdesc vd;
	bool have_vmdesc;
	bool vmdesc_type_bad;		/* found with a damaged record type */
	bool gicv3_done;
	unsigned nr_its;
	uint64_t nr_cpu_sections;
	int gic_cpus;			/* -1 until arm_gicv3 is decoded */
	bool stopped;			/* pass stopped early (no vmdesc) */
	uint64_t nr_resynced;		/* sections sized by their footer */
	uint64_t resync_scanned;	/* bytes scanned for footers */
	struct its_regset regs;		/* moved into s->regs on success */
};

/* migstream.c */
int ms_trunc(struct ms_parser *p, uint64_t off, uint64_t need,
	     const char *what);
int ms_bad(struct ms_parser *p, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ms_unsup(struct ms_parser *p, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ms_nomem(struct ms_parser *p);
void ms_warn(struct ms_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Counted string at off: *len and a pointer to its bytes. */
int ms_counted(struct ms_parser *p, uint64_t off, const uint8_t **str,
	       size_t *len, const char *what);
/* ms_counted, and refused unless 1.. bytes of printable ASCII (names that
 * end up in messages: RAMBlock names, capabilities). */
int ms_name(struct ms_parser *p, uint64_t off, const uint8_t **str,
	    size_t *len, const char *what);
bool ms_printable(const uint8_t *s, size_t n);
bool ms_footer_at(struct ms_parser *p, uint64_t off, uint32_t sid);
/* 0 when the footer of section sid (header at hdr) is at off; else the
 * error naming what is there (migstream.c). */
int ms_footer_check(struct ms_parser *p, uint64_t off, uint64_t hdr,
		    uint32_t sid, const char *idstr, const char *after,
		    const char *missing);
/* The same, for a section sized by the vmdesc at n bytes. */
int ms_vmdesc_footer_check(struct ms_parser *p, uint64_t off, uint64_t hdr,
			   uint32_t sid, const char *idstr, uint64_t n);
/* Could a top-level record start at off (spec 14.4)? */
bool ms_plausible_record(struct ms_parser *p, uint64_t off);
/* Records: ms_rec_begin returns an index, or SIZE_MAX when the record is
 * not kept (too many); ms_rec(p, SIZE_MAX) is NULL. */
size_t ms_rec_begin(struct ms_parser *p, uint8_t type, uint64_t off);
struct migstream_record *ms_rec(struct ms_parser *p, size_t idx);
void ms_rec_end(struct ms_parser *p, size_t idx, uint64_t end);
/* A copy of len bytes owned by the info (NUL-terminated), or NULL. */
const char *ms_intern(struct ms_parser *p, const void *str, size_t len);

/* migstream_ram.c */
int ms_ram_records(struct ms_parser *p, uint64_t *pos);
int ms_ram_finish(struct ms_parser *p);
void ms_ram_release(struct ms_parser *p);

/* migstream_vmdesc.c */
int ms_vmdesc_locate(struct ms_parser *p);
int ms_vmdesc_parse_at(struct ms_parser *p, uint64_t marker, uint64_t len);
void ms_vmdesc_release(struct ms_parser *p);
/* The device entry for (idstr, instance), or NULL. */
struct json_object *ms_vmdesc_device(struct ms_parser *p, const char *idstr,
				     uint32_t instance);
/* Bytes of a vmsd description (fields + subsections), at most limit;
 * -EINVAL (no err set) with *why when the description is unusable. */
int ms_vmsd_bytes(struct json_object *vmsd, uint64_t limit, uint64_t *out,
		  const char **why);
/* Bytes of one field object (size x array_len). */
int ms_field_bytes(struct json_object *field, uint64_t *out,
		   const char **why);
/* Size of the configuration subsection `name` per the vmdesc, if any. */
bool ms_vmdesc_config_subsection(struct ms_parser *p, const char *name,
				 uint64_t limit, uint64_t *bytes);
uint64_t ms_vmdesc_page_size(struct ms_parser *p);

/* migstream_gic.c */
int ms_gic_its(struct ms_parser *p, uint64_t rec, uint64_t payload,
	       uint32_t sid, uint32_t inst, uint32_t ver,
	       struct json_object *dev, uint64_t *end);
int ms_gic_gicv3(struct ms_parser *p, uint64_t rec, uint64_t payload,
		 uint32_t sid, uint32_t inst, uint32_t ver,
		 struct json_object *dev, uint64_t *end);
/* Search [from, to) for a FULL header of idstr (no vmdesc, spec 14.3). */
bool ms_find_full_header(struct ms_parser *p, uint64_t from, uint64_t to,
			 const char *idstr, uint64_t *at);

#endif
