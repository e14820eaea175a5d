/* test_api.c — the API client library (src/api/): settings from the
 * environment and their precedence, the header lines, the retry policy and
 * backoff, the request loop over a scripted fake transport, the mapping of
 * statuses to error codes, and the token helper's file. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api.h"
#include "api/headers.h"
#include "api/retry.h"
#include "api/token_helper.h"
#include "api/transport.h"
#include "err.h"
#include "secure.h"

static const char *const env_names[] = {
    "ADDR",       "TOKEN",     "CACERT",          "CAPATH",   "CLIENT_CERT", "CLIENT_KEY",     "SKIP_VERIFY",
    "NAMESPACE",  "WRAP_TTL",  "TLS_SERVER_NAME", "MAX_RETRIES", "CLIENT_TIMEOUT", "TOKEN_PATH",
};

static void clear_env(void)
{
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++) {
		snprintf(name, sizeof(name), "VAULT_%s", env_names[i]);
		unsetenv(name);
		snprintf(name, sizeof(name), "TROVE_%s", env_names[i]);
		unsetenv(name);
	}
}

static int setup_env(void **state)
{
	clear_env();
	return 0;
}

/* ---- environment ------------------------------------------------------ */

static void test_env_defaults(void **state)
{
	struct api_config cfg;

	api_config_init(&cfg);
	assert_int_equal(api_config_from_env(&cfg, NULL), 0);
	assert_string_equal(cfg.address, API_DEFAULT_ADDRESS);
	assert_null(cfg.token);
	assert_null(cfg.namespace_name);
	assert_false(cfg.tls_skip_verify);
	assert_int_equal(cfg.max_retries, API_DEFAULT_MAX_RETRIES);
	assert_false(cfg.max_retries_set);
	assert_int_equal(cfg.timeout_ms, API_DEFAULT_TIMEOUT_MS);
	api_config_release(&cfg);
}

static void test_env_trove_over_vault(void **state)
{
	struct api_config cfg;

	setenv("VAULT_ADDR", "http://vault:8200", 1);
	setenv("TROVE_ADDR", "http://trove:8200", 1);
	setenv("VAULT_TOKEN", "vault-token", 1);
	setenv("TROVE_TOKEN", "", 1); /* empty: as if unset */
	setenv("VAULT_NAMESPACE", "team-a/", 1);
	setenv("VAULT_WRAP_TTL", "5m", 1);
	setenv("TROVE_WRAP_TTL", "90s", 1);
	setenv("VAULT_TLS_SERVER_NAME", "vault.example", 1);
	setenv("VAULT_CACERT", "/ca.pem", 1);
	setenv("TROVE_CAPATH", "/cas", 1);
	setenv("VAULT_CLIENT_CERT", "/c.pem", 1);
	setenv("VAULT_CLIENT_KEY", "/k.pem", 1);
	setenv("VAULT_SKIP_VERIFY", "true", 1);
	setenv("TROVE_SKIP_VERIFY", "0", 1);
	setenv("VAULT_MAX_RETRIES", "5", 1);
	setenv("VAULT_CLIENT_TIMEOUT", "1m30s", 1);

	api_config_init(&cfg);
	assert_int_equal(api_config_from_env(&cfg, NULL), 0);
	assert_string_equal(cfg.address, "http://trove:8200");
	assert_string_equal(cfg.token, "vault-token");
	assert_string_equal(cfg.namespace_name, "team-a/");
	assert_string_equal(cfg.wrap_ttl, "90s");
	assert_string_equal(cfg.tls_server_name, "vault.example");
	assert_string_equal(cfg.ca_cert, "/ca.pem");
	assert_string_equal(cfg.ca_path, "/cas");
	assert_string_equal(cfg.client_cert, "/c.pem");
	assert_string_equal(cfg.client_key, "/k.pem");
	assert_false(cfg.tls_skip_verify);
	assert_int_equal(cfg.max_retries, 5);
	assert_true(cfg.max_retries_set);
	assert_int_equal(cfg.timeout_ms, 90000);
	api_config_release(&cfg);

	setenv("VAULT_CLIENT_TIMEOUT", "45", 1); /* bare seconds, as Vault's ParseDurationSecond */
	api_config_init(&cfg);
	assert_int_equal(api_config_from_env(&cfg, NULL), 0);
	assert_int_equal(cfg.timeout_ms, 45000);
	api_config_release(&cfg);
}

