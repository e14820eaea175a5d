/* ocsp.h — the OCSP responder core (RFC 6960, RFC 5019's GET form): decode
 * a request, find the issuer it asks about, ask the caller for the
 * serial's status and answer with a BasicOCSPResponse signed by that
 * issuer, or with the unsigned error answers Vault gives.
 *
 * Pure: no storage, no clock, no routes; the engine's ocsp GET and POST
 * handlers pass the bytes in and send the answer out unchanged, with
 * Content-Type OCSP_CONTENT_TYPE and the HTTP status it carries. */
#ifndef TROVE_PKI_OCSP_H
#define TROVE_PKI_OCSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"

#define OCSP_CONTENT_TYPE "application/ocsp-response"

/* Largest request accepted, as received: a POST body, or a GET path tail
 * before percent-decoding. Larger ones are refused unread. */
#define OCSP_REQUEST_MAX (16 * 1024)

/* Vault's default config/crl ocsp_expiry: 12h. */
#define OCSP_DEFAULT_EXPIRY_SECONDS (12 * 3600)

/* A decoded request (opaque). Only the first CertID of its list is
 * answered, as Vault (Go's ocsp.ParseRequest) does; a signature on the
 * request is ignored. */
struct ocsp_request;

/* Decodes a DER OCSPRequest (a POST body). Refuses (TROVE_ERR_INVALID,
 * reason in why) more than OCSP_REQUEST_MAX bytes, bytes that are not one
 * DER OCSPRequest with nothing after it, an empty request list and a
 * CertID hash other than SHA-1/256/384/512. *out is the caller's: free it
 * with ocsp_request_free. */
int ocsp_request_from_der(const unsigned char *der, size_t len, struct ocsp_request **out, struct buf *why);

/* Decodes the tail of a GET path (the part after "ocsp/"): percent-decoded
 * ('+', '/' and '=' may come plain or as %2B %2F %3D; '+' is never a
 * space), then standard base64 with its padding, as Go's
 * base64.StdEncoding reads it (CR and LF skipped, missing padding
 * refused), then as ocsp_request_from_der. */
int ocsp_request_from_get_path(const char *tail, size_t len, struct ocsp_request **out, struct buf *why);

void ocsp_request_free(struct ocsp_request *req);

/* The request's serial (big-endian magnitude, borrowed from req) and
 * whether it carries a nonce. */
const unsigned char *ocsp_request_serial(const struct ocsp_request *req, size_t *len);
bool ocsp_request_has_nonce(const struct ocsp_request *req);

enum ocsp_cert_status {
	OCSP_CERT_GOOD = 0,
	OCSP_CERT_REVOKED = 1,
	OCSP_CERT_UNKNOWN = 2,
};

/* One of the mount's issuers. An issuer without a key, or without the
 * ocsp-signing usage, still matches requests but cannot sign. */
struct ocsp_issuer {
	X509 *cert;                      /* borrowed */
	EVP_PKEY *key;                   /* borrowed; NULL: no key */
	bool ocsp_signing;               /* the issuer's usage includes ocsp-signing */
	const char *signature_algorithm; /* revocation_signature_algorithm (crl.h) */
};

/* The caller's status lookup for a serial of issuers[issuer]: 0 with
 * *status (and *revoked_at, Unix seconds, for OCSP_CERT_REVOKED), or an
 * err.h code when it could not tell (storage failed): that is answered
 * internalError, never "unknown". */
typedef int (*ocsp_status_fn)(void *ctx, size_t issuer, const unsigned char *serial, size_t serial_len,
                              enum ocsp_cert_status *status, int64_t *revoked_at);

struct ocsp_params {
	const struct ocsp_issuer *issuers; /* borrowed */
	size_t n_issuers;
	/* Index of the default issuer, which signs "unknown" for requests no
	 * issuer matched (as Vault does); -1 or unusable: unauthorized. */
	long default_issuer;
	ocsp_status_fn status;
	void *ctx;
	int64_t now;       /* thisUpdate, Unix seconds */
	int64_t expiry;    /* ocsp_expiry in seconds: nextUpdate = now + expiry; 0: none */
	bool include_cert; /* put the signer's certificate in the response
	                    * (Vault no longer does: Go's parser rejects it) */
};

/* The bytes to send back and their HTTP status. */
struct ocsp_answer {
	int http_status;    /* 200, or 400 / 401 / 500 for the error answers */
	unsigned char *der; /* OCSPResponse; free with OPENSSL_free */
	size_t der_len;
};

/* Answers a decoded request. Whatever it returns, *out holds the answer to
 * send (except TROVE_ERR_NOMEM, where out->der is NULL):
 *   0                    200, successful, signed by the matched issuer (or
 *                        "unknown" by the default issuer); a nonce in the
 *                        request is echoed
 *   TROVE_ERR_PERMISSION 401, unauthorized: no issuer matched and no usable
 *                        default, or the match cannot sign
 *   TROVE_ERR_INTERNAL   500, internalError: the status lookup failed or
 *                        signing did (why says which)
 * The CertID of the response is the request's. */
int ocsp_answer(const struct ocsp_request *req, const struct ocsp_params *p, struct ocsp_answer *out,
                struct buf *why);

/* Decodes and answers in one go: body is a POST body (get_form false) or a
 * GET path tail (true). Adds to ocsp_answer's results
 *   TROVE_ERR_INVALID    400, malformedRequest: the bytes did not decode */
int ocsp_respond(const unsigned char *body, size_t len, bool get_form, const struct ocsp_params *p,
                 struct ocsp_answer *out, struct buf *why);

/* Frees out->der (NULL is fine) and clears it. */
void ocsp_answer_release(struct ocsp_answer *out);

#endif
