/* unwrap.c — `trove unwrap [TOKEN]`: the response a wrapping token holds.
 *
 * As Vault's CLI: with TOKEN, the current token (if any) asks for TOKEN's
 * response (POST sys/wrapping/unwrap {token}); with no current token, or
 * with TOKEN equal to it, or with no TOKEN at all, the wrapping token is
 * itself the client token. The response prints as `trove read` prints. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "secure.h"

#include "banned.h"

static const struct cli_command unwrap_spec = {
    .name = "unwrap",
    .synopsis = "Unwrap a response-wrapped secret",
    .args = "[options] [TOKEN]",
    .help = "Unwrap a wrapped response: print the secret (or token) that a wrapping token holds. A "
            "wrapping token works once: this spends it.\n\n"
            "With no TOKEN the current token (-token, TROVE_TOKEN, ...) is taken to be the wrapping "
            "token. With TOKEN the current token, if any, asks for TOKEN's response.\n\n"
            "  $ trove read -wrap-ttl=5m secret/data/app\n"
            "  $ trove unwrap hvs.CAES...\n"
            "  $ TROVE_TOKEN=hvs.CAES... trove unwrap -field=password",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

int cmd_unwrap(int argc, char **argv)
{
	struct cli cli;
	const char *field = NULL;
	const struct cli_flag flags[] = {
	    {"field", NULL, CLI_FLAG_STRING, &field, 0, 0, NULL,
	     "Print only the field with the given name, with no trailing newline unless the output is a "
	     "terminal. Takes precedence over -format."},
	    CLI_FLAG_END,
	};
	json_t *body = NULL, *resp = NULL;
	char *token = NULL;
	struct api_client *c;
	int argi, r;

	r = cli_start(&cli, &unwrap_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (argc - argi > 1) {
		r = cli_usage_error(&unwrap_spec, "Too many arguments (expected 0 or 1, got %d)",
		                    argc - argi);
		goto out;
	}
	if (argc - argi == 1)
		token = cli_take_secret_arg(argv, argi);
	if ((c = cli_client(&cli)) == NULL) {
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	if (token && *token) {
		if (!api_client_has_token(c) || (cli.api.token && strcmp(cli.api.token, token) == 0))
			api_client_set_token(c, token);
		else
			body = json_pack("{s:s}", "token", token);
	} else if (!api_client_has_token(c)) {
		r = cli_usage_error(&unwrap_spec, "No wrapping token: give TOKEN or set the current token");
		goto out;
	}
	if ((r = cli_api(&cli, "unwrapping", "POST", "sys/wrapping/unwrap", body, &resp)) != 0)
		goto out;
	if (cli_secret_empty(resp)) {
		cli_print_warnings(resp);
		fprintf(stderr, "Successfully unwrapped, but the response held no data.\n");
		r = CLI_EXIT_OK;
		goto out;
	}
	r = cli_print_secret(&cli, resp, field);
out:
	api_json_free_secret(body);
	api_json_free_secret(resp);
	secure_free_str(token);
	cli_release(&cli);
	return r;
}
