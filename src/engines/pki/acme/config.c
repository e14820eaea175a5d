/* config.c — the ACME server's settings, as Vault serves them:
 * config/cluster (the mount's absolute URL, which ACME's directory needs),
 * config/acme, and External Account Binding keys (<directory>new-eab,
 * eab LIST, eab/:key_id DELETE). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "acme.h"

#include "clock.h"
#include "encoding.h"
#include "engines/kv_util.h"
#include "engines/pki/role.h"
#include "err.h"
#include "rand.h"
#include "secure.h"
#include "strconv.h"
#include "strlist_json.h"
#include "timefmt.h"

#include "banned.h"

#define EAB_KEY_BYTES 32

static int cluster_read(struct request *req, struct response *resp)
{
	json_t *rec = NULL;
	int r = kv_get_json(req->storage, ACME_CLUSTER_CONFIG, &rec);
	if (r == TROVE_ERR_NOT_FOUND) {
		rec = json_pack("{s:s, s:s}", "path", "", "aia_path", "");
		r = 0;
	}
	if (r == 0)
		response_set_data(resp, rec);
	return r;
}

static bool url_ok(const char *u)
{
	return *u == '\0' || ((strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
	                      x509_value_safe(u) && !strpbrk(u, " \"<>\\^`{|}"));
}

static int cluster_write(struct request *req, struct response *resp)
{
	json_t *rec = NULL;
	int r = kv_get_json(req->storage, ACME_CLUSTER_CONFIG, &rec);
	if (r == TROVE_ERR_NOT_FOUND)
		rec = json_pack("{s:s, s:s}", "path", "", "aia_path", "");
	else if (r != 0)
		return r;
	static const char *const keys[] = {"path", "aia_path"};
	for (size_t i = 0; i < 2; i++) {
		if (!field_present(req, keys[i]))
			continue;
		const char *v = field_string(req, keys[i]);
		if (!url_ok(v)) {
			json_decref(rec);
			return response_error(resp, TROVE_ERR_INVALID, "%s: must be an http or https URL",
			                      keys[i]);
		}
		json_object_set_new(rec, keys[i], json_string(v));
	}
	if ((r = kv_put_json(req->storage, ACME_CLUSTER_CONFIG, rec)) == 0)
		response_set_data(resp, json_incref(rec));
	json_decref(rec);
	return r;
}

static int acme_read(struct request *req, struct response *resp)
{
	json_t *cfg = NULL;
	int r = acme_config_load(req->storage, &cfg);
	if (r == 0)
		response_set_data(resp, cfg);
	return r;
}

/* "ip:port" (IPv4, both parts), or "". */
static bool resolver_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	struct in_addr a;
	int64_t port;
	if (!*s)
		return true;
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	return inet_pton(AF_INET, host, &a) == 1 && strconv_int64(colon + 1, &port) && port > 0 &&
	       port < 65536;
}

static json_t *list_field(struct request *req, const char *name)
{
	struct strlist l;
	strlist_init(&l);
	pki_req_list(req, name, &l);
	json_t *a = strlist_json(&l);
	strlist_release(&l);
	return a;
}

