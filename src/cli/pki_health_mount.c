/* pki_health_mount.c — the health checks on the mount's settings: what
 * audit entries show (audit_visibility), conditional requests
 * (allow_if_modified_since), auto-tidy and the last tidy
 * (enable_auto_tidy, tidy_last_run), the number of stored certificates
 * (too_many_certs) and ACME (enable_acme_issuance, allow_acme_headers). */
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
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, PKI_HC_UNSUPPORTED_MSG,
		           "/sys/mounts/{{mount}}/tune");
	if (k == PKI_HC_READ_DENIED)
		pki_hc_denied(hc, out, "/sys/mounts/{{mount}}/tune",
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
		if (pki_hc_list_has(list, visible[i], false) || pki_hc_list_has(ignored, visible[i], false))
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
		if (!pki_hc_list_has(list, hidden[i], false) || pki_hc_list_has(ignored, hidden[i], false))
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

int pki_hc_audit_visibility(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
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

int pki_hc_allow_if_modified_since(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *tune;
	int k = load_tune(hc, out, &tune, err);

	(void)cfg;
	if (k != 0)
		return k < 0 ? -1 : 0;
	if (pki_hc_list_has(json_object_get(tune, "passthrough_request_headers"), "If-Modified-Since",
	                    true) &&
	    pki_hc_list_has(json_object_get(tune, "allowed_response_headers"), "Last-Modified", true))
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
	pki_hc_format_ns(ns, dur, sizeof(dur));
	buf_init(&msg, BUF_CAP_DEFAULT);
	(void)buf_printf(&msg,
	                 "Auto-tidy's %s is long (%s): tidy runs too seldom or takes too long, and the mount "
	                 "slows down as expired certificates pile up.",
	                 field, dur);
	pki_hc_add(hc, out, st, msg.data, "/{{mount}}/config/auto-tidy");
	buf_release(&msg);
}

int pki_hc_enable_auto_tidy(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *tidy;
	int k = pki_hc_read(hc, "GET", "config/auto-tidy", &tidy, err);

	if (k < 0)
		return -1;
	if (k == PKI_HC_READ_UNSUPPORTED)
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, PKI_HC_UNSUPPORTED_MSG,
		           "/{{mount}}/config/auto-tidy");
	else if (k == PKI_HC_READ_DENIED)
		pki_hc_denied(hc, out, "/{{mount}}/config/auto-tidy",
		              "Without the auto-tidy settings this check cannot work.");
	if (k != PKI_HC_READ_OK)
		return 0;
	if (!pki_hc_bool(tidy, "enabled")) {
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

int pki_hc_tidy_last_run(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
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
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, PKI_HC_UNSUPPORTED_MSG, "/{{mount}}/tidy-status");
	else if (k == PKI_HC_READ_DENIED)
		pki_hc_denied(hc, out, "/{{mount}}/tidy-status",
		              "Without the tidy status this check cannot work.");
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
	/* compared in seconds: a time far off (year 1, 9999) overflows in ns */
	age = (long long)(hc->now - t);
	crit = age > pki_hc_cfg_ns(cfg, "last_run_critical") / PKI_HC_NS;
	if (!crit && age <= pki_hc_cfg_ns(cfg, "last_run_warning") / PKI_HC_NS) {
		pki_hc_add(hc, out, PKI_HC_OK, "Tidy ran recently on this mount.", "/{{mount}}/tidy-status");
		return 0;
	}
	pki_hc_format_ns(pki_hc_cfg_ns(cfg, crit ? "last_run_critical" : "last_run_warning"), dur,
	                 sizeof(dur));
	buf_init(&msg, BUF_CAP_DEFAULT);
	(void)buf_printf(&msg,
	                 "Tidy has not run in the last %s: check the auto-tidy settings or whatever runs "
	                 "tidy; without it the mount slows down.",
	                 dur);
	pki_hc_add(hc, out, crit ? PKI_HC_CRITICAL : PKI_HC_WARNING, msg.data, "/{{mount}}/tidy-status");
	buf_release(&msg);
	return 0;
}

int pki_hc_too_many_certs(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *certs;
	long long n;
	struct buf msg;
	enum pki_hc_status st = PKI_HC_OK;
	int k = pki_hc_read(hc, "LIST", "certs", &certs, err);

	if (k < 0)
		return -1;
	if (k == PKI_HC_READ_UNSUPPORTED) {
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, PKI_HC_UNSUPPORTED_MSG, "/{{mount}}/certs");
		return 0;
	}
	if (k == PKI_HC_READ_DENIED) {
		pki_hc_denied(hc, out, "/{{mount}}/certs",
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
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, PKI_HC_UNSUPPORTED_MSG, "/{{mount}}/config/acme");
	if (k == PKI_HC_READ_DENIED)
		pki_hc_denied(hc, out, "/{{mount}}/config/acme",
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

int pki_hc_enable_acme_issuance(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	const json_t *acme, *cluster, *ids, *v;
	bool unsupported = false;
	size_t i, roots = 0, total = 0;
	char *problem;
	int k, kc;

	(void)cfg;
	if ((k = pki_hc_read(hc, "GET", "config/acme", &acme, err)) < 0 ||
	    (kc = pki_hc_read(hc, "GET", "config/cluster", &cluster, err)) < 0 ||
	    pki_hc_issuer_ids(hc, &ids, &unsupported, true, err) != 0)
		return -1;
	json_array_foreach(ids, i, v)
	{
		X509 *c;

		if (json_string_value(v) == NULL)
			continue;
		if (pki_hc_issuer_cert(hc, json_string_value(v), &c, &unsupported, err) != 0)
			return -1;
		total += c != NULL;
		roots += c != NULL && pki_hc_is_root(c);
		X509_free(c);
	}
	if (k == PKI_HC_READ_UNSUPPORTED || kc == PKI_HC_READ_UNSUPPORTED) {
		pki_hc_add(hc, out, PKI_HC_INVALID_VERSION, PKI_HC_UNSUPPORTED_MSG, "/{{mount}}/config/%s",
		           k == PKI_HC_READ_UNSUPPORTED ? "acme" : "cluster");
		return 0;
	}
	if (k == PKI_HC_READ_DENIED) {
		pki_hc_denied(hc, out, "/{{mount}}/config/acme",
		              "Without the ACME settings this check cannot work.");
		return 0;
	}
	if (!pki_hc_bool(acme, "enabled")) {
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
		pki_hc_denied(hc, out, "/{{mount}}/config/cluster",
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

int pki_hc_allow_acme_headers(struct pki_hc *hc, const json_t *cfg, json_t *out, char **err)
{
	static const char *const need[] = {"Replay-Nonce", "Link", "Location"};
	const json_t *acme, *tune, *allowed;
	size_t i;
	bool all = true;
	int k;

	(void)cfg;
	if ((k = load_acme(hc, out, &acme, err)) != 0)
		return k < 0 ? -1 : 0;
	if (!pki_hc_bool(acme, "enabled")) {
		pki_hc_add(hc, out, PKI_HC_NOT_APPLICABLE,
		           "ACME is off, so no response header needs allowing.", "/{{mount}}/config/acme");
		return 0;
	}
	if ((k = load_tune(hc, out, &tune, err)) != 0)
		return k < 0 ? -1 : 0;
	allowed = json_object_get(tune, "allowed_response_headers");
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		all = all && pki_hc_list_has(allowed, need[i], true);
	pki_hc_add(
	    hc, out, all ? PKI_HC_OK : PKI_HC_WARNING,
	    all ? "The mount passes the Replay-Nonce, Link and Location response headers ACME needs."
	        : "ACME clients need the Replay-Nonce, Link and Location response headers, and the mount's "
	          "allowed_response_headers does not pass them all.",
	    "/sys/mounts/{{mount}}/tune");
	return 0;
}
