/* role.c — the PKI role model: defaults, parsing, checks, the stored and
 * read shape, and the key usages a role asks for.
 *
 * Every field comes from PKI_ROLE_FIELDS (role.h), so one slot table
 * drives defaults, parsing and writing. Values are coerced with the
 * router's own field_coerce: a stored role, a request body and a default
 * string are read by the same rules. */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "role.h"

#include "core/router.h"
#include "err.h"
#include "storage/storage.h"
#include "strlist_json.h"

#include "banned.h"

enum kind { K_BOOL, K_INT, K_DUR, K_STR, K_LIST };

struct slot {
	const char *name;
	enum kind kind;
	size_t off;
	const char *def;
};

#define PKI_ROLE_SLOT(n, k, d, lo, hi, desc) {#n, K_##k, offsetof(struct pki_role, n), d},
static const struct slot slots[] = {PKI_ROLE_FIELDS(PKI_ROLE_SLOT)};
#define NSLOTS (sizeof(slots) / sizeof(slots[0]))

static const enum field_type kind_type[] = {
    [K_BOOL] = FIELD_BOOL,  [K_INT] = FIELD_INT,      [K_DUR] = FIELD_DURATION,
    [K_STR] = FIELD_STRING, [K_LIST] = FIELD_STRLIST,
};

/* Sets one slot from a coerced value (its type is the slot's). */
static void slot_set(struct pki_role *r, const struct slot *s, const json_t *v)
{
	char *p = (char *)r + s->off;
	switch (s->kind) {
	case K_BOOL:
		*(bool *)p = json_is_true(v);
		break;
	case K_INT:
	case K_DUR:
		*(int64_t *)p = (int64_t)json_integer_value(v);
		break;
	case K_STR:
		free(*(char **)p);
		*(char **)p = xstrdup(json_string_value(v));
		break;
	case K_LIST: {
		struct strlist *l = (struct strlist *)p;
		strlist_release(l);
		strlist_init(l);
		strlist_push_json(l, v);
		break;
	}
	}
}

static int slot_apply(struct pki_role *r, const struct slot *s, json_t *in, struct buf *why)
{
	const char *reason = NULL;
	json_t *v = field_coerce(kind_type[s->kind], in, &reason);
	if (!v) {
		buf_printf(why, "%s: %s", s->name, reason ? reason : "invalid value");
		return TROVE_ERR_INVALID;
	}
	slot_set(r, s, v);
	json_decref(v);
	return 0;
}

void pki_role_init(struct pki_role *r)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < NSLOTS; i++) {
		if (slots[i].kind == K_LIST)
			strlist_init((struct strlist *)((char *)r + slots[i].off));
		json_t *d = json_string(slots[i].def);
		struct buf ignore;
		buf_init(&ignore, 256);
		if (slot_apply(r, &slots[i], d, &ignore) != 0)
			abort(); /* a default that does not parse is a bug in role.h */
		buf_release(&ignore);
		json_decref(d);
	}
}

void pki_role_release(struct pki_role *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < NSLOTS; i++) {
		char *p = (char *)r + slots[i].off;
		if (slots[i].kind == K_STR) {
			free(*(char **)p);
			*(char **)p = NULL;
		} else if (slots[i].kind == K_LIST) {
			strlist_release((struct strlist *)p);
		}
	}
}

int pki_role_apply_json(struct pki_role *r, const json_t *o, struct buf *why)
{
	if (!json_is_object(o)) {
		buf_append_str(why, "expected a JSON object");
		return TROVE_ERR_INVALID;
	}
	for (size_t i = 0; i < NSLOTS; i++) {
		json_t *v = json_object_get(o, slots[i].name);
		if (!v || json_is_null(v))
			continue;
		int rc = slot_apply(r, &slots[i], v, why);
		if (rc != 0)
			return rc;
	}
	return 0;
}

