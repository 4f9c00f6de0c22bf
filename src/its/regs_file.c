#include "its/regs_file.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its/io.h"

#define REGS_FILE_MAX (64u << 20)
#define MAX_ITS 64
#define MAX_CPUS 4096

int its_parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

struct ctx {
	const char *name;
	struct its_err *err;
};

static int bad(struct ctx *c, const char *key, const char *what)
{
	return its_err_set(c->err, -EINVAL, c->name, ITS_ERR_NO_OFFSET,
			   "key '%s': %s", key, what);
}

static int get_value(struct ctx *c, json_object *o, const char *key,
		     uint64_t max, uint64_t *v)
{
	if (json_object_is_type(o, json_type_string)) {
		if (its_parse_u64(json_object_get_string(o), max, v) < 0)
			return bad(c, key, max == UINT32_MAX ?
				   "expected a 32-bit value such as \"0x80000001\"" :
				   "expected a 64-bit value such as \"0xf907000042590600\"");
		return 0;
	}
	if (json_object_is_type(o, json_type_int)) {
		int64_t x = json_object_get_int64(o);

		/* jq turns big numbers into doubles: only small ones are safe */
		if (x < 0 || (uint64_t)x > max || x > (1LL << 53))
			return bad(c, key, "number out of range (write large values as \"0x...\" strings)");
		*v = (uint64_t)x;
		return 0;
	}
	return bad(c, key, "expected a hex string such as \"0x1f\"");
}

static int parse_its_regs(struct ctx *c, json_object *o, const char *where,
			  struct its_regs_raw *r)
{
	char key[128];
	int rc;

	if (!json_object_is_type(o, json_type_object))
		return bad(c, where, "expected an object of registers");
	json_object_object_foreach(o, k, v) {
		uint64_t x;

		snprintf(key, sizeof(key), "%s.%s", where, k);
		if (json_object_is_type(v, json_type_null))
			continue;	/* its-dump writes null for unknown */
		if (!strcmp(k, "GITS_BASER")) {
			size_t n;

			if (!json_object_is_type(v, json_type_array))
				return bad(c, key, "expected an array of up to 8 values");
			n = json_object_array_length(v);
			if (n > ITS_NR_BASER)
				return bad(c, key, "more than 8 GITS_BASER values");
			for (size_t i = 0; i < n; i++) {
				json_object *e = json_object_array_get_idx(v, i);

				snprintf(key, sizeof(key), "%s.GITS_BASER[%zu]",
					 where, i);
				if (json_object_is_type(e, json_type_null))
					continue;
				rc = get_value(c, e,
					       key, UINT64_MAX, &x);
				if (rc < 0)
					return rc;
				r->baser[i] = x;
				r->present |= ITS_REG_BASER(i);
			}
			continue;
		}
		if (!strncmp(k, "GITS_BASER", 10) && k[10] >= '0' &&
		    k[10] <= '7' && !k[11]) {
			rc = get_value(c, v, key, UINT64_MAX, &x);
			if (rc < 0)
				return rc;
			r->baser[k[10] - '0'] = x;
			r->present |= ITS_REG_BASER(k[10] - '0');
			continue;
		}
		if (!strcmp(k, "GITS_CTLR") || !strcmp(k, "GITS_IIDR")) {
			rc = get_value(c, v, key, UINT32_MAX, &x);
			if (rc < 0)
				return rc;
			if (k[5] == 'C') {
				r->ctlr = (uint32_t)x;
				r->present |= ITS_REG_CTLR;
			} else {
				r->iidr = (uint32_t)x;
				r->present |= ITS_REG_IIDR;
			}
			continue;
		}
		if (!strcmp(k, "GITS_CBASER") || !strcmp(k, "GITS_CWRITER") ||
		    !strcmp(k, "GITS_CREADR")) {
			rc = get_value(c, v, key, UINT64_MAX, &x);
			if (rc < 0)
				return rc;
			if (!strcmp(k, "GITS_CBASER")) {
				r->cbaser = x;
				r->present |= ITS_REG_CBASER;
			} else if (!strcmp(k, "GITS_CWRITER")) {
				r->cwriter = x;
				r->present |= ITS_REG_CWRITER;
			} else {
				r->creadr = x;
				r->present |= ITS_REG_CREADR;
			}
			continue;
		}
		return bad(c, key, "unknown register (expected GITS_CTLR, GITS_IIDR, GITS_CBASER, GITS_CWRITER, GITS_CREADR or GITS_BASER)");
	}
	snprintf(r->source, sizeof(r->source), "%s", c->name);
	return 0;
}

