/* approle_secret.c — secret ID entries of auth/approle in storage.
 *
 * A secret ID is found by its HMAC (approle.h): the entry at
 * secret_id/<dir>/<H(dir, secret)> and the accessor index at
 * accessor/<H("accessor", accessor)> are written and deleted together in
 * one transaction, so one never outlives the other except through a
 * crash, which tidy repairs.
 *
 * Uses: an entry with num_uses 0 is never written after registration.
 * One with a limit is spent under its stripe lock: re-read, refuse if gone
 * or expired, then either decrement or, for the last use, delete. The
 * login that spends the last use succeeds; any later one finds nothing.
 *
 * Expiry is checked by every reader (login, spend, lookup) against the
 * clock, whether or not tidy has removed the entry yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approle.h"

#include "duration.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

#define NS_PER_S 1000000000LL
#define FLUSH_BATCH 64

void approle_secret_init(struct approle_secret *e)
{
	memset(e, 0, sizeof(*e));
	e->metadata = json_object();
	strlist_init(&e->cidr_list);
	strlist_init(&e->token_bound_cidrs);
}

void approle_secret_release(struct approle_secret *e)
{
	json_decref(e->metadata);
	e->metadata = NULL;
	strlist_release(&e->cidr_list);
	strlist_release(&e->token_bound_cidrs);
	secure_wipe(e->hmac, sizeof(e->hmac));
}

json_t *approle_secret_to_store(const struct approle_secret *e)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:O, s:o, s:o}", "hmac", e->hmac, "accessor",
	                 e->accessor, "num_uses", (json_int_t)e->num_uses, "ttl", (json_int_t)e->ttl,
	                 "creation_ns", (json_int_t)e->creation_ns, "expiration_ns",
	                 (json_int_t)e->expiration_ns, "last_updated_ns", (json_int_t)e->last_updated_ns,
	                 "metadata", e->metadata, "cidr_list", strlist_json(&e->cidr_list),
	                 "token_bound_cidrs", strlist_json(&e->token_bound_cidrs));
}

static int strings_into(const json_t *a, struct strlist *out)
{
	return strlist_push_json(out, a) ? 0 : TROVE_ERR_INTEGRITY;
}

static bool int_field(const json_t *j, const char *k, int64_t *out)
{
	json_t *v = json_object_get(j, k);
	if (!json_is_integer(v))
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

int approle_secret_from_store(const json_t *j, struct approle_secret *out)
{
	json_t *h = json_object_get(j, "hmac"), *a = json_object_get(j, "accessor");
	json_t *md = json_object_get(j, "metadata");
	int r;

	if (!json_is_string(h) || json_string_length(h) != APPROLE_HASH_HEX || !json_is_string(a) ||
	    json_string_length(a) > APPROLE_UUID_LEN || !json_is_object(md) ||
	    !int_field(j, "num_uses", &out->num_uses) || !int_field(j, "ttl", &out->ttl) ||
	    !int_field(j, "creation_ns", &out->creation_ns) ||
	    !int_field(j, "expiration_ns", &out->expiration_ns) ||
	    !int_field(j, "last_updated_ns", &out->last_updated_ns))
		return TROVE_ERR_INTEGRITY;
	memcpy(out->hmac, json_string_value(h), APPROLE_HASH_HEX + 1);
	snprintf(out->accessor, sizeof(out->accessor), "%s", json_string_value(a));
	json_decref(out->metadata);
	out->metadata = json_deep_copy(md);
	if ((r = strings_into(json_object_get(j, "cidr_list"), &out->cidr_list)) != 0)
		return r;
	return strings_into(json_object_get(j, "token_bound_cidrs"), &out->token_bound_cidrs);
}

json_t *approle_secret_to_api(const struct approle_secret *e)
{
	return json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:O, s:o, s:o}", "secret_id_accessor", e->accessor,
	                 "secret_id_num_uses", (json_int_t)e->num_uses, "secret_id_ttl", (json_int_t)e->ttl,
	                 "creation_time", approle_time_json(e->creation_ns), "expiration_time",
	                 approle_time_json(e->expiration_ns), "last_updated_time",
	                 approle_time_json(e->last_updated_ns), "metadata", e->metadata, "cidr_list",
	                 strlist_json(&e->cidr_list), "token_bound_cidrs",
	                 strlist_json(&e->token_bound_cidrs));
}

bool approle_secret_expired(const struct approle_secret *e, int64_t now_ns)
{
	return e->expiration_ns > 0 && now_ns >= e->expiration_ns;
}

void approle_secret_key(const char *dir, const char *hmac, char out[APPROLE_KEY_MAX])
{
	snprintf(out, APPROLE_KEY_MAX, APPROLE_SECRET_PREFIX "%s/%s", dir, hmac);
}

void approle_accessor_key(const unsigned char salt[APPROLE_SALT_LEN], const char *accessor,
                          char out[APPROLE_KEY_MAX])
{
	char h[APPROLE_HASH_HEX + 1];
	approle_hash(salt, APPROLE_DOMAIN_ACCESSOR, accessor, h);
	snprintf(out, APPROLE_KEY_MAX, APPROLE_ACCESSOR_PREFIX "%s", h);
}

static bool key_exists(struct storage *s, const char *key, int *err)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int r = storage_get(s, key, &raw, &len);
	secure_free(raw, len);
	*err = r == TROVE_ERR_NOT_FOUND ? 0 : r;
	return r == 0;
}

int approle_secret_register(struct storage *s, struct approle_locks *scope, const unsigned char salt[APPROLE_SALT_LEN],
                            const char *dir, const char *secret_id, struct approle_secret *e)
{
	char key[APPROLE_KEY_MAX], akey[APPROLE_KEY_MAX];
	char *entry = NULL, *index = NULL;
	size_t entry_len = 0, index_len = 0;
	json_t *ej = NULL, *ij = NULL;
	int r;

	approle_hash(salt, dir, secret_id, e->hmac);
	approle_secret_key(dir, e->hmac, key);
	pthread_mutex_t *lk = approle_lock_secret(scope, e->hmac);
	if (key_exists(s, key, &r)) {
		r = TROVE_ERR_CONFLICT;
		goto out;
	}
	if (r != 0)
		goto out;
	/* A fresh accessor (122 random bits: a clash is a broken generator). */
	for (int tries = 0;; tries++) {
		if ((r = rand_uuid(e->accessor)) != 0)
			goto out;
		approle_accessor_key(salt, e->accessor, akey);
		if (!key_exists(s, akey, &r) && r == 0)
			break;
		if (r != 0 || tries == 2) {
			r = r ? r : TROVE_ERR_INTERNAL;
			goto out;
		}
	}
	e->creation_ns = e->last_updated_ns = approle_now_ns();
	e->expiration_ns = 0;
	if (e->ttl > 0 && duration_add_ns(e->creation_ns, e->ttl, &e->expiration_ns) != 0) {
		r = TROVE_ERR_INVALID; /* an expiry past int64 would read as "never" */
		goto out;
	}
	ej = approle_secret_to_store(e);
	ij = json_pack("{s:s, s:s}", "dir", dir, "secret_id_hmac", e->hmac);
	if (!ej || !ij || (r = approle_dump(ej, &entry, &entry_len)) != 0 ||
	    (r = approle_dump(ij, &index, &index_len)) != 0) {
		r = r ? r : TROVE_ERR_NOMEM;
		goto out;
	}
	struct storage_op ops[2] = {
	    {STORAGE_PUT, key, entry, entry_len},
	    {STORAGE_PUT, akey, index, index_len},
	};
	r = storage_txn(s, ops, 2);
