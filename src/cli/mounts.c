/* mounts.c — `trove secrets ...` and `trove auth ...`: enabling, listing,
 * tuning and removing secrets engines and auth methods.
 *
 * Both groups manage mounts and take the same settings (TTLs, audit keys,
 * options), so the flags, the request body and the list table are built
 * once here and each command picks the parts it offers. Auth mounts live
 * under sys/auth/<path> and are tuned through sys/mounts/auth/<path>/tune;
 * secrets engines under sys/mounts/<path>. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "strlist_json.h"

#include "banned.h"

#define REMOUNT_WAIT_SECS 120

/* The settings a mount command may take, filled by flags. */
struct mount_opts {
	const char *path, *description, *default_ttl, *max_ttl, *listing, *token_type, *plugin_version;
	bool local, seal_wrap, force_no_cache, detailed;
	long version;
	struct strlist options, req_keys, resp_keys, passthrough, allowed_headers;
};

static void mount_opts_init(struct mount_opts *mo)
{
	memset(mo, 0, sizeof(*mo));
	strlist_init(&mo->options);
	strlist_init(&mo->req_keys);
	strlist_init(&mo->resp_keys);
	strlist_init(&mo->passthrough);
	strlist_init(&mo->allowed_headers);
}

/* Flag table entries, one per setting; commands pick with a mask. */
enum {
	MF_PATH = 1 << 0,
	MF_DESCRIPTION = 1 << 1,
	MF_TTLS = 1 << 2,
	MF_LOCAL = 1 << 3,
	MF_SEAL_WRAP = 1 << 4,
	MF_OPTIONS = 1 << 5,
	MF_VERSION = 1 << 6,
	MF_AUDIT = 1 << 7,
	MF_HEADERS = 1 << 8,
	MF_LISTING = 1 << 9,
	MF_TOKEN_TYPE = 1 << 10,
	MF_NO_CACHE = 1 << 11,
	MF_PLUGIN_VERSION = 1 << 12,
	MF_DETAILED = 1 << 13,
};

#define MAX_MOUNT_FLAGS 24

/* Fills out (room for MAX_MOUNT_FLAGS) with the flags in mask, ended by
 * CLI_FLAG_END; tune selects the help wording of a tune command. */
