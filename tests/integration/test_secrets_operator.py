"""`trove secrets-operator` end to end: the real operator binary with a
kubeconfig for the Kubernetes API stand-in (kube_apiserver.py, with the
chart's CRDs applied), a real `trove server -dev` whose kubernetes auth
method reviews the operator's TokenRequest tokens at the stand-in, and a
real PostgreSQL for dynamic credentials.

What it proves: a VaultStaticSecret becomes a Secret and follows KV, with
exactly one rollout restart per change and none on an unchanged refresh;
a hand-edited Secret is put back; deleting the resource deletes the
Secret; allowedNamespaces refuses other namespaces; a stopped Trove
leaves the Secret's data alone and says why in status; a
VaultDynamicSecret gives working PostgreSQL credentials and renews their
lease, and revokes it on deletion; a VaultPKISecret gives a
kubernetes.io/tls Secret that chains to the CA and is re-issued before
expiry. What it does not prove: the stand-in is not a kube-apiserver
(docs/testing.md says where it differs)."""

import base64
import json
import os
import subprocess
import time

import pytest
from cryptography import x509

import kube_tools
from kube_apiserver import KubeAPIServer, Rule
from pg_server import pg_server  # noqa: F401  (module fixture)
from trove_harness import TROVE_BIN, TroveProcess, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
CRDS = os.path.join(HERE, "..", "..", "deploy", "helm", "trove", "crds")
VSO = "secrets.hashicorp.com/v1beta1"
OPNS = "trove-system"
RESTARTED_AT = "vso.secrets.hashicorp.com/restartedAt"


def _has_operator():
    try:
        return subprocess.run([TROVE_BIN, "secrets-operator", "-h"], capture_output=True, timeout=10).returncode == 0
    except OSError:
        return False


# The command joins the binary with the operator's runtime; until a build
# has it there is nothing to run.
pytestmark = pytest.mark.skipif(not _has_operator(), reason="this trove has no secrets-operator command")

POLICY = """
path "secret/data/*" { capabilities = ["read"] }
path "database/creds/*" { capabilities = ["read"] }
path "pki/issue/*" { capabilities = ["create", "update"] }
path "pki/revoke" { capabilities = ["update"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/revoke" { capabilities = ["update"] }
"""


