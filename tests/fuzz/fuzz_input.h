/* Shared by fuzz_walk.c and fuzz_plan.c: turn fuzz bytes into registers and
 * a raw guest-RAM snapshot at FZ_RAM.
 *
 * Input: a 128-byte register block, then guest RAM (at most 256 KiB; shorter
 * RAM is zero-padded to 64 KiB, so tables near the start are reachable).
 *   [0]      mode: bit 0 raw registers (else mapped onto plausible values),
 *            bits 1-2 layout (0/3 auto, 1 kvm, 2 tcg), bit 3 older profile,
 *            (fuzz_walk: bit 4 text instead of JSON, bit 5 4.14 instead of 5.10)
 *   [4..7]   GITS_IIDR      [8..11]  GITS_CTLR     [12..13] present mask
 *   [16] BASER0  [24] BASER1  [32] CBASER  [40] CWRITER  [48] CREADR
 *   [56] PROPBASER0 [64] PENDBASER0 [72] PROPBASER1 [80] PENDBASER1
 *   [88] BASER2 ... (unused by the plausible mapping)
 */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "its/bits.h"
#include "its/regset.h"
#include "its/snapshot.h"
#include "its/walk.h"

#define FZ_RAM		0x40000000ULL
#define FZ_HDR		128
#define FZ_MAX_RAM	(256u << 10)
#define FZ_MIN_RAM	(64u << 10)

static uint64_t fz_le64(const uint8_t *p) { return its_le64(p); }
static uint32_t fz_le32(const uint8_t *p) { return its_le32(p); }

/* A GPA inside (or just past) the RAM, page aligned. */
static uint64_t fz_addr(uint64_t raw, size_t ramsz, uint64_t align)
{
	uint64_t slots = ramsz / align + 1;	/* one slot just past the end */

	return FZ_RAM + ((raw >> 12) % slots) * align;
}

/* Keep Valid, Indirect, the size and page-size fields; pick a table type
 * and an entry size that make sense, and an address in RAM. */
static uint64_t fz_baser(uint64_t raw, unsigned type, size_t ramsz)
{
	uint64_t v = raw & ((1ULL << 63) | (1ULL << 62) | (3ULL << 8) | 0x3);
	unsigned esz = (raw >> 2) & 1 ? (unsigned)((raw >> 48) & 0x1f) : 7;

	if ((raw >> 3) & 1)
		v |= 1ULL << 63;
	v |= (uint64_t)type << 56 | (uint64_t)esz << 48 | 7ULL << 59 | 1ULL << 10;
	v |= fz_addr(raw, ramsz, (raw >> 4) & 1 ? 0x10000 : 0x1000);
	return v;
}

struct fz_input {
	struct its_regset rs;
	int layout;			/* 0 auto, 1 kvm, 2 tcg */
	int older;
	char path[64];
	struct snapshot *snap;
};

