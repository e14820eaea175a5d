/* authz.c — authorizations and challenges (RFC 8555 7.1.4, 7.1.5, 7.5):
 * authorization/:id (read, deactivate), challenge/:authz_id/:type (start
 * validation), and the validation itself, run in the background with
 * retries: a challenge goes pending -> processing -> valid | invalid, and
 * its authorization with it; each state is stored before the next step. */
#include <stdlib.h>
#include <string.h>

#include "acme.h"

#include "challenge.h"
#include "clock.h"
#include "core/background.h"
#include "core/mount.h"
#include "err.h"
#include "timefmt.h"

#include "banned.h"

json_t *acme_challenge_json(const struct acme_ctx *c, const json_t *authz, const json_t *ch)
{
	const char *aid = json_string_value(json_object_get(authz, "id"));
	struct buf b;
	buf_init(&b, STORAGE_MAX_KEY);
	buf_printf(&b, "%s/%s", aid, json_string_value(json_object_get(ch, "type")));
	json_t *o = json_pack("{s:O, s:o, s:O, s:O}", "type", json_object_get(ch, "type"), "url",
	                      acme_url_json(c, "challenge/", b.data), "token", json_object_get(ch, "token"),
	                      "status", json_object_get(ch, "status"));
	buf_release(&b);
	json_int_t validated = json_integer_value(json_object_get(ch, "validated"));
	if (validated > 0) {
		char t[TIME_TEXT_MAX];
		time_rfc3339(validated, t);
		json_object_set_new(o, "validated", json_string(t));
	}
	if (json_object_get(ch, "error"))
		json_object_set(o, "error", json_object_get(ch, "error"));
	return o;
}

json_t *acme_authz_json(const struct acme_ctx *c, const json_t *authz)
{
	char exp[TIME_TEXT_MAX];
	json_t *chs = json_array(), *v;
	size_t i;
	json_array_foreach(json_object_get(authz, "challenges"), i, v)
	    json_array_append_new(chs, acme_challenge_json(c, authz, v));
	time_rfc3339((int64_t)json_integer_value(json_object_get(authz, "expires")), exp);
	json_t *o = json_pack("{s:O, s:O, s:s, s:o}", "identifier", json_object_get(authz, "identifier"),
	                      "status", json_object_get(authz, "status"), "expires", exp, "challenges", chs);
	if (json_is_true(json_object_get(authz, "wildcard")))
		json_object_set_new(o, "wildcard", json_true());
	return o;
}

/* Schedules the challenge's next attempt delay_ms from now and records
 * when it is due (stored by the caller). */
static int attempt_schedule(struct mount *m, json_t *ch, const char *rid, int64_t delay_ms)
{
	json_object_set_new(ch, "due", json_integer(clock_realtime_s() + delay_ms / 1000));
	return acme_validation_schedule(m, rid, json_string_value(json_object_get(ch, "type")), delay_ms);
}

/* A processing challenge whose attempt is overdue by ACME_STALE_S lost
 * its job (a restart, a seal): it is scheduled again. */
static int revive_validations(struct acme_ctx *c, json_t *authz, const char *rid)
{
	int64_t now = clock_realtime_s();
	bool changed = false;
	size_t i;
	json_t *ch;
	json_array_foreach(json_object_get(authz, "challenges"), i, ch)
	{
		if (strcmp(json_string_value(json_object_get(ch, "status")) ?: "", "processing") != 0 ||
		    json_integer_value(json_object_get(ch, "due")) + ACME_STALE_S > now)
			continue;
		if (attempt_schedule(c->req->mount, ch, rid, 0) == 0)
			changed = true;
	}
	return changed ? acme_put(c->req->storage, ACME_AUTHZ_PREFIX, rid, authz) : 0;
}

/* The authorization :authz_id of the signing account (under st->mu); a
 * pending one past its expiry becomes invalid, a lost validation is
 * started again. */
static int authz_load(struct acme_ctx *c, json_t **authz, char rid[ACME_REC_ID_MAX])
{
	acme_rec_id(rid, c->account_id, request_param(c->req, "authz_id"));
	int r = acme_get(c->req->storage, ACME_AUTHZ_PREFIX, rid, authz);
	if (r == TROVE_ERR_NOT_FOUND)
		return acme_problem(c, 404, "malformed", "no such authorization");
	if (r != 0)
		return r;
	const char *st = json_string_value(json_object_get(*authz, "status")) ?: "";
	if (strcmp(st, "pending") == 0 && acme_expired(*authz, clock_realtime_s())) {
		json_object_set_new(*authz, "status", json_string("invalid"));
		r = acme_put(c->req->storage, ACME_AUTHZ_PREFIX, rid, *authz);
	}
	return r ? r : revive_validations(c, *authz, rid);
}

