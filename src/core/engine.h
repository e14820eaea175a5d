/* engine.h — the engine ABI: what an engine is and what the core offers it.
 *
 * An engine (a secrets engine or an auth method) is a struct engine: its
 * type name, its route tables and optional hooks the core calls at mount,
 * unmount, tune and lease time. A route is a pattern with a handler per
 * operation, typed fields and flags; the router (router.h) runs every
 * request through the same pipeline before the handler, which reads its
 * fields with field_*().
 *
 * The core knows no engine by name: whoever builds a core gives it a
 * registry (struct engine_registry, in core_config.engines), and
 * engine_lookup asks that registry. */
#ifndef TROVE_ENGINE_H
#define TROVE_ENGINE_H

#include <jansson.h>
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
	ROUTE_RAW_BODY = 1 << 10,   /* its body is not JSON or a form (an OCSP
	                             * request in DER): never parsed into
	                             * req->data; the handler reads the bytes
	                             * with request_body_bytes. Fields come from
	                             * the query string alone. */
	ROUTE_SLASH_EQUIV = 1 << 9, /* the path names the same object with or
	                             * without a trailing '/' (a mount path: the
	                             * Vault CLI sends "sys/mounts/x/"): a rule
	                             * that denies the other spelling refuses the
	                             * request too */
	ROUTE_TAIL_DATA = 1 << 11,  /* its pattern ends in a glob segment whose tail is
	                             * data, not names (an OCSP GET's base64):
	                             * empty segments ("//") are accepted there,
	                             * for reads of an unauthenticated
	                             * (ROUTE_UNAUTH) route only; every other
	                             * path with one is refused before any
	                             * decision (router_path_allowed) */
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
	/* Optional, for a write that usually writes nothing (a batch-token
	 * login of a known alias, a pki/issue under a no_store role): true
	 * when this request is worth trying on the event loop, with
	 * req->no_block set (a route that needs a token has only its path
	 * parameters here: its body is parsed after the token check);
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
	/* Optional background work (core/background.h): called on a worker
	 * thread, never on an event loop, every periodic_interval_s seconds
	 * (0: 60), each wait drawn within periodic_jitter_pct percent of it
	 * (0-100), while the mount is mounted, the core unsealed and this
	 * node may run background work. Runs never overlap; disabling the
	 * mount and sealing wait for a run in progress. For one-shot jobs an
	 * engine calls mount_schedule_at (core/background.h). */
	void (*periodic)(struct mount *m);
	unsigned periodic_interval_s;
	unsigned periodic_jitter_pct;
	/* Optional, for engines that keep something read from storage in
	 * their per-mount state (a cache, a parsed config): key, relative to
	 * the mount's view, was changed in storage by someone other than this
	 * process's handlers (core_storage_changed, invalidate.h). Drop or
	 * reload what was kept for it; the next request must see storage. */
	void (*invalidate)(struct mount *m, const char *key);
};

/* Which engine serves which mount type: given to the core when it is
 * built (core_config.engines) and borrowed for the core's lifetime. */
struct engine_registry {
	/* The engine for a mount type (and options, for kv's version), or
	 * NULL. auth selects the auth-method namespace. Thread-safe. */
	const struct engine *(*lookup)(const char *type, const json_t *options, bool auth);
};

struct core;

/* The engine for a mount type (and options, for kv's version) from core
 * c's registry, or NULL (also when c has no registry). auth selects the
 * auth-method namespace. */
const struct engine *engine_lookup(struct core *c, const char *type, const json_t *options, bool auth);

/* Typed field access after coercion; each falls back to the route's
 * declared default, then to the zero value. */
const char *field_string(const struct request *req, const char *name);
int64_t field_int(const struct request *req, const char *name);
bool field_bool(const struct request *req, const char *name);
/* Whether the caller supplied the field (not null). */
bool field_present(const struct request *req, const char *name);

#endif
