/* agent_exec_spawn.c — exec mode's child: argv, environment, posix_spawn
 * (agent_exec_spawn.h).
 *
 * posix_spawnp rather than fork: the agent has several threads and a
 * forked copy of it could only call async-signal-safe functions anyway;
 * glibc's posix_spawn reports a failed exec (no such program) as its
 * return value, which a fork would have to pass back through a pipe.
 *
 * The child must not inherit what the agent set up for itself: main
 * blocks the signals it reads through a signalfd and ignores SIGPIPE, so
 * the mask is emptied and every disposition reset; the agent's sockets,
 * pipes and files are closed (closefrom 3), as Go's exec leaves the child
 * of Vault Agent only its three standard descriptors. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "agent/agent_exec_spawn.h"
#include "err.h"

#include "banned.h"

/* The number of whitespace-separated words in s (Go's strings.Fields). */
static size_t count_words(const char *s)
{
	size_t n = 0;
	bool in_word = false;

	for (; *s; s++) {
		bool space = isspace((unsigned char)*s) != 0;

		if (!space && !in_word)
			n++;
		in_word = !space;
	}
	return n;
}

int agent_exec_cmd_init(struct agent_exec_cmd *cmd, const struct agent_exec_config *c, struct buf *err)
{
	size_t i;

	cmd->argv = NULL;
	cmd->own_group = false;
	if (c->ncommand == 0 || c->command == NULL || count_words(c->command[0]) == 0) {
		buf_printf(err, "%s: exec: command: must name the program to run", c->where ? c->where : "agent config");
		return TROVE_ERR_INVALID;
	}
	if (c->ncommand == 1 && count_words(c->command[0]) > 1) {
		cmd->argv = xcalloc(4, sizeof(*cmd->argv));
		cmd->argv[0] = xstrdup("/bin/sh");
		cmd->argv[1] = xstrdup("-c");
		cmd->argv[2] = xstrdup(c->command[0]);
		cmd->own_group = true;
		return 0;
	}
	cmd->argv = xcalloc(c->ncommand + 1, sizeof(*cmd->argv));
	for (i = 0; i < c->ncommand; i++)
		cmd->argv[i] = xstrdup(c->command[i]);
	return 0;
}

void agent_exec_cmd_release(struct agent_exec_cmd *cmd)
{
	if (cmd->argv) {
		for (char **p = cmd->argv; *p; p++)
			free(*p);
		free(cmd->argv);
	}
	cmd->argv = NULL;
}

/* Whether entry ("NAME=value", or a bare NAME) has the name of one of env's. */
static bool name_in(const char *entry, const struct strlist *env)
{
	size_t n = strcspn(entry, "=");

	for (size_t i = 0; i < env->len; i++) {
		const char *e = env->items[i];

		if (strncmp(e, entry, n) == 0 && (e[n] == '=' || e[n] == '\0'))
			return true;
	}
	return false;
}

char **agent_exec_envp(char *const *base, const struct strlist *env)
{
	size_t nbase = 0, k = 0;
	char **out;

	while (base && base[nbase])
		nbase++;
	out = xcalloc(nbase + env->len + 1, sizeof(*out));
	for (size_t i = 0; i < nbase; i++)
		if (!name_in(base[i], env))
			out[k++] = base[i];
	for (size_t i = 0; i < env->len; i++)
		out[k++] = env->items[i];
	out[k] = NULL;
	return out;
}

int agent_exec_spawn(const struct agent_exec_cmd *cmd, char *const *envp, int out_fd, int err_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	int r;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return r;
	if ((r = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return r;
	}
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	if (cmd->own_group)
		flags |= POSIX_SPAWN_SETPGROUP;
	if ((out_fd >= 0 && (r = posix_spawn_file_actions_adddup2(&fa, out_fd, 1)) != 0) ||
	    (err_fd >= 0 && (r = posix_spawn_file_actions_adddup2(&fa, err_fd, 2)) != 0) ||
	    (r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 || (r = posix_spawnattr_setflags(&at, flags)) != 0 ||
	    (r = posix_spawnattr_setsigmask(&at, &none)) != 0 || (r = posix_spawnattr_setsigdefault(&at, &all)) != 0 ||
	    (r = posix_spawnattr_setpgroup(&at, 0)) != 0)
		goto out;
	r = posix_spawnp(pid, cmd->argv[0], &fa, &at, cmd->argv, envp);
out:
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return r;
}

int agent_exec_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}
