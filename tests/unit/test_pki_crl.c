/* test_pki_crl.c — the CRL builder (src/engines/pki/crl.h) checked by
 * `openssl crl` (and python's cryptography): for RSA, EC P-256 and Ed25519 CAs the signature verifies
 * against the CA, the CRL number, entries, dates, authority key identifier
 * and the delta indicator are what was asked; PSS and named algorithms;
 * refusals (wrong key, no cRLSign, unknown or unfitting algorithm, bad
 * delta numbering, bad entries); the serial text forms; reading a CRL
 * back, and hostile bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "engines/pki/crl.h"
#include "err.h"
#include "pki_test_ca.h"

static const unsigned char serial_a[20] = {0x3f, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99,
                                           0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01, 0x02, 0x03, 0x04};
static const unsigned char serial_b[1] = {0x07};

static const int64_t revoked_at = 1767225600; /* 2026-01-01 00:00:00 UTC */

struct ca {
	EVP_PKEY *key;
	X509 *cert;
	char *dir, *ca_pem;
};

static void ca_make(struct ca *ca, const char *type)
{
	ca->key = test_key(type);
	ca->cert = test_ca(ca->key, "Trove Test CA", "critical,keyCertSign,cRLSign", true);
	ca->dir = test_tmpdir();
	ca->ca_pem = test_path(ca->dir, "ca.pem");
	test_write_cert(ca->ca_pem, ca->cert);
}

static void ca_free(struct ca *ca)
{
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	free(ca->ca_pem);
	test_rmdir(ca->dir);
}

static void params_for(struct crl_params *p, struct ca *ca, const struct crl_entry *e, size_t n)
{
	memset(p, 0, sizeof(*p));
	p->issuer_cert = ca->cert;
	p->issuer_key = ca->key;
	p->entries = e;
	p->n_entries = n;
	p->number = 7;
	p->now = (int64_t)time(NULL);
	p->expiry = CRL_DEFAULT_EXPIRY_SECONDS;
}

/* Builds, writes crl.der, and has openssl verify and print it into text. */
static void build_and_check(struct ca *ca, const struct crl_params *p, struct buf *text)
{
	unsigned char *der = NULL;
	size_t len = 0;
	struct buf why;
	char *path = test_path(ca->dir, "crl.der");

	buf_init(&why, 4096);
	assert_int_equal(crl_build(p, &der, &len, &why), 0);
	assert_true(len > 0);
	test_write(path, der, len);
	assert_int_equal(test_run(text, "openssl crl -inform DER -in %s -CAfile %s -noout", path, ca->ca_pem),
	                 0);
	assert_non_null(strstr(text->data, "verify OK"));
	assert_int_equal(test_run(text, "openssl crl -inform DER -in %s -noout -text", path), 0);
	OPENSSL_free(der);
	free(path);
	buf_release(&why);
}

static void full_crl_for(const char *type, const char *sigalg_text)
{
	struct crl_entry e[2] = {{serial_a, sizeof(serial_a), revoked_at},
	                         {serial_b, sizeof(serial_b), revoked_at + 60}};
	struct crl_params p;
	struct buf text;
	struct ca ca;

	buf_init(&text, 1 << 20);
	ca_make(&ca, type);
	params_for(&p, &ca, e, 2);
	build_and_check(&ca, &p, &text);
	assert_non_null(strstr(text.data, "Version 2"));
	assert_non_null(strstr(text.data, "Issuer: CN = Trove Test CA"));
	assert_non_null(strstr(text.data, "X509v3 CRL Number: \n                7\n"));
	assert_non_null(strstr(text.data, "X509v3 Authority Key Identifier"));
	assert_null(strstr(text.data, "Delta CRL Indicator"));
	assert_non_null(strstr(text.data, "Serial Number: 3F112233445566778899AABBCCDDEEFF01020304"));
	assert_non_null(strstr(text.data, "Serial Number: 07"));
	assert_non_null(strstr(text.data, "Revocation Date: Jan  1 00:00:00 2026 GMT"));
	assert_non_null(strstr(text.data, "Revocation Date: Jan  1 00:01:00 2026 GMT"));
	assert_non_null(strstr(text.data, sigalg_text));
	assert_null(strstr(text.data, "CRL Reason Code"));
	/* A second reader: python's cryptography (its own DER parser; the
	 * Debian version checks no Ed25519 CRL signature: None). */
	assert_int_equal(
	    test_run(&text,
	             "cd %s && /usr/bin/python3 -c 'from cryptography import x509; "
	             "c = x509.load_der_x509_crl(open(\"crl.der\", \"rb\").read()); "
	             "ca = x509.load_pem_x509_certificate(open(\"ca.pem\", \"rb\").read()); "
	             "k = ca.public_key(); "
	             "print(c.is_signature_valid(k) if hasattr(k, \"key_size\") else None, "
	             "c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number, len(c), "
	             "c.get_revoked_certificate_by_serial_number(7).revocation_date)'",
	             ca.dir),
	    0);
	assert_string_equal(text.data, strcmp(type, "ED25519") == 0 ? "None 7 2 2026-01-01 00:01:00\n"
	                                                            : "True 7 2 2026-01-01 00:01:00\n");
	ca_free(&ca);
	buf_release(&text);
}

