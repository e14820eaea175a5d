/* hmac.c — see hmac.h. */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "hmac.h"

#include "err.h"
#include "secure.h"

#include "banned.h"

int hmac_sha256(const void *key, size_t key_len, const void *msg, size_t n, unsigned char out[HMAC_SHA256_LEN])
{
	static const unsigned char empty[1];
	unsigned int len = 0;

	if (HMAC(EVP_sha256(), key ? key : empty, (int)key_len, n ? msg : empty, n, out, &len) == NULL ||
	    len != HMAC_SHA256_LEN)
		return TROVE_ERR_INTERNAL;
	return 0;
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int sha256(const void *msg, size_t n, unsigned char *out)
{
	unsigned int len = 0;

	if (pthread_once(&sha256_once, sha256_fetch) != 0 || sha256_md == NULL ||
	    EVP_Digest(n ? msg : (const void *)"", n, out, &len, sha256_md, NULL) != 1 || len != SHA256_LEN)
		return TROVE_ERR_INTERNAL;
	return 0;
}

#ifndef OPENSSL_NO_DEPRECATED_3_0
/* SHA256_Init/Update/Final are deprecated since OpenSSL 3.0 (hmac.h says
 * why they are used); silenced for this section only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

void hmac_sha256_ctx_init(struct hmac_sha256_ctx *h, const unsigned char *key, size_t key_len)
{
	h->key = key;
	h->key_len = key ? key_len : 0;
	h->keyed = false;
}

void hmac_sha256_ctx_release(struct hmac_sha256_ctx *h)
{
	if (!h->keyed)
		return;
	secure_wipe(&h->inner, sizeof(h->inner));
	secure_wipe(&h->outer, sizeof(h->outer));
	h->keyed = false;
}

/* RFC 2104: the key, hashed first when longer than a block, zero-padded
 * to a block and XORed with ipad / opad. */
static bool key_states(struct hmac_sha256_ctx *h)
{
	unsigned char key[SHA256_CBLOCK], ipad[SHA256_CBLOCK], opad[SHA256_CBLOCK];
	SHA256_CTX c;
	bool ok = true;

	memset(key, 0, sizeof(key));
	if (h->key_len > SHA256_CBLOCK)
		ok = SHA256_Init(&c) == 1 && SHA256_Update(&c, h->key, h->key_len) == 1 &&
		     SHA256_Final(key, &c) == 1;
	else if (h->key_len != 0)
		memcpy(key, h->key, h->key_len);
	for (size_t i = 0; i < SHA256_CBLOCK; i++) {
		ipad[i] = key[i] ^ 0x36;
		opad[i] = key[i] ^ 0x5c;
	}
	ok = ok && SHA256_Init(&h->inner) == 1 && SHA256_Update(&h->inner, ipad, SHA256_CBLOCK) == 1 &&
	     SHA256_Init(&h->outer) == 1 && SHA256_Update(&h->outer, opad, SHA256_CBLOCK) == 1;
	secure_wipe(key, sizeof(key));
	secure_wipe(ipad, sizeof(ipad));
	secure_wipe(opad, sizeof(opad));
	secure_wipe(&c, sizeof(c));
	h->keyed = true;
	if (!ok)
		hmac_sha256_ctx_release(h); /* never happens: these cannot fail */
	return ok;
}

bool hmac_sha256_ctx_mac(struct hmac_sha256_ctx *h, const void *text, size_t n, unsigned char mac[HMAC_SHA256_LEN])
{
	unsigned char ih[HMAC_SHA256_LEN];
	SHA256_CTX c;
	bool ok;

	if (!h->keyed && !key_states(h))
		return false;
	c = h->inner;
	ok = SHA256_Update(&c, text, n) == 1 && SHA256_Final(ih, &c) == 1;
	c = h->outer;
	ok = ok && SHA256_Update(&c, ih, HMAC_SHA256_LEN) == 1 && SHA256_Final(mac, &c) == 1;
	secure_wipe(ih, sizeof(ih));
	secure_wipe(&c, sizeof(c));
	return ok;
}

bool hmac_sha256_ctx_key(struct hmac_sha256_ctx *h)
{
	return h->keyed || key_states(h);
}

bool hmac_sha256_ctx_mac_shared(const struct hmac_sha256_ctx *h, const void *text, size_t n,
                                unsigned char mac[HMAC_SHA256_LEN])
{
	unsigned char ih[HMAC_SHA256_LEN];
	SHA256_CTX c;
	bool ok;

	if (!h->keyed)
		return false;
	c = h->inner;
	ok = SHA256_Update(&c, text, n) == 1 && SHA256_Final(ih, &c) == 1;
	c = h->outer;
	ok = ok && SHA256_Update(&c, ih, HMAC_SHA256_LEN) == 1 && SHA256_Final(mac, &c) == 1;
	secure_wipe(ih, sizeof(ih));
	secure_wipe(&c, sizeof(c));
	return ok;
}

void sha256_stream_init(struct sha256_stream *s)
{
	s->ok = SHA256_Init(&s->c) == 1;
}

void sha256_stream_update(struct sha256_stream *s, const void *p, size_t n)
{
	if (n)
		s->ok = s->ok && SHA256_Update(&s->c, p, n) == 1;
}

bool sha256_stream_final(struct sha256_stream *s, unsigned char out[SHA256_LEN])
{
	bool ok = s->ok && SHA256_Final(out, &s->c) == 1;

	secure_wipe(s, sizeof(*s));
	return ok;
}

#pragma GCC diagnostic pop
#else /* OPENSSL_NO_DEPRECATED_3_0: one EVP_MAC context per hmac_sha256_ctx */

void sha256_stream_init(struct sha256_stream *s)
{
	s->md = EVP_MD_CTX_new();
	s->ok = s->md != NULL && pthread_once(&sha256_once, sha256_fetch) == 0 && sha256_md != NULL &&
	        EVP_DigestInit_ex(s->md, sha256_md, NULL) == 1;
}

void sha256_stream_update(struct sha256_stream *s, const void *p, size_t n)
{
	if (n)
		s->ok = s->ok && EVP_DigestUpdate(s->md, p, n) == 1;
}

bool sha256_stream_final(struct sha256_stream *s, unsigned char out[SHA256_LEN])
{
	unsigned int len = 0;
	bool ok = s->ok && EVP_DigestFinal_ex(s->md, out, &len) == 1 && len == SHA256_LEN;

	EVP_MD_CTX_free(s->md); /* cleanses the state */
	secure_wipe(s, sizeof(*s));
	return ok;
}

static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
}

