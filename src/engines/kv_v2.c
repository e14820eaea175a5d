/* kv_v2.c — the versioned key/value engine ("kv", options.version "2").
 *
 * Storage layout inside the mount's view:
 *   config                       engine settings {max_versions, cas_required,
 *                                delete_version_after}
 *   metadata/<path>              one secret's key metadata: custom metadata,
 *                                settings and the index of its versions
 *                                (created, deletion time, destroyed)
 *   versions/<sha256(path)>/<n>  the data of version n, as written
 * Metadata and version data are separate keys so that LIST metadata/ is a
 * plain storage listing of the metadata prefix and never reads a secret.
 * Versions are filed under a hash of the path so that a secret path can
 * never collide with another secret's version keys, whatever its name.
 *
 * Every change that touches more than one key (a new version plus its
 * metadata, pruning, destroy, delete of a whole secret) is one storage
 * transaction: a crash leaves either the old state or the new one, never
 * metadata that points at a missing version.
 *
 * Writers to one secret are serialised by a striped lock (path hash) held
 * across read-modify-write, which is what makes check-and-set mean
 * something within this process.
 *
 * Times are kept as Unix nanoseconds and shown as RFC 3339 with nanoseconds
 * in UTC. A version whose deletion time has passed reads as deleted; that
 * is how delete_version_after works, with no background sweeper. */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engines.h"
#include "strhash.h"
#include "kv_util.h"
#include "custom_metadata.h"
#include "clock.h"

#include "core/engine_config.h"
#include "core/mount.h"
#include "duration.h"
#include "encoding.h"
#include "vcache.h"
#include "err.h"
#include "hmac.h"
#include "secure.h"
#include "strconv.h"
#include "timefmt.h"

#include "banned.h"

#define KV_DEFAULT_MAX_VERSIONS 10
#define NS_PER_SEC 1000000000LL

/* --- time ---------------------------------------------------------------- */

static json_t *time_json(int64_t ns)
{
	char s[TIME_TEXT_MAX] = ""; /* 0 is "never": "" */
	if (ns > 0)
		time_rfc3339_ns(ns, s);
	return json_string(s);
}

static json_t *duration_json(int64_t secs)
{
	char s[64];
	duration_format(secs, s, sizeof(s));
	return json_string(s);
}

/* --- per-mount state --------------------------------------------------------
 *
 * Each kv-v2 mount has its own metadata cache and its own write locks
 * (mount.h, "Per-mount state"), made by kv2_mount_init and freed with the
 * mount. */

#define KV_LOCK_STRIPES 64
#define META_CACHE_SLOTS 8192

struct kv2_state {
	struct vcache *meta; /* parsed metadata records by storage key */
	struct engine_config *config; /* the mount's settings ("config") */
	pthread_mutex_t locks[KV_LOCK_STRIPES];
};

static void locks_init(pthread_mutex_t *locks)
{
	for (size_t i = 0; i < KV_LOCK_STRIPES; i++)
		pthread_mutex_init(&locks[i], NULL);
}

/* The mount's state, or NULL for a request outside a mount (tests). */
static struct kv2_state *kv2_state(const struct request *req)
{
	return req->mount ? req->mount->engine_state : NULL;
}

/* --- per-secret write lock ------------------------------------------------ */

/* Outside a mount (tests) writers share these, keyed by the storage handle. */
static pthread_mutex_t loose_locks[KV_LOCK_STRIPES];
static pthread_once_t loose_locks_once = PTHREAD_ONCE_INIT;

static void loose_locks_init(void)
{
	locks_init(loose_locks);
}

static pthread_mutex_t *kv_lock(const struct request *req, const char *path)
{
	struct kv2_state *st = kv2_state(req);
	pthread_mutex_t *m;
	if (st) {
		m = &st->locks[str_hash(path) % KV_LOCK_STRIPES];
	} else {
		uint64_t h = str_hash_more(STR_HASH_SEED ^ (uint64_t)(uintptr_t)req->storage, path);
		pthread_once(&loose_locks_once, loose_locks_init);
		m = &loose_locks[h % KV_LOCK_STRIPES];
	}
	pthread_mutex_lock(m);
	return m;
}

/* --- config ---------------------------------------------------------------- */

/* The mount's settings, stored at "config" and cached in the mount's
 * state (engine_config.h). */
struct kv_config {
	int64_t max_versions; /* 0: the default (10) */
	bool cas_required;
	int64_t dva;          /* delete_version_after, seconds; 0: off */
};

static const struct config_field kv_config_fields[] = {
	CONFIG_INT(struct kv_config, max_versions, "max_versions", 0, INT64_MAX),
	CONFIG_BOOL(struct kv_config, cas_required, "cas_required"),
	CONFIG_DURATION(struct kv_config, dva, "delete_version_after", INT64_MIN, INT64_MAX),
	{ NULL, 0, 0, 0, 0 },
};

static const struct config_decl kv_config_decl = {
	.key = "config",
	.size = sizeof(struct kv_config),
	.fields = kv_config_fields,
};

static int config_load(const struct request *req, struct kv_config *c)
{
	struct kv2_state *st = kv2_state(req);
	if (st)
		return engine_config_get(st->config, req->storage, c);
	return engine_config_load(&kv_config_decl, req->storage, c);
}

/* --- metadata --------------------------------------------------------------- */

struct kv_version {
	int64_t n;
	int64_t created;  /* ns */
	int64_t deletion; /* ns; 0: not deleted */
	bool destroyed;
};

struct kv_meta {
	bool exists;
	int64_t created, updated;
	int64_t current, oldest;
	int64_t max_versions;
	bool cas_required;
	int64_t dva;
	json_t *custom; /* object of strings, or NULL */
	struct kv_version *v; /* ascending by n */
	size_t nv, cap;
};

