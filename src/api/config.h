/* config.h — how an API client is set up: address, token, TLS, namespace,
 * wrapping, retries and timeout.
 *
 * Settings come, in rising precedence, from the defaults below, the
 * environment (api_config_from_env: each VAULT_X, overridden by TROVE_X
 * when that is set and not empty) and whatever the program sets after
 * (command-line flags). The token helper (token_helper.h) is the caller's
 * choice, as with Vault's CLI: the library never reads it on its own.
 *
 * All strings are owned by the config (heap copies; the token is wiped
 * when replaced or released). Reentrant: no globals. */
#ifndef TROVE_API_CONFIG_H
#define TROVE_API_CONFIG_H

#include <stdbool.h>

#define API_DEFAULT_ADDRESS "https://127.0.0.1:8200"
#define API_DEFAULT_TIMEOUT_MS 60000L /* the whole call, retries included */
#define API_DEFAULT_MAX_RETRIES 2     /* three tries in all, as Vault's client */
#define API_RETRY_WAIT_MIN_MS 1000L   /* first wait; doubled each retry */
#define API_RETRY_WAIT_MAX_MS 30000L  /* no wait is longer */
#define API_MAX_RETRIES_LIMIT 100     /* VAULT_MAX_RETRIES above this is refused */

struct api_transport;

struct api_config {
	char *address;         /* http://host[:port] or https://host[:port] */
	char *token;           /* NULL: send no X-Vault-Token */
	char *ca_cert;         /* PEM bundle file; takes precedence over ca_path */
	char *ca_path;         /* directory of PEM files */
	char *ca_pem;          /* PEM bundle text held in memory (a Secret's
	                        * ca.crt); wins over ca_cert and ca_path */
	char *client_cert;     /* PEM certificate for TLS client auth */
	char *client_key;      /* its unencrypted PEM key */
	char *tls_server_name; /* name sent in SNI and checked in the certificate */
	char *namespace_name;  /* sent as X-Vault-Namespace */
	char *wrap_ttl;        /* sent as X-Vault-Wrap-TTL on every request */
	bool tls_skip_verify;
	int max_retries;        /* retries after the first try; 0 disables */
	bool max_retries_set;   /* max_retries came from the environment */
	long timeout_ms;        /* > 0 */
	long retry_wait_min_ms; /* > 0 */
	long retry_wait_max_ms; /* >= retry_wait_min_ms */
	const char *user_agent; /* static string, borrowed */
	/* Requests travel over Trove's own HTTP/1.1 client
	 * (transport_native.h) instead of libcurl: no libcurl is loaded,
	 * which keeps a long-running program (the agent) small. false by
	 * default: the CLI keeps libcurl (and its proxy support). Ignored
	 * when transport is set. */
	bool native_transport;
	/* How requests travel: NULL for libcurl. Tests pass a fake. Copied by
	 * api_client_new; its ctx must outlive the clients made with it. */
	const struct api_transport *transport;
};

/* Fills cfg with the defaults (address API_DEFAULT_ADDRESS, no token,
 * API_DEFAULT_MAX_RETRIES, API_DEFAULT_TIMEOUT_MS, ...). */
void api_config_init(struct api_config *cfg);
/* Frees every string (the token wiped) and zeroes cfg. NULL is fine. */
void api_config_release(struct api_config *cfg);

/* Replaces the string in *slot (one of cfg's char * members) with a copy
 * of value; NULL or "" clears it. The old value is wiped before it is
 * freed, so this is the way to set the token too. */
void api_config_set(char **slot, const char *value);

/* Reads VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT, VAULT_CAPATH,
 * VAULT_CLIENT_CERT, VAULT_CLIENT_KEY, VAULT_SKIP_VERIFY,
 * VAULT_TLS_SERVER_NAME, VAULT_NAMESPACE, VAULT_WRAP_TTL,
 * VAULT_MAX_RETRIES and VAULT_CLIENT_TIMEOUT, each overridden by its
 * TROVE_* twin (TROVE_ADDR, TROVE_TOKEN, ...) when that is set, into cfg.
 * Unset and empty variables leave cfg alone.
 *
 * Returns 0, or TROVE_ERR_INVALID with *detail (heap, caller frees) naming
 * the value, the variable and why ("\"maybe\" in TROVE_SKIP_VERIFY: want
 * true or false"); then
 * cfg is unchanged. detail may be NULL. */
int api_config_from_env(struct api_config *cfg, char **detail);

/* The value of TROVE_<name>, else of VAULT_<name> ("FORMAT" reads
 * TROVE_FORMAT, then VAULT_FORMAT); NULL when both are unset or empty.
 * Borrowed from the environment. */
const char *api_config_env(const char *name);

#endif
