"""The MySQL plugins against a real MariaDB (mariadb_server.py), through
tests/db/plugin_driver: DSN forms, logins, Vault-style creation,
revocation and rotation statements, statement splitting, TLS, deadlines
and a stopped server. The engine above the plugins is tested elsewhere."""

import subprocess
import time
from pathlib import Path

import pytest

from mariadb_server import ROOT_PASSWORD, mariadb, mariadb_tls  # noqa: F401  (pytest fixtures)
from trove_harness import TLSMaterial, TROVE_BIN, sanitizer_env, sanitizer_findings

DRIVER = Path(TROVE_BIN).parent / "tests" / "db" / "plugin_driver"
PLUGIN = "mysql-database-plugin"
PLUGINS = ["mysql-database-plugin", "mysql-aurora-database-plugin", "mysql-rds-database-plugin",
           "mysql-legacy-database-plugin"]

# Vault's default revocation and rotation, as the engine renders them.
REVOKE = "REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{name}'@'%'; DROP USER '{name}'@'%'"
ROTATE = "ALTER USER '{name}'@'%' IDENTIFIED BY '{password}';"


def drive(url, *args, plugin=PLUGIN, timeout=30):
    """Runs the driver; returns (exit code, stdout, stderr)."""
    out = subprocess.run([str(DRIVER), plugin, url] + list(args), capture_output=True, text=True,
                         timeout=timeout, env=sanitizer_env())
    assert not sanitizer_findings(out.stderr), out.stderr
    return out.returncode, out.stdout, out.stderr


def ok(url, *args, **kw):
    rc, out, err = drive(url, *args, **kw)
    assert rc == 0 and out.strip() == "ok", err
    return out


def create_user(server, name, password, grants="GRANT SELECT ON db.* TO '{name}'@'%';"):
    stmt = ("CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'; " + grants).format(name=name, password=password)
    ok(server.dsn(), "exec", stmt)


def test_every_plugin_name_connects(mariadb):
    for plugin in PLUGINS:
        ok(mariadb.dsn(), "ping", plugin=plugin)


@pytest.mark.parametrize("form", ["tcp", "unix", "params", "localhost", "user_flags", "no_db"])
def test_dsn_forms(mariadb, form):
    url = {
        "tcp": mariadb.dsn(),
        "unix": mariadb.dsn().replace(f"tcp({mariadb.host}:{mariadb.port})", f"unix({mariadb.socket})"),
        "params": mariadb.dsn(params="charset=utf8mb4&parseTime=true&tls=false"),
        "localhost": mariadb.dsn().replace("127.0.0.1", "localhost"),
        "user_flags": f"@tcp(127.0.0.1:{mariadb.port})/db",
        "no_db": mariadb.dsn(db=""),
    }[form]
    args = ["-u", "root", "-p", ROOT_PASSWORD] if form == "user_flags" else []
    ok(url, *args, "ping")


@pytest.mark.parametrize("url,needle", [
    ("mysql://root:pw@127.0.0.1:3306/db", "not a URL"),
    ("root:pw@tcp(127.0.0.1:3306)", "'/'"),
    ("root:pw@udp(127.0.0.1:3306)/db", "tcp(host:port) or unix(/path)"),
    ("root:pw@tcp(127.0.0.1:99999)/db", "port"),
    ("root:pw@tcp(127.0.0.1:33x)/db", "port"),
    ("root:pw@tcp(127.0.0.1:3306/db", "')'"),
    ("root:pw@tcp()/db", "no host"),
    ("root:pw@unix(relative.sock)/db", "absolute"),
    ("root:p%zzw@tcp(127.0.0.1:3306)/db", "percent escape in the password"),
    ("root:pw@tcp(127.0.0.1:3306)/db?tls=custom", "tls="),
    ("", "empty"),
])
def test_bad_dsn_refused_with_reason(url, needle):
    rc, _, err = drive(url, "ping")
    assert rc == 1
    assert "ERR_INVALID" in err and needle in err, err


def test_wrong_password_refused_without_the_password(mariadb):
    wrong = "Wr0ng:@/#%?&-pass"
    rc, _, err = drive(mariadb.dsn(password=wrong), "ping")
    assert rc == 1
    assert "ERR_UPSTREAM" in err and "1045" in err, err
    assert wrong not in err and "Wr0ng" not in err


