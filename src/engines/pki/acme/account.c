/* account.c — the directory, new-nonce, and accounts (RFC 8555 7.1.1,
 * 7.2, 7.3): new-account with onlyReturnExisting and External Account
 * Binding, account/:kid (read, contact update, deactivation). */
#include <stdlib.h>
#include <string.h>

#include "acme.h"

#include "clock.h"
#include "eab.h"
#include "encoding.h"
#include "err.h"
#include "jwk.h"
#include "rand.h"
#include "secure.h"
#include "timefmt.h"

#include "banned.h"

int acme_h_directory(struct request *req, struct response *resp)
{
	struct acme_ctx c;
	int r = acme_begin(&c, req, resp, false, false, false);
	if (r == 0) {
		const char *eab = json_string_value(json_object_get(c.cfg, "eab_policy")) ?: "not-required";
		json_t *d =
		    json_pack("{s:s+, s:s+, s:s+, s:s+, s:s+, s:{s:b}}", "newNonce", c.base, "new-nonce",
		              "newAccount", c.base, "new-account", "newOrder", c.base, "new-order",
		              "revokeCert", c.base, "revoke-cert", "keyChange", c.base, "key-change", "meta",
		              "externalAccountRequired", strcmp(eab, "not-required") != 0);
		r = acme_reply(&c, 200, d, NULL);
	}
	return acme_end(&c, r);
}

int acme_h_nonce(struct request *req, struct response *resp)
{
	struct acme_ctx c;
	int64_t wait = 0;
	int r = acme_begin(&c, req, resp, false, false, false);
	if (r == 0) {
		if (!acme_rate_allow(c.st, "nonce", req->remote_addr, ACME_RATE_NONCES, &wait))
			r = acme_rate_limited(&c, wait, "new nonces");
		else /* RFC 8555 7.2: HEAD 200, GET 204 */
			r = acme_reply(&c, req->op == OP_HEAD ? 200 : 204, NULL, NULL);
	}
	return acme_end(&c, r);
}

json_t *acme_account_json(const struct acme_ctx *c, const json_t *acct)
{
	struct buf b;
	buf_init(&b, STORAGE_MAX_KEY);
	buf_printf(&b, "%saccount/%s/orders", c->base, json_string_value(json_object_get(acct, "id")));
	char *orders = buf_take(&b);
	json_t *o = json_pack("{s:O, s:O, s:s}", "status", json_object_get(acct, "status"), "contact",
	                      json_object_get(acct, "contact"), "orders", orders);
	free(orders);
	return o;
}

/* contact: an array of "mailto:" URLs (RFC 8555 7.3), or absent. */
static int contact_check(struct acme_ctx *c, const json_t *contact)
{
	size_t i;
	json_t *v;
	if (!contact)
		return 0;
	if (!json_is_array(contact) || json_array_size(contact) > 10)
		return acme_problem(c, 400, "malformed", "contact must be an array of at most 10 URLs");
	json_array_foreach(contact, i, v)
	{
		const char *s = json_string_value(v);
		if (!s || strncmp(s, "mailto:", 7) != 0 || json_string_length(v) > 256 || strpbrk(s, "\r\n,"))
			return acme_problem(c, 400, "unsupportedContact", "contact %zu is not a mailto: URL",
			                    i);
	}
	return 0;
}

/* The EAB of a new account, as config/acme's eab_policy asks; the key is
 * used up on success. *kid: its id (caller frees) or NULL. */
static int eab_check(struct acme_ctx *c, char **kid_out)
{
	const char *policy = json_string_value(json_object_get(c->cfg, "eab_policy")) ?: "not-required";
	const json_t *eab = json_object_get(c->payload, "externalAccountBinding");
	json_t *rec = NULL;
	unsigned char *key = NULL;
	size_t key_len = 0;
	char *kid = NULL;
	struct buf err;
	int r = 0;

	*kid_out = NULL;
	if (!eab) {
		if (strcmp(policy, "not-required") != 0)
			return acme_problem(c, 400, "externalAccountRequired",
			                    "this directory requires an external account binding");
		return 0;
	}
	buf_init(&err, 256);
	if (acme_eab_kid(eab, &kid, &err) != 0) {
		r = acme_problem(c, 400, "malformed", "%s", err.data);
		goto out;
	}
	if ((r = acme_get(c->req->storage, ACME_EAB_PREFIX, kid, &rec)) == TROVE_ERR_NOT_FOUND ||
	    (r == 0 &&
	     strcmp(json_string_value(json_object_get(rec, "acme_directory")) ?: "", c->dir) != 0)) {
		r = acme_problem(c, 401, "unauthorized", "unknown EAB key id, or one of another directory");
		goto out;
	}
	if (r != 0)
		goto out;
	const char *k64 = json_string_value(json_object_get(rec, "key")) ?: "";
	if (base64url_decode(k64, strlen(k64), &key, &key_len) != 0) {
		r = TROVE_ERR_INTEGRITY;
		goto out;
	}
	if ((r = acme_eab_verify(eab, key, key_len, c->jws.url, c->jws.jwk_key, &err)) != 0) {
		r = acme_problem(c, r == TROVE_ERR_PERMISSION ? 401 : 400,
		                 r == TROVE_ERR_PERMISSION ? "unauthorized" : "malformed", "%s", err.data);
		goto out;
	}
	char path[STORAGE_MAX_KEY];
	snprintf(path, sizeof(path), "%s%s", ACME_EAB_PREFIX, kid);
	if ((r = storage_delete(c->req->storage, path)) == 0) {
		*kid_out = kid;
		kid = NULL;
	}
out:
	if (key)
		secure_free(key, key_len);
	json_decref(rec);
	free(kid);
	buf_release(&err);
	return r;
}

