/* test_agent_proxy.c — the API proxy part without a server: listener
 * errors name the block's file:line and the key and leave nothing behind,
 * a started proxy stops cleanly (and removes its unix socket), the
 * metrics render in both formats, the auto-auth token is stripped
 * from lookup and renewal answers exactly when Vault Agent strips it, and,
 * against a scripted upstream, the token sent follows use_auto_auth_token,
 * a 403 reports the auto-auth token invalid, and headers are relayed both
 * ways. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/agent_proxy.h"
#include "agent/agent_proxy_int.h"
#include "err.h"

#include "banned.h"

/* Loads text, starts the proxy (checking the unix socket check_path when
 * given), stops it; returns start's result with its error in err. */
static int start_with(const char *text, struct buf *err, const char *check_path)
{
	struct agent_config cfg;
	struct agent a;
	int r;

	agent_config_init(&cfg);
	assert_int_equal(agent_config_load_text(&cfg, "agent.hcl", text, strlen(text), false, err), 0);
	assert_int_equal(agent_init(&a, &cfg, err), 0);
	assert_true(agent_proxy_wanted(&cfg));
	r = agent_proxy_start(&a, err);
	if (r == 0 && check_path) {
		struct stat st;
		assert_int_equal(lstat(check_path, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_string_equal(agent_proxy_address(&a, 0), check_path);
	}
	agent_request_stop(&a, 0);
	agent_proxy_stop(&a);
	assert_null(a.proxy);
	agent_release(&a);
	agent_config_release(&cfg);
	return r;
}

static void test_listener_errors(void **state)
{
	char dir[] = "/tmp/trove-proxy-XXXXXX", path[128], text[1024];
	struct buf err;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/file", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("keep", f);
	fclose(f);

	buf_init(&err, 4096);
	snprintf(text, sizeof(text),
	         "vault { address = \"http://127.0.0.1:1\" }\n"
	         "listener \"unix\" {\n  address = \"%s\"\n  tls_disable = true\n}\n",
	         path);
	assert_int_equal(start_with(text, &err, NULL), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "agent.hcl:2"));
	assert_non_null(strstr(err.data, "address"));
	assert_non_null(strstr(err.data, "not a socket"));
	assert_int_equal(access(path, F_OK), 0); /* left alone */

	buf_reset(&err);
	snprintf(text, sizeof(text),
	         "vault { address = \"http://127.0.0.1:1\" }\n"
	         "listener \"unix\" {\n  address = \"%s/s\"\n  tls_disable = true\n  socket_mode = \"999\"\n}\n",
	         dir);
	assert_int_equal(start_with(text, &err, NULL), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "socket_mode"));

	buf_reset(&err);
	assert_int_equal(start_with("vault { address = \"http://127.0.0.1:1\" }\n\n"
	                            "listener \"tcp\" {\n  address = \"127.0.0.1:0\"\n}\n",
	                            &err, NULL),
	                 TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "agent.hcl:3"));
	assert_non_null(strstr(err.data, "tls_cert_file"));

	buf_reset(&err);
	assert_int_equal(start_with("vault { address = \"http://127.0.0.1:1\" }\n"
	                            "listener \"tcp\" {\n  address = \"nohost\"\n  tls_disable = true\n}\n",
	                            &err, NULL),
	                 TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "host:port"));

	/* a good unix listener: made with its mode, removed at stop */
	buf_reset(&err);
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	snprintf(text, sizeof(text),
	         "vault { address = \"http://127.0.0.1:1\" }\n"
	         "listener \"unix\" {\n  address = \"%s\"\n  tls_disable = true\n  socket_mode = \"0600\"\n}\n"
	         "listener \"tcp\" {\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}\ncache {}\n",
	         path);
	assert_int_equal(start_with(text, &err, path), 0);
	assert_int_not_equal(access(path, F_OK), 0);

	snprintf(path, sizeof(path), "%s/file", dir);
	unlink(path);
	rmdir(dir);
	buf_release(&err);
}

static void test_metrics_render(void **state)
{
	struct proxy_counters n;
	struct buf out;
	json_t *j, *c;
	size_t i;
	bool seen = false;

	(void)state;
	memset(&n, 0, sizeof(n));
	atomic_store(&n.success, 3);
	atomic_store(&n.cache_hit, 1);
	buf_init(&out, BUF_CAP_DEFAULT);
	proxy_metrics_render(&n, false, &out);
	j = json_loads(out.data, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_array(json_object_get(j, "Gauges")));
	json_array_foreach(json_object_get(j, "Counters"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "Name")), "vault.agent.proxy.success") == 0) {
			assert_int_equal(json_integer_value(json_object_get(c, "Count")), 3);
			seen = true;
		}
	}
	assert_true(seen);
	json_decref(j);
	buf_reset(&out);
	proxy_metrics_render(&n, true, &out);
	assert_non_null(strstr(out.data, "# TYPE vault_agent_proxy_success counter\nvault_agent_proxy_success 3\n"));
	assert_non_null(strstr(out.data, "vault_agent_cache_hit 1\n"));
	assert_non_null(strstr(out.data, "vault_agent_proxy_error 0\n"));
	buf_release(&out);
}

