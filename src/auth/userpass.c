/* userpass.c — the auth/userpass engine: users with argon2id password
 * hashes, Vault's API and user lockout.
 *
 * Routes (Vault's):
 *   users                       LIST
 *   users/:username             create/update (password, token_*), read
 *                               (token_* only), delete
 *   users/:username/password    update the password
 *   users/:username/policies    update token_policies
 *   login/:username             unauthenticated; password -> a token
 *
 * Usernames are lowercased (as Vault) and must match Vault's generic name
 * rule: letters, digits, '_', '-', '.', starting and ending with a letter,
 * digit or '_'; at most USERNAME_MAX bytes.
 *
 * Storage (the mount's view, encrypted by the barrier): user/<name> holds
 * {"password_hash": "$argon2id$...", "token_params": {...}}. The password
 * itself is never stored, logged or returned, and reads never show the
 * hash. Writes to one user are serialised by a striped lock (mount UUID +
 * name); the password is hashed before the lock is taken.
 *
 * Login answers 400 "invalid username or password" for an unknown user and
 * for a wrong password alike, and both cost one argon2id verification
 * (userpass_verify_dummy for unknown names), so neither the answer nor its
 * time tells whether a user exists. Lockout (core/lockout.h) counts in the
 * mount's own table (mount_lockout), by username, whether or not the user
 * exists; a locked user
 * gets Vault's 403 "permission denied" without any verification. The
 * mount's lockout settings are Vault's defaults: the mount table does not
 * keep tune's user_lockout_config yet. As in Vault, a user bound to
 * token_bound_cidrs may only log in from those addresses: 403 otherwise,
 * not counted as a failed attempt, and decided before the password is
 * checked, so the refusal does not tell whether the password was right. */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "strhash.h"
#include "auth/userpass_hash.h"

#include "core/lockout.h"
#include "core/login.h"
#include "core/mount.h"
#include "core/token.h"
#include "core/token_params.h"
#include "err.h"
#include "log.h"
#include "secure.h"
#include "strlist_json.h"

#include "banned.h"

#define USER_PREFIX "user/"
#define USERNAME_MAX 256
#define LOCK_STRIPES 64
#define BAD_LOGIN "invalid username or password"

struct user {
	char *password_hash; /* argon2id encoded form; NULL until set */
	struct token_params params;
};

/* --- names and keys ----------------------------------------------------- */

static bool name_char(char c, bool edge)
{
	return isalnum((unsigned char)c) || c == '_' || (!edge && (c == '-' || c == '.'));
}

/* The lowercased copy of a route's username, or NULL when it breaks the
 * naming rule. The caller frees. */
