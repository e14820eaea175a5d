"""bench/ha/reads.py — KV reads served by the nodes of an HA cluster on
PostgreSQL: one node alone, then every node at once.

Starts a throwaway PostgreSQL 15 (tests/integration/pg_server.py's) and
NODES `trove server` processes on storage "postgresql" with ha_enabled
and `disable_performance_standby = false` (standbys serve reads), inits
and unseals them, mounts kv v2 on the active node, seals and unseals the
standbys (mount tables load at unseal), writes one secret, then runs wrk
(bench/ha/reads.lua, CONNECTIONS per node) for DURATION against:

  one:  the active node alone;
  all:  every node at once (one wrk per node, started together).

    /usr/bin/python3 bench/ha/reads.py
    NODES=3 DURATION=5s CONNECTIONS=16 TROVE_BIN=build/trove /usr/bin/python3 bench/ha/reads.py

Prints reads/s per node and the aggregate, and any answer that was not
200 (a 307 means the standby did not serve the read). Benchmarks report;
they do not fail.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from pg_server import PgServer, available  # noqa: E402
from trove_harness import free_port  # noqa: E402

TROVE = os.environ.get("TROVE_BIN", str(ROOT / "build" / "trove"))
NODES = int(os.environ.get("NODES", "3"))
DURATION = os.environ.get("DURATION", "5s")
WARMUP = os.environ.get("WARMUP", "1s")
CONNECTIONS = os.environ.get("CONNECTIONS", "16")


class Node:
    def __init__(self, top, pg, i):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cfg = top / f"node{i}.hcl"
        self.log = top / f"node{i}.log"
        self.cfg.write_text(
            f'storage "postgresql" {{\n  connection_url = "{pg.url()}"\n  ha_enabled = true\n}}\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{self.port}"\n  tls_disable = true\n}}\n'
            f'api_addr = "{self.url}"\ncluster_addr = "https://127.0.0.1:{free_port()}"\n'
            "disable_mlock = true\ndisable_performance_standby = false\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([TROVE, "server", "-config", str(self.cfg)], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/v1/sys/health", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.05)
        raise SystemExit(f"bench: {self.url} did not start (see {self.log})")

    def unseal(self, keys):
        for k in keys:
            requests.put(self.url + "/v1/sys/unseal", json={"key": k}, timeout=10)

    def is_active(self):
        try:
            return requests.get(self.url + "/v1/sys/leader", timeout=1).json()["is_self"]
        except (requests.RequestException, ValueError, KeyError):
            return False


def wrk(url, duration):
    return subprocess.Popen(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}", "-s", "bench/ha/reads.lua", url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)


def rate(out):
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"non200=(\d+)", out)
    return float(m.group(1)) if m else 0.0, int(bad.group(1)) if bad else -1


def start_cluster(top, pg, count):
    """count nodes started (appended to the list returned at once, so a
    caller's cleanup sees them), inited and unsealed: (nodes, keys, token,
    active)."""
    nodes = [Node(top, pg, i) for i in range(count)]
    body = requests.put(nodes[0].url + "/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1},
                        timeout=30).json()
    keys, token = body["keys"], body["root_token"]
    for n in nodes:
        n.unseal(keys)
    deadline = time.monotonic() + 30
    while not any(n.is_active() for n in nodes) and time.monotonic() < deadline:
        time.sleep(0.05)
    return nodes, keys, token, next(n for n in nodes if n.is_active())


def stop_cluster(nodes, pg, top):
    for n in nodes:
        if n.proc.poll() is None:
            n.proc.terminate()
            n.proc.wait(30)
    pg.stop()
    if not os.environ.get("KEEP"):
        shutil.rmtree(top, ignore_errors=True)


def bench_dir(prefix):
    """Checks what a run needs; a temporary directory and a PostgreSQL."""
    if not available():
        sys.exit("bench: PostgreSQL 15 server binaries are not installed")
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk not found")
    top = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(top, 0o755)
    return top, PgServer(top / "pg").start()


def main():
    top, pg = bench_dir("trove-ha-reads-")
    nodes = []
    try:
        nodes, keys, token, active = start_cluster(top, pg, NODES)
        h = {"X-Vault-Token": token}
        requests.post(active.url + "/v1/sys/mounts/kv", headers=h, json={"type": "kv", "options": {"version": "2"}},
                      timeout=30).raise_for_status()
        requests.post(active.url + "/v1/kv/data/bench", headers=h, json={"data": {"v": "x" * 100}},
                      timeout=30).raise_for_status()
        for n in nodes:
            if n is not active:
                requests.put(n.url + "/v1/sys/seal", headers=h, timeout=30)
                n.unseal(keys)
        os.environ["TROVE_TOKEN"] = token
        wrk(active.url, WARMUP).communicate()
        one, bad = rate(wrk(active.url, DURATION).communicate()[0])
        print(f"one node (active): {one:,.0f} reads/s (non-200: {bad})", flush=True)
        runs = [(n, wrk(n.url, DURATION)) for n in nodes]
        total = 0.0
        for n, p in runs:
            r, bad = rate(p.communicate()[0])
            total += r
            print(f"  {'active ' if n is active else 'standby'} {n.url}: {r:,.0f} reads/s (non-200: {bad})")
        print(f"all {len(nodes)} nodes at once: {total:,.0f} reads/s, {total / one if one else 0:.2f}x one node")
    finally:
        stop_cluster(nodes, pg, top)


if __name__ == "__main__":
    main()
