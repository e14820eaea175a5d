/* sys_password_policy.c — the sys/ engine, password policies:
 * sys/policies/password (LIST) and sys/policies/password/:name (write,
 * read, delete) with /generate (read), Vault's API over
 * core/password_policy.h.
 *
 * As in Vault these paths are not sudo-protected: ordinary ACL
 * capabilities govern them, and generating a password is a read. A
 * policy may be sent base64-encoded (to spare the escaping): text that
 * decodes as base64 is replaced by what it decodes to, as Vault does;
 * plain HCL never decodes, since `=` may only end base64 and `"` is never
 * in it. */
#include <stdlib.h>
#include <string.h>

#include "engines.h"

#include "core/core.h"
#include "core/password_policy.h"
#include "encoding.h"
#include "err.h"
#include "secure.h"
#include "strlist_json.h"

#include "banned.h"

extern const struct route sys_password_policy_routes[];

static int pp_list(struct request *req, struct response *resp)
{
	struct strlist names;
	int r;

	strlist_init(&names);
	if ((r = password_policy_list(req->core, &names)) != 0)
		goto out;
	if (names.len == 0) {
		r = TROVE_ERR_NOT_FOUND; /* Vault's empty LIST: a 404 */
		goto out;
	}
	response_set_data(resp, json_pack("{s:o}", "keys", strlist_json(&names)));
	r = resp->data ? 0 : TROVE_ERR_NOMEM;
out:
	strlist_release(&names);
	return r;
}

/* The base64 form's bytes, when text is base64 of something without a
 * NUL; NULL otherwise. */
static char *decode_base64(const char *text, size_t len, size_t *out_len)
{
	unsigned char *dec;
	size_t n = 0;

	if (len == 0 || len % 4 != 0)
		return NULL;
	dec = malloc(len / 4 * 3 + 1);
	if (!dec)
		return NULL;
	if (base64_decode(text, len, dec, len / 4 * 3 + 1, &n) != 0 || n == 0 || memchr(dec, '\0', n)) {
		free(dec);
		return NULL;
	}
	dec[n] = '\0';
	*out_len = n;
	return (char *)dec;
}

static int pp_write(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	const char *text = field_string(req, "policy");
	size_t len = strlen(text);
	char *decoded, *why = NULL;
	int r;

	if (len == 0)
		return response_error(resp, TROVE_ERR_INVALID, "policy: missing policy");
	if ((decoded = decode_base64(text, len, &len)) != NULL)
		text = decoded;
	r = password_policy_put(req->core, name, text, len, &why);
	if (r != 0 && why)
		response_error(resp, r, "%s", why);
	free(why);
	free(decoded);
	return r;
}

static int pp_read(struct request *req, struct response *resp)
{
	char *text = NULL;
	int r = password_policy_get(req->core, request_param(req, "name"), &text);

	if (r == TROVE_ERR_NOT_FOUND)
		return response_error(resp, r, "policy does not exist");
	if (r != 0)
		return r;
	response_set_data(resp, json_pack("{s:s}", "policy", text));
	free(text);
	return resp->data ? 0 : TROVE_ERR_NOMEM;
}

static int pp_delete(struct request *req, struct response *resp)
{
	int r = password_policy_delete(req->core, request_param(req, "name"));

	(void)resp;
	return r == TROVE_ERR_NOT_FOUND ? 0 : r;
}

static int pp_generate(struct request *req, struct response *resp)
{
	char *pw = NULL;
	int r = password_policy_generate(req->core, request_param(req, "name"), &pw);

	if (r == TROVE_ERR_NOT_FOUND)
		return response_error(resp, r, "policy does not exist");
	if (r != 0)
		return r;
	response_set_data(resp, json_pack("{s:s}", "password", pw));
	secure_free_str(pw);
	return resp->data ? 0 : TROVE_ERR_NOMEM;
}

static const struct field pp_fields[] = {
    {.name = "name", .type = FIELD_STRING, .description = "the password policy's name"},
    {.name = "policy",
     .type = FIELD_STRING,
     .description = "the policy: HCL or JSON with length and rule \"charset\" blocks, optionally base64"},
    {0},
};

static const struct field pp_name_fields[] = {
    {.name = "name", .type = FIELD_STRING, .description = "the password policy's name"},
    {0},
};

const struct route sys_password_policy_routes[] = {
    {.pattern = "policies/password",
     .ops = {[OP_LIST] = pp_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list the password policies"},
    {.pattern = "policies/password/:name/generate",
     .ops = {[OP_READ] = pp_generate},
     .fields = pp_name_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "generate a password from a password policy"},
    {.pattern = "policies/password/:name",
     .ops = {[OP_READ] = pp_read, [OP_UPDATE] = pp_write, [OP_DELETE] = pp_delete},
     .fields = pp_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "write, read or delete a password policy"},
    {.pattern = NULL},
};
