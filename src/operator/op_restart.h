/* op_restart.h — rollout restarts of the workloads a resource lists in
 * spec.rolloutRestartTargets, as Vault Secrets Operator does them: the
 * pod template's annotation vso.secrets.hashicorp.com/restartedAt set to
 * the time (a strategic-merge patch) for a Deployment, StatefulSet or
 * DaemonSet; spec.restartAt for an Argo Rollout (a merge patch). One
 * patch per target per change of the destination's data. */
#ifndef TROVE_OPERATOR_OP_RESTART_H
#define TROVE_OPERATOR_OP_RESTART_H

#include <stdbool.h>

#include <jansson.h>

#include "operator/op.h"

#define OP_RESTARTED_AT "vso.secrets.hashicorp.com/restartedAt"

/* Whether a sync whose data MAC is new_mac, after one that recorded
 * prev_mac (status.secretMAC; "" or NULL: never synced), restarts the
 * targets: only when the data changed, never on the first sync (nothing
 * ran with older data) and never when it is the same. */
bool op_restart_needed(const char *prev_mac, const char *new_mac);

/* The patch for a target of kind (Deployment, StatefulSet, DaemonSet,
 * argo.Rollout) at time now_text (RFC 3339): a new object, with *res the
 * resource and *type the patch content type. NULL for an unknown kind. */
json_t *op_restart_patch(const char *kind, const char *now_text, const struct kube_resource **res,
                         const char **type);

/* Patches every target of obj (in obj's namespace). Returns the number of
 * targets that failed; each failure is an event on obj
 * (RolloutRestartFailed, RolloutRestartUnsupported), each success one
 * RolloutRestartTriggered. */
int op_restart_targets(struct op *o, enum op_kind kind, const json_t *obj);

#endif
