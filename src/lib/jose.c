/* jose.c — JOSE public keys (JWK to EVP_PKEY) and signatures (RFC 7515,
 * 7518, 8037): what ACME's JWS and JWT verification share. */
#include "jose.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "encoding.h"
#include "err.h"

#include "banned.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192

struct curve {
	const char *crv;   /* the JOSE name */
	const char *group; /* the OpenSSL group */
	size_t len;        /* bytes of one coordinate */
};

static const struct curve curves[] = {
    {"P-256", "prime256v1", 32},
    {"P-384", "secp384r1", 48},
    {"P-521", "secp521r1", 66},
};

static int fail(struct buf *err, const char *why)
{
	if (err)
		buf_printf(err, "jwk: %s", why);
	return TROVE_ERR_INVALID;
}

/* The member's string value, or NULL when absent or not a string. */
static const char *member(const json_t *jwk, const char *name)
{
	return json_string_value(json_object_get(jwk, name));
}

/* Decodes the base64url member name into a new buffer (*out, *len). */
static int member_bytes(const json_t *jwk, const char *name, unsigned char **out, size_t *len,
                        struct buf *err)
{
	const char *s = member(jwk, name);

	*out = NULL;
	if (!s) {
		if (err)
			buf_printf(err, "jwk: %s missing or not a string", name);
		return TROVE_ERR_INVALID;
	}
	if (base64url_decode(s, strlen(s), out, len) != 0 || *len == 0) {
		free(*out);
		*out = NULL;
		if (err)
			buf_printf(err, "jwk: %s is not base64url", name);
		return TROVE_ERR_INVALID;
	}
	return 0;
}

/* The key of type from the parameters in bld; check runs OpenSSL's
 * public-key check on it (for EC: the point is on the curve). RSA is not
 * checked so: its check tests the modulus with random Miller-Rabin bases,
 * so one odd modulus could pass once and fail the next time, and the same
 * JWK must always give the same answer (the thumbprint reads it again). */
static int pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, bool check_key, EVP_PKEY **out)
{
	int r = TROVE_ERR_INVALID;
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY_CTX *check = NULL;

	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	if (check_key &&
	    (!(check = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL)) || EVP_PKEY_public_check(check) <= 0)) {
		EVP_PKEY_free(*out);
		*out = NULL;
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return r;
}

static int rsa_key(const json_t *jwk, EVP_PKEY **out, struct buf *err)
{
	int r = TROVE_ERR_INVALID;
	unsigned char *n = NULL, *e = NULL;
	size_t n_len = 0, e_len = 0;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth"};

	for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
		if (json_object_get(jwk, private_members[i])) {
			r = fail(err, "private key members are not accepted");
			goto out;
		}
	if ((r = member_bytes(jwk, "n", &n, &n_len, err)) != 0 ||
	    (r = member_bytes(jwk, "e", &e, &e_len, err)) != 0)
		goto out;
	r = TROVE_ERR_INVALID;
	bn_n = BN_bin2bn(n, (int)n_len, NULL);
	bn_e = BN_bin2bn(e, (int)e_len, NULL);
	if (!bn_n || !bn_e) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	if (BN_num_bits(bn_n) < RSA_MIN_BITS) {
		r = fail(err, "RSA modulus under 2048 bits");
		goto out;
	}
	if (BN_num_bits(bn_n) > RSA_MAX_BITS) {
		r = fail(err, "RSA modulus over 8192 bits");
		goto out;
	}
	if (e_len > 8 || !BN_is_odd(bn_e) || BN_is_one(bn_e)) {
		r = fail(err, "RSA exponent is not an odd number above 1 of at most 64 bits");
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	if ((r = pkey_from_params("RSA", bld, false, out)) != 0)
		r = fail(err, "not a valid RSA public key");
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	free(n);
	free(e);
	return r;
}

static int ec_key(const json_t *jwk, EVP_PKEY **out, struct buf *err)
{
	int r = TROVE_ERR_INVALID;
	const char *crv = member(jwk, "crv");
	const struct curve *c = NULL;
	unsigned char *x = NULL, *y = NULL, *point = NULL;
	size_t x_len = 0, y_len = 0;
	OSSL_PARAM_BLD *bld = NULL;

	for (size_t i = 0; crv && i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strcmp(crv, curves[i].crv) == 0)
			c = &curves[i];
	if (!c)
		return fail(err, "unsupported crv for kty EC (P-256, P-384 or P-521)");
	if (json_object_get(jwk, "d"))
		return fail(err, "private key members are not accepted");
	if ((r = member_bytes(jwk, "x", &x, &x_len, err)) != 0 ||
	    (r = member_bytes(jwk, "y", &y, &y_len, err)) != 0)
		goto out;
	if (x_len != c->len || y_len != c->len) {
		r = fail(err, "EC coordinate of the wrong length for its curve");
		goto out;
	}
	point = malloc(1 + 2 * c->len);
	bld = OSSL_PARAM_BLD_new();
	if (!point || !bld) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	point[0] = 0x04; /* uncompressed */
	memcpy(point + 1, x, c->len);
	memcpy(point + 1 + c->len, y, c->len);
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * c->len)) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	if ((r = pkey_from_params("EC", bld, true, out)) != 0)
		r = fail(err, "EC point is not on the curve");
