"""A throwaway PostgreSQL 15 server for the tests (Debian's
/usr/lib/postgresql/15/bin), never the system service.

PgServer(directory, tls=False).start() runs initdb and postgres in
`directory` on a free loopback TCP port, its unix socket in the same
directory. The superuser is `postgres` with a random password
(`server.password`); passwords are stored as SCRAM-SHA-256 and every host
line of pg_hba.conf requires scram-sha-256. With tls=True the server has
ssl=on with a certificate for 127.0.0.1/localhost from a throwaway CA
(`server.tls.ca_cert`, a trove_harness.TLSMaterial) and accepts only
hostssl connections. When the tests run as root the server runs as the
`postgres` system user (setpriv), since PostgreSQL refuses to run as root.
stop() ends it (fast shutdown) and removes nothing; the fixtures remove
the directory.

Other test modules share one server per module by importing the fixture
into their namespace:

    from pg_server import pg_server  # noqa: F401  (the fixture)

    def test_x(pg_server):
        pg_server.sql("CREATE TABLE t (i int)")
        assert pg_server.role_exists("postgres")
        url = pg_server.url()            # postgresql://postgres:PW@127.0.0.1:PORT/postgres
        dsn = pg_server.dsn()            # host=127.0.0.1 port=PORT user=postgres password=PW ...

`pg_tls_server` is the same with TLS; `with running_server() as srv:` gives
a test its own server (one it may stop, and start again on the same port
with `srv.start(keep_port=True)`). Helpers: sql() runs SQL as the
superuser through psql and returns its unaligned output, role_exists(),
can_login(user, password) tries a login and returns (ok, message),
session() opens a psql session that stays logged in until closed.
"""

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from trove_harness import TLSMaterial, free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PSQL = shutil.which("psql") or str(PG_BIN / "psql")
START_TIMEOUT = 30


def available():
    """Whether PostgreSQL 15's server binaries are installed."""
    return (PG_BIN / "initdb").exists() and (PG_BIN / "postgres").exists()


