/* strlist_json.c — see strlist_json.h. */
#include "strlist_json.h"

#include "banned.h"

json_t *strlist_json(const struct strlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->len; i++)
		if (json_array_append_new(a, json_string(l->items[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

bool strlist_push_json(struct strlist *out, const json_t *a)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			return false;
		strlist_push(out, json_string_value(v));
	}
	return true;
}
