"""The PostgreSQL database plugin (src/engines/database/postgresql.c)
against a real PostgreSQL 15, through tests/db/plugin_driver: SCRAM logins
with URI and key=value connection strings, statements in one transaction,
the plugin's default revocation, renew and rotation statements, TLS, the
deadline, and messages that never carry a password."""

import re
import secrets
import socket
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pg_server import pg_server, pg_tls_server, running_server  # noqa: F401  (fixtures)
from trove_harness import REPO, TROVE_BIN, TLSMaterial, free_port

PLUGIN = "postgresql-database-plugin"
DRIVER = Path(TROVE_BIN).resolve().parent / "tests" / "db" / "plugin_driver"
SOURCE = REPO / "src" / "engines" / "database" / "postgresql.c"


def drive(url, *args, timeout_ms=5000, user=None, password=None):
    argv = [str(DRIVER), PLUGIN, url]
    if user is not None:
        argv += ["-u", user]
    if password is not None:
        argv += ["-p", password]
    argv += ["--timeout-ms", str(timeout_ms)] + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def defaults(array):
    """The plugin's default statements, read from its source: the C string
    literals of `static const char *const <array>[]`."""
    text = SOURCE.read_text()
    body = re.search(r"\b" + array + r"\[\] = \{(.*?)\tNULL,\n\};", text, re.S).group(1)
    out, cur = [], ""
    for line in body.splitlines():
        line = line.strip()
        if not line.startswith('"'):
            continue
        lit = line[1:line.rindex('"')]
        cur += bytes(lit, "utf-8").decode("unicode_escape")
        if line.endswith(","):
            out.append(cur)
            cur = ""
    return out


def render(stmts, **values):
    out = []
    for s in stmts:
        for k, v in values.items():
            s = s.replace("{{" + k + "}}", v)
        out.append(s)
    return out


def new_name():
    return "v-test-" + secrets.token_hex(6)


def new_password():
    return "A1a-" + secrets.token_urlsafe(16)


CREATE = [
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
    "GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\";",
]


def expiration(minutes=60):
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S+0000")


@pytest.fixture(scope="module")
def pg(pg_server):
    pg_server.sql("CREATE TABLE IF NOT EXISTS public.items (i int); INSERT INTO public.items VALUES (1), (2)")
    return pg_server


def make_user(pg, name=None, password=None):
    name, password = name or new_name(), password or new_password()
    r = drive(pg.url(), "exec", *render(CREATE, name=name, password=password, expiration=expiration()))
    assert r.returncode == 0, r.stderr
    return name, password


def test_driver_built():
    assert DRIVER.exists(), f"{DRIVER} missing: build the tests (ninja -C build)"


def test_connect_scram_uri(pg):
    r = drive(pg.url(), "ping")
    assert (r.returncode, r.stdout.strip()) == (0, "ok"), r.stderr
    assert pg.sql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'postgres'") == "t"


def test_connect_key_value(pg):
    r = drive(pg.dsn(), "ping")
    assert r.returncode == 0, r.stderr


def test_connect_user_password_given_apart(pg):
    url = f"postgresql://127.0.0.1:{pg.port}/postgres"
    r = drive(url, "ping", user=pg.superuser, password=pg.password)
    assert r.returncode == 0, r.stderr
    r = drive(f"host=127.0.0.1 port={pg.port} dbname=postgres", "ping", user=pg.superuser, password=pg.password)
    assert r.returncode == 0, r.stderr


def test_password_with_url_special_characters(pg):
    password = "p:@/#%?&'\" " + secrets.token_hex(4)
    name = new_name()
    esc = password.replace("'", "''")
    pg.sql(f"CREATE ROLE \"{name}\" LOGIN SUPERUSER PASSWORD '{esc}'")
    assert drive(pg.url(user=name, password=password), "ping").returncode == 0
    assert drive(pg.dsn(user=name, password=password), "ping").returncode == 0


def test_application_name_is_trove(pg):
    r = drive(pg.url(), "exec", "CREATE TABLE app_seen AS SELECT current_setting('application_name') AS a")
    assert r.returncode == 0, r.stderr
    assert pg.sql("SELECT a FROM app_seen") == "trove"


def test_wrong_password_refused_with_reason(pg):
    wrong = "Wr0ng-" + secrets.token_hex(8)
    for url in (pg.url(password=wrong), pg.dsn(password=wrong)):
        r = drive(url, "ping")
        assert r.returncode == 1
        assert "ERR_UPSTREAM" in r.stderr and "password authentication failed" in r.stderr, r.stderr
        assert wrong not in r.stderr + r.stdout


def test_bad_connection_string_is_invalid_without_password(pg):
    pw = "Hidd3n-" + secrets.token_hex(6)
    r = drive(f"postgresql://u:{pw}@127.0.0.1:{pg.port}/db?nosuchoption=1", "ping")
    assert r.returncode == 1 and "ERR_INVALID" in r.stderr and "nosuchoption" in r.stderr, r.stderr
    assert pw not in r.stderr
    r = drive(f"host=127.0.0.1 password={pw} stray", "ping")
    assert r.returncode == 1 and "ERR_INVALID" in r.stderr, r.stderr
    assert pw not in r.stderr


