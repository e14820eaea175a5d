/* pki_test_ca.c — see pki_test_ca.h. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki_test_ca.h"

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "test helper: %s failed\n", what);
		abort();
	}
}

EVP_PKEY *test_key(const char *type)
{
	EVP_PKEY *k;

	if (strcmp(type, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(type, "P-256") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	must(k != NULL, "keygen");
	return k;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	must(ext != NULL && X509_add_ext(cert, ext, -1) == 1, "extension");
	X509_EXTENSION_free(ext);
}

static const EVP_MD *md_for(EVP_PKEY *key)
{
	return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
}

static X509 *base_cert(const char *cn, const unsigned char *serial, size_t serial_len, EVP_PKEY *pub)
{
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIGNUM *bn = BN_bin2bn(serial, (int)serial_len, NULL);

	must(c && name && bn, "alloc");
	must(X509_set_version(c, X509_VERSION_3) == 1, "version");
	must(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) != NULL, "serial");
	must(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) == 1,
	     "name");
	must(X509_set_subject_name(c, name) == 1, "subject");
	must(X509_gmtime_adj(X509_getm_notBefore(c), -3600) != NULL, "notBefore");
	must(X509_gmtime_adj(X509_getm_notAfter(c), 86400) != NULL, "notAfter");
	must(X509_set_pubkey(c, pub) == 1, "pubkey");
	X509_NAME_free(name);
	BN_free(bn);
	return c;
}

X509 *test_ca(EVP_PKEY *key, const char *cn, const char *key_usage, bool with_skid)
{
	static const unsigned char serial[] = {0x01};
	X509 *c = base_cert(cn, serial, sizeof(serial), key);

	must(X509_set_issuer_name(c, X509_get_subject_name(c)) == 1, "issuer");
	add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE");
	if (key_usage)
		add_ext(c, c, NID_key_usage, key_usage);
	if (with_skid)
		add_ext(c, c, NID_subject_key_identifier, "hash");
	must(X509_sign(c, key, md_for(key)) > 0, "sign CA");
	return c;
}

X509 *test_leaf(X509 *ca, EVP_PKEY *ca_key, const char *cn, const unsigned char *serial, size_t serial_len)
{
	EVP_PKEY *k = test_key("P-256");
	X509 *c = base_cert(cn, serial, serial_len, k);

	must(X509_set_issuer_name(c, X509_get_subject_name(ca)) == 1, "issuer");
	add_ext(c, ca, NID_basic_constraints, "critical,CA:FALSE");
	must(X509_sign(c, ca_key, md_for(ca_key)) > 0, "sign leaf");
	EVP_PKEY_free(k);
	return c;
}

char *test_tmpdir(void)
{
	char *d = strdup("/tmp/trove-pki-XXXXXX");

	must(d && mkdtemp(d) != NULL, "mkdtemp");
	return d;
}

void test_rmdir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		char *p;
		if (e->d_name[0] == '.')
			continue;
		p = test_path(dir, e->d_name);
		unlink(p);
		free(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	free(dir);
}

char *test_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	must(p != NULL, "alloc");
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

void test_write(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	must(f && fwrite(p, 1, n, f) == n && fclose(f) == 0, "write file");
}

void test_write_cert(const char *path, X509 *cert)
{
	FILE *f = fopen(path, "w");

	must(f && PEM_write_X509(f, cert) == 1 && fclose(f) == 0, "write cert");
}

unsigned char *test_read(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long len = -1;

	must(f != NULL, "open file");
	must(fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0, "size file");
	p = malloc((size_t)len + 1);
	must(p && fread(p, 1, (size_t)len, f) == (size_t)len, "read file");
	p[len] = 0;
	fclose(f);
	*n = (size_t)len;
	return p;
}

int test_run(struct buf *out, const char *fmt, ...)
{
	char cmd[4096], chunk[1024];
	va_list ap;
	FILE *p;
	size_t n;
	int st;

	va_start(ap, fmt);
	must(vsnprintf(cmd, sizeof(cmd) - 8, fmt, ap) < (int)sizeof(cmd) - 8, "command fits");
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	buf_reset(out);
	p = popen(cmd, "r");
	must(p != NULL, "popen");
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		must(buf_append(out, chunk, n) == 0, "output");
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
