/* agent_templates_deps.c — what a template's dependency is, what value it
 * shows templates, and when it is refreshed (agent_templates_run.h). Pure
 * functions but tdep_jitter: no I/O. */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_templates_run.h"
#include "rand.h"

#include "banned.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *tdep_key(enum tdep_kind kind, const char *path, const char *const *args, size_t nargs, const char *dest)
{
	static const char *const kinds[] = { "read", "write", "pki" };
	const char **sorted = xcalloc(nargs + 1, sizeof(*sorted));
	struct buf b;

	if (nargs > 0)
		memcpy(sorted, args, nargs * sizeof(*sorted));
	qsort(sorted, nargs, sizeof(*sorted), cmp_str);
	buf_init(&b, (size_t)1 << 20);
	/* \x1f (unit separator) cannot be confused with anything written in a
	 * path or a field, which are text. */
	buf_printf(&b, "%s\x1f%s\x1f%s", kinds[kind], dest ? dest : "", path);
	for (size_t i = 0; i < nargs; i++)
		buf_printf(&b, "\x1f%s", sorted[i]);
	free(sorted);
	return buf_take(&b);
}

static int64_t int_member(const json_t *o, const char *k, int64_t dflt)
{
	const json_t *v = json_object_get(o, k);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	if (json_is_string(v)) {
		char *end;
		long long n = strtoll(json_string_value(v), &end, 10);

		if (end != json_string_value(v) && *end == '\0')
			return n;
	}
	return dflt;
}

void tdep_lease_from_answer(const json_t *answer, struct tdep_lease *l)
{
	const json_t *auth = json_object_get(answer, "auth");
	const json_t *data = json_object_get(answer, "data");
	const char *lease_id = json_string_value(json_object_get(answer, "lease_id"));

	memset(l, 0, sizeof(*l));
	l->rotation_ttl_s = -1;
	l->leased = lease_id && *lease_id;
	l->duration_s = int_member(answer, "lease_duration", 0);
	l->renewable = json_is_true(json_object_get(answer, "renewable"));
	if (json_is_object(auth)) {
		l->leased = true;
		l->renewable = json_is_true(json_object_get(auth, "renewable"));
		if (int_member(auth, "lease_duration", 0) > 0)
			l->duration_s = int_member(auth, "lease_duration", 0);
	}
	if (l->leased || !json_is_object(data))
		return;
	if (json_object_get(data, "certificate") && json_object_get(data, "expiration"))
		l->cert_expiry_s = int_member(data, "expiration", 0);
	if (json_object_get(data, "rotation_period"))
		l->rotation_ttl_s = int_member(data, "ttl", -1);
}

long tdep_refresh_ms(const struct tdep_lease *l, double threshold, int64_t static_s, int64_t now_s, double rnd,
                     bool *renew)
{
	double base_s = 0, fraction = threshold + (rnd - 0.5) * 0.1;
	double ms;

	*renew = false;
	if (fraction >= 1.0 || fraction <= 0.0)
		fraction = threshold;
	if (l->leased && l->duration_s > 0) {
		base_s = (double)l->duration_s;
		*renew = l->renewable;
		/* A renewal must reach the server while the lease still lives:
		 * at two thirds, as Vault's renewer does, never within the last
		 * second (the server counts expiry in whole seconds). */
		if (*renew) {
			fraction = 2.0 / 3.0 + (rnd - 0.5) * 0.1;
			if (base_s >= 2 && base_s * fraction > base_s - 1)
				fraction = (base_s - 1) / base_s;
		}
	} else if (!l->leased && l->cert_expiry_s > 0) {
		base_s = (double)(l->cert_expiry_s - now_s);
	} else if (!l->leased && l->rotation_ttl_s > 0) {
		base_s = (double)l->rotation_ttl_s + 1;
		fraction = 1.0;
	} else {
		base_s = (double)static_s;
		fraction = 1.0;
	}
	ms = base_s * fraction * 1000.0;
	if (ms < TRUNNER_MIN_REFRESH_MS)
		ms = TRUNNER_MIN_REFRESH_MS;
	if (ms > (double)TRUNNER_MAX_REFRESH_MS)
		ms = (double)TRUNNER_MAX_REFRESH_MS;
	return (long)ms;
}