static void meta_release(struct kv_meta *m)
{
	json_decref(m->custom);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static int meta_key(const char *path, struct buf *out)
{
	buf_init(out, STORAGE_MAX_KEY + 16);
	return buf_printf(out, "metadata/%s", path);
}

static void version_key(const char *path, int64_t n, char *out, size_t cap)
{
	unsigned char md[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];
	if (sha256(path, strlen(path), md) != 0)
		abort(); /* SHA-256 of a string does not fail; a wrong key would mix secrets */
	hex_encode(md, sizeof(md), hex);
	snprintf(out, cap, "versions/%s/%lld", hex, (long long)n);
}

#define VERSION_KEY_MAX 96

static struct kv_version *meta_find(struct kv_meta *m, int64_t n)
{
	for (size_t i = 0; i < m->nv; i++)
		if (m->v[i].n == n)
			return &m->v[i];
	return NULL;
}

static void meta_append(struct kv_meta *m, struct kv_version v)
{
	if (m->nv == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 8;
		m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
	}
	m->v[m->nv++] = v;
}

/* --- the metadata cache ------------------------------------------------------
 *
 * A read of a secret reads its metadata record first (which version is
 * current, which are deleted), and parsing it was a fifth of a read's
 * cost. Parsed metadata is kept in the mount's vcache (vcache.h) under
 * its storage key; every write of a metadata record goes through
 * kv2_commit, which forgets the keys it wrote, and a change made to
 * storage by anything else reaches kv2_invalidate. Only metadata is cached
 * (versions, times, custom metadata): secret values are never kept. The
 * cached JSON is shared, so readers treat it as immutable. */

static void *json_share(const void *v)
{
	return json_incref((json_t *)v);
}

static void json_drop(void *v)
{
	json_decref(v);
}

static int meta_cached_get(const struct request *req, const char *key, json_t **out)
{
	struct kv2_state *st = kv2_state(req);
	if (!st)
		return kv_get_json(req->storage, key, out);
	int r = 0;
	if (!(*out = vcache_get(st->meta, key))) {
		uint64_t gen = vcache_generation(st->meta, key);
		if ((r = kv_get_json(req->storage, key, out)) == 0)
			vcache_put(st->meta, key, gen, *out);
	}
	return r;
}

static void meta_cache_forget(const struct request *req, const char *key)
{
	struct kv2_state *st = kv2_state(req);
	if (st)
		vcache_forget(st->meta, key);
}

static int meta_load(const struct request *req, const char *path, struct kv_meta *m)
{
	struct buf key;
	json_t *j = NULL, *vs, *e;
	size_t i;
	int r;

	memset(m, 0, sizeof(*m));
	if ((r = meta_key(path, &key)) != 0)
		goto out;
	r = meta_cached_get(req, key.data, &j);
	if (r == TROVE_ERR_NOT_FOUND) {
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	m->exists = true;
	m->created = json_integer_value(json_object_get(j, "created_time"));
	m->updated = json_integer_value(json_object_get(j, "updated_time"));
	m->current = json_integer_value(json_object_get(j, "current_version"));
	m->oldest = json_integer_value(json_object_get(j, "oldest_version"));
	m->max_versions = json_integer_value(json_object_get(j, "max_versions"));
	m->cas_required = json_is_true(json_object_get(j, "cas_required"));
	m->dva = json_integer_value(json_object_get(j, "delete_version_after"));
	json_t *cm = json_object_get(j, "custom_metadata");
	if (json_is_object(cm) && json_object_size(cm) > 0)
		m->custom = json_deep_copy(cm); /* j may be shared with the cache */
	vs = json_object_get(j, "versions");
	json_array_foreach(vs, i, e)
	{
		struct kv_version v = {
			.n = json_integer_value(json_object_get(e, "version")),
			.created = json_integer_value(json_object_get(e, "created_time")),
			.deletion = json_integer_value(json_object_get(e, "deletion_time")),
			.destroyed = json_is_true(json_object_get(e, "destroyed")),
		};
		meta_append(m, v);
	}
out:
	json_decref(j);
	buf_release(&key);
	return r;
}

static json_t *meta_storage_json(const struct kv_meta *m)
{
	json_t *vs = json_array();
	for (size_t i = 0; i < m->nv; i++)
		json_array_append_new(vs, json_pack("{s:I, s:I, s:I, s:b}", "version", (json_int_t)m->v[i].n,
						    "created_time", (json_int_t)m->v[i].created, "deletion_time",
						    (json_int_t)m->v[i].deletion, "destroyed", m->v[i].destroyed));
	json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:o}", "created_time", (json_int_t)m->created,
			      "updated_time", (json_int_t)m->updated, "current_version", (json_int_t)m->current,
			      "oldest_version", (json_int_t)m->oldest, "max_versions", (json_int_t)m->max_versions,
			      "cas_required", m->cas_required, "delete_version_after", (json_int_t)m->dva, "versions",
			      vs);
	if (j && m->custom)
		json_object_set(j, "custom_metadata", m->custom);
	return j;
}

static bool version_deleted(const struct kv_version *v, int64_t now)
{
	return v->deletion > 0 && v->deletion <= now;
}

static json_t *custom_json(const struct kv_meta *m)
{
	return m->custom ? json_deep_copy(m->custom) : json_null();
}

/* The per-version metadata of data reads and writes. */
static json_t *version_meta_json(const struct kv_meta *m, const struct kv_version *v)
{
	return json_pack("{s:o, s:o, s:o, s:b, s:I}", "created_time", time_json(v->created), "custom_metadata",
			 custom_json(m), "deletion_time", time_json(v->deletion), "destroyed", v->destroyed, "version",
			 (json_int_t)v->n);
}

