/* policy_store.h — named ACL policies kept in the barrier.
 *
 * Policies live at POLICY_PATH_PREFIX<name> as the exact text given (the
 * API returns it byte-identical). Names are lowercased and trimmed.
 * "default" always exists (created on first unseal, editable, not
 * deletable); "root" is implicit and immutable; "response-wrapping" is
 * reserved. Compiled policies and the ACL of each policy set are cached
 * and invalidated on write/delete. */
#ifndef TROVE_POLICY_STORE_H
#define TROVE_POLICY_STORE_H

#include <stdbool.h>

#include "acl.h"
#include "buf.h"
#include "storage/storage.h"

#define POLICY_PATH_PREFIX "sys/policy/"

struct policy_store;

struct policy_store *policy_store_new(void);
void policy_store_free(struct policy_store *ps);
/* On unseal: attach to the barrier view, create "default" if absent. */
int policy_store_open(struct policy_store *ps, struct storage *logical);
/* On seal: drop caches and the storage handle. */
void policy_store_close(struct policy_store *ps);

/* The ACL for a set of policy names (unknown names contribute nothing).
 * *out is a new reference (acl_release). */
int policy_store_acl(struct policy_store *ps, const struct strlist *names, struct acl **out);
/* As policy_store_acl, with the templated rules of the set (acl.h)
 * expanded for the entity entity_id of ids (NULL or "": as
 * policy_store_acl, templated rules grant nothing). Untemplated sets cost
 * what policy_store_acl costs; templated ones are compiled once per
 * (set, entity, identity generation) and cached. */
struct identity_store;
int policy_store_acl_entity(struct policy_store *ps, const struct strlist *names, struct identity_store *ids,
			    const char *entity_id, struct acl **out);
bool policy_store_exists(struct policy_store *ps, const char *name);

/* The canonical form of a policy name, the one rule for every place that
 * takes policy names: the n bytes at s (NULs included) with leading and
 * trailing white space (isspace) removed and ASCII letters lowercased. A
 * new heap string of *out_len bytes plus a NUL (out_len may be NULL) that
 * the caller frees, or NULL when nothing is left. Not validated: a name
 * with bytes no policy may have keeps them (so it is refused or matches
 * nothing later, as Vault does). */
char *policy_name_canon(const char *s, size_t n, size_t *out_len);
/* A list of policy names in place: each made canonical as above, empty
 * ones dropped, then sorted and made unique. */
void policy_names_canon(struct strlist *l);
/* policy_name_canon of the string name, checked: NULL when the result is
 * not a valid policy name (empty, over 128 bytes, "." or "..", or a byte
 * outside [a-z0-9] and "-_.@:=,"); otherwise a heap string the caller
 * frees. */
char *policy_name_normalize(const char *name);

/* The text stored for name, byte-identical to what was written: *text is
 * a NUL-terminated heap string the caller frees, *len its length.
 * TROVE_ERR_NOT_FOUND when there is none (always for "root", which has no
 * text), TROVE_ERR_INVALID for a bad name, TROVE_ERR_SEALED while closed. */
int policy_store_get(struct policy_store *ps, const char *name, char **text, size_t *len);

/* Parses text (HCL or JSON) and, if it is a valid policy, stores it as
 * given under the normalised name and invalidates the caches. On
 * TROVE_ERR_INVALID err says why: "cannot update root policy", "cannot
 * update response-wrapping policy", "invalid policy name", or "failed to
 * parse policy: line N: ...". */
int policy_store_put(struct policy_store *ps, const char *name, const char *text, size_t len, struct buf *err);

/* Deletes a policy (a missing one is fine) and invalidates the caches.
 * TROVE_ERR_INVALID with err "cannot delete root policy" / "cannot delete
 * default policy" / "cannot delete response-wrapping policy". */
int policy_store_delete(struct policy_store *ps, const char *name, struct buf *err);

/* Appends the stored policy names, sorted, to out (an initialised list).
 * "root" and "response-wrapping" are not stored and not listed; the API
 * adds "root" itself. */
int policy_store_list(struct policy_store *ps, struct strlist *out);

/* A storage change made elsewhere (core_storage_changed, invalidate.h):
 * when key is a policy's (POLICY_PATH_PREFIX<name>), its parsed entry and
 * every compiled ACL are dropped, so the next request reads the policy
 * from storage. Other keys are ignored. */
void policy_store_invalidate(struct policy_store *ps, const char *key);
/* Drops every parsed policy and compiled ACL: anything may have changed
 * elsewhere. */
void policy_store_invalidate_all(struct policy_store *ps);

#endif
