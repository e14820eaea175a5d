/* pki_health_cmd.c — `trove pki health-check [options] MOUNT`: runs the
 * checks of pki_health_checks.c against a mount through the API client
 * and prints their results, one table per check or one JSON object.
 *
 * The exit code is Vault's, not the usual CLI one: 0 when every result is
 * fine (or below -return-indicator), else the highest status found (2
 * informational, 3 warning, 4 critical, 5 a path the server does not
 * serve, 6 permission denied); 1 for any error, local or remote, as 2 is
 * taken. */
#include <stdlib.h>
#include <string.h>

#include "cli/pki.h"
#include "cli/pki_health.h"

#include "banned.h"

const struct cli_command pki_health_check_spec = {
    .name = "pki health-check",
    .synopsis = "Check a PKI mount against good practice",
    .args = "[options] MOUNT",
    .help = "Reads the PKI mount MOUNT (its issuers, CRLs, roles, tuning, tidy and ACME settings) and "
            "reports each check's findings: ok, informational, warning, critical, not_applicable, "
            "invalid_version (the server does not serve what the check reads) or "
            "insufficient_permissions. Not every recommendation fits every mount; -health-config "
            "tunes or turns off checks.\n\n"
            "Exit codes: 0 all is well; 1 a usage or other error; 2 informational; 3 warning; 4 "
            "critical; 5 a check could not run on this server; 6 a read was refused.\n\n"
            "  $ trove pki health-check pki\n"
            "  $ trove pki health-check -format=json -health-config=root.json pki-root\n"
            "  $ trove pki health-check -list",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

/* ---- reads through the API client ------------------------------------ */

static void api_fetch(void *ctx, const char *method, const char *path, struct pki_hc_answer *out)
{
	struct cli *cli = ctx;
	struct api_client *c = cli_client(cli);
	struct api_response resp;

	memset(out, 0, sizeof(*out));
	if (c == NULL) {
		out->error = xstrdup("no HTTP client");
		return;
	}
	api_response_init(&resp);
	(void)api_request(c, method, path, NULL, NULL, &resp);
	out->status = resp.status;
	out->json = resp.json;
	resp.json = NULL;
	if (resp.error)
		out->error = xstrdup(resp.error);
	api_response_release(&resp);
}

/* The ACME directory at url, with a client of its own: the URL's server
 * may be another node, and (as in Vault's check) its certificate is not
 * verified, since only reachability is in question. */
static int api_acme_directory(void *ctx, const char *url, char **why)
{
	const struct cli *cli = ctx;
	const char *v1 = strstr(url, "/v1/");
	struct api_config cfg;
	struct api_client *c = NULL;
	struct api_response resp;
	char *address;
	int r = -1;

	*why = NULL;
	if (v1 == NULL) {
		*why = xstrdup("the URL has no /v1/ API path");
		return -1;
	}
	api_config_init(&cfg);
	address = xstrndup(url, (size_t)(v1 - url));
	api_config_set(&cfg.address, address);
	cfg.tls_skip_verify = true;
	cfg.max_retries = 0;
	cfg.timeout_ms = cli->api.timeout_ms > 0 ? cli->api.timeout_ms : cfg.timeout_ms;
	api_response_init(&resp);
	if (api_client_new(&cfg, &c, why) != 0)
		goto out;
	if (api_read(c, v1 + 4, &resp) != 0 || !json_is_string(json_object_get(resp.json, "newNonce"))) {
		*why = xstrdup(resp.error ? resp.error : "the answer is not an ACME directory");
		goto out;
	}
	r = 0;
out:
	api_response_release(&resp);
	api_client_free(c);
	api_config_release(&cfg);
	free(address);
	return r;
}

/* Refuses anything but a pki mount, as Vault does before it checks. */
static int check_mount_type(struct cli *cli, const char *mount)
{
	struct api_response resp;
	struct api_client *c = cli_client(cli);
	struct buf p;
	const char *type = NULL;
	int r = -1;

	if (c == NULL)
		return -1;
	if (strncmp(mount, "auth/", 5) == 0) {
		fprintf(stderr, "Error: %s is an auth mount; health-check is for PKI secrets engines only\n",
		        mount);
		return -1;
	}
	api_response_init(&resp);
	buf_init(&p, BUF_CAP_DEFAULT);
	(void)buf_printf(&p, "sys/mounts/%s", mount);
	if (api_read(c, p.data, &resp) == 0)
		type = json_string_value(json_object_get(json_object_get(resp.json, "data"), "type"));
	if (type == NULL) {
		buf_reset(&p);
		(void)buf_printf(&p, "sys/internal/ui/mounts/%s", mount);
		if (api_read(c, p.data, &resp) == 0)
			type = json_string_value(json_object_get(json_object_get(resp.json, "data"), "type"));
	}
	if (type != NULL && strcmp(type, "pki") != 0) {
		fprintf(stderr, "Error: refusing to run the PKI health-check on %s, a mount of type %s\n",
		        mount, type);
		goto out;
	}
	if (type == NULL) {
		buf_reset(&p);
		(void)buf_printf(&p, "%s/cert/ca", mount);
		if (api_read(c, p.data, &resp) != 0 ||
		    !json_is_string(json_object_get(json_object_get(resp.json, "data"), "certificate"))) {
			cli_print_api_error("detecting the PKI mount", &resp);
			goto out;
		}
	}
	r = 0;
out:
	buf_release(&p);
	api_response_release(&resp);
	return r;
}

/* ---- output ----------------------------------------------------------- */

static int print_tables(const json_t *results)
{
	const char *name;
	const json_t *arr, *res;
	size_t i;

	json_object_foreach((json_t *)results, name, arr)
	{
		struct cli_table t;

		printf("%s\n", name);
		for (i = 0; i < strlen(name); i++)
			putchar('-');
		printf("\n");
		cli_table_init(&t, 3);
		cli_table_header(&t, "status", "endpoint", "message");
		json_array_foreach(arr, i, res)
		{
			cli_table_row(&t, json_string_value(json_object_get(res, "status")),
			              json_string_value(json_object_get(res, "endpoint")),
			              json_string_value(json_object_get(res, "message")));
		}
		cli_table_print(&t, stdout);
		cli_table_release(&t);
		printf("\n\n");
	}
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
}

/* The results with their checks in name order, as Vault's JSON has them. */
static json_t *sorted(const json_t *results)
{
	struct strlist names;
	json_t *out = json_object();
	const char *name;
	const json_t *v;
	size_t i;

	strlist_init(&names);
	json_object_foreach((json_t *)results, name, v)
	{
		if (strlist_push(&names, name) != 0)
			abort();
	}
	strlist_sort(&names);
	for (i = 0; i < names.len; i++)
		json_object_set(out, names.items[i], json_object_get(results, names.items[i]));
	strlist_release(&names);
	return out;
}

static int load_external(const char *path, json_t **out)
{
	struct buf text;
	json_error_t je;
	int r;

	*out = NULL;
	buf_init(&text, BUF_CAP_DEFAULT);
	if ((r = cli_read_input(path, &text)) != 0)
		goto out;
	*out = json_loadb(text.data ? text.data : "", text.len, 0, &je);
	if (!json_is_object(*out)) {
		fprintf(stderr, "Error: failed to parse the configuration file %s: %s\n", path,
		        *out ? "not a JSON object" : je.text);
		json_decref(*out);
		*out = NULL;
		r = CLI_EXIT_LOCAL;
	}
out:
	buf_release(&text);
	return r;
}

int pki_cmd_health_check(int argc, char **argv)
{
	struct cli cli;
	const char *config_path = NULL, *indicator = "default";
	bool default_disabled = false, list = false;
	const struct cli_flag flags[] = {
	    {"health-config", NULL, CLI_FLAG_STRING, &config_path, 0, 0, NULL,
	     "A JSON file of check settings laid over the defaults (see -list): {\"<check>\": "
	     "{\"enabled\": false, ...}}."},
	    {"return-indicator", NULL, CLI_FLAG_STRING, &indicator, 0, 0, "default",
	     "Which results make the exit code non-zero: \"permission\" (only checks that could not "
	     "run), \"critical\", \"warning\", \"informational\" or \"default\" (anything not ok)."},
	    {"default-disabled", NULL, CLI_FLAG_BOOL, &default_disabled, 0, 0, "false",
	     "Run only the checks the configuration file enables."},
	    {"list", NULL, CLI_FLAG_BOOL, &list, 0, 0, "false",
	     "Print every check and its default settings instead of running them."},
	    CLI_FLAG_END,
	};
	struct pki_hc hc = {0};
	json_t *external = NULL, *config = NULL, *results = NULL, *view = NULL;
	char *mount = NULL, *err = NULL, *text = NULL;
	int argi, r;

	r = cli_start(&cli, &pki_health_check_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r == CLI_EXIT_OK ? r : CLI_EXIT_LOCAL;
	r = CLI_EXIT_LOCAL;
	if (!list && argc - argi != 1) {
		(void)cli_usage_error(&pki_health_check_spec,
		                      argc - argi == 0 ? "Not enough arguments (expected mount path, got "
		                                         "nothing)"
		                                       : "Too many arguments (expected only mount path)");
		goto out;
	}
	if (pki_hc_exit_code(NULL, indicator) < 0) {
		(void)cli_usage_error(
		    &pki_health_check_spec,
		    "Invalid -return-indicator=%s: want default, informational, warning, critical "
		    "or permission",
		    indicator);
		goto out;
	}
	if (list) {
		if (cli.format == CLI_FORMAT_YAML) {
			fprintf(stderr, "Error: -list does not support the yaml format\n");
			goto out;
		}
		if (cli.format == CLI_FORMAT_TABLE)
			printf("Default health check config:\n");
		/* Sorted by check and parameter, as Vault's -list prints them. */
		view = pki_hc_default_config();
		text = json_dumps(view, JSON_INDENT(2) | JSON_SORT_KEYS);
		r = text && printf("%s\n", text) > 0 && fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
		free(text);
		goto out;
	}
	if (config_path && *config_path && load_external(config_path, &external) != 0)
		goto out;
	if (pki_hc_build_config(external, !default_disabled, &config, &err) != 0) {
		fprintf(stderr, "Error: failed to build the health check configuration: %s\n", err);
		goto out;
	}
	mount = pki_clean_path(argv[argi]);
	if (check_mount_type(&cli, mount) != 0)
		goto out;
	hc.fetch = api_fetch;
	hc.acme_directory = api_acme_directory;
	hc.ctx = &cli;
	hc.mount = mount;
	hc.have_token = cli.api.token && *cli.api.token;
	hc.now = time(NULL);
	if (pki_hc_execute(&hc, config, &results, &err) != 0) {
		fprintf(stderr, "Error: failed to run the health check: %s\n", err);
		goto out;
	}
	if (cli.format == CLI_FORMAT_TABLE) {
		r = print_tables(results);
	} else {
		view = sorted(results);
		r = cli_print_data(&cli, view);
	}
	if (r == CLI_EXIT_OK)
		r = pki_hc_exit_code(results, indicator);
out:
	pki_hc_release(&hc);
	json_decref(external);
	json_decref(config);
	json_decref(results);
	json_decref(view);
	free(mount);
	free(err);
	cli_release(&cli);
	return r;
}
