/* audit_query_cmd.c — the commands `trove audit query` and `trove audit
 * consumers` (audit_query_cmd.h): their flags, the filter those build,
 * hashing -client-token on the server, and the answers printed as a table,
 * JSON or YAML. A query's entries are printed as the scan hands them out
 * (audit_query.c): JSON and YAML hold one entry at a time, a table only
 * its cells. Both commands read the log files on this machine; only
 * `query -client-token` asks the server, for the token's hash under a
 * device's salt. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/audit_query.h"
#include "cli/audit_query_cmd.h"
#include "cli/cli.h"
#include "secure.h"

#include "banned.h"

/* ---- commands: what both share ---------------------------------------- */

/* Feeds each value of a list flag to the filter. */
static int add_all(struct aq_filter *f, const char *name, const struct strlist *values, struct buf *err)
{
	size_t i;

	for (i = 0; i < values->len; i++)
		if (aq_filter_add(f, name, values->items[i], err) != 0)
			return -1;
	return 0;
}

/* Reads every log named in files[0..n) into s. Returns an exit code. */
static int scan_logs(struct aq_scan *s, char **files, int n)
{
	struct buf err;
	int i, r = CLI_EXIT_OK;

	buf_init(&err, BUF_CAP_DEFAULT);
	for (i = 0; i < n && r == CLI_EXIT_OK; i++) {
		if (aq_scan_log(s, files[i], &err) != 0) {
			fprintf(stderr, "Error reading audit log %s\n", err.data);
			r = CLI_EXIT_LOCAL;
		}
	}
	buf_release(&err);
	return r;
}

static void note_malformed(const struct aq_scan *s)
{
	if (s->malformed > 0)
		fprintf(stderr, "Note: skipped %zu malformed line%s\n", s->malformed,
		        s->malformed == 1 ? "" : "s");
}

static const char *cell(const char *s)
{
	return aq_has_text(s) ? s : "n/a";
}

/* An empty answer says so on stderr. */
static void note_empty(size_t n)
{
	if (n == 0)
		fprintf(stderr, "No matching entries.\n");
}

/* Prints results (an array) in cli's format. Returns an exit code. */
static int print_results(const struct cli *cli, const json_t *results, void (*table)(const json_t *))
{
	note_empty(json_array_size(results));
	if (cli->format != CLI_FORMAT_TABLE)
		return cli_print_data(cli, results);
	if (json_array_size(results) > 0)
		table(results);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
}

/* ---- query ------------------------------------------------------------ */

