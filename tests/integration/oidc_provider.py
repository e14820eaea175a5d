"""A real OpenID provider for the OIDC tests: npm oidc-provider
(tests/integration/oidc_provider.js) run by node on loopback, and a
browser's part of the authorisation-code flow played with requests.

    with OIDCProvider(tmp_path, redirect_uris=[...], users={...}) as idp:
        idp.issuer, idp.client_id, idp.client_secret
        code, state = idp.sign_in(auth_url, "ann", redirect_uri)

sign_in follows the authorisation URL to the provider's login form, signs
the user in (the development form takes any password), grants consent,
and stops at the redirect back to redirect_uri, returning what it
carries (code and state for response_mode query)."""

import json
import re
import secrets
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import requests

HERE = Path(__file__).parent


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OIDCProvider:
    def __init__(self, log_dir, redirect_uris, users, client_id="trove"):
        self.port = _free_port()
        self.client_id = client_id
        self.client_secret = "client-secret-" + secrets.token_hex(16)
        self.cfg = {"port": self.port, "client_id": client_id, "client_secret": self.client_secret,
                    "redirect_uris": redirect_uris, "users": users}
        self.log = Path(log_dir) / f"oidc-provider-{self.port}.log"
        self.proc = None
        self.issuer = None

    def __enter__(self):
        node_modules = HERE / "node" / "node_modules" / "oidc-provider"
        assert node_modules.is_dir(), "run scripts/deps.sh --test (npm ci in tests/integration/node)"
        self._logf = open(self.log, "w")
        self.proc = subprocess.Popen(["node", str(HERE / "oidc_provider.js"), json.dumps(self.cfg)],
                                     stdout=subprocess.PIPE, stderr=self._logf, text=True)
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY "):
                self.issuer = line.split()[1]
                return self
            if not line and self.proc.poll() is not None:
                break
        self.__exit__(None, None, None)
        raise RuntimeError(f"oidc-provider did not start: {line!r}; see {self.log}")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc:
            self.proc.stdout.close()
        self._logf.close()

    def sign_in(self, auth_url, user, redirect_uri, session=None):
        """Plays the browser from auth_url to the redirect to
        redirect_uri; returns that redirect's query as a dict."""
        s = session or requests.Session()
        url = auth_url
        for _ in range(20):
            r = s.get(url, allow_redirects=False, timeout=10)
            if r.status_code in (302, 303):
                url = urljoin(url, r.headers["Location"])
                if url.startswith(redirect_uri):
                    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
                continue
            assert r.status_code == 200, (r.status_code, r.text[:500])
            m = re.search(r'<form[^>]*action="([^"]+)"', r.text)
            assert m, r.text[:500]
            action = urljoin(url, m.group(1))
            if 'name="login"' in r.text:
                body = {"prompt": "login", "login": user, "password": "any"}
            else:
                body = {"prompt": "consent"}
            r = s.post(action, data=body, allow_redirects=False, timeout=10)
            assert r.status_code in (302, 303), (r.status_code, r.text[:500])
            url = urljoin(action, r.headers["Location"])
            if url.startswith(redirect_uri):
                return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
        raise AssertionError("the sign-in did not come back to the redirect URI")
