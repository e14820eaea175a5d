"""auth/kubernetes against a loopback stand-in API server (k8s_api.py) that
signs and reviews real RS256 service-account JWTs over TLS.

Covers config and roles through hvac's kubernetes methods and raw HTTP
(validation, the reviewer JWT never returned), the good login (policies, metadata, the alias by uid
or by name, the TokenReview Trove sent), and every refusal: wrong
namespace, wrong service account, wrong audience, expired, wrong signing
key, revoked, another cluster's issuer, a namespace selector that does not
match, the API server's CA not the configured one, the API server down.
Each refusal issues no token and leaves the server serving. Also: the JWT
never in clear in the audit log or the server output, config and roles
survive a restart, and pem_keys (the cluster's public keys or a certificate
for them) check each JWT's signature before the TokenReview: a JWT no key
verifies, alg none or HS256 keyed with the public PEM are refused without
asking the API server."""

import base64
import hashlib
import hmac
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hvac import exceptions

import k8s_api
from trove_harness import assert_error

MOUNT = "kubernetes"


@pytest.fixture(scope="module")
def k8s(tmp_path_factory):
    api = k8s_api.K8sAPI(tmp_path_factory.mktemp("k8s")).start()
    yield api
    api.stop()


def enable(srv, path=MOUNT):
    r = srv.request("POST", f"/v1/sys/auth/{path}", token=srv.root_token, json={"type": "kubernetes"})
    assert r.status_code == 204, r.text


def configure(srv, k8s, **kw):
    """Through hvac's configure (the arguments Debian's hvac knows)."""
    hv = srv.client(srv.root_token)
    args = dict(kubernetes_host=k8s.url, kubernetes_ca_cert=k8s.ca_pem, token_reviewer_jwt=k8s.reviewer_jwt,
                mount_point=MOUNT)
    args.update(kw)
    hv.auth.kubernetes.configure(**args)


def configure_raw(srv, **body):
    r = srv.request("POST", f"/v1/auth/{MOUNT}/config", token=srv.root_token, json=body)
    assert r.status_code == 204, r.text


@pytest.fixture
def kube(dev_server, k8s):
    enable(dev_server)
    configure(dev_server, k8s)
    dev_server.hv = dev_server.client(dev_server.root_token)
    k8s.clear_calls()
    return dev_server


def login_raw(srv, role, jwt, mount=MOUNT):
    return srv.request("POST", f"/v1/auth/{mount}/login", json={"role": role, "jwt": jwt})


def role(srv, name, **kw):
    r = srv.request("POST", f"/v1/auth/{MOUNT}/role/{name}", token=srv.root_token, json=kw)
    assert r.status_code in (200, 204), r.text
    return r


def token_count(srv):
    r = srv.request("LIST", "/v1/auth/token/accessors", token=srv.root_token)
    return len(r.json()["data"]["keys"]) if r.status_code == 200 else 0


def assert_refused(srv, resp, status, *needles, jwt=None):
    assert_error(resp, status, *needles)
    assert "auth" not in resp.json() or resp.json().get("auth") is None
    if jwt:
        assert jwt not in resp.text
    assert srv.request("GET", "/v1/sys/health").status_code == 200


# --- config -------------------------------------------------------------------


def test_config_through_hvac_never_returns_the_reviewer_jwt(kube, k8s):
    cfg = kube.hv.auth.kubernetes.read_config(mount_point=MOUNT)
    assert cfg["kubernetes_host"] == k8s.url
    assert cfg["kubernetes_ca_cert"] == k8s.ca_pem
    assert cfg["token_reviewer_jwt_set"] is True
    assert cfg["disable_local_ca_jwt"] is False
    assert cfg["disable_iss_validation"] is True  # Vault's default
    assert cfg["pem_keys"] == []
    r = kube.request("GET", f"/v1/auth/{MOUNT}/config", token=kube.root_token)
    assert k8s.reviewer_jwt not in r.text
    assert "token_reviewer_jwt\"" not in r.text


