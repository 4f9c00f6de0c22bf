/* libFuzzer: plan repairs for a fuzzed ITS (see fuzz_input.h), then check
 * the simulated result again: it must not have an error the original did
 * not have ("the re-check must never report a new error class the plan did
 * not intend"). */
#include <stdio.h>
#include <stdlib.h>

#include "its/check.h"
#include "its/gmem.h"
#include "its/layout.h"
#include "its/repair.h"
#include "its/walk.h"

#include "fuzz_input.h"

static bool has_error(const struct findings *fs, enum problem_id p)
{
	return problem_get(p)->severity == SEV_ERROR && fs->per_problem[p];
}

static void recheck(const struct check_ctx *cx, const struct check_result *cr,
		    const struct repair_plan *p)
{
	struct gmem_patch *patch = calloc(p->nr + 1, sizeof(*patch));
	struct its_regset rs = { 0 };
	struct its_walk_opts wo = { 0 };
	struct its_image *img = NULL;
	struct check_ctx cx2 = *cx;
	struct check_result cr2 = { 0 };
	struct its_err err = { 0 };
	struct gmem *g = (struct gmem *)cx->mem;

	if (!patch || its_regset_reserve(&rs, cx->img->nr_its, cx->img->nr_rd) < 0)
		abort();
	for (size_t i = 0; i < p->nr; i++)
		if (p->v[i].kind == REPAIR_RAM)
			patch[i] = (struct gmem_patch){ p->v[i].gpa, p->v[i].len,
							p->v[i].new };
	for (size_t i = 0; i < cx->img->nr_its; i++)
		rs.its[i] = cx->img->its[i].regs;
	for (size_t i = 0; i < cx->img->nr_rd; i++)
		rs.rd[i] = cx->img->rd[i];
	for (size_t i = 0; i < p->nr; i++) {
		const struct repair_write *w = &p->v[i];
		struct its_regs_raw *r;

		if (w->kind != REPAIR_REGISTER)
			continue;
		if (w->reg == RREG_GICR_PROPBASER) {
			if (w->cpu >= rs.nr_rd)
				abort();
			rs.rd[w->cpu].propbaser = w->reg_new;
			continue;
		}
		if (w->its >= rs.nr_its)
			abort();
		r = &rs.its[w->its];
		switch (w->reg) {
		case RREG_CTLR: r->ctlr = (uint32_t)w->reg_new; break;
		case RREG_IIDR: r->iidr = (uint32_t)w->reg_new; break;
		case RREG_CBASER: r->cbaser = w->reg_new; break;
		case RREG_CWRITER: r->cwriter = w->reg_new; break;
		case RREG_CREADR: r->creadr = w->reg_new; break;
		default:
			if (w->reg < RREG_BASER0 || w->reg >= RREG_BASER0 + ITS_NR_BASER)
				abort();
			r->baser[w->reg - RREG_BASER0] = w->reg_new;
			break;
		}
	}
	gmem_set_overlay(g, patch, p->nr);
	if (cx->img->nr_its)
		wo.layout = cx->img->its[0].layout;
	if (its_walk(g, &rs, &wo, &img, &err) < 0)
		abort();	/* the original walked: so must the repaired one */
	cx2.img = img;
	if (check_run(&cx2, &cr2, &err) < 0)
		abort();
	for (int id = 0; id < PR_COUNT; id++)
		if (has_error(&cr2.findings, id) && !has_error(&cr->findings, id)) {
			fprintf(stderr, "re-check: new error %s (%zu) after a plan of %zu writes\n",
				problem_get(id)->name, cr2.findings.per_problem[id], p->nr);
			for (size_t i = 0; i < cr2.findings.nr; i++)
				if (cr2.findings.v[i].problem == (enum problem_id)id)
					fprintf(stderr, "  %s\n", cr2.findings.v[i].detail);
			for (size_t i = 0; i < p->nr; i++)
				fprintf(stderr, "  write %zu: %s: %s\n", i,
					problem_get(p->v[i].problem)->name, p->v[i].why);
			abort();
		}
	check_result_release(&cr2);
	its_image_free(img);
	gmem_set_overlay(g, NULL, 0);
	its_regset_release(&rs);
	free(patch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const layouts[] = { NULL, "kvm", "tcg" };
	struct fz_input in;
	struct its_walk_opts wo = { 0 };
	struct its_image *img = NULL;
	struct its_err err = { 0 };
	struct check_ctx cx = { 0 };
	struct check_result cr = { 0 };
	struct repair_plan plan;

	if (fz_open(&in, data, size) < 0)
		return 0;
	if (layouts[in.layout])
		wo.layout = its_layout_find(layouts[in.layout]);
	if (its_walk(in.snap->mem, &in.rs, &wo, &img, &err) < 0)
		goto out;
	if (!fz_small(img))
		goto out_img;
	cx.snap = in.snap;
	cx.mem = in.snap->mem;
	cx.img = img;
	cx.nr_vcpus = in.snap->nr_vcpus >= 0 ? in.snap->nr_vcpus : (int)img->nr_rd;
	if (kernel_profile_parse(in.older ? "5.10" : "upstream", &cx.profile, &err) < 0)
		abort();
	if (check_run(&cx, &cr, &err) < 0)
		goto out_img;
	repair_plan_init(&plan);
	if (repair_plan_build(&cx, &cr, REPAIR_MODE_ALL, &plan, &err) == 0)
		recheck(&cx, &cr, &plan);
	else if (err.code == -ENOMEM)
		abort();
	repair_plan_release(&plan);
	check_result_release(&cr);
out_img:
	its_image_free(img);
out:
	fz_close(&in);
	return 0;
}
