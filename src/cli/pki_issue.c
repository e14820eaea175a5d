/* pki_issue.c — `trove pki issue PARENT CHILD_MOUNT k=v...`: a new
 * intermediate CA on CHILD_MOUNT signed by the issuer PARENT, in the
 * steps of Vault's command:
 *
 *   1. read PARENT (it must be <mount>/issuer/<ref> and readable);
 *   2. CHILD_MOUNT/intermediate/generate/<type> with the k=v data: a key
 *      and a CSR;
 *   3. PARENT/sign-intermediate with the same data and the CSR;
 *   4. CHILD_MOUNT/issuers/import/cert with the new certificate, named
 *      -issuer_name (a PATCH of issuer/<id>);
 *   5. the same for the parent's certificate, named as PARENT's last path
 *      element, and the rest of the chain when there is more;
 *   6. read and print the new issuer.
 *
 * When a step fails after the first call changed something, what exists
 * now and how to go on or undo it is printed before the error. */
#include <stdlib.h>
#include <string.h>

#include "cli/pki.h"

#include "banned.h"

const struct cli_command pki_issue_spec = {
    .name = "pki issue",
    .synopsis = "Make an intermediate CA on a mount, signed by an existing issuer",
    .args = "[options] PARENT CHILD_MOUNT K=V...",
    .help = "PARENT is the full path of the issuer that signs the new intermediate "
            "(pki/issuer/root). CHILD_MOUNT is the pki mount where the new issuer is kept. The K=V "
            "arguments are those of intermediate/generate and sign-intermediate (common_name, ttl, "
            "key_type, ...); at least one is needed.\n\n"
            "The command generates a key and CSR on CHILD_MOUNT, has PARENT sign it, imports the "
            "certificate and the parent's chain into CHILD_MOUNT and prints the new issuer.\n\n"
            "  $ trove pki issue -issuer_name=int-2025 pki/issuer/root pki_int common_name=\"Int CA\" "
            "ttl=8760h",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

/* What the steps made so far, for the message after a failure. */
struct progress {
	const char *child;  /* the child mount */
	const char *parent; /* the parent issuer path */
	char *parent_mount; /* the parent path up to /issuer/ */
	const char *name;   /* -issuer_name */
	char *key_id;       /* the key generated on the child mount */
	char *csr;          /* its CSR */
	char *serial;       /* the signed certificate's serial */
	char *issuer_id;    /* the imported issuer */
	bool imported;
};

static void print_progress(const struct progress *p)
{
	if (p->key_id == NULL && p->serial == NULL)
		return;
	fprintf(stderr, "\nA failure has occurred after:\n");
	if (p->key_id)
		fprintf(stderr, "  - a key (id %s) and CSR were generated on %s\n", p->key_id, p->child);
	if (p->serial)
		fprintf(stderr, "  - %s signed the CSR (certificate serial %s)\n", p->parent, p->serial);
	if (p->imported)
		fprintf(stderr, "  - the certificate was imported into %s as issuer %s\n", p->child,
		        p->issuer_id);
	if (p->serial == NULL && p->csr)
		fprintf(stderr, "\nThe CSR (save it as int.csr):\n%s\n", p->csr);
	if (!p->imported)
		fprintf(stderr,
		        "\nTo go on: sign the CSR with `trove write %s/sign-intermediate csr=@int.csr ...` "
		        "if it is not signed yet, then import the certificate with `trove write "
		        "%s/issuers/import/cert pem_bundle=@chain.pem`.\n",
		        p->parent, p->child);
	else if (p->name && *p->name)
		fprintf(stderr,
		        "\nTo go on: name the issuer with `trove patch %s/issuer/%s issuer_name=%s`.\n",
		        p->child, p->issuer_id, p->name);
	if (!p->imported) {
		fprintf(stderr, "\nTo undo:");
		if (p->key_id)
			fprintf(stderr, " delete the key with `trove delete %s/key/%s`.", p->child,
			        p->key_id);
		if (p->serial)
			fprintf(stderr,
			        " Revoke the certificate with `trove write %s/revoke serial_number=%s`.",
			        p->parent_mount, p->serial);
		fprintf(stderr, "\n");
	}
	fprintf(stderr, "\n");
}

static char *path_join(const char *a, const char *b, const char *c)
{
	struct buf p;
	char *s;

	buf_init(&p, BUF_CAP_DEFAULT);
	(void)buf_printf(&p, "%s/%s%s", a, b, c ? c : "");
	s = buf_take(&p);
	buf_release(&p);
	return s;
}

/* Names an issuer where a clash is no failure: prints a warning. */
static void name_softly(struct cli *cli, const char *path, const json_t *patch, const char *name)
{
	struct api_response resp;
	struct api_client *c = cli_client(cli);

	api_response_init(&resp);
	if (c && api_request(c, "PATCH", path, NULL, patch, &resp) != 0)
		fprintf(
		    stderr,
		    "Warning: the parent's certificate was imported as %s but could not be named %s: %s\n",
		    path, name, resp.error ? resp.error : "request failed");
	api_response_release(&resp);
}

/* Imports a PEM bundle into mount; *id gets the first issuer of the answer's
 * mapping (new or existing). Names it when name is set and not "default";
 * with soft, a naming failure is only a warning. Returns 0 or
 * CLI_EXIT_REMOTE after printing. */
static int import_named(struct cli *cli, const char *mount, const char *pem, const char *name, bool soft,
                        char **id)
{
	json_t *body = json_pack("{s:s}", "pem_bundle", pem), *resp = NULL, *mapping, *patch = NULL;
	const char *first = NULL, *k;
	json_t *v;
	char *path = path_join(mount, "issuers/import/cert", NULL), *ipath = NULL;
	int r;

	*id = NULL;
	if ((r = cli_api(cli, "importing the certificate", "POST", path, body, &resp)) != 0)
		goto out;
	mapping = json_object_get(json_object_get(resp, "data"), "mapping");
	json_object_foreach(mapping, k, v)
	{
		if (first == NULL)
			first = k;
	}
	if (first == NULL) {
		fprintf(stderr, "Error importing the certificate: %s answered no issuer mapping\n", path);
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	*id = xstrdup(first);
	if (name && *name && strcmp(name, "default") != 0) {
		ipath = path_join(mount, "issuer/", first);
		patch = json_pack("{s:s}", "issuer_name", name);
		if (soft)
			name_softly(cli, ipath, patch, name);
		else
			r = cli_api(cli, "naming the issuer", "PATCH", ipath, patch, NULL);
	}
out:
	json_decref(body);
	json_decref(resp);
	json_decref(patch);
	free(path);
	free(ipath);
	return r;
}

/* The chain PEMs of a sign-intermediate answer that are neither the new
 * certificate nor the parent's, as one bundle; NULL when there is none. */
static char *extra_chain(const json_t *data, X509 *cert, X509 *parent)
{
	const json_t *v;
	struct buf b;
	size_t i;
	char *s = NULL;

	buf_init(&b, BUF_CAP_DEFAULT);
	json_array_foreach(json_object_get(data, "ca_chain"), i, v)
	{
		X509 *x = pki_cert_from_pem(json_string_value(v));

		if (x && X509_cmp(x, cert) != 0 && X509_cmp(x, parent) != 0)
			(void)buf_printf(&b, "%s\n", json_string_value(v));
		X509_free(x);
	}
	if (b.len > 0)
		s = buf_take(&b);
	buf_release(&b);
	return s;
}

/* Steps 2 to 5; Vault's order. */
static int issue_steps(struct cli *cli, const char *type, json_t *data, struct progress *p)
{
	json_t *gen = NULL, *signed_resp = NULL, *sd;
	const char *csr, *cert_pem, *ca_pem, *key_id, *serial;
	char *path = path_join(p->child, "intermediate/generate/", type), *sign_path = NULL,
	     *parent_id = NULL;
	char *extra = NULL;
	const char *parent_name = strrchr(p->parent, '/') + 1;
	X509 *cert = NULL, *ca = NULL;
	int r;

	if ((r = cli_api(cli, "generating the intermediate CSR", "POST", path, data, &gen)) != 0)
		goto out;
	sd = json_object_get(gen, "data");
	csr = json_string_value(json_object_get(sd, "csr"));
	key_id = json_string_value(json_object_get(sd, "key_id"));
	if (key_id && *key_id)
		p->key_id = xstrdup(key_id);
	r = CLI_EXIT_REMOTE;
	if (csr == NULL || *csr == '\0' || (strcmp(type, "internal") == 0 && p->key_id == NULL)) {
		fprintf(stderr, "Error generating the intermediate CSR: %s answered no csr or key_id\n",
		        path);
		goto out;
	}
	p->csr = xstrdup(csr);
	json_object_set_new(data, "csr", json_string(csr));
	sign_path = path_join(p->parent, "sign-intermediate", NULL);
	if ((r = cli_api(cli, "signing the intermediate", "POST", sign_path, data, &signed_resp)) != 0)
		goto out;
	sd = json_object_get(signed_resp, "data");
	serial = json_string_value(json_object_get(sd, "serial_number"));
	p->serial = xstrdup(serial ? serial : "?");
	cert_pem = json_string_value(json_object_get(sd, "certificate"));
	ca_pem = json_string_value(json_object_get(sd, "issuing_ca"));
	r = CLI_EXIT_REMOTE;
	if ((cert = pki_cert_from_pem(cert_pem)) == NULL || (ca = pki_cert_from_pem(ca_pem)) == NULL) {
		fprintf(stderr, "Error signing the intermediate: %s answered no certificate or issuing_ca\n",
		        sign_path);
		goto out;
	}
	if ((r = import_named(cli, p->child, cert_pem, p->name, false, &p->issuer_id)) != 0) {
		p->imported = p->issuer_id != NULL;
		goto out;
	}
	p->imported = true;
	/* The parent's name may be taken on the child mount: only a warning. */
	if ((r = import_named(cli, p->child, ca_pem, parent_name, true, &parent_id)) != 0)
		goto out;
	if ((extra = extra_chain(sd, cert, ca)) != NULL) {
		free(parent_id);
		if ((r = import_named(cli, p->child, extra, NULL, true, &parent_id)) != 0)
			goto out;
	}
	r = 0;
out:
	X509_free(cert);
	X509_free(ca);
	api_json_free_secret(gen);
	json_decref(signed_resp);
	free(path);
	free(sign_path);
	free(parent_id);
	free(extra);
	return r;
}

int pki_cmd_issue(int argc, char **argv)
{
	struct cli cli;
	const char *type = "internal", *name = "";
	const struct cli_flag flags[] = {
	    {"type", NULL, CLI_FLAG_STRING, &type, 0, 0, "internal",
	     "\"internal\" to generate a new key on the child mount, \"existing\" to use a key already "
	     "there (key_ref=...). Exported keys are not offered by this command."},
	    {"issuer_name", NULL, CLI_FLAG_STRING, &name, 0, 0, NULL, "The name of the new issuer."},
	    CLI_FLAG_END,
	};
	struct progress p = {0};
	struct pki_issuer_read parent = {0};
	json_t *data = NULL, *resp = NULL;
	char *parent_path = NULL, *child = NULL, *ipath = NULL, *cut;
	int argi, r;

	r = cli_start(&cli, &pki_issue_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (argc - argi < 3) {
		r = cli_usage_error(&pki_issue_spec,
		                    "Not enough arguments: expected the parent issuer, the child "
		                    "mount and at least one key=value argument");
		goto out;
	}
	if (strcmp(type, "internal") != 0 && strcmp(type, "existing") != 0) {
		r = cli_usage_error(&pki_issue_spec, "Invalid -type \"%s\": want internal or existing", type);
		goto out;
	}
	parent_path = pki_clean_path(argv[argi]);
	child = pki_clean_path(argv[argi + 1]);
	if ((cut = strstr(parent_path, "/issuer/")) == NULL || cut == parent_path || cut[8] == '\0' ||
	    strchr(cut + 8, '/') != NULL) {
		r = cli_usage_error(
		    &pki_issue_spec,
		    "Parent issuer %s is not a PKI issuer path of the form mount/issuer/issuer-ref",
		    parent_path);
		goto out;
	}
	if (*child == '\0') {
		r = cli_usage_error(&pki_issue_spec, "The child mount is empty");
		goto out;
	}
	if ((r = cli_parse_kv_args(argc - argi - 2, argv + argi + 2, &data)) != 0)
		goto out;
	if ((r = pki_read_issuer(&cli, "reading the parent issuer", parent_path, &parent)) != 0)
		goto out;
	p.child = child;
	p.parent = parent_path;
	p.parent_mount = xstrndup(parent_path, (size_t)(cut - parent_path));
	p.name = name;
	if ((r = issue_steps(&cli, type, data, &p)) != 0) {
		print_progress(&p);
		goto out;
	}
	ipath = path_join(child, "issuer/", p.issuer_id);
	if ((r = cli_api(&cli, "reading the new issuer", "GET", ipath, NULL, &resp)) != 0)
		goto out;
	r = cli_print_secret(&cli, resp, NULL);
out:
	json_decref(data);
	json_decref(resp);
	pki_issuer_read_release(&parent);
	free(parent_path);
	free(child);
	free(ipath);
	free(p.parent_mount);
	free(p.key_id);
	free(p.csr);
	free(p.serial);
	free(p.issuer_id);
	cli_release(&cli);
	return r;
}