out:
	pthread_mutex_unlock(lk);
	json_decref(ej);
	json_decref(ij);
	if (entry)
		approle_free_dump(entry, entry_len);
	if (index)
		approle_free_dump(index, index_len);
	return r;
}

int approle_secret_load(struct storage *s, const char *dir, const char *hmac, struct approle_secret *out)
{
	char key[APPROLE_KEY_MAX];
	json_t *j = NULL;
	approle_secret_key(dir, hmac, key);
	int r = approle_get_json(s, key, &j);
	if (r == 0 && (r = approle_secret_from_store(j, out)) == 0 &&
	    !secure_eq(out->hmac, hmac, APPROLE_HASH_HEX))
		r = TROVE_ERR_INTEGRITY;
	json_decref(j);
	return r;
}

int approle_secret_by_accessor(struct storage *s, const unsigned char salt[APPROLE_SALT_LEN], const char *dir,
                               const char *accessor, struct approle_secret *out)
{
	char akey[APPROLE_KEY_MAX];
	json_t *j = NULL;
	approle_accessor_key(salt, accessor, akey);
	int r = approle_get_json(s, akey, &j);
	if (r != 0)
		return r;
	json_t *d = json_object_get(j, "dir"), *h = json_object_get(j, "secret_id_hmac");
	if (!json_is_string(d) || !json_is_string(h) || json_string_length(h) != APPROLE_HASH_HEX)
		r = TROVE_ERR_INTEGRITY;
	else if (strcmp(json_string_value(d), dir) != 0)
		r = TROVE_ERR_NOT_FOUND; /* another role's secret ID: not ours to show */
	else
		r = approle_secret_load(s, dir, json_string_value(h), out);
	json_decref(j);
	return r;
}

