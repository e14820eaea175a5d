/* invalidate.h — storage changed underneath the core.
 *
 * The core's caches (the token cache, the compiled ACLs and parsed
 * policies, kv-v2's metadata cache, the in-memory identity store, engine
 * configs kept in per-mount state) are kept right by the code that writes
 * through this process: each writer forgets what it wrote. A change that
 * comes from elsewhere (another node sharing the storage, an operator's
 * repair, a test) is announced with core_storage_changed, which routes the
 * key to the cache that holds it:
 *   sys/token/id/<hash>       the token store (token_store_invalidate)
 *   sys/policy/<name>         the policy store (policy_store_invalidate)
 *   logical/<uuid>/<key>      the secret mount with that uuid, and
 *   auth/<uuid>/<key>         the auth mount with that uuid: its engine's
 *                             invalidate(m, "<key>") (router.h)
 *   core/keyring              the barrier's keyring, read again
 *                             (barrier_reload)
 *   core/mounts, core/auth    the secret or the auth mount table, read
 *                             again and swapped in (mount_table_reload)
 *   core/audit, core/audit-headers
 *                             the audit devices and headers, read again
 *                             (audit_broker_reload)
 * Other keys are ignored: no request reads them from memory. A sealed
 * core holds no cached data and ignores every key. Thread-safe; cheap
 * enough to call for every key a standby sees change (a table's reload,
 * rare, costs a read of the table and its new mounts' set-up). */
#ifndef TROVE_INVALIDATE_H
#define TROVE_INVALIDATE_H

struct core;

/* key: a key of the logical (barrier) storage, as written. */
void core_storage_changed(struct core *c, const char *key);

/* Anything may have changed (a node that stopped hearing about changes
 * for a while): the tables above are read again, the token cache and the
 * policy store are emptied, and
 * every mount whose engine has an invalidate hook is told of every key
 * its storage now holds. A key deleted elsewhere meanwhile is not
 * listed, so an engine cache holding one keeps it until its own expiry or
 * the next write; the token and policy stores, emptied, have no such
 * gap. Thread-safe; its cost grows with the mounts' keys. */
void core_storage_changed_all(struct core *c);

#endif