/* Runs op on the authorization :authz_id of the signing account, under
 * st->mu. */
static int with_authz(struct request *req, struct response *resp,
                      int (*op)(struct acme_ctx *c, json_t *authz, const char *rid))
{
	struct acme_ctx c;
	json_t *authz = NULL;
	char rid[ACME_REC_ID_MAX];
	int r;
	if ((r = acme_begin(&c, req, resp, true, false, false)) != 0)
		return acme_end(&c, r);
	pthread_mutex_lock(&c.st->mu);
	if ((r = authz_load(&c, &authz, rid)) == 0)
		r = op(&c, authz, rid);
	pthread_mutex_unlock(&c.st->mu);
	json_decref(authz);
	return acme_end(&c, r);
}

/* Answers the authorization; a payload {"status": "deactivated"}
 * deactivates it first. */
static int authz_op(struct acme_ctx *c, json_t *authz, const char *rid)
{
	int r;
	const char *status = c->payload ? json_string_value(json_object_get(c->payload, "status")) : NULL;
	if (status) {
		if (strcmp(status, "deactivated") != 0)
			return acme_problem(c, 400, "malformed",
			                    "an authorization's status may only become deactivated");
		json_object_set_new(authz, "status", json_string("deactivated"));
		if ((r = acme_put(c->req->storage, ACME_AUTHZ_PREFIX, rid, authz)) != 0)
			return r;
	}
	return acme_reply(c, 200, acme_authz_json(c, authz), NULL);
}

int acme_h_authz(struct request *req, struct response *resp)
{
	return with_authz(req, resp, authz_op);
}

static json_t *challenge_find(json_t *authz, const char *type)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(authz, "challenges"), i,
	                   v) if (strcmp(json_string_value(json_object_get(v, "type")) ?: "", type) ==
	                          0) return v;
	return NULL;
}

/* A payload (even {}) asks to validate a pending challenge; POST-as-GET
 * only reads it. */
static int challenge_op(struct acme_ctx *c, json_t *authz, const char *rid)
{
	const char *type = request_param(c->req, "challenge_type");
	json_t *ch = challenge_find(authz, type);
	int r;
	if (!ch)
		return acme_problem(c, 404, "malformed", "the authorization has no %.16s challenge", type);
	if (c->payload && strcmp(json_string_value(json_object_get(authz, "status")) ?: "", "pending") == 0 &&
	    strcmp(json_string_value(json_object_get(ch, "status")) ?: "", "pending") == 0) {
		json_object_set_new(ch, "status", json_string("processing"));
		if ((r = attempt_schedule(c->req->mount, ch, rid, 0)) != 0)
			return r; /* nothing stored: still pending */
		if ((r = acme_put(c->req->storage, ACME_AUTHZ_PREFIX, rid, authz)) != 0)
			return r;
	}
	char *up = acme_url(c, "authorization/", json_string_value(json_object_get(authz, "id")));
	acme_link(c, up, "up");
	free(up);
	return acme_reply(c, 200, acme_challenge_json(c, authz, ch), NULL);
}

int acme_h_challenge(struct request *req, struct response *resp)
{
	return with_authz(req, resp, challenge_op);
}

/* --- validation, on a worker ---------------------------------------------- */

struct job {
	char rid[ACME_REC_ID_MAX];
	char type[16];
};

static int run_validator(const char *type, const struct acme_validation *v, struct buf *err)
{
	if (strcmp(type, "http-01") == 0)
		return acme_validate_http01(v, err);
	if (strcmp(type, "tls-alpn-01") == 0)
		return acme_validate_tls_alpn01(v, err);
	if (strcmp(type, "dns-01") == 0)
		return acme_validate_dns01(v, err);
	buf_append_str(err, "unknown challenge type");
	return TROVE_ERR_INVALID;
}

/* ACME's error type for a validator's result. */
static const char *problem_type(int r, const char *type)
{
	if (r == TROVE_ERR_PERMISSION)
		return strcmp(type, "dns-01") == 0 ? "unauthorized" : "incorrectResponse";
	if (r == TROVE_ERR_UPSTREAM || r == TROVE_ERR_TIMEOUT)
		return strcmp(type, "dns-01") == 0 ? "dns" : "connection";
	return "malformed";
}

/* The job's challenge (in *authz, the caller's) while it is processing,
 * else NULL. */
static json_t *job_challenge(struct mount *m, const struct job *j, json_t **authz)
{
	if (acme_get(m->view, ACME_AUTHZ_PREFIX, j->rid, authz) != 0)
		return NULL;
	json_t *ch = challenge_find(*authz, j->type);
	if (!ch || strcmp(json_string_value(json_object_get(ch, "status")) ?: "", "processing") != 0)
		return NULL;
	return ch;
}

/* Takes what the validation needs from storage (under st->mu): false
 * when the challenge is no longer processing. */
