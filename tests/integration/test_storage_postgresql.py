"""Trove on PostgreSQL storage (storage "postgresql"): a real PostgreSQL 15
started by the suite, real `trove server` processes, hvac for the reads.

What is covered: init/unseal, KV v1 and v2, LIST order, policies and
tokens, a restart keeping everything, values stored only as ciphertext,
odd keys, two tables in one database kept apart, a table of a newer
layout refused, ha_enabled refused, the database stopped under a running
server (503, then recovery without a restart), and `trove operator
migrate` LMDB -> PostgreSQL -> LMDB with its migration lock."""

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from pg_server import pg_server, running_server  # noqa: F401  (the fixture)
from trove_harness import TROVE_BIN, Server, TroveProcess, free_port, hcl_config, run_cli


def pg_hcl(url, port, table, extra=""):
    body = "\n".join([f'  connection_url = "{url}"', f'  table = "{table}"'] +
                     ["  " + line for line in extra.strip().splitlines()])
    return (f'storage "postgresql" {{\n{body}\n}}\n\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n}}\n\n'
            "disable_mlock = true\n")


@pytest.fixture
def pg_trove(procs, log_dir, tmp_path):
    """Factory: pg_trove(pg, table, start=True) writes a config for a
    server on pg's database, table `table`, and starts it."""
    count = [0]

    def make(pg, table, start=True, extra=""):
        count[0] += 1
        port = free_port()
        cfg = tmp_path / f"pg{count[0]}.hcl"
        cfg.write_text(pg_hcl(pg.url(), port, table, extra))
        url = f"http://127.0.0.1:{port}"
        proc = TroveProcess([TROVE_BIN, "server", "-config", cfg], log_dir, f"pg{count[0]}", url + "/v1/sys/health")
        procs.append(proc)
        srv = Server(proc, url)
        srv.config_path = cfg
        if start:
            proc.start()
        return srv

    return make


def lmdb_trove(procs, log_dir, directory, name):
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cfg = directory / "trove.hcl"
    cfg.write_text(hcl_config(directory / "data", port))
    url = f"http://127.0.0.1:{port}"
    proc = TroveProcess([TROVE_BIN, "server", "-config", cfg], log_dir, name, url + "/v1/sys/health")
    procs.append(proc)
    return Server(proc, url)


