/* agent_proxy.c — the API proxy part and its event loop (agent_proxy.h).
 *
 * Threads: ONE h2o event loop serves every listener; calls to the server
 * block (the API client is synchronous), so they run on PROXY_WORKERS
 * worker threads, each with its own API client, and their answers come
 * back to the loop through h2o's multithread queue, as the server does
 * with its pool. The loop never waits on the server and a slow upstream
 * call holds one worker, not the listeners; a fixed pool keeps memory
 * flat (no thread per request). With cache { }, one more thread renews
 * the cached leases and tokens when they are due and sleeps otherwise.
 * Nothing polls: the loop blocks in epoll until a connection, an answer
 * or the stop message arrives; the workers wait on a condition variable.
 *
 * On the loop a request is read whole (bodies up to PROXY_MAX_BODY),
 * copied into a job with the headers to relay, and either answered there
 * (/agent/v1/ endpoints, refusals) or queued for a worker. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent_parts.h"
#include "agent/agent_proxy.h"
#include "agent/agent_proxy_int.h"
#include "err.h"
#include "log.h"
#include "secure.h"

#include "banned.h"

/* The request headers relayed to the server besides the token. */
static const char *const relayed[] = {
	"x-vault-namespace", "x-vault-wrap-ttl",    "x-vault-request",     "x-vault-policy-override",
	"x-vault-index",     "x-vault-inconsistent", "x-vault-forward",
};

struct open_conn {
	h2o_linklist_t link;
	h2o_socket_t *sock;
};

bool agent_proxy_wanted(const struct agent_config *cfg)
{
	return cfg->nlisteners > 0;
}

const char *agent_proxy_address(const struct agent *a, size_t i)
{
	return a->proxy && i < a->proxy->nls ? a->proxy->ls[i].address : NULL;
}

/* ---- answers ---------------------------------------------------------------- */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 412: return "Precondition Failed";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return status < 400 ? "OK" : "Error";
	}
}

static void send_answer(struct proxy_job *j)
{
	h2o_req_t *hreq = j->hreq;

	hreq->res.status = j->status;
	hreq->res.reason = reason(j->status);
	hreq->res.content_length = j->out.len;
	for (size_t i = 0; i < j->headers.len; i++) {
		const char *line = j->headers.items[i], *colon = strchr(line, ':');
		if (colon == NULL)
			continue;
		size_t nl = (size_t)(colon - line);
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		char *name = h2o_mem_alloc_pool(&hreq->pool, nl);
		memcpy(name, line, nl);
		h2o_strtolower(name, nl);
		h2o_iovec_t val = h2o_strdup(&hreq->pool, v, strlen(v));
		h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, name, nl, 0, NULL, val.base, val.len);
	}
	if (j->out.len > 0) {
		/* h2o sends from the pool: the secret body is copied there and
		 * j's copy wiped with the job. */
		h2o_iovec_t body = h2o_strdup(&hreq->pool, j->out.data, j->out.len);
		h2o_send_inline(hreq, body.base, body.len);
	} else {
		h2o_send_inline(hreq, "", 0);
	}
}

static void on_job_done(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
	struct agent_proxy *p = H2O_STRUCT_FROM_MEMBER(struct agent_proxy, done_rx, rx);

	while (!h2o_linklist_is_empty(messages)) {
		h2o_multithread_message_t *msg = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
		struct proxy_job *j = (struct proxy_job *)msg;

		h2o_linklist_unlink(&msg->link);
		p->jobs_in_flight--;
		send_answer(j);
		proxy_job_free(j);
	}
}

static void on_stop_msg(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
	struct agent_proxy *p = H2O_STRUCT_FROM_MEMBER(struct agent_proxy, stop_rx, rx);

	while (!h2o_linklist_is_empty(messages))
		h2o_linklist_unlink(messages->next);
	p->loop_stop = true;
}

/* ---- requests ------------------------------------------------------------------ */

static char *header_dup(h2o_req_t *hreq, const char *name)
{
	ssize_t i = h2o_find_header_by_str(&hreq->headers, name, strlen(name), -1);

	if (i < 0)
		return NULL;
	return xstrndup(hreq->headers.entries[i].value.base, hreq->headers.entries[i].value.len);
}