@pytest.mark.parametrize(
    "body,needle",
    [
        ({}, "no host provided"),
        ({"kubernetes_host": "http://127.0.0.1:6443"}, "kubernetes_host: must be an https:// URL"),
        ({"kubernetes_host": "file:///etc/passwd"}, "kubernetes_host: must be an https:// URL"),
        ({"kubernetes_host": "https://user:pw@10.0.0.1"}, "user information"),
        ({"kubernetes_host": "https://10.0.0.1:99999"}, "port"),
        ({"kubernetes_host": "https://10.0.0.1/?x=1"}, "query"),
        ({"kubernetes_host": "https://"}, "no host"),
        ({"kubernetes_host": "https://10.0.0.1", "kubernetes_ca_cert": "not a pem"}, "kubernetes_ca_cert"),
        ({"kubernetes_host": "https://10.0.0.1", "pem_keys": ["-----BEGIN PUBLIC KEY-----"]},
         "pem_keys: key 1: not a PEM public key or certificate"),
    ],
)
def test_config_refusals_name_the_field(kube, body, needle):
    r = kube.request("POST", f"/v1/auth/{MOUNT}/config", token=kube.root_token, json=body)
    assert_error(r, 400, needle)
    # The config written before is untouched.
    assert kube.hv.auth.kubernetes.read_config(mount_point=MOUNT)["token_reviewer_jwt_set"] is True


def test_config_write_replaces_the_whole_config(kube, k8s):
    r = kube.request("POST", f"/v1/auth/{MOUNT}/config", token=kube.root_token,
                     json={"kubernetes_host": k8s.url + "/"})
    assert r.status_code == 204, r.text
    cfg = kube.hv.auth.kubernetes.read_config(mount_point=MOUNT)
    assert cfg["kubernetes_host"] == k8s.url  # trailing '/' dropped
    assert cfg["token_reviewer_jwt_set"] is False
    assert cfg["kubernetes_ca_cert"] == ""


def test_no_config_reads_as_nothing(dev_server):
    enable(dev_server)
    r = dev_server.request("GET", f"/v1/auth/{MOUNT}/config", token=dev_server.root_token)
    assert r.status_code in (204, 404), r.text


# --- roles ----------------------------------------------------------------------


def test_role_crud_through_hvac(kube):
    hv = kube.hv.auth.kubernetes
    hv.create_role("web", bound_service_account_names=["web", "web-*"], bound_service_account_namespaces="prod",
                   policies=["p1"], ttl="10m", mount_point=MOUNT)
    role(kube, "web", audience="trove", alias_name_source="serviceaccount_name")
    d = hv.read_role("web", mount_point=MOUNT)
    assert d["bound_service_account_names"] == ["web", "web-*"]
    assert d["bound_service_account_namespaces"] == ["prod"]
    assert d["bound_service_account_namespace_selector"] == ""
    assert d["audience"] == "trove"
    assert d["alias_name_source"] == "serviceaccount_name"
    assert d["token_policies"] == ["p1"] and d["token_ttl"] == 600
    assert hv.list_roles(mount_point=MOUNT)["keys"] == ["web"]
    # An update changes only what it names.
    role(kube, "web", token_ttl="20m")
    d = hv.read_role("web", mount_point=MOUNT)
    assert d["token_ttl"] == 1200 and d["audience"] == "trove"
    hv.delete_role("web", mount_point=MOUNT)
    with pytest.raises(exceptions.InvalidPath):
        hv.read_role("web", mount_point=MOUNT)
    with pytest.raises(exceptions.InvalidPath):
        hv.list_roles(mount_point=MOUNT)


def test_concurrent_partial_role_updates_lose_nothing(kube):
    """Role writes of a mount are serialised: two updates of different
    fields at the same time both land."""
    role(kube, "busy", bound_service_account_names="a", bound_service_account_namespaces="b")
    url = f"/v1/auth/{MOUNT}/role/busy"
    for i in range(15):
        bodies = [{"token_ttl": 60 + i}, {"audience": f"aud-{i}"}, {"token_policies": [f"p{i}"]},
                  {"bound_service_account_names": [f"n{i}"]}]
        with ThreadPoolExecutor(len(bodies)) as ex:
            codes = list(ex.map(lambda b: kube.request("POST", url, token=kube.root_token, json=b).status_code,
                                bodies))
        assert all(c in (200, 204) for c in codes), codes
        d = kube.hv.auth.kubernetes.read_role("busy", mount_point=MOUNT)
        assert (d["token_ttl"], d["audience"], d["token_policies"], d["bound_service_account_names"]) == (
            60 + i, f"aud-{i}", [f"p{i}"], [f"n{i}"]), f"round {i}: an update was lost: {d}"


