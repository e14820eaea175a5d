"""Response wrapping (Vault's cubbyhole response wrapping): X-Vault-Wrap-TTL
on any request, sys/wrapping/{wrap,unwrap,lookup,rewrap}, the audit log's
wrap_info, and the CLI's -wrap-ttl and `trove unwrap`."""

import json
import secrets
import time
from pathlib import Path

import pytest

from trove_harness import run_cli

INVALID = "wrapping token is not valid or does not exist"


def wrapped(srv, method, path, token, ttl="5m", **kw):
    r = srv.request(method, path, token=token, headers={"X-Vault-Wrap-TTL": ttl}, **kw)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"] is None and body["auth"] is None, body
    assert body["request_id"] == ""
    return body["wrap_info"]


def put_kv(srv, root, path, data):
    r = srv.request("POST", f"/v1/secret/data/{path}", token=root, json={"data": data})
    assert r.status_code == 200, r.text


def unwrap(srv, token, body_token=None):
    if body_token is None:
        return srv.request("POST", "/v1/sys/wrapping/unwrap", token=token)
    return srv.request("POST", "/v1/sys/wrapping/unwrap", token=token, json={"token": body_token})


def test_wrap_kv_read_and_unwrap_once(dev_server):
    srv, root = dev_server, dev_server.root_token
    secret = {"user": "ci", "password": secrets.token_hex(8)}
    put_kv(srv, root, "app", secret)

    wi = wrapped(srv, "GET", "/v1/secret/data/app", root, ttl="120")
    assert wi["ttl"] == 120
    assert wi["creation_path"] == "secret/data/app"
    assert wi["token"].startswith("hvs.") and wi["accessor"]
    assert wi["creation_time"].endswith("Z")
    assert "wrapped_accessor" not in wi

    # hvac, with the wrapping token as the client token
    out = srv.client(token=wi["token"]).sys.unwrap()
    assert out["data"]["data"] == secret
    assert out["data"]["metadata"]["version"] == 1

    r = unwrap(srv, wi["token"])
    assert r.status_code == 400 and INVALID in r.json()["errors"][0], r.text
    r = unwrap(srv, root, wi["token"])
    assert r.status_code == 400 and INVALID in r.json()["errors"][0], r.text


def test_unwrap_with_token_in_body(dev_server):
    srv, root = dev_server, dev_server.root_token
    put_kv(srv, root, "b", {"k": "v"})
    wi = wrapped(srv, "GET", "/v1/secret/data/b", root)
    out = srv.client(token=root).sys.unwrap(token=wi["token"])
    assert out["data"]["data"] == {"k": "v"}
    r = unwrap(srv, root, wi["token"])
    assert r.status_code == 400, r.text
    # the wrapping token itself is gone
    r = srv.request("GET", "/v1/auth/token/lookup-self", token=wi["token"])
    assert r.status_code == 403


def test_sys_wrapping_wrap_default_ttl_and_lookup(dev_server):
    srv, root = dev_server, dev_server.root_token
    r = srv.request("POST", "/v1/sys/wrapping/wrap", token=root, json={"foo": "bar", "n": 3})
    assert r.status_code == 200, r.text
    wi = r.json()["wrap_info"]
    assert wi["ttl"] == 300 and wi["creation_path"] == "sys/wrapping/wrap"
    assert r.json()["data"] is None

    # lookup is unauthenticated and does not spend the use
    for _ in range(2):
        r = srv.request("POST", "/v1/sys/wrapping/lookup", json={"token": wi["token"]})
        assert r.status_code == 200, r.text
        d = r.json()["data"]
        assert d["creation_path"] == "sys/wrapping/wrap"
        assert d["creation_ttl"] == 300
        assert d["creation_time"] == wi["creation_time"]
    r = srv.request("POST", "/v1/sys/wrapping/lookup", json={"token": "hvs.nope"})
    assert r.status_code == 400 and INVALID in r.json()["errors"][0]
    # a token that is not a wrapping token is not one either
    r = srv.request("POST", "/v1/sys/wrapping/lookup", json={"token": root})
    assert r.status_code == 400

    out = unwrap(srv, wi["token"])
    assert out.status_code == 200, out.text
    assert out.json()["data"] == {"foo": "bar", "n": 3}
    assert out.json()["request_id"]

    r = srv.request("POST", "/v1/sys/wrapping/wrap", token=root, headers={"X-Vault-Wrap-TTL": "1m"},
                    json={"a": "b"})
    assert r.json()["wrap_info"]["ttl"] == 60


