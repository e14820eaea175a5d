/* token.c — the token store (first piece: root tokens and lookup).
 *
 * An entry lives at sys/token/id/<hex HMAC-SHA256(salt, token id)> inside
 * the barrier; the token itself is never stored. The salt is created once
 * per installation. A read-write lock guards the salt and storage handle so
 * that seal (close) cannot race a lookup. */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "token.h"

#include "encoding.h"
#include "err.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

#define SALT_LEN 32
#define HASH_HEX_LEN 64

struct token_store {
	pthread_rwlock_t lock;
	struct storage *logical; /* borrowed; NULL while closed */
	unsigned char salt[SALT_LEN];
};

struct token_store *token_store_new(void)
{
	struct token_store *ts = xcalloc(1, sizeof(*ts));
	pthread_rwlock_init(&ts->lock, NULL);
	return ts;
}

void token_store_free(struct token_store *ts)
{
	if (!ts)
		return;
	token_store_close(ts);
	pthread_rwlock_destroy(&ts->lock);
	free(ts);
}

int token_store_open(struct token_store *ts, struct storage *logical)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int r;

	pthread_rwlock_wrlock(&ts->lock);
	r = storage_get(logical, TOKEN_SALT_PATH, &raw, &len);
	if (r == TROVE_ERR_NOT_FOUND) {
		if ((r = rand_bytes(ts->salt, SALT_LEN)) != 0)
			goto out;
		if ((r = storage_put(logical, TOKEN_SALT_PATH, ts->salt, SALT_LEN)) != 0)
			goto out;
	} else if (r != 0) {
		goto out;
	} else if (len != SALT_LEN) {
		r = TROVE_ERR_INTEGRITY;
		goto out;
	} else {
		memcpy(ts->salt, raw, SALT_LEN);
	}
	ts->logical = logical;
	r = 0;
out:
	secure_free(raw, len);
	pthread_rwlock_unlock(&ts->lock);
	return r;
}

void token_store_close(struct token_store *ts)
{
	pthread_rwlock_wrlock(&ts->lock);
	ts->logical = NULL;
	secure_wipe(ts->salt, SALT_LEN);
	pthread_rwlock_unlock(&ts->lock);
}

/* Caller holds the lock. out: HASH_HEX_LEN + 1 bytes. */
static int hash_id(struct token_store *ts, const char *id, char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	if (!HMAC(EVP_sha256(), ts->salt, SALT_LEN, (const unsigned char *)id, strlen(id), mac, &mac_len) ||
	    mac_len != 32)
		return TROVE_ERR_INTERNAL;
	hex_encode(mac, 32, out);
	return 0;
}

/* Token ids are printable ASCII without '.' after the prefix, as Vault. */
static bool valid_custom_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > TOKEN_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)id[i];
		if (ch <= 0x20 || ch >= 0x7f)
			return false;
	}
	return true;
}

static json_t *entry_to_json(const struct token_entry *e)
{
	json_t *pol = json_array();
	for (size_t i = 0; i < e->policies.len; i++)
		json_array_append_new(pol, json_string(e->policies.items[i]));
	return json_pack("{s:s, s:o, s:s, s:s, s:I, s:I}", "accessor", e->accessor, "policies", pol, "path", e->path,
			 "display_name", e->display_name, "creation_time", (json_int_t)e->creation_time, "ttl",
			 (json_int_t)e->ttl);
}

static int entry_from_json(const unsigned char *raw, size_t len, struct token_entry **out)
{
	json_t *j = json_loadb((const char *)raw, len, 0, NULL), *pol = NULL;
	const char *accessor, *path, *display;
	json_int_t ctime, ttl;
	struct token_entry *e = NULL;
	int r = TROVE_ERR_INTEGRITY;
	if (!j || json_unpack(j, "{s:s, s:o, s:s, s:s, s:I, s:I}", "accessor", &accessor, "policies", &pol, "path",
			      &path, "display_name", &display, "creation_time", &ctime, "ttl", &ttl) != 0)
		goto out;
	if (!json_is_array(pol) || strlen(accessor) >= sizeof(e->accessor))
		goto out;
	e = xcalloc(1, sizeof(*e));
	strlist_init(&e->policies);
	snprintf(e->accessor, sizeof(e->accessor), "%s", accessor);
	e->path = xstrdup(path);
	e->display_name = xstrdup(display);
	e->creation_time = ctime;
	e->ttl = ttl;
	size_t i;
	json_t *v;
	json_array_foreach(pol, i, v)
	{
		if (json_is_string(v))
			strlist_push(&e->policies, json_string_value(v));
	}
	strlist_sort_unique(&e->policies);
	*out = e;
	e = NULL;
	r = 0;
out:
	token_entry_free(e);
	json_decref(j);
	return r;
}

