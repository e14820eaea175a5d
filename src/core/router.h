/* router.h — table-driven routing, field typing and the request pipeline.
 *
 * An engine declares its paths as a table of struct route: a pattern, the
 * handler for each operation, typed fields with defaults, and flags. The
 * router does the rest for every engine alike:
 *   1. sealed check (503 unless the route is ROUTE_SEALED_OK)
 *   2. longest-prefix mount match, then the first route whose pattern
 *      matches (":name" binds one segment, a trailing "*" the rest;
 *      "#name" binds one segment that carries a secret, a token or an
 *      accessor: audit entries show it HMAC'd within request.path, as
 *      sys/audit-hash gives it, and the server log shows it redacted); the
 *      names in the path checked and lower-cased (ROUTE_NAMES_CI), and a
 *      trailing '/' after a bound ":name" refused but for a LIST (400)
 *   3. token resolution and the ACL decision (403 before 404, as Vault);
 *      the body becomes req->data only once the token's capabilities
 *      grant the operation (request_body_load): a refused request is
 *      never parsed, and a malformed body is a 400 after the 403s; then
 *      field coercion into canonical form (Vault's weak typing) and the
 *      ACL decision on the canonical values (a coercion error is answered
 *      400 naming the field, but only once the ACL allowed the request; a
 *      legacy field name is checked under the name of the field it sets
 *      as well; ROUTE_SLASH_EQUIV: a deny on the other spelling too)
 *   4. operation check (405 when the route has no handler for it)
 *   5. a warning for unknown fields
 *   6. the handler
 * with a request entry recorded by the audit devices before step 4 and a
 * response entry after step 6 (audit.h), when any device is enabled.
 *
 * Field coercion rewrites req->data in place: an int field holds a JSON
 * integer, a bool a JSON boolean, a duration an integer of seconds, a
 * string list a JSON array of strings, a map a JSON object, a string map
 * a JSON object of strings. No string of a declared string, list or string
 * map field may hold a NUL byte. The ACL's parameter constraints are
 * checked on these coerced values, with each policy value coerced the same
 * way (acl.h, acl_check_ex), so the values authorised are the values the
 * handler acts on. Fields a route does not declare are left and
 * constrained as sent. Handlers read fields with field_*(), which fall back
 * to the declared default. */
#ifndef TROVE_ROUTER_H
#define TROVE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"

enum field_type {
	FIELD_STRING,
	FIELD_INT,
	FIELD_BOOL,
	FIELD_DURATION, /* int seconds or Go duration string */
	FIELD_STRLIST,  /* array or comma-separated string */
	FIELD_MAP,      /* JSON object */
	FIELD_ANY,
	FIELD_STRMAP,   /* JSON object of strings (Vault's TypeKVPairs): a
			 * number becomes its decimal text, a boolean "true"
			 * or "false"; a null is kept (a PATCH's removal);
			 * objects and arrays are refused */
	FIELD_POLICIES, /* a string list of policy names, canonical: each
			 * trimmed and lower-cased, empties dropped, sorted,
			 * unique (Vault's policy sanitising) */
	FIELD_LAST = FIELD_POLICIES,
};

/* How a string field (or each string of a list) is put in canonical form
 * before the ACL sees it. */
enum field_canon {
	FIELD_CANON_NONE,  /* as sent */
	FIELD_CANON_TRIM,  /* blanks at either end removed */
	FIELD_CANON_LOWER, /* trimmed and lower-cased (a case-insensitive name) */
};

/* One declared field of a route, in designated-initialiser form:
 *   {.name = "ttl", .type = FIELD_DURATION, .max = 86400 * 365,
 *    .description = "lifetime of the token"}
 * The router applies the declaration to every request before the ACL
 * decides (router.h, step 3): the value is coerced to the type and put in
 * canonical form; an int or duration outside [min, max] (when max > min)
 * and a missing required field of a write are refused with 400 naming the
 * field, once the ACL allowed the request. A sensitive field is never
 * echoed in an error, and its value is HMAC'd in audit entries even when
 * the mount's audit_non_hmac_request_keys names it. The OpenAPI document
 * (sys/internal/specs/openapi) and ?help=1 are generated from the same
 * declarations. */
struct field {
	const char *name;
	enum field_type type;
	const char *def; /* default in string form, or NULL */
	const char *description;
	bool required;    /* a write (create, update) must give it */
	bool sensitive;   /* a secret: a password, a key, a secret ID */
	enum field_canon canon;
	int64_t min, max; /* FIELD_INT, FIELD_DURATION (seconds): applied when max > min */
};

