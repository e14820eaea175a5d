"""The Kubernetes API stand-in (kube_apiserver.py) is faithful where the
operator depends on it: driven by the real kubectl 1.32 the way a cluster
admin and a VSO user drive a cluster, and by direct HTTP for the strict
answers a naive fake would not give (410 ERROR events, 415, 422, 409,
pruning, MicroTime, least privilege)."""

import base64
import json
import os
import subprocess
import threading
import time

import pytest
import requests

import kube_tools
from kube_apiserver import KubeAPIServer, Rule

HERE = os.path.dirname(os.path.abspath(__file__))
CRDS = os.path.join(HERE, "..", "..", "deploy", "helm", "trove", "crds")
VSO = "secrets.hashicorp.com/v1beta1"
VSS = f"/apis/{VSO}/namespaces/app/vaultstaticsecrets"


@pytest.fixture
def api(tmp_path):
    a = KubeAPIServer(tmp_path, bookmark_seconds=0.5).start()
    a.kubeconfig = a.write_kubeconfig(tmp_path / "kubeconfig")
    a.ca_file = str(tmp_path / "ca.pem")
    with open(a.ca_file, "w") as f:
        f.write(a.ca_pem)
    yield a
    a.stop()


@pytest.fixture
def crds(api):
    kubectl(api, "apply", "-f", CRDS)
    api.namespace("app")
    return api


def kubectl(api, *args, input=None, check=True):
    return kube_tools.run("kubectl", list(args), kubeconfig=api.kubeconfig, input=input, check=check)


def http(api, method, path, body=None, ctype="application/json", token=None, stream=False, timeout=10):
    headers = {"Authorization": f"Bearer {token or api.admin_token}", "Content-Type": ctype}
    data = json.dumps(body) if body is not None else None
    return requests.request(method, api.url + path, data=data, headers=headers, verify=api.ca_file,
                            stream=stream, timeout=timeout)


def vss(name="web", **spec):
    s = {"type": "kv-v2", "mount": "kvv2", "path": "webapp/config", "destination": {"name": name, "create": True}}
    s.update(spec)
    return {"apiVersion": VSO, "kind": "VaultStaticSecret", "metadata": {"name": name}, "spec": s}


# VSO's documented shapes, every field the docs show, as a user writes them.
VSO_MANIFESTS = """
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultConnection
metadata:
  name: default
  namespace: app
spec:
  address: https://trove.trove.svc.cluster.local:8200
  skipTLSVerify: false
  caCertSecretRef: trove-ca
  tlsServerName: trove.trove.svc
  headers:
    X-Team: payments
  timeout: 30s
---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultAuth
metadata:
  name: static-auth
  namespace: app
spec:
  method: kubernetes
  mount: demo-auth-mount
  vaultConnectionRef: default
  allowedNamespaces: ["app"]
  kubernetes:
    role: role1
    serviceAccount: demo-static-app
    audiences:
      - vault
    tokenExpirationSeconds: 600
---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultAuth
metadata:
  name: approle-auth
  namespace: app
spec:
  method: appRole
  mount: approle
  appRole:
    roleId: 1b0c8a6f-c2ec-4b1f-9a5f-4e5ac1b8b1a5
    secretRef: approle-secret
---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultStaticSecret
metadata:
  name: vault-kv-app
  namespace: app
spec:
  type: kv-v2
  mount: kvv2
  path: webapp/config
  version: 2
  refreshAfter: 30s
  hmacSecretData: true
  vaultAuthRef: static-auth
  destination:
    name: secretkv
    create: true
    overwrite: false
    labels:
      team: payments
    annotations:
      owner: payments
    type: Opaque
    transformation:
      excludes: [".*_secret$"]
      includes: [".*"]
      excludeRaw: true
      templates:
        url:
          text: '{{- get .Secrets "url" -}}'
  rolloutRestartTargets:
  - kind: Deployment
    name: vso-web
---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultDynamicSecret
metadata:
  name: vso-db-demo
  namespace: app
spec:
  mount: db
  path: creds/dev-postgres
  requestHTTPMethod: GET
  renewalPercent: 60
  revoke: true
  allowStaticCreds: false
  params:
    ttl: 1h
  vaultAuthRef: static-auth
  destination:
    create: true
    name: vso-db-demo
  rolloutRestartTargets:
  - kind: Deployment
    name: vso-db-demo
---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultPKISecret
metadata:
  name: vaultpkisecret-tls
  namespace: app
spec:
  vaultAuthRef: static-auth
  mount: pki
  role: default
  commonName: www.example.com
  altNames: ["app.example.com"]
  ipSans: ["127.0.0.1"]
  format: pem
  revoke: true
  clear: true
  expiryOffset: 15s
  ttl: 1m
  destination:
    create: true
    name: pki-tls
    type: kubernetes.io/tls
  rolloutRestartTargets:
  - kind: StatefulSet
    name: web
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: vso-web
  namespace: app
spec:
  replicas: 1
  selector:
    matchLabels: {app: vso-web}
  template:
    metadata:
      labels: {app: vso-web}
    spec:
      containers:
      - name: web
        image: nginx
        env:
        - {name: A, value: "1"}
"""


def get_json(api, *args):
    return json.loads(kubectl(api, "get", "-o", "json", *args).stdout)


# --- kubectl -------------------------------------------------------------------

def test_kubectl_applies_crds_and_vso_manifests_unchanged(crds):
    api = crds
    out = kubectl(api, "get", "crd").stdout
    for plural in ("vaultconnections", "vaultauths", "vaultstaticsecrets", "vaultdynamicsecrets", "vaultpkisecrets"):
        assert f"{plural}.secrets.hashicorp.com" in out
    # fieldValidation=Strict (kubectl's default): any field the CRDs lacked would fail here
    p = kubectl(api, "apply", "-f", "-", input=VSO_MANIFESTS)
    assert "vaultstaticsecret.secrets.hashicorp.com/vault-kv-app created" in p.stdout
    assert api.requests_to("POST", "/vaultstaticsecrets")[-1]["query"]["fieldValidation"] == "Strict"
    o = get_json(api, "-n", "app", "vaultstaticsecret", "vault-kv-app")
    assert o["spec"]["destination"]["transformation"]["templates"]["url"]["text"]
    assert o["spec"]["destination"]["labels"] == {"team": "payments"}
    assert o["metadata"]["generation"] == 1 and o["metadata"]["uid"] and o["metadata"]["creationTimestamp"]
    d = get_json(api, "-n", "app", "vaultdynamicsecret", "vso-db-demo")
    assert d["spec"]["renewalPercent"] == 60 and d["spec"]["params"] == {"ttl": "1h"}
    a = get_json(api, "-n", "app", "vaultauth", "static-auth")
    assert a["spec"]["kubernetes"]["audiences"] == ["vault"]
    # applying again changes nothing
    again = kubectl(api, "apply", "-f", "-", input=VSO_MANIFESTS).stdout
    assert "unchanged" in again and "configured" not in again
    assert get_json(api, "-n", "app", "vaultstaticsecret", "vault-kv-app")["metadata"]["resourceVersion"] == \
        o["metadata"]["resourceVersion"]


