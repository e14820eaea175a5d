/* otp.h — the one-time-pad encoding of a generated root token.
 *
 * encoded = base64(token XOR otp), standard alphabet without padding, the
 * encoding Vault uses for sys/generate-root: the token and the OTP have
 * the same length, and whoever holds the OTP recovers the token. */
#ifndef TROVE_OTP_H
#define TROVE_OTP_H

#include <stddef.h>

/* Encodes token with otp (same strlen, >= 1). *out is heap, the caller's
 * to free. Returns 0 or TROVE_ERR_INVALID when the lengths differ. */
int otp_encode(const char *token, const char *otp, char **out);

/* Decodes encoded (len bytes, padded or not) with otp (NUL-terminated).
 * *token is heap, the caller's to wipe and free (secure_free_str).
 * Returns 0, or TROVE_ERR_INVALID when encoded is not base64, when the
 * decoded length differs from the OTP's, or when the result holds a NUL. */
int otp_decode(const char *encoded, size_t len, const char *otp, char **token);

#endif