typedef int (*handler_fn)(struct request *req, struct response *resp);

enum route_flags {
	ROUTE_UNAUTH = 1 << 0,      /* no token needed */
	ROUTE_SUDO = 1 << 1,        /* root-protected: the token needs sudo */
	ROUTE_SEALED_OK = 1 << 2,   /* served while sealed or uninitialised */
	ROUTE_LOOP_READS = 1 << 3,  /* its reads (read, list, head) may run on an
	                             * event loop: they read memory or memory-
	                             * mapped storage, write nothing and call
	                             * nothing out. Without it every operation
	                             * runs on the worker pool: an engine whose
	                             * read has a side effect (database/creds,
	                             * pki/issue) or may wait needs declare
	                             * nothing. Writes always run on the pool
	                             * (but see route.try_inline). */
	ROUTE_NO_AUDIT = 1 << 4,    /* Vault's special handlers: never audited */
	ROUTE_NO_ACL = 1 << 5,      /* a token is needed, but the handler decides
	                             * access itself (preflight checks) */
	ROUTE_HASHING = 1 << 7,     /* its writes hash or verify a password
	                             * (argon2): they run on the small hashing
	                             * pool, never on the shared one, and are
	                             * refused with 429 when it is full */
	ROUTE_NAMES_CI = 1 << 8,    /* the names in the path are case-insensitive
	                             * and would be trimmed by the handler: a
	                             * segment below the mount with a blank at
	                             * either end is refused with 400, and the
	                             * router lower-cases the path below the
	                             * mount (and the bound parameters) before
	                             * the ACL, so the ACL, the audit log and the
	                             * handler see one spelling. Only for routes
	                             * whose literal segments are lower-case and
	                             * whose every parameter is such a name. */
	ROUTE_SLASH_EQUIV = 1 << 9, /* the path names the same object with or
	                             * without a trailing '/' (a mount path: the
	                             * Vault CLI sends "sys/mounts/x/"): a rule
	                             * that denies the other spelling refuses the
	                             * request too */
};

/* Existence check: for a write (OP_UPDATE) on a route that has one, the
 * router asks whether the target exists and, if not, treats the request as
 * OP_CREATE for the ACL and the handler (Vault's create vs update). */
typedef int (*exists_fn)(struct request *req, bool *out);

struct route {
	const char *pattern;
	handler_fn ops[OP__COUNT];
	exists_fn exists;
	const struct field *fields; /* terminated by a {NULL} entry; may be NULL */
	unsigned flags;
	const char *synopsis;
	/* Optional, for a write of a ROUTE_UNAUTH route that usually writes
	 * nothing (a batch-token login of a known alias): true when this
	 * request is worth trying on the event loop, with req->no_block set;
	 * the handler returns TROVE_ERR_WOULD_BLOCK before any side effect
	 * when it must write, and the request runs again on the pool. A
	 * hint: a wrong answer costs a trip, never correctness. */
	bool (*try_inline)(const struct request *req);
};

struct mount;
struct lease;

enum engine_flags {
	ENGINE_AUTH = 1 << 0,    /* an auth method (mounted under auth/) */
	ENGINE_BUILTIN = 1 << 1, /* mounted by the core; cannot be enabled */
};

struct engine {
	const char *type;                  /* "system", "kv", "token", ... */
	const struct route *const *tables; /* NULL-terminated list of route tables */
	unsigned flags;
	/* Optional: called when the mount is enabled or loaded on unseal, and
	 * when it is unloaded or disabled. */
	int (*mount_init)(struct mount *m, struct buf *err);
	void (*mount_cleanup)(struct mount *m);
	/* Optional: a tune changed the mount's options (kv v1 -> v2). */
	int (*options_changed)(struct mount *m, json_t *old_options, struct buf *err);
	/* For engines that lease what they return (response.secret): undo
	 * what the lease stands for (drop the database user, ...). Called by
	 * the expiration manager at expiry, on revocation and when the
	 * creating token is revoked; retried with backoff on failure, so it
	 * must be idempotent. err: why it failed. */
	int (*lease_revoke)(struct mount *m, const struct lease *l, struct buf *err);
	/* Optional: extend the lease to *ttl seconds from now (the engine may
	 * lower *ttl). Without it leases of this engine renew as asked. */
	int (*lease_renew)(struct mount *m, const struct lease *l, int64_t *ttl, struct buf *err);
};