static int64_t effective_max_versions(const struct kv_config *c, const struct kv_meta *m)
{
	if (m->max_versions > 0)
		return m->max_versions;
	if (c->max_versions > 0)
		return c->max_versions;
	return KV_DEFAULT_MAX_VERSIONS;
}

/* A key's delete_version_after may shorten the mount's, never lengthen it. */
static int64_t effective_dva(const struct kv_config *c, const struct kv_meta *m)
{
	if (m->dva <= 0)
		return c->dva;
	if (c->dva > 0 && m->dva > c->dva)
		return c->dva;
	return m->dva;
}

/* --- transactions ----------------------------------------------------------- */

/* A batch of storage operations that owns its keys and values (values are
 * wiped when the batch is released). */
struct kv_batch {
	struct storage_op *ops;
	size_t n, cap;
};

static void batch_add(struct kv_batch *b, enum storage_op_kind kind, const char *key, char *value, size_t len)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 8;
		b->ops = xrealloc(b->ops, b->cap * sizeof(*b->ops));
	}
	b->ops[b->n++] = (struct storage_op){ .kind = kind, .key = xstrdup(key), .value = value, .value_len = len };
}

static int batch_put_json(struct kv_batch *b, const char *key, const json_t *v)
{
	char *p;
	size_t n;
	int r = kv_dump(v, &p, &n);
	if (r == 0)
		batch_add(b, STORAGE_PUT, key, p, n);
	return r;
}

static void batch_release(struct kv_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free((char *)b->ops[i].key);
		if (b->ops[i].value)
			kv_free_dump((char *)b->ops[i].value, b->ops[i].value_len);
	}
	free(b->ops);
	memset(b, 0, sizeof(*b));
}

/* Applies a batch in one transaction, then forgets every key it wrote
 * from the metadata cache (also on failure: what was written is unknown). */
static int kv2_commit(const struct request *req, const struct kv_batch *b)
{
	int r = storage_txn(req->storage, b->ops, b->n);
	for (size_t i = 0; i < b->n; i++)
		meta_cache_forget(req, b->ops[i].key);
	return r;
}

static int batch_put_meta(struct kv_batch *b, const char *path, const struct kv_meta *m)
{
	struct buf key;
	json_t *j = meta_storage_json(m);
	int r = j ? meta_key(path, &key) : TROVE_ERR_NOMEM;
	if (j && r == 0)
		r = batch_put_json(b, key.data, j);
	if (j)
		buf_release(&key);
	json_decref(j);
	return r;
}

/* Drops the oldest versions beyond the limit, queueing their data for
 * deletion. */
static void prune(struct kv_meta *m, int64_t max, const char *path, struct kv_batch *b)
{
	if (max <= 0 || (int64_t)m->nv <= max)
		return;
	size_t drop = m->nv - (size_t)max;
	for (size_t i = 0; i < drop; i++) {
		char vk[VERSION_KEY_MAX];
		version_key(path, m->v[i].n, vk, sizeof(vk));
		batch_add(b, STORAGE_DELETE, vk, NULL, 0);
	}
	memmove(m->v, m->v + drop, (m->nv - drop) * sizeof(*m->v));
	m->nv -= drop;
	m->oldest = m->v[0].n;
}

/* --- request helpers -------------------------------------------------------- */

