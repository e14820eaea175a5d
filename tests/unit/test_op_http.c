/* test_op_http.c — the operator's probe and metrics endpoints: routing
 * (404 elsewhere, 405 for other methods, the probes only on the probe
 * listener), request heads (incomplete, malformed, too large), the
 * Prometheus text format of the metrics table and process_* metrics, and
 * the listener thread answering on real sockets. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "operator/op_http.h"

#include "banned.h"

struct fake {
	bool healthy, ready;
	struct op_metrics *m;
};

static bool fake_healthy(void *ctx, struct buf *why)
{
	struct fake *f = ctx;

	if (!f->healthy)
		(void)buf_append_str(why, "worker stuck");
	return f->healthy;
}

static bool fake_ready(void *ctx, struct buf *why)
{
	struct fake *f = ctx;

	if (!f->ready)
		(void)buf_append_str(why, "informer vaultstaticsecrets not synced");
	return f->ready;
}

static void fake_metrics(void *ctx, struct buf *out)
{
	struct fake *f = ctx;

	(void)op_metrics_render(f->m, out);
}

static struct fake F;
static const struct op_http_handlers H = { fake_healthy, fake_ready, fake_metrics, &F };

static int ask(unsigned routes, const char *req, struct buf *out)
{
	buf_reset(out);
	return op_http_respond(&H, routes, req, strlen(req), out);
}

static const char *body_of(const struct buf *out)
{
	const char *b = strstr(out->data, "\r\n\r\n");

	return b ? b + 4 : "";
}

static int setup(void **state)
{
	(void)state;
	F.healthy = true;
	F.ready = true;
	F.m = op_metrics_new();
	return F.m ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	op_metrics_free(F.m);
	return 0;
}

static void test_probes(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 1 << 20);
	assert_int_equal(ask(OP_HTTP_PROBES, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &out), 200);
	assert_string_equal(body_of(&out), "ok");
	assert_non_null(strstr(out.data, "Content-Length: 2\r\n"));
	assert_non_null(strstr(out.data, "Connection: close\r\n"));
	assert_int_equal(ask(OP_HTTP_PROBES, "GET /readyz HTTP/1.0\r\n\r\n", &out), 200);
	F.ready = false;
	assert_int_equal(ask(OP_HTTP_PROBES, "GET /readyz?verbose HTTP/1.1\r\n\r\n", &out), 500);
	assert_string_equal(body_of(&out), "informer vaultstaticsecrets not synced\n");
	F.healthy = false;
	assert_int_equal(ask(OP_HTTP_PROBES, "GET /healthz HTTP/1.1\n\n", &out), 500);
	assert_string_equal(body_of(&out), "worker stuck\n");
	F.healthy = F.ready = true;
	buf_release(&out);
}

static void test_routing(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 1 << 20);
	/* Each path only on its own listener. */
	assert_int_equal(ask(OP_HTTP_METRICS, "GET /healthz HTTP/1.1\r\n\r\n", &out), 404);
	assert_int_equal(ask(OP_HTTP_PROBES, "GET /metrics HTTP/1.1\r\n\r\n", &out), 404);
	assert_int_equal(ask(OP_HTTP_PROBES | OP_HTTP_METRICS, "GET /metrics HTTP/1.1\r\n\r\n", &out), 200);
	assert_int_equal(ask(OP_HTTP_PROBES, "GET / HTTP/1.1\r\n\r\n", &out), 404);
	assert_int_equal(ask(OP_HTTP_PROBES, "GET /healthz/extra HTTP/1.1\r\n\r\n", &out), 404);
	assert_int_equal(ask(OP_HTTP_PROBES, "GET /HEALTHZ HTTP/1.1\r\n\r\n", &out), 404);
	/* Other methods on a known path. */
	assert_int_equal(ask(OP_HTTP_PROBES, "POST /healthz HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", &out), 405);
	assert_non_null(strstr(out.data, "Allow: GET\r\n"));
	assert_int_equal(ask(OP_HTTP_METRICS, "DELETE /metrics HTTP/1.1\r\n\r\n", &out), 405);
	assert_int_equal(ask(OP_HTTP_METRICS, "HEAD /metrics HTTP/1.1\r\n\r\n", &out), 405);
	buf_release(&out);
}

