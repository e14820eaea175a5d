"""bench/ha/forward.py — KV writes through a standby (forwarded to the
active node over cluster_addr) against the same writes sent to the active
node itself.

Starts a throwaway PostgreSQL 15 and NODES `trove server` nodes as
bench/ha/reads.py does (its start_cluster), inits and unseals them, mounts kv v2 on
the active node, then runs wrk (bench/ha/writes.lua: `POST
/v1/kv/data/bench-w`, CONNECTIONS connections) for DURATION against the
active node, then against a standby, ROUNDS times alternated.

    /usr/bin/python3 bench/ha/forward.py
    NODES=2 DURATION=5s CONNECTIONS=16 ROUNDS=2 /usr/bin/python3 bench/ha/forward.py

Prints writes/s and any answer that was not 200 (a 307 means the standby
redirected rather than forwarded). Benchmarks report; they do not fail.
"""

import os
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from reads import bench_dir, rate, start_cluster, stop_cluster  # noqa: E402

NODES = int(os.environ.get("NODES", "2"))
DURATION = os.environ.get("DURATION", "5s")
WARMUP = os.environ.get("WARMUP", "1s")
CONNECTIONS = os.environ.get("CONNECTIONS", "16")
ROUNDS = int(os.environ.get("ROUNDS", "2"))


def wrk(url, duration):
    out = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}", "-s", "bench/ha/writes.lua", url],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT).stdout
    return rate(out)


def main():
    top, pg = bench_dir("trove-ha-forward-")
    nodes = []
    try:
        nodes, _, token, active = start_cluster(top, pg, NODES)
        standby = next(n for n in nodes if n is not active)
        requests.post(active.url + "/v1/sys/mounts/kv", headers={"X-Vault-Token": token},
                      json={"type": "kv", "options": {"version": "2"}}, timeout=30).raise_for_status()
        os.environ["TROVE_TOKEN"] = token
        wrk(active.url, WARMUP)
        wrk(standby.url, WARMUP)
        for i in range(ROUNDS):
            for name, n in (("direct to the active", active), ("through a standby", standby)):
                r, bad = wrk(n.url, DURATION)
                print(f"round {i + 1}: {name}: {r:,.0f} writes/s (non-200: {bad})", flush=True)
    finally:
        stop_cluster(nodes, pg, top)


if __name__ == "__main__":
    main()
