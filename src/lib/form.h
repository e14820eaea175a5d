/* form.h — application/x-www-form-urlencoded pairs (query strings and
 * form bodies). */
#ifndef TROVE_FORM_H
#define TROVE_FORM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Percent-decodes s[0..n) into a new string (the caller frees it).
 * plus_space: '+' means ' ' (queries and forms). NULL on a bad escape or
 * a decoded NUL. */
char *form_decode(const char *s, size_t n, bool plus_space);

/* Adds the pairs k=v&k=v of s[0..n) to obj as strings. A key that
 * repeats becomes an array of its values (join false, queries) or one
 * comma-joined string (join true, forms, as Vault joins them). Returns 0,
 * or -1 with *why set (static) on a bad escape or when s holds more than
 * max_pairs pairs; obj may then hold some of the pairs. */
int form_parse(const char *s, size_t n, json_t *obj, bool join, size_t max_pairs, const char **why);

#endif