void hmac_sha256_ctx_init(struct hmac_sha256_ctx *h, const unsigned char *key, size_t key_len)
{
	h->key = key;
	h->key_len = key_len;
	h->ctx = NULL;
	h->fresh = false;
}

void hmac_sha256_ctx_release(struct hmac_sha256_ctx *h)
{
	EVP_MAC_CTX_free(h->ctx); /* cleanses the keyed state */
	h->ctx = NULL;
}

static bool key_states(struct hmac_sha256_ctx *h)
{
	static const unsigned char no_key[1];
	char digest[] = "SHA256";
	OSSL_PARAM params[2];

	if (pthread_once(&hmac_once, hmac_fetch) != 0 || hmac_alg == NULL)
		return false;
	h->ctx = EVP_MAC_CTX_new(hmac_alg);
	if (h->ctx == NULL)
		return false;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	/* A NULL key would mean "keep the previous key": pass a real pointer. */
	if (EVP_MAC_init(h->ctx, h->key ? h->key : no_key, h->key ? h->key_len : 0, params) != 1) {
		hmac_sha256_ctx_release(h);
		return false;
	}
	h->fresh = true;
	return true;
}

/* A NULL key re-initialises from the already-padded inner state. */
bool hmac_sha256_ctx_mac(struct hmac_sha256_ctx *h, const void *text, size_t n, unsigned char mac[HMAC_SHA256_LEN])
{
	size_t mac_len = 0;

	if (h->ctx == NULL) {
		if (!key_states(h))
			return false;
	} else if (!h->fresh && EVP_MAC_init(h->ctx, NULL, 0, NULL) != 1) {
		return false;
	}
	h->fresh = false;
	return EVP_MAC_update(h->ctx, n ? text : (const void *)"", n) == 1 &&
	       EVP_MAC_final(h->ctx, mac, &mac_len, HMAC_SHA256_LEN) == 1 && mac_len == HMAC_SHA256_LEN;
}

bool hmac_sha256_ctx_key(struct hmac_sha256_ctx *h)
{
	return h->ctx != NULL || key_states(h);
}

/* A duplicate of the keyed context per MAC: h itself is never changed. */
bool hmac_sha256_ctx_mac_shared(const struct hmac_sha256_ctx *h, const void *text, size_t n,
                                unsigned char mac[HMAC_SHA256_LEN])
{
	size_t mac_len = 0;
	EVP_MAC_CTX *c = h->ctx ? EVP_MAC_CTX_dup(h->ctx) : NULL;
	bool ok = c != NULL && (h->fresh || EVP_MAC_init(c, NULL, 0, NULL) == 1) &&
	          EVP_MAC_update(c, n ? text : (const void *)"", n) == 1 &&
	          EVP_MAC_final(c, mac, &mac_len, HMAC_SHA256_LEN) == 1 && mac_len == HMAC_SHA256_LEN;
	EVP_MAC_CTX_free(c);
	return ok;
}
#endif
