/* kv_util.c — shared plumbing of the key/value engines.
 *
 * Values are stored as compact JSON. Every buffer that held a stored value
 * is wiped before it is freed: those bytes are secrets. */
#include <stdlib.h>
#include <string.h>

#include "kv_util.h"

#include "duration.h"
#include "err.h"
#include "secure.h"
#include "strlist_json.h"

#include "banned.h"

char *kv_rest(const struct request *req, const char *prefix)
{
	const char *rel = req->rel ? req->rel : "";
	size_t plen = strlen(prefix);
	const char *p = strncmp(rel, prefix, plen) == 0 ? rel + plen : "";
	size_t n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	return xstrndup(p, n);
}

int kv_check_path(const char *path, const char *what, struct response *resp)
{
	const char *s = path;
	if (!*s)
		return 0;
	for (;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return response_error(resp, TROVE_ERR_INVALID,
					      "%s: invalid path \"%s\": empty, \".\" and \"..\" segments are not allowed",
					      what, path);
		if (!e)
			break;
		s = e + 1;
	}
	if (strlen(path) > STORAGE_MAX_KEY / 2)
		return response_error(resp, TROVE_ERR_INVALID, "%s: path is longer than %d bytes", what,
				      STORAGE_MAX_KEY / 2);
	return 0;
}

int kv_get_json(struct storage *s, const char *key, json_t **out)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	json_error_t jerr;
	int r;

	*out = NULL;
	if ((r = storage_get(s, key, &raw, &len)) != 0)
		return r;
	*out = json_loadb((const char *)raw, len, JSON_DECODE_ANY, &jerr);
	secure_free(raw, len);
	return *out ? 0 : TROVE_ERR_INTEGRITY;
}

int kv_dump(const json_t *v, char **out, size_t *len)
{
	*out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!*out)
		return TROVE_ERR_NOMEM;
	*len = strlen(*out);
	return 0;
}

void kv_free_dump(char *p, size_t len)
{
	secure_free(p, len);
}

int kv_put_json(struct storage *s, const char *key, const json_t *v)
{
	char *p;
	size_t n;
	int r;
	if ((r = kv_dump(v, &p, &n)) != 0)
		return r;
	r = storage_put(s, key, p, n);
	kv_free_dump(p, n);
	return r;
}

int kv_list_reply(struct storage *s, const char *prefix, struct response *resp)
{
	struct strlist l;
	json_t *keys = NULL;
	int r;

	strlist_init(&l);
	if ((r = storage_list(s, prefix, &l)) != 0)
		goto out;
	if (l.len == 0) {
		r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	keys = strlist_json(&l);
	response_set_data(resp, json_pack("{s:o}", "keys", keys));
	r = 0;
out:
	strlist_release(&l);
	return r;
}

int kv_collect_keys(struct storage *s, const char *prefix, struct strlist *out)
{
	struct strlist l;
	int r;

	strlist_init(&l);
	if ((r = storage_list(s, prefix, &l)) != 0)
		goto out;
	for (size_t i = 0; i < l.len; i++) {
		struct buf k;
		buf_init(&k, STORAGE_MAX_KEY + 2);
		if ((r = buf_printf(&k, "%s%s", prefix, l.items[i])) != 0) {
			buf_release(&k);
			goto out;
		}
		size_t n = strlen(l.items[i]);
		if (n > 0 && l.items[i][n - 1] == '/')
			r = kv_collect_keys(s, k.data, out);
		else
			r = strlist_push(out, k.data);
		buf_release(&k);
		if (r != 0)
			goto out;
	}
	r = 0;
out:
	strlist_release(&l);
	return r;
}

json_t *kv_merge_patch(json_t *target, const json_t *patch)
{
	const char *k;
	json_t *v;

	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
	}
	json_object_foreach((json_t *)patch, k, v)
	{
		if (json_is_null(v)) {
			json_object_del(target, k);
			continue;
		}
		json_t *cur = json_object_get(target, k);
		json_t *merged = kv_merge_patch(json_incref(cur), v);
		json_object_set_new(target, k, merged);
	}
	return target;
}

bool kv_ttl_seconds(const json_t *v, int64_t *out)
{
	json_t *t = json_is_object(v) ? json_object_get(v, "ttl") : NULL;
	int64_t secs;
	if (json_is_integer(t))
		secs = (int64_t)json_integer_value(t);
	else if (!json_is_string(t) || duration_parse_seconds(json_string_value(t), json_string_length(t), &secs) != 0)
		return false;
	if (duration_check(secs))
		return false;
	*out = secs;
	return true;
}
