/* pki_health.c — the frame of the health checks: reads fetched once per
 * run and classified the way Vault's checks classify them, the
 * configuration (defaults, a -health-config document over them, every
 * value checked before anything is read), running the enabled checks and
 * the exit code. The checks themselves: pki_health_checks.c. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/pki_health.h"
#include "buf.h"
#include "duration.h"

#include "banned.h"

struct pki_hc_cached {
	char *method;
	char *path;
	struct pki_hc_answer a;
};

static const char *const status_names[] = {
    "not_applicable",           "ok", "informational", "warning", "critical", "invalid_version",
    "insufficient_permissions",
};

const char *pki_hc_status_name(enum pki_hc_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ? status_names[s] : "unknown";
}

/* ---- reads ------------------------------------------------------------ */

static const struct pki_hc_answer *fetch_once(struct pki_hc *hc, const char *method, const char *path)
{
	struct pki_hc_cached *c;
	size_t i;

	for (i = 0; i < hc->ncache; i++)
		if (strcmp(hc->cache[i].method, method) == 0 && strcmp(hc->cache[i].path, path) == 0)
			return &hc->cache[i].a;
	hc->cache = xrealloc(hc->cache, (hc->ncache + 1) * sizeof(*hc->cache));
	c = &hc->cache[hc->ncache++];
	c->method = xstrdup(method);
	c->path = xstrdup(path);
	memset(&c->a, 0, sizeof(c->a));
	hc->fetch(hc->ctx, method, path, &c->a);
	return &c->a;
}

/* Whether one of the answer's errors (or its transport error) says s. */
static bool says(const struct pki_hc_answer *a, const char *s)
{
	const json_t *v;
	size_t i;

	json_array_foreach(json_object_get(a->json, "errors"), i, v)
	{
		if (json_string_value(v) && strstr(json_string_value(v), s))
			return true;
	}
	return a->error && strstr(a->error, s);
}

int pki_hc_read(struct pki_hc *hc, const char *method, const char *suffix, const json_t **data, char **err)
{
	const struct pki_hc_answer *a;
	const char *e;
	struct buf p;
	int r = -1;

	*data = NULL;
	buf_init(&p, BUF_CAP_DEFAULT);
	if (suffix[0] == '/')
		(void)buf_append_str(&p, suffix + 1);
	else
		(void)buf_printf(&p, "%s/%s", hc->mount, suffix);
	a = fetch_once(hc, method, p.data);
	e = a->error ? a->error : "";
	if (a->status >= 200 && a->status < 300) {
		*data = json_object_get(a->json, "data");
		r = json_is_object(*data) ? PKI_HC_READ_OK : PKI_HC_READ_EMPTY;
		if (r != PKI_HC_READ_OK)
			*data = NULL;
	} else if (a->status == 403 || says(a, "permission denied")) {
		r = PKI_HC_READ_DENIED;
	} else if (says(a, "unsupported path")) {
		r = PKI_HC_READ_UNSUPPORTED;
	} else if (says(a, "unable to find") ||
	           (a->status == 404 && json_array_size(json_object_get(a->json, "errors")) == 0)) {
		r = PKI_HC_READ_EMPTY;
	} else {
		const json_t *v;
		size_t i;

		if (a->status == 0)
			(void)buf_printf(&p, ": %s", e);
		else
			(void)buf_printf(&p, ": code %ld", a->status);
		json_array_foreach(json_object_get(a->json, "errors"), i, v)(void) buf_printf(
		    &p, "%s%s", i ? "; " : ": ", json_string_value(v) ? json_string_value(v) : "?");
		*err = buf_take(&p);
	}
	buf_release(&p);
	return r;
}

void pki_hc_release(struct pki_hc *hc)
{
	size_t i;

	for (i = 0; i < hc->ncache; i++) {
		free(hc->cache[i].method);
		free(hc->cache[i].path);
		json_decref(hc->cache[i].a.json);
		free(hc->cache[i].a.error);
	}
	free(hc->cache);
	hc->cache = NULL;
	hc->ncache = 0;
}

/* ---- results ---------------------------------------------------------- */

static char *template_mount(const char *mount, const char *s)
{
	struct buf b;
	const char *m;
	char *out;

	buf_init(&b, BUF_CAP_DEFAULT);
	while ((m = strstr(s, "{{mount}}")) != NULL) {
		(void)buf_append(&b, s, (size_t)(m - s));
		(void)buf_append_str(&b, mount);
		s = m + strlen("{{mount}}");
	}
	(void)buf_append_str(&b, s);
	out = buf_take(&b);
	buf_release(&b);
	return out;
}

