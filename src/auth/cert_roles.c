/* cert_roles.c — auth/<cert>/certs/:name (trusted certificates and the
 * constraints on the client certificates they vouch for), crls/:name and
 * config, with Vault's fields and rules.
 *
 * A certs write on an existing entry changes only the fields it gives;
 * a new one needs a certificate. The PEM is parsed at write: it must hold
 * a certificate, and a non-CA one must allow TLS client authentication
 * when it lists extended key usages (the ocsp_* fields are used at login:
 * cert_ocsp.c). A CRL (PEM, DER, or base64 DER) is parsed at write and
 * kept as its revoked serials; fetching one from a url is refused (not
 * supported yet). */
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/cert_auth.h"
#include "auth/jwt_auth.h"

#include "encoding.h"
#include "err.h"
#include "storage/storage.h"
#include "strlist_json.h"

#include "banned.h"

#define KEY_MAX (CERT_NAME_MAX + 16)
#define CRL_MAX_BYTES (8 << 20)

static const char *const role_lists[] = {
    "allowed_names",         "allowed_common_names",
    "allowed_dns_sans",      "allowed_email_sans",
    "allowed_uri_sans",      "allowed_organizational_units",
    "required_extensions",   "allowed_metadata_extensions",
    "ocsp_servers_override",
};
static const char *const role_strings[] = {"certificate", "display_name", "ocsp_ca_certificates"};
static const char *const role_bools[] = {"ocsp_enabled", "ocsp_fail_open", "ocsp_query_all_servers"};
/* Integers (seconds for the max age) and their defaults, as Vault's. */
static const struct {
	const char *name;
	int64_t dflt;
} role_ints[] = {{"ocsp_this_update_max_age", 0}, {"ocsp_max_retries", CERT_OCSP_MAX_RETRIES_DEFAULT}};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int entry_key(const char *prefix, const char *name, char *out)
{
	if (!name || !*name || strlen(name) > CERT_NAME_MAX || strchr(name, '/'))
		return TROVE_ERR_INVALID;
	snprintf(out, KEY_MAX, "%s%s", prefix, name);
	return 0;
}

static int list_prefix(struct request *req, struct response *resp, const char *prefix)
{
	struct strlist keys;
	int r;

	strlist_init(&keys);
	if ((r = storage_list(req->storage, prefix, &keys)) == 0) {
		if (keys.len == 0)
			r = TROVE_ERR_NOT_FOUND;
		else
			response_set_data(resp, json_pack("{s:o}", "keys", strlist_json(&keys)));
	}
	strlist_release(&keys);
	return r;
}

static int delete_entry(struct request *req, const char *prefix)
{
	char key[KEY_MAX];
	if (entry_key(prefix, request_param(req, "name"), key) != 0)
		return 0;
	return storage_delete(req->storage, key);
}

/* ---- certs/:name ---- */

int cert_role_list(struct request *req, struct response *resp)
{
	return list_prefix(req, resp, CERT_ROLE_PREFIX);
}

int cert_role_exists(struct request *req, bool *out)
{
	char key[KEY_MAX];
	json_t *doc = NULL;
	int r;

	*out = false;
	if (entry_key(CERT_ROLE_PREFIX, request_param(req, "name"), key) != 0)
		return 0;
	r = jwt_get_json(req, key, &doc);
	*out = r == 0;
	json_decref(doc);
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

int cert_role_read(struct request *req, struct response *resp)
{
	char key[KEY_MAX];
	json_t *doc = NULL;
	struct token_params tp;
	int r;

	token_params_init(&tp);
	if (entry_key(CERT_ROLE_PREFIX, request_param(req, "name"), key) != 0) {
		r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = jwt_get_json(req, key, &doc)) != 0 ||
	    (r = token_params_load(json_object_get(doc, "token_params"), &tp)) != 0)
		goto out;
	json_object_del(doc, "token_params");
	token_params_to_json(&tp, doc);
	response_set_data(resp, json_incref(doc));
out:
	json_decref(doc);
	token_params_release(&tp);
	return r;
}

