/* jwt_oidc.c — the OIDC authorisation-code flow: oidc/auth_url and
 * oidc/callback (GET, and POST for response_mode form_post).
 *
 * auth_url checks the role (an oidc role) and that redirect_uri is exactly
 * one of its allowed_redirect_uris, then keeps a pending login in memory:
 * a random state and nonce, a PKCE code verifier (RFC 7636, S256), the
 * role, the redirect URI and the client's nonce, for
 * JWT_OIDC_STATE_TTL_S. The URL carries state, nonce and the verifier's
 * S256 challenge. Pending logins are not stored: a restart drops them, as
 * Vault's do, and the user starts again.
 *
 * callback takes the pending login out first, so a state works once
 * whatever happens next (a replay, or a second callback racing the first,
 * is "Expired or missing OAuth state"). It then checks client_nonce,
 * exchanges the code at the token endpoint (client_secret_basic, the
 * redirect URI and the code verifier) through outbound_call, verifies the
 * ID token (the config's algorithms and keys; iss the discovered issuer;
 * aud holding the client ID, and one of the role's bound_audiences when it
 * has any; nonce the pending one; exp required; auth_time within the
 * role's max_age when set; bound_subject), reads the userinfo endpoint
 * with the access token when the provider has one (its claims fill in
 * what the ID token lacks, such as groups, and its sub must be the ID
 * token's), and logs in as jwt_login_claims does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt_auth.h"

#include "clock.h"
#include "core/mount.h"
#include "core/outbound.h"
#include "encoding.h"
#include "err.h"
#include "hmac.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

#define STATE_LEN 40
#define VERIFIER_BYTES 32
#define BAD_STATE "Expired or missing OAuth state."

struct oidc_pending {
	char state[STATE_LEN + 1];
	char nonce[STATE_LEN + 1];
	char *verifier;
	char *role;
	char *redirect_uri;
	char *client_nonce; /* or NULL */
	int64_t expires;    /* monotonic seconds */
};

static void pending_release(struct oidc_pending *p)
{
	secure_free_str(p->verifier);
	free(p->role);
	free(p->redirect_uri);
	secure_free_str(p->client_nonce);
	secure_wipe(p, sizeof(*p));
}

void jwt_oidc_pending_free(struct jwt_state *st)
{
	for (size_t i = 0; i < st->npending; i++)
		pending_release(&st->pending[i]);
	free(st->pending);
	st->pending = NULL;
	st->npending = 0;
}

/* Drops the expired entries; the lock is held. */
static void prune(struct jwt_state *st, int64_t now)
{
	size_t j = 0;
	for (size_t i = 0; i < st->npending; i++) {
		if (st->pending[i].expires <= now)
			pending_release(&st->pending[i]);
		else
			st->pending[j++] = st->pending[i];
	}
	st->npending = j;
}

/* Takes the pending login of state out of the table into *out. */
static bool pending_take(struct jwt_state *st, const char *state, struct oidc_pending *out)
{
	bool found = false;
	int64_t now = clock_monotonic_s();

	pthread_mutex_lock(&st->lock);
	prune(st, now);
	for (size_t i = 0; i < st->npending && !found; i++) {
		if (!secure_str_eq(st->pending[i].state, state))
			continue;
		*out = st->pending[i];
		st->pending[i] = st->pending[--st->npending];
		found = true;
	}
	pthread_mutex_unlock(&st->lock);
	return found;
}

static int pending_add(struct jwt_state *st, struct oidc_pending *p)
{
	int r = 0;

	pthread_mutex_lock(&st->lock);
	prune(st, clock_monotonic_s());
	if (st->npending >= JWT_OIDC_MAX_PENDING) {
		r = TROVE_ERR_RATE_LIMIT;
	} else {
		st->pending = xrealloc(st->pending, (st->npending + 1) * sizeof(*st->pending));
		st->pending[st->npending++] = *p;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* Percent-encodes s (RFC 3986 unreserved kept) onto b. */
static void url_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			buf_append_byte(b, (char)c);
		} else {
			buf_append_byte(b, '%');
			buf_append_byte(b, hex[c >> 4]);
			buf_append_byte(b, hex[c & 15]);
		}
	}
}

static void param(struct buf *b, const char *name, const char *value)
{
	buf_printf(b, "&%s=", name);
	url_escape(b, value);
}

static const char *disc_str(const json_t *cfg, const char *name)
{
	return json_string_value(json_object_get(json_object_get(cfg, "_discovered"), name));
}

