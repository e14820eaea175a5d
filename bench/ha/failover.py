"""bench/ha/failover.py — how long an HA cluster on PostgreSQL goes
without an active node after the active one is killed (kill -9).

Starts a throwaway PostgreSQL 15 (tests/integration/pg_server.py's) and
NODES `trove server` processes on storage "postgresql" with
ha_enabled, the default lock timings unless TROVE_HA_LOCK_TTL_MS /
TROVE_HA_RETRY_MS are set, inits and unseals them. Then, KILLS times:
find the active node, kill -9 it, and measure the time until another
node answers sys/leader with is_self (polled every 10 ms); restart the
killed node, unseal it, and wait until it reports a standby.

    /usr/bin/python3 bench/ha/failover.py
    KILLS=20 NODES=3 TROVE_BIN=build/trove /usr/bin/python3 bench/ha/failover.py

Prints each failover and min / median / p95 / max, in seconds.
Benchmarks report; they do not fail.
"""

import os
import shutil
import signal
import statistics
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
KILLS = int(os.environ.get("KILLS", "20"))
NODES = int(os.environ.get("NODES", "3"))


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
            "disable_mlock = true\n")
        self.proc = None

    def start(self):
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

    def leader(self):
        try:
            return requests.get(self.url + "/v1/sys/leader", timeout=1).json()
        except (requests.RequestException, ValueError):
            return None

    def unseal(self, keys):
        for k in keys:
            requests.put(self.url + "/v1/sys/unseal", json={"key": k}, timeout=10)


def main():
    if not available():
        sys.exit("bench: PostgreSQL 15 server binaries are not installed")
    top = Path(tempfile.mkdtemp(prefix="trove-ha-bench-"))
    os.chmod(top, 0o755)
    pg = PgServer(top / "pg").start()
    nodes = [Node(top, pg, i) for i in range(NODES)]
    times = []
    try:
        for n in nodes:
            n.start()
        body = requests.put(nodes[0].url + "/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1},
                            timeout=30).json()
        keys = body["keys"]
        for n in nodes:
            n.unseal(keys)
        for k in range(KILLS):
            active = None
            while active is None:
                for n in nodes:
                    b = n.leader()
                    if b and b["is_self"]:
                        active = n
                time.sleep(0.01)
            t0 = time.monotonic()
            active.proc.send_signal(signal.SIGKILL)
            active.proc.wait()
            others = [n for n in nodes if n is not active]
            new = None
            while new is None:
                for n in others:
                    b = n.leader()
                    if b and b["is_self"]:
                        new = n
                        break
                time.sleep(0.01)
            took = time.monotonic() - t0
            times.append(took)
            print(f"kill {k + 1:2d}: new active after {took:.3f} s", flush=True)
            active.start()
            active.unseal(keys)
            while (active.leader() or {}).get("leader_address") != new.url:
                time.sleep(0.05)
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
        print(f"failover over {len(times)} kills (s): min {times[0]:.3f}  median {statistics.median(times):.3f}"
              f"  p95 {p95:.3f}  max {times[-1]:.3f}")
    finally:
        for n in nodes:
            if n.proc and n.proc.poll() is None:
                n.proc.terminate()
                n.proc.wait(30)
        pg.stop()
        if not os.environ.get("KEEP"):
            shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
