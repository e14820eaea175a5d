/* sys.c — the sys/ engine, part one: initialisation, the seal, health,
 * leader and the barrier keyring.
 *
 * init, seal-status, unseal, health and leader are Vault's "special"
 * handlers: they answer while sealed, their replies are bare JSON objects
 * rather than the envelope, and they are never audited. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engines.h"

#include "core/barrier.h"
#include "core/core.h"
#include "core/ha.h"
#include "encoding.h"
#include "err.h"
#include "log.h"
#include "secure.h"
#include "trove_version.h"
#include "timefmt.h"

#include "banned.h"

/* The Vault API level Trove implements, reported where Vault reports its
 * version: clients (the Terraform provider) choose APIs from it. */
#define API_VERSION "1.17.0"

static json_t *seal_status_json(const struct seal_status *st)
{
	json_t *j = json_pack("{s:s, s:b, s:b, s:i, s:i, s:i, s:s, s:s, s:s, s:s, s:b, s:b, s:s}", "type",
			      st->type ? st->type : "shamir",
			      "initialized", st->initialized, "sealed", st->sealed, "t", (int)st->threshold, "n",
			      (int)st->shares, "progress", (int)st->progress, "nonce", st->nonce, "version",
			      API_VERSION, "trove_version", TROVE_VERSION, "build_date", "", "migration", st->migration,
			      "recovery_seal", st->recovery_seal, "storage_type", st->storage_type ? st->storage_type : "");
	if (j && st->recovery_seal)
		json_object_set_new(j, "recovery_seal_type", json_string("shamir"));
	if (j && !st->sealed) {
		json_object_set_new(j, "cluster_name", json_string(st->cluster_name));
		json_object_set_new(j, "cluster_id", json_string(st->cluster_id));
	}
	return j;
}

static int status_reply(struct request *req, struct response *resp)
{
	struct seal_status st;
	int r = core_seal_status(req->core, &st);
	if (r != 0)
		return r;
	resp->bare = seal_status_json(&st);
	return 0;
}

/* --- sys/init ----------------------------------------------------------- */

static int init_read(struct request *req, struct response *resp)
{
	bool init = false;
	int r = core_initialized(req->core, &init);
	if (r != 0)
		return r;
	resp->bare = json_pack("{s:b}", "initialized", init);
	return 0;
}

/* The shares as {"<name>": [hex...], "<name>_base64": [b64...]} members of out. */
static void add_shares(json_t *out, const char *name, const struct core_init_result *res)
{
	json_t *hex = json_array(), *b64 = json_array();
	for (size_t i = 0; res && i < res->nkeys; i++) {
		char h[2 * 64 + 1];
		char b[128];
		hex_encode(res->keys[i], res->key_len, h);
		base64_encode(res->keys[i], res->key_len, b);
		json_array_append_new(hex, json_string(h));
		json_array_append_new(b64, json_string(b));
		secure_wipe(h, sizeof(h));
		secure_wipe(b, sizeof(b));
	}
	char key[64];
	snprintf(key, sizeof(key), "%s_base64", name);
	json_object_set_new(out, name, hex);
	json_object_set_new(out, key, b64);
}

/* Init with an auto seal (Vault's form): recovery shares instead of unseal
 * keys, keys and keys_base64 empty, and the server unsealed. */
static int init_recovery(struct request *req, struct response *resp)
{
	struct core_init_result res;
	struct buf err;
	int r;

	if (json_array_size(json_object_get(req->data, "recovery_pgp_keys")) > 0)
		return response_error(resp, TROVE_ERR_INVALID,
				      "recovery_pgp_keys: PGP encryption of recovery keys is unsupported");
	if (!field_present(req, "recovery_shares") || !field_present(req, "recovery_threshold"))
		return response_error(resp, TROVE_ERR_INVALID,
				      "recovery_shares and recovery_threshold are required with an auto seal");
	int64_t shares = field_int(req, "recovery_shares"), threshold = field_int(req, "recovery_threshold");
	if (shares < 1 || shares > 255 || threshold < 1 || threshold > shares)
		return response_error(resp, TROVE_ERR_INVALID,
				      "recovery_shares: must be between 1 and 255, and recovery_threshold between 1 "
				      "and recovery_shares");
	buf_init(&err, 512);
	r = core_initialize_recovery(req->core, (unsigned)shares, (unsigned)threshold, NULL, &res, &err);
	if (r != 0) {
		response_error(resp, r, "%s", err.len ? err.data : err_message(r));
		buf_release(&err);
		return r;
	}
	buf_release(&err);
	resp->bare = json_pack("{s:s}", "root_token", res.root_token);
	if (resp->bare) {
		add_shares(resp->bare, "keys", NULL);
		add_shares(resp->bare, "recovery_keys", &res);
	}
	core_init_result_release(&res);
	return resp->bare ? 0 : TROVE_ERR_NOMEM;
}

