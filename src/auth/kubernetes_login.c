/* kubernetes_login.c — auth/kubernetes/login: a service-account JWT to a
 * token.
 *
 * Order (Vault's, with the network last):
 *   1. role and jwt given (400), the role exists (400 "invalid role
 *      name"), the caller's address within the role's token_bound_cidrs
 *      (403), the mount configured (500, as Vault);
 *   2. locally, on the JWT's unverified claims: its form and alg, the
 *      issuer when configured and checked, the role's audience, exp and
 *      nbf (with Vault's 150 s leeway), then the service account's name
 *      and namespace against the role's bindings. These refuse plainly
 *      wrong logins (403) without calling anyone; nothing here is
 *      trusted, it only spares the API server;
 *   3. with pem_keys configured, the JWT's signature checked with them
 *      (k8s_verify_signature): one no key verifies is refused (403
 *      "permission denied") without calling anyone. The review still
 *      follows, as in Vault's plugin: a signature says nothing of a
 *      deleted service account;
 *   4. the TokenReview (kubernetes_review.c) with the role's audience,
 *      else the JWT's own, authenticated with the reviewer JWT (the
 *      config's, else the pod's own), else the client's JWT itself as
 *      Vault does; a refusal is 403 "permission denied", an API server
 *      that cannot be asked is 502;
 *   5. the reviewed identity must be the claimed one (name, namespace,
 *      uid), and is bound again by the role: names and namespaces by
 *      glob, else the namespace selector over the namespace's labels as
 *      the API server gives them (read only for a reviewed identity, so
 *      an unverified JWT never makes Trove call out twice);
 *   6. login_issue: metadata service_account_{name,namespace,uid,
 *      secret_name} and role, the alias named by the SA's uid or
 *      "<namespace>/<name>" (alias_name_source).
 * No answer ever holds the JWT; the "jwt" field is sensitive, so audit
 * entries carry its HMAC. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "approle.h"
#include "kubernetes.h"

#include "core/login.h"
#include "core/mount.h"
#include "core/token.h"
#include "encoding.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

#define K8S_JWT_MAX (32 << 10)
#define K8S_LEEWAY_S 150 /* Vault's (cap/jwt) default for exp and nbf */

void k8s_claims_release(struct k8s_claims *c)
{
	free(c->name);
	free(c->ns);
	free(c->uid);
	free(c->secret_name);
	free(c->iss);
	strlist_release(&c->aud);
	memset(c, 0, sizeof(*c));
}

/* The JSON object in base64url part [p, p+n), or NULL. */
static json_t *part_json(const char *p, size_t n)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	if (n == 0 || base64url_decode(p, n, &raw, &len) != 0)
		return NULL;
	json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
	secure_free(raw, len);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static char *str_of(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? xstrdup(s) : NULL;
}

/* The algorithms a Kubernetes cluster signs service-account JWTs with
 * (Vault's plugin's list). */
static const char *const k8s_algs[] = {"RS256", "RS384", "RS512", "ES256", "ES384",
                                       "ES512", "PS256", "PS384", "PS512", NULL};

static bool alg_allowed(const char *alg)
{
	for (size_t i = 0; alg && k8s_algs[i]; i++)
		if (strcmp(alg, k8s_algs[i]) == 0)
			return true;
	return false;
}

