"""Audit: every request recorded, secrets masked, fail closed.

Devices are enabled through the real API (hvac and raw HTTP) on a running
server; the log files are read back and parsed line by line. The canary
tests put random values in secrets and check that they never reach any
audit log or server log, while sys/audit-hash of each finds it. The
fail-closed tests put the log on a tiny tmpfs and fill it: the request
entry that cannot be written stops the handler, and a response entry that
cannot be written withholds the secret."""

import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import hvac
import pytest

from trove_harness import fill_filesystem

HASH = "hmac-sha256:"


def entries(path):
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def pairs(path, req_path):
    """Request and response entries for req_path, in order."""
    return [e for e in entries(path) if e.get("request", {}).get("path") == req_path]


def enable_file(srv, token, path, file_path, **options):
    opts = {"file_path": str(file_path)}
    opts.update({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in options.items()})
    r = srv.request("PUT", f"/v1/sys/audit/{path}", token=token, json={"type": "file", "options": opts})
    assert r.status_code == 204, r.text


def audit_hash(srv, token, device, value):
    r = srv.request("PUT", f"/v1/sys/audit-hash/{device}", token=token, json={"input": value})
    assert r.status_code == 200, r.text
    return r.json()["data"]["hash"]


def make_token(srv, root, policies):
    r = srv.request("POST", "/v1/auth/token/create", token=root, json={"policies": policies, "ttl": "1h"})
    assert r.status_code == 200, r.text
    return r.json()["auth"]["client_token"]


@pytest.fixture
def audited(dev_server, tmp_path):
    log = tmp_path / "audit.log"
    enable_file(dev_server, dev_server.root_token, "file", log)
    return dev_server, log


# --- the API --------------------------------------------------------------


def test_enable_list_hash_disable_with_hvac(dev_server, tmp_path):
    c = dev_server.client(dev_server.root_token)
    log = tmp_path / "a.log"
    c.sys.enable_audit_device("file", description="main log", options={"file_path": str(log)})
    devices = c.sys.list_enabled_audit_devices()
    assert devices["data"]["file/"]["type"] == "file"
    assert devices["data"]["file/"]["description"] == "main log"
    assert devices["data"]["file/"]["options"] == {"file_path": str(log)}
    assert devices["file/"]["path"] == "file/"  # injected at the top level too
    h = c.sys.calculate_hash("file", "hello")
    assert h["data"]["hash"].startswith(HASH) and len(h["data"]["hash"]) == len(HASH) + 64
    assert h["data"]["hash"] == c.sys.calculate_hash("file", "hello")["data"]["hash"]
    c.sys.disable_audit_device("file")
    assert c.sys.list_enabled_audit_devices()["data"] == {}
    # Re-enabling gives a new salt, so new hashes.
    c.sys.enable_audit_device("file", options={"file_path": str(log)})
    assert c.sys.calculate_hash("file", "hello")["data"]["hash"] != h["data"]["hash"]


def test_enable_errors_name_the_option(dev_server, tmp_path):
    root = dev_server.root_token
    cases = [
        ({"type": "file", "options": {}}, "file_path is required"),
        ({"type": "file", "options": {"file_path": str(tmp_path / "no/such/dir/x.log")}}, "sanity check failed"),
        ({"type": "file", "options": {"file_path": str(tmp_path / "x.log"), "mode": "rw"}}, "mode"),
        ({"type": "file", "options": {"file_path": str(tmp_path / "x.log"), "bogus": "1"}}, "bogus"),
        ({"type": "file", "options": {"file_path": str(tmp_path / "x.log"), "log_raw": "maybe"}}, "log_raw"),
        ({"type": "nope", "options": {}}, "nope"),
        ({"options": {}}, "type"),
    ]
    for body, needle in cases:
        r = dev_server.request("PUT", "/v1/sys/audit/x", token=root, json=body)
        assert r.status_code == 400, (body, r.text)
        assert needle in r.text, (body, r.text)
    assert dev_server.request("GET", "/v1/sys/audit", token=root).json()["data"] == {}
    enable_file(dev_server, root, "x", tmp_path / "x.log")
    r = dev_server.request("PUT", "/v1/sys/audit/x", token=root,
                           json={"type": "file", "options": {"file_path": str(tmp_path / "y.log")}})
    assert r.status_code in (400, 409) and "in use" in r.text


