"""Several Trove nodes over one PostgreSQL: what a node must do so that the
others, and its own event loops, stay right.

Covered here: three HA nodes on one table (each unsealed with the same
keys; standbys serving reads) see each other's writes through
LISTEN/NOTIFY invalidation; X-Vault-Index
on every response, read-your-writes with it on another node, 412 for an
index never reached, 400 for a malformed one; a policy change and a token
revocation on one node enforced by the others at once; a node whose
listening connection is terminated invalidates everything and stays
right; hvac against each node; reads on postgresql storage run off the
event loop (a frozen database does not stall sys/health). With
ha_enabled and disable_performance_standby = false: standbys answer pure reads themselves (473 on sys/health,
performance_standby in sys/leader), redirect writes and reads that write,
and read-your-writes holds across the active and its standbys."""

import base64
import signal
import threading
import time

import pytest
import requests

from ha_cluster import ha_cluster
from pg_server import pg_server, running_server  # noqa: F401  (the fixture)
from test_storage_postgresql import pg_hcl, pg_trove, signal_postgres  # noqa: F401  (the fixture)
from trove_harness import TROVE_BIN, Server, TroveProcess, free_port

TABLE = "t_ha_reads"


def index_of(resp):
    """The index inside an X-Vault-Index value (Trove's own format)."""
    plain = base64.b64decode(resp.headers["X-Vault-Index"]).decode()
    magic, table, idx = plain.split(":")
    assert (magic, table) == ("trove1", TABLE), plain
    return int(idx)


def header_for(idx, table=TABLE):
    return base64.b64encode(f"trove1:{table}:{idx}".encode()).decode()


@pytest.fixture(scope="module")
def nodes(pg_server, tmp_path_factory):
    """Three HA nodes on one table (commits are numbered and notified only
    with ha_enabled), standbys serving reads; the first initialised and
    active, the others unsealed with its keys after the mounts are made."""
    from test_ha import ha_hcl

    def config(i, port, cluster_port):
        return ha_hcl(pg_server.url(), port, TABLE, cluster_port) + "disable_performance_standby = false\n"

    def setup(c):
        h = c.nodes[0].client(c.token)
        h.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
        h.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
        # read by several tests: made here, since the module's tests may be
        # spread over workers (each with its own cluster)
        h.secrets.kv.v1.create_or_update_secret("idx", secret={"v": 0}, mount_point="kv1")

    with ha_cluster(tmp_path_factory.mktemp("ha_reads"), config, setup=setup) as c:
        yield c.nodes


def wait_for(fn, bound, what):
    deadline = time.monotonic() + bound
    while True:
        got = fn()
        if got or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert got, f"{what} not within {bound}s"


def test_every_response_carries_the_index_and_writes_raise_it(nodes):
    a = nodes[0]
    r1 = a.request("POST", "/v1/kv1/idx", token=a.root_token, json={"v": 1})
    assert r1.status_code == 204, r1.text
    r2 = a.request("POST", "/v1/kv1/idx", token=a.root_token, json={"v": 2})
    assert index_of(r2) > index_of(r1) > 0
    for n in nodes:
        for path in ("/v1/sys/health?perfstandbyok=true", "/v1/kv1/idx"):
            r = n.request("GET", path, token=a.root_token)
            assert r.status_code == 200, r.text
            assert index_of(r) >= 0


def test_read_your_writes_on_every_node(nodes):
    """KV v2 keeps metadata cached per node: without invalidation a node
    that read version 1 would go on answering it."""
    a = nodes[0]
    for n in nodes:
        r = n.request("GET", "/v1/kv/data/ryw", token=a.root_token)
        assert r.status_code == 404, r.text
    w = a.request("POST", "/v1/kv/data/ryw", token=a.root_token, json={"data": {"v": 1}})
    assert w.status_code == 200, w.text
    for n in nodes:
        r = n.request("GET", "/v1/kv/data/ryw", token=a.root_token,
                      headers={"X-Vault-Index": w.headers["X-Vault-Index"]})
        assert r.status_code == 200 and r.json()["data"]["data"] == {"v": 1}, r.text
    for round_ in range(2, 6):
        w = a.request("POST", "/v1/kv/data/ryw", token=a.root_token, json={"data": {"v": round_}})
        assert w.status_code == 200, w.text
        for n in nodes[1:]:
            r = n.request("GET", "/v1/kv/data/ryw", token=a.root_token,
                          headers={"X-Vault-Index": w.headers["X-Vault-Index"]})
            assert r.status_code == 200, r.text
            assert r.json()["data"]["data"] == {"v": round_}
            assert r.json()["data"]["metadata"]["version"] == round_
            assert index_of(r) >= index_of(w)
    # without the header: eventually, within a bound
    w = a.request("POST", "/v1/kv/data/ryw", token=a.root_token, json={"data": {"v": "last"}})
    for n in nodes[1:]:
        wait_for(lambda: n.request("GET", "/v1/kv/data/ryw", token=a.root_token).json()["data"]["data"]
                 == {"v": "last"}, 2, "the new value")


