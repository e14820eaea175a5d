/* forward.h — a standby's request forwarding to the active node over its
 * cluster_addr (docs/ha.md, "Request forwarding"; decision 15).
 *
 * What a standby does not serve itself (standby.h) it sends, as its
 * client sent it, to the active node's cluster listener over TLS with
 * the cluster's certificate on both ends (cluster_id.h), and relays the
 * answer unchanged: status, headers (X-Vault-Index among them), body.
 * The request is framed anew on the second hop: the method, the target
 * (path and query) and the body go as they came, the client's headers
 * with them except those that frame a message or a connection (Host,
 * Content-Length, Transfer-Encoding, Connection, Keep-Alive, TE,
 * Trailer, Upgrade, Expect, Proxy-Connection) and the forwarded-client
 * header (forward_client.h), which the standby sets itself. The answer's
 * framing headers are dropped the same way.
 *
 * When the request cannot reach the active node (no cluster identity in
 * storage yet, the cluster address refuses or fails TLS, or the node
 * there says it is not active) nothing was served: the client gets the
 * 307 to the active's api_addr instead, as Vault's standbys fall back on
 * a redirect. When it broke off after it was sent (the active died
 * mid-way, no answer within the time), the client gets 503: the request
 * may or may not have been served, and a redirect would repeat it.
 *
 * Connections are kept open between requests, a few per active node,
 * and dropped when the active node (or the cluster's identity) changes.
 * forward_run blocks: a worker thread only. */
#ifndef TROVE_FORWARD_H
#define TROVE_FORWARD_H

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/ha.h"

struct core;
struct request;
struct forward_call;

/* The answer a cluster listener gives a forwarded request on a node that
 * is not active (503, this header set): the standby falls back on the
 * redirect rather than relaying it. */
#define FORWARD_NOT_ACTIVE_HEADER "x-trove-cluster"
#define FORWARD_NOT_ACTIVE_VALUE "not-active"

/* Idle connections kept per active node. */
#define FORWARD_IDLE_MAX 32

/* On the event loop: what the forwarding of hreq (whose request is req:
 * its client's address) to the active node ld needs, copied; location is
 * the 307's URL (location_len bytes) for when it cannot be forwarded;
 * timeout_ms bounds the whole exchange. The body is read later, from req,
 * by forward_run. Never NULL. */
struct forward_call *forward_prepare(h2o_req_t *hreq, const struct request *req, const struct ha_leader *ld,
                                     const char *location, size_t location_len, long timeout_ms);

/* On a worker: sends the request (req's body, which the caller made
 * req's own) and keeps the answer or the failure. */
void forward_run(struct forward_call *f, struct core *core, const struct request *req);

/* On the event loop again: answers hreq with the relayed answer or the
 * 307 and returns 0; or, when the exchange broke off, answers nothing and
 * returns TROVE_ERR_UNAVAILABLE with *why (borrowed from f) for the
 * caller's 503. */
int forward_reply(struct forward_call *f, h2o_req_t *hreq, const char **why);

/* A standby's 307 to location (len bytes), with no body. */
void forward_send_redirect(h2o_req_t *hreq, const char *location, size_t len);

/* NULL is fine. Wipes what it held. */
void forward_free(struct forward_call *f);

/* Whether a header (lower-case name, len bytes) frames a message or a
 * connection and so never crosses to the other hop. Pure. */
bool forward_hop_header(const char *name, size_t len);

/* Closes every kept connection (at shutdown). */
void forward_close_all(void);

#endif
