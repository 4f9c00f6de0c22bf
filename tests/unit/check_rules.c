/* The rules (src/check/rules_*.c) on hand-built guest RAM: a raw image at
 * GPA 0x40000000, walked as its-fsck walks it. Every problem the rules
 * record has a test that triggers it and checks the exact finding; clean
 * KVM and TCG images record none.
 *
 * The restore result the rules read is made by a small model of KVM's walk
 * (the collection list up to its terminator; DTEs and ITEs followed by their
 * nexts, invalid entries stepped over, the first next = 0 ending the walk),
 * so these tests do not depend on kvm_restore.c. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "its/bits.h"
#include "its/check.h"
#include "its/regs.h"
#include "its/snapshot.h"
#include "its/walk.h"
#include "suites.h"
#include "testutil.h"

Suite *suite_rules(void);

#define RAM	0x40000000ULL
#define RAMSZ	0x200000ULL	/* 2 MiB: RAM ends at 0x40200000 */
#define DT	0x40010000ULL
#define CT	0x40020000ULL
#define L2A	0x40030000ULL
#define L2B	0x40040000ULL
#define ITT0	0x40050000ULL	/* DeviceID 8 */
#define ITT1	0x40050100ULL	/* DeviceID 16 */
#define ITT2	0x40050200ULL
#define CMDQ	0x40060000ULL
#define PROP	0x40070000ULL
#define PEND0	0x40080000ULL
#define PEND1	0x40090000ULL
/* a second ITS */
#define DT_B	0x400a0000ULL
#define CT_B	0x400b0000ULL
#define ITT_B	0x400c0000ULL
#define CMDQ_B	0x400d0000ULL
#define DT_BIG	0x40100000ULL	/* 8 pages */

#define KVM_IIDR	0x4b00043bU
#define CBASER_V	0xb80000000000040fULL	/* Valid RaWaWb inner, 16 x 4K */
#define PROPBASER	0x4007078fULL		/* IDbits 15 */
#define NONE		FINDING_NONE
#define NOTABLE		(-1)

static uint8_t *ram;
static struct its_regset rs;
static struct snapshot *snap;
static struct its_image *img;
static struct its_err err;
static struct findings fs;
static struct check_ctx cx;
static struct restore_result rr[2];
static int nr_vcpus;

/* ---- guest memory ---- */

static void put(uint64_t gpa, uint64_t v)
{
	ck_assert(gpa >= RAM && gpa + 8 <= RAM + RAMSZ);
	its_put_le64(ram + (gpa - RAM), v);
}

static void put32(uint64_t gpa, uint32_t v)
{
	ck_assert(gpa >= RAM && gpa + 4 <= RAM + RAMSZ);
	its_put_le32(ram + (gpa - RAM), v);
}

static void put8(uint64_t gpa, uint8_t v)
{
	ck_assert(gpa >= RAM && gpa < RAM + RAMSZ);
	ram[gpa - RAM] = v;
}

static void zero(uint64_t gpa, uint64_t len)
{
	ck_assert(gpa >= RAM && gpa + len <= RAM + RAMSZ);
	memset(ram + (gpa - RAM), 0, len);
}

/* BASER: Valid | InnerCache 7 | Type | Entry_Size 7 | PA | inner | 64K | pages-1 */
static uint64_t baser(unsigned type, uint64_t pa, bool indirect, unsigned pages)
{
	return (1ULL << 63) | ((uint64_t)indirect << 62) | (7ULL << 59) |
	       ((uint64_t)type << 56) | (7ULL << 48) | pa | (1ULL << 10) |
	       (2ULL << 8) | (pages - 1);
}

/* KVM ABI entries */
static uint64_t kdte(uint64_t itt, unsigned bits, unsigned next)
{
	return (1ULL << 63) | ((uint64_t)next << 49) | ((itt >> 8) << 5) |
	       (bits - 1);
}

static uint64_t kite(uint32_t lpi, uint16_t icid, uint16_t next)
{
	return ((uint64_t)next << 48) | ((uint64_t)lpi << 16) | icid;
}

static uint64_t kcte(uint16_t icid, uint32_t target)
{
	return (1ULL << 63) | ((uint64_t)target << 16) | icid;
}

/* QEMU TCG entries */
static uint64_t tdte(uint64_t itt, unsigned bits)
{
	return 1 | ((uint64_t)(bits - 1) << 1) | ((itt >> 8) << 6);
}

static void tite(uint64_t gpa, uint32_t lpi, uint16_t icid)
{
	put(gpa, 3 | ((uint64_t)lpi << 2) | ((uint64_t)icid << 32));
	put32(gpa + 8, 0x3ff);
}

static uint64_t tcte(uint32_t target)
{
	return 1 | ((uint64_t)target << 1);
}

/* ---- the healthy KVM image ----
 * collections: ICID 0 -> vCPU 0, ICID 1 -> vCPU 1
 * DeviceID 8: ITT0, 2 bits, next 8: EventID 0 LPI 8192 ICID 0 (next 1),
 *             EventID 1 LPI 8193 ICID 1 (last)
 * DeviceID 16: ITT1, 1 bit, last: EventID 0 LPI 8194 ICID 0
 * LPIs 8192..8199 enabled, pending tables zero, queue empty. */
static void kvm_tables(void)
{
	put(CT + 0, kcte(0, 0));
	put(CT + 8, kcte(1, 1));
	put(DT + 8 * 8, kdte(ITT0, 2, 8));
	put(DT + 16 * 8, kdte(ITT1, 1, 0));
	put(ITT0, kite(8192, 0, 1));
	put(ITT0 + 8, kite(8193, 1, 0));
	put(ITT1, kite(8194, 0, 0));
}

static void its_regs(unsigned i, uint64_t dt, uint64_t ct, uint64_t cmdq)
{
	struct its_regs_raw *r = &rs.its[i];

	r->present = ITS_REG_ALL;
	r->ctlr = 0x80000001;
	r->iidr = KVM_IIDR;
	r->cbaser = CBASER_V | cmdq;
	r->cwriter = r->creadr = 0x140;
	memset(r->baser, 0, sizeof(r->baser));
	r->baser[0] = baser(1, dt, false, 1);
	r->baser[1] = baser(4, ct, false, 1);
}

static void setup(void)
{
	ram = calloc(1, RAMSZ);
	ck_assert_ptr_nonnull(ram);
	memset(&rs, 0, sizeof(rs));
	ck_assert_int_eq(its_regset_reserve(&rs, 1, 2), 0);
	its_regs(0, DT, CT, CMDQ);
	for (unsigned i = 0; i < 2; i++) {
		rs.rd[i].present = GICR_REG_PROPBASER | GICR_REG_PENDBASER;
		rs.rd[i].propbaser = PROPBASER;
		rs.rd[i].pendbaser = (i ? PEND1 : PEND0) | 0x780;
	}
	memset(ram + (PROP - RAM), 0xa2, 0xe000);
	memset(ram + (PROP - RAM), 0xa3, 8);
	kvm_tables();
	nr_vcpus = 2;
	snap = NULL;
	img = NULL;
	memset(rr, 0, sizeof(rr));
	findings_init(&fs);
}

static void model_free(void)
{
	for (unsigned i = 0; i < 2; i++) {
		for (size_t j = 0; j < rr[i].nr_devs; j++)
			free(rr[i].devs[j].events);
		free(rr[i].devs);
		free(rr[i].ctes);
		memset(&rr[i], 0, sizeof(rr[i]));
	}
}

static void teardown(void)
{
	model_free();
	findings_release(&fs);
	its_image_free(img);
	snapshot_close(snap);
	its_regset_release(&rs);
	free(ram);
	t_cleanup();
}

/* ---- the restore model ---- */

static int64_t model_target(const struct restore_result *r, uint32_t icid)
{
	for (size_t i = 0; i < r->nr_ctes; i++)
		if (r->ctes[i].icid == icid)
			return r->ctes[i].target == COLLECTION_NOT_MAPPED ?
				       -1 : (int64_t)r->ctes[i].target;
	return -1;
}

