"""Identity tokens (identity/oidc): Trove as an OIDC issuer for its
entities, through hvac's identity methods and raw HTTP.

A userpass user's token gets an ID token whose signature python-cryptography
verifies against the unauthenticated .well-known/keys; Trove's own JWT auth
method, pointed at that JWKS over the listener, accepts the token (Trove
verifying its own workload tokens); rotation keeps the old public key
published; a token without an entity gets 400; introspection answers
active/inactive."""

import base64
import json
import time

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from trove_harness import assert_error

POLICY = 'path "identity/oidc/token/*" { capabilities = ["read"] }'


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64int(s):
    return int.from_bytes(b64d(s), "big")


def verify_with_jwks(token, jwks):
    """Checks token's signature against the JWKS entry of its kid with
    python-cryptography; returns its claims."""
    h64, c64, s64 = token.split(".")
    header = json.loads(b64d(h64))
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert jwk["alg"] == header["alg"] and jwk["use"] == "sig"
    data, sig = f"{h64}.{c64}".encode(), b64d(s64)
    alg = header["alg"]
    if jwk["kty"] == "RSA":
        pub = rsa.RSAPublicNumbers(b64int(jwk["e"]), b64int(jwk["n"])).public_key()
        pub.verify(sig, data, padding.PKCS1v15(), {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(),
                                                   "RS512": hashes.SHA512()}[alg])
    elif jwk["kty"] == "EC":
        curve, h = {"ES256": (ec.SECP256R1(), hashes.SHA256()), "ES384": (ec.SECP384R1(), hashes.SHA384()),
                    "ES512": (ec.SECP521R1(), hashes.SHA512())}[alg]
        pub = ec.EllipticCurvePublicNumbers(b64int(jwk["x"]), b64int(jwk["y"]), curve).public_key()
        n = len(sig) // 2
        pub.verify(encode_dss_signature(int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big")), data,
                   ec.ECDSA(h))
    else:
        Ed25519PublicKey.from_public_bytes(b64d(jwk["x"])).verify(sig, data)
    return json.loads(b64d(c64))


@pytest.fixture
def idt(dev_server):
    srv = dev_server
    srv.hv = srv.client(srv.root_token)
    srv.hv.sys.enable_auth_method("userpass")
    srv.hv.sys.create_or_update_policy("idtok", POLICY)
    srv.hv.auth.userpass.create_or_update_user("wl", password="pw-wl-123", policies=["idtok"])
    login = srv.client().auth.userpass.login("wl", "pw-wl-123")
    srv.user = srv.client(login["auth"]["client_token"])
    srv.entity_id = login["auth"]["entity_id"]
    srv.hv.secrets.identity.update_entity(srv.entity_id, metadata={"app": "billing"})
    srv.hv.secrets.identity.configure_tokens_backend(issuer=srv.url)
    return srv


def make_role(srv, alg="RS256", template=None):
    ident = srv.hv.secrets.identity
    ident.create_named_key("k", algorithm=alg, allowed_client_ids=["*"])
    ident.create_or_update_role("r", key="k", template=template, ttl="30m")
    return ident.read_role("r")["data"]["client_id"]


@pytest.mark.parametrize("alg", ["RS256", "ES384", "EdDSA"])
def test_token_verifies_against_wellknown_keys(idt, alg):
    client_id = make_role(idt, alg, template='{"app": {{identity.entity.metadata.app}}}')
    out = idt.user.secrets.identity.generate_signed_id_token("r")["data"]
    assert out["client_id"] == client_id and out["ttl"] == 1800
    jwks = requests.get(f"{idt.url}/v1/identity/oidc/.well-known/keys", timeout=30)  # no token
    assert jwks.status_code == 200, jwks.text
    claims = verify_with_jwks(out["token"], jwks.json())
    assert claims["iss"] == idt.url + "/v1/identity/oidc"
    assert claims["sub"] == idt.entity_id and claims["aud"] == client_id
    assert claims["namespace"] == "root" and claims["app"] == "billing"
    assert claims["exp"] - claims["iat"] == 1800 and abs(claims["iat"] - time.time()) < 60
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwks.json()["keys"][0])
    key = idt.hv.secrets.identity.read_named_key("k")["data"]
    assert "private_key" not in key and key["algorithm"] == alg


def test_discovery_documents_with_hvac(idt):
    make_role(idt)
    anon = idt.client()
    conf = anon.secrets.identity.read_well_known_configurations()
    assert conf["issuer"] == idt.url + "/v1/identity/oidc"
    assert conf["jwks_uri"] == idt.url + "/v1/identity/oidc/.well-known/keys"
    assert conf["response_types_supported"] == ["id_token"]
    assert "RS256" in conf["id_token_signing_alg_values_supported"]
    assert len(anon.secrets.identity.read_active_public_keys()["keys"]) == 1
    assert idt.hv.secrets.identity.list_named_keys()["data"]["keys"] == ["k"]


