/* path_help.c — `trove path-help PATH`: the help of the route serving
 * PATH, as the server generates it from the route's declarations (GET
 * PATH?help=1): what the path does and its parameters, with their types,
 * defaults, bounds and whether they are required or sensitive. */
#include <stdlib.h>

#include "cli/cli.h"

#include "banned.h"

static const struct cli_command path_help_spec = {
    .name = "path-help",
    .synopsis = "Show the help of a path",
    .args = "[options] PATH",
    .help = "Print the server's help for PATH: the route that serves it, what it does and the "
            "parameters it takes (type, default, bounds, required, sensitive). Any valid token may "
            "read the help of any path; the token needs no capability on it. With -format=json or yaml "
            "the whole answer is printed, including the path's OpenAPI description.\n\n"
            "  $ trove path-help secret/data/app\n"
            "  $ trove path-help auth/token/create\n"
            "  $ trove path-help -format=json sys/mounts/secret",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

int cmd_path_help(int argc, char **argv)
{
	struct cli cli;
	const struct cli_flag flags[] = {CLI_FLAG_END};
	json_t *resp = NULL;
	char *path = NULL;
	bool found;
	int argi, r;

	r = cli_start(&cli, &path_help_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (argc - argi != 1) {
		r = cli_usage_error(&path_help_spec, "Wrong number of arguments (expected 1, got %d)", argc - argi);
		goto out;
	}
	path = cli_trim_slashes(argv[argi]);
	if ((r = cli_request(&cli, "retrieving help", "GET", path, "help=1", NULL, &resp, &found)) != 0)
		goto out;
	const char *text = json_string_value(json_object_get(resp, "help"));
	if (!found || !text) {
		fprintf(stderr, "Error retrieving help: no help for %s (is it a path the server serves?)\n", path);
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	if (cli.format == CLI_FORMAT_TABLE)
		printf("%s", text);
	else
		r = cli_print_data(&cli, resp);
out:
	json_decref(resp);
	free(path);
	cli_release(&cli);
	return r;
}
