/* nonce.h — ACME anti-replay nonces (RFC 8555 section 6.5).
 *
 * A nonce is 16 random bytes as 22 base64url characters. It is good once
 * (redeeming checks and removes it in one step, under the store's lock)
 * and for a lifetime (ACME_NONCE_LIFETIME_S by default). Memory is
 * bounded: at most cap nonces are outstanding, and issuing one more drops
 * the oldest, whose client gets a badNonce and retries with a fresh one,
 * as RFC 8555 expects clients to. Thread-safe. */
#ifndef TROVE_ACME_NONCE_H
#define TROVE_ACME_NONCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"

#define ACME_NONCE_LEN 22               /* characters, without the NUL */
#define ACME_NONCE_LIFETIME_S (15 * 60) /* seconds */
#define ACME_NONCE_DEFAULT_CAP 10000

struct acme_nonces;

/* A new store of at most cap (0: ACME_NONCE_DEFAULT_CAP) nonces living
 * lifetime_s seconds (0: ACME_NONCE_LIFETIME_S). clk reads monotonic
 * seconds (NULL: the system's; tests pass their own); it must outlive the
 * store. Aborts on OOM (a fixed allocation). */
struct acme_nonces *acme_nonces_new(size_t cap, int64_t lifetime_s, const struct clock *clk);
void acme_nonces_free(struct acme_nonces *s);

/* Writes a new nonce into out (ACME_NONCE_LEN + 1 bytes). Returns 0 or
 * TROVE_ERR_INTERNAL (the random source failed). */
int acme_nonce_issue(struct acme_nonces *s, char out[ACME_NONCE_LEN + 1]);

/* Whether nonce was issued by s, is unexpired and unused; it is used from
 * then on. Anything else (NULL, a wrong length) is false. */
bool acme_nonce_redeem(struct acme_nonces *s, const char *nonce);

/* Nonces outstanding (expired ones not yet dropped included). */
size_t acme_nonce_count(struct acme_nonces *s);

#endif