/* The secret path after `prefix`; a write needs one. */
static int secret_path(struct request *req, struct response *resp, const char *prefix, bool required, char **out)
{
	char *p = kv_rest(req, prefix);
	int r = kv_check_path(p, "path", resp);
	if (r == 0 && required && !p[0])
		r = response_error(resp, TROVE_ERR_INVALID, "path: a secret path is required");
	if (r != 0) {
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

static bool json_to_int(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return true;
	}
	if (json_is_real(v))
		return strconv_double_int64(json_real_value(v), out);
	if (json_is_string(v))
		return strconv_int64(json_string_value(v), out);
	return false;
}

/* options.cas: whether given, and its value. */
static int parse_cas(struct request *req, struct response *resp, bool *has, int64_t *cas)
{
	json_t *opts = req->data ? json_object_get(req->data, "options") : NULL;
	json_t *c = json_is_object(opts) ? json_object_get(opts, "cas") : NULL;
	*has = false;
	if (!c || json_is_null(c))
		return 0;
	if (!json_to_int(c, cas) || *cas < 0)
		return response_error(resp, TROVE_ERR_INVALID, "options.cas: expected a non-negative integer");
	*has = true;
	return 0;
}

static int check_cas(struct request *req, struct response *resp, const struct kv_config *c,
		     const struct kv_meta *m)
{
	bool has;
	int64_t cas = 0;
	int r = parse_cas(req, resp, &has, &cas);
	if (r != 0)
		return r;
	if (!has && (c->cas_required || m->cas_required))
		return response_error(resp, TROVE_ERR_INVALID, "check-and-set parameter required for this call");
	if (has && cas != (m->exists ? m->current : 0))
		return response_error(resp, TROVE_ERR_INVALID,
				      "check-and-set parameter did not match the current version");
	return 0;
}

/* A version number from a query or body field; 0 when absent. */
static int version_param(struct request *req, struct response *resp, int64_t *out)
{
	*out = field_int(req, "version");
	if (*out < 0)
		return response_error(resp, TROVE_ERR_INVALID, "version: must not be negative");
	return 0;
}

/* --- config ----------------------------------------------------------------- */

static int config_read(struct request *req, struct response *resp)
{
	struct kv_config c;
	int r = config_load(req, &c);
	if (r != 0)
		return r;
	response_set_data(resp, json_pack("{s:b, s:o, s:I}", "cas_required", c.cas_required, "delete_version_after",
					  duration_json(c.dva), "max_versions", (json_int_t)c.max_versions));
	return 0;
}

static int config_write(struct request *req, struct response *resp)
{
	struct kv2_state *st = kv2_state(req);
	struct buf err;
	int r;

	buf_init(&err, 256);
	if (st) {
		r = engine_config_write(st->config, req->storage, req->data, &err);
	} else { /* outside a mount: an uncached config, under the engine's lock */
		pthread_mutex_t *lk = kv_lock(req, "\001config");
		struct engine_config *once = engine_config_new(&kv_config_decl, NULL);
		r = engine_config_write(once, req->storage, req->data, &err);
		engine_config_free(once);
		pthread_mutex_unlock(lk);
	}
	if (r == TROVE_ERR_INVALID)
		response_error(resp, r, "%s", err.data);
	buf_release(&err);
	return r;
}

/* --- data/ ------------------------------------------------------------------ */

/* The version of path that a read asks for (want, or the current one when
 * 0): its data into *data and its metadata into *vm, both owned by the
 * caller. A deleted or destroyed version answers 404 with its metadata and
 * `key` set to null, returning 0 with *data NULL, as Vault does. m is
 * loaded here; the caller releases it. */
static int read_version(struct request *req, struct response *resp, const char *path, int64_t want,
			const char *key, struct kv_meta *m, json_t **data, json_t **vm)
{
	int r;
	char vk[VERSION_KEY_MAX];

	*data = *vm = NULL;
	if (!path[0])
		return TROVE_ERR_NOT_FOUND;
	if ((r = meta_load(req, path, m)) != 0)
		return r;
	struct kv_version *v = m->exists ? meta_find(m, want ? want : m->current) : NULL;
	if (!v)
		return TROVE_ERR_NOT_FOUND;
	*vm = version_meta_json(m, v);
	if (v->destroyed || version_deleted(v, clock_realtime_ns())) {
		/* Vault answers 404 but still shows the version's metadata. */
		response_set_data(resp, json_pack("{s:n, s:o}", key, "metadata", *vm));
		*vm = NULL;
		resp->status = 404;
		return 0;
	}
	version_key(path, v->n, vk, sizeof(vk));
	if ((r = kv_get_json(req->storage, vk, data)) != 0) {
		json_decref(*vm);
		*vm = NULL;
		if (r == TROVE_ERR_NOT_FOUND)
			r = TROVE_ERR_INTEGRITY; /* metadata names a version we do not have */
		return r;
	}
	return 0;
}

static int data_read(struct request *req, struct response *resp)
{
	char *path = NULL;
	struct kv_meta m;
	json_t *data = NULL, *vm = NULL;
	int64_t want;
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = secret_path(req, resp, "data/", false, &path)) != 0)
		return r;
	if ((r = version_param(req, resp, &want)) != 0)
		goto out;
	if ((r = read_version(req, resp, path, want, "data", &m, &data, &vm)) != 0 || data == NULL)
		goto out;
	response_set_data(resp, json_pack("{s:o, s:o}", "data", data, "metadata", vm));
out:
	meta_release(&m);
	free(path);
	return r;
}

/* Adds `data` (consumed) as the next version of path, prunes, commits, and
 * answers with the new version's metadata. Called with the path locked. */
static int commit_version(struct request *req, struct response *resp, const char *path, struct kv_meta *m,
			  const struct kv_config *c, json_t *data)
{
	struct kv_batch b = { 0 };
	char vk[VERSION_KEY_MAX];
	int64_t now = clock_realtime_ns();
	int r;

	if (!m->exists) {
		m->exists = true;
		m->created = now;
	}
	int64_t dva = effective_dva(c, m);
	struct kv_version v = {
		.n = m->current + 1,
		.created = now,
		.deletion = 0,
	};
	/* Past int64 the version is kept for good: 0 is "never" too. */
	if (dva > 0 && duration_add_ns(now, dva, &v.deletion) != 0)
		v.deletion = 0;
	meta_append(m, v);
	m->current = v.n;
	m->updated = now;
	version_key(path, v.n, vk, sizeof(vk));
	if ((r = batch_put_json(&b, vk, data)) != 0)
		goto out;
	prune(m, effective_max_versions(c, m), path, &b);
	if ((r = batch_put_meta(&b, path, m)) != 0)
		goto out;
	if ((r = kv2_commit(req, &b)) != 0)
		goto out;
	response_set_data(resp, json_pack("{s:o, s:o, s:o, s:b, s:I}", "created_time", time_json(v.created),
					  "custom_metadata", custom_json(m), "deletion_time", time_json(v.deletion),
					  "destroyed", 0, "version", (json_int_t)v.n));
	r = 0;
out:
	json_decref(data);
	batch_release(&b);
	return r;
}

/* The "data" object of a write or patch request (borrowed), or an error
 * answer when it is missing or not an object. */
static int request_data(struct request *req, struct response *resp, json_t **out)
{
	*out = req->data ? json_object_get(req->data, "data") : NULL;
	if (!*out)
		return response_error(resp, TROVE_ERR_INVALID, "no data provided");
	if (!json_is_object(*out))
		return response_error(resp, TROVE_ERR_INVALID, "data: expected an object");
	return 0;
}

static int data_write(struct request *req, struct response *resp)
{
	char *path = NULL;
	struct kv_meta m;
	struct kv_config c;
	pthread_mutex_t *lk = NULL;
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = secret_path(req, resp, "data/", true, &path)) != 0)
		return r;
	json_t *data;
	if ((r = request_data(req, resp, &data)) != 0)
		goto out;
	lk = kv_lock(req, path);
	if ((r = config_load(req, &c)) != 0 || (r = meta_load(req, path, &m)) != 0)
		goto out;
	if ((r = check_cas(req, resp, &c, &m)) != 0)
		goto out;
	r = commit_version(req, resp, path, &m, &c, json_incref(data));
out:
	if (lk)
		pthread_mutex_unlock(lk);
	meta_release(&m);
	free(path);
	return r;
}

