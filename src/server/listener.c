/* listener.c — h2o glue: sockets, TLS, loop threads, request hand-off.
 * See listener.h for the threading model. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <h2o.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listener.h"
#include "server/cluster_id.h"
#include "server/forward.h"
#include "server/forward_client.h"
#include "server/standby.h"

#include "api/url_parts.h"
#include "core/audit.h"
#include "core/core.h"
#include "core/ha.h"
#include "core/ha_reads.h"
#include "core/router.h"
#include "body_buffer.h"
#include "duration.h"
#include "err.h"
#include "http.h"
#include "linger.h"
#include "log.h"
#include "pool.h"
#include "secure.h"
#include "storage/storage.h"
#include "thread_role.h"

#include "banned.h"

struct listener_set;

struct listener_rt {
	const struct listener_config *cfg;
	bool cluster; /* the cluster listener: forwarded requests only */
	h2o_globalconf_t gconf;
	SSL_CTX *ssl;
	int *fds; /* one per thread */
};

struct loop_thread;
struct job;

struct loop_listener {
	h2o_context_t ctx; /* first: requests find us through conn->ctx */
	h2o_accept_ctx_t accept;
	h2o_timeout_t duration;
	h2o_socket_t *sock;
	struct loop_thread *thread;
};

/* An accepted connection, tracked so shutdown can close idle keep-alive
 * connections instead of waiting for their timeout. */
struct open_conn {
	h2o_linklist_t link;
	h2o_socket_t *sock;
	struct loop_thread *thread;
	int linger_fd; /* kept open past h2o's close (linger.h), or -1 */
	SSL *ssl;      /* the connection's TLS state (h2o's), or NULL: set when
	                * its handshake starts, freed by h2o before the
	                * connection's close callback */
	/* Body buffers sized once (body_buffer.h): h2o's read callback,
	 * which read_fitting calls after fitting the buffer; the link in the
	 * loop's wrap list while h2o's next callback is still to be wrapped;
	 * the input buffer fitting is done for; the listener's body limit. */
	h2o_socket_cb h2o_read;
	h2o_linklist_t to_wrap;
	const h2o_buffer_t *fitted;
	size_t body_max;
};

struct loop_thread {
	pthread_t tid;
	unsigned index; /* its socket in each listener_rt's fds */
	bool started;
	h2o_linklist_t conns;   /* struct open_conn */
	h2o_linklist_t to_wrap; /* struct open_conn, by to_wrap */
	struct linger_set linger; /* connections drained after h2o's own refusals */
	unsigned jobs_in_flight; /* submitted to the pool, reply not yet sent */
	struct job *inline_head; /* requests to serve on the loop, in arrival order */
	struct job **inline_tail;
	h2o_timeout_t inline_timeout; /* zero: fires at the end of the loop turn */
	h2o_timeout_entry_t inline_timer; /* linked while inline_head is not NULL */
	h2o_evloop_t *loop;
	h2o_multithread_queue_t *queue;
	h2o_multithread_receiver_t receiver;
	struct loop_listener *listeners;
	struct listener_set *set;
};

struct listener_set {
	struct core *core;
	struct pool *pool;      /* the shared worker pool */
	struct pool *hash_pool; /* password hashing only (router_is_hashing) */
	struct listener_rt *rts;
	size_t nrts;
	struct loop_thread *threads;
	unsigned nthreads;
	pthread_mutex_t ready_lock; /* counts the loops set up (loop_setup) */
	pthread_cond_t ready_cond;
	unsigned ready;
	atomic_bool stopping;
	/* the cluster listener's settings: cluster_addr's host and port, the
	 * first listener's limits */
	struct listener_config cluster_cfg;
};

struct trove_handler {
	h2o_handler_t super;
	struct listener_set *set;
	bool cluster;
};

struct job {
	h2o_multithread_message_t msg; /* first: the receiver casts back */
	struct request req;
	struct response resp;
	int err;
	h2o_req_t *hreq;
	struct loop_listener *ll;
	h2o_timeout_entry_t timer;
	/* Set by the loop's timer once the 504 is sent (the HTTP request,
	 * body included, is then gone); under mu while a worker may run. */
	bool abandoned;
	pthread_mutex_t mu;
	struct job *next; /* in the loop's inline queue */
	/* X-Vault-Index: the largest the client sent (0: none), and the
	 * commit index of what the request wrote (0: nothing) */
	uint64_t want_index, write_index;
	/* Set when a standby forwards the request to the active node
	 * (forward.h): the worker runs that instead of the router. */
	struct forward_call *fwd;
	/* What the 504 needs, copied when the job is handed to the pool: from
	 * then on a worker owns req (it may change op, fill data, mount and
	 * token), so the loop's timer path reads only these. */
	struct {
		char id[sizeof(((struct request *)0)->id)];
		char *path; /* owned */
		enum op op;
	} handoff;
};

static void job_free(struct job *j)
{
	pthread_mutex_destroy(&j->mu);
	forward_free(j->fwd);
	free(j->handoff.path);
	request_release(&j->req);
	response_release(&j->resp);
	free(j);
}

/* The headers the handler set and the mount allows (router.c filtered
 * them; request.c checked their syntax), copied into the request's pool. */
static void add_engine_headers(h2o_req_t *hreq, const struct response *resp)
{
	const char *name;
	json_t *vals, *v;
	size_t i;
	json_object_foreach(resp->headers, name, vals)
	{
		json_array_foreach(vals, i, v)
		{
			size_t nl = strlen(name), vl = json_string_length(v);
			char *n = h2o_mem_alloc_pool(&hreq->pool, nl);
			memcpy(n, name, nl);
			h2o_strtolower(n, nl);
			h2o_iovec_t val = h2o_strdup(&hreq->pool, json_string_value(v), vl);
			h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, n, nl, 0, NULL, val.base, val.len);
		}
	}
}

