/*
 * its-fixture: shared declarations of the fixture writer.
 *
 * The fixture writer is the independent test oracle of its-tools: it packs
 * every ITS table entry itself from spec/kvm-its-abi.md and includes nothing
 * from src/ or include/.
 */
#ifndef ITS_FIXTURE_H
#define ITS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define FX_PAGE_SIZE 4096u

/* ------------------------------------------------------------ errors */

/* Spec error: prints "its-fixture: SPEC: <message>" and exits 2. */
void fx_spec_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
/* Operational error (I/O, allocation): "its-fixture: <message>", exit 1. */
void fx_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

void *fx_calloc(size_t n, size_t size);
void *fx_realloc(void *p, size_t n, size_t size);
char *fx_strdup(const char *s);
char *fx_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------ guest RAM */

struct fx_range {
	uint64_t gpa;
	uint64_t size;
};

struct fx_region {
	char *name;
	uint64_t gpa;
	uint64_t size;
	size_t npages;
	uint8_t **pages;   /* 4 KiB pages, allocated on first write */
	size_t spec_index; /* position in the spec's "ram" array */
};

/* Background content ("fill"): generated on the fly, never stored.  A page
 * that gets written starts with its fill bytes. */
enum fx_fill_pattern {
	FX_FILL_RANDOM,    /* 64-bit words: mix(seed, word GPA) */
	FX_FILL_COUNTER,   /* 64-bit words: the word's own GPA */
};

struct fx_fill {
	uint64_t gpa;
	uint64_t size;
	enum fx_fill_pattern pattern;
	uint64_t seed;
};

struct fx_ram {
	struct fx_region *regions; /* sorted by gpa, disjoint */
	size_t nregions;
	struct fx_range *holes;    /* in no PT_LOAD */
	size_t nholes;
	struct fx_range *absent;   /* in a PT_LOAD's memsz, past its filesz */
	size_t nabsent;
	struct fx_fill *fills;     /* inside regions; may overlap each other */
	size_t nfills;
};

/* true if every byte of [gpa, gpa+len) is file-backed RAM (in a region,
 * not in a hole, not absent) */
bool fx_ram_backed(const struct fx_ram *ram, uint64_t gpa, uint64_t len);
/* Describe why [gpa, gpa+len) is not backed ("outside RAM", "in hole ..."). */
char *fx_ram_why_not(const struct fx_ram *ram, uint64_t gpa, uint64_t len);
/* Write bytes; the range must be backed (checked by the caller). */
void fx_ram_write(struct fx_ram *ram, uint64_t gpa, const void *buf, uint64_t len);
void fx_ram_fill(struct fx_ram *ram, uint64_t gpa, uint8_t byte, uint64_t len);
/* Read bytes of a backed range (unwritten bytes read as zero). */
void fx_ram_read(const struct fx_ram *ram, uint64_t gpa, void *buf, uint64_t len);
void fx_ram_free(struct fx_ram *ram);
/* true if some "fill" range intersects [gpa, gpa+len) */
bool fx_ram_filled(const struct fx_ram *ram, uint64_t gpa, uint64_t len);
/* Overwrite the bytes of buf (= guest [gpa, gpa+len)) that lie in "fill"
 * ranges with their fill pattern; later fills win. */
void fx_fill_apply(const struct fx_ram *ram, uint64_t gpa, uint8_t *buf, uint64_t len);

/* ------------------------------------------------------------ ELF */

struct fx_phdr {
	uint32_t p_type;
	uint32_t p_flags;
	uint64_t p_offset;
	uint64_t p_vaddr;
	uint64_t p_paddr;
	uint64_t p_filesz;
	uint64_t p_memsz;
	uint64_t p_align;
};

/* Corruption of the container after it is written. */
struct fx_phdr_patch {
	size_t index;
	unsigned mask;       /* FX_PH_* bits of the fields to overwrite */
	struct fx_phdr val;
};

enum fx_phdr_field {
	FX_PH_TYPE = 1u << 0,
	FX_PH_FLAGS = 1u << 1,
	FX_PH_OFFSET = 1u << 2,
	FX_PH_VADDR = 1u << 3,
	FX_PH_PADDR = 1u << 4,
	FX_PH_FILESZ = 1u << 5,
	FX_PH_MEMSZ = 1u << 6,
	FX_PH_ALIGN = 1u << 7,
};

struct fx_elf_plan {
	unsigned vcpus;
	size_t nphdrs;          /* PT_NOTE + PT_LOADs */
	struct fx_phdr *phdrs;  /* final layout (before corruption) */
	uint64_t phoff, shoff, notes_off, notes_size, shstrtab_off, file_size;
};

