/* aws.c — the auth/aws engine (auth_type=iam): its route table, the client
 * config (config/client), the identity config (config/identity) and roles.
 * Login is in aws_login.c; the layout in storage in aws.h.
 *
 * Only the IAM method is built: a role with auth_type=ec2, or with EC2
 * bindings, is refused. resolve_aws_unique_ids=true is refused too (it
 * needs IAM GetUser/GetRole calls Trove does not make), so roles bind
 * ARNs as written and the default is false (Vault's is true). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "aws.h"

#include "err.h"
#include "rand.h"
#include "secure.h"
#include "strlist_json.h"

#include "banned.h"

/* --- JSON documents in storage -------------------------------------------------- */

static int get_json(struct storage *s, const char *key, json_t **out)
{
	unsigned char *v = NULL;
	size_t n = 0;
	json_error_t e;
	*out = NULL;
	int r = storage_get(s, key, &v, &n);
	if (r != 0)
		return r;
	*out = json_loadb((const char *)v, n, 0, &e);
	secure_free(v, n);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return TROVE_ERR_INTEGRITY;
	}
	return 0;
}

static int put_json(struct storage *s, const char *key, const json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT);
	if (!text)
		return TROVE_ERR_NOMEM;
	int r = storage_put(s, key, text, strlen(text));
	secure_free_str(text);
	return r;
}

static const char *str_or(const json_t *o, const char *k, const char *dflt)
{
	const json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* A string-list field, replacing out (empty strings and repeats dropped). */
static void field_list(const struct request *req, const char *name, struct strlist *out)
{
	json_t *v = req->data ? json_object_get(req->data, name) : NULL, *x;
	size_t i;
	strlist_release(out);
	strlist_init(out);
	json_array_foreach(v, i, x)
	{
		if (json_is_string(x) && json_string_length(x) > 0 &&
		    !strlist_contains(out, json_string_value(x)))
			strlist_push(out, json_string_value(x));
	}
}

/* --- config/client ---------------------------------------------------------------- */

void aws_config_init(struct aws_config *c)
{
	memset(c, 0, sizeof(*c));
	strlist_init(&c->allowed_sts_header_values);
	c->max_retries = -1;
}

void aws_config_release(struct aws_config *c)
{
	free(c->access_key);
	secure_free_str(c->secret_key);
	free(c->sts_endpoint);
	free(c->sts_region);
	free(c->iam_server_id_header_value);
	strlist_release(&c->allowed_sts_header_values);
	aws_config_init(c);
}

static char *dup_opt(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

static int config_from_json(const json_t *j, struct aws_config *c)
{
	c->access_key = dup_opt(str_or(j, "access_key", NULL));
	c->secret_key = dup_opt(str_or(j, "secret_key", NULL));
	c->sts_endpoint = dup_opt(str_or(j, "sts_endpoint", NULL));
	c->sts_region = dup_opt(str_or(j, "sts_region", NULL));
	c->iam_server_id_header_value = dup_opt(str_or(j, "iam_server_id_header_value", NULL));
	const json_t *mr = json_object_get(j, "max_retries");
	c->max_retries = json_is_integer(mr) ? (int64_t)json_integer_value(mr) : -1;
	const json_t *a = json_object_get(j, "allowed_sts_header_values");
	if (a && !strlist_push_json(&c->allowed_sts_header_values, a))
		return TROVE_ERR_INTEGRITY;
	return 0;
}

static json_t *config_to_json(const struct aws_config *c, bool with_secret)
{
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:b}", "access_key",
	                      c->access_key ? c->access_key : "", "endpoint", "", "iam_endpoint", "",
	                      "sts_endpoint", c->sts_endpoint ? c->sts_endpoint : "", "sts_region",
	                      c->sts_region ? c->sts_region : "", "iam_server_id_header_value",
	                      c->iam_server_id_header_value ? c->iam_server_id_header_value : "",
	                      "max_retries", (json_int_t)c->max_retries, "allowed_sts_header_values",
	                      strlist_json(&c->allowed_sts_header_values), "use_sts_region_from_client", 0);
	if (with_secret && c->secret_key)
		json_object_set_new(j, "secret_key", json_string(c->secret_key));
	return j;
}

int aws_config_load(struct storage *s, struct aws_config *out)
{
	json_t *j = NULL;
	aws_config_init(out);
	int r = get_json(s, AWS_CONFIG_CLIENT_KEY, &j);
	if (r == TROVE_ERR_NOT_FOUND)
		return 0;
	if (r == 0)
		r = config_from_json(j, out);
	json_decref(j);
	return r;
}

