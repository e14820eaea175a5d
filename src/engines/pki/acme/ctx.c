/* ctx.c — what every ACME request goes through: the directory's policy
 * (role, issuer), the JWS (url, nonce, signature, account), and the
 * answers (JSON, problem documents, Replay-Nonce, Link, Location). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme.h"

#include "core/mount.h"
#include "engines/pki/role.h"
#include "err.h"
#include "json_limits.h"
#include "jwk.h"

#include "banned.h"

char *acme_url(const struct acme_ctx *c, const char *tail, const char *id)
{
	struct buf b;
	buf_init(&b, STORAGE_MAX_KEY);
	buf_append_str(&b, c->base ? c->base : "");
	buf_append_str(&b, tail);
	if (id)
		buf_append_str(&b, id);
	return buf_take(&b);
}

json_t *acme_url_json(const struct acme_ctx *c, const char *tail, const char *id)
{
	char *u = acme_url(c, tail, id);
	json_t *j = json_string(u);
	free(u);
	return j;
}

void acme_link(struct acme_ctx *c, const char *url, const char *rel)
{
	struct buf b;
	buf_init(&b, STORAGE_MAX_KEY);
	buf_printf(&b, "<%s>;rel=\"%s\"", url, rel);
	response_header_add(c->resp, "Link", b.data);
	buf_release(&b);
}

/* Replay-Nonce and Link rel="index" (once per answer). */
static void common_headers(struct acme_ctx *c)
{
	char nonce[ACME_NONCE_LEN + 1];
	if (c->st && acme_nonce_issue(c->st->nonces, nonce) == 0)
		response_header_add(c->resp, "Replay-Nonce", nonce);
	if (c->base) {
		char *dir = acme_url(c, "directory", NULL);
		acme_link(c, dir, "index");
		free(dir);
	}
}

static void set_body(struct acme_ctx *c, int status, json_t *obj, const char *type)
{
	struct response *resp = c->resp;
	free(resp->text);
	resp->text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	resp->text_len = 0;
	resp->text_type = type;
	resp->status = status;
	json_decref(obj);
}

int acme_problem(struct acme_ctx *c, int status, const char *type, const char *fmt, ...)
{
	char detail[512], t[96];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	snprintf(t, sizeof(t), "urn:ietf:params:acme:error:%s", type);
	json_decref(c->resp->headers);
	c->resp->headers = NULL;
	common_headers(c);
	set_body(c, status, json_pack("{s:s, s:s}", "type", t, "detail", detail), "application/problem+json");
	return ACME_ANSWERED;
}

int acme_rate_limited(struct acme_ctx *c, int64_t wait, const char *what)
{
	char ra[24];
	acme_problem(c, 429, "rateLimited", "too many %s; retry in %lld s", what, (long long)wait);
	snprintf(ra, sizeof(ra), "%lld", (long long)(wait > 0 ? wait : 1));
	response_header_add(c->resp, "Retry-After", ra);
	return ACME_ANSWERED;
}

int acme_reply(struct acme_ctx *c, int status, json_t *obj, const char *location)
{
	common_headers(c);
	if (location)
		response_header_add(c->resp, "Location", location);
	set_body(c, status, obj, "application/json");
	return ACME_ANSWERED;
}

static bool list_allows(const json_t *list, const char *a, const char *b)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
	{
		const char *s = json_string_value(v);
		if (s && (strcmp(s, "*") == 0 || (a && strcmp(s, a) == 0) || (b && strcmp(s, b) == 0)))
			return true;
	}
	return false;
}

