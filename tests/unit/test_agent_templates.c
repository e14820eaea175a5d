/* test_agent_templates.c — the agent's template runner (src/agent/
 * agent_templates*.c), its atomic writer and its command runner: the
 * identity and sharing of dependencies, the refresh schedule computed
 * from leases and thresholds, the value templates see, "unchanged output
 * writes nothing and runs no command", re-rendering on a change, a
 * refused token, a failing server, env_templates for exec mode, the
 * writer (exact perms, backup, directories, no partial file on a failed
 * write) and a command killed past its timeout.
 *
 * The server is a scripted fake transport (api_config.transport). The
 * template language is a stand-in defined below (the runner needs only
 * tmpl.h's contract): each line "secret PATH [k=v...]" prints the
 * secret's Data as JSON, "pki PATH [k=v...]" prints the certificate,
 * "missing" fails under error_on_missing_key, any other line is text. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "agent/agent.h"
#include "agent/agent_command.h"
#include "agent/agent_templates_run.h"
#include "agent/agent_write.h"
#include "agent/tmpl.h"
#include "api/transport.h"
#include "clock.h"
#include "err.h"

/* ---- a stand-in for the template language ------------------------------- */

struct tmpl {
	char *text;
};

int tmpl_parse(const char *name, const char *text, size_t len, const char *ldelim, const char *rdelim,
               struct tmpl **out, char **err)
{
	(void)ldelim;
	(void)rdelim;
	if (len >= 5 && memcmp(text, "BROKEN", 5) == 0) {
		char msg[256];

		snprintf(msg, sizeof(msg), "%s:1:1: unexpected thing", name);
		*err = strdup(msg);
		return TROVE_ERR_INVALID;
	}
	*out = calloc(1, sizeof(**out));
	(*out)->text = xstrndup(text, len);
	return 0;
}

int tmpl_render(const struct tmpl *t, const struct tmpl_funcs *f, bool error_on_missing_key, struct buf *out,
                char **err)
{
	char *copy = strdup(t->text), *save = NULL;
	int r = 0;

	for (char *line = strtok_r(copy, "\n", &save); line && r == 0; line = strtok_r(NULL, "\n", &save)) {
		const char *words[8];
		size_t n = 0;
		char *wsave = NULL;
		json_t *v = NULL;

		if (strcmp(line, "missing") == 0) {
			if (error_on_missing_key) {
				*err = strdup("map has no entry for key \"missing\"");
				r = TROVE_ERR_INVALID;
			} else {
				buf_append_str(out, "<no value>\n");
			}
			continue;
		}
		if (strncmp(line, "secret ", 7) != 0 && strncmp(line, "pki ", 4) != 0) {
			buf_printf(out, "%s\n", line);
			continue;
		}
		for (char *w = strtok_r(line, " ", &wsave); w && n < 8; w = strtok_r(NULL, " ", &wsave))
			words[n++] = w;
		if (strcmp(words[0], "secret") == 0)
			r = f->secret(f->ctx, words[1], words + 2, n - 2, &v, err);
		else
			r = f->pki_cert(f->ctx, words[1], words + 2, n - 2, &v, err);
		if (r == 0) {
			const json_t *shown = strcmp(words[0], "pki") == 0 ? json_object_get(v, "Cert")
			                                                   : json_object_get(v, "Data");
			char *s = json_is_string(shown) ? strdup(json_string_value(shown))
			                                : json_dumps(shown, JSON_SORT_KEYS | JSON_COMPACT);

			buf_printf(out, "%s\n", s);
			free(s);
			json_decref(v);
		}
	}
	free(copy);
	return r;
}

void tmpl_free(struct tmpl *t)
{
	if (t) {
		free(t->text);
		free(t);
	}
}

/* ---- a scripted server ---------------------------------------------------- */

#define ROUTES 16

struct route {
	char method[8];
	char path[128]; /* after /v1/, without the query */
	long status;
	char body[8192];
	int calls;
	char last_in[1024]; /* the body of its last request */
};

struct server {
	pthread_mutex_t mu;
	struct route routes[ROUTES];
	size_t n;
	char refused_token[64]; /* a request with this token gets 403 */
	char last_body[1024];
	int down; /* every request fails to connect */
};

static struct server srv;

static void srv_reset(void)
{
	pthread_mutex_destroy(&srv.mu);
	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.mu, NULL);
}

static void srv_set(const char *method, const char *path, long status, const char *body)
{
	struct route *r = NULL;

	pthread_mutex_lock(&srv.mu);
	for (size_t i = 0; i < srv.n; i++)
		if (strcmp(srv.routes[i].method, method) == 0 && strcmp(srv.routes[i].path, path) == 0)
			r = &srv.routes[i];
	if (r == NULL) {
		r = &srv.routes[srv.n++];
		snprintf(r->method, sizeof(r->method), "%s", method);
		snprintf(r->path, sizeof(r->path), "%s", path);
	}
	r->status = status;
	snprintf(r->body, sizeof(r->body), "%s", body);
	pthread_mutex_unlock(&srv.mu);
}

static int srv_calls(const char *method, const char *path)
{
	int n = 0;

	pthread_mutex_lock(&srv.mu);
	for (size_t i = 0; i < srv.n; i++)
		if (strcmp(srv.routes[i].method, method) == 0 && strcmp(srv.routes[i].path, path) == 0)
			n = srv.routes[i].calls;
	pthread_mutex_unlock(&srv.mu);
	return n;
}

