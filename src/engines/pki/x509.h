/* x509.h — the PKI engine's cryptography, over OpenSSL 3 (EVP and X509
 * APIs only): key generation, PEM/DER conversion, CSR parsing, random
 * serials, certificate building and signing.
 *
 * Nothing here touches storage or requests. Every function returns 0 or
 * a trove_err code; where a caller's input is at fault the code is
 * TROVE_ERR_INVALID and *why (when given) is a static reason. Objects
 * returned through out-parameters are the caller's (EVP_PKEY_free,
 * X509_free, X509_REQ_free); strings are heap memory the caller frees,
 * those holding private keys with secure_free_str. */
#ifndef TROVE_PKI_X509_H
#define TROVE_PKI_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"

/* Serial as Vault writes it: lower-case hex bytes joined by ':'. */
#define X509_SERIAL_TEXT_MAX 64

/* Checks key_type ("rsa", "ec", "ed25519") and key_bits (0: the type's
 * default, 2048 for rsa, 256 for ec, none for ed25519) and writes the
 * effective bits to *bits_out. RSA takes 2048, 3072, 4096 (and 8192);
 * EC 224, 256, 384, 521. */
int x509_key_params(const char *type, int64_t bits, int *bits_out, const char **why);
/* A new key of a type and bits x509_key_params accepted. An EC key
 * carries its encoded point (x509_key_point) from the start. */
int x509_keygen(const char *type, int bits, EVP_PKEY **out);
/* An EC key's encoded public point (OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY):
 * the copy x509_keygen kept with the key, else asked of OpenSSL.
 * TROVE_ERR_INVALID when the key has none. */
int x509_key_point(EVP_PKEY *k, unsigned char *out, size_t cap, size_t *n);
/* "rsa", "ec" or "ed25519" (NULL for anything else), and the key's bits
 * (curve size for EC, 0 for ed25519). */
const char *x509_key_type(const EVP_PKEY *k, int *bits);

/* A private key as text: "pem" (PKCS#1 RSA / SEC1 EC PEM, Vault's
 * default; PKCS#8 for ed25519), "pkcs8" (PKCS#8 PEM) or "der" (base64 of
 * the DER of the "pem" form). Caller secure_free_str()s it. */
int x509_key_to_text(EVP_PKEY *k, const char *format, char **out);
/* Parses a private key in any PEM form. */
int x509_key_from_pem(const char *pem, size_t len, EVP_PKEY **out);
/* The SubjectPublicKeyInfo DER of a key, hex-encoded: used to tell whether
 * a certificate belongs to a key. Caller frees. */
int x509_pubkey_id(EVP_PKEY *k, char **out);

/* PEM of a certificate (ends in "\n"); base64 of its DER. */
int x509_cert_to_pem(X509 *c, char **out);
int x509_cert_to_der_b64(X509 *c, char **out);
/* PEM (ends in "\n") and base64 of a certificate's DER. */
char *x509_der_to_pem(const unsigned char *der, size_t len);
char *x509_der_to_b64(const unsigned char *der, size_t len);
/* DER bytes of a certificate into a heap buffer. */
int x509_cert_to_der(X509 *c, unsigned char **out, size_t *len);
/* Parses exactly one PEM certificate. */
int x509_cert_from_pem(const char *pem, size_t len, X509 **out);
/* Splits a PEM bundle into its certificates and private keys (in order;
 * pushed as PEM strings into certs and keys, keys as PKCS#8). Anything
 * else between the blocks is ignored; a block that does not parse, or a
 * bundle with neither certificates nor keys, is TROVE_ERR_INVALID. */
int x509_pem_bundle_split(const char *pem, size_t len, struct strlist *certs, struct strlist *keys,
			  const char **why);

/* Parses one PEM CSR ("CERTIFICATE REQUEST", also "NEW CERTIFICATE
 * REQUEST") and verifies its self-signature. */
int x509_csr_parse(const char *pem, size_t len, X509_REQ **out, const char **why);
/* PEM of a CSR. */
int x509_csr_to_pem(X509_REQ *r, char **out);

/* A random serial of exactly 20 bytes (positive, top byte 0x40..0x7f). */
int x509_serial_random(ASN1_INTEGER **out);
/* The same 20 bytes, raw. */
int x509_serial_random_bytes(unsigned char out[20]);
/* "xx:xx:..." of a serial (X509_SERIAL_TEXT_MAX bytes; longer serials
 * are refused). */
