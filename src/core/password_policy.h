/* password_policy.h — Vault's password policies: named rules for
 * generated passwords, kept in the barrier and used by engines.
 *
 * A policy is HCL (or its JSON form):
 *   length = 20
 *   rule "charset" { charset = "abcdefghijklmnopqrstuvwxyz" min-chars = 1 }
 *   rule "charset" { charset = "0123456789" min-chars = 1 }
 * parsed into a struct password_spec (lib/password_gen.h). As in Vault
 * the length is 4 to 100, at least one charset rule is needed, and a
 * policy is stored only after passwords have been generated from it.
 * Unlike Vault, charsets are printable ASCII without the space (Vault
 * takes any printable UTF-8).
 *
 * Policies are stored at PASSWORD_POLICY_PATH_PREFIX<name> as
 * {"policy": "<text as written>"}, Vault's layout. Names are kept as
 * given (case matters, as in Vault). No cache: a policy is read on each
 * use, so a write takes effect at once everywhere. */
#ifndef TROVE_PASSWORD_POLICY_H
#define TROVE_PASSWORD_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "password_gen.h"

#define PASSWORD_POLICY_PATH_PREFIX "sys/password_policy/"
#define PASSWORD_POLICY_MIN_LENGTH 4
#define PASSWORD_POLICY_MAX_LENGTH 100
#define PASSWORD_POLICY_NAME_MAX 128

struct core;

/* A parsed policy: spec points into it. */
struct password_policy {
	struct password_spec spec;
	struct password_rule rules[PASSWORD_MAX_RULES];
	char *charsets[PASSWORD_MAX_RULES]; /* owned; rules[i].charset */
};

/* Parses policy text (HCL, or JSON when it starts with '{') of len bytes.
 * Returns 0 with *out a new policy (free with password_policy_free), or
 * TROVE_ERR_INVALID with *why a heap string (caller frees) naming the key
 * and the reason: a parse error with its line, an unknown key or rule
 * type, a missing length or rule, a wrong type, a length outside 4..100,
 * a charset that is empty or not printable ASCII, minimums over the
 * length. */
int password_policy_parse(const char *text, size_t len, struct password_policy **out, char **why);
void password_policy_free(struct password_policy *p);

/* Whether name can name a policy: 1 to PASSWORD_POLICY_NAME_MAX bytes,
 * no '/', no control character or blank, not "." or "..". */
bool password_policy_name_valid(const char *name);

/* Parses text (len bytes), generates ten passwords from it, and stores it
 * under name. TROVE_ERR_INVALID with *why (heap, caller frees) for a bad
 * name or policy or one that fails to generate; TROVE_ERR_SEALED or a
 * storage error otherwise. */
int password_policy_put(struct core *core, const char *name, const char *text, size_t len, char **why);

/* The text stored for name: *text a heap string the caller frees.
 * TROVE_ERR_NOT_FOUND when there is none (or name is invalid). */
int password_policy_get(struct core *core, const char *name, char **text);

/* Deletes a policy; a missing one is fine. TROVE_ERR_NOT_FOUND only for
 * an invalid name (nothing can be stored under it). */
int password_policy_delete(struct core *core, const char *name);

/* Appends the stored policy names, sorted, to out (initialised). */
int password_policy_list(struct core *core, struct strlist *out);

/* A new password from the named policy into *out (caller frees with
 * secure_free_str). TROVE_ERR_NOT_FOUND for an unknown policy,
 * TROVE_ERR_INTERNAL when the stored text no longer parses or the
 * generator fails, TROVE_ERR_SEALED while sealed. */
int password_policy_generate(struct core *core, const char *policy_name, char **out);

#endif