const struct cli_command audit_query_spec = {
    .name = "audit query",
    .synopsis = "Find requests in file audit logs",
    .args = "[options] FILE...",
    .help = "Answer \"what happened\": which requests touched a path, which were denied, what a token, "
            "an entity, a role or an address did, and when. Reads the file audit logs FILE on this "
            "machine, with their rotated siblings (FILE.1, FILE.2.gz, FILE-20240501.gz, ...), oldest "
            "first, and prints the matching entries in time order. Lines may carry a prefix before "
            "the JSON; lines that are not audit entries are skipped and counted.\n\n"
            "Each request appears once: by its response entry, or by its request entry when no "
            "response was logged (the server stopped, say); -type changes that. Filters are ANDed; a "
            "filter given several times matches any of its values. Identity filters (-display-name, "
            "-entity, -role) read the auth block of the token that made the request, or for a login "
            "the auth it issued.\n\n"
            "Only -client-token asks the server: for the token's hash under the audit device's salt "
            "(sys/audit-hash), which needs a token with sudo there, taken as by other commands from "
            "-token, TROVE_TOKEN, VAULT_TOKEN or the token helper's file. Exit status: 0 (also when "
            "nothing matches: \"No matching entries.\" on stderr), 1 on a usage error or when a file "
            "cannot be read, 2 when the server fails or cannot be reached.\n\n"
            "  $ trove audit query -path=secret/data/app -denied /var/log/trove/audit.log\n"
            "  $ trove audit query -since=24h -remote=10.0.0.0/8 -op=delete audit.log\n"
            "  $ trove audit query -path='secret/data/*/db' -format=json audit.log\n"
            "  $ trove audit query -client-token=\"$T\" -device=file audit.log",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

/* The list-valued and boolean filters of query, by filter name. */
struct query_flags {
	struct strlist path, op, display_name, entity, role, mount, remote, token_hash;
	const char *since, *until, *type, *client_token, *device;
	bool allowed, denied, error;
};

/* Takes a secret flag's value out of argv[1..nargs): value is where
 * cli_start found it, in "-flag=V" or as the argument V after "-flag";
 * that argument is wiped (cli_take_secret_arg), so the value leaves
 * /proc/<pid>/cmdline. Returns a copy (free with secure_free_str), or NULL
 * when the flag was not given. */
static char *take_secret_flag(const char *value, int nargs, char **argv)
{
	const char *eq;
	char *whole, *tok;
	size_t off;
	int i;

	for (i = 1; value && i < nargs; i++) {
		eq = strchr(argv[i], '=');
		if (value == argv[i])
			off = 0;
		else if (eq && value == eq + 1)
			off = (size_t)(eq + 1 - argv[i]);
		else
			continue;
		whole = cli_take_secret_arg(argv, i);
		tok = xstrdup(whole + off);
		secure_free_str(whole);
		return tok;
	}
	return NULL;
}

static int query_filter(const struct cli_command *spec, const struct query_flags *q, struct aq_filter *f)
{
	const struct {
		const char *name;
		const struct strlist *values;
	} lists[] = {
	    {"path", &q->path},
	    {"op", &q->op},
	    {"display-name", &q->display_name},
	    {"entity", &q->entity},
	    {"role", &q->role},
	    {"mount", &q->mount},
	    {"remote", &q->remote},
	    {"token-hash", &q->token_hash},
	};
	struct buf err;
	size_t i;
	int r = 0;

	buf_init(&err, BUF_CAP_DEFAULT);
	for (i = 0; r == 0 && i < sizeof(lists) / sizeof(lists[0]); i++)
		r = add_all(f, lists[i].name, lists[i].values, &err);
	if (r == 0 && q->since)
		r = aq_filter_add(f, "since", q->since, &err);
	if (r == 0 && q->until)
		r = aq_filter_add(f, "until", q->until, &err);
	if (r == 0 && q->type)
		r = aq_filter_add(f, "type", q->type, &err);
	if (r == 0 && q->allowed)
		r = aq_filter_add(f, "allowed", NULL, &err);
	if (r == 0 && q->denied)
		r = aq_filter_add(f, "denied", NULL, &err);
	if (r == 0 && q->error)
		r = aq_filter_add(f, "error", NULL, &err);
	if (r != 0)
		r = cli_usage_error(spec, "%s", err.data);
	buf_release(&err);
	return r;
}

/* Asks the server for token's hash under device's salt and adds it to
 * the filter. Returns an exit code. */
static int hash_token(struct cli *cli, const char *device, const char *token, struct aq_filter *f)
{
	json_t *body = json_object(), *resp = NULL;
	const char *hash;
	struct buf api, err;
	char *dev = cli_trim_slashes(device);
	int r;

	buf_init(&api, BUF_CAP_DEFAULT);
	buf_init(&err, BUF_CAP_DEFAULT);
	(void)buf_printf(&api, "sys/audit-hash/%s", dev);
	json_object_set_new(body, "input", json_string(token));
	r = cli_api(cli, "hashing the token", "PUT", api.data, body, &resp);
	hash = aq_str(json_object_get(resp, "data"), "hash");
	if (hash == NULL)
		hash = aq_str(resp, "hash");
	if (r == 0 && aq_filter_add(f, "token-hash", hash, &err) != 0) {
		fprintf(stderr, "Error hashing the token: the server's answer holds no hmac-sha256 hash\n");
		r = CLI_EXIT_REMOTE;
	}
	api_json_free_secret(body);
	json_decref(resp);
	buf_release(&api);
	buf_release(&err);
	free(dev);
	return r;
}

/* A query's entries printed as the scan hands them out, in cli's format:
 * JSON and YAML one entry at a time, a table once all its rows are in. */
struct entry_printer {
	enum cli_format format;
	size_t n;   /* entries printed */
	int status; /* exit code so far */
	struct cli_table table;
	struct buf when, pol;
};

static void printer_init(struct entry_printer *p, enum cli_format format)
{
	memset(p, 0, sizeof(*p));
	p->format = format;
	p->status = CLI_EXIT_OK;
	buf_init(&p->when, BUF_CAP_DEFAULT);
	buf_init(&p->pol, BUF_CAP_DEFAULT);
	cli_table_init(&p->table, 10);
	cli_table_header(&p->table, "Time", "Type", "Operation", "Path", "Allowed", "Display Name", "Entity",
	                 "Remote", "Policies", "Error");
}

static void printer_release(struct entry_printer *p)
{
	cli_table_release(&p->table);
	buf_release(&p->when);
	buf_release(&p->pol);
}

static void table_row(struct entry_printer *p, const struct aq_entry *e)
{
	buf_reset(&p->when);
	buf_reset(&p->pol);
	aq_time_format(&e->time, false, &p->when);
	aq_entry_policies(e, &p->pol);
	cli_table_row(&p->table, p->when.data, e->kind == AQ_REQUEST ? "request" : "response", cell(e->op),
	              cell(e->path), aq_entry_allowed(e) ? "true" : "false",
	              cell(aq_str(e->auth, "display_name")), cell(aq_str(e->auth, "entity_id")),
	              cell(e->remote), cell(p->pol.data), cell(e->error));
}

static int write_failed(void)
{
	fprintf(stderr, "Error: could not write the output: %s\n", strerror(errno));
	return CLI_EXIT_LOCAL;
}

/* One entry as an element of the JSON array cli_print_json would print:
 * the entry indented by two more spaces. */
static int json_element(size_t n, const json_t *root)
{
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	const char *p, *nl;

	if (text == NULL)
		return write_failed();
	fputs(n == 0 ? "[\n  " : ",\n  ", stdout);
	for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		fwrite(p, 1, (size_t)(nl + 1 - p), stdout);
		fputs("  ", stdout);
	}
	fputs(p, stdout);
	free(text);
	return ferror(stdout) ? write_failed() : CLI_EXIT_OK;
}

