/* test_pki_ocsp.c — the OCSP responder core (src/engines/pki/ocsp.h)
 * against the openssl command line: requests made by `openssl ocsp
 * -reqout` (nonce or not, SHA-1 and SHA-256 CertIDs, several certificates,
 * signed) are decoded, and the answers for RSA, EC P-256 and Ed25519 CAs
 * verify with `openssl ocsp -respin` and say good, revoked or unknown
 * (python's cryptography reading them the same);
 * the GET form with '/', '+' and '=' plain or percent-encoded; the error
 * answers (malformed, unauthorized, internal) byte for byte; truncated,
 * flipped, garbage and oversize inputs never crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/ocsp.h>
#include <openssl/pem.h>

#include "encoding.h"
#include "engines/pki/ocsp.h"
#include "err.h"
#include "pki_test_ca.h"

static const unsigned char good_serial[20] = {0x11, 1,  2,  3,  4,  5,  6,  7,  8,  9,
                                              10,   11, 12, 13, 14, 15, 16, 17, 18, 19};
static const unsigned char revoked_serial[20] = {0x22, 1,  2,  3,  4,  5,  6,  7,  8,  9,
                                                 10,   11, 12, 13, 14, 15, 16, 17, 18, 19};
static const unsigned char unknown_serial[3] = {0x33, 0x44, 0x55};
static const int64_t revoked_at = 1767225600; /* 2026-01-01 00:00:00 UTC */

static const unsigned char malformed_der[] = {0x30, 0x03, 0x0a, 0x01, 0x01};
static const unsigned char internal_der[] = {0x30, 0x03, 0x0a, 0x01, 0x02};
static const unsigned char unauthorized_der[] = {0x30, 0x03, 0x0a, 0x01, 0x06};

struct fix {
	EVP_PKEY *key;
	X509 *cert;
	char *dir;
	struct ocsp_issuer issuer;
	struct ocsp_params params;
	int calls;          /* status lookups made */
	size_t last_issuer; /* the index the last lookup got */
	int fail_with;      /* the lookup's error, 0 for none */
	struct buf out, why;
};

static int status_of(void *ctx, size_t issuer, const unsigned char *serial, size_t serial_len,
                     enum ocsp_cert_status *status, int64_t *when)
{
	struct fix *f = ctx;

	f->calls++;
	f->last_issuer = issuer;
	if (f->fail_with)
		return f->fail_with;
	if (serial_len == sizeof(good_serial) && memcmp(serial, good_serial, serial_len) == 0)
		*status = OCSP_CERT_GOOD;
	else if (serial_len == sizeof(revoked_serial) && memcmp(serial, revoked_serial, serial_len) == 0) {
		*status = OCSP_CERT_REVOKED;
		*when = revoked_at;
	} else
		*status = OCSP_CERT_UNKNOWN;
	return 0;
}

static void write_leaf(struct fix *f, const char *name, const unsigned char *serial, size_t n)
{
	X509 *leaf = test_leaf(f->cert, f->key, name, serial, n);
	char *path = test_path(f->dir, name);

	test_write_cert(path, leaf);
	X509_free(leaf);
	free(path);
}

static void fix_make(struct fix *f, const char *type)
{
	char *path;

	memset(f, 0, sizeof(*f));
	f->key = test_key(type);
	f->cert = test_ca(f->key, "Trove OCSP CA", "critical,keyCertSign,cRLSign", true);
	f->dir = test_tmpdir();
	path = test_path(f->dir, "ca.pem");
	test_write_cert(path, f->cert);
	free(path);
	write_leaf(f, "good.pem", good_serial, sizeof(good_serial));
	write_leaf(f, "revoked.pem", revoked_serial, sizeof(revoked_serial));
	write_leaf(f, "unknown.pem", unknown_serial, sizeof(unknown_serial));
	f->issuer = (struct ocsp_issuer){f->cert, f->key, true, NULL};
	f->params = (struct ocsp_params){
	    &f->issuer, 1, 0, status_of, f, (int64_t)time(NULL), OCSP_DEFAULT_EXPIRY_SECONDS, false};
	buf_init(&f->out, 1 << 20);
	buf_init(&f->why, 4096);
}