static int data_patch(struct request *req, struct response *resp)
{
	char *path = NULL;
	struct kv_meta m;
	struct kv_config c;
	pthread_mutex_t *lk = NULL;
	json_t *cur = NULL;
	char vk[VERSION_KEY_MAX];
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = secret_path(req, resp, "data/", true, &path)) != 0)
		return r;
	json_t *patch;
	if ((r = request_data(req, resp, &patch)) != 0)
		goto out;
	lk = kv_lock(req, path);
	if ((r = config_load(req, &c)) != 0 || (r = meta_load(req, path, &m)) != 0)
		goto out;
	struct kv_version *v = m.exists ? meta_find(&m, m.current) : NULL;
	if (!v || v->destroyed || version_deleted(v, clock_realtime_ns())) {
		r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = check_cas(req, resp, &c, &m)) != 0)
		goto out;
	version_key(path, v->n, vk, sizeof(vk));
	if ((r = kv_get_json(req->storage, vk, &cur)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			r = TROVE_ERR_INTEGRITY;
		goto out;
	}
	cur = kv_merge_patch(cur, patch);
	r = commit_version(req, resp, path, &m, &c, cur);
	cur = NULL;
out:
	json_decref(cur);
	if (lk)
		pthread_mutex_unlock(lk);
	meta_release(&m);
	free(path);
	return r;
}

/* Saves metadata alone (no version data changes). */
static int save_meta(const struct request *req, const char *path, const struct kv_meta *m)
{
	struct kv_batch b = { 0 };
	int r = batch_put_meta(&b, path, m);
	if (r == 0)
		r = kv2_commit(req, &b);
	batch_release(&b);
	return r;
}

static int data_delete(struct request *req, struct response *resp)
{
	char *path = NULL;
	struct kv_meta m;
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = secret_path(req, resp, "data/", true, &path)) != 0)
		return r;
	pthread_mutex_t *lk = kv_lock(req, path);
	if ((r = meta_load(req, path, &m)) != 0)
		goto out;
	int64_t now = clock_realtime_ns();
	struct kv_version *v = m.exists ? meta_find(&m, m.current) : NULL;
	if (v && !v->destroyed && !version_deleted(v, now)) {
		v->deletion = now;
		m.updated = now;
		r = save_meta(req, path, &m);
	}
out:
	pthread_mutex_unlock(lk);
	meta_release(&m);
	free(path);
	return r;
}

/* Whether the secret under prefix ("data/", "metadata/") exists. */
static int secret_exists(struct request *req, const char *prefix, bool *out)
{
	char *p = kv_rest(req, prefix);
	struct kv_meta m;
	int r = 0;
	*out = false;
	if (p[0]) {
		r = meta_load(req, p, &m);
		*out = r == 0 && m.exists;
		meta_release(&m);
		if (r == TROVE_ERR_INVALID)
			r = 0;
	}
	free(p);
	return r;
}

static int data_exists(struct request *req, bool *out)
{
	return secret_exists(req, "data/", out);
}

/* --- delete/, undelete/, destroy/ -------------------------------------------- */

enum versions_action { ACT_DELETE, ACT_UNDELETE, ACT_DESTROY };

static int parse_versions(struct request *req, struct response *resp, int64_t **out, size_t *n)
{
	json_t *arr = req->data ? json_object_get(req->data, "versions") : NULL;
	size_t i;
	json_t *e;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return response_error(resp, TROVE_ERR_INVALID, "no version number provided");
	*out = xcalloc(json_array_size(arr), sizeof(**out));
	json_array_foreach(arr, i, e)
	{
		int64_t v;
		if (!json_to_int(e, &v) || v < 0) {
			free(*out);
			*out = NULL;
			return response_error(resp, TROVE_ERR_INVALID, "versions: invalid version number \"%s\"",
					      json_is_string(e) ? json_string_value(e) : "?");
		}
		(*out)[(*n)++] = v;
	}
	return 0;
}

static int versions_apply(struct request *req, struct response *resp, const char *prefix, enum versions_action act)
{
	char *path = NULL;
	struct kv_meta m;
	struct kv_batch b = { 0 };
	int64_t *vers = NULL;
	size_t nv = 0;
	pthread_mutex_t *lk = NULL;
	bool changed = false;
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = secret_path(req, resp, prefix, true, &path)) != 0)
		return r;
	if ((r = parse_versions(req, resp, &vers, &nv)) != 0)
		goto out;
	lk = kv_lock(req, path);
	if ((r = meta_load(req, path, &m)) != 0 || !m.exists)
		goto out;
	int64_t now = clock_realtime_ns();
	for (size_t i = 0; i < nv; i++) {
		struct kv_version *v = meta_find(&m, vers[i]);
		if (!v || v->destroyed)
			continue;
		switch (act) {
		case ACT_DELETE:
			if (!version_deleted(v, now)) {
				v->deletion = now;
				changed = true;
			}
			break;
		case ACT_UNDELETE:
			if (v->deletion) {
				v->deletion = 0;
				changed = true;
			}
			break;
		case ACT_DESTROY: {
			char vk[VERSION_KEY_MAX];
			version_key(path, v->n, vk, sizeof(vk));
			batch_add(&b, STORAGE_DELETE, vk, NULL, 0);
			v->destroyed = true;
			changed = true;
			break;
		}
		}
	}
	if (!changed)
		goto out;
	m.updated = now;
	if ((r = batch_put_meta(&b, path, &m)) != 0)
		goto out;
	r = kv2_commit(req, &b);
out:
	if (lk)
		pthread_mutex_unlock(lk);
	batch_release(&b);
	free(vers);
	meta_release(&m);
	free(path);
	return r;
}

static int delete_versions(struct request *req, struct response *resp)
{
	return versions_apply(req, resp, "delete/", ACT_DELETE);
}

