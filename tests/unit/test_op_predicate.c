/* test_op_predicate.c — which informer events start a reconcile
 * (src/operator/op_predicate.c), as VSO's controllers filter them:
 * creations and deletions always; for VaultConnection and VaultAuth a new
 * generation only; for the secret resources a new generation, labels or
 * annotations; for all an object newly marked for deletion; never an
 * update of status, finalizers or ownerReferences alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "operator/op_predicate.h"

#include "banned.h"

/* An object of generation gen with labels and annotations given as JSON
 * text (NULL: none), and whatever else extra (JSON text of more metadata
 * members, or NULL). */
static json_t *obj(long gen, const char *labels, const char *annotations, const char *extra)
{
	json_t *o = json_pack("{s:{s:s, s:s, s:I}, s:{s:s}}", "metadata", "namespace", "app", "name", "web",
	                      "generation", (json_int_t)gen, "spec", "path", "web");
	json_t *md = json_object_get(o, "metadata");

	if (labels)
		json_object_set_new(md, "labels", json_loads(labels, 0, NULL));
	if (annotations)
		json_object_set_new(md, "annotations", json_loads(annotations, 0, NULL));
	if (extra) {
		json_t *more = json_loads(extra, 0, NULL);

		assert_non_null(more);
		json_object_update(md, more);
		json_decref(more);
	}
	return o;
}

/* The verdict for ev on o (taken). */
static struct op_verdict ev(struct op_predicate *p, enum op_kind kind, enum kube_event e, json_t *o)
{
	struct op_verdict v = op_predicate_event(p, kind, "k", e, o);

	json_decref(o);
	return v;
}

static bool reconciles(struct op_predicate *p, enum op_kind kind, enum kube_event e, json_t *o)
{
	return ev(p, kind, e, o).reconcile;
}

static void test_secret_resources(void **state)
{
	struct op_predicate *p = op_predicate_new();
	enum op_kind kinds[] = {OP_STATIC_SECRET, OP_DYNAMIC_SECRET, OP_PKI_SECRET};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		enum op_kind k = kinds[i];

		assert_true(reconciles(p, k, KUBE_ADDED, obj(1, "{\"a\":\"1\"}", NULL, NULL)));
		/* The operator's own writes: status, a finalizer. */
		assert_false(reconciles(p, k, KUBE_MODIFIED,
		                        obj(1, "{\"a\":\"1\"}", NULL, "{\"resourceVersion\":\"9\"}")));
		assert_false(reconciles(p, k, KUBE_MODIFIED,
		                        obj(1, "{\"a\":\"1\"}", NULL, "{\"finalizers\":[\"x/finalizer\"]}")));
		assert_false(reconciles(
		    p, k, KUBE_MODIFIED,
		    obj(1, "{\"a\":\"1\"}", NULL, "{\"ownerReferences\":[],\"managedFields\":[]}")));
		/* Labels and annotations (templates read them), in any order. */
		assert_true(reconciles(p, k, KUBE_MODIFIED, obj(1, "{\"a\":\"1\",\"b\":\"2\"}", NULL, NULL)));
		assert_false(
		    reconciles(p, k, KUBE_MODIFIED, obj(1, "{\"b\":\"2\",\"a\":\"1\"}", NULL, NULL)));
		assert_true(reconciles(p, k, KUBE_MODIFIED,
		                       obj(1, "{\"b\":\"2\",\"a\":\"1\"}", "{\"n\":\"x\"}", NULL)));
		assert_true(reconciles(p, k, KUBE_MODIFIED,
		                       obj(1, "{\"b\":\"2\",\"a\":\"1\"}", "{\"n\":\"y\"}", NULL)));
		assert_true(reconciles(p, k, KUBE_MODIFIED, obj(1, "{\"b\":\"2\",\"a\":\"1\"}", NULL, NULL)));
		/* Labels moved to annotations is a change too. */
		assert_true(reconciles(p, k, KUBE_MODIFIED, obj(1, NULL, "{\"b\":\"2\",\"a\":\"1\"}", NULL)));
		/* The spec (generation). */
		assert_true(reconciles(p, k, KUBE_MODIFIED, obj(2, NULL, "{\"b\":\"2\",\"a\":\"1\"}", NULL)));
		assert_false(
		    reconciles(p, k, KUBE_MODIFIED, obj(2, NULL, "{\"b\":\"2\",\"a\":\"1\"}", NULL)));
		/* Marked for deletion with the generation unmoved: once. */
		assert_true(
		    reconciles(p, k, KUBE_MODIFIED,
		               obj(2, NULL, "{\"b\":\"2\",\"a\":\"1\"}", "{\"deletionTimestamp\":\"t\"}")));
		assert_false(
		    reconciles(p, k, KUBE_MODIFIED,
		               obj(2, NULL, "{\"b\":\"2\",\"a\":\"1\"}", "{\"deletionTimestamp\":\"t\"}")));
		assert_true(reconciles(p, k, KUBE_DELETED, obj(2, NULL, NULL, NULL)));
		/* Forgotten: the same key again is a creation. */
		assert_true(reconciles(p, k, KUBE_MODIFIED, obj(2, NULL, NULL, NULL)));
		assert_true(reconciles(p, k, KUBE_DELETED, obj(2, NULL, NULL, NULL)));
	}
	op_predicate_free(p);
}

