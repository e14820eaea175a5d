/* eab.h — External Account Binding (RFC 8555 section 7.3.4).
 *
 * A new-account request of a server that requires EAB carries, as its
 * payload's "externalAccountBinding", a flattened JWS MAC'd with a key
 * the operator handed out: protected header {alg HS256, kid = the EAB key
 * id, url = the new-account URL}, payload = the account's JWK, which must
 * be the same key as the outer request's "jwk". The caller reads the kid
 * (acme_eab_kid), looks the key up, then checks the binding. */
#ifndef TROVE_ACME_EAB_H
#define TROVE_ACME_EAB_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"

/* The EAB key id of the binding object, in a new string the caller
 * frees, in *kid. Returns 0 or TROVE_ERR_INVALID (reason in err). */
int acme_eab_kid(const json_t *eab, char **kid, struct buf *err);

/* Checks the binding: its structure as above, its url equal to url (the
 * outer request's), its payload a JWK of the same key as account_key, and
 * its HMAC-SHA256 under key (key_len bytes, the decoded EAB key) compared
 * in constant time. Returns 0, TROVE_ERR_INVALID for a malformed binding
 * or a url or key that differs, TROVE_ERR_PERMISSION for a MAC that does
 * not verify (reason in err). */
int acme_eab_verify(const json_t *eab, const unsigned char *key, size_t key_len, const char *url,
                    EVP_PKEY *account_key, struct buf *err);

#endif
