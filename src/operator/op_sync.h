/* op_sync.h — what the reconcilers share among themselves (not the
 * runtime: that is op.h): their state, JSON lookups, status and events.
 *
 * State kept in memory, all under one mutex: the HMAC key, cached Trove
 * tokens and pooled API clients (op_vault.c), and per owner of a
 * destination Secret the MAC of the data the Secret was last seen or
 * written with, so that a Secret event is drift only when its data's MAC
 * differs, and a refresh with unchanged data costs no API server read. */
#ifndef TROVE_OPERATOR_OP_SYNC_H
#define TROVE_OPERATOR_OP_SYNC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "operator/op.h"
#include "operator/op_vault.h"

/* VSO's names. */
#define OP_API_VERSION "secrets.hashicorp.com/v1beta1"
#define OP_HMAC_SECRET "vso-cc-storage-hmac-key"
#define OP_HMAC_KEY_LEN 32
#define OP_MAC_TEXT 48 /* base64 of 32 bytes (44) + NUL, rounded */

struct op_token;  /* op_vault.c */
struct op_pool;   /* op_vault.c */
struct op_record; /* op_sync.c */

#define OP_RECORD_BUCKETS 1024

struct op_sync {
	pthread_mutex_t mu;
	unsigned char hmac_key[OP_HMAC_KEY_LEN];
	size_t hmac_key_len; /* 0 until loaded */
	struct op_token *tokens;
	struct op_pool *pools;
	struct op_record *records[OP_RECORD_BUCKETS];
	/* How requests to Trove travel: NULL for the native transport; unit
	 * tests set a fake (api_config.transport) right after op_sync_new. */
	const struct api_transport *transport;
};

/* Frees every cached token (wiped) and pooled client (op_vault.c). */
void op_vault_free_all(struct op_sync *s);

/* ---- JSON lookups (op_sync_json.c) ----------------------------------- */

/* The member at a dotted path ("spec.destination.name"), or NULL. */
const json_t *op_json_at(const json_t *obj, const char *path);
/* Its string, or NULL when absent or not a string. */
const char *op_json_str(const json_t *obj, const char *path);
/* Its string, or "" . */
const char *op_json_str0(const json_t *obj, const char *path);
/* Its integer (a JSON integer, or a real with an integral value), or dflt. */
json_int_t op_json_int(const json_t *obj, const char *path, json_int_t dflt);
/* Its boolean, or dflt when absent or not a boolean. */
bool op_json_bool(const json_t *obj, const char *path, bool dflt);
/* A Kubernetes duration field ("30s", "1.5h", "2m"; Go durations):
 * milliseconds in *ms (0 when absent). False when present but invalid. */
bool op_json_duration_ms(const json_t *obj, const char *path, long *ms);

/* ---- Records of destination MACs (op_sync.c) ------------------------- */

/* The MAC last seen or written for the destination of (kind, ns, name)
 * into out ("" when unknown). */
void op_record_get(struct op_sync *s, enum op_kind kind, const char *ns, const char *name, char out[OP_MAC_TEXT]);
/* Sets it (mac "" forgets the data but keeps the record). */
void op_record_set(struct op_sync *s, enum op_kind kind, const char *ns, const char *name, const char *mac);
/* Forgets the record. */
void op_record_drop(struct op_sync *s, enum op_kind kind, const char *ns, const char *name);

/* ---- HMAC (op_sync_hmac.c) ------------------------------------------- */

/* Loads the operator's HMAC key from OP_HMAC_SECRET in the operator's
 * namespace, creating it (32 random bytes, immutable) when absent. 0, or
 * an error with f. Cheap once loaded. */
int op_hmac_key_load(struct op *o, struct op_fail *f);
/* out = base64 HMAC-SHA256 of data's canonical form (op_dest_mac) under
 * the loaded key. False when the key is not loaded. */
bool op_hmac_data(struct op_sync *s, const json_t *data, char out[OP_MAC_TEXT]);

/* ---- Status, events, finalizers (op_sync_status.c) ------------------- */

/* A condition as metav1.Condition: type, status "True"/"False", reason,
 * message. */
struct op_cond {
	const char *type;
	bool ok;
	const char *reason;
	const char *message;
};

/* Merge-patches obj's status subresource with fields (an object; stolen)
 * plus conditions (n of them, merged into the current ones by type, a
 * condition's lastTransitionTime kept when its status did not change),
 * only when that changes something. 0, or an error with f
 * ("StatusUpdateError"). */
