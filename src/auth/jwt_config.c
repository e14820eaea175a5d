/* jwt_config.c — auth/<jwt>/config and the key set that verifies tokens.
 *
 * A write replaces the whole config, as Vault's does, and is checked
 * before it is stored: exactly one key source (oidc_discovery_url,
 * jwks_url, jwt_validation_pubkeys); the PEM keys parse; every algorithm
 * is one Trove verifies (never none, never HMAC); the OIDC client needs
 * the discovery URL. The remote sources are fetched at write, through
 * outbound_call with the config's CA: the discovery document must name
 * the URL it was fetched from as its issuer and carry a jwks_uri, and the
 * JWKS must hold a usable key. So a wrong URL or CA is a 400 when the
 * config is written, not at the first login. The discovered endpoints are
 * stored with the config ("_discovered"); the client secret is stored and
 * never returned.
 *
 * The key set is cached in the mount's state and dropped when the config
 * changes. A token whose kid is not in a fetched JWKS refetches it, at
 * most once per JWT_JWKS_REFETCH_S: a flood of made-up kids costs the
 * provider one request a minute. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt_auth.h"

#include "clock.h"
#include "core/mount.h"
#include "core/outbound.h"
#include "err.h"
#include "jose.h"
#include "secure.h"
#include "storage/storage.h"

#include "banned.h"

#define DISCOVERY_SUFFIX "/.well-known/openid-configuration"

/* --- storage ------------------------------------------------------------- */

int jwt_get_json(struct request *req, const char *key, json_t **out)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int r = storage_get(req->storage, key, &raw, &len);

	*out = NULL;
	if (r != 0)
		return r;
	*out = json_loadb((const char *)raw, len, 0, NULL);
	secure_free(raw, len);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return TROVE_ERR_INTEGRITY;
	}
	return 0;
}

int jwt_put_json(struct request *req, const char *key, const json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	int r;

	if (!text)
		return TROVE_ERR_NOMEM;
	r = storage_put(req->storage, key, text, strlen(text));
	secure_free_str(text);
	return r;
}

int jwt_config_load(struct request *req, json_t **out)
{
	return jwt_get_json(req, JWT_CONFIG_KEY, out);
}

static const char *cfg_str(const json_t *cfg, const char *name)
{
	const char *s = json_string_value(json_object_get(cfg, name));
	return s && *s ? s : NULL;
}

const char **jwt_config_algs(const json_t *cfg)
{
	const json_t *a = json_object_get(cfg, "jwt_supported_algs"), *v;
	const char **out;
	size_t i, n = 0;

	if (!json_is_array(a) || json_array_size(a) == 0)
		return NULL;
	out = xcalloc(json_array_size(a) + 1, sizeof(*out));
	json_array_foreach(a, i, v) if (json_is_string(v)) out[n++] = json_string_value(v);
	return out;
}

/* --- the key set ---------------------------------------------------------- */

void jwt_keys_unref(struct jwt_keys_ref *k)
{
	if (k && atomic_fetch_sub(&k->refs, 1) == 1) {
		jwt_keyset_release(&k->ks);
		free(k);
	}
}

void jwt_keys_drop(struct jwt_state *st)
{
	pthread_mutex_lock(&st->lock);
	jwt_keys_unref(st->keys);
	st->keys = NULL;
	st->refetched_at = 0;
	st->gen++;
	pthread_mutex_unlock(&st->lock);
}

/* GETs url (CA ca_pem or the system's) into resp; 200 required. */
static int fetch(const char *url, const char *ca_pem, struct outbound_response *out, struct buf *err)
{
	struct outbound_request rq = {.url = url, .ca_pem = ca_pem, .timeout_ms = 10000};
	const char *const hdrs[] = {"Accept: application/json", NULL};
	int r;

	rq.headers = hdrs;
	if ((r = outbound_call(&rq, out, err)) != 0)
		return r == TROVE_ERR_INVALID ? r : TROVE_ERR_UPSTREAM;
	if (out->status != 200) {
		buf_printf(err, "status %ld", out->status);
		return TROVE_ERR_UPSTREAM;
	}
	return 0;
}

