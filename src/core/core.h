/* core.h — the server core: initialisation, the seal, and what lives
 * behind it.
 *
 * Key hierarchy (see docs/architecture.md):
 *   unseal key (32 random bytes, split into Shamir shares, never stored)
 *     -> protects the root key, stored at CORE_ROOT_KEY_PATH in physical
 *        storage as a barrier record (term 0, AAD = the path)
 *   root key -> protects the barrier keyring (barrier.h)
 *   keyring  -> encrypts every other stored value
 * The seal configuration (shares, threshold) is stored unencrypted at
 * CORE_SEAL_CONFIG_PATH: it is needed before anything can be decrypted and
 * holds nothing secret.
 *
 * All functions are thread-safe. */
#ifndef TROVE_CORE_H
#define TROVE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "storage/storage.h"

#define CORE_SEAL_CONFIG_PATH "core/seal-config"
#define CORE_ROOT_KEY_PATH "core/root-key"
#define CORE_UNSEAL_KEY_LEN 32
/* With an auto seal: the recovery key (CORE_UNSEAL_KEY_LEN bytes, split
 * into recovery shares), stored as a barrier record under the root key
 * (term 0, AAD = the path). core/root-key then holds the root key wrapped
 * by the seal. */
#define CORE_RECOVERY_KEY_PATH "core/recovery-key"

struct core;
struct barrier;
struct mount_table;
struct policy_store;
struct audit_broker;
struct token_store;
struct expiration;
struct rekey;
struct generate_root;
struct engine_registry;
struct audit_device_types;
struct mount;
struct wrap_store;
struct seal_wrap;

struct core_config {
	const char *storage_type;  /* "inmem", "lmdb": reported by seal-status */
	const char *cluster_name;  /* NULL: generated at first unseal */
	int64_t default_lease_ttl; /* seconds */
	int64_t max_lease_ttl;
	bool expiration_manual; /* no expiration threads: the owner calls
	                         * expiration_tick (tests) */
	const char *rollback_guard_file; /* NULL: no rollback guard
	                                  * (core/rollback_guard.h) */
	/* What the layers above the core provide, given at start-up and
	 * borrowed for the core's lifetime (the core includes none of them):
	 * which engine serves a mount type (core/engine.h; NULL: none, so
	 * no mount can be loaded), and the audit device types
	 * (core/audit_device.h; NULL: no audit device can be enabled). */
	const struct engine_registry *engines;
	const struct audit_device_types *audit_devices;
	unsigned lease_revocation_workers; /* 0: EXPIRATION_DEFAULT_WORKERS */
	int64_t lease_revocation_timeout_ms; /* per engine lease_revoke call;
	                                      * 0: the default (expiration.h) */
	/* The auto-unseal seal (core/seal_wrap.h), borrowed for the core's
	 * lifetime; NULL: Shamir. seal_disabled: the config marks it
	 * disabled, asking to migrate from it back to Shamir. */
	const struct seal_wrap *seal;
	bool seal_disabled;
};

struct core_init_result {
	unsigned char **keys; /* nkeys shares of key_len bytes each */
	size_t nkeys;
	size_t key_len;
	char *root_token;
};

struct seal_status {
	bool initialized;
	bool sealed;
	unsigned threshold; /* t */
	unsigned shares;    /* n */
	unsigned progress;
	char nonce[37];     /* "" when no unseal attempt is in progress */
	char cluster_name[128];
	char cluster_id[37];
	const char *storage_type;
	const char *type;   /* "shamir", or the auto seal's ("pkcs11") */
	bool recovery_seal; /* storage is sealed by an auto seal: t/n are
	                     * the recovery key's */
	bool migration;     /* a seal migration waits for unseal -migrate */
};

/* Creates a sealed core over `physical` (borrowed). Copies cfg's strings. */
struct core *core_new(struct storage *physical, const struct core_config *cfg);
/* Seals and frees. NULL is fine. */
void core_free(struct core *c);

int core_initialized(struct core *c, bool *out);

/* Initialises: generates the unseal key, the root key and the keyring,
 * splits the unseal key, and creates the root token (id root_token_id, or
 * random when NULL). Leaves the core sealed. On error, err names the
 * problem. TROVE_ERR_INVALID for bad shares/threshold, TROVE_ERR_CONFLICT
 * ("Vault is already initialized") when already done. */
int core_initialize(struct core *c, unsigned shares, unsigned threshold, const char *root_token_id,
		    struct core_init_result *out, struct buf *err);
/* Wipes and frees the result's contents. */
void core_init_result_release(struct core_init_result *r);

/* Whether the core was given an enabled auto seal (init then takes
 * recovery shares). */
bool core_has_autoseal(struct core *c);

/* Initialises with the auto seal: the root key is wrapped by the seal and
 * stored; a random recovery key is split into `shares` recovery shares
 * (out->keys) with `threshold`; the core is then unsealed. Errors as
 * core_initialize, and TROVE_ERR_INVALID when the core has no enabled
 * auto seal, or the seal's error (err says what the device answered). */
int core_initialize_recovery(struct core *c, unsigned shares, unsigned threshold, const char *root_token_id,
			     struct core_init_result *out, struct buf *err);