static bool job_prepare(struct mount *m, const struct job *j, char **id_value, bool *ip, char **token,
                        char **ka, char **resolver)
{
	struct acme_state *st = acme_state(m);
	json_t *authz = NULL, *acct = NULL, *cfg = NULL;
	bool go = false;

	pthread_mutex_lock(&st->mu);
	json_t *ch = job_challenge(m, j, &authz);
	if (!ch)
		goto out;
	if (acme_get(m->view, ACME_ACCOUNT_PREFIX, json_string_value(json_object_get(authz, "account")),
	             &acct) != 0)
		goto out;
	const json_t *ident = json_object_get(authz, "identifier");
	*ip = strcmp(json_string_value(json_object_get(ident, "type")) ?: "", "ip") == 0;
	*id_value = xstrdup(json_string_value(json_object_get(ident, "value")) ?: "");
	if (json_is_true(json_object_get(authz, "wildcard"))) { /* dns-01 validates the base name */
		char *w = xmalloc(strlen(*id_value) + 3);
		memcpy(w, "*.", 2);
		memcpy(w + 2, *id_value, strlen(*id_value) + 1);
		free(*id_value);
		*id_value = w;
	}
	*token = xstrdup(json_string_value(json_object_get(ch, "token")) ?: "");
	*ka = acme_key_authorization(*token, json_string_value(json_object_get(acct, "thumbprint")) ?: "");
	if (acme_config_load(m->view, &cfg) == 0) {
		const char *res = json_string_value(json_object_get(cfg, "dns_resolver"));
		*resolver = res && *res ? xstrdup(res) : NULL;
	}
	go = *ka != NULL;
out:
	pthread_mutex_unlock(&st->mu);
	json_decref(authz);
	json_decref(acct);
	json_decref(cfg);
	return go;
}

/* Records a result (under st->mu), scheduling the next attempt after a
 * failure while tries are left; true when one was scheduled. */
static bool job_record(struct mount *m, const struct job *j, int r, const char *why, int *tries)
{
	struct acme_state *st = acme_state(m);
	json_t *authz = NULL;
	bool again = false;

	pthread_mutex_lock(&st->mu);
	json_t *ch = job_challenge(m, j, &authz);
	if (!ch)
		goto out;
	*tries = (int)json_integer_value(json_object_get(ch, "tries")) + 1;
	json_object_set_new(ch, "tries", json_integer(*tries));
	if (r == 0) {
		json_object_set_new(ch, "status", json_string("valid"));
		json_object_set_new(ch, "validated", json_integer(clock_realtime_s()));
		json_object_set_new(authz, "status", json_string("valid"));
	} else {
		char t[96];
		snprintf(t, sizeof(t), "urn:ietf:params:acme:error:%s", problem_type(r, j->type));
		json_object_set_new(ch, "error", json_pack("{s:s, s:s}", "type", t, "detail", why));
		if (*tries < ACME_VALIDATE_TRIES && r != TROVE_ERR_INVALID &&
		    attempt_schedule(m, ch, j->rid, (int64_t)ACME_RETRY_DELAY_MS << (*tries - 1)) == 0) {
			again = true;
		} else {
			json_object_set_new(ch, "status", json_string("invalid"));
			json_object_set_new(authz, "status", json_string("invalid"));
		}
	}
	acme_put(m->view, ACME_AUTHZ_PREFIX, j->rid, authz);
out:
	pthread_mutex_unlock(&st->mu);
	json_decref(authz);
	return again;
}

static void validate_job(struct mount *m, void *arg)
{
	const struct job *j = arg;
	char *value = NULL, *token = NULL, *ka = NULL, *resolver = NULL;
	bool ip = false;
	struct buf err;
	int tries = 0;

	if (!acme_state(m) || !job_prepare(m, j, &value, &ip, &token, &ka, &resolver))
		goto out;
	struct acme_validation v = {.id_type = ip ? ACME_ID_IP : ACME_ID_DNS,
	                            .identifier = value,
	                            .token = token,
	                            .key_authorization = ka,
	                            .resolver = resolver};
	buf_init(&err, 512);
	int r = run_validator(j->type, &v, &err);
	job_record(m, j, r, err.data, &tries);
	buf_release(&err);
out:
	free(value);
	free(token);
	free(ka);
	free(resolver);
}

int acme_validation_schedule(struct mount *m, const char *rid, const char *type, int64_t delay_ms)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return TROVE_ERR_NOMEM;
	snprintf(j->rid, sizeof(j->rid), "%s", rid);
	snprintf(j->type, sizeof(j->type), "%s", type);
	int r = mount_schedule_at(m, clock_realtime_ns() / 1000000 + delay_ms, validate_job, j, free);
	if (r != 0)
		free(j);
	return r;
}
