/* The vmdesc JSON at the end of a QEMU migration stream (spec §8): found
 * from the end of the file, parsed with json-c, and used to size device
 * sections (a FULL section has no length of its own). Every number in it
 * is checked before use: the JSON is as untrusted as the rest of the file. */
#include "migstream_int.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "its/io.h"

/* ------------------------------------------------------------ parse */

static int key_cmp(const void *a, const void *b)
{
	const struct ms_vmdesc_key *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->instance != y->instance)
		return x->instance < y->instance ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* (name, instance_id) -> entry, for sections out of the usual order */
static int vmdesc_index(struct ms_vmdesc *vd)
{
	vd->keys = calloc(vd->nr_devices ? vd->nr_devices : 1,
			  sizeof(*vd->keys));
	if (!vd->keys)
		return -ENOMEM;
	for (size_t i = 0; i < vd->nr_devices; i++) {
		struct json_object *d = json_object_array_get_idx(vd->devices, i);
		struct json_object *n, *inst;

		if (!json_object_is_type(d, json_type_object) ||
		    !json_object_object_get_ex(d, "name", &n) ||
		    !json_object_is_type(n, json_type_string) ||
		    !json_object_object_get_ex(d, "instance_id", &inst) ||
		    !json_object_is_type(inst, json_type_int))
			continue;
		vd->keys[vd->nr_keys].name = json_object_get_string(n);
		vd->keys[vd->nr_keys].instance = json_object_get_int64(inst);
		vd->keys[vd->nr_keys].index = i;
		vd->nr_keys++;
	}
	qsort(vd->keys, vd->nr_keys, sizeof(*vd->keys), key_cmp);
	return 0;
}

/* What json-c would build from the text, counted first: it spends ~800
 * bytes on an object and ~70 on a number, so a few MiB of "{}," could take
 * gigabytes. Members and elements are separated by commas: values <= commas
 * + objects + 1. */
static int vmdesc_count(struct ms_parser *p, uint64_t marker, const char *t,
			uint64_t len)
{
	uint64_t values = 1, objects = 0;
	bool in_str = false;

	for (uint64_t i = 0; i < len; i++) {
		char c = t[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == ',') {
			values++;
		} else if (c == '{' || c == '[') {
			objects++;
			values++;
		}
	}
	if (objects > MS_MAX_VMDESC_OBJECTS)
		return ms_bad(p, marker,
			      "vmdesc JSON of %llu objects and arrays over the limit of %u",
			      (unsigned long long)objects, MS_MAX_VMDESC_OBJECTS);
	if (values > MS_MAX_VMDESC_VALUES)
		return ms_bad(p, marker,
			      "vmdesc JSON of %llu values over the limit of %u",
			      (unsigned long long)values, MS_MAX_VMDESC_VALUES);
	return 0;
}

