/* cli.h — the client command framework of `trove`.
 *
 * Every client command has the same skeleton:
 *
 *	static const struct cli_command spec = { "operator seal", ... };
 *	int cmd_x(int argc, char **argv)
 *	{
 *		struct cli cli;
 *		bool reset = false;
 *		const struct cli_flag flags[] = {
 *			{ "reset", NULL, CLI_FLAG_BOOL, &reset, 0, 0, NULL, "Discard ..." },
 *			CLI_FLAG_END,
 *		};
 *		int argi, r = cli_start(&cli, &spec, flags, argc, argv, &argi);
 *		if (r != CLI_PROCEED)
 *			return r;
 *		... cli_api(&cli, ...) ...; output with cli_table_* / cli_print_json
 *		cli_release(&cli);
 *		return exit code;
 *	}
 *
 * cli_start() parses the command's own flags and the global HTTP/output
 * flags (which must come before positional arguments), answers -h, and
 * resolves the API client's settings (address, token, TLS, namespace,
 * wrapping, retries) and the format from flags, then TROVE_* and VAULT_*
 * environment variables, then the token helper. Commands return process
 * exit codes (CLI_EXIT_*, below). Commands print; the API library under
 * them (src/api/) does not.
 *
 * The runtime is split by job: flags.c (parsing, the shared flags),
 * help.c (help and usage errors), dispatch.c (command groups),
 * settings.c (cli_start and the client), request.c (API calls and their
 * errors), output.c (tables, JSON, values), prompt.c (secrets from the
 * user). */
#ifndef TROVE_CLI_H
#define TROVE_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "api/api.h"

/* Exit codes, by the Vault CLI's convention that scripts test:
 *   0  success;
 *   1  a local error: a bad flag, argument or setting, an unknown command,
 *      a file that cannot be read or written, output that cannot be
 *      written;
 *   2  a remote error: the server could not be reached or the client not
 *      set up, it answered with a non-2xx status, or its answer holds
 *      nothing to show ("No value found at ...", a missing field the
 *      command needs).
 * Three commands give 2 a meaning of their own and report any failure as
 * 1, as Vault's do: `status` (2 = sealed), `operator init -status`
 * (2 = not initialized) and `pki health-check` (2 to 6 = the worst
 * finding, pki_health.h). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_LOCAL 1
#define CLI_EXIT_REMOTE 2
#define CLI_EXIT_STATE 2 /* status: sealed; operator init -status: not initialized */
/* Returned by cli_start() when the command should go on running. */
#define CLI_PROCEED (-1)

#define CLI_DEFAULT_ADDRESS API_DEFAULT_ADDRESS

enum cli_format { CLI_FORMAT_TABLE, CLI_FORMAT_JSON, CLI_FORMAT_YAML };

/* Which shared flag groups a command accepts (and shows in its help). */
#define CLI_OPT_HTTP 0x1   /* -address -token -ca-cert ... */
#define CLI_OPT_OUTPUT 0x2 /* -format */

struct cli_command {
	const char *name;     /* full name as typed: "operator unseal" */
	const char *synopsis; /* one line, for command listings */
	const char *args;     /* usage after the name, e.g. "[options] [KEY]" */
	const char *help;     /* description paragraphs ("\n\n" separated), wrapped on output */
	unsigned opts;        /* CLI_OPT_* */
};

enum cli_flag_kind {
	CLI_FLAG_BOOL,   /* value: bool *; "-f", "-f=true|false" */
	CLI_FLAG_STRING, /* value: const char ** (borrowed from argv) */
	CLI_FLAG_INT,    /* value: long *; checked against [min, max] */
	CLI_FLAG_LIST,   /* value: struct strlist *; repeatable, each use appends (copied) */
};

struct cli_flag {
	const char *name;  /* without dashes, e.g. "key-shares" */
	const char *alias; /* another accepted name, e.g. "n", or NULL */
	enum cli_flag_kind kind;
	void *value;
	long min, max;    /* CLI_FLAG_INT bounds */
	const char *def;  /* default shown in help, or NULL */
	const char *help; /* one paragraph, wrapped on output */
};

#define CLI_FLAG_END                                                                                         \
	{                                                                                                    \
		NULL, NULL, CLI_FLAG_BOOL, NULL, 0, 0, NULL, NULL                                            \
	}

