/* otp.c — see otp.h. */
#include <stdlib.h>
#include <string.h>

#include "otp.h"

#include "buf.h"
#include "encoding.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

int otp_encode(const char *token, const char *otp, char **out)
{
	size_t n = strlen(token);
	unsigned char *x;
	char *b;

	*out = NULL;
	if (n == 0 || strlen(otp) != n)
		return TROVE_ERR_INVALID;
	x = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		x[i] = (unsigned char)(token[i] ^ otp[i]);
	b = xmalloc(base64_encoded_size(n));
	base64_encode(x, n, b);
	secure_free(x, n);
	/* Vault sends it unpadded. */
	for (size_t l = strlen(b); l > 0 && b[l - 1] == '='; l--)
		b[l - 1] = '\0';
	*out = b;
	return 0;
}

int otp_decode(const char *encoded, size_t len, const char *otp, char **token)
{
	size_t n = strlen(otp), got = 0;
	unsigned char *x;
	char *t = NULL;
	int r = TROVE_ERR_INVALID;

	*token = NULL;
	if (n == 0 || len > 4 * n)
		return TROVE_ERR_INVALID;
	x = xmalloc(n);
	if (base64_decode(encoded, len, x, n, &got) != 0 || got != n)
		goto out;
	t = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		t[i] = (char)(x[i] ^ (unsigned char)otp[i]);
		if (t[i] == '\0')
			goto out;
	}
	t[n] = '\0';
	*token = t;
	t = NULL;
	r = 0;
out:
	secure_free(x, n);
	secure_free(t, n + 1);
	return r;
}