/* The directory's role and issuer, by config/acme's policy. */
static int directory_policy(struct acme_ctx *c)
{
	struct request *req = c->req;
	const char *role = request_param(req, "role"), *iref = request_param(req, "issuer_ref");
	const char *policy =
	    json_string_value(json_object_get(c->cfg, "default_directory_policy")) ?: "sign-verbatim";
	struct pki_role pr;
	int r;

	if (role) {
		if (!list_allows(json_object_get(c->cfg, "allowed_roles"), role, NULL))
			return acme_problem(c, 403, "unauthorized", "role %s is not allowed for ACME", role);
	} else if (strcmp(policy, "forbid") == 0) {
		return acme_problem(c, 403, "unauthorized",
		                    "the default ACME directory is forbidden by policy");
	} else if (strncmp(policy, "role:", 5) == 0) {
		role = policy + 5;
	} else if (strcmp(policy, "sign-verbatim") != 0) {
		return acme_problem(c, 403, "unauthorized", "default_directory_policy %s is not supported",
		                    policy);
	}
	const char *want_issuer = iref ? iref : "default";
	if (role) {
		if ((r = pki_role_load(req->storage, role, &pr)) != 0) {
			pki_role_release(&pr);
			if (r == TROVE_ERR_NOT_FOUND)
				return acme_problem(c, 400, "malformed", "role %s does not exist", role);
			return r;
		}
		c->role = xstrdup(role);
		if (!iref && pr.issuer_ref && *pr.issuer_ref)
			want_issuer = pr.issuer_ref;
		r = pki_issuer_resolve(req->storage, want_issuer, c->issuer_id);
		pki_role_release(&pr);
	} else {
		r = pki_issuer_resolve(req->storage, want_issuer, c->issuer_id);
	}
	if (r == TROVE_ERR_NOT_FOUND)
		return acme_problem(c, 400, "malformed", "unable to find PKI issuer for reference: %s",
		                    want_issuer);
	if (r != 0)
		return r;
	json_t *iss = NULL;
	const char *iname = NULL;
	if (pki_issuer_get(req->storage, c->issuer_id, &iss) == 0)
		iname = json_string_value(json_object_get(iss, "name"));
	bool ok = list_allows(json_object_get(c->cfg, "allowed_issuers"), c->issuer_id, iname) ||
	          (iref && list_allows(json_object_get(c->cfg, "allowed_issuers"), iref, NULL));
	json_decref(iss);
	if (!ok)
		return acme_problem(c, 403, "unauthorized", "issuer %s is not allowed for ACME", want_issuer);
	return 0;
}

char *acme_directory_of(const struct request *req)
{
	const char *role = request_param(req, "role"), *iref = request_param(req, "issuer_ref");
	struct buf b;
	buf_init(&b, STORAGE_MAX_KEY);
	if (iref)
		buf_printf(&b, "issuer/%s/", iref);
	if (role)
		buf_printf(&b, "roles/%s/", role);
	buf_append_str(&b, "acme/");
	return buf_take(&b);
}

/* The account a kid names, checked: of this directory, valid. */
static int load_account(struct acme_ctx *c, EVP_PKEY **key)
{
	char *prefix = acme_url(c, "account/", NULL);
	size_t n = strlen(prefix);
	struct buf err;
	int r;
	bool ours = strncmp(c->jws.kid, prefix, n) == 0;
	free(prefix);
	if (!ours)
		return acme_problem(c, 401, "accountDoesNotExist",
		                    "kid is not an account URL of this directory");
	const char *id = c->jws.kid + n;
	if ((r = acme_get(c->req->storage, ACME_ACCOUNT_PREFIX, id, &c->account)) == TROVE_ERR_NOT_FOUND)
		return acme_problem(c, 400, "accountDoesNotExist", "no such account");
	if (r != 0)
		return r;
	c->account_id = json_string_value(json_object_get(c->account, "id"));
	if (strcmp(json_string_value(json_object_get(c->account, "directory")) ?: "", c->dir) != 0)
		return acme_problem(c, 401, "unauthorized", "the account belongs to another directory");
	if (strcmp(json_string_value(json_object_get(c->account, "status")) ?: "", "valid") != 0)
		return acme_problem(c, 401, "unauthorized", "the account is not valid");
	/* always-required: an account made without a binding may do nothing */
	if (strcmp(json_string_value(json_object_get(c->cfg, "eab_policy")) ?: "", "always-required") == 0 &&
	    json_string_length(json_object_get(c->account, "eab_kid")) == 0)
		return acme_problem(c, 401, "externalAccountRequired",
		                    "the eab_policy requires accounts made with an external account binding");
	buf_init(&err, 256);
	r = acme_jwk_to_pkey(json_object_get(c->account, "jwk"), key, &err);
	buf_release(&err);
	return r == 0 ? 0 : TROVE_ERR_INTEGRITY;
}

