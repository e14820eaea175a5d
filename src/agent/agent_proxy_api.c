/* agent_proxy_api.c — the agent's own endpoints on its listeners
 * (agent_proxy_int.h), answered on the loop as Vault Agent answers them:
 *   GET  /agent/v1/metrics       the proxy's counters under Vault's
 *                                telemetry names: go-metrics' JSON, or
 *                                Prometheus text with ?format=prometheus
 *   POST /agent/v1/quit          stops the agent (exit 0) when the
 *                                listener's agent_api { enable_quit };
 *                                else 404; another method 405
 *   POST /agent/v1/cache-clear   {type, value, namespace}: evicts from the
 *                                cache (200 and nothing done without one)
 * A listener with role "metrics_only" serves the metrics alone. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent_proxy_int.h"
#include "err.h"
#include "log.h"
#include "timefmt.h"

#include "banned.h"

#define PROMETHEUS_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct counter {
	const char *name;
	const atomic_ulong *v;
};

static size_t counters(const struct proxy_counters *n, struct counter out[5])
{
	out[0] = (struct counter){ "vault.agent.proxy.success", &n->success };
	out[1] = (struct counter){ "vault.agent.proxy.client_error", &n->client_error };
	out[2] = (struct counter){ "vault.agent.proxy.error", &n->error };
	out[3] = (struct counter){ "vault.agent.cache.hit", &n->cache_hit };
	out[4] = (struct counter){ "vault.agent.cache.miss", &n->cache_miss };
	return 5;
}

void proxy_metrics_render(const struct proxy_counters *n, bool prometheus, struct buf *out)
{
	struct counter c[5];
	size_t k = counters(n, c);

	if (prometheus) {
		for (size_t i = 0; i < k; i++) {
			char name[64];
			size_t l = strlen(c[i].name);
			for (size_t x = 0; x <= l && x < sizeof(name); x++)
				name[x] = c[i].name[x] == '.' ? '_' : c[i].name[x];
			name[sizeof(name) - 1] = '\0';
			(void)buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %lu\n", name, name, name, name,
			                 atomic_load(c[i].v));
		}
		return;
	}
	/* go-metrics' in-memory sink summary, as Vault Agent serves it; the
	 * counts here are totals since the agent started. */
	json_t *list = json_array();
	for (size_t i = 0; i < k; i++) {
		unsigned long v = atomic_load(c[i].v);
		json_array_append_new(list, json_pack("{s:s, s:I, s:f, s:I, s:I, s:I, s:f, s:f, s:{}}", "Name",
		                                      c[i].name, "Count", (json_int_t)v, "Rate", (double)v / 10.0,
		                                      "Sum", (json_int_t)v, "Min", (json_int_t)(v ? 1 : 0), "Max",
		                                      (json_int_t)(v ? 1 : 0), "Mean", v ? 1.0 : 0.0, "Stddev", 0.0,
		                                      "Labels"));
	}
	char ts[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
	json_t *o = json_pack("{s:s, s:[], s:[], s:o, s:[]}", "Timestamp", ts, "Gauges", "Points", "Counters", list,
	                      "Samples");
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	(void)buf_append_str(out, text ? text : "{}");
	free(text);
	json_decref(o);
}

static bool query_has(const char *query, const char *pair)
{
	size_t n = strlen(pair);

	for (const char *q = query; q && *q;) {
		if (strncmp(q, pair, n) == 0 && (q[n] == '\0' || q[n] == '&'))
			return true;
		q = strchr(q, '&');
		q = q ? q + 1 : NULL;
	}
	return false;
}

static void metrics(struct agent_proxy *p, struct proxy_job *j)
{
	bool prom = query_has(j->query, "format=prometheus");

	if (strcmp(j->method, "GET") != 0) {
		proxy_job_error(j, 405, "method not allowed");
		return;
	}
	j->status = 200;
	proxy_metrics_render(&p->n, prom, &j->out);
	(void)strlist_push(&j->headers, prom ? "content-type: " PROMETHEUS_TYPE : "content-type: application/json");
}

static void quit(struct agent_proxy *p, const struct proxy_listener *l, struct proxy_job *j)
{
	if (!l->cfg->enable_quit) {
		j->status = 404;
		return;
	}
	if (strcmp(j->method, "POST") != 0) {
		j->status = 405;
		return;
	}
	log_info("agent proxy: quit requested through the API");
	j->status = 200;
	agent_request_stop(p->a, 0);
}

static void cache_clear(struct agent_proxy *p, struct proxy_job *j)
{
	json_t *in;
	json_error_t e;
	const char *why = NULL;
	size_t n = 0;
	struct buf m;

	j->status = 200;
	if (p->cache == NULL || (strcmp(j->method, "POST") != 0 && strcmp(j->method, "PUT") != 0))
		return; /* as Vault Agent: nothing to do, 200 */
	in = json_loadb(j->body.data, j->body.len, 0, &e);
	buf_init(&m, BUF_CAP_DEFAULT);
	if (!json_is_object(in)) {
		(void)buf_printf(&m, "failed to parse JSON input: %s", j->body.len ? e.text : "empty JSON provided");
		proxy_job_error(j, 400, m.data);
	} else if (!json_is_string(json_object_get(in, "type")) ||
	           (json_object_get(in, "value") && !json_is_string(json_object_get(in, "value"))) ||
	           (json_object_get(in, "namespace") && !json_is_string(json_object_get(in, "namespace")))) {
		proxy_job_error(j, 400, "failed to parse clear input: type, value and namespace must be strings");
	} else if (agent_cache_clear(p->cache, json_string_value(json_object_get(in, "type")),
	                             json_string_value(json_object_get(in, "value")),
	                             json_string_value(json_object_get(in, "namespace")), &n, &why) != 0) {
		(void)buf_printf(&m, "failed to clear cache: %s", why);
		proxy_job_error(j, 400, m.data);
	} else {
		char count[32];
		snprintf(count, sizeof(count), "%zu", n);
		log_info("agent cache: cleared", "type", json_string_value(json_object_get(in, "type")), "evicted",
		         count);
	}
	buf_release(&m);
	api_json_free_secret(in); /* a token may be its value */
}

bool proxy_agent_api(struct agent_proxy *p, const struct proxy_listener *l, struct proxy_job *j)
{
	bool metrics_only = l->cfg->role && strcmp(l->cfg->role, "metrics_only") == 0;

	if (strcmp(j->path, "/agent/v1/metrics") == 0) {
		metrics(p, j);
		return true;
	}
	if (metrics_only)
		return false;
	if (strcmp(j->path, "/agent/v1/quit") == 0) {
		quit(p, l, j);
		return true;
	}
	if (strcmp(j->path, "/agent/v1/cache-clear") == 0) {
		cache_clear(p, j);
		return true;
	}
	return false;
}
