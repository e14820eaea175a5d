/* fuzz_oidc_template.c — libFuzzer target: arbitrary bytes as an
 * identity-token role template (engines/identity_oidc.h), expanded with
 * no data (as at a role write) and with an entity's data (as at token
 * time). An accepted template is always a JSON object without a reserved
 * claim; a refusal always says why. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engines/identity_oidc.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *tpl, const json_t *ident)
{
	struct buf err;
	json_t *out = NULL;
	const char *k;
	json_t *v;

	buf_init(&err, 4096);
	int r = oidc_template_render(tpl, ident, &out, &err);
	if (r == 0) {
		if (!json_is_object(out) || err.len)
			abort();
		json_object_foreach(out, k, v) if (oidc_claim_reserved(k)) abort();
	} else if (out || !err.len) {
		abort();
	}
	json_decref(out);
	buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *ident;
	char *tpl;

	if (size > 8192)
		return 0;
	if (!ident)
		ident = json_loads(
		    "{\"entity\":{\"id\":\"e1\",\"name\":\"n\\\"}{\",\"metadata\":{\"a\":\"}}\\n\"},"
		    "\"aliases\":[{\"id\":\"a1\",\"name\":\"x\",\"mount_accessor\":\"auth_userpass_1\","
		    "\"metadata\":{}}]},\"groups\":[{\"id\":\"g1\",\"name\":\"ops\"}]}",
		    0, NULL);
	if (!ident)
		abort();
	tpl = malloc(size + 1);
	if (!tpl)
		return 0;
	memcpy(tpl, data, size);
	tpl[size] = '\0';
	check(tpl, NULL);
	check(tpl, ident);
	free(tpl);
	return 0;
}
