"""`trove login -method=userpass` and `-method=approle`.

Three layers:
- argument handling with no server at all (usage errors exit 1 and never
  repeat a secret);
- the requests the CLI sends, against a small fake HTTP server that records
  them and answers with a canned auth block: path, body, no X-Vault-Token,
  the token file, secrets read from stdin or asked for on a terminal
  without echo, and secrets wiped from /proc/<pid>/cmdline while the
  request is in flight;
- real logins against a dev server, when the userpass and approle engines
  are there (skipped while `sys/auth/<x>` refuses the type).
"""

import json
import os
import stat
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from trove_harness import TROVE_BIN, free_port, run_cli, sanitizer_env

FAKE_TOKEN = "hvs.FAKEloginTOKEN0123456789ab"


def env_for(addr, home, **extra):
    e = {"VAULT_ADDR": addr, "HOME": str(home)}
    e.update(extra)
    return e


def no_server(tmp_path, **extra):
    """An address where nothing listens."""
    return env_for(f"http://127.0.0.1:{free_port()}", tmp_path, **extra)


# -- argument handling, no server -------------------------------------------------


@pytest.mark.parametrize(
    "args, needle",
    [
        (["-method=userpass"], "username=NAME"),
        (["-method=userpass", "password=s3cr3t-pw"], "username=NAME"),
        (["-method=userpass", "username="], "username=NAME"),
        (["-method=userpass", "user=ann"], 'Unknown key "user"'),
        (["-method=userpass", "username=a", "username=b"], "more than once"),
        (["-method=userpass", "username=ann", "password=s3cr3t-pw", "password=s3cr3t-pw2"], "more than once"),
        (["-method=userpass", "username=a/b"], "must not contain '/'"),
        (["-method=userpass", "s3cr3t-pw"], "not of the form key=value"),
        (["-method=userpass", "-path=/", "username=ann", "password=s3cr3t-pw"], "-path"),
        (["-method=approle"], "role_id=ID"),
        (["-method=approle", "secret_id=s3cr3t-pw"], "role_id=ID"),
        (["-method=approle", "role_id=r", "secret_id=s3cr3t-pw", "secret_id=s3cr3t-pw2"], "more than once"),
        (["-method=approle", "role_id=r", "username=ann"], 'Unknown key "username"'),
        (["-method=approle", "=x"], "not of the form key=value"),
    ],
)
def test_usage_errors_exit_1(tmp_path, args, needle):
    p = run_cli(["login"] + args, env=no_server(tmp_path))
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert needle in p.stderr, p.stderr
    assert "trove login -h" in p.stderr
    assert "s3cr3t-pw" not in p.stdout + p.stderr
    assert not (tmp_path / ".vault-token").exists()


def test_unknown_method_lists_the_supported_ones(tmp_path):
    p = run_cli(["login", "-method=kerberos"], env=no_server(tmp_path))
    assert p.returncode == 1
    assert "not supported" in p.stderr and "userpass" in p.stderr and "approle" in p.stderr


def test_help_describes_the_methods(tmp_path):
    p = run_cli(["login", "-h"], env=no_server(tmp_path))
    assert p.returncode == 0
    text = " ".join(p.stdout.split())
    assert "userpass method" in text and "approle method" in text
    assert "only one" not in text
    assert "-method=userpass username=ann" in text


def test_unreachable_server_is_an_error_not_a_leak(tmp_path):
    # unreachable is a remote error: 2
    p = run_cli(["login", "-method=userpass", "username=ann", "password=s3cr3t-pw"], env=no_server(tmp_path))
    assert p.returncode == 2
    assert "s3cr3t-pw" not in p.stdout + p.stderr
    p = run_cli(["login", "-method=approle", "role_id=r", "secret_id=s3cr3t-pw"], env=no_server(tmp_path))
    assert p.returncode == 2
    assert "s3cr3t-pw" not in p.stdout + p.stderr


