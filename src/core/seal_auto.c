/* seal_auto.c — the auto seal: initialisation with recovery keys, the
 * unseal by the seal, recovery keys for rekey and root generation, and
 * seal migration from Shamir and back (see core.h, seal_wrap.h).
 *
 * Stored with an auto seal (physical storage):
 *   core/root-key      the root key wrapped by the seal (AAD: the path)
 *   core/recovery-key  the recovery key, a barrier record under the root
 *                      key (term 0, AAD: the path)
 *   core/seal-config   type "pkcs11", 1/1 stored share, and the recovery
 *                      shares and threshold
 * Recovery keys cannot open the root key: like Vault's, they authorise
 * (generate-root, rekey of the recovery key, unseal of a node sealed by
 * hand) while the seal opens. A migration rewrites all three records in
 * one storage transaction. */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "core_impl.h"
#include "seal_impl.h"
#include "seal_wrap.h"

#include "barrier.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "rollback_guard.h"
#include "secure.h"
#include "shamir.h"

#include "banned.h"

static int wrap_root_key(struct core *c, const unsigned char *root_key, unsigned char **blob, size_t *blob_len,
                         struct buf *err)
{
	const struct seal_wrap *w = c->cfg.seal;
	return w->wrap(w->ctx, root_key, BARRIER_KEY_LEN, CORE_ROOT_KEY_PATH, blob, blob_len, err);
}

int seal_auto_root_key(struct core *c, unsigned char **root_key, unsigned char **rec, size_t *rec_len,
                       struct buf *err)
{
	const struct seal_wrap *w = c->cfg.seal;
	unsigned char *pt = NULL;
	size_t pt_len = 0;
	int r;

	*root_key = NULL;
	*rec = NULL;
	if (!w) {
		buf_append_str(err, "no auto seal is configured");
		return TROVE_ERR_INVALID;
	}
	if ((r = storage_get(c->physical, CORE_ROOT_KEY_PATH, rec, rec_len)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND) {
			r = TROVE_ERR_INTEGRITY;
			buf_append_str(err, "storage holds no wrapped root key");
		}
		return r;
	}
	if ((r = w->unwrap(w->ctx, *rec, *rec_len, CORE_ROOT_KEY_PATH, &pt, &pt_len, err)) != 0)
		goto fail;
	if (pt_len != BARRIER_KEY_LEN) {
		secure_free(pt, pt_len);
		buf_append_str(err, "the seal unwrapped a root key of the wrong length");
		r = TROVE_ERR_INTEGRITY;
		goto fail;
	}
	*root_key = pt;
	return 0;
fail:
	free(*rec);
	*rec = NULL;
	return r;
}

int seal_auto_check_recovery(struct core *c, const unsigned char *root_key, const unsigned char *key)
{
	unsigned char *rec = NULL, *stored = NULL;
	size_t rec_len = 0, len = 0;
	int r = storage_get(c->physical, CORE_RECOVERY_KEY_PATH, &rec, &rec_len);
	if (r == TROVE_ERR_NOT_FOUND)
		return TROVE_ERR_INVALID;
	if (r != 0)
		return r;
	r = barrier_record_decrypt(root_key, CORE_RECOVERY_KEY_PATH, rec, rec_len, &stored, &len);
	free(rec);
	if (r != 0) {
		log_error("the stored recovery key does not open with the root key");
		return TROVE_ERR_INTEGRITY;
	}
	r = (len == CORE_UNSEAL_KEY_LEN && secure_eq(stored, key, len)) ? 0 : TROVE_ERR_INVALID;
	secure_free(stored, len);
	return r;
}

int seal_auto_unseal_recovery(struct core *c, const unsigned char *key, struct buf *err)
{
	unsigned char *root_key = NULL, *rec = NULL;
	size_t rec_len = 0;
	int r;

	if ((r = seal_auto_root_key(c, &root_key, &rec, &rec_len, err)) != 0)
		return r;
	if ((r = seal_auto_check_recovery(c, root_key, key)) == 0)
		r = seal_unseal_with_root_key(c, root_key, rec, rec_len, err);
	secure_free(root_key, BARRIER_KEY_LEN);
	free(rec);
	return r;
}

