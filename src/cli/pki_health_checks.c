/* pki_health_checks.c — the table of the checks `trove pki health-check`
 * runs, with Vault 1.13+'s names, parameters and defaults, and what the
 * checks share: issuers and their certificates, permission results,
 * durations as text. The checks: pki_health_ca.c (CA and CRL validity,
 * roots issuing leaves), pki_health_roles.c (role settings),
 * pki_health_mount.c (audit visibility, conditional requests, tidy, the
 * store's size, ACME). Vault's hardware_backed_root is left out: Trove
 * has no managed keys.
 *
 * Each check reads through pki_hc_read (once per run, shared between
 * checks) and appends results; a path the server does not serve makes the
 * check report invalid_version, a refused read insufficient_permissions. */
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

/* ---- helpers ---------------------------------------------------------- */

void pki_hc_denied(const struct pki_hc *hc, json_t *out, const char *endpoint, const char *consequence)
{
	struct buf b;

	buf_init(&b, BUF_CAP_DEFAULT);
	(void)buf_printf(&b, "%s %s",
	                 hc->have_token ? "This token may not read this path."
	                                : "No token was given, so this path could not be read.",
	                 consequence);
	pki_hc_add(hc, out, PKI_HC_INSUFFICIENT_PERMISSIONS, b.data, "%s", endpoint);
	buf_release(&b);
}

/* A duration in nanoseconds as days, hours, minutes, seconds ("180d",
 * "1d12h", "200ms"). */
void pki_hc_format_ns(long long ns, char *out, size_t size)
{
	struct buf b;
	long long s = ns / PKI_HC_NS;

	buf_init(&b, BUF_CAP_DEFAULT);
	if (s / 86400)
		(void)buf_printf(&b, "%lldd", s / 86400);
	if (s % 86400 / 3600)
		(void)buf_printf(&b, "%lldh", s % 86400 / 3600);
	if (s % 3600 / 60)
		(void)buf_printf(&b, "%lldm", s % 3600 / 60);
	if (s % 60)
		(void)buf_printf(&b, "%llds", s % 60);
	if (b.len == 0)
		(void)buf_printf(&b, "%lldms", ns / 1000000);
	snprintf(out, size, "%s", b.data);
	buf_release(&b);
}

bool pki_hc_is_root(X509 *c)
{
	EVP_PKEY *k = X509_get0_pubkey(c);

	return X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(c)) == 0 && k != NULL &&
	       X509_verify(c, k) == 1;
}

bool pki_hc_bool(const json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

bool pki_hc_list_has(const json_t *list, const char *s, bool nocase)
{
	const json_t *v;
	size_t i;

	json_array_foreach(list, i, v)
	{
		const char *e = json_string_value(v);

		if (e && (nocase ? strcasecmp(e, s) == 0 : strcmp(e, s) == 0))
			return true;
	}
	return false;
}

/* The mount's issuer ids. Vault stops the run when a mount has none. */
int pki_hc_issuer_ids(struct pki_hc *hc, const json_t **keys, bool *unsupported, bool none_ok, char **err)
{
	const json_t *data;
	int k = pki_hc_read(hc, "LIST", "issuers", &data, err);

	*keys = NULL;
	if (k < 0)
		return -1;
	if (k == PKI_HC_READ_UNSUPPORTED)
		*unsupported = true;
	if (k == PKI_HC_READ_EMPTY && !none_ok) {
		*err = xstrdup("this mount has no issuers, so the health checks can tell little about it");
		return -1;
	}
	if (k == PKI_HC_READ_OK)
		*keys = json_object_get(data, "keys");
	return 0;
}

/* An issuer's certificate (issuer/<id>/json), or NULL when it cannot be
 * read (unsupported is set when the server does not serve the path). */
int pki_hc_issuer_cert(struct pki_hc *hc, const char *id, X509 **cert, bool *unsupported, char **err)
{
	struct buf p;
	const json_t *data;
	int k;

	*cert = NULL;
	buf_init(&p, BUF_CAP_DEFAULT);
	(void)buf_printf(&p, "issuer/%s/json", id);
	k = pki_hc_read(hc, "GET", p.data, &data, err);
	if (k == PKI_HC_READ_UNSUPPORTED)
		*unsupported = true;
	if (k == PKI_HC_READ_OK &&
	    (*cert = pki_cert_from_pem(json_string_value(json_object_get(data, "certificate")))) == NULL) {
		buf_reset(&p);
		(void)buf_printf(&p, "the certificate of issuer %s does not parse", id);
		*err = buf_take(&p);
		k = -1;
	}
	buf_release(&p);
	return k < 0 ? -1 : 0;
}

/* ---- the table -------------------------------------------------------- */

const struct pki_hc_check pki_hc_checks[] = {
    {"ca_validity_period",
     "{\"root_expiry_critical\": \"180d\", \"intermediate_expiry_critical\": \"30d\", "
     "\"root_expiry_warning\": \"365d\", \"intermediate_expiry_warning\": \"60d\", "
     "\"root_expiry_informational\": \"730d\", \"intermediate_expiry_informational\": \"180d\"}",
     pki_hc_ca_validity_period},
    {"crl_validity_period",
     "{\"crl_expiry_pct_critical\": \"95\", \"delta_crl_expiry_pct_critical\": \"95\"}",
     pki_hc_crl_validity_period},
    {"root_issued_leaves", "{\"certs_to_fetch\": 100}", pki_hc_root_issued_leaves},
    {"role_allows_localhost", "{}", pki_hc_role_allows_localhost},
    {"role_allows_glob_wildcards", "{}", pki_hc_role_allows_glob_wildcards},
    {"role_no_store_false", "{\"allowed_roles\": []}", pki_hc_role_no_store_false},
    {"audit_visibility", "{\"ignored_parameters\": []}", pki_hc_audit_visibility},
    {"allow_if_modified_since", "{}", pki_hc_allow_if_modified_since},
    {"enable_auto_tidy",
     "{\"interval_duration_critical\": \"7d\", \"interval_duration_warning\": \"2d\", "
     "\"pause_duration_critical\": \"1s\", \"pause_duration_warning\": \"200ms\"}",
     pki_hc_enable_auto_tidy},
    {"tidy_last_run", "{\"last_run_critical\": \"7d\", \"last_run_warning\": \"2d\"}", pki_hc_tidy_last_run},
    {"too_many_certs", "{\"count_critical\": 250000, \"count_warning\": 50000}", pki_hc_too_many_certs},
    {"enable_acme_issuance", "{}", pki_hc_enable_acme_issuance},
    {"allow_acme_headers", "{}", pki_hc_allow_acme_headers},
};

const size_t pki_hc_nchecks = sizeof(pki_hc_checks) / sizeof(pki_hc_checks[0]);
