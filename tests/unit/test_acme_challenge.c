/* test_acme_challenge.c — ACME challenge validation against servers the
 * test runs on 127.0.0.1: an HTTP server (http-01), a TLS server with a
 * certificate made here (tls-alpn-01) and a UDP DNS responder (dns-01);
 * and the DNS answer reader on hand-made messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "encoding.h"
#include "engines/pki/acme/challenge.h"
#include "engines/pki/acme/dns_txt.h"
#include "err.h"
#include "hmac.h"
#include "thread_role.h"

#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define THUMB "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
#define KEYAUTH TOKEN "." THUMB

/* A listening socket on 127.0.0.1, its port in *port. */
static int listen_on(int type, unsigned *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, type, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 8), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static void test_refused_on_event_loop(void **state)
{
	struct acme_validation v = {.id_type = ACME_ID_DNS,
	                            .identifier = "localhost",
	                            .token = TOKEN,
	                            .key_authorization = KEYAUTH,
	                            .port = 1,
	                            .resolver = "127.0.0.1:1"};

	(void)state;
	thread_role_set_loop(true);
	assert_int_equal(acme_validate_http01(&v, NULL), TROVE_ERR_WOULD_BLOCK);
	assert_int_equal(acme_validate_tls_alpn01(&v, NULL), TROVE_ERR_WOULD_BLOCK);
	assert_int_equal(acme_validate_dns01(&v, NULL), TROVE_ERR_WOULD_BLOCK);
	thread_role_set_loop(false);
}

static void test_key_authorization_and_fit(void **state)
{
	char *ka = acme_key_authorization(TOKEN, THUMB);
	struct buf err;

	(void)state;
	assert_string_equal(ka, KEYAUTH);
	free(ka);
	buf_init(&err, 256);
	assert_int_equal(acme_challenge_allowed(ACME_CHALLENGE_HTTP01, ACME_ID_DNS, "a.example", NULL), 0);
	assert_int_equal(acme_challenge_allowed(ACME_CHALLENGE_DNS01, ACME_ID_DNS, "*.example", NULL), 0);
	assert_int_equal(acme_challenge_allowed(ACME_CHALLENGE_HTTP01, ACME_ID_DNS, "*.example", &err),
	                 TROVE_ERR_INVALID);
	assert_string_equal(err.data, "a wildcard identifier needs dns-01");
	assert_int_equal(acme_challenge_allowed(ACME_CHALLENGE_TLS_ALPN01, ACME_ID_DNS, "*.example", NULL),
	                 TROVE_ERR_INVALID);
	assert_int_equal(acme_challenge_allowed(ACME_CHALLENGE_HTTP01, ACME_ID_IP, "::1", NULL), 0);
	assert_int_equal(acme_challenge_allowed(ACME_CHALLENGE_TLS_ALPN01, ACME_ID_IP, "10.0.0.1", NULL), 0);
	buf_reset(&err);
	assert_int_equal(acme_challenge_allowed(ACME_CHALLENGE_DNS01, ACME_ID_IP, "10.0.0.1", &err),
	                 TROVE_ERR_INVALID);
	assert_string_equal(err.data, "dns-01 cannot validate an ip identifier");
	assert_int_equal(acme_challenge_allowed(ACME_CHALLENGE_HTTP01, ACME_ID_IP, "example", NULL),
	                 TROVE_ERR_INVALID);
	assert_int_equal(acme_challenge_allowed(ACME_CHALLENGE_HTTP01, ACME_ID_DNS, "", NULL),
	                 TROVE_ERR_INVALID);
	buf_release(&err);
}

/* ---- http-01 ---- */

struct http_server {
	int fd;
	unsigned port;
	int status;
	const char *body;
	int redirects;  /* answers that redirect (to /hop<n>) before the real one */
	char path[512]; /* of the last request */
	pthread_t thread;
};

