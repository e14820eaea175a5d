/* router.c — mount match, route match, auth, field typing, dispatch.
 *
 * Routing is two steps: the longest mount prefix, then the engine's route
 * table in order. Tables are small (tens of routes) and patterns are
 * compared segment by segment without allocation, so a linear scan beats
 * anything cleverer here; the hot path allocates only the bound
 * parameters. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

#include "acl.h"
#include "audit.h"
#include "expiration.h"
#include "core.h"
#include "identity.h"
#include "mount.h"
#include "policy_store.h"
#include "duration.h"
#include "engines/engines.h"
#include "err.h"
#include "log.h"
#include "strconv.h"
#include "token.h"
#include "wrapping.h"

#include "banned.h"

/* sys/ is served from this static mount, not the table: it must answer
 * while sealed, when the mount table is not loaded. The table lists it
 * too, for sys/mounts. */
static struct mount sys_static = {
	.path = (char *)"sys/",
	.type = (char *)"system",
	.engine = &sys_engine,
	.refs = 1 << 30, /* never freed */
};

static struct mount *match_mount(struct core *core, const char *path)
{
	if (strncmp(path, "sys/", 4) == 0 || strcmp(path, "sys") == 0) {
		mount_ref(&sys_static);
		return &sys_static;
	}
	if (core_sealed(core))
		return NULL;
	return mount_match(core_mounts(core), path);
}

/* Matches rel (without the mount prefix, trailing '/' ignored) against a
 * pattern. On success binds :name segments into req. */
static bool match_pattern(const char *pattern, const char *rel, size_t rel_len, struct request *req)
{
	const char *p = pattern, *s = rel, *end = rel + rel_len;
	const char *names[ROUTE_MAX_PARAMS];
	const char *vals[ROUTE_MAX_PARAMS];
	size_t val_lens[ROUTE_MAX_PARAMS];
	int n = 0;

	for (;;) {
		const char *pseg_end = strchr(p, '/');
		size_t plen = pseg_end ? (size_t)(pseg_end - p) : strlen(p);
		if (plen == 1 && p[0] == '*' && !pseg_end)
			break; /* the rest, possibly empty */
		const char *sseg_end = memchr(s, '/', (size_t)(end - s));
		size_t slen = sseg_end ? (size_t)(sseg_end - s) : (size_t)(end - s);
		if (plen > 0 && p[0] == ':') {
			if (slen == 0 || n >= ROUTE_MAX_PARAMS)
				return false;
			names[n] = p + 1;
			vals[n] = s;
			val_lens[n] = slen;
			n++;
		} else if (plen != slen || memcmp(p, s, plen) != 0) {
			return false;
		}
		if (!pseg_end && !sseg_end)
			break;
		if (!pseg_end || !sseg_end)
			return false;
		p = pseg_end + 1;
		s = sseg_end + 1;
	}
	for (int i = 0; i < n; i++) {
		/* names point into the static pattern: copy up to '/' */
		const char *ne = strchr(names[i], '/');
		req->param_names[req->nparams] = ne ? xstrndup(names[i], (size_t)(ne - names[i])) : xstrdup(names[i]);
		req->params[req->nparams] = xstrndup(vals[i], val_lens[i]);
		req->nparams++;
	}
	return true;
}

int router_match(struct request *req, struct route_match *match)
{
	struct mount *m = match_mount(req->core, req->path);
	match->route = NULL;
	if (!m)
		return 0;
	req->mount = m;
	req->storage = m->view;
	size_t mlen = strlen(m->path);
	req->rel = strlen(req->path) >= mlen ? req->path + mlen : "";
	size_t rel_len = strlen(req->rel);
	if (rel_len > 0 && req->rel[rel_len - 1] == '/')
		rel_len--;
	for (const struct route *const *t = m->engine->tables; *t; t++) {
		for (const struct route *r = *t; r->pattern; r++) {
			if (match_pattern(r->pattern, req->rel, rel_len, req)) {
				match->route = r;
				req->route = r;
				return 0;
			}
		}
	}
	return 0;
}

