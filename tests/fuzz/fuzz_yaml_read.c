/* libFuzzer target: the YAML reader (lib/yaml_read.h). Any bytes, read
 * with the core schema and with every scalar a string: a refusal always
 * says where ("line L, column C: ...") and gives nothing; both modes agree
 * on whether the text is YAML; an accepted value, written back as JSON
 * (a subset of YAML's flow style), reads back as the same value. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "yaml_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *read_or_check(const char *text, size_t n, unsigned flags)
{
	json_t *v = NULL;
	char *err = NULL;
	int r = yaml_read(text, n, (size_t)1 << 20, flags, &v, &err);

	if (r != 0) {
		if (v != NULL || err == NULL || strncmp(err, "line ", 5) != 0)
			abort();
		free(err);
		return NULL;
	}
	if (v == NULL || err != NULL)
		abort();
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *typed = read_or_check((const char *)data, size, 0);
	json_t *strings = read_or_check((const char *)data, size, YAML_READ_STRINGS), *again;
	char *text;

	if ((typed == NULL) != (strings == NULL))
		abort();
	if (typed != NULL) {
		text = json_dumps(typed, JSON_ENCODE_ANY | JSON_COMPACT);
		if (text == NULL)
			abort();
		again = read_or_check(text, strlen(text), 0);
		if (again == NULL || !json_equal(again, typed))
			abort();
		json_decref(again);
		free(text);
	}
	json_decref(typed);
	json_decref(strings);
	return 0;
}
