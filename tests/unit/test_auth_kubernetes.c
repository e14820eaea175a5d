/* test_auth_kubernetes.c — the parts of auth/kubernetes that decide
 * without the network: Vault's binding globs, the namespace label
 * selector (parsing and matching), the unverified claims of a JWT,
 * pem_keys and the local signature check, the API server URL check and
 * where the reviewer's credentials come from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/kubernetes.h"
#include "encoding.h"
#include "err.h"

#include "banned.h"

static void test_glob(void **state)
{
	(void)state;
	assert_true(k8s_glob_match("web", "web"));
	assert_false(k8s_glob_match("web", "web2"));
	assert_true(k8s_glob_match("web-*", "web-1"));
	assert_true(k8s_glob_match("web-*", "web-"));
	assert_false(k8s_glob_match("web-*", "web"));
	assert_true(k8s_glob_match("*-prod", "shop-prod"));
	assert_false(k8s_glob_match("*-prod", "shop-prod2"));
	assert_true(k8s_glob_match("*shop*", "eu-shop-1"));
	assert_false(k8s_glob_match("*shop*", "eu-sho-1"));
	/* Only a leading or trailing '*' is a glob, as in Vault. */
	assert_false(k8s_glob_match("a*b", "axb"));
	assert_true(k8s_glob_match("a*b", "a*b"));
	assert_true(k8s_glob_match("*", "*"));
	assert_false(k8s_glob_match("*", "anything")); /* "*" alone is the role's, below */
	assert_false(k8s_glob_match("", "x"));
	assert_true(k8s_glob_match("**", "x")); /* contains "" */
}

static void test_role_binding(void **state)
{
	struct k8s_role r;
	(void)state;
	k8s_role_init(&r);
	strlist_push(&r.sa_names, "*");
	strlist_push(&r.sa_namespaces, "team-*");
	strlist_push(&r.sa_namespaces, "ops");
	assert_true(k8s_role_name_bound(&r, "anyone"));
	assert_true(k8s_role_namespace_bound(&r, "team-a"));
	assert_true(k8s_role_namespace_bound(&r, "ops"));
	assert_false(k8s_role_namespace_bound(&r, "ops2"));
	assert_false(k8s_role_namespace_bound(&r, "tea"));
	k8s_role_release(&r);

	k8s_role_init(&r);
	strlist_push(&r.sa_names, "api");
	assert_true(k8s_role_name_bound(&r, "api"));
	assert_false(k8s_role_name_bound(&r, "API"));
	assert_false(k8s_role_namespace_bound(&r, "x")); /* no namespaces: only a selector admits */
	strlist_push(&r.sa_namespaces, "*");
	assert_true(k8s_role_namespace_bound(&r, "x"));
	k8s_role_release(&r);
}

static bool sel_matches(const char *sel, const char *labels)
{
	json_t *s = NULL, *l = json_loads(labels, 0, NULL);
	const char *why = NULL;
	assert_int_equal(k8s_selector_parse(sel, strlen(sel), &s, &why), 0);
	bool m = k8s_selector_matches(s, l);
	json_decref(s);
	json_decref(l);
	return m;
}

