"""Helpers for Trove's integration tests: start and stop the real `trove`
binary, talk HTTP to it, and check its output for sanitizer reports.

Every wait here is bounded, so a server that hangs fails a test instead of
stalling the suite.
"""

import base64
import datetime
import json
import os
import re
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
TROVE_BIN = os.environ.get("TROVE_BIN") or str(REPO / "build" / "trove")

# Bounds on every wait (seconds). Sanitizer builds start slower, hence 30.
HTTP_TIMEOUT = 10
START_TIMEOUT = 30
STOP_TIMEOUT = 10
CLI_TIMEOUT = 30

# Assumed server default: a connection whose request head is still incomplete
# is closed after this many seconds (Vault's http_read_header_timeout is 10s).
HEADER_TIMEOUT_S = 10
# Assumed default maximum request body (Vault's max_request_size, 32 MiB).
DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "SUMMARY: UndefinedBehaviorSanitizer",
)

JSON_CT = "application/json"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SEMVER_RE = re.compile(r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?$")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def project_version():
    text = (REPO / "meson.build").read_text()
    m = re.search(r"version\s*:\s*'([^']+)'", text)
    return m.group(1) if m else None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sanitizer_env(base=None):
    """Environment for a trove process: sanitizer options set (unless the
    caller already set them), and no client variables leaking in."""
    env = dict(os.environ if base is None else base)
    for k in list(env):
        if k.startswith("VAULT_") or k.startswith("TROVE_"):
            del env[k]
    env.setdefault(
        "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=1:halt_on_error=1:print_summary=1",
    )
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:print_summary=1")
    return env


def sanitizer_findings(text):
    return [m for m in SANITIZER_MARKERS if m in text]


def tail(path, n=40):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no output)"
    return "\n".join(lines[-n:])


