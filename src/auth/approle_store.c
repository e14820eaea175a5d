/* approle_store.c — the auth/approle model in storage: the mount's salt
 * and the HMACs made with it, the stripe locks, the clock, roles in their
 * storage and API forms, and the CIDR, metadata and time helpers the
 * handlers share. The layout is described in approle.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "approle.h"
#include "strhash.h"

#include "core/mount.h"
#include "core/router.h"
#include "core/token.h"
#include "encoding.h"
#include "err.h"
#include "rand.h"
#include "secure.h"
#include "timefmt.h"
#include "cidr.h"
#include "clock.h"
#include "hmac.h"

#include "banned.h"

/* --- clock ------------------------------------------------------------------ */

static const struct clock *_Atomic clock_src;

int64_t approle_now_ns(void)
{
	return clock_read(atomic_load(&clock_src), clock_realtime_ns);
}

void approle_set_clock(const struct clock *c)
{
	atomic_store(&clock_src, c);
}

/* --- salt ------------------------------------------------------------------- */

#define HINT_SLOTS 256

#define SECRET_STRIPES 64

/* Writers of one mount's roles take roles; of one secret ID, its stripe. */
struct approle_locks {
	pthread_mutex_t roles;
	pthread_mutex_t secrets[SECRET_STRIPES];
};

struct approle_mount_state {
	unsigned char salt[APPROLE_SALT_LEN];
	/* Logins tried on the event loop: which role IDs (by a hash, not
	 * the ID) were last seen to need the pool (a service-token role). */
	pthread_mutex_t hint_mu;
	struct {
		uint64_t key;
		bool pool;
	} hints[HINT_SLOTS];
	atomic_bool tidy_running; /* tidy/secret-id (approle_tidy_claim) */
	struct approle_locks locks;
};

static void locks_init(struct approle_locks *l)
{
	pthread_mutex_init(&l->roles, NULL);
	for (size_t i = 0; i < SECRET_STRIPES; i++)
		pthread_mutex_init(&l->secrets[i], NULL);
}

static void locks_destroy(struct approle_locks *l)
{
	pthread_mutex_destroy(&l->roles);
	for (size_t i = 0; i < SECRET_STRIPES; i++)
		pthread_mutex_destroy(&l->secrets[i]);
}

static pthread_mutex_t salt_create_lock = PTHREAD_MUTEX_INITIALIZER;

static int salt_read(struct storage *s, unsigned char out[APPROLE_SALT_LEN])
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int r = storage_get(s, APPROLE_SALT_KEY, &raw, &len);
	if (r != 0)
		return r;
	if (len == APPROLE_SALT_LEN)
		memcpy(out, raw, APPROLE_SALT_LEN);
	else
		r = TROVE_ERR_INTEGRITY;
	secure_free(raw, len);
	return r;
}

int approle_salt_load(struct storage *s, unsigned char out[APPROLE_SALT_LEN])
{
	int r = salt_read(s, out);
	if (r != TROVE_ERR_NOT_FOUND)
		return r;
	/* First use: one creator, and a second look under the lock. */
	pthread_mutex_lock(&salt_create_lock);
	r = salt_read(s, out);
	if (r == TROVE_ERR_NOT_FOUND && (r = rand_bytes(out, APPROLE_SALT_LEN)) == 0)
		r = storage_put(s, APPROLE_SALT_KEY, out, APPROLE_SALT_LEN);
	pthread_mutex_unlock(&salt_create_lock);
	if (r != 0)
		secure_wipe(out, APPROLE_SALT_LEN);
	return r;
}

int approle_salt(const struct request *req, unsigned char out[APPROLE_SALT_LEN])
{
	if (req->mount && req->mount->engine_state) {
		const struct approle_mount_state *st = req->mount->engine_state;
		memcpy(out, st->salt, APPROLE_SALT_LEN);
		return 0;
	}
	return approle_salt_load(req->storage, out);
}

int approle_mount_init(struct mount *m, struct buf *err)
{
	struct approle_mount_state *st = xcalloc(1, sizeof(*st));
	int r = approle_salt_load(m->view, st->salt);
	if (r != 0) {
		buf_printf(err, "approle: cannot load the mount's salt: %s", err_message(r));
		secure_free(st, sizeof(*st));
		return r;
	}
	pthread_mutex_init(&st->hint_mu, NULL);
	locks_init(&st->locks);
	m->engine_state = st;
	return 0;
}

void approle_mount_cleanup(struct mount *m)
{
	struct approle_mount_state *st = m->engine_state;
	if (st) {
		pthread_mutex_destroy(&st->hint_mu);
		locks_destroy(&st->locks);
	}
	secure_free(m->engine_state, sizeof(struct approle_mount_state));
	m->engine_state = NULL;
}

