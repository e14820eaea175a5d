/* userpass_hash.h — password hashing for auth/userpass: argon2id.
 *
 * Parameters (one place; the encoded form of every stored hash carries its
 * own, so they can change later without breaking old users):
 *   t = 2 passes, m = 19 MiB, p = 1 lane, 16-byte random salt, 32-byte tag.
 * This is OWASP's minimum recommendation for argon2id (Password Storage
 * Cheat Sheet: "m=19456 (19 MiB), t=2, p=1"). It costs about 14 ms of one
 * core here; argon2's own "t=3, m=64 MiB" costs ~130 ms, which would make a
 * login flood (and the test suite) CPU-bound and need 64 MiB per
 * concurrent login. Stronger settings trade login latency and memory for
 * offline-cracking cost; raise USERPASS_ARGON2_M_KIB first.
 *
 * The server runs the requests that hash (login, user writes) on its
 * hashing pool of max(2, online CPUs) threads with a small queue, refusing
 * more with 429 (server/listener.h), so a flood never waits in the shared
 * worker pool. Here, too, at most max(2, online CPUs) hashes run at once
 * (a counting semaphore; further callers wait): the bound on memory (that
 * many times 19 MiB) holds for every caller, the mount's dummy hash and
 * the tests included, and costs no throughput, argon2 being CPU-bound.
 *
 * Verification of an unknown user runs argon2id against a dummy hash made
 * once, with the same parameters, from a random password nobody knows: an
 * unknown name costs what a wrong password costs. */
#ifndef TROVE_USERPASS_HASH_H
#define TROVE_USERPASS_HASH_H

#include <stddef.h>

#define USERPASS_ARGON2_T 2
#define USERPASS_ARGON2_M_KIB 19456
#define USERPASS_ARGON2_P 1
#define USERPASS_SALT_LEN 16
#define USERPASS_TAG_LEN 32
/* The longest stored hash we accept as well-formed. */
#define USERPASS_ENCODED_MAX 256

/* Computes the dummy hash if not done yet (also done on first use).
 * Returns 0 or an error. */
int userpass_hash_init(void);

/* Hashes a password (len bytes; may hold NULs) with a fresh salt into
 * argon2id's encoded form ("$argon2id$v=19$m=19456,t=2,p=1$salt$tag"),
 * heap memory the caller frees. TROVE_ERR_INVALID for an empty password,
 * TROVE_ERR_NOMEM when argon2 cannot get its memory, TROVE_ERR_INTERNAL
 * otherwise. */
int userpass_hash(const char *password, size_t len, char **out);

/* Checks a password against an encoded hash in constant time.
 * 0: it matches. TROVE_ERR_PERMISSION: it does not. TROVE_ERR_INTEGRITY:
 * the encoded hash is not an argon2id hash. TROVE_ERR_NOMEM. */
int userpass_verify(const char *encoded, const char *password, size_t len);

/* The same work as userpass_verify against a real user, against the dummy
 * hash: TROVE_ERR_PERMISSION (or an error if argon2 itself fails). */
int userpass_verify_dummy(const char *password, size_t len);

#endif
