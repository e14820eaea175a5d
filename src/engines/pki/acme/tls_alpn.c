/* tls_alpn.c — the tls-alpn-01 validator (RFC 8737). */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "challenge.h"
#include "dial.h"
#include "err.h"
#include "hmac.h"
#include "thread_role.h"

#define ACME_TLS_ALPN "acme-tls/1"
#define ACME_IDENTIFIER_OID "1.3.6.1.5.5.7.1.31"

/* The SNI for an IP identifier: its reverse-DNS name (RFC 8738 section 6). */
static int reverse_name(const char *ip, struct buf *out)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, ip, a) == 1)
		return buf_printf(out, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
	if (inet_pton(AF_INET6, ip, a) != 1)
		return TROVE_ERR_INVALID;
	for (int i = 15; i >= 0; i--)
		if (buf_printf(out, "%x.%x.", a[i] & 0xf, a[i] >> 4) != 0)
			return TROVE_ERR_NOMEM;
	return buf_append_str(out, "ip6.arpa");
}

static int fail(struct buf *err, int code, const char *why)
{
	if (err)
		buf_printf(err, "tls-alpn-01: %s", why);
	return code;
}

/* Whether the certificate's subjectAltName is exactly the identifier. */
static bool san_is_identifier(X509 *cert, const struct acme_validation *v)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	const GENERAL_NAME *gn;
	unsigned char ip[16];
	int ip_len = 0;
	bool ok = false;

	if (!names || sk_GENERAL_NAME_num(names) != 1)
		goto out;
	gn = sk_GENERAL_NAME_value(names, 0);
	if (v->id_type == ACME_ID_DNS) {
		const ASN1_IA5STRING *s = gn->d.dNSName;
		ok = gn->type == GEN_DNS && (size_t)ASN1_STRING_length(s) == strlen(v->identifier) &&
		     strncasecmp((const char *)ASN1_STRING_get0_data(s), v->identifier,
		                 strlen(v->identifier)) == 0;
	} else {
		if (inet_pton(AF_INET, v->identifier, ip) == 1)
			ip_len = 4;
		else if (inet_pton(AF_INET6, v->identifier, ip) == 1)
			ip_len = 16;
		ok = gn->type == GEN_IPADD && ip_len && ASN1_STRING_length(gn->d.iPAddress) == ip_len &&
		     memcmp(ASN1_STRING_get0_data(gn->d.iPAddress), ip, (size_t)ip_len) == 0;
	}
out:
	GENERAL_NAMES_free(names);
	return ok;
}

/* Certificates the server sent. */
static int chain_len(SSL *ssl)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);

	return chain ? sk_X509_num(chain) : 0;
}

/* RFC 8737 section 3: the certificate is self-signed, its issuer its
 * subject and its signature made by its own key. */
static bool self_signed(X509 *cert)
{
	EVP_PKEY *key = X509_get0_pubkey(cert);

	return key && X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0 &&
	       X509_verify(cert, key) == 1;
}

/* Whether a critical extension other than acmeIdentifier is one OpenSSL
 * does not understand: a relying party would refuse the certificate. */
static bool other_critical_extension(X509 *cert)
{
	ASN1_OBJECT *acme = OBJ_txt2obj(ACME_IDENTIFIER_OID, 1);
	bool found = false;

	for (int i = 0; i < X509_get_ext_count(cert) && !found; i++) {
		X509_EXTENSION *ext = X509_get_ext(cert, i);
		found = X509_EXTENSION_get_critical(ext) && !X509_supported_extension(ext) &&
		        (!acme || OBJ_cmp(X509_EXTENSION_get_object(ext), acme) != 0);
	}
	ASN1_OBJECT_free(acme);
	return found;
}

/* Checks the one critical acmeIdentifier extension against the key
 * authorization's digest. Returns 0 or TROVE_ERR_PERMISSION. */
