/* background.h — the background work of mounts: an engine's periodic
 * function (struct engine: periodic, periodic_interval_s,
 * periodic_jitter_pct) and the one-shot jobs engines schedule, run by the
 * scheduler (scheduler.h) on the worker pool, never on an event loop.
 *
 * The mount table owns it (mount_table_background): a mount's jobs start
 * when it is loaded or enabled and stop when it is disabled (which waits
 * for a run in progress) and at seal (which waits for every run). Jobs
 * are keyed by the mount's accessor, so tune and remount keep them; each
 * run is given the mount as it is then (a reference held for the call).
 *
 * Thread-safe. */
#ifndef TROVE_BACKGROUND_H
#define TROVE_BACKGROUND_H

#include <stdint.h>

struct mount;
struct mount_table;
struct scheduler;
struct background;

struct background *background_new(struct mount_table *t);
/* Stops every job (waiting for runs in progress) and frees. NULL is fine. */
void background_free(struct background *b);
/* The scheduler, for the server to inject the pool and the gate
 * (scheduler_set_submit, scheduler_set_gate). */
struct scheduler *background_scheduler(struct background *b);

/* Starts m's engine's periodic function, if it has one. */
int background_mount_start(struct background *b, const struct mount *m);
/* Stops every job of the mount with this accessor and waits for its run
 * in progress (unless called from that run). */
void background_mount_stop(struct background *b, const char *accessor);
/* Seal: stops every job, waits, and refuses new ones until open. */
void background_close(struct background *b);
void background_open(struct background *b);

/* For engines: runs fn(mount, arg) once, at unix time at_ms (milliseconds;
 * a time past means now), on a worker. arg_free(arg) (may be NULL) follows
 * the run, or the mount's disable or seal when it never ran; a run finds
 * the mount gone is skipped. TROVE_ERR_SEALED while sealed (arg stays the
 * caller's). */
int mount_schedule_at(struct mount *m, int64_t at_ms, void (*fn)(struct mount *m, void *arg), void *arg,
		      void (*arg_free)(void *arg));

#endif
