"""Wire behaviour and bad input: malformed JSON, wrong field types, unknown
paths, unsupported verbs, LIST, oversized bodies, slow and garbage clients.
Nothing may crash or hang the server (the fixtures check that at teardown)."""

import socket
import subprocess
import threading
import time

import pytest

from trove_harness import (
    DEFAULT_MAX_REQUEST_SIZE,
    TROVE_BIN,
    HEADER_TIMEOUT_S,
    assert_error,
    assert_json_headers,
    raw_http,
    sanitizer_env,
    send_big_body,
    status_of,
)


# -- headers ---------------------------------------------------------------------

def test_json_headers_on_every_kind_of_response(dev_server):
    tok = dev_server.root_token
    cases = [
        ("GET", "/v1/sys/health", None, 200),
        ("GET", "/v1/sys/seal-status", None, 200),
        ("GET", "/v1/sys/init", None, 200),
        ("GET", "/v1/sys/leader", None, 200),
        ("GET", "/v1/sys/key-status", tok, 200),
        ("GET", "/v1/sys/key-status", None, 403),
        ("GET", "/v1/sys/no-such-path", tok, 404),
        ("DELETE", "/v1/sys/health", None, 405),
        ("PUT", "/v1/sys/init", None, 400),
    ]
    for method, path, token, want in cases:
        r = dev_server.request(method, path, token=token, json={} if method == "PUT" else None)
        assert r.status_code == want, f"{method} {path}: {r.status_code} {r.text}"
        assert_json_headers(r)
        r.json()
    r = dev_server.put("/v1/sys/rotate", token=tok)
    assert r.status_code == 204
    assert r.headers.get("Cache-Control") == "no-store"


# -- malformed bodies ----------------------------------------------------------------

MALFORMED = [
    b'{"key":',
    b"not json at all",
    b'{"key": "abc",}',
    b"{'key': 'abc'}",
    b'{"key": "abc"} trailing',
    b"\xff\xfe\x00garbage",
    b'{"key": "\\ud800"',
]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_json_is_400(dev_server, body):
    h = {"Content-Type": "application/json"}
    assert_error(dev_server.put("/v1/sys/unseal", data=body, headers=h), 400, "json")
    assert_error(dev_server.put("/v1/sys/rotate", data=body, token=dev_server.root_token, headers=h), 400,
                 "json")


@pytest.mark.parametrize("body", [b"[1, 2]", b'"a string"', b"42", b"null", b"true"])
def test_non_object_json_is_400(dev_server, body):
    assert_error(dev_server.put("/v1/sys/unseal", data=body), 400)


def test_malformed_json_before_init(config_server):
    srv = config_server()
    assert_error(srv.put("/v1/sys/init", data=b'{"secret_shares": 3,'), 400, "json")
    assert srv.get("/v1/sys/init").json() == {"initialized": False}


def test_wrong_types_name_the_field(config_server):
    srv = config_server()
    cases = [
        ({"secret_shares": "three", "secret_threshold": 2}, "secret_shares"),
        ({"secret_shares": 3, "secret_threshold": {"a": 1}}, "secret_threshold"),
        ({"secret_shares": [3], "secret_threshold": 2}, "secret_shares"),
        ({"secret_shares": 3, "secret_threshold": 2.5}, "secret_threshold"),
        ({"secret_shares": True, "secret_threshold": 2}, "secret_shares"),
    ]
    for body, field in cases:
        assert_error(srv.put("/v1/sys/init", json=body), 400, field)
    assert srv.get("/v1/sys/init").json() == {"initialized": False}

    srv.init(3, 2)
    for body, field in [({"key": ["x"]}, "key"), ({"key": {"a": 1}}, "key"), ({"reset": "maybe"}, "reset"),
                        ({"reset": [True]}, "reset")]:
        assert_error(srv.put("/v1/sys/unseal", json=body), 400, field)
    st = srv.seal_status()
    assert st["sealed"] is True and st["progress"] == 0


# -- routing -------------------------------------------------------------------------------

UNKNOWN = ["/v1/sys/no-such-path", "/v1/nosuchmount/foo", "/v1/nosuchmount/a/b/c", "/v1/sys/no/such/deep/path"]


@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE", "LIST"])
def test_unknown_path_is_404(dev_server, method):
    for path in UNKNOWN:
        r = dev_server.request(method, path, token=dev_server.root_token, json={} if method in ("PUT", "POST") else None)
        assert_error(r, 404)


