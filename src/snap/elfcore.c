/* dump-guest-memory ELF cores: PT_LOAD p_paddr is the GPA (also with
 * paging=true on arm, where QEMU writes identity mappings). Only headers and
 * notes are read here; RAM is read on demand through gmem. */
#include "its/snapshot.h"

#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "its/bits.h"
#include "its/limits.h"

#define NOTE_NAME_CORE "CORE"


/* Append program header i's type to buf ("PT_NOTE, type 0xb801"). */
static void phdr_type_name(char *buf, size_t len, uint32_t type, size_t i)
{
	size_t n = strlen(buf);
	const char *sep = i ? ", " : "";

	if (n >= len)
		return;
	if (type == PT_LOAD)
		snprintf(buf + n, len - n, "%sPT_LOAD (empty)", sep);
	else if (type == PT_NOTE)
		snprintf(buf + n, len - n, "%sPT_NOTE", sep);
	else if (type == PT_NULL)
		snprintf(buf + n, len - n, "%sPT_NULL", sep);
	else
		snprintf(buf + n, len - n, "%stype 0x%x", sep, type);
}

/* notes: bytes of PT_NOTE read so far (libelf keeps them in memory) */
static int count_prstatus(struct snapshot *s, Elf *elf, const GElf_Phdr *ph,
			  int index, uint64_t phdr_off, uint64_t *notes,
			  int *nr, struct its_err *err)
{
	Elf_Data *d;
	size_t pos = 0, next;
	GElf_Nhdr nh;
	size_t name_off, desc_off;

	if (ph->p_filesz == 0)
		return 0;
	if (ph->p_filesz > ELFCORE_MAX_NOTE_BYTES - *notes)
		return its_err_set(err, -EINVAL, s->path, phdr_off,
				   "PT_NOTE #%d: %llu bytes of notes in all, over the limit of %u",
				   index,
				   (unsigned long long)(*notes + ph->p_filesz),
				   ELFCORE_MAX_NOTE_BYTES);
	*notes += ph->p_filesz;
	d = elf_getdata_rawchunk(elf, (int64_t)ph->p_offset,
				 (size_t)ph->p_filesz, ELF_T_NHDR);
	if (!d)
		return its_err_set(err, -EINVAL, s->path, ph->p_offset,
				   "PT_NOTE #%d: cannot read notes: %s", index,
				   elf_errmsg(-1));
	while (pos < d->d_size) {
		next = gelf_getnote(d, pos, &nh, &name_off, &desc_off);
		if (next == 0)
			return its_err_set(err, -EINVAL, s->path,
					   ph->p_offset + pos,
					   "malformed note in PT_NOTE #%d (note header sizes exceed the segment)",
					   index);
		if (nh.n_type == NT_PRSTATUS &&
		    nh.n_namesz == sizeof(NOTE_NAME_CORE) &&
		    !memcmp((const char *)d->d_buf + name_off, NOTE_NAME_CORE,
			    sizeof(NOTE_NAME_CORE)))
			(*nr)++;
		pos = next;
	}
	return 0;
}