/* One entry as an item of the YAML sequence cli_print_yaml would print. */
static int yaml_item(const json_t *root)
{
	json_t *one = json_array();
	int r;

	json_array_append(one, (json_t *)root);
	r = cli_print_yaml(one);
	json_decref(one);
	return r;
}

static bool print_entry(void *arg, const struct aq_entry *e)
{
	struct entry_printer *p = arg;

	if (p->format == CLI_FORMAT_TABLE)
		table_row(p, e);
	else if (p->format == CLI_FORMAT_JSON)
		p->status = json_element(p->n, e->root);
	else
		p->status = yaml_item(e->root);
	p->n++;
	return p->status == CLI_EXIT_OK;
}

/* What follows the last entry. Returns an exit code. */
static int printer_end(struct entry_printer *p)
{
	json_t *none;

	if (p->status != CLI_EXIT_OK)
		return p->status;
	if (p->n == 0 && p->format != CLI_FORMAT_TABLE) {
		none = json_array();
		p->status = p->format == CLI_FORMAT_JSON ? cli_print_json(none) : cli_print_yaml(none);
		json_decref(none);
		return p->status;
	}
	if (p->format == CLI_FORMAT_JSON) {
		fputs("\n]\n", stdout);
		return ferror(stdout) || fflush(stdout) != 0 ? write_failed() : CLI_EXIT_OK;
	}
	if (p->format == CLI_FORMAT_TABLE && p->n > 0)
		cli_table_print(&p->table, stdout);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
}