def test_vso_repository_samples_apply(crds):
    """VSO's own config/samples shapes (namespaces tenant-1/2, PKI with the
    deprecated-looking top-level namespace field, a pre-made Secret)."""
    api = crds
    api.namespace("tenant-1")
    samples = """
apiVersion: v1
kind: Secret
metadata: {name: pki1, namespace: tenant-1}
type: Opaque
---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultConnection
metadata:
  labels:
    app.kubernetes.io/name: vaultconnection
    app.kubernetes.io/managed-by: kustomize
  name: vaultconnection-sample
  namespace: tenant-1
spec:
  address: http://vault.vault.svc.cluster.local:8200
---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultPKISecret
metadata:
  namespace: tenant-1
  name: vaultpkisecret-sample-tenant-1
spec:
  vaultAuthRef: vaultauth-sample
  namespace: tenant-1
  mount: pki
  role: default
  destination:
    name: pki1
  commonName: consul.example.com
  format: pem
  revoke: true
  clear: true
  expiryOffset: 5s
  ttl: 15s
"""
    kubectl(api, "apply", "-f", "-", input=samples)
    c = api.get(VSO, "vaultconnections", "tenant-1", "vaultconnection-sample")
    assert c["spec"]["skipTLSVerify"] is False  # the default VSO declares
    p = api.get(VSO, "vaultpkisecrets", "tenant-1", "vaultpkisecret-sample-tenant-1")
    assert p["spec"]["destination"] == {"name": "pki1", "create": False, "overwrite": False}


def test_kubectl_refuses_what_the_schema_refuses(crds):
    api = crds
    bad = VSO_MANIFESTS.replace("type: kv-v2", "type: kv-v3")
    p = kubectl(api, "apply", "-f", "-", input=bad, check=False)
    assert p.returncode != 0
    assert 'spec.type: Unsupported value: "kv-v3"' in p.stderr
    p = kubectl(api, "apply", "-f", "-", input=VSO_MANIFESTS.replace("refreshAfter: 30s", "refreshAfter: soon"),
                check=False)
    assert p.returncode != 0 and "spec.refreshAfter" in p.stderr
    p = kubectl(api, "apply", "-f", "-", input=VSO_MANIFESTS.replace("  hmacSecretData: true", "  hmacSecretDta: true"),
                check=False)
    assert p.returncode != 0 and 'unknown field "spec.hmacSecretDta"' in p.stderr


