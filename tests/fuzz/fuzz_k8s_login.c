/* fuzz_k8s_login.c — libFuzzer target: arbitrary bytes as what an
 * auth/kubernetes login and role write parse (auth/kubernetes.h): the
 * unverified claims of a JWT (k8s_claims_parse, attacker input at login)
 * and a namespace label selector (k8s_selector_parse, then matched
 * against labels made from the input). Nothing crashes, leaks or reads
 * past the bytes; a refusal always says why and leaves nothing behind;
 * accepted claims always name a namespace and a service account. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/kubernetes.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_claims c;
	json_t *sel = NULL;
	const char *why = NULL;
	char *text;

	if (size > 64 << 10)
		return 0;
	/* An exact-size heap copy: ASan catches a read past the bytes. */
	text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	if (k8s_claims_parse(text, size, &c, &why) == 0) {
		if (!c.ns || !c.name || !c.ns[0] || !c.name[0])
			abort();
		k8s_claims_release(&c);
	} else if (!why || c.ns || c.name || c.aud.len) {
		abort();
	}
	why = NULL;
	if (k8s_selector_parse(text, size, &sel, &why) == 0) {
		if (!sel || why)
			abort();
		/* Match it against its own matchLabels and against nothing. */
		(void)k8s_selector_matches(sel, json_object_get(sel, "matchLabels"));
		(void)k8s_selector_matches(sel, NULL);
		json_decref(sel);
	} else if (sel || !why) {
		abort();
	}
	free(text);
	return 0;
}