bool router_is_slow(const struct request *req, const struct route_match *match)
{
	if (match->route && (match->route->flags & ROUTE_SLOW))
		return true;
	/* A device that may block (fsync, a network peer) must not stall an
	 * event loop. */
	if (audit_broker_may_block(core_audit(req->core)))
		return true;
	/* Wrapping a response creates a token: a durable write. */
	if (req->wrap_ttl > 0)
		return true;
	/* Tried on the loop first (no_block), sent on to the pool when it
	 * turns out to need a write. Only without a token: a second run
	 * must not spend a second use of it. */
	if (match->route && (match->route->flags & ROUTE_TRY_INLINE) && (match->route->flags & ROUTE_UNAUTH)) {
		const struct engine *en = req->mount ? req->mount->engine : NULL;
		return en && en->inline_hint ? !en->inline_hint(req) : false;
	}
	/* Writes may wait for an fsync; reads are served from memory-mapped
	 * or in-memory storage and stay on the event loop. */
	return !(req->op == OP_READ || req->op == OP_LIST || req->op == OP_HEAD);
}

static const struct field *find_field(const struct route *r, const char *name)
{
	for (const struct field *f = r->fields; f && f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static json_t *split_list(const char *s)
{
	json_t *arr = json_array();
	const char *p = s;
	if (!*s)
		return arr;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0)
			json_array_append_new(arr, json_stringn(p, n));
		if (!comma)
			break;
		p = comma + 1;
	}
	return arr;
}

json_t *field_coerce(enum field_type type, json_t *in, const char **why)
{
	int64_t iv;
	bool bv;
	int64_t secs;

	switch (type) {
	case FIELD_ANY:
		return json_incref(in);
	case FIELD_STRING:
		if (json_is_string(in))
			return json_incref(in);
		if (json_is_integer(in))
			return json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(in));
		if (json_is_boolean(in))
			return json_string(json_is_true(in) ? "true" : "false");
		*why = "expected a string";
		return NULL;
	case FIELD_INT:
		if (json_is_integer(in))
			return json_incref(in);
		if (json_is_real(in)) {
			int64_t v;
			if (strconv_double_int64(json_real_value(in), &v))
				return json_integer((json_int_t)v);
		}
		if (json_is_string(in) && strconv_int64(json_string_value(in), &iv))
			return json_integer((json_int_t)iv);
		*why = "expected an integer";
		return NULL;
	case FIELD_BOOL:
		if (json_is_boolean(in))
			return json_incref(in);
		if (json_is_string(in) && strconv_bool(json_string_value(in), &bv))
			return json_boolean(bv);
		if (json_is_integer(in) && (json_integer_value(in) == 0 || json_integer_value(in) == 1))
			return json_boolean(json_integer_value(in) == 1);
		*why = "expected a boolean";
		return NULL;
	case FIELD_DURATION:
		if (json_is_integer(in) && json_integer_value(in) >= 0)
			return json_incref(in);
		if (json_is_real(in) && json_real_value(in) >= 0 && json_real_value(in) < 9.2e18)
			return json_integer((json_int_t)json_real_value(in));
		if (json_is_string(in) &&
		    duration_parse_seconds(json_string_value(in), json_string_length(in), &secs) == 0)
			return json_integer((json_int_t)secs);
		*why = "expected a duration (seconds or a string such as \"30s\" or \"1h\")";
		return NULL;
	case FIELD_STRLIST:
		if (json_is_string(in))
			return split_list(json_string_value(in));
		if (json_is_array(in)) {
			json_t *out = json_array();
			size_t i;
			json_t *v;
			json_array_foreach(in, i, v)
			{
				json_t *s = field_coerce(FIELD_STRING, v, why);
				if (!s) {
					json_decref(out);
					*why = "expected a list of strings";
					return NULL;
				}
				json_array_append_new(out, s);
			}
			return out;
		}
		*why = "expected a list of strings";
		return NULL;
	case FIELD_MAP:
		if (json_is_object(in))
			return json_incref(in);
		*why = "expected an object";
		return NULL;
	}
	*why = "unknown field type";
	return NULL;
}

static int coerce_fields(struct request *req, const struct route *route, struct response *resp)
{
	const char *key;
	json_t *val, *tmp;
	json_t *unknown = NULL;

	if (!req->data)
		return 0;
	json_object_foreach_safe(req->data, tmp, key, val)
	{
		const struct field *f = find_field(route, key);
		if (json_is_null(val)) {
			json_object_del(req->data, key); /* null means absent */
			continue;
		}
		if (!f) {
			if (!unknown)
				unknown = json_array();
			json_array_append_new(unknown, json_string(key));
			continue;
		}
		const char *why = "invalid value";
		json_t *c = field_coerce(f->type, val, &why);
		if (!c) {
			json_decref(unknown);
			return response_error(resp, TROVE_ERR_INVALID, "error converting input for field \"%s\": %s",
					      key, why);
		}
		json_object_set_new(req->data, key, c);
	}
	/* Routes without a field table take free-form data (kv, cubbyhole). */
	if (unknown && route->fields && req->op != OP_READ && req->op != OP_LIST && req->op != OP_HEAD) {
		char *names = json_dumps(unknown, JSON_COMPACT);
		response_warning(resp, "Endpoint ignored these unrecognized parameters: %s", names ? names : "");
		free(names);
	}
	json_decref(unknown);
	return 0;
}