def test_kubectl_label_annotate_patch(crds):
    api = crds
    kubectl(api, "apply", "-f", "-", input=VSO_MANIFESTS)
    kubectl(api, "-n", "app", "label", "vaultstaticsecret", "vault-kv-app", "tier=gold")
    kubectl(api, "-n", "app", "annotate", "vaultstaticsecret", "vault-kv-app", "note=hello")
    o = api.get(VSO, "vaultstaticsecrets", "app", "vault-kv-app")
    assert o["metadata"]["labels"] == {"tier": "gold"} and o["metadata"]["annotations"]["note"] == "hello"
    assert o["metadata"]["generation"] == 1  # metadata only: generation stays
    kubectl(api, "-n", "app", "patch", "vaultstaticsecret", "vault-kv-app", "--type", "merge",
            "-p", '{"spec":{"refreshAfter":"1m"}}')
    o = api.get(VSO, "vaultstaticsecrets", "app", "vault-kv-app")
    assert o["spec"]["refreshAfter"] == "1m" and o["metadata"]["generation"] == 2
    kubectl(api, "-n", "app", "patch", "vaultstaticsecret", "vault-kv-app", "--type", "json",
            "-p", '[{"op":"replace","path":"/spec/path","value":"webapp/other"}]')
    assert api.get(VSO, "vaultstaticsecrets", "app", "vault-kv-app")["spec"]["path"] == "webapp/other"
    # strategic merge on a custom resource: refused as the real server does
    p = kubectl(api, "-n", "app", "patch", "vaultstaticsecret", "vault-kv-app", "--type", "strategic",
                "-p", '{"spec":{"path":"x"}}', check=False)
    assert p.returncode != 0 and "unknown format" in p.stderr, p.stderr
    # strategic merge on a built-in kind merges lists by their key
    kubectl(api, "apply", "-f", "-", input=DEPLOYMENT)
    kubectl(api, "-n", "app", "patch", "deployment", "vso-web", "--type", "strategic",
            "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"B","value":"2"}]}]}}}}')
    c = api.get("apps/v1", "deployments", "app", "vso-web")["spec"]["template"]["spec"]["containers"]
    assert len(c) == 1 and c[0]["image"] == "nginx" and [e["name"] for e in c[0]["env"]] == ["A", "B"]


def test_kubectl_rollout_restart(crds):
    api = crds
    kubectl(api, "apply", "-f", "-", input=DEPLOYMENT)
    before = api.get("apps/v1", "deployments", "app", "vso-web")
    api.clear_requests()
    kubectl(api, "-n", "app", "rollout", "restart", "deployment/vso-web")
    patch = api.requests_to("PATCH", "/deployments/vso-web")
    assert patch and patch[0]["content_type"] == "application/strategic-merge-patch+json"
    after = api.get("apps/v1", "deployments", "app", "vso-web")
    assert "kubectl.kubernetes.io/restartedAt" in after["spec"]["template"]["metadata"]["annotations"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert after["spec"]["template"]["spec"] == before["spec"]["template"]["spec"]


def test_kubectl_delete_waits_for_finalizers(crds):
    api = crds
    o = vss("fin")
    o["metadata"]["finalizers"] = ["vaultstaticsecret.secrets.hashicorp.com/finalizer"]
    api.create(VSO, "vaultstaticsecrets", "app", o)
    kubectl(api, "-n", "app", "delete", "vaultstaticsecret", "fin", "--wait=false")
    held = api.get(VSO, "vaultstaticsecrets", "app", "fin")
    assert held is not None and held["metadata"]["deletionTimestamp"]
    # no finalizer may be added while deleting; removing the last one deletes
    r = http(api, "PATCH", f"{VSS}/fin", {"metadata": {"finalizers": ["a", "b"]}}, "application/merge-patch+json")
    assert r.status_code == 422
    kubectl(api, "-n", "app", "patch", "vaultstaticsecret", "fin", "--type", "merge",
            "-p", '{"metadata":{"finalizers":null}}')
    assert api.get(VSO, "vaultstaticsecrets", "app", "fin") is None


def test_kubectl_get_watch_sees_a_change(crds):
    api = crds
    api.create(VSO, "vaultstaticsecrets", "app", vss("watched"))
    argv = [kube_tools.kubectl_path(), "--kubeconfig", api.kubeconfig, "-n", "app", "get", "vaultstaticsecret",
            "watched", "--watch", "-o", "jsonpath={.spec.path}{\"\\n\"}"]
    env = dict(os.environ, HOME=os.path.join(kube_tools.TOOLS_DIR, "home"))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    reader = threading.Thread(target=lambda: [lines.append(x.strip()) for x in proc.stdout], daemon=True)
    reader.start()
    try:
        deadline = time.time() + 15
        while "webapp/config" not in lines and time.time() < deadline:
            time.sleep(0.1)
        kubectl(api, "-n", "app", "patch", "vaultstaticsecret", "watched", "--type", "merge",
                "-p", '{"spec":{"path":"changed/path"}}')
        while "changed/path" not in lines and time.time() < deadline:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(5)
    assert lines[:2] == ["webapp/config", "changed/path"], (lines, proc.stderr.read())


# --- direct HTTP: the strict answers ----------------------------------------------

def test_crud_metadata_and_conflicts(crds):
    api = crds
    r = http(api, "POST", VSS, vss())
    assert r.status_code == 201
    o = r.json()
    assert o["metadata"]["generation"] == 1 and o["spec"]["hmacSecretData"] is True  # default applied
    r = http(api, "POST", VSS, vss())
    assert r.status_code == 409 and r.json()["reason"] == "AlreadyExists"
    assert r.json()["kind"] == "Status" and r.json()["details"]["kind"] == "vaultstaticsecrets"
    # PUT without metadata.resourceVersion: 422 for custom resources
    no_rv = json.loads(json.dumps(o))
    del no_rv["metadata"]["resourceVersion"]
    r = http(api, "PUT", f"{VSS}/web", no_rv)
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "metadata.resourceVersion"
    # a stale resourceVersion: 409 Conflict
    o["spec"]["refreshAfter"] = "10s"
    r = http(api, "PUT", f"{VSS}/web", o)
    assert r.status_code == 200
    r2 = http(api, "PUT", f"{VSS}/web", o)
    assert r2.status_code == 409 and r2.json()["reason"] == "Conflict"
    assert int(r.json()["metadata"]["resourceVersion"]) > int(o["metadata"]["resourceVersion"])
    assert r.json()["metadata"]["generation"] == 2
    # a namespace that does not exist
    r = http(api, "POST", VSS.replace("/app/", "/nowhere/"), vss())
    assert r.status_code == 404 and r.json()["message"] == 'namespaces "nowhere" not found'
    r = http(api, "GET", VSS.replace("/app/", "/nowhere/") + "/web")  # a read names the object
    assert r.status_code == 404 and r.json()["message"] == 'vaultstaticsecrets.secrets.hashicorp.com "web" not found'
    assert http(api, "GET", VSS.replace("/app/", "/nowhere/")).json()["items"] == []
    r = http(api, "GET", f"{VSS}/absent")
    assert r.status_code == 404 and r.json()["message"] == 'vaultstaticsecrets.secrets.hashicorp.com "absent" not found'


def test_status_subresource(crds):
    api = crds
    o = http(api, "POST", VSS, vss()).json()
    # status on the main resource is ignored; spec on /status is ignored
    o["status"] = {"lastGeneration": 1, "secretMAC": "abc"}
    r = http(api, "PUT", f"{VSS}/web", o)
    assert r.status_code == 200 and "status" not in r.json()
    o = r.json()
    o["status"] = {"lastGeneration": 1, "secretMAC": "abc"}
    o["spec"]["path"] = "ignored"
    r = http(api, "PUT", f"{VSS}/web/status", o)
    assert r.status_code == 200
    got = r.json()
    assert got["status"]["secretMAC"] == "abc" and got["spec"]["path"] == "webapp/config"
    assert got["metadata"]["generation"] == 1
    # VSO's status schema requires lastGeneration
    r = http(api, "PATCH", f"{VSS}/web/status", {"status": {"lastGeneration": None}}, "application/merge-patch+json")
    assert r.status_code == 422 and "status.lastGeneration: Required value" in r.json()["message"]
    r = http(api, "PATCH", f"{VSS}/web/status", {"status": {"lastGeneration": "one"}}, "application/merge-patch+json")
    assert r.status_code == 422 and "must be of type integer" in r.json()["message"]
    # conditions are metav1.Condition: a bad status enum is refused
    cond = {"type": "Ready", "status": "Yes", "reason": "Synced", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    r = http(api, "PATCH", f"{VSS}/web/status", {"status": {"conditions": [cond]}}, "application/merge-patch+json")
    assert r.status_code == 422 and "status.conditions[0].status" in r.text
    cond["status"] = "True"
    cond["lastTransitionTime"] = "yesterday"
    r = http(api, "PATCH", f"{VSS}/web/status", {"status": {"conditions": [cond]}}, "application/merge-patch+json")
    assert r.status_code == 422 and "date-time" in r.text


def test_schema_enforced_defaults_and_pruning(crds):
    api = crds
    body = vss()
    body["spec"]["surprise"] = 1
    body["spec"]["destination"]["extra"] = "x"
    r = http(api, "POST", VSS, body)
    assert r.status_code == 201
    spec = r.json()["spec"]
    assert "surprise" not in spec and "extra" not in spec["destination"]  # pruned
    assert spec["destination"]["overwrite"] is False and spec["hmacSecretData"] is True
    r = http(api, "POST", VSS + "?fieldValidation=Strict", dict(body, metadata={"name": "strict"}))
    assert r.status_code == 400 and 'unknown field "spec.surprise"' in r.json()["message"]
    missing = vss("nomount")
    del missing["spec"]["mount"]
    r = http(api, "POST", VSS, missing)
    assert r.status_code == 422
    cause = r.json()["details"]["causes"][0]
    assert cause == {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.mount"}
    for spec, field in (({"type": "kv-v9"}, "spec.type"), ({"version": -1}, "spec.version"),
                        ({"refreshAfter": "5 minutes"}, "spec.refreshAfter"),
                        ({"rolloutRestartTargets": [{"kind": "Pod", "name": "x"}]}, "spec.rolloutRestartTargets[0].kind"),
                        ({"hmacSecretData": "yes"}, "spec.hmacSecretData")):
        r = http(api, "POST", VSS, vss("bad", **spec))
        assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == field, (spec, r.text)
    dyn = {"apiVersion": VSO, "kind": "VaultDynamicSecret", "metadata": {"name": "d"},
           "spec": {"mount": "db", "path": "creds/x", "destination": {"name": "d"}, "renewalPercent": 95}}
    r = http(api, "POST", f"/apis/{VSO}/namespaces/app/vaultdynamicsecrets", dyn)
    assert r.status_code == 422 and "less than or equal to 90" in r.text
    del dyn["spec"]["renewalPercent"]
    r = http(api, "POST", f"/apis/{VSO}/namespaces/app/vaultdynamicsecrets", dyn)
    assert r.json()["spec"]["renewalPercent"] == 67
    auth = {"apiVersion": VSO, "kind": "VaultAuth", "metadata": {"name": "a"},
            "spec": {"method": "kubernetes", "kubernetes": {"role": "r", "serviceAccount": "default"}}}
    r = http(api, "POST", f"/apis/{VSO}/namespaces/app/vaultauths", auth)
    assert r.json()["spec"]["kubernetes"]["tokenExpirationSeconds"] == 600
    auth["metadata"]["name"] = "b"
    auth["spec"]["method"] = "ldap"
    assert http(api, "POST", f"/apis/{VSO}/namespaces/app/vaultauths", auth).status_code == 422
    pki = {"apiVersion": VSO, "kind": "VaultPKISecret", "metadata": {"name": "p"},
           "spec": {"mount": "pki", "role": "r", "destination": {"name": "p"}, "format": "p12"}}
    assert http(api, "POST", f"/apis/{VSO}/namespaces/app/vaultpkisecrets", pki).status_code == 422


def test_patch_types(crds):
    api = crds
    http(api, "POST", VSS, vss())
    r = http(api, "PATCH", f"{VSS}/web", {"spec": {"path": "x"}}, "application/strategic-merge-patch+json")
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"
    r = http(api, "PATCH", f"{VSS}/web", {"spec": {"path": "x"}}, "application/apply-patch+yaml")
    assert r.status_code == 415
    r = http(api, "PATCH", f"{VSS}/web", [{"op": "test", "path": "/spec/path", "value": "nope"}],
             "application/json-patch+json")
    assert r.status_code == 422
    r = http(api, "PATCH", f"{VSS}/web", [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}],
             "application/json-patch+json")
    assert r.status_code == 200 and r.json()["metadata"]["labels"] == {"a": "b"}
    # a patch carrying a stale resourceVersion is a precondition: 409
    r = http(api, "PATCH", f"{VSS}/web", {"metadata": {"resourceVersion": "1"}, "spec": {"path": "y"}},
             "application/merge-patch+json")
    assert r.status_code == 409
    # a patch that breaks the schema is refused
    r = http(api, "PATCH", f"{VSS}/web", {"spec": {"type": "kv-v3"}}, "application/merge-patch+json")
    assert r.status_code == 422
    # secrets: strategic merge accepted, data must be base64, stringData folded in
    sec = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}}
    r = http(api, "POST", "/api/v1/namespaces/app/secrets", sec)
    assert r.status_code == 201 and r.json()["data"] == {"k": "dg=="} and "stringData" not in r.json()
    r = http(api, "PATCH", "/api/v1/namespaces/app/secrets/s", {"data": {"j": "dw=="}},
             "application/strategic-merge-patch+json")
    assert r.status_code == 200 and r.json()["data"] == {"k": "dg==", "j": "dw=="}
    r = http(api, "PATCH", "/api/v1/namespaces/app/secrets/s", {"data": {"j": "not base64!"}},
             "application/merge-patch+json")
    assert r.status_code == 400


def test_lease_micro_time_and_put_rules(api):
    path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "trove-operator"},
             "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15,
                      "acquireTime": "2026-12-06T19:31:26.123456Z", "renewTime": "2026-12-06T19:31:26.123456Z"}}
    r = http(api, "POST", path, lease)
    assert r.status_code == 201
    cur = r.json()
    for bad in ("2026-12-06T19:31:26Z", "2026-12-06T19:31:26.123Z", "2026-12-06T19:31:26.1234567Z"):
        b = json.loads(json.dumps(cur))
        b["spec"]["renewTime"] = bad
        r = http(api, "PUT", f"{path}/trove-operator", b)
        assert r.status_code == 400 and "MicroTime" in r.json()["message"], bad
    b = json.loads(json.dumps(cur))
    b["spec"]["leaseDurationSeconds"] = "15"
    assert http(api, "PUT", f"{path}/trove-operator", b).status_code == 400
    b = json.loads(json.dumps(cur))
    del b["metadata"]["resourceVersion"]
    r = http(api, "PUT", f"{path}/trove-operator", b)
    assert r.status_code == 422 and "must be specified for an update" in r.json()["message"]
    cur["spec"]["renewTime"] = "2026-12-06T19:31:28.000001Z"
    r = http(api, "PUT", f"{path}/trove-operator", cur)
    assert r.status_code == 200
    assert http(api, "PUT", f"{path}/trove-operator", cur).status_code == 409  # the other replica lost
    # secrets are built-in: PUT without resourceVersion is an unconditional update
    http(api, "POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": "s"}, "data": {}})
    assert http(api, "PUT", "/api/v1/namespaces/default/secrets/s",
                {"metadata": {"name": "s"}, "data": {"a": "YQ=="}}).status_code == 200


