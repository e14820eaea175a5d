/* fuzz_hcl.c — libFuzzer target: arbitrary bytes through both the HCL and
 * the JSON front ends of lib/hcl. Success or a clean error are both fine;
 * crashes, leaks and out-of-bounds reads are not. On success the tree is
 * walked through hcl_member_block to exercise it on arbitrary shapes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hcl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct hcl_value *v)
{
	const struct hcl_value *body;
	const char *label;
	struct hcl_error err;
	size_t i;

	if (v->type == HCL_OBJECT) {
		for (i = 0; i < v->u.object.len; i++) {
			const struct hcl_member *m = &v->u.object.members[i];

			if (hcl_member_block(m, &label, &body, &err) == 0 && strlen(label) > SIZE_MAX - 1)
				abort();
			walk(m->value);
		}
	} else if (v->type == HCL_LIST) {
		for (i = 0; i < v->u.list.len; i++)
			walk(v->u.list.items[i]);
	} else if (v->type == HCL_STRING) {
		if (strlen(v->u.string.ptr) != v->u.string.len)
			abort(); /* the contract: no NUL inside */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hcl_value *v = NULL;
	struct hcl_error err;
	/* A heap copy of exactly size bytes lets ASan catch any over-read. */
	char *copy = malloc(size ? size : 1);

	if (copy == NULL)
		return 0;
	if (size != 0)
		memcpy(copy, data, size);
	if (hcl_parse(copy, size, &v, &err) == 0) {
		walk(v);
		hcl_free(v);
	}
	v = NULL;
	if (hcl_parse_json(copy, size, &v, &err) == 0) {
		walk(v);
		hcl_free(v);
	}
	free(copy);
	return 0;
}