def test_passwords_scrubbed_from_statement_errors(mariadb):
    # The server quotes the text after a syntax error: a literal after
    # IDENTIFIED BY, and the connection's own password, come back scrubbed.
    rc, _, err = drive(mariadb.dsn(), "exec", "CREATE USER 'scrub1'@'%' garbage IDENTIFIED BY 'Lit3ral-secret'")
    assert rc == 1 and "1064" in err and "garbage" in err, err
    assert "Lit3ral-secret" not in err and "*****" in err
    rc, _, err = drive(mariadb.dsn(), "exec", f"SELECT garbage garbage '{ROOT_PASSWORD}'")
    assert rc == 1 and "1064" in err, err
    assert ROOT_PASSWORD not in err and "*****" in err


def test_created_user_has_exactly_the_grants(mariadb):
    create_user(mariadb, "v-ro-1", "Pw-of-ro-1")
    assert mariadb.user_exists("v-ro-1")
    sel = mariadb.login("v-ro-1", "Pw-of-ro-1", "SELECT COUNT(*) FROM db.t")
    assert sel.returncode == 0, sel.stderr
    ins = mariadb.login("v-ro-1", "Pw-of-ro-1", "INSERT INTO db.t VALUES (5)")
    assert ins.returncode != 0 and "INSERT command denied" in ins.stderr
    assert not mariadb.can_login("v-ro-1", "not-the-password")


def test_default_revocation_drops_the_user(mariadb):
    create_user(mariadb, "v-gone-1", "Pw-gone-1")
    assert mariadb.can_login("v-gone-1", "Pw-gone-1")
    ok(mariadb.dsn(), "exec", REVOKE.format(name="v-gone-1"))
    assert not mariadb.user_exists("v-gone-1")
    assert not mariadb.can_login("v-gone-1", "Pw-gone-1")


def test_rotation_changes_the_password(mariadb):
    create_user(mariadb, "svc-rot", "Old-pass-1")
    ok(mariadb.dsn(), "exec", ROTATE.format(name="svc-rot", password="New-pass-2"))
    assert mariadb.can_login("svc-rot", "New-pass-2")
    assert not mariadb.can_login("svc-rot", "Old-pass-1")


def test_statement_splitting_keeps_quoted_semicolons(mariadb):
    ok(mariadb.dsn(), "exec",
       "CREATE TABLE db.s (v TEXT); -- a comment; with a semicolon\n"
       "INSERT INTO db.s VALUES ('a;b'), (\"c;d\"), ('e\\';f'); # another; comment\n"
       "/* block; comment */ INSERT INTO db.s VALUES (CONCAT('g', ';h'));;",
       "INSERT INTO db.s VALUES ('second element')")
    rows = mariadb.sql("SELECT v FROM db.s ORDER BY v").splitlines()
    assert rows == ["a;b", "c;d", "e';f", "g;h", "second element"]


def test_procedure_results_are_read(mariadb):
    # A CALL returns a result per SELECT in the procedure and then its
    # status; all are read, so the statements after it still run.
    mariadb.sql("DELIMITER //\nCREATE PROCEDURE db.mkuser(IN n VARCHAR(32), IN p VARCHAR(64)) BEGIN "
                "SELECT 1; SELECT 2; "
                "SET @s = CONCAT('CREATE USER ', QUOTE(n), '@''%'' IDENTIFIED BY ', QUOTE(p)); "
                "PREPARE st FROM @s; EXECUTE st; DEALLOCATE PREPARE st; END//")
    ok(mariadb.dsn(), "exec", "CALL db.mkuser('v-proc-1', 'Proc-pass-1'); GRANT SELECT ON db.* TO 'v-proc-1'@'%'")
    assert mariadb.can_login("v-proc-1", "Proc-pass-1")
    assert mariadb.login("v-proc-1", "Proc-pass-1", "SELECT x FROM db.t").returncode == 0