static int read_phdrs(struct snapshot *s, Elf *elf, struct its_err *err)
{
	GElf_Ehdr eh;
	size_t phnum, nr_load = 0;
	int vcpus = 0, rc;
	uint64_t tab_end, notes = 0, phoff_field, phnum_field;
	const char *cls;
	char types[80] = "";
	bool is64;

	if (!gelf_getehdr(elf, &eh))
		return its_err_set(err, -EINVAL, s->path, 0,
				   "not an ELF64/ELF32 core file: %s",
				   elf_errmsg(-1));
	if (eh.e_type != ET_CORE)
		return its_err_set(err, -EINVAL, s->path, 16,
				   "ELF file is not a core dump (e_type %u, expected %u ET_CORE)",
				   eh.e_type, ET_CORE);
	if (eh.e_machine != EM_AARCH64 && eh.e_machine != EM_ARM)
		return its_err_set(err, -EINVAL, s->path, 18,
				   "core dump is for machine %u, not ARM (expected %u EM_AARCH64)",
				   eh.e_machine, EM_AARCH64);
	is64 = gelf_getclass(elf) == ELFCLASS64;
	cls = is64 ? "ELF64" : "ELF32";
	phoff_field = is64 ? offsetof(Elf64_Ehdr, e_phoff) :
			     offsetof(Elf32_Ehdr, e_phoff);
	phnum_field = is64 ? offsetof(Elf64_Ehdr, e_phnum) :
			     offsetof(Elf32_Ehdr, e_phnum);
	if (eh.e_phentsize != (gelf_getclass(elf) == ELFCLASS64 ?
			       sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
		return its_err_set(err, -EINVAL, s->path, 54,
				   "unexpected program header size %u",
				   eh.e_phentsize);
	/* libelf takes e_phoff 0 for "no table": the field is what is wrong */
	if (eh.e_phoff == 0 && eh.e_phnum != 0)
		return its_err_set(err, -EINVAL, s->path, phoff_field,
				   "e_phoff is 0 with e_phnum %u: the program header table is missing (no guest RAM)",
				   eh.e_phnum);
	/* a table no file can hold (its end wraps): the offset is the
	 * damage, not a short file; and all ones would read as "no offset" */
	if (its_add_overflows(eh.e_phoff,
			      (uint64_t)(eh.e_phnum != PN_XNUM ? eh.e_phnum : 1) *
			      eh.e_phentsize, &tab_end))
		return its_err_set(err, -EINVAL, s->path, phoff_field,
				   "e_phoff 0x%llx: the program header table (%u entries) would end past 2^64, far beyond the end of the file (%llu bytes)",
				   (unsigned long long)eh.e_phoff, eh.e_phnum,
				   (unsigned long long)s->file_size);
	/* libelf reports a cut-off table as "no headers": say what it is */
	if (eh.e_phnum != PN_XNUM &&
	    (eh.e_phoff > s->file_size ||
	     eh.e_phoff + (uint64_t)eh.e_phnum * eh.e_phentsize > s->file_size))
		return its_err_set(err, -EINVAL, s->path, eh.e_phoff,
				   "program header table (%u entries) runs past end of file (%llu bytes): truncated core?",
				   eh.e_phnum, (unsigned long long)s->file_size);
	if (elf_getphdrnum(elf, &phnum) != 0)
		return its_err_set(err, -EINVAL, s->path, phnum_field,
				   "cannot count program headers: %s",
				   elf_errmsg(-1));
	if (phnum == 0)
		return its_err_set(err, -EINVAL, s->path, phnum_field,
				   "core dump has no program headers (no guest RAM)");
	if (phnum > ELFCORE_MAX_PHNUM)
		return its_err_set(err, -EINVAL, s->path,
				   eh.e_phnum != PN_XNUM ? phnum_field :
				   eh.e_shoff + (is64 ? 44 : 28),
				   "%zu program headers over the limit of %u",
				   phnum, ELFCORE_MAX_PHNUM);
	tab_end = eh.e_phoff + (uint64_t)phnum * eh.e_phentsize;
	if (eh.e_phoff > s->file_size || tab_end > s->file_size ||
	    tab_end < eh.e_phoff)
		return its_err_set(err, -EINVAL, s->path, eh.e_phoff,
				   "program header table (%zu entries) runs past end of file (%llu bytes): truncated core?",
				   phnum, (unsigned long long)s->file_size);

	rc = gmem_new(&s->mem, s->path, s->fd, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		uint64_t end;
		char name[32];

		if (!gelf_getphdr(elf, (int)i, &ph))
			return its_err_set(err, -EINVAL, s->path,
					   eh.e_phoff + i * eh.e_phentsize,
					   "cannot read program header #%zu: %s",
					   i, elf_errmsg(-1));
		if (i < 4)
			phdr_type_name(types, sizeof(types), ph.p_type, i);
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		if (its_add_overflows(ph.p_offset, ph.p_filesz, &end) ||
		    end > s->file_size)
			return its_err_set(err, -EINVAL, s->path,
					   eh.e_phoff + i * eh.e_phentsize,
					   "%s #%zu (paddr 0x%llx, offset 0x%llx, filesz 0x%llx) extends past end of file (%llu bytes)",
					   ph.p_type == PT_LOAD ? "PT_LOAD" : "PT_NOTE",
					   i, (unsigned long long)ph.p_paddr,
					   (unsigned long long)ph.p_offset,
					   (unsigned long long)ph.p_filesz,
					   (unsigned long long)s->file_size);
		if (ph.p_type == PT_NOTE) {
			rc = count_prstatus(s, elf, &ph, (int)i,
					    eh.e_phoff + i * eh.e_phentsize,
					    &notes, &vcpus, err);
			if (rc < 0)
				return rc;
			continue;
		}
		if (ph.p_filesz > ph.p_memsz)
			return its_err_set(err, -EINVAL, s->path,
					   eh.e_phoff + i * eh.e_phentsize,
					   "PT_LOAD #%zu (paddr 0x%llx): p_filesz 0x%llx is larger than p_memsz 0x%llx",
					   i, (unsigned long long)ph.p_paddr,
					   (unsigned long long)ph.p_filesz,
					   (unsigned long long)ph.p_memsz);
		if (ph.p_memsz == 0)
			continue;
		nr_load++;
		snprintf(name, sizeof(name), "PT_LOAD #%zu", i);
		rc = gmem_add_extent(s->mem, name, ph.p_paddr, ph.p_memsz,
				     ph.p_offset, ph.p_filesz, err);
		if (rc < 0) {
			err->offset = eh.e_phoff + i * eh.e_phentsize;
			return rc;
		}
	}
	/* without guest memory every table read would fail: the checker
	 * would blame the tables for a core that holds none */
	if (!nr_load)
		return its_err_set(err, -EINVAL, s->path, eh.e_phoff,
				   "no PT_LOAD in the program header table (%zu entr%s: %s%s): the core holds no guest memory",
				   phnum, phnum == 1 ? "y" : "ies", types,
				   phnum > 4 ? ", ..." : "");
	rc = gmem_seal(s->mem, err);
	if (rc < 0)
		return rc;
	s->nr_vcpus = vcpus > 0 ? vcpus : -1;
	s->format = SNAP_FORMAT_ELF;
	snprintf(s->format_desc, sizeof(s->format_desc),
		 "%s core, %s, %s-endian", cls,
		 eh.e_machine == EM_AARCH64 ? "EM_AARCH64" : "EM_ARM",
		 eh.e_ident[EI_DATA] == ELFDATA2MSB ? "big" : "little");
	return 0;
}

/* e_ident[EI_CLASS], or ELFCLASSNONE when it cannot be read */
static int elf_class(const struct snapshot *s)
{
	uint8_t c;

	if (pread(s->fd, &c, 1, EI_CLASS) != 1)
		return ELFCLASSNONE;
	return c;
}

int elfcore_open(struct snapshot *s, const struct snap_open_opts *opts,
		 struct its_err *err)
{
	Elf *elf;
	int rc;

	(void)opts;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return its_err_set(err, -EINVAL, s->path, ITS_ERR_NO_OFFSET,
				   "libelf is out of date");
	/* libelf calls an ELF64 file of 52..63 bytes "not ELF": it is cut */
	if (s->file_size < sizeof(Elf32_Ehdr) ||
	    (s->file_size < sizeof(Elf64_Ehdr) && elf_class(s) == ELFCLASS64))
		return its_err_set(err, -EINVAL, s->path, 0,
				   "truncated ELF header (%llu bytes)",
				   (unsigned long long)s->file_size);
	/* ELF_C_READ reads headers on demand: never maps or reads the RAM. */
	elf = elf_begin(s->fd, ELF_C_READ, NULL);
	if (!elf)
		return its_err_set(err, -EINVAL, s->path, 0,
				   "not an ELF core file: %s", elf_errmsg(-1));
	if (elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		return its_err_set(err, -EINVAL, s->path, 0,
				   "not an ELF64/ELF32 core file");
	}
	rc = read_phdrs(s, elf, err);
	elf_end(elf);
	return rc;
}