def test_role_without_audience_warns(kube):
    r = role(kube, "noaud", bound_service_account_names="a", bound_service_account_namespaces="b")
    assert "audience" in " ".join(r.json()["warnings"])


@pytest.mark.parametrize(
    "body,needle",
    [
        ({"bound_service_account_namespaces": "x"}, '"bound_service_account_names" can not be empty'),
        ({"bound_service_account_names": "a"}, '"bound_service_account_namespaces" can not be empty'),
        ({"bound_service_account_names": ["*", "a"], "bound_service_account_namespaces": "x"}, 'mix "*"'),
        ({"bound_service_account_names": "a", "bound_service_account_namespaces": ["*", "b"]}, 'mix "*"'),
        ({"bound_service_account_names": "a", "bound_service_account_namespace_selector": "{not json"},
         "bound_service_account_namespace_selector"),
        ({"bound_service_account_names": "a",
          "bound_service_account_namespace_selector": '{"matchExpressions":[{"key":"a","operator":"Near"}]}'},
         "operator"),
        ({"bound_service_account_names": "a", "bound_service_account_namespaces": "b",
          "alias_name_source": "pod_name"}, "alias_name_source"),
        ({"bound_service_account_names": "a", "bound_service_account_namespaces": "b", "token_type": "weird"},
         "token_type"),
    ],
)
def test_role_refusals(kube, body, needle):
    r = kube.request("POST", f"/v1/auth/{MOUNT}/role/bad", token=kube.root_token, json=body)
    assert_error(r, 400, needle)
    assert kube.request("GET", f"/v1/auth/{MOUNT}/role/bad", token=kube.root_token).status_code == 404


# --- login ---------------------------------------------------------------------------


def test_login_through_hvac_policies_metadata_alias(kube, k8s):
    sa = k8s.account("payments", "api")
    kube.hv.auth.kubernetes.create_role("pay", bound_service_account_names="api",
                                        bound_service_account_namespaces="payments", policies=["payments-prod"],
                                        mount_point=MOUNT)
    role(kube, "pay", audience="trove")
    jwt = k8s.token(sa, aud=["trove"])
    client = kube.client()
    resp = client.auth.kubernetes.login("pay", jwt, mount_point=MOUNT)
    a = resp["auth"]
    assert a["policies"] == ["default", "payments-prod"]
    assert a["metadata"] == {"role": "pay", "service_account_name": "api",
                             "service_account_namespace": "payments", "service_account_uid": sa.uid,
                             "service_account_secret_name": ""}
    assert a["orphan"] is True and a["entity_id"]
    assert client.token == a["client_token"]
    me = client.auth.token.lookup_self()["data"]
    assert me["display_name"] == "kubernetes-payments-api"
    assert me["path"] == f"auth/{MOUNT}/login"
    ent = kube.request("GET", f"/v1/identity/entity/id/{a['entity_id']}", token=kube.root_token).json()["data"]
    assert [al["name"] for al in ent["aliases"]] == [sa.uid]
    assert ent["aliases"][0]["metadata"]["service_account_name"] == "api"
    # What Trove asked the API server: this JWT, the role's audience, as the reviewer.
    (call,) = k8s.reviews()
    body = json.loads(call["body"])
    assert body["kind"] == "TokenReview" and body["spec"] == {"token": jwt, "audiences": ["trove"]}
    assert call["bearer"] == k8s.reviewer_jwt
    # The same service account logs in to the same entity again.
    again = login_raw(kube, "pay", k8s.token(sa, aud=["trove"])).json()["auth"]
    assert again["entity_id"] == a["entity_id"]


