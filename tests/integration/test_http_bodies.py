"""Big request bodies arrive whole: the listener moves a big request's
input buffer once into one of the request's size (server/body_buffer.c)
instead of letting h2o grow it by doubling, and puts its read callback
back whenever h2o sets its own again. Each body here is stored and read
back byte for byte: sent at once, in small pieces over many reads, again
on the same keep-alive connection, followed by a pipelined request,
after a 100 Continue, and over TLS. A body sent without the token its
route needs is refused unread."""

import hashlib
import json
import os
import socket
import ssl
import time

from trove_harness import status_of, split_response

BIG = 24 << 20  # over a quarter of it arrives before the buffer is sized


def _value(n, seed):
    return hashlib.sha256(seed.encode()).hexdigest()[:16] + os.urandom(n // 2).hex()


def _put_request(host, port, token, path, value):
    body = json.dumps({"v": value}).encode()
    head = (f"PUT /v1/{path} HTTP/1.1\r\nHost: {host}:{port}\r\nX-Vault-Token: {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    return head + body


def _get_request(host, port, token, path):
    return f"GET /v1/{path} HTTP/1.1\r\nHost: {host}:{port}\r\nX-Vault-Token: {token}\r\n\r\n".encode()


def _read_response(s, deadline=60):
    """One HTTP/1.1 response with a Content-Length (or none: 204)."""
    data = b""
    end = time.monotonic() + deadline
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, f"closed before a response: {data[:200]!r}"
        data += chunk
        assert time.monotonic() < end
    head, body = split_response(data)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = s.recv(65536)
        assert chunk
        body += chunk
    return status_of(head), body[:length], body[length:]


def _stored(srv, path):
    r = srv.get(f"/v1/{path}", token=srv.root_token)
    assert r.status_code == 200, r.text[:300]
    return r.json()["data"]["v"]


def test_big_body_at_once_is_stored_intact(dev_server):
    value = _value(BIG, "at-once")
    r = dev_server.put("/v1/cubbyhole/big", token=dev_server.root_token, json={"v": value})
    assert r.status_code == 204, r.text[:300]
    assert _stored(dev_server, "cubbyhole/big") == value


def test_big_bodies_in_pieces_on_one_connection(dev_server):
    host, port = "127.0.0.1", int(dev_server.url.rsplit(":", 1)[1])
    token = dev_server.root_token
    values = [_value(BIG, "first"), _value(BIG // 3, "second")]
    with socket.create_connection((host, port), timeout=60) as s:
        for i, value in enumerate(values):
            req = _put_request(host, port, token, f"cubbyhole/piece{i}", value)
            for at in range(0, len(req), 256 << 10):  # many reads, the buffer sized between them
                s.sendall(req[at:at + (256 << 10)])
                if at % (4 << 20) == 0:
                    time.sleep(0.01)
            status, body, rest = _read_response(s)
            assert status == 204, body[:300]
            assert rest == b""
            # the same connection reads its next request as usual
            s.sendall(_get_request(host, port, token, "sys/health"))
            status, body, _ = _read_response(s)
            assert status == 200 and json.loads(body)["sealed"] is False
    for i, value in enumerate(values):
        assert _stored(dev_server, f"cubbyhole/piece{i}") == value


def test_request_pipelined_after_a_big_body(dev_server):
    host, port = "127.0.0.1", int(dev_server.url.rsplit(":", 1)[1])
    token = dev_server.root_token
    value = _value(BIG, "pipelined")
    with socket.create_connection((host, port), timeout=60) as s:
        s.sendall(_put_request(host, port, token, "cubbyhole/pipe", value) +
                  _get_request(host, port, token, "cubbyhole/pipe"))
        status, body, rest = _read_response(s)
        assert status == 204, body[:300]
        s.settimeout(60)
        data = rest
        while True:
            head, sep, tail = data.partition(b"\r\n\r\n")
            if sep:
                length = int([v for k, _, v in (ln.partition(b":") for ln in head.split(b"\r\n")[1:])
                              if k.strip().lower() == b"content-length"][0])
                if len(tail) >= length:
                    break
            chunk = s.recv(1 << 20)
            assert chunk
            data += chunk
        assert status_of(head) == 200
        assert json.loads(tail[:length])["data"]["v"] == value


def test_big_body_after_100_continue(dev_server):
    """curl's way with big bodies: the head with Expect: 100-continue, the
    body once the server says 100 (h2o sets its read callback again)."""
    host, port = "127.0.0.1", int(dev_server.url.rsplit(":", 1)[1])
    value = _value(BIG, "continue")
    req = _put_request(host, port, dev_server.root_token, "cubbyhole/continue", value)
    head, _, body = req.partition(b"\r\n\r\n")
    with socket.create_connection((host, port), timeout=60) as s:
        s.sendall(head + b"\r\nExpect: 100-continue\r\n\r\n")
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            assert chunk, got
            got += chunk
        assert got.startswith(b"HTTP/1.1 100 "), got
        for at in range(0, len(body), 1 << 20):
            s.sendall(body[at:at + (1 << 20)])
        status, text, _ = _read_response(s)
        assert status == 204, text[:300]
    assert _stored(dev_server, "cubbyhole/continue") == value


def test_big_body_over_tls_is_stored_intact(tls_server):
    srv = tls_server
    srv.init(3, 2)
    srv.unseal()
    host, port = "127.0.0.1", int(srv.url.rsplit(":", 1)[1])
    ctx = ssl.create_default_context(cafile=str(srv.tls.ca_cert))
    ctx.load_cert_chain(*srv.tls.client_pair)
    value = _value(BIG, "tls")
    with socket.create_connection((host, port), timeout=60) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as s:
        for i in range(2):  # the second on the same connection
            s.sendall(_put_request(host, port, srv.root_token, f"cubbyhole/tls{i}", value))
            status, body, _ = _read_response(s)
            assert status == 204, body[:300]
    assert _stored(srv, "cubbyhole/tls0") == value
    assert _stored(srv, "cubbyhole/tls1") == value


def _server_rcvbuf(port):
    """The receive buffer (`ss -tm` rb, in bytes) of the server's side of an
    established connection to 127.0.0.1:port."""
    import re
    import subprocess
    out = subprocess.run(["ss", "-tmnH", "state", "established", f"( sport = :{port} )"], capture_output=True,
                         text=True, check=True).stdout
    found = re.findall(r"\brb(\d+)", out)
    assert found, out
    return {int(x) for x in found}


def test_socket_receive_buffer_knob(config_server):
    """socket_receive_buffer sets SO_RCVBUF (the kernel doubles it); 0
    leaves the kernel's autotuning (tcp_rmem's default, larger)."""
    for extra, want in (("", 2 * (256 << 10)), ('socket_receive_buffer = "64KiB"', 2 * (64 << 10))):
        srv = config_server(listener_extra=extra)
        port = int(srv.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(_get_request("127.0.0.1", port, "x", "sys/health"))
            _read_response(s)
            assert _server_rcvbuf(port) == {want}
        srv.stop()
    srv = config_server(listener_extra="socket_receive_buffer = 0")
    port = int(srv.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(_get_request("127.0.0.1", port, "x", "sys/health"))
        _read_response(s)
        assert all(rb != 2 * (256 << 10) for rb in _server_rcvbuf(port))


def test_big_body_without_a_token_is_refused_unread(dev_server, tmp_path):
    """A request with no token for a route that needs one is refused
    before its body is read (the loop serves it; bench/bodies measures
    what that spares): 403 as the router gives it, the denial audited
    without the body, and the connection then reads an authenticated big
    body as usual."""
    host, port = "127.0.0.1", int(dev_server.url.rsplit(":", 1)[1])
    root = dev_server.root_token
    log = tmp_path / "audit.log"
    r = dev_server.request("PUT", "/v1/sys/audit/bodies", token=root,
                           json={"type": "file", "options": {"file_path": str(log)}})
    assert r.status_code == 204, r.text
    try:
        marker = "unread-" + os.urandom(8).hex()
        body = json.dumps({"v": marker + "0" * BIG}).encode()
        head = (f"PUT /v1/secret/data/unread HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        value = _value(BIG // 3, "after-refusal")
        with socket.create_connection((host, port), timeout=60) as s:
            s.sendall(head + body)
            status, answer, rest = _read_response(s)
            assert status == 403, answer[:300]
            assert json.loads(answer) == {"errors": ["permission denied"]}
            assert rest == b""
            s.sendall(_put_request(host, port, root, "cubbyhole/after-refusal", value))
            status, answer, _ = _read_response(s)
            assert status == 204, answer[:300]
        assert _stored(dev_server, "cubbyhole/after-refusal") == value
        entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        denied = [e for e in entries if e.get("request", {}).get("path") == "secret/data/unread"]
        assert [e["type"] for e in denied] == ["request", "response"]
        assert denied[1]["error"] == "permission denied"
        assert "data" not in denied[0]["request"]
        assert marker not in log.read_text()
    finally:
        dev_server.request("DELETE", "/v1/sys/audit/bodies", token=root)