def test_write_on_another_node_is_acknowledged_with_an_index(nodes):
    a, b = nodes[0], nodes[1]
    # b, a standby, sends the write to the active node
    w = b.request("POST", "/v1/kv1/from-b", token=a.root_token, json={"v": "b"}, allow_redirects=True)
    assert w.status_code == 204, w.text
    r = a.request("GET", "/v1/kv1/from-b", token=a.root_token, headers={"X-Vault-Index": w.headers["X-Vault-Index"]})
    assert r.status_code == 200 and r.json()["data"] == {"v": "b"}


def test_index_never_reached_is_412_and_malformed_is_400(nodes):
    b = nodes[1]
    ahead = index_of(b.get("/v1/sys/health")) + 1_000_000
    t0 = time.monotonic()
    r = b.request("GET", "/v1/kv1/idx", token=b.root_token, headers={"X-Vault-Index": header_for(ahead)})
    took = time.monotonic() - t0
    assert r.status_code == 412, r.text
    assert "required index state not present" in r.text
    assert 1.5 <= took < 6, took
    # another cluster's index says nothing about this one
    r = b.request("GET", "/v1/kv1/idx", token=b.root_token,
                  headers={"X-Vault-Index": header_for(ahead, "other_table")})
    assert r.status_code == 200, r.text
    for bad in ("not base64!", base64.b64encode(b"vault:x:1").decode(), header_for("12x"),
                base64.b64encode(b"trove1:" + TABLE.encode() + b":").decode()):
        r = b.request("GET", "/v1/kv1/idx", token=b.root_token, headers={"X-Vault-Index": bad})
        assert r.status_code == 400, (bad, r.text)
        assert "X-Vault-Index" in r.text


def policy_token(a, name, rules):
    c = a.client(a.root_token)
    c.sys.create_or_update_policy(name, rules)
    return c.auth.token.create(policies=[name], ttl="1h")["auth"]["client_token"]


def test_policy_change_enforced_on_other_nodes_at_once(nodes):
    a = nodes[0]
    a.request("POST", "/v1/kv1/pol", token=a.root_token, json={"v": 1})
    tok = policy_token(a, "ha-reads-pol", 'path "kv1/pol" { capabilities = ["read"] }')
    for n in nodes:  # each node parses and caches the policy
        assert n.request("GET", "/v1/kv1/pol", token=tok).status_code == 200
    w = a.request("POST", "/v1/sys/policy/ha-reads-pol", token=a.root_token,
                  json={"policy": 'path "kv1/other" { capabilities = ["read"] }'})
    assert w.status_code == 204, w.text
    for n in nodes:
        r = n.request("GET", "/v1/kv1/pol", token=tok, headers={"X-Vault-Index": w.headers["X-Vault-Index"]})
        assert r.status_code == 403, (n.url, r.text)


def test_revoked_token_refused_on_other_nodes(nodes):
    a = nodes[0]
    tok = policy_token(a, "ha-reads-rev", 'path "kv1/*" { capabilities = ["read"] }')
    for n in nodes:  # each node caches the token
        assert n.request("GET", "/v1/auth/token/lookup-self", token=tok).status_code == 200
    w = a.request("POST", "/v1/auth/token/revoke", token=a.root_token, json={"token": tok})
    assert w.status_code == 204, w.text
    for n in nodes:
        r = n.request("GET", "/v1/kv1/idx", token=tok, headers={"X-Vault-Index": w.headers["X-Vault-Index"]})
        assert r.status_code == 403, (n.url, r.text)


