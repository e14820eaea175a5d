"""`trove login -method=oidc` and `trove login -method=jwt` end to end.

The OIDC tests run a real OpenID provider (npm oidc-provider on loopback,
oidc_provider.py) and a real browser: headless Chromium driven by npm
playwright-core (browser/sign_in.js), handed to the CLI through $BROWSER as
a person's browser would be. The user signs in on the provider's own login
page; the provider redirects the browser to the CLI's callback listener;
the CLI completes the login at the server and stores the token. The token
must carry the policies of the user's IdP groups (external groups).

Without Chromium or playwright-core the browser tests are skipped, naming
what is missing; the listener's refusals and the jwt method need neither.
"""

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from oidc_provider import OIDCProvider
from trove_harness import TROVE_BIN, free_port, run_cli, sanitizer_env, sanitizer_findings

sys.path.insert(0, str(Path(__file__).parent))
from test_auth_jwt import claims, enable, new_key, pem, sign  # noqa: E402

HERE = Path(__file__).parent
SIGN_IN = HERE / "browser" / "sign_in.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
USERS = {"ann": {"email": "ann@example.com", "groups": ["ops", "eng"]},
         "bob": {"email": "bob@example.com", "groups": ["eng"]}}


def browser_missing():
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not installed (Debian package chromium; scripts/deps.sh --test)"
    if not (HERE / "node" / "node_modules" / "playwright-core").is_dir():
        return "npm playwright-core not installed (npm ci in tests/integration/node)"
    return None


needs_browser = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))


