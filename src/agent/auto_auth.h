/* auto_auth.h — the agent's auto-auth part: log in with the configured
 * method, publish the token, write it to every sink, keep it alive.
 *
 * One thread (auto_auth.c). It logs in (auth_method.h builds the request),
 * publishes the token in the agent's token box and writes each sink
 * (sink.h); then renews the token with auth/token/renew-self on the
 * schedule below, and logs in again when a renewal is refused, when the
 * token cannot be renewed or its max TTL nears (a renewal no longer
 * extends it), or when a part reports the token invalid. A failed login
 * waits out the backoff below and tries again; with the method's
 * exit_on_err it ends the agent with exit code 1 instead.
 *
 * With wrap_ttl on the method the login answer is response-wrapped: the
 * sink gets the wrapping token's JSON and the agent has no token of its
 * own (nothing is published), as in Vault Agent.
 *
 * exit_after_auth: after the first login with every sink written, the
 * agent stops with 0 unless templates are configured (the template runner
 * then stops it after its first rendering). */
#ifndef TROVE_AGENT_AUTO_AUTH_H
#define TROVE_AGENT_AUTO_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "buf.h"

/* The part (agent_parts.h). start checks the method's and the sinks'
 * config (errors name the block's file:line and the key), then starts the
 * thread; stop joins it and frees a->auth (NULL is fine). */
bool auto_auth_wanted(const struct agent_config *cfg);
int auto_auth_start(struct agent *a, struct buf *err);
void auto_auth_stop(struct agent *a);

/* --- the schedule (auto_auth_schedule.c) ------------------------------- */

/* Exponential backoff between failures, as Vault Agent's: the first wait
 * is min_ms; each next one is the last doubled, capped at max_ms, less a
 * random 0-25 % of that. */
struct auto_auth_backoff {
	long min_ms, max_ms, cur_ms;
};

/* min_ms <= 0: 1 s; max_ms <= 0: 5 min (Vault's defaults). */
void auto_auth_backoff_init(struct auto_auth_backoff *b, long min_ms, long max_ms);
/* The wait to make now; the next call returns a longer one. */
long auto_auth_backoff_next(struct auto_auth_backoff *b);
/* Back to min_ms after a success. */
void auto_auth_backoff_reset(struct auto_auth_backoff *b);

/* When to renew, as Vault's LifetimeWatcher: a grace period of 10-20 % of
 * the lease (random), a renewal after 2/3 of what remains plus a third of
 * the grace, and a new login instead once what would remain after that
 * sleep is within the grace. */
struct auto_auth_renewal {
	int64_t grace_ms;
	int64_t prior_ms; /* the remaining time seen last */
};

/* rnd: a random number (the jitter). */
void auto_auth_renewal_init(struct auto_auth_renewal *p, int64_t lease_ms, uint64_t rnd);
/* With remaining_ms left on the token (after a renewal, or since the
 * login): the wait before the next renewal, or -1 when a new login is due
 * now. A remaining time longer than the last one re-draws the grace. */
int64_t auto_auth_renewal_next(struct auto_auth_renewal *p, int64_t remaining_ms, uint64_t rnd);

#endif
