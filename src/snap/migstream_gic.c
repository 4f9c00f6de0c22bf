/* The GIC sections of a QEMU migration stream: `arm_gicv3_its` (the ITS
 * registers, spec §12) and `arm_gicv3` (per-vCPU GICR_PROPBASER and
 * GICR_PENDBASER, spec §13). Decoded with the vmdesc when the stream has
 * one, and with the fixed layouts of the known versions otherwise. */
#include "migstream_int.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITS_PAYLOAD		96
#define GICV3_TOP_FIELDS	10344	/* gicd_ctlr .. gicd_nsacr */
#define GICV3_CPU_FIXED		272
#define GICV3_CPU_PROPBASER	20
#define GICV3_CPU_PENDBASER	28

struct subsection_size {
	const char *name;
	uint64_t bytes;
};

/* spec 13.3 */
static const struct subsection_size cpu_subsections[] = {
	{ "arm_gicv3_cpu/virt", 240 },
	{ "arm_gicv3_cpu/sre_el1", 8 },
	{ "arm_gicv3_cpu/gicv4", 16 },
	{ "arm_gicv3_cpu/nmi", 4 },
};

/* spec 13.4 */
static const struct subsection_size top_subsections[] = {
	{ "arm_gicv3/gicd_no_migration_shift_bug", 1 },
	{ "arm_gicv3/gicd_nmi", 128 },
};

struct rd_pair {
	uint64_t propbaser, pendbaser;
	uint64_t prop_off;		/* file offset of the propbaser */
};

/* ------------------------------------------------------------ ITS */

int ms_gic_its(struct ms_parser *p, uint64_t rec, uint64_t payload,
	       uint32_t sid, uint32_t inst, uint32_t ver,
	       struct json_object *dev, uint64_t *end)
{
	struct its_regs_raw *r;
	const uint8_t *b;
	int rc;

	if (ver != 0)
		return ms_unsup(p, rec,
				"section 'arm_gicv3_its' (id %u) version %u (only version 0 is read)",
				sid, ver);
	if (dev) {
		const char *why = "";
		uint64_t n = 0;

		if (ms_vmsd_bytes(dev, p->rd.size - payload, &n, &why) < 0)
			return ms_bad(p, rec,
				      "vmdesc description of section 'arm_gicv3_its' (id %u) unusable: %s",
				      sid, why);
		if (n != ITS_PAYLOAD)
			return ms_bad(p, rec,
				      "vmdesc describes section 'arm_gicv3_its' (id %u) as %llu bytes, but version 0 has %u",
				      sid, (unsigned long long)n, ITS_PAYLOAD);
	} else if (p->have_vmdesc) {
		return ms_bad(p, rec,
			      "section 'arm_gicv3_its' instance %u (id %u) has no entry in the vmdesc",
			      inst, sid);
	}
	b = ms_get(&p->rd, payload, ITS_PAYLOAD + 5);
	if (!b)
		return ms_trunc(p, payload, ITS_PAYLOAD + 5,
				"section 'arm_gicv3_its' (96 bytes and the footer)");
	if (b[ITS_PAYLOAD] != QEMU_VM_SECTION_FOOTER ||
	    its_be32(b + ITS_PAYLOAD + 1) != sid) {
		char missing[160];

		snprintf(missing, sizeof(missing),
			 "section 'arm_gicv3_its' (id %u) not followed by its footer after the 96-byte version 0 layout",
			 sid);
		return ms_footer_check(p, payload + ITS_PAYLOAD, rec, sid,
				       "arm_gicv3_its",
				       "after the 96-byte version 0 layout",
				       missing);
	}
	if (p->nr_its >= MS_MAX_ITS)
		return ms_bad(p, rec,
			      "section 'arm_gicv3_its' instance %u (id %u) is ITS %u, over the limit of %u",
			      inst, sid, p->nr_its + 1, MS_MAX_ITS);
	rc = its_regset_reserve(&p->regs, p->nr_its + 1, p->regs.nr_rd);
	if (rc < 0)
		return ms_nomem(p);
	r = &p->regs.its[p->nr_its++];
	r->ctlr = its_be32(b);
	r->iidr = its_be32(b + 4);
	r->cbaser = its_be64(b + 8);
	r->cwriter = its_be64(b + 16);
	r->creadr = its_be64(b + 24);
	for (unsigned i = 0; i < ITS_NR_BASER; i++)
		r->baser[i] = its_be64(b + 32 + 8 * i);
	r->present = ITS_REG_ALL;
	if (inst)
		snprintf(r->source, sizeof(r->source),
			 "stream section 'arm_gicv3_its' instance %u (id %u) at offset %llu",
			 inst, sid, (unsigned long long)rec);
	else
		snprintf(r->source, sizeof(r->source),
			 "stream section 'arm_gicv3_its' (id %u) at offset %llu",
			 sid, (unsigned long long)rec);
	*end = payload + ITS_PAYLOAD + 5;
	return 0;
}

