/* jws_sign.c — compact JWS signing and public JWKs, over jose.c's
 * algorithm table. */
#include "jws_sign.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>

#include "buf.h"
#include "encoding.h"
#include "err.h"
#include "jose.h"
#include "jwt.h"

#include "banned.h"

static const char *const sign_algs[] = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"};

bool jws_sign_alg_ok(const char *alg)
{
	for (size_t i = 0; alg && i < sizeof(sign_algs) / sizeof(sign_algs[0]); i++)
		if (strcmp(alg, sign_algs[i]) == 0)
			return true;
	return false;
}

int jws_keygen(const char *alg, EVP_PKEY **out)
{
	*out = NULL;
	if (!jws_sign_alg_ok(alg))
		return TROVE_ERR_INVALID;
	if (alg[0] == 'R')
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(alg, "ES256") == 0)
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(alg, "ES384") == 0)
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (strcmp(alg, "ES512") == 0)
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	else
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return *out ? 0 : TROVE_ERR_INTERNAL;
}

/* An unpadded base64url part appended to b. */
static int append_b64url(struct buf *b, const unsigned char *p, size_t n)
{
	char *s = base64url_encode(p, n);
	int r = s ? buf_append_str(b, s) : TROVE_ERR_NOMEM;
	free(s);
	return r;
}

/* A DER ECDSA signature as JOSE's r||s, each coord bytes, into raw. */
static int ecdsa_der_to_raw(const unsigned char *der, size_t len, size_t coord, unsigned char *raw)
{
	const unsigned char *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
	int r = TROVE_ERR_INTERNAL;

	if (s && BN_bn2binpad(ECDSA_SIG_get0_r(s), raw, (int)coord) == (int)coord &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(s), raw + coord, (int)coord) == (int)coord)
		r = 0;
	ECDSA_SIG_free(s);
	return r;
}

int jws_sign_compact(const char *alg, EVP_PKEY *key, const char *kid, const json_t *claims, char **out)
{
	int r = TROVE_ERR_INTERNAL;
	struct buf b;
	json_t *hdr = NULL;
	char *htext = NULL, *ctext = NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *sig = NULL, raw[132];
	size_t sig_len = 0, coord = jose_alg_coord(alg);

	*out = NULL;
	buf_init(&b, JWT_MAX_LEN);
	if (!jws_sign_alg_ok(alg) || !jose_alg_key_fits(alg, key) || !json_is_object(claims))
		return TROVE_ERR_INVALID;
	hdr = kid ? json_pack("{s:s, s:s}", "alg", alg, "kid", kid) : json_pack("{s:s}", "alg", alg);
	htext = hdr ? json_dumps(hdr, JSON_COMPACT) : NULL;
	ctext = json_dumps(claims, JSON_COMPACT);
	if (!htext || !ctext)
		goto out;
	if (append_b64url(&b, (const unsigned char *)htext, strlen(htext)) != 0 ||
	    buf_append_byte(&b, '.') != 0 ||
	    append_b64url(&b, (const unsigned char *)ctext, strlen(ctext)) != 0)
		goto out;
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestSignInit(ctx, NULL, jose_alg_md(alg), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &sig_len, (const unsigned char *)b.data, b.len) != 1)
		goto out;
	sig = OPENSSL_malloc(sig_len);
	if (!sig || EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)b.data, b.len) != 1)
		goto out;
	if (coord) {
		if (2 * coord > sizeof(raw) || ecdsa_der_to_raw(sig, sig_len, coord, raw) != 0)
			goto out;
	}
	if (buf_append_byte(&b, '.') != 0 ||
	    append_b64url(&b, coord ? raw : sig, coord ? 2 * coord : sig_len) != 0)
		goto out;
	*out = xstrdup(b.data);
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(sig);
	free(htext);
	free(ctext);
	json_decref(hdr);
	buf_release(&b);
	return r;
}

/* The base64url of a big-number parameter of key, padded to pad bytes
 * (0: its own length), or NULL. */
static char *bn_param(EVP_PKEY *key, const char *name, size_t pad)
{
	BIGNUM *bn = NULL;
	unsigned char *bytes = NULL;
	char *s = NULL;
	size_t n;

	if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
		return NULL;
	n = pad ? pad : (size_t)BN_num_bytes(bn);
	bytes = OPENSSL_malloc(n ? n : 1);
	if (bytes && BN_bn2binpad(bn, bytes, (int)n) == (int)n)
		s = base64url_encode(bytes, n);
	OPENSSL_free(bytes);
	BN_free(bn);
	return s;
}

json_t *jws_public_jwk(EVP_PKEY *key, const char *alg, const char *kid)
{
	json_t *jwk = NULL;
	char *a = NULL, *b = NULL;

	if (!jws_sign_alg_ok(alg) || !jose_alg_key_fits(alg, key))
		return NULL;
	if (alg[0] == 'R') {
		a = bn_param(key, OSSL_PKEY_PARAM_RSA_N, 0);
		b = bn_param(key, OSSL_PKEY_PARAM_RSA_E, 0);
		if (a && b)
			jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "use", "sig", "kty", "RSA", "kid",
			                kid ? kid : "", "alg", alg, "n", a, "e", b);
	} else if (alg[0] == 'E' && alg[1] == 'S') {
		size_t coord = jose_alg_coord(alg);
		const char *crv = coord == 32 ? "P-256" : coord == 48 ? "P-384" : "P-521";
		a = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, coord);
		b = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, coord);
		if (a && b)
			jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "use", "sig", "kty", "EC",
			                "kid", kid ? kid : "", "alg", alg, "crv", crv, "x", a, "y", b);
	} else {
		unsigned char pub[32];
		size_t n = 0;
		if (EVP_PKEY_get_raw_public_key(key, NULL, &n) == 1 && n == sizeof(pub) &&
		    EVP_PKEY_get_raw_public_key(key, pub, &n) == 1 && (a = base64url_encode(pub, n)) != NULL)
			jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "use", "sig", "kty", "OKP", "kid",
			                kid ? kid : "", "alg", alg, "crv", "Ed25519", "x", a);
	}
	free(a);
	free(b);
	return jwk;
}
