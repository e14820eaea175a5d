"""Request forwarding: a standby sends what it does not serve itself to the
active node over cluster_addr (mutual TLS with the cluster's certificate)
and relays the answer, as Vault's standbys do.

Covered here, on three nodes over one PostgreSQL (one active, a plain
standby, a standby that serves reads): writes sent to either standby are
forwarded and acknowledged with X-Vault-Index, visible on the active;
hvac and the trove CLI write through a standby; the active's audit log
records the client's address, not the standby's, and a client cannot
forge it on the API listener; X-Vault-No-Request-Forwarding gets the
307; X-Vault-Inconsistent: forward-active-node gets the value where the
standby has not reached the index, `fail` the 412; the cluster listener
refuses TLS clients without the cluster certificate or with another
self-signed one; a forwarded request on a node that is not active is
refused (and the standby then redirects); a sealed standby answers 503
sealed; with the active killed the standby answers 307/503 at once."""

import base64
import datetime
import json
import socket
import ssl
import subprocess
import threading
import time

import pytest
import requests

from ha_cluster import ha_cluster
from pg_server import pg_server, running_server  # noqa: F401  (the fixture)
from trove_harness import run_cli

TABLE = "t_ha_fwd"


def node_hcl(url, port, cluster_port, audit_dir, perf=False):
    return (f'storage "postgresql" {{\n  connection_url = "{url}"\n  table = "{TABLE}"\n'
            f'  ha_enabled = true\n  ha_table = "{TABLE}_ha"\n}}\n\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n}}\n\n'
            f'api_addr = "http://127.0.0.1:{port}"\ncluster_addr = "https://127.0.0.1:{cluster_port}"\n'
            f'audit_file_dirs = ["{audit_dir}"]\n'
            f"disable_performance_standby = {'false' if perf else 'true'}\n"
            "disable_mlock = true\n")


def index_of(resp):
    plain = base64.b64decode(resp.headers["X-Vault-Index"]).decode()
    magic, table, idx = plain.split(":")
    assert (magic, table) == ("trove1", TABLE), plain
    return int(idx)


def header_for(idx):
    return base64.b64encode(f"trove1:{TABLE}:{idx}".encode()).decode()


@pytest.fixture(scope="module")
def cluster(pg_server, tmp_path_factory):
    """Node 0 made active first (it alone is unsealed until it holds the
    lock, with the mounts and a file audit device); then node 1, a plain
    standby, and node 2, a standby that serves reads."""
    d = tmp_path_factory.mktemp("ha_fwd")

    def config(i, port, cluster_port):
        return node_hcl(pg_server.url(), port, cluster_port, d, perf=(i == 2))

    def setup(c):
        h = c.nodes[0].client(c.token)
        h.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
        h.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
        h.sys.enable_audit_device("file", path="file", options={"file_path": str(d / "audit.log")})

    with ha_cluster(d, config, setup=setup) as c:
        c.audit_log = d / "audit.log"
        c.dir = d
        assert c.active() is c.nodes[0]
        yield c


def test_writes_on_standbys_are_forwarded_with_their_index(cluster):
    a, plain, perf = cluster.nodes
    for s, name in ((plain, "plain"), (perf, "perf")):
        r = s.request("POST", f"/v1/kv/data/fwd-{name}", token=cluster.token, json={"data": {"v": name}})
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.json()["data"]["version"] == 1
        assert index_of(r) > 0
        assert r.headers["Content-Type"] == "application/json"
        assert "Location" not in r.headers and "x-trove-cluster" not in r.headers
        got = a.request("GET", f"/v1/kv/data/fwd-{name}", token=cluster.token,
                        headers={"X-Vault-Index": r.headers["X-Vault-Index"]})
        assert got.status_code == 200 and got.json()["data"]["data"] == {"v": name}, got.text
    # a read on the plain standby is forwarded too, a 204 and a 404 relayed as they are
    r = plain.request("GET", "/v1/kv/data/fwd-perf", token=cluster.token)
    assert r.status_code == 200 and r.json()["data"]["data"] == {"v": "perf"}
    r = plain.request("POST", "/v1/kv1/plain", token=cluster.token, json={"x": 1})
    assert r.status_code == 204 and r.content == b"" and index_of(r) > 0
    r = plain.request("GET", "/v1/kv1/nothing-here", token=cluster.token)
    assert r.status_code == 404 and r.json() == {"errors": []}
    r = plain.request("GET", "/v1/kv1/plain", token="not-a-token")
    assert r.status_code == 403, r.text
    # HEAD, LIST and a query string travel unchanged
    r = plain.request("LIST", "/v1/kv1/", token=cluster.token)
    assert r.status_code == 200 and "plain" in r.json()["data"]["keys"]
    r = plain.request("GET", "/v1/kv1/?list=true", token=cluster.token)
    assert r.status_code == 200 and "plain" in r.json()["data"]["keys"]


