/* op_vault.c — logged-in API clients for the reconcilers (op_vault.h).
 *
 * Clients use the native transport (no libcurl in a long-running process,
 * as the agent) and are pooled per VaultConnection: a worker checks one
 * out for a reconcile and puts it back, so connections are kept without a
 * client per resource. Tokens are cached per VaultAuth (uid and
 * generation: an edited VaultAuth logs in afresh), per resource namespace
 * and service account, and live only in memory, wiped when dropped. */
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "api/net_conn.h"
#include "clock.h"
#include "encoding.h"
#include "err.h"
#include "hmac.h"
#include "operator/op_sync.h"
#include "operator/op_vault.h"
#include "secure.h"

#include "banned.h"

#define POOL_IDLE_MAX 4
#define TOKEN_END_SLACK_S 10 /* a token this close to its end is not used */
#define CLIENT_MAX_RETRIES 1

struct op_token {
	struct op_token *next;
	char *key;
	char *token;       /* wiped when dropped */
	int64_t obtained;  /* monotonic seconds at login or last renewal */
	long ttl;          /* seconds from obtained; 0: does not expire */
	bool renewable;
};

struct op_pool {
	struct op_pool *next;
	char *key;
	struct api_config cfg;
	struct api_client *idle[POOL_IDLE_MAX];
	int nidle;
};

static void token_free(struct op_token *t)
{
	free(t->key);
	secure_free_str(t->token);
	free(t);
}

void op_vault_free_all(struct op_sync *s)
{
	struct op_token *t, *tn;
	struct op_pool *p, *pn;
	int i;

	for (t = s->tokens; t; t = tn) {
		tn = t->next;
		token_free(t);
	}
	for (p = s->pools; p; p = pn) {
		pn = p->next;
		for (i = 0; i < p->nidle; i++)
			api_client_free(p->idle[i]);
		api_config_release(&p->cfg);
		free(p->key);
		free(p);
	}
	s->tokens = NULL;
	s->pools = NULL;
}

/* ---- Tokens ------------------------------------------------------------ */

/* A copy of the cached token for key when it can be used as it is (*fresh)
 * or renewed (!*fresh); NULL when a login is needed. */
static char *token_lookup(struct op_sync *s, const char *key, bool *fresh)
{
	int64_t now = clock_monotonic_s();
	struct op_token *t;
	char *copy = NULL;

	pthread_mutex_lock(&s->mu);
	for (t = s->tokens; t; t = t->next)
		if (strcmp(t->key, key) == 0)
			break;
	if (t && (t->ttl == 0 || now < t->obtained + t->ttl - TOKEN_END_SLACK_S)) {
		*fresh = t->ttl == 0 || now < t->obtained + op_token_renew_after(t->ttl);
		if (*fresh || t->renewable)
			copy = xstrdup(t->token);
	}
	pthread_mutex_unlock(&s->mu);
	return copy;
}

static void token_store(struct op_sync *s, const char *key, const char *token, long ttl, bool renewable)
{
	struct op_token *t;

	pthread_mutex_lock(&s->mu);
	for (t = s->tokens; t; t = t->next)
		if (strcmp(t->key, key) == 0)
			break;
	if (t == NULL) {
		t = xcalloc(1, sizeof(*t));
		t->key = xstrdup(key);
		t->next = s->tokens;
		s->tokens = t;
	}
	secure_free_str(t->token);
	t->token = xstrdup(token);
	t->obtained = clock_monotonic_s();
	t->ttl = ttl;
	t->renewable = renewable;
	pthread_mutex_unlock(&s->mu);
}

static void token_drop(struct op_sync *s, const char *key)
{
	struct op_token **p, *t;

	pthread_mutex_lock(&s->mu);
	for (p = &s->tokens; (t = *p) != NULL; p = &t->next)
		if (strcmp(t->key, key) == 0) {
			*p = t->next;
			token_free(t);
			break;
		}
	pthread_mutex_unlock(&s->mu);
}

/* ---- Pools -------------------------------------------------------------- */

/* Whether ca_pem holds at least one certificate OpenSSL can read (what a
 * client verifying against it needs); checked once, when a pool is made,
 * so a bad caCertSecretRef is a configuration error naming the Secret. */
static bool ca_readable(const char *ca_pem)
{
	struct api_conn c;
	SSL_CTX *ctx = NULL;
	bool ok;

	api_conn_init(&c);
	ok = api_conn_tls_ctx_pem(ca_pem, false, NULL, NULL, &ctx, &c) == 0;
	SSL_CTX_free(ctx);
	api_conn_close(&c);
	return ok;
}