def test_outside_v1_is_404(dev_server):
    for path in ("/v2/sys/health", "/nope", "/v1", "/sys/health"):
        r = dev_server.get(path, token=dev_server.root_token)
        assert r.status_code == 404, f"{path}: {r.status_code} {r.text}"


@pytest.mark.parametrize("flag", ["true", "True", "TRUE", "1", "t"])
def test_list_query_on_unknown_path_is_404(dev_server, flag):
    r = dev_server.get("/v1/nosuchmount/", params={"list": flag}, token=dev_server.root_token)
    assert_error(r, 404)
    r = dev_server.get("/v1/sys/no-such-path", params={"list": flag}, token=dev_server.root_token)
    assert_error(r, 404)


def test_list_verb_on_unknown_path_is_404(dev_server):
    for path in ("/v1/nosuchmount/", "/v1/nosuchmount", "/v1/sys/no-such-path/"):
        assert_error(dev_server.request("LIST", path, token=dev_server.root_token), 404)


def test_unparsable_list_flag_is_400(dev_server):
    r = dev_server.get("/v1/nosuchmount/", params={"list": "maybe"}, token=dev_server.root_token)
    assert_error(r, 400)


VERBS_405 = [
    ("DELETE", "/v1/sys/health"),
    ("PUT", "/v1/sys/health"),
    ("POST", "/v1/sys/seal-status"),
    ("DELETE", "/v1/sys/seal-status"),
    ("DELETE", "/v1/sys/leader"),
    ("PUT", "/v1/sys/leader"),
    ("DELETE", "/v1/sys/init"),
    ("GET", "/v1/sys/seal"),
    ("GET", "/v1/sys/unseal"),
    ("GET", "/v1/sys/rotate"),
    ("DELETE", "/v1/sys/key-status"),
    ("PUT", "/v1/sys/key-status"),
    ("BREW", "/v1/sys/key-status"),
    ("BREW", "/v1/sys/health"),
]


@pytest.mark.parametrize("method,path", VERBS_405)
def test_unsupported_verb_is_405(dev_server, method, path):
    term_before = dev_server.get("/v1/sys/key-status", token=dev_server.root_token).json()["data"]["term"]
    r = dev_server.request(method, path, token=dev_server.root_token)
    assert_error(r, 405)
    assert dev_server.seal_status()["sealed"] is False
    term_after = dev_server.get("/v1/sys/key-status", token=dev_server.root_token).json()["data"]["term"]
    assert term_after == term_before


def test_post_is_put(dev_server):
    r = dev_server.request("POST", "/v1/sys/rotate", token=dev_server.root_token)
    assert r.status_code == 204, r.text


# -- body size -------------------------------------------------------------------------------

def test_body_over_default_limit_is_413(dev_server):
    host, port = dev_server.host_port
    raw = send_big_body(host, port, "/v1/sys/unseal", DEFAULT_MAX_REQUEST_SIZE + 1, timeout=60)
    assert status_of(raw) == 413, raw[:300]
    assert dev_server.get("/v1/sys/health").status_code == 200


