/* pki_health_checks.c — the checks `trove pki health-check` runs, with
 * Vault 1.13+'s names, parameters and verdicts: CA and CRL validity,
 * roots issuing leaves, role settings (localhost, globs with wildcards,
 * no_store), audit visibility, conditional requests, auto-tidy, the last
 * tidy, the number of stored certificates and ACME. Vault's
 * hardware_backed_root is left out: Trove has no managed keys.
 *
 * Each check reads through pki_hc_read (once per run, shared between
 * checks) and appends results; a path the server does not serve makes the
 * check report invalid_version, a refused read insufficient_permissions. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/x509.h>

#include "cli/cli.h"
#include "cli/pki.h"
#include "cli/pki_health.h"

#include "banned.h"

#define NS 1000000000LL

#define UNSUPPORTED_MSG                                                                                      \
	"The server does not serve this path, so this check could not run (it needs a server with the API "  \
	"of Vault 1.13 or later)."

/* ---- helpers ---------------------------------------------------------- */

static void denied(const struct pki_hc *hc, json_t *out, const char *endpoint, const char *consequence)
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

/* "2026-12-06" for an ASN1 time. */
static void day_of(const ASN1_TIME *t, char out[16])
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 || strftime(out, 16, "%Y-%m-%d", &tm) == 0)
		snprintf(out, 16, "unknown");
}

/* Seconds from a to b (b - a). */
static long long seconds_between(const ASN1_TIME *a, const ASN1_TIME *b)
{
	int days = 0, secs = 0;

	if (a == NULL || b == NULL || ASN1_TIME_diff(&days, &secs, a, b) != 1)
		return 0;
	return (long long)days * 86400 + secs;
}

/* Seconds from now to t. */
static long long seconds_until(const struct pki_hc *hc, const ASN1_TIME *t)
{
	ASN1_TIME *now = ASN1_TIME_set(NULL, hc->now);
	long long s = seconds_between(now, t);

	ASN1_TIME_free(now);
	return s;
}

/* A duration in nanoseconds as days, hours, minutes, seconds ("180d",
 * "1d12h", "200ms"). */
static void format_ns(long long ns, char *out, size_t size)
{
	struct buf b;
	long long s = ns / NS;

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

static bool is_self_signed_root(X509 *c)
{
	EVP_PKEY *k = X509_get0_pubkey(c);

	return X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(c)) == 0 && k != NULL &&
	       X509_verify(c, k) == 1;
}

static bool bool_field(const json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

static bool list_has(const json_t *list, const char *s, bool nocase)
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
static int issuer_ids(struct pki_hc *hc, const json_t **keys, bool *unsupported, bool none_ok, char **err)
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
static int issuer_cert(struct pki_hc *hc, const char *id, X509 **cert, bool *unsupported, char **err)
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

/* ---- ca_validity_period ----------------------------------------------- */

static int ca_validity_period(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	static const struct {
		enum pki_hc_status s;
		const char *root, *inter, *label;
	} windows[] = {
	    {PKI_HC_CRITICAL, "root_expiry_critical", "intermediate_expiry_critical", "critical"},
	    {PKI_HC_WARNING, "root_expiry_warning", "intermediate_expiry_warning", "warning"},
	    {PKI_HC_INFORMATIONAL, "root_expiry_informational", "intermediate_expiry_informational",
	     "informational"},
	};
	const json_t *ids, *v;
	bool unsupported = false;
	size_t i, w;
	struct buf msg;

	if (issuer_ids(hc, &ids, &unsupported, false, err) != 0)
		return -1;
	buf_init(&msg, BUF_CAP_DEFAULT);
	json_array_foreach(ids, i, v)
	{
		const char *id = json_string_value(v);
		X509 *c;
		char until[16], dur[32];
		long long left;
		enum pki_hc_status st = PKI_HC_OK;
		bool root;

		if (id == NULL)
			continue;
		if (issuer_cert(hc, id, &c, &unsupported, err) != 0) {
			buf_release(&msg);
			return -1;
		}
		if (c == NULL)
			continue;
		root = is_self_signed_root(c);
		left = seconds_until(hc, X509_get0_notAfter(c));
		day_of(X509_get0_notAfter(c), until);
		buf_reset(&msg);
		(void)buf_printf(&msg, "The issuer is valid until %s, outside every rotation window.", until);
		for (w = 0; w < sizeof(windows) / sizeof(windows[0]); w++) {
			long long d = pki_hc_cfg_ns(cfg, root ? windows[w].root : windows[w].inter);

			if (left < d / NS) {
				st = windows[w].s;
				format_ns(d, dur, sizeof(dur));
				buf_reset(&msg);
				(void)buf_printf(
				    &msg,
				    "The issuer expires on %s, less than %s from now (the %s window for %s). "
				    "Start moving to a new issuer and key now, before clients meet an "
				    "expired CA.",
				    until, dur, windows[w].label, root ? "a root" : "an intermediate");
				break;
			}
		}
		pki_hc_add(hc, out, st, msg.data, "/{{mount}}/issuer/%s", id);
		X509_free(c);
	}
	buf_release(&msg);
	if (unsupported) {
		json_array_clear(out);
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, UNSUPPORTED_MSG, "/{{mount}}/issuers");
	}
	return 0;
}

