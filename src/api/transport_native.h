/* transport_native.h — one attempt of a request over Trove's own HTTP/1.1
 * client, for programs that must stay small (the agent): no libcurl is
 * loaded, only the sockets, OpenSSL and picohttpparser already in the
 * binary. The contract is transport.h's, with the libcurl transport's
 * behaviour: TLS 1.2 or later, verified against ca_cert, else ca_path,
 * else the system's store, the host (or tls_server_name, also sent in
 * SNI) checked against the certificate; client_cert/client_key;
 * tls_skip_verify. One redirect (301, 302, 303, 307, 308 with a Location)
 * is followed keeping the method and the body, never from https to http.
 * The body is capped at API_MAX_BODY, the head at 64 KiB; 1xx answers
 * are skipped; every step waits no longer than the attempt's time.
 *
 * The connection is kept open and used again for the next request to the
 * same origin. When a connection that sat idle turns out closed before
 * any byte of the answer came, the request is sent once more on a new
 * connection; never once part of an answer arrived.
 *
 * One struct api_native per thread, as for the client that owns it. */
#ifndef TROVE_API_TRANSPORT_NATIVE_H
#define TROVE_API_TRANSPORT_NATIVE_H

#include <openssl/ssl.h>

#include "api/transport.h"

struct api_native;

/* Makes the transport for cfg (borrowed: cfg must outlive it). Nothing is
 * opened yet (TLS files are read at the first https connection, and a
 * problem with them fails that attempt as API_FAIL_TLS). Returns 0 with
 * *out set. */
int api_native_new(const struct api_config *cfg, struct api_native **out);
/* Makes t a relay's transport (a standby forwarding its client's request
 * to the active node, server/forward.h): every https connection uses tls
 * (a reference is taken), whose own verification is the only one (no CA
 * is read; the host name is not checked unless tls checks it), a
 * redirect is handed back as the answer, never followed, and a request
 * whose kept connection broke before any answer is not sent again (its
 * peer may have acted on it: the caller decides). Before the first
 * send. */
void api_native_relay(struct api_native *t, SSL_CTX *tls);
/* Closes the connection and frees. NULL is fine. */
void api_native_free(struct api_native *t);
/* The transport's send (transport.h); ctx is the struct api_native. */
int api_native_send(void *ctx, const struct api_wire *w, struct api_response *resp);

#endif
