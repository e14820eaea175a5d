#!/usr/bin/env python3
"""bench/operator/bench.py — trove secrets-operator with many resources.

Starts the Kubernetes API stand-in (tests/integration/kube_apiserver.py)
with the CRDs, a real `trove server -dev` with the kubernetes auth method
reviewing tokens against the stand-in and N KV v2 secrets, a VaultConnection
and a VaultAuth "default" in the operator's namespace, and the operator.
Then it applies N VaultStaticSecrets spread over NAMESPACES namespaces
(each with refreshAfter REFRESH_AFTER) and reports:

  - the time from the first apply to every destination Secret present;
  - the operator's resident memory (VmRSS, peak VmHWM) and threads, once
    synced and after STEADY_SECONDS of steady state;
  - the requests a second it sends to Trove and to the API server over
    STEADY_SECONDS of steady state (from one refreshAfter after the sync),
    beside the floor refreshAfter implies (N / refreshAfter);
  - where the resident pages are (/proc/PID/smaps: heap, libraries);
  - with RESTART=1 (the default), the same operator restarted with the N
    resources present — its first lists carry them all — and its RSS once
    each was reconciled again;
  - whether RSS stays within the issue's target, 20 MB (20,000,000 bytes;
    TARGET_BYTES to change it); CHECK_TARGET=1 exits 1 when it does not.

    python3 bench/operator/bench.py              # TROVE_BIN defaults to build/trove
    N=200 NAMESPACES=10 STEADY_SECONDS=30 python3 bench/operator/bench.py
"""

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "bench" / "agent"))

import kube_tools  # noqa: E402
from agent_proc import wait_for  # noqa: E402
from footprint import by_object, free_port, kib, status  # noqa: E402
from kube_apiserver import KubeAPIServer, Rule  # noqa: E402

TROVE = os.environ.get("TROVE_BIN", str(ROOT / "build" / "trove"))
N = int(os.environ.get("N", "1000"))
NAMESPACES = int(os.environ.get("NAMESPACES", "50"))
STEADY = int(os.environ.get("STEADY_SECONDS", "60"))
REFRESH = os.environ.get("REFRESH_AFTER", "60s")
WORKERS = os.environ.get("WORKERS", "4")
RESTART = os.environ.get("RESTART", "1") == "1"
TARGET = int(os.environ.get("TARGET_BYTES", "20000000"))
CHECK_TARGET = os.environ.get("CHECK_TARGET") == "1"
VSO = "secrets.hashicorp.com/v1beta1"
OP_NS = "trove"


def mib(v):
    return kib(v) / 1024


def seconds(s):
    units = {"s": 1, "m": 60, "h": 3600}
    return float(s[:-1]) * units[s[-1]] if s[-1] in units else float(s)


