"""The database engine end to end against a real MariaDB with
`mysql-database-plugin` (and the 16-character names of
`mysql-legacy-database-plugin`): a Trove on LMDB, hvac and the `trove`
CLI, logins with the issued credentials (SELECT yes, INSERT no), DROP USER
on revoke and on expiry, a failed creation leaving no user although MySQL
commits DDL at once, rotate-root, secrets kept out of answers and the
audit log, and TLS with `tls_ca`."""

import json
import re
import secrets
import time

import pytest

from mariadb_server import mariadb, mariadb_tls  # noqa: F401  (module fixtures)
from trove_harness import run_cli

PLUGIN = "mysql-database-plugin"
CREATE = "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON db.* TO '{{name}}'@'%';"
TEMPLATE_DSN = "{{username}}:{{password}}@tcp(127.0.0.1:%d)/db"


@pytest.fixture
def trove(audited_server):
    srv, log = audited_server
    r = srv.put("/v1/sys/mounts/database", token=srv.root_token, json={"type": "database"})
    assert r.status_code == 204, r.text
    srv.audit_log = log
    return srv


def configure(srv, server, plugin=PLUGIN, user="root", password=None, **extra):
    srv.client(srv.root_token).secrets.database.configure(
        "my", plugin, verify_connection=True, allowed_roles=["*"],
        connection_url=TEMPLATE_DSN % server.port, username=user,
        password=password or server.root_password, **extra)


def make_role(srv, role, creation=CREATE, **kw):
    srv.client(srv.root_token).secrets.database.create_role(role, db_name="my", creation_statements=creation, **kw)


def creds(srv, role):
    r = srv.client(srv.root_token).secrets.database.generate_credentials(role)
    return r["data"]["username"], r["data"]["password"], r["lease_id"], r


def users_like(server, like):
    return int(server.sql(f"SELECT COUNT(*) FROM mysql.user WHERE User LIKE '{like}'").strip())


def wait_no_user(server, user, within):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not server.user_exists(user):
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"{user} still in mysql.user after {within}s")


def admin_user(server):
    """A root-like user at '%' (the default rotation statement's host)."""
    name, pw = "tadm" + secrets.token_hex(3), "Adm:@/#%?&-" + secrets.token_hex(6)
    server.sql(f"CREATE USER '{name}'@'%' IDENTIFIED BY {server.quote(pw)}; "
               f"GRANT ALL PRIVILEGES ON *.* TO '{name}'@'%' WITH GRANT OPTION;")
    return name, pw


def test_creds_select_yes_insert_no_and_revoke_drops_the_user(trove, mariadb):
    configure(trove, mariadb)
    make_role(trove, "ro", default_ttl="1h")
    user, password, lease_id, resp = creds(trove, "ro")
    # Vault's template cut to 32: the unix time loses all but its first digit
    assert re.fullmatch(r"v-root-ro-[A-Za-z0-9]{20}-\d", user) and len(user) == 32, user
    assert resp["lease_duration"] == 3600
    sel = mariadb.login(user, password, "SELECT COUNT(*) FROM db.t")
    assert sel.returncode == 0 and sel.stdout.strip() == "1", sel.stderr
    ins = mariadb.login(user, password, "INSERT INTO db.t VALUES (5)")
    assert ins.returncode != 0 and "INSERT command denied" in ins.stderr, ins.stderr
    r = trove.put("/v1/sys/leases/revoke", token=trove.root_token, json={"lease_id": lease_id, "sync": True})
    assert r.status_code == 204, r.text
    assert not mariadb.user_exists(user)
    assert not mariadb.can_login(user, password)


def test_cli_read_renew_and_revoke(trove, mariadb):
    configure(trove, mariadb)
    make_role(trove, "cli", default_ttl="60s", max_ttl="1h")
    env = {"VAULT_ADDR": trove.url, "VAULT_TOKEN": trove.root_token, "HOME": "/nonexistent-home"}
    p = run_cli(["read", "-format=json", "database/creds/cli"], env=env)
    assert p.returncode == 0, p.stderr
    body = json.loads(p.stdout)
    user, password, lease_id = body["data"]["username"], body["data"]["password"], body["lease_id"]
    assert mariadb.can_login(user, password)
    # MySQL users do not expire: renewal moves only the lease
    p = run_cli(["lease", "renew", "-increment=30m", lease_id], env=env)
    assert p.returncode == 0 and re.search(r"^lease_duration\s+30m", p.stdout, re.M), p.stdout + p.stderr
    assert mariadb.can_login(user, password)
    p = run_cli(["lease", "revoke", "-sync", lease_id], env=env)
    assert p.returncode == 0, p.stderr
    assert not mariadb.user_exists(user)