static void test_full_rsa(void **state)
{
	(void)state;
	full_crl_for("RSA", "Signature Algorithm: sha256WithRSAEncryption");
}

static void test_full_ec(void **state)
{
	(void)state;
	full_crl_for("P-256", "Signature Algorithm: ecdsa-with-SHA256");
}

static void test_full_ed25519(void **state)
{
	(void)state;
	full_crl_for("ED25519", "Signature Algorithm: ED25519");
}

static void test_delta_and_dates(void **state)
{
	struct crl_entry e = {serial_b, sizeof(serial_b), revoked_at};
	struct crl_params p;
	struct crl_info info;
	struct buf text, why;
	unsigned char *der = NULL;
	size_t len;
	struct ca ca;

	(void)state;
	buf_init(&text, 1 << 20);
	buf_init(&why, 4096);
	ca_make(&ca, "P-256");
	params_for(&p, &ca, &e, 1);
	p.delta = true;
	p.number = 12;
	p.base_number = 10;
	p.now = 1767225600;
	p.expiry = 3600;
	build_and_check(&ca, &p, &text);
	assert_non_null(strstr(text.data, "X509v3 Delta CRL Indicator: critical\n                10\n"));
	assert_non_null(strstr(text.data, "X509v3 CRL Number: \n                12\n"));
	assert_non_null(strstr(text.data, "Last Update: Jan  1 00:00:00 2026 GMT"));
	assert_non_null(strstr(text.data, "Next Update: Jan  1 01:00:00 2026 GMT"));

	assert_int_equal(crl_build(&p, &der, &len, &why), 0);
	assert_int_equal(crl_read_info(der, len, &info, &why), 0);
	assert_int_equal(info.number, 12);
	assert_true(info.delta);
	assert_int_equal(info.base_number, 10);
	assert_int_equal(info.n_entries, 1);
	assert_int_equal(info.this_update, 1767225600);
	assert_int_equal(info.next_update, 1767225600 + 3600);

	/* Truncations and flipped bytes are refused or read, never a crash. */
	for (size_t n = 0; n < len; n++)
		assert_int_not_equal(crl_read_info(der, n, &info, &why), 0);
	for (size_t i = 0; i < len; i++) {
		der[i] ^= 0x5a;
		(void)crl_read_info(der, len, &info, &why);
		der[i] ^= 0x5a;
	}
	OPENSSL_free(der);
	ca_free(&ca);
	buf_release(&text);
	buf_release(&why);
}

static void test_empty_crl_and_pem(void **state)
{
	struct crl_params p;
	struct buf text, pem, why;
	unsigned char *der = NULL;
	size_t len;
	struct ca ca;
	char *path;

	(void)state;
	buf_init(&text, 1 << 20);
	buf_init(&pem, 1 << 20);
	buf_init(&why, 4096);
	ca_make(&ca, "RSA");
	params_for(&p, &ca, NULL, 0);
	p.number = 1;
	build_and_check(&ca, &p, &text);
	assert_non_null(strstr(text.data, "No Revoked Certificates."));

	assert_int_equal(crl_build(&p, &der, &len, &why), 0);
	assert_int_equal(crl_der_to_pem(der, len, &pem), 0);
	assert_memory_equal(pem.data, "-----BEGIN X509 CRL-----\n", 25);
	path = test_path(ca.dir, "crl.pem");
	test_write(path, pem.data, pem.len);
	assert_int_equal(test_run(&text, "openssl crl -in %s -CAfile %s -noout", path, ca.ca_pem), 0);
	assert_non_null(strstr(text.data, "verify OK"));
	assert_int_equal(crl_der_to_pem((const unsigned char *)"\x30\x03\x02\x01\x01", 5, &pem),
	                 TROVE_ERR_INVALID);
	free(path);
	OPENSSL_free(der);
	ca_free(&ca);
	buf_release(&text);
	buf_release(&pem);
	buf_release(&why);
}

