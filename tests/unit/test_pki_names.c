/* The PKI name policy (src/engines/pki/names.c): every rule of a role
 * over common names, DNS and email SANs, IP, URI and other SANs, subject
 * serial numbers and user IDs, with allowed and refused cases, the
 * canonical names returned, and the CSR's names when signing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "engines/pki/names.h"
#include "engines/pki/role.h"
#include "err.h"

/* A role with Vault's defaults and the fields of the JSON text laid over
 * them, validated. */
static void role_from(struct pki_role *r, const char *json)
{
	struct buf why;
	json_t *o = json_loads(json, 0, NULL);
	assert_non_null(o);
	buf_init(&why, 1024);
	pki_role_init(r);
	assert_int_equal(pki_role_apply_json(r, o, &why), 0);
	assert_int_equal(pki_role_validate(r, &why), 0);
	buf_release(&why);
	json_decref(o);
}

static void split(struct strlist *l, const char *csv)
{
	strlist_init(l);
	if (!csv)
		return;
	const char *p = csv;
	for (;;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		char *s = xstrndup(p, n);
		strlist_push_owned(l, s);
		if (!c)
			break;
		p = c + 1;
	}
}

struct outcome {
	int rc;
	char refused[256];
	char why[512];
	struct pki_names names;
};

/* Checks cn and the comma-separated lists against role (JSON). */
static int run(struct outcome *o, const char *role_json, const char *cn, const char *alt, const char *ips,
               const char *uris, const char *others)
{
	struct pki_role r;
	struct strlist a, i, u, ot;
	struct buf why;
	role_from(&r, role_json);
	split(&a, alt);
	split(&i, ips);
	split(&u, uris);
	split(&ot, others);
	struct pki_name_request in = {
	    .common_name = cn, .alt_names = &a, .ip_sans = &i, .uri_sans = &u, .other_sans = &ot};
	buf_init(&why, 1024);
	pki_names_release(&o->names);
	o->rc = pki_names_check(&r, &in, &o->names, &why);
	o->refused[0] = o->why[0] = '\0';
	if (o->names.refused)
		strncpy(o->refused, o->names.refused, sizeof(o->refused) - 1);
	if (why.data)
		strncpy(o->why, why.data, sizeof(o->why) - 1);
	buf_release(&why);
	strlist_release(&a);
	strlist_release(&i);
	strlist_release(&u);
	strlist_release(&ot);
	pki_role_release(&r);
	return o->rc;
}

/* Only the common name, against a role. */
static int cn_ok(const char *role_json, const char *cn)
{
	struct outcome o;
	pki_names_init(&o.names);
	run(&o, role_json, cn, NULL, NULL, NULL, NULL);
	pki_names_release(&o.names);
	return o.rc == 0;
}

#define EX "{\"allowed_domains\": [\"example.com\"], "

static void test_subdomains(void **state)
{
	(void)state;
	const char *sub = EX "\"allow_subdomains\": true}";
	assert_true(cn_ok(sub, "www.example.com"));
	assert_true(cn_ok(sub, "a.b.c.d.example.com")); /* any depth */
	assert_false(cn_ok(sub, "example.com"));        /* bare needs allow_bare_domains */
	assert_false(cn_ok(sub, "wwwexample.com"));     /* a suffix, not a subdomain */
	assert_false(cn_ok(sub, "example.com.evil.org"));
	assert_false(cn_ok(sub, "www.example.org"));
	assert_true(cn_ok(EX "\"allow_bare_domains\": true}", "example.com"));
	assert_false(cn_ok(EX "\"allow_bare_domains\": true}", "www.example.com"));
	assert_false(cn_ok(EX "\"allow_localhost\": false}", "www.example.com")); /* no rule enabled */
}

