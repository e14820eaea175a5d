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
#include "core_impl.h"
#include "seal_impl.h"
#include "seal_wrap.h"

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
#include "generate_root.h"
#include "ha.h"
#include "rekey.h"
#include "shamir.h"
#include "shares.h"
#include "token.h"

#include "banned.h"

static void clear_progress(struct core *c)
{
	share_set_clear(&c->progress);
	c->nonce[0] = '\0';
}

enum seal_mode seal_mode_of(const struct core *c, const struct seal_config *sc)
{
	bool enabled = c->cfg.seal && !c->cfg.seal_disabled;
	if (!sc->autoseal)
		return enabled ? SEAL_MODE_TO_AUTO : SEAL_MODE_SHAMIR;
	if (!c->cfg.seal)
		return SEAL_MODE_NO_SEAL;
	return enabled ? SEAL_MODE_AUTO : SEAL_MODE_TO_SHAMIR;
}

void seal_cache_config(struct core *c, const struct seal_config *sc)
{
	c->cached = *sc;
	c->cached_valid = true;
}

/* locked: whether the caller already holds c->lock. */
int seal_read_config(struct core *c, struct seal_config *out, bool locked)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	json_t *j = NULL;
	json_int_t n = 0, t = 0, rn = 0, rt = 0;
	const char *type = "shamir";
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
	if (!j || json_unpack(j, "{s:I, s:I, s?s, s?I, s?I}", "secret_shares", &n, "secret_threshold", &t, "type",
			      &type, "recovery_shares", &rn, "recovery_threshold", &rt) != 0)
		goto out;
	if (t < 1 || n < t || n > SHAMIR_MAX_SHARES)
		goto out;
	memset(out, 0, sizeof(*out));
	out->shares = (unsigned)n;
	out->threshold = (unsigned)t;
	if (strcmp(type, "shamir") != 0) {
		/* the one auto seal Trove has */
		if (strcmp(type, "pkcs11") != 0 || rt < 1 || rn < rt || rn > SHAMIR_MAX_SHARES)
			goto out;
		out->autoseal = true;
		out->recovery_shares = (unsigned)rn;
		out->recovery_threshold = (unsigned)rt;
	}
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
	int r = seal_read_config(c, &sc, locked);
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

char *seal_config_text(const struct seal_config *sc)
{
	json_t *j = json_pack("{s:s, s:i, s:i}", "type", sc->autoseal ? "pkcs11" : "shamir", "secret_shares",
			      (int)sc->shares, "secret_threshold", (int)sc->threshold);
	if (j && sc->autoseal) {
		json_object_set_new(j, "stored_shares", json_integer(1));
		json_object_set_new(j, "recovery_shares", json_integer(sc->recovery_shares));
		json_object_set_new(j, "recovery_threshold", json_integer(sc->recovery_threshold));
	}
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return text;
}

int core_seal_config_check(int64_t shares, int64_t threshold, struct buf *err)
{
	const char *why = NULL;
	if (shares < 1 || shares > SHAMIR_MAX_SHARES)
		why = "secret_shares: must be between 1 and 255";
	else if (threshold < 1 || threshold > shares)
		why = "secret_threshold: must be between 1 and secret_shares";
	else if (shares > 1 && threshold == 1)
		why = "secret_threshold: must be greater than 1 when secret_shares is greater than 1";
	if (!why)
		return 0;
	if (err)
		buf_append_str(err, why);
	return TROVE_ERR_INVALID;
}

int seal_init_barrier(struct core *c, const unsigned char *root_key, const char *root_token_id, char **root_token,
		      struct buf *err)
{
	int r;
	if ((r = barrier_initialize(c->barrier, root_key)) != 0) {
		if (r == TROVE_ERR_CONFLICT) {
			r = TROVE_ERR_INVALID;
			buf_append_str(err, "storage holds a keyring but no seal configuration; refusing to overwrite it");
		}
		return r;
	}
	if ((r = barrier_unseal(c->barrier, root_key)) != 0)
		return r;
	r = token_store_open(c->tokens, barrier_storage(c->barrier));
	if (r == 0)
		r = token_create_root(c->tokens, root_token_id, root_token);
	token_store_close(c->tokens);
	barrier_seal(c->barrier);
	if (r == TROVE_ERR_INVALID)
		buf_append_str(err, "invalid root token id");
	return r;
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
	bool initialized = false;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	if ((r = core_seal_config_check(shares, threshold, err)) != 0)
		goto out;
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
	if ((r = seal_init_barrier(c, root_key, root_token_id, &out->root_token, err)) != 0)
		goto out;
	if ((r = barrier_record_encrypt(unseal_key, 0, CORE_ROOT_KEY_PATH, root_key, sizeof(root_key), &rec,
					&rec_len)) != 0)
		goto out;
	if ((r = storage_put(c->physical, CORE_ROOT_KEY_PATH, rec, rec_len)) != 0)
		goto out;

