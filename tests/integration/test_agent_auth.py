"""`trove agent`'s auto-auth against a real server: every method (approle
with plain, removed and wrapped secret IDs, token_file, jwt, kubernetes
through the k8s_api.py stand-in, aws iam through sts_stub.py, cert over
mTLS), the file sink (mode, atomic replacement during re-logins, the
curve25519 envelope decrypted here as Vault's docs tell consumers to, a
response-wrapped token unwrapped with the root token), renewal then a new
login near the max TTL, a revoked token replaced, the server down then
back, exit_after_auth, exit_on_err, and a wrong role retried with backoff.
"""

import base64
import json
import os
import re
import stat
import threading
import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from agent_proc import start_agent, wait_for, wait_for_file
from trove_harness import TROVE_BIN, TroveProcess, free_port

TOKEN_RX = re.compile(r"^[A-Za-z0-9._-]{20,}$")


# --- helpers ------------------------------------------------------------------


def hcl_map(d):
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        return json.dumps(str(v))

    return "{\n" + "".join(f"      {k} = {val(v)}\n" for k, v in d.items()) + "    }"


def agent_config(url, method, method_config, sinks=(), method_extra="", top="", vault_extra=""):
    """agent.hcl text: vault { address }, one method, sinks given as dicts
    {"config": {...}, "extra": "hcl lines"}."""
    sink_text = ""
    for s in sinks:
        sink_text += f"""
  sink "file" {{
    {s.get("extra", "")}
    config = {hcl_map(s["config"])}
  }}
"""
    return f"""
vault {{
  address = "{url}"
  {vault_extra}
}}
{top}
auto_auth {{
  method "{method}" {{
    {method_extra}
    config = {hcl_map(method_config)}
  }}
{sink_text}
}}
"""


def lookup(srv, token):
    r = srv.request("POST", "/v1/auth/token/lookup", token=srv.root_token, json={"token": token})
    return r


def approle(srv, role="web", role_id=None, secret_id=None, **params):
    r = srv.request("POST", "/v1/sys/auth/approle", token=srv.root_token, json={"type": "approle"})
    assert r.status_code in (204, 400), r.text
    r = srv.request("POST", f"/v1/auth/approle/role/{role}", token=srv.root_token, json=params)
    assert r.status_code == 204, r.text
    if role_id:
        r = srv.request("POST", f"/v1/auth/approle/role/{role}/role-id", token=srv.root_token,
                        json={"role_id": role_id})
        assert r.status_code == 204, r.text
    rid = srv.get(f"/v1/auth/approle/role/{role}/role-id", token=srv.root_token).json()["data"]["role_id"]
    if secret_id:
        r = srv.request("POST", f"/v1/auth/approle/role/{role}/custom-secret-id", token=srv.root_token,
                        json={"secret_id": secret_id})
        assert r.status_code == 200, r.text
        return rid, secret_id
    r = srv.request("POST", f"/v1/auth/approle/role/{role}/secret-id", token=srv.root_token, json={})
    return rid, r.json()["data"]["secret_id"]


def approle_files(tmp_path, rid, sid):
    (tmp_path / "role_id").write_text(rid + "\n")
    (tmp_path / "secret_id").write_text(sid + "\n")
    return {"role_id_file_path": tmp_path / "role_id", "secret_id_file_path": tmp_path / "secret_id"}


def sink_token(path, timeout=20, other_than=None):
    def ready():
        try:
            t = path.read_text()
        except FileNotFoundError:
            return None
        return t if t and t != other_than else None

    return wait_for(ready, timeout, f"a token in {path}" + (" other than the last" if other_than else ""))


def assert_token_of(srv, token, meta_key=None, meta_value=None):
    assert TOKEN_RX.match(token), token
    r = lookup(srv, token)
    assert r.status_code == 200, r.text
    if meta_key:
        assert r.json()["data"]["meta"][meta_key] == meta_value, r.json()["data"]
    return r.json()["data"]


# --- approle ------------------------------------------------------------------


