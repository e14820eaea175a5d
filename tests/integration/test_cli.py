"""The `trove` CLI end to end against a real server: status, operator
init/unseal/seal/key-status/rotate, version, and the address/token
environment (VAULT_* and TROVE_*, where TROVE_* wins)."""

import json
import re

from trove_harness import free_port, project_version, run_cli


def env_for(srv, token=None):
    e = {"VAULT_ADDR": srv.url}
    if token:
        e["VAULT_TOKEN"] = token
    return e


def dead_addr():
    return f"http://127.0.0.1:{free_port()}"


def term_via_http(srv):
    return srv.get("/v1/sys/key-status", token=srv.root_token).json()["data"]["term"]


def test_version():
    p = run_cli(["version"])
    assert p.returncode == 0, p.stderr
    assert "Trove" in p.stdout
    v = project_version()
    assert v and v in p.stdout, p.stdout


def test_status_exit_codes(dev_server):
    p = run_cli(["status"], env=env_for(dev_server))
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"(?i)sealed\s+false", p.stdout), p.stdout
    assert dev_server.put("/v1/sys/seal", token=dev_server.root_token).status_code == 204
    p = run_cli(["status"], env=env_for(dev_server))
    assert p.returncode == 2, p.stdout + p.stderr
    assert re.search(r"(?i)sealed\s+true", p.stdout), p.stdout


def test_status_without_server_fails_fast():
    p = run_cli(["status"], env={"VAULT_ADDR": dead_addr()}, timeout=30)
    assert p.returncode not in (0, 2), p.stdout
    assert p.stderr.strip(), "the error must be explained on stderr"


