"""The API client library (src/api/) as the `trove` CLI uses it, against a
tiny scripted HTTP server: retries of 503, 429, 502 and 412 answers (only
when VAULT_MAX_RETRIES asks for them, as Vault's CLI), answers that are
never retried, Retry-After, the call's time budget (VAULT_CLIENT_TIMEOUT),
and the X-Vault-Namespace, X-Vault-Wrap-TTL and X-Vault-Request headers
reaching the server from the environment and from flags, TROVE_* winning
over VAULT_*. A last test checks a real dev server still answers through
the library with retries on."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from trove_harness import run_cli

OK_BODY = {"request_id": "r", "lease_id": "", "renewable": False, "lease_duration": 0, "data": {"k": "v"}}


class ScriptedServer:
    """Answers request n with script[n] (the last entry repeats): a tuple
    (status, extra headers, delay in seconds). Records method, path and
    headers of every request."""

    def __init__(self, script):
        self.script = list(script)
        self.seen = []
        self.lock = threading.Lock()
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                with srv.lock:
                    i = len(srv.seen)
                    srv.seen.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                        }
                    )
                    status, extra, delay = srv.script[min(i, len(srv.script) - 1)]
                if delay:
                    time.sleep(delay)
                body = json.dumps(OK_BODY if status < 300 else {"errors": [f"scripted {status}"]}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = do_LIST = answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted():
    servers = []

    def make(*script):
        s = ScriptedServer(script)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def env_for(srv, **extra):
    e = {"VAULT_ADDR": srv.url, "VAULT_TOKEN": "s.scripted"}
    e.update(extra)
    return e


NOW = {"Retry-After": "0"}


# -- retries ---------------------------------------------------------------------


def test_503_and_429_then_success_are_retried_when_asked(scripted):
    srv = scripted((503, NOW, 0), (429, NOW, 0), (200, None, 0))
    p = run_cli(["read", "-format=json", "secret/x"], env=env_for(srv, VAULT_MAX_RETRIES="3"))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["data"] == {"k": "v"}
    assert [r["method"] for r in srv.seen] == ["GET"] * 3
    assert all(r["path"] == "/v1/secret/x" for r in srv.seen)


def test_cli_does_not_retry_unless_asked(scripted):
    # Vault's CLI turns retries off when VAULT_MAX_RETRIES is not set.
    srv = scripted((503, NOW, 0), (200, None, 0))
    p = run_cli(["read", "secret/x"], env=env_for(srv))
    assert p.returncode == 2, p.stderr
    assert "Code: 503" in p.stderr and "scripted 503" in p.stderr
    assert len(srv.seen) == 1


def test_retries_run_out_and_the_last_answer_is_reported(scripted):
    srv = scripted((503, NOW, 0))
    p = run_cli(["read", "secret/x"], env=env_for(srv, TROVE_MAX_RETRIES="2", VAULT_MAX_RETRIES="9"))
    assert p.returncode == 2
    assert "Code: 503" in p.stderr
    assert len(srv.seen) == 3, "TROVE_MAX_RETRIES=2 wins: three tries in all"


def test_backoff_waits_without_retry_after(scripted):
    srv = scripted((502, None, 0), (412, None, 0), (200, None, 0))
    t0 = time.monotonic()
    p = run_cli(["read", "secret/x"], env=env_for(srv, VAULT_MAX_RETRIES="2"))
    took = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    assert len(srv.seen) == 3
    # 1 s (+ up to 0.5 s jitter), then 2 s (+ up to 1 s): exponential.
    assert 3.0 <= took < 8.0, took


def test_writes_are_retried_like_reads(scripted):
    # Vault's client retries every method alike; so does Trove's.
    srv = scripted((503, NOW, 0), (204, None, 0))
    p = run_cli(["write", "secret/x", "a=b"], env=env_for(srv, VAULT_MAX_RETRIES="1"))
    assert p.returncode == 0, p.stderr
    assert [r["method"] for r in srv.seen] == ["PUT", "PUT"]


@pytest.mark.parametrize("status", [400, 403, 404, 405, 501])
def test_final_answers_are_not_retried(scripted, status):
    srv = scripted((status, NOW, 0), (200, None, 0))
    p = run_cli(["write", "secret/x", "a=b"], env=env_for(srv, VAULT_MAX_RETRIES="3"))
    assert p.returncode == 2
    assert f"Code: {status}" in p.stderr
    assert len(srv.seen) == 1


def test_client_timeout_covers_the_call(scripted):
    srv = scripted((200, None, 5))
    t0 = time.monotonic()
    p = run_cli(["read", "secret/x"], env=env_for(srv, VAULT_CLIENT_TIMEOUT="1", VAULT_MAX_RETRIES="3"))
    took = time.monotonic() - t0
    assert p.returncode == 2
    assert "no answer from" in p.stderr and "within 1 seconds" in p.stderr, p.stderr
    assert took < 4.5, took
    assert len(srv.seen) == 1, "a timeout is not retried"


@pytest.mark.parametrize(
    "var, value",
    [("VAULT_MAX_RETRIES", "many"), ("VAULT_MAX_RETRIES", "-1"), ("VAULT_CLIENT_TIMEOUT", "soon"),
     ("TROVE_SKIP_VERIFY", "maybe")],
)
def test_bad_settings_are_local_errors(scripted, var, value):
    srv = scripted((200, None, 0))
    p = run_cli(["read", "secret/x"], env=env_for(srv, **{var: value}))
    assert p.returncode == 1
    assert var in p.stderr and value in p.stderr
    assert srv.seen == []


# -- headers ---------------------------------------------------------------------


def test_namespace_and_wrap_ttl_from_the_environment(scripted):
    srv = scripted((200, None, 0))
    p = run_cli(["read", "secret/x"], env=env_for(srv, VAULT_NAMESPACE="team-a/", VAULT_WRAP_TTL="2m"))
    assert p.returncode == 0, p.stderr
    h = srv.seen[0]["headers"]
    assert h["x-vault-namespace"] == "team-a/"
    assert h["x-vault-wrap-ttl"] == "2m"
    assert h["x-vault-request"] == "true"
    assert h["x-vault-token"] == "s.scripted"


def test_trove_variables_win_and_flags_win_over_both(scripted):
    srv = scripted((200, None, 0))
    env = env_for(srv, VAULT_NAMESPACE="vault-ns", TROVE_NAMESPACE="trove-ns", VAULT_WRAP_TTL="1m",
                  TROVE_WRAP_TTL="3m")
    p = run_cli(["read", "secret/x"], env=env)
    assert p.returncode == 0, p.stderr
    assert srv.seen[0]["headers"]["x-vault-namespace"] == "trove-ns"
    assert srv.seen[0]["headers"]["x-vault-wrap-ttl"] == "3m"
    p = run_cli(["read", "-namespace=flag-ns", "-wrap-ttl=4m", "secret/x"], env=env)
    assert p.returncode == 0, p.stderr
    assert srv.seen[1]["headers"]["x-vault-namespace"] == "flag-ns"
    assert srv.seen[1]["headers"]["x-vault-wrap-ttl"] == "4m"
    p = run_cli(["read", "-ns=short-ns", "secret/x"], env=env_for(srv))
    assert p.returncode == 0, p.stderr
    assert srv.seen[2]["headers"]["x-vault-namespace"] == "short-ns"


def test_no_namespace_or_wrap_header_unless_asked(scripted):
    srv = scripted((200, None, 0))
    p = run_cli(["read", "secret/x"], env=env_for(srv))
    assert p.returncode == 0, p.stderr
    h = srv.seen[0]["headers"]
    assert "x-vault-namespace" not in h and "x-vault-wrap-ttl" not in h


def test_sys_wrapping_wrap_gets_vaults_default_ttl(scripted):
    srv = scripted((200, None, 0))
    p = run_cli(["write", "sys/wrapping/wrap", "a=b"], env=env_for(srv))
    assert p.returncode == 0, p.stderr
    assert srv.seen[0]["headers"]["x-vault-wrap-ttl"] == "5m"


def test_a_line_break_in_a_header_setting_is_refused(scripted):
    srv = scripted((200, None, 0))
    p = run_cli(["read", "secret/x"], env=env_for(srv, VAULT_NAMESPACE="a\r\nX-Evil: 1"))
    assert p.returncode == 2
    assert "namespace" in p.stderr
    assert srv.seen == []


# -- TLS server name -------------------------------------------------------------


def test_tls_server_name_is_the_name_checked(tls_server):
    # The server certificate names 127.0.0.1 and localhost. Reached by its
    # IP address, the name asked for is the one the certificate must hold.
    tls = tls_server.tls
    env = {
        "VAULT_ADDR": tls_server.url,
        "VAULT_CACERT": str(tls.ca_cert),
        "VAULT_CLIENT_CERT": str(tls.client_cert),
        "VAULT_CLIENT_KEY": str(tls.client_key),
    }
    assert "127.0.0.1" in tls_server.url
    p = run_cli(["status"], env=dict(env, VAULT_TLS_SERVER_NAME="localhost"))
    assert p.returncode == 2, p.stdout + p.stderr  # answered: uninitialised counts as sealed
    p = run_cli(["status"], env=dict(env, VAULT_TLS_SERVER_NAME="vault.wrong.example"))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "vault.wrong.example" in p.stderr or "certificate" in p.stderr.lower(), p.stderr
    p = run_cli(["status", "-tls-server-name=vault.wrong.example"], env=dict(env, VAULT_TLS_SERVER_NAME="localhost"))
    assert p.returncode == 1, p.stdout + p.stderr
    p = run_cli(["status", "-tls-server-name=localhost"], env=env)
    assert p.returncode == 2, p.stdout + p.stderr


def test_tls_server_name_keeps_the_address_in_host(scripted, tls_material):
    # Vault's client sends the name for SNI and the certificate check, and
    # the address's own host and port in the Host header.
    import ssl

    srv = scripted((200, None, 0))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tls_material.server_cert), str(tls_material.server_key))
    srv.httpd.socket = ctx.wrap_socket(srv.httpd.socket, server_side=True)
    port = srv.httpd.server_address[1]
    env = {"VAULT_ADDR": f"https://127.0.0.1:{port}", "VAULT_TOKEN": "s.scripted",
           "VAULT_CACERT": str(tls_material.ca_cert), "VAULT_TLS_SERVER_NAME": "localhost"}
    p = run_cli(["read", "secret/x"], env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert srv.seen and srv.seen[0]["headers"]["host"] == f"127.0.0.1:{port}"


# -- a real server ---------------------------------------------------------------


def test_real_server_through_the_library_with_retries_on(dev_server):
    env = {"VAULT_ADDR": dev_server.url, "VAULT_TOKEN": dev_server.root_token, "VAULT_MAX_RETRIES": "2"}
    p = run_cli(["kv", "put", "secret/api-client", "k=v1"], env=env)
    assert p.returncode == 0, p.stderr
    p = run_cli(["kv", "get", "-field=k", "secret/api-client"], env=env)
    assert p.returncode == 0 and p.stdout.strip() == "v1", p.stderr
    p = run_cli(["read", "secret/data/nope"], env=env)
    assert p.returncode == 2
