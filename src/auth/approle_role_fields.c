/* approle_role_fields.c — Vault's per-field role endpoints of auth/approle:
 * role/<name>/policies, secret-id-num-uses, secret-id-ttl, token-ttl,
 * token-max-ttl, token-num-uses, bind-secret-id, secret-id-bound-cidrs,
 * bound-cidr-list (legacy), token-bound-cidrs, period (read, update,
 * delete) and local-secret-ids (read only). They exist so that ACLs can
 * delegate one setting of a role.
 *
 * One generic handler per operation, keyed by the path's last segment:
 * a read answers the matching keys of the role read object; an update
 * keeps only the route's own fields of the body and applies them through
 * the role write path (approle.c), so validation is the same; a delete
 * resets the field to its default, and like every role write refuses to
 * leave the role without a login constraint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approle.h"

#include "core/router.h"
#include "err.h"

#include "banned.h"

/* Drops body keys the route does not declare, so that a per-field
 * endpoint changes only its own field. */
static void keep_route_fields(struct request *req)
{
	const char *k;
	json_t *v, *tmp;
	if (!req->data || !req->route)
		return;
	json_object_foreach_safe(req->data, tmp, k, v)
	{
		bool known = false;
		for (const struct field *f = req->route->fields; f && f->name && !known; f++)
			known = strcmp(f->name, k) == 0;
		if (!known)
			json_object_del(req->data, k);
	}
}

static void clear_list(struct strlist *l)
{
	strlist_release(l);
	strlist_init(l);
}

static void reset_policies(struct approle_role *r)
{
	clear_list(&r->tp.policies);
}
static void reset_secret_id_num_uses(struct approle_role *r)
{
	r->secret_id_num_uses = 0;
}
static void reset_secret_id_ttl(struct approle_role *r)
{
	r->secret_id_ttl = 0;
}
static void reset_token_ttl(struct approle_role *r)
{
	r->tp.ttl = 0;
}
static void reset_token_max_ttl(struct approle_role *r)
{
	r->tp.max_ttl = 0;
}
static void reset_token_num_uses(struct approle_role *r)
{
	r->tp.num_uses = 0;
}
static void reset_bind_secret_id(struct approle_role *r)
{
	r->bind_secret_id = true;
}
static void reset_secret_id_bound_cidrs(struct approle_role *r)
{
	clear_list(&r->secret_id_bound_cidrs);
}
static void reset_token_bound_cidrs(struct approle_role *r)
{
	clear_list(&r->tp.bound_cidrs);
}
static void reset_period(struct approle_role *r)
{
	r->tp.period = 0;
}

/* One per-field endpoint: the segment after role/<name>/, the keys its
 * read answers (answer key <- key of the role read object), and how
 * DELETE resets the field (NULL: read only). */
struct role_field_ep {
	const char *segment;
	const char *keys[2][2];
	void (*reset)(struct approle_role *r);
};

static const struct role_field_ep field_eps[] = {
    {"policies", {{"token_policies", "token_policies"}, {"policies", "token_policies"}}, reset_policies},
    {"secret-id-num-uses", {{"secret_id_num_uses", "secret_id_num_uses"}}, reset_secret_id_num_uses},
    {"secret-id-ttl", {{"secret_id_ttl", "secret_id_ttl"}}, reset_secret_id_ttl},
    {"token-ttl", {{"token_ttl", "token_ttl"}}, reset_token_ttl},
    {"token-max-ttl", {{"token_max_ttl", "token_max_ttl"}}, reset_token_max_ttl},
    {"token-num-uses", {{"token_num_uses", "token_num_uses"}}, reset_token_num_uses},
    {"bind-secret-id", {{"bind_secret_id", "bind_secret_id"}}, reset_bind_secret_id},
    {"secret-id-bound-cidrs",
     {{"secret_id_bound_cidrs", "secret_id_bound_cidrs"}},
     reset_secret_id_bound_cidrs},
    {"bound-cidr-list", {{"bound_cidr_list", "secret_id_bound_cidrs"}}, reset_secret_id_bound_cidrs},
    {"token-bound-cidrs", {{"token_bound_cidrs", "token_bound_cidrs"}}, reset_token_bound_cidrs},
    {"period", {{"token_period", "token_period"}, {"period", "token_period"}}, reset_period},
    {"local-secret-ids", {{"local_secret_ids", "local_secret_ids"}}, NULL},
};