/* ---- crl_validity_period ---------------------------------------------- */

/* One CRL's freshness: critical once pct% of its validity has passed. */
static void judge_crl(const struct pki_hc *hc, json_t *out, const char *id, const char *what, X509_CRL *crl,
                      long long pct, bool disabled)
{
	const ASN1_TIME *this = X509_CRL_get0_lastUpdate(crl), *next = X509_CRL_get0_nextUpdate(crl);
	ASN1_TIME *now = ASN1_TIME_set(NULL, hc->now);
	long long used = seconds_between(this, now), total = next ? seconds_between(this, next) : 0;
	char from[16], to[16];
	struct buf msg;
	enum pki_hc_status st = PKI_HC_OK;

	ASN1_TIME_free(now);
	day_of(this, from);
	day_of(next, to);
	buf_init(&msg, BUF_CAP_DEFAULT);
	(void)buf_printf(&msg, "The %s is valid from %s to %s and fresh enough.", what, from, to);
	if (used >= total * pct / 100) {
		st = disabled ? PKI_HC_INFORMATIONAL : PKI_HC_CRITICAL;
		buf_reset(&msg);
		(void)buf_printf(
		    &msg,
		    "The %s (valid from %s to %s) has used %lld%% or more of its validity: rebuild it and "
		    "hand it to relying parties before it goes stale.%s",
		    what, from, to, pct, disabled ? " The CRL is disabled, so this matters less." : "");
	}
	pki_hc_add(hc, out, st, msg.data, "/{{mount}}/issuer/%s/crl%s", id,
	           strcmp(what, "CRL") == 0 ? "" : "/delta");
	buf_release(&msg);
}

/* Reads issuer/<id>/crl[/delta]: 1 with *crl, 0 when absent. */
static int issuer_crl(struct pki_hc *hc, const char *id, bool delta, X509_CRL **crl, bool *unsupported,
                      char **err)
{
	struct buf p;
	const json_t *data;
	const char *pem;
	BIO *bio;
	int k;

	*crl = NULL;
	buf_init(&p, BUF_CAP_DEFAULT);
	(void)buf_printf(&p, "issuer/%s/crl%s", id, delta ? "/delta" : "");
	k = pki_hc_read(hc, "GET", p.data, &data, err);
	if (k == PKI_HC_READ_UNSUPPORTED)
		*unsupported = true;
	if (k == PKI_HC_READ_OK) {
		pem = json_string_value(json_object_get(data, "crl"));
		bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
		*crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (*crl == NULL) {
			buf_reset(&p);
			(void)buf_printf(&p, "the %sCRL of issuer %s does not parse", delta ? "delta " : "",
			                 id);
			*err = buf_take(&p);
			k = -1;
		}
	}
	buf_release(&p);
	return k < 0 ? -1 : *crl != NULL;
}

