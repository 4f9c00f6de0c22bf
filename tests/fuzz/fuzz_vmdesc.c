/* libFuzzer harness: the vmdesc JSON decoder. The input is the JSON text of
 * the stream's trailing VM description; it replaces the base stream's own,
 * so the sections before it are sized from the fuzzed description (the
 * arm_gicv3_its and arm_gicv3 sections are read through it).
 *
 * Layout of the base's end: ... QEMU_VM_EOF, QEMU_VM_VMDESCRIPTION, be32
 * length, JSON (spec 8.1). The reader finds the JSON from the end of the file only when
 * it starts with '{' and ends with '}', so those two bytes are forced.
 */
#include <stdint.h>
#include <string.h>

#include "its/bits.h"

#include "fuzz_base.h"
#include "fuzz_snapshot.h"

#define QEMU_VM_VMDESCRIPTION	0x06
#define VMDESC_MAX_INPUT	(256u << 10)

static size_t vmdesc_at;	/* offset of the VMDESCRIPTION byte */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void find_vmdesc(void)
{
	for (size_t k = fuzz_base_len - 6; k > 0; k--)
		if (fuzz_base[k] == QEMU_VM_VMDESCRIPTION && fuzz_base[k + 5] == '{' &&
		    its_be32(fuzz_base + k + 1) == fuzz_base_len - (k + 5)) {
			vmdesc_at = k;
			return;
		}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *buf;
	size_t n;

	if (!buf) {
		fuzz_base_load();
		find_vmdesc();
		buf = malloc(vmdesc_at + 5 + VMDESC_MAX_INPUT + 2);
		if (!buf)
			abort();
		memcpy(buf, fuzz_base, vmdesc_at + 1);
	}
	if (size > VMDESC_MAX_INPUT)
		size = VMDESC_MAX_INPUT;
	n = size < 2 ? 2 : size;
	memset(buf + vmdesc_at + 5, 0, n);
	memcpy(buf + vmdesc_at + 5, data, size);
	buf[vmdesc_at + 5] = '{';
	buf[vmdesc_at + 5 + n - 1] = '}';
	put_be32(buf + vmdesc_at + 1, (uint32_t)n);
	return fuzz_snapshot_one(buf, vmdesc_at + 5 + n);
}