/* Prints the entries of s (read) in cli's format. Returns an exit code. */
static int print_entries(const struct cli *cli, struct aq_scan *s)
{
	struct entry_printer p;
	struct buf err;
	int r;

	note_empty(aq_scan_count(s));
	printer_init(&p, cli->format);
	buf_init(&err, BUF_CAP_DEFAULT);
	if (aq_scan_each(s, print_entry, &p, &err) < 0) {
		fprintf(stderr, "Error reading audit log %s\n", err.data);
		r = CLI_EXIT_LOCAL;
	} else {
		r = printer_end(&p);
	}
	buf_release(&err);
	printer_release(&p);
	return r;
}

static int query_answer(struct cli *cli, struct aq_filter *f, const char *client_token, const char *device,
                        char **files, int nfiles)
{
	struct aq_scan s;
	int r;

	if (client_token && (r = hash_token(cli, device, client_token, f)) != 0)
		return r;
	aq_scan_init(&s, f, AQ_MODE_ENTRIES);
	r = scan_logs(&s, files, nfiles);
	if (r == CLI_EXIT_OK) {
		r = print_entries(cli, &s);
		note_malformed(&s);
	}
	aq_scan_release(&s);
	return r;
}

int audit_query_run(int argc, char **argv)
{
	struct query_flags q;
	struct aq_filter f;
	struct cli cli;
	char *client_token = NULL;
	int argi, r;

	memset(&q, 0, sizeof(q));
	const struct cli_flag flags[] = {
	    {"allowed", NULL, CLI_FLAG_BOOL, &q.allowed, 0, 0, NULL, "Only requests the policies allowed."},
	    {"client-token", NULL, CLI_FLAG_STRING, &q.client_token, 0, 0, NULL,
	     "Only requests made with this token (or the login that issued it). Needs -device. The server "
	     "hashes it, in a request authenticated by -token as any command's is; the value is wiped "
	     "from the process's command line once read."},
	    {"denied", NULL, CLI_FLAG_BOOL, &q.denied, 0, 0, NULL,
	     "Only requests the policies denied (policy_results.allowed false, or else the error "
	     "\"permission denied\")."},
	    {"device", NULL, CLI_FLAG_STRING, &q.device, 0, 0, NULL,
	     "With -client-token: the path of the audit device (as in `trove audit list`) that wrote the "
	     "logs; its salt makes the hash."},
	    {"display-name", NULL, CLI_FLAG_LIST, &q.display_name, 0, 0, NULL,
	     "Only requests by tokens of this display name; repeat for more."},
	    {"entity", NULL, CLI_FLAG_LIST, &q.entity, 0, 0, NULL,
	     "Only requests of this entity ID (auth.entity_id); repeat for more."},
	    {"error", NULL, CLI_FLAG_BOOL, &q.error, 0, 0, NULL, "Only requests that ended in an error."},
	    {"mount", NULL, CLI_FLAG_LIST, &q.mount, 0, 0, NULL,
	     "Only requests to this mount (request.mount_point, with or without the trailing slash); "
	     "repeat for more."},
	    {"op", NULL, CLI_FLAG_LIST, &q.op, 0, 0, NULL,
	     "Only this operation: read, create, update, patch, delete or list; repeat for more."},
	    {"path", NULL, CLI_FLAG_LIST, &q.path, 0, 0, NULL,
	     "Only requests whose path starts with this prefix, or matches it as a glob when it holds "
	     "'*' (any characters, '/' included) or '?' (one character); repeat for more."},
	    {"remote", NULL, CLI_FLAG_LIST, &q.remote, 0, 0, NULL,
	     "Only requests from this address or network (10.0.0.0/8, 2001:db8::/32); repeat for more."},
	    {"role", NULL, CLI_FLAG_LIST, &q.role, 0, 0, NULL,
	     "Only requests by tokens of this role (auth metadata role, role_name or "
	     "service_account_name); repeat for more."},
	    {"since", NULL, CLI_FLAG_STRING, &q.since, 0, 0, NULL,
	     "Only entries at or after this time: RFC 3339 (2024-05-01T10:00:00Z), a date (2024-05-01, "
	     "UTC), or a duration before now (30m, 24h, 7d)."},
	    {"token-hash", NULL, CLI_FLAG_LIST, &q.token_hash, 0, 0, NULL,
	     "Only requests made with the token of this hash (hmac-sha256:..., as sys/audit-hash gives), or "
	     "the login that issued it; repeat for more."},
	    {"type", NULL, CLI_FLAG_STRING, &q.type, 0, 0, "response",
	     "Which entries to show: \"response\" (one per request), \"request\" or \"all\"."},
	    {"until", NULL, CLI_FLAG_STRING, &q.until, 0, 0, NULL,
	     "Only entries before this time; the same forms as -since."},
	    CLI_FLAG_END,
	};

	aq_filter_init(&f, (int64_t)time(NULL));
	r = cli_start(&cli, &audit_query_spec, flags, argc, argv, &argi);
	client_token = take_secret_flag(q.client_token, r == CLI_PROCEED ? argi : argc, argv);
	if (r != CLI_PROCEED)
		goto done;
	if (argi >= argc)
		r = cli_usage_error(&audit_query_spec,
		                    "Not enough arguments (expected at least 1 FILE, got 0)");
	else if ((q.client_token == NULL) != (q.device == NULL))
		r = cli_usage_error(&audit_query_spec, "-client-token and -device go together");
	else if ((r = query_filter(&audit_query_spec, &q, &f)) == 0)
		r = query_answer(&cli, &f, client_token, q.device, argv + argi, argc - argi);
	cli_release(&cli);
done:
	secure_free_str(client_token);
	cli_flags_release(flags);
	aq_filter_release(&f);
	return r;
}

