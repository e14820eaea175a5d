/* x509_names.c — names and numbers for the PKI engine (x509.h): random
 * serials and their text forms, SAN lists, subjects, key usage names. */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "x509.h"

#include "encoding.h"
#include "err.h"
#include "rand.h"

#include "banned.h"

int x509_serial_random_bytes(unsigned char b[20])
{
	int r = rand_bytes(b, 20);
	if (r == 0)
		b[0] = (unsigned char)((b[0] & 0x3f) | 0x40); /* positive, exactly 20 bytes */
	return r;
}

int x509_serial_random(ASN1_INTEGER **out)
{
	unsigned char b[20];
	BIGNUM *bn = NULL;
	int r = x509_serial_random_bytes(b);
	if (r != 0)
		return r;
	bn = BN_bin2bn(b, sizeof(b), NULL);
	*out = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	BN_free(bn);
	return *out ? 0 : TROVE_ERR_NOMEM;
}

int x509_serial_text(const ASN1_INTEGER *s, char out[X509_SERIAL_TEXT_MAX])
{
	int n = ASN1_STRING_length(s);
	return n <= 0 ? TROVE_ERR_INVALID : x509_serial_text_bytes(ASN1_STRING_get0_data(s), (size_t)n, out);
}

int x509_serial_text_bytes(const unsigned char *d, size_t n, char out[X509_SERIAL_TEXT_MAX])
{
	size_t o = 0;
	if (n == 0 || n * 3 > X509_SERIAL_TEXT_MAX)
		return TROVE_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		char h[3];
		hex_encode(d + i, 1, h);
		if (i)
			out[o++] = ':';
		out[o++] = h[0];
		out[o++] = h[1];
	}
	out[o] = '\0';
	return 0;
}

int x509_serial_canon(const char *in, char out[X509_SERIAL_TEXT_MAX])
{
	char hex[X509_SERIAL_TEXT_MAX];
	size_t n = 0, o = 0;
	for (const char *p = in; *p; p++) {
		if (*p == ':' || *p == '-')
			continue;
		if (!isxdigit((unsigned char)*p) || n + 1 >= sizeof(hex))
			return TROVE_ERR_INVALID;
		hex[n++] = (char)tolower((unsigned char)*p);
	}
	if (n == 0 || n % 2 || (n / 2) * 3 > X509_SERIAL_TEXT_MAX)
		return TROVE_ERR_INVALID;
	for (size_t i = 0; i < n; i += 2) {
		if (i)
			out[o++] = ':';
		out[o++] = hex[i];
		out[o++] = hex[i + 1];
	}
	out[o] = '\0';
	return 0;
}

void x509_sans_init(struct x509_sans *s)
{
	strlist_init(&s->dns);
	strlist_init(&s->email);
	strlist_init(&s->ip);
	strlist_init(&s->uri);
	strlist_init(&s->other);
}

void x509_sans_release(struct x509_sans *s)
{
	strlist_release(&s->dns);
	strlist_release(&s->email);
	strlist_release(&s->ip);
	strlist_release(&s->uri);
	strlist_release(&s->other);
}

static bool ip_valid(const char *v)
{
	unsigned char b[16];
	return inet_pton(AF_INET, v, b) == 1 || inet_pton(AF_INET6, v, b) == 1;
}

int x509_sans_add(struct x509_sans *s, const char *kind, const char *v, const char **why)
{
	if (!v[0])
		return 0;
	if (strcmp(kind, "alt_names") == 0)
		return strlist_push(strchr(v, '@') ? &s->email : &s->dns, v);
	if (strcmp(kind, "ip_sans") == 0) {
		if (!ip_valid(v)) {
			*why = "ip_sans: not an IP address";
			return TROVE_ERR_INVALID;
		}
		return strlist_push(&s->ip, v);
	}
	if (strcmp(kind, "uri_sans") == 0)
		return strlist_push(&s->uri, v);
	if (strcmp(kind, "other_sans") == 0) {
		const char *semi = strchr(v, ';');
		if (!semi || (strncmp(semi + 1, "UTF8:", 5) != 0 && strncmp(semi + 1, "UTF-8:", 6) != 0)) {
			*why = "other_sans: expected <oid>;UTF8:<value>";
			return TROVE_ERR_INVALID;
		}
		char oid[128];
		size_t n = (size_t)(semi - v);
		if (n == 0 || n >= sizeof(oid)) {
			*why = "other_sans: bad OID";
			return TROVE_ERR_INVALID;
		}
		memcpy(oid, v, n);
		oid[n] = '\0';
		ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
		ASN1_OBJECT_free(o);
		if (!o) {
			ERR_clear_error();
			*why = "other_sans: bad OID";
			return TROVE_ERR_INVALID;
		}
		return strlist_push(&s->other, v);
	}
	*why = "unknown SAN kind";
	return TROVE_ERR_INVALID;
}

