/* libFuzzer: walk, check and report a fuzzed ITS (see fuzz_input.h). */
#include <stdio.h>
#include <stdlib.h>

#include "its/check.h"
#include "its/layout.h"
#include "its/out.h"
#include "its/report.h"
#include "its/walk.h"

#include "fuzz_input.h"

static FILE *devnull;

static void run_check(struct snapshot *s, struct its_image *img,
		      const char *profile, enum out_mode mode)
{
	struct check_ctx cx = { 0 };
	struct check_result cr = { 0 };
	struct its_err err = { 0 };
	struct fsck_opts fo = { 0 };
	struct fsck_summary sum;
	struct out *o;

	cx.snap = s;
	cx.mem = s->mem;
	cx.img = img;
	cx.nr_vcpus = s->nr_vcpus >= 0 ? s->nr_vcpus : (int)img->nr_rd;
	if (kernel_profile_parse(profile, &cx.profile, &err) < 0)
		abort();
	if (check_run(&cx, &cr, &err) < 0) {
		if (err.code == -ENOMEM)
			abort();
		return;
	}
	o = out_new(mode, devnull, false);
	report_fsck(o, &cx, &cr, &fo, &sum);
	out_finish(o);
	out_free(o);
	check_result_release(&cr);
}

/* One layout, one profile and one output mode per input, chosen by the
 * input's mode byte (fuzz_input.h), so that an execution costs one walk and
 * one check: the mutator flips those bits as readily as any other. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const layouts[] = { NULL, "kvm", "tcg" };
	struct fz_input in;
	struct its_walk_opts wo = { 0 };
	struct its_image *img = NULL;
	struct its_err err = { 0 };
	struct dump_opts dopts = { .all = true };
	struct dump_summary dsum;
	enum out_mode mode;
	struct out *o;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (fz_open(&in, data, size) < 0)
		return 0;
	mode = (data[0] >> 4) & 1 ? OUT_TEXT : OUT_JSON;
	if (layouts[in.layout] && !(wo.layout = its_layout_find(layouts[in.layout])))
		abort();
	if (its_walk(in.snap->mem, &in.rs, &wo, &img, &err) < 0) {
		if (err.code == -ENOMEM || !err.msg[0])
			abort();
		goto out;
	}
	if (!fz_small(img))
		goto out_img;
	o = out_new(mode, devnull, false);
	report_dump(o, in.snap, img, &dopts, &dsum);
	out_finish(o);
	out_free(o);
	run_check(in.snap, img, in.older ? ((data[0] >> 5) & 1 ? "4.14" : "5.10") :
		  "upstream", mode);
out_img:
	its_image_free(img);
out:
	fz_close(&in);
	return 0;
}
