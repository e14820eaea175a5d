/* seal_impl.h — what seal.c (the Shamir seal and the state machine) and
 * seal_auto.c (the auto seal: wrapping, recovery keys, migration) share.
 * Private to those two files. */
#ifndef TROVE_SEAL_IMPL_H
#define TROVE_SEAL_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "core_impl.h"

/* How the stored seal and the configured one meet. */
enum seal_mode {
	SEAL_MODE_SHAMIR,    /* stored Shamir; no seal, or one marked disabled */
	SEAL_MODE_AUTO,      /* stored and configured auto seal */
	SEAL_MODE_TO_AUTO,   /* stored Shamir, an enabled auto seal configured */
	SEAL_MODE_TO_SHAMIR, /* stored auto, its seal marked disabled */
	SEAL_MODE_NO_SEAL,   /* stored auto, no seal configured: cannot open */
};
enum seal_mode seal_mode_of(const struct core *c, const struct seal_config *sc);

/* The seal config (cached; locked: whether the caller holds c->lock).
 * TROVE_ERR_NOT_FOUND before init. */
int seal_read_config(struct core *c, struct seal_config *out, bool locked);
/* Remembers sc as the stored config. Caller holds c->lock. */
void seal_cache_config(struct core *c, const struct seal_config *sc);
/* The stored form of sc; NULL on allocation failure. */
char *seal_config_text(const struct seal_config *sc);

/* Opens the Shamir root-key record with unseal_key (CORE_UNSEAL_KEY_LEN
 * bytes): *root_key is the caller's to secure_free; rec_out (may be NULL)
 * gets the record as stored. TROVE_ERR_INTEGRITY when the key does not
 * open it. */
int seal_open_root_key(struct core *c, const unsigned char *unseal_key, unsigned char **root_key,
                       unsigned char **rec_out, size_t *rec_len_out);
/* At init, after the root key is made: creates the keyring under it and
 * the root token (id root_token_id, or random), leaving the barrier
 * sealed. err names the problem. Caller holds c->lock. */
int seal_init_barrier(struct core *c, const unsigned char *root_key, const char *root_token_id, char **root_token,
                      struct buf *err);

/* Brings up everything behind the barrier with root_key; rec/rec_len: the
 * root-key record as stored (for the rollback guard). Sealed again on
 * failure. Caller holds c->lock. */
int seal_unseal_with_root_key(struct core *c, const unsigned char *root_key, const unsigned char *rec,
                              size_t rec_len, struct buf *err);

/* Closes everything behind the barrier and seals it. Caller holds
 * c->lock. */
void seal_teardown(struct core *c);

/* seal_auto.c. The stored root key unwrapped by the configured seal:
 * *root_key (BARRIER_KEY_LEN, the caller's to secure_free) and the record
 * as stored (the caller frees). err says what the seal answered. */
int seal_auto_root_key(struct core *c, unsigned char **root_key, unsigned char **rec, size_t *rec_len,
                       struct buf *err);
/* Whether key is the recovery key (0, TROVE_ERR_INVALID, or the seal's
 * error). */
int seal_auto_check_recovery(struct core *c, const unsigned char *root_key, const unsigned char *key);
/* Unseals by a recovery key (checked, then the seal opens the root key).
 * Caller holds c->lock. */
int seal_auto_unseal_recovery(struct core *c, const unsigned char *key, struct buf *err);
/* Completes a pending migration with key (the combined unseal key for
 * Shamir -> auto, the recovery key for auto -> Shamir), then unseals.
 * Caller holds c->lock. */
int seal_auto_migrate(struct core *c, const struct seal_config *sc, const unsigned char *key, struct buf *err);
/* Rekey of the recovery key (core_replace_unseal_key under an auto seal).
 * Caller holds c->lock; the core is unsealed. */
int seal_auto_replace_recovery(struct core *c, const unsigned char *old_key, const unsigned char *new_key,
                               unsigned shares, unsigned threshold);

#endif
