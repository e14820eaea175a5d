/* op.h — `trove secrets-operator`: the running operator and the seam
 * between its runtime and its reconcilers.
 *
 * The runtime (operator.c, op_queue.c, op_http.c) parses the flags, finds
 * the API server (kube.h), elects a leader, runs one informer per custom
 * resource kind and one for the Secrets the operator manages, turns their
 * events into keys on a rate-limited work queue, and runs a few worker
 * threads that call op_reconcile for each key, only while this replica
 * leads. It serves /healthz, /readyz and Prometheus /metrics.
 *
 * The reconcilers (op_sync*.c, op_vault*.c, op_dest*.c, op_restart.c) make
 * the world match one resource: log in to Trove as its VaultAuth says,
 * read, issue or renew what it names, write the destination Secret, patch
 * rollout-restart targets, and record status and events.
 *
 * The custom resources are Vault Secrets Operator's, group
 * secrets.hashicorp.com, version v1beta1; their manifests are under
 * deploy/helm/trove/crds/. */
#ifndef TROVE_OPERATOR_OP_H
#define TROVE_OPERATOR_OP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "operator/kube.h"

enum op_kind {
	OP_VAULT_CONNECTION,
	OP_VAULT_AUTH,
	OP_STATIC_SECRET,
	OP_DYNAMIC_SECRET,
	OP_PKI_SECRET,
	OP_NKINDS
};

/* secrets.hashicorp.com/v1beta1 vaultconnections, vaultauths,
 * vaultstaticsecrets, vaultdynamicsecrets, vaultpkisecrets; indexed by
 * enum op_kind. */
extern const struct kube_resource OP_RESOURCES[OP_NKINDS];
/* "VaultConnection", ...: the kind as objects spell it. */
extern const char *const OP_KIND_NAMES[OP_NKINDS];

/* The labels on every Secret the operator writes, as VSO writes them;
 * the runtime's Secret informer selects on OP_SECRET_SELECTOR. */
#define OP_SECRET_SELECTOR "app.kubernetes.io/managed-by=hashicorp-vso"

struct op_sync; /* the reconcilers' state (Vault clients, tokens, leases) */

/* The running operator. Made and owned by the runtime; the reconcilers
 * read it. */
struct op {
	struct kube_client *kube;
	struct kube_informer *inf[OP_NKINDS]; /* caches of the custom resources */
	struct kube_informer *secrets;        /* managed Secrets (metadata only) */
	char *namespace; /* the operator's own namespace: where the "default"
	                  * VaultConnection and VaultAuth are looked up */
	char *identity;  /* this replica, for events' reportingInstance */
	struct op_sync *sync;
	struct op_runtime *rt; /* the runtime's own (queue, metrics, leader) */
};

/* ---- Provided by the runtime to the reconcilers ---------------------- */

/* Puts (kind, ns, name) on the work queue after delay_ms (0: now). A key
 * already queued keeps its earlier time. Safe from any thread. */
void op_enqueue(struct op *o, enum op_kind kind, const char *ns, const char *name, long delay_ms);

/* Adds v to the counter name (one of the names op_http.c's table lists,
 * e.g. "trove_operator_vault_requests_total"); labels NULL or a Prometheus
 * label set without braces ("kind=\"VaultStaticSecret\""). Safe from any
 * thread; an unknown name is a programming error (asserted in debug). */
void op_metric_add(struct op *o, const char *name, const char *labels, double v);

/* ---- Provided by the reconcilers to the runtime ---------------------- */

/* Makes the reconcilers' state for o. 0, or an error with *err. */
int op_sync_new(struct op *o, struct op_sync **out, char **err);
/* Revokes nothing: only frees (tokens wiped). NULL-safe. */
void op_sync_free(struct op_sync *s);

/* What a reconcile asks of the queue next. */
struct op_outcome {
	long requeue_after_ms; /* > 0: reconcile this key again after that long
	                        * (refreshAfter, renewal, re-issue time) */
	bool failed;           /* true: it failed; the queue retries with
	                        * per-key exponential backoff (then the
	                        * requeue time is ignored) */
};

/* Makes the world match (kind, ns, name) as the informer's cache holds it
 * now: absent from the cache means deleted (forget what is kept in memory
 * for it). An object with metadata.deletionTimestamp is finalised (revoke
 * when spec.revoke, then the operator's finalizer removed). Called on a
 * worker thread, only while this replica leads, never concurrently for
 * one key. Blocking calls (Trove, the API server) are fine here. */
void op_reconcile(struct op *o, enum op_kind kind, const char *ns, const char *name, struct op_outcome *out);

/* A managed Secret changed or vanished (from the Secret informer, on its
 * thread: must not block). Enqueues the owning resource when the change
 * may be drift (its data no longer what the operator wrote). */
void op_secret_event(struct op *o, enum kube_event ev, const json_t *secret);

#endif
