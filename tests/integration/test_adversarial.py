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

# (end of section: paths and durations)


# ---------------------------------------------------------------------------
# 7-8. Bodies: parsed after routing, bounded, and 413 readable.
# ---------------------------------------------------------------------------

def bodies_stalled_audit(srv, root, write_timeout):
    """Enables a socket audit device whose peer never reads: once its
    buffers are full, every audited request waits write_timeout in the
    device. Returns the listening socket (keep it open)."""
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(1)
    addr = "127.0.0.1:%d" % stalled.getsockname()[1]
    r = srv.request("PUT", "/v1/sys/audit/stall", token=root,
                    json={"type": "socket", "options": {"address": addr, "write_timeout": write_timeout}})
    assert r.status_code == 204, r.text
    return stalled


@pytest.mark.time_limit(120)
def test_bodies_timeout_answers_504_while_workers_still_run(config_server):
    """Item 10: the loop answers 504 from what it copied at hand-off while
    the workers still own the requests; run under ASan this is the stress
    for the timer path (the job is freed only when its worker is done)."""
    srv = config_server(listener_extra="max_request_duration = \"1s\"")
    root = srv.init(shares=1, threshold=1)["root_token"]
    srv.unseal()
    stalled = bodies_stalled_audit(srv, root, "3s")
    # 2,000 hashed leaves make entries of about 160 KB: the buffers fill
    # after a few requests and the next ones wait in the device.
    body = {f"k{i}": "v" for i in range(2000)}
    seen = []
    for i in range(50):
        r = srv.request("POST", f"/v1/cubbyhole/fill{i}", token=root, json=body)
        seen.append(r.status_code)
        if r.status_code == 504:
            break
    assert seen[-1] == 504, seen
    results = []

    def one(i):
        t0 = time.monotonic()
        r = srv.request("PUT" if i % 2 else "POST", f"/v1/cubbyhole/slow{i}", token=root, json=body)
        results.append((r.status_code, r.json(), r.headers.get("Content-Type"), time.monotonic() - t0))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    for status, js, ctype, elapsed in results:
        assert status == 504, results
        assert js == {"errors": ["request exceeded max_request_duration"]}
        assert ctype == "application/json"
        assert elapsed < 2.5  # the timer answered, not the worker
    time.sleep(4)  # the workers finish after their clients were answered
    assert srv.get("/v1/sys/health").status_code == 200
    assert srv.proc.running
    stalled.close()
    # Under a ThreadSanitizer build (TROVE_BIN built with
    # -Db_sanitize=thread) the timer path must not race with the workers.
    races = [r for r in srv.proc.stderr_text().split("WARNING: ThreadSanitizer")[1:]
             if "on_duration_exceeded" in r]
    assert not races, races[0][:3000]


def bodies_raw_put(srv, path, body, token=None, ctype="application/json"):
    """PUT body (bytes) with Content-Length; returns (status, parsed JSON)."""
    host, port = srv.host_port
    head = f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {ctype}\r\n"
    if token:
        head += f"X-Vault-Token: {token}\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    raw, _ = raw_http(host, port, head.encode() + body, timeout=60)
    _, _, text = raw.partition(b"\r\n\r\n")
    return status_of(raw), (json.loads(text) if text.strip() else None)


