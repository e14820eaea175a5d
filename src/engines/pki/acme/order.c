/* order.c — orders (RFC 8555 7.1.3, 7.4): new-order with the directory's
 * name policy, order/:id, account/:kid/orders, finalize and the
 * certificate download. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "acme.h"

#include "challenge.h"
#include "clock.h"
#include "encoding.h"
#include "engines/kv_util.h"
#include "engines/pki/names.h"
#include "engines/pki/role.h"
#include "err.h"
#include "rand.h"
#include "timefmt.h"

#include "banned.h"

#define TOKEN_BYTES 32

static void expires_text(const json_t *rec, char out[TIME_TEXT_MAX])
{
	time_rfc3339((int64_t)json_integer_value(json_object_get(rec, "expires")), out);
}

json_t *acme_order_json(const struct acme_ctx *c, const json_t *order)
{
	char exp[TIME_TEXT_MAX];
	const char *id = json_string_value(json_object_get(order, "id"));
	json_t *authz = json_array(), *v;
	size_t i;
	json_array_foreach(json_object_get(order, "authorizations"), i, v)
	    json_array_append_new(authz, acme_url_json(c, "authorization/", json_string_value(v)));
	expires_text(order, exp);
	char *fin = acme_url(c, "order/", id);
	size_t n = strlen(fin);
	json_t *o =
	    json_pack("{s:O, s:s, s:O, s:o}", "status", json_object_get(order, "status"), "expires", exp,
	              "identifiers", json_object_get(order, "identifiers"), "authorizations", authz);
	struct buf b;
	buf_init(&b, STORAGE_MAX_KEY);
	buf_append(&b, fin, n);
	buf_append_str(&b, "/finalize");
	json_object_set_new(o, "finalize", json_string(b.data));
	if (strcmp(json_string_value(json_object_get(order, "status")) ?: "", "valid") == 0) {
		buf_reset(&b);
		buf_append(&b, fin, n);
		buf_append_str(&b, "/cert");
		json_object_set_new(o, "certificate", json_string(b.data));
	}
	if (json_object_get(order, "error"))
		json_object_set(o, "error", json_object_get(order, "error"));
	buf_release(&b);
	free(fin);
	return o;
}

int acme_order_refresh(struct storage *s, json_t *order)
{
	const char *status = json_string_value(json_object_get(order, "status")) ?: "";
	const char *acct = json_string_value(json_object_get(order, "account"));
	const char *next = NULL;
	size_t i;
	json_t *v;

	if (strcmp(status, "pending") != 0 && strcmp(status, "ready") != 0)
		return 0;
	if (acme_expired(order, clock_realtime_s())) {
		next = "invalid";
	} else if (strcmp(status, "pending") == 0) {
		bool all_valid = true;
		json_array_foreach(json_object_get(order, "authorizations"), i, v)
		{
			char rid[ACME_REC_ID_MAX];
			json_t *a = NULL;
			acme_rec_id(rid, acct, json_string_value(v));
			int r = acme_get(s, ACME_AUTHZ_PREFIX, rid, &a);
			if (r != 0)
				return r;
			const char *as = json_string_value(json_object_get(a, "status")) ?: "";
			if (strcmp(as, "valid") != 0)
				all_valid = false;
			if (strcmp(as, "invalid") == 0 || strcmp(as, "deactivated") == 0 ||
			    (strcmp(as, "pending") == 0 && acme_expired(a, clock_realtime_s())))
				next = "invalid";
			json_decref(a);
		}
		if (!next && all_valid)
			next = "ready";
	}
	if (!next)
		return 0;
	json_object_set_new(order, "status", json_string(next));
	char rid[ACME_REC_ID_MAX];
	acme_rec_id(rid, acct, json_string_value(json_object_get(order, "id")));
	return acme_put(s, ACME_ORDER_PREFIX, rid, order);
}

/* One identifier of a new order, checked and in canonical form
 * (*value the caller's); answers rejectedIdentifier/unsupportedIdentifier. */
