#include "ramimg.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "its/bits.h"
#include "testutil.h"

void ri_setup(struct ramimg *r)
{
	memset(r, 0, sizeof(*r));
	r->ram = calloc(1, RI_RAMSZ);
	ck_assert_ptr_nonnull(r->ram);
	ck_assert_int_eq(its_regset_reserve(&r->rs, 1, 2), 0);
	r->rs.its[0].iidr = 0x4b00043b;
	r->rs.its[0].present = ITS_REG_IIDR | ITS_REG_BASER(0) | ITS_REG_BASER(1);
	r->rs.its[0].baser[1] = ri_baser(4, RI_CT, false, 1);
}

void ri_reset(struct ramimg *r)
{
	its_image_free(r->img);
	snapshot_close(r->snap);
	r->img = NULL;
	r->snap = NULL;
}

void ri_teardown(struct ramimg *r)
{
	ri_reset(r);
	its_regset_release(&r->rs);
	free(r->ram);
	r->ram = NULL;
	t_cleanup();
}

void ri_put(struct ramimg *r, uint64_t gpa, uint64_t v)
{
	ck_assert(gpa >= RI_RAM && gpa + 8 <= RI_RAM + RI_RAMSZ);
	its_put_le64(r->ram + (gpa - RI_RAM), v);
}

uint64_t ri_baser(unsigned type, uint64_t pa, bool indirect, unsigned pages)
{
	return (1ULL << 63) | ((uint64_t)indirect << 62) | (7ULL << 59) |
	       ((uint64_t)type << 56) | (7ULL << 48) | pa | (1ULL << 10) |
	       (2ULL << 8) | (pages - 1);
}

uint64_t ri_dte(uint64_t itt, unsigned bits, unsigned next)
{
	return (1ULL << 63) | ((uint64_t)next << 49) | ((itt >> 8) << 5) |
	       (bits - 1);
}

uint64_t ri_ite(uint32_t lpi, uint32_t icid, unsigned next)
{
	return ((uint64_t)next << 48) | ((uint64_t)lpi << 16) | icid;
}

uint64_t ri_cte(uint32_t icid, uint32_t target)
{
	return (1ULL << 63) | ((uint64_t)target << 16) | icid;
}

int ri_walk(struct ramimg *r)
{
	struct snap_ram_base rb = { NULL, RI_RAM };
	struct snap_open_opts o = { .ram_bases = &rb, .nr_ram_bases = 1 };
	char *path = t_write_file("ram.bin", 0, r->ram, RI_RAMSZ);

	ri_reset(r);
	ck_assert_int_eq(snapshot_open(path, &o, &r->snap, &r->err), 0);
	free(path);
	return its_walk(r->snap->mem, &r->rs, NULL, &r->img, &r->err);
}
