/* core_impl.h — the members of struct core, private to core.c (the
 * aggregate: building it, freeing it, its accessors) and seal.c (the seal
 * state machine). Everything else goes through core.h. */
#ifndef TROVE_CORE_IMPL_H
#define TROVE_CORE_IMPL_H

#include <pthread.h>
#include <stdbool.h>

#include "core.h"
#include "mount.h"
#include "shares.h"

struct seal_config {
	unsigned shares;
	unsigned threshold;
	/* An auto seal (type "pkcs11"): shares/threshold are 1/1 (the key is
	 * stored, wrapped by the seal) and the recovery key's are these. */
	bool autoseal;
	unsigned recovery_shares;
	unsigned recovery_threshold;
};

struct core {
	pthread_mutex_t lock;
	struct storage *physical;
	struct barrier *barrier;
	struct token_store *tokens;
	struct policy_store *policies;
	struct mount_table *mounts;
	struct audit_broker *audit;
	struct expiration *expiration;
	struct rollback_guard *guard; /* NULL when not configured */
	struct ha *ha;                /* the node's HA role (ha.h) */
	struct core_config cfg;
	char *storage_type;
	char *cluster_name;
	char cluster_id[37];

	/* The seal config changes only at init and when a rekey completes
	 * (both under the lock, which update this copy), so it is read from
	 * storage once and then served from here: sys/health and
	 * seal-status are hot paths for load balancers. */
	struct seal_config cached;
	bool cached_valid;

	/* Unsealed at least once since the start: an auto seal then leaves a
	 * node sealed by hand sealed (core_auto_unseal). */
	bool unsealed_once;

	/* unseal progress */
	struct share_set progress;
	char nonce[37];

	/* Rekey and root-token generation: their own state and locks,
	 * never taken while holding this one. */
	struct rekey *rekey;
	struct generate_root *genroot;

	/* sys/, served while sealed (core_sys_mount): built from the
	 * registry's "system" engine, never freed (refs never reach 0). */
	struct mount sys_mount;
	/* The cubbyhole's wrap store (core_set_wrap_store); NULL until it
	 * registers. */
	const struct wrap_store *_Atomic wrap_store;
};

/* For ha.c, on the lock thread (seal.c). core_ha_activate: the node
 * took the HA lock: reload what lives behind the barrier (another node
 * wrote meanwhile) and start the expiration manager; 0, or an error
 * (TROVE_ERR_SEALED) and the node must not act as active.
 * core_ha_deactivate: it lost the lock: stop the expiration manager. */
int core_ha_activate(struct core *c);
void core_ha_deactivate(struct core *c);

#endif
