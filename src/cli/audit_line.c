/* audit_line.c — one audit log line read as an entry (audit_line.h): the
 * prefix before the JSON skipped, blank and malformed lines told apart,
 * the fields the filters and tables read picked out, and the auth block
 * that speaks for the entry chosen. */
#include <string.h>

#include "cli/audit_line.h"

#include "banned.h"

const char *aq_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

bool aq_has_text(const char *s)
{
	return s && *s;
}

/* The auth block that speaks for an entry: the requester's, or for a
 * request made without a token (a login) the auth its response issued. */
static const json_t *identity_auth(const json_t *root)
{
	const json_t *a = json_object_get(root, "auth");
	const json_t *issued = json_object_get(json_object_get(root, "response"), "auth");

	if (json_is_object(a) &&
	    (aq_has_text(aq_str(a, "client_token")) || aq_has_text(aq_str(a, "display_name"))))
		return a;
	if (json_is_object(issued))
		return issued;
	return json_is_object(a) ? a : NULL;
}

bool aq_entry_from_json(json_t *root, struct aq_entry *e)
{
	const json_t *req;
	const char *type;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(root) || !aq_time_parse(aq_str(root, "time"), &e->time))
		return false;
	type = aq_str(root, "type");
	if (type && strcmp(type, "request") == 0)
		e->kind = AQ_REQUEST;
	else if (type && strcmp(type, "response") == 0)
		e->kind = AQ_RESPONSE;
	else
		return false;
	req = json_object_get(root, "request");
	e->id = aq_str(req, "id");
	e->path = aq_str(req, "path");
	e->op = aq_str(req, "operation");
	e->remote = aq_str(req, "remote_address");
	e->mount = aq_str(req, "mount_point");
	e->error = aq_str(root, "error");
	e->auth = identity_auth(root);
	e->root = json_incref(root);
	return true;
}

enum aq_parse_result aq_entry_parse(const char *line, size_t len, struct aq_entry *e)
{
	const char *brace = memchr(line, '{', len);
	json_error_t jerr;
	json_t *root;
	bool ok;
	size_t i;

	memset(e, 0, sizeof(*e));
	if (brace == NULL) {
		for (i = 0; i < len; i++)
			if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n')
				return AQ_PARSE_MALFORMED;
		return AQ_PARSE_BLANK;
	}
	root = json_loadb(brace, len - (size_t)(brace - line), 0, &jerr);
	if (root == NULL)
		return AQ_PARSE_MALFORMED;
	ok = aq_entry_from_json(root, e);
	json_decref(root);
	return ok ? AQ_PARSE_OK : AQ_PARSE_MALFORMED;
}

void aq_entry_release(struct aq_entry *e)
{
	json_decref(e->root);
	memset(e, 0, sizeof(*e));
}

static const json_t *policy_results(const struct aq_entry *e)
{
	return json_object_get(json_object_get(e->root, "auth"), "policy_results");
}

bool aq_entry_allowed(const struct aq_entry *e)
{
	const json_t *allowed = json_object_get(policy_results(e), "allowed");

	if (json_is_boolean(allowed))
		return json_is_true(allowed);
	return !(e->error && strcmp(e->error, "permission denied") == 0);
}

const char *aq_entry_role(const struct aq_entry *e)
{
	static const char *const keys[] = {"role", "role_name", "service_account_name"};
	const json_t *meta = json_object_get(e->auth, "metadata");
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (aq_has_text(aq_str(meta, keys[i])))
			return aq_str(meta, keys[i]);
	return NULL;
}

void aq_entry_policies(const struct aq_entry *e, struct buf *out)
{
	const json_t *granting = json_object_get(policy_results(e), "granting_policies");
	size_t i, n = 0;

	for (i = 0; i < json_array_size(granting); i++) {
		const char *name = aq_str(json_array_get(granting, i), "name");

		if (!aq_has_text(name))
			continue;
		(void)buf_printf(out, "%s%s", n++ ? "," : "", name);
	}
}
