/* agent_parts.h — how main starts and stops the agent's parts.
 *
 * A part is one row of agent.c's table: whether the config asks for it,
 * start (validate its config against what the part knows, e.g. a method's
 * keys, naming the block's `where`; make its threads; 0 or an error in
 * err), and stop (called after agent_request_stop(): joins its threads and
 * frees; also called for a part whose start failed midway, and for one
 * never started, so it must cope with a->X == NULL). Parts start in the
 * table's order and stop in reverse. */
#ifndef TROVE_AGENT_PARTS_H
#define TROVE_AGENT_PARTS_H

#include <stdbool.h>

#include "agent/agent.h"
#include "buf.h"

struct agent_part {
	const char *name;
	bool (*wanted)(const struct agent_config *cfg);
	int (*start)(struct agent *a, struct buf *err);
	void (*stop)(struct agent *a);
	/* NULL, or takes the signals main reads (SIGCHLD too) while the part
	 * runs; returns true when it took sig, so main does not act on it. */
	bool (*on_signal)(struct agent *a, int sig);
};

/* exec mode's hooks into main's signal loop (agent_exec.c; its row's
 * on_signal calls them): a signal the agent received (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2), and
 * SIGCHLD. */
void agent_exec_on_signal(struct agent *a, int sig);
void agent_exec_on_sigchld(struct agent *a);
/* The template runner's hook into exec mode: the env_templates' newest
 * rendering, "NAME=value" strings (copied). The first call starts the
 * child; a later one with other values restarts it (restart_on_secret_
 * changes = always). Without env_templates the child starts at once. */
void agent_exec_set_env(struct agent *a, const struct strlist *env);

#endif