static void *http_serve(void *arg)
{
	struct http_server *s = arg;

	for (int i = 0; i <= s->redirects; i++) {
		char req[4096], head[256];
		ssize_t n;
		int c = accept(s->fd, NULL, NULL);

		if (c < 0)
			return NULL;
		n = recv(c, req, sizeof(req) - 1, 0);
		if (n > 0) {
			char *sp;
			req[n] = '\0';
			sp = strchr(req + 4, ' ');
			memset(s->path, 0, sizeof(s->path));
			if (sp && (size_t)(sp - req - 4) < sizeof(s->path))
				memcpy(s->path, req + 4, (size_t)(sp - req - 4));
		}
		if (i < s->redirects)
			snprintf(head, sizeof(head),
			         "HTTP/1.1 302 X\r\nLocation: /hop%d\r\nContent-Length: 0\r\nConnection: "
			         "close\r\n\r\n",
			         i + 1);
		else
			snprintf(head, sizeof(head),
			         "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			         s->status, strlen(s->body));
		send(c, head, strlen(head), MSG_NOSIGNAL);
		if (i == s->redirects)
			send(c, s->body, strlen(s->body), MSG_NOSIGNAL);
		close(c);
	}
	return NULL;
}

static int http01_redirected(int redirects, int status, const char *body, enum acme_id_type t, const char *id,
                             struct buf *err, char *path_out)
{
	struct http_server s = {.status = status, .body = body, .redirects = redirects};
	struct acme_validation v = {
	    .id_type = t, .identifier = id, .token = TOKEN, .key_authorization = KEYAUTH, .timeout_ms = 5000};
	int r;

	s.fd = listen_on(SOCK_STREAM, &s.port);
	v.port = s.port;
	pthread_create(&s.thread, NULL, http_serve, &s);
	r = acme_validate_http01(&v, err);
	shutdown(s.fd, SHUT_RDWR);
	pthread_join(s.thread, NULL);
	close(s.fd);
	if (path_out)
		memcpy(path_out, s.path, sizeof(s.path));
	return r;
}

static int http01_against(int status, const char *body, enum acme_id_type t, const char *id, struct buf *err,
                          char *path_out)
{
	return http01_redirected(0, status, body, t, id, err, path_out);
}

static void test_http01(void **state)
{
	struct buf err;
	char path[512] = "", *big;

	(void)state;
	buf_init(&err, 1024);
	assert_int_equal(http01_against(200, KEYAUTH "\n", ACME_ID_IP, "127.0.0.1", &err, path), 0);
	assert_string_equal(path, "/.well-known/acme-challenge/" TOKEN);
	assert_int_equal(http01_against(200, "  " KEYAUTH " \r\n", ACME_ID_DNS, "localhost", &err, NULL), 0);
	assert_int_equal(http01_against(200, TOKEN ".wrongthumbprint", ACME_ID_IP, "127.0.0.1", &err, NULL),
	                 TROVE_ERR_PERMISSION);
	assert_non_null(strstr(err.data, "did not answer the key authorization"));
	assert_int_equal(http01_against(200, KEYAUTH "x", ACME_ID_IP, "127.0.0.1", NULL, NULL),
	                 TROVE_ERR_PERMISSION);
	buf_reset(&err);
	assert_int_equal(http01_against(404, KEYAUTH, ACME_ID_IP, "127.0.0.1", &err, NULL),
	                 TROVE_ERR_UPSTREAM);
	assert_non_null(strstr(err.data, "answered status 404"));
	/* redirects are followed, up to the bound */
	assert_int_equal(http01_redirected(2, 200, KEYAUTH, ACME_ID_IP, "127.0.0.1", &err, path), 0);
	assert_string_equal(path, "/hop2");
	assert_int_equal(
	    http01_redirected(ACME_HTTP01_MAX_REDIRECTS, 200, KEYAUTH, ACME_ID_IP, "127.0.0.1", &err, path),
	    0);
	assert_int_equal(http01_redirected(ACME_HTTP01_MAX_REDIRECTS + 1, 200, KEYAUTH, ACME_ID_IP,
	                                   "127.0.0.1", NULL, NULL),
	                 TROVE_ERR_UPSTREAM);
	big = calloc(1, ACME_HTTP01_MAX_BODY + 100);
	memset(big, ' ', ACME_HTTP01_MAX_BODY + 50);
	memcpy(big, KEYAUTH, strlen(KEYAUTH));
	assert_int_equal(http01_against(200, big, ACME_ID_IP, "127.0.0.1", NULL, NULL), TROVE_ERR_UPSTREAM);
	free(big);
	{
		struct acme_validation v = {.id_type = ACME_ID_DNS,
		                            .identifier = "*.localhost",
		                            .token = TOKEN,
		                            .key_authorization = KEYAUTH,
		                            .port = 1};
		assert_int_equal(acme_validate_http01(&v, NULL), TROVE_ERR_INVALID);
		v.identifier = "localhost";
		v.token = "../../etc/passwd";
		assert_int_equal(acme_validate_http01(&v, NULL), TROVE_ERR_INVALID);
		v.identifier = "local host/x";
		v.token = TOKEN;
		assert_int_equal(acme_validate_http01(&v, NULL), TROVE_ERR_INVALID);
	}
	{ /* nobody listening */
		unsigned port;
		int fd = listen_on(SOCK_STREAM, &port);
		struct acme_validation v = {.id_type = ACME_ID_IP,
		                            .identifier = "127.0.0.1",
		                            .token = TOKEN,
		                            .key_authorization = KEYAUTH,
		                            .timeout_ms = 2000};
		close(fd);
		v.port = port;
		assert_int_equal(acme_validate_http01(&v, NULL), TROVE_ERR_UPSTREAM);
	}
	buf_release(&err);
}

/* ---- tls-alpn-01 ---- */

struct cert_spec {
	const char *san;      /* "DNS:localhost", "IP:127.0.0.1", "DNS:a,DNS:b" */
	const char *key_auth; /* hashed into acmeIdentifier; NULL: none */
	bool critical;
	bool alpn;           /* the server selects acme-tls/1 */
	bool other_issuer;   /* an issuer name other than the subject */
	bool extra_critical; /* a critical extension nobody understands */
};

struct tls_server {
	int fd;
	unsigned port;
	SSL_CTX *ctx;
	pthread_t thread;
};

static int select_acme(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen,
	                          (const unsigned char *)"\x0a"
	                                                 "acme-tls/1",
	                          11, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *server_ctx(const struct cert_spec *spec)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"acme", -1, -1, 0);
	if (spec->other_issuer) {
		X509_NAME *n = X509_NAME_new();
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"some CA", -1, -1,
		                           0);
		X509_set_issuer_name(x, n);
		X509_NAME_free(n);
	} else {
		X509_set_issuer_name(x, X509_get_subject_name(x));
	}
	if (spec->extra_critical) {
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.55555.1", 1);
		ASN1_OCTET_STRING_set(os, (const unsigned char *)"\x05\x00", 2);
		ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, os);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
		ASN1_OBJECT_free(oid);
		ASN1_OCTET_STRING_free(os);
	}
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, spec->san);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (spec->key_auth) {
		unsigned char der[34] = {0x04, 0x20};
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
		sha256(spec->key_auth, strlen(spec->key_auth), der + 2);
		ASN1_OCTET_STRING_set(os, der, sizeof(der));
		ext = X509_EXTENSION_create_by_OBJ(NULL, oid, spec->critical, os);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
		ASN1_OBJECT_free(oid);
		ASN1_OCTET_STRING_free(os);
	}
	X509_sign(x, key, EVP_sha256());
	SSL_CTX_use_certificate(ctx, x);
	SSL_CTX_use_PrivateKey(ctx, key);
	if (spec->alpn)
		SSL_CTX_set_alpn_select_cb(ctx, select_acme, NULL);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

