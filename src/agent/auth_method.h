/* auth_method.h — auto-auth's login methods: one table maps a method
 * block's type to what checks its config and builds its login request.
 *
 * auth_method_new checks a method block once, when the agent starts: every
 * key of its `config = { }` must be one the type takes, values must parse,
 * required keys must be there; errors name the key's file:line, the method
 * and the key. auth_method_login then builds one login at a time (reading
 * the credentials files again, or the values it cached when a file was
 * removed after reading, as Vault Agent does). Only the auto-auth thread
 * uses a method. */
#ifndef TROVE_AGENT_AUTH_METHOD_H
#define TROVE_AGENT_AUTH_METHOD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "agent/agent_config.h"
#include "api/api.h"
#include "buf.h"

/* One login to make: PUT path with body; or, for token_file
 * (lookup_self), the token itself checked with auth/token/lookup-self. */
struct auth_login {
	char *path;   /* owned, e.g. "auth/approle/login" */
	json_t *body; /* owned; holds credentials (freed with api_json_free_secret) */
	char *token;  /* token_file: owned, wiped when released */
	bool lookup_self;
};

void auth_login_release(struct auth_login *l);

struct auth_method;

/* Checks cfg (borrowed: must outlive the method) and makes its method.
 * Returns 0, or TROVE_ERR_INVALID with err saying "file:line: auto_auth
 * method \"T\": ..." and naming the key. */
int auth_method_new(const struct agent_method_config *cfg, struct auth_method **out, struct buf *err);
void auth_method_free(struct auth_method *m);

const char *auth_method_type(const struct auth_method *m);
const char *auth_method_where(const struct auth_method *m);

/* Builds the next login. c is a client without a token for the calls a
 * method makes first (approle unwraps a wrapped secret ID); the method may
 * set and clears its token. Returns 0, or an error code with err saying
 * why (no secret values). */
int auth_method_login(struct auth_method *m, struct api_client *c, struct auth_login *out, struct buf *err);

/* The TLS settings the login must use (the cert method's client_cert,
 * client_key, ca_cert), written over cfg's (borrowed strings: cfg must
 * not outlive m). Other methods leave cfg alone. */
void auth_method_tls(const struct auth_method *m, struct api_config *cfg);

/* --- for the methods' files (auth_*.c) ------------------------------- */

struct auth_method_ops {
	const char *type;
	const char *const *keys; /* the config keys the type takes; NULL-terminated */
	/* Checks values and required keys (the keys themselves are checked
	 * already) and sets up m->state. 0 or TROVE_ERR_INVALID with err. */
	int (*init)(struct auth_method *m, struct buf *err);
	int (*login)(struct auth_method *m, struct api_client *c, struct auth_login *out, struct buf *err);
	void (*release)(struct auth_method *m);
};

struct auth_method {
	const struct auth_method_ops *ops;
	const struct agent_method_config *cfg;
	char *mount;  /* mount_path, or "auth/<type>"; without a trailing '/' */
	void *state;  /* the type's own */
	/* cert: the TLS files for the login (borrowed from cfg) */
	const char *client_cert, *client_key, *ca_cert;
};

/* The value of key in the method's config, or NULL. */
const char *auth_method_value(const struct auth_method *m, const char *key);
/* key's value, which must be present and not empty. */
int auth_method_required(const struct auth_method *m, const char *key, const char **out, struct buf *err);
/* key's boolean value, def when absent. */
int auth_method_bool(const struct auth_method *m, const char *key, bool def, bool *out, struct buf *err);
/* Appends "file:line: auto_auth method \"T\": key \"K\": why" (the key's
 * line; the block's when key is NULL or absent) and returns
 * TROVE_ERR_INVALID. */
int auth_method_fail(const struct auth_method *m, const char *key, struct buf *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Appends "file:line: auto_auth <block> \"<type>\": key \"<key>\": " to err:
 * where is the block's "file:line" ("auto_auth" when NULL), its line
 * replaced by the key's own when l holds key; no key part when key is
 * NULL. For the method's and the sinks' messages. */
void auth_config_prefix(struct buf *err, const char *where, const struct agent_kv_list *l, const char *block,
                        const char *type, const char *key);
/* "<mount>/login" into a new login with an empty body. */
void auth_login_init(struct auth_login *l, const struct auth_method *m);

/* Reads a credentials file: at most 64 KiB, a regular file, blanks
 * trimmed at both ends, into out (a secret buffer). nofollow: a symlink is
 * refused (O_NOFOLLOW). Returns 0, TROVE_ERR_NOT_FOUND when it does not
 * exist, or another error with err saying why (the path, never the
 * content). */
int auth_read_secret_file(const char *path, bool nofollow, struct buf *out, struct buf *err);

/* Reads the credentials file path into *cache (heap, wiped when replaced)
 * when it holds something, with *fresh set; keeps the cached value when
 * the file is gone, empty or unreadable (logged). Returns 0 when a value is
 * known, else an error with err saying "no <what> known: ...". */
int auth_read_cached(const char *path, const char *what, char **cache, bool *fresh, struct buf *err);

extern const struct auth_method_ops auth_approle_ops;
extern const struct auth_method_ops auth_kubernetes_ops;
extern const struct auth_method_ops auth_jwt_ops;
extern const struct auth_method_ops auth_aws_ops;
extern const struct auth_method_ops auth_cert_ops;
extern const struct auth_method_ops auth_token_file_ops;

#endif