static void test_case_and_syntax(void **state)
{
	(void)state;
	const char *sub = EX "\"allow_subdomains\": true}";
	struct outcome o;
	pki_names_init(&o.names);
	assert_int_equal(run(&o, sub, "WWW.Example.COM", "API.example.com", NULL, NULL, NULL), 0);
	assert_string_equal(o.names.common_name, "www.example.com"); /* canonical, lower-case */
	assert_int_equal(o.names.dns.len, 2);
	assert_string_equal(o.names.dns.items[0], "www.example.com");
	assert_string_equal(o.names.dns.items[1], "api.example.com");
	assert_true(
	    cn_ok("{\"allowed_domains\": \"EXAMPLE.com\", \"allow_subdomains\": true}", "www.example.com"));
	assert_false(cn_ok(sub, "www.example.com.")); /* trailing dot */
	assert_false(cn_ok(sub, "www..example.com")); /* empty label */
	assert_false(cn_ok(sub, ".www.example.com"));
	assert_false(cn_ok(sub, "-www.example.com")); /* '-' at a label's end */
	assert_false(cn_ok(sub, "w_w.example.com"));
	assert_false(cn_ok(sub, "bücher.example.com")); /* IDN only as punycode */
	assert_true(cn_ok(sub, "xn--bcher-kva.example.com"));
	char label[80];
	memset(label, 'a', 64);
	strcpy(label + 64, ".example.com");
	assert_false(cn_ok(sub, label));    /* a 64-byte label */
	assert_true(cn_ok(sub, label + 1)); /* 63 bytes is the most */
	/* an alt name that is no DNS name is refused outright */
	assert_int_equal(run(&o, sub, "www.example.com", "bad name.example.com", NULL, NULL, NULL),
	                 TROVE_ERR_INVALID);
	assert_string_equal(o.refused, "bad name.example.com");
	assert_non_null(strstr(o.why, "is not a valid DNS name"));
	pki_names_release(&o.names);
}

static void test_localhost(void **state)
{
	(void)state;
	assert_true(cn_ok("{}", "localhost")); /* allow_localhost defaults to true */
	assert_true(cn_ok("{}", "LOCALHOST"));
	assert_true(cn_ok("{}", "localdomain"));
	assert_false(cn_ok("{\"allow_localhost\": false}", "localhost"));
	assert_false(cn_ok("{}", "foo.localhost"));
	assert_true(cn_ok("{\"allow_subdomains\": true}", "foo.localhost"));
	assert_false(cn_ok("{}", "example.com"));
}

static void test_globs(void **state)
{
	(void)state;
	const char *g =
	    "{\"allowed_domains\": [\"ftp*.example.com\", \"*.svc.local\"], \"allow_glob_domains\": true}";
	assert_true(cn_ok(g, "ftp1.example.com"));
	assert_true(cn_ok(g, "ftp.example.com"));
	assert_true(cn_ok(g, "ftp.eu.example.com")); /* '*' crosses labels, as go-glob */
	assert_false(cn_ok(g, "www.example.com"));
	assert_true(cn_ok(g, "a.b.svc.local"));
	assert_false(cn_ok(g, "svc.local"));
	/* a glob needs allow_glob_domains */
	assert_false(cn_ok("{\"allowed_domains\": [\"ftp*.example.com\"]}", "ftp1.example.com"));
	assert_true(pki_glob("*", ""));
	assert_true(pki_glob("a*b*c", "abc"));
	assert_true(pki_glob("a*b*c", "aXbYbc"));
	assert_false(pki_glob("a*a", "a"));
	assert_false(pki_glob("abc", "abcd"));
	assert_true(pki_glob("*.x", "y.x"));
	assert_false(pki_glob("a?c", "abc")); /* '?' is not special */
}

static void test_wildcards(void **state)
{
	(void)state;
	const char *sub = EX "\"allow_subdomains\": true}";
	assert_true(cn_ok(sub, "*.example.com"));
	assert_true(cn_ok(sub, "foo*.example.com")); /* RFC 6125 partial labels */
	assert_true(cn_ok(sub, "*foo.example.com"));
	assert_true(cn_ok(sub, "f*o.example.com"));
	assert_true(cn_ok(sub, "*.sub.example.com"));
	assert_false(cn_ok(sub, "*.*.example.com")); /* two wildcards */
	assert_false(cn_ok(sub, "x.*.example.com")); /* not the left-most label */
	assert_false(cn_ok(sub, "*example.com"));    /* its base is "com" */
	assert_false(cn_ok(sub, "**.example.com"));
	assert_false(cn_ok(sub, "*.example.org"));
	assert_false(cn_ok(sub, "-*.example.com"));
	assert_false(
	    cn_ok(EX "\"allow_subdomains\": true, \"allow_wildcard_certificates\": false}", "*.example.com"));
	/* the refusal outranks allow_any_name */
	assert_false(
	    cn_ok("{\"allow_any_name\": true, \"allow_wildcard_certificates\": false}", "*.example.com"));
	assert_false(cn_ok(EX "\"allow_bare_domains\": true}", "*.example.com")); /* base not a bare match */
	assert_true(cn_ok("{\"allowed_domains\": [\"*.example.com\"], \"allow_bare_domains\": true}",
	                  "*.example.com"));
	assert_false(cn_ok(sub, "*@example.com")); /* an email with a wildcard */
}

