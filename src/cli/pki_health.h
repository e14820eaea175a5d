/* pki_health.h — the checks of `trove pki health-check`, apart from the
 * command: they read a PKI mount through a fetch function (the API
 * client in the command, a script in unit tests), judge what they read
 * against Vault's 1.13+ recommendations and return results. Nothing here
 * prints.
 *
 * A check that cannot read what it needs says so in a result, as Vault's
 * do: a path the server does not know ("unsupported path") is
 * invalid_version, a 403 is insufficient_permissions. Any other failed
 * read stops the whole run with an error. */
#ifndef TROVE_CLI_PKI_HEALTH_H
#define TROVE_CLI_PKI_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

/* Result statuses, ordered by severity; the values are Vault's status
 * codes and, from informational up, the command's exit codes. */
enum pki_hc_status {
	PKI_HC_NOT_APPLICABLE = 0,
	PKI_HC_OK = 1,
	PKI_HC_INFORMATIONAL = 2,
	PKI_HC_WARNING = 3,
	PKI_HC_CRITICAL = 4,
	PKI_HC_INVALID_VERSION = 5,
	PKI_HC_INSUFFICIENT_PERMISSIONS = 6,
};

/* "not_applicable", "ok", ... */
const char *pki_hc_status_name(enum pki_hc_status s);

/* One answer of the server. */
struct pki_hc_answer {
	long status;  /* HTTP status; 0 when no answer came */
	json_t *json; /* the body, when JSON; owned */
	char *error;  /* the server's errors joined by "; ", or why no answer came; owned; may be NULL */
};

/* Sends METHOD ("GET" or "LIST") for path (no "/v1/") and fills *out. */
typedef void (*pki_hc_fetch_fn)(void *ctx, const char *method, const char *path, struct pki_hc_answer *out);
/* Fetches the ACME directory at url (an https URL ending in
 * "/acme/directory"). Returns 0 when a directory answered, else -1 with
 * *why (heap) saying what happened. */
typedef int (*pki_hc_url_fn)(void *ctx, const char *url, char **why);

struct pki_hc_cached;

struct pki_hc {
	pki_hc_fetch_fn fetch;
	pki_hc_url_fn acme_directory;
	void *ctx;
	const char *mount; /* the mount, without surrounding slashes (borrowed) */
	bool have_token;   /* for the wording of permission results */
	time_t now;
	/* private: every answer, fetched once per run */
	struct pki_hc_cached *cache;
	size_t ncache;
};

/* Every check's default parameters, {"<check>": {...}} in the order the
 * checks run ("enabled" only where a check is off by default). For -list.
 * Returns a new object. */
json_t *pki_hc_default_config(void);

/* Lays external (the -health-config document: {"<check>": {"param": v}};
 * NULL for none) over the defaults and checks every value. With
 * default_enabled false, checks run only when external enables them.
 * Returns 0 with *config (new; for pki_hc_execute), or -1 with *err (heap)
 * naming the check and parameter. Unknown checks are ignored, unknown
 * parameters refused, as in Vault. */
int pki_hc_build_config(const json_t *external, bool default_enabled, json_t **config, char **err);

/* Runs each enabled check. Returns 0 with *results, a new object
 * {"<check>": [{"status_code", "status", "endpoint", "message"}...]} in
 * run order, or -1 with *err (heap) when a read failed in a way no check
 * can report. */
int pki_hc_execute(struct pki_hc *hc, const json_t *config, json_t **results, char **err);

/* Frees the answers kept by a run. */
void pki_hc_release(struct pki_hc *hc);

/* The exit code for results under -return-indicator (default,
 * informational, warning, critical, permission): the highest status when
 * it reaches the indicator's level, else 0. Returns -1 for an unknown
 * indicator. */
int pki_hc_exit_code(const json_t *results, const char *indicator);

/* ---- shared by pki_health.c and the checks ----------------------------- */

/* One check: its name, default parameters (JSON text) and its run. */
struct pki_hc_check {
	const char *name;
	const char *defaults;
	int (*run)(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);
};
extern const struct pki_hc_check pki_hc_checks[];
extern const size_t pki_hc_nchecks;