/* Vault's checks of a config/acme write; 400 naming the field. */
static int acme_validate(struct request *req, const json_t *cfg, struct response *resp)
{
	const char *pol = json_string_value(json_object_get(cfg, "default_directory_policy")) ?: "";
	const char *eab = json_string_value(json_object_get(cfg, "eab_policy")) ?: "";
	const json_t *roles = json_object_get(cfg, "allowed_roles"),
	             *issuers = json_object_get(cfg, "allowed_issuers");
	size_t i;
	json_t *v;

	if (strcmp(pol, "sign-verbatim") != 0 && strcmp(pol, "forbid") != 0 &&
	    !(strncmp(pol, "role:", 5) == 0 && pol[5]))
		return response_error(
		    resp, TROVE_ERR_INVALID,
		    "default_directory_policy: must be sign-verbatim, forbid or role:<name>");
	if (strcmp(eab, "not-required") != 0 && strcmp(eab, "new-account-required") != 0 &&
	    strcmp(eab, "always-required") != 0)
		return response_error(
		    resp, TROVE_ERR_INVALID,
		    "eab_policy: must be not-required, new-account-required or always-required");
	if (!resolver_ok(json_string_value(json_object_get(cfg, "dns_resolver")) ?: ""))
		return response_error(resp, TROVE_ERR_INVALID, "dns_resolver: must be <IPv4 address>:<port>");
	if (json_array_size(roles) == 0)
		return response_error(resp, TROVE_ERR_INVALID,
		                      "allowed_roles: must not be empty; use '*' to allow any role");
	if (json_array_size(issuers) == 0)
		return response_error(resp, TROVE_ERR_INVALID,
		                      "allowed_issuers: must not be empty; use '*' to allow any issuer");
	bool star = false, has_default = false;
	json_array_foreach(roles, i, v)
	{
		const char *s = json_string_value(v);
		struct pki_role r;
		if (strcmp(s, "*") == 0) {
			star = true;
			continue;
		}
		int rc = pki_role_load(req->storage, s, &r);
		pki_role_release(&r);
		if (rc != 0)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "allowed_roles: role %s does not exist", s);
		if (strncmp(pol, "role:", 5) == 0 && strcmp(pol + 5, s) == 0)
			has_default = true;
	}
	if (star && json_array_size(roles) > 1)
		return response_error(resp, TROVE_ERR_INVALID, "allowed_roles: '*' must be the only entry");
	if (strncmp(pol, "role:", 5) == 0) {
		struct pki_role r;
		int rc = pki_role_load(req->storage, pol + 5, &r);
		pki_role_release(&r);
		if (rc != 0)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "default_directory_policy: role %s does not exist", pol + 5);
		if (!star && !has_default)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "default_directory_policy: role %s is not in allowed_roles",
			                      pol + 5);
	}
	json_array_foreach(issuers, i, v)
	{
		char id[PKI_ID_MAX];
		const char *s = json_string_value(v);
		if (strcmp(s, "*") == 0) {
			if (json_array_size(issuers) > 1)
				return response_error(resp, TROVE_ERR_INVALID,
				                      "allowed_issuers: '*' must be the only entry");
			continue;
		}
		if (pki_issuer_resolve(req->storage, s, id) != 0)
			return response_error(resp, TROVE_ERR_INVALID,
			                      "allowed_issuers: unable to find issuer %s", s);
	}
	return 0;
}

static int acme_write(struct request *req, struct response *resp)
{
	json_t *cfg = NULL;
	int r = acme_config_load(req->storage, &cfg);
	if (r != 0)
		return r;
	static const char *const strs[] = {"default_directory_policy", "eab_policy", "dns_resolver"};
	static const char *const lists[] = {"allowed_roles", "allowed_issuers"};
	static const char *const bools[] = {"enabled", "allow_role_ext_key_usage"};
	for (size_t i = 0; i < 3; i++)
		if (field_present(req, strs[i]))
			json_object_set_new(cfg, strs[i], json_string(field_string(req, strs[i])));
	for (size_t i = 0; i < 2; i++)
		if (field_present(req, lists[i]))
			json_object_set_new(cfg, lists[i], list_field(req, lists[i]));
	for (size_t i = 0; i < 2; i++)
		if (field_present(req, bools[i]))
			json_object_set_new(cfg, bools[i], json_boolean(field_bool(req, bools[i])));
	if (field_present(req, "max_ttl"))
		json_object_set_new(cfg, "max_ttl", json_integer(field_int(req, "max_ttl")));
	if ((r = acme_validate(req, cfg, resp)) == 0 &&
	    (r = kv_put_json(req->storage, ACME_CONFIG, cfg)) == 0)
		response_set_data(resp, json_incref(cfg));
	json_decref(cfg);
	return r;
}

/* <directory>new-eab: a new EAB key bound to the directory. */
static int eab_new(struct request *req, struct response *resp)
{
	unsigned char key[EAB_KEY_BYTES];
	char id[37], created[TIME_TEXT_MAX];
	char *dir = acme_directory_of(req), *k64 = NULL;
	json_t *rec = NULL;
	int r;

	if ((r = rand_bytes(key, sizeof(key))) != 0 || (r = rand_uuid(id)) != 0)
		return r;
	k64 = base64url_encode(key, sizeof(key));
	secure_wipe(key, sizeof(key));
	time_rfc3339(clock_realtime_s(), created);
	rec = json_pack("{s:s, s:s, s:s, s:s}", "key_type", "hs", "key", k64, "acme_directory", dir,
	                "created_on", created);
	if (!rec || !k64) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	if ((r = acme_put(req->storage, ACME_EAB_PREFIX, id, rec)) != 0)
		goto out;
	response_set_data(resp, json_pack("{s:s, s:s, s:s, s:s+, s:s}", "id", id, "key_type", "hs", "key",
	                                  k64, "acme_directory", dir, "directory", "created_on", created));
out:
	json_decref(rec);
	secure_free_str(k64);
	free(dir);
	return r;
}

