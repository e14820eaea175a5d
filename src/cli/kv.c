/* kv.c — `trove kv ...`: the key/value engine, versions 1 and 2, behind
 * one set of commands.
 *
 * Every subcommand starts with kv_resolve(): it asks the server which
 * mount holds the path (GET sys/internal/ui/mounts/<path>, whose data.path
 * is the mount and whose options.version "2" means versioned) and splits
 * the path into mount and key. kv_api_path() then inserts data/,
 * metadata/, delete/, undelete/ or destroy/ after the mount for version 2
 * and leaves version 1 paths alone, so no subcommand builds paths itself.
 * A 404 from the preflight means an old server: the path is taken as kv
 * version 1, as Vault's CLI does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#include "banned.h"

#define MOUNT_HELP                                                                                           \
	"Path where the kv engine is mounted. With it, the argument is the key inside the mount "         \
	"(\"-mount=secret app/db\"); without it, the argument is the mount and key together "             \
	"(\"secret/app/db\") and the mount is looked up."

#define FIELD_HELP                                                                                           \
	"Print only the field with the given name, with no trailing newline unless the output is a "      \
	"terminal. Takes precedence over -format."

struct kv_path {
	char *mount; /* without slashes; NULL when the server did not say (kv v1) */
	char *key;   /* path inside the mount, without surrounding slashes */
	char *given; /* mount/key as the user meant it, for kv v1 requests */
	bool v2;
};

static void kv_path_release(struct kv_path *kp)
{
	free(kp->mount);
	free(kp->key);
	free(kp->given);
	memset(kp, 0, sizeof(*kp));
}

/* Fills kp for the user's argument (and -mount). Returns 0, or
 * CLI_EXIT_REMOTE after printing why (as Vault: a failed lookup is 2). */
static int kv_resolve(struct cli *cli, const char *mount_flag, const char *arg, struct kv_path *kp)
{
	struct buf b;
	json_t *resp = NULL, *data, *opts, *ver;
	const char *mp;
	char *m = NULL, *k = cli_trim_slashes(arg);
	bool found;
	size_t ml;
	int r;

	memset(kp, 0, sizeof(*kp));
	buf_init(&b, BUF_CAP_DEFAULT);
	if (mount_flag && *mount_flag) {
		m = cli_trim_slashes(mount_flag);
		(void)buf_printf(&b, "%s%s%s", m, *k ? "/" : "", k);
		kp->given = xstrdup(b.data);
	} else {
		kp->given = xstrdup(k);
	}
	buf_reset(&b);
	(void)buf_printf(&b, "sys/internal/ui/mounts/%s", m ? m : kp->given);
	r = cli_request(cli, "checking the kv mount", "GET", b.data, NULL, NULL, &resp, &found);
	if (r != 0) {
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	data = json_object_get(resp, "data");
	mp = json_string_value(json_object_get(data, "path"));
	if (!found || mp == NULL) {
		/* Old servers: the path is a kv version 1 path as given. */
		kp->mount = m;
		kp->key = m ? k : xstrdup(kp->given);
		if (!m)
			free(k);
		m = k = NULL;
		r = 0;
		goto out;
	}
	opts = json_object_get(data, "options");
	ver = json_object_get(opts, "version");
	kp->v2 = json_is_string(ver) && strcmp(json_string_value(ver), "2") == 0;
	if (m) {
		kp->mount = m;
		kp->key = k;
		m = k = NULL;
	} else {
		kp->mount = cli_trim_slashes(mp);
		ml = strlen(kp->mount);
		if (strncmp(kp->given, kp->mount, ml) == 0 && (kp->given[ml] == '/' || kp->given[ml] == '\0'))
			kp->key = cli_trim_slashes(kp->given + ml);
		else
			kp->key = xstrdup(kp->given);
	}
	r = 0;
out:
	json_decref(resp);
	free(m);
	free(k);
	buf_release(&b);
	return r;
}

/* The API path for a kv operation: <mount>/<part>/<key> on version 2
 * (part is "data", "metadata", ...), the path as given on version 1.
 * Free the result. */
static char *kv_api_path(const struct kv_path *kp, const char *part)
{
	struct buf b;
	char *out;

	if (!kp->v2 || kp->mount == NULL)
		return xstrdup(kp->given);
	buf_init(&b, BUF_CAP_DEFAULT);
	(void)buf_printf(&b, "%s/%s/%s", kp->mount, part, kp->key);
	out = buf_take(&b);
	buf_release(&b);
	return out;
}

static int need_v2(const struct kv_path *kp, const char *what)
{
	if (kp->v2)
		return 0;
	fprintf(stderr, "Error: %s needs a kv version 2 mount; \"%s\" is on kv version 1 (or not a kv "
	                "mount)\n",
	        what, kp->given);
	return CLI_EXIT_REMOTE;
}

/* Parses -versions values ("1,2" and repeated flags) into an array of
 * integers. Returns 0 or CLI_EXIT_LOCAL after printing. */
static int parse_versions(const struct cli_command *spec, const struct strlist *in, json_t **out)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < in->len; i++) {
		const char *p = in->items[i];

		while (*p) {
			char *end;
			long v;

			errno = 0;
			v = strtol(p, &end, 10);
			if (errno != 0 || end == p || v < 1 || (*end != ',' && *end != '\0')) {
				json_decref(arr);
				return cli_usage_error(spec, "Invalid -versions value \"%s\": want version numbers "
				                             "such as 1,2,3",
				                       in->items[i]);
			}
			json_array_append_new(arr, json_integer(v));
			p = *end == ',' ? end + 1 : end;
		}
	}
	*out = arr;
	return 0;
}

