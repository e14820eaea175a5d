/* bench/pki/bound.c — the same machine's OpenSSL bound for issuing one
 * certificate, to set Trove's pki/issue rate beside:
 *
 *   ec:  an EC P-256 key generated and one ECDSA-SHA256 signature over a
 *        certificate-sized TBS (what one pki/issue with key_type ec must
 *        at least do);
 *   rsa: an RSA 2048 key generated (its signature by an EC issuer is
 *        noise beside it).
 *
 *   bench_pki_bound ec|rsa [seconds]   prints "<mode> <ops>/s <n> ops"
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
	long n = 0;
	bool ec = strcmp(mode, "rsa") != 0;

	if (!issuer || (strcmp(mode, "ec") && strcmp(mode, "rsa"))) {
		fprintf(stderr, "usage: bench_pki_bound ec|rsa [seconds]\n");
		return 2;
	}
	memset(tbs, 0x5a, sizeof(tbs));
	double start = now(), end = start + (secs > 0 ? secs : 5.0), t;
	do {
		if ((ec ? ec_once(issuer, tbs, sizeof(tbs)) : rsa_once()) != 0) {
			fprintf(stderr, "bench_pki_bound: OpenSSL failed\n");
			return 1;
		}
		n++;
	} while ((t = now()) < end);
	printf("%s %.0f/s %ld ops\n", mode, (double)n / (t - start), n);
	EVP_PKEY_free(issuer);
	return 0;
}
