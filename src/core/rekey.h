/* rekey.h — replacing the unseal key (the sys/rekey endpoints).
 *
 * A rekey is started with the new shares and threshold, then collects the
 * threshold of CURRENT key shares, one request at a time, each carrying
 * the operation's nonce. When they combine to the current unseal key a
 * new unseal key is made and split into the new shares. Without
 * verification the root key record is re-encrypted under the new key at
 * once (core_replace_unseal_key: one storage transaction); with it, the
 * new key takes effect only once the threshold of NEW shares has been
 * given back through the verification step, which has its own nonce.
 *
 * One rekey at a time. The state is in memory only: a restart or a seal
 * discards it, and the current key stays valid. Shares and keys held here
 * are wiped when dropped. All functions are thread-safe; each refuses with
 * TROVE_ERR_UNINITIALIZED before init and TROVE_ERR_SEALED while sealed
 * (err says so). Every TROVE_ERR_INVALID comes with err naming the reason. */
#ifndef TROVE_REKEY_H
#define TROVE_REKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct core;
struct rekey;

struct rekey_status {
	bool started;
	char nonce[37]; /* "" when not started */
	unsigned t, n;  /* the NEW threshold and shares (0 when not started) */
	unsigned progress;
	unsigned required; /* the current threshold */
	bool verification_required;
	/* the verification step */
	bool verifying; /* new shares handed out, waiting for them */
	char verify_nonce[37];
	unsigned verify_progress;
};

struct rekey_result {
	bool complete;        /* the current shares were all given and accepted */
	unsigned char **keys; /* when complete: nkeys new shares of key_len bytes */
	size_t nkeys;
	size_t key_len;
	bool verification_required; /* the keys are not in effect yet */
	char verification_nonce[37];
};

/* Created and freed by the core (core_rekey()). */
struct rekey *rekey_new(struct core *c);
void rekey_free(struct rekey *rk);
/* Drops any rekey in progress (the core calls it on seal). */
void rekey_reset(struct rekey *rk);

int rekey_status(struct rekey *rk, struct rekey_status *out, struct buf *err);

/* Starts a rekey to `shares` shares with `threshold` (checked with
 * core_seal_config_check). TROVE_ERR_INVALID when one is in progress. */
int rekey_start(struct rekey *rk, int64_t shares, int64_t threshold, bool require_verification,
                struct buf *err);

/* Cancels the rekey in progress, if any (also during verification: the
 * current key stays). */
int rekey_cancel(struct rekey *rk, struct buf *err);

/* Gives one current key share (raw bytes) with the operation's nonce.
 * 0 with out->complete false: counted, more needed. 0 with out->complete
 * true: out holds the new shares (release with rekey_result_release);
 * without verification they are already in effect. TROVE_ERR_INVALID: no
 * rekey, wrong nonce, wrong length, a share already given, verification
 * pending, or a set of shares that is not the current key (progress is
 * then reset; the rekey stays started). */
int rekey_update(struct rekey *rk, const unsigned char *key, size_t len, const char *nonce,
                 struct rekey_result *out, struct buf *err);
void rekey_result_release(struct rekey_result *res);

/* Verification: status fields verify_* in rekey_status. Restart gives a
 * new verification nonce and forgets the new shares given so far.
 * TROVE_ERR_INVALID when no verification is pending. */
int rekey_verify_restart(struct rekey *rk, struct buf *err);
/* Gives one NEW share with the verification nonce. *complete is set when
 * the new threshold is reached and the shares combine to the new key: the
 * new key is then in effect and the rekey is over. A set that does not
 * combine to it resets the verification progress (TROVE_ERR_INVALID). */
int rekey_verify_update(struct rekey *rk, const unsigned char *key, size_t len, const char *nonce,
                        bool *complete, struct buf *err);

#endif