/* How a read went (Vault's PathFetch predicates). */
enum pki_hc_read {
	PKI_HC_READ_OK,          /* 2xx with a data object */
	PKI_HC_READ_EMPTY,       /* 2xx without data, a plain 404, or "unable to find" */
	PKI_HC_READ_DENIED,      /* permission denied */
	PKI_HC_READ_UNSUPPORTED, /* the server does not know the path */
};

/* GETs or LISTs "<mount>/<suffix>" (or path as is when suffix starts
 * with "/"), once per run. Returns the kind of answer with *data its data
 * object (borrowed from the run's cache; NULL unless OK), or -1 with *err
 * for any other failure. */
int pki_hc_read(struct pki_hc *hc, const char *method, const char *suffix, const json_t **data, char **err);

/* Appends a result to out; endpoint is printf-formatted and "{{mount}}"
 * in it becomes the mount. */
void pki_hc_add(const struct pki_hc *hc, json_t *out, enum pki_hc_status s, const char *message,
                const char *endpoint_fmt, ...) __attribute__((format(printf, 5, 6)));
/* A parameter already checked by pki_hc_build_config. */
long long pki_hc_cfg_int(const json_t *cfg, const char *name);
long long pki_hc_cfg_ns(const json_t *cfg, const char *name); /* a duration, in nanoseconds */

/* ---- shared by the checks (pki_health_checks.c) ---------------------- */

#define PKI_HC_NS 1000000000LL /* nanoseconds in a second */

/* The message of a check that could not run: the server does not serve a
 * path it reads. */
#define PKI_HC_UNSUPPORTED_MSG                                                                               \
	"The server does not serve this path, so this check could not run (it needs a server with the API "  \
	"of Vault 1.13 or later)."

/* Appends an insufficient_permissions result for endpoint, worded for a
 * token that was refused or for no token; consequence says what the check
 * loses. */
void pki_hc_denied(const struct pki_hc *hc, json_t *out, const char *endpoint, const char *consequence);
/* A duration in nanoseconds as days, hours, minutes, seconds ("180d",
 * "1d12h", "200ms") into out. */
void pki_hc_format_ns(long long ns, char *out, size_t size);
/* Self-issued and self-signed. */
bool pki_hc_is_root(X509 *c);
/* o[k] is JSON true. */
bool pki_hc_bool(const json_t *o, const char *k);
/* The JSON list holds the string s (nocase: ASCII case ignored). */
bool pki_hc_list_has(const json_t *list, const char *s, bool nocase);
/* LISTs the mount's issuers: 0 with *keys (borrowed; NULL when the read
 * gave nothing), *unsupported set when the server does not serve the
 * path; -1 with *err on a failed read, or when the mount has none and
 * none_ok is false (Vault stops the run then). */
int pki_hc_issuer_ids(struct pki_hc *hc, const json_t **keys, bool *unsupported, bool none_ok, char **err);
/* An issuer's certificate (issuer/<id>/json): 0 with *cert (the caller
 * frees it; NULL when it could not be read, *unsupported set when the
 * path is not served), -1 with *err when the read failed or the
 * certificate does not parse. */
int pki_hc_issuer_cert(struct pki_hc *hc, const char *id, X509 **cert, bool *unsupported, char **err);

/* The checks, in the order they run (pki_hc_checks[]). */
int pki_hc_ca_validity_period(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);
int pki_hc_crl_validity_period(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);
int pki_hc_root_issued_leaves(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);
int pki_hc_role_allows_localhost(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);
int pki_hc_role_allows_glob_wildcards(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);
int pki_hc_role_no_store_false(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);
int pki_hc_audit_visibility(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);
int pki_hc_allow_if_modified_since(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);
int pki_hc_enable_auto_tidy(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);
int pki_hc_tidy_last_run(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);
int pki_hc_too_many_certs(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);
int pki_hc_enable_acme_issuance(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);
int pki_hc_allow_acme_headers(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err);

#endif