static void test_selector_match(void **state)
{
	(void)state;
	const char *labels = "{\"stage\": \"prod\", \"tier\": \"front\"}";
	assert_true(sel_matches("{}", labels)); /* empty: everything, as Kubernetes */
	assert_true(sel_matches("{\"matchLabels\": {\"stage\": \"prod\"}}", labels));
	assert_false(sel_matches("{\"matchLabels\": {\"stage\": \"dev\"}}", labels));
	assert_false(sel_matches("{\"matchLabels\": {\"stage\": \"prod\", \"zone\": \"a\"}}", labels));
	assert_true(sel_matches("{\"matchExpressions\": [{\"key\": \"stage\", \"operator\": \"In\", "
	                        "\"values\": [\"dev\", \"prod\"]}]}",
	                        labels));
	assert_false(sel_matches("{\"matchExpressions\": [{\"key\": \"stage\", \"operator\": \"In\", "
	                         "\"values\": [\"dev\"]}]}",
	                         labels));
	assert_false(sel_matches("{\"matchExpressions\": [{\"key\": \"zone\", \"operator\": \"In\", "
	                         "\"values\": [\"a\"]}]}",
	                         labels));
	assert_true(sel_matches("{\"matchExpressions\": [{\"key\": \"zone\", \"operator\": \"NotIn\", "
	                        "\"values\": [\"a\"]}]}",
	                        labels));
	assert_false(sel_matches("{\"matchExpressions\": [{\"key\": \"stage\", \"operator\": \"NotIn\", "
	                         "\"values\": [\"prod\"]}]}",
	                         labels));
	assert_true(
	    sel_matches("{\"matchExpressions\": [{\"key\": \"tier\", \"operator\": \"Exists\"}]}", labels));
	assert_false(
	    sel_matches("{\"matchExpressions\": [{\"key\": \"zone\", \"operator\": \"Exists\"}]}", labels));
	assert_true(sel_matches(
	    "{\"matchExpressions\": [{\"key\": \"zone\", \"operator\": \"DoesNotExist\"}]}", labels));
	assert_false(sel_matches(
	    "{\"matchExpressions\": [{\"key\": \"tier\", \"operator\": \"DoesNotExist\"}]}", labels));
	/* Both parts must hold. */
	assert_false(sel_matches("{\"matchLabels\": {\"stage\": \"prod\"}, \"matchExpressions\": "
	                         "[{\"key\": \"tier\", \"operator\": \"NotIn\", \"values\": [\"front\"]}]}",
	                         labels));
	/* A namespace without labels. */
	assert_false(sel_matches("{\"matchLabels\": {\"stage\": \"prod\"}}", "{}"));
	assert_true(
	    sel_matches("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"DoesNotExist\"}]}", "{}"));
}

static void refused(const char *sel, const char *needle)
{
	json_t *s = NULL;
	const char *why = NULL;
	assert_int_equal(k8s_selector_parse(sel, strlen(sel), &s, &why), TROVE_ERR_INVALID);
	assert_null(s);
	assert_non_null(why);
	if (!strstr(why, needle))
		fail_msg("selector %s: reason \"%s\" should mention \"%s\"", sel, why, needle);
}

static void test_selector_refusals(void **state)
{
	(void)state;
	refused("", "mapping");
	refused("[]", "mapping");
	refused("{\"matchLabels\": {\"a\": \"b\"}", "not closed");
	refused("{\"matchlabels\": {}}", "only matchLabels and matchExpressions");
	refused("{\"matchLabels\": {\"a\": 1}}", "matchLabels");
	refused("{\"matchLabels\": [\"a\"]}", "matchLabels");
	refused("{\"matchExpressions\": {}}", "list");
	refused("{\"matchExpressions\": [1]}", "object");
	refused("{\"matchExpressions\": [{\"operator\": \"Exists\"}]}", "key");
	refused("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"Near\"}]}", "operator");
	refused("{\"matchExpressions\": [{\"key\": \"a\"}]}", "operator");
	refused("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"In\"}]}", "need values");
	refused("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"In\", \"values\": []}]}",
	        "need values");
	refused("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"In\", \"values\": [1]}]}",
	        "strings");
	refused("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"Exists\", \"values\": [\"x\"]}]}",
	        "no values");
	refused("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"Exists\", \"value\": 1}]}",
	        "only key, operator and values");
	refused("{\"matchLabels\": {\"a\": \"b\", \"a\": \"c\"}}", "twice"); /* duplicate keys */
	/* Oversized. */
	size_t n = K8S_SELECTOR_MAX + 10;
	char *big = malloc(n + 1);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	refused(big, "16384");
	free(big);
}

/* The YAML text parses to the JSON text. */
static void yaml_is(const char *yaml, const char *json)
{
	json_t *got = NULL, *want = json_loads(json, 0, NULL);
	const char *why = NULL;
	assert_non_null(want);
	if (k8s_yaml_parse(yaml, strlen(yaml), &got, &why) != 0)
		fail_msg("YAML refused (%s):\n%s", why, yaml);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS);
		fail_msg("YAML:\n%s\ngave %s, want %s", yaml, g, json);
	}
	json_decref(got);
	json_decref(want);
}

