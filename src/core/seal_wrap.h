/* seal_wrap.h — what an auto-unseal seal does for the core.
 *
 * A seal that holds its key elsewhere (an HSM over PKCS#11:
 * seal_pkcs11.h) wraps the root key for storage and unwraps it at start,
 * so the server unseals itself. The core sees only this pair of calls;
 * it never learns how the seal reaches its key. Both calls may block on
 * the device and are thread-safe (the seal serialises them itself). */
#ifndef TROVE_SEAL_WRAP_H
#define TROVE_SEAL_WRAP_H

#include <stddef.h>

#include "buf.h"

struct seal_wrap {
	const char *type; /* "pkcs11": reported by sys/seal-status */
	void *ctx;
	/* Encrypts len bytes of pt, binding aad (may be NULL), into *blob
	 * (heap, the caller frees). 0, or an error with err saying what the
	 * device answered: TROVE_ERR_UNAVAILABLE when the device or its key
	 * cannot be reached (worth retrying), TROVE_ERR_INVALID for a
	 * configuration the device refuses. */
	int (*wrap)(void *ctx, const unsigned char *pt, size_t len, const char *aad, unsigned char **blob,
	            size_t *blob_len, struct buf *err);
	/* The reverse; *pt (heap, *pt_len bytes) is the caller's to
	 * secure_free. TROVE_ERR_INTEGRITY when the blob is damaged or was
	 * made with another key. */
	int (*unwrap)(void *ctx, const unsigned char *blob, size_t blob_len, const char *aad, unsigned char **pt,
	              size_t *pt_len, struct buf *err);
};

#endif
