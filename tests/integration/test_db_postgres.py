"""The database engine end to end against a real PostgreSQL 15 (SCRAM
required; also TLS with sslmode=verify-full): a Trove on LMDB with a file
audit device, hvac's `secrets.database` methods and the `trove` CLI
(`read database/creds/ro`, `lease renew|revoke`), logins with the issued
credentials through psql, renewal, revocation, expiry (also across a
restart of Trove), a failed creation, rotate-root, secrets kept out of
answers and the audit log, and a token allowed only `database/creds/ro`."""

import json
import re
import secrets
import threading
import time
from datetime import datetime, timezone

import hvac.exceptions
import pytest

from pg_server import pg_server, pg_tls_server  # noqa: F401  (module fixtures)
from trove_harness import run_cli

PLUGIN = "postgresql-database-plugin"
CREATE = [
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
    "GRANT SELECT ON public.items TO \"{{name}}\";",
]


@pytest.fixture(scope="module")
def pg(pg_server):
    pg_server.sql("CREATE TABLE IF NOT EXISTS public.items (i int); INSERT INTO public.items VALUES (1), (2)")
    return pg_server


@pytest.fixture
def trove(audited_server):
    """An unsealed Trove on LMDB with a file audit device and `database/`."""
    srv, log = audited_server
    r = srv.put("/v1/sys/mounts/database", token=srv.root_token, json={"type": "database"})
    assert r.status_code == 204, r.text
    srv.audit_log = log
    return srv


def template_url(server, **params):
    q = "&".join(f"{k}={v}" for k, v in params.items())
    return f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{server.port}/postgres" + (f"?{q}" if q else "")


def configure(srv, server, name="pg", user=None, password=None, url=None, **extra):
    c = srv.client(srv.root_token)
    c.secrets.database.configure(
        name, PLUGIN, verify_connection=True, allowed_roles=["*"],
        connection_url=url or template_url(server),
        username=user or server.superuser, password=password or server.password, **extra)


def make_role(srv, role, db="pg", creation=None, **kw):
    srv.client(srv.root_token).secrets.database.create_role(
        role, db_name=db, creation_statements=creation or CREATE, **kw)


def creds(srv, role, token=None):
    r = srv.client(token or srv.root_token).secrets.database.generate_credentials(role)
    return r["data"]["username"], r["data"]["password"], r["lease_id"], r


def cli(srv, *args, token=None):
    env = {"VAULT_ADDR": srv.url, "VAULT_TOKEN": token or srv.root_token, "HOME": "/nonexistent-home"}
    return run_cli(list(args), env=env)


def lookup(srv, lease_id):
    return srv.put("/v1/sys/leases/lookup", token=srv.root_token, json={"lease_id": lease_id})


def valid_until(pg, user):
    got = pg.sql(f"SELECT extract(epoch FROM rolvaliduntil)::bigint FROM pg_roles WHERE rolname = '{user}'")
    return int(got)


def wait_gone(pg, user, within):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not pg.role_exists(user):
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"{user} still in pg_roles after {within}s")


def role_count(pg, like):
    return int(pg.sql(f"SELECT count(*) FROM pg_roles WHERE rolname LIKE '{like}'"))


def test_creds_through_hvac_select_yes_insert_no(trove, pg):
    configure(trove, pg)
    conn = trove.client(trove.root_token).secrets.database.read_connection("pg")["data"]
    assert conn["plugin_name"] == PLUGIN and conn["verify_connection"] is True
    assert pg.password not in json.dumps(conn)
    make_role(trove, "ro", default_ttl="1h", max_ttl="24h")
    user, password, lease_id, resp = creds(trove, "ro")
    assert re.fullmatch(r"v-root-ro-[A-Za-z0-9]{20}-\d{10}", user), user
    assert lease_id.startswith("database/creds/ro/") and resp["lease_duration"] == 3600 and resp["renewable"]
    assert pg.sql(f"SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '{user}'") == "t"
    ok, out = pg.can_login(user, password, "SELECT count(*) FROM public.items")
    assert ok and out == "2", out
    ok, out = pg.can_login(user, password, "INSERT INTO public.items VALUES (3)")
    assert not ok and "permission denied" in out, out
    assert not pg.can_login(user, "wrong-" + password)[0]


