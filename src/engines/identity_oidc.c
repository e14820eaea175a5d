/* identity_oidc.c — the identity/oidc routes: issuer config, named keys,
 * roles, signed ID tokens, introspection and the discovery documents
 * (Vault's identity tokens). Keys are identity_oidc_keys.c, claim
 * templates identity_oidc_template.c. */
#include "engines/identity_oidc.h"

#include <pthread.h>
#include <string.h>

#include "clock.h"
#include "encoding.h"
#include "core/identity.h"
#include "core/mount.h"
#include "core/token.h"
#include "err.h"
#include "jws_sign.h"
#include "jwt.h"
#include "rand.h"
#include "strlist_json.h"

#include "banned.h"

#define CONFIG_PATH "oidc/config"
#define ROLE_PREFIX "oidc/role/"
#define DAY (24 * 3600)

static const struct clock *oidc_clock;

void identity_oidc_set_clock(const struct clock *c)
{
	oidc_clock = c;
}

int64_t oidc_now(void)
{
	return clock_read(oidc_clock, clock_realtime_s);
}

static const char *const all_algs[] = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA", NULL};

/* The issuer the tokens carry: the configured base URL (Vault's api_addr
 * when none; Trove's core does not know it, so "") and the mount's path. */
static char *issuer_of(struct storage *st)
{
	json_t *cfg = NULL;
	struct buf b;
	const char *base;

	buf_init(&b, 4096);
	oidc_doc_load(st, CONFIG_PATH, &cfg);
	base = json_string_value(json_object_get(cfg, "issuer"));
	buf_printf(&b, "%s/v1/identity/oidc", base ? base : "");
	json_decref(cfg);
	return buf_take(&b);
}

/* ---- config ---- */

static int config_read(struct request *req, struct response *resp)
{
	json_t *cfg = NULL;
	const char *iss;

	oidc_doc_load(req->storage, CONFIG_PATH, &cfg);
	iss = json_string_value(json_object_get(cfg, "issuer"));
	response_set_data(resp, json_pack("{s:s}", "issuer", iss ? iss : ""));
	json_decref(cfg);
	return 0;
}

/* Vault's rule: empty, or an http(s) URL with a host and no query or
 * fragment. */
static bool issuer_ok(const char *s)
{
	const char *host;
	if (!s[0])
		return true;
	if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		return false;
	if (!host[0] || host[0] == '/' || strpbrk(s, "?# \t\r\n"))
		return false;
	return true;
}

static int config_write(struct request *req, struct response *resp)
{
	const char *iss = field_string(req, "issuer");
	size_t n = iss ? strlen(iss) : 0;
	char *trimmed;
	int r;

	if (!field_present(req, "issuer"))
		return 0;
	if (!issuer_ok(iss))
		return response_error(
		    resp, TROVE_ERR_INVALID,
		    "issuer: must be an http or https URL with a host and no query or fragment");
	trimmed = xstrdup(iss);
	while (n > 0 && trimmed[n - 1] == '/')
		trimmed[--n] = '\0';
	json_t *cfg = json_pack("{s:s}", "issuer", trimmed);
	r = oidc_doc_store(req->storage, CONFIG_PATH, cfg);
	json_decref(cfg);
	free(trimmed);
	return r;
}

/* ---- keys ---- */

static json_t *key_view(const json_t *rec)
{
	return json_pack("{s:O, s:O, s:O, s:O}", "algorithm", json_object_get(rec, "algorithm"),
	                 "allowed_client_ids", json_object_get(rec, "allowed_client_ids"), "rotation_period",
	                 json_object_get(rec, "rotation_period"), "verification_ttl",
	                 json_object_get(rec, "verification_ttl"));
}

static int key_read(struct request *req, struct response *resp)
{
	json_t *rec = NULL;
	int r = oidc_key_load(req->storage, request_param(req, "name"), &rec);
	if (r == 0)
		response_set_data(resp, key_view(rec));
	json_decref(rec);
	return r;
}

/* A list of the names below prefix: {"keys": [...]}; 404 when none. */
static int list_names(struct request *req, struct response *resp, const char *prefix)
{
	struct strlist names;
	int r;

	strlist_init(&names);
	r = storage_list(req->storage, prefix, &names);
	if (r == 0 && names.len == 0)
		r = TROVE_ERR_NOT_FOUND;
	if (r == 0)
		response_set_data(resp, json_pack("{s:o}", "keys", strlist_json(&names)));
	strlist_release(&names);
	return r;
}