static void send_reply(h2o_req_t *hreq, const struct request *req, const struct response *resp, int err,
                       uint64_t write_index)
{
	struct buf body;
	int status = 500;
	char index[HA_READS_HEADER_MAX];
	size_t index_len = ha_reads_header(write_index, index, sizeof(index));
	buf_init_secret(&body, (size_t)64 << 20); /* responses carry secrets and tokens */
	if (http_render(req, resp, err, &status, &body) != 0) {
		buf_reset(&body);
		status = 500;
		buf_append_str(&body, "{\"errors\":[\"internal error\"]}\n");
	}
	if (status >= 500) {
		/* The one report of the failure: core code returns its detail
		 * (response_fail_detail) rather than logging it too. */
		char *path = request_path_redacted(req); /* no secret parameter in the log */
		if (resp->fail_what)
			log_msg(LOG_ERROR, "request failed", "request_id", req->id, "path", path, "status",
			        http_reason(status), "detail", resp->fail_what, "error", resp->fail_error, NULL);
		else
			log_msg(LOG_ERROR, "request failed", "request_id", req->id, "path", path, "status",
			        http_reason(status), NULL);
		free(path);
	}
	hreq->res.status = status;
	hreq->res.reason = http_reason(status);
	hreq->res.content_length = body.len;
	h2o_add_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
	if (err == TROVE_ERR_RATE_LIMIT)
		h2o_add_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
			       H2O_STRLIT(LISTENER_RETRY_AFTER_S));
	add_engine_headers(hreq, resp);
	if (index_len > 0)
		h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, H2O_STRLIT("x-vault-index"), 0, NULL,
		                      h2o_strdup(&hreq->pool, index, index_len).base, index_len);
	if (body.len > 0) {
		const char *type = err == 0 && resp->text && resp->text_type ? resp->text_type : "application/json";
		h2o_add_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
	}
	h2o_send_inline(hreq, body.data, body.len);
	buf_release(&body);
}

/* On a worker. The body still points into the HTTP request's buffer
 * (h2o stops reading a connection once its request is complete, so the
 * buffer stays put): it is copied here, off the loop, unless the 504 was
 * already sent, in which case the request does not run at all. What the
 * router left unparsed is wiped here too. */
static void run_job(void *arg)
{
	struct job *j = arg;
	struct route_match m = { j->req.route };
	pthread_mutex_lock(&j->mu);
	bool late = j->abandoned;
	if (!late)
		request_body_own(&j->req);
	pthread_mutex_unlock(&j->mu);
	if (late) {
		/* answered already */
	} else if (j->fwd) {
		forward_run(j->fwd, j->req.core, &j->req);
	} else if (j->want_index > 0 && !ha_reads_wait(j->want_index, HA_READS_WAIT_MS)) {
		j->err = response_error(&j->resp, TROVE_ERR_PRECONDITION, "required index state not present");
	} else {
		storage_write_index_reset();
		j->err = router_dispatch(&j->req, &m, &j->resp);
		j->write_index = storage_write_index();
	}
	if (!j->req.send_to_active) /* else forwarded with its body, later */
		request_body_drop(&j->req);
	h2o_multithread_send_message(&j->ll->thread->receiver, &j->msg);
}

static void on_duration_exceeded(h2o_timeout_entry_t *entry);
static void wrap_later(struct open_conn *oc);

/* Hands a request to its pool (its reply comes back through
 * on_job_done): the hashing pool for password hashing, else the shared
 * worker pool. Returns false, with j->err and j->resp set, when that
 * pool's queue is full: 429 for the hashing pool (a login flood; the
 * client retries after LISTENER_RETRY_AFTER_S), 503 for the shared one. */
static bool submit_to_pool(struct job *j)
{
	struct loop_thread *t = j->ll->thread;
	struct route_match m = {j->req.route};
	bool hashing = !j->fwd && router_is_hashing(&j->req, &m);
	memcpy(j->handoff.id, j->req.id, sizeof(j->handoff.id));
	free(j->handoff.path);
	j->handoff.path = xstrdup(j->req.path ? j->req.path : "");
	j->handoff.op = j->req.op;
	j->timer.cb = on_duration_exceeded;
	h2o_timeout_link(t->loop, &j->ll->duration, &j->timer);
	if (pool_submit(hashing ? t->set->hash_pool : t->set->pool, run_job, j) == 0) {
		t->jobs_in_flight++;
		return true;
	}
	h2o_timeout_unlink(&j->timer);
	if (hashing)
		j->err = response_error(&j->resp, TROVE_ERR_RATE_LIMIT,
					"too many password checks in progress; try again later");
	else
		j->err = response_error(&j->resp, TROVE_ERR_UNAVAILABLE, "server is busy; try again");
	return false;
}

/* Serves the requests queued on the loop since the last call, together:
 * one router batch, so with audit devices enabled their request entries
 * are recorded with one write per device before any handler runs, and
 * their response entries with one more before any reply is sent. Runs
 * from a zero timeout, which h2o fires after the socket events of the
 * loop turn: every request read in this turn is in the batch, and h2o
 * completes the replies' writes right after, in the same turn. A reply
 * that starts a connection's next request at once queues it for the next
 * batch (the timer is linked again). */
static void run_inline(h2o_timeout_entry_t *entry)
{
	struct loop_thread *t = H2O_STRUCT_FROM_MEMBER(struct loop_thread, inline_timer, entry);
	struct router_call stack_calls[32];
	struct job *first = t->inline_head;
	size_t n = 0;

	t->inline_head = NULL;
	t->inline_tail = &t->inline_head;
	for (struct job *j = first; j; j = j->next)
		n++;
	if (n == 0)
		return;
	struct router_call *calls = n > 32 ? xcalloc(n, sizeof(*calls)) : stack_calls;
	size_t i = 0;
	for (struct job *j = first; j; j = j->next, i++)
		calls[i] = (struct router_call){.req = &j->req, .match = {j->req.route}, .resp = &j->resp};
	router_dispatch_batch(calls, n);
	i = 0;
	for (struct job *j = first, *next; j; j = next, i++) {
		next = j->next;
		j->err = calls[i].err;
		if (j->err == TROVE_ERR_WOULD_BLOCK) {
			/* It needs a durable write: again, from the start, on the
			 * pool (its request entry is already recorded). */
			j->next = NULL;
			j->err = 0;
			j->req.no_block = false;
			response_release(&j->resp);
			response_init(&j->resp);
			if (submit_to_pool(j))
				continue;
		}
		send_reply(j->hreq, &j->req, &j->resp, j->err, 0);
		job_free(j);
	}
	if (calls != stack_calls)
		free(calls);
}

