/* login_methods.h — the contract between `trove login` (login.c: flags,
 * storing and printing the token) and the methods that live in files of
 * their own. */
#ifndef TROVE_CLI_LOGIN_METHODS_H
#define TROVE_CLI_LOGIN_METHODS_H

#include <jansson.h>

#include "cli/cli.h"

struct login_args {
	int argc; /* positional arguments after the flags */
	char **argv;
	const char *path; /* -path, or NULL for the method's default mount */
};

/* Each method authenticates; on success returns 0 with a response
 * envelope holding an auth block (client_token set) in *out, owned by the
 * caller (free with api_json_free_secret). Otherwise an exit code
 * (CLI_EXIT_LOCAL, CLI_EXIT_REMOTE) after printing why. */

/* `-method=oidc`: the browser flow through a one-shot callback listener
 * (login_oidc.c). */
int login_oidc(struct cli *cli, const struct login_args *a, json_t **out);
/* `-method=jwt`: role=R jwt=TOKEN|@file|- (login_jwt.c). */
int login_jwt(struct cli *cli, const struct login_args *a, json_t **out);

#endif
