/* batch_keys.h — the keys batch tokens are sealed under.
 *
 * A batch token is a barrier record (barrier.h) of its entry, so its
 * header names the term of the key that sealed it. Like the barrier's
 * keyring, the batch keys count their encryptions and rotate: once the
 * active term has sealed `threshold` tokens (BARRIER_ROTATE_DEFAULT, 90%
 * of GCM's 2^32 random-nonce bound), the next seal installs a new term.
 * Old terms stay, so a batch token keeps working until its own expiry.
 *
 * Stored inside the barrier at TOKEN_BATCH_KEY_PATH as JSON
 * {"active": term, "reserved": n, "keys": {"<term>": "<base64 key>"}}.
 * "reserved" is always >= the active term's true count: it is raised in
 * steps before the count reaches it, and counting resumes from it after a
 * restart, so a crash can only overcount. The form written before counting
 * existed (32 raw bytes: term 1's key, never counted) is read as term 1
 * and rotated away from at once.
 *
 * Thread-safe (one mutex around the count, the reservation and the keys;
 * the AES-GCM work runs outside it). */
#ifndef TROVE_BATCH_KEYS_H
#define TROVE_BATCH_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

struct batch_keys;

struct batch_keys *batch_keys_new(void);
/* Wipes the keys and frees. NULL is fine. */
void batch_keys_free(struct batch_keys *k);

/* Loads the keys from logical (borrowed until batch_keys_close), creating
 * term 1 the first time. Returns 0 or a storage error. */
int batch_keys_open(struct batch_keys *k, struct storage *logical);
/* Wipes the keys from memory. Idempotent. */
void batch_keys_close(struct batch_keys *k);

/* Seals n bytes under the active term (counting it, reserving and
 * rotating as needed). *out is heap memory owned by the caller. Returns 0,
 * TROVE_ERR_SEALED when closed, or a storage error from a reservation or
 * rotation (nothing is sealed then). */
int batch_keys_seal(struct batch_keys *k, const char *aad, const void *plain, size_t n, unsigned char **out,
                    size_t *out_len);
/* Opens a record sealed under any term still held. *out is heap memory
 * owned by the caller (wipe it). TROVE_ERR_INTEGRITY for an unknown term
 * or a record that does not authenticate. */
int batch_keys_open_record(struct batch_keys *k, const char *aad, const unsigned char *rec, size_t len,
                           unsigned char **out, size_t *out_len);

/* The active term and its count of seals (for tests and status). */
void batch_keys_status(struct batch_keys *k, uint32_t *term, uint64_t *count);
/* For tests: rotate after n seals per term instead of the default. */
void batch_keys_set_rotation_threshold(struct batch_keys *k, uint64_t n);

#endif
