/* agent_exec.c — exec mode (agent_exec.h): one child process, supervised
 * by one thread.
 *
 * Who does what. Three threads meet here under x->mu: main's signal loop
 * (agent_exec_on_signal, agent_exec_on_sigchld), the template runner
 * (agent_exec_set_env) and the part's own thread. The hooks only record
 * what they want and nudge the thread through an eventfd; whatever takes
 * time — starting a child, a restart's wait for the old child to exit,
 * the kill timeout — happens on the part's thread, so main's loop never
 * waits. A signal is forwarded by the hook itself (kill(2) does not
 * block), under x->mu: only the thread reaps, also under x->mu, so the
 * process id signalled is never one already reaped and reused.
 *
 * Waiting. The thread sleeps in poll() on the eventfd and a pidfd of the
 * child (pidfd_open): the child's exit wakes it, and the one deadline (the
 * kill timeout of a child being stopped) is poll's timeout; with nothing
 * to do it sleeps without one. It reaps only its own child (waitpid on its
 * pid, never -1: the template runner's commands are the agent's children
 * too). Where pidfd_open is refused (kernels before 5.3, some seccomp
 * profiles) main's SIGCHLD nudges the thread instead, and while a child
 * is being stopped the thread also looks every 100 ms, since main may be
 * the one joining it in agent_exec_stop.
 *
 * The child's life (Vault Agent's, see docs/agent.md "Exec mode"): it
 * starts on the first rendering of the env_templates (at once when there
 * are none); a different rendering restarts it when
 * restart_on_secret_changes = "always" (restart_stop_signal, SIGKILL after
 * the kill timeout, then a new child with the newest values) and is only
 * remembered with "never"; when it exits on its own, or after a forwarded
 * SIGINT/SIGTERM, the agent ends with its exit code; when the agent ends
 * for another reason agent_exec_stop stops it the way a restart does.
 *
 * Secrets: the rendered "NAME=value" strings are wiped when freed and
 * never logged; the child's envp points at them, no copy is made. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent_exec.h"
#include "agent/agent_exec_spawn.h"
#include "agent/agent_parts.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "secure.h"

#include "banned.h"

extern char **environ;

/* After SIGKILL, how long agent_exec_stop waits before leaving a child it
 * cannot reap (one stuck in the kernel) to init. */
#define GIVE_UP_MS 5000L
/* Without a pidfd, how often a child being stopped is looked at. */
#define NO_PIDFD_POLL_MS 100L

enum stop_phase {
	PHASE_NONE,   /* not being stopped */
	PHASE_SIGNAL, /* stop signal (or a forwarded SIGINT/SIGTERM) sent; SIGKILL at the deadline */
	PHASE_KILLED, /* SIGKILL sent */
};

struct agent_exec {
	struct agent *a;
	const struct agent_exec_config *cfg;
	struct agent_exec_cmd cmd;
	int out_fd, err_fd; /* child_process_stdout/_stderr, or -1 */
	int wake_fd;        /* eventfd: the thread has something to look at */
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t mu;
	long kill_timeout_ms;
	/* The newest rendering of the env_templates, sorted, and its
	 * generation; have_env once there is one (at once without
	 * env_templates). */
	struct strlist env;
	bool have_env;
	uint64_t env_gen;

	pid_t pid; /* the child; 0 when none */
	int pidfd; /* or -1 */
	uint64_t child_gen;  /* the env generation the child (or "never") has */
	bool restarting;     /* it is being stopped to start a new one */
	bool ending;         /* a SIGINT/SIGTERM was forwarded: its exit ends the agent */
	enum stop_phase phase;
	int64_t deadline; /* CLOCK_MONOTONIC ns */
	bool done; /* the agent ends: no child is started any more */
	bool quit; /* agent_exec_stop: stop the child and leave */
};

static void wipe_list(struct strlist *l)
{
	for (size_t i = 0; i < l->len; i++) {
		secure_free_str(l->items[i]);
		l->items[i] = NULL;
	}
	l->len = 0;
	strlist_release(l);
	strlist_init(l);
}

static bool lists_equal(const struct strlist *x, const struct strlist *y)
{
	if (x->len != y->len)
		return false;
	for (size_t i = 0; i < x->len; i++)
		if (strcmp(x->items[i], y->items[i]) != 0)
			return false;
	return true;
}

