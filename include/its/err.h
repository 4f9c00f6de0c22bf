/* Error context: every fallible function returns 0 or a negative errno-style
 * code and fills one of these, so that main() can print one line that names
 * the file, where in it, and what was expected. */
#ifndef ITS_ERR_H
#define ITS_ERR_H

#include <stdarg.h>
#include <stdint.h>

#define ITS_ERR_NO_OFFSET UINT64_MAX

struct its_err {
	int code;		/* negative errno, 0 when clear */
	char file[256];		/* file the error is about, "" when none */
	uint64_t offset;	/* file offset, ITS_ERR_NO_OFFSET when none */
	char msg[512];		/* lower case, no full stop, one line */
};

void its_err_clear(struct its_err *err);

/* Fill err (when non-NULL) and return code, so callers can write
 * `return its_err_set(err, -EINVAL, path, off, "...")`. */
int its_err_set(struct its_err *err, int code, const char *file,
		uint64_t offset, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
int its_err_vset(struct its_err *err, int code, const char *file,
		 uint64_t offset, const char *fmt, va_list ap);

/* Prefix the message with more context ("section 'x': " + old message). */
void its_err_prefix(struct its_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "file: offset 0x1a2b: message" (parts that are unset are left out). */
void its_err_format(const struct its_err *err, char *buf, unsigned long len);

#endif