/* Compute the segment list and file layout for RAM. */
void fx_elf_plan(const struct fx_ram *ram, unsigned vcpus, struct fx_elf_plan *plan);
/* Write the core; then apply the corruption (phdr patches, truncate). */
void fx_elf_write(const char *path, const struct fx_ram *ram,
		  const struct fx_elf_plan *plan,
		  const struct fx_phdr_patch *patches, size_t npatches,
		  bool truncate, uint64_t truncate_to);
void fx_elf_plan_free(struct fx_elf_plan *plan);

/* ------------------------------------------------------------ stream
 * QEMU migration stream output (shared/spec/qemu-migration-stream.md). */

enum fx_format { FX_FMT_ELF, FX_FMT_STREAM, FX_FMT_LIBVIRT };

/* QEMU versions whose byte layouts the writer reproduces */
enum fx_qemu { FX_QEMU_7_2 = 72, FX_QEMU_10_0 = 100 };

/* One RAMBlock, in spec order. */
struct fx_block {
	const char *name;
	uint64_t size;             /* used_length */
	bool has_gpa;
	uint64_t gpa;
	bool stream_only;          /* in the stream, not guest RAM in the dump */
	const struct fx_region *region; /* NULL: every byte zero */
};

struct fx_its_regs {
	uint64_t ctlr, iidr, cbaser, cwriter, creadr;
	uint64_t baser[8];
};

struct fx_gicr {
	uint64_t propbaser, pendbaser;
};

struct fx_resend {
	uint64_t gpa, size;
	int dirty;                 /* stale byte value; -1 = the live default */
};

struct fx_stream_opts {
	enum fx_format format;
	enum fx_qemu qemu;
	char *machine;
	uint32_t version;          /* header version (3) */
	unsigned page_bits;
	bool switchover, vmdesc, mapped_ram;
	uint64_t offset;           /* file:...,offset=N: stream starts at N */
	uint64_t part_pages;       /* page records per SECTION_PART */
	/* live */
	unsigned passes;
	struct fx_resend *resend;
	size_t nresend;
	uint8_t dirty_value;
	/* device sections */
	uint32_t its_version, gicv3_version;
	uint32_t gicd_ctlr, gicr_ctlr;
	uint64_t *sre_el1;         /* per vCPU; 7 = no subsection */
	bool gic_virt, gic_v4, gic_nmi, gic_shift_bug;
	/* corruption */
	bool footer_corrupt;
	char *fc_idstr;
	bool fc_has_instance;
	uint32_t fc_instance, fc_section_id;
	bool truncate;
	uint64_t truncate_to;
	/* libvirt */
	char *lv_xml, *lv_cookie;
	uint32_t lv_format;
	bool lv_was_running, lv_incomplete;
	uint64_t lv_padding;
};

struct fx_stream_in {
	const struct fx_ram *ram;
	const struct fx_block *blocks;
	size_t nblocks;
	const struct fx_its_regs *its;
	size_t nits;
	const struct fx_gicr *gicr; /* vcpus entries */
	unsigned vcpus;
};

/* One FULL device section, built in memory with its vmdesc entry. */
struct fx_section {
	char *idstr;
	uint32_t section_id, instance_id, version_id;
	uint8_t *payload;
	size_t len;
	char *desc;                /* JSON text of its vmdesc "devices" entry */
	int its_index;             /* arm_gicv3_its instance number, else -1 */
	bool gicv3;
	size_t *cpu_off, *cpu_len; /* arm_gicv3: each vCPU element in payload */
	unsigned ncpu;
};

#define FX_GICR_PROPBASER_OFF 20u  /* in an arm_gicv3_cpu element (§13.2) */
#define FX_GICR_PENDBASER_OFF 28u

/* fixture_vmstate.c: the CONFIGURATION payload and its vmdesc object, and
 * the device sections in QEMU's save order. */
void fx_build_configuration(const struct fx_stream_opts *o, uint8_t **payload,
			    size_t *len, char **desc);
void fx_build_sections(const struct fx_stream_opts *o, const struct fx_stream_in *in,
		       uint32_t *ram_section_id, struct fx_section **out, size_t *n);
void fx_sections_free(struct fx_section *v, size_t n);

/* fixture_stream.c */
struct fx_stream;
/* Validate (spec errors exit before any file is written), then write. */
struct fx_stream *fx_stream_write(const char *path, const struct fx_stream_opts *o,
				  const struct fx_stream_in *in);
/* File offset of guest byte gpa in the last copy of its page; false when
 * that copy is a ZERO record / a clear mapped-ram bit, or never sent. */
bool fx_stream_locate(const struct fx_stream *s, uint64_t gpa, uint64_t *off);
struct json_object *fx_stream_manifest(const struct fx_stream *s);
uint64_t fx_stream_file_size(const struct fx_stream *s);
void fx_stream_free(struct fx_stream *s);

#endif
