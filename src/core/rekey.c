/* rekey.c — replacing the unseal key (see rekey.h).
 *
 * The lock here is taken before the core's and never while holding it:
 * the core resets this state only after it has released its own lock. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rekey.h"

#include "core.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "secure.h"
#include "shamir.h"
#include "shares.h"

#include "banned.h"

#define SHARE_LEN (CORE_UNSEAL_KEY_LEN + 1)

struct rekey {
	pthread_mutex_t lock;
	struct core *core;
	bool started;
	char nonce[37];
	unsigned shares, threshold;
	bool verification_required;
	struct share_set progress; /* current shares */

	/* verification pending: the combined current key and the new one */
	bool verifying;
	unsigned char old_key[CORE_UNSEAL_KEY_LEN];
	unsigned char new_key[CORE_UNSEAL_KEY_LEN];
	char verify_nonce[37];
	struct share_set verify_progress; /* new shares */
};

struct rekey *rekey_new(struct core *c)
{
	struct rekey *rk = xcalloc(1, sizeof(*rk));
	pthread_mutex_init(&rk->lock, NULL);
	rk->core = c;
	return rk;
}

/* Caller holds the lock. */
static void clear(struct rekey *rk)
{
	share_set_clear(&rk->progress);
	share_set_clear(&rk->verify_progress);
	secure_wipe(rk->old_key, sizeof(rk->old_key));
	secure_wipe(rk->new_key, sizeof(rk->new_key));
	rk->started = false;
	rk->verifying = false;
	rk->verification_required = false;
	rk->shares = rk->threshold = 0;
	rk->nonce[0] = '\0';
	rk->verify_nonce[0] = '\0';
}

void rekey_free(struct rekey *rk)
{
	if (!rk)
		return;
	clear(rk);
	pthread_mutex_destroy(&rk->lock);
	free(rk);
}

void rekey_reset(struct rekey *rk)
{
	pthread_mutex_lock(&rk->lock);
	clear(rk);
	pthread_mutex_unlock(&rk->lock);
}

int rekey_status(struct rekey *rk, struct rekey_status *out, struct buf *err)
{
	unsigned required = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = core_key_threshold(rk->core, &required, err)) != 0)
		return r;
	pthread_mutex_lock(&rk->lock);
	out->required = required;
	out->started = rk->started;
	if (rk->started) {
		memcpy(out->nonce, rk->nonce, sizeof(out->nonce));
		out->t = rk->threshold;
		out->n = rk->shares;
		out->progress = rk->progress.n;
		out->verification_required = rk->verification_required;
		out->verifying = rk->verifying;
		memcpy(out->verify_nonce, rk->verify_nonce, sizeof(out->verify_nonce));
		out->verify_progress = rk->verify_progress.n;
	}
	pthread_mutex_unlock(&rk->lock);
	return 0;
}

int rekey_start(struct rekey *rk, int64_t shares, int64_t threshold, bool require_verification,
                struct buf *err)
{
	unsigned required;
	int r;

	if ((r = core_seal_config_check(shares, threshold, err)) != 0)
		return r;
	if ((r = core_key_threshold(rk->core, &required, err)) != 0)
		return r;
	pthread_mutex_lock(&rk->lock);
	if (rk->started) {
		r = TROVE_ERR_INVALID;
		buf_append_str(err, "rekey already in progress");
		goto out;
	}
	if ((r = rand_uuid(rk->nonce)) != 0)
		goto out;
	rk->started = true;
	rk->shares = (unsigned)shares;
	rk->threshold = (unsigned)threshold;
	rk->verification_required = require_verification;
	log_info("rekey started", "verification", require_verification ? "required" : "not required");
out:
	pthread_mutex_unlock(&rk->lock);
	return r;
}

int rekey_cancel(struct rekey *rk, struct buf *err)
{
	unsigned required;
	int r = core_key_threshold(rk->core, &required, err);
	if (r != 0)
		return r;
	pthread_mutex_lock(&rk->lock);
	if (rk->started)
		log_info("rekey cancelled");
	clear(rk);
	pthread_mutex_unlock(&rk->lock);
	return 0;
}

void rekey_result_release(struct rekey_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; res->keys && i < res->nkeys; i++)
		secure_free(res->keys[i], res->key_len);
	free(res->keys);
	memset(res, 0, sizeof(*res));
}

/* Makes the new key and its shares into out. Caller holds the lock. */
static int make_new_key(struct rekey *rk, struct rekey_result *out)
{
	int r;
	if ((r = rand_bytes(rk->new_key, sizeof(rk->new_key))) != 0)
		return r;
	out->nkeys = rk->shares;
	out->key_len = SHARE_LEN;
	out->keys = xcalloc(rk->shares, sizeof(*out->keys));
	for (unsigned i = 0; i < rk->shares; i++)
		out->keys[i] = xmalloc(SHARE_LEN);
	return shamir_split(rk->new_key, sizeof(rk->new_key), rk->shares, rk->threshold, out->keys);
}

/* Puts the new key in effect and ends the rekey. Caller holds the lock. */
static int commit(struct rekey *rk, struct buf *err)
{
	int r = core_replace_unseal_key(rk->core, rk->old_key, rk->new_key, rk->shares, rk->threshold);
	if (r == TROVE_ERR_SEALED)
		buf_append_str(err, "Vault is sealed");
	else if (r == TROVE_ERR_INVALID)
		buf_append_str(err, "the unseal key changed while the rekey was in progress");
	else if (r == 0)
		log_info("rekey complete");
	clear(rk);
	return r;
}

