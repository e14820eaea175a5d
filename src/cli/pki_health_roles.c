/* pki_health_roles.c — the health checks on roles: localhost beside
 * allowed_domains (role_allows_localhost), glob domains with wildcard
 * certificates (role_allows_glob_wildcards) and roles storing every
 * certificate (role_no_store_false). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli/cli.h"
#include "cli/pki.h"
#include "cli/pki_health.h"

#include "banned.h"

/* ---- the role checks -------------------------------------------------- */

/* Reads every role. Returns 1 when the check is over (results added: the
 * server does not serve roles, or may not list them), 0 with *roles
 * ({name: role data}, new) to judge, -1 with *err. */
static int load_roles(struct pki_hc *hc, json_t *out, json_t **roles, char **err)
{
	const json_t *list, *v, *data;
	bool unsupported = false;
	size_t i;
	int k;

	*roles = json_object();
	if ((k = pki_hc_read(hc, "LIST", "roles", &list, err)) < 0)
		return -1;
	if (k == PKI_HC_READ_UNSUPPORTED) {
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, PKI_HC_UNSUPPORTED_MSG, "/{{mount}}/roles");
		return 1;
	}
	if (k == PKI_HC_READ_DENIED) {
		pki_hc_denied(hc, out, "/{{mount}}/roles",
		              "Without the list of roles this check cannot work.");
		return 1;
	}
	json_array_foreach(json_object_get(list, "keys"), i, v)
	{
		struct buf p;

		if (json_string_value(v) == NULL)
			continue;
		buf_init(&p, BUF_CAP_DEFAULT);
		(void)buf_printf(&p, "roles/%s", json_string_value(v));
		k = pki_hc_read(hc, "GET", p.data, &data, err);
		if (k == PKI_HC_READ_UNSUPPORTED)
			unsupported = true;
		if (k == PKI_HC_READ_DENIED)
			pki_hc_denied(hc, out, p.data, "Without the role this check cannot judge it.");
		if (k == PKI_HC_READ_OK)
			json_object_set(*roles, json_string_value(v), (json_t *)data);
		buf_release(&p);
		if (k < 0)
			return -1;
	}
	if (unsupported) {
		json_array_clear(out);
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, PKI_HC_UNSUPPORTED_MSG, "/{{mount}}/roles");
		return 1;
	}
	return 0;
}

/* A warning on one role: before, its allowed_domains as "[a b]" (as
 * Vault prints a list), after. */
static void warn_role(const struct pki_hc *hc, json_t *out, const char *name, const json_t *role,
                      const char *before, const char *after)
{
	const json_t *v;
	struct buf msg;
	size_t i;

	buf_init(&msg, BUF_CAP_DEFAULT);
	(void)buf_printf(&msg, "%s[", before);
	json_array_foreach(json_object_get(role, "allowed_domains"), i, v)(void)
	    buf_printf(&msg, "%s%s", i ? " " : "", json_string_value(v) ? json_string_value(v) : "");
	(void)buf_printf(&msg, "]%s", after);
	pki_hc_add(hc, out, PKI_HC_WARNING, msg.data, "/{{mount}}/roles/%s", name);
	buf_release(&msg);
}

/* Judges one role: adds its warnings to out; returns false to end the
 * check at once (the results in out then stand alone). */
typedef bool (*role_judge)(struct pki_hc *hc, json_t *out, const char *name, const json_t *role,
                           const void *ctx);

/* Runs once the roles are loaded, before any is judged: 0, or -1 with
 * *err. */
typedef int (*role_prepare)(struct pki_hc *hc, json_t *out, void *ctx, char **err);

/* The frame of every role check: load the roles, prepare (optional),
 * judge each, and say ok_msg when there were roles and none drew a
 * result. */
static int judge_roles(struct pki_hc *hc, json_t *out, char **err, role_prepare prepare, role_judge judge,
                       void *ctx, const char *ok_msg)
{
	json_t *roles, *role;
	const char *name;
	int r;

	if ((r = load_roles(hc, out, &roles, err)) != 0)
		goto out;
	if (prepare != NULL && (r = prepare(hc, out, ctx, err)) != 0)
		goto out;
	json_object_foreach(roles, name, role)
	{
		if (!judge(hc, out, name, role, ctx))
			goto out;
	}
	if (json_array_size(out) == 0 && json_object_size(roles) > 0)
		pki_hc_add(hc, out, PKI_HC_OK, ok_msg, "/{{mount}}/roles");
out:
	json_decref(roles);
	return r < 0 ? -1 : 0;
}