/* Deletes e and its accessor index in one transaction. */
static int delete_entry(struct storage *s, const unsigned char salt[APPROLE_SALT_LEN], const char *dir,
                        const struct approle_secret *e)
{
	char key[APPROLE_KEY_MAX], akey[APPROLE_KEY_MAX];
	approle_secret_key(dir, e->hmac, key);
	approle_accessor_key(salt, e->accessor, akey);
	struct storage_op ops[2] = {
	    {STORAGE_DELETE, key, NULL, 0},
	    {STORAGE_DELETE, akey, NULL, 0},
	};
	return storage_txn(s, ops, 2);
}

int approle_secret_spend(struct storage *s, struct approle_locks *scope, const unsigned char salt[APPROLE_SALT_LEN],
                         const char *dir, const char *hmac, int64_t now_ns)
{
	struct approle_secret e;
	approle_secret_init(&e);
	pthread_mutex_t *lk = approle_lock_secret(scope, hmac);
	int r = approle_secret_load(s, dir, hmac, &e);
	if (r == TROVE_ERR_NOT_FOUND || (r == 0 && (approle_secret_expired(&e, now_ns) || e.num_uses < 0))) {
		r = TROVE_ERR_PERMISSION;
	} else if (r == 0 && e.num_uses == 1) {
		r = delete_entry(s, salt, dir, &e);
	} else if (r == 0 && e.num_uses > 1) {
		char key[APPROLE_KEY_MAX];
		e.num_uses--;
		e.last_updated_ns = now_ns;
		approle_secret_key(dir, hmac, key);
		json_t *j = approle_secret_to_store(&e);
		r = j ? approle_put_json(s, key, j) : TROVE_ERR_NOMEM;
		json_decref(j);
	}
	pthread_mutex_unlock(lk);
	approle_secret_release(&e);
	return r;
}

int approle_secret_destroy(struct storage *s, struct approle_locks *scope, const unsigned char salt[APPROLE_SALT_LEN],
                           const char *dir, const char *hmac)
{
	struct approle_secret e;
	approle_secret_init(&e);
	pthread_mutex_t *lk = approle_lock_secret(scope, hmac);
	int r = approle_secret_load(s, dir, hmac, &e);
	if (r == 0)
		r = delete_entry(s, salt, dir, &e);
	else if (r == TROVE_ERR_NOT_FOUND)
		r = 0;
	pthread_mutex_unlock(lk);
	approle_secret_release(&e);
	return r;
}

/* The HMACs (storage children) of dir's secret IDs. */
static int list_dir(struct storage *s, const char *dir, struct strlist *out)
{
	char prefix[APPROLE_KEY_MAX];
	snprintf(prefix, sizeof(prefix), APPROLE_SECRET_PREFIX "%s/", dir);
	return storage_list(s, prefix, out);
}

