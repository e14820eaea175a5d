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

#include "engine.h"
#include "request.h"

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

/* Whether running this request may block (storage fsync, slow crypto, a
 * storage whose reads block: all but the sealed-OK routes' reads): such
 * requests go to the worker pool. */
bool router_is_slow(const struct request *req, const struct route_match *match);

/* Whether this request is a write on a ROUTE_HASHING route: the HTTP layer
 * runs it on the hashing pool (it is slow, too). */
bool router_is_hashing(const struct request *req, const struct route_match *match);

/* Whether route declares the field named by the klen bytes at k sensitive
 * (false for a NULL route or an undeclared field). */
bool field_is_sensitive(const struct route *route, const char *k, size_t klen);

/* Step 2's canonical names for a matched request (req->rel, the bound
 * parameters): with ROUTE_NAMES_CI a segment below the mount with a blank
 * at either end is refused, then the path below the mount and the
 * parameters are lower-cased in place; on every route that binds a
 * ":name" (or has the flag) a trailing '/' is refused but for a LIST. Returns 0, or TROVE_ERR_INVALID with the
 * reason in resp. Exposed for tests. */
int router_canon_path(struct request *req, const struct route *route, struct response *resp);

/* Whether a path with an empty segment (req->empty_segment) may go on:
 * only a read of an unauthenticated ROUTE_TAIL_DATA route whose "//"
 * lies wholly inside the '*' tail. True for a path without one. Checked
 * before the token, the ACL or the handler see the path, so no path
 * spelled with "//" reaches a decision made on its names. */
bool router_path_allowed(const struct request *req, const struct route *route);

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
