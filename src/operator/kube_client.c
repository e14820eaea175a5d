/* kube_client.c — one-shot requests to the Kubernetes API (kube.h).
 *
 * HTTP/1.1 on src/api's connection (net_conn.h) and response reader
 * (http_response.h). Idle connections wait in a small pool guarded by a
 * mutex; a request takes one (or opens one), and when a kept one turns
 * out to have been closed by the server before a byte of the answer came,
 * the request is sent once more on a fresh connection. The bearer token
 * comes from the configuration or its token file, re-read when the file
 * changes (checked at most once a second), as projected service-account
 * tokens rotate. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api/http_response.h"
#include "api/net_conn.h"
#include "api/url_parts.h"
#include "err.h"
#include "operator/kube.h"
#include "operator/kube_int.h"
#include "secure.h"

#include "banned.h"

#define POOL_MAX 4
#define TOKEN_RECHECK_MS 1000L
#define READ_CHUNK 16384
#define USER_AGENT "trove-secrets-operator"

struct file_id {
	dev_t dev;
	ino_t ino;
	long long mtime_ns;
	off_t size;
};

struct kube_client {
	struct kube_config cfg;
	bool https;
	char host[256]; /* without brackets */
	char port[8];
	char authority[272]; /* host[:port] as written, for Host: */
	char prefix[1024];   /* the server URL's path, without a trailing '/' */
	SSL_CTX *tls;
	pthread_mutex_t mu; /* the pool and the token */
	struct api_conn pool[POOL_MAX];
	size_t pooled;
	char *token; /* the bearer token in use, or NULL */
	struct file_id token_id;
	long token_checked_ms;
	bool token_checked;
};

void kube_sigpipe_block(struct kube_sigpipe *s)
{
	sigset_t pipe_set, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &s->old);
	s->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}

void kube_sigpipe_restore(struct kube_sigpipe *s)
{
	static const struct timespec now = {0, 0};
	sigset_t pipe_set, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (!s->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1)
		(void)sigtimedwait(&pipe_set, NULL, &now);
	pthread_sigmask(SIG_SETMASK, &s->old, NULL);
}

/* http(s)://host[:port][/prefix] into k (no query or fragment). 0 or
 * TROVE_ERR_INVALID. */