/* ------------------------------------------------------------ GICv3 */

static int pairs_push(struct ms_parser *p, struct rd_pair **v, size_t *n,
		      size_t *cap, uint64_t prop, uint64_t pend,
		      uint64_t prop_off)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		struct rd_pair *x = realloc(*v, c * sizeof(*x));

		if (!x)
			return ms_nomem(p);
		*v = x;
		*cap = c;
	}
	(*v)[*n].propbaser = prop;
	(*v)[*n].pendbaser = pend;
	(*v)[*n].prop_off = prop_off;
	(*n)++;
	return 0;
}

/* Subsection of parent at q per the loader's peek rule (spec 6.3): its
 * name into name[256]; false when what follows is not one. */
static bool peek_subsection(struct ms_parser *p, uint64_t q,
			    const char *parent, char name[256])
{
	size_t plen = strlen(parent), len;
	const uint8_t *b = ms_get(&p->rd, q, 2);

	if (!b || b[0] != QEMU_VM_SUBSECTION || b[1] < plen + 1)
		return false;
	len = b[1];
	b = ms_get(&p->rd, q + 2, len);
	if (!b || memcmp(b, parent, plen))
		return false;
	memcpy(name, b, len);
	name[len] = '\0';
	return true;
}

/* Consume the subsections of parent at *q (names from table). */
static int fixed_subsections(struct ms_parser *p, uint64_t *q,
			     const char *parent,
			     const struct subsection_size *table, size_t n)
{
	char name[256];

	while (peek_subsection(p, *q, parent, name)) {
		const struct subsection_size *t = NULL;
		size_t nl = strlen(name);
		const uint8_t *b = ms_get(&p->rd, *q + 1, 1);

		/* the name goes into messages: one line, no NUL inside */
		if (!b || b[0] != nl || !ms_printable((const uint8_t *)name, nl))
			return ms_bad(p, *q + 1,
				      "section 'arm_gicv3': a subsection name is not printable");
		for (size_t i = 0; i < n; i++)
			if (!strcmp(table[i].name, name))
				t = &table[i];
		if (!t)
			return ms_unsup(p, *q,
					"section 'arm_gicv3': unknown subsection '%s' (arm_gicv3 section layout not recognised)",
					name);
		b = ms_get(&p->rd, *q + 2 + nl, 4);
		if (!b)
			return ms_trunc(p, *q + 2 + nl, 4,
					"an arm_gicv3 subsection version");
		if (its_be32(b) != 1)
			return ms_unsup(p, *q,
					"section 'arm_gicv3': subsection '%s' version %u (only 1)",
					name, its_be32(b));
		*q += 2 + nl + 4 + t->bytes;
		if (!ms_have(&p->rd, *q, 0))
			return ms_trunc(p, *q - t->bytes, t->bytes, name);
	}
	return 0;
}

