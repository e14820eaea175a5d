/* x509_signer.c — signing contexts made once and used for many
 * signatures (x509.h). EVP_DigestSign sets up a fresh context for every
 * certificate: it fetches the digest and the signature algorithm, copies
 * the key's reference and asks the provider for the AlgorithmIdentifier,
 * about an eighth of an ECDSA signature's cost. ECDSA signs a digest,
 * so the digest is computed apart and the context, initialised once,
 * signs it (EVP_PKEY_sign) as often as asked. The DER signature is the
 * same as EVP_DigestSign's over the same bytes. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>

#include "x509.h"

#include "err.h"

#include "banned.h"

struct x509_signer {
	EVP_PKEY_CTX *ctx; /* holds its own reference to the key */
	EVP_MD_CTX *digest;
	EVP_MD *fetched; /* md, fetched once: EVP_sha256() and the like are fetched on every use */
	const EVP_PKEY *key;
	const EVP_MD *md;
	unsigned char aid[64];
	size_t aid_len;
};

struct x509_signer *x509_signer_new(EVP_PKEY *key, const EVP_MD *md)
{
	if (!key || !md || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
		return NULL;
	struct x509_signer *g = xcalloc(1, sizeof(*g));
	OSSL_PARAM params[2] = {
		OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, g->aid, sizeof(g->aid)),
		OSSL_PARAM_END};
	g->key = key;
	g->md = md;
	g->ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	g->digest = EVP_MD_CTX_new();
	g->fetched = EVP_MD_fetch(NULL, EVP_MD_get0_name(md), NULL);
	if (!g->ctx || !g->digest || !g->fetched || EVP_PKEY_sign_init(g->ctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(g->ctx, md) != 1 || EVP_PKEY_CTX_get_params(g->ctx, params) != 1 ||
	    !OSSL_PARAM_modified(&params[0]) || params[0].return_size > sizeof(g->aid)) {
		ERR_clear_error();
		x509_signer_free(g);
		return NULL;
	}
	g->aid_len = params[0].return_size;
	return g;
}

void x509_signer_free(struct x509_signer *g)
{
	if (!g)
		return;
	EVP_PKEY_CTX_free(g->ctx);
	EVP_MD_CTX_free(g->digest);
	EVP_MD_free(g->fetched);
	free(g);
}

bool x509_signer_is_for(const struct x509_signer *g, const EVP_PKEY *key, const EVP_MD *md)
{
	return g && g->key == key && g->md == md;
}

const EVP_PKEY *x509_signer_key(const struct x509_signer *g)
{
	return g->key;
}

const unsigned char *x509_signer_aid(const struct x509_signer *g, size_t *len)
{
	*len = g->aid_len;
	return g->aid;
}

int x509_signer_sign(struct x509_signer *g, const unsigned char *data, size_t len, unsigned char *sig,
		     size_t *siglen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (EVP_DigestInit_ex2(g->digest, g->fetched, NULL) != 1 ||
	    EVP_DigestUpdate(g->digest, data, len) != 1 || EVP_DigestFinal_ex(g->digest, md, &mdlen) != 1 ||
	    EVP_PKEY_sign(g->ctx, sig, siglen, md, mdlen) != 1) {
		ERR_clear_error();
		return TROVE_ERR_INTERNAL;
	}
	return 0;
}