int token_create_root(struct token_store *ts, const char *id, char **out_id)
{
	char hash[HASH_HEX_LEN + 1];
	char key[sizeof(TOKEN_ID_PREFIX) + HASH_HEX_LEN];
	char akey[HASH_HEX_LEN + 1];
	char *tok = NULL, *text = NULL;
	json_t *j = NULL;
	struct token_entry e = { 0 };
	int r;

	*out_id = NULL;
	strlist_init(&e.policies);
	pthread_rwlock_rdlock(&ts->lock);
	r = TROVE_ERR_SEALED;
	if (!ts->logical)
		goto out;
	if (id) {
		r = TROVE_ERR_INVALID;
		if (!valid_custom_id(id))
			goto out;
		tok = xstrdup(id);
	} else {
		tok = xmalloc(4 + 24 + 1);
		memcpy(tok, "hvs.", 4);
		if ((r = rand_base62(tok + 4, 24)) != 0)
			goto out;
	}
	if ((r = rand_base62(e.accessor, 24)) != 0)
		goto out;
	strlist_push(&e.policies, "root");
	e.path = (char *)"auth/token/root";
	e.display_name = (char *)"root";
	e.creation_time = (int64_t)time(NULL);
	e.ttl = 0;
	if ((r = hash_id(ts, tok, hash)) != 0)
		goto out;
	snprintf(key, sizeof(key), "%s%s", TOKEN_ID_PREFIX, hash);
	j = entry_to_json(&e);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	r = TROVE_ERR_NOMEM;
	if (!text)
		goto out;
	/* The accessor index maps the accessor's hash to the token's hash,
	 * so lookup-by-accessor (next in the token store) never needs the
	 * token itself. */
	if ((r = hash_id(ts, e.accessor, akey)) != 0)
		goto out;
	char akey_full[sizeof(TOKEN_ACCESSOR_PREFIX) + HASH_HEX_LEN];
	snprintf(akey_full, sizeof(akey_full), "%s%s", TOKEN_ACCESSOR_PREFIX, akey);
	struct storage_op ops[2] = {
		{ STORAGE_PUT, key, text, strlen(text) },
		{ STORAGE_PUT, akey_full, hash, HASH_HEX_LEN },
	};
	if ((r = storage_txn(ts->logical, ops, 2)) != 0)
		goto out;
	*out_id = tok;
	tok = NULL;
	r = 0;
out:
	pthread_rwlock_unlock(&ts->lock);
	secure_free_str(tok);
	free(text);
	json_decref(j);
	strlist_release(&e.policies);
	return r;
}

int token_lookup(struct token_store *ts, const char *id, struct token_entry **out)
{
	char hash[HASH_HEX_LEN + 1];
	char key[sizeof(TOKEN_ID_PREFIX) + HASH_HEX_LEN];
	unsigned char *raw = NULL;
	size_t len = 0;
	struct token_entry *e = NULL;
	int r;

	*out = NULL;
	if (!id || !valid_custom_id(id))
		return TROVE_ERR_PERMISSION;
	pthread_rwlock_rdlock(&ts->lock);
	r = TROVE_ERR_SEALED;
	if (!ts->logical)
		goto out;
	if ((r = hash_id(ts, id, hash)) != 0)
		goto out;
	snprintf(key, sizeof(key), "%s%s", TOKEN_ID_PREFIX, hash);
	r = storage_get(ts->logical, key, &raw, &len);
	if (r == TROVE_ERR_NOT_FOUND)
		r = TROVE_ERR_PERMISSION;
	if (r != 0)
		goto out;
	if ((r = entry_from_json(raw, len, &e)) != 0)
		goto out;
	if (e->ttl > 0 && e->creation_time + e->ttl <= (int64_t)time(NULL)) {
		r = TROVE_ERR_PERMISSION;
		goto out;
	}
	*out = e;
	e = NULL;
	r = 0;
out:
	pthread_rwlock_unlock(&ts->lock);
	token_entry_free(e);
	free(raw);
	return r;
}

void token_entry_free(struct token_entry *e)
{
	if (!e)
		return;
	strlist_release(&e->policies);
	free(e->path);
	free(e->display_name);
	free(e);
}

bool token_has_policy(const struct token_entry *e, const char *policy)
{
	return e && strlist_contains(&e->policies, policy);
}
