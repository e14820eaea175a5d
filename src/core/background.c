/* background.c — see background.h. */
#include "background.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "buf.h"
#include "core.h"
#include "clock.h"
#include "err.h"
#include "mount.h"
#include "router.h"
#include "scheduler.h"

#include "banned.h"

struct background {
	struct mount_table *table; /* borrowed: the owner */
	struct scheduler *sched;
};

/* One job of a mount: what a run needs to find the mount and call it. */
struct bg_job {
	struct background *b;
	char accessor[64];
	void (*once)(struct mount *m, void *arg);
	void *arg;
	void (*arg_free)(void *arg);
};

static void bg_job_free(void *p)
{
	struct bg_job *j = p;
	if (j->arg_free)
		j->arg_free(j->arg);
	free(j);
}

static void bg_run(void *p)
{
	struct bg_job *j = p;
	struct mount *m = mount_by_accessor(j->b->table, j->accessor);
	if (!m)
		return; /* disabled meanwhile: its cancellation is on the way */
	/* The engine as it is now: a tune may have changed it (kv v1 -> v2). */
	if (j->once)
		j->once(m, j->arg);
	else if (m->engine->periodic)
		m->engine->periodic(m);
	mount_release(m);
}

struct background *background_new(struct mount_table *t)
{
	struct background *b = xcalloc(1, sizeof(*b));
	b->table = t;
	b->sched = scheduler_new();
	return b;
}

void background_free(struct background *b)
{
	if (!b)
		return;
	scheduler_free(b->sched);
	free(b);
}

struct scheduler *background_scheduler(struct background *b)
{
	return b->sched;
}

int background_mount_start(struct background *b, const struct mount *m)
{
	const struct engine *e = m->engine;
	if (!e || !e->periodic)
		return 0;
	struct bg_job *j = xcalloc(1, sizeof(*j));
	j->b = b;
	snprintf(j->accessor, sizeof(j->accessor), "%s", m->accessor);
	uint64_t interval_ms = (uint64_t)(e->periodic_interval_s ? e->periodic_interval_s : 60) * 1000;
	int r = scheduler_every(b->sched, m->accessor, interval_ms, e->periodic_jitter_pct > 100 ? 100 : e->periodic_jitter_pct,
				bg_run, j, bg_job_free);
	if (r != 0)
		free(j);
	return r;
}

void background_mount_stop(struct background *b, const char *accessor)
{
	scheduler_cancel(b->sched, accessor);
}

void background_close(struct background *b)
{
	scheduler_close(b->sched);
}

void background_open(struct background *b)
{
	scheduler_open(b->sched);
}

int mount_schedule_at(struct mount *m, int64_t at_ms, void (*fn)(struct mount *m, void *arg), void *arg,
		      void (*arg_free)(void *arg))
{
	struct background *b = mount_table_background(core_mounts(m->core));
	int64_t now = clock_realtime_ns() / 1000000;
	struct bg_job *j = xcalloc(1, sizeof(*j));
	j->b = b;
	snprintf(j->accessor, sizeof(j->accessor), "%s", m->accessor);
	j->once = fn;
	j->arg = arg;
	j->arg_free = arg_free;
	int r = scheduler_once(b->sched, m->accessor, at_ms > now ? (uint64_t)(at_ms - now) : 0, bg_run, j, bg_job_free);
	if (r != 0)
		free(j); /* arg stays the caller's */
	return r;
}
