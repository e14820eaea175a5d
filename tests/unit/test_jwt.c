/* test_jwt.c — the JWT verifier (lib/jwt.h): algorithms, key selection,
 * registered claims, JSON pointers; keys made here with OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "acme_keys.h"
#include "buf.h"
#include "encoding.h"
#include "err.h"
#include "jwt.h"

#define NOW 1700000000

/* header.claims.signature, the header built from alg and kid. */
static char *make_token(EVP_PKEY *key, const char *alg, const char *kid, json_t *claims)
{
	json_t *h = json_pack("{ss}", "alg", alg);
	if (kid)
		json_object_set_new(h, "kid", json_string(kid));
	char *hs = json_dumps(h, JSON_COMPACT), *cs = json_dumps(claims, JSON_COMPACT);
	char *hb = test_b64u(hs), *cb = test_b64u(cs);
	struct buf in, tok;
	buf_init(&in, 1 << 20);
	buf_init(&tok, 1 << 20);
	buf_printf(&in, "%s.%s", hb, cb);
	char *sig = key ? test_acme_sign(key, alg, in.data) : strdup("");
	buf_printf(&tok, "%s.%s", in.data, sig);
	json_decref(h);
	json_decref(claims);
	free(hs), free(cs), free(hb), free(cb), free(sig);
	buf_release(&in);
	return buf_take(&tok);
}

static json_t *good_claims(void)
{
	return json_pack("{sssssssIsI}", "iss", "https://idp", "sub", "ann", "aud", "trove", "exp",
	                 (json_int_t)NOW + 300, "iat", (json_int_t)NOW - 10);
}

static const char *const auds[] = {"trove", NULL};
static const char *const all_algs[] = {"RS256", "ES256", "ES384", "ES512", "EdDSA", NULL};

static struct jwt_expect expect(void)
{
	struct jwt_expect e = {.algs = all_algs, .now = NOW, .issuer = "https://idp", .audiences = auds};
	return e;
}

static void add_key(struct jwt_keyset *ks, EVP_PKEY *key, const char *kid)
{
	json_t *jwk = test_acme_jwk(key);
	json_t *doc = json_pack("{s[o]}", "keys", jwk);
	if (kid)
		json_object_set_new(jwk, "kid", json_string(kid));
	char *s = json_dumps(doc, JSON_COMPACT);
	assert_int_equal(jwt_keyset_add_jwks(ks, s, strlen(s), NULL), 0);
	free(s);
	json_decref(doc);
}

static int verify(const char *tok, const struct jwt_keyset *ks, const struct jwt_expect *e)
{
	json_t *claims = NULL;
	int r = jwt_verify(tok, strlen(tok), ks, e, &claims, NULL);
	assert_true(r == 0 ? claims != NULL : claims == NULL);
	json_decref(claims);
	return r;
}

static void test_each_alg_verifies(void **state)
{
	(void)state;
	for (size_t i = 0; all_algs[i]; i++) {
		EVP_PKEY *key = test_acme_key(all_algs[i]), *other = test_acme_key(all_algs[i]);
		struct jwt_keyset ks;
		struct jwt_expect e = expect();
		jwt_keyset_init(&ks);
		add_key(&ks, other, NULL);
		add_key(&ks, key, NULL);
		char *tok = make_token(key, all_algs[i], NULL, good_claims());
		assert_int_equal(verify(tok, &ks, &e), 0); /* the second key is tried too */
		jwt_keyset_release(&ks);
		jwt_keyset_init(&ks);
		add_key(&ks, other, NULL);
		assert_int_equal(verify(tok, &ks, &e), TROVE_ERR_PERMISSION); /* wrong key */
		jwt_keyset_release(&ks);
		free(tok);
		EVP_PKEY_free(key);
		EVP_PKEY_free(other);
	}
}