int approle_secret_accessors(struct storage *s, const char *dir, struct strlist *out)
{
	struct strlist hmacs;
	int r;
	strlist_init(&hmacs);
	if ((r = list_dir(s, dir, &hmacs)) != 0)
		goto out;
	for (size_t i = 0; i < hmacs.len; i++) {
		struct approle_secret e;
		approle_secret_init(&e);
		r = approle_secret_load(s, dir, hmacs.items[i], &e);
		if (r == 0)
			strlist_push(out, e.accessor);
		approle_secret_release(&e);
		if (r == TROVE_ERR_NOT_FOUND) /* destroyed meanwhile */
			r = 0;
		if (r != 0)
			goto out;
	}
out:
	strlist_release(&hmacs);
	return r;
}

int approle_secret_flush(struct storage *s, const unsigned char salt[APPROLE_SALT_LEN], const char *dir,
                         size_t *removed)
{
	struct strlist hmacs;
	char(*keys)[APPROLE_KEY_MAX] = xcalloc(2 * FLUSH_BATCH, APPROLE_KEY_MAX);
	struct storage_op ops[2 * FLUSH_BATCH];
	size_t n = 0;
	int r;

	strlist_init(&hmacs);
	if ((r = list_dir(s, dir, &hmacs)) != 0)
		goto out;
	for (size_t i = 0; i < hmacs.len; i++) {
		struct approle_secret e;
		approle_secret_init(&e);
		r = approle_secret_load(s, dir, hmacs.items[i], &e);
		if (r == 0 || r == TROVE_ERR_INTEGRITY) {
			/* A damaged entry goes too; its accessor index, if any,
			 * is removed by tidy as dangling. */
			approle_secret_key(dir, hmacs.items[i], keys[2 * n]);
			ops[2 * n] = (struct storage_op){STORAGE_DELETE, keys[2 * n], NULL, 0};
			if (r == 0)
				approle_accessor_key(salt, e.accessor, keys[2 * n + 1]);
			else
				approle_secret_key(dir, hmacs.items[i], keys[2 * n + 1]);
			ops[2 * n + 1] = (struct storage_op){STORAGE_DELETE, keys[2 * n + 1], NULL, 0};
			n++;
			r = 0;
		}
		approle_secret_release(&e);
		if (r == TROVE_ERR_NOT_FOUND)
			r = 0;
		if (r != 0)
			goto out;
		if (n == FLUSH_BATCH || (i + 1 == hmacs.len && n > 0)) {
			if ((r = storage_txn(s, ops, 2 * n)) != 0)
				goto out;
			if (removed)
				*removed += n;
			n = 0;
		}
	}
out:
	strlist_release(&hmacs);
	free(keys);
	return r;
}

/* --- tidy ------------------------------------------------------------------- */

/* The secret ID directories of every role now. */
static int role_dirs(struct storage *s, struct strlist *out)
{
	struct strlist names;
	int r;
	strlist_init(&names);
	if ((r = storage_list(s, APPROLE_ROLE_PREFIX, &names)) != 0)
		goto out;
	for (size_t i = 0; i < names.len; i++) {
		struct approle_role role;
		approle_role_init(&role);
		r = approle_role_load(s, names.items[i], &role);
		if (r == 0)
			strlist_push(out, role.dir);
		approle_role_release(&role);
		if (r == TROVE_ERR_NOT_FOUND)
			r = 0;
		if (r != 0)
			goto out;
	}
out:
	strlist_release(&names);
	return r;
}

/* Removes dir's expired and used-up secret IDs. */
static int tidy_dir(struct storage *s, struct approle_locks *scope, const unsigned char salt[APPROLE_SALT_LEN],
                    const char *dir, int64_t now_ns, struct approle_tidy_stats *st)
{
	struct strlist hmacs;
	int r;
	strlist_init(&hmacs);
	if ((r = list_dir(s, dir, &hmacs)) != 0)
		goto out;
	for (size_t i = 0; i < hmacs.len && r == 0; i++) {
		struct approle_secret e;
		approle_secret_init(&e);
		pthread_mutex_t *lk = approle_lock_secret(scope, hmacs.items[i]);
		r = approle_secret_load(s, dir, hmacs.items[i], &e);
		if (r == 0 && (approle_secret_expired(&e, now_ns) || e.num_uses < 0)) {
			if ((r = delete_entry(s, salt, dir, &e)) == 0)
				st->expired++;
		} else if (r == TROVE_ERR_NOT_FOUND) {
			r = 0;
		} else if (r == TROVE_ERR_INTEGRITY) {
			log_warn("approle tidy: skipping an unreadable secret ID entry", "dir", dir);
			r = 0;
		}
		pthread_mutex_unlock(lk);
		approle_secret_release(&e);
	}
out:
	strlist_release(&hmacs);
	return r;
}

