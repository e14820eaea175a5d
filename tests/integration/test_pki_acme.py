"""The pki engine's ACME server (RFC 8555) with real clients: certbot and
lego obtain certificates for "localhost" through http-01 (port 80) and
tls-alpn-01 (port 443) on 127.0.0.1; a wrong key authorisation leaves the
order invalid; External Account Binding; badNonce and replayed nonces.
Every certificate is checked with `openssl verify` and `cryptography`,
never by trusting the server's JSON.

The validator connects to the standard ports, as Vault's does, so the
client tests bind 80 and 443: they need root and free ports (they are
skipped otherwise)."""

import base64
import datetime
import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ACME_HEADERS = ["Replay-Nonce", "Location", "Link", "Last-Modified"]
NAME = "localhost"


def v1(srv, method, path, body=None, status=None):
    r = srv.request(method, f"/v1/{path}", token=srv.root_token, json=body)
    if status is not None:
        assert r.status_code == status, (path, r.status_code, r.text)
    return r


def setup_acme(srv, eab_policy=None, path="pki"):
    v1(srv, "POST", f"sys/mounts/{path}", {"type": "pki", "config": {"max_lease_ttl": "87600h"}}, 204)
    v1(srv, "POST", f"sys/mounts/{path}/tune", {"allowed_response_headers": ACME_HEADERS}, 204)
    r = v1(srv, "POST", f"{path}/root/generate/internal", {"common_name": "ACME Test Root", "ttl": "8760h",
                                                            "key_type": "ec"}, 200)
    root = r.json()["data"]["certificate"]
    v1(srv, "POST", f"{path}/config/cluster", {"path": f"{srv.url}/v1/{path}"}, 200)
    cfg = {"enabled": True}
    if eab_policy:
        cfg["eab_policy"] = eab_policy
    v1(srv, "POST", f"{path}/config/acme", cfg, 200)
    return root


def directory_url(srv, path="pki"):
    return f"{srv.url}/v1/{path}/acme/directory"


def port_free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


needs_ports = pytest.mark.skipif(os.geteuid() != 0 or not port_free(80) or not port_free(443),
                                 reason="binds ports 80 and 443 on 127.0.0.1: needs root and free ports")


def check_chain(tmp_path, root_pem, chain_pem, name=NAME):
    """openssl verify the leaf (first PEM of chain_pem) against the root;
    return the leaf."""
    end = "-----END CERTIFICATE-----"
    certs = [x509.load_pem_x509_certificate((block + end).encode()) for block in chain_pem.split(end)
             if "BEGIN CERTIFICATE" in block]
    assert len(certs) >= 2, chain_pem
    (tmp_path / "root.pem").write_text(root_pem + "\n")
    (tmp_path / "leaf.pem").write_bytes(certs[0].public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "root.pem"), str(tmp_path / "leaf.pem")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().endswith(": OK"), out.stdout + out.stderr
    leaf = certs[0]
    if name:
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == [name]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    bcs = [e.value for e in leaf.extensions if isinstance(e.value, x509.BasicConstraints)]
    assert not bcs or not bcs[0].ca
    assert leaf.not_valid_after > leaf.not_valid_before
    return leaf


