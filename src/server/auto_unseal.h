/* auto_unseal.h — the server unsealing itself through its auto seal.
 *
 * A thread that waits for the core to be initialised (by this node or,
 * on shared storage, another), then asks the seal to open the root key,
 * retrying with backoff (AUTO_UNSEAL_FIRST_MS doubling up to
 * AUTO_UNSEAL_MAX_MS) while the device is unreachable, its key missing or
 * its PIN refused; each failure is logged with what the device said. It
 * ends once the core is unsealed: a node sealed by sys/seal afterwards
 * stays sealed until it restarts (or is unsealed with recovery keys), as
 * Vault's. It gives up (logged) when a seal migration is pending: that
 * needs the operator's keys. */
#ifndef TROVE_AUTO_UNSEAL_H
#define TROVE_AUTO_UNSEAL_H

#define AUTO_UNSEAL_FIRST_MS 500
#define AUTO_UNSEAL_MAX_MS 10000

struct core;
struct auto_unseal;

/* Starts the thread (c borrowed: stop it before freeing c). NULL when the
 * thread cannot be started. */
struct auto_unseal *auto_unseal_start(struct core *c);
/* Stops and joins it. NULL is fine. */
void auto_unseal_stop(struct auto_unseal *a);

#endif