int core_auto_unseal(struct core *c, struct buf *err)
{
	unsigned char *root_key = NULL, *rec = NULL;
	size_t rec_len = 0;
	struct seal_config sc;
	int r = seal_read_config(c, &sc, false);

	if (r == TROVE_ERR_NOT_FOUND) {
		buf_append_str(err, "server is not yet initialized");
		return TROVE_ERR_UNINITIALIZED;
	}
	if (r != 0)
		return r;
	pthread_mutex_lock(&c->lock);
	if (!barrier_sealed(c->barrier)) {
		r = 0;
		goto out;
	}
	if (c->unsealed_once) {
		r = TROVE_ERR_INVALID;
		buf_append_str(err, "sealed by an operator: it stays sealed until restarted or unsealed with the "
				    "recovery keys");
		goto out;
	}
	switch (seal_mode_of(c, &sc)) {
	case SEAL_MODE_AUTO:
		break;
	case SEAL_MODE_TO_AUTO:
	case SEAL_MODE_TO_SHAMIR:
		r = TROVE_ERR_INVALID;
		buf_append_str(err, "a seal migration is pending: unseal with migrate=true (trove operator unseal -migrate)");
		goto out;
	case SEAL_MODE_NO_SEAL:
		r = TROVE_ERR_INVALID;
		buf_append_str(err, "storage is sealed by a pkcs11 seal but the configuration has no seal block");
		goto out;
	default:
		r = TROVE_ERR_INVALID;
		buf_append_str(err, "storage is sealed with Shamir keys: unseal with the key shares");
		goto out;
	}
	if ((r = seal_auto_root_key(c, &root_key, &rec, &rec_len, err)) != 0)
		goto out;
	if ((r = seal_unseal_with_root_key(c, root_key, rec, rec_len, err)) == 0)
		log_info("core unsealed by the seal", "seal", c->cfg.seal->type);
out:
	pthread_mutex_unlock(&c->lock);
	secure_free(root_key, BARRIER_KEY_LEN);
	free(rec);
	return r;
}

static int recovery_config_check(unsigned shares, unsigned threshold, struct buf *err)
{
	const char *why = NULL;
	if (shares < 1 || shares > SHAMIR_MAX_SHARES)
		why = "recovery_shares: must be between 1 and 255";
	else if (threshold < 1 || threshold > shares)
		why = "recovery_threshold: must be between 1 and recovery_shares";
	else if (shares > 1 && threshold == 1)
		why = "recovery_threshold: must be greater than 1 when recovery_shares is greater than 1";
	if (!why)
		return 0;
	buf_append_str(err, why);
	return TROVE_ERR_INVALID;
}

int core_initialize_recovery(struct core *c, unsigned shares, unsigned threshold, const char *root_token_id,
                             struct core_init_result *out, struct buf *err)
{
	unsigned char recovery_key[CORE_UNSEAL_KEY_LEN];
	unsigned char root_key[BARRIER_KEY_LEN];
	unsigned char *blob = NULL, *rec = NULL;
	size_t blob_len = 0, rec_len = 0;
	char *cfg_text = NULL;
	bool initialized = true;
	struct seal_config sc;
	int r;

