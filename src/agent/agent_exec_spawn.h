/* agent_exec_spawn.h — how exec mode starts its child: the argv, the
 * environment and the process itself (agent_exec_spawn.c). No state: the
 * part (agent_exec.c) decides when. */
#ifndef TROVE_AGENT_EXEC_SPAWN_H
#define TROVE_AGENT_EXEC_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "agent/agent_config.h"
#include "buf.h"

/* What the child runs: exec.command as an argv, or, when it is a single
 * string holding more than one word, ["/bin/sh", "-c", that string] in a
 * process group of its own (consul-template's rule). */
struct agent_exec_cmd {
	char **argv; /* NULL-terminated, owned */
	bool own_group;
};

/* Fills cmd from c. Returns 0, or TROVE_ERR_INVALID with err naming
 * c->where and `command` (no command, or an empty program name). */
int agent_exec_cmd_init(struct agent_exec_cmd *cmd, const struct agent_exec_config *c, struct buf *err);
void agent_exec_cmd_release(struct agent_exec_cmd *cmd);

/* The child's environment: every entry of base (the agent's environ)
 * whose name no entry of env has, then env's entries in env's order.
 * Returns a NULL-terminated heap array of pointers borrowed from base and
 * env (the caller frees the array alone, and keeps both alive while it is
 * used). Aborts on OOM. */
char **agent_exec_envp(char *const *base, const struct strlist *env);

/* Starts cmd with envp: PATH lookup for a program name without a slash,
 * an empty signal mask and every signal's default action, descriptors
 * 0-2 inherited except that out_fd/err_fd (>= 0) become 1/2, every other
 * descriptor closed, its own process group when cmd->own_group. Returns
 * 0 with *pid, or an errno value (the program cannot be found or run). */
int agent_exec_spawn(const struct agent_exec_cmd *cmd, char *const *envp, int out_fd, int err_fd, pid_t *pid);

/* A wait status as the agent's exit code: the exit status, or 128 plus
 * the signal that killed the child (as shells report it). */
int agent_exec_exit_code(int status);

#endif