static void nudge(struct agent_exec *x)
{
	uint64_t one = 1;
	ssize_t n;

	do
		n = write(x->wake_fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

static int64_t now_plus(long ms)
{
	return clock_monotonic_ns() + (int64_t)ms * 1000000;
}

/* Milliseconds until the monotonic time t, rounded up (0 once it passed). */
static long ms_until(int64_t t)
{
	int64_t left = t - clock_monotonic_ns();

	return left <= 0 ? 0 : (long)((left + 999999) / 1000000);
}

static void log_child(const char *msg, pid_t pid, const char *key, const char *value)
{
	char p[24];

	snprintf(p, sizeof(p), "%ld", (long)pid);
	log_msg(LOG_INFO, msg, "pid", p, key, value, NULL);
}

static const char *signal_name(int sig, char *tmp, size_t n)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev)
		snprintf(tmp, n, "SIG%s", abbrev);
	else
		snprintf(tmp, n, "%d", sig);
	return tmp;
}

/* Sends sig to the child (to its group when it has one of its own). */
static void signal_child_locked(struct agent_exec *x, int sig)
{
	char name[16];

	if (x->pid <= 0)
		return;
	if (kill(x->cmd.own_group ? -x->pid : x->pid, sig) != 0 && errno != ESRCH)
		log_msg(LOG_WARN, "exec: cannot signal the child", "signal", signal_name(sig, name, sizeof(name)),
		        "error", strerror(errno), NULL);
}

/* The first phase of stopping the child: sig now, SIGKILL after the kill
 * timeout unless it exits. */
static void begin_stop_locked(struct agent_exec *x, int sig)
{
	signal_child_locked(x, sig);
	if (x->phase == PHASE_NONE) {
		x->phase = PHASE_SIGNAL;
		x->deadline = now_plus(x->kill_timeout_ms);
	}
}

static void close_pidfd(struct agent_exec *x)
{
	if (x->pidfd >= 0)
		close(x->pidfd);
	x->pidfd = -1;
}

/* Starts the child with the newest env. Returns 0 or TROVE_ERR_INVALID
 * with err naming exec's block and `command`. */
static int spawn_locked(struct agent_exec *x, struct buf *err)
{
	char **envp = agent_exec_envp(environ, &x->env);
	pid_t pid = 0;
	int rc = agent_exec_spawn(&x->cmd, envp, x->out_fd, x->err_fd, &pid);

	free(envp);
	if (rc != 0) {
		buf_printf(err, "%s: exec: command: cannot run \"%s\": %s", x->cfg->where ? x->cfg->where : "agent config",
		           x->cmd.argv[0], strerror(rc));
		return TROVE_ERR_INVALID;
	}
	x->pid = pid;
	x->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	x->child_gen = x->env_gen;
	x->restarting = false;
	x->phase = PHASE_NONE;
	log_child("exec: child process started", pid, "command", x->cmd.argv[0]);
	return 0;
}

/* The child is gone (status from waitpid): a restart goes on; otherwise
 * the agent ends with its exit code. */
static void child_ended_locked(struct agent_exec *x, int status)
{
	int code = agent_exec_exit_code(status);
	char c[16];

	snprintf(c, sizeof(c), "%d", code);
	log_child("exec: child process exited", x->pid, "exit_code", c);
	x->pid = 0;
	x->phase = PHASE_NONE;
	close_pidfd(x);
	if (x->quit || x->done)
		return;
	if (x->restarting && !x->ending)
		return;
	x->done = true;
	agent_request_stop(x->a, code);
}

/* Reaps the child if it has exited. */
static void reap_locked(struct agent_exec *x)
{
	int status = 0;
	pid_t r;

	if (x->pid <= 0)
		return;
	do
		r = waitpid(x->pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == x->pid)
		child_ended_locked(x, status);
	else if (r < 0) {
		/* ECHILD: someone else reaped it (a waitpid(-1) elsewhere);
		 * its status is lost. */
		log_msg(LOG_WARN, "exec: the child process was reaped elsewhere", "error", strerror(errno), NULL);
		child_ended_locked(x, 0);
	}
}

/* Moves the child towards what is wanted; called by the thread after
 * every wake-up. Returns false when the thread should leave. */
