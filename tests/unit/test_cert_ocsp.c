/* test_cert_ocsp.c — the checks an OCSP response must pass before a
 * cert-method login believes it (cert_ocsp_check_response), on responses
 * built here with OpenSSL: who signed it, which certificate it answers
 * for, its times, its status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "auth/cert_auth.h"
#include "err.h"
#include "pki_test_ca.h"

static EVP_PKEY *ca_key, *other_key, *resp_key;
static X509 *ca, *other_ca, *leaf, *leaf2;

static const unsigned char SERIAL1[] = {0x11, 0x22}, SERIAL2[] = {0x33, 0x44}, SERIAL3[] = {0x55};

/* A certificate for resp_key issued by issuer, with id-kp-OCSPSigning
 * when ocsp_signing. */
static X509 *responder_cert(X509 *issuer, EVP_PKEY *issuer_key, bool ocsp_signing)
{
	X509 *c = test_leaf(issuer, issuer_key, "responder", SERIAL3, sizeof(SERIAL3));
	X509V3_CTX ctx;

	assert_int_equal(X509_set_pubkey(c, resp_key), 1);
	if (ocsp_signing) {
		X509V3_set_ctx(&ctx, issuer, c, NULL, NULL, 0);
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage, "OCSPSigning");
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(c, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(c, issuer_key, EVP_sha256()) > 0);
	return c;
}

struct spec {
	X509 *subject;    /* the certificate answered for */
	int status;       /* V_OCSP_CERTSTATUS_* */
	long this_offset; /* seconds from now */
	long next_offset; /* seconds from now; 0: no nextUpdate */
	X509 *signer;     /* certificate, carried in the response */
	EVP_PKEY *key;
	int resp_status; /* OCSP_RESPONSE_STATUS_* */
};

/* DER of the response spec describes; *len bytes, OPENSSL_free. */
static unsigned char *response(const struct spec *s, int *len)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_CERTID *cid = OCSP_cert_to_id(EVP_sha1(), s->subject, ca);
	ASN1_TIME *thisupd = X509_gmtime_adj(NULL, s->this_offset);
	ASN1_TIME *nextupd = s->next_offset ? X509_gmtime_adj(NULL, s->next_offset) : NULL;
	ASN1_TIME *rev = X509_gmtime_adj(NULL, -60);
	unsigned char *der = NULL;
	OCSP_RESPONSE *r;

	assert_non_null(
	    OCSP_basic_add1_status(bs, cid, s->status, s->status == V_OCSP_CERTSTATUS_REVOKED ? 0 : -1,
	                           s->status == V_OCSP_CERTSTATUS_REVOKED ? rev : NULL, thisupd, nextupd));
	assert_int_equal(OCSP_basic_sign(bs, s->signer, s->key, EVP_sha256(), NULL, 0), 1);
	r = OCSP_response_create(s->resp_status,
	                         s->resp_status == OCSP_RESPONSE_STATUS_SUCCESSFUL ? bs : NULL);
	assert_non_null(r);
	*len = i2d_OCSP_RESPONSE(r, &der);
	assert_true(*len > 0);
	OCSP_RESPONSE_free(r);
	ASN1_TIME_free(thisupd);
	ASN1_TIME_free(nextupd);
	ASN1_TIME_free(rev);
	OCSP_CERTID_free(cid);
	OCSP_BASICRESP_free(bs);
	return der;
}

static struct spec good_by_issuer(void)
{
	return (struct spec){.subject = leaf,
	                     .status = V_OCSP_CERTSTATUS_GOOD,
	                     .this_offset = -60,
	                     .next_offset = 3600,
	                     .signer = ca,
	                     .key = ca_key,
	                     .resp_status = OCSP_RESPONSE_STATUS_SUCCESSFUL};
}

/* Checks spec's response for leaf; returns the code, *status and *why. */
static int check(const struct spec *s, STACK_OF(X509) * extra, int64_t max_age, enum cert_ocsp_status *status,
                 const char **why)
{
	int len;
	unsigned char *der = response(s, &len);
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf, ca);
	int r = cert_ocsp_check_response(der, (size_t)len, id, ca, extra, max_age, status, why);
	OCSP_CERTID_free(id);
	OPENSSL_free(der);
	return r;
}

static void test_good_revoked_unknown(void **state)
{
	(void)state;
	enum cert_ocsp_status st;
	const char *why;
	struct spec s = good_by_issuer();

	assert_int_equal(check(&s, NULL, 0, &st, &why), 0);
	assert_int_equal(st, CERT_OCSP_GOOD);
	assert_null(why);
	s.status = V_OCSP_CERTSTATUS_REVOKED;
	assert_int_equal(check(&s, NULL, 0, &st, &why), 0);
	assert_int_equal(st, CERT_OCSP_REVOKED);
	s.status = V_OCSP_CERTSTATUS_UNKNOWN;
	assert_int_equal(check(&s, NULL, 0, &st, &why), 0);
	assert_int_equal(st, CERT_OCSP_UNKNOWN);
	assert_non_null(strstr(why, "does not know"));
}