static void test_env_bad_values_change_nothing(void **state)
{
	static const struct {
		const char *var, *value;
	} bad[] = {
	    {"VAULT_SKIP_VERIFY", "maybe"},     {"TROVE_SKIP_VERIFY", "yes"},   {"VAULT_MAX_RETRIES", "-1"},
	    {"VAULT_MAX_RETRIES", "two"},       {"VAULT_MAX_RETRIES", "101"},   {"VAULT_CLIENT_TIMEOUT", "soon"},
	    {"VAULT_CLIENT_TIMEOUT", "0"},      {"TROVE_CLIENT_TIMEOUT", "-5s"},
	};
	struct api_config cfg;
	char *detail;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		clear_env();
		setenv("VAULT_ADDR", "http://changed:1", 1);
		setenv(bad[i].var, bad[i].value, 1);
		api_config_init(&cfg);
		detail = NULL;
		assert_int_equal(api_config_from_env(&cfg, &detail), TROVE_ERR_INVALID);
		assert_non_null(detail);
		assert_non_null(strstr(detail, bad[i].var));
		assert_non_null(strstr(detail, bad[i].value));
		assert_string_equal(cfg.address, API_DEFAULT_ADDRESS);
		assert_int_equal(cfg.max_retries, API_DEFAULT_MAX_RETRIES);
		free(detail);
		api_config_release(&cfg);
	}
}

/* ---- headers ---------------------------------------------------------- */

static bool has_line(const struct strlist *l, const char *line)
{
	return strlist_contains(l, line);
}

static bool has_name(const struct strlist *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->len; i++)
		if (strncmp(l->items[i], name, strlen(name)) == 0)
			return true;
	return false;
}

static void test_headers(void **state)
{
	struct api_config cfg;
	struct strlist h;

	api_config_init(&cfg);
	strlist_init(&h);
	assert_int_equal(api_headers_build(&cfg, "GET", "sys/health", false, &h), 0);
	assert_true(has_line(&h, "X-Vault-Request: true"));
	assert_true(has_line(&h, "Content-Type:"));
	assert_false(has_name(&h, "X-Vault-Token"));
	assert_false(has_name(&h, "X-Vault-Namespace"));
	assert_false(has_name(&h, "X-Vault-Wrap-TTL"));
	api_headers_wipe(&h);

	api_config_set(&cfg.token, "s.tok");
	api_config_set(&cfg.namespace_name, "ns1/");
	api_config_set(&cfg.wrap_ttl, "2m");
	strlist_init(&h);
	assert_int_equal(api_headers_build(&cfg, "PATCH", "/secret/data/a", true, &h), 0);
	assert_true(has_line(&h, "X-Vault-Token: s.tok"));
	assert_true(has_line(&h, "X-Vault-Namespace: ns1/"));
	assert_true(has_line(&h, "X-Vault-Wrap-TTL: 2m"));
	assert_true(has_line(&h, "Content-Type: application/merge-patch+json"));
	api_headers_wipe(&h);

	/* sys/wrapping/wrap is wrapped for 5m when nothing else is asked. */
	api_config_set(&cfg.wrap_ttl, NULL);
	strlist_init(&h);
	assert_int_equal(api_headers_build(&cfg, "POST", "/sys/wrapping/wrap", true, &h), 0);
	assert_true(has_line(&h, "X-Vault-Wrap-TTL: 5m"));
	assert_true(has_line(&h, "Content-Type: application/json"));
	api_headers_wipe(&h);
	strlist_init(&h);
	assert_int_equal(api_headers_build(&cfg, "GET", "sys/wrapping/wrap", false, &h), 0);
	assert_false(has_name(&h, "X-Vault-Wrap-TTL"));
	api_headers_wipe(&h);

	/* A line break would let a value forge headers. */
	api_config_set(&cfg.namespace_name, "a\r\nX-Evil: 1");
	strlist_init(&h);
	assert_int_equal(api_headers_build(&cfg, "GET", "x", false, &h), TROVE_ERR_INVALID);
	api_headers_wipe(&h);
	api_config_release(&cfg);
}

/* ---- retry policy ----------------------------------------------------- */

