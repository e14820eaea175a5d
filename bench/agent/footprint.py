#!/usr/bin/env python3
"""bench/agent/footprint.py — the agent's memory and idle wake-ups.

Starts a server — `trove server -dev` over HTTP, then one with a TLS
listener (a throwaway CA made with openssl) — an AppRole and two KV v2
secrets, then
`trove agent` with AppRole auto-auth, a file sink, two templates and the
API proxy with its cache on, as a sidecar would run it. Once both
templates rendered and one request went through the proxy, it waits
REST_WAIT seconds (12) for the agent to give back what that work touched
(src/agent/agent_rest.h: after 5 s with no work), then reports its
resident memory at rest (VmRSS, split into anonymous and file-backed
pages), its threads, and over IDLE_SECONDS of no change its wake-ups
(context switches of all its threads) and CPU time. Then WORK_REQUESTS
(20) requests through the proxy, each forwarded to the server, give the
resident memory at work, and the peak is the highest of VmHWM and those
samples (VmHWM alone misses some of it once pages were given back). Beside them: the
floor of any process on this machine (`sleep`), and `trove version` (the
binary and its libraries mapped, nothing run).

It also says where the resident pages are, object by object from
/proc/PID/smaps (the binary, each library, heap, stacks and other
anonymous memory; file-backed and anonymous), with the proportional and
private figures of smaps_rollup (PSS, USS: pages shared with other
processes counted in part or not at all), and whether VmRSS at rest is within
the issue's target of 5 MB (5,000,000 bytes, 4.77 MiB; TARGET_KB to
change it). With CHECK_TARGET=1 it exits 1 when a scheme is over; with
KEEP=1 it keeps its scratch directory (configs, logs, data).

    python3 bench/agent/footprint.py            # TROVE_BIN defaults to build/trove
    IDLE_SECONDS=60 SCHEMES="http https" python3 bench/agent/footprint.py
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
TROVE = os.environ.get("TROVE_BIN", str(ROOT / "build" / "trove"))
IDLE = int(os.environ.get("IDLE_SECONDS", "60"))
SCHEMES = os.environ.get("SCHEMES", "http https").split()
TARGET_KB = float(os.environ.get("TARGET_KB", 5_000_000 / 1024))  # 5 MB
CHECK_TARGET = os.environ.get("CHECK_TARGET") == "1"
REST_WAIT = float(os.environ.get("REST_WAIT", "12"))  # two quiet periods and a margin
WORK_REQUESTS = int(os.environ.get("WORK_REQUESTS", "20"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def status(pid):
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def kib(v):
    return int(v.split()[0])


def rollup(pid):
    """smaps_rollup's Pss and private pages (USS), KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        k, _, v = line.partition(":")
        out[k] = kib(v.strip())
    return {"pss_kib": out["Pss"], "uss_kib": out["Private_Clean"] + out["Private_Dirty"]}


def by_object(pid):
    """Resident KiB per backing object: {name: [rss, anonymous]}, the
    binary and libraries by file name, anonymous memory as the kernel
    names it ([heap], [stack]) or [anon] (thread stacks, mmap'd arenas)."""
    objs, name = {}, None
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first = line.split(None, 1)[0]
        if "-" in first and not first.endswith(":"):
            f = line.split()
            name = Path(f[5]).name if len(f) > 5 else "[anon]"
            objs.setdefault(name, [0, 0])
        elif first == "Rss:":
            objs[name][0] += kib(line.split(None, 1)[1])
        elif first == "Anonymous:":
            objs[name][1] += kib(line.split(None, 1)[1])
    return {k: v for k, v in sorted(objs.items(), key=lambda kv: -kv[1][0]) if v[0]}


def switches(pid):
    n = 0
    for t in Path(f"/proc/{pid}/task").iterdir():
        st = status(f"{pid}/task/{t.name}")
        n += int(st["voluntary_ctxt_switches"]) + int(st["nonvoluntary_ctxt_switches"])
    return n


def cpu_seconds(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_of(args):
    """Max RSS (KiB) of a short command, as /usr/bin/time measures it (from
    exec on; wait4's own figure would count this Python process, which the
    child was until it ran exec)."""
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *args], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, check=True)
    return int(p.stderr.strip().splitlines()[-1])


def tls_files(work):
    """A CA and a server certificate for 127.0.0.1, made with openssl."""
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(work / "ca.key"), "-out", str(work / "ca.pem"), "-days", "2", "-subj", "/CN=bench CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(work / "server.key"), "-out", str(work / "server.csr"), "-subj", "/CN=127.0.0.1")
    (work / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", str(work / "server.csr"), "-CA", str(work / "ca.pem"),
        "-CAkey", str(work / "ca.key"), "-CAcreateserial", "-out", str(work / "server.pem"), "-days", "2",
        "-extfile", str(work / "ext"))


