/* batch_keys.c — counted, rotating keys for batch tokens (batch_keys.h).
 *
 * The count and reservation follow barrier.c's scheme with one mutex: a
 * seal takes a number under the lock; when the number passes the
 * reservation, the reservation is raised by RESERVE_STEP (capped at the
 * threshold) and persisted before the number is used; when it passes the
 * threshold, a new term is installed and persisted first. Writes are
 * therefore rare: one per RESERVE_STEP seals, and one per rotation. */
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_keys.h"

#include "barrier.h"
#include "encoding.h"
#include "err.h"
#include "rand.h"
#include "secure.h"
#include "token.h"

#include "banned.h"

#define RESERVE_STEP (UINT64_C(1) << 24)
#define LEGACY_TERM 1

struct term_key {
	uint32_t term;
	unsigned char key[BARRIER_KEY_LEN];
};

struct batch_keys {
	pthread_mutex_t mu;
	struct storage *logical; /* NULL while closed */
	struct term_key *keys;   /* ascending terms; the last is active */
	size_t nkeys;
	uint64_t count;    /* seals under the active term */
	uint64_t reserved; /* persisted: >= count */
	uint64_t threshold;
};

struct batch_keys *batch_keys_new(void)
{
	struct batch_keys *k = xcalloc(1, sizeof(*k));
	pthread_mutex_init(&k->mu, NULL);
	k->threshold = BARRIER_ROTATE_DEFAULT;
	return k;
}

static void drop_keys(struct batch_keys *k)
{
	if (k->keys)
		secure_free(k->keys, k->nkeys * sizeof(*k->keys));
	k->keys = NULL;
	k->nkeys = 0;
	k->count = k->reserved = 0;
}

void batch_keys_free(struct batch_keys *k)
{
	if (!k)
		return;
	batch_keys_close(k);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

void batch_keys_close(struct batch_keys *k)
{
	pthread_mutex_lock(&k->mu);
	k->logical = NULL;
	drop_keys(k);
	pthread_mutex_unlock(&k->mu);
}

/* Writes keys, the active term (the last) and reserved. Caller holds mu. */
static int persist(struct storage *logical, const struct term_key *keys, size_t n, uint64_t reserved)
{
	char b64[64], name[16];
	json_t *ks = json_object();
	json_t *root = json_pack("{s:I, s:I, s:o}", "active", (json_int_t)keys[n - 1].term, "reserved",
	                         (json_int_t)reserved, "keys", ks);
	char *text = NULL;
	int r = TROVE_ERR_NOMEM;

	if (!root)
		goto out;
	for (size_t i = 0; i < n; i++) {
		base64_encode(keys[i].key, BARRIER_KEY_LEN, b64);
		snprintf(name, sizeof(name), "%u", (unsigned)keys[i].term);
		int bad = json_object_set_new(ks, name, json_string(b64));
		secure_wipe(b64, sizeof(b64));
		if (bad)
			goto out;
	}
	if (!(text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS)))
		goto out;
	r = storage_put(logical, TOKEN_BATCH_KEY_PATH, text, strlen(text));
out:
	secure_free_str(text);
	json_decref(root); /* jansson wipes what it frees (secure.h) */
	return r;
}

/* Appends a fresh key as term max+1 to a copy of the keys, persists it with
 * a zero reservation, and installs it. Caller holds mu. */
static int rotate_locked(struct batch_keys *k)
{
	uint32_t next = k->nkeys ? k->keys[k->nkeys - 1].term + 1 : LEGACY_TERM;
	struct term_key *nk = xcalloc(k->nkeys + 1, sizeof(*nk));
	int r;

	if (k->nkeys)
		memcpy(nk, k->keys, k->nkeys * sizeof(*nk));
	nk[k->nkeys].term = next;
	if ((r = rand_bytes(nk[k->nkeys].key, BARRIER_KEY_LEN)) != 0 ||
	    (r = persist(k->logical, nk, k->nkeys + 1, 0)) != 0) {
		secure_free(nk, (k->nkeys + 1) * sizeof(*nk));
		return r;
	}
	size_t n = k->nkeys + 1;
	drop_keys(k);
	k->keys = nk;
	k->nkeys = n;
	return 0;
}