static bool step_locked(struct agent_exec *x)
{
	struct buf err;

	if (x->pid > 0 && x->phase != PHASE_NONE && ms_until(x->deadline) == 0) {
		if (x->phase == PHASE_SIGNAL) {
			log_child("exec: child did not exit in time, sending SIGKILL", x->pid, NULL, NULL);
			signal_child_locked(x, SIGKILL);
			x->phase = PHASE_KILLED;
			x->deadline = now_plus(GIVE_UP_MS);
		} else if (x->quit) {
			log_child("exec: child did not exit after SIGKILL, leaving it", x->pid, NULL, NULL);
			x->pid = 0;
			close_pidfd(x);
		}
	}
	if (x->quit) {
		if (x->pid > 0 && x->phase == PHASE_NONE)
			begin_stop_locked(x, x->cfg->restart_stop_signal);
		return x->pid > 0;
	}
	if (x->done)
		return true;
	if (x->pid == 0) {
		if (!x->have_env)
			return true;
		buf_init(&err, 1024);
		if (spawn_locked(x, &err) != 0) {
			log_msg(LOG_ERROR, "exec: cannot start the child process", "error", err.data, NULL);
			x->done = true;
			agent_request_stop(x->a, 1);
		}
		buf_release(&err);
		return true;
	}
	if (x->child_gen != x->env_gen && !x->restarting && !x->ending) {
		if (x->cfg->restart_on_secret_changes == AGENT_RESTART_ALWAYS) {
			log_child("exec: environment changed, restarting the child process", x->pid, NULL, NULL);
			x->restarting = true;
			begin_stop_locked(x, x->cfg->restart_stop_signal);
		} else {
			log_child("exec: environment changed, not restarting the child process", x->pid,
			          "restart_on_secret_changes", "never");
			x->child_gen = x->env_gen;
		}
	}
	return true;
}

/* poll's timeout for the thread's next sleep: -1 when only an event
 * can change anything. */
static long timeout_locked(const struct agent_exec *x)
{
	long t = -1;

	if (x->pid <= 0)
		return -1;
	if (x->phase == PHASE_SIGNAL || (x->phase == PHASE_KILLED && x->quit))
		t = ms_until(x->deadline);
	if (x->pidfd < 0 && (x->phase != PHASE_NONE || x->quit) && (t < 0 || t > NO_PIDFD_POLL_MS))
		t = NO_PIDFD_POLL_MS;
	return t;
}

static void *exec_thread(void *arg)
{
	struct agent_exec *x = arg;

	pthread_mutex_lock(&x->mu);
	for (;;) {
		struct pollfd p[2] = { { .fd = x->wake_fd, .events = POLLIN }, { .fd = x->pidfd, .events = POLLIN } };
		long timeout;
		uint64_t v;

		agent_rest_note(&x->a->rest);
		reap_locked(x);
		if (!step_locked(x))
			break;
		timeout = timeout_locked(x);
		pthread_mutex_unlock(&x->mu);
		/* pidfd is only closed on this thread, so p[1] stays valid. */
		if (poll(p, p[1].fd >= 0 ? 2 : 1, timeout > INT32_MAX ? INT32_MAX : (int)timeout) > 0 &&
		    (p[0].revents & POLLIN)) {
			while (read(x->wake_fd, &v, sizeof(v)) < 0 && errno == EINTR)
				;
		}
		pthread_mutex_lock(&x->mu);
	}
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

bool agent_exec_wanted(const struct agent_config *cfg)
{
	return cfg->exec.present;
}

static bool has_env_templates(const struct agent_config *cfg)
{
	for (size_t i = 0; i < cfg->ntemplates; i++)
		if (cfg->templates[i].env_name)
			return true;
	return false;
}

/* Opens path for the child's output as Vault does: append, created 0644. */
static int open_output(const struct agent_exec_config *c, const char *key, const char *path, int *fd,
                       struct buf *err)
{
	*fd = -1;
	if (path == NULL || *path == '\0')
		return 0;
	*fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (*fd < 0) {
		buf_printf(err, "%s: exec: %s: cannot open \"%s\": %s", c->where ? c->where : "agent config", key, path,
		           strerror(errno));
		return TROVE_ERR_IO;
	}
	return 0;
}

int agent_exec_start(struct agent *a, struct buf *err)
{
	const struct agent_exec_config *c = &a->cfg->exec;
	struct agent_exec *x;
	int r = TROVE_ERR_INTERNAL;

	x = xcalloc(1, sizeof(*x));
	x->a = a;
	x->cfg = c;
	x->out_fd = x->err_fd = x->wake_fd = x->pidfd = -1;
	x->kill_timeout_ms = AGENT_EXEC_KILL_TIMEOUT_MS;
	strlist_init(&x->env);
	if (pthread_mutex_init(&x->mu, NULL) != 0) {
		free(x);
		buf_printf(err, "exec: cannot make a mutex");
		return TROVE_ERR_INTERNAL;
	}
	a->exec = x;
	if ((r = agent_exec_cmd_init(&x->cmd, c, err)) != 0 ||
	    (r = open_output(c, "child_process_stdout", c->child_process_stdout, &x->out_fd, err)) != 0 ||
	    (r = open_output(c, "child_process_stderr", c->child_process_stderr, &x->err_fd, err)) != 0)
		goto out;
	x->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->wake_fd < 0) {
		buf_printf(err, "exec: eventfd: %s", strerror(errno));
		r = TROVE_ERR_INTERNAL;
		goto out;
	}
	if (!has_env_templates(a->cfg)) {
		/* Nothing to wait for: the child starts now, and a command that
		 * cannot be run fails the agent's start. */
		x->have_env = true;
		if ((r = spawn_locked(x, err)) != 0)
			goto out;
	}
	if (pthread_create(&x->thread, NULL, exec_thread, x) != 0) {
		buf_printf(err, "exec: cannot start a thread");
		r = TROVE_ERR_INTERNAL;
		goto out;
	}
	x->thread_started = true;
	r = 0;
out:
	return r; /* on error agent_exec_stop frees what was made */
}

