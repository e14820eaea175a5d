"""`trove secrets-operator`'s runtime against the Kubernetes API stand-in
(kube_apiserver.py) and a real `trove server -dev`: its flags, the probes
and Prometheus metrics, JSON logs, leader election between two replicas
(one leader, only it writes, a SIGKILLed leader replaced within the lease
duration, a SIGTERMed one releasing the Lease at once), and carrying on
after the watch history is compacted (410) and every watch is cut.

Each replica gets its own bearer token, so the stand-in's request log says
which replica sent what."""

import json
import os
import random
import signal
import subprocess
import time

import pytest
import requests

import kube_tools
from agent_proc import wait_for
from kube_apiserver import KubeAPIServer, Rule
from trove_harness import TROVE_BIN, TroveProcess, free_port, sanitizer_env

HERE = os.path.dirname(os.path.abspath(__file__))
CRDS = os.path.join(HERE, "..", "..", "deploy", "helm", "trove", "crds")
VSO = "secrets.hashicorp.com/v1beta1"
LEASE = "trove-test-lease"
LEASE_SECONDS = 15  # client-go's, which the operator uses



@pytest.fixture
def api(tmp_path):
    a = KubeAPIServer(tmp_path, bookmark_seconds=0.5).start()
    a.kubeconfig = a.write_kubeconfig(tmp_path / "admin.kubeconfig")
    yield a
    a.stop()


def apply_crds(api):
    kube_tools.run("kubectl", ["apply", "-f", CRDS], kubeconfig=api.kubeconfig)
    api.namespace("app")


@pytest.fixture
def crds(api):
    apply_crds(api)
    return api


def vss(name, ns="app"):
    return {"apiVersion": VSO, "kind": "VaultStaticSecret", "metadata": {"name": name, "namespace": ns},
            "spec": {"type": "kv-v2", "mount": "secret", "path": name,
                     "destination": {"name": name, "create": True}}}


