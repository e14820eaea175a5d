/* linger.h — the answers h2o gives by itself, readable.
 *
 * Before a request reaches Trove's handler, h2o refuses some on its own:
 * 413 for a body over max_request_size (from Content-Length, or while
 * reading chunks), 400 for broken framing, 417 for an unknown Expect. It
 * answers in plain text and closes the connection while the client may
 * still be sending its body; the unread bytes make the kernel reset the
 * connection, and a client that sends its whole body before reading
 * (requests, hvac) never sees the answer.
 *
 * linger_register_errors makes those answers Vault's JSON error envelope
 * and hands their connection to linger_keep before h2o closes it. A
 * linger set then holds such a connection open after h2o's close: it
 * shuts the sending side (the answer is followed by FIN) and reads and
 * discards what the client still sends, at most LINGER_MAX_BYTES for at
 * most LINGER_MS, then closes it. All on the owning loop's thread. */
#ifndef TROVE_LINGER_H
#define TROVE_LINGER_H

#include <h2o.h>

#define LINGER_MS 5000
#define LINGER_MAX_BYTES ((size_t)64 << 20)

/* The connections of one loop being drained. */
struct linger_set {
	h2o_loop_t *loop;
	h2o_timeout_t timeout;
	h2o_linklist_t socks;
};

void linger_init(struct linger_set *ls, h2o_loop_t *loop);
/* Closes whatever is still draining and releases the timeout (on the
 * loop's thread, before the loop is destroyed). */
void linger_dispose(struct linger_set *ls);
/* Takes fd (a duplicate of a connection's socket whose answer is written)
 * and drains it as above; closes it at once if that cannot start. */
void linger_start(struct linger_set *ls, int fd);

/* Called with the socket of a connection h2o answered by itself, before
 * h2o closes it: the listener duplicates the descriptor for linger_start. */
typedef void (*linger_keep_fn)(h2o_socket_t *sock);

/* Registers, on the host's fallback path (where h2o's own answers go),
 * the filter that rewrites them as JSON errors naming the limit
 * (max_request_size) and calls keep for their connection. */
void linger_register_errors(h2o_hostconf_t *host, size_t max_request_size, linger_keep_fn keep);

#endif
