#include "testutil.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

const char *t_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR");

		snprintf(tmpdir, sizeof(tmpdir), "%s/its-test.XXXXXX",
			 base ? base : "/tmp");
		ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	}
	return tmpdir;
}

void t_cleanup(void)
{
	char cmd[300];

	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	tmpdir[0] = '\0';
}

char *t_write_file(const char *name, uint64_t off, const void *buf, size_t len)
{
	char *path;
	int fd;

	ck_assert_int_ge(asprintf(&path, "%s/%s", t_tmpdir(), name), 0);
	fd = open(path, O_WRONLY | O_CREAT | (off == 0 ? O_TRUNC : 0), 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
	return path;
}

char *t_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

const char *t_env(const char *name)
{
	const char *v = getenv(name);

	ck_assert_msg(v && *v, "environment variable %s is not set: run the tests with 'make check'", name);
	return v;
}

char *t_slurp_fd(int fd)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	ck_assert_ptr_nonnull(buf);
	/* EINTR: retry; EIO (a pty master once every slave is closed): end */
	while ((r = read(fd, buf + n, cap - n - 1)) > 0 || (r < 0 && errno == EINTR)) {
		if (r < 0)
			continue;
		n += (size_t)r;
		if (cap - n < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
	}
	buf[n] = '\0';
	return buf;
}

void t_run(struct t_run *r, const char *const argv[])
{
	t_run_in(r, NULL, argv);
}

void t_run_in(struct t_run *r, const char *dir, const char *const argv[])
{
	t_run_full(r, dir, -1, argv);
}

void t_run_full(struct t_run *r, const char *dir, int in_fd,
		const char *const argv[])
{
	char out_path[300], err_path[300];
	int out_fd, err_fd, st;
	pid_t pid;

	snprintf(out_path, sizeof(out_path), "%s/.stdout", t_tmpdir());
	snprintf(err_path, sizeof(err_path), "%s/.stderr", t_tmpdir());
	out_fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	err_fd = open(err_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert(out_fd >= 0 && err_fd >= 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(out_fd, 1);
		dup2(err_fd, 2);
		if (in_fd >= 0)
			dup2(in_fd, 0);
		if (dir && chdir(dir) != 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	lseek(out_fd, 0, SEEK_SET);
	lseek(err_fd, 0, SEEK_SET);
	r->out = t_slurp_fd(out_fd);
	r->err = t_slurp_fd(err_fd);
	close(out_fd);
	close(err_fd);
}

void t_run_free(struct t_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

char *t_build(const char *name)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/%s", t_env("ITS_BUILD_DIR"), name), 0);
	return p;
}

char *t_src(const char *rel)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/%s", t_env("ITS_SOURCE_DIR"), rel), 0);
	return p;
}

void t_run_fixture(struct t_run *r, const char *prog, const char *name,
		   const char *x1, const char *x2, const char *x3)
{
	char *p = t_build(prog), elf[256], regs[256];
	const char *argv[8];
	int n = 0;

	snprintf(elf, sizeof(elf), "%s.elf", name);
	snprintf(regs, sizeof(regs), "%s.regs.json", name);
	argv[n++] = p;
	argv[n++] = "--its-regs";
	argv[n++] = regs;
	if (x1)
		argv[n++] = x1;
	if (x2)
		argv[n++] = x2;
	if (x3)
		argv[n++] = x3;
	argv[n++] = elf;
	argv[n] = NULL;
	t_run_in(r, t_tmpdir(), argv);
	free(p);
}