def test_listener_connection_terminated_then_everything_invalidated(nodes, pg_server):
    a, b = nodes[0], nodes[1]
    tok = policy_token(a, "ha-reads-drop", 'path "kv1/*" { capabilities = ["read"] }')
    assert b.request("GET", "/v1/kv1/idx", token=tok).status_code == 200
    before = b.proc.stderr_text().count("caches invalidated")
    killed = pg_server.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                           " WHERE application_name = 'trove listener'")
    assert int(killed) == 3
    # changed while nobody listens: no notification reaches b for it
    c = a.client(a.root_token)
    c.sys.create_or_update_policy("ha-reads-drop", 'path "kv1/none" { capabilities = ["read"] }')
    wait_for(lambda: b.proc.stderr_text().count("caches invalidated") > before, 10, "the listener back")
    wait_for(lambda: b.request("GET", "/v1/kv1/idx", token=tok).status_code == 403, 3, "the change on b")
    # and it goes on hearing changes
    w = a.request("POST", "/v1/kv1/after-drop", token=a.root_token, json={"v": 1})
    r = b.request("GET", "/v1/kv1/after-drop", token=a.root_token, headers={"X-Vault-Index": w.headers["X-Vault-Index"]})
    assert r.status_code == 200, r.text


def test_hvac_against_each_node(nodes):
    a = nodes[0]
    for i, n in enumerate(nodes):
        c = n.client(a.root_token)
        c.secrets.kv.v2.create_or_update_secret(f"hvac{i}", secret={"n": i}, mount_point="kv")
    for n in nodes:
        c = n.client(a.root_token)
        for i in range(3):
            wait_for(lambda: c.secrets.kv.v2.read_secret_version(f"hvac{i}", mount_point="kv")["data"]["data"]
                     == {"n": i}, 2, "hvac read")


def test_frozen_database_does_not_stall_health(pg_trove):
    """KV reads waiting on a stopped PostgreSQL (SIGSTOP: it accepts and
    answers nothing) hold worker threads, not event loops: sys/health on
    the same server answers at once meanwhile."""
    with running_server() as pg:
        dsn = pg.dsn(options="-c statement_timeout=3000")
        srv = pg_trove(pg, "t_frozen", start=False)
        srv.config_path.write_text(srv.config_path.read_text().replace(pg.url(), dsn))
        srv.proc.start()
        srv.init(1, 1)
        srv.unseal()
        c = srv.client(srv.root_token)
        c.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
        c.secrets.kv.v1.create_or_update_secret("k", secret={"v": 1}, mount_point="kv")
        results = []

        def read(i):
            r = srv.request("GET", f"/v1/kv/missing-{i}", token=srv.root_token, timeout=60)
            results.append(r.status_code)

        signal_postgres(pg, signal.SIGSTOP)
        try:
            # one connection each: the kernel spreads them over every loop
            readers = [threading.Thread(target=read, args=(i,)) for i in range(8)]
            for t in readers:
                t.start()
            time.sleep(0.5)
            t0 = time.monotonic()
            r = srv.get("/v1/sys/health", timeout=30)
            took = time.monotonic() - t0
            assert r.status_code == 200, r.text
            assert took < 1.0, f"sys/health took {took:.2f}s while reads waited on the database"
            assert not results, "the reads did not wait on the stopped database"
        finally:
            signal_postgres(pg, signal.SIGCONT)
        for t in readers:
            t.join(60)
        assert len(results) == 8
        assert c.secrets.kv.v1.read_secret("k", mount_point="kv")["data"] == {"v": 1}
        srv.proc.stop()