static void yaml_refused(const char *yaml, const char *needle)
{
	json_t *got = NULL;
	const char *why = NULL;
	assert_int_equal(k8s_yaml_parse(yaml, strlen(yaml), &got, &why), TROVE_ERR_INVALID);
	assert_null(got);
	if (!why || !strstr(why, needle))
		fail_msg("YAML:\n%s\nreason \"%s\" should mention \"%s\"", yaml, why ? why : "", needle);
}

static void test_selector_yaml(void **state)
{
	(void)state;
	yaml_is("matchLabels:\n  stage: prod\n  team: a\n",
	        "{\"matchLabels\": {\"stage\": \"prod\", \"team\": \"a\"}}");
	yaml_is("---\n# which namespaces\nmatchLabels:   # by label\n    stage: \"prod\"\n\n    tier: "
	        "'front''s'\n",
	        "{\"matchLabels\": {\"stage\": \"prod\", \"tier\": \"front's\"}}");
	yaml_is("matchExpressions:\n"
	        "  - key: tier\n"
	        "    operator: In\n"
	        "    values:\n"
	        "      - web\n"
	        "      - \"api\"\n"
	        "  - key: zone\n"
	        "    operator: NotIn\n"
	        "    values: [a, 'b', \"c d\"]\n"
	        "  - {key: x, operator: Exists}\n"
	        "matchLabels: {stage: prod}\n",
	        "{\"matchExpressions\": [{\"key\": \"tier\", \"operator\": \"In\", \"values\": [\"web\", "
	        "\"api\"]},"
	        " {\"key\": \"zone\", \"operator\": \"NotIn\", \"values\": [\"a\", \"b\", \"c d\"]},"
	        " {\"key\": \"x\", \"operator\": \"Exists\"}], \"matchLabels\": {\"stage\": \"prod\"}}");
	/* A sequence at its key's own indentation, as YAML allows. */
	yaml_is("matchExpressions:\n- key: a\n  operator: In\n  values:\n  - x\nmatchLabels: {}\n",
	        "{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"In\", \"values\": [\"x\"]}],"
	        " \"matchLabels\": {}}");
	yaml_is("{matchLabels: {a: b}, matchExpressions: []}",
	        "{\"matchLabels\": {\"a\": \"b\"}, \"matchExpressions\": []}");
	yaml_is("  matchLabels:\r\n    a: \"x#y\\\"z\"\r\n", "{\"matchLabels\": {\"a\": \"x#y\\\"z\"}}");
	yaml_is("matchLabels:\n  a: b # c\n", "{\"matchLabels\": {\"a\": \"b\"}}");

	/* Through the selector: YAML reaches the same checks as JSON. */
	assert_true(sel_matches(
	    "matchLabels:\n  stage: prod\nmatchExpressions:\n  - key: tier\n    operator: Exists\n",
	    "{\"stage\": \"prod\", \"tier\": \"x\"}"));
	refused("matchExpressions:\n  - key: a\n    operator: Near\n", "operator");
	refused("matchLabels:\n  a:\n    b: c\n", "matchLabels");

	yaml_refused("matchLabels:\n\ta: b\n", "tabs");
	yaml_refused("matchLabels: &x {a: b}\n", "anchors");
	yaml_refused("matchLabels: *x\n", "anchors");
	yaml_refused("matchLabels: !!map {a: b}\n", "anchors");
	yaml_refused("matchLabels: |\n  a: b\n", "anchors");
	yaml_refused("matchLabels: {a: b,\n  c: d}\n", "not closed");
	yaml_refused("matchLabels:\n  a: b\n  a: c\n", "twice");
	yaml_refused("matchLabels: {a: b, a: c}\n", "twice");
	yaml_refused("matchLabels:\n  a: b\n    c: d\n", "indented more");
	yaml_refused("  matchLabels:\n    a: b\nx: y\n", "indented less");
	yaml_refused("matchLabels:\n  a: b: c\n", "quote it");
	yaml_refused("matchLabels:\n", "no value");
	yaml_refused("matchLabels:\n  a: \"b\n", "not closed");
	yaml_refused("matchLabels:\n  a: \"\\q\"\n", "escape");
	yaml_refused("matchLabels:\n  a: b\x01\n", "control");
	yaml_refused("just text\n", "key: value");
	yaml_refused("- a\n- b\n", "mapping");
	yaml_refused("# nothing\n\n", "empty");
	yaml_refused("a: [[[[[[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]]]]\n", "deeply");
	yaml_refused("a: {b: }\n", "empty value");
	yaml_refused("a: [x, , y]\n", "empty value");
	yaml_refused("a: [x] y\n", "text follows");
}