const char *aws_config_endpoint(const struct aws_config *c)
{
	return c->sts_endpoint ? c->sts_endpoint : AWS_DEFAULT_STS_ENDPOINT;
}

static bool endpoint_ok(const char *u)
{
	if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
		return false;
	for (const char *c = u; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || strchr("?#@\\", *c))
			return false;
	return strlen(u) <= AWS_URL_MAX && u[strlen(u) - 1] != ':' && !strstr(u, ":///");
}

static int config_read(struct request *req, struct response *resp)
{
	json_t *j = NULL;
	struct aws_config c;
	int r = get_json(req->storage, AWS_CONFIG_CLIENT_KEY, &j);
	if (r != 0)
		return r; /* 404 when never written, as Vault */
	aws_config_init(&c);
	if ((r = config_from_json(j, &c)) == 0)
		response_set_data(resp, config_to_json(&c, false));
	aws_config_release(&c);
	json_decref(j);
	return r;
}

static int config_write(struct request *req, struct response *resp)
{
	struct aws_config c;
	json_t *j = NULL;
	int r = aws_config_load(req->storage, &c);
	if (r != 0)
		goto out;
	static const char *const strs[] = {"access_key", "secret_key", "sts_endpoint", "sts_region",
	                                   "iam_server_id_header_value"};
	char **dst[] = {&c.access_key, &c.secret_key, &c.sts_endpoint, &c.sts_region,
	                &c.iam_server_id_header_value};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (!field_present(req, strs[i]))
			continue;
		if (i == 1)
			secure_free_str(*dst[i]);
		else
			free(*dst[i]);
		*dst[i] = dup_opt(field_string(req, strs[i]));
	}
	if ((c.access_key == NULL) != (c.secret_key == NULL)) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "access_key and secret_key must be given together");
		goto out;
	}
	if (c.sts_endpoint && !endpoint_ok(c.sts_endpoint)) {
		r = response_error(
		    resp, TROVE_ERR_INVALID,
		    "sts_endpoint must be an http(s) URL without user info, query or fragment");
		goto out;
	}
	if (field_bool(req, "use_sts_region_from_client")) {
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "use_sts_region_from_client is not supported: logins must use sts_endpoint");
		goto out;
	}
	if (field_present(req, "max_retries"))
		c.max_retries = field_int(req, "max_retries");
	if (field_present(req, "allowed_sts_header_values"))
		field_list(req, "allowed_sts_header_values", &c.allowed_sts_header_values);
	if (field_present(req, "endpoint") || field_present(req, "iam_endpoint"))
		if (field_string(req, "endpoint")[0] || field_string(req, "iam_endpoint")[0])
			response_warning(
			    resp, "endpoint and iam_endpoint are not used: Trove makes no EC2 or IAM calls");
	j = config_to_json(&c, true);
	r = put_json(req->storage, AWS_CONFIG_CLIENT_KEY, j);
out:
	json_decref(j);
	aws_config_release(&c);
	return r;
}

