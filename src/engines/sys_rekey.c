/* sys_rekey.c — the sys/rekey endpoints: replacing the unseal key and its shares.
 *
 * Like sys/unseal these are Vault's special handlers: no token (the key
 * shares are the authority), bare JSON replies, never audited (the bodies
 * carry key shares). The state machine is core/rekey.c. PGP encryption of
 * the new shares, and so the backup of PGP-encrypted shares, is refused:
 * see docs/decisions/0011-rekey-without-pgp.md. */
#include <stdlib.h>
#include <string.h>

#include "engines.h"

#include "core/core.h"
#include "core/rekey.h"
#include "encoding.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

static int fail(struct response *resp, int r, struct buf *err)
{
	response_error(resp, r, "%s", err->len ? err->data : err_message(r));
	buf_release(err);
	return r;
}

/* sys/rekey replaces the unseal key; under an auto seal the keys are
 * recovery keys and sys/rekey-recovery-key replaces them (Vault's split).
 * The state machine is the same: the core checks and replaces whichever
 * key the seal has. Refuses the route that does not match the seal. */
static int kind_refused(struct request *req, struct response *resp)
{
	bool recovery_route = strstr(req->path, "rekey-recovery-key") != NULL;
	bool recovery_seal = core_recovery_seal(req->core);
	if (recovery_route == recovery_seal)
		return 0;
	if (recovery_seal)
		return response_error(resp, TROVE_ERR_INVALID,
		                      "this server has an auto seal: its keys are recovery keys; rekey them with "
		                      "sys/rekey-recovery-key");
	return response_error(resp, TROVE_ERR_INVALID,
	                      "recovery keys need an auto seal; this server has Shamir unseal keys (sys/rekey)");
}

static json_t *status_json(const struct rekey_status *st)
{
	json_t *j = json_pack("{s:b, s:s, s:i, s:i, s:i, s:i, s:n, s:b, s:b}", "started", st->started,
	                      "nonce", st->nonce, "t", (int)st->t, "n", (int)st->n, "progress",
	                      (int)st->progress, "required", (int)st->required, "pgp_fingerprints", "backup",
	                      0, "verification_required", st->verification_required);
	if (j && st->verifying)
		json_object_set_new(j, "verification_nonce", json_string(st->verify_nonce));
	return j;
}

/* The rekey's state, or the error answered. */
static int read_status(struct request *req, struct response *resp, struct rekey_status *st)
{
	struct buf err;
	int r;

	buf_init(&err, 256);
	if ((r = rekey_status(core_rekey(req->core), st, &err)) != 0)
		return fail(resp, r, &err);
	buf_release(&err);
	return 0;
}

static int init_read(struct request *req, struct response *resp)
{
	struct rekey_status st;
	int r;

	if (kind_refused(req, resp) != 0)
		return TROVE_ERR_INVALID;
	if ((r = read_status(req, resp, &st)) != 0)
		return r;
	resp->bare = status_json(&st);
	return resp->bare ? 0 : TROVE_ERR_NOMEM;
}

static int init_write(struct request *req, struct response *resp)
{
	struct buf err;
	int r;

	if (kind_refused(req, resp) != 0)
		return TROVE_ERR_INVALID;
	if (json_array_size(json_object_get(req->data, "pgp_keys")) > 0)
		return response_error(resp, TROVE_ERR_INVALID,
		                      "pgp_keys: PGP encryption of key shares is unsupported");
	if (field_bool(req, "backup"))
		return response_error(resp, TROVE_ERR_INVALID,
		                      "backup: a backup of PGP-encrypted key shares is unsupported");
	if (field_int(req, "stored_shares") > 1)
		return response_error(resp, TROVE_ERR_INVALID,
		                      "stored_shares: stored shares need an auto-unseal seal");
	if (!field_present(req, "secret_shares"))
		return response_error(resp, TROVE_ERR_INVALID, "secret_shares: required");
	if (!field_present(req, "secret_threshold"))
		return response_error(resp, TROVE_ERR_INVALID, "secret_threshold: required");
	buf_init(&err, 256);
	r = rekey_start(core_rekey(req->core), field_int(req, "secret_shares"),
	                field_int(req, "secret_threshold"), field_bool(req, "require_verification"), &err);
	if (r != 0)
		return fail(resp, r, &err);
	buf_release(&err);
	return init_read(req, resp);
}

