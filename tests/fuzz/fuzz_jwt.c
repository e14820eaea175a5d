/* libFuzzer target: the JWT parser and verifier of lib/jwt, and the JWKS
 * reader. The input is tried as a compact JWT (parsed, then verified
 * against a fixed Ed25519 key with every algorithm allowed, "none" and
 * HS256 among them), as a JWKS document, and its claims' members as JSON
 * pointers. Nothing crashes or reads past its bytes; no input verifies
 * (the fuzzer cannot forge Ed25519); a parsed token has an alg and both
 * objects. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char jwks[] = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k\","
                           "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const algs[] = {"none", "HS256", "RS256", "PS256", "ES256", "EdDSA", NULL};
	const char *text = (const char *)data;
	struct jwt_keyset ks;
	struct jwt_parsed p;
	json_t *claims = NULL;
	struct jwt_expect e = {.algs = algs, .now = 1700000000, .allow_unbound_aud = true};

	if (size > JWT_MAX_LEN + 16)
		return 0;
	jwt_keyset_init(&ks);
	if (jwt_keyset_add_jwks(&ks, jwks, strlen(jwks), NULL) != 0)
		abort();
	if (jwt_parse(text, size, &p, NULL) == 0) {
		if (!p.alg || !json_is_object(p.header) || !json_is_object(p.claims))
			abort();
		const char *k;
		json_t *v;
		json_object_foreach(p.claims, k, v) jwt_claim(p.claims, k);
	}
	jwt_parsed_release(&p);
	if (jwt_verify(text, size, &ks, &e, &claims, NULL) == 0)
		abort(); /* forged */
	if (claims)
		abort();
	jwt_keyset_add_jwks(&ks, text, size, NULL);
	jwt_keyset_release(&ks);
	return 0;
}
