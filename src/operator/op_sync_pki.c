/* op_sync_pki.c — VaultPKISecret: a certificate issued by a PKI mount
 * (<mount>/issue/<role>, or <mount>/issuer/<ref>/issue/<role>) into a
 * Secret, re-issued expiryOffset before it expires, when the resource
 * changes, and when the Secret drifted. A kubernetes.io/tls destination
 * gets tls.crt (the certificate and its chain) and tls.key besides VSO's
 * other keys. On re-issue and on deletion the old certificate is revoked
 * by serial when revoke: true; on deletion a Secret the resource did not
 * create is emptied when clear: true. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "operator/op_dest.h"
#include "operator/op_sync.h"

#include "banned.h"

static int revoke(struct op *o, struct op_vault *v, const json_t *obj, const char *serial, struct op_fail *f)
{
	char *path = op_vault_path(op_json_str0(obj, "spec.mount"), NULL, "revoke");
	json_t *body = json_pack("{s:s}", "serial_number", serial);
	struct api_response resp;
	int r;

	api_response_init(&resp);
	r = op_vault_send(o, v, "PUT", path, NULL, body, &resp);
	if (r != 0)
		op_fail_set(f, "CertificateRevocationError", "Failed to revoke certificate %s: %s", serial,
		            resp.error ? resp.error : "failed");
	api_response_release(&resp);
	json_decref(body);
	free(path);
	return r;
}

static void finalize(struct op *o, const json_t *obj, struct op_outcome *out)
{
	const char *serial = op_json_str0(obj, "status.serialNumber");
	struct op_fail f = {0};
	struct op_vault v = {0};
	json_t *empty = json_object();

	if (!op_has_finalizer(obj, OP_PKI_SECRET))
		goto out;
	if (op_json_bool(obj, "spec.revoke", false) && *serial &&
	    (op_vault_get(o, obj, &v, &f) != 0 || revoke(o, &v, obj, serial, &f) != 0)) {
		op_sync_report(o, OP_PKI_SECRET, obj, &f, NULL);
		out->failed = true;
		goto out;
	}
	if (!op_json_bool(obj, "spec.destination.create", false) && op_json_bool(obj, "spec.clear", false) &&
	    op_dest_write(o, OP_PKI_SECRET, obj, empty, &f) != 0 && f.reason) {
		op_sync_report(o, OP_PKI_SECRET, obj, &f, NULL);
		out->failed = true;
		goto out;
	}
	if (op_finalizer_set(o, OP_PKI_SECRET, obj, false, &f) != 0)
		out->failed = true;
out:
	if (v.api || v.pool_key)
		op_vault_put(o, &v);
	json_decref(empty);
	op_fail_release(&f);
}

/* The issue request's body from the spec, as VSO sends it. */
static json_t *issue_body(const json_t *obj)
{
	static const char *const strs[][2] = {
		{"commonName", "common_name"}, {"ttl", "ttl"},          {"format", "format"},
		{"privateKeyFormat", "private_key_format"}, {"notAfter", "not_after"},
	};
	static const char *const lists[][2] = {
		{"altNames", "alt_names"}, {"ipSans", "ip_sans"}, {"uriSans", "uri_sans"},
		{"otherSans", "other_sans"}, {"userIDs", "user_ids"},
	};
	json_t *b = json_object();
	char path[64];
	size_t i, j;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		const char *s;

		(void)snprintf(path, sizeof(path), "spec.%s", strs[i][0]);
		if ((s = op_json_str(obj, path)) != NULL && *s)
			json_object_set_new(b, strs[i][1], json_string(s));
	}
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		const json_t *l, *v;
		struct buf joined;

		(void)snprintf(path, sizeof(path), "spec.%s", lists[i][0]);
		l = op_json_at(obj, path);
		if (!json_is_array(l) || json_array_size(l) == 0)
			continue;
		buf_init(&joined, 1 << 20);
		json_array_foreach (l, j, v)
			if (json_is_string(v))
				(void)buf_printf(&joined, "%s%s", joined.len ? "," : "", json_string_value(v));
		json_object_set_new(b, lists[i][1], json_string(joined.data));
		buf_release(&joined);
	}
	if (op_json_bool(obj, "spec.excludeCNFromSans", false))
		json_object_set_new(b, "exclude_cn_from_sans", json_true());
	return b;
}

static int issue(struct op *o, struct op_vault *v, const json_t *obj, json_t **answer, struct op_fail *f)
{
	const char *issuer = op_json_str0(obj, "spec.issuerRef");
	struct buf mid;
	char *path;
	json_t *body = issue_body(obj);
	struct api_response resp;
	int r;

	buf_init(&mid, 8192);
	if (*issuer)
		(void)buf_printf(&mid, "issuer/%s/issue", issuer);
	else
		(void)buf_append_str(&mid, "issue");
	path = op_vault_path(op_json_str0(obj, "spec.mount"), mid.data, op_json_str0(obj, "spec.role"));
	buf_release(&mid);
	*answer = NULL;
	api_response_init(&resp);
	r = op_vault_send(o, v, "PUT", path, NULL, body, &resp);
	if (r != 0 || *op_json_str0(resp.json, "data.serial_number") == '\0') {
		op_fail_set(f, "VaultClientError", "Failed to issue certificate from %s: %s", path,
		            r != 0 && resp.error ? resp.error : "the answer has no serial_number");
		r = r ? r : TROVE_ERR_UPSTREAM;
	} else
		*answer = json_incref(json_object_get(resp.json, "data"));
	api_response_release(&resp);
	json_decref(body);
	free(path);
	return r;
}

