/* pki.c — `trove pki ...`: the command group, and the two commands that
 * compare certificates: verify-sign (one issuer, one issued) and
 * list-intermediates (one issuer, many candidates). Both read the
 * certificates through the API and decide on this side, with OpenSSL
 * (pki_cert.c), as Vault's CLI does. issue is pki_issue.c, health-check
 * pki_health_cmd.c. */
#include <stdlib.h>
#include <string.h>

#include "cli/pki.h"

#include "banned.h"

/* Prints relations (a JSON object of booleans or of relation objects) as
 * -format asks: a two-column table under head1/head2, or JSON/YAML. */
static int print_bool_map(const struct cli *cli, const json_t *map, const char *head1, const char *head2)
{
	struct cli_table t;
	struct strlist keys;
	const char *k;
	const json_t *v;
	size_t i;

	if (cli->format != CLI_FORMAT_TABLE)
		return cli_print_data(cli, map);
	strlist_init(&keys);
	json_object_foreach((json_t *)map, k, v)
	{
		if (strlist_push(&keys, k) != 0)
			abort(); /* small fixed allocation */
	}
	strlist_sort(&keys);
	cli_table_init(&t, 2);
	cli_table_header(&t, head1, head2);
	for (i = 0; i < keys.len; i++)
		cli_table_row(&t, keys.items[i],
		              json_is_true(json_object_get(map, keys.items[i])) ? "true" : "false");
	cli_table_print(&t, stdout);
	cli_table_release(&t);
	strlist_release(&keys);
	printf("\n");
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
}

/* ---- verify-sign ------------------------------------------------------ */

