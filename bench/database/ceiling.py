"""bench/database/ceiling.py MODE N PREFIX [STYLE] — writes to stdout a
psql script for N users named PREFIX-<i>, issuing the benchmark role's
statements directly (bench/database/run.sh times `psql -f` on it, one
session). STYLE is the GRANT: `table` (GRANT SELECT ON ALL TABLES IN
SCHEMA public TO the user, the default) or `member` (GRANT bench_read TO
the user). MODE:

  raw     CREATE ROLE; GRANT — each its own statement and round trip,
          autocommit
  tx      BEGIN; CREATE ROLE; GRANT; COMMIT — four round trips per user
  tx1     the same four sent as one query (psql's \\;): one round trip
          per user, one transaction
  drop    DROP OWNED BY; DROP ROLE for each user, one query per user

Passwords are 20 random characters, as Trove's default."""

import secrets
import string
import sys

ALPHABET = string.ascii_letters + string.digits + "-"
EXPIRATION = "2030-01-01 00:00:00+0000"

mode, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
style = sys.argv[4] if len(sys.argv) > 4 else "table"
out = []
for i in range(n):
    name = f"{prefix}-{i}"
    pw = "".join(secrets.choice(ALPHABET) for _ in range(20))
    create = f"CREATE ROLE \"{name}\" WITH LOGIN PASSWORD '{pw}' VALID UNTIL '{EXPIRATION}'"
    if style == "table":
        grant = f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{name}\""
    else:
        grant = f"GRANT bench_read TO \"{name}\""
    if mode == "raw":
        out.append(f"{create};\n{grant};\n")
    elif mode == "tx":
        out.append(f"BEGIN;\n{create};\n{grant};\nCOMMIT;\n")
    elif mode == "tx1":
        out.append(f"BEGIN\\; {create}\\; {grant}\\; COMMIT;\n")
    elif mode == "drop":
        out.append(f"DROP OWNED BY \"{name}\"\\; DROP ROLE \"{name}\";\n")
    else:
        sys.exit(f"unknown mode {mode}")
sys.stdout.write("".join(out))
