/* password_gen.c — passwords drawn uniformly from the union of a spec's
 * charsets, retried until every rule's minimum is met.
 *
 * Each character is a random byte accepted only below the largest multiple
 * of the alphabet's size (rejection sampling), so every character of the
 * union is equally likely. The scratch pool and any rejected attempt are
 * wiped before they are released. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "password_gen.h"
#include "err.h"
#include "rand.h"
#include "secure.h"
#include "banned.h"

#define PASSWORD_MAX_ATTEMPTS 1000

static const struct password_rule default_rules[] = {
	{.charset = "abcdefghijklmnopqrstuvwxyz", .min_chars = 1},
	{.charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", .min_chars = 1},
	{.charset = "0123456789", .min_chars = 1},
	{.charset = "-", .min_chars = 1},
};

const struct password_spec password_spec_default = {
	.length = 20,
	.rules = default_rules,
	.n_rules = sizeof(default_rules) / sizeof(default_rules[0]),
};

int password_spec_check(const struct password_spec *spec, const char **why)
{
	size_t i, total = 0;
	const char *c;

	if (spec->length < 1 || spec->length > PASSWORD_MAX_LENGTH) {
		*why = "length must be between 1 and 4096";
		return TROVE_ERR_INVALID;
	}
	if (spec->n_rules < 1 || spec->n_rules > PASSWORD_MAX_RULES) {
		*why = "a policy needs between 1 and 32 charset rules";
		return TROVE_ERR_INVALID;
	}
	for (i = 0; i < spec->n_rules; i++) {
		c = spec->rules[i].charset;
		if (c == NULL || *c == '\0') {
			*why = "a charset must not be empty";
			return TROVE_ERR_INVALID;
		}
		for (; *c; c++)
			if (*c < 0x21 || *c > 0x7e) {
				*why = "a charset may hold only printable ASCII characters";
				return TROVE_ERR_INVALID;
			}
		if (spec->rules[i].min_chars > spec->length || total + spec->rules[i].min_chars > spec->length) {
			*why = "the rules' min-chars add up to more than the length";
			return TROVE_ERR_INVALID;
		}
		total += spec->rules[i].min_chars;
	}
	return 0;
}

/* The union of the charsets, each character once, in a 95-byte set. */
static size_t build_alphabet(const struct password_spec *spec, char alphabet[96])
{
	bool seen[128] = {false};
	size_t i, n = 0;
	const char *c;

	for (i = 0; i < spec->n_rules; i++)
		for (c = spec->rules[i].charset; *c; c++)
			if (!seen[(unsigned char)*c]) {
				seen[(unsigned char)*c] = true;
				alphabet[n++] = *c;
			}
	alphabet[n] = '\0';
	return n;
}

static int fill(char *dst, size_t length, const char *alphabet, size_t n)
{
	unsigned char pool[128];
	unsigned limit = 256u - (256u % (unsigned)n);
	size_t o = 0, i;
	int r = 0;

	while (o < length) {
		if ((r = rand_bytes(pool, sizeof(pool))) != 0)
			break;
		for (i = 0; i < sizeof(pool) && o < length; i++)
			if (pool[i] < limit)
				dst[o++] = alphabet[pool[i] % n];
	}
	secure_wipe(pool, sizeof(pool));
	return r;
}

static bool meets_rules(const struct password_spec *spec, const char *pw)
{
	size_t i, count;
	const char *p;

	for (i = 0; i < spec->n_rules; i++) {
		count = 0;
		for (p = pw; *p; p++)
			if (strchr(spec->rules[i].charset, *p) != NULL)
				count++;
		if (count < spec->rules[i].min_chars)
			return false;
	}
	return true;
}

int password_generate(const struct password_spec *spec, char **out)
{
	char alphabet[96];
	const char *why;
	char *pw = NULL;
	size_t n, attempt;
	int r;

	*out = NULL;
	if ((r = password_spec_check(spec, &why)) != 0)
		return r;
	n = build_alphabet(spec, alphabet);
	pw = calloc(spec->length + 1, 1);
	if (pw == NULL)
		return TROVE_ERR_NOMEM;
	for (attempt = 0; attempt < PASSWORD_MAX_ATTEMPTS; attempt++) {
		if ((r = fill(pw, spec->length, alphabet, n)) != 0)
			goto fail;
		if (meets_rules(spec, pw)) {
			*out = pw;
			return 0;
		}
	}
	r = TROVE_ERR_INTERNAL;
fail:
	secure_free_str(pw);
	return r;
}