static void mount_flags(struct mount_opts *mo, unsigned mask, bool tune, struct cli_flag *out)
{
	const struct cli_flag all[] = {
	    {"allowed-response-headers", NULL, CLI_FLAG_LIST, &mo->allowed_headers, 0, 0, NULL,
	     "A response header the mount may set; repeat for more."},
	    {"audit-non-hmac-request-keys", NULL, CLI_FLAG_LIST, &mo->req_keys, 0, 0, NULL,
	     "A request data key that audit devices log without HMAC; repeat for more."},
	    {"audit-non-hmac-response-keys", NULL, CLI_FLAG_LIST, &mo->resp_keys, 0, 0, NULL,
	     "A response data key that audit devices log without HMAC; repeat for more."},
	    {"default-lease-ttl", NULL, CLI_FLAG_STRING, &mo->default_ttl, 0, 0, NULL,
	     tune ? "Default lease TTL of the mount, a duration such as \"1h\"; \"-1\" or \"system\" "
	            "go back to the server's default."
	          : "Default lease TTL of the mount, a duration such as \"1h\". The server's default "
	            "when unset."},
	    {"description", NULL, CLI_FLAG_STRING, &mo->description, 0, 0, NULL,
	     "A human-friendly description of the mount."},
	    {"detailed", NULL, CLI_FLAG_BOOL, &mo->detailed, 0, 0, NULL,
	     "Show every setting of each mount: TTLs, replication, seal wrap, options, UUID."},
	    {"force-no-cache", NULL, CLI_FLAG_BOOL, &mo->force_no_cache, 0, 0, NULL,
	     "Turn off caching in the mount."},
	    {"listing-visibility", NULL, CLI_FLAG_STRING, &mo->listing, 0, 0, NULL,
	     "Whether the mount shows in the UI's unauthenticated listing: \"unauth\" or \"hidden\"."},
	    {"local", NULL, CLI_FLAG_BOOL, &mo->local, 0, 0, NULL,
	     "Mark the mount as local to this cluster (not replicated)."},
	    {"max-lease-ttl", NULL, CLI_FLAG_STRING, &mo->max_ttl, 0, 0, NULL,
	     "Maximum lease TTL of the mount, a duration such as \"24h\"."},
	    {"options", NULL, CLI_FLAG_LIST, &mo->options, 0, 0, NULL,
	     "An engine option as key=value, such as version=2 for kv; repeat for more."},
	    {"passthrough-request-headers", NULL, CLI_FLAG_LIST, &mo->passthrough, 0, 0, NULL,
	     "A request header passed on to the mount; repeat for more."},
	    {"path", NULL, CLI_FLAG_STRING, &mo->path, 0, 0, "the TYPE",
	     "Where to mount, unique among mounts of its kind."},
	    {"plugin-version", NULL, CLI_FLAG_STRING, &mo->plugin_version, 0, 0, NULL,
	     "Semantic version of the plugin to run."},
	    {"seal-wrap", NULL, CLI_FLAG_BOOL, &mo->seal_wrap, 0, 0, NULL,
	     "Wrap the mount's stored values with the seal as well."},
	    {"token-type", NULL, CLI_FLAG_STRING, &mo->token_type, 0, 0, NULL,
	     "Type of token the auth method issues: \"service\", \"batch\", \"default-service\" or "
	     "\"default-batch\"."},
	    {"version", NULL, CLI_FLAG_INT, &mo->version, 0, 1000, NULL,
	     "Engine version; the same as -options=version=N (kv: 1 or 2)."},
	};
	static const unsigned bit[] = {
	    MF_HEADERS, MF_AUDIT, MF_AUDIT, MF_TTLS,      MF_DESCRIPTION, MF_DETAILED,
	    MF_NO_CACHE, MF_LISTING, MF_LOCAL, MF_TTLS,   MF_OPTIONS,     MF_HEADERS,
	    MF_PATH,    MF_PLUGIN_VERSION, MF_SEAL_WRAP, MF_TOKEN_TYPE, MF_VERSION,
	};
	size_t i, n = 0;

	_Static_assert(sizeof(all) / sizeof(all[0]) == sizeof(bit) / sizeof(bit[0]), "one bit per flag");
	for (i = 0; i < sizeof(all) / sizeof(all[0]) && n + 1 < MAX_MOUNT_FLAGS; i++)
		if (mask & bit[i])
			out[n++] = all[i];
	out[n] = (struct cli_flag)CLI_FLAG_END;
}

static void mount_opts_release(struct mount_opts *mo)
{
	strlist_release(&mo->options);
	strlist_release(&mo->req_keys);
	strlist_release(&mo->resp_keys);
	strlist_release(&mo->passthrough);
	strlist_release(&mo->allowed_headers);
}

/* The "config" object of an enable request, or the body of a tune. */
static json_t *mount_config(const struct mount_opts *mo, bool tune)
{
	json_t *c = json_object();

	if (mo->default_ttl)
		json_object_set_new(c, "default_lease_ttl", json_string(mo->default_ttl));
	if (mo->max_ttl)
		json_object_set_new(c, "max_lease_ttl", json_string(mo->max_ttl));
	if (mo->force_no_cache)
		json_object_set_new(c, "force_no_cache", json_true());
	if (mo->req_keys.len)
		json_object_set_new(c, "audit_non_hmac_request_keys", strlist_json(&mo->req_keys));
	if (mo->resp_keys.len)
		json_object_set_new(c, "audit_non_hmac_response_keys", strlist_json(&mo->resp_keys));
	if (mo->passthrough.len)
		json_object_set_new(c, "passthrough_request_headers", strlist_json(&mo->passthrough));
	if (mo->allowed_headers.len)
		json_object_set_new(c, "allowed_response_headers", strlist_json(&mo->allowed_headers));
	if (mo->listing)
		json_object_set_new(c, "listing_visibility", json_string(mo->listing));
	if (mo->token_type)
		json_object_set_new(c, "token_type", json_string(mo->token_type));
	if (tune && mo->description)
		json_object_set_new(c, "description", json_string(mo->description));
	if (tune && mo->plugin_version)
		json_object_set_new(c, "plugin_version", json_string(mo->plugin_version));
	return c;
}

