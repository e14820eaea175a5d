/* agent_rest.c — memory given back when the agent is idle (agent_rest.h). */
#include "agent/agent_rest.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "err.h"
#include "heap_trim.h"
#include "log.h"
#include "object_pages.h"

#include "banned.h"

unsigned long agent_rest_give_back(void)
{
	size_t bytes = object_pages_release();
	heap_trim();
	return (unsigned long)bytes;
}

int agent_rest_init(struct agent_rest *r, long quiet_ms, unsigned long (*give_back)(void))
{
	r->fd[0] = r->fd[1] = -1;
	if (pipe2(r->fd, O_CLOEXEC | O_NONBLOCK) != 0)
		return TROVE_ERR_INTERNAL;
	atomic_init(&r->work, 0);
	atomic_init(&r->armed, true);
	r->seen = 0;
	r->quiet_ms = quiet_ms;
	r->give_back = give_back ? give_back : agent_rest_give_back;
	return 0;
}

void agent_rest_release(struct agent_rest *r)
{
	for (int i = 0; i < 2; i++)
		if (r->fd[i] >= 0)
			close(r->fd[i]);
	r->fd[0] = r->fd[1] = -1;
}

void agent_rest_note(struct agent_rest *r)
{
	atomic_fetch_add(&r->work, 1);
	/* a read first: while a period runs, notes write no shared line */
	if (!atomic_load(&r->armed) && !atomic_exchange(&r->armed, true)) {
		/* Full pipe: a byte is already waiting, which is all main needs. */
		ssize_t n = write(r->fd[1], "w", 1);
		(void)n;
	}
}

int agent_rest_fd(const struct agent_rest *r)
{
	return r->fd[0];
}

static void drain(int fd)
{
	char b[64];
	while (read(fd, b, sizeof(b)) > 0)
		;
}

long agent_rest_step(struct agent_rest *r, bool readable, bool timed_out)
{
	uint_fast64_t now;

	if (readable) {
		drain(r->fd[0]);
		r->seen = atomic_load(&r->work);
		return r->quiet_ms;
	}
	if (!atomic_load(&r->armed))
		return -1;
	if (!timed_out)
		return r->quiet_ms; /* a signal; the period starts again */
	now = atomic_load(&r->work);
	if (now != r->seen) {
		r->seen = now;
		return r->quiet_ms;
	}
	atomic_store(&r->armed, false);
	if (atomic_load(&r->work) != now && !atomic_exchange(&r->armed, true)) {
		/* work noted as the period closed, its byte not sent: go on */
		r->seen = atomic_load(&r->work);
		return r->quiet_ms;
	}
	char kib[32];
	snprintf(kib, sizeof(kib), "%lu", r->give_back() >> 10);
	log_debug("idle: memory given back", "kib", kib);
	return -1;
}