class TroveProcess:
    """One `trove server ...` process. Output goes to files; `problems`
    collects anything that must fail the test (crash, hang on stop, unclean
    exit, sanitizer report)."""

    def __init__(self, args, log_dir, name, probe_url, probe_kwargs=None, env=None):
        self.args = [str(a) for a in args]
        self.log_dir = Path(log_dir)
        self.name = name
        self.probe_url = probe_url
        self.probe_kwargs = probe_kwargs or {}
        self.env = env or sanitizer_env()
        self.proc = None
        self.runs = 0
        self.problems = []
        self.stdout_path = None
        self.stderr_path = None

    # -- lifecycle -----------------------------------------------------------
    def start(self, wait=True):
        assert self.proc is None, "already running"
        self.runs += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.log_dir / f"{self.name}.{self.runs}.stdout"
        self.stderr_path = self.log_dir / f"{self.name}.{self.runs}.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=self.env,
                cwd=str(self.log_dir),
                start_new_session=True,
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                raise AssertionError(
                    f"{self.name}: trove exited with status {rc} before answering "
                    f"/v1/sys/health\nargs: {self.args}\nstderr:\n{tail(self.stderr_path)}"
                )
            try:
                requests.get(self.probe_url, timeout=2, **self.probe_kwargs)
                return
            except requests.RequestException as e:
                last = e
                time.sleep(0.05)
        self.stop()
        raise AssertionError(
            f"{self.name}: /v1/sys/health did not answer within {START_TIMEOUT}s "
            f"({last})\nstderr:\n{tail(self.stderr_path)}"
        )

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT. A clean shutdown exits 0."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        rc = proc.poll()
        if rc is not None:
            self.problems.append(f"{self.name}: exited by itself with status {rc} while the test ran")
        else:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT)
                self.problems.append(f"{self.name}: still running {STOP_TIMEOUT}s after SIGTERM (killed)")
                rc = 0
            if rc != 0:
                self.problems.append(f"{self.name}: exit status {rc} after SIGTERM (want 0)")
        self._scan()

    def kill9(self):
        """Simulate a crash: SIGKILL, no clean shutdown."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is not None:
            self.problems.append(f"{self.name}: exited by itself with status {proc.returncode}")
        else:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
        self._scan()

    def restart(self):
        self.stop()
        return self.start()

    def _scan(self):
        text = self.stderr_text(self.runs)
        found = sanitizer_findings(text)
        if found:
            self.problems.append(f"{self.name}: sanitizer report ({', '.join(found)}):\n{tail(self.stderr_path, 60)}")

    # -- output ----------------------------------------------------------------
    def stdout_text(self, run=None):
        return self._read(self.log_dir / f"{self.name}.{run or self.runs}.stdout")

    def stderr_text(self, run=None):
        return self._read(self.log_dir / f"{self.name}.{run or self.runs}.stderr")

    def all_output_bytes(self):
        data = b""
        for i in range(1, self.runs + 1):
            for ext in ("stdout", "stderr"):
                p = self.log_dir / f"{self.name}.{i}.{ext}"
                if p.exists():
                    data += p.read_bytes()
        return data

    @staticmethod
    def _read(path):
        try:
            return ANSI_RE.sub("", Path(path).read_text(errors="replace"))
        except OSError:
            return ""


def stop_all(started):
    """Stops every process in started; then fails the test naming the
    problems any of them showed (sanitizer findings, a bad exit)."""
    import pytest

    problems = []
    for p in started:
        try:
            p.stop()
        finally:
            problems += p.problems
    if problems:
        pytest.fail("server problems:\n" + "\n".join(problems), pytrace=False)


class Server:
    """What a test talks to: base URL, TLS settings and HTTP helpers."""

    def __init__(self, proc, url, verify=True, cert=None):
        self.proc = proc
        self.url = url
        self.verify = verify
        self.cert = cert
        self.root_token = None
        self.unseal_keys = []

    @property
    def host_port(self):
        hp = self.url.split("://", 1)[1]
        host, port = hp.rsplit(":", 1)
        return host, int(port)

    def request(self, method, path, token=None, headers=None, **kw):
        h = dict(headers or {})
        if token is not None:
            h["X-Vault-Token"] = token
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("verify", self.verify)
        if self.cert:
            kw.setdefault("cert", self.cert)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, self.url + path, headers=h, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def client(self, token=None):
        import hvac

        return hvac.Client(url=self.url, token=token, verify=self.verify, cert=self.cert, timeout=HTTP_TIMEOUT)

    def seal_status(self):
        r = self.get("/v1/sys/seal-status")
        assert r.status_code == 200, r.text
        return r.json()

    # Bring an uninitialised server to unsealed; remembers keys and token.
    def init(self, shares=3, threshold=2):
        r = self.put("/v1/sys/init", json={"secret_shares": shares, "secret_threshold": threshold})
        assert r.status_code == 200, f"{r.status_code} {r.text}"
        body = r.json()
        self.root_token = body["root_token"]
        self.unseal_keys = body["keys"]
        self.init_response = body
        return body

    def unseal(self, keys=None):
        keys = keys or self.unseal_keys
        body = None
        for k in keys:
            r = self.put("/v1/sys/unseal", json={"key": k})
            assert r.status_code == 200, f"{r.status_code} {r.text}"
            body = r.json()
            if not body["sealed"]:
                return body
        raise AssertionError(f"still sealed after {len(keys)} keys: {body}")


def assert_json_headers(resp):
    assert resp.headers.get("Content-Type") == JSON_CT, (
        f"Content-Type must be exactly {JSON_CT!r}, got {resp.headers.get('Content-Type')!r}"
    )
    assert resp.headers.get("Cache-Control") == "no-store", (
        f"Cache-Control must be 'no-store', got {resp.headers.get('Cache-Control')!r}"
    )


def assert_error(resp, status, *needles):
    """Status, exact headers, `{"errors":[str...]}` body, and each needle
    (case-insensitive) somewhere in the messages."""
    assert resp.status_code == status, f"want {status}, got {resp.status_code}: {resp.text[:500]}"
    assert_json_headers(resp)
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {resp.text[:500]!r}")
    assert isinstance(body, dict) and isinstance(body.get("errors"), list), body
    assert all(isinstance(e, str) for e in body["errors"]), body
    text = " ".join(body["errors"]).lower()
    for n in needles:
        assert n.lower() in text, f"error {body['errors']!r} should mention {n!r}"
    return body["errors"]


def key_forms(hex_key):
    """The encodings in which an unseal key could leak: hex (both cases),
    base64 (standard and URL-safe, padded or not) and raw bytes."""
    raw = bytes.fromhex(hex_key)
    b64 = base64.b64encode(raw)
    forms = {
        "hex": hex_key.lower().encode(),
        "HEX": hex_key.upper().encode(),
        "base64": b64,
        "base64-unpadded": b64.rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "raw": raw,
    }
    return forms


def raw_http(host, port, data, timeout=HTTP_TIMEOUT, read=True):
    """Send bytes, return everything the server sent until it closed (or the
    timeout). Returns (response_bytes, closed_by_server)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        if not read:
            return b"", False
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return out, False
            except ConnectionResetError:
                return out, True
            if not chunk:
                return out, True
            out += chunk
        return out, False


def status_of(raw):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return int(m.group(1)) if m else None


def split_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    return head, body


