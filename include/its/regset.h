/* Raw ITS and redistributor register values as a snapshot (or the user)
 * provides them. Decoding into fields lives in its/regs.h; this header only
 * carries values and which of them are known, so that snap/ can fill it. */
#ifndef ITS_REGSET_H
#define ITS_REGSET_H

#include <stddef.h>
#include <stdint.h>

#define ITS_NR_BASER 8

enum its_reg_bit {
	ITS_REG_CTLR	= 1u << 0,
	ITS_REG_IIDR	= 1u << 1,
	ITS_REG_CBASER	= 1u << 2,
	ITS_REG_CWRITER	= 1u << 3,
	ITS_REG_CREADR	= 1u << 4,
	ITS_REG_BASER0	= 1u << 5,	/* BASERn: ITS_REG_BASER0 << n */
};
#define ITS_REG_BASER(n) (ITS_REG_BASER0 << (n))
#define ITS_REG_ALL ((ITS_REG_BASER0 << ITS_NR_BASER) - 1)

struct its_regs_raw {
	uint32_t ctlr, iidr;
	uint64_t cbaser, cwriter, creadr;
	uint64_t baser[ITS_NR_BASER];
	unsigned present;		/* enum its_reg_bit */
	char source[128];		/* "stream section 'arm_gicv3_its'", "regs.json", ... */
};

enum gicr_reg_bit {
	GICR_REG_PROPBASER = 1u << 0,
	GICR_REG_PENDBASER = 1u << 1,
};

struct gicr_regs_raw {
	uint32_t cpu;
	uint64_t propbaser, pendbaser;
	unsigned present;		/* enum gicr_reg_bit */
};

struct its_regset {
	struct its_regs_raw *its;
	size_t nr_its;
	struct gicr_regs_raw *rd;
	size_t nr_rd;
};

/* Grow to at least nr_its ITS instances / nr_rd redistributors (new entries
 * zeroed, redistributor cpu numbers assigned in order). 0 or -ENOMEM. */
int its_regset_reserve(struct its_regset *rs, size_t nr_its, size_t nr_rd);
void its_regset_release(struct its_regset *rs);

#endif
