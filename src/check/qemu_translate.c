/* QEMU's emulated ITS has no restore step: it reads its tables on every
 * MSI. What matters is what it would do with each mapped event
 * (spec/qemu-tcg-its.md §3-§6, §9): deliver it to a CPU, or drop it. */
#include "its/check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "its/regs.h"
#include "its/search.h"
#include "its/vec.h"

#define TCG_LPI_LIMIT 65536u	/* GICD_TYPER.IDbits 15 */

/* indexed collection table: the slot is the ICID */
static const struct its_cte_rec *cte_at(const struct its_image_its *its,
					uint32_t icid)
{
	return ITS_FIND_SORTED(its->ctes, its->nr_ctes, slot, icid);
}

int qemu_translate_run(const struct check_ctx *cx, unsigned itsn,
		       struct restore_result *out, struct its_err *err)
{
	const struct its_image_its *its = &cx->img->its[itsn];
	uint64_t nr_coll = its->ct.valid ? its->ct.ids : 0;

	memset(out, 0, sizeof(*out));
	out->its = itsn;
	out->skipped = true;
	if (nr_coll > TCG_ITS_MAX_IDS)
		nr_coll = TCG_ITS_MAX_IDS;
	for (size_t i = 0; i < its->nr_devs; i++) {
		const struct its_dev_rec *d = &its->devs[i];
		struct restore_dev *rd = NULL;

		if (!d->e.valid || (d->flags & ITS_F_IN_INVALID_L1))
			continue;
		for (size_t j = 0; j < d->nr_events; j++) {
			const struct its_ite_rec *e = &d->events[j];
			const struct its_cte_rec *c;
			const char *why = NULL;

			if (!e->e.valid)
				continue;
			c = cte_at(its, e->e.icid);
			if (!e->e.physical)
				why = "virtual ITE (GICv4): no physical LPI";
			else if (e->e.lpi < GIC_LPI_OFFSET || e->e.lpi >= TCG_LPI_LIMIT)
				why = "INTID outside the LPI range 8192..65535";
			else if (e->e.icid >= nr_coll)
				why = "ICID outside the collection table";
			else if (!c || !c->e.valid)
				why = "collection not mapped";
			else if (cx->nr_vcpus <= 0 ||
				 c->e.target >= (uint32_t)cx->nr_vcpus)
				why = "target CPU does not exist";
			if (why) {
				struct tcg_undeliverable *u =
					its_vec_push(&out->undeliverable,
						     &out->nr_undeliverable, sizeof(*u));

				if (!u)
					goto oom;
				u->device_id = d->device_id;
				u->event_id = e->event_id;
				u->reason = why;
				continue;
			}
			if (!rd) {
				rd = its_vec_push(&out->devs, &out->nr_devs,
						  sizeof(*out->devs));
				if (!rd)
					goto oom;
				rd->device_id = d->device_id;
				rd->gpa = d->gpa;
				rd->itt = d->e.itt;
				rd->bits = d->e.size + 1;
				rd->terminated_at = -1;
			}
			{
				struct restore_ite *ri =
					its_vec_push(&rd->events, &rd->nr_events,
						     sizeof(*ri));

				if (!ri)
					goto oom;
				ri->event_id = e->event_id;
				ri->lpi = e->e.lpi;
				ri->icid = e->e.icid;
				ri->gpa = e->gpa;
				ri->vcpu = c->e.target;
				out->nr_events++;
			}
		}
	}
	for (size_t i = 0; i < its->nr_ctes; i++) {
		const struct its_cte_rec *c = &its->ctes[i];
		struct restore_cte *rc;

		if (!c->e.valid || c->slot >= nr_coll)
			continue;
		rc = its_vec_push(&out->ctes, &out->nr_ctes, sizeof(*rc));
		if (!rc)
			goto oom;
		rc->slot = c->slot;
		rc->icid = c->slot;
		rc->target = c->e.target;
		rc->gpa = c->gpa;
	}
	return 0;
oom:
	restore_result_release(out);
	return its_err_set(err, -ENOMEM, NULL, ITS_ERR_NO_OFFSET, "out of memory");
}
