/* operator.h — `trove secrets-operator`: the command and its runtime.
 *
 * operator_main (operator.c) parses the flags, sets up logging and
 * signals, and drives the runtime (op_runtime.c) through its life:
 *
 *   op_runtime_new     config discovery, the API client, the reconcilers'
 *                      state, the probe/metrics listeners, the informers
 *   op_runtime_synced  polled until every informer has listed once
 *   op_runtime_begin   leader election (-leader-elect), else the workers
 *   op_runtime_stop    on SIGTERM/SIGINT: no new work, in-flight reconciles
 *                      finished (bounded), the Lease released, informers
 *                      and listeners stopped
 *
 * See docs/operator.md, "Running the operator". */
#ifndef TROVE_OPERATOR_OPERATOR_H
#define TROVE_OPERATOR_OPERATOR_H

#include <stdbool.h>

#include "operator/op.h"

/* VSO's lease name, so that VSO and Trove's operator in one namespace
 * never both write while a cluster moves from one to the other. */
#define OP_DEFAULT_LEASE_NAME "b0d477c0.hashicorp.com"
/* How long op_runtime_stop waits for in-flight reconciles. */
#define OP_SHUTDOWN_GRACE_MS 20000L

struct op_options {
	const char *kubeconfig;   /* -kubeconfig, or NULL: kube_config_load's search */
	const char *namespace;    /* -operator-namespace, or NULL (see op_runtime_new) */
	bool leader_elect;
	const char *lease_name;   /* NULL: OP_DEFAULT_LEASE_NAME */
	int lease_seconds;        /* <= 0: 15; renew deadline 10, retry 2 as client-go */
	const char *metrics_addr; /* "0" or "" disables */
	const char *probe_addr;
	int workers;              /* >= 1 */
	/* Called (on the elector's thread) when leadership is lost while
	 * running; NULL: log it and end the process with exit status 1 at
	 * once, as controller-runtime does (tests set their own). */
	void (*lost)(void);
};

/* Builds and starts everything but the work: finds the API server
 * (kube_config_load(opt->kubeconfig)), picks the operator's namespace
 * (opt->namespace, else $OPERATOR_NAMESPACE as VSO reads it, else the
 * config's namespace — the pod's in a cluster, the context's from a
 * kubeconfig — else "default") and the replica's identity ($OPERATOR_POD_NAME,
 * else the host name, plus "_" and a random UUID), makes the reconcilers'
 * state (op_sync_new), starts the listeners and one informer per custom
 * resource kind and one for the managed Secrets. Events go to the work
 * queue from then on. 0 with *out, or an error with *err (heap). */
int op_runtime_new(const struct op_options *opt, struct op **out, char **err);
/* Whether every informer has completed its first list. */
bool op_runtime_synced(struct op *o);
/* Starts work: with leader election the elector (workers start when this
 * replica leads), else the workers at once. Call once, after synced.
 * 0 or an error with *err. */
int op_runtime_begin(struct op *o, char **err);
/* Whether this replica does the work now (leads, or runs unelected and
 * has begun). */
bool op_runtime_leading(struct op *o);
/* Stops as described above and frees o. Returns true when every
 * in-flight reconcile finished within grace_ms; false when some did not
 * (o is then left allocated, as workers still use it: exit the process). */
bool op_runtime_stop(struct op *o, long grace_ms);

/* `trove secrets-operator [flags]` (argv starts at "secrets-operator"):
 * returns the exit code. */
int operator_main(int argc, char **argv);

#endif