def test_concurrent_creds_granting_on_one_table(trove, pg):
    """PostgreSQL fails one of two concurrent GRANTs on one table ("tuple
    concurrently updated"); the plugin runs such a transaction again."""
    configure(trove, pg)
    make_role(trove, "busy")
    results = []

    def worker():
        for _ in range(6):
            r = trove.get("/v1/database/creds/busy", token=trove.root_token)
            results.append((r.status_code, r.text))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert len(results) == 48
    assert [t for s, t in results if s != 200] == []
    assert role_count(pg, "v-root-busy-%") == 48


def test_creds_through_cli_read(trove, pg):
    configure(trove, pg)
    make_role(trove, "ro")
    p = cli(trove, "read", "-format=json", "database/creds/ro")
    assert p.returncode == 0, p.stderr
    body = json.loads(p.stdout)
    user, password = body["data"]["username"], body["data"]["password"]
    assert body["lease_id"].startswith("database/creds/ro/")
    ok, out = pg.can_login(user, password, "SELECT count(*) FROM public.items")
    assert ok and out == "2", out
    # the table form names the lease and both fields
    p = cli(trove, "read", "database/creds/ro")
    assert p.returncode == 0 and re.search(r"^username\s+v-root-ro-", p.stdout, re.M), p.stdout


def test_cli_lease_renew_extends_valid_until(trove, pg):
    configure(trove, pg)
    make_role(trove, "renewme", default_ttl="60s", max_ttl="2h")
    user, _, lease_id, _ = creds(trove, "renewme")
    before = valid_until(pg, user)
    assert abs(before - (time.time() + 60)) < 15, before
    p = cli(trove, "lease", "renew", "-increment=30m", lease_id)
    assert p.returncode == 0, p.stderr
    assert re.search(r"^lease_duration\s+30m", p.stdout, re.M), p.stdout
    after = valid_until(pg, user)
    assert abs(after - (time.time() + 1800)) < 15, (before, after)
    # the role's max_ttl caps a renewal, in the database too
    p = cli(trove, "lease", "renew", "-increment=10h", lease_id)
    assert p.returncode == 0, p.stderr
    issue = datetime.fromisoformat(lookup(trove, lease_id).json()["data"]["issue_time"].replace("Z", "+00:00"))
    assert abs(valid_until(pg, user) - (issue.timestamp() + 7200)) < 15


def test_cli_lease_revoke_drops_user_and_ends_its_session(trove, pg):
    configure(trove, pg)
    make_role(trove, "revokeme")
    user, password, lease_id, _ = creds(trove, "revokeme")
    sess = pg.session(user, password)
    try:
        sess.stdin.write("SELECT 'hello';\n")
        sess.stdin.flush()
        assert sess.stdout.readline().strip() == "hello"
        p = cli(trove, "lease", "revoke", "-sync", lease_id)
        assert p.returncode == 0 and "Revoked lease" in p.stdout, p.stdout + p.stderr
        assert not pg.role_exists(user)
        sess.stdin.write("SELECT 'still here';\n")
        sess.stdin.flush()
        sess.stdin.close()
        assert "still here" not in sess.stdout.read()
        assert sess.wait(timeout=10) != 0
    finally:
        if sess.poll() is None:
            sess.kill()
            sess.wait()
    assert not pg.can_login(user, password)[0]
    assert lookup(trove, lease_id).status_code == 400


def test_revoke_prefix_drops_every_user(trove, pg):
    configure(trove, pg)
    make_role(trove, "prefixed")
    made = [creds(trove, "prefixed")[:2] for _ in range(3)]
    assert all(pg.role_exists(u) for u, _ in made)
    r = trove.put("/v1/sys/leases/revoke-prefix/database/creds/prefixed", token=trove.root_token,
                  json={"sync": True})
    assert r.status_code == 204, r.text
    for u, pw in made:
        wait_gone(pg, u, 10)
        assert not pg.can_login(u, pw)[0]
    r = trove.request("LIST", "/v1/sys/leases/lookup/database/creds/prefixed/", token=trove.root_token)
    assert r.status_code == 404 or r.json()["data"]["keys"] == [], r.text


def test_short_ttl_expires_and_drops_the_user_on_time(trove, pg):
    configure(trove, pg)
    make_role(trove, "short", default_ttl="3s", max_ttl="1h")
    user, password, _, resp = creds(trove, "short")
    t0 = time.monotonic()
    assert resp["lease_duration"] == 3
    assert pg.can_login(user, password)[0]
    gone = wait_gone(pg, user, 15)
    # within the lease (3 s) and the expiration manager's two seconds
    assert 2 <= gone - t0 < 3 + 2 + 2, gone - t0
    assert not pg.can_login(user, password)[0]