int ms_vmdesc_parse_at(struct ms_parser *p, uint64_t marker, uint64_t len)
{
	struct migstream_info *mi = p->mi;
	uint64_t at = marker + 5;
	struct json_tokener *tok;
	struct json_object *root, *devs;
	enum json_tokener_error jerr;
	const char *text;
	char *copy = NULL;
	size_t used;
	int rc;

	if (len > MS_MAX_VMDESC || len > INT_MAX)
		return ms_bad(p, marker,
			      "vmdesc JSON of %llu bytes over the limit of %u",
			      (unsigned long long)len, MS_MAX_VMDESC);
	if (!ms_have(&p->rd, at, len))
		return ms_trunc(p, at, len, "the vmdesc JSON");
	if (p->rd.map) {
		text = (const char *)p->rd.map + at;
	} else {
		copy = malloc(len ? (size_t)len : 1);
		if (!copy)
			return ms_nomem(p);
		rc = its_pread_full(p->rd.fd, copy, (size_t)len, at, p->path,
				    p->err);
		if (rc < 0) {
			free(copy);
			return rc;
		}
		text = copy;
	}
	rc = vmdesc_count(p, marker, text, len);
	if (rc < 0) {
		free(copy);
		return rc;
	}
	tok = json_tokener_new_ex(MS_JSON_DEPTH);
	if (!tok) {
		free(copy);
		return ms_nomem(p);
	}
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	free(copy);
	if (!root || jerr != json_tokener_success) {
		json_object_put(root);
		return ms_bad(p, marker,
			      "vmdesc JSON at offset %llu unreadable: %s",
			      (unsigned long long)at,
			      root ? "trailing data" :
			      jerr == json_tokener_continue ?
				      "unexpected end of the JSON text" :
			      jerr == json_tokener_error_depth ?
				      "nesting over the limit of "
				      ITS_STR(MS_JSON_DEPTH) " levels" :
				      json_tokener_error_desc(jerr));
	}
	if (used != len) {
		json_object_put(root);
		return ms_bad(p, marker,
			      "vmdesc JSON at offset %llu unreadable: %llu bytes of trailing data",
			      (unsigned long long)at,
			      (unsigned long long)(len - used));
	}
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "devices", &devs) ||
	    !json_object_is_type(devs, json_type_array)) {
		json_object_put(root);
		return ms_bad(p, marker,
			      "vmdesc JSON at offset %llu is not an object with a \"devices\" array",
			      (unsigned long long)at);
	}
	p->vd.root = root;
	p->vd.devices = devs;
	p->vd.nr_devices = json_object_array_length(devs);
	p->vd.cursor = 0;
	if (vmdesc_index(&p->vd) < 0)
		return ms_nomem(p);
	p->have_vmdesc = true;
	mi->has_vmdesc = true;
	mi->vmdesc_offset = marker;
	mi->vmdesc_length = len;
	return 0;
}

/* Find the vmdesc from the end of the file (spec 8.1). No vmdesc is not an
 * error here: the sequential pass decides at QEMU_VM_EOF. */
int ms_vmdesc_locate(struct ms_parser *p)
{
	uint64_t e = p->rd.size, zeros = 0, lo_lim, hi;
	const uint8_t *b;

	/* zero padding of an O_DIRECT writer */
	while (e > p->base && zeros < MS_TRAILING_ZEROS) {
		b = ms_get(&p->rd, e - 1, 1);
		if (!b || b[0] != 0)
			break;
		e--;
		zeros++;
	}
	if (e < p->base + 16)
		return 0;
	b = ms_get(&p->rd, e - 1, 1);
	if (!b || b[0] != '}')
		return 0;
	lo_lim = e - p->base > MS_VMDESC_SCAN ? e - MS_VMDESC_SCAN :
						 p->base + 8;
	/* candidates p in [lo_lim, e - 7]: "{" at p + 5, "}" at e - 1 */
	for (hi = e - 6; hi > lo_lim;) {
		uint64_t span = hi - lo_lim, lo;
		size_t n;

		if (span > MS_RD_MAX_GET - 8)
			span = MS_RD_MAX_GET - 8;
		lo = hi - span;
		n = (size_t)(hi + 5 - lo);
		b = ms_get(&p->rd, lo, n);
		if (!b)
			return 0;
		for (uint64_t k = hi; k-- > lo;) {
			const uint8_t *c = b + (k - lo);
			const uint8_t *prev;
			bool eof_before;
			int rc;

			if (c[5] != '{' || its_be32(c + 1) != e - (k + 5))
				continue;
			prev = ms_get(&p->rd, k - 1, 1);
			eof_before = prev && prev[0] == QEMU_VM_EOF;
			/* the record type byte alone damaged: its length, the
			 * JSON and QEMU_VM_EOF before it still say what it
			 * is; read it, and let the pass name the byte when it
			 * reaches that QEMU_VM_EOF */
			if (c[0] != QEMU_VM_VMDESCRIPTION) {
				if (!eof_before)
					continue;
				if (ms_vmdesc_parse_at(p, k, e - (k + 5)) < 0)
					return 0;
				p->vmdesc_type_bad = true;
				return 0;
			}
			rc = ms_vmdesc_parse_at(p, k, e - (k + 5));
			if (rc == 0 && !eof_before)
				ms_warn(p, "offset %llu: vmdesc not preceded by QEMU_VM_EOF",
					(unsigned long long)k);
			return rc;
		}
		hi = lo;
	}
	return 0;
}