static int undelete_versions(struct request *req, struct response *resp)
{
	return versions_apply(req, resp, "undelete/", ACT_UNDELETE);
}

static int destroy_versions(struct request *req, struct response *resp)
{
	return versions_apply(req, resp, "destroy/", ACT_DESTROY);
}

/* --- metadata/ --------------------------------------------------------------- */

static int metadata_read(struct request *req, struct response *resp)
{
	char *path = NULL;
	struct kv_meta m;
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = secret_path(req, resp, "metadata/", false, &path)) != 0)
		return r;
	if (!path[0] || (r = meta_load(req, path, &m)) != 0 || !m.exists) {
		if (r == 0)
			r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	json_t *vs = json_object();
	for (size_t i = 0; i < m.nv; i++) {
		char n[24];
		snprintf(n, sizeof(n), "%lld", (long long)m.v[i].n);
		json_object_set_new(vs, n, json_pack("{s:o, s:o, s:b}", "created_time", time_json(m.v[i].created),
						     "deletion_time", time_json(m.v[i].deletion), "destroyed",
						     m.v[i].destroyed));
	}
	response_set_data(resp, json_pack("{s:b, s:o, s:I, s:o, s:o, s:I, s:I, s:o, s:o}", "cas_required",
					  m.cas_required, "created_time", time_json(m.created), "current_version",
					  (json_int_t)m.current, "custom_metadata", custom_json(&m),
					  "delete_version_after", duration_json(m.dva), "max_versions",
					  (json_int_t)m.max_versions, "oldest_version", (json_int_t)m.oldest,
					  "updated_time", time_json(m.updated), "versions", vs));
	r = 0;
out:
	meta_release(&m);
	free(path);
	return r;
}

/* Applies the settings fields of a metadata write or patch to m. */
static int apply_meta_fields(struct request *req, struct response *resp, struct kv_meta *m, bool patch)
{
	int r;
	if (field_present(req, "max_versions")) {
		int64_t mv = field_int(req, "max_versions");
		if (mv < 0)
			return response_error(resp, TROVE_ERR_INVALID, "max_versions: must not be negative");
		m->max_versions = mv;
	}
	if (field_present(req, "cas_required"))
		m->cas_required = field_bool(req, "cas_required");
	if (field_present(req, "delete_version_after"))
		m->dva = field_int(req, "delete_version_after");
	json_t *cm = req->data ? json_object_get(req->data, "custom_metadata") : NULL;
	if (cm) {
		json_t *next;
		if (patch)
			next = kv_merge_patch(m->custom ? json_deep_copy(m->custom) : json_object(), cm);
		else
			next = json_deep_copy(cm);
		if ((r = custom_metadata_check(next, resp)) != 0) {
			json_decref(next);
			return r;
		}
		json_decref(m->custom);
		m->custom = json_object_size(next) ? next : NULL;
		if (!m->custom)
			json_decref(next);
	}
	return 0;
}

static int metadata_update(struct request *req, struct response *resp, bool patch)
{
	char *path = NULL;
	struct kv_meta m;
	struct kv_config c;
	struct kv_batch b = { 0 };
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = secret_path(req, resp, "metadata/", true, &path)) != 0)
		return r;
	pthread_mutex_t *lk = kv_lock(req, path);
	if ((r = config_load(req, &c)) != 0 || (r = meta_load(req, path, &m)) != 0)
		goto out;
	if (patch && !m.exists) {
		r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = apply_meta_fields(req, resp, &m, patch)) != 0)
		goto out;
	int64_t now = clock_realtime_ns();
	if (!m.exists) {
		m.exists = true;
		m.created = now;
	}
	m.updated = now;
	prune(&m, effective_max_versions(&c, &m), path, &b);
	if ((r = batch_put_meta(&b, path, &m)) != 0)
		goto out;
	r = kv2_commit(req, &b);
out:
	pthread_mutex_unlock(lk);
	batch_release(&b);
	meta_release(&m);
	free(path);
	return r;
}

static int metadata_write(struct request *req, struct response *resp)
{
	return metadata_update(req, resp, false);
}

static int metadata_patch(struct request *req, struct response *resp)
{
	return metadata_update(req, resp, true);
}

static int metadata_delete(struct request *req, struct response *resp)
{
	char *path = NULL;
	struct kv_meta m;
	struct kv_batch b = { 0 };
	struct buf key;
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = secret_path(req, resp, "metadata/", true, &path)) != 0)
		return r;
	pthread_mutex_t *lk = kv_lock(req, path);
	if ((r = meta_load(req, path, &m)) != 0 || !m.exists)
		goto out;
	for (size_t i = 0; i < m.nv; i++) {
		char vk[VERSION_KEY_MAX];
		version_key(path, m.v[i].n, vk, sizeof(vk));
		batch_add(&b, STORAGE_DELETE, vk, NULL, 0);
	}
	if ((r = meta_key(path, &key)) == 0)
		batch_add(&b, STORAGE_DELETE, key.data, NULL, 0);
	buf_release(&key);
	if (r == 0)
		r = kv2_commit(req, &b);
out:
	pthread_mutex_unlock(lk);
	batch_release(&b);
	meta_release(&m);
	free(path);
	return r;
}

