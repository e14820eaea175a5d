/* test_pki_cli.c — the judging parts of `trove pki`: verify-sign's five
 * relations on certificates made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli/pki.h"
#include "pki_test_ca.h"

/* ---- certificates ----------------------------------------------------- */

static char *pem_of(X509 *c)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	assert_int_equal(PEM_write_bio_X509(b, c), 1);
	n = BIO_get_mem_data(b, &p);
	out = strndup(p, (size_t)n);
	BIO_free(b);
	return out;
}

static void test_verify_sign(void **state)
{
	EVP_PKEY *rk = test_key("P-256"), *ok = test_key("P-256");
	X509 *root = test_ca(rk, "Root", "critical,keyCertSign,cRLSign", true);
	X509 *other = test_ca(ok, "Root", "critical,keyCertSign,cRLSign", true); /* same name, other key */
	static const unsigned char serial[] = {0x42};
	X509 *leaf = test_leaf(root, rk, "leaf.example", serial, sizeof(serial));
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct pki_sign_match m;
	json_t *j;
	char *pem = pem_of(leaf);
	X509 *back;

	(void)state;
	sk_X509_push(chain, X509_dup(root));
	pki_verify_sign(root, leaf, chain, &m);
	assert_true(m.signature_match && m.subject_match && m.trust_match && m.path_match);
	assert_false(m.key_id_match); /* the leaf has no authority key id, the root a subject key id */

	pki_verify_sign(root, leaf, NULL, &m);
	assert_false(m.path_match);

	/* Same subject, another key: only the names agree. */
	pki_verify_sign(other, leaf, chain, &m);
	assert_true(m.subject_match);
	assert_false(m.signature_match || m.trust_match || m.path_match);

	/* A root against itself. */
	pki_verify_sign(root, root, NULL, &m);
	assert_true(m.signature_match && m.subject_match && m.trust_match);

	/* A leaf signs nothing, even itself; trusting it trusts it alone. */
	pki_verify_sign(leaf, leaf, NULL, &m);
	assert_false(m.signature_match);
	assert_true(m.trust_match);

	j = pki_sign_match_json(&m);
	assert_string_equal(json_object_iter_key(json_object_iter(j)), "key_id_match");
	assert_int_equal(json_object_size(j), 5);
	json_decref(j);

	back = pki_cert_from_pem(pem);
	assert_non_null(back);
	assert_int_equal(X509_cmp(back, leaf), 0);
	X509_free(back);
	assert_null(
	    pki_cert_from_pem("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"));
	assert_null(pki_cert_from_pem(""));
	{
		STACK_OF(X509) *sk = sk_X509_new_null();
		char *two = NULL;

		assert_true(asprintf(&two, "%s%s", pem, pem) > 0);
		assert_int_equal(pki_certs_from_pem(two, sk), 2);
		/* Other PEM blocks are passed over; a broken certificate is an error. */
		assert_int_equal(
		    pki_certs_from_pem("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", sk), 0);
		assert_int_equal(
		    pki_certs_from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", sk),
		    -1);
		assert_int_equal(sk_X509_num(sk), 2);
		sk_X509_pop_free(sk, X509_free);
		free(two);
	}

	free(pem);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	X509_free(root);
	X509_free(other);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ok);
}

static void test_clean_path(void **state)
{
	char *p;

	(void)state;
	p = pki_clean_path("  /pki/issuer/root/ ");
	assert_string_equal(p, "pki/issuer/root");
	free(p);
	p = pki_clean_path("///");
	assert_string_equal(p, "");
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verify_sign),
	    cmocka_unit_test(test_clean_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