def test_rewrap(dev_server):
    srv, root = dev_server, dev_server.root_token
    put_kv(srv, root, "rw", {"x": "y"})
    old = wrapped(srv, "GET", "/v1/secret/data/rw", root, ttl="10m")
    r = srv.request("POST", "/v1/sys/wrapping/rewrap", token=root, json={"token": old["token"]})
    assert r.status_code == 200, r.text
    new = r.json()["wrap_info"]
    assert new["token"] != old["token"]
    assert new["ttl"] == 600 and new["creation_path"] == "secret/data/rw"
    r = unwrap(srv, old["token"])
    assert r.status_code == 400
    r = srv.request("POST", "/v1/sys/wrapping/lookup", json={"token": old["token"]})
    assert r.status_code == 400
    out = unwrap(srv, new["token"])
    assert out.status_code == 200 and out.json()["data"]["data"] == {"x": "y"}


def test_expired_wrapping_token(dev_server):
    srv, root = dev_server, dev_server.root_token
    wi = wrapped(srv, "POST", "/v1/sys/wrapping/wrap", root, ttl="1s", json={"a": "b"})
    time.sleep(2.2)
    r = unwrap(srv, wi["token"])
    assert r.status_code == 400 and INVALID in r.json()["errors"][0], r.text
    r = unwrap(srv, root, wi["token"])
    assert r.status_code == 400


def test_wrapping_token_can_only_unwrap(dev_server):
    srv, root = dev_server, dev_server.root_token
    put_kv(srv, root, "locked", {"a": "b"})
    wi = wrapped(srv, "POST", "/v1/sys/wrapping/wrap", root, json={"a": "b"})
    for path in ("/v1/secret/data/locked", "/v1/auth/token/lookup-self", "/v1/sys/mounts"):
        r = srv.request("GET", path, token=wi["token"])
        assert r.status_code == 403, (path, r.text)
    # Refused requests do not spend the single use: the response is still there.
    r = srv.request("POST", "/v1/sys/wrapping/unwrap", token=wi["token"])
    assert r.status_code == 200 and r.json()["data"] == {"a": "b"}, r.text
    wi = wrapped(srv, "POST", "/v1/sys/wrapping/wrap", root, json={"a": "b"})
    r = srv.request("POST", "/v1/sys/wrapping/wrap", token=wi["token"], json={"c": "d"})
    assert r.status_code == 403
    # the built-in policy is there and immutable
    r = srv.request("GET", "/v1/sys/policy/response-wrapping", token=root)
    assert r.status_code == 200, r.text
    r = srv.request("PUT", "/v1/sys/policy/response-wrapping", token=root, json={"policy": 'path "*" {capabilities=["read"]}'})
    assert r.status_code == 400


def test_wrap_token_create_sets_wrapped_accessor(dev_server):
    srv, root = dev_server, dev_server.root_token
    resp = srv.client(token=root).auth.token.create(policies=["default"], ttl="1h", wrap_ttl="2m")
    wi = resp["wrap_info"]
    assert wi["ttl"] == 120 and wi["creation_path"] == "auth/token/create"
    assert wi["wrapped_accessor"]
    out = srv.client(token=wi["token"]).sys.unwrap()
    auth = out["auth"]
    assert auth["accessor"] == wi["wrapped_accessor"]
    r = srv.request("GET", "/v1/auth/token/lookup-self", token=auth["client_token"])
    assert r.status_code == 200, r.text
    assert "default" in r.json()["data"]["policies"]
    # rewrap keeps the wrapped accessor
    wi2 = srv.client(token=root).auth.token.create(policies=["default"], wrap_ttl="2m")["wrap_info"]
    r = srv.request("POST", "/v1/sys/wrapping/rewrap", token=root, json={"token": wi2["token"]})
    assert r.json()["wrap_info"]["wrapped_accessor"] == wi2["wrapped_accessor"]


def test_bad_wrap_ttl_header(dev_server):
    srv, root = dev_server, dev_server.root_token
    for bad in ("soon", "-5", "5x"):
        r = srv.request("GET", "/v1/sys/mounts", token=root, headers={"X-Vault-Wrap-TTL": bad})
        assert r.status_code == 400, (bad, r.text)
        assert "X-Vault-Wrap-TTL" in r.json()["errors"][0]
    # no data: nothing to wrap, 204 as usual
    r = srv.request("POST", "/v1/secret/config", token=root, headers={"X-Vault-Wrap-TTL": "1m"},
                    json={"max_versions": 3})
    assert r.status_code == 204, r.text