def start_server(work, scheme, port):
    """Returns (process, url, root token, requests verify)."""
    if scheme == "http":
        root = "bench-" + secrets.token_hex(8)
        p = subprocess.Popen([TROVE, "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}",
                              f"-dev-root-token-id={root}"], stdout=subprocess.DEVNULL,
                             stderr=open(work / "server.log", "wb"))
        url = f"http://127.0.0.1:{port}"
        wait_up(url, True)
        return p, url, root, True
    tls_files(work)
    (work / "data").mkdir()
    (work / "server.hcl").write_text(f'''
storage "lmdb" {{ path = "{work}/data" }}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_cert_file = "{work}/server.pem"
  tls_key_file = "{work}/server.key"
}}
disable_mlock = true
''')
    p = subprocess.Popen([TROVE, "server", "-config", str(work / "server.hcl")], stdout=subprocess.DEVNULL,
                         stderr=open(work / "server.log", "wb"))
    url = f"https://127.0.0.1:{port}"
    verify = str(work / "ca.pem")
    wait_up(url, verify)
    init = requests.put(url + "/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1},
                        verify=verify, timeout=30).json()
    requests.put(url + "/v1/sys/unseal", json={"key": init["keys_base64"][0]}, verify=verify,
                 timeout=30).raise_for_status()
    requests.post(url + "/v1/sys/mounts/secret", json={"type": "kv", "options": {"version": "2"}},
                  headers={"X-Vault-Token": init["root_token"]}, verify=verify, timeout=30).raise_for_status()
    return p, url, init["root_token"], verify


def wait_up(url, verify):
    for _ in range(200):
        try:
            requests.get(url + "/v1/sys/health", timeout=1, verify=verify)
            return
        except requests.RequestException:
            time.sleep(0.05)
    sys.exit(f"the server at {url} did not answer")