/* The active node's answer relayed, the 307 when it could not be
 * reached, or a 503 when the exchange broke off (forward.h). */
static void reply_forwarded(struct job *j)
{
	const char *why = NULL;
	if (forward_reply(j->fwd, j->hreq, &why) == 0)
		return;
	j->err = response_error(&j->resp, TROVE_ERR_UNAVAILABLE, "%s", why);
	send_reply(j->hreq, &j->req, &j->resp, j->err, 0);
}

static bool standby_reply(h2o_req_t *hreq, struct job *j);

/* A read a standby took on whose token has a use limit (the router sent
 * it back unserved, nothing spent: request.h, send_to_active): to the
 * active node as any request a standby does not serve, or served here
 * after all when this node became active meanwhile. Returns whether j
 * was answered or handed on (it is not the caller's then). */
static bool send_to_active(struct job *j)
{
	j->req.send_to_active = false;
	j->req.standby_read = false;
	j->err = 0;
	response_release(&j->resp);
	response_init(&j->resp);
	if (standby_reply(j->hreq, j))
		return true;
	if (submit_to_pool(j))
		return true;
	send_reply(j->hreq, &j->req, &j->resp, j->err, 0);
	return false;
}

static void on_job_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
	(void)receiver;
	while (!h2o_linklist_is_empty(messages)) {
		h2o_multithread_message_t *msg = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
		h2o_linklist_unlink(&msg->link);
		struct job *j = (struct job *)msg;
		j->ll->thread->jobs_in_flight--;
		if (!j->abandoned) {
			h2o_timeout_unlink(&j->timer);
			if (j->fwd)
				reply_forwarded(j);
			else if (j->req.send_to_active) {
				if (send_to_active(j))
					continue;
			} else
				send_reply(j->hreq, &j->req, &j->resp, j->err, j->write_index);
		}
		job_free(j);
	}
}

static void on_duration_exceeded(h2o_timeout_entry_t *entry)
{
	struct job *j = H2O_STRUCT_FROM_MEMBER(struct job, timer, entry);
	struct request view;
	struct response late;
	/* The worker still owns j->req and j->resp: answer from the hand-off
	 * copy and a fresh response. view borrows handoff.path and is not
	 * released. */
	request_init(&view);
	memcpy(view.id, j->handoff.id, sizeof(view.id));
	view.path = j->handoff.path;
	view.op = j->handoff.op;
	response_init(&late);
	response_error(&late, TROVE_ERR_TIMEOUT, "request exceeded max_request_duration");
	pthread_mutex_lock(&j->mu); /* waits while a worker copies the body */
	j->abandoned = true;
	pthread_mutex_unlock(&j->mu);
	send_reply(j->hreq, &view, &late, TROVE_ERR_TIMEOUT, 0);
	response_release(&late);
}

static char *header_value(h2o_req_t *hreq, const h2o_token_t *tok, size_t *len)
{
	ssize_t i = h2o_find_header(&hreq->headers, tok, -1);
	if (i < 0)
		return NULL;
	*len = hreq->headers.entries[i].value.len;
	return hreq->headers.entries[i].value.base;
}

static void on_conn_closed(void *data);

/* h2o keeps a connection's SSL object to itself: learn it when the
 * handshake starts (h2o's BIO carries the socket), so a request can read
 * the client's certificates. */
static void on_tls_info(const SSL *ssl, int where, int ret)
{
	(void)ret;
	if (!(where & (SSL_CB_HANDSHAKE_START | SSL_CB_HANDSHAKE_DONE)))
		return;
	BIO *bio = SSL_get_rbio(ssl);
	h2o_socket_t *sock = bio ? BIO_get_data(bio) : NULL;
	if (!sock || sock->on_close.cb != on_conn_closed)
		return;
	if (where & SSL_CB_HANDSHAKE_START)
		((struct open_conn *)sock->on_close.data)->ssl = (SSL *)ssl;
	else /* h2o reads requests from now on */
		wrap_later(sock->on_close.data);
}

/* Any client certificate passes the TLS layer when no tls_client_ca_file
 * is set: the cert auth method verifies it against its own trust
 * anchors (Vault requests a certificate the same way). */
static int accept_any_client_cert(int ok, X509_STORE_CTX *ctx)
{
	(void)ok;
	(void)ctx;
	return 1;
}

/* The client's certificate on the connection of hreq (none: NULL), and
 * its SSL object in *ssl. */
static X509 *peer_leaf(h2o_req_t *hreq, SSL **ssl)
{
	h2o_socket_t *sock = hreq->conn->callbacks->get_socket ? hreq->conn->callbacks->get_socket(hreq->conn) : NULL;
	struct open_conn *oc = sock && sock->on_close.cb == on_conn_closed ? sock->on_close.data : NULL;
	X509 *leaf = oc && oc->ssl && sock->ssl ? SSL_get0_peer_certificate(oc->ssl) : NULL;
	*ssl = leaf ? oc->ssl : NULL;
	return leaf;
}

/* Copies the client's certificate chain (leaf first, DER) into the
 * request, which outlives the connection's SSL object. A chain beyond
 * REQUEST_PEER_CHAIN_MAX is dropped whole: the login then sees none. */
static void peer_chain(h2o_req_t *hreq, struct request *req)
{
	SSL *ssl = NULL;
	X509 *leaf = peer_leaf(hreq, &ssl);
	if (!leaf)
		return;
	STACK_OF(X509) *rest = SSL_get_peer_cert_chain(ssl); /* server side: without the leaf */
	int count = 1 + sk_X509_num(rest);
	size_t total = 0;
	for (int i = 0; i < count; i++) {
		int n = i2d_X509(i == 0 ? leaf : sk_X509_value(rest, i - 1), NULL);
		if (n <= 0 || (total += (size_t)n) > REQUEST_PEER_CHAIN_MAX)
			return;
	}
	unsigned char *p = req->peer_chain.der = xmalloc(total);
	for (int i = 0; i < count; i++)
		i2d_X509(i == 0 ? leaf : sk_X509_value(rest, i - 1), &p);
	req->peer_chain.len = total;
}

