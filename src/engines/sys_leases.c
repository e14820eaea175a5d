/* sys_leases.c — sys/leases/... and the legacy sys/renew, sys/revoke,
 * sys/revoke-prefix and sys/revoke-force (expiration.h does the work). */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/expiration.h"
#include "engines.h"
#include "err.h"
#include "strlist_json.h"

#include "banned.h"

static struct expiration *mgr(const struct request *req)
{
	return core_expiration(req->core);
}

/* What a "*" route matched: req->rel after `prefix`. */
static const char *rest(const struct request *req, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(req->rel, prefix, n) == 0 ? req->rel + n : "";
}

/* The lease id from the body, else from the path after `prefix` (the
 * body wins, as Vault). NULL after filling resp when neither has one. */
static const char *lease_id_of(struct request *req, struct response *resp, const char *prefix)
{
	const char *id = field_string(req, "lease_id");
	if (!*id && prefix)
		id = rest(req, prefix);
	if (!*id) {
		response_error(resp, TROVE_ERR_INVALID, "missing lease_id");
		return NULL;
	}
	return id;
}

static int finish(struct response *resp, int r, struct buf *err)
{
	if (r != 0 && !resp->errors)
		response_error(resp, r, "%s", err->len ? err->data : err_message(r));
	if (r == 0)
		resp->status = 204;
	buf_release(err);
	return r;
}

static int lookup(struct request *req, struct response *resp)
{
	const char *id = lease_id_of(req, resp, NULL);
	json_t *data = NULL;
	if (!id)
		return TROVE_ERR_INVALID;
	int r = expiration_lookup(mgr(req), id, &data);
	if (r == TROVE_ERR_INVALID)
		return response_error(resp, r, "invalid lease");
	if (r != 0)
		return r;
	response_set_data(resp, data);
	return 0;
}

static int list(struct request *req, struct response *resp)
{
	struct strlist keys;
	const char *prefix = rest(req, "leases/lookup/");
	strlist_init(&keys);
	int r = expiration_list(mgr(req), prefix, &keys);
	if (r == TROVE_ERR_INVALID)
		r = response_error(resp, r, "prefix must end in '/'");
	if (r == 0 && keys.len == 0)
		r = TROVE_ERR_NOT_FOUND;
	if (r == 0) {
		response_set_data(resp, json_pack("{s:o}", "keys", strlist_json(&keys)));
	}
	strlist_release(&keys);
	return r;
}

/* LIST sys/leases/lookup/ (the router matches it to "leases/lookup",
 * whose other operation needs no sudo): the sudo check is made here. */
static int list_root(struct request *req, struct response *resp)
{
	if (!req->sudo)
		return response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
	return list(req, resp);
}

static int renew_at(struct request *req, struct response *resp, const char *prefix)
{
	const char *id = lease_id_of(req, resp, prefix);
	if (!id)
		return TROVE_ERR_INVALID;
	int64_t inc = field_int(req, "increment");
	if (inc < 0)
		return response_error(resp, TROVE_ERR_INVALID, "increment must not be negative");
	return expiration_renew(mgr(req), id, inc, resp);
}

static int renew(struct request *req, struct response *resp)
{
	return renew_at(req, resp, "leases/renew/");
}

static int legacy_renew(struct request *req, struct response *resp)
{
	return renew_at(req, resp, "renew/");
}

static int revoke_at(struct request *req, struct response *resp, const char *prefix)
{
	struct buf err;
	const char *id = lease_id_of(req, resp, prefix);
	if (!id)
		return TROVE_ERR_INVALID;
	buf_init(&err, 4096);
	return finish(resp, expiration_revoke(mgr(req), id, field_bool(req, "sync"), &err), &err);
}

static int revoke(struct request *req, struct response *resp)
{
	return revoke_at(req, resp, "leases/revoke/");
}

static int legacy_revoke(struct request *req, struct response *resp)
{
	return revoke_at(req, resp, "revoke/");
}

static int prefix_revoke(struct request *req, struct response *resp, const char *route, bool force)
{
	struct buf err;
	buf_init(&err, 4096);
	return finish(resp,
	              expiration_revoke_prefix(mgr(req), rest(req, route), force || field_bool(req, "sync"), force,
	                                       NULL, &err),
	              &err);
}

static int revoke_prefix(struct request *req, struct response *resp)
{
	return prefix_revoke(req, resp, "leases/revoke-prefix/", false);
}

static int revoke_force(struct request *req, struct response *resp)
{
	return prefix_revoke(req, resp, "leases/revoke-force/", true);
}

static int legacy_revoke_prefix(struct request *req, struct response *resp)
{
	return prefix_revoke(req, resp, "revoke-prefix/", false);
}

static int legacy_revoke_force(struct request *req, struct response *resp)
{
	return prefix_revoke(req, resp, "revoke-force/", true);
}

static int tidy(struct request *req, struct response *resp)
{
	int r = expiration_tidy(mgr(req));
	if (r == TROVE_ERR_CONFLICT)
		return response_error(resp, r, "tidy operation already in progress");
	if (r != 0)
		return r;
	resp->status = 202;
	response_warning(resp, "Tidy operation successfully started. Any information from the operation will be "
	                       "printed to the server's log.");
	return 0;
}