def test_created_user_has_exactly_the_granted_privileges(pg):
    name, password = make_user(pg)
    assert pg.role_exists(name)
    ok, out = pg.can_login(name, password, "SELECT count(*) FROM public.items")
    assert ok and out == "2", out
    ok, out = pg.can_login(name, password, "INSERT INTO public.items VALUES (3)")
    assert not ok and "permission denied" in out
    ok, out = pg.can_login(name, "not-" + password)
    assert not ok


def test_failing_statement_rolls_back_the_user(pg):
    name, password = new_name(), new_password()
    stmts = render(CREATE[:1], name=name, password=password, expiration=expiration())
    stmts.append(f'GRANT SELECT ON public.no_such_table TO "{name}";')
    r = drive(pg.url(), "exec", *stmts)
    assert r.returncode == 1 and "ERR_UPSTREAM" in r.stderr
    assert "statement 2" in r.stderr and "no_such_table" in r.stderr and "42P01" in r.stderr, r.stderr
    assert not pg.role_exists(name)
    assert password not in r.stderr


def test_error_messages_never_carry_a_password(pg):
    name, password = new_name(), "Sekr1t-" + secrets.token_hex(8)
    # The value of a PASSWORD literal, and the connection's own password,
    # echoed back by the server in an error message.
    r = drive(pg.url(), "exec", f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}';",
              f"SELECT '{password}'::int;")
    assert r.returncode == 1 and "invalid input syntax" in r.stderr, r.stderr
    assert password not in r.stderr and "*****" in r.stderr
    r = drive(pg.url(), "exec", f"SELECT '{pg.password}'::int;")
    assert r.returncode == 1 and pg.password not in r.stderr and "*****" in r.stderr, r.stderr
    # An E'' literal with an escaped quote, in a multi-statement element.
    tricky = "Q'uote-" + secrets.token_hex(6)
    lit = tricky.replace("'", "\\'")
    r = drive(pg.url(), "exec", f"ALTER ROLE postgres PASSWORD E'{lit}' NOSUCH; SELECT 1")
    assert r.returncode == 1 and tricky not in r.stderr and lit not in r.stderr, r.stderr
    assert not pg.role_exists(name)
    assert drive(pg.url(), "ping").returncode == 0  # the root password did not change


def test_multi_statement_elements_and_dollar_quoting(pg):
    r = drive(pg.url(), "exec",
              "CREATE TABLE semi (s text); INSERT INTO semi VALUES ('a;b')",
              "DO $$ BEGIN INSERT INTO semi VALUES ('c;d'); INSERT INTO semi VALUES ('e'); END $$;",
              "INSERT INTO semi VALUES ($q$f;g$q$);")
    assert r.returncode == 0, r.stderr
    assert pg.sql("SELECT string_agg(s, '|' ORDER BY s) FROM semi") == "a;b|c;d|e|f;g"


def test_default_revocation_drops_the_user_and_ends_its_sessions(pg):
    name, password = new_name(), new_password()
    stmts = render(CREATE, name=name, password=password, expiration=expiration())
    stmts.append(f'GRANT CREATE ON SCHEMA public TO "{name}";')
    assert drive(pg.url(), "exec", *stmts).returncode == 0
    ok, out = pg.can_login(name, password, f"CREATE TABLE owned_by_{name[-6:]} (i int)")
    assert ok, out
    sess = pg.session(name, password)
    try:
        sess.stdin.write("SELECT 'hello';\n")
        sess.stdin.flush()
        assert sess.stdout.readline().strip() == "hello"
        revoke = render(defaults("default_revocation"), name=name)
        r = drive(pg.url(), "exec", *revoke)
        assert r.returncode == 0, r.stderr
        assert not pg.role_exists(name)
        # The session was terminated: psql reports it and ends.
        sess.stdin.write("SELECT 'still here';\n")
        sess.stdin.flush()
        sess.stdin.close()
        out = sess.stdout.read()
        assert "still here" not in out
        assert sess.wait(timeout=10) != 0
    finally:
        if sess.poll() is None:
            sess.kill()
            sess.wait()
    ok, out = pg.can_login(name, password)
    assert not ok
    # What the user owned now belongs to the root user.
    assert pg.sql(f"SELECT tableowner FROM pg_tables WHERE tablename = 'owned_by_{name[-6:]}'") == "postgres"
    # Revoking again (a retry) succeeds and changes nothing.
    r = drive(pg.url(), "exec", *revoke)
    assert r.returncode == 0, r.stderr