int cert_role_delete(struct request *req, struct response *resp)
{
	(void)resp;
	return delete_entry(req, CERT_ROLE_PREFIX);
}

static void role_apply(struct request *req, json_t *doc)
{
	for (size_t i = 0; i < COUNT(role_strings); i++)
		if (field_present(req, role_strings[i]))
			json_object_set_new(doc, role_strings[i],
			                    json_string(field_string(req, role_strings[i])));
	for (size_t i = 0; i < COUNT(role_lists); i++) {
		json_t *v = json_object_get(req->data, role_lists[i]);
		if (json_is_array(v))
			json_object_set_new(doc, role_lists[i], json_deep_copy(v));
	}
	for (size_t i = 0; i < COUNT(role_bools); i++)
		if (field_present(req, role_bools[i]))
			json_object_set_new(doc, role_bools[i], json_boolean(field_bool(req, role_bools[i])));
	for (size_t i = 0; i < COUNT(role_ints); i++)
		if (field_present(req, role_ints[i].name))
			json_object_set_new(doc, role_ints[i].name,
			                    json_integer(field_int(req, role_ints[i].name)));
}

static void role_defaults(json_t *doc, const char *name)
{
	for (size_t i = 0; i < COUNT(role_strings); i++)
		if (!json_object_get(doc, role_strings[i]))
			json_object_set_new(doc, role_strings[i], json_string(""));
	for (size_t i = 0; i < COUNT(role_lists); i++)
		if (!json_object_get(doc, role_lists[i]))
			json_object_set_new(doc, role_lists[i], json_array());
	for (size_t i = 0; i < COUNT(role_bools); i++)
		if (!json_object_get(doc, role_bools[i]))
			json_object_set_new(doc, role_bools[i], json_false());
	for (size_t i = 0; i < COUNT(role_ints); i++)
		if (!json_object_get(doc, role_ints[i].name))
			json_object_set_new(doc, role_ints[i].name, json_integer(role_ints[i].dflt));
	if (json_string_length(json_object_get(doc, "display_name")) == 0)
		json_object_set_new(doc, "display_name", json_string(name));
}

/* A non-CA certificate that lists extended key usages must list client
 * authentication (or any). */
static bool usable_for_clients(X509 *c)
{
	if (X509_check_ca(c) != 0)
		return true;
	uint32_t xku = X509_get_extended_key_usage(c);
	return xku == UINT32_MAX || (xku & (XKU_SSL_CLIENT | XKU_ANYEKU)) != 0;
}

static int role_check(const json_t *doc, struct response *resp)
{
	const char *pem = json_string_value(json_object_get(doc, "certificate"));
	const json_t *req_ext = json_object_get(doc, "required_extensions"), *v;
	STACK_OF(X509) * certs;
	size_t i;
	bool ok;

	if (!*pem)
		return response_error(resp, TROVE_ERR_INVALID, "must specify certificate");
	if (!(certs = cert_parse_pem(pem, strlen(pem))))
		return response_error(resp, TROVE_ERR_INVALID, "certificate: failed to parse certificate");
	ok = usable_for_clients(sk_X509_value(certs, 0));
	sk_X509_pop_free(certs, X509_free);
	if (!ok)
		return response_error(
		    resp, TROVE_ERR_INVALID,
		    "nonCA certificates should have TLS client authentication set as an extended key usage");
	for (i = 0; i < COUNT(role_ints); i++)
		if (json_integer_value(json_object_get(doc, role_ints[i].name)) < 0)
			return response_error(resp, TROVE_ERR_INVALID, "%s can not be a negative number",
			                      role_ints[i].name);
	json_array_foreach(req_ext, i, v)
	{
		const char *s = json_string_value(v), *colon = s ? strchr(s, ':') : NULL;
		if (!colon || colon == s)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "required_extensions: entry %zu: expected \"oid:value\"", i);
	}
	return 0;
}

