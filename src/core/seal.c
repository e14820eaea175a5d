/* seal.c — initialisation and the Shamir seal.
 *
 * The core is a small state machine: uninitialised -> sealed <-> unsealed.
 * Unsealing collects key shares until the threshold, combines them into
 * the unseal key, and opens the root key record with it; AES-GCM's tag is
 * what tells a right key set from a wrong one, so a wrong set fails as a
 * whole and nobody learns which share was bad. One mutex guards the state
 * (unseal progress, shares, nonce); the barrier has its own lock for the
 * data path, so reads never wait on this one. */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

#include "audit.h"
#include "expiration.h"
#include "barrier.h"
#include "err.h"
#include "log.h"
#include "mount.h"
#include "policy_store.h"
#include "rand.h"
#include "rollback_guard.h"
#include "secure.h"
#include "shamir.h"
#include "token.h"

#include "banned.h"

struct seal_config {
	unsigned shares;
	unsigned threshold;
};

struct core {
	pthread_mutex_t lock;
	struct storage *physical;
	struct barrier *barrier;
	struct token_store *tokens;
	struct policy_store *policies;
	struct mount_table *mounts;
	struct audit_broker *audit;
	struct expiration *expiration;
	struct rollback_guard *guard; /* NULL when not configured */
	struct core_config cfg;
	char *storage_type;
	char *cluster_name;
	char cluster_id[37];

	/* The seal config never changes once written (at init), so it is
	 * read from storage once and then served from here: sys/health and
	 * seal-status are hot paths for load balancers. */
	struct seal_config cached;
	bool cached_valid;

	/* unseal progress */
	unsigned char *shares[SHAMIR_MAX_SHARES];
	size_t share_len;
	unsigned nshares;
	char nonce[37];
};

struct core *core_new(struct storage *physical, const struct core_config *cfg)
{
	struct core *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->physical = physical;
	c->barrier = barrier_new(physical);
	c->tokens = token_store_new();
	c->policies = policy_store_new();
	c->mounts = mount_table_new(c);
	c->audit = audit_broker_new();
	c->expiration = expiration_new(c);
	c->cfg = *cfg;
	c->storage_type = xstrdup(cfg->storage_type ? cfg->storage_type : "inmem");
	c->cfg.storage_type = c->storage_type;
	c->cluster_name = cfg->cluster_name ? xstrdup(cfg->cluster_name) : NULL;
	c->cfg.cluster_name = c->cluster_name;
	if (cfg->rollback_guard_file) {
		c->guard = rollback_guard_new(cfg->rollback_guard_file);
		barrier_set_epoch_hook(c->barrier, rollback_guard_epoch, c->guard);
	}
	c->cfg.rollback_guard_file = NULL; /* borrowed from the caller: not kept */
	return c;
}

static void clear_progress(struct core *c)
{
	for (unsigned i = 0; i < c->nshares; i++) {
		secure_free(c->shares[i], c->share_len);
		c->shares[i] = NULL;
	}
	c->nshares = 0;
	c->share_len = 0;
	c->nonce[0] = '\0';
}

void core_free(struct core *c)
{
	if (!c)
		return;
	core_seal(c);
	expiration_free(c->expiration);
	audit_broker_free(c->audit);
	mount_table_free(c->mounts);
	policy_store_free(c->policies);
	token_store_free(c->tokens);
	barrier_free(c->barrier);
	rollback_guard_free(c->guard);
	free(c->storage_type);
	free(c->cluster_name);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* locked: whether the caller already holds c->lock. */
static int read_seal_config(struct core *c, struct seal_config *out, bool locked)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	json_t *j = NULL;
	json_int_t n = 0, t = 0;
	int r;

	if (!locked)
		pthread_mutex_lock(&c->lock);
	bool cached = c->cached_valid;
	if (cached)
		*out = c->cached;
	if (!locked)
		pthread_mutex_unlock(&c->lock);
	if (cached)
		return 0;
	if ((r = storage_get(c->physical, CORE_SEAL_CONFIG_PATH, &raw, &len)) != 0)
		return r;
	r = TROVE_ERR_INTEGRITY;
	j = json_loadb((const char *)raw, len, 0, NULL);
	if (!j || json_unpack(j, "{s:I, s:I}", "secret_shares", &n, "secret_threshold", &t) != 0)
		goto out;
	if (t < 1 || n < t || n > SHAMIR_MAX_SHARES)
		goto out;
	out->shares = (unsigned)n;
	out->threshold = (unsigned)t;
	if (!locked)
		pthread_mutex_lock(&c->lock);
	c->cached = *out;
	c->cached_valid = true;
	if (!locked)
		pthread_mutex_unlock(&c->lock);
	r = 0;
out:
	json_decref(j);
	free(raw);
	return r;
}