static void model_itt(struct restore_result *r, const struct its_dev_rec *d)
{
	struct restore_dev *rd = &r->devs[r->nr_devs++];
	uint64_t pos = 0;

	rd->device_id = d->device_id;
	rd->gpa = d->gpa;
	rd->itt = d->e.itt;
	rd->bits = d->e.size + 1;
	rd->events = calloc(d->nr_events ? d->nr_events : 1,
			    sizeof(*rd->events));
	ck_assert_ptr_nonnull(rd->events);
	for (size_t j = 0; j < d->nr_events; j++) {
		const struct its_ite_rec *e = &d->events[j];
		struct restore_ite *re;

		if (!e->e.valid || e->event_id < pos)
			continue;
		re = &rd->events[rd->nr_events++];
		re->event_id = e->event_id;
		re->lpi = e->e.lpi;
		re->icid = e->e.icid;
		re->gpa = e->gpa;
		re->vcpu = model_target(r, e->e.icid);
		r->nr_events++;
		if (!e->e.next)
			break;
		pos = (uint64_t)e->event_id + e->e.next;
	}
}

static void model(unsigned i)
{
	const struct its_image_its *it = &img->its[i];
	struct restore_result *r = &rr[i];
	uint64_t per_page = it->dt.indirect ? it->dt.l2_bytes / 8 : 0;
	uint64_t pos = 0, region = 0;

	r->its = i;
	r->skipped = it->layout != &its_layout_kvm;
	if (r->skipped)
		return;
	r->ctes = calloc(it->nr_ctes + 1, sizeof(*r->ctes));
	r->devs = calloc(it->nr_devs + 1, sizeof(*r->devs));
	ck_assert(r->ctes && r->devs);
	for (size_t k = 0; k < it->nr_ctes; k++) {
		const struct its_cte_rec *c = &it->ctes[k];
		struct restore_cte *rc;

		if (c->slot >= it->ct_terminator)
			break;
		rc = &r->ctes[r->nr_ctes++];
		rc->slot = c->slot;
		rc->icid = c->e.icid;
		rc->target = c->e.target;
		rc->gpa = c->gpa;
	}
	for (size_t k = 0; k < it->nr_devs; k++) {
		const struct its_dev_rec *d = &it->devs[k];
		uint64_t reg = per_page ? d->device_id / per_page : 0;

		if (!d->e.valid || (d->flags & ITS_F_IN_INVALID_L1))
			continue;
		if (reg != region) {
			region = reg;
			pos = reg * per_page;
		}
		if (d->device_id < pos)
			continue;	/* jumped over */
		model_itt(r, d);
		if (!d->e.next)
			break;
		pos = (uint64_t)d->device_id + d->e.next;
	}
}

/* Replace ITS 0's restored devices by hand: the DeviceIDs ids, each with
 * its valid ITEs except the ones f lists; f becomes rr->fails (the
 * failures the restore model steps over as if they were invalid). */
static void restore_by_hand(const uint32_t *ids, size_t n,
			    struct restore_failure *f, size_t nf)
{
	struct restore_result *r = &rr[0];

	for (size_t j = 0; j < r->nr_devs; j++)
		free(r->devs[j].events);
	r->nr_devs = r->nr_events = 0;
	for (size_t i = 0; i < n; i++) {
		const struct its_dev_rec *d = its_image_device(&img->its[0], ids[i]);
		struct restore_dev *rd = &r->devs[r->nr_devs++];

		ck_assert_ptr_nonnull(d);
		memset(rd, 0, sizeof(*rd));
		rd->device_id = d->device_id;
		rd->gpa = d->gpa;
		rd->itt = d->e.itt;
		rd->bits = d->e.size + 1;
		rd->events = calloc(d->nr_events + 1, sizeof(*rd->events));
		ck_assert_ptr_nonnull(rd->events);
		for (size_t j = 0; j < d->nr_events; j++) {
			const struct its_ite_rec *e = &d->events[j];
			struct restore_ite *re;
			bool failed = false;

			for (size_t k = 0; k < nf; k++)
				failed |= f[k].where.table == ITS_TABLE_ITT &&
					  f[k].where.device_id == d->device_id &&
					  f[k].where.event_id == e->event_id;
			if (!e->e.valid || failed)
				continue;
			re = &rd->events[rd->nr_events++];
			re->event_id = e->event_id;
			re->lpi = e->e.lpi;
			re->icid = e->e.icid;
			re->gpa = e->gpa;
			re->vcpu = model_target(r, e->e.icid);
			r->nr_events++;
		}
	}
	r->fails = f;
	r->nr_fails = nf;
}

static struct restore_failure failure(enum problem_id p, int table,
				      int64_t dev, int64_t ev)
{
	struct restore_failure f;

	memset(&f, 0, sizeof(f));
	f.err = -EINVAL;
	f.problem = p;
	f.where = finding_at(0, table);
	f.where.device_id = dev;
	f.where.event_id = ev;
	return f;
}

/* ---- running the rules ---- */

static void walk_opts(const struct its_walk_opts *o)
{
	struct snap_ram_base rb = { NULL, RAM };
	struct snap_open_opts so = { .ram_bases = &rb, .nr_ram_bases = 1 };
	char *path = t_write_file("ram.bin", 0, ram, RAMSZ);

	ck_assert_int_eq(snapshot_open(path, &so, &snap, &err), 0);
	free(path);
	ck_assert_int_eq(its_walk(snap->mem, &rs, o, &img, &err), 0);
	memset(&cx, 0, sizeof(cx));
	cx.snap = snap;
	cx.mem = snap->mem;
	cx.img = img;
	kernel_profile_upstream(&cx.profile);
	cx.nr_vcpus = nr_vcpus;
	for (unsigned i = 0; i < img->nr_its; i++)
		model(i);
}

static void rules(void)
{
	static const check_rule_fn fn[] = {
		rules_registers, rules_collections, rules_devices, rules_itts,
		rules_lpi, rules_cross, rules_tcg,
	};

	for (unsigned i = 0; i < img->nr_its; i++)
		for (size_t k = 0; k < sizeof(fn) / sizeof(fn[0]); k++)
			ck_assert_int_eq(fn[k](&cx, i, &rr[i], &fs), 0);
}

static void run(void)
{
	walk_opts(NULL);
	rules();
}

/* ---- assertions ---- */

/* The first findings, for failure messages (Check caps their length). */
static const char *dump(void)
{
	static char buf[2048];
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < fs.nr && i < 8 && n < sizeof(buf) - 1; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "  %s: %.160s\n",
				      problem_get(fs.v[i].problem)->name,
				      fs.v[i].detail);
	return buf;
}

static const struct finding *one(enum problem_id p)
{
	const struct finding *f = NULL;

	ck_assert_msg(findings_count(&fs, p) == 1, "%s: %zu findings\n%s",
		      problem_get(p)->name, findings_count(&fs, p), dump());
	for (size_t i = 0; i < fs.nr; i++)
		if (fs.v[i].problem == p)
			f = &fs.v[i];
	ck_assert_ptr_nonnull(f);
	return f;
}

static void total(size_t n)
{
	ck_assert_msg(fs.nr == n && fs.not_stored == 0,
		      "%zu findings, expected %zu\n%s", fs.nr, n, dump());
}

static const struct finding *only(enum problem_id p)
{
	total(1);
	return one(p);
}

static void count(enum problem_id p, size_t n)
{
	ck_assert_msg(findings_count(&fs, p) == n, "%s: %zu findings, expected %zu\n%s",
		      problem_get(p)->name, findings_count(&fs, p), n, dump());
}

static void loc(const struct finding *f, unsigned its, int table, int64_t dev,
		int64_t ev, int64_t icid, int64_t cpu)
{
	ck_assert_uint_eq(f->its, its);
	if (table < 0) {
		ck_assert(!f->has_table);
	} else {
		ck_assert(f->has_table);
		ck_assert_int_eq(f->table, table);
	}
	ck_assert_int_eq(f->device_id, dev);
	ck_assert_int_eq(f->event_id, ev);
	ck_assert_int_eq(f->icid, icid);
	ck_assert_int_eq(f->cpu, cpu);
}

static void gpa_is(const struct finding *f, uint64_t gpa)
{
	ck_assert(f->has_gpa);
	ck_assert_uint_eq(f->gpa, gpa);
}

static void no_gpa(const struct finding *f)
{
	ck_assert(!f->has_gpa);
}

static void raw64(const struct finding *f, uint64_t v)
{
	ck_assert(f->has_raw);
	ck_assert_uint_eq(f->raw_len, 8);
	ck_assert_uint_eq(its_le64(f->raw), v);
}