def test_audit_api_needs_sudo(dev_server, tmp_path):
    root = dev_server.root_token
    c = dev_server.client(root)
    c.sys.create_or_update_policy("ops", 'path "sys/audit*" { capabilities = ["create","read","update","delete","list"] }')
    tok = make_token(dev_server, root, ["ops"])
    for method, path, body in [
        ("GET", "/v1/sys/audit", None),
        ("PUT", "/v1/sys/audit/f", {"type": "file", "options": {"file_path": str(tmp_path / "f.log")}}),
        ("DELETE", "/v1/sys/audit/f", None),
        ("GET", "/v1/sys/config/auditing/request-headers", None),
    ]:
        r = dev_server.request(method, path, token=tok, json=body)
        assert r.status_code == 403, (path, r.text)
    assert not (tmp_path / "f.log").exists()


# --- entries ----------------------------------------------------------------


def test_request_and_response_entries_share_an_id_and_mask_the_token(audited):
    srv, log = audited
    root = srv.root_token
    r = srv.request("POST", "/v1/secret/data/app/db", token=root, json={"data": {"password": "p"}})
    assert r.status_code == 200
    req, resp = pairs(log, "secret/data/app/db")
    assert req["type"] == "request" and resp["type"] == "response"
    assert req["request"]["id"] == resp["request"]["id"] == r.json()["request_id"]
    assert req["request"]["operation"] == "create"
    assert req["request"]["mount_type"] == "kv" and req["request"]["mount_point"] == "secret/"
    assert req["request"]["mount_accessor"].startswith("kv_")
    assert req["request"]["remote_address"] == "127.0.0.1" and req["request"]["remote_port"] > 0
    assert req["request"]["namespace"] == {"id": "root"}
    token_hash = audit_hash(srv, root, "file", root)
    assert req["auth"]["client_token"] == token_hash
    assert req["request"]["client_token"] == token_hash
    assert req["auth"]["accessor"].startswith(HASH)
    assert req["auth"]["policies"] == ["root"]
    assert req["auth"]["policy_results"]["allowed"] is True
    assert resp["response"]["data"]["version"].startswith(HASH)  # numbers are hashed too
    assert root not in log.read_text()


def test_policy_trail_allowed_and_denied(audited):
    srv, log = audited
    root = srv.root_token
    c = srv.client(root)
    c.sys.create_or_update_policy("reader", 'path "secret/data/app/*" { capabilities = ["read"] }')
    c.sys.create_or_update_policy("other", 'path "secret/data/else/*" { capabilities = ["read"] }')
    srv.request("POST", "/v1/secret/data/app/db", token=root, json={"data": {"k": "v"}})
    srv.request("POST", "/v1/secret/data/private/db", token=root, json={"data": {"k": "v"}})
    tok = make_token(srv, root, ["reader", "other"])
    assert srv.request("GET", "/v1/secret/data/app/db", token=tok).status_code == 200
    assert srv.request("GET", "/v1/secret/data/private/db", token=tok).status_code == 403

    allowed = [e for e in pairs(log, "secret/data/app/db") if e["request"]["operation"] == "read"]
    assert [e["type"] for e in allowed] == ["request", "response"]
    for e in allowed:
        pr = e["auth"]["policy_results"]
        assert pr["allowed"] is True
        assert [g["name"] for g in pr["granting_policies"]] == ["reader"]
        assert pr["granting_policies"][0]["type"] == "acl"
        assert e["auth"]["token_policies"] == ["default", "other", "reader"]

    denied = [e for e in pairs(log, "secret/data/private/db") if e["request"]["operation"] == "read"]
    assert [e["type"] for e in denied] == ["request", "response"]
    for e in denied:
        assert e["auth"]["policy_results"]["allowed"] is False
        assert e["auth"]["policies"] == ["default", "other", "reader"]
        assert e["error"] == "permission denied"
    assert "data" not in denied[1].get("response", {})


