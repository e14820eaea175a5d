/* forward.c — request forwarding from a standby to the active node
 * (forward.h), over the API client's native HTTP/1.1 transport in relay
 * mode (api/transport_native.h) with the cluster's TLS (cluster_id.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/forward.h"

#include "api/api.h"
#include "api/transport_native.h"
#include "api/url_parts.h"
#include "core/request.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "secure.h"
#include "server/cluster_id.h"
#include "server/forward_client.h"

#include "banned.h"

enum outcome {
	OUT_NONE,     /* not run */
	OUT_RELAY,    /* the active node answered: resp */
	OUT_REDIRECT, /* could not reach it: the 307 */
	OUT_FAILED,   /* broke off after it was sent: 503 */
};

struct forward_call {
	char *method;
	char *user_agent;                      /* the client's, or NULL */
	char *url;                             /* https://<cluster authority><target> */
	struct strlist headers;                /* "Name: value", the token among them: wiped */
	char key[HA_ADDR_MAX + HA_ID_MAX + 2]; /* which active: the pool's key */
	char *location;
	size_t location_len;
	long timeout_ms;
	enum outcome outcome;
	struct api_response resp;
	char why[300];
};

bool forward_hop_header(const char *name, size_t len)
{
	static const char *const hop[] = {"host",
	                                  "content-length",
	                                  "transfer-encoding",
	                                  "connection",
	                                  "keep-alive",
	                                  "te",
	                                  "trailer",
	                                  "upgrade",
	                                  "expect",
	                                  "proxy-connection",
	                                  FORWARD_CLIENT_HEADER};
	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strlen(hop[i]) == len && strncasecmp(name, hop[i], len) == 0)
			return true;
	return false;
}

/* --- kept connections ---------------------------------------------------- */

struct fwd_conn {
	struct api_config cfg; /* the transport borrows it */
	struct api_native *t;
	struct cluster_id *id;
	char key[sizeof(((struct forward_call *)0)->key)];
	struct fwd_conn *next;
};

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fwd_conn *idle;
static size_t nidle;

static void conn_free(struct fwd_conn *c)
{
	if (!c)
		return;
	api_native_free(c->t);
	api_config_release(&c->cfg);
	cluster_id_put(c->id);
	free(c);
}

static struct fwd_conn *conn_new(const char *key, const char *authority, struct cluster_id *id)
{
	struct fwd_conn *c = xcalloc(1, sizeof(*c));
	char addr[300];
	SSL_CTX *tls = cluster_tls_client_ctx(id);

	if (!tls) {
		free(c);
		return NULL;
	}
	snprintf(c->key, sizeof(c->key), "%s", key);
	c->id = id;
	api_config_init(&c->cfg);
	snprintf(addr, sizeof(addr), "https://%s", authority);
	api_config_set(&c->cfg.address, addr);
	c->cfg.user_agent = "trove";
	(void)api_native_new(&c->cfg, &c->t);
	api_native_relay(c->t, tls);
	SSL_CTX_free(tls); /* the transport holds it */
	return c;
}

/* An idle connection to the active node `key` with identity id, or a new
 * one; idle connections to any other node or of another identity are
 * closed. Takes the caller's reference on id. */
static struct fwd_conn *conn_take(const char *key, const char *authority, struct cluster_id *id)
{
	struct fwd_conn *found = NULL, *stale = NULL, **pp;

	pthread_mutex_lock(&pool_mu);
	for (pp = &idle; *pp;) {
		struct fwd_conn *c = *pp;
		if (strcmp(c->key, key) != 0 || c->id != id) {
			*pp = c->next;
			c->next = stale;
			stale = c;
			nidle--;
		} else if (!found) {
			*pp = c->next;
			found = c;
			nidle--;
		} else {
			pp = &c->next;
		}
	}
	pthread_mutex_unlock(&pool_mu);
	while (stale) {
		struct fwd_conn *n = stale->next;
		conn_free(stale);
		stale = n;
	}
	if (found) {
		cluster_id_put(id);
		return found;
	}
	struct fwd_conn *c = conn_new(key, authority, id);
	if (!c)
		cluster_id_put(id);
	return c;
}

