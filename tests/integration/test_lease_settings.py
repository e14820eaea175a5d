"""The lease revocation settings (docs/leases.md, "Revocation settings"):
`lease_revocation_workers` and `lease_revocation_timeout` are read from
the config, bad values are refused naming file:line and the key, and a
server started with them still expires tokens on time."""

import re
import time

import pytest

from trove_harness import free_port, run_cli


def write_config(tmp_path, extra):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    cfg = tmp_path / "lease.hcl"
    cfg.write_text(
        f'storage "lmdb" {{\n  path = "{data}"\n}}\n'
        f'listener "tcp" {{\n  address = "127.0.0.1:{free_port()}"\n  tls_disable = true\n}}\n'
        f"disable_mlock = true\n{extra}\n"
    )
    return cfg


def test_check_accepts_the_settings(tmp_path):
    cfg = write_config(tmp_path, 'lease_revocation_workers = 8\nlease_revocation_timeout = "10s"')
    p = run_cli(["server", "-config", cfg, "-check"])
    assert p.returncode == 0, f"exit {p.returncode}\nstderr:{p.stderr}"


BAD = [
    ("workers-zero", "lease_revocation_workers = 0", "lease_revocation_workers"),
    ("workers-too-many", "lease_revocation_workers = 65", "lease_revocation_workers"),
    ("workers-not-a-number", 'lease_revocation_workers = "many"', "lease_revocation_workers"),
    ("timeout-too-long", 'lease_revocation_timeout = "2h"', "lease_revocation_timeout"),
    ("timeout-not-a-duration", 'lease_revocation_timeout = "soon"', "lease_revocation_timeout"),
]


@pytest.mark.parametrize("case", BAD, ids=[b[0] for b in BAD])
def test_check_refuses_bad_values(tmp_path, case):
    _, line, key = case
    cfg = write_config(tmp_path, line)
    p = run_cli(["server", "-config", cfg, "-check"])
    assert p.returncode == 1, f"exit {p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}"
    assert re.search(re.escape(cfg.name) + r":9\b", p.stderr), p.stderr
    assert key in p.stderr, p.stderr


def test_tokens_expire_with_the_settings(config_server):
    srv = config_server(top_extra='lease_revocation_workers = 3\nlease_revocation_timeout = "5s"\n')
    srv.init(1, 1)
    srv.unseal()
    r = srv.request("POST", "/v1/auth/token/create", token=srv.root_token, json={"ttl": "2s", "policies": ["default"]})
    assert r.status_code == 200, r.text
    tok = r.json()["auth"]["client_token"]
    assert srv.get("/v1/auth/token/lookup-self", token=tok).status_code == 200
    deadline = time.time() + 6
    while time.time() < deadline:
        if srv.get("/v1/auth/token/lookup-self", token=tok).status_code == 403:
            break
        time.sleep(0.2)
    assert srv.get("/v1/auth/token/lookup-self", token=tok).status_code == 403
    # Expired by the manager, not only refused at lookup: its accessor is gone.
    acc = r.json()["auth"]["accessor"]
    lk = srv.request("POST", "/v1/auth/token/lookup-accessor", token=srv.root_token, json={"accessor": acc})
    assert lk.status_code in (400, 403, 404), lk.text