static void extract_token(h2o_req_t *hreq, struct request *req)
{
	ssize_t i = h2o_find_header_by_str(&hreq->headers, H2O_STRLIT("x-vault-token"), -1);
	if (i >= 0) {
		h2o_iovec_t v = hreq->headers.entries[i].value;
		if (v.len > 0)
			req->client_token = xstrndup(v.base, v.len);
		return;
	}
	size_t n = 0;
	const char *a = header_value(hreq, H2O_TOKEN_AUTHORIZATION, &n);
	if (a && n > 7 && strncasecmp(a, "Bearer ", 7) == 0)
		req->client_token = xstrndup(a + 7, n - 7);
}

static void peer_address(h2o_req_t *hreq, struct request *req)
{
	struct sockaddr_storage ss;
	socklen_t len = hreq->conn->callbacks->get_peername(hreq->conn, (struct sockaddr *)&ss);
	if (len == 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &in->sin_addr, req->remote_addr, sizeof(req->remote_addr));
		req->remote_port = ntohs(in->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, req->remote_addr, sizeof(req->remote_addr));
		req->remote_port = ntohs(in6->sin6_port);
	}
}

/* Keeps the request's headers ({lowercase name: value}, repeated headers
 * joined with ", ") for the audit entry; only when some are configured. */
static void keep_headers(h2o_req_t *hreq, struct request *req)
{
	if (!audit_headers_wanted(core_audit(req->core)))
		return;
	req->headers = json_object();
	for (size_t i = 0; i < hreq->headers.size; i++) {
		const h2o_header_t *hd = &hreq->headers.entries[i];
		char *name = xstrndup(hd->name->base, hd->name->len);
		json_t *prev = json_object_get(req->headers, name);
		json_t *v = prev ? json_sprintf("%s, %.*s", json_string_value(prev), (int)hd->value.len, hd->value.base)
				 : json_stringn(hd->value.base, hd->value.len);
		if (v)
			json_object_set_new(req->headers, name, v);
		free(name);
	}
}

/* X-Vault-Wrap-TTL: seconds or a duration string; "0" means no
 * wrapping. */
static int wrap_ttl_header(h2o_req_t *hreq, struct request *req, struct response *resp)
{
	ssize_t i = h2o_find_header_by_str(&hreq->headers, H2O_STRLIT("x-vault-wrap-ttl"), -1);
	int64_t secs = 0;
	if (i < 0)
		return 0;
	const h2o_iovec_t *v = &hreq->headers.entries[i].value;
	if (v->len == 0 || duration_parse_seconds(v->base, v->len, &secs) != 0)
		return response_error(resp, TROVE_ERR_INVALID, "error parsing X-Vault-Wrap-TTL header");
	if (duration_check(secs))
		return response_error(resp, TROVE_ERR_INVALID, "X-Vault-Wrap-TTL header: %s", duration_check(secs));
	req->wrap_ttl = secs;
	return 0;
}

/* X-Vault-Index, as many times as the client sends it: the request waits
 * for the largest (ha_reads.h). */
static int index_header(h2o_req_t *hreq, struct job *j, struct response *resp)
{
	for (ssize_t i = -1; (i = h2o_find_header_by_str(&hreq->headers, H2O_STRLIT("x-vault-index"), i)) >= 0;) {
		const h2o_iovec_t *v = &hreq->headers.entries[i].value;
		uint64_t index = 0;
		if (ha_reads_header_read(v->base, v->len, &index) != 0)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "X-Vault-Index header: not an index this cluster gives");
		if (index > j->want_index)
			j->want_index = index;
	}
	return 0;
}

static size_t header_bytes(h2o_req_t *hreq)
{
	size_t n = hreq->path.len;
	for (size_t i = 0; i < hreq->headers.size; i++)
		n += hreq->headers.entries[i].name->len + hreq->headers.entries[i].value.len;
	return n;
}

/* Whether the request's header `name` is there with a value equal to
 * want (NULL: any non-empty value). */
static bool header_is(h2o_req_t *hreq, const char *name, size_t len, const char *want)
{
	ssize_t i = h2o_find_header_by_str(&hreq->headers, name, len, -1);
	if (i < 0)
		return false;
	const h2o_iovec_t *v = &hreq->headers.entries[i].value;
	return want ? h2o_memis(v->base, v->len, want, strlen(want)) : v->len > 0;
}

/* Hands j to the pool to be forwarded to the active node (forward.h);
 * its answer comes back through on_job_done. */
static void forward_job(h2o_req_t *hreq, struct job *j, const struct buf *loc)
{
	struct ha_leader ld;
	uint64_t limit = j->ll->duration.timeout; /* ms; the 504 comes then */
	ha_leader(core_ha(j->req.core), &ld);
	j->fwd = forward_prepare(hreq, &j->req, &ld, loc->data, loc->len,
	                         (long)(limit > 2000 ? limit - 1000 : limit / 2));
	if (!submit_to_pool(j)) {
		send_reply(hreq, &j->req, &j->resp, j->err, 0);
		job_free(j);
	}
}

/* An HA standby's answer to a request only the active node serves
 * (standby.h): forwarded to the active node, unless the client asks for
 * Vault's redirect (X-Vault-No-Request-Forwarding); a 307 to it; or a
 * 503. Returns whether it answered or handed j on (j is not the
 * caller's then). */
static bool standby_reply(h2o_req_t *hreq, struct job *j)
{
	struct buf loc;
	SSL *ssl;
	buf_init(&loc, 16384);
	int st = standby_decision(j->req.core, j->req.path, hreq->path.base, hreq->path.len, &loc);
	/* a client certificate (cert auth) does not cross to the active node:
	 * such a client is redirected to present it there itself */
	if (st == 307 && !header_is(hreq, H2O_STRLIT("x-vault-no-request-forwarding"), NULL) && !peer_leaf(hreq, &ssl)) {
		forward_job(hreq, j, &loc);
		buf_release(&loc);
		return true;
	}
	if (st == 307) {
		forward_send_redirect(hreq, loc.data, loc.len);
	} else if (st == 503) {
		j->err = response_error(&j->resp, TROVE_ERR_UNAVAILABLE, STANDBY_NO_ACTIVE);
		send_reply(hreq, &j->req, &j->resp, j->err, 0);
	}
	buf_release(&loc);
	if (st != 0)
		job_free(j);
	return st != 0;
}

