/* agent_proxy_forward.c — the proxy's workers: each takes requests off
 * the queue and answers them from the cache or from the server through
 * its own API client; and the cache's renewer (agent_proxy_int.h).
 *
 * The token sent upstream is chosen as Vault Agent does it: api_proxy
 * use_auto_auth_token = false sends the client's as is; true sends the
 * auto-auth token when the client sent none; "force" always sends the
 * auto-auth token. A 403 to a request made with the auto-auth token
 * reports that token invalid, so auto-auth logs in again. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/agent_proxy_int.h"
#include "api/api.h"
#include "api/headers.h"
#include "clock.h"
#include "err.h"
#include "form.h"
#include "log.h"
#include "secure.h"

#include "banned.h"

/* Response headers never relayed: hop-by-hop ones and those h2o sets. */
static const char *const dropped[] = {
	"connection", "keep-alive", "transfer-encoding", "content-length", "date",
	"server",     "upgrade",    "te",                "trailer",        "proxy-connection",
};

void proxy_job_free(struct proxy_job *j)
{
	if (j == NULL)
		return;
	free(j->method);
	free(j->path);
	free(j->query);
	secure_free_str(j->token);
	free(j->namespace_name);
	strlist_release(&j->relay);
	strlist_release(&j->headers);
	buf_release_secret(&j->body);
	buf_release_secret(&j->out);
	free(j);
}

void proxy_job_error(struct proxy_job *j, int status, const char *msg)
{
	json_t *o = json_pack("{s:[s]}", "errors", msg);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	j->status = status;
	buf_reset(&j->out);
	(void)buf_append_str(&j->out, text ? text : "{\"errors\":[]}");
	(void)buf_append_byte(&j->out, '\n');
	(void)strlist_push(&j->headers, "content-type: application/json");
	free(text);
	json_decref(o);
}

static bool is_dropped(const char *line)
{
	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++) {
		size_t n = strlen(dropped[i]);
		if (strncasecmp(line, dropped[i], n) == 0 && line[n] == ':')
			return true;
	}
	return false;
}

/* The answer's Content-Type, from its headers, else guessed from the
 * body (a transport that keeps no headers). Heap. */
static char *content_type(const struct api_response *resp)
{
	for (size_t i = 0; i < resp->headers.len; i++) {
		const char *l = resp->headers.items[i];
		if (strncasecmp(l, "content-type:", 13) == 0) {
			l += 13;
			while (*l == ' ')
				l++;
			return xstrdup(l);
		}
	}
	if (resp->body.len == 0)
		return NULL;
	return xstrdup(resp->json ? "application/json" : "text/plain; charset=utf-8");
}

/* ---- the token ------------------------------------------------------------------------ */

/* The token to send for j: *gen is the auto-auth token's generation when
 * that is the one chosen (else 0). Heap or NULL; the caller wipes it. */
static char *choose_token(struct agent_proxy *p, const struct proxy_job *j, uint64_t *gen)
{
	enum agent_auto_token mode = p->a->cfg->api_proxy.use_auto_auth_token;

	*gen = 0;
	if (mode == AGENT_TOKEN_NO || (mode == AGENT_TOKEN_YES && j->token))
		return j->token ? xstrdup(j->token) : NULL;
	/* The auto-auth token; a request arriving before the first login
	 * waits a little for it, then goes without (as Vault Agent's, whose
	 * empty token the server refuses). */
	return agent_token_wait(p->a, 0, PROXY_AUTO_TOKEN_WAIT_MS, gen);
}

/* The current auto-auth token (heap) or NULL: it counts as managed. */
static char *auto_token_now(struct agent_proxy *p)
{
	if (!p->a->cfg->auto_auth.present)
		return NULL;
	return agent_token_wait(p->a, 0, 0, NULL);
}

/* ---- one request --------------------------------------------------------------------- */

static void answer_from(struct proxy_job *j, const struct api_response *resp, const char *ctype)
{
	j->status = (int)resp->status;
	for (size_t i = 0; i < resp->headers.len; i++)
		if (!is_dropped(resp->headers.items[i]) && strncasecmp(resp->headers.items[i], "content-type:", 13) != 0)
			(void)strlist_push(&j->headers, resp->headers.items[i]);
	if (ctype) {
		struct buf l;
		buf_init(&l, BUF_CAP_DEFAULT);
		(void)buf_printf(&l, "content-type: %s", ctype);
		(void)strlist_push_owned(&j->headers, buf_take(&l));
		buf_release(&l);
	}
	(void)buf_append(&j->out, resp->body.data, resp->body.len);
}

