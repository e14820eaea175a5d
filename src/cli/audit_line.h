/* audit_line.h — one line of a file audit log read as an entry.
 *
 * A log holds one Vault-format entry a line (see core/audit_entry.h), maybe
 * after a prefix: everything before the first '{' is skipped.
 *
 * Which auth block speaks for an entry: the top-level "auth" (the token
 * that made the request); when it has none, as for a login, the auth the
 * response issued (response.auth). display_name, entity_id, the role
 * (metadata role, role_name or service_account_name) and the policies
 * come from it. */
#ifndef TROVE_CLI_AUDIT_LINE_H
#define TROVE_CLI_AUDIT_LINE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "cli/audit_time.h"

enum aq_kind { AQ_REQUEST, AQ_RESPONSE };

/* One entry and the fields the filters read (borrowed from root; NULL or
 * "" when absent). */
struct aq_entry {
	json_t *root;
	enum aq_kind kind;
	struct aq_time time;
	const char *id, *path, *op, *remote, *mount, *error;
	const json_t *auth; /* the auth block that speaks for the entry, or NULL */
};

enum aq_parse_result { AQ_PARSE_OK, AQ_PARSE_BLANK, AQ_PARSE_MALFORMED };

/* Parses one line (any prefix before the first '{' skipped; the line may
 * end with "\n" or "\r\n"). AQ_PARSE_BLANK for a line of whitespace only.
 * A malformed line (no JSON object, or no "time" and "type" of request or
 * response) gives AQ_PARSE_MALFORMED. On AQ_PARSE_OK, release e. */
enum aq_parse_result aq_entry_parse(const char *line, size_t len, struct aq_entry *e);
/* Fills e's fields from an entry object (e->root takes a new reference).
 * Returns false, holding nothing, when root is not an entry. */
bool aq_entry_from_json(json_t *root, struct aq_entry *e);
void aq_entry_release(struct aq_entry *e);

/* policy_results.allowed, or when absent: error != "permission denied". */
bool aq_entry_allowed(const struct aq_entry *e);
/* The role of the auth block, or NULL. */
const char *aq_entry_role(const struct aq_entry *e);
/* Appends the granting policies' names, comma-separated. */
void aq_entry_policies(const struct aq_entry *e, struct buf *out);

/* The string member key of o, or NULL (o may be NULL or no object). */
const char *aq_str(const json_t *o, const char *key);
/* s is neither NULL nor "". */
bool aq_has_text(const char *s);

#endif