static int parse_rd(struct ctx *c, json_object *arr, struct its_regset *rs)
{
	char key[128];
	size_t n;
	int rc;

	if (!json_object_is_type(arr, json_type_array))
		return bad(c, "redistributors", "expected an array");
	n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i), *v;
		uint64_t cpu = i, x;
		struct gicr_regs_raw *rd;

		snprintf(key, sizeof(key), "redistributors[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return bad(c, key, "expected an object");
		if (json_object_object_get_ex(o, "cpu", &v)) {
			snprintf(key, sizeof(key), "redistributors[%zu].cpu", i);
			rc = get_value(c, v, key, MAX_CPUS - 1, &cpu);
			if (rc < 0)
				return rc;
		}
		if (its_regset_reserve(rs, rs->nr_its, (size_t)cpu + 1) < 0)
			return its_err_set(c->err, -ENOMEM, c->name,
					   ITS_ERR_NO_OFFSET, "out of memory");
		rd = &rs->rd[cpu];
		json_object_object_foreach(o, k, val) {
			snprintf(key, sizeof(key), "redistributors[%zu].%s", i, k);
			/* "fields" is its-dump's decoding of the same values */
			if (!strcmp(k, "cpu") || !strcmp(k, "fields"))
				continue;
			if (json_object_is_type(val, json_type_null))
				continue;	/* its-dump writes null for unknown */
			if (!strcmp(k, "GICR_PROPBASER")) {
				rc = get_value(c, val, key, UINT64_MAX, &x);
				if (rc < 0)
					return rc;
				rd->propbaser = x;
				rd->present |= GICR_REG_PROPBASER;
			} else if (!strcmp(k, "GICR_PENDBASER")) {
				rc = get_value(c, val, key, UINT64_MAX, &x);
				if (rc < 0)
					return rc;
				rd->pendbaser = x;
				rd->present |= GICR_REG_PENDBASER;
			} else {
				return bad(c, key, "unknown key (expected cpu, GICR_PROPBASER or GICR_PENDBASER)");
			}
		}
	}
	return 0;
}

