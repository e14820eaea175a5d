/* pki_health_ca.c — the health checks on the CA material itself: how long
 * each issuer has left (ca_validity_period), how fresh each CRL is
 * (crl_validity_period) and whether a root signed leaves directly
 * (root_issued_leaves). Certificates and CRLs are parsed here, with
 * OpenSSL, from what the server answers. */
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

/* ---- times ------------------------------------------------------------ */

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

/* ---- ca_validity_period ---------------------------------------------- */

int pki_hc_ca_validity_period(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
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

	if (pki_hc_issuer_ids(hc, &ids, &unsupported, false, err) != 0)
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
		if (pki_hc_issuer_cert(hc, id, &c, &unsupported, err) != 0) {
			buf_release(&msg);
			return -1;
		}
		if (c == NULL)
			continue;
		root = pki_hc_is_root(c);
		left = seconds_until(hc, X509_get0_notAfter(c));
		day_of(X509_get0_notAfter(c), until);
		buf_reset(&msg);
		(void)buf_printf(&msg, "The issuer is valid until %s, outside every rotation window.", until);
		for (w = 0; w < sizeof(windows) / sizeof(windows[0]); w++) {
			long long d = pki_hc_cfg_ns(cfg, root ? windows[w].root : windows[w].inter);

			if (left < d / PKI_HC_NS) {
				st = windows[w].s;
				pki_hc_format_ns(d, dur, sizeof(dur));
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
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, PKI_HC_UNSUPPORTED_MSG, "/{{mount}}/issuers");
	}
	return 0;
}

/* ---- crl_validity_period --------------------------------------------- */

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

/* Reads issuer/<id>/crl[/delta]: 1 with *crl, 0 when absent (also an
 * empty "crl", the answer for a CRL not built: deltas disabled). */
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
	pem = k == PKI_HC_READ_OK ? json_string_value(json_object_get(data, "crl")) : NULL;
	if (pem && !pem[0])
		k = PKI_HC_READ_EMPTY; /* Vault's answer when there is no such CRL */
	if (k == PKI_HC_READ_OK) {
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

int pki_hc_crl_validity_period(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *ids, *v, *crl_cfg;
	bool unsupported = false, no_deltas = false, disabled = false, any_delta = false;
	json_t *found = json_array();
	size_t i;
	int k, r = -1;

	if (pki_hc_issuer_ids(hc, &ids, &unsupported, false, err) != 0)
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
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, PKI_HC_UNSUPPORTED_MSG, "/{{mount}}/issuers");
		r = 0;
		goto out;
	}
	if (k == PKI_HC_READ_DENIED)
		pki_hc_denied(
		    hc, out, "/{{mount}}/config/crl",
		    "Without config/crl the check cannot see whether the CRL is disabled, which would make "
		    "a stale CRL matter less.");
	disabled = pki_hc_bool(crl_cfg, "disabled");
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

/* ---- root_issued_leaves ---------------------------------------------- */

int pki_hc_root_issued_leaves(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *ids, *v, *certs, *serials = NULL;
	bool unsupported = false;
	STACK_OF(X509) *roots = sk_X509_new_null(), *leaves = sk_X509_new_null();
	json_t *root_ids = json_array(), *leaf_serials = json_array(), *flagged = json_array();
	long long want = pki_hc_cfg_int(cfg, "certs_to_fetch");
	size_t i;
	int k, r = -1, j, n;

	if (pki_hc_issuer_ids(hc, &ids, &unsupported, false, err) != 0)
		goto out;
	json_array_foreach(ids, i, v)
	{
		X509 *c;

		if (json_string_value(v) == NULL)
			continue;
		if (pki_hc_issuer_cert(hc, json_string_value(v), &c, &unsupported, err) != 0)
			goto out;
		if (c && pki_hc_is_root(c)) {
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
		pki_hc_denied(hc, out, "/{{mount}}/certs",
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
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, PKI_HC_UNSUPPORTED_MSG, "/{{mount}}/issuers");
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

			if (pki_hc_list_has(flagged, rid, false) ||
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
