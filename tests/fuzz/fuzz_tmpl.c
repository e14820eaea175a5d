/* libFuzzer target: the template language (agent/tmpl.h). The first byte
 * picks the options (error_on_missing_key, custom delimiters, the sprig
 * dialect of the operator's transformation templates), the rest is the
 * template, parsed and rendered twice over fixed data with a fake Vault
 * source; a sprig rendering that changes its data in place (set, merge)
 * changes its own copy, so the two agree too. A refusal always says why, naming the template; a
 * rendering is the same both times and within the output bound. Inputs
 * that call `file` are skipped: a path such as /dev/stdin would block. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/tmpl.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake(void *ctx, const char *path, const char *const *args, size_t nargs, json_t **out, char **err)
{
	(void)ctx;
	if (!path || (nargs > 0 && !args))
		abort();
	for (size_t i = 0; i < nargs; i++)
		if (!args[i])
			abort();
	if (strcmp(path, "fail") == 0) {
		*err = strdup("refused");
		return -2;
	}
	*out = json_pack("{s:s, s:i, s:b, s:{s:{s:s, s:[i, f, s]}, s:s}, s:n}", "LeaseID", "l", "LeaseDuration", 60,
	                 "Renewable", 1, "Data", "data", "password", "p<&>", "list", 1, 2.5, "x", "certificate", "C",
	                 "Warnings");
	return 0;
}

static json_t *fixed_data(void)
{
	return json_loads("{\"a\":\"x\",\"n\":3,\"f\":1.5,\"b\":true,\"l\":[\"p\",\"q\",[1,{\"k\":null}]],"
	                  "\"m\":{\"k2\":\"v2\",\"k1\":\"v1\"},\"nil\":null,\"big\":1e300,\"neg\":-9223372036854775807}",
	                  0, NULL);
}

static int render(const struct tmpl *t, json_t *d, bool strict, char **out, char **err)
{
	static const struct tmpl_funcs funcs = { NULL, fake, fake };
	struct buf b;
	struct tmpl_render_opts o = { .data = d, .error_on_missing_key = strict, .now_unix_ns = 1796574005123456789,
	                           /* a 32nd of the real bound keeps every run under a second when instrumented */
	                           .work_max = TMPL_WORK_MAX / 32 };

	buf_init(&b, TMPL_OUT_MAX + 1);
	int r = tmpl_render_opts(t, &funcs, &o, &b, err);
	if (r == 0) {
		if (*err || b.len > TMPL_OUT_MAX)
			abort();
		*out = buf_take(&b);
	} else if (!*err || strncmp(*err, "f:", 2) != 0) {
		abort();
	}
	buf_release(&b);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmpl *t = NULL;
	char *err = NULL;

	if (size < 1 || memmem(data, size, "file", 4))
		return 0;
	bool strict = data[0] & 1, delims = data[0] & 2;
	struct tmpl_parse_opts po = { delims ? "<%" : NULL, delims ? "%>" : NULL,
		                      data[0] & 4 ? TMPL_SPRIG : TMPL_CONSUL };
	const char *text = (const char *)data + 1;
	int r = tmpl_parse_opts("f", text, size - 1, &po, &t, &err);
	if (r) {
		if (t || !err || strncmp(err, "f:", 2) != 0)
			abort();
		free(err);
		return 0;
	}
	if (err)
		abort();
	json_t *d = fixed_data();
	char *out1 = NULL, *out2 = NULL, *err1 = NULL, *err2 = NULL;
	int r1 = render(t, d, strict, &out1, &err1);
	int r2 = render(t, d, strict, &out2, &err2);
	if (r1 != r2)
		abort();
	if (r1 == 0 && strcmp(out1, out2) != 0)
		abort();
	if (r1 != 0 && strcmp(err1, err2) != 0)
		abort();
	free(out1);
	free(out2);
	free(err1);
	free(err2);
	json_decref(d);
	tmpl_free(t);
	return 0;
}