def bodies_peak_rss_kib(srv):
    for line in Path(f"/proc/{srv.proc.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def bodies_sanitized(srv):
    """Whether the server runs under a sanitizer (whose allocator keeps
    freed memory in quarantine, so peak RSS says little)."""
    maps = Path(f"/proc/{srv.proc.proc.pid}/maps").read_text()
    return "libasan" in maps or "libtsan" in maps


def bodies_limited_token(srv, root, rules):
    r = srv.request("PUT", "/v1/sys/policy/bodies", token=root, json={"policy": rules})
    assert r.status_code in (200, 204), r.text
    r = srv.request("POST", "/v1/auth/token/create", token=root, json={"policies": ["bodies"]})
    assert r.status_code == 200, r.text
    return r.json()["auth"]["client_token"]


@pytest.mark.time_limit(180)
def test_bodies_unauthenticated_body_is_never_parsed(dev_server):
    """Item 7: a body without a token, or with one the ACL refuses, is not
    turned into JSON: a malformed body gets the 403, and 16 MiB arrays of
    zeros (millions of JSON nodes) do not grow the server's memory."""
    srv, root = dev_server, dev_server.root_token
    # Malformed: the 403 comes first (the body was never parsed).
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/x", b'{"a": ')
    assert status == 403, js
    assert js == {"errors": ["permission denied"]}
    reader = bodies_limited_token(srv, root, 'path "secret/*" { capabilities = ["read"] }')
    status, js = bodies_raw_put(srv, "/v1/secret/data/x", b'{"a": ', token=reader)
    assert status == 403, js
    # Allowed: the same body is a 400 naming the parse error.
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/x", b'{"a": ', token=root)
    assert status == 400 and "failed to parse JSON input" in js["errors"][0], js
    # The flood: 16 MiB arrays, without a token and with the reader's.
    before = bodies_peak_rss_kib(srv)
    flood = b"[" + b"0," * (8 << 20) + b"0]"
    for token in (None, reader, None, reader):
        status, js = bodies_raw_put(srv, "/v1/secret/data/x", flood, token=token)
        assert status == 403, js
    grown_mib = (bodies_peak_rss_kib(srv) - before) / 1024
    # The bytes themselves are held (h2o's buffer, the worker's copy), never
    # the eight million nodes (several hundred MiB) parsing would make.
    if not bodies_sanitized(srv):
        assert grown_mib < 200, f"peak RSS grew by {grown_mib:.0f} MiB"
    assert srv.get("/v1/sys/health").status_code == 200


def test_bodies_depth_and_member_limits(dev_server):
    """Item 7: an allowed request's body is bounded: 64 levels, 10,000
    members per object or array, 100,000 values in all; past them a 400
    names the limit, and at them the body is accepted."""
    srv, root = dev_server, dev_server.root_token
    ok = b'{"a": ' + b"[" * 63 + b"]" * 63 + b"}"
    assert bodies_raw_put(srv, "/v1/cubbyhole/deep", ok, token=root)[0] == 204
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/deep", b'{"a": ' + b"[" * 64 + b"]" * 64 + b"}", token=root)
    assert status == 400, js
    assert "nesting deeper than 64 levels" in js["errors"][0], js
    # Refused before jansson recurses: a 1 MiB nest answers at once.
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/deep", b'{"a": ' + b"[" * (1 << 20), token=root)
    assert status == 400 and "nesting deeper than 64 levels" in js["errors"][0], js
    wide = {f"k{i}": i for i in range(10000)}
    assert bodies_raw_put(srv, "/v1/cubbyhole/wide", json.dumps(wide).encode(), token=root)[0] == 204
    wide["one-more"] = 0
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/wide", json.dumps(wide).encode(), token=root)
    assert status == 400 and "more than 10000 members" in js["errors"][0], js
    many = {f"k{i}": [0] * 20 for i in range(5000)}
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/many", json.dumps(many).encode(), token=root)
    assert status == 400 and "more than 100000 values" in js["errors"][0], js
    # Forms are bounded alike.
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/form", b"&".join([b"a=1"] * 100001), token=root,
                                ctype="application/x-www-form-urlencoded")
    assert status == 400 and "too many parameters" in js["errors"][0], js


def test_bodies_parameter_constraints_still_see_the_body(dev_server):
    """Item 7: parsing after the capability check keeps parameter
    constraints working: the body is parsed for the token whose
    capabilities allow the write, then its parameters decide."""
    srv, root = dev_server, dev_server.root_token
    tok = bodies_limited_token(srv, root, 'path "secret/data/*" {\n  capabilities = ["create", "update"]\n'
                                          '  denied_parameters = { "options" = [] }\n}\n')
    assert bodies_raw_put(srv, "/v1/secret/data/p", b'{"data": {"a": "1"}}', token=tok)[0] == 200
    status, js = bodies_raw_put(srv, "/v1/secret/data/p", b'{"data": {"a": "1"}, "options": {}}', token=tok)
    assert status == 403, js
    status, js = bodies_raw_put(srv, "/v1/secret/data/p", b"options=1", token=tok,
                                ctype="application/x-www-form-urlencoded")
    assert status == 403, js