/* 0, or -1 when the input is too short to say anything. */
static int fz_open(struct fz_input *in, const uint8_t *data, size_t size)
{
	static uint8_t ram[FZ_MAX_RAM];
	uint8_t hdr[FZ_HDR] = { 0 };
	size_t ramsz, n;
	struct snap_ram_base rb = { NULL, FZ_RAM };
	struct snap_open_opts o = { &rb, 1 };
	struct its_err err = { 0 };
	struct its_regs_raw *r;
	FILE *f;
	int raw;

	memset(in, 0, sizeof(*in));
	if (size < 1)
		return -1;
	memcpy(hdr, data, size < FZ_HDR ? size : FZ_HDR);
	n = size > FZ_HDR ? size - FZ_HDR : 0;
	if (n > FZ_MAX_RAM)
		n = FZ_MAX_RAM;
	ramsz = n < FZ_MIN_RAM ? FZ_MIN_RAM : (n + 4095) & ~(size_t)4095;
	memset(ram, 0, ramsz);
	if (n)
		memcpy(ram, data + FZ_HDR, n);
	/* stay a raw image: no other reader's magic at offset 0 */
	if (!memcmp(ram, "\177ELF", 4) || !memcmp(ram, "QEVM", 4) ||
	    !memcmp(ram, "Libv", 4) || !memcmp(ram, "KDUM", 4) ||
	    !memcmp(ram, "make", 4) || !memcmp(ram, "PAGE", 4))
		ram[0] = 0;

	raw = hdr[0] & 1;
	in->layout = (hdr[0] >> 1) & 3;
	if (in->layout == 3)
		in->layout = 0;
	in->older = (hdr[0] >> 3) & 1;
	if (its_regset_reserve(&in->rs, 1, 2) < 0)
		abort();
	r = &in->rs.its[0];
	r->iidr = fz_le32(hdr + 4);
	r->ctlr = fz_le32(hdr + 8);
	r->present = (hdr[12] | hdr[13] << 8) & ITS_REG_ALL;
	r->baser[0] = fz_le64(hdr + 16);
	r->baser[1] = fz_le64(hdr + 24);
	r->cbaser = fz_le64(hdr + 32);
	r->cwriter = fz_le64(hdr + 40);
	r->creadr = fz_le64(hdr + 48);
	in->rs.rd[0].propbaser = fz_le64(hdr + 56);
	in->rs.rd[0].pendbaser = fz_le64(hdr + 64);
	in->rs.rd[1].propbaser = fz_le64(hdr + 72);
	in->rs.rd[1].pendbaser = fz_le64(hdr + 80);
	in->rs.rd[0].present = hdr[14] & 3;
	in->rs.rd[1].present = (hdr[14] >> 2) & 3;
	if (raw) {
		for (unsigned i = 2; i < 7; i++)
			r->baser[i] = fz_le64(hdr + 88 + (i - 2) * 8);
	} else {
		/* plausible: KVM or QEMU IIDR, the usual registers present */
		r->iidr = (hdr[4] & 1) ? 0x4b00043b : 0;
		r->present |= ITS_REG_IIDR | ITS_REG_BASER(0) | ITS_REG_BASER(1) |
			      ITS_REG_CBASER | ITS_REG_CTLR;
		if (hdr[4] & 2)
			r->present &= ~ITS_REG_IIDR;
		r->baser[0] = fz_baser(r->baser[0], 1, ramsz);
		r->baser[1] = fz_baser(r->baser[1], 4, ramsz);
		r->cbaser = (r->cbaser & ((1ULL << 63) | 0xff)) |
			    fz_addr(r->cbaser, ramsz, 0x1000);
		r->cwriter &= 0xfffe0;
		r->creadr &= 0xfffe0;
		for (unsigned c = 0; c < 2; c++) {
			struct gicr_regs_raw *d = &in->rs.rd[c];

			d->propbaser = (d->propbaser & 0x1f) | (7ULL << 7) |
				       fz_addr(d->propbaser, ramsz, 0x1000);
			d->pendbaser = fz_addr(d->pendbaser, ramsz, 0x10000) |
				       (d->pendbaser & (1ULL << 62));
			d->present |= GICR_REG_PROPBASER;
		}
	}

	snprintf(in->path, sizeof(in->path), "/dev/shm/fzw_its_%d.bin", (int)getpid());
	f = fopen(in->path, "w");
	if (!f || fwrite(ram, 1, ramsz, f) != ramsz || fclose(f))
		abort();
	if (snapshot_open(in->path, &o, &in->snap, &err) < 0) {
		unlink(in->path);
		fprintf(stderr, "snapshot_open: %s\n", err.msg);
		abort();
	}
	unlink(in->path);
	return 0;
}

/* Inputs whose tables hold more entries than this are walked but not
 * checked or reported: a few aliased L2 pages in 256 KiB make a table of
 * 100,000 DTEs, whose reports and restore model cost seconds under the
 * fuzzer's instrumentation — linear work on a legitimately huge table, not
 * a bug to find; tests/fixtures/limits measures those sizes instead. */
#define FZ_MAX_CHECKED_ENTRIES	20000

static bool fz_small(const struct its_image *img)
{
	size_t n = 0;

	for (size_t i = 0; i < img->nr_its; i++) {
		const struct its_image_its *its = &img->its[i];

		n += its->nr_ctes + its->nr_devs;
		for (size_t d = 0; d < its->nr_devs; d++)
			n += its->devs[d].nr_events;
	}
	return n <= FZ_MAX_CHECKED_ENTRIES;
}

static void fz_close(struct fz_input *in)
{
	snapshot_close(in->snap);
	its_regset_release(&in->rs);
	in->snap = NULL;
}

#endif