static int pool_checkout(struct op_sync *s, const char *key, const struct op_conn_spec *c,
                         const char *conn_ns, const char *ca_pem, struct api_client **out, struct op_fail *f)
{
	struct op_pool *p;
	char *why = NULL;
	int r = 0;

	*out = NULL;
	pthread_mutex_lock(&s->mu);
	for (p = s->pools; p; p = p->next)
		if (strcmp(p->key, key) == 0)
			break;
	if (p == NULL && ca_pem && !c->skip_verify && !ca_readable(ca_pem)) {
		pthread_mutex_unlock(&s->mu);
		op_fail_set(f, "VaultClientConfigError",
		            "spec.caCertSecretRef: the Secret %s/%s has no PEM certificate in ca.crt",
		            conn_ns, c->ca_secret);
		return TROVE_ERR_INVALID;
	}
	if (p == NULL) {
		p = xcalloc(1, sizeof(*p));
		p->key = xstrdup(key);
		api_config_init(&p->cfg);
		api_config_set(&p->cfg.address, c->address);
		api_config_set(&p->cfg.tls_server_name, c->tls_server_name);
		api_config_set(&p->cfg.ca_pem, ca_pem);
		p->cfg.tls_skip_verify = c->skip_verify;
		p->cfg.native_transport = true;
		p->cfg.transport = s->transport;
		p->cfg.max_retries = CLIENT_MAX_RETRIES;
		p->cfg.user_agent = "trove-secrets-operator";
		if (c->timeout_ms > 0)
			p->cfg.timeout_ms = c->timeout_ms;
		p->next = s->pools;
		s->pools = p;
	}
	if (p->nidle > 0)
		*out = p->idle[--p->nidle];
	else
		r = api_client_new(&p->cfg, out, &why);
	pthread_mutex_unlock(&s->mu);
	if (r != 0) {
		op_fail_set(f, "VaultClientConfigError", "could not make a client for %s: %s", c->address,
		            why ? why : "failed");
		free(why);
	}
	return r;
}

void op_vault_put(struct op *o, struct op_vault *v)
{
	struct op_sync *s = o->sync;
	struct op_pool *p;

	if (v->api) {
		api_client_set_token(v->api, NULL);
		pthread_mutex_lock(&s->mu);
		for (p = s->pools; p && v->pool_key; p = p->next)
			if (strcmp(p->key, v->pool_key) == 0)
				break;
		if (p && p->nidle < POOL_IDLE_MAX) {
			p->idle[p->nidle++] = v->api;
			v->api = NULL;
		}
		pthread_mutex_unlock(&s->mu);
		api_client_free(v->api);
	}
	strlist_release(&v->headers);
	free(v->pool_key);
	free(v->token_key);
	memset(v, 0, sizeof(*v));
}

/* ---- Requests ------------------------------------------------------------ */

static int send_json(struct op *o, struct api_client *api, const struct strlist *headers, const char *method,
                     const char *path, const char *query, const json_t *body, struct api_response *resp)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int r;

	r = api_send_extra(api, method, path, query, text, text ? strlen(text) : 0, headers, resp);
	secure_free_str(text);
	op_metric_add(o, "trove_operator_vault_requests_total", NULL, 1);
	if (r != 0)
		op_metric_add(o, "trove_operator_vault_request_errors_total", NULL, 1);
	return r;
}

int op_vault_send(struct op *o, struct op_vault *v, const char *method, const char *path, const char *query,
                  const json_t *body, struct api_response *resp)
{
	int r = send_json(o, v->api, &v->headers, method, path, query, body, resp);

	if (resp->status == 403 && v->token_key)
		token_drop(o->sync, v->token_key);
	return r;
}

/* ---- Login ------------------------------------------------------------------ */

/* The bytes of key in the Secret ns/name (heap, wiped by the caller). */
static char *secret_value(struct op *o, const char *ns, const char *name, const char *key, struct op_fail *f)
{
	struct kube_resp r;
	const char *b64;
	unsigned char *out = NULL;
	size_t n, len = 0;

	kube_resp_init(&r);
	if (kube_get(o->kube, &KUBE_SECRETS, ns, name, &r) != 0 || r.status != 200) {
		op_fail_set(f, r.status == 404 ? "VaultClientConfigError" : "K8sClientError",
		            "could not read the Secret %s/%s: %s", ns, name, r.error ? r.error : "no answer");
		goto out;
	}
	b64 = json_string_value(json_object_get(json_object_get(r.body, "data"), key));
	if (b64 == NULL) {
		op_fail_set(f, "VaultClientConfigError", "the Secret %s/%s has no key %s", ns, name, key);
		goto out;
	}
	n = strlen(b64);
	out = xmalloc(n + 1);
	if (base64_decode(b64, n, out, n, &len) != 0) {
		secure_free(out, n + 1);
		out = NULL;
		op_fail_set(f, "VaultClientConfigError", "the Secret %s/%s: %s is not base64", ns, name, key);
		goto out;
	}
	out[len] = '\0';
out:
	api_json_free_secret(r.body);
	r.body = NULL;
	kube_resp_release(&r);
	return (char *)out;
}