int cert_role_write(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	char key[KEY_MAX];
	json_t *doc = NULL;
	struct token_params tp;
	int r;

	token_params_init(&tp);
	if (entry_key(CERT_ROLE_PREFIX, name, key) != 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "name: invalid certificate name");
		goto out;
	}
	r = jwt_get_json(req, key, &doc);
	if (r == 0)
		r = token_params_load(json_object_get(doc, "token_params"), &tp);
	else if (r == TROVE_ERR_NOT_FOUND) {
		doc = json_object();
		r = 0;
	}
	if (r != 0 || (r = token_params_parse(req, resp, &tp)) != 0)
		goto out;
	role_apply(req, doc);
	role_defaults(doc, name);
	if ((r = role_check(doc, resp)) != 0)
		goto out;
	json_object_set_new(doc, "token_params", token_params_store(&tp));
	r = jwt_put_json(req, key, doc);
out:
	json_decref(doc);
	token_params_release(&tp);
	return r;
}

/* ---- crls/:name ---- */

/* A serial as Vault's map keys it: decimal. Caller OPENSSL_free()s. */
static char *serial_decimal(const ASN1_INTEGER *serial)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *s = bn ? BN_bn2dec(bn) : NULL;
	BN_free(bn);
	return s;
}

static X509_CRL *crl_parse(const char *text, size_t len)
{
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	X509_CRL *crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!crl) {
		const unsigned char *p = (const unsigned char *)text;
		crl = d2i_X509_CRL(NULL, &p, (long)len);
	}
	if (!crl) {
		unsigned char *der = malloc(len + 1);
		size_t n = 0;
		if (der && base64_decode(text, len, der, len + 1, &n) == 0) {
			const unsigned char *p = der;
			crl = d2i_X509_CRL(NULL, &p, (long)n);
		}
		free(der);
	}
	ERR_clear_error();
	return crl;
}

int cert_crl_list(struct request *req, struct response *resp)
{
	return list_prefix(req, resp, CERT_CRL_PREFIX);
}

int cert_crl_read(struct request *req, struct response *resp)
{
	char key[KEY_MAX];
	json_t *doc = NULL;
	int r;

	if (entry_key(CERT_CRL_PREFIX, request_param(req, "name"), key) != 0)
		return TROVE_ERR_NOT_FOUND;
	if ((r = jwt_get_json(req, key, &doc)) == 0)
		response_set_data(resp, doc);
	return r;
}

int cert_crl_delete(struct request *req, struct response *resp)
{
	(void)resp;
	return delete_entry(req, CERT_CRL_PREFIX);
}

int cert_crl_write(struct request *req, struct response *resp)
{
	const char *text = field_string(req, "crl");
	char key[KEY_MAX];
	X509_CRL *crl = NULL;
	json_t *serials = json_object(), *doc = NULL;
	int r;

	if (entry_key(CERT_CRL_PREFIX, request_param(req, "name"), key) != 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "name: invalid CRL name");
		goto out;
	}
	if (*field_string(req, "url")) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "url: fetching CRLs is not supported yet; give the CRL itself");
		goto out;
	}
	if (!*text) {
		r = response_error(resp, TROVE_ERR_INVALID, "parameter 'crl' is required");
		goto out;
	}
	if (strlen(text) > CRL_MAX_BYTES || !(crl = crl_parse(text, strlen(text)))) {
		r = response_error(resp, TROVE_ERR_INVALID, "crl: failed to parse CRL");
		goto out;
	}
	STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
	for (int i = 0; i < sk_X509_REVOKED_num(revoked); i++) {
		char *s = serial_decimal(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i)));
		if (s)
			json_object_set_new(serials, s, json_object());
		OPENSSL_free(s);
	}
	doc = json_pack("{s:O}", "serials", serials);
	r = jwt_put_json(req, key, doc);
out:
	X509_CRL_free(crl);
	json_decref(serials);
	json_decref(doc);
	return r;
}

