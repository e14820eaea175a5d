/* acme_keys.c — a test ACME client's keys and signatures. */
#include "acme_keys.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>

#include "buf.h"
#include "encoding.h"

static size_t coord_len(const char *alg)
{
	return strcmp(alg, "ES256") == 0   ? 32
	       : strcmp(alg, "ES384") == 0 ? 48
	       : strcmp(alg, "ES512") == 0 ? 66
	                                   : 0;
}

static size_t group_coord(EVP_PKEY *key)
{
	char group[32];
	size_t n = 0;

	if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &n) != 1)
		return 0;
	return strcmp(group, "prime256v1") == 0 ? 32 : strcmp(group, "secp384r1") == 0 ? 48 : 66;
}

EVP_PKEY *test_acme_key(const char *alg)
{
	if (strcmp(alg, "RS256") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (strcmp(alg, "EdDSA") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC",
	                         strcmp(alg, "ES256") == 0   ? "P-256"
	                         : strcmp(alg, "ES384") == 0 ? "P-384"
	                                                     : "P-521");
}

static char *bn_b64u(const BIGNUM *bn, size_t pad)
{
	size_t n = pad ? pad : (size_t)BN_num_bytes(bn);
	unsigned char *raw = malloc(n);
	char *s;

	BN_bn2binpad(bn, raw, (int)n);
	s = base64url_encode(raw, n);
	free(raw);
	return s;
}

static void set_str(json_t *o, const char *k, char *v)
{
	json_object_set_new(o, k, json_string(v));
	free(v);
}

json_t *test_acme_jwk(EVP_PKEY *key)
{
	json_t *jwk = json_object();
	BIGNUM *a = NULL, *b = NULL;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &a);
		EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &b);
		json_object_set_new(jwk, "kty", json_string("RSA"));
		set_str(jwk, "n", bn_b64u(a, 0));
		set_str(jwk, "e", bn_b64u(b, 0));
		break;
	case EVP_PKEY_EC: {
		size_t c = group_coord(key);
		EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &a);
		EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &b);
		json_object_set_new(jwk, "kty", json_string("EC"));
		json_object_set_new(jwk, "crv", json_string(c == 32 ? "P-256" : c == 48 ? "P-384" : "P-521"));
		set_str(jwk, "x", bn_b64u(a, c));
		set_str(jwk, "y", bn_b64u(b, c));
		break;
	}
	default: {
		unsigned char raw[32];
		size_t n = sizeof(raw);
		EVP_PKEY_get_raw_public_key(key, raw, &n);
		json_object_set_new(jwk, "kty", json_string("OKP"));
		json_object_set_new(jwk, "crv", json_string("Ed25519"));
		set_str(jwk, "x", base64url_encode(raw, n));
	}
	}
	BN_free(a);
	BN_free(b);
	return jwk;
}

char *test_acme_sign(EVP_PKEY *key, const char *alg, const char *input)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = strcmp(alg, "EdDSA") == 0   ? NULL
	                   : strcmp(alg, "ES384") == 0 ? EVP_sha384()
	                   : strcmp(alg, "ES512") == 0 ? EVP_sha512()
	                                               : EVP_sha256();
	unsigned char sig[1024];
	size_t n = sizeof(sig), c = coord_len(alg);
	char *out;

	EVP_DigestSignInit(ctx, NULL, md, NULL, key);
	EVP_DigestSign(ctx, sig, &n, (const unsigned char *)input, strlen(input));
	EVP_MD_CTX_free(ctx);
	if (c) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
		unsigned char raw[132];
		BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)c);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + c, (int)c);
		ECDSA_SIG_free(es);
		return base64url_encode(raw, 2 * c);
	}
	out = base64url_encode(sig, n);
	return out;
}

char *test_b64u(const char *s)
{
	return base64url_encode((const unsigned char *)s, strlen(s));
}

char *test_acme_jws(EVP_PKEY *key, const char *alg, json_t *hdr, const char *payload)
{
	char *h = json_dumps(hdr, JSON_COMPACT), *hb = test_b64u(h), *pb = test_b64u(payload), *sig, *body;
	struct buf in;
	json_t *o;

	buf_init(&in, 1 << 20);
	buf_printf(&in, "%s.%s", hb, pb);
	sig = test_acme_sign(key, alg, in.data);
	o = json_pack("{ssssss}", "protected", hb, "payload", pb, "signature", sig);
	body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	buf_release(&in);
	free(h);
	free(hb);
	free(pb);
	free(sig);
	return body;
}