static int check_acme_identifier(X509 *cert, const char *key_auth, struct buf *err)
{
	int r = TROVE_ERR_PERMISSION;
	ASN1_OBJECT *oid = OBJ_txt2obj(ACME_IDENTIFIER_OID, 1);
	unsigned char want[2 + SHA256_LEN] = {0x04, SHA256_LEN}; /* DER OCTET STRING (SIZE (32)) */
	int at = oid ? X509_get_ext_by_OBJ(cert, oid, -1) : -1;
	X509_EXTENSION *ext;
	const ASN1_OCTET_STRING *val;

	if (!oid)
		return TROVE_ERR_NOMEM;
	if (at < 0 || X509_get_ext_by_OBJ(cert, oid, at) >= 0) {
		r = fail(err, r, "certificate lacks one acmeIdentifier extension");
		goto out;
	}
	ext = X509_get_ext(cert, at);
	if (!X509_EXTENSION_get_critical(ext)) {
		r = fail(err, r, "acmeIdentifier extension is not critical");
		goto out;
	}
	if (sha256(key_auth, strlen(key_auth), want + 2) != 0) {
		r = TROVE_ERR_INTERNAL;
		goto out;
	}
	val = X509_EXTENSION_get_data(ext);
	if (ASN1_STRING_length(val) != (int)sizeof(want) ||
	    memcmp(ASN1_STRING_get0_data(val), want, sizeof(want)) != 0) {
		r = fail(err, r, "acmeIdentifier does not hold the key authorization's digest");
		goto out;
	}
	r = 0;
out:
	ASN1_OBJECT_free(oid);
	return r;
}

int acme_validate_tls_alpn01(const struct acme_validation *v, struct buf *err)
{
	int r, fd = -1;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *cert = NULL;
	struct buf sni;
	const unsigned char *alpn = NULL;
	unsigned alpn_len = 0;
	static const unsigned char protos[] = "\x0a" ACME_TLS_ALPN;
	unsigned port = v->port ? v->port : ACME_TLS_ALPN01_PORT;

	if (thread_role_on_loop())
		return TROVE_ERR_WOULD_BLOCK;
	if ((r = acme_challenge_allowed(ACME_CHALLENGE_TLS_ALPN01, v->id_type, v->identifier, err)) != 0)
		return r;
	if (!v->key_authorization)
		return fail(err, TROVE_ERR_INVALID, "no key authorization");
	buf_init(&sni, 512);
	if (v->id_type == ACME_ID_IP ? reverse_name(v->identifier, &sni) != 0
	                             : buf_append_str(&sni, v->identifier) != 0) {
		r = fail(err, TROVE_ERR_INVALID, "identifier is not a host name");
		goto out;
	}
	if ((r = acme_dial(v->identifier, port, v->timeout_ms ? v->timeout_ms : ACME_VALIDATE_TIMEOUT_MS, &fd,
	                   err)) != 0)
		goto out;
	r = TROVE_ERR_NOMEM;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_set_alpn_protos(ctx, protos, sizeof(protos) - 1) != 0)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* self-signed by design */
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd) || !SSL_set_tlsext_host_name(ssl, sni.data))
		goto out;
	if (SSL_connect(ssl) != 1) {
		r = fail(err, TROVE_ERR_UPSTREAM, "TLS handshake failed");
		goto out;
	}
	SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
	if (alpn_len != strlen(ACME_TLS_ALPN) || memcmp(alpn, ACME_TLS_ALPN, alpn_len) != 0) {
		r = fail(err, TROVE_ERR_PERMISSION, "server did not select ALPN acme-tls/1");
		goto out;
	}
	cert = SSL_get1_peer_certificate(ssl);
	if (!cert) {
		r = fail(err, TROVE_ERR_PERMISSION, "no certificate");
		goto out;
	}
	if (chain_len(ssl) > 1 || !self_signed(cert)) {
		r = fail(err, TROVE_ERR_PERMISSION, "certificate is not one self-signed certificate");
		goto out;
	}
	if (other_critical_extension(cert)) {
		r = fail(err, TROVE_ERR_PERMISSION, "certificate has a critical extension not understood");
		goto out;
	}
	if (!san_is_identifier(cert, v)) {
		r = fail(err, TROVE_ERR_PERMISSION,
		         "certificate's subjectAltName is not exactly the identifier");
		goto out;
	}
	r = check_acme_identifier(cert, v->key_authorization, err);
out:
	X509_free(cert);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	buf_release(&sni);
	return r;
}
