/* state.c — the ACME server's per-mount state (nonces, the record lock,
 * rate counters), its stored configuration and record access. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme.h"

#include "clock.h"
#include "core/mount.h"
#include "engines/kv_util.h"
#include "err.h"

#include "banned.h"

#define RATE_SLOTS 1024

/* Fixed-window counters: one slot per (kind, key) hashed; a collision
 * shares a counter, which only makes the limit stricter for both. */
struct acme_rate {
	pthread_mutex_t mu;
	struct {
		int64_t window;
		int count;
	} slot[RATE_SLOTS];
};

struct acme_state *acme_state(struct mount *m)
{
	struct pki_mount_state *st = m ? m->engine_state : NULL;
	return st ? st->acme : NULL;
}

struct acme_state *acme_state_new(void)
{
	struct acme_state *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->rate = calloc(1, sizeof(*st->rate));
	if (!st->rate) {
		free(st);
		return NULL;
	}
	st->nonces = acme_nonces_new(0, 0, NULL);
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->rate->mu, NULL);
	return st;
}

void acme_state_free(struct acme_state *st)
{
	if (!st)
		return;
	acme_nonces_free(st->nonces);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->rate->mu);
	free(st->rate);
	free(st);
}

static uint64_t fnv(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = a; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (const char *p = b; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

bool acme_rate_allow(struct acme_state *st, const char *kind, const char *key, int limit,
                     int64_t *retry_after)
{
	int64_t now = clock_monotonic_s(), window = now / ACME_RATE_WINDOW_S;
	size_t i = (size_t)(fnv(kind, key ? key : "") % RATE_SLOTS);
	bool ok;

	pthread_mutex_lock(&st->rate->mu);
	if (st->rate->slot[i].window != window) {
		st->rate->slot[i].window = window;
		st->rate->slot[i].count = 0;
	}
	ok = st->rate->slot[i].count < limit;
	if (ok)
		st->rate->slot[i].count++;
	pthread_mutex_unlock(&st->rate->mu);
	*retry_after = ok ? 0 : (window + 1) * ACME_RATE_WINDOW_S - now;
	return ok;
}

int acme_config_load(struct storage *s, json_t **cfg)
{
	json_t *stored = NULL;
	int r = kv_get_json(s, ACME_CONFIG, &stored);
	*cfg = json_pack("{s:b, s:[s], s:[s], s:b, s:s, s:s, s:s, s:I}", "enabled", 0, "allowed_issuers", "*",
	                 "allowed_roles", "*", "allow_role_ext_key_usage", 0, "default_directory_policy",
	                 "sign-verbatim", "eab_policy", "not-required", "dns_resolver", "", "max_ttl",
	                 (json_int_t)(90 * 24 * 3600));
	if (!*cfg) {
		json_decref(stored);
		return TROVE_ERR_NOMEM;
	}
	if (r == TROVE_ERR_NOT_FOUND)
		return 0;
	if (r == 0 && json_is_object(stored))
		json_object_update(*cfg, stored);
	else if (r == 0)
		r = TROVE_ERR_INTEGRITY;
	json_decref(stored);
	if (r != 0) {
		json_decref(*cfg);
		*cfg = NULL;
	}
	return r;
}

char *acme_cluster_path(struct storage *s)
{
	json_t *rec = NULL;
	char *out = NULL;
	if (kv_get_json(s, ACME_CLUSTER_CONFIG, &rec) == 0) {
		const char *p = json_string_value(json_object_get(rec, "path"));
		if (p && *p) {
			size_t n = strlen(p);
			while (n > 0 && p[n - 1] == '/')
				n--;
			out = xstrndup(p, n);
		}
	}
	json_decref(rec);
	return out;
}

static char *record_key(const char *prefix, const char *id)
{
	struct buf b;
	buf_init(&b, STORAGE_MAX_KEY);
	if (buf_append_str(&b, prefix) != 0 || buf_append_str(&b, id) != 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_take(&b);
}

int acme_get(struct storage *s, const char *prefix, const char *id, json_t **out)
{
	*out = NULL;
	if (!id || !*id)
		return TROVE_ERR_NOT_FOUND;
	char *key = record_key(prefix, id);
	if (!key)
		return TROVE_ERR_NOT_FOUND;
	int r = kv_get_json(s, key, out);
	free(key);
	if (r == 0 && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		r = TROVE_ERR_INTEGRITY;
	}
	return r;
}

int acme_put(struct storage *s, const char *prefix, const char *id, const json_t *rec)
{
	char *key = record_key(prefix, id);
	if (!key)
		return TROVE_ERR_INVALID;
	int r = kv_put_json(s, key, rec);
	free(key);
	return r;
}

bool acme_expired(const json_t *rec, int64_t now)
{
	json_int_t exp = json_integer_value(json_object_get(rec, "expires"));
	return exp > 0 && now >= exp;
}

void acme_rec_id(char out[ACME_REC_ID_MAX], const char *account, const char *id)
{
	snprintf(out, ACME_REC_ID_MAX, "%s/%s", account ? account : "", id ? id : "");
}