static int config_delete(struct request *req, struct response *resp)
{
	(void)resp;
	int r = storage_delete(req->storage, AWS_CONFIG_CLIENT_KEY);
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

/* --- config/identity ---------------------------------------------------------------- */

static const char *const iam_alias_names[] = {"role_id", "unique_id", "full_arn", "canonical_arn", NULL};
static const char *const iam_metadata_names[] = {"account_id",         "auth_type",
                                                 "canonical_arn",      "client_arn",
                                                 "client_user_id",     "inferred_aws_region",
                                                 "inferred_entity_id", "inferred_entity_type",
                                                 "inferred_hostname",  NULL};

static bool one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

void aws_identity_init(struct aws_identity *i)
{
	snprintf(i->iam_alias, sizeof(i->iam_alias), "role_id");
	strlist_init(&i->iam_metadata);
	strlist_push(&i->iam_metadata, "account_id");
	strlist_push(&i->iam_metadata, "auth_type");
}

void aws_identity_release(struct aws_identity *i)
{
	strlist_release(&i->iam_metadata);
}

int aws_identity_load(struct storage *s, struct aws_identity *out)
{
	json_t *j = NULL;
	int r = get_json(s, AWS_CONFIG_IDENTITY_KEY, &j);
	if (r == TROVE_ERR_NOT_FOUND)
		return 0;
	if (r == 0) {
		snprintf(out->iam_alias, sizeof(out->iam_alias), "%s", str_or(j, "iam_alias", "role_id"));
		const json_t *m = json_object_get(j, "iam_metadata");
		if (m) {
			strlist_release(&out->iam_metadata);
			strlist_init(&out->iam_metadata);
			if (!strlist_push_json(&out->iam_metadata, m))
				r = TROVE_ERR_INTEGRITY;
		}
	}
	json_decref(j);
	return r;
}

static json_t *identity_json(const struct aws_identity *i)
{
	return json_pack("{s:s,s:o,s:s,s:[s,s]}", "iam_alias", i->iam_alias, "iam_metadata",
	                 strlist_json(&i->iam_metadata), "ec2_alias", "role_id", "ec2_metadata", "account_id",
	                 "auth_type");
}

static int identity_read(struct request *req, struct response *resp)
{
	struct aws_identity i;
	aws_identity_init(&i);
	int r = aws_identity_load(req->storage, &i);
	if (r == 0)
		response_set_data(resp, identity_json(&i));
	aws_identity_release(&i);
	return r;
}

static int identity_write(struct request *req, struct response *resp)
{
	struct aws_identity i;
	json_t *j = NULL;
	aws_identity_init(&i);
	int r = aws_identity_load(req->storage, &i);
	if (r != 0)
		goto out;
	if (field_present(req, "iam_alias")) {
		const char *a = field_string(req, "iam_alias");
		if (!one_of(a, iam_alias_names)) {
			r = response_error(
			    resp, TROVE_ERR_INVALID,
			    "iam_alias must be one of role_id, unique_id, full_arn, canonical_arn");
			goto out;
		}
		snprintf(i.iam_alias, sizeof(i.iam_alias), "%s", a);
	}
	if (field_present(req, "iam_metadata")) {
		struct strlist m;
		strlist_init(&m);
		field_list(req, "iam_metadata", &m);
		strlist_release(&i.iam_metadata);
		strlist_init(&i.iam_metadata);
		strlist_push(&i.iam_metadata, "account_id");
		strlist_push(&i.iam_metadata, "auth_type");
		for (size_t k = 0; k < m.len && r == 0; k++) {
			if (strcmp(m.items[k], "default") == 0 ||
			    strlist_contains(&i.iam_metadata, m.items[k]))
				continue;
			if (!one_of(m.items[k], iam_metadata_names))
				r = response_error(resp, TROVE_ERR_INVALID,
				                   "iam_metadata: \"%s\" is not an available field",
				                   m.items[k]);
			else
				strlist_push(&i.iam_metadata, m.items[k]);
		}
		strlist_release(&m);
		if (r != 0)
			goto out;
	}
	if (field_present(req, "ec2_alias") || field_present(req, "ec2_metadata"))
		response_warning(resp,
		                 "ec2_alias and ec2_metadata are not used: the ec2 method is not built");
	j = identity_json(&i);
	r = put_json(req->storage, AWS_CONFIG_IDENTITY_KEY, j);
out:
	json_decref(j);
	aws_identity_release(&i);
	return r;
}

/* --- roles --------------------------------------------------------------------------- */

void aws_role_init(struct aws_role *r)
{
	memset(r, 0, sizeof(*r));
	strlist_init(&r->bound_iam_principal_arn);
	strlist_init(&r->bound_account_id);
	token_params_init(&r->tp);
}

void aws_role_release(struct aws_role *r)
{
	strlist_release(&r->bound_iam_principal_arn);
	strlist_release(&r->bound_account_id);
	token_params_release(&r->tp);
	aws_role_init(r);
}

static void role_key(const char *name, char *out, size_t n)
{
	snprintf(out, n, AWS_ROLE_PREFIX "%s", name);
}

int aws_role_load(struct storage *s, const char *name, struct aws_role *out)
{
	char key[AWS_NAME_MAX + 16];
	json_t *j = NULL;
	if (strlen(name) > AWS_NAME_MAX)
		return TROVE_ERR_NOT_FOUND;
	role_key(name, key, sizeof(key));
	int r = get_json(s, key, &j);
	if (r != 0)
		return r;
	snprintf(out->name, sizeof(out->name), "%s", name);
	snprintf(out->role_id, sizeof(out->role_id), "%s", str_or(j, "role_id", ""));
	out->resolve_aws_unique_ids = json_is_true(json_object_get(j, "resolve_aws_unique_ids"));
	if (!strlist_push_json(&out->bound_iam_principal_arn,
	                       json_object_get(j, "bound_iam_principal_arn")) ||
	    !strlist_push_json(&out->bound_account_id, json_object_get(j, "bound_account_id")) ||
	    token_params_load(json_object_get(j, "token"), &out->tp) != 0)
		r = TROVE_ERR_INTEGRITY;
	json_decref(j);
	return r;
}

static int role_name(const struct request *req, struct response *resp, char out[AWS_NAME_MAX + 1])
{
	const char *n = request_param(req, "role");
	size_t len = n ? strlen(n) : 0;
	if (len == 0 || len > AWS_NAME_MAX)
		return response_error(resp, TROVE_ERR_INVALID, "role name must be 1 to %d characters",
		                      AWS_NAME_MAX);
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("_-.@", n[i]))
			return response_error(resp, TROVE_ERR_INVALID,
			                      "role name may hold only letters, digits and _ - . @");
	snprintf(out, AWS_NAME_MAX + 1, "%s", n);
	return 0;
}