static void test_signer_must_be_issuer_or_delegated(void **state)
{
	(void)state;
	enum cert_ocsp_status st;
	const char *why;
	struct spec s = good_by_issuer();

	/* A stranger's self-signed CA. */
	s.signer = other_ca, s.key = other_key;
	assert_int_equal(check(&s, NULL, 0, &st, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "not signed by the issuer"));
	/* Trusting the stranger does not make it the issuer's responder. */
	STACK_OF(X509) *extra = sk_X509_new_null();
	sk_X509_push(extra, other_ca);
	assert_int_equal(check(&s, extra, 0, &st, &why), TROVE_ERR_INVALID);
	sk_X509_free(extra);
	/* A responder the issuer delegated with id-kp-OCSPSigning. */
	X509 *delegated = responder_cert(ca, ca_key, true);
	s.signer = delegated, s.key = resp_key;
	assert_int_equal(check(&s, NULL, 0, &st, &why), 0);
	assert_int_equal(st, CERT_OCSP_GOOD);
	/* The same key without the extended key usage. */
	X509 *plain = responder_cert(ca, ca_key, false);
	s.signer = plain;
	assert_int_equal(check(&s, NULL, 0, &st, &why), TROVE_ERR_INVALID);
	/* OCSPSigning, but issued by the stranger. */
	X509 *foreign = responder_cert(other_ca, other_key, true);
	s.signer = foreign;
	assert_int_equal(check(&s, NULL, 0, &st, &why), TROVE_ERR_INVALID);
	X509_free(delegated);
	X509_free(plain);
	X509_free(foreign);
}

static void test_answer_must_name_the_certificate(void **state)
{
	(void)state;
	enum cert_ocsp_status st;
	const char *why;
	struct spec s = good_by_issuer();

	s.subject = leaf2;
	assert_int_equal(check(&s, NULL, 0, &st, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "does not answer for this certificate"));
	assert_int_equal(st, CERT_OCSP_UNKNOWN);
}

static void test_times(void **state)
{
	(void)state;
	enum cert_ocsp_status st;
	const char *why;
	struct spec s = good_by_issuer();

	s.next_offset = -3600; /* nextUpdate past */
	s.this_offset = -7200;
	assert_int_equal(check(&s, NULL, 0, &st, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "not current"));
	s = good_by_issuer();
	s.this_offset = 3600; /* thisUpdate in the future, beyond the skew */
	s.next_offset = 7200;
	assert_int_equal(check(&s, NULL, 0, &st, &why), TROVE_ERR_INVALID);
	s.this_offset = 60; /* within the skew */
	assert_int_equal(check(&s, NULL, 0, &st, &why), 0);
	s = good_by_issuer();
	s.next_offset = 0; /* no nextUpdate: allowed */
	assert_int_equal(check(&s, NULL, 0, &st, &why), 0);
	s.this_offset = -7200; /* older than a max age of an hour */
	assert_int_equal(check(&s, NULL, 3600, &st, &why), TROVE_ERR_INVALID);
	assert_non_null(strstr(why, "ocsp_this_update_max_age"));
	assert_int_equal(check(&s, NULL, 86400, &st, &why), 0);
}

static void test_not_successful_and_garbage(void **state)
{
	(void)state;
	enum cert_ocsp_status st;
	const char *why;
	struct spec s = good_by_issuer();
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf, ca);

	s.resp_status = OCSP_RESPONSE_STATUS_TRYLATER;
	assert_int_equal(check(&s, NULL, 0, &st, &why), TROVE_ERR_UPSTREAM);
	assert_non_null(strstr(why, "successful"));
	static const unsigned char junk[] = {0x30, 0x03, 0x0a, 0x01};
	assert_int_equal(cert_ocsp_check_response(junk, sizeof(junk), id, ca, NULL, 0, &st, &why),
	                 TROVE_ERR_INVALID);
	assert_int_equal(cert_ocsp_check_response(junk, 0, id, ca, NULL, 0, &st, &why), TROVE_ERR_INVALID);
	/* A good response with a byte after it. */
	s = good_by_issuer();
	int len;
	unsigned char *der = response(&s, &len);
	unsigned char *more = OPENSSL_malloc((size_t)len + 1);
	memcpy(more, der, (size_t)len);
	more[len] = 0;
	assert_int_equal(cert_ocsp_check_response(more, (size_t)len, id, ca, NULL, 0, &st, &why), 0);
	assert_int_equal(cert_ocsp_check_response(more, (size_t)len + 1, id, ca, NULL, 0, &st, &why),
	                 TROVE_ERR_INVALID);
	/* Over the 64 KiB cap: not parsed. */
	assert_int_equal(cert_ocsp_check_response(more, (size_t)1 << 17, id, ca, NULL, 0, &st, &why),
	                 TROVE_ERR_INVALID);
	OPENSSL_free(more);
	OPENSSL_free(der);
	OCSP_CERTID_free(id);
}

static int setup(void **state)
{
	(void)state;
	ca_key = test_key("P-256");
	other_key = test_key("P-256");
	resp_key = test_key("P-256");
	ca = test_ca(ca_key, "OCSP test CA", "critical,keyCertSign,cRLSign,digitalSignature", true);
	other_ca = test_ca(other_key, "Stranger CA", "critical,keyCertSign,cRLSign,digitalSignature", true);
	leaf = test_leaf(ca, ca_key, "client", SERIAL1, sizeof(SERIAL1));
	leaf2 = test_leaf(ca, ca_key, "client2", SERIAL2, sizeof(SERIAL2));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(leaf);
	X509_free(leaf2);
	X509_free(ca);
	X509_free(other_ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(resp_key);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_revoked_unknown),
	    cmocka_unit_test(test_signer_must_be_issuer_or_delegated),
	    cmocka_unit_test(test_answer_must_name_the_certificate),
	    cmocka_unit_test(test_times),
	    cmocka_unit_test(test_not_successful_and_garbage),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
