/* sys_policy.c — the sys/ engine, policies: sys/policy (the legacy API),
 * sys/policies/acl, sys/capabilities[-self] and the UI's resultant ACL.
 *
 * The two policy APIs differ only in shape: sys/policy answers with the
 * text under "rules" and copies its data to the top level of the reply;
 * sys/policies/acl answers with "policy" inside data only. Both accept the
 * text as given or base64-encoded, and store exactly the text that was
 * parsed, so a read returns it byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "engines.h"

#include "core/acl.h"
#include "core/core.h"
#include "core/policy_store.h"
#include "core/token.h"
#include "encoding.h"
#include "err.h"

#include "banned.h"

/* --- listing -------------------------------------------------------------- */

static int list_names(struct request *req, struct response *resp, const char *prefix, json_t **out)
{
	struct strlist names;
	int r;

	(void)resp;
	strlist_init(&names);
	if ((r = policy_store_list(core_policies(req->core), &names)) != 0)
		goto out;
	*out = json_array();
	for (size_t i = 0; i < names.len; i++)
		if (!prefix || strncmp(names.items[i], prefix, strlen(prefix)) == 0)
			json_array_append_new(*out, json_string(names.items[i]));
	if (!prefix || strncmp("root", prefix, strlen(prefix)) == 0)
		json_array_append_new(*out, json_string("root"));
	r = 0;
out:
	strlist_release(&names);
	return r;
}

static int policy_list(struct request *req, struct response *resp)
{
	json_t *keys = NULL;
	int r = list_names(req, resp, NULL, &keys);
	if (r != 0)
		return r;
	response_set_data(resp, json_pack("{s:O, s:o}", "keys", keys, "policies", keys));
	resp->inject_data = true;
	return 0;
}

static int acl_list(struct request *req, struct response *resp)
{
	const char *prefix = request_param(req, "name");
	json_t *keys = NULL;
	int r = list_names(req, resp, prefix, &keys);
	if (r != 0)
		return r;
	response_set_data(resp, json_pack("{s:o}", "keys", keys));
	return 0;
}

/* --- read ------------------------------------------------------------------- */

static int read_common(struct request *req, struct response *resp, bool legacy)
{
	char *name = policy_name_normalize(request_param(req, "name"));
	char *text = NULL;
	size_t len = 0;
	int r;

	if (!name)
		return TROVE_ERR_NOT_FOUND;
	if ((r = policy_store_get(core_policies(req->core), name, &text, &len)) != 0)
		goto out;
	response_set_data(resp, json_pack("{s:s, s:s%}", "name", name, legacy ? "rules" : "policy", text, len));
	if (!resp->data) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	resp->inject_data = legacy;
	r = 0;
out:
	free(text);
	free(name);
	return r;
}

static int policy_read(struct request *req, struct response *resp)
{
	return read_common(req, resp, true);
}

static int acl_read(struct request *req, struct response *resp)
{
	return read_common(req, resp, false);
}

/* --- write ------------------------------------------------------------------ */

/* Vault accepts the document base64-encoded. Decoded bytes are used only
 * when they are themselves a valid policy, so plain text that happens to
 * be valid base64 is never mangled. */
static char *maybe_base64(const char *text, size_t len, size_t *out_len)
{
	unsigned char *dec = NULL;
	struct policy *p = NULL;
	size_t n = 0;

	if (len == 0 || len % 4 != 0)
		return NULL;
	dec = malloc(len / 4 * 3 + 1);
	if (!dec)
		return NULL;
	if (base64_decode(text, len, dec, len / 4 * 3 + 1, &n) != 0 || n == 0 || memchr(dec, '\0', n)) {
		free(dec);
		return NULL;
	}
	dec[n] = '\0';
	if (policy_parse("", (const char *)dec, n, &p, NULL) != 0) {
		free(dec);
		return NULL;
	}
	policy_free(p);
	*out_len = n;
	return (char *)dec;
}

