/* keys.c — the PKI engine's keys: storage (config/key/<id>), names, and
 * the keys LIST, keys/generate/:type, keys/import and key/:ref routes. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"

#include "engines/kv_util.h"
#include "err.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

int pki_name_check(const char *name, const char *field, struct response *resp)
{
	if (strlen(name) > 128)
		return response_error(resp, TROVE_ERR_INVALID, "%s: longer than 128 characters", field);
	if (strcmp(name, "default") == 0)
		return response_error(resp, TROVE_ERR_INVALID, "%s: \"default\" is reserved", field);
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return response_error(resp, TROVE_ERR_INVALID,
					      "%s: only letters, digits, '-' and '_' are allowed", field);
	return 0;
}

int pki_name_free(struct storage *s, const char *prefix, const char *name, const char *self, bool *free_out)
{
	struct strlist ids;
	struct buf key;
	int r;

	*free_out = true;
	if (!name || !name[0])
		return 0;
	strlist_init(&ids);
	buf_init(&key, STORAGE_MAX_KEY);
	r = storage_list(s, prefix, &ids);
	for (size_t i = 0; r == 0 && i < ids.len && *free_out; i++) {
		json_t *rec = NULL;
		if (self && strcmp(ids.items[i], self) == 0)
			continue;
		buf_reset(&key);
		buf_printf(&key, "%s%s", prefix, ids.items[i]);
		r = kv_get_json(s, key.data, &rec);
		if (r == 0 && strcmp(json_string_value(json_object_get(rec, "name")) ?: "", name) == 0)
			*free_out = false;
		json_decref(rec);
	}
	buf_release(&key);
	strlist_release(&ids);
	return r;
}

/* The id of the record under prefix that ref names (id or name). */
static int resolve_in(struct storage *s, const char *prefix, const char *ref, char id[PKI_ID_MAX])
{
	struct strlist ids;
	struct buf key;
	int r;

	strlist_init(&ids);
	buf_init(&key, STORAGE_MAX_KEY);
	r = storage_list(s, prefix, &ids);
	if (r == 0)
		r = TROVE_ERR_NOT_FOUND;
	for (size_t i = 0; i < ids.len && r == TROVE_ERR_NOT_FOUND; i++) {
		json_t *rec = NULL;
		if (strcmp(ids.items[i], ref) == 0) {
			snprintf(id, PKI_ID_MAX, "%s", ids.items[i]);
			r = 0;
			break;
		}
		buf_reset(&key);
		buf_printf(&key, "%s%s", prefix, ids.items[i]);
		if (kv_get_json(s, key.data, &rec) == 0 &&
		    strcmp(json_string_value(json_object_get(rec, "name")) ?: "", ref) == 0) {
			snprintf(id, PKI_ID_MAX, "%s", ids.items[i]);
			r = 0;
		}
		json_decref(rec);
	}
	buf_release(&key);
	strlist_release(&ids);
	return r;
}

int pki_key_resolve(struct storage *s, const char *ref, char id[PKI_ID_MAX])
{
	if (strcmp(ref, "default") == 0) {
		json_t *cfg = NULL;
		int r = kv_get_json(s, PKI_KEYS_CONFIG, &cfg);
		const char *d = r == 0 ? json_string_value(json_object_get(cfg, "default")) : NULL;
		bool found = d && d[0];
		if (found)
			snprintf(id, PKI_ID_MAX, "%s", d);
		json_decref(cfg);
		if (r != 0 && r != TROVE_ERR_NOT_FOUND)
			return r;
		return found ? 0 : TROVE_ERR_NOT_FOUND;
	}
	return resolve_in(s, PKI_KEY_PREFIX, ref, id);
}

int pki_record_resolve(struct storage *s, const char *prefix, const char *ref, char id[PKI_ID_MAX])
{
	return resolve_in(s, prefix, ref, id);
}

int pki_key_get(struct storage *s, const char *id, json_t **rec)
{
	struct buf key;
	int r;
	buf_init(&key, STORAGE_MAX_KEY);
	buf_printf(&key, PKI_KEY_PREFIX "%s", id);
	r = kv_get_json(s, key.data, rec);
	buf_release(&key);
	return r;
}

