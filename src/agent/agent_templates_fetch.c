/* agent_templates_fetch.c — fetching, renewing and fetching again the
 * template runner's dependencies (agent_templates_fetch.h), as
 * consul-template's vault_read, vault_write and vault_pki dependencies
 * do. */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_templates_fetch.h"
#include "agent/agent_write.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "secure.h"

#include "banned.h"

#define MS_NS INT64_C(1000000)
#define PEM_MAX ((size_t)1 << 20)

void tfetch_init(struct tfetch *f, struct agent *a)
{
	memset(f, 0, sizeof(*f));
	f->a = a;
	f->cfg = a->cfg;
}

static void dep_free(struct tdep *d)
{
	free(d->key);
	free(d->path);
	for (size_t i = 0; i < d->nargs; i++)
		secure_free_str(d->args[i]);
	free(d->args);
	free(d->dest);
	free(d->read_path);
	api_json_free_secret(d->value);
	free(d->lease_id);
	secure_free_str(d->auth_token);
	free(d);
}

void tfetch_release(struct tfetch *f)
{
	while (f->deps) {
		struct tdep *d = f->deps;

		f->deps = d->next;
		dep_free(d);
	}
	secure_free_str(f->token);
	f->token = NULL;
	api_client_free(f->client);
	f->client = NULL;
}

struct tdep *tfetch_dep(struct tfetch *f, enum tdep_kind kind, const char *path, const char *const *args,
                        size_t nargs, const char *dest)
{
	char *key = tdep_key(kind, path, args, nargs, dest);
	struct tdep *d;

	for (d = f->deps; d; d = d->next)
		if (strcmp(d->key, key) == 0) {
			free(key);
			return d;
		}
	d = xcalloc(1, sizeof(*d));
	d->kind = kind;
	d->key = key;
	d->path = xstrdup(path);
	d->args = xcalloc(nargs ? nargs : 1, sizeof(*d->args));
	for (size_t i = 0; i < nargs; i++)
		d->args[i] = xstrdup(args[i]);
	d->nargs = nargs;
	d->dest = dest ? xstrdup(dest) : NULL;
	d->lease.rotation_ttl_s = -1;
	d->next = f->deps;
	f->deps = d;
	return d;
}

void tfetch_prune(struct tfetch *f)
{
	for (struct tdep **p = &f->deps; *p;) {
		struct tdep *d = *p;

		if (d->users == 0) {
			*p = d->next;
			dep_free(d);
		} else {
			p = &d->next;
		}
	}
}

/* ---- the token ------------------------------------------------------------- */

static void take_token(struct tfetch *f, char *token, uint64_t gen)
{
	secure_free_str(f->token);
	f->token = token;
	f->token_gen = gen;
	f->need_token = false;
	api_client_set_token(f->client, token);
}

bool tfetch_wait_token(struct tfetch *f, long timeout_ms)
{
	uint64_t gen = 0;
	char *t;

	if (!f->cfg->auto_auth.present && !f->warned_no_auth) {
		/* The agent's token is auto-auth's alone, never one from the
		 * environment: without auto_auth nothing can be fetched. */
		log_warn("templates wait for a token, and there is no auto_auth block to get one");
		f->warned_no_auth = true;
	}
	t = agent_token_wait(f->a, f->token_gen, timeout_ms, &gen);
	if (t == NULL)
		return false;
	take_token(f, t, gen);
	return true;
}

void tfetch_token_refused(struct tfetch *f)
{
	if (!f->cfg->auto_auth.present || f->need_token)
		return;
	log_warn("the server refused the auto-auth token; waiting for a new one");
	f->need_token = true;
	agent_token_report_invalid(f->a, f->token_gen);
}

/* One request with the runner's token. A 403 refuses the token. */
static int request(struct tfetch *f, const char *method, const char *path, const char *query, const json_t *body,
                   struct api_response *resp, struct buf *err)
{
	int r = api_request(f->client, method, path, query, body, resp);

	if (r != 0) {
		buf_printf(err, "%s %s: %s", method, path, resp->error ? resp->error : err_message(r));
		if (r == TROVE_ERR_PERMISSION)
			tfetch_token_refused(f);
	}
	return r;
}