def start_fails(config_path, timeout=30):
    """Runs `trove server -config` expecting it to refuse to start."""
    p = subprocess.run([TROVE_BIN, "server", "-config", str(config_path)], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    assert p.returncode != 0, f"server started: {p.stdout[-500:]} {p.stderr[-500:]}"
    return p


def rows(pg, table):
    return int(pg.sql(f'SELECT count(*) FROM "{table}"'))


def bytewise(keys):
    return sorted(keys, key=lambda k: k.encode())


def test_server_on_postgresql_keeps_everything(pg_server, pg_trove):
    srv = pg_trove(pg_server, "t_life")
    srv.init(3, 2)
    srv.unseal()
    root = srv.root_token
    c = srv.client(root)
    canary = "canary-" + secrets.token_hex(16)
    c.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    c.sys.enable_secrets_engine("kv", path="plain", options={"version": "1"})
    names = ["b", "a", "A", "a-b", "a/x", "a0", "_z", "z"]
    for n in names:
        c.secrets.kv.v2.create_or_update_secret(n, secret={"v": n}, mount_point="secret")
    c.secrets.kv.v2.create_or_update_secret("apps/db", secret={"password": canary}, mount_point="secret")
    c.secrets.kv.v2.create_or_update_secret("apps/db", secret={"password": canary + "2"}, mount_point="secret")
    c.secrets.kv.v1.create_or_update_secret("k", secret={"value": canary}, mount_point="plain")
    c.sys.create_or_update_policy("apps", 'path "secret/data/apps/*" { capabilities = ["read"] }\n')
    user = c.auth.token.create(policies=["apps"], ttl="2h")["auth"]["client_token"]

    want = bytewise(["b", "a", "A", "a-b", "a/", "a0", "_z", "z", "apps/"])
    assert c.secrets.kv.v2.list_secrets("", mount_point="secret")["data"]["keys"] == want
    u = srv.client(user)
    assert u.secrets.kv.v2.read_secret_version("apps/db", mount_point="secret")["data"]["data"] == {
        "password": canary + "2"}
    assert srv.get("/v1/secret/data/a", token=user).status_code == 403

    # values are the barrier's ciphertext: no secret, token or policy in clear
    dump = pg_server.sql("SELECT string_agg(encode(value, 'escape'), '') FROM t_life")
    for needle in (canary, user, root, "capabilities"):
        assert needle not in dump
    assert pg_server.sql("SELECT version FROM trove_storage_schema WHERE kv_table = 't_life'") == "1"

    srv.proc.restart()
    srv.unseal()
    c = srv.client(root)
    assert c.secrets.kv.v2.read_secret_version("apps/db", mount_point="secret")["data"]["data"] == {
        "password": canary + "2"}
    assert c.secrets.kv.v2.read_secret_metadata("apps/db", mount_point="secret")["data"]["current_version"] == 2
    assert c.secrets.kv.v1.read_secret("k", mount_point="plain")["data"] == {"value": canary}
    assert c.secrets.kv.v2.list_secrets("", mount_point="secret")["data"]["keys"] == want
    assert srv.client(user).secrets.kv.v2.read_secret_version("apps/db", mount_point="secret")["data"]["data"]
    assert "apps" in c.sys.list_policies()["data"]["policies"]

    # deletes reach the database
    before = rows(pg_server, "t_life")
    c.secrets.kv.v1.delete_secret("k", mount_point="plain")
    assert rows(pg_server, "t_life") == before - 1
    assert srv.get("/v1/plain/k", token=root).status_code == 404


def test_odd_keys_round_trip(pg_server, pg_trove):
    srv = pg_trove(pg_server, "t_odd")
    srv.init(1, 1)
    srv.unseal()
    c = srv.client(srv.root_token)
    c.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    odd = ["with space", "per%cent", "quote'single", 'quote"double', "back\\slash", "unicodé-ключ-鍵",
           "semi;colon -- x", "star*under_score", "L" * 1200]
    for k in odd:
        r = srv.request("POST", "/v1/kv/" + requests.utils.quote(k, safe=""), token=srv.root_token, json={"k": k})
        assert r.status_code == 204, (k, r.text)
    for k in odd:
        assert c.secrets.kv.v1.read_secret(k, mount_point="kv")["data"] == {"k": k}
    listed = c.secrets.kv.v1.list_secrets("", mount_point="kv")["data"]["keys"]
    assert listed == bytewise(odd)
    # longer than the backend's key cap: refused cleanly, nothing stored
    r = srv.request("POST", "/v1/kv/" + "x" * 2100, token=srv.root_token, json={"k": 1})
    assert 400 <= r.status_code < 600 and r.status_code != 204
    assert srv.get("/v1/sys/health").status_code == 200


def test_concurrent_writers_share_a_small_pool(pg_server, pg_trove):
    """16 clients writing at once through a pool of 2 connections: every
    write acknowledged is there, none fails."""
    from concurrent.futures import ThreadPoolExecutor

    srv = pg_trove(pg_server, "t_pool", extra="max_parallel = 2")
    srv.init(1, 1)
    srv.unseal()
    c = srv.client(srv.root_token)
    c.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})

    def writer(w):
        codes = []
        for i in range(15):
            r = srv.request("POST", f"/v1/kv/data/w{w:02d}/{i:02d}", token=srv.root_token, json={"data": {"i": i}})
            codes.append(r.status_code)
        return codes

    with ThreadPoolExecutor(16) as ex:
        codes = [code for cs in ex.map(writer, range(16)) for code in cs]
    assert codes == [200] * 240
    assert c.secrets.kv.v2.list_secrets("", mount_point="kv")["data"]["keys"] == [f"w{w:02d}/" for w in range(16)]
    for w in (0, 7, 15):
        assert c.secrets.kv.v2.list_secrets(f"w{w:02d}", mount_point="kv")["data"]["keys"] == [
            f"{i:02d}" for i in range(15)]
    # at most max_parallel sessions of this server at any time
    assert int(pg_server.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'trove'")) <= 2


def test_skip_create_table(pg_server, pg_trove):
    srv = pg_trove(pg_server, "t_skip", start=False, extra="skip_create_table = true")
    p = start_fails(srv.config_path)
    assert 'table "t_skip"' in p.stderr and "does not exist" in p.stderr
    # created by a run without it (or by hand, as docs/ha.md shows): then it is used
    made = pg_trove(pg_server, "t_skip")
    made.proc.stop()
    srv.proc.start()
    assert srv.seal_status()["initialized"] is False
    srv.init(1, 1)
    assert rows(pg_server, "t_skip") > 0


def test_two_tables_in_one_database_are_separate(pg_server, pg_trove):
    a = pg_trove(pg_server, "t_sep_a")
    b = pg_trove(pg_server, "t_sep_b")
    for s in (a, b):
        s.init(1, 1)
        s.unseal()
    assert a.root_token != b.root_token
    ca, cb = a.client(a.root_token), b.client(b.root_token)
    ca.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    ca.secrets.kv.v1.create_or_update_secret("only-a", secret={"v": 1}, mount_point="kv")
    assert b.get("/v1/kv/only-a", token=b.root_token).status_code in (403, 404)
    assert b.get("/v1/sys/mounts", token=a.root_token).status_code == 403
    assert "kv/" not in cb.sys.list_mounted_secrets_engines()["data"]
    assert rows(pg_server, "t_sep_a") > rows(pg_server, "t_sep_b") > 0


def test_newer_layout_refused(pg_server, pg_trove):
    srv = pg_trove(pg_server, "t_newer")
    srv.init(1, 1)
    srv.proc.stop()
    pg_server.sql("UPDATE trove_storage_schema SET version = 99 WHERE kv_table = 't_newer'")
    p = start_fails(srv.config_path)
    assert p.returncode == 1
    assert 'table "t_newer" was written by a newer Trove (layout version 99' in p.stderr
    pg_server.sql("UPDATE trove_storage_schema SET version = 1 WHERE kv_table = 't_newer'")
    srv.proc.start()
    assert srv.seal_status()["initialized"] is True


def test_a_table_of_another_layout_is_refused(pg_server, pg_trove):
    pg_server.sql('CREATE TABLE vault_layout (parent_path TEXT COLLATE "C" NOT NULL, path TEXT COLLATE "C", '
                  'key TEXT COLLATE "C", value BYTEA, CONSTRAINT vault_layout_pkey PRIMARY KEY (path, key))')
    srv = pg_trove(pg_server, "vault_layout", start=False)
    p = start_fails(srv.config_path)
    assert 'table "vault_layout"' in p.stderr and "column" in p.stderr
    assert pg_server.sql("SELECT count(*) FROM trove_storage_schema WHERE kv_table = 'vault_layout'") == "0"


def test_ha_without_addresses_and_bad_tables_refused_with_file_and_line(pg_server, tmp_path):
    cfg = tmp_path / "ha.hcl"
    text = pg_hcl(pg_server.url(), free_port(), "t_ha", "ha_enabled = true")
    cfg.write_text(text)
    p = start_fails(cfg)
    assert p.returncode == 1
    assert f"{cfg}:1:" in p.stderr and "ha_enabled = true needs api_addr" in p.stderr
    cfg.write_text(pg_hcl(pg_server.url(), free_port(), 'x\\"; DROP TABLE y; --'))
    p = start_fails(cfg)
    assert "may hold only letters, digits and '_'" in p.stderr


def test_database_down_then_back_without_restart(pg_trove):
    with running_server() as pg:
        srv = pg_trove(pg, "t_down")
        srv.init(1, 1)
        srv.unseal()
        c = srv.client(srv.root_token)
        c.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
        c.secrets.kv.v1.create_or_update_secret("before", secret={"v": 1}, mount_point="kv")

        pg.stop()
        for method, path, body in (("GET", "/v1/kv/before", None), ("POST", "/v1/kv/during", {"v": 2}),
                                   ("LIST", "/v1/kv/", None)):
            t0 = time.monotonic()
            r = srv.request(method, path, token=srv.root_token, json=body, timeout=60)
            took = time.monotonic() - t0
            assert 500 <= r.status_code < 600, (method, path, r.status_code, r.text)
            assert took < 20, f"{method} {path} took {took:.1f}s with the database down"
        assert "postgresql storage unreachable" in srv.proc.stderr_text()
        assert srv.get("/v1/sys/health").status_code in (200, 429, 472, 473, 501, 503)

        pg.start(keep_port=True)
        deadline = time.monotonic() + 20
        while True:
            r = srv.request("POST", "/v1/kv/after", token=srv.root_token, json={"v": 3})
            if r.status_code == 204 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 204, r.text
        assert c.secrets.kv.v1.read_secret("before", mount_point="kv")["data"] == {"v": 1}
        assert c.secrets.kv.v1.read_secret("after", mount_point="kv")["data"] == {"v": 3}
        assert "postgresql storage reachable again" in srv.proc.stderr_text()
        srv.proc.stop()


def signal_postgres(pg, sig):
    """Sends sig to the postmaster and every process it started (each
    backend is a session of its own, so a group signal misses them)."""
    pids = [pg.proc.pid]
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pg.proc.pid:
                pids.append(int(d.name))
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def test_database_that_answers_nothing_fails_in_bounded_time(pg_trove):
    """A PostgreSQL that is stopped (SIGSTOP: its sockets still accept and
    ack, nothing answers) makes calls fail after statement_timeout and the
    margin, not hang; once it runs again, calls succeed."""
    with running_server() as pg:
        dsn = pg.dsn(options="-c statement_timeout=1000")
        srv = pg_trove(pg, "t_stop", start=False)
        srv.config_path.write_text(srv.config_path.read_text().replace(pg.url(), dsn))
        srv.proc.start()
        srv.init(1, 1)
        srv.unseal()
        c = srv.client(srv.root_token)
        c.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
        c.secrets.kv.v1.create_or_update_secret("k", secret={"v": 1}, mount_point="kv")
        signal_postgres(pg, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = srv.request("POST", "/v1/kv/k2", token=srv.root_token, json={"v": 2}, timeout=60)
            took = time.monotonic() - t0
            print(f"stopped database: {r.status_code} after {took:.1f}s")
            assert 500 <= r.status_code < 600, r.text
            # 1 s statement_timeout + 5 s margin, then one reconnect bounded by connect_timeout (5 s)
            assert took < 15, f"took {took:.1f}s"
        finally:
            signal_postgres(pg, signal.SIGCONT)
        deadline = time.monotonic() + 20
        while True:
            r = srv.request("POST", "/v1/kv/k3", token=srv.root_token, json={"v": 3})
            if r.status_code == 204 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 204, r.text
        assert c.secrets.kv.v1.read_secret("k", mount_point="kv")["data"] == {"v": 1}
        srv.proc.stop()


def test_multi_host_connection_string(pg_server, pg_trove):
    """libpq's host list: the first host is dead, the second takes the
    connection (target_session_attrs=read-write)."""
    dead = free_port()
    dsn = pg_server.dsn(target_session_attrs="read-write").replace(
        "host=127.0.0.1 port=" + str(pg_server.port), f"host=127.0.0.1,127.0.0.1 port={dead},{pg_server.port}")
    srv = pg_trove(pg_server, "t_multi", start=False)
    srv.config_path.write_text(srv.config_path.read_text().replace(pg_server.url(), dsn))
    srv.proc.start()
    srv.init(1, 1)
    srv.unseal()
    assert rows(pg_server, "t_multi") > 0


def migrate(cfg_path, *flags):
    return run_cli(["operator", "migrate", f"-config={cfg_path}", *flags], timeout=120)


def test_migrate_lmdb_to_postgresql_and_back(pg_server, pg_trove, procs, log_dir, tmp_path):
    src = lmdb_trove(procs, log_dir, tmp_path / "src", "lmdb-src")
    src.proc.start()
    src.init(3, 2)
    src.unseal()
    root, keys = src.root_token, src.unseal_keys
    c = src.client(root)
    c.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    for i in range(30):
        c.secrets.kv.v2.create_or_update_secret(f"app/{i:02d}", secret={"n": i}, mount_point="secret")
    c.secrets.kv.v2.create_or_update_secret("odd key %'\"", secret={"n": "odd"}, mount_point="secret")
    c.sys.create_or_update_policy("p1", 'path "secret/*" { capabilities = ["read"] }\n')
    user = c.auth.token.create(policies=["p1"], ttl="1h")["auth"]["client_token"]
    src.proc.stop()

    mcfg = tmp_path / "to_pg.hcl"
    mcfg.write_text(f'storage_source "lmdb" {{\n  path = "{tmp_path / "src" / "data"}"\n}}\n'
                    f'storage_destination "postgresql" {{\n  connection_url = "{pg_server.url()}"\n'
                    '  table = "t_mig"\n}\n')
    p = migrate(mcfg)
    assert p.returncode == 0, p.stderr
    assert "Success! All of the keys have been migrated" in p.stderr
    copied = [ln.split("copied key: ", 1)[1] for ln in p.stderr.splitlines() if "copied key: " in ln]
    assert copied == bytewise(copied) and len(copied) == rows(pg_server, "t_mig")
    assert "core/migration" not in copied

    dst = pg_trove(pg_server, "t_mig")
    dst.unseal_keys = keys
    dst.unseal()
    d = dst.client(root)
    for i in range(30):
        assert d.secrets.kv.v2.read_secret_version(f"app/{i:02d}", mount_point="secret")["data"]["data"] == {"n": i}
    assert d.secrets.kv.v2.read_secret_version("odd key %'\"", mount_point="secret")["data"]["data"] == {"n": "odd"}
    assert dst.client(user).secrets.kv.v2.read_secret_version("app/07", mount_point="secret")["data"]["data"]
    d.secrets.kv.v2.create_or_update_secret("written/on-pg", secret={"n": "pg"}, mount_point="secret")
    dst.proc.stop()

    back = tmp_path / "back"
    back.mkdir()
    mcfg2 = tmp_path / "to_lmdb.hcl"
    mcfg2.write_text(f'storage_source "postgresql" {{\n  connection_url = "{pg_server.url()}"\n'
                     '  table = "t_mig"\n}\n'
                     f'storage_destination "lmdb" {{\n  path = "{back / "data"}"\n}}\n')
    p = migrate(mcfg2)
    assert p.returncode == 0, p.stderr
    again = lmdb_trove(procs, log_dir, back, "lmdb-back")
    again.proc.start()
    again.unseal_keys = keys
    again.unseal()
    e = again.client(root)
    assert e.secrets.kv.v2.read_secret_version("written/on-pg", mount_point="secret")["data"]["data"] == {"n": "pg"}
    assert e.secrets.kv.v2.read_secret_version("app/29", mount_point="secret")["data"]["data"] == {"n": 29}
    assert e.secrets.kv.v2.list_secrets("app", mount_point="secret")["data"]["keys"] == [f"{i:02d}" for i in range(30)]


def test_migration_lock(pg_server, pg_trove, tmp_path):
    srv = pg_trove(pg_server, "t_lock")
    srv.init(1, 1)
    srv.proc.stop()
    # a migration that died: its lock is still in the source
    pg_server.sql("INSERT INTO t_lock (key, parent_path, value) VALUES "
                  "(convert_to('core/migration', 'UTF8'), convert_to('core/', 'UTF8'), "
                  "convert_to('{\"start\":\"2026-01-02T03:04:05Z\"}', 'UTF8'))")
    mcfg = tmp_path / "m.hcl"
    dest = tmp_path / "dest"
    mcfg.write_text(f'storage_source "postgresql" {{\n  connection_url = "{pg_server.url()}"\n'
                    '  table = "t_lock"\n}\n'
                    f'storage_destination "lmdb" {{\n  path = "{dest}"\n}}\n')
    p = migrate(mcfg)
    assert p.returncode == 2
    assert "storage migration in progress (started: 2026-01-02T03:04:05Z)" in p.stderr
    p = start_fails(srv.config_path)
    assert "a storage migration is in progress (started: 2026-01-02T03:04:05Z)" in p.stderr

    p = migrate(mcfg, "-reset")
    assert p.returncode == 0 and "Migration lock reset" in p.stderr
    p = migrate(mcfg, "-start=core/seal")
    assert p.returncode == 0, p.stderr
    copied = [ln.split("copied key: ", 1)[1] for ln in p.stderr.splitlines() if "copied key: " in ln]
    assert copied and all(k >= "core/seal" for k in copied)
    # the lock is gone once the migration ends: the server starts
    srv.proc.start()
    assert srv.seal_status()["initialized"] is True


def test_migrate_failure_after_start_exits_2_and_names_the_key(pg_server, pg_trove, tmp_path):
    """A key LMDB cannot hold (over 511 bytes) stops a PostgreSQL -> LMDB
    migration: exit 2, the failing batch's first key named for -start,
    and the source's lock removed."""
    srv = pg_trove(pg_server, "t_fail")
    srv.init(1, 1)
    srv.unseal()
    c = srv.client(srv.root_token)
    c.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    c.secrets.kv.v1.create_or_update_secret("L" * 600, secret={"v": 1}, mount_point="kv")
    srv.proc.stop()
    mcfg = tmp_path / "m.hcl"
    mcfg.write_text(f'storage_source "postgresql" {{\n  connection_url = "{pg_server.url()}"\n'
                    '  table = "t_fail"\n}\n'
                    f'storage_destination "lmdb" {{\n  path = "{tmp_path / "dest"}"\n}}\n')
    p = migrate(mcfg)
    assert p.returncode == 2, p.stderr
    assert "Error migrating: write of key" in p.stderr and "resume with -start=" in p.stderr
    assert "Success" not in p.stderr
    assert pg_server.sql("SELECT count(*) FROM t_fail WHERE key = convert_to('core/migration', 'UTF8')") == "0"


def test_migrate_config_errors(tmp_path):
    cases = [
        ('storage_source "inmem" {}\nstorage_destination "lmdb" { path = "/tmp/x" }\n', "cannot be migrated"),
        ('storage_source "lmdb" { path = "/tmp/x" }\n', "no storage_destination block"),
        ('storage_source "lmdb" { path = "/tmp/x" }\nstorage_destination "raft" {}\n',
         'storage_destination "raft": unsupported storage type'),
        ('storage "lmdb" { path = "/tmp/x" }\n', 'unknown key "storage"'),
    ]
    for i, (text, needle) in enumerate(cases):
        f = tmp_path / f"bad{i}.hcl"
        f.write_text(text)
        p = migrate(f)
        assert p.returncode == 1, (text, p.stderr)
        assert needle in p.stderr, (text, p.stderr)
    p = run_cli(["operator", "migrate"])
    assert p.returncode == 1 and "-config" in p.stderr
    p = run_cli(["operator", "migrate", "-h"])
    assert p.returncode == 0 and "storage_source" in p.stdout
