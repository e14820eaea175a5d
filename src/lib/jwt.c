/* jwt.c — compact JWT parsing, key sets and verification (jwt.h). */
#include "jwt.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "encoding.h"
#include "err.h"
#include "jose.h"
#include "json_limits.h"

#include "banned.h"

#define JWKS_MAX_KEYS 64
#define RSA_MIN_BITS 2048

/* Bounds of a header, of claims, of a JWKS document. */
static const struct json_limits header_limits = {4, 64, 256};
static const struct json_limits claims_limits = {16, 4096, 65536};
static const struct json_limits jwks_limits = {8, 256, 8192};

static int fail(struct buf *err, int code, const char *why)
{
	if (err)
		buf_printf(err, "jwt: %s", why);
	return code;
}

/* --- key sets ------------------------------------------------------------ */

void jwt_keyset_init(struct jwt_keyset *ks)
{
	memset(ks, 0, sizeof(*ks));
}

void jwt_keyset_release(struct jwt_keyset *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->len; i++) {
		free(ks->keys[i].kid);
		EVP_PKEY_free(ks->keys[i].key);
	}
	free(ks->keys);
	memset(ks, 0, sizeof(*ks));
}

/* Takes key (and a copy of kid) into ks. */
static void keyset_push(struct jwt_keyset *ks, const char *kid, EVP_PKEY *key)
{
	ks->keys = xrealloc(ks->keys, (ks->len + 1) * sizeof(*ks->keys));
	ks->keys[ks->len].kid = kid ? xstrdup(kid) : NULL;
	ks->keys[ks->len].key = key;
	ks->len++;
}

int jwt_keyset_add_jwks(struct jwt_keyset *ks, const char *text, size_t len, struct buf *err)
{
	int r = TROVE_ERR_INVALID;
	json_t *doc = NULL, *keys, *k;
	size_t i, added = 0;

	if (json_limits_check(text, len, &jwks_limits) != JSON_LIMIT_OK)
		return fail(err, r, "JWKS nests too deep or has too many members");
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys)) {
		r = fail(err, r, "JWKS is not an object with a keys array");
		goto out;
	}
	json_array_foreach(keys, i, k)
	{
		EVP_PKEY *key = NULL;
		const char *use = json_string_value(json_object_get(k, "use"));
		const json_t *kid = json_object_get(k, "kid");

		if (added >= JWKS_MAX_KEYS)
			break;
		if ((use && strcmp(use, "sig") != 0) || (kid && !json_is_string(kid)))
			continue;
		if (jose_jwk_to_pkey(k, &key, NULL) != 0)
			continue; /* a key of a kind not verified here */
		keyset_push(ks, json_string_value(kid), key);
		added++;
	}
	r = added ? 0 : fail(err, TROVE_ERR_INVALID, "JWKS holds no usable signing key");
out:
	json_decref(doc);
	return r;
}

int jwt_keyset_add_pem(struct jwt_keyset *ks, const char *pem, struct buf *err)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;

	if (!bio)
		return TROVE_ERR_NOMEM;
	key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!key) {
		(void)BIO_reset(bio);
		cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		key = cert ? X509_get_pubkey(cert) : NULL;
	}
	X509_free(cert);
	BIO_free(bio);
	ERR_clear_error(); /* a failed PEM read leaves errors on this thread's queue */
	if (!key)
		return fail(err, TROVE_ERR_INVALID, "not a PEM public key or certificate");
	int id = EVP_PKEY_get_base_id(key);
	if ((id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) && EVP_PKEY_get_bits(key) < RSA_MIN_BITS) {
		EVP_PKEY_free(key);
		return fail(err, TROVE_ERR_INVALID, "RSA key under 2048 bits");
	}
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_RSA_PSS && id != EVP_PKEY_EC && id != EVP_PKEY_ED25519) {
		EVP_PKEY_free(key);
		return fail(err, TROVE_ERR_INVALID, "key is not RSA, EC or Ed25519");
	}
	keyset_push(ks, NULL, key);
	return 0;
}

/* --- parsing ------------------------------------------------------------- */

/* The JSON object in the base64url part p[0..n), or NULL (reason in err). */
static json_t *decode_object(const char *p, size_t n, size_t max, const struct json_limits *lim,
                             const char *what, struct buf *err)
{
	unsigned char *raw = NULL;
	size_t raw_len = 0;
	json_t *obj = NULL;

	if (base64url_decode(p, n, &raw, &raw_len) != 0) {
		if (err)
			buf_printf(err, "jwt: %s is not unpadded base64url", what);
		return NULL;
	}
	if (raw_len > max) {
		if (err)
			buf_printf(err, "jwt: %s too large", what);
	} else if (json_limits_check((const char *)raw, raw_len, lim) != JSON_LIMIT_OK) {
		if (err)
			buf_printf(err, "jwt: %s nests too deep or has too many members", what);
	} else {
		obj = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(obj)) {
			json_decref(obj);
			obj = NULL;
			if (err)
				buf_printf(err, "jwt: %s is not a JSON object", what);
		}
	}
	free(raw);
	return obj;
}

