/* strlist_json.h — a string list as a JSON array.
 *
 * Policies, bound CIDRs, header names and mount options are kept as
 * struct strlist and answered (or stored) as JSON arrays of strings. */
#ifndef TROVE_STRLIST_JSON_H
#define TROVE_STRLIST_JSON_H

#include <stdbool.h>

#include <jansson.h>

#include "buf.h"

/* A new JSON array holding a copy of each item of l, in order (an empty
 * list gives []). The caller owns the result; NULL only when jansson
 * cannot allocate. */
json_t *strlist_json(const struct strlist *l);

/* Appends a copy of each string of the JSON array a to out, in order.
 * False when a is not an array or one of its members is not a string;
 * out then holds the strings before that member. */
bool strlist_push_json(struct strlist *out, const json_t *a);

#endif
