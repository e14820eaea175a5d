/* forward_client.h — the header that carries a forwarded request's
 * original client address from a standby to the active node's cluster
 * listener (docs/ha.md, "Request forwarding"), for the audit log's
 * remote_address. Only the cluster listener reads it (its peer proved the
 * cluster's key); the API listener never does, and a standby replaces any
 * a client sent. Pure functions. */
#ifndef TROVE_FORWARD_CLIENT_H
#define TROVE_FORWARD_CLIENT_H

#include <stddef.h>

#define FORWARD_CLIENT_HEADER "x-trove-forwarded-for"
/* The longest value: "[" IPv6 "]:" port. */
#define FORWARD_CLIENT_MAX 64

/* "IPv4:port" or "[IPv6]:port" of addr (as request.remote_addr holds
 * it) and port into out (cap bytes, FORWARD_CLIENT_MAX is enough); its
 * length, or 0 when addr is empty or not an IP address. */
size_t forward_client_format(const char *addr, int port, char *out, size_t cap);

/* Parses a value of that form (len bytes, untrusted): 0 with addr (cap
 * bytes, 64 is enough; the address in inet_ntop's form) and *port (0..65535)
 * set, or TROVE_ERR_INVALID (nothing else is accepted: no spaces, no
 * list, no host names). */
int forward_client_parse(const char *v, size_t len, char *addr, size_t cap, int *port);

#endif
