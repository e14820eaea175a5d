/* lease_entry.c — stored form of lease entries (see lease_entry.h). */
#include "lease_entry.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#include "banned.h"

void lease_free(struct lease *l)
{
	if (!l)
		return;
	free(l->id);
	free(l->path);
	free(l->mount_accessor);
	free(l->token);
	json_decref(l->internal);
	free(l->error);
	free(l);
}

static char *dup_string(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static int64_t get_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

int lease_entry_parse(const unsigned char *raw, size_t len, bool *is_token, struct lease **out)
{
	json_t *o = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
	struct lease *l = NULL;
	int r = TROVE_ERR_INTEGRITY;

	*out = NULL;
	*is_token = false;
	if (!json_is_object(o))
		goto out;
	if (json_is_true(json_object_get(o, "token"))) {
		*is_token = true;
		r = 0;
		goto out;
	}
	l = xcalloc(1, sizeof(*l));
	l->id = dup_string(o, "lease_id");
	l->path = dup_string(o, "path");
	l->mount_accessor = dup_string(o, "mount_accessor");
	l->token = dup_string(o, "client_token");
	l->error = dup_string(o, "error");
	if (!l->id || !l->path || !l->mount_accessor || !l->token)
		goto out;
	json_t *in = json_object_get(o, "internal");
	l->internal = json_is_object(in) ? json_incref(in) : json_object();
	l->issue_time = get_int(o, "issue_time");
	l->expire_time = get_int(o, "expire_time");
	l->last_renewal = get_int(o, "last_renewal");
	l->ttl = get_int(o, "ttl");
	l->max_ttl = get_int(o, "max_ttl");
	l->revoke_at = get_int(o, "revoke_at");
	l->attempts = (int)get_int(o, "attempts");
	l->renewable = json_is_true(json_object_get(o, "renewable"));
	l->irrevocable = json_is_true(json_object_get(o, "irrevocable"));
	*out = l;
	l = NULL;
	r = 0;
out:
	lease_free(l);
	json_decref(o);
	return r;
}

char *lease_entry_dump(const struct lease *l)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:O, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:b, s:b}", "lease_id", l->id,
	                      "path", l->path, "mount_accessor", l->mount_accessor, "client_token", l->token,
	                      "internal", l->internal ? l->internal : json_null(), "issue_time",
	                      (json_int_t)l->issue_time, "expire_time", (json_int_t)l->expire_time, "last_renewal",
	                      (json_int_t)l->last_renewal, "ttl", (json_int_t)l->ttl, "max_ttl", (json_int_t)l->max_ttl, "revoke_at",
	                      (json_int_t)l->revoke_at, "attempts", l->attempts, "renewable", l->renewable,
	                      "irrevocable", l->irrevocable);
	if (o && l->error)
		json_object_set_new(o, "error", json_string(l->error));
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}