class Operator(TroveProcess):
    """One `trove secrets-operator` replica with its own token."""

    def __init__(self, api, tmp_path, log_dir, name, extra=(), vault_addr=None):
        self.user = f"system:serviceaccount:trove:{name}"
        token = api.add_token(self.user, [Rule(["*"], ["*"])])
        kubeconfig = api.write_kubeconfig(tmp_path / f"{name}.kubeconfig", token=token, namespace="trove")
        self.metrics_port, self.probe_port = free_port(), free_port()
        env = sanitizer_env()
        env["OPERATOR_POD_NAME"] = name
        env.pop("OPERATOR_NAMESPACE", None)
        if vault_addr:
            env["VAULT_ADDR"] = vault_addr
        super().__init__([TROVE_BIN, "secrets-operator", "-kubeconfig", kubeconfig,
                          "-metrics-bind-address", f"127.0.0.1:{self.metrics_port}",
                          "-health-probe-bind-address", f"127.0.0.1:{self.probe_port}", *extra],
                         log_dir, name, f"http://127.0.0.1:{self.probe_port}/healthz", env=env)

    def url(self, path, metrics=False):
        return f"http://127.0.0.1:{self.metrics_port if metrics else self.probe_port}{path}"

    def ready(self):
        try:
            return requests.get(self.url("/readyz"), timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def metrics(self):
        text = requests.get(self.url("/metrics", metrics=True), timeout=5).text
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def leads(self):
        return self.metrics().get("trove_operator_leader") == 1

    def wait_exit(self, timeout=30):
        proc, self.proc = self.proc, None
        rc = proc.wait(timeout)
        self._scan()
        return rc


@pytest.fixture
def start(api, tmp_path, log_dir, procs):
    def _start(name, *extra, wait_ready=True):
        op = Operator(api, tmp_path, log_dir, name, extra)
        procs.append(op)
        op.start()
        if wait_ready:
            wait_for(op.ready, 30, f"{name}'s /readyz")
        return op
    return _start


def run(*args):
    return subprocess.run([TROVE_BIN, "secrets-operator", *args], capture_output=True, text=True, timeout=30,
                          env=sanitizer_env())


# --- the command ------------------------------------------------------------------------

def test_help_lists_every_flag():
    p = run("-h")
    assert p.returncode == 0, p.stderr
    for flag in ("-kubeconfig", "-leader-elect", "-leader-election-id", "-metrics-bind-address",
                 "-health-probe-bind-address", "-max-concurrent-reconciles", "-operator-namespace",
                 "-zap-log-level", "-log-level", "-log-format", "-zap-encoder"):
        assert flag in p.stdout, flag
    assert p.stderr == ""
    # Listed among trove's commands too.
    top = subprocess.run([TROVE_BIN, "-h"], capture_output=True, text=True, timeout=30, env=sanitizer_env())
    assert "secrets-operator" in top.stdout + top.stderr


@pytest.mark.parametrize("args", [["-no-such-flag"], ["-max-concurrent-reconciles=0"], ["-log-format=xml"],
                                  ["-leader-elect=perhaps"], ["stray"], ["-kubeconfig"]])
def test_bad_flags_exit_1(args):
    p = run(*args)
    assert p.returncode == 1, (args, p.stdout, p.stderr)
    assert p.stdout == ""
    assert p.stderr


def test_no_api_server_exits_1(tmp_path):
    p = subprocess.run([TROVE_BIN, "secrets-operator", "-kubeconfig", str(tmp_path / "missing")],
                       capture_output=True, text=True, timeout=30, env=sanitizer_env())
    assert p.returncode == 1
    assert "missing" in p.stderr


# --- probes, metrics, logs ----------------------------------------------------------------

def test_probes_metrics_and_json_logs(api, start):
    op = start("op-a", wait_ready=False)
    # The CRDs are not served yet: the informers cannot list, so not ready.
    r = requests.get(op.url("/readyz"), timeout=5)
    assert r.status_code == 500 and "not synced" in r.text
    assert requests.get(op.url("/healthz"), timeout=5).text == "ok"
    apply_crds(api)
    wait_for(op.ready, 45, "/readyz after the CRDs are served")
    assert requests.get(op.url("/readyz"), timeout=5).text == "ok"

    m = requests.get(op.url("/metrics", metrics=True), timeout=5)
    assert m.status_code == 200
    assert m.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    values = op.metrics()
    assert values["process_resident_memory_bytes"] > 0
    assert values["process_threads"] >= 8  # main, 6 informers, listener, workers
    assert values["process_open_fds"] > 0
    assert values["trove_operator_ready"] == 1
    wait_for(op.leads, 5, "the workers to start")  # unelected: it works once synced
    assert "# TYPE trove_operator_reconciles_total counter" in m.text

    # Each path on its own listener; 404 elsewhere, 405 for other methods.
    assert requests.get(op.url("/metrics"), timeout=5).status_code == 404
    assert requests.get(op.url("/healthz", metrics=True), timeout=5).status_code == 404
    assert requests.get(op.url("/nope"), timeout=5).status_code == 404
    r = requests.post(op.url("/healthz"), data="x", timeout=5)
    assert r.status_code == 405 and r.headers["Allow"] == "GET"

    # A resource is reconciled (whatever the outcome) and counted by kind.
    api.create(VSO, "vaultstaticsecrets", "app", vss("web"))
    wait_for(lambda: op.metrics().get('trove_operator_reconciles_total{kind="VaultStaticSecret"}', 0) >= 1,
             20, "a VaultStaticSecret reconcile")

    op.stop()
    lines = [ln for ln in op.stderr_text().splitlines() if ln.strip()]
    assert lines
    for ln in lines:
        entry = json.loads(ln)  # every line is JSON
        assert "@message" in entry and "@level" in entry, ln
    assert any("started" in ln for ln in lines)


# --- leader election -------------------------------------------------------------------------

def lease(api):
    return api.get("coordination.k8s.io/v1", "leases", "trove", LEASE)


def holder(api):
    spec = (lease(api) or {}).get("spec") or {}
    return spec.get("holderIdentity") or ""


def writes_by(api, user, skip_leases=True):
    return [r for r in api.requests if r["user"] == user and r["method"] in ("POST", "PUT", "PATCH", "DELETE")
            and not (skip_leases and "/leases" in r["path"])]


@pytest.mark.time_limit(150)
def test_two_replicas_one_leader_and_failover(crds, start):
    api = crds
    api.namespace("trove")
    for i in range(3):
        api.create(VSO, "vaultstaticsecrets", "app", vss(f"s{i}"))
    a = start("op-a", "-leader-elect", "-leader-election-id", LEASE)
    wait_for(lambda: holder(api).startswith("op-a_"), 20, "op-a to take the Lease")
    b = start("op-b", "-leader-elect", "-leader-election-id", LEASE)
    # Both are ready; exactly one leads.
    assert a.ready() and b.ready()
    time.sleep(5)  # several of the standby's retry periods
    assert holder(api).startswith("op-a_")
    assert a.leads() and not b.leads()
    spec = lease(api)["spec"]
    assert spec["leaseDurationSeconds"] == LEASE_SECONDS
    assert a.metrics().get('trove_operator_reconciles_total{kind="VaultStaticSecret"}', 0) >= 3
    assert b.metrics().get('trove_operator_reconciles_total{kind="VaultStaticSecret"}', 0) == 0
    # The standby wrote nothing at all, not even to the Lease.
    assert writes_by(api, b.user, skip_leases=False) == []

    # The leader dies without a word: the standby takes over within the
    # lease duration (plus one retry period), and then does the work.
    api.clear_requests()
    a.kill9()
    killed = time.monotonic()
    wait_for(lambda: holder(api).startswith("op-b_"), LEASE_SECONDS + 5, "op-b to take over")
    took = time.monotonic() - killed
    assert took <= LEASE_SECONDS + 4, took
    wait_for(b.leads, 5, "op-b to lead")
    api.create(VSO, "vaultstaticsecrets", "app", vss("after"))
    wait_for(lambda: b.metrics().get('trove_operator_reconciles_total{kind="VaultStaticSecret"}', 0) >= 4,
             20, "op-b to reconcile")
    assert lease(api)["spec"]["leaseTransitions"] >= 1
    assert writes_by(api, a.user, skip_leases=False) == []


@pytest.mark.time_limit(120)
def test_sigterm_releases_the_lease(crds, start):
    api = crds
    api.namespace("trove")
    a = start("op-a", "-leader-elect", "-leader-election-id", LEASE)
    wait_for(lambda: holder(api).startswith("op-a_"), 20, "op-a to take the Lease")
    b = start("op-b", "-leader-elect", "-leader-election-id", LEASE)
    time.sleep(1)
    assert not b.leads()
    a.proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    assert a.wait_exit(15) == 0
    # Released, so the standby need not wait out the lease duration.
    wait_for(lambda: holder(api).startswith("op-b_"), 6, "op-b to take the released Lease")
    assert time.monotonic() - stopped < LEASE_SECONDS / 2
    log = a.stderr_text()
    assert "stopping on a signal" in log and "stopped" in log


# --- watches -------------------------------------------------------------------------------

def vc(name, ns="app"):
    return {"apiVersion": VSO, "kind": "VaultConnection", "metadata": {"name": name, "namespace": ns},
            "spec": {"address": "http://127.0.0.1:8200"}}


def settled(op, key):
    """The counter key once it has not moved for a second."""
    last = None
    while True:
        v = op.metrics().get(key, 0)
        if v == last:
            return v
        last = v
        time.sleep(1)


@pytest.mark.time_limit(120)
def test_relists_after_410_and_dropped_watches(crds, start):
    # VaultConnections: their reconciles run once per change (no Trove
    # call, no retries), so the count moves only when an event arrives.
    api = crds
    op = start("op-a")
    key = 'trove_operator_reconciles_total{kind="VaultConnection"}'
    api.create(VSO, "vaultconnections", "app", vc("one"))
    wait_for(lambda: op.metrics().get(key, 0) >= 1, 20, "the first reconcile")
    before = settled(op, key)

    # Every watch cut, a change made and the history compacted before they
    # resume: a resumed watch gets the 410 ERROR event, and the operator
    # lists again and carries on.
    api.clear_requests()
    api.drop_watches()
    api.create(VSO, "vaultconnections", "app", vc("two"))
    api.compact()
    wait_for(lambda: op.metrics().get(key, 0) > before, 45, "a reconcile of the object made after the 410")
    lists = [r for r in api.requests_to("GET", "/vaultconnections")
             if r["user"] == op.user and r["query"].get("watch") not in ("1", "true")]
    assert lists, "no re-list after the 410"
    assert op.ready()
    # Carries on watching: a later change is seen too.
    n = settled(op, key)
    api.create(VSO, "vaultconnections", "app", vc("three"))
    wait_for(lambda: op.metrics().get(key, 0) > n, 20, "a reconcile of a later object")


@pytest.mark.time_limit(90)
def test_status_writes_do_not_reconcile_again(crds, start):
    # A VaultConnection's reconcile writes its status; the watch brings
    # that write back, and like VSO (GenerationChangedPredicate) the
    # operator does not reconcile for it: one create, one reconcile.
    api = crds
    op = start("op-a")
    key = 'trove_operator_reconciles_total{kind="VaultConnection"}'
    api.create(VSO, "vaultconnections", "app", vc("one"))
    wait_for(lambda: (api.get(VSO, "vaultconnections", "app", "one").get("status") or {}).get("valid") is True,
             20, "the status write")
    assert settled(op, key) == 1
    # Labels and annotations are not the spec: nothing.
    c = api.get(VSO, "vaultconnections", "app", "one")
    c["metadata"]["labels"] = {"team": "a"}
    c["metadata"]["annotations"] = {"note": "x"}
    api.put(VSO, "vaultconnections", "app", c)
    time.sleep(1)
    assert settled(op, key) == 1
    # A spec change: exactly one more.
    c = api.get(VSO, "vaultconnections", "app", "one")
    c["spec"]["address"] = "http://127.0.0.1:8201"
    api.put(VSO, "vaultconnections", "app", c)
    wait_for(lambda: op.metrics().get(key, 0) >= 2, 20, "the spec change's reconcile")
    assert settled(op, key) == 2


@pytest.mark.time_limit(120)
def test_objects_made_as_watches_reopen_are_each_reconciled_once(crds, start):
    # Every watch cut (and every other round the history compacted, so a
    # list comes first), then one object made at once and one up to 0.4 s
    # later, while the informer lists and opens its next watch: the watch
    # replays from the list's (or the last) resourceVersion, so each object
    # arrives, and each is reconciled exactly once (its status write, seen
    # again by the watch or the re-list, reconciles nothing).
    api = crds
    op = start("op-a")
    key = 'trove_operator_reconciles_total{kind="VaultConnection"}'
    rng = random.Random(16)
    names = []
    for i in range(8):
        api.drop_watches()
        names.append(f"a{i}")
        api.create(VSO, "vaultconnections", "app", vc(names[-1]))
        if i % 2:
            api.compact()
        time.sleep(rng.random() * 0.4)
        names.append(f"b{i}")
        api.create(VSO, "vaultconnections", "app", vc(names[-1]))
        for name in names[-2:]:
            wait_for(lambda: (api.get(VSO, "vaultconnections", "app", name).get("status") or {}).get("valid"),
                     15, f"{name} to be reconciled")
    assert settled(op, key) == len(names)