/* A copy of member k of o under name as, if o has it (null otherwise). */
static void copy_as(json_t *to, const char *as, const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	json_object_set_new(to, as, v ? json_deep_copy(v) : json_null());
}

json_t *tdep_secret_value(const json_t *answer)
{
	json_t *v = json_object();
	const json_t *auth = json_object_get(answer, "auth");
	const json_t *data = json_object_get(answer, "data");

	copy_as(v, "RequestID", answer, "request_id");
	copy_as(v, "LeaseID", answer, "lease_id");
	json_object_set_new(v, "LeaseDuration", json_integer(int_member(answer, "lease_duration", 0)));
	json_object_set_new(v, "Renewable", json_boolean(json_is_true(json_object_get(answer, "renewable"))));
	json_object_set_new(v, "Data", json_is_object(data) ? json_deep_copy(data) : json_object());
	copy_as(v, "Warnings", answer, "warnings");
	if (json_is_object(auth)) {
		json_t *a = json_object();

		copy_as(a, "ClientToken", auth, "client_token");
		copy_as(a, "Accessor", auth, "accessor");
		copy_as(a, "Policies", auth, "policies");
		copy_as(a, "Metadata", auth, "metadata");
		json_object_set_new(a, "LeaseDuration", json_integer(int_member(auth, "lease_duration", 0)));
		json_object_set_new(a, "Renewable", json_boolean(json_is_true(json_object_get(auth, "renewable"))));
		json_object_set_new(v, "Auth", a);
	}
	return v;
}

bool tdep_value_changed(const json_t *old, const json_t *cur)
{
	static const char *const members[] = { "Data", "Auth", "Cert", "Key", "CA", "CAChain" };

	if (old == NULL || cur == NULL)
		return old != cur;
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		const json_t *a = json_object_get(old, members[i]), *b = json_object_get(cur, members[i]);

		if ((a == NULL) != (b == NULL) || (a && !json_equal(a, b)))
			return true;
	}
	return false;
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

char *tdep_kv2_path(const char *path, const char *mount)
{
	size_t ml = strlen(mount);
	const char *rest;
	struct buf b;

	while (ml > 0 && mount[ml - 1] == '/')
		ml--;
	buf_init(&b, (size_t)1 << 20);
	if (strncmp(path, mount, ml) != 0 || (path[ml] != '\0' && path[ml] != '/')) {
		buf_append_str(&b, path); /* not under that mount: as written */
		return buf_take(&b);
	}
	rest = path[ml] == '/' ? path + ml + 1 : path + ml;
	if (has_prefix(rest, "data/") || has_prefix(rest, "metadata/") || has_prefix(rest, "subkeys/"))
		buf_append_str(&b, path);
	else if (*rest == '\0')
		buf_printf(&b, "%.*s/data", (int)ml, mount);
	else
		buf_printf(&b, "%.*s/data/%s", (int)ml, mount, rest);
	return buf_take(&b);
}

double tdep_jitter(void)
{
	uint32_t v = 0;

	rand_bytes(&v, sizeof(v));
	return (double)v / 4294967296.0;
}

long tdep_backoff_ms(int failures)
{
	long ms = TRUNNER_BACKOFF_MIN_MS;

	for (int i = 1; i < failures && ms < TRUNNER_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms > TRUNNER_BACKOFF_MAX_MS ? TRUNNER_BACKOFF_MAX_MS : ms;
}

int64_t tdep_wait_until(int64_t first_ns, int64_t now_ns, int64_t min_s, int64_t max_s)
{
	int64_t min = min_s * INT64_C(1000000000), max = max_s * INT64_C(1000000000);
	int64_t at = now_ns + min;

	if (max == 0)
		max = 4 * min;
	return at > first_ns + max ? first_ns + max : at;
}
