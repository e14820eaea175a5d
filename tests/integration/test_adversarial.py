"""Adversarial regression suite: the holes found at the edges, each with a
test that failed before its fix.

Every section names the item it guards. Each test starts the real server
and attacks it the way a client holding the named token (or none) could:
host paths through audit options, non-canonical names and parameters that
slip past a policy, durations that overflow, bodies that flood the loop,
login floods, and the smaller holes. The denied form is tested as
carefully as the allowed one."""

import json
import os
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from trove_harness import assert_error, raw_http, run_cli, status_of


# ---------------------------------------------------------------------------
# 1-2. Audit devices: where a file device may write, and enabling one that
#      cannot record.
# ---------------------------------------------------------------------------

def audit_enable(srv, path, options, token=None, type_="file"):
    return srv.request("PUT", f"/v1/sys/audit/{path}", token=token or srv.root_token,
                       json={"type": type_, "options": options})


def audit_listed(srv, token=None):
    r = srv.request("GET", "/v1/sys/audit", token=token or srv.root_token)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def audit_usable(srv, token=None, name="probe"):
    """The server still serves: a write and a read of a secret succeed."""
    token = token or srv.root_token
    r = srv.request("POST", f"/v1/secret/data/{name}", token=token, json={"data": {"v": "1"}})
    assert r.status_code == 200, r.text
    r = srv.request("GET", f"/v1/secret/data/{name}", token=token)
    assert r.status_code == 200, r.text


@pytest.fixture
def audit_tiny_fs(tmp_path):
    d = tmp_path / "tiny"
    d.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)], check=True)
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


def audit_fill(path):
    """Appends to path until its file system is full."""
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


def audit_check(tmp_path, text, name="check.hcl"):
    data = tmp_path / "check-data"
    data.mkdir(exist_ok=True)
    cfg = tmp_path / name
    cfg.write_text(f'storage "lmdb" {{\n  path = "{data}"\n}}\nlistener "tcp" {{\n  tls_disable = true\n}}\n'
                   + text)
    return cfg, run_cli(["server", f"-config={cfg}", "-check"])


def test_audit_symlinks_are_not_followed(dev_server, tmp_path):
    target = tmp_path / "victim"
    target.write_text("root:x:0:0\n")
    target.chmod(0o600)
    (tmp_path / "last.log").symlink_to(target)
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "middle").symlink_to(real)
    (tmp_path / "dangling.log").symlink_to(tmp_path / "elsewhere.log")

    for p in [tmp_path / "last.log", tmp_path / "middle" / "a.log", tmp_path / "dangling.log"]:
        assert_error(audit_enable(dev_server, "f", {"file_path": str(p)}), 400, "file_path", "symbolic link")
    assert audit_listed(dev_server) == {}
    assert target.read_text() == "root:x:0:0\n" and (target.stat().st_mode & 0o7777) == 0o600
    assert not (real / "a.log").exists() and not (tmp_path / "elsewhere.log").exists()
    # The real directory itself is fine.
    assert audit_enable(dev_server, "f", {"file_path": str(real / "a.log")}).status_code == 204


def test_audit_paths_outside_the_allowed_dirs_are_refused(config_server, tmp_path):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "dir").mkdir()
    os.mkfifo(allowed / "fifo")
    crontab = outside / "crontab"
    crontab.write_text("# cron\n")
    crontab.chmod(0o644)
    srv = config_server(top_extra=f'audit_file_dirs = ["{allowed}"]')
    srv.init(1, 1)
    srv.unseal()
    cases = [
        (str(crontab), "not under a directory allowed"),
        (str(outside / "new.log"), "not under a directory allowed"),
        ("/etc/trove-audit-test-nonexistent/x", "not under a directory allowed"),
        (f"{allowed}/../outside/crontab", "absolute path without"),
        (f"{allowed}/./x.log", "absolute path without"),
        (f"{allowed}x/x.log", "not under a directory allowed"),
        ("relative.log", "absolute path without"),
        (f"{allowed}/x\n.log", "control"),
        (str(allowed / "dir"), "is a directory"),
        (str(allowed / "fifo"), "not a regular file"),
        ("/dev/full", "not under a directory allowed"),
    ]
    for path, why in cases:
        t0 = time.monotonic()
        r = audit_enable(srv, "f", {"file_path": path})
        assert time.monotonic() - t0 < 5  # a FIFO without a reader does not hang the request
        assert_error(r, 400, "file_path", why)
    assert audit_listed(srv) == {}
    assert crontab.read_text() == "# cron\n" and crontab.stat().st_mode & 0o7777 == 0o644
    assert not (outside / "new.log").exists()
    assert audit_enable(srv, "f", {"file_path": str(allowed / "ok.log")}).status_code == 204
    r = srv.request("POST", "/v1/sys/mounts/kv", token=srv.root_token, json={"type": "kv"})
    assert r.status_code == 204, r.text
    assert "sys/mounts/kv" in (allowed / "ok.log").read_text()


