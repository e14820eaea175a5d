/* test_acme_jws.c — ACME request authentication: JWK keys and thumbprints,
 * flattened JWS parse and verify, External Account Binding, nonces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme_keys.h"
#include "buf.h"
#include "encoding.h"
#include "engines/pki/acme/eab.h"
#include "engines/pki/acme/jwk.h"
#include "engines/pki/acme/jws.h"
#include "engines/pki/acme/nonce.h"
#include "err.h"
#include "hmac.h"

static const char *const all_algs[] = {"RS256", "ES256", "ES384", "ES512", "EdDSA"};

#define URL "https://trove.test/v1/pki/acme/new-order"

static const char rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
    "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
    "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
    "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

static void test_thumbprint_rfc7638(void **state)
{
	char tp[ACME_THUMBPRINT_LEN + 1];
	json_t *jwk = json_pack("{ssssssssss}", "kty", "RSA", "n", rfc7638_n, "e", "AQAB", "alg", "RS256",
	                        "kid", "2011-04-29");

	(void)state;
	assert_int_equal(acme_jwk_thumbprint(jwk, tp, NULL), 0);
	assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	json_decref(jwk);
}

static void test_thumbprint_every_kind(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(all_algs) / sizeof(all_algs[0]); i++) {
		EVP_PKEY *key = test_acme_key(all_algs[i]), *back = NULL;
		json_t *jwk = test_acme_jwk(key);
		char tp[ACME_THUMBPRINT_LEN + 1];

		assert_int_equal(acme_jwk_to_pkey(jwk, &back, NULL), 0);
		assert_int_equal(EVP_PKEY_eq(key, back), 1);
		assert_int_equal(acme_jwk_thumbprint(jwk, tp, NULL), 0);
		assert_int_equal(strlen(tp), ACME_THUMBPRINT_LEN);
		EVP_PKEY_free(back);
		EVP_PKEY_free(key);
		json_decref(jwk);
	}
}

static void expect_jwk_refused(json_t *jwk, const char *why)
{
	EVP_PKEY *key = (EVP_PKEY *)1;
	struct buf err;

	buf_init(&err, 512);
	assert_int_equal(acme_jwk_to_pkey(jwk, &key, &err), TROVE_ERR_INVALID);
	assert_null(key);
	if (!strstr(err.data, why))
		fail_msg("reason \"%s\" lacks \"%s\"", err.data, why);
	buf_release(&err);
	json_decref(jwk);
}

static void test_jwk_refusals(void **state)
{
	EVP_PKEY *ec = test_acme_key("ES256"), *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	json_t *jwk;
	char *y;

	(void)state;
	expect_jwk_refused(json_string("x"), "not a JSON object");
	expect_jwk_refused(json_pack("{ss}", "kty", "oct"), "unsupported kty");
	expect_jwk_refused(json_pack("{}"), "kty missing");
	jwk = test_acme_jwk(ec);
	json_object_set_new(jwk, "crv", json_string("P-192"));
	expect_jwk_refused(jwk, "unsupported crv");
	jwk = test_acme_jwk(ec);
	json_object_set_new(jwk, "d", json_string("AAAA"));
	expect_jwk_refused(jwk, "private key members");
	jwk = test_acme_jwk(ec);
	json_object_set_new(jwk, "crv", json_string("P-384"));
	expect_jwk_refused(jwk, "wrong length");
	jwk = test_acme_jwk(ec); /* y changed: off the curve */
	y = xstrdup(json_string_value(json_object_get(jwk, "y")));
	y[5] = y[5] == 'A' ? 'B' : 'A';
	json_object_set_new(jwk, "y", json_string(y));
	free(y);
	expect_jwk_refused(jwk, "not on the curve");
	expect_jwk_refused(test_acme_jwk(small), "under 2048 bits");
	jwk = test_acme_jwk(small);
	json_object_set_new(jwk, "n", json_string("AA=="));
	expect_jwk_refused(jwk, "n is not base64url");
	expect_jwk_refused(json_pack("{ssssss}", "kty", "OKP", "crv", "Ed25519", "x", "AAAA"),
	                   "wrong length");
	expect_jwk_refused(json_pack("{ssssss}", "kty", "OKP", "crv", "Ed448", "x", "AAAA"),
	                   "unsupported crv");
	EVP_PKEY_free(ec);
	EVP_PKEY_free(small);
}

static json_t *header(const char *alg, json_t *jwk, const char *kid)
{
	json_t *h = json_pack("{ssssss}", "alg", alg, "nonce", "bm9uY2Vub25jZW5vbmNlbm8", "url", URL);

	if (jwk)
		json_object_set(h, "jwk", jwk);
	if (kid)
		json_object_set_new(h, "kid", json_string(kid));
	return h;
}

