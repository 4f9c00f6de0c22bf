#ifndef ITS_TESTUTIL_H
#define ITS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* A fresh temporary directory for this test (removed by t_cleanup). */
const char *t_tmpdir(void);
void t_cleanup(void);

/* Write len bytes at offset off of file dir/name (created sparse; a write
 * at offset 0 starts the file afresh); returns the path. */
char *t_write_file(const char *name, uint64_t off, const void *buf, size_t len);
/* Everything up to end of file (or EIO, as a pty master says) from fd,
 * NUL-terminated. Caller frees. */
char *t_slurp_fd(int fd);
/* Read a whole file; NULL when missing. */
char *t_read_file(const char *path, size_t *len);

/* Required environment variable (fails the test when unset). */
const char *t_env(const char *name);

struct t_run {
	int status;		/* exit status, or 128+signal */
	char *out, *err;
};

/* Run argv (NULL-terminated) with stdout/stderr captured. */
void t_run(struct t_run *r, const char *const argv[]);
/* The same, with dir as the working directory (so outputs name files by
 * their relative paths). */
void t_run_in(struct t_run *r, const char *dir, const char *const argv[]);
/* ... and with in_fd (>= 0) as standard input. */
void t_run_full(struct t_run *r, const char *dir, int in_fd,
		const char *const argv[]);
void t_run_free(struct t_run *r);
/* prog --its-regs NAME.regs.json [x1] [x2] [x3] NAME.elf (NULLs skipped),
 * in the temp dir so outputs name the files by relative path: the ELF core
 * and registers file its-fixture writes for NAME. */
void t_run_fixture(struct t_run *r, const char *prog, const char *name,
		   const char *x1, const char *x2, const char *x3);

/* Path of a built program / a source file. Caller frees. */
char *t_build(const char *name);
char *t_src(const char *rel);

#endif