def test_hvac_and_the_cli_write_through_a_standby(cluster):
    a, plain, perf = cluster.nodes
    for s in (plain, perf):
        cl = s.client(cluster.token)
        cl.secrets.kv.v2.create_or_update_secret(f"hvac/{s.host_port[1]}", secret={"n": 1}, mount_point="kv")
        assert cl.secrets.kv.v2.read_secret_version(f"hvac/{s.host_port[1]}", mount_point="kv")["data"]["data"] == {
            "n": 1}
        p = run_cli(["kv", "put", "kv/cli", f"from={s.host_port[1]}"],
                    env={"VAULT_ADDR": s.url, "VAULT_TOKEN": cluster.token})
        assert p.returncode == 0, p.stderr
        got = a.client(cluster.token).secrets.kv.v2.read_secret_version("cli", mount_point="kv")
        assert got["data"]["data"] == {"from": str(s.host_port[1])}
    # a login through a standby: forwarded, its token usable everywhere
    ac = a.client(cluster.token)
    ac.sys.enable_auth_method("userpass")
    ac.write("auth/userpass/users/fwd", password="pw-fwd", policies="default")
    r = plain.request("POST", "/v1/auth/userpass/login/fwd", json={"password": "pw-fwd"})
    assert r.status_code == 200, r.text
    tok = r.json()["auth"]["client_token"]
    assert a.get("/v1/auth/token/lookup-self", token=tok).status_code == 200


def audit_entries(path):
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def test_the_active_audits_the_clients_address(cluster):
    a, plain, _ = cluster.nodes
    # the client connects from 127.0.0.2: only the forwarded header can tell the active
    s = socket.create_connection(("127.0.0.1", plain.host_port[1]), source_address=("127.0.0.2", 0))
    body = b'{"data":{"who":"me"}}'
    s.sendall(b"POST /v1/kv/data/audited HTTP/1.1\r\nHost: x\r\nX-Vault-Token: " + cluster.token.encode() +
              b"\r\nX-Trove-Forwarded-For: 10.9.9.9:1\r\nX-Forwarded-For: 10.8.8.8\r\n"
              b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() +
              b"\r\nConnection: close\r\n\r\n" + body)
    raw = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        raw += chunk
    s.close()
    assert raw.startswith(b"HTTP/1.1 200"), raw[:200]
    deadline = time.monotonic() + 5
    while True:
        hits = [e for e in audit_entries(cluster.audit_log)
                if e["type"] == "request" and e["request"]["path"] == "kv/data/audited"]
        if hits or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(hits) == 1, hits
    assert hits[0]["request"]["remote_address"] == "127.0.0.2"
    # a client's own header on the API listener is not believed either
    r = requests.post(f"{a.url}/v1/kv/data/audited2", json={"data": {}}, timeout=10,
                      headers={"X-Vault-Token": cluster.token, "X-Trove-Forwarded-For": "10.9.9.9:1"})
    assert r.status_code == 200
    hits = [e for e in audit_entries(cluster.audit_log)
            if e["type"] == "request" and e["request"]["path"] == "kv/data/audited2"]
    assert hits and hits[0]["request"]["remote_address"] == "127.0.0.1"


def test_no_request_forwarding_gets_the_redirect(cluster):
    a, plain, perf = cluster.nodes
    for s in (plain, perf):
        r = s.request("POST", "/v1/kv/data/redir", token=cluster.token, json={"data": {"v": 1}},
                      headers={"X-Vault-No-Request-Forwarding": "true"})
        assert r.status_code == 307, r.text
        assert r.headers["Location"] == a.url + "/v1/kv/data/redir"
    # an empty value asks nothing (Vault: any non-empty value)
    r = plain.request("POST", "/v1/kv/data/redir", token=cluster.token, json={"data": {"v": 2}},
                      headers={"X-Vault-No-Request-Forwarding": ""})
    assert r.status_code == 200, r.text


