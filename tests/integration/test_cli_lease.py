"""`trove lease lookup|renew|revoke` end to end. Against a dev server:
output shapes, messages and exit codes as Vault's CLI has them (0 ok, 1 usage
or other local error, 2 API error or unreachable server). Against a small recording HTTP server: the exact
requests the commands send (method, path, body), and the renew output for a
secret's lease, which the dev server has no engine to issue."""

import http.server
import json
import re
import threading
import time

import pytest

from trove_harness import free_port, run_cli
from test_cli_everyday import ok, table
from test_leases import lease_keys, token_with_lease, wait_until

QUEUED = "All revocation operations queued successfully!"


def env_for(url, token=None, **extra):
    e = {"VAULT_ADDR": url, "HOME": "/nonexistent-home"}
    if token:
        e["VAULT_TOKEN"] = token
    e.update(extra)
    return e


def cli(srv, *args, token=None):
    return run_cli(list(args), env=env_for(srv.url, token or srv.root_token))


def status(srv, token):
    return srv.get("/v1/auth/token/lookup-self", token=token).status_code


# -- help and usage (no server needed) ------------------------------------------------


DEAD = env_for("http://127.0.0.1:9", "some-token")


def test_help():
    p = run_cli(["lease", "-h"])
    assert p.returncode == 0, p.stderr
    for sub in ("lookup", "renew", "revoke"):
        assert re.search(rf"^\s+{sub}\s", p.stdout, re.M), p.stdout
    for sub in ("lookup", "renew", "revoke"):
        p = run_cli(["lease", sub, "-h"])
        assert p.returncode == 0, (sub, p.stderr)
        assert f"Usage: trove lease {sub}" in p.stdout, p.stdout[:300]
    assert "-increment" in run_cli(["lease", "renew", "-h"]).stdout
    out = run_cli(["lease", "revoke", "-h"]).stdout
    for flag in ("-prefix", "-force", "-sync"):
        assert flag in out, out
    assert re.search(r"^\s+lease\s", run_cli(["-h"]).stdout, re.M)
    p = run_cli(["lease"])
    assert p.returncode == 1 and "Usage" in p.stderr
    p = run_cli(["lease", "frobnicate"])
    assert p.returncode == 1 and "frobnicate" in p.stderr


@pytest.mark.parametrize("args", [
    ["lease", "lookup"],
    ["lease", "lookup", "a/b", "c/d"],
    ["lease", "renew"],
    ["lease", "renew", "a/b", "c/d"],
    ["lease", "renew", "-increment=forever", "a/b"],
    ["lease", "renew", "-increment=-5m", "a/b"],
    ["lease", "renew", "-increment=", "a/b"],
    ["lease", "revoke"],
    ["lease", "revoke", "a/b", "c/d"],
    ["lease", "revoke", "-prefix"],
    ["lease", "revoke", "-prefix", "/"],
    ["lease", "revoke", "-nope", "a/b"],
    ["lease", "revoke", "-sync=maybe", "a/b"],
])
def test_usage_errors_exit_1(args):
    p = run_cli(args, env=DEAD)
    assert p.returncode == 1, (args, p.returncode, p.stdout, p.stderr)
    assert p.stdout == ""
    assert f"trove {' '.join(args[:2])} -h" in p.stderr, p.stderr


def test_force_needs_prefix():
    for args in (["-force", "a/b"], ["-f", "a/b"], ["-force", "-sync", "a/b"]):
        p = run_cli(["lease", "revoke"] + args, env=DEAD)
        assert p.returncode == 1, (args, p.stderr)
        assert "-prefix" in p.stderr, p.stderr


# -- against a dev server --------------------------------------------------------------


def test_lookup(dev_server):
    srv = dev_server
    auth, lease_id = token_with_lease(srv, policies=["default"], ttl="1h")
    rows = table(ok(cli(srv, "lease", "lookup", lease_id)).stdout)
    assert {"id", "issue_time", "expire_time", "last_renewal", "renewable", "ttl"} <= rows.keys(), rows
    assert rows["id"] == lease_id
    assert rows["renewable"] == "true"
    assert rows["last_renewal"] == "n/a"
    assert re.fullmatch(r"(59m\d+s|59m|1h)", rows["ttl"]), rows["ttl"]
    assert re.match(r"^\d{4}-\d\d-\d\dT", rows["issue_time"]) and re.match(r"^\d{4}-", rows["expire_time"])
    # Rows are sorted by key.
    keys = [k for k in table(cli(srv, "lease", "lookup", lease_id).stdout) if k != "Key"]
    assert keys == sorted(keys), keys

    out = json.loads(ok(cli(srv, "lease", "lookup", "-format=json", lease_id)).stdout)
    assert out["data"]["id"] == lease_id and isinstance(out["data"]["ttl"], int)
    assert 3590 <= out["data"]["ttl"] <= 3600
    p = ok(cli(srv, "lease", "lookup", "-format=yaml", lease_id))
    assert re.search(rf"^\s+id: \"?{re.escape(lease_id)}\"?$", p.stdout, re.M), p.stdout
    assert ok(cli(srv, "lease", "lookup", "-field=id", lease_id)).stdout == lease_id
    assert ok(cli(srv, "lease", "lookup", "-field=renewable", lease_id)).stdout == "true"

    # The token itself may look its lease up (default policy).
    assert ok(cli(srv, "lease", "lookup", "-field=id", lease_id, token=auth["client_token"])).stdout == lease_id

    p = cli(srv, "lease", "lookup", "auth/token/create/nope")
    assert p.returncode == 2, p
    assert "Error looking up lease" in p.stderr and "invalid lease" in p.stderr, p.stderr
    assert p.stdout == ""
    p = cli(srv, "lease", "lookup", lease_id, token="not-a-token")
    assert p.returncode == 2 and "permission denied" in p.stderr, p.stderr


