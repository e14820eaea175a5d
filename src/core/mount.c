/* mount.c — the secret and auth mount tables.
 *
 * Each table is an array of refcounted mounts behind a read-write lock.
 * A lookup takes the read lock only long enough to find the longest
 * prefix and take a reference, so a request keeps using its mount even if
 * the mount is disabled meanwhile (its storage view lives until the last
 * reference goes). Writers (enable, disable, tune, remount) take the write
 * lock, persist the whole table as JSON inside the barrier, and only then
 * change the array: a failed write changes nothing.
 *
 * A mount's data lives under "logical/<uuid>/" (secret) or
 * "auth/<uuid>/" (auth), keyed by UUID rather than path, so a remount
 * moves nothing and a disable deletes exactly that subtree. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mount.h"
#include "background.h"
#include "mount_gate.h"

#include "core.h"
#include "encoding.h"
#include "err.h"
#include "lockout.h"
#include "log.h"
#include "rand.h"
#include "router.h"
#include "strconv.h"
#include "strlist_json.h"

#include "banned.h"

struct table {
	struct mount **items;
	size_t len;
};

struct mount_table {
	pthread_rwlock_t lock;
	struct core *core;
	struct storage *logical; /* borrowed barrier view; NULL when unloaded */
	struct table secret;
	struct table auth;
	struct background *bg; /* the mounts' background work */
	uint64_t gen;          /* bumped by every change of either table
	                        * (under the write lock): a reload built
	                        * outside the lock is swapped in only if
	                        * nothing changed meanwhile */
};

/* Paths a user may not mount at (Vault's protected prefixes). */
static const char *const reserved[] = { "sys/", "auth/", "audit/", "cubbyhole/", "identity/" };

/* ---- struct mount lifecycle --------------------------------------------- */

static void config_release(struct mount_config *c)
{
	strlist_release(&c->audit_non_hmac_request_keys);
	strlist_release(&c->audit_non_hmac_response_keys);
	strlist_release(&c->passthrough_request_headers);
	strlist_release(&c->allowed_response_headers);
	free(c->listing_visibility);
	free(c->token_type);
}

static void config_init(struct mount_config *c)
{
	memset(c, 0, sizeof(*c));
	strlist_init(&c->audit_non_hmac_request_keys);
	strlist_init(&c->audit_non_hmac_response_keys);
	strlist_init(&c->passthrough_request_headers);
	strlist_init(&c->allowed_response_headers);
	c->listing_visibility = xstrdup("");
}

/* What the clones of one mount share while the engine stays the same
 * (mount.h, "Per-mount state"): the storage view and the engine's state.
 * The last clone to go calls the engine's mount_cleanup. */
struct mount_state {
	_Atomic int refs;
	const struct engine *engine; /* whose state it is */
	struct storage *view;
	void *engine_state;
	struct lockout_table *lockout; /* auth mounts only */
};

static void mount_state_release(struct mount *m)
{
	struct mount_state *st = m->state;
	if (!st || atomic_fetch_sub(&st->refs, 1) != 1)
		return;
	if (st->engine && st->engine->mount_cleanup && st->view) {
		m->view = st->view;
		m->engine_state = st->engine_state;
		st->engine->mount_cleanup(m);
	}
	storage_free(st->view);
	lockout_table_free(st->lockout);
	free(st);
}

static struct mount *mount_alloc(void)
{
	struct mount *m = xcalloc(1, sizeof(*m));
	config_init(&m->config);
	atomic_init((_Atomic int *)&m->refs, 1);
	m->gate = mount_gate_new();
	return m;
}

static void mount_destroy(struct mount *m)
{
	mount_state_release(m);
	mount_gate_release(m->gate);
	config_release(&m->config);
	json_decref(m->options);
	free(m->path);
	free(m->type);
	free(m->description);
	free(m);
}

void mount_ref(struct mount *m)
{
	atomic_fetch_add((_Atomic int *)&m->refs, 1);
}

void mount_release(struct mount *m)
{
	if (m && atomic_fetch_sub((_Atomic int *)&m->refs, 1) == 1)
		mount_destroy(m);
}

/* ---- JSON (storage and API) --------------------------------------------- */

static json_t *config_api_json(const struct mount *m)
{
	const struct mount_config *c = &m->config;
	json_t *j = json_pack("{s:I, s:I, s:b}", "default_lease_ttl", (json_int_t)c->default_lease_ttl,
			      "max_lease_ttl", (json_int_t)c->max_lease_ttl, "force_no_cache", c->force_no_cache);
	if (c->audit_non_hmac_request_keys.len)
		json_object_set_new(j, "audit_non_hmac_request_keys", strlist_json(&c->audit_non_hmac_request_keys));
	if (c->audit_non_hmac_response_keys.len)
		json_object_set_new(j, "audit_non_hmac_response_keys", strlist_json(&c->audit_non_hmac_response_keys));
	if (c->listing_visibility && c->listing_visibility[0])
		json_object_set_new(j, "listing_visibility", json_string(c->listing_visibility));
	if (c->passthrough_request_headers.len)
		json_object_set_new(j, "passthrough_request_headers", strlist_json(&c->passthrough_request_headers));
	if (c->allowed_response_headers.len)
		json_object_set_new(j, "allowed_response_headers", strlist_json(&c->allowed_response_headers));
	if (m->auth)
		json_object_set_new(j, "token_type", json_string(c->token_type ? c->token_type : "default-service"));
	return j;
}

