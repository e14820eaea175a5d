/* kubernetes_review.c — the API server client of auth/kubernetes: the
 * TokenReview that decides whether a service-account JWT is genuine, and
 * the namespace read a namespace selector needs.
 *
 * Every call goes through outbound_call (TLS verified against the
 * config's CA, timeouts, a size cap), so it runs on the worker pool. Only
 * the API server's answer is trusted: status.authenticated, the username
 * system:serviceaccount:<namespace>:<name> and its uid, and audiences
 * that meet the ones asked for. Anything else (a 4xx, a Status object,
 * an error, an unparseable body) is a refusal; the transport failing or
 * a 5xx is "could not ask". Bodies and bearer headers carry tokens: they
 * are wiped after use and never logged. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kubernetes.h"

#include "core/outbound.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

#define K8S_TIMEOUT_MS 10000

void k8s_identity_release(struct k8s_identity *id)
{
	free(id->name);
	free(id->ns);
	free(id->uid);
	memset(id, 0, sizeof(*id));
}

bool k8s_dns_label(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return false;
	return true;
}

/* One call with the bearer's Authorization header; the parsed JSON answer
 * of a 2xx into *out. */
static enum k8s_review_result call(const char *method, const char *url, const char *ca_pem,
                                   const char *bearer, const char *body, json_t **out, const char **why)
{
	struct outbound_response resp;
	struct buf err;
	struct buf auth;
	enum k8s_review_result res = K8S_REVIEW_UPSTREAM;

	*out = NULL;
	outbound_response_init(&resp);
	buf_init(&err, 1024);
	buf_init_secret(&auth, BUF_CAP_DEFAULT);
	if (buf_printf(&auth, "Authorization: Bearer %s", bearer ? bearer : "") != 0) {
		*why = "out of memory";
		goto out;
	}
	const char *headers[] = {auth.data, "Content-Type: application/json", "Accept: application/json",
	                         NULL};
	struct outbound_request oreq = {
	    .method = method,
	    .url = url,
	    .headers = bearer ? headers : headers + 1,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .connect_timeout_ms = K8S_TIMEOUT_MS,
	    .timeout_ms = K8S_TIMEOUT_MS,
	    .ca_pem = ca_pem,
	};
	int r = outbound_call(&oreq, &resp, &err);
	if (r != 0) {
		*why = r == TROVE_ERR_TIMEOUT   ? "the API server did not answer in time"
		       : r == TROVE_ERR_INVALID ? "the API server's URL or a header was refused"
		                                : "the API server could not be reached over verified TLS";
		goto out;
	}
	if (resp.status >= 500) {
		*why = "the API server answered with a server error";
		goto out;
	}
	res = K8S_REVIEW_DENIED;
	if (resp.status < 200 || resp.status > 206) {
		*why = resp.status == 401   ? "the API server refused the bearer token"
		       : resp.status == 403 ? "the reviewer may not do this on the API server"
		                            : "the API server refused the request";
		goto out;
	}
	json_t *j = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		*why = "the API server's answer is not a JSON object";
		goto out;
	}
	*out = j;
	res = K8S_REVIEW_OK;
out:
	buf_release_secret(&auth);
	buf_release(&err);
	outbound_response_release(&resp);
	return res;
}

/* The username's parts: "system:serviceaccount:<ns>:<name>", exactly. */
static bool split_username(const char *u, struct k8s_identity *out)
{
	static const char pre[] = "system:serviceaccount:";
	if (!u || strncmp(u, pre, sizeof(pre) - 1) != 0)
		return false;
	const char *ns = u + sizeof(pre) - 1, *colon = strchr(ns, ':');
	if (!colon || colon == ns || !colon[1] || strchr(colon + 1, ':'))
		return false;
	out->ns = xstrndup(ns, (size_t)(colon - ns));
	out->name = xstrdup(colon + 1);
	return true;
}

enum k8s_review_result k8s_token_review(const char *host, const char *ca_pem, const char *bearer,
                                        const char *jwt, const struct strlist *audiences,
                                        struct k8s_identity *out, const char **why)
{
	char url[2048];
	json_t *ans = NULL;
	char *body = NULL;

	memset(out, 0, sizeof(*out));
	if ((size_t)snprintf(url, sizeof(url), "%s/apis/authentication.k8s.io/v1/tokenreviews", host) >=
	    sizeof(url)) {
		*why = "the API server's URL is too long";
		return K8S_REVIEW_UPSTREAM;
	}
	json_t *spec = json_pack("{s:s}", "token", jwt);
	if (audiences->len > 0) {
		json_t *a = json_array();
		for (size_t i = 0; i < audiences->len; i++)
			json_array_append_new(a, json_string(audiences->items[i]));
		json_object_set_new(spec, "audiences", a);
	}
	json_t *doc = json_pack("{s:s,s:s,s:o}", "apiVersion", "authentication.k8s.io/v1", "kind",
	                        "TokenReview", "spec", spec);
	body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!body) {
		*why = "out of memory";
		return K8S_REVIEW_UPSTREAM;
	}
	enum k8s_review_result res = call("POST", url, ca_pem, bearer, body, &ans, why);
	secure_free_str(body);
	if (res != K8S_REVIEW_OK)
		return res;

	res = K8S_REVIEW_DENIED;
	const json_t *st = json_object_get(ans, "status");
	const char *e = json_string_value(json_object_get(st, "error"));
	if (!json_is_object(st) || (e && e[0])) {
		*why = "the TokenReview answered with an error";
		goto out;
	}
	if (!json_is_true(json_object_get(st, "authenticated"))) {
		*why = "the TokenReview did not authenticate the JWT";
		goto out;
	}
	if (audiences->len > 0) {
		const json_t *got = json_object_get(st, "audiences");
		bool meet = false;
		size_t i;
		json_t *v;
		json_array_foreach(got, i, v)
		{
			if (json_is_string(v) && strlist_contains(audiences, json_string_value(v)))
				meet = true;
		}
		if (!meet) {
			*why = "the TokenReview found the JWT valid for other audiences";
			goto out;
		}
	}
	const json_t *user = json_object_get(st, "user");
	const char *uid = json_string_value(json_object_get(user, "uid"));
	if (!split_username(json_string_value(json_object_get(user, "username")), out)) {
		*why = "the reviewed user is not a service account";
		goto out;
	}
	out->uid = xstrdup(uid ? uid : "");
	res = K8S_REVIEW_OK;
out:
	if (res != K8S_REVIEW_OK)
		k8s_identity_release(out);
	json_decref(ans);
	return res;
}

enum k8s_review_result k8s_namespace_labels(const char *host, const char *ca_pem, const char *bearer,
                                            const char *ns, json_t **labels, const char **why)
{
	char url[2048];
	json_t *ans = NULL;

	*labels = NULL;
	if (!k8s_dns_label(ns)) {
		*why = "the namespace is not a valid name";
		return K8S_REVIEW_DENIED;
	}
	if ((size_t)snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s", host, ns) >= sizeof(url)) {
		*why = "the API server's URL is too long";
		return K8S_REVIEW_UPSTREAM;
	}
	enum k8s_review_result res = call("GET", url, ca_pem, bearer, NULL, &ans, why);
	if (res != K8S_REVIEW_OK)
		return res;
	const json_t *l = json_object_get(json_object_get(ans, "metadata"), "labels");
	const char *k;
	json_t *v;
	*labels = json_object();
	json_object_foreach((json_t *)l, k, v)
	{
		if (json_is_string(v))
			json_object_set(*labels, k, v);
	}
	json_decref(ans);
	return K8S_REVIEW_OK;
}
