/* Collection table rules KVM does not check (spec §6.1 rules 18, 19): RES0
 * bits of valid CTEs, and restored collections no restored event uses.
 * KVM layout only (QEMU's collection entries: rules_tcg). */
#include "rules_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "its/bits.h"

static int slot_cmp(const void *key, const void *elem)
{
	uint32_t s = *(const uint32_t *)key;
	const struct its_cte_rec *c = elem;

	return s < c->slot ? -1 : s > c->slot;
}

int rules_collections(const struct check_ctx *cx, unsigned its,
		      const struct restore_result *rr, struct findings *fs)
{
	const struct its_image_its *it = &cx->img->its[its];
	uint8_t *used;
	int rc = 0;

	if (!rules_is_kvm(it))
		return 0;
	/* rule 18: [62:48] (RES0 and the RDBase bits KVM drops) */
	for (size_t i = 0; i < it->nr_ctes; i++) {
		const struct its_cte_rec *c = &it->ctes[i];
		uint64_t res0 = c->e.raw & ITS_GENMASK(62, 48);
		struct finding w;

		if (!c->e.valid || !res0)
			continue;
		w = rules_at_cte(its, c);
		RULE_ADD(&rc, fs, PR_CTE_RES0, &w,
			 "slot %u ICID %u: bits [62:48] = 0x%llx",
			 c->slot, c->e.icid,
			 (unsigned long long)(res0 >> 48));
	}
	if (!rules_have_restore(rr) || !rr->nr_ctes)
		return rc;
	/* rule 19: restored collections no restored event names */
	used = calloc(RULES_MAX_LPIS / 8, 1);
	if (!used)
		return -ENOMEM;
	for (size_t i = 0; i < rr->nr_devs; i++)
		for (size_t j = 0; j < rr->devs[i].nr_events; j++) {
			uint32_t icid = rr->devs[i].events[j].icid;

			if (icid < RULES_MAX_LPIS)
				used[icid / 8] |= (uint8_t)(1u << (icid % 8));
		}
	for (size_t i = 0; i < rr->nr_ctes; i++) {
		const struct restore_cte *c = &rr->ctes[i];
		const struct its_cte_rec *rec;
		struct finding w;
		char target[32];

		if (c->icid < RULES_MAX_LPIS &&
		    (used[c->icid / 8] & (1u << (c->icid % 8))))
			continue;
		rec = bsearch(&c->slot, it->ctes, it->nr_ctes,
			      sizeof(*it->ctes), slot_cmp);
		if (rec && rec->gpa == c->gpa) {
			w = rules_at_cte(its, rec);
		} else {
			w = finding_at(its, ITS_TABLE_COLLECTIONS);
			w.has_gpa = true;
			w.gpa = c->gpa;
		}
		w.icid = c->icid;
		if (c->target == COLLECTION_NOT_MAPPED)
			snprintf(target, sizeof(target), "not mapped");
		else
			snprintf(target, sizeof(target), "target vCPU %u",
				 c->target);
		RULE_ADD(&rc, fs, PR_CTE_UNUSED, &w,
			 "ICID %u (%s): no restored event uses it", c->icid,
			 target);
	}
	free(used);
	return rc;
}
