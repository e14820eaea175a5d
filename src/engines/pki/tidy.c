/* tidy.c — removing what has expired: certificates past their notAfter
 * plus safety_buffer (certs/, revoked/), and issuers past theirs plus
 * issuer_safety_buffer; re-linking revoked certificates to their issuer;
 * with tidy_acme, ACME orders, accounts and EAB keys (acme_tidy).
 * tidy starts one run in the background (mount_schedule_at), tidy-status
 * and tidy-cancel watch and stop it, config/auto-tidy runs it from the
 * engine's periodic job. One run per mount at a time, as in Vault. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "revocation.h"

#include "acme/acme.h"

#include "clock.h"
#include "core/background.h"
#include "core/mount.h"
#include "duration.h"
#include "engines/kv_util.h"
#include "err.h"
#include "log.h"
#include "timefmt.h"

#include "banned.h"

static const char *const bool_fields[] = {"tidy_cert_store", "tidy_revoked_certs",
					  "tidy_revoked_cert_issuer_associations", "tidy_expired_issuers",
					  "tidy_move_legacy_ca_bundle", "tidy_acme"};
#define N_BOOLS (sizeof(bool_fields) / sizeof(bool_fields[0]))

struct tidy_params {
	bool ops[N_BOOLS]; /* in bool_fields' order */
	int64_t safety_buffer, issuer_safety_buffer, acme_account_safety_buffer;
	int64_t pause_ns;
};

struct pki_tidy_status {
	json_t *params; /* the run's settings, as answered */
	const char *state;
	char error[256];
	int64_t started, finished;
	int64_t cert_store_deleted, revoked_deleted, missing_issuer, cert_count, revoked_count;
	struct acme_tidy_counts acme;
	atomic_bool cancel;
};

void pki_tidy_status_free(struct pki_tidy_status *t)
{
	if (!t)
		return;
	json_decref(t->params);
	free(t);
}

/* Vault's defaults, then what doc holds. */
static json_t *params_defaults(void)
{
	return json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:i, s:s}", "tidy_cert_store", 0,
			 "tidy_revoked_certs", 0, "tidy_revoked_cert_issuer_associations", 0, "tidy_expired_issuers",
			 0, "tidy_move_legacy_ca_bundle", 0, "tidy_acme", 0, "safety_buffer", 72 * 3600,
			 "issuer_safety_buffer", 365 * 24 * 3600, "acme_account_safety_buffer", 30 * 24 * 3600,
			 "pause_duration", "0s");
}

/* Lays the request's tidy fields over doc; 400 naming a bad one. */
static int params_apply(struct request *req, json_t *doc, struct response *resp)
{
	for (size_t i = 0; i < N_BOOLS; i++)
		if (field_present(req, bool_fields[i]))
			json_object_set_new(doc, bool_fields[i], json_boolean(field_bool(req, bool_fields[i])));
	static const char *const buffers[] = {"safety_buffer", "issuer_safety_buffer", "acme_account_safety_buffer"};
	for (size_t i = 0; i < 3; i++) {
		if (!field_present(req, buffers[i]))
			continue;
		int64_t v = field_int(req, buffers[i]);
		if (v < 1)
			return response_error(resp, TROVE_ERR_INVALID, "%s: must be at least one second", buffers[i]);
		json_object_set_new(doc, buffers[i], json_integer(v));
	}
	if (field_present(req, "pause_duration")) {
		const char *p = field_string(req, "pause_duration");
		int64_t ns;
		if (duration_parse_ns(p, strlen(p), &ns) != 0 || ns < 0 || ns > INT64_C(600) * 1000000000)
			return response_error(resp, TROVE_ERR_INVALID, "pause_duration: not a duration up to 10m");
		json_object_set_new(doc, "pause_duration", json_string(p));
	}
	return 0;
}

