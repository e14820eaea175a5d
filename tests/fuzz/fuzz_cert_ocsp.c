/* libFuzzer target: an OCSP responder's answer as auth/cert reads it
 * (cert_ocsp_check_response), any bytes as the response body. No crash
 * or leak; the code is 0, TROVE_ERR_INVALID or TROVE_ERR_UPSTREAM; a
 * failure always says why and leaves the status unknown; a success says
 * why exactly when the status is unknown. Nothing the fuzzer makes can be
 * signed by the run's issuer key, so a success here is a bug. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "auth/cert_auth.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *key;
static X509 *ca;
static OCSP_CERTID *id;

/* One self-signed P-256 CA and a CertID under it, for the whole run. */
static void setup(void)
{
	X509_NAME *name;

	if (id)
		return;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ca = X509_new();
	if (!key || !ca)
		abort();
	name = X509_get_subject_name(ca);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1, 0) !=
	        1 ||
	    X509_set_issuer_name(ca, name) != 1 || X509_set_pubkey(ca, key) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(ca), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(ca), 86400) == NULL || X509_sign(ca, key, EVP_sha256()) <= 0)
		abort();
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	if (!serial || ASN1_INTEGER_set(serial, 0x1122) != 1 ||
	    !(id = OCSP_cert_id_new(EVP_sha1(), name, X509_get0_pubkey_bitstr(ca), serial)))
		abort();
	ASN1_INTEGER_free(serial);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum cert_ocsp_status st = CERT_OCSP_GOOD;
	const char *why = NULL;

	setup();
	int r = cert_ocsp_check_response(data, size, id, ca, NULL, size % 2 ? 3600 : 0, &st, &why);
	if (r != 0 && r != TROVE_ERR_INVALID && r != TROVE_ERR_UPSTREAM)
		abort();
	if (r != 0 && (!why || st != CERT_OCSP_UNKNOWN))
		abort();
	if (r == 0)
		abort();
	return 0;
}