static void raw32(const struct finding *f, uint32_t v)
{
	ck_assert(f->has_raw);
	ck_assert_uint_eq(f->raw_len, 4);
	ck_assert_uint_eq(its_le32(f->raw), v);
}

static void rawb(const struct finding *f, const uint8_t *b, unsigned len)
{
	ck_assert(f->has_raw);
	ck_assert_uint_eq(f->raw_len, len);
	ck_assert(memcmp(f->raw, b, len) == 0);
}

static void no_raw(const struct finding *f)
{
	ck_assert(!f->has_raw);
}

static void detail(const struct finding *f, const char *s)
{
	ck_assert_str_eq(f->detail, s);
}

/* ---- clean images ---- */

START_TEST(clean_kvm)
{
	run();
	total(0);
	ck_assert_uint_eq(rr[0].nr_ctes, 2);
	ck_assert_uint_eq(rr[0].nr_devs, 2);
	ck_assert_uint_eq(rr[0].nr_events, 3);
}
END_TEST

static void kvm_two_level(void)
{
	zero(DT, 0x10000);
	rs.its[0].baser[0] = baser(1, DT, true, 1);
	put(DT, (1ULL << 63) | L2A);
	put(L2A + 8 * 8, kdte(ITT0, 2, 8));
	put(L2A + 16 * 8, kdte(ITT1, 1, 0));
}

START_TEST(clean_kvm_two_level)
{
	kvm_two_level();
	/* a second page, reached after the first page's walk runs out */
	put(L2A + 16 * 8, kdte(ITT1, 1, 8190));	/* to 8206: next page */
	put(DT + 8, (1ULL << 63) | L2B);
	put(L2B + 3 * 8, kdte(ITT2, 1, 0));	/* DeviceID 8195 */
	put(ITT2, kite(8195, 1, 0));
	run();
	count(PR_DTE_NEXT_PAST_PAGE, 1);	/* normal for KVM's SAVE */
	total(1);
	ck_assert_uint_eq(rr[0].nr_devs, 3);
}
END_TEST

static void tcg_tables(void)
{
	zero(DT, 0x10000);
	zero(CT, 0x10000);
	zero(ITT0, 0x300);
	rs.its[0].iidr = 0;
	put(CT + 0, tcte(0));
	put(CT + 8, tcte(1));
	put(DT + 8 * 8, tdte(ITT0, 2));
	put(DT + 16 * 8, tdte(ITT1, 1));
	tite(ITT0, 8192, 0);
	tite(ITT0 + 12, 8193, 1);
	tite(ITT1, 8194, 0);
}

START_TEST(clean_tcg)
{
	const struct finding *f;

	tcg_tables();
	run();
	ck_assert_str_eq(img->its[0].layout->name, "tcg");
	ck_assert(rr[0].skipped);
	f = only(PR_LAYOUT_QEMU_TCG);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	no_gpa(f);
	no_raw(f);
	detail(f, "GITS_IIDR 0: QEMU's emulated ITS never stores it");
}
END_TEST

/* Fuzz regression (tests/fuzz/regress/walk-tcg-no-collections): a TCG
 * ITS whose collection table is not valid has no CTE records (ctes is
 * NULL); looking ICIDs up in it passed NULL to bsearch. */
START_TEST(tcg_no_collection_table)
{
	tcg_tables();
	rs.its[0].baser[1] &= ~(1ULL << 63);
	run();
	ck_assert_uint_eq(img->its[0].nr_ctes, 0);
	ck_assert_ptr_null(img->its[0].ctes);
	/* every ITE names an ICID outside a table of 0 collections */
	count(PR_TCG_ITE_ICID_RANGE, 3);
}
END_TEST

/* ---- registers ---- */

START_TEST(layout_guessed)
{
	const struct finding *f;

	rs.its[0].present &= ~ITS_REG_IIDR;
	run();
	f = only(PR_LAYOUT_GUESSED);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	no_gpa(f);
	no_raw(f);
	detail(f, "layout kvm: 4 table entries carry KVM's valid bit 63 (no GITS_IIDR given)");
}
END_TEST

START_TEST(layout_guessed_tcg)
{
	tcg_tables();
	rs.its[0].present &= ~ITS_REG_IIDR;
	run();
	total(2);
	one(PR_LAYOUT_QEMU_TCG);
	detail(one(PR_LAYOUT_GUESSED),
	       "layout tcg: 4 table entries carry QEMU's valid bit 0, 0 KVM's bit 63 (no GITS_IIDR given)");
}
END_TEST

START_TEST(layout_forced_not_guessed)
{
	struct its_walk_opts o = { &its_layout_kvm };

	rs.its[0].present &= ~ITS_REG_IIDR;
	walk_opts(&o);
	rules();
	total(0);
}
END_TEST

START_TEST(iidr_revision)
{
	const struct finding *f;

	rs.its[0].iidr = 0x4b00143b;
	run();
	f = only(PR_IIDR_REVISION);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	no_gpa(f);
	raw32(f, 0x4b00143b);
	detail(f, "GITS_IIDR 0x4b00143b: Revision 1 (KVM knows revision 0 only)");
}
END_TEST

START_TEST(iidr_not_kvm)
{
	struct its_walk_opts o = { &its_layout_kvm };
	const struct finding *f;

	rs.its[0].iidr = 0x0100043b;
	walk_opts(&o);
	rules();
	f = only(PR_IIDR_NOT_KVM);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	no_gpa(f);
	raw32(f, 0x0100043b);
	detail(f, "GITS_IIDR 0x0100043b: Implementer 0x43b, ProductID 0x1");
}
END_TEST

START_TEST(baser_type)
{
	const struct finding *f;

	rs.its[0].baser[1] = baser(1, CT, false, 1);
	run();
	f = only(PR_BASER_TYPE);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	no_gpa(f);
	raw64(f, 0xb907000040020600ULL);
	detail(f, "GITS_BASER1 0xb907000040020600: Type 1 (devices), KVM reports 4 (collections)");
}
END_TEST

START_TEST(baser_entry_size)
{
	const struct finding *f;

	rs.its[0].baser[0] = its_field_put(rs.its[0].baser[0], 52, 48, 3);
	run();
	f = only(PR_BASER_ENTRY_SIZE);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	raw64(f, 0xb903000040010600ULL);
	detail(f, "GITS_BASER0 0xb903000040010600: Entry_Size 3 (4-byte entries)");
}
END_TEST

START_TEST(baser_page_size)
{
	const struct finding *f;

	rs.its[0].baser[0] = its_field_put(rs.its[0].baser[0], 9, 8, 0);
	run();
	f = only(PR_BASER_PAGE_SIZE);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	raw64(f, 0xb907000040010400ULL);
	detail(f, "GITS_BASER0 0xb907000040010400: Page_Size 0 (4K); KVM reads 1 64K page at 0x40010000");
}
END_TEST

START_TEST(baser_unused_set)
{
	const struct finding *f;

	rs.its[0].baser[3] = 0x0107000000000200ULL;
	run();
	f = only(PR_BASER_UNUSED_SET);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	raw64(f, 0x0107000000000200ULL);
	detail(f, "GITS_BASER3 0x0107000000000200: KVM implements GITS_BASER0 and GITS_BASER1 only");
}
END_TEST

START_TEST(baser_zero_no_fields)
{
	/* a BASER of 0 has no fields to judge; Valid clear is what counts */
	rs.its[0].ctlr = 0x80000000;
	rs.its[0].baser[1] = 0;
	run();
	detail(only(PR_BASER_INVALID_LPIS_IN_USE),
	       "GITS_BASER1 0x0000000000000000: not Valid, but the device table holds 2 valid entries");
}
END_TEST

START_TEST(baser_coll_indirect)
{
	const struct finding *f;

	rs.its[0].baser[1] |= GITS_BASER_INDIRECT;
	run();
	f = only(PR_BASER_COLL_INDIRECT);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	raw64(f, 0xfc07000040020600ULL);
	detail(f, "GITS_BASER1 0xfc07000040020600: Indirect set; KVM reads the collection table flat");
}
END_TEST