def test_inconsistent_forward_active_node(cluster):
    a, _, perf = cluster.nodes
    w = a.request("POST", "/v1/kv/data/incons", token=cluster.token, json={"data": {"v": 7}})
    assert w.status_code == 200
    ahead = header_for(index_of(w) + 1000)  # an index no node has reached
    r = perf.request("GET", "/v1/kv/data/incons", token=cluster.token,
                     headers={"X-Vault-Index": ahead, "X-Vault-Inconsistent": "forward-active-node"})
    # the active waits for the index too, and answers 412 when it lacks it
    # (that the standby sends it on at once rather than waiting itself is
    # shown where the active cannot be reached: see the lock-row test)
    assert r.status_code == 412, r.text
    t0 = time.monotonic()
    r = perf.request("GET", "/v1/kv/data/incons", token=cluster.token,
                     headers={"X-Vault-Index": ahead, "X-Vault-Inconsistent": "fail"})
    assert r.status_code == 412 and time.monotonic() - t0 >= 1.5, r.text
    # an index the active has, forwarded: the value
    r = perf.request("GET", "/v1/kv/data/incons", token=cluster.token,
                     headers={"X-Vault-Index": w.headers["X-Vault-Index"],
                              "X-Vault-Inconsistent": "forward-active-node"})
    assert r.status_code == 200 and r.json()["data"]["data"] == {"v": 7}, r.text


def tls_client(port, cert=None, key=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw)
    s.sendall(b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return s.recv(4096)


def test_the_cluster_listener_wants_the_cluster_certificate(cluster):
    a = cluster.nodes[0]
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        got = tls_client(a.cluster_port)
        assert not got.startswith(b"HTTP"), got
        raise ConnectionError("closed")
    d = cluster.dir
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(d / "rogue.key"), "-out", str(d / "rogue.crt"), "-subj", "/CN=trove-cluster",
                    "-days", "1"], check=True, capture_output=True)
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        got = tls_client(a.cluster_port, d / "rogue.crt", d / "rogue.key")
        assert not got.startswith(b"HTTP"), got
        raise ConnectionError("closed")


def test_step_down_through_a_standby_moves_forwarding_along(cluster):
    a, plain, _ = cluster.nodes
    r = plain.request("PUT", "/v1/sys/step-down", token=cluster.token)
    assert r.status_code == 204, r.text
    new = cluster.active(timeout=10, exclude=(a.url,))
    deadline = time.monotonic() + 5
    for s in cluster.standbys(new):
        while True:
            r = s.request("POST", "/v1/kv/data/after-step-down", token=cluster.token, json={"data": {"v": 1}})
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert r.status_code == 200, r.text
    r = new.request("GET", "/v1/kv/data/after-step-down", token=cluster.token)
    assert r.status_code == 200 and r.json()["data"]["data"] == {"v": 1}


def test_a_forwarded_request_on_a_node_not_active_is_refused(cluster, pg_server):
    """The lock row is made to name a standby's cluster listener (and a
    dead api_addr): every node forwards there, that standby refuses
    (it is not active), and each answers its client with the 307 rather
    than serving, looping or hanging."""
    active = cluster.active()
    target = cluster.standbys(active)[0]
    w = active.request("POST", "/v1/kv/data/pre-intruder", token=cluster.token, json={"data": {"v": 7}})
    assert w.status_code == 200, w.text
    pg_server.sql(f"UPDATE {TABLE}_ha SET node_id = 'intruder', epoch = epoch + 1, api_addr = 'http://127.0.0.1:9',"
                  f" cluster_addr = 'https://127.0.0.1:{target.cluster_port}',"
                  f" valid_until = clock_timestamp() + interval '1 hour' WHERE ha_key = '{TABLE}'")
    try:
        deadline = time.monotonic() + 5
        for n in cluster.nodes:
            while n.get("/v1/sys/leader").json()["leader_address"] != "http://127.0.0.1:9":
                assert time.monotonic() < deadline, "the nodes did not see the new holder"
                time.sleep(0.05)
        for n in cluster.nodes:  # the target forwards to itself: refused too
            t0 = time.monotonic()
            r = n.request("POST", "/v1/kv/data/loop", token=cluster.token, json={"data": {"v": 1}})
            assert r.status_code == 307, (n.url, r.status_code, r.text)
            assert r.headers["Location"] == "http://127.0.0.1:9/v1/kv/data/loop"
            assert time.monotonic() - t0 < 2
        # the standby that serves reads still answers a pure read itself; an
        # index it has not reached with forward-active-node goes on to the
        # (unreachable) active at once, with `fail` it waits and says 412
        perf = cluster.nodes[2]
        r = perf.request("GET", "/v1/kv/data/pre-intruder", token=cluster.token,
                         headers={"X-Vault-Index": w.headers["X-Vault-Index"]})
        assert r.status_code == 200 and r.json()["data"]["data"] == {"v": 7}, r.text
        ahead = header_for(index_of(r) + 1000)
        t0 = time.monotonic()
        r = perf.request("GET", "/v1/kv/data/pre-intruder", token=cluster.token,
                         headers={"X-Vault-Index": ahead, "X-Vault-Inconsistent": "forward-active-node"})
        assert r.status_code == 307 and time.monotonic() - t0 < 1.0, (r.status_code, r.text)
        assert r.headers["Location"] == "http://127.0.0.1:9/v1/kv/data/pre-intruder"
        r = perf.request("GET", "/v1/kv/data/pre-intruder", token=cluster.token,
                         headers={"X-Vault-Index": ahead, "X-Vault-Inconsistent": "fail"})
        assert r.status_code == 412 and time.monotonic() - t0 >= 1.5, (r.status_code, r.text)
    finally:
        pg_server.sql(f"UPDATE {TABLE}_ha SET valid_until = '-infinity' WHERE ha_key = '{TABLE}'")
    new = cluster.active(timeout=10)
    assert new.request("GET", "/v1/kv/data/loop", token=cluster.token).status_code == 404


