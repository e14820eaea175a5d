/* audit_filter.h — which audit entries a question is about: the filter
 * that the flags of `trove audit query` and `trove audit consumers` build,
 * and the small matchers it is made of (path globs and prefixes, address
 * networks). Applying a filter to an entry is aq_entry_match
 * (audit_query.h). Errors are written into a caller's buffer, naming the
 * flag at fault. */
#ifndef TROVE_CLI_AUDIT_FILTER_H
#define TROVE_CLI_AUDIT_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cidr.h"
#include "cli/audit_time.h"

/* ---- matching helpers ------------------------------------------------ */

/* Whole-string glob: '*' matches any run of characters ('/' included),
 * '?' one character; everything else matches itself. */
bool aq_glob_match(const char *pattern, const char *s);
/* A path pattern: a glob when it holds '*' or '?', else a prefix. Leading
 * '/' of the pattern are ignored. */
bool aq_path_match(const char *pattern, const char *path);

/* An address or network (lib/cidr): "10.0.0.0/8", "2001:db8::/32", or one
 * address (a full-length block; "[v6]" and a %zone accepted). IPv4-mapped
 * IPv6 addresses and blocks ("::ffff:10.1.2.3", "::ffff:10.0.0.0/104")
 * count as IPv4 on both sides. */
bool aq_cidr_parse(const char *s, struct cidr *out);
bool aq_cidr_contains(const struct cidr *net, const char *addr);

/* ---- filters --------------------------------------------------------- */

/* Which entries a query shows: the response of each request (the request
 * entry when its response is missing), request entries, or all. */
enum aq_show { AQ_SHOW_RESPONSES, AQ_SHOW_REQUESTS, AQ_SHOW_ALL };
enum aq_want { AQ_ANY, AQ_YES, AQ_NO };

enum {
	AQ_OP_READ = 1 << 0,
	AQ_OP_CREATE = 1 << 1,
	AQ_OP_UPDATE = 1 << 2,
	AQ_OP_PATCH = 1 << 3,
	AQ_OP_DELETE = 1 << 4,
	AQ_OP_LIST = 1 << 5,
};

/* The AQ_OP_* bit of an operation's name ("read", ...), or 0. */
unsigned aq_op_bit(const char *op);

/* All conditions are ANDed; the entries of one list are ORed; an empty
 * list or AQ_ANY does not filter. */
struct aq_filter {
	int64_t now; /* seconds since the epoch, for relative -since/-until */
	enum aq_show show;
	struct strlist paths, display_names, entities, roles, mounts, token_hashes;
	unsigned ops;         /* AQ_OP_* bits; 0: any operation */
	bool any_op;          /* -op=any given: ops does not filter */
	enum aq_want allowed; /* YES: allowed only, NO: denied only */
	enum aq_want error;   /* YES: with an error only, NO: without */
	struct cidr *remotes;
	size_t nremotes;
	bool has_since, has_until;
	struct aq_time since, until; /* since <= time < until */
};

void aq_filter_init(struct aq_filter *f, int64_t now);
void aq_filter_release(struct aq_filter *f);
/* Adds the condition of flag name (without '-') with value:
 *   path, display-name, entity, role, mount, token-hash (repeatable);
 *   op (read|create|update|patch|delete|list, or "any" to clear);
 *   remote (address or CIDR, repeatable); since, until (RFC 3339, a date,
 *   or a duration such as 30m, 24h, 7d meaning that long before now; once
 *   each); type (request|response|all); allowed, denied, error (booleans:
 *   value NULL or "" means true, else a Go bool spelling).
 * Returns 0, or -1 with a message naming the flag in err. */
int aq_filter_add(struct aq_filter *f, const char *name, const char *value, struct buf *err);

#endif
