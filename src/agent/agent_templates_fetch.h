/* agent_templates_fetch.h — the template runner's dependencies and how
 * they are fetched, renewed and fetched again (see agent_templates_run.h
 * for what a dependency is). Owned by the runner's thread. */
#ifndef TROVE_AGENT_TEMPLATES_FETCH_H
#define TROVE_AGENT_TEMPLATES_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent_templates_run.h"

struct tfetch {
	struct agent *a;
	const struct agent_config *cfg;
	struct api_client *client; /* the runner thread's; set by the runner */
	char *token;               /* the token in use (a copy; wiped) */
	uint64_t token_gen;        /* its generation in the agent's token box */
	bool need_token;           /* the server refused it: wait for a newer one */
	bool warned_no_auth;       /* said once that there is no auto_auth */
	struct tdep *deps;
};

void tfetch_init(struct tfetch *f, struct agent *a);
/* Frees the dependencies (their values wiped), the token and the client. */
void tfetch_release(struct tfetch *f);

/* The dependency for a call, made (not fetched) when it is new. */
struct tdep *tfetch_dep(struct tfetch *f, enum tdep_kind kind, const char *path, const char *const *args,
                        size_t nargs, const char *dest);

/* Fetches d and schedules its refresh. first: pkiCert may use the
 * certificate in its destination if it is still good (otherwise it
 * issues one). Returns 0 with d->value set; or an error code with err
 * saying why, d->value unchanged. A 403 with the auto-auth token reports
 * it invalid (need_token). */
int tfetch_fetch(struct tfetch *f, struct tdep *d, bool first, struct buf *err);

/* The refresh due for d: a renewal (which changes nothing a template
 * shows; when it fails or no longer extends the lease, a fetch follows)
 * or a fetch. *changed: the new value differs from the old in what a
 * template could print. On failure d keeps its value, its failures count
 * grows and the next try is backed off; returns the error. */
int tfetch_refresh(struct tfetch *f, struct tdep *d, bool *changed);

/* Waits up to timeout_ms (< 0: until the agent stops; 0: only looks) for a
 * token newer than the one in use in the agent's token box (auto-auth's)
 * and takes it. Returns true when a new token was taken. */
bool tfetch_wait_token(struct tfetch *f, long timeout_ms);

/* The server refused the token in use (403): reports it to auto-auth. */
void tfetch_token_refused(struct tfetch *f);

/* Frees the dependencies with no users. */
void tfetch_prune(struct tfetch *f);

#endif
