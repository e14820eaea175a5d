"""HA on PostgreSQL (docs/ha.md, "High availability"): three real Trove
nodes on loopback ports over one PostgreSQL, each unsealed with the same
keys. One holds the lock and serves; the others redirect clients to it
(307) and take over when it dies.

The nodes run with a short lock lease (TROVE_HA_LOCK_TTL_MS) so that the
module stays quick; the default lease (3 s) is measured by
bench/ha/failover.py.
"""

import os
import subprocess
import threading
import time

import pytest
import requests

from pg_server import pg_server, running_server  # noqa: F401  (the fixture)
from trove_harness import TROVE_BIN, Server, TroveProcess, free_port, run_cli, sanitizer_env

TTL_MS = 1500
RETRY_MS = 150
FAILOVER_LIMIT_S = 5.0


def ha_hcl(url, port, table, cluster_port=None, standby_reads=None):
    """A node's config; its cluster listener on cluster_port (a free one
    when not given: it is bound as the API listener is); standby_reads
    True or False writes disable_performance_standby (None: the default,
    standbys that serve reads)."""
    cluster_port = cluster_port or free_port()
    perf = "" if standby_reads is None else f"disable_performance_standby = {str(not standby_reads).lower()}\n"
    return perf + (f'storage "postgresql" {{\n  connection_url = "{url}"\n  table = "{table}"\n'
            f'  ha_enabled = true\n  ha_table = "{table}_ha"\n}}\n\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n}}\n\n'
            f'api_addr = "http://127.0.0.1:{port}"\ncluster_addr = "https://127.0.0.1:{cluster_port}"\n'
            "disable_mlock = true\n")


class Cluster:
    def __init__(self, nodes):
        self.nodes = nodes
        self.keys = None
        self.token = None

    def unseal_all(self):
        for n in self.nodes:
            if n.proc.running:
                n.unseal(self.keys)

    def roles(self, alive_only=True):
        out = {}
        for n in self.nodes:
            if alive_only and not n.proc.running:
                continue
            try:
                out[n.url] = n.get("/v1/sys/leader", timeout=5).json()
            except requests.RequestException:
                out[n.url] = None
        return out

    def active(self, timeout=10.0, exclude=()):
        """The node that says it is active, once the others agree."""
        deadline = time.monotonic() + timeout
        while True:
            leaders = self.roles()
            selfs = [u for u, b in leaders.items() if b and b["is_self"] and u not in exclude]
            if len(selfs) == 1:
                agree = all(b and b["leader_address"] == selfs[0] for b in leaders.values())
                if agree:
                    return next(n for n in self.nodes if n.url == selfs[0])
            if time.monotonic() > deadline:
                raise AssertionError(f"no single active node agreed on: {leaders}")
            time.sleep(0.05)

    def standbys(self, active):
        return [n for n in self.nodes if n is not active and n.proc.running]


def start_writer(c):
    """A client writing numbered keys kv/k<i> as a user of the cluster
    would: to any node that answers, redirects followed; acked holds the
    numbers of the writes answered 204. Set stop and join the thread."""
    acked, stop = [], threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            for n in c.nodes:
                if stop.is_set():
                    break
                try:
                    r = requests.post(f"{n.url}/v1/kv/k{i}", json={"i": i}, timeout=5,
                                      headers={"X-Vault-Token": c.token})
                except requests.RequestException:
                    continue
                if r.status_code == 204:
                    acked.append(i)
                    i += 1
                    break
            else:
                time.sleep(0.02)

    t = threading.Thread(target=writer)
    t.start()
    return acked, stop, t


def assert_all_present(node, c, acked):
    cl = node.client(c.token)
    missing = [i for i in acked if cl.secrets.kv.v1.read_secret(f"k{i}", mount_point="kv")["data"] != {"i": i}]
    assert missing == []