static int fake_send(void *ctx, const struct api_wire *w, struct api_response *resp)
{
	const char *p = strstr(w->url, "/v1/");
	char path[256];
	size_t len;
	bool refused = false;

	(void)ctx;
	p = p ? p + 4 : w->url;
	len = strcspn(p, "?");
	snprintf(path, sizeof(path), "%.*s", (int)len, p);
	pthread_mutex_lock(&srv.mu);
	if (srv.down) {
		pthread_mutex_unlock(&srv.mu);
		resp->failure = API_FAIL_CONNECT;
		resp->error = strdup("connection refused");
		return TROVE_ERR_UPSTREAM;
	}
	for (size_t i = 0; i < w->headers->len; i++)
		if (srv.refused_token[0] && strstr(w->headers->items[i], srv.refused_token))
			refused = true;
	snprintf(srv.last_body, sizeof(srv.last_body), "%.*s", (int)w->len, w->body ? w->body : "");
	resp->status = 404;
	buf_append_str(&resp->body, "{\"errors\":[]}");
	for (size_t i = 0; i < srv.n; i++) {
		struct route *r = &srv.routes[i];

		if (strcmp(r->method, w->method) != 0 || strcmp(r->path, path) != 0)
			continue;
		r->calls++;
		snprintf(r->last_in, sizeof(r->last_in), "%s", srv.last_body);
		buf_reset(&resp->body);
		resp->status = refused ? 403 : r->status;
		buf_append_str(&resp->body, refused ? "{\"errors\":[\"permission denied\"]}" : r->body);
	}
	pthread_mutex_unlock(&srv.mu);
	return 0;
}

static struct api_transport fake_transport = { fake_send, NULL };

static int fake_client(struct agent *a, struct api_client **out, struct buf *err)
{
	struct api_config cfg;
	int r;

	(void)a;
	(void)err;
	api_config_init(&cfg);
	api_config_set(&cfg.address, "http://fake:8200");
	cfg.max_retries = 0;
	cfg.transport = &fake_transport;
	r = api_client_new(&cfg, out, NULL);
	api_config_release(&cfg);
	return r;
}

static struct strlist last_env;
static int env_calls;

static void record_env(struct agent *a, const struct strlist *env)
{
	(void)a;
	strlist_release(&last_env);
	strlist_init(&last_env);
	for (size_t i = 0; i < env->len; i++)
		strlist_push(&last_env, env->items[i]);
	env_calls++;
}

static const struct trunner_ops ops = { fake_client, record_env };

/* ---- fixtures --------------------------------------------------------------- */

static char dir[64];

static void cfg_init(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->template_config.static_secret_render_interval = 300;
	cfg->template_config.lease_renewal_threshold = 0.9;
	cfg->exit_after_auth = true;
	cfg->auto_auth.present = true;
}

static struct agent_template_config *add_template(struct agent_config *cfg, const char *contents, const char *dest)
{
	struct agent_template_config *t = &cfg->templates[cfg->ntemplates++];

	t->contents = (char *)contents;
	t->destination = (char *)dest;
	t->perms = 0644;
	t->create_dest_dirs = true;
	t->command_timeout = 30;
	t->where = (char *)"agent.hcl:3";
	return t;
}