def test_alias_by_name_legacy_token_and_globs(kube, k8s):
    sa = k8s.account("team-blue", "builder-7")
    role(kube, "ci", bound_service_account_names=["builder-*"], bound_service_account_namespaces=["team-*"],
         alias_name_source="serviceaccount_name", token_policies=["ci"])
    jwt = k8s.token(sa, legacy=True)
    r = login_raw(kube, "CI", jwt)  # role names are case-insensitive, as Vault's
    assert r.status_code == 200, r.text
    a = r.json()["auth"]
    assert a["metadata"]["service_account_secret_name"] == "builder-7-token-x2k9"
    ent = kube.request("GET", f"/v1/identity/entity/id/{a['entity_id']}", token=kube.root_token).json()["data"]
    assert [al["name"] for al in ent["aliases"]] == ["team-blue/builder-7"]
    # No audience on the role and none in the JWT: the TokenReview asks for none.
    assert "audiences" not in json.loads(k8s.reviews()[-1]["body"])["spec"]


def test_audience_from_the_jwt_when_the_role_has_none(kube, k8s):
    sa = k8s.account("apps", "a1")
    role(kube, "any", bound_service_account_names="*", bound_service_account_namespaces="*")
    assert login_raw(kube, "any", k8s.token(sa, aud=["vault", "trove"])).status_code == 200
    assert json.loads(k8s.reviews()[-1]["body"])["spec"]["audiences"] == ["vault", "trove"]


def test_batch_token_and_bound_cidrs(kube, k8s):
    sa = k8s.account("apps", "batchy")
    role(kube, "b", bound_service_account_names="batchy", bound_service_account_namespaces="apps",
         token_type="batch", audience="trove")
    a = login_raw(kube, "b", k8s.token(sa)).json()["auth"]
    assert a["token_type"] == "batch"
    role(kube, "far", bound_service_account_names="batchy", bound_service_account_namespaces="apps",
         token_bound_cidrs=["10.9.9.0/24"], audience="trove")
    k8s.clear_calls()
    assert_refused(kube, login_raw(kube, "far", k8s.token(sa)), 403, "permission denied")
    assert k8s.reviews() == []


def test_client_jwt_reviews_itself_without_a_reviewer(kube, k8s):
    """No reviewer JWT anywhere: the client's own JWT is the bearer, as in
    Vault; it works when that service account may create TokenReviews."""
    configure(kube, k8s, token_reviewer_jwt=None)
    sa = k8s.account("vault", "delegated")
    role(kube, "self", bound_service_account_names="delegated", bound_service_account_namespaces="vault",
         audience="trove")
    jwt = k8s.token(sa)
    assert_refused(kube, login_raw(kube, "self", jwt), 403, "permission denied", jwt=jwt)
    k8s.delegators.add(("vault", "delegated"))
    try:
        k8s.clear_calls()
        assert login_raw(kube, "self", jwt).status_code == 200
        assert k8s.reviews()[-1]["bearer"] == jwt
    finally:
        k8s.delegators.discard(("vault", "delegated"))


def test_namespace_selector(kube, k8s):
    ok = k8s.account("shop-eu", "web")
    no = k8s.account("shop-us", "web")
    k8s.label("shop-eu", stage="prod", tier="front")
    k8s.label("shop-us", stage="dev", tier="front")
    sel = {"matchLabels": {"tier": "front"},
           "matchExpressions": [{"key": "stage", "operator": "In", "values": ["prod", "staging"]}]}
    role(kube, "sel", bound_service_account_names="web", bound_service_account_namespace_selector=json.dumps(sel),
         audience="trove")
    assert kube.hv.auth.kubernetes.read_role("sel", mount_point=MOUNT)[
        "bound_service_account_namespace_selector"] == json.dumps(sel)
    assert login_raw(kube, "sel", k8s.token(ok)).status_code == 200
    gets = [c for c in k8s.calls if c["method"] == "GET"]
    assert gets and gets[-1]["path"] == "/api/v1/namespaces/shop-eu" and gets[-1]["bearer"] == k8s.reviewer_jwt
    assert_refused(kube, login_raw(kube, "sel", k8s.token(no)), 403, "namespace not authorized")
    # The globs and the selector are ORed, as in Vault.
    role(kube, "sel", bound_service_account_namespaces="shop-us")
    assert login_raw(kube, "sel", k8s.token(no)).status_code == 200
    # YAML, as Vault reads it too; kept as written.
    yaml = "matchLabels:\n  tier: front\nmatchExpressions:\n  - key: stage\n    operator: NotIn\n    values: [dev]\n"
    role(kube, "sel-yaml", bound_service_account_names="web", bound_service_account_namespace_selector=yaml,
         audience="trove")
    assert kube.hv.auth.kubernetes.read_role("sel-yaml", mount_point=MOUNT)[
        "bound_service_account_namespace_selector"] == yaml
    assert login_raw(kube, "sel-yaml", k8s.token(ok)).status_code == 200
    assert_refused(kube, login_raw(kube, "sel-yaml", k8s.token(no)), 403, "namespace not authorized")


