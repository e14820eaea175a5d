/* dispatch.c — command groups ("kv", "token", "operator"): running the
 * subcommand named on the command line, or the group's help. */
#include <string.h>

#include "cli/cli.h"
#include "cli/runtime.h"

#include "banned.h"

static void group_help(FILE *f, const struct cli_group *g)
{
	size_t i, w = 0, skip = strlen(g->name) + 1;

	fprintf(f, "Usage: trove %s <subcommand> [options] [args]\n\n", g->name);
	cli_wrap(f, g->help, 2, CLI_HELP_WIDTH);
	fprintf(f, "\nSubcommands:\n");
	for (i = 0; i < g->ncmds; i++)
		if (strlen(g->cmds[i].spec->name + skip) > w)
			w = strlen(g->cmds[i].spec->name + skip);
	for (i = 0; i < g->ncmds; i++)
		fprintf(f, "    %-*s    %s\n", (int)w, g->cmds[i].spec->name + skip, g->cmds[i].spec->synopsis);
	fprintf(f, "\nRun 'trove %s <subcommand> -h' for the options of each.\n", g->name);
}

int cli_dispatch(const struct cli_group *g, int argc, char **argv)
{
	size_t i, skip = strlen(g->name) + 1;

	if (argc < 2) {
		group_help(stderr, g);
		return CLI_EXIT_LOCAL;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "-help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		group_help(stdout, g);
		return CLI_EXIT_OK;
	}
	for (i = 0; i < g->ncmds; i++)
		if (strcmp(argv[1], g->cmds[i].spec->name + skip) == 0)
			return g->cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "Unknown subcommand \"%s %s\".\n\n", g->name, argv[1]);
	group_help(stderr, g);
	return CLI_EXIT_LOCAL;
}

