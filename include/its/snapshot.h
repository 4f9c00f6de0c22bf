/* One opened snapshot, whatever its kind: the guest memory map, the register
 * sets found inside it, and where it came from (for the report). */
#ifndef ITS_SNAPSHOT_H
#define ITS_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "its/err.h"
#include "its/gmem.h"
#include "its/regset.h"

enum snap_format {
	SNAP_FORMAT_ELF,		/* dump-guest-memory ELF core */
	SNAP_FORMAT_RAW,		/* flat RAM image */
	SNAP_FORMAT_QEMU_STREAM,	/* QEMU migration stream */
	SNAP_FORMAT_LIBVIRT,		/* virsh save image (stream inside) */
};

/* One RAMBlock name -> GPA override (--ram-base NAME=GPA). */
struct snap_ram_base {
	const char *name;		/* NULL: the whole raw image / any block */
	uint64_t gpa;
};

/* Progress of a reader that passes over the whole file (a migration
 * stream): file bytes behind it, of total. Called at cheap points, at most
 * once per 64 MiB of file; it must not fail. The snap layer never prints:
 * the caller decides what to show. */
typedef void (*snap_progress_fn)(void *arg, uint64_t done, uint64_t total);

struct snap_open_opts {
	const struct snap_ram_base *ram_bases;
	size_t nr_ram_bases;
	snap_progress_fn progress;	/* NULL: none */
	void *progress_arg;
};

struct snapshot {
	char *path;
	int fd;
	uint64_t file_size;
	enum snap_format format;
	char format_desc[128];		/* e.g. "ELF64 core, EM_AARCH64, little-endian" */
	struct gmem *mem;
	int nr_vcpus;			/* -1 when the snapshot does not say */
	struct its_regset regs;		/* registers held by the snapshot itself */
	void *priv;			/* reader-specific state */
	void (*priv_free)(void *priv);
};

const char *snap_format_name(enum snap_format f);

/* Detect the kind from the magic bytes and open it with the right reader.
 * Errors: -EINVAL bad data, -ENOTSUP a kind not supported (yet), -errno. */
int snapshot_open(const char *path, const struct snap_open_opts *opts,
		  struct snapshot **out, struct its_err *err);
void snapshot_close(struct snapshot *s);

/* Reader entry points used by snapshot_open (s->fd, path, size are set). */
int elfcore_open(struct snapshot *s, const struct snap_open_opts *opts,
		 struct its_err *err);
int raw_open(struct snapshot *s, const struct snap_open_opts *opts,
	     struct its_err *err);

#endif
