/* sink_dh.c — the curve25519 response encryption of a sink (sink.h), as
 * Vault's helper/dhutil: X25519 agreement, optionally HKDF-SHA256 over the
 * shared secret, AES-256-GCM with a 12-byte nonce and the tag appended to
 * the ciphertext; the envelope's byte strings are standard base64 (Go's
 * encoding of []byte in JSON). */
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "agent/sink.h"
#include "encoding.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

#define GCM_TAG_LEN 16
#define PEER_FILE_MAX (64 << 10)

int sink_dh_keypair(unsigned char priv[SINK_DH_KEY_LEN], unsigned char pub[SINK_DH_KEY_LEN])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	EVP_PKEY *key = NULL;
	size_t n1 = SINK_DH_KEY_LEN, n2 = SINK_DH_KEY_LEN;
	int r = TROVE_ERR_INTERNAL;

	if (ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &key) == 1 &&
	    EVP_PKEY_get_raw_private_key(key, priv, &n1) == 1 && EVP_PKEY_get_raw_public_key(key, pub, &n2) == 1 &&
	    n1 == SINK_DH_KEY_LEN && n2 == SINK_DH_KEY_LEN)
		r = 0;
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int sink_dh_read_peer(const char *path, unsigned char pub[SINK_DH_KEY_LEN], struct buf *err)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	const char *b64 = json_string_value(json_object_get(j, "curve25519_public_key"));
	size_t n = 0;
	int r = TROVE_ERR_INVALID;

	if (j == NULL) {
		buf_printf(err, "cannot read the dh_path file %s: %s", path, je.text);
		return TROVE_ERR_IO;
	}
	if (b64 == NULL)
		buf_printf(err, "the dh_path file %s holds no \"curve25519_public_key\" string", path);
	else if (base64_decode(b64, strlen(b64), pub, SINK_DH_KEY_LEN, &n) != 0 || n != SINK_DH_KEY_LEN)
		buf_printf(err, "the dh_path file %s: curve25519_public_key is not the base64 of 32 bytes", path);
	else
		r = 0;
	json_decref(j);
	return r;
}

/* The X25519 shared secret of priv and peer. */
static int agree(const unsigned char *priv, const unsigned char *peer, unsigned char out[SINK_DH_KEY_LEN])
{
	EVP_PKEY *mine = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, SINK_DH_KEY_LEN);
	EVP_PKEY *theirs = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, SINK_DH_KEY_LEN);
	EVP_PKEY_CTX *ctx = mine ? EVP_PKEY_CTX_new(mine, NULL) : NULL;
	size_t n = SINK_DH_KEY_LEN;
	int r = TROVE_ERR_INTERNAL;

	if (ctx && theirs && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, theirs) == 1 &&
	    EVP_PKEY_derive(ctx, out, &n) == 1 && n == SINK_DH_KEY_LEN)
		r = 0;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(mine);
	EVP_PKEY_free(theirs);
	return r;
}

/* HKDF-SHA256(secret, salt = the smaller public key, info = the other). */
static int derive(const unsigned char *secret, const unsigned char *a, const unsigned char *b,
                  unsigned char out[SINK_DH_KEY_LEN])
{
	const unsigned char *salt = memcmp(a, b, SINK_DH_KEY_LEN) < 0 ? a : b, *info = salt == a ? b : a;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t n = SINK_DH_KEY_LEN;
	int r = TROVE_ERR_INTERNAL;

	if (memcmp(a, b, SINK_DH_KEY_LEN) == 0)
		r = TROVE_ERR_INVALID; /* Vault refuses the same key on both sides */
	else if (ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1 &&
	         EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt, SINK_DH_KEY_LEN) == 1 &&
	         EVP_PKEY_CTX_set1_hkdf_key(ctx, secret, SINK_DH_KEY_LEN) == 1 &&
	         EVP_PKEY_CTX_add1_hkdf_info(ctx, info, SINK_DH_KEY_LEN) == 1 && EVP_PKEY_derive(ctx, out, &n) == 1 &&
	         n == SINK_DH_KEY_LEN)
		r = 0;
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* AES-256-GCM of pt under key: ciphertext then tag into out (len + 16). */
static int seal(const unsigned char *key, const unsigned char *nonce, const char *aad, const char *pt, size_t len,
                unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, r = TROVE_ERR_INTERNAL;

	if (ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SINK_DH_NONCE_LEN, NULL) == 1 &&
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
	    (aad == NULL || *aad == '\0' ||
	     EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) == 1) &&
	    EVP_EncryptUpdate(ctx, out, &n, (const unsigned char *)pt, (int)len) == 1 &&
	    EVP_EncryptFinal_ex(ctx, out + n, &n) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, out + len) == 1)
		r = 0;
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

static void set_b64(json_t *o, const char *k, const unsigned char *p, size_t n)
{
	char *s = xmalloc(base64_encoded_size(n));

	base64_encode(p, n, s);
	json_object_set_new(o, k, json_string(s));
	free(s);
}

int sink_dh_seal(const unsigned char priv[SINK_DH_KEY_LEN], const unsigned char peer[SINK_DH_KEY_LEN], bool derive_key,
                 const char *aad, const unsigned char nonce[SINK_DH_NONCE_LEN], const char *plaintext, size_t len,
                 struct buf *out, struct buf *err)
{
	unsigned char pub[SINK_DH_KEY_LEN], secret[SINK_DH_KEY_LEN], key[SINK_DH_KEY_LEN];
	unsigned char *ct = NULL;
	EVP_PKEY *mine = NULL;
	size_t n = SINK_DH_KEY_LEN;
	json_t *env = NULL;
	char *text = NULL;
	int r = TROVE_ERR_INTERNAL;

	if (len == 0 || len > (1u << 20)) {
		buf_append_str(err, "nothing to encrypt");
		return TROVE_ERR_INVALID;
	}
	mine = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, SINK_DH_KEY_LEN);
	if (mine == NULL || EVP_PKEY_get_raw_public_key(mine, pub, &n) != 1 || agree(priv, peer, secret) != 0) {
		buf_append_str(err, "curve25519 key agreement failed");
		goto out;
	}
	if (derive_key) {
		if ((r = derive(secret, pub, peer, key)) != 0) {
			buf_append_str(err, r == TROVE_ERR_INVALID ? "the peer's public key is the agent's own"
			                                           : "HKDF failed");
			goto out;
		}
	} else {
		memcpy(key, secret, sizeof(key));
	}
	ct = xmalloc(len + GCM_TAG_LEN);
	if ((r = seal(key, nonce, aad, plaintext, len, ct)) != 0) {
		buf_append_str(err, "AES-GCM encryption failed");
		goto out;
	}
	env = json_object();
	set_b64(env, "curve25519_public_key", pub, sizeof(pub));
	set_b64(env, "nonce", nonce, SINK_DH_NONCE_LEN);
	set_b64(env, "encrypted_payload", ct, len + GCM_TAG_LEN);
	text = json_dumps(env, JSON_PRESERVE_ORDER | JSON_COMPACT);
	if (text == NULL || buf_append_str(out, text) != 0 || buf_append_byte(out, '\n') != 0) {
		buf_append_str(err, "cannot encode the envelope");
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	secure_wipe(secret, sizeof(secret));
	secure_wipe(key, sizeof(key));
	free(ct);
	free(text);
	json_decref(env);
	EVP_PKEY_free(mine);
	return r;
}
