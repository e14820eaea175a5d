/* libFuzzer target: the stored form of a root key wrapped by the pkcs11
 * seal (core/seal_pkcs11_blob.c), read from storage, which is untrusted.
 * A parse either fails or yields a ciphertext that ends the input and,
 * for AES-GCM, an IV inside it and a ciphertext at least a tag long. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/seal_pkcs11.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seal_pkcs11_blob b;
	if (seal_pkcs11_blob_parse(data, size, &b) != 0)
		return 0;
	if (b.ct < data || b.ct + b.ct_len != data + size || b.ct_len == 0)
		abort();
	if (data[1] == SEAL_PKCS11_MECH_AES_GCM &&
	    (!b.iv || b.iv < data || b.iv + SEAL_PKCS11_IV_LEN > b.ct || b.ct_len < SEAL_PKCS11_TAG_LEN))
		abort();
	if (data[1] == SEAL_PKCS11_MECH_RSA_OAEP && b.iv)
		abort();
	return 0;
}
