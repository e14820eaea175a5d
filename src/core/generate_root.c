/* generate_root.c — a new root token from key shares (see
 * generate_root.h).
 *
 * The lock here is taken before the core's and never while holding it:
 * the core resets this state only after it has released its own lock. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "generate_root.h"

#include "core.h"
#include "err.h"
#include "log.h"
#include "otp.h"
#include "rand.h"
#include "secure.h"
#include "shares.h"
#include "token.h"

#include "banned.h"

#define SHARE_LEN (CORE_UNSEAL_KEY_LEN + 1)

struct generate_root {
	pthread_mutex_t lock;
	struct core *core;
	bool started;
	char nonce[37];
	char otp[GENERATE_ROOT_OTP_LEN + 1];
	struct share_set progress;
};

struct generate_root *generate_root_new(struct core *c)
{
	struct generate_root *g = xcalloc(1, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	g->core = c;
	return g;
}

/* Caller holds the lock. */
static void clear(struct generate_root *g)
{
	share_set_clear(&g->progress);
	secure_wipe(g->otp, sizeof(g->otp));
	g->started = false;
	g->nonce[0] = '\0';
}

void generate_root_free(struct generate_root *g)
{
	if (!g)
		return;
	clear(g);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void generate_root_reset(struct generate_root *g)
{
	pthread_mutex_lock(&g->lock);
	clear(g);
	pthread_mutex_unlock(&g->lock);
}

/* Caller holds the lock. */
static void fill_status(const struct generate_root *g, unsigned required, struct generate_root_status *out)
{
	out->started = g->started;
	memcpy(out->nonce, g->nonce, sizeof(out->nonce));
	out->progress = g->progress.n;
	out->required = required;
}

int generate_root_status(struct generate_root *g, struct generate_root_status *out, struct buf *err)
{
	unsigned required = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = core_key_threshold(g->core, &required, err)) != 0)
		return r;
	pthread_mutex_lock(&g->lock);
	fill_status(g, required, out);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

int generate_root_start(struct generate_root *g, const char *otp, char *otp_out, struct buf *err)
{
	unsigned required;
	int r;

	if (otp && otp[0] && strlen(otp) != GENERATE_ROOT_OTP_LEN) {
		buf_printf(err, "otp: must be %zu characters long, the length of a root token",
		           (size_t)GENERATE_ROOT_OTP_LEN);
		return TROVE_ERR_INVALID;
	}
	if ((r = core_key_threshold(g->core, &required, err)) != 0)
		return r;
	pthread_mutex_lock(&g->lock);
	if (g->started) {
		r = TROVE_ERR_INVALID;
		buf_append_str(err, "root generation already in progress");
		goto out;
	}
	if (otp && otp[0]) {
		memcpy(g->otp, otp, GENERATE_ROOT_OTP_LEN + 1);
		otp_out[0] = '\0';
	} else {
		if ((r = rand_base62(g->otp, GENERATE_ROOT_OTP_LEN)) != 0)
			goto out;
		memcpy(otp_out, g->otp, GENERATE_ROOT_OTP_LEN + 1);
	}
	if ((r = rand_uuid(g->nonce)) != 0) {
		clear(g);
		goto out;
	}
	g->started = true;
	log_info("root token generation started");
out:
	pthread_mutex_unlock(&g->lock);
	return r;
}

int generate_root_cancel(struct generate_root *g, struct buf *err)
{
	unsigned required;
	int r = core_key_threshold(g->core, &required, err);
	if (r != 0)
		return r;
	pthread_mutex_lock(&g->lock);
	if (g->started)
		log_info("root token generation cancelled");
	clear(g);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

/* The shares are complete: check them, create the token, encode it.
 * Caller holds the lock. */
static int finish(struct generate_root *g, char **encoded, struct buf *err)
{
	unsigned char key[CORE_UNSEAL_KEY_LEN];
	char *token = NULL;
	int r = share_set_combine(&g->progress, key);

	share_set_clear(&g->progress);
	if (r == 0)
		r = core_check_unseal_key(g->core, key);
	secure_wipe(key, sizeof(key));
	if (r == TROVE_ERR_INVALID) {
		log_warn("root token generation: the submitted key shares did not open the root key");
		buf_append_str(err,
		               "root generation failed: the key shares do not combine to the unseal key; "
		               "progress was reset");
	}
	if (r != 0)
		return r;
	if ((r = token_create_root(core_tokens(g->core), NULL, &token)) != 0)
		return r;
	/* A generated token is TOKEN_SERVICE_LEN long, the OTP's length. */
	if (otp_encode(token, g->otp, encoded) != 0)
		abort();
	secure_free_str(token);
	log_info("root token generation finished");
	return 0;
}

int generate_root_update(struct generate_root *g, const unsigned char *key, size_t len, const char *nonce,
                         struct generate_root_status *out, char **encoded, struct buf *err)
{
	unsigned required = 0;
	int r;

	*encoded = NULL;
	memset(out, 0, sizeof(*out));
	if ((r = core_key_threshold(g->core, &required, err)) != 0)
		return r;
	pthread_mutex_lock(&g->lock);
	r = TROVE_ERR_INVALID;
	if (!g->started) {
		buf_append_str(err, "no root generation in progress");
		goto out;
	}
	if (!nonce || !secure_str_eq(g->nonce, nonce)) {
		buf_printf(
		    err,
		    "nonce: incorrect nonce supplied; nonce for this root generation operation is \"%s\"",
		    g->nonce);
		goto out;
	}
	if ((r = share_set_add(&g->progress, key, len, SHARE_LEN, "root generation attempt", err)) != 0)
		goto out;
	fill_status(g, required, out);
	if (g->progress.n < required) {
		r = 0;
		goto out;
	}
	if ((r = finish(g, encoded, err)) == 0)
		clear(g);
out:
	pthread_mutex_unlock(&g->lock);
	return r;
}