	const struct seal_config sc = { .shares = shares, .threshold = threshold };
	if ((cfg_text = seal_config_text(&sc)) == NULL) {
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
	out->type = "shamir";
	if (initialized) {
		enum seal_mode m = seal_mode_of(c, sc);
		bool recovery = sc->autoseal;
		out->threshold = recovery ? sc->recovery_threshold : sc->threshold;
		out->shares = recovery ? sc->recovery_shares : sc->shares;
		out->recovery_seal = recovery;
		out->migration = out->sealed && (m == SEAL_MODE_TO_AUTO || m == SEAL_MODE_TO_SHAMIR);
		if (recovery && c->cfg.seal)
			out->type = c->cfg.seal->type;
		else if (recovery)
			out->type = "pkcs11";
	} else if (c->cfg.seal && !c->cfg.seal_disabled) {
		out->type = c->cfg.seal->type;
		out->recovery_seal = true;
	}
	out->progress = c->progress.n;
	snprintf(out->nonce, sizeof(out->nonce), "%s", c->nonce);
	if (!out->sealed) {
		snprintf(out->cluster_name, sizeof(out->cluster_name), "%s", c->cluster_name ? c->cluster_name : "");
		snprintf(out->cluster_id, sizeof(out->cluster_id), "%s", c->cluster_id);
	}
}

int core_seal_status(struct core *c, struct seal_status *out)
{
	struct seal_config sc = { 0 };
	int r = seal_read_config(c, &sc, false);
	bool initialized = (r == 0);
	if (r != 0 && r != TROVE_ERR_NOT_FOUND)
		return r;
	pthread_mutex_lock(&c->lock);
	fill_status(c, &sc, initialized, out);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Opens the root key record with unseal_key. *root_key (BARRIER_KEY_LEN
 * bytes) is the caller's to secure_free; when rec_out is not NULL the
 * record's bytes as stored are the caller's to free too. TROVE_ERR_INTEGRITY
 * when the key does not open it (or the record is missing or damaged). */
int seal_open_root_key(struct core *c, const unsigned char *unseal_key, unsigned char **root_key,
			 unsigned char **rec_out, size_t *rec_len_out)
{
	unsigned char *rec = NULL, *key = NULL;
	size_t rec_len = 0, key_len = 0;
	int r;

	*root_key = NULL;
	if ((r = storage_get(c->physical, CORE_ROOT_KEY_PATH, &rec, &rec_len)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			r = TROVE_ERR_INTEGRITY;
		goto out;
	}
	if ((r = barrier_record_decrypt(unseal_key, CORE_ROOT_KEY_PATH, rec, rec_len, &key, &key_len)) != 0)
		goto out;
	if (key_len != BARRIER_KEY_LEN) {
		secure_free(key, key_len);
		r = TROVE_ERR_INTEGRITY;
		goto out;
	}
	*root_key = key;
	if (rec_out) {
		*rec_out = rec;
		*rec_len_out = rec_len;
		rec = NULL;
	}
	r = 0;
out:
	free(rec);
	return r;
}

int core_key_threshold(struct core *c, unsigned *threshold, struct buf *err)
{
	struct seal_config sc;
	int r = seal_read_config(c, &sc, false);
	if (r == TROVE_ERR_NOT_FOUND) {
		buf_append_str(err, "server is not yet initialized");
		return TROVE_ERR_UNINITIALIZED;
	}
	if (r != 0)
		return r;
	if (barrier_sealed(c->barrier)) {
		buf_append_str(err, "Vault is sealed");
		return TROVE_ERR_SEALED;
	}
	*threshold = sc.autoseal ? sc.recovery_threshold : sc.threshold;
	return 0;
}

bool core_recovery_seal(struct core *c)
{
	struct seal_config sc;
	return seal_read_config(c, &sc, false) == 0 && sc.autoseal;
}

bool core_has_autoseal(struct core *c)
{
	return c->cfg.seal && !c->cfg.seal_disabled;
}

int core_check_unseal_key(struct core *c, const unsigned char *key)
{
	unsigned char *root_key = NULL;
	int r;
	if (core_recovery_seal(c)) {
		struct buf err;
		unsigned char *rec = NULL;
		size_t rec_len = 0;
		buf_init(&err, 256);
		r = seal_auto_root_key(c, &root_key, &rec, &rec_len, &err);
		if (r == 0)
			r = seal_auto_check_recovery(c, root_key, key);
		else
			log_warn("recovery key check: the seal could not open the root key", "error", err.data);
		buf_release(&err);
		free(rec);
		secure_free(root_key, BARRIER_KEY_LEN);
		return r;
	}
	r = seal_open_root_key(c, key, &root_key, NULL, NULL);
	secure_free(root_key, BARRIER_KEY_LEN);
	return r == TROVE_ERR_INTEGRITY ? TROVE_ERR_INVALID : r;
}

int core_replace_unseal_key(struct core *c, const unsigned char *old_key, const unsigned char *new_key,
			    unsigned shares, unsigned threshold)
{
	unsigned char *root_key = NULL, *rec = NULL;
	size_t rec_len = 0;
	char *cfg_text = NULL;
	int r;

	if (core_seal_config_check(shares, threshold, NULL) != 0)
		return TROVE_ERR_INVALID;
	pthread_mutex_lock(&c->lock);
	if (barrier_sealed(c->barrier)) {
		r = TROVE_ERR_SEALED;
		goto out;
	}
	if (c->cached_valid && c->cached.autoseal) {
		r = seal_auto_replace_recovery(c, old_key, new_key, shares, threshold);
		goto out;
	}
	if ((r = seal_open_root_key(c, old_key, &root_key, NULL, NULL)) != 0) {
		if (r == TROVE_ERR_INTEGRITY)
			r = TROVE_ERR_INVALID;
		goto out;
	}
	if ((r = barrier_record_encrypt(new_key, 0, CORE_ROOT_KEY_PATH, root_key, BARRIER_KEY_LEN, &rec,
					&rec_len)) != 0)
		goto out;
	const struct seal_config nsc = { .shares = shares, .threshold = threshold };
	if ((cfg_text = seal_config_text(&nsc)) == NULL) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	/* One transaction: after a crash storage holds either the old record
	 * and config (the old shares work) or both new ones. */
	const struct storage_op ops[] = {
		{ STORAGE_PUT, CORE_ROOT_KEY_PATH, rec, rec_len },
		{ STORAGE_PUT, CORE_SEAL_CONFIG_PATH, cfg_text, strlen(cfg_text) },
	};
	if ((r = storage_txn(c->physical, ops, 2)) != 0)
		goto out;
	/* The guard records the new record with the next epoch, so the old
	 * record (which the retired shares open) is refused if put back. */
	if (c->guard) {
		rollback_guard_root_record(c->guard, rec, rec_len);
		if (barrier_touch(c->barrier) != 0)
			log_warn("keyring epoch not advanced after the rekey; the rollback guard keeps the old record");
	}
	seal_cache_config(c, &nsc);
	log_info("unseal key replaced", "secret_shares", shares > 1 ? "many" : "one");
	r = 0;
out:
	pthread_mutex_unlock(&c->lock);
	secure_free(root_key, BARRIER_KEY_LEN);
	free(rec);
	free(cfg_text);
	return r;
}

/* Starts the expiration manager over the logical storage. */
static int start_expiration(struct core *c)
{
	struct expiration_config ecfg;
	expiration_config_default(&ecfg);
	if (c->cfg.lease_revocation_workers)
		ecfg.workers = c->cfg.lease_revocation_workers;
	if (c->cfg.lease_revocation_timeout_ms > 0)
		ecfg.revoke_timeout_ms = c->cfg.lease_revocation_timeout_ms;
	if (c->cfg.expiration_manual)
		ecfg.workers = 0;
	return expiration_start(c->expiration, barrier_storage(c->barrier), &ecfg);
}

/* Unloads everything that lives behind the barrier (lock held). */
static void close_behind_barrier(struct core *c)
{
	expiration_stop(c->expiration);
	audit_broker_unload(c->audit);
	mount_table_unload(c->mounts);
	policy_store_close(c->policies);
	token_store_close(c->tokens);
}

/* Loads everything that lives behind the barrier, together or not at all
 * (lock held, barrier open). Under HA the expiration manager runs on the
 * active node only: it starts when the node becomes active
 * (core_ha_activate), not here. */
static int open_behind_barrier(struct core *c)
{
	struct storage *logical = barrier_storage(c->barrier);
	int r;
	if ((r = token_store_open(c->tokens, logical)) != 0)
		goto fail;
	if ((r = policy_store_open(c->policies, logical)) != 0)
		goto fail;
	if ((r = mount_table_load(c->mounts, logical)) != 0)
		goto fail;
	if ((r = audit_broker_load(c->audit, logical)) != 0)
		goto fail;
	if ((!ha_enabled(c->ha) || ha_role(c->ha) == HA_ROLE_ACTIVE) && (r = start_expiration(c)) != 0)
		goto fail;
	return 0;
fail:
	close_behind_barrier(c);
	return r;
}

int core_ha_activate(struct core *c)
{
	int r = TROVE_ERR_SEALED;
	pthread_mutex_lock(&c->lock);
	if (barrier_sealed(c->barrier))
		goto out;
	/* Another node wrote while this one stood by: everything kept in
	 * memory from storage (the barrier's keyring, token and policy
	 * caches, the mount and audit tables, engines' per-mount state) is
	 * dropped and read again, the simplest way to be right whatever
	 * changed. */
	if ((r = barrier_reload(c->barrier)) != 0)
		goto out;
	close_behind_barrier(c);
	if ((r = open_behind_barrier(c)) != 0)
		goto out;
	r = start_expiration(c);
	if (r != 0)
		close_behind_barrier(c);
out:
	pthread_mutex_unlock(&c->lock);
	if (r != 0)
		log_error("HA: could not load state to become active", "error", err_name(r));
	return r;
}

void core_ha_deactivate(struct core *c)
{
	pthread_mutex_lock(&c->lock);
	expiration_stop(c->expiration);
	pthread_mutex_unlock(&c->lock);
}

/* Combines the collected shares and opens the root key. Called with the
 * lock held and the threshold of shares collected. */
static int try_unseal(struct core *c, struct buf *err)
{
	unsigned char unseal_key[CORE_UNSEAL_KEY_LEN + 1];
	unsigned char *root_key = NULL, *rec = NULL;
	size_t rec_len = 0;
	int r;

	if (c->progress.share_len != CORE_UNSEAL_KEY_LEN + 1) {
		r = TROVE_ERR_INVALID;
		goto out;
	}
	if ((r = share_set_combine(&c->progress, unseal_key)) != 0)
		goto out;
	if ((r = seal_open_root_key(c, unseal_key, &root_key, &rec, &rec_len)) != 0)
		goto out;
	r = seal_unseal_with_root_key(c, root_key, rec, rec_len, err);
out:
	secure_wipe(unseal_key, sizeof(unseal_key));
	secure_free(root_key, BARRIER_KEY_LEN);
	free(rec);
	return r;
}

int seal_unseal_with_root_key(struct core *c, const unsigned char *root_key, const unsigned char *rec,
			      size_t rec_len, struct buf *err)
{
	int r;
	if ((r = barrier_unseal(c->barrier, root_key)) != 0)
		return r;
	/* An older copy of the storage opens with the same keys: only the
	 * guard's local record can tell it apart. */
	if (c->guard &&
	    (r = rollback_guard_check(c->guard, root_key, rec, rec_len, barrier_epoch(c->barrier), err)) != 0)
		goto fail;
	/* Every unseal starts a new epoch, so any copy of the storage taken
	 * before it is older than what the guard now records. */
	if (c->guard && (r = barrier_touch(c->barrier)) != 0)
		goto fail;
	if ((r = open_behind_barrier(c)) != 0)
		goto fail;
	load_cluster_identity(c);
	c->unsealed_once = true;
	return 0;
fail:
	seal_teardown(c);
	return r;
}

/* Why unseal (migrate or not) is refused in mode m, or NULL. */
static const char *unseal_refused(enum seal_mode m, bool migrate)
{
	if (m == SEAL_MODE_NO_SEAL)
		return "storage is sealed by a pkcs11 seal but the configuration has no seal \"pkcs11\" block; add it "
		       "(with disabled = \"true\" to migrate back to Shamir keys)";
	if (!migrate && (m == SEAL_MODE_TO_AUTO || m == SEAL_MODE_TO_SHAMIR))
		return "a seal migration is pending: give the keys with migrate=true (trove operator unseal -migrate)";
	if (migrate && m != SEAL_MODE_TO_AUTO && m != SEAL_MODE_TO_SHAMIR)
		return "migrate: no seal migration is pending (the configured seal matches the stored one)";
	return NULL;
}

/* The threshold reached: combines the shares and does what mode m asks.
 * Caller holds c->lock. */
static int complete_unseal(struct core *c, const struct seal_config *sc, enum seal_mode m, struct buf *err)
{
	unsigned char key[CORE_UNSEAL_KEY_LEN + 1];
	int r;
	if (m == SEAL_MODE_SHAMIR)
		return try_unseal(c, err);
	if (c->progress.share_len != CORE_UNSEAL_KEY_LEN + 1)
		return TROVE_ERR_INVALID;
	if ((r = share_set_combine(&c->progress, key)) != 0)
		return r;
	if (m == SEAL_MODE_AUTO)
		r = seal_auto_unseal_recovery(c, key, err);
	else
		r = seal_auto_migrate(c, sc, key, err);
	secure_wipe(key, sizeof(key));
	return r;
}

static int unseal_common(struct core *c, const unsigned char *key, size_t len, bool migrate, struct seal_status *out,
			 struct buf *err)
{
	struct seal_config sc;
	int r = seal_read_config(c, &sc, false);
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
	enum seal_mode mode = seal_mode_of(c, &sc);
	const char *refused = unseal_refused(mode, migrate);
	if (refused) {
		r = TROVE_ERR_INVALID;
		buf_append_str(err, refused);
		goto out;
	}
	unsigned threshold = (mode == SEAL_MODE_AUTO || mode == SEAL_MODE_TO_SHAMIR) ? sc.recovery_threshold
										      : sc.threshold;
	if (c->progress.n == 0 && len == CORE_UNSEAL_KEY_LEN + 1 && (r = rand_uuid(c->nonce)) != 0)
		goto out;
	if ((r = share_set_add(&c->progress, key, len, CORE_UNSEAL_KEY_LEN + 1, "unseal attempt", err)) != 0) {
		if (c->progress.n == 0)
			c->nonce[0] = '\0';
		goto out;
	}

	if (c->progress.n >= threshold) {
		size_t err_before = err->len;
		r = complete_unseal(c, &sc, mode, err);
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
	if (c->cached_valid)
		sc = c->cached; /* a migration changed it */
	fill_status(c, &sc, true, out);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int core_unseal(struct core *c, const unsigned char *key, size_t len, struct seal_status *out, struct buf *err)
{
	return unseal_common(c, key, len, false, out, err);
}

int core_unseal_migrate(struct core *c, const unsigned char *key, size_t len, struct seal_status *out,
			struct buf *err)
{
	return unseal_common(c, key, len, true, out, err);
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

void seal_teardown(struct core *c)
{
	close_behind_barrier(c);
	rollback_guard_disarm(c->guard);
	barrier_seal(c->barrier);
}

int core_seal(struct core *c)
{
	pthread_mutex_lock(&c->lock);
	if (!barrier_sealed(c->barrier))
		log_info("core sealed");
	seal_teardown(c);
	clear_progress(c);
	pthread_mutex_unlock(&c->lock);
	/* Rekey and root generation state dies with the seal (as Vault's);
	 * their locks are taken only after this one is released. */
	rekey_reset(c->rekey);
	generate_root_reset(c->genroot);
	return 0;
}

bool core_sealed(struct core *c)
{
	return barrier_sealed(c->barrier);
}
