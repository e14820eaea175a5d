/* identity_oidc_keys.c — identity-token signing keys: key pairs made,
 * rotated and expired, kept as JSON records in the identity mount's view
 * (so the private key is encrypted by the barrier), and the JWKS of every
 * public key still verifying. */
#include <string.h>

#include <openssl/pem.h>

#include "engines/identity_oidc.h"
#include "err.h"
#include "jws_sign.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

#define KEY_PREFIX "oidc/key/"

/* The private key of pair as PKCS#8 PEM in a new string, wiped by the
 * caller (secure_free_str). */
static char *private_pem(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data = NULL, *out = NULL;
	long n;

	if (bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(bio, &data)) > 0) {
		out = xmalloc((size_t)n + 1);
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(bio);
	return out;
}

/* A fresh key pair for rec's algorithm: the private key, kid and JWK set
 * in rec (the public JWK appended, verifying until replaced). */
static int new_pair(json_t *rec)
{
	const char *alg = json_string_value(json_object_get(rec, "algorithm"));
	EVP_PKEY *key = NULL;
	char kid[37], *pem = NULL;
	json_t *jwk = NULL;
	int r;

	if ((r = jws_keygen(alg, &key)) != 0 || (r = rand_uuid(kid)) != 0)
		goto out;
	pem = private_pem(key);
	jwk = jws_public_jwk(key, alg, kid);
	if (!pem || !jwk) {
		r = TROVE_ERR_INTERNAL;
		goto out;
	}
	json_object_set_new(rec, "kid", json_string(kid));
	json_object_set_new(rec, "private_key", json_string(pem));
	json_array_append_new(json_object_get(rec, "public_keys"),
	                      json_pack("{s:o, s:I}", "jwk", jwk, "expire_at", (json_int_t)0));
	jwk = NULL;
	r = 0;
out:
	json_decref(jwk);
	secure_free_str(pem);
	EVP_PKEY_free(key);
	return r;
}

json_t *oidc_key_new(const char *alg, int64_t now)
{
	json_t *rec =
	    json_pack("{s:s, s:[], s:I}", "algorithm", alg, "public_keys", "next_rotation", (json_int_t)now);
	if (rec && new_pair(rec) != 0) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

int oidc_key_rotate(json_t *rec, int64_t now, int64_t verification_ttl)
{
	const char *kid = json_string_value(json_object_get(rec, "kid"));
	json_t *pk;
	size_t i;
	int r;

	json_array_foreach(json_object_get(rec, "public_keys"), i, pk)
	{
		const char *k = json_string_value(json_object_get(json_object_get(pk, "jwk"), "kid"));
		if (kid && k && strcmp(k, kid) == 0)
			json_object_set_new(pk, "expire_at", json_integer(now + verification_ttl));
	}
	if ((r = new_pair(rec)) != 0)
		return r;
	json_object_set_new(rec, "next_rotation",
	                    json_integer(now + json_integer_value(json_object_get(rec, "rotation_period"))));
	oidc_key_expire(rec, now);
	return 0;
}

bool oidc_key_expire(json_t *rec, int64_t now)
{
	json_t *keys = json_object_get(rec, "public_keys");
	bool changed = false;

	for (size_t i = json_array_size(keys); i-- > 0;) {
		json_int_t at = json_integer_value(json_object_get(json_array_get(keys, i), "expire_at"));
		if (at > 0 && at <= now) {
			json_array_remove(keys, i);
			changed = true;
		}
	}
	return changed;
}

int oidc_key_sign(const json_t *rec, const json_t *claims, char **out)
{
	const char *pem = json_string_value(json_object_get(rec, "private_key"));
	BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	int r = key ? jws_sign_compact(json_string_value(json_object_get(rec, "algorithm")), key,
	                               json_string_value(json_object_get(rec, "kid")), claims, out)
	            : TROVE_ERR_INTERNAL;
	EVP_PKEY_free(key);
	BIO_free(bio);
	return r;
}

int oidc_doc_load(struct storage *st, const char *path, json_t **out)
{
	unsigned char *v = NULL;
	size_t n = 0;
	int r;

	*out = NULL;
	if ((r = storage_get(st, path, &v, &n)) != 0)
		return r;
	*out = json_loadb((const char *)v, n, 0, NULL);
	secure_free(v, n);
	return json_is_object(*out) ? 0 : TROVE_ERR_INTEGRITY;
}

int oidc_doc_store(struct storage *st, const char *path, const json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	int r;

	if (!text)
		return TROVE_ERR_NOMEM;
	r = storage_put(st, path, text, strlen(text));
	secure_free_str(text);
	return r;
}

int oidc_key_load(struct storage *st, const char *name, json_t **out)
{
	char path[512];

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), KEY_PREFIX "%s", name) >= sizeof(path))
		return TROVE_ERR_NOT_FOUND;
	return oidc_doc_load(st, path, out);
}

int oidc_key_store(struct storage *st, const char *name, const json_t *rec)
{
	char path[512];

	if ((size_t)snprintf(path, sizeof(path), KEY_PREFIX "%s", name) >= sizeof(path))
		return TROVE_ERR_INVALID;
	return oidc_doc_store(st, path, rec);
}

json_t *oidc_jwks(struct storage *st, int64_t now)
{
	json_t *out = json_array(), *rec = NULL, *pk;
	struct strlist names;
	size_t j;

	strlist_init(&names);
	storage_list(st, KEY_PREFIX, &names);
	for (size_t i = 0; i < names.len; i++) {
		if (oidc_key_load(st, names.items[i], &rec) != 0)
			continue;
		json_array_foreach(json_object_get(rec, "public_keys"), j, pk)
		{
			json_int_t at = json_integer_value(json_object_get(pk, "expire_at"));
			if (at == 0 || at > now)
				json_array_append(out, json_object_get(pk, "jwk"));
		}
		json_decref(rec);
		rec = NULL;
	}
	strlist_release(&names);
	return json_pack("{s:o}", "keys", out);
}

int64_t oidc_next_rotation(struct storage *st)
{
	struct strlist names;
	json_t *rec = NULL;
	int64_t soonest = 0;

	strlist_init(&names);
	storage_list(st, KEY_PREFIX, &names);
	for (size_t i = 0; i < names.len; i++) {
		if (oidc_key_load(st, names.items[i], &rec) != 0)
			continue;
		int64_t at = json_integer_value(json_object_get(rec, "next_rotation"));
		if (soonest == 0 || at < soonest)
			soonest = at;
		json_decref(rec);
		rec = NULL;
	}
	strlist_release(&names);
	return soonest;
}