static void test_strip_auto_token(void **state)
{
	json_t *lookup = json_pack("{s:{s:s, s:s, s:i}}", "data", "id", "AUTO", "accessor", "acc", "ttl", 10);
	json_t *renew = json_pack("{s:{s:s, s:s}}", "auth", "client_token", "AUTO", "accessor", "acc");
	json_t *body_auto = json_pack("{s:s}", "token", "AUTO");
	json_t *body_other = json_pack("{s:s}", "token", "OTHER");
	json_t *a;

	(void)state;
	/* lookup-self with the auto-auth token: id and accessor go */
	a = json_deep_copy(lookup);
	assert_true(proxy_strip_auto_token("/v1/auth/token/lookup-self", "AUTO", NULL, "AUTO", a));
	assert_null(json_object_get(json_object_get(a, "data"), "id"));
	assert_null(json_object_get(json_object_get(a, "data"), "accessor"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "data"), "ttl")), 10);
	json_decref(a);
	/* with the client's own token: untouched */
	a = json_deep_copy(lookup);
	assert_false(proxy_strip_auto_token("/v1/auth/token/lookup-self", "MINE", NULL, "AUTO", a));
	assert_true(json_equal(a, lookup));
	json_decref(a);
	/* no auto-auth token, another path: untouched */
	a = json_deep_copy(lookup);
	assert_false(proxy_strip_auto_token("/v1/auth/token/lookup-self", "AUTO", NULL, NULL, a));
	assert_false(proxy_strip_auto_token("/v1/secret/data/x", "AUTO", NULL, "AUTO", a));
	json_decref(a);
	/* renew naming the token in the body: auth emptied */
	a = json_deep_copy(renew);
	assert_true(proxy_strip_auto_token("/v1/auth/token/renew", "ROOT", body_auto, "AUTO", a));
	assert_string_equal(json_string_value(json_object_get(json_object_get(a, "auth"), "client_token")), "");
	assert_string_equal(json_string_value(json_object_get(json_object_get(a, "auth"), "accessor")), "");
	json_decref(a);
	a = json_deep_copy(renew);
	assert_false(proxy_strip_auto_token("/v1/auth/token/lookup", "ROOT", body_other, "AUTO", a));
	assert_false(proxy_strip_auto_token("/v1/auth/token/lookup", "ROOT", NULL, "AUTO", a));
	json_decref(a);
	json_decref(lookup);
	json_decref(renew);
	json_decref(body_auto);
	json_decref(body_other);
}

/* ---- a scripted upstream server --------------------------------------- */

struct upstream {
	int fd;
	int port;
	pthread_t tid;
	pthread_mutex_t mu;
	int status;        /* what the next answers are */
	char last[4096];   /* the last request's head */
	int requests;
};

static void *upstream_main(void *arg)
{
	struct upstream *u = arg;

	for (;;) {
		char req[4096];
		size_t n = 0;
		int c = accept(u->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		while (n < sizeof(req) - 1) {
			ssize_t k = read(c, req + n, sizeof(req) - 1 - n);
			if (k <= 0)
				break;
			n += (size_t)k;
			req[n] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[n] = '\0';
		pthread_mutex_lock(&u->mu);
		snprintf(u->last, sizeof(u->last), "%s", req);
		u->requests++;
		int status = u->status;
		pthread_mutex_unlock(&u->mu);
		char resp[512];
		const char *body = status == 200 ? "{\"data\":{\"ok\":true}}" : "{\"errors\":[\"permission denied\"]}";
		int len = snprintf(resp, sizeof(resp),
		                   "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nX-Vault-Index: idx-7\r\n"
		                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		                   status, strlen(body), body);
		ssize_t w = write(c, resp, (size_t)len);
		(void)w;
		close(c);
	}
}

static void upstream_start(struct upstream *u)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->mu, NULL);
	u->status = 200;
	u->fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(u->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(u->fd, 16), 0);
	getsockname(u->fd, (struct sockaddr *)&sa, &sl);
	u->port = ntohs(sa.sin_port);
	pthread_create(&u->tid, NULL, upstream_main, u);
}

static void upstream_stop(struct upstream *u)
{
	shutdown(u->fd, SHUT_RDWR);
	close(u->fd);
	pthread_join(u->tid, NULL);
	pthread_mutex_destroy(&u->mu);
}

/* Sends a raw request to the proxy at address ("127.0.0.1:port"); returns
 * the whole answer in out. */