static int initialized_locked(struct core *c, bool locked, bool *out)
{
	struct seal_config sc;
	int r = read_seal_config(c, &sc, locked);
	if (r == TROVE_ERR_NOT_FOUND) {
		*out = false;
		return 0;
	}
	if (r != 0)
		return r;
	*out = true;
	return 0;
}

int core_initialized(struct core *c, bool *out)
{
	return initialized_locked(c, false, out);
}

static void load_cluster_identity(struct core *c)
{
	/* The cluster id and name live behind the barrier; created on the
	 * first unseal so that a copy of storage alone does not reveal them. */
	struct storage *s = barrier_storage(c->barrier);
	unsigned char *raw = NULL;
	size_t len = 0;
	json_t *j = NULL;
	const char *id = NULL, *name = NULL;
	if (storage_get(s, "core/cluster", &raw, &len) == 0)
		j = json_loadb((const char *)raw, len, 0, NULL);
	free(raw);
	if (!j || json_unpack(j, "{s:s, s:s}", "id", &id, "name", &name) != 0) {
		char uuid[37];
		char *text;
		json_decref(j);
		if (rand_uuid(uuid) != 0)
			return;
		char gen[64];
		snprintf(gen, sizeof(gen), "trove-cluster-%.8s", uuid);
		j = json_pack("{s:s, s:s}", "id", uuid, "name", c->cluster_name ? c->cluster_name : gen);
		if (!j)
			return;
		text = json_dumps(j, JSON_COMPACT);
		if (text) {
			if (storage_put(s, "core/cluster", text, strlen(text)) != 0)
				log_warn("could not persist cluster identity");
			free(text);
		}
		json_unpack(j, "{s:s, s:s}", "id", &id, "name", &name);
	}
	if (id)
		snprintf(c->cluster_id, sizeof(c->cluster_id), "%s", id);
	/* A configured cluster_name wins over the stored one. */
	if (!c->cluster_name && name)
		c->cluster_name = xstrdup(name);
	json_decref(j);
}

int core_initialize(struct core *c, unsigned shares, unsigned threshold, const char *root_token_id,
		    struct core_init_result *out, struct buf *err)
{
	int r = TROVE_ERR_INVALID;
	unsigned char unseal_key[CORE_UNSEAL_KEY_LEN];
	unsigned char root_key[BARRIER_KEY_LEN];
	unsigned char *rec = NULL;
	size_t rec_len = 0;
	char *cfg_text = NULL;
	json_t *cfg_json = NULL;
	bool initialized = false;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	if (shares < 1 || shares > SHAMIR_MAX_SHARES) {
		buf_printf(err, "secret_shares must be between 1 and %d", SHAMIR_MAX_SHARES);
		goto out;
	}
	if (threshold < 1 || threshold > shares) {
		buf_printf(err, "secret_threshold must be between 1 and secret_shares (%u)", shares);
		goto out;
	}
	if (shares > 1 && threshold == 1) {
		buf_append_str(err, "secret_threshold must be greater than 1 when secret_shares is greater than 1");
		goto out;
	}
	if ((r = initialized_locked(c, true, &initialized)) != 0)
		goto out;
	if (initialized) {
		r = TROVE_ERR_INVALID;
		buf_append_str(err, "Vault is already initialized");
		goto out;
	}
	if ((r = rand_bytes(unseal_key, sizeof(unseal_key))) != 0 ||
	    (r = rand_bytes(root_key, sizeof(root_key))) != 0)
		goto out;

	out->nkeys = shares;
	out->key_len = CORE_UNSEAL_KEY_LEN + 1;
	out->keys = xcalloc(shares, sizeof(*out->keys));
	for (unsigned i = 0; i < shares; i++)
		out->keys[i] = xmalloc(out->key_len);
	if ((r = shamir_split(unseal_key, sizeof(unseal_key), shares, threshold, out->keys)) != 0)
		goto out;

	/* Order matters for crash safety: the seal config is written last,
	 * so a crash part-way leaves an uninitialised store that can be
	 * initialised again. */
	if ((r = barrier_initialize(c->barrier, root_key)) != 0) {
		if (r == TROVE_ERR_CONFLICT) {
			r = TROVE_ERR_INVALID;
			buf_append_str(err, "storage holds a keyring but no seal configuration; refusing to overwrite it");
		}
		goto out;
	}
	if ((r = barrier_record_encrypt(unseal_key, 0, CORE_ROOT_KEY_PATH, root_key, sizeof(root_key), &rec,
					&rec_len)) != 0)
		goto out;
	if ((r = storage_put(c->physical, CORE_ROOT_KEY_PATH, rec, rec_len)) != 0)
		goto out;

