/* Pick the reader from the magic bytes. Inputs must be seekable files: the
 * readers index by file offset and never stream. */
#include "its/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "its/io.h"
#include "its/migstream.h"

const char *snap_format_name(enum snap_format f)
{
	switch (f) {
	case SNAP_FORMAT_ELF: return "elf";
	case SNAP_FORMAT_RAW: return "raw";
	case SNAP_FORMAT_QEMU_STREAM: return "qemu-stream";
	case SNAP_FORMAT_LIBVIRT: return "libvirt-save";
	}
	return "?";
}

static int open_checked(struct snapshot *s, struct its_err *err)
{
	struct stat st;

	s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0)
		return its_err_set(err, -errno, s->path, ITS_ERR_NO_OFFSET,
				   "cannot open: %s", strerror(errno));
	if (fstat(s->fd, &st) < 0)
		return its_err_set(err, -errno, s->path, ITS_ERR_NO_OFFSET,
				   "cannot stat: %s", strerror(errno));
	if (S_ISDIR(st.st_mode))
		return its_err_set(err, -EISDIR, s->path, ITS_ERR_NO_OFFSET,
				   "is a directory, not a snapshot file");
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
	    S_ISCHR(st.st_mode))
		return its_err_set(err, -ESPIPE, s->path, ITS_ERR_NO_OFFSET,
				   "not seekable: a snapshot must be a regular file or block device (save the pipe to a file first)");
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(s->fd, 0, SEEK_END);

		if (end < 0)
			return its_err_set(err, -errno, s->path,
					   ITS_ERR_NO_OFFSET,
					   "cannot size block device: %s",
					   strerror(errno));
		s->file_size = (uint64_t)end;
	} else {
		s->file_size = (uint64_t)st.st_size;
	}
	if (s->file_size == 0)
		return its_err_set(err, -EINVAL, s->path, 0,
				   "empty file (0 bytes): not a snapshot");
	return 0;
}

/* The first (up to 4) bytes of the file as "7f 45 4c": only bytes the
 * file has, never the zeros after a short one. */
static const char *magic_text(const uint8_t *m, size_t n, char buf[16])
{
	size_t k = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && i < 4; i++)
		k += (size_t)snprintf(buf + k, 16 - k, "%s%02x", i ? " " : "",
				      m[i]);
	return buf;
}

static bool have_whole_ram_base(const struct snap_open_opts *o)
{
	for (size_t i = 0; o && i < o->nr_ram_bases; i++)
		if (!o->ram_bases[i].name)
			return true;
	return false;
}

int snapshot_open(const char *path, const struct snap_open_opts *opts,
		  struct snapshot **out, struct its_err *err)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	uint8_t m[16] = { 0 };
	char hex[16];
	size_t n;
	int rc;

	if (!s)
		return its_err_set(err, -ENOMEM, path, ITS_ERR_NO_OFFSET,
				   "out of memory");
	s->fd = -1;
	s->nr_vcpus = -1;
	s->path = strdup(path);
	if (!s->path) {
		free(s);
		return its_err_set(err, -ENOMEM, path, ITS_ERR_NO_OFFSET,
				   "out of memory");
	}
	rc = open_checked(s, err);
	if (rc < 0)
		goto fail;
	n = s->file_size < sizeof(m) ? (size_t)s->file_size : sizeof(m);
	rc = its_pread_full(s->fd, m, n, 0, path, err);
	if (rc < 0)
		goto fail;

	if (n < 4 && !memcmp(m, "\177ELF", n)) {
		/* the magic's first bytes and nothing more: a cut core */
		rc = its_err_set(err, -EINVAL, path, 0,
				 "the file is %zu byte%s long, too short for an ELF header (magic %s)",
				 n, n == 1 ? "" : "s", magic_text(m, n, hex));
	} else if (n >= 4 && !memcmp(m, "\177ELF", 4)) {
		if (opts && opts->nr_ram_bases)
			rc = its_err_set(err, -EINVAL, path, ITS_ERR_NO_OFFSET,
					 "--ram-base does not apply to ELF cores: their program headers give every GPA");
		else
			rc = elfcore_open(s, opts, err);
	} else if ((n >= 4 && !memcmp(m, "QEVM", 4)) ||
		   (n >= 16 && (!memcmp(m, "LibvirtQemudSave", 16) ||
				!memcmp(m, "LibvirtQemudPart", 16)))) {
		rc = migstream_open(s, opts, err);
	} else if (have_whole_ram_base(opts)) {
		/* --ram-base GPA without a name: the user says it is raw */
		rc = raw_open(s, opts, err);
	} else if (n >= 8 && !memcmp(m, "KDUMP   ", 8)) {
		rc = its_err_set(err, -ENOTSUP, path, 0,
				 "not supported: kdump-compressed dumps (take an ELF dump: dump-guest-memory without -z/-l/-s, or virsh dump --memory-only --format elf)");
	} else if (n >= 12 && !memcmp(m, "makedumpfile", 12)) {
		rc = its_err_set(err, -ENOTSUP, path, 0,
				 "not supported: makedumpfile flattened kdump (take an ELF dump: dump-guest-memory without -z/-l/-s)");
	} else if (n >= 8 && (!memcmp(m, "PAGEDU64", 8) ||
			      !memcmp(m, "PAGEDUMP", 8))) {
		rc = its_err_set(err, -ENOTSUP, path, 0,
				 "not supported: Windows crash dump format");
	} else {
		rc = its_err_set(err, -EINVAL, path, 0,
				 "unknown snapshot format (magic %s%s): expected an ELF core, a QEMU migration stream, a virsh save image, or a raw RAM image with --ram-base GPA",
				 magic_text(m, n, hex),
				 n < 4 ? ", the whole file" : "");
	}
	if (rc < 0)
		goto fail;
	if (!s->mem) {
		rc = its_err_set(err, -EINVAL, path, ITS_ERR_NO_OFFSET,
				 "snapshot holds no guest RAM");
		goto fail;
	}
	*out = s;
	return 0;
fail:
	snapshot_close(s);
	return rc;
}

void snapshot_close(struct snapshot *s)
{
	if (!s)
		return;
	if (s->priv_free)
		s->priv_free(s->priv);
	gmem_free(s->mem);
	its_regset_release(&s->regs);
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	free(s);
}