int k8s_claims_parse(const char *jwt, size_t len, struct k8s_claims *out, const char **why)
{
	json_t *hdr = NULL, *pl = NULL;
	int r = TROVE_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	strlist_init(&out->aud);
	const char *d1 = memchr(jwt, '.', len);
	const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - jwt)) : NULL;
	if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - jwt)) || d2 + 1 == jwt + len) {
		*why = "the JWT is not three dot-separated parts";
		goto out;
	}
	if (!(hdr = part_json(jwt, (size_t)(d1 - jwt))) || !(pl = part_json(d1 + 1, (size_t)(d2 - d1 - 1)))) {
		*why = "the JWT's header or claims are not base64url JSON objects";
		goto out;
	}
	if (!alg_allowed(json_string_value(json_object_get(hdr, "alg")))) {
		*why = "the JWT's alg is not one Kubernetes signs with";
		goto out;
	}
	const json_t *proj = json_object_get(pl, "kubernetes.io");
	if (json_is_object(proj)) {
		const json_t *sa = json_object_get(proj, "serviceaccount");
		out->ns = str_of(proj, "namespace");
		out->name = str_of(sa, "name");
		out->uid = str_of(sa, "uid");
	} else {
		out->ns = str_of(pl, "kubernetes.io/serviceaccount/namespace");
		out->name = str_of(pl, "kubernetes.io/serviceaccount/service-account.name");
		out->uid = str_of(pl, "kubernetes.io/serviceaccount/service-account.uid");
	}
	out->secret_name = str_of(pl, "kubernetes.io/serviceaccount/secret.name");
	out->iss = str_of(pl, "iss");
	const json_t *aud = json_object_get(pl, "aud");
	if (json_is_string(aud))
		strlist_push(&out->aud, json_string_value(aud));
	else if (aud && !strlist_push_json(&out->aud, aud)) {
		*why = "the JWT's aud is not a string or a list of strings";
		goto out;
	}
	const json_t *exp = json_object_get(pl, "exp"), *nbf = json_object_get(pl, "nbf");
	if ((exp && !json_is_number(exp)) || (nbf && !json_is_number(nbf))) {
		*why = "the JWT's exp or nbf is not a number";
		goto out;
	}
	out->exp = exp ? (int64_t)json_number_value(exp) : 0;
	out->nbf = nbf ? (int64_t)json_number_value(nbf) : 0;
	if (!out->ns || !out->name || !out->ns[0] || !out->name[0]) {
		*why = "the JWT names no service account";
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		k8s_claims_release(out);
	json_decref(hdr);
	json_decref(pl);
	return r;
}

int k8s_verify_signature(const char *jwt, size_t len, const struct jwt_keyset *ks, int64_t now,
                         struct buf *err)
{
	const struct jwt_expect e = {
	    .algs = k8s_algs,
	    .now = now,
	    .clock_skew = K8S_LEEWAY_S, /* Vault's leeway, for exp, nbf and iat alike */
	    .allow_unbound_aud = true,
	    .time_claims_optional = true,
	};
	json_t *claims = NULL;
	int r = jwt_verify(jwt, len, ks, &e, &claims, err);
	json_decref(claims);
	return r;
}

static int denied(struct response *resp, const char *msg)
{
	return response_error(resp, TROVE_ERR_PERMISSION, "%s", msg);
}

/* Step 2: what the unverified claims already refuse, or 0. */
static int check_claims(struct response *resp, const struct k8s_config *cfg, const struct k8s_role *role,
                        const struct k8s_claims *c)
{
	int64_t now = (int64_t)time(NULL);
	if (!cfg->disable_iss_validation && cfg->issuer && (!c->iss || strcmp(c->iss, cfg->issuer) != 0))
		return denied(resp, "invalid issuer (iss) claim");
	if (role->audience && !strlist_contains(&c->aud, role->audience))
		return denied(resp, "invalid audience (aud) claim");
	if (c->exp && c->exp + K8S_LEEWAY_S < now)
		return denied(resp, "token is expired (exp)");
	if (c->nbf && c->nbf - K8S_LEEWAY_S > now)
		return denied(resp, "token is not valid yet (nbf)");
	if (!c->uid || !c->uid[0])
		return denied(resp, "could not parse UID from claims");
	if (!k8s_role_name_bound(role, c->name))
		return denied(resp, "service account name not authorized");
	if (!k8s_role_namespace_bound(role, c->ns) && !role->ns_selector)
		return denied(resp, "namespace not authorized");
	return 0;
}