def test_missing_password_with_empty_stdin_fails(tmp_path):
    p = run_cli(["login", "-method=userpass", "username=ann"], env=no_server(tmp_path), input="")
    assert p.returncode == 1
    assert "no value was entered" in p.stderr


# -- the requests sent, against a fake server ---------------------------------------


class FakeVault:
    """Records every request; answers logins with a canned auth block, or
    with `status`/`errors`. When `hold` is set, requests wait for it to be
    cleared (hold.wait) before being answered."""

    def __init__(self):
        self.requests = []
        self.status = 200
        self.errors = None
        self.release = threading.Event()
        self.release.set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                fake.requests.append(
                    {
                        "method": "POST",
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": json.loads(body) if body else None,
                    }
                )
                fake.release.wait(30)
                if fake.status != 200:
                    out = {"errors": fake.errors or ["bad"]}
                else:
                    out = {
                        "request_id": "r-1",
                        "lease_id": "",
                        "renewable": False,
                        "lease_duration": 0,
                        "data": None,
                        "wrap_info": None,
                        "warnings": None,
                        "auth": {
                            "client_token": FAKE_TOKEN,
                            "accessor": "acc",
                            "policies": ["default", "dev"],
                            "token_policies": ["default", "dev"],
                            "identity_policies": None,
                            "metadata": {"username": "ann"},
                            "lease_duration": 3600,
                            "renewable": True,
                            "entity_id": "",
                            "token_type": "service",
                            "orphan": True,
                            "mfa_requirement": None,
                            "num_uses": 0,
                        },
                    }
                data = json.dumps(out).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake():
    f = FakeVault()
    yield f
    f.close()


def test_userpass_request_and_token_file(fake, tmp_path):
    e = env_for(fake.url, tmp_path, VAULT_TOKEN="hvs.previous-token")
    p = run_cli(["login", "-method=userpass", "username=ann", "password=pw 1"], env=e)
    assert p.returncode == 0, p.stderr
    assert len(fake.requests) == 1
    r = fake.requests[0]
    assert r["path"] == "/v1/auth/userpass/login/ann"
    assert r["body"] == {"password": "pw 1"}
    assert "x-vault-token" not in r["headers"], "a login must not send an earlier token"
    assert "Success! You are now authenticated" in p.stdout
    assert FAKE_TOKEN in p.stdout
    tf = tmp_path / ".vault-token"
    assert tf.read_text().strip() == FAKE_TOKEN
    assert stat.S_IMODE(tf.stat().st_mode) == 0o600


def test_userpass_password_from_stdin_custom_path_and_json(fake, tmp_path):
    e = env_for(fake.url, tmp_path)
    p = run_cli(["login", "-method=userpass", "-path=/people/", "-format=json", "-no-store", "username=Ann.B"],
                env=e, input="  from-stdin \n")
    assert p.returncode == 0, p.stderr
    r = fake.requests[-1]
    assert r["path"] == "/v1/auth/people/login/Ann.B"
    assert r["body"] == {"password": "from-stdin"}
    out = json.loads(p.stdout)
    assert out["auth"]["client_token"] == FAKE_TOKEN
    assert not (tmp_path / ".vault-token").exists()

    # password=- reads stdin as well
    p = run_cli(["login", "-method=userpass", "-token-only", "username=ann", "password=-"], env=e,
                input="dash-pw\n")
    assert p.returncode == 0, p.stderr
    assert fake.requests[-1]["body"] == {"password": "dash-pw"}
    assert p.stdout == FAKE_TOKEN