/* --- where logins run ---------------------------------------------------------- */

static uint64_t hint_key(const char *role_id)
{
	return str_hash(role_id) | 1; /* 0 marks an empty slot */
}

bool approle_try_inline(const struct request *req)
{
	const struct approle_mount_state *st = req->mount ? req->mount->engine_state : NULL;
	const char *role_id = field_string(req, "role_id");
	if (!st || !*role_id)
		return true;
	uint64_t k = hint_key(role_id);
	struct approle_mount_state *w = (struct approle_mount_state *)st;
	pthread_mutex_lock(&w->hint_mu);
	bool pool = w->hints[k % HINT_SLOTS].key == k && w->hints[k % HINT_SLOTS].pool;
	pthread_mutex_unlock(&w->hint_mu);
	return !pool;
}

void approle_hint_set(const struct request *req, const char *role_id, bool pool)
{
	struct approle_mount_state *st = req->mount ? req->mount->engine_state : NULL;
	if (!st)
		return;
	uint64_t k = hint_key(role_id);
	pthread_mutex_lock(&st->hint_mu);
	st->hints[k % HINT_SLOTS].key = k;
	st->hints[k % HINT_SLOTS].pool = pool;
	pthread_mutex_unlock(&st->hint_mu);
}

bool approle_tidy_claim(const struct request *req)
{
	struct approle_mount_state *st = req->mount ? req->mount->engine_state : NULL;
	return !st || !atomic_exchange(&st->tidy_running, true);
}

void approle_tidy_release(const struct request *req)
{
	struct approle_mount_state *st = req->mount ? req->mount->engine_state : NULL;
	if (st)
		atomic_store(&st->tidy_running, false);
}

/* --- hashing ---------------------------------------------------------------- */

void approle_hash(const unsigned char salt[APPROLE_SALT_LEN], const char *domain, const char *value,
                  char out[APPROLE_HASH_HEX + 1])
{
	unsigned char stackbuf[64 + APPROLE_INPUT_MAX];
	size_t dl = strlen(domain), vl = strlen(value), n = dl + 1 + vl;
	unsigned char *in = n <= sizeof(stackbuf) ? stackbuf : xmalloc(n);
	unsigned char mac[HMAC_SHA256_LEN];

	memcpy(in, domain, dl);
	in[dl] = 0;
	memcpy(in + dl + 1, value, vl);
	if (hmac_sha256(salt, APPROLE_SALT_LEN, in, n, mac) != 0)
		abort(); /* cannot fail with these arguments */
	hex_encode(mac, HMAC_SHA256_LEN, out);
	secure_wipe(in, n);
	secure_wipe(mac, sizeof(mac));
	if (in != stackbuf)
		free(in);
}

/* --- locks ------------------------------------------------------------------ */

/* Outside a mount (unit tests): one set for every caller. */
static struct approle_locks loose_locks;
static pthread_once_t loose_locks_once = PTHREAD_ONCE_INIT;

static void loose_locks_init(void)
{
	locks_init(&loose_locks);
}

static struct approle_locks *locks_of(struct approle_locks *scope)
{
	if (scope)
		return scope;
	pthread_once(&loose_locks_once, loose_locks_init);
	return &loose_locks;
}

struct approle_locks *approle_scope(const struct request *req)
{
	struct approle_mount_state *st = req->mount ? req->mount->engine_state : NULL;
	return st ? &st->locks : NULL;
}

pthread_mutex_t *approle_lock_roles(struct approle_locks *scope)
{
	pthread_mutex_t *m = &locks_of(scope)->roles;
	pthread_mutex_lock(m);
	return m;
}

pthread_mutex_t *approle_lock_secret(struct approle_locks *scope, const char *hmac)
{
	pthread_mutex_t *m = &locks_of(scope)->secrets[str_hash(hmac) % SECRET_STRIPES];
	pthread_mutex_lock(m);
	return m;
}

/* --- JSON in storage -------------------------------------------------------- */

int approle_get_json(struct storage *s, const char *key, json_t **out)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int r = storage_get(s, key, &raw, &len);
	*out = NULL;
	if (r != 0)
		return r;
	json_t *v = json_loadb((const char *)raw, len, 0, NULL);
	secure_free(raw, len);
	if (!json_is_object(v)) {
		json_decref(v);
		return TROVE_ERR_INTEGRITY;
	}
	*out = v;
	return 0;
}

int approle_dump(const json_t *v, char **out, size_t *len)
{
	*out = json_dumps(v, JSON_COMPACT);
	if (!*out)
		return TROVE_ERR_NOMEM;
	*len = strlen(*out);
	return 0;
}