def test_renew_token_lease_is_refused(dev_server):
    srv = dev_server
    _, lease_id = token_with_lease(srv, policies=["default"], ttl="1h")
    for args in ([lease_id], ["-increment=30m", lease_id]):
        p = cli(srv, "lease", "renew", *args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert "Error renewing lease" in p.stderr
        assert "tokens cannot be renewed through this endpoint" in p.stderr, p.stderr
    p = cli(srv, "lease", "renew", "auth/token/create/nope")
    assert p.returncode == 2 and "invalid lease" in p.stderr, p.stderr


def test_revoke(dev_server):
    srv = dev_server
    auth, lease_id = token_with_lease(srv, policies=["default"], ttl="1h")
    p = ok(cli(srv, "lease", "revoke", lease_id))
    assert p.stdout.strip() == QUEUED
    wait_until(lambda: status(srv, auth["client_token"]) == 403, 5, "token still valid after lease revoke")
    p = cli(srv, "lease", "lookup", lease_id)
    assert p.returncode == 2 and "invalid lease" in p.stderr

    auth, lease_id = token_with_lease(srv, policies=["default"], ttl="1h")
    p = ok(cli(srv, "lease", "revoke", "-sync", lease_id))
    assert p.stdout.strip() == f"Success! Revoked lease: {lease_id}"
    assert status(srv, auth["client_token"]) == 403

    # A token without the right to revoke: exit 1, nothing revoked.
    other, other_lease = token_with_lease(srv, policies=["default"], ttl="1h")
    p = cli(srv, "lease", "revoke", other_lease, token=other["client_token"])
    assert p.returncode == 2 and "permission denied" in p.stderr, p.stderr
    assert "Error revoking lease" in p.stderr
    assert status(srv, other["client_token"]) == 200


def test_revoke_prefix_and_force(dev_server):
    srv, root = dev_server, dev_server.root_token
    r = srv.request("POST", "/v1/sys/auth/userpass", token=root, json={"type": "userpass"})
    assert r.status_code == 204, r.text
    r = srv.request("POST", "/v1/auth/userpass/users/ann", token=root, json={"password": "pw", "token_ttl": "1h"})
    assert r.status_code in (200, 204), r.text

    def login():
        r = srv.request("POST", "/v1/auth/userpass/login/ann", json={"password": "pw"})
        assert r.status_code == 200, r.text
        return r.json()["auth"]["client_token"]

    made, _ = token_with_lease(srv, policies=["default"], ttl="1h")

    tok = login()
    p = ok(cli(srv, "lease", "revoke", "-prefix", "auth/userpass/"))
    assert p.stdout.strip() == QUEUED
    wait_until(lambda: status(srv, tok) == 403, 5, "userpass token still valid after revoke -prefix")
    assert status(srv, made["client_token"]) == 200

    tok = login()
    p = ok(cli(srv, "lease", "revoke", "-prefix", "-sync", "auth/userpass/login"))
    assert p.stdout.strip() == "Success! Revoked any leases with prefix: auth/userpass/login"
    assert status(srv, tok) == 403

    tok = login()
    p = ok(cli(srv, "lease", "revoke", "-prefix", "-force", "auth/userpass"))
    assert p.stdout.strip() == "Success! Force revoked any leases with prefix: auth/userpass"
    assert "Warning" in p.stderr
    wait_until(lambda: status(srv, tok) == 403, 5, "userpass token still valid after revoke -force")
    assert status(srv, made["client_token"]) == 200

    # -prefix needs sudo: a default token is refused, exit 1.
    tok = login()
    p = cli(srv, "lease", "revoke", "-prefix", "auth/userpass/", token=made["client_token"])
    assert p.returncode == 2 and "permission denied" in p.stderr, p.stderr
    p = cli(srv, "lease", "revoke", "-prefix", "-force", "auth/userpass/", token=made["client_token"])
    assert p.returncode == 2 and "permission denied" in p.stderr, p.stderr
    assert status(srv, tok) == 200


# -- the requests sent, against a recording server ---------------------------------------


class Recorder(http.server.BaseHTTPRequestHandler):
    calls = None  # set per server

    def log_message(self, *a):
        pass

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        self.server.calls.append({
            "method": self.command,
            "path": self.path,
            "token": self.headers.get("X-Vault-Token"),
            "body": json.loads(raw) if raw else None,
        })
        if self.path == "/v1/sys/leases/renew":
            lid = json.loads(raw)["lease_id"]
            body = {"request_id": "r", "lease_id": lid, "renewable": True, "lease_duration": 1800, "data": None,
                    "wrap_info": None, "warnings": None, "auth": None}
            self._json(200, body)
        elif self.path == "/v1/sys/leases/lookup":
            lid = json.loads(raw)["lease_id"]
            self._json(200, {"data": {"id": lid, "issue_time": "2026-01-02T03:04:05Z",
                                      "expire_time": "2026-01-02T04:34:05Z", "last_renewal": None,
                                      "renewable": False, "ttl": 5400}})
        else:
            self.send_response(204)
            self.end_headers()

    def _json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_PUT = do_POST = do_GET = _answer


@pytest.fixture
def recorder():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Recorder)
    srv.calls = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