class Setup:
    def __init__(self, srv, idp, port, tmp_path):
        self.srv, self.idp, self.port, self.tmp = srv, idp, port, tmp_path
        self.token_path = tmp_path / "vault-token"

    def env(self, **extra):
        e = sanitizer_env()
        e.update({"VAULT_ADDR": self.srv.url, "HOME": str(self.tmp), "TROVE_TOKEN_PATH": str(self.token_path)})
        e.update(extra)
        return e

    def start(self, *args, **env):
        """Starts `trove login -method=oidc ARGS port=<port>`."""
        cmd = [TROVE_BIN, "login", "-method=oidc", *args, f"port={self.port}"]
        return subprocess.Popen(cmd, env=self.env(**env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def browser_script(self, user):
        """A $BROWSER that signs user in with Chromium; logs to browser.log."""
        script = self.tmp / f"browser-{user}.sh"
        log = self.tmp / "browser.log"
        script.write_text(f"#!/bin/sh\nexec node '{SIGN_IN}' \"$1\" '{user}' >>'{log}' 2>&1\n")
        script.chmod(0o755)
        return str(script), log


def wait_for_url(proc):
    """Reads the CLI's stderr up to the authorisation URL it prints."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        m = re.match(r"^\s+(http\S+)$", line)
        if m:
            return m.group(1)
    raise AssertionError("no URL printed: " + "".join(seen))


def browser_page(log):
    """What the browser shows at the end (it may finish after the CLI)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        if "TEXT " in text or "Error" in text:
            return text
        time.sleep(0.2)
    return log.read_text() if log.exists() else ""


def finish(proc, timeout=90):
    out, err = proc.communicate(timeout=timeout)
    assert not sanitizer_findings(err), err[-4000:]
    return proc.returncode, out, err


def with_browser(s, user, *args):
    """Runs the CLI with a $BROWSER that signs user in; returns its exit
    code, stdout, stderr and the browser's log."""
    browser, log = s.browser_script(user)
    code, out, err = finish(s.start(*args, BROWSER=browser))
    return code, out, err, log


def sign_in(url, user):
    return subprocess.run(["node", str(SIGN_IN), url, user], capture_output=True, text=True, timeout=60)


@pytest.fixture
def oidc_cli(dev_server, log_dir, tmp_path):
    srv = dev_server
    port = free_port()
    redirect = f"http://localhost:{port}/oidc/callback"
    with OIDCProvider(log_dir, [redirect], USERS) as idp:
        acc = enable(srv, "oidc", "oidc")
        h = {"X-Vault-Token": srv.root_token}
        u = srv.url + "/v1"
        ok = [requests.post(f"{u}/auth/oidc/config", headers=h, timeout=30, json={
                  "oidc_discovery_url": idp.issuer, "oidc_client_id": idp.client_id,
                  "oidc_client_secret": idp.client_secret, "default_role": "web"}),
              requests.post(f"{u}/auth/oidc/role/web", headers=h, timeout=10, json={
                  "role_type": "oidc", "user_claim": "sub", "groups_claim": "groups",
                  "oidc_scopes": ["email", "groups"], "allowed_redirect_uris": [redirect],
                  "token_policies": ["web"]}),
              # A role only members of the IdP's ops group may use.
              requests.post(f"{u}/auth/oidc/role/ops-only", headers=h, timeout=10, json={
                  "role_type": "oidc", "user_claim": "sub", "groups_claim": "groups",
                  "oidc_scopes": ["groups"], "allowed_redirect_uris": [redirect],
                  "bound_claims": {"groups": ["ops"]}}),
              requests.put(f"{u}/sys/policies/acl/ops-pol", headers=h, timeout=10,
                           json={"policy": 'path "secret/*" { capabilities = ["read"] }'})]
        assert all(r.status_code in (200, 204) for r in ok), [r.text for r in ok]
        g = requests.post(f"{u}/identity/group", headers=h, timeout=10,
                          json={"name": "ops", "type": "external", "policies": ["ops-pol"]}).json()["data"]
        r = requests.post(f"{u}/identity/group-alias", headers=h, timeout=10,
                          json={"name": "ops", "mount_accessor": acc, "canonical_id": g["id"]})
        assert r.status_code in (200, 204), r.text
        yield Setup(srv, idp, port, tmp_path)


def stored_token(s):
    assert s.token_path.exists(), "no token stored"
    assert stat.S_IMODE(s.token_path.stat().st_mode) == 0o600
    tok = s.token_path.read_text().strip()
    r = s.srv.get("/v1/auth/token/lookup-self", token=tok)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def http(port, raw):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(raw)
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                return data.decode(errors="replace")
            data += chunk


# --- the browser flow ------------------------------------------------------------


@needs_browser
@pytest.mark.time_limit(150)
def test_browser_login_gets_the_idp_groups_policies(oidc_cli):
    s = oidc_cli
    code, out, err, log = with_browser(s, "ann", "role=web")
    assert code == 0, err + "\n" + (log.read_text() if log.exists() else "")
    assert "Launching browser to:" in err and "Success! You are now authenticated." in out
    assert "Signed in" in browser_page(log)
    d = stored_token(s)
    assert sorted(d["policies"]) == ["default", "web"] and d["identity_policies"] == ["ops-pol"]
    assert d["meta"]["role"] == "web"


@needs_browser
@pytest.mark.time_limit(150)
def test_skip_browser_prints_the_url(oidc_cli):
    s = oidc_cli
    # No role: the mount's default_role.
    proc = s.start("-format=json", "skip_browser=true", BROWSER="/bin/false")
    url = wait_for_url(proc)
    assert url.startswith(s.idp.issuer + "/auth?") and f"localhost%3A{s.port}" in url
    b = sign_in(url, "bob")
    assert b.returncode == 0 and "Signed in" in b.stdout, b.stderr
    code, out, err = finish(proc)
    assert code == 0, err
    auth = json.loads(out)["auth"]
    assert auth["client_token"] == s.token_path.read_text().strip()
    d = stored_token(s)
    assert d.get("identity_policies") in (None, []), d  # bob is not in ops


@needs_browser
@pytest.mark.time_limit(150)
def test_user_not_bound_by_the_role_exits_2(oidc_cli):
    s = oidc_cli
    code, out, err, log = with_browser(s, "bob", "role=ops-only")
    assert code == 2, err
    assert "Error completing the OIDC login" in err and "Code: 400" in err and "claim" in err, err
    assert "Login failed" in browser_page(log)
    assert not s.token_path.exists()


@needs_browser
@pytest.mark.time_limit(150)
def test_listener_refuses_forged_and_stray_requests_and_keeps_waiting(oidc_cli):
    s = oidc_cli
    proc = s.start("role=web", "skip_browser=true")
    url = wait_for_url(proc)
    cb = "/oidc/callback"
    forged = http(s.port, f"GET {cb}?state=forged&code=stolen HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert forged.startswith("HTTP/1.1 400") and "state differs" in forged
    assert http(s.port, b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n").startswith("HTTP/1.1 404")
    assert http(s.port, f"DELETE {cb} HTTP/1.1\r\n\r\n".encode()).startswith("HTTP/1.1 405")
    assert http(s.port, f"POST {cb} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".encode()).startswith("HTTP/1.1 411")
    big = f"POST {cb} HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 99999\r\n\r\n"
    assert http(s.port, big.encode()).startswith("HTTP/1.1 413")
    assert http(s.port, b"garbage\r\n\r\n").startswith("HTTP/1.1 400")
    # A form_post carrying a wrong state is refused the same way.
    body = b"state=forged&code=stolen"
    post = (f"POST {cb} HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    assert http(s.port, post).startswith("HTTP/1.1 400")
    # A silent connection does not hold the listener for long.
    with socket.create_connection(("127.0.0.1", s.port), timeout=10):
        pass
    assert proc.poll() is None, "a refused request ended the login"
    b = sign_in(url, "ann")
    assert b.returncode == 0 and "Signed in" in b.stdout, b.stderr
    code, out, err = finish(proc)
    assert code == 0, err
    assert stored_token(s)["identity_policies"] == ["ops-pol"]


# --- without a browser -----------------------------------------------------------


def test_oidc_argument_errors_exit_1(tmp_path):
    env = {"VAULT_ADDR": f"http://127.0.0.1:{free_port()}", "HOME": str(tmp_path)}
    for args, needle in ((["rolee=x"], 'Unknown key "rolee"'), (["skip_browser=maybe"], "true or false"),
                         (["callbackmethod=ftp"], "http or https"), (["web"], "key=value")):
        p = run_cli(["login", "-method=oidc", *args], env=env)
        assert p.returncode == 1 and needle in p.stderr, (args, p.stderr)


def test_oidc_port_in_use_is_a_local_error(dev_server, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        p = run_cli(["login", "-method=oidc", "listenaddress=127.0.0.1", f"port={port}"],
                    env={"VAULT_ADDR": dev_server.url, "HOME": str(tmp_path)})
    assert p.returncode == 1 and "cannot listen" in p.stderr, p.stderr


@pytest.fixture
def jwt_mount(dev_server):
    key = new_key()
    enable(dev_server, "ci-jwt", "jwt")
    h = {"X-Vault-Token": dev_server.root_token}
    u = f"{dev_server.url}/v1/auth/ci-jwt"
    assert requests.post(f"{u}/config", headers=h, json={"jwt_validation_pubkeys": [pem(key)]}, timeout=30).ok
    r = requests.post(f"{u}/role/ci", headers=h, timeout=10, json={
        "role_type": "jwt", "user_claim": "sub", "bound_audiences": ["trove"], "token_policies": ["ci"]})
    assert r.ok, r.text
    return dev_server, key


def test_jwt_login_from_a_file_stdin_and_argument(jwt_mount, tmp_path):
    srv, key = jwt_mount
    token_path = tmp_path / "vault-token"
    env = {"VAULT_ADDR": srv.url, "HOME": str(tmp_path), "TROVE_TOKEN_PATH": str(token_path)}
    jwt = sign(key, claims())
    f = tmp_path / "id_token"
    f.write_text(jwt + "\n")
    p = run_cli(["login", "-method=jwt", "-path=ci-jwt", "role=ci", f"jwt=@{f}"], env=env)
    assert p.returncode == 0, p.stderr
    assert "Success!" in p.stdout and jwt not in p.stdout + p.stderr
    look = srv.get("/v1/auth/token/lookup-self", token=token_path.read_text().strip()).json()["data"]
    assert sorted(look["policies"]) == ["ci", "default"] and look["meta"]["role"] == "ci"
    p = run_cli(["login", "-method=jwt", "-path=ci-jwt", "-field=token", "role=ci", "jwt=-"], env=env, input=jwt)
    assert p.returncode == 0 and p.stdout == token_path.read_text().strip(), p.stderr
    p = run_cli(["login", "-method=jwt", "-path=ci-jwt", "-no-store", "role=ci", f"jwt={jwt}"], env=env)
    assert p.returncode == 0, p.stderr


def test_jwt_login_refusals(jwt_mount, tmp_path):
    srv, key = jwt_mount
    env = {"VAULT_ADDR": srv.url, "HOME": str(tmp_path), "TROVE_TOKEN_PATH": str(tmp_path / "t")}
    bad = sign(new_key(), claims())
    p = run_cli(["login", "-method=jwt", "-path=ci-jwt", "role=ci", f"jwt={bad}"], env=env)
    assert p.returncode == 2 and "Code: 400" in p.stderr and bad not in p.stderr, p.stderr
    assert not (tmp_path / "t").exists()
    for args, needle in ((["role=ci"], "needs jwt="), (["role=ci", "jwt=a", "jwt=b"], "more than once"),
                         (["role=ci", "jwt=@/nonexistent/x"], "/nonexistent/x"), (["user=x", "jwt=a"], "role=NAME")):
        p = run_cli(["login", "-method=jwt", "-path=ci-jwt", *args], env=env)
        assert p.returncode == 1 and needle in p.stderr, (args, p.stderr)