def test_bad_tokens_and_unknown_paths_are_recorded(audited):
    srv, log = audited
    assert srv.request("GET", "/v1/secret/data/x", token="hvs.not-a-token").status_code == 403
    assert srv.request("GET", "/v1/nosuchmount/x", token=srv.root_token).status_code == 404
    bad = pairs(log, "secret/data/x")
    assert [e["type"] for e in bad] == ["request", "response"]
    assert bad[1]["error"] == "permission denied"
    assert bad[0]["request"]["client_token"] == audit_hash(srv, srv.root_token, "file", "hvs.not-a-token")
    assert "auth" not in bad[0] or "policy_results" not in bad[0]["auth"]
    unknown = pairs(log, "nosuchmount/x")
    assert [e["type"] for e in unknown] == ["request", "response"]
    assert "hvs.not-a-token" not in log.read_text()


def test_special_handlers_are_not_audited(audited):
    srv, log = audited
    before = len(entries(log))
    for path in ["/v1/sys/health", "/v1/sys/seal-status", "/v1/sys/leader"]:
        srv.request("GET", path)
    assert len(entries(log)) == before


def test_enabling_and_disabling_devices_is_audited(audited, tmp_path):
    srv, log = audited
    enable_file(srv, srv.root_token, "second", tmp_path / "second.log")
    assert srv.request("DELETE", "/v1/sys/audit/second", token=srv.root_token).status_code == 204
    ops = [(e["type"], e["request"]["operation"]) for e in pairs(log, "sys/audit/second")]
    assert ops == [("request", "update"), ("response", "update"), ("request", "delete"), ("response", "delete")]
    # The new device recorded the response to its own enabling.
    assert any(e["request"]["path"] == "sys/audit/second" for e in entries(tmp_path / "second.log"))


def test_non_hmac_keys_hmac_accessor_log_raw_prefix_elide(dev_server, tmp_path):
    root = dev_server.root_token
    raw_log = tmp_path / "raw.log"
    enable_file(dev_server, root, "plain", tmp_path / "plain.log", hmac_accessor=False, prefix="TROVE ",
                elide_list_responses=True)
    enable_file(dev_server, root, "raw", raw_log, log_raw=True)
    r = dev_server.request("POST", "/v1/sys/mounts/secret/tune", token=root,
                           json={"audit_non_hmac_request_keys": ["username"],
                                 "audit_non_hmac_response_keys": ["username"]})
    assert r.status_code == 204, r.text
    dev_server.request("POST", "/v1/secret/data/svc/a", token=root,
                       json={"data": {"username": "svc-user", "password": "hunter2"}})
    for name in ["b", "c"]:
        dev_server.request("POST", f"/v1/secret/data/svc/{name}", token=root, json={"data": {"x": "y"}})
    dev_server.request("GET", "/v1/secret/data/svc/a", token=root)
    dev_server.request("LIST", "/v1/secret/metadata/svc", token=root)

    text = (tmp_path / "plain.log").read_text()
    assert all(line.startswith("TROVE {") for line in text.splitlines())
    plain = [json.loads(line[len("TROVE "):]) for line in text.splitlines()]
    write = next(e for e in plain if e["request"]["path"] == "secret/data/svc/a" and e["type"] == "request"
                 and e["request"]["operation"] == "create")
    # Non-HMAC keys name top-level keys of the request data; a kv-v2 body
    # wraps the secret in "data", so all of it stays masked.
    assert write["request"]["data"]["data"]["password"].startswith(HASH)
    assert write["request"]["data"]["data"]["username"].startswith(HASH)
    # hmac_accessor=false: the accessor is in clear, the token is not.
    assert write["auth"]["client_token"].startswith(HASH)
    assert not write["auth"]["accessor"].startswith(HASH)
    listing = next(e for e in plain if e["request"]["operation"] == "list" and e["type"] == "response")
    assert listing["response"]["data"]["keys"] == 3
    assert "hunter2" not in text

    raw = entries(raw_log)
    assert "hunter2" in raw_log.read_text() and root in raw_log.read_text()
    assert any(e.get("auth", {}).get("client_token") == root for e in raw)