/* Unseals with the auto seal (unwrapping the stored root key). 0 when
 * unsealed (or already), TROVE_ERR_UNINITIALIZED before init,
 * TROVE_ERR_INVALID when storage is not sealed by the configured auto
 * seal or a migration is pending, or when the core was unsealed since
 * the start and sealed by an operator (it then stays sealed, as Vault's),
 * or the seal's error (err says it: TROVE_ERR_UNAVAILABLE is worth
 * retrying). */
int core_auto_unseal(struct core *c, struct buf *err);

/* Checks a seal configuration as init and rekey take it: 1 <= shares <=
 * 255, 1 <= threshold <= shares, and threshold > 1 when shares > 1.
 * Returns 0, or TROVE_ERR_INVALID with the field and the reason appended
 * to err (which may be NULL). */
int core_seal_config_check(int64_t shares, int64_t threshold, struct buf *err);

/* For operations that need the server initialised and unsealed (rekey,
 * root generation): the current key threshold (the recovery key's under
 * an auto seal: rekey and root generation then take recovery shares, and
 * the two calls below check and replace the recovery key), or
 * TROVE_ERR_UNINITIALIZED / TROVE_ERR_SEALED with err saying which. */
int core_key_threshold(struct core *c, unsigned *threshold, struct buf *err);
/* Whether storage is sealed by an auto seal (its keys are recovery keys). */
bool core_recovery_seal(struct core *c);

/* Whether key (CORE_UNSEAL_KEY_LEN bytes) is the current unseal key, i.e.
 * opens the stored root key record: 0 when it is, TROVE_ERR_INVALID when
 * it is not, another code when storage fails. Works sealed or not. */
int core_check_unseal_key(struct core *c, const unsigned char *key);

/* Rekey's commit: opens the root key record with old_key, encrypts the
 * root key under new_key (both CORE_UNSEAL_KEY_LEN bytes) and writes that
 * record and the new seal configuration (shares, threshold) in one storage
 * transaction, so a crash leaves either the old key or the new one valid.
 * Only while unsealed (TROVE_ERR_SEALED otherwise); TROVE_ERR_INVALID when
 * old_key does not open the record or the configuration is invalid. The
 * root key and the keyring are unchanged. */
int core_replace_unseal_key(struct core *c, const unsigned char *old_key, const unsigned char *new_key,
			    unsigned shares, unsigned threshold);

int core_seal_status(struct core *c, struct seal_status *out);

/* Submits one key share (raw bytes). When the threshold is reached the
 * shares are combined and the root key is opened; on success the core is
 * unsealed. Returns 0 when the share was accepted (check out->sealed and
 * out->progress), TROVE_ERR_INVALID with err filled for a share of the wrong
 * length, a duplicate share, or a set of shares that does not open the
 * root key (the progress is then reset; which share was wrong is not
 * known and not said). Submitting while unsealed is a no-op. */
int core_unseal(struct core *c, const unsigned char *key, size_t len, struct seal_status *out, struct buf *err);
/* As core_unseal, for a pending seal migration (Vault's unseal -migrate):
 * Shamir -> auto takes the unseal key shares, which become the recovery
 * shares; auto -> Shamir (the seal marked disabled) takes the recovery
 * shares, which become the unseal key shares. When the threshold is
 * reached the root key is rewrapped, the new records are written in one
 * storage transaction and the core unseals. core_unseal refuses while a
 * migration is pending, and this refuses when none is (TROVE_ERR_INVALID,
 * err says which). With an auto seal, core_unseal takes recovery shares
 * (a sealed node unseals by them through its seal, as Vault's). */
int core_unseal_migrate(struct core *c, const unsigned char *key, size_t len, struct seal_status *out,
			struct buf *err);
/* Discards the shares submitted so far. TROVE_ERR_INVALID when unsealed. */
int core_unseal_reset(struct core *c);
/* Seals: wipes keys, drops caches. Idempotent. */
int core_seal(struct core *c);
bool core_sealed(struct core *c);

/* The encrypted logical storage (valid while unsealed; TROVE_ERR_SEALED
 * otherwise). Owned by the core. */
struct storage *core_storage(struct core *c);
struct barrier *core_barrier(struct core *c);
struct token_store *core_tokens(struct core *c);
struct mount_table *core_mounts(struct core *c);
struct policy_store *core_policies(struct core *c);
struct audit_broker *core_audit(struct core *c);
struct expiration *core_expiration(struct core *c);
/* The rekey and root-generation operations (rekey.h, generate_root.h);
 * owned by the core, reset whenever it seals. */
struct rekey *core_rekey(struct core *c);
struct generate_root *core_generate_root(struct core *c);
const struct core_config *core_config(struct core *c);

/* The mount serving sys/: answered while sealed, when the mount table is
 * not loaded (the table lists sys/ too, for sys/mounts). Owned by the core
 * and never freed before it; NULL when the registry has no "system"
 * engine. */
struct mount *core_sys_mount(struct core *c);

/* Where response wrapping keeps wrapped responses (core/wrapping.h): the
 * cubbyhole engine registers its store when its mount is loaded; s is
 * borrowed and must outlive c. Registering again replaces it. NULL until
 * then. */
void core_set_wrap_store(struct core *c, const struct wrap_store *s);
const struct wrap_store *core_wrap_store(struct core *c);

#endif