START_TEST(baser_cache_sanitised)
{
	const struct finding *f;
	uint64_t v = rs.its[0].baser[0];

	v = its_field_put(v, 11, 10, 2);	/* outer shareable */
	v = its_field_put(v, 61, 59, 1);	/* inner nC */
	v = its_field_put(v, 55, 53, 2);	/* outer RaWt */
	rs.its[0].baser[0] = v;
	run();
	f = only(PR_BASER_CACHE_SANITISED);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	raw64(f, 0x8947000040010a00ULL);
	detail(f, "GITS_BASER0 0x8947000040010a00: Shareability outer (KVM: inner); InnerCache nC (KVM: RaWb); OuterCache RaWt (KVM: same-as-inner)");
}
END_TEST

START_TEST(ctlr_enabled_table_invalid)
{
	const struct finding *f;

	rs.its[0].baser[0] &= ~GITS_BASER_VALID;
	rs.its[0].cbaser &= ~GITS_CBASER_VALID;
	run();
	f = one(PR_CTLR_ENABLED_TABLE_INVALID);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	no_gpa(f);
	raw32(f, 0x80000001);
	detail(f, "GITS_CTLR 0x80000001: Enabled, but GITS_BASER0, GITS_CBASER not Valid: KVM leaves the ITS disabled");
	count(PR_BASER_INVALID_LPIS_IN_USE, 1);
	count(PR_CBASER_INVALID, 1);
	count(PR_CTE_UNUSED, 2);	/* no device is restored */
	total(5);
}
END_TEST

START_TEST(baser_invalid_lpis_in_use)
{
	const struct finding *f;

	/* ITS disabled: the device table's mappings are the evidence */
	rs.its[0].ctlr = 0x80000000;
	rs.its[0].baser[1] &= ~GITS_BASER_VALID;
	run();
	f = only(PR_BASER_INVALID_LPIS_IN_USE);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	raw64(f, 0x3c07000040020600ULL);
	detail(f, "GITS_BASER1 0x3c07000040020600: not Valid, but the device table holds 2 valid entries");
	/* with the ITS enabled, that is the evidence */
	findings_release(&fs);
	img->its[0].regs.ctlr = 0x80000001;
	rules();
	detail(one(PR_BASER_INVALID_LPIS_IN_USE),
	       "GITS_BASER1 0x3c07000040020600: not Valid, but GITS_CTLR.Enabled");
}
END_TEST

START_TEST(cbaser_invalid)
{
	const struct finding *f;

	rs.its[0].cbaser &= ~GITS_CBASER_VALID;
	run();
	f = one(PR_CBASER_INVALID);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	no_gpa(f);
	raw64(f, 0x380000004006040fULL);
	detail(f, "GITS_CBASER 0x380000004006040f: not Valid while GITS_CTLR.Enabled");
	count(PR_CTLR_ENABLED_TABLE_INVALID, 1);
	total(2);
}
END_TEST

START_TEST(cbaser_align)
{
	const struct finding *f;

	rs.its[0].cbaser = CBASER_V | (CMDQ + 0x1000);
	run();
	f = only(PR_CBASER_ALIGN);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	raw64(f, 0xb80000004006140fULL);
	detail(f, "GITS_CBASER 0xb80000004006140f: queue at 0x40061000, KVM uses 0x40060000");
}
END_TEST

START_TEST(creadr_range)
{
	const struct finding *f;

	rs.its[0].creadr = 0x10000;
	run();
	f = only(PR_CREADR_RANGE);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	raw64(f, 0x10000);
	detail(f, "GITS_CREADR 0x10000: offset 0x10000 >= queue size 0x10000 (GITS_CBASER.Size 15)");
}
END_TEST

START_TEST(cwriter_range)
{
	const struct finding *f;

	rs.its[0].cwriter = 0x20000;
	run();
	f = only(PR_CWRITER_RANGE);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	raw64(f, 0x20000);
	detail(f, "GITS_CWRITER 0x20000: offset 0x20000 >= queue size 0x10000 (GITS_CBASER.Size 15)");
}
END_TEST

START_TEST(cmdq_pending)
{
	static const uint8_t cmd[16] = { 0x08, 0, 0, 0, 0x08, 0, 0, 0, 1 };
	const struct finding *f;

	rs.its[0].cwriter = 0x1a0;
	put(CMDQ + 0x140, 0x0000000800000008ULL);	/* MAPD DeviceID 8 */
	put(CMDQ + 0x148, 1);				/* Size 1 */
	run();
	f = only(PR_CMDQ_PENDING);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	gpa_is(f, CMDQ + 0x140);
	rawb(f, cmd, 16);
	detail(f, "3 commands between GITS_CREADR 0x140 and GITS_CWRITER 0x1a0; first: MAPD (0x08)");
}
END_TEST

/* ---- collections ---- */

START_TEST(cte_res0)
{
	const struct finding *f;

	put(CT + 8, 0x8001000000010001ULL);
	run();
	f = only(PR_CTE_RES0);
	loc(f, 0, ITS_TABLE_COLLECTIONS, NONE, NONE, 1, NONE);
	gpa_is(f, CT + 8);
	raw64(f, 0x8001000000010001ULL);
	detail(f, "slot 1 ICID 1: bits [62:48] = 0x1");
}
END_TEST

START_TEST(cte_unused)
{
	const struct finding *f;

	put(CT + 16, kcte(5, 1));
	run();
	f = only(PR_CTE_UNUSED);
	loc(f, 0, ITS_TABLE_COLLECTIONS, NONE, NONE, 5, NONE);
	gpa_is(f, CT + 16);
	raw64(f, 0x8000000000010005ULL);
	detail(f, "ICID 5 (target vCPU 1): no restored event uses it");
}
END_TEST

/* ---- device table ---- */

START_TEST(l1_res0)
{
	const struct finding *f;

	kvm_two_level();
	put(DT, 0x8010000040030001ULL);
	run();
	f = only(PR_L1_RES0);
	loc(f, 0, ITS_TABLE_DEVICES, NONE, NONE, NONE, NONE);
	gpa_is(f, DT);
	raw64(f, 0x8010000040030001ULL);
	detail(f, "L1[0] 0x8010000040030001: bits [62:52] = 0x1, bits [15:0] = 0x1");
}
END_TEST

START_TEST(l1_beyond_devbits)
{
	const struct finding *f;

	kvm_two_level();
	put(DT + 8 * 8, (1ULL << 63) | L2B);
	put(L2B + 5 * 8, kdte(ITT2, 1, 0));	/* DeviceID 0x10005 */
	run();
	f = only(PR_L1_BEYOND_DEVBITS);
	loc(f, 0, ITS_TABLE_DEVICES, 0x10005, NONE, NONE, NONE);
	gpa_is(f, DT + 64);
	raw64(f, 0x8000000040040000ULL);
	detail(f, "L1[8] (DeviceIDs 0x10000-0x11fff): L2 page 0x40040000 holds 1 valid DTE, first DeviceID 0x10005");
}
END_TEST

START_TEST(l2_aliased)
{
	const struct finding *f;

	kvm_two_level();
	put(DT + 8, (1ULL << 63) | L2A);
	run();
	f = one(PR_L2_ALIASED);
	loc(f, 0, ITS_TABLE_DEVICES, NONE, NONE, NONE, NONE);
	gpa_is(f, DT + 8);
	raw64(f, 0x8000000040030000ULL);
	detail(f, "L1[1] and L1[0] both point at L2 page 0x40030000");
	/* DeviceIDs 8200 and 8208 use the ITTs of 8 and 16 */
	count(PR_ITT_OVERLAP, 2);
	total(3);
}
END_TEST

START_TEST(dte_itt_zero)
{
	const struct finding *f;

	put(DT + 16 * 8, kdte(ITT1, 1, 8));
	put(DT + 24 * 8, kdte(0, 1, 0));
	run();
	f = one(PR_DTE_ITT_ZERO);
	loc(f, 0, ITS_TABLE_DEVICES, 0x18, NONE, NONE, NONE);
	gpa_is(f, DT + 24 * 8);
	raw64(f, 0x8000000000000000ULL);
	detail(f, "DeviceID 0x18: ITT address 0 (1 EventID bit)");
	/* page 0 is no RAM in this guest */
	f = one(PR_TABLE_NOT_RAM);
	loc(f, 0, ITS_TABLE_ITT, 0x18, NONE, NONE, NONE);
	gpa_is(f, 0);
	raw64(f, 0x8000000000000000ULL);
	detail(f, "ITT of DeviceID 0x18 [0x0, 0x10): 0x10 bytes from 0x0 are not guest RAM");
	total(2);
}
END_TEST

