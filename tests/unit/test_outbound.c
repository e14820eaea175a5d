/* test_outbound.c — the outbound HTTP(S) client against real local
 * servers: an HTTPS server with a throwaway CA, a plain HTTP server and a
 * proxy, all started by outbound_server.py in a scratch directory. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/outbound.h"
#include "err.h"
#include "thread_role.h"

static struct {
	FILE *proc;
	pid_t pid;
	int https, http, proxy;
	char ca[512], other_ca[512], log[512], dir[64];
} srv;

static const char *const proxy_vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                         "ALL_PROXY",  "no_proxy",   "NO_PROXY",    NULL};

static void clear_proxy_env(void)
{
	for (const char *const *v = proxy_vars; *v; v++)
		unsetenv(*v);
}

static int start(void **state)
{
	char cmd[1024], line[2048];
	snprintf(srv.dir, sizeof(srv.dir), "/tmp/trove-outbound-XXXXXX");
	if (!mkdtemp(srv.dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "exec /usr/bin/python3 %s %s", OUTBOUND_SERVER, srv.dir);
	if (!(srv.proc = popen(cmd, "r")) || !fgets(line, sizeof(line), srv.proc))
		return -1;
	json_t *j = json_loads(line, 0, NULL);
	if (!j)
		return -1;
	srv.https = (int)json_integer_value(json_object_get(j, "https"));
	srv.http = (int)json_integer_value(json_object_get(j, "http"));
	srv.proxy = (int)json_integer_value(json_object_get(j, "proxy"));
	srv.pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	snprintf(srv.ca, sizeof(srv.ca), "%s", json_string_value(json_object_get(j, "ca")));
	snprintf(srv.other_ca, sizeof(srv.other_ca), "%s", json_string_value(json_object_get(j, "other_ca")));
	snprintf(srv.log, sizeof(srv.log), "%s", json_string_value(json_object_get(j, "log")));
	json_decref(j);
	clear_proxy_env();
	return 0;
}

static int stop(void **state)
{
	char cmd[256];
	if (srv.pid > 0)
		kill(srv.pid, SIGTERM);
	if (srv.proc)
		pclose(srv.proc);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", srv.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void url(char *out, size_t n, bool tls, const char *path)
{
	snprintf(out, n, "%s://127.0.0.1:%d%s", tls ? "https" : "http", tls ? srv.https : srv.http, path);
}

/* One call; returns its result, with resp and err filled. */
static int call(struct outbound_request *req, struct outbound_response *resp, struct buf *err)
{
	outbound_response_init(resp);
	buf_init(err, 1024);
	return outbound_call(req, resp, err);
}

static void done(struct outbound_response *resp, struct buf *err)
{
	outbound_response_release(resp);
	buf_release(err);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = calloc(1, 65536);
	if (f) {
		size_t n = fread(s, 1, 65535, f);
		s[n] = '\0';
		fclose(f);
	}
	return s;
}

static void test_get_with_ca_file(void **state)
{
	char u[256];
	struct outbound_response resp;
	struct buf err;
	url(u, sizeof(u), true, "/ok");
	struct outbound_request req = {.url = u, .ca_file = srv.ca};
	assert_int_equal(call(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.data, "hello");
	assert_non_null(outbound_header(&resp, "x-test"));
	assert_string_equal(outbound_header(&resp, "X-Test"), "yes");
	done(&resp, &err);
}

static void test_post_with_ca_pem_and_headers(void **state)
{
	char u[256];
	struct outbound_response resp;
	struct buf err;
	char *pem = read_file(srv.ca);
	const char *hdrs[] = {"X-Custom: abc", "Content-Type: application/json", NULL};
	url(u, sizeof(u), true, "/echo");
	struct outbound_request req = {.url = u, .ca_pem = pem, .headers = hdrs, .body = "{\"a\":1}", .body_len = 7};
	assert_int_equal(call(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 201);
	json_t *j = json_loads(resp.body.data, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "method")), "POST");
	assert_string_equal(json_string_value(json_object_get(j, "body")), "{\"a\":1}");
	assert_string_equal(json_string_value(json_object_get(j, "x")), "abc");
	json_decref(j);
	done(&resp, &err);
	/* PUT, through the method. */
	req.method = "PUT";
	assert_int_equal(call(&req, &resp, &err), 0);
	assert_non_null(strstr(resp.body.data, "\"PUT\""));
	done(&resp, &err);
	free(pem);
}