static int eab_list(struct request *req, struct response *resp)
{
	struct strlist ids;
	json_t *info = json_object();
	int r;

	strlist_init(&ids);
	if ((r = storage_list(req->storage, ACME_EAB_PREFIX, &ids)) != 0)
		goto out;
	for (size_t i = 0; i < ids.len; i++) {
		json_t *rec = NULL;
		if (acme_get(req->storage, ACME_EAB_PREFIX, ids.items[i], &rec) != 0)
			continue;
		char dir[STORAGE_MAX_KEY];
		snprintf(dir, sizeof(dir), "%sdirectory",
		         json_string_value(json_object_get(rec, "acme_directory")) ?: "");
		json_object_set_new(info, ids.items[i],
		                    json_pack("{s:O, s:s, s:O}", "key_type", json_object_get(rec, "key_type"),
		                              "acme_directory", dir, "created_on",
		                              json_object_get(rec, "created_on")));
		json_decref(rec);
	}
	if (ids.len == 0) {
		r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	response_set_data(resp, json_pack("{s:o, s:O}", "keys", strlist_json(&ids), "key_info", info));
out:
	json_decref(info);
	strlist_release(&ids);
	return r;
}

static int eab_delete(struct request *req, struct response *resp)
{
	const char *id = request_param(req, "key_id");
	json_t *rec = NULL;
	int r = acme_get(req->storage, ACME_EAB_PREFIX, id, &rec);
	json_decref(rec);
	if (r == TROVE_ERR_NOT_FOUND) {
		response_warning(resp, "No key id found with id: %s", id);
		return 0;
	}
	char key[STORAGE_MAX_KEY];
	snprintf(key, sizeof(key), "%s%s", ACME_EAB_PREFIX, id);
	return r ? r : storage_delete(req->storage, key);
}

static const struct field cluster_fields[] = {
    {.name = "path",
     .type = FIELD_STRING,
     .canon = FIELD_CANON_TRIM,
     .description = "the mount's absolute URL on this cluster: https://host:8200/v1/pki"},
    {.name = "aia_path",
     .type = FIELD_STRING,
     .canon = FIELD_CANON_TRIM,
     .description = "the mount's absolute URL for AIA and CRL distribution points"},
    {0},
};

static const struct field acme_fields[] = {
    {.name = "enabled", .type = FIELD_BOOL, .description = "serve ACME on this mount"},
    {.name = "allowed_issuers",
     .type = FIELD_STRLIST,
     .description = "issuers ACME may issue from ('*': any)"},
    {.name = "allowed_roles",
     .type = FIELD_STRLIST,
     .description = "roles ACME directories may use ('*': any)"},
    {.name = "allow_role_ext_key_usage",
     .type = FIELD_BOOL,
     .description = "keep the role's extended key usages (else serverAuth only)"},
    {.name = "default_directory_policy",
     .type = FIELD_STRING,
     .canon = FIELD_CANON_TRIM,
     .description = "what acme/ issues with: sign-verbatim, role:<name> or forbid"},
    {.name = "eab_policy",
     .type = FIELD_STRING,
     .canon = FIELD_CANON_TRIM,
     .description = "not-required, new-account-required or always-required"},
    {.name = "dns_resolver",
     .type = FIELD_STRING,
     .canon = FIELD_CANON_TRIM,
     .description = "<IPv4>:<port> of the resolver for dns-01 ('': the system's)"},
    {.name = "max_ttl",
     .type = FIELD_DURATION,
     .min = 1,
     .max = (int64_t)100 * 365 * 86400,
     .description = "longest lifetime of an ACME certificate"},
    {0},
};

static const struct field eab_fields[] = {
    {.name = "key_id", .type = FIELD_STRING, .description = "the EAB key's id"},
    {0},
};

#define EAB_NEW(prefix)                                                                                      \
	{                                                                                                    \
		.pattern = prefix "acme/new-eab", .ops = {[OP_UPDATE] = eab_new},                            \
		.synopsis = "a new EAB key"                                                                  \
	}

const struct route pki_acme_config_routes[] = {
    {.pattern = "config/cluster",
     .ops = {[OP_READ] = cluster_read, [OP_UPDATE] = cluster_write},
     .fields = cluster_fields,
     .synopsis = "the mount's absolute URLs"},
    {.pattern = "config/acme",
     .ops = {[OP_READ] = acme_read, [OP_UPDATE] = acme_write},
     .fields = acme_fields,
     .synopsis = "the ACME server's settings"},
    EAB_NEW(""),
    EAB_NEW("roles/:role/"),
    EAB_NEW("issuer/:issuer_ref/"),
    EAB_NEW("issuer/:issuer_ref/roles/:role/"),
    {.pattern = "eab", .ops = {[OP_LIST] = eab_list}, .synopsis = "the unused EAB keys"},
    {.pattern = "eab/:key_id",
     .ops = {[OP_DELETE] = eab_delete},
     .fields = eab_fields,
     .synopsis = "an unused EAB key"},
    {0},
};