static int crl_validity_period(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *ids, *v, *crl_cfg;
	bool unsupported = false, no_deltas = false, disabled = false, any_delta = false;
	json_t *found = json_array();
	size_t i;
	int k, r = -1;

	if (issuer_ids(hc, &ids, &unsupported, false, err) != 0)
		goto out;
	json_array_foreach(ids, i, v)
	{
		const char *id = json_string_value(v);
		X509_CRL *crl = NULL;

		if (id == NULL)
			continue;
		k = issuer_crl(hc, id, false, &crl, &unsupported, err);
		X509_CRL_free(crl);
		if (k < 0)
			goto out;
		if (k == 0)
			continue;
		json_array_append_new(found, json_pack("{s:s, s:b}", "id", id, "delta", 0));
		k = issuer_crl(hc, id, true, &crl, &no_deltas, err);
		X509_CRL_free(crl);
		if (k < 0)
			goto out;
		if (k == 1) {
			any_delta = true;
			json_array_append_new(found, json_pack("{s:s, s:b}", "id", id, "delta", 1));
		}
	}
	if ((k = pki_hc_read(hc, "GET", "config/crl", &crl_cfg, err)) < 0)
		goto out;
	if (unsupported) {
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, UNSUPPORTED_MSG, "/{{mount}}/issuers");
		r = 0;
		goto out;
	}
	if (k == PKI_HC_READ_DENIED)
		denied(
		    hc, out, "/{{mount}}/config/crl",
		    "Without config/crl the check cannot see whether the CRL is disabled, which would make "
		    "a stale CRL matter less.");
	disabled = bool_field(crl_cfg, "disabled");
	if (no_deltas && !any_delta)
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION,
		           "The server does not serve delta CRLs, so their validity was not checked.",
		           "/{{mount}}/issuer/*/crl/delta");
	json_array_foreach(found, i, v)
	{
		const char *id = json_string_value(json_object_get(v, "id"));
		bool is_delta = json_is_true(json_object_get(v, "delta"));
		X509_CRL *crl = NULL;
		bool ignored = false;

		if (issuer_crl(hc, id, is_delta, &crl, &ignored, err) == 1)
			judge_crl(hc, out, id, is_delta ? "delta CRL" : "CRL", crl,
			          pki_hc_cfg_int(cfg, is_delta ? "delta_crl_expiry_pct_critical"
			                                       : "crl_expiry_pct_critical"),
			          disabled);
		X509_CRL_free(crl);
	}
	r = 0;
out:
	json_decref(found);
	return r;
}

/* ---- root_issued_leaves ----------------------------------------------- */

static int root_issued_leaves(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *ids, *v, *certs, *serials = NULL;
	bool unsupported = false;
	STACK_OF(X509) *roots = sk_X509_new_null(), *leaves = sk_X509_new_null();
	json_t *root_ids = json_array(), *leaf_serials = json_array(), *flagged = json_array();
	long long want = pki_hc_cfg_int(cfg, "certs_to_fetch");
	size_t i;
	int k, r = -1, j, n;

	if (issuer_ids(hc, &ids, &unsupported, false, err) != 0)
		goto out;
	json_array_foreach(ids, i, v)
	{
		X509 *c;

		if (json_string_value(v) == NULL)
			continue;
		if (issuer_cert(hc, json_string_value(v), &c, &unsupported, err) != 0)
			goto out;
		if (c && is_self_signed_root(c)) {
			sk_X509_push(roots, c);
			json_array_append(root_ids, (json_t *)v);
		} else {
			X509_free(c);
		}
	}
	if ((k = pki_hc_read(hc, "LIST", "certs", &certs, err)) < 0)
		goto out;
	if (k == PKI_HC_READ_UNSUPPORTED)
		unsupported = true;
	if (k == PKI_HC_READ_DENIED) {
		denied(hc, out, "/{{mount}}/certs",
		       "Without the list of certificates this check cannot work.");
		r = 0;
		goto out;
	}
	serials = json_object_get(certs, "keys");
	json_array_foreach(serials, i, v)
	{
		const json_t *data;
		struct buf p;
		X509 *c = NULL;

		if ((long long)sk_X509_num(leaves) >= want || json_string_value(v) == NULL)
			break;
		buf_init(&p, BUF_CAP_DEFAULT);
		(void)buf_printf(&p, "cert/%s", json_string_value(v));
		k = pki_hc_read(hc, "GET", p.data, &data, err);
		buf_release(&p);
		if (k < 0)
			goto out;
		if (k == PKI_HC_READ_OK)
			c = pki_cert_from_pem(json_string_value(json_object_get(data, "certificate")));
		if (c && X509_check_ca(c) == 0) {
			sk_X509_push(leaves, c);
			json_array_append(leaf_serials, (json_t *)v);
		} else {
			X509_free(c);
		}
	}
	if (unsupported) {
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, UNSUPPORTED_MSG, "/{{mount}}/issuers");
		r = 0;
		goto out;
	}
	n = sk_X509_num(roots);
	for (i = 0; i < (size_t)sk_X509_num(leaves) && json_array_size(flagged) < (size_t)n; i++) {
		X509 *leaf = sk_X509_value(leaves, (int)i);

		for (j = 0; j < n; j++) {
			X509 *root = sk_X509_value(roots, j);
			const char *rid = json_string_value(json_array_get(root_ids, (size_t)j));
			struct buf msg;

			if (list_has(flagged, rid, false) ||
			    X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(root)) != 0 ||
			    X509_verify(leaf, X509_get0_pubkey(root)) != 1)
				continue;
			json_array_append_new(flagged, json_string(rid));
			buf_init(&msg, BUF_CAP_DEFAULT);
			(void)buf_printf(
			    &msg,
			    "This root issued a leaf certificate itself (serial %s) instead of leaving "
			    "that to an intermediate. Rotating a root that signs leaves takes cross-signing "
			    "the root itself; issue leaves from an intermediate and tidy the mount once "
			    "these leaves have expired.",
			    json_string_value(json_array_get(leaf_serials, i)));
			pki_hc_add(hc, out, PKI_HC_WARNING, msg.data, "/{{mount}}/issuer/%s", rid);
			buf_release(&msg);
		}
	}
	if (json_array_size(out) == 0 && n > 0)
		pki_hc_add(hc, out, PKI_HC_OK, "No root of this mount issued a leaf certificate directly.",
		           "/{{mount}}/certs");
	r = 0;
