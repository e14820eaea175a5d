/* rollback_guard.h — refuse to unseal storage older than this node has seen.
 *
 * The barrier proves that each record was written by someone holding the
 * keys, not that it is the newest one: whoever can write the storage can
 * put back an older copy of it (docs/threat-model.md). The guard keeps, in
 * a local file outside the storage, the highest keyring epoch this node
 * has seen (barrier.h) and a SHA-256 of the root-key record, MAC'd with a
 * key derived from the root key. At unseal:
 *
 *   keyring epoch <  recorded               -> refused (storage rolled back)
 *   keyring epoch == recorded, root-key record differs
 *                                            -> refused (record replaced,
 *                                               e.g. the one an old set of
 *                                               unseal shares opens)
 *   file absent, or epoch moved forward      -> accepted and recorded
 *   file not MAC'd by this installation      -> refused
 *
 * The core starts a new epoch at every unseal (barrier_touch) and every
 * keyring write after it moves the recorded epoch forward (the barrier's
 * epoch hook), so a copy of the storage taken before the last unseal,
 * rotation or reservation of the keyring is refused. The file is written atomically (temporary file,
 * fsync, rename, fsync of the directory), opened without following
 * symlinks, mode 0600.
 *
 * Thread-safe. */
#ifndef TROVE_ROLLBACK_GUARD_H
#define TROVE_ROLLBACK_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "core/barrier.h"

struct rollback_guard;

/* A guard kept at `path` (copied). Touches nothing until the first check. */
struct rollback_guard *rollback_guard_new(const char *path);
/* NULL is fine. Wipes the MAC key. */
void rollback_guard_free(struct rollback_guard *g);

/* At unseal, after the keyring opened: compares the storage's state (the
 * root key, the root-key record's bytes as stored, the keyring epoch)
 * with the file. Returns 0 and arms the guard (the file now holds this
 * state), or TROVE_ERR_INTEGRITY with err saying why the storage is
 * refused and how to recover, or TROVE_ERR_IO when the file cannot be
 * read or written (err names it). */
int rollback_guard_check(struct rollback_guard *g, const unsigned char root_key[BARRIER_KEY_LEN],
			 const unsigned char *root_rec, size_t root_rec_len, uint64_t epoch, struct buf *err);

/* The barrier's epoch hook (arg is the guard): records a newer epoch.
 * Ignored while the guard is not armed; a failed write is logged and
 * leaves the old value, which is never ahead of the storage. */
void rollback_guard_epoch(void *arg, uint64_t epoch);

/* Remembers a new root-key record (after a rekey wrote it); the next epoch
 * recorded carries its hash. No-op while not armed. */
void rollback_guard_root_record(struct rollback_guard *g, const unsigned char *root_rec, size_t root_rec_len);

/* Forgets the MAC key (on seal); the guard records nothing until the next
 * successful check. */
void rollback_guard_disarm(struct rollback_guard *g);

#endif
