/* json_items.h — a JSON object read member by member, so that one large
 * array member (a Kubernetes list's "items") never becomes one tree: each
 * of its elements is parsed alone and handed over, then freed. */
#ifndef TROVE_JSON_ITEMS_H
#define TROVE_JSON_ITEMS_H

#include <stddef.h>

#include <jansson.h>

/* Called for each element of the array; item is borrowed for the call
 * (the function may change it, or take a reference). A non-zero return
 * stops the read and is returned by it. */
typedef int (*json_items_fn)(void *ctx, json_t *item);

/* Reads the JSON object in p[0..n) (whitespace around it allowed, nothing
 * else after it), parsing with jansson's decoding flags (0, or e.g.
 * JSON_REJECT_DUPLICATES). Each element of the member named key, which
 * must be an array (or null), goes to fn when fn is not NULL (else it is
 * parsed and dropped); every other member is set on *rest (a new object,
 * the caller's; a later duplicate replaces an earlier one), when rest is
 * not NULL. Returns 0; fn's non-zero return; or TROVE_ERR_INVALID when p
 * is not such an object (*rest is then NULL). */
int json_items_read(const char *p, size_t n, const char *key, size_t flags, json_items_fn fn, void *ctx,
                    json_t **rest);

#endif