def test_audit_modes_only_tighten_and_never_touch_existing_files(dev_server, tmp_path):
    for mode in ["0777", "07777", "4600", "0644", "0666"]:
        assert_error(audit_enable(dev_server, "f", {"file_path": str(tmp_path / "m.log"), "mode": mode}),
                     400, "mode")
    assert not (tmp_path / "m.log").exists()
    assert audit_enable(dev_server, "new", {"file_path": str(tmp_path / "new.log")}).status_code == 204
    assert (tmp_path / "new.log").stat().st_mode & 0o7777 == 0o600
    assert audit_enable(dev_server, "g", {"file_path": str(tmp_path / "g.log"), "mode": "0640"}).status_code == 204
    assert (tmp_path / "g.log").stat().st_mode & 0o7777 == 0o640
    existing = tmp_path / "existing.log"
    existing.write_text("")
    existing.chmod(0o604)
    assert audit_enable(dev_server, "e", {"file_path": str(existing), "mode": "0600"}).status_code == 204
    assert existing.stat().st_mode & 0o7777 == 0o604


def test_audit_option_values_with_newlines_are_refused(dev_server, tmp_path):
    log = str(tmp_path / "p.log")
    for opts, name in [({"file_path": log, "prefix": "* * * * * root sh -c id\n"}, "prefix"),
                       ({"file_path": log, "prefix": "x\r"}, "prefix"),
                       ({"file_path": log, "format": "json\n"}, "format"),
                       ({"file_path": log, "recorded": "flushed\t"}, "recorded")]:
        assert_error(audit_enable(dev_server, "p", opts), 400, name)
    r = audit_enable(dev_server, "s", {"address": "127.0.0.1:9\n"}, type_="socket")
    assert_error(r, 400, "address")
    assert audit_listed(dev_server) == {}
    assert not (tmp_path / "p.log").exists()


def test_audit_api_prefix_needs_the_config(config_server, tmp_path):
    logs = tmp_path / "audit-logs"
    logs.mkdir()
    srv = config_server(top_extra=f'audit_file_dirs = ["{logs}"]')
    srv.init(1, 1)
    srv.unseal()
    assert_error(audit_enable(srv, "p", {"file_path": str(logs / "p.log"), "prefix": "TROVE "}), 400,
                 "prefix", "allow_audit_log_prefixing")
    assert audit_listed(srv) == {}
    assert audit_enable(srv, "p", {"file_path": str(logs / "p.log"), "prefix": ""}).status_code == 204

    srv2 = config_server(top_extra=f'audit_file_dirs = ["{logs}"]\nallow_audit_log_prefixing = true')
    srv2.init(1, 1)
    srv2.unseal()
    assert audit_enable(srv2, "p", {"file_path": str(logs / "q.log"), "prefix": "TROVE "}).status_code == 204
    assert all(line.startswith("TROVE {") for line in (logs / "q.log").read_text().splitlines())


def test_audit_config_server_allows_no_dir_by_default(config_server, tmp_path):
    srv = config_server()
    srv.init(1, 1)
    srv.unseal()
    assert_error(audit_enable(srv, "f", {"file_path": str(tmp_path / "a.log")}), 400, "file_path",
                 "audit_file_dirs")
    assert not (tmp_path / "a.log").exists()
    assert audit_enable(srv, "d", {"file_path": "discard"}).status_code == 204
    assert audit_enable(srv, "o", {"file_path": "stdout"}).status_code == 204