static int init_delete(struct request *req, struct response *resp)
{
	struct buf err;
	int r;

	if (kind_refused(req, resp) != 0)
		return TROVE_ERR_INVALID;
	buf_init(&err, 256);
	if ((r = rekey_cancel(core_rekey(req->core), &err)) != 0)
		return fail(resp, r, &err);
	buf_release(&err);
	return 0;
}

static json_t *keys_json(const struct rekey_result *res)
{
	json_t *hex = json_array(), *b64 = json_array();
	for (size_t i = 0; i < res->nkeys; i++) {
		char h[2 * 64 + 1];
		char b[128];
		hex_encode(res->keys[i], res->key_len, h);
		base64_encode(res->keys[i], res->key_len, b);
		json_array_append_new(hex, json_string(h));
		json_array_append_new(b64, json_string(b));
		secure_wipe(h, sizeof(h));
		secure_wipe(b, sizeof(b));
	}
	return json_pack("{s:o, s:o}", "keys", hex, "keys_base64", b64);
}

static int update_write(struct request *req, struct response *resp)
{
	struct rekey_result res;
	unsigned char key[256];
	size_t klen = 0;
	struct buf err;
	int r;

	if (kind_refused(req, resp) != 0)
		return TROVE_ERR_INVALID;
	if (sys_key_field(req, resp, key, sizeof(key), &klen) != 0)
		return TROVE_ERR_INVALID;
	buf_init(&err, 256);
	r = rekey_update(core_rekey(req->core), key, klen, field_string(req, "nonce"), &res, &err);
	secure_wipe(key, sizeof(key));
	if (r != 0)
		return fail(resp, r, &err);
	buf_release(&err);
	if (!res.complete)
		return init_read(req, resp);
	resp->bare = keys_json(&res);
	if (resp->bare) {
		json_object_set_new(resp->bare, "nonce", json_string(field_string(req, "nonce")));
		json_object_set_new(resp->bare, "complete", json_true());
		json_object_set_new(resp->bare, "pgp_fingerprints", json_null());
		json_object_set_new(resp->bare, "backup", json_false());
		json_object_set_new(resp->bare, "verification_required",
		                    json_boolean(res.verification_required));
		if (res.verification_required)
			json_object_set_new(resp->bare, "verification_nonce",
			                    json_string(res.verification_nonce));
	}
	rekey_result_release(&res);
	return resp->bare ? 0 : TROVE_ERR_NOMEM;
}

/* --- verification -------------------------------------------------------- */

static int verify_read(struct request *req, struct response *resp)
{
	struct rekey_status st;
	int r;

	if (kind_refused(req, resp) != 0)
		return TROVE_ERR_INVALID;
	if ((r = read_status(req, resp, &st)) != 0)
		return r;
	if (!st.started)
		return response_error(resp, TROVE_ERR_INVALID, "no rekey in progress");
	if (!st.verifying)
		return response_error(resp, TROVE_ERR_INVALID, "no rekey verification in progress");
	resp->bare = json_pack("{s:b, s:s, s:i, s:i, s:i}", "started", 1, "nonce", st.verify_nonce, "t",
	                       (int)st.t, "n", (int)st.n, "progress", (int)st.verify_progress);
	return resp->bare ? 0 : TROVE_ERR_NOMEM;
}

static int verify_delete(struct request *req, struct response *resp)
{
	struct buf err;
	int r;

	if (kind_refused(req, resp) != 0)
		return TROVE_ERR_INVALID;
	buf_init(&err, 256);
	if ((r = rekey_verify_restart(core_rekey(req->core), &err)) != 0)
		return fail(resp, r, &err);
	buf_release(&err);
	return verify_read(req, resp);
}

