/* issuers.c — the PKI engine's issuers: storage (config/issuer/<id>,
 * config/issuers), chains, import, and the issuers LIST, issuer/:ref,
 * issuer/:ref/{json,der,pem}, config/issuers, root/replace and root
 * (DELETE) routes. */
#include <stdlib.h>
#include <string.h>

#include "pki.h"

#include "engines/kv_util.h"
#include "err.h"
#include "rand.h"

#include "banned.h"

#define CHAIN_MAX 16

int pki_issuer_resolve(struct storage *s, const char *ref, char id[PKI_ID_MAX])
{
	if (strcmp(ref, "default") == 0) {
		json_t *cfg = NULL;
		int r = pki_issuers_config_get(s, &cfg);
		const char *d = r == 0 ? json_string_value(json_object_get(cfg, "default")) : NULL;
		bool ok = d && d[0];
		if (ok)
			snprintf(id, PKI_ID_MAX, "%s", d);
		json_decref(cfg);
		return r != 0 ? r : ok ? 0 : TROVE_ERR_NOT_FOUND;
	}
	return pki_record_resolve(s, PKI_ISSUER_PREFIX, ref, id);
}

int pki_issuer_resolve_reply(struct storage *s, const char *ref, char id[PKI_ID_MAX], struct response *resp)
{
	int r = pki_issuer_resolve(s, ref, id);
	if (r == TROVE_ERR_NOT_FOUND)
		return response_error(resp, TROVE_ERR_INVALID, "unable to find PKI issuer for reference: %s", ref);
	return r;
}

static void issuer_key(struct buf *b, const char *id)
{
	buf_init(b, STORAGE_MAX_KEY);
	buf_printf(b, PKI_ISSUER_PREFIX "%s", id);
}

int pki_issuer_get(struct storage *s, const char *id, json_t **rec)
{
	struct buf key;
	issuer_key(&key, id);
	int r = kv_get_json(s, key.data, rec);
	buf_release(&key);
	return r;
}

int pki_issuer_put(struct storage *s, const json_t *rec)
{
	struct buf key;
	issuer_key(&key, json_string_value(json_object_get(rec, "id")));
	int r = kv_put_json(s, key.data, rec);
	buf_release(&key);
	return r;
}

int pki_issuer_ids(struct storage *s, struct strlist *out)
{
	int r = storage_list(s, PKI_ISSUER_PREFIX, out);
	strlist_sort(out);
	return r;
}

int pki_issuers_config_get(struct storage *s, json_t **cfg)
{
	int r = kv_get_json(s, PKI_ISSUERS_CONFIG, cfg);
	if (r == TROVE_ERR_NOT_FOUND) {
		*cfg = json_pack("{s:s, s:b}", "default", "", "default_follows_latest_issuer", 0);
		r = *cfg ? 0 : TROVE_ERR_NOMEM;
	}
	return r;
}

int pki_issuers_config_put(struct storage *s, const json_t *cfg)
{
	return kv_put_json(s, PKI_ISSUERS_CONFIG, cfg);
}

int pki_issuer_default_set(struct storage *s, const char *id, bool force)
{
	json_t *cfg = NULL;
	int r = pki_issuers_config_get(s, &cfg);
	if (r == 0 && (force || !json_string_length(json_object_get(cfg, "default")) ||
		       json_is_true(json_object_get(cfg, "default_follows_latest_issuer")))) {
		json_object_set_new(cfg, "default", json_string(id));
		r = pki_issuers_config_put(s, cfg);
	}
	json_decref(cfg);
	return r;
}

static X509 *rec_cert(const json_t *rec)
{
	const char *pem = json_string_value(json_object_get(rec, "certificate"));
	X509 *c = NULL;
	if (pem)
		x509_cert_from_pem(pem, strlen(pem), &c);
	return c;
}

int pki_issuer_signer(struct storage *s, const json_t *rec, X509 **cert, EVP_PKEY **key)
{
	const char *kid = json_string_value(json_object_get(rec, "key_id"));
	json_t *krec = NULL;
	int r = 0;
	*key = NULL;
	if (!(*cert = rec_cert(rec)))
		return TROVE_ERR_INTEGRITY;
	if (kid && kid[0] && (r = pki_key_get(s, kid, &krec)) == 0)
		r = pki_key_load(krec, key);
	if (r == TROVE_ERR_NOT_FOUND)
		r = 0;
	json_decref(krec);
	if (r != 0) {
		X509_free(*cert);
		*cert = NULL;
	}
	return r;
}

