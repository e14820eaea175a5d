"""auth/jwt and auth/oidc against the real server.

JWTs are signed in the test with keys made by python3-cryptography
(RS256, PS256, ES256, EdDSA), and given to Trove as jwt_validation_pubkeys
or as a JWKS that a loopback HTTP server in the test serves (counting its
fetches). Covered: the configuration and roles through hvac's
client.auth.jwt methods, logins (alias, metadata from claim_mappings,
token settings), every refusal (audience, subject, bound claims as
strings and globs, expired, not yet valid, wrong key, alg none, HS256
keyed with the public key, an alg the config does not allow, an unknown
kid that refetches the JWKS once a minute at most), groups from
groups_claim becoming external group membership and policies, OIDC
discovery refused at config write when the CA is wrong, and audit
entries that never hold the JWT or the client secret. The OIDC
authorisation-code flow against a real provider is in the second half
(oidc_provider.py)."""

import base64
import hashlib
import hmac
import http.server
import json
import ssl
import threading
import time

import hvac
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

ISS = "https://idp.example"


# --- keys and tokens --------------------------------------------------------


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key(alg="RS256"):
    if alg.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def jwk(key, kid=None):
    pub = key.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        n = pub.public_numbers()
        out = {"kty": "RSA", "n": b64u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")), "e": b64u(n.e.to_bytes(3, "big"))}
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        n = pub.public_numbers()
        out = {"kty": "EC", "crv": "P-256", "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}
    else:
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        out = {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
    if kid:
        out["kid"] = kid
    return out


def sign(key, claims, alg="RS256", kid=None, header=None):
    h = {"alg": alg, "typ": "JWT"}
    if kid:
        h["kid"] = kid
    h.update(header or {})
    signing = f"{b64u(json.dumps(h))}.{b64u(json.dumps(claims))}".encode()
    if alg == "none":
        return signing.decode() + "."
    if alg == "RS256":
        sig = key.sign(signing, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "PS256":
        sig = key.sign(signing, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    elif alg == "ES256":
        r, s = decode_dss_signature(key.sign(signing, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif alg == "EdDSA":
        sig = key.sign(signing)
    elif alg == "HS256":
        sig = hmac.new(key, signing, hashlib.sha256).digest()
    else:
        raise ValueError(alg)
    return f"{signing.decode()}.{b64u(sig)}"


def claims(**kw):
    now = int(time.time())
    c = {"iss": ISS, "sub": "ann", "aud": "trove", "iat": now - 5, "nbf": now - 5, "exp": now + 300,
         "email": "ann@example.com", "groups": ["eng", "ops"], "org": {"team": "payments-prod"}}
    for k, v in kw.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


# --- a JWKS (and discovery) server --------------------------------------------


class KeyServer:
    """Serves /jwks (and a discovery document naming it) over HTTP or
    HTTPS on loopback; counts JWKS fetches."""

    def __init__(self, keys, tls=None):
        self.keys = keys  # list of (key, kid)
        self.fetches = 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == "/jwks":
                    outer.fetches += 1
                    body = {"keys": [jwk(k, kid) for k, kid in outer.keys]}
                elif self.path == "/.well-known/openid-configuration":
                    body = {"issuer": outer.url, "jwks_uri": outer.url + "/jwks",
                            "authorization_endpoint": outer.url + "/auth", "token_endpoint": outer.url + "/token"}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def self_signed(tmp_path, name):
    key = ec.generate_private_key(ec.SECP256R1())
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subj).issuer_name(subj).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(__import__("datetime").datetime(2020, 1, 1))
            .not_valid_after(__import__("datetime").datetime(2040, 1, 1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cp, kp = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(cp), str(kp), cert.public_bytes(serialization.Encoding.PEM).decode()


# --- helpers ----------------------------------------------------------------


def enable(srv, path="jwt", type_="jwt"):
    r = srv.request("POST", f"/v1/sys/auth/{path}", token=srv.root_token, json={"type": type_})
    assert r.status_code == 204, r.text
    return srv.get("/v1/sys/auth", token=srv.root_token).json()["data"][path + "/"]["accessor"]


def client(srv):
    return hvac.Client(url=srv.url, token=srv.root_token)


def login(srv, jwt, role="r", mount="jwt"):
    return requests.post(f"{srv.url}/v1/auth/{mount}/login", json={"role": role, "jwt": jwt}, timeout=30)


def refused(r, status=400):
    assert r.status_code == status, r.text
    body = r.json()
    assert not body.get("auth"), body
    return " ".join(body.get("errors", []))


@pytest.fixture
def rs(dev_server):
    """A jwt mount with one RS256 key given as PEM, and role r."""
    key = new_key()
    enable(dev_server)
    c = client(dev_server)
    c.auth.jwt.configure(jwt_validation_pubkeys=[pem(key)], bound_issuer=ISS, path="jwt")
    c.auth.jwt.create_role(
        "r", role_type="jwt", user_claim="sub", bound_audiences=["trove"], allowed_redirect_uris=[],
        claim_mappings={"email": "email", "/org/team": "team"}, token_policies=["p1"], token_ttl="10m", path="jwt")
    return dev_server, key


# --- logins -----------------------------------------------------------------


def test_jwt_login_with_pem_keys_through_hvac(rs):
    srv, key = rs
    c = client(srv)
    cfg = c.auth.jwt.read_config(path="jwt")["data"]
    assert cfg["bound_issuer"] == ISS and len(cfg["jwt_validation_pubkeys"]) == 1
    role = c.auth.jwt.read_role("r", path="jwt")["data"]
    assert role["role_type"] == "jwt" and role["bound_audiences"] == ["trove"] and role["token_policies"] == ["p1"]
    assert role["token_ttl"] == 600 and role["user_claim"] == "sub"
    assert c.auth.jwt.list_roles(path="jwt")["data"]["keys"] == ["r"]

    out = hvac.Client(url=srv.url).auth.jwt.jwt_login("r", sign(key, claims()), path="jwt")
    auth = out["auth"]
    assert auth["policies"] == ["default", "p1"] and auth["lease_duration"] == 600
    assert auth["metadata"] == {"role": "r", "email": "ann@example.com", "team": "payments-prod"}
    assert auth["entity_id"]
    look = requests.post(f"{srv.url}/v1/identity/lookup/entity", headers={"X-Vault-Token": srv.root_token},
                         json={"id": auth["entity_id"]}, timeout=10).json()["data"]
    assert [a["name"] for a in look["aliases"]] == ["ann"]
    # A token read from a file keeps its newline; it is trimmed.
    assert login(srv, sign(key, claims()) + "\n").status_code == 200
    # The token works.
    r = srv.get("/v1/auth/token/lookup-self", token=auth["client_token"])
    assert r.status_code == 200 and r.json()["data"]["display_name"].endswith("ann")


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
def test_each_allowed_algorithm(dev_server, alg):
    key = new_key(alg)
    enable(dev_server)
    c = client(dev_server)
    c.auth.jwt.configure(jwt_validation_pubkeys=[pem(key)], jwt_supported_algs=[alg], path="jwt")
    c.auth.jwt.create_role("r", role_type="jwt", user_claim="sub", bound_subject="ann", allowed_redirect_uris=[], path="jwt")
    r = login(dev_server, sign(key, claims(aud=None), alg=alg))
    assert r.status_code == 200, r.text
    assert r.json()["auth"]["client_token"]


def test_every_refusal_gets_no_token(rs):
    srv, key = rs
    other = new_key()
    now = int(time.time())
    cases = {
        "audience": sign(key, claims(aud="someone-else")),
        "no audience bound": None,
        "expired": sign(key, claims(exp=now - 3600, iat=now - 7200, nbf=now - 7200)),
        "not yet valid": sign(key, claims(nbf=now + 3600, iat=None)),
        "issued in the future": sign(key, claims(iat=now + 3600, nbf=None)),
        "wrong issuer": sign(key, claims(iss="https://evil.example")),
        "wrong key": sign(other, claims()),
        "alg none": sign(None, claims(), alg="none"),
        "HS256 keyed with the public key": sign(pem(key).encode(), claims(), alg="HS256"),
        "alg not allowed": sign(new_key("ES256"), claims(), alg="ES256"),
        "no time claim": sign(key, claims(exp=None, iat=None, nbf=None)),
        "garbage": "not.a.jwt",
        "no user claim": sign(key, claims(sub=None)),
    }
    for why, tok in cases.items():
        if tok is None:
            continue
        msg = refused(login(srv, tok))
        assert tok not in msg, why
    # A wrong role type, an unknown role, no role.
    c = client(srv)
    c.auth.jwt.create_role("o", role_type="oidc", user_claim="sub", allowed_redirect_uris=["http://x/cb"], path="jwt")
    refused(login(srv, sign(key, claims()), role="o"))
    refused(login(srv, sign(key, claims()), role="nope"))
    refused(login(srv, sign(key, claims()), role=""))
    # The server still serves.
    assert login(srv, sign(key, claims())).status_code == 200


def test_bound_subject_and_unbound_audience(rs):
    srv, key = rs
    c = client(srv)
    c.auth.jwt.create_role("s", role_type="jwt", user_claim="sub", bound_subject="bob", allowed_redirect_uris=[], path="jwt")
    refused(login(srv, sign(key, claims(sub="ann", aud=None)), role="s"))
    assert login(srv, sign(key, claims(sub="bob", aud=None)), role="s").status_code == 200
    # A token carrying an aud needs the role to bind one.
    refused(login(srv, sign(key, claims(sub="bob")), role="s"))


def test_bound_claims_string_and_glob(rs):
    srv, key = rs
    c = client(srv)
    c.auth.jwt.create_role("str", role_type="jwt", user_claim="sub", bound_audiences=["trove"],
                           bound_claims={"email": ["bob@example.com", "ann@example.com"], "/org/team": "payments-prod"},
                           allowed_redirect_uris=[], path="jwt")
    assert login(srv, sign(key, claims()), role="str").status_code == 200
    refused(login(srv, sign(key, claims(email="eve@example.com")), role="str"))
    refused(login(srv, sign(key, claims(org={"team": "payments-dev"})), role="str"))
    refused(login(srv, sign(key, claims(org=None)), role="str"))
    c.auth.jwt.create_role("glob", role_type="jwt", user_claim="sub", bound_audiences=["trove"], bound_claims_type="glob",
                           bound_claims={"email": "*@example.com", "groups": "op*"}, allowed_redirect_uris=[], path="jwt")
    assert login(srv, sign(key, claims()), role="glob").status_code == 200
    refused(login(srv, sign(key, claims(email="ann@example.org")), role="glob"))
    refused(login(srv, sign(key, claims(groups=["eng"])), role="glob"))
    # A string role does not read a glob.
    c.auth.jwt.create_role("lit", role_type="jwt", user_claim="sub", bound_audiences=["trove"],
                           bound_claims={"email": "*@example.com"}, allowed_redirect_uris=[], path="jwt")
    refused(login(srv, sign(key, claims()), role="lit"))


def test_role_and_config_validation(dev_server):
    enable(dev_server)
    h = {"X-Vault-Token": dev_server.root_token}
    u = f"{dev_server.url}/v1/auth/jwt"
    key = new_key()
    bad_configs = [
        {},
        {"jwt_validation_pubkeys": [pem(key)], "jwks_url": "http://127.0.0.1:1/jwks"},
        {"jwt_validation_pubkeys": ["not a key"]},
        {"jwt_validation_pubkeys": [pem(key)], "jwt_supported_algs": ["HS256"]},
        {"jwt_validation_pubkeys": [pem(key)], "jwt_supported_algs": ["none"]},
        {"jwt_validation_pubkeys": [pem(key)], "oidc_client_id": "x", "oidc_client_secret": "y"},
        {"jwt_validation_pubkeys": [pem(key)], "oidc_response_mode": "fragment"},
        {"jwks_url": "http://127.0.0.1:1/jwks"},
    ]
    for body in bad_configs:
        r = requests.post(u + "/config", headers=h, json=body, timeout=30)
        assert r.status_code == 400, (body, r.text)
    assert requests.get(u + "/config", headers=h, timeout=10).status_code == 404
    r = requests.post(u + "/config", headers=h, json={"jwt_validation_pubkeys": [pem(key)]}, timeout=10)
    assert r.status_code == 204, r.text
    bad_roles = [
        {"role_type": "jwt", "bound_audiences": ["a"]},  # no user_claim
        {"role_type": "jwt", "user_claim": "sub"},  # nothing bound
        {"role_type": "oidc", "user_claim": "sub"},  # no redirect URIs
        {"role_type": "saml", "user_claim": "sub", "bound_subject": "x"},
        {"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "bound_claims_type": "regex"},
        {"role_type": "jwt", "user_claim": "sub", "bound_claims_type": "glob", "bound_claims": {"a": 5}},
        {"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "claim_mappings": {"a": "m", "b": "m"}},
        {"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "clock_skew_leeway": "soon"},
    ]
    for body in bad_roles:
        r = requests.post(u + "/role/x", headers=h, json=body, timeout=10)
        assert r.status_code == 400, (body, r.text)
    r = requests.post(u + "/role/x", headers=h, json={"role_type": "jwt", "user_claim": "sub", "bound_subject": "x",
                                                      "clock_skew_leeway": -1, "expiration_leeway": "2m"}, timeout=10)
    assert r.status_code == 204, r.text
    d = requests.get(u + "/role/x", headers=h, timeout=10).json()["data"]
    assert d["clock_skew_leeway"] == -1 and d["expiration_leeway"] == 120 and d["not_before_leeway"] == 0


def test_leeways(dev_server):
    key = new_key()
    enable(dev_server)
    c = client(dev_server)
    c.auth.jwt.configure(jwt_validation_pubkeys=[pem(key)], path="jwt")
    now = int(time.time())
    tok = sign(key, claims(aud=None, exp=now - 100, iat=now - 1000, nbf=None))
    c.auth.jwt.create_role("d", role_type="jwt", user_claim="sub", bound_subject="ann", allowed_redirect_uris=[], path="jwt")
    assert login(dev_server, tok, role="d").status_code == 200  # 60 + 150 s by default
    c.auth.jwt.create_role("n", role_type="jwt", user_claim="sub", bound_subject="ann", clock_skew_leeway=-1,
                           expiration_leeway=-1, allowed_redirect_uris=[], path="jwt")
    refused(login(dev_server, tok, role="n"))


def test_jwks_url_and_unknown_kid_refetch(dev_server):
    k1, k2, k3 = new_key(), new_key(), new_key()
    ks = KeyServer([(k1, "one")])
    try:
        enable(dev_server)
        c = client(dev_server)
        c.auth.jwt.configure(jwks_url=ks.url + "/jwks", path="jwt")
        assert ks.fetches == 1  # checked at write
        c.auth.jwt.create_role("r", role_type="jwt", user_claim="sub", bound_audiences=["trove"], allowed_redirect_uris=[], path="jwt")
        assert login(dev_server, sign(k1, claims(), kid="one")).status_code == 200
        assert login(dev_server, sign(k1, claims(), kid="one")).status_code == 200
        assert ks.fetches == 2  # cached after the first login
        ks.keys.append((k2, "two"))
        assert login(dev_server, sign(k2, claims(), kid="two")).status_code == 200  # unknown kid: refetched
        assert ks.fetches == 3
        ks.keys.append((k3, "three"))
        msg = refused(login(dev_server, sign(k3, claims(), kid="three")))  # within the minute: no refetch
        assert "kid" in msg
        refused(login(dev_server, sign(k3, claims(), kid="made-up")))
        assert ks.fetches == 3
        refused(login(dev_server, sign(k3, claims(), kid="one")))  # a known kid, the wrong key
    finally:
        ks.close()


def test_discovery_checked_at_write_with_its_ca(dev_server, tmp_path):
    cert, keyfile, ca = self_signed(tmp_path, "idp")
    _, _, other_ca = self_signed(tmp_path, "other")
    k = new_key()
    ks = KeyServer([(k, "k")], tls=(cert, keyfile))
    try:
        enable(dev_server)
        h = {"X-Vault-Token": dev_server.root_token}
        u = f"{dev_server.url}/v1/auth/jwt/config"
        r = requests.post(u, headers=h, json={"oidc_discovery_url": ks.url, "oidc_discovery_ca_pem": other_ca}, timeout=30)
        assert r.status_code == 400 and "discovery" in r.text, r.text
        r = requests.post(u, headers=h, json={"oidc_discovery_url": ks.url}, timeout=30)  # system CAs
        assert r.status_code == 400, r.text
        r = requests.post(u, headers=h, json={"oidc_discovery_url": ks.url + "/", "oidc_discovery_ca_pem": ca}, timeout=30)
        assert r.status_code == 400 and "issuer" in r.text, r.text  # the issuer must be the URL given
        r = requests.post(u, headers=h, json={"oidc_discovery_url": ks.url, "oidc_discovery_ca_pem": ca,
                                              "oidc_client_id": "trove", "oidc_client_secret": "s3cret-client"}, timeout=30)
        assert r.status_code == 204, r.text
        got = requests.get(u, headers=h, timeout=10).json()["data"]
        assert got["oidc_discovery_url"] == ks.url and "oidc_client_secret" not in got
        assert "s3cret-client" not in json.dumps(got)
        # A JWT from that issuer logs in with the discovered keys.
        client(dev_server).auth.jwt.create_role("r", role_type="jwt", user_claim="sub", bound_audiences=["trove"],
                                                allowed_redirect_uris=[], path="jwt")
        assert login(dev_server, sign(k, claims(iss=ks.url), kid="k")).status_code == 200
        # The JWKS URL with a wrong CA is refused too.
        r = requests.post(u, headers=h, json={"jwks_url": ks.url + "/jwks", "jwks_ca_pem": other_ca}, timeout=30)
        assert r.status_code == 400, r.text
    finally:
        ks.close()


def test_groups_claim_sets_external_groups_and_policies(rs):
    srv, key = rs
    acc = srv.get("/v1/sys/auth", token=srv.root_token).json()["data"]["jwt/"]["accessor"]
    h = {"X-Vault-Token": srv.root_token}
    r = requests.put(f"{srv.url}/v1/sys/policies/acl/ops-pol", headers=h,
                     json={"policy": 'path "secret/*" { capabilities = ["read"] }'}, timeout=10)
    assert r.status_code == 204
    g = requests.post(f"{srv.url}/v1/identity/group", headers=h,
                      json={"name": "ops", "type": "external", "policies": ["ops-pol"]}, timeout=10).json()["data"]
    r = requests.post(f"{srv.url}/v1/identity/group-alias", headers=h,
                      json={"name": "ops", "mount_accessor": acc, "canonical_id": g["id"]}, timeout=10)
    assert r.status_code in (200, 204), r.text
    client(srv).auth.jwt.create_role("g", role_type="jwt", user_claim="sub", bound_audiences=["trove"], groups_claim="groups",
                                     allowed_redirect_uris=[], path="jwt")
    auth = login(srv, sign(key, claims()), role="g").json()["auth"]
    assert auth["identity_policies"] == ["ops-pol"] and "ops-pol" in auth["policies"]
    # Out of the group at the next login: the membership goes.
    auth = login(srv, sign(key, claims(groups=["eng"])), role="g").json()["auth"]
    assert not auth["identity_policies"]
    # A groups claim that is not a list of strings is refused.
    refused(login(srv, sign(key, claims(groups=[1, 2])), role="g"))
    refused(login(srv, sign(key, claims(groups=None)), role="g"))


def test_oidc_mount_type_and_hvac_oidc_methods(dev_server):
    key = new_key()
    enable(dev_server, "oidc", "oidc")
    c = client(dev_server)
    c.auth.oidc.configure(jwt_validation_pubkeys=[pem(key)], default_role="r", path="oidc")
    c.auth.oidc.create_role("r", role_type="jwt", user_claim="sub", bound_audiences=["trove"],
                            allowed_redirect_uris=["http://localhost:8250/oidc/callback"], path="oidc")
    assert c.auth.oidc.read_role("r", path="oidc")["data"]["allowed_redirect_uris"] == ["http://localhost:8250/oidc/callback"]
    r = requests.post(f"{dev_server.url}/v1/auth/oidc/login", json={"jwt": sign(key, claims())}, timeout=30)
    assert r.status_code == 200, r.text  # default_role
    c.auth.oidc.delete_role("r", path="oidc")
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.auth.oidc.read_role("r", path="oidc")


def test_audit_masks_the_jwt_and_the_client_secret(audited_server, tmp_path):
    srv, log = audited_server
    key = new_key()
    enable(srv)
    h = {"X-Vault-Token": srv.root_token}
    r = requests.post(f"{srv.url}/v1/auth/jwt/config", headers=h,
                      json={"jwt_validation_pubkeys": [pem(key)], "oidc_client_secret": "unused"}, timeout=30)
    assert r.status_code == 400  # a secret without a discovery URL
    r = requests.post(f"{srv.url}/v1/auth/jwt/config", headers=h, json={"jwt_validation_pubkeys": [pem(key)]}, timeout=30)
    assert r.status_code == 204
    client(srv).auth.jwt.create_role("r", role_type="jwt", user_claim="sub", bound_audiences=["trove"], allowed_redirect_uris=[], path="jwt")
    tok = sign(key, claims())
    assert login(srv, tok).status_code == 200
    refused(login(srv, sign(new_key(), claims())))
    text = log.read_text()
    assert "auth/jwt/login" in text
    sig = tok.rsplit(".", 1)[1]
    for secret in (tok, sig, tok.split(".")[1], "unused"):
        assert secret not in text


# --- OIDC: the authorisation-code flow against a real provider -------------

from oidc_provider import OIDCProvider  # noqa: E402

REDIRECT = "http://127.0.0.1:8250/oidc/callback"
USERS = {"ann": {"email": "ann@example.com", "groups": ["ops", "eng"]}, "bob": {"email": "bob@example.com", "groups": ["eng"]}}


@pytest.fixture
def oidc(dev_server, log_dir):
    with OIDCProvider(log_dir, [REDIRECT, "http://127.0.0.1:8250/other"], USERS) as idp:
        enable(dev_server, "oidc", "oidc")
        c = client(dev_server)
        c.auth.oidc.configure(oidc_discovery_url=idp.issuer, oidc_client_id=idp.client_id,
                              oidc_client_secret=idp.client_secret, default_role="web", path="oidc")
        c.auth.oidc.create_role("web", role_type="oidc", user_claim="sub", groups_claim="groups",
                                oidc_scopes=["email", "groups"], allowed_redirect_uris=[REDIRECT],
                                claim_mappings={"email": "email"}, token_policies=["web"], path="oidc")
        yield dev_server, idp


def auth_url(srv, role="web", redirect=REDIRECT, **extra):
    return requests.post(f"{srv.url}/v1/auth/oidc/oidc/auth_url", json={"role": role, "redirect_uri": redirect, **extra},
                         timeout=30)


def callback(srv, **params):
    return requests.get(f"{srv.url}/v1/auth/oidc/oidc/callback", params=params, timeout=30)


def test_oidc_code_flow_through_hvac(oidc):
    srv, idp = oidc
    c = hvac.Client(url=srv.url)
    url = c.auth.oidc.oidc_authorization_url_request("web", REDIRECT, path="oidc")["data"]["auth_url"]
    q = {k: v[0] for k, v in __import__("urllib.parse").parse.parse_qs(__import__("urllib.parse").parse.urlparse(url).query).items()}
    assert url.startswith(idp.issuer + "/auth?")
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert q["client_id"] == "trove" and q["redirect_uri"] == REDIRECT and q["scope"] == "openid email groups"
    assert q["state"] and q["nonce"] and q["response_type"] == "code"
    back = idp.sign_in(url, "ann", REDIRECT)
    assert back["state"] == q["state"]
    out = c.auth.oidc.oidc_callback(back["state"], "", back["code"], path="oidc")
    auth = out["auth"]
    assert auth["policies"] == ["default", "web"]
    assert auth["metadata"] == {"role": "web", "email": "ann@example.com"}
    r = srv.get("/v1/auth/token/lookup-self", token=auth["client_token"])
    assert r.status_code == 200


def test_oidc_groups_become_external_group_policies(oidc):
    srv, idp = oidc
    acc = srv.get("/v1/sys/auth", token=srv.root_token).json()["data"]["oidc/"]["accessor"]
    h = {"X-Vault-Token": srv.root_token}
    requests.put(f"{srv.url}/v1/sys/policies/acl/ops-pol", headers=h, json={"policy": 'path "secret/*" { capabilities = ["read"] }'}, timeout=10)
    g = requests.post(f"{srv.url}/v1/identity/group", headers=h, json={"name": "ops", "type": "external", "policies": ["ops-pol"]}, timeout=10).json()["data"]
    requests.post(f"{srv.url}/v1/identity/group-alias", headers=h, json={"name": "ops", "mount_accessor": acc, "canonical_id": g["id"]}, timeout=10)
    for user, want in (("ann", ["ops-pol"]), ("bob", [])):
        url = auth_url(srv).json()["data"]["auth_url"]
        back = idp.sign_in(url, user, REDIRECT)
        r = callback(srv, state=back["state"], code=back["code"])
        assert r.status_code == 200, r.text
        assert (r.json()["auth"]["identity_policies"] or []) == want, user


def test_oidc_refusals(oidc):
    srv, idp = oidc
    # A redirect URI the role does not allow (the provider would accept it).
    refused(auth_url(srv, redirect="http://127.0.0.1:8250/other"))
    refused(auth_url(srv, redirect=REDIRECT + "/"))
    refused(auth_url(srv, role="nope"))
    # Unknown and replayed state.
    refused(callback(srv, state="made-up", code="x"))
    url = auth_url(srv).json()["data"]["auth_url"]
    back = idp.sign_in(url, "ann", REDIRECT)
    assert callback(srv, state=back["state"], code=back["code"]).status_code == 200
    msg = refused(callback(srv, state=back["state"], code=back["code"]))
    assert "state" in msg
    # A state is spent by a failed callback too (a wrong code).
    url = auth_url(srv).json()["data"]["auth_url"]
    back = idp.sign_in(url, "ann", REDIRECT)
    refused(callback(srv, state=back["state"], code="wrong-code"))
    refused(callback(srv, state=back["state"], code=back["code"]))
    # client_nonce must be repeated.
    url = auth_url(srv, client_nonce="cn-1").json()["data"]["auth_url"]
    back = idp.sign_in(url, "ann", REDIRECT)
    refused(callback(srv, state=back["state"], code=back["code"], client_nonce="cn-2"))
    url = auth_url(srv, client_nonce="cn-1").json()["data"]["auth_url"]
    back = idp.sign_in(url, "ann", REDIRECT)
    assert callback(srv, state=back["state"], code=back["code"], client_nonce="cn-1").status_code == 200
    # The provider's error comes back as a refusal.
    url = auth_url(srv).json()["data"]["auth_url"]
    state = __import__("urllib.parse").parse.parse_qs(__import__("urllib.parse").parse.urlparse(url).query)["state"][0]
    refused(callback(srv, state=state, error="access_denied"))


def test_oidc_pkce_verifier_and_nonce_are_bound(oidc):
    """A code obtained for one auth_url cannot be redeemed with another
    pending login's state: the PKCE verifier differs (the provider refuses),
    and so would the nonce."""
    srv, idp = oidc
    url1 = auth_url(srv).json()["data"]["auth_url"]
    url2 = auth_url(srv).json()["data"]["auth_url"]
    back1 = idp.sign_in(url1, "ann", REDIRECT)
    state2 = __import__("urllib.parse").parse.parse_qs(__import__("urllib.parse").parse.urlparse(url2).query)["state"][0]
    msg = refused(callback(srv, state=state2, code=back1["code"]))
    assert "exchanging" in msg


def test_oidc_id_token_nonce_and_audience(dev_server):
    """An ID token handed to the callback (form_post's id_token) must carry
    the pending login's nonce and the client ID as audience; the keys are
    the test's own here, so only those claims differ."""
    k = new_key()
    ks = KeyServer([(k, "k")])
    try:
        enable(dev_server, "oidc", "oidc")
        c = client(dev_server)
        c.auth.oidc.configure(oidc_discovery_url=ks.url, oidc_client_id="trove", oidc_client_secret="s",
                              oidc_response_mode="form_post", oidc_response_types=["id_token"], path="oidc")
        c.auth.oidc.create_role("web", role_type="oidc", user_claim="sub", allowed_redirect_uris=[REDIRECT], path="oidc")

        def pending():
            url = auth_url(dev_server).json()["data"]["auth_url"]
            q = __import__("urllib.parse").parse.parse_qs(__import__("urllib.parse").parse.urlparse(url).query)
            assert q["response_mode"] == ["form_post"] and q["response_type"] == ["id_token"]
            return q["state"][0], q["nonce"][0]

        def post(state, tok):
            return requests.post(f"{dev_server.url}/v1/auth/oidc/oidc/callback", data={"state": state, "id_token": tok}, timeout=30)

        state, nonce = pending()
        refused(post(state, sign(k, claims(iss=ks.url, nonce="other"), kid="k")))
        state, nonce = pending()
        refused(post(state, sign(k, claims(iss=ks.url, aud="someone-else", nonce=nonce), kid="k")))
        state, nonce = pending()
        refused(post(state, sign(k, claims(iss="https://evil.example", nonce=nonce), kid="k")))
        state, nonce = pending()
        refused(post(state, sign(new_key(), claims(iss=ks.url, nonce=nonce), kid="k")))
        state, nonce = pending()
        r = post(state, sign(k, claims(iss=ks.url, nonce=nonce), kid="k"))
        assert r.status_code == 200, r.text
        refused(post(state, sign(k, claims(iss=ks.url, nonce=nonce), kid="k")))  # replayed
    finally:
        ks.close()


def test_oidc_config_and_role_type(oidc):
    srv, idp = oidc
    c = client(srv)
    cfg = c.auth.oidc.read_config(path="oidc")["data"]
    assert cfg["oidc_discovery_url"] == idp.issuer and cfg["oidc_client_id"] == "trove"
    assert idp.client_secret not in json.dumps(cfg)
    # A jwt login on an oidc role is refused, and an auth_url on a jwt role.
    c.auth.oidc.create_role("j", role_type="jwt", user_claim="sub", bound_subject="ann", allowed_redirect_uris=[], path="oidc")
    refused(auth_url(srv, role="j"))
    refused(requests.post(f"{srv.url}/v1/auth/oidc/login", json={"role": "web", "jwt": "a.b.c"}, timeout=10))