static int key_list(struct request *req, struct response *resp)
{
	return list_names(req, resp, "oidc/key/");
}

static int key_write_locked(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	json_t *rec = NULL;
	int64_t now = oidc_now();
	int r = oidc_key_load(req->storage, name, &rec);
	bool rotate = false;

	if (r != 0 && r != TROVE_ERR_NOT_FOUND)
		return r;
	const char *alg = field_string(req, "algorithm");
	if ((rec == NULL || field_present(req, "algorithm")) && !jws_sign_alg_ok(alg)) {
		r = response_error(resp, TROVE_ERR_INVALID, "algorithm: unknown signing algorithm %s", alg);
		goto out;
	}
	if (!rec) {
		rec = oidc_key_new(alg, now);
		if (!rec) {
			r = TROVE_ERR_INTERNAL;
			goto out;
		}
		json_object_set_new(rec, "allowed_client_ids", json_array());
		json_object_set_new(rec, "rotation_period", json_integer(DAY));
		json_object_set_new(rec, "verification_ttl", json_integer(DAY));
		json_object_set_new(rec, "next_rotation", json_integer(0));
	} else if (field_present(req, "algorithm") &&
	           strcmp(alg, json_string_value(json_object_get(rec, "algorithm"))) != 0) {
		json_object_set_new(rec, "algorithm", json_string(alg));
		rotate = true;
	}
	if (field_present(req, "rotation_period"))
		json_object_set_new(rec, "rotation_period", json_integer(field_int(req, "rotation_period")));
	if (field_present(req, "verification_ttl"))
		json_object_set_new(rec, "verification_ttl",
		                    json_integer(field_int(req, "verification_ttl")));
	if (field_present(req, "allowed_client_ids")) {
		struct strlist ids;
		strlist_init(&ids);
		strlist_push_json(&ids, json_object_get(req->data, "allowed_client_ids"));
		json_object_set_new(rec, "allowed_client_ids", strlist_json(&ids));
		strlist_release(&ids);
	}
	int64_t period = json_integer_value(json_object_get(rec, "rotation_period"));
	int64_t vttl = json_integer_value(json_object_get(rec, "verification_ttl"));
	if (vttl > 10 * period) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "verification_ttl: cannot be longer than 10x rotation_period");
		goto out;
	}
	if (rotate) {
		if ((r = oidc_key_rotate(rec, now, vttl)) != 0)
			goto out;
	} else if (!json_integer_value(json_object_get(rec, "next_rotation")) ||
	           field_present(req, "rotation_period")) {
		json_object_set_new(rec, "next_rotation", json_integer(now + period));
	}
	r = oidc_key_store(req->storage, name, rec);
out:
	json_decref(rec);
	return r;
}

/* The names of the roles using key name, appended to out. */
static void roles_using(struct storage *st, const char *name, struct strlist *out)
{
	struct strlist roles;
	char path[512];
	json_t *role = NULL;

	strlist_init(&roles);
	storage_list(st, ROLE_PREFIX, &roles);
	for (size_t i = 0; i < roles.len; i++) {
		if ((size_t)snprintf(path, sizeof(path), ROLE_PREFIX "%s", roles.items[i]) >= sizeof(path) ||
		    oidc_doc_load(st, path, &role) != 0)
			continue;
		const char *k = json_string_value(json_object_get(role, "key"));
		if (k && strcmp(k, name) == 0)
			strlist_push(out, roles.items[i]);
		json_decref(role);
		role = NULL;
	}
	strlist_release(&roles);
}

static int key_delete_locked(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	struct strlist users;
	char path[512];
	int r = 0;

	strlist_init(&users);
	roles_using(req->storage, name, &users);
	if (users.len > 0) {
		struct buf b;
		buf_init(&b, 65536);
		for (size_t i = 0; i < users.len; i++)
			buf_printf(&b, "%s%s", i ? ", " : "", users.items[i]);
		r = response_error(
		    resp, TROVE_ERR_INVALID,
		    "unable to delete key \"%s\" because it is currently referenced by these roles: %s", name,
		    b.data);
		buf_release(&b);
	} else if ((size_t)snprintf(path, sizeof(path), "oidc/key/%s", name) < sizeof(path)) {
		r = storage_delete(req->storage, path);
		if (r == TROVE_ERR_NOT_FOUND)
			r = 0;
	}
	strlist_release(&users);
	return r;
}

