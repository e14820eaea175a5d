/* runtime.h — what the CLI runtime's own files share (flags.c, help.c,
 * dispatch.c, settings.c): the flags every client command accepts, and
 * the parser. Commands use cli.h, never this. */
#ifndef TROVE_CLI_RUNTIME_H
#define TROVE_CLI_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"

#define CLI_MAX_FLAGS 64
#define CLI_HELP_WIDTH 79

/* Raw values of the shared flags, before the environment fills gaps. */
struct cli_global_opts {
	const char *address;
	const char *token;
	const char *ca_cert;
	const char *ca_path;
	const char *client_cert;
	const char *client_key;
	const char *namespace_name;
	const char *tls_server_name;
	const char *format;
	const char *wrap_ttl;
	bool skip_verify;
};

/* Index of -tls-skip-verify in the HTTP group: a boolean flag that was
 * given as false must still win over the environment. */
enum { CLI_G_SKIP_VERIFY = 7 };

/* Fills out (CLI_MAX_FLAGS / 2 entries at most) with the shared flags of
 * the groups in opts (CLI_OPT_*), pointing into g. Returns how many;
 * *n_http gets how many of them are the HTTP group (they come first). */
size_t cli_global_flags(struct cli_global_opts *g, unsigned opts, struct cli_flag *out, size_t *n_http);

/* Parses argv against all (n flags: the command's, then the shared ones),
 * marking seen[i] for each flag given. Returns CLI_PROCEED with *argi the
 * first positional argument, CLI_EXIT_OK after printing help for -h, or
 * CLI_EXIT_LOCAL after a usage error. */
int cli_parse_flags(const struct cli_command *spec, const struct cli_flag *cmd_flags, const struct cli_flag *all,
                    size_t n, bool *seen, int argc, char **argv, int *argi);

#endif