# --- a small ACME client, for the protocol's corners ---------------------------------------------


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Client:
    def __init__(self, srv, path="pki"):
        self.srv = srv
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.dir = requests.get(directory_url(srv, path), timeout=10).json()
        self.kid = None

    def jwk(self):
        n = self.key.public_key().public_numbers()
        return {"kty": "EC", "crv": "P-256", "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}

    def thumbprint(self):
        j = self.jwk()
        canon = json.dumps({"crv": j["crv"], "kty": "EC", "x": j["x"], "y": j["y"]}, separators=(",", ":"))
        return b64u(hashlib.sha256(canon.encode()).digest())

    def nonce(self):
        r = requests.head(self.dir["newNonce"], timeout=10)
        assert r.status_code == 200, r.text
        return r.headers["Replay-Nonce"]

    def sign(self, url, payload, nonce=None, use_jwk=False, key=None):
        key = key or self.key
        prot = {"alg": "ES256", "url": url, "nonce": nonce or self.nonce()}
        if use_jwk or not self.kid:
            prot["jwk"] = self.jwk()
        else:
            prot["kid"] = self.kid
        p64 = b64u(json.dumps(prot).encode())
        pl64 = "" if payload is None else b64u(json.dumps(payload).encode())
        der = key.sign(f"{p64}.{pl64}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        return {"protected": p64, "payload": pl64, "signature": b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))}

    def post(self, url, payload, **kw):
        body = self.sign(url, payload, **kw)
        return requests.post(url, data=json.dumps(body), headers={"Content-Type": "application/jose+json"},
                             timeout=10)

    def new_account(self, extra=None):
        p = {"termsOfServiceAgreed": True}
        p.update(extra or {})
        r = self.post(self.dir["newAccount"], p, use_jwk=True)
        if r.status_code in (200, 201):
            self.kid = r.headers["Location"]
        return r


def problem(r, status, kind):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"] == "application/problem+json", r.headers
    assert r.json()["type"] == f"urn:ietf:params:acme:error:{kind}", r.text
    assert r.headers.get("Replay-Nonce"), "a problem carries a fresh nonce"


# --- the tests ---------------------------------------------------------------------------------


def test_directory_and_nonce(dev_server):
    setup_acme(dev_server)
    d = requests.get(directory_url(dev_server), timeout=10)
    assert d.status_code == 200 and d.headers["Content-Type"] == "application/json"
    base = f"{dev_server.url}/v1/pki/acme/"
    assert d.json()["newNonce"] == base + "new-nonce"
    assert d.json()["newOrder"] == base + "new-order"
    assert d.json()["meta"]["externalAccountRequired"] is False
    h = requests.head(base + "new-nonce", timeout=10)
    g = requests.get(base + "new-nonce", timeout=10)
    assert h.status_code == 200 and g.status_code == 204
    assert h.headers["Replay-Nonce"] != g.headers["Replay-Nonce"]
    assert h.headers["Cache-Control"] == "no-store"
    assert f'<{base}directory>;rel="index"' in g.headers["Link"]


def test_needs_cluster_path_and_enabled(dev_server):
    v1(dev_server, "POST", "sys/mounts/pki", {"type": "pki"}, 204)
    r = requests.get(directory_url(dev_server), timeout=10)
    problem_or_error = r.status_code in (400, 403)
    assert problem_or_error, r.text
    v1(dev_server, "POST", "pki/config/cluster", {"path": f"{dev_server.url}/v1/pki"}, 200)
    r = requests.get(directory_url(dev_server), timeout=10)
    assert r.status_code == 403 and "disabled" in r.json()["detail"]
    bad = v1(dev_server, "POST", "pki/config/acme", {"eab_policy": "sometimes"}, 400)
    assert "eab_policy" in bad.text
    bad = v1(dev_server, "POST", "pki/config/acme", {"default_directory_policy": "role:nope"}, 400)
    assert "default_directory_policy" in bad.text
    bad = v1(dev_server, "POST", "pki/config/acme", {"dns_resolver": "dns.example:53"}, 400)
    assert "dns_resolver" in bad.text
    bad = v1(dev_server, "POST", "pki/config/cluster", {"path": "ftp://x"}, 400)
    assert "path" in bad.text
    cfg = v1(dev_server, "GET", "pki/config/acme", None, 200).json()["data"]
    assert cfg["enabled"] is False and cfg["eab_policy"] == "not-required"
    assert cfg["default_directory_policy"] == "sign-verbatim" and cfg["allowed_roles"] == ["*"]


def test_bad_and_replayed_nonce(dev_server):
    setup_acme(dev_server)
    c = Client(dev_server)
    problem(c.post(c.dir["newAccount"], {}, nonce="AAAAAAAAAAAAAAAAAAAAAA", use_jwk=True), 400, "badNonce")
    n = c.nonce()
    r = c.post(c.dir["newAccount"], {"termsOfServiceAgreed": True}, nonce=n, use_jwk=True)
    assert r.status_code == 201, r.text
    problem(c.post(c.dir["newAccount"], {}, nonce=n, use_jwk=True), 400, "badNonce")
    # the url signed must be the one requested
    signed_for_other = c.sign(c.dir["newAccount"], {}, use_jwk=True)
    r = requests.post(c.dir["newOrder"], data=json.dumps(signed_for_other),
                      headers={"Content-Type": "application/jose+json"}, timeout=10)
    problem(r, 401, "unauthorized")
    # a JWS is required, with its own content type
    r = requests.post(c.dir["newAccount"], data="{}", headers={"Content-Type": "application/json"}, timeout=10)
    problem(r, 415, "malformed")


def test_account_and_order_shapes(dev_server):
    setup_acme(dev_server)
    c = Client(dev_server)
    problem(c.post(c.dir["newAccount"], {"onlyReturnExisting": True}, use_jwk=True), 400, "accountDoesNotExist")
    r = c.new_account({"contact": ["mailto:ops@example.com"]})
    assert r.status_code == 201 and r.json()["status"] == "valid", r.text
    again = c.post(c.dir["newAccount"], {"onlyReturnExisting": True}, use_jwk=True)
    assert again.status_code == 200 and again.headers["Location"] == c.kid
    problem(c.post(c.dir["newOrder"], {"identifiers": []}), 400, "malformed")
    problem(c.post(c.dir["newOrder"], {"identifiers": [{"type": "dns", "value": "bad..name"}]}), 400,
            "rejectedIdentifier")
    problem(c.post(c.dir["newOrder"], {"identifiers": [{"type": "email", "value": "a@b"}]}), 400,
            "unsupportedIdentifier")
    r = c.post(c.dir["newOrder"], {"identifiers": [{"type": "dns", "value": "*.Example.COM"},
                                                    {"type": "ip", "value": "127.0.0.1"}]})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "pending" and r.headers["Location"].startswith(c.dir["newOrder"][:-9] + "order/")
    authz = [c.post(u, None).json() for u in order["authorizations"]]
    wild = [a for a in authz if a["identifier"]["value"] == "example.com"][0]
    assert wild["wildcard"] is True and [ch["type"] for ch in wild["challenges"]] == ["dns-01"]
    ip = [a for a in authz if a["identifier"]["type"] == "ip"][0]
    assert sorted(ch["type"] for ch in ip["challenges"]) == ["http-01", "tls-alpn-01"]
    fin = c.post(order["finalize"], {"csr": "AAAA"})
    problem(fin, 403, "orderNotReady")
    # another account cannot read the order
    other = Client(dev_server)
    other.new_account()
    assert other.post(r.headers["Location"], None).status_code == 404
    # deactivation: the account can sign nothing more
    d = c.post(c.kid, {"status": "deactivated"})
    assert d.status_code == 200 and d.json()["status"] == "deactivated"
    problem(c.post(c.dir["newOrder"], {"identifiers": [{"type": "dns", "value": "a.example.com"}]}), 401,
            "unauthorized")


def test_eab_required(dev_server):
    setup_acme(dev_server, eab_policy="new-account-required")
    c = Client(dev_server)
    assert c.dir["meta"]["externalAccountRequired"] is True
    problem(c.new_account(), 400, "externalAccountRequired")
    eab = v1(dev_server, "POST", "pki/acme/new-eab", {}, 200).json()["data"]
    assert eab["key_type"] == "hs" and eab["acme_directory"] == "acme/directory"
    listed = v1(dev_server, "LIST", "pki/eab", None, 200).json()["data"]
    assert listed["keys"] == [eab["id"]] and "key" not in listed["key_info"][eab["id"]]

    def binding(key_b64, kid, url, jwk):
        prot = b64u(json.dumps({"alg": "HS256", "kid": kid, "url": url}).encode())
        pl = b64u(json.dumps(jwk).encode())
        k = base64.urlsafe_b64decode(key_b64 + "=" * (-len(key_b64) % 4))
        import hmac
        sig = hmac.new(k, f"{prot}.{pl}".encode(), hashlib.sha256).digest()
        return {"protected": prot, "payload": pl, "signature": b64u(sig)}

    wrong = binding(b64u(b"x" * 32), eab["id"], c.dir["newAccount"], c.jwk())
    problem(c.new_account({"externalAccountBinding": wrong}), 401, "unauthorized")
    good = binding(eab["key"], eab["id"], c.dir["newAccount"], c.jwk())
    r = c.new_account({"externalAccountBinding": good})
    assert r.status_code == 201, r.text
    # the key is used up
    c2 = Client(dev_server)
    problem(c2.new_account({"externalAccountBinding": binding(eab["key"], eab["id"], c2.dir["newAccount"],
                                                              c2.jwk())}), 401, "unauthorized")


@needs_ports
@pytest.mark.time_limit(180)
def test_lego_eab(dev_server, tmp_path):
    """lego with --eab and a fresh key obtains a certificate; with a deleted
    key, or without a binding, it is refused."""
    root = setup_acme(dev_server, eab_policy="new-account-required")
    eab = v1(dev_server, "POST", "pki/acme/new-eab", {}, 200).json()["data"]
    gone = v1(dev_server, "POST", "pki/acme/new-eab", {}, 200).json()["data"]
    v1(dev_server, "DELETE", f"pki/eab/{gone['id']}", None, 204)
    http = ["--http", "--http.port", "127.0.0.1:80", "run"]
    no = lego(dev_server, tmp_path / "l1", ["--accept-tos"] + http)
    assert no.returncode != 0 and "External Account Binding" in (no.stdout + no.stderr)
    no = lego(dev_server, tmp_path / "l2", ["--accept-tos", "--eab", "--kid", gone["id"], "--hmac", gone["key"]] + http)
    assert no.returncode != 0 and "unauthorized" in (no.stdout + no.stderr)
    ok = lego(dev_server, tmp_path / "l3", ["--accept-tos", "--eab", "--kid", eab["id"], "--hmac", eab["key"]] + http)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    check_chain(tmp_path, root, (tmp_path / "l3" / "certificates" / f"{NAME}.crt").read_text())


def lego(srv, path, args, timeout=90):
    env = dict(os.environ)
    env.pop("LEGO_CA_CERTIFICATES", None)
    return subprocess.run(["lego", "--server", directory_url(srv), "--email", "ops@example.com", "--path",
                           str(path), "-d", NAME] + args,
                          capture_output=True, text=True, timeout=timeout, env=env)


@needs_ports
@pytest.mark.time_limit(180)
def test_certbot_http01(dev_server, tmp_path):
    root = setup_acme(dev_server)
    cfg = tmp_path / "certbot"
    out = subprocess.run(
        ["certbot", "certonly", "--standalone", "--non-interactive", "--agree-tos", "--email", "ops@example.com",
         "--server", directory_url(dev_server), "-d", NAME, "--config-dir", str(cfg / "conf"), "--work-dir",
         str(cfg / "work"), "--logs-dir", str(cfg / "logs"), "--http-01-address", "127.0.0.1",
         "--preferred-challenges", "http-01", "--no-random-sleep-on-renew"],
        capture_output=True, text=True, timeout=150)
    assert out.returncode == 0, out.stdout + out.stderr
    live = next((cfg / "conf" / "live").glob("*/fullchain.pem"))
    leaf = check_chain(tmp_path, root, live.read_text())
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == NAME
    # the issued certificate is in the engine's store
    serial = format(leaf.serial_number, "x")
    serial = "-".join(serial.rjust(len(serial) + len(serial) % 2, "0")[i:i + 2] for i in range(0, len(serial), 2))
    listed = v1(dev_server, "LIST", "pki/certs", None, 200).json()["data"]["keys"]
    assert serial in listed


@needs_ports
@pytest.mark.time_limit(180)
@pytest.mark.parametrize("challenge", ["http", "tls"])
def test_lego(dev_server, tmp_path, challenge):
    root = setup_acme(dev_server)
    flags = ["--http", "--http.port", "127.0.0.1:80"] if challenge == "http" else \
        ["--tls", "--tls.port", "127.0.0.1:443"]
    out = lego(dev_server, tmp_path / "lego", ["--accept-tos"] + flags + ["run"], timeout=150)
    assert out.returncode == 0, out.stdout + out.stderr
    chain = (tmp_path / "lego" / "certificates" / f"{NAME}.crt").read_text()
    check_chain(tmp_path, root, chain)


class WrongAnswer(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"not-the-key-authorization"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@needs_ports
@pytest.mark.time_limit(120)
def test_wrong_key_authorization_invalid(dev_server):
    setup_acme(dev_server)
    httpd = HTTPServer(("127.0.0.1", 80), WrongAnswer)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        c = Client(dev_server)
        assert c.new_account().status_code == 201
        r = c.post(c.dir["newOrder"], {"identifiers": [{"type": "dns", "value": NAME}]})
        order_url, order = r.headers["Location"], r.json()
        authz = c.post(order["authorizations"][0], None).json()
        ch = [x for x in authz["challenges"] if x["type"] == "http-01"][0]
        started = c.post(ch["url"], {})
        assert started.status_code == 200 and started.json()["status"] in ("processing", "pending")
        assert f'<{order["authorizations"][0]}>;rel="up"' in started.headers["Link"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            a = c.post(order["authorizations"][0], None).json()
            if a["status"] != "pending":
                break
            time.sleep(0.5)
        assert a["status"] == "invalid", a
        ch = [x for x in a["challenges"] if x["type"] == "http-01"][0]
        assert ch["status"] == "invalid" and ch["error"]["type"].endswith("incorrectResponse"), ch
        o = c.post(order_url, None).json()
        assert o["status"] == "invalid", o
        problem(c.post(order["finalize"], {"csr": "AAAA"}), 403, "orderNotReady")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_key_change(dev_server):
    setup_acme(dev_server)
    c = Client(dev_server)
    assert c.new_account().status_code == 201
    old_jwk, old_key = c.jwk(), c.key
    new_key = ec.generate_private_key(ec.SECP256R1())
    url = c.dir["keyChange"]

    def inner(key, payload):
        n = key.public_key().public_numbers()
        jwk = {"kty": "EC", "crv": "P-256", "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}
        p64 = b64u(json.dumps({"alg": "ES256", "jwk": jwk, "url": url}).encode())
        pl64 = b64u(json.dumps(payload).encode())
        r, s = utils.decode_dss_signature(key.sign(f"{p64}.{pl64}".encode(), ec.ECDSA(hashes.SHA256())))
        return {"protected": p64, "payload": pl64, "signature": b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))}

    # oldKey must be the account's
    problem(c.post(url, inner(new_key, {"account": c.kid, "oldKey": Client(dev_server).jwk()})), 400, "malformed")
    r = c.post(url, inner(new_key, {"account": c.kid, "oldKey": old_jwk}))
    assert r.status_code == 200 and r.headers["Location"] == c.kid, r.text
    # the old key signs nothing more; the new one does
    problem(c.post(c.kid, None), 403, "unauthorized")
    c.key = new_key
    assert c.post(c.kid, None).status_code == 200
    c.key = old_key
    gone = c.post(c.dir["newAccount"], {"onlyReturnExisting": True}, use_jwk=True)
    problem(gone, 400, "accountDoesNotExist")
    c.key = new_key
    # a key that is another account's: 409 with that account's URL
    other = Client(dev_server)
    assert other.new_account().status_code == 201
    r = c.post(url, inner(other.key, {"account": c.kid, "oldKey": c.jwk()}))
    assert r.status_code == 409 and r.headers["Location"] == other.kid, r.text


class TxtResponder:
    """A DNS responder on 127.0.0.1 (UDP) answering TXT queries from a
    dict {name: [values]}; NXDOMAIN for other names."""

    def __init__(self):
        self.records = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.running = True
        self.thread.start()

    def serve(self):
        self.sock.settimeout(0.2)
        while self.running:
            try:
                q, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            labels, i = [], 12
            while q[i]:
                labels.append(q[i + 1:i + 1 + q[i]].decode().lower())
                i += 1 + q[i]
            question = q[12:i + 5]
            values = self.records.get(".".join(labels), [])
            flags = b"\x81\x80" if values else b"\x81\x83"
            answers = b""
            for v in values:
                rdata = bytes([len(v)]) + v.encode()
                answers += b"\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x3c" + len(rdata).to_bytes(2, "big") + rdata
            self.sock.sendto(q[:2] + flags + b"\x00\x01" + len(values).to_bytes(2, "big") + b"\x00\x00\x00\x00" +
                             question + answers, peer)

    def close(self):
        self.running = False
        self.sock.close()


def csr_for(names, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
    b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return b64u(b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))


def wait_status(c, url, want, timeout=40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obj = c.post(url, None).json()
        if obj["status"] in want:
            return obj
        time.sleep(0.3)
    raise AssertionError(f"{url} stayed {obj}")


@pytest.mark.time_limit(120)
def test_dns01_wildcard_and_finalize(dev_server, tmp_path):
    """dns-01 through config/acme's dns_resolver for a wildcard and its
    base name; the CSR must name exactly the order's identifiers; the
    certificate chain verifies and names both."""
    root = setup_acme(dev_server)
    dns = TxtResponder()
    try:
        v1(dev_server, "POST", "pki/config/acme", {"dns_resolver": f"127.0.0.1:{dns.port}"}, 200)
        c = Client(dev_server)
        assert c.new_account().status_code == 201
        names = ["*.acme.test", "acme.test"]
        r = c.post(c.dir["newOrder"], {"identifiers": [{"type": "dns", "value": n} for n in names]})
        assert r.status_code == 201, r.text
        order_url, order = r.headers["Location"], r.json()
        for a_url in order["authorizations"]:
            a = c.post(a_url, None).json()
            ch = [x for x in a["challenges"] if x["type"] == "dns-01"][0]
            ka = f"{ch['token']}.{c.thumbprint()}"
            txt = b64u(hashlib.sha256(ka.encode()).digest())
            dns.records.setdefault("_acme-challenge.acme.test", []).append(txt)
        for a_url in order["authorizations"]:
            a = c.post(a_url, None).json()
            ch = [x for x in a["challenges"] if x["type"] == "dns-01"][0]
            assert c.post(ch["url"], {}).status_code == 200
        for a_url in order["authorizations"]:
            assert wait_status(c, a_url, ("valid", "invalid"))["status"] == "valid"
        assert c.post(order_url, None).json()["status"] == "ready"
        # a CSR for other names, or for a subset, is refused and the order stays ready
        problem(c.post(order["finalize"], {"csr": csr_for(["acme.test"])}), 400, "badCSR")
        problem(c.post(order["finalize"], {"csr": csr_for(names + ["evil.test"])}), 400, "badCSR")
        problem(c.post(order["finalize"], {"csr": "not base64!"}), 400, "badCSR")
        fin = c.post(order["finalize"], {"csr": csr_for(list(reversed(names)))})
        assert fin.status_code == 200 and fin.json()["status"] == "valid", fin.text
        cert = c.post(fin.json()["certificate"], None)
        assert cert.status_code == 200 and cert.headers["Content-Type"] == "application/pem-certificate-chain"
        leaf = check_chain(tmp_path, root, cert.text, name=None)
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(names)
        lifetime = leaf.not_valid_after - leaf.not_valid_before
        assert lifetime.total_seconds() <= 90 * 86400 + 60
        orders_url = c.post(c.kid, None).json()["orders"]
        assert orders_url == c.kid + "/orders"
        assert c.post(orders_url, None).json()["orders"] == [order_url]
        other = Client(dev_server)
        assert other.new_account().status_code == 201
        problem(other.post(orders_url, None), 401, "unauthorized")
    finally:
        dns.close()


def test_nonce_rate_limit(dev_server):
    setup_acme(dev_server)
    v1(dev_server, "POST", "sys/mounts/pki/tune", {"allowed_response_headers": ACME_HEADERS + ["Retry-After"]}, 204)
    url = requests.get(directory_url(dev_server), timeout=10).json()["newNonce"]
    s = requests.Session()
    # 600 per address per minute window; the window may turn while the
    # test runs, so the first refusal comes after 600 and at most 1,200
    # answers (two windows' worth), never before.
    ok = 0
    while True:
        r = s.get(url, timeout=10)
        if r.status_code != 204:
            break
        ok += 1
        assert ok <= 1200, "no refusal after two windows' worth of nonces"
    assert 600 <= ok, ok
    assert r.status_code == 429 and r.json()["type"].endswith("rateLimited"), r.text
    assert 0 < int(r.headers["Retry-After"]) <= 60


def make_role(srv, name, body):
    r = v1(srv, "POST", f"pki/roles/{name}", body)
    if r.status_code in (404, 405):
        pytest.skip("the roles API is not mounted on this build")
    assert r.status_code in (200, 204), r.text


def test_role_directories(dev_server):
    """roles/:role/acme/ checks identifiers with the role's name policy;
    allowed_roles and default_directory_policy decide who may issue."""
    setup_acme(dev_server)
    make_role(dev_server, "web", {"allowed_domains": ["example.test"], "allow_subdomains": True,
                                  "allow_ip_sans": False, "ttl": "1h"})
    make_role(dev_server, "other", {"allow_any_name": True})
    c = Client(dev_server, "pki/roles/web")
    assert c.dir["newOrder"].endswith("/v1/pki/roles/web/acme/new-order")
    assert c.new_account().status_code == 201
    ok = c.post(c.dir["newOrder"], {"identifiers": [{"type": "dns", "value": "a.example.test"}]})
    assert ok.status_code == 201, ok.text
    no = c.post(c.dir["newOrder"], {"identifiers": [{"type": "dns", "value": "a.example.test"},
                                                     {"type": "dns", "value": "evil.test"}]})
    problem(no, 400, "rejectedIdentifier")
    assert "evil.test" in no.json()["detail"]
    problem(c.post(c.dir["newOrder"], {"identifiers": [{"type": "ip", "value": "10.0.0.1"}]}), 400,
            "rejectedIdentifier")
    # an account of one directory is not one of another
    d = requests.get(directory_url(dev_server, "pki/roles/other"), timeout=10).json()
    problem(c.post(d["newOrder"], {"identifiers": [{"type": "dns", "value": "x.test"}]}), 401, "accountDoesNotExist")
    # allowed_roles
    v1(dev_server, "POST", "pki/config/acme", {"allowed_roles": ["web"]}, 200)
    r = requests.get(directory_url(dev_server, "pki/roles/other"), timeout=10)
    assert r.status_code == 403 and r.json()["type"].endswith("unauthorized")
    assert requests.get(directory_url(dev_server, "pki/roles/web"), timeout=10).status_code == 200
    bad = v1(dev_server, "POST", "pki/config/acme", {"allowed_roles": ["nope"]}, 400)
    assert "allowed_roles" in bad.text
    # default_directory_policy: forbid, then role:web for acme/
    v1(dev_server, "POST", "pki/config/acme", {"default_directory_policy": "forbid"}, 200)
    assert requests.get(directory_url(dev_server), timeout=10).status_code == 403
    v1(dev_server, "POST", "pki/config/acme", {"default_directory_policy": "role:web"}, 200)
    c2 = Client(dev_server)
    assert c2.new_account().status_code == 201
    problem(c2.post(c2.dir["newOrder"], {"identifiers": [{"type": "dns", "value": "evil.test"}]}), 400,
            "rejectedIdentifier")
    bad = v1(dev_server, "POST", "pki/config/acme", {"default_directory_policy": "role:other"}, 400)
    assert "default_directory_policy" in bad.text


@needs_ports
@pytest.mark.time_limit(180)
def test_lego_role_directory(dev_server, tmp_path):
    """A certificate through roles/:role/acme/ takes the role's lifetime and
    usages (serverAuth only without allow_role_ext_key_usage)."""
    root = setup_acme(dev_server)
    make_role(dev_server, "local", {"allow_localhost": True, "ttl": "2h", "client_flag": True})
    env = dict(os.environ)
    out = subprocess.run(["lego", "--server", directory_url(dev_server, "pki/roles/local"), "--email",
                          "ops@example.com", "--path", str(tmp_path / "lego"), "-d", NAME, "--accept-tos", "--http",
                          "--http.port", "127.0.0.1:80", "run"], capture_output=True, text=True, timeout=150, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    leaf = check_chain(tmp_path, root, (tmp_path / "lego" / "certificates" / f"{NAME}.crt").read_text())
    lifetime = (leaf.not_valid_after - leaf.not_valid_before).total_seconds()
    assert 2 * 3600 <= lifetime <= 2 * 3600 + 60, lifetime
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]


def obtain_dns01(srv, c, name, cert_key):
    """A certificate for name through dns-01 (a TXT responder the mount's
    dns_resolver points at) with the account of c; the leaf."""
    dns = TxtResponder()
    try:
        v1(srv, "POST", "pki/config/acme", {"dns_resolver": f"127.0.0.1:{dns.port}"}, 200)
        order = c.post(c.dir["newOrder"], {"identifiers": [{"type": "dns", "value": name}]}).json()
        a = c.post(order["authorizations"][0], None).json()
        ch = [x for x in a["challenges"] if x["type"] == "dns-01"][0]
        dns.records[f"_acme-challenge.{name}"] = [
            b64u(hashlib.sha256(f"{ch['token']}.{c.thumbprint()}".encode()).digest())]
        c.post(ch["url"], {})
        assert wait_status(c, order["authorizations"][0], ("valid", "invalid"))["status"] == "valid"
        fin = c.post(order["finalize"], {"csr": csr_for([name], cert_key)})
        assert fin.status_code == 200, fin.text
        pem = c.post(fin.json()["certificate"], None).text
        return x509.load_pem_x509_certificate(pem.encode())
    finally:
        dns.close()


def test_issuer_expiry_truncates(dev_server):
    """An issuer that expires before the ACME lifetime truncates the
    certificate (Vault turns leaf_not_after_behavior err into truncate
    for ACME) rather than failing the order."""
    v1(dev_server, "POST", "sys/mounts/pki", {"type": "pki"}, 204)
    v1(dev_server, "POST", "sys/mounts/pki/tune", {"allowed_response_headers": ACME_HEADERS}, 204)
    root = v1(dev_server, "POST", "pki/root/generate/internal", {"common_name": "Short Root", "ttl": "2h",
                                                                 "key_type": "ec"}, 200).json()["data"]
    ca = x509.load_pem_x509_certificate(root["certificate"].encode())
    issuer = v1(dev_server, "GET", "pki/issuer/default", None, 200).json()["data"]
    assert issuer["leaf_not_after_behavior"] == "err"
    v1(dev_server, "POST", "pki/config/cluster", {"path": f"{dev_server.url}/v1/pki"}, 200)
    v1(dev_server, "POST", "pki/config/acme", {"enabled": True}, 200)
    c = Client(dev_server)
    assert c.new_account().status_code == 201
    leaf = obtain_dns01(dev_server, c, "short.test", ec.generate_private_key(ec.SECP256R1()))
    assert leaf.not_valid_after == ca.not_valid_after


def crl_serials(srv, root_pem):
    """The serials on the mount's CRL, its signature checked against the root."""
    r = requests.get(f"{srv.url}/v1/pki/crl", timeout=10)
    assert r.status_code == 200, r.text
    crl = x509.load_der_x509_crl(r.content)
    assert crl.is_signature_valid(x509.load_pem_x509_certificate(root_pem.encode()).public_key())
    return {e.serial_number for e in crl}


def ocsp_status(srv, leaf, root_pem):
    """The OCSP status the mount answers for leaf (POST), the response's
    signature checked against the root."""
    root = x509.load_pem_x509_certificate(root_pem.encode())
    der = ocsp.OCSPRequestBuilder().add_certificate(leaf, root, hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)
    r = requests.post(f"{srv.url}/v1/pki/ocsp", data=der, headers={"Content-Type": "application/ocsp-request"},
                      timeout=10)
    assert r.status_code == 200 and r.headers["content-type"] == "application/ocsp-response", r.content
    resp = ocsp.load_der_ocsp_response(r.content)
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    root.public_key().verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))
    assert resp.serial_number == leaf.serial_number
    return resp.certificate_status


def test_revoke_cert_authorization(dev_server):
    """revoke-cert takes a certificate this mount issued through ACME, from
    the account that obtained it or signed by the certificate's key, and
    revokes it for real: on the CRL, revoked over OCSP; a second revocation
    is alreadyRevoked."""
    root = setup_acme(dev_server)
    c, cert_key = Client(dev_server), ec.generate_private_key(ec.SECP256R1())
    assert c.new_account().status_code == 201
    leaf = obtain_dns01(dev_server, c, "revoke.test", cert_key)
    der = leaf.public_bytes(serialization.Encoding.DER)
    url = c.dir["revokeCert"]
    problem(c.post(url, {"certificate": "!!"}), 400, "malformed")
    problem(c.post(url, {"certificate": b64u(der), "reason": 4}), 400, "badRevocationReason")
    # another account, a certificate not issued here: unauthorized
    other = Client(dev_server)
    assert other.new_account().status_code == 201
    problem(other.post(url, {"certificate": b64u(der)}), 403, "unauthorized")
    foreign = x509.load_pem_x509_certificate(
        v1(dev_server, "GET", "pki/cert/ca", None, 200).json()["data"]["certificate"].encode())
    problem(c.post(url, {"certificate": b64u(foreign.public_bytes(serialization.Encoding.DER))}), 403, "unauthorized")
    assert leaf.serial_number not in crl_serials(dev_server, root)
    assert ocsp_status(dev_server, leaf, root) == ocsp.OCSPCertStatus.GOOD
    # the account: revoked, on the CRL, revoked over OCSP
    r = c.post(url, {"certificate": b64u(der), "reason": 0})
    assert r.status_code == 200 and r.headers.get("Replay-Nonce"), r.text
    assert leaf.serial_number in crl_serials(dev_server, root)
    assert ocsp_status(dev_server, leaf, root) == ocsp.OCSPCertStatus.REVOKED
    # the certificate's key by jwk: already revoked
    by_key = Client(dev_server)
    by_key.key = cert_key
    problem(by_key.post(url, {"certificate": b64u(der)}, use_jwk=True), 400, "alreadyRevoked")
    # the certificate's key revokes a certificate of its own
    key2 = ec.generate_private_key(ec.SECP256R1())
    leaf2 = obtain_dns01(dev_server, c, "revoke2.test", key2)
    by_key.key = key2
    r = by_key.post(url, {"certificate": b64u(leaf2.public_bytes(serialization.Encoding.DER))}, use_jwk=True)
    assert r.status_code == 200, r.text
    assert {leaf.serial_number, leaf2.serial_number} <= crl_serials(dev_server, root)
    assert ocsp_status(dev_server, leaf2, root) == ocsp.OCSPCertStatus.REVOKED


@needs_ports
@pytest.mark.time_limit(240)
def test_certbot_and_lego_revoke(dev_server, tmp_path):
    """certbot revoke and lego revoke against Trove: each certificate then
    on the CRL and revoked over OCSP."""
    root = setup_acme(dev_server)
    cfg = tmp_path / "certbot"
    common = ["--non-interactive", "--server", directory_url(dev_server), "--config-dir", str(cfg / "conf"),
              "--work-dir", str(cfg / "work"), "--logs-dir", str(cfg / "logs")]
    out = subprocess.run(["certbot", "certonly", "--standalone", "--agree-tos", "--email", "ops@example.com", "-d",
                          NAME, "--http-01-address", "127.0.0.1", "--preferred-challenges", "http-01"] + common,
                         capture_output=True, text=True, timeout=150)
    assert out.returncode == 0, out.stdout + out.stderr
    cert_path = next((cfg / "conf" / "live").glob("*/cert.pem"))
    bot_leaf = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert ocsp_status(dev_server, bot_leaf, root) == ocsp.OCSPCertStatus.GOOD
    out = subprocess.run(["certbot", "revoke", "--cert-path", str(cert_path), "--no-delete-after-revoke"] + common,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert bot_leaf.serial_number in crl_serials(dev_server, root)
    assert ocsp_status(dev_server, bot_leaf, root) == ocsp.OCSPCertStatus.REVOKED

    http = ["--http", "--http.port", "127.0.0.1:80"]
    out = lego(dev_server, tmp_path / "lego", ["--accept-tos"] + http + ["run"], timeout=150)
    assert out.returncode == 0, out.stdout + out.stderr
    lego_leaf = check_chain(tmp_path, root, (tmp_path / "lego" / "certificates" / f"{NAME}.crt").read_text())
    out = lego(dev_server, tmp_path / "lego", ["revoke", "--keep"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert lego_leaf.serial_number in crl_serials(dev_server, root)
    assert ocsp_status(dev_server, lego_leaf, root) == ocsp.OCSPCertStatus.REVOKED


def wait_tidy(srv, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = v1(srv, "GET", "pki/tidy-status", None, 200).json()["data"]
        if st["state"] not in ("Running", "Cancelling"):
            return st
        time.sleep(0.2)
    raise AssertionError("tidy did not finish")


def tidy(srv, body):
    v1(srv, "POST", "pki/tidy", body, 202)
    st = wait_tidy(srv)
    assert st["state"] == "Finished", st
    return st


def test_tidy_acme(dev_server):
    """tidy_acme as Vault 1.14 runs it: an order goes once its certificate
    expired plus safety_buffer; the account left with nothing is revoked
    after acme_account_safety_buffer (it may sign nothing more), and
    deleted a buffer later; an account with a live certificate stays."""
    srv = dev_server
    setup_acme(srv)
    st = v1(srv, "GET", "pki/tidy-status", None, 200).json()["data"]
    for k in ("tidy_acme", "acme_account_safety_buffer", "total_acme_account_count", "acme_account_deleted_count",
              "acme_account_revoked_count", "acme_orders_deleted_count"):
        assert k in st and st[k] is None, (k, st)
    r = v1(srv, "POST", "pki/tidy", {"tidy_acme": True, "acme_account_safety_buffer": "0s"}, 400)
    assert "acme_account_safety_buffer" in r.text
    make_role(srv, "brief", {"allow_any_name": True, "ttl": "4s"})
    short, keep = Client(srv, "pki/roles/brief"), Client(srv)
    assert short.new_account().status_code == 201 and keep.new_account().status_code == 201
    leaf = obtain_dns01(srv, short, "brief.test", ec.generate_private_key(ec.SECP256R1()))
    obtain_dns01(srv, keep, "kept.test", ec.generate_private_key(ec.SECP256R1()))
    body = {"tidy_acme": True, "safety_buffer": "1s", "acme_account_safety_buffer": "1s"}
    st = tidy(srv, body)
    assert st["tidy_acme"] is True and st["acme_account_safety_buffer"] == 1, st
    assert st["total_acme_account_count"] == 2 and st["acme_orders_deleted_count"] == 0, st
    assert st["acme_account_revoked_count"] == 0 and st["acme_account_deleted_count"] == 0, st
    # past the certificate's notAfter + safety_buffer (+ the account buffer)
    wait = leaf.not_valid_after.replace(tzinfo=None).timestamp() - \
        datetime.datetime.utcnow().replace(tzinfo=None).timestamp() + 3.5
    time.sleep(max(wait, 0))
    st = tidy(srv, body)
    assert st["acme_orders_deleted_count"] == 1 and st["acme_account_revoked_count"] == 1, st
    assert st["acme_account_deleted_count"] == 0, st
    problem(short.post(short.dir["newOrder"], {"identifiers": [{"type": "dns", "value": "again.test"}]}), 401,
            "unauthorized")
    assert keep.post(keep.dir["newOrder"], {"identifiers": [{"type": "dns", "value": "b.test"}]}).status_code == 201
    time.sleep(2.2)
    st = tidy(srv, body)
    assert st["acme_account_deleted_count"] == 1 and st["acme_account_revoked_count"] == 0, st
    # the key has no account any more
    problem(short.post(short.dir["newAccount"], {"onlyReturnExisting": True}, use_jwk=True), 400,
            "accountDoesNotExist")
    st = tidy(srv, body)
    assert st["total_acme_account_count"] == 1 and st["acme_account_deleted_count"] == 0, st


def test_auto_tidy_acme(dev_server):
    """config/auto-tidy carries tidy_acme and acme_account_safety_buffer
    (30 days by default) and runs the ACME tidy by itself."""
    srv = dev_server
    setup_acme(srv)
    cfg = v1(srv, "GET", "pki/config/auto-tidy", None, 200).json()["data"]
    assert cfg["tidy_acme"] is False and cfg["acme_account_safety_buffer"] == 30 * 24 * 3600, cfg
    c = Client(srv)
    assert c.new_account().status_code == 201
    time.sleep(2.2)
    cfg = v1(srv, "POST", "pki/config/auto-tidy", {"enabled": True, "interval_duration": "1s", "tidy_acme": True,
                                                   "acme_account_safety_buffer": "1s"}, 200).json()["data"]
    assert cfg["tidy_acme"] is True and cfg["acme_account_safety_buffer"] == 1, cfg
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        st = v1(srv, "GET", "pki/tidy-status", None, 200).json()["data"]
        if st["acme_account_deleted_count"]:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("auto-tidy never removed the unused account")
    assert st["tidy_acme"] is True and st["last_auto_tidy_finished"], st
    problem(c.post(c.dir["newAccount"], {"onlyReturnExisting": True}, use_jwk=True), 400, "accountDoesNotExist")


def test_eab_always_required(dev_server):
    """Under always-required an account made without a binding can sign
    nothing more; under new-account-required it still can."""
    setup_acme(dev_server)
    c = Client(dev_server)
    assert c.new_account().status_code == 201
    order = {"identifiers": [{"type": "dns", "value": "a.example.test"}]}
    v1(dev_server, "POST", "pki/config/acme", {"eab_policy": "new-account-required"}, 200)
    assert c.post(c.dir["newOrder"], order).status_code == 201
    v1(dev_server, "POST", "pki/config/acme", {"eab_policy": "always-required"}, 200)
    problem(c.post(c.dir["newOrder"], order), 401, "externalAccountRequired")


def test_acme_state_survives_restart(unsealed_server):
    """Accounts and orders are in the barrier: after a restart on LMDB the
    account signs again (with a fresh nonce) and its order is there."""
    srv = unsealed_server
    setup_acme(srv)
    c = Client(srv)
    assert c.new_account({"contact": ["mailto:ops@example.com"]}).status_code == 201
    r = c.post(c.dir["newOrder"], {"identifiers": [{"type": "dns", "value": "kept.example.test"}]})
    assert r.status_code == 201
    order_url = r.headers["Location"]
    stale = c.nonce()
    srv.proc.restart()
    srv.unseal()
    # nonces live in memory: one from before the restart is refused
    problem(c.post(order_url, None, nonce=stale), 400, "badNonce")
    o = c.post(order_url, None)
    assert o.status_code == 200 and o.json()["identifiers"] == [{"type": "dns", "value": "kept.example.test"}]
    # the records are in the barrier: no value in clear on disk (keys,
    # such as the thumbprint index's, are names, as in Vault)
    blob = b"".join(p.read_bytes() for p in srv.storage_files())
    assert b"kept.example.test" not in blob and b"ops@example.com" not in blob


@pytest.fixture
def tls_server(procs, log_dir, tmp_path):
    """An initialised, unsealed `trove server -config` on LMDB behind a TLS
    listener (a test CA's certificate for 127.0.0.1 and localhost; no
    client certificate asked), as ACME clients expect to meet it."""
    from trove_harness import TLSMaterial, TroveProcess, Server, TROVE_BIN, free_port
    tls = TLSMaterial(tmp_path / "tls")
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    cfg = tmp_path / "trove.hcl"
    cfg.write_text(f'storage "lmdb" {{\n  path = "{data}"\n}}\n\nlistener "tcp" {{\n'
                   f'  address = "127.0.0.1:{port}"\n  tls_cert_file = "{tls.server_cert}"\n'
                   f'  tls_key_file = "{tls.server_key}"\n}}\n\ndisable_mlock = true\n')
    url = f"https://127.0.0.1:{port}"
    proc = TroveProcess([TROVE_BIN, "server", "-config", cfg], log_dir, "tls", url + "/v1/sys/health",
                        probe_kwargs={"verify": str(tls.ca_cert)})
    procs.append(proc)
    proc.start()
    srv = Server(proc, url, verify=str(tls.ca_cert))
    srv.init(1, 1)
    srv.unseal()
    srv.tls = tls
    return srv


@needs_ports
@pytest.mark.time_limit(180)
def test_clients_over_https(tls_server, tmp_path):
    """certbot and lego against Trove's TLS listener, trusting the test CA
    (REQUESTS_CA_BUNDLE, LEGO_CA_CERTIFICATES), as they are used in
    earnest."""
    srv = tls_server
    root = setup_acme(srv)
    directory = directory_url(srv)
    assert directory.startswith("https://")
    env = dict(os.environ, REQUESTS_CA_BUNDLE=str(srv.tls.ca_cert), LEGO_CA_CERTIFICATES=str(srv.tls.ca_cert))
    cfg = tmp_path / "certbot"
    out = subprocess.run(
        ["certbot", "certonly", "--standalone", "--non-interactive", "--agree-tos", "--register-unsafely-without-email",
         "--server", directory, "-d", NAME, "--config-dir", str(cfg / "conf"), "--work-dir", str(cfg / "work"),
         "--logs-dir", str(cfg / "logs"), "--http-01-address", "127.0.0.1"],
        capture_output=True, text=True, timeout=150, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    check_chain(tmp_path, root, next((cfg / "conf" / "live").glob("*/fullchain.pem")).read_text())
    out = subprocess.run(["lego", "--server", directory, "--email", "ops@example.com", "--path", str(tmp_path / "lego"),
                          "-d", NAME, "--accept-tos", "--tls", "--tls.port", "127.0.0.1:443", "run"],
                         capture_output=True, text=True, timeout=150, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    check_chain(tmp_path, root, (tmp_path / "lego" / "certificates" / f"{NAME}.crt").read_text())


@needs_ports
@pytest.mark.time_limit(120)
def test_validation_resumes_after_restart(unsealed_server):
    """A validation whose job was lost with the process (a restart while
    the challenge is processing) is started again when the authorization is
    next read, and still ends: nothing listens on port 80, so invalid."""
    srv = unsealed_server
    setup_acme(srv)
    c = Client(srv)
    assert c.new_account().status_code == 201
    order = c.post(c.dir["newOrder"], {"identifiers": [{"type": "dns", "value": NAME}]}).json()
    a_url = order["authorizations"][0]
    ch = [x for x in c.post(a_url, None).json()["challenges"] if x["type"] == "http-01"][0]
    assert c.post(ch["url"], {}).json()["status"] == "processing"
    srv.proc.restart()
    srv.unseal()
    assert c.post(a_url, None).json()["status"] == "pending"
    a = wait_status(c, a_url, ("valid", "invalid"), timeout=60)
    assert a["status"] == "invalid", a
    ch = [x for x in a["challenges"] if x["type"] == "http-01"][0]
    assert ch["error"]["type"].endswith("connection"), ch


@needs_ports
@pytest.mark.time_limit(120)
def test_ip_identifier_http01(dev_server, tmp_path):
    """An IP identifier (RFC 8738) validated by http-01 on 127.0.0.1:80 and
    issued with that iPAddress SAN."""
    import ipaddress
    root = setup_acme(dev_server)
    c = Client(dev_server)
    assert c.new_account().status_code == 201
    order = c.post(c.dir["newOrder"], {"identifiers": [{"type": "ip", "value": "127.0.0.1"}]}).json()
    a = c.post(order["authorizations"][0], None).json()
    ch = [x for x in a["challenges"] if x["type"] == "http-01"][0]
    answer = f"{ch['token']}.{c.thumbprint()}".encode()

    class Right(BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.path == f"/.well-known/acme-challenge/{ch['token']}"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Length", str(len(answer) if ok else 0))
            self.end_headers()
            if ok:
                self.wfile.write(answer)

        def log_message(self, *a):
            pass

    httpd = HTTPServer(("127.0.0.1", 80), Right)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        c.post(ch["url"], {})
        assert wait_status(c, order["authorizations"][0], ("valid", "invalid"))["status"] == "valid"
    finally:
        httpd.shutdown()
        httpd.server_close()
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).add_extension(
        x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
    ).sign(key, hashes.SHA256())
    fin = c.post(order["finalize"], {"csr": b64u(csr.public_bytes(serialization.Encoding.DER))})
    assert fin.status_code == 200, fin.text
    leaf = check_chain(tmp_path, root, c.post(fin.json()["certificate"], None).text, name=None)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert sans.get_values_for_type(x509.DNSName) == []
