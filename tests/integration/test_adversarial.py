"""Adversarial regression suite: the holes found at the edges, each with a
test that failed before its fix.

Every section names the item it guards. Each test starts the real server
and attacks it the way a client holding the named token (or none) could:
host paths through audit options, non-canonical names and parameters that
slip past a policy, durations that overflow, bodies that flood the loop,
login floods, and the smaller holes. The denied form is tested as
carefully as the allowed one."""

import json
import os
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from trove_harness import assert_error, raw_http, run_cli, status_of


# ---------------------------------------------------------------------------
# 1-2. Audit devices: where a file device may write, and enabling one that
#      cannot record.
# ---------------------------------------------------------------------------

# (end of section: audit)


# ---------------------------------------------------------------------------
# 3-4. Canonicalise, then authorise: parameter constraints see canonical
#      values; names in paths are canonical or refused.
# ---------------------------------------------------------------------------

# (end of section: canonical)


# ---------------------------------------------------------------------------
# 5-6. Secrets in URL paths; durations that overflow.
# ---------------------------------------------------------------------------

# Durations are bounded when they are read (0 .. 100 years, else a 400
# naming the field), and every sum of a time and a duration is checked:
# before, an int64 TTL or period wrapped `creation_time + ttl` to a
# negative expiry, which reads as "never expires".

DURATIONS_HUGE = [
    2**63 - 1,
    "9223372036854775807s",
    "9223372036854775807",
    1e300,
    "999999999999h",
    "2562047h",            # fits int64 nanoseconds, but is 292 years
    100 * 365 * 86400 + 1,  # one second past the bound
    "876001h",
]
DURATIONS_NEGATIVE = [-1, -(2**63), "-5s", "-1", -1.5]


def durations_post(srv, path, body, headers=None):
    return srv.request("POST", "/v1/" + path, token=srv.root_token, json=body, headers=headers)


def durations_refused(srv, path, field, extra=None, bad=DURATIONS_HUGE + DURATIONS_NEGATIVE):
    for v in bad:
        body = dict(extra or {})
        body[field] = v
        r = durations_post(srv, path, body)
        assert_error(r, 400, field)


def durations_enable(srv, kind, path):
    r = durations_post(srv, f"sys/auth/{path}", {"type": kind})
    assert r.status_code in (200, 204), r.text


def test_durations_token_create_bounded(dev_server):
    for field in ("ttl", "explicit_max_ttl", "period", "lease"):
        durations_refused(dev_server, "auth/token/create", field)
    durations_refused(dev_server, "auth/token/create-orphan", "period")
    # The bound itself is accepted; the token expires (capped by the mount).
    r = durations_post(dev_server, "auth/token/create", {"period": "876000h", "policies": ["default"]})
    assert r.status_code == 200, r.text
    tok = r.json()["auth"]["client_token"]
    me = dev_server.get("/v1/auth/token/lookup-self", token=tok).json()["data"]
    assert me["expire_time"] is not None and me["ttl"] > 0, me


def test_durations_periodic_root_token_expires(dev_server):
    # The hole itself: a root token may create a periodic token; with an
    # int64 period its expiry wrapped negative and it never expired.
    r = durations_post(dev_server, "auth/token/create", {"period": 2**63 - 1})
    assert_error(r, 400, "period")
    r = durations_post(dev_server, "auth/token/create", {"explicit_max_ttl": 2**63 - 1, "ttl": "1h"})
    assert_error(r, 400, "explicit_max_ttl")


def test_durations_token_roles_bounded(dev_server):
    for field in ("token_period", "period", "token_ttl", "token_max_ttl", "token_explicit_max_ttl",
                  "explicit_max_ttl"):
        durations_refused(dev_server, "auth/token/roles/edges", field)
    r = durations_post(dev_server, "auth/token/roles/edges", {"token_period": "1h"})
    assert r.status_code in (200, 204), r.text


def test_durations_renew_increment_bounded(dev_server):
    r = durations_post(dev_server, "auth/token/create", {"ttl": "1h"})
    tok = r.json()["auth"]["client_token"]
    durations_refused(dev_server, "auth/token/renew", "increment", extra={"token": tok})
    durations_refused(dev_server, "sys/leases/renew", "increment", extra={"lease_id": "auth/token/create/x"})


def test_durations_userpass_bounded(dev_server):
    durations_enable(dev_server, "userpass", "userpass")
    for field in ("token_ttl", "token_max_ttl", "token_period", "token_explicit_max_ttl", "ttl", "max_ttl"):
        durations_refused(dev_server, "auth/userpass/users/ann", field, extra={"password": "pw-edges-1"})


