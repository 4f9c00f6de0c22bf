#include "its/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int its_pread_full(int fd, void *buf, size_t len, uint64_t off,
		   const char *path, struct its_err *err)
{
	uint8_t *p = buf;
	size_t done = 0;

	if (off > (uint64_t)INT64_MAX - len)
		return its_err_set(err, -EINVAL, path, off,
				   "read of %zu bytes past the largest file offset",
				   len);
	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return its_err_set(err, -errno, path, off + done,
					   "read failed: %s", strerror(errno));
		}
		if (n == 0)
			return its_err_set(err, -EIO, path, off + done,
					   "unexpected end of file (wanted %zu more bytes)",
					   len - done);
		done += (size_t)n;
	}
	return 0;
}

int its_read_small_file(const char *path, size_t max, char **out, size_t *len,
			struct its_err *err)
{
	struct stat st;
	char *buf;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return its_err_set(err, -errno, path, ITS_ERR_NO_OFFSET,
				   "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return its_err_set(err, -EINVAL, path, ITS_ERR_NO_OFFSET,
				   "not a regular file");
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return its_err_set(err, -EFBIG, path, ITS_ERR_NO_OFFSET,
				   "file is %lld bytes, more than the %zu expected",
				   (long long)st.st_size, max);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return its_err_set(err, -ENOMEM, path, ITS_ERR_NO_OFFSET,
				   "out of memory");
	}
	rc = its_pread_full(fd, buf, (size_t)st.st_size, 0, path, err);
	close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[st.st_size] = '\0';
	*out = buf;
	if (len)
		*len = (size_t)st.st_size;
	return 0;
}
