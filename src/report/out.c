#include "its/out.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define OUT_MAX_DEPTH 32

/* ECMA-48 SGR sequences, the only place they are spelled */
#define SGR_RESET	"\033[0m"
#define SGR_RED		"\033[31m"
#define SGR_YELLOW	"\033[33m"
#define SGR_FAINT	"\033[2m"
#define SGR_GREEN	"\033[32m"

struct out {
	enum out_mode mode;
	FILE *f;
	bool pretty;
	bool color;
	enum out_role role;		/* colour now in effect (text) */
	int write_errno;		/* first failed write, 0 if none */
	json_object *stack[OUT_MAX_DEPTH];
	bool has_members[OUT_MAX_DEPTH];
	int depth;		/* stack[depth-1] is the open container */
	json_object *root;
	/* the compact size of the document so far; past the limit the tree
	 * stops growing (its memory is a multiple of this) */
	uint64_t bytes, limit;
	bool oom, over;
};

struct out *out_new(enum out_mode mode, FILE *f, bool pretty)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->mode = mode;
	o->f = f;
	o->pretty = pretty;
	o->limit = OUT_JSON_MAX_BYTES;
	return o;
}

enum out_mode out_mode(const struct out *o)
{
	return o->mode;
}

void out_set_json_limit(struct out *o, uint64_t max_bytes)
{
	o->limit = max_bytes;
}

uint64_t out_json_bytes(const struct out *o)
{
	return o->bytes;
}

void out_free(struct out *o)
{
	if (!o)
		return;
	json_object_put(o->root);
	free(o);
}

/* ---------------------------------------------------------------- text */

static void text_v(struct out *o, const char *fmt, va_list ap)
{
	if (vfprintf(o->f, fmt, ap) < 0 && !o->write_errno)
		o->write_errno = errno ? errno : EIO;
}

static void text(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void text(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	text_v(o, fmt, ap);
	va_end(ap);
}

void out_set_color(struct out *o, bool on)
{
	o->color = on && o->mode == OUT_TEXT;
}

void out_role(struct out *o, enum out_role r)
{
	static const char *const sgr[] = {
		[OUT_ROLE_NONE] = "",
		[OUT_ROLE_ERROR] = SGR_RED,
		[OUT_ROLE_WARNING] = SGR_YELLOW,
		[OUT_ROLE_DIM] = SGR_FAINT,
		[OUT_ROLE_OK] = SGR_GREEN,
	};

	if (!o->color || r == o->role || (unsigned)r >= sizeof(sgr) / sizeof(sgr[0]))
		return;
	text(o, "%s%s", o->role != OUT_ROLE_NONE ? SGR_RESET : "", sgr[r]);
	o->role = r;
}

/* ---------------------------------------------------------------- JSON */

/* Bytes json-c's compact form spends on s, quotes included (json-c 0.16
 * escapes " \ and control characters, and with NOSLASHESCAPE nothing else;
 * check_term.c compares the count with real output). */
static uint64_t json_str_bytes(const char *s)
{
	uint64_t n = 2;

	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		switch (*p) {
		case '"': case '\\': case '\b': case '\f': case '\n': case '\r':
		case '\t':
			n += 2;
			break;
		default:
			n += *p < 0x20 ? 6 : 1;
		}
	}
	return n;
}

