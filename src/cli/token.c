/* token.c — `trove token ...`: create, look up, renew and revoke tokens,
 * and ask what a token may do on a path.
 *
 * Tokens given as arguments are copied and wiped from argv at once (they
 * would otherwise stay readable in /proc/<pid>/cmdline); request bodies
 * and responses holding tokens are wiped when freed. Only create (and
 * login) print a token, since showing it is their purpose. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "secure.h"
#include "strlist_json.h"

#include "banned.h"

#define FIELD_HELP                                                                                           \
	"Print only the field with the given name (such as token or token_accessor), with no trailing "   \
	"newline unless the output is a terminal. Takes precedence over -format."

static int arg_count(const struct cli_command *spec, int have, int min, int max)
{
	if (have < min)
		return cli_usage_error(spec, "Not enough arguments (expected %d, got %d)", min, have);
	if (have > max)
		return cli_usage_error(spec, "Too many arguments (expected at most %d, got %d)", max, have);
	return 0;
}

/* ---- create ----------------------------------------------------------- */

static const struct cli_command create_spec = {
    .name = "token create",
    .synopsis = "Create a token",
    .args = "[options]",
    .help = "Create a new token, by default a child of the token in use: it is revoked when its "
            "parent is, and gets the parent's policies unless -policy names a subset.\n\n"
            "A token with a TTL expires unless renewed; a periodic token (-period) lives as long "
            "as it is renewed within each period. -metadata is written to the audit log whenever "
            "the token is used. With -role, the role's settings may override these flags.\n\n"
            "  $ trove token create -policy=readers -ttl=8h\n"
            "  $ trove token create -period=30m -orphan\n"
            "  $ trove token create -field=token -policy=ci",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static json_t *metadata_object(const struct cli_command *spec, const struct strlist *l, int *r)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < l->len; i++) {
		const char *eq = strchr(l->items[i], '=');
		char *k;

		if (eq == NULL || eq == l->items[i]) {
			json_decref(o);
			*r = cli_usage_error(spec, "Invalid -metadata \"%s\": want key=value", l->items[i]);
			return NULL;
		}
		k = xstrndup(l->items[i], (size_t)(eq - l->items[i]));
		json_object_set_new(o, k, json_string(eq + 1));
		free(k);
	}
	*r = 0;
	return o;
}

