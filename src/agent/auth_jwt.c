/* auth_jwt.c — auto-auth with jwt: a JWT read from path and sent with the
 * role (auth_method.h). As in Vault Agent the file is removed after
 * reading unless remove_jwt_after_reading is false (the symlink itself, or
 * with remove_jwt_follows_symlinks the file it points to), and the last
 * JWT read serves later logins until a new file appears. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/auth_method.h"
#include "duration.h"
#include "err.h"
#include "log.h"
#include "secure.h"

#include "banned.h"

struct jwt_state {
	const char *role, *path;
	bool remove, follow_symlinks;
	char *jwt; /* the last one read; wiped */
};

static const char *const jwt_keys[] = {
	"role", "path", "remove_jwt_after_reading", "remove_jwt_follows_symlinks", "jwt_read_period", NULL,
};

static int jwt_init(struct auth_method *m, struct buf *err)
{
	struct jwt_state *s = xcalloc(1, sizeof(*s));
	const char *period;
	int64_t secs;
	int r;

	m->state = s;
	if ((r = auth_method_required(m, "path", &s->path, err)) != 0 ||
	    (r = auth_method_required(m, "role", &s->role, err)) != 0 ||
	    (r = auth_method_bool(m, "remove_jwt_after_reading", true, &s->remove, err)) != 0 ||
	    (r = auth_method_bool(m, "remove_jwt_follows_symlinks", false, &s->follow_symlinks, err)) != 0)
		return r;
	period = auth_method_value(m, "jwt_read_period");
	if (period && duration_parse_seconds(period, strlen(period), &secs) != 0)
		return auth_method_fail(m, "jwt_read_period", err, "\"%s\" is not a duration", period);
	return 0;
}

static void release(struct auth_method *m)
{
	struct jwt_state *s = m->state;

	if (s) {
		secure_free_str(s->jwt);
		free(s);
	}
}

/* jwt: removes the file read, as remove_jwt_follows_symlinks says. */
static void remove_jwt(const struct jwt_state *s)
{
	char target[PATH_MAX];
	const char *victim = s->path;

	if (s->follow_symlinks && realpath(s->path, target) != NULL)
		victim = target;
	if (unlink(victim) != 0 && errno != ENOENT)
		log_error("auto-auth: cannot remove the JWT file after reading", "file", victim, "error",
		          strerror(errno));
}

static int login(struct auth_method *m, struct api_client *c, struct auth_login *out, struct buf *err)
{
	struct jwt_state *s = m->state;
	bool fresh;
	int r;

	(void)c;
	if ((r = auth_read_cached(s->path, "JWT", &s->jwt, &fresh, err)) != 0)
		return r;
	if (fresh && s->remove)
		remove_jwt(s);
	auth_login_init(out, m);
	json_object_set_new(out->body, "role", json_string(s->role));
	json_object_set_new(out->body, "jwt", json_string(s->jwt));
	return 0;
}

const struct auth_method_ops auth_jwt_ops = {"jwt", jwt_keys, jwt_init, login, release};