static int parse(struct batch_keys *k, const unsigned char *raw, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb((const char *)raw, len, 0, &jerr), *ks, *v;
	json_int_t active, reserved;
	const char *name;
	int r = TROVE_ERR_INTEGRITY;

	if (!root || json_unpack(root, "{s:I, s:I, s:o}", "active", &active, "reserved", &reserved, "keys", &ks) != 0 ||
	    !json_is_object(ks) || json_object_size(ks) == 0 || reserved < 0)
		goto out;
	k->nkeys = json_object_size(ks);
	k->keys = xcalloc(k->nkeys, sizeof(*k->keys));
	size_t i = 0;
	json_object_foreach(ks, name, v)
	{
		char *end = NULL;
		unsigned long t = strtoul(name, &end, 10);
		size_t got = 0;
		if (!json_is_string(v) || !end || *end || t == 0 || t > UINT32_MAX ||
		    base64_decode(json_string_value(v), json_string_length(v), k->keys[i].key, BARRIER_KEY_LEN, &got) != 0 ||
		    got != BARRIER_KEY_LEN)
			goto out;
		k->keys[i++].term = (uint32_t)t;
	}
	/* ascending terms, unique, the active one last */
	for (size_t a = 1; a < k->nkeys; a++)
		for (size_t b = a; b > 0 && k->keys[b - 1].term > k->keys[b].term; b--) {
			struct term_key tmp = k->keys[b];
			k->keys[b] = k->keys[b - 1];
			k->keys[b - 1] = tmp;
			secure_wipe(&tmp, sizeof(tmp));
		}
	for (size_t a = 1; a < k->nkeys; a++)
		if (k->keys[a].term == k->keys[a - 1].term)
			goto out;
	if ((json_int_t)k->keys[k->nkeys - 1].term != active)
		goto out;
	k->count = k->reserved = (uint64_t)reserved;
	r = 0;
out:
	if (r != 0)
		drop_keys(k);
	json_decref(root);
	return r;
}

int batch_keys_open(struct batch_keys *k, struct storage *logical)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int r;

	pthread_mutex_lock(&k->mu);
	drop_keys(k);
	k->logical = logical;
	r = storage_get(logical, TOKEN_BATCH_KEY_PATH, &raw, &len);
	if (r == TROVE_ERR_NOT_FOUND) {
		r = rotate_locked(k); /* term 1 */
	} else if (r == 0 && len == BARRIER_KEY_LEN) {
		/* Never counted: keep it for the tokens it sealed, seal no more. */
		k->keys = xcalloc(1, sizeof(*k->keys));
		k->nkeys = 1;
		k->keys[0].term = LEGACY_TERM;
		memcpy(k->keys[0].key, raw, BARRIER_KEY_LEN);
		r = rotate_locked(k);
	} else if (r == 0) {
		r = parse(k, raw, len);
	}
	if (r != 0) {
		drop_keys(k);
		k->logical = NULL;
	}
	pthread_mutex_unlock(&k->mu);
	if (raw)
		secure_free(raw, len);
	return r;
}

/* Takes the next seal's number under the active term; copies the key
 * out. Caller holds mu. */
static int take_locked(struct batch_keys *k, struct term_key *out)
{
	int r;

	if (!k->logical || k->nkeys == 0)
		return TROVE_ERR_SEALED;
	if (k->count >= k->threshold) {
		if ((r = rotate_locked(k)) != 0)
			return r;
		k->count = k->reserved = 0;
	}
	if (k->count >= k->reserved) {
		uint64_t want = k->reserved + RESERVE_STEP;
		if (want > k->threshold)
			want = k->threshold;
		if ((r = persist(k->logical, k->keys, k->nkeys, want)) != 0)
			return r;
		k->reserved = want;
	}
	k->count++;
	*out = k->keys[k->nkeys - 1];
	return 0;
}

int batch_keys_seal(struct batch_keys *k, const char *aad, const void *plain, size_t n, unsigned char **out,
                    size_t *out_len)
{
	struct term_key tk;
	int r;

	pthread_mutex_lock(&k->mu);
	r = take_locked(k, &tk);
	pthread_mutex_unlock(&k->mu);
	if (r == 0)
		r = barrier_record_encrypt(tk.key, tk.term, aad, plain, n, out, out_len);
	secure_wipe(&tk, sizeof(tk));
	return r;
}

int batch_keys_open_record(struct batch_keys *k, const char *aad, const unsigned char *rec, size_t len,
                           unsigned char **out, size_t *out_len)
{
	struct term_key tk = {0};
	uint32_t term;
	int r = TROVE_ERR_INTEGRITY;

	if (barrier_record_term(rec, len, &term) != 0)
		return r;
	pthread_mutex_lock(&k->mu);
	for (size_t i = 0; i < k->nkeys; i++)
		if (k->keys[i].term == term) {
			tk = k->keys[i];
			r = 0;
		}
	if (!k->logical)
		r = TROVE_ERR_SEALED;
	pthread_mutex_unlock(&k->mu);
	if (r == 0)
		r = barrier_record_decrypt(tk.key, aad, rec, len, out, out_len);
	secure_wipe(&tk, sizeof(tk));
	return r;
}

void batch_keys_status(struct batch_keys *k, uint32_t *term, uint64_t *count)
{
	pthread_mutex_lock(&k->mu);
	*term = k->nkeys ? k->keys[k->nkeys - 1].term : 0;
	*count = k->count;
	pthread_mutex_unlock(&k->mu);
}

void batch_keys_set_rotation_threshold(struct batch_keys *k, uint64_t n)
{
	pthread_mutex_lock(&k->mu);
	k->threshold = n ? n : BARRIER_ROTATE_DEFAULT;
	pthread_mutex_unlock(&k->mu);
}
