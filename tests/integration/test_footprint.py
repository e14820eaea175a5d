"""The server's footprint at rest: what an idle `trove server -dev` maps
and keeps resident. libcurl (and the GnuTLS, LDAP, Kerberos and SSH
libraries it links) is loaded only on first use (src/lib/curl_lazy.c), so
a server that makes no outbound call never maps it, while the CLI, which
always calls out, loads it and works."""

import json
import os
import subprocess
import time

import pytest

from trove_harness import TROVE_BIN


def _maps(pid):
    with open(f"/proc/{pid}/maps") as f:
        return f.read()


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS line")


def _sanitized():
    out = subprocess.run(["nm", "-D", TROVE_BIN], capture_output=True, text=True).stdout
    return "__asan_init" in out or "__tsan_init" in out


def test_idle_server_does_not_map_libcurl(dev_server):
    pid = dev_server.proc.proc.pid
    maps = _maps(pid)
    assert "libcurl" not in maps
    assert "libgnutls" not in maps


def test_cli_loads_libcurl_on_first_use(dev_server):
    env = dict(os.environ, VAULT_ADDR=dev_server.url, VAULT_TOKEN=dev_server.root_token)
    r = subprocess.run([TROVE_BIN, "kv", "put", "-format=json", "secret/footprint", "a=b"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["data"]["version"] == 1
    # The server answered without loading it.
    assert "libcurl" not in _maps(dev_server.proc.proc.pid)


def test_idle_server_rss_under_10_mib(dev_server):
    if _sanitized():
        pytest.skip("a sanitizer build's shadow memory is not the footprint")
    time.sleep(0.5)  # start-up work settles
    rss = _rss_kib(dev_server.proc.proc.pid)
    assert rss <= 10 * 1024, f"idle RSS {rss} KiB"
