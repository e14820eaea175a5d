/* acl.h — policies compiled into an access-control structure, and the
 * decision for one request.
 *
 * A policy is Vault's HCL or JSON document of `path "<pattern>" { ... }`
 * rules (capabilities, required/allowed/denied_parameters,
 * min/max_wrapping_ttl). An ACL is the union of a token's policies,
 * compiled so that a check walks the path once (a radix tree for exact and
 * prefix ("*" at the end) rules, plus the '+'-segment rules kept apart and
 * matched segment by segment) instead of scanning every rule.
 *
 * Precedence is Vault's: among matching rules the most specific wins
 * (fewer '+' and a longer exact prefix beat '*'), with "deny" overriding;
 * the capabilities of rules for the same pattern in different policies
 * are merged. Root is special: the "root" policy allows everything,
 * including sudo. */
#ifndef TROVE_ACL_H
#define TROVE_ACL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "request.h"

enum acl_cap {
	ACL_CAP_DENY = 1 << 0,
	ACL_CAP_CREATE = 1 << 1,
	ACL_CAP_READ = 1 << 2,
	ACL_CAP_UPDATE = 1 << 3,
	ACL_CAP_DELETE = 1 << 4,
	ACL_CAP_LIST = 1 << 5,
	ACL_CAP_SUDO = 1 << 6,
	ACL_CAP_PATCH = 1 << 7,
};

struct policy; /* one parsed policy */
struct acl;    /* compiled, immutable, refcounted */

/* Parses a policy document (HCL or JSON). On error returns
 * TROVE_ERR_INVALID with "line N: ..." in err. *out is owned by the
 * caller (policy_free). The name is copied. */
int policy_parse(const char *name, const char *text, size_t len, struct policy **out, struct buf *err);
void policy_free(struct policy *p);
const char *policy_name(const struct policy *p);

/* Compiles the union of n policies (borrowed; the ACL keeps what it
 * needs). A policy named "root" makes a root ACL. */
struct acl *acl_new(const struct policy *const *policies, size_t n);

/* Templated policies (Vault's ACL templating). A rule whose path holds
 * "{{" is templated; acl_new drops it (it grants nothing without an
 * entity) but remembers that it saw one (acl_has_templates).
 * acl_new_templated compiles the same union with each templated path
 * expanded from ident, an object
 *     {"entity": <identity entity read shape: id, name, metadata,
 *                 aliases[{id, name, mount_accessor, metadata}]>,
 *      "groups": [{"id", "name"}, ...]   (the entity's groups)}
 * (borrowed; NULL behaves as acl_new). Recognised expressions, spaces
 * inside the braces allowed:
 *     identity.entity.id | .name | .metadata.<key>
 *     identity.entity.aliases.<mount accessor>.id | .name | .metadata.<key>
 *     identity.groups.ids.<group id>.name
 *     identity.groups.names.<group name>.id
 * SECURITY. Substitution is a single pass (a value is never re-expanded)
 * and a rule is DROPPED, never escaped or matched literally, when any
 * expression in its path is unknown, unterminated, cannot be resolved
 * (no entity, missing key) or its value is empty, contains "..", '*',
 * '+', '/', '{', '}', or a control byte (< 0x20 or 0x7f). So a value
 * can only ever name one literal path segment (or part of one) and can
 * never widen what the rule grants. */
struct acl *acl_new_templated(const struct policy *const *policies, size_t n, const json_t *ident);
/* pattern with every "{{ expr }}" expanded from ident by the rules above
 * (the same expressions, the same refused values), as a heap string the
 * caller frees; NULL when an expression is unknown, unresolved or its
 * value is refused. Other engines' templated settings (a PKI role's
 * allowed_domains) expand through it too. */
char *acl_template_expand(const char *pattern, const json_t *ident);
bool acl_has_templates(const struct acl *a);
bool policy_has_templates(const struct policy *p);
void acl_ref(struct acl *a);
void acl_release(struct acl *a);
bool acl_is_root(const struct acl *a);

struct acl_result {
	bool allowed;
	bool sudo;                   /* the matching rule grants sudo */
	unsigned caps;               /* capabilities of the deciding rule */
	struct strlist granting;     /* policies that granted it (sorted) */
	int64_t min_wrapping_ttl;    /* seconds; 0 = no limit (deciding rule) */
	int64_t max_wrapping_ttl;
};

void acl_result_init(struct acl_result *r);
void acl_result_release(struct acl_result *r);

/* Decides op on path (a logical path, already normalised) with the
 * request data (for parameter constraints; may be NULL). Fills out;
 * out->allowed false means 403. Policy values are compared as written. */
void acl_check(const struct acl *a, const char *path, enum op op, const json_t *data, struct acl_result *out);

/* Puts one value of a policy's allowed/denied list for the request key
 * into the canonical form the request's data is in (the router coerces
 * both alike): returns a new reference, or NULL to compare the value as
 * written. Must keep a string glob's meaning (or return NULL). */
typedef json_t *(*acl_canon_fn)(const char *key, const json_t *value, const void *ctx);

/* acl_check, with each policy value passed through canon (with ctx)
 * before it is compared; canon may be NULL. data must already be in
 * canonical form: what is checked is what the handler will act on. */
void acl_check_ex(const struct acl *a, const char *path, enum op op, const json_t *data, acl_canon_fn canon,
		  const void *ctx, struct acl_result *out);

/* The capabilities the ACL grants on path (for sys/capabilities): a
 * bitmask of enum acl_cap; ACL_CAP_DENY alone when none. */
unsigned acl_capabilities(const struct acl *a, const char *path);
/* ["create","read",...] or ["root"] or ["deny"]. New reference. */
json_t *acl_caps_json(const struct acl *a, unsigned caps);

/* Whether any rule grants anything on path or below it (the preflight of
 * sys/internal/ui/mounts/<path>). */
bool acl_any_under(const struct acl *a, const char *prefix);

/* The ACL as sys/internal/ui/resultant-acl shows it: {"exact_paths": {..},
 * "glob_paths": {..}, "root": bool}, each path mapping to {"capabilities":
 * [..], and the parameter constraints and wrapping TTLs when set}. Glob
 * keys drop the trailing '*'. New reference. */
json_t *acl_resultant_json(const struct acl *a);

#endif