/* ---- secrets ------------------------------------------------------------------ */

/* The body of a write: each "k=v" as a string field. */
static int write_body(const struct tdep *d, json_t **out, struct buf *err)
{
	json_t *body = json_object();

	for (size_t i = 0; i < d->nargs; i++) {
		const char *eq = strchr(d->args[i], '=');
		char *k;

		if (eq == NULL || eq == d->args[i]) {
			buf_printf(err, "secret %s: argument %zu: want key=value", d->path, i + 1);
			api_json_free_secret(body);
			return TROVE_ERR_INVALID;
		}
		k = xstrndup(d->args[i], (size_t)(eq - d->args[i]));
		json_object_set_new(body, k, json_string(eq + 1));
		free(k);
	}
	*out = body;
	return 0;
}

/* KV v2: "secret/foo" is read at "secret/data/foo", as consul-template
 * does after asking the server what the mount is. The answer is kept
 * once the server has given one (404 included: not KV v2); when it could
 * not be asked, the path is read as written this time and asked again
 * next time. Returns a heap path. */
static char *find_read_path(struct tfetch *f, struct tdep *d, const char *path)
{
	struct api_response resp;
	struct buf lookup;
	const json_t *data;
	const char *type, *version, *mount;
	char *out = NULL;
	int r;

	if (d->read_path)
		return xstrdup(d->read_path);
	api_response_init(&resp);
	buf_init(&lookup, 8192);
	buf_printf(&lookup, "sys/internal/ui/mounts/%s", path);
	r = api_request(f->client, "GET", lookup.data, NULL, NULL, &resp);
	if (r == 0 && (data = json_object_get(resp.json, "data")) != NULL) {
		type = json_string_value(json_object_get(data, "type"));
		version = json_string_value(json_object_get(json_object_get(data, "options"), "version"));
		mount = json_string_value(json_object_get(data, "path"));
		if (type && strcmp(type, "kv") == 0 && version && strcmp(version, "2") == 0 && mount)
			out = tdep_kv2_path(path, mount);
	}
	if (out == NULL)
		out = xstrdup(path);
	if (r == 0 || r == TROVE_ERR_NOT_FOUND || r == TROVE_ERR_INVALID)
		d->read_path = xstrdup(out);
	api_response_release(&resp);
	buf_release(&lookup);
	return out;
}

/* A KV v2 version that is deleted reads as nothing. */
static bool deleted_kv2(const json_t *answer)
{
	const json_t *md = json_object_get(json_object_get(answer, "data"), "metadata");
	const char *t = json_string_value(json_object_get(md, "deletion_time"));

	return t && *t;
}

static int fetch_secret(struct tfetch *f, struct tdep *d, json_t **value, struct buf *err)
{
	struct api_response resp;
	json_t *body = NULL;
	char *path = xstrdup(d->path);
	char *query = strchr(path, '?');
	const char *lease_id, *token;
	int r;

	api_response_init(&resp);
	if (query)
		*query++ = '\0';
	if (d->kind == TDEP_WRITE) {
		if ((r = write_body(d, &body, err)) != 0)
			goto out;
		r = request(f, "PUT", path, query, body, &resp, err);
	} else {
		char *read_path = find_read_path(f, d, path);

		r = request(f, "GET", read_path, query, NULL, &resp, err);
		free(read_path);
		if (r == TROVE_ERR_NOT_FOUND || (r == 0 && (resp.json == NULL || deleted_kv2(resp.json)))) {
			buf_reset(err);
			buf_printf(err, "no secret exists at %s", d->path);
			r = TROVE_ERR_NOT_FOUND;
		}
	}
	if (r != 0)
		goto out;
	/* a write may answer 204 and nothing: an empty secret */
	*value = tdep_secret_value(resp.json ? resp.json : json_object());
	tdep_lease_from_answer(resp.json, &d->lease);
	free(d->lease_id);
	lease_id = json_string_value(json_object_get(resp.json, "lease_id"));
	d->lease_id = xstrdup(lease_id ? lease_id : "");
	secure_free_str(d->auth_token);
	token = json_string_value(json_object_get(json_object_get(resp.json, "auth"), "client_token"));
	d->auth_token = token ? xstrdup(token) : NULL;
	d->increment_s = d->lease.duration_s;
out:
	api_json_free_secret(body);
	api_json_free_secret(resp.json);
	resp.json = NULL;
	api_response_release(&resp);
	free(path);
	return r;
}

