/* commands.c — what every client command shares: flag parsing, settings
 * from the environment, help text, API calls with Vault-shaped errors,
 * and the table/JSON output helpers.
 *
 * Flags follow Go's flag package (which Vault's users know): "-name",
 * "--name", "-name=value" or "-name value" for non-booleans, parsing stops
 * at the first positional argument. Each command declares its own flags in
 * a table; the HTTP and output groups are appended from this file, so help
 * and parsing come from one description. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "err.h"
#include "secure.h"

#include "strconv.h"

#include "banned.h"

#define MAX_FLAGS 64
#define HELP_WIDTH 79
#define TOKEN_FILE_MAX 8192
#define SECRET_LINE_MAX 4096

/* Raw values of the shared flags, before the environment fills gaps. */
struct global_opts {
	const char *address;
	const char *token;
	const char *ca_cert;
	const char *ca_path;
	const char *client_cert;
	const char *client_key;
	const char *format;
	const char *wrap_ttl;
	bool skip_verify;
};

enum { G_SKIP_VERIFY = 5 }; /* index of -tls-skip-verify in the HTTP group */

static size_t global_flags(struct global_opts *g, unsigned opts, struct cli_flag *out, size_t *n_http)
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

/* ---- help ------------------------------------------------------------- */

static void wrap_paragraph(FILE *f, const char *p, size_t len, int indent, int width)
{
	size_t i = 0, col = 0;

	/* A paragraph that starts with a space is preformatted (examples). */
	if (len > 0 && p[0] == ' ') {
		while (i < len) {
			size_t e = i;

			while (e < len && p[e] != '\n')
				e++;
			fprintf(f, "%*s%.*s\n", indent, "", (int)(e - i), p + i);
			i = e + 1;
		}
		return;
	}
	while (i < len) {
		size_t w;

		while (i < len && isspace((unsigned char)p[i]))
			i++;
		if (i >= len)
			break;
		w = i;
		while (w < len && !isspace((unsigned char)p[w]))
			w++;
		if (col > 0 && col + 1 + (w - i) > (size_t)(width - indent)) {
			fputc('\n', f);
			col = 0;
		}
		if (col == 0)
			fprintf(f, "%*s", indent, "");
		else {
			fputc(' ', f);
			col++;
		}
		fwrite(p + i, 1, w - i, f);
		col += w - i;
		i = w;
	}
	if (col > 0)
		fputc('\n', f);
}

void cli_wrap(FILE *f, const char *text, int indent, int width)
{
	const char *p = text;
	bool first = true;

	while (*p) {
		const char *e = strstr(p, "\n\n");
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (!first)
			fputc('\n', f);
		wrap_paragraph(f, p, len, indent, width);
		first = false;
		if (e == NULL)
			break;
		p = e + 2;
	}
}

static void print_flag_group(FILE *f, const char *title, const struct cli_flag *flags, size_t n)
{
	static const char *const kind_arg[] = {"", "=<string>", "=<int>", "=<string>"};
	struct buf b;
	size_t i;

	if (n == 0)
		return;
	fprintf(f, "\n%s:\n", title);
	buf_init(&b, BUF_CAP_DEFAULT);
	for (i = 0; i < n; i++) {
		fprintf(f, "\n  -%s%s", flags[i].name, kind_arg[flags[i].kind]);
		if (flags[i].alias)
			fprintf(f, " (or -%s)", flags[i].alias);
		fputc('\n', f);
		buf_reset(&b);
		(void)buf_append_str(&b, flags[i].help ? flags[i].help : "");
		if (flags[i].def)
			(void)buf_printf(&b, " The default is %s.", flags[i].def);
		cli_wrap(f, b.data, 6, HELP_WIDTH);
	}
	buf_release(&b);
}