static int key_put(struct storage *s, const json_t *rec)
{
	struct buf key;
	int r;
	buf_init(&key, STORAGE_MAX_KEY);
	buf_printf(&key, PKI_KEY_PREFIX "%s", json_string_value(json_object_get(rec, "id")));
	r = kv_put_json(s, key.data, rec);
	buf_release(&key);
	return r;
}

int pki_key_load(const json_t *rec, EVP_PKEY **out)
{
	const char *pem = json_string_value(json_object_get(rec, "private_key"));
	if (!pem)
		return TROVE_ERR_INTEGRITY;
	return x509_key_from_pem(pem, strlen(pem), out) == 0 ? 0 : TROVE_ERR_INTEGRITY;
}

/* The id of a stored key whose public key is pubid, or "" . */
static int key_find_public(struct storage *s, const char *pubid, char id[PKI_ID_MAX])
{
	struct strlist ids;
	int r;
	id[0] = '\0';
	strlist_init(&ids);
	r = storage_list(s, PKI_KEY_PREFIX, &ids);
	for (size_t i = 0; r == 0 && i < ids.len && !id[0]; i++) {
		json_t *rec = NULL;
		EVP_PKEY *k = NULL;
		char *other = NULL;
		if (pki_key_get(s, ids.items[i], &rec) == 0 && pki_key_load(rec, &k) == 0 && x509_pubkey_id(k, &other) == 0 &&
		    strcmp(other, pubid) == 0)
			snprintf(id, PKI_ID_MAX, "%s", ids.items[i]);
		free(other);
		EVP_PKEY_free(k);
		json_decref(rec);
	}
	strlist_release(&ids);
	return r;
}

int pki_key_find_public(struct storage *s, EVP_PKEY *pub, char id[PKI_ID_MAX])
{
	char *pubid = NULL;
	int r = x509_pubkey_id(pub, &pubid);
	if (r == 0)
		r = key_find_public(s, pubid, id);
	free(pubid);
	return r;
}

int pki_key_import(struct storage *s, EVP_PKEY *k, const char *name, char id[PKI_ID_MAX], bool *existed,
		   struct response *resp)
{
	char *pem = NULL;
	json_t *rec = NULL, *cfg = NULL;
	bool name_free;
	int bits, r;

	*existed = false;
	if ((r = pki_key_find_public(s, k, id)) != 0)
		return r;
	if (id[0]) {
		*existed = true;
		return 0;
	}
	if (name && name[0]) {
		if ((r = pki_name_check(name, "key_name", resp)) != 0)
			return r;
		if ((r = pki_name_free(s, PKI_KEY_PREFIX, name, NULL, &name_free)) != 0)
			return r;
		if (!name_free)
			return response_error(resp, TROVE_ERR_INVALID, "key_name: a key named %s exists", name);
	}
	if ((r = rand_uuid(id)) != 0 || (r = x509_key_to_text(k, "pkcs8", &pem)) != 0)
		goto out;
	rec = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "name", name ? name : "", "private_key_type",
			x509_key_type(k, &bits) ?: "", "private_key", pem);
	if (!rec) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	if ((r = key_put(s, rec)) != 0)
		goto out;
	/* the first key becomes the default, as in Vault */
	if (kv_get_json(s, PKI_KEYS_CONFIG, &cfg) != 0 || !json_string_length(json_object_get(cfg, "default"))) {
		json_decref(cfg);
		cfg = json_pack("{s:s}", "default", id);
		r = cfg ? kv_put_json(s, PKI_KEYS_CONFIG, cfg) : TROVE_ERR_NOMEM;
	}
out:
	secure_free_str(pem);
	json_decref(rec);
	json_decref(cfg);
	return r;
}

static json_t *key_view(const json_t *rec)
{
	return json_pack("{s:O, s:O, s:O}", "key_id", json_object_get(rec, "id"), "key_name",
			 json_object_get(rec, "name"), "key_type", json_object_get(rec, "private_key_type"));
}