static void *tls_serve(void *arg)
{
	struct tls_server *s = arg;

	for (;;) {
		int c = accept(s->fd, NULL, NULL);
		SSL *ssl;
		if (c < 0)
			return NULL;
		ssl = SSL_new(s->ctx);
		SSL_set_fd(ssl, c);
		if (SSL_accept(ssl) == 1)
			SSL_shutdown(ssl);
		SSL_free(ssl);
		close(c);
	}
}

static int tls_alpn_against(const struct cert_spec *spec, enum acme_id_type t, const char *id,
                            struct buf *err)
{
	struct tls_server s;
	struct acme_validation v = {
	    .id_type = t, .identifier = id, .token = TOKEN, .key_authorization = KEYAUTH, .timeout_ms = 5000};
	int r;

	s.ctx = server_ctx(spec);
	s.fd = listen_on(SOCK_STREAM, &s.port);
	v.port = s.port;
	pthread_create(&s.thread, NULL, tls_serve, &s);
	r = acme_validate_tls_alpn01(&v, err);
	shutdown(s.fd, SHUT_RDWR);
	pthread_join(s.thread, NULL);
	close(s.fd);
	SSL_CTX_free(s.ctx);
	return r;
}

static void test_tls_alpn01(void **state)
{
	struct buf err;
	const struct cert_spec good = {"DNS:localhost", KEYAUTH, true, true, false, false};
	const struct cert_spec ip = {"IP:127.0.0.1", KEYAUTH, true, true, false, false};
	const struct cert_spec wrong = {"DNS:localhost", TOKEN ".other", true, true, false, false};
	const struct cert_spec noncrit = {"DNS:localhost", KEYAUTH, false, true, false, false};
	const struct cert_spec two = {"DNS:localhost,DNS:other.test", KEYAUTH, true, true, false, false};
	const struct cert_spec none = {"DNS:localhost", NULL, true, true, false, false};
	const struct cert_spec issued = {"DNS:localhost", KEYAUTH, true, true, true, false};
	const struct cert_spec extra = {"DNS:localhost", KEYAUTH, true, true, false, true};
	const struct cert_spec noalpn = {"DNS:localhost", KEYAUTH, true, false, false, false};

	(void)state;
	buf_init(&err, 1024);
	if (tls_alpn_against(&good, ACME_ID_DNS, "localhost", &err) != 0)
		fail_msg("%s", err.data);
	assert_int_equal(tls_alpn_against(&ip, ACME_ID_IP, "127.0.0.1", &err), 0);
	assert_int_equal(tls_alpn_against(&ip, ACME_ID_DNS, "localhost", &err), TROVE_ERR_PERMISSION);
	buf_reset(&err);
	assert_int_equal(tls_alpn_against(&wrong, ACME_ID_DNS, "localhost", &err), TROVE_ERR_PERMISSION);
	assert_string_equal(err.data,
	                    "tls-alpn-01: acmeIdentifier does not hold the key authorization's digest");
	buf_reset(&err);
	assert_int_equal(tls_alpn_against(&noncrit, ACME_ID_DNS, "localhost", &err), TROVE_ERR_PERMISSION);
	assert_string_equal(err.data, "tls-alpn-01: acmeIdentifier extension is not critical");
	buf_reset(&err);
	assert_int_equal(tls_alpn_against(&two, ACME_ID_DNS, "localhost", &err), TROVE_ERR_PERMISSION);
	assert_non_null(strstr(err.data, "subjectAltName"));
	buf_reset(&err);
	assert_int_equal(tls_alpn_against(&none, ACME_ID_DNS, "localhost", &err), TROVE_ERR_PERMISSION);
	assert_non_null(strstr(err.data, "lacks one acmeIdentifier"));
	buf_reset(&err);
	buf_reset(&err);
	assert_int_equal(tls_alpn_against(&issued, ACME_ID_DNS, "localhost", &err), TROVE_ERR_PERMISSION);
	assert_string_equal(err.data, "tls-alpn-01: certificate is not one self-signed certificate");
	buf_reset(&err);
	assert_int_equal(tls_alpn_against(&extra, ACME_ID_DNS, "localhost", &err), TROVE_ERR_PERMISSION);
	assert_string_equal(err.data, "tls-alpn-01: certificate has a critical extension not understood");
	buf_reset(&err);
	assert_int_equal(tls_alpn_against(&noalpn, ACME_ID_DNS, "localhost", &err), TROVE_ERR_PERMISSION);
	assert_string_equal(err.data, "tls-alpn-01: server did not select ALPN acme-tls/1");
	{
		struct acme_validation v = {.id_type = ACME_ID_DNS,
		                            .identifier = "*.localhost",
		                            .key_authorization = KEYAUTH,
		                            .port = 1};
		assert_int_equal(acme_validate_tls_alpn01(&v, NULL), TROVE_ERR_INVALID);
	}
	buf_release(&err);
}

