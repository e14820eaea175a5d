/* test_pki_keytext.c — the fast paths of the PKI engine's key handling
 * (engines/pki/x509.c, x509_pem.c): EC keys generated from the kept curve
 * parameters are fresh keys on the right curve, and an EC private key
 * written from its raw parts is byte for byte what OpenSSL's own encoders
 * write (SEC1 PEM and its DER), for every curve; keys the fast path does
 * not cover still go through OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "engines/pki/x509.h"
#include "encoding.h"
#include "secure.h"

/* What OpenSSL writes for k: traditional PEM, or base64 of i2d_PrivateKey. */
static char *openssl_text(EVP_PKEY *k, bool der)
{
	char *out;
	if (der) {
		unsigned char *d = NULL;
		int n = i2d_PrivateKey(k, &d);
		assert_true(n > 0);
		out = malloc(base64_encoded_size((size_t)n));
		base64_encode(d, (size_t)n, out);
		OPENSSL_free(d);
		return out;
	}
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	assert_int_equal(PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL), 1);
	long n = BIO_get_mem_data(b, &p);
	out = xstrndup(p, (size_t)n); /* bounded: the BIO holds no NUL */
	BIO_free(b);
	return out;
}

static void assert_same_as_openssl(EVP_PKEY *k)
{
	for (int der = 0; der <= 1; der++) {
		char *mine = NULL, *theirs = openssl_text(k, der);
		assert_int_equal(x509_key_to_text(k, der ? "der" : "pem", &mine), 0);
		assert_string_equal(mine, theirs);
		if (!der) {
			EVP_PKEY *back = NULL;
			assert_int_equal(x509_key_from_pem(mine, strlen(mine), &back), 0);
			assert_int_equal(EVP_PKEY_eq(k, back), 1);
			EVP_PKEY_free(back);
		}
		secure_free_str(mine);
		free(theirs);
	}
}

static void test_ec_keys_every_curve(void **state)
{
	(void)state;
	static const struct {
		int bits;
		const char *group;
	} curves[] = {{224, "secp224r1"}, {256, "prime256v1"}, {384, "secp384r1"}, {521, "secp521r1"}};
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		EVP_PKEY *a = NULL, *b = NULL;
		char group[64];
		int bits;
		assert_int_equal(x509_keygen("ec", curves[i].bits, &a), 0);
		assert_int_equal(x509_keygen("ec", curves[i].bits, &b), 0);
		assert_string_equal(x509_key_type(a, &bits), "ec");
		assert_int_equal(bits, curves[i].bits);
		assert_int_equal(EVP_PKEY_get_utf8_string_param(a, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL), 1);
		assert_string_equal(group, curves[i].group);
		assert_int_not_equal(EVP_PKEY_eq(a, b), 1); /* two fresh keys */
		assert_same_as_openssl(a);
		assert_same_as_openssl(b);
		EVP_PKEY_free(a);
		EVP_PKEY_free(b);
	}
}

/* Many keys: the DER lengths vary with leading zero bytes of the scalar
 * (padded to the order's size) — none may differ from OpenSSL's. */
static void test_ec_many_p256(void **state)
{
	(void)state;
	for (int i = 0; i < 300; i++) {
		EVP_PKEY *k = NULL;
		assert_int_equal(x509_keygen("ec", 256, &k), 0);
		assert_same_as_openssl(k);
		EVP_PKEY_free(k);
	}
}

/* A compressed public point is not what the fast path writes: OpenSSL's
 * encoder answers, compressed point and all. */
static void test_ec_compressed_falls_back(void **state)
{
	(void)state;
	EVP_PKEY *k = NULL;
	assert_int_equal(x509_keygen("ec", 256, &k), 0);
	assert_int_equal(EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
							 OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED),
			 1);
	assert_same_as_openssl(k);
	EVP_PKEY_free(k);
}

/* Without its public key (not OpenSSL's default), likewise. */
static void test_ec_without_public_falls_back(void **state)
{
	(void)state;
	EVP_PKEY *k = NULL;
	assert_int_equal(x509_keygen("ec", 256, &k), 0);
	assert_int_equal(EVP_PKEY_set_int_param(k, OSSL_PKEY_PARAM_EC_INCLUDE_PUBLIC, 0), 1);
	assert_same_as_openssl(k);
	EVP_PKEY_free(k);
}

static void test_pkcs8_and_other_types(void **state)
{
	(void)state;
	EVP_PKEY *ec = NULL, *ed = NULL, *back = NULL;
	char *text = NULL;
	assert_int_equal(x509_keygen("ec", 256, &ec), 0);
	assert_int_equal(x509_key_to_text(ec, "pkcs8", &text), 0);
	assert_non_null(strstr(text, "-----BEGIN PRIVATE KEY-----"));
	assert_int_equal(x509_key_from_pem(text, strlen(text), &back), 0);
	assert_int_equal(EVP_PKEY_eq(ec, back), 1);
	secure_free_str(text);
	EVP_PKEY_free(back);
	assert_int_equal(x509_keygen("ed25519", 0, &ed), 0);
	assert_int_equal(x509_key_to_text(ed, "pem", &text), 0);
	assert_non_null(strstr(text, "-----BEGIN PRIVATE KEY-----"));
	secure_free_str(text);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ec_keys_every_curve),
	    cmocka_unit_test(test_ec_many_p256),
	    cmocka_unit_test(test_ec_compressed_falls_back),
	    cmocka_unit_test(test_ec_without_public_falls_back),
	    cmocka_unit_test(test_pkcs8_and_other_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