/* A JWT of header and payload JSON (unsigned: the signature is "sig"). */
static char *make_jwt(const char *hdr, const char *payload)
{
	char *h = base64url_encode((const unsigned char *)hdr, strlen(hdr));
	char *p = base64url_encode((const unsigned char *)payload, strlen(payload));
	size_t n = strlen(h) + strlen(p) + 8;
	char *out = malloc(n);
	snprintf(out, n, "%s.%s.sig", h, p);
	free(h);
	free(p);
	return out;
}

static int parse(const char *hdr, const char *payload, struct k8s_claims *c, const char **why)
{
	char *jwt = make_jwt(hdr, payload);
	int r = k8s_claims_parse(jwt, strlen(jwt), c, why);
	free(jwt);
	return r;
}

static void test_claims(void **state)
{
	struct k8s_claims c;
	const char *why = NULL;
	(void)state;

	/* Projected token. */
	assert_int_equal(parse("{\"alg\":\"RS256\",\"kid\":\"k\"}",
	                       "{\"iss\":\"https://k\",\"aud\":[\"a\",\"b\"],\"exp\":100,\"nbf\":50,"
	                       "\"kubernetes.io\":{\"namespace\":\"ns\",\"serviceaccount\":{\"name\":\"sa\","
	                       "\"uid\":\"u-1\"}}}",
	                       &c, &why),
	                 0);
	assert_string_equal(c.ns, "ns");
	assert_string_equal(c.name, "sa");
	assert_string_equal(c.uid, "u-1");
	assert_string_equal(c.iss, "https://k");
	assert_int_equal(c.aud.len, 2);
	assert_int_equal(c.exp, 100);
	assert_int_equal(c.nbf, 50);
	assert_null(c.secret_name);
	k8s_claims_release(&c);

	/* Legacy secret-based token: a string aud, no exp. */
	assert_int_equal(parse("{\"alg\":\"ES384\"}",
	                       "{\"aud\":\"x\",\"kubernetes.io/serviceaccount/namespace\":\"n\","
	                       "\"kubernetes.io/serviceaccount/service-account.name\":\"s\","
	                       "\"kubernetes.io/serviceaccount/service-account.uid\":\"u\","
	                       "\"kubernetes.io/serviceaccount/secret.name\":\"s-token\"}",
	                       &c, &why),
	                 0);
	assert_string_equal(c.secret_name, "s-token");
	assert_int_equal(c.aud.len, 1);
	assert_int_equal(c.exp, 0);
	k8s_claims_release(&c);

	/* Refusals: algs Kubernetes never signs with, shapes, no identity. */
	static const char *const bad_algs[] = {"{\"alg\":\"none\"}", "{\"alg\":\"HS256\"}", "{}",
	                                       "{\"alg\":1}"};
	for (size_t i = 0; i < sizeof(bad_algs) / sizeof(*bad_algs); i++) {
		assert_int_equal(
		    parse(bad_algs[i], "{\"kubernetes.io/serviceaccount/namespace\":\"n\"}", &c, &why),
		    TROVE_ERR_INVALID);
		assert_non_null(strstr(why, "alg"));
	}
	assert_int_equal(parse("{\"alg\":\"RS256\"}", "[1]", &c, &why), TROVE_ERR_INVALID);
	assert_int_equal(parse("{\"alg\":\"RS256\"}", "{\"aud\":[1]}", &c, &why), TROVE_ERR_INVALID);
	assert_int_equal(parse("{\"alg\":\"RS256\"}", "{\"exp\":\"soon\",\"kubernetes.io\":{}}", &c, &why),
	                 TROVE_ERR_INVALID);
	assert_int_equal(parse("{\"alg\":\"RS256\"}", "{\"kubernetes.io\":{\"namespace\":\"n\"}}", &c, &why),
	                 TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "service account"));
	static const char *const shapes[] = {"",         "a",      "a.b",    "a.b.c.d",
	                                     "e30.e30.", ".e30.x", "e30..x", "!!.e30.x"};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(*shapes); i++)
		assert_int_equal(k8s_claims_parse(shapes[i], strlen(shapes[i]), &c, &why), TROVE_ERR_INVALID);
}