static int metadata_list(struct request *req, struct response *resp)
{
	char *path = NULL;
	struct buf prefix;
	struct strlist l;
	int r;

	strlist_init(&l);
	buf_init(&prefix, STORAGE_MAX_KEY + 16);
	if ((r = secret_path(req, resp, "metadata/", false, &path)) != 0)
		goto out;
	if ((r = buf_printf(&prefix, path[0] ? "metadata/%s/" : "metadata/%s", path)) != 0)
		goto out;
	if ((r = storage_list(req->storage, prefix.data, &l)) != 0)
		goto out;
	const char *after = field_string(req, "after");
	int64_t limit = field_int(req, "limit");
	if (limit < 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "limit: must not be negative");
		goto out;
	}
	json_t *keys = json_array();
	for (size_t i = 0; i < l.len; i++) {
		if (after[0] && strcmp(l.items[i], after) <= 0)
			continue;
		if (limit > 0 && (int64_t)json_array_size(keys) >= limit)
			break;
		json_array_append_new(keys, json_string(l.items[i]));
	}
	if (json_array_size(keys) == 0) {
		json_decref(keys);
		r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	response_set_data(resp, json_pack("{s:o}", "keys", keys));
	r = 0;
out:
	strlist_release(&l);
	buf_release(&prefix);
	free(path);
	return r;
}

static int metadata_exists(struct request *req, bool *out)
{
	return secret_exists(req, "metadata/", out);
}

/* --- subkeys/ ------------------------------------------------------------------ */

/* The shape of v with every leaf (a non-object, an empty object, or an
 * object at the depth limit) replaced by null. level counts from 1. */
static json_t *subkeys_of(const json_t *v, int64_t depth, int64_t level)
{
	json_t *out = json_object();
	const char *k;
	json_t *e;
	json_object_foreach((json_t *)v, k, e)
	{
		if (json_is_object(e) && json_object_size(e) > 0 && (depth == 0 || level < depth))
			json_object_set_new(out, k, subkeys_of(e, depth, level + 1));
		else
			json_object_set_new(out, k, json_null());
	}
	return out;
}

static int subkeys_read(struct request *req, struct response *resp)
{
	char *path = NULL;
	struct kv_meta m;
	json_t *data = NULL, *vm = NULL;
	int64_t want, depth;
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = secret_path(req, resp, "subkeys/", false, &path)) != 0)
		return r;
	if ((r = version_param(req, resp, &want)) != 0)
		goto out;
	depth = field_int(req, "depth");
	if (depth < 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "depth: must not be negative");
		goto out;
	}
	if ((r = read_version(req, resp, path, want, "subkeys", &m, &data, &vm)) != 0 || data == NULL)
		goto out;
	response_set_data(resp, json_pack("{s:o, s:o}", "subkeys", subkeys_of(data, depth, 1), "metadata", vm));
out:
	json_decref(data);
	meta_release(&m);
	free(path);
	return r;
}

/* --- anything else ---------------------------------------------------------------- */

/* A v1-style path on a v2 mount: Vault answers 404 with a warning that
 * points to the versioned endpoints, and CLIs show it. */
static int invalid_path(struct request *req, struct response *resp)
{
	const char *verb = "get";
	switch (req->op) {
	case OP_CREATE:
	case OP_UPDATE:
		verb = "put";
		break;
	case OP_PATCH:
		verb = "patch";
		break;
	case OP_DELETE:
		verb = "delete";
		break;
	case OP_LIST:
		verb = "list";
		break;
	default:
		break;
	}
	response_warning(resp,
			 "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API "
			 "endpoints to use. If using the Vault CLI, use 'trove kv %s' for this operation.",
			 verb);
	response_set_data(resp, NULL);
	resp->status = 404;
	return 0;
}

/* --- upgrade from version 1 ----------------------------------------------------------- */

/* Every key of a v1 mount is a secret: it becomes version 1 of the same
 * path. All of it is one transaction (old keys deleted first, then the new
 * layout written, so a v1 key that happens to share a name with a v2
 * storage key cannot survive the conversion). */
static int upgrade_v1(struct storage *s, struct buf *err)
{
	struct strlist keys;
	struct kv_batch b = { 0 };
	int64_t now = clock_realtime_ns();
	int r;

	strlist_init(&keys);
	if ((r = kv_collect_keys(s, "", &keys)) != 0) {
		buf_printf(err, "kv upgrade: listing the mount failed");
		goto out;
	}
	if (keys.len == 0)
		goto out;
	for (size_t i = 0; i < keys.len; i++)
		batch_add(&b, STORAGE_DELETE, keys.items[i], NULL, 0);
	for (size_t i = 0; i < keys.len; i++) {
		json_t *v = NULL;
		char vk[VERSION_KEY_MAX];
		const char *path = keys.items[i];
		if ((r = kv_get_json(s, path, &v)) != 0) {
			buf_printf(err, "kv upgrade: cannot read %s", path);
			goto out;
		}
		if (!json_is_object(v)) {
			json_t *wrap = json_pack("{s:o}", "value", v);
			v = wrap;
		}
		version_key(path, 1, vk, sizeof(vk));
		r = batch_put_json(&b, vk, v);
		json_decref(v);
		if (r != 0)
			goto out;
		struct kv_meta m = { .exists = true, .created = now, .updated = now, .current = 1 };
		meta_append(&m, (struct kv_version){ .n = 1, .created = now });
		r = batch_put_meta(&b, path, &m);
		meta_release(&m);
		if (r != 0)
			goto out;
	}
	r = storage_txn(s, b.ops, b.n);
	if (r != 0)
		buf_printf(err, "kv upgrade: writing the versioned layout failed");
out:
	batch_release(&b);
	strlist_release(&keys);
	return r;
}

static const char *options_version(const json_t *options)
{
	const char *v = json_string_value(json_object_get(options, "version"));
	return v ? v : "1";
}

int kv_options_changed(struct mount *m, json_t *old_options, struct buf *err)
{
	bool was2 = strcmp(options_version(old_options), "2") == 0;
	bool is2 = strcmp(options_version(m->options), "2") == 0;
	if (was2 && !is2) {
		buf_printf(err, "cannot downgrade a K/V mount from version 2 to version 1");
		return TROVE_ERR_INVALID;
	}
	if (!was2 && is2) {
		int r = upgrade_v1(m->view, err);
		struct kv2_state *st = m->engine == &kv_v2_engine ? m->engine_state : NULL;
		if (st) /* the layout was rewritten under it */
			vcache_clear(st->meta);
		return r;
	}
	return 0;
}

