/* flags.c — command-line flags, as Go's flag package (which Vault's users
 * know) reads them: "-name", "--name", "-name=value" or "-name value" for
 * non-booleans; parsing stops at the first positional argument. Each
 * command declares its own flags in a table; the HTTP and output groups
 * shared by all commands are declared here, so help and parsing come from
 * one description. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/runtime.h"
#include "err.h"
#include "strconv.h"

#include "banned.h"

size_t cli_global_flags(struct cli_global_opts *g, unsigned opts, struct cli_flag *out, size_t *n_http)
{
	const struct cli_flag http[] = {
	    {"address", NULL, CLI_FLAG_STRING, &g->address, 0, 0, NULL,
	     "Address of the Trove server. The default is " CLI_DEFAULT_ADDRESS ". This can also be "
	     "set with the TROVE_ADDR (or VAULT_ADDR) environment variable."},
	    {"ca-cert", NULL, CLI_FLAG_STRING, &g->ca_cert, 0, 0, NULL,
	     "Path on the local disk to a PEM-encoded CA certificate used to verify the server's TLS "
	     "certificate. Takes precedence over -ca-path. Environment: TROVE_CACERT (or VAULT_CACERT)."},
	    {"ca-path", NULL, CLI_FLAG_STRING, &g->ca_path, 0, 0, NULL,
	     "Path on the local disk to a directory of PEM-encoded CA certificates used to verify the "
	     "server's TLS certificate. Environment: TROVE_CAPATH (or VAULT_CAPATH)."},
	    {"client-cert", NULL, CLI_FLAG_STRING, &g->client_cert, 0, 0, NULL,
	     "Path on the local disk to a PEM-encoded certificate presented to the server for TLS "
	     "client authentication. Needs -client-key as well. Environment: TROVE_CLIENT_CERT (or "
	     "VAULT_CLIENT_CERT)."},
	    {"client-key", NULL, CLI_FLAG_STRING, &g->client_key, 0, 0, NULL,
	     "Path on the local disk to the unencrypted PEM-encoded private key matching "
	     "-client-cert. Environment: TROVE_CLIENT_KEY (or VAULT_CLIENT_KEY)."},
	    {"namespace", "ns", CLI_FLAG_STRING, &g->namespace_name, 0, 0, NULL,
	     "Namespace the request is for, sent as the X-Vault-Namespace header. Environment: "
	     "TROVE_NAMESPACE (or VAULT_NAMESPACE)."},
	    {"tls-server-name", NULL, CLI_FLAG_STRING, &g->tls_server_name, 0, 0, NULL,
	     "Name to send in TLS SNI and to expect in the server's certificate, when it differs from "
	     "the address's host. Environment: TROVE_TLS_SERVER_NAME (or VAULT_TLS_SERVER_NAME)."},
	    {"tls-skip-verify", NULL, CLI_FLAG_BOOL, &g->skip_verify, 0, 0, NULL,
	     "Do not verify the server's TLS certificate. This is insecure: anyone on the path can "
	     "pose as the server and read the token. Environment: TROVE_SKIP_VERIFY (or "
	     "VAULT_SKIP_VERIFY)."},
	    {"token", NULL, CLI_FLAG_STRING, &g->token, 0, 0, NULL,
	     "Token sent to the server in the X-Vault-Token header. When unset, TROVE_TOKEN, then "
	     "VAULT_TOKEN, then the file written by the token helper (~/.vault-token, or "
	     "TROVE_TOKEN_PATH) are used."},
	    {"wrap-ttl", NULL, CLI_FLAG_STRING, &g->wrap_ttl, 0, 0, NULL,
	     "Wrap the response in a single-use wrapping token that lives this long (\"5m\", \"300\") "
	     "and print only the token's details; 'trove unwrap' gets the response back. Sent as the "
	     "X-Vault-Wrap-TTL header. Environment: TROVE_WRAP_TTL (or VAULT_WRAP_TTL)."},
	};
	const struct cli_flag output[] = {
	    {"format", NULL, CLI_FLAG_STRING, &g->format, 0, 0, "table",
	     "Output format: \"table\", \"json\" or \"yaml\". Environment: TROVE_FORMAT (or "
	     "VAULT_FORMAT)."},
	};
	size_t n = 0, i;

	*n_http = 0;
	if (opts & CLI_OPT_HTTP) {
		for (i = 0; i < sizeof(http) / sizeof(http[0]); i++)
			out[n++] = http[i];
		*n_http = n;
	}
	if (opts & CLI_OPT_OUTPUT)
		out[n++] = output[0];
	return n;
}

/* Go's strconv.ParseBool spellings. */
static int parse_bool(const char *s, bool *out)
{
	return strconv_bool(s, out) ? 0 : TROVE_ERR_INVALID;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return TROVE_ERR_INVALID;
	*out = v;
	return 0;
}

static const struct cli_flag *find_flag(const struct cli_flag *all, size_t n, const char *name, size_t len,
                                        size_t *idx)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((strlen(all[i].name) == len && strncmp(all[i].name, name, len) == 0) ||
		    (all[i].alias && strlen(all[i].alias) == len && strncmp(all[i].alias, name, len) == 0)) {
			*idx = i;
			return &all[i];
		}
	}
	return NULL;
}

/* Returns CLI_PROCEED, CLI_EXIT_OK (help shown) or CLI_EXIT_LOCAL. */
int cli_parse_flags(const struct cli_command *spec, const struct cli_flag *cmd_flags,
                       const struct cli_flag *all, size_t n, bool *seen, int argc, char **argv, int *argi)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *val;
		const struct cli_flag *fl;
		size_t len, idx;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		name = a + 1 + (a[1] == '-');
		if (*name == '\0' || *name == '-' || *name == '=')
			return cli_usage_error(spec, "Bad flag syntax: %s", a);
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		val = eq ? eq + 1 : NULL;

		if ((len == 1 && name[0] == 'h') || (len == 4 && strncmp(name, "help", 4) == 0)) {
			cli_print_help(stdout, spec, cmd_flags);
			return CLI_EXIT_OK;
		}
		fl = find_flag(all, n, name, len, &idx);
		if (fl == NULL)
			return cli_usage_error(spec, "Flag provided but not defined: -%.*s", (int)len, name);
		seen[idx] = true;

		if (fl->kind == CLI_FLAG_BOOL) {
			if (val == NULL)
				*(bool *)fl->value = true;
			else if (parse_bool(val, fl->value) != 0)
				return cli_usage_error(spec, "Invalid boolean value \"%s\" for flag -%s", val,
				                       fl->name);
			continue;
		}
		if (val == NULL) {
			if (i + 1 >= argc)
				return cli_usage_error(spec, "Flag needs an argument: -%s", fl->name);
			val = argv[++i];
		}
		if (fl->kind == CLI_FLAG_STRING) {
			*(const char **)fl->value = val;
		} else if (fl->kind == CLI_FLAG_LIST) {
			if (strlist_push(fl->value, val) != 0)
				abort(); /* small fixed allocation: out of memory */
		} else if (parse_long(val, fl->min, fl->max, fl->value) != 0) {
			return cli_usage_error(
			    spec, "Invalid value \"%s\" for flag -%s: want an integer from %ld to %ld", val,
			    fl->name, fl->min, fl->max);
		}
	}
	*argi = i;
	return CLI_PROCEED;
}