static int init_write(struct request *req, struct response *resp)
{
	struct core_init_result res;
	struct buf err;
	int r;

	if (field_present(req, "pgp_keys") && json_array_size(json_object_get(req->data, "pgp_keys")) > 0)
		return response_error(resp, TROVE_ERR_INVALID, "pgp_keys: PGP encryption of key shares is unsupported");
	if (field_string(req, "root_token_pgp_key")[0])
		return response_error(resp, TROVE_ERR_INVALID,
				      "root_token_pgp_key: PGP encryption of the root token is unsupported");
	if (core_has_autoseal(req->core))
		return init_recovery(req, resp);
	if (field_present(req, "recovery_shares") || field_present(req, "recovery_threshold"))
		if (field_int(req, "recovery_shares") != 0 || field_int(req, "recovery_threshold") != 0)
			return response_error(resp, TROVE_ERR_INVALID,
					      "recovery_shares: recovery keys need an auto-unseal seal, which this "
					      "server does not have");
	if (field_present(req, "stored_shares") && field_int(req, "stored_shares") != 0)
		return response_error(resp, TROVE_ERR_INVALID, "stored_shares: stored shares need an auto-unseal seal");
	if (!field_present(req, "secret_shares") || !field_present(req, "secret_threshold"))
		return response_error(resp, TROVE_ERR_INVALID,
				      "secret_shares and secret_threshold are required");
	int64_t shares = field_int(req, "secret_shares"), threshold = field_int(req, "secret_threshold");

	buf_init(&err, 512);
	/* Checked before the casts to unsigned narrow the values. */
	if ((r = core_seal_config_check(shares, threshold, &err)) == 0)
		r = core_initialize(req->core, (unsigned)shares, (unsigned)threshold, NULL, &res, &err);
	if (r != 0) {
		if (err.len)
			response_error(resp, r, "%s", err.data);
		buf_release(&err);
		return r;
	}
	buf_release(&err);
	resp->bare = json_pack("{s:s}", "root_token", res.root_token);
	if (resp->bare)
		add_shares(resp->bare, "keys", &res);
	core_init_result_release(&res);
	return resp->bare ? 0 : TROVE_ERR_NOMEM;
}

/* --- sys/unseal, sys/seal ------------------------------------------------ */

int sys_key_share_decode(const char *s, unsigned char *out, size_t cap, size_t *len)
{
	size_t n = strlen(s);
	if (hex_decode(s, n, out, cap, len) == 0)
		return 0;
	return base64_decode(s, n, out, cap, len);
}

int sys_key_field(struct request *req, struct response *resp, unsigned char *out, size_t cap, size_t *len)
{
	const char *k = field_string(req, "key");
	if (!k[0])
		return response_error(resp, TROVE_ERR_INVALID, "'key' must be specified in request body as JSON");
	if (sys_key_share_decode(k, out, cap, len) != 0)
		return response_error(resp, TROVE_ERR_INVALID, "'key' must be a valid hex or base64 string");
	return 0;
}

static int unseal_write(struct request *req, struct response *resp)
{
	struct seal_status st;
	unsigned char key[256];
	size_t klen = 0;
	struct buf err;
	int r;

	if (field_bool(req, "reset")) {
		r = core_unseal_reset(req->core);
		if (r == TROVE_ERR_INVALID)
			return response_error(resp, r, "vault is unsealed");
		if (r != 0)
			return r;
		return status_reply(req, resp);
	}
	const char *k = field_string(req, "key");
	if (!k[0])
		return response_error(resp, TROVE_ERR_INVALID,
				      "'key' must be specified in request body as JSON, or 'reset' set to true");
	if (sys_key_share_decode(k, key, sizeof(key), &klen) != 0)
		return response_error(resp, TROVE_ERR_INVALID, "'key' must be a valid hex or base64 string");

	buf_init(&err, 512);
	if (field_bool(req, "migrate"))
		r = core_unseal_migrate(req->core, key, klen, &st, &err);
	else
		r = core_unseal(req->core, key, klen, &st, &err);
	secure_wipe(key, sizeof(key));
	if (r != 0) {
		response_error(resp, r, "%s", err.len ? err.data : err_message(r));
		buf_release(&err);
		return r;
	}
	buf_release(&err);
	resp->bare = seal_status_json(&st);
	return 0;
}

