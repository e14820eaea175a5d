/* fuzz_password_policy.c — libFuzzer target: arbitrary bytes as a
 * password policy (core/password_policy.h), through the HCL and JSON
 * readers. A refusal must say why; an accepted policy must pass
 * password_spec_check, keep its length within 4..100, and generate a
 * password of that length whose every character comes from its rules and
 * which meets every minimum. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/password_policy.h"
#include "err.h"
#include "password_gen.h"
#include "secure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_in(const char *pw, const char *set)
{
	size_t n = 0;

	for (; *pw; pw++)
		n += strchr(set, *pw) != NULL;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct password_policy *p = NULL;
	const char *spec_why = NULL;
	char *copy, *why = NULL, *pw = NULL;
	int r;

	if (size > 65536)
		return 0;
	/* A heap copy of exactly size bytes lets ASan catch any over-read. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	r = password_policy_parse(copy, size, &p, &why);
	if (r != 0) {
		if (p || !why)
			abort();
		goto out;
	}
	if (why || password_spec_check(&p->spec, &spec_why) != 0 ||
	    p->spec.length < PASSWORD_POLICY_MIN_LENGTH || p->spec.length > PASSWORD_POLICY_MAX_LENGTH)
		abort();
	if (password_generate(&p->spec, &pw) == 0) {
		size_t allowed = 0;
		if (strlen(pw) != p->spec.length)
			abort();
		for (size_t i = 0; i < p->spec.n_rules; i++)
			if (count_in(pw, p->spec.rules[i].charset) < p->spec.rules[i].min_chars)
				abort();
		for (const char *c = pw; *c; c++)
			for (size_t i = 0; i < p->spec.n_rules; i++)
				if (strchr(p->spec.rules[i].charset, *c)) {
					allowed++;
					break;
				}
		if (allowed != p->spec.length)
			abort();
		secure_free_str(pw);
	}
out:
	password_policy_free(p);
	free(why);
	free(copy);
	return 0;
}