static void test_every_alg_verifies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(all_algs) / sizeof(all_algs[0]); i++) {
		EVP_PKEY *key = test_acme_key(all_algs[i]);
		json_t *jwk = test_acme_jwk(key), *h = header(all_algs[i], jwk, NULL);
		char *body = test_acme_jws(key, all_algs[i], h, "{\"identifiers\":[]}");
		struct acme_jws jws;
		struct buf err;

		buf_init(&err, 512);
		assert_int_equal(acme_jws_parse(body, strlen(body), &jws, &err), 0);
		assert_string_equal(jws.alg, all_algs[i]);
		assert_string_equal(jws.url, URL);
		assert_string_equal(jws.nonce, "bm9uY2Vub25jZW5vbmNlbm8");
		assert_null(jws.kid);
		assert_non_null(jws.jwk);
		assert_string_equal((char *)jws.payload, "{\"identifiers\":[]}");
		assert_false(jws.post_as_get);
		if (acme_jws_verify(&jws, NULL, &err) != 0)
			fail_msg("%s: %s", all_algs[i], err.data);
		acme_jws_release(&jws);
		free(body);
		json_decref(h);

		/* the same by kid, verified with the account's key */
		h = header(all_algs[i], NULL, "https://trove.test/v1/pki/acme/account/1");
		body = test_acme_jws(key, all_algs[i], h, "");
		assert_int_equal(acme_jws_parse(body, strlen(body), &jws, &err), 0);
		assert_true(jws.post_as_get);
		assert_string_equal((char *)jws.payload, "");
		assert_null(jws.jwk_key);
		assert_int_equal(acme_jws_verify(&jws, NULL, &err), TROVE_ERR_PERMISSION);
		assert_int_equal(acme_jws_verify(&jws, key, &err), 0);
		acme_jws_release(&jws);
		free(body);
		json_decref(h);
		json_decref(jwk);
		buf_release(&err);
		EVP_PKEY_free(key);
	}
}

/* Replaces member name of the JWS body with value. */
static char *with_member(const char *body, const char *name, const char *value)
{
	json_t *o = json_loads(body, 0, NULL);
	char *out;

	json_object_set_new(o, name, json_string(value));
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}

static int verify_body(const char *body, EVP_PKEY *key)
{
	struct acme_jws jws;
	int r = acme_jws_parse(body, strlen(body), &jws, NULL);

	if (r == 0)
		r = acme_jws_verify(&jws, key, NULL);
	acme_jws_release(&jws);
	return r;
}

static void test_tampered_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(all_algs) / sizeof(all_algs[0]); i++) {
		EVP_PKEY *key = test_acme_key(all_algs[i]), *other = test_acme_key(all_algs[(i + 1) % 5]);
		json_t *jwk = test_acme_jwk(key), *h = header(all_algs[i], jwk, NULL), *o;
		char *body = test_acme_jws(key, all_algs[i], h, "{\"a\":1}"), *bad, *b64, *sig;

		assert_int_equal(verify_body(body, NULL), 0);
		b64 = test_b64u("{\"a\":2}");
		bad = with_member(body, "payload", b64);
		assert_int_equal(verify_body(bad, NULL), TROVE_ERR_PERMISSION);
		free(bad);
		free(b64);
		json_object_set_new(h, "url", json_string(URL "x"));
		{
			char *hs = json_dumps(h, JSON_COMPACT);
			b64 = test_b64u(hs);
			free(hs);
		}
		bad = with_member(body, "protected", b64);
		assert_int_equal(verify_body(bad, NULL), TROVE_ERR_PERMISSION);
		free(bad);
		free(b64);
		o = json_loads(body, 0, NULL);
		sig = xstrdup(json_string_value(json_object_get(o, "signature")));
		sig[3] = sig[3] == 'A' ? 'B' : 'A';
		bad = with_member(body, "signature", sig);
		assert_int_equal(verify_body(bad, NULL), TROVE_ERR_PERMISSION);
		free(bad);
		free(sig);
		json_decref(o);
		/* a key of another kind than alg names */
		assert_int_equal(verify_body(body, other), TROVE_ERR_PERMISSION);
		free(body);
		json_decref(h);
		json_decref(jwk);
		EVP_PKEY_free(key);
		EVP_PKEY_free(other);
	}
}

static void expect_parse_refused(const char *body, const char *why)
{
	struct acme_jws jws;
	struct buf err;

	buf_init(&err, 512);
	assert_int_not_equal(acme_jws_parse(body, strlen(body), &jws, &err), 0);
	if (!strstr(err.data, why))
		fail_msg("reason \"%s\" lacks \"%s\"", err.data, why);
	acme_jws_release(&jws);
	buf_release(&err);
}