/* Without the vmdesc (spec 13.5). */
static int gicv3_fixed(struct ms_parser *p, uint64_t rec, uint64_t payload,
		       uint32_t sid, struct rd_pair **v, size_t *n,
		       uint64_t *end)
{
	uint64_t q = payload + GICV3_TOP_FIELDS;
	size_t cap = 0;
	char name[256];
	int rc;

	if (!ms_have(&p->rd, payload, GICV3_TOP_FIELDS))
		return ms_trunc(p, payload, GICV3_TOP_FIELDS,
				"section 'arm_gicv3' (distributor state)");
	for (;;) {
		const uint8_t *b;

		if (*n > 0) {
			/* the array has no count: stop at the section's own
			 * subsections or at its footer */
			if (peek_subsection(p, q, "arm_gicv3/", name))
				break;
			if (ms_footer_at(p, q, sid) &&
			    ms_plausible_record(p, q + 5))
				break;
			/* the file ends inside what can only be the footer */
			b = ms_get(&p->rd, q, 1);
			if (b && b[0] == QEMU_VM_SECTION_FOOTER &&
			    !ms_have(&p->rd, q, 5))
				break;
		}
		if (*n >= MS_MAX_VCPUS)
			return ms_bad(p, q,
				      "section 'arm_gicv3' (id %u): %zu vCPUs or more, over the limit of %u",
				      sid, *n + 1, MS_MAX_VCPUS);
		b = ms_get(&p->rd, q, GICV3_CPU_FIXED);
		if (!b)
			return ms_trunc(p, q, GICV3_CPU_FIXED,
					"section 'arm_gicv3' (a vCPU's state)");
		rc = pairs_push(p, v, n, &cap,
				its_be64(b + GICV3_CPU_PROPBASER),
				its_be64(b + GICV3_CPU_PENDBASER),
				q + GICV3_CPU_PROPBASER);
		if (rc < 0)
			return rc;
		q += GICV3_CPU_FIXED;
		rc = fixed_subsections(p, &q, "arm_gicv3_cpu", cpu_subsections,
				       sizeof(cpu_subsections) /
				       sizeof(cpu_subsections[0]));
		if (rc < 0)
			return rc;
	}
	rc = fixed_subsections(p, &q, "arm_gicv3", top_subsections,
			       sizeof(top_subsections) /
			       sizeof(top_subsections[0]));
	if (rc < 0)
		return rc;
	if (!ms_footer_at(p, q, sid)) {
		char after[64], missing[128];

		/* cut inside the footer: the same line as cut before it */
		if (!ms_have(&p->rd, q, 5))
			return ms_trunc(p, q, 5, "the footer of section 'arm_gicv3'");
		snprintf(after, sizeof(after), "after %zu vCPUs", *n);
		snprintf(missing, sizeof(missing),
			 "arm_gicv3 section layout not recognised: no footer after %zu vCPUs",
			 *n);
		return ms_footer_check(p, q, rec, sid, "arm_gicv3", after,
				       missing);
	}
	*end = q + 5;
	return 0;
}

static const char *field_name(struct json_object *f)
{
	struct json_object *n;

	if (json_object_object_get_ex(f, "name", &n) &&
	    json_object_is_type(n, json_type_string))
		return json_object_get_string(n);
	return "";
}

/* Offset of the 8-byte field `want` inside a vmsd description. */
static int struct_field(struct json_object *vmsd, const char *want,
			uint64_t *off, const char **why)
{
	struct json_object *fields;
	uint64_t at = 0;
	size_t n;

	if (!json_object_object_get_ex(vmsd, "fields", &fields) ||
	    !json_object_is_type(fields, json_type_array)) {
		*why = "the vCPU struct has no \"fields\"";
		return -EINVAL;
	}
	n = json_object_array_length(fields);
	for (size_t i = 0; i < n; i++) {
		struct json_object *f = json_object_array_get_idx(fields, i);
		uint64_t b;

		if (ms_field_bytes(f, &b, why) < 0)
			return -EINVAL;
		if (!strcmp(field_name(f), want)) {
			if (b != 8) {
				*why = "a GICR base register field is not 8 bytes";
				return -EINVAL;
			}
			*off = at;
			return 0;
		}
		if (__builtin_add_overflow(at, b, &at)) {
			*why = "field sizes overflow";
			return -EINVAL;
		}
	}
	*why = "the vCPU struct lacks gicr_propbaser or gicr_pendbaser";
	return -EINVAL;
}

