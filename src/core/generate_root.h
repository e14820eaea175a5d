/* generate_root.h — making a new root token from key shares
 * (the sys/generate-root endpoints).
 *
 * An attempt is started with a one-time pad (OTP) as long as a root token
 * (given by the caller, or generated and handed back once). It then
 * collects the threshold of current key shares, one request at a time,
 * each carrying the attempt's nonce. When they combine to the current
 * unseal key a root token is created (policy root, no parent, no expiry)
 * and handed out only as otp_encode(token, otp) (otp.h): whoever holds the
 * OTP decodes it.
 *
 * One attempt at a time; the state is in memory only and dropped on seal
 * or restart. The OTP and shares are wiped when dropped. Thread-safe; each
 * call refuses with TROVE_ERR_UNINITIALIZED before init and
 * TROVE_ERR_SEALED while sealed. Every TROVE_ERR_INVALID comes with err
 * naming the reason. */
#ifndef TROVE_GENERATE_ROOT_H
#define TROVE_GENERATE_ROOT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "token.h"

/* The OTP is exactly as long as the token it pads. */
#define GENERATE_ROOT_OTP_LEN TOKEN_SERVICE_LEN

struct core;
struct generate_root;

struct generate_root_status {
	bool started;
	char nonce[37];
	unsigned progress;
	unsigned required;
};

struct generate_root *generate_root_new(struct core *c);
void generate_root_free(struct generate_root *g);
/* Drops the attempt in progress, if any (the core calls it on seal). */
void generate_root_reset(struct generate_root *g);

int generate_root_status(struct generate_root *g, struct generate_root_status *out, struct buf *err);

/* Starts an attempt. otp: GENERATE_ROOT_OTP_LEN bytes, or NULL/"" to have
 * one generated (base62) and copied into otp_out (GENERATE_ROOT_OTP_LEN+1
 * bytes; left "" when the caller gave one). TROVE_ERR_INVALID for an OTP of
 * the wrong length or when an attempt is already in progress. */
int generate_root_start(struct generate_root *g, const char *otp, char *otp_out, struct buf *err);

/* Cancels the attempt in progress, if any. */
int generate_root_cancel(struct generate_root *g, struct buf *err);

/* Gives one current key share (raw bytes) with the attempt's nonce. 0:
 * counted; *encoded is NULL while more are needed, else the encoded root
 * token (heap, the caller's; the attempt is then over). out: progress and
 * required after this share. TROVE_ERR_INVALID: no attempt, wrong nonce,
 * wrong length, a share already given, or a set that is not the current
 * key (progress reset, the attempt stays). */
int generate_root_update(struct generate_root *g, const unsigned char *key, size_t len, const char *nonce,
                         struct generate_root_status *out, char **encoded, struct buf *err);

#endif