/* ---- pkiCert ------------------------------------------------------------------ */

/* An issue answer's PEM strings, and its ca_chain's, one after another. */
static void answer_pems(const json_t *data, struct buf *pems)
{
	const char *k;
	const json_t *v;

	json_object_foreach((json_t *)data, k, v)
	{
		if (json_is_string(v)) {
			buf_append_str(pems, json_string_value(v));
			buf_append_byte(pems, '\n');
		} else if (json_is_array(v) && strcmp(k, "ca_chain") == 0) {
			size_t i;
			const json_t *item;

			json_array_foreach(v, i, item)
				if (json_is_string(item)) {
					buf_append_str(pems, json_string_value(item));
					buf_append_byte(pems, '\n');
				}
		}
	}
}

static int issue_cert(struct tfetch *f, struct tdep *d, struct buf *pems, struct buf *err)
{
	struct api_response resp;
	json_t *body = NULL;
	int r;

	api_response_init(&resp);
	if ((r = write_body(d, &body, err)) != 0)
		goto out;
	if ((r = request(f, "PUT", d->path, NULL, body, &resp, err)) != 0)
		goto out;
	answer_pems(json_object_get(resp.json, "data"), pems);
	log_info("template certificate issued", "path", d->path);
out:
	api_json_free_secret(body);
	api_json_free_secret(resp.json);
	resp.json = NULL;
	api_response_release(&resp);
	return r;
}

static int fetch_pki(struct tfetch *f, struct tdep *d, bool first, json_t **value, long *due_ms, struct buf *err)
{
	struct buf pems, why;
	double threshold = f->cfg->template_config.lease_renewal_threshold;
	int64_t nb = 0, na = 0;
	int r = 0;

	buf_init_secret(&pems, PEM_MAX);
	buf_init(&why, 512);
	*value = NULL;
	/* The certificate rendered before, while it is good, is used again. */
	if (first && d->dest && agent_file_read(d->dest, PEM_MAX, &pems, &why) == 0) {
		*value = tpki_value_from_pem(pems.data, pems.len, &nb, &na);
		if (*value && (*due_ms = tpki_refresh_ms(nb, na, clock_realtime_s(), threshold, tdep_jitter())) > 0) {
			log_info("template certificate on disk still good; not issuing", "destination", d->dest);
			goto out;
		}
		api_json_free_secret(*value);
		*value = NULL;
	}
	buf_reset(&pems);
	if ((r = issue_cert(f, d, &pems, err)) != 0)
		goto out;
	*value = tpki_value_from_pem(pems.data, pems.len, &nb, &na);
	if (*value == NULL) {
		buf_printf(err, "pkiCert %s: no certificate in the answer", d->path);
		r = TROVE_ERR_UPSTREAM;
		goto out;
	}
	*due_ms = tpki_refresh_ms(nb, na, clock_realtime_s(), threshold, tdep_jitter());
out:
	buf_release_secret(&pems);
	buf_release(&why);
	return r;
}

/* ---- fetching and refreshing ------------------------------------------------- */

static void schedule(struct tdep *d, long ms, bool renew)
{
	if (ms < TRUNNER_MIN_REFRESH_MS)
		ms = TRUNNER_MIN_REFRESH_MS;
	d->due_ns = clock_monotonic_ns() + (int64_t)ms * MS_NS;
	d->renew = renew;
}

/* Fetches a new value for d (d->value untouched) and when to refresh it. */
static int fetch_new(struct tfetch *f, struct tdep *d, bool first, json_t **value, long *ms, bool *renew,
                     struct buf *err)
{
	const struct agent_template_settings *ts = &f->cfg->template_config;
	int r;