/* With the vmdesc: `cpu` struct elements among the section's fields. */
static int gicv3_vmdesc(struct ms_parser *p, uint64_t rec, uint64_t payload,
			uint32_t sid, struct json_object *dev,
			struct rd_pair **v, size_t *n, uint64_t *end)
{
	struct json_object *fields;
	const char *why = "";
	uint64_t total, at = 0;
	size_t cap = 0, nf;
	int rc;

	if (ms_vmsd_bytes(dev, p->rd.size - payload, &total, &why) < 0)
		return ms_bad(p, rec,
			      "vmdesc description of section 'arm_gicv3' (id %u) unusable: %s",
			      sid, why);
	if (!ms_footer_at(p, payload + total, sid))
		return ms_vmdesc_footer_check(p, payload + total, rec, sid,
					      "arm_gicv3", total);
	if (!json_object_object_get_ex(dev, "fields", &fields) ||
	    !json_object_is_type(fields, json_type_array))
		return ms_bad(p, rec,
			      "vmdesc description of section 'arm_gicv3' has no \"fields\"");
	nf = json_object_array_length(fields);
	for (size_t i = 0; i < nf; i++) {
		struct json_object *f = json_object_array_get_idx(fields, i);
		struct json_object *type, *st;
		uint64_t bytes, size, count, prop, pend;
		bool is_cpu;

		if (ms_field_bytes(f, &bytes, &why) < 0)
			return ms_bad(p, rec, "vmdesc of 'arm_gicv3': %s", why);
		is_cpu = !strcmp(field_name(f), "cpu") &&
			 json_object_object_get_ex(f, "type", &type) &&
			 json_object_is_type(type, json_type_string) &&
			 !strcmp(json_object_get_string(type), "struct") &&
			 json_object_object_get_ex(f, "struct", &st);
		if (is_cpu) {
			struct json_object *x = NULL;

			/* ms_field_bytes checked "size": an int >= 0 */
			json_object_object_get_ex(f, "size", &x);
			size = (uint64_t)json_object_get_int64(x);
			count = size ? bytes / size : 0;
			if (struct_field(st, "gicr_propbaser", &prop, &why) < 0 ||
			    struct_field(st, "gicr_pendbaser", &pend, &why) < 0)
				return ms_bad(p, rec, "vmdesc of 'arm_gicv3': %s",
					      why);
			if (prop + 8 > size || pend + 8 > size)
				return ms_bad(p, rec,
					      "vmdesc of 'arm_gicv3': GICR registers lie outside the %llu-byte vCPU struct",
					      (unsigned long long)size);
			if (count > MS_MAX_VCPUS - *n)
				return ms_bad(p, rec,
					      "section 'arm_gicv3' (id %u): %llu vCPUs over the limit of %u",
					      sid, (unsigned long long)(*n + count),
					      MS_MAX_VCPUS);
			for (uint64_t k = 0; k < count; k++) {
				uint64_t el = payload + at + k * size;
				const uint8_t *a = ms_get(&p->rd, el + prop, 8);
				const uint8_t *c;
				uint64_t pv;

				if (!a)
					return ms_trunc(p, el + prop, 8,
							"GICR_PROPBASER");
				pv = its_be64(a);
				c = ms_get(&p->rd, el + pend, 8);
				if (!c)
					return ms_trunc(p, el + pend, 8,
							"GICR_PENDBASER");
				rc = pairs_push(p, v, n, &cap, pv,
						its_be64(c), el + prop);
				if (rc < 0)
					return rc;
			}
		}
		at += bytes;	/* bounded by total, checked above */
	}
	*end = payload + total + 5;
	return 0;
}