void ms_vmdesc_release(struct ms_parser *p)
{
	free(p->vd.keys);
	json_object_put(p->vd.root);
	memset(&p->vd, 0, sizeof(p->vd));
}

/* ------------------------------------------------------------ lookup */

static bool device_is(struct json_object *dev, const char *idstr,
		      uint32_t instance)
{
	struct json_object *n, *i;

	return json_object_is_type(dev, json_type_object) &&
	       json_object_object_get_ex(dev, "name", &n) &&
	       json_object_is_type(n, json_type_string) &&
	       !strcmp(json_object_get_string(n), idstr) &&
	       json_object_object_get_ex(dev, "instance_id", &i) &&
	       json_object_is_type(i, json_type_int) &&
	       json_object_get_int64(i) == (int64_t)instance;
}

struct json_object *ms_vmdesc_device(struct ms_parser *p, const char *idstr,
				     uint32_t instance)
{
	struct ms_vmdesc *vd = &p->vd;

	if (!vd->devices)
		return NULL;
	/* devices are listed in stream order: usually the next one */
	if (vd->cursor < vd->nr_devices) {
		struct json_object *d =
			json_object_array_get_idx(vd->devices, vd->cursor);

		if (device_is(d, idstr, instance)) {
			vd->cursor++;
			return d;
		}
	}
	/* binary search: the first entry with this (name, instance) */
	{
		size_t lo = 0, hi = vd->nr_keys;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			const struct ms_vmdesc_key *k = &vd->keys[mid];
			int c = strcmp(k->name, idstr);

			if (c == 0)
				c = k->instance < (int64_t)instance ? -1 :
				    k->instance > (int64_t)instance;
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < vd->nr_keys && !strcmp(vd->keys[lo].name, idstr) &&
		    vd->keys[lo].instance == (int64_t)instance) {
			vd->cursor = vd->keys[lo].index + 1;
			return json_object_array_get_idx(vd->devices,
							 vd->keys[lo].index);
		}
	}
	return NULL;
}

uint64_t ms_vmdesc_page_size(struct ms_parser *p)
{
	struct json_object *ps;

	if (!p->vd.root ||
	    !json_object_object_get_ex(p->vd.root, "page_size", &ps) ||
	    !json_object_is_type(ps, json_type_int) ||
	    json_object_get_int64(ps) <= 0)
		return 0;
	return (uint64_t)json_object_get_int64(ps);
}

/* ------------------------------------------------------------ sizes */

static bool get_uint(struct json_object *o, const char *key, uint64_t *v,
		     bool *present)
{
	struct json_object *x;
	int64_t n;

	*present = json_object_object_get_ex(o, key, &x);
	if (!*present)
		return true;
	if (!json_object_is_type(x, json_type_int))
		return false;
	n = json_object_get_int64(x);
	if (n < 0)
		return false;
	*v = (uint64_t)n;
	return true;
}

int ms_field_bytes(struct json_object *field, uint64_t *out, const char **why)
{
	uint64_t size = 0, n = 1;
	bool has_size, has_len;

	if (!json_object_is_type(field, json_type_object)) {
		*why = "a field is not a JSON object";
		return -EINVAL;
	}
	if (!get_uint(field, "size", &size, &has_size) || !has_size) {
		*why = "a field has no valid \"size\"";
		return -EINVAL;
	}
	if (!get_uint(field, "array_len", &n, &has_len)) {
		*why = "a field has an invalid \"array_len\"";
		return -EINVAL;
	}
	if (__builtin_mul_overflow(size, n, out)) {
		*why = "a field's size times array_len overflows";
		return -EINVAL;
	}
	return 0;
}

