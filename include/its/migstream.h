/* QEMU migration stream reader (spec: spec/qemu-migration-stream.md).
 *
 * One sequential pass over a saved stream (bare, `file:`, mapped-ram, or
 * behind a libvirt `virsh save` header) builds:
 *   - the guest memory map: one page-indexed gmem region per RAMBlock whose
 *     guest-physical address is known, each page pointing at the file offset
 *     of its LAST copy (page data is skipped, never read);
 *   - the ITS registers (`arm_gicv3_its`) and the per-vCPU GICR_PROPBASER /
 *     GICR_PENDBASER (`arm_gicv3`), decoded with the stream's vmdesc JSON or
 *     with the fixed layouts when the vmdesc is missing;
 *   - provenance for the report (struct migstream_info, below).
 * All offsets in this header are absolute file offsets. */
#ifndef ITS_MIGSTREAM_H
#define ITS_MIGSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "its/err.h"
#include "its/limits.h"
#include "its/snapshot.h"

/* Top-level record types (QEMU migration/savevm.h). */
enum migstream_record_type {
	QEMU_VM_EOF			= 0x00,
	QEMU_VM_SECTION_START		= 0x01,
	QEMU_VM_SECTION_PART		= 0x02,
	QEMU_VM_SECTION_END		= 0x03,
	QEMU_VM_SECTION_FULL		= 0x04,
	QEMU_VM_SUBSECTION		= 0x05,
	QEMU_VM_VMDESCRIPTION		= 0x06,
	QEMU_VM_CONFIGURATION		= 0x07,
	QEMU_VM_COMMAND			= 0x08,
	QEMU_VM_SECTION_FOOTER		= 0x7e,
};

enum migstream_record_flags {
	MIGSTREAM_REC_SIZE_GUESSED = 1u << 0,	/* end found by footer resync
						 * (spec 14.4), not described */
	MIGSTREAM_REC_SIZE_UNKNOWN = 1u << 1,	/* pass stopped in this record */
	MIGSTREAM_REC_DECODED	   = 1u << 2,	/* registers taken from it */
};

/* One top-level record (the CONFIGURATION record, every section, command,
 * EOF and the vmdesc), in file order. */
struct migstream_record {
	uint64_t offset;		/* of the type byte */
	uint64_t size;			/* type byte through footer / JSON end */
	uint8_t type;			/* enum migstream_record_type */
	uint8_t flags;			/* enum migstream_record_flags */
	uint16_t command;		/* QEMU_VM_COMMAND: command number */
	uint32_t section_id;		/* sections only */
	uint32_t instance_id, version_id; /* START/FULL (PART/END: the START's) */
	const char *idstr;		/* sections: idstr; others: "" (owned by
					 * the info) */
};

/* One RAMBlock of the MEM_SIZE block list. Page counts describe the final
 * state: every page is exactly one of data, zero or absent. */
struct migstream_ramblock {
	char *name;
	uint64_t decl_offset;		/* file offset of its block-list entry */
	uint64_t used_length;
	bool gpa_known;			/* from the machine table or --ram-base */
	bool mapped;			/* placed in the snapshot's gmem */
	uint64_t gpa;
	const char *role;		/* "guest RAM", "firmware flash", ... */
	const char *gpa_source;		/* "machine virt", "--ram-base", NULL */
	uint64_t pages_data;		/* last copy carries page data */
	uint64_t pages_zero;		/* last copy is a ZERO record (or clear
					 * mapped-ram bit) */
	uint64_t pages_absent;		/* never sent */
	uint64_t pages_resent;		/* pages sent more than once */
	uint64_t records_data;		/* PAGE records for this block */
	uint64_t records_zero;		/* ZERO records for this block */
	bool has_mr_addr;
	uint64_t mr_addr;		/* x-ignore-shared field */
	bool mapped_ram;		/* mapped-ram: header fields below */
	uint64_t bitmap_offset, pages_offset;
};

struct migstream_info {
	/* container */
	bool libvirt;			/* virsh save header in front */
	uint32_t libvirt_version;
	uint32_t libvirt_format;	/* 0 raw, 6 sparse */
	bool libvirt_was_running;
	uint64_t libvirt_xml_offset, libvirt_xml_len;
	uint64_t stream_offset;		/* where "QEVM" starts */
	/* header and configuration */
	uint32_t version;		/* 3 */
	char machine[256];		/* e.g. "virt-10.0" */
	uint32_t page_size;		/* target page size */
	unsigned page_shift;
	bool page_bits_given;		/* configuration/target-page-bits seen */
	char **capabilities;		/* configuration/capabilities */
	size_t nr_capabilities;
	bool mapped_ram;
	bool has_uuid;
	uint8_t uuid[16];
	/* records, in file order (at most MIGSTREAM_MAX_RECORDS are kept) */
	struct migstream_record *records;
	size_t nr_records;
	uint64_t nr_records_seen;	/* including those not kept */
	/* RAM */
	uint64_t ram_total;		/* MEM_SIZE total */
	struct migstream_ramblock *blocks;
	size_t nr_blocks;
	uint64_t ram_records_data;	/* PAGE records, all blocks */
	uint64_t ram_records_zero;	/* ZERO records, all blocks */
	/* arm_gicv3: file offset of each vCPU's big-endian GICR_PROPBASER
	 * (index = redistributor, as in s->regs.rd) */
	uint64_t *gicr_propbaser_offset;
	size_t nr_gicr_propbaser;
	/* vmdesc */
	bool has_vmdesc;
	uint64_t vmdesc_offset;		/* of the 0x06 byte */
	uint64_t vmdesc_length;		/* JSON bytes */
	/* outcome */
	bool complete;			/* the pass reached QEMU_VM_EOF */
	uint64_t end_offset;		/* where the pass stopped */
	char **warnings;		/* one line each, like error messages */
	size_t nr_warnings;
	uint64_t nr_warnings_seen;	/* including those not kept */
};

enum migstream_open_flags {
	MIGSTREAM_PREAD = 1u << 0,	/* read with 1 MiB pread windows instead
					 * of mmap (no SIGBUS if the file is
					 * truncated meanwhile; also used when
					 * mmap fails) */
};

/* Open the stream in s (s->path, s->fd, s->file_size set; s->mem NULL):
 * fills s->mem (sealed), s->regs, s->nr_vcpus, s->format, s->format_desc,
 * s->priv (struct migstream_info) and s->priv_free. On failure s is left as
 * it came in. Errors: -EINVAL malformed data, -ENOTSUP a stream feature
 * that is not supported, -ENOMEM, -EIO; err names the file offset. */
int migstream_open(struct snapshot *s, const struct snap_open_opts *opts,
		   struct its_err *err);
int migstream_open_flags(struct snapshot *s, const struct snap_open_opts *opts,
			 unsigned flags, struct its_err *err);

/* The provenance of a snapshot opened by migstream_open, NULL otherwise. */
const struct migstream_info *migstream_info(const struct snapshot *s);

/* "SECTION_FULL", "COMMAND", ... */
const char *migstream_record_type_name(uint8_t type);
/* "SWITCHOVER_START", ..., "unknown" */
const char *migstream_command_name(uint16_t cmd);

/* Find a record: the first section with this idstr and instance_id (type
 * START or FULL), or NULL. */
const struct migstream_record *
migstream_find_section(const struct migstream_info *mi, const char *idstr,
		       uint32_t instance_id);
const struct migstream_ramblock *
migstream_find_block(const struct migstream_info *mi, const char *name);

void migstream_info_free(struct migstream_info *mi);

#endif