class PgServer:
    def __init__(self, directory, tls=False):
        self.dir = Path(directory)
        self.data = self.dir / "data"
        self.tls_enabled = tls
        self.tls = None
        self.superuser = "postgres"
        self.password = "Pg-" + secrets.token_urlsafe(18)
        self.port = None
        self.proc = None
        self.log = self.dir / "postgres.log"
        self._as_user = None
        if os.geteuid() == 0:
            self._as_user = pwd.getpwnam("postgres")

    # -- running as the postgres user when we are root ----------------------
    def _cmd(self, argv):
        if self._as_user is None:
            return argv
        return ["setpriv", f"--reuid={self._as_user.pw_uid}", f"--regid={self._as_user.pw_gid}",
                "--init-groups", "--"] + argv

    def _own(self, path):
        if self._as_user is not None:
            os.chown(path, self._as_user.pw_uid, self._as_user.pw_gid)

    def _initdb(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        self._own(self.dir)
        os.chmod(self.dir, 0o700)
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        os.chmod(pwfile, 0o600)
        self._own(pwfile)
        subprocess.run(
            self._cmd([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", self.superuser,
                       f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
                       "--encoding=UTF8", "--locale=C", "--no-sync"]),
            check=True, capture_output=True, cwd=self.dir, timeout=120,
        )
        pwfile.unlink()
        hba = ["local all all trust"]
        if self.tls_enabled:
            hba += ["hostssl all all 127.0.0.1/32 scram-sha-256",
                    "hostnossl all all 127.0.0.1/32 reject"]
        else:
            hba += ["host all all 127.0.0.1/32 scram-sha-256",
                    "host replication all 127.0.0.1/32 scram-sha-256"]
        (self.data / "pg_hba.conf").write_text("\n".join(hba) + "\n")
        if self.tls_enabled:
            self.tls = TLSMaterial(self.dir / "tls")
            for src, dst in ((self.tls.server_cert, "server.crt"), (self.tls.server_key, "server.key")):
                shutil.copy(src, self.data / dst)
                os.chmod(self.data / dst, 0o600)
                self._own(self.data / dst)

    def start(self, keep_port=False):
        """Starts the server on a free port; keep_port=True starts it again
        on the port it had (a restart that clients reconnect to)."""
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        if not (keep_port and self.port):
            self.port = free_port()
        opts = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.dir),
            "password_encryption": "scram-sha-256",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "32MB",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        if self.tls_enabled:
            opts.update(ssl="on", ssl_cert_file="server.crt", ssl_key_file="server.key")
        argv = [str(PG_BIN / "postgres"), "-D", str(self.data)]
        for k, v in opts.items():
            argv += ["-c", f"{k}={v}"]
        logf = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen(self._cmd(argv), stdout=logf, stderr=subprocess.STDOUT,
                                         cwd=self.dir, start_new_session=True)
        finally:
            logf.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            r = subprocess.run([PSQL, "-h", str(self.dir), "-p", str(self.port), "-U", self.superuser,
                                "-d", "postgres", "-Atc", "SELECT 1"], capture_output=True, text=True)
            if r.returncode == 0:
                return self
            time.sleep(0.05)
        raise RuntimeError(f"postgres did not start in {START_TIMEOUT}s: {self.log.read_text()[-2000:]}")

    def stop(self):
        """Fast shutdown (SIGINT), SIGKILL if it takes over 15 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(2)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- addresses ------------------------------------------------------------
    def url(self, user=None, password=None, database="postgres", **params):
        """A postgresql:// URI (user and password percent-encoded)."""
        from urllib.parse import quote, urlencode

        user = self.superuser if user is None else user
        password = self.password if password is None else password
        q = ("?" + urlencode(params)) if params else ""
        return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}{q}"

    def dsn(self, user=None, password=None, database="postgres", **params):
        """A key=value connection string (values single-quoted)."""
        def q(v):
            return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"

        user = self.superuser if user is None else user
        password = self.password if password is None else password
        parts = [f"host=127.0.0.1", f"port={self.port}", f"user={q(user)}", f"password={q(password)}",
                 f"dbname={q(database)}"] + [f"{k}={q(v)}" for k, v in params.items()]
        return " ".join(parts)

    # -- helpers ----------------------------------------------------------------
    def _psql_env(self, password):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("PG"):
                del env[k]
        env["PGPASSWORD"] = password
        env["PGCONNECT_TIMEOUT"] = "5"
        if self.tls_enabled:
            env["PGSSLMODE"] = "verify-full"
            env["PGSSLROOTCERT"] = str(self.tls.ca_cert)
        return env

    def sql(self, statement, database="postgres"):
        """Runs SQL as the superuser over TCP (SCRAM); returns psql's
        unaligned, tuples-only output, stripped. Raises on error."""
        r = subprocess.run(
            [PSQL, "-h", "127.0.0.1", "-p", str(self.port), "-U", self.superuser, "-d", database,
             "-v", "ON_ERROR_STOP=1", "-Atc", statement],
            capture_output=True, text=True, env=self._psql_env(self.password), timeout=60,
        )
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}")
        return r.stdout.strip()

    def start_replica(self, directory, name="replica1"):
        """A streaming replica of this server (a base backup with
        standby.signal, primary_conninfo naming it `name`), started on a
        port of its own and caught up; returns its PgServer. The
        primary's synchronous_standby_names is not changed."""
        replica = PgServer(directory, tls=self.tls_enabled)
        replica.password = self.password
        replica.dir.mkdir(parents=True, exist_ok=True)
        replica._own(replica.dir)
        os.chmod(replica.dir, 0o700)
        env = self._psql_env(self.password)
        r = subprocess.run(
            self._cmd([str(PG_BIN / "pg_basebackup"), "-d",
                       f"host=127.0.0.1 port={self.port} user={self.superuser} application_name={name}",
                       "-D", str(replica.data), "-X", "stream", "-R", "--no-sync"]),
            capture_output=True, text=True, env=env, cwd=replica.dir, timeout=120,
        )
        if r.returncode != 0:
            raise RuntimeError(f"pg_basebackup failed: {r.stderr.strip()}")
        # -R wrote primary_conninfo with the password it was given; name it
        with open(replica.data / "postgresql.auto.conf", "a") as f:
            f.write(f"primary_conninfo = 'host=127.0.0.1 port={self.port} user={self.superuser} "
                    f"password={self.password} application_name={name}'\n")
        replica.start()
        deadline = time.monotonic() + START_TIMEOUT
        while self.sql(f"SELECT count(*) FROM pg_stat_replication WHERE application_name = '{name}'"
                       " AND state = 'streaming'") != "1":
            if time.monotonic() > deadline:
                raise RuntimeError(f"replica {name} not streaming: {replica.log.read_text()[-2000:]}")
            time.sleep(0.05)
        return replica

    def role_exists(self, name):
        lit = "'" + name.replace("'", "''") + "'"
        return self.sql(f"SELECT count(*) FROM pg_roles WHERE rolname = {lit}") == "1"

    def can_login(self, user, password, statement="SELECT 1", database="postgres"):
        """Logs in as user/password over TCP and runs statement: returns
        (ok, psql's output or error message)."""
        r = subprocess.run(
            [PSQL, "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", database, "-w",
             "-v", "ON_ERROR_STOP=1", "-Atc", statement],
            capture_output=True, text=True, env=self._psql_env(password), timeout=60,
        )
        return r.returncode == 0, (r.stdout if r.returncode == 0 else r.stderr).strip()

    def session(self, user, password, database="postgres"):
        """A psql process logged in as user, reading SQL from its stdin
        (the caller closes it: proc.stdin.close(); proc.wait())."""
        p = subprocess.Popen(
            [PSQL, "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", database, "-w", "-At"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self._psql_env(password),
        )
        return p


@contextlib.contextmanager
def running_server(tls=False):
    """A started PgServer in a fresh temporary directory, stopped and
    removed on exit (also for a test's own short-lived server)."""
    if not available():
        pytest.skip("PostgreSQL 15 server binaries are not installed (/usr/lib/postgresql/15/bin)")
    d = tempfile.mkdtemp(prefix="trove-pg-")
    os.chmod(d, 0o755)  # the postgres user must reach its directory inside
    server = PgServer(Path(d) / "pg", tls=tls)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_server():
    """A PostgreSQL server (SCRAM, no TLS) shared by the module's tests."""
    with running_server(tls=False) as server:
        yield server


@pytest.fixture(scope="module")
def pg_tls_server():
    """A PostgreSQL server accepting only TLS connections (hostssl)."""
    with running_server(tls=True) as server:
        yield server