static void test_retry_policy(void **state)
{
	static const long retried[] = {412, 429, 500, 502, 503, 504, 599};
	static const long final[] = {200, 204, 301, 400, 403, 404, 405, 409, 501};
	size_t i;

	for (i = 0; i < sizeof(retried) / sizeof(retried[0]); i++)
		assert_true(api_retry_wanted(API_FAIL_NONE, retried[i]));
	for (i = 0; i < sizeof(final) / sizeof(final[0]); i++)
		assert_false(api_retry_wanted(API_FAIL_NONE, final[i]));
	assert_true(api_retry_wanted(API_FAIL_CONNECT, 0));
	assert_true(api_retry_wanted(API_FAIL_EXCHANGE, 0));
	assert_false(api_retry_wanted(API_FAIL_TLS, 0));
	assert_false(api_retry_wanted(API_FAIL_TIMEOUT, 0));
	assert_false(api_retry_wanted(API_FAIL_TOO_LARGE, 0));
	assert_false(api_retry_wanted(API_FAIL_LOCAL, 0));
}

static void test_retry_backoff(void **state)
{
	uint32_t rnd;
	long w;
	int n;

	/* No jitter drawn: min, then doubling, then the cap. */
	assert_int_equal(api_retry_wait_ms(0, 1000, 30000, 500, -1, 0), 1000);
	assert_int_equal(api_retry_wait_ms(1, 1000, 30000, 500, -1, 0), 2000);
	assert_int_equal(api_retry_wait_ms(2, 1000, 30000, 500, -1, 0), 4000);
	assert_int_equal(api_retry_wait_ms(5, 1000, 30000, 500, -1, 0), 30000);
	assert_int_equal(api_retry_wait_ms(60, 1000, 30000, 500, -1, 0), 30000);
	/* Jitter stays within [wait, 1.5 * wait] and under the cap. */
	for (n = 0; n < 5; n++)
		for (rnd = 0; rnd < 4000000000u; rnd += 99999989u) {
			long base = 1000L << n;

			w = api_retry_wait_ms(n, 1000, 30000, 503, -1, rnd);
			assert_true(w >= (base < 30000 ? base : 30000));
			assert_true(w <= base + base / 2 && w <= 30000);
		}
	/* Two draws differ: jitter is applied at all. */
	assert_int_not_equal(api_retry_wait_ms(0, 1000, 30000, 500, -1, 1),
	                     api_retry_wait_ms(0, 1000, 30000, 500, -1, 400));
	/* Retry-After counts for 429 and 503 only, capped. */
	assert_int_equal(api_retry_wait_ms(0, 1000, 30000, 429, 7000, 0), 7000);
	assert_int_equal(api_retry_wait_ms(3, 1000, 30000, 503, 0, 0), 0);
	assert_int_equal(api_retry_wait_ms(0, 1000, 30000, 429, 999000, 0), 30000);
	assert_int_equal(api_retry_wait_ms(0, 1000, 30000, 500, 7000, 0), 1000);
}

static long retry_after(const char *line)
{
	return api_retry_after_ms(line, strlen(line));
}

static void test_retry_after_header(void **state)
{
	assert_int_equal(retry_after("Retry-After: 5\r\n"), 5000);
	assert_int_equal(retry_after("retry-after:0"), 0);
	assert_int_equal(retry_after("RETRY-AFTER: \t 12 \r\n"), 12000);
	assert_int_equal(retry_after("Retry-After: 99999999999999999999999\r\n"), 86400000);
	assert_int_equal(retry_after("Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n"), -1);
	assert_int_equal(retry_after("Retry-After: 5s\r\n"), -1);
	assert_int_equal(retry_after("Retry-After: -5\r\n"), -1);
	assert_int_equal(retry_after("Retry-After:\r\n"), -1);
	assert_int_equal(retry_after("Retry-After-Not: 5\r\n"), -1);
	assert_int_equal(retry_after("Content-Length: 5\r\n"), -1);
	assert_int_equal(api_retry_after_ms("Retry-After: 7", 13), -1); /* cut before the digit */
}

