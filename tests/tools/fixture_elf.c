/*
 * its-fixture: the ELF64 core writer, laid out like QEMU 7.2+'s
 * dump-guest-memory (shared/spec/guest-dumps.md §2-3):
 *
 *   0x000  Elf64_Ehdr (64 bytes)
 *   0x040  section headers: [0] NULL, [1] .shstrtab  (2 x 64 bytes)
 *   0x0c0  program headers: PT_NOTE, then one PT_LOAD per RAM piece, by GPA
 *   ...    .shstrtab contents "\0.shstrtab\0" (11 bytes, padded to 16)
 *   ...    notes: per vCPU NT_PRSTATUS (392) + NT_PRFPREG (528), name "CORE"
 *   ...    PT_LOAD bytes, in ascending GPA order, back to back
 *
 * One deviation from QEMU: QEMU puts the 11 .shstrtab bytes after guest RAM.
 * libelf (elfutils) zero-fills every gap in front of a section it writes,
 * which would write the whole RAM area and defeat sparse files, so the
 * string table sits right after the program headers instead.  Readers must
 * use e_phoff/p_offset and never assume positions (guest-dumps.md §2.2).
 *
 * libelf writes the ELF header, the program and section headers and the
 * string table (ELF_F_LAYOUT: we choose every offset); the note and RAM bytes
 * are written with pwrite so that all-zero RAM pages stay holes in a sparse
 * file.  e_ehsize is then patched to 8, the value QEMU 7.2 .. 10.0 write
 * (libelf insists on 64).
 */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef EM_AARCH64
#define EM_AARCH64 183
#endif

#define EHDR_SIZE 64u
/* QEMU 7.2 .. 10.0 write e_ehsize = 8 (guest-dumps.md §2.1); so do we */
#define QEMU_EHSIZE 8u
#define EHSIZE_OFFSET 52u
#define SHDR_SIZE 64u
#define PHDR_SIZE 56u
#define NSECTIONS 2u
#define PRSTATUS_DESC 392u
#define PRFPREG_DESC 528u
#define NOTE_NAME_PADDED 8u   /* "CORE\0" padded to 4 */
#define NOTE_HDR 12u
#define NOTES_PER_VCPU (2 * (NOTE_HDR + NOTE_NAME_PADDED) + PRSTATUS_DESC + PRFPREG_DESC)

static char shstrtab[] = "\0.shstrtab"; /* + implicit NUL = 11 bytes */
#define SHSTRTAB_SIZE 11u
#define SHSTRTAB_PADDED 16u

static void add_load(struct fx_elf_plan *p, size_t *cap, uint64_t gpa,
		     uint64_t filesz, uint64_t memsz)
{
	if (p->nphdrs == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		p->phdrs = fx_realloc(p->phdrs, *cap, sizeof(*p->phdrs));
	}
	struct fx_phdr *ph = &p->phdrs[p->nphdrs++];
	memset(ph, 0, sizeof(*ph));
	ph->p_type = PT_LOAD;
	ph->p_paddr = ph->p_vaddr = gpa;
	ph->p_filesz = filesz;
	ph->p_memsz = memsz;
}

struct marker {
	uint64_t gpa, end;
	bool absent;
};