def test_approle_sink_mode_and_secret_id_removed(dev_server, procs, log_dir, tmp_path):
    rid, sid = approle(dev_server, token_policies="default", token_ttl="1h")
    cfg = approle_files(tmp_path, rid, sid)
    sink = tmp_path / "token"
    agent = start_agent(procs, log_dir, tmp_path, agent_config(
        dev_server.url, "approle", cfg, [{"config": {"path": sink, "mode": "0600"}}]))
    token = sink_token(sink)
    assert_token_of(dev_server, token, "role_name", "web")
    assert stat.S_IMODE(os.stat(sink).st_mode) == 0o600
    # Vault's default: the secret ID file is removed once read
    assert not (tmp_path / "secret_id").exists()
    assert (tmp_path / "role_id").exists()
    log = agent.log()
    assert "auto-auth: authenticated" in log and sid not in log and token not in log


def test_approle_keeps_secret_id_file_when_told(dev_server, procs, log_dir, tmp_path):
    rid, sid = approle(dev_server)
    cfg = approle_files(tmp_path, rid, sid)
    cfg["remove_secret_id_file_after_reading"] = False
    sink = tmp_path / "token"
    start_agent(procs, log_dir, tmp_path, agent_config(dev_server.url, "approle", cfg, [{"config": {"path": sink}}]))
    assert_token_of(dev_server, sink_token(sink), "role_name", "web")
    assert (tmp_path / "secret_id").read_text().strip() == sid
    # Vault's default mode
    assert stat.S_IMODE(os.stat(sink).st_mode) == 0o640


def wrapped_secret_id(srv, role="web"):
    r = srv.request("POST", f"/v1/auth/approle/role/{role}/secret-id", token=srv.root_token, json={},
                    headers={"X-Vault-Wrap-TTL": "5m"})
    assert r.status_code == 200, r.text
    return r.json()["wrap_info"]["token"]


def test_approle_wrapped_secret_id(dev_server, procs, log_dir, tmp_path):
    rid, _ = approle(dev_server)
    wrapping = wrapped_secret_id(dev_server)
    cfg = approle_files(tmp_path, rid, wrapping)
    cfg["secret_id_response_wrapping_path"] = "auth/approle/role/web/secret-id"
    sink = tmp_path / "token"
    start_agent(procs, log_dir, tmp_path, agent_config(dev_server.url, "approle", cfg, [{"config": {"path": sink}}]))
    assert_token_of(dev_server, sink_token(sink), "role_name", "web")
    # the wrapping token was used up
    r = dev_server.request("POST", "/v1/sys/wrapping/lookup", json={"token": wrapping})
    assert r.status_code == 400


def test_approle_wrapped_secret_id_from_elsewhere_is_refused(dev_server, procs, log_dir, tmp_path):
    rid, _ = approle(dev_server)
    wrapping = wrapped_secret_id(dev_server)
    cfg = approle_files(tmp_path, rid, wrapping)
    cfg["secret_id_response_wrapping_path"] = "auth/approle/role/other/secret-id"
    sink = tmp_path / "token"
    agent = start_agent(procs, log_dir, tmp_path, agent_config(
        dev_server.url, "approle", cfg, [{"config": {"path": sink}}]))
    wait_for(lambda: "creation path" in agent.log(), 15, "the creation path refusal")
    assert "SECURITY" in agent.log()
    assert not sink.exists()
    # still wrapped: the agent did not unwrap a token it could not vouch for
    r = dev_server.request("POST", "/v1/sys/wrapping/lookup", json={"token": wrapping})
    assert r.status_code == 200, r.text


# --- the other methods ----------------------------------------------------------


def test_token_file(dev_server, procs, log_dir, tmp_path):
    r = dev_server.request("POST", "/v1/auth/token/create", token=dev_server.root_token,
                           json={"ttl": "1h", "policies": ["default"], "meta": {"who": "file"}})
    token = r.json()["auth"]["client_token"]
    (tmp_path / "tok").write_text(token + "\n")
    sink = tmp_path / "token"
    start_agent(procs, log_dir, tmp_path, agent_config(
        dev_server.url, "token_file", {"token_file_path": tmp_path / "tok"}, [{"config": {"path": sink}}]))
    assert sink_token(sink) == token
    assert (tmp_path / "tok").exists()