/* The issuer among ids whose certificate signed c (not c itself), as a
 * new record, or NULL. */
static json_t *find_parent(struct storage *s, const struct strlist *ids, X509 *c, const char *self)
{
	for (size_t i = 0; i < ids->len; i++) {
		json_t *rec = NULL;
		X509 *p;
		if (strcmp(ids->items[i], self) == 0 || pki_issuer_get(s, ids->items[i], &rec) != 0)
			continue;
		p = rec_cert(rec);
		bool ok = p && X509_cmp(p, c) != 0 && x509_issued_by(c, p);
		X509_free(p);
		if (ok)
			return rec;
		json_decref(rec);
	}
	return NULL;
}

int pki_issuer_chain(struct storage *s, const json_t *rec, json_t **chain)
{
	json_t *manual = json_object_get(rec, "manual_chain");
	struct strlist ids;
	json_t *cur = json_incref((json_t *)rec);
	int r = 0;

	*chain = json_array();
	if (json_array_size(manual) > 0) {
		size_t i;
		json_t *v;
		json_array_foreach(manual, i, v) {
			json_t *m = NULL;
			if (pki_issuer_get(s, json_string_value(v) ?: "", &m) == 0)
				json_array_append(*chain, json_object_get(m, "certificate"));
			json_decref(m);
		}
		json_decref(cur);
		return 0;
	}
	strlist_init(&ids);
	r = pki_issuer_ids(s, &ids);
	for (int depth = 0; r == 0 && cur && depth < CHAIN_MAX; depth++) {
		X509 *c = rec_cert(cur);
		json_array_append(*chain, json_object_get(cur, "certificate"));
		json_t *next = NULL;
		if (c && !x509_issued_by(c, c))
			next = find_parent(s, &ids, c, json_string_value(json_object_get(cur, "id")) ?: "");
		X509_free(c);
		json_decref(cur);
		cur = next;
	}
	json_decref(cur);
	strlist_release(&ids);
	return r;
}

int pki_issuer_import(struct storage *s, X509 *cert, const char *name, char id[PKI_ID_MAX], bool *existed,
		      struct response *resp)
{
	struct strlist ids;
	char *pem = NULL, kid[PKI_ID_MAX] = "";
	json_t *rec = NULL;
	bool name_free = true;
	int r;

	*existed = false;
	strlist_init(&ids);
	if ((r = x509_cert_to_pem(cert, &pem)) != 0 || (r = pki_issuer_ids(s, &ids)) != 0)
		goto out;
	if ((r = pki_key_find_public(s, X509_get0_pubkey(cert), kid)) != 0)
		goto out;
	for (size_t i = 0; i < ids.len && !*existed; i++) {
		if (pki_issuer_get(s, ids.items[i], &rec) != 0)
			continue;
		if (strcmp(json_string_value(json_object_get(rec, "certificate")) ?: "", pem) == 0) {
			*existed = true;
			snprintf(id, PKI_ID_MAX, "%s", ids.items[i]);
			/* a key imported after its certificate links them now */
			if (kid[0] && !json_string_length(json_object_get(rec, "key_id"))) {
				json_object_set_new(rec, "key_id", json_string(kid));
				r = pki_issuer_put(s, rec);
			}
		}
		json_decref(rec);
		rec = NULL;
	}
	if (*existed || r != 0)
		goto out;
	if (name && name[0]) {
		if ((r = pki_name_check(name, "issuer_name", resp)) != 0 ||
		    (r = pki_name_free(s, PKI_ISSUER_PREFIX, name, NULL, &name_free)) != 0)
			goto out;
		if (!name_free) {
			r = response_error(resp, TROVE_ERR_INVALID, "issuer_name: an issuer named %s exists", name);
			goto out;
		}
	}
	if ((r = rand_uuid(id)) != 0)
		goto out;
	rec = json_pack("{s:s, s:s, s:s, s:s, s:[], s:s, s:s, s:s, s:[], s:[], s:[]}", "id", id, "name",
			name ? name : "", "key_id", kid, "certificate", pem, "manual_chain", "usage",
			"read-only,issuing-certificates,crl-signing,ocsp-signing", "leaf_not_after_behavior", "err",
			"revocation_signature_algorithm", "", "issuing_certificates", "crl_distribution_points",
			"ocsp_servers");
	if (!rec) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	if ((r = pki_issuer_put(s, rec)) == 0)
		r = pki_issuer_default_set(s, id, false);
out:
	json_decref(rec);
	free(pem);
	strlist_release(&ids);
	return r;
}