void agent_exec_stop(struct agent *a)
{
	struct agent_exec *x = a->exec;

	if (x == NULL)
		return;
	if (x->thread_started) {
		pthread_mutex_lock(&x->mu);
		x->quit = true;
		nudge(x);
		pthread_mutex_unlock(&x->mu);
		pthread_join(x->thread, NULL);
	} else if (x->pid > 0) {
		/* Started, but the thread could not be: nothing else may see it. */
		kill(x->cmd.own_group ? -x->pid : x->pid, SIGKILL);
		while (waitpid(x->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	close_pidfd(x);
	if (x->out_fd >= 0)
		close(x->out_fd);
	if (x->err_fd >= 0)
		close(x->err_fd);
	if (x->wake_fd >= 0)
		close(x->wake_fd);
	agent_exec_cmd_release(&x->cmd);
	wipe_list(&x->env);
	strlist_release(&x->env);
	pthread_mutex_destroy(&x->mu);
	free(x);
	a->exec = NULL;
}

void agent_exec_set_env(struct agent *a, const struct strlist *env)
{
	struct agent_exec *x = a->exec;
	struct strlist copy;

	if (x == NULL || env == NULL)
		return;
	strlist_init(&copy);
	for (size_t i = 0; i < env->len; i++)
		if (strlist_push(&copy, env->items[i]) != 0)
			abort();
	strlist_sort(&copy);
	pthread_mutex_lock(&x->mu);
	if (x->have_env && lists_equal(&copy, &x->env)) {
		pthread_mutex_unlock(&x->mu);
		wipe_list(&copy);
		return;
	}
	wipe_list(&x->env);
	x->env = copy;
	x->have_env = true;
	x->env_gen++;
	nudge(x);
	pthread_mutex_unlock(&x->mu);
}

void agent_exec_on_signal(struct agent *a, int sig)
{
	struct agent_exec *x = a->exec;
	bool term = sig == SIGINT || sig == SIGTERM;
	bool stop_now = false;
	char name[16];

	if (x == NULL)
		return;
	pthread_mutex_lock(&x->mu);
	if (x->pid > 0) {
		log_child("exec: forwarding a signal to the child process", x->pid, "signal",
		          signal_name(sig, name, sizeof(name)));
		if (term) {
			/* As a shell's exec would: the child decides how to end,
			 * and its exit ends the agent; the kill timeout bounds it. */
			x->ending = true;
			begin_stop_locked(x, sig);
			nudge(x);
		} else {
			signal_child_locked(x, sig);
		}
	} else if (term && !x->done) {
		/* No child to wait for (none yet, or between a restart's stop
		 * and start): the agent ends now. */
		x->done = true;
		stop_now = true;
	}
	pthread_mutex_unlock(&x->mu);
	if (stop_now)
		agent_request_stop(a, 0);
}

void agent_exec_on_sigchld(struct agent *a)
{
	struct agent_exec *x = a->exec;

	/* Only the thread reaps (see the head comment): wake it. */
	if (x != NULL)
		nudge(x);
}

bool agent_exec_signal(struct agent *a, int sig)
{
	if (sig == SIGCHLD) {
		/* Other parts' children (template commands) end too: leave
		 * SIGCHLD to the rows after this one as well. */
		agent_exec_on_sigchld(a);
		return false;
	}
	agent_exec_on_signal(a, sig);
	return true;
}

void agent_exec_set_kill_timeout(struct agent *a, long ms)
{
	struct agent_exec *x = a->exec;

	if (x == NULL)
		return;
	pthread_mutex_lock(&x->mu);
	x->kill_timeout_ms = ms;
	pthread_mutex_unlock(&x->mu);
}

pid_t agent_exec_pid(struct agent *a)
{
	struct agent_exec *x = a->exec;
	pid_t pid;

	if (x == NULL)
		return 0;
	pthread_mutex_lock(&x->mu);
	pid = x->pid;
	pthread_mutex_unlock(&x->mu);
	return pid;
}