static int identifier_check(struct acme_ctx *c, const struct pki_role *role, const json_t *id, char **value,
                            bool *ip)
{
	const char *type = json_string_value(json_object_get(id, "type"));
	const char *v = json_string_value(json_object_get(id, "value"));
	*value = NULL;
	if (!type || !v)
		return acme_problem(c, 400, "malformed", "an identifier needs a type and a value");
	if (strcmp(type, "ip") == 0) {
		unsigned char a[16];
		char text[INET6_ADDRSTRLEN];
		int fam = strchr(v, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(fam, v, a) != 1 || !inet_ntop(fam, a, text, sizeof(text)))
			return acme_problem(c, 400, "malformed", "identifier %.64s is not an IP address", v);
		if (role && !role->allow_ip_sans)
			return acme_problem(c, 400, "rejectedIdentifier",
			                    "IP identifiers are not allowed by role %s", c->role);
		*ip = true;
		*value = xstrdup(text);
		return 0;
	}
	if (strcmp(type, "dns") != 0)
		return acme_problem(c, 400, "unsupportedIdentifier", "identifier type %.16s is not supported",
		                    type);
	char *canon = pki_name_canon(v);
	if (!canon || !pki_hostname_ok(canon, true) || (strchr(canon, '*') && strncmp(canon, "*.", 2) != 0)) {
		free(canon);
		return acme_problem(c, 400, "rejectedIdentifier", "identifier %.256s is not a valid DNS name",
		                    v);
	}
	if (role && !pki_name_allowed(role, canon, NULL, NULL)) {
		int r = acme_problem(c, 400, "rejectedIdentifier", "identifier %s is not allowed by role %s",
		                     canon, c->role);
		free(canon);
		return r;
	}
	*ip = false;
	*value = canon;
	return 0;
}

/* A new authorization for one identifier, stored; its id into id. */
static int authz_create(struct acme_ctx *c, const char *value, bool ip, int64_t expires, const char *order_id,
                        char id[37])
{
	static const char *const types[] = {"http-01", "dns-01", "tls-alpn-01"};
	static const enum acme_challenge_type kinds[] = {ACME_CHALLENGE_HTTP01, ACME_CHALLENGE_DNS01,
	                                                 ACME_CHALLENGE_TLS_ALPN01};
	bool wild = strncmp(value, "*.", 2) == 0;
	json_t *chs = json_array();
	struct buf err;
	int r;

	if ((r = rand_uuid(id)) != 0) {
		json_decref(chs);
		return r;
	}
	buf_init(&err, 128);
	for (size_t i = 0; i < 3; i++) {
		unsigned char tok[TOKEN_BYTES];
		buf_reset(&err);
		if (acme_challenge_allowed(kinds[i], ip ? ACME_ID_IP : ACME_ID_DNS, value, &err) != 0)
			continue;
		if ((r = rand_bytes(tok, sizeof(tok))) != 0)
			break;
		char *t = base64url_encode(tok, sizeof(tok));
		json_array_append_new(chs, json_pack("{s:s, s:s, s:s, s:i}", "type", types[i], "token", t,
		                                     "status", "pending", "tries", 0));
		free(t);
	}
	buf_release(&err);
	json_t *a = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:b, s:s, s:I, s:o}", "id", id, "account",
	                      c->account_id, "order", order_id, "identifier", "type", ip ? "ip" : "dns",
	                      "value", wild ? value + 2 : value, "wildcard", wild, "status", "pending",
	                      "expires", (json_int_t)expires, "challenges", chs);
	char rid[ACME_REC_ID_MAX];
	acme_rec_id(rid, c->account_id, id);
	if (r == 0)
		r = a ? acme_put(c->req->storage, ACME_AUTHZ_PREFIX, rid, a) : TROVE_ERR_NOMEM;
	json_decref(a);
	return r;
}