int ms_gic_gicv3(struct ms_parser *p, uint64_t rec, uint64_t payload,
		 uint32_t sid, uint32_t inst, uint32_t ver,
		 struct json_object *dev, uint64_t *end)
{
	struct rd_pair *v = NULL;
	size_t n = 0;
	int rc;

	if (ver != 1)
		return ms_unsup(p, rec,
				"section 'arm_gicv3' (id %u) version %u (only version 1 is read)",
				sid, ver);
	if (dev)
		rc = gicv3_vmdesc(p, rec, payload, sid, dev, &v, &n, end);
	else if (p->have_vmdesc)
		rc = ms_bad(p, rec,
			    "section 'arm_gicv3' instance %u (id %u) has no entry in the vmdesc",
			    inst, sid);
	else
		rc = gicv3_fixed(p, rec, payload, sid, &v, &n, end);
	if (rc == 0 && n == 0)
		rc = ms_bad(p, rec, "section 'arm_gicv3' (id %u) holds no vCPU",
			    sid);
	if (rc == 0 && its_regset_reserve(&p->regs, p->regs.nr_its, n) < 0)
		rc = ms_nomem(p);
	if (rc == 0) {
		uint64_t *offs = malloc(n * sizeof(*offs));

		if (!offs) {
			free(v);
			return ms_nomem(p);
		}
		for (size_t i = 0; i < n; i++)
			offs[i] = v[i].prop_off;
		free(p->mi->gicr_propbaser_offset);
		p->mi->gicr_propbaser_offset = offs;
		p->mi->nr_gicr_propbaser = n;
	}
	if (rc == 0) {
		for (size_t i = 0; i < n; i++) {
			p->regs.rd[i].propbaser = v[i].propbaser;
			p->regs.rd[i].pendbaser = v[i].pendbaser;
			p->regs.rd[i].present = GICR_REG_PROPBASER |
						GICR_REG_PENDBASER;
		}
		p->gic_cpus = (int)n;
		p->gicv3_done = true;
	}
	free(v);
	return rc;
}

/* ------------------------------------------------------------ search */

bool ms_find_full_header(struct ms_parser *p, uint64_t from, uint64_t to,
			 const char *idstr, uint64_t *at)
{
	size_t len = strlen(idstr);
	uint8_t pat[256];
	uint64_t q = from;

	pat[0] = (uint8_t)len;
	memcpy(pat + 1, idstr, len);
	while (q + 5 + 1 + len + 8 <= to) {
		size_t n = to - q > MS_RD_MAX_GET ? MS_RD_MAX_GET :
						    (size_t)(to - q);
		const uint8_t *b = ms_get(&p->rd, q, n), *hit;
		uint64_t h;

		if (!b)
			return false;
		hit = memmem(b + 5, n - 5, pat, len + 1);
		if (!hit) {
			if (n < MS_RD_MAX_GET)
				return false;
			q += n - (5 + 1 + len + 8);
			continue;
		}
		h = q + (uint64_t)(hit - b) - 5;
		q = h + 1;
		b = ms_get(&p->rd, h, 6 + len + 8);
		if (!b || b[0] != QEMU_VM_SECTION_FULL)
			continue;
		if (!strcmp(idstr, "arm_gicv3_its")) {
			uint32_t sid = its_be32(b + 1);

			if (its_be32(b + 6 + len + 4) != 0 ||
			    !ms_footer_at(p, h + 6 + len + 8 + ITS_PAYLOAD, sid))
				continue;
		} else if (its_be32(b + 6 + len + 4) != 1) {
			continue;
		}
		*at = h;
		return true;
	}
	return false;
}