/* --- route table ------------------------------------------------------------------------ */

static const struct field config_fields[] = {
    {.name = "max_versions", .type = FIELD_INT, .description = "versions kept per key; 0 keeps 10"},
    {.name = "cas_required", .type = FIELD_BOOL, .description = "every write must give options.cas"},
    {.name = "delete_version_after",
     .type = FIELD_DURATION,
     .description = "versions are deleted this long after they are written"},
    {0},
};

static const struct field data_fields[] = {
    {.name = "data", .type = FIELD_MAP, .description = "the secret's key/value pairs"},
    {.name = "options", .type = FIELD_MAP, .description = "write options: cas"},
    {.name = "version", .type = FIELD_INT, .def = "0", .description = "version to read; 0 reads the latest"},
    {0},
};

static const struct field versions_fields[] = {
    {.name = "versions", .type = FIELD_STRLIST, .description = "version numbers"},
    {0},
};

static const struct field metadata_fields[] = {
    {.name = "max_versions",
     .type = FIELD_INT,
     .description = "versions kept for this key; 0 uses the mount setting"},
    {.name = "cas_required", .type = FIELD_BOOL, .description = "writes to this key must give options.cas"},
    {.name = "delete_version_after",
     .type = FIELD_DURATION,
     .description = "versions of this key are deleted this long after writing"},
    {.name = "custom_metadata",
     .type = FIELD_STRMAP,
     .description = "string to string map describing the secret"},
    {.name = "after", .type = FIELD_STRING, .description = "list: start after this entry"},
    {.name = "limit", .type = FIELD_INT, .description = "list: at most this many entries"},
    {0},
};

static const struct field subkeys_fields[] = {
    {.name = "version", .type = FIELD_INT, .def = "0", .description = "version to read; 0 reads the latest"},
    {.name = "depth",
     .type = FIELD_INT,
     .def = "0",
     .description = "deepest nesting level shown; 0 is unlimited"},
    {0},
};

static const struct route kv_v2_routes[] = {
    {.pattern = "config",
     .ops = {[OP_READ] = config_read, [OP_UPDATE] = config_write},
     .fields = config_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "engine-wide settings"},
    {.pattern = "data/*",
     .ops = {[OP_READ] = data_read,
             [OP_UPDATE] = data_write,
             [OP_PATCH] = data_patch,
             [OP_DELETE] = data_delete},
     .exists = data_exists,
     .fields = data_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "read, write, patch and delete secret versions"},
    {.pattern = "delete/*",
     .ops = {[OP_UPDATE] = delete_versions},
     .fields = versions_fields,
     .synopsis = "soft-delete versions"},
    {.pattern = "undelete/*",
     .ops = {[OP_UPDATE] = undelete_versions},
     .fields = versions_fields,
     .synopsis = "restore deleted versions"},
    {.pattern = "destroy/*",
     .ops = {[OP_UPDATE] = destroy_versions},
     .fields = versions_fields,
     .synopsis = "permanently destroy versions"},
    {.pattern = "metadata",
     .ops = {[OP_LIST] = metadata_list},
     .fields = metadata_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list secrets at the top of the mount"},
    {.pattern = "metadata/*",
     .ops = {[OP_READ] = metadata_read,
             [OP_UPDATE] = metadata_write,
             [OP_PATCH] = metadata_patch,
             [OP_DELETE] = metadata_delete,
             [OP_LIST] = metadata_list},
     .exists = metadata_exists,
     .fields = metadata_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "key metadata and version history"},
    {.pattern = "subkeys/*",
     .ops = {[OP_READ] = subkeys_read},
     .fields = subkeys_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "the key structure of a secret"},
    {.pattern = "*",
     .ops = {[OP_READ] = invalid_path,
             [OP_UPDATE] = invalid_path,
             [OP_PATCH] = invalid_path,
             [OP_DELETE] = invalid_path,
             [OP_LIST] = invalid_path},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "not a versioned K/V path"},
    {0},
};

static const struct route *const kv_v2_tables[] = { kv_v2_routes, NULL };

static int kv2_mount_init(struct mount *m, struct buf *err)
{
	(void)err;
	struct kv2_state *st = xcalloc(1, sizeof(*st));
	st->meta = vcache_new(META_CACHE_SLOTS, json_share, json_drop);
	st->config = engine_config_new(&kv_config_decl, st);
	locks_init(st->locks);
	m->engine_state = st;
	return 0;
}

/* The mount is gone (disabled, or sealed) and no request uses it. */
static void kv2_mount_cleanup(struct mount *m)
{
	struct kv2_state *st = m->engine_state;
	if (!st)
		return;
	vcache_free(st->meta);
	engine_config_free(st->config);
	for (size_t i = 0; i < KV_LOCK_STRIPES; i++)
		pthread_mutex_destroy(&st->locks[i]);
	free(st);
	m->engine_state = NULL;
}

/* A record changed in storage behind the mount's back (invalidate.h). */
static void kv2_invalidate(struct mount *m, const char *key)
{
	struct kv2_state *st = m->engine_state;
	if (st && strncmp(key, "metadata/", 9) == 0)
		vcache_forget(st->meta, key);
	else if (st && strcmp(key, kv_config_decl.key) == 0)
		engine_config_invalidate(st->config, m->view);
}

const struct engine kv_v2_engine = {
	.type = "kv",
	.tables = kv_v2_tables,
	.flags = 0,
	.mount_init = kv2_mount_init,
	.mount_cleanup = kv2_mount_cleanup,
	.options_changed = kv_options_changed,
	.invalidate = kv2_invalidate,
};