/* The login body for a (role, jwt, role_id, secret_id as the method has
 * them), plus spec.params. */
static json_t *login_body(struct op *o, const struct op_auth_spec *a, const char *ns, struct op_fail *f)
{
	json_t *body = json_deep_copy(a->params);
	char *jwt = NULL, *err = NULL;
	long exp = 0;

	if (a->method == OP_AUTH_APPROLE) {
		char *sid = secret_value(o, ns, a->secret_ref, "id", f);

		if (sid == NULL)
			goto fail;
		json_object_set_new(body, "role_id", json_string(a->role_id));
		json_object_set_new(body, "secret_id", json_string(sid));
		secure_free_str(sid);
		return body;
	}
	if (a->method == OP_AUTH_JWT && a->sa == NULL) { /* serviceAccount wins over secretRef, as in VSO */
		if ((jwt = secret_value(o, ns, a->secret_ref, "jwt", f)) == NULL)
			goto fail;
	} else if (kube_token_request(o->kube, ns, a->sa, (const char *const *)a->audiences.items, a->audiences.len,
	                              a->expiration_s, &jwt, &exp, &err) != 0) {
		op_fail_set(f, "VaultClientError", "TokenRequest for service account %s/%s failed: %s", ns, a->sa,
		            err ? err : "no answer");
		free(err);
		goto fail;
	}
	json_object_set_new(body, "role", json_string(a->role));
	json_object_set_new(body, "jwt", json_string(jwt));
	secure_free_str(jwt);
	return body;
fail:
	api_json_free_secret(body);
	return NULL;
}

static int login(struct op *o, struct api_client *api, const struct op_auth_spec *a, const char *ns,
                 const struct strlist *headers, const char *token_key, struct op_fail *f)
{
	struct api_response resp;
	json_t *body = login_body(o, a, ns, f);
	const char *token;
	char path[512];
	int r;

	if (body == NULL)
		return TROVE_ERR_INVALID;
	(void)snprintf(path, sizeof(path), "auth/%s/login", a->mount);
	api_response_init(&resp);
	api_client_set_token(api, NULL);
	r = send_json(o, api, headers, "POST", path, NULL, body, &resp);
	api_json_free_secret(body);
	token = op_json_str(resp.json, "auth.client_token");
	if (r == 0 && token == NULL)
		r = TROVE_ERR_UPSTREAM;
	if (r != 0)
		op_fail_set(f, "VaultClientError", "login at %s failed: %s", path,
		            resp.error ? resp.error : "no token in the answer");
	else {
		token_store(o->sync, token_key, token, (long)op_json_int(resp.json, "auth.lease_duration", 0),
		            op_json_bool(resp.json, "auth.renewable", false));
		api_client_set_token(api, token);
	}
	api_response_release(&resp);
	return r;
}

/* Renews the token api carries; false when refused. */
static bool renew(struct op *o, struct api_client *api, const struct strlist *headers, const char *token_key)
{
	struct api_response resp;
	const char *token;
	bool ok;

	api_response_init(&resp);
	ok = send_json(o, api, headers, "POST", "auth/token/renew-self", NULL, NULL, &resp) == 0 &&
	     (token = op_json_str(resp.json, "auth.client_token")) != NULL;
	if (ok)
		token_store(o->sync, token_key, token, (long)op_json_int(resp.json, "auth.lease_duration", 0),
		            op_json_bool(resp.json, "auth.renewable", false));
	api_response_release(&resp);
	return ok;
}

/* ---- Resolution ----------------------------------------------------------- */

static json_t *cached(struct op *o, enum op_kind kind, const struct op_ref *ref)
{
	return o->inf[kind] ? kube_informer_get(o->inf[kind], ref->ns, ref->name) : NULL;
}

static char *join_key(const char *a, const char *b, const char *c, const char *d)
{
	struct buf k;

	buf_init(&k, 4096);
	(void)buf_printf(&k, "%s/%s/%s/%s", a, b, c, d);
	return buf_take(&k);
}

/* The header lines of the connection, the VaultAuth and the Vault
 * namespace (vault_ns NULL or "": none) into l. */
static void set_headers(struct strlist *l, const struct op_conn_spec *c, const struct op_auth_spec *a,
                        const char *vault_ns)
{
	struct buf line;
	size_t i;

	strlist_release(l);
	strlist_init(l);
	for (i = 0; i < c->headers.len; i++)
		(void)strlist_push(l, c->headers.items[i]);
	for (i = 0; i < a->headers.len; i++)
		(void)strlist_push(l, a->headers.items[i]);
	if (vault_ns && *vault_ns && strpbrk(vault_ns, "\r\n") == NULL) {
		buf_init(&line, 4096);
		(void)buf_printf(&line, "X-Vault-Namespace: %s", vault_ns);
		(void)strlist_push_owned(l, buf_take(&line));
	}
}

