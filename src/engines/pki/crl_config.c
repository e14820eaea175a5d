/* crl_config.c — config/crl: how CRLs and OCSP answers are built and
 * when they are rebuilt. Stored as Vault answers it (durations as the
 * strings given), read by pki_crl_config_get for the builders. */
#include <stddef.h>
#include <string.h>

#include "revocation.h"

#include "duration.h"
#include "engines/kv_util.h"
#include "err.h"

#include "banned.h"

/* The duration fields, with Vault's defaults. */
static const struct {
	const char *name, *def;
	size_t offset;
} durations[] = {
    {"expiry", "72h", offsetof(struct pki_crl_config, expiry)},
    {"ocsp_expiry", "12h", offsetof(struct pki_crl_config, ocsp_expiry)},
    {"auto_rebuild_grace_period", "12h", offsetof(struct pki_crl_config, auto_rebuild_grace)},
    {"delta_rebuild_interval", "15m", offsetof(struct pki_crl_config, delta_rebuild_interval)},
};

static const struct {
	const char *name;
	size_t offset;
} flags[] = {
    {"disable", offsetof(struct pki_crl_config, disable)},
    {"ocsp_disable", offsetof(struct pki_crl_config, ocsp_disable)},
    {"auto_rebuild", offsetof(struct pki_crl_config, auto_rebuild)},
    {"enable_delta", offsetof(struct pki_crl_config, enable_delta)},
};

/* Fields Vault has for replication across clusters: false is the only
 * value Trove takes. */
static const char *const unsupported[] = {"cross_cluster_revocation", "unified_crl", "unified_crl_on_existing_paths"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The stored document with every default filled in (a new reference). */
static int config_doc(struct storage *s, json_t **out)
{
	json_t *doc = NULL;
	int r = kv_get_json(s, PKI_CRL_CONFIG, &doc);
	if (r == TROVE_ERR_NOT_FOUND) {
		doc = json_object();
		r = 0;
	}
	if (r != 0)
		return r;
	if (!json_is_object(doc)) {
		json_decref(doc);
		return TROVE_ERR_INTEGRITY;
	}
	for (size_t i = 0; i < N(durations); i++)
		if (!json_is_string(json_object_get(doc, durations[i].name)))
			json_object_set_new(doc, durations[i].name, json_string(durations[i].def));
	for (size_t i = 0; i < N(flags); i++)
		if (!json_is_boolean(json_object_get(doc, flags[i].name)))
			json_object_set_new(doc, flags[i].name, json_false());
	for (size_t i = 0; i < N(unsupported); i++)
		json_object_set_new(doc, unsupported[i], json_false());
	*out = doc;
	return 0;
}

/* Reads doc into cfg; "<field>: <reason>" in why when a duration is bad. */
static int config_parse(const json_t *doc, struct pki_crl_config *cfg, struct buf *why)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N(durations); i++) {
		json_t *v = json_object_get(doc, durations[i].name);
		int64_t secs = 0;
		if (duration_parse_seconds(json_string_value(v), json_string_length(v), &secs) != 0 || secs < 0) {
			buf_printf(why, "%s: not a duration", durations[i].name);
			return TROVE_ERR_INVALID;
		}
		*(int64_t *)((char *)cfg + durations[i].offset) = secs;
	}
	for (size_t i = 0; i < N(flags); i++)
		*(bool *)((char *)cfg + flags[i].offset) = json_is_true(json_object_get(doc, flags[i].name));
	return 0;
}

int pki_crl_config_get(struct storage *s, struct pki_crl_config *out)
{
	json_t *doc = NULL;
	struct buf why;
	buf_init(&why, 256);
	int r = config_doc(s, &doc);
	if (r == 0 && config_parse(doc, out, &why) != 0)
		r = TROVE_ERR_INTEGRITY;
	buf_release(&why);
	json_decref(doc);
	return r;
}

static int crl_config_read(struct request *req, struct response *resp)
{
	json_t *doc = NULL;
	int r = config_doc(req->storage, &doc);
	if (r == 0)
		response_set_data(resp, doc);
	return r;
}