int x509_serial_text(const ASN1_INTEGER *s, char out[X509_SERIAL_TEXT_MAX]);
/* The same of a serial's content bytes. */
int x509_serial_text_bytes(const unsigned char *d, size_t n, char out[X509_SERIAL_TEXT_MAX]);
/* Canonical form of a serial given by a client: hex digits separated by
 * ':' or '-' (or none), any case, to lower-case colon form. */
int x509_serial_canon(const char *in, char out[X509_SERIAL_TEXT_MAX]);

/* The names of a certificate. other: "oid;UTF8:value" (Vault's form). */
struct x509_sans {
	struct strlist dns, email, ip, uri, other;
};
void x509_sans_init(struct x509_sans *s);
void x509_sans_release(struct x509_sans *s);
/* Adds alt_names (DNS, or email when it holds '@'), ip_sans, uri_sans and
 * other_sans; a bad IP or other SAN is TROVE_ERR_INVALID with *why. */
int x509_sans_add(struct x509_sans *s, const char *kind, const char *value, const char **why);

/* Subject fields in Vault's order. Every list may be empty. */
struct x509_subject {
	const char *cn;
	const char *serial_number;
	struct strlist ou, org, country, locality, province, street, postal;
};
void x509_subject_init(struct x509_subject *s);
void x509_subject_release(struct x509_subject *s);
int x509_name_build(const struct x509_subject *s, X509_NAME **out);

enum x509_ku {
	X509_KU_DIGITAL_SIGNATURE = 1 << 0,
	X509_KU_KEY_ENCIPHERMENT = 1 << 1,
	X509_KU_KEY_AGREEMENT = 1 << 2,
	X509_KU_CERT_SIGN = 1 << 3,
	X509_KU_CRL_SIGN = 1 << 4,
	X509_KU_CONTENT_COMMITMENT = 1 << 5,
	X509_KU_DATA_ENCIPHERMENT = 1 << 6,
};
/* Vault's key_usage names ("DigitalSignature", "KeyEncipherment", ...,
 * case-insensitive, an optional "KeyUsage" prefix) to bits. */
int x509_ku_parse(const char *name, unsigned *bits);
enum x509_eku {
	X509_EKU_SERVER = 1 << 0,
	X509_EKU_CLIENT = 1 << 1,
	X509_EKU_CODE_SIGNING = 1 << 2,
	X509_EKU_EMAIL = 1 << 3,
};

/* What to put in a certificate. subject and pubkey are borrowed. */
struct x509_spec {
	X509_NAME *subject;
	EVP_PKEY *pubkey;
	const struct x509_sans *sans; /* or NULL */
	int64_t not_before, not_after; /* unix seconds */
	bool is_ca;
	int max_path_length;           /* CA only; < 0: unlimited */
	const struct strlist *permitted_dns_domains; /* CA only, or NULL */
	unsigned key_usage;            /* X509_KU_* */
	unsigned ext_key_usage;        /* X509_EKU_* */
	const struct strlist *ext_key_usage_oids; /* or NULL */
	int signature_bits;            /* 0: per the signing key */
	bool use_pss;
	/* AIA and CDP URLs (may be NULL) */
	const struct strlist *issuing_certificates, *crl_distribution_points, *ocsp_servers;
};

/* Builds and signs a certificate. issuer: the signing CA's certificate,
 * or NULL for self-signed (then signkey must match spec->pubkey). A
 * random 20-byte serial is assigned. For speed, a leaf (!is_ca) with an
 * EC or Ed25519 key comes back without its key decoded:
 * X509_get0_pubkey() answers NULL on it; the key is spec->pubkey, and a
 * copy parsed from its PEM or DER has it. A CA always has it. */
int x509_cert_sign(const struct x509_spec *spec, X509 *issuer, EVP_PKEY *signkey, X509 **out, const char **why);
/* What a leaf carries beyond x509_spec: its serial (x509_leaf_der
 * only; x509_cert_sign draws its own) and the extensions
 * x509_leaf_extend adds. */
struct x509_leaf_extra {
	unsigned char serial[20]; /* x509_serial_random_bytes */
	const struct strlist *policy_identifiers; /* certificatePolicies OIDs, or NULL */
	bool basic_constraints_valid;             /* a critical CA:FALSE basicConstraints */
};
/* Adds to a leaf x509_cert_sign made what x509.c's spec does not write
 * (a CA:FALSE basicConstraints, then certificatePolicies) and signs it
 * again with signkey and the same signature algorithm. */
