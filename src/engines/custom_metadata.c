/* custom_metadata.c — the custom_metadata map of kv v2 secrets and of
 * identity entity aliases, checked once for both.
 *
 * Every problem is reported (one 400 carrying them all), as Vault lists
 * every bad key rather than the first. */
#include <string.h>

#include <jansson.h>

#include "custom_metadata.h"
#include "err.h"

#include "banned.h"

int custom_metadata_check(json_t *cm, struct response *resp)
{
	const char *k;
	json_t *v;
	int r = 0;

	if (!json_is_object(cm))
		return response_error(resp, TROVE_ERR_INVALID,
		                      "custom_metadata: expected an object of strings");
	if (json_object_size(cm) > CUSTOM_METADATA_MAX_KEYS)
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "custom_metadata: at most %d keys are allowed, got %zu",
		                   CUSTOM_METADATA_MAX_KEYS, json_object_size(cm));
	json_object_foreach(cm, k, v)
	{
		size_t kl = strlen(k);
		if (kl == 0)
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "custom_metadata: keys must not be empty");
		else if (kl > CUSTOM_METADATA_MAX_KEY_LEN)
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "custom_metadata: key \"%.40s...\" is longer than %d bytes", k,
			                   CUSTOM_METADATA_MAX_KEY_LEN);
		for (size_t i = 0; i < kl; i++)
			if ((unsigned char)k[i] < 0x20 || k[i] == 0x7f) {
				r = response_error(
				    resp, TROVE_ERR_INVALID,
				    "custom_metadata: key \"%.40s\" contains a control character", k);
				break;
			}
		json_t *s = NULL;
		if (json_is_string(v)) {
			s = json_incref(v);
		} else if (json_is_integer(v)) {
			s = json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		} else if (json_is_boolean(v)) {
			s = json_string(json_is_true(v) ? "true" : "false");
		} else {
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "custom_metadata: value of key \"%.40s\" must be a string", k);
			continue;
		}
		if (json_string_length(s) > CUSTOM_METADATA_MAX_VALUE_LEN)
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "custom_metadata: value of key \"%.40s\" is longer than %d bytes",
			                   k, CUSTOM_METADATA_MAX_VALUE_LEN);
		const char *sv = json_string_value(s);
		for (size_t i = 0; i < json_string_length(s); i++)
			if ((unsigned char)sv[i] < 0x20 || sv[i] == 0x7f) {
				r = response_error(
				    resp, TROVE_ERR_INVALID,
				    "custom_metadata: value of key \"%.40s\" contains a control character",
				    k);
				break;
			}
		if (s != v)
			json_object_set(cm, k, s);
		json_decref(s);
	}
	return r;
}