static void expect_refusal(const struct crl_params *p, int code, const char *reason);

/* A full CRL names where its deltas are; a delta CRL does not. */
static void test_freshest_crl(void **state)
{
	static const char *const urls[] = {"http://ca.example/v1/pki/crl/delta",
	                                   "http://backup.example/delta.crl"};
	static const char *const bad[] = {"http://a b"};
	struct crl_params p;
	struct buf text;
	struct ca ca;

	(void)state;
	buf_init(&text, 1 << 20);
	ca_make(&ca, "P-256");
	params_for(&p, &ca, NULL, 0);
	p.delta_crl_urls = urls;
	p.n_delta_crl_urls = 2;
	build_and_check(&ca, &p, &text);
	assert_non_null(strstr(text.data, "X509v3 Freshest CRL: \n"));
	assert_non_null(strstr(text.data, "URI:http://ca.example/v1/pki/crl/delta\n"));
	assert_non_null(strstr(text.data, "URI:http://backup.example/delta.crl\n"));
	p.delta = true;
	p.base_number = 3;
	build_and_check(&ca, &p, &text);
	assert_null(strstr(text.data, "Freshest CRL"));
	p.delta = false;
	p.delta_crl_urls = bad;
	p.n_delta_crl_urls = 1;
	expect_refusal(&p, TROVE_ERR_INVALID, "delta_crl_distribution_points");
	ca_free(&ca);
	buf_release(&text);
}

static void test_named_algorithms(void **state)
{
	struct crl_params p;
	struct buf text;
	struct ca ca;

	(void)state;
	buf_init(&text, 1 << 20);
	ca_make(&ca, "RSA");
	params_for(&p, &ca, NULL, 0);
	p.signature_algorithm = "SHA384WithRSAPSS";
	build_and_check(&ca, &p, &text);
	assert_non_null(strstr(text.data, "Signature Algorithm: rsassaPss"));
	assert_non_null(strstr(text.data, "Hash Algorithm: sha384"));
	p.signature_algorithm = "sha512-rsa";
	build_and_check(&ca, &p, &text);
	assert_non_null(strstr(text.data, "Signature Algorithm: sha512WithRSAEncryption"));
	ca_free(&ca);

	ca_make(&ca, "P-256");
	params_for(&p, &ca, NULL, 0);
	p.signature_algorithm = "ECDSAWithSHA384";
	build_and_check(&ca, &p, &text);
	assert_non_null(strstr(text.data, "Signature Algorithm: ecdsa-with-SHA384"));
	ca_free(&ca);

	ca_make(&ca, "ED25519");
	params_for(&p, &ca, NULL, 0);
	p.signature_algorithm = "PureEd25519";
	build_and_check(&ca, &p, &text);
	ca_free(&ca);
	buf_release(&text);
}

static void expect_refusal(const struct crl_params *p, int code, const char *reason)
{
	unsigned char *der = (unsigned char *)1;
	size_t len = 1;
	struct buf why;

	buf_init(&why, 4096);
	assert_int_equal(crl_build(p, &der, &len, &why), code);
	assert_null(der);
	assert_int_equal(len, 0);
	assert_non_null(strstr(why.data, reason));
	buf_release(&why);
}