/* --- routes --- */

static int issuers_list(struct request *req, struct response *resp)
{
	struct strlist ids;
	json_t *keys = json_array(), *info = json_object(), *cfg = NULL;
	int r;

	strlist_init(&ids);
	if ((r = pki_issuer_ids(req->storage, &ids)) != 0 || (r = pki_issuers_config_get(req->storage, &cfg)) != 0)
		goto out;
	const char *def = json_string_value(json_object_get(cfg, "default")) ?: "";
	for (size_t i = 0; i < ids.len; i++) {
		json_t *rec = NULL;
		X509 *c;
		char serial[X509_SERIAL_TEXT_MAX] = "";
		if (pki_issuer_get(req->storage, ids.items[i], &rec) != 0)
			continue;
		if ((c = rec_cert(rec)))
			x509_serial_text(X509_get0_serialNumber(c), serial);
		X509_free(c);
		json_array_append_new(keys, json_string(ids.items[i]));
		json_object_set_new(info, ids.items[i],
				    json_pack("{s:O, s:b, s:O, s:s}", "issuer_name", json_object_get(rec, "name"),
					      "is_default", strcmp(def, ids.items[i]) == 0, "key_id",
					      json_object_get(rec, "key_id"), "serial_number", serial));
		json_decref(rec);
	}
	if (json_array_size(keys) == 0) {
		r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	response_set_data(resp, json_pack("{s:O, s:O}", "keys", keys, "key_info", info));
out:
	json_decref(cfg);
	json_decref(keys);
	json_decref(info);
	strlist_release(&ids);
	return r;
}

static int issuer_view(struct storage *s, const json_t *rec, struct response *resp)
{
	json_t *chain = NULL;
	int r = pki_issuer_chain(s, rec, &chain);
	if (r != 0)
		return r;
	response_set_data(resp,
			  json_pack("{s:O, s:O, s:O, s:O, s:o, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:b, s:b, s:I, s:s}",
				    "issuer_id", json_object_get(rec, "id"), "issuer_name", json_object_get(rec, "name"),
				    "key_id", json_object_get(rec, "key_id"), "certificate",
				    json_object_get(rec, "certificate"), "ca_chain", chain, "manual_chain",
				    json_object_get(rec, "manual_chain"), "leaf_not_after_behavior",
				    json_object_get(rec, "leaf_not_after_behavior"), "usage", json_object_get(rec, "usage"),
				    "revocation_signature_algorithm", json_object_get(rec, "revocation_signature_algorithm"),
				    "issuing_certificates", json_object_get(rec, "issuing_certificates"),
				    "crl_distribution_points", json_object_get(rec, "crl_distribution_points"),
				    "ocsp_servers", json_object_get(rec, "ocsp_servers"), "enable_aia_url_templating", 0,
				    "revoked", json_is_true(json_object_get(rec, "revoked")), "revocation_time",
				    json_integer_value(json_object_get(rec, "revocation_time")), "revocation_time_rfc3339",
				    json_string_value(json_object_get(rec, "revocation_time_utc")) ?: ""));
	return 0;
}

static int issuer_load_ref(struct request *req, struct response *resp, json_t **rec)
{
	char id[PKI_ID_MAX];
	int r = pki_issuer_resolve_reply(req->storage, request_param(req, "ref"), id, resp);
	return r != 0 ? r : pki_issuer_get(req->storage, id, rec);
}

static int issuer_read(struct request *req, struct response *resp)
{
	json_t *rec = NULL;
	int r = issuer_load_ref(req, resp, &rec);
	if (r == 0)
		r = issuer_view(req->storage, rec, resp);
	json_decref(rec);
	return r;
}

bool pki_issuer_may_issue(const json_t *rec)
{
	return strstr(json_string_value(json_object_get(rec, "usage")) ?: "", "issuing-certificates") &&
	       !json_is_true(json_object_get(rec, "revoked"));
}

static bool usage_valid(const char *u)
{
	static const char *const ok[] = {"read-only", "issuing-certificates", "crl-signing", "ocsp-signing"};
	char *copy = xstrdup(u), *save = NULL;
	bool valid = true;
	for (char *t = strtok_r(copy, ",", &save); t && valid; t = strtok_r(NULL, ",", &save)) {
		bool known = false;
		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
			known |= strcmp(t, ok[i]) == 0;
		valid = known;
	}
	free(copy);
	return valid;
}

static int issuer_update(struct request *req, struct response *resp)
{
	static const char *const url_fields[] = {"issuing_certificates", "crl_distribution_points", "ocsp_servers"};
	json_t *rec = NULL;
	const char *self;
	bool name_free;
	int r;

	if ((r = issuer_load_ref(req, resp, &rec)) != 0)
		goto out;
	self = json_string_value(json_object_get(rec, "id"));
	if (field_present(req, "issuer_name")) {
		const char *name = field_string(req, "issuer_name");
		if (name[0] && ((r = pki_name_check(name, "issuer_name", resp)) != 0 ||
				(r = pki_name_free(req->storage, PKI_ISSUER_PREFIX, name, self, &name_free)) != 0))
			goto out;
		if (name[0] && !name_free) {
			r = response_error(resp, TROVE_ERR_INVALID, "issuer_name: an issuer named %s exists", name);
			goto out;
		}
		json_object_set_new(rec, "name", json_string(name));
	}
	if (field_present(req, "leaf_not_after_behavior")) {
		const char *b = field_string(req, "leaf_not_after_behavior");
		if (strcmp(b, "err") && strcmp(b, "truncate") && strcmp(b, "permit")) {
			r = response_error(resp, TROVE_ERR_INVALID, "leaf_not_after_behavior: must be err, truncate or permit");
			goto out;
		}
		json_object_set_new(rec, "leaf_not_after_behavior", json_string(b));
	}
	if (field_present(req, "usage")) {
		json_t *l = json_object_get(req->data, "usage");
		struct buf u;
		size_t i;
		json_t *v;
		buf_init(&u, 256);
		json_array_foreach(l, i, v) buf_printf(&u, "%s%s", i ? "," : "", json_string_value(v));
		bool ok = usage_valid(u.len ? u.data : "");
		bool regain = ok && json_is_true(json_object_get(rec, "revoked")) && strstr(u.data ? u.data : "",
											     "issuing-certificates");
		if (ok && !regain)
			json_object_set_new(rec, "usage", json_string(u.len ? u.data : ""));
		buf_release(&u);
		if (!ok) {
			r = response_error(resp, TROVE_ERR_INVALID,
					   "usage: each must be read-only, issuing-certificates, crl-signing or ocsp-signing");
			goto out;
		}
		if (regain) {
			r = response_error(resp, TROVE_ERR_INVALID,
					   "usage: a revoked issuer cannot be given issuing-certificates again");
			goto out;
		}
	}
	if (field_present(req, "manual_chain")) {
		json_t *l = json_object_get(req->data, "manual_chain"), *ids = json_array(), *v;
		size_t i;
		json_array_foreach(l, i, v) {
			char id[PKI_ID_MAX];
			const char *ref = json_string_value(v);
			if (strcmp(ref, "self") == 0)
				ref = self;
			if ((r = pki_issuer_resolve_reply(req->storage, ref, id, resp)) != 0) {
				json_decref(ids);
				goto out;
			}
			json_array_append_new(ids, json_string(id));
		}
		if (json_array_size(ids) && strcmp(json_string_value(json_array_get(ids, 0)), self) != 0) {
			json_decref(ids);
			r = response_error(resp, TROVE_ERR_INVALID, "manual_chain: must begin with the issuer itself");
			goto out;
		}
		json_object_set_new(rec, "manual_chain", ids);
	}
	if (field_present(req, "revocation_signature_algorithm"))
		json_object_set_new(rec, "revocation_signature_algorithm",
				    json_string(field_string(req, "revocation_signature_algorithm")));
	for (size_t i = 0; i < sizeof(url_fields) / sizeof(url_fields[0]); i++) {
		if (!field_present(req, url_fields[i]))
			continue;
		json_t *l = json_object_get(req->data, url_fields[i]), *v;
		size_t j;
		json_array_foreach(l, j, v) {
			const char *url = json_string_value(v);
			if (!x509_value_safe(url) || !strstr(url, "://")) {
				r = response_error(resp, TROVE_ERR_INVALID, "%s: not a URL", url_fields[i]);
				goto out;
			}
		}
		json_object_set(rec, url_fields[i], l);
	}
	if ((r = pki_issuer_put(req->storage, rec)) == 0)
		r = issuer_view(req->storage, rec, resp);
out:
	json_decref(rec);
	return r;
}

static int issuer_delete(struct request *req, struct response *resp)
{
	char id[PKI_ID_MAX];
	json_t *cfg = NULL;
	struct buf key;
	int r = pki_issuer_resolve(req->storage, request_param(req, "ref"), id);

	(void)resp;
	if (r == TROVE_ERR_NOT_FOUND)
		return 0; /* Vault: deleting what is not there succeeds */
	if (r != 0)
		return r;
	issuer_key(&key, id);
	r = storage_delete(req->storage, key.data);
	buf_release(&key);
	if (r == 0 && (r = pki_issuers_config_get(req->storage, &cfg)) == 0 &&
	    strcmp(json_string_value(json_object_get(cfg, "default")) ?: "", id) == 0) {
		json_object_set_new(cfg, "default", json_string(""));
		r = pki_issuers_config_put(req->storage, cfg);
	}
	json_decref(cfg);
	return r;
}

/* issuer/:ref/json|der|pem: the certificate alone (json also the chain). */
static int issuer_cert_read(struct request *req, struct response *resp)
{
	const char *form = strrchr(req->rel, '/') + 1;
	json_t *rec = NULL, *chain = NULL;
	int r;

	if ((r = issuer_load_ref(req, resp, &rec)) != 0)
		goto out;
	if (strcmp(form, "json") == 0) {
		if ((r = pki_issuer_chain(req->storage, rec, &chain)) != 0)
			goto out;
		response_set_data(resp, json_pack("{s:O, s:O, s:O, s:O, s:i}", "certificate",
						  json_object_get(rec, "certificate"), "ca_chain", chain, "issuer_id",
						  json_object_get(rec, "id"), "issuer_name", json_object_get(rec, "name"),
						  "revocation_time", 0));
	} else {
		r = pki_reply_raw_cert(resp, json_string_value(json_object_get(rec, "certificate")) ?: "",
				       strcmp(form, "der") == 0);
	}
out:
	json_decref(chain);
	json_decref(rec);
	return r;
}

static int config_issuers_read(struct request *req, struct response *resp)
{
	json_t *cfg = NULL;
	int r = pki_issuers_config_get(req->storage, &cfg);
	if (r == 0)
		response_set_data(resp, json_pack("{s:O, s:b}", "default", json_object_get(cfg, "default"),
						  "default_follows_latest_issuer",
						  json_is_true(json_object_get(cfg, "default_follows_latest_issuer"))));
	json_decref(cfg);
	return r;
}

static int config_issuers_write(struct request *req, struct response *resp)
{
	json_t *cfg = NULL;
	char id[PKI_ID_MAX];
	int r = pki_issuers_config_get(req->storage, &cfg);
	if (r != 0)
		goto out;
	if (field_present(req, "default")) {
		const char *ref = field_string(req, "default");
		if (strcmp(ref, "default") == 0) {
			r = response_error(resp, TROVE_ERR_INVALID, "default: name an issuer, not \"default\"");
			goto out;
		}
		if ((r = pki_issuer_resolve_reply(req->storage, ref, id, resp)) != 0)
			goto out;
		json_object_set_new(cfg, "default", json_string(id));
	}
	if (field_present(req, "default_follows_latest_issuer"))
		json_object_set_new(cfg, "default_follows_latest_issuer",
				    json_boolean(field_bool(req, "default_follows_latest_issuer")));
	if ((r = pki_issuers_config_put(req->storage, cfg)) == 0)
		r = config_issuers_read(req, resp);
out:
	json_decref(cfg);
	return r;
}

/* root/replace: the default issuer becomes the one named (default "next"
 * is not supported: Vault's own default value names an issuer). */
static int root_replace(struct request *req, struct response *resp)
{
	char id[PKI_ID_MAX];
	int r = pki_issuer_resolve_reply(req->storage, field_string(req, "default"), id, resp);
	if (r == 0 && (r = pki_issuer_default_set(req->storage, id, true)) == 0)
		r = config_issuers_read(req, resp);
	return r;
}

/* DELETE root: every issuer and key of the mount goes (Vault's "delete
 * all CA material"); issued certificates stay in the store. */
static int root_delete(struct request *req, struct response *resp)
{
	int r;
	(void)resp;
	if ((r = storage_delete_prefix(req->storage, PKI_ISSUER_PREFIX)) != 0 ||
	    (r = storage_delete_prefix(req->storage, PKI_KEY_PREFIX)) != 0)
		return r;
	if ((r = storage_delete(req->storage, PKI_ISSUERS_CONFIG)) != 0 && r != TROVE_ERR_NOT_FOUND)
		return r;
	r = storage_delete(req->storage, PKI_KEYS_CONFIG);
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

static const struct field issuer_fields[] = {
    {.name = "issuer_name", .type = FIELD_STRING, .description = "the issuer's name, unique in the mount"},
    {.name = "leaf_not_after_behavior", .type = FIELD_STRING, .description = "err, truncate or permit"},
    {.name = "usage", .type = FIELD_STRLIST, .description = "what the issuer may do"},
    {.name = "manual_chain", .type = FIELD_STRLIST, .description = "the chain, by issuer reference"},
    {.name = "revocation_signature_algorithm", .type = FIELD_STRING, .description = "CRL/OCSP signature"},
    {.name = "issuing_certificates", .type = FIELD_STRLIST, .description = "AIA CA issuers URLs"},
    {.name = "crl_distribution_points", .type = FIELD_STRLIST, .description = "CRL distribution URLs"},
    {.name = "ocsp_servers", .type = FIELD_STRLIST, .description = "OCSP responder URLs"},
    {0},
};

static const struct field config_issuers_fields[] = {
    {.name = "default", .type = FIELD_STRING, .description = "the default issuer's reference"},
    {.name = "default_follows_latest_issuer", .type = FIELD_BOOL, .description = "new issuers become default"},
    {0},
};

static const struct field replace_fields[] = {
    {.name = "default", .type = FIELD_STRING, .def = "next", .description = "the new default issuer"},
    {0},
};

const struct route pki_issuer_routes[] = {
    {.pattern = "issuers", .ops = {[OP_LIST] = issuers_list}, .flags = ROUTE_UNAUTH, .synopsis = "the issuers of the mount"},
    {.pattern = "issuer/:ref",
     .ops = {[OP_READ] = issuer_read, [OP_UPDATE] = issuer_update, [OP_PATCH] = issuer_update,
	     [OP_DELETE] = issuer_delete},
     .fields = issuer_fields,
     .synopsis = "an issuer by id, name or \"default\""},
    {.pattern = "issuer/:ref/json", .ops = {[OP_READ] = issuer_cert_read}, .flags = ROUTE_UNAUTH,
     .synopsis = "an issuer's certificate and chain"},
    {.pattern = "issuer/:ref/der", .ops = {[OP_READ] = issuer_cert_read}, .flags = ROUTE_UNAUTH,
     .synopsis = "an issuer's certificate, DER"},
    {.pattern = "issuer/:ref/pem", .ops = {[OP_READ] = issuer_cert_read}, .flags = ROUTE_UNAUTH,
     .synopsis = "an issuer's certificate, PEM"},
    {.pattern = "config/issuers", .ops = {[OP_READ] = config_issuers_read, [OP_UPDATE] = config_issuers_write},
     .fields = config_issuers_fields, .synopsis = "the default issuer"},
    {.pattern = "root", .ops = {[OP_DELETE] = root_delete}, .flags = ROUTE_SUDO, .synopsis = "delete every issuer and key"},
    {.pattern = "root/replace", .ops = {[OP_UPDATE] = root_replace}, .fields = replace_fields,
     .synopsis = "make an issuer the default"},
    {0},
};