/* Whether a standby that serves reads answers req itself: a pure read,
 * unless the client sent an index this node has not reached and asked
 * (X-Vault-Inconsistent: forward-active-node) for the active node's
 * answer rather than the wait and the 412 ("fail", the default). */
static bool serves_here(h2o_req_t *hreq, struct job *j, const struct route_match *m)
{
	if (!ha_reads_serves_here(&j->req, m))
		return false;
	return !(j->want_index > ha_reads_index() &&
	         header_is(hreq, H2O_STRLIT("x-vault-inconsistent"), "forward-active-node"));
}

/* On the cluster listener: the forwarded client's address replaces the
 * standby's (forward_client.h). Returns 0, or a 400 for a value that is
 * not an address and port. */
static int forwarded_client(h2o_req_t *hreq, struct request *req, struct response *resp)
{
	ssize_t i = h2o_find_header_by_str(&hreq->headers, H2O_STRLIT(FORWARD_CLIENT_HEADER), -1);
	if (i < 0)
		return 0;
	const h2o_iovec_t *v = &hreq->headers.entries[i].value;
	if (forward_client_parse(v->base, v->len, req->remote_addr, sizeof(req->remote_addr), &req->remote_port) != 0)
		return response_error(resp, TROVE_ERR_INVALID, "X-Trove-Forwarded-For header: not an address and port");
	return 0;
}

/* A forwarded request on a node that is not (or no longer) active, or
 * sealed: 503 with the mark that tells the standby to redirect its
 * client instead. Returns whether the request may be served (else j was
 * answered and freed). */
static bool cluster_may_serve(h2o_req_t *hreq, struct job *j)
{
	if (!core_sealed(j->req.core) && ha_may_serve(core_ha(j->req.core)) == HA_SERVE_HERE)
		return true;
	h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, H2O_STRLIT(FORWARD_NOT_ACTIVE_HEADER), 0, NULL,
	                      H2O_STRLIT(FORWARD_NOT_ACTIVE_VALUE));
	j->err = response_error(&j->resp, TROVE_ERR_UNAVAILABLE, STANDBY_NO_ACTIVE);
	send_reply(hreq, &j->req, &j->resp, j->err, 0);
	job_free(j);
	return false;
}

static int on_req(h2o_handler_t *self, h2o_req_t *hreq)
{
	struct trove_handler *h = (struct trove_handler *)self;
	struct loop_listener *ll = (struct loop_listener *)hreq->conn->ctx;
	struct job *j = xcalloc(1, sizeof(*j));
	struct route_match m = { NULL };
	size_t ct_len = 0;
	const char *ct = header_value(hreq, H2O_TOKEN_CONTENT_TYPE, &ct_len);

	request_init(&j->req);
	response_init(&j->resp);
	pthread_mutex_init(&j->mu, NULL);
	j->req.core = h->set->core;
	j->hreq = hreq;
	j->ll = ll;
	extract_token(hreq, &j->req);
	peer_address(hreq, &j->req);
	keep_headers(hreq, &j->req);
	if (header_bytes(hreq) > LISTENER_MAX_HEADER_BYTES) {
		j->err = response_error(&j->resp, TROVE_ERR_HEADERS_TOO_LARGE,
					"request headers exceed %d bytes", LISTENER_MAX_HEADER_BYTES);
		goto reply_now;
	}

	j->err = http_build_request(&j->req, hreq->method.base, hreq->method.len, hreq->path.base, hreq->path.len,
				    hreq->entity.base, hreq->entity.base ? hreq->entity.len : 0, ct, ct_len,
				    &j->resp);
	if (j->err == 0)
		j->err = wrap_ttl_header(hreq, &j->req, &j->resp);
	if (j->err == 0)
		j->err = index_header(hreq, j, &j->resp);
	if (j->err == 0 && h->cluster)
		j->err = forwarded_client(hreq, &j->req, &j->resp);
	if (j->err != 0)
		goto reply_now;
	router_match(&j->req, &m);
	if (h->cluster) {
		/* forwarded by a standby: served here only while active, never
		 * sent on (no loop between two nodes) */
		if (!cluster_may_serve(hreq, j))
			return 0;
	} else if (!serves_here(hreq, j, &m)) {
		if (standby_reply(hreq, j))
			return 0;
	} else {
		j->req.standby_read = ha_reads_serves_here(&j->req, &m);
	}
	if (m.route && (m.route->flags & ROUTE_UNAUTH))
		peer_chain(hreq, &j->req);
	/* The body is parsed by the router, after the token check; a large
	 * one on the pool, so parsing it never stalls the loop. A small one
	 * of a route that needs no token is parsed now: the route may choose
	 * where it runs from its fields (route.try_inline). A raw body (an
	 * OCSP request) is never parsed: the handler reads its bytes. */
	if (request_body_pending(&j->req) <= LISTENER_INLINE_BODY_MAX && m.route &&
	    (m.route->flags & ROUTE_UNAUTH) && !(m.route->flags & ROUTE_RAW_BODY) &&
	    (j->err = request_body_load(&j->req, &j->resp)) != 0)
		goto reply_now;
	/* A request with no token for a route that needs one is refused by
	 * the router before its body is read (router.c, authorize): it is
	 * served on the loop whatever its size, so its body is never copied
	 * to a worker, parsed or wiped there. An index not reached yet is
	 * waited for on the pool. */
	bool refused_unread = !j->req.client_token && !(m.route && (m.route->flags & ROUTE_UNAUTH));
	if ((!refused_unread && (request_body_pending(&j->req) > LISTENER_INLINE_BODY_MAX || router_is_slow(&j->req, &m))) ||
	    j->want_index > ha_reads_index()) {
		if (submit_to_pool(j))
			return 0;
		goto reply_now;
	}
	/* Served with the other requests of this loop turn (run_inline),
	 * where nothing may wait for a durable write. */
	j->req.no_block = true;
	struct loop_thread *t = ll->thread;
	*t->inline_tail = j;
	t->inline_tail = &j->next;
	if (!h2o_timeout_is_linked(&t->inline_timer))
		h2o_timeout_link(t->loop, &t->inline_timeout, &t->inline_timer);
	return 0;
reply_now:
	send_reply(hreq, &j->req, &j->resp, j->err, 0);
	job_free(j);
	return 0;
}

