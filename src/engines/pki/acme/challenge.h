/* challenge.h — ACME challenge validation (RFC 8555 section 8, RFC 8737
 * tls-alpn-01, RFC 8738 IP identifiers).
 *
 * Each validator is one blocking call bounded by a timeout: run it on a
 * worker or a scheduled job, never on an event loop (each is refused
 * there with TROVE_ERR_WOULD_BLOCK, as every outbound call is).
 * A validator returns 0 when the client proved control of the identifier,
 * and otherwise an error with the reason, phrased for the challenge's
 * "error" detail, in err:
 *   TROVE_ERR_PERMISSION  the answer came but is wrong (a different key
 *                         authorization, a certificate without the
 *                         acmeIdentifier, no such TXT value): ACME's
 *                         "unauthorized" / "incorrectResponse";
 *   TROVE_ERR_UPSTREAM    no usable answer (connection refused, TLS or
 *                         DNS failure, an HTTP status other than 200);
 *   TROVE_ERR_TIMEOUT     the timeout passed;
 *   TROVE_ERR_INVALID     the validation asked for cannot be (a wildcard
 *                         with http-01, an IP with dns-01, a token that is
 *                         not base64url, a bad resolver address). */
#ifndef TROVE_ACME_CHALLENGE_H
#define TROVE_ACME_CHALLENGE_H

#include <stdint.h>

#include "buf.h"

enum acme_id_type {
	ACME_ID_DNS, /* "dns": a host name, or "*.name" (dns-01 only) */
	ACME_ID_IP,  /* "ip": an IPv4 or IPv6 literal (not dns-01) */
};

enum acme_challenge_type {
	ACME_CHALLENGE_HTTP01,
	ACME_CHALLENGE_DNS01,
	ACME_CHALLENGE_TLS_ALPN01,
};

#define ACME_HTTP01_PORT 80
#define ACME_TLS_ALPN01_PORT 443
#define ACME_VALIDATE_TIMEOUT_MS 10000
#define ACME_HTTP01_MAX_BODY 512    /* bytes of the answer, as Vault reads */
#define ACME_HTTP01_MAX_REDIRECTS 8 /* as Vault: it refuses the ninth */

struct acme_validation {
	enum acme_id_type id_type;
	const char *identifier;        /* as the order names it */
	const char *token;             /* the challenge's token (base64url) */
	const char *key_authorization; /* acme_key_authorization(token, thumbprint) */
	unsigned port;                 /* 0: 80 for http-01, 443 for tls-alpn-01 */
	const char *resolver;          /* dns-01: "ip" or "ip:port" (IPv4); NULL:
	                                * the system's resolver */
	int64_t timeout_ms;            /* 0: ACME_VALIDATE_TIMEOUT_MS */
};

/* token "." thumbprint, a new string the caller frees. */
char *acme_key_authorization(const char *token, const char *thumbprint);

/* Whether type may validate an identifier of id_type and value: wildcards
 * only with dns-01, IP addresses only with http-01 and tls-alpn-01.
 * Returns 0 or TROVE_ERR_INVALID (reason in err). */
int acme_challenge_allowed(enum acme_challenge_type type, enum acme_id_type id_type, const char *value,
                           struct buf *err);

/* GET http://<identifier>:<port>/.well-known/acme-challenge/<token> through
 * the outbound client: status 200, a body of at most ACME_HTTP01_MAX_BODY
 * bytes equal to the key authorization once surrounding whitespace is
 * trimmed; up to ACME_HTTP01_MAX_REDIRECTS redirects (http and https
 * only) are followed, as RFC 8555 section 8.3 lets a server do. */
int acme_validate_http01(const struct acme_validation *v, struct buf *err);

/* TLS (1.2 or later) to <identifier>:<port> with SNI = the identifier (an
 * IP's reverse-DNS name for an IP, RFC 8738) and ALPN "acme-tls/1" only:
 * the server must select acme-tls/1 and present a certificate whose
 * subjectAltName holds exactly the identifier (a dNSName, or an iPAddress)
 * (the one certificate sent, self-signed, with no other critical
 * extension OpenSSL does not understand)
 * and whose critical acmeIdentifier extension (1.3.6.1.5.5.7.1.31) holds
 * the SHA-256 of the key authorization. The certificate's chain is not
 * checked (it is self-signed by design). */
int acme_validate_tls_alpn01(const struct acme_validation *v, struct buf *err);

/* TXT records of _acme-challenge.<name> ("*." dropped from a wildcard)
 * through the resolver: one must equal base64url(SHA-256(key
 * authorization)). UDP, with TCP when the answer is truncated. */
int acme_validate_dns01(const struct acme_validation *v, struct buf *err);

#endif
