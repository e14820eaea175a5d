/* names.c — the name policy of a PKI role (names.h).
 *
 * The order and the messages follow Vault's GenerateCreationBundle: the
 * common name (from the CSR when use_csr_common_name, else the request;
 * required unless require_cn is off), the subject serial number, the DNS
 * names and email addresses (the CN among them unless excluded), other
 * SANs, IP SANs, URI SANs, user IDs. The domain rules are Vault's
 * ValidateNames; where Vault compares with the case of the request, this
 * compares canonical (lower-case) names, and where Vault would turn an
 * internationalised name into punycode, this wants it sent as punycode. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "names.h"
#include "role.h"

#include "core/acl.h"
#include "err.h"

#include "banned.h"

void pki_names_init(struct pki_names *n)
{
	memset(n, 0, sizeof(*n));
	strlist_init(&n->dns);
	strlist_init(&n->emails);
	strlist_init(&n->ips);
	strlist_init(&n->uris);
	strlist_init(&n->other_sans);
	strlist_init(&n->user_ids);
}

void pki_names_release(struct pki_names *n)
{
	if (!n)
		return;
	free(n->common_name);
	free(n->serial_number);
	free(n->refused);
	strlist_release(&n->dns);
	strlist_release(&n->emails);
	strlist_release(&n->ips);
	strlist_release(&n->uris);
	strlist_release(&n->other_sans);
	strlist_release(&n->user_ids);
	pki_names_init(n);
}

/* --- syntax ------------------------------------------------------------------------ */

bool pki_glob(const char *pattern, const char *s)
{
	const char *star = strchr(pattern, '*');
	if (!star)
		return strcmp(pattern, s) == 0;
	/* the part before the first '*' is a prefix */
	size_t n = (size_t)(star - pattern);
	if (strncmp(pattern, s, n) != 0)
		return false;
	s += n;
	pattern = star + 1;
	/* each part between stars is found at its first place, in order */
	while ((star = strchr(pattern, '*')) != NULL) {
		n = (size_t)(star - pattern);
		const char *at = s;
		while (*at && strncmp(at, pattern, n) != 0)
			at++;
		if (strncmp(at, pattern, n) != 0)
			return false;
		s = at + n;
		pattern = star + 1;
	}
	/* the part after the last '*' is a suffix of what is left */
	size_t sl = strlen(s), pl = strlen(pattern);
	return sl >= pl && strcmp(s + sl - pl, pattern) == 0;
}

char *pki_name_canon(const char *name)
{
	if (!name || !*name)
		return NULL;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		if (*c <= 0x20 || *c >= 0x7f)
			return NULL;
	char *out = xstrdup(name);
	char *at = strrchr(out, '@');
	for (char *c = at ? at : out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return out;
}

static bool label_char(char c)
{
	return isalnum((unsigned char)c) || c == '-';
}

/* One label of n bytes: [a-z0-9] at both ends, '-' inside; a single '*'
 * anywhere in it when wild (Vault's four wildcard forms). */
static bool label_ok(const char *p, size_t n, bool wild)
{
	size_t stars = 0;
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '*' && wild) {
			stars++;
			continue;
		}
		if (!label_char(p[i]))
			return false;
	}
	if (stars > 1)
		return false;
	/* '-' may not touch either end, nor the wildcard */
	for (size_t i = 0; i < n; i++)
		if (p[i] == '-' && (i == 0 || i + 1 == n || p[i - 1] == '*' || p[i + 1] == '*'))
			return false;
	return true;
}

bool pki_hostname_ok(const char *name, bool wild)
{
	size_t len = strlen(name);
	if (len == 0 || len > 253)
		return false;
	const char *p = name;
	bool first = true;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		bool wild_here = wild && first && dot != NULL; /* a wildcard needs a parent */
		if (!label_ok(p, n, wild_here))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
		first = false;
	}
}

/* --- the domain rules (Vault's ValidateNames) ---------------------------------------- */

static bool has_suffix_label(const char *name, const char *dom)
{
	size_t nl = strlen(name), dl = strlen(dom);
	return nl > dl + 1 && name[nl - dl - 1] == '.' && strcmp(name + nl - dl, dom) == 0;
}

/* An allowed entry, lower-cased and template-expanded; NULL when it is
 * empty or a template that cannot be expanded for this caller. */