static int write_common(struct request *req, struct response *resp, bool legacy)
{
	const char *name = request_param(req, "name");
	json_t *jt = json_object_get(req->data, "policy");
	const char *text;
	size_t len;
	char *decoded = NULL;
	struct buf err;
	int r;

	if ((!json_is_string(jt) || json_string_length(jt) == 0) && legacy) {
		json_t *rules = json_object_get(req->data, "rules");
		if (json_is_string(rules) && json_string_length(rules) > 0) {
			jt = rules;
			response_warning(resp, "'rules' is deprecated, please use 'policy' instead");
		}
	}
	if (!json_is_string(jt) || json_string_length(jt) == 0)
		return response_error(resp, TROVE_ERR_INVALID, "'policy' parameter not supplied or empty");
	text = json_string_value(jt);
	len = json_string_length(jt);
	if ((decoded = maybe_base64(text, len, &len)) != NULL)
		text = decoded;

	buf_init(&err, 4096);
	r = policy_store_put(core_policies(req->core), name, text, len, &err);
	if (r != 0 && err.len)
		response_error(resp, r, "%s", err.data);
	buf_release(&err);
	free(decoded);
	return r;
}

static int policy_write(struct request *req, struct response *resp)
{
	return write_common(req, resp, true);
}

static int acl_write(struct request *req, struct response *resp)
{
	return write_common(req, resp, false);
}

static int policy_delete(struct request *req, struct response *resp)
{
	struct buf err;
	int r;

	buf_init(&err, 512);
	r = policy_store_delete(core_policies(req->core), request_param(req, "name"), &err);
	if (r != 0 && err.len)
		response_error(resp, r, "%s", err.data);
	buf_release(&err);
	return r;
}

/* --- capabilities ------------------------------------------------------------ */

/* The requester's own ACL: the one the router resolved, or one built from
 * the token's policies. */
static int self_acl(struct request *req, struct acl **out)
{
	if (req->acl) {
		acl_ref(req->acl);
		*out = req->acl;
		return 0;
	}
	if (!req->token)
		return TROVE_ERR_PERMISSION;
	return policy_store_acl(core_policies(req->core), &req->token->policies, out);
}

static int caps_reply(struct request *req, struct response *resp, const struct acl *a)
{
	json_t *paths = json_object_get(req->data, "paths");
	json_t *data, *v, *one = NULL;
	size_t i, n = 0;

	/* The router coerces both fields to string lists; a lone string is
	 * still taken as one path should a caller bypass that. */
	if (json_array_size(paths) == 0 && !(json_is_string(paths) && json_string_length(paths)))
		paths = json_object_get(req->data, "path");
	if (json_is_string(paths) && json_string_length(paths))
		paths = one = json_pack("[O]", paths);
	if (!json_is_array(paths) || json_array_size(paths) == 0)
		return response_error(resp, TROVE_ERR_INVALID, "paths must be supplied");
	data = json_object();
	json_array_foreach(paths, i, v) {
		if (!json_is_string(v))
			continue;
		const char *p = json_string_value(v);
		json_object_set_new(data, p, acl_caps_json(a, acl_capabilities(a, p)));
		n++;
	}
	if (n == 1 && json_array_size(paths) == 1)
		json_object_set(data, "capabilities",
				json_object_get(data, json_string_value(json_array_get(paths, 0))));
	json_decref(one);
	response_set_data(resp, data);
	resp->inject_data = true;
	return 0;
}

static int capabilities_self(struct request *req, struct response *resp)
{
	struct acl *a = NULL;
	int r;

	if ((r = self_acl(req, &a)) != 0)
		return r;
	r = caps_reply(req, resp, a);
	acl_release(a);
	return r;
}