static const struct role_field_ep *field_ep(const struct request *req)
{
	const char *seg = strrchr(req->rel, '/');
	size_t n;
	if (!seg)
		return NULL;
	seg++;
	n = strlen(seg);
	if (n == 0) { /* a trailing '/' */
		const char *end = seg - 1;
		while (end > req->rel && end[-1] != '/')
			end--;
		seg = end;
		n = (size_t)(strchr(seg, '/') - seg);
	}
	for (size_t i = 0; i < sizeof(field_eps) / sizeof(field_eps[0]); i++)
		if (strlen(field_eps[i].segment) == n && memcmp(field_eps[i].segment, seg, n) == 0)
			return &field_eps[i];
	return NULL;
}

static int field_read(struct request *req, struct response *resp)
{
	const struct role_field_ep *ep = field_ep(req);
	struct approle_role role;
	char name[APPROLE_NAME_MAX + 1];
	int r;
	if (!ep)
		return TROVE_ERR_NOT_FOUND;
	approle_role_init(&role);
	if ((r = approle_role_name(req, resp, name)) == 0 &&
	    (r = approle_role_load(req->storage, name, &role)) == 0) {
		json_t *all = approle_role_to_api(&role), *out = json_object();
		for (size_t i = 0; i < 2 && ep->keys[i][0]; i++) {
			json_t *v = json_object_get(all, ep->keys[i][1]);
			if (v)
				json_object_set(out, ep->keys[i][0], v);
		}
		json_decref(all);
		response_set_data(resp, out);
	}
	approle_role_release(&role);
	return r;
}

static int field_write(struct request *req, struct response *resp)
{
	const struct role_field_ep *ep = field_ep(req);
	struct approle_role role;
	pthread_mutex_t *lk;
	bool created, any = false;
	int r;

	if (!ep || !ep->reset)
		return response_error(resp, TROVE_ERR_UNSUPPORTED_OP, "unsupported operation");
	keep_route_fields(req);
	for (const struct field *f = req->route->fields; f && f->name; f++)
		any = any || field_present(req, f->name);
	if (!any)
		return response_error(resp, TROVE_ERR_INVALID, "missing %s", req->route->fields[0].name);
	approle_role_init(&role);
	if ((r = approle_role_begin(req, resp, &role, false, &created, &lk)) == 0) {
		if ((r = approle_role_apply(req, resp, &role, false)) == 0)
			r = approle_role_save(req, resp, &role, NULL);
		pthread_mutex_unlock(lk);
	}
	approle_role_release(&role);
	return r;
}

static int field_delete(struct request *req, struct response *resp)
{
	const struct role_field_ep *ep = field_ep(req);
	struct approle_role role;
	pthread_mutex_t *lk;
	bool created;
	int r;

	if (!ep || !ep->reset)
		return response_error(resp, TROVE_ERR_UNSUPPORTED_OP, "unsupported operation");
	approle_role_init(&role);
	r = approle_role_begin(req, resp, &role, false, &created, &lk);
	if (r == TROVE_ERR_NOT_FOUND) { /* Vault: nothing to reset */
		json_decref(resp->errors);
		resp->errors = NULL;
		r = 0;
	} else if (r == 0) {
		ep->reset(&role);
		if (!approle_role_constrained(&role))
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "at least one constraint should be enabled on the role");
		else
			r = approle_role_save(req, resp, &role, NULL);
		pthread_mutex_unlock(lk);
	}
	approle_role_release(&role);
	return r;
}