static char *path_in(const char *name)
{
	static char paths[8][256];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static char *slurp(const char *path)
{
	struct buf b, e;
	char *s = NULL;

	buf_init(&b, 1 << 20);
	buf_init(&e, 256);
	if (agent_file_read(path, 1 << 20, &b, &e) == 0)
		s = buf_take(&b);
	buf_release(&b);
	buf_release(&e);
	return s;
}

static void spit(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/trove-tmpl-XXXXXX");
	assert_non_null(mkdtemp(dir));
	srv_reset();
	strlist_init(&last_env);
	env_calls = 0;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	strlist_release(&last_env);
	return 0;
}

/* Runs the runner to the end (exit_after_auth, or a stop). */
static int run_once(struct agent_config *cfg, struct agent *a, struct trunner **r)
{
	struct buf err;
	int rc;

	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	assert_int_equal(agent_state_init(a), 0);
	agent_token_publish(a, "root-token");
	buf_init(&err, 1024);
	rc = trunner_new(a, &ops, r, &err);
	buf_release(&err);
	if (rc == 0)
		trunner_run(*r);
	return rc;
}

static void *runner_thread(void *arg)
{
	trunner_run(arg);
	return NULL;
}

/* Polls cond for up to ms. */
static bool eventually(bool (*cond)(void *), void *arg, long ms)
{
	for (long waited = 0; waited < ms; waited += 20) {
		if (cond(arg))
			return true;
		usleep(20000);
	}
	return cond(arg);
}

static const char *kv2_answer(const char *value)
{
	static char body[512];

	snprintf(body, sizeof(body),
	         "{\"request_id\":\"r1\",\"lease_id\":\"\",\"lease_duration\":0,\"renewable\":false,"
	         "\"data\":{\"data\":{\"password\":\"%s\"},\"metadata\":{\"version\":1,\"deletion_time\":\"\"}}}",
	         value);
	return body;
}

/* ---- dependencies: identity and sharing ------------------------------------ */

static void test_dep_keys(void **state)
{
	const char *ab[] = { "a=1", "b=2" }, *ba[] = { "b=2", "a=1" };
	char *k1 = tdep_key(TDEP_WRITE, "db/creds", ab, 2, NULL);
	char *k2 = tdep_key(TDEP_WRITE, "db/creds", ba, 2, NULL);
	char *k3 = tdep_key(TDEP_READ, "db/creds", NULL, 0, NULL);
	char *k4 = tdep_key(TDEP_PKI, "pki/issue/r", ab, 2, "/a.pem");
	char *k5 = tdep_key(TDEP_PKI, "pki/issue/r", ab, 2, "/b.pem");

	(void)state;
	assert_string_equal(k1, k2); /* the fields' order does not matter */
	assert_string_not_equal(k1, k3);
	assert_string_not_equal(k4, k5); /* pkiCert belongs to its destination */
	free(k1);
	free(k2);
	free(k3);
	free(k4);
	free(k5);
}

static void test_shared_dependency_fetched_once(void **state)
{
	struct agent_config cfg;
	struct agent a;
	struct trunner *r = NULL;
	size_t ndeps = 0;

	(void)state;
	cfg_init(&cfg);
	srv_set("GET", "sys/internal/ui/mounts/secret/app", 200,
	        "{\"data\":{\"type\":\"kv\",\"path\":\"secret/\",\"options\":{\"version\":\"2\"}}}");
	srv_set("GET", "secret/data/app", 200, kv2_answer("s3cret"));
	srv_set("GET", "kv1/other", 200, "{\"lease_duration\":2764800,\"data\":{\"x\":\"1\"}}");
	add_template(&cfg, "one\nsecret secret/app", path_in("one.txt"));
	add_template(&cfg, "secret secret/app\nsecret kv1/other", path_in("two.txt"));
	assert_int_equal(run_once(&cfg, &a, &r), 0);
	assert_int_equal(srv_calls("GET", "secret/data/app"), 1);
	assert_int_equal(srv_calls("GET", "kv1/other"), 1);
	for (const struct tdep *d = trunner_deps(r); d; d = d->next) {
		ndeps++;
		if (strcmp(d->path, "secret/app") == 0) {
			assert_int_equal(d->users, 2);
			assert_string_equal(d->read_path, "secret/data/app"); /* the KV v2 shim */
		}
	}
	assert_int_equal(ndeps, 2);
	char *one = slurp(path_in("one.txt"));
	assert_string_equal(one, "one\n{\"data\":{\"password\":\"s3cret\"},\"metadata\":{\"deletion_time\":\"\",\"version\":1}}\n");
	free(one);
	assert_int_equal(agent_stopping(&a), true);
	assert_int_equal(a.exit_code, 0);
	trunner_free(r);
	agent_state_release(&a);
}

static void test_write_form_sends_fields(void **state)
{
	struct agent_config cfg;
	struct agent a;
	struct trunner *r = NULL;

	(void)state;
	cfg_init(&cfg);
	srv_set("PUT", "auth/token/create", 200,
	        "{\"auth\":{\"client_token\":\"s.child\",\"accessor\":\"acc\",\"policies\":[\"default\"],"
	        "\"lease_duration\":10,\"renewable\":true}}");
	add_template(&cfg, "secret auth/token/create ttl=10s", path_in("tok.txt"));
	assert_int_equal(run_once(&cfg, &a, &r), 0);
	assert_int_equal(srv_calls("PUT", "auth/token/create"), 1);
	assert_string_equal(srv.last_body, "{\"ttl\":\"10s\"}");
	const struct tdep *d = trunner_deps(r);
	assert_non_null(d);
	assert_true(d->lease.leased);
	assert_true(d->lease.renewable);
	assert_int_equal(d->lease.duration_s, 10);
	assert_string_equal(json_string_value(json_object_get(json_object_get(d->value, "Auth"), "ClientToken")),
	                    "s.child");
	assert_true(d->renew);
	trunner_free(r);
	agent_state_release(&a);
}

static bool file_has_creds2(void *arg)
{
	char *s = slurp(arg);
	bool ok = s && strstr(s, "u2") != NULL;

	free(s);
	return ok;
}

static void test_lease_renewed_then_fetched_anew(void **state)
{
	struct agent_config cfg;
	struct agent a;
	struct trunner *r = NULL;
	struct buf err;
	pthread_t th;
	char *dest = path_in("creds.txt");

	(void)state;
	cfg_init(&cfg);
	cfg.exit_after_auth = false;
	srv_set("GET", "db/creds/app", 200,
	        "{\"lease_id\":\"db/creds/app/l1\",\"lease_duration\":3,\"renewable\":true,\"data\":{\"u\":\"u1\"}}");
	/* the lease no longer grows: 1 s back for 3 asked */
	srv_set("PUT", "sys/leases/renew", 200, "{\"lease_id\":\"db/creds/app/l1\",\"lease_duration\":1,\"renewable\":true}");
	add_template(&cfg, "secret db/creds/app", dest);
	memset(&a, 0, sizeof(a));
	a.cfg = &cfg;
	assert_int_equal(agent_state_init(&a), 0);
	agent_token_publish(&a, "root-token");
	buf_init(&err, 1024);
	assert_int_equal(trunner_new(&a, &ops, &r, &err), 0);
	buf_release(&err);
	assert_int_equal(pthread_create(&th, NULL, runner_thread, r), 0);
	usleep(500000);
	assert_int_equal(srv_calls("PUT", "sys/leases/renew"), 0);
	srv_set("GET", "db/creds/app", 200,
	        "{\"lease_id\":\"db/creds/app/l2\",\"lease_duration\":300,\"renewable\":false,\"data\":{\"u\":\"u2\"}}");
	/* renewed at 2 s (two thirds of 3), fetched anew about 0.9 s later */
	assert_true(eventually(file_has_creds2, dest, 5000));
	agent_request_stop(&a, 0);
	pthread_join(th, NULL);
	assert_int_equal(srv_calls("PUT", "sys/leases/renew"), 1);
	assert_non_null(strstr(srv.routes[1].last_in, "\"lease_id\":\"db/creds/app/l1\""));
	assert_non_null(strstr(srv.routes[1].last_in, "\"increment\":3"));
	assert_int_equal(srv_calls("GET", "db/creds/app"), 2);
	assert_int_equal(trunner_files_written(r), 2);
	trunner_free(r);
	agent_state_release(&a);
}

/* ---- the schedule ------------------------------------------------------------- */

static void test_schedule(void **state)
{
	struct tdep_lease renewable = { .leased = true, .renewable = true, .duration_s = 100, .rotation_ttl_s = -1 };
	struct tdep_lease fixed = { .leased = true, .renewable = false, .duration_s = 100, .rotation_ttl_s = -1 };
	struct tdep_lease kv = { .rotation_ttl_s = -1 };
	struct tdep_lease cert = { .cert_expiry_s = 1000 + 200, .rotation_ttl_s = -1 };
	struct tdep_lease rotating = { .rotation_ttl_s = 10 };
	struct tdep_lease tiny = { .leased = true, .duration_s = 0, .rotation_ttl_s = -1 };
	bool renew;

	(void)state;
	/* renewable: renewed at two thirds, +-5 % of jitter */
	assert_int_equal(tdep_refresh_ms(&renewable, 0.9, 300, 1000, 0.5, &renew), 66666);
	assert_true(renew);
	assert_int_equal(tdep_refresh_ms(&renewable, 0.9, 300, 1000, 0.0, &renew), 61666);
	assert_int_equal(tdep_refresh_ms(&renewable, 0.9, 300, 1000, 0.999999, &renew), 71666);
	/* ... and never in the last second of a short lease */
	renewable.duration_s = 2;
	assert_int_equal(tdep_refresh_ms(&renewable, 0.9, 300, 1000, 0.999999, &renew), 1000);
	/* not renewable: fetched anew at the threshold, +-5 % */
	assert_int_equal(tdep_refresh_ms(&fixed, 0.9, 300, 1000, 0.5, &renew), 90000);
	assert_int_equal(tdep_refresh_ms(&fixed, 0.9, 300, 1000, 0.0, &renew), 85000);
	assert_false(renew);
	assert_int_equal(tdep_refresh_ms(&fixed, 0.5, 300, 1000, 0.5, &renew), 50000);
	assert_int_equal(tdep_refresh_ms(&kv, 0.9, 300, 1000, 0.3, &renew), 300000);
	assert_false(renew);
	assert_int_equal(tdep_refresh_ms(&kv, 0.9, 1, 1000, 0.3, &renew), 1000);
	assert_int_equal(tdep_refresh_ms(&cert, 0.9, 300, 1000, 0.5, &renew), 180000);
	assert_int_equal(tdep_refresh_ms(&rotating, 0.9, 300, 1000, 0.5, &renew), 11000);
	/* a leased secret without a duration is treated as static */
	assert_int_equal(tdep_refresh_ms(&tiny, 0.9, 300, 1000, 0.5, &renew), 300000);
	/* nothing more often than the floor */
	fixed.duration_s = 0;
	assert_int_equal(tdep_refresh_ms(&kv, 0.9, 0, 1000, 0.5, &renew), TRUNNER_MIN_REFRESH_MS);
	/* a threshold that jitter would push past the lease is used as is */
	assert_int_equal(tdep_refresh_ms(&fixed, 0.99, 300, 1000, 0.9, &renew), 300000);
	struct tdep_lease near = { .leased = true, .duration_s = 10, .rotation_ttl_s = -1 };
	assert_int_equal(tdep_refresh_ms(&near, 0.99, 300, 1000, 0.9, &renew), 9900);

	/* wait { min max }: quiet for min, at most max after the first change */
	const int64_t S = INT64_C(1000000000);
	assert_true(tdep_wait_until(10 * S, 10 * S, 0, 0) == 10 * S);
	assert_true(tdep_wait_until(10 * S, 10 * S, 2, 5) == 12 * S);
	assert_true(tdep_wait_until(10 * S, 14 * S, 2, 5) == 15 * S);
	assert_true(tdep_wait_until(10 * S, 11 * S, 2, 0) == 13 * S);
	assert_true(tdep_wait_until(10 * S, 17 * S, 2, 0) == 18 * S); /* max: 4 x min */

	assert_int_equal(tdep_backoff_ms(1), TRUNNER_BACKOFF_MIN_MS);
	assert_int_equal(tdep_backoff_ms(3), 4 * TRUNNER_BACKOFF_MIN_MS);
	assert_int_equal(tdep_backoff_ms(40), TRUNNER_BACKOFF_MAX_MS);
}

static void test_lease_from_answer(void **state)
{
	struct tdep_lease l;
	json_t *a;

	(void)state;
	a = json_loads("{\"lease_id\":\"db/creds/r/abc\",\"lease_duration\":60,\"renewable\":true,\"data\":{}}", 0, NULL);
	tdep_lease_from_answer(a, &l);
	assert_true(l.leased);
	assert_true(l.renewable);
	assert_int_equal(l.duration_s, 60);
	json_decref(a);
	/* KV v1 answers a duration but no lease: not leased */
	a = json_loads("{\"lease_id\":\"\",\"lease_duration\":2764800,\"renewable\":false,\"data\":{\"a\":1}}", 0, NULL);
	tdep_lease_from_answer(a, &l);
	assert_false(l.leased);
	json_decref(a);
	/* pki/issue through secret: the certificate's expiration */
	a = json_loads("{\"data\":{\"certificate\":\"x\",\"expiration\":1700000000}}", 0, NULL);
	tdep_lease_from_answer(a, &l);
	assert_int_equal(l.cert_expiry_s, 1700000000);
	json_decref(a);
	/* a static role */
	a = json_loads("{\"data\":{\"rotation_period\":3600,\"ttl\":42}}", 0, NULL);
	tdep_lease_from_answer(a, &l);
	assert_int_equal(l.rotation_ttl_s, 42);
	json_decref(a);
}

static void test_value_and_change(void **state)
{
	json_t *a1 = json_loads("{\"request_id\":\"r1\",\"lease_id\":\"l/1\",\"lease_duration\":60,\"renewable\":true,"
	                        "\"data\":{\"user\":\"u\"},\"warnings\":null}",
	                        0, NULL);
	json_t *a2 = json_loads("{\"request_id\":\"r2\",\"lease_id\":\"l/2\",\"lease_duration\":30,\"renewable\":true,"
	                        "\"data\":{\"user\":\"u\"}}",
	                        0, NULL);
	json_t *a3 = json_loads("{\"request_id\":\"r3\",\"data\":{\"user\":\"v\"}}", 0, NULL);
	json_t *v1 = tdep_secret_value(a1), *v2 = tdep_secret_value(a2), *v3 = tdep_secret_value(a3);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(v1, "RequestID")), "r1");
	assert_string_equal(json_string_value(json_object_get(v1, "LeaseID")), "l/1");
	assert_int_equal(json_integer_value(json_object_get(v1, "LeaseDuration")), 60);
	assert_true(json_is_true(json_object_get(v1, "Renewable")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(v1, "Data"), "user")), "u");
	assert_non_null(json_object_get(v1, "Warnings"));
	assert_null(json_object_get(v1, "Auth"));
	/* only what a template prints from counts as a change */
	assert_false(tdep_value_changed(v1, v2));
	assert_true(tdep_value_changed(v1, v3));
	json_decref(a1);
	json_decref(a2);
	json_decref(a3);
	json_decref(v1);
	json_decref(v2);
	json_decref(v3);
}

