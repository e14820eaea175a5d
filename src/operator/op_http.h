/* op_http.h — the operator's probe and metrics listeners, and its metrics.
 *
 * As controller-runtime's manager serves them: the probe address answers
 * GET /healthz and GET /readyz ("ok" with 200, else 500 with the reason),
 * the metrics address GET /metrics in Prometheus text format 0.0.4. Any
 * other path is 404, another method on a known path 405; a request head
 * over OP_HTTP_MAX_REQUEST bytes is 431. One answer per connection
 * (Connection: close).
 *
 * Metrics: every name is declared once, in op_http.c's table (the names
 * below); a series is a name plus a label set. The process_* metrics
 * (resident and virtual memory, threads, open and max fds, CPU seconds,
 * start time) are read from /proc when /metrics is served. */
#ifndef TROVE_OPERATOR_OP_HTTP_H
#define TROVE_OPERATOR_OP_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define OP_HTTP_MAX_REQUEST 4096

/* The counters and gauges of op_http.c's table. */
#define OP_M_RECONCILES "trove_operator_reconciles_total"       /* kind="..." */
#define OP_M_RECONCILE_ERRORS "trove_operator_reconcile_errors_total" /* kind="..." */
#define OP_M_VAULT_REQUESTS "trove_operator_vault_requests_total"
#define OP_M_VAULT_ERRORS "trove_operator_vault_request_errors_total"
#define OP_M_KUBE_REQUESTS "trove_operator_kube_requests_total"
#define OP_M_KUBE_ERRORS "trove_operator_kube_request_errors_total"
#define OP_M_SECRET_WRITES "trove_operator_secret_writes_total"
#define OP_M_ROLLOUT_RESTARTS "trove_operator_rollout_restarts_total"
#define OP_M_QUEUE_ADDS "trove_operator_queue_adds_total"
#define OP_M_QUEUE_RETRIES "trove_operator_queue_retries_total"
#define OP_M_QUEUE_DEPTH "trove_operator_queue_depth" /* gauge */
#define OP_M_QUEUE_DELAYED "trove_operator_queue_delayed" /* gauge */
#define OP_M_LEADER "trove_operator_leader" /* gauge: 1 while leading */
#define OP_M_READY "trove_operator_ready" /* gauge: 1 while /readyz is ok */

/* At most this many label sets per name; more are dropped. */
#define OP_METRICS_MAX_SERIES 64
/* The longest label set kept ("kind=\"VaultStaticSecret\"" is 24). */
#define OP_METRICS_MAX_LABELS 256

struct op_metrics;

/* A new set of metrics, every series absent (counters appear at their
 * first add). NULL on allocation failure. */
struct op_metrics *op_metrics_new(void);
void op_metrics_free(struct op_metrics *m);

/* Adds v to (name, labels) (labels NULL or "a=\"b\",c=\"d\"" without
 * braces). Returns 0; TROVE_ERR_NOT_FOUND for a name not in the table;
 * TROVE_ERR_TOO_LARGE when labels are too long or the name has
 * OP_METRICS_MAX_SERIES series already. Thread-safe. */
int op_metrics_add(struct op_metrics *m, const char *name, const char *labels, double v);
/* Sets (name, labels) to v (for gauges); returns as op_metrics_add. */
int op_metrics_set(struct op_metrics *m, const char *name, const char *labels, double v);
/* The value of (name, labels), 0 when absent. */
double op_metrics_get(struct op_metrics *m, const char *name, const char *labels);

/* Appends every metric in the text format (HELP, TYPE, series; then the
 * process_* metrics) to out. Returns 0 or TROVE_ERR_TOO_LARGE. */
int op_metrics_render(struct op_metrics *m, struct buf *out);

/* What the listeners ask of the runtime. Each is called on the listener's
 * thread and must not block. */
struct op_http_handlers {
	/* Whether alive; false with why filled otherwise. */
	bool (*healthy)(void *ctx, struct buf *why);
	/* Whether ready to work (caches synced, leader or standing by). */
	bool (*ready)(void *ctx, struct buf *why);
	/* Appends the metrics text to out. */
	void (*metrics)(void *ctx, struct buf *out);
	void *ctx;
};

/* Which paths a listener serves. */
#define OP_HTTP_PROBES 1u  /* /healthz, /readyz */
#define OP_HTTP_METRICS 2u /* /metrics */

/* Answers the request in req[0..n) (bytes read so far from a client) on a
 * listener serving routes. Returns 0 when the request head is not complete
 * yet (read more; out untouched), else the HTTP status, with the whole
 * response (status line, headers, body) appended to out. */
int op_http_respond(const struct op_http_handlers *h, unsigned routes, const char *req, size_t n,
                    struct buf *out);

struct op_http;

/* Listens on metrics_addr (serving /metrics) and probe_addr (serving the
 * probes), each "host:port", ":port" (every interface) or "[v6]:port"; "0"
 * or "" disables that listener; the same address for both serves all
 * paths on one socket. Starts one thread serving both (poll(), at most a
 * few connections at a time, each with a deadline). h is copied. Returns
 * 0, or TROVE_ERR_INVALID / TROVE_ERR_IO with *err (heap) naming the
 * address. */
int op_http_start(const char *metrics_addr, const char *probe_addr, const struct op_http_handlers *h,
                  struct op_http **out, char **err);
/* The port bound for routes (OP_HTTP_PROBES or OP_HTTP_METRICS), 0 when
 * disabled: for ":0" in tests. */
int op_http_port(const struct op_http *s, unsigned routes);
/* Stops the thread and closes every socket. NULL-safe. */
void op_http_stop(struct op_http *s);

#endif