def test_approle_request(fake, tmp_path):
    e = env_for(fake.url, tmp_path, VAULT_TOKEN="hvs.previous-token")
    p = run_cli(["login", "-method=approle", "-field=token", "role_id=rid-1", "secret_id=sid-1"], env=e)
    assert p.returncode == 0, p.stderr
    assert p.stdout == FAKE_TOKEN
    r = fake.requests[-1]
    assert r["path"] == "/v1/auth/approle/login"
    assert r["body"] == {"role_id": "rid-1", "secret_id": "sid-1"}
    assert "x-vault-token" not in r["headers"]
    assert (tmp_path / ".vault-token").read_text().strip() == FAKE_TOKEN

    # no secret_id (bind_secret_id=false roles); a custom mount
    p = run_cli(["login", "-method=approle", "-path=machines", "-no-print", "role_id=rid-2"], env=e)
    assert p.returncode == 0, p.stderr
    assert fake.requests[-1]["path"] == "/v1/auth/machines/login"
    assert fake.requests[-1]["body"] == {"role_id": "rid-2"}
    assert p.stdout == ""

    # secret_id=- reads it from stdin
    p = run_cli(["login", "-method=approle", "-no-store", "role_id=rid-3", "secret_id=-"], env=e,
                input="sid-from-stdin\n")
    assert p.returncode == 0, p.stderr
    assert fake.requests[-1]["body"] == {"role_id": "rid-3", "secret_id": "sid-from-stdin"}


def run_on_pty(argv, env, prompt, answer, limit=60):
    """Runs argv on a pseudo-terminal, types answer after prompt appears.
    Returns (exit status or None, everything the terminal showed)."""
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI on the pty
        os.execve(argv[0], argv, env)
    seen, sent = b"", False
    deadline = time.time() + limit
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not sent and prompt in seen:
            os.write(fd, answer + b"\n")
            sent = True
    status, end = None, time.time() + 20
    while time.time() < end:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
        time.sleep(0.05)
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    os.close(fd)
    return status, seen


@pytest.mark.parametrize(
    "args, prompt, body",
    [
        (["-method=userpass", "username=ann"], b"Password (will be hidden): ", {"password": "tty-secret"}),
        (["-method=approle", "role_id=rid", "secret_id=-"], b"SecretID (will be hidden): ",
         {"role_id": "rid", "secret_id": "tty-secret"}),
    ],
)
def test_secret_prompt_on_a_terminal_does_not_echo(fake, tmp_path, args, prompt, body):
    env = sanitizer_env()
    env.update(env_for(fake.url, tmp_path))
    status, seen = run_on_pty([TROVE_BIN, "login", "-no-store"] + args, env, prompt, b"tty-secret")
    assert status is not None, f"trove login did not exit; it printed {seen!r}"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, seen
    assert prompt in seen
    assert b"tty-secret" not in seen, "the secret was echoed"
    assert fake.requests[-1]["body"] == body
    assert FAKE_TOKEN.encode() in seen


def test_server_refusal_exits_2_and_stores_nothing(fake, tmp_path):
    fake.status = 400
    fake.errors = ["invalid username or password"]
    e = env_for(fake.url, tmp_path)
    p = run_cli(["login", "-method=userpass", "username=ann", "password=wrong-pw"], env=e)
    assert p.returncode == 2
    assert "invalid username or password" in p.stderr
    assert "wrong-pw" not in p.stdout + p.stderr
    assert not (tmp_path / ".vault-token").exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