static bool list_has(const json_t *list, const char *s)
{
	size_t i;
	const json_t *v;
	json_array_foreach(list, i, v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return true;
	return false;
}

/* The config (with OIDC set up) and the oidc role of the request. */
static int load_oidc(struct request *req, struct response *resp, const char *name, json_t **cfg,
                     struct jwt_role *role)
{
	int r = jwt_config_load(req, cfg);

	if (r == TROVE_ERR_NOT_FOUND || (r == 0 && (!disc_str(*cfg, "authorization_endpoint") ||
	                                            !json_string_length(json_object_get(*cfg, "oidc_client_id")))))
		return response_error(resp, TROVE_ERR_INVALID, "OIDC login is not configured for this mount");
	if (r != 0)
		return r;
	if (!name || !*name)
		name = json_string_value(json_object_get(*cfg, "default_role"));
	if (!name || !*name)
		return response_error(resp, TROVE_ERR_INVALID, "missing role");
	r = jwt_role_load(req, name, role);
	if (r == TROVE_ERR_NOT_FOUND)
		return response_error(resp, TROVE_ERR_INVALID, "role %.128s could not be found", name);
	if (r != 0)
		return r;
	if (strcmp(json_string_value(json_object_get(role->doc, "role_type")), "oidc") != 0)
		return response_error(resp, TROVE_ERR_INVALID, "role %.128s is not an OIDC role", name);
	return 0;
}

int jwt_oidc_auth_url(struct request *req, struct response *resp)
{
	struct jwt_state *st = req->mount->engine_state;
	const char *name = field_string(req, "role"), *redirect = field_string(req, "redirect_uri");
	unsigned char raw[VERIFIER_BYTES], digest[SHA256_LEN];
	struct oidc_pending p = {0};
	struct jwt_role role;
	json_t *cfg = NULL;
	struct buf url;
	char *challenge = NULL;
	int r;

	jwt_role_init(&role);
	buf_init(&url, 16384);
	if ((r = load_oidc(req, resp, name, &cfg, &role)) != 0)
		goto out;
	if (!*name)
		name = json_string_value(json_object_get(cfg, "default_role"));
	if (!*redirect) {
		r = response_error(resp, TROVE_ERR_INVALID, "missing redirect_uri");
		goto out;
	}
	if (!list_has(json_object_get(role.doc, "allowed_redirect_uris"), redirect)) {
		r = response_error(resp, TROVE_ERR_INVALID, "unauthorized redirect_uri: %.512s", redirect);
		goto out;
	}
	if ((r = rand_base62(p.state, STATE_LEN)) != 0 || (r = rand_base62(p.nonce, STATE_LEN)) != 0 ||
	    (r = rand_bytes(raw, sizeof(raw))) != 0)
		goto out;
	p.verifier = base64url_encode(raw, sizeof(raw));
	if ((r = sha256(p.verifier, strlen(p.verifier), digest)) != 0)
		goto out;
	challenge = base64url_encode(digest, sizeof(digest));
	p.role = xstrdup(name);
	p.redirect_uri = xstrdup(redirect);
	p.client_nonce = *field_string(req, "client_nonce") ? xstrdup(field_string(req, "client_nonce")) : NULL;
	p.expires = clock_monotonic_s() + JWT_OIDC_STATE_TTL_S;

	const char *ep = disc_str(cfg, "authorization_endpoint");
	const json_t *types = json_object_get(cfg, "oidc_response_types");
	buf_printf(&url, "%s%c", ep, strchr(ep, '?') ? '&' : '?');
	buf_append_str(&url, "client_id=");
	url_escape(&url, json_string_value(json_object_get(cfg, "oidc_client_id")));
	param(&url, "redirect_uri", redirect);
	param(&url, "response_type", list_has(types, "id_token") ? "id_token" : "code");
	struct buf scope;
	buf_init(&scope, 4096);
	buf_append_str(&scope, "openid");
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(role.doc, "oidc_scopes"), i, v) if (strcmp(json_string_value(v), "openid") != 0)
	    buf_printf(&scope, " %s", json_string_value(v));
	param(&url, "scope", scope.data);
	buf_release(&scope);
	param(&url, "state", p.state);
	param(&url, "nonce", p.nonce);
	param(&url, "code_challenge", challenge);
	param(&url, "code_challenge_method", "S256");
	if (strcmp(json_string_value(json_object_get(cfg, "oidc_response_mode")), "form_post") == 0)
		param(&url, "response_mode", "form_post");
	json_int_t max_age = json_integer_value(json_object_get(role.doc, "max_age"));
	if (max_age > 0)
		buf_printf(&url, "&max_age=%lld", (long long)max_age);
	if ((r = pending_add(st, &p)) != 0) {
		r = response_error(resp, r, "too many OIDC logins in progress; try again later");
		goto out;
	}
	memset(&p, 0, sizeof(p)); /* the table owns it now */
	response_set_data(resp, json_pack("{s:s}", "auth_url", url.data));
	r = 0;
out:
	pending_release(&p);
	secure_wipe(raw, sizeof(raw));
	free(challenge);
	buf_release(&url);
	json_decref(cfg);
	jwt_role_release(&role);
	return r;
}

