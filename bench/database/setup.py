"""bench/database/setup.py URL PG_URL MAX_OPEN REVOCATION — the database
benchmark's set-up: initialises and unseals the server, mounts
`database`, writes the connection `pg` (max_open_connections MAX_OPEN)
and three roles, default_ttl 1h: `bench` (CREATE ROLE, then GRANT SELECT
ON ALL TABLES IN SCHEMA public to the user), `bench-member` and
`bench-rev` (CREATE ROLE, then GRANT bench_read to the user). bench-rev's
revocation statements are, with REVOCATION `drop`, the ceiling's (DROP
OWNED BY, DROP ROLE) and with `default` the plugin's default. Reads one
credential to check. Prints the root token."""

import sys

sys.path.insert(0, "bench/lib")
from trove_api import call, ready_root  # noqa: E402

CREATE = "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; "
CREATION = {"table": CREATE + "GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\";",
            "member": CREATE + "GRANT bench_read TO \"{{name}}\";"}
DROP = "DROP OWNED BY \"{{name}}\"; DROP ROLE \"{{name}}\";"

url, pg_url, max_open, revocation = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
root = ready_root(url)
call(url, "POST", "/v1/sys/mounts/database", {"type": "database"}, root)
call(url, "POST", "/v1/database/config/pg", {
    "plugin_name": "postgresql-database-plugin", "connection_url": pg_url,
    "allowed_roles": "*", "max_open_connections": max_open}, root)
for name, style in (("bench", "table"), ("bench-member", "member"), ("bench-rev", "member")):
    role = {"db_name": "pg", "creation_statements": CREATION[style], "default_ttl": "1h", "max_ttl": "24h"}
    if name == "bench-rev" and revocation == "drop":
        role["revocation_statements"] = DROP
    call(url, "POST", f"/v1/database/roles/{name}", role, root)
out = call(url, "GET", "/v1/database/creds/bench", None, root)
assert out["data"]["username"].startswith("v-root-bench-"), out
print(root)
