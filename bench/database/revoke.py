"""bench/database/revoke.py URL TOKEN PG_SOCKET_DIR PG_PORT N CONCURRENCY —
revocation throughput: reads N credentials of the role `bench-rev` (over
CONCURRENCY keep-alive connections), then makes all their leases due at
once (`sys/leases/revoke-prefix/database/creds/bench-rev`, sync=false: the
expiration manager's workers revoke them as they do expired leases) and
times until none of the users is left in pg_roles. Prints
"failed=N created=N create_rate=R revoked=N revoke_rate=R left=N"."""

import http.client
import json
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse

url, token, sock_dir, port = sys.argv[1:5]
n, conc = int(sys.argv[5]), int(sys.argv[6])
u = urlparse(url)
LIKE = "v-root-bench-re-%"  # the default username template: role name cut to 8
POLL_S = 0.2
TIMEOUT_S = 1800


def users_left():
    r = subprocess.run(["psql", "-X", "-h", sock_dir, "-p", port, "-U", "postgres", "-d", "postgres", "-Atc",
                        f"SELECT count(*) FROM pg_roles WHERE rolname LIKE '{LIKE}'"],
                       capture_output=True, text=True, check=True)
    return int(r.stdout.strip())


def worker(count, errors):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    for _ in range(count):
        c.request("GET", "/v1/database/creds/bench-rev", headers={"X-Vault-Token": token})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            errors.append(f"{r.status} {body[:200]!r}")
    c.close()


errors = []
before = users_left()
t0 = time.monotonic()
threads = [threading.Thread(target=worker, args=(n // conc + (i < n % conc), errors)) for i in range(conc)]
for t in threads:
    t.start()
for t in threads:
    t.join()
t1 = time.monotonic()
made = users_left() - before
if errors:
    print(f"bench: WARNING: {len(errors)} creds reads failed, first: {errors[0]}", file=sys.stderr)

c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
t2 = time.monotonic()
c.request("PUT", "/v1/sys/leases/revoke-prefix/database/creds/bench-rev",
          body=json.dumps({"sync": False}), headers={"X-Vault-Token": token})
r = c.getresponse()
r.read()
if r.status not in (200, 204):
    sys.exit(f"bench: revoke-prefix answered {r.status}")
left = made
while left > 0 and time.monotonic() - t2 < TIMEOUT_S:
    time.sleep(POLL_S)
    left = users_left() - before
t3 = time.monotonic()
print(f"failed={len(errors)} created={made} create_rate={made / (t1 - t0):.1f} revoked={made - left} "
      f"revoke_rate={(made - left) / (t3 - t2):.1f} left={left}")