@pytest.fixture
def cluster_factory(procs, log_dir, tmp_path):
    def make(pg, table, count=3):
        env = sanitizer_env()
        env.update(TROVE_HA_LOCK_TTL_MS=str(TTL_MS), TROVE_HA_RETRY_MS=str(RETRY_MS),
                   TROVE_HA_STEP_DOWN_WAIT_MS="3000")
        nodes = []
        for i in range(count):
            port, cluster_port = free_port(), free_port()
            cfg = tmp_path / f"{table}{i}.hcl"
            # plain standbys (429, every request to the active): what
            # these tests check; standbys that serve reads have their own
            # modules (test_ha_reads.py, test_ha_mounts.py, test_ha_uses.py)
            cfg.write_text(ha_hcl(pg.url(), port, table, cluster_port, standby_reads=False))
            url = f"http://127.0.0.1:{port}"
            proc = TroveProcess([TROVE_BIN, "server", "-config", cfg], log_dir, f"{table}{i}",
                                url + "/v1/sys/health", env=env)
            procs.append(proc)
            proc.start()
            nodes.append(Server(proc, url))
            nodes[-1].cluster_port = cluster_port
        c = Cluster(nodes)
        body = nodes[0].init(1, 1)
        c.keys, c.token = body["keys"], body["root_token"]
        c.unseal_all()
        return c

    return make


def test_one_active_standbys_redirect_and_answer_health(pg_server, cluster_factory):
    c = cluster_factory(pg_server, "t_ha_basic")
    active = c.active()
    standbys = c.standbys(active)
    assert len(standbys) == 2
    for b in c.roles().values():
        assert b["ha_enabled"] is True and b["leader_address"] == active.url
        assert b["leader_cluster_address"] == f"https://127.0.0.1:{active.cluster_port}"
        assert b["active_time"] != "0001-01-01T00:00:00Z"

    a = active.client(c.token)
    a.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    a.secrets.kv.v2.create_or_update_secret("app/db", secret={"pw": "s3cret"}, mount_point="kv")

    for s in standbys:
        # Vault's standby redirect, when the client asks for it rather than
        # forwarding: the same path and query on the active
        r = s.get("/v1/kv/data/app/db?version=1", token=c.token, headers={"X-Vault-No-Request-Forwarding": "1"})
        assert r.status_code == 307, r.text
        assert r.headers["Location"] == active.url + "/v1/kv/data/app/db?version=1"
        # by default the standby forwards it to the active and relays the answer
        r = s.get("/v1/kv/data/app/db?version=1", token=c.token)
        assert r.status_code == 200 and r.json()["data"]["data"] == {"pw": "s3cret"}, r.text
        # hvac, through the standby, token and body included
        cl = s.client(c.token)
        assert cl.secrets.kv.v2.read_secret_version("app/db", mount_point="kv")["data"]["data"] == {"pw": "s3cret"}
        cl.secrets.kv.v2.create_or_update_secret(f"via/{s.host_port[1]}", secret={"n": 1}, mount_point="kv")
        # and so does the trove CLI
        p = run_cli(["kv", "get", "-format=json", "kv/app/db"], env={"VAULT_ADDR": s.url, "VAULT_TOKEN": c.token})
        assert p.returncode == 0 and "s3cret" in p.stdout, p.stderr
        # what a standby answers itself
        assert s.get("/v1/sys/health").status_code == 429
        assert s.get("/v1/sys/health?standbyok=true").status_code == 200
        assert s.get("/v1/sys/health?standbycode=299").status_code == 299
        h = s.get("/v1/sys/health").json()
        assert h["standby"] is True and h["sealed"] is False and h["performance_standby"] is False
        assert s.get("/v1/sys/seal-status").json()["sealed"] is False
        assert s.get("/v1/sys/leader").json()["is_self"] is False
    for s in standbys:
        got = a.secrets.kv.v2.read_secret_version(f"via/{s.host_port[1]}", mount_point="kv")
        assert got["data"]["data"] == {"n": 1}

    h = active.get("/v1/sys/health")
    assert h.status_code == 200 and h.json()["standby"] is False
    assert a.sys.read_leader_status()["is_self"] is True
    body = active.get("/v1/sys/ha-status", token=c.token).json()
    nodes = body["nodes"]
    assert body["data"]["nodes"] == nodes
    assert sorted(n["api_address"] for n in nodes) == sorted(n.url for n in c.nodes)
    assert [n["active_node"] for n in nodes].count(True) == 1
    assert next(n for n in nodes if n["active_node"])["api_address"] == active.url

    # a sealed standby says so rather than redirecting, and never takes
    # the lock; unsealed again it stands by
    s0 = standbys[0]
    assert s0.put("/v1/sys/seal", token=c.token).status_code == 204
    r = s0.get("/v1/kv/data/app/db", token=c.token)
    assert r.status_code == 503 and "sealed" in r.text
    assert s0.get("/v1/sys/health").status_code == 503
    active.put("/v1/sys/step-down", token=c.token)
    assert c.active(exclude=(active.url, s0.url)) is standbys[1]
    s0.unseal(c.keys)
    assert s0.get("/v1/sys/health").status_code == 429


