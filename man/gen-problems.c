/* Build-time helper for the manual: copies man/its-fsck.8.in to standard
 * output with its marker line replaced by one entry per row of the problem
 * table, so the page cannot miss or misquote a problem code.
 *
 *   gen-problems PAGE.in > PAGE
 *   gen-problems --kernel-profiles    the --kernel names, one a line (for
 *                                     the completion test)
 *
 * Exit status 0, or 1 with a message on stderr (no marker, unreadable
 * input, a write error). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its/problems.h"
#include "its/profile.h"

#define MARKER ".\\\" @PROBLEM_CODES@"
#define ROFF_LINE 72

/* Text from the table as roff: a backslash is the escape character, and a
 * line that starts with a control character would be read as a request. */
static void roff_text(FILE *out, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else
			fputc(*s, out);
	}
}

/* A sentence: the table's strings carry no final full stop. Input lines
 * are broken at blanks to stay within ROFF_LINE bytes (roff fills them
 * again), as man pages written by hand are. */
static void roff_sentence(FILE *out, const char *prefix, const char *s)
{
	char buf[1024];
	size_t n = strlen(s), col = 0;
	char *word, *save = NULL;

	snprintf(buf, sizeof(buf), "%s%s%s", prefix, s,
		 n && !strchr(".!?", s[n - 1]) ? "." : "");
	for (word = strtok_r(buf, " ", &save); word;
	     word = strtok_r(NULL, " ", &save)) {
		size_t len = strlen(word);

		if (col && col + 1 + len > ROFF_LINE) {
			fputc('\n', out);
			col = 0;
		}
		if (col) {
			fputc(' ', out);
			col++;
		}
		roff_text(out, word);
		col += len;
	}
	fputc('\n', out);
}

static const char *repair_options(enum problem_repair r)
{
	switch (r) {
	case REPAIR_NONE: return "";
	case REPAIR_SAFE: return " (\\-\\-fix, \\-p, \\-y)";
	case REPAIR_OPTIN: return " (\\-\\-fix=all, \\-y)";
	}
	return "";
}

static void write_codes(FILE *out)
{
	int group = -1;

	fprintf(out, "%d codes, in the order of the table.\n", (int)PR_COUNT);
	for (size_t i = 0; i < PR_COUNT; i++) {
		const struct problem_info *p = &problem_table[i];
		const char *sev = problem_severity_name(p->severity);
		char lead[32];

		if ((int)(p->code >> 16) != group) {
			group = (int)(p->code >> 16);
			fprintf(out, ".SS \"%s (0x%02xxxxx)\"\n", problem_group_name(p->code),
				(unsigned)group);
		}
		fprintf(out, ".TP\n.B 0x%06x %s\n", p->code, p->name);
		/* "error" -> "Error: " */
		snprintf(lead, sizeof(lead), "%c%s: ", sev[0] - 'a' + 'A', sev + 1);
		roff_sentence(out, lead, p->message);
		fputs(".br\n", out);
		roff_sentence(out, "KVM: ", p->kvm);
		fputs(".br\n", out);
		fprintf(out, "Repair: %s%s.\n", problem_repair_name(p->repair),
			repair_options(p->repair));
	}
}

int main(int argc, char **argv)
{
	char line[4096];
	FILE *in;
	int markers = 0;

	if (argc == 2 && !strcmp(argv[1], "--kernel-profiles")) {
		for (size_t i = 0; kernel_profile_names[i]; i++)
			printf("%s\n", kernel_profile_names[i]);
		return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: gen-problems PAGE.in > PAGE | --kernel-profiles\n");
		return 1;
	}
	in = fopen(argv[1], "r");
	if (!in) {
		fprintf(stderr, "gen-problems: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), in)) {
		if (!strcmp(line, MARKER "\n")) {
			write_codes(stdout);
			markers++;
		} else {
			fputs(line, stdout);
		}
	}
	if (ferror(in)) {
		fprintf(stderr, "gen-problems: %s: read error\n", argv[1]);
		fclose(in);
		return 1;
	}
	fclose(in);
	if (markers != 1) {
		fprintf(stderr, "gen-problems: %s: %d lines '%s' (expected one)\n",
			argv[1], markers, MARKER);
		return 1;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "gen-problems: write error\n");
		return 1;
	}
	return 0;
}
