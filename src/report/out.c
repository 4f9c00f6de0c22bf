#include "its/out.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define OUT_MAX_DEPTH 32

struct out {
	enum out_mode mode;
	FILE *f;
	bool pretty;
	json_object *stack[OUT_MAX_DEPTH];
	int depth;		/* stack[depth-1] is the open container */
	json_object *root;
	bool oom;
};

struct out *out_new(enum out_mode mode, FILE *f, bool pretty)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->mode = mode;
	o->f = f;
	o->pretty = pretty;
	return o;
}

enum out_mode out_mode(const struct out *o)
{
	return o->mode;
}

void out_free(struct out *o)
{
	if (!o)
		return;
	json_object_put(o->root);
	free(o);
}

static void add(struct out *o, const char *key, json_object *v)
{
	json_object *parent;

	if (!v) {
		o->oom = true;
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
	if (o->mode != OUT_JSON)
		return;
	if (!c || o->depth >= OUT_MAX_DEPTH) {
		json_object_put(c);
		o->oom = true;
		return;
	}
	if (o->depth == 0) {
		json_object_put(o->root);
		o->root = c;
	} else {
		add(o, key, c);
	}
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
	if (o->mode == OUT_JSON && o->depth > 0)
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

static void text(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void text(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(o->f, fmt, ap);
	va_end(ap);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
void out_u64(struct out *o, const char *key, const char *fmt, uint64_t v)
{
	if (o->mode == OUT_JSON)
		add(o, key, json_object_new_uint64(v));
	else if (fmt)
		fprintf(o->f, fmt, (unsigned long long)v);
}

void out_hex(struct out *o, const char *key, const char *fmt, uint64_t v,
	     int digits)
{
	if (o->mode == OUT_JSON) {
		char buf[24];

		snprintf(buf, sizeof(buf), "0x%0*llx", digits,
			 (unsigned long long)v);
		add(o, key, json_object_new_string(buf));
	} else if (fmt) {
		fprintf(o->f, fmt, (unsigned long long)v);
	}
}

void out_str(struct out *o, const char *key, const char *fmt, const char *s)
{
	if (o->mode == OUT_JSON)
		add(o, key, json_object_new_string(s));
	else if (fmt)
		fprintf(o->f, fmt, s);
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
		add(o, key, json_object_new_boolean(v));
	else if (v ? t : f)
		text(o, "%s", v ? t : f);
}

void out_null(struct out *o, const char *key, const char *txt)
{
	if (o->mode == OUT_JSON) {
		json_object *parent;

		if (o->depth == 0)
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
	vfprintf(o->f, fmt, ap);
	va_end(ap);
}

int out_finish(struct out *o)
{
	if (o->mode == OUT_JSON && o->root) {
		int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
			    (o->pretty ? JSON_C_TO_STRING_PRETTY |
					 JSON_C_TO_STRING_SPACED :
					 JSON_C_TO_STRING_PLAIN);
		const char *s = json_object_to_json_string_ext(o->root, flags);

		if (!s)
			return -ENOMEM;
		fputs(s, o->f);
		fputc('\n', o->f);
	}
	if (o->oom)
		return -ENOMEM;
	if (fflush(o->f) != 0 || ferror(o->f))
		return -EIO;
	return 0;
}
