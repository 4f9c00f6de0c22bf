/* Shared by the command-line programs: exit statuses and error printing. */
#ifndef ITS_CLI_H
#define ITS_CLI_H

#include <stdbool.h>

#include "its/err.h"

/* its-dump exit statuses */
#define DUMP_EXIT_OK		0
#define DUMP_EXIT_PARTIAL	1	/* printed, but entries unreadable or flagged */
#define DUMP_EXIT_ERROR		8	/* the snapshot cannot be read */
#define DUMP_EXIT_USAGE		16

/* One line on stderr ("prog: file: offset 0x..: message"); in JSON mode the
 * same as {"error": {...}} on stdout. */
void cli_error(const char *prog, bool json, const struct its_err *err);

#endif