static int check_jws(struct acme_ctx *c, bool by_jwk, bool allow_jwk)
{
	struct request *req = c->req;
	size_t len = 0;
	const char *body = request_body_bytes(req, &len);
	struct buf err;
	EVP_PKEY *key = NULL;
	int r = 0;

	buf_init(&err, 512);
	if (!req->content_type || strncmp(req->content_type, "application/jose+json", 21) != 0) {
		r = acme_problem(c, 415, "malformed", "Content-Type must be application/jose+json");
		goto out;
	}
	if ((r = acme_jws_parse(body ? body : "", len, &c->jws, &err)) != 0) {
		r = acme_problem(c, r == TROVE_ERR_TOO_LARGE ? 413 : 400, "malformed", "%s", err.data);
		goto out;
	}
	if (strcmp(c->jws.url, c->url) != 0) {
		r = acme_problem(c, 401, "unauthorized", "the JWS url does not match the request URL");
		goto out;
	}
	if (!acme_nonce_redeem(c->st->nonces, c->jws.nonce)) {
		r = acme_problem(c, 400, "badNonce", "the nonce is unknown, expired or used");
		goto out;
	}
	if (c->jws.jwk && !(by_jwk || allow_jwk)) {
		r = acme_problem(c, 400, "malformed", "this request must be signed with a kid");
		goto out;
	}
	if (by_jwk && !c->jws.jwk) {
		r = acme_problem(c, 400, "malformed", "this request must carry a jwk");
		goto out;
	}
	if (c->jws.kid && (r = load_account(c, &key)) != 0)
		goto out;
	if (acme_jws_verify(&c->jws, key, &err) != 0) {
		r = acme_problem(c, 403, "unauthorized", "%s", err.data);
		goto out;
	}
	if (!c->jws.post_as_get) {
		json_error_t jerr;
		if (json_limits_check((const char *)c->jws.payload, c->jws.payload_len, &json_limits_body) !=
		        JSON_LIMIT_OK ||
		    !(c->payload = json_loadb((const char *)c->jws.payload, c->jws.payload_len,
		                              JSON_REJECT_DUPLICATES, &jerr)) ||
		    !json_is_object(c->payload)) {
			r = acme_problem(c, 400, "malformed", "the payload is not a JSON object");
			goto out;
		}
	}
out:
	EVP_PKEY_free(key);
	buf_release(&err);
	return r;
}

int acme_begin(struct acme_ctx *c, struct request *req, struct response *resp, bool post, bool by_jwk,
               bool allow_jwk)
{
	char *cl = NULL;
	int r;

	memset(c, 0, sizeof(*c));
	c->req = req;
	c->resp = resp;
	c->st = acme_state(req->mount);
	if (!c->st)
		return response_error(resp, TROVE_ERR_INTERNAL, "ACME state missing");
	if ((r = acme_config_load(req->storage, &c->cfg)) != 0)
		return r;
	if (!json_is_true(json_object_get(c->cfg, "enabled")))
		return acme_problem(c, 403, "unauthorized", "ACME is disabled in configuration");
	if (!(cl = acme_cluster_path(req->storage)))
		return response_error(
		    resp, TROVE_ERR_INVALID,
		    "ACME feature requires local cluster 'path' field configuration to be set");
	c->dir = acme_directory_of(req);
	{
		struct buf b;
		buf_init(&b, STORAGE_MAX_KEY);
		buf_printf(&b, "%s/%s", cl, c->dir);
		c->base = buf_take(&b);
		buf_init(&b, STORAGE_MAX_KEY);
		buf_printf(&b, "%s/%s", cl, req->rel);
		c->url = buf_take(&b);
	}
	free(cl);
	if ((r = directory_policy(c)) != 0)
		return r;
	if (post)
		return check_jws(c, by_jwk, allow_jwk);
	return 0;
}

int acme_path_account(struct acme_ctx *c)
{
	if (strcmp(request_param(c->req, "kid") ?: "", c->account_id ? c->account_id : "") != 0)
		return acme_problem(c, 401, "unauthorized", "the request is not signed by this account");
	return 0;
}

int acme_end(struct acme_ctx *c, int r)
{
	json_decref(c->cfg);
	json_decref(c->payload);
	json_decref(c->account);
	acme_jws_release(&c->jws);
	free(c->dir);
	free(c->base);
	free(c->url);
	free(c->role);
	return r == ACME_ANSWERED ? 0 : r;
}
