/* libFuzzer target: an object read member by member (src/lib/
 * json_items.c), as the informers read a list's answer. Any bytes: no
 * crash or leak; a failure leaves no object behind; and whenever jansson
 * reads the whole input as an object without duplicate keys whose
 * "items" is an array, null or absent, the reader agrees: every element
 * handed over in order, and the other members the same. (Not for input
 * with a NUL byte: jansson lets one pass between some tokens of a whole
 * text; the reader refuses it.) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json_items.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	const json_t *items; /* the whole parse's, or NULL */
	size_t n;
	int mismatch;
};

static int note(void *ctx, json_t *item)
{
	struct seen *s = ctx;

	if (item == NULL)
		abort();
	if (s->items && !json_equal(json_array_get(s->items, s->n), item))
		s->mismatch = 1;
	s->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	json_t *whole = json_loadb(p, size, JSON_REJECT_DUPLICATES, NULL), *rest = NULL, *items;
	struct seen s = {NULL, 0, 0};
	int r, agree;

	items = json_object_get(whole, "items");
	agree = memchr(data, 0, size) == NULL && json_is_object(whole) && (items == NULL || json_is_array(items) || json_is_null(items));
	if (agree && json_is_array(items))
		s.items = items;
	r = json_items_read(p, size, "items", JSON_REJECT_DUPLICATES, note, &s, &rest);
	if (r != 0 && (r != TROVE_ERR_INVALID || rest != NULL))
		abort();
	if (agree) {
		if (r != 0 || s.mismatch || s.n != (json_is_array(items) ? json_array_size(items) : 0))
			abort();
		if (json_is_array(items))
			(void)json_object_del(whole, "items");
		if (!json_equal(whole, rest))
			abort();
	}
	json_decref(rest);
	json_decref(whole);
	return 0;
}