out:
	OSSL_PARAM_BLD_free(bld);
	free(point);
	free(x);
	free(y);
	return r;
}

static int okp_key(const json_t *jwk, EVP_PKEY **out, struct buf *err)
{
	int r;
	const char *crv = member(jwk, "crv");
	unsigned char *x = NULL;
	size_t x_len = 0;

	if (!crv || strcmp(crv, "Ed25519") != 0)
		return fail(err, "unsupported crv for kty OKP (Ed25519)");
	if (json_object_get(jwk, "d"))
		return fail(err, "private key members are not accepted");
	if ((r = member_bytes(jwk, "x", &x, &x_len, err)) != 0)
		return r;
	if (x_len != 32) {
		r = fail(err, "Ed25519 key of the wrong length");
	} else {
		*out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, x_len);
		r = *out ? 0 : fail(err, "not a valid Ed25519 public key");
	}
	free(x);
	return r;
}

int jose_jwk_to_pkey(const json_t *jwk, EVP_PKEY **out, struct buf *err)
{
	const char *kty;

	*out = NULL;
	if (!json_is_object(jwk))
		return fail(err, "not a JSON object");
	kty = member(jwk, "kty");
	if (!kty)
		return fail(err, "kty missing or not a string");
	if (strcmp(kty, "RSA") == 0)
		return rsa_key(jwk, out, err);
	if (strcmp(kty, "EC") == 0)
		return ec_key(jwk, out, err);
	if (strcmp(kty, "OKP") == 0)
		return okp_key(jwk, out, err);
	return fail(err, "unsupported kty (RSA, EC or OKP)");
}

/* --- signatures ---------------------------------------------------------- */

struct alg {
	const char *name;
	int pkey_type;             /* EVP_PKEY_RSA, EVP_PKEY_EC, EVP_PKEY_ED25519 */
	const char *group;         /* the EC group, or NULL */
	size_t coord;              /* ES*: bytes of r and of s */
	bool pss;                  /* PS*: RSASSA-PSS, salt as long as the digest */
	const EVP_MD *(*md)(void); /* NULL for EdDSA */
};

static const struct alg algs[] = {
    {"RS256", EVP_PKEY_RSA, NULL, 0, false, EVP_sha256},
    {"RS384", EVP_PKEY_RSA, NULL, 0, false, EVP_sha384},
    {"RS512", EVP_PKEY_RSA, NULL, 0, false, EVP_sha512},
    {"PS256", EVP_PKEY_RSA, NULL, 0, true, EVP_sha256},
    {"PS384", EVP_PKEY_RSA, NULL, 0, true, EVP_sha384},
    {"PS512", EVP_PKEY_RSA, NULL, 0, true, EVP_sha512},
    {"ES256", EVP_PKEY_EC, "prime256v1", 32, false, EVP_sha256},
    {"ES384", EVP_PKEY_EC, "secp384r1", 48, false, EVP_sha384},
    {"ES512", EVP_PKEY_EC, "secp521r1", 66, false, EVP_sha512},
    {"EdDSA", EVP_PKEY_ED25519, NULL, 0, false, NULL},
};

