/* libFuzzer: its_regs_json_parse on arbitrary bytes, then its_regset_overlay. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "its/regs_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct its_regset rs = { 0 }, base = { 0 };
	struct its_err err = { 0 };
	int rc;

	if (its_regset_reserve(&base, 1, 1) < 0)
		abort();
	base.its[0].iidr = 0x4b00043b;
	base.its[0].present = ITS_REG_IIDR;
	/* the parser must not need a NUL terminator: pass an exact copy */
	char *copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	rc = its_regs_json_parse(copy, size, "fuzz.json", &rs, &err);
	if (rc == 0) {
		if (its_regset_overlay(&base, &rs) < 0)
			abort();
		for (size_t i = 0; i < rs.nr_its; i++)
			if (rs.its[i].present & ~ITS_REG_ALL)
				abort();
	} else if (!err.msg[0] || err.code != rc) {
		abort();	/* every failure says why */
	}
	free(copy);
	its_regset_release(&rs);
	its_regset_release(&base);
	return 0;
}