/* The options map from -options=k=v and -version. Returns NULL after
 * printing a usage error for a malformed option. */
static json_t *mount_options(const struct cli_command *spec, const struct mount_opts *mo, int *r)
{
	json_t *o = json_object();
	char num[32];
	size_t i;

	for (i = 0; i < mo->options.len; i++) {
		const char *s = mo->options.items[i], *eq = strchr(s, '=');
		char *k;

		if (eq == NULL || eq == s) {
			json_decref(o);
			*r = cli_usage_error(spec, "Invalid -options value \"%s\": want key=value", s);
			return NULL;
		}
		k = xstrndup(s, (size_t)(eq - s));
		json_object_set_new(o, k, json_string(eq + 1));
		free(k);
	}
	if (mo->version > 0) {
		snprintf(num, sizeof(num), "%ld", mo->version);
		json_object_set_new(o, "version", json_string(num));
	}
	*r = 0;
	return o;
}

/* "p" -> "p/" for messages. */
static char *with_slash(const char *p)
{
	char *t = cli_trim_slashes(p);
	struct buf b;

	buf_init(&b, BUF_CAP_DEFAULT);
	(void)buf_printf(&b, "%s/", t);
	free(t);
	t = buf_take(&b);
	buf_release(&b);
	return t;
}

/* Secrets engines or auth methods: the commands are the same, the API
 * paths, a few flags, the list's sixth column and the wording differ. */
struct mount_family {
	bool auth;              /* auth methods: no kv-v2 alias, "Token Type" column */
	const char *api;        /* where the mounts are: "sys/mounts" or "sys/auth" */
	const char *tune_under; /* before the path in sys/mounts/<...>/tune: "" or "auth/" */
	const char *noun;       /* "secrets engine" or "auth method" */
	const char *nouns;      /* "secrets engines" or "auth methods" */
	const char *enabled;    /* before the type in the enable message: "the " or "" */
	unsigned enable_flags;  /* MF_* that enable offers beyond the common ones */
	unsigned tune_flags;    /* MF_* that tune offers beyond the common ones */
	struct cli_command enable_spec, disable_spec, list_spec, tune_spec;
};

/* The API path of the mount at path (sys/mounts/<path>, sys/auth/<path>,
 * or its tune endpoint) into api; returns "path/" for messages. */
static char *mount_api(const struct mount_family *fam, const char *path, bool tune, struct buf *api)
{
	char *mpath = cli_trim_slashes(path), *shown = with_slash(mpath);

	if (tune)
		(void)buf_printf(api, "sys/mounts/%s%s/tune", fam->tune_under, mpath);
	else
		(void)buf_printf(api, "%s/%s", fam->api, mpath);
	free(mpath);
	return shown;
}

/* Runs the family's API call for verb ("enabling", ...): the "doing" of
 * error messages is the verb and the family's noun. */
static int mount_call(struct cli *cli, const struct mount_family *fam, const char *verb, const char *method,
                      const char *api, const json_t *body)
{
	char doing[64];

	snprintf(doing, sizeof(doing), "%s %s", verb, fam->noun);
	return cli_api(cli, doing, method, api, body, NULL);
}

/* ---- enable ----------------------------------------------------------- */

