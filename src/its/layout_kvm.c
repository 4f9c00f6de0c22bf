/* KVM's ITS table ABI rev 0: every entry a little-endian u64. */
#include "its/layout.h"

#include "its/bits.h"

void kvm_dte_decode(const uint8_t raw[8], struct its_dte *out)
{
	uint64_t v = its_le64(raw);

	out->raw = v;
	out->valid = (v & KVM_ITS_DTE_VALID_MASK) != 0;
	out->next = (uint32_t)((v & KVM_ITS_DTE_NEXT_MASK) >>
			       KVM_ITS_DTE_NEXT_SHIFT);
	/* the field holds ITT address bits [51:8] */
	out->itt = ((v & KVM_ITS_DTE_ITTADDR_MASK) >> KVM_ITS_DTE_ITTADDR_SHIFT)
		   << 8;
	out->size = (unsigned)(v & KVM_ITS_DTE_SIZE_MASK);
}

uint64_t kvm_dte_encode(const struct its_dte *e)
{
	return (e->valid ? KVM_ITS_DTE_VALID_MASK : 0) |
	       (((uint64_t)e->next << KVM_ITS_DTE_NEXT_SHIFT) &
		KVM_ITS_DTE_NEXT_MASK) |
	       (((e->itt >> 8) << KVM_ITS_DTE_ITTADDR_SHIFT) &
		KVM_ITS_DTE_ITTADDR_MASK) |
	       (e->size & KVM_ITS_DTE_SIZE_MASK);
}

void kvm_ite_decode(const uint8_t raw[8], struct its_ite *out)
{
	uint64_t v = its_le64(raw);

	for (unsigned i = 0; i < ITS_MAX_ENTRY_SIZE; i++)
		out->raw[i] = i < 8 ? raw[i] : 0;
	out->lpi = (uint32_t)((v & KVM_ITS_ITE_PINTID_MASK) >>
			      KVM_ITS_ITE_PINTID_SHIFT);
	/* no valid bit: pINTID 0 marks an unused entry */
	out->valid = out->lpi != 0;
	out->icid = (uint32_t)(v & KVM_ITS_ITE_ICID_MASK);
	out->next = (uint32_t)(v >> KVM_ITS_ITE_NEXT_SHIFT);
	out->physical = true;
	out->vpe_id = 0;
	out->doorbell = 0;
}

uint64_t kvm_ite_encode(const struct its_ite *e)
{
	return ((uint64_t)(e->next & 0xFFFF) << KVM_ITS_ITE_NEXT_SHIFT) |
	       (((uint64_t)e->lpi << KVM_ITS_ITE_PINTID_SHIFT) &
		KVM_ITS_ITE_PINTID_MASK) |
	       (e->icid & KVM_ITS_ITE_ICID_MASK);
}

void kvm_cte_decode(const uint8_t raw[8], struct its_cte *out)
{
	uint64_t v = its_le64(raw);

	out->raw = v;
	out->valid = (v & KVM_ITS_CTE_VALID_MASK) != 0;
	/* RDBase is [51:16] but KVM keeps 32 bits of it: the vcpu_id */
	out->target = (uint32_t)its_field(v, 47, KVM_ITS_CTE_RDBASE_SHIFT);
	out->icid = (uint32_t)(v & KVM_ITS_CTE_ICID_MASK);
}

uint64_t kvm_cte_encode(const struct its_cte *e)
{
	return (e->valid ? KVM_ITS_CTE_VALID_MASK : 0) |
	       ((uint64_t)e->target << KVM_ITS_CTE_RDBASE_SHIFT) |
	       (e->icid & KVM_ITS_CTE_ICID_MASK);
}

void kvm_l1e_decode(const uint8_t raw[8], struct its_l1e *out)
{
	uint64_t v = its_le64(raw);

	out->raw = v;
	out->valid = (v & KVM_ITS_L1E_VALID_MASK) != 0;
	out->l2 = v & KVM_ITS_L1E_ADDR_MASK;
}

const struct its_layout its_layout_kvm = {
	.name = "kvm",
	.desc = "KVM ITS table ABI rev 0",
	.dte_size = KVM_ITS_ABI0_ESZ,
	.ite_size = KVM_ITS_ABI0_ESZ,
	.cte_size = KVM_ITS_ABI0_ESZ,
	.has_next = true,
	.collections_indexed = false,
	.force_64k = true,
	.l2_page_bytes = 65536,
	.typer = KVM_ITS_TYPER,
	.decode_dte = kvm_dte_decode,
	.decode_ite = kvm_ite_decode,
	.decode_cte = kvm_cte_decode,
	.decode_l1e = kvm_l1e_decode,
	.max_ids = 0,
	.encode_dte = kvm_dte_encode,
	.encode_ite = kvm_ite_encode,
	.encode_cte = kvm_cte_encode,
};