void pki_hc_add(const struct pki_hc *hc, json_t *out, enum pki_hc_status s, const char *message,
                const char *endpoint_fmt, ...)
{
	struct buf b;
	va_list ap;
	char *endpoint;

	buf_init(&b, BUF_CAP_DEFAULT);
	va_start(ap, endpoint_fmt);
	(void)buf_vprintf(&b, endpoint_fmt, ap);
	va_end(ap);
	endpoint = template_mount(hc->mount, b.data);
	json_array_append_new(out,
	                      json_pack("{s:i, s:s, s:s, s:s}", "status_code", (int)s, "status",
	                                pki_hc_status_name(s), "endpoint", endpoint, "message", message));
	free(endpoint);
	buf_release(&b);
}

/* ---- configuration ---------------------------------------------------- */

enum param_kind { P_DURATION, P_INT, P_LIST, P_BOOL };

/* Each parameter's type and bounds, by name (names are unique across the
 * checks). */
static const struct {
	const char *name;
	enum param_kind kind;
	long long min, max;
} params[] = {
    {"enabled", P_BOOL, 0, 0},
    {"root_expiry_critical", P_DURATION, 0, 0},
    {"intermediate_expiry_critical", P_DURATION, 0, 0},
    {"root_expiry_warning", P_DURATION, 0, 0},
    {"intermediate_expiry_warning", P_DURATION, 0, 0},
    {"root_expiry_informational", P_DURATION, 0, 0},
    {"intermediate_expiry_informational", P_DURATION, 0, 0},
    {"crl_expiry_pct_critical", P_INT, 1, 99},
    {"delta_crl_expiry_pct_critical", P_INT, 1, 99},
    {"certs_to_fetch", P_INT, 1, 100000},
    {"allowed_roles", P_LIST, 0, 0},
    {"ignored_parameters", P_LIST, 0, 0},
    {"interval_duration_critical", P_DURATION, 0, 0},
    {"interval_duration_warning", P_DURATION, 0, 0},
    {"pause_duration_critical", P_DURATION, 0, 0},
    {"pause_duration_warning", P_DURATION, 0, 0},
    {"last_run_critical", P_DURATION, 0, 0},
    {"last_run_warning", P_DURATION, 0, 0},
    {"count_critical", P_INT, 1, 1LL << 40},
    {"count_warning", P_INT, 1, 1LL << 40},
};

/* A number, or a string of one (as Vault's parseutil takes both). */
static bool int_value(const json_t *v, long long *out)
{
	const char *s;
	char *end;

	if (json_is_integer(v)) {
		*out = (long long)json_integer_value(v);
		return true;
	}
	if (!json_is_string(v) || *(s = json_string_value(v)) == '\0')
		return false;
	*out = strtoll(s, &end, 10);
	return *end == '\0';
}

/* A duration: a string ("180d", "200ms", "300") or a number of seconds. */
static bool ns_value(const json_t *v, long long *out)
{
	int64_t ns;

	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= DURATION_MAX_SECONDS) {
		*out = (long long)json_integer_value(v) * 1000000000LL;
		return true;
	}
	if (!json_is_string(v) ||
	    duration_parse_ns(json_string_value(v), strlen(json_string_value(v)), &ns) != 0)
		return false;
	*out = (long long)ns;
	return true;
}

static bool bool_value(const json_t *v, bool *out)
{
	const char *s = json_string_value(v);

	if (json_is_boolean(v))
		*out = json_is_true(v);
	else if (s && (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0))
		*out = true;
	else if (s && (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0))
		*out = false;
	else
		return false;
	return true;
}

/* Checks one value; on success replaces it in cfg by its canonical form. */
static int check_param(const char *check, json_t *cfg, const char *name, const json_t *v, char **err)
{
	struct buf b;
	long long n;
	bool flag, ok = false;
	size_t i, k;
	const json_t *e;

	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		if (strcmp(params[i].name, name) == 0)
			break;
	buf_init(&b, BUF_CAP_DEFAULT);
	if (i == sizeof(params) / sizeof(params[0])) {
		(void)buf_printf(&b, "unknown configuration option for %s: %s", check, name);
		goto out;
	}
	switch (params[i].kind) {
	case P_BOOL:
		if ((ok = bool_value(v, &flag)))
			json_object_set_new(cfg, name, json_boolean(flag));
		break;
	case P_INT:
		ok = int_value(v, &n) && n >= params[i].min && n <= params[i].max;
		if (ok)
			json_object_set_new(cfg, name, json_integer(n));
		break;
	case P_DURATION:
		if ((ok = ns_value(v, &n)))
			json_object_set(cfg, name, (json_t *)v);
		break;
	case P_LIST:
		ok = json_is_array(v);
		json_array_foreach(v, k, e) ok = ok && json_is_string(e);
		if (ok)
			json_object_set(cfg, name, (json_t *)v);
		break;
	}
	if (!ok) {
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		(void)buf_printf(&b, "error parsing %s.%s=%s: want %s", check, name, text ? text : "?",
		                 params[i].kind == P_BOOL       ? "true or false"
		                 : params[i].kind == P_LIST     ? "a list of strings"
		                 : params[i].kind == P_DURATION ? "a duration such as 30d or 12h"
		                                                : "an integer in range");
		free(text);
	}
out:
	if (!ok)
		*err = buf_take(&b);
	buf_release(&b);
	return ok ? 0 : -1;
}