static void on_conn_closed(void *data)
{
	struct open_conn *oc = data;
	h2o_linklist_unlink(&oc->link);
	if (h2o_linklist_is_linked(&oc->to_wrap))
		h2o_linklist_unlink(&oc->to_wrap);
	if (oc->linger_fd >= 0) {
		if (atomic_load(&oc->thread->set->stopping))
			close(oc->linger_fd);
		else
			linger_start(&oc->thread->linger, oc->linger_fd);
	}
	free(oc);
}

/* h2o refused the connection's request by itself and will close it after
 * the answer: keep a duplicate of the socket to drain it (linger.h). */
static void keep_for_linger(h2o_socket_t *sock)
{
	struct open_conn *oc = sock->on_close.cb == on_conn_closed ? sock->on_close.data : NULL;
	if (oc && oc->linger_fd < 0)
		oc->linger_fd = fcntl(h2o_socket_get_fd(sock), F_DUPFD_CLOEXEC, 0);
}

/* h2o reads into the connection's input buffer and then calls its read
 * callback, which parses: in between, the buffer of a big request is
 * fitted to its size. h2o may set its callback afresh while it runs (a
 * request complete, a 100 Continue sent, then reading again), so the
 * connection is queued to have the wrapper put back before the loop's
 * next turn; a connection that closes leaves the queue. */
static void read_fitting(h2o_socket_t *sock, const char *err)
{
	struct open_conn *oc = sock->on_close.data;
	if (err == NULL && sock->input != oc->fitted && body_buffer_fit(&sock->input, oc->body_max))
		oc->fitted = sock->input;
	wrap_later(oc);
	oc->h2o_read(sock, err);
}

static void wrap_later(struct open_conn *oc)
{
	if (!h2o_linklist_is_linked(&oc->to_wrap))
		h2o_linklist_insert(&oc->thread->to_wrap, &oc->to_wrap);
}

/* Before each loop turn: wraps the read callback of the queued
 * connections that read requests (a new one, one whose TLS handshake is
 * over, one whose callback h2o set again) and keeps those not reading
 * (waiting for their reply). */
static void wrap_readers(struct loop_thread *t)
{
	h2o_linklist_t *n = t->to_wrap.next;
	while (n != &t->to_wrap) {
		struct open_conn *oc = H2O_STRUCT_FROM_MEMBER(struct open_conn, to_wrap, n);
		h2o_socket_t *sock = oc->sock;
		n = n->next;
		if (sock->_cb.read == NULL || (sock->ssl && (!oc->ssl || !SSL_is_init_finished(oc->ssl))))
			continue;
		if (sock->_cb.read != read_fitting) {
			oc->h2o_read = sock->_cb.read;
			sock->_cb.read = read_fitting;
		}
		h2o_linklist_unlink(&oc->to_wrap);
	}
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
	if (err != NULL)
		return;
	h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
	if (sock == NULL)
		return;
	struct loop_listener *ll = (struct loop_listener *)((h2o_accept_ctx_t *)listener->data)->ctx;
	struct open_conn *oc = xcalloc(1, sizeof(*oc));
	oc->sock = sock;
	oc->thread = ll->thread;
	oc->linger_fd = -1;
	oc->body_max = (size_t)ll->ctx.globalconf->max_request_entity_size;
	h2o_linklist_insert(&ll->thread->conns, &oc->link);
	sock->on_close.cb = on_conn_closed;
	sock->on_close.data = oc;
	h2o_accept(listener->data, sock);
	if (!ll->accept.ssl_ctx) /* else once its handshake is done (on_tls_info) */
		wrap_later(oc);
}

/* Runs on the loop's own thread (h2o is not thread-safe): stop accepting,
 * let replies in flight finish, close every connection, free the loop. */
static void loop_shutdown(struct loop_thread *t)
{
	struct listener_set *set = t->set;
	uint64_t deadline;

	for (size_t i = 0; i < set->nrts; i++) {
		struct loop_listener *ll = &t->listeners[i];
		if (ll->sock) {
			h2o_socket_read_stop(ll->sock);
			h2o_socket_close(ll->sock);
			ll->sock = NULL;
		}
	}
	/* No h2o_context_request_shutdown: it arms an HTTP/2 graceful-shutdown
	 * timer (HTTP/2 is not offered), and idle HTTP/1 connections are closed
	 * below. Give jobs on the pool up to 5 s to come back, then close what is
	 * left: reading EOF makes h2o free each connection normally. */
	deadline = h2o_now(t->loop) + 5000;
	while (t->jobs_in_flight > 0 && h2o_now(t->loop) < deadline)
		h2o_evloop_run(t->loop, 50);
	for (h2o_linklist_t *n = t->conns.next; n != &t->conns; n = n->next) {
		struct open_conn *oc = H2O_STRUCT_FROM_MEMBER(struct open_conn, link, n);
		shutdown(h2o_socket_get_fd(oc->sock), SHUT_RDWR);
	}
	deadline = h2o_now(t->loop) + 2000;
	while (!h2o_linklist_is_empty(&t->conns) && h2o_now(t->loop) < deadline)
		h2o_evloop_run(t->loop, 50);
	if (!h2o_linklist_is_empty(&t->conns) || t->jobs_in_flight > 0) {
		/* Something still holds the loop; leaving it allocated is safer
		 * than freeing memory a connection may still touch. */
		log_warn("connections still open at shutdown");
		return;
	}
	h2o_timeout_dispose(t->loop, &t->inline_timeout); /* no connection: nothing queued */
	linger_dispose(&t->linger);
	for (size_t i = 0; i < set->nrts; i++) {
		h2o_timeout_dispose(t->loop, &t->listeners[i].duration);
		h2o_context_dispose(&t->listeners[i].ctx);
	}
	h2o_multithread_unregister_receiver(t->queue, &t->receiver);
	h2o_multithread_destroy_queue(t->queue);
	t->queue = NULL;
	h2o_evloop_run(t->loop, 0); /* completes the queue socket's close */
	h2o_evloop_destroy(t->loop);
	t->loop = NULL;
}

/* Builds the loop's h2o objects on the loop's own thread. h2o keeps its
 * socket buffer recycler per thread (a __thread prototype that each
 * socket's buffers point to): a socket created on another thread would
 * have its buffers recycled through that thread's list by every loop at
 * once. The multithread queue's socket, the listening sockets and the
 * contexts are therefore all made here, never by the thread that starts
 * the loops. */
