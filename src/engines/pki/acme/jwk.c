/* jwk.c — an ACME account's JWK and its RFC 7638 thumbprint. The key
 * itself is read by jose_jwk_to_pkey (lib/jose.h), shared with JWT
 * verification. */
#include "jwk.h"

#include <string.h>

#include "encoding.h"
#include "err.h"
#include "hmac.h"
#include "jose.h"

/* The member's string value (checked by jose_jwk_to_pkey first). */
static const char *member(const json_t *jwk, const char *name)
{
	return json_string_value(json_object_get(jwk, name));
}

int acme_jwk_to_pkey(const json_t *jwk, EVP_PKEY **out, struct buf *err)
{
	return jose_jwk_to_pkey(jwk, out, err);
}

int acme_jwk_thumbprint(const json_t *jwk, char out[ACME_THUMBPRINT_LEN + 1], struct buf *err)
{
	int r;
	EVP_PKEY *key = NULL;
	struct buf canon;
	unsigned char digest[SHA256_LEN];
	const char *kty;
	char *b64;

	if ((r = acme_jwk_to_pkey(jwk, &key, err)) != 0)
		return r;
	EVP_PKEY_free(key);
	/* Every member is a base64url string or a fixed name, so no JSON
	 * escaping is needed: the checks above refused anything else. */
	buf_init(&canon, 4096);
	kty = member(jwk, "kty");
	if (strcmp(kty, "RSA") == 0)
		r = buf_printf(&canon, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", member(jwk, "e"),
		               member(jwk, "n"));
	else if (strcmp(kty, "EC") == 0)
		r = buf_printf(&canon, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
		               member(jwk, "crv"), member(jwk, "x"), member(jwk, "y"));
	else
		r = buf_printf(&canon, "{\"crv\":\"%s\",\"kty\":\"OKP\",\"x\":\"%s\"}", member(jwk, "crv"),
		               member(jwk, "x"));
	if (r == 0)
		r = sha256(canon.data, canon.len, digest);
	buf_release(&canon);
	if (r != 0)
		return r;
	b64 = base64url_encode(digest, sizeof(digest));
	memcpy(out, b64, ACME_THUMBPRINT_LEN + 1);
	free(b64);
	return 0;
}