def run_rec(rec, *args):
    rec.calls.clear()
    p = run_cli(list(args), env=env_for(rec.url, "tok-123"))
    return p, list(rec.calls)


def test_requests_sent(recorder):
    lid = "db/creds/ro/00000000000000aa.abc"

    p, calls = run_rec(recorder, "lease", "lookup", lid)
    ok(p)
    assert calls == [{"method": "PUT", "path": "/v1/sys/leases/lookup", "token": "tok-123",
                      "body": {"lease_id": lid}}]
    rows = table(p.stdout)
    assert rows["ttl"] == "1h30m" and rows["renewable"] == "false" and rows["id"] == lid

    p, calls = run_rec(recorder, "lease", "renew", "-increment=30m", lid)
    ok(p)
    assert calls == [{"method": "PUT", "path": "/v1/sys/leases/renew", "token": "tok-123",
                      "body": {"lease_id": lid, "increment": 1800}}]
    rows = table(p.stdout)
    assert rows == {"Key": "Value", "lease_id": lid, "lease_duration": "30m", "lease_renewable": "true"}, p.stdout
    assert ok(run_rec(recorder, "lease", "renew", "-field=lease_duration", lid)[0]).stdout == "30m"
    out = json.loads(ok(run_rec(recorder, "lease", "renew", "-format=json", lid)[0]).stdout)
    assert out["lease_id"] == lid and out["lease_duration"] == 1800

    for inc, secs in (("90", 90), ("1h", 3600), ("2h30m", 9000)):
        p, calls = run_rec(recorder, "lease", "renew", f"-increment={inc}", lid)
        ok(p)
        assert calls[0]["body"] == {"lease_id": lid, "increment": secs}, (inc, calls)
    p, calls = run_rec(recorder, "lease", "renew", lid)
    ok(p)
    assert calls[0]["body"]["lease_id"] == lid and calls[0]["body"].get("increment", 0) == 0

    p, calls = run_rec(recorder, "lease", "revoke", lid)
    assert ok(p).stdout == QUEUED + "\n"
    assert calls == [{"method": "PUT", "path": "/v1/sys/leases/revoke", "token": "tok-123",
                      "body": {"lease_id": lid, "sync": False}}]
    p, calls = run_rec(recorder, "lease", "revoke", "-sync", lid)
    assert ok(p).stdout == f"Success! Revoked lease: {lid}\n"
    assert calls[0]["body"] == {"lease_id": lid, "sync": True}

    p, calls = run_rec(recorder, "lease", "revoke", "-prefix", "db/creds/")
    assert ok(p).stdout == QUEUED + "\n"
    assert [(c["method"], c["path"]) for c in calls] == [("PUT", "/v1/sys/leases/revoke-prefix/db/creds/")]
    assert (calls[0]["body"] or {}).get("sync", False) is False
    p, calls = run_rec(recorder, "lease", "revoke", "-prefix", "-sync", "db/creds")
    assert ok(p).stdout == "Success! Revoked any leases with prefix: db/creds\n"
    assert calls[0]["path"] == "/v1/sys/leases/revoke-prefix/db/creds" and calls[0]["body"] == {"sync": True}

    # A leading "/" is not part of the prefix.
    p, calls = run_rec(recorder, "lease", "revoke", "-prefix", "-sync", "/db/creds/")
    assert ok(p) and calls[0]["path"] == "/v1/sys/leases/revoke-prefix/db/creds/"

    p, calls = run_rec(recorder, "lease", "revoke", "-prefix", "-force", "db/creds")
    assert ok(p).stdout == "Success! Force revoked any leases with prefix: db/creds\n"
    assert [(c["method"], c["path"]) for c in calls] == [("PUT", "/v1/sys/leases/revoke-force/db/creds")]
    p, calls = run_rec(recorder, "lease", "revoke", "-f", "-prefix", "db/creds")
    assert ok(p) and calls[0]["path"] == "/v1/sys/leases/revoke-force/db/creds"

    # Usage errors send nothing.
    for args in (["renew", "-increment=soon", lid], ["revoke", "-force", lid], ["lookup"]):
        p, calls = run_rec(recorder, "lease", *args)
        assert p.returncode == 1 and calls == [], (args, calls)


def test_server_down_is_exit_2():
    p = run_cli(["lease", "lookup", "a/b"], env=DEAD)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Error looking up lease" in p.stderr
