/* libFuzzer target: decoding an OTP-encoded root token (lib/otp.c), as
 * `trove operator generate-root -decode` does with what it is given. The
 * input is split at its first newline into the encoded token and the OTP.
 * A decode either fails or yields a NUL-free token exactly as long as the
 * OTP that encodes back to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "otp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t enc_len = nl ? (size_t)(nl - data) : size;
	size_t otp_len = nl ? size - enc_len - 1 : 0;
	char *enc = malloc(enc_len + 1), *otp = malloc(otp_len + 1), *token = NULL, *again = NULL;

	memcpy(enc, data, enc_len);
	enc[enc_len] = '\0';
	if (otp_len)
		memcpy(otp, nl + 1, otp_len);
	otp[otp_len] = '\0';
	/* enc may hold NULs: the decoder gets its length, not strlen */
	if (otp_decode(enc, enc_len, otp, &token) == 0) {
		if (strlen(token) != strlen(otp))
			abort();
		if (otp_encode(token, otp, &again) != 0)
			abort();
		unsigned char *a = malloc(otp_len + 1), *b = malloc(otp_len + 1);
		size_t la = 0, lb = 0;
		if (base64_decode(again, strlen(again), a, otp_len + 1, &la) != 0 ||
		    base64_decode(enc, enc_len, b, otp_len + 1, &lb) != 0 || la != lb ||
		    memcmp(a, b, la) != 0)
			abort();
		free(a);
		free(b);
		free(again);
		free(token);
	}
	free(enc);
	free(otp);
	return 0;
}