/* Exchanges the code at the token endpoint; *tokens is the answer. */
static int exchange(struct response *resp, const json_t *cfg, const struct oidc_pending *p, const char *code,
                    json_t **tokens)
{
	const char *id = json_string_value(json_object_get(cfg, "oidc_client_id"));
	const char *secret = json_string_value(json_object_get(cfg, "oidc_client_secret"));
	struct buf body, cred, auth, err;
	struct outbound_response out;
	int r;

	buf_init_secret(&body, 65536);
	buf_init_secret(&cred, 8192);
	buf_init_secret(&auth, 16384);
	buf_init(&err, 1024);
	outbound_response_init(&out);
	buf_append_str(&body, "grant_type=authorization_code");
	param(&body, "code", code);
	param(&body, "redirect_uri", p->redirect_uri);
	param(&body, "code_verifier", p->verifier);
	url_escape(&cred, id);
	buf_append_byte(&cred, ':');
	url_escape(&cred, secret ? secret : "");
	char *b64 = xmalloc(base64_encoded_size(cred.len) + 1);
	base64_encode((const unsigned char *)cred.data, cred.len, b64);
	buf_printf(&auth, "Authorization: Basic %s", b64);
	secure_free_str(b64);
	const char *hdrs[] = {auth.data, "Content-Type: application/x-www-form-urlencoded",
	                      "Accept: application/json", NULL};
	struct outbound_request rq = {.method = "POST",
	                              .url = disc_str(cfg, "token_endpoint"),
	                              .headers = hdrs,
	                              .body = body.data,
	                              .body_len = body.len,
	                              .ca_pem = json_string_value(json_object_get(cfg, "oidc_discovery_ca_pem"))};
	if (rq.ca_pem && !*rq.ca_pem)
		rq.ca_pem = NULL;
	if (!rq.url) {
		r = response_error(resp, TROVE_ERR_INVALID, "the provider has no token endpoint");
		goto out;
	}
	if ((r = outbound_call(&rq, &out, &err)) != 0) {
		r = response_error(resp, TROVE_ERR_UPSTREAM, "error exchanging oidc code: %s", err.data);
		goto out;
	}
	*tokens = json_loadb(out.body.data, out.body.len, 0, NULL);
	if (out.status != 200 || !json_is_string(json_object_get(*tokens, "id_token"))) {
		const char *e = json_string_value(json_object_get(*tokens, "error"));
		r = response_error(resp, TROVE_ERR_INVALID, "error exchanging oidc code: the provider answered %ld%s%.64s",
		                   out.status, e ? ": " : "", e ? e : "");
		json_decref(*tokens);
		*tokens = NULL;
		goto out;
	}
	r = 0;
out:
	outbound_response_release(&out);
	buf_release_secret(&body);
	buf_release_secret(&cred);
	buf_release_secret(&auth);
	buf_release(&err);
	return r;
}

/* Claims from the userinfo endpoint fill in what the ID token lacks. */
static int userinfo(struct response *resp, const json_t *cfg, const char *access_token, json_t *claims)
{
	const char *url = disc_str(cfg, "userinfo_endpoint");
	struct buf auth, err;
	struct outbound_response out;
	json_t *info = NULL;
	int r = 0;

	if (!url || !access_token)
		return 0;
	buf_init_secret(&auth, 16384);
	buf_init(&err, 1024);
	outbound_response_init(&out);
	buf_printf(&auth, "Authorization: Bearer %s", access_token);
	const char *hdrs[] = {auth.data, "Accept: application/json", NULL};
	struct outbound_request rq = {.url = url,
	                              .headers = hdrs,
	                              .ca_pem = json_string_value(json_object_get(cfg, "oidc_discovery_ca_pem"))};
	if (rq.ca_pem && !*rq.ca_pem)
		rq.ca_pem = NULL;
	if (outbound_call(&rq, &out, &err) != 0 || out.status != 200)
		goto out; /* as Vault: userinfo is best effort */
	info = json_loadb(out.body.data, out.body.len, 0, NULL);
	const char *sub = json_string_value(json_object_get(info, "sub"));
	const char *want = json_string_value(json_object_get(claims, "sub"));
	if (!json_is_object(info))
		goto out;
	if (!sub || !want || strcmp(sub, want) != 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "userinfo sub does not match the ID token's");
		goto out;
	}
	json_object_update_missing(claims, info);
