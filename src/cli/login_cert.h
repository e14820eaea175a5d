/* login_cert.h — `trove login -method=cert`: log in with the TLS client
 * certificate the CLI presents (VAULT_CLIENT_CERT/VAULT_CLIENT_KEY or
 * -client-cert/-client-key), as Vault's CLI does. */
#ifndef TROVE_CLI_LOGIN_CERT_H
#define TROVE_CLI_LOGIN_CERT_H

#include <jansson.h>

#include "cli/cli.h"

/* argv: the positional arguments (only name=ENTRY, optional); path: the
 * -path flag or NULL ("cert"). Posts auth/<path>/login without any stored
 * token; on success returns 0 with the response envelope in *out. Prints
 * its own errors: CLI_EXIT_LOCAL for bad arguments or no client
 * certificate configured, else the request's exit code. */
int cli_login_cert(struct cli *cli, int argc, char **argv, const char *path, json_t **out);

#endif
