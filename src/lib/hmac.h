/* hmac.h — SHA-256 and HMAC-SHA256, the one way Trove computes them.
 *
 * hmac_sha256 is OpenSSL's one-shot HMAC(): token locators, AppRole
 * storage names, the rollback guard's signatures.
 *
 * struct hmac_sha256_ctx is for many MACs under one key (an audit entry
 * hashes a dozen leaves or more). Keyed lazily at the first MAC, it keeps
 * the two SHA-256 states after the blocks key ^ ipad and key ^ opad
 * (RFC 2104; a key longer than a block is hashed first), so a MAC costs
 * two state copies and two compressions, with no allocation and no
 * failure. That uses SHA256_Init/Update/Final, deprecated since OpenSSL
 * 3.0, because EVP cannot do it cheaply: re-initialising an EVP_MAC
 * context and finishing it each duplicate a provider digest context,
 * measured at 333 ns a MAC against 125 ns, and keying one costs 1.5 us;
 * with some 14 hashed leaves an audit entry would pay about 4 us more.
 * Built with OPENSSL_NO_DEPRECATED_3_0 (or against an OpenSSL without
 * them) the same context is one EVP_MAC context, keyed lazily and
 * re-initialised per MAC. Either way the keyed state is wiped on release;
 * test_hmac checks both paths against HMAC() for keys shorter than, as
 * long as and longer than a block. */
#ifndef TROVE_HMAC_H
#define TROVE_HMAC_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/opensslconf.h>
#include <openssl/sha.h>

#define HMAC_SHA256_LEN 32
#define SHA256_LEN 32

/* out (SHA256_LEN bytes) = SHA-256(msg[0..n)), through a digest fetched once (an implicit
 * fetch per call, as EVP_sha256() with EVP_Digest does, costs more than
 * hashing a short key). Returns 0, or TROVE_ERR_INTERNAL if OpenSSL
 * fails. */
int sha256(const void *msg, size_t n, unsigned char *out);

/* SHA-256 over several pieces, with no algorithm fetch where OpenSSL
 * still has SHA256_Init/Update/Final (deprecated since 3.0, as for
 * struct hmac_sha256_ctx): those hash in place and load no provider, so a
 * process that needs nothing else from OpenSSL never pays OpenSSL 3's first
 * fetch — it builds every digest of the default provider and touches some
 * 2 MiB of libcrypto's pages (trove agent's cache keys over HTTP;
 * docs/performance.md, "trove agent footprint"). Built without the
 * deprecated functions it is one EVP_MD_CTX. The state is wiped by
 * sha256_stream_final. */
struct sha256_stream {
#ifndef OPENSSL_NO_DEPRECATED_3_0
	SHA256_CTX c;
#else
	EVP_MD_CTX *md;
#endif
	bool ok; /* false once OpenSSL failed */
};

void sha256_stream_init(struct sha256_stream *s);
/* Hashes p[0..n) (p may be NULL when n is 0). */
void sha256_stream_update(struct sha256_stream *s, const void *p, size_t n);
/* out = the digest. False if OpenSSL failed at any step (never on the
 * SHA256_* path); out is then unspecified. Either way s is wiped and may
 * be initialised again. */
bool sha256_stream_final(struct sha256_stream *s, unsigned char out[SHA256_LEN]);

/* out = HMAC-SHA256(key, msg[0..n)). Returns 0, or TROVE_ERR_INTERNAL if
 * OpenSSL fails (it does not with these arguments); out is then
 * unspecified. The caller wipes out when it is secret. */
int hmac_sha256(const void *key, size_t key_len, const void *msg, size_t n, unsigned char out[HMAC_SHA256_LEN]);

struct hmac_sha256_ctx {
	const unsigned char *key; /* borrowed: must outlive the context */
	size_t key_len;
#ifndef OPENSSL_NO_DEPRECATED_3_0
	bool keyed;              /* inner and outer are ready */
	SHA256_CTX inner, outer; /* after (key ^ ipad), after (key ^ opad) */
#else
	EVP_MAC_CTX *ctx; /* NULL until the first MAC */
	bool fresh;       /* ctx is keyed and has seen no message yet */
#endif
};

/* Prepares h for MACs under key (NULL: the empty key); nothing is
 * computed or allocated until the first MAC. */
void hmac_sha256_ctx_init(struct hmac_sha256_ctx *h, const unsigned char *key, size_t key_len);
/* mac = HMAC-SHA256(key, text[0..n)). False only if OpenSSL fails (an
 * allocation, on the EVP path). The caller wipes mac when secret. */
bool hmac_sha256_ctx_mac(struct hmac_sha256_ctx *h, const void *text, size_t n,
                         unsigned char mac[HMAC_SHA256_LEN]);
/* Keys h now rather than at its first MAC. False only if OpenSSL fails. */
bool hmac_sha256_ctx_key(struct hmac_sha256_ctx *h);
/* mac = HMAC-SHA256(key, text[0..n)) from a keyed h (hmac_sha256_ctx_key)
 * without changing it, so several threads may call it at once on one h
 * (a token store's salt). False when h is not keyed or OpenSSL fails. */
bool hmac_sha256_ctx_mac_shared(const struct hmac_sha256_ctx *h, const void *text, size_t n,
                                unsigned char mac[HMAC_SHA256_LEN]);
/* Wipes the keyed state; h may be initialised again. */
void hmac_sha256_ctx_release(struct hmac_sha256_ctx *h);

#endif