def measure(scheme):
    work = Path(tempfile.mkdtemp(prefix="trove-agent-bench-"))
    port = free_port()
    server, url, root, verify = start_server(work, scheme, port)
    agent = None
    try:
        s = requests.Session()
        s.headers["X-Vault-Token"] = root
        s.verify = verify
        s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        s.post(url + "/v1/sys/auth/approle", json={"type": "approle"}).raise_for_status()
        s.put(url + "/v1/sys/policies/acl/app", json={"policy": 'path "secret/*" { capabilities = ["read"] }'})
        s.post(url + "/v1/auth/approle/role/app", json={"token_policies": ["app"], "token_ttl": "1h"})
        role_id = s.get(url + "/v1/auth/approle/role/app/role-id").json()["data"]["role_id"]
        secret_id = s.post(url + "/v1/auth/approle/role/app/secret-id").json()["data"]["secret_id"]
        for name in ("db", "api"):
            s.post(url + f"/v1/secret/data/{name}",
                   json={"data": {"username": name, "password": secrets.token_hex(16)}}).raise_for_status()
        (work / "role_id").write_text(role_id)
        (work / "secret_id").write_text(secret_id)
        proxy_port = free_port()
        (work / "agent.hcl").write_text(f'''
vault {{
  address = "{url}"
  {f'ca_cert = "{work}/ca.pem"' if scheme == "https" else ""}
}}
auto_auth {{
  method "approle" {{
    config = {{
      role_id_file_path = "{work}/role_id"
      secret_id_file_path = "{work}/secret_id"
      remove_secret_id_file_after_reading = false
    }}
  }}
  sink "file" {{ config = {{ path = "{work}/token" }} }}
}}
template {{
  contents = "{{{{ with secret \\"secret/data/db\\" }}}}{{{{ .Data.data.username }}}}:{{{{ .Data.data.password }}}}{{{{ end }}}}"
  destination = "{work}/db.txt"
}}
template {{
  contents = "{{{{ with secret \\"secret/data/api\\" }}}}{{{{ .Data.data | toJSON }}}}{{{{ end }}}}"
  destination = "{work}/api.json"
}}
listener "tcp" {{
  address = "127.0.0.1:{proxy_port}"
  tls_disable = true
}}
api_proxy {{ use_auto_auth_token = true }}
cache {{}}
''')
        agent = subprocess.Popen([TROVE, "agent", "-config", str(work / "agent.hcl")],
                                 stdout=subprocess.DEVNULL, stderr=open(work / "agent.log", "wb"))
        deadline = time.monotonic() + 30
        while not ((work / "db.txt").exists() and (work / "api.json").exists()):
            if agent.poll() is not None or time.monotonic() > deadline:
                sys.exit("the agent did not render its templates:\n" + (work / "agent.log").read_text())
            time.sleep(0.05)
        # one request through the proxy, so that its path has run too
        proxied = f"http://127.0.0.1:{proxy_port}/v1/secret/data/db"
        requests.get(proxied, timeout=5).raise_for_status()
        time.sleep(1)
        st = status(agent.pid)
        # the agent gives back what it touched once a quiet period passes
        # (src/agent/agent_rest.h): wait for it before counting wake-ups
        time.sleep(REST_WAIT)
        st_rest = status(agent.pid)
        sw0, cpu0, t0 = switches(agent.pid), cpu_seconds(agent.pid), time.monotonic()
        time.sleep(IDLE)
        sw1, cpu1, t1 = switches(agent.pid), cpu_seconds(agent.pid), time.monotonic()
        st_end = status(agent.pid)
        shares = rollup(agent.pid)
        objects = by_object(agent.pid)
        # then at work: requests through the proxy, each forwarded to the
        # server, and the resident memory right after them
        for _ in range(WORK_REQUESTS):
            requests.get(proxied, timeout=5).raise_for_status()
        st_work = status(agent.pid)
        minutes = (t1 - t0) / 60
        floor = peak_rss_of(["sleep", "0"])
        version = peak_rss_of([TROVE, "version"])
        res = {
            "scheme": scheme,
            "agent_vmrss_kib": kib(st_end["VmRSS"]),
            "agent_rss_anon_kib": kib(st_end["RssAnon"]),
            "agent_rss_file_kib": kib(st_end["RssFile"]),
            "agent_vmrss_at_work_kib": kib(st_work["VmRSS"]),
            # VmHWM is not kept up to date across pages given back with
            # MADV_DONTNEED: the highest of it and the samples taken
            "agent_peak_kib": max(kib(st_work["VmHWM"]), kib(st["VmRSS"]), kib(st_work["VmRSS"])),
            "agent_pss_kib": shares["pss_kib"],
            "agent_uss_kib": shares["uss_kib"],
            "agent_threads": int(st_end["Threads"]),
            "agent_vmrss_after_render_kib": kib(st["VmRSS"]),
            "agent_vmrss_rested_kib": kib(st_rest["VmRSS"]),
            "idle_seconds": round(t1 - t0, 1),
            "wakeups_per_minute": round((sw1 - sw0) / minutes, 1),
            "cpu_ms_per_minute_idle": round((cpu1 - cpu0) * 1000 / minutes, 2),
            "ceiling_sleep_maxrss_kib": floor,
            "trove_version_maxrss_kib": version,
            "target_kib": round(TARGET_KB),
            "within_target": kib(st_end["VmRSS"]) <= TARGET_KB,
            "resident_by_object_kib": {k: {"rss": v[0], "anon": v[1]} for k, v in objects.items()},
        }
        print(json.dumps(res, indent=2))
        print(f"{scheme}: agent RSS at rest {res['agent_vmrss_kib'] / 1024:.2f} MiB (anon {res['agent_rss_anon_kib'] / 1024:.2f}, "
              f"file {res['agent_rss_file_kib'] / 1024:.2f}; {res['agent_vmrss_after_render_kib'] / 1024:.2f} just after "
              f"rendering, {res['agent_vmrss_at_work_kib'] / 1024:.2f} after {WORK_REQUESTS} proxied requests, "
              f"peak {res['agent_peak_kib'] / 1024:.2f}) with "
              f"{res['agent_threads']} threads; idle: {res['wakeups_per_minute']} wake-ups/min, "
              f"{res['cpu_ms_per_minute_idle']} ms CPU/min. Floor: `sleep` {floor / 1024:.2f} MiB, "
              f"`trove version` {version / 1024:.2f} MiB.")
        print(f"{scheme}: PSS {res['agent_pss_kib'] / 1024:.2f} MiB, USS {res['agent_uss_kib'] / 1024:.2f} MiB. "
              "Resident by object (KiB, of which anonymous): " +
              ", ".join(f"{k} {v[0]} ({v[1]})" for k, v in objects.items()))
        over = res["agent_vmrss_kib"] - TARGET_KB
        print(f"{scheme}: target VmRSS at rest <= {TARGET_KB / 1024:.2f} MiB: " +
              ("met" if over <= 0 else f"NOT met, over by {over:.0f} KiB"))
        return res
    finally:
        for p in (agent, server):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)


def main():
    results = [measure(scheme) for scheme in SCHEMES]
    if CHECK_TARGET and not all(r["within_target"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