def test_non_hmac_request_keys_on_top_level_fields(dev_server, tmp_path):
    root = dev_server.root_token
    log = tmp_path / "a.log"
    enable_file(dev_server, root, "file", log)
    r = dev_server.request("POST", "/v1/sys/mounts/kv1", token=root, json={"type": "kv"})
    assert r.status_code == 204
    r = dev_server.request("POST", "/v1/sys/mounts/kv1/tune", token=root,
                           json={"audit_non_hmac_request_keys": ["username"],
                                 "audit_non_hmac_response_keys": ["username"]})
    assert r.status_code == 204, r.text
    dev_server.request("POST", "/v1/kv1/app", token=root, json={"username": "svc-user", "password": "hunter2"})
    dev_server.request("GET", "/v1/kv1/app", token=root)
    es = pairs(log, "kv1/app")
    assert es[0]["request"]["data"]["username"] == "svc-user"
    assert es[0]["request"]["data"]["password"].startswith(HASH)
    read = [e for e in es if e["type"] == "response" and e["request"]["operation"] == "read"][0]
    assert read["response"]["data"]["username"] == "svc-user"
    assert read["response"]["data"]["password"].startswith(HASH)


def test_request_headers_configured(audited):
    srv, log = audited
    root = srv.root_token
    r = srv.request("PUT", "/v1/sys/config/auditing/request-headers/X-Forwarded-For", token=root,
                    json={"hmac": False})
    assert r.status_code == 204, r.text
    r = srv.request("PUT", "/v1/sys/config/auditing/request-headers/X-Secret-Thing", token=root,
                    json={"hmac": True})
    assert r.status_code == 204
    listed = srv.request("GET", "/v1/sys/config/auditing/request-headers", token=root).json()
    assert listed["data"]["headers"] == {"x-forwarded-for": {"hmac": False}, "x-secret-thing": {"hmac": True}}
    srv.request("GET", "/v1/secret/data/h", token=root,
                headers={"X-Forwarded-For": "10.1.2.3", "X-Secret-Thing": "s3cr3t-header"})
    e = pairs(log, "secret/data/h")[0]
    assert e["request"]["headers"]["x-forwarded-for"] == "10.1.2.3"
    assert e["request"]["headers"]["x-secret-thing"] == audit_hash(srv, root, "file", "s3cr3t-header")
    assert "s3cr3t-header" not in log.read_text()
    assert srv.request("DELETE", "/v1/sys/config/auditing/request-headers/x-secret-thing",
                       token=root).status_code == 204
    assert srv.request("GET", "/v1/sys/config/auditing/request-headers/x-secret-thing",
                       token=root).status_code == 404


# --- the canary -------------------------------------------------------------


def test_canary_never_in_any_log(dev_server, tmp_path):
    root = dev_server.root_token
    log = tmp_path / "canary.log"
    enable_file(dev_server, root, "file", log)
    canary = "canary-" + secrets.token_hex(16)
    num_canary = 7000000000 + secrets.randbelow(999999999)
    assert dev_server.request("POST", "/v1/sys/mounts/kv1", token=root, json={"type": "kv"}).status_code == 204
    writes = [
        ("/v1/kv1/c", {"value": canary, "n": num_canary}),
        ("/v1/secret/data/c", {"data": {"value": canary, "nested": [{"deep": canary}], "n": num_canary}}),
        ("/v1/cubbyhole/c", {"value": canary}),
    ]
    for path, body in writes:
        r = dev_server.request("POST", path, token=root, json=body)
        assert r.status_code in (200, 204), r.text
    for path in ["/v1/kv1/c", "/v1/secret/data/c", "/v1/cubbyhole/c"]:
        r = dev_server.request("GET", path, token=root)
        assert r.status_code == 200 and canary in r.text
    # In error responses: a bad cas value and an unknown field in a write.
    r = dev_server.request("POST", "/v1/secret/data/c", token=root,
                           json={"options": {"cas": canary}, "data": {"v": canary}})
    assert r.status_code == 400
    r = dev_server.request("POST", "/v1/auth/token/create", token=root, json={"ttl": canary})
    assert r.status_code == 400

    text = log.read_text()
    assert canary not in text and str(num_canary) not in text
    assert audit_hash(dev_server, root, "file", canary) in text
    assert audit_hash(dev_server, root, "file", str(num_canary)) in text
    server_out = dev_server.proc.all_output_bytes()
    assert canary.encode() not in server_out and str(num_canary).encode() not in server_out


