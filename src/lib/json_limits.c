/* json_limits.c — a single pass over JSON text counting its structure.
 *
 * Outside strings only six bytes matter: "{" and "[" open a container,
 * "}" and "]" close one, "," separates members, and '"' starts a string
 * (in which a backslash escapes the next byte). A container with k
 * commas directly inside it has at most k + 1 members, so counting commas
 * per level, plus one per opened container for the total, bounds the
 * number of nodes a parser would build without building any. */
#include <stdbool.h>

#include "json_limits.h"

#include "banned.h"

const struct json_limits json_limits_body = {
	.max_depth = 64,
	.max_members = 10000,
	.max_total = 100000,
};

enum json_limit json_limits_check(const char *p, size_t n, const struct json_limits *lim)
{
	size_t commas[JSON_LIMITS_MAX_DEPTH + 1]; /* per open level; [0] is the top */
	unsigned max_depth = lim->max_depth < JSON_LIMITS_MAX_DEPTH ? lim->max_depth : JSON_LIMITS_MAX_DEPTH;
	unsigned depth = 0;
	size_t total = 0;
	bool in_string = false;

	commas[0] = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (in_string) {
			if (c == '\\')
				i++; /* the escaped byte, whatever it is */
			else if (c == '"')
				in_string = false;
			continue;
		}
		switch (c) {
		case '"':
			in_string = true;
			break;
		case '{':
		case '[':
			if (depth >= max_depth)
				return JSON_LIMIT_DEPTH;
			commas[++depth] = 0;
			if (++total > lim->max_total)
				return JSON_LIMIT_TOTAL;
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			break;
		case ',':
			if (++commas[depth] >= lim->max_members)
				return JSON_LIMIT_MEMBERS;
			if (++total > lim->max_total)
				return JSON_LIMIT_TOTAL;
			break;
		default:
			break;
		}
	}
	return JSON_LIMIT_OK;
}