/* The EC2 bindings: read as empty, refused when given. */
static const char *const ec2_only[] = {
    "bound_ami_id",          "bound_region",       "bound_vpc_id",
    "bound_subnet_id",       "bound_iam_role_arn", "bound_iam_instance_profile_arn",
    "bound_ec2_instance_id", "role_tag",           NULL};

static json_t *role_json(const struct aws_role *r)
{
	json_t *o = json_pack("{s:s,s:o,s:o,s:[],s:s,s:s,s:b,s:s,s:s,s:b,s:b}", "auth_type", "iam",
	                      "bound_iam_principal_arn", strlist_json(&r->bound_iam_principal_arn),
	                      "bound_account_id", strlist_json(&r->bound_account_id),
	                      "bound_iam_principal_id", "inferred_entity_type", "", "inferred_aws_region", "",
	                      "resolve_aws_unique_ids", r->resolve_aws_unique_ids, "role_id", r->role_id,
	                      "role_tag", "", "allow_instance_migration", 0, "disallow_reauthentication", 0);
	for (size_t i = 0; ec2_only[i]; i++)
		if (strcmp(ec2_only[i], "role_tag") != 0)
			json_object_set_new(o, ec2_only[i], json_array());
	token_params_to_json(&r->tp, o);
	return o;
}

static int role_apply(struct request *req, struct response *resp, struct aws_role *role)
{
	int r;
	if (field_present(req, "auth_type")) {
		const char *t = field_string(req, "auth_type");
		if (strcmp(t, "ec2") == 0)
			return response_error(
			    resp, TROVE_ERR_INVALID,
			    "auth_type \"ec2\" is not supported: only the iam method is built");
		if (strcmp(t, "iam") != 0)
			return response_error(resp, TROVE_ERR_INVALID, "unrecognized auth_type \"%s\"", t);
	}
	for (size_t i = 0; ec2_only[i]; i++) {
		const json_t *v = req->data ? json_object_get(req->data, ec2_only[i]) : NULL;
		if ((json_is_string(v) && json_string_length(v) > 0) ||
		    (json_is_array(v) && json_array_size(v) > 0))
			return response_error(
			    resp, TROVE_ERR_INVALID,
			    "%s is an ec2 binding: not supported, only the iam method is built", ec2_only[i]);
	}
	if (field_string(req, "inferred_entity_type")[0] || field_string(req, "inferred_aws_region")[0])
		return response_error(
		    resp, TROVE_ERR_INVALID,
		    "inferred_entity_type is not supported: Trove does not infer EC2 instances");
	if ((r = token_params_parse(req, resp, &role->tp)) != 0)
		return r;
	if (field_present(req, "bound_iam_principal_arn")) {
		field_list(req, "bound_iam_principal_arn", &role->bound_iam_principal_arn);
		for (size_t i = 0; i < role->bound_iam_principal_arn.len; i++) {
			const char *a = role->bound_iam_principal_arn.items[i];
			if (strncmp(a, "arn:", 4) != 0 || strlen(a) > AWS_ARN_MAX ||
			    (strchr(a, '*') && strchr(a, '*') != a + strlen(a) - 1))
				return response_error(
				    resp, TROVE_ERR_INVALID,
				    "bound_iam_principal_arn: \"%s\" is not an ARN (a '*' may only end it)",
				    a);
		}
	}
	if (field_present(req, "bound_account_id"))
		field_list(req, "bound_account_id", &role->bound_account_id);
	if (field_present(req, "resolve_aws_unique_ids"))
		role->resolve_aws_unique_ids = field_bool(req, "resolve_aws_unique_ids");
	if (role->resolve_aws_unique_ids)
		return response_error(
		    resp, TROVE_ERR_INVALID,
		    "resolve_aws_unique_ids=true is not supported: it needs IAM GetUser/GetRole "
		    "calls, which Trove does not make; set it to false (bindings then match ARNs "
		    "as written)");
	if (role->bound_iam_principal_arn.len == 0 && role->bound_account_id.len == 0)
		return response_error(resp, TROVE_ERR_INVALID,
		                      "at least one bound parameter should be specified on the role");
	return 0;
}