static void fix_free(struct fix *f)
{
	EVP_PKEY_free(f->key);
	X509_free(f->cert);
	test_rmdir(f->dir);
	buf_release(&f->out);
	buf_release(&f->why);
}

/* `openssl ocsp -reqout` for the named leaves; the request's bytes. */
static unsigned char *make_req(struct fix *f, const char *certs, const char *opts, size_t *n)
{
	assert_int_equal(test_run(&f->out, "cd %s && openssl ocsp -issuer ca.pem %s %s -reqout req.der",
	                          f->dir, opts, certs),
	                 0);
	char *path = test_path(f->dir, "req.der");
	unsigned char *der = test_read(path, n);
	free(path);
	return der;
}

/* Writes the answer and has openssl check it twice: against the request
 * (signature, and the nonce echoed: no warning), then for leaf's status;
 * python's cryptography must read it alike.
 * The output of both is left in f->out. */
static void check_with_openssl(struct fix *f, const struct ocsp_answer *a, const char *leaf,
                               const char *status, const char *opts)
{
	char *path = test_path(f->dir, "resp.der");
	char expect[128];
	struct buf first, second;
	int rc;

	buf_init(&first, 1 << 20);
	buf_init(&second, 1 << 20);
	test_write(path, a->der, a->der_len);
	free(path);
	rc = test_run(&first,
	              "cd %s && openssl ocsp -reqin req.der -respin resp.der -CAfile ca.pem -verify_other "
	              "ca.pem -resp_text",
	              f->dir);
	if (rc != 0)
		fprintf(stderr, "%s\n", first.data);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(first.data, "Response verify OK"));
	assert_null(strstr(first.data, "WARNING"));
	assert_null(strstr(first.data, "Nonce Verify error"));
	rc = test_run(
	    &f->out,
	    "cd %s && openssl ocsp -respin resp.der -CAfile ca.pem -issuer ca.pem %s -cert %s -no_nonce",
	    f->dir, opts, leaf);
	assert_int_equal(rc, 0);
	snprintf(expect, sizeof(expect), "%s: %s\n", leaf, status);
	assert_non_null(strstr(f->out.data, expect));
	assert_non_null(strstr(f->out.data, "Response verify OK"));
	/* A second reader: python's cryptography (its own DER parser). */
	rc = test_run(&second,
	              "cd %s && /usr/bin/python3 -c 'from cryptography.x509 import ocsp; "
	              "r = ocsp.load_der_ocsp_response(open(\"resp.der\", \"rb\").read()); "
	              "print(r.response_status.name, r.certificate_status.name.lower(), len(r.certificates), "
	              "r.responder_name, r.responder_key_hash is not None)'",
	              f->dir);
	assert_int_equal(rc, 0);
	snprintf(expect, sizeof(expect), "SUCCESSFUL %s %d None True\n", status,
	         f->params.include_cert ? 1 : 0);
	assert_string_equal(second.data, expect);
	assert_int_equal(buf_append(&f->out, first.data, first.len), 0);
	assert_non_null(strstr(f->out.data, "Responder Id: "));
	assert_null(strstr(f->out.data, "Responder Id: CN"));
	buf_release(&second);
	buf_release(&first);
}

/* The single response inside a successful answer. */
static OCSP_BASICRESP *basic_of(const struct ocsp_answer *a)
{
	const unsigned char *p = a->der;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)a->der_len);
	OCSP_BASICRESP *bs;

	assert_non_null(resp);
	assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	OCSP_RESPONSE_free(resp);
	return bs;
}

static void answer_for(struct fix *f, const char *leaf, const char *opts, const char *status)
{
	struct ocsp_request *req = NULL;
	struct ocsp_answer a;
	unsigned char *der;
	size_t n;
	char certs[64];

	snprintf(certs, sizeof(certs), "-cert %s", leaf);
	der = make_req(f, certs, opts, &n);
	assert_int_equal(ocsp_request_from_der(der, n, &req, &f->why), 0);
	assert_int_equal(ocsp_answer(req, &f->params, &a, &f->why), 0);
	assert_int_equal(a.http_status, 200);
	check_with_openssl(f, &a, leaf, status, opts);
	if (strstr(opts, "-no_nonce"))
		assert_null(strstr(f->out.data, "OCSP Nonce"));
	else
		assert_non_null(strstr(f->out.data, "OCSP Nonce"));
	if (strcmp(status, "revoked") == 0)
		assert_non_null(strstr(f->out.data, "Revocation Time: Jan  1 00:00:00 2026 GMT"));
	ocsp_answer_release(&a);
	ocsp_request_free(req);
	free(der);
}

