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

#include "its/err.h"

enum out_mode { OUT_TEXT, OUT_JSON };

/* The largest JSON document the emitter builds, counted as its compact
 * form (--pretty only adds white space on top). The largest legitimate
 * one is its-dump -j of 65536 DeviceIDs with 2^16 valid events each, every
 * number at its widest: 2^32 events of 187 bytes in QEMU's emulated-ITS
 * layout, 0.80 TB (137 bytes, 0.59 TB in KVM's); even with every walk flag
 * on every entry it is 1.65 TB (check_term.c asserts these sizes).
 * its-fsck's spend at most about 190 bytes an event (three short objects
 * in QEMU's layout after a repair: delivered, restored, delivered).
 * 2 TiB (2.20 TB) keeps twice the largest legitimate document; what
 * reaches it can only come from a bug, and is refused before anything is
 * written (the tree stops growing there). */
#define OUT_JSON_MAX_BYTES (2ULL << 40)

struct out;

struct out *out_new(enum out_mode mode, FILE *f, bool pretty);
/* Write the JSON document (JSON mode) and flush. 0, or -EFBIG when the
 * JSON document went over its limit (then nothing is written), -ENOMEM,
 * or the negative errno of the first write that failed (-EIO if unknown). */
int out_finish(struct out *o);
/* The same, with err saying what failed, naming the stream as `what`
 * ("standard output"): "error writing standard output: No space left on
 * device", or "JSON output over the limit of N bytes ...". */
int out_finish_err(struct out *o, const char *what, struct its_err *err);
void out_free(struct out *o);
enum out_mode out_mode(const struct out *o);

/* The JSON size limit of this emitter (OUT_JSON_MAX_BYTES unless set, so
 * that tests can cross it with a small document), and the compact size of
 * the document built so far, without the final newline. */
void out_set_json_limit(struct out *o, uint64_t max_bytes);
uint64_t out_json_bytes(const struct out *o);

/* Colour of text output. The renderers name a role; the escape sequences
 * live in out.c only. Off by default; JSON output is never coloured. */
enum out_role {
	OUT_ROLE_NONE,		/* ends the colour of the role before */
	OUT_ROLE_ERROR,		/* red */
	OUT_ROLE_WARNING,	/* yellow */
	OUT_ROLE_DIM,		/* faint: entries that take no part */
	OUT_ROLE_OK,		/* green */
};
void out_set_color(struct out *o, bool on);
/* Text with colour on: what is printed from here on has role r's colour,
 * until the next call. End a role before a line's "\n" so that every line
 * carries its own colour (pagers and grep see whole lines). */
void out_role(struct out *o, enum out_role r);

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
