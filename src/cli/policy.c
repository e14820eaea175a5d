/* policy.c — `trove policy ...`: ACL policies on the server (write, read,
 * list, delete through sys/policies/acl) and `policy fmt`, which rewrites
 * a local policy file in one canonical HCL layout.
 *
 * fmt parses with the project's HCL parser (src/lib/hcl.c), checks the
 * shape of a policy (path blocks with known keys and capabilities), and
 * prints the tree back: blocks for `path "..." { }`, `key = value` inside
 * with the '=' signs aligned, two-space indentation, a blank line between
 * top-level blocks. The parser drops comments, so a file with comments is
 * refused rather than silently stripped. The file is replaced atomically
 * (temporary file in the same directory, then rename). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "hcl.h"

#include "banned.h"

#define POLICY_MAX ((size_t)4 << 20)

static char *lower_dup(const char *s)
{
	char *out = cli_trim_slashes(s), *p;

	for (p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

/* ---- write ------------------------------------------------------------ */

static const struct cli_command write_spec = {
    .name = "policy write",
    .synopsis = "Upload a policy",
    .args = "[options] NAME PATH",
    .help = "Upload the policy in the file at PATH (or stdin when PATH is \"-\") under NAME, "
            "replacing any policy of that name. Names are lower-cased.\n\n"
            "  $ trove policy write readers readers.hcl\n"
            "  $ cat readers.hcl | trove policy write readers -",
    .opts = CLI_OPT_HTTP,
};