/* Copies what the workers need out of h2o's request. Returns false when a
 * header value holds a line break (it would forge headers upstream). */
static bool job_fill(struct proxy_job *j, h2o_req_t *hreq)
{
	const char *q = memchr(hreq->path.base, '?', hreq->path.len);
	size_t plen = q ? (size_t)(q - hreq->path.base) : hreq->path.len;
	bool ok = true;

	j->method = xstrndup(hreq->method.base, hreq->method.len);
	j->path = xstrndup(hreq->path.base, plen);
	if (q && hreq->path.len - plen > 1)
		j->query = xstrndup(q + 1, hreq->path.len - plen - 1);
	j->token = header_dup(hreq, "x-vault-token");
	if (j->token && *j->token == '\0') {
		free(j->token);
		j->token = NULL;
	}
	j->namespace_name = header_dup(hreq, "x-vault-namespace");
	for (size_t i = 0; i < sizeof(relayed) / sizeof(relayed[0]); i++) {
		char *v = header_dup(hreq, relayed[i]);
		struct buf line;

		if (v == NULL)
			continue;
		if (strpbrk(v, "\r\n") != NULL)
			ok = false;
		buf_init(&line, BUF_CAP_DEFAULT);
		(void)buf_printf(&line, "%s: %s", relayed[i], v);
		(void)strlist_push_owned(&j->relay, buf_take(&line));
		buf_release(&line);
		free(v);
	}
	if (j->token && strpbrk(j->token, "\r\n") != NULL)
		ok = false;
	if (hreq->entity.base && hreq->entity.len > 0 && buf_append(&j->body, hreq->entity.base, hreq->entity.len) != 0)
		ok = false;
	return ok;
}

static struct proxy_job *job_new(h2o_req_t *hreq)
{
	struct proxy_job *j = xcalloc(1, sizeof(*j));