/* ---- dns-01 ---- */

struct dns_server {
	int fd, tcp_fd;
	unsigned port;
	const char *const *txt; /* NULL-terminated values */
	int rcode;
	bool truncate; /* UDP answers are empty with TC set: TCP has them */
	int tcp_queries;
	char qname[256];
	volatile bool stop;
	pthread_t thread, tcp_thread;
};

/* The answer to query q (n bytes) into a; its length, or 0. */
static size_t dns_answer(struct dns_server *s, const unsigned char *q, size_t n, unsigned char *a,
                         bool truncated)
{
	size_t qend = 12, o, nq = 0;

	if (n < 12)
		return 0;
	while (qend < n && q[qend] != 0) { /* the question's name, as text */
		if (nq)
			s->qname[nq++] = '.';
		memcpy(s->qname + nq, q + qend + 1, q[qend]);
		nq += q[qend];
		qend += (size_t)q[qend] + 1;
	}
	s->qname[nq] = '\0';
	qend += 5;
	memcpy(a, q, qend);
	a[2] = truncated ? 0x83 : 0x81;
	a[3] = (unsigned char)(0x80 | s->rcode);
	a[6] = a[7] = a[8] = a[9] = a[10] = a[11] = 0;
	o = qend;
	for (size_t i = 0; !truncated && s->rcode == 0 && s->txt && s->txt[i]; i++) {
		size_t len = strlen(s->txt[i]), rd = 0;
		unsigned char *rdlen;
		static const unsigned char rr[] = {0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 60};
		memcpy(a + o, rr, sizeof(rr));
		o += sizeof(rr);
		rdlen = a + o;
		o += 2;
		for (size_t at = 0; at < len; at += 255) { /* split in character-strings */
			size_t chunk = len - at > 255 ? 255 : len - at;
			a[o++] = (unsigned char)chunk;
			memcpy(a + o, s->txt[i] + at, chunk);
			o += chunk;
			rd += chunk + 1;
		}
		rdlen[0] = (unsigned char)(rd >> 8);
		rdlen[1] = (unsigned char)rd;
		a[7]++;
	}
	return o;
}