static int policy_write(int argc, char **argv)
{
	struct cli cli;
	struct buf text;
	json_t *body = NULL;
	char *name = NULL;
	struct buf api;
	int argi, r;

	buf_init(&text, POLICY_MAX);
	buf_init(&api, BUF_CAP_DEFAULT);
	r = cli_start(&cli, &write_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if ((r = cli_args_exactly(&write_spec, argc - argi, 2)) != 0)
		goto out;
	if ((r = cli_read_input(argv[argi + 1], &text)) != 0)
		goto out;
	name = lower_dup(argv[argi]);
	(void)buf_printf(&api, "sys/policies/acl/%s", name);
	body = json_object();
	if (json_object_set_new(body, "policy", json_stringn(text.data, text.len)) != 0) {
		fprintf(stderr, "Error: the policy in %s is not valid UTF-8 text\n", argv[argi + 1]);
		r = CLI_EXIT_LOCAL;
		goto out;
	}
	if ((r = cli_api(&cli, "uploading policy", "PUT", api.data, body, NULL)) != 0)
		goto out;
	printf("Success! Uploaded policy: %s\n", name);
	r = CLI_EXIT_OK;
out:
	json_decref(body);
	free(name);
	cli_release(&cli);
done:
	buf_release(&api);
	buf_release(&text);
	return r;
}

/* ---- read ------------------------------------------------------------- */

static const struct cli_command read_spec = {
    .name = "policy read",
    .synopsis = "Print a policy",
    .args = "[options] NAME",
    .help = "Print the text of the policy NAME. Exits with status 2 when there is no such policy.\n\n"
            "  $ trove policy read default",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int policy_read(int argc, char **argv)
{
	struct cli cli;
	json_t *resp = NULL;
	const json_t *data;
	const char *text;
	char *name = NULL;
	struct buf api;
	bool found;
	int argi, r;

	buf_init(&api, BUF_CAP_DEFAULT);
	r = cli_start(&cli, &read_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if ((r = cli_args_exactly(&read_spec, argc - argi, 1)) != 0)
		goto out;
	name = lower_dup(argv[argi]);
	(void)buf_printf(&api, "sys/policies/acl/%s", name);
	if ((r = cli_request(&cli, "reading policy", "GET", api.data, NULL, NULL, &resp, &found)) != 0)
		goto out;
	data = json_object_get(resp, "data");
	text = json_string_value(json_object_get(data, "policy"));
	if (!found || text == NULL) {
		fprintf(stderr, "Error: no policy named \"%s\"\n", name);
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	if (cli.format != CLI_FORMAT_TABLE) {
		r = cli_print_data(&cli, data);
		goto out;
	}
	fputs(text, stdout);
	if (*text && text[strlen(text) - 1] != '\n')
		fputc('\n', stdout);
	r = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
out:
	json_decref(resp);
	free(name);
	cli_release(&cli);
done:
	buf_release(&api);
	return r;
}

/* ---- list ------------------------------------------------------------- */

static const struct cli_command list_spec = {
    .name = "policy list",
    .synopsis = "List the policies",
    .args = "[options]",
    .help = "List the names of the ACL policies on the server, one a line.\n\n"
            "  $ trove policy list",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int policy_list(int argc, char **argv)
{
	struct cli cli;
	json_t *resp = NULL;
	const json_t *keys;
	size_t i;
	int argi, r;

	r = cli_start(&cli, &list_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if ((r = cli_args_exactly(&list_spec, argc - argi, 0)) != 0)
		goto out;
	if ((r = cli_api(&cli, "listing policies", "LIST", "sys/policies/acl", NULL, &resp)) != 0)
		goto out;
	keys = json_object_get(json_object_get(resp, "data"), "keys");
	if (!json_is_array(keys))
		keys = json_object_get(resp, "keys");
	if (!json_is_array(keys)) {
		fprintf(stderr, "Error listing policies: the server's answer holds no list of names\n");
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	if (cli.format != CLI_FORMAT_TABLE) {
		r = cli_print_data(&cli, keys);
		goto out;
	}
	for (i = 0; i < json_array_size(keys); i++)
		if (json_is_string(json_array_get(keys, i)))
			printf("%s\n", json_string_value(json_array_get(keys, i)));
	r = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
out:
	json_decref(resp);
	cli_release(&cli);
	return r;
}

/* ---- delete ----------------------------------------------------------- */

static const struct cli_command delete_spec = {
    .name = "policy delete",
    .synopsis = "Delete a policy",
    .args = "[options] NAME",
    .help = "Delete the policy NAME. Tokens that carry it lose its permissions at once. The "
            "\"default\" and \"root\" policies cannot be deleted.\n\n"
            "  $ trove policy delete readers",
    .opts = CLI_OPT_HTTP,
};

static int policy_delete(int argc, char **argv)
{
	struct cli cli;
	char *name = NULL;
	struct buf api;
	int argi, r;

	buf_init(&api, BUF_CAP_DEFAULT);
	r = cli_start(&cli, &delete_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if ((r = cli_args_exactly(&delete_spec, argc - argi, 1)) != 0)
		goto out;
	name = lower_dup(argv[argi]);
	(void)buf_printf(&api, "sys/policies/acl/%s", name);
	if ((r = cli_api(&cli, "deleting policy", "DELETE", api.data, NULL, NULL)) != 0)
		goto out;
	printf("Success! Deleted policy: %s\n", name);
	r = CLI_EXIT_OK;
out:
	free(name);
	cli_release(&cli);
done:
	buf_release(&api);
	return r;
}

/* ---- fmt: checking ---------------------------------------------------- */

static const char *const path_keys[] = {
    "capabilities",        "policy",           "required_parameters", "allowed_parameters",
    "denied_parameters",   "min_wrapping_ttl", "max_wrapping_ttl",    "mfa_methods",
    "control_group",       "pagination_limit", "subscribe_event_types",
};

static const char *const capabilities[] = {"create", "read",  "update", "patch",     "delete",
                                           "list",   "sudo",  "deny",   "subscribe", "root"};

static bool in_list(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

/* Sets err to "<what>" or "<what> \"<name>\"" at line; returns -1. */
static int fmt_error(struct hcl_error *err, int line, const char *what, const char *name)
{
	err->line = line;
	if (name)
		snprintf(err->message, sizeof(err->message), "%s \"%s\"", what, name);
	else
		snprintf(err->message, sizeof(err->message), "%s", what);
	return -1;
}

static int check_path_body(const struct hcl_value *body, struct hcl_error *err)
{
	size_t i, j;

	if (body->type != HCL_OBJECT)
		return fmt_error(err, body->line, "a path block needs a body in braces", NULL);
	for (i = 0; i < body->u.object.len; i++) {
		const struct hcl_member *m = &body->u.object.members[i];

		if (!in_list(m->key, path_keys, sizeof(path_keys) / sizeof(path_keys[0])))
			return fmt_error(err, m->line, "invalid key in a path block:", m->key);
		if (strcmp(m->key, "capabilities") != 0)
			continue;
		if (m->value->type != HCL_LIST)
			return fmt_error(err, m->line, "capabilities must be a list of strings", NULL);
		for (j = 0; j < m->value->u.list.len; j++) {
			const struct hcl_value *c = m->value->u.list.items[j];

			if (c->type != HCL_STRING)
				return fmt_error(err, c->line, "capabilities must be a list of strings", NULL);
			if (!in_list(c->u.string.ptr, capabilities, sizeof(capabilities) / sizeof(capabilities[0])))
				return fmt_error(err, c->line, "invalid capability", c->u.string.ptr);
		}
	}
	return 0;
}

/* Checks the policy's shape. JSON's {"path": {"p": {...}}} has no labels;
 * such members are accepted as path blocks too. */
static int check_policy(const struct hcl_value *root, struct hcl_error *err)
{
	size_t i, j;

	for (i = 0; i < root->u.object.len; i++) {
		const struct hcl_member *m = &root->u.object.members[i];

		if (strcmp(m->key, "name") == 0 && m->value->type == HCL_STRING)
			continue;
		if (strcmp(m->key, "path") != 0)
			return fmt_error(err, m->line, "a policy holds only path blocks; invalid key", m->key);
		if (m->nlabels == 1) {
			if (check_path_body(m->value, err) != 0)
				return -1;
			continue;
		}
		if (m->nlabels > 1 || m->value->type != HCL_OBJECT)
			return fmt_error(err, m->line, "want path \"<path>\" { ... }", NULL);
		for (j = 0; j < m->value->u.object.len; j++)
			if (check_path_body(m->value->u.object.members[j].value, err) != 0)
				return -1;
	}
	return 0;
}

/* True when text has a comment outside strings (#, // or slash-star). */
static bool has_comment(const char *s, size_t len)
{
	size_t i;
	bool in_str = false;

	for (i = 0; i < len; i++) {
		if (in_str) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_str = false;
			continue;
		}
		if (s[i] == '"')
			in_str = true;
		else if (s[i] == '#' || (s[i] == '/' && i + 1 < len && (s[i + 1] == '/' || s[i + 1] == '*')))
			return true;
	}
	return false;
}

/* ---- fmt: printing ---------------------------------------------------- */

static void put_string(struct buf *b, const char *s)
{
	const unsigned char *p;

	(void)buf_append_byte(b, '"');
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			(void)buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			(void)buf_append_str(b, "\\n");
		else if (*p == '\t')
			(void)buf_append_str(b, "\\t");
		else if (*p == '\r')
			(void)buf_append_str(b, "\\r");
		else if (*p < 0x20)
			(void)buf_printf(b, "\\u%04x", *p);
		else
			(void)buf_append_byte(b, (char)*p);
	}
	(void)buf_append_byte(b, '"');
}

static bool is_ident(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (s++; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

static void put_key(struct buf *b, const char *k)
{
	if (is_ident(k))
		(void)buf_append_str(b, k);
	else
		put_string(b, k);
}

static size_t key_width(const char *k)
{
	return strlen(k) + (is_ident(k) ? 0 : 2);
}

static void put_body(struct buf *b, const struct hcl_value *obj, int indent);

static void put_value(struct buf *b, const struct hcl_value *v, int indent)
{
	size_t i;
	bool simple = true;

	switch (v->type) {
	case HCL_STRING:
		put_string(b, v->u.string.ptr);
		break;
	case HCL_INT:
		(void)buf_printf(b, "%lld", (long long)v->u.i);
		break;
	case HCL_FLOAT:
		(void)buf_printf(b, "%.17g", v->u.f);
		break;
	case HCL_BOOL:
		(void)buf_append_str(b, v->u.b ? "true" : "false");
		break;
	case HCL_OBJECT:
		if (v->u.object.len == 0) {
			(void)buf_append_str(b, "{}");
			break;
		}
		(void)buf_append_str(b, "{\n");
		put_body(b, v, indent + 2);
		(void)buf_printf(b, "%*s}", indent, "");
		break;
	case HCL_LIST:
		for (i = 0; i < v->u.list.len; i++)
			if (v->u.list.items[i]->type == HCL_OBJECT || v->u.list.items[i]->type == HCL_LIST)
				simple = false;
		(void)buf_append_byte(b, '[');
		for (i = 0; i < v->u.list.len; i++) {
			if (simple) {
				if (i > 0)
					(void)buf_append_str(b, ", ");
			} else {
				(void)buf_printf(b, "\n%*s", indent + 2, "");
			}
			put_value(b, v->u.list.items[i], indent + 2);
			if (!simple)
				(void)buf_append_byte(b, ',');
		}
		if (!simple && v->u.list.len > 0)
			(void)buf_printf(b, "\n%*s", indent, "");
		(void)buf_append_byte(b, ']');
		break;
	}
}

/* A member printed as a block: it has labels, or is a JSON-style path
 * map whose entries become blocks. */
static void put_block(struct buf *b, const char *key, char *const *labels, size_t nlabels,
                      const struct hcl_value *body, int indent)
{
	size_t i;

	(void)buf_printf(b, "%*s", indent, "");
	put_key(b, key);
	for (i = 0; i < nlabels; i++) {
		(void)buf_append_byte(b, ' ');
		put_string(b, labels[i]);
	}
	if (body->type != HCL_OBJECT || body->u.object.len == 0) {
		(void)buf_append_str(b, " {}\n");
		return;
	}
	(void)buf_append_str(b, " {\n");
	put_body(b, body, indent + 2);
	(void)buf_printf(b, "%*s}\n", indent, "");
}

static void put_body(struct buf *b, const struct hcl_value *obj, int indent)
{
	size_t i, w = 0;

	for (i = 0; i < obj->u.object.len; i++) {
		const struct hcl_member *m = &obj->u.object.members[i];

		if (m->nlabels == 0 && key_width(m->key) > w)
			w = key_width(m->key);
	}
	for (i = 0; i < obj->u.object.len; i++) {
		const struct hcl_member *m = &obj->u.object.members[i];

		if (m->nlabels > 0) {
			put_block(b, m->key, m->labels, m->nlabels, m->value, indent);
			continue;
		}
		(void)buf_printf(b, "%*s", indent, "");
		put_key(b, m->key);
		(void)buf_printf(b, "%*s = ", (int)(w - key_width(m->key)), "");
		put_value(b, m->value, indent);
		(void)buf_append_byte(b, '\n');
	}
}

/* The canonical text of a checked policy. */
static void put_policy(struct buf *b, const struct hcl_value *root)
{
	size_t i, j;
	bool first = true;

	for (i = 0; i < root->u.object.len; i++) {
		const struct hcl_member *m = &root->u.object.members[i];

		if (m->nlabels == 0 && m->value->type != HCL_OBJECT) {
			if (!first)
				(void)buf_append_byte(b, '\n');
			put_key(b, m->key);
			(void)buf_append_str(b, " = ");
			put_value(b, m->value, 0);
			(void)buf_append_byte(b, '\n');
			first = false;
			continue;
		}
		if (m->nlabels > 0) {
			if (!first)
				(void)buf_append_byte(b, '\n');
			put_block(b, m->key, m->labels, m->nlabels, m->value, 0);
			first = false;
			continue;
		}
		/* JSON form: "path": {"p": {...}, ...} */
		for (j = 0; j < m->value->u.object.len; j++) {
			const struct hcl_member *p = &m->value->u.object.members[j];
			char *label = p->key;

			if (!first)
				(void)buf_append_byte(b, '\n');
			put_block(b, m->key, &label, 1, p->value, 0);
			first = false;
		}
	}
}

/* Replaces path's content with text, keeping its permissions. */
static int replace_file(const char *path, const struct buf *text)
{
	struct stat st;
	struct buf tmp;
	size_t off = 0;
	ssize_t n;
	int fd = -1, r = CLI_EXIT_LOCAL;

	buf_init(&tmp, BUF_CAP_DEFAULT);
	(void)buf_printf(&tmp, "%s.tmp-XXXXXX", path);
	if (stat(path, &st) != 0 || (fd = mkstemp(tmp.data)) < 0) {
		fprintf(stderr, "Error writing %s: %s\n", path, strerror(errno));
		goto out;
	}
	while (off < text->len) {
		n = write(fd, text->data + off, text->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off != text->len || fchmod(fd, st.st_mode & 07777) != 0 || fsync(fd) != 0 || close(fd) != 0) {
		fprintf(stderr, "Error writing %s: %s\n", tmp.data, strerror(errno));
		fd = -1;
		unlink(tmp.data);
		goto out;
	}
	fd = -1;
	if (rename(tmp.data, path) != 0) {
		fprintf(stderr, "Error writing %s: %s\n", path, strerror(errno));
		unlink(tmp.data);
		goto out;
	}
	r = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp.data);
	}
	buf_release(&tmp);
	return r;
}

static const struct cli_command fmt_spec = {
    .name = "policy fmt",
    .synopsis = "Format a policy file in place",
    .args = "[options] PATH",
    .help = "Check the policy in the local file PATH and rewrite it in the canonical layout: "
            "path blocks, two-space indentation, aligned '=' signs, one blank line between blocks. "
            "Nothing is sent to the server. An error names the line at fault and leaves the file "
            "as it was. Files with comments are refused, since formatting would drop them.\n\n"
            "  $ trove policy fmt readers.hcl",
    .opts = 0,
};

static int policy_fmt(int argc, char **argv)
{
	struct cli cli;
	struct buf in, out;
	struct hcl_value *root = NULL;
	struct hcl_error err;
	const char *p;
	int argi, r;

	buf_init(&in, POLICY_MAX);
	buf_init(&out, POLICY_MAX);
	memset(&err, 0, sizeof(err));
	r = cli_start(&cli, &fmt_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if ((r = cli_args_exactly(&fmt_spec, argc - argi, 1)) != 0)
		goto out;
	if (strcmp(argv[argi], "-") == 0) {
		r = cli_usage_error(&fmt_spec, "policy fmt rewrites a file: give its path, not \"-\"");
		goto out;
	}
	if ((r = cli_read_input(argv[argi], &in)) != 0)
		goto out;
	for (p = in.data; p < in.data + in.len && isspace((unsigned char)*p); p++)
		;
	if (p < in.data + in.len && *p == '{')
		r = hcl_parse_json(in.data, in.len, &root, &err);
	else
		r = hcl_parse(in.data, in.len, &root, &err);
	if (r == 0 && check_policy(root, &err) != 0)
		r = -1;
	if (r != 0) {
		if (err.line > 0)
			fprintf(stderr, "Error formatting policy %s: line %d: %s\n", argv[argi], err.line, err.message);
		else
			fprintf(stderr, "Error formatting policy %s: %s\n", argv[argi], err.message);
		r = CLI_EXIT_LOCAL;
		goto out;
	}
	if (*p != '{' && has_comment(in.data, in.len)) {
		fprintf(stderr, "Error formatting policy %s: the file has comments, which formatting would "
		                "drop; remove them first\n",
		        argv[argi]);
		r = CLI_EXIT_LOCAL;
		goto out;
	}
	put_policy(&out, root);
	if (out.len == in.len && memcmp(out.data, in.data, in.len) == 0) {
		printf("Success! Formatted policy: %s\n", argv[argi]);
		r = CLI_EXIT_OK;
		goto out;
	}
	if ((r = replace_file(argv[argi], &out)) != 0)
		goto out;
	printf("Success! Formatted policy: %s\n", argv[argi]);
	r = CLI_EXIT_OK;
out:
	hcl_free(root);
	cli_release(&cli);
done:
	buf_release(&in);
	buf_release(&out);
	return r;
}

/* ---- dispatch --------------------------------------------------------- */

static const struct cli_subcommand policy_cmds[] = {
    {&delete_spec, policy_delete}, {&fmt_spec, policy_fmt},     {&list_spec, policy_list},
    {&read_spec, policy_read},     {&write_spec, policy_write},
};

static const struct cli_group policy_group = {
    "policy",
    "Manage ACL policies: named sets of rules that say which paths a token may use and how. "
    "Tokens carry policies; a request is allowed when one of them allows it.\n\n"
    "  $ trove policy write readers readers.hcl\n"
    "  $ trove policy list",
    policy_cmds,
    sizeof(policy_cmds) / sizeof(policy_cmds[0]),
};

int cmd_policy(int argc, char **argv)
{
	return cli_dispatch(&policy_group, argc, argv);
}
