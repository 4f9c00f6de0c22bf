/* Registers supplied by the user: an `its-dump --json` document (its
 * its[].registers and redistributors) or a bare registers object. */
#ifndef ITS_REGS_FILE_H
#define ITS_REGS_FILE_H

#include <stdint.h>

#include "its/err.h"
#include "its/regset.h"

/* Parse path into rs (which is grown as needed); values present in the file
 * overwrite those in rs. -EINVAL with the key path on bad content. */
int its_regs_file_read(const char *path, struct its_regset *rs,
		       struct its_err *err);

/* Same, from a string (tests, fuzzing). */
int its_regs_json_parse(const char *json, size_t len, const char *name,
			struct its_regset *rs, struct its_err *err);

/* Copy every register present in src over dst (growing dst). */
int its_regset_overlay(struct its_regset *dst, const struct its_regset *src);

/* Parse "0x1f", "31" into *v (at most max); 0 or -EINVAL. */
int its_parse_u64(const char *s, uint64_t max, uint64_t *v);

#endif