static int key_rotate_locked(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	json_t *rec = NULL;
	int r = oidc_key_load(req->storage, name, &rec);

	if (r == TROVE_ERR_NOT_FOUND)
		return response_error(resp, TROVE_ERR_INVALID, "no named key found");
	if (r != 0)
		return r;
	int64_t vttl = field_present(req, "verification_ttl")
	                   ? field_int(req, "verification_ttl")
	                   : json_integer_value(json_object_get(rec, "verification_ttl"));
	if ((r = oidc_key_rotate(rec, oidc_now(), vttl)) == 0)
		r = oidc_key_store(req->storage, name, rec);
	json_decref(rec);
	return r;
}

/* ---- roles ---- */

static int role_load(struct storage *st, const char *name, json_t **out)
{
	char path[512];
	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), ROLE_PREFIX "%s", name) >= sizeof(path))
		return TROVE_ERR_NOT_FOUND;
	return oidc_doc_load(st, path, out);
}

static int role_read(struct request *req, struct response *resp)
{
	json_t *role = NULL;
	int r = role_load(req->storage, request_param(req, "name"), &role);
	if (r == 0)
		response_set_data(
		    resp, json_pack("{s:O, s:O, s:O, s:O}", "client_id", json_object_get(role, "client_id"),
		                    "key", json_object_get(role, "key"), "template",
		                    json_object_get(role, "template"), "ttl", json_object_get(role, "ttl")));
	json_decref(role);
	return r;
}

static int role_list(struct request *req, struct response *resp)
{
	return list_names(req, resp, ROLE_PREFIX);
}

/* The template as sent: JSON text, or the base64 of it (Vault takes
 * both). A new string. */
static char *template_text(const char *t)
{
	size_t n = strlen(t), len = 0;
	unsigned char *raw = xmalloc(n + 1);
	char *out;

	if (n > 0 && base64_decode(t, n, raw, n, &len) == 0) {
		raw[len] = '\0';
		if (strlen((char *)raw) == len)
			return (char *)raw;
	}
	free(raw);
	out = xstrdup(t);
	return out;
}

static int role_write_locked(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	json_t *role = NULL, *key = NULL, *claims = NULL;
	char path[512], *tpl = NULL;
	struct buf err;
	int r = role_load(req->storage, name, &role);

	buf_init(&err, 4096);
	if (r != 0 && r != TROVE_ERR_NOT_FOUND)
		goto out;
	if (!role) {
		char client_id[25];
		if ((r = rand_base62(client_id, 24)) != 0)
			goto out;
		role = json_pack("{s:s, s:s, s:s, s:I}", "client_id", client_id, "key", "", "template", "",
		                 "ttl", (json_int_t)DAY);
	}
	if (field_present(req, "key"))
		json_object_set_new(role, "key", json_string(field_string(req, "key")));
	if (field_present(req, "ttl"))
		json_object_set_new(role, "ttl", json_integer(field_int(req, "ttl")));
	if (field_present(req, "template")) {
		tpl = template_text(field_string(req, "template"));
		json_object_set_new(role, "template", json_string(tpl));
	}
	const char *kname = json_string_value(json_object_get(role, "key"));
	if (!kname || !kname[0]) {
		r = response_error(resp, TROVE_ERR_INVALID, "key: missing (the name of a named key)");
		goto out;
	}
	if ((r = oidc_key_load(req->storage, kname, &key)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			r = response_error(resp, TROVE_ERR_INVALID, "key: key \"%s\" does not exist", kname);
		goto out;
	}
	if (json_integer_value(json_object_get(role, "ttl")) >
	    json_integer_value(json_object_get(key, "verification_ttl"))) {
		r = response_error(
		    resp, TROVE_ERR_INVALID,
		    "ttl: a role's token ttl cannot be longer than the verification_ttl of the key it "
		    "references");
		goto out;
	}
	r = oidc_template_render(json_string_value(json_object_get(role, "template")), NULL, &claims, &err);
	if (r != 0) {
		r = response_error(resp, r, "%s", err.len ? err.data : "template: invalid");
		goto out;
	}
	if ((size_t)snprintf(path, sizeof(path), ROLE_PREFIX "%s", name) >= sizeof(path)) {
		r = TROVE_ERR_INVALID;
		goto out;
	}
	r = oidc_doc_store(req->storage, path, role);
out:
	free(tpl);
	json_decref(claims);
	json_decref(key);
	json_decref(role);
	buf_release(&err);
	return r;
}

static int role_delete_locked(struct request *req, struct response *resp)
{
	char path[512];
	(void)resp;
	if ((size_t)snprintf(path, sizeof(path), ROLE_PREFIX "%s", request_param(req, "name")) >=
	    sizeof(path))
		return 0;
	int r = storage_delete(req->storage, path);
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

/* ---- tokens ---- */

static bool client_allowed(const json_t *key, const char *client_id)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(key, "allowed_client_ids"), i, v)
	{
		const char *s = json_string_value(v);
		if (s && (strcmp(s, "*") == 0 || strcmp(s, client_id) == 0))
			return true;
	}
	return false;
}

