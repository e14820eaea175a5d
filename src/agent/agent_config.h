/* agent_config.h — the agent's configuration: Vault Agent's agent.hcl.
 *
 * agent_config_load reads one or more files or directories (a directory
 * contributes its *.hcl and *.json files in name order), HCL or JSON, into
 * one struct agent_config. As in the server's config, any unknown block or
 * key, a wrong type or an out-of-range value is an error naming
 * "file:line" and the key; repeated blocks that Vault allows to repeat
 * (template, env_template, listener, sink) accumulate, and the rest may be
 * given once. Every string is owned by the config; `where` members hold
 * "file:line" of their block, for the errors components report later.
 *
 * What a method's or a sink's `config = { ... }` map may hold depends on
 * its type: the loader keeps it as a list of key/value strings (numbers
 * and booleans written as their text) and the auth method or sink that
 * uses it checks the keys when the agent starts, naming `where`. */
#ifndef TROVE_AGENT_CONFIG_H
#define TROVE_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define AGENT_MAX_SINKS 16
#define AGENT_MAX_TEMPLATES 256
#define AGENT_MAX_LISTENERS 8
#define AGENT_PERMS_UNSET UINT32_MAX

/* One entry of a `config = { key = value }` map. */
struct agent_kv {
	char *key;
	char *value; /* strings as written; true/false; integers in decimal */
	int line;
};

struct agent_kv_list {
	struct agent_kv *items;
	size_t len;
};

/* vault { ... } with its retry { num_retries } block. */
struct agent_vault_config {
	char *address; /* NULL: VAULT_ADDR / TROVE_ADDR, else the API default */
	char *ca_cert;
	char *ca_path;
	char *client_cert;
	char *client_key;
	char *tls_server_name;
	bool tls_skip_verify;
	bool tls_skip_verify_set;
	/* retry { num_retries }: -1 no retries, 0 (or absent) Vault's 12. */
	int64_t num_retries;
};

/* auto_auth { method "<type>" { ... } } */
struct agent_method_config {
	char *type;       /* approle | kubernetes | jwt | aws | cert | token_file */
	char *mount_path; /* default "auth/<type>" */
	char *namespace_name;
	int64_t wrap_ttl;    /* seconds; 0: the login response is not wrapped */
	int64_t min_backoff; /* seconds; default 1 */
	int64_t max_backoff; /* seconds; default 300 */
	bool exit_on_err;    /* an auth failure ends the agent (exit 1) */
	struct agent_kv_list config;
	char *where;
};

/* auto_auth { sink "file" { ... } } */
struct agent_sink_config {
	char *type;       /* file */
	int64_t wrap_ttl; /* seconds; 0: the token is written as is */
	char *dh_type;    /* NULL or "curve25519" */
	char *dh_path;    /* the peer's public key file (JSON {"curve25519public_key": b64}) */
	bool derive_key;
	char *aad;
	char *aad_env_var;
	/* file: path (required), mode (default 0640). A mode written as a
	 * number arrives as the integer HCL read (0600 is "384", as in Vault,
	 * whose sink takes an integer); a string such as "0600" is octal. */
	struct agent_kv_list config;
	char *where;
};

struct agent_auto_auth_config {
	bool present;
	struct agent_method_config method;
	struct agent_sink_config sinks[AGENT_MAX_SINKS];
	size_t nsinks;
	bool enable_reauth_on_new_credentials;
};

/* template { ... }, and env_template "NAME" { ... } (which uses contents,
 * the delimiters and error_on_missing_key only). */
struct agent_template_config {
	char *env_name; /* env_template's label; NULL for a file template */
	char *source;   /* a template file */
	char *contents; /* or the template inline; exactly one of the two */
	char *destination;
	/* The file's mode; AGENT_PERMS_UNSET (the default): the mode of the
	 * file already at the destination, 0644 for a new one. */
	uint32_t perms;
	bool create_dest_dirs; /* default true */
	/* The command run after the file changed: `command = "..."` (run by
	 * /bin/sh -c) or `exec { command = ["argv0", ...], timeout }` (argv,
	 * no shell). ncommand 0: none. */
	char **command;
	size_t ncommand;
	bool command_shell;
	int64_t command_timeout; /* seconds; default 30 */
	bool error_on_missing_key;
	char *left_delimiter;  /* NULL: "{{" */
	char *right_delimiter; /* NULL: "}}" */
	bool backup; /* default true: the replaced file is kept as <destination>.bak */
	int64_t wait_min; /* seconds; 0: none */
	int64_t wait_max;
	char *where;
};