/* --- route table ------------------------------------------------------------------ */

static const struct field f_policies[] = {
    {.name = "token_policies", .type = FIELD_POLICIES, .description = "policies of issued tokens"},
    {.name = "policies", .type = FIELD_POLICIES, .description = "legacy name of token_policies"},
    {0},
};
static const struct field f_secret_id_num_uses[] = {
    {.name = "secret_id_num_uses", .type = FIELD_INT, .description = "uses"}, {0}};
static const struct field f_secret_id_ttl[] = {
    {.name = "secret_id_ttl", .type = FIELD_DURATION, .description = "lifetime"}, {0}};
static const struct field f_token_ttl[] = {
    {.name = "token_ttl", .type = FIELD_DURATION, .description = "token TTL"}, {0}};
static const struct field f_token_max_ttl[] = {
    {.name = "token_max_ttl", .type = FIELD_DURATION, .description = "token max TTL"}, {0}};
static const struct field f_token_num_uses[] = {
    {.name = "token_num_uses", .type = FIELD_INT, .description = "token uses"}, {0}};
static const struct field f_bind_secret_id[] = {
    {.name = "bind_secret_id", .type = FIELD_BOOL, .description = "require a secret ID"}, {0}};
static const struct field f_secret_id_bound_cidrs[] = {
    {.name = "secret_id_bound_cidrs", .type = FIELD_STRLIST, .description = "CIDR blocks allowed to log in"},
    {0},
};
static const struct field f_bound_cidr_list[] = {
    {.name = "bound_cidr_list", .type = FIELD_STRLIST, .description = "legacy name of secret_id_bound_cidrs"},
    {0},
};
static const struct field f_token_bound_cidrs[] = {
    {.name = "token_bound_cidrs",
     .type = FIELD_STRLIST,
     .description = "CIDR blocks issued tokens may be used from"},
    {0},
};
static const struct field f_period[] = {
    {.name = "token_period", .type = FIELD_DURATION, .description = "period of issued tokens"},
    {.name = "period", .type = FIELD_DURATION, .description = "legacy name of token_period"},
    {0},
};

static const struct field read_only_fields[] = {{0}};

#define FIELD_ROUTE(seg, field_table)                                                                        \
	{                                                                                                    \
		.pattern = "role/:role_name/" seg,                                                           \
		.ops = {[OP_READ] = field_read, [OP_UPDATE] = field_write, [OP_DELETE] = field_delete},      \
		.fields = field_table, .flags = ROUTE_NAMES_CI | ROUTE_LOOP_READS,                           \
		.synopsis = "one setting of a role",                                                         \
	}

const struct route approle_field_routes[] = {
    FIELD_ROUTE("policies", f_policies),
    FIELD_ROUTE("secret-id-num-uses", f_secret_id_num_uses),
    FIELD_ROUTE("secret-id-ttl", f_secret_id_ttl),
    FIELD_ROUTE("token-ttl", f_token_ttl),
    FIELD_ROUTE("token-max-ttl", f_token_max_ttl),
    FIELD_ROUTE("token-num-uses", f_token_num_uses),
    FIELD_ROUTE("bind-secret-id", f_bind_secret_id),
    FIELD_ROUTE("secret-id-bound-cidrs", f_secret_id_bound_cidrs),
    FIELD_ROUTE("bound-cidr-list", f_bound_cidr_list),
    FIELD_ROUTE("token-bound-cidrs", f_token_bound_cidrs),
    FIELD_ROUTE("period", f_period),
    {.pattern = "role/:role_name/local-secret-ids",
     .ops = {[OP_READ] = field_read},
     .fields = read_only_fields,
     .flags = ROUTE_NAMES_CI | ROUTE_LOOP_READS,
     .synopsis = "whether a role's secret IDs are cluster-local"},
    {0},
};