static int seal_write(struct request *req, struct response *resp)
{
	(void)resp;
	return core_seal(req->core);
}

/* --- sys/health ---------------------------------------------- */

static int code_field(struct request *req, const char *name, int def, int *out)
{
	if (!field_present(req, name)) {
		*out = def;
		return 0;
	}
	int64_t v = field_int(req, name);
	if (v < 100 || v > 599)
		return TROVE_ERR_INVALID;
	*out = (int)v;
	return 0;
}

static int health_read(struct request *req, struct response *resp)
{
	static const struct {
		const char *name;
		int def;
	} codes[] = {
		{ "activecode", 200 },        { "standbycode", 429 }, { "drsecondarycode", 472 },
		{ "performancestandbycode", 473 }, { "sealedcode", 503 }, { "uninitcode", 501 },
	};
	int vals[6];
	struct seal_status st;
	int r;

	for (size_t i = 0; i < 6; i++)
		if (code_field(req, codes[i].name, codes[i].def, &vals[i]) != 0)
			return response_error(resp, TROVE_ERR_INVALID, "%s: must be an HTTP status code (100-599)",
					      codes[i].name);
	if ((r = core_seal_status(req->core, &st)) != 0)
		return r;
	/* Under HA a node that is not active is a standby (one serving
	 * reads is a performance standby); standbyok and perfstandbyok
	 * answer those with the active code instead. */
	enum ha_role role = ha_role(core_ha(req->core));
	bool standby = role == HA_ROLE_STANDBY || role == HA_ROLE_STEPPING_DOWN;
	bool perf = standby && ha_standby_reads(core_ha(req->core));

	if (!st.initialized)
		resp->status = vals[5];
	else if (st.sealed)
		resp->status = vals[4];
	else if (perf)
		resp->status = field_bool(req, "perfstandbyok") ? vals[0] : vals[3];
	else if (standby)
		resp->status = field_bool(req, "standbyok") ? vals[0] : vals[1];
	else
		resp->status = vals[0];
	resp->bare = json_pack("{s:b, s:b, s:b, s:b, s:s, s:s, s:I, s:s, s:b, s:i, s:i}", "initialized",
			       st.initialized, "sealed", st.sealed, "standby", standby && !st.sealed,
			       "performance_standby", perf && !st.sealed,
			       "replication_performance_mode", "disabled", "replication_dr_mode", "disabled",
			       "server_time_utc", (json_int_t)time(NULL), "version", API_VERSION, "enterprise", 0,
			       "echo_duration_ms", 0, "clock_skew_ms", 0);
	if (resp->bare && !st.sealed && st.initialized) {
		json_object_set_new(resp->bare, "cluster_name", json_string(st.cluster_name));
		json_object_set_new(resp->bare, "cluster_id", json_string(st.cluster_id));
	}
	return 0;
}

/* --- sys/key-status, sys/rotate ------------------------------------------ */

static int key_status_read(struct request *req, struct response *resp)
{
	struct barrier_key_status ks;
	char when[TIME_TEXT_MAX];
	int r = barrier_key_status(core_barrier(req->core), &ks);
	if (r != 0)
		return r;
	time_rfc3339(ks.install_time, when);
	response_set_data(resp, json_pack("{s:i, s:s, s:I}", "term", (int)ks.term, "install_time", when,
					  "encryptions", (json_int_t)ks.encryptions));
	resp->inject_data = true;
	return 0;
}

static int rotate_write(struct request *req, struct response *resp)
{
	(void)resp;
	int r = barrier_rotate(core_barrier(req->core));
	if (r == 0)
		log_info("barrier key rotated");
	return r;
}