def test_trove_jwt_auth_accepts_its_own_identity_tokens(idt):
    client_id = make_role(idt, "ES256")
    token = idt.user.secrets.identity.generate_signed_id_token("r")["data"]["token"]
    idt.hv.sys.enable_auth_method("jwt")
    idt.hv.auth.jwt.configure(jwks_url=f"{idt.url}/v1/identity/oidc/.well-known/keys",
                              bound_issuer=idt.url + "/v1/identity/oidc", jwt_supported_algs=["ES256"], path="jwt")
    idt.hv.auth.jwt.create_role("wl", role_type="jwt", bound_audiences=[client_id], user_claim="sub",
                                bound_claims={"namespace": "root"}, token_policies=["default"], path="jwt",
                                allowed_redirect_uris=[])
    out = idt.client().auth.jwt.jwt_login("wl", token, path="jwt")
    assert out["auth"]["client_token"]
    assert out["auth"]["metadata"]["role"] == "wl"
    # a token of another audience is refused
    idt.hv.auth.jwt.create_role("other", role_type="jwt", bound_audiences=["someone-else"], user_claim="sub",
                                path="jwt", allowed_redirect_uris=[])
    r = requests.post(f"{idt.url}/v1/auth/jwt/login", json={"role": "other", "jwt": token}, timeout=30)
    assert r.status_code in (400, 403), r.text
    assert "auth" not in r.json() or not r.json().get("auth")


def test_rotation_keeps_the_old_key_published(idt):
    make_role(idt, "RS256")
    old = idt.user.secrets.identity.generate_signed_id_token("r")["data"]["token"]
    r = idt.request("POST", "/v1/identity/oidc/key/k/rotate", token=idt.root_token, json={"verification_ttl": "1h"})
    assert r.status_code == 204, r.text
    new = idt.user.secrets.identity.generate_signed_id_token("r")["data"]["token"]
    jwks = requests.get(f"{idt.url}/v1/identity/oidc/.well-known/keys", timeout=30).json()
    assert len(jwks["keys"]) == 2
    verify_with_jwks(old, jwks)
    verify_with_jwks(new, jwks)
    assert json.loads(b64d(old.split(".")[0]))["kid"] != json.loads(b64d(new.split(".")[0]))["kid"]
    ident = idt.hv.secrets.identity
    assert ident.introspect_signed_id_token(old) == {"active": True}


def test_refusals(idt):
    client_id = make_role(idt)
    # the root token has no entity
    r = idt.get("/v1/identity/oidc/token/r", token=idt.root_token)
    assert_error(r, 400, "no entity")
    # a key in use cannot be deleted
    r = idt.request("DELETE", "/v1/identity/oidc/key/k", token=idt.root_token)
    assert_error(r, 400, "referenced by these roles")
    # reserved claims and bad templates
    for tpl in ('{"sub": "x"}', '{"aud": 1}', "[1]", '{"a": {{identity.entity.secret}}}'):
        r = idt.request("POST", "/v1/identity/oidc/role/bad", token=idt.root_token, json={"key": "k", "template": tpl})
        assert_error(r, 400, "template")
    r = idt.request("POST", "/v1/identity/oidc/key/x", token=idt.root_token, json={"algorithm": "none"})
    assert_error(r, 400, "algorithm")
    r = idt.request("POST", "/v1/identity/oidc/config", token=idt.root_token, json={"issuer": "not a url"})
    assert_error(r, 400, "issuer")
    # the key does not allow the role's client id
    idt.hv.secrets.identity.create_named_key("k", allowed_client_ids=["someone"])
    r = idt.user.adapter.get("/v1/identity/oidc/token/r", raise_exception=False)
    assert r.status_code == 400 and "allowed client ID" in r.text
    # without a token only the .well-known documents answer
    r = requests.get(f"{idt.url}/v1/identity/oidc/role/r", timeout=30)
    assert r.status_code == 403
    assert client_id


def test_introspect(idt):
    client_id = make_role(idt)
    token = idt.user.secrets.identity.generate_signed_id_token("r")["data"]["token"]
    ident = idt.hv.secrets.identity
    assert ident.introspect_signed_id_token(token, client_id=client_id) == {"active": True}
    out = ident.introspect_signed_id_token(token, client_id="other")
    assert out["active"] is False and out["error"]
    h, c, s = token.split(".")
    forged = json.loads(b64d(c))
    forged["sub"] = "someone-else"
    f = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    assert ident.introspect_signed_id_token(f"{h}.{f}.{s}")["active"] is False
    ident.update_entity(idt.entity_id, disabled=True)
    out = ident.introspect_signed_id_token(token)
    assert out == {"active": False, "error": "entity is disabled"}