static int irrevocable(struct request *req, struct response *resp, bool counts_only)
{
	const char *type = field_string(req, "type");
	if (strcmp(type, "irrevocable") != 0)
		return response_error(resp, TROVE_ERR_INVALID, "type: unsupported lease type \"%s\" (only irrevocable)",
		                      type);
	size_t limit = 10000;
	const char *lim = field_string(req, "limit");
	if (strcmp(lim, "none") == 0) {
		limit = 0;
	} else if (*lim) {
		char *end = NULL;
		long long v = strtoll(lim, &end, 10);
		if (!end || *end || v <= 0)
			return response_error(resp, TROVE_ERR_INVALID, "limit: must be a positive number or \"none\"");
		limit = (size_t)v;
	}
	json_t *data = NULL;
	int r = expiration_irrevocable(mgr(req), counts_only, limit, &data);
	if (r != 0)
		return r;
	if (!counts_only && limit > 0 && json_integer_value(json_object_get(data, "lease_count")) > (json_int_t)limit)
		response_warning(resp, "more than %zu irrevocable leases: only the first %zu are listed (limit=none lists "
		                       "all)",
		                 limit, limit);
	response_set_data(resp, data);
	return 0;
}

static int count(struct request *req, struct response *resp)
{
	return irrevocable(req, resp, true);
}

static int leases(struct request *req, struct response *resp)
{
	return irrevocable(req, resp, false);
}

static const struct field id_fields[] = {
    {.name = "lease_id", .type = FIELD_STRING, .description = "the lease's id"},
    {0},
};

static const struct field renew_fields[] = {
    {.name = "lease_id", .type = FIELD_STRING, .description = "the lease's id"},
    {.name = "increment",
     .type = FIELD_DURATION,
     .def = "0",
     .description = "the TTL asked for, from now (0: the lease's TTL)"},
    {0},
};

static const struct field revoke_fields[] = {
    {.name = "lease_id", .type = FIELD_STRING, .description = "the lease's id"},
    {.name = "sync",
     .type = FIELD_BOOL,
     .def = "false",
     .description = "revoke before answering instead of queueing the revocation"},
    {0},
};

static const struct field prefix_fields[] = {
    {.name = "sync",
     .type = FIELD_BOOL,
     .def = "false",
     .description = "revoke before answering instead of queueing the revocations"},
    {0},
};

static const struct field type_fields[] = {
    {.name = "type", .type = FIELD_STRING, .def = "", .description = "the kind of lease: irrevocable"},
    {.name = "include_child_namespaces",
     .type = FIELD_BOOL,
     .def = "false",
     .description = "accepted for compatibility; Trove has no namespaces"},
    {.name = "limit",
     .type = FIELD_STRING,
     .def = "",
     .description = "at most this many leases, or \"none\" (default 10000)"},
    {0},
};

const struct route sys_lease_routes[] = {
    {.pattern = "leases/lookup",
     .ops = {[OP_UPDATE] = lookup, [OP_LIST] = list_root},
     .fields = id_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "look up a lease"},
    {.pattern = "leases/lookup/*",
     .ops = {[OP_LIST] = list},
     .flags = ROUTE_SUDO | ROUTE_LOOP_READS,
     .synopsis = "list leases under a prefix"},
    {.pattern = "leases/renew",
     .ops = {[OP_UPDATE] = renew},
     .fields = renew_fields,
     .synopsis = "renew a lease"},
    {.pattern = "leases/renew/*",
     .ops = {[OP_UPDATE] = renew},
     .fields = renew_fields,
     .synopsis = "renew a lease"},
    {.pattern = "leases/revoke",
     .ops = {[OP_UPDATE] = revoke},
     .fields = revoke_fields,
     .synopsis = "revoke a lease"},
    {.pattern = "leases/revoke/*",
     .ops = {[OP_UPDATE] = revoke},
     .fields = revoke_fields,
     .synopsis = "revoke a lease"},
    {.pattern = "leases/revoke-prefix/*",
     .ops = {[OP_UPDATE] = revoke_prefix},
     .fields = prefix_fields,
     .flags = ROUTE_SUDO,
     .synopsis = "revoke every lease under a prefix"},
    {.pattern = "leases/revoke-force/*",
     .ops = {[OP_UPDATE] = revoke_force},
     .flags = ROUTE_SUDO,
     .synopsis = "drop every lease under a prefix, ignoring revocation errors"},
    {.pattern = "leases/tidy", .ops = {[OP_UPDATE] = tidy}, .synopsis = "drop leases whose token is gone"},
    {.pattern = "leases/count",
     .ops = {[OP_READ] = count},
     .fields = type_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "count irrevocable leases per mount"},
    {.pattern = "leases",
     .ops = {[OP_READ] = leases},
     .fields = type_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list irrevocable leases"},
    {.pattern = "renew",
     .ops = {[OP_UPDATE] = legacy_renew},
     .fields = renew_fields,
     .synopsis = "renew a lease (legacy path)"},
    {.pattern = "renew/*",
     .ops = {[OP_UPDATE] = legacy_renew},
     .fields = renew_fields,
     .synopsis = "renew a lease (legacy path)"},
    {.pattern = "revoke",
     .ops = {[OP_UPDATE] = legacy_revoke},
     .fields = revoke_fields,
     .synopsis = "revoke a lease (legacy path)"},
    {.pattern = "revoke/*",
     .ops = {[OP_UPDATE] = legacy_revoke},
     .fields = revoke_fields,
     .synopsis = "revoke a lease (legacy path)"},
    {.pattern = "revoke-prefix/*",
     .ops = {[OP_UPDATE] = legacy_revoke_prefix},
     .fields = prefix_fields,
     .flags = ROUTE_SUDO,
     .synopsis = "revoke every lease under a prefix (legacy path)"},
    {.pattern = "revoke-force/*",
     .ops = {[OP_UPDATE] = legacy_revoke_force},
     .flags = ROUTE_SUDO,
     .synopsis = "drop every lease under a prefix (legacy path)"},
    {.pattern = NULL, .ops = {NULL}},
};