# --- fail closed ------------------------------------------------------------




def test_full_disk_refuses_requests_and_withholds_secrets(dev_server, tiny_fs):
    root = dev_server.root_token
    log = tiny_fs / "audit.log"
    enable_file(dev_server, root, "file", log)
    secret = "s-" + secrets.token_hex(12)
    assert dev_server.request("POST", "/v1/secret/data/app", token=root,
                              json={"data": {"v": secret}}).status_code == 200
    assert dev_server.request("GET", "/v1/secret/data/app", token=root).status_code == 200
    lines = log.read_text().splitlines(keepends=True)
    req_len, resp_len = len(lines[-2]), len(lines[-1])
    assert resp_len > req_len + 64

    # 1. No room for the request entry: nothing runs (a write does not happen).
    filler = fill_filesystem(tiny_fs / "filler")
    fill_filesystem(log)  # and the log's last page
    r = dev_server.request("POST", "/v1/secret/data/never", token=root, json={"data": {"v": secret}})
    assert r.status_code == 500 and r.json() == {"errors": ["internal error"]}
    r = dev_server.request("GET", "/v1/secret/data/app", token=root)
    assert r.status_code == 500 and secret not in r.text

    # 2. Room for the request entry only: the handler runs, the secret is withheld.
    filler.unlink()
    log.write_bytes(b"")
    page = 4096
    with open(log, "ab") as f:
        f.write(b"#" * (page - req_len - 8))
    fill_filesystem(tiny_fs / "filler")
    r = dev_server.request("GET", "/v1/secret/data/app", token=root)
    assert r.status_code == 500 and secret not in r.text
    tail = log.read_bytes()[page - req_len - 8:]
    assert tail.count(b"\n") == 1 and b'"type":"request"' in tail  # no half response line

    # 3. Space again: service resumes; the never-written secret does not exist.
    (tiny_fs / "filler").unlink()
    log.write_bytes(b"")
    r = dev_server.request("GET", "/v1/secret/data/app", token=root)
    assert r.status_code == 200 and secret in r.text
    assert dev_server.request("GET", "/v1/secret/data/never", token=root).status_code == 404


def test_one_broken_device_of_two_is_enough(dev_server, tiny_fs, tmp_path):
    root = dev_server.root_token
    enable_file(dev_server, root, "broken", tiny_fs / "audit.log")
    good = tmp_path / "good.log"
    enable_file(dev_server, root, "good", good)
    fill_filesystem(tiny_fs / "filler")
    fill_filesystem(tiny_fs / "audit.log")
    r = dev_server.request("POST", "/v1/secret/data/two", token=root, json={"data": {"v": "x"}})
    assert r.status_code == 200, r.text
    assert dev_server.request("GET", "/v1/secret/data/two", token=root).status_code == 200
    assert len(pairs(good, "secret/data/two")) == 4
    assert "audit device failed" in dev_server.proc.stderr_text() + dev_server.proc.stdout_text()
    # ... and counted where monitoring looks.
    r = dev_server.request("GET", "/v1/sys/metrics?format=prometheus", token=root)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain"), r.text
    failures = [line for line in r.text.splitlines() if line.startswith("trove_audit_log_failures_total ")]
    assert len(failures) == 1 and int(failures[0].split()[1]) >= 4, r.text


def test_sighup_reopens_the_file(audited):
    srv, log = audited
    srv.request("GET", "/v1/secret/data/before", token=srv.root_token)
    rotated = log.with_name("audit.log.1")
    log.rename(rotated)
    os.kill(srv.proc.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        srv.request("GET", "/v1/secret/data/after", token=srv.root_token)
        if log.exists() and pairs(log, "secret/data/after"):
            break
        time.sleep(0.05)
    assert pairs(log, "secret/data/after")
    assert pairs(rotated, "secret/data/before") and not pairs(log, "secret/data/before")


# --- concurrent requests: entries written in batches ----------------------------


def concurrent_reads(srv, token, path, threads=16, per_thread=40):
    """GETs path from `threads` keep-alive connections at once; returns
    [(status, body text)]."""
    import requests

    results = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker():
        with requests.Session() as s:
            start.wait()
            for _ in range(per_thread):
                r = s.get(srv.url + "/v1/" + path, headers={"X-Vault-Token": token}, timeout=30)
                with lock:
                    results.append((r.status_code, r.text))

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def whole_lines(path):
    """The log's entries, each line checked to be a whole JSON object ending
    in '\\n' (lines of '#' are the tests' padding)."""
    raw = Path(path).read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), "the log ends inside a line"
    return [json.loads(line) for line in raw.decode().splitlines() if not line.startswith("#")]