static char *allowed_entry(const char *e, bool templated, const json_t *ident)
{
	char *v;
	if (!*e)
		return NULL;
	if (templated && strstr(e, "{{")) {
		if (!ident)
			return NULL;
		v = acl_template_expand(e, ident);
		if (!v)
			return NULL;
	} else {
		v = xstrdup(e);
	}
	return v;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static bool domain_matches(const struct pki_role *r, const char *name, const char *reduced,
                           const char *email_dom, bool wild, const char *dom)
{
	if (r->allow_bare_domains && (strcmp(name, dom) == 0 || (email_dom && strcmp(email_dom, dom) == 0)))
		return true;
	if (r->allow_subdomains && (has_suffix_label(reduced, dom) || (wild && strcmp(reduced, dom) == 0)))
		return true;
	return r->allow_glob_domains && strchr(dom, '*') && pki_glob(dom, name);
}

static bool local_name(const char *s)
{
	return strcmp(s, "localhost") == 0 || strcmp(s, "localdomain") == 0;
}

static bool base_allows(const struct pki_role *r, const char *name, const char *reduced,
                        const char *email_dom, bool wild, const char *display_name)
{
	if (r->allow_localhost) {
		if (local_name(reduced))
			return true;
		if (r->allow_subdomains &&
		    (has_suffix_label(reduced, "localhost") || has_suffix_label(reduced, "localdomain")))
			return true;
	}
	if (r->allow_token_displayname && display_name && *display_name) {
		char *dn = xstrdup(display_name);
		lower(dn);
		bool ok = strcmp(name, dn) == 0;
		const char *dn_dom = strchr(dn, '@');
		if (!ok && r->allow_subdomains) {
			ok = (email_dom && dn_dom && has_suffix_label(reduced, dn_dom + 1)) ||
			     has_suffix_label(reduced, dn) || (wild && strcmp(reduced, dn) == 0);
		}
		free(dn);
		if (ok)
			return true;
	}
	return false;
}

bool pki_name_allowed(const struct pki_role *r, const char *name, const json_t *ident,
                      const char *display_name)
{
	const char *reduced = name, *email_dom = NULL;
	const char *at = strchr(name, '@');
	char *wild_label = NULL;
	bool wild = false, ok = false;

	if (at) {
		if (strchr(at + 1, '@') || at == name || !at[1])
			return false;
		reduced = email_dom = at + 1;
	}
	if (strchr(reduced, '*')) {
		/* RFC 6125: one '*' in the left-most label, and only when the
		 * role allows wildcards (this outranks allow_any_name) */
		wild = true;
		if (!r->allow_wildcard_certificates || email_dom || strchr(strchr(reduced, '*') + 1, '*'))
			return false;
		const char *dot = strchr(reduced, '.');
		if (dot && strchr(dot + 1, '*'))
			return false;
		wild_label = dot ? xstrndup(reduced, (size_t)(dot - reduced)) : xstrdup(reduced);
		reduced = dot ? dot + 1 : "";
	}
	if (r->enforce_hostnames && *reduced) {
		if (!pki_hostname_ok(reduced, false))
			goto out;
		if (wild && !label_ok(wild_label, strlen(wild_label), true))
			goto out;
	}
	if (r->allow_any_name || base_allows(r, name, reduced, email_dom, wild, display_name)) {
		ok = true;
		goto out;
	}
	for (size_t i = 0; i < r->allowed_domains.len && !ok; i++) {
		char *dom = allowed_entry(r->allowed_domains.items[i], r->allowed_domains_template, ident);
		if (!dom)
			continue;
		lower(dom);
		ok = domain_matches(r, name, reduced, email_dom, wild, dom);
		free(dom);
	}
out:
	free(wild_label);
	return ok;
}

/* --- the whole request ----------------------------------------------------------------- */

/* Records name as the offending one and the message, whose one "%s"
 * stands for name (copied in, never read as a format). */
static int refuse(struct pki_names *out, struct buf *why, const char *name, const char *fmt)
{
	const char *pct = strstr(fmt, "%s");
	free(out->refused);
	out->refused = xstrdup(name ? name : "");
	if (pct) {
		buf_append(why, fmt, (size_t)(pct - fmt));
		buf_append_str(why, out->refused);
		buf_append_str(why, pct + 2);
	} else {
		buf_append_str(why, fmt);
	}
	return TROVE_ERR_INVALID;
}

static void push_unique(struct strlist *l, const char *s)
{
	if (!strlist_contains(l, s))
		strlist_push(l, s);
}

static bool empty(const char *s)
{
	return !s || !*s;
}

/* Vault's ValidateCommonName: cn_validations disabled skips everything;
 * otherwise the domain rules, then an '@' needs "email" and anything
 * else "hostname". */
static bool common_name_ok(const struct pki_role *r, const char *cn, const struct pki_name_request *in,
                           bool disabled)
{
	if (disabled)
		return true;
	if (!pki_name_allowed(r, cn, in->ident, in->display_name))
		return false;
	const char *need = strchr(cn, '@') ? "email" : "hostname";
	return r->cn_validations.len == 0 || strlist_contains(&r->cn_validations, need);
}

static bool cn_disabled(const struct pki_role *r)
{
	return r->cn_validations.len == 1 && strcmp(r->cn_validations.items[0], "disabled") == 0;
}

/* The common name and the DNS names and email addresses to check. */
static int collect_names(const struct pki_role *r, const struct pki_name_request *in, struct pki_names *out,
                         struct buf *why)
{
	const struct pki_csr_names *csr = in->csr;
	const char *cn = NULL;
	bool disabled = cn_disabled(r);

	if (csr && r->use_csr_common_name && !empty(csr->common_name))
		cn = csr->common_name;
	if (empty(cn))
		cn = in->common_name;
	if (empty(cn) && r->require_cn)
		return refuse(
		    out, why, "common_name",
		    "the %s field is required, or must be provided in a CSR with \"use_csr_common_name\" "
		    "set to true, unless \"require_cn\" is set to false");
	char *ccn = empty(cn) ? xstrdup("") : disabled ? xstrdup(cn) : pki_name_canon(cn);
	if (!ccn)
		return refuse(out, why, cn, "common name %s not allowed by this role");
	out->common_name = ccn;

	const struct strlist *dns = NULL, *emails = NULL;
	if (csr && r->use_csr_sans) {
		dns = csr->dns;
		emails = csr->emails;
	}
	for (size_t i = 0; dns && i < dns->len; i++) {
		char *c = pki_name_canon(dns->items[i]);
		if (!c || strchr(c, '@') || !pki_hostname_ok(c, true)) {
			free(c);
			return refuse(out, why, dns->items[i],
			              "subject alternate name %s is not a valid DNS name and cannot be "
			              "included as a SAN");
		}
		push_unique(&out->dns, c);
		free(c);
	}
	for (size_t i = 0; emails && i < emails->len; i++) {
		char *c = pki_name_canon(emails->items[i]);
		if (!c)
			return refuse(out, why, emails->items[i],
			              "email address %s not allowed by this role");
		push_unique(&out->emails, c);
		free(c);
	}
	/* the CN is a SAN too unless excluded (a CN that is not a host
	 * name stays in the subject only, as in Vault) */
	if (*ccn && !in->exclude_cn_from_sans) {
		char *san = pki_name_canon(ccn); /* ccn is verbatim when cn_validations is disabled */
		if (san && strchr(san, '@'))
			push_unique(&out->emails, san);
		else if (san && pki_hostname_ok(san, true))
			push_unique(&out->dns, san);
		free(san);
	}
	if (!(csr && r->use_csr_sans) && in->alt_names) {
		for (size_t i = 0; i < in->alt_names->len; i++) {
			const char *v = in->alt_names->items[i];
			char *c = pki_name_canon(v);
			if (c && strchr(c, '@')) {
				push_unique(&out->emails, c);
			} else if (c && pki_hostname_ok(c, true)) {
				push_unique(&out->dns, c);
			} else {
				free(c);
				return refuse(
				    out, why, v,
				    "subject alternate name %s is not a valid DNS name and cannot be "
				    "included as a SAN");
			}
			free(c);
		}
	}
	if (*ccn && !common_name_ok(r, ccn, in, disabled))
		return refuse(out, why, ccn, "common name %s not allowed by this role");
	return 0;
}

static int check_serial(const struct pki_role *r, const struct pki_name_request *in, struct pki_names *out,
                        struct buf *why)
{
	const char *sn = in->serial_number;
	if (empty(sn) && in->csr && strcmp(r->serial_number_source, "json") != 0)
		sn = in->csr->serial_number;
	out->serial_number = xstrdup(sn ? sn : "");
	if (empty(sn))
		return 0;
	for (size_t i = 0; i < r->allowed_serial_numbers.len; i++) {
		const char *a = r->allowed_serial_numbers.items[i];
		if (*a && ((strchr(a, '*') && pki_glob(a, sn)) || strcmp(a, sn) == 0))
			return 0;
	}
	return refuse(out, why, sn, "serial_number %s not allowed by this role");
}

/* "<oid>;<type>:<value>" split; false unless the type is UTF8/UTF-8 and
 * the OID dotted decimal. */
static bool other_san_split(const char *s, char **oid, const char **value)
{
	const char *semi = strchr(s, ';');
	const char *colon = semi ? strchr(semi + 1, ':') : NULL;
	if (!semi || !colon)
		return false;
	size_t tn = (size_t)(colon - semi - 1);
	if (!((tn == 4 && strncasecmp(semi + 1, "utf8", 4) == 0) ||
	      (tn == 5 && strncasecmp(semi + 1, "utf-8", 5) == 0)))
		return false;
	*oid = xstrndup(s, (size_t)(semi - s));
	*value = colon + 1;
	if (!pki_oid_ok(*oid)) {
		free(*oid);
		*oid = NULL;
		return false;
	}
	return true;
}

/* Vault's ValidateOtherSANs: "*" alone allows anything; otherwise the
 * OID must be listed and the value match one of its globs. */
static int check_other_san(const struct pki_role *r, const char *req, struct pki_names *out, struct buf *why)
{
	char *oid = NULL;
	const char *value;
	int rc = 0;
	if (!other_san_split(req, &oid, &value))
		return refuse(out, why, req,
		              "could not parse requested other SAN %s: expected <oid>;UTF8:<value>");
	const struct strlist *al = &r->allowed_other_sans;
	if (!(al->len == 1 && strcmp(al->items[0], "*") == 0)) {
		bool oid_seen = false, ok = false;
		for (size_t i = 0; i < al->len && !ok; i++) {
			char *aoid = NULL;
			const char *aval;
			if (!other_san_split(al->items[i], &aoid, &aval))
				continue; /* refused at role write */
			if (strcmp(aoid, oid) == 0) {
				oid_seen = true;
				ok = pki_glob(aval, value);
			}
			free(aoid);
		}
		if (!oid_seen) {
			rc = refuse(out, why, oid, "other SAN OID %s not allowed by this role");
		} else if (!ok) {
			rc = refuse(out, why, value, "other SAN %s not allowed by this role");
			buf_printf(why, " (OID %s)", oid);
		}
	}
	if (rc == 0) {
		struct buf c;
		buf_init(&c, 4096);
		buf_printf(&c, "%s;UTF8:%s", oid, value);
		push_unique(&out->other_sans, c.data);
		buf_release(&c);
	}
	free(oid);
	return rc;
}

/* One IP address in the text form the certificate's reader will show:
 * dotted quad, or RFC 5952 IPv6; an IPv4-mapped address as IPv4. */
static bool ip_canon(const char *s, char out[INET6_ADDRSTRLEN])
{
	unsigned char a[16];
	if (inet_pton(AF_INET, s, a) == 1)
		return inet_ntop(AF_INET, a, out, INET6_ADDRSTRLEN) != NULL;
	if (inet_pton(AF_INET6, s, a) != 1)
		return false;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(a, mapped, 12) == 0)
		return inet_ntop(AF_INET, a + 12, out, INET6_ADDRSTRLEN) != NULL;
	return inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN) != NULL;
}

