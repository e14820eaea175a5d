"""`trove agent`: flags and config errors (the parts have their own files)."""

import subprocess

from agent_proc import start_agent
from trove_harness import TROVE_BIN


def run(args, env=None, timeout=20):
    return subprocess.run([TROVE_BIN, "agent", *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_help():
    r = run(["-h"])
    assert r.returncode == 0
    assert "-config" in r.stdout and "-exit-after-auth" in r.stdout


def test_no_config_is_an_error(monkeypatch):
    r = run([], env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 1
    assert "no config" in r.stderr


def test_unknown_flag():
    r = run(["-bogus"])
    assert r.returncode == 1
    assert 'unknown argument "-bogus"' in r.stderr


def test_unknown_key_names_file_line_and_key(tmp_path):
    cfg = tmp_path / "agent.hcl"
    cfg.write_text('vault {\n  address = "http://127.0.0.1:1"\n  adress = "x"\n}\n')
    r = run(["-config", str(cfg)])
    assert r.returncode == 1
    assert f'{cfg}:3: vault: unknown key "adress"' in r.stderr


def test_unknown_block(tmp_path):
    cfg = tmp_path / "agent.hcl"
    cfg.write_text('template {\n destination = "/x"\n contents = "a"\n}\nsinks "file" {}\n')
    r = run([f"-config={cfg}"])
    assert r.returncode == 1
    assert f'{cfg}:5: unknown key "sinks"' in r.stderr


def test_semantic_error_names_the_block(tmp_path):
    cfg = tmp_path / "agent.hcl"
    cfg.write_text('exit_after_auth = false\n\ntemplate {\n  contents = "x"\n}\n')
    r = run(["-config", str(cfg)])
    assert r.returncode == 1
    assert f"{cfg}:3: template: destination is required" in r.stderr


def test_missing_file():
    r = run(["-config", "/nonexistent/agent.hcl"])
    assert r.returncode == 1
    assert "/nonexistent/agent.hcl" in r.stderr


def test_config_from_environment_and_directory(tmp_path):
    d = tmp_path / "conf.d"
    d.mkdir()
    (d / "10-vault.hcl").write_text('vault { address = "http://127.0.0.1:1" }\n')
    (d / "20-bad.json").write_text('{"vault": {"address": "x"}}')
    r = run([], env={"TROVE_AGENT_CONFIG_PATH": str(d), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 1
    assert f"{d}/20-bad.json" in r.stderr and "vault is already given" in r.stderr


def test_pid_file_and_sigterm(procs, log_dir, tmp_path):
    pid_file = tmp_path / "agent.pid"
    agent = start_agent(procs, log_dir, tmp_path, f'''
pid_file = "{pid_file}"
listener "tcp" {{
  address = "127.0.0.1:0"
  tls_disable = true
}}
vault {{ address = "http://127.0.0.1:1" }}
''')
    assert int(pid_file.read_text()) == agent.pid
    procs.remove(agent)
    agent.stop()
    assert agent.problems == []
    assert not pid_file.exists()


def test_log_file(procs, log_dir, tmp_path):
    logs = tmp_path / "agentlogs"
    logs.mkdir()
    agent = start_agent(procs, log_dir, tmp_path, f'''
log_file = "{logs}/"
listener "tcp" {{
  address = "127.0.0.1:0"
  tls_disable = true
}}
''', wait=False)
    from agent_proc import wait_for
    wait_for(lambda: (logs / "agent.log").exists() and "agent started" in (logs / "agent.log").read_text(),
             20, "agent.log")
    assert (logs / "agent.log").stat().st_mode & 0o777 == 0o600
