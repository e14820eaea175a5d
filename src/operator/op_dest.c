/* op_dest.c — writing a destination Secret (op_dest.h).
 *
 * Every write carries the resourceVersion it was built from (optimistic
 * concurrency: a Secret changed meanwhile answers 409, and the write is
 * rebuilt from a fresh read), and ownership is checked as VSO checks it,
 * so the operator never takes over a Secret another resource or a person
 * made unless overwrite says it may. */
#include <string.h>

#include "err.h"
#include "operator/op_dest.h"
#include "operator/op_sync.h"

#include "banned.h"

#define WRITE_TRIES 3

/* A failed call: 409 (a stale resourceVersion, or created meanwhile) is
 * TROVE_ERR_CONFLICT, which op_dest_write retries from a fresh read. */
static int kube_fail(struct op_fail *f, const char *what, const char *name, const struct kube_resp *r)
{
	op_fail_set(f, "SecretSyncError", "%s Secret %s: %s (status %d)", what, name,
	            r->error ? r->error : "no answer", r->status);
	return r->status == 409 ? TROVE_ERR_CONFLICT : TROVE_ERR_UPSTREAM;
}

/* The Secret without what the operator must not keep: only data replaced
 * (create: false). A new object. */
static json_t *data_only(const json_t *existing, const json_t *want)
{
	json_t *s = json_deep_copy(existing);

	json_object_set(s, "data", json_object_get(want, "data"));
	json_object_del(s, "stringData");
	return s;
}

/* Releases r, wiping the Secret it may hold. */
static void free_resp(struct kube_resp *r)
{
	api_json_free_secret(r->body);
	r->body = NULL;
	kube_resp_release(r);
}

static int write_once(struct op *o, enum op_kind kind, const json_t *obj, const json_t *data, struct op_fail *f)
{
	const json_t *dest = op_json_at(obj, "spec.destination");
	const char *ns = op_json_str0(obj, "metadata.namespace");
	const char *name = op_json_str0(dest, "name");
	bool create = op_json_bool(dest, "create", false);
	bool overwrite = op_json_bool(dest, "overwrite", false);
	struct kube_resp r;
	json_t *want = NULL, *body = NULL;
	const char *old_type, *new_type;
	int rc;

	kube_resp_init(&r);
	if ((rc = kube_get(o->kube, &KUBE_SECRETS, ns, name, &r)) != 0 || (r.status != 200 && r.status != 404)) {
		rc = kube_fail(f, "reading", name, &r);
		goto out;
	}
	if (r.status == 404) {
		if (!create) {
			op_fail_set(f, "SecretSyncError", "destination Secret %s does not exist, and create=false",
			            name);
			rc = TROVE_ERR_NOT_FOUND;
			goto out;
		}
		want = op_dest_secret(obj, kind, dest, data, NULL);
		free_resp(&r);
		if ((rc = kube_create(o->kube, &KUBE_SECRETS, ns, want, &r)) != 0 || r.status >= 300)
			rc = kube_fail(f, "creating", name, &r);
		goto out;
	}
	want = op_dest_secret(obj, kind, dest, data, r.body);
	if (!create) {
		body = data_only(r.body, want);
	} else {
		bool check = overwrite ? op_dest_has_owner_labels(r.body) : true;

		if (check && !op_dest_owned_by(r.body, obj)) {
			op_fail_set(f, "SecretSyncError",
			            "not the owner of the destination Secret %s (it lacks this resource's owner labels "
			            "or reference; overwrite: true takes over a Secret without owner labels)",
			            name);
			rc = TROVE_ERR_PERMISSION;
			goto out;
		}
		old_type = op_json_str0(r.body, "type");
		new_type = op_json_str0(want, "type");
		if (*old_type && strcmp(old_type, new_type) != 0) {
			/* The type of a Secret is immutable: recreate it. */
			free_resp(&r);
			if ((rc = kube_delete(o->kube, &KUBE_SECRETS, ns, name, &r)) != 0 ||
			    (r.status >= 300 && r.status != 404)) {
				rc = kube_fail(f, "deleting (to change its type)", name, &r);
				goto out;
			}
			json_object_del(json_object_get(want, "metadata"), "resourceVersion");
			kube_resp_release(&r);
			if ((rc = kube_create(o->kube, &KUBE_SECRETS, ns, want, &r)) != 0 || r.status >= 300)
				rc = kube_fail(f, "creating", name, &r);
			goto out;
		}
		body = json_incref(want);
	}
	free_resp(&r);
	if ((rc = kube_replace(o->kube, &KUBE_SECRETS, ns, name, NULL, body, &r)) != 0 || r.status >= 300)
		rc = kube_fail(f, "updating", name, &r);
out:
	api_json_free_secret(want);
	api_json_free_secret(body);
	free_resp(&r);
	return rc;
}

int op_dest_write(struct op *o, enum op_kind kind, const json_t *obj, const json_t *data, struct op_fail *f)
{
	int rc = TROVE_ERR_CONFLICT, i;

	for (i = 0; i < WRITE_TRIES && rc == TROVE_ERR_CONFLICT; i++) {
		op_fail_release(f);
		rc = write_once(o, kind, obj, data, f);
	}
	if (rc == 0)
		op_metric_add(o, "trove_operator_secret_writes_total", NULL, 1);
	return rc;
}

int op_dest_read_mac(struct op *o, const json_t *obj, char *out, struct op_fail *f)
{
	const char *ns = op_json_str0(obj, "metadata.namespace");
	const char *name = op_json_str0(obj, "spec.destination.name");
	struct kube_resp r;
	json_t *data = NULL;
	int rc;

	*out = '\0';
	kube_resp_init(&r);
	if ((rc = kube_get(o->kube, &KUBE_SECRETS, ns, name, &r)) != 0 || (r.status != 200 && r.status != 404)) {
		rc = kube_fail(f, "reading", name, &r);
		goto out;
	}
	if (r.status == 200 && ((data = op_secret_data(r.body)) == NULL || !op_hmac_data(o->sync, data, out))) {
		op_fail_set(f, "HMACDataError", "could not compute the MAC of Secret %s", name);
		rc = TROVE_ERR_INVALID;
	}
out:
	api_json_free_secret(data);
	free_resp(&r);
	return rc;
}