static int capabilities_token(struct request *req, struct response *resp)
{
	const char *tok = field_string(req, "token");
	struct token_entry *e = NULL;
	struct acl *a = NULL;
	int r;

	if (!tok[0])
		return response_error(resp, TROVE_ERR_INVALID, "missing token");
	r = token_lookup(core_tokens(req->core), tok, &e);
	if (r == TROVE_ERR_PERMISSION)
		return response_error(resp, TROVE_ERR_INVALID, "invalid token");
	if (r != 0)
		return r;
	if ((r = policy_store_acl(core_policies(req->core), &e->policies, &a)) != 0)
		goto out;
	r = caps_reply(req, resp, a);
out:
	acl_release(a);
	token_entry_free(e);
	return r;
}

static int resultant_acl(struct request *req, struct response *resp)
{
	struct acl *a = NULL;
	int r;

	if ((r = self_acl(req, &a)) != 0)
		return r;
	response_set_data(resp, acl_resultant_json(a));
	acl_release(a);
	return resp->data ? 0 : TROVE_ERR_NOMEM;
}

/* --- the table ----------------------------------------------------------------- */

static const struct field name_fields[] = {
    {.name = "name", .type = FIELD_STRING, .description = "the policy's name"},
    {.name = "policy",
     .type = FIELD_STRING,
     .description = "the policy document (HCL or JSON, optionally base64)"},
    {0},
};

static const struct field legacy_fields[] = {
    {.name = "name", .type = FIELD_STRING, .description = "the policy's name"},
    {.name = "policy",
     .type = FIELD_STRING,
     .description = "the policy document (HCL or JSON, optionally base64)"},
    {.name = "rules", .type = FIELD_STRING, .description = "deprecated: the policy document"},
    {0},
};

static const struct field caps_fields[] = {
    {.name = "token", .type = FIELD_STRING, .description = "the token to evaluate", .sensitive = true},
    {.name = "paths", .type = FIELD_STRLIST, .description = "paths to report capabilities on"},
    {.name = "path", .type = FIELD_STRLIST, .description = "deprecated: paths to report capabilities on"},
    {0},
};

static const struct field caps_self_fields[] = {
    {.name = "paths", .type = FIELD_STRLIST, .description = "paths to report capabilities on"},
    {.name = "path", .type = FIELD_STRLIST, .description = "deprecated: paths to report capabilities on"},
    {0},
};

const struct route sys_policy_routes[] = {
    {.pattern = "policy",
     .ops = {[OP_READ] = policy_list, [OP_LIST] = policy_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list the ACL policies"},
    {.pattern = "policy/:name",
     .ops = {[OP_READ] = policy_read, [OP_UPDATE] = policy_write, [OP_DELETE] = policy_delete},
     .fields = legacy_fields,
     .flags = ROUTE_NAMES_CI | ROUTE_LOOP_READS,
     .synopsis = "read, write or delete an ACL policy (legacy shape)"},
    {.pattern = "policies/acl",
     .ops = {[OP_LIST] = acl_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list the ACL policies"},
    {.pattern = "policies/acl/:name",
     .ops =
         {[OP_READ] = acl_read, [OP_UPDATE] = acl_write, [OP_DELETE] = policy_delete, [OP_LIST] = acl_list},
     .fields = name_fields,
     .flags = ROUTE_NAMES_CI | ROUTE_LOOP_READS,
     .synopsis = "read, write or delete an ACL policy"},
    {.pattern = "capabilities",
     .ops = {[OP_UPDATE] = capabilities_token},
     .fields = caps_fields,
     .synopsis = "a token's capabilities on paths"},
    {.pattern = "capabilities-self",
     .ops = {[OP_UPDATE] = capabilities_self},
     .fields = caps_self_fields,
     .synopsis = "the calling token's capabilities on paths"},
    {.pattern = "internal/ui/resultant-acl",
     .ops = {[OP_READ] = resultant_acl},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "the calling token's combined policies, for the UI"},
    {.pattern = NULL},
};
