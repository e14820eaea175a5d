"""The operator's Kubernetes client (src/operator/kube_*.c) against the
Kubernetes API stand-in (kube_apiserver.py), over TLS with the kubeconfig
the stand-in writes, through tests/kube/kube_driver: requests and their
Status errors, TokenRequest, an informer that follows creates, updates
and deletes, survives a compacted history (the 410 ERROR event) and
dropped watches without losing or repeating events, a custom resource
informer once its CRD is applied, and leader election between two
processes over a Lease."""

import json
import os
import queue
import random
import subprocess
import threading
import time
from pathlib import Path

import pytest

import kube_tools
from kube_apiserver import KubeAPIServer
from trove_harness import TROVE_BIN

DRIVER = Path(TROVE_BIN).resolve().parent / "tests" / "kube" / "kube_driver"
HERE = os.path.dirname(os.path.abspath(__file__))
CRDS = os.path.join(HERE, "..", "..", "deploy", "helm", "trove", "crds")
VSO = "secrets.hashicorp.com/v1beta1"


@pytest.fixture
def api(tmp_path):
    a = KubeAPIServer(tmp_path, bookmark_seconds=0.5).start()
    a.kubeconfig = a.write_kubeconfig(tmp_path / "kubeconfig")
    a.namespace("app")
    yield a
    a.stop()


def run(api, *args):
    p = subprocess.run([str(DRIVER), api.kubeconfig, *args], capture_output=True, text=True, timeout=60)
    assert p.stdout and p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout.splitlines()[-1])