out:
	sk_X509_pop_free(roots, X509_free);
	sk_X509_pop_free(leaves, X509_free);
	json_decref(root_ids);
	json_decref(leaf_serials);
	json_decref(flagged);
	return r;
}

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
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, UNSUPPORTED_MSG, "/{{mount}}/roles");
		return 1;
	}
	if (k == PKI_HC_READ_DENIED) {
		denied(hc, out, "/{{mount}}/roles", "Without the list of roles this check cannot work.");
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
			denied(hc, out, p.data, "Without the role this check cannot judge it.");
		if (k == PKI_HC_READ_OK)
			json_object_set(*roles, json_string_value(v), (json_t *)data);
		buf_release(&p);
		if (k < 0)
			return -1;
	}
	if (unsupported) {
		json_array_clear(out);
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, UNSUPPORTED_MSG, "/{{mount}}/roles");
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

static int role_allows_localhost(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	json_t *roles, *role;
	const char *name;
	int r;

	(void)cfg;
	if ((r = load_roles(hc, out, &roles, err)) != 0)
		goto out;
	json_object_foreach(roles, name, role)
	{
		if (bool_field(role, "allow_localhost") &&
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

static int role_allows_glob_wildcards(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
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
		if (bool_field(role, "allow_wildcard_certificates") &&
		    bool_field(role, "allow_glob_domains") && has_glob(role))
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

static int role_no_store_false(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
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
		denied(hc, out, "/{{mount}}/config/crl",
		       "Without config/crl the check cannot see whether auto_rebuild lightens stored "
		       "certificates' cost.");
	rebuild = bool_field(crl_cfg, "auto_rebuild");
	json_object_foreach(roles, name, role)
	{
		if (bool_field(role, "no_store") ||
		    list_has(json_object_get(cfg, "allowed_roles"), name, false))
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

/* ---- the tune checks -------------------------------------------------- */

/* Reads sys/mounts/<mount>/tune. Returns 1 when the check is over
 * (results added), 0 with *tune, -1 with *err. */
static int load_tune(struct pki_hc *hc, json_t *out, const json_t **tune, char **err)
{
	struct buf p;
	int k;

	buf_init(&p, BUF_CAP_DEFAULT);
	(void)buf_printf(&p, "/sys/mounts/%s/tune", hc->mount);
	k = pki_hc_read(hc, "GET", p.data, tune, err);
	buf_release(&p);
	if (k < 0)
		return -1;
	if (k == PKI_HC_READ_UNSUPPORTED)
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, UNSUPPORTED_MSG, "/sys/mounts/{{mount}}/tune");
	if (k == PKI_HC_READ_DENIED)
		denied(hc, out, "/sys/mounts/{{mount}}/tune",
		       "Without the mount's tuning this check cannot work.");
	return k == PKI_HC_READ_UNSUPPORTED || k == PKI_HC_READ_DENIED;
}

/* Request and response fields worth reading in audit logs, and those
 * that carry keys and must stay HMAC'd. */
static const char *const visible_req[] = {
    "csr",
    "certificate",
    "issuer_ref",
    "common_name",
    "alt_names",
    "other_sans",
    "ip_sans",
    "uri_sans",
    "ttl",
    "not_after",
    "serial_number",
    "key_type",
    "private_key_format",
    "managed_key_name",
    "managed_key_id",
    "ou",
    "organization",
    "country",
    "locality",
    "province",
    "street_address",
    "postal_code",
    "permitted_dns_domains",
    "policy_identifiers",
    "ext_key_usage_oids",
    NULL,
};
static const char *const visible_resp[] = {"certificate", "issuing_ca", "serial_number",
                                           "error",       "ca_chain",   NULL};
static const char *const hidden[] = {"private_key", "pem_bundle", NULL};

static void audit_keys(const struct pki_hc *hc, json_t *out, const json_t *tune, const json_t *ignored,
                       const char *source, const char *const *visible)
{
	const json_t *list = json_object_get(tune, source);
	struct buf msg;
	size_t i;

	buf_init(&msg, BUF_CAP_DEFAULT);
	for (i = 0; visible[i]; i++) {
		if (list_has(list, visible[i], false) || list_has(ignored, visible[i], false))
			continue;
		buf_reset(&msg);
		(void)buf_printf(
		    &msg,
		    "Audit entries HMAC %s (%s does not list it); it is not secret, and in clear it "
		    "makes the audit trail more useful.",
		    visible[i], source);
		pki_hc_add(hc, out, PKI_HC_INFORMATIONAL, msg.data, "/sys/mounts/{{mount}}/tune");
	}
	for (i = 0; hidden[i]; i++) {
		if (!list_has(list, hidden[i], false) || list_has(ignored, hidden[i], false))
			continue;
		buf_reset(&msg);
		(void)buf_printf(
		    &msg,
		    "Audit entries show %s in clear because %s lists it; it carries private keys "
		    "and should stay HMAC'd.",
		    hidden[i], source);
		pki_hc_add(hc, out, PKI_HC_WARNING, msg.data, "/sys/mounts/{{mount}}/tune");
	}
	buf_release(&msg);
}

static int audit_visibility(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *tune, *ignored = json_object_get(cfg, "ignored_parameters");
	int k = load_tune(hc, out, &tune, err);

	if (k != 0)
		return k < 0 ? -1 : 0;
	audit_keys(hc, out, tune, ignored, "audit_non_hmac_request_keys", visible_req);
	audit_keys(hc, out, tune, ignored, "audit_non_hmac_response_keys", visible_resp);
	if (json_array_size(out) == 0)
		pki_hc_add(hc, out, PKI_HC_OK,
		           "What the audit log shows of this mount's requests and responses is as "
		           "recommended.",
		           "/sys/mounts/{{mount}}/tune");
	return 0;
}

static int allow_if_modified_since(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *tune;
	int k = load_tune(hc, out, &tune, err);

	(void)cfg;
	if (k != 0)
		return k < 0 ? -1 : 0;
	if (list_has(json_object_get(tune, "passthrough_request_headers"), "If-Modified-Since", true) &&
	    list_has(json_object_get(tune, "allowed_response_headers"), "Last-Modified", true))
		pki_hc_add(
		    hc, out, PKI_HC_OK,
		    "The mount passes If-Modified-Since to the engine and Last-Modified back to clients.",
		    "/sys/mounts/{{mount}}/tune");
	else
		pki_hc_add(
		    hc, out, PKI_HC_INFORMATIONAL,
		    "The mount does not pass the If-Modified-Since request header and the Last-Modified "
		    "response header. With both, clients fetch CAs and CRLs only when they changed.",
		    "/sys/mounts/{{mount}}/tune");
	return 0;
}

/* ---- tidy ------------------------------------------------------------- */

static void too_long(const struct pki_hc *hc, json_t *out, const json_t *cfg, const char *field, long long ns,
                     const char *crit, const char *warn)
{
	struct buf msg;
	char dur[32];
	enum pki_hc_status st;

	if (ns >= pki_hc_cfg_ns(cfg, crit))
		st = PKI_HC_CRITICAL;
	else if (ns >= pki_hc_cfg_ns(cfg, warn))
		st = PKI_HC_WARNING;
	else
		return;
	format_ns(ns, dur, sizeof(dur));
	buf_init(&msg, BUF_CAP_DEFAULT);
	(void)buf_printf(&msg,
	                 "Auto-tidy's %s is long (%s): tidy runs too seldom or takes too long, and the mount "
	                 "slows down as expired certificates pile up.",
	                 field, dur);
	pki_hc_add(hc, out, st, msg.data, "/{{mount}}/config/auto-tidy");
	buf_release(&msg);
}

static int enable_auto_tidy(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *tidy;
	int k = pki_hc_read(hc, "GET", "config/auto-tidy", &tidy, err);

	if (k < 0)
		return -1;
	if (k == PKI_HC_READ_UNSUPPORTED)
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, UNSUPPORTED_MSG, "/{{mount}}/config/auto-tidy");
	else if (k == PKI_HC_READ_DENIED)
		denied(hc, out, "/{{mount}}/config/auto-tidy",
		       "Without the auto-tidy settings this check cannot work.");
	if (k != PKI_HC_READ_OK)
		return 0;
	if (!bool_field(tidy, "enabled")) {
		pki_hc_add(
		    hc, out, PKI_HC_INFORMATIONAL,
		    "Auto-tidy is off. Turning it on removes expired certificates and revocation entries "
		    "periodically, which keeps the mount fast.",
		    "/{{mount}}/config/auto-tidy");
		return 0;
	}
	too_long(hc, out, cfg, "interval_duration", pki_hc_cfg_ns(tidy, "interval_duration"),
	         "interval_duration_critical", "interval_duration_warning");
	too_long(hc, out, cfg, "pause_duration", pki_hc_cfg_ns(tidy, "pause_duration"),
	         "pause_duration_critical", "pause_duration_warning");
	if (json_array_size(out) == 0)
		pki_hc_add(hc, out, PKI_HC_OK, "Auto-tidy is on, with reasonable settings.",
		           "/{{mount}}/config/auto-tidy");
	return 0;
}

static int tidy_last_run(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *st;
	const char *when;
	time_t t;
	char dur[32];
	struct buf msg;
	long long age;
	bool crit;
	int k = pki_hc_read(hc, "GET", "tidy-status", &st, err);

	if (k < 0)
		return -1;
	if (k == PKI_HC_READ_UNSUPPORTED)
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, UNSUPPORTED_MSG, "/{{mount}}/tidy-status");
	else if (k == PKI_HC_READ_DENIED)
		denied(hc, out, "/{{mount}}/tidy-status", "Without the tidy status this check cannot work.");
	if (k != PKI_HC_READ_OK)
		return 0;
	when = json_string_value(json_object_get(st, "time_finished"));
	if (when == NULL || *when == '\0') {
		pki_hc_add(
		    hc, out, PKI_HC_CRITICAL,
		    "Tidy has not run since the mount was made: check the auto-tidy settings or whatever "
		    "runs tidy, or turn auto-tidy on.",
		    "/{{mount}}/tidy-status");
		return 0;
	}
	if (!cli_parse_rfc3339(when, &t)) {
		buf_init(&msg, BUF_CAP_DEFAULT);
		(void)buf_printf(&msg, "tidy-status answered a time_finished that is not a time: %s", when);
		*err = buf_take(&msg);
		buf_release(&msg);
		return -1;
	}
	age = (long long)(hc->now - t) * NS;
	crit = age > pki_hc_cfg_ns(cfg, "last_run_critical");
	if (!crit && age <= pki_hc_cfg_ns(cfg, "last_run_warning")) {
		pki_hc_add(hc, out, PKI_HC_OK, "Tidy ran recently on this mount.", "/{{mount}}/tidy-status");
		return 0;
	}
	format_ns(pki_hc_cfg_ns(cfg, crit ? "last_run_critical" : "last_run_warning"), dur, sizeof(dur));
	buf_init(&msg, BUF_CAP_DEFAULT);
	(void)buf_printf(&msg,
	                 "Tidy has not run in the last %s: check the auto-tidy settings or whatever runs "
	                 "tidy; without it the mount slows down.",
	                 dur);
	pki_hc_add(hc, out, crit ? PKI_HC_CRITICAL : PKI_HC_WARNING, msg.data, "/{{mount}}/tidy-status");
	buf_release(&msg);
	return 0;
}

static int too_many_certs(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *certs;
	long long n;
	struct buf msg;
	enum pki_hc_status st = PKI_HC_OK;
	int k = pki_hc_read(hc, "LIST", "certs", &certs, err);

	if (k < 0)
		return -1;
	if (k == PKI_HC_READ_UNSUPPORTED) {
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, UNSUPPORTED_MSG, "/{{mount}}/certs");
		return 0;
	}
	if (k == PKI_HC_READ_DENIED) {
		denied(hc, out, "/{{mount}}/certs",
		       "Without the list of certificates this check cannot work.");
		return 0;
	}
	n = (long long)json_array_size(json_object_get(certs, "keys"));
	buf_init(&msg, BUF_CAP_DEFAULT);
	(void)buf_printf(&msg, "The mount stores %lld certificates, a reasonable number.", n);
	if (n >= pki_hc_cfg_int(cfg, "count_warning")) {
		st = n >= pki_hc_cfg_int(cfg, "count_critical") ? PKI_HC_CRITICAL : PKI_HC_WARNING;
		buf_reset(&msg);
		(void)buf_printf(
		    &msg,
		    "The mount stores %lld certificates, which weighs on its storage: set no_store=true "
		    "on roles whose certificates need not be listed, tidy periodically and issue "
		    "shorter-lived certificates.",
		    n);
	}
	pki_hc_add(hc, out, st, msg.data, "/{{mount}}/certs");
	buf_release(&msg);
	return 0;
}

/* ---- ACME ------------------------------------------------------------- */

/* Reads config/acme; 1 when the check is over (results added). */
static int load_acme(struct pki_hc *hc, json_t *out, const json_t **acme, char **err)
{
	int k = pki_hc_read(hc, "GET", "config/acme", acme, err);

	if (k < 0)
		return -1;
	if (k == PKI_HC_READ_UNSUPPORTED)
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, UNSUPPORTED_MSG, "/{{mount}}/config/acme");
	if (k == PKI_HC_READ_DENIED)
		denied(hc, out, "/{{mount}}/config/acme",
		       "Without the ACME settings this check cannot work.");
	return k == PKI_HC_READ_UNSUPPORTED || k == PKI_HC_READ_DENIED;
}

/* Why the cluster path cannot serve ACME, or NULL (heap). */
static char *acme_path_problem(struct pki_hc *hc, const json_t *cluster)
{
	const char *path = json_string_value(json_object_get(cluster, "path"));
	struct buf b, url;
	char *why = NULL;
	size_t len;

	buf_init(&b, BUF_CAP_DEFAULT);
	if (path == NULL || *path == '\0')
		(void)buf_printf(&b, "path is not set in /%s/config/cluster", hc->mount);
	else if (strncasecmp(path, "https://", 8) != 0)
		(void)buf_printf(&b, "path in /%s/config/cluster (%s) is not an https URL", hc->mount, path);
	if (b.len > 0 || hc->acme_directory == NULL)
		goto out;
	buf_init(&url, BUF_CAP_DEFAULT);
	len = strlen(path);
	while (len > 0 && path[len - 1] == '/')
		len--;
	(void)buf_append(&url, path, len);
	(void)buf_append_str(&url, "/acme/directory");
	if (hc->acme_directory(hc->ctx, url.data, &why) != 0)
		(void)buf_printf(&b,
		                 "the ACME directory %s (from path in /%s/config/cluster) did not answer: %s",
		                 url.data, hc->mount, why ? why : "no reason given");
	free(why);
	buf_release(&url);
out:
	why = b.len > 0 ? buf_take(&b) : NULL;
	buf_release(&b);
	return why;
}

static int enable_acme_issuance(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *acme, *cluster, *ids, *v;
	bool unsupported = false;
	size_t i, roots = 0, total = 0;
	char *problem;
	int k, kc;

	(void)cfg;
	if ((k = pki_hc_read(hc, "GET", "config/acme", &acme, err)) < 0 ||
	    (kc = pki_hc_read(hc, "GET", "config/cluster", &cluster, err)) < 0 ||
	    issuer_ids(hc, &ids, &unsupported, true, err) != 0)
		return -1;
	json_array_foreach(ids, i, v)
	{
		X509 *c;

		if (json_string_value(v) == NULL)
			continue;
		if (issuer_cert(hc, json_string_value(v), &c, &unsupported, err) != 0)
			return -1;
		total += c != NULL;
		roots += c != NULL && is_self_signed_root(c);
		X509_free(c);
	}
	if (k == PKI_HC_READ_UNSUPPORTED || kc == PKI_HC_READ_UNSUPPORTED) {
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, UNSUPPORTED_MSG, "/{{mount}}/config/%s",
		           k == PKI_HC_READ_UNSUPPORTED ? "acme" : "cluster");
		return 0;
	}
	if (k == PKI_HC_READ_DENIED) {
		denied(hc, out, "/{{mount}}/config/acme",
		       "Without the ACME settings this check cannot work.");
		return 0;
	}
	if (!bool_field(acme, "enabled")) {
		if (total == 0 || total == roots)
			pki_hc_add(hc, out, PKI_HC_NOT_APPLICABLE,
			           total == 0 ? "The mount has no issuers, so it needs no ACME."
			                      : "The mount has only roots, which should not serve ACME.",
			           "/{{mount}}/config/acme");
		else
			pki_hc_add(
			    hc, out, PKI_HC_INFORMATIONAL,
			    "ACME is off. With it on, servers can renew their own certificates before they "
			    "expire, with standard clients.",
			    "/{{mount}}/config/acme");
		return 0;
	}
	if (kc == PKI_HC_READ_DENIED) {
		denied(hc, out, "/{{mount}}/config/cluster",
		       "Without the cluster path this check cannot work.");
		return 0;
	}
	if ((problem = acme_path_problem(hc, cluster)) != NULL) {
		struct buf msg;

		buf_init(&msg, BUF_CAP_DEFAULT);
		(void)buf_printf(&msg, "ACME is on but cannot work: %s.", problem);
		pki_hc_add(hc, out, PKI_HC_WARNING, msg.data, "/{{mount}}/config/cluster");
		buf_release(&msg);
		free(problem);
		return 0;
	}
	pki_hc_add(hc, out, PKI_HC_OK, "ACME is on and its directory answers at the cluster path.",
	           "/{{mount}}/config/cluster");
	return 0;
}