int acme_h_new_account(struct request *req, struct response *resp)
{
	struct acme_ctx c;
	char tp[ACME_THUMBPRINT_LEN + 1], id[37], created[TIME_TEXT_MAX];
	json_t *idx = NULL, *acct = NULL;
	char *eab_kid = NULL, *loc = NULL;
	struct buf err;
	int r;

	buf_init(&err, 256);
	if ((r = acme_begin(&c, req, resp, true, true, false)) != 0)
		goto out;
	if (!c.payload) {
		r = acme_problem(&c, 400, "malformed", "new-account needs a payload");
		goto out;
	}
	if ((r = acme_jwk_thumbprint(c.jws.jwk, tp, &err)) != 0) {
		r = acme_problem(&c, 400, "badPublicKey", "%s", err.data);
		goto out;
	}
	pthread_mutex_lock(&c.st->mu);
	r = acme_get(req->storage, ACME_THUMB_PREFIX, tp, &idx);
	if (r == 0) { /* the key has an account: answer it (RFC 8555 7.3.1) */
		const char *aid = json_string_value(json_object_get(idx, "id"));
		if ((r = acme_get(req->storage, ACME_ACCOUNT_PREFIX, aid, &acct)) == 0) {
			loc = acme_url(&c, "account/", aid);
			if (strcmp(json_string_value(json_object_get(acct, "directory")) ?: "", c.dir) != 0)
				r = acme_problem(&c, 401, "unauthorized",
				                 "the key has an account in another directory");
			else if (strcmp(json_string_value(json_object_get(acct, "status")) ?: "", "valid") !=
			         0)
				r = acme_problem(&c, 401, "unauthorized", "the account is deactivated");
			else
				r = acme_reply(&c, 200, acme_account_json(&c, acct), loc);
		}
		goto unlock;
	}
	if (r != TROVE_ERR_NOT_FOUND)
		goto unlock;
	if (json_is_true(json_object_get(c.payload, "onlyReturnExisting"))) {
		r = acme_problem(&c, 400, "accountDoesNotExist", "no account for this key");
		goto unlock;
	}
	const json_t *contact = json_object_get(c.payload, "contact");
	if ((r = contact_check(&c, contact)) != 0 || (r = eab_check(&c, &eab_kid)) != 0)
		goto unlock;
	if ((r = rand_uuid(id)) != 0)
		goto unlock;
	time_rfc3339(clock_realtime_s(), created);
	acct = json_pack("{s:s, s:s, s:O, s:s, s:s, s:o, s:s, s:s}", "id", id, "directory", c.dir, "jwk",
	                 c.jws.jwk, "thumbprint", tp, "status", "valid", "contact",
	                 contact ? json_deep_copy(contact) : json_array(), "eab_kid", eab_kid ? eab_kid : "",
	                 "created_on", created);
	json_decref(idx);
	idx = json_pack("{s:s}", "id", id);
	if (!acct || !idx) {
		r = TROVE_ERR_NOMEM;
		goto unlock;
	}
	if ((r = acme_put(req->storage, ACME_ACCOUNT_PREFIX, id, acct)) != 0 ||
	    (r = acme_put(req->storage, ACME_THUMB_PREFIX, tp, idx)) != 0)
		goto unlock;
	loc = acme_url(&c, "account/", id);
	r = acme_reply(&c, 201, acme_account_json(&c, acct), loc);
unlock:
	pthread_mutex_unlock(&c.st->mu);
out:
	free(loc);
	free(eab_kid);
	json_decref(idx);
	json_decref(acct);
	buf_release(&err);
	return acme_end(&c, r);
}

int acme_h_account(struct request *req, struct response *resp)
{
	struct acme_ctx c;
	int r;
	if ((r = acme_begin(&c, req, resp, true, false, false)) != 0 || (r = acme_path_account(&c)) != 0)
		return acme_end(&c, r);
	const json_t *contact = c.payload ? json_object_get(c.payload, "contact") : NULL;
	const char *status = c.payload ? json_string_value(json_object_get(c.payload, "status")) : NULL;
	if (status && strcmp(status, "deactivated") != 0) {
		r = acme_problem(&c, 400, "malformed", "an account's status may only become deactivated");
		return acme_end(&c, r);
	}
	if ((r = contact_check(&c, contact)) != 0)
		return acme_end(&c, r);
	if (contact || status) {
		if (contact)
			json_object_set_new(c.account, "contact", json_deep_copy(contact));
		if (status && strcmp(json_string_value(json_object_get(c.account, "status")) ?: "", status) != 0) {
			char now[TIME_TEXT_MAX];
			time_rfc3339(clock_realtime_s(), now);
			json_object_set_new(c.account, "status", json_string(status));
			json_object_set_new(c.account, "revoked_on", json_string(now)); /* for tidy */
		}
		if ((r = acme_put(req->storage, ACME_ACCOUNT_PREFIX, c.account_id, c.account)) != 0)
			return acme_end(&c, r);
	}
	char *loc = acme_url(&c, "account/", c.account_id);
	r = acme_reply(&c, 200, acme_account_json(&c, c.account), loc);
	free(loc);
	return acme_end(&c, r);
}