static int role_write(struct request *req, struct response *resp)
{
	char name[AWS_NAME_MAX + 1], key[AWS_NAME_MAX + 16];
	struct aws_role role;
	json_t *j = NULL;
	int r;

	aws_role_init(&role);
	if ((r = role_name(req, resp, name)) != 0)
		goto out;
	r = aws_role_load(req->storage, name, &role);
	if (r == TROVE_ERR_NOT_FOUND) {
		aws_role_release(&role);
		snprintf(role.name, sizeof(role.name), "%s", name);
		if ((r = rand_uuid(role.role_id)) != 0)
			goto out;
	} else if (r != 0) {
		goto out;
	}
	if ((r = role_apply(req, resp, &role)) != 0)
		goto out;
	j = json_pack("{s:s,s:o,s:o,s:b,s:o}", "role_id", role.role_id, "bound_iam_principal_arn",
	              strlist_json(&role.bound_iam_principal_arn), "bound_account_id",
	              strlist_json(&role.bound_account_id), "resolve_aws_unique_ids",
	              role.resolve_aws_unique_ids, "token", token_params_store(&role.tp));
	role_key(name, key, sizeof(key));
	r = put_json(req->storage, key, j);
out:
	json_decref(j);
	aws_role_release(&role);
	return r;
}

static int role_read(struct request *req, struct response *resp)
{
	char name[AWS_NAME_MAX + 1];
	struct aws_role role;
	int r;
	aws_role_init(&role);
	if ((r = role_name(req, resp, name)) == 0 && (r = aws_role_load(req->storage, name, &role)) == 0)
		response_set_data(resp, role_json(&role));
	aws_role_release(&role);
	return r;
}

