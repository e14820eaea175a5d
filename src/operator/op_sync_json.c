/* op_sync_json.c — lookups in the objects the API server sends: custom
 * resources are read as JSON, field by dotted path, never trusted to have
 * the shape their schema promises. */
#include <string.h>

#include "duration.h"
#include "operator/op_sync.h"

#include "banned.h"

const json_t *op_json_at(const json_t *obj, const char *path)
{
	const json_t *cur = obj;
	const char *p = path;

	while (cur && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (!json_is_object(cur))
			return NULL;
		cur = json_object_getn(cur, p, n);
		p += n;
		if (*p == '.')
			p++;
	}
	return cur;
}

const char *op_json_str(const json_t *obj, const char *path)
{
	const json_t *v = op_json_at(obj, path);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *op_json_str0(const json_t *obj, const char *path)
{
	const char *s = op_json_str(obj, path);

	return s ? s : "";
}

json_int_t op_json_int(const json_t *obj, const char *path, json_int_t dflt)
{
	const json_t *v = op_json_at(obj, path);
	double d;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v)) {
		d = json_real_value(v);
		if (d >= -9.0e15 && d <= 9.0e15 && d == (double)(json_int_t)d)
			return (json_int_t)d;
	}
	return dflt;
}

bool op_json_bool(const json_t *obj, const char *path, bool dflt)
{
	const json_t *v = op_json_at(obj, path);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

bool op_json_duration_ms(const json_t *obj, const char *path, long *ms)
{
	const char *s = op_json_str(obj, path);
	int64_t ns;

	*ms = 0;
	if (s == NULL || *s == '\0')
		return true;
	if (duration_parse_ns(s, strlen(s), &ns) != 0 || ns > INT64_C(1000000) * 86400000 * 365)
		return false;
	*ms = (long)(ns / 1000000);
	return true;
}