	*renew = false;
	if (d->kind == TDEP_PKI)
		return fetch_pki(f, d, first, value, ms, err);
	r = fetch_secret(f, d, value, err);
	if (r == 0)
		*ms = tdep_refresh_ms(&d->lease, ts->lease_renewal_threshold, ts->static_secret_render_interval,
		                      clock_realtime_s(), tdep_jitter(), renew);
	return r;
}

static void install(struct tdep *d, json_t *value, long ms, bool renew)
{
	api_json_free_secret(d->value);
	d->value = value;
	d->failures = 0;
	schedule(d, ms, renew);
}

int tfetch_fetch(struct tfetch *f, struct tdep *d, bool first, struct buf *err)
{
	json_t *value = NULL;
	long ms = 0;
	bool renew = false;
	int r = fetch_new(f, d, first, &value, &ms, &renew, err);

	if (r == 0)
		install(d, value, ms, renew);
	return r;
}

/* Renews d's lease (or the token a write made, as itself). Returns 0 and
 * sets *extended when the lease got the whole increment asked for. */
static int renew(struct tfetch *f, struct tdep *d, bool *extended, struct buf *err)
{
	const struct agent_template_settings *ts = &f->cfg->template_config;
	struct api_response resp;
	json_t *body = json_object();
	struct tdep_lease l = d->lease;
	bool again = false;
	long ms;
	int r;

	api_response_init(&resp);
	json_object_set_new(body, "increment", json_integer(d->increment_s));
	if (d->auth_token) {
		api_client_set_token(f->client, d->auth_token);
		r = api_request(f->client, "PUT", "auth/token/renew-self", NULL, body, &resp);
		api_client_set_token(f->client, f->token);
		if (r != 0)
			buf_printf(err, "renewing the token made by %s: %s", d->path, resp.error ? resp.error : err_message(r));
		else
			l.duration_s = json_integer_value(json_object_get(json_object_get(resp.json, "auth"), "lease_duration"));
	} else {
		json_object_set_new(body, "lease_id", json_string(d->lease_id));
		r = request(f, "PUT", "sys/leases/renew", NULL, body, &resp, err);
		if (r == 0)
			l.duration_s = json_integer_value(json_object_get(resp.json, "lease_duration"));
	}
	if (r == 0) {
		*extended = l.duration_s >= d->increment_s && l.duration_s > 0;
		d->lease.duration_s = l.duration_s;
		json_object_set_new(d->value, "LeaseDuration", json_integer(l.duration_s));
		/* A lease that no longer grows (its max TTL is near) is fetched
		 * anew at its threshold instead of renewed. */
		l.renewable = *extended;
		ms = tdep_refresh_ms(&l, ts->lease_renewal_threshold, ts->static_secret_render_interval,
		                     clock_realtime_s(), tdep_jitter(), &again);
		schedule(d, ms, again);
	}
	api_json_free_secret(resp.json);
	resp.json = NULL;
	api_response_release(&resp);
	json_decref(body);
	return r;
}

int tfetch_refresh(struct tfetch *f, struct tdep *d, bool *changed)
{
	struct buf err;
	int r;

	*changed = false;
	buf_init(&err, 4096);
	if (d->renew) {
		bool extended = false;

		if ((r = renew(f, d, &extended, &err)) == 0) {
			log_debug("template secret renewed", "path", d->path);
			goto out;
		}
		log_warn("template secret not renewed; fetching it anew", "path", d->path, "error", err.data);
		buf_reset(&err);
		if (f->need_token)
			goto failed;
	}
	{
		json_t *value = NULL;
		long ms = 0;
		bool again = false;

		r = fetch_new(f, d, false, &value, &ms, &again, &err);
		if (r == 0) {
			*changed = tdep_value_changed(d->value, value);
			install(d, value, ms, again);
			log_debug("template secret fetched", "path", d->path, "changed", *changed ? "yes" : "no");
			goto out;
		}
	}
failed:
	d->failures++;
	d->due_ns = clock_monotonic_ns() + (int64_t)tdep_backoff_ms(d->failures) * MS_NS;
	d->renew = false;
	log_warn("template secret not refreshed; keeping the last value", "path", d->path, "error",
	         err.len ? err.data : err_message(r));
out:
	buf_release(&err);
	return r;
}
