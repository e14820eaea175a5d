/* crl_store.c — building and keeping the CRLs of a mount's issuers
 * (crls/<issuer id>, crls/<issuer id>-delta) from revoked/, with the CRL
 * numbers in crls/config: one sequence per issuer for full and delta CRLs
 * alike (RFC 5280 §5.2.3), each number used once. Builds are serialised
 * by the mount's CRL lock. */
#include <stdlib.h>
#include <string.h>

#include "crl.h"
#include "revocation.h"

#include "clock.h"
#include "core/mount.h"
#include "engines/kv_util.h"
#include "err.h"

#include "banned.h"

/* One revoked certificate, read from revoked/. */
struct revoked {
	unsigned char serial[CRL_SERIAL_MAX];
	size_t serial_len;
	int64_t at;
	char issuer[PKI_ID_MAX];
};

struct revoked_set {
	struct revoked *v;
	size_t n;
};

static void revoked_release(struct revoked_set *set)
{
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

static int revoked_load(struct storage *s, struct revoked_set *set)
{
	struct strlist keys;
	struct buf why;
	int r;

	set->v = NULL;
	set->n = 0;
	strlist_init(&keys);
	buf_init(&why, 256);
	if ((r = storage_list(s, PKI_REVOKED_PREFIX, &keys)) != 0)
		goto out;
	set->v = xcalloc(keys.len ? keys.len : 1, sizeof(*set->v));
	for (size_t i = 0; i < keys.len; i++) {
		json_t *rec = NULL;
		struct revoked *e = &set->v[set->n];
		if (pki_revoked_get(s, keys.items[i], &rec) != 0 ||
		    crl_serial_parse(keys.items[i], strlen(keys.items[i]), e->serial, sizeof(e->serial), &e->serial_len,
				     &why) != 0) {
			json_decref(rec);
			continue; /* a record that is not one: left to tidy */
		}
		e->at = json_integer_value(json_object_get(rec, "revocation_time"));
		snprintf(e->issuer, sizeof(e->issuer), "%s", json_string_value(json_object_get(rec, "issuer_id")) ?: "");
		set->n++;
		json_decref(rec);
	}
out:
	buf_release(&why);
	strlist_release(&keys);
	return r;
}

static void crl_key(struct buf *b, const char *id, bool delta)
{
	buf_init(b, STORAGE_MAX_KEY);
	buf_printf(b, PKI_CRL_PREFIX "%s%s", id, delta ? "-delta" : "");
}

static json_t *state_map(json_t *st, const char *name)
{
	json_t *m = json_object_get(st, name);
	if (!json_is_object(m)) {
		m = json_object();
		json_object_set_new(st, name, m);
	}
	return m;
}

static int64_t state_int(json_t *st, const char *map, const char *id)
{
	return json_integer_value(json_object_get(state_map(st, map), id));
}

static void state_set(json_t *st, const char *map, const char *id, int64_t v)
{
	json_object_set_new(state_map(st, map), id, json_integer(v));
}

static int state_load(struct storage *s, json_t **st)
{
	int r = kv_get_json(s, PKI_CRL_STATE, st);
	if (r == TROVE_ERR_NOT_FOUND) {
		*st = json_object();
		return 0;
	}
	if (r == 0 && !json_is_object(*st)) {
		json_decref(*st);
		*st = NULL;
		r = TROVE_ERR_INTEGRITY;
	}
	return r;
}

/* The next CRL number of an issuer, taken. */
static uint64_t number_take(json_t *st, const char *id)
{
	int64_t n = state_int(st, "numbers", id);
	if (n < 1)
		n = 1;
	state_set(st, "numbers", id, n + 1);
	return (uint64_t)n;
}

struct build_ctx {
	struct storage *s;
	const struct pki_crl_config *cfg;
	const struct revoked_set *revoked;
	const struct strlist *ids;
	const char *default_id;
	json_t *state;
	int64_t now;
	struct buf *why;
};

/* Whether a revoked certificate goes on this issuer's CRL: its own, or
 * one whose issuer is gone, on the default issuer's (as Vault). */
static bool belongs(const struct build_ctx *c, const struct revoked *e, const char *id)
{
	if (strcmp(e->issuer, id) == 0)
		return true;
	return strcmp(id, c->default_id) == 0 && !strlist_contains(c->ids, e->issuer);
}

static int build_one(struct build_ctx *c, const char *id, X509 *cert, EVP_PKEY *key, const char *alg, bool delta)
{
	struct crl_entry *entries = xcalloc(c->revoked->n ? c->revoked->n : 1, sizeof(*entries));
	unsigned char *der = NULL;
	size_t n = 0, der_len = 0;
	int64_t since = state_int(c->state, "complete_time", id);
	struct buf key_name;
	int r;

	/* a revoked root's entry names the root: never on its own CRL (as Vault) */
	unsigned char own[CRL_SERIAL_MAX];
	size_t own_len = 0;
	char own_text[X509_SERIAL_TEXT_MAX];
	struct buf ignored;
	buf_init(&ignored, 64);
	if (x509_serial_text(X509_get0_serialNumber(cert), own_text) != 0 ||
	    crl_serial_parse(own_text, strlen(own_text), own, sizeof(own), &own_len, &ignored) != 0)
		own_len = 0;
	buf_release(&ignored);
	for (size_t i = 0; i < c->revoked->n && !c->cfg->disable; i++) {
		const struct revoked *e = &c->revoked->v[i];
		if (!belongs(c, e, id) || (delta && e->at < since))
			continue;
		if (own_len && e->serial_len == own_len && memcmp(e->serial, own, own_len) == 0)
			continue;
		entries[n++] = (struct crl_entry){.serial = e->serial, .serial_len = e->serial_len, .revoked_at = e->at};
	}
	struct crl_params p = {.issuer_cert = cert,
			       .issuer_key = key,
			       .signature_algorithm = alg,
			       .entries = entries,
			       .n_entries = n,
			       .number = number_take(c->state, id),
			       .delta = delta,
			       .base_number = (uint64_t)state_int(c->state, "complete", id),
			       .now = c->now,
			       .expiry = c->cfg->expiry};
	crl_key(&key_name, id, delta);
	if ((r = crl_build(&p, &der, &der_len, c->why)) == 0 && (r = storage_put(c->s, key_name.data, der, der_len)) == 0 &&
	    !delta) {
		state_set(c->state, "complete", id, (int64_t)p.number);
		state_set(c->state, "complete_time", id, c->now);
	}
	buf_release(&key_name);
	OPENSSL_free(der);
	free(entries);
	return r;
}

/* Builds the CRLs of one issuer when it holds its key and may sign CRLs. */
static int build_issuer(struct build_ctx *c, const char *id, bool delta)
{
	json_t *rec = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int r;

	if ((r = pki_issuer_get(c->s, id, &rec)) != 0)
		goto out;
	if (!strstr(json_string_value(json_object_get(rec, "usage")) ?: "", "crl-signing") ||
	    !json_string_length(json_object_get(rec, "key_id")))
		goto out;
	if ((r = pki_issuer_signer(c->s, rec, &cert, &key)) != 0 || !key)
		goto out;
	const char *alg = json_string_value(json_object_get(rec, "revocation_signature_algorithm"));
	if (delta && !state_int(c->state, "complete", id))
		delta = false; /* no full CRL to extend yet */
	if ((r = build_one(c, id, cert, key, alg, delta)) == 0 && !delta && c->cfg->enable_delta)
		r = build_one(c, id, cert, key, alg, true);
out:
	if (r != 0 && !c->why->len)
		buf_printf(c->why, "building the CRL of issuer %s failed", id);
	EVP_PKEY_free(key);
	X509_free(cert);
	json_decref(rec);
	return r;
}

static void crl_lock(struct mount *m, bool lock)
{
	struct pki_rev_state *st = pki_rev_state(m);
	if (st && lock)
		pthread_mutex_lock(&st->crl_lock);
	else if (st)
		pthread_mutex_unlock(&st->crl_lock);
}

int pki_crl_rebuild(struct storage *s, struct mount *m, bool delta, struct buf *why)
{
	struct pki_crl_config cfg;
	struct revoked_set revoked = {0};
	struct strlist ids;
	json_t *state = NULL, *icfg = NULL;
	int r;

	strlist_init(&ids);
	crl_lock(m, true);
	if ((r = pki_crl_config_get(s, &cfg)) != 0 || (delta && !cfg.enable_delta))
		goto out;
	if ((r = state_load(s, &state)) != 0 || (r = pki_issuer_ids(s, &ids)) != 0 ||
	    (r = pki_issuers_config_get(s, &icfg)) != 0 || (r = revoked_load(s, &revoked)) != 0)
		goto out;
	struct build_ctx c = {.s = s,
			      .cfg = &cfg,
			      .revoked = &revoked,
			      .ids = &ids,
			      .default_id = json_string_value(json_object_get(icfg, "default")) ?: "",
			      .state = state,
			      .now = clock_realtime_s(),
			      .why = why};
	for (size_t i = 0; r == 0 && i < ids.len; i++)
		r = build_issuer(&c, ids.items[i], delta);
	json_object_set_new(state, "delta_dirty", json_false());
	json_object_set_new(state, "delta_time", json_integer(c.now));
	/* The numbers taken are stored even after a failure: never reused. */
	int w = kv_put_json(s, PKI_CRL_STATE, state);
	r = r ? r : w;
out:
	crl_lock(m, false);
	revoked_release(&revoked);
	strlist_release(&ids);
	json_decref(icfg);
	json_decref(state);
	return r;
}

int pki_crl_mark_dirty(struct storage *s, struct mount *m)
{
	json_t *state = NULL;
	crl_lock(m, true);
	int r = state_load(s, &state);
	if (r == 0) {
		json_object_set_new(state, "delta_dirty", json_true());
		r = kv_put_json(s, PKI_CRL_STATE, state);
	}
	crl_lock(m, false);
	json_decref(state);
	return r;
}

int pki_crl_load(struct storage *s, struct mount *m, const char *issuer_id, bool delta, unsigned char **der,
		 size_t *len)
{
	struct buf key, why;
	int r;

	*der = NULL;
	crl_key(&key, issuer_id, delta);
	buf_init(&why, 1024);
	r = storage_get(s, key.data, der, len);
	if (r == TROVE_ERR_NOT_FOUND) {
		/* Never built (a new issuer): the one build a read may do. */
		struct pki_crl_config cfg;
		if ((r = pki_crl_config_get(s, &cfg)) == 0 && (!delta || cfg.enable_delta) &&
		    (r = pki_crl_rebuild(s, m, false, &why)) == 0)
			r = storage_get(s, key.data, der, len);
		else if (r == 0)
			r = TROVE_ERR_NOT_FOUND;
	}
	buf_release(&why);
	buf_release(&key);
	return r;
}

/* Whether a full CRL is due: missing, or within the grace period. */
static bool full_due(struct storage *s, const struct strlist *ids, const struct pki_crl_config *cfg, int64_t now)
{
	for (size_t i = 0; i < ids->len; i++) {
		struct buf key, why;
		unsigned char *der = NULL;
		size_t len = 0;
		struct crl_info info;
		crl_key(&key, ids->items[i], false);
		buf_init(&why, 256);
		int r = storage_get(s, key.data, &der, &len);
		bool due = r == 0 && (crl_read_info(der, len, &info, &why) != 0 ||
				      info.next_update - cfg->auto_rebuild_grace <= now);
		free(der);
		buf_release(&why);
		buf_release(&key);
		if (due)
			return true;
	}
	return false;
}

void pki_crl_periodic(struct mount *m, int64_t now)
{
	struct pki_crl_config cfg;
	struct strlist ids;
	json_t *state = NULL;
	struct buf why;

	strlist_init(&ids);
	buf_init(&why, 1024);
	if (pki_crl_config_get(m->view, &cfg) != 0 || !cfg.auto_rebuild || pki_issuer_ids(m->view, &ids) != 0 ||
	    state_load(m->view, &state) != 0)
		goto out;
	if (full_due(m->view, &ids, &cfg, now))
		pki_crl_rebuild(m->view, m, false, &why);
	else if (cfg.enable_delta && json_is_true(json_object_get(state, "delta_dirty")) &&
		 now - json_integer_value(json_object_get(state, "delta_time")) >= cfg.delta_rebuild_interval)
		pki_crl_rebuild(m->view, m, true, &why);
out:
	json_decref(state);
	buf_release(&why);
	strlist_release(&ids);
}
