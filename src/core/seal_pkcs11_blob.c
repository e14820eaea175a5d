/* seal_pkcs11_blob.c — the stored form of a key wrapped by the HSM
 * (seal_pkcs11.h). Storage is untrusted: anything but a well-formed blob
 * is TROVE_ERR_INTEGRITY. */
#include "seal_pkcs11.h"

#include "err.h"

#include "banned.h"

int seal_pkcs11_blob_parse(const unsigned char *blob, size_t len, struct seal_pkcs11_blob *out)
{
	if (!blob || len < SEAL_PKCS11_BLOB_HEADER + SEAL_PKCS11_TAG_LEN)
		return TROVE_ERR_INTEGRITY;
	if (blob[0] != SEAL_PKCS11_BLOB_VERSION || blob[1] != SEAL_PKCS11_MECH_AES_GCM)
		return TROVE_ERR_INTEGRITY;
	out->iv = blob + 2;
	out->ct = blob + SEAL_PKCS11_BLOB_HEADER;
	out->ct_len = len - SEAL_PKCS11_BLOB_HEADER;
	return 0;
}
