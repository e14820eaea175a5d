/* login.c — `trove login`: authenticate and keep the token for later
 * commands in the token helper's file (~/.vault-token, the file Vault's
 * own CLI uses, so either CLI picks up the other's login).
 *
 * Methods are a table: each turns the command's arguments into a login
 * response envelope (an "auth" block). The token method checks the token
 * with auth/token/lookup-self and builds the auth block from the answer;
 * userpass and approle send key=value arguments to their mount's login
 * endpoint and keep the server's answer. Secrets given as arguments
 * (password=, secret_id=) are wiped from argv as soon as they are read, and
 * a login request never carries the token of an earlier login. Adding a
 * method means adding a row and a function; storing and printing are
 * shared.
 *
 * The token file is written atomically and private: a temporary file
 * created 0600 next to it, then renamed over it, so a crash never leaves
 * a half-written token and no other user can read it at any moment. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/token_helper.h"
#include "api/aws_sign.h"
#include "cli/cli.h"
#include "cli/login_methods.h"
#include "cli/login_cert.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

/* Authenticates; on success returns 0 with a response envelope holding an
 * auth block (client_token set) in *out. Prints its own errors. */
typedef int (*login_fn)(struct cli *cli, const struct login_args *a, json_t **out);

struct login_method {
	const char *name;
	login_fn run;
};

