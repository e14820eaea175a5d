"""Several `database/creds` requests at once against a real PostgreSQL 15,
with the statements most roles use (GRANT SELECT ON ALL TABLES IN SCHEMA
public): PostgreSQL fails all but one of concurrent GRANTs on the same
table ("tuple concurrently updated", or a deadlock), and the engine runs a
transaction that lost such a race once more with its pool to itself, so
every request gets a working user. Their revocation, several at once, drops
every one of them."""

import concurrent.futures
import time

import pytest

from pg_server import pg_server  # noqa: F401  (the fixture)

CREATION = ("CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; "
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\";")
TABLES = 6
READS = 48
CONCURRENCY = 8


@pytest.fixture
def db(dev_server, pg_server):  # noqa: F811
    for i in range(TABLES):
        pg_server.sql(f"CREATE TABLE IF NOT EXISTS conc_t{i} (id int)")
    tok = dev_server.root_token
    r = dev_server.request("POST", "/v1/sys/mounts/database", token=tok, json={"type": "database"})
    assert r.status_code in (200, 204), r.text
    r = dev_server.request("POST", "/v1/database/config/pg", token=tok, json={
        "plugin_name": "postgresql-database-plugin", "connection_url": pg_server.url(),
        "allowed_roles": "*", "max_open_connections": CONCURRENCY})
    assert r.status_code in (200, 204), r.text
    r = dev_server.request("POST", "/v1/database/roles/ro", token=tok, json={
        "db_name": "pg", "creation_statements": CREATION, "default_ttl": "1h"})
    assert r.status_code in (200, 204), r.text
    return dev_server


def read_creds(server):
    r = server.get("/v1/database/creds/ro", token=server.root_token, timeout=30)
    return r.status_code, r.json()


def test_concurrent_creds_granting_on_the_same_tables_all_succeed(db, pg_server):  # noqa: F811
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as ex:
        results = list(ex.map(lambda _: read_creds(db), range(READS)))
    failed = [body for status, body in results if status != 200]
    assert not failed, f"{len(failed)} of {READS} failed, first: {failed[0]}"
    users = [body["data"]["username"] for _, body in results]
    assert len(set(users)) == READS
    for user in users[:: READS // 6]:
        assert pg_server.role_exists(user)
        lit = "'" + user + "'"
        granted = pg_server.sql(f"SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND "
                                f"tablename LIKE 'conc_t%' AND has_table_privilege({lit}, "
                                f"'public.' || tablename, 'SELECT')")
        assert granted == str(TABLES)
    ok, out = pg_server.can_login(users[0], results[0][1]["data"]["password"], "SELECT count(*) FROM conc_t0")
    assert ok, out

    # every lease due at once: the expiration workers revoke them side by side
    r = db.put("/v1/sys/leases/revoke-prefix/database/creds/ro", token=db.root_token, json={"sync": False})
    assert r.status_code in (200, 204), r.text
    like = "'v-root-ro-%'"
    deadline = time.monotonic() + 60
    left = None
    while time.monotonic() < deadline:
        left = pg_server.sql(f"SELECT count(*) FROM pg_roles WHERE rolname LIKE {like}")
        if left == "0":
            break
        time.sleep(0.2)
    assert left == "0", f"{left} users left after revocation"
