/* libFuzzer harness: the QEMU migration-stream reader through snapshot_open
 * (QEVM streams and libvirt save images, which detect.c routes to the same
 * reader). Every snapshot that opens is consumed: a few GPAs are read through
 * gmem_read and the ITS tables are walked from s->regs.
 *
 * Built by `make fuzz` (clang -fsanitize=fuzzer,address,undefined over
 * src/util, src/snap, src/its and this file).
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* ELF cores have their own harness (fuzz_elfcore.c) */
	if (size >= 4 && !memcmp(data, "\177ELF", 4))
		return 0;
	return fuzz_snapshot_one(data, size);
}