	if ((r = barrier_unseal(c->barrier, root_key)) != 0)
		goto out;
	r = token_store_open(c->tokens, barrier_storage(c->barrier));
	if (r == 0)
		r = token_create_root(c->tokens, root_token_id, &out->root_token);
	token_store_close(c->tokens);
	barrier_seal(c->barrier);
	if (r != 0) {
		if (r == TROVE_ERR_INVALID)
			buf_append_str(err, "invalid root token id");
		goto out;
	}

	cfg_json = json_pack("{s:s, s:i, s:i}", "type", "shamir", "secret_shares", (int)shares, "secret_threshold",
			     (int)threshold);
	cfg_text = cfg_json ? json_dumps(cfg_json, JSON_COMPACT) : NULL;
	if (!cfg_text) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	if ((r = storage_put(c->physical, CORE_SEAL_CONFIG_PATH, cfg_text, strlen(cfg_text))) != 0)
		goto out;
	log_info("core initialized", "secret_shares", shares > 1 ? "many" : "one");
	r = 0;
out:
	if (r != 0)
		core_init_result_release(out);
	secure_wipe(unseal_key, sizeof(unseal_key));
	secure_wipe(root_key, sizeof(root_key));
	free(rec);
	free(cfg_text);
	json_decref(cfg_json);
	pthread_mutex_unlock(&c->lock);
	return r;
}

void core_init_result_release(struct core_init_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->keys && i < r->nkeys; i++)
		secure_free(r->keys[i], r->key_len);
	free(r->keys);
	secure_free_str(r->root_token);
	memset(r, 0, sizeof(*r));
}

static void fill_status(struct core *c, const struct seal_config *sc, bool initialized, struct seal_status *out)
{
	memset(out, 0, sizeof(*out));
	out->initialized = initialized;
	out->sealed = barrier_sealed(c->barrier);
	out->storage_type = c->storage_type;
	if (initialized) {
		out->threshold = sc->threshold;
		out->shares = sc->shares;
	}
	out->progress = c->nshares;
	snprintf(out->nonce, sizeof(out->nonce), "%s", c->nonce);
	if (!out->sealed) {
		snprintf(out->cluster_name, sizeof(out->cluster_name), "%s", c->cluster_name ? c->cluster_name : "");
		snprintf(out->cluster_id, sizeof(out->cluster_id), "%s", c->cluster_id);
	}
}

