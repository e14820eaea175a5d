/* password_gen.h — random passwords drawn from charset rules.
 *
 * A spec is Vault's password policy in memory: a length and rules, each a
 * charset with a minimum number of its characters. Characters are drawn
 * uniformly from the union of the rules' charsets until a password meets
 * every minimum (Vault's method: generate, check, try again), so no rule
 * skews the distribution. Charsets are printable ASCII (0x21-0x7e);
 * duplicates across rules count once in the union. */
#ifndef TROVE_PASSWORD_GEN_H
#define TROVE_PASSWORD_GEN_H

#include <stddef.h>

#define PASSWORD_MAX_LENGTH 4096
#define PASSWORD_MAX_RULES 32

struct password_rule {
	const char *charset; /* NUL-terminated, printable ASCII */
	size_t min_chars;
};

struct password_spec {
	size_t length;
	const struct password_rule *rules;
	size_t n_rules;
};

/* Vault's default for generated credentials: 20 characters from lower,
 * upper, digits and '-', at least one of each. */
extern const struct password_spec password_spec_default;

/* Checks a spec: 1 <= length <= PASSWORD_MAX_LENGTH, 1 <= n_rules <=
 * PASSWORD_MAX_RULES, every charset non-empty printable ASCII, the sum of
 * the minimums at most the length. Returns 0, or TROVE_ERR_INVALID with
 * *why (static text) set. */
int password_spec_check(const struct password_spec *spec, const char **why);

/* Writes a new password meeting spec into *out (caller frees it with
 * secure_free_str). Returns 0, TROVE_ERR_INVALID for a spec that fails
 * password_spec_check, TROVE_ERR_NOMEM, or TROVE_ERR_INTERNAL when the
 * OS generator fails or 1000 draws in a row miss a minimum (a spec whose
 * minimums are nearly the whole length). */
int password_generate(const struct password_spec *spec, char **out);

#endif
