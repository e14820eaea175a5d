/* auth_token_file.c — auto-auth with token_file: the token in
 * token_file_path is used as it is, checked with auth/token/lookup-self
 * (auth_method.h). The file is read again at each login, that is whenever
 * the token was refused or could not be renewed; when it is gone or empty
 * the token read before is kept, as Vault Agent does. */
#include <stdlib.h>
#include <string.h>

#include "agent/auth_method.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

struct token_file {
	const char *path; /* borrowed from the config */
	char *token;      /* cached; wiped */
};

static const char *const keys[] = {"token_file_path", NULL};

static int init(struct auth_method *m, struct buf *err)
{
	struct token_file *s = xcalloc(1, sizeof(*s));

	m->state = s;
	return auth_method_required(m, "token_file_path", &s->path, err);
}

static void release(struct auth_method *m)
{
	struct token_file *s = m->state;

	if (s) {
		secure_free_str(s->token);
		free(s);
	}
}

static int login(struct auth_method *m, struct api_client *c, struct auth_login *out, struct buf *err)
{
	struct token_file *s = m->state;
	bool fresh;
	int r;

	(void)c;
	if ((r = auth_read_cached(s->path, "token", &s->token, &fresh, err)) != 0)
		return r;
	memset(out, 0, sizeof(*out));
	out->path = xstrdup("auth/token/lookup-self");
	out->token = xstrdup(s->token);
	out->lookup_self = true;
	return 0;
}

const struct auth_method_ops auth_token_file_ops = {"token_file", keys, init, login, release};