static int parse_doc(struct ctx *c, json_object *root, struct its_regset *rs)
{
	json_object *its, *rd, *regs;
	char key[64];
	int rc;

	if (!json_object_is_type(root, json_type_object))
		return bad(c, "(top level)", "expected a JSON object");
	if (json_object_object_get_ex(root, "its", &its)) {
		size_t n;

		if (!json_object_is_type(its, json_type_array))
			return bad(c, "its", "expected an array");
		n = json_object_array_length(its);
		if (n > MAX_ITS)
			return bad(c, "its", "too many ITS instances");
		for (size_t i = 0; i < n; i++) {
			json_object *o = json_object_array_get_idx(its, i), *v;
			uint64_t idx = i;

			snprintf(key, sizeof(key), "its[%zu]", i);
			if (!json_object_is_type(o, json_type_object))
				return bad(c, key, "expected an object");
			if (json_object_object_get_ex(o, "index", &v)) {
				snprintf(key, sizeof(key), "its[%zu].index", i);
				rc = get_value(c, v, key, MAX_ITS - 1, &idx);
				if (rc < 0)
					return rc;
			}
			if (!json_object_object_get_ex(o, "registers", &v))
				continue;
			if (its_regset_reserve(rs, (size_t)idx + 1, rs->nr_rd) < 0)
				return its_err_set(c->err, -ENOMEM, c->name,
						   ITS_ERR_NO_OFFSET,
						   "out of memory");
			snprintf(key, sizeof(key), "its[%zu].registers", i);
			rc = parse_its_regs(c, v, key, &rs->its[idx]);
			if (rc < 0)
				return rc;
		}
	} else if (json_object_object_get_ex(root, "registers", &regs) ||
		   (regs = root, json_object_object_length(root) > 0 &&
				 !json_object_object_get_ex(root, "redistributors",
							    NULL))) {
		/* a bare registers object, or {"registers": {...}} */
		if (its_regset_reserve(rs, rs->nr_its ? rs->nr_its : 1,
				       rs->nr_rd) < 0)
			return its_err_set(c->err, -ENOMEM, c->name,
					   ITS_ERR_NO_OFFSET, "out of memory");
		rc = parse_its_regs(c, regs, "registers", &rs->its[0]);
		if (rc < 0)
			return rc;
	}
	if (json_object_object_get_ex(root, "redistributors", &rd)) {
		rc = parse_rd(c, rd, rs);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int its_regs_json_parse(const char *json, size_t len, const char *name,
			struct its_regset *rs, struct its_err *err)
{
	struct ctx c = { name, err };
	struct json_tokener *tok = json_tokener_new();
	json_object *root;
	int rc;

	if (!tok)
		return its_err_set(err, -ENOMEM, name, ITS_ERR_NO_OFFSET,
				   "out of memory");
	if (len > INT32_MAX) {
		json_tokener_free(tok);
		return its_err_set(err, -EFBIG, name, ITS_ERR_NO_OFFSET,
				   "registers file too large");
	}
	root = json_tokener_parse_ex(tok, json, (int)len);
	if (!root || json_tokener_get_parse_end(tok) < len) {
		enum json_tokener_error e = json_tokener_get_error(tok);
		size_t at = json_tokener_get_parse_end(tok);

		/* trailing white space after the document is fine */
		while (root && at < len && strchr(" \t\r\n", json[at]))
			at++;
		if (!root || at < len) {
			rc = its_err_set(err, -EINVAL, name, at,
					 "not valid JSON: %s",
					 root ? "text after the document" :
					 e == json_tokener_continue ?
					 "unexpected end of file" :
					 json_tokener_error_desc(e));
			json_object_put(root);
			json_tokener_free(tok);
			return rc;
		}
	}
	json_tokener_free(tok);
	rc = parse_doc(&c, root, rs);
	json_object_put(root);
	return rc;
}

int its_regs_file_read(const char *path, struct its_regset *rs,
		       struct its_err *err)
{
	char *buf;
	size_t len;
	int rc = its_read_small_file(path, REGS_FILE_MAX, &buf, &len, err);

	if (rc < 0)
		return rc;
	rc = its_regs_json_parse(buf, len, path, rs, err);
	free(buf);
	return rc;
}

int its_regset_overlay(struct its_regset *dst, const struct its_regset *src)
{
	if (its_regset_reserve(dst, src->nr_its, src->nr_rd) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < src->nr_its; i++) {
		const struct its_regs_raw *s = &src->its[i];
		struct its_regs_raw *d = &dst->its[i];

		if (s->present & ITS_REG_CTLR)
			d->ctlr = s->ctlr;
		if (s->present & ITS_REG_IIDR)
			d->iidr = s->iidr;
		if (s->present & ITS_REG_CBASER)
			d->cbaser = s->cbaser;
		if (s->present & ITS_REG_CWRITER)
			d->cwriter = s->cwriter;
		if (s->present & ITS_REG_CREADR)
			d->creadr = s->creadr;
		for (unsigned n = 0; n < ITS_NR_BASER; n++)
			if (s->present & ITS_REG_BASER(n))
				d->baser[n] = s->baser[n];
		if (s->present && s->source[0])
			memcpy(d->source, s->source, sizeof(d->source));
		d->present |= s->present;
	}
	for (size_t i = 0; i < src->nr_rd; i++) {
		const struct gicr_regs_raw *s = &src->rd[i];
		struct gicr_regs_raw *d = &dst->rd[i];

		if (s->present & GICR_REG_PROPBASER)
			d->propbaser = s->propbaser;
		if (s->present & GICR_REG_PENDBASER)
			d->pendbaser = s->pendbaser;
		d->present |= s->present;
	}
	return 0;
}