static void test_timeout(void **state)
{
	char u[256];
	struct outbound_response resp;
	struct buf err;
	url(u, sizeof(u), true, "/slow");
	struct outbound_request req = {.url = u, .ca_file = srv.ca, .timeout_ms = 400};
	int64_t t0 = now_ms();
	assert_int_equal(call(&req, &resp, &err), TROVE_ERR_TIMEOUT);
	assert_true(now_ms() - t0 < 2000);
	assert_non_null(strstr(err.data, "timed out"));
	done(&resp, &err);
	/* Connecting to an address that never answers: the connect timeout.
	 * (A TEST-NET-1 address: packets to it go nowhere.) */
	struct outbound_request req2 = {.url = "https://192.0.2.1:9/", .connect_timeout_ms = 300, .timeout_ms = 5000};
	t0 = now_ms();
	int r = call(&req2, &resp, &err);
	assert_true(r == TROVE_ERR_TIMEOUT || r == TROVE_ERR_UPSTREAM); /* no route: refused at once */
	assert_true(now_ms() - t0 < 2000);
	done(&resp, &err);
}

static void test_size_cap(void **state)
{
	char u[256];
	struct outbound_response resp;
	struct buf err;
	/* Announced by Content-Length: refused before reading. */
	url(u, sizeof(u), true, "/big");
	struct outbound_request req = {.url = u, .ca_file = srv.ca, .max_response = 1 << 20};
	assert_int_equal(call(&req, &resp, &err), TROVE_ERR_UPSTREAM);
	assert_non_null(strstr(err.data, "larger than 1048576 bytes"));
	assert_true(resp.body.len <= (1 << 20));
	done(&resp, &err);
	/* Chunked, no length: cut when the cap is passed. */
	url(u, sizeof(u), true, "/big-chunked");
	req.max_response = 100000;
	assert_int_equal(call(&req, &resp, &err), TROVE_ERR_UPSTREAM);
	assert_non_null(strstr(err.data, "larger than 100000 bytes"));
	assert_true(resp.body.len <= 100000);
	done(&resp, &err);
	/* Under a larger cap the same body arrives whole. */
	req.max_response = 8 << 20;
	assert_int_equal(call(&req, &resp, &err), 0);
	assert_int_equal(resp.body.len, 64 * 65536);
	done(&resp, &err);
}