void op_sync_pki(struct op *o, const json_t *obj, struct op_outcome *out)
{
	json_int_t generation = op_json_int(obj, "metadata.generation", 0);
	const char *old_serial = op_json_str0(obj, "status.serialNumber");
	long expiration = (long)op_json_int(obj, "status.expiration", 0), offset_ms = 0;
	long now = (long)clock_realtime_s();
	bool tls = strcmp(op_json_str0(obj, "spec.destination.type"), "kubernetes.io/tls") == 0;
	struct op_fail f = {0};
	struct op_vault v = {0};
	struct op_transform t;
	struct op_sync_result res;
	json_t *answer = NULL, *data = NULL, *fields;
	char *err = NULL;
	struct op_cond c[2] = {{"SecretSynced", true, "SecretSynced", "Secret synced"},
	                       {"Ready", true, "Ready", "VaultPKISecretReady"}};

	memset(&t, 0, sizeof(t));
	if (op_json_at(obj, "metadata.deletionTimestamp")) {
		finalize(o, obj, out);
		goto out;
	}
	if (*op_json_str0(obj, "spec.mount") == '\0' || *op_json_str0(obj, "spec.role") == '\0')
		op_fail_set(&f, "VaultClientConfigError", "spec.mount and spec.role are required");
	else if (*op_json_str0(obj, "spec.destination.name") == '\0')
		op_fail_set(&f, "VaultClientConfigError", "spec.destination.name: required");
	else if (!op_json_duration_ms(obj, "spec.expiryOffset", &offset_ms))
		op_fail_set(&f, "VaultClientConfigError", "spec.expiryOffset: not a duration");
	else if (op_transform_parse(op_json_at(obj, "spec.destination"), &t, &err) != 0)
		op_fail_set(&f, "TransformationError", "%s", err);
	if (f.reason) {
		op_sync_report(o, OP_PKI_SECRET, obj, &f, json_pack("{s:b, s:s}", "valid", 0, "error", f.reason));
		out->requeue_after_ms = OP_REQUEUE_INVALID_MS;
		goto out;
	}
	if (*old_serial && op_json_int(obj, "status.lastGeneration", 0) == generation &&
	    now < expiration - offset_ms / 1000 && op_dest_intact(o, OP_PKI_SECRET, obj, false)) {
		out->requeue_after_ms = op_pki_renew_ms(expiration, offset_ms / 1000, now);
		goto out;
	}
	if (!op_has_finalizer(obj, OP_PKI_SECRET) && op_finalizer_set(o, OP_PKI_SECRET, obj, true, &f) != 0) {
		op_sync_report(o, OP_PKI_SECRET, obj, &f, NULL);
		out->failed = true;
		goto out;
	}
	if (op_vault_get(o, obj, &v, &f) != 0 || issue(o, &v, obj, &answer, &f) != 0) {
		op_sync_report(o, OP_PKI_SECRET, obj, &f, json_pack("{s:b, s:s}", "valid", 0, "error", f.reason));
		out->failed = true;
		goto out;
	}
	if (op_dest_data(answer, answer, NULL, obj, &t, &data, &err) != 0) {
		op_fail_set(&f, "SecretDataBuilderError", "Failed to build K8s secret data: %s", err);
		op_sync_report(o, OP_PKI_SECRET, obj, &f, json_pack("{s:b, s:s}", "valid", 0, "error", f.reason));
		out->requeue_after_ms = OP_REQUEUE_INVALID_MS;
		goto out;
	}
	op_pki_shape(data, answer, tls && t.ntemplates == 0);
	if (op_sync_data(o, OP_PKI_SECRET, obj, data, NULL, true, &res, &f) != 0) {
		op_sync_report(o, OP_PKI_SECRET, obj, &f, json_pack("{s:b, s:s}", "valid", 0, "error", f.reason));
		out->failed = true;
		goto out;
	}
	if (*old_serial && op_json_bool(obj, "spec.revoke", false) && revoke(o, &v, obj, old_serial, &f) != 0) {
		op_event(o, OP_PKI_SECRET, obj, true, f.reason, "%s", f.msg);
		op_fail_release(&f);
	}
	expiration = (long)op_json_int(answer, "expiration", 0);
	op_event(o, OP_PKI_SECRET, obj, false, *old_serial ? "SecretRotated" : "SecretSynced",
	         "Secret synced, serial_number=%s", op_json_str0(answer, "serial_number"));
	fields = json_pack("{s:I, s:I, s:s, s:s, s:I, s:b, s:s}", "lastGeneration", generation, "lastRotation",
	                   (json_int_t)now, "secretMAC", res.mac, "serialNumber",
	                   op_json_str0(answer, "serial_number"), "expiration", (json_int_t)expiration, "valid", 1,
	                   "error", "");
	if (op_status_update(o, OP_PKI_SECRET, obj, fields, c, 2, &f) != 0)
		op_event(o, OP_PKI_SECRET, obj, true, f.reason, "%s", f.msg);
	out->requeue_after_ms = op_pki_renew_ms(expiration, offset_ms / 1000, now);
out:
	if (v.api || v.pool_key)
		op_vault_put(o, &v);
	api_json_free_secret(answer);
	api_json_free_secret(data);
	op_transform_release(&t);
	op_fail_release(&f);
	free(err);
}