int acme_h_new_order(struct request *req, struct response *resp)
{
	struct acme_ctx c;
	struct pki_role role, *rp = NULL;
	struct strlist existing;
	json_t *ids = json_array(), *authz = json_array(), *order = NULL;
	char oid[37], prefix[ACME_REC_ID_MAX];
	int64_t wait = 0, expires = clock_realtime_s() + ACME_ORDER_LIFETIME_S;
	size_t i;
	json_t *v;
	int r;

	pki_role_init(&role);
	strlist_init(&existing);
	if ((r = acme_begin(&c, req, resp, true, false, false)) != 0)
		goto out;
	if (!acme_rate_allow(c.st, "order", c.account_id, ACME_RATE_ORDERS, &wait)) {
		r = acme_rate_limited(&c, wait, "new orders");
		goto out;
	}
	acme_rec_id(prefix, c.account_id, "");
	{
		char p[ACME_REC_ID_MAX + 32];
		snprintf(p, sizeof(p), "%s%s", ACME_ORDER_PREFIX, prefix);
		if ((r = storage_list(req->storage, p, &existing)) != 0)
			goto out;
	}
	if (existing.len >= ACME_MAX_ORDERS) {
		r = acme_problem(&c, 429, "rateLimited", "the account holds %d orders, the most kept",
		                 ACME_MAX_ORDERS);
		goto out;
	}
	const json_t *in = c.payload ? json_object_get(c.payload, "identifiers") : NULL;
	if (!json_is_array(in) || json_array_size(in) == 0 || json_array_size(in) > ACME_MAX_IDENTIFIERS) {
		r = acme_problem(&c, 400, "malformed", "identifiers must be an array of 1 to %d identifiers",
		                 ACME_MAX_IDENTIFIERS);
		goto out;
	}
	if (json_object_get(c.payload, "notBefore") || json_object_get(c.payload, "notAfter")) {
		r = acme_problem(&c, 400, "malformed", "notBefore and notAfter are not supported");
		goto out;
	}
	if (c.role) {
		pki_role_release(&role);
		if ((r = pki_role_load(req->storage, c.role, &role)) != 0)
			goto out;
		rp = &role;
	}
	json_array_foreach(in, i, v)
	{
		char *value = NULL;
		bool ip = false;
		if ((r = identifier_check(&c, rp, v, &value, &ip)) != 0)
			goto out;
		bool dup = false;
		size_t j;
		json_t *w;
		json_array_foreach(ids, j, w) dup |=
		    strcmp(json_string_value(json_object_get(w, "value")), value) == 0;
		if (!dup)
			json_array_append_new(
			    ids, json_pack("{s:s, s:s}", "type", ip ? "ip" : "dns", "value", value));
		free(value);
	}
	if ((r = rand_uuid(oid)) != 0)
		goto out;
	json_array_foreach(ids, i, v)
	{
		char aid[37];
		if ((r = authz_create(&c, json_string_value(json_object_get(v, "value")),
		                      strcmp(json_string_value(json_object_get(v, "type")), "ip") == 0,
		                      expires, oid, aid)) != 0)
			goto out;
		json_array_append_new(authz, json_string(aid));
	}
	order = json_pack("{s:s, s:s, s:s, s:s, s:I, s:O, s:O, s:s}", "id", oid, "account", c.account_id,
	                  "directory", c.dir, "status", "pending", "expires", (json_int_t)expires,
	                  "identifiers", ids, "authorizations", authz, "serial", "");
	char rid[ACME_REC_ID_MAX];
	acme_rec_id(rid, c.account_id, oid);
	if (!order || (r = acme_put(req->storage, ACME_ORDER_PREFIX, rid, order)) != 0) {
		r = r ? r : TROVE_ERR_NOMEM;
		goto out;
	}
	char *loc = acme_url(&c, "order/", oid);
	r = acme_reply(&c, 201, acme_order_json(&c, order), loc);
	free(loc);
out:
	pki_role_release(&role);
	strlist_release(&existing);
	json_decref(ids);
	json_decref(authz);
	json_decref(order);
	return acme_end(&c, r);
}

/* The order :order_id of the signing account, brought up to date (under
 * st->mu); answers a problem when there is none. */
static int order_load(struct acme_ctx *c, json_t **order)
{
	char rid[ACME_REC_ID_MAX];
	acme_rec_id(rid, c->account_id, request_param(c->req, "order_id"));
	int r = acme_get(c->req->storage, ACME_ORDER_PREFIX, rid, order);
	if (r == TROVE_ERR_NOT_FOUND)
		return acme_problem(c, 404, "malformed", "no such order");
	if (r == 0 && strcmp(json_string_value(json_object_get(*order, "directory")) ?: "", c->dir) != 0)
		return acme_problem(c, 404, "malformed", "no such order in this directory");
	return r ? r : acme_order_refresh(c->req->storage, *order);
}

int acme_h_order(struct request *req, struct response *resp)
{
	struct acme_ctx c;
	json_t *order = NULL;
	int r;
	if ((r = acme_begin(&c, req, resp, true, false, false)) == 0) {
		pthread_mutex_lock(&c.st->mu);
		if ((r = order_load(&c, &order)) == 0) {
			char *loc = acme_url(&c, "order/", json_string_value(json_object_get(order, "id")));
			r = acme_reply(&c, 200, acme_order_json(&c, order), loc);
			free(loc);
		}
		pthread_mutex_unlock(&c.st->mu);
	}
	json_decref(order);
	return acme_end(&c, r);
}

int acme_h_orders(struct request *req, struct response *resp)
{
	struct acme_ctx c;
	struct strlist ids;
	int r;
	strlist_init(&ids);
	if ((r = acme_begin(&c, req, resp, true, false, false)) == 0 && (r = acme_path_account(&c)) == 0) {
		char p[ACME_REC_ID_MAX + 32], prefix[ACME_REC_ID_MAX];
		acme_rec_id(prefix, c.account_id, "");
		snprintf(p, sizeof(p), "%s%s", ACME_ORDER_PREFIX, prefix);
		if ((r = storage_list(req->storage, p, &ids)) == 0) {
			json_t *urls = json_array();
			for (size_t i = 0; i < ids.len; i++)
				json_array_append_new(urls, acme_url_json(&c, "order/", ids.items[i]));
			r = acme_reply(&c, 200, json_pack("{s:o}", "orders", urls), NULL);
		}
	}
	strlist_release(&ids);
	return acme_end(&c, r);
}