int core_seal_status(struct core *c, struct seal_status *out)
{
	struct seal_config sc = { 0, 0 };
	int r = read_seal_config(c, &sc, false);
	bool initialized = (r == 0);
	if (r != 0 && r != TROVE_ERR_NOT_FOUND)
		return r;
	pthread_mutex_lock(&c->lock);
	fill_status(c, &sc, initialized, out);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Combines the collected shares and opens the root key. Called with the
 * lock held and nshares == threshold. */
static int try_unseal(struct core *c, struct buf *err)
{
	unsigned char unseal_key[CORE_UNSEAL_KEY_LEN + 1];
	unsigned char *rec = NULL, *root_key = NULL;
	size_t rec_len = 0, root_len = 0;
	int r;

	if (c->share_len == CORE_UNSEAL_KEY_LEN + 1) {
		if ((r = shamir_combine((const unsigned char *const *)c->shares, c->nshares, c->share_len,
					unseal_key)) != 0)
			goto out;
	} else {
		r = TROVE_ERR_INVALID;
		goto out;
	}
	if ((r = storage_get(c->physical, CORE_ROOT_KEY_PATH, &rec, &rec_len)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			r = TROVE_ERR_INTEGRITY;
		goto out;
	}
	if ((r = barrier_record_decrypt(unseal_key, CORE_ROOT_KEY_PATH, rec, rec_len, &root_key, &root_len)) != 0)
		goto out;
	if (root_len != BARRIER_KEY_LEN) {
		r = TROVE_ERR_INTEGRITY;
		goto out;
	}
	if ((r = barrier_unseal(c->barrier, root_key)) != 0)
		goto out;
	/* An older copy of the storage opens with the same keys: only the
	 * guard's local record can tell it apart. */
	if (c->guard &&
	    (r = rollback_guard_check(c->guard, root_key, rec, rec_len, barrier_epoch(c->barrier), err)) != 0)
		goto fail;
	/* Every unseal starts a new epoch, so any copy of the storage taken
	 * before it is older than what the guard now records. */
	if (c->guard && (r = barrier_touch(c->barrier)) != 0)
		goto fail;
	/* Everything that lives behind the barrier comes up together, or
	 * the core stays sealed. */
	struct storage *logical = barrier_storage(c->barrier);
	if ((r = token_store_open(c->tokens, logical)) != 0)
		goto fail;
	if ((r = policy_store_open(c->policies, logical)) != 0)
		goto fail;
	if ((r = mount_table_load(c->mounts, logical)) != 0)
		goto fail;
	if ((r = audit_broker_load(c->audit, logical)) != 0)
		goto fail;
	struct expiration_config ecfg;
	expiration_config_default(&ecfg);
	if (c->cfg.expiration_manual)
		ecfg.workers = 0;
	if ((r = expiration_start(c->expiration, logical, &ecfg)) != 0)
		goto fail;
	load_cluster_identity(c);
	r = 0;
	goto out;
fail:
	expiration_stop(c->expiration);
	audit_broker_unload(c->audit);
	mount_table_unload(c->mounts);
	policy_store_close(c->policies);
	token_store_close(c->tokens);
	rollback_guard_disarm(c->guard);
	barrier_seal(c->barrier);
out:
	secure_wipe(unseal_key, sizeof(unseal_key));
	secure_free(root_key, root_len);
	free(rec);
	return r;
}

int core_unseal(struct core *c, const unsigned char *key, size_t len, struct seal_status *out, struct buf *err)
{
	struct seal_config sc;
	int r = read_seal_config(c, &sc, false);
	if (r == TROVE_ERR_NOT_FOUND) {
		buf_append_str(err, "Vault is not initialized");
		return TROVE_ERR_INVALID;
	}
	if (r != 0)
		return r;

	pthread_mutex_lock(&c->lock);
	if (!barrier_sealed(c->barrier)) {
		r = 0;
		goto out;
	}
	if (len != CORE_UNSEAL_KEY_LEN + 1) {
		r = TROVE_ERR_INVALID;
		buf_printf(err, "invalid key length: an unseal key share is %d bytes", CORE_UNSEAL_KEY_LEN + 1);
		goto out;
	}
	for (unsigned i = 0; i < c->nshares; i++) {
		if (secure_eq(c->shares[i], key, len)) {
			r = TROVE_ERR_INVALID;
			buf_append_str(err, "this key share was already submitted in the current unseal attempt");
			goto out;
		}
	}
	if (c->nshares == 0 && (r = rand_uuid(c->nonce)) != 0)
		goto out;
	c->shares[c->nshares] = xmalloc(len);
	memcpy(c->shares[c->nshares], key, len);
	c->share_len = len;
	c->nshares++;

	if (c->nshares >= sc.threshold) {
		size_t err_before = err->len;
		r = try_unseal(c, err);
		clear_progress(c);
		if (r != 0 && err->len > err_before) {
			/* the shares were right; the storage was refused */
			log_error("unseal refused", "reason", err->data + err_before);
			goto out;
		}
		if (r != 0) {
			log_warn("unseal failed: the submitted key shares did not open the root key");
			if (r == TROVE_ERR_INTEGRITY || r == TROVE_ERR_INVALID) {
				r = TROVE_ERR_INVALID;
				buf_append_str(err, "unseal failed: the key shares do not combine to the unseal key; "
						    "progress was reset");
			}
			goto out;
		}
		log_info("core unsealed");
	}
	r = 0;
out:
	fill_status(c, &sc, true, out);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int core_unseal_reset(struct core *c)
{
	int r = 0;
	pthread_mutex_lock(&c->lock);
	if (!barrier_sealed(c->barrier))
		r = TROVE_ERR_INVALID;
	else
		clear_progress(c);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int core_seal(struct core *c)
{
	pthread_mutex_lock(&c->lock);
	if (!barrier_sealed(c->barrier))
		log_info("core sealed");
	expiration_stop(c->expiration);
	audit_broker_unload(c->audit);
	mount_table_unload(c->mounts);
	policy_store_close(c->policies);
	token_store_close(c->tokens);
	rollback_guard_disarm(c->guard);
	barrier_seal(c->barrier);
	clear_progress(c);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

bool core_sealed(struct core *c)
{
	return barrier_sealed(c->barrier);
}

struct storage *core_storage(struct core *c)
{
	return barrier_storage(c->barrier);
}

struct barrier *core_barrier(struct core *c)
{
	return c->barrier;
}

struct token_store *core_tokens(struct core *c)
{
	return c->tokens;
}

struct mount_table *core_mounts(struct core *c)
{
	return c->mounts;
}

struct policy_store *core_policies(struct core *c)
{
	return c->policies;
}

struct audit_broker *core_audit(struct core *c)
{
	return c->audit;
}

struct expiration *core_expiration(struct core *c)
{
	return c->expiration;
}

const struct core_config *core_config(struct core *c)
{
	return &c->cfg;
}
