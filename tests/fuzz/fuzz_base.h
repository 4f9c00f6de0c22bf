/* Shared by the harnesses that fuzz one part of a migration stream and keep
 * the rest valid (fuzz_vmdesc, fuzz_libvirt): the base stream, a small
 * fixture-writer stream kept in tests/fuzz/base, read once. The Makefile
 * passes its absolute path as FUZZ_BASE_STREAM. */
#ifndef ITS_FUZZ_BASE_H
#define ITS_FUZZ_BASE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef FUZZ_BASE_STREAM
#error "FUZZ_BASE_STREAM (path of tests/fuzz/base/minimal.mig) is needed"
#endif

static uint8_t *fuzz_base;
static size_t fuzz_base_len;

static void fuzz_base_load(void)
{
	FILE *f;
	long n;

	if (fuzz_base)
		return;
	f = fopen(FUZZ_BASE_STREAM, "rb");
	if (!f || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) <= 0 ||
	    fseek(f, 0, SEEK_SET) < 0)
		abort();
	fuzz_base = malloc((size_t)n);
	if (!fuzz_base || fread(fuzz_base, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	fuzz_base_len = (size_t)n;
}

#endif
