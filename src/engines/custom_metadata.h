/* custom_metadata.h — the custom_metadata map that kv v2 secret metadata
 * and identity entity aliases carry: user-defined string pairs, bounded as
 * Vault bounds them. Internal to src/engines. */
#ifndef TROVE_CUSTOM_METADATA_H
#define TROVE_CUSTOM_METADATA_H

#include <jansson.h>

#include "core/request.h"

#define CUSTOM_METADATA_MAX_KEYS 64
#define CUSTOM_METADATA_MAX_KEY_LEN 128   /* bytes */
#define CUSTOM_METADATA_MAX_VALUE_LEN 512 /* bytes */

/* Checks cm (borrowed, changed in place): a JSON object of at most
 * CUSTOM_METADATA_MAX_KEYS keys, each non-empty and at most
 * CUSTOM_METADATA_MAX_KEY_LEN bytes, values strings of at most
 * CUSTOM_METADATA_MAX_VALUE_LEN bytes; neither holds a control character.
 * Integer and boolean values are turned into strings, as Vault's map of
 * strings takes them. Returns 0, or adds a 400 message per problem (each
 * naming custom_metadata and the key) to resp and returns
 * TROVE_ERR_INVALID. */
int custom_metadata_check(json_t *cm, struct response *resp);

#endif