def pad_to_page(path, page=4096):
    """Appends a line of '#' so the file ends on a page boundary: a full
    filesystem then has no room left in the file's last page either."""
    n = (-os.path.getsize(path)) % page
    if n:
        with open(path, "ab") as f:
            f.write(b"#" * (n - 1) + b"\n" if n > 1 else b"\n")


def test_concurrent_reads_each_have_one_request_and_one_response_entry(dev_server, tmp_path):
    """Reads served together on the event loop are audited in batches; each
    request still has exactly one request entry and one response entry,
    with its id, and the log holds only whole lines."""
    root = dev_server.root_token
    log = tmp_path / "audit.log"
    secret = "s-" + secrets.token_hex(12)
    assert dev_server.request("POST", "/v1/secret/data/many", token=root,
                              json={"data": {"v": secret}}).status_code == 200
    token = make_token(dev_server, root, ["default"])
    r = dev_server.request("PUT", "/v1/sys/policies/acl/many", token=root,
                           json={"policy": 'path "secret/data/many" { capabilities = ["read"] }'})
    assert r.status_code == 204, r.text
    token = make_token(dev_server, root, ["many"])
    enable_file(dev_server, root, "file", log)

    results = concurrent_reads(dev_server, token, "secret/data/many")
    assert len(results) == 16 * 40
    ids = []
    for status, text in results:
        assert status == 200, text
        body = json.loads(text)
        assert body["data"]["data"]["v"] == secret
        ids.append(body["request_id"])
    assert len(set(ids)) == len(ids)

    seen = {}
    for e in whole_lines(log):
        if e["request"].get("path") != "secret/data/many":
            continue
        seen.setdefault(e["request"]["id"], []).append(e["type"])
    assert set(seen) == set(ids)
    for rid, types in seen.items():
        assert types == ["request", "response"], (rid, types)
    assert secret not in log.read_text()


def test_concurrent_reads_on_a_full_disk_are_refused_or_fully_audited(dev_server, tiny_fs):
    """Under concurrency, on a filesystem that fills up: a reply with the
    secret always has both its entries in the log, every other reply is the
    fail-closed 500 without the secret, and the log never holds half a
    line."""
    root = dev_server.root_token
    log = tiny_fs / "audit.log"
    secret = "s-" + secrets.token_hex(12)
    assert dev_server.request("POST", "/v1/secret/data/full", token=root,
                              json={"data": {"v": secret}}).status_code == 200
    enable_file(dev_server, root, "file", log)

    # 1. No room at all: every request is refused, nothing is logged.
    pad_to_page(log)
    filler = fill_filesystem(tiny_fs / "filler")
    size = log.stat().st_size
    results = concurrent_reads(dev_server, root, "secret/data/full", threads=8, per_thread=10)
    for status, text in results:
        assert status == 500 and json.loads(text) == {"errors": ["internal error"]} and secret not in text
    assert log.stat().st_size == size
    whole_lines(log)

    # 2. Room for some entries: the disk fills during the burst.
    filler.unlink()
    log.write_bytes(b"")
    with open(tiny_fs / "filler", "wb") as f:
        f.write(b"#" * (64 * 1024 - 24 * 1024))
    fill_filesystem(tiny_fs / "filler2")
    (tiny_fs / "filler2").unlink()  # about 24 KiB left, some of it in partial pages
    results = concurrent_reads(dev_server, root, "secret/data/full", threads=8, per_thread=20)
    served = []
    for status, text in results:
        if status == 200:
            assert secret in text
            served.append(json.loads(text)["request_id"])
        else:
            assert status == 500 and json.loads(text) == {"errors": ["internal error"]} and secret not in text
    lines = whole_lines(log)
    logged = {}
    for e in lines:
        logged.setdefault(e["request"]["id"], []).append(e["type"])
    for rid in served:
        assert logged.get(rid) == ["request", "response"], rid
    assert len(served) < len(results), "the disk never filled"

    # 3. Space again: service resumes.
    (tiny_fs / "filler").unlink()
    log.write_bytes(b"")
    results = concurrent_reads(dev_server, root, "secret/data/full", threads=4, per_thread=4)
    assert all(status == 200 and secret in text for status, text in results)
    whole_lines(log)


