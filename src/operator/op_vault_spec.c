/* op_vault_spec.c — reading VaultConnection and VaultAuth objects and
 * resolving references to them, as Vault Secrets Operator does (the
 * contract is op_vault.h's). Pure: no I/O, so every rule here is unit
 * tested (tests/unit/test_op_vault.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "operator/op_sync.h"
#include "operator/op_vault.h"

#include "banned.h"

#define NAME_MAX_LEN 253

static int fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(char **err, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 4096);
	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	*err = buf_take(&b);
	return TROVE_ERR_INVALID;
}

int op_ref_parse(const char *ref, const char *obj_ns, const char *op_ns, struct op_ref *out, char **err)
{
	const char *slash;

	out->ns = out->name = NULL;
	if (ref == NULL || *ref == '\0') {
		out->ns = xstrdup(op_ns);
		out->name = xstrdup(OP_DEFAULT_NAME);
		return 0;
	}
	if (strlen(ref) > 2 * NAME_MAX_LEN + 1)
		return fail(err, "reference \"%.64s...\" is too long", ref);
	slash = strchr(ref, '/');
	if (slash && strchr(slash + 1, '/'))
		return fail(err, "reference \"%s\" has more than one '/'", ref);
	if (slash && (slash == ref || slash[1] == '\0'))
		return fail(err, "reference \"%s\" has an empty namespace or name", ref);
	if (slash) {
		out->ns = xstrndup(ref, (size_t)(slash - ref));
		out->name = xstrdup(slash + 1);
	} else {
		out->ns = xstrdup(obj_ns);
		out->name = xstrdup(ref);
	}
	if (strlen(out->name) > NAME_MAX_LEN) {
		op_ref_release(out);
		return fail(err, "reference \"%.64s...\": the name is longer than %d bytes", ref, NAME_MAX_LEN);
	}
	return 0;
}

void op_ref_release(struct op_ref *r)
{
	free(r->ns);
	free(r->name);
	r->ns = r->name = NULL;
}

bool op_auth_allows_namespace(const json_t *auth, const char *op_ns, const char *target_ns)
{
	const char *ns = op_json_str0(auth, "metadata.namespace");
	const char *name = op_json_str0(auth, "metadata.name");
	const json_t *allowed = op_json_at(auth, "spec.allowedNamespaces");
	const json_t *v;
	size_t i;

	if (strcmp(target_ns, ns) == 0)
		return true;
	if (strcmp(name, OP_DEFAULT_NAME) == 0 && strcmp(ns, op_ns) == 0)
		return true;
	if (!json_is_array(allowed) || json_array_size(allowed) == 0)
		return false;
	if (json_array_size(allowed) == 1 && json_is_string(json_array_get(allowed, 0)) &&
	    strcmp(json_string_value(json_array_get(allowed, 0)), "*") == 0)
		return true;
	json_array_foreach (allowed, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), target_ns) == 0)
			return true;
	return false;
}

bool op_header_lines(const json_t *obj, struct strlist *l)
{
	const char *k;
	const json_t *v;
	struct buf b;

	if (obj == NULL || json_is_null(obj))
		return true;
	if (!json_is_object(obj))
		return false;
	json_object_foreach ((json_t *)obj, k, v) {
		const char *s = json_string_value(v);

		if (s == NULL || *k == '\0' || strpbrk(k, ":\r\n \t") || strpbrk(s, "\r\n"))
			return false;
		buf_init(&b, 16384);
		if (buf_printf(&b, "%s: %s", k, s) != 0) {
			buf_release(&b);
			return false;
		}
		(void)strlist_push_owned(l, buf_take(&b));
	}
	return true;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

int op_conn_spec_parse(const json_t *conn, struct op_conn_spec *out, char **err)
{
	const char *addr = op_json_str(conn, "spec.address");
	long ms;

	memset(out, 0, sizeof(*out));
	strlist_init(&out->headers);
	if (addr == NULL || (strncmp(addr, "http://", 7) != 0 && strncmp(addr, "https://", 8) != 0))
		return fail(err, "spec.address: want an http:// or https:// address");
	if (op_json_str(conn, "spec.caCertPath"))
		return fail(err, "spec.caCertPath: not supported, use spec.caCertSecretRef");
	if (!op_json_duration_ms(conn, "spec.timeout", &ms))
		return fail(err, "spec.timeout: not a duration");
	if (!op_header_lines(op_json_at(conn, "spec.headers"), &out->headers)) {
		strlist_release(&out->headers);
		return fail(err, "spec.headers: want an object of header names to values without line breaks");
	}
	out->address = xstrdup(addr);
	out->tls_server_name = dup_or_null(op_json_str(conn, "spec.tlsServerName"));
	out->ca_secret = dup_or_null(op_json_str(conn, "spec.caCertSecretRef"));
	out->skip_verify = op_json_bool(conn, "spec.skipTLSVerify", false);
	out->timeout_ms = ms;
	return 0;
}

void op_conn_spec_release(struct op_conn_spec *c)
{
	free(c->address);
	free(c->tls_server_name);
	free(c->ca_secret);
	strlist_release(&c->headers);
	memset(c, 0, sizeof(*c));
}

static const char *const method_names[] = {"kubernetes", "jwt", "appRole"};
static const char *const method_mounts[] = {"kubernetes", "jwt", "approle"};

/* The method's own block: role, serviceAccount, audiences, ... */
static int parse_method(const json_t *auth, struct op_auth_spec *a, char **err)
{
	const json_t *m;
	char key[32];
	const json_t *aud, *v;
	size_t i;

	(void)snprintf(key, sizeof(key), "spec.%s", method_names[a->method]);
	m = op_json_at(auth, key);
	if (!json_is_object(m))
		return fail(err, "%s: required for method %s", key, method_names[a->method]);
	a->role = dup_or_null(op_json_str(m, "role"));
	a->sa = dup_or_null(op_json_str(m, "serviceAccount"));
	a->role_id = dup_or_null(op_json_str(m, "roleId"));
	a->secret_ref = dup_or_null(op_json_str(m, "secretRef"));
	a->expiration_s = (long)op_json_int(m, "tokenExpirationSeconds", 600);
	if (a->expiration_s < 600)
		return fail(err, "%s.tokenExpirationSeconds: at least 600", key);
	aud = json_object_get(m, "audiences");
	json_array_foreach (aud, i, v)
		if (json_is_string(v))
			(void)strlist_push(&a->audiences, json_string_value(v));
	switch (a->method) {
	case OP_AUTH_KUBERNETES:
		if (a->role == NULL)
			return fail(err, "%s.role: required", key);
		if (a->sa == NULL)
			return fail(err, "%s.serviceAccount: required", key);
		break;
	case OP_AUTH_JWT:
		if (a->role == NULL)
			return fail(err, "%s.role: required", key);
		if (a->secret_ref == NULL && a->sa == NULL)
			return fail(err, "%s: one of secretRef or serviceAccount is required", key);
		break;
	case OP_AUTH_APPROLE:
		if (a->role_id == NULL)
			return fail(err, "%s.roleId: required", key);
		if (a->secret_ref == NULL)
			return fail(err, "%s.secretRef: required", key);
		break;
	}
	return 0;
}