static void *dns_serve(void *arg)
{
	struct dns_server *s = arg;
	struct timeval tv = {0, 100000};

	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!s->stop) {
		unsigned char q[512], a[4096];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(s->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
		size_t len = n > 0 ? dns_answer(s, q, (size_t)n, a, s->truncate) : 0;

		if (len)
			sendto(s->fd, a, len, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

/* DNS over TCP (RFC 1035 section 4.2.2): each message after its length. */
static void *dns_serve_tcp(void *arg)
{
	struct dns_server *s = arg;

	for (;;) {
		unsigned char q[514], a[4098];
		ssize_t n;
		size_t len;
		int c = accept(s->tcp_fd, NULL, NULL);

		if (c < 0)
			return NULL;
		n = recv(c, q, sizeof(q), 0);
		if (n > 2 && (len = dns_answer(s, q + 2, (size_t)n - 2, a + 2, false)) != 0) {
			s->tcp_queries++;
			a[0] = (unsigned char)(len >> 8);
			a[1] = (unsigned char)len;
			send(c, a, len + 2, MSG_NOSIGNAL);
		}
		close(c);
	}
}

/* A UDP socket and a listening TCP socket on one free port: the UDP port
 * the kernel picks may be taken for TCP, so try again until both bind. */
static void udp_tcp_pair(struct dns_server *s)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int one = 1;

		s->fd = listen_on(SOCK_DGRAM, &s->port);
		a.sin_port = htons((uint16_t)s->port);
		s->tcp_fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(s->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s->tcp_fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s->tcp_fd, 4) == 0)
			return;
		close(s->tcp_fd);
		close(s->fd);
	}
	fail_msg("no port free for both UDP and TCP");
}