/* The engine for a mount type (and options, for kv's version), or NULL.
 * auth selects the auth-method namespace. */
const struct engine *engine_lookup(const char *type, const json_t *options, bool auth);

/* The result of matching a request before running it: lets the HTTP layer
 * decide whether to run it inline or on the worker pool. */
struct route_match {
	const struct route *route; /* NULL when no route matched */
};

/* Matches req->path to a mount (setting req->mount, req->storage and
 * req->rel) and a route, and binds req's parameters. Returns 0
 * (match->route may still be NULL for an unknown path). */
int router_match(struct request *req, struct route_match *match);

/* Runs the whole pipeline above on a matched request and fills resp. On
 * failure resp->errors holds the message(s) and the return value is the
 * error code (its HTTP status via err_http_status()). The batch below with
 * one call. */
int router_dispatch(struct request *req, const struct route_match *match, struct response *resp);

/* One request of a batch: the matched request, its response, and what
 * router_dispatch would have returned for it. */
struct router_call {
	struct request *req;
	struct route_match match;
	struct response *resp;
	int err; /* set by router_dispatch_batch */
};

/* Runs the pipeline on n matched requests of one core together, each
 * call's outcome (resp, err) being what router_dispatch gives it alone.
 * Each step is taken for every call before the next step: every request
 * is authorized, then the request entries of all audited ones are
 * recorded in one audit batch (audit.h), then the handlers run one after
 * another, then all the response entries are recorded in one batch. So,
 * as for a single request, an entry is recorded before its handler runs
 * and before the caller can send its reply; a request whose entry no
 * device recorded runs no handler, or has its answer replaced by the
 * fail-closed 500, on its own. Batch only requests that may run here
 * (router_is_slow false, or all on one worker): handlers run in turn on
 * the calling thread. */
void router_dispatch_batch(struct router_call *calls, size_t n);

/* Whether running this request may block (storage fsync, slow crypto):
 * such requests go to the worker pool. */
bool router_is_slow(const struct request *req, const struct route_match *match);

/* Whether this request is a write on a ROUTE_HASHING route: the HTTP layer
 * runs it on the hashing pool (it is slow, too). */
bool router_is_hashing(const struct request *req, const struct route_match *match);

/* Whether route declares the field named by the klen bytes at k sensitive
 * (false for a NULL route or an undeclared field). */
bool field_is_sensitive(const struct route *route, const char *k, size_t klen);

/* Typed field access after coercion; each falls back to the route's
 * declared default, then to the zero value. */
const char *field_string(const struct request *req, const char *name);
int64_t field_int(const struct request *req, const char *name);
bool field_bool(const struct request *req, const char *name);
/* Whether the caller supplied the field (not null). */
bool field_present(const struct request *req, const char *name);

/* Step 2's canonical names for a matched request (req->rel, the bound
 * parameters): with ROUTE_NAMES_CI a segment below the mount with a blank
 * at either end is refused, then the path below the mount and the
 * parameters are lower-cased in place; on every route that binds a
 * ":name" (or has the flag) a trailing '/' is refused but for a LIST. Returns 0, or TROVE_ERR_INVALID with the
 * reason in resp. Exposed for tests. */
int router_canon_path(struct request *req, const struct route *route, struct response *resp);

/* Step 3's field declarations applied to req->data: every declared field
 * coerced to its type and put in canonical form (a null dropped: it means
 * absent), its bounds checked, and for a write (create, update) every
 * required field present. Returns 0, or TROVE_ERR_INVALID with the reason,
 * naming the field but never its value, appended to why. The router calls
 * it before the ACL and refuses the request with that reason only once the
 * ACL allowed it. Exposed for tests. */
struct buf;
int router_coerce_fields(struct request *req, const struct route *route, struct buf *why);

/* Coerces one JSON value to a field type (Vault's weak typing). On success
 * returns a new reference; on failure NULL with a reason in why (the
 * caller names the field). Idempotent: coercing a coerced value gives it
 * back. Exposed for tests. */
json_t *field_coerce(enum field_type type, json_t *in, const char **why);

/* The canonical form of one value of a policy's allowed/denied parameter
 * list for the route's field key, so that it compares with the coerced
 * request value (or each element of a coerced list): a new reference, or
 * NULL when the field is not declared or the value has no such form (it
 * is then compared as written: a glob, say). route is a const struct
 * route *; the signature is acl.h's acl_canon_fn. */
json_t *field_canon_param(const char *key, const json_t *value, const void *route);

#endif
