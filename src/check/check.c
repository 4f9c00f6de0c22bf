/* The order of judgement: per ITS, the restore model (or, for QEMU's
 * emulated ITS, what it does with each event), then every rule; then what
 * older kernels would answer differently. */
#include "its/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its/layout.h"
#include "its/regs.h"

/* Profiles compared with the chosen one, newest first (spec §6.3). */
static const char *const older_profiles[] = {
	"7.0", "6.6", "6.0.5", "5.18", "5.5", "4.14",
};

/* Above this many entries read, the comparison runs are skipped: they would
 * repeat a long walk six times for a one-line note. */
#define OLDER_MAX_ENTRIES (1u << 20)

static bool same_outcome(const struct restore_result *a,
			 const struct restore_result *b)
{
	if (!a->nr_fails || !b->nr_fails)
		return !a->nr_fails && !b->nr_fails;
	return a->fails[0].err == b->fails[0].err &&
	       a->fails[0].where.gpa == b->fails[0].where.gpa;
}

static void describe(const struct restore_result *r, char *buf, size_t len)
{
	const struct restore_failure *f;

	if (!r->nr_fails) {
		snprintf(buf, len, "succeeds (%zu devices, %zu events)",
			 r->nr_devs, r->nr_events);
		return;
	}
	f = &r->fails[0];
	snprintf(buf, len, "fails with %s at %s GPA 0x%llx (%s)",
		 f->err == -EINVAL ? "EINVAL" : f->err == -EFAULT ? "EFAULT" :
		 f->err == -EEXIST ? "EEXIST" : "an error",
		 its_table_name(f->where.table),
		 (unsigned long long)f->where.gpa, problem_table[f->problem].name);
}

/* A line for each older profile whose verdict differs from the chosen one. */
static void compare_older(const struct check_ctx *cx, unsigned its,
			  struct restore_result *r)
{
	size_t n = 0;

	if (r->entries_read > OLDER_MAX_ENTRIES)
		return;
	for (size_t i = 0; i < sizeof(older_profiles) / sizeof(older_profiles[0]); i++) {
		struct check_ctx c2 = *cx;
		struct restore_result tmp;
		struct findings scratch;
		char what[200];

		if (kernel_profile_parse(older_profiles[i], &c2.profile, NULL) < 0)
			continue;
		/* only kernels older than the one asked about */
		if (cx->profile.major &&
		    (c2.profile.major > cx->profile.major ||
		     (c2.profile.major == cx->profile.major &&
		      (c2.profile.minor > cx->profile.minor ||
		       (c2.profile.minor == cx->profile.minor &&
			c2.profile.patch >= cx->profile.patch)))))
			continue;
		findings_init(&scratch);
		if (kvm_restore_run(&c2, its, &tmp, &scratch, NULL) == 0) {
			if (!same_outcome(r, &tmp) && n < sizeof(r->older) - 1) {
				describe(&tmp, what, sizeof(what));
				n += (size_t)snprintf(r->older + n, sizeof(r->older) - n,
						      "%skernel %s: %s", n ? "; " : "",
						      older_profiles[i], what);
				if (n >= sizeof(r->older))
					n = sizeof(r->older) - 1;
			}
			restore_result_release(&tmp);
		}
		findings_release(&scratch);
	}
}

static const check_rule_fn rules[] = {
	rules_registers, rules_collections, rules_devices, rules_itts,
	rules_lpi, rules_cross, rules_tcg,
};

int check_run(const struct check_ctx *cx, struct check_result *out,
	      struct its_err *err)
{
	const struct its_image *img = cx->img;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	findings_init(&out->findings);
	if (img->nr_its) {
		out->restore = calloc(img->nr_its, sizeof(*out->restore));
		if (!out->restore)
			return its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET,
					   "out of memory");
	}
	out->nr_its = img->nr_its;
	if (!img->nr_its) {
		/* LPIs configured on the redistributors, but no ITS state */
		for (size_t i = 0; i < img->nr_rd; i++) {
			const struct gicr_regs_raw *r = &img->rd[i];

			if ((r->present & GICR_REG_PROPBASER) &&
			    GICR_PROPBASER_ADDRESS(r->propbaser)) {
				struct finding w = finding_at(0, -1);

				w.cpu = r->cpu;
				finding_add(&out->findings, PR_NO_ITS_STATE, &w,
					    "vCPU %u: GICR_PROPBASER 0x%llx, but no arm_gicv3_its state",
					    r->cpu, (unsigned long long)r->propbaser);
				break;
			}
		}
	}
	for (size_t i = 0; i < img->nr_its && rc == 0; i++) {
		struct restore_result *r = &out->restore[i];

		if (img->its[i].layout == &its_layout_kvm) {
			rc = kvm_restore_run(cx, (unsigned)i, r, &out->findings, err);
			if (rc == 0)
				compare_older(cx, (unsigned)i, r);
		} else {
			rc = qemu_translate_run(cx, (unsigned)i, r, err);
		}
		for (size_t k = 0; rc == 0 && k < sizeof(rules) / sizeof(rules[0]); k++)
			if (rules[k](cx, (unsigned)i, r, &out->findings) < 0)
				rc = its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET,
						 "out of memory");
	}
	if (rc == 0 && out->findings.oom)
		rc = its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET,
				 "out of memory");
	if (rc < 0) {
		check_result_release(out);
		return rc;
	}
	findings_sort(&out->findings);
	return 0;
}

void check_result_release(struct check_result *r)
{
	for (size_t i = 0; i < r->nr_its; i++)
		restore_result_release(&r->restore[i]);
	free(r->restore);
	findings_release(&r->findings);
	memset(r, 0, sizeof(*r));
}
