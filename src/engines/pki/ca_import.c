/* ca_import.c — bringing CAs in: intermediate/set-signed (the signed
 * intermediate joins its key), issuers/import/bundle and config/ca (PEM
 * bundles of certificates and keys; what exists is not duplicated). */
#include <stdlib.h>
#include <string.h>

#include "pki.h"

#include "err.h"
#include "secure.h"

#include "banned.h"

static json_t *list_or_null(json_t *a)
{
	if (json_array_size(a) > 0)
		return a;
	json_decref(a);
	return json_null();
}

/* Imports the keys, then the certificates of a PEM bundle, answering
 * Vault's imported_issuers, imported_keys, existing_issuers,
 * existing_keys and mapping (issuer id -> key id). */
static int import_pem(struct request *req, struct response *resp, const char *field, bool need_cert)
{
	const char *pem = field_string(req, field);
	struct strlist certs, keys;
	json_t *new_iss = json_array(), *new_keys = json_array(), *old_iss = json_array(), *old_keys = json_array();
	json_t *mapping = json_object();
	const char *why = NULL;
	int r;

	strlist_init(&certs);
	strlist_init(&keys);
	if ((r = x509_pem_bundle_split(pem, strlen(pem), &certs, &keys, &why)) != 0) {
		r = response_error(resp, r, "%s: %s", field, strchr(why, ':') ? strchr(why, ':') + 2 : why);
		goto out;
	}
	if (need_cert && certs.len == 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "%s: no certificate found", field);
		goto out;
	}
	for (size_t i = 0; i < keys.len; i++) {
		EVP_PKEY *k = NULL;
		char id[PKI_ID_MAX];
		bool existed;
		if ((r = x509_key_from_pem(keys.items[i], strlen(keys.items[i]), &k)) == 0)
			r = pki_key_import(req->storage, k, NULL, id, &existed, resp);
		EVP_PKEY_free(k);
		if (r != 0)
			goto out;
		json_array_append_new(existed ? old_keys : new_keys, json_string(id));
	}
	for (size_t i = 0; i < certs.len; i++) {
		X509 *c = NULL;
		json_t *rec = NULL;
		char id[PKI_ID_MAX];
		bool existed;
		if ((r = x509_cert_from_pem(certs.items[i], strlen(certs.items[i]), &c)) == 0)
			r = pki_issuer_import(req->storage, c, NULL, id, &existed, resp);
		X509_free(c);
		if (r == 0)
			r = pki_issuer_get(req->storage, id, &rec);
		if (r != 0)
			goto out;
		json_array_append_new(existed ? old_iss : new_iss, json_string(id));
		json_object_set(mapping, id, json_object_get(rec, "key_id"));
		json_decref(rec);
	}
	response_set_data(resp, json_pack("{s:o, s:o, s:o, s:o, s:O}", "imported_issuers", list_or_null(new_iss),
					  "imported_keys", list_or_null(new_keys), "existing_issuers",
					  list_or_null(old_iss), "existing_keys", list_or_null(old_keys), "mapping",
					  mapping));
	new_iss = new_keys = old_iss = old_keys = NULL;
out:
	json_decref(new_iss);
	json_decref(new_keys);
	json_decref(old_iss);
	json_decref(old_keys);
	json_decref(mapping);
	strlist_release(&certs);
	for (size_t i = 0; i < keys.len; i++) /* PEM private keys */
		secure_wipe(keys.items[i], strlen(keys.items[i]));
	strlist_release(&keys);
	return r;
}

static int set_signed(struct request *req, struct response *resp)
{
	return import_pem(req, resp, "certificate", true);
}

static int import_bundle(struct request *req, struct response *resp)
{
	return import_pem(req, resp, "pem_bundle", false);
}

static const struct field set_signed_fields[] = {
    {.name = "certificate", .type = FIELD_STRING, .required = true,
     .description = "the signed intermediate (and its chain), PEM"},
    {0},
};

static const struct field bundle_fields[] = {
    {.name = "pem_bundle", .type = FIELD_STRING, .required = true, .sensitive = true,
     .description = "certificates and private keys, PEM"},
    {0},
};

const struct route pki_import_routes[] = {
    {.pattern = "intermediate/set-signed", .ops = {[OP_UPDATE] = set_signed}, .fields = set_signed_fields,
     .synopsis = "import the signed intermediate certificate"},
    {.pattern = "issuers/import/bundle", .ops = {[OP_UPDATE] = import_bundle}, .fields = bundle_fields,
     .synopsis = "import CA certificates and keys"},
    {.pattern = "issuers/import/cert", .ops = {[OP_UPDATE] = import_bundle}, .fields = bundle_fields,
     .synopsis = "import CA certificates"},
    {.pattern = "config/ca", .ops = {[OP_UPDATE] = import_bundle}, .fields = bundle_fields,
     .synopsis = "import CA certificates and keys"},
    {0},
};