def wait_for(what, fn, timeout=20.0, step=0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


@pytest.fixture
def api(tmp_path):
    a = KubeAPIServer(tmp_path, bookmark_seconds=0.5).start()
    a.kubeconfig = a.write_kubeconfig(tmp_path / "kubeconfig", namespace=OPNS)
    kube_tools.run("kubectl", ["apply", "-f", CRDS], kubeconfig=a.kubeconfig)
    for ns in (OPNS, "app", "team-a", "team-b"):
        a.namespace(ns)
        a.service_account(ns, "default")
    yield a
    a.stop()


@pytest.fixture
def trove(dev_server, api):
    """Trove with KV at secret/, kubernetes auth reviewing at the stand-in
    (role app: any service account named default in app or team-b,
    audience trove) and the policy the resources need."""
    srv = dev_server
    root = srv.root_token
    api.service_account(OPNS, "reviewer")
    api.allow(f"system:serviceaccount:{OPNS}:reviewer",
              Rule(["create"], ["tokenreviews"], groups=["authentication.k8s.io"]))
    tok = kube_tools_token(api, OPNS, "reviewer", 3600)
    assert srv.request("POST", "/v1/sys/auth/kubernetes", token=root, json={"type": "kubernetes"}).status_code == 204
    r = srv.request("POST", "/v1/auth/kubernetes/config", token=root,
                    json={"kubernetes_host": api.url, "kubernetes_ca_cert": api.ca_pem, "token_reviewer_jwt": tok})
    assert r.status_code == 204, r.text
    r = srv.request("PUT", "/v1/sys/policies/acl/app", token=root, json={"policy": POLICY})
    assert r.status_code in (200, 204), r.text
    r = srv.request("POST", "/v1/auth/kubernetes/role/app", token=root,
                    json={"bound_service_account_names": ["default"],
                          "bound_service_account_namespaces": ["app", "team-b", "team-a"],
                          "audience": "trove", "token_policies": ["app"], "token_ttl": "1h"})
    assert r.status_code in (200, 204), r.text
    r = srv.request("GET", "/v1/sys/mounts/secret/tune", token=root)
    if r.status_code != 200:
        assert srv.request("POST", "/v1/sys/mounts/secret", token=root,
                           json={"type": "kv", "options": {"version": "2"}}).status_code == 204
    return srv


def kube_tools_token(api, ns, sa, seconds):
    """A TokenRequest token, as a pod's projected token would be."""
    import requests
    ca = os.path.join(str(api.tmp), "ca-for-token.pem")
    with open(ca, "w") as f:
        f.write(api.ca_pem)
    r = requests.post(f"{api.url}/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
                      json={"spec": {"expirationSeconds": seconds}},
                      headers={"Authorization": f"Bearer {api.admin_token}"}, verify=ca, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["status"]["token"]


def kv_put(srv, path, data):
    r = srv.request("POST", f"/v1/secret/data/{path}", token=srv.root_token, json={"data": data})
    assert r.status_code == 200, r.text


@pytest.fixture
def operator(api, trove, procs, log_dir):
    """The default VaultConnection and VaultAuth in trove-system, then the
    operator running with the stand-in's admin kubeconfig."""
    api.create(VSO, "vaultconnections", OPNS, {"apiVersion": VSO, "kind": "VaultConnection",
                                               "metadata": {"name": "default"},
                                               "spec": {"address": trove.url}})
    api.create(VSO, "vaultauths", OPNS, {"apiVersion": VSO, "kind": "VaultAuth", "metadata": {"name": "default"},
                                         "spec": {"method": "kubernetes", "mount": "kubernetes",
                                                  "kubernetes": {"role": "app", "serviceAccount": "default",
                                                                 "audiences": ["trove"]}}})
    return start_operator(api, procs, log_dir)


def start_operator(api, procs, log_dir):
    """`trove secrets-operator` with api's kubeconfig in trove-system; its
    /metrics at .metrics_url."""
    port, metrics = free_port(), free_port()
    p = TroveProcess([TROVE_BIN, "secrets-operator", "-kubeconfig", api.kubeconfig, "-operator-namespace", OPNS,
                      "-metrics-bind-address", f"127.0.0.1:{metrics}", "-health-probe-bind-address",
                      f"127.0.0.1:{port}", "-log-level", "debug"],
                     log_dir, "operator", f"http://127.0.0.1:{port}/healthz")
    p.metrics_url = f"http://127.0.0.1:{metrics}/metrics"
    procs.append(p)
    p.start()
    return p


def reconciles(op, kind="VaultStaticSecret"):
    """The operator's reconcile count for kind once it has not moved for a
    second."""
    import requests
    key = f'trove_operator_reconciles_total{{kind="{kind}"}} '
    last = None
    while True:
        text = requests.get(op.metrics_url, timeout=5).text
        v = next((float(ln.split()[-1]) for ln in text.splitlines() if ln.startswith(key)), 0.0)
        if v == last:
            return v
        last = v
        time.sleep(1)


def secret_data(api, ns, name):
    s = api.get("v1", "secrets", ns, name)
    if s is None:
        return None
    return {k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()}


def deployment(api, ns, name):
    api.create("apps/v1", "deployments", ns, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})


def restarted_at(api, ns, name):
    d = api.get("apps/v1", "deployments", ns, name)
    return ((d["spec"]["template"].get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT)


def vss(name, dest, **spec):
    s = {"type": "kv-v2", "mount": "secret", "path": name, "refreshAfter": "1s",
         "destination": {"name": dest, "create": True}}
    s.update(spec)
    return {"apiVersion": VSO, "kind": "VaultStaticSecret", "metadata": {"name": name}, "spec": s}


def condition(obj, typ):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == typ:
            return c
    return None


def test_static_secret_follows_kv_restarts_once_and_is_put_back(api, trove, operator):
    kv_put(trove, "web", {"user": "app", "password": "p1"})
    deployment(api, "app", "web")
    api.create(VSO, "vaultstaticsecrets", "app",
               vss("web", "web-creds", rolloutRestartTargets=[{"kind": "Deployment", "name": "web"}]))
    data = wait_for("the Secret", lambda: secret_data(api, "app", "web-creds"))
    assert data["password"] == "p1" and data["user"] == "app"
    assert '"password":"p1"' in data["_raw"]
    s = api.get("v1", "secrets", "app", "web-creds")
    assert s["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "hashicorp-vso"
    ref = s["metadata"]["ownerReferences"][0]
    assert ref["kind"] == "VaultStaticSecret" and ref["name"] == "web"
    vss_obj = wait_for("status", lambda: (o := api.get(VSO, "vaultstaticsecrets", "app", "web"))
                       and (o.get("status") or {}).get("secretMAC") and o)
    # A MAC of the data, never the data (whole values: the MAC's base64 may
    # hold the letters p1 by chance).
    assert '"p1"' not in json.dumps(vss_obj["status"])
    assert restarted_at(api, "app", "web") is None  # never on the first sync

    # A KV update: followed within refreshAfter, one restart.
    kv_put(trove, "web", {"user": "app", "password": "p2"})
    wait_for("the update", lambda: (secret_data(api, "app", "web-creds") or {}).get("password") == "p2")
    first = wait_for("the restart", lambda: restarted_at(api, "app", "web"))
    writes = len(api.requests_to("PUT", "/secrets/web-creds"))
    restarts = len(api.requests_to("PATCH", "/deployments/web"))
    assert restarts == 1

    # Unchanged refreshes: no write, no restart.
    time.sleep(4)
    assert len(api.requests_to("PUT", "/secrets/web-creds")) == writes
    assert len(api.requests_to("PATCH", "/deployments/web")) == 1
    assert restarted_at(api, "app", "web") == first

    # Edited by hand: put back, and no restart (the data is what it was).
    s = api.get("v1", "secrets", "app", "web-creds")
    s["data"]["password"] = base64.b64encode(b"hacked").decode()
    api.put("v1", "secrets", "app", s)
    wait_for("the repair", lambda: (secret_data(api, "app", "web-creds") or {}).get("password") == "p2")
    time.sleep(1)
    assert len(api.requests_to("PATCH", "/deployments/web")) == 1

    # Deleting the resource deletes the Secret (garbage collection).
    api.delete(VSO, "vaultstaticsecrets", "app", "web")
    wait_for("the Secret's deletion", lambda: api.get("v1", "secrets", "app", "web-creds") is None)


def test_one_reconcile_per_change_not_per_status_write(api, trove, operator):
    # VSO's predicates: the operator's own status write (same generation)
    # brings no reconcile; a change of spec, labels or annotations one.
    kv_put(trove, "once", {"password": "p"})
    api.create(VSO, "vaultstaticsecrets", "app", vss("once", "once", refreshAfter="1h"))
    wait_for("the Secret", lambda: secret_data(api, "app", "once"))
    wait_for("the status", lambda: (api.get(VSO, "vaultstaticsecrets", "app", "once").get("status") or {})
             .get("secretMAC"))
    assert reconciles(operator) == 1
    expected = 1
    for change in ("labels", "annotations", "spec"):
        o = api.get(VSO, "vaultstaticsecrets", "app", "once")
        if change == "spec":
            o["spec"]["refreshAfter"] = "2h"
        else:
            o["metadata"][change] = {"changed": change}
        api.put(VSO, "vaultstaticsecrets", "app", o)
        expected += 1
        wait_for(f"the reconcile for {change}", lambda: reconciles(operator) >= expected)
        assert reconciles(operator) == expected, change
    # The Secret was rewritten only for the new spec (always written), not
    # for labels or annotations with the data unchanged.
    assert len(api.requests_to("PUT", "/secrets/once")) == 1


def test_allowed_namespaces_refuses_other_namespaces(api, trove, operator):
    kv_put(trove, "shared", {"token": "t0p"})
    api.create(VSO, "vaultauths", "team-a", {"apiVersion": VSO, "kind": "VaultAuth", "metadata": {"name": "a"},
                                            "spec": {"method": "kubernetes", "vaultConnectionRef": f"{OPNS}/default",
                                                     "kubernetes": {"role": "app", "serviceAccount": "default",
                                                                    "audiences": ["trove"]}}})
    api.create(VSO, "vaultstaticsecrets", "team-b", vss("shared", "loot", vaultAuthRef="team-a/a"))
    o = wait_for("the refusal", lambda: (o := api.get(VSO, "vaultstaticsecrets", "team-b", "shared"))
                 and condition(o, "SecretSynced") and o)
    assert condition(o, "SecretSynced")["status"] == "False"
    assert "allowedNamespaces" in condition(o, "SecretSynced")["message"]
    assert any("does not allow namespace team-b" in e.get("message", "") for e in api.events("team-b"))
    assert api.get("v1", "secrets", "team-b", "loot") is None
    # Allowing team-b by name lets it through.
    a = api.get(VSO, "vaultauths", "team-a", "a")
    a["spec"]["allowedNamespaces"] = ["team-b"]
    api.put(VSO, "vaultauths", "team-a", a)
    data = wait_for("the Secret", lambda: secret_data(api, "team-b", "loot"), timeout=90)
    assert data["token"] == "t0p"


def test_stopped_trove_keeps_the_secret(api, trove, operator):
    kv_put(trove, "keep", {"password": "still"})
    api.create(VSO, "vaultstaticsecrets", "app", vss("keep", "keep"))
    wait_for("the Secret", lambda: secret_data(api, "app", "keep"))
    trove.proc.stop()
    o = wait_for("the status to say why", lambda: (o := api.get(VSO, "vaultstaticsecrets", "app", "keep"))
                 and (c := condition(o, "SecretSynced")) and c["status"] == "False" and o)
    assert condition(o, "SecretSynced")["reason"] == "VaultClientError"
    assert secret_data(api, "app", "keep") == {"password": "still", "_raw": secret_data(api, "app", "keep")["_raw"]}
    time.sleep(2)
    assert secret_data(api, "app", "keep")["password"] == "still"


@pytest.fixture
def database(trove, pg_server):
    srv = trove
    root = srv.root_token
    assert srv.request("POST", "/v1/sys/mounts/database", token=root, json={"type": "database"}).status_code == 204
    r = srv.request("POST", "/v1/database/config/pg", token=root, json={
        "plugin_name": "postgresql-database-plugin", "allowed_roles": ["*"],
        "connection_url": f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{pg_server.port}/postgres",
        "username": pg_server.superuser, "password": pg_server.password})
    assert r.status_code in (200, 204), r.text
    r = srv.request("POST", "/v1/database/roles/app", token=root, json={
        "db_name": "pg", "default_ttl": "8s", "max_ttl": "1h",
        "creation_statements": ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
                                "VALID UNTIL '{{expiration}}';"]})
    assert r.status_code in (200, 204), r.text
    return pg_server


def test_dynamic_secret_postgres_credentials_renewed_and_revoked(api, trove, database, operator):
    api.create(VSO, "vaultdynamicsecrets", "app", {
        "apiVersion": VSO, "kind": "VaultDynamicSecret", "metadata": {"name": "db"},
        "spec": {"mount": "database", "path": "creds/app", "renewalPercent": 50, "revoke": True,
                 "destination": {"name": "db-creds", "create": True}}})
    data = wait_for("the credentials", lambda: secret_data(api, "app", "db-creds"))
    user, password = data["username"], data["password"]
    assert database.can_login(user, password)
    o = api.get(VSO, "vaultdynamicsecrets", "app", "db")
    lease = o["status"]["secretLease"]
    assert lease["id"].startswith("database/creds/app/") and lease["renewable"] and lease["duration"] == 8
    # Renewed at 50%: the lease stays, the credentials too.
    first = o["status"]["lastRenewalTime"]
    wait_for("a renewal", lambda: api.get(VSO, "vaultdynamicsecrets", "app", "db")["status"]["lastRenewalTime"] > first)
    assert secret_data(api, "app", "db-creds")["username"] == user
    assert any(e.get("reason") == "SecretLeaseRenewal" for e in api.events("app"))
    # One lease was issued, not one per reconcile.
    r = trove.request("LIST", "/v1/sys/leases/lookup/database/creds/app/", token=trove.root_token)
    assert r.status_code == 200 and len(r.json()["data"]["keys"]) == 1, r.text
    # Deleted with revoke: true: the role is gone from PostgreSQL.
    api.delete(VSO, "vaultdynamicsecrets", "app", "db")
    wait_for("the revocation", lambda: not database.role_exists(user))
    wait_for("the resource's removal", lambda: api.get(VSO, "vaultdynamicsecrets", "app", "db") is None)


def verify_chain(tmp_path, ca_pem, tls_crt):
    """openssl verify: the first certificate of tls.crt against the CA, the
    rest of tls.crt (the chain VSO appends) as untrusted intermediates."""
    ca, leaf, chain = tmp_path / "ca.pem", tmp_path / "leaf.pem", tmp_path / "chain.pem"
    certs = ["-----BEGIN" + c for c in tls_crt.split("-----BEGIN") if c.strip()]
    ca.write_text(ca_pem)
    leaf.write_text(certs[0])
    chain.write_text("".join(certs[1:]) or ca_pem)
    r = subprocess.run(["openssl", "verify", "-CAfile", str(ca), "-untrusted", str(chain), str(leaf)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return len(certs)


def test_pki_secret_chains_to_the_ca_and_is_reissued(api, trove, operator, tmp_path):
    root = trove.root_token
    assert trove.request("POST", "/v1/sys/mounts/pki", token=root, json={"type": "pki"}).status_code == 204
    r = trove.request("POST", "/v1/pki/root/generate/internal", token=root,
                      json={"common_name": "Trove Test Root", "ttl": "24h", "key_type": "ec"})
    assert r.status_code == 200, r.text
    ca_pem = r.json()["data"]["certificate"]
    r = trove.request("POST", "/v1/pki/roles/web", token=root,
                      json={"allow_any_name": True, "max_ttl": "1h", "key_type": "ec"})
    assert r.status_code in (200, 204), r.text
    api.create(VSO, "vaultpkisecrets", "app", {
        "apiVersion": VSO, "kind": "VaultPKISecret", "metadata": {"name": "cert"},
        "spec": {"mount": "pki", "role": "web", "commonName": "web.app.svc", "ttl": "20s", "expiryOffset": "14s",
                 "destination": {"name": "web-tls", "create": True, "type": "kubernetes.io/tls"}}})
    data = wait_for("the certificate", lambda: secret_data(api, "app", "web-tls"))
    assert api.get("v1", "secrets", "app", "web-tls")["type"] == "kubernetes.io/tls"
    assert verify_chain(tmp_path, ca_pem, data["tls.crt"]) == 2  # the leaf, then the issuing CA
    leaf = x509.load_pem_x509_certificate(data["tls.crt"].encode())
    assert leaf.subject.rfc4514_string() == "CN=web.app.svc"
    assert "BEGIN" in data["tls.key"] and data["serial_number"]
    first = data["serial_number"]
    # Re-issued once within expiryOffset of expiry (about 6 s on).
    again = wait_for("the re-issue", lambda: (d := secret_data(api, "app", "web-tls"))
                     and d["serial_number"] != first and d, timeout=30)
    verify_chain(tmp_path, ca_pem, again["tls.crt"])
    assert any(e.get("reason") == "SecretRotated" for e in api.events("app"))