static int keys_list(struct request *req, struct response *resp)
{
	struct strlist ids;
	json_t *keys = json_array(), *info = json_object();
	int r;

	strlist_init(&ids);
	r = storage_list(req->storage, PKI_KEY_PREFIX, &ids);
	strlist_sort(&ids);
	for (size_t i = 0; r == 0 && i < ids.len; i++) {
		json_t *rec = NULL;
		if (pki_key_get(req->storage, ids.items[i], &rec) != 0)
			continue;
		json_array_append_new(keys, json_string(ids.items[i]));
		json_object_set_new(info, ids.items[i], key_view(rec));
		json_decref(rec);
	}
	strlist_release(&ids);
	if (r == 0 && json_array_size(keys) == 0)
		r = TROVE_ERR_NOT_FOUND;
	if (r == 0)
		response_set_data(resp, json_pack("{s:O, s:O}", "keys", keys, "key_info", info));
	json_decref(keys);
	json_decref(info);
	return r;
}

static int key_ref_reply(struct request *req, struct response *resp, char id[PKI_ID_MAX])
{
	const char *ref = request_param(req, "ref");
	int r = pki_key_resolve(req->storage, ref, id);
	if (r == TROVE_ERR_NOT_FOUND)
		return response_error(resp, TROVE_ERR_INVALID, "unable to find PKI key for reference: %s", ref);
	return r;
}

static int key_read(struct request *req, struct response *resp)
{
	char id[PKI_ID_MAX];
	json_t *rec = NULL;
	int r;
	if ((r = key_ref_reply(req, resp, id)) != 0 || (r = pki_key_get(req->storage, id, &rec)) != 0)
		goto out;
	response_set_data(resp, key_view(rec));
out:
	json_decref(rec);
	return r;
}

static int key_update(struct request *req, struct response *resp)
{
	char id[PKI_ID_MAX];
	json_t *rec = NULL;
	const char *name = field_string(req, "key_name");
	bool name_free;
	int r;
	if ((r = key_ref_reply(req, resp, id)) != 0 || (r = pki_key_get(req->storage, id, &rec)) != 0)
		goto out;
	if (field_present(req, "key_name") && name[0]) {
		if ((r = pki_name_check(name, "key_name", resp)) != 0 ||
		    (r = pki_name_free(req->storage, PKI_KEY_PREFIX, name, id, &name_free)) != 0)
			goto out;
		if (!name_free) {
			r = response_error(resp, TROVE_ERR_INVALID, "key_name: a key named %s exists", name);
			goto out;
		}
	}
	if (field_present(req, "key_name"))
		json_object_set_new(rec, "name", json_string(name));
	if ((r = key_put(req->storage, rec)) != 0)
		goto out;
	response_set_data(resp, key_view(rec));
out:
	json_decref(rec);
	return r;
}

static int key_delete(struct request *req, struct response *resp)
{
	char id[PKI_ID_MAX];
	struct strlist ids;
	json_t *cfg = NULL;
	struct buf key;
	int r;

	strlist_init(&ids);
	buf_init(&key, STORAGE_MAX_KEY);
	if ((r = key_ref_reply(req, resp, id)) != 0 || (r = pki_issuer_ids(req->storage, &ids)) != 0)
		goto out;
	for (size_t i = 0; i < ids.len; i++) {
		json_t *iss = NULL;
		bool used = pki_issuer_get(req->storage, ids.items[i], &iss) == 0 &&
			    strcmp(json_string_value(json_object_get(iss, "key_id")) ?: "", id) == 0;
		json_decref(iss);
		if (used) {
			r = response_error(resp, TROVE_ERR_INVALID,
					   "unable to delete key: key %s is in use by issuer %s", id, ids.items[i]);
			goto out;
		}
	}
	buf_printf(&key, PKI_KEY_PREFIX "%s", id);
	if ((r = storage_delete(req->storage, key.data)) != 0)
		goto out;
	if (kv_get_json(req->storage, PKI_KEYS_CONFIG, &cfg) == 0 &&
	    strcmp(json_string_value(json_object_get(cfg, "default")) ?: "", id) == 0) {
		json_object_set_new(cfg, "default", json_string(""));
		r = kv_put_json(req->storage, PKI_KEYS_CONFIG, cfg);
	}
out:
	json_decref(cfg);
	buf_release(&key);
	strlist_release(&ids);
	return r;
}