static void test_kv2_path(void **state)
{
	struct {
		const char *path, *mount, *want;
	} cases[] = {
		{ "secret/app", "secret/", "secret/data/app" },
		{ "secret/data/app", "secret/", "secret/data/app" },
		{ "secret/metadata/app", "secret/", "secret/metadata/app" },
		{ "secret", "secret/", "secret/data" },
		{ "team/kv/x/y", "team/kv/", "team/kv/data/x/y" },
		{ "secretive/app", "secret/", "secretive/app" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *p = tdep_kv2_path(cases[i].path, cases[i].mount);

		assert_string_equal(p, cases[i].want);
		free(p);
	}
}

/* ---- output: unchanged writes nothing -------------------------------------- */

static void test_unchanged_output_writes_nothing(void **state)
{
	struct agent_config cfg;
	struct agent a;
	struct trunner *r = NULL;
	struct agent_template_config *t;
	char cmd[300];
	char *argv[1] = { cmd };
	const char *dest = path_in("app.conf");
	struct stat st;

	(void)state;
	cfg_init(&cfg);
	srv_set("GET", "kv/app", 200, "{\"data\":{\"k\":\"v\"}}");
	snprintf(cmd, sizeof(cmd), "echo ran >> %s/ran", dir);
	t = add_template(&cfg, "hello\nsecret kv/app", dest);
	t->command = argv;
	t->ncommand = 1;
	t->command_shell = true;
	spit(dest, "hello\n{\"k\":\"v\"}\n");
	assert_int_equal(chmod(dest, 0600), 0);
	assert_int_equal(run_once(&cfg, &a, &r), 0);
	assert_int_equal(trunner_files_written(r), 0);
	assert_int_equal(trunner_commands_run(r), 0);
	assert_int_not_equal(access(path_in("ran"), F_OK), 0);
	assert_int_equal(stat(dest, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600); /* not even rewritten */
	trunner_free(r);
	agent_state_release(&a);

	/* new data: written once, the command runs once */
	srv_set("GET", "kv/app", 200, "{\"data\":{\"k\":\"w\"}}");
	assert_int_equal(run_once(&cfg, &a, &r), 0);
	assert_int_equal(trunner_files_written(r), 1);
	assert_int_equal(trunner_commands_run(r), 1);
	char *ran = slurp(path_in("ran"));
	assert_string_equal(ran, "ran\n");
	free(ran);
	char *out = slurp(dest);
	assert_string_equal(out, "hello\n{\"k\":\"w\"}\n");
	free(out);
	assert_int_equal(stat(dest, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	trunner_free(r);
	agent_state_release(&a);
}

/* ---- re-rendering on a change ---------------------------------------------- */

struct watch {
	const char *path;
	const char *want;
};

static bool file_is(void *arg)
{
	struct watch *w = arg;
	char *s = slurp(w->path);
	bool ok = s && strcmp(s, w->want) == 0;

	free(s);
	return ok;
}

static void test_change_rerenders_and_nothing_else(void **state)
{
	struct agent_config cfg;
	struct agent a;
	struct trunner *r = NULL;
	struct buf err;
	pthread_t th;
	const char *dest = path_in("sub/dir/app.txt");
	struct watch w1 = { dest, "{\"k\":\"one\"}\n" }, w2 = { dest, "{\"k\":\"two\"}\n" };
	struct agent_template_config *t;
	char cmd[300];
	char *argv[1] = { cmd };

	(void)state;
	cfg_init(&cfg);
	cfg.exit_after_auth = false;
	cfg.template_config.static_secret_render_interval = 1;
	srv_set("GET", "kv/app", 200, "{\"data\":{\"k\":\"one\"}}");
	snprintf(cmd, sizeof(cmd), "echo ran >> %s/ran", dir);
	t = add_template(&cfg, "secret kv/app", dest);
	t->command = argv;
	t->ncommand = 1;
	t->command_shell = true;
	memset(&a, 0, sizeof(a));
	a.cfg = &cfg;
	assert_int_equal(agent_state_init(&a), 0);
	agent_token_publish(&a, "root-token");
	buf_init(&err, 1024);
	assert_int_equal(trunner_new(&a, &ops, &r, &err), 0);
	buf_release(&err);
	assert_int_equal(pthread_create(&th, NULL, runner_thread, r), 0);
	assert_true(eventually(file_is, &w1, 3000)); /* create_dest_dirs made sub/dir */
	/* three refreshes with the same data: nothing written, nothing run */
	sleep(3);
	assert_true(srv_calls("GET", "kv/app") >= 3);
	srv_set("GET", "kv/app", 200, "{\"data\":{\"k\":\"two\"}}");
	assert_true(eventually(file_is, &w2, 3000));
	usleep(1500000);
	agent_request_stop(&a, 0);
	pthread_join(th, NULL);
	assert_int_equal(trunner_files_written(r), 2);
	assert_int_equal(trunner_commands_run(r), 2);
	char *ran = slurp(path_in("ran"));
	assert_string_equal(ran, "ran\nran\n");
	free(ran);
	trunner_free(r);
	agent_state_release(&a);
}

/* ---- a failing server, a refused token --------------------------------------- */

static void test_failed_fetch_keeps_file_and_exits(void **state)
{
	struct agent_config cfg;
	struct agent a;
	struct trunner *r = NULL;
	const char *dest = path_in("keep.txt");

	(void)state;
	cfg_init(&cfg);
	cfg.vault.num_retries = 2;
	cfg.template_config.exit_on_retry_failure = true;
	srv.down = 1;
	add_template(&cfg, "secret kv/app", dest);
	spit(dest, "last good\n");
	int64_t t0 = clock_monotonic_ns();
	assert_int_equal(run_once(&cfg, &a, &r), 0);
	/* three tries: now, after 250 ms, after 500 ms more */
	assert_true(clock_monotonic_ns() - t0 >= INT64_C(700) * 1000000);
	assert_int_equal(a.exit_code, 1);
	char *s = slurp(dest);
	assert_string_equal(s, "last good\n");
	free(s);
	assert_int_equal(trunner_files_written(r), 0);
	trunner_free(r);
	agent_state_release(&a);
}

static void test_missing_key_is_an_error(void **state)
{
	struct agent_config cfg;
	struct agent a;
	struct trunner *r = NULL;
	struct agent_template_config *t;

	(void)state;
	cfg_init(&cfg);
	cfg.vault.num_retries = -1;
	cfg.template_config.exit_on_retry_failure = true;
	t = add_template(&cfg, "missing", path_in("m.txt"));
	t->error_on_missing_key = true;
	assert_int_equal(run_once(&cfg, &a, &r), 0);
	assert_int_equal(a.exit_code, 1);
	assert_int_not_equal(access(path_in("m.txt"), F_OK), 0);
	trunner_free(r);
	agent_state_release(&a);
	t->error_on_missing_key = false;
	assert_int_equal(run_once(&cfg, &a, &r), 0);
	assert_int_equal(a.exit_code, 0);
	char *s = slurp(path_in("m.txt"));
	assert_string_equal(s, "<no value>\n");
	free(s);
	trunner_free(r);
	agent_state_release(&a);
}

static void *publish_later(void *arg)
{
	struct agent *a = arg;

	/* wait for the report that the first token was refused */
	if (agent_token_wait_invalid(a, 1, 5000)) {
		pthread_mutex_lock(&srv.mu);
		srv.refused_token[0] = '\0';
		pthread_mutex_unlock(&srv.mu);
		agent_token_publish(a, "second-token");
	}
	return NULL;
}

static void test_refused_token_waits_for_new_one(void **state)
{
	struct agent_config cfg;
	struct agent a;
	struct trunner *r = NULL;
	struct buf err;
	pthread_t th;

	(void)state;
	cfg_init(&cfg);
	srv_set("GET", "kv/app", 200, "{\"data\":{\"k\":\"v\"}}");
	snprintf(srv.refused_token, sizeof(srv.refused_token), "first-token");
	add_template(&cfg, "secret kv/app", path_in("t.txt"));
	memset(&a, 0, sizeof(a));
	a.cfg = &cfg;
	assert_int_equal(agent_state_init(&a), 0);
	agent_token_publish(&a, "first-token");
	buf_init(&err, 1024);
	assert_int_equal(trunner_new(&a, &ops, &r, &err), 0);
	buf_release(&err);
	assert_int_equal(pthread_create(&th, NULL, publish_later, &a), 0);
	trunner_run(r);
	pthread_join(th, NULL);
	assert_int_equal(a.invalid_gen, 1);
	assert_int_equal(a.exit_code, 0);
	char *s = slurp(path_in("t.txt"));
	assert_string_equal(s, "{\"k\":\"v\"}\n");
	free(s);
	trunner_free(r);
	agent_state_release(&a);
}

/* ---- env_templates and parse errors -------------------------------------------- */

static void test_env_templates_handed_to_exec(void **state)
{
	struct agent_config cfg;
	struct agent a;
	struct trunner *r = NULL;
	struct agent_template_config *t1, *t2;

	(void)state;
	cfg_init(&cfg);
	srv_set("GET", "kv/app", 200, "{\"data\":{\"k\":\"v\"}}");
	t1 = add_template(&cfg, "plain", NULL);
	t1->env_name = (char *)"PLAIN";
	t2 = add_template(&cfg, "secret kv/app", NULL);
	t2->env_name = (char *)"SECRET";
	assert_int_equal(run_once(&cfg, &a, &r), 0);
	assert_int_equal(env_calls, 1);
	assert_int_equal(last_env.len, 2);
	assert_string_equal(last_env.items[0], "PLAIN=plain\n");
	assert_string_equal(last_env.items[1], "SECRET={\"k\":\"v\"}\n");
	trunner_free(r);
	agent_state_release(&a);
}

static void test_parse_error_names_block(void **state)
{
	struct agent_config cfg;
	struct agent a;
	struct trunner *r = NULL;
	struct buf err;
	struct agent_template_config *t;

	(void)state;
	cfg_init(&cfg);
	add_template(&cfg, "fine", path_in("a"));
	t = add_template(&cfg, "BROKEN {{", path_in("b"));
	t->where = (char *)"agent.hcl:9";
	memset(&a, 0, sizeof(a));
	a.cfg = &cfg;
	buf_init(&err, 1024);
	assert_int_equal(trunner_new(&a, &ops, &r, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "agent.hcl:9"));
	assert_non_null(strstr(err.data, "unexpected thing"));
	buf_reset(&err);
	t->contents = NULL;
	t->source = path_in("nope.ctmpl");
	assert_int_not_equal(trunner_new(&a, &ops, &r, &err), 0);
	assert_non_null(strstr(err.data, "agent.hcl:9"));
	assert_non_null(strstr(err.data, "nope.ctmpl"));
	buf_release(&err);
}

/* ---- pkiCert ------------------------------------------------------------------------ */

/* A self-signed leaf (not a CA) valid from now - back_s for life_s, with
 * its key, as PEM text. */
static char *make_cert(long back_s, long life_s)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	X509_NAME *n;
	char *p, *out;
	long len;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -back_s);
	X509_gmtime_adj(X509_getm_notAfter(x), life_s - back_s);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"app.example.com", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_sign(x, k, EVP_sha256());
	PEM_write_bio_X509(b, x);
	PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	len = BIO_get_mem_data(b, &p);
	out = xstrndup(p, (size_t)len);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(k);
	return out;
}

static void test_pki_value_and_refresh(void **state)
{
	char *pem = make_cert(10, 100);
	int64_t nb, na, now = clock_realtime_s();
	json_t *v = tpki_value_from_pem(pem, strlen(pem), &nb, &na);

	(void)state;
	assert_non_null(v);
	assert_non_null(strstr(json_string_value(json_object_get(v, "Cert")), "BEGIN CERTIFICATE"));
	assert_non_null(strstr(json_string_value(json_object_get(v, "Key")), "PRIVATE KEY"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "Data"), "Cert")),
	                    json_string_value(json_object_get(v, "Cert")));
	assert_true(json_is_array(json_object_get(v, "CAChain")));
	assert_true(na - nb == 100);
	assert_true(nb <= now - 9 && nb >= now - 11);
	/* 0.9 of 100 s from its start, +-3 s: 80 s from now, +-3 s */
	long ms = tpki_refresh_ms(nb, na, now, 0.9, 0.5);
	assert_true(ms >= 79000 && ms <= 81000);
	assert_true(tpki_refresh_ms(nb, na, now, 0.9, 0.0) < ms);
	/* past the threshold or expired: due now */
	assert_int_equal(tpki_refresh_ms(nb, na, nb + 95, 0.9, 0.5), 0);
	assert_int_equal(tpki_refresh_ms(nb, na, na + 1, 0.9, 0.5), 0);
	json_decref(v);
	assert_null(tpki_value_from_pem("no pem here", 11, &nb, &na));
	free(pem);
}

