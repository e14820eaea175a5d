/* auth_kubernetes.c — auto-auth with kubernetes: the service account
 * token, read from token_path at each login (following symlinks, as
 * projected tokens need), sent with the role (auth_method.h). */
#include <stdlib.h>
#include <string.h>

#include "agent/auth_method.h"
#include "err.h"

#include "banned.h"

#define SERVICE_ACCOUNT_TOKEN "/var/run/secrets/kubernetes.io/serviceaccount/token"

struct k8s {
	const char *role, *path; /* borrowed from the config */
};

static const char *const keys[] = {"role", "token_path", NULL};

static int init(struct auth_method *m, struct buf *err)
{
	struct k8s *s = xcalloc(1, sizeof(*s));

	m->state = s;
	s->path = auth_method_value(m, "token_path");
	if (s->path == NULL || *s->path == '\0')
		s->path = SERVICE_ACCOUNT_TOKEN;
	return auth_method_required(m, "role", &s->role, err);
}

static void release(struct auth_method *m)
{
	free(m->state);
}

static int login(struct auth_method *m, struct api_client *c, struct auth_login *out, struct buf *err)
{
	struct k8s *s = m->state;
	struct buf jwt;
	int r;

	(void)c;
	buf_init_secret(&jwt, 1 << 20);
	r = auth_read_secret_file(s->path, false, &jwt, err);
	if (r == TROVE_ERR_NOT_FOUND)
		buf_printf(err, "the token file %s does not exist", s->path);
	else if (r == 0 && jwt.len == 0) {
		buf_printf(err, "the token file %s is empty", s->path);
		r = TROVE_ERR_INVALID;
	}
	if (r == 0) {
		auth_login_init(out, m);
		json_object_set_new(out->body, "role", json_string(s->role));
		json_object_set_new(out->body, "jwt", json_string(jwt.data));
	}
	buf_release_secret(&jwt);
	return r;
}

const struct auth_method_ops auth_kubernetes_ops = {"kubernetes", keys, init, login, release};