static char *username_of(const struct request *req)
{
	const char *raw = request_param(req, "username");
	size_t n = raw ? strlen(raw) : 0;
	if (n == 0 || n > USERNAME_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!name_char(raw[i], i == 0 || i == n - 1))
			return NULL;
	char *s = xstrdup(raw);
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

static void user_key(char *out, size_t n, const char *name)
{
	snprintf(out, n, USER_PREFIX "%s", name);
}

#define USER_KEY_LEN (sizeof(USER_PREFIX) + USERNAME_MAX + 1)

/* --- per-user write lock ------------------------------------------------ */

/* The mount's state (mount.h, "Per-mount state"): the user write locks.
 * Its lockout table is the core's (mount_lockout). */
struct userpass_state {
	pthread_mutex_t stripes[LOCK_STRIPES];
};

static pthread_mutex_t *user_lock(const struct request *req, const char *name)
{
	struct userpass_state *st = req->mount->engine_state;
	pthread_mutex_t *m = &st->stripes[str_hash(name) % LOCK_STRIPES];
	pthread_mutex_lock(m);
	return m;
}

/* --- the stored user ---------------------------------------------------- */

static void user_init(struct user *u)
{
	u->password_hash = NULL;
	token_params_init(&u->params);
}

static void user_release(struct user *u)
{
	secure_free_str(u->password_hash);
	u->password_hash = NULL;
	token_params_release(&u->params);
}

/* Loads user `name` into u (initialised). TROVE_ERR_NOT_FOUND when absent,
 * TROVE_ERR_INTEGRITY when the record is malformed. */
static int user_load(struct storage *s, const char *name, struct user *u)
{
	char key[USER_KEY_LEN];
	unsigned char *raw = NULL;
	size_t len = 0;
	json_t *j, *h;
	int r;

	user_key(key, sizeof(key), name);
	if ((r = storage_get(s, key, &raw, &len)) != 0)
		return r;
	j = json_loadb((const char *)raw, len, 0, NULL);
	secure_free(raw, len);
	h = json_object_get(j, "password_hash");
	if (!json_is_string(h) || json_string_length(h) > USERPASS_ENCODED_MAX) {
		r = TROVE_ERR_INTEGRITY;
		goto out;
	}
	if ((r = token_params_load(json_object_get(j, "token_params"), &u->params)) != 0)
		goto out;
	u->password_hash = xstrdup(json_string_value(h));
out:
	json_decref(j);
	return r;
}

static int user_store(struct storage *s, const char *name, const struct user *u)
{
	char key[USER_KEY_LEN];
	json_t *j = json_object();
	char *text;
	int r;

	json_object_set_new(j, "password_hash", json_string(u->password_hash));
	json_object_set_new(j, "token_params", token_params_store(&u->params));
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (!text)
		return TROVE_ERR_NOMEM;
	user_key(key, sizeof(key), name);
	r = storage_put(s, key, text, strlen(text));
	secure_free_str(text);
	return r;
}

/* The "password" field: its string and length (it may hold NULs). false
 * when absent or null. */
static bool password_of(const struct request *req, const char **pw, size_t *len)
{
	json_t *v = req->data ? json_object_get(req->data, "password") : NULL;
	if (!json_is_string(v))
		return false;
	*pw = json_string_value(v);
	*len = json_string_length(v);
	return true;
}

/* Hashes the request's password into *hash when one is given. Returns 0
 * (with *hash NULL when absent) or an error set in resp. */
static int hash_request_password(const struct request *req, struct response *resp, char **hash)
{
	const char *pw;
	size_t len;
	*hash = NULL;
	if (!password_of(req, &pw, &len))
		return 0;
	if (len == 0)
		return response_error(resp, TROVE_ERR_INVALID, "missing password");
	int r = userpass_hash(pw, len, hash);
	return r == TROVE_ERR_INVALID ? response_error(resp, r, "invalid password") : r;
}

/* --- users ------------------------------------------------------------- */

static int user_exists(struct request *req, bool *out)
{
	char key[USER_KEY_LEN];
	unsigned char *raw = NULL;
	size_t len = 0;
	char *name = username_of(req);
	int r = 0;

	*out = false;
	if (name) {
		user_key(key, sizeof(key), name);
		r = storage_get(req->storage, key, &raw, &len);
		*out = r == 0;
		if (r == TROVE_ERR_NOT_FOUND)
			r = 0;
		secure_free(raw, len);
	}
	free(name);
	return r;
}

static int users_list(struct request *req, struct response *resp)
{
	struct strlist keys;
	json_t *arr;
	int r;

	strlist_init(&keys);
	if ((r = storage_list(req->storage, USER_PREFIX, &keys)) != 0)
		goto out;
	r = TROVE_ERR_NOT_FOUND;
	if (keys.len == 0)
		goto out;
	arr = strlist_json(&keys);
	response_set_data(resp, json_pack("{s:o}", "keys", arr));
	r = 0;
out:
	strlist_release(&keys);
	return r;
}

static int user_read(struct request *req, struct response *resp)
{
	char *name = username_of(req);
	struct user u;
	int r;

	user_init(&u);
	if (!name) {
		r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = user_load(req->storage, name, &u)) != 0)
		goto out;
	json_t *data = json_object();
	token_params_to_json(&u.params, data);
	response_set_data(resp, data);
out:
	user_release(&u);
	free(name);
	return r;
}

static int user_write(struct request *req, struct response *resp)
{
	char *name = username_of(req), *hash = NULL;
	pthread_mutex_t *lk = NULL;
	struct user u;
	int r;

	user_init(&u);
	if (!name) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "invalid username: use letters, digits, '_', '-' and "
		                   "'.', starting and ending with a letter, digit or '_'");
		goto out;
	}
	if ((r = hash_request_password(req, resp, &hash)) != 0)
		goto out;
	lk = user_lock(req, name);
	r = user_load(req->storage, name, &u);
	if (r == TROVE_ERR_NOT_FOUND && !hash) {
		r = response_error(resp, TROVE_ERR_INVALID, "missing password");
		goto out;
	}
	if (r != 0 && r != TROVE_ERR_NOT_FOUND)
		goto out;
	if ((r = token_params_parse(req, resp, &u.params)) != 0)
		goto out;
	if (hash) {
		secure_free_str(u.password_hash);
		u.password_hash = hash;
		hash = NULL;
	}
	r = user_store(req->storage, name, &u);
out:
	if (lk)
		pthread_mutex_unlock(lk);
	secure_free_str(hash);
	user_release(&u);
	free(name);
	return r;
}

static int user_delete(struct request *req, struct response *resp)
{
	char key[USER_KEY_LEN];
	char *name = username_of(req);
	if (!name)
		return response_error(resp, TROVE_ERR_INVALID, "invalid username");
	user_key(key, sizeof(key), name);
	pthread_mutex_t *lk = user_lock(req, name);
	int r = storage_delete(req->storage, key);
	pthread_mutex_unlock(lk);
	free(name);
	return r;
}