void cli_print_help(FILE *f, const struct cli_command *spec, const struct cli_flag *flags)
{
	struct global_opts g;
	struct cli_flag glob[MAX_FLAGS];
	size_t n_glob, n_http, n_cmd = 0;

	memset(&g, 0, sizeof(g));
	n_glob = global_flags(&g, spec->opts, glob, &n_http);
	while (flags && flags[n_cmd].name)
		n_cmd++;

	fprintf(f, "Usage: trove %s%s%s\n", spec->name, spec->args && *spec->args ? " " : "",
	        spec->args ? spec->args : "");
	if (spec->help) {
		fputc('\n', f);
		cli_wrap(f, spec->help, 2, HELP_WIDTH);
	}
	print_flag_group(f, "HTTP Options", glob, n_http);
	print_flag_group(f, "Output Options", glob + n_http, n_glob - n_http);
	print_flag_group(f, "Command Options", flags, n_cmd);
}

int cli_usage_error(const struct cli_command *spec, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n\nRun 'trove %s -h' for usage.\n", spec->name);
	return CLI_EXIT_LOCAL;
}

int cli_args_exactly(const struct cli_command *spec, int have, int want)
{
	if (have == want)
		return 0;
	return cli_usage_error(spec, "%s arguments (expected %d, got %d)", have < want ? "Not enough" : "Too many",
	                       want, have);
}

/* ---- command groups --------------------------------------------------- */