def metrics(port):
    out = {}
    for line in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def main():
    work = Path(tempfile.mkdtemp(prefix="bench-operator-"))
    procs = []
    (work / "kube").mkdir()
    api = KubeAPIServer(work / "kube").start()
    try:
        kubeconfig = api.write_kubeconfig(work / "kubeconfig", namespace=OP_NS)
        kube_tools.run("kubectl", ["apply", "-f", str(ROOT / "deploy" / "helm" / "trove" / "crds")],
                       kubeconfig=kubeconfig)
        api.namespace(OP_NS)

        # Trove, with kubernetes auth reviewing against the stand-in.
        port, root = free_port(), "bench-" + secrets.token_hex(8)
        trove_url = f"http://127.0.0.1:{port}"
        procs.append(subprocess.Popen([TROVE, "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}",
                                       f"-dev-root-token-id={root}"], stdout=subprocess.DEVNULL,
                                      stderr=open(work / "trove.log", "wb")))
        s = requests.Session()
        s.headers["X-Vault-Token"] = root
        wait_for(lambda: _up(s, trove_url), 30, "trove")
        api.service_account(OP_NS, "reviewer")
        api.allow(f"system:serviceaccount:{OP_NS}:reviewer",
                  Rule(["create"], ["tokenreviews"], groups=["authentication.k8s.io"]))
        reviewer = _token(api, OP_NS, "reviewer", None, 3600)
        _ok(s.post(f"{trove_url}/v1/sys/auth/kubernetes", json={"type": "kubernetes"}))
        _ok(s.post(f"{trove_url}/v1/auth/kubernetes/config",
                   json={"kubernetes_host": api.url, "kubernetes_ca_cert": api.ca_pem,
                         "token_reviewer_jwt": reviewer}))
        _ok(s.put(f"{trove_url}/v1/sys/policies/acl/bench",
                  json={"policy": 'path "secret/data/bench/*" { capabilities = ["read"] }'}))
        _ok(s.post(f"{trove_url}/v1/auth/kubernetes/role/app",
                   json={"bound_service_account_names": ["default"], "bound_service_account_namespaces": ["*"],
                         "audience": "trove", "token_policies": ["bench"], "token_ttl": "1h"}))
        for i in range(N):
            _ok(s.post(f"{trove_url}/v1/secret/data/bench/s{i}", json={"data": {"password": secrets.token_hex(8)}}))
        namespaces = [f"bench-{j:02d}" for j in range(NAMESPACES)]
        for ns in namespaces:
            api.service_account(ns, "default")
        api.create(VSO, "vaultconnections", OP_NS, {
            "apiVersion": VSO, "kind": "VaultConnection", "metadata": {"name": "default", "namespace": OP_NS},
            "spec": {"address": trove_url}})
        api.create(VSO, "vaultauths", OP_NS, {
            "apiVersion": VSO, "kind": "VaultAuth", "metadata": {"name": "default", "namespace": OP_NS},
            "spec": {"method": "kubernetes", "mount": "kubernetes", "allowedNamespaces": ["*"],
                     "kubernetes": {"role": "app", "serviceAccount": "default", "audiences": ["trove"]}}})

        # The operator.
        mport, pport = free_port(), free_port()

        def start_operator(log):
            p = subprocess.Popen([TROVE, "secrets-operator", "-kubeconfig", kubeconfig, "-operator-namespace", OP_NS,
                                  "-metrics-bind-address", f"127.0.0.1:{mport}",
                                  "-health-probe-bind-address", f"127.0.0.1:{pport}",
                                  "-max-concurrent-reconciles", WORKERS, "-log-level", "warn"],
                                 stdout=subprocess.DEVNULL, stderr=open(work / log, "wb"))
            procs.append(p)
            wait_for(lambda: _ready(pport), 60, "the operator's /readyz")
            return p

        op = start_operator("operator.log")
        idle = status(op.pid)

        # Apply, then wait for every Secret.
        t0 = time.monotonic()
        for i in range(N):
            ns = namespaces[i % NAMESPACES]
            api.create(VSO, "vaultstaticsecrets", ns, {
                "apiVersion": VSO, "kind": "VaultStaticSecret", "metadata": {"name": f"s{i}", "namespace": ns},
                "spec": {"type": "kv-v2", "mount": "secret", "path": f"bench/s{i}", "refreshAfter": REFRESH,
                         "destination": {"name": f"s{i}", "create": True}}})
        applied = time.monotonic() - t0

        def present():
            n = sum(1 for o in api.list("v1", "secrets") if o["metadata"]["name"].startswith("s")
                    and o["metadata"]["namespace"].startswith("bench-"))
            return n >= N

        wait_for(present, 600, f"{N} Secrets")
        synced = time.monotonic() - t0
        after_sync = status(op.pid)

        # Steady state: from one refreshAfter after the sync (the first wave
        # of refreshes spread out), for STEADY seconds.
        time.sleep(max(0.0, seconds(REFRESH) - (time.monotonic() - t0 - synced)))
        m0, k0 = metrics(mport), len(api.requests)
        time.sleep(STEADY)
        m1, k1 = metrics(mport), len(api.requests)
        steady = status(op.pid)
        objects = by_object(op.pid)
        vault = m1.get("trove_operator_vault_requests_total", 0) - m0.get("trove_operator_vault_requests_total", 0)
        errors = (m1.get("trove_operator_vault_request_errors_total", 0)
                  - m0.get("trove_operator_vault_request_errors_total", 0))

        restarted = None
        if RESTART:
            op.terminate()
            op.wait(30)
            t1 = time.monotonic()
            op = start_operator("operator-restarted.log")
            reconciled = 'trove_operator_reconciles_total{kind="VaultStaticSecret"}'
            wait_for(lambda: metrics(mport).get(reconciled, 0) >= N, 600, f"{N} reconciles after the restart")
            resynced = time.monotonic() - t1
            time.sleep(5)
            restarted = status(op.pid)

        print(f"secrets-operator: {N} VaultStaticSecrets in {NAMESPACES} namespaces, refreshAfter {REFRESH}, "
              f"{WORKERS} workers")
        print(f"  applied in            {applied:8.2f} s")
        print(f"  all Secrets present   {synced:8.2f} s after the first apply ({N / synced:.0f} a second)")
        print(f"  RSS idle (synced, 0)  {mib(idle['VmRSS']):8.1f} MiB")
        print(f"  RSS after sync        {mib(after_sync['VmRSS']):8.1f} MiB (peak {mib(after_sync['VmHWM']):.1f} MiB)")
        print(f"  RSS steady            {mib(steady['VmRSS']):8.1f} MiB (peak {mib(steady['VmHWM']):.1f} MiB), "
              f"{steady['Threads']} threads")
        print(f"    of which anonymous  {mib(steady['RssAnon']):8.1f} MiB (idle {mib(idle['RssAnon']):.1f}), "
              f"file-backed {mib(steady['RssFile']):.1f} MiB")
        print(f"    resident by object (KiB, of which anonymous): "
              + ", ".join(f"{k} {v[0]} ({v[1]})" for k, v in list(objects.items())[:8]))
        print(f"  to Trove, steady      {vault / STEADY:8.2f} req/s over {STEADY} s "
              f"(floor N/refreshAfter = {N / seconds(REFRESH):.2f}); {errors:.0f} errors")
        print(f"  to the API server     {(k1 - k0) / STEADY:8.2f} req/s")
        rss = [steady]
        if restarted:
            rss.append(restarted)
            print(f"  restarted with {N}: every one reconciled {resynced:.2f} s after the stop; "
                  f"RSS {mib(restarted['VmRSS']):.1f} MiB (peak {mib(restarted['VmHWM']):.1f} MiB, "
                  f"anonymous {mib(restarted['RssAnon']):.1f} MiB)")
        worst = max(kib(r["VmRSS"]) for r in rss) * 1024
        print(f"  target RSS <= {TARGET / 1e6:.0f} MB ({TARGET / 1048576:.2f} MiB): "
              + (f"met ({worst / 1e6:.1f} MB at most)" if worst <= TARGET
                 else f"NOT met ({worst / 1e6:.1f} MB, over by {(worst - TARGET) / 1e6:.1f} MB)"))
        if CHECK_TARGET and worst > TARGET:
            sys.exit(1)
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        api.stop()


def _up(s, url):
    try:
        return s.get(f"{url}/v1/sys/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _ready(port):
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _ok(r):
    if r.status_code >= 300:
        raise SystemExit(f"{r.request.method} {r.url}: {r.status_code} {r.text}")
    return r


def _token(api, ns, sa, audiences, seconds_):
    import json as _json
    import urllib.request
    import ssl

    body = {"spec": {"expirationSeconds": seconds_}}
    if audiences:
        body["spec"]["audiences"] = audiences
    ctx = ssl.create_default_context(cadata=api.ca_pem)
    req = urllib.request.Request(f"{api.url}/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
                                 data=_json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {api.admin_token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx) as r:
        return _json.loads(r.read())["status"]["token"]


if __name__ == "__main__":
    main()