static void ask(const char *address, const char *request, char *out, size_t cap)
{
	struct sockaddr_in sa;
	const char *colon = strrchr(address, ':');
	size_t n = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	for (;;) {
		ssize_t k = read(fd, out + n, cap - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	out[n] = '\0';
	close(fd);
}

static void last_request(struct upstream *u, char *out, size_t cap)
{
	pthread_mutex_lock(&u->mu);
	snprintf(out, cap, "%s", u->last);
	pthread_mutex_unlock(&u->mu);
}

/* Runs the proxy with api_proxy's use_auto_auth_token = mode against u. */
static void with_mode(struct upstream *u, const char *mode)
{
	char text[1024], got[4096], seen[4096];
	struct agent_config cfg;
	struct agent a;
	struct buf err;
	uint64_t gen = 0;
	char *t;

	buf_init(&err, 4096);
	snprintf(text, sizeof(text),
	         "vault { address = \"http://127.0.0.1:%d\" }\n"
	         "auto_auth { method \"token_file\" { config = { token_file_path = \"/nonexistent\" } } }\n"
	         "api_proxy { use_auto_auth_token = %s }\n"
	         "listener \"tcp\" {\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}\n",
	         u->port, mode);
	agent_config_init(&cfg);
	assert_int_equal(agent_config_load_text(&cfg, "agent.hcl", text, strlen(text), false, &err), 0);
	assert_int_equal(agent_init(&a, &cfg, &err), 0);
	a.api.max_retries = 0;
	assert_int_equal(agent_proxy_start(&a, &err), 0);
	agent_token_publish(&a, "AUTO-1");
	t = agent_token_wait(&a, 0, 0, &gen);
	free(t);

	/* no token from the client */
	u->status = 200;
	ask(agent_proxy_address(&a, 0),
	    "GET /v1/secret/data/x?version=2 HTTP/1.1\r\nHost: a\r\nX-Vault-Namespace: team1\r\n"
	    "Connection: close\r\n\r\n",
	    got, sizeof(got));
	last_request(u, seen, sizeof(seen));
	assert_non_null(strstr(got, "HTTP/1.1 200"));
	assert_non_null(strstr(got, "{\"data\":{\"ok\":true}}"));
	assert_non_null(strstr(got, "x-vault-index: idx-7"));
	assert_non_null(strstr(seen, "GET /v1/secret/data/x?version=2 HTTP/1.1"));
	assert_non_null(strstr(seen, "X-Vault-Namespace: team1") ? strstr(seen, "X-Vault-Namespace: team1")
	                                                         : strstr(seen, "x-vault-namespace: team1"));
	if (strcmp(mode, "false") == 0)
		assert_null(strstr(seen, "AUTO-1"));
	else
		assert_non_null(strstr(seen, "X-Vault-Token: AUTO-1"));

	/* the client's own token */
	ask(agent_proxy_address(&a, 0),
	    "LIST /v1/secret/metadata HTTP/1.1\r\nHost: a\r\nX-Vault-Token: MINE\r\nConnection: close\r\n\r\n", got,
	    sizeof(got));
	last_request(u, seen, sizeof(seen));
	assert_non_null(strstr(seen, "LIST /v1/secret/metadata HTTP/1.1"));
	if (strcmp(mode, "\"force\"") == 0) {
		assert_non_null(strstr(seen, "X-Vault-Token: AUTO-1"));
		assert_null(strstr(seen, "MINE"));
	} else {
		assert_non_null(strstr(seen, "MINE"));
	}

	/* a 403 to the auto-auth token reports it; to the client's, not */
	u->status = 403;
	ask(agent_proxy_address(&a, 0),
	    "GET /v1/secret/data/x HTTP/1.1\r\nHost: a\r\nX-Vault-Token: MINE\r\nConnection: close\r\n\r\n", got,
	    sizeof(got));
	assert_non_null(strstr(got, "HTTP/1.1 403"));
	assert_int_equal(agent_token_wait_invalid(&a, gen, 0), strcmp(mode, "\"force\"") == 0);
	ask(agent_proxy_address(&a, 0), "GET /v1/secret/data/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	    got, sizeof(got));
	assert_int_equal(agent_token_wait_invalid(&a, gen, 0), strcmp(mode, "false") != 0);

	agent_request_stop(&a, 0);
	agent_proxy_stop(&a);
	agent_release(&a);
	agent_config_release(&cfg);
	buf_release(&err);
}

static void test_token_choice_and_headers(void **state)
{
	struct upstream u;

	(void)state;
	upstream_start(&u);
	with_mode(&u, "true");
	with_mode(&u, "\"force\"");
	with_mode(&u, "false");
	upstream_stop(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listener_errors),
		cmocka_unit_test(test_metrics_render),
		cmocka_unit_test(test_strip_auto_token),
		cmocka_unit_test(test_token_choice_and_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