static int check_ips(const struct pki_role *r, const struct pki_name_request *in, struct pki_names *out,
                     struct buf *why)
{
	bool from_csr = in->csr && r->use_csr_sans;
	const struct strlist *ips = from_csr ? in->csr->ips : in->ip_sans;
	if (!ips || ips->len == 0)
		return 0;
	if (!r->allow_ip_sans)
		return refuse(
		    out, why, ips->items[0],
		    from_csr
		        ? "IP Subject Alternative Names are not allowed in this role, but was provided "
		          "some via CSR (%s)"
		        : "IP Subject Alternative Names are not allowed in this role, but was provided %s");
	for (size_t i = 0; i < ips->len; i++) {
		char c[INET6_ADDRSTRLEN];
		if (!ip_canon(ips->items[i], c))
			return refuse(out, why, ips->items[i], "the value \"%s\" is not a valid IP address");
		push_unique(&out->ips, c);
	}
	return 0;
}

/* An absolute URI: a scheme, then printable ASCII without spaces. */
static bool uri_ok(const char *u)
{
	const char *p = u;
	if (!isalpha((unsigned char)*p))
		return false;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (*p != ':')
		return false;
	for (const unsigned char *c = (const unsigned char *)u; *c; c++)
		if (*c <= 0x20 || *c >= 0x7f)
			return false;
	return true;
}

