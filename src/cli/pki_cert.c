/* pki_cert.c — the certificate work of the `trove pki` commands: issuers
 * read through the API and parsed with OpenSSL, and the relations
 * between a possible issuer and an issued certificate that Vault's
 * verify-sign reports. */
#include <ctype.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cli/pki.h"

#include "banned.h"

int pki_certs_from_pem(const char *pem, STACK_OF(X509) * chain)
{
	BIO *bio;
	X509 *x;
	int n = 0;
	unsigned long e;

	if (pem == NULL || (bio = BIO_new_mem_buf(pem, -1)) == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			n = -1;
			break;
		}
		n++;
	}
	/* The loop ends at the end of the text (PEM_R_NO_START_LINE) or at
	 * something that is not a certificate. */
	e = ERR_peek_last_error();
	if (n >= 0 && e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
		n = -1;
	ERR_clear_error();
	BIO_free(bio);
	return n;
}

X509 *pki_cert_from_pem(const char *pem)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x = NULL;

	if (sk == NULL)
		return NULL;
	if (pki_certs_from_pem(pem, sk) > 0) {
		x = sk_X509_value(sk, 0);
		(void)sk_X509_delete(sk, 0);
	}
	sk_X509_pop_free(sk, X509_free);
	return x;
}

void pki_issuer_read_release(struct pki_issuer_read *ir)
{
	X509_free(ir->cert);
	sk_X509_pop_free(ir->chain, X509_free);
	json_decref(ir->data);
	memset(ir, 0, sizeof(*ir));
}

int pki_read_issuer(struct cli *cli, const char *doing, const char *path, struct pki_issuer_read *out)
{
	json_t *resp = NULL, *data, *chain, *v;
	const char *pem;
	size_t i;
	int r = CLI_EXIT_REMOTE;

	memset(out, 0, sizeof(*out));
	if (cli_api(cli, doing, "GET", path, NULL, &resp) != 0)
		goto out;
	data = json_object_get(resp, "data");
	pem = json_string_value(json_object_get(data, "certificate"));
	if (pem == NULL || *pem == '\0') {
		fprintf(stderr, "Error %s: %s did not answer a certificate\n", doing, path);
		goto out;
	}
	if ((out->cert = pki_cert_from_pem(pem)) == NULL) {
		fprintf(stderr, "Error %s: the certificate at %s does not parse\n", doing, path);
		goto out;
	}
	if ((out->chain = sk_X509_new_null()) == NULL)
		goto out;
	chain = json_object_get(data, "ca_chain");
	json_array_foreach(chain, i, v)
	{
		if (!json_is_string(v) || pki_certs_from_pem(json_string_value(v), out->chain) < 0) {
			fprintf(stderr, "Error %s: ca_chain[%zu] at %s is not a PEM certificate\n", doing, i,
			        path);
			goto out;
		}
	}
	out->data = json_incref(data);
	r = 0;
out:
	if (r != 0)
		pki_issuer_read_release(out);
	json_decref(resp);
	return r;
}

static bool octets_equal(const ASN1_OCTET_STRING *a, const ASN1_OCTET_STRING *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return ASN1_OCTET_STRING_cmp(a, b) == 0;
}

static bool names_equal(const X509_NAME *a, const X509_NAME *b)
{
	const unsigned char *da, *db;
	size_t la, lb;

	if (!X509_NAME_get0_der(a, &da, &la) || !X509_NAME_get0_der(b, &db, &lb))
		return false;
	return la == lb && memcmp(da, db, la) == 0;
}

/* X509_verify_cert with issuer as the only trust anchor, even when it is
 * not self-signed (an intermediate), and no other certificate offered. */
static bool trusted_by(X509 *issuer, X509 *issued)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool ok = false;

	if (store && ctx && X509_STORE_add_cert(store, issuer) == 1 &&
	    X509_STORE_CTX_init(ctx, store, issued, NULL) == 1) {
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
		ok = X509_verify_cert(ctx) == 1;
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return ok;
}

void pki_verify_sign(X509 *issuer, X509 *issued, STACK_OF(X509) * issued_chain, struct pki_sign_match *m)
{
	EVP_PKEY *pub = X509_get0_pubkey(issuer);
	int i;

	memset(m, 0, sizeof(*m));
	m->key_id_match = octets_equal(X509_get0_authority_key_id(issued), X509_get0_subject_key_id(issuer));
	m->subject_match = names_equal(X509_get_subject_name(issuer), X509_get_issuer_name(issued));
	for (i = 0; issued_chain && i < sk_X509_num(issued_chain); i++)
		if (X509_cmp(sk_X509_value(issued_chain, i), issuer) == 0)
			m->path_match = true;
	/* As Go's CheckSignatureFrom: the signer must be allowed to sign. */
	m->signature_match = pub != NULL && X509_check_ca(issuer) > 0 && X509_verify(issued, pub) == 1;
	m->trust_match = trusted_by(issuer, issued);
	ERR_clear_error();
}

json_t *pki_sign_match_json(const struct pki_sign_match *m)
{
	return json_pack("{s:b, s:b, s:b, s:b, s:b}", "key_id_match", m->key_id_match, "path_match",
	                 m->path_match, "signature_match", m->signature_match, "subject_match",
	                 m->subject_match, "trust_match", m->trust_match);
}

char *pki_clean_path(const char *arg)
{
	size_t len;

	while (isspace((unsigned char)*arg) || *arg == '/')
		arg++;
	len = strlen(arg);
	while (len > 0 && (isspace((unsigned char)arg[len - 1]) || arg[len - 1] == '/'))
		len--;
	return xstrndup(arg, len);
}