static int cmp_marker(const void *a, const void *b)
{
	const struct marker *x = a, *y = b;
	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

void fx_elf_plan(const struct fx_ram *ram, unsigned vcpus, struct fx_elf_plan *p)
{
	size_t cap = 0;

	memset(p, 0, sizeof(*p));
	p->vcpus = vcpus;
	/* PT_NOTE first; its offset/size are filled in below */
	add_load(p, &cap, 0, 0, 0);
	p->phdrs[0].p_type = PT_NOTE;
	p->phdrs[0].p_paddr = p->phdrs[0].p_vaddr = 0;

	for (size_t i = 0; i < ram->nregions; i++) {
		const struct fx_region *r = &ram->regions[i];
		uint64_t end = r->gpa + r->size;
		size_t nm = 0;
		struct marker *m = fx_calloc(ram->nholes + ram->nabsent + 1, sizeof(*m));

		for (size_t k = 0; k < ram->nholes; k++)
			if (ram->holes[k].gpa >= r->gpa && ram->holes[k].gpa < end)
				m[nm++] = (struct marker){ ram->holes[k].gpa,
					ram->holes[k].gpa + ram->holes[k].size, false };
		for (size_t k = 0; k < ram->nabsent; k++)
			if (ram->absent[k].gpa >= r->gpa && ram->absent[k].gpa < end)
				m[nm++] = (struct marker){ ram->absent[k].gpa,
					ram->absent[k].gpa + ram->absent[k].size, true };
		qsort(m, nm, sizeof(*m), cmp_marker);

		uint64_t start = r->gpa;
		for (size_t k = 0; k < nm; k++) {
			if (m[k].absent) {
				/* present bytes [start, gpa), then a memsz-only tail */
				add_load(p, &cap, start, m[k].gpa - start, m[k].end - start);
			} else if (m[k].gpa > start) {
				add_load(p, &cap, start, m[k].gpa - start, m[k].gpa - start);
			}
			start = m[k].end;
		}
		if (start < end)
			add_load(p, &cap, start, end - start, end - start);
		free(m);
	}

	p->shoff = EHDR_SIZE;
	p->phoff = EHDR_SIZE + NSECTIONS * SHDR_SIZE;
	p->shstrtab_off = p->phoff + (uint64_t)p->nphdrs * PHDR_SIZE;
	p->notes_off = p->shstrtab_off + SHSTRTAB_PADDED;
	p->notes_size = (uint64_t)vcpus * NOTES_PER_VCPU;
	p->phdrs[0].p_offset = p->notes_off;
	p->phdrs[0].p_filesz = p->phdrs[0].p_memsz = p->notes_size;

	uint64_t off = p->notes_off + p->notes_size;
	for (size_t i = 1; i < p->nphdrs; i++) {
		p->phdrs[i].p_offset = off;
		off += p->phdrs[i].p_filesz;
	}
	p->file_size = off;
}

void fx_elf_plan_free(struct fx_elf_plan *p)
{
	free(p->phdrs);
	memset(p, 0, sizeof(*p));
}

static void pwrite_all(int fd, const char *path, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *b = buf;
	while (len) {
		ssize_t n = pwrite(fd, b, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fx_fatal("%s: write at offset 0x%llx: %s", path,
				 (unsigned long long)off, n < 0 ? strerror(errno) : "short write");
		b += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t *build_notes(const struct fx_elf_plan *p)
{
	uint8_t *buf = fx_calloc(1, p->notes_size ? p->notes_size : 1);
	uint8_t *q = buf;

	for (unsigned cpu = 0; cpu < p->vcpus; cpu++) {
		/* NT_PRSTATUS */
		put_le(q, 5, 4);
		put_le(q + 4, PRSTATUS_DESC, 4);
		put_le(q + 8, NT_PRSTATUS, 4);
		memcpy(q + NOTE_HDR, "CORE", 5);
		q += NOTE_HDR + NOTE_NAME_PADDED;
		put_le(q + 32, cpu + 1, 4);     /* pr_pid = CPU index + 1 */
		put_le(q + 384, 1, 4);          /* pr_fpvalid */
		q += PRSTATUS_DESC;
		/* NT_PRFPREG: all registers zero */
		put_le(q, 5, 4);
		put_le(q + 4, PRFPREG_DESC, 4);
		put_le(q + 8, NT_PRFPREG, 4);
		memcpy(q + NOTE_HDR, "CORE", 5);
		q += NOTE_HDR + NOTE_NAME_PADDED + PRFPREG_DESC;
	}
	return buf;
}

static const struct fx_region *region_of(const struct fx_ram *ram, uint64_t gpa)
{
	for (size_t i = 0; i < ram->nregions; i++)
		if (gpa >= ram->regions[i].gpa && gpa - ram->regions[i].gpa < ram->regions[i].size)
			return &ram->regions[i];
	return NULL;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Write the non-zero pages of one PT_LOAD's file bytes. */
static void write_segment(int fd, const char *path, const struct fx_ram *ram,
			  const struct fx_phdr *ph)
{
	if (!ph->p_filesz)
		return;
	const struct fx_region *r = region_of(ram, ph->p_paddr);
	if (!r)
		fx_fatal("internal error: PT_LOAD at 0x%llx is in no region",
			 (unsigned long long)ph->p_paddr);
	uint64_t seg_end = ph->p_paddr + ph->p_filesz;
	size_t first = (ph->p_paddr - r->gpa) / FX_PAGE_SIZE;
	size_t last = (seg_end - 1 - r->gpa) / FX_PAGE_SIZE;

	uint8_t *scratch = NULL;
	for (size_t k = first; k <= last; k++) {
		uint64_t pg = r->gpa + (uint64_t)k * FX_PAGE_SIZE;
		uint64_t a = pg > ph->p_paddr ? pg : ph->p_paddr;
		uint64_t b = pg + FX_PAGE_SIZE < seg_end ? pg + FX_PAGE_SIZE : seg_end;
		const uint8_t *src;
		if (r->pages[k]) {
			src = r->pages[k] + (a - pg);
		} else if (fx_ram_filled(ram, a, b - a)) {
			/* "fill" background: generated, never stored */
			if (!scratch)
				scratch = fx_calloc(1, FX_PAGE_SIZE);
			memset(scratch, 0, FX_PAGE_SIZE);
			fx_fill_apply(ram, a, scratch, b - a);
			src = scratch;
		} else {
			continue;
		}
		if (all_zero(src, b - a))
			continue;
		pwrite_all(fd, path, src, b - a, ph->p_offset + (a - ph->p_paddr));
	}
	free(scratch);
}

static void elf_fail(const char *path, const char *what)
{
	fx_fatal("%s: libelf %s: %s", path, what, elf_errmsg(-1));
}

void fx_elf_write(const char *path, const struct fx_ram *ram,
		  const struct fx_elf_plan *p,
		  const struct fx_phdr_patch *patches, size_t npatches,
		  bool truncate, uint64_t truncate_to)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		fx_fatal("libelf initialisation failed: %s", elf_errmsg(-1));

	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		fx_fatal("%s: %s", path, strerror(errno));

	Elf *e = elf_begin(fd, ELF_C_WRITE, NULL);
	if (!e)
		elf_fail(path, "elf_begin");
	if (!gelf_newehdr(e, ELFCLASS64))
		elf_fail(path, "gelf_newehdr");

	GElf_Ehdr eh;
	if (!gelf_getehdr(e, &eh))
		elf_fail(path, "gelf_getehdr");
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_AARCH64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = 0;
	eh.e_phoff = p->phoff;
	eh.e_shoff = p->shoff;
	eh.e_flags = 0;
	eh.e_shstrndx = 1;
	if (!gelf_update_ehdr(e, &eh))
		elf_fail(path, "gelf_update_ehdr");

	if (!gelf_newphdr(e, p->nphdrs))
		elf_fail(path, "gelf_newphdr");
	for (size_t i = 0; i < p->nphdrs; i++) {
		const struct fx_phdr *s = &p->phdrs[i];
		GElf_Phdr ph = {
			.p_type = s->p_type, .p_flags = s->p_flags,
			.p_offset = s->p_offset, .p_vaddr = s->p_vaddr,
			.p_paddr = s->p_paddr, .p_filesz = s->p_filesz,
			.p_memsz = s->p_memsz, .p_align = s->p_align,
		};
		if (!gelf_update_phdr(e, (int)i, &ph))
			elf_fail(path, "gelf_update_phdr");
	}

	Elf_Scn *scn = elf_newscn(e);
	if (!scn)
		elf_fail(path, "elf_newscn");
	GElf_Shdr sh;
	if (!gelf_getshdr(scn, &sh))
		elf_fail(path, "gelf_getshdr");
	sh.sh_name = 1;
	sh.sh_type = SHT_STRTAB;
	sh.sh_flags = 0;
	sh.sh_offset = p->shstrtab_off;
	sh.sh_size = SHSTRTAB_SIZE;
	sh.sh_addralign = 1;
	if (!gelf_update_shdr(scn, &sh))
		elf_fail(path, "gelf_update_shdr");
	Elf_Data *d = elf_newdata(scn);
	if (!d)
		elf_fail(path, "elf_newdata");
	d->d_buf = shstrtab;
	d->d_type = ELF_T_BYTE;
	d->d_size = SHSTRTAB_SIZE;
	d->d_off = 0;
	d->d_align = 1;
	d->d_version = EV_CURRENT;

	elf_flagelf(e, ELF_C_SET, ELF_F_LAYOUT);
	if (elf_update(e, ELF_C_WRITE) < 0)
		elf_fail(path, "elf_update");
	elf_end(e);

	if (ftruncate(fd, (off_t)p->file_size) < 0)
		fx_fatal("%s: ftruncate: %s", path, strerror(errno));

	/* libelf always stores e_ehsize = 64; QEMU 7.2+ stores 8 */
	uint8_t ehsize[2];
	put_le(ehsize, QEMU_EHSIZE, 2);
	pwrite_all(fd, path, ehsize, 2, EHSIZE_OFFSET);

	uint8_t *notes = build_notes(p);
	pwrite_all(fd, path, notes, p->notes_size, p->notes_off);
	free(notes);
	for (size_t i = 1; i < p->nphdrs; i++)
		write_segment(fd, path, ram, &p->phdrs[i]);

	/* container corruption, after everything else */
	for (size_t i = 0; i < npatches; i++) {
		const struct fx_phdr_patch *pt = &patches[i];
		uint64_t base = p->phoff + (uint64_t)pt->index * PHDR_SIZE;
		uint8_t b[8];
		static const struct { unsigned bit, off, len; } f[] = {
			{ FX_PH_TYPE, 0, 4 }, { FX_PH_FLAGS, 4, 4 },
			{ FX_PH_OFFSET, 8, 8 }, { FX_PH_VADDR, 16, 8 },
			{ FX_PH_PADDR, 24, 8 }, { FX_PH_FILESZ, 32, 8 },
			{ FX_PH_MEMSZ, 40, 8 }, { FX_PH_ALIGN, 48, 8 },
		};
		const uint64_t v[] = {
			pt->val.p_type, pt->val.p_flags, pt->val.p_offset,
			pt->val.p_vaddr, pt->val.p_paddr, pt->val.p_filesz,
			pt->val.p_memsz, pt->val.p_align,
		};
		for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
			if (!(pt->mask & f[k].bit))
				continue;
			put_le(b, v[k], f[k].len);
			pwrite_all(fd, path, b, f[k].len, base + f[k].off);
		}
	}
	if (truncate && ftruncate(fd, (off_t)truncate_to) < 0)
		fx_fatal("%s: ftruncate: %s", path, strerror(errno));
	if (close(fd) < 0)
		fx_fatal("%s: close: %s", path, strerror(errno));
}
