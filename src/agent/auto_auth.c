/* auto_auth.c — the auto-auth thread (auto_auth.h): log in, publish,
 * write the sinks, renew, log in again.
 *
 * The thread sleeps on the agent's condition variable between events
 * (agent_token_wait_invalid with the nearest deadline: a renewal or a sink
 * to retry), so it is idle between renewals and wakes at once when the
 * agent stops or a part reports the token invalid. Its clients have no
 * retries of their own: the backoff here is the only one. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/auth_method.h"
#include "agent/auto_auth.h"
#include "agent/sink.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

#define NO_DEADLINE INT64_MAX
#define IDLE_MS (3600L * 1000)

struct auto_auth {
	struct agent *a;
	struct auth_method *method;
	struct sink *sinks[AGENT_MAX_SINKS];
	size_t nsinks;
	/* a->api's settings (borrowed) with the method's namespace, no token,
	 * no wrapping, no retries */
	struct api_config base;
	char wrap_ttl[32]; /* the method's, as a header value; "" for none */
	pthread_t thread;
	bool running;
	bool first_done; /* the first login's sinks are all written */
};

/* What one login gave. */
struct session {
	char *token;     /* the token, or with the method's wrap_ttl the wrap info JSON; wiped */
	bool wrapped;
	bool renewable;
	int64_t lease_ms;   /* 0: no expiry */
	int64_t expires_ms; /* monotonic */
};

static int64_t now_ms(void)
{
	return clock_monotonic_ns() / 1000000;
}

static uint64_t jitter(void)
{
	uint64_t v = 0;

	(void)rand_bytes(&v, sizeof(v));
	return v;
}

static void session_release(struct session *s)
{
	secure_free_str(s->token);
	memset(s, 0, sizeof(*s));
}

/* A client of base with token and wrap_ttl (either may be NULL); tls: the
 * method's TLS files (the login itself). */
static int client_for(struct auto_auth *aa, const char *token, const char *wrap_ttl, bool tls,
                      struct api_client **out, struct buf *err)
{
	struct api_config cfg = aa->base;
	char *detail = NULL;
	int r;

	cfg.token = (char *)token;
	cfg.wrap_ttl = (char *)wrap_ttl;
	if (tls)
		auth_method_tls(aa->method, &cfg);
	if ((r = api_client_new(&cfg, out, &detail)) != 0)
		buf_printf(err, "cannot make a client: %s", detail ? detail : err_message(r));
	free(detail);
	return r;
}

static const char *why(const struct api_response *resp, int r)
{
	return resp->error ? resp->error : err_message(r);
}

/* The auth block of a login or renewal answer into s. */
static int take_auth(const json_t *answer, struct session *s, struct buf *err)
{
	const json_t *auth = json_object_get(answer, "auth");
	const char *tok = json_string_value(json_object_get(auth, "client_token"));

	if (tok == NULL || *tok == '\0') {
		buf_append_str(err, "the answer holds no auth.client_token");
		return TROVE_ERR_INVALID;
	}
	if (s->token == NULL || strcmp(s->token, tok) != 0) {
		secure_free_str(s->token);
		s->token = xstrdup(tok);
	}
	s->lease_ms = (int64_t)json_integer_value(json_object_get(auth, "lease_duration")) * 1000;
	s->renewable = json_is_true(json_object_get(auth, "renewable"));
	s->expires_ms = now_ms() + s->lease_ms;
	return 0;
}