static int vmsd_bytes(struct json_object *vmsd, uint64_t limit, uint64_t *out,
		      const char **why, unsigned depth)
{
	struct json_object *fields, *subs;
	uint64_t sum = 0;

	if (depth > VMSD_MAX_DEPTH) {
		*why = "subsections nested over the limit of "
		       ITS_STR(VMSD_MAX_DEPTH) " levels";
		return -EINVAL;
	}
	if (!json_object_is_type(vmsd, json_type_object)) {
		*why = "a description is not a JSON object";
		return -EINVAL;
	}
	if (json_object_object_get_ex(vmsd, "fields", &fields)) {
		size_t n;

		if (!json_object_is_type(fields, json_type_array)) {
			*why = "\"fields\" is not an array";
			return -EINVAL;
		}
		n = json_object_array_length(fields);
		for (size_t i = 0; i < n; i++) {
			uint64_t b;

			if (ms_field_bytes(json_object_array_get_idx(fields, i),
					   &b, why) < 0)
				return -EINVAL;
			if (__builtin_add_overflow(sum, b, &sum) || sum > limit) {
				*why = "its fields are larger than the rest of the file";
				return -EINVAL;
			}
		}
	} else {
		/* old-style handler: only a whole-payload "size" */
		bool has;

		if (!get_uint(vmsd, "size", &sum, &has) || !has) {
			*why = "a description has neither \"fields\" nor \"size\"";
			return -EINVAL;
		}
		if (sum > limit) {
			*why = "its size is larger than the rest of the file";
			return -EINVAL;
		}
	}
	if (json_object_object_get_ex(vmsd, "subsections", &subs)) {
		size_t n;

		if (!json_object_is_type(subs, json_type_array)) {
			*why = "\"subsections\" is not an array";
			return -EINVAL;
		}
		n = json_object_array_length(subs);
		for (size_t i = 0; i < n; i++) {
			struct json_object *sub =
				json_object_array_get_idx(subs, i), *name;
			uint64_t b;
			size_t nl;

			if (!json_object_is_type(sub, json_type_object) ||
			    !json_object_object_get_ex(sub, "vmsd_name", &name) ||
			    !json_object_is_type(name, json_type_string)) {
				*why = "a subsection has no \"vmsd_name\"";
				return -EINVAL;
			}
			nl = strlen(json_object_get_string(name));
			if (nl == 0 || nl > 255) {
				*why = "a subsection name is empty or longer than 255 bytes";
				return -EINVAL;
			}
			if (vmsd_bytes(sub, limit, &b, why, depth + 1) < 0)
				return -EINVAL;
			/* 05, length, name, be32 version, payload */
			if (__builtin_add_overflow(sum, 6 + nl + b, &sum) ||
			    sum > limit) {
				*why = "its subsections are larger than the rest of the file";
				return -EINVAL;
			}
		}
	}
	*out = sum;
	return 0;
}

int ms_vmsd_bytes(struct json_object *vmsd, uint64_t limit, uint64_t *out,
		  const char **why)
{
	return vmsd_bytes(vmsd, limit, out, why, 0);
}

bool ms_vmdesc_config_subsection(struct ms_parser *p, const char *name,
				 uint64_t limit, uint64_t *bytes)
{
	struct json_object *conf, *subs;
	const char *why;
	size_t n;

	if (!p->vd.root ||
	    !json_object_object_get_ex(p->vd.root, "configuration", &conf) ||
	    !json_object_is_type(conf, json_type_object) ||
	    !json_object_object_get_ex(conf, "subsections", &subs) ||
	    !json_object_is_type(subs, json_type_array))
		return false;
	n = json_object_array_length(subs);
	for (size_t i = 0; i < n; i++) {
		struct json_object *sub = json_object_array_get_idx(subs, i), *nm;

		if (json_object_is_type(sub, json_type_object) &&
		    json_object_object_get_ex(sub, "vmsd_name", &nm) &&
		    json_object_is_type(nm, json_type_string) &&
		    !strcmp(json_object_get_string(nm), name))
			return ms_vmsd_bytes(sub, limit, bytes, &why) == 0;
	}
	return false;
}