static int token_read(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	const char *eid = req->token ? req->token->entity_id : NULL;
	struct identity_store *s = req->mount->engine_state;
	json_t *role = NULL, *key = NULL, *ident = NULL, *claims = NULL;
	char *iss = NULL, *token = NULL;
	struct buf err;
	int r;

	buf_init(&err, 4096);
	if (!eid || !eid[0]) {
		r = response_error(resp, TROVE_ERR_INVALID, "no entity associated with the request's token");
		goto out;
	}
	if ((r = role_load(req->storage, name, &role)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			r = response_error(resp, TROVE_ERR_INVALID, "role \"%s\" not found", name);
		goto out;
	}
	const char *kname = json_string_value(json_object_get(role, "key"));
	const char *client_id = json_string_value(json_object_get(role, "client_id"));
	if ((r = oidc_key_load(req->storage, kname, &key)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			r = response_error(resp, TROVE_ERR_INVALID, "key \"%s\" not found", kname);
		goto out;
	}
	if (!client_allowed(key, client_id)) {
		r = response_error(
		    resp, TROVE_ERR_INVALID,
		    "the key \"%s\" does not list the client ID of the role \"%s\" as an allowed client ID",
		    kname, name);
		goto out;
	}
	ident = s ? identity_template_data(s, eid) : NULL;
	if (!ident) {
		r = response_error(resp, TROVE_ERR_INVALID, "entity not found");
		goto out;
	}
	if (json_is_true(json_object_get(json_object_get(ident, "entity"), "disabled"))) {
		r = response_error(resp, TROVE_ERR_INVALID, "entity is disabled");
		goto out;
	}
	if ((r = oidc_template_render(json_string_value(json_object_get(role, "template")), ident, &claims,
	                              &err)) != 0) {
		r = response_error(resp, r, "%s", err.len ? err.data : "template: invalid");
		goto out;
	}
	int64_t now = oidc_now(), ttl = json_integer_value(json_object_get(role, "ttl"));
	iss = issuer_of(req->storage);
	json_object_set_new(claims, "iss", json_string(iss));
	json_object_set_new(claims, "sub", json_string(eid));
	json_object_set_new(claims, "aud", json_string(client_id));
	json_object_set_new(claims, "iat", json_integer(now));
	json_object_set_new(claims, "exp", json_integer(now + ttl));
	json_object_set_new(claims, "namespace", json_string("root"));
	if ((r = oidc_key_sign(key, claims, &token)) != 0)
		goto out;
	response_set_data(resp, json_pack("{s:s, s:s, s:I}", "client_id", client_id, "token", token, "ttl",
	                                  (json_int_t)ttl));
out:
	free(token);
	free(iss);
	json_decref(claims);
	json_decref(ident);
	json_decref(key);
	json_decref(role);
	buf_release(&err);
	return r;
}

/* ---- introspection ---- */

static void introspect_answer(struct response *resp, const char *error)
{
	resp->bare =
	    error ? json_pack("{s:b, s:s}", "active", 0, "error", error) : json_pack("{s:b}", "active", 1);
}

static int introspect(struct request *req, struct response *resp)
{
	const char *token = field_string(req, "token"), *client_id = field_string(req, "client_id");
	const char *auds[] = {client_id, NULL};
	struct identity_store *s = req->mount->engine_state;
	struct jwt_keyset ks;
	json_t *jwks = oidc_jwks(req->storage, oidc_now()), *claims = NULL, *ident = NULL;
	char *text = json_dumps(jwks, JSON_COMPACT), *iss = issuer_of(req->storage);
	struct buf err;

	buf_init(&err, 4096);
	jwt_keyset_init(&ks);
	struct jwt_expect e = {.algs = all_algs,
	                       .now = oidc_now(),
	                       .issuer = iss,
	                       .audiences = client_id && client_id[0] ? auds : NULL,
	                       .allow_unbound_aud = true};
	if (!token || !token[0]) {
		introspect_answer(resp, "token: missing");
	} else if (!text || jwt_keyset_add_jwks(&ks, text, strlen(text), NULL) != 0) {
		introspect_answer(resp, "no keys to verify with");
	} else if (jwt_verify(token, strlen(token), &ks, &e, &claims, &err) != 0) {
		introspect_answer(resp, err.len ? err.data : "invalid token");
	} else {
		const char *sub = json_string_value(json_object_get(claims, "sub"));
		ident = s && sub ? identity_template_data(s, sub) : NULL;
		if (!ident)
			introspect_answer(resp, "entity was not found");
		else if (json_is_true(json_object_get(json_object_get(ident, "entity"), "disabled")))
			introspect_answer(resp, "entity is disabled");
		else
			introspect_answer(resp, NULL);
	}
	jwt_keyset_release(&ks);
	json_decref(ident);
	json_decref(claims);
	json_decref(jwks);
	free(text);
	free(iss);
	buf_release(&err);
	return 0;
}

/* ---- discovery (unauthenticated) ---- */

static int wellknown_config(struct request *req, struct response *resp)
{
	char *iss = issuer_of(req->storage);
	json_t *algs = json_array();

	for (size_t i = 0; all_algs[i]; i++)
		json_array_append_new(algs, json_string(all_algs[i]));
	resp->bare =
	    json_pack("{s:s, s:s+, s:[s], s:[s], s:o}", "issuer", iss, "jwks_uri", iss, "/.well-known/keys",
	              "response_types_supported", "id_token", "subject_types_supported", "public",
	              "id_token_signing_alg_values_supported", algs);
	free(iss);
	return 0;
}

static int wellknown_keys(struct request *req, struct response *resp)
{
	int64_t now = oidc_now(), next = oidc_next_rotation(req->storage);
	char cc[64];

	resp->bare = oidc_jwks(req->storage, now);
	/* As Vault: cacheable until the next rotation may change the set
	 * (the mount's allowed_response_headers decides whether it is sent). */
	if (next > now &&
	    (size_t)snprintf(cc, sizeof(cc), "max-age=%lld", (long long)(next - now)) < sizeof(cc))
		response_header_add(resp, "Cache-Control", cc);
	return 0;
}

/* ---- writes: one at a time per mount ---- */

/* Runs fn holding the identity store's OIDC lock (core/identity.h), so a
 * key or role is read, changed and stored whole. */
static int locked(struct request *req, struct response *resp, int (*fn)(struct request *, struct response *))
{
	struct identity_store *s = req->mount ? req->mount->engine_state : NULL;
	pthread_mutex_t *mu = s ? identity_oidc_lock(s) : NULL;
	int r;

	if (mu)
		pthread_mutex_lock(mu);
	r = fn(req, resp);
	if (mu)
		pthread_mutex_unlock(mu);
	return r;
}

static int key_write(struct request *req, struct response *resp)
{
	return locked(req, resp, key_write_locked);
}

static int key_delete(struct request *req, struct response *resp)
{
	return locked(req, resp, key_delete_locked);
}

static int key_rotate(struct request *req, struct response *resp)
{
	return locked(req, resp, key_rotate_locked);
}

static int role_write(struct request *req, struct response *resp)
{
	return locked(req, resp, role_write_locked);
}

static int role_delete(struct request *req, struct response *resp)
{
	return locked(req, resp, role_delete_locked);
}

/* ---- background ---- */

void identity_oidc_periodic(struct mount *m)
{
	struct strlist names;
	int64_t now = oidc_now();
	json_t *rec = NULL;

	struct identity_store *s = m->engine_state;
	if (s)
		pthread_mutex_lock(identity_oidc_lock(s));
	strlist_init(&names);
	storage_list(m->view, "oidc/key/", &names);
	for (size_t i = 0; i < names.len; i++) {
		if (oidc_key_load(m->view, names.items[i], &rec) != 0)
			continue;
		bool changed;
		if (json_integer_value(json_object_get(rec, "next_rotation")) <= now)
			changed =
			    oidc_key_rotate(
			        rec, now, json_integer_value(json_object_get(rec, "verification_ttl"))) == 0;
		else
			changed = oidc_key_expire(rec, now);
		if (changed)
			oidc_key_store(m->view, names.items[i], rec);
		json_decref(rec);
		rec = NULL;
	}
	strlist_release(&names);
	if (s)
		pthread_mutex_unlock(identity_oidc_lock(s));
}

/* ---- tables ---- */

static const struct field config_fields[] = {
    {.name = "issuer", .type = FIELD_STRING, .description = "base URL of the tokens' issuer (http or https)"},
    {0},
};

static const struct field key_fields[] = {
    {.name = "algorithm",
     .type = FIELD_STRING,
     .def = "RS256",
     .description = "RS256, RS384, RS512, ES256, ES384, ES512 or EdDSA"},
    {.name = "rotation_period",
     .type = FIELD_DURATION,
     .def = "24h",
     .min = 60,
     .max = 100LL * 365 * DAY,
     .description = "how often the key pair is replaced"},
    {.name = "verification_ttl",
     .type = FIELD_DURATION,
     .def = "24h",
     .max = 1000LL * 365 * DAY,
     .description = "how long a replaced public key still verifies"},
    {.name = "allowed_client_ids",
     .type = FIELD_STRLIST,
     .description = "client ids of the roles that may sign with the key (\"*\": all)"},
    {0},
};

static const struct field rotate_fields[] = {
    {.name = "verification_ttl",
     .type = FIELD_DURATION,
     .max = 1000LL * 365 * DAY,
     .description = "how long the replaced public key still verifies"},
    {0},
};

static const struct field role_fields[] = {
    {.name = "key", .type = FIELD_STRING, .description = "the named key that signs (required)"},
    {.name = "template", .type = FIELD_STRING, .description = "claims template: JSON text or its base64"},
    {.name = "ttl",
     .type = FIELD_DURATION,
     .def = "24h",
     .max = 100LL * 365 * DAY,
     .description = "lifetime of the tokens"},
    {.name = "client_id", .type = FIELD_STRING, .description = "generated; read-only"},
    {0},
};

static const struct field introspect_fields[] = {
    {.name = "token", .type = FIELD_STRING, .sensitive = true, .description = "the ID token to check"},
    {.name = "client_id", .type = FIELD_STRING, .description = "the audience it must carry"},
    {0},
};

#define W(fn) [OP_UPDATE] = fn, [OP_CREATE] = fn

const struct route identity_oidc_routes[] = {
    {.pattern = "oidc/config",
     .ops = {[OP_READ] = config_read, W(config_write)},
     .fields = config_fields,
     .synopsis = "identity token issuer"},
    {.pattern = "oidc/key", .ops = {[OP_LIST] = key_list}, .synopsis = "list named keys"},
    {.pattern = "oidc/key/:name",
     .ops = {[OP_READ] = key_read, W(key_write), [OP_DELETE] = key_delete},
     .fields = key_fields,
     .synopsis = "a named signing key"},
    {.pattern = "oidc/key/:name/rotate",
     .ops = {W(key_rotate)},
     .fields = rotate_fields,
     .synopsis = "rotate a named key"},
    {.pattern = "oidc/role", .ops = {[OP_LIST] = role_list}, .synopsis = "list roles"},
    {.pattern = "oidc/role/:name",
     .ops = {[OP_READ] = role_read, W(role_write), [OP_DELETE] = role_delete},
     .fields = role_fields,
     .synopsis = "an identity token role"},
    {.pattern = "oidc/token/:name", .ops = {[OP_READ] = token_read}, .synopsis = "sign an identity token"},
    {.pattern = "oidc/introspect",
     .ops = {W(introspect)},
     .fields = introspect_fields,
     .synopsis = "check an identity token"},
    {.pattern = "oidc/.well-known/openid-configuration",
     .ops = {[OP_READ] = wellknown_config},
     .flags = ROUTE_UNAUTH,
     .synopsis = "OIDC discovery document"},
    {.pattern = "oidc/.well-known/keys",
     .ops = {[OP_READ] = wellknown_keys},
     .flags = ROUTE_UNAUTH,
     .synopsis = "public keys of the identity tokens"},
    {0},
};