/* DeviceID 8's next lands on 12, an empty slot: KVM steps on to 16, which
 * no next links to. */
static void dte_chain_broken(void)
{
	put(DT + 8 * 8, kdte(ITT0, 2, 4));
	run();
	total(2);
}

START_TEST(dte_next_lands_invalid)
{
	const struct finding *f;

	dte_chain_broken();
	f = one(PR_DTE_NEXT_LANDS_INVALID);
	loc(f, 0, ITS_TABLE_DEVICES, 8, NONE, NONE, NONE);
	gpa_is(f, DT + 64);
	raw64(f, 0x800800000800a001ULL);
	detail(f, "DeviceID 0x8: next 4 lands on DeviceID 0xc, which holds no valid DTE");
}
END_TEST

START_TEST(dte_orphan)
{
	const struct finding *f;

	dte_chain_broken();
	f = one(PR_DTE_ORPHAN);
	loc(f, 0, ITS_TABLE_DEVICES, 16, NONE, NONE, NONE);
	gpa_is(f, DT + 128);
	raw64(f, 0x800000000800a020ULL);
	detail(f, "DeviceID 0x10: restored, but no next links to it and it is not the first DTE of its walk (DeviceID 0x8 before it: next 4)");
}
END_TEST

START_TEST(dte_capped_next_no_orphan)
{
	/* KVM caps a DTE next at 16383: the walk steps on to the real next */
	rs.its[0].baser[0] = baser(1, DT_BIG, false, 8); /* 65536 DeviceIDs */
	put(DT_BIG + 8 * 8, kdte(ITT0, 2, 8));
	put(DT_BIG + 16 * 8, kdte(ITT1, 1, 16383));
	put(DT_BIG + 20000 * 8, kdte(ITT2, 1, 0));
	run();
	total(0);
	ck_assert_uint_eq(rr[0].nr_devs, 3);
}
END_TEST

START_TEST(dte_next_past_page)
{
	const struct finding *f;

	put(DT + 16 * 8, kdte(ITT1, 1, 8180));
	run();
	f = only(PR_DTE_NEXT_PAST_PAGE);
	loc(f, 0, ITS_TABLE_DEVICES, 16, NONE, NONE, NONE);
	gpa_is(f, DT + 128);
	raw64(f, 0xbfe800000800a020ULL);
	detail(f, "DeviceID 0x10: next 8180 reaches 0x2004, past the table (last DeviceID 0x1fff); next 8176 would end at the table end");
}
END_TEST

START_TEST(dte_next_to_table_end)
{
	/* next ending exactly at the end: the repaired form, fine */
	put(DT + 16 * 8, kdte(ITT1, 1, 8176));
	run();
	total(0);
}
END_TEST

START_TEST(dte_size_oversized_not_judged)
{
	/* Size 31: KVM rejects the DTE (DTE_SIZE_RANGE, the restore
	 * model's); its ITT, walked as 2^16 entries across the command
	 * queue and the LPI tables, is neither placed nor read entry by entry */
	put(DT + 16 * 8, kdte(ITT1, 32, 0));
	memset(ram + (CMDQ - RAM), 0xa5, 0x100);
	run();
	ck_assert_uint_gt(its_image_device(&img->its[0], 16)->nr_events, 1);
	total(0);
}
END_TEST

START_TEST(dte_next_past_l2_page)
{
	const struct finding *f;

	kvm_two_level();
	put(L2A + 16 * 8, kdte(ITT1, 1, 8180));
	run();
	f = only(PR_DTE_NEXT_PAST_PAGE);
	loc(f, 0, ITS_TABLE_L2, 16, NONE, NONE, NONE);
	gpa_is(f, L2A + 128);
	raw64(f, 0xbfe800000800a020ULL);
	detail(f, "DeviceID 0x10: next 8180 reaches 0x2004, past its L2 page (last DeviceID 0x1fff); next 8176 would end at the page end");
}
END_TEST

START_TEST(itt_overlap)
{
	const struct finding *f;

	/* DeviceID 8: 64 events, [ITT0, ITT0 + 0x200) holds ITT1 */
	put(DT + 8 * 8, kdte(ITT0, 6, 8));
	run();
	f = only(PR_ITT_OVERLAP);
	loc(f, 0, ITS_TABLE_DEVICES, 16, NONE, NONE, NONE);
	gpa_is(f, DT + 128);
	raw64(f, 0x800000000800a020ULL);
	detail(f, "ITT of DeviceID 0x10 [0x40050100, 0x40050110) overlaps ITT of DeviceID 0x8 [0x40050000, 0x40050200)");
}
END_TEST

START_TEST(itt_share_page_no_overlap)
{
	/* ITTs next to each other in one page: fine */
	put(DT + 16 * 8, kdte(ITT0 + 0x100, 1, 8));
	put(DT + 24 * 8, kdte(ITT0 + 0x200, 2, 0));
	put(ITT0 + 0x200, kite(8195, 1, 0));
	run();
	total(0);
}
END_TEST

/* ---- ITTs ---- */

START_TEST(ite_lpi_above_max)
{
	const struct finding *f;

	put(ITT1, kite(70000, 0, 0));
	run();
	f = only(PR_ITE_LPI_ABOVE_MAX);
	loc(f, 0, ITS_TABLE_ITT, 16, 0, NONE, NONE);
	gpa_is(f, ITT1);
	raw64(f, 0x0000000111700000ULL);
	detail(f, "DeviceID 0x10 EventID 0: LPI 70000 >= 65536 (GICR_PROPBASER.IDbits 15)");
}
END_TEST

/* DeviceID 8: EventID 0's next lands on 2, empty; KVM steps on to 3. */
static void ite_chain_broken(void)
{
	put(ITT0, kite(8192, 0, 2));
	put(ITT0 + 8, 0);
	put(ITT0 + 24, kite(8193, 1, 0));
	run();
	total(2);
}

START_TEST(ite_next_lands_invalid)
{
	const struct finding *f;

	ite_chain_broken();
	f = one(PR_ITE_NEXT_LANDS_INVALID);
	loc(f, 0, ITS_TABLE_ITT, 8, 0, NONE, NONE);
	gpa_is(f, ITT0);
	raw64(f, 0x0002000020000000ULL);
	detail(f, "DeviceID 0x8 EventID 0: next 2 lands on EventID 2, which holds no valid ITE");
}
END_TEST

START_TEST(ite_orphan)
{
	const struct finding *f;

	ite_chain_broken();
	f = one(PR_ITE_ORPHAN);
	loc(f, 0, ITS_TABLE_ITT, 8, 3, NONE, NONE);
	gpa_is(f, ITT0 + 24);
	raw64(f, 0x0000000020010001ULL);
	detail(f, "DeviceID 0x8 EventID 3: restored, but no next links to it and it is not the first ITE of its ITT (EventID 0 before it: next 2)");
}
END_TEST

START_TEST(ite_no_orphan_after_failure)
{
	static const uint32_t ids[] = { 8, 16 };
	struct restore_failure f[1];

	/* EventID 1's next runs past the ITT: the restore fails there, steps
	 * over it, and restores EventIDs 2 and 3 */
	put(ITT0 + 8, kite(8193, 1, 4));
	put(ITT0 + 16, kite(8195, 0, 1));
	put(ITT0 + 24, kite(8196, 1, 0));
	walk_opts(NULL);
	f[0] = failure(PR_ITE_NEXT_BEYOND_ITT, ITS_TABLE_ITT, 8, 1);
	restore_by_hand(ids, 2, f, 1);
	ck_assert_uint_eq(rr[0].devs[0].nr_events, 3);
	rules();
	total(0);
	/* without the failure to explain the step, EventID 2 is an orphan */
	findings_release(&fs);
	rr[0].nr_fails = 0;
	rules();
	detail(only(PR_ITE_ORPHAN),
	       "DeviceID 0x8 EventID 2: restored, but no next links to it and it is not the first ITE of its ITT (EventID 0 before it: next 1)");
}
END_TEST

