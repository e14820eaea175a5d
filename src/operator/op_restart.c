/* op_restart.c — rollout restarts (op_restart.h). The decision is pure;
 * the patches go through the Kubernetes client. */
#include <string.h>
#include <time.h>

#include "operator/op_restart.h"
#include "operator/op_sync.h"

#include "banned.h"

bool op_restart_needed(const char *prev_mac, const char *new_mac)
{
	if (prev_mac == NULL || *prev_mac == '\0' || new_mac == NULL || *new_mac == '\0')
		return false;
	return strcmp(prev_mac, new_mac) != 0;
}

json_t *op_restart_patch(const char *kind, const char *now_text, const struct kube_resource **res,
                         const char **type)
{
	if (strcmp(kind, "argo.Rollout") == 0) {
		*res = &KUBE_ARGO_ROLLOUTS;
		*type = KUBE_MERGE_PATCH;
		return json_pack("{s:{s:s}}", "spec", "restartAt", now_text);
	}
	if (strcmp(kind, "Deployment") == 0)
		*res = &KUBE_DEPLOYMENTS;
	else if (strcmp(kind, "StatefulSet") == 0)
		*res = &KUBE_STATEFULSETS;
	else if (strcmp(kind, "DaemonSet") == 0)
		*res = &KUBE_DAEMONSETS;
	else
		return NULL;
	*type = KUBE_STRATEGIC_PATCH;
	return json_pack("{s:{s:{s:{s:{s:s}}}}}", "spec", "template", "metadata", "annotations", OP_RESTARTED_AT,
	                 now_text);
}

int op_restart_targets(struct op *o, enum op_kind kind, const json_t *obj)
{
	const json_t *targets = op_json_at(obj, "spec.rolloutRestartTargets");
	const char *ns = op_json_str0(obj, "metadata.namespace");
	char now[32];
	const json_t *t;
	size_t i;
	int failed = 0;

	kube_time((long)time(NULL), now);
	json_array_foreach (targets, i, t) {
		const char *tk = op_json_str0(t, "kind"), *name = op_json_str0(t, "name");
		const struct kube_resource *res = NULL;
		const char *type = NULL;
		json_t *patch = op_restart_patch(tk, now, &res, &type);
		struct kube_resp r;

		if (patch == NULL || *name == '\0') {
			op_event(o, kind, obj, true, "RolloutRestartUnsupported",
			         "Rollout restart of %s %s is not supported", tk, name);
			failed++;
			continue;
		}
		kube_resp_init(&r);
		if (kube_patch(o->kube, res, ns, name, NULL, type, patch, &r) != 0 || r.status >= 300) {
			op_event(o, kind, obj, true, "RolloutRestartFailed", "Rollout restart of %s %s failed: %s", tk,
			         name, r.error ? r.error : "no answer");
			failed++;
		} else {
			op_event(o, kind, obj, false, "RolloutRestartTriggered", "Rollout restart triggered for %s %s",
			         tk, name);
			op_metric_add(o, "trove_operator_rollout_restarts_total", NULL, 1);
		}
		kube_resp_release(&r);
		json_decref(patch);
	}
	return failed;
}