def test_body_over_configured_limit_is_413(config_server):
    srv = config_server(listener_extra="max_request_size = 1024")
    host, port = srv.host_port
    head = f"PUT /v1/sys/init HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    # Just under the limit: parsed normally (400 for the bad field, not 413).
    small = b'{"secret_shares": "x", "pad": "' + b"a" * 900 + b'"}'
    raw, _ = raw_http(host, port, (head + f"Content-Length: {len(small)}\r\nConnection: close\r\n\r\n").encode()
                      + small)
    assert status_of(raw) == 400, raw[:300]
    # Over it, with Content-Length.
    big = b'{"pad": "' + b"a" * 4000 + b'"}'
    raw, _ = raw_http(host, port, (head + f"Content-Length: {len(big)}\r\nConnection: close\r\n\r\n").encode()
                      + big)
    assert status_of(raw) == 413, raw[:300]
    # The listener refuses the body before reading it and closes the
    # connection after its JSON answer (docs/architecture.md).
    assert b"connection: close" in raw.lower()
    assert b'{"errors":["request body is larger than max_request_size (1024 bytes)"]}' in raw
    # Over it, chunked (no length known in advance).
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in [big[i:i + 500] for i in range(0, len(big), 500)])
    raw, _ = raw_http(host, port, (head + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
                      + chunked + b"0\r\n\r\n")
    assert status_of(raw) == 413, raw[:300]
    raw = send_big_body(host, port, "/v1/sys/init", 1 << 20, timeout=30)
    assert status_of(raw) == 413, raw[:300]
    assert srv.get("/v1/sys/init").json() == {"initialized": False}


# -- slow, garbage and hostile clients -----------------------------------------------------

@pytest.mark.time_limit(HEADER_TIMEOUT_S * 3 + 30)
def test_slow_headers_client_is_disconnected(dev_server):
    """Assumes the listener drops a connection whose request head is not
    complete after HEADER_TIMEOUT_S seconds (the default)."""
    host, port = dev_server.host_port
    partials = [b"GET /v1/sys/hea", b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-Slow: 1"]
    socks = []
    for p in partials:
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(p)
        socks.append(s)
    t0 = time.monotonic()
    # Other clients are served meanwhile.
    assert dev_server.get("/v1/sys/health").status_code == 200
    closed_after = []
    for s in socks:
        s.settimeout(max(0.1, HEADER_TIMEOUT_S + 5 - (time.monotonic() - t0)))
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
        except ConnectionResetError:
            pass
        except socket.timeout:
            pytest.fail(f"connection with an incomplete request head still open after {HEADER_TIMEOUT_S + 5}s")
        finally:
            s.close()
        closed_after.append(time.monotonic() - t0)
    assert max(closed_after) <= HEADER_TIMEOUT_S + 5
    assert dev_server.get("/v1/sys/health").status_code == 200


GARBAGE = [
    b"\x00\x01\x02\x03" * 64 + b"\r\n\r\n",
    b"HELLO\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /v1/sys/health HTTP/9.9\r\n\r\n",
    b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    b"PUT /v1/sys/unseal HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"GET /v1/sys/%zz%00%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /v1/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /v1/sys/health?activecode=99999999999999999999 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /v1/sys/health?activecode=-1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /v1/sys/health?%%%=%%% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
]


@pytest.mark.parametrize("payload", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_requests_do_not_hurt(dev_server, payload):
    host, port = dev_server.host_port
    try:
        raw, _ = raw_http(host, port, payload, timeout=HEADER_TIMEOUT_S + 5)
    except (ConnectionResetError, BrokenPipeError):
        raw = b""
    code = status_of(raw)
    assert code is None or 400 <= code < 600 or code == 200, raw[:200]
    if code is not None and code >= 500:
        assert code in (501, 503, 505), raw[:300]
    assert dev_server.get("/v1/sys/health").status_code == 200


BIG_HEADS = [
    b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
    b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    + b"".join(b"X-H%d: v\r\n" % i for i in range(2000)) + b"\r\n",
    b"GET /v1/" + b"a/" * 50_000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
]


@pytest.mark.parametrize("payload", BIG_HEADS, ids=["200KB-header", "2000-headers", "100KB-path"])
def test_oversized_request_head_is_refused(dev_server, payload):
    """Header size and count are capped: a request head far beyond any
    sane size (here > 64 KiB or 2000 fields) is refused, not served."""
    host, port = dev_server.host_port
    try:
        raw, _ = raw_http(host, port, payload, timeout=HEADER_TIMEOUT_S + 5)
    except (ConnectionResetError, BrokenPipeError):
        raw = b""
    code = status_of(raw)
    assert code is None or code in (400, 413, 414, 431), raw[:300]
    assert dev_server.get("/v1/sys/health").status_code == 200


def test_many_concurrent_clients(dev_server):
    import requests

    errors = []

    def worker():
        with requests.Session() as s:
            for _ in range(25):
                try:
                    r = s.get(dev_server.url + "/v1/sys/health", timeout=10)
                    if r.status_code != 200:
                        errors.append(r.status_code)
                except requests.RequestException as e:
                    errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]


def test_keep_alive(dev_server):
    import requests

    with requests.Session() as s:
        for _ in range(20):
            r = s.get(dev_server.url + "/v1/sys/seal-status", timeout=10)
            assert r.status_code == 200
            assert_json_headers(r)


def test_second_server_on_a_taken_address_refuses_to_start(dev_server):
    # Each event loop has its own SO_REUSEPORT socket; a second process on
    # the same address must not silently share the port with the first.
    host, port = dev_server.host_port
    p = subprocess.run([TROVE_BIN, "server", "-dev", f"-dev-listen-address={host}:{port}"],
                       capture_output=True, text=True, timeout=20, env=sanitizer_env())
    assert p.returncode != 0
    assert "Address already in use" in p.stderr + p.stdout
    assert dev_server.get("/v1/sys/health").status_code == 200
