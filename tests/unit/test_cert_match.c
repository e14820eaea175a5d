/* The auth/cert constraint matchers (cert_match.c) on certificates made
 * here with OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "auth/cert_auth.h"

#define EXT_OID "1.3.6.1.4.1.55555.1"

/* A self-signed certificate: CN cn, OU ou (or none), the SANs in
 * san (OpenSSL's "DNS:...,email:...,URI:..." or NULL) and EXT_OID
 * holding a UTF8String ext (or none). */
static X509 *make_cert(const char *cn, const char *ou, const char *san, const char *ext)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *c = X509_new();
	X509_NAME *name = X509_get_subject_name(c);

	assert_non_null(key);
	ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
	X509_gmtime_adj(X509_getm_notBefore(c), -60);
	X509_gmtime_adj(X509_getm_notAfter(c), 3600);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	if (ou)
		X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8, (const unsigned char *)ou, -1, -1, 0);
	X509_set_issuer_name(c, name);
	X509_set_pubkey(c, key);
	if (san) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
		assert_non_null(e);
		X509_add_ext(c, e, -1);
		X509_EXTENSION_free(e);
	}
	if (ext) {
		unsigned char der[128];
		size_t n = strlen(ext);
		assert_true(n < 100);
		der[0] = 0x0c; /* UTF8String */
		der[1] = (unsigned char)n;
		memcpy(der + 2, ext, n);
		ASN1_OCTET_STRING *data = ASN1_OCTET_STRING_new();
		ASN1_OCTET_STRING_set(data, der, (int)n + 2);
		ASN1_OBJECT *obj = OBJ_txt2obj(EXT_OID, 1);
		X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, data);
		X509_add_ext(c, e, -1);
		X509_EXTENSION_free(e);
		ASN1_OBJECT_free(obj);
		ASN1_OCTET_STRING_free(data);
	}
	assert_true(X509_sign(c, key, EVP_sha256()) > 0);
	EVP_PKEY_free(key);
	return c;
}

static json_t *list(const char *json)
{
	json_t *j = json_loads(json, 0, NULL);
	assert_non_null(j);
	return j;
}

#define MATCH(fn, cert, json, want)                                                                          \
	do {                                                                                                 \
		json_t *l_ = list(json);                                                                     \
		assert_int_equal(fn(cert, l_), want);                                                        \
		json_decref(l_);                                                                             \
	} while (0)

static void test_empty_lists_allow_everything(void **state)
{
	(void)state;
	X509 *c = make_cert("app.example.com", NULL, NULL, NULL);
	MATCH(cert_match_names, c, "[]", true);
	MATCH(cert_match_cn, c, "[]", true);
	MATCH(cert_match_dns, c, "[]", true);
	MATCH(cert_match_email, c, "[]", true);
	MATCH(cert_match_uri, c, "[]", true);
	MATCH(cert_match_ou, c, "[]", true);
	MATCH(cert_match_extensions, c, "[]", true);
	assert_true(cert_match_cn(c, NULL));
	X509_free(c);
}

static void test_common_name_globs(void **state)
{
	(void)state;
	X509 *c = make_cert("app1.example.com", NULL, NULL, NULL);
	MATCH(cert_match_cn, c, "[\"app1.example.com\"]", true);
	MATCH(cert_match_cn, c, "[\"other\", \"app*.example.com\"]", true);
	MATCH(cert_match_cn, c, "[\"*\"]", true);
	MATCH(cert_match_cn, c, "[\"app1.example.org\"]", false);
	MATCH(cert_match_cn, c, "[\"APP1.example.com\"]", false); /* case matters, as in Vault */
	MATCH(cert_match_cn, c, "[\"app1\"]", false);
	char cn[64];
	cert_subject_cn(c, cn, sizeof(cn));
	assert_string_equal(cn, "app1.example.com");
	X509_free(c);
}

static void test_sans(void **state)
{
	(void)state;
	X509 *c = make_cert("cn-only", NULL,
	                    "DNS:web.example.com,email:ops@example.com,URI:spiffe://example/app", NULL);
	MATCH(cert_match_dns, c, "[\"*.example.com\"]", true);
	MATCH(cert_match_dns, c, "[\"ops@example.com\"]", false);
	MATCH(cert_match_email, c, "[\"*@example.com\"]", true);
	MATCH(cert_match_email, c, "[\"web.example.com\"]", false);
	MATCH(cert_match_uri, c, "[\"spiffe://example/*\"]", true);
	MATCH(cert_match_uri, c, "[\"spiffe://other/*\"]", false);
	/* allowed_names: the CN, a DNS SAN or an email SAN; never a URI. */
	MATCH(cert_match_names, c, "[\"cn-only\"]", true);
	MATCH(cert_match_names, c, "[\"web.*\"]", true);
	MATCH(cert_match_names, c, "[\"ops@*\"]", true);
	MATCH(cert_match_names, c, "[\"spiffe://*\"]", false);
	X509_free(c);
	/* No SANs at all: a SAN list refuses. */
	c = make_cert("web.example.com", NULL, NULL, NULL);
	MATCH(cert_match_dns, c, "[\"*\"]", false);
	X509_free(c);
}