/* Fetches the JWKS at url into ks. */
static int fetch_jwks(const char *url, const char *ca_pem, struct jwt_keyset *ks, struct buf *err)
{
	struct outbound_response resp;
	int r;

	outbound_response_init(&resp);
	if ((r = fetch(url, ca_pem, &resp, err)) == 0)
		r = jwt_keyset_add_jwks(ks, resp.body.data, resp.body.len, err);
	outbound_response_release(&resp);
	return r;
}

/* Where the config's JWKS is, and the CA to fetch it with; NULL url for
 * PEM keys. */
static void jwks_source(const json_t *cfg, const char **url, const char **ca)
{
	const json_t *disc = json_object_get(cfg, "_discovered");

	*url = cfg_str(cfg, "jwks_url");
	*ca = cfg_str(cfg, "jwks_ca_pem");
	if (!*url && disc) {
		*url = json_string_value(json_object_get(disc, "jwks_uri"));
		*ca = cfg_str(cfg, "oidc_discovery_ca_pem");
	}
}

static int pem_keys(const json_t *cfg, struct jwt_keyset *ks, struct buf *err)
{
	const json_t *a = json_object_get(cfg, "jwt_validation_pubkeys"), *v;
	size_t i;
	int r;

	json_array_foreach(a, i, v)
	{
		if ((r = jwt_keyset_add_pem(ks, json_string_value(v) ? json_string_value(v) : "", err)) != 0)
			return r;
	}
	return ks->len ? 0 : TROVE_ERR_INVALID;
}

int jwt_keys_get(struct request *req, struct response *resp, const json_t *cfg, bool refetch,
                 struct jwt_keys_ref **out, bool *fresh)
{
	struct jwt_state *st = req->mount->engine_state;
	const char *url, *ca;
	struct jwt_keys_ref *k = NULL;
	struct buf err;
	int64_t now = clock_monotonic_s();
	uint64_t gen;
	int r;

	*out = NULL;
	*fresh = false;
	jwks_source(cfg, &url, &ca);
	pthread_mutex_lock(&st->lock);
	if (st->keys && (!refetch || !url || (st->refetched_at && now - st->refetched_at < JWT_JWKS_REFETCH_S))) {
		atomic_fetch_add(&st->keys->refs, 1);
		*out = st->keys;
		pthread_mutex_unlock(&st->lock);
		return 0;
	}
	if (url && refetch)
		st->refetched_at = now; /* claimed before the call: one refetch a minute */
	gen = st->gen;
	pthread_mutex_unlock(&st->lock);

	buf_init(&err, 1024);
	k = xcalloc(1, sizeof(*k));
	atomic_init(&k->refs, 2); /* the cache's and the caller's */
	jwt_keyset_init(&k->ks);
	r = url ? fetch_jwks(url, ca, &k->ks, &err) : pem_keys(cfg, &k->ks, &err);
	if (r != 0) {
		jwt_keyset_release(&k->ks);
		free(k);
		r = response_error(resp, TROVE_ERR_INVALID, "error fetching the keys to verify the token: %s",
		                   err.data);
		buf_release(&err);
		return r;
	}
	buf_release(&err);
	pthread_mutex_lock(&st->lock);
	if (st->gen == gen) {
		jwt_keys_unref(st->keys);
		st->keys = k;
	} else {
		atomic_fetch_sub(&k->refs, 1); /* the config changed meanwhile: not cached */
	}
	pthread_mutex_unlock(&st->lock);
	*out = k;
	*fresh = true;
	return 0;
}

/* --- config write ---------------------------------------------------------- */

/* Fetches and checks the discovery document of issuer url; on success
 * *disc holds {"issuer","jwks_uri","authorization_endpoint",
 * "token_endpoint","userinfo_endpoint"} (what is present). */
