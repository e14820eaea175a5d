/* seal_pkcs11.h — the "pkcs11" auto-unseal seal: the root key wrapped by
 * a key held in an HSM, reached through its PKCS#11 library.
 *
 * The library is loaded with dlopen from the configured path (never
 * linked) on first use. The key is found by label (and id, when given) on
 * the token chosen by slot number or token label; with generate_key a
 * missing key is created, but only when wrapping (initialisation or a
 * migration), never to unwrap. Mechanisms: CKM_AES_GCM (the default) with
 * a fresh 96-bit IV per wrap and the AAD bound, or CKM_RSA_PKCS_OAEP
 * (OpenBao's other one: wrapped with the public key, unwrapped with the
 * private key, both with the label; no AAD: OAEP's label is left empty).
 * The blob stored is
 *
 *   version(1: 0x01) | 0x01 AES-GCM | iv(12) | ciphertext | tag(16)
 *   version(1: 0x01) | 0x02 RSA-OAEP | ciphertext (one modulus)
 *
 * Any failure of the device closes the session and finalises the
 * library, so the next call starts from scratch (a token added, a PIN
 * fixed, a device back online are then seen). The PIN is held in memory
 * wiped on free and never appears in a message. */
#ifndef TROVE_SEAL_PKCS11_H
#define TROVE_SEAL_PKCS11_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "seal_wrap.h"

#define SEAL_PKCS11_IV_LEN 12
#define SEAL_PKCS11_TAG_LEN 16
#define SEAL_PKCS11_BLOB_VERSION 1
#define SEAL_PKCS11_MECH_AES_GCM 1
#define SEAL_PKCS11_MECH_RSA_OAEP 2
#define SEAL_PKCS11_BLOB_HEADER (2 + SEAL_PKCS11_IV_LEN)

struct seal_pkcs11_opts {
	const char *lib;         /* required */
	const char *slot;        /* decimal; this or token_label */
	const char *token_label;
	const char *pin;         /* required */
	const char *key_label;   /* required */
	const char *key_id;      /* hex ("0x..." allowed), or NULL */
	const char *mechanism;   /* NULL: AES_GCM */
	const char *rsa_oaep_hash; /* RSA_PKCS_OAEP's digest; NULL: sha256 */
	bool generate_key;
};

/* Checks the options (not the device: that is reached on first use) and
 * makes the seal. 0, or TROVE_ERR_INVALID with err naming the option and
 * the reason. *out is freed with seal_pkcs11_free. */
int seal_pkcs11_new(const struct seal_pkcs11_opts *o, struct seal_wrap **out, struct buf *err);
/* Closes the session, finalises the library, wipes the PIN. NULL is fine. */
void seal_pkcs11_free(struct seal_wrap *w);

/* A stored blob's parts (pointers into blob). 0, or TROVE_ERR_INTEGRITY
 * when it is too short or of an unknown version or mechanism. */
struct seal_pkcs11_blob {
	unsigned long mech;      /* CKM_AES_GCM or CKM_RSA_PKCS_OAEP */
	const unsigned char *iv; /* AES-GCM: SEAL_PKCS11_IV_LEN bytes; else NULL */
	const unsigned char *ct; /* ciphertext (and tag) */
	size_t ct_len;
};
int seal_pkcs11_blob_parse(const unsigned char *blob, size_t len, struct seal_pkcs11_blob *out);

#endif