/* Removes accessor indexes whose secret ID entry is gone. */
static int tidy_accessors(struct storage *s, struct approle_locks *scope, struct approle_tidy_stats *st)
{
	struct strlist keys;
	char akey[APPROLE_KEY_MAX], key[APPROLE_KEY_MAX];
	int r;
	strlist_init(&keys);
	if ((r = storage_list(s, APPROLE_ACCESSOR_PREFIX, &keys)) != 0)
		goto out;
	for (size_t i = 0; i < keys.len && r == 0; i++) {
		json_t *j = NULL;
		snprintf(akey, sizeof(akey), APPROLE_ACCESSOR_PREFIX "%s", keys.items[i]);
		r = approle_get_json(s, akey, &j);
		if (r == TROVE_ERR_NOT_FOUND) {
			r = 0;
			continue;
		}
		if (r != 0 && r != TROVE_ERR_INTEGRITY)
			break;
		json_t *d = json_object_get(j, "dir"), *h = json_object_get(j, "secret_id_hmac");
		if (r == TROVE_ERR_INTEGRITY || !json_is_string(d) || !json_is_string(h) ||
		    json_string_length(h) != APPROLE_HASH_HEX || json_string_length(d) != APPROLE_DIR_HEX) {
			/* Unreadable: it can lead nowhere. */
			if ((r = storage_delete(s, akey)) == 0)
				st->accessors++;
		} else if (r == 0) {
			pthread_mutex_t *lk = approle_lock_secret(scope, json_string_value(h));
			approle_secret_key(json_string_value(d), json_string_value(h), key);
			if (!key_exists(s, key, &r) && r == 0 && (r = storage_delete(s, akey)) == 0)
				st->accessors++;
			pthread_mutex_unlock(lk);
		}
		json_decref(j);
	}
out:
	strlist_release(&keys);
	return r;
}

int approle_tidy(struct storage *s, struct approle_locks *scope, const unsigned char salt[APPROLE_SALT_LEN],
                 int64_t now_ns, struct approle_tidy_stats *out)
{
	struct strlist live, dirs, orphans, fresh;
	int r;

	memset(out, 0, sizeof(*out));
	strlist_init(&live);
	strlist_init(&dirs);
	strlist_init(&orphans);
	strlist_init(&fresh);
	if ((r = role_dirs(s, &live)) != 0 || (r = storage_list(s, APPROLE_SECRET_PREFIX, &dirs)) != 0)
		goto out;
	for (size_t i = 0; i < dirs.len && r == 0; i++) {
		char *d = dirs.items[i];
		size_t n = strlen(d);
		if (n == 0 || d[n - 1] != '/')
			continue; /* not a directory: nothing of ours */
		d[n - 1] = '\0';
		if (strlist_contains(&live, d))
			r = tidy_dir(s, scope, salt, d, now_ns, out);
		else
			strlist_push(&orphans, d);
	}
	/* A role made after the first listing has a directory the first
	 * listing missed: only directories no role has now are orphans. */
	if (r == 0 && orphans.len > 0 && (r = role_dirs(s, &fresh)) == 0)
		for (size_t i = 0; i < orphans.len && r == 0; i++)
			if (!strlist_contains(&fresh, orphans.items[i]))
				r = approle_secret_flush(s, salt, orphans.items[i], &out->orphaned);
	if (r == 0)
		r = tidy_accessors(s, scope, out);
out:
	strlist_release(&live);
	strlist_release(&dirs);
	strlist_release(&orphans);
	strlist_release(&fresh);
	return r;
}