struct agent_template_settings {
	int64_t static_secret_render_interval; /* seconds; default 300 */
	bool exit_on_retry_failure;
	int64_t max_connections_per_host; /* default 10 */
	double lease_renewal_threshold;   /* fraction of a lease; default 0.9 */
};

enum agent_restart { AGENT_RESTART_ALWAYS, AGENT_RESTART_NEVER };

/* exec { ... } */
struct agent_exec_config {
	bool present;
	char **command; /* argv; at least one element */
	size_t ncommand;
	enum agent_restart restart_on_secret_changes; /* default always */
	int restart_stop_signal;                      /* default SIGTERM */
	char *child_process_stdout; /* NULL: the agent's stdout */
	char *child_process_stderr;
	char *where;
};

/* listener "tcp" | "unix" { ... } */
struct agent_listener_config {
	char *type;    /* tcp | unix */
	char *address; /* host:port, or a socket path */
	bool tls_disable;
	char *tls_cert_file;
	char *tls_key_file;
	char *tls_min_version;
	char *tls_client_ca_file;
	bool tls_require_and_verify_client_cert;
	bool require_request_header;
	char *role;         /* default | metrics_only */
	bool enable_quit;   /* agent_api { enable_quit } */
	char *socket_mode;  /* unix: octal text */
	char *socket_user;
	char *socket_group;
	char *where;
};

enum agent_auto_token { AGENT_TOKEN_NO, AGENT_TOKEN_YES, AGENT_TOKEN_FORCE };

/* api_proxy { ... } (and the older cache { use_auto_auth_token }) */
struct agent_proxy_config {
	enum agent_auto_token use_auto_auth_token;
	char *enforce_consistency; /* NULL | always | never */
	char *when_inconsistent;   /* NULL | fail | retry | forward */
};

struct agent_cache_config {
	bool present;
};

struct agent_config {
	struct agent_vault_config vault;
	struct agent_auto_auth_config auto_auth;
	struct agent_template_config templates[AGENT_MAX_TEMPLATES]; /* file and env templates */
	size_t ntemplates;
	struct agent_template_settings template_config;
	struct agent_exec_config exec;
	struct agent_listener_config listeners[AGENT_MAX_LISTENERS];
	size_t nlisteners;
	struct agent_proxy_config api_proxy;
	struct agent_cache_config cache;
	char *pid_file;
	bool exit_after_auth;
	char *log_level;
	char *log_format;
	char *log_file;
	struct strlist disable_idle_connections;
	struct strlist disable_keep_alives;
	/* "file:line" of the blocks given once, for errors */
	char *where_vault;
	char *where_auto_auth;
	char *where_template_config;
	char *where_api_proxy;
	char *where_cache;
};

/* Sets every default. */
void agent_config_init(struct agent_config *cfg);
void agent_config_release(struct agent_config *cfg);

/* Loads one file or directory into cfg (call again to merge more). On
 * error returns TROVE_ERR_INVALID (or an I/O error) with
 * "file:line: ..." naming the key in err. */
int agent_config_load_path(struct agent_config *cfg, const char *path, struct buf *err);
/* Loads text as if read from a file called name (json: the JSON form). */
int agent_config_load_text(struct agent_config *cfg, const char *name, const char *text, size_t len, bool json,
                           struct buf *err);
/* Checks what needs the whole config: a method or a template or a listener
 * is given; a template has a destination (file templates) and exactly one
 * of source/contents; env_template needs exec and exec needs a command;
 * wait min <= max; sinks need auto_auth's method. Returns 0 or
 * TROVE_ERR_INVALID with "file:line: ..." in err. */
int agent_config_validate(const struct agent_config *cfg, struct buf *err);

/* The value of key in l, or NULL. */
const struct agent_kv *agent_kv_find(const struct agent_kv_list *l, const char *key);

#endif
