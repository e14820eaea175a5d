/* audit.c — `trove audit ...`: audit devices on the server, as Vault's
 * `vault audit enable|disable|list` manage them through sys/audit, and the
 * group's dispatch, which also reaches `audit query` and `audit consumers`
 * (audit_query_cmd.c: questions answered from the log files themselves). */
#include <stdlib.h>
#include <string.h>

#include "cli/audit_query_cmd.h"
#include "cli/cli.h"

#include "banned.h"

/* "p" -> "p/" for messages; the API path (without slashes) into api. */
static char *device_path(const char *path, struct buf *api)
{
	char *trimmed = cli_trim_slashes(path);
	struct buf shown;
	char *out;

	(void)buf_printf(api, "sys/audit/%s", trimmed);
	buf_init(&shown, BUF_CAP_DEFAULT);
	(void)buf_printf(&shown, "%s/", trimmed);
	out = buf_take(&shown);
	buf_release(&shown);
	free(trimmed);
	return out;
}

/* ---- enable ----------------------------------------------------------- */

static const struct cli_command enable_spec = {
    .name = "audit enable",
    .synopsis = "Enable an audit device",
    .args = "[options] TYPE [KEY=VALUE ...]",
    .help = "Enable an audit device of TYPE (file, socket or syslog) at a path, by default the "
            "TYPE's name. The KEY=VALUE pairs are the device's options, such as file_path for a file "
            "device; \"KEY=@file\" reads a value from a file. Once a device is enabled, the server "
            "refuses requests it cannot log.\n\n"
            "  $ trove audit enable file file_path=/var/log/trove/audit.log\n"
            "  $ trove audit enable -path=remote socket address=10.0.0.5:9090 socket_type=tcp",
    .opts = CLI_OPT_HTTP,
};

/* The options object from KEY=VALUE arguments; each value a string. */
static int device_options(int argc, char **argv, json_t **out)
{
	const char *k;
	json_t *v;
	int r = cli_parse_kv_args(argc, argv, out);

	if (r != 0)
		return r;
	json_object_foreach(*out, k, v)
	{
		if (!json_is_string(v)) {
			r = cli_usage_error(&enable_spec,
			                    "Invalid option \"%s\": give each option once, as KEY=VALUE", k);
			json_decref(*out); /* after the message: k lives in *out */
			*out = NULL;
			return r;
		}
	}
	return 0;
}

