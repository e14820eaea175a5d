/* bench/pki/bound.c — the same machine's OpenSSL bound for issuing one
 * certificate, to set Trove's pki/issue rate beside:
 *
 *   ec:  an EC P-256 key generated and one ECDSA-SHA256 signature over a
 *        certificate-sized TBS (what one pki/issue with key_type ec must
 *        at least do);
 *   rsa: an RSA 2048 key generated (its signature by an EC issuer is
 *        noise beside it);
 *   ec-kept: ec's two operations done as cheaply as OpenSSL's EVP API
 *        allows: the key from a kept keygen context, the TBS hashed in
 *        one call and signed through a kept signing context. Not the
 *        bound: what a server that keeps its contexts could spend.
 *
 *   bench_pki_bound ec|ec-kept|rsa [seconds]
 *                                      prints "<mode> <ops>/s <n> ops"
 *
 * Single-threaded: run it pinned to the core the server gets. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One EC P-256 key and one signature of tbs with a fixed issuer key. */
static int ec_once(EVP_PKEY *issuer, const unsigned char *tbs, size_t len)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char sig[128];
	size_t siglen = sizeof(sig);
	int ok = k && m && EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, issuer) == 1 &&
		 EVP_DigestSign(m, sig, &siglen, tbs, len) == 1;
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

/* The same with contexts made once (keygen, sign) and kept. */
static int ec_kept_once(EVP_PKEY_CTX *keygen, EVP_PKEY_CTX *sign, const unsigned char *tbs, size_t len)
{
	EVP_PKEY *k = NULL;
	unsigned char md[32], sig[128];
	size_t siglen = sizeof(sig);
	int ok = EVP_PKEY_keygen(keygen, &k) == 1 &&
		 EVP_Digest(tbs, len, md, NULL, EVP_sha256(), NULL) == 1 &&
		 EVP_PKEY_sign(sign, sig, &siglen, md, sizeof(md)) == 1;
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

static int rsa_once(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	EVP_PKEY_free(k);
	return k ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "ec";
	double secs = argc > 2 ? strtod(argv[2], NULL) : 5.0;
	unsigned char tbs[600]; /* a leaf's TBSCertificate is 400-700 bytes */
	EVP_PKEY *issuer = EVP_EC_gen("P-256");
	EVP_PKEY_CTX *keygen = issuer ? EVP_PKEY_CTX_new_from_pkey(NULL, issuer, NULL) : NULL;
	EVP_PKEY_CTX *sign = issuer ? EVP_PKEY_CTX_new_from_pkey(NULL, issuer, NULL) : NULL;
	long n = 0;
	bool ec = strcmp(mode, "ec") == 0, kept = strcmp(mode, "ec-kept") == 0;

	if (!issuer || (!ec && !kept && strcmp(mode, "rsa"))) {
		fprintf(stderr, "usage: bench_pki_bound ec|ec-kept|rsa [seconds]\n");
		return 2;
	}
	if (!keygen || !sign || EVP_PKEY_keygen_init(keygen) != 1 || EVP_PKEY_sign_init(sign) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(sign, EVP_sha256()) != 1) {
		fprintf(stderr, "bench_pki_bound: OpenSSL failed\n");
		return 1;
	}
	memset(tbs, 0x5a, sizeof(tbs));
	double start = now(), end = start + (secs > 0 ? secs : 5.0), t;
	do {
		int r = ec     ? ec_once(issuer, tbs, sizeof(tbs))
			: kept ? ec_kept_once(keygen, sign, tbs, sizeof(tbs))
			       : rsa_once();
		if (r != 0) {
			fprintf(stderr, "bench_pki_bound: OpenSSL failed\n");
			return 1;
		}
		n++;
	} while ((t = now()) < end);
	printf("%s %.0f/s %ld ops\n", mode, (double)n / (t - start), n);
	EVP_PKEY_CTX_free(sign);
	EVP_PKEY_CTX_free(keygen);
	EVP_PKEY_free(issuer);
	return 0;
}