START_TEST(dte_no_orphan_after_failure)
{
	static const uint32_t ids[] = { 8, 24 };
	struct restore_failure f[1];

	/* DeviceID 16 has Size 31: the restore fails there and steps on */
	put(DT + 16 * 8, kdte(ITT1, 32, 0));
	put(DT + 24 * 8, kdte(ITT2, 1, 0));
	put(ITT2, kite(8195, 1, 0));
	walk_opts(NULL);
	f[0] = failure(PR_DTE_SIZE_RANGE, ITS_TABLE_DEVICES, 16, NONE);
	restore_by_hand(ids, 2, f, 1);
	rules();
	total(0);
	findings_release(&fs);
	rr[0].nr_fails = 0;
	rules();
	detail(only(PR_DTE_ORPHAN),
	       "DeviceID 0x18: restored, but no next links to it and it is not the first DTE of its walk (DeviceID 0x8 before it: next 8)");
}
END_TEST

START_TEST(ite_lpi_duplicate)
{
	const struct finding *f;

	put(ITT1, kite(8193, 0, 0));
	run();
	f = only(PR_ITE_LPI_DUPLICATE);
	loc(f, 0, ITS_TABLE_ITT, 16, 0, NONE, NONE);
	gpa_is(f, ITT1);
	raw64(f, 0x0000000020010000ULL);
	detail(f, "DeviceID 0x10 EventID 0: LPI 8193 is mapped by DeviceID 0x8 EventID 1 too");
}
END_TEST

/* A second ITS with one collection (ICID 0 -> vCPU 0) and DeviceID 8
 * mapping EventID 0 to lpi. */
static void second_its(uint64_t ct, uint32_t lpi)
{
	ck_assert_int_eq(its_regset_reserve(&rs, 2, 2), 0);
	its_regs(1, DT_B, ct, CMDQ_B);
	if (ct == CT_B)
		put(CT_B, kcte(0, 0));
	put(DT_B + 8 * 8, kdte(ITT_B, 1, 0));
	put(ITT_B, kite(lpi, 0, 0));
}

START_TEST(ite_lpi_duplicate_other_its)
{
	const struct finding *f;

	second_its(CT_B, 8192);
	run();
	f = only(PR_ITE_LPI_DUPLICATE);
	loc(f, 1, ITS_TABLE_ITT, 8, 0, NONE, NONE);
	gpa_is(f, ITT_B);
	raw64(f, 0x0000000020000000ULL);
	detail(f, "DeviceID 0x8 EventID 0: LPI 8192 is mapped by ITS 0 DeviceID 0x8 EventID 0 too");
}
END_TEST

START_TEST(ite_collection_unmapped)
{
	const struct finding *f;

	put(CT + 8, 0x8000ffffffff0001ULL);
	run();
	f = only(PR_ITE_COLLECTION_UNMAPPED);
	loc(f, 0, ITS_TABLE_ITT, 8, 1, 1, NONE);
	gpa_is(f, ITT0 + 8);
	raw64(f, 0x0000000020010001ULL);
	detail(f, "DeviceID 0x8 EventID 1: LPI 8193 in collection ICID 1, which is not mapped (target 0xffffffff)");
}
END_TEST

/* ---- LPI property and pending tables ---- */

START_TEST(propbaser_idbits)
{
	const struct finding *f;

	rs.rd[0].propbaser = rs.rd[1].propbaser = 0x4007078cULL;
	run();
	f = only(PR_PROPBASER_IDBITS);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, 1);
	no_gpa(f);
	raw64(f, 0x4007078cULL);
	detail(f, "GICR_PROPBASER 0x000000004007078c (vCPU 1): IDbits 12 (13 INTID bits): no LPI is in range");
}
END_TEST

START_TEST(prop_table_not_ram)
{
	const struct finding *f;

	rs.rd[0].propbaser = rs.rd[1].propbaser = 0x401f878fULL;
	memset(ram + (0x401f8000 - RAM), 0xa3, 8);
	run();
	f = only(PR_PROP_TABLE_NOT_RAM);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, 1);
	gpa_is(f, 0x40200000);
	raw64(f, 0x401f878fULL);
	detail(f, "property table [0x401f8000, 0x40206000) (IDbits 15): 0x6000 bytes from 0x40200000 are not guest RAM");
}
END_TEST

START_TEST(propbaser_differs)
{
	const struct finding *f;

	rs.rd[0].propbaser = 0x4007078eULL;
	run();
	f = only(PR_PROPBASER_DIFFERS);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, 0);
	no_gpa(f);
	raw64(f, 0x4007078eULL);
	detail(f, "vCPU 0: GICR_PROPBASER 0x000000004007078e; vCPU 1's (the value KVM keeps): 0x000000004007078f");
}
END_TEST

START_TEST(lpi_disabled)
{
	static const uint8_t b = 0xa2;
	const struct finding *f;

	put8(PROP + 1, 0xa2);
	run();
	f = only(PR_LPI_DISABLED);
	loc(f, 0, NOTABLE, 8, 1, NONE, NONE);
	gpa_is(f, PROP + 1);
	rawb(f, &b, 1);
	detail(f, "LPI 8193 (DeviceID 0x8 EventID 1): property byte 0xa2 at 0x40070001 has Enable clear");
}
END_TEST

START_TEST(pend_table_not_ram)
{
	const struct finding *f;

	rs.rd[1].pendbaser = 0x50000780ULL;
	run();
	f = only(PR_PEND_TABLE_NOT_RAM);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, 1);
	gpa_is(f, 0x50000000);
	raw64(f, 0x50000780ULL);
	detail(f, "vCPU 1: pending table [0x50000000, 0x50002000): 0x2000 bytes from 0x50000000 are not guest RAM");
}
END_TEST

START_TEST(pendbaser_shared)
{
	const struct finding *f;

	rs.rd[1].pendbaser = rs.rd[0].pendbaser;
	run();
	f = only(PR_PENDBASER_SHARED);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, 1);
	gpa_is(f, PEND0);
	raw64(f, 0x40080780ULL);
	detail(f, "vCPU 1: pending table 0x40080000 is vCPU 0's too");
}
END_TEST

START_TEST(pending_below_8192)
{
	static const uint8_t b = 0x05;
	const struct finding *f;

	put8(PEND0 + 3, 0x05);		/* INTIDs 24 and 26 */
	run();
	f = only(PR_PENDING_BELOW_8192);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, 0);
	gpa_is(f, PEND0 + 3);
	rawb(f, &b, 1);
	detail(f, "vCPU 0: 2 pending bits set for INTIDs below 8192 (first INTID 24)");
}
END_TEST

START_TEST(pending_unmapped)
{
	static const uint8_t b = 0x10;
	const struct finding *f;

	put8(PEND1 + 8300 / 8, 0x10);	/* LPI 8300 */
	run();
	f = only(PR_PENDING_UNMAPPED);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, 1);
	gpa_is(f, PEND1 + 0x40d);
	rawb(f, &b, 1);
	detail(f, "vCPU 1: LPI 8300 pending (0x4009040d bit 4), but no event maps it");
}
END_TEST

START_TEST(pending_wrong_vcpu)
{
	static const uint8_t b = 0x02;
	const struct finding *f;

	put8(PEND0 + 8193 / 8, 0x02);	/* LPI 8193, whose target is vCPU 1 */
	run();
	f = only(PR_PENDING_WRONG_VCPU);
	loc(f, 0, NOTABLE, 8, 1, NONE, 0);
	gpa_is(f, PEND0 + 0x400);
	rawb(f, &b, 1);
	detail(f, "LPI 8193 pending in vCPU 0's table (0x40080400 bit 1), but DeviceID 0x8 EventID 1 targets vCPU 1");
	/* pending in the target's table as well: picked up, nothing lost */
	findings_release(&fs);
	model_free();
	its_image_free(img);
	img = NULL;
	snapshot_close(snap);
	snap = NULL;
	put8(PEND1 + 8193 / 8, 0x02);
	run();
	total(0);
}
END_TEST

/* ---- cross-table ---- */

START_TEST(tables_empty_its_enabled)
{
	const struct finding *f;

	zero(CT, 16);
	zero(DT + 64, 72);
	run();
	f = only(PR_TABLES_EMPTY_ITS_ENABLED);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	no_gpa(f);
	no_raw(f);
	detail(f, "GITS_CTLR.Enabled, GITS_BASER0 and GITS_BASER1 Valid, but no valid DTE or CTE in the device table at 0x40010000 or the collection table at 0x40020000");
}
END_TEST