def test_audit_path_is_the_legacy_name_of_file_path(dev_server, tmp_path):
    log = tmp_path / "legacy.log"
    assert audit_enable(dev_server, "legacy", {"path": str(log)}).status_code == 204
    assert audit_listed(dev_server)["legacy/"]["options"] == {"file_path": str(log)}
    dev_server.request("GET", "/v1/secret/data/x", token=dev_server.root_token)
    assert "secret/data/x" in log.read_text()
    assert_error(audit_enable(dev_server, "both", {"path": str(log), "file_path": str(log)}), 400, "file_path")
    assert_error(audit_enable(dev_server, "out", {"path": "/etc/trove-audit-test-nonexistent/x"}), 400,
                 "file_path", "not under")


def test_audit_config_declared_device_works_and_cannot_be_disabled(config_server, tmp_path):
    log = tmp_path / "declared.log"
    srv = config_server(top_extra=f'''
audit "file" {{
  path = "declared/"
  description = "from the config"
  options = {{
    file_path = "{log}"
    prefix = "CFG "
  }}
}}
''')
    srv.init(1, 1)
    srv.unseal()
    root = srv.root_token
    dev = audit_listed(srv)["declared/"]
    assert dev["type"] == "file" and dev["description"] == "from the config"
    assert dev["declared_in_config"] is True
    assert_error(srv.request("DELETE", "/v1/sys/audit/declared", token=root), 400, "server config")
    assert_error(audit_enable(srv, "declared", {"file_path": "discard"}), 409, "already in use")
    srv.request("POST", "/v1/sys/mounts/kv", token=root, json={"type": "kv"})
    text = log.read_text()
    assert "sys/audit/declared" in text and "sys/mounts/kv" in text
    assert all(line.startswith("CFG {") for line in text.splitlines())
    h = srv.request("PUT", "/v1/sys/audit-hash/declared", token=root, json={"input": "v"}).json()["data"]["hash"]
    # Still there, with the same salt, after a restart; never in the API's table.
    srv.restart()
    srv.unseal()
    assert "declared/" in audit_listed(srv)
    assert srv.request("PUT", "/v1/sys/audit-hash/declared", token=root,
                       json={"input": "v"}).json()["data"]["hash"] == h


def test_audit_enable_on_a_full_disk_is_refused_and_the_server_stays_usable(dev_server, audit_tiny_fs):
    log = audit_tiny_fs / "audit.log"
    audit_fill(log)  # a regular file that cannot take one more byte
    r = audit_enable(dev_server, "full", {"file_path": str(log)})
    assert_error(r, 400, "test entry")
    assert audit_listed(dev_server) == {}
    audit_usable(dev_server)
    # Disabling what was never enabled is a no-op, as Vault.
    assert dev_server.request("DELETE", "/v1/sys/audit/full", token=dev_server.root_token).status_code == 204