static int enable_cmd(const struct mount_family *fam, int argc, char **argv)
{
	const struct cli_command *spec = &fam->enable_spec;
	struct cli cli;
	struct mount_opts mo;
	struct cli_flag flags[MAX_MOUNT_FLAGS];
	json_t *body = NULL, *opts = NULL;
	char *shown = NULL;
	const char *type;
	struct buf api;
	int argi, r;

	mount_opts_init(&mo);
	mount_flags(&mo,
	            MF_PATH | MF_DESCRIPTION | MF_TTLS | MF_LOCAL | MF_SEAL_WRAP | MF_OPTIONS | MF_AUDIT |
	                MF_HEADERS | MF_LISTING | MF_PLUGIN_VERSION | fam->enable_flags,
	            false, flags);
	buf_init(&api, BUF_CAP_DEFAULT);
	r = cli_start(&cli, spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if ((r = cli_args_exactly(spec, argc - argi, 1)) != 0)
		goto out;
	type = argv[argi];
	if ((opts = mount_options(spec, &mo, &r)) == NULL)
		goto out;
	body = json_object();
	/* kv-v2 is a name for kv with version 2, mounted at kv-v2/ by default. */
	if (!fam->auth && strcmp(type, "kv-v2") == 0) {
		json_object_set_new(body, "type", json_string("kv"));
		json_object_set_new(opts, "version", json_string("2"));
	} else {
		json_object_set_new(body, "type", json_string(type));
	}
	if (mo.description)
		json_object_set_new(body, "description", json_string(mo.description));
	json_object_set_new(body, "config", mount_config(&mo, false));
	if (mo.local)
		json_object_set_new(body, "local", json_true());
	if (mo.seal_wrap)
		json_object_set_new(body, "seal_wrap", json_true());
	if (mo.plugin_version)
		json_object_set_new(body, "plugin_version", json_string(mo.plugin_version));
	if (json_object_size(opts) > 0)
		json_object_set(body, "options", opts);
	shown = mount_api(fam, mo.path && *mo.path ? mo.path : type, false, &api);
	if ((r = mount_call(&cli, fam, "enabling", "POST", api.data, body)) != 0)
		goto out;
	printf("Success! Enabled %s%s %s at: %s\n", fam->enabled, type, fam->noun, shown);
	r = CLI_EXIT_OK;
out:
	json_decref(body);
	json_decref(opts);
	free(shown);
	cli_release(&cli);
done:
	buf_release(&api);
	mount_opts_release(&mo);
	return r;
}

/* ---- disable ---------------------------------------------------------- */

static int disable_cmd(const struct mount_family *fam, int argc, char **argv)
{
	const struct cli_command *spec = &fam->disable_spec;
	struct cli cli;
	char *shown = NULL;
	struct buf api;
	int argi, r;

	buf_init(&api, BUF_CAP_DEFAULT);
	r = cli_start(&cli, spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if ((r = cli_args_exactly(spec, argc - argi, 1)) != 0)
		goto out;
	shown = mount_api(fam, argv[argi], false, &api);
	if ((r = mount_call(&cli, fam, "disabling", "DELETE", api.data, NULL)) != 0)
		goto out;
	printf("Success! Disabled the %s (if it existed) at: %s\n", fam->noun, shown);
	r = CLI_EXIT_OK;
out:
	free(shown);
	cli_release(&cli);
done:
	buf_release(&api);
	return r;
}

/* ---- list ------------------------------------------------------------- */

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : dflt;
}

static void ttl_cell(struct buf *b, const json_t *config, const char *key)
{
	const json_t *v = json_object_get(config, key);
	char tmp[64];

	buf_reset(b);
	if (!json_is_integer(v) || json_integer_value(v) == 0) {
		(void)buf_append_str(b, "system");
		return;
	}
	cli_human_duration((long long)json_integer_value(v), tmp, sizeof(tmp));
	(void)buf_append_str(b, tmp);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_mount_table(const json_t *mounts, bool auth, bool detailed)
{
	struct cli_table t;
	struct buf dttl, mttl, opts;
	const char **keys;
	const char *k;
	json_t *m;
	size_t i = 0, n = json_object_size(mounts);

	keys = xcalloc(n ? n : 1, sizeof(*keys));
	json_object_foreach((json_t *)mounts, k, m)
	{
		if (json_is_object(m))
			keys[i++] = k;
	}
	n = i;
	qsort(keys, n, sizeof(*keys), cmp_str);
	buf_init(&dttl, BUF_CAP_DEFAULT);
	buf_init(&mttl, BUF_CAP_DEFAULT);
	buf_init(&opts, BUF_CAP_DEFAULT);
	if (detailed) {
		cli_table_init(&t, 11);
		cli_table_header(&t, "Path", "Plugin", "Accessor", "Default TTL", "Max TTL",
		                 auth ? "Token Type" : "Force No Cache", "Replication", "Seal Wrap", "Options",
		                 "Description", "UUID");
	} else {
		cli_table_init(&t, 4);
		cli_table_header(&t, "Path", "Type", "Accessor", "Description");
	}
	for (i = 0; i < n; i++) {
		const json_t *config, *o;

		m = json_object_get(mounts, keys[i]);
		if (!detailed) {
			cli_table_row(&t, keys[i], str_or(m, "type", ""), str_or(m, "accessor", "n/a"),
			              str_or(m, "description", "n/a"));
			continue;
		}
		config = json_object_get(m, "config");
		ttl_cell(&dttl, config, "default_lease_ttl");
		ttl_cell(&mttl, config, "max_lease_ttl");
		buf_reset(&opts);
		o = json_object_get(m, "options");
		if (json_is_object(o))
			cli_format_value(&opts, o);
		else
			(void)buf_append_str(&opts, "map[]");
		cli_table_row(&t, keys[i], str_or(m, "type", ""), str_or(m, "accessor", "n/a"), dttl.data, mttl.data,
		              auth ? str_or(config, "token_type", "n/a")
		                   : (json_is_true(json_object_get(config, "force_no_cache")) ? "true" : "false"),
		              json_is_true(json_object_get(m, "local")) ? "local" : "replicated",
		              json_is_true(json_object_get(m, "seal_wrap")) ? "true" : "false", opts.data,
		              str_or(m, "description", "n/a"), str_or(m, "uuid", "n/a"));
	}
	cli_table_print(&t, stdout);
	cli_table_release(&t);
	buf_release(&dttl);
	buf_release(&mttl);
	buf_release(&opts);
	free(keys);
}

static int list_cmd(const struct mount_family *fam, int argc, char **argv)
{
	const struct cli_command *spec = &fam->list_spec;
	struct cli cli;
	struct mount_opts mo;
	struct cli_flag flags[MAX_MOUNT_FLAGS];
	json_t *resp = NULL, *mounts;
	char doing[64];
	int argi, r;

	mount_opts_init(&mo);
	mount_flags(&mo, MF_DETAILED, false, flags);
	r = cli_start(&cli, spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if (argi < argc) {
		r = cli_usage_error(spec, "Too many arguments (expected 0, got %d)", argc - argi);
		goto out;
	}
	snprintf(doing, sizeof(doing), "listing %s", fam->nouns);
	if ((r = cli_api(&cli, doing, "GET", fam->api, NULL, &resp)) != 0)
		goto out;
	/* Vault answers with the mounts both under "data" and at the top. */
	mounts = json_object_get(resp, "data");
	if (!json_is_object(mounts))
		mounts = resp;
	if (!json_is_object(mounts)) {
		fprintf(stderr, "Error listing: the server's answer is not a JSON object\n");
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	if (cli.format != CLI_FORMAT_TABLE) {
		r = cli_print_data(&cli, mounts);
		goto out;
	}
	print_mount_table(mounts, fam->auth, mo.detailed);
	r = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
out:
	json_decref(resp);
	cli_release(&cli);
done:
	mount_opts_release(&mo);
	return r;
}

/* ---- tune ------------------------------------------------------------- */

static int tune_cmd(const struct mount_family *fam, int argc, char **argv)
{
	const struct cli_command *spec = &fam->tune_spec;
	struct cli cli;
	struct mount_opts mo;
	struct cli_flag flags[MAX_MOUNT_FLAGS];
	json_t *body = NULL, *opts = NULL;
	char *shown = NULL;
	struct buf api;
	int argi, r;

	mount_opts_init(&mo);
	mount_flags(&mo,
	            MF_DESCRIPTION | MF_TTLS | MF_OPTIONS | MF_AUDIT | MF_HEADERS | MF_LISTING |
	                MF_PLUGIN_VERSION | fam->tune_flags,
	            true, flags);
	buf_init(&api, BUF_CAP_DEFAULT);
	r = cli_start(&cli, spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if ((r = cli_args_exactly(spec, argc - argi, 1)) != 0)
		goto out;
	if ((opts = mount_options(spec, &mo, &r)) == NULL)
		goto out;
	body = mount_config(&mo, true);
	if (json_object_size(opts) > 0)
		json_object_set(body, "options", opts);
	shown = mount_api(fam, argv[argi], true, &api);
	if ((r = mount_call(&cli, fam, "tuning", "POST", api.data, body)) != 0)
		goto out;
	printf("Success! Tuned the %s at: %s\n", fam->noun, shown);
	r = CLI_EXIT_OK;
out:
	json_decref(body);
	json_decref(opts);
	free(shown);
	cli_release(&cli);
done:
	buf_release(&api);
	mount_opts_release(&mo);
	return r;
}

/* The entry points cli_dispatch calls for a family's four shared
 * commands: name_enable, name_disable, name_list and name_tune. */
#define MOUNT_FAMILY_COMMANDS(name)                                                                          \
	static int name##_enable(int argc, char **argv)                                                      \
	{                                                                                                    \
		return enable_cmd(&name##_family, argc, argv);                                               \
	}                                                                                                    \
	static int name##_disable(int argc, char **argv)                                                     \
	{                                                                                                    \
		return disable_cmd(&name##_family, argc, argv);                                              \
	}                                                                                                    \
	static int name##_list(int argc, char **argv)                                                        \
	{                                                                                                    \
		return list_cmd(&name##_family, argc, argv);                                                 \
	}                                                                                                    \
	static int name##_tune(int argc, char **argv)                                                        \
	{                                                                                                    \
		return tune_cmd(&name##_family, argc, argv);                                                 \
	}

/* ---- secrets ---------------------------------------------------------- */

static const struct mount_family secrets_family = {
    .auth = false,
    .api = "sys/mounts",
    .tune_under = "",
    .noun = "secrets engine",
    .nouns = "secrets engines",
    .enabled = "the ",
    .enable_flags = MF_VERSION | MF_NO_CACHE,
    .tune_flags = MF_VERSION,
    .enable_spec =
        {
            .name = "secrets enable",
            .synopsis = "Enable a secrets engine",
            .args = "[options] TYPE",
            .help = "Enable a secrets engine of TYPE at a path (by default the TYPE's name). Paths are "
                    "case-sensitive and unique. \"kv-v2\" is short for kv with -version=2.\n\n"
                    "  $ trove secrets enable kv\n"
                    "  $ trove secrets enable -path=apps -version=2 kv\n"
                    "  $ trove secrets enable -path=pki-int -max-lease-ttl=43800h pki",
            .opts = CLI_OPT_HTTP,
        },
    .disable_spec =
        {
            .name = "secrets disable",
            .synopsis = "Disable a secrets engine",
            .args = "[options] PATH",
            .help = "Disable the secrets engine mounted at PATH (a path, not a type). Its data is removed "
                    "and every lease it gave out is revoked.\n\n"
                    "  $ trove secrets disable kv/",
            .opts = CLI_OPT_HTTP,
        },
    .list_spec =
        {
            .name = "secrets list",
            .synopsis = "List the enabled secrets engines",
            .args = "[options]",
            .help = "List the secrets engines mounted on the server. A TTL shown as \"system\" is the "
                    "server's default.\n\n"
                    "  $ trove secrets list\n"
                    "  $ trove secrets list -detailed",
            .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
        },
    .tune_spec =
        {
            .name = "secrets tune",
            .synopsis = "Change the settings of a secrets engine",
            .args = "[options] PATH",
            .help = "Change the settings of the secrets engine mounted at PATH. Settings not given stay as "
                    "they are.\n\n"
                    "  $ trove secrets tune -default-lease-ttl=18h pki/\n"
                    "  $ trove secrets tune -audit-non-hmac-request-keys=common_name pki/",
            .opts = CLI_OPT_HTTP,
        },
};

MOUNT_FAMILY_COMMANDS(secrets)

static const struct cli_command s_move_spec = {
    .name = "secrets move",
    .synopsis = "Move a secrets engine to a new path",
    .args = "[options] SOURCE DESTINATION",
    .help = "Move the secrets engine at SOURCE to DESTINATION, keeping its data and settings. Leases "
            "from the old path are revoked. Stop using the engine while it moves.\n\n"
            "  $ trove secrets move secret/ generic/",
    .opts = CLI_OPT_HTTP,
};

/* Waits for an asynchronous remount to finish. Returns an exit code. */
static int wait_remount(struct cli *cli, const char *id)
{
	struct timespec pause = {0, 250 * 1000 * 1000};
	time_t deadline = time(NULL) + REMOUNT_WAIT_SECS;
	struct buf path;
	json_t *resp = NULL;
	const char *status;
	int r = CLI_EXIT_REMOTE;

	buf_init(&path, BUF_CAP_DEFAULT);
	(void)buf_printf(&path, "sys/remount/status/%s", id);
	while (time(NULL) < deadline) {
		json_decref(resp);
		if (cli_api(cli, "checking the move", "GET", path.data, NULL, &resp) != 0)
			goto out;
		status = json_string_value(
		    json_object_get(json_object_get(json_object_get(resp, "data"), "migration_info"), "status"));
		if (status && strcmp(status, "success") == 0) {
			r = CLI_EXIT_OK;
			goto out;
		}
		if (status && strcmp(status, "failure") == 0) {
			fprintf(stderr, "Error moving secrets engine: the move failed on the server (migration "
			                "ID %s)\n",
			        id);
			goto out;
		}
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "Error moving secrets engine: still not finished after %d seconds (migration ID %s)\n",
	        REMOUNT_WAIT_SECS, id);
out:
	json_decref(resp);
	buf_release(&path);
	return r;
}

static int s_move(int argc, char **argv)
{
	struct cli cli;
	json_t *body = NULL, *resp = NULL;
	char *from = NULL, *to = NULL;
	const char *id;
	int argi, r;

	r = cli_start(&cli, &s_move_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if ((r = cli_args_exactly(&s_move_spec, argc - argi, 2)) != 0)
		goto out;
	from = with_slash(argv[argi]);
	to = with_slash(argv[argi + 1]);
	body = json_pack("{ssss}", "from", from, "to", to);
	if ((r = cli_api(&cli, "moving secrets engine", "POST", "sys/remount", body, &resp)) != 0)
		goto out;
	id = json_string_value(json_object_get(json_object_get(resp, "data"), "migration_id"));
	if (id == NULL)
		id = json_string_value(json_object_get(resp, "migration_id"));
	if (id && *id) {
		if ((r = wait_remount(&cli, id)) != 0)
			goto out;
		printf("Success! Finished moving secrets engine %s to %s, with migration ID %s\n", from, to, id);
	} else {
		printf("Success! Moved secrets engine %s to %s\n", from, to);
	}
	r = CLI_EXIT_OK;
out:
	json_decref(body);
	json_decref(resp);
	free(from);
	free(to);
	cli_release(&cli);
	return r;
}

static const struct cli_subcommand secrets_cmds[] = {
    {&secrets_family.disable_spec, secrets_disable},
    {&secrets_family.enable_spec, secrets_enable},
    {&secrets_family.list_spec, secrets_list},
    {&s_move_spec, s_move},
    {&secrets_family.tune_spec, secrets_tune},
};

static const struct cli_group secrets_group = {
    "secrets",
    "Manage secrets engines: each is mounted at a path and answers the requests under it (kv "
    "stores secrets, pki issues certificates, database makes credentials).\n\n"
    "  $ trove secrets enable -version=2 kv\n"
    "  $ trove secrets list",
    secrets_cmds,
    sizeof(secrets_cmds) / sizeof(secrets_cmds[0]),
};

int cmd_secrets(int argc, char **argv)
{
	return cli_dispatch(&secrets_group, argc, argv);
}

/* ---- auth ------------------------------------------------------------- */

static const struct mount_family auth_family = {
    .auth = true,
    .api = "sys/auth",
    .tune_under = "auth/",
    .noun = "auth method",
    .nouns = "auth methods",
    .enabled = "",
    .enable_flags = MF_TOKEN_TYPE,
    .tune_flags = MF_TOKEN_TYPE,
    .enable_spec =
        {
            .name = "auth enable",
            .synopsis = "Enable an auth method",
            .args = "[options] TYPE",
            .help = "Enable an auth method of TYPE at auth/<path> (by default the TYPE's name). It then "
                    "usually needs configuration, and roles or users mapped to policies.\n\n"
                    "  $ trove auth enable userpass\n"
                    "  $ trove auth enable -path=ci -description=\"CI jobs\" approle",
            .opts = CLI_OPT_HTTP,
        },
    .disable_spec =
        {
            .name = "auth disable",
            .synopsis = "Disable an auth method",
            .args = "[options] PATH",
            .help = "Disable the auth method at PATH (a path, not a type). Every token it issued is "
                    "revoked.\n\n"
                    "  $ trove auth disable userpass/",
            .opts = CLI_OPT_HTTP,
        },
    .list_spec =
        {
            .name = "auth list",
            .synopsis = "List the enabled auth methods",
            .args = "[options]",
            .help = "List the auth methods enabled on the server.\n\n"
                    "  $ trove auth list\n"
                    "  $ trove auth list -detailed",
            .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
        },
    .tune_spec =
        {
            .name = "auth tune",
            .synopsis = "Change the settings of an auth method",
            .args = "[options] PATH",
            .help = "Change the settings of the auth method at PATH. Settings not given stay as they are.\n\n"
                    "  $ trove auth tune -default-lease-ttl=72h github/\n"
                    "  $ trove auth tune -token-type=batch ci/",
            .opts = CLI_OPT_HTTP,
        },
};

MOUNT_FAMILY_COMMANDS(auth)

static const struct cli_subcommand auth_cmds[] = {
    {&auth_family.disable_spec, auth_disable},
    {&auth_family.enable_spec, auth_enable},
    {&auth_family.list_spec, auth_list},
    {&auth_family.tune_spec, auth_tune},
};

static const struct cli_group auth_group = {
    "auth",
    "Manage auth methods: the ways users and machines prove who they are and get a token "
    "(userpass, approle, jwt, ...). To log in, use 'trove login'.\n\n"
    "  $ trove auth enable userpass\n"
    "  $ trove auth list",
    auth_cmds,
    sizeof(auth_cmds) / sizeof(auth_cmds[0]),
};

int cmd_auth(int argc, char **argv)
{
	return cli_dispatch(&auth_group, argc, argv);
}