def test_failed_creation_leaves_no_role_and_no_lease(trove, pg):
    configure(trove, pg)
    make_role(trove, "broken", creation=CREATE[:1] + ["GRANT SELECT ON public.no_such_table TO \"{{name}}\";"])
    before = role_count(pg, "v-root-broken-%")
    r = trove.get("/v1/database/creds/broken", token=trove.root_token)
    assert r.status_code == 502, r.text
    assert "no_such_table" in r.text and "statement 2" in r.text
    assert role_count(pg, "v-root-broken-%") == before == 0
    r = trove.request("LIST", "/v1/sys/leases/lookup/database/creds/broken/", token=trove.root_token)
    assert r.status_code == 404 or r.json()["data"]["keys"] == [], r.text


def test_rotate_root_old_password_fails_and_trove_still_works(trove, pg):
    admin, admin_pw = "trove_admin_" + secrets.token_hex(3), "Adm1n-" + secrets.token_hex(8)
    pg.sql(f"CREATE ROLE {admin} LOGIN SUPERUSER PASSWORD '{admin_pw}'")
    configure(trove, pg, user=admin, password=admin_pw)
    make_role(trove, "afterrot")
    assert pg.can_login(admin, admin_pw)[0]
    trove.client(trove.root_token).secrets.database.rotate_root_credentials("pg")
    ok, out = pg.can_login(admin, admin_pw)
    assert not ok and "password authentication failed" in out, out
    user, password, _, _ = creds(trove, "afterrot")
    assert pg.can_login(user, password, "SELECT count(*) FROM public.items") == (True, "2")
    # reset closes the pool: a new connection logs in with the new password
    trove.client(trove.root_token).secrets.database.reset_connection("pg")
    creds(trove, "afterrot")
    # twice: the stored password is the one the database has
    trove.client(trove.root_token).secrets.database.rotate_root_credentials("pg")
    creds(trove, "afterrot")


def test_passwords_never_in_answers_or_the_audit_log(trove, pg):
    admin, admin_pw = "trove_aud_" + secrets.token_hex(3), "Aud1t:@/#%?&-" + secrets.token_hex(8)
    esc = admin_pw.replace("'", "''")
    pg.sql(f"CREATE ROLE {admin} LOGIN SUPERUSER PASSWORD '{esc}'")
    configure(trove, pg, user=admin, password=admin_pw)
    make_role(trove, "ro")
    answers = [trove.get("/v1/database/config/pg", token=trove.root_token).text,
               trove.request("LIST", "/v1/database/config", token=trove.root_token).text,
               trove.get("/v1/database/roles/ro", token=trove.root_token).text]
    generated = []
    for _ in range(2):
        u, pw, _, _ = creds(trove, "ro")
        generated.append(pw)
    # a failed connection's message does not carry it either
    r = trove.put("/v1/database/config/bad", token=trove.root_token,
                  json={"plugin_name": PLUGIN, "connection_url": template_url(pg), "username": "nobody",
                        "password": admin_pw, "allowed_roles": "*"})
    assert r.status_code == 400, r.text
    answers.append(r.text)
    for text in answers:
        assert admin_pw not in text and "Aud1t" not in text, text
    log = trove.audit_log.read_text()
    assert "database/creds/ro" in log and "hmac-sha256:" in log
    for secret in [admin_pw, "Aud1t"] + generated:
        assert secret not in log, f"{secret[:4]}... in the audit log"
    entries = [json.loads(line) for line in log.splitlines()]
    resp_pw = [e["response"]["data"]["password"] for e in entries
               if e.get("type") == "response" and e["request"]["path"] == "database/creds/ro"]
    assert len(resp_pw) == 2 and all(v.startswith("hmac-sha256:") for v in resp_pw), resp_pw