def test_default_revocation_by_a_root_that_is_not_superuser(pg):
    admin, admin_pw = "vault_admin_" + secrets.token_hex(3), new_password()
    pg.sql(f"CREATE ROLE {admin} LOGIN CREATEROLE PASSWORD '{admin_pw}'; "
           f"CREATE TABLE {admin}_t (i int); ALTER TABLE {admin}_t OWNER TO {admin}; "
           f"GRANT USAGE ON SCHEMA public TO {admin} WITH GRANT OPTION")
    url = pg.url(user=admin, password=admin_pw)
    name, password = new_name(), new_password()
    r = drive(url, "exec", *render([CREATE[0], f'GRANT SELECT ON {admin}_t TO "{{{{name}}}}";',
                                    'GRANT USAGE ON SCHEMA public TO "{{name}}";'],
                                   name=name, password=password, expiration=expiration()))
    assert r.returncode == 0, r.stderr
    assert pg.can_login(name, password, f"SELECT count(*) FROM {admin}_t")[0]
    r = drive(url, "exec", *render(defaults("default_revocation"), name=name))
    assert r.returncode == 0, r.stderr
    assert not pg.role_exists(name)


def test_default_renew_sets_valid_until(pg):
    name, _ = make_user(pg)
    until = (datetime.now(timezone.utc) + timedelta(days=3)).replace(microsecond=0)
    stmts = render(defaults("default_renew"), name=name, expiration=until.strftime("%Y-%m-%d %H:%M:%S+0000"))
    r = drive(pg.url(), "exec", *stmts)
    assert r.returncode == 0, r.stderr
    got = pg.sql(f"SELECT extract(epoch FROM rolvaliduntil)::bigint FROM pg_roles WHERE rolname = '{name}'")
    assert int(got) == int(until.timestamp())


def test_default_rotation_changes_the_password(pg):
    name, old = make_user(pg)
    new = new_password()
    r = drive(pg.url(), "exec", *render(defaults("default_rotation"), name=name, password=new))
    assert r.returncode == 0, r.stderr
    assert pg.can_login(name, new)[0]
    assert not pg.can_login(name, old)[0]


def test_deadline_cancels_the_statement(pg):
    marker = "trove_deadline_" + secrets.token_hex(4)
    t0 = time.monotonic()
    r = drive(pg.url(), "exec", f"SELECT pg_sleep(10) AS {marker}", timeout_ms=500)
    took = time.monotonic() - t0
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "ERR_TIMEOUT" in r.stderr
    assert took < 2.0, took
    # The query is not left running on the server.
    for _ in range(40):
        n = pg.sql(f"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%{marker}%' "
                   "AND pid <> pg_backend_pid() AND state = 'active'")
        if n == "0":
            break
        time.sleep(0.05)
    assert n == "0"


def test_connect_deadline_against_a_silent_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)  # accepts TCP, never speaks
        port = s.getsockname()[1]
        t0 = time.monotonic()
        r = drive(f"postgresql://u:p@127.0.0.1:{port}/db?sslmode=disable", "ping", timeout_ms=400)
        took = time.monotonic() - t0
    assert r.returncode == 3 and "ERR_TIMEOUT" in r.stderr, r.stderr
    assert took < 2.0, took


def test_no_server_is_a_clear_upstream_error():
    pw = "Gone-" + secrets.token_hex(6)
    r = drive(f"postgresql://postgres:{pw}@127.0.0.1:{free_port()}/postgres", "ping")
    assert r.returncode == 1 and "ERR_UPSTREAM" in r.stderr and "Connection refused" in r.stderr, r.stderr
    assert pw not in r.stderr


def test_stopped_server_is_an_upstream_error():
    with running_server() as srv:
        assert drive(srv.url(), "ping").returncode == 0
        srv.stop()
        r = drive(srv.url(), "ping")
        assert r.returncode == 1 and "ERR_UPSTREAM" in r.stderr and "Connection refused" in r.stderr, r.stderr
        assert srv.password not in r.stderr


def test_connection_killed_mid_call_is_upstream(pg):
    r = drive(pg.url(), "exec", "SELECT pg_terminate_backend(pg_backend_pid())")
    assert r.returncode == 1 and "ERR_UPSTREAM" in r.stderr, r.stderr
    assert "terminat" in r.stderr


def test_tls_verify_full(pg_tls_server):
    srv = pg_tls_server
    url = srv.url(sslmode="verify-full", sslrootcert=str(srv.tls.ca_cert))
    r = drive(url, "exec", "CREATE TABLE tls_seen AS SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert r.returncode == 0, r.stderr
    assert srv.sql("SELECT ssl FROM tls_seen") == "t"
    r = drive(srv.dsn(sslmode="verify-full", sslrootcert=str(srv.tls.ca_cert)), "ping")
    assert r.returncode == 0, r.stderr


def test_tls_wrong_ca_refused(pg_tls_server, tmp_path):
    srv = pg_tls_server
    other = TLSMaterial(tmp_path / "other")
    r = drive(srv.url(sslmode="verify-full", sslrootcert=str(other.ca_cert)), "ping")
    # The other CA has the same subject name, so OpenSSL checks the
    # server's signature against the wrong key: "SSL error: EVP lib"; a CA
    # of another name gives "certificate verify failed". Both are refusals.
    assert r.returncode == 1 and "ERR_UPSTREAM" in r.stderr and "SSL error" in r.stderr, r.stderr
    assert srv.password not in r.stderr


def test_tls_required_by_the_server(pg_tls_server):
    srv = pg_tls_server
    r = drive(srv.url(sslmode="disable"), "ping")
    assert r.returncode == 1 and "pg_hba.conf rejects connection" in r.stderr, r.stderr
