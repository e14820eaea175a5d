/* encoding.h — hex, base64 (standard alphabet, padded) and base64url
 * (URL alphabet, unpadded) codecs, and
 * UTF-8 validation.
 * Decoders take pointer+length, reject any invalid character or bad length,
 * and never read past the end. Output buffers are caller-owned. */
#ifndef TROVE_ENCODING_H
#define TROVE_ENCODING_H

#include <stddef.h>
#include <stdint.h>

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void hex_encode(const unsigned char *in, size_t n, char *out);
/* Decodes 2*n hex chars (either case) into out (n bytes, n = len/2).
 * Returns 0, or TROVE_ERR_INVALID on odd length or a bad character, or
 * TROVE_ERR_TOO_LARGE if out_cap < len/2. out_len may be NULL. */
int hex_decode(const char *in, size_t len, unsigned char *out, size_t out_cap, size_t *out_len);

/* Bytes needed to base64-encode n bytes, including the NUL. */
size_t base64_encoded_size(size_t n);
void base64_encode(const unsigned char *in, size_t n, char *out);
/* Decodes padded standard base64 (also accepts unpadded input).
 * Returns 0, TROVE_ERR_INVALID on bad input, TROVE_ERR_TOO_LARGE if out_cap
 * is too small. */
int base64_decode(const char *in, size_t len, unsigned char *out, size_t out_cap, size_t *out_len);

/* base64url without padding (RFC 4648 section 5), as batch tokens carry
 * their record: a new NUL-terminated heap string the caller frees (aborts
 * on OOM: small fixed allocation). */
char *base64url_encode(const unsigned char *in, size_t n);
/* Decodes n chars of unpadded base64url into a new heap buffer *out of
 * *out_len bytes (plus a spare byte) the caller frees. A '+', '/' or '='
 * (the standard alphabet, padding) or a length of 4k+1 is
 * TROVE_ERR_INVALID, with *out NULL. */
int base64url_decode(const char *in, size_t n, unsigned char **out, size_t *out_len);

/* Length of the valid UTF-8 sequence at p (n > 0 bytes left), or 0 when it
 * is not one (overlong forms, surrogates and code points past U+10FFFF
 * are not). */
size_t utf8_seq_len(const unsigned char *p, size_t n);

/* The rune of the UTF-8 sequence at s (n bytes left) and its length; an
 * invalid sequence (or n == 0) is U+FFFD with length 0, for the caller to
 * step one byte as Go does. */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *rune);

#endif
