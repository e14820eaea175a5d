/* lease_key.h — where leases live in storage.
 *
 * Every lease (a service token's, or a leased secret's) is kept inside the
 * barrier under three kinds of key:
 *
 *   sys/expire/id/<lease id>              the lease entry (JSON)
 *   sys/expire/when/<H>/<T>/<item>        the expiry index: the lease is
 *                                         due at unix second T (12 digits),
 *                                         H = T / 3600 (12 digits); value:
 *                                         the lease id
 *   sys/expire/token/<locator>/<item>     the leases a token created;
 *                                         value: the lease id
 *   sys/expire/irrevocable/<item>         leases whose revocation failed
 *                                         for good; value: the lease id
 *
 * <item> is the lease id's last segment, unique by construction (a token's
 * locator, or the 24 random characters of a secret's lease). Because keys
 * are ordered, the expiry index is a priority queue kept by storage: the
 * expiration manager lists the first hour folder, then the first second
 * folders in it, and never loads the leases that are not due. Nothing is
 * held in memory per lease, and unsealing with a million leases stored
 * costs nothing more than with none.
 *
 * The token store writes its own tokens' lease entry and expiry key in
 * the same transactions as the token (token.c), so a token and its lease
 * never disagree after a crash; the expiration manager writes the rest. */
#ifndef TROVE_LEASE_KEY_H
#define TROVE_LEASE_KEY_H

#include <stddef.h>
#include <stdint.h>

#define LEASE_ID_PREFIX "sys/expire/id/"
#define LEASE_WHEN_PREFIX "sys/expire/when/"
#define LEASE_TOKEN_PREFIX "sys/expire/token/"
#define LEASE_IRREVOCABLE_PREFIX "sys/expire/irrevocable/"
#define LEASE_TIME_DIGITS 12
#define LEASE_HOUR 3600

/* Room for any key below (lease ids are refused past LEASE_ID_MAX). */
#define LEASE_ID_MAX 400
#define LEASE_KEY_MAX (sizeof(LEASE_IRREVOCABLE_PREFIX) + LEASE_ID_MAX + 2 * LEASE_TIME_DIGITS + 8)

/* The lease entry's key: LEASE_ID_PREFIX + id. Returns 0, or -1 when the
 * id is empty, longer than LEASE_ID_MAX, or does not fit out. */
int lease_id_key(char *out, size_t cap, const char *lease_id);
/* The expiry index key of lease_id due at t (unix seconds, > 0). */
int lease_when_key(char *out, size_t cap, int64_t t, const char *lease_id);
/* The key recording that the token with this locator created lease_id. */
int lease_token_key(char *out, size_t cap, const char *locator, const char *lease_id);
/* The key listing lease_id among the irrevocable leases. */
int lease_irrevocable_key(char *out, size_t cap, const char *lease_id);
/* The last segment of a lease id (the whole id when it has no '/'). */
const char *lease_item(const char *lease_id);

/* A token's lease id: its creation path, '/', its locator. */
int lease_token_id(char *out, size_t cap, const char *path, const char *locator);

/* Parses a 12-digit time folder name (with or without a trailing '/').
 * Returns the time, or -1 when name is not one. */
int64_t lease_parse_time(const char *name);

#endif