static uint64_t json_u64_bytes(uint64_t v)
{
	uint64_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* Count a value of vbytes going into the open container (or becoming the
 * document); false when that would pass the limit, and then nothing more
 * is built. */
static bool account(struct out *o, const char *key, uint64_t vbytes)
{
	uint64_t n = vbytes;

	if (o->oom || o->over)
		return false;
	if (o->depth == 0) {
		o->bytes = 0;
	} else {
		json_object *parent = o->stack[o->depth - 1];

		if (!json_object_is_type(parent, json_type_array))
			n += json_str_bytes(key ? key : "?") + 1;
		if (o->has_members[o->depth - 1])
			n++;
	}
	if (n > o->limit || o->bytes > o->limit - n) {
		o->over = true;
		return false;
	}
	o->bytes += n;
	if (o->depth > 0)
		o->has_members[o->depth - 1] = true;
	return true;
}

static void add(struct out *o, const char *key, json_object *v,
		uint64_t vbytes)
{
	json_object *parent;

	if (!v) {
		o->oom = true;
		return;
	}
	if (!account(o, key, vbytes)) {
		json_object_put(v);
		return;
	}
	if (o->depth == 0) {
		/* a value with no container becomes the document */
		json_object_put(o->root);
		o->root = v;
		return;
	}
	parent = o->stack[o->depth - 1];
	if (json_object_is_type(parent, json_type_array))
		json_object_array_add(parent, v);
	else
		json_object_object_add(parent, key ? key : "?", v);
}

static void open_container(struct out *o, const char *key, json_object *c)
{
	if (!c || o->depth >= OUT_MAX_DEPTH)
		o->oom = true;
	if (!c || o->oom || !account(o, key, 2)) {
		json_object_put(c);
		return;
	}
	if (o->depth == 0) {
		json_object_put(o->root);
		o->root = c;
	} else {
		json_object *parent = o->stack[o->depth - 1];

		if (json_object_is_type(parent, json_type_array))
			json_object_array_add(parent, c);
		else
			json_object_object_add(parent, key ? key : "?", c);
	}
	o->has_members[o->depth] = false;
	o->stack[o->depth++] = c;
}

void out_obj_begin(struct out *o, const char *key)
{
	if (o->mode == OUT_JSON)
		open_container(o, key, json_object_new_object());
}

void out_arr_begin(struct out *o, const char *key)
{
	if (o->mode == OUT_JSON)
		open_container(o, key, json_object_new_array());
}

static void close_container(struct out *o)
{
	/* once the build failed, containers are no longer pushed */
	if (o->mode == OUT_JSON && o->depth > 0 && !o->oom && !o->over)
		o->depth--;
}

void out_obj_end(struct out *o)
{
	close_container(o);
}

void out_arr_end(struct out *o)
{
	close_container(o);
}

/* ---------------------------------------------------------------- fields */

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
void out_u64(struct out *o, const char *key, const char *fmt, uint64_t v)
{
	if (o->mode == OUT_JSON)
		add(o, key, json_object_new_uint64(v), json_u64_bytes(v));
	else if (fmt)
		text(o, fmt, (unsigned long long)v);
}

void out_hex(struct out *o, const char *key, const char *fmt, uint64_t v,
	     int digits)
{
	if (o->mode == OUT_JSON) {
		char buf[24];

		snprintf(buf, sizeof(buf), "0x%0*llx", digits,
			 (unsigned long long)v);
		add(o, key, json_object_new_string(buf), json_str_bytes(buf));
	} else if (fmt) {
		text(o, fmt, (unsigned long long)v);
	}
}

void out_str(struct out *o, const char *key, const char *fmt, const char *s)
{
	if (o->mode == OUT_JSON)
		add(o, key, json_object_new_string(s), json_str_bytes(s));
	else if (fmt)
		text(o, fmt, s);
}
#pragma GCC diagnostic pop

void out_hex_le(struct out *o, const char *key, const char *fmt,
		const uint8_t *bytes, unsigned len)
{
	char buf[2 + 2 * 32 + 1];
	unsigned n = len > 32 ? 32 : len;

	buf[0] = '0';
	buf[1] = 'x';
	for (unsigned i = 0; i < n; i++)
		snprintf(buf + 2 + 2 * i, 3, "%02x", bytes[n - 1 - i]);
	buf[2 + 2 * n] = '\0';
	out_str(o, key, fmt, buf);
}

void out_bool(struct out *o, const char *key, const char *t, const char *f,
	      bool v)
{
	if (o->mode == OUT_JSON)
		add(o, key, json_object_new_boolean(v), v ? 4 : 5);
	else if (v ? t : f)
		text(o, "%s", v ? t : f);
}

void out_null(struct out *o, const char *key, const char *txt)
{
	if (o->mode == OUT_JSON) {
		json_object *parent;

		if (o->depth == 0 || !account(o, key, 4))
			return;
		parent = o->stack[o->depth - 1];
		if (json_object_is_type(parent, json_type_array))
			json_object_array_add(parent, NULL);
		else
			json_object_object_add(parent, key, NULL);
	} else if (txt) {
		text(o, "%s", txt);
	}
}

void out_text(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->mode != OUT_TEXT)
		return;
	va_start(ap, fmt);
	text_v(o, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- finish */

int out_finish_err(struct out *o, const char *what, struct its_err *err)
{
	int e;

	if (!what)
		what = "the output";
	if (o->mode == OUT_JSON && o->over)
		return its_err_set(err, -EFBIG, NULL, ITS_ERR_NO_OFFSET,
				   "JSON output over the limit of %llu bytes: nothing written (text output has no limit)",
				   (unsigned long long)o->limit);
	if (o->oom)
		return its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET,
				   "out of memory building the JSON output");
	out_role(o, OUT_ROLE_NONE);
	if (o->mode == OUT_JSON && o->root) {
		int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
			    (o->pretty ? JSON_C_TO_STRING_PRETTY |
					 JSON_C_TO_STRING_SPACED :
					 JSON_C_TO_STRING_PLAIN);
		const char *s = json_object_to_json_string_ext(o->root, flags);

		if (!s)
			return its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET,
					   "out of memory writing the JSON output");
		if ((fputs(s, o->f) == EOF || fputc('\n', o->f) == EOF) &&
		    !o->write_errno)
			o->write_errno = errno ? errno : EIO;
	}
	errno = 0;
	if (fflush(o->f) != 0 && !o->write_errno)
		o->write_errno = errno ? errno : EIO;
	if (!o->write_errno && ferror(o->f))
		o->write_errno = EIO;
	if (!o->write_errno)
		return 0;
	e = o->write_errno;
	return its_err_set(err, -e, NULL, ITS_ERR_NO_OFFSET,
			   "error writing %s: %s", what, strerror(e));
}

int out_finish(struct out *o)
{
	return out_finish_err(o, NULL, NULL);
}
