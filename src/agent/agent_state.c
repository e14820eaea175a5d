/* agent_state.c — the agent's shared state: the token box and stopping
 * (agent.h). One mutex and one condition variable guard both; waits are
 * on CLOCK_MONOTONIC so a wall-clock jump neither cuts nor stretches them. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

static void free_token(char *t)
{
	if (t) {
		secure_wipe(t, strlen(t));
		free(t);
	}
}

/* The absolute CLOCK_MONOTONIC time timeout_ms from now. */
static struct timespec deadline_in(long timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Waits on a->cond (a->mu held) until the deadline; false when it passed. */
static bool wait_until(struct agent *a, const struct timespec *deadline)
{
	if (deadline == NULL) {
		pthread_cond_wait(&a->cond, &a->mu);
		return true;
	}
	return pthread_cond_timedwait(&a->cond, &a->mu, deadline) != ETIMEDOUT;
}

int agent_state_init(struct agent *a)
{
	pthread_condattr_t ca;

	if (pthread_mutex_init(&a->mu, NULL) != 0)
		return TROVE_ERR_INTERNAL;
	if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&a->cond, &ca) != 0) {
		pthread_mutex_destroy(&a->mu);
		return TROVE_ERR_INTERNAL;
	}
	pthread_condattr_destroy(&ca);
	a->wake_fd[0] = a->wake_fd[1] = -1;
	if (pipe2(a->wake_fd, O_CLOEXEC) != 0 || agent_rest_init(&a->rest, AGENT_REST_QUIET_MS, NULL) != 0) {
		if (a->wake_fd[0] >= 0) {
			close(a->wake_fd[0]);
			close(a->wake_fd[1]);
		}
		pthread_cond_destroy(&a->cond);
		pthread_mutex_destroy(&a->mu);
		return TROVE_ERR_INTERNAL;
	}
	return 0;
}

void agent_state_release(struct agent *a)
{
	free_token(a->token);
	a->token = NULL;
	if (a->wake_fd[0] >= 0)
		close(a->wake_fd[0]);
	if (a->wake_fd[1] >= 0)
		close(a->wake_fd[1]);
	agent_rest_release(&a->rest);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mu);
}

void agent_token_publish(struct agent *a, const char *token)
{
	char *copy = token ? strdup(token) : NULL;

	pthread_mutex_lock(&a->mu);
	free_token(a->token);
	a->token = copy;
	a->token_gen++;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mu);
}

char *agent_token_wait(struct agent *a, uint64_t after_gen, long timeout_ms, uint64_t *gen)
{
	struct timespec deadline = timeout_ms >= 0 ? deadline_in(timeout_ms) : (struct timespec){ 0, 0 };
	char *out = NULL;

	pthread_mutex_lock(&a->mu);
	while (!a->stopping && (a->token == NULL || a->token_gen <= after_gen))
		if (!wait_until(a, timeout_ms >= 0 ? &deadline : NULL))
			break;
	if (!a->stopping && a->token != NULL && a->token_gen > after_gen) {
		out = strdup(a->token);
		if (out && gen)
			*gen = a->token_gen;
	}
	pthread_mutex_unlock(&a->mu);
	return out;
}

void agent_token_report_invalid(struct agent *a, uint64_t gen)
{
	pthread_mutex_lock(&a->mu);
	if (gen > a->invalid_gen) {
		a->invalid_gen = gen;
		pthread_cond_broadcast(&a->cond);
	}
	pthread_mutex_unlock(&a->mu);
}

bool agent_token_wait_invalid(struct agent *a, uint64_t gen, long timeout_ms)
{
	struct timespec deadline = timeout_ms >= 0 ? deadline_in(timeout_ms) : (struct timespec){ 0, 0 };
	bool invalid;

	pthread_mutex_lock(&a->mu);
	while (!a->stopping && a->invalid_gen < gen)
		if (!wait_until(a, timeout_ms >= 0 ? &deadline : NULL))
			break;
	invalid = a->invalid_gen >= gen;
	pthread_mutex_unlock(&a->mu);
	return invalid;
}

void agent_request_stop(struct agent *a, int exit_code)
{
	bool first;

	pthread_mutex_lock(&a->mu);
	first = !a->stopping;
	if (first) {
		a->stopping = true;
		a->exit_code = exit_code;
	}
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mu);
	if (first) {
		char c = 1;
		ssize_t n;

		do
			n = write(a->wake_fd[1], &c, 1);
		while (n < 0 && errno == EINTR);
	}
}

bool agent_stopping(struct agent *a)
{
	bool s;

	pthread_mutex_lock(&a->mu);
	s = a->stopping;
	pthread_mutex_unlock(&a->mu);
	return s;
}

bool agent_sleep(struct agent *a, long ms)
{
	struct timespec deadline = deadline_in(ms < 0 ? 0 : ms);
	bool running;

	pthread_mutex_lock(&a->mu);
	while (!a->stopping && wait_until(a, &deadline))
		;
	running = !a->stopping;
	pthread_mutex_unlock(&a->mu);
	return running;
}