static void test_request_heads(void **state)
{
	struct buf out;
	static char big[OP_HTTP_MAX_REQUEST + 64];

	(void)state;
	buf_init(&out, 1 << 20);
	assert_int_equal(ask(OP_HTTP_PROBES, "GET /healthz HTTP/1.1\r\nHost: x\r\n", &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(ask(OP_HTTP_PROBES, "", &out), 0);
	assert_int_equal(ask(OP_HTTP_PROBES, "GET healthz HTTP/1.1\r\n\r\n", &out), 400);
	assert_int_equal(ask(OP_HTTP_PROBES, "GET /healthz\r\n\r\n", &out), 400);
	assert_int_equal(ask(OP_HTTP_PROBES, "GET /healthz HTTP/2.0\r\n\r\n", &out), 400);
	assert_int_equal(ask(OP_HTTP_PROBES, "GET  /healthz HTTP/1.1\r\n\r\n", &out), 400);
	assert_int_equal(ask(OP_HTTP_PROBES, "G{T /healthz HTTP/1.1\r\n\r\n", &out), 400);
	assert_int_equal(ask(OP_HTTP_PROBES, "GET /hea\x01lthz HTTP/1.1\r\n\r\n", &out), 400);
	/* A head past the cap, complete or not. */
	memcpy(big, "GET /healthz HTTP/1.1\r\nX: ", 26);
	memset(big + 26, 'a', OP_HTTP_MAX_REQUEST + 10 - 26);
	assert_int_equal(ask(OP_HTTP_PROBES, big, &out), 431);
	memcpy(big + OP_HTTP_MAX_REQUEST + 10, "\r\n\r\n", 4);
	assert_int_equal(ask(OP_HTTP_PROBES, big, &out), 431);
	buf_release(&out);
}

/* Every line is a comment or "name{labels} value" with a number. */
static void assert_text_format(const char *text)
{
	const char *line = text;

	while (*line) {
		const char *eol = strchr(line, '\n'), *sp;
		char *end;

		assert_non_null(eol);
		if (line[0] == '#') {
			assert_true(strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0);
		} else {
			assert_true((line[0] >= 'a' && line[0] <= 'z') || line[0] == '_');
			sp = memchr(line, ' ', (size_t)(eol - line));
			assert_non_null(sp);
			(void)strtod(sp + 1, &end);
			assert_ptr_equal(end, eol);
		}
		line = eol + 1;
	}
}

static void test_metrics_text(void **state)
{
	struct buf out;
	char labels[300];
	int i, r = 0;

	(void)state;
	buf_init(&out, 1 << 20);
	assert_int_equal(op_metrics_add(F.m, OP_M_RECONCILES, "kind=\"VaultStaticSecret\"", 1), 0);
	assert_int_equal(op_metrics_add(F.m, OP_M_RECONCILES, "kind=\"VaultStaticSecret\"", 2), 0);
	assert_int_equal(op_metrics_add(F.m, OP_M_RECONCILES, "kind=\"VaultPKISecret\"", 1), 0);
	assert_int_equal(op_metrics_set(F.m, OP_M_LEADER, NULL, 1), 0);
	assert_int_equal(op_metrics_set(F.m, OP_M_QUEUE_DEPTH, NULL, 7), 0);
	assert_int_equal(op_metrics_set(F.m, OP_M_QUEUE_DEPTH, NULL, 4), 0);
	assert_true(op_metrics_get(F.m, OP_M_RECONCILES, "kind=\"VaultStaticSecret\"") == 3);
	assert_true(op_metrics_get(F.m, OP_M_QUEUE_DEPTH, NULL) == 4);
	assert_true(op_metrics_get(F.m, OP_M_VAULT_REQUESTS, NULL) == 0);
	assert_int_equal(op_metrics_add(F.m, "trove_operator_typo_total", NULL, 1), TROVE_ERR_NOT_FOUND);
	memset(labels, 'a', sizeof(labels) - 1);
	labels[sizeof(labels) - 1] = '\0';
	assert_int_equal(op_metrics_add(F.m, OP_M_VAULT_ERRORS, labels, 1), TROVE_ERR_TOO_LARGE);
	for (i = 0; i < OP_METRICS_MAX_SERIES + 1; i++) {
		snprintf(labels, sizeof(labels), "code=\"%d\"", i);
		r = op_metrics_add(F.m, OP_M_KUBE_ERRORS, labels, 1);
	}
	assert_int_equal(r, TROVE_ERR_TOO_LARGE);

	assert_int_equal(ask(OP_HTTP_METRICS, "GET /metrics HTTP/1.1\r\n\r\n", &out), 200);
	assert_non_null(strstr(out.data, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_text_format(body_of(&out));
	assert_non_null(strstr(out.data, "# TYPE trove_operator_reconciles_total counter\n"));
	assert_non_null(strstr(out.data, "\ntrove_operator_reconciles_total{kind=\"VaultStaticSecret\"} 3\n"));
	assert_non_null(strstr(out.data, "\ntrove_operator_reconciles_total{kind=\"VaultPKISecret\"} 1\n"));
	assert_non_null(strstr(out.data, "# TYPE trove_operator_leader gauge\ntrove_operator_leader 1\n"));
	assert_non_null(strstr(out.data, "\ntrove_operator_queue_depth 4\n"));
	assert_non_null(strstr(out.data, "# TYPE process_resident_memory_bytes gauge\n"));
	assert_null(strstr(out.data, "\nprocess_resident_memory_bytes 0\n"));
	assert_null(strstr(out.data, "\nprocess_threads 0\n"));
	assert_null(strstr(out.data, "\nprocess_open_fds 0\n"));
	assert_non_null(strstr(out.data, "\nprocess_start_time_seconds "));
	buf_release(&out);
}

/* Sends req to 127.0.0.1:port and returns the whole answer (heap). */
static char *fetch(int port, const char *req)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char *got = calloc(1, 65536);
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	while (len < 65535 && (n = read(fd, got + len, 65535 - len)) > 0)
		len += (size_t)n;
	close(fd);
	return got;
}

static void test_listener(void **state)
{
	struct op_http *s = NULL;
	char *err = NULL, *got;
	int pp, mp, fd;

	(void)state;
	assert_int_equal(op_http_start("127.0.0.1:0", "127.0.0.1:0", &H, &s, &err), 0);
	pp = op_http_port(s, OP_HTTP_PROBES);
	mp = op_http_port(s, OP_HTTP_METRICS);
	assert_true(pp > 0 && mp > 0 && pp != mp);
	/* A client that connects and says nothing does not hold the others up. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	{
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)pp) };

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	got = fetch(pp, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_true(strncmp(got, "HTTP/1.1 200 OK\r\n", 17) == 0);
	free(got);
	got = fetch(pp, "GET /metrics HTTP/1.1\r\n\r\n");
	assert_true(strncmp(got, "HTTP/1.1 404 ", 13) == 0);
	free(got);
	got = fetch(mp, "GET /metrics HTTP/1.1\r\n\r\n");
	assert_true(strncmp(got, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(got, "process_resident_memory_bytes"));
	free(got);
	close(fd);
	op_http_stop(s);

	/* "0" disables. */
	assert_int_equal(op_http_start("0", "127.0.0.1:0", &H, &s, &err), 0);
	assert_int_equal(op_http_port(s, OP_HTTP_METRICS), 0);
	got = fetch(op_http_port(s, OP_HTTP_PROBES), "GET /readyz HTTP/1.1\r\n\r\n");
	assert_true(strncmp(got, "HTTP/1.1 200 OK\r\n", 17) == 0);
	free(got);
	op_http_stop(s);

	/* Bad addresses name themselves. */
	assert_int_equal(op_http_start("nonsense", "0", &H, &s, &err), TROVE_ERR_INVALID);
	assert_null(s);
	assert_non_null(strstr(err, "nonsense"));
	free(err);
	err = NULL;
	assert_int_not_equal(op_http_start("0", "127.0.0.1:99999", &H, &s, &err), 0);
	assert_non_null(err);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probes),
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_request_heads),
		cmocka_unit_test(test_metrics_text),
		cmocka_unit_test(test_listener),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