def read_events(resp, n, timeout=10, counts=lambda e: e["type"] != "BOOKMARK"):
    """Every event read until n of those counts() picks arrived."""
    out, seen = [], 0
    deadline = time.time() + timeout
    if not hasattr(resp, "lines"):  # one line iterator per stream: a second would lose buffered lines
        resp.lines = resp.iter_lines()
    for line in resp.lines:
        if line:
            out.append(json.loads(line))
            seen += bool(counts(out[-1]))
        if seen >= n or time.time() > deadline:
            break
    return out


def test_list_and_watch(crds):
    api = crds
    http(api, "POST", VSS, vss("one"))
    lst = http(api, "GET", VSS).json()
    assert lst["kind"] == "VaultStaticSecretList" and [i["metadata"]["name"] for i in lst["items"]] == ["one"]
    rv = lst["metadata"]["resourceVersion"]
    w = http(api, "GET", f"{VSS}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=30",
             stream=True)
    assert w.status_code == 200 and w.headers.get("Transfer-Encoding") == "chunked"
    http(api, "POST", VSS, vss("two"))
    http(api, "PATCH", f"{VSS}/one", {"spec": {"path": "p"}}, "application/merge-patch+json")
    http(api, "DELETE", f"{VSS}/two")
    evs = read_events(w, 3)
    types = [(e["type"], e["object"]["metadata"].get("name")) for e in evs if e["type"] != "BOOKMARK"]
    assert types == [("ADDED", "two"), ("MODIFIED", "one"), ("DELETED", "two")]
    # a bookmark: the kind and a resourceVersion at least the last event's
    bm = read_events(w, 1, counts=lambda e: e["type"] == "BOOKMARK")[-1]
    w.close()
    assert bm["type"] == "BOOKMARK" and bm["object"]["kind"] == "VaultStaticSecret"
    assert int(bm["object"]["metadata"]["resourceVersion"]) >= int(evs[-1]["object"]["metadata"]["resourceVersion"])
    # the /watch/ path form and a label selector: a change moving an object
    # out of the selection is a DELETED for that watch
    http(api, "PATCH", f"{VSS}/one", {"metadata": {"labels": {"sel": "yes"}}}, "application/merge-patch+json")
    rv = http(api, "GET", VSS).json()["metadata"]["resourceVersion"]
    w = http(api, "GET", f"/apis/{VSO}/watch/namespaces/app/vaultstaticsecrets?labelSelector=sel%3Dyes"
             f"&resourceVersion={rv}", stream=True)
    http(api, "PATCH", f"{VSS}/one", {"metadata": {"labels": {"sel": "no"}}}, "application/merge-patch+json")
    ev = read_events(w, 1)
    w.close()
    assert ev[0]["type"] == "DELETED" and ev[0]["object"]["metadata"]["name"] == "one"
    # timeoutSeconds ends the stream
    t0 = time.time()
    w = http(api, "GET", f"{VSS}?watch=true&resourceVersion={api.rv}&timeoutSeconds=1", stream=True)
    assert list(w.iter_lines()) == [] and time.time() - t0 < 5
    # selectors on list
    assert http(api, "GET", f"{VSS}?labelSelector=sel%3Dno").json()["items"][0]["metadata"]["name"] == "one"
    assert http(api, "GET", f"{VSS}?labelSelector=sel%3Dyes").json()["items"] == []
    assert http(api, "GET", f"{VSS}?fieldSelector=metadata.name%3Done").json()["items"][0]["metadata"]["name"] == "one"
    assert http(api, "GET", f"{VSS}?fieldSelector=metadata.name%3Dtwo").json()["items"] == []
    assert http(api, "GET", f"/apis/{VSO}/vaultstaticsecrets").json()["items"][0]["metadata"]["namespace"] == "app"