static int dns01_run(struct dns_server *s, const char *id, struct buf *err)
{
	char resolver[32];
	struct acme_validation v = {.id_type = ACME_ID_DNS,
	                            .identifier = id,
	                            .key_authorization = KEYAUTH,
	                            .resolver = resolver,
	                            .timeout_ms = 4000};
	int r;

	udp_tcp_pair(s);
	snprintf(resolver, sizeof(resolver), "127.0.0.1:%u", s->port);
	pthread_create(&s->thread, NULL, dns_serve, s);
	pthread_create(&s->tcp_thread, NULL, dns_serve_tcp, s);
	r = acme_validate_dns01(&v, err);
	s->stop = true;
	shutdown(s->tcp_fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	pthread_join(s->tcp_thread, NULL);
	close(s->fd);
	close(s->tcp_fd);
	return r;
}

static int dns01_against(const char *const *txt, int rcode, const char *id, struct buf *err, char *qname)
{
	struct dns_server s = {.txt = txt, .rcode = rcode};
	int r = dns01_run(&s, id, err);

	assert_int_equal(s.tcp_queries, 0);
	if (qname)
		memcpy(qname, s.qname, sizeof(s.qname));
	return r;
}

static void test_dns01(void **state)
{
	unsigned char d[SHA256_LEN];
	char *want, qname[256], long_txt[600];
	struct buf err;

	(void)state;
	sha256(KEYAUTH, strlen(KEYAUTH), d);
	want = base64url_encode(d, sizeof(d));
	buf_init(&err, 1024);
	{
		const char *const txt[] = {"unrelated", want, NULL};
		if (dns01_against(txt, 0, "example.test", &err, qname) != 0)
			fail_msg("%s", err.data);
		assert_string_equal(qname, "_acme-challenge.example.test");
		assert_int_equal(dns01_against(txt, 0, "*.example.test", &err, qname), 0);
		assert_string_equal(qname, "_acme-challenge.example.test");
	}
	{
		const char *const txt[] = {"unrelated", "xHb0AOyq_not_it", NULL};
		buf_reset(&err);
		assert_int_equal(dns01_against(txt, 0, "example.test", &err, NULL), TROVE_ERR_PERMISSION);
		assert_non_null(strstr(err.data, "no TXT record of _acme-challenge.example.test holds"));
		assert_int_equal(dns01_against(NULL, 0, "example.test", NULL, NULL), TROVE_ERR_PERMISSION);
		assert_int_equal(dns01_against(NULL, 3, "example.test", NULL, NULL), TROVE_ERR_PERMISSION);
	}
	{ /* a truncated UDP answer: the query again over TCP */
		const char *const txt[] = {want, NULL};
		struct dns_server s = {.txt = txt, .truncate = true};
		assert_int_equal(dns01_run(&s, "example.test", NULL), 0);
		assert_int_equal(s.tcp_queries, 1);
	}
	{ /* a value split over character-strings is joined */
		const char *const txt[] = {long_txt, NULL};
		memset(long_txt, 'a', sizeof(long_txt) - 1);
		long_txt[sizeof(long_txt) - 1] = '\0';
		assert_int_equal(dns01_against(txt, 0, "example.test", NULL, NULL), TROVE_ERR_PERMISSION);
	}
	{
		struct acme_validation v = {
		    .id_type = ACME_ID_IP, .identifier = "127.0.0.1", .key_authorization = KEYAUTH};
		assert_int_equal(acme_validate_dns01(&v, NULL), TROVE_ERR_INVALID);
		v.id_type = ACME_ID_DNS;
		v.identifier = "example.test";
		v.resolver = "dns.example:53";
		buf_reset(&err);
		assert_int_equal(acme_validate_dns01(&v, &err), TROVE_ERR_INVALID);
		assert_non_null(strstr(err.data, "not an IPv4 address"));
		v.resolver = "127.0.0.1:70000";
		assert_int_equal(acme_validate_dns01(&v, NULL), TROVE_ERR_INVALID);
	}
	free(want);
	buf_release(&err);
}

/* ---- the DNS answer reader ---- */

static int parse(const unsigned char *m, size_t n, struct strlist *out)
{
	strlist_release(out);
	strlist_init(out);
	return dns_txt_parse(m, n, out);
}

static void test_dns_txt_parse(void **state)
{
	/* header: response, 1 question, 3 answers: a CNAME, a TXT of two
	 * strings (compressed owner), a TXT holding a NUL (dropped) */
	static const unsigned char
	    msg[] =
	        {
	            0x12, 0x34, 0x81, 0x80, 0, 1,  0, 3, 0, 0,  0, 0,  1, 'a', 4,    't',
	            'e',  's',  't',  0,    0, 16, 0, 1, /* question a.test TXT */
	            0xc0, 12,   0,    5,    0, 1,  0, 0, 0, 60, 0, 4,  1, 'b', 0xc0, 14, /* CNAME b.test */
	            1,    'b',  0xc0, 14,   0, 16, 0, 1, 0, 0,  0, 60, 0, 6,   2,    'h',
	            'i',  2,    'y',  'o',                                        /* TXT "hi" "yo" */
	            0xc0, 12,   0,    16,   0, 1,  0, 0, 0, 60, 0, 3,  2, 'x', 0, /* TXT "x\0" */
	        };
	unsigned char m[sizeof(msg)];
	struct strlist out;

	(void)state;
	strlist_init(&out);
	assert_int_equal(parse(msg, sizeof(msg), &out), 0);
	assert_int_equal(out.len, 1);
	assert_string_equal(out.items[0], "hiyo");
	/* every truncation is refused or reads less, never past the end */
	for (size_t n = 0; n < sizeof(msg); n++) {
		unsigned char *cut = malloc(n ? n : 1);
		memcpy(cut, msg, n);
		assert_int_not_equal(parse(cut, n, &out), 0);
		free(cut);
	}
	memcpy(m, msg, sizeof(m));
	m[3] = 0x83; /* NXDOMAIN */
	assert_int_equal(parse(m, sizeof(m), &out), TROVE_ERR_NOT_FOUND);
	m[3] = 0x82; /* SERVFAIL */
	assert_int_equal(parse(m, sizeof(m), &out), TROVE_ERR_INVALID);
	memcpy(m, msg, sizeof(m));
	m[2] = 0x01; /* a query, not a response */
	assert_int_equal(parse(m, sizeof(m), &out), TROVE_ERR_INVALID);
	memcpy(m, msg, sizeof(m));
	m[12] = 0x40; /* a reserved label type */
	assert_int_equal(parse(m, sizeof(m), &out), TROVE_ERR_INVALID);
	memcpy(m, msg, sizeof(m));
	m[sizeof(m) - 3] = 9; /* a character-string past its record */
	assert_int_equal(parse(m, sizeof(m), &out), TROVE_ERR_INVALID);
	strlist_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refused_on_event_loop),
	    cmocka_unit_test(test_key_authorization_and_fit),
	    cmocka_unit_test(test_http01),
	    cmocka_unit_test(test_tls_alpn01),
	    cmocka_unit_test(test_dns01),
	    cmocka_unit_test(test_dns_txt_parse),
	};

	signal(SIGPIPE, SIG_IGN); /* as the server does: a peer gone is an error, not a signal */
	/* the validators must reach the test's servers directly */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