/* --- pem_keys -------------------------------------------------------------- */

/* The public key of key as PEM, or a self-signed certificate for it. */
static char *key_pem(EVP_PKEY *key, bool as_cert)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL;
	if (as_cert) {
		X509 *x = X509_new();
		assert_non_null(x);
		ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
		X509_gmtime_adj(X509_getm_notBefore(x), 0);
		X509_gmtime_adj(X509_getm_notAfter(x), 3600);
		X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
		                           (const unsigned char *)"sa-signer", -1, -1, 0);
		X509_set_issuer_name(x, X509_get_subject_name(x));
		X509_set_pubkey(x, key);
		assert_true(X509_sign(x, key, EVP_sha256()) > 0);
		assert_int_equal(PEM_write_bio_X509(b, x), 1);
		X509_free(x);
	} else {
		assert_int_equal(PEM_write_bio_PUBKEY(b, key), 1);
	}
	long n = BIO_get_mem_data(b, &data);
	char *out = xstrndup(data, (size_t)n); /* the BIO's text has no NUL */
	BIO_free(b);
	return out;
}

/* header.payload signed RS256 by key, or HS256 with secret when key is
 * NULL (a public key misused as an HMAC secret). */
static char *signed_jwt(EVP_PKEY *key, const char *secret, const char *hdr, const char *payload)
{
	char *unsigned_jwt = make_jwt(hdr, payload);
	size_t in_len = strlen(unsigned_jwt) - 4; /* without ".sig" */
	unsigned char sig[512];
	size_t sig_len = sizeof(sig);
	if (key) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
		assert_int_equal(
		    EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)unsigned_jwt, in_len), 1);
		EVP_MD_CTX_free(md);
	} else {
		unsigned int l = 0;
		HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)unsigned_jwt, in_len, sig,
		     &l);
		sig_len = l;
	}
	char *s64 = base64url_encode(sig, sig_len);
	size_t n = in_len + strlen(s64) + 2;
	char *out = malloc(n);
	snprintf(out, n, "%.*s.%s", (int)in_len, unsigned_jwt, s64);
	free(unsigned_jwt);
	free(s64);
	return out;
}

static int keyset_of(struct jwt_keyset *ks, struct buf *err, const char *a, const char *b)
{
	struct strlist l;
	strlist_init(&l);
	strlist_push(&l, a);
	if (b)
		strlist_push(&l, b);
	jwt_keyset_init(ks);
	int r = k8s_pem_keyset(&l, ks, err);
	strlist_release(&l);
	return r;
}

static void test_pem_keyset(void **state)
{
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *small = EVP_RSA_gen(1024);
	EVP_PKEY *ec = EVP_EC_gen("P-256"), *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char *rsa_pem = key_pem(rsa, false), *ec_cert = key_pem(ec, true);
	char *small_pem = key_pem(small, false), *ed_pem = key_pem(ed, false);
	struct jwt_keyset ks;
	struct buf err;
	(void)state;

	buf_init(&err, 4096);
	assert_int_equal(keyset_of(&ks, &err, rsa_pem, ec_cert), 0);
	assert_int_equal(ks.len, 2);
	jwt_keyset_release(&ks);

	/* The first bad entry is named; the others are never reached. */
	assert_int_equal(keyset_of(&ks, &err, rsa_pem, "-----BEGIN PUBLIC KEY-----\nAAAA\n"), TROVE_ERR_INVALID);
	assert_string_equal(err.data, "key 2: not a PEM public key or certificate");
	jwt_keyset_release(&ks);
	buf_reset(&err);
	assert_int_equal(keyset_of(&ks, &err, small_pem, NULL), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "key 1: RSA key under 2048 bits"));
	jwt_keyset_release(&ks);
	buf_reset(&err);
	/* Vault's plugin takes RSA and EC keys only: no cluster signs EdDSA. */
	assert_int_equal(keyset_of(&ks, &err, ed_pem, NULL), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "not an RSA or EC key"));
	jwt_keyset_release(&ks);

	buf_release(&err);
	free(rsa_pem), free(ec_cert), free(small_pem), free(ed_pem);
	EVP_PKEY_free(rsa), EVP_PKEY_free(small), EVP_PKEY_free(ec), EVP_PKEY_free(ed);
}

