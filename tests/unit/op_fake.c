/* op_fake.c — see op_fake.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoding.h"
#include "err.h"
#include "op_fake.h"
#include "operator/op_sync.h"

struct fake_kube FK;
struct fake_trove FT;

const struct kube_resource KUBE_SECRETS = {"", "v1", "secrets", true};
const struct kube_resource KUBE_EVENTS = {"", "v1", "events", true};
const struct kube_resource KUBE_LEASES = {"coordination.k8s.io", "v1", "leases", true};
const struct kube_resource KUBE_DEPLOYMENTS = {"apps", "v1", "deployments", true};
const struct kube_resource KUBE_STATEFULSETS = {"apps", "v1", "statefulsets", true};
const struct kube_resource KUBE_DAEMONSETS = {"apps", "v1", "daemonsets", true};
const struct kube_resource KUBE_ARGO_ROLLOUTS = {"argoproj.io", "v1alpha1", "rollouts", true};
const struct kube_resource OP_RESOURCES[OP_NKINDS] = {
	{"secrets.hashicorp.com", "v1beta1", "vaultconnections", true},
	{"secrets.hashicorp.com", "v1beta1", "vaultauths", true},
	{"secrets.hashicorp.com", "v1beta1", "vaultstaticsecrets", true},
	{"secrets.hashicorp.com", "v1beta1", "vaultdynamicsecrets", true},
	{"secrets.hashicorp.com", "v1beta1", "vaultpkisecrets", true},
};
const char *const OP_KIND_NAMES[OP_NKINDS] = {"VaultConnection", "VaultAuth", "VaultStaticSecret",
                                              "VaultDynamicSecret", "VaultPKISecret"};

struct kube_informer {
	const struct kube_resource *res;
};
static struct kube_informer informers[OP_NKINDS];

/* ---- The runtime ---------------------------------------------------------- */

void op_enqueue(struct op *o, enum op_kind kind, const char *ns, const char *name, long delay_ms)
{
	char key[512];

	(void)o;
	(void)delay_ms;
	snprintf(key, sizeof(key), "%s/%s/%s", OP_KIND_NAMES[kind], ns, name);
	json_array_append_new(FK.enqueued, json_string(key));
}

void op_metric_add(struct op *o, const char *name, const char *labels, double v)
{
	(void)o;
	(void)name;
	(void)labels;
	(void)v;
}

/* ---- The API server ----------------------------------------------------------- */

static char *key_of(const struct kube_resource *res, const char *ns, const char *name)
{
	size_t n = strlen(res->plural) + strlen(ns) + strlen(name) + 3;
	char *k = malloc(n);

	snprintf(k, n, "%s/%s/%s", res->plural, ns, name);
	return k;
}

static void log_write(const char *method, const struct kube_resource *res, const char *ns, const char *name,
                      const char *sub)
{
	char line[768];

	snprintf(line, sizeof(line), "%s %s/%s/%s%s%s", method, res->plural, ns, name, sub ? "/" : "",
	         sub ? sub : "");
	json_array_append_new(FK.writes, json_string(line));
}

static void answer(struct kube_resp *r, int status, json_t *body)
{
	r->status = status;
	r->body = body;
	if (status >= 400) {
		char msg[64];

		snprintf(msg, sizeof(msg), "fake API server: status %d", status);
		r->error = strdup(msg);
	}
}

void kube_resp_init(struct kube_resp *r)
{
	memset(r, 0, sizeof(*r));
}

