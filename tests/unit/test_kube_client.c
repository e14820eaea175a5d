/* test_kube_client.c — the Kubernetes API client's configuration and
 * one-shot requests (src/operator/kube_config.c, kube_client.c,
 * kube_path.c, kube_time.c): kubeconfig files and the in-cluster files in
 * a scratch directory, requests against a loopback fake (kube_fake.c):
 * Status errors, kept connections and the retry when a kept one was
 * closed, token file rotation, TokenRequest, and TLS with a CA and a
 * client certificate given as PEM. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "encoding.h"
#include "err.h"
#include "kube_fake.h"
#include "operator/kube.h"
#include "pki_test_ca.h"

/* ---- paths and times ---------------------------------------------------- */

static void test_paths(void **state)
{
	char *p;
	(void)state;

	p = kube_path(&KUBE_SECRETS, "ns-1", "db creds/x", NULL, NULL);
	assert_string_equal(p, "/api/v1/namespaces/ns-1/secrets/db%20creds%2Fx");
	free(p);
	p = kube_path(&KUBE_SECRETS, NULL, NULL, NULL, "labelSelector=a%3Db");
	assert_string_equal(p, "/api/v1/secrets?labelSelector=a%3Db");
	free(p);
	p = kube_path(&KUBE_LEASES, "kube-system", "trove", NULL, NULL);
	assert_string_equal(p, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/trove");
	free(p);
	p = kube_path(&KUBE_DEPLOYMENTS, "a", "web", "status", "x=1");
	assert_string_equal(p, "/apis/apps/v1/namespaces/a/deployments/web/status?x=1");
	free(p);
	p = kube_path(&KUBE_ARGO_ROLLOUTS, "a", "r", NULL, NULL);
	assert_string_equal(p, "/apis/argoproj.io/v1alpha1/namespaces/a/rollouts/r");
	free(p);
	p = kube_path(&(struct kube_resource){"apiextensions.k8s.io", "v1", "customresourcedefinitions", false},
	              "ignored", "x", NULL, NULL);
	assert_string_equal(p, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x");
	free(p);
	assert_string_equal(KUBE_EVENTS.plural, "events");
	assert_string_equal(KUBE_STATEFULSETS.plural, "statefulsets");
	assert_string_equal(KUBE_DAEMONSETS.group, "apps");
}

static void test_times(void **state)
{
	char t[32];
	long long us;
	(void)state;

	kube_time(1796585486, t);
	assert_string_equal(t, "2026-12-06T19:31:26Z");
	kube_micro_time(1796585486123456LL, t);
	assert_string_equal(t, "2026-12-06T19:31:26.123456Z");
	kube_micro_time(1796585486000001LL, t);
	assert_string_equal(t, "2026-12-06T19:31:26.000001Z");
	kube_micro_time(-1, t);
	assert_string_equal(t, "1969-12-31T23:59:59.999999Z");
	assert_int_equal(kube_parse_time("2026-12-06T19:31:26Z", &us), 0);
	assert_true(us == 1796585486000000LL);
	assert_int_equal(kube_parse_time("2026-12-06T19:31:26.123456Z", &us), 0);
	assert_true(us == 1796585486123456LL);
	assert_int_equal(kube_parse_time("2026-12-06T19:31:26.1234567891Z", &us), 0);
	assert_true(us == 1796585486123456LL);
	assert_int_equal(kube_parse_time("2026-12-06T20:31:26.5+01:00", &us), 0);
	assert_true(us == 1796585486500000LL);
	assert_int_equal(kube_parse_time("2026-12-06T18:01:26-01:30", &us), 0);
	assert_true(us == 1796585486000000LL);
	assert_int_equal(kube_parse_time("2026-12-06 19:31:26Z", &us), TROVE_ERR_INVALID);
	assert_int_equal(kube_parse_time("2026-13-06T19:31:26Z", &us), TROVE_ERR_INVALID);
	assert_int_equal(kube_parse_time("2026-02-29T19:31:26Z", &us), TROVE_ERR_INVALID);
	assert_int_equal(kube_parse_time("2026-12-06T19:31:26", &us), TROVE_ERR_INVALID);
	assert_int_equal(kube_parse_time("2026-12-06T19:31:26.Z", &us), TROVE_ERR_INVALID);
	assert_int_equal(kube_parse_time("2026-12-06T19:31:26+0100", &us), TROVE_ERR_INVALID);
	assert_int_equal(kube_parse_time(NULL, &us), TROVE_ERR_INVALID);
}

/* ---- configuration ------------------------------------------------------ */

static void write_text(const char *dir, const char *name, const char *text)
{
	char *p = test_path(dir, name);

	test_write(p, text, strlen(text));
	free(p);
}

static int load_text(const char *dir, const char *text, const char *context, struct kube_config *c, char **err)
{
	char *p = test_path(dir, "config");
	int r;

	test_write(p, text, strlen(text));
	r = kube_config_from_file(p, context, c, err);
	free(p);
	return r;
}

static void expect_refused(const char *dir, const char *text, const char *why)
{
	struct kube_config c;
	char *err = NULL;

	assert_int_not_equal(load_text(dir, text, NULL, &c, &err), 0);
	assert_non_null(err);
	if (strstr(err, why) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err, why);
	assert_null(c.server);
	free(err);
}

#define KC_HEAD                                                                                                    \
	"apiVersion: v1\nkind: Config\ncurrent-context: one\n"                                                     \
	"contexts:\n- name: one\n  context: {cluster: c1, user: u1, namespace: team-a}\n"                          \
	"- name: two\n  context:\n    cluster: c2\n    user: u2\n"

static void test_kubeconfig(void **state)
{
	char *dir = test_tmpdir(), *err = NULL, ca64[64];
	struct kube_config c;
	(void)state;

	write_text(dir, "ca.pem", "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
	write_text(dir, "tok", "file-token\n");
	base64_encode((const unsigned char *)"KEYPEM", 6, ca64);
	assert_int_equal(load_text(dir,
	                           KC_HEAD "clusters:\n- name: c1\n  cluster:\n    server: https://k8s.test:6443/\n"
	                                   "    certificate-authority: ca.pem\n    tls-server-name: api.test\n"
	                                   "- name: c2\n  cluster:\n    server: http://127.0.0.1:8080\n"
	                                   "    insecure-skip-tls-verify: true\n"
	                                   "users:\n- name: u1\n  user:\n    token: abc.def\n"
	                                   "- name: u2\n  user:\n    tokenFile: tok\n",
	                           NULL, &c, &err),
	                 0);
	assert_string_equal(c.server, "https://k8s.test:6443");
	assert_non_null(strstr(c.ca_pem, "BEGIN CERTIFICATE"));
	assert_string_equal(c.tls_server_name, "api.test");
	assert_string_equal(c.token, "abc.def");
	assert_null(c.token_file);
	assert_string_equal(c.namespace, "team-a");
	assert_false(c.insecure);
	kube_config_release(&c);
	assert_null(c.server);
	kube_config_release(&c); /* again: harmless */

	/* Another context by name; a relative tokenFile; JSON's booleans. */
	{
		char *path = test_path(dir, "config"), *tok = test_path(dir, "tok");
		assert_int_equal(kube_config_from_file(path, "two", &c, &err), 0);
		assert_string_equal(c.server, "http://127.0.0.1:8080");
		assert_true(c.insecure);
		assert_string_equal(c.token_file, tok);
		assert_null(c.token);
		assert_string_equal(c.namespace, "default");
		kube_config_release(&c);
		free(path);
		free(tok);
	}

	/* Data fields win over files; client certificate and key. */
	{
		char text[2048];
		(void)snprintf(text, sizeof(text),
		               KC_HEAD "clusters:\n- name: c1\n  cluster:\n    server: https://x\n"
		                       "    certificate-authority: missing.pem\n"
		                       "    certificate-authority-data: %s\n"
		                       "users:\n- name: u1\n  user:\n    client-certificate-data: %s\n"
		                       "    client-key-data: %s\n",
		               ca64, ca64, ca64);
		assert_int_equal(load_text(dir, text, NULL, &c, &err), 0);
		assert_string_equal(c.ca_pem, "KEYPEM");
		assert_string_equal(c.client_cert_pem, "KEYPEM");
		assert_string_equal(c.client_key_pem, "KEYPEM");
		kube_config_release(&c);
	}

	/* JSON is YAML too. */
	assert_int_equal(load_text(dir,
	                           "{\"current-context\":\"x\",\"contexts\":[{\"name\":\"x\",\"context\":{\"cluster\":\"k\"}}],"
	                           "\"clusters\":[{\"name\":\"k\",\"cluster\":{\"server\":\"https://[::1]:6443\"}}]}",
	                           NULL, &c, &err),
	                 0);
	assert_string_equal(c.server, "https://[::1]:6443");
	assert_null(c.token);
	kube_config_release(&c);

	expect_refused(dir, KC_HEAD "clusters:\n- name: c1\n  cluster: {server: https://x}\n"
	                            "users:\n- name: u1\n  user:\n    exec:\n      command: aws\n",
	               "users[name=u1].user.exec is not supported");
	expect_refused(dir, KC_HEAD "clusters:\n- name: c1\n  cluster: {server: https://x}\n"
	                            "users:\n- name: u1\n  user:\n    auth-provider: {name: gcp}\n",
	               "auth-provider is not supported");
	expect_refused(dir, KC_HEAD "clusters:\n- name: c9\n  cluster: {server: https://x}\n",
	               "no entry named \"c1\" in clusters");
	expect_refused(dir, KC_HEAD "clusters:\n- name: c1\n  cluster: {insecure-skip-tls-verify: true}\n",
	               "clusters[name=c1].cluster.server is missing");
	expect_refused(dir, KC_HEAD "clusters:\n- name: c1\n  cluster: {server: ftp://x}\n", "not an http(s) URL");
	expect_refused(dir, KC_HEAD "clusters:\n- name: c1\n  cluster: {server: https://x, certificate-authority: nope.pem}\n",
	               "nope.pem");
	expect_refused(dir, KC_HEAD "clusters:\n- name: c1\n  cluster: {server: https://x, certificate-authority-data: \"!!\"}\n",
	               "certificate-authority-data is not base64");
	expect_refused(dir, KC_HEAD "clusters:\n- name: c1\n  cluster: {server: https://x, insecure-skip-tls-verify: maybe}\n",
	               "insecure-skip-tls-verify must be true or false");
	expect_refused(dir, KC_HEAD "clusters:\n- name: c1\n  cluster: {server: https://x}\n"
	                            "users:\n- name: u1\n  user: {client-certificate-data: S0VZ}\n",
	               "without its key");
	expect_refused(dir, KC_HEAD "clusters:\n- name: c1\n  cluster: {server: [https://x]}\n", "server must be a string");
	expect_refused(dir, "contexts: []\n", "current-context is not set");
	expect_refused(dir, "- a\n", "not a kubeconfig");
	expect_refused(dir, "a: &x 1\n", "anchors");
	{
		struct kube_config c2;
		assert_int_equal(kube_config_from_file("/nonexistent/kubeconfig", NULL, &c2, &err), TROVE_ERR_NOT_FOUND);
		assert_non_null(strstr(err, "/nonexistent/kubeconfig"));
		free(err);
	}
	test_rmdir(dir);
}

static void test_in_cluster(void **state)
{
	char *dir = test_tmpdir(), *err = NULL, *tok = test_path(dir, "token");
	struct kube_config c;
	(void)state;

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_int_equal(kube_config_in_cluster(dir, &c, &err), TROVE_ERR_NOT_FOUND);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
	free(err);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_in_cluster(dir, &c, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err, "token"));
	free(err);
	write_text(dir, "token", "sa-token");
	write_text(dir, "ca.crt", "CA PEM");
	assert_int_equal(kube_config_in_cluster(dir, &c, &err), 0);
	assert_string_equal(c.server, "https://10.96.0.1:443");
	assert_string_equal(c.token_file, tok);
	assert_null(c.token);
	assert_string_equal(c.ca_pem, "CA PEM");
	assert_string_equal(c.namespace, "default");
	kube_config_release(&c);
	write_text(dir, "namespace", "trove-system\n");
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	assert_int_equal(kube_config_in_cluster(dir, &c, &err), 0);
	assert_string_equal(c.server, "https://[fd00::1]:443");
	assert_string_equal(c.namespace, "trove-system");
	kube_config_release(&c);
	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	assert_int_equal(kube_config_in_cluster(dir, &c, &err), TROVE_ERR_INVALID);
	free(err);

	/* kube_config_load: the flag, then in-cluster, then KUBECONFIG, then ~/.kube/config. */
	write_text(dir, "kc", "current-context: a\ncontexts: [{name: a, context: {cluster: a}}]\n"
	                      "clusters: [{name: a, cluster: {server: 'https://from-file'}}]\n");
	{
		char *kc = test_path(dir, "kc"), env[8300];
		assert_int_equal(kube_config_load(kc, &c, &err), 0);
		assert_string_equal(c.server, "https://from-file");
		kube_config_release(&c);
		setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
		setenv("KUBECONFIG", kc, 1);
		/* in-cluster wins over KUBECONFIG, but reads the real directory here */
		assert_int_not_equal(kube_config_load(NULL, &c, &err), TROVE_ERR_NOT_FOUND);
		free(err);
		err = NULL;
		unsetenv("KUBERNETES_SERVICE_HOST");
		(void)snprintf(env, sizeof(env), "::%s:/elsewhere", kc);
		setenv("KUBECONFIG", env, 1);
		assert_int_equal(kube_config_load(NULL, &c, &err), 0);
		assert_string_equal(c.server, "https://from-file");
		kube_config_release(&c);
		unsetenv("KUBECONFIG");
		char *kdir = test_path(dir, ".kube");
		mkdir(kdir, 0700);
		free(kdir);
		write_text(dir, ".kube/config", "current-context: a\ncontexts: [{name: a, context: {cluster: a}}]\n"
		                                "clusters: [{name: a, cluster: {server: 'https://home'}}]\n");
		setenv("HOME", dir, 1);
		assert_int_equal(kube_config_load(NULL, &c, &err), 0);
		assert_string_equal(c.server, "https://home");
		kube_config_release(&c);
		free(kc);
	}
	free(tok);
	test_rmdir(dir);
}

/* ---- requests ------------------------------------------------------------ */

struct script {
	pthread_mutex_t mu;
	char last_auth[4096];
	char last_body[4096];
	char last_ctype[128];
	char last_method[16];
	char last_path[2048];
	int requests;
	bool close_after_each;
};

static bool serve(void *ctx, int fd, const struct kube_fake_req *rq)
{
	struct script *s = ctx;
	bool close_after;

	pthread_mutex_lock(&s->mu);
	(void)snprintf(s->last_auth, sizeof(s->last_auth), "%s", rq->auth);
	(void)snprintf(s->last_body, sizeof(s->last_body), "%s", rq->body);
	(void)snprintf(s->last_ctype, sizeof(s->last_ctype), "%s", rq->ctype);
	(void)snprintf(s->last_method, sizeof(s->last_method), "%s", rq->method);
	(void)snprintf(s->last_path, sizeof(s->last_path), "%s", rq->path);
	s->requests++;
	close_after = s->close_after_each;
	pthread_mutex_unlock(&s->mu);
	if (strstr(rq->path, "/secrets/missing"))
		kube_fake_reply(fd, 404, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
		                         "\"message\":\"secrets \\\"missing\\\" not found\",\"reason\":\"NotFound\",\"code\":404}");
	else if (strstr(rq->path, "/serviceaccounts/default/token"))
		kube_fake_reply(fd, 201, "{\"kind\":\"TokenRequest\",\"status\":{\"token\":\"eyJ.sa.tok\","
		                         "\"expirationTimestamp\":\"2026-12-06T20:31:26Z\"}}");
	else if (strstr(rq->path, "/serviceaccounts/"))
		kube_fake_reply(fd, 403, "{\"kind\":\"Status\",\"message\":\"forbidden: cannot create token\"}");
	else if (strstr(rq->path, "/plain"))
		kube_fake_reply(fd, 500, NULL);
	else if (strcmp(rq->method, "GET") == 0)
		kube_fake_reply(fd, 200, "{\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\",\"resourceVersion\":\"7\"}}");
	else
		kube_fake_reply(fd, strcmp(rq->method, "POST") == 0 ? 201 : 200, rq->body_len ? rq->body : "{}");
	return !close_after;
}

static void test_requests(void **state)
{
	struct script s = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct kube_resp r;
	struct kube_client *k;
	struct kube_fake *f;
	json_t *obj;
	int port;
	(void)state;

	f = kube_fake_start(serve, &s, &port);
	k = kube_fake_client(port, "static-token", NULL);
	kube_resp_init(&r);
	assert_int_equal(kube_get(k, &KUBE_SECRETS, "ns", "s", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(json_object_get(r.body, "metadata"), "resourceVersion")), "7");
	assert_null(r.error);
	assert_string_equal(s.last_auth, "Bearer static-token");
	assert_string_equal(s.last_path, "/api/v1/namespaces/ns/secrets/s");

	assert_int_equal(kube_get(k, &KUBE_SECRETS, "ns", "missing", &r), 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.error, "secrets \"missing\" not found");
	assert_int_equal(kube_request(k, "GET", "/plain", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 500);
	assert_null(r.body);
	assert_string_equal(r.error, "the Kubernetes API server answered 500");

	obj = json_pack("{s:s, s:{s:s}}", "kind", "Secret", "metadata", "name", "n");
	assert_int_equal(kube_create(k, &KUBE_SECRETS, "ns", obj, &r), 0);
	assert_int_equal(r.status, 201);
	assert_true(json_equal(r.body, obj));
	assert_string_equal(s.last_ctype, "application/json");
	assert_string_equal(s.last_method, "POST");
	assert_int_equal(kube_patch(k, &KUBE_DEPLOYMENTS, "ns", "web", NULL, KUBE_STRATEGIC_PATCH, obj, &r), 0);
	assert_string_equal(s.last_ctype, KUBE_STRATEGIC_PATCH);
	assert_string_equal(s.last_method, "PATCH");
	assert_int_equal(kube_patch(k, &KUBE_SECRETS, "ns", "n", "status", NULL, obj, &r), 0);
	assert_string_equal(s.last_ctype, KUBE_MERGE_PATCH);
	assert_string_equal(s.last_path, "/api/v1/namespaces/ns/secrets/n/status");
	assert_int_equal(kube_replace(k, &KUBE_SECRETS, "ns", "n", NULL, obj, &r), 0);
	assert_string_equal(s.last_method, "PUT");
	assert_int_equal(kube_delete(k, &KUBE_SECRETS, "ns", "n", &r), 0);
	assert_string_equal(s.last_method, "DELETE");
	json_decref(obj);
	/* Every request so far on one kept connection. */
	assert_int_equal(kube_fake_conns(f), 1);
	assert_int_equal(s.requests, 8);

	/* The server closes after each answer: each request opens anew and
	 * the kept (closed) connection is never a failure. */
	s.close_after_each = true;
	assert_int_equal(kube_get(k, &KUBE_SECRETS, "ns", "s", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(kube_get(k, &KUBE_SECRETS, "ns", "s", &r), 0);
	assert_int_equal(r.status, 200);
	kube_resp_release(&r);
	kube_client_free(k);
	kube_fake_stop(f);
}

/* A kept connection the server closed without the client noticing (it
 * looked idle and open): the request goes again on a fresh connection. */
struct silent {
	int closes_left;
};

static bool serve_then_drop(void *ctx, int fd, const struct kube_fake_req *rq)
{
	struct silent *s = ctx;

	if (rq->req_no == 1 && s->closes_left > 0) {
		s->closes_left--;
		return false; /* read the request, close without a byte */
	}
	kube_fake_reply(fd, 200, "{\"ok\":true}");
	return true;
}

static void test_retry_on_stale_connection(void **state)
{
	struct silent s = {.closes_left = 1};
	struct kube_resp r;
	struct kube_client *k;
	struct kube_fake *f;
	int port;
	(void)state;

	f = kube_fake_start(serve_then_drop, &s, &port);
	k = kube_fake_client(port, NULL, NULL);
	kube_resp_init(&r);
	assert_int_equal(kube_request(k, "GET", "/a", NULL, NULL, &r), 0);
	assert_int_equal(kube_request(k, "GET", "/b", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.body, "ok")));
	assert_int_equal(kube_fake_conns(f), 2);
	kube_resp_release(&r);
	kube_client_free(k);
	kube_fake_stop(f);

	/* Nothing listening: a transport failure with a reason. */
	k = kube_fake_client(port, NULL, NULL);
	assert_int_equal(kube_request(k, "GET", "/a", NULL, NULL, &r), TROVE_ERR_UPSTREAM);
	assert_int_equal(r.status, 0);
	assert_non_null(r.error);
	assert_int_equal(kube_request(k, "GET", "bad path", NULL, NULL, &r), TROVE_ERR_INVALID);
	kube_resp_release(&r);
	kube_client_free(k);
}

static void test_token_file_rotation(void **state)
{
	struct script s = {.mu = PTHREAD_MUTEX_INITIALIZER};
	char *dir = test_tmpdir(), *tok = test_path(dir, "token");
	struct kube_resp r;
	struct kube_client *k;
	struct kube_fake *f;
	int port;
	(void)state;

	test_write(tok, "first\n", 6);
	f = kube_fake_start(serve, &s, &port);
	k = kube_fake_client(port, NULL, tok);
	kube_resp_init(&r);
	assert_int_equal(kube_request(k, "GET", "/x", NULL, NULL, &r), 0);
	assert_string_equal(s.last_auth, "Bearer first");
	test_write(tok, "second-longer\n", 14);
	/* Not looked at again within a second. */
	assert_int_equal(kube_request(k, "GET", "/x", NULL, NULL, &r), 0);
	assert_string_equal(s.last_auth, "Bearer first");
	usleep(1100 * 1000);
	assert_int_equal(kube_request(k, "GET", "/x", NULL, NULL, &r), 0);
	assert_string_equal(s.last_auth, "Bearer second-longer");
	/* The file gone for a moment (swapped in place): the last token stays. */
	unlink(tok);
	usleep(1100 * 1000);
	assert_int_equal(kube_request(k, "GET", "/x", NULL, NULL, &r), 0);
	assert_string_equal(s.last_auth, "Bearer second-longer");
	kube_resp_release(&r);
	kube_client_free(k);
	kube_fake_stop(f);
	free(tok);
	test_rmdir(dir);
}

static void test_token_request(void **state)
{
	struct script s = {.mu = PTHREAD_MUTEX_INITIALIZER};
	const char *aud[] = {"trove", "other"};
	struct kube_client *k;
	struct kube_fake *f;
	char *token = NULL, *err = NULL;
	long exp = 0;
	json_t *body;
	int port;
	(void)state;

	f = kube_fake_start(serve, &s, &port);
	k = kube_fake_client(port, "t", NULL);
	assert_int_equal(kube_token_request(k, "app", "default", aud, 2, 3600, &token, &exp, &err), 0);
	assert_string_equal(token, "eyJ.sa.tok");
	assert_int_equal(exp, 1796589086);
	assert_string_equal(s.last_path, "/api/v1/namespaces/app/serviceaccounts/default/token");
	body = json_loads(s.last_body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(body, "kind")), "TokenRequest");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(body, "spec"), "expirationSeconds")), 3600);
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(body, "spec"), "audiences"), 1)),
	                    "other");
	json_decref(body);
	free(token);
	assert_int_equal(kube_token_request(k, "app", "nobody", aud, 1, 3600, &token, &exp, &err), TROVE_ERR_PERMISSION);
	assert_null(token);
	assert_non_null(strstr(err, "forbidden: cannot create token"));
	free(err);
	assert_int_equal(kube_token_request(k, "app", "default", NULL, 0, 60, &token, &exp, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err, "600"));
	free(err);
	kube_client_free(k);
	kube_fake_stop(f);
}