static const struct field init_fields[] = {
    {.name = "secret_shares",
     .type = FIELD_INT,
     .description = "number of key shares to split the unseal key into"},
    {.name = "secret_threshold", .type = FIELD_INT, .description = "number of shares needed to unseal"},
    {.name = "pgp_keys", .type = FIELD_STRLIST, .description = "unsupported"},
    {.name = "root_token_pgp_key", .type = FIELD_STRING, .description = "unsupported"},
    {.name = "recovery_shares",
     .type = FIELD_INT,
     .description = "auto seal only: number of shares to split the recovery key into"},
    {.name = "recovery_threshold",
     .type = FIELD_INT,
     .description = "auto seal only: number of recovery shares needed"},
    {.name = "recovery_pgp_keys", .type = FIELD_STRLIST, .description = "unsupported"},
    {.name = "stored_shares", .type = FIELD_INT, .description = "unsupported (auto-unseal only)"},
    {0},
};

static const struct field unseal_fields[] = {
    {.name = "key", .type = FIELD_STRING, .description = "one unseal key share, hex or base64", .sensitive = true},
    {.name = "reset",
     .type = FIELD_BOOL,
     .def = "false",
     .description = "discard the shares submitted so far"},
    {.name = "migrate", .type = FIELD_BOOL, .def = "false", .description = "complete a pending seal migration with these keys"},
    {0},
};

static const struct field health_fields[] = {
    {.name = "standbyok",
     .type = FIELD_BOOL,
     .def = "false",
     .description = "a standby answers with the active code"},
    {.name = "perfstandbyok",
     .type = FIELD_BOOL,
     .def = "false",
     .description = "a performance standby answers with the active code"},
    {.name = "activecode", .type = FIELD_INT, .def = "200", .description = "status when active"},
    {.name = "standbycode", .type = FIELD_INT, .def = "429", .description = "status when standby"},
    {.name = "drsecondarycode", .type = FIELD_INT, .def = "472", .description = "status for a DR secondary"},
    {.name = "performancestandbycode",
     .type = FIELD_INT,
     .def = "473",
     .description = "status for a performance standby"},
    {.name = "sealedcode", .type = FIELD_INT, .def = "503", .description = "status when sealed"},
    {.name = "uninitcode", .type = FIELD_INT, .def = "501", .description = "status when not initialised"},
    {0},
};

#define SPECIAL (ROUTE_UNAUTH | ROUTE_SEALED_OK | ROUTE_NO_AUDIT)

static const struct route sys_routes[] = {
    {.pattern = "init",
     .ops = {[OP_READ] = init_read, [OP_UPDATE] = init_write},
     .fields = init_fields,
     .flags = SPECIAL,
     .synopsis = "initialise a new server"},
    {.pattern = "seal-status",
     .ops = {[OP_READ] = status_reply},
     .flags = SPECIAL | ROUTE_LOOP_READS,
     .synopsis = "seal state and unseal progress"},
    {.pattern = "unseal",
     .ops = {[OP_UPDATE] = unseal_write},
     .fields = unseal_fields,
     .flags = SPECIAL,
     .synopsis = "submit one unseal key share"},
    {.pattern = "seal",
     .ops = {[OP_UPDATE] = seal_write},
     .flags = ROUTE_SUDO | ROUTE_NO_AUDIT,
     .synopsis = "seal the server"},
    {.pattern = "health",
     .ops = {[OP_READ] = health_read, [OP_HEAD] = health_read},
     .fields = health_fields,
     .flags = SPECIAL | ROUTE_LOOP_READS,
     .synopsis = "health for load balancers"},
    {.pattern = "key-status",
     .ops = {[OP_READ] = key_status_read},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "the active barrier key term"},
    {.pattern = "rotate",
     .ops = {[OP_UPDATE] = rotate_write},
     .flags = ROUTE_SUDO,
     .synopsis = "install a new barrier key term"},
    {0},
};

/* sys/policies/password (sys_password_policy.c) */
extern const struct route sys_password_policy_routes[];

static const struct route *const sys_tables[] = {sys_routes,
                                                 sys_rekey_routes,
                                                 sys_generate_root_routes,
                                                 sys_mount_routes,
                                                 sys_policy_routes,
                                                 sys_password_policy_routes,
                                                 sys_audit_routes,
                                                 sys_locked_users_routes,
                                                 token_sys_routes,
                                                 sys_wrapping_routes,
                                                 sys_lease_routes,
                                                 sys_openapi_routes,
                                                 sys_metrics_routes,
                                                 sys_ha_routes,
                                                 NULL};

const struct engine sys_engine = { .type = "system", .tables = sys_tables, .flags = ENGINE_BUILTIN };
