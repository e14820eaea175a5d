"""A TLS listener that requires and verifies client certificates."""

import ssl
import socket

import pytest
import requests

from trove_harness import HTTP_TIMEOUT


def test_tls_with_client_certificate(tls_server):
    srv = tls_server
    client = srv.client()
    assert client.sys.is_initialized() is False
    result = client.sys.initialize(3, 2)
    client.token = result["root_token"]
    assert client.sys.submit_unseal_keys(result["keys"][:2])["sealed"] is False
    assert client.sys.read_health_status(method="GET")["sealed"] is False
    assert client.sys.get_encryption_key_status()["data"]["term"] >= 1


def _refused(srv, **kw):
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        r = requests.get(srv.url + "/v1/sys/health", timeout=HTTP_TIMEOUT, **kw)
        pytest.fail(f"request was answered: {r.status_code} {r.text[:200]}")


def test_tls_without_client_certificate_is_refused(tls_server):
    _refused(tls_server, verify=str(tls_server.tls.ca_cert))
    assert tls_server.get("/v1/sys/health").status_code == 501


def test_tls_with_untrusted_client_certificate_is_refused(tls_server):
    _refused(tls_server, verify=str(tls_server.tls.ca_cert), cert=tls_server.tls.rogue_pair)
    assert tls_server.get("/v1/sys/health").status_code == 501


def test_tls_server_certificate_verifies(tls_server):
    # Hostname 127.0.0.1 checked against the certificate's IP SAN.
    ctx = ssl.create_default_context(cafile=str(tls_server.tls.ca_cert))
    ctx.load_cert_chain(*tls_server.tls.client_pair)
    host, port = tls_server.host_port
    with socket.create_connection((host, port), timeout=HTTP_TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert s.version() in ("TLSv1.2", "TLSv1.3")
            s.sendall(f"GET /v1/sys/health HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    assert data.startswith(b"HTTP/1.1 501"), data[:200]


def test_plain_http_on_tls_port_gets_nothing_useful(tls_server):
    host, port = tls_server.host_port
    try:
        r = requests.get(f"http://{host}:{port}/v1/sys/health", timeout=HTTP_TIMEOUT)
    except requests.exceptions.ConnectionError:
        pass
    else:
        assert r.status_code >= 400
    assert tls_server.get("/v1/sys/health").status_code == 501


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_old_tls_versions_refused(tls_server):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(tls_server.tls.ca_cert))
    ctx.load_cert_chain(*tls_server.tls.client_pair)
    try:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, AttributeError):
        pytest.skip("this OpenSSL cannot offer TLS 1.1")
    host, port = tls_server.host_port
    with socket.create_connection((host, port), timeout=HTTP_TIMEOUT) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n")
                s.recv(1)
