/* op_sync.c — the reconcilers' entry points (op.h): their state, the
 * dispatch by kind, and what a managed Secret's event means.
 *
 * A Secret event is drift only when the Secret's data no longer has the
 * MAC last written (or last seen) for its owner: the operator's own
 * writes, and changes to labels or annotations alone, enqueue nothing, so
 * there are no write storms and no polling of Secrets. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "operator/op_dest.h"
#include "operator/op_sync.h"
#include "secure.h"
#include "strhash.h"

#include "banned.h"

struct op_record {
	struct op_record *next;
	char *key; /* "<kind>/<ns>/<name>" */
	char mac[OP_MAC_TEXT];
};

void op_fail_set(struct op_fail *f, const char *reason, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	free(f->msg);
	buf_init(&b, 8192);
	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	f->reason = reason;
	f->msg = buf_take(&b);
}

void op_fail_release(struct op_fail *f)
{
	free(f->msg);
	f->msg = NULL;
	f->reason = NULL;
}

int op_sync_new(struct op *o, struct op_sync **out, char **err)
{
	struct op_sync *s = xcalloc(1, sizeof(*s));

	(void)o;
	(void)err;
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return 0;
}

void op_sync_free(struct op_sync *s)
{
	size_t i;

	if (s == NULL)
		return;
	op_vault_free_all(s);
	for (i = 0; i < OP_RECORD_BUCKETS; i++) {
		struct op_record *r = s->records[i], *next;

		for (; r; r = next) {
			next = r->next;
			free(r->key);
			free(r);
		}
	}
	secure_wipe(s->hmac_key, sizeof(s->hmac_key));
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- Records ------------------------------------------------------------ */

static char *record_key(enum op_kind kind, const char *ns, const char *name)
{
	struct buf b;

	buf_init(&b, 1024);
	(void)buf_printf(&b, "%d/%s/%s", (int)kind, ns, name);
	return buf_take(&b);
}

/* The record for key (under s->mu), made when make is set. */
static struct op_record *record_find(struct op_sync *s, const char *key, bool make)
{
	size_t slot = (size_t)(str_hash(key) % OP_RECORD_BUCKETS);
	struct op_record *r;

	for (r = s->records[slot]; r; r = r->next)
		if (strcmp(r->key, key) == 0)
			return r;
	if (!make)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->key = xstrdup(key);
	r->next = s->records[slot];
	s->records[slot] = r;
	return r;
}

void op_record_get(struct op_sync *s, enum op_kind kind, const char *ns, const char *name, char out[OP_MAC_TEXT])
{
	char *key = record_key(kind, ns, name);
	struct op_record *r;

	pthread_mutex_lock(&s->mu);
	r = record_find(s, key, false);
	(void)snprintf(out, OP_MAC_TEXT, "%s", r ? r->mac : "");
	pthread_mutex_unlock(&s->mu);
	free(key);
}

void op_record_set(struct op_sync *s, enum op_kind kind, const char *ns, const char *name, const char *mac)
{
	char *key = record_key(kind, ns, name);

	pthread_mutex_lock(&s->mu);
	(void)snprintf(record_find(s, key, true)->mac, OP_MAC_TEXT, "%s", mac);
	pthread_mutex_unlock(&s->mu);
	free(key);
}

void op_record_drop(struct op_sync *s, enum op_kind kind, const char *ns, const char *name)
{
	char *key = record_key(kind, ns, name);
	size_t slot = (size_t)(str_hash(key) % OP_RECORD_BUCKETS);
	struct op_record **p, *r;

	pthread_mutex_lock(&s->mu);
	for (p = &s->records[slot]; (r = *p) != NULL; p = &r->next)
		if (strcmp(r->key, key) == 0) {
			*p = r->next;
			free(r->key);
			free(r);
			break;
		}
	pthread_mutex_unlock(&s->mu);
	free(key);
}

/* ---- Entry points ------------------------------------------------------- */

void op_reconcile(struct op *o, enum op_kind kind, const char *ns, const char *name, struct op_outcome *out)
{
	json_t *obj;

	memset(out, 0, sizeof(*out));
	if (kind >= OP_NKINDS || o->inf[kind] == NULL)
		return;
	obj = kube_informer_get(o->inf[kind], ns, name);
	if (obj && (kind == OP_DYNAMIC_SECRET || kind == OP_PKI_SECRET)) {
		/* Leases and certificates are issued from what status says was
		 * issued last: read it fresh, as the informer's copy may not yet
		 * hold the status this replica just wrote (and a second issue
		 * would follow). */
		struct kube_resp r;

		kube_resp_init(&r);
		if (kube_get(o->kube, &OP_RESOURCES[kind], ns, name, &r) != 0 || (r.status != 200 && r.status != 404)) {
			out->failed = true;
		} else {
			json_decref(obj);
			obj = r.status == 200 ? json_incref(r.body) : NULL;
		}
		kube_resp_release(&r);
		if (out->failed) {
			json_decref(obj);
			return;
		}
	}
	if (obj == NULL) {
		/* Deleted: forget what is kept for it. */
		op_record_drop(o->sync, kind, ns, name);
		return;
	}
	switch (kind) {
	case OP_VAULT_CONNECTION:
		op_sync_connection(o, obj, out);
		break;
	case OP_VAULT_AUTH:
		op_sync_auth(o, obj, out);
		break;
	case OP_STATIC_SECRET:
		op_sync_static(o, obj, out);
		break;
	case OP_DYNAMIC_SECRET:
		op_sync_dynamic(o, obj, out);
		break;
	case OP_PKI_SECRET:
		op_sync_pki(o, obj, out);
		break;
	default:
		break;
	}
	json_decref(obj);
}

/* The kind of owner ref, or OP_NKINDS when it is not one of ours. */
static enum op_kind owner_kind(const json_t *ref)
{
	const char *api = json_string_value(json_object_get(ref, "apiVersion"));
	const char *kind = json_string_value(json_object_get(ref, "kind"));
	int k;

	if (api == NULL || kind == NULL || strcmp(api, OP_API_VERSION) != 0)
		return OP_NKINDS;
	for (k = OP_STATIC_SECRET; k < OP_NKINDS; k++)
		if (strcmp(kind, OP_KIND_NAMES[k]) == 0)
			return (enum op_kind)k;
	return OP_NKINDS;
}

void op_secret_event(struct op *o, enum kube_event ev, const json_t *secret)
{
	const json_t *refs = op_json_at(secret, "metadata.ownerReferences"), *ref;
	const char *ns = op_json_str0(secret, "metadata.namespace");
	char mac[OP_MAC_TEXT], known[OP_MAC_TEXT];
	json_t *data;
	size_t i;

	json_array_foreach (refs, i, ref) {
		enum op_kind kind = owner_kind(ref);
		const char *owner = json_string_value(json_object_get(ref, "name"));

		if (kind == OP_NKINDS || owner == NULL)
			continue;
		if (ev == KUBE_DELETED) {
			op_record_set(o->sync, kind, ns, owner, "");
			op_enqueue(o, kind, ns, owner, 0);
			continue;
		}
		data = op_secret_data(secret);
		mac[0] = '\0';
		if (data == NULL || !op_hmac_data(o->sync, data, mac)) {
			/* No key yet, or bad data: let the reconcile judge. */
			api_json_free_secret(data);
			op_enqueue(o, kind, ns, owner, 0);
			continue;
		}
		api_json_free_secret(data);
		op_record_get(o->sync, kind, ns, owner, known);
		op_record_set(o->sync, kind, ns, owner, mac);
		if (known[0] != '\0' && strcmp(known, mac) != 0)
			op_enqueue(o, kind, ns, owner, 0); /* changed: drift, unless it was our own write */
	}
}
