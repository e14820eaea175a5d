/* request.c — a client command's API calls: the request through the API
 * library, and failures printed the way Vault's CLI prints them. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#include "banned.h"

#define RAW_ERROR_MAX 4096 /* bytes of a non-JSON error body shown */

void cli_print_api_error(const char *doing, const struct api_response *resp)
{
	const json_t *errors;
	size_t i;

	if (resp->status == 0) {
		fprintf(stderr, "Error %s: %s\n", doing, resp->error ? resp->error : "request failed");
		return;
	}
	fprintf(stderr, "Error %s: Error making API request.\n\nURL: %s %s\n", doing,
	        resp->method ? resp->method : "?", resp->url ? resp->url : "?");
	errors = json_is_object(resp->json) ? json_object_get(resp->json, "errors") : NULL;
	if (json_is_array(errors)) {
		fprintf(stderr, "Code: %ld. Errors:\n\n", resp->status);
		for (i = 0; i < json_array_size(errors); i++) {
			const json_t *e = json_array_get(errors, i);

			if (json_is_string(e))
				fprintf(stderr, "* %s\n", json_string_value(e));
			else if (e) {
				char *s = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);

				fprintf(stderr, "* %s\n", s ? s : "?");
				free(s);
			}
		}
	} else {
		fprintf(stderr, "Code: %ld. Raw Message:\n\n%.*s\n", resp->status,
		        (int)(resp->body.len > RAW_ERROR_MAX ? RAW_ERROR_MAX : resp->body.len), resp->body.data);
	}
}

int cli_api(struct cli *cli, const char *doing, const char *method, const char *path, const json_t *body,
            json_t **out)
{
	return cli_request(cli, doing, method, path, NULL, body, out, NULL);
}

int cli_request(struct cli *cli, const char *doing, const char *method, const char *path, const char *query,
                const json_t *body, json_t **out, bool *found)
{
	struct api_response resp;
	struct api_client *c;
	int r = CLI_EXIT_REMOTE, rr;

	if (out)
		*out = NULL;
	if (found)
		*found = true;
	api_response_init(&resp);
	if ((c = cli_client(cli)) == NULL)
		goto out;
	rr = api_request(c, method, path, query, body, &resp);
	if (found && resp.status == 404) {
		*found = false;
	} else if (rr != 0) {
		cli_print_api_error(doing, &resp);
		goto out;
	}
	if (resp.body.len > 0 && resp.json == NULL) {
		fprintf(stderr, "Error %s: the server at %s answered with a body that is not JSON\n", doing,
		        api_client_address(c));
		goto out;
	}
	if (out) {
		*out = resp.json;
		resp.json = NULL;
	}
	r = 0;
out:
	api_response_release(&resp);
	return r;
}

char *cli_trim_slashes(const char *path)
{
	size_t len;

	while (*path == '/')
		path++;
	len = strlen(path);
	while (len > 0 && path[len - 1] == '/')
		len--;
	return xstrndup(path, len);
}
