"""`trove agent`'s footprint (docs/performance.md, "trove agent
footprint"): an agent proxying with its cache on, over plain HTTP, maps
none of the server's libraries (liblmdb, libargon2, libcurl, the database
clients: each loaded on first use) and makes no OpenSSL algorithm fetch
(the cache key is hashed without one), and gives back the pages the loader read
once, which keeps libcrypto's resident pages under what loading it costs
and the whole agent within 5 MB. Over TLS, where OpenSSL's first handshake
maps nearly all of libcrypto, the agent gives those pages back once it has
been idle for a few seconds (src/agent/agent_rest.h), and at rest is
within 5 MB too; a request after that still works. The RSS bounds are for
release builds (a sanitizer's shadow memory is not the footprint);
bench/agent/footprint.py gives the figures."""

import subprocess
import time

import pytest
import requests

from agent_proc import start_agent, wait_for
from trove_harness import TROVE_BIN, free_port

SERVER_LIBRARIES = ("liblmdb", "libargon2", "libcurl", "libpq", "libmariadb")


def _sanitized():
    out = subprocess.run(["nm", "-D", TROVE_BIN], capture_output=True, text=True).stdout
    return "__asan_init" in out or "__tsan_init" in out


def _resident_kib(pid):
    """VmRSS, and the resident KiB of libcrypto's mappings, from smaps."""
    total = crypto = 0
    name = ""
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                name = line.split()[5] if len(line.split()) > 5 else ""
            elif first == "Rss:":
                kib = int(line.split()[1])
                total += kib
                if "libcrypto" in name:
                    crypto += kib
    return total, crypto


def _start_proxy(procs, log_dir, tmp_path, vault_block, args=()):
    """An agent with vault_block, a tcp listener, the API proxy and its
    cache; returns it and the listener's URL."""
    port = free_port()
    agent = start_agent(procs, log_dir, tmp_path, f'''
{vault_block}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_disable = true
}}
cache {{}}
''', args=args)
    return agent, f"http://127.0.0.1:{port}"


@pytest.fixture
def proxying_agent(procs, log_dir, tmp_path, dev_server):
    """An agent with a tcp listener, the API proxy and its cache, after
    requests through it (each one hashed into a cache key)."""
    agent, url = _start_proxy(procs, log_dir, tmp_path, f'vault {{ address = "{dev_server.url}" }}')
    h = {"X-Vault-Token": dev_server.root_token}
    r = requests.post(url + "/v1/secret/data/footprint", json={"data": {"a": "b"}}, headers=h, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.get(url + "/v1/secret/data/footprint", headers=h, timeout=30)
    assert r.status_code == 200 and r.headers["X-Cache"] == "MISS", r.text
    time.sleep(0.3)
    return agent


def test_agent_maps_none_of_the_servers_libraries(proxying_agent):
    with open(f"/proc/{proxying_agent.pid}/maps") as f:
        maps = f.read()
    assert "libcrypto" in maps  # the check can see a library
    for lib in SERVER_LIBRARIES:
        assert lib not in maps, f"the agent mapped {lib}"


def test_agent_over_http_makes_no_openssl_fetch(proxying_agent):
    if _sanitized():
        pytest.skip("a sanitizer build's shadow memory is not the footprint")
    rss, crypto = _resident_kib(proxying_agent.pid)
    # Loading libcrypto keeps about 1.5 MiB of it resident, half of it the
    # symbol tables and relocations the agent gives back once started
    # (lib/loader_pages.h); OpenSSL 3's first algorithm fetch (as
    # EVP_sha256() for the cache key did) maps about 2 MiB more. The
    # whole agent stays within the 5 MB.
    assert crypto <= 1024, f"libcrypto resident: {crypto} KiB"
    assert rss <= 5_000_000 // 1024, f"agent RSS {rss} KiB"


def _given_back(agent):
    return agent.stderr_text().count("idle: memory given back")


def test_agent_over_tls_at_rest_within_5mb(procs, log_dir, tmp_path, tls_server):
    srv = tls_server
    srv.init(1, 1)
    srv.unseal()
    r = srv.request("POST", "/v1/sys/mounts/secret", token=srv.root_token,
                    json={"type": "kv", "options": {"version": "2"}})
    assert r.status_code == 204, r.text
    r = srv.request("POST", "/v1/secret/data/rest", token=srv.root_token, json={"data": {"k": "v1"}})
    assert r.status_code == 200, r.text
    agent, proxy = _start_proxy(procs, log_dir, tmp_path, f'''
vault {{
  address = "{srv.url}"
  ca_cert = "{srv.tls.ca_cert}"
  client_cert = "{srv.tls.client_cert}"
  client_key = "{srv.tls.client_key}"
}}''', args=("-log-level=debug",))
    url = proxy + "/v1/secret/data/rest"
    h = {"X-Vault-Token": srv.root_token}
    # start-up is work too: its release first, so that the one counted
    # below is the request's
    wait_for(lambda: _given_back(agent) > 0, 20, "the agent's release after start")
    before = _given_back(agent)
    r = requests.get(url, headers=h, timeout=30)  # the first TLS handshake
    assert r.status_code == 200 and r.json()["data"]["data"] == {"k": "v1"}, r.text
    # given back once five quiet seconds have passed, not before
    time.sleep(1)
    assert _given_back(agent) == before
    wait_for(lambda: _given_back(agent) > before, 20, "the agent to give back its idle memory")
    if not _sanitized():
        rss, crypto = _resident_kib(agent.pid)
        assert crypto <= 1024, f"libcrypto resident at rest: {crypto} KiB"
        assert rss <= 5_000_000 // 1024, f"agent RSS at rest {rss} KiB"
    # the pages come back when needed: a new value through a new request
    r = srv.request("POST", "/v1/secret/data/rest", token=srv.root_token, json={"data": {"k": "v2"}})
    assert r.status_code == 200, r.text
    r = requests.get(url, headers=h, timeout=30)
    assert r.status_code == 200 and r.json()["data"]["data"] == {"k": "v2"}, r.text
    n = _given_back(agent)
    wait_for(lambda: _given_back(agent) > n, 20, "the agent to give back its memory again")