static bool served_from_cache(struct agent_proxy *p, struct proxy_job *j, const char *key)
{
	struct agent_cache_hit hit;
	struct buf l;

	if (!agent_cache_get(p->cache, key, clock_monotonic_s(), &hit))
		return false;
	j->status = hit.status;
	buf_init(&l, BUF_CAP_DEFAULT);
	(void)buf_printf(&l, "content-type: %s", hit.content_type);
	(void)strlist_push_owned(&j->headers, buf_take(&l));
	(void)buf_printf(&l, "age: %lld", (long long)hit.age);
	(void)strlist_push_owned(&j->headers, buf_take(&l));
	buf_release(&l);
	(void)strlist_push(&j->headers, "x-cache: HIT");
	(void)buf_append(&j->out, hit.body.data, hit.body.len);
	agent_cache_hit_release(&hit);
	atomic_fetch_add(&p->n.cache_hit, 1);
	atomic_fetch_add(&p->n.success, 1);
	return true;
}

/* Tells the cache about a successful answer: a revocation evicts, a
 * leased or token-creating answer may be kept. */
static void offer_to_cache(struct agent_proxy *p, const struct proxy_job *j, const struct agent_cache_req *cr,
                           const char *key, const struct api_response *resp, const char *ctype)
{
	json_t *body = NULL;
	char *auto_token;

	if (resp->status < 200 || resp->status >= 300)
		return;
	if (j->body.len > 0)
		body = json_loadb(j->body.data, j->body.len, 0, NULL);
	if (!agent_cache_on_revocation(p->cache, cr, body)) {
		auto_token = auto_token_now(p);
		if (agent_cache_offer(p->cache, key, cr, auto_token, (int)resp->status, ctype, resp->body.data,
		                      resp->body.len, resp->json, clock_monotonic_s())) {
			log_debug("agent proxy: answer cached", "path", j->path);
			proxy_cache_kept(p);
		}
		secure_free_str(auto_token);
	}
	api_json_free_secret(body);
}

/* With use_auto_auth_token, a lookup or renewal answer does not show the
 * auto-auth token to the client (proxy_strip_auto_token). */
static void strip_auto_token(struct agent_proxy *p, struct proxy_job *j, const char *sent_token)
{
	json_t *answer, *body;
	char *auto_token, *text;

	if (p->a->cfg->api_proxy.use_auto_auth_token == AGENT_TOKEN_NO || j->status != 200 ||
	    strncmp(j->path, "/v1/auth/token/", 15) != 0)
		return;
	auto_token = auto_token_now(p);
	answer = json_loadb(j->out.data, j->out.len, 0, NULL);
	body = j->body.len ? json_loadb(j->body.data, j->body.len, 0, NULL) : NULL;
	if (proxy_strip_auto_token(j->path, sent_token, body, auto_token, answer) &&
	    (text = json_dumps(answer, JSON_COMPACT)) != NULL) {
		buf_reset(&j->out);
		(void)buf_append_str(&j->out, text);
		secure_free_str(text);
	}
	api_json_free_secret(answer);
	api_json_free_secret(body);
	secure_free_str(auto_token);
}

static bool inflight_has(const struct agent_proxy *p, const char *key)
{
	for (const struct proxy_inflight *f = p->inflight; f; f = f->next)
		if (strcmp(f->key, key) == 0)
			return true;
	return false;
}

/* Waits while an identical request is being forwarded, then marks key as
 * in flight (entry, owned by the list until inflight_end). */
static void inflight_begin(struct agent_proxy *p, struct proxy_inflight *entry, const char *key)
{
	memcpy(entry->key, key, sizeof(entry->key));
	pthread_mutex_lock(&p->mu);
	while (inflight_has(p, key))
		pthread_cond_wait(&p->inflight_cond, &p->mu);
	entry->next = p->inflight;
	p->inflight = entry;
	pthread_mutex_unlock(&p->mu);
}

static void inflight_end(struct agent_proxy *p, struct proxy_inflight *entry)
{
	pthread_mutex_lock(&p->mu);
	for (struct proxy_inflight **f = &p->inflight; *f; f = &(*f)->next)
		if (*f == entry) {
			*f = entry->next;
			break;
		}
	pthread_cond_broadcast(&p->inflight_cond);
	pthread_mutex_unlock(&p->mu);
}

