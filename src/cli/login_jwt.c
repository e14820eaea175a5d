/* login_jwt.c — `trove login -method=jwt role=R jwt=TOKEN|@file|-`: logs
 * in at auth/<path>/login (path "jwt" by default) with a JWT the caller
 * already holds. The jwt= argument is wiped from argv as soon as it is
 * read; from a file or stdin, surrounding whitespace is dropped. */
#include <stdlib.h>
#include <string.h>

#include "cli/login_methods.h"
#include "secure.h"

#include "banned.h"

static const struct cli_command login_ref = {.name = "login"};

/* The JWT from "TOKEN", "@file" or "-" into *jwt (heap, secret). */
static int read_jwt(const char *v, char **jwt)
{
	struct buf in;
	size_t s = 0, e;
	int r = 0;

	if (v[0] != '@' && strcmp(v, "-") != 0) {
		*jwt = xstrdup(v);
		return 0;
	}
	buf_init_secret(&in, 16 * 1024);
	if ((r = cli_read_input(v[0] == '@' ? v + 1 : "-", &in)) == 0) {
		for (e = in.len; e > 0 && strchr(" \t\r\n", in.data[e - 1]) && in.data[e - 1]; e--)
			;
		while (s < e && strchr(" \t\r\n", in.data[s]) && in.data[s])
			s++;
		*jwt = xstrndup(in.data + s, e - s);
	}
	buf_release_secret(&in);
	return r;
}

int login_jwt(struct cli *cli, const struct login_args *a, json_t **out)
{
	const char *role = NULL;
	char *jwt = NULL, *mount = NULL;
	struct buf path;
	json_t *body = NULL;
	int r = 0;

	*out = NULL;
	buf_init(&path, 256);
	for (int i = 0; i < a->argc; i++) {
		if (strncmp(a->argv[i], "jwt=", 4) == 0) {
			char *whole = cli_take_secret_arg(a->argv, i);
			if (r == 0 && jwt)
				r = cli_usage_error(&login_ref, "jwt= is given more than once");
			else if (r == 0)
				r = read_jwt(whole + 4, &jwt);
			secure_free_str(whole);
		} else if (r == 0 && strncmp(a->argv[i], "role=", 5) == 0) {
			role = a->argv[i] + 5;
		} else if (r == 0) {
			r = cli_usage_error(&login_ref,
			                    "Argument %d is not role=NAME or jwt=TOKEN|@FILE|- (the jwt "
			                    "method takes role= and jwt=)",
			                    i + 1);
		}
	}
	if (r != 0)
		goto out;
	if (!jwt || !*jwt) {
		r = cli_usage_error(&login_ref, "The jwt method needs jwt=TOKEN, jwt=@FILE or jwt=-");
		goto out;
	}
	mount = cli_trim_slashes(a->path ? a->path : "jwt");
	if (!mount[0]) {
		r = cli_usage_error(&login_ref, "-path must name the auth method's mount");
		goto out;
	}
	buf_printf(&path, "auth/%s/login", mount);
	body = json_pack("{s:s}", "jwt", jwt);
	if (role && *role)
		json_object_set_new(body, "role", json_string(role));
	r = CLI_EXIT_REMOTE;
	if (cli_client(cli) == NULL)
		goto out;
	api_client_set_token(cli->client, NULL);
	r = cli_api(cli, "authenticating", "POST", path.data, body, out);
out:
	api_json_free_secret(body);
	secure_free_str(jwt);
	free(mount);
	buf_release(&path);
	return r;
}