def test_list_in_pages(crds):
    """limit and continue as the real server pages a list: a consistent
    snapshot at the first page's resourceVersion, remainingItemCount, 410
    once the history is compacted, 400 for a forged token; kubectl follows
    the pages (--chunk-size)."""
    api = crds
    for n in ("a", "b", "c", "d", "e"):
        http(api, "POST", VSS, vss(n))
    first = http(api, "GET", f"{VSS}?limit=2").json()
    assert [i["metadata"]["name"] for i in first["items"]] == ["a", "b"]
    md = first["metadata"]
    assert md["remainingItemCount"] == 3 and md["continue"]
    # changes after the first page do not show in the later ones
    http(api, "POST", VSS, vss("bb"))
    http(api, "DELETE", f"{VSS}/d")
    http(api, "PATCH", f"{VSS}/c", {"spec": {"path": "changed"}}, "application/merge-patch+json")
    second = http(api, "GET", f"{VSS}?limit=2&continue={md['continue']}").json()
    assert [i["metadata"]["name"] for i in second["items"]] == ["c", "d"]
    assert second["items"][0]["spec"]["path"] == "webapp/config"
    assert second["metadata"]["resourceVersion"] == md["resourceVersion"]
    assert second["metadata"]["remainingItemCount"] == 1
    third = http(api, "GET", f"{VSS}?limit=2&continue={second['metadata']['continue']}").json()
    assert [i["metadata"]["name"] for i in third["items"]] == ["e"]
    assert "continue" not in third["metadata"]
    # a fresh list sees the present
    assert [i["metadata"]["name"] for i in http(api, "GET", VSS).json()["items"]] == ["a", "b", "bb", "c", "e"]
    # selectors page too, without a remaining count
    sel = http(api, "GET", f"{VSS}?limit=1&fieldSelector=metadata.name%21%3Da").json()
    assert [i["metadata"]["name"] for i in sel["items"]] == ["b"] and "remainingItemCount" not in sel["metadata"]
    # kubectl follows the pages
    out = kubectl(api, "get", "vaultstaticsecrets", "-n", "app", "--chunk-size=2", "-o", "name").stdout.split()
    assert out == [f"vaultstaticsecret.secrets.hashicorp.com/{n}" for n in ("a", "b", "bb", "c", "e")]
    table = kubectl(api, "get", "vaultstaticsecrets", "-n", "app", "--chunk-size=2").stdout.splitlines()
    assert [line.split()[0] for line in table[1:]] == ["a", "b", "bb", "c", "e"]  # server-side printing, paged
    pages = [r for r in api.requests_to("GET", "vaultstaticsecrets") if r["query"].get("limit") == "2"]
    assert len(pages) >= 6 and sum(bool(r["query"].get("continue")) for r in pages) >= 4
    # a token from before a compaction is gone; a forged one is refused
    token = http(api, "GET", f"{VSS}?limit=2").json()["metadata"]["continue"]
    http(api, "DELETE", f"{VSS}/a")
    api.compact()
    r = http(api, "GET", f"{VSS}?limit=2&continue={token}")
    assert r.status_code == 410 and r.json()["reason"] == "Expired"
    assert http(api, "GET", f"{VSS}?limit=2&continue=bm9wZQ").status_code == 400
    r = http(api, "GET", f"{VSS}?limit=2&continue={token}&resourceVersion=1")
    assert r.status_code == 400


def test_too_old_resource_version_is_an_error_event(crds):
    api = crds
    http(api, "POST", VSS, vss("one"))
    old = http(api, "GET", VSS).json()["metadata"]["resourceVersion"]
    http(api, "POST", VSS, vss("two"))
    api.compact()
    w = http(api, "GET", f"{VSS}?watch=1&resourceVersion={old}", stream=True)
    assert w.status_code == 200  # the watch cache's way: 200, then an ERROR event
    evs = read_events(w, 1)
    assert evs[0]["type"] == "ERROR"
    st = evs[0]["object"]
    assert st["kind"] == "Status" and st["code"] == 410 and st["reason"] == "Expired"
    assert "too old resource version" in st["message"]
    # from the current list it works
    rv = http(api, "GET", VSS).json()["metadata"]["resourceVersion"]
    w = http(api, "GET", f"{VSS}?watch=1&resourceVersion={rv}", stream=True)
    http(api, "DELETE", f"{VSS}/one")
    assert read_events(w, 1)[0]["type"] == "DELETED"


def test_drop_watches(crds):
    api = crds
    w = http(api, "GET", f"{VSS}?watch=1&resourceVersion={api.rv}", stream=True)
    t0 = time.time()
    api.drop_watches()
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        for _ in w.iter_lines():
            pass
    assert time.time() - t0 < 5  # cut, not the client's 10 s read timeout
    # a new watch from the same resourceVersion works
    w = http(api, "GET", f"{VSS}?watch=1&resourceVersion={api.rv}", stream=True)
    http(api, "POST", VSS, vss("after"))
    assert read_events(w, 1)[0]["object"]["metadata"]["name"] == "after"


def test_owner_references_garbage_collected(crds):
    api = crds
    owner = http(api, "POST", VSS, vss("owner")).json()
    ref = {"apiVersion": VSO, "kind": "VaultStaticSecret", "name": "owner", "uid": owner["metadata"]["uid"],
           "controller": True, "blockOwnerDeletion": True}
    http(api, "POST", "/api/v1/namespaces/app/secrets", {"metadata": {"name": "owned", "ownerReferences": [ref]}})
    http(api, "POST", "/api/v1/namespaces/app/secrets", {"metadata": {"name": "kept", "ownerReferences": [ref]}})
    http(api, "POST", "/api/v1/namespaces/app/secrets", {"metadata": {"name": "free"}})
    # an orphaning delete of another owner keeps its dependents
    api.create("v1", "configmaps", "app", {"metadata": {"name": "cm"}})
    cm = api.get("v1", "configmaps", "app", "cm")
    http(api, "PATCH", "/api/v1/namespaces/app/secrets/kept",
         {"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "cm",
                                            "uid": cm["metadata"]["uid"]}]}}, "application/merge-patch+json")
    assert http(api, "DELETE", f"{VSS}/owner").status_code == 200
    assert api.get("v1", "secrets", "app", "owned") is None
    assert api.get("v1", "secrets", "app", "free") is not None
    assert api.get("v1", "secrets", "app", "kept") is not None  # owned by the ConfigMap now
    r = http(api, "DELETE", "/api/v1/namespaces/app/configmaps/cm", {"propagationPolicy": "Orphan"})
    assert r.status_code == 200
    kept = api.get("v1", "secrets", "app", "kept")
    assert kept is not None and "ownerReferences" not in kept["metadata"]