/* keys/generate/:type: a key alone (internal, exported; kms refused). */
static int key_generate(struct request *req, struct response *resp)
{
	const char *type = request_param(req, "type"), *ktype = NULL;
	EVP_PKEY *k = NULL;
	json_t *rec = NULL;
	char id[PKI_ID_MAX], *text = NULL;
	bool existed;
	int bits, r;

	if (strcmp(type, "kms") == 0)
		return response_error(resp, TROVE_ERR_INVALID, "type: managed (kms) keys are not supported");
	if (strcmp(type, "internal") && strcmp(type, "exported"))
		return response_error(resp, TROVE_ERR_INVALID, "type: must be internal or exported");
	if ((r = pki_req_key_params(req, &ktype, &bits, resp)) != 0 || (r = x509_keygen(ktype, bits, &k)) != 0 ||
	    (r = pki_key_import(req->storage, k, field_string(req, "key_name"), id, &existed, resp)) != 0 ||
	    (r = pki_key_get(req->storage, id, &rec)) != 0)
		goto out;
	json_t *data = key_view(rec);
	if (strcmp(type, "exported") == 0) {
		if ((r = x509_key_to_text(k, "pem", &text)) != 0) {
			json_decref(data);
			goto out;
		}
		json_object_set_new(data, "private_key", json_string(text));
	}
	response_set_data(resp, data);
out:
	secure_free_str(text);
	json_decref(rec);
	EVP_PKEY_free(k);
	return r;
}

/* keys/import: one unencrypted private key, PEM. */
static int key_import(struct request *req, struct response *resp)
{
	const char *pem = field_string(req, "pem_bundle");
	EVP_PKEY *k = NULL;
	json_t *rec = NULL;
	char id[PKI_ID_MAX];
	bool existed;
	int r;

	if (x509_key_from_pem(pem, strlen(pem), &k) != 0)
		return response_error(resp, TROVE_ERR_INVALID, "pem_bundle: not an unencrypted PEM private key");
	if ((r = pki_key_import(req->storage, k, field_string(req, "key_name"), id, &existed, resp)) == 0 &&
	    (r = pki_key_get(req->storage, id, &rec)) == 0)
		response_set_data(resp, key_view(rec));
	json_decref(rec);
	EVP_PKEY_free(k);
	return r;
}

static const struct field key_generate_fields[] = {
    {.name = "key_name", .type = FIELD_STRING, .description = "the key's name, unique in the mount"},
    {.name = "key_type", .type = FIELD_STRING, .def = "rsa", .description = "rsa, ec or ed25519"},
    {.name = "key_bits", .type = FIELD_INT, .description = "key size; 0 for the type's default"},
    {0},
};

static const struct field key_import_fields[] = {
    {.name = "pem_bundle", .type = FIELD_STRING, .required = true, .sensitive = true,
     .description = "the private key, PEM"},
    {.name = "key_name", .type = FIELD_STRING, .description = "the key's name, unique in the mount"},
    {0},
};

static const struct field key_fields[] = {
    {.name = "key_name", .type = FIELD_STRING, .description = "the key's name, unique in the mount"},
    {0},
};

const struct route pki_key_routes[] = {
    {.pattern = "keys", .ops = {[OP_LIST] = keys_list}, .synopsis = "the keys of the mount"},
    {.pattern = "keys/generate/:type", .ops = {[OP_UPDATE] = key_generate}, .fields = key_generate_fields,
     .synopsis = "generate a key"},
    {.pattern = "keys/import", .ops = {[OP_UPDATE] = key_import}, .fields = key_import_fields,
     .synopsis = "import a private key"},
    {.pattern = "key/:ref",
     .ops = {[OP_READ] = key_read, [OP_UPDATE] = key_update, [OP_DELETE] = key_delete},
     .fields = key_fields,
     .synopsis = "a key by id, name or \"default\""},
    {0},
};