static void conn_give(struct fwd_conn *c)
{
	pthread_mutex_lock(&pool_mu);
	if (nidle < FORWARD_IDLE_MAX) {
		c->next = idle;
		idle = c;
		nidle++;
		c = NULL;
	}
	pthread_mutex_unlock(&pool_mu);
	conn_free(c);
}

void forward_close_all(void)
{
	pthread_mutex_lock(&pool_mu);
	struct fwd_conn *all = idle;
	idle = NULL;
	nidle = 0;
	pthread_mutex_unlock(&pool_mu);
	while (all) {
		struct fwd_conn *n = all->next;
		conn_free(all);
		all = n;
	}
}

/* --- a call -------------------------------------------------------------- */

struct forward_call *forward_prepare(h2o_req_t *hreq, const struct request *req, const struct ha_leader *ld,
                                     const char *location, size_t location_len, long timeout_ms)
{
	struct forward_call *f = xcalloc(1, sizeof(*f));
	struct api_url u;
	char client[FORWARD_CLIENT_MAX];

	strlist_init(&f->headers);
	api_response_init(&f->resp);
	f->method = xstrndup(hreq->method.base, hreq->method.len);
	f->location = xstrndup(location, location_len);
	f->location_len = location_len;
	f->timeout_ms = timeout_ms;
	snprintf(f->key, sizeof(f->key), "%s|%s", ld->cluster_addr, ld->node_id);
	/* cluster_addr's scheme is not read: the cluster port is always TLS */
	if (api_url_parse(ld->cluster_addr, &u) == 0) {
		size_t n = strlen("https://") + strlen(u.authority) + hreq->path.len + 1;
		f->url = xmalloc(n);
		snprintf(f->url, n, "https://%s%.*s", u.authority, (int)hreq->path.len, hreq->path.base);
	}
	for (size_t i = 0; i < hreq->headers.size; i++) {
		const h2o_header_t *h = &hreq->headers.entries[i];
		/* h2o parsed them; a value with a line break or NUL would be a
		 * second header on the next hop: never sent */
		if (forward_hop_header(h->name->base, h->name->len) || h->name == &H2O_TOKEN_ACCEPT->buf ||
		    memchr(h->value.base, '\r', h->value.len) || memchr(h->value.base, '\n', h->value.len) ||
		    memchr(h->value.base, '\0', h->value.len))
			continue;
		if (h->name == &H2O_TOKEN_USER_AGENT->buf) {
			/* the transport writes User-Agent (and Accept) itself */
			free(f->user_agent);
			f->user_agent = xstrndup(h->value.base, h->value.len);
			continue;
		}
		size_t n = h->name->len + 2 + h->value.len + 1;
		char *line = xmalloc(n);
		snprintf(line, n, "%.*s: %.*s", (int)h->name->len, h->name->base, (int)h->value.len,
		         h->value.base);
		strlist_push_owned(&f->headers, line);
	}
	if (forward_client_format(req->remote_addr, req->remote_port, client, sizeof(client)) > 0) {
		size_t n = strlen(FORWARD_CLIENT_HEADER) + 2 + strlen(client) + 1;
		char *line = xmalloc(n);
		snprintf(line, n, "%s: %s", FORWARD_CLIENT_HEADER, client);
		strlist_push_owned(&f->headers, line);
	}
	return f;
}

/* The cluster identity, read from storage when this node has none yet
 * (a new cluster's first active made it after this node started). */
static struct cluster_id *identity(struct core *core)
{
	struct cluster_id *id = cluster_id_get(core);
	if (!id && cluster_id_load(core) == 0)
		id = cluster_id_get(core);
	return id;
}

static const char *header_of(const struct strlist *lines, const char *name, size_t *vlen)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < lines->len; i++) {
		const char *l = lines->items[i];
		if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
			const char *v = l + n + 1 + strspn(l + n + 1, " \t");
			*vlen = strlen(v);
			return v;
		}
	}
	return NULL;
}