def test_policy_wrapping_ttl_limits(dev_server):
    srv, root = dev_server, dev_server.root_token
    put_kv(srv, root, "lim", {"a": "b"})
    pol = 'path "secret/data/lim" {\n  capabilities = ["read"]\n  min_wrapping_ttl = "1m"\n  max_wrapping_ttl = "10m"\n}\n'
    r = srv.request("PUT", "/v1/sys/policy/wraplim", token=root, json={"policy": pol})
    assert r.status_code == 204, r.text
    r = srv.request("POST", "/v1/auth/token/create", token=root, json={"policies": ["wraplim"]})
    tok = r.json()["auth"]["client_token"]
    assert srv.request("GET", "/v1/secret/data/lim", token=tok).status_code == 403
    for ttl, want in (("30s", 403), ("1h", 403), ("5m", 200)):
        r = srv.request("GET", "/v1/secret/data/lim", token=tok, headers={"X-Vault-Wrap-TTL": ttl})
        assert r.status_code == want, (ttl, r.text)


def test_audit_records_wrap_info_masked(dev_server, tmp_path):
    srv, root = dev_server, dev_server.root_token
    log = tmp_path / "audit.log"
    r = srv.request("PUT", "/v1/sys/audit/file", token=root,
                    json={"type": "file", "options": {"file_path": str(log)}})
    assert r.status_code == 204, r.text
    value = "canary-" + secrets.token_hex(12)
    put_kv(srv, root, "audited", {"v": value})
    wi = wrapped(srv, "GET", "/v1/secret/data/audited", root)
    r = unwrap(srv, wi["token"])
    assert r.status_code == 200 and r.json()["data"]["data"]["v"] == value

    text = log.read_text()
    assert wi["token"] not in text
    assert wi["accessor"] not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    reads = [e for e in lines if e["request"].get("path") == "secret/data/audited" and e["type"] == "response"
             and e["request"]["operation"] == "read"]
    assert len(reads) == 1
    resp = reads[0]["response"]
    assert "data" not in resp
    w = resp["wrap_info"]
    assert w["token"].startswith("hmac-sha256:")
    assert w["accessor"].startswith("hmac-sha256:")
    assert w["ttl"] == 300 and w["creation_path"] == "secret/data/audited"
    assert reads[0]["request"]["wrap_ttl"] == 300
    r = srv.request("PUT", "/v1/sys/audit-hash/file", token=root, json={"input": wi["token"]})
    assert r.json()["data"]["hash"] == w["token"]
    # the unwrap response is audited with its data hashed, never in clear
    assert value not in text


def env_for(srv, token):
    return {"VAULT_ADDR": srv.url, "VAULT_TOKEN": token, "HOME": "/nonexistent-home"}


def test_cli_wrap_ttl_and_unwrap(dev_server):
    srv, root = dev_server, dev_server.root_token
    p = run_cli(["write", "-wrap-ttl=5m", "-format=json", "secret/data/cli", "-"],
                env=env_for(srv, root), input='{"data": {"password": "hunter2"}}')
    assert p.returncode == 0, p.stderr
    wi = json.loads(p.stdout)["wrap_info"]
    assert wi["ttl"] == 300 and wi["creation_path"] == "secret/data/cli"
    out = run_cli(["unwrap", "-format=json", wi["token"]], env=env_for(srv, root))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["data"]["version"] == 1

    p = run_cli(["read", "-wrap-ttl=2m", "secret/data/cli"], env=env_for(srv, root))
    assert p.returncode == 0, p.stderr
    rows = {}
    for line in p.stdout.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            rows[parts[0]] = parts[1].strip()
    for k in ("wrapping_token:", "wrapping_accessor:", "wrapping_token_ttl:", "wrapping_token_creation_time:",
              "wrapping_token_creation_path:"):
        assert k in rows, p.stdout
    assert rows["wrapping_token_ttl:"] == "2m"
    assert rows["wrapping_token_creation_path:"] == "secret/data/cli"
    token = rows["wrapping_token:"]

    # no TOKEN: the current token is the wrapping token
    out = run_cli(["unwrap", "-field=data"], env=env_for(srv, token))
    assert out.returncode == 0, out.stderr
    assert "hunter2" in out.stdout
    again = run_cli(["unwrap", token], env=env_for(srv, root))
    assert again.returncode == 2  # the server's 400: a remote error
    assert INVALID in again.stderr

    p = run_cli(["write", "-wrap-ttl=1m", "auth/token/create", "policies=default"], env=env_for(srv, root))
    assert p.returncode == 0, p.stderr
    assert "wrapped_accessor:" in p.stdout

    p = run_cli(["read", "-wrap-ttl=bogus", "secret/data/cli"], env=env_for(srv, root))
    assert p.returncode == 2 and "X-Vault-Wrap-TTL" in p.stderr  # the server refuses it
    p = run_cli(["unwrap", "-h"], env=env_for(srv, root))
    assert p.returncode == 0 and "wrap" in p.stdout.lower()
