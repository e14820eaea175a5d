/* audit_consumers.h — who used a secret: the accesses of a log grouped by
 * identity, for `trove audit consumers`. A scan (audit_query.h) feeds
 * every entry here and takes the answer at the end. */
#ifndef TROVE_CLI_AUDIT_CONSUMERS_H
#define TROVE_CLI_AUDIT_CONSUMERS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "cli/audit_line.h"

struct aq_group;

/* Accesses grouped by entity, or else by token, as they are read. */
struct aq_groups {
	struct aq_group *list;
	size_t n, size;
	json_t *index;  /* group key -> index in list */
	json_t *issued; /* token hash -> mount of the request that issued it */
};

void aq_groups_init(struct aq_groups *g);
void aq_groups_release(struct aq_groups *g);
/* Notes one entry: which mount issued a token (for any entry), and when
 * counted (an allowed access the filter matched) the access itself. */
void aq_groups_add(struct aq_groups *g, const struct aq_entry *e, bool counted);
/* A new array of {entity_id, display_name, role, auth_mount?, policies[],
 * first, last, count} ("" for an unknown string; first and last in RFC
 * 3339 UTC), latest last access first.
 * An identity is the entity_id, or else display name, role and the auth
 * mount that issued the token (known when that login or token creation is
 * in the logs; a token whose issue is not is counted with the one group of
 * the same display name and role whose mount is known, if there is just
 * one). */
json_t *aq_groups_consumers(const struct aq_groups *g);

#endif