/* ---- TLS ----------------------------------------------------------------- */

static char *pem_of(X509 *x, EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	if (x)
		PEM_write_bio_X509(b, x);
	if (key)
		PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(b, &p);
	out = strndup(p, (size_t)n);
	BIO_free(b);
	return out;
}

static X509 *leaf_for(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *cn, const char *san, int serial)
{
	X509 *leaf = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509_set_version(leaf, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(leaf), serial);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(leaf), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(leaf, X509_get_subject_name(ca));
	X509_gmtime_adj(X509_getm_notBefore(leaf), -3600);
	X509_gmtime_adj(X509_getm_notAfter(leaf), 3600);
	X509_set_pubkey(leaf, key);
	X509V3_set_ctx(&v3, ca, leaf, NULL, NULL, 0);
	if (san) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		X509_add_ext(leaf, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(leaf, ca_key, EVP_sha256());
	return leaf;
}

struct tls_server {
	SSL_CTX *ctx;
	int lfd, port;
	pthread_t t;
	char client_cn[128];
};

static void *tls_serve(void *arg)
{
	struct tls_server *s = arg;
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{\"tls\":true}";
	char req[4096];
	int fd = accept(s->lfd, NULL, NULL);
	SSL *ssl = SSL_new(s->ctx);
	X509 *peer;

	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1) {
		peer = SSL_get1_peer_certificate(ssl);
		if (peer) {
			X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, s->client_cn,
			                          sizeof(s->client_cn));
			X509_free(peer);
		}
		(void)SSL_read(ssl, req, sizeof(req));
		(void)SSL_write(ssl, answer, (int)sizeof(answer) - 1);
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	close(fd);
	return NULL;
}

static void test_tls_pem(void **state)
{
	EVP_PKEY *ca_key = test_key("P-256"), *key = test_key("P-256"), *ckey = test_key("P-256");
	X509 *ca = test_ca(ca_key, "kube test CA", "critical,keyCertSign,cRLSign", true);
	X509 *leaf = leaf_for(ca, ca_key, key, "kubernetes", "DNS:kubernetes.default.svc,IP:127.0.0.1", 2);
	X509 *client = leaf_for(ca, ca_key, ckey, "system:trove", NULL, 3);
	struct tls_server s = {0};
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	struct kube_config cfg = {0};
	struct kube_client *k = NULL;
	struct kube_resp r;
	char server[64], *err = NULL;
	X509_STORE *store;
	(void)state;

	s.ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(s.ctx, leaf);
	SSL_CTX_use_PrivateKey(s.ctx, key);
	store = SSL_CTX_get_cert_store(s.ctx);
	X509_STORE_add_cert(store, ca);
	SSL_CTX_set_verify(s.ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s.lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(s.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	listen(s.lfd, 4);
	getsockname(s.lfd, (struct sockaddr *)&a, &len);
	s.port = ntohs(a.sin_port);
	pthread_create(&s.t, NULL, tls_serve, &s);

	(void)snprintf(server, sizeof(server), "https://127.0.0.1:%d", s.port);
	cfg.server = server;
	cfg.ca_pem = pem_of(ca, NULL);
	cfg.client_cert_pem = pem_of(client, NULL);
	cfg.client_key_pem = pem_of(NULL, ckey);
	cfg.tls_server_name = "kubernetes.default.svc";
	assert_int_equal(kube_client_new(&cfg, &k, &err), 0);
	kube_resp_init(&r);
	assert_int_equal(kube_request(k, "GET", "/version", NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.body, "tls")));
	pthread_join(s.t, NULL);
	assert_string_equal(s.client_cn, "system:trove");
	kube_client_free(k);

	/* A CA that did not sign the server: refused, saying so. */
	free(cfg.ca_pem);
	{
		EVP_PKEY *other_key = test_key("P-256");
		X509 *other = test_ca(other_key, "other CA", "critical,keyCertSign,cRLSign", true);
		cfg.ca_pem = pem_of(other, NULL);
		X509_free(other);
		EVP_PKEY_free(other_key);
	}
	pthread_create(&s.t, NULL, tls_serve, &s);
	assert_int_equal(kube_client_new(&cfg, &k, &err), 0);
	assert_int_equal(kube_request(k, "GET", "/version", NULL, NULL, &r), TROVE_ERR_UPSTREAM);
	assert_non_null(r.error);
	pthread_join(s.t, NULL);
	kube_client_free(k);

	/* PEM that is not PEM: the client is not made. */
	free(cfg.ca_pem);
	cfg.ca_pem = strdup("not a certificate");
	assert_int_equal(kube_client_new(&cfg, &k, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err, "CA certificates"));
	free(err);
	cfg.server = "https://x:99999";
	assert_int_equal(kube_client_new(&cfg, &k, &err), TROVE_ERR_INVALID);
	free(err);

	kube_resp_release(&r);
	free(cfg.ca_pem);
	free(cfg.client_cert_pem);
	free(cfg.client_key_pem);
	close(s.lfd);
	SSL_CTX_free(s.ctx);
	X509_free(ca);
	X509_free(leaf);
	X509_free(client);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ckey);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_times),
	    cmocka_unit_test(test_kubeconfig),
	    cmocka_unit_test(test_in_cluster),
	    cmocka_unit_test(test_requests),
	    cmocka_unit_test(test_retry_on_stale_connection),
	    cmocka_unit_test(test_token_file_rotation),
	    cmocka_unit_test(test_token_request),
	    cmocka_unit_test(test_tls_pem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
