"""`trove agent` in exec mode (process supervisor): the real agent runs a
small app (a shell script that records its PID, parent and environment)
as its child, against a real dev server."""

import json
import os
import signal
import stat
import time
from pathlib import Path

from agent_proc import start_agent, wait_for, wait_for_file

# argv: RECORD [EXIT_ON_TERM]. Appends "start PID PPID PASSWORD INHERITED",
# then "ready PID" once its traps are set; USR1 and TERM are recorded.
APP = """\
rec=$1
echo "start $$ $PPID ${APP_PASSWORD-unset} ${APP_INHERITED-unset}" >> "$rec"
echo "out $$"
echo "err $$" >&2
s=
trap 'kill $s 2>/dev/null; echo "usr1 $$" >> "$rec"' USR1
trap 'kill $s 2>/dev/null; echo "term $$" >> "$rec"; exit ${2:-0}' TERM
echo "ready $$" >> "$rec"
while :; do sleep 1 & s=$!; wait $s; done
"""


def write_app(tmp_path):
    app = tmp_path / "app.sh"
    app.write_text(APP)
    return app


def records(path, kind):
    """The PIDs (as ints) of the lines of that kind, in order."""
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    return [int(line.split()[1]) for line in lines if line.startswith(kind + " ")]


def start_line(path, pid):
    for line in Path(path).read_text().splitlines():
        if line.startswith(f"start {pid} "):
            return line.split()
    raise AssertionError(f"no start line for {pid}")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def exec_config(dev_server, command, extra=""):
    argv = ", ".join(json.dumps(a) for a in command)
    return f"""
vault {{ address = "{dev_server.url}" }}
exec {{
  command = [{argv}]
  {extra}
}}
"""


def test_child_exit_status_is_the_agents(dev_server, procs, log_dir, tmp_path):
    """No env_template: the child starts at once with the agent's
    environment; when it exits on its own the agent ends with its status."""
    rec, app = tmp_path / "rec", tmp_path / "exit3.sh"
    app.write_text('echo "start $$ $PPID x ${APP_INHERITED-unset}" >> "$1"; exit 3\n')
    cfg = exec_config(dev_server, ["/bin/sh", str(app), str(rec)])
    agent = start_agent(procs, log_dir, tmp_path, cfg, env={"APP_INHERITED": "from-agent"}, wait=False)
    agent_pid = agent.pid
    assert agent.wait_exit(20) == 3
    (line,) = [line.split() for line in rec.read_text().splitlines()]
    assert line[2] == str(agent_pid)
    assert line[4] == "from-agent"
    assert "exit_code=3" in agent.log()


def test_sigterm_reaches_the_child(dev_server, procs, log_dir, tmp_path):
    """SIGTERM to the agent goes to the child, and the agent exits with the
    child's status once it has ended (no orphan left)."""
    app, rec = write_app(tmp_path), tmp_path / "rec"
    agent = start_agent(procs, log_dir, tmp_path, exec_config(dev_server, ["/bin/sh", str(app), str(rec), "7"]))
    (pid,) = wait_for(lambda: records(rec, "ready"), 20, "the app to start")
    assert start_line(rec, pid)[2] == str(agent.pid)  # the agent's own child
    agent.signal(signal.SIGTERM)
    assert agent.wait_exit(20) == 7
    assert records(rec, "term") == [pid]
    assert not alive(pid)


def test_child_killed_by_a_signal(dev_server, procs, log_dir, tmp_path):
    """A child that SIGTERM kills: the agent exits 128 + 15, as a shell would."""
    agent = start_agent(procs, log_dir, tmp_path, exec_config(dev_server, ["/bin/sleep", "60"]))
    wait_for(lambda: "child process started" in agent.log(), 20, "the child to start")
    agent.signal(signal.SIGTERM)
    assert agent.wait_exit(20) == 128 + signal.SIGTERM