def test_durations_approle_bounded(dev_server):
    durations_enable(dev_server, "approle", "approle")
    for field in ("secret_id_ttl", "token_ttl", "token_max_ttl", "token_period", "period",
                  "token_explicit_max_ttl"):
        durations_refused(dev_server, "auth/approle/role/web", field)
    r = durations_post(dev_server, "auth/approle/role/web", {"token_ttl": "1h"})
    assert r.status_code in (200, 204), r.text
    durations_refused(dev_server, "auth/approle/role/web/secret-id", "ttl")
    durations_refused(dev_server, "auth/approle/role/web/custom-secret-id", "ttl", extra={"secret_id": "edges-s1"})
    for seg, field in (("secret-id-ttl", "secret_id_ttl"), ("token-ttl", "token_ttl"),
                       ("token-max-ttl", "token_max_ttl"), ("period", "token_period")):
        for v in (2**63 - 1, "2562047h"):
            r = durations_post(dev_server, f"auth/approle/role/web/{seg}", {field: v})
            assert_error(r, 400, field)


def test_durations_mount_tune_bounded(dev_server):
    for field in ("default_lease_ttl", "max_lease_ttl"):
        durations_refused(dev_server, "sys/mounts/secret/tune", field)
        durations_refused(dev_server, "sys/auth/token/tune", field)
        for v in (2**63 - 1, "2562047h", -1):
            r = durations_post(dev_server, "sys/mounts/edges-kv", {"type": "kv", "config": {field: v}})
            assert_error(r, 400, field)
    r = dev_server.get("/v1/sys/mounts/secret/tune", token=dev_server.root_token)
    assert r.json()["max_lease_ttl"] <= 100 * 365 * 86400, r.json()


def test_durations_wrap_ttl_header_bounded(dev_server):
    for v in ("9223372036854775807", "999999999999h", "2562047h", "876001h", "-5s", "-1"):
        r = dev_server.request("GET", "/v1/auth/token/lookup-self", token=dev_server.root_token,
                               headers={"X-Vault-Wrap-TTL": v})
        assert_error(r, 400, "X-Vault-Wrap-TTL")
    r = dev_server.request("GET", "/v1/auth/token/lookup-self", token=dev_server.root_token,
                           headers={"X-Vault-Wrap-TTL": "876000h"})
    assert r.status_code == 200 and r.json()["wrap_info"]["ttl"] == 100 * 365 * 86400, r.text


# Tokens and accessors in URL paths (Vault's deprecated forms such as
# auth/token/lookup/<token>) are "#name" route parameters: HMAC'd inside
# request.path in audit entries, redacted in the server log.

def paths_audit_file(srv, tmp_path, name="edges"):
    log = tmp_path / f"{name}.log"
    r = srv.request("PUT", f"/v1/sys/audit/{name}", token=srv.root_token,
                    json={"type": "file", "options": {"file_path": str(log)}})
    assert r.status_code in (200, 204), r.text
    return log


def paths_audit_hash(srv, device, text):
    r = srv.request("POST", f"/v1/sys/audit-hash/{device}", token=srv.root_token, json={"input": text})
    assert r.status_code == 200, r.text
    return r.json()["hash"]


def paths_new_token(srv):
    r = srv.request("POST", "/v1/auth/token/create", token=srv.root_token, json={"ttl": "1h"})
    assert r.status_code == 200, r.text
    return r.json()["auth"]["client_token"], r.json()["auth"]["accessor"]


def test_paths_token_in_url_hmaced_in_audit(dev_server, tmp_path):
    srv = dev_server
    log = paths_audit_file(srv, tmp_path)
    secrets_seen = []
    calls = []
    for method, route, kind in (("GET", "lookup", "token"), ("POST", "renew", "token"),
                                ("POST", "lookup-accessor", "accessor"), ("POST", "revoke-accessor", "accessor"),
                                ("POST", "revoke", "token"), ("POST", "revoke-orphan", "token")):
        tok, acc = paths_new_token(srv)
        secret = tok if kind == "token" else acc
        secrets_seen += [tok, acc]
        r = srv.request(method, f"/v1/auth/token/{route}/{secret}", token=srv.root_token)
        assert r.status_code in (200, 204), (route, r.status_code, r.text)
        if route == "lookup":
            assert r.json()["data"]["id"] == tok
        calls.append((route, secret))
    # A revoked token is gone: the URL form acted on the token it named.
    assert srv.get(f"/v1/auth/token/lookup-self", token=calls[4][1]).status_code == 403
    text = log.read_text()
    for s in secrets_seen:
        assert s not in text, "a token or accessor from a URL path reached the audit log in clear"
    entries = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    paths = {e["request"]["path"] for e in entries if "request" in e}
    for route, secret in calls:
        want = f"auth/token/{route}/{paths_audit_hash(srv, 'edges', secret)}"
        assert want in paths, (want, sorted(paths))