@pytest.mark.time_limit(240)
def test_bodies_big_bodies_do_not_stall_the_loop(dev_server):
    """Item 7: 32 MiB bodies are parsed on the worker pool: while four
    clients send them, sys/health keeps answering promptly."""
    srv, root = dev_server, dev_server.root_token
    host, port = srv.host_port
    body = b'{"v": "' + b"a" * ((32 << 20) - 64) + b'"}'
    stop = threading.Event()
    statuses = []

    def sender():
        while not stop.is_set():
            statuses.append(bodies_raw_put(srv, "/v1/cubbyhole/big", body, token=root)[0])

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    lat = []
    t_end = time.monotonic() + 8
    with socket.create_connection((host, port), timeout=10) as s:
        req = f"GET /v1/sys/health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            s.sendall(req)
            got = b""
            while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"}"):
                got += s.recv(65536)
            lat.append(time.monotonic() - t0)
            time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join()
    assert statuses and set(statuses) == {204}, statuses
    lat.sort()
    p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
    print(f"sys/health over {len(lat)} requests: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    assert p50 < 0.1 and p99 < 2, f"sys/health p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms over {len(lat)}"


def bodies_send_whole_then_read(host, port, head, pieces, timeout=60):
    """Like requests or hvac: send the head and every piece of the body,
    then read the answer until the server closes. Returns (raw answer,
    the error that cut sending or reading short, or None)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            s.sendall(head)
            for p in pieces:
                s.sendall(p)
        except OSError as e:
            return b"", e
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out, None
                out += chunk
        except OSError as e:
            return out, e


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("chunked", [False, True])
def test_bodies_oversized_body_gets_a_readable_413(config_server, chunked):
    """Item 8: a client that sends its whole oversized body before reading
    gets the 413, in the JSON error envelope, not a connection reset."""
    srv = config_server(listener_extra="max_request_size = 1024")
    host, port = srv.host_port
    total = 16 << 20
    piece = b"a" * 65536
    head = f"PUT /v1/sys/init HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    if chunked:
        head += "Transfer-Encoding: chunked\r\n\r\n"
        pieces = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (total // len(piece)) + [b"0\r\n\r\n"]
    else:
        head += f"Content-Length: {total}\r\n\r\n"
        pieces = [piece] * (total // len(piece))
    raw, err = bodies_send_whole_then_read(host, port, head.encode(), pieces)
    assert err is None, f"{err!r} after {len(raw)} bytes of answer"
    assert status_of(raw) == 413, raw[:300]
    headers, _, body = raw.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in headers.lower(), headers
    assert json.loads(body) == {"errors": ["request body is larger than max_request_size (1024 bytes)"]}
    assert srv.get("/v1/sys/init").json() == {"initialized": False}


@pytest.mark.time_limit(120)
def test_bodies_oversized_body_gets_a_readable_413_over_tls(config_server, tls_material):
    """Item 8 over TLS: the drain runs under the TLS session (its records
    are discarded) and the 413 record arrives before the close."""
    import ssl

    srv = config_server(tls=tls_material, listener_extra="max_request_size = 1024")
    host, port = srv.host_port
    ctx = ssl.create_default_context(cafile=str(tls_material.ca_cert))
    ctx.load_cert_chain(*tls_material.client_pair)
    total, piece = 8 << 20, b"a" * 65536
    head = (f"PUT /v1/sys/init HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {total}\r\n\r\n").encode()
    with socket.create_connection((host, port), timeout=60) as raw_sock:
        with ctx.wrap_socket(raw_sock, server_hostname="127.0.0.1") as s:
            s.sendall(head)
            for _ in range(total // len(piece)):
                s.sendall(piece)
            out = b""
            try:
                while chunk := s.recv(65536):
                    out += chunk
            except ssl.SSLError:
                pass  # the server's close after close_notify
    assert status_of(out) == 413, out[:300]
    assert out.endswith(b'{"errors":["request body is larger than max_request_size (1024 bytes)"]}\n'), out[-300:]


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