static void test_redirects(void **state)
{
	char u[256];
	struct outbound_response resp;
	struct buf err;
	url(u, sizeof(u), true, "/redirect");
	struct outbound_request req = {.url = u, .ca_file = srv.ca};
	/* Not followed unless asked. */
	assert_int_equal(call(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 302);
	assert_string_equal(outbound_header(&resp, "Location"), "/ok");
	done(&resp, &err);
	req.follow_redirects = true;
	assert_int_equal(call(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.data, "hello");
	assert_null(outbound_header(&resp, "Location")); /* the last response's headers */
	done(&resp, &err);
	/* Followed, but never to another scheme. */
	url(u, sizeof(u), true, "/redirect-file");
	assert_int_equal(call(&req, &resp, &err), TROVE_ERR_UPSTREAM);
	assert_null(strstr(resp.body.data, "root:"));
	done(&resp, &err);
}

static void test_wrong_ca_refused(void **state)
{
	char u[256];
	struct outbound_response resp;
	struct buf err;
	url(u, sizeof(u), true, "/ok");
	struct outbound_request req = {.url = u, .ca_file = srv.other_ca};
	assert_int_equal(call(&req, &resp, &err), TROVE_ERR_UPSTREAM);
	assert_int_equal(resp.status, 0);
	assert_string_equal(resp.body.data, "");
	done(&resp, &err);
	/* The system bundle does not know the throwaway CA either. */
	struct outbound_request sys = {.url = u};
	assert_int_equal(call(&sys, &resp, &err), TROVE_ERR_UPSTREAM);
	done(&resp, &err);
	/* A CA file that is not there. */
	struct outbound_request missing = {.url = u, .ca_file = "/nonexistent/ca.pem"};
	assert_int_equal(call(&missing, &resp, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "ca_file"));
	done(&resp, &err);
}

/* Without a CA of its own a call trusts the system store, which
 * SSL_CERT_FILE replaces, as OpenSSL and Go read it. */
static void test_ssl_cert_file(void **state)
{
	char u[256];
	struct outbound_response resp;
	struct buf err;
	url(u, sizeof(u), true, "/ok");
	struct outbound_request sys = {.url = u};
	setenv("SSL_CERT_FILE", srv.ca, 1);
	assert_int_equal(call(&sys, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	done(&resp, &err);
	setenv("SSL_CERT_FILE", srv.other_ca, 1);
	assert_int_equal(call(&sys, &resp, &err), TROVE_ERR_UPSTREAM);
	done(&resp, &err);
	/* a caller's own CA still decides */
	struct outbound_request own = {.url = u, .ca_file = srv.ca};
	assert_int_equal(call(&own, &resp, &err), 0);
	done(&resp, &err);
	unsetenv("SSL_CERT_FILE");
	assert_int_equal(call(&sys, &resp, &err), TROVE_ERR_UPSTREAM);
	done(&resp, &err);
	/* SSL_CERT_DIR: a hashed directory holding the CA */
	char dir[] = "/tmp/trove-certdir-XXXXXX", cmd[1200];
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s/ca.pem' && openssl rehash '%s' >/dev/null 2>&1", srv.ca, dir, dir);
	assert_int_equal(system(cmd), 0);
	setenv("SSL_CERT_DIR", dir, 1);
	assert_int_equal(call(&sys, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	done(&resp, &err);
	unsetenv("SSL_CERT_DIR");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_only_http_and_https(void **state)
{
	static const char *const refused[] = {"file:///etc/passwd", "gopher://127.0.0.1:70/", "dict://127.0.0.1/x",
	                                      "ftp://127.0.0.1/", "ldap://127.0.0.1/", "", "127.0.0.1/ok", NULL};
	struct outbound_response resp;
	struct buf err;
	for (const char *const *u = refused; *u; u++) {
		struct outbound_request req = {.url = *u};
		assert_int_equal(call(&req, &resp, &err), TROVE_ERR_INVALID);
		assert_non_null(strstr(err.data, "url"));
		done(&resp, &err);
	}
	struct outbound_request none = {0};
	assert_int_equal(call(&none, &resp, &err), TROVE_ERR_INVALID);
	done(&resp, &err);
	/* Header injection and odd methods. */
	char u[256];
	url(u, sizeof(u), false, "/ok");
	const char *bad[] = {"X-A: 1\r\nX-B: 2", NULL};
	struct outbound_request inj = {.url = u, .headers = bad};
	assert_int_equal(call(&inj, &resp, &err), TROVE_ERR_INVALID);
	done(&resp, &err);
	struct outbound_request meth = {.url = u, .method = "GET /x HTTP/1.1\r\n"};
	assert_int_equal(call(&meth, &resp, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "method"));
	done(&resp, &err);
}

static void test_refused_on_an_event_loop(void **state)
{
	char u[256];
	struct outbound_response resp;
	struct buf err;
	url(u, sizeof(u), false, "/ok");
	struct outbound_request req = {.url = u};
	thread_role_set_loop(true);
	assert_int_equal(call(&req, &resp, &err), TROVE_ERR_WOULD_BLOCK);
	done(&resp, &err);
	thread_role_set_loop(false);
	assert_int_equal(call(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	done(&resp, &err);
}

static int proxy_lines(const char *needle)
{
	char *s = read_file(srv.log);
	int n = 0;
	for (char *p = s; (p = strstr(p, needle)); p++)
		n++;
	free(s);
	return n;
}

static void test_proxy_environment(void **state)
{
	char u[256], proxy[64], target[64];
	struct outbound_response resp;
	struct buf err;
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", srv.proxy);
	snprintf(target, sizeof(target), "CONNECT 127.0.0.1:%d", srv.https);

	/* https_proxy: a CONNECT tunnel; TLS still verified end to end. */
	setenv("https_proxy", proxy, 1);
	url(u, sizeof(u), true, "/ok");
	struct outbound_request req = {.url = u, .ca_file = srv.ca};
	int before = proxy_lines(target);
	assert_int_equal(call(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.data, "hello");
	assert_int_equal(proxy_lines(target), before + 1);
	done(&resp, &err);
	/* Through the proxy, the wrong CA is still refused. */
	struct outbound_request wrong = {.url = u, .ca_file = srv.other_ca};
	assert_int_equal(call(&wrong, &resp, &err), TROVE_ERR_UPSTREAM);
	done(&resp, &err);

	/* NO_PROXY: straight to the server. */
	setenv("NO_PROXY", "127.0.0.1", 1);
	before = proxy_lines(target);
	assert_int_equal(call(&req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(proxy_lines(target), before);
	done(&resp, &err);
	clear_proxy_env();

	/* http_proxy for a plain http:// URL: the proxy answers. */
	setenv("http_proxy", proxy, 1);
	url(u, sizeof(u), false, "/ok");
	struct outbound_request plain = {.url = u};
	assert_int_equal(call(&plain, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(resp.body.data, "proxied http://127.0.0.1:"));
	done(&resp, &err);
	clear_proxy_env();

	/* No proxy variables: straight to the server. */
	assert_int_equal(call(&plain, &resp, &err), 0);
	assert_string_equal(resp.body.data, "hello");
	done(&resp, &err);
}

static void test_header_lines(void **state)
{
	struct outbound_response resp;
	outbound_response_init(&resp);
	static const char *const lines[] = {"HTTP/1.1 200 Connection established\r\n", "Via: proxy\r\n", "\r\n",
	                                    "HTTP/1.1 200 OK\r\n", "X-Test: yes\r\n", ": no name\r\n",
	                                    "  folded continuation\r\n", "Bad: a\rb\r\n", "Empty:\r\n", "\r\n", NULL};
	for (const char *const *l = lines; *l; l++)
		outbound_header_line(&resp, *l, strlen(*l));
	outbound_header_line(&resp, "Nul: a\0b\r\n", 10);
	assert_int_equal(resp.headers.len, 2); /* the proxy's line dropped with its response */
	assert_string_equal(resp.headers.items[0], "X-Test: yes");
	assert_string_equal(outbound_header(&resp, "x-TEST"), "yes");
	assert_string_equal(outbound_header(&resp, "Empty"), "");
	assert_null(outbound_header(&resp, "Via"));
	assert_null(outbound_header(&resp, "Bad"));
	assert_null(outbound_header(&resp, "Nul"));
	outbound_response_release(&resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_with_ca_file),
	    cmocka_unit_test(test_post_with_ca_pem_and_headers),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_size_cap),
	    cmocka_unit_test(test_redirects),
	    cmocka_unit_test(test_wrong_ca_refused),
	    cmocka_unit_test(test_ssl_cert_file),
	    cmocka_unit_test(test_only_http_and_https),
	    cmocka_unit_test(test_refused_on_an_event_loop),
	    cmocka_unit_test(test_proxy_environment),
	    cmocka_unit_test(test_header_lines),
	};
	return cmocka_run_group_tests(tests, start, stop);
}