@pytest.mark.parametrize(
    "args, secret",
    [
        (["-method=userpass", "username=ann", "password=argv-secret-pw"], "argv-secret-pw"),
        (["-method=approle", "role_id=rid", "secret_id=argv-secret-sid"], "argv-secret-sid"),
    ],
)
def test_secrets_are_wiped_from_argv(fake, tmp_path, args, secret):
    fake.release.clear()  # hold the request: the CLI waits for the answer
    env = sanitizer_env()
    env.update(env_for(fake.url, tmp_path))
    proc = subprocess.Popen([TROVE_BIN, "login", "-no-store"] + args, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fake.requests, "the CLI never sent its login"
        with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
            cmdline = f.read()
        assert b"login" in cmdline
        assert secret.encode() not in cmdline, cmdline
        assert secret in json.dumps(fake.requests[0]["body"])
    finally:
        fake.release.set()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert secret not in out + err


# -- real logins against a dev server --------------------------------------------------


def enable_or_skip(srv, path, typ):
    r = srv.request("POST", f"/v1/sys/auth/{path}", token=srv.root_token, json={"type": typ})
    if r.status_code == 400 and "unknown" in r.text.lower():
        pytest.skip(f"the {typ} auth method is not in this build yet: {r.text.strip()}")
    assert r.status_code in (200, 204), r.text


def lookup_self(srv, token):
    r = srv.get("/v1/auth/token/lookup-self", token=token)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_userpass_login_against_dev_server(dev_server, tmp_path):
    srv = dev_server
    enable_or_skip(srv, "userpass", "userpass")
    r = srv.request("POST", "/v1/auth/userpass/users/ann", token=srv.root_token,
                    json={"password": "correct horse", "token_policies": "dev", "token_ttl": "1h"})
    assert r.status_code in (200, 204), r.text

    e = env_for(srv.url, tmp_path, VAULT_TOKEN=srv.root_token)
    p = run_cli(["login", "-method=userpass", "-format=json", "username=ann", "password=correct horse"], env=e)
    assert p.returncode == 0, p.stderr
    auth = json.loads(p.stdout)["auth"]
    tok = auth["client_token"]
    assert (tmp_path / ".vault-token").read_text().strip() == tok
    assert auth["policies"] == ["default", "dev"]
    assert auth["lease_duration"] == 3600
    me = lookup_self(srv, tok)
    assert me["path"] == "auth/userpass/login/ann"
    assert me["orphan"] is True

    # the password from stdin; a wrong one fails and keeps the old file
    p = run_cli(["login", "-method=userpass", "-no-store", "-field=token", "username=ann"], env=e,
                input="correct horse\n")
    assert p.returncode == 0, p.stderr
    assert lookup_self(srv, p.stdout)["path"] == "auth/userpass/login/ann"
    p = run_cli(["login", "-method=userpass", "username=ann", "password=wrong"], env=e)
    assert p.returncode == 2
    assert (tmp_path / ".vault-token").read_text().strip() == tok

    # another mount path
    enable_or_skip(srv, "people", "userpass")
    r = srv.request("POST", "/v1/auth/people/users/bob", token=srv.root_token, json={"password": "pw-bob"})
    assert r.status_code in (200, 204), r.text
    p = run_cli(["login", "-method=userpass", "-path=people", "-token-only", "username=bob", "password=pw-bob"],
                env=e)
    assert p.returncode == 0, p.stderr
    assert lookup_self(srv, p.stdout)["path"] == "auth/people/login/bob"


def test_approle_login_against_dev_server(dev_server, tmp_path):
    srv = dev_server
    enable_or_skip(srv, "approle", "approle")
    r = srv.request("POST", "/v1/auth/approle/role/ci", token=srv.root_token,
                    json={"token_policies": "dev", "token_ttl": "20m"})
    assert r.status_code in (200, 204), r.text
    r = srv.get("/v1/auth/approle/role/ci/role-id", token=srv.root_token)
    assert r.status_code == 200, r.text
    role_id = r.json()["data"]["role_id"]
    r = srv.request("POST", "/v1/auth/approle/role/ci/secret-id", token=srv.root_token, json={})
    assert r.status_code == 200, r.text
    secret_id = r.json()["data"]["secret_id"]

    e = env_for(srv.url, tmp_path)
    p = run_cli(["login", "-method=approle", "-format=json", f"role_id={role_id}", f"secret_id={secret_id}"],
                env=e)
    assert p.returncode == 0, p.stderr
    auth = json.loads(p.stdout)["auth"]
    assert auth["policies"] == ["default", "dev"]
    assert auth["lease_duration"] == 1200
    assert (tmp_path / ".vault-token").read_text().strip() == auth["client_token"]
    assert lookup_self(srv, auth["client_token"])["path"] == "auth/approle/login"

    # a wrong secret_id is refused
    p = run_cli(["login", "-method=approle", f"role_id={role_id}", "secret_id=not-the-secret"], env=e)
    assert p.returncode == 2
    assert "not-the-secret" not in p.stdout + p.stderr
