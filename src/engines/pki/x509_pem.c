/* x509_pem.c — PEM and DER for the PKI engine (x509.h): keys,
 * certificates and CSRs to and from text, PEM bundles split into their
 * certificates and keys, and CSRs parsed and verified. These read client
 * bytes (tests/fuzz/fuzz_pki_pem.c). */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
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

/* A DER tag and length at p (room for 4 bytes), lengths below 64 KiB. */
static size_t der_head(unsigned char *p, unsigned char tag, size_t len)
{
	p[0] = tag;
	if (len < 0x80) {
		p[1] = (unsigned char)len;
		return 2;
	}
	if (len < 0x100) {
		p[1] = 0x81;
		p[2] = (unsigned char)len;
		return 3;
	}
	p[1] = 0x82;
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
	return 4;
}

/* The SEC1 ECPrivateKey DER (RFC 5915: version 1, the scalar padded to the
 * order's size, the named curve, the uncompressed point) of a named-curve
 * EC key, byte for byte what OpenSSL's encoder writes, built from the raw
 * key. OpenSSL 3.0 writes it by converting the key to a legacy EC_KEY,
 * rebuilding the curve's group each time, which costs more than
 * generating the key. Answers -1 for anything else (explicit parameters,
 * a compressed point, no public key: the caller then takes OpenSSL's
 * path). der[] holds the secret scalar: the caller wipes it. */
static int ec_sec1_der(EVP_PKEY *k, unsigned char *der, size_t cap, size_t *len)
{
	unsigned char point[160], scalar[80], oid[32], *op = oid;
	char group[64], enc[32], form[32];
	size_t plen = 0;
	int with_pub = 1; /* OpenSSL 3.0 does not report it: its default */
	BIGNUM *priv = NULL;
	int r = -1;
	int nbytes = (EVP_PKEY_get_bits(k) + 7) / 8;
	int nid;

	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC || nbytes <= 0 || (size_t)nbytes > sizeof(scalar) ||
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) != 1 ||
	    (nid = OBJ_txt2nid(group)) == NID_undef ||
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof(enc), NULL) != 1 ||
	    strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0 ||
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, form, sizeof(form), NULL) != 1 ||
	    strcmp(form, OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 0 ||
	    (EVP_PKEY_get_int_param(k, OSSL_PKEY_PARAM_EC_INCLUDE_PUBLIC, &with_pub) == 1 && !with_pub) ||
	    x509_key_point(k, point, sizeof(point), &plen) != 0 ||
	    plen < 1 || point[0] != POINT_CONVERSION_UNCOMPRESSED ||
	    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1 ||
	    BN_bn2binpad(priv, scalar, nbytes) != nbytes)
		goto out;
	int olen = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), NULL);
	if (olen <= 0 || (size_t)olen > sizeof(oid) || i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &op) != olen)
		goto out;
	/* SEQUENCE { version 1, privateKey, [0] curve OID, [1] BIT STRING point } */
	unsigned char tmp[4];
	size_t bits_len = 1 + plen, bits_head = der_head(tmp, 0x03, bits_len);
	size_t inner = 3 + der_head(tmp, 0x04, (size_t)nbytes) + (size_t)nbytes + 2 + (size_t)olen +
		       der_head(tmp, 0xa1, bits_head + bits_len) + bits_head + bits_len;
	size_t n = 0;
	if (inner + 4 > cap)
		goto out;
	n += der_head(der + n, 0x30, inner);
	memcpy(der + n, "\x02\x01\x01", 3);
	n += 3;
	n += der_head(der + n, 0x04, (size_t)nbytes);
	memcpy(der + n, scalar, (size_t)nbytes);
	n += (size_t)nbytes;
	n += der_head(der + n, 0xa0, (size_t)olen);
	memcpy(der + n, oid, (size_t)olen);
	n += (size_t)olen;
	n += der_head(der + n, 0xa1, bits_head + bits_len);
	n += der_head(der + n, 0x03, bits_len);
	der[n++] = 0x00; /* no unused bits */
	memcpy(der + n, point, plen);
	n += plen;
	*len = n;
	r = 0;
out:
	secure_wipe(scalar, sizeof(scalar));
	BN_clear_free(priv);
	ERR_clear_error();
	return r;
}

/* PEM of DER as PEM_write writes it: base64 in lines of 64. */
static char *pem_wrap(const char *label, const unsigned char *der, size_t n)
{
	char *b64 = xmalloc(base64_encoded_size(n));
	base64_encode(der, n, b64);
	size_t blen = strlen(b64), cap = blen + blen / 64 + 2 * strlen(label) + 40, o = 0;
	char *pem = xmalloc(cap);
	o += (size_t)snprintf(pem + o, cap - o, "-----BEGIN %s-----\n", label);
	for (size_t i = 0; i < blen; i += 64) {
		size_t line = blen - i < 64 ? blen - i : 64;
		memcpy(pem + o, b64 + i, line);
		o += line;
		pem[o++] = '\n';
	}
	snprintf(pem + o, cap - o, "-----END %s-----\n", label);
	secure_free_str(b64);
	return pem;
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
	unsigned char sec1[512];
	size_t n1 = 0;
	if (!pkcs8 && type && strcmp(type, "ec") == 0 && ec_sec1_der(k, sec1, sizeof(sec1), &n1) == 0) {
		if (der) {
			*out = xmalloc(base64_encoded_size(n1));
			base64_encode(sec1, n1, *out);
		} else {
			*out = pem_wrap("EC PRIVATE KEY", sec1, n1);
		}
		secure_wipe(sec1, n1);
		r = 0;
		goto out;
	}
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

/* The bytes PEM_write_bio_X509 writes (its DER in base64 lines of 64),
 * without its memory BIO and incremental encoder. */
int x509_cert_to_pem(X509 *c, char **out)
{
	unsigned char *d = NULL;
	size_t n = 0;
	int r = x509_cert_to_der(c, &d, &n);
	if (r == 0)
		*out = x509_der_to_pem(d, n);
	free(d);
	return r;
}

char *x509_der_to_pem(const unsigned char *der, size_t len)
{
	return pem_wrap("CERTIFICATE", der, len);
}

char *x509_der_to_b64(const unsigned char *der, size_t len)
{
	char *b64 = xmalloc(base64_encoded_size(len));
	base64_encode(der, len, b64);
	return b64;
}

int x509_cert_to_der_b64(X509 *c, char **out)
{
	unsigned char *d = NULL;
	size_t n = 0;
	int r = x509_cert_to_der(c, &d, &n);
	if (r == 0)
		*out = x509_der_to_b64(d, n);
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
