"""Fixtures that run the real `trove` binary (TROVE_BIN, default
build/trove) on a free loopback port.

- dev_server:     `trove server -dev`, unsealed, with a known root token.
- config_server:  factory for `trove server -config FILE` on LMDB; the
                  returned server can be stopped, restarted and kill -9'd.
- tls_material:   CA, server and client certificates for a TLS listener.

At teardown every server gets SIGTERM (SIGKILL after a bound); the test fails
if the server crashed, did not exit 0, or printed a sanitizer report.
"""

import os
import re
import secrets
import signal
import subprocess
from pathlib import Path

import pytest

from trove_harness import (
    TROVE_BIN,
    TLSMaterial,
    TroveProcess,
    Server,
    free_port,
    hcl_config,
    stop_all,
)

TEST_TIME_LIMIT = 120  # seconds per test, enforced with SIGALRM


def pytest_configure(config):
    config.addinivalue_line("markers", "time_limit(seconds): per-test time limit (default 120)")


def pytest_report_header(config):
    return f"trove binary: {TROVE_BIN}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    marker = item.get_closest_marker("time_limit")
    limit = int(marker.args[0]) if marker else TEST_TIME_LIMIT

    def on_alarm(signum, frame):
        raise TimeoutError(f"test ran longer than {limit}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session", autouse=True)
def _trove_binary():
    if not os.access(TROVE_BIN, os.X_OK):
        pytest.fail(f"trove binary not found or not executable: {TROVE_BIN} (build it, or set TROVE_BIN)")


@pytest.fixture
def log_dir(request, tmp_path):
    base = os.environ.get("TROVE_TEST_LOGS")
    if base:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        d = Path(base) / safe
    else:
        d = tmp_path / "logs"
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def procs():
    """Registry of started processes; stops them all and fails on problems."""
    started = []
    yield started
    stop_all(started)


class DevServer(Server):
    pass


DEV_LINE = {
    "unseal_key": re.compile(r"^\s*Unseal Key:\s*(\S+)\s*$", re.M),
    "root_token": re.compile(r"^\s*Root Token:\s*(\S+)\s*$", re.M),
}


@pytest.fixture
def dev_server(procs, log_dir):
    """`trove server -dev` on a free port. Yields a Server with url,
    root_token and unseal_key (parsed from the "Unseal Key: ..." and
    "Root Token: ..." lines the dev server prints on stdout)."""
    import time

    port = free_port()
    token = "trove-dev-" + secrets.token_hex(12)
    url = f"http://127.0.0.1:{port}"
    proc = TroveProcess(
        [TROVE_BIN, "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}", f"-dev-root-token-id={token}"],
        log_dir,
        "dev",
        url + "/v1/sys/health",
    )
    procs.append(proc)
    proc.start()
    srv = DevServer(proc, url)

    found = {}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        out = proc.stdout_text()
        found = {k: m.group(1) for k, rx in DEV_LINE.items() if (m := rx.search(out))}
        if len(found) == 2:
            break
        time.sleep(0.05)
    assert "unseal_key" in found and "root_token" in found, (
        "dev server stdout must contain lines 'Unseal Key: <base64>' and 'Root Token: <token>' "
        f"(flushed once it listens); got:\n{proc.stdout_text()[-2000:]}"
    )
    assert found["root_token"] == token, f"-dev-root-token-id not honoured: printed {found['root_token']!r}"
    srv.root_token = token
    srv.unseal_key = found["unseal_key"]
    srv.unseal_keys = [found["unseal_key"]]
    yield srv


class ConfigServer(Server):
    """A `trove server -config FILE` instance on LMDB; restartable."""

    def __init__(self, proc, url, directory, data_dir, config_path, **kw):
        super().__init__(proc, url, **kw)
        self.dir = directory
        self.data_dir = data_dir
        self.config_path = config_path

    def start(self):
        self.proc.start()
        return self

    def stop(self):
        self.proc.stop()

    def restart(self):
        self.proc.restart()
        return self

    def kill9(self):
        self.proc.kill9()

    def storage_files(self):
        p = Path(self.data_dir)
        if p.is_file():
            return [p]
        return sorted(f for f in p.rglob("*") if f.is_file())


@pytest.fixture
def config_server(procs, log_dir, tmp_path):
    """Factory: config_server(tls=None, listener_extra="", top_extra="",
    start=True) writes an HCL config (storage "lmdb", listener "tcp" on a
    free port, disable_mlock = true) and starts `trove server -config`."""
    count = [0]

    def make(tls=None, listener_extra="", top_extra="", start=True):
        count[0] += 1
        d = tmp_path / f"server{count[0]}"
        data = d / "data"
        data.mkdir(parents=True)
        port = free_port()
        cfg = d / "trove.hcl"
        cfg.write_text(hcl_config(data, port, tls=tls, listener_extra=listener_extra, top_extra=top_extra))
        scheme = "https" if tls else "http"
        url = f"{scheme}://127.0.0.1:{port}"
        kw = {}
        if tls:
            kw = {"verify": str(tls.ca_cert), "cert": tls.client_pair}
        proc = TroveProcess(
            [TROVE_BIN, "server", "-config", cfg],
            log_dir,
            f"cfg{count[0]}",
            url + "/v1/sys/health",
            probe_kwargs=kw,
        )
        procs.append(proc)
        srv = ConfigServer(proc, url, d, data, cfg, **kw)
        if start:
            srv.start()
        return srv

    return make


@pytest.fixture
def audited_server(config_server, tmp_path):
    """An unsealed config-file server whose config allows audit files
    under tmp_path, with a file device at tmp_path/audit.log enabled
    through the API. Returns (server, log path)."""
    srv = config_server(top_extra=f'audit_file_dirs = ["{tmp_path}"]\n')
    srv.init(3, 2)
    srv.unseal()
    log = tmp_path / "audit.log"
    r = srv.put("/v1/sys/audit/file", token=srv.root_token, json={"type": "file", "options": {"file_path": str(log)}})
    assert r.status_code == 204, r.text
    return srv, log


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs mounted for the test (root only), to fill up."""
    d = tmp_path / "tiny"
    d.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)], check=True)
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


@pytest.fixture
def tls_material(tmp_path):
    return TLSMaterial(tmp_path / "tls")


@pytest.fixture
def tls_server(config_server, tls_material):
    srv = config_server(tls=tls_material)
    srv.tls = tls_material
    return srv


@pytest.fixture
def unsealed_server(config_server):
    """A config-file server, initialised (3 shares, threshold 2) and unsealed."""
    srv = config_server()
    srv.init(3, 2)
    srv.unseal()
    return srv