/* A limited-use token pays for a request only once it is allowed. */
static int spend_use(struct request *req, struct response *resp)
{
	int r = token_consume_use(core_tokens(req->core), req->token);
	if (r == 0)
		return 0;
	if (r != TROVE_ERR_PERMISSION)
		log_error("token use could not be recorded", "error", err_name(r));
	return response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
}

/* An allowed request: its body is parsed (a malformed one is refused
 * before a use of the token is spent on it), then the use is spent. */
static int body_then_use(struct request *req, struct response *resp)
{
	int r = request_body_load(req, resp);
	return r != 0 ? r : spend_use(req, resp);
}

/* Resolves the token and its ACL, and decides the request. Returns 0
 * when the request may proceed. */
static int authorize(struct request *req, const struct route *route, struct response *resp)
{
	struct acl_result res;
	int r;

	if (!req->client_token)
		return response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
	r = token_lookup_ex(core_tokens(req->core), req->client_token, req->remote_addr[0] ? req->remote_addr : NULL,
			    TOKEN_LOOKUP_NO_USE, &req->token);
	if (r == TROVE_ERR_SEALED)
		return response_error(resp, r, "Vault is sealed");
	if (r != 0) {
		if (r != TROVE_ERR_PERMISSION)
			log_error("token lookup failed", "error", err_name(r));
		return response_error(resp, TROVE_ERR_PERMISSION,
				      r == TROVE_ERR_PERMISSION ? "permission denied" : "internal error");
	}
	/* Effective policies: the token's plus its entity's identity policies
	 * (identity.h; cached until the next identity write). */
	struct strlist *ip = &req->token->identity_policies, all;
	struct mount *holder = NULL; /* keeps ids alive until the ACL is built */
	struct identity_store *ids = NULL;
	strlist_release(ip);
	strlist_init(ip);
	if (req->token->entity_id && req->token->entity_id[0]) {
		ids = identity_of_core(req->core, &holder);
		r = ids ? identity_policies(ids, req->token->entity_id, ip) : 0;
		if (r != 0) {
			mount_release(holder);
			return response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
		}
	}
	/* The policy store normalises, sorts and dedupes a set itself: the
	 * token's own list serves as it is unless identity adds to it. */
	strlist_init(&all);
	if (ip->len) {
		for (size_t i = 0; i < req->token->policies.len; i++)
			strlist_push(&all, req->token->policies.items[i]);
		for (size_t i = 0; i < ip->len; i++)
			strlist_push(&all, ip->items[i]);
	}
	r = policy_store_acl_entity(core_policies(req->core), ip->len ? &all : &req->token->policies, ids,
				    req->token->entity_id, &req->acl);
	mount_release(holder);
	strlist_release(&all);
	if (r != 0) {
		log_error("policy evaluation failed", "error", err_name(r));
		return response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
	}
	if (route && (route->flags & ROUTE_NO_ACL))
		return body_then_use(req, resp);

	/* Vault's create vs update: a write to something absent needs the
	 * create capability. */
	if (route && route->exists && req->op == OP_UPDATE && req->storage) {
		bool exists = true;
		if ((r = route->exists(req, &exists)) != 0)
			return response_error(resp, r, "%s", err_message(r));
		if (!exists)
			req->op = OP_CREATE;
	}
	acl_result_init(&res);
	acl_check(req->acl, req->path, req->op, req->data, &res);
	/* The body is parsed only when the token's capabilities grant the
	 * operation on the path: then its parameters may still deny it
	 * (parameter constraints), so the decision is taken again with them.
	 * A request refused on path or operation never has it parsed. */
	if (res.granting.len > 0 && request_body_pending(req)) {
		if ((r = request_body_load(req, resp)) != 0) {
			acl_result_release(&res);
			return r;
		}
		acl_check(req->acl, req->path, req->op, req->data, &res);
	}
	req->sudo = res.sudo;
	strlist_release(&req->granting);
	req->granting = res.granting;
	strlist_init(&res.granting);
	bool allowed = res.allowed && (!route || !(route->flags & ROUTE_SUDO) || res.sudo);
	/* The rule's wrapping TTL limits: a minimum demands wrapping. */
	if (res.min_wrapping_ttl > 0 && req->wrap_ttl < res.min_wrapping_ttl)
		allowed = false;
	if (res.max_wrapping_ttl > 0 && req->wrap_ttl > res.max_wrapping_ttl)
		allowed = false;
	acl_result_release(&res);
	req->policy_checked = true;
	req->policy_allowed = allowed;
	if (!allowed)
		return response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
	return body_then_use(req, resp);
}