static void params_parse(const json_t *doc, struct tidy_params *p)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < N_BOOLS; i++)
		p->ops[i] = json_is_true(json_object_get(doc, bool_fields[i]));
	p->safety_buffer = json_integer_value(json_object_get(doc, "safety_buffer"));
	p->issuer_safety_buffer = json_integer_value(json_object_get(doc, "issuer_safety_buffer"));
	p->acme_account_safety_buffer = json_integer_value(json_object_get(doc, "acme_account_safety_buffer"));
	json_t *pd = json_object_get(doc, "pause_duration");
	if (duration_parse_ns(json_string_value(pd), json_string_length(pd), &p->pause_ns) != 0)
		p->pause_ns = 0;
}

/* Whether the run does anything (tidy_move_legacy_ca_bundle has nothing
 * to move: Trove never kept Vault's legacy bundle). */
static bool params_any(const struct tidy_params *p)
{
	return p->ops[0] || p->ops[1] || p->ops[2] || p->ops[3] || p->ops[5];
}

struct run {
	struct mount *m;
	struct storage *s;
	struct pki_rev_state *st; /* NULL: no status kept (a test without a mount) */
	struct tidy_params p;
	int64_t now;
};

static bool cancelled(struct run *run)
{
	return run->st && atomic_load(&run->st->tidy->cancel);
}

static void pause_between(const struct run *run)
{
	if (run->p.pause_ns <= 0)
		return;
	struct timespec ts = {.tv_sec = run->p.pause_ns / 1000000000, .tv_nsec = run->p.pause_ns % 1000000000};
	nanosleep(&ts, NULL);
}

static void count(struct run *run, int64_t *field)
{
	if (!run->st)
		return;
	pthread_mutex_lock(&run->st->tidy_lock);
	(*field)++;
	pthread_mutex_unlock(&run->st->tidy_lock);
}

static int64_t *counter(struct run *run, size_t which)
{
	static int64_t sink;
	if (!run->st)
		return &sink;
	int64_t *f[] = {&run->st->tidy->cert_store_deleted, &run->st->tidy->revoked_deleted,
			&run->st->tidy->missing_issuer, &run->st->tidy->cert_count, &run->st->tidy->revoked_count};
	return f[which];
}
enum { C_CERT_DELETED, C_REVOKED_DELETED, C_MISSING_ISSUER, C_CERT_COUNT, C_REVOKED_COUNT };

static int64_t record_not_after(const json_t *rec)
{
	const char *pem = json_string_value(json_object_get(rec, "certificate")) ?: "";
	X509 *c = NULL;
	if (x509_cert_from_pem(pem, strlen(pem), &c) != 0)
		return -1;
	int64_t na = x509_not_after(c);
	X509_free(c);
	return na;
}

static int tidy_cert_store(struct run *run)
{
	struct strlist keys;
	int r;
	strlist_init(&keys);
	if ((r = storage_list(run->s, PKI_CERT_PREFIX, &keys)) != 0)
		goto out;
	for (size_t i = 0; i < keys.len && !cancelled(run); i++) {
		struct buf key;
		json_t *rec = NULL;
		count(run, counter(run, C_CERT_COUNT));
		buf_init(&key, STORAGE_MAX_KEY);
		buf_printf(&key, PKI_CERT_PREFIX "%s", keys.items[i]);
		if (kv_get_json(run->s, key.data, &rec) == 0) {
			int64_t na = record_not_after(rec);
			if (na >= 0 && na + run->p.safety_buffer < run->now && storage_delete(run->s, key.data) == 0)
				count(run, counter(run, C_CERT_DELETED));
		}
		json_decref(rec);
		buf_release(&key);
		pause_between(run);
	}
out:
	strlist_release(&keys);
	return r;
}

/* The id of the issuer whose certificate signed the record's, or "". */
static void find_issuer(struct storage *s, const json_t *rec, char id[PKI_ID_MAX])
{
	const char *pem = json_string_value(json_object_get(rec, "certificate")) ?: "";
	X509 *c = NULL;
	id[0] = '\0';
	if (x509_cert_from_pem(pem, strlen(pem), &c) == 0 && pki_issuer_of(s, c, id) != 0)
		id[0] = '\0';
	X509_free(c);
}

/* revoked/: entries past notAfter + safety_buffer go (with their certs/
 * twin), entries whose issuer is unknown are linked again. *changed: a
 * CRL rebuild is due. */