static void loop_setup(struct loop_thread *th)
{
	struct listener_set *set = th->set;
	h2o_linklist_init_anchor(&th->conns);
	h2o_linklist_init_anchor(&th->to_wrap);
	th->inline_tail = &th->inline_head;
	th->inline_timer.cb = run_inline;
	th->loop = h2o_evloop_create();
	th->queue = h2o_multithread_create_queue(th->loop);
	h2o_timeout_init(th->loop, &th->inline_timeout, 0);
	linger_init(&th->linger, th->loop);
	h2o_multithread_register_receiver(th->queue, &th->receiver, on_job_done);
	th->listeners = xcalloc(set->nrts, sizeof(*th->listeners));
	for (size_t i = 0; i < set->nrts; i++) {
		struct loop_listener *ll = &th->listeners[i];
		struct listener_rt *rt = &set->rts[i];
		ll->thread = th;
		h2o_context_init(&ll->ctx, th->loop, &rt->gconf);
		h2o_timeout_init(th->loop, &ll->duration, (uint64_t)rt->cfg->max_request_duration * 1000);
		ll->accept.ctx = &ll->ctx;
		ll->accept.hosts = rt->gconf.hosts;
		ll->accept.ssl_ctx = rt->ssl;
		ll->sock = h2o_evloop_socket_create(th->loop, rt->fds[th->index], H2O_SOCKET_FLAG_DONT_READ);
		rt->fds[th->index] = -1; /* the socket owns it now */
		ll->sock->data = &ll->accept;
		h2o_socket_read_start(ll->sock, on_accept);
	}
	pthread_mutex_lock(&set->ready_lock);
	set->ready++;
	pthread_cond_broadcast(&set->ready_cond);
	pthread_mutex_unlock(&set->ready_lock);
}

static void *loop_main(void *arg)
{
	struct loop_thread *t = arg;
	thread_role_set_loop(true); /* blocking services refuse to run here */
	loop_setup(t);
	while (!atomic_load(&t->set->stopping)) {
		wrap_readers(t);
		h2o_evloop_run(t->loop, 200);
	}
	loop_shutdown(t);
	return NULL;
}

/* Binds address ("host:port" or "[v6]:port") and listens. Each event loop
 * gets its own socket (SO_REUSEPORT spreads connections between them);
 * with exclusive, the socket is bound without SO_REUSEPORT and not
 * listened on: that fails when any other socket, another process's
 * included, already holds the address, which SO_REUSEPORT alone would
 * silently share. */
