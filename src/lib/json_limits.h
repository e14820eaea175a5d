/* json_limits.h — bounds on untrusted JSON text, checked before it is
 * parsed.
 *
 * A JSON parser builds one node per value: a 32 MiB body of "0," pairs
 * becomes sixteen million nodes, several hundred MiB of (locked) memory,
 * and a deep nest of "[" makes a recursive parser recurse as deep.
 * json_limits_check walks the raw bytes once, allocating nothing, and
 * refuses text that nests too deep, has a container with too many
 * members, or too many values in all, before any node is built. */
#ifndef TROVE_JSON_LIMITS_H
#define TROVE_JSON_LIMITS_H

#include <stddef.h>

#define JSON_LIMITS_MAX_DEPTH 256 /* the largest max_depth a caller may ask */

struct json_limits {
	unsigned max_depth;  /* containers nested in one another */
	size_t max_members;  /* members of one object or array */
	size_t max_total;    /* members of all containers together */
};

/* Trove's request bodies: depth 64, 10,000 members per container,
 * 100,000 in all. */
extern const struct json_limits json_limits_body;

/* What json_limits_check found. */
enum json_limit {
	JSON_LIMIT_OK = 0,
	JSON_LIMIT_DEPTH,   /* nested deeper than max_depth */
	JSON_LIMIT_MEMBERS, /* a container with more than max_members */
	JSON_LIMIT_TOTAL,   /* more than max_total members in all */
};

/* Scans p[0..n) (any bytes; no terminator needed) and returns the first
 * limit the text exceeds, or JSON_LIMIT_OK. Only structure is counted:
 * malformed text within the limits passes, for the parser to reject.
 * lim->max_depth above JSON_LIMITS_MAX_DEPTH counts as
 * JSON_LIMITS_MAX_DEPTH. */
enum json_limit json_limits_check(const char *p, size_t n, const struct json_limits *lim);

#endif
