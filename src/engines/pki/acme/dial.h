/* dial.h — a TCP connection for the validators that cannot go through
 * the outbound HTTP client (tls-alpn-01 speaks TLS with its own ALPN). */
#ifndef TROVE_ACME_DIAL_H
#define TROVE_ACME_DIAL_H

#include <stdint.h>

#include "buf.h"

/* Resolves host and connects to port, trying each address in turn until
 * one answers, within timeout_ms in all; the socket returned in *fd is
 * blocking with send and receive timeouts of what time is left. Returns
 * 0, TROVE_ERR_TIMEOUT or TROVE_ERR_UPSTREAM (reason in err). */
int acme_dial(const char *host, unsigned port, int64_t timeout_ms, int *fd, struct buf *err);

#endif