json_t *mount_to_json(const struct mount *m)
{
	return json_pack("{s:s, s:o, s:s, s:b, s:b, s:O?, s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "accessor", m->accessor,
			 "config", config_api_json(m), "description", m->description ? m->description : "",
			 "external_entropy_access", m->external_entropy_access, "local", m->local, "options",
			 m->options, "plugin_version", "", "running_plugin_version", "builtin", "running_sha256", "",
			 "seal_wrap", m->seal_wrap, "type", m->type, "uuid", m->uuid, "deprecation_status",
			 "supported");
}

/* The stored form carries what the API form does plus the path. */
static json_t *mount_store_json(const struct mount *m)
{
	json_t *j = mount_to_json(m);
	json_object_set_new(j, "path", json_string(m->path));
	json_object_set_new(j, "auth", json_boolean(m->auth));
	return j;
}

static int strlist_from_json(const json_t *arr, struct strlist *out, const char *field, struct buf *err)
{
	const char *why = NULL;
	json_t *c = field_coerce(FIELD_STRLIST, (json_t *)arr, &why);
	size_t i;
	json_t *v;
	if (!c) {
		buf_printf(err, "%s: %s", field, why);
		return TROVE_ERR_INVALID;
	}
	strlist_release(out);
	strlist_init(out);
	json_array_foreach(c, i, v) strlist_push(out, json_string_value(v));
	json_decref(c);
	return 0;
}

static int ttl_from_json(const json_t *v, int64_t *out, const char *field, struct buf *err)
{
	const char *why = NULL;
	json_t *c;
	/* Vault accepts "system" for "use the system default". */
	if (json_is_string(v) && (strcmp(json_string_value(v), "system") == 0 || !json_string_value(v)[0])) {
		*out = 0;
		return 0;
	}
	if (!(c = field_coerce(FIELD_DURATION, (json_t *)v, &why))) {
		buf_printf(err, "%s: %s", field, why);
		return TROVE_ERR_INVALID;
	}
	*out = (int64_t)json_integer_value(c);
	json_decref(c);
	return 0;
}

/* Applies config keys (enable's "config" object, tune's body, or the
 * stored form) to c. Unknown keys are ignored here: callers decide. */
static int config_apply(struct mount_config *c, const json_t *cfg, bool auth, struct buf *err)
{
	const char *k;
	json_t *v;
	int r;
	json_object_foreach((json_t *)cfg, k, v)
	{
		if (json_is_null(v))
			continue;
		if (strcmp(k, "default_lease_ttl") == 0) {
			if ((r = ttl_from_json(v, &c->default_lease_ttl, k, err)) != 0)
				return r;
		} else if (strcmp(k, "max_lease_ttl") == 0) {
			if ((r = ttl_from_json(v, &c->max_lease_ttl, k, err)) != 0)
				return r;
		} else if (strcmp(k, "force_no_cache") == 0) {
			const char *why = NULL;
			json_t *b = field_coerce(FIELD_BOOL, v, &why);
			if (!b) {
				buf_printf(err, "%s: %s", k, why);
				return TROVE_ERR_INVALID;
			}
			c->force_no_cache = json_is_true(b);
			json_decref(b);
		} else if (strcmp(k, "audit_non_hmac_request_keys") == 0) {
			if ((r = strlist_from_json(v, &c->audit_non_hmac_request_keys, k, err)) != 0)
				return r;
		} else if (strcmp(k, "audit_non_hmac_response_keys") == 0) {
			if ((r = strlist_from_json(v, &c->audit_non_hmac_response_keys, k, err)) != 0)
				return r;
		} else if (strcmp(k, "passthrough_request_headers") == 0) {
			if ((r = strlist_from_json(v, &c->passthrough_request_headers, k, err)) != 0)
				return r;
		} else if (strcmp(k, "allowed_response_headers") == 0) {
			if ((r = strlist_from_json(v, &c->allowed_response_headers, k, err)) != 0)
				return r;
		} else if (strcmp(k, "listing_visibility") == 0) {
			const char *s = json_string_value(v);
			if (!s || (s[0] && strcmp(s, "unauth") != 0 && strcmp(s, "hidden") != 0)) {
				buf_printf(err, "listing_visibility: must be \"\", \"unauth\" or \"hidden\"");
				return TROVE_ERR_INVALID;
			}
			free(c->listing_visibility);
			c->listing_visibility = xstrdup(s);
		} else if (strcmp(k, "token_type") == 0 && auth) {
			static const char *const ok[] = { "default", "default-service", "default-batch", "service",
							  "batch" };
			const char *s = json_string_value(v);
			bool found = false;
			for (size_t i = 0; s && i < 5; i++)
				found |= strcmp(s, ok[i]) == 0;
			if (!found) {
				buf_printf(err, "token_type: must be one of default, default-service, default-batch, "
						"service, batch");
				return TROVE_ERR_INVALID;
			}
			free(c->token_type);
			c->token_type = xstrdup(s);
		}
	}
	if (c->max_lease_ttl && c->default_lease_ttl > c->max_lease_ttl) {
		buf_printf(err, "default_lease_ttl: must not exceed max_lease_ttl");
		return TROVE_ERR_INVALID;
	}
	return 0;
}