# --- refusals --------------------------------------------------------------------------


@pytest.fixture
def bound(kube, k8s):
    sa = k8s.account("prod", "api-" + secrets.token_hex(3))
    role(kube, "r", bound_service_account_names=sa.name, bound_service_account_namespaces="prod",
         token_policies=["p"], audience="trove")
    kube.sa = sa
    kube.before = token_count(kube)
    return kube


def refused(srv, k8s, jwt, status, *needles, reviewed=None):
    k8s.clear_calls()
    assert_refused(srv, login_raw(srv, "r", jwt), status, *needles, jwt=jwt)
    assert token_count(srv) == srv.before, "a refused login issued a token"
    if reviewed is not None:
        assert bool(k8s.reviews()) == reviewed


def test_refused_wrong_namespace_locally(bound, k8s):
    other = k8s.account("staging", bound.sa.name)
    refused(bound, k8s, k8s.token(other), 403, "namespace not authorized", reviewed=False)


def test_refused_wrong_service_account_locally(bound, k8s):
    other = k8s.account("prod", "intruder")
    refused(bound, k8s, k8s.token(other), 403, "service account name not authorized", reviewed=False)


def test_refused_wrong_audience(bound, k8s):
    refused(bound, k8s, k8s.token(bound.sa, aud=["someone-else"]), 403, "audience", reviewed=False)


def test_refused_wrong_signing_key(bound, k8s):
    # The claims are right; the signature is another cluster's, so only
    # the API server can tell. Forged claims never pass the review.
    forged = k8s.token(bound.sa, key=k8s_api.other_key())
    refused(bound, k8s, forged, 403, "permission denied", reviewed=True)


@pytest.mark.parametrize(
    "status",
    [
        {"audiences": ["someone-else"]},
        {"audiences": []},
        {"authenticated": False},
        {"error": "token lookup failed"},
        {"user": {"username": "system:node:worker-1", "uid": "x"}},
        {"user": {"username": "system:serviceaccount:prod:other", "uid": "x"}},
        {"user": {"username": "system:serviceaccount:prod", "uid": "x"}},
    ],
)
def test_trusts_only_what_the_review_says(bound, k8s, status):
    """A review answer that does not vouch for this very service account,
    for the audience asked, is a refusal, whatever the JWT claims."""
    k8s.status_override = status
    try:
        refused(bound, k8s, k8s.token(bound.sa), 403, "permission denied", reviewed=True)
    finally:
        k8s.status_override = {}
    assert login_raw(bound, "r", k8s.token(bound.sa)).status_code == 200


def test_refused_expired(bound, k8s):
    now = int(time.time())
    refused(bound, k8s, k8s.token(bound.sa, exp=now - 3600, nbf=now - 7200), 403, "expired", reviewed=False)
    # Within the local leeway, the API server refuses it.
    refused(bound, k8s, k8s.token(bound.sa, exp=now - 5, nbf=now - 600), 403, "permission denied", reviewed=True)


def test_refused_revoked(bound, k8s):
    jwt = k8s.token(bound.sa)
    assert login_raw(bound, "r", jwt).status_code == 200
    bound.before = token_count(bound)
    k8s.revoked.add(bound.sa.uid)
    try:
        refused(bound, k8s, jwt, 403, "permission denied", reviewed=True)
    finally:
        k8s.revoked.discard(bound.sa.uid)