static int role_delete(struct request *req, struct response *resp)
{
	char name[AWS_NAME_MAX + 1], key[AWS_NAME_MAX + 16];
	int r = role_name(req, resp, name);
	if (r != 0)
		return r;
	role_key(name, key, sizeof(key));
	r = storage_delete(req->storage, key);
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

static int role_exists(struct request *req, bool *out)
{
	struct aws_role role;
	const char *n = request_param(req, "role");
	aws_role_init(&role);
	*out = n && aws_role_load(req->storage, n, &role) == 0;
	aws_role_release(&role);
	return 0;
}

static int role_list(struct request *req, struct response *resp)
{
	struct strlist keys;
	strlist_init(&keys);
	int r = storage_list(req->storage, AWS_ROLE_PREFIX, &keys);
	if (r == 0 && keys.len == 0)
		r = TROVE_ERR_NOT_FOUND;
	if (r == 0)
		response_set_data(resp, json_pack("{s:o}", "keys", strlist_json(&keys)));
	strlist_release(&keys);
	return r;
}

/* --- route table ------------------------------------------------------------------- */

static const struct field config_fields[] = {
    {.name = "access_key", .type = FIELD_STRING, .description = "AWS access key ID (optional)"},
    {.name = "secret_key", .type = FIELD_STRING, .sensitive = true, .description = "AWS secret access key"},
    {.name = "sts_endpoint", .type = FIELD_STRING, .description = "STS URL logins are checked against"},
    {.name = "sts_region", .type = FIELD_STRING, .description = "region of the STS endpoint"},
    {.name = "endpoint", .type = FIELD_STRING, .description = "EC2 endpoint (not used)"},
    {.name = "iam_endpoint", .type = FIELD_STRING, .description = "IAM endpoint (not used)"},
    {.name = "iam_server_id_header_value",
     .type = FIELD_STRING,
     .description = "value logins must sign in X-Vault-AWS-IAM-Server-ID"},
    {.name = "allowed_sts_header_values",
     .type = FIELD_STRLIST,
     .description = "unsigned headers a login may also send to STS"},
    {.name = "max_retries",
     .type = FIELD_INT,
     .description = "kept for compatibility (calls are not retried)"},
    {.name = "use_sts_region_from_client", .type = FIELD_BOOL, .description = "not supported"},
    {0},
};
static const struct field identity_fields[] = {
    {.name = "iam_alias",
     .type = FIELD_STRING,
     .description = "role_id, unique_id, full_arn or canonical_arn"},
    {.name = "iam_metadata", .type = FIELD_STRLIST, .description = "metadata fields added to tokens"},
    {.name = "ec2_alias", .type = FIELD_STRING, .description = "not used"},
    {.name = "ec2_metadata", .type = FIELD_STRLIST, .description = "not used"},
    {0},
};
static const struct field role_fields[] = {
    {.name = "auth_type", .type = FIELD_STRING, .description = "iam (ec2 is not supported)"},
    {.name = "bound_iam_principal_arn",
     .type = FIELD_STRLIST,
     .description = "ARNs allowed (a trailing * is a wildcard)"},
    {.name = "bound_account_id", .type = FIELD_STRLIST, .description = "AWS accounts allowed"},
    {.name = "resolve_aws_unique_ids", .type = FIELD_BOOL, .description = "must be false"},
    {.name = "inferred_entity_type", .type = FIELD_STRING, .description = "not supported"},
    {.name = "inferred_aws_region", .type = FIELD_STRING, .description = "not supported"},
    {.name = "bound_ami_id", .type = FIELD_STRLIST, .description = "ec2: not supported"},
    {.name = "bound_region", .type = FIELD_STRLIST, .description = "ec2: not supported"},
    {.name = "bound_vpc_id", .type = FIELD_STRLIST, .description = "ec2: not supported"},
    {.name = "bound_subnet_id", .type = FIELD_STRLIST, .description = "ec2: not supported"},
    {.name = "bound_iam_role_arn", .type = FIELD_STRLIST, .description = "ec2: not supported"},
    {.name = "bound_iam_instance_profile_arn", .type = FIELD_STRLIST, .description = "ec2: not supported"},
    {.name = "bound_ec2_instance_id", .type = FIELD_STRLIST, .description = "ec2: not supported"},
    {.name = "role_tag", .type = FIELD_STRING, .description = "ec2: not supported"},
    TOKEN_PARAM_FIELDS,
    {0},
};
static const struct field login_fields[] = {
    {.name = "role", .type = FIELD_STRING, .description = "the role (default: the caller's IAM name)"},
    {.name = "iam_http_request_method", .type = FIELD_STRING, .description = "POST"},
    {.name = "iam_request_url", .type = FIELD_STRING, .description = "base64 of the STS URL"},
    {.name = "iam_request_body",
     .type = FIELD_STRING,
     .sensitive = true,
     .description = "base64 of the body"},
    {.name = "iam_request_headers",
     .type = FIELD_ANY,
     .sensitive = true,
     .description = "the signed headers: a JSON object, or its base64"},
    {0},
};
static const struct field no_fields[] = {{0}};

static const struct route aws_routes[] = {
    {.pattern = "login",
     .ops = {[OP_UPDATE] = aws_login},
     .fields = login_fields,
     .flags = ROUTE_UNAUTH,
     .synopsis = "log in with a signed sts:GetCallerIdentity request"},
    {.pattern = "config/client",
     .ops = {[OP_READ] = config_read,
             [OP_CREATE] = config_write,
             [OP_UPDATE] = config_write,
             [OP_DELETE] = config_delete},
     .fields = config_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "the STS endpoint and the server-ID header"},
    {.pattern = "config/identity",
     .ops = {[OP_READ] = identity_read, [OP_UPDATE] = identity_write},
     .fields = identity_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "alias and metadata of logins"},
    {.pattern = "role",
     .ops = {[OP_LIST] = role_list},
     .fields = no_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list roles"},
    {.pattern = "roles",
     .ops = {[OP_LIST] = role_list},
     .fields = no_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list roles"},
    {.pattern = "role/:role",
     .ops = {[OP_READ] = role_read,
             [OP_CREATE] = role_write,
             [OP_UPDATE] = role_write,
             [OP_DELETE] = role_delete},
     .exists = role_exists,
     .fields = role_fields,
     .flags = ROUTE_NAMES_CI | ROUTE_LOOP_READS,
     .synopsis = "create, read, update and delete roles"},
    {0},
};

static const struct route *const aws_tables[] = {aws_routes, NULL};

const struct engine aws_engine = {
    .type = "aws",
    .tables = aws_tables,
    .flags = ENGINE_AUTH,
};