static int upstream(struct response *resp, const char *why)
{
	resp->fail_what = "kubernetes: the API server could not be asked";
	resp->fail_error = why;
	return response_error(resp, TROVE_ERR_UPSTREAM, "could not reach the Kubernetes API server: %s", why);
}

/* Step 3: with pem_keys configured, the JWT's signature must verify with
 * one of them, or the login is refused without asking the API server. */
static int check_signature(struct response *resp, const struct k8s_config *cfg, const char *jwt, size_t len)
{
	struct jwt_keyset ks;
	int r;

	jwt_keyset_init(&ks);
	if (k8s_pem_keyset(&cfg->pem_keys, &ks, NULL) != 0)
		r = TROVE_ERR_INTEGRITY; /* parsed when written: storage changed under us */
	else if (k8s_verify_signature(jwt, len, &ks, (int64_t)time(NULL), NULL) != 0)
		r = denied(resp, "permission denied");
	else
		r = 0;
	jwt_keyset_release(&ks);
	return r;
}

/* Step 5's namespace selector: 0 when the reviewed namespace's labels
 * match, else the refusal. */
static int check_selector(struct response *resp, const struct k8s_config *cfg, const struct k8s_creds *cr,
                          const struct k8s_role *role, const char *ns)
{
	json_t *sel = NULL, *labels = NULL;
	const char *why = NULL;
	int r;

	if (!cr->reviewer_jwt) /* Vault: the selector needs the reviewer's rights */
		return denied(resp, "namespace not authorized");
	if (k8s_selector_parse(role->ns_selector, strlen(role->ns_selector), &sel, &why) != 0)
		return denied(resp, "namespace not authorized");
	enum k8s_review_result res =
	    k8s_namespace_labels(cfg->host, cr->ca_pem, cr->reviewer_jwt, ns, &labels, &why);
	if (res == K8S_REVIEW_UPSTREAM)
		r = upstream(resp, why);
	else if (res != K8S_REVIEW_OK || !k8s_selector_matches(sel, labels))
		r = denied(resp, "namespace not authorized");
	else
		r = 0;
	json_decref(sel);
	json_decref(labels);
	return r;
}

/* The role's name as given, lower-cased, when it could be one. */
static bool role_name(const char *given, char out[K8S_NAME_MAX + 1])
{
	size_t n = strlen(given);
	if (n == 0 || n > K8S_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)given[i];
		if (!(isalnum(c) || c == '_' || c == '-' || c == '.'))
			return false;
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return true;
}