int jwt_parse(const char *token, size_t len, struct jwt_parsed *out, struct buf *err)
{
	const char *dot1, *dot2;

	memset(out, 0, sizeof(*out));
	if (len > JWT_MAX_LEN)
		return fail(err, TROVE_ERR_TOO_LARGE, "token too large");
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return fail(err, TROVE_ERR_INVALID, "not three dot-separated parts (a compact JWS)");
	if (dot1 == token || dot2 == dot1 + 1)
		return fail(err, TROVE_ERR_INVALID, "empty header or claims");
	out->header = decode_object(token, (size_t)(dot1 - token), JWT_MAX_HEADER, &header_limits, "header", err);
	if (!out->header)
		return TROVE_ERR_INVALID;
	out->claims = decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1), JWT_MAX_LEN, &claims_limits, "claims", err);
	if (!out->claims)
		return TROVE_ERR_INVALID;
	if (base64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), &out->signature, &out->signature_len) != 0)
		return fail(err, TROVE_ERR_INVALID, "signature is not unpadded base64url");
	out->alg = json_string_value(json_object_get(out->header, "alg"));
	if (!out->alg)
		return fail(err, TROVE_ERR_INVALID, "header alg missing or not a string");
	const json_t *kid = json_object_get(out->header, "kid");
	if (kid && !json_is_string(kid))
		return fail(err, TROVE_ERR_INVALID, "header kid is not a string");
	out->kid = json_string_value(kid);
	if (json_object_get(out->header, "crit"))
		return fail(err, TROVE_ERR_INVALID, "header crit is not supported");
	out->signing_len = (size_t)(dot2 - token);
	return 0;
}

void jwt_parsed_release(struct jwt_parsed *p)
{
	if (!p)
		return;
	json_decref(p->header);
	json_decref(p->claims);
	free(p->signature);
	memset(p, 0, sizeof(*p));
}

/* --- verification -------------------------------------------------------- */

static bool in_list(const char *const *list, const char *s)
{
	for (size_t i = 0; list && list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

static int check_alg(const char *alg, const struct jwt_expect *e, struct buf *err)
{
	static const char *const rs256[] = {"RS256", NULL};
	const char *const *allowed = e->algs && e->algs[0] ? e->algs : rs256;

	/* Known first: "none" and HS* are refused even when a list names them. */
	if (!jose_alg_known(alg) || !in_list(allowed, alg)) {
		if (err)
			buf_printf(err, "jwt: alg %.16s is not allowed", alg);
		return TROVE_ERR_INVALID;
	}
	return 0;
}

static int check_signature(const char *token, const struct jwt_parsed *p, const struct jwt_keyset *ks,
                           struct buf *err)
{
	bool kid_seen = false;

	for (size_t i = 0; i < ks->len; i++) {
		const struct jwt_key *k = &ks->keys[i];
		if (p->kid && k->kid) {
			if (strcmp(p->kid, k->kid) != 0)
				continue;
			kid_seen = true;
		}
		if (jose_verify(p->alg, k->key, token, p->signing_len, p->signature, p->signature_len, "jwt",
		                NULL) == 0)
			return 0;
	}
	ERR_clear_error(); /* failed verifications leave errors on this thread's queue */
	if (p->kid && !kid_seen) {
		bool any_kid = false;
		for (size_t i = 0; i < ks->len; i++)
			any_kid |= ks->keys[i].kid != NULL;
		if (any_kid)
			return fail(err, TROVE_ERR_NOT_FOUND, "no key with the token's kid");
	}
	return fail(err, TROVE_ERR_PERMISSION, "signature does not verify with any configured key");
}

/* The numeric claim name as seconds in *out; false when absent. A claim
 * that is present but not a number is an error (*bad). */
static bool num_claim(const json_t *claims, const char *name, int64_t *out, bool *bad)
{
	const json_t *v = json_object_get(claims, name);
	if (!v)
		return false;
	if (json_is_integer(v))
		*out = (int64_t)json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) > -9e15 && json_real_value(v) < 9e15)
		*out = (int64_t)json_real_value(v);
	else
		*bad = true;
	return !*bad;
}