	memset(out, 0, sizeof(*out));
	if (!core_has_autoseal(c)) {
		buf_append_str(err, "recovery_shares: recovery keys need an auto-unseal seal, which this server does not have");
		return TROVE_ERR_INVALID;
	}
	if ((r = recovery_config_check(shares, threshold, err)) != 0)
		return r;
	pthread_mutex_lock(&c->lock);
	r = seal_read_config(c, &sc, true);
	if (r != 0 && r != TROVE_ERR_NOT_FOUND)
		goto out;
	initialized = (r == 0);
	if (initialized) {
		r = TROVE_ERR_INVALID;
		buf_append_str(err, "Vault is already initialized");
		goto out;
	}
	if ((r = rand_bytes(recovery_key, sizeof(recovery_key))) != 0 ||
	    (r = rand_bytes(root_key, sizeof(root_key))) != 0)
		goto out;
	/* The seal first: when the device fails, storage is left untouched. */
	if ((r = wrap_root_key(c, root_key, &blob, &blob_len, err)) != 0)
		goto out;
	out->nkeys = shares;
	out->key_len = CORE_UNSEAL_KEY_LEN + 1;
	out->keys = xcalloc(shares, sizeof(*out->keys));
	for (unsigned i = 0; i < shares; i++)
		out->keys[i] = xmalloc(out->key_len);
	if ((r = shamir_split(recovery_key, sizeof(recovery_key), shares, threshold, out->keys)) != 0)
		goto out;
	if ((r = seal_init_barrier(c, root_key, root_token_id, &out->root_token, err)) != 0)
		goto out;
	if ((r = barrier_record_encrypt(root_key, 0, CORE_RECOVERY_KEY_PATH, recovery_key, sizeof(recovery_key), &rec,
	                                &rec_len)) != 0)
		goto out;
	memset(&sc, 0, sizeof(sc));
	sc.shares = sc.threshold = 1;
	sc.autoseal = true;
	sc.recovery_shares = shares;
	sc.recovery_threshold = threshold;
	if ((cfg_text = seal_config_text(&sc)) == NULL) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	/* The seal config last, as with Shamir: a crash before it leaves a
	 * store that can be initialised again. */
	if ((r = storage_put(c->physical, CORE_ROOT_KEY_PATH, blob, blob_len)) != 0 ||
	    (r = storage_put(c->physical, CORE_RECOVERY_KEY_PATH, rec, rec_len)) != 0 ||
	    (r = storage_put(c->physical, CORE_SEAL_CONFIG_PATH, cfg_text, strlen(cfg_text))) != 0)
		goto out;
	seal_cache_config(c, &sc);
	log_info("core initialized with an auto seal", "seal", c->cfg.seal->type);
	if ((r = seal_unseal_with_root_key(c, root_key, blob, blob_len, err)) != 0)
		log_error("initialized, but the first unseal failed", "error", err->len ? err->data : err_message(r));
	else
		log_info("core unsealed by the seal", "seal", c->cfg.seal->type);
	r = 0;
out:
	if (r != 0)
		core_init_result_release(out);
	secure_wipe(recovery_key, sizeof(recovery_key));
	secure_wipe(root_key, sizeof(root_key));
	free(blob);
	free(rec);
	free(cfg_text);
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Writes the new records and config in one transaction, then points the
 * rollback guard at the new root-key record (the core is unsealed). */
static int commit_records(struct core *c, const struct seal_config *nsc, const unsigned char *root_rec,
                          size_t root_rec_len, const unsigned char *recovery_rec, size_t recovery_rec_len)
{
	char *cfg_text = seal_config_text(nsc);
	int r;
	if (!cfg_text)
		return TROVE_ERR_NOMEM;
	const struct storage_op ops[] = {
		{ STORAGE_PUT, CORE_ROOT_KEY_PATH, root_rec, root_rec_len },
		{ STORAGE_PUT, CORE_SEAL_CONFIG_PATH, cfg_text, strlen(cfg_text) },
		{ recovery_rec ? STORAGE_PUT : STORAGE_DELETE, CORE_RECOVERY_KEY_PATH, recovery_rec, recovery_rec_len },
	};
	r = storage_txn(c->physical, ops, 3);
	free(cfg_text);
	if (r != 0)
		return r;
	seal_cache_config(c, nsc);
	if (c->guard) {
		rollback_guard_root_record(c->guard, root_rec, root_rec_len);
		if (barrier_touch(c->barrier) != 0)
			log_warn("keyring epoch not advanced after the seal change; the rollback guard keeps the old record");
	}
	return 0;
}

/* Shamir -> auto: key is the combined unseal key, which becomes the
 * recovery key. Caller holds the lock. */
static int migrate_to_auto(struct core *c, const struct seal_config *sc, const unsigned char *key, struct buf *err)
{
	unsigned char *root_key = NULL, *rec = NULL, *blob = NULL, *rrec = NULL;
	size_t rec_len = 0, blob_len = 0, rrec_len = 0;
	int r;

	if ((r = seal_open_root_key(c, key, &root_key, &rec, &rec_len)) != 0)
		goto out;
	if ((r = wrap_root_key(c, root_key, &blob, &blob_len, err)) != 0)
		goto out;
	if ((r = barrier_record_encrypt(root_key, 0, CORE_RECOVERY_KEY_PATH, key, CORE_UNSEAL_KEY_LEN, &rrec,
	                                &rrec_len)) != 0)
		goto out;
	/* Unsealed with the records as they are (the rollback guard checks
	 * those), then the new ones are written. */
	if ((r = seal_unseal_with_root_key(c, root_key, rec, rec_len, err)) != 0)
		goto out;
	struct seal_config nsc = { .shares = 1, .threshold = 1, .autoseal = true, .recovery_shares = sc->shares,
		                   .recovery_threshold = sc->threshold };
	if ((r = commit_records(c, &nsc, blob, blob_len, rrec, rrec_len)) != 0) {
		buf_append_str(err, "seal migration: storage refused the new records; nothing changed");
		goto out;
	}
	log_info("seal migrated from Shamir to the auto seal; the unseal keys are now recovery keys", "seal",
	         c->cfg.seal->type);
out:
	secure_free(root_key, BARRIER_KEY_LEN);
	free(rec);
	free(blob);
	free(rrec);
	return r;
}

/* auto -> Shamir: key is the combined recovery key, which becomes the
 * unseal key. Caller holds the lock. */
static int migrate_to_shamir(struct core *c, const struct seal_config *sc, const unsigned char *key,
                             struct buf *err)
{
	unsigned char *root_key = NULL, *rec = NULL, *srec = NULL;
	size_t rec_len = 0, srec_len = 0;
	int r;

