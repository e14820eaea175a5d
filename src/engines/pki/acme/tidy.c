/* tidy.c — the ACME part of the engine's tidy (tidy_acme), as Vault 1.14
 * does it: expired orders go with their authorizations, accounts left
 * with nothing go in two steps (revoked, then deleted), unused EAB keys
 * go. See acme_tidy in acme.h. */
#include <stdlib.h>
#include <string.h>

#include "acme.h"
#include "engines/pki/revocation.h"

#include "engines/kv_util.h"
#include "err.h"
#include "timefmt.h"

#include "banned.h"

struct tidy {
	struct storage *s;
	struct acme_state *st; /* its mu held over each record's change, or NULL */
	int64_t now, cert_buffer, account_buffer;
	struct acme_tidy_counts *counts;
	pthread_mutex_t *lock;
};

static void bump(struct tidy *t, int64_t *field)
{
	if (t->lock)
		pthread_mutex_lock(t->lock);
	(*field)++;
	if (t->lock)
		pthread_mutex_unlock(t->lock);
}

static int delete_rec(struct storage *s, const char *prefix, const char *id)
{
	char key[STORAGE_MAX_KEY];
	if ((size_t)snprintf(key, sizeof(key), "%s%s", prefix, id) >= sizeof(key))
		return TROVE_ERR_INVALID;
	int r = storage_delete(s, key);
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

static int64_t rec_time(const json_t *rec, const char *field)
{
	int64_t t = 0;
	return time_parse_rfc3339(json_string_value(json_object_get(rec, field)), &t) == 0 ? t : 0;
}

/* One order of account: removed (with its authorizations and its
 * acme/certs/ entry) once its certificate's notAfter + cert_buffer has
 * passed, or, without a certificate, once the order expired. *gone: it
 * was removed; *until: the time it was kept for (certificate expiry or
 * the order's own). */
static int tidy_order(struct tidy *t, const char *account, const char *order_id, bool *gone, int64_t *until)
{
	char rid[ACME_REC_ID_MAX];
	json_t *order = NULL;
	int r;

	*gone = false;
	*until = 0;
	acme_rec_id(rid, account, order_id);
	if ((r = acme_get(t->s, ACME_ORDER_PREFIX, rid, &order)) != 0) {
		r = r == TROVE_ERR_NOT_FOUND ? 0 : r;
		*gone = r == 0;
		goto out;
	}
	const char *serial = json_string_value(json_object_get(order, "serial")) ?: "";
	int64_t cert_expiry = json_integer_value(json_object_get(order, "cert_expiry"));
	bool due;
	if (serial[0] && cert_expiry > 0) {
		*until = cert_expiry;
		due = t->now > cert_expiry + t->cert_buffer;
	} else {
		*until = json_integer_value(json_object_get(order, "expires"));
		due = t->now > *until;
	}
	if (!due)
		goto out;
	const json_t *authz = json_object_get(order, "authorizations");
	size_t i;
	const json_t *a;
	json_array_foreach(authz, i, a) {
		char aid[ACME_REC_ID_MAX];
		acme_rec_id(aid, account, json_string_value(a));
		if (json_is_string(a) && (r = delete_rec(t->s, ACME_AUTHZ_PREFIX, aid)) != 0)
			goto out;
	}
	if (serial[0]) {
		struct buf key;
		if ((r = pki_serial_key(&key, ACME_CERT_PREFIX, serial)) == 0)
			r = storage_delete(t->s, key.data);
		buf_release(&key);
		if (r != 0 && r != TROVE_ERR_NOT_FOUND && r != TROVE_ERR_INVALID) /* INVALID: not a serial */
			goto out;
		r = 0;
	}
	if ((r = delete_rec(t->s, ACME_ORDER_PREFIX, rid)) != 0)
		goto out;
	*gone = true;
	bump(t, &t->counts->orders_deleted);
out:
	json_decref(order);
	return r;
}

/* One account: its orders first; then, when none is left and it was
 * made, and its last certificate expired, more than account_buffer ago,
 * a valid account is revoked and a revoked or deactivated one (revoked
 * that long ago) is deleted with its thumbprint. */
static int tidy_account(struct tidy *t, const char *id)
{
	char prefix[STORAGE_MAX_KEY];
	struct strlist orders;
	json_t *acct = NULL;
	bool all_gone = true, changed = false;
	int r;

	strlist_init(&orders);
	if ((r = acme_get(t->s, ACME_ACCOUNT_PREFIX, id, &acct)) != 0) {
		r = r == TROVE_ERR_NOT_FOUND ? 0 : r;
		goto out;
	}
	bump(t, &t->counts->accounts);
	snprintf(prefix, sizeof(prefix), "%s%s/", ACME_ORDER_PREFIX, id);
	if ((r = storage_list(t->s, prefix, &orders)) != 0)
		goto out;
	int64_t max_expiry = json_integer_value(json_object_get(acct, "max_cert_expiry"));
	for (size_t i = 0; i < orders.len; i++) {
		bool gone;
		int64_t until;
		if ((r = tidy_order(t, id, orders.items[i], &gone, &until)) != 0)
			goto out;
		all_gone = all_gone && gone;
		if (until > max_expiry) {
			max_expiry = until;
			json_object_set_new(acct, "max_cert_expiry", json_integer(max_expiry));
			changed = true;
		}
	}
	const char *status = json_string_value(json_object_get(acct, "status")) ?: "";
	int64_t buffer = t->account_buffer;
	if (all_gone && t->now > rec_time(acct, "created_on") + buffer && t->now > max_expiry + buffer) {
		if ((strcmp(status, "revoked") == 0 || strcmp(status, "deactivated") == 0) &&
		    t->now > rec_time(acct, "revoked_on") + buffer) {
			const char *tp = json_string_value(json_object_get(acct, "thumbprint")) ?: "";
			if ((r = delete_rec(t->s, ACME_ACCOUNT_PREFIX, id)) != 0 ||
			    (tp[0] && (r = delete_rec(t->s, ACME_THUMB_PREFIX, tp)) != 0))
				goto out;
			bump(t, &t->counts->accounts_deleted);
			goto out;
		}
		if (strcmp(status, "valid") == 0) {
			char now[TIME_TEXT_MAX];
			time_rfc3339(t->now, now);
			json_object_set_new(acct, "status", json_string("revoked"));
			json_object_set_new(acct, "revoked_on", json_string(now));
			changed = true;
			bump(t, &t->counts->accounts_revoked);
		}
	}
	if (changed)
		r = acme_put(t->s, ACME_ACCOUNT_PREFIX, id, acct);
out:
	strlist_release(&orders);
	json_decref(acct);
	return r;
}

/* Unused EAB keys made more than account_buffer ago. */
static int tidy_eabs(struct tidy *t, const atomic_bool *cancel)
{
	struct strlist ids;
	int r;
	strlist_init(&ids);
	if ((r = storage_list(t->s, ACME_EAB_PREFIX, &ids)) != 0)
		goto out;
	for (size_t i = 0; i < ids.len && r == 0 && !(cancel && atomic_load(cancel)); i++) {
		json_t *rec = NULL;
		if (t->st)
			pthread_mutex_lock(&t->st->mu);
		if ((r = acme_get(t->s, ACME_EAB_PREFIX, ids.items[i], &rec)) == 0 &&
		    t->now > rec_time(rec, "created_on") + t->account_buffer)
			r = delete_rec(t->s, ACME_EAB_PREFIX, ids.items[i]);
		if (t->st)
			pthread_mutex_unlock(&t->st->mu);
		r = r == TROVE_ERR_NOT_FOUND ? 0 : r;
		json_decref(rec);
	}
out:
	strlist_release(&ids);
	return r;
}

int acme_tidy(struct storage *s, struct acme_state *st, int64_t now, int64_t cert_buffer, int64_t account_buffer,
              struct acme_tidy_counts *counts, pthread_mutex_t *lock, const atomic_bool *cancel)
{
	struct tidy t = {.s = s, .st = st, .now = now, .cert_buffer = cert_buffer, .account_buffer = account_buffer,
	                 .counts = counts, .lock = lock};
	struct strlist ids;
	int r;

	strlist_init(&ids);
	if ((r = storage_list(s, ACME_ACCOUNT_PREFIX, &ids)) != 0)
		goto out;
	for (size_t i = 0; i < ids.len && r == 0 && !(cancel && atomic_load(cancel)); i++) {
		if (st)
			pthread_mutex_lock(&st->mu);
		r = tidy_account(&t, ids.items[i]);
		if (st)
			pthread_mutex_unlock(&st->mu);
	}
	if (r == 0)
		r = tidy_eabs(&t, cancel);
out:
	strlist_release(&ids);
	return r;
}
