/* agent_exec.h — exec mode: `trove agent` as the process supervisor of
 * one app (exec { } and env_template "NAME" { } in agent.hcl).
 *
 * The part runs exec.command as the agent's child with the env_templates'
 * values in its environment, restarts it when they change, forwards the
 * signals main receives to it and ends the agent with its exit status. Its
 * hooks for main and the template runner are in agent_parts.h; the
 * behaviour and its differences from Vault Agent are in docs/agent.md,
 * "Exec mode". */
#ifndef TROVE_AGENT_EXEC_H
#define TROVE_AGENT_EXEC_H

#include <stdbool.h>
#include <sys/types.h>

#include "agent/agent.h"
#include "buf.h"

/* How long a child has to exit after the stop signal (a restart, or the
 * agent stopping) before it is sent SIGKILL: Vault Agent's 30 s. */
#define AGENT_EXEC_KILL_TIMEOUT_MS 30000L

/* cfg->exec.present. */
bool agent_exec_wanted(const struct agent_config *cfg);
/* Opens child_process_stdout/_stderr (append, created 0644) and starts
 * the part's thread; without env_template blocks it also starts the child
 * (a command that cannot be run is an error here). Returns 0, or
 * TROVE_ERR_INVALID / TROVE_ERR_IO with err naming exec's `where` and the
 * key. Sets a->exec. */
int agent_exec_start(struct agent *a, struct buf *err);
/* Stops the child (exec.restart_stop_signal, SIGKILL after the kill
 * timeout), reaps it, joins the thread, closes the files and frees
 * a->exec (NULL is fine). Called after agent_request_stop(). */
void agent_exec_stop(struct agent *a);

/* The row's on_signal (agent_parts.h): SIGCHLD goes to
 * agent_exec_on_sigchld and is left to the other rows too (returns
 * false); the others go to agent_exec_on_signal and are taken (true):
 * with exec mode SIGINT and SIGTERM end the agent through the child's
 * exit, or at once when no child runs. */
bool agent_exec_signal(struct agent *a, int sig);

/* For tests: the kill timeout in ms (default AGENT_EXEC_KILL_TIMEOUT_MS),
 * for stops begun after the call. */
void agent_exec_set_kill_timeout(struct agent *a, long ms);
/* The running child's process id, or 0 when there is none. */
pid_t agent_exec_pid(struct agent *a);

#endif
