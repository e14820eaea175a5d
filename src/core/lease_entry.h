/* lease_entry.h — a lease entry's stored form (internal to the expiration
 * manager; engines see struct lease from expiration.h).
 *
 * A token's lease entry is {"token":true}: its times are the token's. A
 * secret's lease entry is a JSON object with every field of struct lease
 * (internal kept as given by the engine). */
#ifndef TROVE_LEASE_ENTRY_H
#define TROVE_LEASE_ENTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "expiration.h"

/* Parses a stored entry. *is_token says it is a token's lease (then *out
 * is NULL). TROVE_ERR_INTEGRITY when the bytes are not an entry. */
int lease_entry_parse(const unsigned char *raw, size_t len, bool *is_token, struct lease **out);
/* The stored form of a secret's lease (heap, caller frees), or NULL. */
char *lease_entry_dump(const struct lease *l);

#endif