static void test_err_from_status(void **state)
{
	assert_int_equal(api_err_from_status(200), 0);
	assert_int_equal(api_err_from_status(204), 0);
	assert_int_equal(api_err_from_status(307), 0);
	assert_int_equal(api_err_from_status(400), TROVE_ERR_INVALID);
	assert_int_equal(api_err_from_status(403), TROVE_ERR_PERMISSION);
	assert_int_equal(api_err_from_status(404), TROVE_ERR_NOT_FOUND);
	assert_int_equal(api_err_from_status(405), TROVE_ERR_UNSUPPORTED_OP);
	assert_int_equal(api_err_from_status(409), TROVE_ERR_CONFLICT);
	assert_int_equal(api_err_from_status(412), TROVE_ERR_INVALID);
	assert_int_equal(api_err_from_status(429), TROVE_ERR_RATE_LIMIT);
	assert_int_equal(api_err_from_status(500), TROVE_ERR_INTERNAL);
	assert_int_equal(api_err_from_status(501), TROVE_ERR_UPSTREAM);
	assert_int_equal(api_err_from_status(502), TROVE_ERR_UPSTREAM);
	assert_int_equal(api_err_from_status(503), TROVE_ERR_SEALED);
	assert_int_equal(api_err_from_status(504), TROVE_ERR_TIMEOUT);
}

/* ---- the request loop over a fake transport ---------------------------- */

#define SCRIPT_MAX 8

struct step {
	long status; /* 0: fail with failure */
	enum api_failure failure;
	const char *body;
	long retry_after_ms;
};

struct script {
	struct step steps[SCRIPT_MAX];
	int n, calls;
	struct strlist last_headers;
	char last_url[256];
	char last_method[16];
};

static int fake_send(void *ctx, const struct api_wire *w, struct api_response *resp)
{
	struct script *s = ctx;
	const struct step *st = &s->steps[s->calls < s->n ? s->calls : s->n - 1];
	size_t i;

	s->calls++;
	snprintf(s->last_url, sizeof(s->last_url), "%s", w->url);
	snprintf(s->last_method, sizeof(s->last_method), "%s", w->method);
	api_headers_wipe(&s->last_headers);
	strlist_init(&s->last_headers);
	for (i = 0; i < w->headers->len; i++)
		strlist_push(&s->last_headers, w->headers->items[i]);
	if (st->status == 0) {
		resp->failure = st->failure;
		resp->error = xstrdup("scripted failure");
		return st->failure == API_FAIL_TIMEOUT ? TROVE_ERR_TIMEOUT : TROVE_ERR_UPSTREAM;
	}
	resp->status = st->status;
	resp->retry_after_ms = st->retry_after_ms;
	if (st->body)
		buf_append_str(&resp->body, st->body);
	return 0;
}

static struct api_client *fake_client(struct script *s, struct api_transport *t, int max_retries, long timeout_ms,
                                      long max_wait_ms)
{
	struct api_config cfg;
	struct api_client *c = NULL;

	t->send = fake_send;
	t->ctx = s;
	strlist_init(&s->last_headers);
	api_config_init(&cfg);
	api_config_set(&cfg.address, "http://fake:8200/");
	api_config_set(&cfg.namespace_name, "eng");
	cfg.max_retries = max_retries;
	cfg.timeout_ms = timeout_ms;
	cfg.retry_wait_min_ms = 1;
	cfg.retry_wait_max_ms = max_wait_ms;
	cfg.transport = t;
	assert_int_equal(api_client_new(&cfg, &c, NULL), 0);
	api_config_release(&cfg);
	return c;
}

static void done(struct api_client *c, struct script *s, struct api_response *resp)
{
	api_response_release(resp);
	api_client_free(c);
	api_headers_wipe(&s->last_headers);
}

static void test_retries_until_success(void **state)
{
	struct script s = {.steps = {{503, 0, "{\"errors\":[]}", -1},
	                             {429, 0, NULL, 0},
	                             {0, API_FAIL_CONNECT, NULL, -1},
	                             {200, 0, "{\"data\":{\"a\":1}}", -1}},
	                   .n = 4};
	struct api_transport t;
	struct api_response resp;
	struct api_client *c = fake_client(&s, &t, 3, 10000, 4);

	api_response_init(&resp);
	assert_int_equal(api_read(c, "/secret/a b", &resp), 0);
	assert_int_equal(s.calls, 4);
	assert_int_equal(resp.attempts, 4);
	assert_int_equal(resp.status, 200);
	assert_null(resp.error);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(resp.json, "data"), "a")), 1);
	assert_string_equal(s.last_url, "http://fake:8200/v1/secret/a%20b");
	assert_string_equal(s.last_method, "GET");
	assert_true(has_line(&s.last_headers, "X-Vault-Namespace: eng"));
	done(c, &s, &resp);
}