/* The first error message of a response, or NULL. */
static const char *first_error(const struct response *resp)
{
	return resp->errors ? json_string_value(json_array_get(resp->errors, 0)) : NULL;
}

/* Whether this request is audited now: everything but Vault's special
 * handlers, while unsealed and with a device enabled. */
static bool audited(const struct request *req, const struct route *route)
{
	return !core_sealed(req->core) && !(route && (route->flags & ROUTE_NO_AUDIT)) &&
	       audit_broker_active(core_audit(req->core));
}

/* Replaces whatever the response held with Vault's fail-closed answer. */
static int refuse_unaudited(struct response *resp)
{
	response_release(resp);
	response_init(resp);
	return response_error(resp, TROVE_ERR_INTERNAL, "internal error");
}

/* Where one request of a batch stands. */
enum call_stage {
	CALL_RUN,     /* allowed so far: its handler runs */
	CALL_RESPOND, /* refused before the handler; its entries are still recorded */
	CALL_DONE,    /* answered: the call's err is final */
};

struct call_state {
	enum call_stage stage;
	int r; /* the pipeline's result so far */
	struct audit_record rec;
};

#define BATCH_STACK 16 /* calls whose state is kept on the stack */

/* Steps 1 and 3 of router.h: the sealed check, the wrapping precheck, the
 * token and the ACL decision. Sets *done when the request is answered
 * without being audited (sealed). */
static int authorize_call(struct request *req, const struct route *route, struct response *resp, bool *done)
{
	int r;
	*done = false;
	if (core_sealed(req->core) && !(route && (route->flags & ROUTE_SEALED_OK))) {
		*done = true;
		return response_error(resp, TROVE_ERR_SEALED, "Vault is sealed");
	}
	r = route ? wrapping_precheck(req, resp) : 0;
	if (r == 0 && (!route || !(route->flags & ROUTE_UNAUTH)))
		r = authorize(req, route, resp);
	if (r == 0 && !route)
		r = response_error(resp, TROVE_ERR_NOT_FOUND, "unsupported path");
	/* Allowed (or a route that needs no token): the body becomes data
	 * now, before the request entry records it. */
	if (r == 0)
		r = request_body_load(req, resp);
	return r;
}

/* Steps 4 to 6, and wrapping: runs the handler of an allowed request. */
static int run_handler(struct request *req, const struct route *route, struct response *resp)
{
	int r;
	handler_fn h = route->ops[req->op];
	if (!h && req->op == OP_CREATE)
		h = route->ops[OP_UPDATE];
	if (!h)
		r = response_error(resp, TROVE_ERR_UNSUPPORTED_OP, "unsupported operation");
	else if ((r = coerce_fields(req, route, resp)) == 0 && (r = h(req, resp)) == 0 &&
	         (r = expiration_register(core_expiration(req->core), req, resp)) == 0)
		r = wrapping_wrap(req, resp); /* before the response entry: it records wrap_info */
	if (r != 0 && !resp->errors) {
		if (r == TROVE_ERR_NOT_FOUND)
			resp->errors = json_array();
		else
			response_error(resp, r, "%s", err_message(r));
	}
	return r;
}

/* Records the request entries (response false) or the response entries of
 * every call not yet answered that is audited now, with the error each
 * request met, in one batch; a call whose entry no device recorded is
 * answered with the fail-closed 500. */