static void test_refused_headers(void **state)
{
	EVP_PKEY *key = test_acme_key("ES256");
	json_t *jwk = test_acme_jwk(key), *h;
	char *body, *b64, *bad;

	(void)state;
	h = header("none", jwk, NULL);
	body = test_acme_jws(key, "ES256", h, "{}");
	expect_parse_refused(body, "alg none is not accepted");
	free(body);
	json_decref(h);
	h = header("HS256", jwk, NULL);
	body = test_acme_jws(key, "ES256", h, "{}");
	expect_parse_refused(body, "alg HS256 is not accepted");
	free(body);
	json_decref(h);
	h = header("ES256", jwk, "https://trove.test/acct/1");
	body = test_acme_jws(key, "ES256", h, "{}");
	expect_parse_refused(body, "both jwk and kid");
	free(body);
	json_decref(h);
	h = header("ES256", NULL, NULL);
	body = test_acme_jws(key, "ES256", h, "{}");
	expect_parse_refused(body, "neither jwk nor kid");
	free(body);
	json_decref(h);
	h = header("ES256", jwk, NULL);
	json_object_del(h, "nonce");
	body = test_acme_jws(key, "ES256", h, "{}");
	expect_parse_refused(body, "nonce missing");
	free(body);
	json_object_set_new(h, "nonce", json_string("abc"));
	json_object_del(h, "url");
	body = test_acme_jws(key, "ES256", h, "{}");
	expect_parse_refused(body, "url missing");
	free(body);
	json_object_set_new(h, "url", json_string(URL));
	json_object_set_new(h, "crit", json_pack("[s]", "b64"));
	body = test_acme_jws(key, "ES256", h, "{}");
	expect_parse_refused(body, "crit is not supported");
	free(body);
	json_object_del(h, "crit");
	body = test_acme_jws(key, "ES256", h, "{}");
	assert_int_equal(verify_body(body, NULL), 0);
	bad = with_member(body, "header", "x");
	expect_parse_refused(bad, "member header is not accepted");
	free(bad);
	bad = with_member(body, "signatures", "x");
	expect_parse_refused(bad, "member signatures is not accepted");
	free(bad);
	b64 = test_b64u("{\"a\":1}"); /* "eyJhIjoxfQ": padded is "eyJhIjoxfQ==" */
	{
		struct buf p;
		buf_init(&p, 256);
		buf_printf(&p, "%s==", b64);
		bad = with_member(body, "payload", p.data);
		buf_release(&p);
	}
	expect_parse_refused(bad, "payload is not unpadded base64url");
	free(bad);
	free(b64);
	expect_parse_refused("{\"protected\":", "not JSON");
	expect_parse_refused("[]", "not a JSON object");
	expect_parse_refused("{\"protected\":\"e30\",\"payload\":\"\",\"signature\":\"AAAA\"}",
	                     "alg missing");
	expect_parse_refused("{\"protected\":\"e30\",\"payload\":\"\",\"signature\":\"\"}",
	                     "signature is empty");
	{
		char *big = calloc(1, ACME_JWS_MAX_BODY + 2);
		struct acme_jws jws;
		memset(big, ' ', ACME_JWS_MAX_BODY + 1);
		assert_int_equal(acme_jws_parse(big, ACME_JWS_MAX_BODY + 1, &jws, NULL), TROVE_ERR_TOO_LARGE);
		acme_jws_release(&jws);
		free(big);
	}
	free(body);
	json_decref(h);
	json_decref(jwk);
	EVP_PKEY_free(key);
}

/* An EAB object: header {alg, kid, url}, payload jwk, HMAC under mac_key. */
static json_t *make_eab(const char *alg, const char *kid, const char *url, json_t *jwk,
                        const unsigned char *mac_key, size_t mac_len)
{
	json_t *h = json_pack("{ssssss}", "alg", alg, "kid", kid, "url", url);
	char *hs = json_dumps(h, JSON_COMPACT), *js = json_dumps(jwk, JSON_COMPACT);
	char *hb = test_b64u(hs), *pb = test_b64u(js), *sb;
	unsigned char mac[HMAC_SHA256_LEN];
	struct buf in;
	json_t *o;

	buf_init(&in, 1 << 16);
	buf_printf(&in, "%s.%s", hb, pb);
	hmac_sha256(mac_key, mac_len, in.data, in.len, mac);
	sb = base64url_encode(mac, sizeof(mac));
	o = json_pack("{ssssss}", "protected", hb, "payload", pb, "signature", sb);
	buf_release(&in);
	free(hs);
	free(js);
	free(hb);
	free(pb);
	free(sb);
	json_decref(h);
	return o;
}

