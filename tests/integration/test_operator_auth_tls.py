"""`trove secrets-operator` logging in with the jwt method and talking to
Trove over TLS, end to end: the real operator against the Kubernetes API
stand-in (kube_apiserver.py, the chart's CRDs applied) and a real Trove.

jwt: Trove's jwt auth method checks JWTs against the stand-in's
service-account signing key and a key made here; a VaultAuth with
spec.jwt.serviceAccount logs in with a TokenRequest token for that
account (its audiences and tokenExpirationSeconds asked for), one with
spec.jwt.secretRef with the JWT a Secret holds; a wrong role leaves no
Secret and says why in status and an event.

TLS: Trove with a TLS listener whose certificate (from a CA made here)
names only trove.test, so the operator must send that name
(tlsServerName) and trust the CA (caCertSecretRef); a wrong CA is refused
with the x509 reason in status and nothing synced; skipTLSVerify works
without a CA, as VSO's does."""

import base64
import datetime
import ipaddress
import time

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import k8s_api
import kube_tools
from kube_apiserver import KubeAPIServer
from test_secrets_operator import (CRDS, OPNS, VSO, _has_operator, condition, kv_put, secret_data,
                                   start_operator, vss, wait_for)
from trove_harness import TROVE_BIN, Server, TroveProcess, free_port

pytestmark = pytest.mark.skipif(not _has_operator(), reason="this trove has no secrets-operator command")

POLICY = 'path "secret/data/*" { capabilities = ["read"] }\n'


@pytest.fixture
def api(tmp_path):
    a = KubeAPIServer(tmp_path, bookmark_seconds=0.5).start()
    a.kubeconfig = a.write_kubeconfig(tmp_path / "kubeconfig", namespace=OPNS)
    kube_tools.run("kubectl", ["apply", "-f", CRDS], kubeconfig=a.kubeconfig)
    for ns in (OPNS, "app"):
        a.namespace(ns)
        a.service_account(ns, "default")
    yield a
    a.stop()


def setup_kv(srv):
    """KV v2 at secret/ and the policy app reading it."""
    root = srv.root_token
    if srv.request("GET", "/v1/sys/mounts/secret/tune", token=root).status_code != 200:
        r = srv.request("POST", "/v1/sys/mounts/secret", token=root, json={"type": "kv", "options": {"version": "2"}})
        assert r.status_code == 204, r.text
    r = srv.request("PUT", "/v1/sys/policies/acl/app", token=root, json={"policy": POLICY})
    assert r.status_code in (200, 204), r.text


def connection(address, **spec):
    spec["address"] = address
    return {"apiVersion": VSO, "kind": "VaultConnection", "metadata": {"name": "default"}, "spec": spec}


def synced(api, ns, name, kind="vaultstaticsecrets"):
    """The resource once its SecretSynced condition is there."""
    return wait_for(f"{name}'s SecretSynced condition",
                    lambda: (o := api.get(VSO, kind, ns, name)) and condition(o, "SecretSynced") and o)


# --- jwt ----------------------------------------------------------------------------------------