static int password_write(struct request *req, struct response *resp)
{
	char *name = username_of(req), *hash = NULL;
	pthread_mutex_t *lk = NULL;
	struct user u;
	int r;

	user_init(&u);
	if (!name) {
		r = response_error(resp, TROVE_ERR_INVALID, "username does not exist");
		goto out;
	}
	if ((r = hash_request_password(req, resp, &hash)) != 0)
		goto out;
	if (!hash) {
		r = response_error(resp, TROVE_ERR_INVALID, "missing password");
		goto out;
	}
	lk = user_lock(req, name);
	r = user_load(req->storage, name, &u);
	if (r == TROVE_ERR_NOT_FOUND)
		r = response_error(resp, TROVE_ERR_INVALID, "username does not exist");
	if (r != 0)
		goto out;
	secure_free_str(u.password_hash);
	u.password_hash = hash;
	hash = NULL;
	r = user_store(req->storage, name, &u);
out:
	if (lk)
		pthread_mutex_unlock(lk);
	secure_free_str(hash);
	user_release(&u);
	free(name);
	return r;
}

static int policies_write(struct request *req, struct response *resp)
{
	static const char *const keep[] = {"token_policies", "policies"};
	char *name = username_of(req);
	pthread_mutex_t *lk = NULL;
	json_t *full = req->data, *only = json_object();
	struct user u;
	int r;

	user_init(&u);
	/* Only the policies change here: token_params_parse sees a body
	 * holding nothing else. */
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		json_t *v = full ? json_object_get(full, keep[i]) : NULL;
		if (v)
			json_object_set(only, keep[i], v);
	}
	if (!name) {
		r = response_error(resp, TROVE_ERR_INVALID, "username does not exist");
		goto out;
	}
	lk = user_lock(req, name);
	r = user_load(req->storage, name, &u);
	if (r == TROVE_ERR_NOT_FOUND)
		r = response_error(resp, TROVE_ERR_INVALID, "username does not exist");
	if (r != 0)
		goto out;
	req->data = only;
	r = token_params_parse(req, resp, &u.params);
	req->data = full;
	if (r == 0)
		r = user_store(req->storage, name, &u);
out:
	if (lk)
		pthread_mutex_unlock(lk);
	json_decref(only);
	user_release(&u);
	free(name);
	return r;
}

/* --- login --------------------------------------------------------------- */

/* After lockout_begin: verifies and issues. Returns with the lockout
 * outcome reported. */
static int login_checked(struct request *req, struct response *resp, const char *name, const char *pw,
                         size_t pwlen)
{
	struct lockout_table *lt = mount_lockout(req->mount);
	struct user u;
	int r;

	user_init(&u);
	r = user_load(req->storage, name, &u);
	/* Vault checks the user's CIDRs at login, too: before the password,
	 * so the answer from outside (403, no verification, not counted)
	 * is the same, in text and time, for a right or a wrong one. */
	if (r == 0 && !token_cidr_allows(&u.params.bound_cidrs, req->remote_addr)) {
		lockout_abandon(lt, name);
		r = response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
		goto out;
	}
	if (r == TROVE_ERR_NOT_FOUND)
		r = userpass_verify_dummy(pw, pwlen);
	else if (r == 0)
		r = userpass_verify(u.password_hash, pw, pwlen);
	if (r == TROVE_ERR_PERMISSION) {
		r = response_error(resp, TROVE_ERR_INVALID, BAD_LOGIN);
		goto out; /* counted: lockout_begin already did */
	}
	if (r != 0) {
		if (r == TROVE_ERR_INTEGRITY)
			log_error("userpass: stored user record is malformed", "mount", req->mount->path);
		lockout_abandon(lt, name);
		goto out;
	}
	char *dn = login_display_name(req->mount->path, name);
	json_t *meta = json_pack("{s:s}", "username", name);
	struct login_grant g = {.params = &u.params, .display_name = dn, .metadata = meta, .alias_name = name};
	r = login_issue(req, resp, &g);
	json_decref(meta);
	free(dn);
	if (r == 0)
		lockout_success(lt, name);
	else
		lockout_abandon(lt, name);
out:
	user_release(&u);
	return r;
}

/* A flood is refused thousands of times a second: the log says so at
 * most once a second. */
static bool full_table_log_due(void)
{
	static _Atomic long long last;
	long long now = (long long)time(NULL);
	long long prev = atomic_load(&last);
	return prev != now && atomic_compare_exchange_strong(&last, &prev, now);
}