def test_token_allowed_only_creds_ro(trove, pg):
    configure(trove, pg)
    make_role(trove, "ro")
    make_role(trove, "rw")
    root = trove.client(trove.root_token)
    root.sys.create_or_update_policy("creds-ro", 'path "database/creds/ro" { capabilities = ["read"] }')
    tok = root.auth.token.create(policies=["creds-ro"])["auth"]["client_token"]
    user, password, _, _ = creds(trove, "ro", token=tok)
    assert pg.can_login(user, password)[0]
    for method, path in [("GET", "/v1/database/creds/rw"), ("GET", "/v1/database/config/pg"),
                         ("PUT", "/v1/database/config/pg"), ("LIST", "/v1/database/config"),
                         ("GET", "/v1/database/roles/ro"), ("PUT", "/v1/database/roles/ro"),
                         ("LIST", "/v1/database/roles"), ("PUT", "/v1/database/rotate-root/pg"),
                         ("PUT", "/v1/database/reset/pg")]:
        kw = {"json": {}} if method == "PUT" else {}
        r = trove.request(method, path, token=tok, **kw)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
    with pytest.raises(hvac.exceptions.Forbidden):
        trove.client(tok).secrets.database.rotate_root_credentials("pg")


@pytest.mark.parametrize("form", ["uri", "key_value"])
def test_admin_password_with_url_special_characters(trove, pg, form):
    admin = "trove_sp_" + form + "_" + secrets.token_hex(3)
    admin_pw = ":@/#%?&'\\ " + secrets.token_hex(4)
    esc = admin_pw.replace("'", "''")
    pg.sql(f"CREATE ROLE {admin} LOGIN SUPERUSER PASSWORD E'{esc.replace(chr(92), chr(92) * 2)}'")
    assert pg.can_login(admin, admin_pw)[0]
    url = template_url(pg) if form == "uri" else \
        f"host=127.0.0.1 port={pg.port} dbname=postgres user={{{{username}}}} password={{{{password}}}}"
    configure(trove, pg, user=admin, password=admin_pw, url=url)
    make_role(trove, "special")
    user, password, _, _ = creds(trove, "special")
    assert pg.can_login(user, password, "SELECT count(*) FROM public.items") == (True, "2")
    # rotate-root renders the new password into the same URL form
    trove.client(trove.root_token).secrets.database.rotate_root_credentials("pg")
    trove.client(trove.root_token).secrets.database.reset_connection("pg")
    creds(trove, "special")


@pytest.mark.time_limit(90)
def test_restart_on_lmdb_keeps_leases_and_revokes_on_time(trove, pg):
    configure(trove, pg)
    make_role(trove, "restart", default_ttl="10s", max_ttl="1h")
    user, password, lease_id, _ = creds(trove, "restart")
    t0 = time.monotonic()
    before = lookup(trove, lease_id).json()["data"]
    trove.restart()
    trove.unseal()
    after = lookup(trove, lease_id)
    assert after.status_code == 200, after.text
    assert after.json()["data"]["expire_time"] == before["expire_time"]
    assert pg.can_login(user, password)[0]
    gone = wait_gone(pg, user, 30)
    assert 8 <= gone - t0 < 10 + 2 + 3, gone - t0
    assert lookup(trove, lease_id).status_code == 400


def test_tls_verify_full(trove, pg_tls_server):
    srv = pg_tls_server
    srv.sql("CREATE TABLE IF NOT EXISTS public.items (i int); INSERT INTO public.items VALUES (1), (2)")
    url = template_url(srv, sslmode="verify-full", sslrootcert=str(srv.tls.ca_cert))
    configure(trove, srv, url=url)
    make_role(trove, "ro")
    user, password, lease_id, _ = creds(trove, "ro")
    assert srv.can_login(user, password, "SELECT count(*) FROM public.items") == (True, "2")
    # Trove's pooled connection is encrypted
    assert srv.sql("SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                   "WHERE a.application_name = 'trove'") == "t"
    r = trove.put(f"/v1/sys/leases/revoke/{lease_id}", token=trove.root_token)
    assert r.status_code == 204
    wait_gone(srv, user, 10)
    # sslmode=disable is refused by the server, and nothing is stored
    r = trove.put("/v1/database/config/plain", token=trove.root_token,
                  json={"plugin_name": PLUGIN, "connection_url": template_url(srv, sslmode="disable"),
                        "username": srv.superuser, "password": srv.password, "allowed_roles": "*"})
    assert r.status_code == 400 and "pg_hba.conf" in r.text and srv.password not in r.text, r.text
    assert trove.get("/v1/database/config/plain", token=trove.root_token).status_code == 404