static int allow_acme_headers(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	static const char *const need[] = {"Replay-Nonce", "Link", "Location"};
	const json_t *acme, *tune, *allowed;
	size_t i;
	bool all = true;
	int k;

	(void)cfg;
	if ((k = load_acme(hc, out, &acme, err)) != 0)
		return k < 0 ? -1 : 0;
	if (!bool_field(acme, "enabled")) {
		pki_hc_add(hc, out, PKI_HC_NOT_APPLICABLE,
		           "ACME is off, so no response header needs allowing.", "/{{mount}}/config/acme");
		return 0;
	}
	if ((k = load_tune(hc, out, &tune, err)) != 0)
		return k < 0 ? -1 : 0;
	allowed = json_object_get(tune, "allowed_response_headers");
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		all = all && list_has(allowed, need[i], true);
	pki_hc_add(
	    hc, out, all ? PKI_HC_OK : PKI_HC_WARNING,
	    all ? "The mount passes the Replay-Nonce, Link and Location response headers ACME needs."
	        : "ACME clients need the Replay-Nonce, Link and Location response headers, and the mount's "
	          "allowed_response_headers does not pass them all.",
	    "/sys/mounts/{{mount}}/tune");
	return 0;
}

/* ---- the table -------------------------------------------------------- */

const struct pki_hc_check pki_hc_checks[] = {
    {"ca_validity_period",
     "{\"root_expiry_critical\": \"180d\", \"intermediate_expiry_critical\": \"30d\", "
     "\"root_expiry_warning\": \"365d\", \"intermediate_expiry_warning\": \"60d\", "
     "\"root_expiry_informational\": \"730d\", \"intermediate_expiry_informational\": \"180d\"}",
     ca_validity_period},
    {"crl_validity_period",
     "{\"crl_expiry_pct_critical\": \"95\", \"delta_crl_expiry_pct_critical\": \"95\"}", crl_validity_period},
    {"root_issued_leaves", "{\"certs_to_fetch\": 100}", root_issued_leaves},
    {"role_allows_localhost", "{}", role_allows_localhost},
    {"role_allows_glob_wildcards", "{}", role_allows_glob_wildcards},
    {"role_no_store_false", "{\"allowed_roles\": []}", role_no_store_false},
    {"audit_visibility", "{\"ignored_parameters\": []}", audit_visibility},
    {"allow_if_modified_since", "{}", allow_if_modified_since},
    {"enable_auto_tidy",
     "{\"interval_duration_critical\": \"7d\", \"interval_duration_warning\": \"2d\", "
     "\"pause_duration_critical\": \"1s\", \"pause_duration_warning\": \"200ms\"}",
     enable_auto_tidy},
    {"tidy_last_run", "{\"last_run_critical\": \"7d\", \"last_run_warning\": \"2d\"}", tidy_last_run},
    {"too_many_certs", "{\"count_critical\": 250000, \"count_warning\": 50000}", too_many_certs},
    {"enable_acme_issuance", "{}", enable_acme_issuance},
    {"allow_acme_headers", "{}", allow_acme_headers},
};

const size_t pki_hc_nchecks = sizeof(pki_hc_checks) / sizeof(pki_hc_checks[0]);
