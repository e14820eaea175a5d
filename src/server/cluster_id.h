/* cluster_id.h — the HA cluster's identity for request forwarding
 * (docs/ha.md, "Request forwarding"; decision 15): one EC P-256 key and a
 * self-signed certificate, kept in the barrier at CLUSTER_ID_PATH, so
 * every unsealed node of the cluster can read them and nothing else can.
 * Both ends of a cluster connection present exactly that certificate and
 * accept exactly that certificate from the peer (its DER compared byte
 * for byte); names are not used for trust.
 *
 * The active node makes the identity the first time one is needed
 * (cluster_id_ensure, from its become-active hook) and keeps it: later
 * actives read the same one. Every node keeps one copy in memory, read
 * from storage (cluster_id_load, on a worker thread), dropped once the
 * node is found sealed (by cluster_id_get: the core has no seal hook).
 * One core per process: the copy is process-wide.
 * Thread-safe. */
#ifndef TROVE_CLUSTER_ID_H
#define TROVE_CLUSTER_ID_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "buf.h"

struct core;

#define CLUSTER_ID_PATH "core/cluster/local/info"

/* One identity, shared by reference: its fields never change. */
struct cluster_id {
	X509 *cert;
	EVP_PKEY *key;
	unsigned char *der; /* the certificate's DER */
	size_t der_len;
};

/* Reads the identity from storage, or makes and stores it when there is
 * none; the in-memory copy is then that one. Blocks on storage: a worker
 * or the HA lock thread. 0, TROVE_ERR_SEALED, or a storage error. */
int cluster_id_ensure(struct core *c);

/* For ha_register_hooks' became_active (core/ha.h): cluster_id_ensure,
 * logged when it fails (standbys then redirect rather than forward) and
 * then tried again on the mounts' scheduler (core/scheduler.h: only
 * while this node is active; dropped at seal), 250 ms later, then
 * doubling up to 10 s apart, until it succeeds. One such chain at a
 * time. */
void cluster_id_became_active(void *ctx, struct core *c);

/* Reads the identity from storage into memory (replacing the copy). 0,
 * TROVE_ERR_NOT_FOUND when no node made one yet, TROVE_ERR_SEALED, a
 * storage error, or TROVE_ERR_INVALID for a stored value that does not
 * parse. Blocks on storage. */
int cluster_id_load(struct core *c);

/* The in-memory copy, a reference the caller gives back with
 * cluster_id_put; NULL when there is none or the core is sealed (the
 * copy is then dropped). Never blocks: safe on an event loop. */
struct cluster_id *cluster_id_get(struct core *c);
void cluster_id_put(struct cluster_id *id);

/* Whether peer is exactly id's certificate. */
bool cluster_id_matches(const struct cluster_id *id, X509 *peer);

/* The cluster listener's TLS (TLS 1.2 or later): the certificate and
 * key are the in-memory identity at each handshake (none: the handshake
 * fails), and a client must present that same certificate. NULL with
 * err set on failure. The caller frees it (SSL_CTX_free). */
SSL_CTX *cluster_tls_server_ctx(struct core *c, struct buf *err);

/* A standby's TLS towards the active node's cluster listener: id's
 * certificate and key as the client's, and a server accepted only when it
 * presents id's certificate. Holds a reference on id until freed. NULL
 * on failure. */
SSL_CTX *cluster_tls_client_ctx(struct cluster_id *id);

/* Parses a stored value ({"cert": PEM, "key": PEM}). 0 with *out (a
 * reference, cluster_id_put), or TROVE_ERR_INVALID. */
int cluster_id_parse(const unsigned char *v, size_t len, struct cluster_id **out);
/* A new identity (EC P-256, self-signed, CN "trove-cluster", valid for
 * CLUSTER_ID_YEARS) and its stored form into value (a secret buffer). */
#define CLUSTER_ID_YEARS 10
int cluster_id_make(struct cluster_id **out, struct buf *value);

#endif