void approle_free_dump(char *p, size_t len)
{
	secure_free(p, len);
}

int approle_put_json(struct storage *s, const char *key, const json_t *v)
{
	char *text;
	size_t len;
	int r = approle_dump(v, &text, &len);
	if (r != 0)
		return r;
	r = storage_put(s, key, text, len);
	approle_free_dump(text, len);
	return r;
}

/* --- roles ------------------------------------------------------------------ */

static bool word_char(int c)
{
	return isalnum(c) || c == '_';
}

int approle_role_name(const struct request *req, struct response *resp, char out[APPROLE_NAME_MAX + 1])
{
	const char *name = request_param(req, "role_name");
	size_t n = name ? strlen(name) : 0;
	if (n == 0)
		return response_error(resp, TROVE_ERR_INVALID, "missing role_name");
	if (n > APPROLE_NAME_MAX)
		return response_error(resp, TROVE_ERR_INVALID, "role_name is longer than maximum of %d bytes",
		                      APPROLE_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)name[i];
		bool edge = i == 0 || i == n - 1;
		if (!(word_char(c) || (!edge && (c == '-' || c == '.'))))
			return response_error(
			    resp, TROVE_ERR_INVALID,
			    "role_name may hold only letters, digits, '_', '-' and '.', and must "
			    "begin and end with a letter, digit or '_'");
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return 0;
}

void approle_role_init(struct approle_role *r)
{
	memset(r, 0, sizeof(*r));
	strlist_init(&r->secret_id_bound_cidrs);
	token_params_init(&r->tp);
	r->bind_secret_id = true;
}

void approle_role_release(struct approle_role *r)
{
	secure_free_str(r->role_id);
	r->role_id = NULL;
	strlist_release(&r->secret_id_bound_cidrs);
	token_params_release(&r->tp);
}

static int list_from_json(const json_t *a, struct strlist *out)
{
	return strlist_push_json(out, a) ? 0 : TROVE_ERR_INTEGRITY;
}

json_t *approle_role_to_store(const struct approle_role *r)
{
	return json_pack("{s:s, s:s, s:b, s:o, s:I, s:I, s:b, s:o}", "role_id", r->role_id, "dir", r->dir,
	                 "bind_secret_id", r->bind_secret_id, "secret_id_bound_cidrs",
	                 strlist_json(&r->secret_id_bound_cidrs), "secret_id_num_uses",
	                 (json_int_t)r->secret_id_num_uses, "secret_id_ttl", (json_int_t)r->secret_id_ttl,
	                 "local_secret_ids", r->local_secret_ids, "token", token_params_store(&r->tp));
}

int approle_role_from_store(const json_t *j, const char *name, struct approle_role *out)
{
	json_t *rid = json_object_get(j, "role_id"), *dir = json_object_get(j, "dir");
	json_t *bind = json_object_get(j, "bind_secret_id"), *nu = json_object_get(j, "secret_id_num_uses");
	json_t *ttl = json_object_get(j, "secret_id_ttl"), *loc = json_object_get(j, "local_secret_ids");
	int r;

	if (!json_is_string(rid) || !json_is_string(dir) || json_string_length(dir) != APPROLE_DIR_HEX ||
	    !json_is_boolean(bind) || !json_is_integer(nu) || !json_is_integer(ttl) ||
	    !json_is_boolean(loc) || strlen(name) > APPROLE_NAME_MAX)
		return TROVE_ERR_INTEGRITY;
	snprintf(out->name, sizeof(out->name), "%s", name);
	secure_free_str(out->role_id);
	out->role_id = xstrdup(json_string_value(rid));
	snprintf(out->dir, sizeof(out->dir), "%s", json_string_value(dir));
	out->bind_secret_id = json_is_true(bind);
	out->secret_id_num_uses = (int64_t)json_integer_value(nu);
	out->secret_id_ttl = (int64_t)json_integer_value(ttl);
	out->local_secret_ids = json_is_true(loc);
	if ((r = list_from_json(json_object_get(j, "secret_id_bound_cidrs"), &out->secret_id_bound_cidrs)) !=
	    0)
		return r;
	return token_params_load(json_object_get(j, "token"), &out->tp);
}

int approle_role_load(struct storage *s, const char *name, struct approle_role *out)
{
	char key[APPROLE_KEY_MAX + APPROLE_NAME_MAX];
	json_t *j = NULL;
	snprintf(key, sizeof(key), APPROLE_ROLE_PREFIX "%s", name);
	int r = approle_get_json(s, key, &j);
	if (r == 0)
		r = approle_role_from_store(j, name, out);
	json_decref(j);
	return r;
}

