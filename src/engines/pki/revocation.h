/* revocation.h — what the PKI engine's revocation files share: revoked
 * certificates, the stored CRLs and their numbers, config/crl, the
 * per-mount state (the CRL build lock, the tidy run) and the URLs put in
 * issued certificates. docs/pki-revocation.md says what the routes do.
 *
 * Storage (the mount's view, through the barrier; Vault's names):
 *
 *   revoked/<serial>   a revoked certificate, serial in hyphen form:
 *                      {"certificate" (PEM), "issuer_id",
 *                      "revocation_time" (Unix s), "revocation_time_utc"}
 *   config/crl         the config/crl fields, as last written
 *   crls/config        {"numbers": {issuer id: next CRL number},
 *                      "complete": {issuer id: last full CRL's number},
 *                      "complete_time": {issuer id: when built},
 *                      "delta_dirty": bool}
 *   crls/<issuer id>   the issuer's last full CRL, DER
 *   crls/<issuer id>-delta  its last delta CRL, DER
 *   urls               config/urls
 *   config/cluster     config/cluster (path, aia_path)
 *   config/auto_tidy   config/auto-tidy
 *
 * Every json_t returned is a new reference the caller decrefs. */
#ifndef TROVE_PKI_REVOCATION_H
#define TROVE_PKI_REVOCATION_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "pki.h"

#define PKI_REVOKED_PREFIX "revoked/"
#define PKI_CRL_CONFIG "config/crl"
#define PKI_CRL_STATE "crls/config"
#define PKI_CRL_PREFIX "crls/"
#define PKI_URLS_CONFIG "urls"
#define PKI_CLUSTER_CONFIG "config/cluster"
#define PKI_AUTO_TIDY_CONFIG "config/auto_tidy"

struct mount;

/* Route tables. */
extern const struct route pki_revoke_routes[];      /* revoke.c */
extern const struct route pki_crl_routes[];         /* crl_routes.c */
extern const struct route pki_crl_config_routes[];  /* crl_config.c */
extern const struct route pki_ocsp_routes[];        /* ocsp_routes.c */
extern const struct route pki_config_url_routes[];  /* config_urls.c */
extern const struct route pki_tidy_routes[];        /* tidy.c */

/* --- config/crl (crl_config.c) --- */

struct pki_crl_config {
	int64_t expiry;              /* seconds (72h) */
	bool disable;                /* no entries in CRLs */
	bool ocsp_disable;           /* the responder answers unauthorized */
	int64_t ocsp_expiry;         /* seconds (12h); 0: no nextUpdate */
	bool auto_rebuild;           /* rebuilt by the periodic job only */
	int64_t auto_rebuild_grace;  /* seconds before nextUpdate (12h) */
	bool enable_delta;
	int64_t delta_rebuild_interval; /* seconds (15m) */
};

/* The mount's config/crl, Vault's defaults where never written. */
int pki_crl_config_get(struct storage *s, struct pki_crl_config *out);

/* --- revoked certificates (revoke.c; pki_revoke_cert is in pki.h) --- */

/* certs/<serial>, revoked/<serial>: prefix then the serial (any form
 * x509_serial_canon takes) in hyphen form. 0, or TROVE_ERR_INVALID for a
 * malformed serial. b is initialised either way; release it. */
int pki_serial_key(struct buf *b, const char *prefix, const char *serial);

/* The revocation record of a serial, TROVE_ERR_NOT_FOUND when it is not
 * revoked. */
int pki_revoked_get(struct storage *s, const char *serial, json_t **rec);

/* The id of the mount's issuer that signed c, or "" in id. */
int pki_issuer_of(struct storage *s, X509 *c, char id[PKI_ID_MAX]);

/* --- CRLs (crl_store.c) --- */

/* Rebuilds the full CRL (and an empty delta, when enabled) of every
 * issuer that holds its key and may sign CRLs, or with delta only the
 * delta CRLs. Serialised per mount; numbers strictly increase. */
int pki_crl_rebuild(struct storage *s, struct mount *m, bool delta, struct buf *why);

/* Marks the delta CRLs as needing a rebuild (a revocation under
 * auto_rebuild), for the periodic job. */
int pki_crl_mark_dirty(struct storage *s, struct mount *m);

/* The periodic job's CRL part: a full rebuild when a CRL is within the
 * grace period of its nextUpdate (auto_rebuild), a delta one when
 * revocations wait and delta_rebuild_interval has passed. */
void pki_crl_periodic(struct mount *m, int64_t now);

/* The stored DER CRL of an issuer (delta or full): building it first
 * when none was ever built. *der is the caller's (free()). */
int pki_crl_load(struct storage *s, struct mount *m, const char *issuer_id, bool delta, unsigned char **der,
		 size_t *len);

/* --- per-mount state (revocation_state.c) --- */

struct pki_tidy_status;

struct pki_rev_state {
	pthread_mutex_t crl_lock; /* one CRL build at a time */
	pthread_mutex_t revoke_lock; /* one revocation record written at a time */
	pthread_mutex_t tidy_lock; /* guards tidy */
	struct pki_tidy_status *tidy;
	int64_t last_auto_tidy; /* Unix seconds: the last auto-tidy's end (or the mount's load) */
};

/* m's state, or NULL (m NULL: a test without a mount). */
struct pki_rev_state *pki_rev_state(struct mount *m);
/* Makes / frees the revocation part of a mount's state (pki.c). */
struct pki_rev_state *pki_rev_state_new(void);
void pki_rev_state_free(struct pki_rev_state *st);
/* The engine's periodic job: CRL rebuilds and auto-tidy. */
void pki_rev_periodic(struct mount *m);

/* --- tidy (tidy.c) --- */

void pki_tidy_status_free(struct pki_tidy_status *t);
/* Runs auto-tidy when config/auto-tidy enables it and its interval has
 * passed since the last one. */
void pki_tidy_periodic(struct mount *m, int64_t now);

/* --- URLs in issued certificates (config_urls.c) --- */

struct pki_urls {
	struct strlist issuing_certificates, crl_distribution_points, ocsp_servers;
};
void pki_urls_init(struct pki_urls *u);
void pki_urls_release(struct pki_urls *u);
/* The AIA, CDP and OCSP URLs for certificates the issuer (record) signs:
 * the issuer's own when it sets any, else the mount's config/urls, with
 * {{issuer_id}}, {{cluster_path}} and {{cluster_aia_path}} filled in
 * when templating is enabled. TROVE_ERR_INVALID with why when a template
 * names a config/cluster value that is not set. */
int pki_issuer_urls(struct storage *s, const json_t *issuer, struct pki_urls *out, struct buf *why);

#endif
