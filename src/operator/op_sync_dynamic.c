/* op_sync_dynamic.c — VaultDynamicSecret: credentials from any path that
 * issues them (database/creds/<role>, ...), kept fresh.
 *
 * A renewable lease is renewed (sys/leases/renew, increment its duration)
 * at renewalPercent of its duration; when renewal is refused or comes back
 * shorter than asked (the lease reached its max TTL) new credentials are
 * requested and the Secret rewritten. A lease that cannot be renewed is
 * replaced at renewalPercent of its duration. With allowStaticCreds
 * (database/static-creds/<role>) the credentials are read again when the
 * answer's ttl says Trove rotated them; their MAC leaves the rotation
 * fields out so an unchanged password is not rewritten. On deletion with
 * revoke: true the lease is revoked (the finalizer holds deletion until
 * then). */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "operator/op_dest.h"
#include "operator/op_sync.h"

#include "banned.h"

static const char *const static_meta_keys[] = {"ttl", "rotation_schedule", "rotation_period",
                                               "last_vault_rotation", OP_RAW_KEY};

static void finalize(struct op *o, const json_t *obj, struct op_outcome *out)
{
	const char *lease = op_json_str0(obj, "status.secretLease.id");
	struct op_fail f = {0};
	struct op_vault v = {0};
	struct api_response resp;
	json_t *body;

	if (!op_has_finalizer(obj, OP_DYNAMIC_SECRET))
		return;
	if (op_json_bool(obj, "spec.revoke", false) && *lease) {
		if (op_vault_get(o, obj, &v, &f) != 0) {
			op_sync_report(o, OP_DYNAMIC_SECRET, obj, &f, NULL);
			out->failed = true;
			goto out;
		}
		body = json_pack("{s:s}", "lease_id", lease);
		api_response_init(&resp);
		if (op_vault_send(o, &v, "PUT", "sys/leases/revoke", NULL, body, &resp) != 0 && resp.status != 400)
			op_fail_set(&f, "SecretLeaseRevoke", "Failed to revoke lease %s: %s", lease,
			            resp.error ? resp.error : "failed");
		else
			op_event(o, OP_DYNAMIC_SECRET, obj, false, "SecretLeaseRevoke", "Revoked lease %s", lease);
		api_response_release(&resp);
		json_decref(body);
		op_vault_put(o, &v);
		if (f.reason) {
			op_sync_report(o, OP_DYNAMIC_SECRET, obj, &f, NULL);
			out->failed = true;
			goto out;
		}
	}
	if (op_finalizer_set(o, OP_DYNAMIC_SECRET, obj, false, &f) != 0)
		out->failed = true;
out:
	op_fail_release(&f);
}

/* Renews the lease in status; true with *duration when renewed in full. */
static bool renew(struct op *o, struct op_vault *v, const json_t *obj, long *duration, struct op_fail *f)
{
	const char *lease = op_json_str0(obj, "status.secretLease.id");
	long want = (long)op_json_int(obj, "status.secretLease.duration", 0);
	struct api_response resp;
	json_t *body = json_pack("{s:s, s:I}", "lease_id", lease, "increment", (json_int_t)want);
	bool ok;

	api_response_init(&resp);
	ok = op_vault_send(o, v, "PUT", "sys/leases/renew", NULL, body, &resp) == 0;
	*duration = (long)op_json_int(resp.json, "lease_duration", 0);
	if (!ok)
		op_fail_set(f, "SecretLeaseRenewalError", "Could not renew lease %s: %s", lease,
		            resp.error ? resp.error : "failed");
	else if (*duration < want) {
		op_event(o, OP_DYNAMIC_SECRET, obj, false, "SecretLeaseRenewal",
		         "Lease renewal duration was truncated from %lds to %lds, requesting new credentials", want,
		         *duration);
		ok = false;
	}
	api_response_release(&resp);
	json_decref(body);
	return ok;
}

/* Requests credentials; *answer the whole answer (owned). */
static int request(struct op *o, struct op_vault *v, const json_t *obj, json_t **answer, struct op_fail *f)
{
	const char *method = op_json_str0(obj, "spec.requestHTTPMethod");
	const json_t *params = op_json_at(obj, "spec.params");
	char *path = op_vault_path(op_json_str0(obj, "spec.mount"), NULL, op_json_str0(obj, "spec.path"));
	struct api_response resp;
	int r;

	*answer = NULL;
	/* As VSO: params make it a write (PUT) whatever the method says. */
	if (json_object_size(params) > 0 || strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0)
		method = "PUT";
	else
		method = "GET";
	api_response_init(&resp);
	r = op_vault_send(o, v, method, path, NULL, json_object_size(params) > 0 ? params : NULL, &resp);
	if (r != 0 || !json_is_object(json_object_get(resp.json, "data"))) {
		op_fail_set(f, "VaultClientError", "Failed to get credentials from %s: %s", path,
		            r != 0 && resp.error ? resp.error : "the answer has no data");
		r = r ? r : TROVE_ERR_UPSTREAM;
	} else
		*answer = json_incref(resp.json);
	api_response_release(&resp);
	free(path);
	return r;
}