def test_kill9_of_the_active_under_writes_loses_no_acknowledged_write(pg_server, cluster_factory):
    c = cluster_factory(pg_server, "t_ha_kill")
    active = c.active()
    a = active.client(c.token)
    a.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    acked, stop, t = start_writer(c)
    time.sleep(1.0)
    before = len(acked)
    t0 = time.monotonic()
    active.proc.kill9()
    new = c.active(timeout=15, exclude=(active.url,))
    took = time.monotonic() - t0
    time.sleep(1.0)
    stop.set()
    t.join(10)
    assert new is not active
    assert took < FAILOVER_LIMIT_S, f"failover took {took:.2f}s"
    assert len(acked) > before, "no write was acknowledged after the failover"
    assert_all_present(new, c, acked)

    # the old active comes back as a standby
    active.proc.start()
    active.unseal(c.keys)
    time.sleep(2 * TTL_MS / 1000)
    assert c.active() is new
    assert active.get("/v1/sys/health").status_code == 429
    print(f"failover after kill -9: {took:.2f}s, {len(acked)} writes acknowledged")


def test_step_down_moves_activity_to_another_node(pg_server, cluster_factory):
    c = cluster_factory(pg_server, "t_ha_step")
    active = c.active()
    s = c.standbys(active)[0]
    # written after a key rotation the standbys have not seen: the next
    # active reads the keyring again when it takes over
    a = active.client(c.token)
    a.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    assert active.put("/v1/sys/rotate", token=c.token).status_code == 204
    a.secrets.kv.v1.create_or_update_secret("rotated", secret={"v": 1}, mount_point="kv")
    # sudo is needed: a token without it is refused
    r = active.put("/v1/sys/step-down", token="not-a-token")
    assert r.status_code == 403
    # through a standby: redirected to the active, which steps down
    r = requests.put(f"{s.url}/v1/sys/step-down", headers={"X-Vault-Token": c.token}, timeout=10)
    assert r.status_code == 204, r.text
    new = c.active(timeout=FAILOVER_LIMIT_S, exclude=(active.url,))
    assert new is not active
    assert active.get("/v1/sys/health").status_code == 429
    assert "stepping down" in active.proc.stderr_text()
    n = new.client(c.token)
    assert n.secrets.kv.v1.read_secret("rotated", mount_point="kv")["data"] == {"v": 1}
    n.secrets.kv.v1.create_or_update_secret("after", secret={"v": 2}, mount_point="kv")
    assert new.get("/v1/sys/key-status", token=c.token).json()["term"] == 2


def test_expired_tokens_are_revoked_by_the_next_active(pg_server, cluster_factory):
    c = cluster_factory(pg_server, "t_ha_lease")
    active = c.active()
    a = active.client(c.token)
    made = [a.auth.token.create(ttl="3s", policies=["default"])["auth"] for _ in range(3)]
    active.proc.kill9()
    new = c.active(timeout=15, exclude=(active.url,))
    cl = new.client(c.token)
    deadline = time.monotonic() + 20
    left = made

    def alive(m):
        r = requests.post(f"{new.url}/v1/auth/token/lookup-accessor", json={"accessor": m["accessor"]},
                          headers={"X-Vault-Token": c.token}, timeout=5)
        return r.status_code == 200

    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = [m for m in left if alive(m)]
    assert left == [], "tokens outlived their TTL across the failover"
    assert cl.auth.token.lookup_self()["data"]["id"] == c.token


