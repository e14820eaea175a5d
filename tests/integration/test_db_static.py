"""Static roles of the `database` engine against real servers: an existing
PostgreSQL 15 user (pg_server.py) and MariaDB user (mariadb_server.py) get
their passwords rotated by Trove. The old password stops working and the
answered one works; rotation_period=5s rotates by itself; rotate-role;
a restart of Trove on LMDB keeps the role and its schedule; hvac's static
role methods and `trove read database/static-creds/x`; a token allowed
only static-creds/x gets 403 elsewhere."""

import re
import secrets
import time

import hvac.exceptions
import pytest

from mariadb_server import ROOT_PASSWORD, mariadb  # noqa: F401  (a pytest fixture)
from pg_server import pg_server  # noqa: F401  (a pytest fixture)
from trove_harness import run_cli

RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def mount(srv):
    r = srv.put("/v1/sys/mounts/database", token=srv.root_token, json={"type": "database"})
    assert r.status_code == 204, r.text


def creds(srv, role):
    r = srv.get(f"/v1/database/static-creds/{role}", token=srv.root_token)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for_new_password(srv, role, old, timeout=25):
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = creds(srv, role)["data"]
        if d["password"] != old:
            return d
        time.sleep(0.5)
    raise AssertionError(f"{role}: the password was not rotated within {timeout} s")


def pg_user(pg):
    name = "svc_" + secrets.token_hex(4)
    pw = "Init-" + secrets.token_hex(8)
    pg.sql(f"CREATE ROLE {name} WITH LOGIN PASSWORD '{pw}'")
    assert pg.can_login(name, pw)[0]
    return name, pw


def pg_connection(srv, pg):
    r = srv.put("/v1/database/config/pg", token=srv.root_token,
                json={"plugin_name": "postgresql-database-plugin",
                      "connection_url": f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{pg.port}/postgres",
                      "username": pg.superuser, "password": pg.password, "allowed_roles": "*"})
    assert r.status_code == 204, r.text


def test_postgres_rotation_period_restart_and_hvac(pg_server, unsealed_server):  # noqa: F811
    srv = unsealed_server
    mount(srv)
    pg_connection(srv, pg_server)
    user, initial = pg_user(pg_server)
    c = srv.client(srv.root_token)
    c.secrets.database.create_static_role(
        "app", db_name="pg", username=user,
        rotation_statements=["ALTER ROLE \"{{name}}\" WITH PASSWORD '{{password}}';"], rotation_period=3600)
    d = c.secrets.database.get_static_credentials("app")
    assert d["lease_id"] == "" and d["lease_duration"] == 0  # no lease, as Vault
    d = d["data"]
    assert d["username"] == user and d["rotation_period"] == 3600
    assert 3590 <= d["ttl"] <= 3600 and isinstance(d["ttl"], int)
    assert RFC3339_NANO.match(d["last_vault_rotation"]), d["last_vault_rotation"]
    # created: rotated at once; the old password fails, the answered one works
    assert not pg_server.can_login(user, initial)[0]
    assert pg_server.can_login(user, d["password"])[0]
    assert c.secrets.database.list_static_roles()["data"]["keys"] == ["app"]
    role = srv.get("/v1/database/static-roles/app", token=srv.root_token).json()["data"]
    assert role["username"] == user and role["db_name"] == "pg" and d["password"] not in str(role)

    # rotate-role: a new password, the previous one fails
    r = srv.put("/v1/database/rotate-role/app", token=srv.root_token)
    assert r.status_code == 204, r.text
    d2 = creds(srv, "app")["data"]
    assert d2["password"] != d["password"]
    assert not pg_server.can_login(user, d["password"])[0]
    assert pg_server.can_login(user, d2["password"])[0]

    # the CLI reads the current password
    p = run_cli(["read", "-format=json", "database/static-creds/app"],
                env={"VAULT_ADDR": srv.url, "VAULT_TOKEN": srv.root_token, "HOME": "/nonexistent-home"})
    assert p.returncode == 0, p.stderr
    assert d2["password"] in p.stdout and user in p.stdout

    # rotation_period=5s: rotates by itself
    r = srv.put("/v1/database/static-roles/app", token=srv.root_token, json={"rotation_period": "5s"})
    assert r.status_code == 204, r.text
    d3 = wait_for_new_password(srv, "app", d2["password"])
    assert pg_server.can_login(user, d3["password"])[0]
    assert not pg_server.can_login(user, d2["password"])[0]

    # a restart on LMDB keeps the role and its schedule
    srv.proc.restart()
    srv.unseal()
    d4 = creds(srv, "app")["data"]
    assert d4["username"] == user and d4["rotation_period"] == 5
    d5 = wait_for_new_password(srv, "app", d4["password"])
    assert pg_server.can_login(user, d5["password"])[0]

    # deleting the role stops the rotation; the password stays as it is
    r = srv.put("/v1/database/static-roles/app", token=srv.root_token, json={"rotation_period": "1h"})
    assert r.status_code == 204, r.text
    last = creds(srv, "app")["data"]["password"]
    c.secrets.database.delete_static_role("app")
    time.sleep(6)
    assert pg_server.can_login(user, last)[0]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        c.secrets.database.get_static_credentials("app")


