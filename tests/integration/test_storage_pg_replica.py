"""A PostgreSQL streaming replica promoted under Trove (docs/ha.md,
"Several hosts, failover of the database" and "What happens when").

The suite's PostgreSQL with a synchronous streaming replica
(synchronous_standby_names names it, so a commit waits for the replica's
flush); two Trove servers with a multi-host connection_url
(`host=primary,replica ... target_session_attrs=read-write`): one alone
on its table, one with ha_enabled (it holds the HA lock, whose row is
replicated). Writes are acknowledged, the primary is stopped at once
(`immediate`: no shutdown checkpoint, as a crash), the replica promoted;
both servers take writes again within a bound, and every acknowledged
write is there.
"""

import os
import signal
import tempfile
import time
from pathlib import Path

from pg_server import running_server
from test_ha import ha_hcl
from test_storage_postgresql import pg_hcl
from trove_harness import TROVE_BIN, Server, TroveProcess, free_port, sanitizer_env

RESUME_LIMIT_S = 15.0


def multi_host_dsn(primary, replica):
    return (f"host=127.0.0.1,127.0.0.1 port={primary.port},{replica.port} user={primary.superuser} "
            f"password={primary.password} dbname=postgres target_session_attrs=read-write connect_timeout=2")


def write_until_acked(srv, path, body, limit):
    t0 = time.monotonic()
    while True:
        try:
            r = srv.request("POST", path, token=srv.root_token, json=body, timeout=10)
            if r.status_code == 204:
                return time.monotonic() - t0
        except Exception:  # noqa: BLE001  (a connection reset while the database moves)
            pass
        assert time.monotonic() - t0 < limit, f"no write acknowledged within {limit}s on {srv.url}"
        time.sleep(0.1)


def test_promoted_replica_takes_the_writes_and_keeps_every_acknowledged_one(procs, log_dir):
    with running_server() as primary:
        rdir = Path(tempfile.mkdtemp(prefix="trove-pg-replica-", dir=str(primary.dir.parent)))
        os.chmod(rdir, 0o755)  # the postgres user must reach its directory inside
        replica = primary.start_replica(rdir / "replica", "replica1")
        try:
            primary.sql("ALTER SYSTEM SET synchronous_standby_names = 'replica1'")
            primary.sql("SELECT pg_reload_conf()")
            deadline = time.monotonic() + 10
            while primary.sql("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'replica1'") \
                    != "sync":
                assert time.monotonic() < deadline, "the replica never became synchronous"
                time.sleep(0.05)

            dsn = multi_host_dsn(primary, replica)
            env = sanitizer_env()
            env.update(TROVE_HA_LOCK_TTL_MS="3000", TROVE_HA_RETRY_MS="300")
            servers = []
            for name, make in (("plain", lambda port: pg_hcl(dsn, port, "t_rep_plain")),
                               ("ha", lambda port: ha_hcl(dsn, port, "t_rep_ha"))):
                port = free_port()
                cfg = log_dir / f"{name}.hcl"
                cfg.write_text(make(port))
                url = f"http://127.0.0.1:{port}"
                proc = TroveProcess([TROVE_BIN, "server", "-config", cfg], log_dir, name, url + "/v1/sys/health",
                                    env=env)
                procs.append(proc)
                proc.start()
                srv = Server(proc, url)
                srv.init(1, 1)
                srv.unseal()
                servers.append(srv)
            plain, ha = servers
            deadline = time.monotonic() + 10
            while not ha.get("/v1/sys/leader").json()["is_self"]:
                assert time.monotonic() < deadline, "the HA node never took the lock"
                time.sleep(0.05)

            acked = {s.url: [] for s in servers}
            for s in servers:
                r = s.request("POST", "/v1/sys/mounts/kv", token=s.root_token, json={"type": "kv"})
                assert r.status_code == 204, r.text
                for i in range(20):
                    r = s.request("POST", f"/v1/kv/k{i}", token=s.root_token, json={"i": i})
                    assert r.status_code == 204, r.text
                    acked[s.url].append(i)

            # the primary dies as in a crash; the replica is promoted
            t0 = time.monotonic()
            primary.proc.send_signal(signal.SIGQUIT)  # pg_ctl stop -m immediate
            primary.proc.wait(15)
            assert replica.sql("SELECT pg_promote(true, 30)") == "t"

            for s in servers:
                took = write_until_acked(s, "/v1/kv/after", {"v": "after"}, RESUME_LIMIT_S)
                assert took < RESUME_LIMIT_S
            resumed = time.monotonic() - t0
            print(f"writes resumed {resumed:.2f}s after the primary died")
            assert resumed < RESUME_LIMIT_S, resumed

            for s in servers:
                for i in acked[s.url]:
                    r = s.get(f"/v1/kv/k{i}", token=s.root_token)
                    assert r.status_code == 200 and r.json()["data"] == {"i": i}, (s.url, i, r.text)
                assert s.get("/v1/kv/after", token=s.root_token).json()["data"] == {"v": "after"}
            # the HA node is (again) the active one, on the promoted server
            assert ha.get("/v1/sys/leader").json()["is_self"] is True
            assert replica.sql("SELECT count(*) FROM t_rep_ha_ha WHERE ha_key = 't_rep_ha'") == "1"
        finally:
            replica.stop()
