/* libFuzzer target: `trove pki health-check`'s checks (cli/pki_health*.c)
 * over whatever a server might answer. The input is a JSON object
 * {"<METHOD> <path>": {"s": status, "b": body}, ...} standing for the
 * server (paths not in it answer 404 "unsupported path"); every check runs
 * with the default configuration. Nothing crashes, leaks or reads past its
 * input; a run either fails with a reason or gives, for each check, results
 * whose status code is one of the seven and whose status, endpoint and
 * message are strings. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cli/pki_health.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fetch(void *ctx, const char *method, const char *path, struct pki_hc_answer *out)
{
	const json_t *script = ctx, *a;
	struct buf key;

	memset(out, 0, sizeof(*out));
	buf_init(&key, BUF_CAP_DEFAULT);
	(void)buf_printf(&key, "%s %s", method, path);
	a = json_object_get(script, key.data);
	buf_release(&key);
	if (!json_is_object(a)) {
		out->status = 404;
		out->json = json_pack("{s:[s]}", "errors", "unsupported path");
		return;
	}
	out->status = (long)json_integer_value(json_object_get(a, "s"));
	out->json = json_incref(json_object_get(a, "b"));
	if (json_is_string(json_object_get(a, "e")))
		out->error = strdup(json_string_value(json_object_get(a, "e")));
}

static int directory(void *ctx, const char *url, char **why)
{
	(void)ctx;
	if (url == NULL || strstr(url, "/acme/directory") == NULL)
		abort();
	*why = strdup("not reachable from the fuzzer");
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *script, *config = NULL, *results = NULL, *arr, *r;
	struct pki_hc hc = {0};
	const char *name;
	char *err = NULL;
	size_t i;

	if (size > 256 << 10)
		return 0;
	script = json_loadb((const char *)data, size, 0, NULL);
	if (!json_is_object(script)) {
		json_decref(script);
		return 0;
	}
	if (pki_hc_build_config(NULL, true, &config, &err) != 0)
		abort();
	hc.fetch = fetch;
	hc.acme_directory = directory;
	hc.ctx = script;
	hc.mount = "pki";
	hc.have_token = true;
	hc.now = 1765000000;
	if (pki_hc_execute(&hc, config, &results, &err) != 0) {
		if (err == NULL || results != NULL)
			abort(); /* a failed run says why and gives nothing */
	} else {
		if (json_object_size(results) != pki_hc_nchecks)
			abort();
		json_object_foreach(results, name, arr)
		{
			json_array_foreach(arr, i, r)
			{
				json_int_t code = json_integer_value(json_object_get(r, "status_code"));

				if (code < PKI_HC_NOT_APPLICABLE || code > PKI_HC_INSUFFICIENT_PERMISSIONS ||
				    strcmp(json_string_value(json_object_get(r, "status")),
				           pki_hc_status_name((enum pki_hc_status)code)) != 0 ||
				    !json_is_string(json_object_get(r, "endpoint")) ||
				    !json_is_string(json_object_get(r, "message")))
					abort();
			}
		}
		(void)pki_hc_exit_code(results, "default");
	}
	free(err);
	json_decref(results);
	json_decref(config);
	pki_hc_release(&hc);
	json_decref(script);
	return 0;
}