static int discover(const char *url, const char *ca, json_t **disc, struct buf *err)
{
	struct outbound_response resp;
	struct buf full;
	json_t *doc = NULL;
	size_t n = strlen(url);
	int r;

	*disc = NULL;
	while (n > 0 && url[n - 1] == '/')
		n--;
	buf_init(&full, 8192);
	buf_printf(&full, "%.*s" DISCOVERY_SUFFIX, (int)n, url);
	outbound_response_init(&resp);
	if ((r = fetch(full.data, ca, &resp, err)) != 0)
		goto out;
	r = TROVE_ERR_INVALID;
	doc = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	const char *iss = json_string_value(json_object_get(doc, "issuer"));
	const char *jwks = json_string_value(json_object_get(doc, "jwks_uri"));
	if (!iss || !jwks) {
		buf_printf(err, "the discovery document has no issuer or jwks_uri");
		goto out;
	}
	if (strcmp(iss, url) != 0) {
		buf_printf(err, "the discovery document's issuer is not %s", url);
		goto out;
	}
	*disc = json_object();
	static const char *const keep[] = {"issuer", "jwks_uri", "authorization_endpoint", "token_endpoint",
	                                   "userinfo_endpoint"};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		const json_t *v = json_object_get(doc, keep[i]);
		if (json_is_string(v))
			json_object_set(*disc, keep[i], (json_t *)v);
	}
	r = 0;
out:
	json_decref(doc);
	outbound_response_release(&resp);
	buf_release(&full);
	return r;
}

static bool all_in(const json_t *list, const char *const *allowed, const char **bad)
{
	size_t i;
	const json_t *v;
	json_array_foreach(list, i, v)
	{
		bool ok = false;
		for (size_t j = 0; allowed[j]; j++)
			ok |= strcmp(json_string_value(v), allowed[j]) == 0;
		if (!ok) {
			*bad = json_string_value(v);
			return false;
		}
	}
	return true;
}

