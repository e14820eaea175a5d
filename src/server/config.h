/* config.h — the server configuration (Vault's HCL server config).
 *
 * Every option is declared once, in config.c's tables (name, type,
 * default, bounds). Loading reads one or more files or directories (a
 * directory contributes its *.hcl and *.json files in name order); later
 * files override earlier scalar settings, listeners accumulate, and
 * storage may be given once. Any unknown key, wrong type or out-of-range
 * value is an error naming file:line and the key. */
#ifndef TROVE_CONFIG_H
#define TROVE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "hcl.h"
#include "core/audit.h"

#define CONFIG_MAX_LISTENERS 16
#define CONFIG_MAX_AUDITS AUDIT_MAX_CONFIG_DEVICES
/* A listener's default socket_receive_buffer: what one read of a
 * connection can take, so one loop turn stays short while big bodies
 * arrive (docs/performance.md, "Big bodies and the event loop"). */
#define CONFIG_SOCKET_RECEIVE_BUFFER ((uint64_t)256 << 10)

struct listener_config {
	char *address;          /* host:port, default 127.0.0.1:8200 */
	bool tls_disable;
	char *tls_cert_file;
	char *tls_key_file;
	char *tls_min_version;  /* tls12 | tls13 */
	char *tls_client_ca_file;
	bool tls_require_and_verify_client_cert;
	uint64_t max_request_size;      /* bytes */
	int64_t max_request_duration;   /* seconds */
	uint64_t socket_receive_buffer; /* bytes, SO_RCVBUF of its sockets; 0: the kernel's autotuning */
	char *where;                    /* "file:line" of the block, for errors */
};

struct storage_config {
	char *type; /* "inmem" | "lmdb" | "postgresql" */
	char *path;      /* lmdb */
	uint64_t max_size;
	/* postgresql (Vault's keys; docs/ha.md) */
	char *connection_url;
	char *table;
	char *ha_table; /* the HA lock's table (NULL: the default) */
	int64_t max_parallel;
	int64_t max_idle_connections;
	int64_t max_connect_retries; /* -1: not given (the default, 1) */
	bool ha_enabled;             /* HA: needs api_addr and cluster_addr */
	bool skip_create_table;
	char *where;
};

/* `seal "pkcs11" { ... }` (Vault's keys; docs/seal.md). Strings are
 * NULL when not given; the pin is wiped on release. Vault's VAULT_HSM_* /
 * BAO_HSM_* environment variables override the file
 * (config_seal_apply_env). */
struct seal_block_config {
	char *type; /* "pkcs11"; NULL: no seal block (Shamir) */
	bool disabled;
	char *lib, *slot, *token_label, *pin, *key_label, *key_id, *mechanism, *rsa_oaep_hash;
	bool generate_key;
	/* accepted for Vault's configs, with no effect in Trove */
	bool force_rw_session, disable_software_encryption;
	int64_t max_parallel;
	char *where;
};

struct server_config {
	struct listener_config listeners[CONFIG_MAX_LISTENERS];
	size_t nlisteners;
	struct storage_config storage; /* type NULL when not given */
	struct seal_block_config seal;
	char *api_addr;     /* where clients reach this node (HA redirects) */
	char *cluster_addr; /* where other nodes reach it */
	char *cluster_name;
	bool disable_mlock;
	/* Vault's key; Trove's default is true: a standby then redirects
	 * reads as well (docs/ha.md, "Nodes that serve reads") */
	bool disable_performance_standby;
	char *log_level;
	char *log_format;
	int64_t default_lease_ttl;
	int64_t max_lease_ttl;
	bool ui;
	char *pid_file;
	char *rollback_guard_file; /* local record of the newest storage seen */
	/* Most (mount, name) pairs the user lockout tracks; 0: its default
	 * (core/lockout.h). */
	int64_t user_lockout_max_entries;
	/* Leases (docs/leases.md): threads revoking expired leases, and the
	 * longest one engine revocation may take (seconds); 0: the default
	 * (core/expiration.h). */
	int64_t lease_revocation_workers;
	int64_t lease_revocation_timeout;
	/* Audit: devices declared here (audit blocks, the trusted way),
	 * where devices enabled through the API may write, and whether they
	 * may set a prefix. */
	struct audit_config_device audits[CONFIG_MAX_AUDITS];
	size_t naudits;
	struct strlist audit_file_dirs;
	bool allow_audit_log_prefixing;
};

/* Sets every default. */
void config_init(struct server_config *cfg);
void config_release(struct server_config *cfg);

/* Loads one file or directory into cfg (call repeatedly to merge). On
 * error returns TROVE_ERR_INVALID (or an I/O error) with "file:line: ..."
 * in err. */
int config_load_path(struct server_config *cfg, const char *path, struct buf *err);

/* Same, from text (name is used in messages; json selects the JSON form). */
int config_load_text(struct server_config *cfg, const char *name, const char *text, size_t len, bool json,
		     struct buf *err);

/* Checks the merged config as a whole (storage present, at least one
 * listener, TLS files readable when TLS is on, lease TTLs consistent,
 * audit blocks and audit_file_dirs well formed). */
int config_validate(const struct server_config *cfg, struct buf *err);

/* Reads one storage block (`storage "TYPE" { ... }`, or operator
 * migrate's storage_source / storage_destination: `kind` names it in
 * messages) into sc, which must be zeroed or released. 0, or
 * TROVE_ERR_INVALID with "file:line: ..." in err. */
int config_storage_block(struct storage_config *sc, const char *kind, const char *type, const struct hcl_value *body,
                         int line, const char *file, struct buf *err);
/* Frees what sc holds and zeroes it. */
void config_storage_release(struct storage_config *sc);

/* api_addr, else VAULT_API_ADDR; cluster_addr, else VAULT_CLUSTER_ADDR;
 * NULL when neither is set (borrowed). */
const char *config_api_addr(const struct server_config *cfg);
const char *config_cluster_addr(const struct server_config *cfg);

/* Vault's environment overrides for the seal: VAULT_SEAL_TYPE (or
 * BAO_SEAL_TYPE) = "pkcs11" with VAULT_HSM_LIB selects the seal without a
 * block; VAULT_HSM_LIB, _SLOT, _TOKEN_LABEL, _PIN, _KEY_LABEL, _KEY_ID,
 * _MECHANISM, _RSA_OAEP_HASH, _GENERATE_KEY (each also as BAO_HSM_*)
 * override the block.
 * 0, or TROVE_ERR_INVALID with err naming the variable. */
int config_seal_apply_env(struct server_config *cfg, struct buf *err);

/* Adds a listener with defaults (for -dev); returns it or NULL when full. */
struct listener_config *config_add_listener(struct server_config *cfg);

#endif