# --- socket devices -----------------------------------------------------------


class LineCollector(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.lines = []
        self.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.sock.getsockname()[1]

    def run(self):
        conn, _ = self.sock.accept()
        buf = b""
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.lines.append(json.loads(line))


def test_socket_device_receives_entries(dev_server):
    root = dev_server.root_token
    col = LineCollector()
    r = dev_server.request("PUT", "/v1/sys/audit/sock", token=root,
                           json={"type": "socket", "options": {"address": col.address, "socket_type": "tcp"}})
    assert r.status_code == 204, r.text
    dev_server.request("GET", "/v1/secret/data/s", token=root)
    deadline = time.monotonic() + 5
    # both entries: the response entry may arrive a moment after the request's
    while time.monotonic() < deadline and sum(e["request"]["path"] == "secret/data/s" for e in col.lines) < 2:
        time.sleep(0.05)
    got = [e["type"] for e in col.lines if e["request"]["path"] == "secret/data/s"]
    assert got == ["request", "response"]


def test_stalled_socket_times_out_and_never_hangs(dev_server, tmp_path):
    root = dev_server.root_token
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(1)  # accepts into the backlog, never reads
    addr = "127.0.0.1:%d" % stalled.getsockname()[1]
    r = dev_server.request("PUT", "/v1/sys/audit/stall", token=root,
                           json={"type": "socket", "options": {"address": addr, "write_timeout": "200ms"}})
    assert r.status_code == 204, r.text
    # Every leaf is hashed into the entry: 2,000 keys make entries of about
    # 160 KB, so the socket buffers fill after a few requests.
    body = {"data": {f"k{i}": "v" for i in range(2000)}}
    statuses = []
    t0 = time.monotonic()
    for i in range(200):
        statuses.append(dev_server.request("POST", f"/v1/secret/data/big{i}", token=root, json=body).status_code)
        if statuses[-1] == 500:
            break
    elapsed = time.monotonic() - t0
    assert statuses[-1] == 500, statuses  # once the peer stops taking data, requests are refused
    assert elapsed < 30
    # The device reconnects for the next entry (a new connection has empty
    # buffers); whatever happens, no request waits much past write_timeout.
    for _ in range(5):
        t0 = time.monotonic()
        assert dev_server.request("POST", "/v1/secret/data/bigger", token=root,
                                  json=body).status_code in (200, 500)
        assert time.monotonic() - t0 < 2 * 0.2 + 1
    # A working file device alongside keeps the server serving.
    enable_file(dev_server, root, "file", tmp_path / "ok.log")
    r = dev_server.request("POST", "/v1/secret/data/after-stall", token=root, json={"data": {"v": "1"}})
    assert r.status_code == 200, r.text
    stalled.close()


# --- persistence --------------------------------------------------------------


def test_devices_and_salts_survive_restart(config_server, tmp_path):
    srv = config_server(top_extra=f'audit_file_dirs = ["{tmp_path}"]')
    init = srv.init(shares=1, threshold=1)
    srv.unseal()
    root = init["root_token"]
    log = tmp_path / "p.log"
    enable_file(srv, root, "file", log)
    h = audit_hash(srv, root, "file", "value")
    srv.restart()
    srv.unseal()
    assert srv.request("GET", "/v1/sys/audit", token=root).json()["data"]["file/"]["type"] == "file"
    assert audit_hash(srv, root, "file", "value") == h
    # The table lives inside the barrier: the path is not in the data file in clear.
    for f in srv.storage_files():
        assert str(log).encode() not in f.read_bytes()