static const struct alg *find_alg(const char *name)
{
	for (size_t i = 0; name && i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(name, algs[i].name) == 0)
			return &algs[i];
	return NULL;
}

bool jose_alg_known(const char *alg)
{
	return find_alg(alg) != NULL;
}

/* The JOSE r||s of an ECDSA signature as DER, in a new buffer. */
static int ecdsa_raw_to_der(const unsigned char *sig, size_t coord, unsigned char **der, int *der_len)
{
	int r = TROVE_ERR_NOMEM;
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(sig, (int)coord, NULL);
	BIGNUM *bs = BN_bin2bn(sig + coord, (int)coord, NULL);

	*der = NULL;
	if (!s || !br || !bs)
		goto out;
	if (ECDSA_SIG_set0(s, br, bs) != 1)
		goto out;
	br = bs = NULL;
	*der_len = i2d_ECDSA_SIG(s, der);
	if (*der_len <= 0) {
		*der = NULL;
		goto out;
	}
	r = 0;
out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(s);
	return r;
}

static bool key_fits(const struct alg *a, EVP_PKEY *key)
{
	char group[32];
	size_t glen = 0;
	int id = EVP_PKEY_get_base_id(key);

	if (id != a->pkey_type && !(a->pss && id == EVP_PKEY_RSA_PSS))
		return false;
	if (!a->group)
		return true;
	if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &glen) != 1)
		return false;
	return strcmp(group, a->group) == 0;
}

const EVP_MD *jose_alg_md(const char *alg)
{
	const struct alg *a = find_alg(alg);
	return a && a->md ? a->md() : NULL;
}

size_t jose_alg_coord(const char *alg)
{
	const struct alg *a = find_alg(alg);
	return a ? a->coord : 0;
}

bool jose_alg_key_fits(const char *alg, EVP_PKEY *key)
{
	const struct alg *a = find_alg(alg);
	return a && key && key_fits(a, key);
}

static int sig_fail(struct buf *err, const char *prefix, const char *why)
{
	if (err)
		buf_printf(err, "%s: %s", prefix, why);
	return TROVE_ERR_PERMISSION;
}

int jose_verify(const char *alg, EVP_PKEY *key, const void *input, size_t input_len, const unsigned char *sig,
                size_t sig_len, const char *prefix, struct buf *err)
{
	int r = TROVE_ERR_PERMISSION;
	const struct alg *a = find_alg(alg);
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL;
	int der_len = 0;

	if (!a || !key || !input)
		return sig_fail(err, prefix, "no key or algorithm to verify with");
	if (!key_fits(a, key))
		return sig_fail(err, prefix, "the key does not match alg");
	if (a->coord) {
		if (sig_len != 2 * a->coord)
			return sig_fail(err, prefix, "ECDSA signature of the wrong length");
		if ((r = ecdsa_raw_to_der(sig, a->coord, &der, &der_len)) != 0)
			return r;
		sig = der;
		sig_len = (size_t)der_len;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	r = TROVE_ERR_PERMISSION;
	if (EVP_DigestVerifyInit(ctx, &pctx, a->md ? a->md() : NULL, NULL, key) != 1 ||
	    (a->pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) ||
	    EVP_DigestVerify(ctx, sig, sig_len, input, input_len) != 1) {
		r = sig_fail(err, prefix, "signature does not verify");
		goto out;
	}
	r = 0;
out:
	EVP_MD_CTX_free(ctx); /* frees pctx too */
	OPENSSL_free(der);
	return r;
}
