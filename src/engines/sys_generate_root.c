/* sys_generate_root.c — the sys/generate-root endpoints: a new root token from the
 * unseal key shares.
 *
 * Vault's special handlers: no token (the key shares are the authority),
 * bare JSON replies, never audited (the bodies carry key shares and the
 * OTP). The state machine is core/generate_root.c. A PGP key for the
 * token is refused: see docs/decisions/0011-rekey-without-pgp.md. */
#include <stdlib.h>
#include <string.h>

#include "engines.h"

#include "core/core.h"
#include "core/generate_root.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

static int fail(struct response *resp, int r, struct buf *err)
{
	response_error(resp, r, "%s", err->len ? err->data : err_message(r));
	buf_release(err);
	return r;
}

/* otp and encoded may be "". */
static json_t *status_json(const struct generate_root_status *st, bool complete, const char *encoded,
                           const char *otp)
{
	return json_pack("{s:b, s:s, s:i, s:i, s:b, s:s, s:s, s:s, s:s, s:i}", "started", st->started,
	                 "nonce", st->nonce, "progress", (int)st->progress, "required", (int)st->required,
	                 "complete", complete, "encoded_token", encoded, "encoded_root_token", encoded,
	                 "pgp_fingerprint", "", "otp", otp, "otp_length", (int)GENERATE_ROOT_OTP_LEN);
}

/* otp: the generated OTP to hand out once, or "". */
static int attempt_reply(struct request *req, struct response *resp, const char *otp)
{
	struct generate_root_status st;
	struct buf err;
	int r;

	buf_init(&err, 256);
	if ((r = generate_root_status(core_generate_root(req->core), &st, &err)) != 0)
		return fail(resp, r, &err);
	buf_release(&err);
	resp->bare = status_json(&st, false, "", otp);
	return resp->bare ? 0 : TROVE_ERR_NOMEM;
}

static int attempt_read(struct request *req, struct response *resp)
{
	return attempt_reply(req, resp, "");
}

static int attempt_write(struct request *req, struct response *resp)
{
	char otp[GENERATE_ROOT_OTP_LEN + 1] = "";
	struct buf err;
	int r;

	if (field_string(req, "pgp_key")[0])
		return response_error(resp, TROVE_ERR_INVALID,
		                      "pgp_key: PGP encryption of the root token is unsupported; use an otp");
	buf_init(&err, 256);
	r = generate_root_start(core_generate_root(req->core), field_string(req, "otp"), otp, &err);
	if (r != 0)
		return fail(resp, r, &err);
	buf_release(&err);
	r = attempt_reply(req, resp, otp);
	secure_wipe(otp, sizeof(otp));
	return r;
}

static int attempt_delete(struct request *req, struct response *resp)
{
	struct buf err;
	int r;

	buf_init(&err, 256);
	if ((r = generate_root_cancel(core_generate_root(req->core), &err)) != 0)
		return fail(resp, r, &err);
	buf_release(&err);
	return 0;
}

static int update_write(struct request *req, struct response *resp)
{
	struct generate_root_status st;
	unsigned char key[256];
	size_t klen = 0;
	char *encoded = NULL;
	struct buf err;
	int r;

	if (sys_key_field(req, resp, key, sizeof(key), &klen) != 0)
		return TROVE_ERR_INVALID;
	buf_init(&err, 256);
	r = generate_root_update(core_generate_root(req->core), key, klen, field_string(req, "nonce"), &st,
	                         &encoded, &err);
	secure_wipe(key, sizeof(key));
	if (r != 0)
		return fail(resp, r, &err);
	buf_release(&err);
	/* The reply names the attempt as the caller did, even once it is over. */
	st.started = true;
	snprintf(st.nonce, sizeof(st.nonce), "%s", field_string(req, "nonce"));
	resp->bare = status_json(&st, encoded != NULL, encoded ? encoded : "", "");
	free(encoded);
	return resp->bare ? 0 : TROVE_ERR_NOMEM;
}

static const struct field attempt_fields[] = {
    {.name = "otp",
     .type = FIELD_STRING,
     .description = "one-time pad for the new token; generated when absent",
     .sensitive = true},
    {.name = "pgp_key", .type = FIELD_STRING, .description = "unsupported"},
    {0},
};

static const struct field update_fields[] = {
    {.name = "key", .type = FIELD_STRING, .description = "one key share, hex or base64", .sensitive = true},
    {.name = "nonce", .type = FIELD_STRING, .description = "the attempt's nonce"},
    {0},
};

#define SPECIAL (ROUTE_UNAUTH | ROUTE_SEALED_OK | ROUTE_NO_AUDIT)

const struct route sys_generate_root_routes[] = {
    {.pattern = "generate-root/attempt",
     .ops = {[OP_READ] = attempt_read, [OP_UPDATE] = attempt_write, [OP_DELETE] = attempt_delete},
     .fields = attempt_fields,
     .flags = SPECIAL | ROUTE_LOOP_READS,
     .synopsis = "start, read or cancel a root token generation"},
    {.pattern = "generate-root/update",
     .ops = {[OP_UPDATE] = update_write},
     .fields = update_fields,
     .flags = SPECIAL,
     .synopsis = "give one key share to the root token generation"},
    {0},
};
