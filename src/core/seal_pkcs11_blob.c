/* seal_pkcs11_blob.c — the stored form of a key wrapped by the HSM
 * (seal_pkcs11.h). Storage is untrusted: anything but a well-formed blob
 * is TROVE_ERR_INTEGRITY. */
#include "seal_pkcs11.h"

#include "err.h"

#include "banned.h"

/* The PKCS#11 numbers of the two mechanisms (pkcs11.h is not needed to
 * read a blob). */
#define CKM_RSA_PKCS_OAEP_NUM 0x9UL
#define CKM_AES_GCM_NUM 0x1087UL
#define RSA_MIN_BYTES 64 /* a 512-bit modulus */
#define RSA_MAX_BYTES 1024

int seal_pkcs11_blob_parse(const unsigned char *blob, size_t len, struct seal_pkcs11_blob *out)
{
	if (!blob || len < 2 || blob[0] != SEAL_PKCS11_BLOB_VERSION)
		return TROVE_ERR_INTEGRITY;
	if (blob[1] == SEAL_PKCS11_MECH_RSA_OAEP) {
		if (len < 2 + RSA_MIN_BYTES || len > 2 + RSA_MAX_BYTES)
			return TROVE_ERR_INTEGRITY;
		out->mech = CKM_RSA_PKCS_OAEP_NUM;
		out->iv = NULL;
		out->ct = blob + 2;
		out->ct_len = len - 2;
		return 0;
	}
	if (blob[1] != SEAL_PKCS11_MECH_AES_GCM || len < SEAL_PKCS11_BLOB_HEADER + SEAL_PKCS11_TAG_LEN)
		return TROVE_ERR_INTEGRITY;
	out->mech = CKM_AES_GCM_NUM;
	out->iv = blob + 2;
	out->ct = blob + SEAL_PKCS11_BLOB_HEADER;
	out->ct_len = len - SEAL_PKCS11_BLOB_HEADER;
	return 0;
}