/* A short name for the CA text, for the pool key. */
static void ca_digest(const char *ca, char out[2 * SHA256_LEN + 1])
{
	unsigned char d[SHA256_LEN];

	if (ca == NULL || sha256(ca, strlen(ca), d) != 0) {
		out[0] = '\0';
		return;
	}
	hex_encode(d, sizeof(d), out);
}

int op_vault_get(struct op *o, const json_t *obj, struct op_vault *out, struct op_fail *f)
{
	const char *ns = op_json_str0(obj, "metadata.namespace");
	const char *vault_ns = op_json_str(obj, "spec.namespace");
	struct op_ref aref = {0}, cref = {0};
	struct op_auth_spec a;
	struct op_conn_spec c;
	json_t *auth = NULL, *conn = NULL;
	char *err = NULL, *ca = NULL, *token = NULL, gen[32], digest[2 * SHA256_LEN + 1];
	bool fresh = false;
	int r = TROVE_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	strlist_init(&out->headers);
	if (op_ref_parse(op_json_str(obj, "spec.vaultAuthRef"), ns, o->namespace, &aref, &err) != 0) {
		op_fail_set(f, "VaultClientConfigError", "spec.vaultAuthRef: %s", err);
		goto out;
	}
	if ((auth = cached(o, OP_VAULT_AUTH, &aref)) == NULL) {
		op_fail_set(f, "VaultClientConfigError", "VaultAuth %s/%s not found", aref.ns, aref.name);
		goto out;
	}
	if (!op_auth_allows_namespace(auth, o->namespace, ns)) {
		op_fail_set(f, "VaultClientConfigError",
		            "VaultAuth %s/%s does not allow namespace %s (see its spec.allowedNamespaces)", aref.ns,
		            aref.name, ns);
		r = TROVE_ERR_PERMISSION;
		goto out;
	}
	if (op_auth_spec_parse(auth, &a, &err) != 0) {
		op_fail_set(f, "VaultClientConfigError", "VaultAuth %s/%s: %s", aref.ns, aref.name, err);
		goto out;
	}
	if (op_ref_parse(a.conn_ref, aref.ns, o->namespace, &cref, &err) != 0) {
		op_fail_set(f, "VaultClientConfigError", "VaultAuth %s/%s: spec.vaultConnectionRef: %s", aref.ns,
		            aref.name, err);
		goto out;
	}
	if ((conn = cached(o, OP_VAULT_CONNECTION, &cref)) == NULL) {
		op_fail_set(f, "VaultClientConfigError", "VaultConnection %s/%s not found", cref.ns, cref.name);
		goto out;
	}
	if (op_conn_spec_parse(conn, &c, &err) != 0) {
		op_fail_set(f, "VaultClientConfigError", "VaultConnection %s/%s: %s", cref.ns, cref.name, err);
		goto out;
	}
	if (c.ca_secret && (ca = secret_value(o, cref.ns, c.ca_secret, "ca.crt", f)) == NULL)
		goto out;
	(void)snprintf(gen, sizeof(gen), "%lld", (long long)op_json_int(conn, "metadata.generation", 0));
	ca_digest(ca, digest);
	out->pool_key = join_key(op_json_str0(conn, "metadata.uid"), gen, digest, "");
	if ((r = pool_checkout(o->sync, out->pool_key, &c, cref.ns, ca, &out->api, f)) != 0)
		goto out;
	(void)snprintf(gen, sizeof(gen), "%lld", (long long)op_json_int(auth, "metadata.generation", 0));
	out->token_key = join_key(op_json_str0(auth, "metadata.uid"), gen, ns, a.sa ? a.sa : "");
	set_headers(&out->headers, &c, &a, a.vault_ns);
	token = token_lookup(o->sync, out->token_key, &fresh);
	if (token) {
		api_client_set_token(out->api, token);
		if (!fresh && !renew(o, out->api, &out->headers, out->token_key)) {
			token_drop(o->sync, out->token_key);
			secure_free_str(token);
			token = NULL;
		}
	}
	if (token == NULL && (r = login(o, out->api, &a, ns, &out->headers, out->token_key, f)) != 0)
		goto out;
	if (vault_ns && *vault_ns) /* the resource's own Vault namespace wins over its VaultAuth's */
		set_headers(&out->headers, &c, &a, vault_ns);
	r = 0;
out:
	if (r != 0)
		op_vault_put(o, out);
	secure_free_str(token);
	secure_free_str(ca);
	free(err);
	op_ref_release(&aref);
	op_ref_release(&cref);
	op_auth_spec_release(&a);
	op_conn_spec_release(&c);
	json_decref(auth);
	json_decref(conn);
	return r;
}
