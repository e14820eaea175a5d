/* storage_open.h — the physical storage a config names, opened; and the
 * migration lock `trove operator migrate` leaves in it (Vault's). */
#ifndef TROVE_STORAGE_OPEN_H
#define TROVE_STORAGE_OPEN_H

#include <stddef.h>

#include "buf.h"
#include "server/config.h"
#include "storage/storage.h"

/* The key operator migrate writes into its source while it copies, as
 * Vault does: {"start": "<RFC 3339 time>"}. */
#define STORAGE_MIGRATION_LOCK "core/migration"

/* Opens the storage sc describes (inmem, lmdb, postgresql). Returns it
 * (the caller frees it with storage_free) or NULL with the reason in
 * err. */
struct storage *server_storage_open(const struct storage_config *sc, struct buf *err);

/* Whether s holds a migration lock: 1 with the start time it records
 * copied into started (cap bytes, "unknown" when unreadable), 0 when it
 * holds none, or a negative error when s cannot be read. */
int server_storage_migration_locked(struct storage *s, char *started, size_t cap);

#endif