void kube_resp_release(struct kube_resp *r)
{
	json_decref(r->body);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

static void bump(json_t *obj)
{
	char rv[32];

	snprintf(rv, sizeof(rv), "%ld", ++FK.rv);
	json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
}

json_t *fake_put(const struct kube_resource *res, json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	char uid[64], *k;

	if (!json_object_get(meta, "uid")) {
		snprintf(uid, sizeof(uid), "uid-%ld", FK.rv + 1000);
		json_object_set_new(meta, "uid", json_string(uid));
	}
	if (!json_object_get(meta, "generation"))
		json_object_set_new(meta, "generation", json_integer(1));
	bump(obj);
	k = key_of(res, json_string_value(json_object_get(meta, "namespace")),
	           json_string_value(json_object_get(meta, "name")));
	json_object_set_new(FK.objects, k, obj);
	free(k);
	return obj;
}

json_t *fake_get(const struct kube_resource *res, const char *ns, const char *name)
{
	char *k = key_of(res, ns, name);
	json_t *o = json_object_get(FK.objects, k);

	free(k);
	return o;
}

int kube_get(struct kube_client *k, const struct kube_resource *res, const char *ns, const char *name,
             struct kube_resp *r)
{
	json_t *o;

	(void)k;
	if (FK.fail_all) {
		answer(r, FK.fail_all, NULL);
		return 0;
	}
	o = fake_get(res, ns, name);
	answer(r, o ? 200 : 404, o ? json_deep_copy(o) : NULL);
	return 0;
}

int kube_create(struct kube_client *k, const struct kube_resource *res, const char *ns, const json_t *obj,
                struct kube_resp *r)
{
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	json_t *copy;

	(void)k;
	if (FK.fail_all) {
		answer(r, FK.fail_all, NULL);
		return 0;
	}
	log_write("POST", res, ns, name, NULL);
	if (fake_get(res, ns, name)) {
		answer(r, 409, NULL);
		return 0;
	}
	copy = fake_put(res, json_deep_copy(obj));
	answer(r, 201, json_deep_copy(copy));
	return 0;
}

int kube_replace(struct kube_client *k, const struct kube_resource *res, const char *ns, const char *name,
                 const char *sub, const json_t *obj, struct kube_resp *r)
{
	json_t *cur = fake_get(res, ns, name), *next;
	const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	char *key;

	(void)k;
	log_write("PUT", res, ns, name, sub);
	if (cur == NULL) {
		answer(r, 404, NULL);
		return 0;
	}
	if (rv == NULL ||
	    strcmp(rv, json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion"))) != 0) {
		answer(r, 409, NULL);
		return 0;
	}
	next = json_deep_copy(obj);
	json_object_set(json_object_get(next, "metadata"), "uid", json_object_get(json_object_get(cur, "metadata"), "uid"));
	bump(next);
	key = key_of(res, ns, name);
	json_object_set_new(FK.objects, key, next);
	free(key);
	answer(r, 200, json_deep_copy(next));
	return 0;
}

/* RFC 7386 onto target (changed in place). */
static void merge(json_t *target, const json_t *patch)
{
	const char *k;
	json_t *v;

	json_object_foreach ((json_t *)patch, k, v) {
		json_t *cur = json_object_get(target, k);

		if (json_is_null(v))
			json_object_del(target, k);
		else if (json_is_object(v) && json_is_object(cur))
			merge(cur, v);
		else
			json_object_set_new(target, k, json_deep_copy(v));
	}
}

int kube_patch(struct kube_client *k, const struct kube_resource *res, const char *ns, const char *name,
               const char *sub, const char *type, const json_t *patch, struct kube_resp *r)
{
	json_t *cur = fake_get(res, ns, name);
	const char *want = json_string_value(json_object_get(json_object_get(patch, "metadata"), "resourceVersion"));

	(void)k;
	(void)type;
	if (FK.fail_all) {
		answer(r, FK.fail_all, NULL);
		return 0;
	}
	log_write("PATCH", res, ns, name, sub);
	if (cur == NULL) {
		answer(r, 404, NULL);
		return 0;
	}
	if (want && strcmp(want, json_string_value(json_object_get(json_object_get(cur, "metadata"),
	                                                           "resourceVersion"))) != 0) {
		answer(r, 409, NULL);
		return 0;
	}
	if (sub && strcmp(sub, "status") == 0) {
		if (!json_object_get(cur, "status"))
			json_object_set_new(cur, "status", json_object());
		merge(json_object_get(cur, "status"), json_object_get(patch, "status"));
	} else {
		json_t *p = json_deep_copy(patch);

		json_object_del(json_object_get(p, "metadata"), "resourceVersion");
		merge(cur, p);
		json_decref(p);
	}
	bump(cur);
	answer(r, 200, json_deep_copy(cur));
	return 0;
}

int kube_delete(struct kube_client *k, const struct kube_resource *res, const char *ns, const char *name,
                struct kube_resp *r)
{
	char *key = key_of(res, ns, name);
	int found = json_object_get(FK.objects, key) != NULL;

	(void)k;
	log_write("DELETE", res, ns, name, NULL);
	json_object_del(FK.objects, key);
	free(key);
	answer(r, found ? 200 : 404, NULL);
	return 0;
}

int kube_token_request(struct kube_client *k, const char *ns, const char *sa, const char *const *audiences,
                       size_t n, long expiration_seconds, char **token, long *expires_at, char **err)
{
	char t[256];

	(void)k;
	(void)audiences;
	(void)n;
	(void)err;
	snprintf(t, sizeof(t), "jwt-%s-%s", ns, sa);
	*token = strdup(t);
	*expires_at = (long)time(NULL) + expiration_seconds;
	return 0;
}

void kube_time(long unix_seconds, char *into)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(into, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int kube_parse_time(const char *s, long long *unix_micros)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return TROVE_ERR_INVALID;
	*unix_micros = (long long)timegm(&tm) * 1000000;
	return 0;
}

json_t *kube_informer_get(struct kube_informer *inf, const char *ns, const char *name)
{
	json_t *o = fake_get(inf->res, ns, name);

	return o ? json_deep_copy(o) : NULL;
}

int fake_writes(const char *prefix)
{
	size_t i;
	json_t *v;
	int n = 0;

	json_array_foreach (FK.writes, i, v)
		if (strncmp(json_string_value(v), prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

char *fake_secret_value(const char *ns, const char *name, const char *key)
{
	json_t *s = fake_get(&KUBE_SECRETS, ns, name);
	const char *b64 = json_string_value(json_object_get(json_object_get(s, "data"), key));
	unsigned char *out;
	size_t len;

	if (b64 == NULL)
		return NULL;
	out = calloc(1, strlen(b64) + 1);
	if (base64_decode(b64, strlen(b64), out, strlen(b64) + 1, &len) != 0) {
		free(out);
		return NULL;
	}
	return (char *)out;
}

/* ---- Trove ------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int reply(struct api_response *resp, long status, const char *fmt, ...)
{
	va_list ap;

	resp->status = status;
	va_start(ap, fmt);
	buf_vprintf(&resp->body, fmt, ap);
	va_end(ap);
	return 0;
}

static int trove_send(void *ctx, const struct api_wire *w, struct api_response *resp)
{
	const char *path = strstr(w->url, "/v1/");
	char line[512], p[384];
	size_t i;
	json_t *v;

	(void)ctx;
	FT.last_namespace[0] = '\0';
	for (i = 0; i < w->headers->len; i++)
		if (strncmp(w->headers->items[i], "X-Vault-Namespace: ", 19) == 0)
			snprintf(FT.last_namespace, sizeof(FT.last_namespace), "%s", w->headers->items[i] + 19);
	if (FT.down) {
		resp->failure = API_FAIL_CONNECT;
		resp->error = strdup("could not talk to the server: connection refused");
		return TROVE_ERR_UPSTREAM;
	}
	snprintf(p, sizeof(p), "%s", path ? path + 4 : "");
	if (strchr(p, '?'))
		*strchr(p, '?') = '\0';
	snprintf(line, sizeof(line), "%s %s", w->method, p);
	json_array_append_new(FT.requests, json_string(line));
	if (strcmp(p, "auth/kubernetes/login") == 0 || strcmp(p, "auth/approle/login") == 0) {
		if (w->body == NULL || (strstr(w->body, "\"jwt\"") == NULL && strstr(w->body, "secret_id") == NULL))
			return reply(resp, 400, "{\"errors\":[\"missing jwt\"]}");
		FT.logins++;
		return reply(resp, 200, "{\"auth\":{\"client_token\":\"tok-%d\",\"lease_duration\":3600,\"renewable\":true}}",
		             FT.logins);
	}
	if (strcmp(p, "auth/token/renew-self") == 0)
		return reply(resp, 200, "{\"auth\":{\"client_token\":\"tok-%d\",\"lease_duration\":3600,\"renewable\":true}}",
		             FT.logins);
	if ((v = json_object_get(FT.kv, p)) != NULL) {
		char *text = json_dumps(v, JSON_COMPACT);

		reply(resp, 200, "{\"request_id\":\"r\",\"data\":%s}", text);
		free(text);
		return 0;
	}
	if (strncmp(p, "database/creds/", 15) == 0) {
		FT.issued++;
		return reply(resp, 200,
		             "{\"request_id\":\"req-%d\",\"lease_id\":\"%s/L%d\",\"lease_duration\":%ld,\"renewable\":true,"
		             "\"data\":{\"username\":\"u%d\",\"password\":\"p%d\"}}",
		             FT.issued, p, FT.issued, FT.lease_duration, FT.issued, FT.issued);
	}
	if (strcmp(p, "sys/leases/renew") == 0) {
		FT.renewals++;
		if (FT.renew_refused)
			return reply(resp, 400, "{\"errors\":[\"lease not found\"]}");
		return reply(resp, 200, "{\"lease_id\":\"x\",\"lease_duration\":%ld,\"renewable\":true}", FT.lease_duration);
	}
	if (strcmp(p, "sys/leases/revoke") == 0 || strcmp(p, "pki/revoke") == 0)
		return reply(resp, 204, "%s", "");
	if (strncmp(p, "pki/issue/", 10) == 0 || strncmp(p, "pki/issuer/", 11) == 0) {
		FT.issued++;
		return reply(resp, 200,
		             "{\"data\":{\"certificate\":\"CERT%d\",\"private_key\":\"KEY%d\",\"private_key_type\":\"ec\","
		             "\"issuing_ca\":\"CA\",\"ca_chain\":[\"CA\",\"ROOT\"],\"serial_number\":\"aa:%02d\","
		             "\"expiration\":%ld}}",
		             FT.issued, FT.issued, FT.issued, (long)time(NULL) + FT.cert_ttl);
	}
	return reply(resp, 404, "{\"errors\":[]}");
}

const struct api_transport fake_trove_transport = {trove_send, NULL};

int fake_trove_requests(const char *prefix)
{
	size_t i;
	json_t *v;
	int n = 0;

	json_array_foreach (FT.requests, i, v)
		if (strncmp(json_string_value(v), prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

/* ---- Set-up ------------------------------------------------------------------ */

void fake_setup(struct op *o)
{
	int i;

	memset(&FK, 0, sizeof(FK));
	memset(&FT, 0, sizeof(FT));
	FK.objects = json_object();
	FK.writes = json_array();
	FK.enqueued = json_array();
	FT.kv = json_object();
	FT.requests = json_array();
	FT.lease_duration = 300;
	FT.cert_ttl = 3600;
	memset(o, 0, sizeof(*o));
	o->namespace = strdup("trove-system");
	o->identity = strdup("test-replica");
	for (i = 0; i < OP_NKINDS; i++) {
		informers[i].res = &OP_RESOURCES[i];
		o->inf[i] = &informers[i];
	}
	if (op_sync_new(o, &o->sync, NULL) != 0)
		abort();
	o->sync->transport = &fake_trove_transport;
}

void fake_teardown(struct op *o)
{
	op_sync_free(o->sync);
	free(o->namespace);
	free(o->identity);
	json_decref(FK.objects);
	json_decref(FK.writes);
	json_decref(FK.enqueued);
	json_decref(FT.kv);
	json_decref(FT.requests);
}

void fake_default_auth(void)
{
	fake_put(&OP_RESOURCES[OP_VAULT_CONNECTION],
	         json_pack("{s:{s:s, s:s}, s:{s:s}}", "metadata", "name", "default", "namespace", "trove-system",
	                   "spec", "address", "http://trove.test:8200"));
	fake_put(&OP_RESOURCES[OP_VAULT_AUTH],
	         json_pack("{s:{s:s, s:s}, s:{s:s, s:s, s:{s:s, s:s}}}", "metadata", "name", "default", "namespace",
	                   "trove-system", "spec", "method", "kubernetes", "mount", "kubernetes", "kubernetes",
	                   "role", "app", "serviceAccount", "default"));
}
