/* agent_command.c — running a template's command with a timeout
 * (agent_command.h). posix_spawn, not fork: the agent has threads, and
 * nothing but exec may run in a forked copy of it. The child's exit is
 * watched through a pidfd so the wait is one poll() with a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_command.h"
#include "clock.h"
#include "err.h"

#include "banned.h"

extern char **environ;

static int spawn(char *const *argv, size_t argc, bool shell, int out_fd, pid_t *pid, struct buf *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char *sh[4] = { "/bin/sh", "-c", shell ? argv[0] : NULL, NULL };
	char **args = NULL;
	int rc;

	if (!shell) {
		args = xcalloc(argc + 1, sizeof(*args));
		memcpy(args, argv, argc * sizeof(*args));
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	rc = shell ? posix_spawn(pid, sh[0], &fa, &attr, sh, environ) : posix_spawnp(pid, args[0], &fa, &attr, args, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(args);
	if (rc != 0) {
		buf_printf(err, "starting %s: %s", shell ? "/bin/sh" : argv[0], strerror(rc));
		return TROVE_ERR_IO;
	}
	return 0;
}

/* Reads what the pipe has now into out (beyond out's cap, drops it).
 * Returns false at end of file or on an error. */
static bool drain(int fd, struct buf *out)
{
	char chunk[1024];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		if (out->len + (size_t)n <= out->cap)
			buf_append(out, chunk, (size_t)n);
	}
}

/* Waits until the child is gone or deadline_ns (CLOCK_MONOTONIC) passes,
 * collecting its output. True when it exited (reaped, *status set). */
static bool wait_child(pid_t pid, int pidfd, int stop_fd, int *out_fd, int64_t deadline_ns, struct buf *out,
                       int *status)
{
	for (;;) {
		struct pollfd p[3] = { { .fd = *out_fd, .events = POLLIN },
			               { .fd = pidfd, .events = POLLIN },
			               { .fd = stop_fd, .events = POLLIN } };
		int64_t left_ms = (deadline_ns - clock_monotonic_ns() + 999999) / 1000000; /* rounded up */
		int timeout = left_ms < 0 ? 0 : (int)(left_ms > 60000 ? 60000 : left_ms);
		pid_t w;

		if (pidfd < 0 && timeout > 100)
			timeout = 100; /* no pidfd: look for the exit now and then */
		if (poll(p, 3, timeout) < 0 && errno != EINTR)
			return false;
		if (*out_fd >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !drain(*out_fd, out)) {
			close(*out_fd);
			*out_fd = -1;
		}
		w = waitpid(pid, status, WNOHANG);
		if (w == pid) {
			if (*out_fd >= 0)
				drain(*out_fd, out); /* what it wrote just before it exited */
			return true;
		}
		if (w < 0 && errno != EINTR)
			return true; /* already gone (reaped elsewhere) */
		if (clock_monotonic_ns() >= deadline_ns || (p[2].revents & POLLIN))
			return false;
	}
}

int agent_command_run(char *const *argv, size_t argc, bool shell, long timeout_ms, int stop_fd, struct buf *out,
                      struct buf *err)
{
	int r = TROVE_ERR_IO;
	int fds[2] = { -1, -1 };
	int pidfd = -1;
	int status = 0;
	int64_t started = clock_monotonic_ns();
	pid_t pid;

	if (argc == 0) {
		buf_printf(err, "no command");
		return TROVE_ERR_INVALID;
	}
	if (pipe2(fds, O_CLOEXEC) != 0) {
		buf_printf(err, "pipe: %s", strerror(errno));
		return TROVE_ERR_IO;
	}
	if ((r = spawn(argv, argc, shell, fds[1], &pid, err)) != 0)
		goto out;
	close(fds[1]);
	fds[1] = -1;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (!wait_child(pid, pidfd, stop_fd, &fds[0], clock_monotonic_ns() + (int64_t)timeout_ms * 1000000, out,
	                &status)) {
		kill(-pid, SIGTERM);
		if (!wait_child(pid, pidfd, -1, &fds[0], clock_monotonic_ns() + AGENT_COMMAND_KILL_GRACE_MS * 1000000, out,
		                &status)) {
			kill(-pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
		}
		if (clock_monotonic_ns() - started < (int64_t)timeout_ms * 1000000)
			buf_printf(err, "stopped: the agent is stopping");
		else
			buf_printf(err, "killed after its timeout of %ld ms", timeout_ms);
		r = TROVE_ERR_TIMEOUT;
		goto out;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		r = 0;
	} else {
		if (WIFSIGNALED(status))
			buf_printf(err, "killed by signal %d", WTERMSIG(status));
		else
			buf_printf(err, "exit status %d", WEXITSTATUS(status));
		r = TROVE_ERR_UPSTREAM;
	}
out:
	if (pidfd >= 0)
		close(pidfd);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return r;
}
