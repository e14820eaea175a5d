/* crl.h — building and signing an issuer's CRL (RFC 5280 §5), full or
 * delta, and the signature choice shared with the OCSP responder.
 *
 * Pure: no storage, no clock, no routes. The engine keeps the revoked
 * serials, the CRL numbers (strictly increasing per issuer) and the
 * config/crl settings, and hands them in; this module only encodes and
 * signs. Errors are src/lib/err.h codes with a reason appended to `why`
 * (a field name first where one is to blame). */
#ifndef TROVE_PKI_CRL_H
#define TROVE_PKI_CRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"

/* Longest serial accepted, in bytes (RFC 5280 §4.1.2.2: 20 octets; a
 * little slack for foreign certificates with a leading zero). */
#define CRL_SERIAL_MAX 32

/* Vault's default config/crl expiry: 72h. */
#define CRL_DEFAULT_EXPIRY_SECONDS (72 * 3600)

/* One revoked certificate: its serial as big-endian magnitude bytes
 * (leading zeros are dropped on encoding) and when it was revoked. */
struct crl_entry {
	const unsigned char *serial;
	size_t serial_len;  /* 1 to CRL_SERIAL_MAX */
	int64_t revoked_at; /* Unix seconds, UTC */
};

struct crl_params {
	X509 *issuer_cert;    /* borrowed; must match issuer_key */
	EVP_PKEY *issuer_key; /* borrowed */
	/* The issuer's revocation_signature_algorithm; NULL or "" picks by key
	 * type as Vault does (RSA: SHA-256 PKCS#1 v1.5; EC: SHA-256/384/512 by
	 * curve size; Ed25519: none). See crl_sign_init for the names. */
	const char *signature_algorithm;
	const struct crl_entry *entries; /* borrowed; n_entries may be 0 */
	size_t n_entries;
	uint64_t number;      /* the CRL number extension */
	bool delta;           /* a delta CRL: adds the Delta CRL Indicator */
	uint64_t base_number; /* delta only: the complete CRL it extends */
	/* Full CRLs only: the issuer's delta_crl_distribution_points, put in
	 * a Freshest CRL extension (one distribution point per URL, as
	 * Vault); borrowed, may be empty. */
	const char *const *delta_crl_urls;
	size_t n_delta_crl_urls;
	int64_t now;    /* thisUpdate, Unix seconds */
	int64_t expiry; /* nextUpdate = now + expiry (seconds, >= 0) */
};

/* Builds and signs a v2 CRL: issuer = the issuer certificate's subject,
 * thisUpdate/nextUpdate, the entries in the order given (each with its
 * revocationDate only, no reason, as Vault writes them), the authority key
 * identifier (the issuer's subject key identifier, or the SHA-1 of its
 * public key when it has none), the CRL number and, for a delta, the
 * critical Delta CRL Indicator holding base_number, or for a full CRL
 * with delta_crl_urls the Freshest CRL extension.
 * On success *der is a new heap buffer of *der_len bytes the caller frees
 * with OPENSSL_free. TROVE_ERR_INVALID (reason in why) for a key that does
 * not match the certificate, an issuer without cRLSign in its key usage,
 * an unknown or unsuitable signature algorithm, a bad serial or time, a
 * delta CRL URL that is empty or not printable ASCII;
 * TROVE_ERR_INTERNAL when OpenSSL fails. */
int crl_build(const struct crl_params *p, unsigned char **der, size_t *der_len, struct buf *why);

/* Appends the PEM form ("-----BEGIN X509 CRL-----") of a DER CRL to out.
 * TROVE_ERR_INVALID if der is not a CRL, TROVE_ERR_TOO_LARGE past out's cap. */
int crl_der_to_pem(const unsigned char *der, size_t der_len, struct buf *out);

/* What a DER CRL holds, for the engine to check a stored one. */
struct crl_info {
	uint64_t number; /* 0 when absent */
	bool delta;
	uint64_t base_number; /* delta only */
	size_t n_entries;
	int64_t this_update, next_update; /* Unix seconds; next 0 when absent */
};

/* Reads a DER CRL (untrusted bytes: any length, trailing bytes refused).
 * Does not check its signature. 0 or TROVE_ERR_INVALID with why. */
int crl_read_info(const unsigned char *der, size_t der_len, struct crl_info *info, struct buf *why);

/* Parses a serial as Vault writes it ("1a:2b:...", also "1a-2b-...",
 * case-insensitive, two hex digits per byte) into out (cap bytes).
 * 0, or TROVE_ERR_INVALID with why ("serial_number: ..."). */
int crl_serial_parse(const char *text, size_t len, unsigned char *out, size_t cap, size_t *out_len,
                     struct buf *why);

/* Prepares ctx (a fresh EVP_MD_CTX) to sign with key under the named
 * algorithm, as Go's x509.SignatureAlgorithm names it, either spelling,
 * case-insensitive: SHA256WithRSA/SHA256-RSA (also 384, 512),
 * SHA256WithRSAPSS/SHA256-RSAPSS (PSS, salt = digest length),
 * ECDSAWithSHA256/ECDSA-SHA256 (also 384, 512), PureEd25519/Ed25519; NULL
 * or "" picks by key type. With allow_pss false a PSS name falls back to
 * PKCS#1 v1.5 with the same digest (Vault's OCSP responder does so).
 * 0, or TROVE_ERR_INVALID with why ("revocation_signature_algorithm: ...")
 * for an unknown name or one that does not fit the key. */
int crl_sign_init(EVP_MD_CTX *ctx, EVP_PKEY *key, const char *name, bool allow_pss, struct buf *why);

#endif