static int parse_server(struct kube_client *k, const char *url)
{
	struct api_url u;
	size_t n;

	if (api_url_parse(url, &u) != 0 || *u.path == '?' || *u.path == '#' ||
	    strlen(u.path) >= sizeof(k->prefix))
		return TROVE_ERR_INVALID;
	k->https = u.https;
	memcpy(k->host, u.host, sizeof(k->host));
	memcpy(k->port, u.port, sizeof(k->port));
	memcpy(k->authority, u.authority, sizeof(k->authority));
	(void)snprintf(k->prefix, sizeof(k->prefix), "%s", u.path);
	for (n = strlen(k->prefix); n > 0 && k->prefix[n - 1] == '/'; n--)
		k->prefix[n - 1] = '\0';
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void copy_config(struct kube_config *to, const struct kube_config *from)
{
	to->server = dup_or_null(from->server);
	to->ca_pem = dup_or_null(from->ca_pem);
	to->insecure = from->insecure;
	to->tls_server_name = dup_or_null(from->tls_server_name);
	to->token = dup_or_null(from->token);
	to->token_file = dup_or_null(from->token_file);
	to->client_cert_pem = dup_or_null(from->client_cert_pem);
	to->client_key_pem = dup_or_null(from->client_key_pem);
	to->namespace = xstrdup(from->namespace ? from->namespace : "default");
}

/* Under k->mu: the token file read again when it changed. */
static void refresh_token(struct kube_client *k)
{
	struct stat st;
	struct file_id id;
	char *text = NULL, *err = NULL;
	size_t len, a;
	long now = api_conn_now_ms();

	if (k->cfg.token_file == NULL || (k->token_checked && now - k->token_checked_ms < TOKEN_RECHECK_MS))
		return;
	k->token_checked = true;
	k->token_checked_ms = now;
	if (stat(k->cfg.token_file, &st) != 0)
		return; /* keep the last token: the file is swapped in place */
	memset(&id, 0, sizeof(id));
	id.dev = st.st_dev, id.ino = st.st_ino, id.size = st.st_size;
	id.mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	if (k->token && memcmp(&id, &k->token_id, sizeof(id)) == 0)
		return;
	if (kube_read_file(k->cfg.token_file, KUBE_FILE_MAX, &text, &len, &err) != 0) {
		free(err);
		return;
	}
	while (len > 0 && strchr(" \t\r\n", text[len - 1]))
		text[--len] = '\0';
	a = strspn(text, " \t\r\n");
	secure_free_str(k->token);
	k->token = len > a ? xstrdup(text + a) : NULL;
	secure_free(text, len);
	k->token_id = id;
}

int kube_client_new(const struct kube_config *cfg, struct kube_client **out, char **err)
{
	struct kube_client *k;
	struct api_conn c;
	size_t i;

	*out = NULL;
	*err = NULL;
	k = xcalloc(1, sizeof(*k));
	if (cfg->server == NULL || parse_server(k, cfg->server) != 0) {
		free(k);
		*err = xstrdup("the Kubernetes API server's address is not an http(s)://host[:port] URL");
		return TROVE_ERR_INVALID;
	}
	api_conn_init(&c);
	if (k->https &&
	    api_conn_tls_ctx_pem(cfg->ca_pem, cfg->insecure, cfg->client_cert_pem,
	                         cfg->client_cert_pem ? cfg->client_key_pem : NULL, &k->tls, &c) != 0) {
		free(k);
		*err = xstrdup(c.why);
		return TROVE_ERR_INVALID;
	}
	copy_config(&k->cfg, cfg);
	pthread_mutex_init(&k->mu, NULL);
	for (i = 0; i < POOL_MAX; i++)
		api_conn_init(&k->pool[i]);
	k->token = dup_or_null(cfg->token);
	refresh_token(k);
	*out = k;
	return 0;
}

void kube_client_free(struct kube_client *k)
{
	struct kube_sigpipe sp;
	size_t i;

	if (k == NULL)
		return;
	kube_sigpipe_block(&sp); /* TLS close_notify may meet a closed socket */
	for (i = 0; i < k->pooled; i++)
		api_conn_close(&k->pool[i]);
	kube_sigpipe_restore(&sp);
	SSL_CTX_free(k->tls);
	secure_free_str(k->token);
	kube_config_release(&k->cfg);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

int kube_conn_open(struct kube_client *k, struct api_conn *c, long deadline)
{
	const char *name = k->cfg.tls_server_name ? k->cfg.tls_server_name : k->host;
	int r;

	if ((r = api_conn_open(c, k->host, k->port, deadline)) != 0 || !k->https)
		return r;
	return api_conn_tls(c, k->tls, name, name, !k->cfg.insecure, deadline);
}

int kube_write_head(struct kube_client *k, const char *method, const char *path, const char *content_type,
                    size_t body_len, struct buf *head)
{
	int r;

	if (strpbrk(path, " \r\n") != NULL || path[0] != '/')
		return TROVE_ERR_INVALID;
	r = buf_printf(head,
	               "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: " USER_AGENT
	               "\r\nAccept: application/json\r\n",
	               method, k->prefix, path, k->authority);
	pthread_mutex_lock(&k->mu);
	refresh_token(k);
	if (r == 0 && k->token)
		r = buf_printf(head, "Authorization: Bearer %s\r\n", k->token);
	pthread_mutex_unlock(&k->mu);
	if (r == 0 && body_len != (size_t)-1)
		r = buf_printf(head, "Content-Type: %s\r\nContent-Length: %zu\r\n",
		               content_type ? content_type : "application/json", body_len);
	return r ? r : buf_append_str(head, "\r\n");
}

const char *kube_status_message(const json_t *body)
{
	const char *kind = json_string_value(json_object_get(body, "kind"));

	if (kind && strcmp(kind, "Status") == 0)
		return json_string_value(json_object_get(body, "message"));
	return NULL;
}

void kube_resp_init(struct kube_resp *r)
{
	memset(r, 0, sizeof(*r));
}

void kube_resp_release(struct kube_resp *r)
{
	if (r == NULL)
		return;
	json_decref(r->body);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

static bool pool_take(struct kube_client *k, struct api_conn *c)
{
	bool got = false;

	pthread_mutex_lock(&k->mu);
	while (!got && k->pooled > 0) {
		*c = k->pool[--k->pooled];
		api_conn_init(&k->pool[k->pooled]);
		got = api_conn_idle_ok(c);
		if (!got)
			api_conn_close(c);
	}
	pthread_mutex_unlock(&k->mu);
	return got;
}

static void pool_put(struct kube_client *k, struct api_conn *c)
{
	pthread_mutex_lock(&k->mu);
	if (k->pooled < POOL_MAX) {
		k->pool[k->pooled++] = *c;
		api_conn_init(c);
	}
	pthread_mutex_unlock(&k->mu);
	api_conn_close(c);
}

/* The answer on c into rd. 0 when complete (*leftover: bytes after it),
 * else a failure in c. */
static int read_answer(struct api_conn *c, struct api_http_reader *rd, long deadline, bool *leftover)
{
	char chunk[READ_CHUNK];
	size_t got, used;
	int r;

	for (;;) {
		if ((r = api_conn_read(c, chunk, sizeof(chunk), &got, deadline)) != 0)
			break;
		if (got == 0) {
			if ((r = api_http_reader_eof(rd)) != 0) {
				c->failure = API_FAIL_EXCHANGE;
				(void)snprintf(c->why, sizeof(c->why), "%s", rd->why);
				r = TROVE_ERR_UPSTREAM;
			}
			break;
		}
		r = api_http_reader_feed(rd, chunk, got, &used);
		if (r == API_HTTP_MORE)
			continue;
		if (r == 0) {
			*leftover = used < got;
			break;
		}
		c->failure = r == TROVE_ERR_TOO_LARGE ? API_FAIL_TOO_LARGE : API_FAIL_EXCHANGE;
		(void)snprintf(c->why, sizeof(c->why), "%s", rd->why);
		r = TROVE_ERR_UPSTREAM;
		break;
	}
	secure_wipe(chunk, sizeof(chunk));
	return r;
}

/* One exchange on a kept connection or a new one; a kept one found
 * closed before any byte of the answer is replaced once. */
static int exchange(struct kube_client *k, const struct buf *head, const char *body, size_t blen,
                    struct buf *out, struct api_http_reader *rd, struct api_conn *c, long deadline)
{
	bool reused, leftover = false;
	int tries, r = 0;

	for (tries = 0; tries < 2; tries++) {
		api_conn_init(c);
		reused = tries == 0 && pool_take(k, c);
		if (!reused && (r = kube_conn_open(k, c, deadline)) != 0)
			return r;
		buf_reset(out);
		api_http_reader_init(rd, false, out);
		r = api_conn_write(c, head->data, head->len, deadline);
		if (r == 0 && blen > 0)
			r = api_conn_write(c, body, blen, deadline);
		if (r == 0)
			r = read_answer(c, rd, deadline, &leftover);
		if (r == 0)
			break;
		if (!(reused && c->failure == API_FAIL_EXCHANGE && !api_http_reader_started(rd)))
			return r;
		api_conn_close(c);
		api_http_reader_release(rd);
	}
	if (rd->keep_alive && !leftover)
		pool_put(k, c);
	else
		api_conn_close(c);
	return 0;
}

int kube_request(struct kube_client *k, const char *method, const char *path, const json_t *body,
                 const char *content_type, struct kube_resp *r)
{
	return kube_request_within(k, method, path, body, content_type, KUBE_REQUEST_TIMEOUT_MS, r);
}

int kube_request_within(struct kube_client *k, const char *method, const char *path, const json_t *body,
                        const char *content_type, long timeout_ms, struct kube_resp *r)
{
	long deadline = api_conn_now_ms() + timeout_ms;
	struct api_http_reader rd;
	struct kube_sigpipe sp;
	struct api_conn c;
	struct buf head, out;
	char *text = NULL;
	const char *msg;
	size_t blen;
	int e;

	kube_resp_release(r);
	if (body && (text = json_dumps(body, JSON_COMPACT)) == NULL) {
		r->error = xstrdup("the request body cannot be written as JSON");
		return TROVE_ERR_INVALID;
	}
	blen = text ? strlen(text) : 0;
	buf_init_secret(&head, (size_t)1 << 20);
	buf_init_secret(&out, KUBE_MAX_BODY);
	api_conn_init(&c);
	memset(&rd, 0, sizeof(rd));
	e = kube_write_head(k, method, path, content_type, text || strcmp(method, "GET") ? blen : (size_t)-1,
	                    &head);
	if (e != 0) {
		r->error = xstrdup("the request cannot be written (a bad path)");
		goto out;
	}
	kube_sigpipe_block(&sp);
	e = exchange(k, &head, text, blen, &out, &rd, &c, deadline);
	if (e != 0) {
		r->error = xstrdup(c.why[0] ? c.why : "no answer from the Kubernetes API server");
		e = c.failure == API_FAIL_TIMEOUT ? TROVE_ERR_TIMEOUT : TROVE_ERR_UPSTREAM;
		api_conn_close(&c);
	}
	kube_sigpipe_restore(&sp);
	if (e != 0)
		goto out;
	r->status = rd.status;
	if (out.len > 0)
		r->body = json_loadb(out.data, out.len, JSON_DECODE_ANY, NULL);
	if (r->status >= 400) {
		msg = kube_status_message(r->body);
		if (msg && *msg) {
			r->error = xstrdup(msg);
		} else {
			r->error = xmalloc(64);
			(void)snprintf(r->error, 64, "the Kubernetes API server answered %d", r->status);
		}
	}
out:
	api_http_reader_release(&rd);
	buf_release_secret(&head);
	buf_release_secret(&out);
	if (text)
		secure_free_str(text);
	return e;
}

/* kube_request on the path of res/ns/name/sub. */
static int on_path(struct kube_client *k, const char *method, const struct kube_resource *res, const char *ns,
                   const char *name, const char *sub, const char *type, const json_t *body,
                   struct kube_resp *r)
{
	char *path = kube_path(res, ns, name, sub, NULL);
	int e = kube_request(k, method, path, body, type, r);

	free(path);
	return e;
}

int kube_get(struct kube_client *k, const struct kube_resource *res, const char *ns, const char *name,
             struct kube_resp *r)
{
	return on_path(k, "GET", res, ns, name, NULL, NULL, NULL, r);
}

int kube_create(struct kube_client *k, const struct kube_resource *res, const char *ns, const json_t *obj,
                struct kube_resp *r)
{
	return on_path(k, "POST", res, ns, NULL, NULL, NULL, obj, r);
}

int kube_replace(struct kube_client *k, const struct kube_resource *res, const char *ns, const char *name,
                 const char *sub, const json_t *obj, struct kube_resp *r)
{
	return on_path(k, "PUT", res, ns, name, sub, NULL, obj, r);
}

int kube_patch(struct kube_client *k, const struct kube_resource *res, const char *ns, const char *name,
               const char *sub, const char *type, const json_t *patch, struct kube_resp *r)
{
	return on_path(k, "PATCH", res, ns, name, sub, type ? type : KUBE_MERGE_PATCH, patch, r);
}

int kube_delete(struct kube_client *k, const struct kube_resource *res, const char *ns, const char *name,
                struct kube_resp *r)
{
	return on_path(k, "DELETE", res, ns, name, NULL, NULL, NULL, r);
}

int kube_token_request(struct kube_client *k, const char *ns, const char *sa, const char *const *audiences,
                       size_t n, long expiration_seconds, char **token, long *expires_at, char **err)
{
	static const struct kube_resource sas = {"", "v1", "serviceaccounts", true};
	struct kube_resp r;
	json_t *req, *aud = json_array();
	const char *tok, *exp;
	long long micros;
	size_t i;
	int e;

	*token = NULL;
	*expires_at = 0;
	*err = NULL;
	if (expiration_seconds < 600) {
		json_decref(aud);
		*err = xstrdup("a TokenRequest's expirationSeconds must be at least 600");
		return TROVE_ERR_INVALID;
	}
	for (i = 0; i < n; i++)
		json_array_append_new(aud, json_string(audiences[i]));
	req = json_pack("{s:s, s:s, s:{s:o, s:I}}", "apiVersion", "authentication.k8s.io/v1", "kind",
	                "TokenRequest", "spec", "audiences", aud, "expirationSeconds",
	                (json_int_t)expiration_seconds);
	kube_resp_init(&r);
	e = on_path(k, "POST", &sas, ns, sa, "token", NULL, req, &r);
	json_decref(req);
	if (e != 0 || (r.status != 200 && r.status != 201)) {
		if (e == 0)
			e = r.status == 404   ? TROVE_ERR_NOT_FOUND
			    : r.status == 403 ? TROVE_ERR_PERMISSION
			                      : TROVE_ERR_UPSTREAM;
		*err = xmalloc(1024);
		(void)snprintf(*err, 1024, "TokenRequest for %s/%s: %s", ns, sa,
		               r.error ? r.error : "failed");
		goto out;
	}
	tok = json_string_value(json_object_get(json_object_get(r.body, "status"), "token"));
	exp = json_string_value(json_object_get(json_object_get(r.body, "status"), "expirationTimestamp"));
	if (tok == NULL || *tok == '\0' || exp == NULL || kube_parse_time(exp, &micros) != 0) {
		e = TROVE_ERR_UPSTREAM;
		*err =
		    xstrdup("the TokenRequest's answer has no status.token and status.expirationTimestamp");
		goto out;
	}
	*token = xstrdup(tok);
	*expires_at = (long)(micros / 1000000);
out:
	kube_resp_release(&r);
	return e;
}
