"""The Helm chart deploy/helm/trove, driven by the real helm 3 binary.

`helm lint --strict` for the default and HA values; `helm template` for the
default, HA, operator, cert-manager and audit values, with assertions on the
rendered objects (security context, probes, storage, RBAC least privilege,
the default VaultConnection); values.schema.json refusing bad values; the
rendered trove.hcl accepted by `trove server -check` and served by a real
server; the agent sidecar example's agent.hcl accepted by `trove agent`;
the CRDs and the rendered manifests applied with kubectl to the Kubernetes
stand-in (kube_apiserver.py).
"""

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

import kube_tools
from trove_harness import TROVE_BIN, TroveProcess, free_port, project_version, sanitizer_env

HERE = Path(__file__).resolve().parent
CHART = HERE.parent.parent / "deploy" / "helm" / "trove"
HA_VALUES = CHART / "values-ha.yaml"
SIDECAR = CHART / "examples" / "agent-sidecar.yaml"
NS = "trove-system"
RELEASE = "t"
FULL = "t-trove"

CRD_KINDS = ["vaultconnections", "vaultauths", "vaultstaticsecrets", "vaultdynamicsecrets", "vaultpkisecrets"]


def helm(args, check=True):
    return kube_tools.run("helm", args, check=check)


def render(*args, check=True):
    """helm template of the chart with args; the rendered objects."""
    p = helm(["template", RELEASE, str(CHART), "--namespace", NS] + list(args), check=check)
    if not check:
        return p
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def one(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {[o['metadata']['name'] for o in found]}"
    return found[0]


def kinds(objs):
    return sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objs)


