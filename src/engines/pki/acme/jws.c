/* jws.c — flattened JWS parsing and signature checks for ACME. */
#include "jws.h"

#include <string.h>

#include "encoding.h"
#include "err.h"
#include "jose.h"
#include "json_limits.h"
#include "jwk.h"

/* The bounds of the small JSON documents a JWS carries. */
static const struct json_limits jws_limits = {8, 64, 256};

/* The algorithms an ACME request may be signed with (jose.h verifies). */
static const char *const algs[] = {"RS256", "ES256", "ES384", "ES512", "EdDSA"};

static int fail(struct buf *err, int code, const char *why)
{
	if (err)
		buf_printf(err, "jws: %s", why);
	return code;
}

static bool alg_accepted(const char *name)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(name, algs[i]) == 0)
			return true;
	return false;
}

/* A decoded base64url member of obj: NULL unless a string. */
static int decode_member(const json_t *obj, const char *name, unsigned char **out, size_t *len,
                         struct buf *err)
{
	const char *s = json_string_value(json_object_get(obj, name));

	*out = NULL;
	*len = 0;
	if (!s) {
		if (err)
			buf_printf(err, "jws: %s missing or not a string", name);
		return TROVE_ERR_INVALID;
	}
	if (base64url_decode(s, json_string_length(json_object_get(obj, name)), out, len) != 0) {
		if (err)
			buf_printf(err, "jws: %s is not unpadded base64url", name);
		return TROVE_ERR_INVALID;
	}
	return 0;
}

static int dup_header_string(const json_t *hdr, const char *name, char **out, struct buf *err)
{
	const json_t *v = json_object_get(hdr, name);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		if (err)
			buf_printf(err, "jws: protected header %s is not a non-empty string", name);
		return TROVE_ERR_INVALID;
	}
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int check_alg(const json_t *hdr, enum acme_jws_kind kind, struct acme_jws *out, struct buf *err)
{
	const char *alg = json_string_value(json_object_get(hdr, "alg"));

	if (!alg)
		return fail(err, TROVE_ERR_INVALID, "protected header alg missing or not a string");
	if (kind == ACME_JWS_EAB) {
		if (strcmp(alg, "HS256") != 0)
			return fail(err, TROVE_ERR_INVALID, "external account binding alg must be HS256");
	} else if (!alg_accepted(alg)) {
		if (err)
			buf_printf(err, "jws: alg %.16s is not accepted (RS256, ES256, ES384, ES512, EdDSA)",
			           alg);
		return TROVE_ERR_INVALID;
	}
	memcpy(out->alg, alg, strlen(alg) + 1);
	return 0;
}

static int parse_header(const unsigned char *raw, size_t len, enum acme_jws_kind kind, struct acme_jws *out,
                        struct buf *err)
{
	int r = TROVE_ERR_INVALID;
	json_t *hdr = NULL, *jwk;
	json_error_t jerr;

	if (len > ACME_JWS_MAX_HEADER)
		return fail(err, TROVE_ERR_INVALID, "protected header too large");
	if (json_limits_check((const char *)raw, len, &jws_limits) != JSON_LIMIT_OK)
		return fail(err, TROVE_ERR_INVALID,
		            "protected header nests too deep or has too many members");
	hdr = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(hdr)) {
		r = fail(err, TROVE_ERR_INVALID, "protected header is not a JSON object");
		goto out;
	}
	if (json_object_get(hdr, "crit")) {
		r = fail(err, TROVE_ERR_INVALID, "protected header crit is not supported");
		goto out;
	}
	if ((r = check_alg(hdr, kind, out, err)) != 0 ||
	    (r = dup_header_string(hdr, "kid", &out->kid, err)) != 0 ||
	    (r = dup_header_string(hdr, "nonce", &out->nonce, err)) != 0 ||
	    (r = dup_header_string(hdr, "url", &out->url, err)) != 0)
		goto out;
	r = TROVE_ERR_INVALID;
	jwk = json_object_get(hdr, "jwk");
	if (!out->url) {
		r = fail(err, r, "protected header url missing");
		goto out;
	}
	if (kind == ACME_JWS_EAB) {
		if (jwk || out->nonce || !out->kid) {
			r = fail(err, r, "external account binding needs kid and url, and no jwk or nonce");
			goto out;
		}
		r = 0;
		goto out;
	}
	if (kind == ACME_JWS_KEY_CHANGE) {
		if (!jwk || out->nonce || out->kid) {
			r = fail(err, r, "key-change inner JWS needs jwk and url, and no kid or nonce");
			goto out;
		}
	} else if (!out->nonce) {
		r = fail(err, r, "protected header nonce missing");
		goto out;
	}
	if (jwk && out->kid) {
		r = fail(err, r, "protected header has both jwk and kid");
		goto out;
	}
	if (!jwk && !out->kid) {
		r = fail(err, r, "protected header has neither jwk nor kid");
		goto out;
	}
	if (jwk) {
		if ((r = acme_jwk_to_pkey(jwk, &out->jwk_key, err)) != 0)
			goto out;
		out->jwk = json_incref(jwk);
	}
	r = 0;
