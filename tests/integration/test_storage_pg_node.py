"""One Trove node on PostgreSQL, without HA.

- Its database out of reach (docs/ha.md, "When the database is down"):
  requests answer 503 with an error that names the storage and says why,
  and neither the answer nor the log carries the connection_url or its
  password.
- Alone on its table (docs/ha.md, "Nodes that serve reads"): its commits
  are neither numbered nor notified, and no X-Vault-Index is given."""

import subprocess
import time

from test_storage_postgresql import pg_trove  # noqa: F401  (the fixture)
from pg_server import PSQL, pg_server, running_server  # noqa: F401  (the fixture)


def test_database_down_answers_503_naming_the_storage_without_secrets(pg_trove):
    with running_server() as pg:
        srv = pg_trove(pg, "t_down_named")
        srv.init(1, 1)
        srv.unseal()
        c = srv.client(srv.root_token)
        c.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
        c.secrets.kv.v1.create_or_update_secret("a", secret={"v": 1}, mount_point="kv")
        # a token this node has never looked up: its lookup needs storage
        fresh = c.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
        c.adapter.close()

        pg.stop()
        answers = []
        for method, path, token, body in (("GET", "/v1/kv/a", srv.root_token, None),
                                          ("POST", "/v1/kv/b", srv.root_token, {"v": 2}),
                                          ("GET", "/v1/auth/token/lookup-self", fresh, None)):
            t0 = time.monotonic()
            r = srv.request(method, path, token=token, json=body, timeout=60)
            assert time.monotonic() - t0 < 20
            answers.append(r.text)
            assert r.status_code == 503, (method, path, r.status_code, r.text)
            errors = r.json()["errors"]
            assert len(errors) == 1 and errors[0].startswith("storage unavailable: postgresql: "), errors
            assert len(errors[0]) > len("storage unavailable: postgresql: ") + 5, errors
        log = srv.proc.stderr_text() + srv.proc.stdout_path.read_text(errors="replace")
        for text in answers + [log]:
            assert pg.password not in text
            assert pg.url() not in text
        assert "postgresql storage unreachable" in log
        srv.proc.stop()


def test_alone_on_its_table_no_index_and_no_notification(pg_server, pg_trove):
    table = "t_alone"
    srv = pg_trove(pg_server, table)
    srv.init(1, 1)
    srv.unseal()
    # a session listening on the table's channel hears nothing
    env = pg_server._psql_env(pg_server.password)
    listener = subprocess.Popen([PSQL, "-h", "127.0.0.1", "-p", str(pg_server.port), "-U", "postgres", "-d",
                                 "postgres", "-At"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env)
    def run_until(sql, marker):
        """Sends sql, then SELECT marker; the lines psql printed meanwhile."""
        listener.stdin.write(f"{sql}\nSELECT '{marker}';\n")
        listener.stdin.flush()
        out = []
        while True:
            line = listener.stdout.readline()
            assert line, f"psql ended: {out}"
            out.append(line.strip())
            if line.strip() == marker:
                return out

    try:
        run_until(f'LISTEN "trove_inv_{table}";', "listening")
        # the probe itself: a notification on the channel is seen
        seen = run_until(f"NOTIFY \"trove_inv_{table}\", 'probe';", "probed")
        assert [x for x in seen if "notification" in x.lower()], seen
        before = pg_server.sql(f"SELECT idx FROM trove_storage_index WHERE kv_table = '{table}'")
        r = srv.request("POST", "/v1/sys/mounts/kv", token=srv.root_token, json={"type": "kv"})
        assert r.status_code == 204, r.text
        assert "X-Vault-Index" not in r.headers
        w = srv.request("POST", "/v1/kv/a", token=srv.root_token, json={"v": 1})
        assert w.status_code == 204 and "X-Vault-Index" not in w.headers
        g = srv.request("GET", "/v1/kv/a", token=srv.root_token, headers={"X-Vault-Index": "anything"})
        assert g.status_code == 200 and g.json()["data"] == {"v": 1}
        assert "X-Vault-Index" not in g.headers
        assert pg_server.sql(f"SELECT idx FROM trove_storage_index WHERE kv_table = '{table}'") == before
        # psql prints a notification it received when it next runs a command
        out = run_until("", "after")
        assert not [x for x in out if "notification" in x.lower()], out
    finally:
        listener.stdin.close()
        listener.wait(10)
    assert "trove listener" not in pg_server.sql("SELECT string_agg(application_name, ',') FROM pg_stat_activity")
