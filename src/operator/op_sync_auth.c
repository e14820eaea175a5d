/* op_sync_auth.c — VaultConnection and VaultAuth themselves: their specs
 * are checked and status.valid (and VaultAuth's status.error) says
 * whether the reconcilers can use them, as VSO reports it. Nothing logs
 * in here: a login happens for a resource that uses the VaultAuth, in
 * that resource's namespace. */
#include <stdlib.h>
#include <string.h>

#include "operator/op_sync.h"
#include "operator/op_vault.h"

#include "banned.h"

void op_sync_connection(struct op *o, const json_t *obj, struct op_outcome *out)
{
	struct op_conn_spec c;
	struct op_fail f = {0};
	char *err = NULL;
	bool ok = op_conn_spec_parse(obj, &c, &err) == 0;
	struct op_cond cond = {"Ready", ok, ok ? "Accepted" : "InvalidConfiguration", ok ? "VaultConnectionReady" : err};

	if (op_json_at(obj, "metadata.deletionTimestamp")) {
		if (op_has_finalizer(obj, OP_VAULT_CONNECTION) &&
		    op_finalizer_set(o, OP_VAULT_CONNECTION, obj, false, &f) != 0)
			out->failed = true;
		goto out;
	}
	if (!ok)
		op_event(o, OP_VAULT_CONNECTION, obj, true, "InvalidConfiguration", "%s", err);
	if (op_status_update(o, OP_VAULT_CONNECTION, obj, json_pack("{s:b}", "valid", ok), &cond, 1, &f) != 0)
		out->failed = true;
out:
	op_conn_spec_release(&c);
	op_fail_release(&f);
	free(err);
}

void op_sync_auth(struct op *o, const json_t *obj, struct op_outcome *out)
{
	struct op_auth_spec a;
	struct op_ref ref = {0};
	struct op_fail f = {0};
	char *err = NULL, *why = NULL;
	json_t *conn = NULL;
	bool ok;
	struct op_cond cond = {"Ready", true, "Accepted", "VaultAuthReady"};

	if (op_json_at(obj, "metadata.deletionTimestamp")) {
		memset(&a, 0, sizeof(a));
		if (op_has_finalizer(obj, OP_VAULT_AUTH) && op_finalizer_set(o, OP_VAULT_AUTH, obj, false, &f) != 0)
			out->failed = true;
		goto out;
	}
	ok = op_auth_spec_parse(obj, &a, &err) == 0;
	if (ok && op_ref_parse(a.conn_ref, op_json_str0(obj, "metadata.namespace"), o->namespace, &ref, &why) != 0) {
		ok = false;
		err = why;
		why = NULL;
	}
	if (ok && o->inf[OP_VAULT_CONNECTION] &&
	    (conn = kube_informer_get(o->inf[OP_VAULT_CONNECTION], ref.ns, ref.name)) == NULL) {
		struct buf b;

		buf_init(&b, 2048);
		(void)buf_printf(&b, "VaultConnection %s/%s not found", ref.ns, ref.name);
		err = buf_take(&b);
		ok = false;
	}
	cond.ok = ok;
	if (!ok) {
		cond.reason = "InvalidConfiguration";
		cond.message = err;
		op_event(o, OP_VAULT_AUTH, obj, true, "InvalidConfiguration", "%s", err);
	}
	if (op_status_update(o, OP_VAULT_AUTH, obj,
	                     json_pack("{s:b, s:s}", "valid", ok, "error", ok ? "" : err), &cond, 1, &f) != 0)
		out->failed = true;
	/* A missing connection may appear: look again later. */
	if (!ok)
		out->requeue_after_ms = OP_REQUEUE_INVALID_MS;
out:
	op_auth_spec_release(&a);
	op_ref_release(&ref);
	json_decref(conn);
	op_fail_release(&f);
	free(err);
	free(why);
}