static void test_any_name_and_hostnames(void **state)
{
	(void)state;
	assert_true(cn_ok("{\"allow_any_name\": true}", "anything.at.all"));
	assert_false(cn_ok("{\"allow_any_name\": true}", "not a host")); /* enforce_hostnames still on */
	assert_true(cn_ok("{\"allow_any_name\": true, \"enforce_hostnames\": false}", "not_a_host"));
	assert_true(cn_ok("{\"allow_any_name\": true}", "user@example.com"));
	/* cn_validations */
	assert_false(
	    cn_ok("{\"allow_any_name\": true, \"cn_validations\": \"hostname\"}", "user@example.com"));
	assert_false(cn_ok("{\"allow_any_name\": true, \"cn_validations\": \"email\"}", "www.example.com"));
	assert_true(cn_ok("{\"cn_validations\": \"disabled\"}", "My Service (prod)"));
	/* require_cn */
	assert_false(cn_ok("{\"allow_any_name\": true}", ""));
	assert_true(cn_ok("{\"allow_any_name\": true, \"require_cn\": false}", ""));
}

static void test_emails(void **state)
{
	(void)state;
	struct outcome o;
	pki_names_init(&o.names);
	const char *sub = EX "\"allow_subdomains\": true, \"allow_bare_domains\": true}";
	assert_int_equal(run(&o, sub, "www.example.com", "Ops@Example.COM,www.example.com", NULL, NULL, NULL),
	                 0);
	assert_int_equal(o.names.emails.len, 1);
	assert_string_equal(o.names.emails.items[0], "Ops@example.com"); /* only the domain lower-cased */
	assert_int_equal(o.names.dns.len, 1);                            /* the CN's copy, once */
	assert_int_equal(run(&o, sub, "www.example.com", "ops@example.org", NULL, NULL, NULL),
	                 TROVE_ERR_INVALID);
	assert_string_equal(o.why, "email address ops@example.org not allowed by this role");
	assert_int_equal(run(&o, sub, "www.example.com", "a@b@example.com", NULL, NULL, NULL),
	                 TROVE_ERR_INVALID);
	assert_int_equal(run(&o, sub, "www.example.com", "@example.com", NULL, NULL, NULL),
	                 TROVE_ERR_INVALID);
	assert_int_equal(run(&o, sub, "www.example.org", NULL, NULL, NULL, NULL), TROVE_ERR_INVALID);
	assert_string_equal(o.why, "common name www.example.org not allowed by this role");
	assert_string_equal(o.refused, "www.example.org");
	assert_int_equal(run(&o, sub, "www.example.com", "api.example.org", NULL, NULL, NULL),
	                 TROVE_ERR_INVALID);
	assert_string_equal(o.why, "subject alternate name api.example.org not allowed by this role");
	pki_names_release(&o.names);
}

static void test_exclude_cn(void **state)
{
	(void)state;
	struct pki_role r;
	struct pki_names n;
	struct buf why;
	role_from(&r, EX "\"allow_subdomains\": true}");
	pki_names_init(&n);
	buf_init(&why, 512);
	struct pki_name_request in = {.common_name = "www.example.com", .exclude_cn_from_sans = true};
	assert_int_equal(pki_names_check(&r, &in, &n, &why), 0);
	assert_int_equal(n.dns.len, 0);
	in.common_name = "www.example.org"; /* checked even when excluded */
	assert_int_equal(pki_names_check(&r, &in, &n, &why), TROVE_ERR_INVALID);
	buf_release(&why);
	pki_names_release(&n);
	pki_role_release(&r);
}