static void statuses_for(const char *type)
{
	struct fix f;

	fix_make(&f, type);
	answer_for(&f, "good.pem", "", "good");
	answer_for(&f, "revoked.pem", "-no_nonce -sha256", "revoked");
	answer_for(&f, "unknown.pem", "-sha256", "unknown");
	answer_for(&f, "revoked.pem", "-sha384", "revoked");
	assert_int_equal(f.calls, 4);
	assert_int_equal(f.last_issuer, 0);
	fix_free(&f);
}

static void test_statuses_rsa(void **state)
{
	(void)state;
	statuses_for("RSA");
}

static void test_statuses_ec(void **state)
{
	(void)state;
	statuses_for("P-256");
}

static void test_statuses_ed25519(void **state)
{
	(void)state;
	statuses_for("ED25519");
}

/* The times: nextUpdate = now + ocsp_expiry, none at 0. */
static void test_update_times(void **state)
{
	struct ocsp_request *req = NULL;
	struct ocsp_answer a;
	OCSP_BASICRESP *bs;
	ASN1_GENERALIZEDTIME *rev, *thisu, *nextu;
	int status, reason, day, sec;
	unsigned char *der;
	size_t n;
	struct fix f;

	(void)state;
	fix_make(&f, "P-256");
	der = make_req(&f, "-cert good.pem", "", &n);
	assert_int_equal(ocsp_request_from_der(der, n, &req, &f.why), 0);
	f.params.now = 1767225600;
	f.params.expiry = 3600;
	assert_int_equal(ocsp_answer(req, &f.params, &a, &f.why), 0);
	bs = basic_of(&a);
	assert_int_equal(OCSP_resp_count(bs), 1);
	status = OCSP_single_get0_status(OCSP_resp_get0(bs, 0), &reason, &rev, &thisu, &nextu);
	assert_int_equal(status, V_OCSP_CERTSTATUS_GOOD);
	assert_non_null(nextu);
	assert_int_equal(ASN1_TIME_diff(&day, &sec, thisu, nextu), 1);
	assert_int_equal(day * 86400 + sec, 3600);
	assert_true(OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, -1) >= 0); /* echoed */
	OCSP_BASICRESP_free(bs);
	ocsp_answer_release(&a);

	f.params.expiry = 0;
	assert_int_equal(ocsp_answer(req, &f.params, &a, &f.why), 0);
	bs = basic_of(&a);
	(void)OCSP_single_get0_status(OCSP_resp_get0(bs, 0), &reason, &rev, &thisu, &nextu);
	assert_null(nextu);
	assert_true(OCSP_resp_get0_certs(bs) == NULL || sk_X509_num(OCSP_resp_get0_certs(bs)) == 0);
	OCSP_BASICRESP_free(bs);
	ocsp_answer_release(&a);

	f.params.include_cert = true;
	assert_int_equal(ocsp_answer(req, &f.params, &a, &f.why), 0);
	bs = basic_of(&a);
	assert_int_equal(sk_X509_num(OCSP_resp_get0_certs(bs)), 1);
	OCSP_BASICRESP_free(bs);
	ocsp_answer_release(&a);
	ocsp_request_free(req);
	free(der);
	fix_free(&f);
}

/* Several CertIDs: only the first is answered (as Vault); a signed
 * request is read with its signature ignored. */