static void group_help(FILE *f, const struct cli_group *g)
{
	size_t i, w = 0, skip = strlen(g->name) + 1;

	fprintf(f, "Usage: trove %s <subcommand> [options] [args]\n\n", g->name);
	cli_wrap(f, g->help, 2, HELP_WIDTH);
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

char *cli_take_secret_arg(char **argv, int i)
{
	char *s = xstrdup(argv[i]);

	secure_wipe(argv[i], strlen(argv[i]));
	return s;
}

char *cli_trim_slashes(const char *path)
{
	size_t len;

	while (*path == '/')
		path++;
	len = strlen(path);
	while (len > 0 && path[len - 1] == '/')
		len--;
	return xstrndup(path, len);
}

/* ---- flag parsing ----------------------------------------------------- */

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
static int parse_flags(const struct cli_command *spec, const struct cli_flag *cmd_flags,
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

/* ---- settings from the environment ------------------------------------ */

static const char *env2(const char *trove, const char *vault)
{
	const char *v = getenv(trove);

	if (v && *v)
		return v;
	v = getenv(vault);
	return v && *v ? v : NULL;
}

static char *pick(const char *flag, const char *trove_env, const char *vault_env)
{
	const char *v = flag && *flag ? flag : env2(trove_env, vault_env);

	return v ? xstrdup(v) : NULL;
}

/* Reads the token helper's file. A missing file is not an error; the
 * token is never echoed. Returns a heap string or NULL. */
int cli_token_file_path(struct buf *out)
{
	const char *path = env2("TROVE_TOKEN_PATH", "VAULT_TOKEN_PATH");
	const char *home;

	buf_reset(out);
	if (path)
		return buf_append_str(out, path) == 0 ? 0 : -1;
	home = getenv("HOME");
	if (home == NULL || *home == '\0' || buf_printf(out, "%s/.vault-token", home) != 0)
		return -1;
	return 0;
}

static char *read_token_file(void)
{
	struct buf p, tok;
	char chunk[512];
	char *out = NULL;
	ssize_t got;
	int fd;

	buf_init(&p, PATH_MAX);
	buf_init_secret(&tok, TOKEN_FILE_MAX);
	if (cli_token_file_path(&p) != 0)
		goto out;
	fd = open(p.data, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	while ((got = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(&tok, chunk, (size_t)got) != 0)
			break;
	close(fd);
	secure_wipe(chunk, sizeof(chunk));
	while (tok.len > 0 && isspace((unsigned char)tok.data[tok.len - 1]))
		tok.data[--tok.len] = '\0';
	if (tok.len > 0 && !isspace((unsigned char)tok.data[0]))
		out = xstrdup(tok.data);
out:
	buf_release(&p);
	buf_release_secret(&tok);
	return out;
}

int cli_start(struct cli *cli, const struct cli_command *spec, const struct cli_flag *flags, int argc,
              char **argv, int *argi)
{
	struct global_opts g;
	struct cli_flag all[MAX_FLAGS];
	bool seen[MAX_FLAGS];
	size_t n = 0, n_glob, n_http, i;
	const char *fmt, *skip;
	int r;

	memset(cli, 0, sizeof(*cli));
	memset(&g, 0, sizeof(g));
	memset(seen, 0, sizeof(seen));
	cli->cmd = spec;
	while (flags && flags[n].name && n < MAX_FLAGS / 2) {
		all[n] = flags[n];
		n++;
	}
	n_glob = global_flags(&g, spec->opts, all + n, &n_http);
	r = parse_flags(spec, flags, all, n + n_glob, seen, argc, argv, argi);
	if (r != CLI_PROCEED)
		return r;
	cli->flags = flags;
	for (i = 0; i < n && i < 64; i++)
		if (seen[i])
			cli->given |= 1ULL << i;

	fmt = g.format && *g.format ? g.format : env2("TROVE_FORMAT", "VAULT_FORMAT");
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

	cli->tls_skip_verify = g.skip_verify;
	if (!seen[n + G_SKIP_VERIFY] && (skip = env2("TROVE_SKIP_VERIFY", "VAULT_SKIP_VERIFY")) != NULL &&
	    parse_bool(skip, &cli->tls_skip_verify) != 0)
		return cli_usage_error(spec,
		                       "Invalid value \"%s\" in TROVE_SKIP_VERIFY/VAULT_SKIP_VERIFY: want "
		                       "true or false",
		                       skip);

	cli->address = pick(g.address, "TROVE_ADDR", "VAULT_ADDR");
	if (cli->address == NULL)
		cli->address = xstrdup(CLI_DEFAULT_ADDRESS);
	cli->token = pick(g.token, "TROVE_TOKEN", "VAULT_TOKEN");
	if (cli->token == NULL)
		cli->token = read_token_file();
	cli->ca_cert = pick(g.ca_cert, "TROVE_CACERT", "VAULT_CACERT");
	cli->ca_path = pick(g.ca_path, "TROVE_CAPATH", "VAULT_CAPATH");
	cli->client_cert = pick(g.client_cert, "TROVE_CLIENT_CERT", "VAULT_CLIENT_CERT");
	cli->client_key = pick(g.client_key, "TROVE_CLIENT_KEY", "VAULT_CLIENT_KEY");
	cli->wrap_ttl = pick(g.wrap_ttl, "TROVE_WRAP_TTL", "VAULT_WRAP_TTL");
	return CLI_PROCEED;
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
	client_free(cli->client);
	secure_free_str(cli->token);
	free(cli->address);
	free(cli->ca_cert);
	free(cli->ca_path);
	free(cli->client_cert);
	free(cli->client_key);
	free(cli->wrap_ttl);
	memset(cli, 0, sizeof(*cli));
}

struct client *cli_client(struct cli *cli)
{
	struct client_config cfg;
	int r;

	if (cli->client)
		return cli->client;
	memset(&cfg, 0, sizeof(cfg));
	cfg.address = cli->address ? cli->address : CLI_DEFAULT_ADDRESS;
	cfg.token = cli->token;
	cfg.ca_cert = cli->ca_cert;
	cfg.ca_path = cli->ca_path;
	cfg.client_cert = cli->client_cert;
	cfg.client_key = cli->client_key;
	cfg.tls_skip_verify = cli->tls_skip_verify;
	r = client_new(&cfg, &cli->client);
	if (r == TROVE_ERR_INVALID) {
		fprintf(stderr,
		        "Error: invalid server address \"%s\": want http://host:port or https://host:port\n",
		        cfg.address);
		return NULL;
	}
	if (r != 0) {
		fprintf(stderr, "Error: could not set up the HTTP client: %s\n", err_message(r));
		return NULL;
	}
	if (cli->wrap_ttl && *cli->wrap_ttl &&
	    client_add_header(cli->client, "X-Vault-Wrap-TTL", cli->wrap_ttl) != 0) {
		fprintf(stderr, "Error: invalid -wrap-ttl value\n");
		client_free(cli->client);
		cli->client = NULL;
		return NULL;
	}
	return cli->client;
}

int cli_api(struct cli *cli, const char *doing, const char *method, const char *path, const json_t *body,
            json_t **out)
{
	return cli_request(cli, doing, method, path, NULL, body, out, NULL);
}

int cli_request(struct cli *cli, const char *doing, const char *method, const char *path, const char *query,
                const json_t *body, json_t **out, bool *found)
{
	struct client_response resp;
	struct client *c;
	int r = CLI_EXIT_REMOTE;

	if (out)
		*out = NULL;
	if (found)
		*found = true;
	client_response_init(&resp);
	if ((c = cli_client(cli)) == NULL)
		goto out;
	if (client_do_json(c, method, path, query, body, &resp) != 0) {
		client_print_error(doing, &resp);
		goto out;
	}
	if (found && resp.status == 404) {
		*found = false;
	} else if (client_response_failed(&resp)) {
		client_print_error(doing, &resp);
		goto out;
	}
	if (resp.body.len > 0 && resp.json == NULL) {
		fprintf(stderr, "Error %s: the server at %s answered with a body that is not JSON\n", doing,
		        client_address(c));
		goto out;
	}
	if (out) {
		*out = resp.json;
		resp.json = NULL;
	}
	r = 0;
out:
	client_response_release(&resp);
	return r;
}

/* ---- output ----------------------------------------------------------- */

void cli_table_init(struct cli_table *t, size_t ncols)
{
	t->ncols = ncols;
	strlist_init(&t->head);
	strlist_init(&t->cells);
}

void cli_table_release(struct cli_table *t)
{
	strlist_release(&t->head);
	strlist_release(&t->cells);
}

static void push_cell(struct strlist *l, const char *s)
{
	if (strlist_push(l, s ? s : "") != 0)
		abort(); /* small fixed allocation: out of memory */
}

void cli_table_header(struct cli_table *t, ...)
{
	va_list ap;
	size_t i;

	strlist_release(&t->head);
	strlist_init(&t->head);
	va_start(ap, t);
	for (i = 0; i < t->ncols; i++)
		push_cell(&t->head, va_arg(ap, const char *));
	va_end(ap);
}

void cli_table_row(struct cli_table *t, ...)
{
	va_list ap;
	size_t i;

	va_start(ap, t);
	for (i = 0; i < t->ncols; i++)
		push_cell(&t->cells, va_arg(ap, const char *));
	va_end(ap);
}

void cli_table_kv(struct cli_table *t, const char *key, const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	size_t i;

	buf_init(&b, BUF_CAP_DEFAULT);
	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	push_cell(&t->cells, key);
	push_cell(&t->cells, b.data);
	for (i = 2; i < t->ncols; i++)
		push_cell(&t->cells, "");
	buf_release(&b);
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

static void print_row(FILE *f, char *const *cells, const size_t *width, size_t ncols, bool dashes)
{
	size_t c, k, pad = 0;

	for (c = 0; c < ncols; c++) {
		const char *s = cells[c];
		size_t w = text_width(s);

		if (c > 0)
			pad += 4;
		if (dashes || *s) {
			fprintf(f, "%*s", (int)pad, "");
			pad = 0;
		}
		if (dashes)
			for (k = 0; k < w; k++)
				fputc('-', f);
		else
			fputs(s, f);
		pad += width[c] - w;
	}
	fputc('\n', f);
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
	size_t width[16], c, r, rows;

	if (t->ncols == 0 || t->ncols > sizeof(width) / sizeof(width[0]))
		return;
	memset(width, 0, sizeof(width));
	rows = t->cells.len / t->ncols;
	for (c = 0; c < t->ncols; c++) {
		if (t->head.len == t->ncols)
			width[c] = text_width(t->head.items[c]);
		for (r = 0; r < rows; r++) {
			size_t w = text_width(t->cells.items[r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	}
	if (t->head.len == t->ncols) {
		print_row(f, t->head.items, width, t->ncols, false);
		print_row(f, t->head.items, width, t->ncols, true);
	}
	for (r = 0; r < rows; r++)
		print_row(f, t->cells.items + r * t->ncols, width, t->ncols, false);
}

int cli_print_json(const json_t *j)
{
	int r = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	fputc('\n', stdout);
	if (r != 0 || fflush(stdout) != 0) {
		fprintf(stderr, "Error: could not write the output: %s\n", strerror(errno));
		return CLI_EXIT_LOCAL;
	}
	return CLI_EXIT_OK;
}

/* Shortest "%.Ng" that reads back as the same double. */
static void format_real(struct buf *out, double d)
{
	char tmp[64];
	int prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	(void)buf_append_str(out, tmp);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void cli_format_value(struct buf *out, const json_t *v)
{
	const json_t *e;
	const char *k;
	const char **keys;
	size_t i, n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		(void)buf_append(out, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		(void)buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		format_real(out, json_real_value(v));
		break;
	case JSON_TRUE:
		(void)buf_append_str(out, "true");
		break;
	case JSON_FALSE:
		(void)buf_append_str(out, "false");
		break;
	case JSON_NULL:
		(void)buf_append_str(out, "n/a");
		break;
	case JSON_ARRAY:
		(void)buf_append_byte(out, '[');
		for (i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				(void)buf_append_byte(out, ' ');
			cli_format_value(out, json_array_get(v, i));
		}
		(void)buf_append_byte(out, ']');
		break;
	case JSON_OBJECT:
		n = json_object_size(v);
		keys = xcalloc(n ? n : 1, sizeof(*keys));
		i = 0;
		json_object_foreach((json_t *)v, k, e)
		{
			keys[i++] = k;
		}
		qsort(keys, n, sizeof(*keys), cmp_str);
		(void)buf_append_str(out, "map[");
		for (i = 0; i < n; i++) {
			if (i > 0)
				(void)buf_append_byte(out, ' ');
			(void)buf_printf(out, "%s:", keys[i]);
			cli_format_value(out, json_object_get(v, keys[i]));
		}
		(void)buf_append_byte(out, ']');
		free(keys);
		break;
	}
}

int cli_print_data(const struct cli *cli, const json_t *j)
{
	return cli->format == CLI_FORMAT_YAML ? cli_print_yaml(j) : cli_print_json(j);
}

int cli_print_object(const struct cli *cli, const json_t *obj)
{
	struct cli_table t;
	struct buf val;
	const char **keys;
	const char *k;
	json_t *e;
	size_t i, n;

	if (cli->format != CLI_FORMAT_TABLE || !json_is_object(obj))
		return cli_print_data(cli, obj);
	n = json_object_size(obj);
	keys = xcalloc(n ? n : 1, sizeof(*keys));
	i = 0;
	json_object_foreach((json_t *)obj, k, e)
	{
		keys[i++] = k;
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	cli_table_init(&t, 2);
	cli_table_header(&t, "Key", "Value");
	buf_init_secret(&val, CLIENT_MAX_BODY);
	for (i = 0; i < n; i++) {
		buf_reset(&val);
		cli_format_value(&val, json_object_get(obj, keys[i]));
		cli_table_row(&t, keys[i], val.data);
	}
	cli_table_print(&t, stdout);
	buf_release(&val);
	cli_table_release(&t);
	free(keys);
	return CLI_EXIT_OK;
}

/* ---- time ------------------------------------------------------------- */

static bool digits(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool parse_rfc3339(const char *s, time_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p;
	time_t t;

	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		return false;
	p = s + 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om))
			return false;
		p += 6;
	} else {
		return false;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*out = t - sign * (time_t)(oh * 3600 + om * 60);
	return true;
}

void cli_format_time_rfc822(const char *s, char *out, size_t out_size)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	time_t t;

	if (out_size == 0)
		return;
	/* RFC 822 as Go spells it: two-digit year, minutes, zone name. */
	if (parse_rfc3339(s, &t) && gmtime_r(&t, &tm) != NULL && tm.tm_mon >= 0 && tm.tm_mon < 12)
		snprintf(out, out_size, "%02d %s %02d %02d:%02d UTC", tm.tm_mday, months[tm.tm_mon],
		         (tm.tm_year + 1900) % 100, tm.tm_hour, tm.tm_min);
	else
		snprintf(out, out_size, "%s", s);
}

/* ---- secret prompt ---------------------------------------------------- */

static const int prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
static struct termios saved_tio;
static volatile sig_atomic_t tty_restore_fd = -1;

/* Puts echo back before the signal does its default thing. */
static void on_prompt_signal(int sig)
{
	int fd = tty_restore_fd;

	if (fd >= 0)
		tcsetattr(fd, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads bytes one at a time (no stdio buffer keeps a copy) up to '\n'. */
static int read_line_fd(int fd, struct buf *line)
{
	char ch;
	ssize_t got;

	for (;;) {
		got = read(fd, &ch, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return line->len > 0 ? 0 : TROVE_ERR_IO;
		if (ch == '\n')
			return 0;
		if (buf_append_byte(line, ch) != 0)
			return TROVE_ERR_TOO_LARGE;
	}
}

int cli_read_secret(const char *prompt, char **out)
{
	struct sigaction sa, old[sizeof(prompt_signals) / sizeof(prompt_signals[0])];
	struct termios tio;
	struct buf line;
	bool echo_off = false;
	size_t i, start;
	int fd = STDIN_FILENO, tty = -1, r = CLI_EXIT_LOCAL, rr;

	*out = NULL;
	buf_init_secret(&line, SECRET_LINE_MAX);
	if (isatty(STDIN_FILENO)) {
		tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (tty >= 0)
			fd = tty;
		/* Echo goes off before the prompt shows: whatever is typed once
		 * the prompt is visible is read, never echoed or flushed. */
		if (tcgetattr(fd, &saved_tio) == 0) {
			tio = saved_tio;
			tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
			tty_restore_fd = fd;
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_prompt_signal;
			sigemptyset(&sa.sa_mask);
			for (i = 0; i < sizeof(prompt_signals) / sizeof(prompt_signals[0]); i++)
				sigaction(prompt_signals[i], &sa, &old[i]);
			echo_off = tcsetattr(fd, TCSAFLUSH, &tio) == 0;
		}
		if (write(fd, prompt, strlen(prompt)) < 0) {
			/* nothing useful to do: the read below still works */
		}
	}
	rr = read_line_fd(fd, &line);
	if (tty_restore_fd >= 0) {
		if (echo_off)
			tcsetattr(fd, TCSANOW, &saved_tio);
		tty_restore_fd = -1;
		for (i = 0; i < sizeof(prompt_signals) / sizeof(prompt_signals[0]); i++)
			sigaction(prompt_signals[i], &old[i], NULL);
	}
	if (isatty(fd) && write(fd, "\n", 1) < 0) {
		/* cosmetic only */
	}
	if (rr == TROVE_ERR_TOO_LARGE) {
		fprintf(stderr, "Error: the value entered is longer than %d bytes\n", SECRET_LINE_MAX);
		goto out;
	}
	if (rr != 0) {
		fprintf(stderr, "Error: no value was entered (end of input)\n");
		goto out;
	}
	start = 0;
	while (start < line.len && isspace((unsigned char)line.data[start]))
		start++;
	while (line.len > start && isspace((unsigned char)line.data[line.len - 1]))
		line.len--;
	if (line.len == start) {
		fprintf(stderr, "Error: no value was entered\n");
		goto out;
	}
	*out = xstrndup(line.data + start, line.len - start);
	r = 0;
out:
	if (tty >= 0)
		close(tty);
	buf_release_secret(&line);
	return r;
}