static int audit_enable(int argc, char **argv)
{
	struct cli cli;
	const char *path = NULL, *description = NULL, *type;
	bool local = false;
	const struct cli_flag flags[] = {
	    {"description", NULL, CLI_FLAG_STRING, &description, 0, 0, NULL,
	     "A human-friendly description of the audit device."},
	    {"local", NULL, CLI_FLAG_BOOL, &local, 0, 0, NULL,
	     "Mark the device as local to this cluster (not replicated)."},
	    {"path", NULL, CLI_FLAG_STRING, &path, 0, 0, "the TYPE",
	     "Where to enable the device, unique among audit devices."},
	    CLI_FLAG_END,
	};
	json_t *body = NULL, *options = NULL;
	char *shown = NULL;
	struct buf api;
	int argi, r;

	buf_init(&api, BUF_CAP_DEFAULT);
	r = cli_start(&cli, &enable_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if (argi >= argc) {
		r = cli_usage_error(&enable_spec, "Not enough arguments (expected at least 1, got 0)");
		goto out;
	}
	type = argv[argi];
	if ((r = device_options(argc - argi - 1, argv + argi + 1, &options)) != 0)
		goto out;
	shown = device_path(path && *path ? path : type, &api);
	body = json_pack("{s:s, s:s, s:b, s:O}", "type", type, "description", description ? description : "",
	                 "local", local, "options", options);
	if ((r = cli_api(&cli, "enabling audit device", "PUT", api.data, body, NULL)) != 0)
		goto out;
	printf("Success! Enabled the %s audit device at: %s\n", type, shown);
	r = CLI_EXIT_OK;
out:
	json_decref(body);
	json_decref(options);
	free(shown);
	cli_release(&cli);
done:
	buf_release(&api);
	return r;
}

/* ---- disable ---------------------------------------------------------- */

static const struct cli_command disable_spec = {
    .name = "audit disable",
    .synopsis = "Disable an audit device",
    .args = "[options] PATH",
    .help = "Disable the audit device at PATH (a path, not a type). Its salt is discarded: hashes in "
            "its logs can no longer be reproduced with sys/audit-hash.\n\n"
            "  $ trove audit disable file/",
    .opts = CLI_OPT_HTTP,
};

static int audit_disable(int argc, char **argv)
{
	struct cli cli;
	char *shown = NULL;
	struct buf api;
	int argi, r;

	buf_init(&api, BUF_CAP_DEFAULT);
	r = cli_start(&cli, &disable_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if ((r = cli_args_exactly(&disable_spec, argc - argi, 1)) != 0)
		goto out;
	shown = device_path(argv[argi], &api);
	if ((r = cli_api(&cli, "disabling audit device", "DELETE", api.data, NULL, NULL)) != 0)
		goto out;
	printf("Success! Disabled audit device (if it was enabled) at: %s\n", shown);
	r = CLI_EXIT_OK;
out:
	free(shown);
	cli_release(&cli);
done:
	buf_release(&api);
	return r;
}

/* ---- list ------------------------------------------------------------- */

static const struct cli_command list_spec = {
    .name = "audit list",
    .synopsis = "List the enabled audit devices",
    .args = "[options]",
    .help = "List the audit devices enabled on the server. Their options may hold sensitive "
            "settings, so this needs sudo on sys/audit. With no device enabled the table format "
            "prints \"No audit devices are enabled.\" and exits with status 2, as Vault does.\n\n"
            "  $ trove audit list\n"
            "  $ trove audit list -detailed",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The devices of a sys/audit answer: {"<path>/": {type, ...}} under
 * "data", or at the top level (older answers), without other keys. */
static json_t *devices_of(const json_t *resp)
{
	const json_t *from = json_object_get(resp, "data");
	json_t *out = json_object(), *v;
	const char *k;

	if (!json_is_object(from))
		from = resp;
	json_object_foreach((json_t *)from, k, v)
	{
		if (json_is_object(v) && json_is_string(json_object_get(v, "type")))
			json_object_set(out, k, v);
	}
	return out;
}

/* "k=v k2=v2", keys sorted, into out. */
static void options_cell(const json_t *options, struct buf *out)
{
	const char **keys = xcalloc(json_object_size(options) + 1, sizeof(*keys));
	const char *k;
	json_t *v;
	size_t i, n = 0;

	json_object_foreach((json_t *)options, k, v)
	{
		keys[n++] = k;
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (i = 0; i < n; i++) {
		(void)buf_printf(out, "%s%s=", i ? " " : "", keys[i]);
		cli_format_value(out, json_object_get(options, keys[i]));
	}
	free(keys);
}

static const char *or_na(const char *s)
{
	return s && *s ? s : "n/a";
}

static void print_devices(const json_t *devices, bool detailed)
{
	const char **paths = xcalloc(json_object_size(devices) + 1, sizeof(*paths));
	struct cli_table t;
	struct buf opts;
	const char *k;
	json_t *d;
	size_t i, n = 0;

	json_object_foreach((json_t *)devices, k, d)
	{
		paths[n++] = k;
	}
	qsort(paths, n, sizeof(*paths), cmp_str);
	buf_init(&opts, BUF_CAP_DEFAULT);
	cli_table_init(&t, detailed ? 5 : 3);
	if (detailed)
		cli_table_header(&t, "Path", "Type", "Description", "Replication", "Options");
	else
		cli_table_header(&t, "Path", "Type", "Description");
	for (i = 0; i < n; i++) {
		const char *type, *desc;

		d = json_object_get(devices, paths[i]);
		type = json_string_value(json_object_get(d, "type"));
		desc = or_na(json_string_value(json_object_get(d, "description")));

		if (!detailed) {
			cli_table_row(&t, paths[i], type, desc);
			continue;
		}
		buf_reset(&opts);
		options_cell(json_object_get(d, "options"), &opts);
		cli_table_row(&t, paths[i], type, desc,
		              json_is_true(json_object_get(d, "local")) ? "local" : "replicated",
		              or_na(opts.data));
	}
	cli_table_print(&t, stdout);
	cli_table_release(&t);
	buf_release(&opts);
	free(paths);
}

static int audit_list(int argc, char **argv)
{
	struct cli cli;
	bool detailed = false;
	const struct cli_flag flags[] = {
	    {"detailed", NULL, CLI_FLAG_BOOL, &detailed, 0, 0, NULL,
	     "Also show each device's replication and options."},
	    CLI_FLAG_END,
	};
	json_t *resp = NULL, *devices = NULL;
	int argi, r;

	r = cli_start(&cli, &list_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if ((r = cli_args_exactly(&list_spec, argc - argi, 0)) != 0)
		goto out;
	if ((r = cli_api(&cli, "listing audit devices", "GET", "sys/audit", NULL, &resp)) != 0)
		goto out;
	devices = devices_of(resp);
	if (cli.format != CLI_FORMAT_TABLE) {
		r = cli_print_data(&cli, devices);
		goto out;
	}
	if (json_object_size(devices) == 0) {
		printf("No audit devices are enabled.\n");
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	print_devices(devices, detailed);
	r = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
out:
	json_decref(resp);
	json_decref(devices);
	cli_release(&cli);
	return r;
}

/* ---- dispatch --------------------------------------------------------- */

static const struct cli_subcommand audit_cmds[] = {
    {&audit_consumers_spec, audit_consumers_run},
    {&disable_spec, audit_disable},
    {&enable_spec, audit_enable},
    {&list_spec, audit_list},
    {&audit_query_spec, audit_query_run},
};

static const struct cli_group audit_group = {
    "audit",
    "Manage audit devices, which log every request and response the server handles (secrets "
    "and tokens masked as HMACs), and answer questions from file audit logs: what happened "
    "(query) and who used a secret (consumers).\n\n"
    "  $ trove audit enable file file_path=/var/log/trove/audit.log\n"
    "  $ trove audit list -detailed\n"
    "  $ trove audit query -denied -since=24h /var/log/trove/audit.log\n"
    "  $ trove audit consumers secret/data/app/db /var/log/trove/audit.log",
    audit_cmds,
    sizeof(audit_cmds) / sizeof(audit_cmds[0]),
};

int cmd_audit(int argc, char **argv)
{
	return cli_dispatch(&audit_group, argc, argv);
}