def test_revoke_prefix_and_expiry_drop_users(trove, mariadb):
    configure(trove, mariadb)
    make_role(trove, "many")
    make_role(trove, "short", default_ttl="3s")
    made = [creds(trove, "many")[0] for _ in range(3)]
    short, _, _, _ = creds(trove, "short")
    t0 = time.monotonic()
    r = trove.put("/v1/sys/leases/revoke-prefix/database/creds/many", token=trove.root_token, json={"sync": True})
    assert r.status_code == 204, r.text
    for u in made:
        wait_no_user(mariadb, u, 10)
    gone = wait_no_user(mariadb, short, 15)
    assert gone - t0 < 3 + 2 + 2, gone - t0


def test_failed_creation_leaves_no_user_and_no_lease(trove, mariadb):
    configure(trove, mariadb)
    # CREATE USER commits at once; the GRANT then fails: the engine drops
    # the user again with the default revocation statements
    make_role(trove, "broken", creation="CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; "
                                        "GRANT SELECT ON db.no_such_table TO '{{name}}'@'%';")
    r = trove.get("/v1/database/creds/broken", token=trove.root_token)
    assert r.status_code == 502 and "1146" in r.text and "statement 2" in r.text, r.text
    assert users_like(mariadb, "v-root-broken-%") == 0
    r = trove.request("LIST", "/v1/sys/leases/lookup/database/creds/broken/", token=trove.root_token)
    assert r.status_code == 404 or r.json()["data"]["keys"] == [], r.text


def test_legacy_plugin_names_are_16_characters(trove, mariadb):
    configure(trove, mariadb, plugin="mysql-legacy-database-plugin")
    make_role(trove, "legacyrole")
    for _ in range(3):
        user, password, lease_id, _ = creds(trove, "legacyrole")
        assert len(user) == 16 and user.startswith("v-lega-"), user
        assert mariadb.can_login(user, password)
    r = trove.put("/v1/sys/leases/revoke-prefix/database/creds/legacyrole", token=trove.root_token)
    assert r.status_code == 204
    wait_no_user(mariadb, user, 10)


def test_rotate_root_and_passwords_kept_out_of_the_audit_log(trove, mariadb):
    admin, admin_pw = admin_user(mariadb)
    configure(trove, mariadb, user=admin, password=admin_pw)
    make_role(trove, "ro")
    texts = [trove.get("/v1/database/config/my", token=trove.root_token).text]
    user, password, _, _ = creds(trove, "ro")
    trove.client(trove.root_token).secrets.database.rotate_root_credentials("my")
    assert not mariadb.can_login(admin, admin_pw)
    user2, password2, _, _ = creds(trove, "ro")
    assert mariadb.can_login(user2, password2)
    texts.append(trove.get("/v1/database/config/my", token=trove.root_token).text)
    for t in texts:
        assert admin_pw not in t and "Adm:" not in t
    log = trove.audit_log.read_text()
    assert "hmac-sha256:" in log
    for secret in (admin_pw, password, password2):
        assert secret not in log


def test_tls_with_tls_ca(trove, mariadb_tls):
    srv = mariadb_tls
    configure(trove, srv, tls_ca=srv.tls.ca_cert.read_text())
    conn = trove.client(trove.root_token).secrets.database.read_connection("my")["data"]
    assert "tls_certificate_key" not in json.dumps(conn)
    make_role(trove, "ro")
    user, password, lease_id, _ = creds(trove, "ro")
    assert srv.can_login(user, password)  # over TLS: the server requires it
    r = trove.put("/v1/sys/leases/revoke", token=trove.root_token, json={"lease_id": lease_id, "sync": True})
    assert r.status_code == 204
    assert not srv.user_exists(user)
    # without the CA the server refuses the plain connection: nothing stored
    r = trove.put("/v1/database/config/plain", token=trove.root_token,
                  json={"plugin_name": PLUGIN, "connection_url": TEMPLATE_DSN % srv.port, "username": "root",
                        "password": srv.root_password, "allowed_roles": "*"})
    assert r.status_code == 400 and srv.root_password not in r.text, r.text
    assert trove.get("/v1/database/config/plain", token=trove.root_token).status_code == 404