void op_sync_dynamic(struct op *o, const json_t *obj, struct op_outcome *out)
{
	json_int_t generation = op_json_int(obj, "metadata.generation", 0);
	json_int_t last_gen = op_json_int(obj, "status.lastGeneration", 0);
	const char *lease = op_json_str0(obj, "status.secretLease.id");
	long duration = (long)op_json_int(obj, "status.secretLease.duration", 0);
	bool renewable = op_json_bool(obj, "status.secretLease.renewable", false);
	long last = (long)op_json_int(obj, "status.lastRenewalTime", 0);
	long pct = (long)op_json_int(obj, "spec.renewalPercent", 67);
	bool allow_static = op_json_bool(obj, "spec.allowStaticCreds", false);
	long static_ttl = (long)op_json_int(obj, "status.staticCredsMetaData.ttl", 0);
	long now = (long)clock_realtime_s(), due_ms, refresh = 0;
	struct op_fail f = {0};
	struct op_vault v = {0};
	struct op_transform t;
	struct op_sync_result res;
	json_t *answer = NULL, *data = NULL, *mac_data = NULL, *fields;
	const json_t *adata;
	char *err = NULL;
	bool is_static;
	size_t i;
	struct op_cond c[2] = {{"SecretSynced", true, "SecretSynced", "Secret synced"},
	                       {"Ready", true, "Ready", "VaultDynamicSecretReady"}};

	memset(&t, 0, sizeof(t));
	if (op_json_at(obj, "metadata.deletionTimestamp")) {
		finalize(o, obj, out);
		goto out;
	}
	if (*op_json_str0(obj, "spec.mount") == '\0' || *op_json_str0(obj, "spec.path") == '\0')
		op_fail_set(&f, "VaultClientConfigError", "spec.mount and spec.path are required");
	else if (*op_json_str0(obj, "spec.destination.name") == '\0')
		op_fail_set(&f, "VaultClientConfigError", "spec.destination.name: required");
	else if (!op_json_duration_ms(obj, "spec.refreshAfter", &refresh))
		op_fail_set(&f, "VaultClientConfigError", "spec.refreshAfter: not a duration");
	else if (op_transform_parse(op_json_at(obj, "spec.destination"), &t, &err) != 0)
		op_fail_set(&f, "TransformationError", "%s", err);
	if (f.reason) {
		op_sync_report(o, OP_DYNAMIC_SECRET, obj, &f, NULL);
		out->requeue_after_ms = OP_REQUEUE_INVALID_MS;
		goto out;
	}
	if (!op_has_finalizer(obj, OP_DYNAMIC_SECRET) && op_finalizer_set(o, OP_DYNAMIC_SECRET, obj, true, &f) != 0) {
		op_sync_report(o, OP_DYNAMIC_SECRET, obj, &f, NULL);
		out->failed = true;
		goto out;
	}
	/* Is what the Secret holds still what was issued? (Drift in static
	 * credentials is repaired at their next read.) */
	if (last_gen == generation && (*lease || static_ttl > 0) && !op_dest_intact(o, OP_DYNAMIC_SECRET, obj, allow_static && static_ttl > 0)) {
		op_event(o, OP_DYNAMIC_SECRET, obj, false, "SecretDataDrift",
		         "The destination Secret changed or vanished: requesting new credentials");
	} else if (last_gen == generation && (*lease || static_ttl > 0)) {
		/* Nothing changed but time: renew or wait. */
		if (allow_static && static_ttl > 0)
			due_ms = (last + static_ttl + 1) * 1000L - now * 1000L;
		else
			due_ms = last * 1000L + op_lease_renew_ms(duration, pct) - now * 1000L;
		if (due_ms > 0) {
			out->requeue_after_ms = due_ms;
			goto out;
		}
		if (renewable && *lease && !allow_static) {
			long got = 0;

			if (op_vault_get(o, obj, &v, &f) != 0) {
				op_sync_report(o, OP_DYNAMIC_SECRET, obj, &f, NULL);
				out->failed = true;
				goto out;
			}
			if (renew(o, &v, obj, &got, &f)) {
				struct op_cond rc = {"LeaseRenewal", true, "SecretLeaseRenewal", "Successfully renewed lease"};

				fields = json_pack("{s:I, s:{s:s, s:I, s:b, s:s}}", "lastRenewalTime", (json_int_t)now,
				                   "secretLease", "id", lease, "duration", (json_int_t)got, "renewable", 1,
				                   "requestID", op_json_str0(obj, "status.secretLease.requestID"));
				(void)op_status_update(o, OP_DYNAMIC_SECRET, obj, fields, &rc, 1, &f);
				op_event(o, OP_DYNAMIC_SECRET, obj, false, "SecretLeaseRenewal",
				         "Renewed lease, lease_id=%s", lease);
				out->requeue_after_ms = op_lease_renew_ms(got, pct);
				goto out;
			}
			if (f.reason)
				op_event(o, OP_DYNAMIC_SECRET, obj, true, f.reason, "%s", f.msg);
			op_fail_release(&f);
		}
	}
	/* New credentials. */
	if (v.api == NULL && op_vault_get(o, obj, &v, &f) != 0) {
		op_sync_report(o, OP_DYNAMIC_SECRET, obj, &f, NULL);
		out->failed = true;
		goto out;
	}
	if (request(o, &v, obj, &answer, &f) != 0) {
		op_sync_report(o, OP_DYNAMIC_SECRET, obj, &f, NULL);
		out->failed = true;
		goto out;
	}
	adata = json_object_get(answer, "data");
	duration = (long)op_json_int(answer, "lease_duration", 0);
	renewable = op_json_bool(answer, "renewable", false);
	is_static = allow_static && *op_json_str0(answer, "lease_id") == '\0' && json_object_get(adata, "ttl");
	if (op_dest_data(adata, adata, NULL, obj, &t, &data, &err) != 0) {
		op_fail_set(&f, "SecretDataBuilderError", "Failed to build K8s secret data: %s", err);
		op_sync_report(o, OP_DYNAMIC_SECRET, obj, &f, NULL);
		out->requeue_after_ms = OP_REQUEUE_INVALID_MS;
		goto out;
	}
	if (is_static) {
		mac_data = json_deep_copy(data);
		for (i = 0; i < sizeof(static_meta_keys) / sizeof(static_meta_keys[0]); i++)
			json_object_del(mac_data, static_meta_keys[i]);
	}
	if (op_sync_data(o, OP_DYNAMIC_SECRET, obj, data, mac_data, !is_static, &res, &f) != 0) {
		op_sync_report(o, OP_DYNAMIC_SECRET, obj, &f, NULL);
		out->failed = true;
		goto out;
	}
	if (res.written)
		op_event(o, OP_DYNAMIC_SECRET, obj, false, last_gen > 0 ? "SecretRotated" : "SecretSynced",
		         "Secret synced, lease_id=%s", op_json_str0(answer, "lease_id"));
	fields = json_pack("{s:I, s:I, s:s, s:{s:s, s:I, s:b, s:s}}", "lastGeneration", generation,
	                   "lastRenewalTime", (json_int_t)now, "secretMAC", res.mac, "secretLease", "id",
	                   op_json_str0(answer, "lease_id"), "duration", (json_int_t)duration, "renewable",
	                   renewable, "requestID", op_json_str0(answer, "request_id"));
	if (is_static) {
		long long rotated = 0;

		if (kube_parse_time(op_json_str0(adata, "last_vault_rotation"), &rotated) != 0)
			rotated = 0;
		json_object_set_new(fields, "staticCredsMetaData",
		                    json_pack("{s:I, s:I, s:I}", "lastVaultRotation",
		                              (json_int_t)(rotated / 1000000), "rotationPeriod",
		                              op_json_int(adata, "rotation_period", 0), "ttl",
		                              op_json_int(adata, "ttl", 0)));
		out->requeue_after_ms = (op_json_int(adata, "ttl", 0) + 1) * 1000L;
	} else if (duration > 0)
		out->requeue_after_ms = op_lease_renew_ms(duration, pct);
	else
		out->requeue_after_ms = refresh;
	if (op_status_update(o, OP_DYNAMIC_SECRET, obj, fields, c, 2, &f) != 0)
		op_event(o, OP_DYNAMIC_SECRET, obj, true, f.reason, "%s", f.msg);
out:
	if (v.api || v.pool_key)
		op_vault_put(o, &v);
	api_json_free_secret(answer);
	api_json_free_secret(data);
	api_json_free_secret(mac_data);
	op_transform_release(&t);
	op_fail_release(&f);
	free(err);
}
