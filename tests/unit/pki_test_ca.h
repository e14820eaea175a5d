/* pki_test_ca.h — for the PKI revocation tests: throwaway CAs and leaf
 * certificates made in the test, files in a scratch directory, and the
 * openssl command line run on them (the independent check). */
#ifndef TROVE_TEST_PKI_TEST_CA_H
#define TROVE_TEST_PKI_TEST_CA_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"

/* "RSA" (2048 bits), "P-256" or "ED25519". Aborts on failure. */
EVP_PKEY *test_key(const char *type);

/* A self-signed CA named cn; key_usage is an OpenSSL extension value
 * ("critical,keyCertSign,cRLSign") or NULL for none; with_skid adds a
 * subject key identifier. */
X509 *test_ca(EVP_PKEY *key, const char *cn, const char *key_usage, bool with_skid);

/* A leaf for cn with the given serial (bytes), issued by ca. */
X509 *test_leaf(X509 *ca, EVP_PKEY *ca_key, const char *cn, const unsigned char *serial, size_t serial_len);

/* A new scratch directory (heap path; remove it with test_rmdir). */
char *test_tmpdir(void);
void test_rmdir(char *dir);

/* dir/name as a heap string. */
char *test_path(const char *dir, const char *name);
void test_write(const char *path, const void *p, size_t n);
void test_write_cert(const char *path, X509 *cert);
/* The file's bytes in a new heap buffer (*n bytes, NUL-terminated). */
unsigned char *test_read(const char *path, size_t *n);

/* Runs a shell command line, its stdout and stderr into out; returns its
 * exit status. */
int test_run(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
