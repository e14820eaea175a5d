/* net_conn.h — one client connection, TCP or TLS, with deadlines.
 *
 * For the native transport (transport_native.h). Every call takes an
 * absolute deadline (clock_monotonic milliseconds) and waits with poll,
 * never longer; the socket is non-blocking throughout. A failing call
 * returns TROVE_ERR_TIMEOUT or TROVE_ERR_UPSTREAM and leaves the kind
 * (API_FAIL_CONNECT, _TLS, _EXCHANGE, _TIMEOUT) in c->failure and a
 * message in c->why ("could not connect to 127.0.0.1:1: Connection
 * refused"). */
#ifndef TROVE_API_NET_CONN_H
#define TROVE_API_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "api/api.h"

struct api_conn {
	int fd;   /* -1 when closed */
	SSL *ssl; /* NULL for plain TCP */
	enum api_failure failure;
	char why[512];
};

/* Milliseconds of the monotonic clock, the unit of deadlines. */
long api_conn_now_ms(void);

/* A closed connection. */
void api_conn_init(struct api_conn *c);
/* Closes (sending TLS close_notify when it can without waiting). */
void api_conn_close(struct api_conn *c);

/* Resolves host (a name or an IP literal without brackets) and connects
 * to the first of its addresses that answers, IPv4 or IPv6, by the
 * deadline. 0, or a failure (API_FAIL_CONNECT, API_FAIL_TIMEOUT). */
int api_conn_open(struct api_conn *c, const char *host, const char *port, long deadline);

/* TLS on the open connection (a TLS write may raise SIGPIPE when the
 * peer is gone: the caller blocks it): SNI sni (NULL: none), and unless ctx does
 * not verify, the certificate checked against check_name (a host name or
 * an IP literal). 0, or a failure (API_FAIL_TLS, API_FAIL_TIMEOUT);
 * either way the SSL stays with c for api_conn_close. */
int api_conn_tls(struct api_conn *c, SSL_CTX *ctx, const char *sni, const char *check_name, bool verify,
                 long deadline);

/* The TLS settings of cfg (borrowed) as a new SSL_CTX: TLS 1.2 or later;
 * unless cfg->tls_skip_verify, peers verified against cfg->ca_cert, else
 * cfg->ca_path, else OpenSSL's default store (SSL_CERT_FILE/SSL_CERT_DIR
 * when set); cfg->client_cert with cfg->client_key (else the key is read
 * from the certificate's file). 0 with *out set (the caller frees it), or
 * TROVE_ERR_UPSTREAM with API_FAIL_TLS and why in c. */
int api_conn_tls_ctx_new(const struct api_config *cfg, SSL_CTX **out, struct api_conn *c);

/* As api_conn_tls_ctx_new, sharing one context among the process's
 * clients (tls_ctx_share.c): while the settings are the same and the
 * files they name (ca_cert, client_cert, client_key; the default bundle
 * when no CA is set) are the same files unchanged (device, inode, size,
 * modification and change times), *out is a new reference to the context made for
 * them; otherwise a new context is made and kept in its place. OpenSSL 3
 * sets up every algorithm it has for each new context, megabytes of code
 * and a few hundred KiB of heap touched: a program whose threads each
 * keep a client (the agent) pays that once. The caller frees its
 * reference with SSL_CTX_free. */
int api_conn_tls_ctx(const struct api_config *cfg, SSL_CTX **out, struct api_conn *c);

/* As api_conn_tls_ctx, from PEM text in memory: peers verified (unless
 * skip_verify) against the certificates of ca_pem, or OpenSSL's default
 * store when it is NULL; the client certificate chain cert_pem (NULL:
 * none) with key_pem (NULL: the key is read from cert_pem). Nothing is
 * kept of the texts. 0 with *out set, or TROVE_ERR_UPSTREAM with
 * API_FAIL_TLS and why in c. */
int api_conn_tls_ctx_pem(const char *ca_pem, bool skip_verify, const char *cert_pem, const char *key_pem,
                         SSL_CTX **out, struct api_conn *c);

/* Writes all n bytes. 0, or a failure (API_FAIL_EXCHANGE, _TIMEOUT). */
int api_conn_write(struct api_conn *c, const void *p, size_t n, long deadline);
/* Reads up to n bytes into p: 0 with *got > 0, or *got == 0 when the
 * peer closed; or a failure (API_FAIL_EXCHANGE, _TIMEOUT). */
int api_conn_read(struct api_conn *c, void *p, size_t n, size_t *got, long deadline);

/* For a connection that sat idle: whether it still looks open, with
 * nothing unasked-for to read (TLS session tickets are taken in). */
bool api_conn_idle_ok(struct api_conn *c);

#endif