def test_audit_device_that_breaks_later_recovers_after_space_is_freed(dev_server, audit_tiny_fs):
    root = dev_server.root_token
    log = audit_tiny_fs / "audit.log"
    filler = audit_tiny_fs / "filler"
    assert audit_enable(dev_server, "file", {"file_path": str(log)}).status_code == 204
    audit_usable(dev_server, name="before")
    audit_fill(filler)
    r = dev_server.request("GET", "/v1/secret/data/before", token=root)
    assert r.status_code == 500 and "v" not in r.text.replace("errors", "")  # fail closed
    filler.unlink()
    import signal
    os.kill(dev_server.proc.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if dev_server.request("GET", "/v1/secret/data/before", token=root).status_code == 200:
            break
        time.sleep(0.05)
    audit_usable(dev_server, name="after")
    assert "secret/data/after" in log.read_text()


def test_audit_device_gone_for_good_is_removed_through_a_declared_one(config_server, tmp_path):
    logs = tmp_path / "audit-logs"
    logs.mkdir()
    allowed = f'audit_file_dirs = ["{logs}"]\n'
    srv = config_server(top_extra=allowed)
    srv.init(1, 1)
    srv.unseal()
    root = srv.root_token
    assert audit_enable(srv, "file", {"file_path": str(logs / "sub" / "a.log")}).status_code == 400
    (logs / "sub").mkdir()
    assert audit_enable(srv, "file", {"file_path": str(logs / "sub" / "a.log")}).status_code == 204
    srv.stop()
    (logs / "sub" / "a.log").unlink()
    (logs / "sub").rmdir()  # the disk is gone for good
    srv.start()
    srv.unseal()
    assert srv.request("GET", "/v1/sys/audit", token=root).status_code == 500  # fail closed
    # The documented way out: declare a working device in the config,
    # restart, disable the broken one through the API.
    srv.stop()
    srv.config_path.write_text(srv.config_path.read_text()
                               + f'audit "file" {{\n  path = "rescue"\n  options {{ file_path = "{logs}/rescue.log" }}\n}}\n')
    srv.start()
    srv.unseal()
    assert srv.request("DELETE", "/v1/sys/audit/file", token=root).status_code == 204
    assert list(audit_listed(srv)) == ["rescue/"]
    assert "sys/audit/file" in (logs / "rescue.log").read_text()


def test_audit_check_catches_bad_audit_config(tmp_path):
    good, p = audit_check(tmp_path, 'audit_file_dirs = ["/var/log/trove/", "/srv/audit"]\n'
                          'allow_audit_log_prefixing = true\n'
                          'audit "file" {\n  options = { file_path = "stdout" }\n}\n'
                          'audit "file" "second" {\n  options { file_path = "/var/log/trove/a.log" }\n}\n')
    assert p.returncode == 0, p.stderr
    bad = [
        ('audit "file" {\n  options = { file_path = "/x/a.log", prefix = "a\\nb" }\n}\n', "prefix"),
        ('audit "file" {\n  options = { file_path = "/x/a.log", mode = "0777" }\n}\n', "mode"),
        ('audit "file" {\n  options = { file_path = "a.log" }\n}\n', "absolute"),
        ('audit "file" {\n  options = { }\n}\n', "file_path is required"),
        ('audit "file" {\n  options = { file_path = "/x/a", bogus = "1" }\n}\n', "bogus"),
        ('audit "file" {\n  bogus = 1\n}\n', "bogus"),
        ('audit "nope" {\n  options = { file_path = "/x/a" }\n}\n', "nope"),
        ('audit "file" {\n  options = { file_path = "/x/a" }\n}\naudit "file" {\n  options = { file_path = "/x/b" }\n}\n',
         "already used"),
        ('audit_file_dirs = ["/var/log/../etc"]\n', "audit_file_dirs"),
        ('audit_file_dirs = ["/"]\n', "audit_file_dirs"),
        ('audit_file_dirs = ["//"]\n', "audit_file_dirs"),
        ('audit_file_dirs = ["var/log"]\n', "audit_file_dirs"),
        ('audit_file_dirs = "/var/log"\n', "audit_file_dirs"),
        ('allow_audit_log_prefixing = "maybe"\n', "allow_audit_log_prefixing"),
    ]
    for text, needle in bad:
        cfg, p = audit_check(tmp_path, text)
        assert p.returncode == 1, (text, p.stdout, p.stderr)
        assert needle in p.stderr and f"{cfg}:" in p.stderr, (text, p.stderr)


# (end of section: audit)


# ---------------------------------------------------------------------------
# 3-4. Canonicalise, then authorise: parameter constraints see canonical
#      values; names in paths are canonical or refused.
# ---------------------------------------------------------------------------

# (end of section: canonical)


# ---------------------------------------------------------------------------
# 5-6. Secrets in URL paths; durations that overflow.
# ---------------------------------------------------------------------------

# (end of section: paths and durations)


# ---------------------------------------------------------------------------
# 7-8. Bodies: parsed after routing, bounded, and 413 readable.
# ---------------------------------------------------------------------------

# (end of section: bodies)


# ---------------------------------------------------------------------------
# 9-10. Login floods, lockouts and the smaller holes.
# ---------------------------------------------------------------------------

# (end of section: logins and small holes)


# ---------------------------------------------------------------------------
# 11. Storage rollback.
# ---------------------------------------------------------------------------

# (end of section: rollback)


# ---------------------------------------------------------------------------
# Compatibility defects found by real clients.
# ---------------------------------------------------------------------------

# (end of section: compatibility)