static const struct cli_command verify_sign_spec = {
    .name = "pki verify-sign",
    .synopsis = "Check whether one issuer signed another certificate",
    .args = "[options] POSSIBLE-ISSUER POSSIBLE-ISSUED",
    .help = "Reads both certificates through the API and reports, for POSSIBLE-ISSUER and "
            "POSSIBLE-ISSUED (full paths such as pki/issuer/root or pki_int/issuer/default):\n\n"
            "  signature_match  the issuer's key signed the issued certificate\n"
            "  path_match       the issuer is in the issued certificate's ca_chain\n"
            "  key_id_match     the issued certificate's authority key id is the issuer's subject key id\n"
            "  subject_match    the issuer's subject is the issued certificate's issuer name\n"
            "  trust_match      trusting the issuer alone is enough to trust the issued certificate\n\n"
            "  $ trove pki verify-sign pki/issuer/root pki_int/issuer/default",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int verify_sign(int argc, char **argv)
{
	struct cli cli;
	struct pki_issuer_read parent = {0}, child = {0};
	struct pki_sign_match m;
	char *issuer = NULL, *issued = NULL;
	json_t *out = NULL;
	int argi, r;

	r = cli_start(&cli, &verify_sign_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (argc - argi < 2) {
		r = cli_usage_error(&verify_sign_spec,
		                    argc - argi == 0 ? "Not enough arguments (expected potential issuer and "
		                                       "issued, got nothing)"
		                                     : "Not enough arguments (expected both potential issuer "
		                                       "and issued, got only one)");
		goto out;
	}
	if (argc - argi > 2) {
		r = cli_usage_error(&verify_sign_spec,
		                    "Too many arguments (expected only potential issuer and issued, got %d "
		                    "arguments)",
		                    argc - argi);
		goto out;
	}
	issuer = pki_clean_path(argv[argi]);
	issued = pki_clean_path(argv[argi + 1]);
	if ((r = pki_read_issuer(&cli, "reading the issuer", issuer, &parent)) != 0 ||
	    (r = pki_read_issuer(&cli, "reading the issued certificate", issued, &child)) != 0)
		goto out;
	pki_verify_sign(parent.cert, child.cert, child.chain, &m);
	out = pki_sign_match_json(&m);
	if (cli.format == CLI_FORMAT_TABLE)
		printf("issuer:%s\nissued:%s\n\n", issuer, issued);
	r = print_bool_map(&cli, out, "field", "value");
out:
	json_decref(out);
	pki_issuer_read_release(&parent);
	pki_issuer_read_release(&child);
	free(issuer);
	free(issued);
	cli_release(&cli);
	return r;
}

/* ---- list-intermediates ----------------------------------------------- */

static const struct cli_command list_intermediates_spec = {
    .name = "pki list-intermediates",
    .synopsis = "Find which certificates a given issuer signed",
    .args = "[options] PARENT [CHILD...]",
    .help = "Compares PARENT, an issuer path (pki/issuer/root), with each CHILD and prints whether "
            "it matches. A CHILD is a certificate path (containing /issuer/, /certs/ or /revoked/) "
            "or a pki mount, meaning each issuer of that mount. Without CHILD, every issuer of every "
            "pki mount the token can list is compared.\n\n"
            "By default a match needs the subject, the key id and the signature to match and the "
            "child to be trusted through the parent; the flags below change what is required.\n\n"
            "  $ trove pki list-intermediates pki/issuer/root pki_int\n"
            "  $ trove pki list-intermediates -format=json pki/issuer/root",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

/* Appends "<mount>/issuer/<id or name>" for each issuer of mount. */
static int mount_issuers(struct cli *cli, const char *mount_arg, bool use_names, struct strlist *out)
{
	char *mount = pki_clean_path(mount_arg);
	struct buf path;
	json_t *resp = NULL, *keys, *v;
	bool found;
	size_t i;
	int r;

	buf_init(&path, BUF_CAP_DEFAULT);
	(void)buf_printf(&path, "%s/issuers", mount);
	r = cli_request(cli, "listing the issuers of a mount", "LIST", path.data, NULL, NULL, &resp, &found);
	if (r != 0 || !found)
		goto out; /* no issuers (404): nothing to add */
	keys = json_object_get(json_object_get(resp, "data"), "keys");
	json_array_foreach(keys, i, v)
	{
		const char *id = json_string_value(v), *name = NULL;
		json_t *ir = NULL;

		if (id == NULL)
			continue;
		buf_reset(&path);
		(void)buf_printf(&path, "%s/issuer/%s", mount, id);
		if (use_names && cli_api(cli, "reading an issuer's name", "GET", path.data, NULL, &ir) == 0)
			name = json_string_value(json_object_get(json_object_get(ir, "data"), "issuer_name"));
		if (name && *name) {
			buf_reset(&path);
			(void)buf_printf(&path, "%s/issuer/%s", mount, name);
		}
		if (strlist_push(out, path.data) != 0)
			abort();
		json_decref(ir);
	}
out:
	json_decref(resp);
	buf_release(&path);
	free(mount);
	return r;
}

/* Every issuer of every pki mount in sys/mounts. */
static int all_pki_issuers(struct cli *cli, bool use_names, struct strlist *out)
{
	json_t *resp = NULL, *data, *m;
	const char *path;
	int r;

	if ((r = cli_api(cli, "listing the mounts with potential issuers", "GET", "sys/mounts", NULL,
	                 &resp)) != 0)
		return r;
	data = json_object_get(resp, "data");
	if (!json_is_object(data))
		data = resp;
	json_object_foreach(data, path, m)
	{
		const char *type = json_string_value(json_object_get(m, "type"));

		if (type && strcmp(type, "pki") == 0 && (r = mount_issuers(cli, path, use_names, out)) != 0)
			break;
	}
	json_decref(resp);
	return r;
}

static bool is_cert_path(const char *p)
{
	return strstr(p, "/issuer/") || strstr(p, "/certs/") || strstr(p, "/revoked/");
}

static int list_intermediates(int argc, char **argv)
{
	struct cli cli;
	bool subject = true, key_id = true, path_match = false, direct = true, indirect = true,
	     use_names = false;
	const struct cli_flag flags[] = {
	    {"subject_match", NULL, CLI_FLAG_BOOL, &subject, 0, 0, "true",
	     "Require the parent's subject to be the child's issuer name."},
	    {"key_id_match", NULL, CLI_FLAG_BOOL, &key_id, 0, 0, "true",
	     "Require the parent's subject key id to be the child's authority key id."},
	    {"path_match", NULL, CLI_FLAG_BOOL, &path_match, 0, 0, "false",
	     "Require the parent to appear in the child's ca_chain."},
	    {"direct_sign", NULL, CLI_FLAG_BOOL, &direct, 0, 0, "true",
	     "Require the parent's key to have signed the child directly."},
	    {"indirect_sign", NULL, CLI_FLAG_BOOL, &indirect, 0, 0, "true",
	     "Require that trusting the parent is enough to trust the child."},
	    {"use_names", NULL, CLI_FLAG_BOOL, &use_names, 0, 0, "false",
	     "Name the issuers of a mount by their issuer_name (when they have one) instead of their id."},
	    CLI_FLAG_END,
	};
	struct pki_issuer_read parent = {0};
	struct strlist children;
	json_t *matches = json_object();
	char *issuer = NULL;
	size_t i;
	int argi, r, a;

	strlist_init(&children);
	r = cli_start(&cli, &list_intermediates_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if (argc - argi < 1) {
		r = cli_usage_error(&list_intermediates_spec,
		                    "Not enough arguments (expected potential parent, got "
		                    "nothing)");
		goto out;
	}
	for (a = argi + 1; a < argc; a++) {
		if (argv[a][0] == '-') {
			r = cli_usage_error(&list_intermediates_spec,
			                    "Options (%s) must be specified before positional arguments (%s)",
			                    argv[a], argv[argi]);
			goto out;
		}
	}
	for (a = argi + 1; a < argc && r == CLI_PROCEED; a++) {
		char *p = pki_clean_path(argv[a]);

		if (is_cert_path(p)) {
			if (strlist_push(&children, p) != 0)
				abort();
		} else if (mount_issuers(&cli, p, use_names, &children) != 0) {
			r = CLI_EXIT_REMOTE;
		}
		free(p);
	}
	if (r != CLI_PROCEED)
		goto out;
	if (argc - argi == 1 && (r = all_pki_issuers(&cli, use_names, &children)) != 0)
		goto out;
	issuer = pki_clean_path(argv[argi]);
	if ((r = pki_read_issuer(&cli, "reading the parent issuer", issuer, &parent)) != 0)
		goto out;
	for (i = 0; i < children.len; i++) {
		struct pki_issuer_read child;
		struct pki_sign_match m;
		bool match;

		if (children.items[i][0] == '\0')
			continue;
		if ((r = pki_read_issuer(&cli, "reading a child certificate", children.items[i], &child)) !=
		    0)
			goto out;
		pki_verify_sign(parent.cert, child.cert, child.chain, &m);
		match = (!subject || m.subject_match) && (!key_id || m.key_id_match) &&
		        (!path_match || m.path_match) && (!direct || m.signature_match) &&
		        (!indirect || m.trust_match);
		json_object_set_new(matches, children.items[i], json_boolean(match));
		pki_issuer_read_release(&child);
	}
	r = print_bool_map(&cli, matches, "intermediate", "match?");
out:
	pki_issuer_read_release(&parent);
	free(issuer);
	cli_release(&cli);
done:
	json_decref(matches);
	strlist_release(&children);
	return r;
}

/* ---- the group -------------------------------------------------------- */

static const struct cli_subcommand pki_cmds[] = {
    {&pki_health_check_spec, pki_cmd_health_check},
    {&pki_issue_spec, pki_cmd_issue},
    {&list_intermediates_spec, list_intermediates},
    {&verify_sign_spec, verify_sign},
};

static const struct cli_group pki_group = {
    "pki",
    "Work with PKI secrets engines: make an intermediate CA signed by another issuer, check which "
    "issuer signed which certificate, and check a mount against good practice. Paths are full API "
    "paths of issuers (pki/issuer/root) or mounts (pki_int).\n\n"
    "  $ trove pki issue -issuer_name=int pki/issuer/root pki_int common_name=\"Example Intermediate\"\n"
    "  $ trove pki verify-sign pki/issuer/root pki_int/issuer/int\n"
    "  $ trove pki health-check pki",
    pki_cmds,
    sizeof(pki_cmds) / sizeof(pki_cmds[0]),
};

int cmd_pki(int argc, char **argv)
{
	return cli_dispatch(&pki_group, argc, argv);
}