	j->hreq = hreq;
	strlist_init(&j->relay);
	strlist_init(&j->headers);
	buf_init_secret(&j->body, PROXY_MAX_BODY);
	buf_init_secret(&j->out, API_MAX_BODY);
	return j;
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* X-Vault-Request: true, given once (Vault Agent's SSRF check). */
static bool request_header_ok(h2o_req_t *hreq)
{
	ssize_t i = h2o_find_header_by_str(&hreq->headers, H2O_STRLIT("x-vault-request"), -1);

	if (i < 0 || h2o_find_header_by_str(&hreq->headers, H2O_STRLIT("x-vault-request"), i) >= 0)
		return false;
	return h2o_memis(hreq->headers.entries[i].value.base, hreq->headers.entries[i].value.len, H2O_STRLIT("true"));
}

static int on_req(h2o_handler_t *self, h2o_req_t *hreq)
{
	struct proxy_listener *l = (struct proxy_listener *)hreq->conn->ctx;
	struct agent_proxy *p = l->p;
	struct proxy_job *j = job_new(hreq);
	bool metrics_only = l->cfg->role && strcmp(l->cfg->role, "metrics_only") == 0;

	(void)self;
	agent_rest_note(&p->a->rest);
	if (!job_fill(j, hreq)) {
		proxy_job_error(j, 400, "invalid request: a header value holds a line break");
		goto reply;
	}
	if (has_prefix(j->path, "/agent/v1/") && proxy_agent_api(p, l, j))
		goto reply;
	if (metrics_only || !has_prefix(j->path, "/v1/")) {
		proxy_job_error(j, 404, "404 page not found");
		goto reply;
	}
	if (l->cfg->require_request_header && !request_header_ok(hreq)) {
		proxy_job_error(j, 412, "missing \"X-Vault-Request\" header");
		goto reply;
	}
	p->jobs_in_flight++;
	proxy_submit(p, j);
	return 0;
reply:
	send_answer(j);
	proxy_job_free(j);
	return 0;
}

/* ---- connections ------------------------------------------------------------------ */

static void on_conn_closed(void *data)
{
	struct open_conn *oc = data;

	h2o_linklist_unlink(&oc->link);
	free(oc);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
	struct proxy_listener *l;
	h2o_socket_t *sock;
	struct open_conn *oc;

	if (err != NULL || (sock = h2o_evloop_socket_accept(listener)) == NULL)
		return;
	l = (struct proxy_listener *)((h2o_accept_ctx_t *)listener->data)->ctx;
	oc = xcalloc(1, sizeof(*oc));
	oc->sock = sock;
	h2o_linklist_insert(&l->p->conns, &oc->link);
	sock->on_close.cb = on_conn_closed;
	sock->on_close.data = oc;
	h2o_accept(listener->data, sock);
}

/* ---- the loop ------------------------------------------------------------------------ */

/* h2o's objects are made on the loop's own thread (its socket buffer
 * recycler is per thread; see the server's listener.c). */
static void loop_setup(struct agent_proxy *p)
{
	p->loop = h2o_evloop_create();
	p->queue = h2o_multithread_create_queue(p->loop);
	h2o_multithread_register_receiver(p->queue, &p->done_rx, on_job_done);
	h2o_multithread_register_receiver(p->queue, &p->stop_rx, on_stop_msg);
	h2o_linklist_init_anchor(&p->conns);
	for (size_t i = 0; i < p->nls; i++) {
		struct proxy_listener *l = &p->ls[i];
		h2o_context_init(&l->ctx, p->loop, &l->gconf);
		l->accept.ctx = &l->ctx;
		l->accept.hosts = l->gconf.hosts;
		l->accept.ssl_ctx = l->ssl;
		l->sock = h2o_evloop_socket_create(p->loop, l->fd, H2O_SOCKET_FLAG_DONT_READ);
		l->fd = -1; /* the socket owns it now */
		l->sock->data = &l->accept;
		h2o_socket_read_start(l->sock, on_accept);
	}
	pthread_mutex_lock(&p->ready_mu);
	p->ready = true;
	pthread_cond_broadcast(&p->ready_cond);
	pthread_mutex_unlock(&p->ready_mu);
}

/* Stops accepting, lets answers in flight come back (up to 5 s), closes
 * the connections and frees the loop, on the loop's thread. */
static void loop_shutdown(struct agent_proxy *p)
{
	uint64_t deadline;

	for (size_t i = 0; i < p->nls; i++)
		if (p->ls[i].sock) {
			h2o_socket_read_stop(p->ls[i].sock);
			h2o_socket_close(p->ls[i].sock);
			p->ls[i].sock = NULL;
		}
	deadline = h2o_now(p->loop) + 5000;
	while (p->jobs_in_flight > 0 && h2o_now(p->loop) < deadline)
		h2o_evloop_run(p->loop, 50);
	for (h2o_linklist_t *n = p->conns.next; n != &p->conns; n = n->next) {
		struct open_conn *oc = H2O_STRUCT_FROM_MEMBER(struct open_conn, link, n);
		shutdown(h2o_socket_get_fd(oc->sock), SHUT_RDWR);
	}
	deadline = h2o_now(p->loop) + 2000;
	while (!h2o_linklist_is_empty(&p->conns) && h2o_now(p->loop) < deadline)
		h2o_evloop_run(p->loop, 50);
	if (!h2o_linklist_is_empty(&p->conns) || p->jobs_in_flight > 0) {
		/* A worker still holds a request: leaving the loop allocated is
		 * safer than freeing what it will touch. */
		log_warn("agent proxy: connections still open at shutdown");
		return;
	}
	for (size_t i = 0; i < p->nls; i++)
		h2o_context_dispose(&p->ls[i].ctx);
	h2o_multithread_unregister_receiver(p->queue, &p->done_rx);
	h2o_multithread_unregister_receiver(p->queue, &p->stop_rx);
	h2o_multithread_destroy_queue(p->queue);
	p->queue = NULL;
	h2o_evloop_run(p->loop, 0);
	h2o_evloop_destroy(p->loop);
	p->loop = NULL;
}

static void *loop_main(void *arg)
{
	struct agent_proxy *p = arg;

	loop_setup(p);
	while (!p->loop_stop)
		h2o_evloop_run(p->loop, INT32_MAX);
	loop_shutdown(p);
	return NULL;
}

/* ---- the part ---------------------------------------------------------------------------- */

static void proxy_free(struct agent_proxy *p)
{
	for (size_t i = 0; i < p->nls; i++) {
		proxy_listen_release(&p->ls[i]);
		if (p->ls[i].gconf_init)
			h2o_config_dispose(&p->ls[i].gconf);
	}
	free(p->ls);
	agent_cache_free(p->cache);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cond);
	if (p->renew_cond_init) {
		pthread_cond_destroy(&p->renew_cond);
		pthread_cond_destroy(&p->inflight_cond);
	}
	pthread_mutex_destroy(&p->ready_mu);
	pthread_cond_destroy(&p->ready_cond);
	free(p);
}

static void setup_handler(struct proxy_listener *l)
{
	h2o_hostconf_t *host;
	h2o_pathconf_t *path;
	h2o_handler_t *h;

	h2o_config_init(&l->gconf);
	l->gconf_init = true;
	l->gconf.server_name = h2o_iovec_init(H2O_STRLIT("trove-agent"));
	l->gconf.max_request_entity_size = PROXY_MAX_BODY;
	l->gconf.http1.req_timeout = PROXY_HEADER_TIMEOUT_MS;
	l->gconf.handshake_timeout = PROXY_HANDSHAKE_TIMEOUT_MS;
	host = h2o_config_register_host(&l->gconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	path = h2o_config_register_path(host, "/", 0);
	h = h2o_create_handler(path, sizeof(*h));
	h->on_req = on_req;
}

int agent_proxy_start(struct agent *a, struct buf *err)
{
	const struct agent_config *cfg = a->cfg;
	struct agent_proxy *p;
	int r;

	p = xcalloc(1, sizeof(*p));
	p->a = a;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	pthread_mutex_init(&p->ready_mu, NULL);
	pthread_cond_init(&p->ready_cond, NULL);
	p->q_tail = &p->q_head;
	a->proxy = p;
	/* Bodies past h2o's threshold would go to a temporary file; keep
	 * them in memory (they carry secrets), bounded by PROXY_MAX_BODY. */
	h2o_socket_buffer_mmap_settings.threshold = SIZE_MAX;
	p->ls = xcalloc(cfg->nlisteners, sizeof(*p->ls));
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		struct proxy_listener *l = &p->ls[i];
		l->fd = -1;
		l->cfg = &cfg->listeners[i];
		l->p = p;
		p->nls++;
		setup_handler(l);
		if ((r = proxy_listen(l, err)) != 0)
			return r;
	}
	if (cfg->cache.present)
		p->cache = agent_cache_new(0, 0);
	if ((r = proxy_workers_start(p, err)) != 0)
		return r;
	if (pthread_create(&p->loop_tid, NULL, loop_main, p) != 0) {
		buf_printf(err, "agent proxy: cannot start its event-loop thread");
		return TROVE_ERR_INTERNAL;
	}
	p->loop_started = true;
	pthread_mutex_lock(&p->ready_mu);
	while (!p->ready)
		pthread_cond_wait(&p->ready_cond, &p->ready_mu);
	pthread_mutex_unlock(&p->ready_mu);
	for (size_t i = 0; i < p->nls; i++)
		log_info("agent proxy: listener started", "address", p->ls[i].address, "type", p->ls[i].cfg->type,
		         "tls", p->ls[i].ssl ? "enabled" : "disabled");
	return 0;
}

void agent_proxy_stop(struct agent *a)
{
	struct agent_proxy *p = a->proxy;

	if (p == NULL)
		return;
	if (p->loop_started) {
		h2o_multithread_send_message(&p->stop_rx, &p->stop_msg);
		pthread_join(p->loop_tid, NULL);
	}
	proxy_workers_stop(p);
	if (p->loop != NULL) {
		/* The loop could not finish (a request still out): leave it. */
		a->proxy = NULL;
		return;
	}
	proxy_free(p);
	a->proxy = NULL;
}