def test_failed_statement_rolls_back_the_transaction(mariadb):
    rc, _, err = drive(mariadb.dsn(), "exec", "INSERT INTO db.t VALUES (77)", "SELECT * FROM db.no_such_table")
    assert rc == 1 and "1146" in err and "statement 2" in err, err
    assert mariadb.sql("SELECT COUNT(*) FROM db.t WHERE x = 77").strip() == "0"


def test_deadline_returns_timeout(mariadb):
    start = time.monotonic()
    rc, _, err = drive(mariadb.dsn(), "--timeout-ms", "1000", "exec", "SELECT SLEEP(10)")
    elapsed = time.monotonic() - start
    assert rc == 3, err
    assert "ERR_TIMEOUT" in err
    assert elapsed < 2.5, elapsed


def test_stopped_server_is_an_upstream_error(mariadb):
    mariadb.stop()
    try:
        rc, _, err = drive(mariadb.dsn(), "ping")
    finally:
        mariadb.start()
    assert rc == 1
    assert "ERR_UPSTREAM" in err and "cannot connect" in err and "2002" in err, err
    ok(mariadb.dsn(), "ping")


# TLS: the server requires secure transport on TCP.

def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_tls_with_ca_verifies_the_server(mariadb_tls, tmp_path):
    ca = str(mariadb_tls.tls.ca_cert)
    ok(mariadb_tls.dsn(), "--tls-ca", ca, "exec", "SELECT 1")
    # The same name the certificate holds may be given explicitly.
    ok(mariadb_tls.dsn(), "--tls-ca", ca, "--tls-server-name", "127.0.0.1", "ping")


def test_tls_wrong_ca_refused(mariadb_tls, tmp_path):
    other = TLSMaterial(tmp_path / "other")
    rc, _, err = drive(mariadb_tls.dsn(), "--tls-ca", str(other.ca_cert), "ping")
    assert rc == 1 and "ERR_UPSTREAM" in err, err
    # Unless verification is turned off on purpose.
    ok(mariadb_tls.dsn(), "--tls-ca", str(other.ca_cert), "--tls-skip-verify", "ping")


def test_plain_connection_refused_by_tls_server(mariadb_tls):
    # Without TLS material the plugin connects in plain text; MariaDB
    # refuses it (as 1045, access denied) while the same login over TLS works.
    rc, _, err = drive(mariadb_tls.dsn(), "ping")
    assert rc == 1 and "ERR_UPSTREAM" in err and ("1045" in err or "secure transport" in err.lower()), err
    ok(mariadb_tls.dsn(), "--tls-ca", str(mariadb_tls.tls.ca_cert), "ping")


def test_tls_client_certificate(mariadb_tls, tmp_path):
    t = mariadb_tls.tls
    pair = write(tmp_path, "cert-key.pem", t.client_cert.read_text() + t.client_key.read_text())
    mariadb_tls.sql("CREATE USER 'x509u'@'%' IDENTIFIED BY 'x509-pass' REQUIRE X509")
    url = mariadb_tls.dsn(user="x509u", password="x509-pass", db="")
    ok(url, "--tls-ca", str(t.ca_cert), "--tls-cert-key", pair, "ping")
    rc, _, err = drive(url, "--tls-ca", str(t.ca_cert), "ping")
    assert rc == 1 and "1045" in err, err


def test_bad_tls_material_is_invalid(mariadb_tls, tmp_path):
    junk = write(tmp_path, "junk.pem", "not a certificate")
    rc, _, err = drive(mariadb_tls.dsn(), "--tls-ca", junk, "ping")
    assert rc == 1 and "ERR_INVALID" in err and "tls_ca" in err, err
    rc, _, err = drive(mariadb_tls.dsn(), "--tls-ca", str(mariadb_tls.tls.ca_cert), "--tls-server-name",
                       "db.example.com", "ping")
    assert rc == 1 and "ERR_INVALID" in err and "tls_server_name" in err, err


def test_dsn_tls_true_uses_tls(mariadb_tls):
    # tls=skip-verify asks for TLS without a CA: the server accepts it.
    ok(mariadb_tls.dsn(params="tls=skip-verify"), "ping")
    # tls=true verifies against the system CAs, which do not know this CA.
    rc, _, err = drive(mariadb_tls.dsn(params="tls=true"), "ping")
    assert rc == 1 and "ERR_UPSTREAM" in err, err