static void test_multi_and_signed(void **state)
{
	struct ocsp_request *req = NULL;
	struct ocsp_answer a;
	OCSP_BASICRESP *bs;
	const unsigned char *serial;
	unsigned char *der;
	size_t n, sn;
	char *key_path;
	FILE *kf;
	struct fix f;

	(void)state;
	fix_make(&f, "P-256");
	der = make_req(&f, "-cert revoked.pem -cert good.pem", "", &n);
	assert_int_equal(ocsp_request_from_der(der, n, &req, &f.why), 0);
	serial = ocsp_request_serial(req, &sn);
	assert_int_equal(sn, sizeof(revoked_serial));
	assert_memory_equal(serial, revoked_serial, sn);
	assert_int_equal(ocsp_answer(req, &f.params, &a, &f.why), 0);
	bs = basic_of(&a);
	assert_int_equal(OCSP_resp_count(bs), 1);
	OCSP_BASICRESP_free(bs);
	ocsp_answer_release(&a);
	ocsp_request_free(req);
	free(der);

	key_path = test_path(f.dir, "signer.key");
	kf = fopen(key_path, "w");
	assert_non_null(kf);
	assert_int_equal(PEM_write_PrivateKey(kf, f.key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(kf);
	der = make_req(&f, "-cert good.pem", "-signer ca.pem -signkey signer.key", &n);
	assert_int_equal(ocsp_request_from_der(der, n, &req, &f.why), 0);
	assert_true(ocsp_request_has_nonce(req));
	assert_int_equal(ocsp_answer(req, &f.params, &a, &f.why), 0);
	check_with_openssl(&f, &a, "good.pem", "good", "");
	ocsp_answer_release(&a);
	ocsp_request_free(req);
	free(der);
	free(key_path);
	fix_free(&f);
}

/* Percent-encodes every '/', '+' and '=' of s into out. */
static void pct_encode(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	for (; *s; s++) {
		const char *rep = *s == '/' ? "%2F" : *s == '+' ? "%2b" : *s == '=' ? "%3D" : NULL;
		assert_true(n + 4 < cap);
		if (rep) {
			memcpy(out + n, rep, 3);
			n += 3;
		} else
			out[n++] = *s;
	}
	out[n] = '\0';
}

static void test_get_form(void **state)
{
	struct ocsp_request *req = NULL;
	struct ocsp_answer a;
	unsigned char *der;
	size_t n, sn;
	char b64[4096], enc[8192];
	bool saw_slash = false, saw_plus = false;
	struct fix f;

	(void)state;
	fix_make(&f, "P-256");
	/* Requests until the base64 holds both '/' and '+' (nonces vary). */
	for (int i = 0; i < 200 && !(saw_slash && saw_plus); i++) {
		der = make_req(&f, "-cert revoked.pem", "", &n);
		base64_encode(der, n, b64);
		free(der);
		if (!strchr(b64, '/') && !strchr(b64, '+'))
			continue;
		saw_slash |= strchr(b64, '/') != NULL;
		saw_plus |= strchr(b64, '+') != NULL;
		assert_int_equal(ocsp_request_from_get_path(b64, strlen(b64), &req, &f.why), 0);
		(void)ocsp_request_serial(req, &sn);
		assert_int_equal(sn, sizeof(revoked_serial));
		ocsp_request_free(req);
		pct_encode(b64, enc, sizeof(enc));
		assert_int_equal(
		    ocsp_respond((const unsigned char *)enc, strlen(enc), true, &f.params, &a, &f.why), 0);
		assert_int_equal(a.http_status, 200);
		check_with_openssl(&f, &a, "revoked.pem", "revoked", "");
		ocsp_answer_release(&a);
	}
	assert_true(saw_slash && saw_plus);

	/* Padding required (as Go's StdEncoding); line breaks skipped. */
	for (size_t i = 0; i < 4; i++) { /* a request whose base64 is padded */
		static const char *opts[] = {"-no_nonce", "", "-sha256 -no_nonce", "-sha256"};
		der = make_req(&f, "-cert good.pem", opts[i], &n);
		base64_encode(der, n, b64);
		free(der);
		if (strchr(b64, '='))
			break;
	}
	assert_non_null(strchr(b64, '='));
	snprintf(enc, sizeof(enc), "%.*s\r\n%s", 8, b64, b64 + 8);
	assert_int_equal(ocsp_request_from_get_path(enc, strlen(enc), &req, &f.why), 0);
	ocsp_request_free(req);
	*strchr(b64, '=') = '\0';
	buf_reset(&f.why);
	assert_int_equal(ocsp_request_from_get_path(b64, strlen(b64), &req, &f.why), TROVE_ERR_INVALID);
	assert_null(req);
	assert_non_null(strstr(f.why.data, "padding"));
	fix_free(&f);
}

static void expect_malformed(struct fix *f, const void *body, size_t len, bool get_form)
{
	struct ocsp_answer a;

	assert_int_equal(ocsp_respond(body, len, get_form, &f->params, &a, &f->why), TROVE_ERR_INVALID);
	assert_int_equal(a.http_status, 400);
	assert_int_equal(a.der_len, sizeof(malformed_der));
	assert_memory_equal(a.der, malformed_der, sizeof(malformed_der));
	ocsp_answer_release(&a);
}

static void test_malformed(void **state)
{
	static const char *bad_get[] = {"",    "%",     "%zz",      "%00AAA", "!!!!",
	                                "AAA", "AAAAA", "AA==AA==", "MAA=",   "a b="};
	unsigned char *der, *big;
	size_t n;
	struct ocsp_answer a;
	char b64[4096];
	struct fix f;

	(void)state;
	fix_make(&f, "P-256");
	der = make_req(&f, "-cert good.pem", "", &n);
	for (size_t i = 0; i < n; i++) /* every truncation */
		expect_malformed(&f, der, i, false);
	for (size_t i = 0; i < n; i++) { /* every byte flipped: refused or answered */
		der[i] ^= 0xa5;
		if (ocsp_respond(der, n, false, &f.params, &a, &f.why) != TROVE_ERR_NOMEM)
			assert_non_null(a.der);
		ocsp_answer_release(&a);
		der[i] ^= 0xa5;
	}
	f.calls = 0;
	big = calloc(1, OCSP_REQUEST_MAX + 2);
	memcpy(big, der, n);
	expect_malformed(&f, big, n + 1, false); /* trailing byte */
	expect_malformed(&f, big, OCSP_REQUEST_MAX + 1, false);
	memset(big, 'A', OCSP_REQUEST_MAX + 1);
	expect_malformed(&f, big, OCSP_REQUEST_MAX + 1, true);
	for (size_t i = 0; i < sizeof(bad_get) / sizeof(bad_get[0]); i++)
		expect_malformed(&f, bad_get[i], strlen(bad_get[i]), true);
	base64_encode(der, n, b64);
	b64[strlen(b64) / 2] = '*';
	expect_malformed(&f, b64, strlen(b64), true);
	/* A well-formed DER that is not an OCSP request, and one with no CertID. */
	expect_malformed(&f, "\x30\x03\x02\x01\x01", 5, false);
	expect_malformed(&f, "\x30\x04\x30\x02\x30\x00", 6, false);
	assert_int_equal(f.calls, 0);
	free(big);
	free(der);
	fix_free(&f);
}

static void expect_error_answer(struct fix *f, struct ocsp_request *req, int code, int http,
                                const unsigned char *body)
{
	struct ocsp_answer a;

	buf_reset(&f->why);
	assert_int_equal(ocsp_answer(req, &f->params, &a, &f->why), code);
	assert_int_equal(a.http_status, http);
	assert_int_equal(a.der_len, 5);
	assert_memory_equal(a.der, body, 5);
	assert_true(f->why.len > 0);
	ocsp_answer_release(&a);
}

/* Another CA's request: "unknown" signed by the default issuer, or
 * unauthorized without one; a match that may not sign; a failed lookup. */
static void test_issuer_choice(void **state)
{
	struct ocsp_request *req = NULL;
	struct ocsp_answer a;
	OCSP_BASICRESP *bs;
	int reason;
	ASN1_GENERALIZEDTIME *rev, *thisu, *nextu;
	unsigned char *der;
	size_t n;
	struct fix f, other;
	struct ocsp_issuer two[2];
	X509_STORE *store;
	STACK_OF(X509) * signers;

	(void)state;
	fix_make(&f, "P-256");
	fix_make(&other, "ED25519");
	der = make_req(&other, "-cert good.pem", "", &n); /* asks about other's CA */
	assert_int_equal(ocsp_request_from_der(der, n, &req, &f.why), 0);
	assert_int_equal(ocsp_answer(req, &f.params, &a, &f.why), 0);
	bs = basic_of(&a);
	assert_int_equal(OCSP_single_get0_status(OCSP_resp_get0(bs, 0), &reason, &rev, &thisu, &nextu),
	                 V_OCSP_CERTSTATUS_UNKNOWN);
	store = X509_STORE_new();
	signers = sk_X509_new_null();
	assert_int_equal(X509_STORE_add_cert(store, f.cert), 1);
	assert_true(sk_X509_push(signers, f.cert) > 0);
	/* signed by the default issuer (which is not the CertID's: no checks) */
	assert_int_equal(OCSP_basic_verify(bs, signers, store, OCSP_NOCHECKS), 1);
	sk_X509_free(signers);
	X509_STORE_free(store);
	OCSP_BASICRESP_free(bs);
	ocsp_answer_release(&a);
	assert_int_equal(f.calls, 0);

	f.params.default_issuer = -1;
	expect_error_answer(&f, req, TROVE_ERR_PERMISSION, 401, unauthorized_der);
	f.params.default_issuer = 5;
	expect_error_answer(&f, req, TROVE_ERR_PERMISSION, 401, unauthorized_der);
	ocsp_request_free(req);
	free(der);

	/* Matched but not allowed to sign: unauthorized, unless a second
	 * issuer with the same name and key may. */
	der = make_req(&f, "-cert good.pem", "", &n);
	assert_int_equal(ocsp_request_from_der(der, n, &req, &f.why), 0);
	f.params.default_issuer = 0;
	f.issuer.ocsp_signing = false;
	expect_error_answer(&f, req, TROVE_ERR_PERMISSION, 401, unauthorized_der);
	f.issuer.ocsp_signing = true;
	f.issuer.key = NULL;
	expect_error_answer(&f, req, TROVE_ERR_PERMISSION, 401, unauthorized_der);
	two[0] = f.issuer;
	two[1] = (struct ocsp_issuer){f.cert, f.key, true, "ECDSAWithSHA384"};
	f.params.issuers = two;
	f.params.n_issuers = 2;
	assert_int_equal(ocsp_answer(req, &f.params, &a, &f.why), 0);
	assert_int_equal(f.last_issuer, 1);
	check_with_openssl(&f, &a, "good.pem", "good", "");
	assert_non_null(strstr(f.out.data, "Signature Algorithm: ecdsa-with-SHA384"));
	ocsp_answer_release(&a);

	/* A lookup that fails is internalError, never "unknown". */
	f.fail_with = TROVE_ERR_IO;
	expect_error_answer(&f, req, TROVE_ERR_INTERNAL, 500, internal_der);
	f.fail_with = 0;
	/* A signature algorithm the key cannot make: internalError too. */
	two[1].signature_algorithm = "SHA256WithRSA";
	expect_error_answer(&f, req, TROVE_ERR_INTERNAL, 500, internal_der);
	ocsp_request_free(req);
	free(der);
	fix_free(&other);
	fix_free(&f);
}

/* PSS is answered with PKCS#1 v1.5 and the same digest, as Vault does. */
static void test_pss_downgrade(void **state)
{
	struct ocsp_request *req = NULL;
	struct ocsp_answer a;
	unsigned char *der;
	size_t n;
	struct fix f;

	(void)state;
	fix_make(&f, "RSA");
	f.issuer.signature_algorithm = "SHA512WithRSAPSS";
	der = make_req(&f, "-cert revoked.pem", "", &n);
	assert_int_equal(ocsp_request_from_der(der, n, &req, &f.why), 0);
	assert_int_equal(ocsp_answer(req, &f.params, &a, &f.why), 0);
	check_with_openssl(&f, &a, "revoked.pem", "revoked", "");
	assert_non_null(strstr(f.out.data, "Signature Algorithm: sha512WithRSAEncryption"));
	ocsp_answer_release(&a);
	ocsp_request_free(req);
	free(der);
	fix_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_statuses_rsa),     cmocka_unit_test(test_statuses_ec),
	    cmocka_unit_test(test_statuses_ed25519), cmocka_unit_test(test_update_times),
	    cmocka_unit_test(test_multi_and_signed), cmocka_unit_test(test_get_form),
	    cmocka_unit_test(test_malformed),        cmocka_unit_test(test_issuer_choice),
	    cmocka_unit_test(test_pss_downgrade),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