int x509_leaf_extend(X509 *c, const struct x509_leaf_extra *x, EVP_PKEY *signkey);
/* The digest a signature by k uses (NULL for Ed25519): signature_bits,
 * or for 0 SHA-256, or for EC the curve's size. */
const EVP_MD *x509_sig_md(EVP_PKEY *k, int signature_bits);

/* Leaves written as DER directly (leaf_der.c): the certificate
 * x509_cert_sign then x509_leaf_extend make from the same spec, serial
 * and validity, byte for byte, without their X509 object. Covered (the
 * one predicate): a leaf (!is_ca) signed by an issuer certificate with
 * exactly one subjectKeyIdentifier, with an EC, Ed25519 or PKCS#1 RSA
 * key (not use_pss, not an RSA-PSS key); validity within years
 * 0..9999; AIA and CDP URLs that OpenSSL's configuration strings carry
 * unchanged (x509_value_safe, no space at either end); extended key
 * usage OIDs in dotted digits. Everything else (CAs, PSS, names from
 * OpenSSL's OID table) takes the X509 path, which also answers the
 * errors. */
bool x509_leaf_der_covers(const struct x509_spec *s, X509 *issuer, EVP_PKEY *signkey);
/* The TBSCertificate into tbs (empty on entry) with the signature
 * AlgorithmIdentifier sigalg (DER). TROVE_ERR_INVALID when a SAN, an OID
 * or a name cannot be encoded (the X509 path then answers why). */
int x509_leaf_tbs(const struct x509_spec *s, const struct x509_leaf_extra *x, X509 *issuer,
		  const unsigned char *sigalg, size_t sigalg_len, struct buf *tbs);
struct x509_signer; /* below */
/* The signed Certificate's DER (*der the caller's, free()). kept, when
 * not NULL and made for signkey and its digest (x509_signer_is_for),
 * signs it; otherwise a context is set up for this one signature. */
int x509_leaf_der(const struct x509_spec *s, const struct x509_leaf_extra *x, X509 *issuer, EVP_PKEY *signkey,
		  struct x509_signer *kept, unsigned char **der, size_t *len);

/* A signing context made once for one key and digest and used for many
 * signatures (x509_signer.c): ECDSA keys only, the digest computed apart
 * and then signed, so the context outlives a signature; the signature is
 * what EVP_DigestSign makes of the same bytes. x509_signer_new answers
 * NULL for any other key (it signs through EVP_DigestSign) or when
 * OpenSSL fails. The context holds a reference to the key. Used by one
 * thread at a time. */
struct x509_signer *x509_signer_new(EVP_PKEY *key, const EVP_MD *md);
void x509_signer_free(struct x509_signer *g);
/* Whether g signs with key and md (g may be NULL: false); its key. */
bool x509_signer_is_for(const struct x509_signer *g, const EVP_PKEY *key, const EVP_MD *md);
const EVP_PKEY *x509_signer_key(const struct x509_signer *g);
/* The signature's AlgorithmIdentifier DER. */
const unsigned char *x509_signer_aid(const struct x509_signer *g, size_t *len);
/* Signs data into sig (room for EVP_PKEY_get_size(key); *siglen in: the
 * room, out: the length). */
int x509_signer_sign(struct x509_signer *g, const unsigned char *data, size_t len, unsigned char *sig,
		     size_t *siglen);

/* Signs c again (its issuer becomes issuer's subject) with signkey. */
int x509_cert_resign(X509 *c, X509 *issuer, EVP_PKEY *signkey);
/* Builds a CSR for key with subject and sans. */
int x509_csr_build(EVP_PKEY *key, X509_NAME *subject, const struct x509_sans *sans, X509_REQ **out);
/* The subject alternative names of a CSR's extension request, appended to
 * sans (DNS, email, IP, URI). */
int x509_csr_sans(X509_REQ *r, struct x509_sans *sans);

/* Whether a URL or domain can go into an extension as one value: not
 * empty, no ',', no control character, not starting with '@'. */
bool x509_value_safe(const char *v);

/* notAfter / notBefore of a certificate as unix seconds. */
int64_t x509_not_after(const X509 *c);
int64_t x509_not_before(const X509 *c);
/* Whether child was signed by parent (names match and the signature
 * verifies with parent's key). */
bool x509_issued_by(X509 *child, X509 *parent);
/* The certificate's subject CN (UTF-8, heap) or NULL. */
char *x509_subject_cn(X509 *c);

#endif