static void test_pki_reuses_good_cert_on_disk(void **state)
{
	struct agent_config cfg;
	struct agent a;
	struct trunner *r = NULL;
	const char *dest = path_in("cert.pem");
	char *good = make_cert(10, 3600), *fresh = make_cert(0, 3600), *old = make_cert(3500, 3600);
	json_t *answer = json_object(), *data = json_object();
	char *body;
	char *k1, *k2;

	(void)state;
	json_object_set_new(data, "certificate", json_string(fresh));
	json_object_set_new(data, "serial_number", json_string("07"));
	json_object_set_new(answer, "data", data);
	body = json_dumps(answer, 0);
	cfg_init(&cfg);
	srv_set("PUT", "pki/issue/app", 200, body);
	add_template(&cfg, "pki pki/issue/app common_name=app.example.com", dest);
	/* a good certificate on disk: nothing issued */
	spit(dest, good);
	assert_int_equal(run_once(&cfg, &a, &r), 0);
	assert_int_equal(srv_calls("PUT", "pki/issue/app"), 0);
	assert_int_equal(trunner_files_written(r), 1); /* the template prints only the Cert */
	trunner_free(r);
	agent_state_release(&a);
	/* one past its threshold: a new one is issued */
	spit(dest, old);
	assert_int_equal(run_once(&cfg, &a, &r), 0);
	assert_int_equal(srv_calls("PUT", "pki/issue/app"), 1);
	assert_string_equal(srv.last_body, "{\"common_name\":\"app.example.com\"}");
	k1 = slurp(dest);
	k2 = calloc(1, strlen(fresh) + 2);
	memcpy(k2, fresh, (size_t)(strstr(fresh, "-----END CERTIFICATE-----") - fresh) + 26);
	k2[strlen(k2)] = '\n'; /* the stand-in prints a line */
	assert_string_equal(k1, k2);
	free(k1);
	free(k2);
	trunner_free(r);
	agent_state_release(&a);
	free(body);
	json_decref(answer);
	free(good);
	free(fresh);
	free(old);
}