/* The "Secret Path" and "Metadata" sections that kv get, put and patch
 * print for version 2. */
static void print_v2_head(const struct cli *cli, const char *api_path, const json_t *metadata)
{
	cli_print_section("Secret Path", strlen(api_path));
	printf("%s\n\n", api_path);
	if (json_is_object(metadata)) {
		cli_print_section("Metadata", cli_section_width(metadata));
		cli_print_secret_data(cli, metadata, NULL);
	}
}

/* ---- get -------------------------------------------------------------- */

static const struct cli_command get_spec = {
    .name = "kv get",
    .synopsis = "Read a secret",
    .args = "[options] KEY",
    .help = "Read the secret at KEY from a kv engine. On version 2 the latest version is read unless "
            "-version asks for another, and its metadata is shown too. A deleted or destroyed version "
            "shows its metadata and no data.\n\n"
            "When no secret exists the command prints \"No value found at PATH\" and exits with "
            "status 2.\n\n"
            "  $ trove kv get secret/app\n"
            "  $ trove kv get -mount=secret -version=2 app\n"
            "  $ trove kv get -field=password secret/db",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int kv_get(int argc, char **argv)
{
	struct cli cli;
	const char *mount = NULL, *field = NULL;
	long version = 0;
	const struct cli_flag flags[] = {
	    {"field", NULL, CLI_FLAG_STRING, &field, 0, 0, NULL, FIELD_HELP},
	    {"mount", NULL, CLI_FLAG_STRING, &mount, 0, 0, NULL, MOUNT_HELP},
	    {"version", NULL, CLI_FLAG_INT, &version, 0, 1L << 40, "0 (latest)",
	     "Version to read (kv version 2 only)."},
	    CLI_FLAG_END,
	};
	struct kv_path kp = {0};
	json_t *resp = NULL, *data, *inner = NULL, *meta = NULL;
	char *path = NULL, query[64];
	bool found;
	int argi, r;

	r = cli_start(&cli, &get_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if ((r = cli_args_exactly(&get_spec, argc - argi, 1)) != 0)
		goto out;
	if ((r = kv_resolve(&cli, mount, argv[argi], &kp)) != 0)
		goto out;
	path = kv_api_path(&kp, "data");
	snprintf(query, sizeof(query), "version=%ld", version);
	r = cli_request(&cli, "reading the secret", "GET", path, kp.v2 && version > 0 ? query : NULL, NULL,
	                &resp, &found);
	if (r != 0)
		goto out;
	data = json_object_get(resp, "data");
	if (kp.v2) {
		inner = json_object_get(data, "data");
		meta = json_object_get(data, "metadata");
	}
	if ((!found && !json_is_object(meta)) || !json_is_object(data)) {
		cli_print_warnings(resp);
		fprintf(stderr, "No value found at %s\n", path);
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	if (field && *field) {
		/* A deleted version has no data: the field is reported missing. */
		r = cli_print_secret_data(&cli, kp.v2 ? inner : data, field);
		goto out;
	}
	if (cli.format != CLI_FORMAT_TABLE) {
		r = cli_print_data(&cli, resp);
		goto out;
	}
	cli_print_warnings(resp);
	if (kp.v2) {
		print_v2_head(&cli, path, meta);
		data = json_is_object(inner) ? inner : NULL;
		if (data)
			printf("\n");
	}
	if (data) {
		cli_print_section("Data", cli_section_width(data));
		cli_print_secret_data(&cli, data, NULL);
	}
	r = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
out:
	api_json_free_secret(resp);
	free(path);
	kv_path_release(&kp);
	cli_release(&cli);
	return r;
}

/* ---- put and patch ---------------------------------------------------- */

static const struct cli_command put_spec = {
    .name = "kv put",
    .synopsis = "Write a secret",
    .args = "[options] KEY [DATA K=V...]",
    .help = "Write a secret at KEY, replacing its data. On kv version 2 this adds a new version and "
            "prints its metadata.\n\n"
            "Data is given as key=value arguments; key=@file reads a value from a file and key=- "
            "from stdin; \"@file.json\" or \"-\" alone read a JSON object with all the data.\n\n"
            "  $ trove kv put secret/app user=web password=@pw.txt\n"
            "  $ trove kv put -mount=secret -cas=0 app user=web\n"
            "  $ echo -n s3cret | trove kv put secret/db password=-",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static const struct cli_command patch_spec = {
    .name = "kv patch",
    .synopsis = "Update some keys of a secret (kv version 2)",
    .args = "[options] KEY [DATA K=V...]",
    .help = "Update the secret at KEY, keeping the keys not given. Only for kv version 2: the result "
            "is a new version.\n\n"
            "With -method=patch (the default) one HTTP PATCH with a JSON merge patch is sent; the "
            "token needs the \"patch\" capability. With -method=rw the secret is read, changed "
            "here and written back, checked against the version read (cas).\n\n"
            "  $ trove kv patch secret/app ttl=48h\n"
            "  $ trove kv patch -method=rw -mount=secret app password=@new.txt",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

/* Prints the answer of a write (put or patch): the success line when there
 * is nothing to show (always on version 1), else the new version's
 * metadata. */
static int print_write(const struct cli *cli, const struct kv_path *kp, const char *path, const json_t *resp,
                       const char *field)
{
	const json_t *data = json_object_get(resp, "data");

	if (!kp->v2 || cli_secret_empty(resp))
		return cli_print_data_done(resp, path, false);
	if (field && *field)
		return cli_print_secret(cli, resp, field);
	if (cli->format != CLI_FORMAT_TABLE)
		return cli_print_data(cli, resp);
	cli_print_warnings(resp);
	print_v2_head(cli, path, json_is_object(data) ? data : NULL);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
}

static json_t *v2_body(json_t *data, long cas, bool send_cas)
{
	json_t *body = json_object(), *opts = json_object();

	json_object_set_new(body, "data", data);
	if (send_cas)
		json_object_set_new(opts, "cas", json_integer(cas));
	json_object_set_new(body, "options", opts);
	return body;
}

/* The arguments put and patch share: KEY, then data as key=value (parsed
 * into *data), with KEY resolved into kp and its data path in *path.
 * Returns 0 or an exit code after printing. */
static int write_args(struct cli *cli, const struct cli_command *spec, const char *mount, int argc, char **argv,
                      json_t **data, struct kv_path *kp, char **path)
{
	int r;

	if (argc < 2)
		return cli_usage_error(spec, argc < 1 ? "Not enough arguments: want KEY and data"
		                                      : "No data to write: give key=value arguments");
	if ((r = cli_parse_kv_args(argc - 1, argv + 1, data)) != 0 || (r = kv_resolve(cli, mount, argv[0], kp)) != 0)
		return r;
	*path = kv_api_path(kp, "data");
	return 0;
}

static int kv_put(int argc, char **argv)
{
	struct cli cli;
	const char *mount = NULL, *field = NULL;
	long cas = -1;
	const struct cli_flag flags[] = {
	    {"cas", NULL, CLI_FLAG_INT, &cas, -1, 1L << 40, "-1 (no check)",
	     "Check-and-set (kv version 2): write only if the secret's current version is this one; 0 "
	     "writes only if the key does not exist yet."},
	    {"field", NULL, CLI_FLAG_STRING, &field, 0, 0, NULL, FIELD_HELP},
	    {"mount", NULL, CLI_FLAG_STRING, &mount, 0, 0, NULL, MOUNT_HELP},
	    CLI_FLAG_END,
	};
	struct kv_path kp = {0};
	json_t *data = NULL, *body = NULL, *resp = NULL;
	char *path = NULL;
	int argi, r;

	r = cli_start(&cli, &put_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if ((r = write_args(&cli, &put_spec, mount, argc - argi, argv + argi, &data, &kp, &path)) != 0)
		goto out;
	if (kp.v2) {
		body = v2_body(data, cas, cas >= 0);
		data = NULL;
	}
	if ((r = cli_api(&cli, "writing the secret", "PUT", path, kp.v2 ? body : data, &resp)) != 0)
		goto out;
	r = print_write(&cli, &kp, path, resp, field);
out:
	api_json_free_secret(data);
	api_json_free_secret(body);
	api_json_free_secret(resp);
	free(path);
	kv_path_release(&kp);
	cli_release(&cli);
	return r;
}

/* -method=rw: read the latest version, apply the changes, write it back
 * with cas set to the version read. */
static int patch_rw(struct cli *cli, const char *path, json_t *changes, json_t **resp)
{
	json_t *cur = NULL, *d, *merged, *body;
	bool found;
	long long version;
	int r;

	if ((r = cli_request(cli, "reading the secret", "GET", path, NULL, NULL, &cur, &found)) != 0)
		return r;
	d = json_object_get(cur, "data");
	if (!found || !json_is_object(json_object_get(d, "data"))) {
		fprintf(stderr, "No value found at %s\n", path);
		api_json_free_secret(cur);
		return CLI_EXIT_REMOTE;
	}
	version = json_integer_value(json_object_get(json_object_get(d, "metadata"), "version"));
	merged = json_deep_copy(json_object_get(d, "data"));
	json_object_update(merged, changes);
	body = v2_body(merged, (long)version, true);
	r = cli_api(cli, "writing the secret", "PUT", path, body, resp);
	api_json_free_secret(body);
	api_json_free_secret(cur);
	return r;
}

static int kv_patch(int argc, char **argv)
{
	struct cli cli;
	const char *mount = NULL, *field = NULL, *method = "patch";
	long cas = -1;
	const struct cli_flag flags[] = {
	    {"cas", NULL, CLI_FLAG_INT, &cas, -1, 1L << 40, "-1 (no check)",
	     "Check-and-set for -method=patch: apply only if the secret's current version is this "
	     "one. Ignored by -method=rw, which uses the version it read."},
	    {"field", NULL, CLI_FLAG_STRING, &field, 0, 0, NULL, FIELD_HELP},
	    {"method", NULL, CLI_FLAG_STRING, &method, 0, 0, "patch",
	     "How to update: \"patch\" (one HTTP PATCH) or \"rw\" (read, change, write)."},
	    {"mount", NULL, CLI_FLAG_STRING, &mount, 0, 0, NULL, MOUNT_HELP},
	    CLI_FLAG_END,
	};
	struct kv_path kp = {0};
	json_t *data = NULL, *body = NULL, *resp = NULL;
	char *path = NULL;
	bool found = true;
	int argi, r;

	r = cli_start(&cli, &patch_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (strcmp(method, "patch") != 0 && strcmp(method, "rw") != 0) {
		r = cli_usage_error(&patch_spec, "Invalid -method \"%s\": want \"patch\" or \"rw\"", method);
		goto out;
	}
	if ((r = write_args(&cli, &patch_spec, mount, argc - argi, argv + argi, &data, &kp, &path)) != 0 ||
	    (r = need_v2(&kp, "kv patch")) != 0)
		goto out;
	if (strcmp(method, "rw") == 0) {
		r = patch_rw(&cli, path, data, &resp);
	} else {
		body = v2_body(data, cas, cas >= 0);
		data = NULL;
		r = cli_request(&cli, "patching the secret", "PATCH", path, NULL, body, &resp, &found);
		if (r == 0 && !found) {
			fprintf(stderr, "No value found at %s\n", path);
			r = CLI_EXIT_REMOTE;
		}
	}
	if (r != 0)
		goto out;
	r = print_write(&cli, &kp, path, resp, field);
out:
	api_json_free_secret(data);
	api_json_free_secret(body);
	api_json_free_secret(resp);
	free(path);
	kv_path_release(&kp);
	cli_release(&cli);
	return r;
}

/* ---- list ------------------------------------------------------------- */

static const struct cli_command list_spec = {
    .name = "kv list",
    .synopsis = "List the keys under a path",
    .args = "[options] PATH",
    .help = "List the key names under PATH in a kv engine; names ending in \"/\" are folders. Names "
            "are not filtered by policy: keep secrets out of key names.\n\n"
            "  $ trove kv list secret/\n"
            "  $ trove kv list -mount=secret app/",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int kv_list(int argc, char **argv)
{
	struct cli cli;
	const char *mount = NULL;
	const struct cli_flag flags[] = {
	    {"mount", NULL, CLI_FLAG_STRING, &mount, 0, 0, NULL, MOUNT_HELP},
	    CLI_FLAG_END,
	};
	struct kv_path kp = {0};
	char *path = NULL;
	struct buf p;
	int argi, r;

	buf_init(&p, BUF_CAP_DEFAULT);
	r = cli_start(&cli, &list_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if ((r = cli_args_exactly(&list_spec, argc - argi, 1)) != 0)
		goto out;
	if ((r = kv_resolve(&cli, mount, argv[argi], &kp)) != 0)
		goto out;
	path = kv_api_path(&kp, "metadata");
	(void)buf_printf(&p, "%s%s", path, path[0] && path[strlen(path) - 1] != '/' ? "/" : "");
	r = cli_list(&cli, p.data);
out:
	free(path);
	kv_path_release(&kp);
	cli_release(&cli);
done:
	buf_release(&p);
	return r;
}

/* ---- delete, undelete, destroy ---------------------------------------- */

static const struct cli_command delete_spec = {
    .name = "kv delete",
    .synopsis = "Delete a secret (or versions of it)",
    .args = "[options] KEY",
    .help = "Delete the secret at KEY. On kv version 2 this is a soft delete of the latest version "
            "(or of the -versions given): the data stays in storage and 'trove kv undelete' brings "
            "it back; 'trove kv destroy' removes it for good. On version 1 the key is removed.\n\n"
            "  $ trove kv delete secret/app\n"
            "  $ trove kv delete -mount=secret -versions=2,3 app",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static const struct cli_command undelete_spec = {
    .name = "kv undelete",
    .synopsis = "Restore deleted versions of a secret (kv version 2)",
    .args = "[options] KEY",
    .help = "Undo the soft delete of the given -versions of the secret at KEY, so reads return them "
            "again. Destroyed versions cannot be restored.\n\n"
            "  $ trove kv undelete -versions=3 secret/app",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static const struct cli_command destroy_spec = {
    .name = "kv destroy",
    .synopsis = "Remove versions of a secret for good (kv version 2)",
    .args = "[options] KEY",
    .help = "Permanently remove the data of the given -versions of the secret at KEY. Their "
            "metadata stays, marked destroyed.\n\n"
            "  $ trove kv destroy -versions=1,2 secret/app",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

/* Shared by delete, undelete and destroy: part is the v2 path part for a
 * versions request ("delete", "undelete", "destroy"). */
static int versions_cmd(const struct cli_command *spec, const char *part, int argc, char **argv)
{
	struct cli cli;
	const char *mount = NULL;
	struct strlist versions;
	const struct cli_flag flags[] = {
	    {"mount", NULL, CLI_FLAG_STRING, &mount, 0, 0, NULL, MOUNT_HELP},
	    {"versions", NULL, CLI_FLAG_LIST, &versions, 0, 0, NULL,
	     strcmp(part, "delete") == 0
	         ? "Versions to delete, comma-separated or repeated (kv version 2). Without it the latest "
	           "version is deleted."
	         : "Versions to act on, comma-separated or repeated. Required."},
	    CLI_FLAG_END,
	};
	bool is_delete = strcmp(part, "delete") == 0;
	struct kv_path kp = {0};
	json_t *vers = NULL, *body = NULL, *resp = NULL;
	char *path = NULL;
	int argi, r;

	strlist_init(&versions);
	r = cli_start(&cli, spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if ((r = cli_args_exactly(spec, argc - argi, 1)) != 0)
		goto out;
	if (!is_delete && versions.len == 0) {
		fprintf(stderr, "Error: -versions is required: name the versions to %s, e.g. -versions=3\n", part);
		r = CLI_EXIT_LOCAL;
		goto out;
	}
	if (versions.len > 0 && (r = parse_versions(spec, &versions, &vers)) != 0)
		goto out;
	if ((r = kv_resolve(&cli, mount, argv[argi], &kp)) != 0)
		goto out;
	if ((!is_delete || vers) && (r = need_v2(&kp, is_delete ? "-versions" : spec->name)) != 0)
		goto out;
	if (is_delete && vers == NULL) {
		path = kv_api_path(&kp, "data");
		if ((r = cli_api(&cli, "deleting the secret", "DELETE", path, NULL, &resp)) == 0)
			r = cli_print_data_done(resp, path, true);
		goto out;
	}
	path = kv_api_path(&kp, part);
	body = json_object();
	json_object_set(body, "versions", vers);
	if ((r = cli_api(&cli, is_delete ? "deleting versions" : "changing versions", "POST", path, body, &resp)) !=
	    0)
		goto out;
	r = cli_print_data_done(resp, path, is_delete);
out:
	json_decref(vers);
	json_decref(body);
	json_decref(resp);
	free(path);
	kv_path_release(&kp);
	cli_release(&cli);
done:
	cli_flags_release(flags);
	return r;
}

static int kv_delete(int argc, char **argv)
{
	return versions_cmd(&delete_spec, "delete", argc, argv);
}

static int kv_undelete(int argc, char **argv)
{
	return versions_cmd(&undelete_spec, "undelete", argc, argv);
}

static int kv_destroy(int argc, char **argv)
{
	return versions_cmd(&destroy_spec, "destroy", argc, argv);
}

/* ---- metadata --------------------------------------------------------- */

static const struct cli_command meta_get_spec = {
    .name = "kv metadata get",
    .synopsis = "Read a secret's metadata and versions",
    .args = "[options] KEY",
    .help = "Print the metadata of the secret at KEY (kv version 2): its settings and every version "
            "kept, with creation and deletion times.\n\n"
            "  $ trove kv metadata get secret/app",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static const struct cli_command meta_put_spec = {
    .name = "kv metadata put",
    .synopsis = "Set a secret's settings",
    .args = "[options] KEY",
    .help = "Create or replace the settings of the secret at KEY (kv version 2): how many versions to "
            "keep, whether writes need check-and-set, when versions expire, and custom metadata. "
            "Creates an empty key when none exists.\n\n"
            "  $ trove kv metadata put -max-versions=5 secret/app\n"
            "  $ trove kv metadata put -custom-metadata=owner=ops -custom-metadata=tier=1 secret/app",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static const struct cli_command meta_patch_spec = {
    .name = "kv metadata patch",
    .synopsis = "Change some of a secret's settings",
    .args = "[options] KEY",
    .help = "Change only the settings given for the secret at KEY (kv version 2), with an HTTP "
            "PATCH. Custom metadata keys given are added or replaced; the others stay.\n\n"
            "  $ trove kv metadata patch -cas-required=true secret/app",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static const struct cli_command meta_delete_spec = {
    .name = "kv metadata delete",
    .synopsis = "Delete a secret with all its versions",
    .args = "[options] KEY",
    .help = "Delete the metadata and every version of the secret at KEY (kv version 2). This cannot "
            "be undone.\n\n"
            "  $ trove kv metadata delete secret/app",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int version_cmp(const void *a, const void *b)
{
	long x = strtol(*(const char *const *)a, NULL, 10), y = strtol(*(const char *const *)b, NULL, 10);

	return x < y ? -1 : x > y;
}

static int print_metadata(const struct cli *cli, const char *path, const json_t *resp)
{
	const json_t *data = json_object_get(resp, "data"), *versions;
	json_t *top;
	const char **keys;
	const char *k;
	json_t *v;
	size_t i = 0, n;
	struct buf title;

	if (cli->format != CLI_FORMAT_TABLE)
		return cli_print_data(cli, resp);
	cli_print_warnings(resp);
	versions = json_object_get(data, "versions");
	top = json_deep_copy(data);
	json_object_del(top, "versions");
	cli_print_section("Metadata Path", strlen(path));
	printf("%s\n\n", path);
	cli_print_section("Metadata", cli_section_width(top));
	cli_print_secret_data(cli, top, NULL);
	json_decref(top);
	n = json_is_object(versions) ? json_object_size(versions) : 0;
	keys = xcalloc(n ? n : 1, sizeof(*keys));
	if (n)
		json_object_foreach((json_t *)versions, k, v)
		{
			keys[i++] = k;
		}
	qsort(keys, n, sizeof(*keys), version_cmp);
	buf_init(&title, BUF_CAP_DEFAULT);
	for (i = 0; i < n; i++) {
		v = json_object_get(versions, keys[i]);
		buf_reset(&title);
		(void)buf_printf(&title, "Version %s", keys[i]);
		printf("\n");
		cli_print_section(title.data, cli_section_width(v));
		cli_print_secret_data(cli, v, NULL);
	}
	buf_release(&title);
	free(keys);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
}

/* get (GET, printed) and delete (DELETE) of the metadata of one KEY. */
static int meta_get_or_delete(const struct cli_command *spec, bool del, int argc, char **argv)
{
	struct cli cli;
	const char *mount = NULL;
	const struct cli_flag flags[] = {
	    {"mount", NULL, CLI_FLAG_STRING, &mount, 0, 0, NULL, MOUNT_HELP},
	    CLI_FLAG_END,
	};
	struct kv_path kp = {0};
	json_t *resp = NULL;
	char *path = NULL;
	bool found;
	int argi, r;

	r = cli_start(&cli, spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if ((r = cli_args_exactly(spec, argc - argi, 1)) != 0)
		goto out;
	if ((r = kv_resolve(&cli, mount, argv[argi], &kp)) != 0 || (r = need_v2(&kp, "kv metadata")) != 0)
		goto out;
	path = kv_api_path(&kp, "metadata");
	if (del) {
		if ((r = cli_api(&cli, "deleting metadata", "DELETE", path, NULL, &resp)) == 0)
			r = cli_print_data_done(resp, path, true);
		goto out;
	}
	if ((r = cli_request(&cli, "reading metadata", "GET", path, NULL, NULL, &resp, &found)) != 0)
		goto out;
	if (!found || !json_is_object(json_object_get(resp, "data"))) {
		fprintf(stderr, "No value found at %s\n", path);
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	r = print_metadata(&cli, path, resp);
out:
	json_decref(resp);
	free(path);
	kv_path_release(&kp);
	cli_release(&cli);
	return r;
}

static int kv_meta_get(int argc, char **argv)
{
	return meta_get_or_delete(&meta_get_spec, false, argc, argv);
}

static int kv_meta_delete(int argc, char **argv)
{
	return meta_get_or_delete(&meta_delete_spec, true, argc, argv);
}

/* put (POST, every setting) and patch (PATCH, only the flags given). */
static int meta_write(const struct cli_command *spec, bool patch, int argc, char **argv)
{
	struct cli cli;
	const char *mount = NULL, *dva = NULL;
	long max_versions = 0;
	bool cas_required = false;
	struct strlist custom;
	const struct cli_flag flags[] = {
	    {"cas-required", NULL, CLI_FLAG_BOOL, &cas_required, 0, 0, "false",
	     "Require check-and-set (the cas option) on every write of this key."},
	    {"custom-metadata", NULL, CLI_FLAG_LIST, &custom, 0, 0, NULL,
	     "A key=value pair of custom metadata; repeat for more."},
	    {"delete-version-after", NULL, CLI_FLAG_STRING, &dva, 0, 0, NULL,
	     "Delete each new version this long after it is written (a duration such as \"3h25m\"; "
	     "\"0s\" keeps versions). Capped by the mount's setting."},
	    {"max-versions", NULL, CLI_FLAG_INT, &max_versions, 0, 1L << 30, "0 (the mount's setting)",
	     "Number of versions to keep; older ones are removed."},
	    {"mount", NULL, CLI_FLAG_STRING, &mount, 0, 0, NULL, MOUNT_HELP},
	    CLI_FLAG_END,
	};
	struct kv_path kp = {0};
	json_t *body = json_object(), *cm = json_object(), *resp = NULL;
	char *path = NULL;
	size_t i;
	int argi, r;

	strlist_init(&custom);
	r = cli_start(&cli, spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if ((r = cli_args_exactly(spec, argc - argi, 1)) != 0)
		goto out;
	for (i = 0; i < custom.len; i++) {
		const char *eq = strchr(custom.items[i], '=');
		char *k;

		if (eq == NULL || eq == custom.items[i]) {
			r = cli_usage_error(spec, "Invalid -custom-metadata \"%s\": want key=value", custom.items[i]);
			goto out;
		}
		k = xstrndup(custom.items[i], (size_t)(eq - custom.items[i]));
		json_object_set_new(cm, k, json_string(eq + 1));
		free(k);
	}
	if (!patch || cli_flag_given(&cli, "max-versions"))
		json_object_set_new(body, "max_versions", json_integer(max_versions));
	if (!patch || cli_flag_given(&cli, "cas-required"))
		json_object_set_new(body, "cas_required", json_boolean(cas_required));
	if (dva)
		json_object_set_new(body, "delete_version_after", json_string(dva));
	if (custom.len > 0)
		json_object_set(body, "custom_metadata", cm);
	if ((r = kv_resolve(&cli, mount, argv[argi], &kp)) != 0 || (r = need_v2(&kp, "kv metadata")) != 0)
		goto out;
	path = kv_api_path(&kp, "metadata");
	if ((r = cli_api(&cli, "writing metadata", patch ? "PATCH" : "POST", path, body, &resp)) != 0)
		goto out;
	r = cli_print_data_done(resp, path, false);
out:
	json_decref(resp);
	free(path);
	kv_path_release(&kp);
	cli_release(&cli);
done:
	json_decref(body);
	json_decref(cm);
	cli_flags_release(flags);
	return r;
}

static int kv_meta_put(int argc, char **argv)
{
	return meta_write(&meta_put_spec, false, argc, argv);
}

static int kv_meta_patch(int argc, char **argv)
{
	return meta_write(&meta_patch_spec, true, argc, argv);
}

/* ---- dispatch --------------------------------------------------------- */

static const struct cli_subcommand meta_cmds[] = {
    {&meta_delete_spec, kv_meta_delete},
    {&meta_get_spec, kv_meta_get},
    {&meta_patch_spec, kv_meta_patch},
    {&meta_put_spec, kv_meta_put},
};

static const struct cli_group meta_group = {
    "kv metadata",
    "Read and change the metadata of kv version 2 secrets: settings such as how many versions to "
    "keep, custom metadata, and the list of versions.",
    meta_cmds,
    sizeof(meta_cmds) / sizeof(meta_cmds[0]),
};

static int kv_metadata(int argc, char **argv)
{
	return cli_dispatch(&meta_group, argc, argv);
}

static const struct cli_command metadata_spec = {
    .name = "kv metadata",
    .synopsis = "Read and change secret metadata (kv version 2)",
    .args = "<subcommand>",
    .help = NULL,
    .opts = 0,
};

static const struct cli_subcommand kv_cmds[] = {
    {&delete_spec, kv_delete},     {&destroy_spec, kv_destroy}, {&get_spec, kv_get},
    {&list_spec, kv_list},         {&metadata_spec, kv_metadata}, {&patch_spec, kv_patch},
    {&put_spec, kv_put},           {&undelete_spec, kv_undelete},
};

static const struct cli_group kv_group = {
    "kv",
    "Work with secrets in the key/value engine. The commands find out whether the mount is kv "
    "version 1 or 2 and build the right API paths (secret/data/..., secret/metadata/...), so paths "
    "are given as the user sees them: \"secret/app\", or \"-mount=secret app\".\n\n"
    "  $ trove kv put secret/app user=web password=s3cret\n"
    "  $ trove kv get secret/app\n"
    "  $ trove kv list secret/",
    kv_cmds,
    sizeof(kv_cmds) / sizeof(kv_cmds[0]),
};

int cmd_kv(int argc, char **argv)
{
	return cli_dispatch(&kv_group, argc, argv);
}