def test_refused_another_clusters_issuer(bound, k8s):
    foreign = k8s.token(bound.sa, issuer="https://other-cluster.example", key=k8s_api.other_key())
    # Reviewed by default (Vault leaves iss to the API server) ...
    refused(bound, k8s, foreign, 403, "permission denied", reviewed=True)
    # ... and refused locally once the issuer is configured and checked.
    configure_raw(bound, kubernetes_host=k8s.url, kubernetes_ca_cert=k8s.ca_pem, token_reviewer_jwt=k8s.reviewer_jwt,
                  issuer=k8s_api.ISSUER, disable_iss_validation=False, disable_local_ca_jwt=True)
    refused(bound, k8s, foreign, 403, "issuer", reviewed=False)
    assert login_raw(bound, "r", k8s.token(bound.sa)).status_code == 200


@pytest.mark.parametrize(
    "jwt,needle",
    [
        ("not-a-jwt", "three"),
        ("a.b.c", "base64url"),
        (base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode() + "."
         + base64.urlsafe_b64encode(b'{"sub":"x"}').rstrip(b"=").decode() + ".", "three"),
        (base64.urlsafe_b64encode(b'{"alg":"HS256"}').rstrip(b"=").decode() + "."
         + base64.urlsafe_b64encode(b'{"sub":"x"}').rstrip(b"=").decode() + ".c2ln", "alg"),
    ],
)
def test_refused_malformed_jwt_locally(bound, k8s, jwt, needle):
    refused(bound, k8s, jwt, 403, needle, reviewed=False)


def test_refused_missing_fields_and_unknown_role(bound, k8s):
    assert_error(bound.request("POST", f"/v1/auth/{MOUNT}/login", json={"jwt": "x"}), 400, "missing role")
    assert_error(bound.request("POST", f"/v1/auth/{MOUNT}/login", json={"role": "r"}), 400, "missing jwt")
    assert_error(login_raw(bound, "nope", k8s.token(bound.sa)), 400, 'invalid role name "nope"')
    assert_error(login_raw(bound, "../config", k8s.token(bound.sa)), 400, "invalid role name")


def test_refused_api_server_ca_mismatch(bound, k8s):
    _, other_ca = k8s_api.make_ca("not-the-cluster-ca")
    configure(bound, k8s, kubernetes_ca_cert=k8s_api.pem(other_ca))
    refused(bound, k8s, k8s.token(bound.sa), 502, "could not reach the kubernetes api server")


def test_refused_api_server_down(bound, k8s, tmp_path):
    down = k8s_api.K8sAPI(tmp_path)  # never started: its port is closed
    configure_raw(bound, kubernetes_host="https://127.0.0.1:1", kubernetes_ca_cert=down.ca_pem,
                  token_reviewer_jwt=k8s.reviewer_jwt, disable_local_ca_jwt=True)
    refused(bound, k8s, k8s.token(bound.sa), 502, "could not reach the kubernetes api server")


def test_unconfigured_mount_is_a_server_error(dev_server, k8s):
    enable(dev_server)
    role(dev_server, "r", bound_service_account_names="a", bound_service_account_namespaces="b")
    sa = k8s.account("b", "a")
    assert_error(login_raw(dev_server, "r", k8s.token(sa)), 500, "could not load backend configuration")


# --- secrets never in clear, persistence ------------------------------------------------


def test_jwt_never_in_audit_log_or_server_output(kube, k8s, tmp_path):
    log = tmp_path / "audit.log"
    r = kube.request("PUT", "/v1/sys/audit/file", token=kube.root_token,
                     json={"type": "file", "options": {"file_path": str(log)}})
    assert r.status_code == 204, r.text
    configure(kube, k8s)  # the reviewer JWT goes through the audit log too
    sa = k8s.account("prod", "audited")
    role(kube, "a", bound_service_account_names="audited", bound_service_account_namespaces="prod",
         audience="trove")
    good = k8s.token(sa)
    bad = k8s.token(sa, key=k8s_api.other_key())
    assert login_raw(kube, "a", good).status_code == 200
    assert login_raw(kube, "a", bad).status_code == 403
    text = log.read_text()
    assert f"auth/{MOUNT}/login" in text
    for secret in (good, bad, k8s.reviewer_jwt):
        for part in secret.split("."):
            assert part not in text, "a JWT part is in the audit log in clear"
        assert secret.encode() not in kube.proc.all_output_bytes()


