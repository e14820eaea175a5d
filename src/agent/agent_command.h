/* agent_command.h — the command a template runs after its file changed.
 *
 * The command runs in a process group of its own, with stdin from
 * /dev/null, stdout and stderr captured together, the signal mask and
 * dispositions reset (the agent blocks signals for its signalfd), and the
 * agent's environment. When it outlives its timeout the whole group gets
 * SIGTERM, then SIGKILL two seconds later. Only the child made here is
 * waited for (by its pid), never any other child of the agent. */
#ifndef TROVE_AGENT_COMMAND_H
#define TROVE_AGENT_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define AGENT_COMMAND_KILL_GRACE_MS 2000L

/* Runs argv (argc > 0 elements; shell: argv[0] is given to /bin/sh -c and
 * the rest are ignored; otherwise argv[0] is looked up in PATH) and waits
 * for it at most timeout_ms (> 0), or until stop_fd (-1: none; the
 * agent's wake pipe, never read here) becomes readable, which ends it as
 * a timeout does. Its output is appended to out up to
 * out's cap (the rest is read and dropped). Returns 0 when it exited with
 * status 0; TROVE_ERR_TIMEOUT when it was killed for its timeout;
 * TROVE_ERR_UPSTREAM when it exited non-zero or died of a signal;
 * TROVE_ERR_IO when it could not be started. err says which. */
int agent_command_run(char *const *argv, size_t argc, bool shell, long timeout_ms, int stop_fd, struct buf *out,
                      struct buf *err);

#endif
