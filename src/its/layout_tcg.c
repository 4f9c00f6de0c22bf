/* QEMU's emulated ITS (device arm-gicv3-its, used with TCG): its own entry
 * formats, valid bit 0, 12-byte ITEs, a collection table indexed by ICID and
 * no `next` chaining (spec/qemu-tcg-its.md §3-6). */
#include "its/layout.h"

#include "its/bits.h"

void tcg_dte_decode(const uint8_t raw[8], struct its_dte *out)
{
	uint64_t v = its_le64(raw);

	out->raw = v;
	out->valid = (v & TCG_ITS_DTE_VALID) != 0;
	out->next = 0;
	out->size = (unsigned)its_field(v, 5, 1);
	out->itt = its_field(v, 49, 6) << 8;
}

void tcg_ite_decode(const uint8_t raw[12], struct its_ite *out)
{
	uint64_t lo = its_le64(raw);
	uint32_t hi = its_le32(raw + 8);

	for (unsigned i = 0; i < ITS_MAX_ENTRY_SIZE; i++)
		out->raw[i] = i < TCG_ITS_ITE_SIZE ? raw[i] : 0;
	out->valid = (lo & 1) != 0;
	out->physical = (lo & 2) != 0;
	/* bits [31:26] are ignored: QEMU 6.2 left doorbell bits there */
	out->lpi = (uint32_t)its_field(lo, 25, 2);
	out->icid = (uint32_t)its_field(lo, 47, 32);
	out->vpe_id = (uint32_t)its_field(lo, 63, 48);
	out->doorbell = (uint32_t)its_field(hi, 24, 0);
	out->next = 0;
}

void tcg_cte_decode(const uint8_t raw[8], struct its_cte *out)
{
	uint64_t v = its_le64(raw);

	out->raw = v;
	out->valid = (v & 1) != 0;
	out->target = (uint32_t)its_field(v, 16, 1);
	out->icid = 0;		/* the walker knows it: the slot index */
}

void tcg_l1e_decode(const uint8_t raw[8], struct its_l1e *out)
{
	uint64_t v = its_le64(raw);

	out->raw = v;
	out->valid = (v >> 63) != 0;
	/* QEMU takes bits [50:0] as they are, low bits included */
	out->l2 = v & ITS_GENMASK(50, 0);
}

const struct its_layout its_layout_tcg = {
	.name = "tcg",
	.desc = "QEMU emulated ITS (TCG) table format",
	.dte_size = 8,
	.ite_size = TCG_ITS_ITE_SIZE,
	.cte_size = 8,
	.has_next = false,
	.collections_indexed = true,
	.force_64k = false,
	.l2_page_bytes = 0,
	.typer = TCG_ITS_TYPER,
	.max_ids = TCG_ITS_MAX_IDS,
	.decode_dte = tcg_dte_decode,
	.decode_ite = tcg_ite_decode,
	.decode_cte = tcg_cte_decode,
	.decode_l1e = tcg_l1e_decode,
};
