/* One emitter, two backends. Each call carries both the JSON key and the
 * text format of one field, so the text and JSON outputs are built by the
 * same calls in the same order and cannot drift apart (iproute2's
 * print_*(PRINT_ANY, ...) idea). Text formats take exactly one conversion:
 * %llu/%llx for numbers, %s for strings. */
#ifndef ITS_OUT_H
#define ITS_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum out_mode { OUT_TEXT, OUT_JSON };

struct out;

struct out *out_new(enum out_mode mode, FILE *f, bool pretty);
/* Write the JSON document (JSON mode) and flush; -EIO if writing failed. */
int out_finish(struct out *o);
void out_free(struct out *o);
enum out_mode out_mode(const struct out *o);

/* Containers: key is the member name inside an object, NULL inside an array
 * or for the top-level object. Text output ignores them. */
void out_obj_begin(struct out *o, const char *key);
void out_obj_end(struct out *o);
void out_arr_begin(struct out *o, const char *key);
void out_arr_end(struct out *o);

/* Fields. A NULL text format prints nothing in text mode (the value is in the
 * surrounding text already, or shown by another field). */
void out_u64(struct out *o, const char *key, const char *fmt, uint64_t v);
/* JSON: "0x..." string with at least `digits` hex digits (0: as needed). */
void out_hex(struct out *o, const char *key, const char *fmt, uint64_t v,
	     int digits);
/* JSON: "0x..." string of raw bytes as one little-endian number. */
void out_hex_le(struct out *o, const char *key, const char *fmt,
		const uint8_t *bytes, unsigned len);
void out_str(struct out *o, const char *key, const char *fmt, const char *s);
/* Text: prints t or f. */
void out_bool(struct out *o, const char *key, const char *t, const char *f,
	      bool v);
void out_null(struct out *o, const char *key, const char *text);

/* Text only: headings, column titles, new lines. */
void out_text(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
