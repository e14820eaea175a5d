/* mount_gate.h — the requests running on one mount, and the mark that
 * stops new ones while the mount is being disabled.
 *
 * Disabling a mount revokes what it issued and then removes it. A request
 * that is still running (a login about to mint a token) could otherwise
 * issue something after the revocation and before the removal, and that
 * would outlive the mount. So the disable first closes the gate (new
 * requests are refused and the ones inside are waited for), then revokes,
 * then removes; if revocation fails it opens the gate again and the mount
 * is usable as before.
 *
 * A gate is shared by every copy of one mount (tune and remount replace
 * the mount object with a clone) and refcounted. All functions are
 * thread-safe. */
#ifndef TROVE_MOUNT_GATE_H
#define TROVE_MOUNT_GATE_H

#include <stdbool.h>

struct mount_gate;

/* A new open gate with one reference. Aborts on OOM. */
struct mount_gate *mount_gate_new(void);
void mount_gate_ref(struct mount_gate *g);
/* Drops a reference; the last frees. NULL is fine. */
void mount_gate_release(struct mount_gate *g);

/* A request starts on the mount: false (nothing entered) when the gate is
 * closed; true otherwise, and the caller must mount_gate_leave. */
bool mount_gate_enter(struct mount_gate *g);
void mount_gate_leave(struct mount_gate *g);

/* Closes the gate and waits up to timeout_ms for the requests inside to
 * leave. 0: closed and empty. TROVE_ERR_CONFLICT: another caller has it
 * closed already. TROVE_ERR_TIMEOUT: requests still inside; the gate is
 * open again. */
int mount_gate_close(struct mount_gate *g, unsigned timeout_ms);
/* Opens a gate closed by mount_gate_close (its revocation failed). */
void mount_gate_open(struct mount_gate *g);

#endif
