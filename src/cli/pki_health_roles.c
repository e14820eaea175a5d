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

int pki_hc_role_allows_localhost(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	json_t *roles, *role;
	const char *name;
	int r;

	(void)cfg;
	if ((r = load_roles(hc, out, &roles, err)) != 0)
		goto out;
	json_object_foreach(roles, name, role)
	{
		if (pki_hc_bool(role, "allow_localhost") &&
		    json_array_size(json_object_get(role, "allowed_domains")) > 0)
			warn_role(
			    hc, out, name, role,
			    "The role issues for localhost (allow_localhost=true) although it is meant for "
			    "the "
			    "names in allowed_domains ",
			    ", where operators may overlook it. If the role should issue for localhost, set "
			    "allow_localhost=false and add localhost to allowed_domains.");
	}
	if (json_array_size(out) == 0 && json_object_size(roles) > 0)
		pki_hc_add(hc, out, PKI_HC_OK, "No role allows localhost beside other allowed domains.",
		           "/{{mount}}/roles");
out:
	json_decref(roles);
	return r < 0 ? -1 : 0;
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

int pki_hc_role_allows_glob_wildcards(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	json_t *roles, *role;
	const char *name;
	int r;

	(void)cfg;
	if ((r = load_roles(hc, out, &roles, err)) != 0)
		goto out;
	json_object_foreach(roles, name, role)
	{
		if (json_object_get(role, "allow_wildcard_certificates") == NULL) {
			json_array_clear(out);
			pki_hc_add(hc, out, PKI_HC_INVALID_VERSION,
			           "The server's roles have no allow_wildcard_certificates field, so this "
			           "check could "
			           "not run.",
			           "/{{mount}}/roles");
			goto out;
		}
		if (pki_hc_bool(role, "allow_wildcard_certificates") &&
		    pki_hc_bool(role, "allow_glob_domains") && has_glob(role))
			warn_role(
			    hc, out, name, role,
			    "The role allows wildcard certificates and glob patterns in allowed_domains ",
			    ". A glob can match names holding '*', wildcards at deeper levels included, so "
			    "the "
			    "two together issue more than they seem to. Turn wildcard certificates off, or "
			    "split the role in two: one issuing wildcards for fixed domains, one matching "
			    "globs without wildcards.");
	}
	if (json_array_size(out) == 0 && json_object_size(roles) > 0)
		pki_hc_add(hc, out, PKI_HC_OK, "No role combines glob domains with wildcard certificates.",
		           "/{{mount}}/roles");
out:
	json_decref(roles);
	return r < 0 ? -1 : 0;
}

int pki_hc_role_no_store_false(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	json_t *roles, *role;
	const json_t *crl_cfg;
	const char *name;
	bool rebuild;
	int r, k;

	if ((r = load_roles(hc, out, &roles, err)) != 0)
		goto out;
	if ((k = pki_hc_read(hc, "GET", "config/crl", &crl_cfg, err)) < 0) {
		r = -1;
		goto out;
	}
	if (k == PKI_HC_READ_DENIED)
		pki_hc_denied(hc, out, "/{{mount}}/config/crl",
		              "Without config/crl the check cannot see whether auto_rebuild lightens stored "
		              "certificates' cost.");
	rebuild = pki_hc_bool(crl_cfg, "auto_rebuild");
	json_object_foreach(roles, name, role)
	{
		if (pki_hc_bool(role, "no_store") ||
		    pki_hc_list_has(json_object_get(cfg, "allowed_roles"), name, false))
			continue;
		pki_hc_add(
		    hc, out, rebuild ? PKI_HC_INFORMATIONAL : PKI_HC_WARNING,
		    rebuild ? "The role stores every certificate it issues (no_store=false). With the CRL "
		              "rebuilt automatically revocations cost less, but many stored certificates "
		              "still fill storage and slow listing and tidy: prefer short lifetimes over "
		              "revocation, and no_store=true where certificates need not be listed."
		            : "The role stores every certificate it issues (no_store=false). Many stored "
		              "and revoked certificates fill storage and make the CRL and tidy slow. Turn on "
		              "auto_rebuild in config/crl so that a revocation does not rebuild the CRL, "
		              "and prefer short lifetimes and no_store=true where certificates need not "
		              "be listed.",
		    "/{{mount}}/roles/%s", name);
	}
	if (json_array_size(out) == 0 && json_object_size(roles) > 0)
		pki_hc_add(hc, out, PKI_HC_OK, "No role stores the certificates it issues.",
		           "/{{mount}}/roles");
out:
	json_decref(roles);
	return r < 0 ? -1 : 0;
}