static int tidy_revoked(struct run *run, bool *changed)
{
	struct strlist keys, ids;
	int r;
	strlist_init(&keys);
	strlist_init(&ids);
	if ((r = storage_list(run->s, PKI_REVOKED_PREFIX, &keys)) != 0 || (r = pki_issuer_ids(run->s, &ids)) != 0)
		goto out;
	for (size_t i = 0; i < keys.len && !cancelled(run); i++) {
		struct buf key, cert_key;
		json_t *rec = NULL;
		count(run, counter(run, C_REVOKED_COUNT));
		buf_init(&key, STORAGE_MAX_KEY);
		buf_init(&cert_key, STORAGE_MAX_KEY);
		buf_printf(&key, PKI_REVOKED_PREFIX "%s", keys.items[i]);
		buf_printf(&cert_key, PKI_CERT_PREFIX "%s", keys.items[i]);
		if (kv_get_json(run->s, key.data, &rec) != 0)
			goto next;
		const char *issuer = json_string_value(json_object_get(rec, "issuer_id")) ?: "";
		if (run->p.ops[2] && !strlist_contains(&ids, issuer)) {
			char found[PKI_ID_MAX];
			find_issuer(run->s, rec, found);
			if (!found[0]) {
				count(run, counter(run, C_MISSING_ISSUER));
			} else {
				json_object_set_new(rec, "issuer_id", json_string(found));
				if (kv_put_json(run->s, key.data, rec) == 0)
					*changed = true;
			}
		}
		int64_t na = record_not_after(rec);
		if (run->p.ops[1] && na >= 0 && na + run->p.safety_buffer < run->now &&
		    storage_delete(run->s, key.data) == 0) {
			storage_delete(run->s, cert_key.data);
			count(run, counter(run, C_REVOKED_DELETED));
			*changed = true;
		}
	next:
		json_decref(rec);
		buf_release(&key);
		buf_release(&cert_key);
		pause_between(run);
	}
out:
	strlist_release(&ids);
	strlist_release(&keys);
	return r;
}

/* Issuers past notAfter + issuer_safety_buffer go, but never the
 * default one; their keys stay (a key may back another issuer). */
static int tidy_issuers(struct run *run, bool *changed)
{
	struct strlist ids;
	json_t *cfg = NULL;
	int r;
	strlist_init(&ids);
	if ((r = pki_issuer_ids(run->s, &ids)) != 0 || (r = pki_issuers_config_get(run->s, &cfg)) != 0)
		goto out;
	const char *def = json_string_value(json_object_get(cfg, "default")) ?: "";
	for (size_t i = 0; i < ids.len && !cancelled(run); i++) {
		json_t *rec = NULL;
		if (strcmp(ids.items[i], def) != 0 && pki_issuer_get(run->s, ids.items[i], &rec) == 0) {
			int64_t na = record_not_after(rec);
			if (na >= 0 && na + run->p.issuer_safety_buffer < run->now) {
				struct buf key;
				buf_init(&key, STORAGE_MAX_KEY);
				buf_printf(&key, PKI_ISSUER_PREFIX "%s", ids.items[i]);
				if (storage_delete(run->s, key.data) == 0) {
					log_info("pki tidy removed an expired issuer", "issuer_id", ids.items[i]);
					*changed = true;
					/* its CRLs go with it */
					buf_reset(&key);
					buf_printf(&key, PKI_CRL_PREFIX "%s", ids.items[i]);
					storage_delete(run->s, key.data);
					buf_append_str(&key, "-delta");
					storage_delete(run->s, key.data);
				}
				buf_release(&key);
			}
		}
		json_decref(rec);
	}
out:
	json_decref(cfg);
	strlist_release(&ids);
	return r;
}