static bool uri_allowed(const struct pki_role *r, const char *uri, const json_t *ident)
{
	bool ok = false;
	for (size_t i = 0; i < r->allowed_uri_sans.len && !ok; i++) {
		char *a = allowed_entry(r->allowed_uri_sans.items[i], r->allowed_uri_sans_template, ident);
		if (!a)
			continue;
		ok = pki_glob(a, uri);
		free(a);
	}
	return ok;
}

static int check_uris(const struct pki_role *r, const struct pki_name_request *in, struct pki_names *out,
                      struct buf *why)
{
	bool from_csr = in->csr && r->use_csr_sans;
	const struct strlist *uris = from_csr ? in->csr->uris : in->uri_sans;
	if (!uris || uris->len == 0)
		return 0;
	if (r->allowed_uri_sans.len == 0)
		return refuse(
		    out, why, uris->items[0],
		    "URI Subject Alternative Names are not allowed in this role, but were provided (%s)");
	for (size_t i = 0; i < uris->len; i++) {
		const char *u = uris->items[i];
		if (!uri_ok(u))
			return refuse(out, why, u,
			              "the provided URI Subject Alternative Name \"%s\" is not a valid URI");
		if (!uri_allowed(r, u, in->ident))
			return refuse(out, why, u,
			              "URI Subject Alternative Name %s not allowed by this role");
		push_unique(&out->uris, u);
	}
	return 0;
}