static void test_retries_run_out(void **state)
{
	struct script s = {.steps = {{503, 0, "{\"errors\":[\"Vault is sealed\"]}", -1}}, .n = 1};
	struct api_transport t;
	struct api_response resp;
	struct api_client *c = fake_client(&s, &t, 2, 10000, 4);

	api_response_init(&resp);
	assert_int_equal(api_write(c, "sys/x", NULL, &resp), TROVE_ERR_SEALED);
	assert_int_equal(s.calls, 3);
	assert_int_equal(resp.status, 503);
	assert_string_equal(resp.error, "Code: 503. Vault is sealed");
	done(c, &s, &resp);
}

static void test_no_retry_when_final(void **state)
{
	static const struct {
		struct step step;
		int code;
	} cases[] = {
	    {{404, 0, "{\"errors\":[]}", -1}, TROVE_ERR_NOT_FOUND},
	    {{400, 0, "{\"errors\":[\"missing a\",\"missing b\"]}", -1}, TROVE_ERR_INVALID},
	    {{501, 0, "not json", -1}, TROVE_ERR_UPSTREAM},
	    {{204, 0, NULL, -1}, 0},
	    {{0, API_FAIL_TLS, NULL, -1}, TROVE_ERR_UPSTREAM},
	    {{0, API_FAIL_TIMEOUT, NULL, -1}, TROVE_ERR_TIMEOUT},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct script s = {.n = 1};
		struct api_transport t;
		struct api_response resp;
		struct api_client *c;

		s.steps[0] = cases[i].step;
		c = fake_client(&s, &t, 5, 10000, 4);
		api_response_init(&resp);
		assert_int_equal(api_delete(c, "a", &resp), cases[i].code);
		assert_int_equal(s.calls, 1);
		assert_string_equal(s.last_method, "DELETE");
		if (cases[i].step.status == 400)
			assert_string_equal(resp.error, "Code: 400. missing a; missing b");
		if (cases[i].step.status == 501)
			assert_string_equal(resp.error, "Code: 501. not json");
		if (cases[i].step.status == 0)
			assert_int_equal(resp.failure, cases[i].step.failure);
		done(c, &s, &resp);
	}
}

static void test_max_retries_zero_and_budget(void **state)
{
	struct script s = {.steps = {{502, 0, NULL, -1}, {200, 0, NULL, -1}}, .n = 2};
	struct api_transport t;
	struct api_response resp;
	struct api_client *c = fake_client(&s, &t, 0, 10000, 4);

	api_response_init(&resp);
	assert_int_equal(api_list(c, "secret/", &resp), TROVE_ERR_UPSTREAM);
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.last_method, "LIST");
	done(c, &s, &resp);

	/* A Retry-After past the call's time budget ends the call at once. */
	memset(&s, 0, sizeof(s));
	s.steps[0] = (struct step){429, 0, NULL, 3000};
	s.steps[1] = (struct step){200, 0, NULL, -1};
	s.n = 2;
	c = fake_client(&s, &t, 3, 2000, 30000);
	api_response_init(&resp);
	assert_int_equal(api_read(c, "a", &resp), TROVE_ERR_RATE_LIMIT);
	assert_int_equal(s.calls, 1);
	done(c, &s, &resp);
}

static void test_client_rejects_bad_settings(void **state)
{
	static const char *const bad_addr[] = {"127.0.0.1:8200", "ftp://x", "http://", "https:///v1", "http://a b",
	                                       "http://h/?q"};
	struct api_config cfg;
	struct api_client *c;
	char *detail;
	size_t i;

	for (i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++) {
		api_config_init(&cfg);
		api_config_set(&cfg.address, bad_addr[i]);
		detail = NULL;
		assert_int_equal(api_client_new(&cfg, &c, &detail), TROVE_ERR_INVALID);
		assert_null(c);
		assert_non_null(strstr(detail, "invalid server address"));
		free(detail);
		api_config_release(&cfg);
	}
	api_config_init(&cfg);
	api_config_set(&cfg.wrap_ttl, "5m\r\nX-Vault-Token: stolen");
	assert_int_equal(api_client_new(&cfg, &c, &detail), TROVE_ERR_INVALID);
	assert_non_null(strstr(detail, "wrapping TTL"));
	free(detail);
	api_config_set(&cfg.wrap_ttl, NULL);
	api_config_set(&cfg.tls_server_name, "evil:443");
	assert_int_equal(api_client_new(&cfg, &c, &detail), TROVE_ERR_INVALID);
	free(detail);
	api_config_release(&cfg);
}

