"""GET/HEAD /v1/sys/health: status codes for each server state, every query
parameter, and no body on HEAD."""

import pytest

from trove_harness import assert_error, assert_json_headers, raw_http, split_response, status_of

HEALTH_KEYS = {"initialized", "sealed", "standby", "performance_standby", "replication_performance_mode",
               "replication_dr_mode", "server_time_utc", "version"}
CODE_PARAMS = ["activecode", "standbycode", "drsecondarycode", "performancestandbycode", "sealedcode",
               "uninitcode"]


def test_active_health_via_hvac(dev_server):
    client = dev_server.client()
    body = client.sys.read_health_status(method="GET")
    assert isinstance(body, dict), body
    assert HEALTH_KEYS <= body.keys(), body
    assert (body["initialized"], body["sealed"], body["standby"], body["performance_standby"]) == (
        True, False, False, False)
    assert body["replication_performance_mode"] == "disabled"
    assert body["replication_dr_mode"] == "disabled"
    assert isinstance(body["server_time_utc"], int) and body["server_time_utc"] > 1_600_000_000
    resp = client.sys.read_health_status()  # HEAD by default
    assert resp.status_code == 200


def test_health_headers_and_no_token_needed(dev_server):
    r = dev_server.get("/v1/sys/health")
    assert r.status_code == 200
    assert_json_headers(r)


@pytest.mark.parametrize(
    "params,want",
    [
        ({"activecode": "299"}, 299),
        ({"activecode": "204"}, 204),
        ({"standbycode": "299"}, 200),
        ({"drsecondarycode": "299"}, 200),
        ({"performancestandbycode": "299"}, 200),
        ({"sealedcode": "299"}, 200),
        ({"uninitcode": "299"}, 200),
        ({"standbyok": "true"}, 200),
        ({"standbyok": "false"}, 200),
        ({"perfstandbyok": "true"}, 200),
        ({"standbyok": "true", "activecode": "298", "sealedcode": "299"}, 298),
    ],
)
def test_active_code_parameters(dev_server, params, want):
    r = dev_server.get("/v1/sys/health", params=params)
    assert r.status_code == want, r.text
    if want != 204:
        assert r.json()["initialized"] is True


@pytest.mark.parametrize("param", CODE_PARAMS)
def test_non_integer_code_is_400(dev_server, param):
    for value in ("abc", "2x0", "", "1.5", "0x1f"):
        r = dev_server.get("/v1/sys/health", params={param: value})
        assert r.status_code == 400, f"{param}={value!r}: {r.status_code} {r.text}"
        assert_error(r, 400)


def test_non_bool_standbyok_is_400(dev_server):
    assert_error(dev_server.get("/v1/sys/health", params={"standbyok": "maybe"}), 400)


def test_uninitialised_and_sealed_codes(config_server):
    srv = config_server()
    r = srv.get("/v1/sys/health")
    assert r.status_code == 501
    assert_json_headers(r)
    assert r.json()["initialized"] is False
    assert srv.get("/v1/sys/health", params={"uninitcode": "299"}).status_code == 299
    # Not initialised wins over sealed.
    assert srv.get("/v1/sys/health", params={"sealedcode": "299"}).status_code == 501
    resp = srv.client().sys.read_health_status(method="GET")
    assert resp.status_code == 501

    srv.init(3, 2)
    r = srv.get("/v1/sys/health")
    assert r.status_code == 503
    assert_json_headers(r)
    assert (r.json()["initialized"], r.json()["sealed"]) == (True, True)
    assert srv.get("/v1/sys/health", params={"sealedcode": "299"}).status_code == 299
    assert srv.get("/v1/sys/health", params={"activecode": "299"}).status_code == 503

    srv.unseal()
    assert srv.get("/v1/sys/health").status_code == 200
    assert srv.get("/v1/sys/health", params={"sealedcode": "299"}).status_code == 200


def _head(srv, query=""):
    host, port = srv.host_port
    req = (f"HEAD /v1/sys/health{query} HTTP/1.1\r\nHost: {host}:{port}\r\n"
           "Connection: close\r\n\r\n").encode()
    raw, _ = raw_http(host, port, req, timeout=5)
    head, body = split_response(raw)
    return status_of(raw), head, body


def test_head_has_no_body(dev_server, config_server):
    code, head, body = _head(dev_server)
    assert code == 200 and body == b"", (head, body)
    assert b"cache-control: no-store" in head.lower()
    code, _, body = _head(dev_server, "?activecode=299")
    assert code == 299 and body == b""
    srv = config_server()
    code, _, body = _head(srv)
    assert code == 501 and body == b""
    srv.init(1, 1)
    code, _, body = _head(srv)
    assert code == 503 and body == b""