static void test_refusals(void **state)
{
	struct crl_entry bad_serial = {serial_a, 0, revoked_at};
	struct crl_entry bad_time = {serial_a, sizeof(serial_a), -5};
	EVP_PKEY *other = test_key("P-256");
	X509 *no_crl_sign;
	struct crl_params p;
	struct ca ca;

	(void)state;
	ca_make(&ca, "P-256");
	params_for(&p, &ca, NULL, 0);
	p.issuer_key = other;
	expect_refusal(&p, TROVE_ERR_INVALID, "issuer: key does not match the certificate");
	p.issuer_key = ca.key;
	p.signature_algorithm = "SHA256WithRSA";
	expect_refusal(&p, TROVE_ERR_INVALID, "revocation_signature_algorithm: does not fit");
	p.signature_algorithm = "MD5WithRSA";
	expect_refusal(&p, TROVE_ERR_INVALID, "revocation_signature_algorithm: unknown");
	p.signature_algorithm = "a-very-long-algorithm-name-that-fits-nothing-at-all";
	expect_refusal(&p, TROVE_ERR_INVALID, "revocation_signature_algorithm: unknown");
	p.signature_algorithm = NULL;
	p.delta = true;
	p.base_number = p.number;
	expect_refusal(&p, TROVE_ERR_INVALID, "delta CRL: base number");
	p.delta = false;
	p.expiry = -1;
	expect_refusal(&p, TROVE_ERR_INVALID, "expiry");
	p.expiry = INT64_MAX;
	expect_refusal(&p, TROVE_ERR_INVALID, "expiry");
	p.expiry = 60;
	p.entries = &bad_serial;
	p.n_entries = 1;
	expect_refusal(&p, TROVE_ERR_INVALID, "revoked entry");
	p.entries = &bad_time;
	expect_refusal(&p, TROVE_ERR_INVALID, "revoked entry");

	no_crl_sign = test_ca(ca.key, "No CRL CA", "critical,keyCertSign", true);
	params_for(&p, &ca, NULL, 0);
	p.issuer_cert = no_crl_sign;
	expect_refusal(&p, TROVE_ERR_INVALID, "cRLSign");
	X509_free(no_crl_sign);
	EVP_PKEY_free(other);
	ca_free(&ca);
}

/* A CA without a subject key identifier still gets one in the CRL: the
 * SHA-1 of its key, which is what openssl computes for the CA. */
static void test_akid_without_skid(void **state)
{
	struct crl_params p;
	struct buf text;
	struct ca ca;
	char hex[3 * 20 + 1];
	unsigned char md[20];
	unsigned int n = 0;

	(void)state;
	buf_init(&text, 1 << 20);
	ca_make(&ca, "P-256");
	X509_free(ca.cert);
	ca.cert = test_ca(ca.key, "Trove Test CA", NULL, false);
	test_write_cert(ca.ca_pem, ca.cert);
	params_for(&p, &ca, NULL, 0);
	build_and_check(&ca, &p, &text);
	assert_int_equal(X509_pubkey_digest(ca.cert, EVP_sha1(), md, &n), 1);
	for (unsigned i = 0; i < n; i++)
		snprintf(hex + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
	assert_non_null(strstr(text.data, hex));
	ca_free(&ca);
	buf_release(&text);
}

static void test_serial_text(void **state)
{
	unsigned char out[CRL_SERIAL_MAX];
	size_t n = 0;
	struct buf why;
	static const char *bad[] = {"",         "1",  "1a:",   ":1a",  "1a:2", "1a::2b",
	                            "1a:2b-3c", "zz", "1a 2b", "1a2b", "0x1a", "1a:2b:"};

	(void)state;
	buf_init(&why, 4096);
	assert_int_equal(crl_serial_parse("1a:2B:03", 8, out, sizeof(out), &n, &why), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\x1a\x2b\x03", 3);
	assert_int_equal(crl_serial_parse("ff-00-7e", 8, out, sizeof(out), &n, &why), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\xff\x00\x7e", 3);
	assert_int_equal(crl_serial_parse("07", 2, out, sizeof(out), &n, &why), 0);
	assert_int_equal(n, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&why);
		assert_int_equal(crl_serial_parse(bad[i], strlen(bad[i]), out, sizeof(out), &n, &why),
		                 TROVE_ERR_INVALID);
		assert_memory_equal(why.data, "serial_number: ", 15);
	}
	assert_int_equal(crl_serial_parse("01:02:03", 8, out, 2, &n, &why), TROVE_ERR_INVALID);
	buf_release(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_rsa),          cmocka_unit_test(test_full_ec),
	    cmocka_unit_test(test_full_ed25519),      cmocka_unit_test(test_delta_and_dates),
	    cmocka_unit_test(test_empty_crl_and_pem), cmocka_unit_test(test_named_algorithms),
	    cmocka_unit_test(test_refusals),          cmocka_unit_test(test_akid_without_skid),
	    cmocka_unit_test(test_serial_text),       cmocka_unit_test(test_freshest_crl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
