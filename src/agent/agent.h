/* agent.h — the running agent: what its parts share and how they start
 * and stop.
 *
 * `trove agent -config F` loads the config (agent_config.h), then starts
 * the parts the config asks for, each on its own thread(s):
 *   auto-auth   logs in, keeps the token alive, writes sinks (auto_auth.h)
 *   templates   renders templates to files and env_templates for exec
 *   exec        runs the app as a child with env_templates in its env
 *   proxy       listeners serving the API proxy and cache
 * The parts talk to the server only through the API client library
 * (src/api/), each thread with its own client made by agent_api_client().
 *
 * The token made by auto-auth is published in the agent's token box; a
 * part that needs a token waits for one, and a part that sees the server
 * refuse it (403) reports it invalid so that auto-auth logs in again.
 *
 * Stopping: agent_request_stop() records the exit code (the first one
 * wins) and wakes every waiter; every part's waits end early when the
 * agent stops (agent_sleep returns false), and main joins them. */
#ifndef TROVE_AGENT_H
#define TROVE_AGENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/agent_config.h"
#include "agent/agent_rest.h"
#include "api/api.h"

struct auto_auth;
struct agent_templates;
struct agent_exec;
struct agent_proxy;

struct agent {
	const struct agent_config *cfg;
	/* The server and TLS settings: vault { } over the environment
	 * (VAULT_ and TROVE_ variables), native transport, no token. */
	struct api_config api;

	pthread_mutex_t mu;
	pthread_cond_t cond;   /* broadcast on a new token and on stop */
	char *token;           /* the auto-auth token; NULL before the first login */
	uint64_t token_gen;    /* bumped each time a token is published */
	uint64_t invalid_gen;  /* the newest generation reported invalid */
	bool stopping;
	int exit_code;
	int wake_fd[2]; /* a byte is written to [1] when the agent stops */
	/* Idle memory given back: each part notes its work here (agent_rest_note)
	 * and main's loop releases once a quiet period passes. */
	struct agent_rest rest;

	/* The parts; NULL when not configured. */
	struct auto_auth *auth;
	struct agent_templates *templates;
	struct agent_exec *exec;
	struct agent_proxy *proxy;
};

/* Fills a from cfg (borrowed, must outlive a): the API settings from
 * vault { } over the environment. Returns 0 or TROVE_ERR_INVALID with err
 * naming the setting. */
int agent_init(struct agent *a, const struct agent_config *cfg, struct buf *err);
/* Wipes the token and frees what agent_init made. */
void agent_release(struct agent *a);

/* The token box, the stop flag and the wake pipe (agent_state.c): made
 * and freed by agent_init/agent_release; tests of one part call these. */
int agent_state_init(struct agent *a);
void agent_state_release(struct agent *a);

/* A new API client for the calling thread (native transport, the agent's
 * server settings, no token). Returns 0 or a TROVE_ERR_* code with err. */
int agent_api_client(struct agent *a, struct api_client **out, struct buf *err);

/* Publishes token (copied) as the current one and wakes the waiters. */
void agent_token_publish(struct agent *a, const char *token);
/* Waits until a token newer than after_gen is published (after_gen 0: any
 * token), the agent stops, or timeout_ms passes (< 0: no limit). Returns
 * a heap copy of the token (the caller wipes and frees it) with *gen set,
 * or NULL on stop or timeout. */
char *agent_token_wait(struct agent *a, uint64_t after_gen, long timeout_ms, uint64_t *gen);
/* The server refused the token of generation gen (403 on a request made
 * with it): auto-auth logs in again unless it has already replaced it. */
void agent_token_report_invalid(struct agent *a, uint64_t gen);
/* For auto-auth: waits up to timeout_ms for a report of a token of
 * generation >= gen being invalid. Returns true when one came. */
bool agent_token_wait_invalid(struct agent *a, uint64_t gen, long timeout_ms);

/* Ends the agent with exit_code (the first request wins). */
void agent_request_stop(struct agent *a, int exit_code);
bool agent_stopping(struct agent *a);
/* Sleeps ms or until the agent stops. Returns false when it stopped. */
bool agent_sleep(struct agent *a, long ms);

/* `trove agent [-config F]... [-exit-after-auth] [-log-level L]`: the
 * command's entry (argv starts at "agent"); returns the exit code. */
int agent_main(int argc, char **argv);

#endif