def test_ha_standbys_serve_reads(pg_server, procs, log_dir, tmp_path):
    from test_ha import Cluster, ha_hcl
    from trove_harness import sanitizer_env

    table = "t_ha_perf"
    env = sanitizer_env()
    env.update(TROVE_HA_LOCK_TTL_MS="1500", TROVE_HA_RETRY_MS="150")
    servers = []
    for i in range(3):
        port = free_port()
        cfg = tmp_path / f"perf{i}.hcl"
        cfg.write_text(ha_hcl(pg_server.url(), port, table) + "disable_performance_standby = false\n")
        url = f"http://127.0.0.1:{port}"
        proc = TroveProcess([TROVE_BIN, "server", "-config", cfg], log_dir, f"perf{i}", url + "/v1/sys/health",
                            env=env)
        procs.append(proc)
        proc.start()
        servers.append(Server(proc, url))
    c = Cluster(servers)
    body = servers[0].init(1, 1)
    c.keys, c.token = body["keys"], body["root_token"]
    c.unseal_all()
    active = c.active()
    standbys = c.standbys(active)
    r = active.request("POST", "/v1/sys/mounts/kv", token=c.token, json={"type": "kv", "options": {"version": "2"}})
    assert r.status_code == 204, r.text
    w = active.request("POST", "/v1/kv/data/perf", token=c.token, json={"data": {"v": 1}})
    assert w.status_code == 200, w.text
    for s in standbys:
        # mount tables load at unseal: seal and unseal the standby to see the mount
        assert s.request("PUT", "/v1/sys/seal", token=c.token).status_code in (204, 307)
        s.unseal(c.keys)
    for s in standbys:
        h = s.get("/v1/sys/health")
        assert h.status_code == 473, (h.status_code, h.text)
        assert h.json()["standby"] is True and h.json()["performance_standby"] is True
        assert s.get("/v1/sys/health?perfstandbyok=true").status_code == 200
        ld = s.get("/v1/sys/leader").json()
        assert ld["is_self"] is False and ld["performance_standby"] is True
        # a pure read: answered here, with the index
        r = s.request("GET", "/v1/kv/data/perf", token=c.token, headers={"X-Vault-Index": w.headers["X-Vault-Index"]})
        assert r.status_code == 200 and r.json()["data"]["data"] == {"v": 1}, (r.status_code, r.text)
        assert "X-Vault-Index" in r.headers
        # a write, and a read that writes (wrapping makes a token): to the
        # active (redirected when the client asks, else forwarded)
        no_fwd = {"X-Vault-No-Request-Forwarding": "1"}
        r = s.request("POST", "/v1/kv/data/perf", token=c.token, json={"data": {"v": 2}}, headers=no_fwd)
        assert r.status_code == 307 and r.headers["Location"] == active.url + "/v1/kv/data/perf", r.text
        r = s.request("GET", "/v1/kv/data/perf", token=c.token, headers={"X-Vault-Wrap-TTL": "60", **no_fwd})
        assert r.status_code == 307, r.text
        r = s.request("GET", "/v1/kv/data/perf", token=c.token, headers={"X-Vault-Wrap-TTL": "60"})
        assert r.status_code == 200 and r.json()["wrap_info"]["token"], r.text
    assert active.get("/v1/sys/health").status_code == 200
    # read-your-writes across the cluster
    for v in range(2, 5):
        w = active.request("POST", "/v1/kv/data/perf", token=c.token, json={"data": {"v": v}})
        for s in standbys:
            r = s.request("GET", "/v1/kv/data/perf", token=c.token,
                          headers={"X-Vault-Index": w.headers["X-Vault-Index"]})
            assert r.status_code == 200 and r.json()["data"]["data"] == {"v": v}, r.text
    # hvac reads against a standby
    hc = standbys[0].client(c.token)
    assert hc.secrets.kv.v2.read_secret_version("perf", mount_point="kv")["data"]["data"] == {"v": 4}
    # a policy narrowed on the active binds the standbys at once
    a_token = active.client(c.token)
    a_token.sys.create_or_update_policy("perf-read", 'path "kv/data/perf" { capabilities = ["read"] }')
    tok = a_token.auth.token.create(policies=["perf-read"], ttl="1h")["auth"]["client_token"]
    for s in standbys:
        assert s.request("GET", "/v1/kv/data/perf", token=tok).status_code == 200
    w = active.request("POST", "/v1/sys/policy/perf-read", token=c.token,
                       json={"policy": 'path "kv/data/none" { capabilities = ["read"] }'})
    for s in standbys:
        r = s.request("GET", "/v1/kv/data/perf", token=tok, headers={"X-Vault-Index": w.headers["X-Vault-Index"]})
        assert r.status_code == 403, r.text