static void run_tidy(struct run *run)
{
	bool changed = false;
	struct buf why;
	int r = 0;

	buf_init(&why, 1024);
	run->now = clock_realtime_s();
	if (run->p.ops[0])
		r = tidy_cert_store(run);
	if (r == 0 && (run->p.ops[1] || run->p.ops[2]))
		r = tidy_revoked(run, &changed);
	if (r == 0 && run->p.ops[3])
		r = tidy_issuers(run, &changed);
	if (r == 0 && run->p.ops[5] && !cancelled(run)) {
		struct acme_tidy_counts sink = {0};
		r = acme_tidy(run->s, acme_state(run->m), run->now, run->p.safety_buffer,
			      run->p.acme_account_safety_buffer, run->st ? &run->st->tidy->acme : &sink,
			      run->st ? &run->st->tidy_lock : NULL, run->st ? &run->st->tidy->cancel : NULL);
	}
	if (r == 0 && changed)
		r = pki_crl_rebuild(run->s, run->m, false, &why);
	if (run->st) {
		pthread_mutex_lock(&run->st->tidy_lock);
		struct pki_tidy_status *t = run->st->tidy;
		t->finished = clock_realtime_s();
		if (r != 0) {
			t->state = "Error";
			snprintf(t->error, sizeof(t->error), "%s", why.len ? why.data : err_message(r));
		} else {
			t->state = atomic_load(&t->cancel) ? "Cancelled" : "Finished";
		}
		pthread_mutex_unlock(&run->st->tidy_lock);
	}
	buf_release(&why);
}

/* Marks a run as started; false when one is running already. */
static bool run_begin(struct pki_rev_state *st, const json_t *doc)
{
	if (!st)
		return true;
	pthread_mutex_lock(&st->tidy_lock);
	bool free_to_run =
	    !st->tidy || (strcmp(st->tidy->state, "Running") != 0 && strcmp(st->tidy->state, "Cancelling") != 0);
	if (free_to_run) {
		pki_tidy_status_free(st->tidy);
		st->tidy = xcalloc(1, sizeof(*st->tidy));
		st->tidy->params = json_deep_copy(doc);
		st->tidy->state = "Running";
		st->tidy->started = clock_realtime_s();
		atomic_init(&st->tidy->cancel, false);
	}
	pthread_mutex_unlock(&st->tidy_lock);
	return free_to_run;
}

static void job(struct mount *m, void *arg)
{
	struct run *run = arg;
	run->m = m;
	run->s = m->view;
	run_tidy(run);
}

static int tidy_start(struct request *req, struct response *resp)
{
	json_t *doc = params_defaults();
	struct run *run = NULL;
	int r;

	if ((r = params_apply(req, doc, resp)) != 0)
		goto out;
	run = xcalloc(1, sizeof(*run));
	params_parse(doc, &run->p);
	if (!params_any(&run->p)) {
		r = response_error(resp, TROVE_ERR_INVALID, "at least one tidy operation must be enabled");
		goto out;
	}
	run->st = pki_rev_state(req->mount);
	if (!run_begin(run->st, doc)) {
		response_warning(resp, "Tidy operation already in progress.");
		resp->status = 202;
		goto out;
	}
	response_warning(resp, "Tidy operation successfully started. Any information from the operation will be "
			       "printed to Trove's server logs.");
	resp->status = 202;
	if (!req->mount) {
		run->s = req->storage;
		run_tidy(run);
		goto out;
	}
	if ((r = mount_schedule_at(req->mount, 0, job, run, free)) != 0) {
		pthread_mutex_lock(&run->st->tidy_lock);
		run->st->tidy->state = "Error";
		snprintf(run->st->tidy->error, sizeof(run->st->tidy->error), "could not schedule the run");
		pthread_mutex_unlock(&run->st->tidy_lock);
		goto out;
	}
	run = NULL;
out:
	free(run);
	json_decref(doc);
	return r;
}

static void set_time(json_t *o, const char *k, int64_t t)
{
	char text[TIME_TEXT_MAX];
	if (!t) {
		json_object_set_new(o, k, json_null());
		return;
	}
	time_rfc3339(t, text);
	json_object_set_new(o, k, json_string(text));
}

