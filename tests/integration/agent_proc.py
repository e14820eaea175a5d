"""Running `trove agent` in integration tests.

    from agent_proc import start_agent, wait_for, wait_for_file

    def test_x(dev_server, procs, log_dir, tmp_path):
        agent = start_agent(procs, log_dir, tmp_path, '''
            vault { address = "%s" }
            auto_auth { ... }
        ''' % dev_server.url)
        wait_for_file(tmp_path / "sink")
        ...

The agent is a TroveProcess (trove_harness.py): its output goes to files in
log_dir, and the `procs` fixture stops it at teardown (SIGTERM; exit 0
wanted) and fails the test on a crash or a sanitizer report. A test that
expects the agent to end by itself calls agent.wait_exit(), which returns
the exit status and takes the process out of the teardown's checks.
"""

import os
import time
from pathlib import Path

from trove_harness import TROVE_BIN, TroveProcess, sanitizer_env, tail

AGENT_START_TIMEOUT = 20


class AgentProcess(TroveProcess):
    """One `trove agent -config FILE` process."""

    def __init__(self, config_path, log_dir, name, env=None, args=()):
        super().__init__([TROVE_BIN, "agent", "-config", config_path, *args], log_dir, name, None, env=env)
        self.config_path = Path(config_path)

    def start(self, wait=True):
        """Starts the agent; with wait, returns once it logged "agent
        started" (or raises with its stderr if it exited first)."""
        assert self.proc is None, "already running"
        super().start(wait=False)
        if wait:
            wait_for(lambda: "agent started" in self.stderr_text() or self.proc.poll() is not None,
                     AGENT_START_TIMEOUT, f"{self.name} to start")
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise AssertionError(f"{self.name}: exited with status {rc} at start\n"
                                     f"stderr:\n{tail(self.stderr_path)}")
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def wait_exit(self, timeout=30):
        """Waits for the agent to end by itself; returns its exit status."""
        assert self.proc is not None, "not running"
        proc = self.proc
        try:
            rc = proc.wait(timeout)
        except Exception:
            raise AssertionError(f"{self.name}: still running after {timeout}s\n"
                                 f"stderr:\n{tail(self.stderr_path)}")
        self.proc = None
        self._scan()
        return rc

    def signal(self, sig):
        self.proc.send_signal(sig)

    def log(self):
        return self.stderr_text()

    def rss_kb(self):
        """VmRSS of the running agent, in KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


def start_agent(procs, log_dir, tmp_path, config_text, name="agent", env=None, args=(), wait=True):
    """Writes config_text to tmp_path/<name>.hcl and starts the agent on
    it. env: extra environment variables (on top of the sanitizer
    settings). The process is registered in procs for teardown."""
    path = Path(tmp_path) / f"{name}.hcl"
    path.write_text(config_text)
    full_env = sanitizer_env()
    for k in ("VAULT_ADDR", "VAULT_TOKEN", "TROVE_ADDR", "TROVE_TOKEN"):
        full_env.pop(k, None)
    if env:
        full_env.update(env)
    agent = AgentProcess(path, log_dir, name, env=full_env, args=args)
    procs.append(agent)
    return agent.start(wait=wait)


def wait_for(cond, timeout=20, what="a condition", interval=0.05):
    """Polls cond() until it returns a true value (returned) or fails the
    test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_for_file(path, timeout=20, contains=None):
    """Waits until path exists (and holds contains, when given); returns
    its text."""
    path = Path(path)

    def ready():
        try:
            text = path.read_text()
        except (FileNotFoundError, PermissionError):
            return None
        if contains is not None and contains not in text:
            return None
        return text if text else (None if contains else text or " ")

    v = wait_for(ready, timeout, f"{path}" + (f" to hold {contains!r}" if contains else ""))
    return path.read_text() if v == " " else v
