/* op_sync_dest.c — the tail every secret kind shares (op_sync.h): write
 * the destination only when its data differs, restart workloads only
 * when the data changed, report failures to status and events. */
#include <string.h>

#include "operator/op_dest.h"
#include "operator/op_restart.h"
#include "operator/op_sync.h"

#include "banned.h"

int op_sync_data(struct op *o, enum op_kind kind, const json_t *obj, const json_t *data, const json_t *mac_data,
                 bool force, struct op_sync_result *res, struct op_fail *f)
{
	const char *ns = op_json_str0(obj, "metadata.namespace");
	const char *name = op_json_str0(obj, "metadata.name");
	const char *prev = op_json_str0(obj, "status.secretMAC");
	char seen[OP_MAC_TEXT], dest_mac[OP_MAC_TEXT];
	int r;

	memset(res, 0, sizeof(*res));
	if ((r = op_hmac_key_load(o, f)) != 0)
		return r;
	if (!op_hmac_data(o->sync, mac_data ? mac_data : data, res->mac) ||
	    !op_hmac_data(o->sync, data, dest_mac)) {
		op_fail_set(f, "HMACDataError", "could not compute the data's MAC");
		return -1;
	}
	/* A changed spec (labels, type, transformation) is written whatever
	 * the data; a Secret the resource does not own sends no events, so
	 * only a read tells what it holds now. */
	if (op_json_int(obj, "status.lastGeneration", 0) != op_json_int(obj, "metadata.generation", 0))
		force = true;
	op_record_get(o->sync, kind, ns, name, seen);
	if (!op_json_bool(obj, "spec.destination.create", false))
		seen[0] = '\0';
	if (!force && seen[0] == '\0') {
		if ((r = op_dest_read_mac(o, obj, seen, f)) != 0)
			return r;
		if (seen[0])
			op_record_set(o->sync, kind, ns, name, seen);
	}
	/* With mac_data (static credentials) the data counts as changed only
	 * when its MAC moved from status.secretMAC: a new ttl alone is not a
	 * change, as in VSO; a missing Secret still is. */
	if (force || (mac_data ? seen[0] == '\0' || strcmp(prev, res->mac) != 0 : strcmp(seen, dest_mac) != 0)) {
		if ((r = op_dest_write(o, kind, obj, data, f)) != 0)
			return r;
		op_record_set(o->sync, kind, ns, name, dest_mac);
		res->written = true;
	}
	/* Only a reconcile that changed the Secret restarts: another one
	 * racing the informer's copy of the status would see the old MAC. */
	if (res->written && op_restart_needed(prev, res->mac) &&
	    json_array_size(op_json_at(obj, "spec.rolloutRestartTargets")) > 0) {
		(void)op_restart_targets(o, kind, obj);
		res->restarted = true;
	}
	return 0;
}

bool op_dest_intact(struct op *o, enum op_kind kind, const json_t *obj, bool exists_only)
{
	const char *ns = op_json_str0(obj, "metadata.namespace"), *name = op_json_str0(obj, "metadata.name");
	char seen[OP_MAC_TEXT];
	struct op_fail f = {0};

	op_record_get(o->sync, kind, ns, name, seen);
	if (!op_json_bool(obj, "spec.destination.create", false))
		seen[0] = '\0';
	if (seen[0] == '\0' && op_hmac_key_load(o, &f) == 0 && op_dest_read_mac(o, obj, seen, &f) == 0 && seen[0])
		op_record_set(o->sync, kind, ns, name, seen);
	op_fail_release(&f);
	if (seen[0] == '\0')
		return false;
	return exists_only || strcmp(seen, op_json_str0(obj, "status.secretMAC")) == 0;
}

void op_sync_report(struct op *o, enum op_kind kind, const json_t *obj, const struct op_fail *f, json_t *fields)
{
	const char *reason = f->reason ? f->reason : "SecretSyncError";
	const char *msg = f->msg ? f->msg : "failed";
	struct op_cond c[2] = {
		{"SecretSynced", false, reason, msg},
		{"Ready", false, reason, msg},
	};
	struct op_fail ignored = {0};

	op_event(o, kind, obj, true, reason, "%s", msg);
	if (fields == NULL)
		fields = json_object();
	(void)op_status_update(o, kind, obj, fields, c, 2, &ignored);
	op_fail_release(&ignored);
}

char *op_vault_path(const char *mount, const char *mid, const char *path)
{
	struct buf b;
	size_t n;

	buf_init(&b, 8192);
	while (*mount == '/')
		mount++;
	n = strlen(mount);
	while (n > 0 && mount[n - 1] == '/')
		n--;
	(void)buf_append(&b, mount, n);
	if (mid && *mid)
		(void)buf_printf(&b, "/%s", mid);
	while (path && *path == '/')
		path++;
	if (path && *path)
		(void)buf_printf(&b, "/%s", path);
	return buf_take(&b);
}