/* One client per thread, nothing shared: each thread's retries and
 * answers stay its own. */
struct worker {
	struct script s;
	int ok;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct api_transport t;
	struct api_client *c = fake_client(&w->s, &t, 1, 10000, 1);
	struct api_response resp;
	int i;

	api_response_init(&resp);
	for (i = 0; i < 200; i++) {
		w->s.calls = 0;
		if (api_read(c, "secret/t", &resp) == 0 && resp.attempts == 2 && w->s.calls == 2)
			w->ok++;
	}
	done(c, &w->s, &resp);
	return NULL;
}

static void test_one_client_per_thread(void **state)
{
	static const long first[4] = {500, 502, 503, 504};
	struct worker w[4];
	pthread_t th[4];
	int i;

	memset(w, 0, sizeof(w));
	for (i = 0; i < 4; i++) {
		w[i].s.steps[0] = (struct step){first[i], 0, NULL, -1};
		w[i].s.steps[1] = (struct step){200, 0, "{}", -1};
		w[i].s.n = 2;
		assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].ok, 200);
	}
}

/* ---- token helper ----------------------------------------------------- */

static void test_token_helper(void **state)
{
	char dir[] = "/tmp/trove-api-test-XXXXXX";
	char path[128], other[128];
	struct stat st;
	char *tok, *detail = NULL;

	assert_non_null(mkdtemp(dir));
	setenv("HOME", dir, 1);
	assert_null(api_token_helper_get());
	assert_int_equal(api_token_helper_store("s.first", &detail), 0);
	snprintf(path, sizeof(path), "%s/.vault-token", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	tok = api_token_helper_get();
	assert_non_null(tok);
	assert_string_equal(tok, "s.first");
	secure_free_str(tok);

	/* TROVE_TOKEN_PATH names another file; a trailing newline goes, a
	 * file starting with blanks holds no token. */
	snprintf(other, sizeof(other), "%s/other", dir);
	setenv("TROVE_TOKEN_PATH", other, 1);
	assert_null(api_token_helper_get());
	assert_int_equal(api_token_helper_store("s.second\n", NULL), 0);
	tok = api_token_helper_get();
	assert_non_null(tok);
	assert_string_equal(tok, "s.second");
	secure_free_str(tok);
	assert_int_equal(api_token_helper_store(" s.x", NULL), 0);
	assert_null(api_token_helper_get());

	/* A file that cannot be written is an error naming the place. */
	setenv("TROVE_TOKEN_PATH", "/nonexistent-dir/x/token", 1);
	assert_int_equal(api_token_helper_store("s.third", &detail), TROVE_ERR_IO);
	assert_non_null(strstr(detail, "/nonexistent-dir/x/token"));
	free(detail);
	unsetenv("TROVE_TOKEN_PATH");
	unlink(other);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_env_defaults, setup_env),
	    cmocka_unit_test_setup(test_env_trove_over_vault, setup_env),
	    cmocka_unit_test_setup(test_env_bad_values_change_nothing, setup_env),
	    cmocka_unit_test(test_headers),
	    cmocka_unit_test(test_retry_policy),
	    cmocka_unit_test(test_retry_backoff),
	    cmocka_unit_test(test_retry_after_header),
	    cmocka_unit_test(test_err_from_status),
	    cmocka_unit_test(test_retries_until_success),
	    cmocka_unit_test(test_retries_run_out),
	    cmocka_unit_test(test_no_retry_when_final),
	    cmocka_unit_test(test_max_retries_zero_and_budget),
	    cmocka_unit_test(test_client_rejects_bad_settings),
	    cmocka_unit_test(test_one_client_per_thread),
	    cmocka_unit_test_setup(test_token_helper, setup_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