int k8s_login(struct request *req, struct response *resp)
{
	const char *given_role = field_string(req, "role"), *jwt = field_string(req, "jwt");
	char name[K8S_NAME_MAX + 1];
	struct k8s_role role;
	struct k8s_config cfg;
	struct k8s_claims claims;
	struct k8s_creds cr;
	struct k8s_identity id;
	struct strlist auds;
	json_t *meta = NULL;
	char *dn = NULL, *alias = NULL;
	const char *why = NULL;
	int r;

	k8s_role_init(&role);
	memset(&cfg, 0, sizeof(cfg));
	memset(&claims, 0, sizeof(claims));
	strlist_init(&claims.aud);
	memset(&cr, 0, sizeof(cr));
	memset(&id, 0, sizeof(id));
	strlist_init(&auds);

	if (!given_role[0]) {
		r = response_error(resp, TROVE_ERR_INVALID, "missing role");
		goto out;
	}
	if (!jwt[0]) {
		r = response_error(resp, TROVE_ERR_INVALID, "missing jwt");
		goto out;
	}
	r = role_name(given_role, name) ? k8s_role_load(req->storage, name, &role) : TROVE_ERR_NOT_FOUND;
	if (r == TROVE_ERR_NOT_FOUND) {
		r = response_error(resp, TROVE_ERR_INVALID, "invalid role name \"%s\"", given_role);
		goto out;
	}
	if (r != 0)
		goto out;
	if (role.tp.bound_cidrs.len > 0 && !token_cidr_allows(&role.tp.bound_cidrs, req->remote_addr)) {
		r = denied(resp, "permission denied");
		goto out;
	}
	if ((r = k8s_config_load(req->storage, &cfg)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			r = response_error(resp, TROVE_ERR_INTERNAL, "could not load backend configuration");
		goto out;
	}

	size_t jl = strlen(jwt);
	if (jl > K8S_JWT_MAX || k8s_claims_parse(jwt, jl, &claims, &why) != 0) {
		r = response_error(resp, TROVE_ERR_PERMISSION, "invalid JWT: %s",
		                   jl > K8S_JWT_MAX ? "it is too long" : why);
		goto out;
	}
	if ((r = check_claims(resp, &cfg, &role, &claims)) != 0)
		goto out;
	if (cfg.pem_keys.len > 0 && (r = check_signature(resp, &cfg, jwt, jl)) != 0)
		goto out;

	k8s_creds_resolve(&cfg, K8S_LOCAL_DIR, &cr);
	if (role.audience)
		strlist_push(&auds, role.audience);
	else
		for (size_t i = 0; i < claims.aud.len; i++)
			strlist_push(&auds, claims.aud.items[i]);
	enum k8s_review_result res = k8s_token_review(
	    cfg.host, cr.ca_pem, cr.reviewer_jwt ? cr.reviewer_jwt : jwt, jwt, &auds, &id, &why);
	if (res == K8S_REVIEW_UPSTREAM) {
		r = upstream(resp, why);
		goto out;
	}
	if (res != K8S_REVIEW_OK || strcmp(id.name, claims.name) != 0 || strcmp(id.ns, claims.ns) != 0 ||
	    strcmp(id.uid, claims.uid) != 0) {
		r = denied(resp, "permission denied");
		goto out;
	}
	if (!k8s_role_name_bound(&role, id.name)) {
		r = denied(resp, "service account name not authorized");
		goto out;
	}
	if (!k8s_role_namespace_bound(&role, id.ns) &&
	    (r = check_selector(resp, &cfg, &cr, &role, id.ns)) != 0)
		goto out;

	meta = json_pack("{s:s,s:s,s:s,s:s}", "service_account_name", id.name, "service_account_namespace",
	                 id.ns, "service_account_uid", id.uid, "service_account_secret_name",
	                 claims.secret_name ? claims.secret_name : "");
	json_t *alias_meta = json_deep_copy(meta);
	json_object_set_new(meta, "role", json_string(role.name));
	if (strcmp(role.alias_source, K8S_ALIAS_NAME) == 0) {
		struct buf b;
		buf_init(&b, BUF_CAP_DEFAULT);
		buf_printf(&b, "%s/%s", id.ns, id.name);
		alias = buf_take(&b);
	} else {
		alias = xstrdup(id.uid);
	}
	if (!alias[0]) {
		json_decref(alias_meta);
		r = denied(resp, "could not parse UID from claims");
		goto out;
	}
	{
		struct buf who;
		buf_init(&who, BUF_CAP_DEFAULT);
		buf_printf(&who, "%s-%s", id.ns, id.name); /* Vault's kubernetes-<ns>-<name> */
		dn = login_display_name(req->mount ? req->mount->path : "auth/kubernetes/", who.data);
		buf_release(&who);
	}
	struct login_grant grant = {
	    .params = &role.tp,
	    .display_name = dn,
	    .metadata = meta,
	    .role = NULL, /* a token-store role name; these roles are not */
	    .alias_name = alias,
	    .alias_metadata = alias_meta,
	};
	r = login_issue(req, resp, &grant);
	json_decref(alias_meta);
out:
	free(dn);
	free(alias);
	json_decref(meta);
	strlist_release(&auds);
	k8s_identity_release(&id);
	k8s_creds_release(&cr);
	k8s_claims_release(&claims);
	k8s_config_release(&cfg);
	k8s_role_release(&role);
	return r;
}
