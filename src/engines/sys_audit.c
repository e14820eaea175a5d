/* sys_audit.c — the sys/ engine, audit: sys/audit (list, enable,
 * disable), sys/audit-hash/:path, sys/config/auditing/request-headers.
 *
 * Everything here is root-protected (sudo) except audit-hash, as in Vault.
 * Replies are injected at the top level as well as under data (Vault's
 * sys/ injection), which old clients read. The broker (core/audit.h) does
 * the work; this file only translates requests and errors. */
#include <stdlib.h>
#include <string.h>

#include "engines.h"

#include "core/audit.h"
#include "core/core.h"
#include "err.h"

#include "banned.h"

/* The part of the path after `prefix` ("audit/", "audit-hash/"). */
static const char *path_after(const struct request *req, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(req->rel, prefix, n) == 0 ? req->rel + n : "";
}

static int audit_list(struct request *req, struct response *resp)
{
	response_set_data(resp, audit_broker_list(core_audit(req->core)));
	resp->inject_data = true;
	return 0;
}

static int audit_enable(struct request *req, struct response *resp)
{
	struct buf err;
	const json_t *options = req->data ? json_object_get(req->data, "options") : NULL;
	struct audit_enable_params p = {
	    .path = path_after(req, "audit/"),
	    .type = field_string(req, "type"),
	    .description = field_string(req, "description"),
	    .options = json_is_object(options) ? options : NULL,
	    .local = field_bool(req, "local"),
	};
	buf_init(&err, 256);
	int r = audit_broker_enable(core_audit(req->core), &p, &err);
	if (r != 0)
		response_error(resp, r, "%s", err.len ? err.data : err_message(r));
	else
		resp->status = 204;
	buf_release(&err);
	return r;
}

static int audit_disable(struct request *req, struct response *resp)
{
	const char *path = path_after(req, "audit/");
	if (!path[0])
		return response_error(resp, TROVE_ERR_INVALID, "path: missing");
	struct buf err;
	buf_init(&err, 1024);
	int r = audit_broker_disable(core_audit(req->core), path, &err);
	if (r == 0)
		resp->status = 204;
	else if (err.len)
		response_error(resp, r, "%s", err.data);
	buf_release(&err);
	return r;
}

static int audit_hash(struct request *req, struct response *resp)
{
	char out[AUDIT_HASH_MAX];
	const char *path = path_after(req, "audit-hash/");
	int r = audit_broker_hash(core_audit(req->core), path, field_string(req, "input"), out);
	if (r == TROVE_ERR_NOT_FOUND)
		return response_error(resp, TROVE_ERR_INVALID, "unknown audit backend %s", path);
	if (r != 0)
		return r;
	response_set_data(resp, json_pack("{s:s}", "hash", out));
	resp->inject_data = true;
	return 0;
}

static int headers_list(struct request *req, struct response *resp)
{
	response_set_data(resp, json_pack("{s:o}", "headers", audit_headers_list(core_audit(req->core))));
	resp->inject_data = true;
	return 0;
}

static int header_one(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "header");
	struct audit_broker *b = core_audit(req->core);
	int r;

	if (!name || !name[0])
		return response_error(resp, TROVE_ERR_INVALID, "header: missing");
	switch (req->op) {
	case OP_READ: {
		json_t *h = audit_headers_get(b, name);
		if (!h)
			return TROVE_ERR_NOT_FOUND;
		response_set_data(resp, json_pack("{s:o}", name, h));
		resp->inject_data = true;
		return 0;
	}
	case OP_DELETE:
		r = audit_headers_delete(b, name);
		break;
	default:
		r = audit_headers_set(b, name, field_bool(req, "hmac"));
		if (r == TROVE_ERR_INVALID)
			return response_error(resp, r, "too many audited request headers");
		break;
	}
	if (r == 0)
		resp->status = 204;
	return r;
}

static const struct field enable_fields[] = {
    {.name = "type", .type = FIELD_STRING, .description = "device type: file, socket or syslog"},
    {.name = "description", .type = FIELD_STRING, .def = "", .description = "human-readable description"},
    {.name = "options",
     .type = FIELD_STRMAP,
     .description = "device options (file_path, prefix, hmac_accessor...)"},
    {.name = "local", .type = FIELD_BOOL, .def = "false", .description = "not replicated"},
    {0},
};

static const struct field hash_fields[] = {
    {.name = "input", .type = FIELD_STRING, .description = "the value to hash", .required = true, .sensitive = true},
    {0},
};

static const struct field header_fields[] = {
    {.name = "hmac", .type = FIELD_BOOL, .def = "false", .description = "record the header's value HMAC'd"},
    {0},
};

const struct route sys_audit_routes[] = {
    {.pattern = "audit",
     .ops = {[OP_READ] = audit_list},
     .flags = ROUTE_SUDO | ROUTE_LOOP_READS,
     .synopsis = "list audit devices"},
    {.pattern = "audit/*",
     .ops = {[OP_UPDATE] = audit_enable, [OP_DELETE] = audit_disable},
     .fields = enable_fields,
     .flags = ROUTE_SUDO | ROUTE_SLASH_EQUIV,
     .synopsis = "enable or disable an audit device"},
    {.pattern = "audit-hash/*",
     .ops = {[OP_UPDATE] = audit_hash},
     .fields = hash_fields,
     .synopsis = "hash a value as an audit device does"},
    {.pattern = "config/auditing/request-headers",
     .ops = {[OP_READ] = headers_list},
     .flags = ROUTE_SUDO | ROUTE_LOOP_READS,
     .synopsis = "list the request headers audit records"},
    {.pattern = "config/auditing/request-headers/:header",
     .ops = {[OP_READ] = header_one, [OP_UPDATE] = header_one, [OP_DELETE] = header_one},
     .fields = header_fields,
     .flags = ROUTE_SUDO | ROUTE_NAMES_CI | ROUTE_LOOP_READS,
     .synopsis = "read, set or remove one audited request header"},
    {0},
};