def test_jwt(dev_server, procs, log_dir, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert dev_server.request("POST", "/v1/sys/auth/jwt", token=dev_server.root_token,
                              json={"type": "jwt"}).status_code == 204
    r = dev_server.request("POST", "/v1/auth/jwt/config", token=dev_server.root_token,
                           json={"jwt_validation_pubkeys": [pub], "bound_issuer": "https://idp.example"})
    assert r.status_code == 204, r.text
    r = dev_server.request("POST", "/v1/auth/jwt/role/app", token=dev_server.root_token,
                           json={"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["trove"],
                                 "token_policies": ["default"]})
    assert r.status_code == 204, r.text
    now = int(time.time())
    signed = pyjwt.encode({"iss": "https://idp.example", "sub": "svc-a", "aud": "trove", "iat": now,
                           "exp": now + 600}, key, algorithm="RS256")
    (tmp_path / "jwt").write_text(signed)
    sink = tmp_path / "token"
    agent = start_agent(procs, log_dir, tmp_path, agent_config(
        dev_server.url, "jwt", {"path": tmp_path / "jwt", "role": "app"}, [{"config": {"path": sink}}]))
    assert_token_of(dev_server, sink_token(sink), "role", "app")
    assert not (tmp_path / "jwt").exists()  # remove_jwt_after_reading defaults to true
    assert signed not in agent.log()


def test_kubernetes(dev_server, procs, log_dir, tmp_path):
    import k8s_api

    api = k8s_api.K8sAPI(tmp_path).start()
    try:
        srv = dev_server
        assert srv.request("POST", "/v1/sys/auth/kubernetes", token=srv.root_token,
                           json={"type": "kubernetes"}).status_code == 204
        r = srv.request("POST", "/v1/auth/kubernetes/config", token=srv.root_token,
                        json={"kubernetes_host": api.url, "kubernetes_ca_cert": api.ca_pem,
                              "token_reviewer_jwt": api.reviewer_jwt})
        assert r.status_code == 204, r.text
        r = srv.request("POST", "/v1/auth/kubernetes/role/web", token=srv.root_token,
                        json={"bound_service_account_names": "web", "bound_service_account_namespaces": "prod",
                              "audience": "trove"})
        assert r.status_code == 204, r.text
        sa = api.account("prod", "web")
        (tmp_path / "sa-token").write_text(api.token(sa, aud=["trove"]))
        sink = tmp_path / "token"
        start_agent(procs, log_dir, tmp_path, agent_config(
            srv.url, "kubernetes", {"role": "web", "token_path": tmp_path / "sa-token"},
            [{"config": {"path": sink}}]))
        assert_token_of(srv, sink_token(sink), "service_account_name", "web")
        assert (tmp_path / "sa-token").exists()  # the service account token is not the agent's to remove
    finally:
        api.stop()


from test_auth_aws import sts  # noqa: E402,F401  (fixture: the STS stand-in, trusted by the server)


def test_aws_iam(sts, dev_server, procs, log_dir, tmp_path):
    from sts_stub import ACCOUNT, IDENTITIES

    srv = dev_server
    srv.client(srv.root_token).sys.enable_auth_method("aws", path="aws")
    r = srv.request("POST", "/v1/auth/aws/config/client", token=srv.root_token,
                    json={"sts_endpoint": sts.url, "iam_server_id_header_value": "trove.example.com"})
    assert r.status_code == 204, r.text
    r = srv.request("POST", "/v1/auth/aws/role/dev", token=srv.root_token,
                    json={"auth_type": "iam", "resolve_aws_unique_ids": False,
                          "bound_iam_principal_arn": [f"arn:aws:iam::{ACCOUNT}:user/alice"]})
    assert r.status_code == 204, r.text
    alice = "AKIDALICEEXAMPLE0001"
    sink = tmp_path / "token"
    agent = start_agent(procs, log_dir, tmp_path, agent_config(
        srv.url, "aws", {"type": "iam", "role": "dev", "header_value": "trove.example.com"},
        [{"config": {"path": sink}}]),
        env={"AWS_ACCESS_KEY_ID": alice, "AWS_SECRET_ACCESS_KEY": IDENTITIES[alice][0],
             "AWS_ENDPOINT_URL_STS": sts.url, "HOME": str(tmp_path)})
    assert_token_of(srv, sink_token(sink), "account_id", ACCOUNT)
    assert IDENTITIES[alice][0] not in agent.log()


def test_aws_ec2_is_refused_at_start(dev_server, procs, log_dir, tmp_path):
    import subprocess

    cfg = tmp_path / "agent.hcl"
    cfg.write_text(agent_config(dev_server.url, "aws", {"type": "ec2", "role": "dev"},
                                [{"config": {"path": tmp_path / "t"}}]))
    p = subprocess.run([TROVE_BIN, "agent", "-config", str(cfg)], capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert f'{cfg}:' in p.stderr and 'auto_auth method "aws": key "type": "ec2" is not supported' in p.stderr


def test_unknown_method_key_names_file_line_and_key(tmp_path):
    import subprocess

    cfg = tmp_path / "agent.hcl"
    cfg.write_text('auto_auth {\n  method "approle" {\n    config = {\n      role_id_file_path = "/r"\n'
                   '      role_id = "x"\n    }\n  }\n  sink "file" { config = { path = "/s" } }\n}\n')
    p = subprocess.run([TROVE_BIN, "agent", "-config", str(cfg)], capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert f'{cfg}:5: auto_auth method "approle": key "role_id": unknown key for this method' in p.stderr, p.stderr


from test_auth_cert import cert_server, pki  # noqa: E402,F401  (fixtures: a TLS server with auth/cert)


def test_cert_over_mtls(cert_server, procs, log_dir, tmp_path):
    srv = cert_server
    pair, _ = srv.pki.client("agent", "app7.example.com")
    sink = tmp_path / "token"
    start_agent(procs, log_dir, tmp_path, agent_config(
        srv.url, "cert", {"name": "web", "client_cert": pair[0], "client_key": pair[1]},
        [{"config": {"path": sink}}], vault_extra=f'ca_cert = "{srv.pki.ca_file}"'))
    data = assert_token_of(srv, sink_token(sink))
    assert "web" in data["policies"]


# --- sinks ------------------------------------------------------------------------


def test_sink_never_empty_or_partial_during_relogins(dev_server, procs, log_dir, tmp_path):
    # a TTL of 2 s makes the agent log in again about every 1.5 s
    rid, sid = approle(dev_server, token_ttl="2s", token_max_ttl="2s")
    sink = tmp_path / "token"
    start_agent(procs, log_dir, tmp_path, agent_config(
        dev_server.url, "approle", approle_files(tmp_path, rid, sid), [{"config": {"path": sink}}]))
    first = sink_token(sink)
    seen, bad = set(), []
    stop = time.monotonic() + 6
    while time.monotonic() < stop:
        t = sink.read_text()
        if not TOKEN_RX.match(t) or len(t) != len(first):
            bad.append(t)
        seen.add(t)
    assert not bad, bad[:3]
    assert len(seen) >= 3, "the agent logged in again at least twice"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # agent_file_write's temporaries
    assert not leftovers


def test_dh_encrypted_sink(dev_server, procs, log_dir, tmp_path):
    rid, sid = approle(dev_server)
    # the consumer's key pair; the agent gets the public half (Vault's dh_path format)
    ours = X25519PrivateKey.generate()
    our_pub = ours.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    (tmp_path / "dh.json").write_text(json.dumps({"curve25519_public_key": base64.b64encode(our_pub).decode()}))
    sink = tmp_path / "token.enc"
    start_agent(procs, log_dir, tmp_path, agent_config(
        dev_server.url, "approle", approle_files(tmp_path, rid, sid),
        [{"config": {"path": sink}, "extra": f'dh_type = "curve25519"\n    dh_path = "{tmp_path / "dh.json"}"\n'
                                              '    derive_key = true\n    aad = "app-42"'}]))
    env = json.loads(sink_token(sink))
    assert set(env) == {"curve25519_public_key", "nonce", "encrypted_payload"}
    # as Vault's docs tell a consumer: X25519 with the agent's public key, HKDF-SHA256 with the two
    # public keys (the smaller as salt), AES-GCM with the nonce and the aad
    agent_pub = base64.b64decode(env["curve25519_public_key"])
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    shared = ours.exchange(X25519PublicKey.from_public_bytes(agent_pub))
    salt, info = sorted([agent_pub, our_pub])
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(shared)
    token = AESGCM(key).decrypt(base64.b64decode(env["nonce"]), base64.b64decode(env["encrypted_payload"]),
                                b"app-42").decode()
    assert_token_of(dev_server, token, "role_name", "web")
    with pytest.raises(Exception):
        AESGCM(key).decrypt(base64.b64decode(env["nonce"]), base64.b64decode(env["encrypted_payload"]), b"other")


def test_wrapped_sink_unwrapped_with_the_root_token(dev_server, procs, log_dir, tmp_path):
    rid, sid = approle(dev_server)
    sink = tmp_path / "token.wrapped"
    start_agent(procs, log_dir, tmp_path, agent_config(
        dev_server.url, "approle", approle_files(tmp_path, rid, sid),
        [{"config": {"path": sink}, "extra": 'wrap_ttl = "5m"'}]))
    info = json.loads(sink_token(sink))
    assert set(info) == {"token", "accessor", "ttl", "creation_time", "creation_path", "wrapped_accessor"}
    assert info["ttl"] == 300 and info["creation_path"] == "sys/wrapping/wrap"
    r = dev_server.request("POST", "/v1/sys/wrapping/unwrap", token=dev_server.root_token,
                           json={"token": info["token"]})
    assert r.status_code == 200, r.text
    assert_token_of(dev_server, r.json()["data"]["token"], "role_name", "web")


def test_wrapped_login_goes_to_the_sink(dev_server, procs, log_dir, tmp_path):
    rid, sid = approle(dev_server)
    sink = tmp_path / "token.wrapped"
    agent = start_agent(procs, log_dir, tmp_path, agent_config(
        dev_server.url, "approle", approle_files(tmp_path, rid, sid), [{"config": {"path": sink}}],
        method_extra='wrap_ttl = "2m"'))
    info = json.loads(sink_token(sink))
    assert info["ttl"] == 120 and info["creation_path"] == "auth/approle/login"
    r = dev_server.request("POST", "/v1/sys/wrapping/unwrap", token=info["token"])
    assert r.status_code == 200, r.text
    assert_token_of(dev_server, r.json()["auth"]["client_token"], "role_name", "web")
    assert "wrapped answer goes to the sink" in agent.log()


# --- renewal and new logins -----------------------------------------------------------


@pytest.mark.time_limit(90)
def test_renewed_then_replaced_near_max_ttl(dev_server, procs, log_dir, tmp_path):
    # TTLs long enough that a renewal is never late on a loaded sanitizer build
    rid, sid = approle(dev_server, token_ttl="6s", token_max_ttl="15s")
    sink = tmp_path / "token"
    agent = start_agent(procs, log_dir, tmp_path, agent_config(
        dev_server.url, "approle", approle_files(tmp_path, rid, sid), [{"config": {"path": sink}}]))
    t1 = sink_token(sink)
    issued = lookup(dev_server, t1).json()["data"]
    # renewed in place: the same token, its expiry pushed later
    wait_for(lambda: "renewed the token" in agent.log(), 10, "a renewal")
    renewed = lookup(dev_server, t1).json()["data"]
    assert sink.read_text() == t1
    assert renewed["expire_time"] > issued["expire_time"], (issued["expire_time"], renewed["expire_time"])
    assert renewed.get("last_renewal_time")
    # near the max TTL a renewal no longer helps: a new login, a new token in the sink
    t2 = sink_token(sink, timeout=20, other_than=t1)
    assert_token_of(dev_server, t2, "role_name", "web")
    assert "nears its max TTL" in agent.log()
    # the old token runs out at its max TTL
    wait_for(lambda: lookup(dev_server, t1).status_code != 200, 20, "the old token to expire")


def test_revoked_token_is_replaced(dev_server, procs, log_dir, tmp_path):
    rid, sid = approle(dev_server, token_ttl="6s", token_max_ttl="1h")
    sink = tmp_path / "token"
    agent = start_agent(procs, log_dir, tmp_path, agent_config(
        dev_server.url, "approle", approle_files(tmp_path, rid, sid), [{"config": {"path": sink}}]))
    t1 = sink_token(sink)
    r = dev_server.request("POST", "/v1/auth/token/revoke", token=dev_server.root_token, json={"token": t1})
    assert r.status_code == 204, r.text
    # the next renewal (about 4 s in) is refused: a new login at once
    t2 = sink_token(sink, timeout=15, other_than=t1)
    assert_token_of(dev_server, t2, "role_name", "web")
    assert "could not be renewed; logging in again" in agent.log()


@pytest.mark.time_limit(90)
def test_server_down_then_back(procs, log_dir, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    rid, sid = "7d0f1a8e-role-id-for-the-agent-test", "secret-id-for-the-agent-test-0001"
    files = approle_files(tmp_path, rid, sid)
    sink = tmp_path / "token"
    agent = start_agent(procs, log_dir, tmp_path, agent_config(
        url, "approle", files, [{"config": {"path": sink}}], method_extra="min_backoff = \"1s\"\n"
                                                                          "    max_backoff = \"4s\""))
    # nobody listens: failures, each followed by a longer wait
    wait_for(lambda: agent.log().count("login failed") >= 2, 15, "two failed logins")
    waits = [int(m) for m in re.findall(r"backoff=(\d+)ms", agent.log())]
    assert waits[0] == 1000 and 1500 <= waits[1] <= 2000, waits
    assert 'method=approle' in agent.log()
    # the server comes up with the role; the agent logs in within max_backoff
    from conftest import DevServer

    root = "trove-dev-root-agent"
    proc = TroveProcess([TROVE_BIN, "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}",
                         f"-dev-root-token-id={root}"], log_dir, "dev-late", url + "/v1/sys/health")
    procs.append(proc)
    proc.start()
    srv = DevServer(proc, url)
    srv.root_token = root
    approle(srv, role_id=rid, secret_id=sid)
    assert_token_of(srv, sink_token(sink, timeout=15), "role_name", "web")


@pytest.mark.parametrize("how", ["config", "flag"])
def test_exit_after_auth(how, dev_server, procs, log_dir, tmp_path):
    rid, sid = approle(dev_server)
    sink = tmp_path / "token"
    agent = start_agent(procs, log_dir, tmp_path, agent_config(
        dev_server.url, "approle", approle_files(tmp_path, rid, sid), [{"config": {"path": sink}}],
        top="exit_after_auth = true" if how == "config" else ""),
        args=("-exit-after-auth",) if how == "flag" else (), wait=False)
    assert agent.wait_exit(20) == 0
    assert_token_of(dev_server, sink.read_text(), "role_name", "web")


def test_exit_on_err_with_a_wrong_secret_id(dev_server, procs, log_dir, tmp_path):
    rid, _ = approle(dev_server)
    sink = tmp_path / "token"
    agent = start_agent(procs, log_dir, tmp_path, agent_config(
        dev_server.url, "approle", approle_files(tmp_path, rid, "not-the-secret-id"), [{"config": {"path": sink}}],
        method_extra="exit_on_err = true"), wait=False)
    assert agent.wait_exit(20) == 1
    log = agent.log()
    assert "login failed" in log and "method=approle" in log and "exit_on_err" in log
    assert not sink.exists()


def test_wrong_role_is_retried_with_backoff(dev_server, procs, log_dir, tmp_path):
    approle(dev_server)
    sink = tmp_path / "token"
    agent = start_agent(procs, log_dir, tmp_path, agent_config(
        dev_server.url, "approle", approle_files(tmp_path, "no-such-role-id", "nope"), [{"config": {"path": sink}}]))
    wait_for(lambda: agent.log().count("login failed") >= 2, 15, "a retried login")
    assert "method=approle" in agent.log()
    assert agent.proc.poll() is None  # not fatal without exit_on_err
    assert not sink.exists()
