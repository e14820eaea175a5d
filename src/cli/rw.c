/* rw.c — the generic data-plane commands: read, write, list, delete and
 * patch. Each is one HTTP verb on a path the user names; what it means is
 * up to the engine mounted there. Output goes through secret.c, so these
 * print exactly as kv and token commands do. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#include "banned.h"

#define FIELD_HELP                                                                                           \
	"Print only the field with the given name, with no trailing newline unless the output is a "      \
	"terminal (handy in scripts). Takes precedence over -format."

/* ---- read ------------------------------------------------------------- */

static const struct cli_command read_spec = {
    .name = "read",
    .synopsis = "Read data at a path",
    .args = "[options] PATH",
    .help = "Read data from the server at PATH (an HTTP GET) and print it. What comes back depends on "
            "the secrets engine or system backend at that path: stored secrets, generated "
            "credentials, configuration.\n\n"
            "When nothing exists at PATH the command prints \"No value found at PATH\" and exits "
            "with status 2.\n\n"
            "  $ trove read secret/data/app\n"
            "  $ trove read -field=password cubbyhole/db\n"
            "  $ trove read -format=json sys/mounts/secret/tune",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

int cmd_read(int argc, char **argv)
{
	struct cli cli;
	const char *field = NULL;
	const struct cli_flag flags[] = {
	    {"field", NULL, CLI_FLAG_STRING, &field, 0, 0, NULL, FIELD_HELP},
	    CLI_FLAG_END,
	};
	json_t *resp = NULL;
	char *path = NULL;
	bool found;
	int argi, r;

	r = cli_start(&cli, &read_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (argc - argi != 1) {
		r = cli_usage_error(&read_spec, "Wrong number of arguments (expected 1, got %d)", argc - argi);
		goto out;
	}
	path = cli_trim_slashes(argv[argi]);
	if ((r = cli_request(&cli, "reading", "GET", path, NULL, NULL, &resp, &found)) != 0)
		goto out;
	if (!found || cli_secret_empty(resp)) {
		cli_print_warnings(resp);
		fprintf(stderr, "No value found at %s\n", path);
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	r = cli_print_secret(&cli, resp, field);
out:
	api_json_free_secret(resp);
	free(path);
	cli_release(&cli);
	return r;
}

/* ---- write and patch -------------------------------------------------- */

static const struct cli_command write_spec = {
    .name = "write",
    .synopsis = "Write data to a path",
    .args = "[options] PATH [DATA K=V...]",
    .help = "Write data to the server at PATH (an HTTP PUT). The engine mounted at PATH decides what "
            "the data means: a secret to store, configuration, a request for credentials.\n\n"
            "Data is given as key=value arguments. A value starting with \"@\" is read from the named "
            "file (key=@file), and a value of \"-\" from stdin (key=-). A key given more than once "
            "is sent as a list. An argument \"-\" alone reads a JSON object with all the request's "
            "fields from stdin; \"@file.json\" reads one from a file.\n\n"
            "  $ trove write cubbyhole/git user=ci password=@pw.txt\n"
            "  $ trove write auth/token/create policies=a policies=b ttl=1h\n"
            "  $ echo '{\"max_versions\": 5}' | trove write secret/config -\n"
            "  $ trove write -force sys/rotate",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static const struct cli_command patch_spec = {
    .name = "patch",
    .synopsis = "Update some fields of the data at a path",
    .args = "[options] PATH [DATA K=V...]",
    .help = "Update data at PATH with an HTTP PATCH carrying a JSON merge patch (RFC 7396): only "
            "the fields given change; a field set to null in a JSON document is removed. The "
            "engine at PATH must support patching.\n\n"
            "Data is given as for 'trove write': key=value, key=@file, key=-, or a JSON object from "
            "\"-\" (stdin) or \"@file.json\".\n\n"
            "  $ trove patch pki/roles/web allow_localhost=false\n"
            "  $ echo '{\"data\": {\"old\": null}}' | trove patch secret/data/app -",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int write_or_patch(const struct cli_command *spec, const char *method, int argc, char **argv)
{
	struct cli cli;
	const char *field = NULL;
	bool force = false;
	const struct cli_flag flags[] = {
	    {"field", NULL, CLI_FLAG_STRING, &field, 0, 0, NULL, FIELD_HELP},
	    {"force", "f", CLI_FLAG_BOOL, &force, 0, 0, NULL,
	     "Send the request even with no key=value data, for paths that need none."},
	    CLI_FLAG_END,
	};
	json_t *body = NULL, *resp = NULL;
	char *path = NULL;
	bool found = true;
	int argi, r;

	r = cli_start(&cli, spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (argc - argi < 1) {
		r = cli_usage_error(spec, "Not enough arguments (expected at least 1, got 0)");
		goto out;
	}
	if (argc - argi == 1 && !force) {
		r = cli_usage_error(spec, "No data to send: give key=value arguments, or -force to send none");
		goto out;
	}
	path = cli_trim_slashes(argv[argi]);
	if ((r = cli_parse_kv_args(argc - argi - 1, argv + argi + 1, &body)) != 0)
		goto out;
	r = cli_request(&cli, strcmp(method, "PATCH") == 0 ? "patching" : "writing", method, path, NULL, body,
	                &resp, strcmp(method, "PATCH") == 0 ? &found : NULL);
	if (r != 0)
		goto out;
	if (!found) {
		fprintf(stderr, "No value found at %s\n", path);
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	if (cli_secret_empty(resp))
		r = cli_print_data_done(resp, path, false);
	else
		r = cli_print_secret(&cli, resp, field);
out:
	api_json_free_secret(body);
	api_json_free_secret(resp);
	free(path);
	cli_release(&cli);
	return r;
}

int cmd_write(int argc, char **argv)
{
	return write_or_patch(&write_spec, "PUT", argc, argv);
}

int cmd_patch(int argc, char **argv)
{
	return write_or_patch(&patch_spec, "PATCH", argc, argv);
}

/* ---- list ------------------------------------------------------------- */

static const struct cli_command list_spec = {
    .name = "list",
    .synopsis = "List the keys under a path",
    .args = "[options] PATH",
    .help = "List the keys under PATH (an HTTP LIST). Keys ending in \"/\" are folders. Listing "
            "shows names only and is not filtered by policy, so keep secrets out of key names.\n\n"
            "When nothing is listed the command prints \"No value found at PATH\" and exits with "
            "status 2.\n\n"
            "  $ trove list secret/metadata/\n"
            "  $ trove list -format=json sys/policies/acl",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

int cmd_list(int argc, char **argv)
{
	struct cli cli;
	struct buf path;
	char *trimmed = NULL;
	int argi, r;

	buf_init(&path, BUF_CAP_DEFAULT);
	r = cli_start(&cli, &list_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if (argc - argi != 1) {
		r = cli_usage_error(&list_spec, "Wrong number of arguments (expected 1, got %d)", argc - argi);
		goto out;
	}
	trimmed = cli_trim_slashes(argv[argi]);
	(void)buf_printf(&path, "%s/", trimmed);
	r = cli_list(&cli, path.data);
out:
	free(trimmed);
	cli_release(&cli);
done:
	buf_release(&path);
	return r;
}

/* ---- delete ----------------------------------------------------------- */

static const struct cli_command delete_spec = {
    .name = "delete",
    .synopsis = "Delete data at a path",
    .args = "[options] PATH",
    .help = "Delete the data or configuration at PATH (an HTTP DELETE). What deleting means is up "
            "to the engine at PATH: on a kv version 2 mount, deleting secret/data/x soft-deletes "
            "its latest version.\n\n"
            "  $ trove delete cubbyhole/old\n"
            "  $ trove delete transit/keys/retired",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

int cmd_delete(int argc, char **argv)
{
	struct cli cli;
	json_t *resp = NULL;
	char *path = NULL;
	int argi, r;

	r = cli_start(&cli, &delete_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (argc - argi != 1) {
		r = cli_usage_error(&delete_spec, "Wrong number of arguments (expected 1, got %d)", argc - argi);
		goto out;
	}
	path = cli_trim_slashes(argv[argi]);
	if ((r = cli_api(&cli, "deleting", "DELETE", path, NULL, &resp)) != 0)
		goto out;
	r = cli_print_data_done(resp, path, true);
out:
	json_decref(resp);
	free(path);
	cli_release(&cli);
	return r;
}
