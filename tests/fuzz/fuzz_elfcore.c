/* libFuzzer harness: the ELF core reader (dump-guest-memory cores) through
 * snapshot_open. Every core that opens is consumed: a few GPAs of every
 * PT_LOAD region are read through gmem_read, and its_walk runs on s->regs.
 *
 * Built by `make fuzz` (clang -fsanitize=fuzzer,address,undefined over
 * src/util, src/snap, src/its and this file).
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* only ELF inputs: the other readers have their own harness */
	if (size < 4 || memcmp(data, "\177ELF", 4))
		return 0;
	return fuzz_snapshot_one(data, size);
}
