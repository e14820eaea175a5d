/* op_sync_static.c — VaultStaticSecret: a KV secret (kv-v1 or kv-v2,
 * optionally a fixed version) into a Secret, read again every
 * refreshAfter (60 s when hmacSecretData is on and refreshAfter unset, as
 * VSO polls). The Secret is written only when its data differs; with
 * hmacSecretData false it is written on every read, as VSO does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "operator/op_dest.h"
#include "operator/op_sync.h"

#include "banned.h"

#define DEFAULT_REFRESH_MS 60000L

/* Reads the secret; *answer (owned) is the answer's data. */
static int read_kv(struct op *o, struct op_vault *v, const json_t *obj, bool v2, json_t **answer, struct op_fail *f)
{
	const char *mount = op_json_str0(obj, "spec.mount"), *path = op_json_str0(obj, "spec.path");
	json_int_t version = op_json_int(obj, "spec.version", 0);
	char *full = op_vault_path(mount, v2 ? "data" : NULL, path), query[48];
	struct api_response resp;
	int r;

	*answer = NULL;
	(void)snprintf(query, sizeof(query), "version=%lld", (long long)version);
	api_response_init(&resp);
	r = op_vault_send(o, v, "GET", full, v2 && version > 0 ? query : NULL, NULL, &resp);
	if (r != 0)
		op_fail_set(f, "VaultClientError", "Failed to read Vault secret %s: %s", full,
		            resp.error ? resp.error : "failed");
	else if (!json_is_object(json_object_get(resp.json, "data"))) {
		op_fail_set(f, "VaultClientError", "Failed to read Vault secret %s: the answer has no data", full);
		r = TROVE_ERR_UPSTREAM;
	} else
		*answer = json_incref(json_object_get(resp.json, "data"));
	api_response_release(&resp);
	free(full);
	return r;
}

void op_sync_static(struct op *o, const json_t *obj, struct op_outcome *out)
{
	const char *type = op_json_str0(obj, "spec.type");
	bool v2 = strcmp(type, "kv-v2") == 0, hmac = op_json_bool(obj, "spec.hmacSecretData", true);
	json_int_t generation = op_json_int(obj, "metadata.generation", 0);
	struct op_fail f = {0};
	struct op_vault v = {0};
	struct op_transform t;
	struct op_sync_result res;
	json_t *answer = NULL, *data = NULL, *fields;
	const json_t *secrets, *metadata = NULL;
	char *err = NULL;
	long refresh = 0;
	struct op_cond c[2] = {{"SecretSynced", true, "SecretSynced", "Secret synced"},
	                       {"Ready", true, "Ready", "VaultStaticSecretReady"}};

	memset(&t, 0, sizeof(t));
	if (op_json_at(obj, "metadata.deletionTimestamp")) {
		if (op_has_finalizer(obj, OP_STATIC_SECRET) && op_finalizer_set(o, OP_STATIC_SECRET, obj, false, &f) != 0)
			out->failed = true;
		goto out;
	}
	if (!v2 && strcmp(type, "kv-v1") != 0)
		op_fail_set(&f, "VaultStaticSecretError", "spec.type: want kv-v1 or kv-v2");
	else if (*op_json_str0(obj, "spec.mount") == '\0' || *op_json_str0(obj, "spec.path") == '\0')
		op_fail_set(&f, "VaultStaticSecretError", "spec.mount and spec.path are required");
	else if (!op_json_duration_ms(obj, "spec.refreshAfter", &refresh))
		op_fail_set(&f, "VaultStaticSecretError", "spec.refreshAfter: not a duration");
	else if (*op_json_str0(obj, "spec.destination.name") == '\0')
		op_fail_set(&f, "VaultStaticSecretError", "spec.destination.name: required");
	else if (op_transform_parse(op_json_at(obj, "spec.destination"), &t, &err) != 0)
		op_fail_set(&f, "TransformationError", "%s", err);
	if (f.reason) {
		op_sync_report(o, OP_STATIC_SECRET, obj, &f, NULL);
		out->requeue_after_ms = OP_REQUEUE_INVALID_MS;
		goto out;
	}
	if (op_vault_get(o, obj, &v, &f) != 0 || read_kv(o, &v, obj, v2, &answer, &f) != 0) {
		/* The Secret is left as it is: never emptied for want of Trove. */
		op_sync_report(o, OP_STATIC_SECRET, obj, &f, NULL);
		out->failed = true;
		goto out;
	}
	secrets = v2 ? json_object_get(answer, "data") : answer;
	if (v2)
		metadata = json_object_get(answer, "metadata");
	if (op_dest_data(json_is_object(secrets) ? secrets : NULL, answer, metadata, obj, &t, &data, &err) != 0) {
		op_fail_set(&f, "SecretDataBuilderError", "Failed to build K8s secret data: %s", err);
		op_sync_report(o, OP_STATIC_SECRET, obj, &f, NULL);
		out->requeue_after_ms = OP_REQUEUE_INVALID_MS;
		goto out;
	}
	if (op_sync_data(o, OP_STATIC_SECRET, obj, data, NULL, !hmac, &res, &f) != 0) {
		op_sync_report(o, OP_STATIC_SECRET, obj, &f, NULL);
		out->failed = true;
		goto out;
	}
	if (res.written)
		op_event(o, OP_STATIC_SECRET, obj, false, res.restarted ? "SecretRotated" : "SecretSynced",
		         "Secret synced");
	fields = json_pack("{s:I}", "lastGeneration", generation);
	if (hmac)
		json_object_set_new(fields, "secretMAC", json_string(res.mac));
	if (op_status_update(o, OP_STATIC_SECRET, obj, fields, c, 2, &f) != 0)
		op_event(o, OP_STATIC_SECRET, obj, true, f.reason, "%s", f.msg);
	out->requeue_after_ms = op_spread_ms(refresh > 0 ? refresh : hmac ? DEFAULT_REFRESH_MS : 0,
	                                     op_json_str0(obj, "metadata.uid"));
out:
	if (v.api || v.pool_key)
		op_vault_put(o, &v);
	api_json_free_secret(answer);
	api_json_free_secret(data);
	op_transform_release(&t);
	op_fail_release(&f);
	free(err);
}