json_t *pki_role_to_json(const struct pki_role *r)
{
	json_t *o = json_object();
	for (size_t i = 0; i < NSLOTS; i++) {
		const char *p = (const char *)r + slots[i].off;
		json_t *v = NULL;
		switch (slots[i].kind) {
		case K_BOOL:
			v = json_boolean(*(const bool *)p);
			break;
		case K_INT:
		case K_DUR:
			v = json_integer((json_int_t) * (const int64_t *)p);
			break;
		case K_STR:
			v = json_string(*(char *const *)p ? *(char *const *)p : "");
			break;
		case K_LIST:
			v = strlist_json((const struct strlist *)p);
			break;
		}
		json_object_set_new(o, slots[i].name, v);
	}
	return o;
}

/* --- names of key usages ------------------------------------------------------- */

/* Go's crypto/x509 names (Vault's vocabulary), matched without case, with
 * or without Go's "KeyUsage"/"ExtKeyUsage" prefix. */
static const struct {
	const char *name;
	unsigned bit;
} key_usages[] = {
    {"digitalsignature", KU_DIGITAL_SIGNATURE},
    {"contentcommitment", KU_NON_REPUDIATION},
    {"keyencipherment", KU_KEY_ENCIPHERMENT},
    {"dataencipherment", KU_DATA_ENCIPHERMENT},
    {"keyagreement", KU_KEY_AGREEMENT},
    {"certsign", KU_KEY_CERT_SIGN},
    {"crlsign", KU_CRL_SIGN},
    {"encipheronly", KU_ENCIPHER_ONLY},
    {"decipheronly", KU_DECIPHER_ONLY},
};

static const struct {
	const char *name;
	const char *oid;
} ext_key_usages[] = {
    {"any", "2.5.29.37.0"},
    {"serverauth", "1.3.6.1.5.5.7.3.1"},
    {"clientauth", "1.3.6.1.5.5.7.3.2"},
    {"codesigning", "1.3.6.1.5.5.7.3.3"},
    {"emailprotection", "1.3.6.1.5.5.7.3.4"},
    {"ipsecendsystem", "1.3.6.1.5.5.7.3.5"},
    {"ipsectunnel", "1.3.6.1.5.5.7.3.6"},
    {"ipsecuser", "1.3.6.1.5.5.7.3.7"},
    {"timestamping", "1.3.6.1.5.5.7.3.8"},
    {"ocspsigning", "1.3.6.1.5.5.7.3.9"},
    {"microsoftservergatedcrypto", "1.3.6.1.4.1.311.10.3.3"},
    {"netscapeservergatedcrypto", "2.16.840.1.113730.4.1"},
    {"microsoftcommercialcodesigning", "1.3.6.1.4.1.311.2.1.22"},
    {"microsoftkernelcodesigning", "1.3.6.1.4.1.311.61.1.1"},
};

#define KEY_USAGE_MAX 64

/* name trimmed, lower-cased and without the prefix, into out; false when
 * it does not fit. */