static int tidy_status(struct request *req, struct response *resp)
{
	struct pki_rev_state *st = pki_rev_state(req->mount);
	json_t *out = NULL;
	if (!st)
		return response_error(resp, TROVE_ERR_INVALID, "tidy status is kept per mount");
	pthread_mutex_lock(&st->tidy_lock);
	struct pki_tidy_status *t = st->tidy;
	out = t ? json_deep_copy(t->params) : params_defaults();
	if (!t) {
		json_t *v;
		const char *k;
		void *tmp;
		json_object_foreach_safe(out, tmp, k, v) json_object_set_new(out, k, json_null());
	}
	json_object_set_new(out, "state", json_string(t ? t->state : "Inactive"));
	json_object_set_new(out, "error", t && t->error[0] ? json_string(t->error) : json_null());
	set_time(out, "time_started", t ? t->started : 0);
	set_time(out, "time_finished", t ? t->finished : 0);
	json_object_set_new(out, "message", json_null());
	static const char *const counts[] = {"cert_store_deleted_count",   "revoked_cert_deleted_count",
					     "missing_issuer_cert_count",  "current_cert_store_count",
					     "current_revoked_cert_count", "total_acme_account_count",
					     "acme_account_revoked_count", "acme_account_deleted_count",
					     "acme_orders_deleted_count"};
	int64_t vals[] = {t ? t->cert_store_deleted : 0,   t ? t->revoked_deleted : 0,
			  t ? t->missing_issuer : 0,       t ? t->cert_count : 0,
			  t ? t->revoked_count : 0,        t ? t->acme.accounts : 0,
			  t ? t->acme.accounts_revoked : 0, t ? t->acme.accounts_deleted : 0,
			  t ? t->acme.orders_deleted : 0};
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		json_object_set_new(out, counts[i], t ? json_integer(vals[i]) : json_null());
	set_time(out, "last_auto_tidy_finished", st->last_auto_tidy);
	pthread_mutex_unlock(&st->tidy_lock);
	response_set_data(resp, out);
	return 0;
}

static int tidy_cancel(struct request *req, struct response *resp)
{
	struct pki_rev_state *st = pki_rev_state(req->mount);
	bool running = false;
	if (st) {
		pthread_mutex_lock(&st->tidy_lock);
		running = st->tidy && strcmp(st->tidy->state, "Running") == 0;
		if (running) {
			atomic_store(&st->tidy->cancel, true);
			st->tidy->state = "Cancelling";
		}
		pthread_mutex_unlock(&st->tidy_lock);
	}
	if (!running)
		return response_error(resp, TROVE_ERR_INVALID, "Tidy operation cannot be cancelled as none is currently running.");
	return tidy_status(req, resp);
}

/* --- config/auto-tidy --- */

static int auto_doc(struct storage *s, json_t **out)
{
	json_t *doc = NULL, *defs = params_defaults();
	int r = kv_get_json(s, PKI_AUTO_TIDY_CONFIG, &doc);
	if (r == TROVE_ERR_NOT_FOUND) {
		doc = json_object();
		r = 0;
	}
	if (r == 0 && !json_is_object(doc))
		r = TROVE_ERR_INTEGRITY;
	if (r == 0) {
		json_object_update_missing(doc, defs);
		if (!json_is_boolean(json_object_get(doc, "enabled")))
			json_object_set_new(doc, "enabled", json_false());
		if (!json_is_integer(json_object_get(doc, "interval_duration")))
			json_object_set_new(doc, "interval_duration", json_integer(12 * 3600));
		*out = doc;
		doc = NULL;
	}
	json_decref(doc);
	json_decref(defs);
	return r;
}

static int auto_read(struct request *req, struct response *resp)
{
	json_t *doc = NULL;
	int r = auto_doc(req->storage, &doc);
	if (r == 0)
		response_set_data(resp, doc);
	return r;
}

static int auto_write(struct request *req, struct response *resp)
{
	json_t *doc = NULL;
	struct tidy_params p;
	int r;
	if ((r = auto_doc(req->storage, &doc)) != 0 || (r = params_apply(req, doc, resp)) != 0)
		goto out;
	if (field_present(req, "enabled"))
		json_object_set_new(doc, "enabled", json_boolean(field_bool(req, "enabled")));
	if (field_present(req, "interval_duration")) {
		if (field_int(req, "interval_duration") < 1) {
			r = response_error(resp, TROVE_ERR_INVALID, "interval_duration: must be at least one second");
			goto out;
		}
		json_object_set_new(doc, "interval_duration", json_integer(field_int(req, "interval_duration")));
	}
	params_parse(doc, &p);
	if (json_is_true(json_object_get(doc, "enabled")) && !params_any(&p)) {
		r = response_error(resp, TROVE_ERR_INVALID, "Auto-tidy enabled but no tidy operations were requested. "
							    "Enable at least one tidy operation to be run.");
		goto out;
	}
	if ((r = kv_put_json(req->storage, PKI_AUTO_TIDY_CONFIG, doc)) == 0)
		r = auto_read(req, resp);
out:
	json_decref(doc);
	return r;
}

