/* op_predicate.h — which informer events of the custom resources start a
 * reconcile, as Vault Secrets Operator's controllers filter them with
 * controller-runtime's predicates:
 *
 *   VaultConnection, VaultAuth: GenerationChangedPredicate — an update
 *     counts only when metadata.generation moved (a spec change);
 *   VaultStaticSecret, VaultDynamicSecret, VaultPKISecret: generation, or
 *     labels, or annotations changed (templates read the last two).
 *
 * Creations and deletions always count. An object newly marked for
 * deletion (metadata.deletionTimestamp appearing) counts too, so a
 * finalizer is removed even where the API server did not move the
 * generation. What never counts: an update of status alone, of
 * finalizers, ownerReferences or managedFields — the operator's own
 * writes, whose events would otherwise reconcile every object once more
 * after every sync.
 *
 * The table keeps, per object, its generation and a hash of its labels
 * and annotations: some tens of bytes an object, nothing of its spec or
 * data. Safe from any thread (the informers call it each from its own). */
#ifndef TROVE_OPERATOR_OP_PREDICATE_H
#define TROVE_OPERATOR_OP_PREDICATE_H

#include <stdbool.h>

#include <jansson.h>

#include "operator/op.h"

struct op_predicate;

/* An empty table (aborts on allocation failure, as xmalloc). */
struct op_predicate *op_predicate_new(void);
/* NULL-safe. */
void op_predicate_free(struct op_predicate *p);

/* What an event means for the object key (any unique string; the runtime
 * uses its queue key) of kind. */
struct op_verdict {
	bool reconcile;          /* queue the object itself */
	bool generation_changed; /* created, deleted or a new generation:
	                          * for a VaultConnection or VaultAuth, every
	                          * secret resource may be affected */
};

/* Records obj (as the informer delivered it with ev) for key and says
 * what the event asks for. A DELETED event forgets key. */
struct op_verdict op_predicate_event(struct op_predicate *p, enum op_kind kind, const char *key,
                                     enum kube_event ev, const json_t *obj);

#endif