def test_database_restart_and_loss(cluster_factory):
    with running_server() as pg:
        c = cluster_factory(pg, "t_ha_pg")
        active = c.active()
        a = active.client(c.token)
        a.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
        a.secrets.kv.v1.create_or_update_secret("before", secret={"v": 1}, mount_point="kv")

        pg.stop()
        # the active cannot renew its lease: within the lease it steps
        # down, and no node acts as active (503), none takes the lock
        t0 = time.monotonic()
        while time.monotonic() < t0 + FAILOVER_LIMIT_S:
            health = [n.get("/v1/sys/health") for n in c.nodes]
            if all(h.status_code == 429 for h in health):
                break
            time.sleep(0.1)
        assert all(h.status_code == 429 for h in health), [(h.status_code, h.text[:80]) for h in health]
        assert time.monotonic() - t0 < TTL_MS / 1000 + 1.0
        for n in c.nodes:
            r = n.get("/v1/kv/before", token=c.token, timeout=10)
            assert r.status_code == 503, r.text
            assert n.get("/v1/sys/leader").json()["is_self"] is False
        assert "stepping down" in active.proc.stderr_text()

        pg.start(keep_port=True)
        t0 = time.monotonic()
        new = c.active(timeout=20)
        deadline = time.monotonic() + 20
        while True:
            r = requests.post(f"{new.url}/v1/kv/after", json={"v": 3}, headers={"X-Vault-Token": c.token},
                              timeout=10)
            if r.status_code == 204 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 204, r.text
        print(f"active again {time.monotonic() - t0:.2f}s after the database came back")
        cl = new.client(c.token)
        assert cl.secrets.kv.v1.read_secret("before", mount_point="kv")["data"] == {"v": 1}
        assert cl.secrets.kv.v1.read_secret("after", mount_point="kv")["data"] == {"v": 3}
        for n in c.nodes:
            n.proc.stop()


def test_a_write_in_flight_when_the_lock_moves_is_refused(pg_server, cluster_factory):
    """Fencing: a write the active has begun while another holder takes
    the lock is either committed before the takeover or refused; here the
    takeover (an intruder locking the lock row FOR UPDATE and moving it,
    uncommitted, as a standby's takeover does) comes first, the write
    waits behind it, and fails once it commits."""
    c = cluster_factory(pg_server, "t_ha_fence", count=2)
    active = c.active()
    a = active.client(c.token)
    a.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    a.secrets.kv.v1.create_or_update_secret("before", secret={"v": 1}, mount_point="kv")
    before = int(pg_server.sql("SELECT count(*) FROM t_ha_fence"))

    psql = pg_server.session("postgres", pg_server.password)
    psql.stdin.write("BEGIN;\nSELECT 1 FROM t_ha_fence_ha WHERE ha_key = 't_ha_fence' FOR UPDATE;\n"
                     "UPDATE t_ha_fence_ha SET node_id = 'intruder', epoch = epoch + 1,"
                     " api_addr = 'http://127.0.0.1:9', valid_until = clock_timestamp() + interval '1 hour'"
                     " WHERE ha_key = 't_ha_fence';\nSELECT 'taken';\n")
    psql.stdin.flush()
    assert psql.stdout.readline().strip() == "BEGIN"
    assert psql.stdout.readline().strip() == "1"
    assert psql.stdout.readline().strip() == "UPDATE 1"
    assert psql.stdout.readline().strip() == "taken"
    result = {}

    def write():
        result["r"] = requests.post(f"{active.url}/v1/kv/inflight", json={"v": 2},
                                    headers={"X-Vault-Token": c.token}, timeout=30, allow_redirects=False)

    t = threading.Thread(target=write)
    t.start()
    time.sleep(0.5)
    assert t.is_alive(), "the write did not wait for the lock row"
    psql.stdin.write("COMMIT;\n")
    psql.stdin.close()
    psql.wait(10)
    t.join(30)
    assert result["r"].status_code == 503, result["r"].text
    assert int(pg_server.sql("SELECT count(*) FROM t_ha_fence")) == before
    assert pg_server.sql("SELECT count(*) FROM t_ha_fence WHERE convert_from(key, 'UTF8') LIKE '%inflight'") == "0"

    # the old active stands by; both send clients to the lock's holder
    deadline = time.monotonic() + FAILOVER_LIMIT_S
    while active.get("/v1/sys/health").status_code != 429 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert active.get("/v1/sys/health").status_code == 429
    for n in c.nodes:
        r = n.get("/v1/kv/before", token=c.token)
        assert r.status_code == 307 and r.headers["Location"] == "http://127.0.0.1:9/v1/kv/before"

    # the intruder goes away: one of the nodes takes over, the data intact
    pg_server.sql("UPDATE t_ha_fence_ha SET valid_until = '-infinity' WHERE ha_key = 't_ha_fence'")
    new = c.active(timeout=10)
    assert new.client(c.token).secrets.kv.v1.read_secret("before", mount_point="kv")["data"] == {"v": 1}