static const struct cli_command login_spec = {
    .name = "login",
    .synopsis = "Authenticate and store the token",
    .args = "[options] [TOKEN | - | K=V...]",
    .help = "Authenticate to the server and keep the resulting token for later commands, in the "
            "token helper's file (~/.vault-token, or TROVE_TOKEN_PATH), written with mode 0600.\n\n"
            "The token method (the default) checks a token you already have. Give it as the "
            "argument, as \"-\" to read it from stdin, or leave it out to be asked for it without "
            "echo. A token in the argument list can end up in shell history; prefer the prompt or "
            "stdin.\n\n"
            "The userpass method takes username=NAME and password=PW; without password= (or with "
            "password=-) the password is asked for without echo, or read from stdin. It logs in at "
            "auth/<path>/login/<username>, the path being \"userpass\" unless -path says otherwise."
            "\n\n"
            "The approle method takes role_id=ID and, unless the role does not require one, "
            "secret_id=SID (secret_id=- asks for it without echo, or reads it from stdin). It logs "
            "in at auth/<path>/login, the path being \"approle\" unless -path says otherwise.\n\n"
            "The oidc method signs you in at the OIDC provider in a browser: it listens on "
            "localhost:8250 for the provider's redirect, opens the browser ($BROWSER, else "
            "xdg-open) and waits up to two minutes. It takes role=R, listenaddress=, port=, "
            "callbackmethod=, callbackhost=, callbackport=, skip_browser=true (only print the URL) "
            "and abort_on_error=true (fail when the browser cannot be started); the path is "
            "\"oidc\" unless -path says otherwise.\n\n"
            "The jwt method takes role=R and jwt=TOKEN, jwt=@FILE or jwt=- (stdin), and logs in "
            "at auth/<path>/login, the path being \"jwt\" unless -path says otherwise.\n\n"
            "The aws method signs an sts:GetCallerIdentity request with your AWS credentials "
            "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, else the shared credentials "
            "file and AWS_PROFILE, else the ECS or EC2 metadata endpoints; or aws_access_key_id=, "
            "aws_secret_access_key=, aws_security_token=) and logs in at auth/<path>/login, the path "
            "being \"aws\" unless -path says otherwise. It takes role=R, header_value=V (sent and "
            "signed as X-Vault-AWS-IAM-Server-ID) and region=R (us-east-1: sts.amazonaws.com).\n\n"
            "The cert method logs in with the TLS client certificate of VAULT_CLIENT_CERT and "
            "VAULT_CLIENT_KEY at auth/<path>/login, the path being \"cert\" unless -path says "
            "otherwise; name=N picks one of the method's certificate entries.\n\n"
            "  $ trove login\n"
            "  $ trove login -no-store s.3jnbMAKl1i4YS3QoKdbHzGXq\n"
            "  $ cat token.txt | trove login -\n"
            "  $ trove login -method=userpass username=ann\n"
            "  $ trove login -method=approle -path=machines role_id=$ROLE_ID secret_id=-\n"
            "  $ trove login -method=aws role=deployer header_value=vault.example.com\n"
            "  $ trove login -method=oidc role=engineering\n"
            "  $ trove login -method=jwt role=ci jwt=@/var/run/ci/id_token",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

/* ---- the token method ------------------------------------------------- */

static json_t *string_array_or_empty(const json_t *v)
{
	return json_is_array(v) ? json_deep_copy(v) : json_array();
}

/* A new string: obj[key] when it is a string, else dflt. */
static json_t *str_or(const json_t *obj, const char *key, const char *dflt)
{
	const json_t *v = json_object_get(obj, key);

	/* A copy, not a reference: the lookup is wiped when freed. */
	return json_string(json_is_string(v) ? json_string_value(v) : dflt);
}

/* Builds the envelope a login shows for a token, from its lookup. */
static json_t *auth_from_lookup(const char *token, const json_t *lookup)
{
	const json_t *d = json_object_get(lookup, "data");
	const json_t *pol = json_object_get(d, "policies"), *ip = json_object_get(d, "identity_policies");
	const json_t *meta = json_object_get(d, "meta"), *ttl = json_object_get(d, "ttl");
	const json_t *warnings = json_object_get(lookup, "warnings");
	json_t *auth = json_object(), *env = json_object(), *all = string_array_or_empty(pol);
	size_t i;

	for (i = 0; json_is_array(ip) && i < json_array_size(ip); i++)
		json_array_append_new(all, json_deep_copy(json_array_get(ip, i)));
	json_object_set_new(auth, "client_token", json_string(token));
	json_object_set_new(auth, "accessor", str_or(d, "accessor", ""));
	json_object_set_new(auth, "policies", all);
	json_object_set_new(auth, "token_policies", string_array_or_empty(pol));
	json_object_set_new(auth, "identity_policies", string_array_or_empty(ip));
	json_object_set_new(auth, "metadata", json_is_object(meta) ? json_deep_copy(meta) : json_null());
	json_object_set_new(auth, "lease_duration", json_integer(json_is_integer(ttl) ? json_integer_value(ttl) : 0));
	json_object_set_new(auth, "renewable", json_boolean(json_is_true(json_object_get(d, "renewable"))));
	json_object_set_new(auth, "entity_id", str_or(d, "entity_id", ""));
	json_object_set_new(auth, "token_type", str_or(d, "type", "service"));
	json_object_set_new(auth, "orphan", json_boolean(json_is_true(json_object_get(d, "orphan"))));

	json_object_set_new(env, "request_id", str_or(lookup, "request_id", ""));
	json_object_set_new(env, "lease_id", json_string(""));
	json_object_set_new(env, "lease_duration", json_integer(0));
	json_object_set_new(env, "renewable", json_false());
	json_object_set_new(env, "data", json_null());
	json_object_set_new(env, "warnings", json_is_array(warnings) ? json_deep_copy(warnings) : json_null());
	json_object_set_new(env, "auth", auth);
	return env;
}

static int login_token(struct cli *cli, const struct login_args *a, json_t **out)
{
	struct buf in;
	json_t *lookup = NULL;
	char *token = NULL;
	size_t s, e;
	int r;

	*out = NULL;
	buf_init_secret(&in, 64 * 1024);
	if (a->argc > 1) {
		r = cli_usage_error(&login_spec, "Too many arguments for the token method (expected 1, got %d)",
		                    a->argc);
		goto out;
	}
	if (a->argc == 1 && strcmp(a->argv[0], "-") == 0) {
		if ((r = cli_read_input("-", &in)) != 0)
			goto out;
		for (s = 0; s < in.len && (in.data[s] == ' ' || in.data[s] == '\t' || in.data[s] == '\n' ||
		                           in.data[s] == '\r');
		     s++)
			;
		for (e = in.len; e > s && (in.data[e - 1] == ' ' || in.data[e - 1] == '\t' ||
		                           in.data[e - 1] == '\n' || in.data[e - 1] == '\r');
		     e--)
			;
		token = xstrndup(in.data + s, e - s);
	} else if (a->argc == 1) {
		token = cli_take_secret_arg(a->argv, 0);
	} else if ((r = cli_read_secret("Token (will be hidden): ", &token)) != 0) {
		goto out;
	}
	if (*token == '\0') {
		fprintf(stderr, "Error: no token was given\n");
		r = CLI_EXIT_LOCAL;
		goto out;
	}
	if (cli_client(cli) == NULL) {
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	api_client_set_token(cli->client, token);
	if ((r = cli_api(cli, "authenticating", "GET", "auth/token/lookup-self", NULL, &lookup)) != 0)
		goto out;
	if (!json_is_object(json_object_get(lookup, "data"))) {
		fprintf(stderr, "Error authenticating: the server's token lookup holds no data\n");
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	*out = auth_from_lookup(token, lookup);
	r = 0;
out:
	api_json_free_secret(lookup);
	secure_free_str(token);
	buf_release_secret(&in);
	return r;
}

/* ---- key=value methods: userpass, approle ------------------------------ */

/* One key a method accepts. A secret's argument is wiped from argv. */
struct login_key {
	const char *name;
	bool secret;
	char *value; /* heap; secrets freed with secure_free_str */
};

static void keys_release(struct login_key *k, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		secure_free_str(k[i].value);
		k[i].value = NULL;
	}
}

/* Fills keys from "key=value" arguments. Every secret argument is wiped,
 * even when the command line is then refused. Returns 0 or CLI_EXIT_LOCAL
 * (printed); the message never repeats a value. */
static int parse_keys(const struct login_args *a, const char *method, struct login_key *keys, size_t n)
{
	struct buf names;
	int r = 0;

	buf_init(&names, 1024);
	for (size_t k = 0; k < n; k++)
		buf_printf(&names, "%s%s=", k ? ", " : "", keys[k].name);
	for (int i = 0; i < a->argc; i++) {
		const char *eq = strchr(a->argv[i], '=');
		struct login_key *key = NULL;
		for (size_t k = 0; eq && k < n; k++)
			if (strlen(keys[k].name) == (size_t)(eq - a->argv[i]) &&
			    strncmp(keys[k].name, a->argv[i], (size_t)(eq - a->argv[i])) == 0)
				key = &keys[k];
		if (key && key->secret) {
			char *whole = cli_take_secret_arg(a->argv, i);
			if (!key->value && r == 0)
				key->value = xstrdup(whole + (eq - a->argv[i]) + 1);
			else if (r == 0)
				r = cli_usage_error(&login_spec, "%s= is given more than once", key->name);
			secure_free_str(whole);
			continue;
		}
		if (r != 0)
			continue;
		if (!eq || eq == a->argv[i])
			r = cli_usage_error(
			    &login_spec, "Argument %d is not of the form key=value (the %s method takes %s)",
			    i + 1, method, names.data);
		else if (!key)
			r = cli_usage_error(&login_spec,
			                    "Unknown key \"%.*s\" for the %s method (it takes %s)",
			                    (int)(eq - a->argv[i]), a->argv[i], method, names.data);
		else if (key->value)
			r = cli_usage_error(&login_spec, "%s= is given more than once", key->name);
		else
			key->value = xstrdup(eq + 1);
	}
	buf_release(&names);
	return r;
}

/* A secret that was not given (or given as "-"): asked for without echo
 * on a terminal, else read from stdin. */
static int ask_secret(struct login_key *key, const char *prompt)
{
	if (key->value && strcmp(key->value, "-") != 0)
		return 0;
	secure_free_str(key->value);
	key->value = NULL;
	return cli_read_secret(prompt, &key->value);
}

/* "auth/<-path or dflt>/login[/<suffix>]" into out. */
static int login_path(const struct login_args *a, const char *dflt, const char *suffix, struct buf *out)
{
	char *mount = cli_trim_slashes(a->path ? a->path : dflt);
	int r = 0;

	if (!mount[0])
		r = cli_usage_error(&login_spec, "-path must name the auth method's mount");
	else
		buf_printf(out, "auth/%s/login%s%s", mount, suffix ? "/" : "", suffix ? suffix : "");
	free(mount);
	return r;
}

/* Sends the login without any stored token; *out gets the envelope. */
static int post_login(struct cli *cli, const char *path, const json_t *body, json_t **out)
{
	if (cli_client(cli) == NULL)
		return CLI_EXIT_REMOTE;
	api_client_set_token(cli->client, NULL);
	return cli_api(cli, "authenticating", "POST", path, body, out);
}

static int login_userpass(struct cli *cli, const struct login_args *a, json_t **out)
{
	struct login_key keys[] = {{"username", false, NULL}, {"password", true, NULL}};
	struct buf path;
	json_t *body = NULL;
	int r;

	*out = NULL;
	buf_init(&path, 4096);
	if ((r = parse_keys(a, "userpass", keys, 2)) != 0)
		goto out;
	if (!keys[0].value || !keys[0].value[0]) {
		r = cli_usage_error(&login_spec, "The userpass method needs username=NAME");
		goto out;
	}
	if (strchr(keys[0].value, '/')) {
		r = cli_usage_error(&login_spec, "username must not contain '/'");
		goto out;
	}
	if ((r = login_path(a, "userpass", keys[0].value, &path)) != 0 ||
	    (r = ask_secret(&keys[1], "Password (will be hidden): ")) != 0)
		goto out;
	body = json_pack("{s:s}", "password", keys[1].value);
	r = post_login(cli, path.data, body, out);
out:
	api_json_free_secret(body);
	keys_release(keys, 2);
	buf_release(&path);
	return r;
}

static int login_approle(struct cli *cli, const struct login_args *a, json_t **out)
{
	struct login_key keys[] = {{"role_id", false, NULL}, {"secret_id", true, NULL}};
	struct buf path;
	json_t *body = NULL;
	int r;

	*out = NULL;
	buf_init(&path, 4096);
	if ((r = parse_keys(a, "approle", keys, 2)) != 0)
		goto out;
	if (!keys[0].value || !keys[0].value[0]) {
		r = cli_usage_error(&login_spec, "The approle method needs role_id=ID");
		goto out;
	}
	if ((r = login_path(a, "approle", NULL, &path)) != 0)
		goto out;
	/* secret_id is optional (roles with bind_secret_id=false); "-" asks. */
	if (keys[1].value && (r = ask_secret(&keys[1], "SecretID (will be hidden): ")) != 0)
		goto out;
	body = json_pack("{s:s}", "role_id", keys[0].value);
	if (keys[1].value)
		json_object_set_new(body, "secret_id", json_string(keys[1].value));
	r = post_login(cli, path.data, body, out);
out:
	api_json_free_secret(body);
	keys_release(keys, 2);
	buf_release(&path);
	return r;
}

/* Signs sts:GetCallerIdentity with the caller's AWS credentials (given as
 * keys, as Vault's CLI takes them, or found where the SDKs look) and
 * sends it as Vault's CLI does. AWS_ENDPOINT_URL_STS (or AWS_ENDPOINT_URL)
 * names another STS URL, as for the SDKs. */
static int login_aws(struct cli *cli, const struct login_args *a, json_t **out)
{
	struct login_key keys[] = {{"role", false, NULL},
	                           {"header_value", false, NULL},
	                           {"region", false, NULL},
	                           {"aws_access_key_id", false, NULL},
	                           {"aws_secret_access_key", true, NULL},
	                           {"aws_security_token", true, NULL}};
	const size_t nk = sizeof(keys) / sizeof(keys[0]);
	struct aws_creds creds = {0};
	struct buf path, why, url;
	json_t *body = NULL;
	int r;

	*out = NULL;
	buf_init(&path, 4096);
	buf_init(&why, 8192);
	buf_init(&url, 4096);
	if ((r = parse_keys(a, "aws", keys, nk)) != 0 || (r = login_path(a, "aws", NULL, &path)) != 0)
		goto out;
	if (keys[3].value || keys[4].value) {
		creds.access_key = keys[3].value ? xstrdup(keys[3].value) : NULL;
		creds.secret_key = keys[4].value ? xstrdup(keys[4].value) : NULL;
		creds.session_token = keys[5].value ? xstrdup(keys[5].value) : NULL;
		if (!creds.access_key || !creds.secret_key) {
			r = cli_usage_error(&login_spec, "aws_access_key_id= and aws_secret_access_key= go together");
			goto out;
		}
	} else if (aws_creds_load(&creds, &why) != 0) {
		fprintf(stderr, "Error: %s\n", why.data);
		r = CLI_EXIT_LOCAL;
		goto out;
	}
	aws_sts_url_from_env(&url);
	buf_reset(&why);
	if (aws_login_data(&creds, url.data, keys[2].value, keys[1].value, (int64_t)time(NULL), &body, &why) != 0) {
		fprintf(stderr, "Error: %s\n", why.data ? why.data : "cannot sign the AWS request");
		r = CLI_EXIT_LOCAL;
		goto out;
	}
	if (keys[0].value && keys[0].value[0])
		json_object_set_new(body, "role", json_string(keys[0].value));
	r = post_login(cli, path.data, body, out);
out:
	api_json_free_secret(body);
	aws_creds_release(&creds);
	keys_release(keys, nk);
	buf_release(&path);
	buf_release(&why);
	buf_release(&url);
	return r;
}

static int login_cert(struct cli *cli, const struct login_args *a, json_t **out)
{
	return cli_login_cert(cli, a->argc, a->argv, a->path, out);
}

static const struct login_method methods[] = {
    {"token", login_token},
    {"userpass", login_userpass},
    {"approle", login_approle},
    {"aws", login_aws},
    {"oidc", login_oidc},
    {"jwt", login_jwt},
    {"cert", login_cert},
};

/* ---- storing ---------------------------------------------------------- */

/* Writes token to the helper file (api_token_helper_store). A failure is
 * 2, as Vault's login has it: the login itself succeeded. */
static int store_token(const char *token)
{
	char *detail = NULL;
	int r = api_token_helper_store(token, &detail);

	if (r == TROVE_ERR_NOT_FOUND)
		fprintf(stderr, "Error storing the token: no place for the token file (set HOME or "
		                "TROVE_TOKEN_PATH), or use -no-store\n");
	else if (r != 0)
		fprintf(stderr, "Error storing the token in %s\n", detail ? detail : "the token file");
	free(detail);
	return r == 0 ? 0 : CLI_EXIT_REMOTE;
}

/* ---- the command ------------------------------------------------------ */

int cmd_login(int argc, char **argv)
{
	struct cli cli;
	const char *method = "token", *path = NULL, *field = NULL;
	bool no_store = false, no_print = false, token_only = false;
	const struct cli_flag flags[] = {
	    {"field", NULL, CLI_FLAG_STRING, &field, 0, 0, NULL,
	     "Print only this field of the result (such as token), with no trailing newline unless the "
	     "output is a terminal."},
	    {"method", NULL, CLI_FLAG_STRING, &method, 0, 0, "token",
	     "Type of auth method to log in with: \"token\", \"userpass\", \"approle\", \"aws\", "
	     "\"cert\", \"oidc\" or \"jwt\"."},
	    {"no-print", NULL, CLI_FLAG_BOOL, &no_print, 0, 0, NULL,
	     "Do not show the token; it is still stored."},
	    {"no-store", NULL, CLI_FLAG_BOOL, &no_store, 0, 0, NULL,
	     "Do not store the token in the token helper's file; only show it."},
	    {"path", NULL, CLI_FLAG_STRING, &path, 0, 0, NULL,
	     "Mount path of the auth method, when it is not the method's name."},
	    {"token-only", NULL, CLI_FLAG_BOOL, &token_only, 0, 0, NULL,
	     "Print only the token and store nothing: the same as -field=token -no-store."},
	    CLI_FLAG_END,
	};
	const struct login_method *m = NULL;
	struct login_args a;
	json_t *resp = NULL;
	const char *token;
	size_t i;
	int argi, r;

	r = cli_start(&cli, &login_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].name, method) == 0)
			m = &methods[i];
	if (m == NULL) {
		fprintf(stderr,
		        "Error: auth method \"%s\" is not supported by this CLI yet (supported: token, "
		        "userpass, approle, aws, cert, oidc, jwt). Log in through the HTTP API (auth/<path>/login) "
		        "and pass the token to 'trove login'.\n",
		        method);
		r = CLI_EXIT_LOCAL;
		goto out;
	}
	if (token_only) {
		field = "token";
		no_store = true;
	}
	a.argc = argc - argi;
	a.argv = argv + argi;
	a.path = path;
	if ((r = m->run(&cli, &a, &resp)) != 0)
		goto out;
	token = json_string_value(json_object_get(json_object_get(resp, "auth"), "client_token"));
	if (token == NULL || *token == '\0') {
		fprintf(stderr, "Error authenticating: the server returned no token\n");
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	if (!no_store && (r = store_token(token)) != 0)
		goto out;
	if (field && *field) {
		r = cli_print_secret(&cli, resp, field);
		goto out;
	}
	if (no_print) {
		r = CLI_EXIT_OK;
		goto out;
	}
	if (cli.format == CLI_FORMAT_TABLE) {
		if (no_store)
			cli_wrap(stdout,
			         "Success! You are now authenticated. The token below is NOT stored: set it in "
			         "TROVE_TOKEN (or VAULT_TOKEN) or pass -token to use it.",
			         0, 78);
		else
			cli_wrap(stdout,
			         "Success! You are now authenticated. The token below is stored in the token "
			         "helper's file; you do NOT need to run \"trove login\" again. Later commands "
			         "will use this token automatically.",
			         0, 78);
		printf("\n");
	}
	r = cli_print_secret(&cli, resp, NULL);
out:
	api_json_free_secret(resp);
	cli_release(&cli);
	return r;
}
