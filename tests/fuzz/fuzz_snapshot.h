/* Shared by the snapshot-reader harnesses (fuzz_migstream, fuzz_elfcore):
 * open the fuzz input as a snapshot file and consume what the reader made. */
#ifndef ITS_FUZZ_SNAPSHOT_H
#define ITS_FUZZ_SNAPSHOT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "its/gmem.h"
#include "its/snapshot.h"
#include "its/walk.h"

/* Write the input to a memfd, open it through /proc/self/fd, consume what
 * the reader produced. */
static int fuzz_fd = -1;
static char fuzz_path[64];

static void fuzz_consume(struct snapshot *s)
{
	struct its_err err;
	struct its_image *img = NULL;
	uint8_t buf[256];
	size_t n = gmem_nr_regions(s->mem);

	for (size_t i = 0; i < n && i < 8; i++) {
		const struct gmem_region *r = gmem_region_at(s->mem, i);
		uint64_t probes[4] = { r->gpa, r->gpa + r->size / 2,
				       r->gpa + r->size - 1,
				       r->gpa + r->size - sizeof(buf) };

		for (int k = 0; k < 4; k++) {
			its_err_clear(&err);
			(void)gmem_read(s->mem, probes[k], buf, sizeof(buf), 0,
					&err);
			its_err_clear(&err);
			(void)gmem_read(s->mem, probes[k], buf, 8,
					GMEM_ZERO_ABSENT, &err);
		}
	}
	its_err_clear(&err);
	if (its_walk(s->mem, &s->regs, NULL, &img, &err) == 0)
		its_image_free(img);
}

static int fuzz_snapshot_one(const uint8_t *data, size_t size)
{
	struct snapshot *s = NULL;
	struct its_err err;

	if (fuzz_fd < 0) {
		fuzz_fd = memfd_create("fuzz-snapshot", 0);
		if (fuzz_fd < 0)
			abort();
		snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d",
			 fuzz_fd);
	}
	if (ftruncate(fuzz_fd, 0) < 0 ||
	    pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
		abort();
	its_err_clear(&err);
	if (snapshot_open(fuzz_path, NULL, &s, &err) == 0) {
		fuzz_consume(s);
		snapshot_close(s);
	} else if (err.code == 0 || !err.msg[0] || strchr(err.msg, '\n')) {
		/* every failure must say what went wrong, on one line */
		abort();
	}
	return 0;
}

#endif