def send_big_body(host, port, path, total, chunked=False, token=None, timeout=60):
    """Stream a `total`-byte body and return the raw response. Reads as soon
    as the server answers (it may answer 413 before the body is complete)
    and stops sending when it does or when it closes the connection."""
    s = socket.create_connection((host, port), timeout=timeout)
    head = f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    if token:
        head += f"X-Vault-Token: {token}\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {total}\r\n"
    head += "Connection: close\r\n\r\n"
    pending = head.encode()
    piece = b"a" * 65536
    sent = 0
    finished_sending = False
    out = b""
    deadline = time.monotonic() + timeout
    try:
        s.setblocking(False)
        while time.monotonic() < deadline:
            want_write = not finished_sending
            r, w, _ = select.select([s], [s] if want_write else [], [], 0.5)
            if r:
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    chunk = b""
                if not chunk:
                    break
                out += chunk
                finished_sending = True  # the server has answered: stop sending
                continue
            if w and not finished_sending:
                if not pending:
                    n = min(len(piece), total - sent)
                    if n <= 0:
                        pending = b"0\r\n\r\n" if chunked else b""
                        finished_sending = True
                        if not pending:
                            continue
                    else:
                        data = piece[:n]
                        pending = (b"%x\r\n" % n + data + b"\r\n") if chunked else data
                        sent += n
                try:
                    k = s.send(pending)
                    pending = pending[k:]
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    finished_sending = True
    finally:
        s.close()
    return out


def fill_filesystem(path):
    """Appends to path until its file system is full; returns path."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (4096, 1):
            try:
                while True:
                    os.write(fd, b"#" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return path


def run_cli(args, env=None, timeout=CLI_TIMEOUT, input=None):
    """Run `trove ARGS` with a clean client environment plus `env`."""
    e = sanitizer_env()
    e.update(env or {})
    p = subprocess.run(
        [TROVE_BIN] + [str(a) for a in args],
        env=e,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    found = sanitizer_findings(p.stderr)
    assert not found, f"sanitizer report from trove {' '.join(map(str, args))}:\n{p.stderr[-4000:]}"
    return p


# -- configuration files --------------------------------------------------------


def hcl_config(data_dir, port, tls=None, listener_extra="", top_extra=""):
    lines = [
        'storage "lmdb" {',
        f'  path = "{data_dir}"',
        "}",
        "",
        'listener "tcp" {',
        f'  address = "127.0.0.1:{port}"',
    ]
    if tls is None:
        lines.append("  tls_disable = true")
    else:
        lines += [
            f'  tls_cert_file = "{tls.server_cert}"',
            f'  tls_key_file = "{tls.server_key}"',
            f'  tls_client_ca_file = "{tls.ca_cert}"',
            "  tls_require_and_verify_client_cert = true",
        ]
    if listener_extra:
        lines += ["  " + line for line in listener_extra.strip().splitlines()]
    lines += ["}", "", "disable_mlock = true"]
    if top_extra:
        lines += top_extra.strip().splitlines()
    return "\n".join(lines) + "\n"


class TLSMaterial:
    """A throwaway CA, a server certificate for 127.0.0.1, a client
    certificate from the same CA, and a client certificate from a second,
    untrusted CA."""

    def __init__(self, directory):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
        import ipaddress

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.timezone.utc)

        def name(cn):
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

        def write_key(key, path):
            path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            os.chmod(path, 0o600)

        def make_ca(cn):
            key = ec.generate_private_key(ec.SECP256R1())
            cert = (
                x509.CertificateBuilder()
                .subject_name(name(cn))
                .issuer_name(name(cn))
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(
                    x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
                )
                .sign(key, hashes.SHA256())
            )
            return key, cert

        def make_leaf(ca_key, ca_cert, cn, eku, sans):
            key = ec.generate_private_key(ec.SECP256R1())
            b = (
                x509.CertificateBuilder()
                .subject_name(name(cn))
                .issuer_name(ca_cert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
            )
            if sans:
                b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
            return key, b.sign(ca_key, hashes.SHA256())

        pem = serialization.Encoding.PEM
        ca_key, ca = make_ca("Trove test CA")
        self.ca_cert = d / "ca.pem"
        self.ca_cert.write_bytes(ca.public_bytes(pem))

        skey, scert = make_leaf(
            ca_key,
            ca,
            "127.0.0.1",
            ExtendedKeyUsageOID.SERVER_AUTH,
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
        )
        self.server_cert = d / "server.pem"
        self.server_key = d / "server-key.pem"
        self.server_cert.write_bytes(scert.public_bytes(pem))
        write_key(skey, self.server_key)

        ckey, ccert = make_leaf(ca_key, ca, "trove-test-client", ExtendedKeyUsageOID.CLIENT_AUTH, None)
        self.client_cert = d / "client.pem"
        self.client_key = d / "client-key.pem"
        self.client_cert.write_bytes(ccert.public_bytes(pem))
        write_key(ckey, self.client_key)

        other_key, other_ca = make_ca("Untrusted CA")
        okey, ocert = make_leaf(other_key, other_ca, "intruder", ExtendedKeyUsageOID.CLIENT_AUTH, None)
        self.rogue_cert = d / "rogue.pem"
        self.rogue_key = d / "rogue-key.pem"
        self.rogue_cert.write_bytes(ocert.public_bytes(pem))
        write_key(okey, self.rogue_key)

    @property
    def client_pair(self):
        return (str(self.client_cert), str(self.client_key))

    @property
    def rogue_pair(self):
        return (str(self.rogue_cert), str(self.rogue_key))


def json_dumps(obj):
    return json.dumps(obj).encode()
