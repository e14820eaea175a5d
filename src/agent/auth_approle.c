/* auth_approle.c — auto-auth with approle: the role ID and secret ID are
 * read from files (auth_method.h). As in Vault Agent, the secret ID file
 * is removed after reading unless remove_secret_id_file_after_reading is
 * false, and both values are cached so that later logins work once the
 * file is gone; with secret_id_response_wrapping_path the file holds a
 * wrapping token, whose creation path must be that value before it is
 * unwrapped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/auth_method.h"
#include "err.h"
#include "log.h"
#include "secure.h"

#include "banned.h"

struct approle {
	const char *role_id_path, *secret_id_path, *wrapping_path; /* borrowed from the config */
	bool remove_secret_id;
	char *role_id, *secret_id; /* cached; wiped */
};

static const char *const keys[] = {
	"role_id_file_path", "secret_id_file_path", "remove_secret_id_file_after_reading",
	"secret_id_response_wrapping_path", NULL,
};

static int init(struct auth_method *m, struct buf *err)
{
	struct approle *s = xcalloc(1, sizeof(*s));
	int r;

	m->state = s;
	if ((r = auth_method_required(m, "role_id_file_path", &s->role_id_path, err)) != 0)
		return r;
	s->secret_id_path = auth_method_value(m, "secret_id_file_path");
	if (s->secret_id_path && *s->secret_id_path == '\0')
		s->secret_id_path = NULL;
	if ((r = auth_method_bool(m, "remove_secret_id_file_after_reading", true, &s->remove_secret_id, err)) != 0)
		return r;
	s->wrapping_path = auth_method_value(m, "secret_id_response_wrapping_path");
	if (s->wrapping_path && *s->wrapping_path == '\0')
		return auth_method_fail(m, "secret_id_response_wrapping_path", err, "is empty");
	return 0;
}

static void release(struct auth_method *m)
{
	struct approle *s = m->state;

	if (s) {
		secure_free_str(s->role_id);
		secure_free_str(s->secret_id);
		free(s);
	}
}

/* The secret ID inside the wrapping token tok, after checking that the
 * token was made by expected_path. */
static int unwrap_secret_id(struct api_client *c, const char *tok, const char *expected_path, char **out,
                            struct buf *err)
{
	struct api_response resp;
	json_t *body = json_pack("{s:s}", "token", tok);
	const char *got;
	int r;

	api_response_init(&resp);
	r = api_write(c, "sys/wrapping/lookup", body, &resp);
	api_json_free_secret(body);
	if (r != 0) {
		buf_printf(err, "looking up the wrapped secret ID: %s", resp.error ? resp.error : err_message(r));
		goto out;
	}
	got = json_string_value(json_object_get(json_object_get(resp.json, "data"), "creation_path"));
	if (got == NULL || strcmp(got, expected_path) != 0) {
		log_error("auto-auth: SECURITY: the wrapped secret ID was not made where expected", "expected",
		          expected_path, "found", got ? got : "");
		buf_printf(err, "the wrapping token's creation path is \"%s\", not secret_id_response_wrapping_path "
		                "\"%s\"", got ? got : "", expected_path);
		r = TROVE_ERR_PERMISSION;
		goto out;
	}
	api_client_set_token(c, tok);
	r = api_write(c, "sys/wrapping/unwrap", NULL, &resp);
	api_client_set_token(c, NULL);
	if (r != 0) {
		buf_printf(err, "unwrapping the secret ID: %s", resp.error ? resp.error : err_message(r));
		goto out;
	}
	got = json_string_value(json_object_get(json_object_get(resp.json, "data"), "secret_id"));
	if (got == NULL || *got == '\0') {
		buf_append_str(err, "the unwrapped answer holds no secret_id");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	*out = xstrdup(got);
out:
	api_response_release(&resp);
	return r;
}

static int login(struct auth_method *m, struct api_client *c, struct auth_login *out, struct buf *err)
{
	struct approle *s = m->state;
	bool fresh;
	int r;

	if ((r = auth_read_cached(s->role_id_path, "role ID", &s->role_id, &fresh, err)) != 0)
		return r;
	if (s->secret_id_path) {
		if ((r = auth_read_cached(s->secret_id_path, "secret ID", &s->secret_id, &fresh, err)) != 0)
			return r;
		if (fresh && s->wrapping_path) {
			char *unwrapped = NULL;

			r = unwrap_secret_id(c, s->secret_id, s->wrapping_path, &unwrapped, err);
			secure_free_str(s->secret_id);
			s->secret_id = unwrapped;
			if (r != 0)
				return r;
		}
		if (fresh && s->remove_secret_id && unlink(s->secret_id_path) != 0)
			log_error("auto-auth: cannot remove the secret ID file after reading", "file", s->secret_id_path,
			          "error", strerror(errno));
	}
	auth_login_init(out, m);
	json_object_set_new(out->body, "role_id", json_string(s->role_id));
	if (s->secret_id)
		json_object_set_new(out->body, "secret_id", json_string(s->secret_id));
	return 0;
}

const struct auth_method_ops auth_approle_ops = {"approle", keys, init, login, release};