def pem_public(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def configure_jwt(srv, api):
    """Trove's jwt method trusting the stand-in's service-account signer
    and a key made here (kept as srv.ci_key): role sa for the default
    service account of app with audience trove, role ci for the subject
    ci-bot; KV v2 at secret/ and the policy app reading it."""
    root = srv.root_token
    setup_kv(srv)
    srv.ci_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert srv.request("POST", "/v1/sys/auth/jwt", token=root, json={"type": "jwt"}).status_code == 204
    r = srv.request("POST", "/v1/auth/jwt/config", token=root,
                    json={"jwt_validation_pubkeys": [api.auth.public_key_pem(), pem_public(srv.ci_key)],
                          "bound_issuer": k8s_api.ISSUER})
    assert r.status_code in (200, 204), r.text
    for role, subject in (("sa", "system:serviceaccount:app:default"), ("ci", "ci-bot")):
        r = srv.request("POST", f"/v1/auth/jwt/role/{role}", token=root,
                        json={"role_type": "jwt", "user_claim": "sub", "bound_subject": subject,
                              "bound_audiences": ["trove"], "token_policies": ["app"], "token_ttl": "1h"})
        assert r.status_code in (200, 204), r.text


@pytest.fixture
def jwt_trove(dev_server, api):
    configure_jwt(dev_server, api)
    api.create(VSO, "vaultconnections", OPNS, connection(dev_server.url))
    return dev_server


def jwt_auth(name, **jwt_spec):
    return {"apiVersion": VSO, "kind": "VaultAuth", "metadata": {"name": name},
            "spec": {"method": "jwt", "mount": "jwt", "vaultConnectionRef": f"{OPNS}/default", "jwt": jwt_spec}}


def token_requests(api):
    return [r for r in api.requests_to("POST", "/serviceaccounts/") if r["path"].endswith("/token")]


def test_jwt_service_account_token_syncs_a_secret(api, jwt_trove, procs, log_dir):
    # The stand-in's signer, watched: which account, audiences and
    # lifetime each TokenRequest asked for.
    seen = []
    real = api.auth.token

    def spy(sa, aud=("trove",), ttl=600, **kw):
        seen.append((sa.namespace, sa.name, list(aud), ttl))
        return real(sa, aud=aud, ttl=ttl, **kw)

    api.auth.token = spy
    kv_put(jwt_trove, "jwt-web", {"password": "from-jwt"})
    api.create(VSO, "vaultauths", "app",
               jwt_auth("jwt-sa", role="sa", serviceAccount="default", audiences=["trove", "other"],
                        tokenExpirationSeconds=1200))
    api.create(VSO, "vaultstaticsecrets", "app", vss("jwt-web", "jwt-web", vaultAuthRef="jwt-sa"))
    start_operator(api, procs, log_dir)
    data = wait_for("the Secret", lambda: secret_data(api, "app", "jwt-web"))
    assert data["password"] == "from-jwt"
    # The JWT came from a TokenRequest for the resource namespace's service
    # account, with the audiences and lifetime the VaultAuth asks for.
    assert seen == [("app", "default", ["trove", "other"], 1200)]
    assert [r["path"] for r in token_requests(api)] == ["/api/v1/namespaces/app/serviceaccounts/default/token"]
    o = synced(api, "app", "jwt-web")
    assert condition(o, "SecretSynced")["status"] == "True"
    # The Trove token is cached: refreshes (refreshAfter 1s) log in no more.
    time.sleep(3)
    assert len(seen) == 1 and len(token_requests(api)) == 1


def test_jwt_from_a_secret_syncs_without_token_request(api, jwt_trove, procs, log_dir):
    now = int(time.time())
    token = jwt.encode({"iss": k8s_api.ISSUER, "sub": "ci-bot", "aud": "trove", "iat": now, "nbf": now,
                        "exp": now + 3600}, jwt_trove.ci_key, algorithm="RS256")
    api.create("v1", "secrets", "app", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ci-jwt"},
                                        "data": {"jwt": base64.b64encode(token.encode()).decode()}})
    kv_put(jwt_trove, "jwt-ci", {"password": "ci"})
    api.create(VSO, "vaultauths", "app", jwt_auth("jwt-ci", role="ci", secretRef="ci-jwt"))
    api.create(VSO, "vaultstaticsecrets", "app", vss("jwt-ci", "jwt-ci", vaultAuthRef="jwt-ci"))
    start_operator(api, procs, log_dir)
    data = wait_for("the Secret", lambda: secret_data(api, "app", "jwt-ci"))
    assert data["password"] == "ci"
    assert token_requests(api) == []  # no service-account token asked for
    assert api.requests_to("GET", "/namespaces/app/secrets/ci-jwt")


def test_jwt_service_account_wins_over_secret_ref(api, jwt_trove, procs, log_dir):
    # Both given: VSO asks for a service-account token and never reads the
    # Secret; here the Secret holds no usable JWT, so only that way works.
    api.create("v1", "secrets", "app", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "stale-jwt"},
                                        "data": {"jwt": base64.b64encode(b"not.a.jwt").decode()}})
    kv_put(jwt_trove, "jwt-both", {"password": "sa"})
    api.create(VSO, "vaultauths", "app", jwt_auth("jwt-both", role="sa", serviceAccount="default",
                                                  audiences=["trove"], secretRef="stale-jwt"))
    api.create(VSO, "vaultstaticsecrets", "app", vss("jwt-both", "jwt-both", vaultAuthRef="jwt-both"))
    start_operator(api, procs, log_dir)
    assert wait_for("the Secret", lambda: secret_data(api, "app", "jwt-both"))["password"] == "sa"
    assert len(token_requests(api)) == 1
    assert not api.requests_to("GET", "/secrets/stale-jwt")