def test_dynamic_credentials_are_revoked_exactly_once_across_failovers(pg_server, cluster_factory):
    """Leases of database credentials (3 s) expire after the active node
    has stepped down and then after another has been killed: the node
    that is active revokes each one, and only it. Each revocation records
    the user it drops, so a second revocation would show."""
    pg_server.sql("CREATE TABLE IF NOT EXISTS revoked (name text)")
    c = cluster_factory(pg_server, "t_ha_once")
    first = c.active()
    a = first.client(c.token)
    a.sys.enable_secrets_engine("database", path="database")
    url = f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{pg_server.port}/postgres?sslmode=disable"
    r = first.put("/v1/database/config/pg", token=c.token,
                  json={"plugin_name": "postgresql-database-plugin", "connection_url": url, "username": "postgres",
                        "password": pg_server.password, "allowed_roles": "*"})
    assert r.status_code in (200, 204), r.text
    r = first.put("/v1/database/roles/short", token=c.token, json={
        "db_name": "pg", "default_ttl": "3s", "max_ttl": "3s",
        "creation_statements": ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}';"],
        # IF EXISTS: a second revocation would succeed, and count
        "revocation_statements": ["INSERT INTO revoked VALUES ('{{name}}');", "DROP ROLE IF EXISTS \"{{name}}\";"]})
    assert r.status_code in (200, 204), r.text

    def creds(node, n):
        return [node.get("/v1/database/creds/short", token=c.token).json()["data"]["username"] for _ in range(n)]

    users = creds(first, 3)
    # the active steps down before they expire; the next one revokes them
    assert first.put("/v1/sys/step-down", token=c.token).status_code == 204
    second = c.active(timeout=FAILOVER_LIMIT_S, exclude=(first.url,))
    users += creds(second, 3)
    second.proc.kill9()
    third = c.active(timeout=10, exclude=(second.url,))

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = pg_server.sql("SELECT count(DISTINCT name) FROM revoked WHERE name IN (%s)" %
                             ",".join(f"'{u}'" for u in users))
        if int(done) == len(users):
            break
        time.sleep(0.5)
    time.sleep(2)  # a second revocation, were there one, would land by now
    counts = pg_server.sql("SELECT name || ' ' || count(*) FROM revoked GROUP BY name").splitlines()
    counts = dict(line.rsplit(" ", 1) for line in counts)
    assert {u: counts.get(u) for u in users} == {u: "1" for u in users}
    for u in users:
        assert pg_server.sql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{u}'") == "0"
    assert third is not second


def test_database_restart_under_writes_recovers_without_restarting_trove(cluster_factory):
    with running_server() as pg:
        c = cluster_factory(pg, "t_ha_pgw")
        active = c.active()
        active.client(c.token).sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
        acked, stop, t = start_writer(c)
        time.sleep(1.0)
        pg.stop()
        pg.start(keep_port=True)
        restarted = len(acked)
        deadline = time.monotonic() + 20
        while len(acked) < restarted + 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        t.join(10)
        assert len(acked) >= restarted + 20, f"writes did not resume: {len(acked)} after {restarted}"
        assert_all_present(c.active(), c, acked)
        for n in c.nodes:
            n.proc.stop()


def test_an_ha_table_of_vaults_layout_is_refused_at_start(pg_server, tmp_path):
    pg_server.sql('CREATE TABLE vault_layout_ha (ha_key TEXT COLLATE "C" NOT NULL PRIMARY KEY, '
                  'ha_identity TEXT COLLATE "C" NOT NULL, ha_value TEXT COLLATE "C", '
                  "valid_until TIMESTAMP WITH TIME ZONE NOT NULL)")
    cfg = tmp_path / "vault.hcl"
    cfg.write_text(ha_hcl(pg_server.url(), free_port(), "vault_layout"))
    p = subprocess.run([TROVE_BIN, "server", "-config", str(cfg)], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL, env=sanitizer_env())
    assert p.returncode == 1, p.stderr[-500:]
    assert 'ha_table "vault_layout_ha" exists with another layout' in p.stderr