int acme_h_finalize(struct request *req, struct response *resp)
{
	struct acme_ctx c;
	json_t *order = NULL, *who = NULL;
	X509 *cert = NULL;
	char issuer_id[PKI_ID_MAX], serial[X509_SERIAL_TEXT_MAX];
	int r;

	if ((r = acme_begin(&c, req, resp, true, false, false)) != 0)
		goto out;
	pthread_mutex_lock(&c.st->mu);
	if ((r = order_load(&c, &order)) != 0)
		goto unlock;
	if (strcmp(json_string_value(json_object_get(order, "status")) ?: "", "ready") != 0) {
		r = acme_problem(&c, 403, "orderNotReady", "the order is %s, not ready",
		                 json_string_value(json_object_get(order, "status")));
		goto unlock;
	}
	const char *csr = c.payload ? json_string_value(json_object_get(c.payload, "csr")) : NULL;
	if (!csr) {
		r = acme_problem(&c, 400, "malformed", "csr: missing");
		goto unlock;
	}
	if ((r = acme_issue(&c, order, csr, &cert, issuer_id)) != 0)
		goto unlock;
	if ((r = x509_serial_text(X509_get0_serialNumber(cert), serial)) != 0)
		goto unlock;
	json_object_set_new(order, "status", json_string("valid"));
	json_object_set_new(order, "serial", json_string(serial));
	json_object_set_new(order, "cert_expiry", json_integer(x509_not_after(cert))); /* for tidy */
	json_object_set_new(order, "issuer_id", json_string(issuer_id));
	char rid[ACME_REC_ID_MAX];
	acme_rec_id(rid, c.account_id, json_string_value(json_object_get(order, "id")));
	who = json_pack("{s:s, s:s}", "account", c.account_id, "order",
	                json_string_value(json_object_get(order, "id")));
	for (char *p = serial; *p; p++)
		if (*p == ':')
			*p = '-';
	if ((r = acme_put(req->storage, ACME_ORDER_PREFIX, rid, order)) != 0 ||
	    (r = acme_put(req->storage, ACME_CERT_PREFIX, serial, who)) != 0)
		goto unlock;
	char *loc = acme_url(&c, "order/", json_string_value(json_object_get(order, "id")));
	r = acme_reply(&c, 200, acme_order_json(&c, order), loc);
	free(loc);
unlock:
	pthread_mutex_unlock(&c.st->mu);
out:
	X509_free(cert);
	json_decref(order);
	json_decref(who);
	return acme_end(&c, r);
}

int acme_h_cert(struct request *req, struct response *resp)
{
	struct acme_ctx c;
	json_t *order = NULL, *rec = NULL, *iss = NULL, *chain = NULL;
	struct buf pem;
	int r;

	buf_init(&pem, (size_t)1 << 20);
	if ((r = acme_begin(&c, req, resp, true, false, false)) != 0)
		goto out;
	pthread_mutex_lock(&c.st->mu);
	r = order_load(&c, &order);
	pthread_mutex_unlock(&c.st->mu);
	if (r != 0)
		goto out;
	if (strcmp(json_string_value(json_object_get(order, "status")) ?: "", "valid") != 0) {
		r = acme_problem(&c, 403, "orderNotReady", "the order has no certificate");
		goto out;
	}
	char key[STORAGE_MAX_KEY];
	snprintf(key, sizeof(key), "%s%s", PKI_CERT_PREFIX,
	         json_string_value(json_object_get(order, "serial")));
	for (char *p = key + strlen(PKI_CERT_PREFIX); *p; p++)
		if (*p == ':')
			*p = '-';
	if ((r = kv_get_json(req->storage, key, &rec)) != 0 ||
	    (r = pki_issuer_get(req->storage, json_string_value(json_object_get(order, "issuer_id")),
	                        &iss)) != 0 ||
	    (r = pki_issuer_chain(req->storage, iss, &chain)) != 0) {
		if (r == TROVE_ERR_NOT_FOUND)
			r = acme_problem(&c, 404, "malformed", "the certificate is no longer stored");
		goto out;
	}
	buf_append_str(&pem, json_string_value(json_object_get(rec, "certificate")) ?: "");
	size_t i;
	json_t *v;
	json_array_foreach(chain, i, v)
	{
		if (pem.len && pem.data[pem.len - 1] != '\n')
			buf_append_byte(&pem, '\n');
		buf_append_str(&pem, json_string_value(v));
	}
	if (pem.len && pem.data[pem.len - 1] != '\n')
		buf_append_byte(&pem, '\n');
	acme_reply(&c, 200, NULL, NULL);
	resp->text = buf_take(&pem);
	resp->text_type = "application/pem-certificate-chain";
	r = 0;
out:
	buf_release(&pem);
	json_decref(order);
	json_decref(rec);
	json_decref(iss);
	json_decref(chain);
	return acme_end(&c, r);
}