	if ((r = seal_auto_root_key(c, &root_key, &rec, &rec_len, err)) != 0)
		goto out;
	if ((r = seal_auto_check_recovery(c, root_key, key)) != 0)
		goto out;
	if ((r = barrier_record_encrypt(key, 0, CORE_ROOT_KEY_PATH, root_key, BARRIER_KEY_LEN, &srec, &srec_len)) != 0)
		goto out;
	if ((r = seal_unseal_with_root_key(c, root_key, rec, rec_len, err)) != 0)
		goto out;
	struct seal_config nsc = { .shares = sc->recovery_shares, .threshold = sc->recovery_threshold };
	if ((r = commit_records(c, &nsc, srec, srec_len, NULL, 0)) != 0) {
		buf_append_str(err, "seal migration: storage refused the new records; nothing changed");
		goto out;
	}
	log_info("seal migrated from the auto seal to Shamir; the recovery keys are now unseal keys");
out:
	secure_free(root_key, BARRIER_KEY_LEN);
	free(rec);
	free(srec);
	return r;
}

int seal_auto_migrate(struct core *c, const struct seal_config *sc, const unsigned char *key, struct buf *err)
{
	int r = sc->autoseal ? migrate_to_shamir(c, sc, key, err) : migrate_to_auto(c, sc, key, err);
	if (r != 0 && !barrier_sealed(c->barrier))
		seal_teardown(c); /* the new records were not written: sealed, as before */
	return r;
}

int seal_auto_replace_recovery(struct core *c, const unsigned char *old_key, const unsigned char *new_key,
                               unsigned shares, unsigned threshold)
{
	unsigned char *root_key = NULL, *rec = NULL, *rrec = NULL;
	size_t rec_len = 0, rrec_len = 0;
	struct buf err;
	int r;

	buf_init(&err, 256);
	if ((r = seal_auto_root_key(c, &root_key, &rec, &rec_len, &err)) != 0) {
		log_error("recovery key rekey: the seal could not open the root key", "error", err.data);
		goto out;
	}
	if ((r = seal_auto_check_recovery(c, root_key, old_key)) != 0)
		goto out;
	if ((r = barrier_record_encrypt(root_key, 0, CORE_RECOVERY_KEY_PATH, new_key, CORE_UNSEAL_KEY_LEN, &rrec,
	                                &rrec_len)) != 0)
		goto out;
	struct seal_config nsc = c->cached;
	nsc.recovery_shares = shares;
	nsc.recovery_threshold = threshold;
	char *cfg_text = seal_config_text(&nsc);
	if (!cfg_text) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	/* one transaction: the old shares or the new ones work after a crash */
	const struct storage_op ops[2] = {
		{ STORAGE_PUT, CORE_RECOVERY_KEY_PATH, rrec, rrec_len },
		{ STORAGE_PUT, CORE_SEAL_CONFIG_PATH, cfg_text, strlen(cfg_text) },
	};
	r = storage_txn(c->physical, ops, 2);
	free(cfg_text);
	if (r != 0)
		goto out;
	seal_cache_config(c, &nsc);
	log_info("recovery key replaced", "recovery_shares", shares > 1 ? "many" : "one");
out:
	buf_release(&err);
	secure_free(root_key, BARRIER_KEY_LEN);
	free(rec);
	free(rrec);
	return r;
}
