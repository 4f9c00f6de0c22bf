/* Hand-built guest RAM for unit tests: a raw image at GPA RI_RAM, tables
 * written entry by entry, opened as a snapshot and walked. */
#ifndef ITS_TEST_RAMIMG_H
#define ITS_TEST_RAMIMG_H

#include <stdbool.h>
#include <stdint.h>

#include "its/check.h"
#include "its/snapshot.h"
#include "its/walk.h"

#define RI_RAM		0x40000000ULL
#define RI_RAMSZ	0x100000ULL	/* 1 MiB */
#define RI_DT		0x40010000ULL	/* device table (flat or L1) */
#define RI_CT		0x40020000ULL	/* collection table */
#define RI_L2A		0x40030000ULL
#define RI_L2B		0x40040000ULL
#define RI_ITT		0x40050000ULL	/* ITTs from here, 256 bytes apart */

struct ramimg {
	uint8_t *ram;
	struct its_regset rs;
	struct snapshot *snap;
	struct its_image *img;
	struct its_err err;
};

/* KVM ITS (IIDR 0x4b00043b), 2 redistributors, collection table at RI_CT
 * (1 page); BASER0 is the test's to set. */
void ri_setup(struct ramimg *r);
void ri_teardown(struct ramimg *r);
void ri_put(struct ramimg *r, uint64_t gpa, uint64_t v);
/* Valid | InnerCache 7 | Type | Entry_Size 7 | PA | inner | 64K | pages-1 */
uint64_t ri_baser(unsigned type, uint64_t pa, bool indirect, unsigned pages);
/* KVM ABI rev 0 entries */
uint64_t ri_dte(uint64_t itt, unsigned bits, unsigned next);
uint64_t ri_ite(uint32_t lpi, uint32_t icid, unsigned next);
uint64_t ri_cte(uint32_t icid, uint32_t target);
/* Write the image, open it (raw, at RI_RAM) and walk it: its_walk's rc. */
int ri_walk(struct ramimg *r);
/* Drop the snapshot and image (to walk again after more puts). */
void ri_reset(struct ramimg *r);

#endif
