/* settings.c — a client command's settings: its flags parsed, then the
 * API client's config from the environment (api_config_from_env) with
 * the HTTP flags over it, and the token helper's token when no flag or
 * variable gave one, as Vault's CLI resolves them. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/token_helper.h"
#include "cli/cli.h"
#include "cli/runtime.h"
#include "err.h"
#include "trove_version.h"

#include "banned.h"

/* A flag given with a non-empty value wins over the environment. */
static void flag_over(char **slot, const char *flag)
{
	if (flag && *flag)
		api_config_set(slot, flag);
}

/* The HTTP settings: defaults, environment, flags, token helper. */
static int resolve_http(struct cli *cli, const struct cli_global_opts *g, bool skip_verify_given)
{
	struct api_config *cfg = &cli->api;
	char *detail = NULL;
	int r;

	api_config_init(cfg);
	cfg->user_agent = "trove-cli/" TROVE_VERSION;
	if (api_config_from_env(cfg, &detail) != 0) {
		r = cli_usage_error(cli->cmd, "Invalid value %s", detail ? detail : "in the environment");
		free(detail);
		api_config_release(cfg);
		return r;
	}
	flag_over(&cfg->address, g->address);
	flag_over(&cfg->token, g->token);
	flag_over(&cfg->ca_cert, g->ca_cert);
	flag_over(&cfg->ca_path, g->ca_path);
	flag_over(&cfg->client_cert, g->client_cert);
	flag_over(&cfg->client_key, g->client_key);
	flag_over(&cfg->namespace_name, g->namespace_name);
	flag_over(&cfg->tls_server_name, g->tls_server_name);
	flag_over(&cfg->wrap_ttl, g->wrap_ttl);
	if (skip_verify_given)
		cfg->tls_skip_verify = g->skip_verify;
	if (cfg->token == NULL)
		cfg->token = api_token_helper_get();
	/* Vault's CLI retries only when VAULT_MAX_RETRIES asks it to. */
	if (!cfg->max_retries_set)
		cfg->max_retries = 0;
	return CLI_PROCEED;
}

int cli_start(struct cli *cli, const struct cli_command *spec, const struct cli_flag *flags, int argc,
              char **argv, int *argi)
{
	struct cli_global_opts g;
	struct cli_flag all[CLI_MAX_FLAGS];
	bool seen[CLI_MAX_FLAGS];
	size_t n = 0, n_http, i;
	const char *fmt;
	int r;

	memset(cli, 0, sizeof(*cli));
	memset(&g, 0, sizeof(g));
	memset(seen, 0, sizeof(seen));
	cli->cmd = spec;
	while (flags && flags[n].name && n < CLI_MAX_FLAGS / 2) {
		all[n] = flags[n];
		n++;
	}
	r = cli_parse_flags(spec, flags, all, n + cli_global_flags(&g, spec->opts, all + n, &n_http), seen, argc,
	                    argv, argi);
	if (r != CLI_PROCEED)
		return r;
	cli->flags = flags;
	for (i = 0; i < n && i < 64; i++)
		if (seen[i])
			cli->given |= 1ULL << i;

	fmt = g.format && *g.format ? g.format : api_config_env("FORMAT");
	if (!(spec->opts & CLI_OPT_OUTPUT) || fmt == NULL || strcasecmp(fmt, "table") == 0)
		cli->format = CLI_FORMAT_TABLE;
	else if (strcasecmp(fmt, "json") == 0)
		cli->format = CLI_FORMAT_JSON;
	else if (strcasecmp(fmt, "yaml") == 0 || strcasecmp(fmt, "yml") == 0)
		cli->format = CLI_FORMAT_YAML;
	else
		return cli_usage_error(spec,
		                       "Invalid output format \"%s\": Trove supports \"table\", \"json\" "
		                       "and \"yaml\".",
		                       fmt);

	if (!(spec->opts & CLI_OPT_HTTP))
		return CLI_PROCEED;
	return resolve_http(cli, &g, seen[n + CLI_G_SKIP_VERIFY]);
}

bool cli_flag_given(const struct cli *cli, const char *name)
{
	size_t i;

	for (i = 0; cli->flags && cli->flags[i].name && i < 64; i++)
		if (strcmp(cli->flags[i].name, name) == 0)
			return (cli->given >> i) & 1;
	return false;
}

void cli_flags_release(const struct cli_flag *flags)
{
	for (; flags && flags->name; flags++)
		if (flags->kind == CLI_FLAG_LIST)
			strlist_release(flags->value);
}

void cli_release(struct cli *cli)
{
	api_client_free(cli->client);
	api_config_release(&cli->api);
	memset(cli, 0, sizeof(*cli));
}

struct api_client *cli_client(struct cli *cli)
{
	char *detail = NULL;
	int r;

	if (cli->client)
		return cli->client;
	if (cli->api.address == NULL) /* a command without the HTTP group */
		api_config_init(&cli->api);
	r = api_client_new(&cli->api, &cli->client, &detail);
	if (r == TROVE_ERR_INVALID)
		fprintf(stderr, "Error: %s\n", detail ? detail : err_message(r));
	else if (r != 0)
		fprintf(stderr, "Error: could not set up the HTTP client: %s\n", detail ? detail : err_message(r));
	free(detail);
	return r == 0 ? cli->client : NULL;
}