def test_token_request_and_review(api):
    api.service_account("app", "demo")
    path = "/api/v1/namespaces/app/serviceaccounts/demo/token"
    tr = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
          "spec": {"audiences": ["trove"], "expirationSeconds": 600}}
    r = http(api, "POST", path, tr)
    assert r.status_code == 201
    tok = r.json()["status"]["token"]
    assert r.json()["status"]["expirationTimestamp"].endswith("Z")
    tr["spec"]["expirationSeconds"] = 599
    r = http(api, "POST", path, tr)
    assert r.status_code == 422 and "less than 10 minutes" in r.json()["message"]
    assert http(api, "POST", "/api/v1/namespaces/app/serviceaccounts/nobody/token", {"spec": {}}).status_code == 404
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
              "spec": {"token": tok, "audiences": ["trove"]}}
    r = http(api, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert r.status_code == 201 and r.json()["status"]["authenticated"] is True
    assert r.json()["status"]["user"]["username"] == "system:serviceaccount:app:demo"
    review["spec"]["audiences"] = ["other"]
    r = http(api, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    assert r.json()["status"]["authenticated"] is False
    # a deleted service account's tokens stop working
    http(api, "DELETE", "/api/v1/namespaces/app/serviceaccounts/demo")
    review["spec"]["audiences"] = ["trove"]
    assert http(api, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review).json()["status"]["authenticated"] is False


def test_authentication_and_least_privilege(crds, tmp_path):
    api = crds
    assert http(api, "GET", VSS, token="wrong").status_code == 401
    reader = api.add_token("reader", [Rule(["get", "list", "watch"], ["vaultstaticsecrets"],
                                           groups=["secrets.hashicorp.com"])])
    assert http(api, "GET", VSS, token=reader).status_code == 200
    r = http(api, "GET", "/api/v1/namespaces/app/secrets", token=reader)
    assert r.status_code == 403 and r.json()["reason"] == "Forbidden"
    assert 'User "reader" cannot list resource "secrets"' in r.json()["message"]
    assert http(api, "POST", VSS, vss(), token=reader).status_code == 403
    # a service account's token from TokenRequest, with rules granted to it
    api.service_account("app", "op")
    tok = http(api, "POST", "/api/v1/namespaces/app/serviceaccounts/op/token", {"spec": {}}).json()["status"]["token"]
    assert http(api, "GET", "/api/v1/namespaces/app/secrets", token=tok).status_code == 403
    api.allow("system:serviceaccount:app:op", Rule(["get", "list"], ["secrets"], groups=[""], namespaces=["app"]))
    assert http(api, "GET", "/api/v1/namespaces/app/secrets", token=tok).status_code == 200
    assert http(api, "GET", "/api/v1/namespaces/default/secrets", token=tok).status_code == 403
    # kubectl with that token sees the same
    kc = api.write_kubeconfig(tmp_path / "op.kubeconfig", token=tok, namespace="app")
    ok = kube_tools.run("kubectl", ["get", "secrets"], kubeconfig=kc, check=False)
    assert ok.returncode == 0
    denied = kube_tools.run("kubectl", ["get", "secrets", "-n", "default"], kubeconfig=kc, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr


def test_events_kept_and_listed(api):
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "web."},
          "involvedObject": {"apiVersion": VSO, "kind": "VaultStaticSecret", "name": "web", "namespace": "default"},
          "reason": "SecretSynced", "message": "Secret synced", "type": "Normal"}
    r = http(api, "POST", "/api/v1/namespaces/default/events", ev)
    assert r.status_code == 201 and r.json()["metadata"]["name"].startswith("web.")
    assert [e["reason"] for e in api.events("default")] == ["SecretSynced"]
    sel = "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb,involvedObject.kind%3DVaultStaticSecret"
    assert len(http(api, "GET", sel).json()["items"]) == 1
    assert http(api, "GET", sel.replace("name%3Dweb", "name%3Dother")).json()["items"] == []
    r = http(api, "GET", "/api/v1/namespaces/default/secrets?fieldSelector=involvedObject.name%3Dweb")
    assert r.status_code == 400 and "field label not supported" in r.json()["message"]
    out = kube_tools.run("kubectl", ["get", "events", "-n", "default", "-o", "json"], kubeconfig=api.write_kubeconfig(
        api.tmp / "kc2")).stdout
    assert json.loads(out)["items"][0]["message"] == "Secret synced"


def test_crd_makes_resources_served_and_deletion_unserves(api):
    rollouts = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: rollouts.argoproj.io
spec:
  group: argoproj.io
  names: {kind: Rollout, listKind: RolloutList, plural: rollouts, singular: rollout, shortNames: [ro]}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"""
    path = "/apis/argoproj.io/v1alpha1/namespaces/default/rollouts"
    assert http(api, "GET", path).status_code == 404
    kubectl(api, "apply", "-f", "-", input=rollouts)
    ro = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
          "spec": {"template": {"metadata": {}}, "anything": 1}}
    r = http(api, "POST", path, ro)
    assert r.status_code == 201 and r.json()["spec"]["anything"] == 1
    kubectl(api, "patch", "rollout", "r", "--type", "merge",
            "-p", '{"spec":{"template":{"metadata":{"annotations":{"vso.secrets.hashicorp.com/restartedAt":"now"}}}}}')
    assert kubectl(api, "get", "ro", "r", "-o", "jsonpath={.spec.template.metadata.annotations}").stdout
    crd = http(api, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rollouts.argoproj.io").json()
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"
    kubectl(api, "delete", "crd", "rollouts.argoproj.io")
    assert http(api, "GET", path).status_code == 404


def test_secret_data_and_generation_rules(api):
    r = http(api, "POST", "/api/v1/namespaces/default/secrets",
             {"metadata": {"name": "s"}, "type": "kubernetes.io/tls",
              "data": {"tls.crt": base64.b64encode(b"c").decode(), "tls.key": base64.b64encode(b"k").decode()}})
    assert r.status_code == 201 and "generation" not in r.json()["metadata"]
    s = r.json()
    s["type"] = "Opaque"
    r = http(api, "PUT", "/api/v1/namespaces/default/secrets/s", s)
    assert r.status_code == 422 and "immutable" in r.json()["message"]
    r = http(api, "POST", "/api/v1/namespaces/default/secrets", {"metadata": {"name": "Bad_Name"}})
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "metadata.name"
    # deleting a built-in kind answers a Status; a custom resource the object
    r = http(api, "DELETE", "/api/v1/namespaces/default/secrets/s")
    assert r.json()["kind"] == "Status" and r.json()["status"] == "Success"
    assert http(api, "GET", "/api/v1/namespaces/default/secrets/s").status_code == 404


def test_namespace_deletion_waits_for_its_objects(crds):
    api = crds
    o = vss("held")
    o["metadata"]["finalizers"] = ["example.com/hold"]
    api.create(VSO, "vaultstaticsecrets", "app", o)
    api.create("v1", "secrets", "app", {"metadata": {"name": "s"}})
    kubectl(api, "delete", "namespace", "app", "--wait=false")
    assert api.get("v1", "secrets", "app", "s") is None
    assert api.get("v1", "namespaces", None, "app")["status"]["phase"] == "Terminating"
    assert http(api, "POST", "/api/v1/namespaces/app/secrets", {"metadata": {"name": "new"}}).status_code in (403, 404)
    http(api, "PATCH", f"{VSS}/held", {"metadata": {"finalizers": None}}, "application/merge-patch+json")
    assert api.get(VSO, "vaultstaticsecrets", "app", "held") is None
    assert api.get("v1", "namespaces", None, "app") is None


def test_trove_kubernetes_login_against_the_stand_in(api, dev_server):
    """A TokenRequest token logs in to Trove's kubernetes auth method, which
    reviews it here with a reviewer allowed only to create TokenReviews:
    the path the operator's VaultAuth takes."""
    api.service_account("trove", "reviewer")
    api.service_account("app", "demo")
    api.service_account("app", "other")
    reviewer = http(api, "POST", "/api/v1/namespaces/trove/serviceaccounts/reviewer/token",
                    {"spec": {"expirationSeconds": 3600}}).json()["status"]["token"]
    srv = dev_server
    assert srv.request("POST", "/v1/sys/auth/kubernetes", token=srv.root_token,
                       json={"type": "kubernetes"}).status_code == 204
    r = srv.request("POST", "/v1/auth/kubernetes/config", token=srv.root_token,
                    json={"kubernetes_host": api.url, "kubernetes_ca_cert": api.ca_pem, "token_reviewer_jwt": reviewer})
    assert r.status_code == 204, r.text
    r = srv.request("POST", "/v1/auth/kubernetes/role/app", token=srv.root_token,
                    json={"bound_service_account_names": ["demo"], "bound_service_account_namespaces": ["app"],
                          "audience": "trove", "token_policies": ["default"]})
    assert r.status_code in (200, 204), r.text

    def jwt(sa, aud="trove"):
        return http(api, "POST", f"/api/v1/namespaces/app/serviceaccounts/{sa}/token",
                    {"spec": {"audiences": [aud], "expirationSeconds": 600}}).json()["status"]["token"]

    # the reviewer may not create TokenReviews yet: the login fails
    r = srv.request("POST", "/v1/auth/kubernetes/login", json={"role": "app", "jwt": jwt("demo")})
    assert r.status_code >= 400 and not r.json().get("auth"), r.text
    assert api.requests_to("POST", "/tokenreviews")[-1]["status"] == 403
    api.allow("system:serviceaccount:trove:reviewer", Rule(["create"], ["tokenreviews"],
                                                            groups=["authentication.k8s.io"]))
    r = srv.request("POST", "/v1/auth/kubernetes/login", json={"role": "app", "jwt": jwt("demo")})
    assert r.status_code == 200, r.text
    assert r.json()["auth"]["metadata"]["service_account_name"] == "demo"
    reviews = api.requests_to("POST", "/tokenreviews")
    assert reviews[-1]["user"] == "system:serviceaccount:trove:reviewer" and reviews[-1]["status"] == 201
    r = srv.request("POST", "/v1/auth/kubernetes/login", json={"role": "app", "jwt": jwt("other")})
    assert r.status_code in (400, 403), r.text
    # a deleted service account's token is refused by the review
    tok = jwt("demo")
    api.delete("v1", "serviceaccounts", "app", "demo")
    r = srv.request("POST", "/v1/auth/kubernetes/login", json={"role": "app", "jwt": tok})
    assert r.status_code == 403, r.text


def test_kubectl_get_prints_the_crds_columns(crds):
    """Server-side printing: kubectl get shows VSO's printer columns, read
    from status.conditions."""
    api = crds
    o = api.create(VSO, "vaultstaticsecrets", "app", vss("cols"))
    o["status"] = {"lastGeneration": 1, "conditions": [
        {"type": "SecretSynced", "status": "True", "reason": "SecretSynced", "message": "",
         "lastTransitionTime": "2026-01-01T00:00:00Z"},
        {"type": "Ready", "status": "False", "reason": "Pending", "message": "",
         "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    api.put(VSO, "vaultstaticsecrets", "app", o, sub="status")
    lines = kubectl(api, "-n", "app", "get", "vaultstaticsecrets").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SYNCED", "HEALTHY", "READY", "AGE"]
    assert lines[1].split()[:4] == ["cols", "True", "<none>", "False"]


def test_kubectl_create_sends_protobuf(api):
    """kubectl create encodes built-in kinds as protobuf: the stand-in reads
    the few a test creates that way; other kinds get 415."""
    kubectl(api, "create", "namespace", "team")
    kubectl(api, "-n", "team", "create", "secret", "generic", "creds", "--from-literal=user=app",
            "--from-literal=pass=s3cret")
    assert api.requests_to("POST", "/secrets")[-1]["content_type"] == "application/vnd.kubernetes.protobuf"
    s = api.get("v1", "secrets", "team", "creds")
    assert s["type"] == "Opaque" and base64.b64decode(s["data"]["pass"]) == b"s3cret"
    assert "generateName" not in s["metadata"]
    kubectl(api, "-n", "team", "create", "configmap", "cfg", "--from-literal=k=v")
    assert api.get("v1", "configmaps", "team", "cfg")["data"] == {"k": "v"}
    kubectl(api, "-n", "team", "create", "serviceaccount", "demo")
    tok = kubectl(api, "-n", "team", "create", "token", "demo", "--audience", "trove", "--duration", "15m").stdout.strip()
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
              "spec": {"token": tok, "audiences": ["trove"]}}
    st = http(api, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review).json()["status"]
    assert st["authenticated"] is True and st["user"]["username"] == "system:serviceaccount:team:demo"
    p = kubectl(api, "-n", "team", "create", "deployment", "web", "--image", "nginx", check=False)
    assert p.returncode != 0 and "unknown format" in p.stderr


def test_object_rules_operators_slip_on(api):
    """Metadata and built-in kinds' validation the operator's writes must
    pass: label values, finalizer names, owner references, Secret keys,
    kubernetes.io/tls keys, Event times and namespace."""
    secrets = "/api/v1/namespaces/default/secrets"

    def refused(body, field, path=secrets):
        r = http(api, "POST", path, body)
        assert r.status_code == 422, r.text
        assert any(c["field"] == field for c in r.json()["details"]["causes"]), r.text

    refused({"metadata": {"name": "a", "labels": {"x": "has space"}}}, "metadata.labels")
    refused({"metadata": {"name": "a", "labels": {"x": "v" * 64}}}, "metadata.labels")
    refused({"metadata": {"name": "a", "labels": {"bad key!": "v"}}}, "metadata.labels")
    refused({"metadata": {"name": "a", "finalizers": ["unqualified"]}}, "metadata.finalizers")
    refused({"metadata": {"name": "a", "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o"}]}},
            "metadata.ownerReferences[0].uid")
    two = [{"apiVersion": "v1", "kind": "X", "name": n, "uid": n, "controller": True} for n in ("o1", "o2")]
    refused({"metadata": {"name": "a", "ownerReferences": two}}, "metadata.ownerReferences")
    refused({"metadata": {"name": "a"}, "data": {"no/slash": "YQ=="}}, "data[no/slash]")
    refused({"metadata": {"name": "a"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "YQ=="}}, "data[tls.key]")
    big = base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()
    refused({"metadata": {"name": "a"}, "data": {"big": big}}, "data")
    ok = {"metadata": {"name": "a", "labels": {"app.kubernetes.io/managed-by": "hashicorp-vso", "empty": ""},
                       "finalizers": ["vaultstaticsecret.secrets.hashicorp.com/finalizer"]},
          "type": "kubernetes.io/tls", "data": {"tls.crt": "YQ==", "tls.key": "", "ca.crt": "YQ=="}}
    assert http(api, "POST", secrets, ok).status_code == 201
    events = "/api/v1/namespaces/default/events"
    ev = {"metadata": {"name": "e1"}, "involvedObject": {"kind": "VaultStaticSecret", "name": "x", "namespace": "other"},
          "reason": "SecretSynced", "type": "Normal"}
    refused(ev, "involvedObject.namespace", events)
    ev["involvedObject"]["namespace"] = "default"
    ev["eventTime"] = "2026-12-06T19:31:26Z"
    assert http(api, "POST", events, ev).status_code == 400
    ev["eventTime"] = "2026-12-06T19:31:26.000001Z"
    ev["firstTimestamp"] = "2026-12-06 19:31"
    assert http(api, "POST", events, ev).status_code == 400
    ev["firstTimestamp"] = ev["lastTimestamp"] = "2026-12-06T19:31:26Z"
    assert http(api, "POST", events, ev).status_code == 201


def test_helm_install_upgrade_uninstall(api, tmp_path):
    """helm 3 against the stand-in: releases kept in Secrets (protobuf
    bodies), the chart's crds/ created, objects applied, upgraded and
    deleted again (helm sends DeleteOptions as protobuf)."""
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "crds").mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (chart / "crds" / "vss.yaml").write_text(open(os.path.join(CRDS, "secrets.hashicorp.com_vaultstaticsecrets.yaml")).read())
    (chart / "templates" / "all.yaml").write_text(DEPLOYMENT.replace("namespace: app", "namespace: {{ .Release.Namespace }}")
                                                 .replace("image: nginx", "image: {{ .Values.image }}") + """
---
apiVersion: secrets.hashicorp.com/v1beta1
kind: VaultStaticSecret
metadata:
  name: probe
spec:
  type: kv-v2
  mount: kvv2
  path: probe
  destination: {name: probe, create: true}
""")
    api.namespace("app")
    helm = lambda *a: kube_tools.run("helm", list(a), kubeconfig=api.kubeconfig)
    helm("install", "probe", str(chart), "-n", "app", "--set", "image=nginx:1")
    assert api.get(VSO, "vaultstaticsecrets", "app", "probe")["spec"]["hmacSecretData"] is True
    releases = [s["metadata"]["name"] for s in api.list("v1", "secrets", "app")]
    assert "sh.helm.release.v1.probe.v1" in releases
    helm("upgrade", "probe", str(chart), "-n", "app", "--set", "image=nginx:2")
    d = api.get("apps/v1", "deployments", "app", "vso-web")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert "deployment.apps/vso-web" in kubectl(api, "-n", "app", "get", "all").stdout
    helm("uninstall", "probe", "-n", "app")
    assert api.get("apps/v1", "deployments", "app", "vso-web") is None
    assert api.list("v1", "secrets", "app") == []