static void test_verify_signature(void **state)
{
	const int64_t now = 1700000000;
	static const char legacy[] = "{\"iss\":\"kubernetes/serviceaccount\","
	                             "\"kubernetes.io/serviceaccount/namespace\":\"n\","
	                             "\"kubernetes.io/serviceaccount/service-account.name\":\"s\","
	                             "\"kubernetes.io/serviceaccount/service-account.uid\":\"u\"}";
	static const char rs256[] = "{\"alg\":\"RS256\",\"kid\":\"k1\"}";
	EVP_PKEY *key = EVP_RSA_gen(2048), *other = EVP_RSA_gen(2048);
	char *pub = key_pem(key, false), *cert = key_pem(key, true), *other_pub = key_pem(other, false);
	struct jwt_keyset by_key, by_cert, wrong;
	(void)state;

	assert_int_equal(keyset_of(&by_key, NULL, pub, NULL), 0);
	assert_int_equal(keyset_of(&by_cert, NULL, cert, NULL), 0);
	assert_int_equal(keyset_of(&wrong, NULL, other_pub, NULL), 0);
	struct {
		EVP_PKEY *signer;
		const char *hdr, *payload;
		const struct jwt_keyset *ks;
		int want;
	} cases[] = {
	    /* A legacy token: no time claim, no aud; the header's kid matches no
	     * key's (PEM keys have none), so every key is tried. */
	    {key, rs256, legacy, &by_key, 0},
	    {key, rs256, legacy, &by_cert, 0},
	    {key, rs256, legacy, &wrong, TROVE_ERR_PERMISSION},
	    {other, rs256, legacy, &by_key, TROVE_ERR_PERMISSION},
	    /* Issuer and audience are the login's checks, not this one's. */
	    {key, rs256, "{\"iss\":\"https://elsewhere\",\"aud\":[\"x\"],\"exp\":1700000600}", &by_key, 0},
	    /* Time claims present are checked, with the 150 s leeway. */
	    {key, rs256, "{\"exp\":1699999900}", &by_key, 0},
	    {key, rs256, "{\"exp\":1699999800}", &by_key, TROVE_ERR_PERMISSION},
	    {key, rs256, "{\"nbf\":1700000100}", &by_key, 0},
	    {key, rs256, "{\"nbf\":1700000200}", &by_key, TROVE_ERR_PERMISSION},
	    {key, rs256, "{\"iat\":1700000200}", &by_key, TROVE_ERR_PERMISSION},
	    /* An alg Kubernetes never signs with, whatever the signature. */
	    {key, "{\"alg\":\"RS1\"}", legacy, &by_key, TROVE_ERR_INVALID},
	    {NULL, "{\"alg\":\"HS256\"}", legacy, &by_key, TROVE_ERR_INVALID},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *jwt = signed_jwt(cases[i].signer, pub, cases[i].hdr, cases[i].payload);
		assert_int_equal(k8s_verify_signature(jwt, strlen(jwt), cases[i].ks, now, NULL), cases[i].want);
		free(jwt);
	}
	/* alg none with an empty signature. */
	char *none = make_jwt("{\"alg\":\"none\"}", legacy);
	none[strlen(none) - 3] = '\0';
	assert_int_equal(k8s_verify_signature(none, strlen(none), &by_key, now, NULL), TROVE_ERR_INVALID);
	free(none);

	jwt_keyset_release(&by_key), jwt_keyset_release(&by_cert), jwt_keyset_release(&wrong);
	free(pub), free(cert), free(other_pub);
	EVP_PKEY_free(key), EVP_PKEY_free(other);
}