static void test_organizational_units(void **state)
{
	(void)state;
	X509 *c = make_cert("a", "payments", NULL, NULL);
	MATCH(cert_match_ou, c, "[\"pay*\"]", true);
	MATCH(cert_match_ou, c, "[\"marketing\"]", false);
	X509_free(c);
	c = make_cert("a", NULL, NULL, NULL);
	MATCH(cert_match_ou, c, "[\"*\"]", false);
	X509_free(c);
}

static void test_required_extensions(void **state)
{
	(void)state;
	X509 *c = make_cert("a", NULL, NULL, "prod-eu");
	MATCH(cert_match_extensions, c, "[\"" EXT_OID ":prod-eu\"]", true);
	MATCH(cert_match_extensions, c, "[\"" EXT_OID ":prod-*\"]", true);
	MATCH(cert_match_extensions, c, "[\"" EXT_OID ":dev-*\"]", false);
	MATCH(cert_match_extensions, c, "[\"1.2.3.4:*\"]", false);                  /* absent */
	MATCH(cert_match_extensions, c, "[\"" EXT_OID "\"]", false);                /* no value part */
	MATCH(cert_match_extensions, c, "[\"" EXT_OID ":*\", \"1.2.3:*\"]", false); /* every one needed */
	/* A prefix of the OID is another OID. */
	MATCH(cert_match_extensions, c, "[\"1.3.6.1.4.1.55555:*\"]", false);
	X509_free(c);
	c = make_cert("a", NULL, NULL, NULL);
	MATCH(cert_match_extensions, c, "[\"" EXT_OID ":*\"]", false);
	X509_free(c);
}

static void test_extension_metadata(void **state)
{
	(void)state;
	X509 *c = make_cert("a", NULL, NULL, "prod-eu");
	json_t *allowed = list("[\"" EXT_OID "\", \"1.2.3\"]"), *meta = json_object();
	cert_extension_metadata(c, allowed, meta);
	assert_int_equal(json_object_size(meta), 1);
	assert_string_equal(json_string_value(json_object_get(meta, "1-3-6-1-4-1-55555-1")), "prod-eu");
	json_decref(allowed);
	json_decref(meta);
	X509_free(c);
}

static void test_role_needs_every_constraint(void **state)
{
	(void)state;
	X509 *c = make_cert("app1.example.com", "payments", "DNS:app1.example.com", "prod-eu");
	json_t *role = json_loads("{\"allowed_common_names\": [\"app*\"], \"allowed_organizational_units\": "
	                          "[\"payments\"], \"required_extensions\": [\"" EXT_OID ":prod-*\"]}",
	                          0, NULL);
	assert_true(cert_match_role(c, role));
	json_object_set_new(role, "allowed_dns_sans", list("[\"db.*\"]"));
	assert_false(cert_match_role(c, role));
	json_decref(role);
	X509_free(c);
}

static void test_parse_pem(void **state)
{
	(void)state;
	assert_null(cert_parse_pem("not a certificate", 17));
	assert_null(cert_parse_pem("", 0));
	X509 *a = make_cert("a", NULL, NULL, NULL), *b = make_cert("b", NULL, NULL, NULL);
	BIO *bio = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(bio, a);
	BIO_puts(bio, "junk between\n");
	PEM_write_bio_X509(bio, b);
	char *pem;
	long n = BIO_get_mem_data(bio, &pem);
	STACK_OF(X509) *certs = cert_parse_pem(pem, (size_t)n);
	assert_non_null(certs);
	assert_int_equal(sk_X509_num(certs), 2);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 1), b), 0);
	sk_X509_pop_free(certs, X509_free);
	BIO_free(bio);
	X509_free(a);
	X509_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_lists_allow_everything),
	    cmocka_unit_test(test_common_name_globs),
	    cmocka_unit_test(test_sans),
	    cmocka_unit_test(test_organizational_units),
	    cmocka_unit_test(test_required_extensions),
	    cmocka_unit_test(test_extension_metadata),
	    cmocka_unit_test(test_role_needs_every_constraint),
	    cmocka_unit_test(test_parse_pem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