int cert_chain_revoked(struct request *req, STACK_OF(X509) * chain, bool *revoked)
{
	struct strlist names;
	int r;

	*revoked = false;
	strlist_init(&names);
	if ((r = storage_list(req->storage, CERT_CRL_PREFIX, &names)) != 0)
		goto out;
	for (size_t i = 0; !*revoked && i < names.len; i++) {
		char key[KEY_MAX];
		json_t *doc = NULL;
		if (entry_key(CERT_CRL_PREFIX, names.items[i], key) != 0)
			continue;
		if ((r = jwt_get_json(req, key, &doc)) == TROVE_ERR_NOT_FOUND) {
			r = 0;
			continue; /* deleted since the list */
		}
		if (r != 0)
			goto out;
		const json_t *serials = json_object_get(doc, "serials");
		for (int c = 0; !*revoked && c < sk_X509_num(chain); c++) {
			char *s = serial_decimal(X509_get0_serialNumber(sk_X509_value(chain, c)));
			*revoked = s && json_object_get(serials, s) != NULL;
			OPENSSL_free(s);
		}
		json_decref(doc);
	}
out:
	strlist_release(&names);
	return r;
}

/* ---- config ---- */

#define OCSP_CACHE_DEFAULT 100
#define ROLE_CACHE_DEFAULT 200
#define CACHE_SIZE_MAX 100000

int cert_config_load(struct request *req, json_t **out)
{
	int r = jwt_get_json(req, CERT_CONFIG_KEY, out);
	if (r == TROVE_ERR_NOT_FOUND) {
		*out = json_object();
		r = 0;
	}
	if (r != 0)
		return r;
	static const char *const bools[] = {"disable_binding", "enable_identity_alias_metadata"};
	for (size_t i = 0; i < COUNT(bools); i++)
		if (!json_is_boolean(json_object_get(*out, bools[i])))
			json_object_set_new(*out, bools[i], json_false());
	if (!json_is_integer(json_object_get(*out, "ocsp_cache_size")))
		json_object_set_new(*out, "ocsp_cache_size", json_integer(OCSP_CACHE_DEFAULT));
	if (!json_is_integer(json_object_get(*out, "role_cache_size")))
		json_object_set_new(*out, "role_cache_size", json_integer(ROLE_CACHE_DEFAULT));
	return 0;
}

int cert_config_read(struct request *req, struct response *resp)
{
	json_t *cfg = NULL;
	int r = cert_config_load(req, &cfg);
	if (r == 0)
		response_set_data(resp, cfg);
	return r;
}

int cert_config_write(struct request *req, struct response *resp)
{
	json_t *cfg = NULL;
	int r;

	if ((r = cert_config_load(req, &cfg)) != 0)
		return r;
	if (field_present(req, "disable_binding"))
		json_object_set_new(cfg, "disable_binding", json_boolean(field_bool(req, "disable_binding")));
	if (field_present(req, "enable_identity_alias_metadata"))
		json_object_set_new(cfg, "enable_identity_alias_metadata",
		                    json_boolean(field_bool(req, "enable_identity_alias_metadata")));
	if (field_present(req, "ocsp_cache_size")) {
		int64_t n = field_int(req, "ocsp_cache_size");
		if (n < 2 || n > CACHE_SIZE_MAX) {
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "ocsp_cache_size: invalid cache size, must be >= 2 and <= %d",
			                   CACHE_SIZE_MAX);
			goto out;
		}
		json_object_set_new(cfg, "ocsp_cache_size", json_integer(n));
	}
	if (field_present(req, "role_cache_size")) {
		int64_t n = field_int(req, "role_cache_size");
		if (n < -1 || n > CACHE_SIZE_MAX) {
			r = response_error(
			    resp, TROVE_ERR_INVALID,
			    "role_cache_size: invalid cache size, must be <= %d or -1 to disable",
			    CACHE_SIZE_MAX);
			goto out;
		}
		json_object_set_new(cfg, "role_cache_size", json_integer(n));
	}
	r = jwt_put_json(req, CERT_CONFIG_KEY, cfg);
out:
	json_decref(cfg);
	return r;
}
