/* barrier.h — the cryptographic barrier between Trove and its storage.
 *
 * Everything Trove stores goes through the barrier, which encrypts each
 * value with AES-256-GCM under the active key of a keyring:
 *
 *   record = version(1: 0x01) | term(4, big-endian) | nonce(12) | ciphertext | tag(16)
 *
 * The nonce is fresh from the OS CSPRNG for every write. The storage path is
 * the additional authenticated data, so a record copied to another path
 * fails to open. Storage is untrusted: a flipped bit, a truncated record, a
 * moved record or an unknown term is TROVE_ERR_INTEGRITY, never garbage.
 *
 * The keyring (all terms, active term, per-term encryption counts) is itself
 * stored at BARRIER_KEYRING_PATH, encrypted under the root key (term 0 in
 * the record header). The root key is given by the seal on unseal; the
 * barrier never stores it in clear.
 *
 * Each term encrypts at most BARRIER_ROTATE_DEFAULT records before the
 * barrier installs a new term by itself (GCM's random-nonce bound is 2^32).
 * Counts survive restarts: the keyring persists a reservation that is
 * always ahead of the true count.
 *
 * Thread-safe: reads run concurrently; rotation, seal and unseal take a
 * write lock. */
#ifndef TROVE_BARRIER_H
#define TROVE_BARRIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

#define BARRIER_KEY_LEN 32
#define BARRIER_NONCE_LEN 12
#define BARRIER_TAG_LEN 16
#define BARRIER_VERSION 1
#define BARRIER_HEADER_LEN (1 + 4 + BARRIER_NONCE_LEN)
#define BARRIER_OVERHEAD (BARRIER_HEADER_LEN + BARRIER_TAG_LEN)
#define BARRIER_KEYRING_PATH "core/keyring"
#define BARRIER_ROTATE_DEFAULT 3865470566ULL /* 90% of 2^32 */

struct barrier;

struct barrier_key_status {
	uint32_t term;
	int64_t install_time; /* unix seconds */
	uint64_t encryptions; /* records encrypted under the active term */
};

/* Creates a sealed barrier over `physical` (borrowed; must outlive it). */
struct barrier *barrier_new(struct storage *physical);
/* Seals (wiping keys) and frees. NULL is fine. */
void barrier_free(struct barrier *b);

/* Whether a keyring exists in physical storage. Returns 0 and sets *out, or
 * an I/O error. */
int barrier_initialized(struct barrier *b, bool *out);
/* Creates a keyring with term 1 and persists it under root_key. Leaves the
 * barrier sealed. TROVE_ERR_CONFLICT if a keyring already exists. */
int barrier_initialize(struct barrier *b, const unsigned char root_key[BARRIER_KEY_LEN]);
/* Loads and decrypts the keyring with root_key; the barrier is then
 * unsealed. A wrong root key or a tampered keyring is TROVE_ERR_INTEGRITY
 * and leaves the barrier sealed. The root key is copied. */
int barrier_unseal(struct barrier *b, const unsigned char root_key[BARRIER_KEY_LEN]);
/* Reads the keyring again with the root key held (another node sharing
 * the storage may have rotated it) and installs it. TROVE_ERR_SEALED when
 * sealed; on any failure the keyring held stays as it was. */
int barrier_reload(struct barrier *b);
/* Wipes every key from memory. Idempotent. */
void barrier_seal(struct barrier *b);
bool barrier_sealed(struct barrier *b);

/* Installs a new term, makes it active, persists the keyring. Old terms
 * stay to decrypt old records. TROVE_ERR_SEALED when sealed. */
int barrier_rotate(struct barrier *b);
int barrier_key_status(struct barrier *b, struct barrier_key_status *out);
/* For tests: rotate after n encryptions per term instead of the default. */
void barrier_set_rotation_threshold(struct barrier *b, uint64_t n);

/* Keyring epoch: the keyring counts its own writes (init writes epoch 1;
 * every rotation and reservation adds one) and stores the count inside
 * the encrypted keyring, so it cannot be changed without the root key.
 * A keyring restored from an older copy of storage has a smaller epoch
 * than one seen before; the rollback guard (rollback_guard.h) uses this.
 * barrier_epoch: the epoch of the open keyring, 0 while sealed (and for a
 * keyring written before epochs existed).
 * barrier_set_epoch_hook: fn(arg, epoch) runs after each keyring write has
 * reached storage, under the barrier's locks: it must not call back into
 * the barrier, and its failure cannot undo the write. NULL fn removes it. */
typedef void (*barrier_epoch_fn)(void *arg, uint64_t epoch);
uint64_t barrier_epoch(struct barrier *b);
/* Rewrites the keyring unchanged but for its epoch (+1). TROVE_ERR_SEALED
 * when sealed; a storage error leaves the epoch as it was. */
int barrier_touch(struct barrier *b);
void barrier_set_epoch_hook(struct barrier *b, barrier_epoch_fn fn, void *arg);

/* The encrypted view: a struct storage whose get/put/list/delete/txn
 * encrypt and decrypt through the keyring; every call returns
 * TROVE_ERR_SEALED while sealed. Owned by the barrier (do not free).
 * Writes to BARRIER_KEYRING_PATH through it are refused. */
struct storage *barrier_storage(struct barrier *b);

/* Record codec, exposed for the seal (which encrypts the root key under
 * the unseal key with term 0), for tests and the fuzz target.
 * barrier_record_encrypt: *out is heap memory owned by the caller.
 * barrier_record_term: parses only the header (TROVE_ERR_INTEGRITY if the
 * record is too short or of an unknown version).
 * barrier_record_decrypt: authenticates and decrypts; *out is heap memory
 * (wipe before free when secret), *out_len the plaintext length. */
int barrier_record_encrypt(const unsigned char key[BARRIER_KEY_LEN], uint32_t term, const char *aad,
			   const void *plaintext, size_t len, unsigned char **out, size_t *out_len);
int barrier_record_term(const unsigned char *rec, size_t len, uint32_t *term);
int barrier_record_decrypt(const unsigned char key[BARRIER_KEY_LEN], const char *aad,
			   const unsigned char *rec, size_t len, unsigned char **out, size_t *out_len);

/* Decodes a stored record with the unsealed keyring (term lookup + decrypt)
 * exactly as barrier_storage()'s get does. For tests and fuzzing. */
int barrier_decode(struct barrier *b, const char *path, const unsigned char *rec, size_t len,
		   unsigned char **out, size_t *out_len);

#endif
