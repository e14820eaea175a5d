/* login_cert.c — `trove login -method=cert` (login_cert.h). */
#include <stdlib.h>
#include <string.h>

#include "cli/login_cert.h"

#include "banned.h"

int cli_login_cert(struct cli *cli, int argc, char **argv, const char *path, json_t **out)
{
	const char *name = NULL;
	char *mount = NULL, *login = NULL;
	json_t *body = NULL;
	int r;

	*out = NULL;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "name=", 5) != 0)
			return cli_usage_error(cli->cmd, "Argument %d: the cert method takes only name=ENTRY",
			                       i + 1);
		if (name)
			return cli_usage_error(cli->cmd, "name= is given more than once");
		name = argv[i] + 5;
	}
	if (!cli->api.client_cert || !cli->api.client_key) {
		fprintf(stderr, "Error: the cert method logs in with a TLS client certificate: set "
		                "VAULT_CLIENT_CERT and VAULT_CLIENT_KEY (or -client-cert and -client-key)\n");
		return CLI_EXIT_LOCAL;
	}
	mount = cli_trim_slashes(path ? path : "cert");
	if (!mount[0]) {
		r = cli_usage_error(cli->cmd, "-path must name the auth method's mount");
		goto out;
	}
	size_t n = strlen(mount) + sizeof("auth//login");
	login = xmalloc(n);
	snprintf(login, n, "auth/%s/login", mount);
	body = name && *name ? json_pack("{s:s}", "name", name) : json_object();
	if (cli_client(cli) == NULL) {
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	api_client_set_token(cli->client, NULL);
	r = cli_api(cli, "authenticating", "POST", login, body, out);
out:
	json_decref(body);
	free(login);
	free(mount);
	return r;
}