/* The new config from the request, checked (remote sources fetched). */
static int config_build(struct request *req, struct response *resp, json_t **out)
{
	static const char *const strings[] = {"oidc_discovery_url", "oidc_discovery_ca_pem", "oidc_client_id",
	                                      "oidc_client_secret", "oidc_response_mode",  "jwks_url",
	                                      "jwks_ca_pem",        "bound_issuer",        "default_role"};
	static const char *const lists[] = {"jwt_validation_pubkeys", "jwt_supported_algs", "oidc_response_types"};
	static const char *const types[] = {"code", "id_token", NULL};
	json_t *cfg = json_object(), *disc = NULL;
	struct buf err;
	const char *bad = NULL;
	int r = TROVE_ERR_INVALID;

	buf_init(&err, 4096);
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		json_object_set_new(cfg, strings[i], json_string(field_string(req, strings[i])));
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		json_t *v = json_object_get(req->data, lists[i]);
		json_object_set_new(cfg, lists[i], json_is_array(v) ? json_deep_copy(v) : json_array());
	}
	json_t *pc = json_object_get(req->data, "provider_config");
	json_object_set_new(cfg, "provider_config", json_is_object(pc) ? json_deep_copy(pc) : json_object());
	json_object_set_new(cfg, "namespace_in_state", json_boolean(field_bool(req, "namespace_in_state")));

	const char *disc_url = cfg_str(cfg, "oidc_discovery_url"), *jwks_url = cfg_str(cfg, "jwks_url");
	size_t npem = json_array_size(json_object_get(cfg, "jwt_validation_pubkeys"));
	if ((disc_url != NULL) + (jwks_url != NULL) + (npem > 0) != 1) {
		r = response_error(resp, r,
		                   "exactly one of 'jwt_validation_pubkeys', 'jwks_url' or 'oidc_discovery_url' must "
		                   "be set");
		goto out;
	}
	if (!disc_url && (cfg_str(cfg, "oidc_client_id") || cfg_str(cfg, "oidc_client_secret"))) {
		r = response_error(resp, r, "'oidc_discovery_url' must be set for OIDC");
		goto out;
	}
	if (!cfg_str(cfg, "oidc_client_id") != !cfg_str(cfg, "oidc_client_secret")) {
		r = response_error(resp, r, "both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC");
		goto out;
	}
	if (!cfg_str(cfg, "oidc_response_mode"))
		json_object_set_new(cfg, "oidc_response_mode", json_string("query"));
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(cfg, "jwt_supported_algs"), i, v)
	{
		if (!jose_alg_known(json_string_value(v))) {
			r = response_error(resp, r,
			                   "jwt_supported_algs: %.16s is not supported (RS256, RS384, RS512, "
			                   "PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)",
			                   json_string_value(v));
			goto out;
		}
	}
	{
		const char *mode = cfg_str(cfg, "oidc_response_mode");
		if (strcmp(mode, "query") != 0 && strcmp(mode, "form_post") != 0) {
			r = response_error(resp, r, "oidc_response_mode: invalid response_mode: must be query or form_post");
			goto out;
		}
		if (!all_in(json_object_get(cfg, "oidc_response_types"), types, &bad)) {
			r = response_error(resp, r, "oidc_response_types: unsupported response_type %.32s (code or "
			                            "id_token)",
			                   bad);
			goto out;
		}
		json_array_foreach(json_object_get(cfg, "oidc_response_types"), i, v)
		{
			if (strcmp(json_string_value(v), "id_token") == 0 && strcmp(mode, "form_post") != 0) {
				r = response_error(resp, r,
				                   "response_type 'id_token' requires response_mode 'form_post'");
				goto out;
			}
		}
	}
	if (npem > 0) {
		struct jwt_keyset ks;
		jwt_keyset_init(&ks);
		r = pem_keys(cfg, &ks, &err);
		jwt_keyset_release(&ks);
		if (r != 0) {
			r = response_error(resp, TROVE_ERR_INVALID, "jwt_validation_pubkeys: %s", err.data);
			goto out;
		}
	} else if (disc_url) {
		if ((r = discover(disc_url, cfg_str(cfg, "oidc_discovery_ca_pem"), &disc, &err)) != 0) {
			r = response_error(resp, TROVE_ERR_INVALID, "error checking oidc discovery URL: %s", err.data);
			goto out;
		}
		json_object_set_new(cfg, "_discovered", disc);
	}
	const char *url, *ca;
	jwks_source(cfg, &url, &ca);
	if (url) {
		struct jwt_keyset ks;
		jwt_keyset_init(&ks);
		buf_reset(&err);
		r = fetch_jwks(url, ca, &ks, &err);
		jwt_keyset_release(&ks);
		if (r != 0) {
			r = response_error(resp, TROVE_ERR_INVALID, "error checking jwks URL: %s", err.data);
			goto out;
		}
	}
	*out = cfg;
	cfg = NULL;
	r = 0;
out:
	json_decref(cfg);
	buf_release(&err);
	return r;
}

int jwt_config_write(struct request *req, struct response *resp)
{
	json_t *cfg = NULL;
	int r;

	if ((r = config_build(req, resp, &cfg)) != 0)
		return r;
	if ((r = jwt_put_json(req, JWT_CONFIG_KEY, cfg)) == 0)
		jwt_keys_drop(req->mount->engine_state);
	json_decref(cfg);
	return r;
}

int jwt_config_read(struct request *req, struct response *resp)
{
	json_t *cfg = NULL;
	int r = jwt_config_load(req, &cfg);

	if (r != 0)
		return r; /* TROVE_ERR_NOT_FOUND: 404, as Vault answers an unset config */
	json_object_del(cfg, "oidc_client_secret");
	json_object_del(cfg, "_discovered");
	response_set_data(resp, cfg);
	return 0;
}