static bool usage_key(const char *name, const char *prefix, char out[KEY_USAGE_MAX])
{
	while (isspace((unsigned char)*name))
		name++;
	size_t n = strlen(name);
	while (n > 0 && isspace((unsigned char)name[n - 1]))
		n--;
	if (n >= KEY_USAGE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	out[n] = '\0';
	size_t pl = strlen(prefix);
	if (n > pl && strncmp(out, prefix, pl) == 0)
		memmove(out, out + pl, n - pl + 1);
	return true;
}

static int key_usage_bit(const char *name)
{
	char k[KEY_USAGE_MAX];
	if (!usage_key(name, "keyusage", k))
		return -1;
	for (size_t i = 0; i < sizeof(key_usages) / sizeof(key_usages[0]); i++)
		if (strcmp(k, key_usages[i].name) == 0)
			return (int)key_usages[i].bit;
	return -1;
}

static const char *ext_key_usage_oid(const char *name)
{
	char k[KEY_USAGE_MAX];
	if (!usage_key(name, "extkeyusage", k))
		return NULL;
	for (size_t i = 0; i < sizeof(ext_key_usages) / sizeof(ext_key_usages[0]); i++)
		if (strcmp(k, ext_key_usages[i].name) == 0)
			return ext_key_usages[i].oid;
	return NULL;
}

unsigned pki_role_key_usage_bits(const struct pki_role *r)
{
	unsigned bits = 0;
	for (size_t i = 0; i < r->key_usage.len; i++) {
		int b = key_usage_bit(r->key_usage.items[i]);
		if (b > 0)
			bits |= (unsigned)b;
	}
	return bits;
}

static void push_unique(struct strlist *out, const char *s)
{
	if (!strlist_contains(out, s))
		strlist_push(out, s);
}

void pki_role_ext_key_usage_oids(const struct pki_role *r, struct strlist *out)
{
	if (r->server_flag)
		push_unique(out, "1.3.6.1.5.5.7.3.1");
	if (r->client_flag)
		push_unique(out, "1.3.6.1.5.5.7.3.2");
	if (r->code_signing_flag)
		push_unique(out, "1.3.6.1.5.5.7.3.3");
	if (r->email_protection_flag)
		push_unique(out, "1.3.6.1.5.5.7.3.4");
	for (size_t i = 0; i < r->ext_key_usage.len; i++) {
		const char *oid = ext_key_usage_oid(r->ext_key_usage.items[i]);
		if (oid)
			push_unique(out, oid);
	}
	for (size_t i = 0; i < r->ext_key_usage_oids.len; i++)
		push_unique(out, r->ext_key_usage_oids.items[i]);
}

/* --- checks -------------------------------------------------------------------- */

bool pki_oid_ok(const char *s)
{
	int arcs = 0;
	unsigned long first = 0;
	const char *p = s;
	if (!s || !*s)
		return false;
	for (;;) {
		const char *start = p;
		unsigned long v = 0;
		while (*p >= '0' && *p <= '9') {
			if (p - start >= 18)
				return false; /* keeps v far from overflow */
			v = v * 10 + (unsigned long)(*p - '0');
			p++;
		}
		if (p == start || (*start == '0' && p - start > 1))
			return false;
		if (arcs == 0 && v > 2)
			return false;
		if (arcs == 0)
			first = v;
		if (arcs == 1 && first < 2 && v >= 40)
			return false;
		arcs++;
		if (*p == '\0')
			break;
		if (*p != '.')
			return false;
		p++;
	}
	return arcs >= 2;
}

bool pki_role_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		bool word = isalnum(c) || c == '_';
		bool inner = c == '-' || c == '.';
		if (!word && !(inner && i > 0 && i + 1 < n))
			return false;
	}
	return true;
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* RFC 3339 as Go's time.RFC3339 reads it: YYYY-MM-DDTHH:MM:SS, an
 * optional fraction, then Z or +HH:MM / -HH:MM. */
static bool rfc3339_ok(const char *s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, se, oh, om;
	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 ||
	    mi > 59 || se > 59)
		return false;
	const char *p = s + 19;
	if (*p == '.') {
		const char *f = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == f)
			return false;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return true;
	return (*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2, &oh) && p[3] == ':' &&
	       digits(p + 4, 2, &om) && oh < 24 && om < 60;
}

/* Vault's sizes: key_bits 0 takes the type's default, signature_bits 0
 * the key's hash. */
static int check_key(struct pki_role *r, struct buf *why)
{
	const char *t = r->key_type;
	int64_t b = r->key_bits;
	if (strcmp(t, "rsa") == 0) {
		if (b == 0)
			b = r->key_bits = 2048;
		if (b != 2048 && b != 3072 && b != 4096 && b != 8192) {
			buf_printf(why,
			           "key_bits: %lld is not a size of an rsa key (2048, 3072, 4096 or 8192)",
			           (long long)b);
			return TROVE_ERR_INVALID;
		}
	} else if (strcmp(t, "ec") == 0) {
		if (b == 0)
			b = r->key_bits = 256;
		if (b != 224 && b != 256 && b != 384 && b != 521) {
			buf_printf(why, "key_bits: %lld is not a size of an ec key (224, 256, 384 or 521)",
			           (long long)b);
			return TROVE_ERR_INVALID;
		}
	} else if (strcmp(t, "ed25519") != 0 && strcmp(t, "any") != 0) {
		buf_append_str(why, "key_type: expected rsa, ec, ed25519 or any");
		return TROVE_ERR_INVALID;
	}
	/* ed25519 and any: key_bits is ignored, as in Vault */
	int64_t s = r->signature_bits;
	if (s != 0 && s != 256 && s != 384 && s != 512) {
		buf_printf(why, "signature_bits: %lld is not 256, 384 or 512", (long long)s);
		return TROVE_ERR_INVALID;
	}
	if (s == 0 && strcmp(t, "rsa") == 0)
		r->signature_bits = 256;
	else if (s == 0 && strcmp(t, "ec") == 0)
		r->signature_bits = b == 521 ? 512 : b == 384 ? 384 : 256;
	return 0;
}

