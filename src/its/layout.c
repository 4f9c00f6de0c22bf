/* Layout registry and detection: KVM and QEMU's emulated ITS share the
 * architectural registers but not the entry formats (spec §4.7), so the
 * format is decided before anything is decoded, and the reason is kept. */
#include "its/layout.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "its/bits.h"
#include "its/regs.h"

#define DETECT_PROBE_BYTES 4096

const struct its_layout *its_layout_find(const char *name)
{
	if (!strcmp(name, "kvm"))
		return &its_layout_kvm;
	if (!strcmp(name, "tcg"))
		return &its_layout_tcg;
	return NULL;
}

/* Count entries shaped like KVM's (valid bit 63) and like QEMU's TCG ITS
 * (valid bit 0, bit 63 clear) in the first bytes of a table. */
static void probe_shapes(const struct gmem *g, uint64_t gpa, unsigned *kvm,
			 unsigned *tcg)
{
	uint8_t buf[DETECT_PROBE_BYTES];

	if (gmem_read(g, gpa, buf, sizeof(buf), 0, NULL) < 0)
		return;
	for (size_t i = 0; i < sizeof(buf); i += 8) {
		uint64_t v = its_le64(buf + i);

		if (v >> 63)
			(*kvm)++;
		else if (v & 1)
			(*tcg)++;
	}
}

static void shapes(const struct its_regs_raw *r, const struct gmem *g,
		   unsigned *kvm, unsigned *tcg)
{
	for (unsigned n = 0; n < 2; n++) {
		uint64_t b = r->baser[n];
		uint64_t base;

		if (!(r->present & ITS_REG_BASER(n)) || !(b & GITS_BASER_VALID))
			continue;
		base = its_baser_addr(b, false);	/* both read 64K BASERs alike */
		if (n == 0 && (b & GITS_BASER_INDIRECT)) {
			uint8_t l1[8];

			/* L1 entries are architectural: follow the first */
			if (gmem_read(g, base, l1, 8, 0, NULL) < 0 ||
			    !(its_le64(l1) >> 63))
				continue;
			base = its_le64(l1) & ITS_GENMASK(50, 12);
		}
		probe_shapes(g, base, kvm, tcg);
	}
}

int its_layout_detect(const struct its_regs_raw *r, const struct gmem *g,
		      const struct its_layout **out, char *why, size_t whylen,
		      struct its_err *err)
{
	unsigned kvm = 0, tcg = 0;

	if (r->present & ITS_REG_IIDR) {
		if (GITS_IIDR_PRODUCT_ID(r->iidr) == PRODUCT_ID_KVM &&
		    GITS_IIDR_IMPLEMENTER(r->iidr) == IMPLEMENTER_ARM) {
			snprintf(why, whylen,
				 "GITS_IIDR 0x%x names KVM (ProductID 0x4b), ABI revision %u",
				 r->iidr, GITS_IIDR_REV(r->iidr));
			*out = &its_layout_kvm;
			return 0;
		}
		if (r->iidr == 0) {
			snprintf(why, whylen,
				 "GITS_IIDR 0: QEMU's emulated ITS never stores it");
			*out = &its_layout_tcg;
			return 0;
		}
		return its_err_set(err, -ENOTSUP, NULL, ITS_ERR_NO_OFFSET,
				   "unknown ITS implementation (GITS_IIDR 0x%x: neither KVM's 0x4b00043b nor QEMU's 0); choose a table format with --layout kvm or --layout tcg",
				   r->iidr);
	}
	shapes(r, g, &kvm, &tcg);
	if (tcg > kvm) {
		snprintf(why, whylen,
			 "%u table entries carry QEMU's valid bit 0, %u KVM's bit 63%s",
			 tcg, kvm, (r->present & ITS_REG_IIDR) ? "" :
			 " (no GITS_IIDR given)");
		*out = &its_layout_tcg;
		return 0;
	}
	if (kvm)
		snprintf(why, whylen,
			 "%u table entries carry KVM's valid bit 63%s", kvm,
			 (r->present & ITS_REG_IIDR) ? "" : " (no GITS_IIDR given)");
	else
		snprintf(why, whylen,
			 "no GITS_IIDR and no entries to judge: assuming KVM");
	*out = &its_layout_kvm;
	return 0;
}