static void test_connections_and_auths(void **state)
{
	struct op_predicate *p = op_predicate_new();
	enum op_kind kinds[] = {OP_VAULT_CONNECTION, OP_VAULT_AUTH};
	struct op_verdict v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		enum op_kind k = kinds[i];

		v = ev(p, k, KUBE_ADDED, obj(1, NULL, NULL, NULL));
		assert_true(v.reconcile && v.generation_changed);
		/* Status, labels, annotations: nothing (GenerationChangedPredicate). */
		v = ev(p, k, KUBE_MODIFIED,
		       obj(1, "{\"a\":\"1\"}", "{\"n\":\"x\"}", "{\"resourceVersion\":\"3\"}"));
		assert_false(v.reconcile || v.generation_changed);
		/* A spec change: it and everything that may use it. */
		v = ev(p, k, KUBE_MODIFIED, obj(2, "{\"a\":\"1\"}", "{\"n\":\"x\"}", NULL));
		assert_true(v.reconcile && v.generation_changed);
		/* Marked for deletion: it (its finalizer), not the fan-out. */
		v = ev(p, k, KUBE_MODIFIED, obj(2, NULL, NULL, "{\"deletionTimestamp\":\"t\"}"));
		assert_true(v.reconcile);
		assert_false(v.generation_changed);
		v = ev(p, k, KUBE_DELETED, obj(2, NULL, NULL, NULL));
		assert_true(v.reconcile && v.generation_changed);
	}
	op_predicate_free(p);
}

static void test_keys_apart_and_many(void **state)
{
	struct op_predicate *p = op_predicate_new();
	char key[64];
	json_t *o = obj(1, NULL, NULL, NULL);
	int i;

	(void)state;
	/* 5,000 objects: each created once, none changed by a status write. */
	for (i = 0; i < 5000; i++) {
		(void)snprintf(key, sizeof(key), "2/ns%d/s%d", i % 50, i);
		assert_true(op_predicate_event(p, OP_STATIC_SECRET, key, KUBE_ADDED, o).reconcile);
	}
	for (i = 0; i < 5000; i++) {
		(void)snprintf(key, sizeof(key), "2/ns%d/s%d", i % 50, i);
		assert_false(op_predicate_event(p, OP_STATIC_SECRET, key, KUBE_MODIFIED, o).reconcile);
	}
	/* A re-list's ADDED of a known object still counts, as a creation. */
	assert_true(op_predicate_event(p, OP_STATIC_SECRET, "2/ns0/s0", KUBE_ADDED, o).reconcile);
	/* A deletion of an unknown key is harmless and counts. */
	assert_true(op_predicate_event(p, OP_STATIC_SECRET, "2/nope/x", KUBE_DELETED, o).reconcile);
	json_decref(o);
	op_predicate_free(p);
	op_predicate_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_secret_resources),
	    cmocka_unit_test(test_connections_and_auths),
	    cmocka_unit_test(test_keys_apart_and_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
