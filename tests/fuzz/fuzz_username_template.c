/* fuzz_username_template.c — libFuzzer target: arbitrary bytes as a
 * username template (lib/username_template.h). Refusal or output are
 * both fine; crashes, leaks and over-reads are not. An accepted template
 * renders within the output bound, a template the check refuses renders
 * only when the check's reason was the output bound, and a refusal always
 * says why. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "username_template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct username_template_vars vars = {.display_name = "token-display",
	                                                   .role_name = "ro"};
	char *tmpl, *out = NULL, *why = NULL;
	int checked, rendered, output_bound;

	if (size > USERNAME_TEMPLATE_MAX + 16)
		return 0;
	/* A heap copy of exactly the bytes plus a NUL lets ASan catch any
	 * read past the terminator. */
	tmpl = malloc(size + 1);
	if (!tmpl)
		return 0;
	memcpy(tmpl, data, size);
	tmpl[size] = '\0';
	checked = username_template_check(tmpl, &why);
	if ((checked != 0) != (why != NULL))
		abort();
	/* Only the output bound may differ between the check and a render:
	 * the check runs on empty fields at another time, and day and month
	 * names differ in length. */
	output_bound = why && strstr(why, "the output is longer than");
	free(why);
	why = NULL;
	rendered = username_template_render_at(tmpl, &vars, 1234567890LL * 1000000000, &out, &why);
	if (rendered == 0) {
		if (!out || why || strlen(out) > USERNAME_TEMPLATE_OUTPUT_MAX)
			abort();
	} else if (out || !why) {
		abort();
	}
	if (checked != 0 && rendered == 0 && !output_bound)
		abort();
	free(out);
	free(why);
	free(tmpl);
	return 0;
}