void x509_subject_init(struct x509_subject *s)
{
	memset(s, 0, sizeof(*s));
	strlist_init(&s->ou);
	strlist_init(&s->org);
	strlist_init(&s->country);
	strlist_init(&s->locality);
	strlist_init(&s->province);
	strlist_init(&s->street);
	strlist_init(&s->postal);
}

void x509_subject_release(struct x509_subject *s)
{
	strlist_release(&s->ou);
	strlist_release(&s->org);
	strlist_release(&s->country);
	strlist_release(&s->locality);
	strlist_release(&s->province);
	strlist_release(&s->street);
	strlist_release(&s->postal);
}

static int name_add_list(X509_NAME *n, int nid, const struct strlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		if (!X509_NAME_add_entry_by_NID(n, nid, MBSTRING_UTF8, (const unsigned char *)l->items[i], -1, -1, 0))
			return TROVE_ERR_INVALID;
	return 0;
}

int x509_name_build(const struct x509_subject *s, X509_NAME **out)
{
	X509_NAME *n = X509_NAME_new();
	int r = TROVE_ERR_INVALID;
	if (!n)
		return TROVE_ERR_NOMEM;
	/* Go's pkix.Name order: C, ST, L, street, postal code, O, OU, CN, serialNumber */
	if (name_add_list(n, NID_countryName, &s->country) || name_add_list(n, NID_stateOrProvinceName, &s->province) ||
	    name_add_list(n, NID_localityName, &s->locality) || name_add_list(n, NID_streetAddress, &s->street) ||
	    name_add_list(n, NID_postalCode, &s->postal) || name_add_list(n, NID_organizationName, &s->org) ||
	    name_add_list(n, NID_organizationalUnitName, &s->ou))
		goto out;
	if (s->cn && s->cn[0] &&
	    !X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8, (const unsigned char *)s->cn, -1, -1, 0))
		goto out;
	if (s->serial_number && s->serial_number[0] &&
	    !X509_NAME_add_entry_by_NID(n, NID_serialNumber, MBSTRING_UTF8, (const unsigned char *)s->serial_number,
					-1, -1, 0))
		goto out;
	*out = n;
	n = NULL;
	r = 0;
out:
	ERR_clear_error();
	X509_NAME_free(n);
	return r;
}

int x509_ku_parse(const char *name, unsigned *bits)
{
	static const struct {
		const char *name;
		unsigned bit;
	} ku[] = {
	    {"digitalsignature", X509_KU_DIGITAL_SIGNATURE}, {"keyencipherment", X509_KU_KEY_ENCIPHERMENT},
	    {"keyagreement", X509_KU_KEY_AGREEMENT},         {"certsign", X509_KU_CERT_SIGN},
	    {"crlsign", X509_KU_CRL_SIGN},                   {"contentcommitment", X509_KU_CONTENT_COMMITMENT},
	    {"dataencipherment", X509_KU_DATA_ENCIPHERMENT},
	};
	if (strncasecmp(name, "keyusage", 8) == 0)
		name += 8;
	for (size_t i = 0; i < sizeof(ku) / sizeof(ku[0]); i++)
		if (strcasecmp(name, ku[i].name) == 0) {
			*bits |= ku[i].bit;
			return 0;
		}
	return TROVE_ERR_INVALID;
}

/* One extension from its config text (X509V3_EXT_conf_nid form). */
