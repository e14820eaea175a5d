"""bench/storage_pg/pg.py DIR — starts a throwaway PostgreSQL 15 for the
storage benchmark in DIR (tests/integration/pg_server.py's: loopback,
SCRAM logins, the suite's settings) and leaves it running. Prints
"PORT PASSWORD PID"; the caller stops it with SIGINT to PID."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "integration"))
from pg_server import PgServer, available  # noqa: E402

if not available():
    sys.exit("bench: PostgreSQL 15 server binaries are not installed (/usr/lib/postgresql/15/bin)")
top = Path(sys.argv[1])
top.mkdir(parents=True, exist_ok=True)
os.chmod(top, 0o755)  # the postgres user reaches its directory inside
srv = PgServer(top / "pg").start()
# The raw rate's table: Trove's layout (docs/decisions/0013).
srv.sql("CREATE TABLE bench_raw (key bytea PRIMARY KEY, parent_path bytea NOT NULL, value bytea NOT NULL)")
srv.sql("CREATE INDEX bench_raw_parent_path ON bench_raw (parent_path)")
print(srv.port, srv.password, srv.proc.pid)
