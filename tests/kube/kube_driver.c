/* kube_driver.c — drives the operator's Kubernetes client (src/operator/
 * kube.h) from the command line, for tests/integration/test_kube_client.py:
 *
 *   kube_driver KUBECONFIG request METHOD PATH [JSON]
 *       one request; prints {"status": N, "body": ..., "error": ...}
 *   kube_driver KUBECONFIG token NS SA AUDIENCE
 *       a TokenRequest; prints {"token": ..., "expires_at": N}
 *   kube_driver KUBECONFIG watch|watch-meta GROUP VERSION PLURAL NS|-
 *       an informer (watch-meta: KUBE_INFORMER_KEEP_METADATA); prints {"synced": true} once, then one line per
 *       event {"event": "ADDED", "ns", "name", "rv", "managed": bool}
 *       (managed: the object had metadata.managedFields); stops when
 *       stdin closes, printing {"cached_managed": N} (cached objects
 *       still holding managedFields) and {"cached": N}
 *   kube_driver KUBECONFIG elect NS NAME IDENTITY
 *       a leader elector (lease 3 s, renew deadline 2 s, retry 1 s);
 *       prints {"leading": true|false} as that changes; stops (releasing)
 *       when stdin closes, printing {"stopped": true}
 * Output is one JSON object per line, flushed at once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "operator/kube.h"

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void emit(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	pthread_mutex_lock(&out_mu);
	printf("%s\n", s);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
	free(s);
	json_decref(o);
}

static void wait_stdin_closed(void)
{
	char b[256];

	while (read(0, b, sizeof(b)) > 0)
		;
}

static void on_event(void *ctx, enum kube_event ev, const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	(void)ctx;

	emit(json_pack("{s:s, s:s?, s:s?, s:s?, s:b}", "event",
	               ev == KUBE_ADDED ? "ADDED" : ev == KUBE_MODIFIED ? "MODIFIED" : "DELETED", "ns",
	               json_string_value(json_object_get(md, "namespace")), "name",
	               json_string_value(json_object_get(md, "name")), "rv",
	               json_string_value(json_object_get(md, "resourceVersion")), "managed",
	               json_object_get(md, "managedFields") != NULL));
}

static void on_started(void *ctx)
{
	(void)ctx;
	emit(json_pack("{s:b}", "leading", 1));
}

static void on_stopped(void *ctx)
{
	(void)ctx;
	emit(json_pack("{s:b}", "leading", 0));
}

static int watch(struct kube_client *k, char **argv, unsigned flags)
{
	struct kube_resource res = {argv[0], argv[1], argv[2], strcmp(argv[3], "-") != 0};
	struct kube_informer *inf = NULL;
	json_t *all, *obj;
	char *err = NULL;
	size_t j, managed = 0;
	int i;

	if (kube_informer_start(k, &res, res.namespaced ? argv[3] : NULL, NULL, flags, on_event, NULL, &inf, &err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (i = 0; i < 3000 && !kube_informer_synced(inf); i++)
		usleep(10 * 1000);
	emit(json_pack("{s:b}", "synced", kube_informer_synced(inf)));
	wait_stdin_closed();
	all = kube_informer_list(inf);
	json_array_foreach(all, j, obj)
		managed += json_object_get(json_object_get(obj, "metadata"), "managedFields") != NULL;
	emit(json_pack("{s:I}", "cached_managed", (json_int_t)managed));
	emit(json_pack("{s:I}", "cached", (json_int_t)json_array_size(all)));
	json_decref(all);
	kube_informer_stop(inf);
	return 0;
}

static int elect(struct kube_client *k, char **argv)
{
	struct kube_leader_opts o = {.ns = argv[0],
	                             .name = argv[1],
	                             .identity = argv[2],
	                             .lease_seconds = 3,
	                             .renew_deadline_seconds = 2,
	                             .retry_seconds = 1,
	                             .on_started = on_started,
	                             .on_stopped = on_stopped};
	struct kube_leader *l = NULL;
	char *err = NULL;

	if (kube_leader_start(k, &o, &l, &err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	wait_stdin_closed();
	kube_leader_stop(l);
	emit(json_pack("{s:b}", "stopped", 1));
	return 0;
}

int main(int argc, char **argv)
{
	struct kube_config cfg;
	struct kube_client *k = NULL;
	struct kube_resp r;
	json_t *body = NULL;
	char *err = NULL, *token = NULL;
	long exp = 0;
	int rc = 2;

	if (argc < 3) {
		fprintf(stderr, "usage: kube_driver KUBECONFIG request|token|watch|elect ...\n");
		return 2;
	}
	if (kube_config_from_file(argv[1], NULL, &cfg, &err) != 0 || kube_client_new(&cfg, &k, &err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	kube_resp_init(&r);
	if (!strcmp(argv[2], "request") && argc >= 5) {
		body = argc > 5 ? json_loads(argv[5], 0, NULL) : NULL;
		rc = kube_request(k, argv[3], argv[4], body, NULL, &r) != 0;
		emit(json_pack("{s:i, s:O?, s:s?}", "status", r.status, "body", r.body, "error", r.error));
	} else if (!strcmp(argv[2], "token") && argc == 6) {
		const char *aud[] = {argv[5]};
		rc = kube_token_request(k, argv[3], argv[4], aud, 1, 3600, &token, &exp, &err) != 0;
		emit(json_pack("{s:s?, s:I, s:s?}", "token", token, "expires_at", (json_int_t)exp, "error", err));
	} else if (!strncmp(argv[2], "watch", 5) && argc == 7) {
		rc = watch(k, argv + 3, strcmp(argv[2], "watch-meta") == 0 ? KUBE_INFORMER_KEEP_METADATA : 0);
	} else if (!strcmp(argv[2], "elect") && argc == 6) {
		rc = elect(k, argv + 3);
	} else {
		fprintf(stderr, "kube_driver: unknown command\n");
	}
	json_decref(body);
	free(token);
	free(err);
	kube_resp_release(&r);
	kube_client_free(k);
	kube_config_release(&cfg);
	return rc;
}
