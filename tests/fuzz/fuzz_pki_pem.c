/* libFuzzer target: the PKI engine's parsers of client PEM
 * (engines/pki/x509_pem.c): x509_pem_bundle_split over a bundle of
 * certificates and keys, and x509_csr_parse over a CSR, plus serial
 * canonicalisation. Nothing crashes or reads past its input; a split that
 * succeeds yields only blocks that parse again on their own; a CSR that
 * parses has a public key its signature verified with; a canonical
 * serial is its own canonical form. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "engines/pki/x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 << 10)
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';

	struct strlist certs, keys;
	const char *why = NULL;
	strlist_init(&certs);
	strlist_init(&keys);
	if (x509_pem_bundle_split(text, size, &certs, &keys, &why) == 0) {
		if (certs.len + keys.len == 0)
			abort(); /* success means something was found */
		for (size_t i = 0; i < certs.len; i++) {
			X509 *c = NULL;
			if (x509_cert_from_pem(certs.items[i], strlen(certs.items[i]), &c) != 0)
				abort();
			X509_free(c);
		}
		for (size_t i = 0; i < keys.len; i++) {
			EVP_PKEY *k = NULL;
			if (x509_key_from_pem(keys.items[i], strlen(keys.items[i]), &k) != 0)
				abort();
			EVP_PKEY_free(k);
		}
	} else if (!why) {
		abort(); /* a refusal says why */
	}
	strlist_release(&certs);
	strlist_release(&keys);

	X509_REQ *q = NULL;
	why = NULL;
	if (x509_csr_parse(text, size, &q, &why) == 0) {
		if (!q || !X509_REQ_get0_pubkey(q))
			abort();
		struct x509_sans sans;
		x509_sans_init(&sans);
		x509_csr_sans(q, &sans);
		x509_sans_release(&sans);
		X509_REQ_free(q);
	} else if (q || !why) {
		abort();
	}

	char a[X509_SERIAL_TEXT_MAX], b[X509_SERIAL_TEXT_MAX];
	if (size < 200 && x509_serial_canon(text, a) == 0) {
		if (x509_serial_canon(a, b) != 0 || strcmp(a, b) != 0)
			abort(); /* canonical form is a fixed point */
	}
	free(text);
	return 0;
}