def test_other_signals_are_forwarded(dev_server, procs, log_dir, tmp_path):
    """SIGUSR1 reaches the child and the agent keeps running; SIGTERM then
    ends both (status 0 from the app's trap)."""
    app, rec = write_app(tmp_path), tmp_path / "rec"
    agent = start_agent(procs, log_dir, tmp_path, exec_config(dev_server, ["/bin/sh", str(app), str(rec)]))
    (pid,) = wait_for(lambda: records(rec, "ready"), 20, "the app to start")
    agent.signal(signal.SIGUSR1)
    wait_for(lambda: records(rec, "usr1") == [pid], 20, "the app to get SIGUSR1")
    time.sleep(0.3)
    assert agent.proc.poll() is None
    assert alive(pid)
    agent.signal(signal.SIGTERM)
    assert agent.wait_exit(20) == 0
    assert not alive(pid)


def test_child_output_files(dev_server, procs, log_dir, tmp_path):
    """child_process_stdout/_stderr: appended to, created 0644."""
    app, rec = write_app(tmp_path), tmp_path / "rec"
    out, err = tmp_path / "child.out", tmp_path / "child.err"
    out.write_text("before\n")
    cfg = exec_config(dev_server, ["/bin/sh", str(app), str(rec)],
                      f'child_process_stdout = "{out}"\n  child_process_stderr = "{err}"')
    agent = start_agent(procs, log_dir, tmp_path, cfg)
    (pid,) = wait_for(lambda: records(rec, "ready"), 20, "the app to start")
    assert wait_for_file(out, contains=f"out {pid}") == f"before\nout {pid}\n"
    assert wait_for_file(err, contains=f"err {pid}") == f"err {pid}\n"
    assert stat.S_IMODE(err.stat().st_mode) == 0o644
    assert f"out {pid}" not in agent.log()
    agent.stop()


def test_command_that_cannot_run(dev_server, procs, log_dir, tmp_path):
    """A program that does not exist: the agent exits 1 naming the exec
    block's file:line and the key."""
    cfg = exec_config(dev_server, ["/nonexistent/app"])
    agent = start_agent(procs, log_dir, tmp_path, cfg, wait=False)
    assert agent.wait_exit(20) == 1
    assert f'{tmp_path / "agent.hcl"}:3: exec: command: cannot run "/nonexistent/app"' in agent.log()


def test_env_template_restarts_the_child_on_change(dev_server, procs, log_dir, tmp_path):
    """A KV secret rendered into the child's environment: the app starts
    only once it is rendered, with the value replacing an inherited one;
    changing the secret restarts it (new PID, new value)."""
    srv = dev_server
    kv = srv.url + "/v1/secret/data/app"
    hdr = {"X-Vault-Token": srv.root_token}
    import requests

    requests.post(kv, headers=hdr, json={"data": {"password": "first"}}, timeout=10).raise_for_status()
    token_file = tmp_path / "token"
    token_file.write_text(srv.root_token)
    app, rec = write_app(tmp_path), tmp_path / "rec"
    cfg = f"""
vault {{ address = "{srv.url}" }}
auto_auth {{
  method "token_file" {{
    config = {{ token_file_path = "{token_file}" }}
  }}
}}
template_config {{
  static_secret_render_interval = "1s"
}}
env_template "APP_PASSWORD" {{
  contents             = "{{{{ with secret \\"secret/data/app\\" }}}}{{{{ .Data.data.password }}}}{{{{ end }}}}"
  error_on_missing_key = true
}}
exec {{
  command                   = ["/bin/sh", "{app}", "{rec}"]
  restart_on_secret_changes = "always"
}}
"""
    agent = start_agent(procs, log_dir, tmp_path, cfg, env={"APP_PASSWORD": "inherited"})
    (first,) = wait_for(lambda: records(rec, "ready"), 30, "the app to start")
    assert start_line(rec, first)[3] == "first"
    requests.post(kv, headers=hdr, json={"data": {"password": "second"}}, timeout=10).raise_for_status()
    pids = wait_for(lambda: len(records(rec, "ready")) == 2 and records(rec, "ready"), 30, "a restart")
    assert pids[1] != first
    assert start_line(rec, pids[1])[3] == "second"
    assert records(rec, "term") == [first]
    assert not alive(first)
    time.sleep(3)  # unchanged re-renders restart nothing
    assert len(records(rec, "start")) == 2
    agent.stop()
