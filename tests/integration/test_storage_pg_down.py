"""A Trove node whose PostgreSQL is out of reach (docs/ha.md, "When the
database is down"): requests answer 503 with an error that names the
storage and says why, and neither the answer nor the log carries the
connection_url or its password."""

import time

from test_storage_postgresql import pg_trove  # noqa: F401  (the fixture)
from pg_server import running_server


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