def test_jwt_wrong_role_is_refused_with_status_and_event(api, jwt_trove, procs, log_dir):
    kv_put(jwt_trove, "jwt-no", {"password": "never"})
    api.create(VSO, "vaultauths", "app",
               jwt_auth("jwt-bad", role="no-such-role", serviceAccount="default", audiences=["trove"]))
    api.create(VSO, "vaultstaticsecrets", "app", vss("jwt-no", "jwt-no", vaultAuthRef="jwt-bad"))
    start_operator(api, procs, log_dir)
    o = synced(api, "app", "jwt-no")
    c = condition(o, "SecretSynced")
    assert c["status"] == "False" and c["reason"] == "VaultClientError", c
    assert "auth/jwt/login" in c["message"] and "no-such-role" in c["message"], c
    assert any(e.get("reason") == "VaultClientError" and "auth/jwt/login" in e.get("message", "")
               and e["involvedObject"]["name"] == "jwt-no" for e in api.events("app"))
    assert api.get("v1", "secrets", "app", "jwt-no") is None
    assert "never" not in str(o["status"])


# --- TLS -----------------------------------------------------------------------------------------


def make_ca(cn, now):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


class TLSFiles:
    """A CA, a leaf for trove.test only (not 127.0.0.1, so the operator
    must send tlsServerName to be accepted) and a second CA that signed
    nothing here."""

    def __init__(self, d):
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key, ca = make_ca("Trove operator test CA", now)
        _, other = make_ca("Some other CA", now)
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trove.test")]))
                .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("trove.test")]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        pem = serialization.Encoding.PEM
        self.ca_pem = ca.public_bytes(pem).decode()
        self.other_ca_pem = other.public_bytes(pem).decode()
        self.cert = d / "trove.crt"
        self.key = d / "trove.key"
        self.cert.write_bytes(leaf.public_bytes(pem))
        self.key.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        assert ipaddress.ip_address("127.0.0.1") not in [
            ip for ip in leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            .get_values_for_type(x509.IPAddress)]


@pytest.fixture
def tls_trove(api, procs, log_dir, tmp_path):
    """`trove server -dev` with two listeners: plain HTTP (the test's own
    calls) and TLS with the trove.test certificate (the operator's); the
    jwt method configured as above; Secrets with each CA in trove-system."""
    d = tmp_path / "tls"
    d.mkdir()
    tls = TLSFiles(d)
    plain, secure = free_port(), free_port()
    cfg = d / "listeners.hcl"
    cfg.write_text(f'listener "tcp" {{\n  address = "127.0.0.1:{plain}"\n  tls_disable = true\n}}\n'
                   f'listener "tcp" {{\n  address = "127.0.0.1:{secure}"\n'
                   f'  tls_cert_file = "{tls.cert}"\n  tls_key_file = "{tls.key}"\n}}\n')
    root = "trove-dev-tls-root"
    url = f"http://127.0.0.1:{plain}"
    proc = TroveProcess([TROVE_BIN, "server", "-dev", f"-dev-root-token-id={root}", "-config", str(cfg)],
                        log_dir, "dev-tls", url + "/v1/sys/health")
    procs.append(proc)
    proc.start()
    srv = Server(proc, url)
    srv.root_token = root
    srv.https = f"https://127.0.0.1:{secure}"
    srv.tls = tls
    configure_jwt(srv, api)
    for name, ca in (("trove-ca", tls.ca_pem), ("other-ca", tls.other_ca_pem), ("bad-ca", "not a certificate\n")):
        api.create("v1", "secrets", OPNS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                                           "data": {"ca.crt": base64.b64encode(ca.encode()).decode()}})
    api.create(VSO, "vaultauths", "app",
               jwt_auth("jwt-sa", role="sa", serviceAccount="default", audiences=["trove"]))
    kv_put(srv, "tls-web", {"password": "over-tls"})
    return srv


