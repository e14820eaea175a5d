"""A real MariaDB server (Debian's mariadb-server) for the database tests.

Each server runs from a temporary directory on a free loopback TCP port,
with its socket in that directory: never the system service. The data
directory is made once per test process by `mariadb-install-db` and copied
for each server, so a server starts in about a second.

The root user has a known password (ROOT_PASSWORD, which holds `:@/#%?&`
as real admin passwords do) and is reachable over TCP from 127.0.0.1 and
over the socket. A database `db` with a table `db.t (x INT)` exists.

Fixtures (scope="module", one server per test module):

- mariadb:      a plain server.
- mariadb_tls:  a server with TLS (a throwaway CA from trove_harness's
                TLSMaterial; `server.tls` holds its files) that requires
                secure transport on TCP.

Another test module shares them by importing the fixture names:

    from mariadb_server import mariadb  # noqa: F401  (a pytest fixture)

    def test_x(mariadb):
        mariadb.sql("CREATE USER ...")
        assert mariadb.user_exists("name")

Helpers on a server: `sql(text)` runs SQL as root with the `mariadb`
client and returns its tab-separated output; `user_exists(name)` looks in
mysql.user; `can_login(user, password)` tries a TCP login;
`dsn(user, password, db)` is a Go-style DSN with both percent-encoded, as
the engine renders `{{username}}`/`{{password}}`; `stop()` and `start()`
stop and restart the server on the same port and data.

Tests are skipped when mariadbd is not installed.
"""

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest

from trove_harness import TLSMaterial, free_port

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
CLIENT = shutil.which("mariadb") or "/usr/bin/mariadb"
ROOT_PASSWORD = "r00t:@/#%?&pw"
START_TIMEOUT = 30

_template = None  # a data directory fresh from mariadb-install-db


def available():
    return os.path.exists(MARIADBD) and os.path.exists(INSTALL_DB) and os.path.exists(CLIENT)


def _user_args():
    # mariadbd refuses to run as root unless told to; as another user it
    # runs as that user.
    return ["--user=root"] if os.geteuid() == 0 else []


def _template_datadir():
    global _template
    if _template is None:
        base = Path(tempfile.mkdtemp(prefix="trove-mariadb-template-"))
        out = subprocess.run(
            [INSTALL_DB, "--no-defaults", f"--datadir={base / 'data'}", "--auth-root-authentication-method=normal",
             "--skip-test-db", "--skip-name-resolve"] + _user_args(),
            capture_output=True, text=True, timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {out.stdout}\n{out.stderr}")
        _template = base / "data"
        atexit.register(shutil.rmtree, base, True)
    return _template


class MariaDB:
    def __init__(self, tls=False, require_secure_transport=False):
        self.dir = Path(tempfile.mkdtemp(prefix="trove-mariadb-"))
        self.datadir = self.dir / "data"
        self.socket = str(self.dir / "mysqld.sock")
        self.host = "127.0.0.1"
        self.port = free_port()
        self.root_password = ROOT_PASSWORD
        self.tls = TLSMaterial(self.dir / "tls") if tls else None
        self.require_secure_transport = require_secure_transport
        self.proc = None
        shutil.copytree(_template_datadir(), self.datadir)
        self.start()
        self._sql_socket(
            f"ALTER USER 'root'@'localhost' IDENTIFIED BY {self.quote(ROOT_PASSWORD)};"
            f"ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY {self.quote(ROOT_PASSWORD)};"
            "CREATE DATABASE db; CREATE TABLE db.t (x INT); INSERT INTO db.t VALUES (1);",
            password=None,
        )

    @staticmethod
    def quote(s):
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def _args(self):
        args = [
            MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
            f"--port={self.port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
            f"--pid-file={self.dir / 'mysqld.pid'}", f"--log-error={self.dir / 'error.log'}",
            "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=16M", "--skip-log-bin",
            "--max-connections=200",
        ] + _user_args()
        if self.tls:
            args += [f"--ssl-ca={self.tls.ca_cert}", f"--ssl-cert={self.tls.server_cert}",
                     f"--ssl-key={self.tls.server_key}"]
            if self.require_secure_transport:
                args.append("--require-secure-transport=ON")
        return args

    def start(self):
        self.proc = subprocess.Popen(self._args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self.proc.returncode}: {self.error_log()[-2000:]}")
            if os.path.exists(self.socket) and "ready for connections" in self.error_log().split("mariadbd: Shutdown")[-1]:
                return
            time.sleep(0.05)
        raise RuntimeError("mariadbd did not become ready: " + self.error_log()[-2000:])

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def error_log(self):
        try:
            return (self.dir / "error.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _run_client(self, args, sql, password, timeout=30):
        env = dict(os.environ)
        if password is not None:
            env["MYSQL_PWD"] = password
        return subprocess.run([CLIENT, "--no-defaults", "--batch", "--skip-column-names"] + args + ["-e", sql],
                              capture_output=True, text=True, timeout=timeout, env=env)

    def _sql_socket(self, sql, password=ROOT_PASSWORD):
        out = self._run_client([f"--socket={self.socket}", "-uroot"], sql, password)
        if out.returncode != 0:
            raise RuntimeError(f"SQL failed: {out.stderr.strip()}")
        return out.stdout

    def sql(self, sql):
        """Runs sql as root (over the socket); returns the output rows as
        tab-separated text. Raises on an SQL error."""
        return self._sql_socket(sql)

    def user_exists(self, name, host="%"):
        out = self.sql(f"SELECT COUNT(*) FROM mysql.user WHERE User={self.quote(name)} AND Host={self.quote(host)}")
        return out.strip() == "1"

    def login(self, user, password, sql="SELECT 1"):
        """Runs sql as user over TCP; returns the CompletedProcess."""
        args = [f"--host={self.host}", f"--port={self.port}", "--protocol=TCP", f"--user={user}"]
        if self.tls:
            args += ["--ssl", f"--ssl-ca={self.tls.ca_cert}"]
        return self._run_client(args, sql, password)

    def can_login(self, user, password):
        return self.login(user, password).returncode == 0

    def dsn(self, user="root", password=ROOT_PASSWORD, db="db", params=""):
        q = urllib.parse.quote
        cred = q(user, safe="") + (":" + q(password, safe="") if password is not None else "")
        return f"{cred}@tcp({self.host}:{self.port})/{db}" + (f"?{params}" if params else "")


def _server(**kw):
    if not available():
        pytest.skip("mariadb-server is not installed")
    server = MariaDB(**kw)
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def mariadb():
    yield from _server()


@pytest.fixture(scope="module")
def mariadb_tls():
    yield from _server(tls=True, require_secure_transport=True)