START_TEST(table_overlap)
{
	const struct finding *f;

	rs.its[0].cbaser = CBASER_V | CT;
	run();
	f = only(PR_TABLE_OVERLAP);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	gpa_is(f, CT);
	raw64(f, 0xb80000004002040fULL);
	detail(f, "command queue [0x40020000, 0x40030000) overlaps collection table [0x40020000, 0x40030000)");
}
END_TEST

START_TEST(table_overlap_itt_pending)
{
	const struct finding *f;

	/* DeviceID 16's ITT in vCPU 1's pending table */
	put(DT + 16 * 8, kdte(PEND1 + 0x1000, 1, 0));
	put(PEND1 + 0x1000, kite(8194, 0, 0));
	run();
	f = one(PR_TABLE_OVERLAP);
	loc(f, 0, ITS_TABLE_ITT, 16, NONE, NONE, NONE);
	gpa_is(f, PEND1 + 0x1000);
	raw64(f, kdte(PEND1 + 0x1000, 1, 0));
	detail(f, "ITT of DeviceID 0x10 [0x40091000, 0x40091010) overlaps pending table of vCPU 1 [0x40090000, 0x40092000)");
	/* the ITE reads as pending bits of INTIDs 32785 and 32797 */
	count(PR_PENDING_UNMAPPED, 2);
	total(3);
}
END_TEST

START_TEST(table_overlap_other_its)
{
	const struct finding *f;

	second_its(CT, 8195);	/* ITS 1 shares ITS 0's collection table */
	run();
	f = one(PR_TABLE_OVERLAP);
	loc(f, 1, ITS_TABLE_COLLECTIONS, NONE, NONE, NONE, NONE);
	gpa_is(f, CT);
	raw64(f, 0xbc07000040020600ULL);
	detail(f, "collection table [0x40020000, 0x40030000) overlaps ITS 0 collection table [0x40020000, 0x40030000)");
	f = one(PR_CTE_UNUSED);
	loc(f, 1, ITS_TABLE_COLLECTIONS, NONE, NONE, 1, NONE);
	total(2);
}
END_TEST

START_TEST(table_not_ram)
{
	const struct finding *f;

	rs.its[0].baser[1] = baser(4, 0x401f0000, false, 2);
	put(0x401f0000, kcte(0, 0));
	put(0x401f0008, kcte(1, 1));
	run();
	f = only(PR_TABLE_NOT_RAM);
	loc(f, 0, ITS_TABLE_COLLECTIONS, NONE, NONE, NONE, NONE);
	gpa_is(f, 0x40200000);
	raw64(f, 0xbc070000401f0601ULL);
	detail(f, "collection table [0x401f0000, 0x40210000): 0x10000 bytes from 0x40200000 are not guest RAM");
}
END_TEST

/* ---- QEMU's emulated ITS ---- */

START_TEST(tcg_dte_invalid_nonzero)
{
	const struct finding *f;

	tcg_tables();
	put(DT + 24 * 8, (ITT2 >> 8) << 6);
	run();
	total(2);
	f = one(PR_TCG_DTE_INVALID_NONZERO);
	loc(f, 0, ITS_TABLE_DEVICES, 0x18, NONE, NONE, NONE);
	gpa_is(f, DT + 0xc0);
	raw64(f, 0x10014080ULL);
	detail(f, "DeviceID 0x18: DTE 0x0000000010014080 has Valid clear but other bits set");
}
END_TEST

START_TEST(tcg_dte_bad)
{
	const struct finding *f;

	tcg_tables();
	put(DT + 16 * 8, tdte(ITT1, 1) | (1ULL << 55));
	run();
	total(2);
	f = one(PR_TCG_DTE_BAD);
	loc(f, 0, ITS_TABLE_DEVICES, 16, NONE, NONE, NONE);
	gpa_is(f, DT + 128);
	raw64(f, 0x0080000010014041ULL);
	detail(f, "DeviceID 0x10: DTE 0x0080000010014041: Size 0 (1 EventID bit), bits [63:50] = 0x20");
}
END_TEST

START_TEST(tcg_ite_lpi_range)
{
	static const uint8_t raw[12] = { 0x93, 0x01, 0, 0, 0, 0, 0, 0, 0xff, 0x03 };
	const struct finding *f;

	tcg_tables();
	tite(ITT1, 100, 0);
	run();
	total(2);
	f = one(PR_TCG_ITE_LPI_RANGE);
	loc(f, 0, ITS_TABLE_ITT, 16, 0, NONE, NONE);
	gpa_is(f, ITT1);
	rawb(f, raw, 12);
	detail(f, "DeviceID 0x10 EventID 0: INTID 100 outside 8192..65535");
}
END_TEST

START_TEST(tcg_ite_icid_unmapped)
{
	const struct finding *f;

	tcg_tables();
	tite(ITT1, 8194, 5);
	run();
	total(2);
	f = one(PR_TCG_ITE_ICID_UNMAPPED);
	loc(f, 0, ITS_TABLE_ITT, 16, 0, 5, NONE);
	gpa_is(f, ITT1);
	detail(f, "DeviceID 0x10 EventID 0: collection 5 not mapped");
}
END_TEST

START_TEST(tcg_ite_icid_range)
{
	const struct finding *f;

	tcg_tables();
	tite(ITT1, 8194, 9000);
	run();
	total(2);
	f = one(PR_TCG_ITE_ICID_RANGE);
	loc(f, 0, ITS_TABLE_ITT, 16, 0, 9000, NONE);
	gpa_is(f, ITT1);
	detail(f, "DeviceID 0x10 EventID 0: ICID 9000, the collection table holds 8192");
}
END_TEST

START_TEST(tcg_cte_target_no_vcpu)
{
	const struct finding *f;

	tcg_tables();
	put(CT + 8, tcte(5));
	run();
	total(2);
	f = one(PR_TCG_CTE_TARGET_NO_VCPU);
	loc(f, 0, ITS_TABLE_COLLECTIONS, NONE, NONE, 1, NONE);
	gpa_is(f, CT + 8);
	raw64(f, 0xb);
	detail(f, "ICID 1: target CPU 5, but the VM has 2 vCPUs");
	/* without a vCPU count, no judgement */
	findings_release(&fs);
	cx.nr_vcpus = -1;
	rules();
	total(1);
}
END_TEST

START_TEST(tcg_cte_res0)
{
	const struct finding *f;

	tcg_tables();
	put(CT + 8, 0x3 | (1ULL << 20));
	run();
	total(2);
	f = one(PR_TCG_CTE_RES0);
	loc(f, 0, ITS_TABLE_COLLECTIONS, NONE, NONE, 1, NONE);
	gpa_is(f, CT + 8);
	raw64(f, 0x100003);
	detail(f, "ICID 1: CTE 0x0000000000100003, bits [63:17] = 0x8");
}
END_TEST

START_TEST(tcg_ite_not_canonical)
{
	static const uint8_t raw[12] = { 0x0b, 0x80 };
	const struct finding *f;

	tcg_tables();
	put32(ITT1 + 8, 0);		/* doorbell 0 */
	run();
	total(2);
	f = one(PR_TCG_ITE_NOT_CANONICAL);
	loc(f, 0, ITS_TABLE_ITT, 16, 0, NONE, NONE);
	gpa_is(f, ITT1);
	rawb(f, raw, 12);
	detail(f, "DeviceID 0x10 EventID 0: LPI 8194, ITE_H 0x0 (QEMU writes 0x3ff)");
}
END_TEST

START_TEST(tcg_ite_invalid_not_zero)
{
	static const uint8_t raw[12] = { 0x00, 0x80 };
	const struct finding *f;

	tcg_tables();
	put(ITT0 + 24, 0x8000);		/* EventID 2: Valid clear */
	run();
	total(2);
	f = one(PR_TCG_ITE_NOT_CANONICAL);
	loc(f, 0, ITS_TABLE_ITT, 8, 2, NONE, NONE);
	gpa_is(f, ITT0 + 24);
	rawb(f, raw, 12);
	detail(f, "DeviceID 0x8 EventID 2: invalid ITE not zero");
}
END_TEST

START_TEST(tcg_ite_qemu62)
{
	static const uint8_t raw[12] = {
		0x0b, 0x80, 0x00, 0xfc, 0, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde,
	};
	const struct finding *f;

	tcg_tables();
	put(ITT1, 0x800b | (0x3fULL << 26));
	put32(ITT1 + 8, 0xdeadbeef);	/* 6.2 never wrote bytes 8-11 */
	run();
	total(2);
	f = one(PR_TCG_ITE_QEMU62);
	loc(f, 0, ITS_TABLE_ITT, 16, 0, NONE, NONE);
	gpa_is(f, ITT1);
	rawb(f, raw, 12);
	detail(f, "DeviceID 0x10 EventID 0: bits [31:26] = 0x3f");
}
END_TEST

