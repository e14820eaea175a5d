/* cert_match.c — the constraints of a certs/:name role that a client
 * certificate must meet (cert_auth.h), over OpenSSL's X509 API. */
#include <limits.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "auth/cert_auth.h"
#include "auth/jwt_auth.h"

#include "banned.h"

#define OID_TEXT_MAX 128

/* Whether one of the patterns matches s (n bytes; an embedded NUL never
 * matches). */
static bool any_pattern(const json_t *patterns, const char *s, size_t n)
{
	size_t i;
	const json_t *p;

	if (strlen(s) != n)
		return false;
	json_array_foreach(patterns, i, p)
	{
		if (json_is_string(p) && jwt_glob_match(json_string_value(p), s))
			return true;
	}
	return false;
}

static bool any_asn1(const json_t *patterns, const ASN1_STRING *a)
{
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, a);
	bool ok = n >= 0 && any_pattern(patterns, (const char *)utf8, (size_t)n);
	OPENSSL_free(utf8);
	return ok;
}

void cert_subject_cn(X509 *c, char *out, size_t cap)
{
	X509_NAME *name = X509_get_subject_name(c);
	int i = -1, last = -1;
	unsigned char *utf8 = NULL;

	out[0] = '\0';
	while ((i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) >= 0)
		last = i;
	if (last < 0)
		return;
	int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last)));
	if (n >= 0 && (size_t)n < cap && strlen((const char *)utf8) == (size_t)n)
		memcpy(out, utf8, (size_t)n + 1);
	OPENSSL_free(utf8);
}

static bool cn_matches(X509 *leaf, const json_t *patterns)
{
	char cn[1024];
	cert_subject_cn(leaf, cn, sizeof(cn));
	return any_pattern(patterns, cn, strlen(cn));
}

/* Whether a SAN of type kind (GEN_DNS, GEN_EMAIL, GEN_URI) matches. */
static bool san_matches(X509 *leaf, int kind, const json_t *patterns)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	bool ok = false;

	for (int i = 0; !ok && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		if (g->type == kind)
			ok = any_asn1(patterns, g->d.ia5);
	}
	GENERAL_NAMES_free(sans);
	return ok;
}

bool cert_match_names(X509 *leaf, const json_t *patterns)
{
	if (json_array_size(patterns) == 0)
		return true;
	return cn_matches(leaf, patterns) || san_matches(leaf, GEN_DNS, patterns) ||
	       san_matches(leaf, GEN_EMAIL, patterns);
}

bool cert_match_cn(X509 *leaf, const json_t *patterns)
{
	return json_array_size(patterns) == 0 || cn_matches(leaf, patterns);
}

bool cert_match_dns(X509 *leaf, const json_t *patterns)
{
	return json_array_size(patterns) == 0 || san_matches(leaf, GEN_DNS, patterns);
}

bool cert_match_email(X509 *leaf, const json_t *patterns)
{
	return json_array_size(patterns) == 0 || san_matches(leaf, GEN_EMAIL, patterns);
}

bool cert_match_uri(X509 *leaf, const json_t *patterns)
{
	return json_array_size(patterns) == 0 || san_matches(leaf, GEN_URI, patterns);
}

bool cert_match_ou(X509 *leaf, const json_t *patterns)
{
	X509_NAME *name = X509_get_subject_name(leaf);
	int i = -1;

	if (json_array_size(patterns) == 0)
		return true;
	while ((i = X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, i)) >= 0)
		if (any_asn1(patterns, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i))))
			return true;
	return false;
}

/* An extension's value read as an ASN.1 string (UTF8String,
 * PrintableString, IA5String...), as UTF-8 into out; "" when it is not
 * one. */