def test_stop_cuts_connections_and_restart_keeps_objects(crds):
    """stop() is a dead API server for every client, kept-alive
    connections and watches included; start(port) brings it back with its
    objects, and a watch resumes from the resourceVersion a client had."""
    api = crds
    s = requests.Session()
    s.trust_env = False
    s.verify = api.ca_file
    s.headers["Authorization"] = f"Bearer {api.admin_token}"
    assert s.post(api.url + VSS, json=vss("kept")).status_code == 201
    rv = s.get(api.url + VSS).json()["metadata"]["resourceVersion"]
    w = http(api, "GET", f"{VSS}?watch=1&resourceVersion={rv}", stream=True)
    port = api.port
    t0 = time.time()
    api.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        s.get(api.url + VSS, timeout=3)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        for _ in w.iter_lines():
            pass
    assert time.time() - t0 < 5  # cut, not the client's 10 s read timeout
    api.start(port)
    assert s.get(api.url + VSS).json()["items"][0]["metadata"]["name"] == "kept"
    w = http(api, "GET", f"{VSS}?watch=1&resourceVersion={rv}", stream=True)
    http(api, "DELETE", f"{VSS}/kept")
    assert read_events(w, 1)[0]["type"] == "DELETED"


def test_server_side_dry_run_keeps_nothing(crds):
    api = crds
    before = api.rv
    p = kubectl(api, "apply", "--dry-run=server", "-f", "-", input=VSO_MANIFESTS)
    assert "created (server dry run)" in p.stdout
    assert api.list(VSO, "vaultstaticsecrets", "app") == [] and api.rv == before
    p = kubectl(api, "apply", "--dry-run=server", "-f", "-", input=VSO_MANIFESTS.replace("type: kv-v2", "type: kv-v9"),
                check=False)
    assert p.returncode != 0 and "Unsupported value" in p.stderr
    kubectl(api, "apply", "-f", "-", input=DEPLOYMENT)
    kubectl(api, "-n", "app", "delete", "deployment", "vso-web", "--dry-run=server")
    assert api.get("apps/v1", "deployments", "app", "vso-web") is not None


def test_kubectl_apply_changes_a_deployment(crds):
    """Client-side apply of a built-in kind is a strategic-merge patch with
    $patch: delete and $setElementOrder: the stand-in ends with exactly the
    manifest's containers and env, in its order."""
    api = crds
    kubectl(api, "apply", "-f", "-", input=DEPLOYMENT)
    changed = DEPLOYMENT.replace("      containers:\n", "      containers:\n      - name: side\n        image: busybox\n") \
        .replace('- {name: A, value: "1"}', '- {name: B, value: "2"}').replace("replicas: 1", "replicas: 2")
    kubectl(api, "apply", "-f", "-", input=changed)
    d = api.get("apps/v1", "deployments", "app", "vso-web")
    c = d["spec"]["template"]["spec"]["containers"]
    assert [x["name"] for x in c] == ["side", "web"]
    assert c[1]["env"] == [{"name": "B", "value": "2"}] and d["spec"]["replicas"] == 2
    assert "unchanged" in kubectl(api, "apply", "-f", "-", input=changed).stdout