static int check_times(const json_t *c, const struct jwt_expect *e, struct buf *err)
{
	int64_t exp = 0, nbf = 0, iat = 0;
	bool bad = false;
	bool has_exp = num_claim(c, "exp", &exp, &bad);
	bool has_nbf = num_claim(c, "nbf", &nbf, &bad);
	bool has_iat = num_claim(c, "iat", &iat, &bad);

	if (bad)
		return fail(err, TROVE_ERR_INVALID, "exp, nbf or iat is not a number");
	if (!has_exp && !has_nbf && !has_iat && !e->time_claims_optional)
		return fail(err, TROVE_ERR_PERMISSION, "no exp, nbf or iat claim in the token");
	if (has_exp && e->now - e->clock_skew - e->exp_leeway > exp)
		return fail(err, TROVE_ERR_PERMISSION, "token is expired (exp)");
	if (!has_nbf && has_iat)
		nbf = iat, has_nbf = true;
	if (has_nbf && e->now + e->clock_skew + e->nbf_leeway < nbf)
		return fail(err, TROVE_ERR_PERMISSION, "token is not yet valid (nbf)");
	if (has_iat && e->now + e->clock_skew < iat)
		return fail(err, TROVE_ERR_PERMISSION, "token is issued in the future (iat)");
	return 0;
}

static int check_aud(const json_t *c, const struct jwt_expect *e, struct buf *err)
{
	const json_t *aud = json_object_get(c, "aud"), *v;
	bool bound = e->audiences && e->audiences[0];
	size_t i;

	if (!aud)
		return bound ? fail(err, TROVE_ERR_PERMISSION, "token has no aud; the role binds audiences") : 0;
	if (!json_is_string(aud) && !json_is_array(aud))
		return fail(err, TROVE_ERR_INVALID, "aud is not a string or a list");
	if (!bound)
		return e->allow_unbound_aud
		           ? 0
		           : fail(err, TROVE_ERR_PERMISSION, "token has an aud but no audiences are bound");
	if (json_is_string(aud))
		return in_list(e->audiences, json_string_value(aud))
		           ? 0
		           : fail(err, TROVE_ERR_PERMISSION, "aud does not match a bound audience");
	json_array_foreach(aud, i, v) if (json_is_string(v) && in_list(e->audiences, json_string_value(v))) return 0;
	return fail(err, TROVE_ERR_PERMISSION, "aud does not match a bound audience");
}

static int check_claims(const json_t *c, const struct jwt_expect *e, struct buf *err)
{
	int r;
	const char *iss = json_string_value(json_object_get(c, "iss"));
	const char *sub = json_string_value(json_object_get(c, "sub"));

	if ((r = check_times(c, e, err)) != 0)
		return r;
	if (e->issuer && *e->issuer && (!iss || strcmp(iss, e->issuer) != 0))
		return fail(err, TROVE_ERR_PERMISSION, "iss does not match the bound issuer");
	if (e->subject && *e->subject && (!sub || strcmp(sub, e->subject) != 0))
		return fail(err, TROVE_ERR_PERMISSION, "sub does not match the bound subject");
	return check_aud(c, e, err);
}

int jwt_verify(const char *token, size_t len, const struct jwt_keyset *ks, const struct jwt_expect *e,
               json_t **claims, struct buf *err)
{
	struct jwt_parsed p;
	int r;

	*claims = NULL;
	if ((r = jwt_parse(token, len, &p, err)) != 0)
		goto out;
	if ((r = check_alg(p.alg, e, err)) != 0 || (r = check_signature(token, &p, ks, err)) != 0 ||
	    (r = check_claims(p.claims, e, err)) != 0)
		goto out;
	*claims = json_incref(p.claims);
out:
	jwt_parsed_release(&p);
	return r;
}

/* --- claims by name or JSON pointer -------------------------------------- */

const json_t *jwt_claim(const json_t *claims, const char *spec)
{
	const json_t *cur = claims;
	char tok[256];

	if (!spec || spec[0] != '/')
		return spec ? json_object_get(claims, spec) : NULL;
	for (const char *p = spec + 1;; p++) {
		size_t n = 0;
		for (; *p && *p != '/'; p++) {
			char c = *p;
			if (c == '~') {
				if (p[1] == '0')
					c = '~';
				else if (p[1] == '1')
					c = '/';
				else
					return NULL;
				p++;
			}
			if (n + 1 >= sizeof(tok))
				return NULL;
			tok[n++] = c;
		}
		tok[n] = '\0';
		if (json_is_object(cur)) {
			cur = json_object_get(cur, tok);
		} else if (json_is_array(cur) && n > 0 && n < 10 && strspn(tok, "0123456789") == n &&
		           (n == 1 || tok[0] != '0')) {
			size_t idx = 0;
			for (size_t i = 0; i < n; i++)
				idx = idx * 10 + (size_t)(tok[i] - '0');
			cur = json_array_get(cur, idx);
		} else {
			return NULL;
		}
		if (!cur || !*p)
			return cur;
	}
}