/* ---- the writer ------------------------------------------------------------------- */

static size_t count_entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(dp);
	while ((e = readdir(dp)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
			n++;
	closedir(dp);
	return n;
}

static void test_writer(void **state)
{
	struct agent_write_opts o = { .perms = 0640, .create_dirs = true, .backup = true };
	const char *dest = path_in("a/b/c.txt");
	struct buf err;
	struct stat st;
	mode_t old;

	(void)state;
	buf_init(&err, 1024);
	old = umask(077); /* the mode is exact whatever the umask */
	assert_int_equal(agent_file_write(dest, "one", 3, &o, &err), 0);
	umask(old);
	assert_int_equal(stat(dest, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(stat(path_in("a/b"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_true(agent_file_same(dest, "one", 3));
	assert_false(agent_file_same(dest, "one!", 4));
	assert_int_equal(agent_file_write(dest, "two", 3, &o, &err), 0);
	char *bak = slurp(path_in("a/b/c.txt.bak")), *cur = slurp(dest);
	assert_string_equal(bak, "one");
	assert_string_equal(cur, "two");
	free(bak);
	free(cur);
	assert_int_equal(count_entries(path_in("a/b")), 2); /* no temporary file left */
	/* without create_dest_dirs a missing directory is an error */
	o.create_dirs = false;
	assert_int_equal(agent_file_write(path_in("x/y.txt"), "z", 1, &o, &err), TROVE_ERR_NOT_FOUND);
	buf_release(&err);
}

static void test_failed_write_leaves_old_file(void **state)
{
	const char *dest = path_in("big.txt");
	size_t n = 256 * 1024;
	char *big = malloc(n);
	pid_t pid;
	int status;

	(void)state;
	memset(big, 'x', n);
	spit(dest, "old content\n");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* a file size limit makes the write fail halfway */
		struct rlimit rl = { 64 * 1024, 64 * 1024 };
		struct agent_write_opts o = { .perms = 0644 };
		struct buf err;

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		buf_init(&err, 1024);
		_exit(agent_file_write(dest, big, n, &o, &err) == TROVE_ERR_IO && strstr(err.data, "writing") ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	char *s = slurp(dest);
	assert_string_equal(s, "old content\n");
	free(s);
	assert_int_equal(count_entries(dir), 1);
	free(big);
}

/* ---- commands ------------------------------------------------------------------------ */

static void test_command_runs_and_times_out(void **state)
{
	char *sleepy[] = { "sleep", "30" };
	char *echo[] = { "echo hello; echo oops >&2; exit 3" };
	char *ok[] = { "true" };
	char *stubborn[] = { "trap '' TERM; sleep 30" };
	struct buf out, err;
	int64_t t0;

	(void)state;
	buf_init(&out, 64);
	buf_init(&err, 256);
	assert_int_equal(agent_command_run(ok, 1, false, 5000, -1, &out, &err), 0);
	assert_int_equal(agent_command_run(echo, 1, true, 5000, -1, &out, &err), TROVE_ERR_UPSTREAM);
	assert_string_equal(out.data, "hello\noops\n");
	assert_non_null(strstr(err.data, "exit status 3"));
	buf_reset(&err);
	t0 = clock_monotonic_ns();
	assert_int_equal(agent_command_run(sleepy, 2, false, 300, -1, &out, &err), TROVE_ERR_TIMEOUT);
	assert_true(clock_monotonic_ns() - t0 < INT64_C(2000) * 1000000);
	assert_non_null(strstr(err.data, "timeout"));
	/* one that ignores SIGTERM gets SIGKILL after the grace */
	t0 = clock_monotonic_ns();
	assert_int_equal(agent_command_run(stubborn, 1, true, 300, -1, &out, &err), TROVE_ERR_TIMEOUT);
	assert_true(clock_monotonic_ns() - t0 < (int64_t)(300 + AGENT_COMMAND_KILL_GRACE_MS + 1500) * 1000000);
	/* the agent stopping ends it at once */
	int stop[2];
	assert_int_equal(pipe(stop), 0);
	assert_int_equal(write(stop[1], "x", 1), 1);
	t0 = clock_monotonic_ns();
	assert_int_equal(agent_command_run(sleepy, 2, false, 30000, stop[0], &out, &err), TROVE_ERR_TIMEOUT);
	assert_true(clock_monotonic_ns() - t0 < INT64_C(1000) * 1000000);
	close(stop[0]);
	close(stop[1]);
	buf_reset(&err);
	char *missing[] = { "/no/such/program" };
	assert_int_not_equal(agent_command_run(missing, 1, false, 1000, -1, &out, &err), 0);
	buf_release(&out);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dep_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_dependency_fetched_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_form_sends_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_renewed_then_fetched_anew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schedule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_from_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_and_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv2_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_output_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_rerenders_and_nothing_else, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_fetch_keeps_file_and_exits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_key_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_token_waits_for_new_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_templates_handed_to_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_error_names_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pki_value_and_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pki_reuses_good_cert_on_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_write_leaves_old_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_runs_and_times_out, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
