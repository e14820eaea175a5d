/* router.c — mount match, route match, auth, field typing, dispatch.
 *
 * Routing is two steps: the longest mount prefix, then the engine's route
 * table in order. Tables are small (tens of routes) and patterns are
 * compared segment by segment without allocation, so a linear scan beats
 * anything cleverer here; the hot path allocates only the bound
 * parameters. */
#include <ctype.h>
#include <inttypes.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "router.h"

#include "acl.h"
#include "audit.h"
#include "expiration.h"
#include "core.h"
#include "ha_reads.h"
#include "identity.h"
#include "mount.h"
#include "mount_gate.h"
#include "openapi.h"
#include "policy_store.h"
#include "duration.h"
#include "err.h"
#include "log.h"
#include "strconv.h"
#include "token.h"
#include "wrapping.h"
#include "strlist_json.h"
#include "storage/storage.h"

#include "banned.h"

static struct mount *match_mount(struct core *core, const char *path)
{
	if (strncmp(path, "sys/", 4) == 0 || strcmp(path, "sys") == 0) {
		/* the core's own sys/ mount, not the table's: it must
		 * answer while sealed (core.h) */
		struct mount *sys = core_sys_mount(core);
		if (sys)
			mount_ref(sys);
		return sys;
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
	bool secret[ROUTE_MAX_PARAMS];
	int n = 0;

	for (;;) {
		const char *pseg_end = strchr(p, '/');
		size_t plen = pseg_end ? (size_t)(pseg_end - p) : strlen(p);
		if (plen == 1 && p[0] == '*' && !pseg_end)
			break; /* the rest, possibly empty */
		const char *sseg_end = memchr(s, '/', (size_t)(end - s));
		size_t slen = sseg_end ? (size_t)(sseg_end - s) : (size_t)(end - s);
		if (plen > 0 && (p[0] == ':' || p[0] == '#')) {
			if (slen == 0 || n >= ROUTE_MAX_PARAMS)
				return false;
			names[n] = p + 1;
			vals[n] = s;
			val_lens[n] = slen;
			secret[n] = p[0] == '#';
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
		if (secret[i] && req->nsecret < ROUTE_MAX_PARAMS && vals[i] >= req->path &&
		    vals[i] < req->path + strlen(req->path))
			req->secret_spans[req->nsecret++] =
			    (struct path_span){.off = (size_t)(vals[i] - req->path), .len = val_lens[i]};
	}
	return true;
}

int router_match(struct request *req, struct route_match *match)
{
	struct mount *m = match_mount(req->core, req->path);
	match->route = NULL;
	req->nsecret = 0;
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
	const struct route *route = match->route;
	bool read = req->op == OP_READ || req->op == OP_LIST || req->op == OP_HEAD;

	if (router_is_hashing(req, match))
		return true;
	/* A device that may block (fsync, a network peer) must not stall an
	 * event loop. */
	if (audit_broker_may_block(core_audit(req->core)))
		return true;
	/* Wrapping a response creates a token: a durable write. */
	if (req->wrap_ttl > 0)
		return true;
	/* Storage that answers over a network (postgresql) may make any
	 * read wait: only the routes served while sealed, which read memory
	 * (health, seal status, leader), stay on the loop, so a frozen
	 * database never stalls them. */
	if (core_storage(req->core)->reads_block && !(route && (route->flags & ROUTE_SEALED_OK)))
		return true;
	/* An unknown path is answered 404: its reads stay on the loop. */
	if (!route)
		return !read;
	/* Tried on the loop first (no_block), sent on to the pool when it
	 * turns out to need a write. A token with a use limit never reaches
	 * the handler there (authorize), so a second run spends no second
	 * use. */
	if (!read && route->try_inline)
		return !route->try_inline(req);
	/* Reads run on the loop only where the route declares them safe there
	 * (a limited-use token still sends its request on: authorize). */
	return !(read && (route->flags & ROUTE_LOOP_READS));
}

bool router_is_hashing(const struct request *req, const struct route_match *match)
{
	return match->route && (match->route->flags & ROUTE_HASHING) &&
	       (req->op == OP_UPDATE || req->op == OP_CREATE);
}

static const struct field *find_field(const struct route *r, const char *name)
{
	for (const struct field *f = r->fields; f && f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

bool field_is_sensitive(const struct route *route, const char *k, size_t klen)
{
	for (const struct field *f = route ? route->fields : NULL; f && f->name; f++)
		if (f->sensitive && strlen(f->name) == klen && memcmp(f->name, k, klen) == 0)
			return true;
	return false;
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

static bool has_nul(const json_t *s)
{
	return memchr(json_string_value(s), '\0', json_string_length(s)) != NULL;
}

static const char nul_why[] = "must not contain a NUL byte";

/* A policy name in canonical form (policy_name_canon), or NULL when
 * nothing is left. */
static json_t *policy_name_json(const char *s, size_t n)
{
	size_t len = 0;
	char *l = policy_name_canon(s, n, &len);
	json_t *out = l ? json_stringn(l, len) : NULL;

	free(l);
	return out;
}

/* A coerced string list as policy names: canonical, sorted, unique. */
static json_t *policy_list_canon(const json_t *list)
{
	struct strlist names;
	size_t i;
	json_t *v, *out;

	strlist_init(&names);
	json_array_foreach(list, i, v) /* coerced: strings without NULs */
		strlist_push(&names, json_string_value(v));
	policy_names_canon(&names);
	out = strlist_json(&names);
	strlist_release(&names);
	return out;
}

/* The shortest decimal text that reads back as d. */
static json_t *real_text(double d)
{
	char b[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(b, sizeof(b), "%.*g", prec, d);
		if (strtod(b, NULL) == d)
			break;
	}
	return json_string(b);
}

/* Vault's map of strings (TypeKVPairs): a number becomes its decimal text,
 * a boolean "true" or "false", a null stays (a PATCH removes the key with
 * it); anything else is refused. */
static json_t *string_map(json_t *in, const char **why)
{
	const char *k;
	json_t *v, *out;

	if (!json_is_object(in)) {
		*why = "expected an object of strings";
		return NULL;
	}
	out = json_object();
	json_object_foreach(in, k, v)
	{
		json_t *s;
		if (json_is_real(v))
			s = real_text(json_real_value(v));
		else if (json_is_null(v))
			s = json_null(); /* a PATCH's "remove this key" */
		else if (json_is_string(v) || json_is_integer(v) || json_is_boolean(v))
			s = field_coerce(FIELD_STRING, v, why);
		else {
			*why = "values must be strings, numbers or booleans";
			s = NULL;
		}
		if (!s) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, k, s);
	}
	return out;
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
		if (json_is_string(in)) {
			if (!has_nul(in))
				return json_incref(in);
			*why = nul_why;
			return NULL;
		}
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
		/* Bounded here, where every duration a client sends is read:
		 * an int64 TTL would overflow the expiry sums. */
		if (json_is_integer(in)) {
			secs = (int64_t)json_integer_value(in);
		} else if (json_is_real(in)) {
			double d = json_real_value(in);
			if (d < 0)
				secs = -1;
			else
				secs = d >= (double)(DURATION_MAX_SECONDS + 1) ? DURATION_MAX_SECONDS + 1 : (int64_t)d;
		} else if (json_is_string(in) &&
		           duration_parse_seconds(json_string_value(in), json_string_length(in), &secs) == 0) {
			/* secs is set */
		} else {
			*why = "expected a duration (seconds or a string such as \"30s\" or \"1h\")";
			return NULL;
		}
		if ((*why = duration_check(secs)) != NULL)
			return NULL;
		return json_is_integer(in) ? json_incref(in) : json_integer((json_int_t)secs);
	case FIELD_STRLIST:
		if (json_is_string(in)) {
			if (!has_nul(in))
				return split_list(json_string_value(in));
			*why = nul_why;
			return NULL;
		}
		if (json_is_array(in)) {
			json_t *out = json_array();
			size_t i;
			json_t *v;
			json_array_foreach(in, i, v)
			{
				json_t *s = field_coerce(FIELD_STRING, v, why);
				if (!s) {
					json_decref(out);
					if (*why != nul_why)
						*why = "expected a list of strings";
					return NULL;
				}
				json_array_append_new(out, s);
			}
			return out;
		}
		*why = "expected a list of strings";
		return NULL;
	case FIELD_POLICIES: {
		json_t *l = field_coerce(FIELD_STRLIST, in, why);
		json_t *out = l ? policy_list_canon(l) : NULL;
		json_decref(l);
		return out;
	}
	case FIELD_MAP:
		if (json_is_object(in))
			return json_incref(in);
		*why = "expected an object";
		return NULL;
	case FIELD_STRMAP:
		return string_map(in, why);
	}
	*why = "unknown field type";
	return NULL;
}

/* A coerced string in the declared canonical form: a new reference. */
static json_t *string_canon(json_t *s, enum field_canon canon)
{
	const char *p = json_string_value(s);
	size_t n = json_string_length(s);

	if (canon == FIELD_CANON_NONE)
		return json_incref(s);
	while (n > 0 && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	char *c = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		c[i] = canon == FIELD_CANON_LOWER ? (char)tolower((unsigned char)p[i]) : p[i];
	c[n] = '\0';
	json_t *out = json_stringn(c, n);
	free(c);
	return out;
}

/* A value coerced to the field's type, then in its canonical form (the
 * strings of a string or list field by f->canon). NULL with why set when
 * the value has no such form. */
static json_t *field_value_canon(const struct field *f, json_t *in, const char **why)
{
	json_t *c = field_coerce(f->type, in, why);
	if (!c || f->canon == FIELD_CANON_NONE)
		return c;
	if (json_is_string(c)) {
		json_t *out = string_canon(c, f->canon);
		json_decref(c);
		return out;
	}
	if (json_is_array(c) && f->type == FIELD_STRLIST) {
		json_t *out = json_array(), *v;
		size_t i;
		json_array_foreach(c, i, v)
			json_array_append_new(out, string_canon(v, f->canon));
		json_decref(c);
		return out;
	}
	return c;
}

/* Whether a coerced int or duration lies within the field's bounds; why
 * says which bound it crosses. */
static bool within_bounds(const struct field *f, const json_t *v, const char **why)
{
	if (f->max <= f->min || (f->type != FIELD_INT && f->type != FIELD_DURATION) || !json_is_integer(v))
		return true;
	json_int_t n = json_integer_value(v);
	if (n < f->min) {
		*why = "below the minimum";
		return false;
	}
	if (n > f->max) {
		*why = "above the maximum";
		return false;
	}
	return true;
}

json_t *field_canon_param(const char *key, const json_t *value, const void *route)
{
	const struct field *f = route ? find_field(route, key) : NULL;
	const char *why;

	if (!f)
		return NULL;
	switch (f->type) {
	case FIELD_STRING:
	case FIELD_INT:
	case FIELD_BOOL:
	case FIELD_DURATION:
		return field_value_canon(f, (json_t *)value, &why);
	case FIELD_STRLIST: {
		/* compared with each element of the coerced list */
		json_t *c = field_coerce(FIELD_STRING, (json_t *)value, &why);
		json_t *out = c ? string_canon(c, f->canon) : NULL;
		json_decref(c);
		return out;
	}
	case FIELD_POLICIES:
		return json_is_string(value) ? policy_name_json(json_string_value(value), json_string_length(value))
					     : NULL;
	case FIELD_MAP:
	case FIELD_STRMAP:
	case FIELD_ANY:
		break;
	}
	return NULL;
}

/* Step 3's coercion: rewrites every declared field of req->data into its
 * canonical form (a null is dropped: it means absent), checking the
 * declared bounds, then, for a write, that every required field is there.
 * On a value that cannot be coerced, one out of bounds or a missing field
 * returns TROVE_ERR_INVALID with the message in why (the fields before it
 * are coerced, the rest left as sent). */
int router_coerce_fields(struct request *req, const struct route *route, struct buf *why_out)
{
	const char *key;
	json_t *val, *tmp;

	if (!route)
		return 0;
	json_object_foreach_safe(req->data, tmp, key, val)
	{
		if (json_is_null(val)) {
			json_object_del(req->data, key);
			continue;
		}
		const struct field *f = find_field(route, key);
		if (!f)
			continue;
		const char *why = "invalid value";
		json_t *c = field_value_canon(f, val, &why);
		if (c && !within_bounds(f, c, &why)) {
			json_decref(c);
			buf_printf(why_out, "%s: %s (%" PRId64 " to %" PRId64 ")", key, why, f->min, f->max);
			return TROVE_ERR_INVALID;
		}
		if (!c) {
			buf_printf(why_out, "error converting input for field \"%s\": %s", key, why);
			return TROVE_ERR_INVALID;
		}
		json_object_set_new(req->data, key, c);
	}
	/* A write must give every required field. */
	if (req->op != OP_CREATE && req->op != OP_UPDATE)
		return 0;
	for (const struct field *f = route->fields; f && f->name; f++) {
		if (f->required && !json_object_get(req->data, f->name)) {
			buf_printf(why_out, "%s: missing", f->name);
			return TROVE_ERR_INVALID;
		}
	}
	return 0;
}

/* Step 5: the fields the route does not declare are named in a warning.
 * Routes without a field table take free-form data (kv, cubbyhole). */
static void warn_unknown(const struct request *req, const struct route *route, struct response *resp)
{
	const char *key;
	json_t *val;
	json_t *unknown = NULL;

	if (!req->data || !route->fields || req->op == OP_READ || req->op == OP_LIST || req->op == OP_HEAD)
		return;
	json_object_foreach(req->data, key, val)
	{
		if (find_field(route, key))
			continue;
		if (!unknown)
			unknown = json_array();
		json_array_append_new(unknown, json_string(key));
	}
	if (!unknown)
		return;
	char *names = json_dumps(unknown, JSON_COMPACT);
	response_warning(resp, "Endpoint ignored these unrecognized parameters: %s", names ? names : "");
	free(names);
	json_decref(unknown);
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

/* Legacy field names and the field each stands for when that one is
 * absent (Vault's tokenutil and the older APIs): on a route that declares
 * both, the handler acts on the legacy value as the newer field. */
static const struct {
	const char *legacy, *field;
} legacy_fields[] = {
	{ "policies", "token_policies" },
	{ "period", "token_period" },
	{ "bound_cidrs", "token_bound_cidrs" },
	{ "ttl", "token_ttl" },
	{ "max_ttl", "token_max_ttl" },
	{ "explicit_max_ttl", "token_explicit_max_ttl" },
	{ "num_uses", "token_num_uses" },
	{ "bound_cidr_list", "secret_id_bound_cidrs" },
	{ "lease", "ttl" },
	{ "plugin_name", "type" },
};

/* The data the ACL's parameter constraints see: req->data, plus, for a
 * legacy field given without the field it stands for, its value under that
 * name too, so a constraint on either name holds for what the handler
 * does. A new reference. */
static json_t *acl_data(const struct request *req, const struct route *route)
{
	json_t *view = NULL;

	if (!req->data || !route)
		return json_incref(req->data);
	for (size_t i = 0; i < sizeof(legacy_fields) / sizeof(legacy_fields[0]); i++) {
		json_t *v = json_object_get(req->data, legacy_fields[i].legacy);
		const char *to = legacy_fields[i].field;
		if (!v || json_object_get(req->data, to) || !find_field(route, legacy_fields[i].legacy) ||
		    !find_field(route, to))
			continue;
		if (!view)
			view = json_copy(req->data);
		json_object_set(view, to, v);
	}
	return view ? view : json_incref(req->data);
}

/* Whether a rule denies the request's operation on path, another
 * spelling of the request's own path. */
static bool spelling_denied(const struct request *req, const char *path)
{
	struct acl_result res;
	acl_result_init(&res);
	acl_check(req->acl, path, req->op, NULL, &res);
	bool denied = (res.caps & ACL_CAP_DENY) != 0;
	acl_result_release(&res);
	return denied;
}

/* Whether a rule denies the path spelled with (or without) a trailing
 * '/' instead (ROUTE_SLASH_EQUIV). */
static bool other_spelling_denied(const struct request *req)
{
	size_t n = strlen(req->path);
	char *alt = xmalloc(n + 2);
	memcpy(alt, req->path, n + 1);
	if (n > 0 && alt[n - 1] == '/')
		alt[n - 1] = '\0';
	else
		memcpy(alt + n, "/", 2);
	bool denied = spelling_denied(req, alt);
	free(alt);
	return denied;
}

/* The request's data, made ready for the ACL and the handler: the pending
 * body parsed (within its limits; a malformed one is answered 400 at
 * once), then every declared field coerced into its canonical form. A
 * value that cannot be coerced is not answered here: its error is kept in
 * *ds and refused once the request is allowed (a denied request gets its
 * 403 whatever it sent). Runs once per request. */
struct data_state {
	bool ready;
	int coerce_err;
	struct buf why;
};

static int prepare_data(struct request *req, const struct route *route, struct response *resp,
			struct data_state *ds)
{
	int r;
	if (ds->ready)
		return 0;
	if (!(route && (route->flags & ROUTE_RAW_BODY)) && (r = request_body_load(req, resp)) != 0)
		return r;
	ds->coerce_err = router_coerce_fields(req, route, &ds->why);
	ds->ready = true;
	return 0;
}

/* An allowed request: its body is parsed (a malformed one is refused
 * before a use of the token is spent on it), then the use is spent. */
static int body_then_use(struct request *req, const struct route *route, struct response *resp,
			 struct data_state *ds)
{
	int r = prepare_data(req, route, resp, ds);
	return r != 0 ? r : spend_use(req, resp);
}

/* The answer to an error r no handler explained: a storage that is out
 * of reach names itself and why (storage.h). */
static int unexplained_error(struct response *resp, int r)
{
	const char *why = r == TROVE_ERR_UNAVAILABLE ? storage_unavailable_reason() : NULL;
	if (why)
		return response_error(resp, r, "storage unavailable: %s", why);
	return response_error(resp, r, "%s", err_message(r));
}

/* Resolves the token and its ACL, and decides the request. Returns 0
 * when the request may proceed. */
static int authorize(struct request *req, const struct route *route, struct response *resp, struct data_state *ds)
{
	struct acl_result res;
	int r;

	if (!req->client_token)
		return response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
	r = token_lookup_ex(core_tokens(req->core), req->client_token, req->remote_addr[0] ? req->remote_addr : NULL,
			    TOKEN_LOOKUP_NO_USE, &req->token);
	if (r == TROVE_ERR_SEALED)
		return response_error(resp, r, "Vault is sealed");
	if (r == TROVE_ERR_UNAVAILABLE) /* the token is unknown, not refused */
		return unexplained_error(resp, r);
	if (r != 0) {
		if (r != TROVE_ERR_PERMISSION)
			log_error("token lookup failed", "error", err_name(r));
		return response_error(resp, TROVE_ERR_PERMISSION,
				      r == TROVE_ERR_PERMISSION ? "permission denied" : "internal error");
	}
	/* Spending a use is a durable write: not on an event loop. The
	 * request runs again, from the start, on the pool. */
	if (req->no_block && token_has_use_limit(req->token)) {
		token_entry_free(req->token);
		req->token = NULL;
		return TROVE_ERR_WOULD_BLOCK;
	}
	/* A standby counts no use: the request goes to the active node
	 * (request.h, standby_read), nothing recorded or spent here. */
	if (req->standby_read && token_has_use_limit(req->token)) {
		token_entry_free(req->token);
		req->token = NULL;
		req->send_to_active = true;
		return TROVE_ERR_WOULD_BLOCK;
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
		return body_then_use(req, route, resp, ds);

	/* Vault's create vs update: a write to something absent needs the
	 * create capability. */
	if (route && route->exists && req->op == OP_UPDATE && req->storage) {
		bool exists = true;
		if ((r = route->exists(req, &exists)) != 0)
			return unexplained_error(resp, r);
		if (!exists)
			req->op = OP_CREATE;
	}
	/* Without a body (query parameters only) the data is made canonical
	 * now, so the first decision is already taken on canonical values. */
	if (!request_body_pending(req) && (r = prepare_data(req, route, resp, ds)) != 0)
		return r;
	acl_result_init(&res);
	json_t *data = acl_data(req, route);
	acl_check_ex(req->acl, req->path, req->op, data, route ? field_canon_param : NULL, route, &res);
	json_decref(data);
	/* The body is parsed only when the token's capabilities grant the
	 * operation on the path: then its parameters, in canonical form, may
	 * still deny it (parameter constraints), so the decision is taken
	 * again with them. A request refused on path or operation never has
	 * its body parsed. */
	if (res.granting.len > 0 && request_body_pending(req)) {
		if ((r = prepare_data(req, route, resp, ds)) != 0) {
			acl_result_release(&res);
			return r;
		}
		data = acl_data(req, route);
		acl_check_ex(req->acl, req->path, req->op, data, route ? field_canon_param : NULL, route, &res);
		json_decref(data);
	}
	req->sudo = res.sudo;
	strlist_release(&req->granting);
	req->granting = res.granting;
	strlist_init(&res.granting);
	bool allowed = res.allowed && (!route || !(route->flags & ROUTE_SUDO) || res.sudo);
	if (allowed && route && (route->flags & ROUTE_SLASH_EQUIV))
		allowed = !other_spelling_denied(req);
	/* A name lower-cased before the ACL: a rule that denies the spelling
	 * the client used refuses it too (ROUTE_NAMES_CI). */
	if (allowed && req->path_as_sent)
		allowed = !spelling_denied(req, req->path_as_sent);
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
	return body_then_use(req, route, resp, ds);
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
static int refuse_unaudited(struct response *resp, int why)
{
	response_release(resp);
	response_init(resp);
	response_fail_detail(resp, "no audit device recorded the entry; refusing", why);
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

/* Step 2's canonical names (ROUTE_NAMES_CI): a name in
 * the path is refused when the handler would trim it into another
 * spelling, and lower-cased when the handler treats it case-insensitively,
 * so the ACL decides on the name the handler acts on. A route that binds a
 * ":name" ignores a trailing '/' when it matches, so for every such route
 * "x/name/" would reach the object of "x/name" under another ACL path:
 * refused too, but for a LIST (where the '/' is the usual spelling). */
int router_canon_path(struct request *req, const struct route *route, struct response *resp)
{
	if (!route || (!(route->flags & (ROUTE_NAMES_CI)) && req->nparams == 0))
		return 0;
	size_t off = (size_t)(req->rel - req->path), n = strlen(req->rel);
	char *rel = req->path + off;
	if (n > 0 && rel[n - 1] == '/' && req->op != OP_LIST)
		return response_error(resp, TROVE_ERR_INVALID, "invalid path: a name must not end in '/'");
	if (!(route->flags & ROUTE_NAMES_CI))
		return 0;
	bool upper = false;
	for (size_t i = 0; i < n; i++) {
		bool edge = i == 0 || rel[i - 1] == '/' || i + 1 == n || rel[i + 1] == '/';
		if (edge && isspace((unsigned char)rel[i]))
			return response_error(resp, TROVE_ERR_INVALID,
					      "invalid path: a name must not begin or end with a blank");
		upper |= isupper((unsigned char)rel[i]) != 0;
	}
	/* Kept so that a rule denying the spelling the client used still
	 * refuses it (authorize): lower-casing must never lose a deny. */
	if (upper && !req->path_as_sent)
		req->path_as_sent = xstrdup(req->path);
	for (size_t i = 0; i < n; i++)
		rel[i] = (char)tolower((unsigned char)rel[i]);
	for (int i = 0; i < req->nparams; i++)
		for (char *p = (char *)req->params[i]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	return 0;
}

/* Keeps the handler's response headers the mount's allowed_response_headers
 * names (case-insensitively), as Vault: none when it names none. */
static void filter_response_headers(const struct request *req, struct response *resp)
{
	if (!resp->headers)
		return;
	const struct strlist *allowed = req->mount ? &req->mount->config.allowed_response_headers : NULL;
	const char *k;
	json_t *v, *kept = json_object();
	json_object_foreach(resp->headers, k, v)
	{
		for (size_t i = 0; allowed && i < allowed->len; i++)
			if (strcasecmp(allowed->items[i], k) == 0) {
				json_object_set(kept, k, v);
				break;
			}
	}
	json_decref(resp->headers);
	resp->headers = json_object_size(kept) ? kept : NULL;
	if (!resp->headers)
		json_decref(kept);
}

/* The handler for op (a create falls back to the update handler), or NULL. */
static handler_fn handler_for(const struct route *route, enum op op)
{
	handler_fn h = route->ops[op];
	if (!h && op == OP_CREATE)
		h = route->ops[OP_UPDATE];
	return h;
}

/* GET ?help=1: the route's help instead of its handler. Any valid token
 * may read the help of any path (Vault allows help whatever the ACL), and
 * a route that needs no token gives its help to anyone. Not audited. */
static int help_call(struct request *req, const struct route *route, struct response *resp)
{
	struct token_entry *tok = NULL;
	if (!route)
		return response_error(resp, TROVE_ERR_NOT_FOUND, "unsupported path");
	if (!(route->flags & ROUTE_UNAUTH)) {
		if (!req->client_token || token_lookup_ex(core_tokens(req->core), req->client_token,
		                                          req->remote_addr[0] ? req->remote_addr : NULL,
		                                          TOKEN_LOOKUP_NO_USE, &tok) != 0)
			return response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
		token_entry_free(tok);
	}
	openapi_help(req, route, resp);
	return 0;
}

bool router_path_allowed(const struct request *req, const struct route *route)
{
	if (!req->empty_segment)
		return true;
	if (!route || !(route->flags & ROUTE_TAIL_DATA) || !(route->flags & ROUTE_UNAUTH) || req->op != OP_READ ||
	    !req->rel || req->rel < req->path)
		return false;
	size_t plen = strlen(route->pattern);
	if (plen < 2 || strcmp(route->pattern + plen - 2, "/*") != 0)
		return false;
	/* the tail starts after the pattern's literal part, below the mount */
	size_t tail = (size_t)(req->rel - req->path) + plen - 1;
	return req->empty_segment - 1 >= tail;
}

/* Steps 1 and 3 of router.h: the sealed check, the wrapping precheck, the
 * coercion of the fields, the token and the ACL decision. Sets *done when
 * the request is answered without being audited (sealed). */
static int authorize_call(struct request *req, const struct route *route, struct response *resp, bool *done)
{
	struct data_state ds = { .ready = false, .coerce_err = 0 };
	int r;
	*done = false;
	if (!router_path_allowed(req, route)) { /* as the HTTP layer's refusals: not audited */
		*done = true;
		return response_error(resp, TROVE_ERR_INVALID, "%s", REQUEST_PATH_INVALID);
	}
	if (core_sealed(req->core) && !(route && (route->flags & ROUTE_SEALED_OK))) {
		*done = true;
		return response_error(resp, TROVE_ERR_SEALED, "Vault is sealed");
	}
	/* Canonical names and values first: the ACL decides on what the
	 * handler gets. */
	if ((r = router_canon_path(req, route, resp)) != 0)
		return r;
	if (req->help) {
		*done = true;
		return help_call(req, route, resp);
	}
	buf_init(&ds.why, 4096);
	storage_unavailable_clear();
	r = route ? wrapping_precheck(req, resp) : 0;
	if (r == 0 && (!route || !(route->flags & ROUTE_UNAUTH)))
		r = authorize(req, route, resp, &ds);
	if (r == 0 && !route)
		r = response_error(resp, TROVE_ERR_NOT_FOUND, "unsupported path");
	/* Allowed (or a route that needs no token): the body becomes data
	 * now, before the request entry records it. A value that could not
	 * be coerced is refused once the request is allowed, and after the
	 * 405 of an unsupported operation. */
	if (r == 0)
		r = prepare_data(req, route, resp, &ds);
	if (r == 0 && ds.coerce_err != 0 && handler_for(route, req->op))
		r = response_error(resp, ds.coerce_err, "%s", ds.why.data);
	buf_release(&ds.why);
	return r;
}

/* Steps 4 to 6, and wrapping: runs the handler of an allowed request.
 * The handler runs inside its mount's gate (mount_gate.h): a mount being
 * disabled refuses new requests, and its disable waits for the ones
 * running, so nothing is issued after its leases are revoked. */
static int run_handler(struct request *req, const struct route *route, struct response *resp)
{
	struct mount_gate *gate = req->mount ? req->mount->gate : NULL;
	int r;
	handler_fn h = handler_for(route, req->op);
	if (!h) {
		r = response_error(resp, TROVE_ERR_UNSUPPORTED_OP, "unsupported operation");
	} else if (gate && !mount_gate_enter(gate)) {
		r = response_error(resp, TROVE_ERR_NOT_FOUND,
		                   "no handler for route \"%s\": the mount is being disabled", req->path);
	} else {
		warn_unknown(req, route, resp);
		if ((r = h(req, resp)) == 0 && (r = expiration_register(core_expiration(req->core), req, resp)) == 0)
			r = wrapping_wrap(req, resp); /* before the response entry: it records wrap_info */
		filter_response_headers(req, resp);
		if (gate)
			mount_gate_leave(gate);
	}
	if (r != 0 && !resp->errors) {
		if (r == TROVE_ERR_NOT_FOUND)
			resp->errors = json_array();
		else
			unexplained_error(resp, r);
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
			c->err = refuse_unaudited(c->resp, items[k].result);
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
		/* Tried on a loop and needing a write before it is even
		 * allowed (a limited-use token): nothing is recorded yet. */
		if (st[i].r == TROVE_ERR_WOULD_BLOCK)
			done = true;
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
		 * pool, which records its response entry then and looks its
		 * token up afresh. */
		if (st[i].r == TROVE_ERR_WOULD_BLOCK) {
			st[i].stage = CALL_DONE;
			token_entry_free(c->req->token);
			c->req->token = NULL;
			acl_release(c->req->acl);
			c->req->acl = NULL;
		}
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

/* A request matched on arrival may wait before it runs (for its
 * X-Vault-Index, on the pool) while another node's change replaces the
 * mount it matched (mount_table_reload): it is matched again then, so it
 * runs on the mount as it is now (a tuned TTL; a mount gone answers 404)
 * rather than on the copy it saw. Only where tables change underneath (a
 * node that hears other nodes: ha_reads_active). */
static void rematch_if_replaced(struct request *req, struct route_match *match)
{
	if (!req->mount || !ha_reads_active())
		return;
	struct mount *now = match_mount(req->core, req->path);
	bool same = now == req->mount;
	mount_release(now);
	if (same)
		return;
	request_unmatch(req);
	router_match(req, match);
}

int router_dispatch(struct request *req, const struct route_match *match, struct response *resp)
{
	struct router_call c = {.req = req, .match = *match, .resp = resp};
	rematch_if_replaced(req, &c.match);
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
