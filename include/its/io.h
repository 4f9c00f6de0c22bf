/* Checked file I/O: a short read is an error that names the file and offset. */
#ifndef ITS_IO_H
#define ITS_IO_H

#include <stddef.h>
#include <stdint.h>

#include "its/err.h"

/* Read exactly len bytes at off; -EIO with "unexpected end of file" when the
 * file is shorter, -errno when the read fails. */
int its_pread_full(int fd, void *buf, size_t len, uint64_t off,
		   const char *path, struct its_err *err);

/* Read a whole small file (at most max bytes) into a NUL-terminated buffer. */
int its_read_small_file(const char *path, size_t max, char **out, size_t *len,
			struct its_err *err);

#endif