out:
	json_decref(info);
	outbound_response_release(&out);
	buf_release_secret(&auth);
	buf_release(&err);
	return r;
}

/* The checks beyond jwt_verify's: nonce, exp present, max_age, bound
 * audiences. */
static int id_token_checks(struct response *resp, const struct jwt_role *role, const struct oidc_pending *p,
                           const json_t *claims, int64_t skew)
{
	const char *nonce = json_string_value(json_object_get(claims, "nonce"));
	const json_t *aud = json_object_get(claims, "aud");
	const json_t *ba = json_object_get(role->doc, "bound_audiences");
	json_int_t max_age = json_integer_value(json_object_get(role->doc, "max_age"));

	if (!nonce || !secure_str_eq(p->nonce, nonce))
		return response_error(resp, TROVE_ERR_INVALID, "error validating token: invalid ID token nonce");
	if (!json_is_integer(json_object_get(claims, "exp")))
		return response_error(resp, TROVE_ERR_INVALID, "error validating token: the ID token has no exp");
	if (max_age > 0) {
		const json_t *at = json_object_get(claims, "auth_time");
		if (!json_is_integer(at) || clock_realtime_s() - skew - (int64_t)json_integer_value(at) > max_age)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "error validating token: auth_time is missing or older than max_age");
	}
	if (json_array_size(ba) > 0) {
		size_t i;
		json_t *v;
		bool ok = false;
		json_array_foreach(ba, i, v)
		{
			ok |= json_is_string(aud) && strcmp(json_string_value(aud), json_string_value(v)) == 0;
			ok |= json_is_array(aud) && list_has(aud, json_string_value(v));
		}
		if (!ok)
			return response_error(resp, TROVE_ERR_INVALID, "error validating token: aud claim does not match any bound audience");
	}
	return 0;
}

int jwt_oidc_callback(struct request *req, struct response *resp)
{
	struct jwt_state *st = req->mount->engine_state;
	const char *state = field_string(req, "state"), *code = field_string(req, "code");
	const char *id_token = field_string(req, "id_token"), *client_nonce = field_string(req, "client_nonce");
	struct oidc_pending p = {0};
	struct jwt_role role;
	json_t *cfg = NULL, *tokens = NULL, *claims = NULL;
	int r;

	jwt_role_init(&role);
	if (!*state || !pending_take(st, state, &p)) {
		r = response_error(resp, TROVE_ERR_INVALID, BAD_STATE);
		goto out;
	}
	if (*field_string(req, "error")) {
		r = response_error(resp, TROVE_ERR_INVALID, "the provider refused the login: %.64s",
		                   field_string(req, "error"));
		goto out;
	}
	if (p.client_nonce && !secure_str_eq(p.client_nonce, client_nonce)) {
		r = response_error(resp, TROVE_ERR_INVALID, "invalid client_nonce");
		goto out;
	}
	if ((r = load_oidc(req, resp, p.role, &cfg, &role)) != 0)
		goto out;
	if (!*id_token) {
		if (!*code) {
			r = response_error(resp, TROVE_ERR_INVALID, "missing code");
			goto out;
		}
		if ((r = exchange(resp, cfg, &p, code, &tokens)) != 0)
			goto out;
		id_token = json_string_value(json_object_get(tokens, "id_token"));
	}
	const char *client_id = json_string_value(json_object_get(cfg, "oidc_client_id"));
	const char *const auds[] = {client_id, NULL};
	int64_t skew = jwt_role_leeway(&role, "clock_skew_leeway", 60);
	struct jwt_expect e = {
	    .now = clock_realtime_s(),
	    .clock_skew = skew,
	    .issuer = disc_str(cfg, "issuer"),
	    .subject = json_string_value(json_object_get(role.doc, "bound_subject")),
	    .audiences = auds,
	};
	if ((r = jwt_verify_token(req, resp, cfg, id_token, &e, &claims)) != 0 ||
	    (r = id_token_checks(resp, &role, &p, claims, skew)) != 0 ||
	    (r = userinfo(resp, cfg, json_string_value(json_object_get(tokens, "access_token")), claims)) != 0)
		goto out;
	r = jwt_login_claims(req, resp, p.role, &role, claims);
out:
	pending_release(&p);
	json_decref(claims);
	json_decref(tokens);
	json_decref(cfg);
	jwt_role_release(&role);
	return r;
}