START_TEST(tcg_ite_virtual)
{
	const struct finding *f;

	tcg_tables();
	put(ITT1, 1 | (8194ULL << 2) | (3ULL << 48));
	run();
	total(2);
	f = one(PR_TCG_ITE_VIRTUAL);
	loc(f, 0, ITS_TABLE_ITT, 16, 0, NONE, NONE);
	gpa_is(f, ITT1);
	detail(f, "DeviceID 0x10 EventID 0: vINTID 8194, vPEID 3, doorbell 1023");
}
END_TEST

START_TEST(tcg_baser_not_qemu)
{
	const struct finding *f;

	tcg_tables();
	rs.its[0].baser[3] = 0x1000;
	run();
	total(2);
	f = one(PR_TCG_BASER_NOT_QEMU);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	no_gpa(f);
	raw64(f, 0x1000);
	detail(f, "GITS_BASER3 0x0000000000001000: Type 0 (not implemented) but not zero");
}
END_TEST

START_TEST(tcg_cmdq_not_quiescent)
{
	const struct finding *f;

	tcg_tables();
	rs.its[0].cwriter = 0x160;
	run();
	total(2);
	f = one(PR_TCG_CMDQ_NOT_QUIESCENT);
	loc(f, 0, NOTABLE, NONE, NONE, NONE, NONE);
	gpa_is(f, CMDQ + 0x140);
	raw64(f, 0x140);
	detail(f, "GITS_CREADR 0x140, GITS_CWRITER 0x160");
}
END_TEST

START_TEST(tcg_l1_low_bits)
{
	const struct finding *f;

	tcg_tables();
	zero(DT, 0x10000);
	rs.its[0].baser[0] = baser(1, DT, true, 1);
	put(DT, (1ULL << 63) | (L2A + 0x10));
	put(L2A + 0x10 + 8 * 8, tdte(ITT0, 2));
	put(L2A + 0x10 + 16 * 8, tdte(ITT1, 1));
	run();
	total(2);
	ck_assert_uint_eq(img->its[0].nr_devs, 2);
	f = one(PR_TCG_L1_LOW_BITS);
	loc(f, 0, ITS_TABLE_DEVICES, NONE, NONE, NONE, NONE);
	gpa_is(f, DT);
	raw64(f, 0x8000000040030010ULL);
	detail(f, "L1[0] 0x8000000040030010: bits [15:0] = 0x10; QEMU reads the L2 page at 0x40030010");
}
END_TEST

/* ---- bounds ---- */

START_TEST(many_devices_bounded)
{
	clock_t t0;

	/* 8192 devices share one ITT and one LPI */
	for (unsigned id = 0; id < 8192; id++)
		put(DT + id * 8ULL, kdte(ITT0, 1, id == 8191 ? 0 : 1));
	put(ITT0, kite(8192, 0, 0));
	put(ITT0 + 8, 0);
	walk_opts(NULL);
	ck_assert_uint_eq(rr[0].nr_devs, 8192);
	t0 = clock();
	rules();
	ck_assert_msg(clock() - t0 < 5 * CLOCKS_PER_SEC, "rules took %.1f s",
		      (double)(clock() - t0) / CLOCKS_PER_SEC);
	count(PR_ITT_OVERLAP, 8191);
	count(PR_ITE_LPI_DUPLICATE, 8191);
	count(PR_CTE_UNUSED, 1);
	ck_assert_uint_eq(fs.nr, 2 * FINDINGS_MAX_PER_PROBLEM + 1);
	ck_assert_uint_eq(fs.not_stored, 2 * (8191 - FINDINGS_MAX_PER_PROBLEM));
}
END_TEST

Suite *suite_rules(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("rules");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, clean_kvm);
	tcase_add_test(tc, clean_kvm_two_level);
	tcase_add_test(tc, clean_tcg);
	tcase_add_test(tc, tcg_no_collection_table);
	tcase_add_test(tc, layout_guessed);
	tcase_add_test(tc, layout_guessed_tcg);
	tcase_add_test(tc, layout_forced_not_guessed);
	tcase_add_test(tc, iidr_revision);
	tcase_add_test(tc, iidr_not_kvm);
	tcase_add_test(tc, baser_type);
	tcase_add_test(tc, baser_entry_size);
	tcase_add_test(tc, baser_page_size);
	tcase_add_test(tc, baser_unused_set);
	tcase_add_test(tc, baser_zero_no_fields);
	tcase_add_test(tc, baser_coll_indirect);
	tcase_add_test(tc, baser_cache_sanitised);
	tcase_add_test(tc, ctlr_enabled_table_invalid);
	tcase_add_test(tc, baser_invalid_lpis_in_use);
	tcase_add_test(tc, cbaser_invalid);
	tcase_add_test(tc, cbaser_align);
	tcase_add_test(tc, creadr_range);
	tcase_add_test(tc, cwriter_range);
	tcase_add_test(tc, cmdq_pending);
	tcase_add_test(tc, cte_res0);
	tcase_add_test(tc, cte_unused);
	tcase_add_test(tc, l1_res0);
	tcase_add_test(tc, l1_beyond_devbits);
	tcase_add_test(tc, l2_aliased);
	tcase_add_test(tc, dte_itt_zero);
	tcase_add_test(tc, dte_next_lands_invalid);
	tcase_add_test(tc, dte_orphan);
	tcase_add_test(tc, dte_capped_next_no_orphan);
	tcase_add_test(tc, dte_next_past_page);
	tcase_add_test(tc, dte_next_past_l2_page);
	tcase_add_test(tc, dte_next_to_table_end);
	tcase_add_test(tc, dte_size_oversized_not_judged);
	tcase_add_test(tc, itt_overlap);
	tcase_add_test(tc, itt_share_page_no_overlap);
	tcase_add_test(tc, ite_lpi_above_max);
	tcase_add_test(tc, ite_next_lands_invalid);
	tcase_add_test(tc, ite_orphan);
	tcase_add_test(tc, ite_no_orphan_after_failure);
	tcase_add_test(tc, dte_no_orphan_after_failure);
	tcase_add_test(tc, ite_lpi_duplicate);
	tcase_add_test(tc, ite_lpi_duplicate_other_its);
	tcase_add_test(tc, ite_collection_unmapped);
	tcase_add_test(tc, propbaser_idbits);
	tcase_add_test(tc, prop_table_not_ram);
	tcase_add_test(tc, propbaser_differs);
	tcase_add_test(tc, lpi_disabled);
	tcase_add_test(tc, pend_table_not_ram);
	tcase_add_test(tc, pendbaser_shared);
	tcase_add_test(tc, pending_below_8192);
	tcase_add_test(tc, pending_unmapped);
	tcase_add_test(tc, pending_wrong_vcpu);
	tcase_add_test(tc, tables_empty_its_enabled);
	tcase_add_test(tc, table_overlap);
	tcase_add_test(tc, table_overlap_itt_pending);
	tcase_add_test(tc, table_overlap_other_its);
	tcase_add_test(tc, table_not_ram);
	tcase_add_test(tc, tcg_dte_invalid_nonzero);
	tcase_add_test(tc, tcg_dte_bad);
	tcase_add_test(tc, tcg_ite_lpi_range);
	tcase_add_test(tc, tcg_ite_icid_unmapped);
	tcase_add_test(tc, tcg_ite_icid_range);
	tcase_add_test(tc, tcg_cte_target_no_vcpu);
	tcase_add_test(tc, tcg_cte_res0);
	tcase_add_test(tc, tcg_ite_not_canonical);
	tcase_add_test(tc, tcg_ite_invalid_not_zero);
	tcase_add_test(tc, tcg_ite_qemu62);
	tcase_add_test(tc, tcg_ite_virtual);
	tcase_add_test(tc, tcg_baser_not_qemu);
	tcase_add_test(tc, tcg_cmdq_not_quiescent);
	tcase_add_test(tc, tcg_l1_low_bits);
	tcase_add_test(tc, many_devices_bounded);
	suite_add_tcase(s, tc);
	return s;
}
