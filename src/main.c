/* main.c — the `trove` binary: one table of subcommands.
 *
 * Each entry names a subcommand, says in one line what it does and points
 * at its entry function, which receives argv starting at the subcommand's
 * own name and returns the process exit code. The server runs in this
 * binary but the client commands reach it only over HTTP (src/cli/). */
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "cli/cli.h"
#include "operator/operator.h"
#include "secure.h"
#include "server/migrate.h"
#include "server/server.h"
#include "trove_version.h"

#include "banned.h"

struct command {
	const char *name;
	const char *synopsis;
	int (*run)(int argc, char **argv);
	bool common; /* listed under "Common commands" */
};

static int run_server(int argc, char **argv)
{
	return server_main(argc, argv);
}

/* `operator migrate` opens storage itself, which the client layer
 * cannot: it runs from the server layer; every other operator
 * subcommand is a client command. */
static int run_operator(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "migrate") == 0)
		return server_operator_migrate(argc - 1, argv + 1);
	return cmd_operator(argc, argv);
}

static const struct command commands[] = {
    {"read", "Read data at a path", cmd_read, true},
    {"write", "Write data to a path", cmd_write, true},
    {"delete", "Delete data at a path", cmd_delete, true},
    {"list", "List the keys under a path", cmd_list, true},
    {"login", "Authenticate and store the token", cmd_login, true},
    {"server", "Start a Trove server", run_server, true},
    {"status", "Print the seal and HA status of the server", cmd_status, true},
    {"kv", "Read and write secrets in the key/value engine", cmd_kv, true},
    {"agent", "Run the agent: log in, keep the token alive, render secrets, run the app", agent_main, false},
    {"audit", "Enable and list audit devices; query audit logs", cmd_audit, false},
    {"auth", "Enable, list, tune and disable auth methods", cmd_auth, false},
    {"lease", "Look up, renew and revoke leases", cmd_lease, false},
    {"operator", "Initialize, unseal, seal and rotate keys, migrate storage (operator tasks)", run_operator, false},
    {"patch", "Update some fields of the data at a path", cmd_patch, false},
    {"path-help", "Show the help of a path", cmd_path_help, false},
    {"pki", "Issue intermediate CAs, check which issuer signed what, health-check mounts", cmd_pki, false},
    {"policy", "Write, read, list, delete and format ACL policies", cmd_policy, false},
    {"secrets", "Enable, list, tune, move and disable secrets engines", cmd_secrets, false},
    {"secrets-operator", "Run the Kubernetes operator: sync secrets into Kubernetes Secrets", operator_main, false},
    {"token", "Create, look up, renew and revoke tokens", cmd_token, false},
    {"unwrap", "Unwrap a response-wrapped secret", cmd_unwrap, false},
    {"version", "Print the Trove version", cmd_version, false},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_usage(FILE *f)
{
	size_t i;
	int pass;

	fprintf(f, "Usage: trove <command> [options] [args]\n\n");
	cli_wrap(f,
	         "Trove keeps secrets, hands out short-lived credentials and speaks the HashiCorp Vault "
	         "HTTP API. The client commands below talk to a Trove (or Vault) server at TROVE_ADDR "
	         "(or VAULT_ADDR), " CLI_DEFAULT_ADDRESS " by default.",
	         2, 79);
	for (pass = 0; pass < 2; pass++) {
		fprintf(f, "\n%s:\n", pass == 0 ? "Common commands" : "Other commands");
		for (i = 0; i < N_COMMANDS; i++)
			if (commands[i].common == (pass == 0))
				fprintf(f, "    %-12s %s\n", commands[i].name, commands[i].synopsis);
	}
	fprintf(f, "\nRun 'trove <command> -h' for the options of a command.\n");
}

static bool is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0 || strcmp(a, "--help") == 0;
}

static bool is_version(const char *a)
{
	return strcmp(a, "-v") == 0 || strcmp(a, "-version") == 0 || strcmp(a, "--version") == 0;
}

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static const struct cli_command version_spec = {
    .name = "version",
    .synopsis = "Print the Trove version",
    .args = "",
    .help = "Print the version of this trove binary. The server's version is in 'trove status'.",
    .opts = 0,
};

int cmd_version(int argc, char **argv)
{
	struct cli cli;
	int argi, r;

	r = cli_start(&cli, &version_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	cli_release(&cli);
	if (argi < argc)
		return cli_usage_error(&version_spec, "Too many arguments (expected 0, got %d)", argc - argi);
	printf("Trove v%s\n", TROVE_VERSION);
	return CLI_EXIT_OK;
}

/* `trove help [command...]`: the help of a command is its -h output. */
static int run_help(int argc, char **argv)
{
	const struct command *cmd;
	char *args[8];
	int i, n = 0;

	if (argc < 2) {
		print_usage(stdout);
		return CLI_EXIT_OK;
	}
	if ((cmd = find_command(argv[1])) == NULL) {
		fprintf(stderr, "trove: unknown command \"%s\". Run 'trove -h' for the list of commands.\n",
		        argv[1]);
		return CLI_EXIT_LOCAL;
	}
	for (i = 1; i < argc && n < 6; i++)
		args[n++] = argv[i];
	args[n++] = (char *)"-h";
	args[n] = NULL;
	return cmd->run(n, args);
}

int main(int argc, char **argv)
{
	const struct command *cmd;

	secure_install_json_allocator();
	if (argc < 2) {
		print_usage(stderr);
		return CLI_EXIT_LOCAL;
	}
	if (is_help(argv[1])) {
		print_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (is_version(argv[1]))
		return cmd_version(1, argv + 1);
	if (strcmp(argv[1], "help") == 0)
		return run_help(argc - 1, argv + 1);
	if ((cmd = find_command(argv[1])) == NULL) {
		fprintf(stderr, "trove: unknown command \"%s\". Run 'trove -h' for the list of commands.\n",
		        argv[1]);
		return CLI_EXIT_LOCAL;
	}
	return cmd->run(argc - 1, argv + 1);
}