static void test_ip_sans(void **state)
{
	(void)state;
	struct outcome o;
	pki_names_init(&o.names);
	const char *any = "{\"allow_any_name\": true}";
	assert_int_equal(
	    run(&o, any, "h.example.com", NULL, "192.0.2.1,2001:DB8:0:0::1,::ffff:192.0.2.7,::1", NULL, NULL),
	    0);
	assert_int_equal(o.names.ips.len, 4);
	assert_string_equal(o.names.ips.items[0], "192.0.2.1");
	assert_string_equal(o.names.ips.items[1], "2001:db8::1"); /* RFC 5952 form */
	assert_string_equal(o.names.ips.items[2], "192.0.2.7");   /* mapped: IPv4 */
	assert_string_equal(o.names.ips.items[3], "::1");
	const char *bad[] = {"192.0.2", "192.0.2.256",       "01.2.3.4", "fe80::1%eth0",
	                     "[::1]",   "1:2:3:4:5:6:7:8:9", " 1.2.3.4"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(run(&o, any, "h.example.com", NULL, bad[i], NULL, NULL), TROVE_ERR_INVALID);
		assert_string_equal(o.refused, bad[i]);
	}
	assert_int_equal(run(&o, "{\"allow_any_name\": true, \"allow_ip_sans\": false}", "h.example.com",
	                     NULL, "192.0.2.1", NULL, NULL),
	                 TROVE_ERR_INVALID);
	assert_non_null(strstr(o.why, "IP Subject Alternative Names are not allowed"));
	pki_names_release(&o.names);
}

static void test_uri_sans(void **state)
{
	(void)state;
	struct outcome o;
	pki_names_init(&o.names);
	const char *r = "{\"allow_any_name\": true, \"allowed_uri_sans\": [\"spiffe://cluster.local/ns/*\", "
	                "\"https://example.com/exact\"]}";
	assert_int_equal(run(&o, r, "h.example.com", NULL, NULL, "spiffe://cluster.local/ns/a/sa/b", NULL),
	                 0);
	assert_string_equal(o.names.uris.items[0], "spiffe://cluster.local/ns/a/sa/b");
	assert_int_equal(run(&o, r, "h.example.com", NULL, NULL, "https://example.com/exact", NULL), 0);
	assert_int_equal(run(&o, r, "h.example.com", NULL, NULL, "https://example.com/exact2", NULL),
	                 TROVE_ERR_INVALID);
	assert_int_equal(run(&o, r, "h.example.com", NULL, NULL, "spiffe://other/ns/a", NULL),
	                 TROVE_ERR_INVALID);
	assert_int_equal(run(&o, r, "h.example.com", NULL, NULL, "no-scheme", NULL), TROVE_ERR_INVALID);
	assert_non_null(strstr(o.why, "is not a valid URI"));
	assert_int_equal(
	    run(&o, "{\"allow_any_name\": true}", "h.example.com", NULL, NULL, "spiffe://x/y", NULL),
	    TROVE_ERR_INVALID); /* none allowed by default */
	pki_names_release(&o.names);
}

static void test_other_sans(void **state)
{
	(void)state;
	struct outcome o;
	pki_names_init(&o.names);
	const char *r = "{\"allow_any_name\": true, \"allowed_other_sans\": "
	                "[\"1.3.6.1.4.1.311.20.2.3;utf8:*@example.com\", \"1.2.3.4;UTF-8:fixed\"]}";
	assert_int_equal(
	    run(&o, r, "h.example.com", NULL, NULL, NULL, "1.3.6.1.4.1.311.20.2.3;UTF8:dev@example.com"), 0);
	assert_string_equal(o.names.other_sans.items[0], "1.3.6.1.4.1.311.20.2.3;UTF8:dev@example.com");
	assert_int_equal(run(&o, r, "h.example.com", NULL, NULL, NULL, "1.2.3.4;utf-8:fixed"), 0);
	assert_int_equal(run(&o, r, "h.example.com", NULL, NULL, NULL, "1.2.3.4;UTF8:other"),
	                 TROVE_ERR_INVALID);
	assert_string_equal(o.refused, "other");
	assert_int_equal(run(&o, r, "h.example.com", NULL, NULL, NULL, "1.2.3.5;UTF8:fixed"),
	                 TROVE_ERR_INVALID);
	assert_string_equal(o.why, "other SAN OID 1.2.3.5 not allowed by this role");
	/* format errors */
	const char *bad[] = {"1.2.3.4:UTF8:x", "1.2.3.4;UTF8", "1.2.3.4;IA5:x", "one.two;UTF8:x", ";UTF8:x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(run(&o, r, "h.example.com", NULL, NULL, NULL, bad[i]), TROVE_ERR_INVALID);
		assert_non_null(strstr(o.why, "could not parse requested other SAN"));
	}
	/* "*" allows any (well-formed) other SAN */
	assert_int_equal(run(&o, "{\"allow_any_name\": true, \"allowed_other_sans\": \"*\"}", "h.example.com",
	                     NULL, NULL, NULL, "1.9.9;UTF8:x"),
	                 0);
	assert_int_equal(
	    run(&o, "{\"allow_any_name\": true}", "h.example.com", NULL, NULL, NULL, "1.9.9;UTF8:x"),
	    TROVE_ERR_INVALID);
	pki_names_release(&o.names);
}