/* Settings shared by every client command, resolved by cli_start(). */
struct cli {
	const struct cli_command *cmd;
	struct api_config api; /* the HTTP settings (CLI_OPT_HTTP commands) */
	enum cli_format format;
	struct api_client *client; /* created by cli_client() from api */
	const struct cli_flag *flags; /* the command's own flags */
	unsigned long long given;     /* bit i: flags[i] appeared on the command line */
};

/* Parses argv (argv[0] is the command's last word) against flags (ended by
 * CLI_FLAG_END; may be NULL) and the groups in spec->opts. "-x", "--x",
 * "-x=v" and "-x v" are accepted; parsing stops at the first argument not
 * starting with '-', at "-" alone, or after "--". *argi receives the index
 * of the first positional argument.
 *
 * Returns CLI_PROCEED with *cli filled (release it with cli_release), or an
 * exit code after having printed: CLI_EXIT_OK for -h/-help, CLI_EXIT_LOCAL
 * for a bad flag or setting (then *cli needs no release). */
int cli_start(struct cli *cli, const struct cli_command *spec, const struct cli_flag *flags, int argc,
              char **argv, int *argi);
/* Releases the lists a command's CLI_FLAG_LIST flags filled (up to
 * CLI_FLAG_END). Call once whatever cli_start returned. */
void cli_flags_release(const struct cli_flag *flags);
/* True when the command's own flag called name (not an alias) was given,
 * for flags whose default must not be sent to the server. */
bool cli_flag_given(const struct cli *cli, const char *name);
void cli_release(struct cli *cli);

/* Prints the full help of a command (usage, description, flags) to f. */
void cli_print_help(FILE *f, const struct cli_command *spec, const struct cli_flag *flags);
/* Prints "<msg>\n\nRun 'trove <name> -h' for usage." to stderr; returns
 * CLI_EXIT_LOCAL so callers can `return cli_usage_error(...)`. */
