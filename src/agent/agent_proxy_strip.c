/* agent_proxy_strip.c — the auto-auth token never leaves the agent
 * through a token lookup or renewal (agent_proxy_int.h), as Vault Agent's
 * proxy guards it: a client handed the agent's token by use_auto_auth_token
 * may use it through the agent, not read it. */
#include <string.h>

#include "agent/agent_proxy_int.h"

#include "banned.h"

static bool str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

bool proxy_strip_auto_token(const char *path, const char *sent_token, const json_t *req_body,
                            const char *auto_token, json_t *answer)
{
	json_t *data, *auth;

	if (auto_token == NULL || !json_is_object(answer))
		return false;
	if (strcmp(path, "/v1/auth/token/lookup-self") == 0 || strcmp(path, "/v1/auth/token/renew-self") == 0) {
		if (!str_eq(sent_token, auto_token))
			return false;
	} else if (strcmp(path, "/v1/auth/token/lookup") == 0 || strcmp(path, "/v1/auth/token/renew") == 0) {
		const json_t *t = json_object_get(req_body, "token");
		if (!json_is_string(t))
			return false;
		if (json_string_length(t) > 0 && !str_eq(json_string_value(t), auto_token))
			return false;
	} else {
		return false;
	}
	data = json_object_get(answer, "data");
	auth = json_object_get(answer, "auth");
	if (json_is_object(data) && (json_object_get(data, "id") || json_object_get(data, "accessor"))) {
		json_object_del(data, "id");
		json_object_del(data, "accessor");
		return true;
	}
	if (json_is_object(auth) && (json_object_get(auth, "client_token") || json_object_get(auth, "accessor"))) {
		json_object_set_new(auth, "client_token", json_string(""));
		json_object_set_new(auth, "accessor", json_string(""));
		return true;
	}
	return false;
}