def test_a_sealed_standby_answers_sealed(cluster):
    new = cluster.active()
    s = cluster.standbys(new)[0]
    assert s.put("/v1/sys/seal", token=cluster.token).status_code == 204
    r = s.request("POST", "/v1/kv/data/sealed", token=cluster.token, json={"data": {"v": 1}})
    assert r.status_code == 503 and "sealed" in r.text, r.text
    s.unseal(cluster.keys)


def test_the_active_killed_the_standby_answers_at_once(cluster):
    active = cluster.active()
    standbys = cluster.standbys(active)
    # keep-alive connections to the active exist in the standbys' pools
    # (the test's own key: with tests spread over workers, another test's
    # may not exist in this cluster)
    warm = active.request("POST", "/v1/kv/data/warm", token=cluster.token, json={"data": {"v": 1}})
    assert warm.status_code == 200, warm.text
    for s in standbys:
        r = s.request("GET", "/v1/kv/data/warm", token=cluster.token,
                      headers={"X-Vault-Index": warm.headers["X-Vault-Index"]})
        assert r.status_code == 200, r.text
    # a write in flight on the active when it dies (held there waiting for an
    # index): the standby says 503, it cannot know whether it was served
    w = standbys[0].request("POST", "/v1/kv/data/mid", token=cluster.token, json={"data": {"v": 0}})
    assert w.status_code == 200, w.text
    held = {}

    def write():
        t0 = time.monotonic()
        held["r"] = standbys[0].request("POST", "/v1/kv/data/mid", token=cluster.token, json={"data": {"v": 1}},
                                        headers={"X-Vault-Index": header_for(index_of(w) + 1000)}, timeout=30)
        held["took"] = time.monotonic() - t0

    t = threading.Thread(target=write)
    t.start()
    time.sleep(0.7)
    assert t.is_alive(), "the write was not held on the active"
    active.proc.kill9()
    t.join(30)
    assert held["r"].status_code == 503, (held["r"].status_code, held["r"].text)
    assert "request forwarding to the active node failed" in held["r"].text
    assert held["took"] < 2.0, held["took"]
    for s in standbys:
        t0 = time.monotonic()
        r = s.request("POST", "/v1/kv/data/killed", token=cluster.token, json={"data": {"v": 1}}, timeout=30)
        took = time.monotonic() - t0
        assert r.status_code in (307, 503), (r.status_code, r.text)
        assert took < 3.0, f"{took:.2f}s"
        if r.status_code == 307:
            assert r.headers["Location"] == active.url + "/v1/kv/data/killed"
    new = cluster.active(timeout=10)
    r = cluster.standbys(new)[0].request("POST", "/v1/kv/data/killed", token=cluster.token,
                                         json={"data": {"v": 2}})
    assert r.status_code == 200, r.text
    active.proc.start()
    active.unseal(cluster.keys)