static void test_host(void **state)
{
	const char *why = NULL;
	(void)state;
	assert_true(k8s_host_valid("https://10.0.0.1", &why));
	assert_true(k8s_host_valid("https://kubernetes.default.svc:443", &why));
	assert_true(k8s_host_valid("https://[::1]:6443/base", &why));
	assert_true(k8s_host_valid("https://k8s.example/", &why));
	static const char *const bad[] = {
	    "http://10.0.0.1", "10.0.0.1:6443",     "https://",     "https://:443",   "https://a:0",
	    "https://a:65536", "https://a:x",       "https://u@a",  "https://a/?q",   "https://a/#f",
	    "https://a b",     "https://[::1",      "https://[]:1", "https://[::1]x", "HTTPS://a",
	    "https://a\r\nb",  "file:///etc/passwd"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		why = NULL;
		if (k8s_host_valid(bad[i], &why))
			fail_msg("\"%s\" should be refused", bad[i]);
		assert_non_null(why);
	}
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_creds(void **state)
{
	char dir[] = "/tmp/trove-k8s-XXXXXX";
	struct k8s_config c = {0};
	struct k8s_creds cr;
	(void)state;
	assert_non_null(mkdtemp(dir));

	/* Nothing configured, no files: no reviewer, the system CAs. */
	k8s_creds_resolve(&c, dir, &cr);
	assert_null(cr.reviewer_jwt);
	assert_null(cr.ca_pem);
	k8s_creds_release(&cr);

	/* The pod's own files, read at each use (the kubelet rotates them). */
	write_file(dir, "token", "pod-token-1\n");
	write_file(dir, "ca.crt", "CA-1");
	k8s_creds_resolve(&c, dir, &cr);
	assert_string_equal(cr.reviewer_jwt, "pod-token-1");
	assert_string_equal(cr.ca_pem, "CA-1");
	k8s_creds_release(&cr);
	write_file(dir, "token", "pod-token-2");
	k8s_creds_resolve(&c, dir, &cr);
	assert_string_equal(cr.reviewer_jwt, "pod-token-2");
	k8s_creds_release(&cr);

	/* The config wins; disable_local_ca_jwt turns the files off. */
	c.reviewer_jwt = "configured";
	k8s_creds_resolve(&c, dir, &cr);
	assert_string_equal(cr.reviewer_jwt, "configured");
	assert_string_equal(cr.ca_pem, "CA-1");
	k8s_creds_release(&cr);
	c.reviewer_jwt = NULL;
	c.disable_local_ca_jwt = true;
	k8s_creds_resolve(&c, dir, &cr);
	assert_null(cr.reviewer_jwt);
	assert_null(cr.ca_pem);
	k8s_creds_release(&cr);

	/* An empty token file is no token. */
	c.disable_local_ca_jwt = false;
	write_file(dir, "token", "\n");
	k8s_creds_resolve(&c, dir, &cr);
	assert_null(cr.reviewer_jwt);
	k8s_creds_release(&cr);

	char path[512];
	snprintf(path, sizeof(path), "%s/token", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	unlink(path);
	rmdir(dir);
}

static void test_dns_label(void **state)
{
	(void)state;
	assert_true(k8s_dns_label("default"));
	assert_true(k8s_dns_label("team-1"));
	assert_false(k8s_dns_label(""));
	assert_false(k8s_dns_label("-a"));
	assert_false(k8s_dns_label("a-"));
	assert_false(k8s_dns_label("A"));
	assert_false(k8s_dns_label("a/b"));
	assert_false(k8s_dns_label("a.b"));
	assert_false(k8s_dns_label("..%2f"));
	char long_name[70];
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	assert_false(k8s_dns_label(long_name));
	long_name[63] = '\0';
	assert_true(k8s_dns_label(long_name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_glob),           cmocka_unit_test(test_role_binding),
	    cmocka_unit_test(test_selector_match), cmocka_unit_test(test_selector_refusals),
	    cmocka_unit_test(test_selector_yaml),  cmocka_unit_test(test_claims),
	    cmocka_unit_test(test_host),           cmocka_unit_test(test_creds),
	    cmocka_unit_test(test_dns_label),      cmocka_unit_test(test_pem_keyset),
	    cmocka_unit_test(test_verify_signature),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