def container(workload, name):
    spec = workload["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == name)


HA = ["-f", str(HA_VALUES)]
OPERATOR = ["--set", "operator.enabled=true"]
CERT_MANAGER = ["--set", "server.tls.mode=certManager", "--set", "server.tls.certManager.issuerRef.name=ca-issuer"]
AUDIT = ["--set", "server.audit.enabled=true"]


# ---------------------------------------------------------------- lint


@pytest.mark.parametrize("values", [[], HA, OPERATOR + CERT_MANAGER + AUDIT], ids=["default", "ha", "everything"])
def test_lint_strict(values):
    p = helm(["lint", "--strict", str(CHART)] + values)
    assert "0 chart(s) failed" in p.stdout, p.stdout


def test_chart_metadata_follows_the_project():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "trove"
    assert chart["version"] == "0.1.0"
    assert chart["appVersion"] == project_version()


# ---------------------------------------------------------------- server


def test_default_render_is_one_lmdb_server():
    objs = render()
    assert kinds(objs) == sorted(
        [
            "ClusterRoleBinding/t-trove-server-auth-delegator",
            "ConfigMap/t-trove-config",
            "NetworkPolicy/t-trove",
            "Service/t-trove",
            "Service/t-trove-internal",
            "ServiceAccount/t-trove-server",
            "StatefulSet/t-trove",
        ]
    )
    for o in objs:
        labels = o["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "trove"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        if o["kind"] not in ("ClusterRoleBinding",):
            assert o["metadata"]["namespace"] == NS
    sts = one(objs, "StatefulSet")
    assert sts["spec"]["replicas"] == 1
    assert sts["spec"]["serviceName"] == "t-trove-internal"
    c = container(sts, "trove")
    assert c["args"] == ["server", "-config=/trove/config/trove.hcl"]
    pod_name = next(e for e in c["env"] if e["name"] == "POD_NAME")
    assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"

    [claim] = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert "storageClassName" not in claim["spec"]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["data"]["mountPath"] == "/trove/data"
    assert mounts["config"]["readOnly"] and mounts["tls"]["readOnly"]
    tls = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls")
    assert tls["secret"]["secretName"] == "t-trove-tls"

    hcl = one(objs, "ConfigMap")["data"]["trove.hcl"]
    assert re.search(r'storage "lmdb" \{\s*path = "/trove/data"', hcl), hcl
    assert 'tls_cert_file   = "/trove/tls/tls.crt"' in hcl and "tls_disable" not in hcl
    assert "disable_mlock = false" in hcl


def pod_env(objs, pod):
    """The server container's plain env values as the kubelet expands them
    for pod ($(POD_NAME) only)."""
    env = container(one(objs, "StatefulSet"), "trove")["env"]
    return {e["name"]: e["value"].replace("$(POD_NAME)", pod) for e in env if "value" in e}


def test_each_pod_names_itself_in_api_addr():
    objs = render(*HA)
    names = [e["name"] for e in container(one(objs, "StatefulSet"), "trove")["env"]]
    # $(POD_NAME) expands only when POD_NAME is declared earlier.
    assert names.index("POD_NAME") < names.index("VAULT_API_ADDR") < names.index("VAULT_CLUSTER_ADDR")
    for i in range(3):
        host = f"{FULL}-{i}.t-trove-internal.{NS}.svc.cluster.local"
        env = pod_env(objs, f"{FULL}-{i}")
        assert env["VAULT_API_ADDR"] == f"https://{host}:8200"
        assert env["VAULT_CLUSTER_ADDR"] == f"https://{host}:8201"
    # The config itself is the same for every pod.
    assert list(one(objs, "ConfigMap")["data"]) == ["trove.hcl"]
    assert pod_env(render("--set", "server.tls.mode=disabled"), "p")["VAULT_API_ADDR"].startswith("http://p.")


def test_server_container_is_locked_down():
    sts = one(render(), "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True
    assert psc["runAsUser"] == 100 and psc["fsGroup"] == 1000
    assert psc["seccompProfile"]["type"] == "RuntimeDefault"
    sc = container(sts, "trove")["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["IPC_LOCK"]}
    assert sc["seccompProfile"]["type"] == "RuntimeDefault"
    assert "privileged" not in sc
    # The token is mounted for the kubernetes auth method's reviews only.
    crb = one(render(), "ClusterRoleBinding")
    assert crb["roleRef"]["name"] == "system:auth-delegator"
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "t-trove-server", "namespace": NS}]
    assert pod["automountServiceAccountToken"] is True
    no_review = render("--set", "server.authDelegator.enabled=false")
    assert one(no_review, "StatefulSet")["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert not [o for o in no_review if o["kind"] == "ClusterRoleBinding"]
    # A read-only root needs a writable /tmp.
    assert any(m["mountPath"] == "/tmp" for m in container(sts, "trove")["volumeMounts"])

    custom = one(render("--set", "server.runAsUser=4242", "--set", "server.fsGroup=4343"), "StatefulSet")
    assert custom["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 4242
    assert custom["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == 4343


def test_probes_as_vaults_chart_has_them():
    c = container(one(render(), "StatefulSet"), "trove")
    path = "/v1/sys/health?standbyok=true&sealedcode=204&uninitcode=204"
    assert c["readinessProbe"]["httpGet"] == {"path": path, "port": "api", "scheme": "HTTPS"}
    assert c["livenessProbe"]["httpGet"]["path"].startswith("/v1/sys/health?")
    assert c["livenessProbe"]["initialDelaySeconds"] >= 30
    plain = container(one(render("--set", "server.tls.mode=disabled"), "StatefulSet"), "trove")
    assert plain["readinessProbe"]["httpGet"]["scheme"] == "HTTP"
    assert "tls" not in {m["name"] for m in plain["volumeMounts"]}


def test_services_and_network_policy():
    objs = render()
    svc = one(objs, "Service", FULL)
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {"api": 8200, "cluster": 8201}
    headless = one(objs, "Service", "t-trove-internal")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    sts = one(objs, "StatefulSet")
    selector = sts["spec"]["selector"]["matchLabels"]
    assert svc["spec"]["selector"] == selector == headless["spec"]["selector"]
    assert sts["spec"]["template"]["metadata"]["labels"].items() >= selector.items()

    np = one(objs, "NetworkPolicy")
    assert np["spec"]["podSelector"]["matchLabels"] == selector
    assert np["spec"]["policyTypes"] == ["Ingress"]
    api, cluster = np["spec"]["ingress"]
    assert api["ports"] == [{"port": 8200, "protocol": "TCP"}]
    assert api["from"] == [{"namespaceSelector": {}}]
    assert cluster["ports"] == [{"port": 8201, "protocol": "TCP"}]
    assert cluster["from"] == [{"podSelector": {"matchLabels": selector}}]

    narrowed = one(
        render("--set-json", 'server.networkPolicy.apiFrom=[{"namespaceSelector":{"matchLabels":{"team":"a"}}}]'),
        "NetworkPolicy",
    )
    assert narrowed["spec"]["ingress"][0]["from"] == [{"namespaceSelector": {"matchLabels": {"team": "a"}}}]


def test_ha_values_three_servers_on_postgresql():
    objs = render(*HA)
    sts = one(objs, "StatefulSet")
    assert sts["spec"]["replicas"] == 3
    assert "volumeClaimTemplates" not in sts["spec"], "PostgreSQL storage needs no data PVC"
    pod = sts["spec"]["template"]["spec"]
    anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    assert anti[0]["labelSelector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
    env = {e["name"]: e for e in container(sts, "trove")["env"]}
    assert env["VAULT_PG_CONNECTION_URL"]["valueFrom"]["secretKeyRef"] == {"name": "trove-pg", "key": "connection_url"}

    cm = one(objs, "ConfigMap")
    hcl = cm["data"]["trove.hcl"]
    assert 'storage "postgresql"' in hcl and "ha_enabled   = true" in hcl
    assert 'table        = "vault_kv_store"' in hcl and 'ha_table     = "vault_ha_locks"' in hcl
    # The URL (with its password) stays in the Secret, never in the ConfigMap.
    assert not [f for f in cm["data"].values() if re.search(r"^\s*connection_url\s*=", f, re.M)]
    assert 'storage "lmdb"' not in hcl

    pdb = one(objs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
    # One server: no PDB (it would block every drain).
    assert not [o for o in render() if o["kind"] == "PodDisruptionBudget"]


def test_replicas_without_ha_storage_refused():
    p = render("--set", "server.replicas=3", check=False)
    assert p.returncode != 0
    assert "server.replicas" in p.stderr and "haEnabled" in p.stderr


def test_tls_from_cert_manager():
    objs = render(*CERT_MANAGER)
    cert = one(objs, "Certificate")
    assert cert["apiVersion"] == "cert-manager.io/v1"
    assert cert["spec"]["issuerRef"] == {"name": "ca-issuer", "kind": "Issuer", "group": "cert-manager.io"}
    sts = one(objs, "StatefulSet")
    tls = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls")
    assert cert["spec"]["secretName"] == tls["secret"]["secretName"] == "t-trove-tls"
    names = cert["spec"]["dnsNames"]
    for n in [FULL, f"{FULL}.{NS}.svc", f"{FULL}.{NS}.svc.cluster.local", f"*.t-trove-internal.{NS}.svc.cluster.local"]:
        assert n in names
    # Every pod's api_addr host is covered by the certificate.
    for i in range(3):
        host = f"{FULL}-{i}.t-trove-internal.{NS}.svc.cluster.local"
        assert any(n == host or (n.startswith("*.") and host.split(".", 1)[1] == n[2:]) for n in names)
    assert "server auth" in cert["spec"]["usages"]
    cluster = render(*CERT_MANAGER, "--set", "server.tls.certManager.issuerRef.kind=ClusterIssuer")
    assert one(cluster, "Certificate")["spec"]["issuerRef"]["kind"] == "ClusterIssuer"

    p = render("--set", "server.tls.mode=certManager", check=False)
    assert p.returncode != 0 and "issuerRef.name" in p.stderr
    assert not [o for o in render() if o["kind"] == "Certificate"]


def test_audit_file_on_its_own_volume():
    objs = render(*AUDIT, "--set", "server.audit.storageClass=fast")
    sts = one(objs, "StatefulSet")
    claims = {c["metadata"]["name"]: c for c in sts["spec"]["volumeClaimTemplates"]}
    assert set(claims) == {"data", "audit"}
    assert claims["audit"]["spec"]["storageClassName"] == "fast"
    mounts = {m["name"]: m["mountPath"] for m in container(sts, "trove")["volumeMounts"]}
    assert mounts["audit"] == "/trove/audit"
    hcl = one(objs, "ConfigMap")["data"]["trove.hcl"]
    assert re.search(r'audit "file" \{.*file_path = "/trove/audit/audit.log"', hcl, re.S), hcl
    assert "audit_file_dirs" not in hcl
    api = one(render(*AUDIT, "--set", "server.audit.allowApiDevices=true"), "ConfigMap")["data"]["trove.hcl"]
    assert 'audit_file_dirs = ["/trove/audit"]' in api
    assert 'audit "file"' not in one(render(), "ConfigMap")["data"]["trove.hcl"]


# ---------------------------------------------------------------- schema


@pytest.mark.parametrize(
    "setting, needle",
    [
        ("server.tls.mode=bogus", "server.tls.mode"),
        ("server.replica=3", "replica"),  # a typo, not a key
        ("server.storage.type=etcd", "server.storage.type"),
        ("server.replicas=0", "server.replicas"),
        ("server.logLevel=verbose", "server.logLevel"),
        ("server.service.port=70000", "server.service.port"),
        ("server.podAntiAffinity=always", "server.podAntiAffinity"),
        ("server.storage.lmdb.size=lots", "server.storage.lmdb.size"),
        ("server.storage.postgresql.table=kv;drop", "server.storage.postgresql.table"),
        ("image.pullPolicy=Sometimes", "image.pullPolicy"),
        ("operator.defaultAuthMethod.method=ldap", "operator.defaultAuthMethod.method"),
        ("operator.defaultAuthMethod.kubernetes.tokenExpirationSeconds=60", "tokenExpirationSeconds"),
        ("operator.rbac.secrets.clusterwide=false", "clusterwide"),
        ("operator.defaultVaultConnection.address=trove:8200", "operator.defaultVaultConnection.address"),
        ("sever.enabled=false", "sever"),
        ("operator.maxConcurrentReconciles=0", "operator.maxConcurrentReconciles"),
    ],
)
def test_schema_refuses(setting, needle):
    p = render("--set", setting, check=False)
    assert p.returncode != 0, f"--set {setting} was accepted"
    assert needle in p.stderr, p.stderr


# ---------------------------------------------------------------- operator


def test_operator_deployment():
    objs = render(*OPERATOR)
    dep = one(objs, "Deployment", "t-trove-operator")
    c = container(dep, "operator")
    assert c["command"] == ["trove"]
    assert c["args"][0] == "secrets-operator"
    assert set(c["args"][1:]) == {"-leader-elect", "-health-probe-bind-address=:8081", "-metrics-bind-address=:8080",
                                  "-log-level=info", "-max-concurrent-reconciles=4"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert dep["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "t-trove-operator"
    one(objs, "ServiceAccount", "t-trove-operator")
    metrics = one(objs, "Service", "t-trove-operator-metrics")
    assert metrics["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert metrics["spec"]["ports"][0]["port"] == 8080

    solo = container(one(render(*OPERATOR, "--set", "operator.leaderElect=false"), "Deployment"), "operator")
    assert "-leader-elect" not in solo["args"]
    # The operator alone, pointed at a server elsewhere.
    alone = render(*OPERATOR, "--set", "server.enabled=false",
                   "--set", "operator.defaultVaultConnection.address=https://trove.example:8200")
    assert not [o for o in alone if o["kind"] in ("StatefulSet", "ConfigMap")]
    assert one(alone, "VaultConnection")["spec"]["address"] == "https://trove.example:8200"
    p = render(*OPERATOR, "--set", "server.enabled=false", check=False)
    assert p.returncode != 0 and "defaultVaultConnection.address" in p.stderr


def test_operator_flags_are_the_commands():
    """Every flag the Deployment passes is one `trove secrets-operator -h`
    lists (a flag it does not know stops the operator at start)."""
    p = subprocess.run([TROVE_BIN, "secrets-operator", "-h"], capture_output=True, text=True, timeout=10)
    if "unknown command" in p.stdout + p.stderr:
        pytest.skip("this trove has no secrets-operator command yet")
    assert p.returncode == 0, p.stderr
    listed = set(re.findall(r"^\s+-([a-z][a-z0-9-]*)", p.stdout, re.M))
    args = container(one(render(*OPERATOR, "--set", "operator.extraArgs={-log-format=json}"), "Deployment"),
                     "operator")["args"]
    for a in args[1:]:
        assert a.lstrip("-").split("=", 1)[0] in listed, f"{a} is not a flag of trove secrets-operator:\n{p.stdout}"


def rules_of(objs, kind, name):
    return one(objs, kind, name)["rules"]


def grants(rules):
    """{(group, resource): set(verbs)} of a rule list."""
    out = {}
    for r in rules:
        for g in r["apiGroups"]:
            for res in r["resources"]:
                out.setdefault((g, res), set()).update(r["verbs"])
    return out


def test_operator_rbac_least_privilege():
    objs = render(*OPERATOR)
    for o in objs:
        for r in o.get("rules", []):
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in r[field], f"{o['kind']}/{o['metadata']['name']} grants * in {field}"
            assert "resourceNames" not in r or r["resourceNames"]
    main = grants(rules_of(objs, "ClusterRole", "t-trove-operator"))
    expected = {}
    for k in CRD_KINDS:
        expected[("secrets.hashicorp.com", k)] = {"get", "list", "watch", "patch", "update"}
        expected[("secrets.hashicorp.com", f"{k}/status")] = {"get", "patch", "update"}
        expected[("secrets.hashicorp.com", f"{k}/finalizers")] = {"update"}
    expected[("", "serviceaccounts/token")] = {"create"}
    expected[("", "events")] = {"create", "patch"}
    for w in ("deployments", "statefulsets", "daemonsets"):
        expected[("apps", w)] = {"get", "patch"}
    assert main == expected

    secrets = grants(rules_of(objs, "ClusterRole", "t-trove-operator-secrets"))
    assert secrets == {("", "secrets"): {"get", "list", "watch", "create", "update", "patch", "delete"}}
    # Default: cluster-wide, as VSO's chart.
    crb = one(objs, "ClusterRoleBinding", "t-trove-operator-secrets")
    assert crb["roleRef"]["name"] == "t-trove-operator-secrets"
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "t-trove-operator", "namespace": NS}]

    lease = one(objs, "Role", "t-trove-operator-leader-election")
    assert lease["metadata"]["namespace"] == NS
    assert grants(lease["rules"]) == {("coordination.k8s.io", "leases"): {"get", "create", "update", "patch"}}
    rb = one(objs, "RoleBinding", "t-trove-operator-leader-election")
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": lease["metadata"]["name"]}

    argo = grants(rules_of(render(*OPERATOR, "--set", "operator.rbac.argoRollouts=true"), "ClusterRole", "t-trove-operator"))
    assert argo[("argoproj.io", "rollouts")] == {"get", "patch"}
    assert ("argoproj.io", "rollouts") not in main


def test_operator_secrets_only_where_told():
    objs = render(*OPERATOR, "--set", "operator.rbac.secrets.clusterWide=false",
                  "--set", "operator.rbac.secrets.namespaces={team-a,team-b}")
    # No cluster-scoped binding reaches the Secrets role ...
    for o in objs:
        if o["kind"] == "ClusterRoleBinding":
            assert o["roleRef"]["name"] != "t-trove-operator-secrets"
    # ... and no role but the Secrets one mentions Secrets.
    for o in objs:
        if o["kind"] in ("ClusterRole", "Role") and o["metadata"]["name"] != "t-trove-operator-secrets":
            assert not [k for k in grants(o["rules"]) if k[1].startswith("secrets")], o["metadata"]["name"]
    bindings = [o for o in objs if o["kind"] == "RoleBinding" and o["roleRef"]["name"] == "t-trove-operator-secrets"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted([NS, "team-a", "team-b"])
    for b in bindings:
        assert b["roleRef"]["kind"] == "ClusterRole"
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": "t-trove-operator", "namespace": NS}]
    # The release namespace listed again is bound once.
    again = render(*OPERATOR, "--set", "operator.rbac.secrets.clusterWide=false",
                   "--set", f"operator.rbac.secrets.namespaces={{{NS}}}")
    assert len([o for o in again if o["kind"] == "RoleBinding" and o["roleRef"]["name"] == "t-trove-operator-secrets"]) == 1


def test_default_connection_and_auth():
    objs = render(*OPERATOR)
    conn = one(objs, "VaultConnection", "default")
    assert conn["apiVersion"] == "secrets.hashicorp.com/v1beta1"
    assert conn["metadata"]["namespace"] == NS
    assert conn["spec"]["address"] == f"https://{FULL}.{NS}.svc.cluster.local:8200"
    assert conn["spec"]["caCertSecretRef"] == "t-trove-tls"
    assert conn["spec"]["skipTLSVerify"] is False
    assert not [o for o in objs if o["kind"] == "VaultAuth"]
    plain = one(render(*OPERATOR, "--set", "server.tls.mode=disabled"), "VaultConnection")
    assert plain["spec"]["address"].startswith("http://") and "caCertSecretRef" not in plain["spec"]

    auth = one(
        render(*OPERATOR, "--set", "operator.defaultAuthMethod.enabled=true",
               "--set", "operator.defaultAuthMethod.kubernetes.role=operator",
               "--set", "operator.defaultAuthMethod.allowedNamespaces={team-a}",
               "--set", "operator.defaultAuthMethod.kubernetes.tokenAudiences={trove}"),
        "VaultAuth",
    )
    assert auth["metadata"]["name"] == "default"
    assert auth["spec"]["method"] == "kubernetes" and auth["spec"]["mount"] == "kubernetes"
    assert auth["spec"]["allowedNamespaces"] == ["team-a"]
    assert auth["spec"]["kubernetes"] == {
        "role": "operator", "serviceAccount": "default", "audiences": ["trove"], "tokenExpirationSeconds": 600,
    }
    p = render(*OPERATOR, "--set", "operator.defaultAuthMethod.enabled=true", check=False)
    assert p.returncode != 0 and "kubernetes.role" in p.stderr
    approle = one(
        render(*OPERATOR, "--set", "operator.defaultAuthMethod.enabled=true",
               "--set", "operator.defaultAuthMethod.method=appRole",
               "--set", "operator.defaultAuthMethod.mount=approle",
               "--set", "operator.defaultAuthMethod.appRole.roleId=r1",
               "--set", "operator.defaultAuthMethod.appRole.secretRef=approle-secret"),
        "VaultAuth",
    )
    assert approle["spec"]["appRole"] == {"roleId": "r1", "secretRef": "approle-secret"}
    assert "kubernetes" not in approle["spec"]


def test_notes_render(tmp_path):
    """NOTES.txt through helm's own renderer: a copy of the chart carries it
    as a file and a ConfigMap renders it with tpl (helm template leaves
    NOTES out, and helm install wants a cluster)."""
    chart = tmp_path / "trove"
    shutil.copytree(CHART, chart)
    (chart / "notes.txt").write_text((CHART / "templates" / "NOTES.txt").read_text())
    (chart / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n"
        "data:\n  notes: {{ tpl (.Files.Get \"notes.txt\") . | quote }}\n")

    def notes(*args):
        p = helm(["template", RELEASE, str(chart), "--namespace", NS, "--show-only", "templates/zz-notes.yaml"]
                 + list(args))
        return yaml.safe_load(p.stdout)["data"]["notes"]

    text = notes(*OPERATOR)
    assert f"https://{FULL}.{NS}.svc.cluster.local:8200" in text
    assert "t-trove-tls" in text and "trove operator init" in text
    assert "VaultConnection" in text
    assert "WARNING: TLS is disabled" in notes("--set", "server.tls.mode=disabled")
    narrow = notes(*OPERATOR, "--set", "operator.rbac.secrets.clusterWide=false",
                   "--set", "operator.rbac.secrets.namespaces={team-a}")
    assert f"It may write Secrets only in: {NS}, team-a" in narrow


# ---------------------------------------------------------------- the rendered config, run


def rendered_config(tmp_path, *args, port=None):
    """The ConfigMap's trove.hcl written under tmp_path with the pod paths
    moved there; ([file], the environment pod 0 gets)."""
    objs = render(*args)
    text = one(objs, "ConfigMap")["data"]["trove.hcl"]
    for d in ("data", "tls", "audit"):
        text = text.replace(f"/trove/{d}", str(tmp_path / d))
        (tmp_path / d).mkdir(exist_ok=True)
    if port:
        text = text.replace('address = "0.0.0.0:8200"', f'address = "127.0.0.1:{port}"')
    path = tmp_path / "trove.hcl"
    path.write_text(text)
    env = {k: v for k, v in pod_env(objs, f"{FULL}-0").items() if k.startswith("VAULT_") and k.endswith("_ADDR")}
    return [path], env


def install_tls(tmp_path, tls_material):
    d = tmp_path / "tls"
    d.mkdir(exist_ok=True)
    (d / "tls.crt").write_bytes(tls_material.server_cert.read_bytes())
    (d / "tls.key").write_bytes(tls_material.server_key.read_bytes())
    (d / "ca.crt").write_bytes(tls_material.ca_cert.read_bytes())


def check(files, env):
    e = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    e.update(env)
    return subprocess.run([TROVE_BIN, "server", "-check"] + [f"-config={f}" for f in files],
                          capture_output=True, text=True, timeout=30, env=e)


@pytest.mark.parametrize("values", [[], AUDIT + ["--set", "server.audit.allowApiDevices=true"], CERT_MANAGER],
                         ids=["default", "audit", "cert-manager"])
def test_rendered_config_passes_check(tmp_path, tls_material, values):
    files, env = rendered_config(tmp_path, *values)
    install_tls(tmp_path, tls_material)
    p = check(files, env)
    assert p.returncode == 0, p.stdout + p.stderr
    # The check can fail: a key Trove does not know, through extraConfig.
    bad, env = rendered_config(tmp_path, *values, "--set", "server.extraConfig=cluster_adress = \"x\"")
    p = check(bad, env)
    assert p.returncode != 0 and "cluster_adress" in p.stderr, p.stdout + p.stderr


@pytest.mark.parametrize("ha", [True, False], ids=["ha", "postgresql"])
def test_postgresql_config_check(tmp_path, tls_material, ha):
    """The HA values' config (ha_enabled, which needs each pod's api_addr and
    cluster_addr), and one PostgreSQL node without HA."""
    files, env = rendered_config(tmp_path, *HA, "--set", f"server.storage.postgresql.haEnabled={str(ha).lower()}",
                                 *([] if ha else ["--set", "server.replicas=1"]))
    install_tls(tmp_path, tls_material)
    p = check(files, env)
    assert p.returncode == 0, p.stdout + p.stderr
    # The addresses come from the pod's environment, which HA requires.
    if ha:
        p = check(files, {})
        assert p.returncode != 0 and "api_addr" in p.stderr, p.stdout + p.stderr
        p = check(files, {"VAULT_API_ADDR": env["VAULT_API_ADDR"]})
        assert p.returncode != 0 and "cluster_addr" in p.stderr, p.stdout + p.stderr


def test_rendered_config_serves_the_probe_path(tmp_path, tls_material, procs, log_dir):
    """A server started on the chart's own config (paths and port moved,
    mlock off through a later file) answers the readiness probe's path with
    204 while uninitialised, where the bare health path says 501."""
    port = free_port()
    files, env = rendered_config(tmp_path, *AUDIT, port=port)
    install_tls(tmp_path, tls_material)
    override = tmp_path / "zz-test.hcl"
    override.write_text("disable_mlock = true\n")
    url = f"https://127.0.0.1:{port}"
    verify = str(tls_material.ca_cert)
    proc = TroveProcess([TROVE_BIN, "server"] + [f"-config={f}" for f in files + [override]], log_dir, "helm",
                        url + "/v1/sys/health", probe_kwargs={"verify": verify}, env={**sanitizer_env(), **env})
    procs.append(proc)
    proc.start()
    probe = container(one(render(), "StatefulSet"), "trove")["readinessProbe"]["httpGet"]["path"]
    assert requests.get(url + probe, verify=verify, timeout=5).status_code == 204
    assert requests.get(url + "/v1/sys/health", verify=verify, timeout=5).status_code == 501
    init = requests.put(url + "/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1}, verify=verify, timeout=10)
    assert init.status_code == 200, init.text
    assert requests.get(url + probe, verify=verify, timeout=5).status_code == 204  # sealed
    unseal = requests.put(url + "/v1/sys/unseal", json={"key": init.json()["keys"][0]}, verify=verify, timeout=10)
    assert unseal.json()["sealed"] is False
    assert requests.get(url + probe, verify=verify, timeout=5).status_code == 200
    # The declared audit device writes to the audit volume.
    token = init.json()["root_token"]
    requests.get(url + "/v1/sys/mounts", headers={"X-Vault-Token": token}, verify=verify, timeout=5)
    deadline = time.monotonic() + 5
    log = tmp_path / "audit" / "audit.log"
    while time.monotonic() < deadline and not (log.exists() and log.stat().st_size > 0):
        time.sleep(0.05)
    assert log.exists() and log.stat().st_size > 0
    assert oct(log.stat().st_mode & 0o777) == "0o640"


# ---------------------------------------------------------------- the sidecar example


def sidecar_objects():
    return [d for d in yaml.safe_load_all(SIDECAR.read_text()) if d]


def test_sidecar_example_shape():
    objs = sidecar_objects()
    dep = one(objs, "Deployment")
    spec = dep["spec"]["template"]["spec"]
    agent = next(c for c in spec["containers"] if c["name"] == "trove-agent")
    app = next(c for c in spec["containers"] if c["name"] == "app")
    assert agent["args"][:2] == ["agent", "-config=/etc/trove/agent.hcl"]
    assert spec["initContainers"][0]["args"][-1] == "-exit-after-auth"
    shared = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    assert shared == {"secrets"}
    assert {"name": "secrets", "mountPath": "/run/secrets/app", "readOnly": True} in app["volumeMounts"]
    assert any(m["name"] == "secrets" and not m.get("readOnly") for m in agent["volumeMounts"])
    assert not [c for c in spec["containers"] if "injector" in c["name"]]
    hcl = one(objs, "ConfigMap")["data"]["agent.hcl"]
    assert 'method "kubernetes"' in hcl and "template {" in hcl


def run_agent(tmp_path, hcl, tls_material, seconds=1.5):
    """Starts `trove agent` on hcl (the server and files moved to tmp_path);
    (still running after `seconds`, output)."""
    hcl = hcl.replace("https://trove.trove.svc:8200", f"https://127.0.0.1:{free_port()}")
    hcl = hcl.replace("/etc/trove-ca/ca.crt", str(tls_material.ca_cert))
    hcl = hcl.replace("/run/secrets/app", str(tmp_path / "out"))
    token = tmp_path / "sa-token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n")
    hcl = hcl.replace("/var/run/secrets/kubernetes.io/serviceaccount/token", str(token))
    (tmp_path / "out").mkdir(exist_ok=True)
    cfg = tmp_path / "agent.hcl"
    cfg.write_text(hcl)
    p = subprocess.Popen([TROVE_BIN, "agent", f"-config={cfg}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, start_new_session=True)
    try:
        p.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        p.terminate()
        out, _ = p.communicate(timeout=10)
        return True, out
    return False, p.communicate()[0]


def test_sidecar_agent_config_loads(tmp_path, tls_material):
    hcl = one(sidecar_objects(), "ConfigMap")["data"]["agent.hcl"]
    running, out = run_agent(tmp_path, hcl, tls_material)
    assert running, f"trove agent refused the example's agent.hcl:\n{out}"
    # A broken config is refused at once, so the check above means something.
    running, out = run_agent(tmp_path, hcl.replace("token_path", "token_file"), tls_material)
    assert not running and "token_file" in out, out


# ---------------------------------------------------------------- applied to the Kubernetes stand-in


@pytest.fixture
def stand_in(tmp_path):
    """kube_apiserver.py's stand-in and an admin kubeconfig for it."""
    kube_apiserver = pytest.importorskip("kube_apiserver")
    (tmp_path / "kube").mkdir()
    api = kube_apiserver.KubeAPIServer(tmp_path / "kube").start()
    try:
        api.kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        api.create("v1", "namespaces", None, {"metadata": {"name": NS}})
        yield api
    finally:
        api.stop()


def kubectl(api, args, **kw):
    return kube_tools.run("kubectl", args, kubeconfig=api.kubeconfig, **kw)


@pytest.mark.parametrize(
    "values",
    [[], OPERATOR + AUDIT,
     OPERATOR + ["--set", "operator.rbac.secrets.clusterWide=false", "--set", "operator.rbac.secrets.namespaces={team-a}",
                 "--set", "operator.defaultAuthMethod.enabled=true",
                 "--set", "operator.defaultAuthMethod.kubernetes.role=operator"]],
    ids=["default", "operator", "operator-namespaced"],
)
def test_rendered_manifests_apply(stand_in, tmp_path, values):
    """kubectl apply of the CRDs, then of everything the chart renders, on
    the stand-in (which checks each object's kind is served and each custom
    resource against its CRD's schema)."""
    stand_in.create("v1", "namespaces", None, {"metadata": {"name": "team-a"}})
    kubectl(stand_in, ["apply", "-f", str(CHART / "crds")])
    for crd in CRD_KINDS:
        kubectl(stand_in, ["wait", "--for=condition=Established", f"crd/{crd}.secrets.hashicorp.com", "--timeout=20s"])
    out = tmp_path / "rendered.yaml"
    out.write_text(helm(["template", RELEASE, str(CHART), "--namespace", NS] + values).stdout)
    applied = kubectl(stand_in, ["apply", "-f", str(out)]).stdout
    rendered = [o for o in yaml.safe_load_all(out.read_text()) if o]
    for line in applied.splitlines():
        assert line.endswith(" created"), applied
    assert len(applied.splitlines()) == len(rendered), applied

    sts = json_of(kubectl(stand_in, ["-n", NS, "get", "statefulset", FULL, "-o", "json"]))
    assert sts["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] == ["IPC_LOCK"]
    if OPERATOR[1] in values:
        conn = json_of(kubectl(stand_in, ["-n", NS, "get", "vaultconnection", "default", "-o", "json"]))
        assert conn["spec"]["address"] == f"https://{FULL}.{NS}.svc.cluster.local:8200"
        assert conn["spec"]["caCertSecretRef"] == "t-trove-tls"
        roles = json_of(kubectl(stand_in, ["get", "clusterrole", "t-trove-operator", "-o", "json"]))
        assert all("*" not in r["verbs"] for r in roles["rules"])
    # Applying again changes nothing.
    again = kubectl(stand_in, ["apply", "-f", str(out)]).stdout
    assert all(line.endswith(" unchanged") for line in again.splitlines()), again


def json_of(p):
    return json.loads(p.stdout)


def test_sidecar_example_applies(stand_in):
    stand_in.create("v1", "namespaces", None, {"metadata": {"name": "shop"}})
    applied = kubectl(stand_in, ["apply", "-f", str(SIDECAR)]).stdout
    assert applied.splitlines() == ["serviceaccount/orders created", "configmap/orders-agent created",
                                    "deployment.apps/orders created"], applied
    dep = json_of(kubectl(stand_in, ["-n", "shop", "get", "deployment", "orders", "-o", "json"]))
    assert [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]] == ["trove-agent", "app"]


def test_helm_install_and_upgrade(stand_in):
    """The real Helm flow against the stand-in: install puts crds/ in first
    and then the templates; an upgrade that changes trove.hcl changes the
    pods' config checksum (so they roll), one that does not leaves it."""
    def helm_k(args):
        return kube_tools.run("helm", args + ["--namespace", NS], kubeconfig=stand_in.kubeconfig, timeout=120)

    def checksum():
        sts = json_of(kubectl(stand_in, ["-n", NS, "get", "statefulset", FULL, "-o", "json"]))
        return sts["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    helm_k(["install", RELEASE, str(CHART)] + OPERATOR)
    for crd in CRD_KINDS:
        kubectl(stand_in, ["get", f"crd/{crd}.secrets.hashicorp.com"])
    conn = json_of(kubectl(stand_in, ["-n", NS, "get", "vaultconnection", "default", "-o", "json"]))
    assert conn["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    first = checksum()
    helm_k(["upgrade", RELEASE, str(CHART)] + OPERATOR + ["--set", "operator.logLevel=debug"])
    assert checksum() == first, "an operator-only change must not roll the servers"
    helm_k(["upgrade", RELEASE, str(CHART)] + OPERATOR + ["--set", "server.logLevel=debug"])
    assert checksum() != first
    cm = json_of(kubectl(stand_in, ["-n", NS, "get", "configmap", "t-trove-config", "-o", "json"]))
    assert 'log_level  = "debug"' in cm["data"]["trove.hcl"]
    status = helm_k(["status", RELEASE, "-o", "json"]).stdout
    assert json.loads(status)["info"]["status"] == "deployed"
    assert json.loads(status)["version"] == 3