static int crl_config_write(struct request *req, struct response *resp)
{
	struct pki_crl_config before, after;
	json_t *doc = NULL;
	struct buf why;
	int r;

	buf_init(&why, 1024);
	for (size_t i = 0; i < N(unsupported); i++)
		if (field_bool(req, unsupported[i])) {
			r = response_error(resp, TROVE_ERR_INVALID, "%s: not supported (Trove has no replicated clusters)",
					   unsupported[i]);
			goto out;
		}
	if ((r = config_doc(req->storage, &doc)) != 0 || (r = config_parse(doc, &before, &why)) != 0)
		goto out;
	for (size_t i = 0; i < N(durations); i++)
		if (field_present(req, durations[i].name))
			json_object_set_new(doc, durations[i].name, json_string(field_string(req, durations[i].name)));
	for (size_t i = 0; i < N(flags); i++)
		if (field_present(req, flags[i].name))
			json_object_set_new(doc, flags[i].name, json_boolean(field_bool(req, flags[i].name)));
	if ((r = config_parse(doc, &after, &why)) != 0) {
		r = response_error(resp, r, "%s", why.data);
		goto out;
	}
	if (after.enable_delta && !after.auto_rebuild) {
		r = response_error(resp, TROVE_ERR_INVALID,
				   "enable_delta: delta CRLs need auto_rebuild (otherwise every revocation rebuilds "
				   "the full CRL)");
		goto out;
	}
	if (after.auto_rebuild && after.auto_rebuild_grace >= after.expiry) {
		r = response_error(resp, TROVE_ERR_INVALID,
				   "auto_rebuild_grace_period: must be shorter than the CRL expiry");
		goto out;
	}
	if (after.enable_delta && after.delta_rebuild_interval <= 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "delta_rebuild_interval: must be positive");
		goto out;
	}
	for (size_t i = 0; i < N(unsupported); i++)
		json_object_del(doc, unsupported[i]);
	if ((r = kv_put_json(req->storage, PKI_CRL_CONFIG, doc)) != 0)
		goto out;
	/* A change in what the CRL holds or how long it lasts shows at once. */
	if (before.disable != after.disable || before.enable_delta != after.enable_delta ||
	    before.expiry != after.expiry) {
		if ((r = pki_crl_rebuild(req->storage, req->mount, false, &why)) != 0) {
			r = why.len ? response_error(resp, r, "%s", why.data) : r;
			goto out;
		}
	}
	r = crl_config_read(req, resp);
out:
	json_decref(doc);
	buf_release(&why);
	return r;
}

static const struct field crl_config_fields[] = {
    {.name = "expiry", .type = FIELD_STRING, .canon = FIELD_CANON_TRIM, .description = "CRL lifetime (72h)"},
    {.name = "disable", .type = FIELD_BOOL, .description = "build CRLs without entries"},
    {.name = "ocsp_disable", .type = FIELD_BOOL, .description = "turn the OCSP responder off"},
    {.name = "ocsp_expiry", .type = FIELD_STRING, .canon = FIELD_CANON_TRIM,
     .description = "OCSP answer lifetime (12h); 0: no nextUpdate"},
    {.name = "auto_rebuild", .type = FIELD_BOOL, .description = "rebuild CRLs in the background only"},
    {.name = "auto_rebuild_grace_period", .type = FIELD_STRING, .canon = FIELD_CANON_TRIM,
     .description = "rebuild this long before nextUpdate (12h)"},
    {.name = "enable_delta", .type = FIELD_BOOL, .description = "build delta CRLs"},
    {.name = "delta_rebuild_interval", .type = FIELD_STRING, .canon = FIELD_CANON_TRIM,
     .description = "how often pending revocations reach the delta CRL (15m)"},
    {.name = "cross_cluster_revocation", .type = FIELD_BOOL, .description = "not supported"},
    {.name = "unified_crl", .type = FIELD_BOOL, .description = "not supported"},
    {.name = "unified_crl_on_existing_paths", .type = FIELD_BOOL, .description = "not supported"},
    {0},
};

const struct route pki_crl_config_routes[] = {
    {.pattern = "config/crl", .ops = {[OP_READ] = crl_config_read, [OP_UPDATE] = crl_config_write},
     .fields = crl_config_fields, .synopsis = "how CRLs and OCSP answers are built"},
    {0},
};