static int options_check(const json_t *options, struct buf *err)
{
	const char *k;
	json_t *v;
	if (!options)
		return 0;
	if (!json_is_object(options)) {
		buf_printf(err, "options: expected an object of strings");
		return TROVE_ERR_INVALID;
	}
	json_object_foreach((json_t *)options, k, v)
	{
		if (!json_is_string(v)) {
			buf_printf(err, "options.%s: expected a string", k);
			return TROVE_ERR_INVALID;
		}
	}
	return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static struct table *table_of(struct mount_table *t, bool auth)
{
	return auth ? &t->auth : &t->secret;
}

/* "foo" -> "foo/", rejecting empty, leading '/', "..", "//". The caller
 * frees. NULL when invalid. */
static char *normalise_path(const char *p)
{
	size_t n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	if (n == 0 || p[0] == '/' || n > 1024)
		return NULL;
	char *out = xmalloc(n + 2);
	memcpy(out, p, n);
	out[n] = '/';
	out[n + 1] = '\0';
	for (const char *s = out; *s;) {
		const char *e = strchr(s, '/');
		size_t len = (size_t)(e - s);
		if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) {
			free(out);
			return NULL;
		}
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '*' || s[i] == '+') {
				free(out);
				return NULL;
			}
		s = e + 1;
	}
	return out;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int make_view(struct mount_table *t, struct mount *m)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "%s/%s/", m->auth ? "auth" : "logical", m->uuid);
	m->state->view = m->view = storage_view_new(t->logical, prefix);
	return m->view ? 0 : TROVE_ERR_INTERNAL;
}

static int persist(struct mount_table *t, bool auth, const struct table *tab)
{
	json_t *arr = json_array();
	char *text;
	int r;
	for (size_t i = 0; i < tab->len; i++)
		json_array_append_new(arr, mount_store_json(tab->items[i]));
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (!text)
		return TROVE_ERR_NOMEM;
	r = storage_put(t->logical, auth ? AUTH_TABLE_PATH : MOUNT_TABLE_PATH, text, strlen(text));
	free(text);
	if (r == 0)
		t->gen++;
	return r;
}

static struct mount *find_exact(struct table *tab, const char *path, size_t *index)
{
	for (size_t i = 0; i < tab->len; i++)
		if (strcmp(tab->items[i]->path, path) == 0) {
			if (index)
				*index = i;
			return tab->items[i];
		}
	return NULL;
}

static void table_append(struct table *tab, struct mount *m)
{
	tab->items = xrealloc(tab->items, (tab->len + 1) * sizeof(*tab->items));
	tab->items[tab->len++] = m;
}

static void table_remove(struct table *tab, size_t i)
{
	memmove(&tab->items[i], &tab->items[i + 1], (tab->len - i - 1) * sizeof(*tab->items));
	tab->len--;
}

static void table_clear(struct table *tab)
{
	for (size_t i = 0; i < tab->len; i++)
		mount_release(tab->items[i]);
	free(tab->items);
	tab->items = NULL;
	tab->len = 0;
}

static int new_identity(struct mount *m)
{
	unsigned char rnd[4];
	char hex[9];
	int r;
	if ((r = rand_uuid(m->uuid)) != 0 || (r = rand_bytes(rnd, sizeof(rnd))) != 0)
		return r;
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(m->accessor, sizeof(m->accessor), "%s%s_%s", m->auth ? "auth_" : "", m->type, hex);
	return 0;
}

/* Initialises the engine side of a mount: the view and the engine's
 * state, shared with prev (the mount m replaces, or NULL) when it runs the
 * same engine, else new (mount_init). */
static int attach_engine(struct mount_table *t, struct mount *m, const struct mount *prev, struct buf *err)
{
	int r;
	m->core = t->core;
	if (prev && prev->state && prev->state->engine == m->engine) {
		m->state = prev->state;
		atomic_fetch_add(&m->state->refs, 1);
		m->view = m->state->view;
		m->engine_state = m->state->engine_state;
		return 0;
	}
	m->state = xcalloc(1, sizeof(*m->state));
	atomic_init(&m->state->refs, 1);
	m->state->engine = m->engine;
	if (m->auth)
		m->state->lockout = lockout_table_new();
	if ((r = make_view(t, m)) != 0)
		return r;
	r = m->engine->mount_init ? m->engine->mount_init(m, err) : 0;
	m->state->engine_state = m->engine_state; /* mount_cleanup frees it */
	return r;
}

/* ---- table load/unload -------------------------------------------------- */

struct mount_table *mount_table_new(struct core *core)
{
	struct mount_table *t = xcalloc(1, sizeof(*t));
	pthread_rwlock_init(&t->lock, NULL);
	t->core = core;
	t->bg = background_new(t);
	return t;
}

