/* shares.h — a set of unseal-key shares being collected.
 *
 * Unseal, rekey (and its verification) and root-token generation all
 * gather key shares one request at a time until a threshold, then combine
 * them. This is that collection: it refuses a share of the wrong length and
 * a share already given (constant-time comparison), and wipes every share
 * it drops. Not thread-safe: the owner's lock guards it. */
#ifndef TROVE_SHARES_H
#define TROVE_SHARES_H

#include <stddef.h>

#include "buf.h"
#include "shamir.h"

struct share_set {
	unsigned char *shares[SHAMIR_MAX_SHARES];
	size_t share_len;
	unsigned n;
};

/* Adds a copy of key (len bytes). want_len: the one length a share may
 * have; attempt names the operation in messages ("unseal attempt").
 * Returns 0, or TROVE_ERR_INVALID with err naming the reason (wrong
 * length; already given in this attempt; set full). */
int share_set_add(struct share_set *s, const unsigned char *key, size_t len, size_t want_len,
                  const char *attempt, struct buf *err);

/* Combines the collected shares into out (share_len - 1 bytes). Returns 0
 * or TROVE_ERR_INVALID (no shares, duplicate x coordinates). */
int share_set_combine(const struct share_set *s, unsigned char *out);

/* Wipes and frees every share; the set is then empty. */
void share_set_clear(struct share_set *s);

#endif