void pki_tidy_periodic(struct mount *m, int64_t now)
{
	struct pki_rev_state *st = pki_rev_state(m);
	json_t *doc = NULL;
	if (!st || auto_doc(m->view, &doc) != 0)
		goto out;
	int64_t interval = json_integer_value(json_object_get(doc, "interval_duration"));
	pthread_mutex_lock(&st->tidy_lock);
	int64_t last = st->last_auto_tidy;
	pthread_mutex_unlock(&st->tidy_lock);
	if (!json_is_true(json_object_get(doc, "enabled")) || now - last < interval)
		goto out;
	struct run run = {.m = m, .s = m->view, .st = st};
	params_parse(doc, &run.p);
	if (!params_any(&run.p) || !run_begin(st, doc))
		goto out;
	log_info("pki auto-tidy started", "mount", m->path);
	run_tidy(&run);
	pthread_mutex_lock(&st->tidy_lock);
	st->last_auto_tidy = clock_realtime_s();
	pthread_mutex_unlock(&st->tidy_lock);
out:
	json_decref(doc);
}

#define TIDY_FIELDS                                                                                          \
	{.name = "tidy_cert_store", .type = FIELD_BOOL, .description = "remove expired certificates"},        \
	{.name = "tidy_revoked_certs", .type = FIELD_BOOL, .description = "remove expired revoked entries"},  \
	{.name = "tidy_revoked_cert_issuer_associations", .type = FIELD_BOOL,                                \
	 .description = "link revoked entries to their issuer again"},                                       \
	{.name = "tidy_expired_issuers", .type = FIELD_BOOL, .description = "remove expired issuers"},       \
	{.name = "tidy_move_legacy_ca_bundle", .type = FIELD_BOOL, .description = "nothing to move in Trove"}, \
	{.name = "tidy_acme", .type = FIELD_BOOL, .description = "remove expired ACME orders and unused accounts"}, \
	{.name = "safety_buffer", .type = FIELD_DURATION, .description = "time past notAfter kept (72h)"},   \
	{.name = "issuer_safety_buffer", .type = FIELD_DURATION,                                             \
	 .description = "time past an issuer's notAfter kept (8760h)"},                                      \
	{.name = "acme_account_safety_buffer", .type = FIELD_DURATION,                                       \
	 .description = "time an unused ACME account is kept (720h)"},                                       \
	{.name = "pause_duration", .type = FIELD_STRING, .description = "pause between certificates (0s)"}

static const struct field tidy_fields[] = {TIDY_FIELDS, {0}};

static const struct field auto_tidy_fields[] = {
    TIDY_FIELDS,
    {.name = "enabled", .type = FIELD_BOOL, .description = "run tidy periodically"},
    {.name = "interval_duration", .type = FIELD_DURATION, .description = "time between runs (12h)"},
    {0},
};

const struct route pki_tidy_routes[] = {
    {.pattern = "tidy", .ops = {[OP_UPDATE] = tidy_start}, .fields = tidy_fields,
     .synopsis = "remove expired certificates and issuers, in the background"},
    {.pattern = "tidy-status", .ops = {[OP_READ] = tidy_status}, .synopsis = "the last tidy run"},
    {.pattern = "tidy-cancel", .ops = {[OP_UPDATE] = tidy_cancel}, .synopsis = "stop the running tidy"},
    {.pattern = "config/auto-tidy", .ops = {[OP_READ] = auto_read, [OP_UPDATE] = auto_write},
     .fields = auto_tidy_fields, .synopsis = "periodic tidy"},
    {0},
};