static bool judge_localhost(struct pki_hc *hc, json_t *out, const char *name, const json_t *role,
                            const void *ctx)
{
	(void)ctx;
	if (pki_hc_bool(role, "allow_localhost") &&
	    json_array_size(json_object_get(role, "allowed_domains")) > 0)
		warn_role(hc, out, name, role,
		          "The role issues for localhost (allow_localhost=true) although it is meant for the "
		          "names in allowed_domains ",
		          ", where operators may overlook it. If the role should issue for localhost, set "
		          "allow_localhost=false and add localhost to allowed_domains.");
	return true;
}

int pki_hc_role_allows_localhost(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	(void)cfg;
	return judge_roles(hc, out, err, NULL, judge_localhost, NULL,
	                   "No role allows localhost beside other allowed domains.");
}

static bool has_glob(const json_t *role)
{
	const json_t *d;
	size_t i;

	json_array_foreach(json_object_get(role, "allowed_domains"), i, d)
	{
		if (json_string_value(d) && strchr(json_string_value(d), '*'))
			return true;
	}
	return false;
}

static bool judge_glob_wildcards(struct pki_hc *hc, json_t *out, const char *name, const json_t *role,
                                 const void *ctx)
{
	(void)ctx;
	if (json_object_get(role, "allow_wildcard_certificates") == NULL) {
		json_array_clear(out);
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION,
		           "The server's roles have no allow_wildcard_certificates field, so this check "
		           "could not run.",
		           "/{{mount}}/roles");
		return false;
	}
	if (pki_hc_bool(role, "allow_wildcard_certificates") && pki_hc_bool(role, "allow_glob_domains") &&
	    has_glob(role))
		warn_role(hc, out, name, role,
		          "The role allows wildcard certificates and glob patterns in allowed_domains ",
		          ". A glob can match names holding '*', wildcards at deeper levels included, so the "
		          "two together issue more than they seem to. Turn wildcard certificates off, or "
		          "split the role in two: one issuing wildcards for fixed domains, one matching "
		          "globs without wildcards.");
	return true;
}

int pki_hc_role_allows_glob_wildcards(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	(void)cfg;
	return judge_roles(hc, out, err, NULL, judge_glob_wildcards, NULL,
	                   "No role combines glob domains with wildcard certificates.");
}

struct no_store_ctx {
	const json_t *cfg;
	bool rebuild;
};

static bool judge_no_store(struct pki_hc *hc, json_t *out, const char *name, const json_t *role,
                           const void *ctx)
{
	const struct no_store_ctx *c = ctx;

	if (pki_hc_bool(role, "no_store") ||
	    pki_hc_list_has(json_object_get(c->cfg, "allowed_roles"), name, false))
		return true;
	pki_hc_add(hc, out, c->rebuild ? PKI_HC_INFORMATIONAL : PKI_HC_WARNING,
	           c->rebuild
	               ? "The role stores every certificate it issues (no_store=false). With the CRL "
	                 "rebuilt automatically revocations cost less, but many stored certificates "
	                 "still fill storage and slow listing and tidy: prefer short lifetimes over "
	                 "revocation, and no_store=true where certificates need not be listed."
	               : "The role stores every certificate it issues (no_store=false). Many stored "
	                 "and revoked certificates fill storage and make the CRL and tidy slow. Turn on "
	                 "auto_rebuild in config/crl so that a revocation does not rebuild the CRL, "
	                 "and prefer short lifetimes and no_store=true where certificates need not "
	                 "be listed.",
	           "/{{mount}}/roles/%s", name);
	return true;
}

/* Reads config/crl: whether the CRL is rebuilt automatically changes the
 * advice. */
static int read_crl_config(struct pki_hc *hc, json_t *out, void *ctx, char **err)
{
	struct no_store_ctx *c = ctx;
	const json_t *crl_cfg;
	int k;

	if ((k = pki_hc_read(hc, "GET", "config/crl", &crl_cfg, err)) < 0)
		return -1;
	if (k == PKI_HC_READ_DENIED)
		pki_hc_denied(hc, out, "/{{mount}}/config/crl",
		              "Without config/crl the check cannot see whether auto_rebuild lightens stored "
		              "certificates' cost.");
	c->rebuild = pki_hc_bool(crl_cfg, "auto_rebuild");
	return 0;
}

int pki_hc_role_no_store_false(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	struct no_store_ctx ctx = {.cfg = cfg};

	return judge_roles(hc, out, err, read_crl_config, judge_no_store, &ctx,
	                   "No role stores the certificates it issues.");
}