def test_restart_keeps_config_and_roles(unsealed_server, k8s):
    srv = unsealed_server
    enable(srv)
    configure(srv, k8s)
    sa = k8s.account("prod", "durable")
    role(srv, "keep", bound_service_account_names="durable", bound_service_account_namespaces="prod",
         audience="trove", token_policies=["kept"])
    srv.stop()
    for f in srv.storage_files():
        assert k8s.reviewer_jwt.encode() not in f.read_bytes()
    srv.start()
    srv.unseal()
    r = login_raw(srv, "keep", k8s.token(sa))
    assert r.status_code == 200, r.text
    assert "kept" in r.json()["auth"]["policies"]
    assert srv.client(srv.root_token).auth.kubernetes.read_config(mount_point=MOUNT)["token_reviewer_jwt_set"]


# --- pem_keys: signatures checked locally -------------------------------------------


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def projected_claims(sa):
    now = int(time.time())
    return {"iss": k8s_api.ISSUER, "aud": ["trove"], "iat": now, "nbf": now, "exp": now + 600,
            "sub": f"system:serviceaccount:{sa.namespace}:{sa.name}",
            "kubernetes.io": {"namespace": sa.namespace, "serviceaccount": {"name": sa.name, "uid": sa.uid}}}


def hand_made_jwt(alg, claims, secret=None):
    """A JWT under alg, built by hand: PyJWT refuses a PEM as an HMAC
    secret, which is exactly the forgery to try."""
    signing = b64u(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + b64u(json.dumps(claims).encode())
    sig = b"" if secret is None else hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64u(sig)


def configure_pem(srv, k8s, pems):
    """Raw HTTP: hvac's configure takes only certificates as pem_keys,
    where Vault (and Trove) also take bare public keys."""
    configure_raw(srv, kubernetes_host=k8s.url, kubernetes_ca_cert=k8s.ca_pem, token_reviewer_jwt=k8s.reviewer_jwt,
                  pem_keys=pems)


@pytest.fixture
def pem_bound(bound, k8s):
    configure_pem(bound, k8s, [k8s.public_key_pem()])
    k8s.clear_calls()
    return bound


def test_pem_keys_stored_as_given_and_read_back(kube, k8s):
    pems = [k8s.public_key_pem(), k8s.signing_cert_pem()]
    configure_pem(kube, k8s, pems)
    assert kube.hv.auth.kubernetes.read_config(mount_point=MOUNT)["pem_keys"] == pems
    # hvac's configure sends certificates.
    configure(kube, k8s, pem_keys=[k8s.signing_cert_pem()])
    assert kube.hv.auth.kubernetes.read_config(mount_point=MOUNT)["pem_keys"] == [k8s.signing_cert_pem()]
    # A write without pem_keys replaces the whole config, pem_keys too.
    configure(kube, k8s)
    assert kube.hv.auth.kubernetes.read_config(mount_point=MOUNT)["pem_keys"] == []


def test_pem_keys_right_key_login_works_and_is_still_reviewed(pem_bound, k8s):
    r = login_raw(pem_bound, "r", k8s.token(pem_bound.sa))
    assert r.status_code == 200, r.text
    assert r.json()["auth"]["policies"] == ["default", "p"]
    # As in Vault's plugin, the TokenReview still runs: a good signature
    # says nothing of a service account deleted since.
    assert len(k8s.reviews()) == 1
    pem_bound.before = token_count(pem_bound)
    k8s.revoked.add(pem_bound.sa.uid)
    try:
        refused(pem_bound, k8s, k8s.token(pem_bound.sa), 403, "permission denied", reviewed=True)
    finally:
        k8s.revoked.discard(pem_bound.sa.uid)


def test_pem_keys_certificate_holding_the_key(bound, k8s):
    configure(bound, k8s, pem_keys=[k8s.signing_cert_pem()])  # through hvac
    assert login_raw(bound, "r", k8s.token(bound.sa)).status_code == 200
    # Among other keys: any one that verifies will do.
    configure_pem(bound, k8s, [k8s.public_key_pem(k8s_api.other_key()), k8s.signing_cert_pem()])
    assert login_raw(bound, "r", k8s.token(bound.sa)).status_code == 200


def test_pem_keys_another_key_refused_without_a_review(bound, k8s):
    configure_pem(bound, k8s, [k8s.public_key_pem(k8s_api.other_key())])
    refused(bound, k8s, k8s.token(bound.sa), 403, "permission denied", reviewed=False)


def test_pem_keys_forged_jwt_never_reaches_the_api_server(pem_bound, k8s):
    forged = k8s.token(pem_bound.sa, key=k8s_api.other_key())
    refused(pem_bound, k8s, forged, 403, "permission denied", reviewed=False)
    # A good JWT whose signature was tampered with, likewise.
    good = k8s.token(pem_bound.sa)
    head, body, sig = good.split(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    refused(pem_bound, k8s, f"{head}.{body}.{flipped}", 403, "permission denied", reviewed=False)


@pytest.mark.parametrize(
    "body",
    [
        {"pem_keys": ["-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n"]},
        {"pem_keys": "not a pem at all"},
        {"pem_keys": ["", "x"]},
    ],
)
def test_pem_keys_malformed_refused_at_config_write(pem_bound, k8s, body):
    r = pem_bound.request("POST", f"/v1/auth/{MOUNT}/config", token=pem_bound.root_token,
                          json={"kubernetes_host": k8s.url, **body})
    assert_error(r, 400, "pem_keys: key 1:")
    # Nothing stored: the config before stands, its key still in force.
    assert pem_bound.hv.auth.kubernetes.read_config(mount_point=MOUNT)["pem_keys"] == [k8s.public_key_pem()]
    assert login_raw(pem_bound, "r", k8s.token(pem_bound.sa)).status_code == 200


def test_pem_keys_second_entry_bad_is_named(kube, k8s):
    r = kube.request("POST", f"/v1/auth/{MOUNT}/config", token=kube.root_token,
                     json={"kubernetes_host": k8s.url, "pem_keys": [k8s.public_key_pem(), "junk"]})
    assert_error(r, 400, "pem_keys: key 2: not a PEM public key or certificate")


def test_pem_keys_legacy_token_without_time_claims(k8s, kube):
    sa = k8s.account("team-green", "legacy-" + secrets.token_hex(3))
    role(kube, "old", bound_service_account_names=sa.name, bound_service_account_namespaces="team-green")
    configure_pem(kube, k8s, [k8s.public_key_pem()])
    jwt = k8s.token(sa, legacy=True)
    payload = json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))
    assert not {"exp", "iat", "nbf"} & set(payload), "the stand-in's legacy token should carry no time claim"
    r = login_raw(kube, "old", jwt)
    assert r.status_code == 200, r.text
    assert r.json()["auth"]["metadata"]["service_account_secret_name"] == f"{sa.name}-token-x2k9"
    # The same legacy token signed by another key is refused locally.
    k8s.clear_calls()
    forged = k8s.token(sa, legacy=True, key=k8s_api.other_key())
    assert_refused(kube, login_raw(kube, "old", forged), 403, "permission denied", jwt=forged)
    assert k8s.reviews() == []


def test_pem_keys_alg_none_and_hs256_with_the_pem_refused(pem_bound, k8s):
    claims = projected_claims(pem_bound.sa)
    refused(pem_bound, k8s, hand_made_jwt("none", claims), 403, "invalid jwt", reviewed=False)
    for secret in (k8s.public_key_pem(), k8s.public_key_pem().strip()):
        forged = hand_made_jwt("HS256", claims, secret=secret)
        refused(pem_bound, k8s, forged, 403, "alg", reviewed=False)
