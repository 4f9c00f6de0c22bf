/* --version of both programs: the one version of the tree (the VERSION
 * file, which the Makefile passes as ITS_VERSION) and the libraries a bug
 * report needs, as GNU programs print them. */
#include "its/cli.h"

#include <gnu/libc-version.h>
#include <json-c/json_c_version.h>
#include <stdio.h>

#ifndef ITS_VERSION
#define ITS_VERSION "unknown"
#endif
/* libelf has no call that names its version at run time: this is the one
 * the program was built against (pkg-config --modversion libelf). */
#ifndef ITS_LIBELF_VERSION
#define ITS_LIBELF_VERSION "unknown"
#endif

void cli_version_hook(FILE *stream, struct argp_state *state)
{
	/* argp names the program after argv[0], as its --help does */
	const char *prog = state && state->name ? state->name : "its-tools";

	fprintf(stream, "%s (its-tools) %s\n", prog, ITS_VERSION);
	fprintf(stream, "json-c %s (runtime), libelf %s (elfutils, build), glibc %s (runtime)\n",
		json_c_version(), ITS_LIBELF_VERSION, gnu_get_libc_version());
}