def tls_sync(api, procs, log_dir, **conn):
    """The default VaultConnection as conn says, a VaultStaticSecret using
    it, the operator started."""
    api.create(VSO, "vaultconnections", OPNS, connection(**conn))
    api.create(VSO, "vaultstaticsecrets", "app", vss("tls-web", "tls-web", vaultAuthRef="jwt-sa"))
    start_operator(api, procs, log_dir)


def test_tls_connection_with_ca_secret_and_server_name(api, tls_trove, procs, log_dir):
    tls_sync(api, procs, log_dir, address=tls_trove.https, caCertSecretRef="trove-ca",
             tlsServerName="trove.test", skipTLSVerify=False)
    data = wait_for("the Secret", lambda: secret_data(api, "app", "tls-web"))
    assert data["password"] == "over-tls"
    assert condition(synced(api, "app", "tls-web"), "SecretSynced")["status"] == "True"


def refused(api, what):
    o = wait_for("the refusal", lambda: (o := api.get(VSO, "vaultstaticsecrets", "app", "tls-web"))
                 and (c := condition(o, "SecretSynced")) and c["status"] == "False" and o)
    c = condition(o, "SecretSynced")
    assert c["reason"] == "VaultClientError", c
    assert what in c["message"], c
    assert any(e.get("reason") == "VaultClientError" and what in e.get("message", "") for e in api.events("app"))
    assert api.get("v1", "secrets", "app", "tls-web") is None
    return c["message"]


def test_tls_wrong_ca_is_refused_naming_the_x509_error(api, tls_trove, procs, log_dir):
    tls_sync(api, procs, log_dir, address=tls_trove.https, caCertSecretRef="other-ca",
             tlsServerName="trove.test", skipTLSVerify=False)
    msg = refused(api, "unable to get local issuer certificate")
    assert "certificate" in msg and "trove.test" in msg, msg
    time.sleep(2)  # retried with backoff, still nothing
    assert api.get("v1", "secrets", "app", "tls-web") is None
    # Given the right CA, the same connection syncs.
    c = api.get(VSO, "vaultconnections", OPNS, "default")
    c["spec"]["caCertSecretRef"] = "trove-ca"
    api.put(VSO, "vaultconnections", OPNS, c)
    data = wait_for("the Secret", lambda: secret_data(api, "app", "tls-web"), timeout=30)
    assert data["password"] == "over-tls"


def test_tls_name_not_in_the_certificate_is_refused(api, tls_trove, procs, log_dir):
    # Without tlsServerName the name checked is the address's, 127.0.0.1,
    # which the certificate does not name.
    tls_sync(api, procs, log_dir, address=tls_trove.https, caCertSecretRef="trove-ca")
    refused(api, "IP address mismatch")


def test_tls_skip_verify_needs_no_ca(api, tls_trove, procs, log_dir):
    tls_sync(api, procs, log_dir, address=tls_trove.https, skipTLSVerify=True)
    data = wait_for("the Secret", lambda: secret_data(api, "app", "tls-web"))
    assert data["password"] == "over-tls"


def test_tls_ca_secret_without_a_certificate_is_refused(api, tls_trove, procs, log_dir):
    tls_sync(api, procs, log_dir, address=tls_trove.https, caCertSecretRef="bad-ca", tlsServerName="trove.test")
    # Refused before anything is sent, as a configuration error naming the
    # Secret (VSO: "invalid CA cert in secret").
    o = wait_for("the refusal", lambda: (o := api.get(VSO, "vaultstaticsecrets", "app", "tls-web"))
                 and (c := condition(o, "SecretSynced")) and c["status"] == "False" and o)
    c = condition(o, "SecretSynced")
    assert c["reason"] == "VaultClientConfigError", c
    assert f"{OPNS}/bad-ca has no PEM certificate in ca.crt" in c["message"], c
    assert api.get("v1", "secrets", "app", "tls-web") is None
    # skipTLSVerify reads no certificate from it (VSO checks the CA only
    # when verifying).
    conn = api.get(VSO, "vaultconnections", OPNS, "default")
    conn["spec"]["skipTLSVerify"] = True
    api.put(VSO, "vaultconnections", OPNS, conn)
    assert wait_for("the Secret", lambda: secret_data(api, "app", "tls-web"), timeout=30)["password"] == "over-tls"