int op_auth_spec_parse(const json_t *auth, struct op_auth_spec *out, char **err)
{
	const char *method = op_json_str(auth, "spec.method");
	const json_t *params = op_json_at(auth, "spec.params");
	const char *mount = op_json_str(auth, "spec.mount");
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	strlist_init(&out->audiences);
	strlist_init(&out->headers);
	out->params = json_object();
	out->conn_ref = xstrdup(op_json_str0(auth, "spec.vaultConnectionRef"));
	if (method == NULL || *method == '\0')
		return fail(err, "spec.method: required");
	for (i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
		if (strcmp(method, method_names[i]) == 0)
			break;
	if (i == sizeof(method_names) / sizeof(method_names[0]))
		return fail(err, "spec.method: %s is not supported (kubernetes, jwt, appRole are)", method);
	out->method = (enum op_auth_method)i;
	if (op_json_at(auth, "spec.vaultAuthGlobalRef") != NULL)
		return fail(err, "spec.vaultAuthGlobalRef: VaultAuthGlobal is not supported");
	if (params && !json_is_object(params))
		return fail(err, "spec.params: want an object");
	if (params)
		json_object_update(out->params, (json_t *)params);
	if (!op_header_lines(op_json_at(auth, "spec.headers"), &out->headers))
		return fail(err, "spec.headers: want an object of header names to values without line breaks");
	if (mount && (*mount == '\0' || strstr(mount, "..") || mount[0] == '/'))
		return fail(err, "spec.mount: not a mount path");
	out->mount = xstrdup(mount ? mount : method_mounts[out->method]);
	out->vault_ns = dup_or_null(op_json_str(auth, "spec.namespace"));
	r = parse_method(auth, out, err);
	return r;
}

void op_auth_spec_release(struct op_auth_spec *a)
{
	free(a->mount);
	free(a->vault_ns);
	free(a->conn_ref);
	free(a->role);
	free(a->sa);
	free(a->role_id);
	free(a->secret_ref);
	strlist_release(&a->audiences);
	strlist_release(&a->headers);
	json_decref(a->params);
	memset(a, 0, sizeof(*a));
}

long op_token_renew_after(long ttl_s)
{
	if (ttl_s <= 0)
		return 0;
	return ttl_s * 2 / 3 > 0 ? ttl_s * 2 / 3 : 1;
}