def test_operator_flow(config_server):
    srv = config_server()
    env = env_for(srv)

    p = run_cli(["status"], env=env)
    assert p.returncode == 2, p.stdout + p.stderr  # uninitialised counts as sealed

    p = run_cli(["operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json"], env=env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert len(out["unseal_keys_b64"]) == 3
    assert len(out["unseal_keys_hex"]) == 3
    root = out["root_token"]
    assert root
    srv.root_token = root

    p = run_cli(["operator", "unseal", out["unseal_keys_b64"][0]], env=env)
    assert p.returncode == 0, p.stderr
    st = srv.seal_status()
    assert (st["sealed"], st["progress"]) == (True, 1)
    p = run_cli(["operator", "unseal", out["unseal_keys_hex"][2]], env=env)
    assert p.returncode == 0, p.stderr
    assert srv.seal_status()["sealed"] is False

    p = run_cli(["status"], env=env)
    assert p.returncode == 0, p.stdout + p.stderr

    env_tok = env_for(srv, root)
    p = run_cli(["operator", "key-status"], env=env_tok)
    assert p.returncode == 0, p.stderr
    assert re.search(r"(?i)term\D*1\b", p.stdout), p.stdout

    p = run_cli(["operator", "rotate"], env=env_tok)
    assert p.returncode == 0, p.stderr
    assert term_via_http(srv) == 2
    p = run_cli(["operator", "key-status"], env=env_tok)
    assert re.search(r"(?i)term\D*2\b", p.stdout), p.stdout

    p = run_cli(["operator", "seal"], env=env_tok)
    assert p.returncode == 0, p.stderr
    p = run_cli(["status"], env=env)
    assert p.returncode == 2, p.stdout + p.stderr

    p = run_cli(["operator", "init", "-key-shares=1", "-key-threshold=1"], env=env)
    assert p.returncode != 0
    assert "already initialized" in (p.stderr + p.stdout).lower()


def test_operator_commands_need_a_token(dev_server):
    env = env_for(dev_server)
    before = term_via_http(dev_server)
    p = run_cli(["operator", "rotate"], env=env)
    assert p.returncode != 0
    p = run_cli(["operator", "rotate"], env=env_for(dev_server, "bogus"))
    assert p.returncode != 0
    p = run_cli(["operator", "seal"], env=env)
    assert p.returncode != 0
    assert term_via_http(dev_server) == before
    assert dev_server.seal_status()["sealed"] is False


def test_trove_addr_wins_over_vault_addr(dev_server):
    p = run_cli(["status"], env={"VAULT_ADDR": dead_addr(), "TROVE_ADDR": dev_server.url})
    assert p.returncode == 0, p.stdout + p.stderr
    p = run_cli(["status"], env={"VAULT_ADDR": dev_server.url, "TROVE_ADDR": dead_addr()})
    assert p.returncode not in (0, 2), p.stdout


def test_trove_token_wins_over_vault_token(dev_server):
    before = term_via_http(dev_server)
    env = {"VAULT_ADDR": dev_server.url, "VAULT_TOKEN": "bogus", "TROVE_TOKEN": dev_server.root_token}
    p = run_cli(["operator", "rotate"], env=env)
    assert p.returncode == 0, p.stderr
    assert term_via_http(dev_server) == before + 1
    env = {"VAULT_ADDR": dev_server.url, "VAULT_TOKEN": dev_server.root_token, "TROVE_TOKEN": "bogus"}
    p = run_cli(["operator", "rotate"], env=env)
    assert p.returncode != 0
    assert term_via_http(dev_server) == before + 1


def test_cli_over_tls(tls_server):
    tls = tls_server.tls
    env = {
        "VAULT_ADDR": tls_server.url,
        "VAULT_CACERT": str(tls.ca_cert),
        "VAULT_CLIENT_CERT": str(tls.client_cert),
        "VAULT_CLIENT_KEY": str(tls.client_key),
    }
    p = run_cli(["status"], env=env)
    assert p.returncode == 2, p.stdout + p.stderr
    p = run_cli(["operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json"], env=env)
    assert p.returncode == 0, p.stderr
    key = json.loads(p.stdout)["unseal_keys_b64"][0]
    p = run_cli(["operator", "unseal", key], env=env)
    assert p.returncode == 0, p.stderr
    p = run_cli(["status"], env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    # Without the CA the server certificate is not trusted.
    bad = dict(env)
    del bad["VAULT_CACERT"]
    p = run_cli(["status"], env=bad)
    assert p.returncode not in (0, 2)


def test_unseal_key_from_stdin_and_reset(dev_server):
    env = env_for(dev_server)
    assert dev_server.put("/v1/sys/seal", token=dev_server.root_token).status_code == 204
    # Without KEY and without a terminal, the share is read from stdin.
    p = run_cli(["operator", "unseal"], env=env, input=dev_server.unseal_key + "\n")
    assert p.returncode == 0, p.stderr
    assert dev_server.unseal_key not in p.stdout + p.stderr
    assert dev_server.seal_status()["sealed"] is False
    # -reset while unsealed is the server's 400: a remote error, 2.
    p = run_cli(["operator", "unseal", "-reset"], env=env)
    assert p.returncode == 2
    assert "unsealed" in p.stderr


def test_unseal_prompt_hides_the_key(dev_server):
    """On a terminal the share is asked for with echo off."""
    import os
    import pty
    import select
    import time

    from trove_harness import TROVE_BIN, sanitizer_env

    assert dev_server.put("/v1/sys/seal", token=dev_server.root_token).status_code == 204
    env = sanitizer_env()
    env.update(env_for(dev_server))
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI on the pty
        os.execve(TROVE_BIN, [TROVE_BIN, "operator", "unseal"], env)
    seen = b""
    deadline = time.time() + 60
    sent = False
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
        if not sent and b"Unseal Key" in seen:
            os.write(fd, dev_server.unseal_key.encode() + b"\n")
            sent = True
    # Never wait without bound: a child still running now is killed and
    # the test fails with what it printed.
    status = None
    end = time.time() + 20
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
    assert status is not None, f"trove operator unseal did not exit; it printed {seen!r}"
    assert sent, seen
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert dev_server.unseal_key.encode() not in seen, "the key was echoed"
    assert dev_server.seal_status()["sealed"] is False


def test_help_for_every_command():
    for args in (["-h"], ["help"], ["status", "-h"], ["operator", "-h"], ["operator", "init", "-h"],
                 ["operator", "unseal", "-h"], ["operator", "seal", "-h"], ["operator", "key-status", "-h"],
                 ["operator", "rotate", "-h"], ["server", "-h"], ["version", "-h"]):
        p = run_cli(args)
        assert p.returncode == 0, (args, p.stderr)
        assert "Usage" in p.stdout or "usage" in p.stdout, (args, p.stdout[:300])
    # local errors are 1 (for status too, where 2 means sealed)
    p = run_cli(["no-such-command"])
    assert p.returncode == 1
    assert "no-such-command" in p.stderr
    p = run_cli(["status", "-bogus-flag"])
    assert p.returncode == 1
    assert "bogus-flag" in p.stderr


def test_status_json(dev_server):
    p = run_cli(["status", "-format=json"], env=env_for(dev_server))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["sealed"] is False and out["initialized"] is True