def test_postgres_refused_first_rotation_stores_nothing(pg_server, unsealed_server):  # noqa: F811
    srv = unsealed_server
    mount(srv)
    pg_connection(srv, pg_server)
    r = srv.put("/v1/database/static-roles/ghost", token=srv.root_token,
                json={"db_name": "pg", "username": "no_such_user_" + secrets.token_hex(3),
                      "rotation_period": "1h"})
    assert r.status_code == 502, r.text
    assert "does not exist" in r.text
    assert srv.get("/v1/database/static-roles/ghost", token=srv.root_token).status_code == 404


def test_mariadb_rotation(mariadb, unsealed_server):  # noqa: F811
    srv = unsealed_server
    mount(srv)
    r = srv.put("/v1/database/config/my", token=srv.root_token,
                json={"plugin_name": "mysql-database-plugin",
                      "connection_url": f"{{{{username}}}}:{{{{password}}}}@tcp({mariadb.host}:{mariadb.port})/db",
                      "username": "root", "password": ROOT_PASSWORD, "allowed_roles": "svc"})
    assert r.status_code == 204, r.text
    user, initial = "svc_" + secrets.token_hex(4), "Init-" + secrets.token_hex(8)
    mariadb.sql(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{initial}'")
    assert mariadb.can_login(user, initial)
    # not allowed by the connection: refused before anything runs
    r = srv.put("/v1/database/static-roles/other", token=srv.root_token,
                json={"db_name": "my", "username": user, "rotation_period": 60})
    assert r.status_code == 400 and "not an allowed role" in r.text
    assert mariadb.can_login(user, initial)

    r = srv.put("/v1/database/static-roles/svc", token=srv.root_token,
                json={"db_name": "my", "username": user, "rotation_schedule": "0 */6 * * *",
                      "rotation_window": "1h"})
    assert r.status_code == 204, r.text
    d = creds(srv, "svc")["data"]
    assert d["rotation_schedule"] == "0 */6 * * *" and d["rotation_window"] == 3600
    assert "rotation_period" not in d and 0 < d["ttl"] <= 6 * 3600
    assert not mariadb.can_login(user, initial)
    assert mariadb.can_login(user, d["password"])

    r = srv.put("/v1/database/rotate-role/svc", token=srv.root_token)
    assert r.status_code == 204, r.text
    d2 = creds(srv, "svc")["data"]
    assert d2["password"] != d["password"] and d2["last_vault_rotation"] >= d["last_vault_rotation"]
    assert not mariadb.can_login(user, d["password"])
    assert mariadb.can_login(user, d2["password"])

    # rotation_period=5s (the schedule dropped): rotates by itself
    r = srv.put("/v1/database/static-roles/svc", token=srv.root_token, json={"rotation_period": 5})
    assert r.status_code == 204, r.text
    d3 = wait_for_new_password(srv, "svc", d2["password"])
    assert "rotation_schedule" not in d3 and d3["rotation_period"] == 5
    assert mariadb.can_login(user, d3["password"])
    r = srv.put("/v1/database/static-roles/svc", token=srv.root_token, json={"rotation_period": "1h"})
    assert r.status_code == 204, r.text
    d2 = creds(srv, "svc")["data"]

    # a database that refuses: the current password stays current and works
    mariadb.sql(f"DROP USER '{user}'@'%'")
    mariadb.sql(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{d2['password']}'")
    r = srv.put("/v1/database/static-roles/svc", token=srv.root_token,
                json={"rotation_statements": "ALTER USER 'nobody_here'@'%' IDENTIFIED BY '{{password}}'"})
    assert r.status_code == 204, r.text
    r = srv.put("/v1/database/rotate-role/svc", token=srv.root_token)
    assert r.status_code == 502, r.text
    assert creds(srv, "svc")["data"]["password"] == d2["password"]
    assert mariadb.can_login(user, d2["password"])


def test_token_allowed_only_static_creds(dev_server):
    mount(dev_server)
    root = dev_server.client(dev_server.root_token)
    root.sys.create_or_update_policy("static-x", 'path "database/static-creds/x" { capabilities = ["read"] }')
    tok = root.auth.token.create(policies=["static-x"])["auth"]["client_token"]
    # through the ACL (and refused: no such role); everything else is 403
    r = dev_server.get("/v1/database/static-creds/x", token=tok)
    assert r.status_code == 400 and "unknown static role" in r.text
    for method, path in [("GET", "/v1/database/static-creds/y"), ("GET", "/v1/database/static-roles/x"),
                         ("PUT", "/v1/database/static-roles/x"), ("DELETE", "/v1/database/static-roles/x"),
                         ("LIST", "/v1/database/static-roles"), ("PUT", "/v1/database/rotate-role/x"),
                         ("GET", "/v1/database/creds/x"), ("GET", "/v1/database/config/pg")]:
        kw = {"json": {}} if method == "PUT" else {}
        assert dev_server.request(method, path, token=tok, **kw).status_code == 403, (method, path)