static void audit_calls(struct router_call *calls, struct call_state *st, size_t n, bool response)
{
	struct audit_log_item stack_items[BATCH_STACK];
	size_t stack_idx[BATCH_STACK];
	struct audit_log_item *items = n > BATCH_STACK ? xcalloc(n, sizeof(*items)) : stack_items;
	size_t *idx = n > BATCH_STACK ? xcalloc(n, sizeof(*idx)) : stack_idx;
	struct audit_broker *broker = NULL;
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		struct request *req = calls[i].req;
		const struct response *resp = calls[i].resp;
		if (st[i].stage == CALL_DONE || !audited(req, calls[i].match.route))
			continue;
		if (!response && req->audit_request_recorded)
			continue; /* a second run: its request entry is written */
		broker = core_audit(req->core);
		st[i].rec = (struct audit_record){
			.req = req,
			.token = req->token,
			.policy_checked = req->policy_checked,
			.allowed = req->policy_allowed,
			.granting = &req->granting,
			.resp = response ? resp : NULL,
			.error = st[i].r != 0 ? first_error(resp) : NULL,
		};
		if (!req->audit_reuse)
			req->audit_reuse = xcalloc(1, sizeof(*req->audit_reuse));
		items[m] = (struct audit_log_item){.rec = &st[i].rec, .reuse = req->audit_reuse};
		idx[m++] = i;
	}
	if (m > 0) {
		/* A lone request keeps its id on the broker's log lines. */
		log_set_request_id(m == 1 ? calls[idx[0]].req->id : NULL);
		audit_broker_log_batch(broker, items, m);
		for (size_t k = 0; k < m; k++) {
			struct router_call *c = &calls[idx[k]];
			if (items[k].result == 0) {
				if (!response)
					c->req->audit_request_recorded = true;
				continue;
			}
			c->err = refuse_unaudited(c->resp);
			st[idx[k]].stage = CALL_DONE;
		}
	}
	if (items != stack_items) {
		free(items);
		free(idx);
	}
}

void router_dispatch_batch(struct router_call *calls, size_t n)
{
	struct call_state stack_st[BATCH_STACK];
	struct call_state *st = n > BATCH_STACK ? xcalloc(n, sizeof(*st)) : stack_st;

	for (size_t i = 0; i < n; i++) {
		struct router_call *c = &calls[i];
		bool done;
		log_set_request_id(c->req->id);
		st[i].r = authorize_call(c->req, c->match.route, c->resp, &done);
		st[i].stage = done ? CALL_DONE : st[i].r == 0 ? CALL_RUN : CALL_RESPOND;
		c->err = st[i].r;
	}
	/* The request entries come before any handler runs; a request whose
	 * entry no device recorded runs nothing. A refused request is recorded
	 * too (its response entry carries its error). */
	audit_calls(calls, st, n, false);
	for (size_t i = 0; i < n; i++) {
		struct router_call *c = &calls[i];
		if (st[i].stage != CALL_RUN)
			continue;
		log_set_request_id(c->req->id);
		c->err = st[i].r = run_handler(c->req, c->match.route, c->resp);
		/* Tried on a loop and needing a write: it runs again on the
		 * pool, which records its response entry then. */
		if (st[i].r == TROVE_ERR_WOULD_BLOCK)
			st[i].stage = CALL_DONE;
	}
	/* Without a recorded response entry the answer is withheld. Asked
	 * anew: enabling the first device records its own response. */
	audit_calls(calls, st, n, true);
	/* A token whose last use a request took is revoked now, whatever the
	 * outcome: the use is spent. */
	for (size_t i = 0; i < n; i++) {
		struct request *req = calls[i].req;
		if (req->token && calls[i].err != TROVE_ERR_WOULD_BLOCK) {
			log_set_request_id(req->id);
			token_finish_request(core_tokens(req->core), req->token);
		}
	}
	log_set_request_id(NULL);
	if (st != stack_st)
		free(st);
}

int router_dispatch(struct request *req, const struct route_match *match, struct response *resp)
{
	struct router_call c = {.req = req, .match = *match, .resp = resp};
	router_dispatch_batch(&c, 1);
	return c.err;
}

static json_t *field_value(const struct request *req, const char *name, enum field_type type)
{
	json_t *v = req->data ? json_object_get(req->data, name) : NULL;
	if (v || !req->route)
		return json_incref(v);
	const struct field *f = find_field(req->route, name);
	if (!f || !f->def)
		return NULL;
	json_t *s = json_string(f->def);
	const char *why;
	json_t *c = field_coerce(type, s, &why);
	json_decref(s);
	return c;
}

const char *field_string(const struct request *req, const char *name)
{
	json_t *v = req->data ? json_object_get(req->data, name) : NULL;
	if (json_is_string(v))
		return json_string_value(v);
	if (!v && req->route) {
		const struct field *f = find_field(req->route, name);
		if (f && f->def)
			return f->def;
	}
	return "";
}

int64_t field_int(const struct request *req, const char *name)
{
	json_t *v = field_value(req, name, FIELD_INT);
	int64_t out = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
	json_decref(v);
	return out;
}

bool field_bool(const struct request *req, const char *name)
{
	json_t *v = field_value(req, name, FIELD_BOOL);
	bool out = json_is_true(v);
	json_decref(v);
	return out;
}

bool field_present(const struct request *req, const char *name)
{
	json_t *v = req->data ? json_object_get(req->data, name) : NULL;
	return v && !json_is_null(v);
}