static int token_create(int argc, char **argv)
{
	struct cli cli;
	const char *ttl = NULL, *max_ttl = NULL, *period = NULL, *display = NULL, *role = NULL, *type = NULL,
	           *id = NULL, *alias = NULL, *field = NULL;
	long uses = 0;
	bool orphan = false, no_default = false, renewable = true;
	struct strlist policies, metadata;
	const struct cli_flag flags[] = {
	    {"display-name", NULL, CLI_FLAG_STRING, &display, 0, 0, NULL,
	     "A name for the token, shown in lookups and used in the names of credentials it makes."},
	    {"entity-alias", NULL, CLI_FLAG_STRING, &alias, 0, 0, NULL,
	     "Entity alias to tie the token to (with -role; the role must allow it)."},
	    {"explicit-max-ttl", NULL, CLI_FLAG_STRING, &max_ttl, 0, 0, NULL,
	     "A hard limit on the token's lifetime, whatever renewals ask for (a duration such as "
	     "\"24h\")."},
	    {"field", NULL, CLI_FLAG_STRING, &field, 0, 0, NULL, FIELD_HELP},
	    {"id", NULL, CLI_FLAG_STRING, &id, 0, 0, NULL,
	     "The token's value, instead of a random one. Needs root or sudo."},
	    {"metadata", NULL, CLI_FLAG_LIST, &metadata, 0, 0, NULL,
	     "A key=value pair of metadata; repeat for more."},
	    {"no-default-policy", NULL, CLI_FLAG_BOOL, &no_default, 0, 0, NULL,
	     "Do not attach the \"default\" policy."},
	    {"orphan", NULL, CLI_FLAG_BOOL, &orphan, 0, 0, NULL,
	     "Create the token with no parent, so revoking the creator leaves it alone. Needs sudo "
	     "(or root)."},
	    {"period", NULL, CLI_FLAG_STRING, &period, 0, 0, NULL,
	     "Make a periodic token: each renewal extends it by this duration. Needs sudo (or root)."},
	    {"policy", NULL, CLI_FLAG_LIST, &policies, 0, 0, NULL,
	     "A policy to attach; repeat for more. Without it the token gets its parent's policies."},
	    {"renewable", NULL, CLI_FLAG_BOOL, &renewable, 0, 0, "true",
	     "Whether the token may be renewed (up to its maximum TTL)."},
	    {"role", NULL, CLI_FLAG_STRING, &role, 0, 0, NULL,
	     "Create the token against this token role (auth/token/create/<role>)."},
	    {"ttl", NULL, CLI_FLAG_STRING, &ttl, 0, 0, NULL,
	     "Initial TTL, a duration such as \"1h\". The mount's default when unset."},
	    {"type", NULL, CLI_FLAG_STRING, &type, 0, 0, "service", "Token type: \"service\" or \"batch\"."},
	    {"use-limit", "num-uses", CLI_FLAG_INT, &uses, 0, 1L << 31, "0 (unlimited)",
	     "Number of uses after which the token is revoked."},
	    CLI_FLAG_END,
	};
	json_t *body = NULL, *meta = NULL, *resp = NULL;
	struct buf path;
	int argi, r;

	strlist_init(&policies);
	strlist_init(&metadata);
	buf_init(&path, BUF_CAP_DEFAULT);
	r = cli_start(&cli, &create_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if ((r = arg_count(&create_spec, argc - argi, 0, 0)) != 0)
		goto out;
	if (type && strcmp(type, "service") != 0 && strcmp(type, "batch") != 0) {
		r = cli_usage_error(&create_spec, "Invalid -type \"%s\": want \"service\" or \"batch\"", type);
		goto out;
	}
	if ((meta = metadata_object(&create_spec, &metadata, &r)) == NULL)
		goto out;
	body = json_object();
	if (policies.len > 0)
		json_object_set_new(body, "policies", strlist_json(&policies));
	if (json_object_size(meta) > 0)
		json_object_set(body, "meta", meta);
	if (ttl)
		json_object_set_new(body, "ttl", json_string(ttl));
	if (max_ttl)
		json_object_set_new(body, "explicit_max_ttl", json_string(max_ttl));
	if (period)
		json_object_set_new(body, "period", json_string(period));
	if (display)
		json_object_set_new(body, "display_name", json_string(display));
	if (uses > 0)
		json_object_set_new(body, "num_uses", json_integer(uses));
	if (no_default)
		json_object_set_new(body, "no_default_policy", json_true());
	/* Sent only when asked: the server's default is renewable, and a
	 * batch token may not claim to be. */
	if (cli_flag_given(&cli, "renewable"))
		json_object_set_new(body, "renewable", json_boolean(renewable));
	if (type)
		json_object_set_new(body, "type", json_string(type));
	if (id)
		json_object_set_new(body, "id", json_string(id));
	if (alias)
		json_object_set_new(body, "entity_alias", json_string(alias));
	if (role && *role)
		(void)buf_printf(&path, "auth/token/create/%s", role);
	else
		(void)buf_append_str(&path, orphan ? "auth/token/create-orphan" : "auth/token/create");
	if ((r = cli_api(&cli, "creating token", "POST", path.data, body, &resp)) != 0)
		goto out;
	if (!json_is_object(json_object_get(resp, "auth"))) {
		fprintf(stderr, "Error creating token: the server's answer holds no token\n");
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	r = cli_print_secret(&cli, resp, field);
out:
	api_json_free_secret(body);
	api_json_free_secret(resp);
	json_decref(meta);
	cli_release(&cli);
done:
	buf_release(&path);
	cli_flags_release(flags);
	return r;
}

/* ---- lookup ----------------------------------------------------------- */

static const struct cli_command lookup_spec = {
    .name = "token lookup",
    .synopsis = "Show information about a token",
    .args = "[options] [TOKEN | ACCESSOR]",
    .help = "Show the properties of a token: policies, TTL, creation time, metadata. Without an "
            "argument the token in use is shown (auth/token/lookup-self); with TOKEN, that token "
            "(auth/token/lookup); with -accessor, the token behind ACCESSOR, without its value "
            "(auth/token/lookup-accessor).\n\n"
            "  $ trove token lookup\n"
            "  $ trove token lookup -accessor 9793c9b3-e04a-46f3-e7b8-748d7da248da",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int token_lookup(int argc, char **argv)
{
	struct cli cli;
	bool accessor = false;
	const char *field = NULL;
	const struct cli_flag flags[] = {
	    {"accessor", NULL, CLI_FLAG_BOOL, &accessor, 0, 0, NULL,
	     "Treat the argument as a token accessor rather than a token."},
	    {"field", NULL, CLI_FLAG_STRING, &field, 0, 0, NULL, FIELD_HELP},
	    CLI_FLAG_END,
	};
	json_t *body = NULL, *resp = NULL;
	char *arg = NULL;
	int argi, r;

	r = cli_start(&cli, &lookup_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if ((r = arg_count(&lookup_spec, argc - argi, accessor ? 1 : 0, 1)) != 0)
		goto out;
	if (argc - argi == 1)
		arg = cli_take_secret_arg(argv, argi);
	if (arg == NULL)
		r = cli_api(&cli, "looking up token", "GET", "auth/token/lookup-self", NULL, &resp);
	else {
		body = json_object();
		json_object_set_new(body, accessor ? "accessor" : "token", json_string(arg));
		r = cli_api(&cli, "looking up token", "POST",
		            accessor ? "auth/token/lookup-accessor" : "auth/token/lookup", body, &resp);
	}
	if (r != 0)
		goto out;
	r = cli_print_secret(&cli, resp, field);
out:
	api_json_free_secret(body);
	api_json_free_secret(resp);
	secure_free_str(arg);
	cli_release(&cli);
	return r;
}

/* ---- renew ------------------------------------------------------------ */

static const struct cli_command renew_spec = {
    .name = "token renew",
    .synopsis = "Extend a token's lifetime",
    .args = "[options] [TOKEN]",
    .help = "Renew a token, extending its TTL (never past its maximum TTL). Without TOKEN the token "
            "in use is renewed (auth/token/renew-self). Renewal fails for tokens that are not "
            "renewable, have been revoked or reached their maximum TTL.\n\n"
            "  $ trove token renew\n"
            "  $ trove token renew -increment=30m 96ddf4bc-d217-f3ba-f9bd-017055595017",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int token_renew(int argc, char **argv)
{
	struct cli cli;
	const char *increment = NULL, *field = NULL;
	const struct cli_flag flags[] = {
	    {"field", NULL, CLI_FLAG_STRING, &field, 0, 0, NULL, FIELD_HELP},
	    {"increment", "i", CLI_FLAG_STRING, &increment, 0, 0, NULL,
	     "Ask for this much more time (a duration such as \"30m\"). The server may give less; "
	     "periodic tokens get their period."},
	    CLI_FLAG_END,
	};
	json_t *body = json_object(), *resp = NULL;
	char *tok = NULL;
	int argi, r;

	r = cli_start(&cli, &renew_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if ((r = arg_count(&renew_spec, argc - argi, 0, 1)) != 0)
		goto out;
	if (argc - argi == 1) {
		tok = cli_take_secret_arg(argv, argi);
		json_object_set_new(body, "token", json_string(tok));
	}
	if (increment)
		json_object_set_new(body, "increment", json_string(increment));
	if ((r = cli_api(&cli, "renewing token", "POST", tok ? "auth/token/renew" : "auth/token/renew-self",
	                 body, &resp)) != 0)
		goto out;
	r = cli_print_secret(&cli, resp, field);
out:
	api_json_free_secret(resp);
	secure_free_str(tok);
	cli_release(&cli);
done:
	api_json_free_secret(body);
	return r;
}

/* ---- revoke ----------------------------------------------------------- */

static const struct cli_command revoke_spec = {
    .name = "token revoke",
    .synopsis = "Revoke a token and its children",
    .args = "[options] [TOKEN | ACCESSOR | PATH]",
    .help = "Revoke a token, and the tokens and leases created from it. Give the TOKEN, an "
            "ACCESSOR with -accessor, or -self for the token in use.\n\n"
            "-mode=orphan revokes only the token and leaves its children as orphans (needs sudo); "
            "-mode=path revokes every token created under the auth PATH given.\n\n"
            "  $ trove token revoke 96ddf4bc-d217-f3ba-f9bd-017055595017\n"
            "  $ trove token revoke -accessor 9793c9b3-e04a-46f3-e7b8-748d7da248da\n"
            "  $ trove token revoke -self",
    .opts = CLI_OPT_HTTP,
};

static int token_revoke(int argc, char **argv)
{
	struct cli cli;
	bool accessor = false, self = false;
	const char *mode = "";
	const struct cli_flag flags[] = {
	    {"accessor", NULL, CLI_FLAG_BOOL, &accessor, 0, 0, NULL,
	     "Treat the argument as a token accessor rather than a token."},
	    {"mode", NULL, CLI_FLAG_STRING, &mode, 0, 0, NULL,
	     "\"orphan\" to revoke only the token, \"path\" to revoke all tokens from an auth path; "
	     "by default the token and its children are revoked."},
	    {"self", NULL, CLI_FLAG_BOOL, &self, 0, 0, NULL, "Revoke the token in use."},
	    CLI_FLAG_END,
	};
	json_t *body = NULL;
	char *arg = NULL;
	const char *path;
	struct buf prefix;
	int argi, r;

	buf_init(&prefix, BUF_CAP_DEFAULT);
	r = cli_start(&cli, &revoke_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if (strcmp(mode, "") != 0 && strcmp(mode, "orphan") != 0 && strcmp(mode, "path") != 0) {
		r = cli_usage_error(&revoke_spec, "Invalid -mode \"%s\": want \"orphan\" or \"path\"", mode);
		goto out;
	}
	if (self && (accessor || *mode)) {
		r = cli_usage_error(&revoke_spec, "-self cannot be used with -accessor or -mode");
		goto out;
	}
	if (accessor && *mode) {
		r = cli_usage_error(&revoke_spec, "-accessor cannot be used with -mode");
		goto out;
	}
	if ((r = arg_count(&revoke_spec, argc - argi, self ? 0 : 1, self ? 0 : 1)) != 0)
		goto out;
	if (!self)
		arg = cli_take_secret_arg(argv, argi);
	body = json_object();
	if (self) {
		path = "auth/token/revoke-self";
	} else if (accessor) {
		json_object_set_new(body, "accessor", json_string(arg));
		path = "auth/token/revoke-accessor";
	} else if (strcmp(mode, "path") == 0) {
		char *p = cli_trim_slashes(arg);

		(void)buf_printf(&prefix, "sys/leases/revoke-prefix/%s", p);
		free(p);
		path = prefix.data;
	} else {
		json_object_set_new(body, "token", json_string(arg));
		path = strcmp(mode, "orphan") == 0 ? "auth/token/revoke-orphan" : "auth/token/revoke";
	}
	if ((r = cli_api(&cli, "revoking token", "POST", path, body, NULL)) != 0)
		goto out;
	printf("Success! Revoked token (if it existed)\n");
	r = CLI_EXIT_OK;
out:
	api_json_free_secret(body);
	secure_free_str(arg);
	cli_release(&cli);
done:
	buf_release(&prefix);
	return r;
}

/* ---- capabilities ----------------------------------------------------- */

static const struct cli_command caps_spec = {
    .name = "token capabilities",
    .synopsis = "Show what a token may do on a path",
    .args = "[options] [TOKEN] PATH",
    .help = "Print the capabilities a token has on PATH, such as \"read, list\" or \"deny\". "
            "Without TOKEN the token in use is checked (sys/capabilities-self); with TOKEN, "
            "sys/capabilities is used, which needs permission there.\n\n"
            "  $ trove token capabilities secret/data/app\n"
            "  $ trove token capabilities 96ddf4bc-d217-f3ba-f9bd-017055595017 database/creds/ro",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int cmp_json_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int token_capabilities(int argc, char **argv)
{
	struct cli cli;
	json_t *body = NULL, *resp = NULL, *paths;
	const json_t *caps, *data;
	const char *path, **list = NULL;
	char *tok = NULL;
	size_t i, n;
	int argi, r;

	r = cli_start(&cli, &caps_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if ((r = arg_count(&caps_spec, argc - argi, 1, 2)) != 0)
		goto out;
	body = json_object();
	if (argc - argi == 2) {
		tok = cli_take_secret_arg(argv, argi);
		json_object_set_new(body, "token", json_string(tok));
	}
	path = argv[argc - 1];
	paths = json_array();
	json_array_append_new(paths, json_string(path));
	json_object_set_new(body, "paths", paths);
	if ((r = cli_api(&cli, "checking capabilities", "POST", tok ? "sys/capabilities" : "sys/capabilities-self",
	                 body, &resp)) != 0)
		goto out;
	data = json_object_get(resp, "data");
	if (!json_is_object(data))
		data = resp;
	caps = json_object_get(data, path);
	if (!json_is_array(caps))
		caps = json_object_get(data, "capabilities");
	if (!json_is_array(caps)) {
		fprintf(stderr, "Error checking capabilities: the server's answer holds no capability list\n");
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	if (cli.format != CLI_FORMAT_TABLE) {
		r = cli_print_data(&cli, caps);
		goto out;
	}
	n = json_array_size(caps);
	list = xcalloc(n ? n : 1, sizeof(*list));
	for (i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(caps, i));

		list[i] = s ? s : "";
	}
	qsort(list, n, sizeof(*list), cmp_json_str);
	for (i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "", list[i]);
	printf("\n");
	r = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
out:
	free(list);
	api_json_free_secret(body);
	json_decref(resp);
	secure_free_str(tok);
	cli_release(&cli);
	return r;
}

/* ---- dispatch --------------------------------------------------------- */

static const struct cli_subcommand token_cmds[] = {
    {&caps_spec, token_capabilities}, {&create_spec, token_create}, {&lookup_spec, token_lookup},
    {&renew_spec, token_renew},       {&revoke_spec, token_revoke},
};

static const struct cli_group token_group = {
    "token",
    "Create, inspect, renew and revoke tokens. Every request to the server carries a token; its "
    "policies decide what the request may do.\n\n"
    "  $ trove token create -policy=readers -ttl=1h\n"
    "  $ trove token lookup\n"
    "  $ trove token revoke -self",
    token_cmds,
    sizeof(token_cmds) / sizeof(token_cmds[0]),
};

int cmd_token(int argc, char **argv)
{
	return cli_dispatch(&token_group, argc, argv);
}
