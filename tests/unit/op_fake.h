/* op_fake.h — the other side of the operator's reconcilers, in memory,
 * for their unit tests: an API server (objects by resource, namespace and
 * name, with resourceVersions, 409s and merge patches, and a log of the
 * writes), the informers' caches read from it, the runtime's op_enqueue
 * and op_metric_add, and a Trove behind a fake transport answering the
 * logins, KV reads, leases and certificates the tests script. */
#ifndef TROVE_TEST_OP_FAKE_H
#define TROVE_TEST_OP_FAKE_H

#include <stdbool.h>

#include <jansson.h>

#include "api/transport.h"
#include "operator/op.h"

struct fake_kube {
	json_t *objects;  /* "plural/ns/name" -> object */
	json_t *writes;   /* ["METHOD plural/ns/name[/sub]", ...] */
	json_t *enqueued; /* ["kind/ns/name", ...] */
	long rv;
	int fail_all;     /* answer every request with this status (0: no) */
};

struct fake_trove {
	bool down;        /* no connection */
	json_t *kv;       /* path ("secret/data/app") -> the answer's data */
	json_t *requests; /* ["METHOD path", ...] */
	int logins, renewals, issued;
	long lease_duration;  /* database/creds answers */
	bool renew_refused;
	long cert_ttl;        /* pki issue: expiration = now + cert_ttl */
	char last_namespace[128]; /* X-Vault-Namespace of the last request */
};

extern struct fake_kube FK;
extern struct fake_trove FT;
extern const struct api_transport fake_trove_transport;

/* Resets both fakes and makes an operator o (namespace "trove-system")
 * with informers reading FK and Trove behind FT. */
void fake_setup(struct op *o);
void fake_teardown(struct op *o);

/* Puts obj (stolen) into the store as the API server would (uid,
 * generation 1, resourceVersion). Returns it (borrowed). */
json_t *fake_put(const struct kube_resource *res, json_t *obj);
/* The stored object (borrowed) or NULL. */
json_t *fake_get(const struct kube_resource *res, const char *ns, const char *name);
/* How many writes match prefix ("PUT secrets/", "PATCH deployments/"). */
int fake_writes(const char *prefix);
/* How many requests Trove got that start with prefix. */
int fake_trove_requests(const char *prefix);
/* Makes the usual VaultConnection "default" and VaultAuth "default" in
 * trove-system (kubernetes method, role app, service account default). */
void fake_default_auth(void);
/* A Secret's data value (decoded), heap, or NULL. */
char *fake_secret_value(const char *ns, const char *name, const char *key);

#endif