json_t *approle_role_to_api(const struct approle_role *r)
{
	json_t *o = json_pack("{s:b, s:o, s:I, s:I, s:b}", "bind_secret_id", r->bind_secret_id,
	                      "secret_id_bound_cidrs", strlist_json(&r->secret_id_bound_cidrs),
	                      "secret_id_num_uses", (json_int_t)r->secret_id_num_uses, "secret_id_ttl",
	                      (json_int_t)r->secret_id_ttl, "local_secret_ids", r->local_secret_ids);
	if (o)
		token_params_to_json(&r->tp, o);
	return o;
}

bool approle_role_constrained(const struct approle_role *r)
{
	return r->bind_secret_id || r->secret_id_bound_cidrs.len > 0 || r->tp.bound_cidrs.len > 0;
}

/* --- CIDRs ------------------------------------------------------------------ */

void approle_field_list(const struct request *req, const char *name, struct strlist *out)
{
	json_t *v = req->data ? json_object_get(req->data, name) : NULL, *x;
	size_t i;
	if (!json_is_array(v))
		return;
	json_array_foreach(v, i, x)
	{
		if (json_is_string(x) && json_string_length(x) > 0 &&
		    !strlist_contains(out, json_string_value(x)))
			strlist_push(out, json_string_value(x));
	}
}

bool approle_cidrs_valid(const struct strlist *l, const char **bad)
{
	struct cidr c;
	for (size_t i = 0; i < l->len; i++) {
		if (!cidr_parse(l->items[i], &c)) {
			*bad = l->items[i];
			return false;
		}
	}
	return true;
}

bool approle_cidr_subset(const struct strlist *inner, const struct strlist *outer)
{
	if (outer->len == 0)
		return true;
	for (size_t i = 0; i < inner->len; i++) {
		struct cidr in, out;
		bool inside = false;
		if (!cidr_parse(inner->items[i], &in))
			return false;
		for (size_t j = 0; j < outer->len && !inside; j++)
			inside = cidr_parse(outer->items[j], &out) && cidr_contains(&out, &in);
		if (!inside)
			return false;
	}
	return true;
}

/* --- metadata --------------------------------------------------------------- */

static const char *trim(const char *s, size_t *len)
{
	while (*len > 0 && isspace((unsigned char)*s)) {
		s++;
		(*len)--;
	}
	while (*len > 0 && isspace((unsigned char)s[*len - 1]))
		(*len)--;
	return s;
}

/* "k=v,k2=v2" (Vault's ParseKeyValues): blanks around keys and values
 * are dropped; every pair needs a key and an '='. */
static int parse_pairs(const char *s, json_t *out, const char **why)
{
	for (const char *p = s;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		if (!eq) {
			*why = "expected a JSON object or comma-separated key=value pairs";
			return TROVE_ERR_INVALID;
		}
		size_t kl = (size_t)(eq - p), vl = n - kl - 1;
		const char *k = trim(p, &kl), *v = trim(eq + 1, &vl);
		if (kl == 0) {
			*why = "empty key";
			return TROVE_ERR_INVALID;
		}
		char *key = xstrndup(k, kl);
		json_object_set_new(out, key, json_stringn(v, vl));
		free(key);
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int approle_metadata_parse(const json_t *in, json_t **out, const char **why)
{
	json_t *obj = NULL;
	*out = NULL;
	if (!in || json_is_null(in)) {
		*out = json_object();
		return 0;
	}
	if (json_is_object(in)) {
		obj = json_deep_copy(in);
	} else if (json_is_string(in)) {
		size_t len = json_string_length(in);
		const char *s = trim(json_string_value(in), &len);
		if (len == 0) {
			*out = json_object();
			return 0;
		}
		if (s[0] == '{') {
			obj = json_loadb(s, len, 0, NULL);
			if (!json_is_object(obj)) {
				json_decref(obj);
				*why = "not a valid JSON object";
				return TROVE_ERR_INVALID;
			}
		} else {
			char *copy = xstrndup(s, len);
			obj = json_object();
			int r = parse_pairs(copy, obj, why);
			free(copy);
			if (r != 0) {
				json_decref(obj);
				return r;
			}
		}
	} else {
		*why = "expected a JSON object or a string";
		return TROVE_ERR_INVALID;
	}
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		if (!json_is_string(v)) {
			json_decref(obj);
			*why = "values must be strings";
			return TROVE_ERR_INVALID;
		}
	}
	*out = obj;
	return 0;
}

/* --- time ------------------------------------------------------------------- */

json_t *approle_time_json(int64_t ns)
{
	char out[TIME_TEXT_MAX];
	if (ns <= 0)
		return json_string("0001-01-01T00:00:00Z"); /* Go's zero time */
	time_rfc3339_ns(ns, out);
	return json_string(out);
}