static int check_usages(const struct pki_role *r, struct buf *why)
{
	for (size_t i = 0; i < r->key_usage.len; i++)
		if (key_usage_bit(r->key_usage.items[i]) < 0) {
			buf_append_str(why,
			               "key_usage: unknown key usage (DigitalSignature, ContentCommitment, "
			               "KeyEncipherment, DataEncipherment, KeyAgreement, CertSign, CRLSign, "
			               "EncipherOnly or DecipherOnly)");
			return TROVE_ERR_INVALID;
		}
	for (size_t i = 0; i < r->ext_key_usage.len; i++)
		if (!ext_key_usage_oid(r->ext_key_usage.items[i])) {
			buf_append_str(
			    why, "ext_key_usage: unknown extended key usage (Any, ServerAuth, "
			         "ClientAuth, CodeSigning, EmailProtection, IPSECEndSystem, IPSECTunnel, "
			         "IPSECUser, TimeStamping, OCSPSigning, ...)");
			return TROVE_ERR_INVALID;
		}
	const struct {
		const char *field;
		const struct strlist *l;
	} oids[] = {{"ext_key_usage_oids", &r->ext_key_usage_oids},
	            {"policy_identifiers", &r->policy_identifiers}};
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < oids[k].l->len; i++)
			if (!pki_oid_ok(oids[k].l->items[i])) {
				buf_printf(why, "%s: expected dotted-decimal OIDs such as 1.3.6.1.5.5.7.3.1",
				           oids[k].field);
				return TROVE_ERR_INVALID;
			}
	return 0;
}

static int check_other_sans(const struct pki_role *r, struct buf *why)
{
	const struct strlist *l = &r->allowed_other_sans;
	if (l->len == 1 && strcmp(l->items[0], "*") == 0)
		return 0;
	for (size_t i = 0; i < l->len; i++) {
		const char *e = l->items[i], *semi = strchr(e, ';');
		const char *colon = semi ? strchr(semi + 1, ':') : NULL;
		char oid[128];
		size_t on = semi ? (size_t)(semi - e) : 0, tn = colon ? (size_t)(colon - semi - 1) : 0;
		if (!semi || !colon || on == 0 || on >= sizeof(oid)) {
			buf_append_str(why,
			               "allowed_other_sans: expected \"*\" alone or \"<oid>;UTF8:<value>\"");
			return TROVE_ERR_INVALID;
		}
		memcpy(oid, e, on);
		oid[on] = '\0';
		if (!pki_oid_ok(oid)) {
			buf_append_str(why, "allowed_other_sans: the OID is not dotted decimal");
			return TROVE_ERR_INVALID;
		}
		if (!((tn == 4 && strncasecmp(semi + 1, "utf8", 4) == 0) ||
		      (tn == 5 && strncasecmp(semi + 1, "utf-8", 5) == 0))) {
			buf_append_str(why, "allowed_other_sans: only UTF8 other SANs are supported");
			return TROVE_ERR_INVALID;
		}
	}
	return 0;
}

/* Vault's checkCNValidations: lower-cased, no repeats, "disabled" alone;
 * an empty list means the default (email, hostname). */
