/* libFuzzer target: the OCSP request decoders (engines/pki/ocsp.h), DER
 * as a POST body and the GET path tail, and the answer built on them.
 * Any bytes give an answer to send: 400 and malformedRequest exactly when
 * decoding failed, else a signed 200 (another issuer's request gets
 * "unknown" from the default) or a bare 500; a decoded serial is at most CRL_SERIAL_MAX bytes; the DER and
 * its base64 in the GET form decode alike. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "encoding.h"
#include "engines/pki/crl.h"
#include "engines/pki/ocsp.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ocsp_issuer issuer;

static int status_of(void *ctx, size_t i, const unsigned char *serial, size_t n, enum ocsp_cert_status *st,
                     int64_t *when)
{
	(void)ctx;
	(void)i;
	if (n == 0 || n > CRL_SERIAL_MAX)
		abort();
	*st = (enum ocsp_cert_status)(serial[n - 1] % 3);
	*when = 1767225600;
	return serial[0] == 0x42 ? TROVE_ERR_IO : 0;
}

/* One P-256 issuer for the whole run: signing is not what is fuzzed. */
static void setup(void)
{
	X509_NAME *name;

	if (issuer.cert)
		return;
	issuer.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	issuer.cert = X509_new();
	name = X509_get_subject_name(issuer.cert);
	if (!issuer.key || !issuer.cert ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1, 0) !=
	        1 ||
	    X509_set_issuer_name(issuer.cert, name) != 1 || X509_set_pubkey(issuer.cert, issuer.key) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(issuer.cert), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(issuer.cert), 86400) == NULL ||
	    X509_sign(issuer.cert, issuer.key, EVP_sha256()) <= 0)
		abort();
	issuer.ocsp_signing = true;
}

static void answer(const uint8_t *data, size_t size, bool get_form, const struct ocsp_params *p)
{
	struct ocsp_answer a;
	struct buf why;
	int r;

	buf_init(&why, 4096);
	r = ocsp_respond(data, size, get_form, p, &a, &why);
	if (r == TROVE_ERR_NOMEM)
		abort();
	if (a.der == NULL || (r == TROVE_ERR_INVALID) != (a.http_status == 400))
		abort();
	if (a.http_status != 200 && a.der_len != 5)
		abort();
	ocsp_answer_release(&a);
	buf_release(&why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ocsp_params p = {&issuer, 1, 0, status_of, NULL, 1767225600, 3600, false};
	struct ocsp_request *der_req = NULL, *get_req = NULL;
	const unsigned char *serial;
	size_t n = 0;
	int r_der, r_get;
	char *b64;

	setup();
	r_der = ocsp_request_from_der(data, size, &der_req, NULL);
	if ((r_der == 0) != (der_req != NULL))
		abort();
	if (der_req) {
		serial = ocsp_request_serial(der_req, &n);
		if ((serial == NULL) != (n == 0) || n > CRL_SERIAL_MAX)
			abort();
	}
	if (size > 0 && size <= OCSP_REQUEST_MAX / 2) {
		b64 = malloc(base64_encoded_size(size));
		if (b64 == NULL)
			abort();
		base64_encode(data, size, b64);
		r_get = ocsp_request_from_get_path(b64, strlen(b64), &get_req, NULL);
		if ((r_get == 0) != (r_der == 0))
			abort();
		ocsp_request_free(get_req);
		free(b64);
	}
	ocsp_request_free(der_req);
	answer(data, size, false, &p);
	answer(data, size, true, &p);
	return 0;
}