static void test_serial_and_user_ids(void **state)
{
	(void)state;
	struct pki_role r;
	struct pki_names n;
	struct buf why;
	struct strlist uids;
	role_from(&r, "{\"allow_any_name\": true, \"allowed_serial_numbers\": [\"dev-*\", \"exact\"], "
	              "\"allowed_user_ids\": [\"alice\", \"svc-*\"]}");
	pki_names_init(&n);
	buf_init(&why, 512);
	split(&uids, "Alice,svc-web");
	struct pki_name_request in = {
	    .common_name = "h.example.com", .serial_number = "dev-42", .user_ids = &uids};
	assert_int_equal(pki_names_check(&r, &in, &n, &why), 0);
	assert_string_equal(n.serial_number, "dev-42");
	assert_int_equal(n.user_ids.len, 2);
	in.serial_number = "exact";
	assert_int_equal(pki_names_check(&r, &in, &n, &why), 0);
	in.serial_number = "prod-1";
	assert_int_equal(pki_names_check(&r, &in, &n, &why), TROVE_ERR_INVALID);
	assert_string_equal(n.refused, "prod-1");
	in.serial_number = NULL;
	strlist_push(&uids, "mallory");
	assert_int_equal(pki_names_check(&r, &in, &n, &why), TROVE_ERR_INVALID);
	assert_string_equal(n.refused, "mallory");
	strlist_release(&uids);
	pki_role_release(&r);
	/* none allowed by default */
	role_from(&r, "{\"allow_any_name\": true}");
	in.serial_number = "anything";
	in.user_ids = NULL;
	assert_int_equal(pki_names_check(&r, &in, &n, &why), TROVE_ERR_INVALID);
	buf_release(&why);
	pki_names_release(&n);
	pki_role_release(&r);
}

static void test_csr_names(void **state)
{
	(void)state;
	struct pki_role r;
	struct pki_names n;
	struct buf why;
	struct strlist dns, ips, alt;
	split(&dns, "API.example.com");
	split(&ips, "192.0.2.9");
	split(&alt, "ignored.example.org");
	struct pki_csr_names csr = {.common_name = "csr.example.com", .dns = &dns, .ips = &ips};
	struct pki_name_request in = {.common_name = "body.example.com", .alt_names = &alt, .csr = &csr};
	role_from(&r, EX "\"allow_subdomains\": true}");
	pki_names_init(&n);
	buf_init(&why, 512);
	/* use_csr_common_name and use_csr_sans (the defaults): the CSR's names,
	 * the body's alt_names ignored */
	assert_int_equal(pki_names_check(&r, &in, &n, &why), 0);
	assert_string_equal(n.common_name, "csr.example.com");
	assert_int_equal(n.dns.len, 2);
	assert_string_equal(n.dns.items[0], "api.example.com");
	assert_string_equal(n.ips.items[0], "192.0.2.9");
	pki_role_release(&r);
	/* both off: the body's names, which this role refuses */
	role_from(&r,
	          EX "\"allow_subdomains\": true, \"use_csr_common_name\": false, \"use_csr_sans\": false}");
	assert_int_equal(pki_names_check(&r, &in, &n, &why), TROVE_ERR_INVALID);
	assert_string_equal(n.refused, "ignored.example.org");
	pki_role_release(&r);
	/* a CSR's name outside the role */
	strlist_push(&dns, "evil.example.org");
	role_from(&r, EX "\"allow_subdomains\": true}");
	assert_int_equal(pki_names_check(&r, &in, &n, &why), TROVE_ERR_INVALID);
	assert_string_equal(n.refused, "evil.example.org");
	strlist_release(&dns);
	strlist_release(&ips);
	strlist_release(&alt);
	buf_release(&why);
	pki_names_release(&n);
	pki_role_release(&r);
}

