"""Several Trove nodes over one PostgreSQL: what a node must do so that the
others, and its own event loops, stay right.

Covered here: reads on postgresql storage run off the event loop (a frozen
database does not stall sys/health)."""

import signal
import threading
import time

import pytest

from pg_server import pg_server, running_server  # noqa: F401  (the fixture)
from test_storage_postgresql import pg_trove, signal_postgres  # noqa: F401  (the fixture)


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
