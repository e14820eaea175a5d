/* fields.c — the request fields every PKI generation path shares:
 * subject and SANs, validity, key parameters, output formats. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pki.h"

#include "clock.h"
#include "err.h"
#include "timefmt.h"

#include "banned.h"

void pki_req_list(struct request *req, const char *field, struct strlist *out)
{
	json_t *l = req->data ? json_object_get(req->data, field) : NULL, *v;
	size_t i;
	json_array_foreach(l, i, v) if (json_string_length(v)) strlist_push(out, json_string_value(v));
}

/* Whether a common name looks like a host name (so it also goes in the
 * DNS SANs, as Vault puts it there). */
static bool hostname_like(const char *s)
{
	if (!s[0])
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' && *s != '*' && *s != '_')
			return false;
	return true;
}

int pki_req_sans(struct request *req, const char *cn, struct x509_sans *sans, struct response *resp)
{
	static const char *const san_fields[] = {"alt_names", "ip_sans", "uri_sans", "other_sans"};
	const char *why = NULL;
	int r = 0;

	if (!field_bool(req, "exclude_cn_from_sans") && cn && cn[0]) {
		if (strchr(cn, '@'))
			r = strlist_push(&sans->email, cn);
		else if (hostname_like(cn))
			r = strlist_push(&sans->dns, cn);
	}
	for (size_t f = 0; r == 0 && f < sizeof(san_fields) / sizeof(san_fields[0]); f++) {
		json_t *l = req->data ? json_object_get(req->data, san_fields[f]) : NULL, *v;
		size_t i;
		json_array_foreach(l, i, v) {
			const char *s = json_string_value(v);
			if (!s || strlist_contains(strchr(s, '@') ? &sans->email : &sans->dns, s))
				continue;
			if ((r = x509_sans_add(sans, san_fields[f], s, &why)) != 0)
				return response_error(resp, r, "%s", why);
		}
	}
	return r;
}

int pki_req_names(struct request *req, struct x509_subject *subj, struct x509_sans *sans, struct response *resp)
{
	subj->cn = field_string(req, "common_name");
	subj->serial_number = field_string(req, "serial_number");
	pki_req_list(req, "ou", &subj->ou);
	pki_req_list(req, "organization", &subj->org);
	pki_req_list(req, "country", &subj->country);
	pki_req_list(req, "locality", &subj->locality);
	pki_req_list(req, "province", &subj->province);
	pki_req_list(req, "street_address", &subj->street);
	pki_req_list(req, "postal_code", &subj->postal);
	return pki_req_sans(req, subj->cn, sans, resp);
}

int pki_req_validity(struct request *req, int64_t def_ttl, int64_t max_ttl, int64_t *nb, int64_t *na,
		     struct response *resp)
{
	int64_t now = clock_realtime_s();
	int64_t ttl = field_present(req, "ttl") ? field_int(req, "ttl") : 0;
	int64_t back = field_present(req, "not_before_duration") ? field_int(req, "not_before_duration") : 30;

	if (ttl <= 0)
		ttl = def_ttl;
	*nb = now - back;
	if (field_present(req, "not_after") && field_string(req, "not_after")[0]) {
		if (field_present(req, "ttl") && field_int(req, "ttl") > 0)
			return response_error(resp, TROVE_ERR_INVALID, "not_after: either ttl or not_after, not both");
		if (time_parse_rfc3339(field_string(req, "not_after"), na) != 0)
			return response_error(resp, TROVE_ERR_INVALID,
					      "not_after: expected UTC time as YYYY-MM-ddTHH:MM:SSZ");
		if (*na <= now)
			return response_error(resp, TROVE_ERR_INVALID, "not_after: in the past");
		return 0;
	}
	if (max_ttl > 0 && ttl > max_ttl) {
		response_warning(resp, "TTL of %lld seconds is longer than the maximum of %lld: the maximum is used",
				 (long long)ttl, (long long)max_ttl);
		ttl = max_ttl;
	}
	*na = now + ttl;
	return 0;
}

int pki_req_formats(struct request *req, struct response *resp)
{
	const char *f = field_string(req, "format"), *k = field_string(req, "private_key_format");
	if (strcmp(f, "pem") && strcmp(f, "der") && strcmp(f, "pem_bundle"))
		return response_error(resp, TROVE_ERR_INVALID, "format: must be pem, der or pem_bundle");
	if (k[0] && strcmp(k, "der") && strcmp(k, "pem") && strcmp(k, "pkcs8"))
		return response_error(resp, TROVE_ERR_INVALID, "private_key_format: must be der, pem or pkcs8");
	return 0;
}

int pki_req_key_params(struct request *req, const char **type, int *bits, struct response *resp)
{
	const char *why = NULL;
	*type = field_present(req, "key_type") ? field_string(req, "key_type") : "rsa";
	if (x509_key_params(*type, field_int(req, "key_bits"), bits, &why) != 0)
		return response_error(resp, TROVE_ERR_INVALID, "%s", why);
	int64_t sb = field_int(req, "signature_bits");
	if (sb != 0 && sb != 256 && sb != 384 && sb != 512)
		return response_error(resp, TROVE_ERR_INVALID, "signature_bits: must be 256, 384 or 512");
	return 0;
}

void pki_pem_trim(char *pem)
{
	size_t n = strlen(pem);
	while (n > 0 && pem[n - 1] == '\n')
		pem[--n] = '\0';
}

int pki_cert_format(X509 *c, const char *format, char **out)
{
	if (format && strcmp(format, "der") == 0)
		return x509_cert_to_der_b64(c, out);
	int r = x509_cert_to_pem(c, out);
	if (r == 0)
		pki_pem_trim(*out);
	return r;
}

int pki_req_subject(struct request *req, struct x509_subject *subj, struct x509_sans *sans, X509_NAME **name,
		    struct response *resp)
{
	int r = pki_req_names(req, subj, sans, resp);
	if (r == 0 && (r = x509_name_build(subj, name)) != 0)
		r = response_error(resp, r, "common_name: the subject could not be encoded");
	return r;
}

void pki_req_ca_spec(struct request *req, struct x509_spec *spec, struct strlist *permitted)
{
	pki_req_list(req, "permitted_dns_domains", permitted);
	spec->is_ca = true;
	spec->max_path_length = (int)field_int(req, "max_path_length");
	spec->permitted_dns_domains = permitted;
	spec->key_usage = X509_KU_CERT_SIGN | X509_KU_CRL_SIGN;
	spec->signature_bits = (int)field_int(req, "signature_bits");
	spec->use_pss = field_bool(req, "use_pss");
}

int pki_key_format(struct request *req, EVP_PKEY *k, char **out)
{
	const char *pkf = field_string(req, "private_key_format");
	const char *f = field_string(req, "format");
	return x509_key_to_text(k, strcmp(pkf, "pkcs8") == 0 ? "pkcs8" : strcmp(f, "der") == 0 ? "der" : "pem", out);
}