static void test_alg_list_and_none_and_hmac(void **state)
{
	(void)state;
	EVP_PKEY *key = test_acme_key("RS256");
	struct jwt_keyset ks;
	struct jwt_expect e = expect();
	jwt_keyset_init(&ks);
	add_key(&ks, key, NULL);
	EVP_PKEY *ec = test_acme_key("ES256");
	char *es = make_token(ec, "ES256", NULL, good_claims());
	EVP_PKEY_free(ec);
	e.algs = NULL; /* RS256 alone */
	assert_int_equal(verify(es, &ks, &e), TROVE_ERR_INVALID);
	free(es);

	static const char *const lax[] = {"RS256", "none", "HS256", NULL};
	e.algs = lax;
	char *none = make_token(NULL, "none", NULL, good_claims());
	assert_int_equal(verify(none, &ks, &e), TROVE_ERR_INVALID);
	free(none);

	/* HS256 keyed with the public key's PEM: never accepted. */
	BIO *bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(bio, key);
	char *pem;
	long pem_len = BIO_get_mem_data(bio, &pem);
	char *hb = test_b64u("{\"alg\":\"HS256\"}");
	json_t *gc = good_claims();
	char *cs = json_dumps(gc, JSON_COMPACT), *cb = test_b64u(cs);
	json_decref(gc);
	struct buf in;
	buf_init(&in, 1 << 16);
	buf_printf(&in, "%s.%s", hb, cb);
	unsigned char mac[32];
	unsigned int mac_len = 0;
	HMAC(EVP_sha256(), pem, (int)pem_len, (unsigned char *)in.data, in.len, mac, &mac_len);
	char *m = base64url_encode(mac, mac_len);
	buf_printf(&in, ".%s", m);
	assert_int_equal(verify(in.data, &ks, &e), TROVE_ERR_INVALID);
	free(m), free(hb), free(cs), free(cb);
	buf_release(&in);
	BIO_free(bio);
	jwt_keyset_release(&ks);
	EVP_PKEY_free(key);
}

static void test_kid_selection(void **state)
{
	(void)state;
	EVP_PKEY *a = test_acme_key("RS256"), *b = test_acme_key("RS256");
	struct jwt_keyset ks;
	struct jwt_expect e = expect();
	jwt_keyset_init(&ks);
	add_key(&ks, a, "a");
	add_key(&ks, b, "b");
	char *tok = make_token(b, "RS256", "b", good_claims());
	assert_int_equal(verify(tok, &ks, &e), 0);
	free(tok);
	tok = make_token(b, "RS256", "a", good_claims()); /* kid a, signed by b */
	assert_int_equal(verify(tok, &ks, &e), TROVE_ERR_PERMISSION);
	free(tok);
	tok = make_token(b, "RS256", "c", good_claims());
	assert_int_equal(verify(tok, &ks, &e), TROVE_ERR_NOT_FOUND);
	free(tok);
	jwt_keyset_release(&ks);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

static void test_claims(void **state)
{
	(void)state;
	EVP_PKEY *key = test_acme_key("ES256");
	struct jwt_keyset ks;
	jwt_keyset_init(&ks);
	add_key(&ks, key, NULL);
	struct {
		const char *set; /* a claims patch, JSON */
		int64_t skew, exp_leeway, nbf_leeway;
		const char *subject;
		int want;
	} cases[] = {
	    {"{}", 0, 0, 0, NULL, 0},
	    {"{\"exp\": 1699999990}", 0, 0, 0, NULL, TROVE_ERR_PERMISSION},
	    {"{\"exp\": 1699999990}", 5, 5, 0, NULL, 0},
	    {"{\"exp\": 1699999990}", 5, 4, 0, NULL, TROVE_ERR_PERMISSION},
	    {"{\"nbf\": 1700000100}", 0, 0, 0, NULL, TROVE_ERR_PERMISSION},
	    {"{\"nbf\": 1700000100}", 60, 0, 40, NULL, 0},
	    {"{\"iat\": 1700000100}", 0, 0, 0, NULL, TROVE_ERR_PERMISSION},
	    {"{\"iss\": \"https://evil\"}", 0, 0, 0, NULL, TROVE_ERR_PERMISSION},
	    {"{\"aud\": \"other\"}", 0, 0, 0, NULL, TROVE_ERR_PERMISSION},
	    {"{\"aud\": [\"other\", \"trove\"]}", 0, 0, 0, NULL, 0},
	    {"{\"aud\": 5}", 0, 0, 0, NULL, TROVE_ERR_INVALID},
	    {"{\"exp\": \"soon\"}", 0, 0, 0, NULL, TROVE_ERR_INVALID},
	    {"{}", 0, 0, 0, "ann", 0},
	    {"{}", 0, 0, 0, "bob", TROVE_ERR_PERMISSION},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *c = good_claims();
		json_t *patch = json_loads(cases[i].set, 0, NULL);
		json_object_update(c, patch);
		json_decref(patch);
		char *tok = make_token(key, "ES256", NULL, c);
		struct jwt_expect e = expect();
		e.clock_skew = cases[i].skew;
		e.exp_leeway = cases[i].exp_leeway;
		e.nbf_leeway = cases[i].nbf_leeway;
		e.subject = cases[i].subject;
		assert_int_equal(verify(tok, &ks, &e), cases[i].want);
		free(tok);
	}
	/* No time claim at all; an aud with no audience bound. */
	json_t *c = json_pack("{ssss}", "iss", "https://idp", "aud", "trove");
	char *tok = make_token(key, "ES256", NULL, c);
	struct jwt_expect e = expect();
	assert_int_equal(verify(tok, &ks, &e), TROVE_ERR_PERMISSION);
	e.time_claims_optional = true; /* Kubernetes' legacy tokens */
	assert_int_equal(verify(tok, &ks, &e), 0);
	free(tok);
	/* The option only lets time claims be absent: one present is checked. */
	tok = make_token(key, "ES256", NULL, json_pack("{sssssI}", "iss", "https://idp", "aud", "trove", "exp",
	                                                 (json_int_t)NOW - 10));
	assert_int_equal(verify(tok, &ks, &e), TROVE_ERR_PERMISSION);
	e.time_claims_optional = false;
	free(tok);
	tok = make_token(key, "ES256", NULL, good_claims());
	e.audiences = NULL;
	assert_int_equal(verify(tok, &ks, &e), TROVE_ERR_PERMISSION);
	e.allow_unbound_aud = true;
	assert_int_equal(verify(tok, &ks, &e), 0);
	free(tok);
	jwt_keyset_release(&ks);
	EVP_PKEY_free(key);
}

static void test_malformed(void **state)
{
	(void)state;
	struct jwt_parsed p;
	struct buf err;
	const char *bad[] = {"", "a.b", "a.b.c.d", ".e30.", "e30..", "e30=.e30.", "W10.e30.", "e30.e30.",
	                     "eyJhbGciOiJSUzI1NiIsImNyaXQiOlsieCJdfQ.e30."};
	buf_init(&err, 4096);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(jwt_parse(bad[i], strlen(bad[i]), &p, &err), TROVE_ERR_INVALID);
		jwt_parsed_release(&p);
	}
	char *big = calloc(1, JWT_MAX_LEN + 2);
	memset(big, 'a', JWT_MAX_LEN + 1);
	assert_int_equal(jwt_parse(big, strlen(big), &p, NULL), TROVE_ERR_TOO_LARGE);
	jwt_parsed_release(&p);
	free(big);
	buf_release(&err);
}

