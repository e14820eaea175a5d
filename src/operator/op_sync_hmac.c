/* op_sync_hmac.c — the operator's HMAC key, kept where VSO keeps it: the
 * Secret vso-cc-storage-hmac-key (key "key") in the operator's namespace,
 * immutable, made once with random bytes. status.secretMAC is a MAC of a
 * destination's data under it, so the status never carries the data nor
 * a plain hash one could test guesses against. */
#include <string.h>

#include "encoding.h"
#include "err.h"
#include "operator/op_dest.h"
#include "operator/op_sync.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

/* Takes the key out of a Secret object. */
static bool key_from_secret(struct op_sync *s, const json_t *secret)
{
	const char *b64 = op_json_str(secret, "data.key");
	unsigned char key[OP_HMAC_KEY_LEN * 2];
	size_t len = 0;

	if (b64 == NULL || base64_decode(b64, strlen(b64), key, sizeof(key), &len) != 0 || len < 16)
		return false;
	pthread_mutex_lock(&s->mu);
	if (s->hmac_key_len == 0) {
		memcpy(s->hmac_key, key, len < OP_HMAC_KEY_LEN ? len : OP_HMAC_KEY_LEN);
		s->hmac_key_len = len < OP_HMAC_KEY_LEN ? len : OP_HMAC_KEY_LEN;
	}
	pthread_mutex_unlock(&s->mu);
	secure_wipe(key, sizeof(key));
	return true;
}

static json_t *new_key_secret(const char *ns)
{
	unsigned char key[OP_HMAC_KEY_LEN];
	char b64[64];
	json_t *s;

	if (rand_bytes(key, sizeof(key)) != 0)
		return NULL;
	base64_encode(key, sizeof(key), b64);
	secure_wipe(key, sizeof(key));
	s = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s}}, s:b, s:{s:s}}", "apiVersion", "v1", "kind",
	              "Secret", "metadata", "name", OP_HMAC_SECRET, "namespace", ns, "labels",
	              "app.kubernetes.io/name", "vault-secrets-operator", "app.kubernetes.io/managed-by",
	              "hashicorp-vso", "app.kubernetes.io/component", "client-cache-storage-verification",
	              "immutable", 1, "data", "key", b64);
	secure_wipe(b64, sizeof(b64));
	return s;
}

int op_hmac_key_load(struct op *o, struct op_fail *f)
{
	struct op_sync *s = o->sync;
	struct kube_resp r;
	json_t *secret = NULL;
	bool loaded;
	int i, rc = TROVE_ERR_UPSTREAM;

	pthread_mutex_lock(&s->mu);
	loaded = s->hmac_key_len > 0;
	pthread_mutex_unlock(&s->mu);
	if (loaded)
		return 0;
	/* Read it, else create it; a 409 means another replica made it
	 * meanwhile: read again. */
	for (i = 0; i < 2 && rc != 0; i++) {
		kube_resp_init(&r);
		if (kube_get(o->kube, &KUBE_SECRETS, o->namespace, OP_HMAC_SECRET, &r) == 0 && r.status == 200) {
			rc = key_from_secret(s, r.body) ? 0 : TROVE_ERR_INVALID;
			if (rc != 0)
				op_fail_set(f, "HMACDataError", "the Secret %s/%s holds no usable key", o->namespace,
				            OP_HMAC_SECRET);
		} else if (r.status == 404 && (secret = new_key_secret(o->namespace)) != NULL) {
			kube_resp_release(&r);
			kube_resp_init(&r);
			if (kube_create(o->kube, &KUBE_SECRETS, o->namespace, secret, &r) == 0 && r.status == 201)
				rc = key_from_secret(s, secret) ? 0 : TROVE_ERR_INTERNAL;
			else
				op_fail_set(f, "HMACDataError", "could not create the Secret %s/%s: %s",
				            o->namespace, OP_HMAC_SECRET, r.error ? r.error : "no answer");
			api_json_free_secret(secret);
			secret = NULL;
		} else
			op_fail_set(f, "HMACDataError", "could not read the Secret %s/%s: %s", o->namespace,
			            OP_HMAC_SECRET, r.error ? r.error : "no answer");
		api_json_free_secret(r.body);
		r.body = NULL;
		kube_resp_release(&r);
		if (rc == TROVE_ERR_INVALID)
			break;
	}
	if (rc == 0)
		op_fail_release(f);
	return rc;
}

bool op_hmac_data(struct op_sync *s, const json_t *data, char out[OP_MAC_TEXT])
{
	unsigned char key[OP_HMAC_KEY_LEN];
	size_t len;
	int r;

	pthread_mutex_lock(&s->mu);
	len = s->hmac_key_len;
	memcpy(key, s->hmac_key, sizeof(key));
	pthread_mutex_unlock(&s->mu);
	if (len == 0)
		return false;
	r = op_dest_mac(key, len, data, out);
	secure_wipe(key, sizeof(key));
	return r == 0;
}