/* ---- consumers -------------------------------------------------------- */

const struct cli_command audit_consumers_spec = {
    .name = "audit consumers",
    .synopsis = "List who used a secret, from file audit logs",
    .args = "[options] PATH FILE...",
    .help = "Answer \"who read this secret\": every identity whose requests to PATH were allowed and "
            "succeeded, with its policies, first and last access and how many. PATH is a prefix, or a "
            "glob when it holds '*' or '?'. Reads the file audit logs FILE on this machine with their "
            "rotated siblings, as `trove audit query` does; nothing is sent to the server.\n\n"
            "An identity is the entity ID of the token; for tokens without an entity, the display "
            "name, role and the auth mount that issued the token (shown as Identity when the login is "
            "in the logs). By default only reads and lists in the last 30 days count: -op=any counts "
            "every operation. Exit status as for `trove audit query`.\n\n"
            "  $ trove audit consumers secret/data/app/db /var/log/trove/audit.log\n"
            "  $ trove audit consumers -since=7d -op=any 'secret/data/app/*' audit.log",
    .opts = CLI_OPT_OUTPUT,
};

static void consumers_table(const json_t *results)
{
	struct cli_table t;
	struct buf pol, first, last;
	char count[32];
	size_t i, j;

	cli_table_init(&t, 7);
	cli_table_header(&t, "Identity", "Display Name", "Role", "Policies", "First Access", "Last Access",
	                 "Count");
	buf_init(&pol, BUF_CAP_DEFAULT);
	buf_init(&first, BUF_CAP_DEFAULT);
	buf_init(&last, BUF_CAP_DEFAULT);
	for (i = 0; i < json_array_size(results); i++) {
		const json_t *c = json_array_get(results, i), *policies = json_object_get(c, "policies");
		struct aq_time tf, tl;
		const char *id = aq_str(c, "entity_id");

		buf_reset(&pol);
		buf_reset(&first);
		buf_reset(&last);
		for (j = 0; j < json_array_size(policies); j++)
			(void)buf_printf(&pol, "%s%s", j ? "," : "",
			                 json_string_value(json_array_get(policies, j)));
		if (aq_time_parse(aq_str(c, "first"), &tf) && aq_time_parse(aq_str(c, "last"), &tl)) {
			aq_time_format(&tf, false, &first);
			aq_time_format(&tl, false, &last);
		}
		snprintf(count, sizeof(count), "%lld",
		         (long long)json_integer_value(json_object_get(c, "count")));
		cli_table_row(&t, cell(aq_has_text(id) ? id : aq_str(c, "auth_mount")),
		              cell(aq_str(c, "display_name")), cell(aq_str(c, "role")), cell(pol.data),
		              first.data, last.data, count);
	}
	cli_table_print(&t, stdout);
	cli_table_release(&t);
	buf_release(&pol);
	buf_release(&first);
	buf_release(&last);
}

