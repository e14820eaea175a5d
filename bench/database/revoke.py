"""bench/database/revoke.py URL TOKEN PG_SOCKET_DIR PG_PORT N CONCURRENCY —
revocation throughput: reads N credentials of the role `bench-rev` (over
CONCURRENCY keep-alive connections), then makes all their leases due at
once (`sys/leases/revoke-prefix/database/creds/bench-rev`, sync=false: the
expiration manager's workers revoke them as they do expired leases) and
times until none of the users is left in pg_roles. Prints
"failed=N created=N create_rate=R revoked=N revoke_rate=R left=N".

revoke.py URL TOKEN PG_SOCKET_DIR PG_PORT clean ROLE — the same
revocation for every lease of ROLE, waited for, nothing printed (to end
one phase's users before the next)."""

import http.client
import json
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse

url, token, sock_dir, port = sys.argv[1:5]
u = urlparse(url)
POLL_S = 0.2
TIMEOUT_S = 1800
STALL_S = 15


def like(role):
    """The default username template's users of role: v-<display>-<role, 8>-..."""
    return f"v-root-{role[:8]}-%"


def users_left(role):
    r = subprocess.run(["psql", "-X", "-h", sock_dir, "-p", port, "-U", "postgres", "-d", "postgres", "-Atc",
                        f"SELECT count(*) FROM pg_roles WHERE rolname LIKE '{like(role)}'"],
                       capture_output=True, text=True, check=True)
    return int(r.stdout.strip())


def revoke_prefix(role):
    """PUT sys/leases/revoke-prefix/database/creds/<role>, sync=false."""
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    c.request("PUT", f"/v1/sys/leases/revoke-prefix/database/creds/{role}",
              body=json.dumps({"sync": False}), headers={"X-Vault-Token": token})
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status not in (200, 204):
        print(f"bench: WARNING: revoke-prefix answered {r.status} {body[:200]!r}; asking again when "
              f"revocation stalls", file=sys.stderr)


def revoke_all(role, before=0):
    """Makes every lease of role due now; waits until its users are gone,
    asking again when none went for STALL_S (a revoke-prefix that did not
    answer in time may not have reached every lease). Returns (seconds,
    users left)."""
    t0 = time.monotonic()
    revoke_prefix(role)
    left = users_left(role) - before
    last_change = time.monotonic()
    while left > 0 and time.monotonic() - t0 < TIMEOUT_S:
        time.sleep(POLL_S)
        now_left = users_left(role) - before
        if now_left != left:
            last_change = time.monotonic()
        elif time.monotonic() - last_change > STALL_S:
            revoke_prefix(role)
            last_change = time.monotonic()
        left = now_left
    return time.monotonic() - t0, left


def worker(count, errors):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    for _ in range(count):
        c.request("GET", "/v1/database/creds/bench-rev", headers={"X-Vault-Token": token})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            errors.append(f"{r.status} {body[:200]!r}")
    c.close()


if sys.argv[5] == "clean":
    revoke_all(sys.argv[6])
    sys.exit(0)
n, conc = int(sys.argv[5]), int(sys.argv[6])
errors = []
before = users_left("bench-rev")
t0 = time.monotonic()
threads = [threading.Thread(target=worker, args=(n // conc + (i < n % conc), errors)) for i in range(conc)]
for t in threads:
    t.start()
for t in threads:
    t.join()
t1 = time.monotonic()
made = users_left("bench-rev") - before
if errors:
    print(f"bench: WARNING: {len(errors)} creds reads failed, first: {errors[0]}", file=sys.stderr)
secs, left = revoke_all("bench-rev", before)
print(f"failed={len(errors)} created={made} create_rate={made / (t1 - t0):.1f} revoked={made - left} "
      f"revoke_rate={(made - left) / secs:.1f} left={left}")