static int check_cn_validations(struct pki_role *r, struct buf *why)
{
	struct strlist *l = &r->cn_validations;
	bool email = false, host = false, off = false;
	for (size_t i = 0; i < l->len; i++) {
		for (char *c = l->items[i]; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		bool *seen = strcmp(l->items[i], "email") == 0      ? &email
		             : strcmp(l->items[i], "hostname") == 0 ? &host
		             : strcmp(l->items[i], "disabled") == 0 ? &off
		                                                    : NULL;
		if (!seen) {
			buf_append_str(why, "cn_validations: expected email, hostname or disabled");
			return TROVE_ERR_INVALID;
		}
		if (*seen) {
			buf_append_str(why, "cn_validations: a validation is listed twice");
			return TROVE_ERR_INVALID;
		}
		*seen = true;
	}
	if (off && (email || host)) {
		buf_append_str(why, "cn_validations: disabled cannot be combined with other validations");
		return TROVE_ERR_INVALID;
	}
	if (l->len == 0) {
		strlist_push(l, "email");
		strlist_push(l, "hostname");
	}
	return 0;
}

int pki_role_validate(struct pki_role *r, struct buf *why)
{
	int rc;
	if ((rc = check_key(r, why)) != 0 || (rc = check_usages(r, why)) != 0 ||
	    (rc = check_other_sans(r, why)) != 0 || (rc = check_cn_validations(r, why)) != 0)
		return rc;
	if (strcmp(r->serial_number_source, "json-csr") != 0 &&
	    strcmp(r->serial_number_source, "json") != 0) {
		buf_append_str(why, "serial_number_source: expected json-csr or json");
		return TROVE_ERR_INVALID;
	}
	if (r->not_after[0] && !rfc3339_ok(r->not_after)) {
		buf_append_str(why, "not_after: expected a UTC time such as 2030-12-31T23:59:59Z");
		return TROVE_ERR_INVALID;
	}
	if (r->max_ttl > 0 && r->ttl > r->max_ttl) {
		buf_append_str(why, "\"ttl\" value must be less than \"max_ttl\" value");
		return TROVE_ERR_INVALID;
	}
	if (!r->issuer_ref[0]) {
		free(r->issuer_ref);
		r->issuer_ref = xstrdup("default");
	}
	if (r->no_store)
		r->generate_lease = false;
	return 0;
}

int pki_role_parse(const unsigned char *v, size_t n, struct pki_role *r)
{
	struct buf why;
	int rc = 0;

	pki_role_init(r);
	buf_init(&why, 256);
	json_t *o = json_loadb((const char *)v, n, 0, NULL);
	if (!o || pki_role_apply_json(r, o, &why) != 0)
		rc = TROVE_ERR_INTEGRITY;
	json_decref(o);
	buf_release(&why);
	return rc;
}

void pki_role_copy(struct pki_role *dst, const struct pki_role *src)
{
	memcpy(dst, src, sizeof(*dst)); /* bools and integers; pointers replaced below */
	for (size_t i = 0; i < NSLOTS; i++) {
		char *d = (char *)dst + slots[i].off;
		const char *sp = (const char *)src + slots[i].off;
		if (slots[i].kind == K_STR) {
			const char *v = *(char *const *)sp;
			*(char **)d = v ? xstrdup(v) : NULL;
		} else if (slots[i].kind == K_LIST) {
			const struct strlist *sl = (const struct strlist *)sp;
			struct strlist *dl = (struct strlist *)d;
			strlist_init(dl);
			for (size_t j = 0; j < sl->len; j++)
				strlist_push(dl, sl->items[j]);
		}
	}
}

int pki_role_read(struct storage *s, const char *name, unsigned char **v, size_t *n)
{
	struct buf key;
	buf_init(&key, 512);
	buf_printf(&key, PKI_ROLE_PREFIX "%s", name);
	int rc = storage_get(s, key.data, v, n);
	buf_release(&key);
	return rc;
}

int pki_role_load(struct storage *s, const char *name, struct pki_role *r)
{
	unsigned char *v = NULL;
	size_t n = 0;
	int rc = pki_role_read(s, name, &v, &n);
	if (rc == 0)
		rc = pki_role_parse(v, n, r);
	else
		pki_role_init(r);
	free(v);
	return rc;
}