int cli_usage_error(const struct cli_command *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Checks that a command got exactly want positional arguments: returns 0,
 * or prints "Not enough/Too many arguments (expected W, got H)" as
 * cli_usage_error does and returns CLI_EXIT_LOCAL. */
int cli_args_exactly(const struct cli_command *spec, int have, int want);

/* The API client for cli's settings, created on first use. Returns NULL
 * after printing an error (bad address or libcurl failure). Owned by cli. */
struct api_client *cli_client(struct cli *cli);

/* Runs one API call and reports failures. On success returns 0 and, when
 * out is not NULL, stores the parsed response body in *out (owned by the
 * caller; NULL for an empty body). On a transport error or HTTP status >=
 * 400 prints "Error <doing>: ..." and returns CLI_EXIT_REMOTE. body may be
 * NULL. Use api_send() directly to inspect failing statuses yourself. */
int cli_api(struct cli *cli, const char *doing, const char *method, const char *path, const json_t *body,
            json_t **out);
/* The general form of cli_api: query (already encoded, or NULL) is added
 * to the URL, and when found is not NULL a 404 is not an error: the call
 * returns 0 with *found false and *out holding the 404's body, if any
 * (Vault sends kv v2 metadata and warnings with some 404s). */
int cli_request(struct cli *cli, const char *doing, const char *method, const char *path, const char *query,
                const json_t *body, json_t **out, bool *found);

/* Prints a failed call to stderr in Vault's shape:
 *   Error <doing>: Error making API request.
 *
 *   URL: PUT https://127.0.0.1:8200/v1/sys/unseal
 *   Code: 400. Errors:
 *
 *   * <each error>
 * or, when no answer arrived, "Error <doing>: <resp->error>". */
void cli_print_api_error(const char *doing, const struct api_response *resp);

/* ---- output ---------------------------------------------------------- */

/* A column-aligned table: cells are copied; columns are separated by four
 * spaces; a header row is followed by a row of dashes as long as each
 * header ("Key"/"---"). Trailing spaces are not printed. */
struct cli_table {
	size_t ncols;
	struct strlist head;  /* empty, or ncols names */
	struct strlist cells; /* row-major, ncols per row */
};

void cli_table_init(struct cli_table *t, size_t ncols);
void cli_table_release(struct cli_table *t);
/* Sets the header row (ncols names). Call before cli_table_print. */
void cli_table_header(struct cli_table *t, ...);
/* Appends a row of ncols strings (NULL prints as empty). */
void cli_table_row(struct cli_table *t, ...);
/* Appends a two-column row whose second cell is printf-formatted. */
void cli_table_kv(struct cli_table *t, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cli_table_print(const struct cli_table *t, FILE *f);

/* Prints j to stdout as indented JSON (2 spaces, key order kept) and a
 * newline. Returns CLI_EXIT_OK or CLI_EXIT_LOCAL. */
int cli_print_json(const json_t *j);
/* Prints j as YAML (block style, key order kept; strings quoted when a
 * plain scalar would read back as something else). Returns an exit code. */
int cli_print_yaml(const json_t *j);
/* Prints j in cli's structured format: YAML for -format=yaml, JSON
 * otherwise (callers print tables themselves). Returns an exit code. */
int cli_print_data(const struct cli *cli, const json_t *j);

/* Appends a JSON value the way Vault's tables show values: strings as is,
 * numbers without exponent where integral, arrays as "[a b]", objects as
 * "map[k:v]" with sorted keys, null as "n/a". */
void cli_format_value(struct buf *out, const json_t *v);

/* Prints a JSON object: in table format as Key/Value rows sorted by key, in
 * json format as is. Returns an exit code. */
int cli_print_object(const struct cli *cli, const json_t *obj);

/* Writes text to f wrapped at width columns, each line indented by indent
 * spaces. Paragraphs are separated by blank lines ("\n\n" in text). */
void cli_wrap(FILE *f, const char *text, int indent, int width);

/* Parses an RFC 3339 time ("2015-05-29T14:50:46.22-07:00", fraction
 * dropped) into *out. Returns false when s is not one. */
bool cli_parse_rfc3339(const char *s, time_t *out);
/* Formats an RFC 3339 time ("2015-05-29T14:50:46.22-07:00") as Vault's
 * key-status does ("29 May 15 21:50 UTC") into out. Copies s unchanged when
 * it does not parse. */
void cli_format_time_rfc822(const char *s, char *out, size_t out_size);

/* Reads a secret line. When stdin is a terminal the prompt is written to
 * /dev/tty and echo is turned off while reading (restored on return and on
 * SIGINT/SIGTERM/SIGHUP/SIGQUIT); otherwise one line is read from stdin
 * without a prompt. Surrounding whitespace is trimmed. Returns 0 and a heap
 * string in *out (free with secure_free_str), or CLI_EXIT_LOCAL after
 * printing why. */
int cli_read_secret(const char *prompt, char **out);

/* ---- command groups ------------------------------------------------- */

/* A command with subcommands ("kv", "kv metadata", "token"). Each entry's
 * spec->name is the group name, a space and the subcommand word. */
struct cli_subcommand {
	const struct cli_command *spec;
	int (*run)(int argc, char **argv);
};

struct cli_group {
	const char *name; /* "kv metadata" */
	const char *help; /* description paragraphs */
	const struct cli_subcommand *cmds;
	size_t ncmds;
};

/* Runs the subcommand named by argv[1] (argv[0] is the group's last word)
 * with argv shifted by one. With no subcommand prints the group's help to
 * stderr and returns CLI_EXIT_LOCAL; "-h"/"help" print it to stdout. */
int cli_dispatch(const struct cli_group *g, int argc, char **argv);

/* ---- secrets: responses of read, write, kv, token and login ---------- */

/* Formats seconds the way Vault's tables show durations: Go's form with
 * zero minutes and seconds left out ("768h", "1h30m", "45s", "0s"). */
void cli_human_duration(long long secs, char *out, size_t out_size);

/* Prints a response envelope ({data, auth, lease_duration, warnings, ...})
 * in cli's format. Table: Key/Value rows — "refresh_interval" (or lease_id,
 * lease_duration, lease_renewable when there is a lease), the token_* rows
 * of an auth block, then the data keys sorted; warnings go to stderr
 * first. JSON/YAML: the envelope as sent. With field set, prints only that
 * row's value (see cli_print_raw). Returns an exit code: a missing field
 * is CLI_EXIT_LOCAL after an error message. */
int cli_print_secret(const struct cli *cli, const json_t *resp, const char *field);
/* Same for a plain data object (no envelope), e.g. kv v2's data.data. */
int cli_print_secret_data(const struct cli *cli, const json_t *data, const char *field);

/* Prints one value alone, as -field does: strings raw, other values as in
 * tables (JSON/YAML in those formats). A newline follows only when stdout
 * is a terminal, so `$(trove read -field=x ...)` gets the exact value. */
int cli_print_raw(const struct cli *cli, const json_t *v);

/* Prints a LIST response: "Keys" and one key a row, or the keys array in
 * JSON/YAML. A response without data.keys prints "No value found at
 * <path>" to stderr and returns CLI_EXIT_REMOTE, as does resp == NULL. */
int cli_print_list(const struct cli *cli, const json_t *resp, const char *path);
/* Sends a LIST for path (its trailing "/" included) and prints the answer
 * with cli_print_list; a 404 prints "No value found at <path>". Returns an
 * exit code. */
int cli_list(struct cli *cli, const char *path);

/* Prints "== title ==" padded with '=' to about width columns, as Vault
 * heads the sections of kv output. */
void cli_print_section(const char *title, size_t width);
/* Width for the header over a Key/Value table of obj's keys. */
size_t cli_section_width(const json_t *obj);

/* Prints the response's warnings (if any) to stderr. */
void cli_print_warnings(const json_t *resp);
/* True when resp carries nothing to show: NULL (204), or no data object,
 * auth block or wrap_info (warnings aside). */
bool cli_secret_empty(const json_t *resp);
/* The answer of a write or delete with nothing to show: resp's warnings to
 * stderr, then "Success! Data written to: <path>", or with deleted
 * "Success! Data deleted (if it existed) at: <path>". Returns CLI_EXIT_OK. */
int cli_print_data_done(const json_t *resp, const char *path, bool deleted);

/* Builds a request body from "k=v" arguments: "k=@file" takes the file's
 * content, "k=-" stdin's, "@file" merges a JSON object from a file and "-"
 * a JSON object from stdin. A key given twice gets an array of its values.
 * Values are strings. Returns 0 with a new object in *out, or
 * CLI_EXIT_LOCAL after printing what is wrong. */
int cli_parse_kv_args(int argc, char **argv, json_t **out);

/* Reads a whole file ("-" for stdin) into out (wiped on release by the
 * caller). Returns 0, or CLI_EXIT_LOCAL after printing the error. */
int cli_read_input(const char *path, struct buf *out);

/* Takes a token (or other secret) from argv[i]: returns a heap copy (free
 * with secure_free_str) and wipes the argument in place, so it leaves
 * /proc/<pid>/cmdline. */
char *cli_take_secret_arg(char **argv, int i);

/* Path helpers: a copy of path without leading and trailing '/'. */
char *cli_trim_slashes(const char *path);

/* ---- commands (argv[0] is the command's name) ----------------------- */

int cmd_status(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_operator(int argc, char **argv);
/* `operator rekey` and `operator generate-root` (operator_keys.c). */
extern const struct cli_command operator_rekey_spec, operator_generate_root_spec;
int cmd_rekey(int argc, char **argv);
int cmd_generate_root(int argc, char **argv);
/* Shared by the operator commands that send key shares (operator.c):
 * operator_take_key copies argv[argi] into *key and wipes it from argv, or
 * with no argument left asks for the key (cli_read_secret); returns 0 or an
 * exit code. operator_key_body appends {"key":KEY[,"nonce":NONCE]} to b
 * (a buffer the caller wipes); returns 0 or an error code.
 * operator_send_secret sends body (may be NULL) and returns 0 with *out the
 * JSON object answered (the caller's, to free with
 * api_json_free_secret), or CLI_EXIT_REMOTE after printing. */
int operator_take_key(char **argv, int argi, int argc, const char *prompt, char **key);
int operator_key_body(struct buf *b, const char *key, const char *nonce);
int operator_send_secret(struct cli *cli, const char *doing, const char *method, const char *path, const char *body,
                         json_t **out);
int cmd_login(int argc, char **argv);
int cmd_read(int argc, char **argv);
/* trove path-help (path_help.c) */
int cmd_path_help(int argc, char **argv);
int cmd_write(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_patch(int argc, char **argv);
int cmd_kv(int argc, char **argv);
int cmd_secrets(int argc, char **argv);
int cmd_auth(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_unwrap(int argc, char **argv);
int cmd_lease(int argc, char **argv);
/* trove pki ... (pki.c) */
int cmd_pki(int argc, char **argv);

/* Prints a seal-status response (as from sys/seal-status or sys/unseal) in
 * cli's format, adding HA fields from sys/leader. Returns CLI_EXIT_OK, or
 * 1 after printing (any failure, as Vault's seal-status display: `status`
 * keeps 2 for "sealed"). Shared by status and operator unseal. */
int status_print_seal(struct cli *cli, const json_t *seal_status);

#endif