/* The consumers filter: PATH, allowed without error, -op (read and list
 * by default), -since (30 days by default) and -until. */
static int consumers_filter(const char *path, const struct strlist *ops, const char *since, const char *until,
                            struct aq_filter *f)
{
	struct buf err;
	int r;

	buf_init(&err, BUF_CAP_DEFAULT);
	f->allowed = AQ_YES;
	f->error = AQ_NO;
	r = aq_filter_add(f, "path", path, &err);
	if (r == 0 && ops->len == 0)
		r = aq_filter_add(f, "op", "read", &err);
	if (r == 0 && ops->len == 0)
		r = aq_filter_add(f, "op", "list", &err);
	if (r == 0)
		r = add_all(f, "op", ops, &err);
	if (r == 0)
		r = aq_filter_add(f, "since", since, &err);
	if (r == 0 && until)
		r = aq_filter_add(f, "until", until, &err);
	if (r != 0)
		r = cli_usage_error(&audit_consumers_spec, "%s", err.data);
	buf_release(&err);
	return r;
}

int audit_consumers_run(int argc, char **argv)
{
	struct strlist ops;
	const char *since = "30d", *until = NULL;
	const struct cli_flag flags[] = {
	    {"op", NULL, CLI_FLAG_LIST, &ops, 0, 0, "read and list",
	     "Count this operation: read, create, update, patch, delete, list, or any for all; repeat "
	     "for more."},
	    {"since", NULL, CLI_FLAG_STRING, &since, 0, 0, "30d",
	     "Count accesses at or after this time: RFC 3339, a date (UTC), or a duration before now."},
	    {"until", NULL, CLI_FLAG_STRING, &until, 0, 0, NULL,
	     "Count accesses before this time; the same forms as -since."},
	    CLI_FLAG_END,
	};
	struct aq_filter f;
	struct aq_scan s;
	struct cli cli;
	json_t *results;
	int argi, r;

	strlist_init(&ops);
	aq_filter_init(&f, (int64_t)time(NULL));
	r = cli_start(&cli, &audit_consumers_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if (argc - argi < 2) {
		r = cli_usage_error(&audit_consumers_spec,
		                    "Not enough arguments (expected PATH and at least 1 FILE, got %d)",
		                    argc - argi);
		goto out;
	}
	if ((r = consumers_filter(argv[argi], &ops, since, until, &f)) != 0)
		goto out;
	aq_scan_init(&s, &f, AQ_MODE_CONSUMERS);
	r = scan_logs(&s, argv + argi + 1, argc - argi - 1);
	if (r == CLI_EXIT_OK) {
		results = aq_scan_consumers(&s);
		r = print_results(&cli, results, consumers_table);
		json_decref(results);
		note_malformed(&s);
	}
	aq_scan_release(&s);
out:
	cli_release(&cli);
done:
	cli_flags_release(flags);
	aq_filter_release(&f);
	return r;
}
