#include "its/cli.h"

#include <json-c/json.h>
#include <stdio.h>

void cli_error(const char *prog, bool json, const struct its_err *err)
{
	char line[1024];

	its_err_format(err, line, sizeof(line));
	fprintf(stderr, "%s: %s\n", prog, line);
	if (json) {
		json_object *root = json_object_new_object();
		json_object *e = json_object_new_object();
		char off[24];

		json_object_object_add(e, "file", err->file[0] ?
				       json_object_new_string(err->file) : NULL);
		if (err->offset != ITS_ERR_NO_OFFSET) {
			snprintf(off, sizeof(off), "0x%llx",
				 (unsigned long long)err->offset);
			json_object_object_add(e, "offset",
					       json_object_new_string(off));
		} else {
			json_object_object_add(e, "offset", NULL);
		}
		json_object_object_add(e, "message",
				       json_object_new_string(err->msg));
		json_object_object_add(root, "error", e);
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
		json_object_put(root);
	}
}