void mount_table_free(struct mount_table *t)
{
	if (!t)
		return;
	mount_table_unload(t);
	background_free(t->bg);
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

static struct mount *find_uuid(const struct table *tab, const char *uuid)
{
	for (size_t i = 0; tab && i < tab->len; i++)
		if (strcmp(tab->items[i]->uuid, uuid) == 0)
			return tab->items[i];
	return NULL;
}

/* Builds the mount of one stored entry and appends it to `into`. prev:
 * the mounts it may replace (a reload), or NULL (an unseal). A mount of
 * prev with the entry's uuid is its earlier copy: the new one shares its
 * gate and, running the same engine, its view and engine state, as a
 * tune's clone does. */
static int load_one(struct mount_table *t, json_t *j, const struct table *prev, struct table *into, struct buf *err)
{
	const char *path, *type, *desc = "", *accessor, *uuid;
	json_t *cfg = NULL, *options = NULL;
	int auth = 0, local = 0, seal_wrap = 0, eea = 0;
	struct mount *m;
	int r;
	if (json_unpack(j, "{s:s, s:s, s?s, s:s, s:s, s?o, s?o, s?b, s?b, s?b, s?b}", "path", &path, "type", &type,
			"description", &desc, "accessor", &accessor, "uuid", &uuid, "config", &cfg, "options",
			&options, "auth", &auth, "local", &local, "seal_wrap", &seal_wrap, "external_entropy_access",
			&eea) != 0)
		return TROVE_ERR_INTEGRITY;
	const struct engine *e = engine_lookup(t->core, type, json_is_object(options) ? options : NULL, auth);
	if (!e) {
		/* A mount whose engine this build lacks is kept out of the
		 * table rather than failing the unseal. */
		log_warn("mount skipped: unknown engine type", "path", path, "type", type);
		return 0;
	}
	m = mount_alloc();
	m->path = xstrdup(path);
	m->type = xstrdup(type);
	m->description = xstrdup(desc);
	snprintf(m->accessor, sizeof(m->accessor), "%s", accessor);
	snprintf(m->uuid, sizeof(m->uuid), "%s", uuid);
	m->options = json_is_object(options) ? json_incref(options) : NULL;
	m->auth = auth;
	m->local = local;
	m->seal_wrap = seal_wrap;
	m->external_entropy_access = eea;
	m->engine = e;
	const struct mount *was = find_uuid(prev, m->uuid);
	if (was) {
		mount_gate_release(m->gate);
		m->gate = was->gate;
		mount_gate_ref(m->gate);
	}
	if ((cfg && (r = config_apply(&m->config, cfg, m->auth, err)) != 0) ||
	    (r = attach_engine(t, m, was, err)) != 0) {
		mount_release(m);
		return r;
	}
	table_append(into ? into : table_of(t, m->auth), m);
	return 0;
}

static int ensure_builtin(struct mount_table *t, const char *path, const char *type, bool auth, bool local,
			  const char *desc, bool *changed, struct buf *err)
{
	struct table *tab = table_of(t, auth);
	const struct engine *e = engine_lookup(t->core, type, NULL, auth);
	if (!e || find_exact(tab, path, NULL))
		return 0;
	struct mount *m = mount_alloc();
	int r;
	m->path = xstrdup(path);
	m->type = xstrdup(type);
	m->description = xstrdup(desc);
	m->auth = auth;
	m->local = local;
	m->engine = e;
	if ((r = new_identity(m)) != 0 || (r = attach_engine(t, m, NULL, err)) != 0) {
		mount_release(m);
		return r;
	}
	table_append(tab, m);
	*changed = true;
	return 0;
}

/* The stored table of one side: 0 with *arr an array (new reference), or
 * NULL when none is stored yet; else an error. */
static int read_stored(struct storage *logical, bool auth, json_t **arr)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int r = storage_get(logical, auth ? AUTH_TABLE_PATH : MOUNT_TABLE_PATH, &raw, &len);

	*arr = NULL;
	if (r == TROVE_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	*arr = json_loadb((const char *)raw, len, 0, NULL);
	free(raw);
	if (!json_is_array(*arr)) {
		json_decref(*arr);
		*arr = NULL;
		return TROVE_ERR_INTEGRITY;
	}
	return 0;
}

int mount_table_load(struct mount_table *t, struct storage *logical)
{
	struct buf err;
	int r = 0;
	bool changed_secret = false, changed_auth = false;

	buf_init(&err, 1024);
	background_open(t->bg);
	pthread_rwlock_wrlock(&t->lock);
	t->logical = logical;
	for (int which = 0; which < 2 && r == 0; which++) {
		json_t *arr = NULL;
		size_t i;
		json_t *v;
		if ((r = read_stored(logical, which, &arr)) != 0 || !arr)
			continue;
		json_array_foreach(arr, i, v)
		{
			if ((r = load_one(t, v, NULL, NULL, &err)) != 0)
				break;
		}
		json_decref(arr);
	}
	if (r == 0)
		r = ensure_builtin(t, "sys/", "system", false, false, "system endpoints used for control, policy and debugging",
				   &changed_secret, &err);
	if (r == 0)
		r = ensure_builtin(t, "cubbyhole/", "cubbyhole", false, true, "per-token private secret storage",
				   &changed_secret, &err);
	if (r == 0)
		r = ensure_builtin(t, "identity/", "identity", false, false, "identity store", &changed_secret, &err);
	if (r == 0)
		r = ensure_builtin(t, "auth/token/", "token", true, false, "token based credentials", &changed_auth,
				   &err);
	if (r == 0 && changed_secret)
		r = persist(t, false, &t->secret);
	if (r == 0 && changed_auth)
		r = persist(t, true, &t->auth);
	for (size_t i = 0; r == 0 && i < t->secret.len; i++)
		r = background_mount_start(t->bg, t->secret.items[i]);
	for (size_t i = 0; r == 0 && i < t->auth.len; i++)
		r = background_mount_start(t->bg, t->auth.items[i]);
	if (r != 0) {
		log_error("mount table load failed", "error", err_name(r), "detail", err.len ? err.data : "");
		table_clear(&t->secret);
		table_clear(&t->auth);
		t->logical = NULL;
	}
	t->gen++;
	pthread_rwlock_unlock(&t->lock);
	if (r != 0)
		background_close(t->bg);
	buf_release(&err);
	return r;
}

void mount_table_unload(struct mount_table *t)
{
	/* Background runs look mounts up in the table: wait for them before
	 * taking the table's write lock. */
	background_close(t->bg);
	pthread_rwlock_wrlock(&t->lock);
	table_clear(&t->secret);
	table_clear(&t->auth);
	t->logical = NULL;
	t->gen++;
	pthread_rwlock_unlock(&t->lock);
}

static struct mount *find_accessor(const struct table *tab, const char *accessor)
{
	for (size_t i = 0; i < tab->len; i++)
		if (strcmp(tab->items[i]->accessor, accessor) == 0)
			return tab->items[i];
	return NULL;
}

static bool has_accessor_in(struct mount_table *t, bool auth, const char *accessor)
{
	pthread_rwlock_rdlock(&t->lock);
	bool found = find_accessor(table_of(t, auth), accessor) != NULL;
	pthread_rwlock_unlock(&t->lock);
	return found;
}

/* A copy of one table holding a reference to each mount. */
static struct table table_copy(const struct table *tab)
{
	struct table c = {xcalloc(tab->len ? tab->len : 1, sizeof(*c.items)), tab->len};
	for (size_t i = 0; i < tab->len; i++)
		mount_ref(c.items[i] = tab->items[i]);
	return c;
}

/* One attempt: builds the stored table beside the current one and swaps
 * it in. TROVE_ERR_CONFLICT when the table changed meanwhile. */
static int reload_once(struct mount_table *t, bool auth)
{
	struct table old = {0}, fresh = {0}, dead = {0}, start = {0};
	struct storage *logical;
	struct buf err;
	json_t *arr = NULL, *v;
	uint64_t gen;
	size_t i;
	int r;

	pthread_rwlock_rdlock(&t->lock);
	logical = t->logical;
	gen = t->gen;
	if (logical)
		old = table_copy(table_of(t, auth));
	pthread_rwlock_unlock(&t->lock);
	if (!logical)
		return 0; /* sealed: loaded again at unseal */
	buf_init(&err, 1024);
	if ((r = read_stored(logical, auth, &arr)) != 0 || !arr)
		goto out; /* none stored: the unseal that makes one is not done */
	json_array_foreach(arr, i, v)
	{
		if ((r = load_one(t, v, &old, &fresh, &err)) != 0)
			goto out;
	}
	/* background work follows the accessors (kept by tune and remount):
	 * it starts for a mount new here, and for one whose engine gained a
	 * periodic function (a kv v1 -> v2 tune) */
	for (i = 0; i < fresh.len; i++) {
		const struct mount *m = fresh.items[i], *was = find_accessor(&old, m->accessor);
		if (!was || (m->engine->periodic && !was->engine->periodic))
			table_append(&start, fresh.items[i]);
	}
	pthread_rwlock_wrlock(&t->lock);
	r = TROVE_ERR_CONFLICT;
	if (t->gen == gen && t->logical == logical) {
		struct table *tab = table_of(t, auth);
		dead = *tab;
		*tab = fresh;
		fresh = (struct table){0};
		t->gen++;
		/* the table's references keep them while starting */
		for (i = 0; i < start.len; i++)
			mount_ref(start.items[i]);
		r = 0;
	} else {
		start.len = 0;
	}
	pthread_rwlock_unlock(&t->lock);
	if (r != 0)
		goto out;
	for (i = 0; i < old.len; i++)
		if (!has_accessor_in(t, auth, old.items[i]->accessor))
			background_mount_stop(t->bg, old.items[i]->accessor);
	for (i = 0; i < start.len; i++)
		if (background_mount_start(t->bg, start.items[i]) != 0)
			log_error("mount reloaded without its background work", "path", start.items[i]->path);
	log_info("mount table reloaded from storage", "table", auth ? "auth" : "secret");
out:
	if (r != 0 && r != TROVE_ERR_CONFLICT)
		log_error("mount table not reloaded", "table", auth ? "auth" : "secret", "error", err_name(r), "detail",
		          err.len ? err.data : "");
	json_decref(arr);
	table_clear(&start);
	table_clear(&fresh);
	table_clear(&dead);
	table_clear(&old);
	buf_release(&err);
	return r;
}

int mount_table_reload(struct mount_table *t, bool auth)
{
	int r = TROVE_ERR_CONFLICT;
	/* a change made here meanwhile (an unseal, a takeover's load) has
	 * read storage itself; try again against it */
	for (int attempt = 0; attempt < 5 && r == TROVE_ERR_CONFLICT; attempt++)
		r = reload_once(t, auth);
	return r;
}

/* ---- lookups ---------------------------------------------------------------- */

struct mount *mount_match(struct mount_table *t, const char *path)
{
	struct mount *best = NULL;
	size_t best_len = 0, plen = strlen(path);
	bool auth = has_prefix(path, "auth/");
	pthread_rwlock_rdlock(&t->lock);
	struct table *tab = table_of(t, auth);
	for (size_t i = 0; i < tab->len; i++) {
		struct mount *m = tab->items[i];
		size_t n = strlen(m->path);
		/* "secret" (no slash) also names the mount "secret/" */
		bool hit = has_prefix(path, m->path) || (plen == n - 1 && strncmp(path, m->path, n - 1) == 0);
		if (hit && n > best_len) {
			best = m;
			best_len = n;
		}
	}
	if (best)
		mount_ref(best);
	pthread_rwlock_unlock(&t->lock);
	return best;
}

struct lockout_table *mount_lockout(const struct mount *m)
{
	return m->state ? m->state->lockout : NULL;
}

struct mount *mount_by_uuid(struct mount_table *t, bool auth, const char *uuid)
{
	struct mount *found = NULL;
	pthread_rwlock_rdlock(&t->lock);
	const struct table *tab = table_of(t, auth);
	for (size_t i = 0; i < tab->len && !found; i++)
		if (strcmp(tab->items[i]->uuid, uuid) == 0)
			mount_ref(found = tab->items[i]);
	pthread_rwlock_unlock(&t->lock);
	return found;
}

json_t *mount_table_json(struct mount_table *t, bool auth)
{
	json_t *out = json_object();
	pthread_rwlock_rdlock(&t->lock);
	struct table *tab = table_of(t, auth);
	for (size_t i = 0; i < tab->len; i++) {
		const char *key = tab->items[i]->path + (auth ? 5 : 0);
		json_object_set_new(out, key, mount_to_json(tab->items[i]));
	}
	pthread_rwlock_unlock(&t->lock);
	return out;
}

void mount_table_foreach(struct mount_table *t, bool auth, void (*fn)(struct mount *m, void *arg), void *arg)
{
	struct mount **copy;
	size_t n;
	pthread_rwlock_rdlock(&t->lock);
	struct table *tab = table_of(t, auth);
	n = tab->len;
	copy = xcalloc(n ? n : 1, sizeof(*copy));
	for (size_t i = 0; i < n; i++) {
		copy[i] = tab->items[i];
		mount_ref(copy[i]);
	}
	pthread_rwlock_unlock(&t->lock);
	for (size_t i = 0; i < n; i++) {
		fn(copy[i], arg);
		mount_release(copy[i]);
	}
	free(copy);
}

struct background *mount_table_background(struct mount_table *t)
{
	return t->bg;
}

struct find_mount {
	const char *accessor;
	struct mount *found;
};

static void find_mount_fn(struct mount *m, void *arg)
{
	struct find_mount *f = arg;
	if (!f->found && strcmp(m->accessor, f->accessor) == 0) {
		mount_ref(m);
		f->found = m;
	}
}

struct mount *mount_by_accessor(struct mount_table *t, const char *accessor)
{
	struct find_mount f = {accessor, NULL};
	mount_table_foreach(t, false, find_mount_fn, &f);
	if (!f.found)
		mount_table_foreach(t, true, find_mount_fn, &f);
	return f.found;
}

int64_t mount_default_ttl(const struct core *c, const struct mount *m)
{
	const struct core_config *cc = core_config((struct core *)c);
	int64_t max = mount_max_ttl(c, m);
	int64_t d = m && m->config.default_lease_ttl ? m->config.default_lease_ttl : cc->default_lease_ttl;
	return d > max ? max : d;
}

int64_t mount_max_ttl(const struct core *c, const struct mount *m)
{
	const struct core_config *cc = core_config((struct core *)c);
	return m && m->config.max_lease_ttl ? m->config.max_lease_ttl : cc->max_lease_ttl;
}

/* ---- writers ---------------------------------------------------------------- */

/* Full path of an API path: auth mounts get "auth/" in front. */
static char *full_path(const char *path, bool auth, struct buf *err)
{
	char *n = normalise_path(path);
	if (!n) {
		buf_printf(err, "invalid mount path \"%s\"", path);
		return NULL;
	}
	if (!auth)
		return n;
	char *f = xmalloc(strlen(n) + 6);
	memcpy(f, "auth/", 5);
	memcpy(f + 5, n, strlen(n) + 1);
	free(n);
	return f;
}

int mount_enable(struct mount_table *t, const struct mount_enable_params *p, struct buf *err)
{
	struct mount *m = NULL;
	char *path = NULL;
	json_t *options = NULL;
	const char *type = p->type;
	int r = TROVE_ERR_INVALID;

	if (!type || !type[0]) {
		buf_printf(err, "type: missing");
		return TROVE_ERR_INVALID;
	}
	if ((r = options_check(p->options, err)) != 0)
		return r;
	if (!(path = full_path(p->path, p->auth, err)))
		return TROVE_ERR_INVALID;
	options = p->options ? json_deep_copy(p->options) : NULL;
	/* Vault's aliases: kv-v2 and kv-v1 are kv with a version option. */
	if (!p->auth && (strcmp(type, "kv-v2") == 0 || strcmp(type, "kv-v1") == 0)) {
		if (!options)
			options = json_object();
		json_object_set_new(options, "version", json_string(type[4] == '2' ? "2" : "1"));
		type = "kv";
	}
	const struct engine *e = engine_lookup(t->core, type, options, p->auth);
	if (!e || (e->flags & ENGINE_BUILTIN)) {
		buf_printf(err, "plugin not found in the catalog: %s", type);
		r = TROVE_ERR_INVALID;
		goto out;
	}
	if (!p->auth) {
		for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
			if (has_prefix(path, reserved[i]) || has_prefix(reserved[i], path)) {
				buf_printf(err, "cannot mount at reserved path \"%s\"", path);
				r = TROVE_ERR_INVALID;
				goto out;
			}
	}
	m = mount_alloc();
	m->path = path;
	path = NULL;
	m->type = xstrdup(type);
	m->description = xstrdup(p->description ? p->description : "");
	m->options = options;
	options = NULL;
	m->auth = p->auth;
	m->local = p->local;
	m->seal_wrap = p->seal_wrap;
	m->external_entropy_access = p->external_entropy_access;
	m->engine = e;
	if (p->config && !json_is_object(p->config)) {
		buf_printf(err, "config: expected an object");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	if (p->config && (r = config_apply(&m->config, p->config, m->auth, err)) != 0)
		goto out;
	if ((r = new_identity(m)) != 0)
		goto out;

	pthread_rwlock_wrlock(&t->lock);
	struct table *tab = table_of(t, m->auth);
	r = TROVE_ERR_SEALED;
	if (!t->logical)
		goto unlock;
	for (size_t i = 0; i < tab->len; i++) {
		const char *other = tab->items[i]->path;
		if (has_prefix(m->path, other) || has_prefix(other, m->path)) {
			buf_printf(err, "path is already in use at %s", other + (m->auth ? 5 : 0));
			r = TROVE_ERR_CONFLICT;
			goto unlock;
		}
	}
	if ((r = attach_engine(t, m, NULL, err)) != 0)
		goto unlock;
	table_append(tab, m);
	if ((r = persist(t, m->auth, tab)) != 0) {
		tab->len--;
		goto unlock;
	}
	log_info("mount enabled", "path", m->path, "type", m->type);
	if (background_mount_start(t->bg, m) != 0)
		log_error("mount enabled without its background work", "path", m->path);
	m = NULL;
	r = 0;
unlock:
	pthread_rwlock_unlock(&t->lock);
out:
	if (m)
		mount_release(m);
	json_decref(options);
	free(path);
	return r;
}

int mount_disable(struct mount_table *t, const char *api_path, bool auth, struct buf *err)
{
	char *path = full_path(api_path, auth, err);
	struct mount *m;
	size_t idx = 0;
	int r;
	if (!path)
		return TROVE_ERR_INVALID;
	pthread_rwlock_wrlock(&t->lock);
	struct table *tab = table_of(t, auth);
	r = TROVE_ERR_SEALED;
	if (!t->logical)
		goto out;
	m = find_exact(tab, path, &idx);
	if (!m) {
		/* Vault answers 204 for a path with nothing mounted. */
		r = 0;
		goto out;
	}
	if (m->engine->flags & ENGINE_BUILTIN) {
		buf_printf(err, "cannot unmount \"%s\"", path);
		r = TROVE_ERR_INVALID;
		goto out;
	}
	table_remove(tab, idx);
	if ((r = persist(t, auth, tab)) != 0) {
		table_append(tab, m); /* order is not significant */
		goto out;
	}
	pthread_rwlock_unlock(&t->lock);
	/* Its background work stops, and a run in progress finishes, before
	 * its data goes (a run looks the mount up in the table: not under
	 * the write lock). */
	background_mount_stop(t->bg, m->accessor);
	/* The table no longer names it; its data goes now. Requests that
	 * still hold the mount see an empty store. */
	if ((r = storage_delete_prefix(m->view, "")) != 0)
		log_error("mount data not fully deleted", "path", path, "error", err_name(r));
	log_info("mount disabled", "path", path);
	mount_release(m);
	free(path);
	return 0;
out:
	pthread_rwlock_unlock(&t->lock);
	free(path);
	return r;
}

/* A new mount object with m's identity and settings (not its engine
 * state or view). Tune and remount replace a mount with a changed clone
 * instead of editing it, because requests may be reading the old one
 * without a lock. */
static struct mount *mount_clone(const struct mount *m)
{
	struct mount *n = mount_alloc();
	mount_gate_release(n->gate); /* one gate for every copy */
	n->gate = m->gate;
	mount_gate_ref(n->gate);
	n->path = xstrdup(m->path);
	n->type = xstrdup(m->type);
	n->description = xstrdup(m->description ? m->description : "");
	snprintf(n->accessor, sizeof(n->accessor), "%s", m->accessor);
	snprintf(n->uuid, sizeof(n->uuid), "%s", m->uuid);
	n->options = m->options ? json_deep_copy(m->options) : NULL;
	n->config.default_lease_ttl = m->config.default_lease_ttl;
	n->config.max_lease_ttl = m->config.max_lease_ttl;
	n->config.force_no_cache = m->config.force_no_cache;
	for (size_t i = 0; i < m->config.audit_non_hmac_request_keys.len; i++)
		strlist_push(&n->config.audit_non_hmac_request_keys, m->config.audit_non_hmac_request_keys.items[i]);
	for (size_t i = 0; i < m->config.audit_non_hmac_response_keys.len; i++)
		strlist_push(&n->config.audit_non_hmac_response_keys, m->config.audit_non_hmac_response_keys.items[i]);
	for (size_t i = 0; i < m->config.passthrough_request_headers.len; i++)
		strlist_push(&n->config.passthrough_request_headers, m->config.passthrough_request_headers.items[i]);
	for (size_t i = 0; i < m->config.allowed_response_headers.len; i++)
		strlist_push(&n->config.allowed_response_headers, m->config.allowed_response_headers.items[i]);
	free(n->config.listing_visibility);
	n->config.listing_visibility = xstrdup(m->config.listing_visibility ? m->config.listing_visibility : "");
	n->config.token_type = m->config.token_type ? xstrdup(m->config.token_type) : NULL;
	n->auth = m->auth;
	n->local = m->local;
	n->seal_wrap = m->seal_wrap;
	n->external_entropy_access = m->external_entropy_access;
	n->engine = m->engine;
	return n;
}

/* Puts n in m's slot, persists, and drops the table's reference to m; on
 * a failed write restores m. Called with the write lock held. */
static int replace_mount(struct mount_table *t, struct table *tab, size_t idx, struct mount *n)
{
	struct mount *m = tab->items[idx];
	tab->items[idx] = n;
	int r = persist(t, n->auth, tab);
	if (r != 0) {
		tab->items[idx] = m;
		mount_release(n);
		return r;
	}
	mount_release(m);
	return 0;
}

int mount_tune(struct mount_table *t, const char *api_path, bool auth, json_t *body, struct buf *err)
{
	char *path = full_path(api_path, auth, err);
	struct mount *m, *n = NULL;
	size_t idx = 0;
	int r;
	if (!path)
		return TROVE_ERR_INVALID;
	pthread_rwlock_wrlock(&t->lock);
	struct table *tab = table_of(t, auth);
	r = TROVE_ERR_SEALED;
	if (!t->logical)
		goto out;
	m = find_exact(tab, path, &idx);
	if (!m) {
		buf_printf(err, auth ? "No auth engine at %s" : "No secret engine mount at %s", path + (auth ? 5 : 0));
		r = TROVE_ERR_INVALID;
		goto out;
	}
	n = mount_clone(m);
	if ((r = config_apply(&n->config, body, auth, err)) != 0)
		goto out;
	json_t *desc = json_object_get(body, "description");
	if (desc && !json_is_null(desc)) {
		r = TROVE_ERR_INVALID;
		if (!json_is_string(desc)) {
			buf_printf(err, "description: expected a string");
			goto out;
		}
		free(n->description);
		n->description = xstrdup(json_string_value(desc));
	}
	json_t *opts = json_object_get(body, "options");
	if (opts && !json_is_null(opts)) {
		if ((r = options_check(opts, err)) != 0)
			goto out;
		if (!n->options)
			n->options = json_object();
		json_object_update(n->options, opts);
		n->engine = engine_lookup(t->core, n->type, n->options, auth);
		if (!n->engine) {
			buf_printf(err, "options: not valid for a %s mount", n->type);
			r = TROVE_ERR_INVALID;
			goto out;
		}
	}
	if ((r = attach_engine(t, n, m, err)) != 0)
		goto out;
	/* An engine change (kv v1 -> v2) converts the data before the new
	 * engine is published. */
	if (n->engine != m->engine && n->engine->options_changed &&
	    (r = n->engine->options_changed(n, m->options, err)) != 0)
		goto out;
	bool starts_work = n->engine->periodic && !m->engine->periodic;
	struct mount *tuned = n;
	r = replace_mount(t, tab, idx, n);
	n = NULL;
	/* An engine change (kv v1 -> v2) that brings a periodic function. */
	if (r == 0 && starts_work && background_mount_start(t->bg, tuned) != 0)
		log_error("mount tuned without its background work", "path", path);
out:
	pthread_rwlock_unlock(&t->lock);
	if (n)
		mount_release(n);
	free(path);
	return r;
}

int mount_remount(struct mount_table *t, const char *from, const char *to, struct buf *err)
{
	bool auth = has_prefix(from, "auth/");
	char *src = NULL, *dst = NULL;
	struct mount *m;
	int r = TROVE_ERR_INVALID;
	if (auth != has_prefix(to, "auth/")) {
		buf_printf(err, "cannot move a mount between the secret and auth tables");
		return TROVE_ERR_INVALID;
	}
	if (!(src = normalise_path(from)) || !(dst = normalise_path(to))) {
		buf_printf(err, "invalid mount path");
		goto done;
	}
	pthread_rwlock_wrlock(&t->lock);
	struct table *tab = table_of(t, auth);
	r = TROVE_ERR_SEALED;
	if (!t->logical)
		goto out;
	m = find_exact(tab, src, NULL);
	r = TROVE_ERR_INVALID;
	if (!m) {
		buf_printf(err, auth ? "No auth engine at %s" : "No secret engine mount at %s", src);
		goto out;
	}
	if (m->engine->flags & ENGINE_BUILTIN) {
		buf_printf(err, "cannot remount \"%s\"", src);
		goto out;
	}
	if (!auth)
		for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
			if (has_prefix(dst, reserved[i])) {
				buf_printf(err, "cannot mount at reserved path \"%s\"", dst);
				goto out;
			}
	for (size_t i = 0; i < tab->len; i++) {
		const char *other = tab->items[i]->path;
		if (tab->items[i] != m && (has_prefix(dst, other) || has_prefix(other, dst))) {
			buf_printf(err, "path is already in use at %s", other);
			r = TROVE_ERR_CONFLICT;
			goto out;
		}
	}
	size_t idx = 0;
	find_exact(tab, src, &idx);
	struct mount *n = mount_clone(m);
	free(n->path);
	n->path = dst;
	dst = NULL;
	if ((r = attach_engine(t, n, m, err)) != 0) {
		mount_release(n);
		goto out;
	}
	if ((r = replace_mount(t, tab, idx, n)) != 0)
		goto out;
	log_info("mount moved", "from", src, "to", n->path);
	r = 0;
out:
	pthread_rwlock_unlock(&t->lock);
done:
	free(src);
	free(dst);
	return r;
}