static void extension_text(X509_EXTENSION *ext, char *out, size_t cap)
{
	const ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(ext);
	const unsigned char *p = ASN1_STRING_get0_data(data);
	ASN1_STRING *s = d2i_DIRECTORYSTRING(NULL, &p, ASN1_STRING_length(data));
	unsigned char *utf8 = NULL;

	out[0] = '\0';
	if (!s) {
		p = ASN1_STRING_get0_data(data);
		s = d2i_DISPLAYTEXT(NULL, &p, ASN1_STRING_length(data));
	}
	if (!s)
		return;
	int n = ASN1_STRING_to_UTF8(&utf8, s);
	if (n >= 0 && (size_t)n < cap && strlen((const char *)utf8) == (size_t)n)
		memcpy(out, utf8, (size_t)n + 1);
	OPENSSL_free(utf8);
	ASN1_STRING_free(s);
}

/* The extension of leaf whose OID text is oid (the last one), or NULL. */
static X509_EXTENSION *extension_by_oid(X509 *leaf, const char *oid, size_t oid_len)
{
	X509_EXTENSION *found = NULL;
	char text[OID_TEXT_MAX];

	for (int i = 0; i < X509_get_ext_count(leaf); i++) {
		X509_EXTENSION *ext = X509_get_ext(leaf, i);
		int n = OBJ_obj2txt(text, sizeof(text), X509_EXTENSION_get_object(ext), 1);
		if (n > 0 && (size_t)n == oid_len && memcmp(text, oid, oid_len) == 0)
			found = ext;
	}
	return found;
}

bool cert_match_extensions(X509 *leaf, const json_t *required)
{
	size_t i;
	const json_t *v;

	json_array_foreach(required, i, v)
	{
		const char *want = json_string_value(v), *colon = want ? strchr(want, ':') : NULL;
		char have[1024];
		if (!colon)
			return false;
		X509_EXTENSION *ext = extension_by_oid(leaf, want, (size_t)(colon - want));
		if (!ext)
			return false;
		extension_text(ext, have, sizeof(have));
		if (!jwt_glob_match(colon + 1, have))
			return false;
	}
	return true;
}

bool cert_match_role(X509 *leaf, const json_t *role)
{
	return cert_match_names(leaf, json_object_get(role, "allowed_names")) &&
	       cert_match_cn(leaf, json_object_get(role, "allowed_common_names")) &&
	       cert_match_dns(leaf, json_object_get(role, "allowed_dns_sans")) &&
	       cert_match_email(leaf, json_object_get(role, "allowed_email_sans")) &&
	       cert_match_uri(leaf, json_object_get(role, "allowed_uri_sans")) &&
	       cert_match_ou(leaf, json_object_get(role, "allowed_organizational_units")) &&
	       cert_match_extensions(leaf, json_object_get(role, "required_extensions"));
}

void cert_extension_metadata(X509 *leaf, const json_t *allowed, json_t *meta)
{
	size_t i;
	const json_t *v;

	json_array_foreach(allowed, i, v)
	{
		const char *oid = json_string_value(v);
		char have[1024], key[OID_TEXT_MAX];
		X509_EXTENSION *ext = oid ? extension_by_oid(leaf, oid, strlen(oid)) : NULL;
		if (!ext || strlen(oid) >= sizeof(key))
			continue;
		extension_text(ext, have, sizeof(have));
		for (size_t k = 0; k <= strlen(oid); k++)
			key[k] = oid[k] == '.' ? '-' : oid[k];
		json_object_set_new(meta, key, json_string(have));
	}
}

STACK_OF(X509) * cert_parse_pem(const char *pem, size_t len)
{
	BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
	STACK_OF(X509) *out = sk_X509_new_null();
	X509 *c;

	if (!bio || !out)
		goto fail;
	while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(out, c)) {
			X509_free(c);
			goto fail;
		}
	ERR_clear_error();
	BIO_free(bio);
	if (sk_X509_num(out) > 0)
		return out;
	sk_X509_free(out);
	return NULL;
fail:
	ERR_clear_error();
	BIO_free(bio);
	sk_X509_pop_free(out, X509_free);
	return NULL;
}