/* Vault's ValidateUserId: none allowed by default; "*" allows any. */
static int check_user_ids(const struct pki_role *r, const struct pki_name_request *in, struct pki_names *out,
                          struct buf *why)
{
	for (size_t i = 0; in->user_ids && i < in->user_ids->len; i++) {
		const char *u = in->user_ids->items[i];
		bool ok = false;
		for (size_t j = 0; j < r->allowed_user_ids.len && !ok; j++) {
			const char *a = r->allowed_user_ids.items[j];
			ok = strcasecmp(a, u) == 0 || (*a && strchr(a, '*') && pki_glob(a, u));
		}
		if (!ok)
			return refuse(out, why, u, "user_id %s is not allowed by this role");
		push_unique(&out->user_ids, u);
	}
	return 0;
}

int pki_names_check(const struct pki_role *r, const struct pki_name_request *in, struct pki_names *out,
                    struct buf *why)
{
	int rc;
	pki_names_release(out);
	if ((rc = collect_names(r, in, out, why)) != 0 || (rc = check_serial(r, in, out, why)) != 0)
		return rc;
	for (size_t i = 0; i < out->dns.len; i++)
		if (!pki_name_allowed(r, out->dns.items[i], in->ident, in->display_name))
			return refuse(out, why, out->dns.items[i],
			              "subject alternate name %s not allowed by this role");
	for (size_t i = 0; i < out->emails.len; i++)
		if (!pki_name_allowed(r, out->emails.items[i], in->ident, in->display_name))
			return refuse(out, why, out->emails.items[i],
			              "email address %s not allowed by this role");
	const struct strlist *others[2] = {in->other_sans,
	                                   in->csr && r->use_csr_sans ? in->csr->other_sans : NULL};
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; others[k] && i < others[k]->len; i++)
			if ((rc = check_other_san(r, others[k]->items[i], out, why)) != 0)
				return rc;
	if ((rc = check_ips(r, in, out, why)) != 0 || (rc = check_uris(r, in, out, why)) != 0 ||
	    (rc = check_user_ids(r, in, out, why)) != 0)
		return rc;
	return 0;
}
