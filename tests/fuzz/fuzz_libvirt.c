/* libFuzzer harness: the libvirt save image header (LibvirtQemudSave, 92
 * bytes: version, XML length, was-running, format, cookie offset) and the
 * domain XML after it. The input is that prefix; the base stream follows it,
 * so a header whose lengths agree with the input leads into a valid stream
 * and one whose lengths do not lands the stream reader somewhere else. The
 * magic is forced (else detect.c would not route it here), except that
 * input byte 0 bit 0 selects the "incomplete save" magic LibvirtQemudPart.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_base.h"
#include "fuzz_snapshot.h"

#define LIBVIRT_PREFIX_MAX	(64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *buf;
	size_t n;

	if (!buf) {
		fuzz_base_load();
		buf = malloc(LIBVIRT_PREFIX_MAX + fuzz_base_len);
		if (!buf)
			abort();
	}
	if (size > LIBVIRT_PREFIX_MAX)
		size = LIBVIRT_PREFIX_MAX;
	n = size < 16 ? 16 : size;
	memset(buf, 0, n);
	memcpy(buf, data, size);
	memcpy(buf, size && (data[0] & 1) ? "LibvirtQemudPart" : "LibvirtQemudSave", 16);
	memcpy(buf + n, fuzz_base, fuzz_base_len);
	return fuzz_snapshot_one(buf, n + fuzz_base_len);
}
