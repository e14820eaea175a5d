/* x509_pem.c — PEM and DER for the PKI engine (x509.h): keys,
 * certificates and CSRs to and from text, PEM bundles split into their
 * certificates and keys, and CSRs parsed and verified. These read client
 * bytes (tests/fuzz/fuzz_pki_pem.c). */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "x509.h"

#include "encoding.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

static int bio_take(BIO *b, char **out)
{
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	if (n < 0)
		return TROVE_ERR_INTERNAL;
	*out = xstrndup(p, (size_t)n);
	return 0;
}

int x509_key_to_text(EVP_PKEY *k, const char *format, char **out)
{
	bool pkcs8 = format && strcmp(format, "pkcs8") == 0;
	bool der = format && strcmp(format, "der") == 0;
	int r = TROVE_ERR_INTERNAL, bits;
	BIO *b = BIO_new(BIO_s_mem());
	unsigned char *d = NULL;

	*out = NULL;
	if (!b)
		return TROVE_ERR_NOMEM;
	const char *type = x509_key_type(k, &bits);
	if (type && strcmp(type, "ed25519") == 0)
		pkcs8 = true;
	if (der) {
		int n = i2d_PrivateKey(k, &d);
		if (n <= 0)
			goto out;
		*out = xmalloc(base64_encoded_size((size_t)n));
		base64_encode(d, (size_t)n, *out);
		secure_wipe(d, (size_t)n);
		r = 0;
		goto out;
	}
	if (pkcs8 ? !PEM_write_bio_PKCS8PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)
		  : !PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL))
		goto out;
	r = bio_take(b, out);
out:
	OPENSSL_free(d);
	/* the memory BIO held the key: clear it before it is freed */
	{
		char *p = NULL;
		long n = BIO_get_mem_data(b, &p);
		if (n > 0)
			secure_wipe(p, (size_t)n);
	}
	BIO_free(b);
	return r;
}

int x509_key_from_pem(const char *pem, size_t len, EVP_PKEY **out)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	*out = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	ERR_clear_error();
	return *out ? 0 : TROVE_ERR_INVALID;
}

int x509_pubkey_id(EVP_PKEY *k, char **out)
{
	unsigned char *d = NULL;
	int n = i2d_PUBKEY(k, &d);
	if (n <= 0)
		return TROVE_ERR_INTERNAL;
	*out = xmalloc((size_t)n * 2 + 1);
	hex_encode(d, (size_t)n, *out);
	OPENSSL_free(d);
	return 0;
}

int x509_cert_to_pem(X509 *c, char **out)
{
	BIO *b = BIO_new(BIO_s_mem());
	int r = TROVE_ERR_INTERNAL;
	if (b && PEM_write_bio_X509(b, c))
		r = bio_take(b, out);
	BIO_free(b);
	return r;
}

int x509_cert_to_der(X509 *c, unsigned char **out, size_t *len)
{
	unsigned char *d = NULL;
	int n = i2d_X509(c, &d);
	if (n <= 0)
		return TROVE_ERR_INTERNAL;
	*out = xmalloc((size_t)n);
	memcpy(*out, d, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(d);
	return 0;
}

int x509_cert_to_der_b64(X509 *c, char **out)
{
	unsigned char *d = NULL;
	size_t n = 0;
	int r = x509_cert_to_der(c, &d, &n);
	if (r == 0) {
		*out = xmalloc(base64_encoded_size(n));
		base64_encode(d, n, *out);
	}
	free(d);
	return r;
}

int x509_cert_from_pem(const char *pem, size_t len, X509 **out)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	*out = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	ERR_clear_error();
	return *out ? 0 : TROVE_ERR_INVALID;
}

/* The next "-----BEGIN <label>-----" block in [p, end): its start, its
 * end (past the END line) and its label. */
static bool pem_next(const char *p, const char *end, const char **bstart, const char **bend, char *label, size_t cap)
{
	static const char begin[] = "-----BEGIN ";
	const char *s = p, *e;
	while ((size_t)(end - s) >= sizeof(begin) - 1) {
		s = memmem(s, (size_t)(end - s), begin, sizeof(begin) - 1);
		if (!s)
			return false;
		const char *l = s + sizeof(begin) - 1;
		const char *le = memmem(l, (size_t)(end - l), "-----", 5);
		if (!le || (size_t)(le - l) >= cap)
			return false;
		memcpy(label, l, (size_t)(le - l));
		label[le - l] = '\0';
		char endmark[160];
		int n = snprintf(endmark, sizeof(endmark), "-----END %s-----", label);
		e = memmem(le, (size_t)(end - le), endmark, (size_t)n);
		if (!e)
			return false;
		*bstart = s;
		*bend = e + n;
		return true;
	}
	return false;
}

int x509_pem_bundle_split(const char *pem, size_t len, struct strlist *certs, struct strlist *keys,
			  const char **why)
{
	const char *p = pem, *end = pem + len, *bs, *be;
	char label[96];
	size_t had = certs->len + keys->len;
	int r = 0;

	while (pem_next(p, end, &bs, &be, label, sizeof(label))) {
		p = be;
		if (strcmp(label, "CERTIFICATE") == 0) {
			X509 *c = NULL;
			char *out = NULL;
			if (x509_cert_from_pem(bs, (size_t)(be - bs), &c) != 0) {
				*why = "pem_bundle: a certificate does not parse";
				return TROVE_ERR_INVALID;
			}
			r = x509_cert_to_pem(c, &out);
			X509_free(c);
			if (r == 0)
				strlist_push_owned(certs, out);
		} else if (strstr(label, "PRIVATE KEY")) {
			EVP_PKEY *k = NULL;
			char *out = NULL;
			if (x509_key_from_pem(bs, (size_t)(be - bs), &k) != 0) {
				*why = "pem_bundle: a private key does not parse (or is encrypted)";
				return TROVE_ERR_INVALID;
			}
			r = x509_key_to_text(k, "pkcs8", &out);
			EVP_PKEY_free(k);
			if (r == 0)
				strlist_push_owned(keys, out);
		}
		if (r != 0)
			return r;
	}
	if (certs->len + keys->len == had) {
		*why = "pem_bundle: no certificate or private key found";
		return TROVE_ERR_INVALID;
	}
	return 0;
}

int x509_csr_parse(const char *pem, size_t len, X509_REQ **out, const char **why)
{
	BIO *b = NULL;
	EVP_PKEY *pk;
	*out = NULL;
	if (!pem || len == 0 || len > INT32_MAX) {
		*why = "csr: missing";
		return TROVE_ERR_INVALID;
	}
	b = BIO_new_mem_buf(pem, (int)len);
	if (b)
		*out = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	if (!*out) {
		*why = "csr: not a PEM certificate request";
		return TROVE_ERR_INVALID;
	}
	pk = X509_REQ_get0_pubkey(*out);
	if (!pk || X509_REQ_verify(*out, pk) != 1) {
		ERR_clear_error();
		X509_REQ_free(*out);
		*out = NULL;
		*why = "csr: its signature does not verify";
		return TROVE_ERR_INVALID;
	}
	return 0;
}

int x509_csr_to_pem(X509_REQ *req, char **out)
{
	BIO *b = BIO_new(BIO_s_mem());
	int r = TROVE_ERR_INTERNAL;
	if (b && PEM_write_bio_X509_REQ(b, req))
		r = bio_take(b, out);
	BIO_free(b);
	return r;
}