static void forward(struct agent_proxy *p, struct api_client *c, struct proxy_job *j)
{
	struct proxy_inflight inflight;
	bool marked = false;
	struct api_response resp;
	struct strlist extra;
	struct agent_cache_req cr;
	char key[AGENT_CACHE_KEY_LEN + 1];
	char *token, *path, *ctype = NULL;
	uint64_t gen;
	int r;

	api_response_init(&resp);
	strlist_init(&extra);
	token = choose_token(p, j, &gen);
	cr = (struct agent_cache_req){ token, j->namespace_name, j->method, j->path, j->query, j->body.data,
		                       j->body.len };
	if (p->cache && agent_cache_key(&cr, key)) {
		inflight_begin(p, &inflight, key);
		marked = true;
		if (served_from_cache(p, j, key))
			goto out;
	}
	for (size_t i = 0; i < j->relay.len; i++)
		(void)strlist_push(&extra, j->relay.items[i]);
	if (token) {
		struct buf l;
		buf_init_secret(&l, BUF_CAP_DEFAULT);
		(void)buf_printf(&l, "X-Vault-Token: %s", token);
		(void)strlist_push_owned(&extra, buf_take(&l));
		buf_release_secret(&l);
	}
	/* api_send takes the path without "/v1/", decoded (it encodes it again). */
	if ((path = form_decode(j->path + 4, strlen(j->path + 4), false)) == NULL) {
		proxy_job_error(j, 400, "invalid request path: bad percent-encoding");
		goto out;
	}
	r = api_send_extra(c, j->method, path, j->query, j->body.len ? j->body.data : NULL, j->body.len, &extra,
	                   &resp);
	free(path);
	if (resp.status == 0) {
		/* No answer from the server (Vault Agent answers 500 too). */
		struct buf m;
		buf_init(&m, BUF_CAP_DEFAULT);
		(void)buf_printf(&m, "failed to get the response: %s", resp.error ? resp.error : err_message(r));
		proxy_job_error(j, r == TROVE_ERR_INVALID ? 400 : 500, m.data);
		buf_release(&m);
		atomic_fetch_add(&p->n.error, 1);
		log_warn("agent proxy: request failed", "path", j->path, "error", resp.error ? resp.error : err_message(r));
		goto out;
	}
	ctype = content_type(&resp);
	answer_from(j, &resp, ctype);
	atomic_fetch_add(resp.status >= 400 ? &p->n.client_error : &p->n.success, 1);
	if (resp.status == 403 && gen != 0)
		agent_token_report_invalid(p->a, gen);
	if (p->cache) {
		atomic_fetch_add(&p->n.cache_miss, 1);
		(void)strlist_push(&j->headers, "x-cache: MISS");
		if (marked)
			offer_to_cache(p, j, &cr, key, &resp, ctype);
	}
out:
	if (marked)
		inflight_end(p, &inflight);
	strip_auto_token(p, j, token);
	free(ctype);
	secure_free_str(token);
	api_headers_wipe(&extra);
	api_response_release(&resp);
}

/* ---- the workers ------------------------------------------------------------------------ */

