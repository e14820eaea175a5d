/* agent_proxy.h — the agent's API proxy and cache: listener "tcp" and
 * "unix" blocks serving Vault's API to the clients on the node, forwarded
 * to the server (with the auto-auth token when api_proxy says so), the
 * lease cache of cache { } (agent_cache.h), and the agent's own endpoints
 * /agent/v1/metrics, /agent/v1/quit and /agent/v1/cache-clear.
 *
 * A part of the agent (agent_parts.h): wanted when a listener is given;
 * start binds every listener (errors name the block's "file:line" and the
 * key) and starts the threads; stop closes the listeners (a unix socket
 * file is removed), lets answers in flight finish and joins. */
#ifndef TROVE_AGENT_PROXY_H
#define TROVE_AGENT_PROXY_H

#include <stdbool.h>

#include "agent/agent.h"
#include "buf.h"

bool agent_proxy_wanted(const struct agent_config *cfg);
int agent_proxy_start(struct agent *a, struct buf *err);
void agent_proxy_stop(struct agent *a);

/* The listening address of listener i once started ("127.0.0.1:8100" with
 * the port the kernel chose for port 0; a unix socket's path), or NULL.
 * Borrowed from a->proxy. */
const char *agent_proxy_address(const struct agent *a, size_t i);

#endif
