/* op_sync_status.c — what the reconcilers tell the cluster: the status
 * subresource (merge patches, written only when something changed, so a
 * steady refresh costs the API server nothing), core/v1 Events, and VSO's
 * finalizers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "operator/op_sync.h"

#include "banned.h"

#define EVENT_MESSAGE_MAX 1024
#define COMPONENT "trove-secrets-operator"

/* Merges c into conds (an array, changed in place) by type. */
static void merge_condition(json_t *conds, const struct op_cond *c, json_int_t generation, const char *now)
{
	const char *status = c->ok ? "True" : "False";
	json_t *cur, *next;
	size_t i;

	next = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "type", c->type, "status", status, "reason", c->reason,
	                 "message", c->message, "lastTransitionTime", now, "observedGeneration", generation);
	json_array_foreach (conds, i, cur) {
		const char *t = json_string_value(json_object_get(cur, "type"));
		const char *st = json_string_value(json_object_get(cur, "status"));
		const char *at = json_string_value(json_object_get(cur, "lastTransitionTime"));

		if (t == NULL || strcmp(t, c->type) != 0)
			continue;
		if (st && at && strcmp(st, status) == 0)
			json_object_set_new(next, "lastTransitionTime", json_string(at));
		json_array_set_new(conds, i, next);
		return;
	}
	json_array_append_new(conds, next);
}

/* The status fields VSO's schemas require, as they read before any
 * value is known: a status patch must leave them all present. */
static json_t *required_defaults(enum op_kind kind)
{
	switch (kind) {
	case OP_VAULT_CONNECTION:
		return json_pack("{s:b}", "valid", 0);
	case OP_STATIC_SECRET:
		return json_pack("{s:i}", "lastGeneration", 0);
	case OP_DYNAMIC_SECRET:
		return json_pack("{s:i, s:i, s:{s:s, s:i, s:b, s:s}}", "lastGeneration", 0, "lastRenewalTime", 0,
		                 "secretLease", "id", "", "duration", 0, "renewable", 0, "requestID", "");
	case OP_PKI_SECRET:
		return json_pack("{s:i, s:i, s:b, s:s}", "lastGeneration", 0, "lastRotation", 0, "valid", 0, "error", "");
	default:
		return json_object();
	}
}

int op_status_update(struct op *o, enum op_kind kind, const json_t *obj, json_t *fields, const struct op_cond *c,
                     size_t n, struct op_fail *f)
{
	const json_t *cur = op_json_at(obj, "status");
	json_t *want = json_is_object(cur) ? json_deep_copy(cur) : json_object();
	json_t *conds, *patch;
	json_int_t generation = op_json_int(obj, "metadata.generation", 0);
	char now[32];
	struct kube_resp r;
	size_t i;
	int rc = 0;

	kube_time((long)clock_realtime_s(), now);
	json_object_update(want, fields);
	json_object_update_missing_new(want, required_defaults(kind));
	if (n > 0) {
		conds = json_object_get(want, "conditions");
		conds = json_is_array(conds) ? json_deep_copy(conds) : json_array();
		for (i = 0; i < n; i++)
			merge_condition(conds, &c[i], generation, now);
		json_object_set_new(want, "conditions", conds);
	}
	json_decref(fields);
	if (json_is_object(cur) && json_equal(cur, want)) {
		json_decref(want);
		return 0;
	}
	patch = json_pack("{s:o}", "status", want);
	kube_resp_init(&r);
	if (kube_patch(o->kube, &OP_RESOURCES[kind], op_json_str0(obj, "metadata.namespace"),
	               op_json_str0(obj, "metadata.name"), "status", KUBE_MERGE_PATCH, patch, &r) != 0 ||
	    r.status >= 300) {
		op_fail_set(f, "StatusUpdateError", "could not update the status: %s",
		            r.error ? r.error : "no answer");
		rc = -1;
	}
	kube_resp_release(&r);
	json_decref(patch);
	return rc;
}

void op_event(struct op *o, enum op_kind kind, const json_t *obj, bool warning, const char *reason, const char *fmt,
              ...)
{
	const char *ns = op_json_str0(obj, "metadata.namespace");
	const char *name = op_json_str0(obj, "metadata.name");
	char msg[EVENT_MESSAGE_MAX], evname[320], now[32];
	struct kube_resp r;
	json_t *ev;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kube_time((long)clock_realtime_s(), now);
	(void)snprintf(evname, sizeof(evname), "%.240s.%llx", name, (unsigned long long)clock_realtime_ns());
	ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:{s:s},"
	               " s:s, s:s, s:i, s:s, s:s}",
	               "apiVersion", "v1", "kind", "Event", "metadata", "name", evname, "namespace", ns,
	               "involvedObject", "apiVersion", OP_API_VERSION, "kind", OP_KIND_NAMES[kind], "name", name,
	               "namespace", ns, "uid", op_json_str0(obj, "metadata.uid"), "resourceVersion",
	               op_json_str0(obj, "metadata.resourceVersion"), "reason", reason, "message", msg, "type",
	               warning ? "Warning" : "Normal", "source", "component", COMPONENT, "firstTimestamp", now,
	               "lastTimestamp", now, "count", 1, "reportingComponent", COMPONENT, "reportingInstance",
	               o->identity ? o->identity : "");
	if (ev == NULL)
		return;
	kube_resp_init(&r);
	(void)kube_create(o->kube, &KUBE_EVENTS, ns, ev, &r);
	kube_resp_release(&r);
	json_decref(ev);
}

static const char *const finalizers[OP_NKINDS] = {
	"vaultconnection.secrets.hashicorp.com/finalizer",   "vaultauth.secrets.hashicorp.com/finalizer",
	"vaultstaticsecret.secrets.hashicorp.com/finalizer", "vaultdynamicsecret.secrets.hashicorp.com/finalizer",
	"vaultpkisecrets.secrets.hashicorp.com/finalizer",
};

const char *op_finalizer(enum op_kind kind)
{
	return finalizers[kind];
}

bool op_has_finalizer(const json_t *obj, enum op_kind kind)
{
	const json_t *list = op_json_at(obj, "metadata.finalizers"), *v;
	size_t i;

	json_array_foreach (list, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), finalizers[kind]) == 0)
			return true;
	return false;
}

int op_finalizer_set(struct op *o, enum op_kind kind, const json_t *obj, bool add, struct op_fail *f)
{
	const json_t *list = op_json_at(obj, "metadata.finalizers"), *v;
	json_t *next = json_array(), *patch;
	struct kube_resp r;
	size_t i;
	int rc = 0;

	json_array_foreach (list, i, v)
		if (!json_is_string(v) || strcmp(json_string_value(v), finalizers[kind]) != 0)
			json_array_append(next, (json_t *)v);
	if (add)
		json_array_append_new(next, json_string(finalizers[kind]));
	patch = json_pack("{s:{s:o, s:s}}", "metadata", "finalizers", next, "resourceVersion",
	                  op_json_str0(obj, "metadata.resourceVersion"));
	kube_resp_init(&r);
	if (kube_patch(o->kube, &OP_RESOURCES[kind], op_json_str0(obj, "metadata.namespace"),
	               op_json_str0(obj, "metadata.name"), NULL, KUBE_MERGE_PATCH, patch, &r) != 0 ||
	    (r.status >= 300 && r.status != 404)) {
		op_fail_set(f, "K8sClientError", "could not %s the finalizer: %s", add ? "add" : "remove",
		            r.error ? r.error : "no answer");
		rc = -1;
	}
	kube_resp_release(&r);
	json_decref(patch);
	return rc;
}