void forward_run(struct forward_call *f, struct core *core, const struct request *req)
{
	struct cluster_id *id;
	struct api_url u;
	struct fwd_conn *c;
	size_t blen = 0, vlen = 0;
	const char *body = request_body_bytes(req, &blen), *v;

	f->outcome = OUT_REDIRECT;
	if (!f->url || api_url_parse(f->url, &u) != 0)
		return;
	if (!(id = identity(core)))
		return; /* no identity yet: the cluster cannot forward */
	if (!(c = conn_take(f->key, u.authority, id)))
		return;
	c->cfg.user_agent = f->user_agent ? f->user_agent : "trove";
	struct api_wire w = {.method = f->method,
	                     .url = f->url,
	                     .headers = &f->headers,
	                     .body = body,
	                     .len = body ? blen : 0,
	                     .timeout_ms = f->timeout_ms};
	int r = api_native_send(c->t, &w, &f->resp);
	c->cfg.user_agent = "trove"; /* f's goes with f */
	if (r == 0 && f->resp.status == 503 &&
	    (v = header_of(&f->resp.headers, FORWARD_NOT_ACTIVE_HEADER, &vlen)) &&
	    vlen == strlen(FORWARD_NOT_ACTIVE_VALUE) && strncmp(v, FORWARD_NOT_ACTIVE_VALUE, vlen) == 0) {
		f->outcome = OUT_REDIRECT; /* that node is no longer (or not yet) active */
	} else if (r == 0) {
		f->outcome = OUT_RELAY;
	} else if (f->resp.failure == API_FAIL_CONNECT || f->resp.failure == API_FAIL_TLS) {
		/* nothing was sent: the client goes to the active itself */
		if (f->resp.failure == API_FAIL_TLS)
			(void)cluster_id_load(core); /* in case the identity changed */
		log_warn("cannot forward to the active node; redirecting", "cluster_addr", u.authority,
		         "error", f->resp.error ? f->resp.error : "");
	} else {
		f->outcome = OUT_FAILED;
		snprintf(f->why, sizeof(f->why), "request forwarding to the active node failed: %s",
		         f->resp.error ? f->resp.error : "no answer");
	}
	if (r == 0)
		conn_give(c);
	else
		conn_free(c);
}

void forward_send_redirect(h2o_req_t *hreq, const char *location, size_t len)
{
	hreq->res.status = 307;
	hreq->res.reason = "Temporary Redirect";
	hreq->res.content_length = 0;
	h2o_iovec_t v = h2o_strdup(&hreq->pool, location, len);
	h2o_add_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_LOCATION, NULL, v.base, v.len);
	h2o_add_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
	               H2O_STRLIT("no-store"));
	h2o_send_inline(hreq, "", 0);
}

static void relay(struct forward_call *f, h2o_req_t *hreq)
{
	hreq->res.status = (int)f->resp.status;
	hreq->res.reason = http_reason((int)f->resp.status);
	for (size_t i = 0; i < f->resp.headers.len; i++) {
		const char *l = f->resp.headers.items[i], *colon = strchr(l, ':');
		if (!colon || colon == l)
			continue;
		size_t nl = (size_t)(colon - l);
		/* h2o writes its own Date and Server */
		if (forward_hop_header(l, nl) || (nl == 4 && strncasecmp(l, "date", 4) == 0) ||
		    (nl == 6 && strncasecmp(l, "server", 6) == 0))
			continue;
		const char *v = colon + 1 + strspn(colon + 1, " \t");
		h2o_iovec_t name = h2o_strdup(&hreq->pool, l, nl);
		h2o_strtolower(name.base, name.len);
		h2o_iovec_t val = h2o_strdup(&hreq->pool, v, strlen(v));
		h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, name.base, name.len, 0, NULL, val.base,
		                      val.len);
	}
	hreq->res.content_length = f->resp.body.len;
	h2o_send_inline(hreq, f->resp.body.data ? f->resp.body.data : "", f->resp.body.len);
}

int forward_reply(struct forward_call *f, h2o_req_t *hreq, const char **why)
{
	switch (f->outcome) {
	case OUT_RELAY:
		relay(f, hreq);
		return 0;
	case OUT_FAILED:
		*why = f->why;
		return TROVE_ERR_UNAVAILABLE;
	default:
		forward_send_redirect(hreq, f->location, f->location_len);
		return 0;
	}
}

void forward_free(struct forward_call *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->headers.len; i++)
		secure_wipe(f->headers.items[i], strlen(f->headers.items[i]));
	strlist_release(&f->headers);
	api_response_release(&f->resp);
	free(f->method);
	free(f->user_agent);
	free(f->url);
	free(f->location);
	free(f);
}
