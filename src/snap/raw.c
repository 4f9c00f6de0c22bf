/* A flat RAM image: the whole file is guest RAM from --ram-base on. */
#include "its/snapshot.h"

#include <errno.h>
#include <stdio.h>

int raw_open(struct snapshot *s, const struct snap_open_opts *opts,
	     struct its_err *err)
{
	uint64_t base = 0;
	bool found = false;
	int rc;

	for (size_t i = 0; opts && i < opts->nr_ram_bases; i++)
		if (!opts->ram_bases[i].name) {
			base = opts->ram_bases[i].gpa;
			found = true;
		}
	if (!found)
		return its_err_set(err, -EINVAL, s->path, ITS_ERR_NO_OFFSET,
				   "a raw RAM image needs --ram-base GPA");
	rc = gmem_new(&s->mem, s->path, s->fd, err);
	if (rc < 0)
		return rc;
	rc = gmem_add_extent(s->mem, "raw", base, s->file_size, 0,
			     s->file_size, err);
	if (rc < 0)
		return rc;
	rc = gmem_seal(s->mem, err);
	if (rc < 0)
		return rc;
	s->format = SNAP_FORMAT_RAW;
	snprintf(s->format_desc, sizeof(s->format_desc),
		 "raw RAM image at GPA 0x%llx", (unsigned long long)base);
	return 0;
}