static int login(struct request *req, struct response *resp)
{
	struct lockout_config cfg;
	char *name = username_of(req);
	const char *pw;
	size_t pwlen;
	int r;

	if (!password_of(req, &pw, &pwlen) || pwlen == 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "missing password");
		goto out;
	}
	if (!name) {
		/* Such a user cannot exist; answer and cost as if unknown. */
		r = userpass_verify_dummy(pw, pwlen);
		r = r == TROVE_ERR_PERMISSION ? response_error(resp, TROVE_ERR_INVALID, BAD_LOGIN) : r;
		goto out;
	}
	lockout_config_default(&cfg);
	struct lockout_table *lt = mount_lockout(req->mount);
	if (!lt) { /* every auth mount has one */
		r = TROVE_ERR_INTERNAL;
		goto out;
	}
	r = lockout_begin(lt, name, &cfg);
	if (r == TROVE_ERR_PERMISSION) {
		log_warn("userpass: login refused, user is locked out", "mount", req->mount->path, "username",
		         name);
		r = response_error(resp, r, "permission denied");
		goto out;
	}
	if (r != 0) {
		/* The lockout table is full of names still counting failures:
		 * a name it does not track cannot be counted, so it waits. */
		if (full_table_log_due())
			log_warn("userpass: logins refused, too many failed logins are being tracked",
			         "mount", req->mount->path);
		r = response_error(resp, r, "too many failed logins; try again later");
		goto out;
	}
	r = login_checked(req, resp, name, pw, pwlen);
out:
	free(name);
	return r;
}

/* --- mount --------------------------------------------------------------- */

static int userpass_mount_init(struct mount *m, struct buf *err)
{
	(void)err;
	struct userpass_state *st = xcalloc(1, sizeof(*st));
	for (size_t i = 0; i < LOCK_STRIPES; i++)
		pthread_mutex_init(&st->stripes[i], NULL);
	m->engine_state = st;
	/* Make the dummy hash now rather than on the first unknown login;
	 * a failure is retried there (and logged). */
	userpass_hash_init();
	return 0;
}

static void userpass_mount_cleanup(struct mount *m)
{
	struct userpass_state *st = m->engine_state;
	if (!st)
		return;
	for (size_t i = 0; i < LOCK_STRIPES; i++)
		pthread_mutex_destroy(&st->stripes[i]);
	free(st);
	m->engine_state = NULL;
}

/* --- route tables ---------------------------------------------------------- */

static const struct field user_fields[] = {
    {.name = "username", .type = FIELD_STRING, .description = "the username"},
    {.name = "password", .type = FIELD_STRING, .description = "the password (required on create)", .sensitive = true},
    TOKEN_PARAM_FIELDS,
    {0},
};

static const struct field password_fields[] = {
    {.name = "username", .type = FIELD_STRING, .description = "the username"},
    {.name = "password", .type = FIELD_STRING, .description = "the new password", .sensitive = true},
    {0},
};

static const struct field policies_fields[] = {
    {.name = "username", .type = FIELD_STRING, .description = "the username"},
    {.name = "token_policies", .type = FIELD_POLICIES, .description = "policies of the user's tokens"},
    {.name = "policies", .type = FIELD_POLICIES, .description = "legacy name of token_policies"},
    {0},
};

static const struct field login_fields[] = {
    {.name = "username", .type = FIELD_STRING, .description = "the username"},
    {.name = "password", .type = FIELD_STRING, .description = "the password", .sensitive = true},
    {0},
};

static const struct route userpass_routes[] = {
    {.pattern = "users",
     .ops = {[OP_LIST] = users_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list users"},
    {.pattern = "users/:username",
     .ops = {[OP_READ] = user_read, [OP_UPDATE] = user_write, [OP_DELETE] = user_delete},
     .exists = user_exists,
     .fields = user_fields,
     .flags = ROUTE_HASHING | ROUTE_NAMES_CI | ROUTE_LOOP_READS,
     .synopsis = "a user: password and token settings"},
    {.pattern = "users/:username/password",
     .ops = {[OP_UPDATE] = password_write},
     .fields = password_fields,
     .flags = ROUTE_HASHING | ROUTE_NAMES_CI,
     .synopsis = "change a user's password"},
    {.pattern = "users/:username/policies",
     .ops = {[OP_UPDATE] = policies_write},
     .fields = policies_fields,
     .flags = ROUTE_NAMES_CI,
     .synopsis = "change a user's token policies"},
    {.pattern = "login/:username",
     .ops = {[OP_UPDATE] = login},
     .fields = login_fields,
     .flags = ROUTE_UNAUTH | ROUTE_HASHING, /* no ACL: the name stays as sent */
     .synopsis = "log in with a username and password"},
    {.pattern = NULL},
};

static const struct route *const userpass_tables[] = {userpass_routes, NULL};

const struct engine userpass_engine = {
    .type = "userpass",
    .tables = userpass_tables,
    .flags = ENGINE_AUTH,
    .mount_init = userpass_mount_init,
    .mount_cleanup = userpass_mount_cleanup,
};