static int bind_socket(const char *address, bool exclusive, struct buf *err)
{
	char host[256];
	const char *port;
	const char *colon = strrchr(address, ':');
	struct addrinfo hints, *res = NULL;
	int fd = -1, one = 1, rc;

	if (!colon || colon == address || strlen(colon + 1) == 0) {
		buf_printf(err, "listener address \"%s\" must be host:port", address);
		return -1;
	}
	size_t hlen = (size_t)(colon - address);
	if (address[0] == '[' && hlen >= 2 && address[hlen - 1] == ']') {
		address++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host)) {
		buf_printf(err, "listener address \"%s\": host too long", address);
		return -1;
	}
	memcpy(host, address, hlen);
	host[hlen] = '\0';
	port = colon + 1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(hlen ? host : NULL, port, &hints, &res)) != 0) {
		buf_printf(err, "listener address \"%s\": %s", address, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (!exclusive && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 || (!exclusive && listen(fd, SOMAXCONN) != 0)) {
		buf_printf(err, "cannot listen on %s: %s", address, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* The listener's socket_receive_buffer on a listening socket, which its
 * connections inherit: a loop reads each ready connection until its
 * receive buffer is empty, so the buffer bounds what one connection adds
 * to a loop turn (and, over a round trip, what it can send). 0 leaves the
 * kernel's autotuning. */
static int set_receive_buffer(int fd, const struct listener_config *l, struct buf *err)
{
	int size = (int)l->socket_receive_buffer;
	if (size == 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) == 0)
		return 0;
	buf_printf(err, "listener %s: socket_receive_buffer: %s", l->address, strerror(errno));
	return TROVE_ERR_INVALID;
}

static void ssl_error(struct buf *err, const char *what, const char *file)
{
	char e[256];
	unsigned long code = ERR_get_error();
	ERR_error_string_n(code, e, sizeof(e));
	buf_printf(err, "%s \"%s\": %s", what, file, code ? e : "failed");
	ERR_clear_error();
}

static SSL_CTX *make_ssl(const struct listener_config *l, struct buf *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		buf_append_str(err, "cannot create TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, strcmp(l->tls_min_version, "tls13") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, l->tls_cert_file) != 1) {
		ssl_error(err, "tls_cert_file", l->tls_cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, l->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ssl_error(err, "tls_key_file", l->tls_key_file);
		goto fail;
	}
	if (l->tls_client_ca_file) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(l->tls_client_ca_file);
		if (SSL_CTX_load_verify_locations(ctx, l->tls_client_ca_file, NULL) != 1 || !names) {
			ssl_error(err, "tls_client_ca_file", l->tls_client_ca_file);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx,
				   SSL_VERIFY_PEER |
					   (l->tls_require_and_verify_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
				   NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any_client_cert);
	}
	SSL_CTX_set_info_callback(ctx, on_tls_info);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* The cluster listener (docs/ha.md, "Request forwarding"): on the first
 * listener's host (the interfaces the API is served on, as Vault binds its
 * cluster listeners; no name to resolve at start) and cluster_addr's port
 * (its scheme is not read: always TLS, with the cluster's certificate),
 * with that listener's size and time limits. */
static int cluster_listener_config(const struct server_config *cfg, struct listener_config *out, struct buf *err)
{
	struct api_url u;
	const char *addr = config_cluster_addr(cfg), *api = cfg->listeners[0].address;
	const char *colon = api ? strrchr(api, ':') : NULL;
	if (api_url_parse(addr, &u) != 0) {
		buf_printf(err, "cluster_addr \"%s\" is not a URL with a host and port", addr);
		return TROVE_ERR_INVALID;
	}
	if (!colon) {
		buf_printf(err, "listener address \"%s\" must be host:port", api ? api : "");
		return TROVE_ERR_INVALID;
	}
	size_t n = (size_t)(colon - api) + strlen(u.port) + 2;
	out->address = xmalloc(n);
	snprintf(out->address, n, "%.*s:%s", (int)(colon - api), api, u.port);
	out->tls_disable = false;
	out->max_request_size = cfg->listeners[0].max_request_size;
	out->max_request_duration = cfg->listeners[0].max_request_duration;
	out->where = cfg->listeners[0].where;
	return 0;
}

static void set_free(struct listener_set *set)
{
	for (size_t i = 0; i < set->nrts; i++) {
		struct listener_rt *rt = &set->rts[i];
		for (unsigned t = 0; rt->fds && t < set->nthreads; t++)
			if (rt->fds[t] >= 0)
				close(rt->fds[t]);
		free(rt->fds);
		if (rt->ssl)
			SSL_CTX_free(rt->ssl);
		h2o_config_dispose(&rt->gconf);
	}
	free(set->rts);
	free(set->threads);
	free(set->cluster_cfg.address);
	pthread_mutex_destroy(&set->ready_lock);
	pthread_cond_destroy(&set->ready_cond);
	free(set);
}

int listeners_start(const struct server_config *cfg, struct core *core, struct pool *pool, struct pool *hash_pool,
		    unsigned nthreads, struct listener_set **out, struct buf *err)
{
	struct listener_set *set = xcalloc(1, sizeof(*set));
	int r = TROVE_ERR_INVALID;

	set->core = core;
	set->pool = pool;
	set->hash_pool = hash_pool;
	set->nthreads = nthreads ? nthreads : 1;
	/* h2o moves a socket buffer past 32 MiB into an mmap'd temporary file
	 * under /tmp: request bodies would reach the disk, outside mlock, and
	 * the loop would stall on file-backed page faults (a 32 MiB body
	 * with its headers crosses that line). max_request_size bounds the
	 * buffers; keep them in anonymous memory. */
	h2o_socket_buffer_mmap_settings.threshold = SIZE_MAX;
	atomic_init(&set->stopping, false);
	pthread_mutex_init(&set->ready_lock, NULL);
	pthread_cond_init(&set->ready_cond, NULL);
	/* with HA, a cluster listener after the configured ones */
	if (cfg->storage.ha_enabled && config_cluster_addr(cfg) && cfg->nlisteners > 0 &&
	    cluster_listener_config(cfg, &set->cluster_cfg, err) != 0)
		goto fail;
	set->nrts = cfg->nlisteners + (set->cluster_cfg.address ? 1 : 0);
	set->rts = xcalloc(set->nrts, sizeof(*set->rts));

	for (size_t i = 0; i < set->nrts; i++) {
		struct listener_rt *rt = &set->rts[i];
		rt->cluster = i == cfg->nlisteners;
		rt->cfg = rt->cluster ? &set->cluster_cfg : &cfg->listeners[i];
		h2o_config_init(&rt->gconf);
		rt->gconf.server_name = h2o_iovec_init(H2O_STRLIT("trove"));
		rt->gconf.max_request_entity_size = (size_t)rt->cfg->max_request_size;
		rt->gconf.http1.req_timeout = LISTENER_HEADER_TIMEOUT_MS;
		rt->gconf.handshake_timeout = LISTENER_HANDSHAKE_TIMEOUT_MS;
		h2o_hostconf_t *host = h2o_config_register_host(&rt->gconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
		h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
		linger_register_errors(host, (size_t)rt->cfg->max_request_size, keep_for_linger);
		struct trove_handler *h = (struct trove_handler *)h2o_create_handler(path, sizeof(*h));
		h->super.on_req = on_req;
		h->set = set;
		h->cluster = rt->cluster;
		rt->fds = xcalloc(set->nthreads, sizeof(int));
		for (unsigned t = 0; t < set->nthreads; t++)
			rt->fds[t] = -1;
		if (rt->cluster ? !(rt->ssl = cluster_tls_server_ctx(core, err))
		                : !rt->cfg->tls_disable && !(rt->ssl = make_ssl(rt->cfg, err)))
			goto fail;
		int probe = bind_socket(rt->cfg->address, true, err);
		if (probe < 0)
			goto fail;
		close(probe);
		for (unsigned t = 0; t < set->nthreads; t++)
			if ((rt->fds[t] = bind_socket(rt->cfg->address, false, err)) < 0 ||
			    set_receive_buffer(rt->fds[t], rt->cfg, err) != 0)
				goto fail;
	}

	set->threads = xcalloc(set->nthreads, sizeof(*set->threads));
	for (unsigned t = 0; t < set->nthreads; t++) {
		struct loop_thread *th = &set->threads[t];
		th->set = set;
		th->index = t;
		if (pthread_create(&th->tid, NULL, loop_main, th) != 0) {
			buf_append_str(err, "cannot start event-loop thread");
			listeners_stop(set);
			return TROVE_ERR_INTERNAL;
		}
		th->started = true;
	}
	/* Each loop builds its h2o objects on its own thread (loop_setup);
	 * serve nothing before all of them have. */
	pthread_mutex_lock(&set->ready_lock);
	while (set->ready < set->nthreads)
		pthread_cond_wait(&set->ready_cond, &set->ready_lock);
	pthread_mutex_unlock(&set->ready_lock);
	for (size_t i = 0; i < set->nrts; i++)
		log_info(set->rts[i].cluster ? "cluster listener started" : "listener started", "address",
			 set->rts[i].cfg->address, "tls", set->rts[i].cfg->tls_disable ? "disabled" : "enabled");
	*out = set;
	return 0;
fail:
	set_free(set);
	return r;
}

void listeners_stop(struct listener_set *set)
{
	if (!set)
		return;
	atomic_store(&set->stopping, true);
	for (unsigned t = 0; set->threads && t < set->nthreads; t++)
		if (set->threads[t].started)
			pthread_join(set->threads[t].tid, NULL);
	for (unsigned t = 0; set->threads && t < set->nthreads; t++) {
		struct loop_thread *th = &set->threads[t];
		free(th->listeners);
		th->listeners = NULL;
	}
	set_free(set);
}