static void test_pem_and_pointer(void **state)
{
	(void)state;
	EVP_PKEY *key = test_acme_key("EdDSA");
	BIO *bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(bio, key);
	BIO_write(bio, "", 1);
	char *pem;
	BIO_get_mem_data(bio, &pem);
	struct jwt_keyset ks;
	jwt_keyset_init(&ks);
	assert_int_equal(jwt_keyset_add_pem(&ks, pem, NULL), 0);
	assert_int_equal(jwt_keyset_add_pem(&ks, "not a key", NULL), TROVE_ERR_INVALID);
	json_t *c = good_claims();
	json_object_set_new(c, "a/b", json_pack("{s[ss]}", "x~y", "p", "q"));
	char *tok = make_token(key, "EdDSA", NULL, c);
	struct jwt_expect e = expect();
	json_t *claims = NULL;
	assert_int_equal(jwt_verify(tok, strlen(tok), &ks, &e, &claims, NULL), 0);
	assert_string_equal(json_string_value(jwt_claim(claims, "/a~1b/x~0y/1")), "q");
	assert_string_equal(json_string_value(jwt_claim(claims, "sub")), "ann");
	assert_null(jwt_claim(claims, "/a~1b/x~0y/2"));
	assert_null(jwt_claim(claims, "/a~1b/x~2y"));
	assert_null(jwt_claim(claims, "/sub/0"));
	json_decref(claims);
	free(tok);
	jwt_keyset_release(&ks);
	BIO_free(bio);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_alg_verifies), cmocka_unit_test(test_alg_list_and_none_and_hmac),
	    cmocka_unit_test(test_kid_selection),     cmocka_unit_test(test_claims),
	    cmocka_unit_test(test_malformed),         cmocka_unit_test(test_pem_and_pointer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
