"""Adversarial regression suite: the holes found at the edges, each with a
test that failed before its fix.

Every section names the item it guards. Each test starts the real server
and attacks it the way a client holding the named token (or none) could:
host paths through audit options, non-canonical names and parameters that
slip past a policy, durations that overflow, bodies that flood the loop,
login floods, and the smaller holes. The denied form is tested as
carefully as the allowed one."""

import json
import os
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from trove_harness import assert_error, raw_http, run_cli, status_of


# ---------------------------------------------------------------------------
# 1-2. Audit devices: where a file device may write, and enabling one that
#      cannot record.
# ---------------------------------------------------------------------------

# (end of section: audit)


# ---------------------------------------------------------------------------
# 3-4. Canonicalise, then authorise: parameter constraints see canonical
#      values; names in paths are canonical or refused.
# ---------------------------------------------------------------------------

# (end of section: canonical)


# ---------------------------------------------------------------------------
# 5-6. Secrets in URL paths; durations that overflow.
# ---------------------------------------------------------------------------

# (end of section: paths and durations)


# ---------------------------------------------------------------------------
# 7-8. Bodies: parsed after routing, bounded, and 413 readable.
# ---------------------------------------------------------------------------

def bodies_stalled_audit(srv, root, write_timeout):
    """Enables a socket audit device whose peer never reads: once its
    buffers are full, every audited request waits write_timeout in the
    device. Returns the listening socket (keep it open)."""
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(1)
    addr = "127.0.0.1:%d" % stalled.getsockname()[1]
    r = srv.request("PUT", "/v1/sys/audit/stall", token=root,
                    json={"type": "socket", "options": {"address": addr, "write_timeout": write_timeout}})
    assert r.status_code == 204, r.text
    return stalled


@pytest.mark.time_limit(120)
def test_bodies_timeout_answers_504_while_workers_still_run(config_server):
    """Item 10: the loop answers 504 from what it copied at hand-off while
    the workers still own the requests; run under ASan this is the stress
    for the timer path (the job is freed only when its worker is done)."""
    srv = config_server(listener_extra="max_request_duration = \"1s\"")
    root = srv.init(shares=1, threshold=1)["root_token"]
    srv.unseal()
    stalled = bodies_stalled_audit(srv, root, "3s")
    # 2,000 hashed leaves make entries of about 160 KB: the buffers fill
    # after a few requests and the next ones wait in the device.
    body = {f"k{i}": "v" for i in range(2000)}
    seen = []
    for i in range(50):
        r = srv.request("POST", f"/v1/cubbyhole/fill{i}", token=root, json=body)
        seen.append(r.status_code)
        if r.status_code == 504:
            break
    assert seen[-1] == 504, seen
    results = []

    def one(i):
        t0 = time.monotonic()
        r = srv.request("PUT" if i % 2 else "POST", f"/v1/cubbyhole/slow{i}", token=root, json=body)
        results.append((r.status_code, r.json(), r.headers.get("Content-Type"), time.monotonic() - t0))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    for status, js, ctype, elapsed in results:
        assert status == 504, results
        assert js == {"errors": ["request exceeded max_request_duration"]}
        assert ctype == "application/json"
        assert elapsed < 2.5  # the timer answered, not the worker
    time.sleep(4)  # the workers finish after their clients were answered
    assert srv.get("/v1/sys/health").status_code == 200
    assert srv.proc.running
    stalled.close()
    # Under a ThreadSanitizer build (TROVE_BIN built with
    # -Db_sanitize=thread) the timer path must not race with the workers.
    races = [r for r in srv.proc.stderr_text().split("WARNING: ThreadSanitizer")[1:]
             if "on_duration_exceeded" in r]
    assert not races, races[0][:3000]


# (end of section: bodies)


# ---------------------------------------------------------------------------
# 9-10. Login floods, lockouts and the smaller holes.
# ---------------------------------------------------------------------------

# (end of section: logins and small holes)


# ---------------------------------------------------------------------------
# 11. Storage rollback.
# ---------------------------------------------------------------------------

# (end of section: rollback)


# ---------------------------------------------------------------------------
# Compatibility defects found by real clients.
# ---------------------------------------------------------------------------

# (end of section: compatibility)