int op_status_update(struct op *o, enum op_kind kind, const json_t *obj, json_t *fields, const struct op_cond *c,
                     size_t n, struct op_fail *f);

/* Records a core/v1 Event on obj: type "Normal" or "Warning" (warning),
 * reason, message (never a secret value). Best effort: failures are
 * counted, not returned. */
void op_event(struct op *o, enum op_kind kind, const json_t *obj, bool warning, const char *reason,
              const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The finalizer VSO puts on each kind ("vaultdynamicsecret.secrets.hashicorp.com/finalizer"). */
const char *op_finalizer(enum op_kind kind);
/* Whether obj carries it. */
bool op_has_finalizer(const json_t *obj, enum op_kind kind);
/* Adds (add) or removes it by a merge patch carrying the object's
 * resourceVersion (a 409 is an error: the reconcile runs again). */
int op_finalizer_set(struct op *o, enum op_kind kind, const json_t *obj, bool add, struct op_fail *f);

/* ---- The common tail of the three secret kinds (op_sync_dest.c) ------- */

struct op_sync_result {
	bool written;             /* the destination was written */
	bool restarted;           /* rollout restarts were patched */
	char mac[OP_MAC_TEXT];    /* the MAC for status.secretMAC */
};

/* Makes obj's destination hold data: loads the HMAC key, MACs mac_data
 * (NULL: data; VSO leaves rotation metadata out of static credentials'
 * MAC), writes the Secret when force or when its data (as last seen,
 * else as read now) differs (with mac_data: when the Secret is missing or
 * that MAC differs from status.secretMAC), and patches the rollout-restart targets
 * when the MAC differs from status.secretMAC and that was set
 * (op_restart_needed). 0, or an error with f. */
int op_sync_data(struct op *o, enum op_kind kind, const json_t *obj, const json_t *data, const json_t *mac_data,
                 bool force, struct op_sync_result *res, struct op_fail *f);

/* Whether obj's destination still holds the data status.secretMAC
 * names (exists_only: that it exists), from the record of what it was
 * last seen holding, else from a read. False also when that cannot be
 * told. */
bool op_dest_intact(struct op *o, enum op_kind kind, const json_t *obj, bool exists_only);

/* Reports a failed reconcile: a Warning event with f's reason and
 * message, and status (fields, stolen; may be NULL) with the SecretSynced
 * condition false. */
void op_sync_report(struct op *o, enum op_kind kind, const json_t *obj, const struct op_fail *f, json_t *fields);

/* "<mount>/<rest>" with the slashes between them trimmed (heap). */
char *op_vault_path(const char *mount, const char *mid, const char *path);

/* ---- Times and shapes (op_sync_times.c; pure) ------------------------- */

/* Milliseconds from the last renewal to the next for a lease of
 * duration_s seconds at renewal_percent (0: VSO's default 67; capped at
 * 90 as VSO caps it); at least 1000. */
long op_lease_renew_ms(long duration_s, long renewal_percent);
/* ms less up to a tenth of it, the same for the same key (a resource's
 * uid): resources made together do not all come due in the same second. */
long op_spread_ms(long ms, const char *key);
/* Milliseconds from now_s until a certificate expiring at expiration_s
 * is re-issued, offset_s before it; at least 1000. */
long op_pki_renew_ms(long expiration_s, long offset_s, long now_s);
/* VSO's shaping of a PKI answer's data into a destination's data (in
 * place): ca_chain joined by newlines; for a kubernetes.io/tls Secret
 * (tls) also tls.crt (certificate, then the chain or else the issuing
 * CA) and tls.key, and ca.crt when there is no chain. */
void op_pki_shape(json_t *data, const json_t *answer_data, bool tls);

/* ---- The kinds (op_sync_*.c) ------------------------------------------ */

void op_sync_connection(struct op *o, const json_t *obj, struct op_outcome *out);
void op_sync_auth(struct op *o, const json_t *obj, struct op_outcome *out);
void op_sync_static(struct op *o, const json_t *obj, struct op_outcome *out);
void op_sync_dynamic(struct op *o, const json_t *obj, struct op_outcome *out);
void op_sync_pki(struct op *o, const json_t *obj, struct op_outcome *out);

/* How long to wait after a failure that a retry cannot fix soon (a bad
 * spec): a quiet requeue rather than the queue's fast backoff. */
#define OP_REQUEUE_INVALID_MS 60000L

#endif
