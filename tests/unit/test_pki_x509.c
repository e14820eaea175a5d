/* test_pki_x509.c — the PKI engine's cryptography (engines/pki/x509.c):
 * every key type signs a CA and a leaf that verify, serials are 20 random
 * bytes in Vault's colon form, client serials are canonicalised, and bad
 * CSRs and key parameters are refused with the field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "engines/pki/x509.h"
#include "err.h"
#include "secure.h"

static X509_NAME *name_of(const char *cn)
{
	struct x509_subject s;
	X509_NAME *n = NULL;
	x509_subject_init(&s);
	s.cn = cn;
	strlist_push(&s.org, "Trove");
	assert_int_equal(x509_name_build(&s, &n), 0);
	x509_subject_release(&s);
	return n;
}

/* x509_cert_to_pem writes the bytes OpenSSL's PEM writer does. */
static void pem_as_openssl(X509 *c)
{
	char *mine = NULL, *theirs = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509(b, c), 1);
	long n = BIO_get_mem_data(b, &theirs);
	assert_int_equal(x509_cert_to_pem(c, &mine), 0);
	assert_int_equal(strlen(mine), (size_t)n);
	assert_memory_equal(mine, theirs, (size_t)n);
	free(mine);
	BIO_free(b);
}

static void sign_chain(const char *type, int bits, int want_bits)
{
	EVP_PKEY *ca_key = NULL, *leaf_key = NULL;
	X509 *ca = NULL, *leaf = NULL;
	X509_NAME *ca_name = name_of("Root"), *leaf_name = name_of("leaf.example.com");
	struct x509_sans sans;
	const char *why = NULL;
	int got_bits;

	assert_int_equal(x509_keygen(type, bits, &ca_key), 0);
	assert_string_equal(x509_key_type(ca_key, &got_bits), type);
	assert_int_equal(got_bits, want_bits);
	assert_int_equal(x509_keygen(type, bits, &leaf_key), 0);
	struct x509_spec ca_spec = {.subject = ca_name, .pubkey = ca_key, .not_before = 1700000000,
				    .not_after = 1900000000, .is_ca = true, .max_path_length = 1,
				    .key_usage = X509_KU_CERT_SIGN | X509_KU_CRL_SIGN};
	assert_int_equal(x509_cert_sign(&ca_spec, NULL, ca_key, &ca, &why), 0);
	assert_true(x509_issued_by(ca, ca));
	assert_int_equal(X509_get_pathlen(ca), 1);

	x509_sans_init(&sans);
	assert_int_equal(x509_sans_add(&sans, "alt_names", "leaf.example.com", &why), 0);
	assert_int_equal(x509_sans_add(&sans, "ip_sans", "127.0.0.1", &why), 0);
	assert_int_equal(x509_sans_add(&sans, "other_sans", "1.3.6.1.4.1.311.20.2.3;UTF8:me@example.com", &why), 0);
	struct x509_spec leaf_spec = {.subject = leaf_name, .pubkey = leaf_key, .sans = &sans,
				      .not_before = 1700000000, .not_after = 1800000000,
				      .key_usage = X509_KU_DIGITAL_SIGNATURE, .ext_key_usage = X509_EKU_SERVER};
	assert_int_equal(x509_cert_sign(&leaf_spec, ca, ca_key, &leaf, &why), 0);
	assert_true(x509_issued_by(leaf, ca));
	assert_false(x509_issued_by(leaf, leaf));
	/* parsed back, the leaf carries exactly its key */
	char *leaf_pem = NULL;
	X509 *parsed = NULL;
	pem_as_openssl(leaf);
	pem_as_openssl(ca);
	assert_int_equal(x509_cert_to_pem(leaf, &leaf_pem), 0);
	assert_int_equal(x509_cert_from_pem(leaf_pem, strlen(leaf_pem), &parsed), 0);
	assert_non_null(X509_get0_pubkey(parsed));
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(parsed), leaf_key), 1);
	assert_int_equal(X509_check_private_key(parsed, leaf_key), 1);
	assert_true(x509_issued_by(parsed, ca));
	X509_free(parsed);
	free(leaf_pem);
	assert_int_equal(x509_not_after(leaf), 1800000000);
	assert_int_equal(x509_not_before(leaf), 1700000000);
	assert_int_equal(X509_check_host(leaf, "leaf.example.com", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
	assert_true(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE);
	assert_false(X509_check_ca(leaf));
	assert_true(X509_check_ca(ca));

	/* the private key survives a PEM round trip in each form */
	const char *forms[] = {"pem", "pkcs8"};
	for (size_t i = 0; i < 2; i++) {
		char *text = NULL;
		EVP_PKEY *back = NULL;
		assert_int_equal(x509_key_to_text(ca_key, forms[i], &text), 0);
		assert_int_equal(x509_key_from_pem(text, strlen(text), &back), 0);
		assert_int_equal(EVP_PKEY_eq(back, ca_key), 1);
		EVP_PKEY_free(back);
		secure_free_str(text);
	}

	x509_sans_release(&sans);
	X509_free(leaf);
	X509_free(ca);
	X509_NAME_free(leaf_name);
	X509_NAME_free(ca_name);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(ca_key);
}

static void test_rsa(void **state)
{
	(void)state;
	sign_chain("rsa", 2048, 2048);
}

static void test_rsa_3072_4096(void **state)
{
	(void)state;
	sign_chain("rsa", 3072, 3072);
	sign_chain("rsa", 4096, 4096);
}

static void test_ec(void **state)
{
	(void)state;
	sign_chain("ec", 256, 256);
	sign_chain("ec", 384, 384);
	sign_chain("ec", 521, 521);
}

static void test_ed25519(void **state)
{
	(void)state;
	sign_chain("ed25519", 0, 0);
}

static void test_key_params(void **state)
{
	const char *why = NULL;
	int bits = -1;
	(void)state;
	assert_int_equal(x509_key_params("rsa", 0, &bits, &why), 0);
	assert_int_equal(bits, 2048);
	assert_int_equal(x509_key_params("ec", 0, &bits, &why), 0);
	assert_int_equal(bits, 256);
	assert_int_equal(x509_key_params("ed25519", 0, &bits, &why), 0);
	assert_int_equal(bits, 0);
	assert_int_equal(x509_key_params("rsa", 1024, &bits, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "key_bits"));
	assert_int_equal(x509_key_params("ec", 255, &bits, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "key_bits"));
	assert_int_equal(x509_key_params("dsa", 0, &bits, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "key_type"));
}

static void test_serials(void **state)
{
	char a[X509_SERIAL_TEXT_MAX], b[X509_SERIAL_TEXT_MAX];
	(void)state;
	for (int i = 0; i < 64; i++) {
		ASN1_INTEGER *s = NULL;
		assert_int_equal(x509_serial_random(&s), 0);
		assert_int_equal(ASN1_STRING_length(s), 20);
		assert_int_equal(x509_serial_text(s, a), 0);
		assert_int_equal(strlen(a), 20 * 3 - 1);
		for (int j = 2; j < 59; j += 3)
			assert_int_equal(a[j], ':');
		ASN1_INTEGER *t = NULL;
		assert_int_equal(x509_serial_random(&t), 0);
		assert_int_equal(x509_serial_text(t, b), 0);
		assert_string_not_equal(a, b);
		ASN1_INTEGER_free(s);
		ASN1_INTEGER_free(t);
	}
	assert_int_equal(x509_serial_canon("0A-BC-de", a), 0);
	assert_string_equal(a, "0a:bc:de");
	assert_int_equal(x509_serial_canon("0a:BC:de", a), 0);
	assert_string_equal(a, "0a:bc:de");
	assert_int_equal(x509_serial_canon("0abcde", a), 0);
	assert_string_equal(a, "0a:bc:de");
	assert_int_equal(x509_serial_canon("0a:bc:d", a), TROVE_ERR_INVALID);
	assert_int_equal(x509_serial_canon("zz", a), TROVE_ERR_INVALID);
	assert_int_equal(x509_serial_canon("", a), TROVE_ERR_INVALID);
	assert_int_equal(x509_serial_canon("../etc", a), TROVE_ERR_INVALID);
}

static void test_csr(void **state)
{
	EVP_PKEY *k = NULL;
	X509_REQ *q = NULL, *back = NULL;
	X509_NAME *n = name_of("int.example.com");
	struct x509_sans sans, got;
	const char *why = NULL;
	char *pem = NULL;
	(void)state;

	x509_sans_init(&sans);
	x509_sans_init(&got);
	assert_int_equal(x509_sans_add(&sans, "alt_names", "a.example.com", &why), 0);
	assert_int_equal(x509_sans_add(&sans, "ip_sans", "::1", &why), 0);
	assert_int_equal(x509_keygen("ec", 256, &k), 0);
	assert_int_equal(x509_csr_build(k, n, &sans, &q), 0);
	assert_int_equal(x509_csr_to_pem(q, &pem), 0);
	assert_int_equal(x509_csr_parse(pem, strlen(pem), &back, &why), 0);
	assert_int_equal(x509_csr_sans(back, &got), 0);
	assert_int_equal(got.dns.len, 1);
	assert_string_equal(got.dns.items[0], "a.example.com");
	assert_int_equal(got.ip.len, 1);
	assert_string_equal(got.ip.items[0], "::1");
	X509_REQ_free(back);
	back = NULL;

	/* garbage, truncation and a broken signature are refused, naming csr */
	assert_int_equal(x509_csr_parse("hello", 5, &back, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "csr"));
	assert_int_equal(x509_csr_parse(pem, strlen(pem) / 2, &back, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "csr"));
	assert_int_equal(x509_csr_parse("", 0, &back, &why), TROVE_ERR_INVALID);
	char *bad = strdup(pem);
	char *body = strstr(bad, "\n") + 1;
	body[40] = body[40] == 'A' ? 'B' : 'A'; /* inside the subject: the signature no longer matches */
	assert_int_equal(x509_csr_parse(bad, strlen(bad), &back, &why), TROVE_ERR_INVALID);
	assert_null(back);
	free(bad);

	x509_sans_release(&sans);
	x509_sans_release(&got);
	free(pem);
	X509_REQ_free(q);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

static void test_extension_values(void **state)
{
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	X509_NAME *n = name_of("urls");
	struct strlist good, bad;
	const char *why = NULL;
	(void)state;

	strlist_init(&good);
	strlist_init(&bad);
	strlist_push(&good, "http://ca.example/crl");
	strlist_push(&bad, "http://ca.example/crl,DNS:evil.example");
	assert_true(x509_value_safe("http://ok.example/x"));
	assert_false(x509_value_safe("a,b"));
	assert_false(x509_value_safe("@section"));
	assert_false(x509_value_safe("line\nbreak"));
	assert_false(x509_value_safe(""));
	assert_int_equal(x509_keygen("ec", 256, &k), 0);
	struct x509_spec spec = {.subject = n, .pubkey = k, .not_before = 1700000000, .not_after = 1800000000,
				 .crl_distribution_points = &good, .issuing_certificates = &good, .ocsp_servers = &good};
	assert_int_equal(x509_cert_sign(&spec, NULL, k, &c, &why), 0);
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(c, NID_info_access, NULL, NULL);
	assert_non_null(aia);
	assert_int_equal(sk_ACCESS_DESCRIPTION_num(aia), 2);
	AUTHORITY_INFO_ACCESS_free(aia);
	STACK_OF(DIST_POINT) *dp = X509_get_ext_d2i(c, NID_crl_distribution_points, NULL, NULL);
	assert_int_equal(sk_DIST_POINT_num(dp), 1);
	sk_DIST_POINT_pop_free(dp, DIST_POINT_free);
	X509_free(c);
	c = NULL;
	/* a ',' would smuggle another name into the extension: refused */
	spec.crl_distribution_points = &bad;
	assert_int_equal(x509_cert_sign(&spec, NULL, k, &c, &why), TROVE_ERR_INVALID);
	assert_null(c);
	spec.crl_distribution_points = NULL;
	spec.ocsp_servers = &bad;
	assert_int_equal(x509_cert_sign(&spec, NULL, k, &c, &why), TROVE_ERR_INVALID);
	spec.ocsp_servers = NULL;
	spec.is_ca = true;
	spec.max_path_length = -1;
	spec.permitted_dns_domains = &bad;
	assert_int_equal(x509_cert_sign(&spec, NULL, k, &c, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "permitted_dns_domains"));
	strlist_release(&good);
	strlist_release(&bad);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

static void test_sans_errors(void **state)
{
	struct x509_sans s;
	const char *why = NULL;
	(void)state;
	x509_sans_init(&s);
	assert_int_equal(x509_sans_add(&s, "ip_sans", "300.1.1.1", &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "ip_sans"));
	assert_int_equal(x509_sans_add(&s, "other_sans", "1.2.3;RAW:x", &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "other_sans"));
	assert_int_equal(x509_sans_add(&s, "other_sans", "not-an-oid;UTF8:x", &why), TROVE_ERR_INVALID);
	assert_int_equal(x509_sans_add(&s, "alt_names", "me@example.com", &why), 0);
	assert_int_equal(s.email.len, 1);
	x509_sans_release(&s);
}

static void test_bundle_split(void **state)
{
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	X509_NAME *n = name_of("bundle");
	char *kpem = NULL, *cpem = NULL;
	struct strlist certs, keys;
	const char *why = NULL;
	(void)state;

	assert_int_equal(x509_keygen("ec", 256, &k), 0);
	struct x509_spec spec = {.subject = n, .pubkey = k, .not_before = 1700000000, .not_after = 1800000000,
				 .is_ca = true, .max_path_length = -1};
	assert_int_equal(x509_cert_sign(&spec, NULL, k, &c, &why), 0);
	assert_int_equal(x509_key_to_text(k, "pem", &kpem), 0);
	assert_int_equal(x509_cert_to_pem(c, &cpem), 0);
	size_t len = strlen(kpem) + strlen(cpem) + 16;
	char *bundle = malloc(len);
	snprintf(bundle, len, "junk\n%s\n%s", cpem, kpem);
	strlist_init(&certs);
	strlist_init(&keys);
	assert_int_equal(x509_pem_bundle_split(bundle, strlen(bundle), &certs, &keys, &why), 0);
	assert_int_equal(certs.len, 1);
	assert_int_equal(keys.len, 1);
	assert_string_equal(certs.items[0], cpem);
	assert_int_equal(x509_pem_bundle_split("nothing", 7, &certs, &keys, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "pem_bundle"));
	const char broken[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
	assert_int_equal(x509_pem_bundle_split(broken, sizeof(broken) - 1, &certs, &keys, &why), TROVE_ERR_INVALID);
	strlist_release(&certs);
	strlist_release(&keys);
	free(bundle);
	secure_free_str(kpem);
	free(cpem);
	X509_free(c);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rsa),         cmocka_unit_test(test_rsa_3072_4096), cmocka_unit_test(test_ec),
	    cmocka_unit_test(test_ed25519),     cmocka_unit_test(test_key_params),    cmocka_unit_test(test_serials),
	    cmocka_unit_test(test_csr),         cmocka_unit_test(test_sans_errors),   cmocka_unit_test(test_extension_values),   cmocka_unit_test(test_bundle_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