class Driver:
    """A long-running kube_driver whose output lines are read as they come."""

    def __init__(self, api, *args):
        self.p = subprocess.Popen([str(DRIVER), api.kubeconfig, *args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(json.loads(line))

    def next(self, timeout=10):
        return self.lines.get(timeout=timeout)

    def until(self, pred, timeout=10):
        end = time.monotonic() + timeout
        seen = []
        while time.monotonic() < end:
            try:
                m = self.lines.get(timeout=max(0.05, end - time.monotonic()))
            except queue.Empty:
                break
            seen.append(m)
            if pred(m):
                return seen
        raise AssertionError(f"not seen in {timeout}s; got {seen}")

    def quiet(self, seconds):
        """The lines that arrive within seconds (expected: none)."""
        out = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                out.append(self.lines.get(timeout=max(0.05, end - time.monotonic())))
            except queue.Empty:
                pass
        return out

    def close(self, timeout=10):
        self.p.stdin.close()
        assert self.p.wait(timeout=timeout) == 0, self.p.stderr.read()
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        return rest

    def kill(self):
        self.p.kill()
        self.p.wait()


def secret(name, value="djE="):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": {"k": value}}


def test_requests_over_tls(api):
    r = run(api, "request", "GET", "/api/v1/namespaces/app")
    assert r["status"] == 200 and r["body"]["metadata"]["name"] == "app"
    r = run(api, "request", "GET", "/api/v1/namespaces/app/secrets/missing")
    assert r["status"] == 404
    assert r["error"] == 'secrets "missing" not found'
    r = run(api, "request", "POST", "/api/v1/namespaces/app/secrets", json.dumps(secret("s1", "dg==")))
    assert r["status"] == 201 and r["body"]["metadata"]["resourceVersion"]
    stale = dict(r["body"])
    stale["metadata"] = dict(stale["metadata"], resourceVersion="1")
    r = run(api, "request", "PUT", "/api/v1/namespaces/app/secrets/s1", json.dumps(stale))
    assert r["status"] == 409 and "modified" in r["error"]
    # Nothing but the stand-in's own CA is trusted: the kubeconfig's data field is what let TLS through.
    assert api.requests_to("POST", "/secrets")


def test_token_request(api):
    api.service_account("app", "web")
    r = run(api, "token", "app", "web", "trove")
    assert r["token"].count(".") == 2 and r["expires_at"] > time.time() + 3000
    r = run(api, "token", "app", "nobody", "trove")
    assert r["token"] is None and "nobody" in r["error"]


def test_informer_follows_changes_410_and_drops(api):
    api.create("v1", "secrets", "app", secret("before"))
    w = Driver(api, "watch", "", "v1", "secrets", "app")
    try:
        first = w.until(lambda m: m.get("synced"))
        assert [m["name"] for m in first if "event" in m] == ["before"]
        api.create("v1", "secrets", "app", secret("a"))
        w.until(lambda m: m.get("event") == "ADDED" and m["name"] == "a")
        obj = api.get("v1", "secrets", "app", "a")
        obj["data"] = {"k": "djI="}
        api.put("v1", "secrets", "app", obj)
        w.until(lambda m: m.get("event") == "MODIFIED" and m["name"] == "a")
        api.delete("v1", "secrets", "app", "before")
        w.until(lambda m: m.get("event") == "DELETED" and m["name"] == "before")

        # The watch dropped, a change made and the history compacted before
        # it resumes: the resumed watch gets the 410 ERROR event, lists
        # again and delivers the difference — nothing more.
        api.drop_watches()
        api.create("v1", "secrets", "app", secret("after-compaction"))
        api.compact()
        seen = w.until(lambda m: m.get("name") == "after-compaction")
        assert [m["event"] for m in seen if m.get("name") == "after-compaction"] == ["ADDED"]
        lists = [r for r in api.requests_to("GET", "/api/v1/namespaces/app/secrets") if "watch" not in r["query"]]
        assert len(lists) == 2 and all(r["query"].get("limit") == "500" for r in lists)
        assert w.quiet(1.0) == []

        # Dropped watches: resumed from the last version, each change seen once.
        for i in range(3):
            api.drop_watches()
            time.sleep(0.3)
            api.create("v1", "secrets", "app", secret(f"d{i}"))
            w.until(lambda m, i=i: m.get("name") == f"d{i}")
        assert w.quiet(1.5) == []
        watches = [r for r in api.requests_to("GET", "/api/v1/namespaces/app/secrets") if "watch" in r["query"]]
        assert len(watches) >= 5  # the first, after the 410's list, after each drop
        assert all(r["query"].get("allowWatchBookmarks") == "true" and 300 <= int(r["query"]["timeoutSeconds"]) < 600
                   for r in watches)
        rest = w.close()
        assert rest[-1] == {"cached": 5}  # a, after-compaction, d0, d1, d2
    finally:
        if w.p.poll() is None:
            w.kill()


def test_informer_on_a_custom_resource(api):
    kube_tools.run("kubectl", ["apply", "-f", CRDS], kubeconfig=api.kubeconfig)
    w = Driver(api, "watch", "secrets.hashicorp.com", "v1beta1", "vaultstaticsecrets", "app")
    try:
        w.until(lambda m: m.get("synced"))
        api.create(VSO, "vaultstaticsecrets", "app", {
            "apiVersion": VSO, "kind": "VaultStaticSecret", "metadata": {"name": "web"},
            "spec": {"type": "kv-v2", "mount": "kvv2", "path": "web", "destination": {"name": "web", "create": True}}})
        m = w.until(lambda m: m.get("event") == "ADDED")[-1]
        assert m["name"] == "web" and m["ns"] == "app"
    finally:
        w.close() if w.p.poll() is None else None


def holder(api):
    lease = api.get("coordination.k8s.io/v1", "leases", "app", "trove-operator")
    return lease and lease["spec"].get("holderIdentity")


def test_leader_election_between_two_processes(api):
    a = Driver(api, "elect", "app", "trove-operator", "pod-a")
    a.until(lambda m: m.get("leading") is True)
    b = Driver(api, "elect", "app", "trove-operator", "pod-b")
    try:
        assert b.quiet(4.0) == []  # a renews; b never leads
        assert holder(api) == "pod-a"
        lease = api.get("coordination.k8s.io/v1", "leases", "app", "trove-operator")
        assert lease["spec"]["leaseDurationSeconds"] == 3
        assert len(lease["spec"]["renewTime"].split(".")[1]) == 7  # six digits and Z
        # A graceful stop releases: b leads within a retry or two.
        t0 = time.monotonic()
        assert a.close() == [{"leading": False}, {"stopped": True}]
        b.until(lambda m: m.get("leading") is True, timeout=5)
        assert time.monotonic() - t0 < 4
        assert holder(api) == "pod-b"
        assert api.get("coordination.k8s.io/v1", "leases", "app", "trove-operator")["spec"]["leaseTransitions"] == 1
        # b dies without releasing: c waits for the lease to run out by its own clock, then leads.
        c = Driver(api, "elect", "app", "trove-operator", "pod-c")
        b.kill()
        t0 = time.monotonic()
        c.until(lambda m: m.get("leading") is True, timeout=10)
        assert time.monotonic() - t0 >= 2.0
        assert holder(api) == "pod-c"
        c.close()
    finally:
        for d in (a, b):
            if d.p.poll() is None:
                d.kill()


def test_informer_cache_leaves_out_managed_fields(tmp_path):
    # The real API server sets managedFields on every object; the informer
    # hands them to its function but does not keep them in its cache.
    a = KubeAPIServer(tmp_path, bookmark_seconds=0.5, managed_fields=True).start()
    try:
        a.kubeconfig = a.write_kubeconfig(tmp_path / "kubeconfig")
        a.namespace("app")
        a.create("v1", "secrets", "app", secret("listed"))
        assert a.get("v1", "secrets", "app", "listed")["metadata"]["managedFields"][0]["fieldsType"] == "FieldsV1"
        w = Driver(a, "watch", "", "v1", "secrets", "app")
        first = w.until(lambda m: m.get("synced"))
        assert [m["managed"] for m in first if "event" in m] == [True]
        a.create("v1", "secrets", "app", secret("watched"))
        assert w.until(lambda m: m.get("name") == "watched")[-1]["managed"] is True
        rest = w.close()
        assert rest[-2:] == [{"cached_managed": 0}, {"cached": 2}]
    finally:
        a.stop()


def test_informer_sees_objects_made_as_its_watch_opens(api):
    # Each round cuts the watch (and every other round compacts the
    # history, so a list comes first) and makes two objects as the resumed
    # watch arrives: one before the stand-in reads its history for it, one
    # a few milliseconds later, while the answer starts. Every object is
    # delivered, once.
    pending = []

    def on_watch(kind, q):
        with api.lock:
            todo, pending[:] = list(pending), []
        for name in todo:
            api.create("v1", "secrets", "app", secret(name + "-a"))
            threading.Timer(random.random() * 0.01, api.create, ("v1", "secrets", "app", secret(name + "-b"))).start()

    api.on_watch = on_watch
    w = Driver(api, "watch", "", "v1", "secrets", "app")
    try:
        w.until(lambda m: m.get("synced"))
        names = [f"w{i}" for i in range(16)]
        for i, name in enumerate(names):
            with api.lock:
                pending.append(name)
            api.drop_watches()
            if i % 2:
                api.compact()
            want = {name + "-a", name + "-b"}
            w.until(lambda m: want.discard(m.get("name")) or not want, timeout=5)
        assert w.quiet(0.5) == []
        rest = w.close()
        assert rest[-1] == {"cached": 2 * len(names)}
    finally:
        if w.p.poll() is None:
            w.kill()