void proxy_submit(struct agent_proxy *p, struct proxy_job *j)
{
	pthread_mutex_lock(&p->mu);
	j->next = NULL;
	*p->q_tail = j;
	p->q_tail = &j->next;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

static struct proxy_job *next_job(struct agent_proxy *p)
{
	struct proxy_job *j;

	pthread_mutex_lock(&p->mu);
	while (p->q_head == NULL && !p->stopping)
		pthread_cond_wait(&p->cond, &p->mu);
	j = p->q_head;
	if (j) {
		p->q_head = j->next;
		if (p->q_head == NULL)
			p->q_tail = &p->q_head;
	}
	pthread_mutex_unlock(&p->mu);
	return j;
}

/* A client for the calling thread, made on first use: an agent whose
 * proxy is never called loads no HTTP client at all. */
static struct api_client *client_for(struct agent_proxy *p, struct api_client **c, const char *who)
{
	struct buf err;

	if (*c == NULL) {
		buf_init(&err, BUF_CAP_DEFAULT);
		if (agent_api_client(p->a, c, &err) != 0)
			log_error("agent proxy: cannot make an API client", "thread", who, "error", err.data);
		buf_release(&err);
	}
	return *c;
}

static void *worker_main(void *arg)
{
	struct agent_proxy *p = arg;
	struct api_client *c = NULL;
	struct proxy_job *j;

	/* Jobs queued before a stop are still answered: the loop waits for them. */
	while ((j = next_job(p)) != NULL) {
		if (client_for(p, &c, "worker"))
			forward(p, c, j);
		else
			proxy_job_error(j, 500, "the agent cannot reach the server: no API client");
		h2o_multithread_send_message(&p->done_rx, &j->msg);
	}
	api_client_free(c);
	return NULL;
}

/* ---- the renewer ------------------------------------------------------------------------- */

/* Renews r with c. Returns true with *ttl on success. */
static bool renew(struct api_client *c, const struct agent_cache_renewal *r, int64_t *ttl)
{
	struct api_response resp;
	struct strlist extra;
	json_t *body, *got;
	struct buf l;
	int rc;

	api_response_init(&resp);
	strlist_init(&extra);
	buf_init_secret(&l, BUF_CAP_DEFAULT);
	(void)buf_printf(&l, "X-Vault-Token: %s", r->token);
	(void)strlist_push_owned(&extra, buf_take(&l));
	if (r->namespace_name) {
		(void)buf_printf(&l, "X-Vault-Namespace: %s", r->namespace_name);
		(void)strlist_push_owned(&extra, buf_take(&l));
	}
	buf_release_secret(&l);
	if (r->is_token)
		body = json_pack("{s:I}", "increment", (json_int_t)r->increment);
	else
		body = json_pack("{s:s, s:I}", "lease_id", r->lease_id, "increment", (json_int_t)r->increment);
	{
		char *text = json_dumps(body, JSON_COMPACT);
		rc = api_send_extra(c, "PUT", r->is_token ? "auth/token/renew-self" : "sys/leases/renew", NULL, text,
		                    text ? strlen(text) : 0, &extra, &resp);
		secure_free_str(text);
	}
	json_decref(body);
	*ttl = 0;
	if (rc == 0 && json_is_object(resp.json)) {
		got = r->is_token ? json_object_get(json_object_get(resp.json, "auth"), "lease_duration")
		                  : json_object_get(resp.json, "lease_duration");
		*ttl = json_is_integer(got) ? (int64_t)json_integer_value(got) : 0;
	}
	if (rc != 0)
		log_info("agent cache: renewal refused; entry evicted", "what", r->is_token ? "token" : "lease", "error",
		         resp.error ? resp.error : err_message(rc));
	api_headers_wipe(&extra);
	api_response_release(&resp);
	return rc == 0 && *ttl > 0;
}

static void *renewer_main(void *arg)
{
	struct agent_proxy *p = arg;
	struct api_client *c = NULL;
	struct agent_cache_renewal r;
	int64_t now, due, ttl;

	for (;;) {
		now = clock_monotonic_s();
		while (agent_cache_take_due(p->cache, now, &r)) {
			bool ok = client_for(p, &c, "renewer") && renew(c, &r, &ttl);
			agent_cache_renewed(p->cache, &r, ok, ok ? ttl : 0, clock_monotonic_s());
			agent_cache_renewal_release(&r);
			agent_rest_note(&p->a->rest);
		}
		/* Renewals are minutes apart: no client is kept between them. */
		api_client_free(c);
		c = NULL;
		/* Sleeps until the next entry is due, or an hour when none (a
		 * worker that keeps a new entry wakes this thread). */
		due = agent_cache_next_due(p->cache);
		now = clock_monotonic_s();
		pthread_mutex_lock(&p->mu);
		if (!p->stopping) {
			struct timespec ts;
			int64_t wait = due == INT64_MAX ? 3600 : due - now;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += wait > 0 ? wait : 0;
			(void)pthread_cond_timedwait(&p->renew_cond, &p->mu, &ts);
		}
		bool stop = p->stopping;
		pthread_mutex_unlock(&p->mu);
		if (stop)
			break;
	}
	return NULL;
}

int proxy_workers_start(struct agent_proxy *p, struct buf *err)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->renew_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&p->inflight_cond, NULL);
	p->renew_cond_init = true;
	for (unsigned i = 0; i < PROXY_WORKERS; i++) {
		if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) {
			buf_printf(err, "agent proxy: cannot start its worker threads");
			return TROVE_ERR_INTERNAL;
		}
		p->nworkers++;
	}
	if (p->cache) {
		if (pthread_create(&p->renewer, NULL, renewer_main, p) != 0) {
			buf_printf(err, "agent proxy: cannot start the cache's renewer");
			return TROVE_ERR_INTERNAL;
		}
		p->renewer_started = true;
	}
	return 0;
}

void proxy_workers_stop(struct agent_proxy *p)
{
	struct proxy_job *j;

	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	if (p->renew_cond_init)
		pthread_cond_broadcast(&p->renew_cond);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i], NULL);
	p->nworkers = 0;
	if (p->renewer_started)
		pthread_join(p->renewer, NULL);
	p->renewer_started = false;
	/* What no worker took (none when the loop finished): dropped. */
	while ((j = p->q_head) != NULL) {
		p->q_head = j->next;
		proxy_job_free(j);
	}
	p->q_tail = &p->q_head;
}

void proxy_cache_kept(struct agent_proxy *p)
{
	pthread_mutex_lock(&p->mu);
	if (p->renew_cond_init)
		pthread_cond_broadcast(&p->renew_cond);
	pthread_mutex_unlock(&p->mu);
}