int rekey_update(struct rekey *rk, const unsigned char *key, size_t len, const char *nonce,
                 struct rekey_result *out, struct buf *err)
{
	unsigned required;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = core_key_threshold(rk->core, &required, err)) != 0)
		return r;
	pthread_mutex_lock(&rk->lock);
	r = TROVE_ERR_INVALID;
	if (!rk->started) {
		buf_append_str(err, "no rekey in progress");
		goto out;
	}
	if (rk->verifying) {
		buf_printf(err,
		           "rekey operation already finished; verification must be performed; nonce for the "
		           "verification operation is \"%s\"",
		           rk->verify_nonce);
		goto out;
	}
	if (!nonce || !secure_str_eq(rk->nonce, nonce)) {
		buf_printf(err, "nonce: incorrect nonce supplied; nonce for this rekey operation is \"%s\"",
		           rk->nonce);
		goto out;
	}
	if ((r = share_set_add(&rk->progress, key, len, SHARE_LEN, "rekey attempt", err)) != 0)
		goto out;
	if (rk->progress.n < required) {
		r = 0;
		goto out;
	}
	r = share_set_combine(&rk->progress, rk->old_key);
	share_set_clear(&rk->progress);
	if (r == 0)
		r = core_check_unseal_key(rk->core, rk->old_key);
	if (r != 0) {
		secure_wipe(rk->old_key, sizeof(rk->old_key));
		if (r == TROVE_ERR_INVALID) {
			log_warn("rekey: the submitted key shares did not open the root key");
			buf_append_str(err, "rekey failed: the key shares do not combine to the unseal key; "
			                    "progress was reset");
		}
		goto out;
	}
	if ((r = make_new_key(rk, out)) != 0) {
		rekey_result_release(out);
		clear(rk);
		goto out;
	}
	out->complete = true;
	if (rk->verification_required) {
		if ((r = rand_uuid(rk->verify_nonce)) != 0) {
			rekey_result_release(out);
			clear(rk);
			goto out;
		}
		rk->verifying = true;
		out->verification_required = true;
		memcpy(out->verification_nonce, rk->verify_nonce, sizeof(out->verification_nonce));
		log_info("rekey awaiting verification of the new key shares");
		r = 0;
		goto out;
	}
	if ((r = commit(rk, err)) != 0)
		rekey_result_release(out);
out:
	pthread_mutex_unlock(&rk->lock);
	return r;
}

/* Caller holds the lock. */
static int need_verification(struct rekey *rk, struct buf *err)
{
	if (!rk->started) {
		buf_append_str(err, "no rekey in progress");
		return TROVE_ERR_INVALID;
	}
	if (!rk->verifying) {
		buf_append_str(err, "no rekey verification in progress");
		return TROVE_ERR_INVALID;
	}
	return 0;
}

int rekey_verify_restart(struct rekey *rk, struct buf *err)
{
	unsigned required;
	int r;

	if ((r = core_key_threshold(rk->core, &required, err)) != 0)
		return r;
	pthread_mutex_lock(&rk->lock);
	if ((r = need_verification(rk, err)) != 0)
		goto out;
	share_set_clear(&rk->verify_progress);
	char fresh[sizeof(rk->verify_nonce)];
	if ((r = rand_uuid(fresh)) == 0)
		memcpy(rk->verify_nonce, fresh, sizeof(fresh));
out:
	pthread_mutex_unlock(&rk->lock);
	return r;
}

int rekey_verify_update(struct rekey *rk, const unsigned char *key, size_t len, const char *nonce,
                        bool *complete, struct buf *err)
{
	unsigned char combined[CORE_UNSEAL_KEY_LEN];
	unsigned required;
	int r;

	*complete = false;
	if ((r = core_key_threshold(rk->core, &required, err)) != 0)
		return r;
	pthread_mutex_lock(&rk->lock);
	if ((r = need_verification(rk, err)) != 0)
		goto out;
	if (!nonce || !secure_str_eq(rk->verify_nonce, nonce)) {
		r = TROVE_ERR_INVALID;
		buf_printf(err, "nonce: incorrect nonce supplied; nonce for this verify operation is \"%s\"",
		           rk->verify_nonce);
		goto out;
	}
	if ((r = share_set_add(&rk->verify_progress, key, len, SHARE_LEN, "rekey verification", err)) != 0)
		goto out;
	if (rk->verify_progress.n < rk->threshold) {
		r = 0;
		goto out;
	}
	r = share_set_combine(&rk->verify_progress, combined);
	share_set_clear(&rk->verify_progress);
	if (r != 0 || !secure_eq(combined, rk->new_key, sizeof(combined))) {
		r = TROVE_ERR_INVALID;
		buf_append_str(err, "rekey verification failed: the new key shares do not combine to the new "
		                    "unseal key; verification progress was reset");
		goto out;
	}
	if ((r = commit(rk, err)) == 0)
		*complete = true;
out:
	secure_wipe(combined, sizeof(combined));
	pthread_mutex_unlock(&rk->lock);
	return r;
}
