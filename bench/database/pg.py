"""bench/database/pg.py DIR [PASSWORD_ENCRYPTION] — starts a throwaway
PostgreSQL 15 for the database benchmark in DIR (tests/integration/
pg_server.py's: SCRAM logins on loopback, fsync off) and leaves it
running. Prints "PORT PASSWORD PID"; the caller stops it with SIGINT to
PID. PASSWORD_ENCRYPTION (scram-sha-256, the default, or md5) is how the
server stores the passwords that CREATE ROLE is given; the root user
logs in with SCRAM either way. A few tables are made in the public
schema so that GRANT SELECT ON ALL TABLES has work to do, and the role
bench_read (NOLOGIN) holding SELECT on them, for users made members of
it."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "integration"))
from pg_server import PgServer, available  # noqa: E402

TABLES = 8

if not available():
    sys.exit("bench: PostgreSQL 15 server binaries are not installed (/usr/lib/postgresql/15/bin)")
top = Path(sys.argv[1])
top.mkdir(parents=True, exist_ok=True)
os.chmod(top, 0o755)  # the postgres user reaches its directory inside
enc = sys.argv[2] if len(sys.argv) > 2 else "scram-sha-256"
srv = PgServer(top / "pg").start()
srv.sql(f"ALTER SYSTEM SET password_encryption = '{enc}'")
srv.sql("SELECT pg_reload_conf()")
for i in range(TABLES):
    srv.sql(f"CREATE TABLE IF NOT EXISTS bench_t{i} (id int primary key, v text)")
srv.sql("CREATE ROLE bench_read NOLOGIN")
srv.sql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO bench_read")
print(srv.port, srv.password, srv.proc.pid)