/* token_file: the token checked with lookup-self. */
static int lookup_self(struct auto_auth *aa, const char *token, struct session *s, struct buf *err)
{
	struct api_client *c = NULL;
	struct api_response resp;
	const json_t *data;
	int r;

	api_response_init(&resp);
	if ((r = client_for(aa, token, NULL, false, &c, err)) != 0)
		goto out;
	if ((r = api_read(c, "auth/token/lookup-self", &resp)) != 0) {
		buf_printf(err, "the token of the file was refused: %s", why(&resp, r));
		goto out;
	}
	data = json_object_get(resp.json, "data");
	if (!json_is_string(json_object_get(data, "id"))) {
		buf_append_str(err, "lookup-self answered without data.id");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	s->token = xstrdup(token);
	s->lease_ms = (int64_t)json_integer_value(json_object_get(data, "ttl")) * 1000;
	s->renewable = json_is_true(json_object_get(data, "renewable"));
	s->expires_ms = now_ms() + s->lease_ms;
out:
	api_response_release(&resp);
	api_client_free(c);
	return r;
}

static int login(struct auto_auth *aa, struct session *s, struct buf *err)
{
	struct api_client *plain = NULL, *c = NULL;
	struct api_response resp;
	struct auth_login l;
	struct buf wrapped;
	int r;

	memset(&l, 0, sizeof(l));
	api_response_init(&resp);
	buf_init_secret(&wrapped, 1 << 20);
	if ((r = client_for(aa, NULL, NULL, false, &plain, err)) != 0 ||
	    (r = auth_method_login(aa->method, plain, &l, err)) != 0)
		goto out;
	if (l.lookup_self) {
		r = lookup_self(aa, l.token, s, err);
		goto out;
	}
	if ((r = client_for(aa, NULL, aa->wrap_ttl[0] ? aa->wrap_ttl : NULL, true, &c, err)) != 0)
		goto out;
	if ((r = api_write(c, l.path, l.body, &resp)) != 0) {
		buf_printf(err, "%s: %s", l.path, why(&resp, r));
		goto out;
	}
	if (aa->wrap_ttl[0]) {
		if ((r = sink_wrap_info_json(resp.json, &wrapped)) != 0) {
			buf_append_str(err, "the wrapped login answer holds no wrap_info token");
			goto out;
		}
		s->token = buf_take(&wrapped);
		s->wrapped = true;
		goto out;
	}
	r = take_auth(resp.json, s, err);
out:
	auth_login_release(&l);
	api_response_release(&resp);
	api_client_free(plain);
	api_client_free(c);
	buf_release_secret(&wrapped);
	return r;
}

/* renew-self. *refused: the server answered 4xx (the token is no good). */
static int renew(struct auto_auth *aa, struct session *s, bool *refused, struct buf *err)
{
	struct api_client *c = NULL;
	struct api_response resp;
	json_t *body = json_object();
	int r;

	*refused = false;
	api_response_init(&resp);
	if ((r = client_for(aa, s->token, NULL, false, &c, err)) != 0)
		goto out;
	if ((r = api_write(c, "auth/token/renew-self", body, &resp)) != 0) {
		*refused = resp.status >= 400 && resp.status < 500;
		buf_append_str(err, why(&resp, r));
		goto out;
	}
	r = take_auth(resp.json, s, err);
	*refused = r != 0;
out:
	json_decref(body);
	api_response_release(&resp);
	api_client_free(c);
	return r;
}

/* Writes token to the sinks in the pending mask; returns those that
 * failed. */
static uint32_t write_sinks(struct auto_auth *aa, const char *token, uint32_t pending)
{
	for (size_t i = 0; i < aa->nsinks; i++) {
		struct buf err;

		if (!(pending & (1u << i)))
			continue;
		buf_init(&err, 8192);
		if (sink_write(aa->sinks[i], &aa->base, token, &err) == 0) {
			pending &= ~(1u << i);
			log_info("auto-auth: token written to the sink", "path", sink_path(aa->sinks[i]));
		} else {
			log_error("auto-auth: cannot write the sink; retrying", "path", sink_path(aa->sinks[i]), "where",
			          aa->a->cfg->auto_auth.sinks[i].where ? aa->a->cfg->auto_auth.sinks[i].where : "",
			          "error", err.data);
		}
		buf_release(&err);
	}
	return pending;
}

static uint64_t published_gen(struct agent *a)
{
	uint64_t g;

	pthread_mutex_lock(&a->mu);
	g = a->token_gen;
	pthread_mutex_unlock(&a->mu);
	return g;
}

/* After a renewal attempt at now: the next deadline, or -1 for a new
 * login. */
static int64_t after_renewal(struct auto_auth *aa, struct session *s, struct auto_auth_renewal *plan,
                             struct auto_auth_backoff *rb, int64_t now)
{
	struct buf err;
	bool refused = false;
	int64_t next;
	char ttl[32];
	int r = 0;

	buf_init(&err, 8192);
	if (s->renewable) {
		r = renew(aa, s, &refused, &err);
		if (r != 0 && refused)
			log_warn("auto-auth: the token could not be renewed; logging in again", "method",
			         auth_method_type(aa->method), "error", err.data);
		else if (r != 0)
			log_warn("auto-auth: renewing the token failed; retrying", "method", auth_method_type(aa->method),
			         "error", err.data);
	}
	buf_release(&err);
	if (refused)
		return -1;
	if (r != 0) {
		int64_t left = s->expires_ms - now - plan->grace_ms;
		long wait = auto_auth_backoff_next(rb);

		return left <= 0 ? -1 : now + (wait < left ? wait : left);
	}
	auto_auth_backoff_reset(rb);
	if (s->renewable) {
		(void)snprintf(ttl, sizeof(ttl), "%llds", (long long)(s->lease_ms / 1000));
		log_info("auto-auth: renewed the token", "ttl", ttl);
	}
	next = auto_auth_renewal_next(plan, s->expires_ms - now, jitter());
	if (next < 0) {
		log_info(s->renewable ? "auto-auth: the token nears its max TTL; logging in again"
		                      : "auto-auth: the token cannot be renewed and nears its expiry; logging in again",
		         "method", auth_method_type(aa->method));
		return -1;
	}
	return now + next;
}

/* exit_after_auth, once the first login's sinks are all written. */
static bool first_written(struct auto_auth *aa)
{
	const struct agent_config *cfg = aa->a->cfg;

	if (aa->first_done)
		return false;
	aa->first_done = true;
	if (cfg->exit_after_auth && cfg->ntemplates == 0) {
		log_info("auto-auth: authenticated and every sink written; exit_after_auth set: stopping");
		agent_request_stop(aa->a, 0);
		return true;
	}
	return false;
}

/* Keeps the token of s alive until a new login is due or the agent stops. */
static void keep(struct auto_auth *aa, struct session *s)
{
	struct agent *a = aa->a;
	struct auto_auth_backoff sb, rb;
	struct auto_auth_renewal plan = {0, 0};
	uint32_t pending = aa->nsinks ? (uint32_t)((1ull << aa->nsinks) - 1) : 0;
	int64_t sink_due = now_ms(), renew_due = NO_DEADLINE;
	uint64_t gen = 0;

	auto_auth_backoff_init(&sb, (long)a->cfg->auto_auth.method.min_backoff * 1000,
	                       (long)a->cfg->auto_auth.method.max_backoff * 1000);
	rb = sb;
	if (!s->wrapped) {
		agent_token_publish(a, s->token);
		gen = published_gen(a);
		if (s->lease_ms > 0) {
			auto_auth_renewal_init(&plan, s->lease_ms, jitter());
			renew_due = now_ms() + auto_auth_renewal_next(&plan, s->lease_ms, jitter());
		}
	}
	for (;;) {
		int64_t now = now_ms(), deadline;
		long timeout;

		agent_rest_note(&a->rest); /* a renewal, a sink written */
		if (pending && now >= sink_due) {
			pending = write_sinks(aa, s->token, pending);
			if (pending)
				sink_due = now + auto_auth_backoff_next(&sb);
			else if (first_written(aa))
				return;
		}
		deadline = pending && sink_due < renew_due ? sink_due : renew_due;
		timeout = deadline == NO_DEADLINE ? -1 : (long)(deadline > now ? deadline - now : 0);
		if (s->wrapped) {
			if (!agent_sleep(a, timeout < 0 ? IDLE_MS : timeout))
				return;
		} else if (agent_token_wait_invalid(a, gen, timeout)) {
			log_info("auto-auth: the token was reported invalid; logging in again", "method",
			         auth_method_type(aa->method));
			return;
		}
		if (agent_stopping(a))
			return;
		now = now_ms();
		if (now >= renew_due && (renew_due = after_renewal(aa, s, &plan, &rb, now)) < 0)
			return;
	}
}

static void *run(void *arg)
{
	struct auto_auth *aa = arg;
	struct agent *a = aa->a;
	const struct agent_method_config *mc = &a->cfg->auto_auth.method;
	struct auto_auth_backoff backoff;

	auto_auth_backoff_init(&backoff, (long)mc->min_backoff * 1000, (long)mc->max_backoff * 1000);
	while (!agent_stopping(a)) {
		struct session s;
		struct buf err;
		int r;

		memset(&s, 0, sizeof(s));
		buf_init(&err, 8192);
		log_info("auto-auth: logging in", "method", mc->type, "path", aa->method->mount);
		r = login(aa, &s, &err);
		agent_rest_note(&a->rest);
		if (r != 0) {
			char wait[32];
			long ms = auto_auth_backoff_next(&backoff);

			(void)snprintf(wait, sizeof(wait), "%ldms", ms);
			log_error("auto-auth: login failed", "method", mc->type, "where", auth_method_where(aa->method),
			          "error", err.data, "backoff", mc->exit_on_err ? "none (exit_on_err)" : wait);
			buf_release(&err);
			if (mc->exit_on_err) {
				agent_request_stop(a, 1);
				break;
			}
			if (!agent_sleep(a, ms))
				break;
			continue;
		}
		buf_release(&err);
		auto_auth_backoff_reset(&backoff);
		log_info(s.wrapped ? "auto-auth: authenticated; the wrapped answer goes to the sink"
		                   : "auto-auth: authenticated",
		         "method", mc->type);
		keep(aa, &s);
		session_release(&s);
	}
	return NULL;
}

bool auto_auth_wanted(const struct agent_config *cfg)
{
	return cfg->auto_auth.present;
}

/* What needs the method and the sinks together, as Vault Agent's config
 * checks. */
static int check_combination(const struct agent_auto_auth_config *aac, struct buf *err)
{
	const struct agent_method_config *m = &aac->method;
	const char *where = m->where ? m->where : "auto_auth";

	if (m->min_backoff > 0 && m->max_backoff > 0 && m->min_backoff >= m->max_backoff)
		buf_printf(err, "%s: auto_auth method \"%s\": min_backoff must be less than max_backoff", where, m->type);
	else if (m->wrap_ttl > 0 && aac->nsinks != 1)
		buf_printf(err, "%s: auto_auth method \"%s\": wrap_ttl on the method needs exactly one sink", where,
		           m->type);
	else if (m->wrap_ttl > 0 && aac->sinks[0].wrap_ttl > 0)
		buf_printf(err, "%s: auto_auth: wrap_ttl is set on both the method and the sink", where);
	else if (m->wrap_ttl > 0 && m->type && strcmp(m->type, "token_file") == 0)
		buf_printf(err, "%s: auto_auth method \"token_file\": wrap_ttl cannot be used with token_file", where);
	else if (aac->nsinks > AGENT_MAX_SINKS)
		buf_printf(err, "%s: auto_auth: more than %d sinks", where, AGENT_MAX_SINKS);
	else
		return 0;
	return TROVE_ERR_INVALID;
}

int auto_auth_start(struct agent *a, struct buf *err)
{
	const struct agent_auto_auth_config *aac = &a->cfg->auto_auth;
	struct auto_auth *aa = xcalloc(1, sizeof(*aa));
	int r;

	aa->a = a;
	a->auth = aa;
	if ((r = check_combination(aac, err)) != 0 || (r = auth_method_new(&aac->method, &aa->method, err)) != 0)
		return r;
	for (size_t i = 0; i < aac->nsinks; i++) {
		if ((r = sink_new(&aac->sinks[i], &aa->sinks[i], err)) != 0)
			return r;
		aa->nsinks++;
	}
	aa->base = a->api;
	aa->base.token = NULL;
	aa->base.wrap_ttl = NULL;
	aa->base.max_retries = 0;
	if (aac->method.namespace_name && *aac->method.namespace_name)
		aa->base.namespace_name = aac->method.namespace_name;
	if (aac->method.wrap_ttl > 0)
		(void)snprintf(aa->wrap_ttl, sizeof(aa->wrap_ttl), "%llds", (long long)aac->method.wrap_ttl);
	if (pthread_create(&aa->thread, NULL, run, aa) != 0) {
		buf_append_str(err, "auto_auth: cannot start its thread");
		return TROVE_ERR_INTERNAL;
	}
	aa->running = true;
	return 0;
}

void auto_auth_stop(struct agent *a)
{
	struct auto_auth *aa = a->auth;

	if (aa == NULL)
		return;
	if (aa->running)
		pthread_join(aa->thread, NULL);
	for (size_t i = 0; i < aa->nsinks; i++)
		sink_free(aa->sinks[i]);
	auth_method_free(aa->method);
	free(aa);
	a->auth = NULL;
}