static int verify_write(struct request *req, struct response *resp)
{
	unsigned char key[256];
	size_t klen = 0;
	bool complete = false;
	struct buf err;
	int r;

	if (kind_refused(req, resp) != 0)
		return TROVE_ERR_INVALID;
	if (sys_key_field(req, resp, key, sizeof(key), &klen) != 0)
		return TROVE_ERR_INVALID;
	buf_init(&err, 256);
	r = rekey_verify_update(core_rekey(req->core), key, klen, field_string(req, "nonce"), &complete,
	                        &err);
	secure_wipe(key, sizeof(key));
	if (r != 0)
		return fail(resp, r, &err);
	buf_release(&err);
	if (!complete)
		return verify_read(req, resp);
	resp->bare = json_pack("{s:s, s:b}", "nonce", field_string(req, "nonce"), "complete", 1);
	return resp->bare ? 0 : TROVE_ERR_NOMEM;
}

/* --- backup -------------------------------------------------------------- */

static int backup_any(struct request *req, struct response *resp)
{
	(void)req;
	return response_error(
	    resp, TROVE_ERR_INVALID,
	    "backup: a backup of PGP-encrypted key shares is unsupported, so there is none");
}

static const struct field init_fields[] = {
    {.name = "secret_shares",
     .type = FIELD_INT,
     .description = "number of shares to split the new unseal key into"},
    {.name = "secret_threshold", .type = FIELD_INT, .description = "number of new shares needed to unseal"},
    {.name = "require_verification",
     .type = FIELD_BOOL,
     .def = "false",
     .description = "the new shares take effect only once given back"},
    {.name = "pgp_keys", .type = FIELD_STRLIST, .description = "unsupported"},
    {.name = "backup", .type = FIELD_BOOL, .def = "false", .description = "unsupported"},
    {.name = "stored_shares", .type = FIELD_INT, .description = "unsupported (auto-unseal only)"},
    {0},
};

static const struct field share_fields[] = {
    {.name = "key", .type = FIELD_STRING, .description = "one key share, hex or base64", .sensitive = true},
    {.name = "nonce", .type = FIELD_STRING, .description = "the operation's nonce"},
    {0},
};

#define SPECIAL (ROUTE_UNAUTH | ROUTE_SEALED_OK | ROUTE_NO_AUDIT)

const struct route sys_rekey_routes[] = {
    {.pattern = "rekey/init",
     .ops = {[OP_READ] = init_read, [OP_UPDATE] = init_write, [OP_DELETE] = init_delete},
     .fields = init_fields,
     .flags = SPECIAL | ROUTE_LOOP_READS,
     .synopsis = "start, read or cancel a rekey of the unseal key"},
    {.pattern = "rekey/update",
     .ops = {[OP_UPDATE] = update_write},
     .fields = share_fields,
     .flags = SPECIAL,
     .synopsis = "give one current key share to the rekey"},
    {.pattern = "rekey/verify",
     .ops = {[OP_READ] = verify_read, [OP_UPDATE] = verify_write, [OP_DELETE] = verify_delete},
     .fields = share_fields,
     .flags = SPECIAL,
     .synopsis = "give one new key share to verify the rekey"},
    {.pattern = "rekey-recovery-key/init",
     .ops = {[OP_READ] = init_read, [OP_UPDATE] = init_write, [OP_DELETE] = init_delete},
     .fields = init_fields,
     .flags = SPECIAL | ROUTE_LOOP_READS,
     .synopsis = "start, read or cancel a rekey of the recovery key (auto seal)"},
    {.pattern = "rekey-recovery-key/update",
     .ops = {[OP_UPDATE] = update_write},
     .fields = share_fields,
     .flags = SPECIAL,
     .synopsis = "give one current recovery key share to the rekey"},
    {.pattern = "rekey-recovery-key/verify",
     .ops = {[OP_READ] = verify_read, [OP_UPDATE] = verify_write, [OP_DELETE] = verify_delete},
     .fields = share_fields,
     .flags = SPECIAL,
     .synopsis = "give one new recovery key share to verify the rekey"},
    {.pattern = "rekey/backup",
     .ops = {[OP_READ] = backup_any, [OP_DELETE] = backup_any},
     .flags = SPECIAL | ROUTE_LOOP_READS,
     .synopsis = "unsupported: the backup of PGP-encrypted shares"},
    {0},
};
