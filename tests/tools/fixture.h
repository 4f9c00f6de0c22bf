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
};

struct fx_ram {
	struct fx_region *regions; /* sorted by gpa, disjoint */
	size_t nregions;
	struct fx_range *holes;    /* in no PT_LOAD */
	size_t nholes;
	struct fx_range *absent;   /* in a PT_LOAD's memsz, past its filesz */
	size_t nabsent;
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

#endif