out:
	json_decref(hdr);
	return r;
}

int acme_jws_parse_object(const json_t *obj, enum acme_jws_kind kind, struct acme_jws *out, struct buf *err)
{
	int r;
	const char *key;
	const json_t *v;
	unsigned char *hdr = NULL;
	size_t hdr_len = 0;
	const char *prot, *pay;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj))
		return fail(err, TROVE_ERR_INVALID, "not a JSON object");
	json_object_foreach((json_t *)obj, key, v)
	{
		if (strcmp(key, "protected") != 0 && strcmp(key, "payload") != 0 &&
		    strcmp(key, "signature") != 0) {
			if (err)
				buf_printf(err,
				           "jws: member %.32s is not accepted (one signature, no unprotected "
				           "header)",
				           key);
			return TROVE_ERR_INVALID;
		}
	}
	if ((r = decode_member(obj, "protected", &hdr, &hdr_len, err)) != 0)
		goto out;
	if ((r = decode_member(obj, "payload", &out->payload, &out->payload_len, err)) != 0 ||
	    (r = decode_member(obj, "signature", &out->signature, &out->signature_len, err)) != 0)
		goto out;
	if (out->signature_len == 0) {
		r = fail(err, TROVE_ERR_INVALID, "signature is empty");
		goto out;
	}
	out->payload[out->payload_len] = '\0'; /* the decoder leaves a spare byte */
	out->post_as_get = out->payload_len == 0;
	if ((r = parse_header(hdr, hdr_len, kind, out, err)) != 0)
		goto out;
	prot = json_string_value(json_object_get(obj, "protected"));
	pay = json_string_value(json_object_get(obj, "payload"));
	out->signing_input = xmalloc(strlen(prot) + 1 + strlen(pay) + 1);
	memcpy(out->signing_input, prot, strlen(prot));
	out->signing_input[strlen(prot)] = '.';
	memcpy(out->signing_input + strlen(prot) + 1, pay, strlen(pay) + 1);
out:
	free(hdr);
	return r;
}

int acme_jws_parse(const char *body, size_t len, struct acme_jws *out, struct buf *err)
{
	int r;
	json_t *obj;
	json_error_t jerr;

	memset(out, 0, sizeof(*out));
	if (len > ACME_JWS_MAX_BODY)
		return fail(err, TROVE_ERR_TOO_LARGE, "request body too large");
	if (json_limits_check(body, len, &jws_limits) != JSON_LIMIT_OK)
		return fail(err, TROVE_ERR_INVALID, "body nests too deep or has too many members");
	obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj)
		return fail(err, TROVE_ERR_INVALID, "body is not JSON");
	r = acme_jws_parse_object(obj, ACME_JWS_REQUEST, out, err);
	json_decref(obj);
	return r;
}

int acme_jws_verify(const struct acme_jws *jws, EVP_PKEY *key, struct buf *err)
{
	if (!key)
		key = jws->jwk_key;
	if (!alg_accepted(jws->alg) || !key || !jws->signing_input) {
		if (err)
			buf_printf(err, "jws: no key or algorithm to verify with");
		return TROVE_ERR_PERMISSION;
	}
	return jose_verify(jws->alg, key, jws->signing_input, strlen(jws->signing_input), jws->signature,
	                   jws->signature_len, "jws", err);
}

void acme_jws_release(struct acme_jws *jws)
{
	if (!jws)
		return;
	json_decref(jws->jwk);
	EVP_PKEY_free(jws->jwk_key);
	free(jws->kid);
	free(jws->nonce);
	free(jws->url);
	free(jws->payload);
	free(jws->signing_input);
	free(jws->signature);
	memset(jws, 0, sizeof(*jws));
}