json_t *pki_hc_default_config(void)
{
	json_t *all = json_object();
	size_t i;

	for (i = 0; i < pki_hc_nchecks; i++)
		json_object_set_new(all, pki_hc_checks[i].name,
		                    json_loads(pki_hc_checks[i].defaults, 0, NULL));
	return all;
}

int pki_hc_build_config(const json_t *external, bool default_enabled, json_t **config, char **err)
{
	json_t *all = pki_hc_default_config(), *cfg, *v, *ext;
	const char *name;
	size_t i;

	*config = NULL;
	for (i = 0; i < pki_hc_nchecks; i++) {
		cfg = json_object_get(all, pki_hc_checks[i].name);
		v = json_object_get(cfg, "enabled");
		if (v == NULL || (json_is_true(v) && !default_enabled))
			json_object_set_new(cfg, "enabled", json_boolean(default_enabled));
		ext = json_object_get(external, pki_hc_checks[i].name);
		if (ext != NULL && !json_is_object(ext)) {
			*err = xstrdup(pki_hc_checks[i].name);
			goto fail;
		}
		json_object_foreach(ext, name, v)
		{
			if (strcmp(name, "enabled") != 0 && json_object_get(cfg, name) == NULL) {
				struct buf b;

				buf_init(&b, BUF_CAP_DEFAULT);
				(void)buf_printf(&b, "unknown configuration option for %s: %s",
				                 pki_hc_checks[i].name, name);
				*err = buf_take(&b);
				buf_release(&b);
				goto fail;
			}
			if (check_param(pki_hc_checks[i].name, cfg, name, v, err) != 0)
				goto fail;
		}
		json_object_foreach(cfg, name, v)
		{
			if (check_param(pki_hc_checks[i].name, cfg, name, v, err) != 0)
				goto fail;
		}
	}
	*config = all;
	return 0;
fail:
	json_decref(all);
	return -1;
}

long long pki_hc_cfg_int(const json_t *cfg, const char *name)
{
	long long n = 0;

	return int_value(json_object_get(cfg, name), &n) ? n : 0;
}

long long pki_hc_cfg_ns(const json_t *cfg, const char *name)
{
	long long n = 0;

	return ns_value(json_object_get(cfg, name), &n) ? n : 0;
}

/* ---- running ---------------------------------------------------------- */

int pki_hc_execute(struct pki_hc *hc, const json_t *config, json_t **results, char **err)
{
	json_t *all = json_object();
	size_t i;

	*results = NULL;
	for (i = 0; i < pki_hc_nchecks; i++) {
		const json_t *cfg = json_object_get(config, pki_hc_checks[i].name);
		json_t *out;

		if (!json_is_true(json_object_get(cfg, "enabled")))
			continue;
		out = json_array();
		if (pki_hc_checks[i].run(hc, cfg, out, err) != 0) {
			struct buf b;

			buf_init(&b, BUF_CAP_DEFAULT);
			(void)buf_printf(&b, "%s: %s", pki_hc_checks[i].name, *err);
			free(*err);
			*err = buf_take(&b);
			buf_release(&b);
			json_decref(out);
			json_decref(all);
			return -1;
		}
		json_object_set_new(all, pki_hc_checks[i].name, out);
	}
	*results = all;
	return 0;
}

int pki_hc_exit_code(const json_t *results, const char *indicator)
{
	long long highest = PKI_HC_NOT_APPLICABLE, cut;
	const char *name;
	const json_t *arr, *res;
	size_t i;

	if (indicator == NULL || *indicator == '\0' || strcmp(indicator, "default") == 0 ||
	    strcmp(indicator, "informational") == 0)
		cut = PKI_HC_INFORMATIONAL;
	else if (strcmp(indicator, "warning") == 0)
		cut = PKI_HC_WARNING;
	else if (strcmp(indicator, "critical") == 0)
		cut = PKI_HC_CRITICAL;
	else if (strcmp(indicator, "permission") == 0)
		cut = PKI_HC_INVALID_VERSION;
	else
		return -1;
	json_object_foreach((json_t *)results, name, arr)
	{
		json_array_foreach(arr, i, res)
		{
			long long s = json_integer_value(json_object_get(res, "status_code"));

			if (s > highest)
				highest = s;
		}
	}
	return highest >= cut ? (int)highest : 0;
}
