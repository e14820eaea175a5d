/* agent_templates_pki.c — what pkiCert shows a template, read from PEM
 * text, and when its certificate is due for replacement
 * (agent_templates_run.h). The PEM text is an issue answer's fields or
 * the destination file the certificate was rendered to before: a
 * certificate there that is still good is used again rather than issued
 * anew, so restarting the agent issues nothing. */
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "agent/agent_templates_run.h"
#include "secure.h"

#include "banned.h"

/* The block re-encoded as PEM (so every rendering is byte-identical
 * whatever the spacing around it was), as a new JSON string. */
static json_t *pem_string(const char *name, const char *header, const unsigned char *data, long len)
{
	BIO *out = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n = 0;
	json_t *s = NULL;

	if (out == NULL)
		return NULL;
	if (PEM_write_bio(out, name, header, data, len) > 0 && (n = BIO_get_mem_data(out, &p)) > 0)
		s = json_stringn(p, (size_t)n);
	if (p && n > 0)
		secure_wipe(p, (size_t)n);
	BIO_free(out);
	return s;
}

static int64_t asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static bool chain_has(const json_t *chain, const json_t *pem)
{
	size_t i;
	json_t *v;

	json_array_foreach(chain, i, v)
		if (json_equal(v, pem))
			return true;
	return false;
}

/* One PEM block of the text into v: the leaf, a key or a CA. */
static void take_block(json_t *v, json_t *chain, const char *name, const char *header, const unsigned char *data,
                       long len, int64_t *nb, int64_t *na)
{
	size_t nl = strlen(name);
	const unsigned char *p = data;
	json_t *pem;
	X509 *x;

	if (nl >= 11 && strcmp(name + nl - 11, "PRIVATE KEY") == 0) {
		if ((pem = pem_string(name, header, data, len)) != NULL)
			json_object_set_new(v, "Key", pem);
		return;
	}
	if (strcmp(name, "CERTIFICATE") != 0 || (x = d2i_X509(NULL, &p, len)) == NULL)
		return;
	if ((pem = pem_string(name, header, data, len)) != NULL) {
		if (X509_check_ca(x) > 0) {
			if (!json_object_get(v, "CA"))
				json_object_set(v, "CA", pem);
			if (!chain_has(chain, pem))
				json_array_append(chain, pem);
		} else {
			json_object_set(v, "Cert", pem);
			*nb = asn1_unix(X509_get0_notBefore(x));
			*na = asn1_unix(X509_get0_notAfter(x));
		}
		json_decref(pem);
	}
	X509_free(x);
}

json_t *tpki_value_from_pem(const char *pem, size_t len, int64_t *not_before_s, int64_t *not_after_s)
{
	BIO *in = BIO_new_mem_buf(pem, (int)len);
	json_t *v = json_object(), *chain = json_array();
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;

	*not_before_s = *not_after_s = 0;
	while (in && PEM_read_bio(in, &name, &header, &data, &dlen) > 0) {
		take_block(v, chain, name, header, data, dlen, not_before_s, not_after_s);
		OPENSSL_clear_free(data, (size_t)dlen);
		OPENSSL_free(name);
		OPENSSL_free(header);
		name = header = NULL;
		data = NULL;
	}
	BIO_free(in);
	if (!json_object_get(v, "Cert")) {
		json_decref(chain);
		api_json_free_secret(v);
		return NULL;
	}
	json_object_set_new(v, "CAChain", chain);
	if (!json_object_get(v, "CA"))
		json_object_set_new(v, "CA", json_string(""));
	if (!json_object_get(v, "Key"))
		json_object_set_new(v, "Key", json_string(""));
	/* consul-template's PemEncoded answers .Data with itself. */
	json_object_set_new(v, "Data", json_deep_copy(v));
	return v;
}

long tpki_refresh_ms(int64_t nb, int64_t na, int64_t now_s, double threshold, double rnd)
{
	double life_ms = (double)(na - nb) * 1000.0;
	double at_ms, left;

	if (na <= now_s)
		return 0;
	/* consul-template: threshold of the lifetime, +-3 %, from its start */
	at_ms = (double)nb * 1000.0 + life_ms * threshold + life_ms * ((rnd * 6.0 - 3.0) / 100.0);
	left = at_ms - (double)now_s * 1000.0;
	if (left <= 0)
		return 0;
	return left > (double)TRUNNER_MAX_REFRESH_MS ? TRUNNER_MAX_REFRESH_MS : (long)left;
}