def test_paths_token_in_url_redacted_in_server_log(dev_server):
    srv = dev_server
    tok, acc = paths_new_token(srv)
    # A socket device whose peer goes away refuses entries: requests fail
    # closed with a 500, which the server logs with the request's path.
    peer = socket.socket()
    peer.bind(("127.0.0.1", 0))
    peer.listen(8)
    addr = "127.0.0.1:%d" % peer.getsockname()[1]
    r = srv.request("PUT", "/v1/sys/audit/gone", token=srv.root_token,
                    json={"type": "socket", "options": {"address": addr, "socket_type": "tcp"}})
    assert r.status_code in (200, 204), r.text
    peer.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = srv.request("GET", f"/v1/auth/token/lookup/{tok}", token=srv.root_token)
        if r.status_code == 500:
            break
        time.sleep(0.05)
    assert r.status_code == 500, r.text
    r = srv.request("POST", f"/v1/auth/token/revoke-accessor/{acc}", token=srv.root_token)
    assert r.status_code == 500, r.text
    deadline = time.monotonic() + 5
    while "revoke-accessor" not in srv.proc.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    err = srv.proc.stderr_text()
    assert "auth/token/lookup/[redacted]" in err and "auth/token/revoke-accessor/[redacted]" in err, err[-2000:]
    assert tok not in err and acc not in err


# The pid file is never reached through a symlink nor anything but a
# regular file; the LMDB data directory must be the server's own and
# closed to group and others.

def files_server_config(tmp_path, data, extra=""):
    from trove_harness import free_port, hcl_config
    cfg = tmp_path / "files.hcl"
    cfg.write_text(hcl_config(data, free_port(), top_extra=extra))
    return cfg


def test_files_pid_file_symlink_not_followed(config_server, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "trove.pid"
    link.symlink_to(victim)
    srv = config_server(top_extra=f'pid_file = "{link}"')
    deadline = time.monotonic() + 5
    while "pid_file" not in srv.proc.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim.read_text() == "precious\n", "the pid file followed a symlink and overwrote its target"
    assert "cannot write pid_file" in srv.proc.stderr_text()
    assert "symbolic link" in srv.proc.stderr_text()


def test_files_pid_file_fifo_refused_without_blocking(config_server, tmp_path):
    fifo = tmp_path / "trove.pid"
    os.mkfifo(fifo)
    # Before, the open blocked on the FIFO and the server never answered.
    srv = config_server(top_extra=f'pid_file = "{fifo}"')
    assert srv.get("/v1/sys/health").status_code in (200, 429, 472, 473, 501, 503)
    deadline = time.monotonic() + 5
    while "pid_file" not in srv.proc.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "not a regular file" in srv.proc.stderr_text()


def test_files_pid_file_regular_written(config_server, tmp_path):
    pid = tmp_path / "trove.pid"
    pid.write_text("999999999 stale and longer than a pid\n")
    srv = config_server(top_extra=f'pid_file = "{pid}"')
    assert pid.read_text() == f"{srv.proc.proc.pid}\n"


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_files_data_dir_writable_by_others_refused(tmp_path, mode):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(mode)
    p = run_cli(["server", "-config", files_server_config(tmp_path, data)], timeout=20)
    assert p.returncode == 1, f"exit {p.returncode}\nstderr:{p.stderr}"
    assert str(data) in p.stderr and "writable by" in p.stderr and "%04o" % mode in p.stderr, p.stderr


def test_files_data_dir_of_another_owner_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to give the directory away")
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    os.chown(data, 65534, 65534)
    p = run_cli(["server", "-config", files_server_config(tmp_path, data)], timeout=20)
    assert p.returncode == 1, f"exit {p.returncode}\nstderr:{p.stderr}"
    assert str(data) in p.stderr and "owned by uid 65534" in p.stderr, p.stderr


def test_files_data_dir_created_private(config_server, tmp_path):
    data = tmp_path / "fresh" / "data"
    data.parent.mkdir()
    p = subprocess.Popen([os.environ.get("TROVE_BIN", "build/trove"), "server", "-config",
                          str(files_server_config(tmp_path, data))],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not (data / "data.mdb").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert data.is_dir() and (data.stat().st_mode & 0o777) == 0o700, oct(data.stat().st_mode)
    finally:
        p.terminate()
        p.wait(timeout=10)


# (end of section: paths and durations)


# ---------------------------------------------------------------------------
# 7-8. Bodies: parsed after routing, bounded, and 413 readable.
# ---------------------------------------------------------------------------

# (end of section: bodies)


# ---------------------------------------------------------------------------
# 9-10. Login floods, lockouts and the smaller holes.
# ---------------------------------------------------------------------------

# (end of section: logins and small holes)


# ---------------------------------------------------------------------------
# 11. Storage rollback.
# ---------------------------------------------------------------------------

# (end of section: rollback)


# ---------------------------------------------------------------------------
# Compatibility defects found by real clients.
# ---------------------------------------------------------------------------

# (end of section: compatibility)