static void test_eab(void **state)
{
	static const unsigned char eab_key[32] = "0123456789abcdef0123456789abcdef";
	static const unsigned char wrong_key[32] = "0123456789abcdef0123456789abcdeX";
	const char *url = "https://trove.test/v1/pki/acme/new-account";
	EVP_PKEY *acct = test_acme_key("ES256"), *other = test_acme_key("ES256");
	json_t *jwk = test_acme_jwk(acct), *other_jwk = test_acme_jwk(other), *eab;
	char *kid = NULL;
	struct buf err;

	(void)state;
	buf_init(&err, 512);
	eab = make_eab("HS256", "eab-id-1", url, jwk, eab_key, sizeof(eab_key));
	assert_int_equal(acme_eab_kid(eab, &kid, NULL), 0);
	assert_string_equal(kid, "eab-id-1");
	free(kid);
	assert_int_equal(acme_eab_verify(eab, eab_key, sizeof(eab_key), url, acct, &err), 0);
	buf_reset(&err);
	assert_int_equal(acme_eab_verify(eab, wrong_key, sizeof(wrong_key), url, acct, &err),
	                 TROVE_ERR_PERMISSION);
	assert_string_equal(err.data, "eab: MAC does not verify");
	buf_reset(&err);
	assert_int_equal(acme_eab_verify(eab, eab_key, sizeof(eab_key), url, other, &err), TROVE_ERR_INVALID);
	assert_string_equal(err.data, "eab: payload JWK is not the account key");
	buf_reset(&err);
	assert_int_equal(acme_eab_verify(eab, eab_key, sizeof(eab_key), URL, acct, &err), TROVE_ERR_INVALID);
	assert_string_equal(err.data, "eab: url differs from the request's");
	json_decref(eab);
	/* bound to another key, though MAC'd rightly */
	eab = make_eab("HS256", "eab-id-1", url, other_jwk, eab_key, sizeof(eab_key));
	assert_int_equal(acme_eab_verify(eab, eab_key, sizeof(eab_key), url, acct, NULL), TROVE_ERR_INVALID);
	json_decref(eab);
	eab = make_eab("HS512", "eab-id-1", url, jwk, eab_key, sizeof(eab_key));
	buf_reset(&err);
	assert_int_equal(acme_eab_verify(eab, eab_key, sizeof(eab_key), url, acct, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "must be HS256"));
	json_decref(eab);
	buf_release(&err);
	json_decref(jwk);
	json_decref(other_jwk);
	EVP_PKEY_free(acct);
	EVP_PKEY_free(other);
}

static int64_t fake_now;
static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static void test_nonces(void **state)
{
	struct clock clk = {fake_clock, NULL};
	struct acme_nonces *s = acme_nonces_new(4, 60, &clk);
	char n[6][ACME_NONCE_LEN + 1];

	(void)state;
	fake_now = 1000;
	for (int i = 0; i < 3; i++)
		assert_int_equal(acme_nonce_issue(s, n[i]), 0);
	assert_int_equal(strlen(n[0]), ACME_NONCE_LEN);
	assert_string_not_equal(n[0], n[1]);
	assert_int_equal(acme_nonce_count(s), 3);
	/* single use */
	assert_true(acme_nonce_redeem(s, n[1]));
	assert_false(acme_nonce_redeem(s, n[1]));
	assert_false(acme_nonce_redeem(s, "AAAAAAAAAAAAAAAAAAAAAA"));
	assert_false(acme_nonce_redeem(s, "short"));
	assert_false(acme_nonce_redeem(s, NULL));
	assert_int_equal(acme_nonce_count(s), 2);
	/* expiry */
	fake_now = 1060;
	assert_false(acme_nonce_redeem(s, n[0]));
	fake_now = 1059;
	assert_true(acme_nonce_redeem(s, n[2]));
	/* the cap drops the oldest */
	for (int i = 0; i < 5; i++)
		assert_int_equal(acme_nonce_issue(s, n[i]), 0);
	assert_int_equal(acme_nonce_count(s), 4);
	assert_false(acme_nonce_redeem(s, n[0]));
	for (int i = 1; i < 5; i++)
		assert_true(acme_nonce_redeem(s, n[i]));
	assert_int_equal(acme_nonce_count(s), 0);
	/* expired ones make room */
	for (int i = 0; i < 4; i++)
		assert_int_equal(acme_nonce_issue(s, n[i]), 0);
	fake_now += 61;
	assert_int_equal(acme_nonce_issue(s, n[4]), 0);
	assert_int_equal(acme_nonce_count(s), 1);
	assert_true(acme_nonce_redeem(s, n[4]));
	acme_nonces_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_thumbprint_rfc7638),
	    cmocka_unit_test(test_thumbprint_every_kind),
	    cmocka_unit_test(test_jwk_refusals),
	    cmocka_unit_test(test_every_alg_verifies),
	    cmocka_unit_test(test_tampered_refused),
	    cmocka_unit_test(test_refused_headers),
	    cmocka_unit_test(test_eab),
	    cmocka_unit_test(test_nonces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
