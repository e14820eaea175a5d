/* sys_metrics.c — sys/metrics: the server's counters and gauges, as
 * Vault's JSON (the default) or Prometheus text (format=prometheus).
 *
 * What is measured: the expiration manager's irrevocable leases (a gauge:
 * each is a credential nobody could take back, to alert on), revocations
 * and failed revocation attempts since unseal, and the audit entries a
 * device failed to record (alert on it: with a second device the request
 * went on, with one it was refused). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/audit.h"
#include "core/core.h"
#include "core/expiration.h"
#include "engines.h"
#include "err.h"
#include "timefmt.h"

#include "banned.h"

struct metric {
	const char *name; /* Prometheus name; Vault's JSON name swaps '_' for '.' */
	const char *help;
	bool counter;
	uint64_t value;
};

static size_t collect(struct request *req, struct metric *m)
{
	struct expiration_stats st;
	expiration_stats(core_expiration(req->core), &st);
	m[0] = (struct metric){"trove_expire_irrevocable_leases", "Leases whose revocation failed for good.", false,
	                       st.irrevocable};
	m[1] = (struct metric){"trove_expire_revocations_total", "Leases revoked since unseal.", true, st.revoked};
	m[2] = (struct metric){"trove_expire_revoke_failures_total", "Failed lease revocation attempts since unseal.",
	                       true, st.revoke_errors};
	m[3] = (struct metric){"trove_audit_log_failures_total",
	                       "Audit entries an enabled device failed to record (a request still succeeds "
	                       "while another device records it).",
	                       true, audit_broker_failures(core_audit(req->core))};
	return 4;
}

static json_t *json_metric(const struct metric *m)
{
	char name[128];
	snprintf(name, sizeof(name), "%s", m->name);
	for (char *p = name; *p; p++)
		if (*p == '_')
			*p = '.';
	return json_pack("{s:s, s:I, s:{}}", "Name", name, m->counter ? "Count" : "Value", (json_int_t)m->value,
	                 "Labels");
}

static int metrics(struct request *req, struct response *resp)
{
	struct metric m[8];
	size_t n = collect(req, m);
	const char *format = field_string(req, "format");

	if (strcmp(format, "prometheus") == 0) {
		struct buf text;
		buf_init(&text, 64 << 10);
		for (size_t i = 0; i < n; i++)
			buf_printf(&text, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m[i].name, m[i].help, m[i].name,
			           m[i].counter ? "counter" : "gauge", m[i].name, (unsigned long long)m[i].value);
		resp->text = buf_take(&text);
		resp->text_type = "text/plain; version=0.0.4";
		return 0;
	}
	if (*format)
		return response_error(resp, TROVE_ERR_INVALID, "format: unsupported \"%s\" (json or prometheus)", format);
	char now[TIME_TEXT_MAX];
	time_rfc3339(time(NULL), now);
	json_t *gauges = json_array(), *counters = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(m[i].counter ? counters : gauges, json_metric(&m[i]));
	resp->bare = json_pack("{s:s, s:o, s:o, s:[]}", "Timestamp", now, "Gauges", gauges, "Counters", counters,
	                       "Samples");
	return resp->bare ? 0 : TROVE_ERR_NOMEM;
}

static const struct field metrics_fields[] = {
    {.name = "format",
     .type = FIELD_STRING,
     .def = "",
     .description = "\"prometheus\" for Prometheus text; JSON otherwise"},
    {0},
};

const struct route sys_metrics_routes[] = {
    {.pattern = "metrics",
     .ops = {[OP_READ] = metrics},
     .fields = metrics_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "the server's metrics"},
    {.pattern = NULL, .ops = {NULL}},
};