static void test_templates(void **state)
{
	(void)state;
	struct pki_role r;
	json_t *ident = json_loads(
	    "{\"entity\": {\"id\": \"e1\", \"name\": \"alice\", \"metadata\": {\"team\": \"web\"}, "
	    "\"aliases\": [{\"mount_accessor\": \"auth_userpass_1\", \"name\": \"Alice\"}]}}",
	    0, NULL);
	json_t *evil =
	    json_loads("{\"entity\": {\"id\": \"e2\", \"name\": \"*\", \"metadata\": {\"team\": \"*\"}, "
	               "\"aliases\": [{\"mount_accessor\": \"auth_userpass_1\", \"name\": \"*\"}]}}",
	               0, NULL);
	role_from(&r,
	          "{\"allowed_domains\": [\"{{identity.entity.aliases.auth_userpass_1.name}}.example.com\", "
	          "\"{{identity.entity.metadata.team}}.corp\"], \"allowed_domains_template\": true, "
	          "\"allow_bare_domains\": true, \"allow_subdomains\": true, \"allow_glob_domains\": true, "
	          "\"allowed_uri_sans\": \"spiffe://{{identity.entity.name}}/*\", "
	          "\"allowed_uri_sans_template\": true}");
	assert_true(pki_name_allowed(&r, "alice.example.com", ident, NULL));
	assert_true(pki_name_allowed(&r, "x.web.corp", ident, NULL));
	assert_false(pki_name_allowed(&r, "bob.example.com", ident, NULL));
	assert_false(pki_name_allowed(&r, "alice.example.com", NULL, NULL)); /* no entity: nothing */
	assert_false(pki_name_allowed(&r, "x.example.com", evil, NULL));     /* a glob value is refused */
	struct strlist u;
	split(&u, "spiffe://alice/svc");
	struct pki_names n;
	struct buf why;
	pki_names_init(&n);
	buf_init(&why, 512);
	struct pki_name_request in = {.common_name = "alice.example.com", .uri_sans = &u, .ident = ident};
	assert_int_equal(pki_names_check(&r, &in, &n, &why), 0);
	in.ident = NULL;
	assert_int_equal(pki_names_check(&r, &in, &n, &why), TROVE_ERR_INVALID);
	/* without the template flag the braces are literal */
	pki_role_release(&r);
	role_from(&r, "{\"allowed_domains\": [\"{{identity.entity.name}}.example.com\"], "
	              "\"allow_bare_domains\": true}");
	assert_false(pki_name_allowed(&r, "alice.example.com", ident, NULL));
	strlist_release(&u);
	buf_release(&why);
	pki_names_release(&n);
	pki_role_release(&r);
	json_decref(ident);
	json_decref(evil);
}

static void test_display_name(void **state)
{
	(void)state;
	struct pki_role r;
	role_from(&r, "{\"allow_token_displayname\": true, \"allow_subdomains\": true}");
	assert_true(pki_name_allowed(&r, "web.example.com", NULL, "web.example.com"));
	assert_true(pki_name_allowed(&r, "x.web.example.com", NULL, "web.example.com"));
	assert_false(pki_name_allowed(&r, "other.example.com", NULL, "web.example.com"));
	pki_role_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_subdomains),   cmocka_unit_test(test_case_and_syntax),
	    cmocka_unit_test(test_localhost),    cmocka_unit_test(test_globs),
	    cmocka_unit_test(test_wildcards),    cmocka_unit_test(test_any_name_and_hostnames),
	    cmocka_unit_test(test_emails),       cmocka_unit_test(test_exclude_cn),
	    cmocka_unit_test(test_ip_sans),      cmocka_unit_test(test_uri_sans),
	    cmocka_unit_test(test_other_sans),   cmocka_unit_test(test_serial_and_user_ids),
	    cmocka_unit_test(test_csr_names),    cmocka_unit_test(test_templates),
	    cmocka_unit_test(test_display_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
