#include "its/err.h"

#include <stdio.h>
#include <string.h>

void its_err_clear(struct its_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->file[0] = '\0';
	err->offset = ITS_ERR_NO_OFFSET;
	err->msg[0] = '\0';
}

int its_err_vset(struct its_err *err, int code, const char *file,
		 uint64_t offset, const char *fmt, va_list ap)
{
	if (!err)
		return code;
	err->code = code;
	snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
	err->offset = offset;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return code;
}

int its_err_set(struct its_err *err, int code, const char *file,
		uint64_t offset, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	its_err_vset(err, code, file, offset, fmt, ap);
	va_end(ap);
	return code;
}

void its_err_prefix(struct its_err *err, const char *fmt, ...)
{
	char pre[256], old[sizeof(err->msg)];
	size_t n;
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	n = strlen(pre);
	if (n >= sizeof(err->msg))
		n = sizeof(err->msg) - 1;
	memcpy(err->msg, pre, n);
	/* the old message is cut, not the context in front of it */
	snprintf(err->msg + n, sizeof(err->msg) - n, "%.*s",
		 (int)(sizeof(err->msg) - n - 1), old);
}

void its_err_format(const struct its_err *err, char *buf, unsigned long len)
{
	int n = 0;

	buf[0] = '\0';
	if (err->file[0])
		n = snprintf(buf, len, "%s: ", err->file);
	if (n >= 0 && (unsigned long)n < len && err->offset != ITS_ERR_NO_OFFSET)
		n += snprintf(buf + n, len - n, "offset 0x%llx: ",
			      (unsigned long long)err->offset);
	if (n >= 0 && (unsigned long)n < len)
		snprintf(buf + n, len - n, "%s",
			 err->msg[0] ? err->msg : strerror(-err->code));
}
