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

from trove_harness import assert_error, fill_filesystem, raw_http, run_cli, status_of


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


def test_audit_enable_on_a_full_disk_is_refused_and_the_server_stays_usable(dev_server, tiny_fs):
    log = tiny_fs / "audit.log"
    fill_filesystem(log)  # a regular file that cannot take one more byte
    r = audit_enable(dev_server, "full", {"file_path": str(log)})
    assert_error(r, 400, "test entry")
    assert audit_listed(dev_server) == {}
    audit_usable(dev_server)
    # Disabling what was never enabled is a no-op, as Vault.
    assert dev_server.request("DELETE", "/v1/sys/audit/full", token=dev_server.root_token).status_code == 204


def test_audit_device_that_breaks_later_recovers_after_space_is_freed(dev_server, tiny_fs):
    root = dev_server.root_token
    log = tiny_fs / "audit.log"
    filler = tiny_fs / "filler"
    assert audit_enable(dev_server, "file", {"file_path": str(log)}).status_code == 204
    audit_usable(dev_server, name="before")
    fill_filesystem(filler)
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

CANON_DENY_RULES = """
path "auth/token/roles/*" {
  capabilities = ["create", "update", "read"]
  denied_parameters = { "allowed_policies" = ["admin"] }
}
path "auth/token/create" {
  capabilities = ["create", "update"]
  denied_parameters = { "policies" = ["admin"] }
}
path "auth/userpass/users/*" {
  capabilities = ["create", "update", "read"]
  denied_parameters = { "token_policies" = ["admin"], "policies" = ["adm*"] }
}
path "auth/approle/role/*" {
  capabilities = ["create", "update", "read"]
  denied_parameters = { "token_policies" = ["admin"], "token_ttl" = ["1h"], "color" = ["red"] }
}
"""

CANON_ALLOW_RULES = """
path "auth/token/roles/*" {
  capabilities = ["create", "update"]
  allowed_parameters = { "allowed_policies" = ["dev", "default"], "*" = [] }
}
path "auth/approle/role/*" {
  capabilities = ["create", "update"]
  allowed_parameters = { "token_ttl" = ["1h"], "token_policies" = ["dev*"] }
}
"""

# Forms a client can send that the handler turns into the policy "admin".
CANON_ADMIN_FORMS = ["default,admin", ["Admin"], [" admin"], ["default", "ADMIN "], " Admin\t"]


def canon_setup(srv, rules):
    """userpass and approle enabled, an "admin" policy, and a token holding
    the test's rules plus admin (so the ACL alone stands in the way)."""
    root = srv.root_token
    for mount in ("userpass", "approle"):
        r = srv.request("POST", f"/v1/sys/auth/{mount}", token=root, json={"type": mount})
        assert r.status_code == 204, r.text
    for name, text in (("admin", 'path "*" { capabilities = ["read"] }'), ("canon-rules", rules)):
        r = srv.request("PUT", f"/v1/sys/policies/acl/{name}", token=root, json={"policy": text})
        assert r.status_code == 204, r.text
    r = srv.request("POST", "/v1/auth/token/create", token=root, json={"policies": ["canon-rules", "admin"]})
    assert r.status_code == 200, r.text
    return r.json()["auth"]["client_token"]


def canon_writes(form):
    """(path, body) of each write that could hand out the admin policy."""
    return [
        ("/v1/auth/token/roles/r1", {"allowed_policies": form}),
        ("/v1/auth/token/create", {"policies": form}),
        ("/v1/auth/userpass/users/u1", {"password": "pw-1", "token_policies": form}),
        ("/v1/auth/userpass/users/u1", {"password": "pw-1", "policies": form}),
        ("/v1/auth/approle/role/r1", {"token_policies": form}),
    ]


def test_canonical_denied_parameters_see_canonical_policy_names(dev_server):
    tok = canon_setup(dev_server, CANON_DENY_RULES)
    for form in CANON_ADMIN_FORMS:
        for path, body in canon_writes(form):
            r = dev_server.request("POST", path, token=tok, json=body)
            assert_error(r, 403, "permission denied")
    root = dev_server.root_token
    for path in ("/v1/auth/token/roles/r1", "/v1/auth/userpass/users/u1", "/v1/auth/approle/role/r1"):
        assert dev_server.get(path, token=root).status_code == 404, path
    # The same writes without admin go through, canonicalised.
    for path, body in canon_writes(["Default", " Canon-Rules"]):
        r = dev_server.request("POST", path, token=tok, json=body)
        assert r.status_code in (200, 204), (path, r.text)
    d = dev_server.get("/v1/auth/token/roles/r1", token=root).json()["data"]
    assert d["allowed_policies"] == ["canon-rules", "default"]
    d = dev_server.get("/v1/auth/approle/role/r1", token=root).json()["data"]
    assert d["token_policies"] == ["canon-rules", "default"]


def test_canonical_nul_in_a_string_is_refused_naming_the_field(dev_server):
    tok = canon_setup(dev_server, CANON_DENY_RULES)
    for form in ("admin\u0000", ["admin\u0000x"], "dev,admin\u0000"):
        for path, body in canon_writes(form):
            field = [k for k in body if k != "password"][0]
            r = dev_server.request("POST", path, token=tok, json=body)
            if field == "policies" and "userpass" in path:
                assert r.status_code in (400, 403), r.text  # "adm*" may match as sent
            else:
                assert_error(r, 400, field, "nul")
    r = dev_server.request("POST", "/v1/auth/userpass/users/u2", token=tok, json={"password": "pw\u0000x"})
    assert_error(r, 400, "password", "nul")
    root = dev_server.root_token
    for path in ("/v1/auth/token/roles/r1", "/v1/auth/userpass/users/u1", "/v1/auth/approle/role/r1"):
        assert dev_server.get(path, token=root).status_code == 404, path


def test_canonical_durations_and_unknown_fields_are_constrained(dev_server):
    tok = canon_setup(dev_server, CANON_DENY_RULES)
    # token_ttl is compared as seconds on both sides: "1h" in the policy
    # denies every spelling of an hour.
    for ttl in ("1h", "60m", 3600, "3600", "3600s"):
        r = dev_server.request("POST", "/v1/auth/approle/role/r1", token=tok, json={"token_ttl": ttl})
        assert_error(r, 403, "permission denied")
    r = dev_server.request("POST", "/v1/auth/approle/role/r1", token=tok, json={"token_ttl": "2h"})
    assert r.status_code == 204, r.text
    # A field the route does not know is constrained as sent.
    r = dev_server.request("POST", "/v1/auth/approle/role/r1", token=tok, json={"color": "red"})
    assert_error(r, 403, "permission denied")
    r = dev_server.request("POST", "/v1/auth/approle/role/r1", token=tok, json={"color": "blue"})
    assert r.status_code in (200, 204), r.text


def test_canonical_allowed_parameters_admit_canonical_values(dev_server):
    tok = canon_setup(dev_server, CANON_ALLOW_RULES)
    for form in ("dev,default", ["Dev"], [" default ", "DEV"], "default"):
        r = dev_server.request("POST", "/v1/auth/token/roles/r1", token=tok, json={"allowed_policies": form})
        assert r.status_code == 204, (form, r.text)
    for form in ("dev,admin", ["dev", "Admin"], ["devops"]):
        r = dev_server.request("POST", "/v1/auth/token/roles/r1", token=tok, json={"allowed_policies": form})
        assert_error(r, 403, "permission denied")
    # Globs in the policy keep their meaning; durations match in any spelling.
    for body in ({"token_ttl": "60m"}, {"token_ttl": 3600}, {"token_policies": ["DEV-a", "dev-b"]}):
        r = dev_server.request("POST", "/v1/auth/approle/role/r2", token=tok, json=body)
        assert r.status_code == 204, (body, r.text)
    for body in ({"token_ttl": "2h"}, {"token_policies": "dev-a,admin"}, {"secret_id_ttl": "1h"}):
        r = dev_server.request("POST", "/v1/auth/approle/role/r2", token=tok, json=body)
        assert_error(r, 403, "permission denied")


def test_canonical_mount_options_take_numbers_and_booleans(dev_server):
    t = dev_server.root_token
    for path, version in (("kv-one", 1), ("kv-two", 2), ("kv-real", 2.0)):
        r = dev_server.request("POST", f"/v1/sys/mounts/{path}", token=t,
                               json={"type": "kv", "options": {"version": version}})
        assert r.status_code == 204, r.text
        opts = dev_server.get(f"/v1/sys/mounts/{path}", token=t).json()["data"]["options"]
        assert opts["version"] == str(int(version)), opts
    # hvac's own spelling: a number through the client.
    dev_server.client(t).sys.enable_secrets_engine("kv", path="kv-hvac", options={"version": 2})
    r = dev_server.request("PUT", "/v1/kv-hvac/data/x", token=t, json={"data": {"a": "b"}})
    assert r.status_code == 200, r.text
    # Tune upgrades kv-one to v2 with a number, and a boolean is its text.
    r = dev_server.request("POST", "/v1/sys/mounts/kv-one/tune", token=t, json={"options": {"version": 2}})
    assert r.status_code == 204, r.text
    assert dev_server.get("/v1/sys/mounts/kv-one", token=t).json()["data"]["options"]["version"] == "2"
    r = dev_server.request("POST", "/v1/sys/mounts/flagged", token=t,
                           json={"type": "kv", "options": {"version": "1", "flag": True}})
    assert r.status_code == 204, r.text
    assert dev_server.get("/v1/sys/mounts/flagged", token=t).json()["data"]["options"]["flag"] == "true"
    # Nested values are still refused, naming the field.
    for bad in ({"version": {"v": 2}}, {"version": [2]}, "version=2", {"version": "2\u0000"}):
        r = dev_server.request("POST", "/v1/sys/mounts/bad", token=t, json={"type": "kv", "options": bad})
        assert_error(r, 400, "options")
        r = dev_server.request("POST", "/v1/sys/mounts/kv-two/tune", token=t, json={"options": bad})
        assert_error(r, 400, "options")
    assert dev_server.get("/v1/sys/mounts/bad", token=t).status_code == 400


CANON_NAME_DENY = """
path "*" { capabilities = ["create", "update", "read", "delete", "list", "sudo"] }
path "sys/policy/admin" { capabilities = ["deny"] }
path "sys/policies/acl/admin" { capabilities = ["deny"] }
path "auth/userpass/users/admin" { capabilities = ["deny"] }
path "auth/userpass/users/admin/password" { capabilities = ["deny"] }
path "auth/userpass/users/admin/policies" { capabilities = ["deny"] }
path "auth/approle/role/admin" { capabilities = ["deny"] }
path "auth/approle/role/admin/secret-id" { capabilities = ["deny"] }
path "auth/approle/role/admin/policies" { capabilities = ["deny"] }
path "auth/token/roles/admin" { capabilities = ["deny"] }
path "auth/token/create/admin" { capabilities = ["deny"] }
path "identity/entity/name/admin" { capabilities = ["deny"] }
path "identity/group/name/admin" { capabilities = ["deny"] }
path "sys/config/auditing/request-headers/x-admin" { capabilities = ["deny"] }
path "sys/mounts/admin" { capabilities = ["deny"] }
path "sys/auth/admin/" { capabilities = ["deny"] }
path "sys/audit/admin" { capabilities = ["deny"] }
"""

# (method, path with {} for the name, body): each write that acts on a name
# the deny rules above guard.
CANON_NAME_WRITES = [
    ("PUT", "/v1/sys/policy/{}", {"policy": 'path "x" { capabilities = ["read"] }'}),
    ("PUT", "/v1/sys/policies/acl/{}", {"policy": 'path "x" { capabilities = ["read"] }'}),
    ("POST", "/v1/auth/userpass/users/{}", {"password": "pw-1"}),
    ("POST", "/v1/auth/userpass/users/{}/password", {"password": "pw-2"}),
    ("POST", "/v1/auth/userpass/users/{}/policies", {"token_policies": ["admin"]}),
    ("POST", "/v1/auth/approle/role/{}", {"token_ttl": "1h"}),
    ("POST", "/v1/auth/approle/role/{}/secret-id", {}),
    ("POST", "/v1/auth/approle/role/{}/policies", {"token_policies": ["admin"]}),
    ("POST", "/v1/auth/token/roles/{}", {"orphan": True}),
    ("POST", "/v1/auth/token/create/{}", {}),
    ("POST", "/v1/identity/entity/name/{}", {"metadata": {"k": "v"}}),
    ("POST", "/v1/identity/group/name/{}", {"metadata": {"k": "v"}}),
]


def canon_names_setup(srv):
    """userpass and approle enabled, the objects named "admin" created by
    root, and a token that may do anything but touch them."""
    root = srv.root_token
    for mount in ("userpass", "approle"):
        assert srv.request("POST", f"/v1/sys/auth/{mount}", token=root, json={"type": mount}).status_code == 204
    for method, path, body in CANON_NAME_WRITES:
        if "token/create" in path or "secret-id" in path:
            continue
        r = srv.request(method, path.format("admin"), token=root, json=body)
        assert r.status_code in (200, 204), (path, r.text)
    r = srv.request("PUT", "/v1/sys/policies/acl/canon-names", token=root, json={"policy": CANON_NAME_DENY})
    assert r.status_code == 204, r.text
    r = srv.request("POST", "/v1/auth/token/create", token=root, json={"policies": ["canon-names"]})
    assert r.status_code == 200, r.text
    return r.json()["auth"]["client_token"]


def test_canonical_names_in_paths_cannot_dodge_a_deny(dev_server):
    tok = canon_names_setup(dev_server)
    root = dev_server.root_token
    before = dev_server.get("/v1/auth/userpass/users/admin", token=root).json()["data"]
    for method, path, body in CANON_NAME_WRITES:
        # The exact name is denied, and so is every spelling the handler
        # would turn into it: another case is the same name (403), blanks
        # at either end or a trailing '/' are refused (400).
        for name, status in (("admin", 403), ("ADMIN", 403), ("Admin", 403), ("admin%20", 400),
                             ("%20admin", 400), ("admin%09", 400), ("admin/", 400)):
            if path.endswith("{}") or name != "admin/":
                r = dev_server.request(method, path.format(name), token=tok, json=body)
                assert_error(r, status, "permission denied" if status == 403 else "invalid path")
    # Nothing named admin changed: the password root set last still logs
    # in, the policy text stands.
    assert dev_server.get("/v1/auth/userpass/users/admin", token=root).json()["data"] == before
    r = dev_server.request("POST", "/v1/auth/userpass/login/admin", json={"password": "pw-2"})
    assert r.status_code == 200, r.text
    assert 'path "x"' in dev_server.get("/v1/sys/policy/admin", token=root).json()["data"]["rules"]
    # Other names are still written, in any case, and read back lower-cased.
    r = dev_server.request("PUT", "/v1/sys/policy/Ops-Team", token=tok,
                           json={"policy": 'path "y" { capabilities = ["read"] }'})
    assert r.status_code == 204, r.text
    assert dev_server.get("/v1/sys/policy/ops-team", token=tok).status_code == 200
    r = dev_server.request("POST", "/v1/auth/userpass/users/Carol", token=tok, json={"password": "pw-3"})
    assert r.status_code == 204, r.text
    r = dev_server.request("POST", "/v1/auth/userpass/login/CAROL", json={"password": "pw-3"})
    assert r.status_code == 200, r.text
    r = dev_server.request("LIST", "/v1/auth/userpass/users/", token=tok)
    assert sorted(r.json()["data"]["keys"]) == ["admin", "carol"]
    # A header name is case-insensitive as well.
    r = dev_server.request("PUT", "/v1/sys/config/auditing/request-headers/X-Admin", token=tok, json={"hmac": False})
    assert_error(r, 403, "permission denied")


def test_canonical_deny_written_in_another_case_still_holds(dev_server):
    """A name is lower-cased before the ACL; a deny rule written with the
    spelling the client then uses (Vault matches rules on the path as
    sent) must still refuse it, never be lost to the lower-casing."""
    srv, root = dev_server, dev_server.root_token
    rules = (
        'path "sys/policy/*" { capabilities = ["create", "update", "read"] }\n'
        'path "sys/policy/Finance" { capabilities = ["deny"] }\n'
    )
    r = srv.request("PUT", "/v1/sys/policies/acl/canon-case", token=root, json={"policy": rules})
    assert r.status_code == 204, r.text
    tok = srv.request("POST", "/v1/auth/token/create", token=root,
                      json={"policies": ["canon-case"]}).json()["auth"]["client_token"]
    body = {"policy": 'path "z" { capabilities = ["read"] }'}
    r = srv.request("PUT", "/v1/sys/policy/Finance", token=tok, json=body)
    assert_error(r, 403, "permission denied")
    assert srv.get("/v1/sys/policy/finance", token=root).status_code == 404
    # another name, any case, is still written (and stored lower-cased)
    r = srv.request("PUT", "/v1/sys/policy/Marketing", token=tok, json=body)
    assert r.status_code == 204, r.text
    assert srv.get("/v1/sys/policy/marketing", token=root).status_code == 200


def test_canonical_mount_paths_deny_both_spellings(dev_server):
    tok = canon_names_setup(dev_server)
    root = dev_server.root_token
    # A mount path is the same with or without its trailing '/' (the Vault
    # CLI sends it): a deny on either spelling holds for both.
    for path in ("/v1/sys/mounts/admin", "/v1/sys/mounts/admin/"):
        assert_error(dev_server.request("POST", path, token=tok, json={"type": "kv"}), 403, "permission denied")
    for path in ("/v1/sys/auth/admin", "/v1/sys/auth/admin/"):
        assert_error(dev_server.request("POST", path, token=tok, json={"type": "userpass"}), 403)
    for path in ("/v1/sys/audit/admin", "/v1/sys/audit/admin/"):
        r = dev_server.request("PUT", path, token=tok, json={"type": "file", "options": {"file_path": "stdout"}})
        assert_error(r, 403, "permission denied")
    mounts = dev_server.get("/v1/sys/mounts", token=root).json()["data"]
    assert "admin/" not in mounts
    # Other mounts keep working in both spellings; case is significant
    # (a mount path is not a case-insensitive name).
    r = dev_server.request("POST", "/v1/sys/mounts/team/", token=tok, json={"type": "kv"})
    assert r.status_code == 204, r.text
    r = dev_server.request("POST", "/v1/sys/mounts/ADMIN", token=tok, json={"type": "kv"})
    assert r.status_code == 204, r.text
    mounts = dev_server.get("/v1/sys/mounts", token=root).json()["data"]
    assert "team/" in mounts and "ADMIN/" in mounts and "admin/" not in mounts


def test_canonical_legacy_names_carry_the_constraints_of_their_field(dev_server):
    tok = canon_setup(dev_server, CANON_DENY_RULES)
    # token_policies and token_ttl are denied values; their legacy names
    # set the same thing when the token_ name is absent.
    for body in ({"policies": "admin"}, {"policies": ["Admin"]}, {"ttl": "60m"}, {"ttl": 3600}):
        r = dev_server.request("POST", "/v1/auth/approle/role/r1", token=tok, json=body)
        assert_error(r, 403, "permission denied")
    assert dev_server.get("/v1/auth/approle/role/r1", token=dev_server.root_token).status_code == 404
    # With the token_ name present the legacy one is ignored, and checked as itself.
    r = dev_server.request("POST", "/v1/auth/approle/role/r1", token=tok,
                           json={"token_policies": ["dev"], "policies": ["admin"], "ttl": "1h", "token_ttl": "2h"})
    assert r.status_code == 204, r.text
    d = dev_server.get("/v1/auth/approle/role/r1", token=dev_server.root_token).json()["data"]
    assert d["token_policies"] == ["dev"] and d["token_ttl"] == 7200


# (end of section: canonical)


# ---------------------------------------------------------------------------
# 5-6. Secrets in URL paths; durations that overflow.
# ---------------------------------------------------------------------------

# Durations are bounded when they are read (0 .. 100 years, else a 400
# naming the field), and every sum of a time and a duration is checked:
# before, an int64 TTL or period wrapped `creation_time + ttl` to a
# negative expiry, which reads as "never expires".

DURATIONS_HUGE = [
    2**63 - 1,
    "9223372036854775807s",
    "9223372036854775807",
    1e300,
    "999999999999h",
    "2562047h",            # fits int64 nanoseconds, but is 292 years
    100 * 365 * 86400 + 1,  # one second past the bound
    "876001h",
]
DURATIONS_NEGATIVE = [-1, -(2**63), "-5s", "-1", -1.5]


def durations_post(srv, path, body, headers=None):
    return srv.request("POST", "/v1/" + path, token=srv.root_token, json=body, headers=headers)


def durations_refused(srv, path, field, extra=None, bad=DURATIONS_HUGE + DURATIONS_NEGATIVE):
    for v in bad:
        body = dict(extra or {})
        body[field] = v
        r = durations_post(srv, path, body)
        assert_error(r, 400, field)


def durations_enable(srv, kind, path):
    r = durations_post(srv, f"sys/auth/{path}", {"type": kind})
    assert r.status_code in (200, 204), r.text


def test_durations_token_create_bounded(dev_server):
    for field in ("ttl", "explicit_max_ttl", "period", "lease"):
        durations_refused(dev_server, "auth/token/create", field)
    durations_refused(dev_server, "auth/token/create-orphan", "period")
    # The bound itself is accepted; the token expires (capped by the mount).
    r = durations_post(dev_server, "auth/token/create", {"period": "876000h", "policies": ["default"]})
    assert r.status_code == 200, r.text
    tok = r.json()["auth"]["client_token"]
    me = dev_server.get("/v1/auth/token/lookup-self", token=tok).json()["data"]
    assert me["expire_time"] is not None and me["ttl"] > 0, me


def test_durations_periodic_root_token_expires(dev_server):
    # The hole itself: a root token may create a periodic token; with an
    # int64 period its expiry wrapped negative and it never expired.
    r = durations_post(dev_server, "auth/token/create", {"period": 2**63 - 1})
    assert_error(r, 400, "period")
    r = durations_post(dev_server, "auth/token/create", {"explicit_max_ttl": 2**63 - 1, "ttl": "1h"})
    assert_error(r, 400, "explicit_max_ttl")


def test_durations_token_roles_bounded(dev_server):
    for field in ("token_period", "period", "token_ttl", "token_max_ttl", "token_explicit_max_ttl",
                  "explicit_max_ttl"):
        durations_refused(dev_server, "auth/token/roles/edges", field)
    r = durations_post(dev_server, "auth/token/roles/edges", {"token_period": "1h"})
    assert r.status_code in (200, 204), r.text


def test_durations_renew_increment_bounded(dev_server):
    r = durations_post(dev_server, "auth/token/create", {"ttl": "1h"})
    tok = r.json()["auth"]["client_token"]
    durations_refused(dev_server, "auth/token/renew", "increment", extra={"token": tok})
    durations_refused(dev_server, "sys/leases/renew", "increment", extra={"lease_id": "auth/token/create/x"})


def test_durations_userpass_bounded(dev_server):
    durations_enable(dev_server, "userpass", "userpass")
    for field in ("token_ttl", "token_max_ttl", "token_period", "token_explicit_max_ttl", "ttl", "max_ttl"):
        durations_refused(dev_server, "auth/userpass/users/ann", field, extra={"password": "pw-edges-1"})


def test_durations_approle_bounded(dev_server):
    durations_enable(dev_server, "approle", "approle")
    for field in ("secret_id_ttl", "token_ttl", "token_max_ttl", "token_period", "period",
                  "token_explicit_max_ttl"):
        durations_refused(dev_server, "auth/approle/role/web", field)
    r = durations_post(dev_server, "auth/approle/role/web", {"token_ttl": "1h"})
    assert r.status_code in (200, 204), r.text
    durations_refused(dev_server, "auth/approle/role/web/secret-id", "ttl")
    durations_refused(dev_server, "auth/approle/role/web/custom-secret-id", "ttl", extra={"secret_id": "edges-s1"})
    for seg, field in (("secret-id-ttl", "secret_id_ttl"), ("token-ttl", "token_ttl"),
                       ("token-max-ttl", "token_max_ttl"), ("period", "token_period")):
        for v in (2**63 - 1, "2562047h"):
            r = durations_post(dev_server, f"auth/approle/role/web/{seg}", {field: v})
            assert_error(r, 400, field)


def test_durations_mount_tune_bounded(dev_server):
    for field in ("default_lease_ttl", "max_lease_ttl"):
        durations_refused(dev_server, "sys/mounts/secret/tune", field)
        durations_refused(dev_server, "sys/auth/token/tune", field)
        for v in (2**63 - 1, "2562047h", -1):
            r = durations_post(dev_server, "sys/mounts/edges-kv", {"type": "kv", "config": {field: v}})
            assert_error(r, 400, field)
    r = dev_server.get("/v1/sys/mounts/secret/tune", token=dev_server.root_token)
    assert r.json()["max_lease_ttl"] <= 100 * 365 * 86400, r.json()


def test_durations_wrap_ttl_header_bounded(dev_server):
    for v in ("9223372036854775807", "999999999999h", "2562047h", "876001h", "-5s", "-1"):
        r = dev_server.request("GET", "/v1/auth/token/lookup-self", token=dev_server.root_token,
                               headers={"X-Vault-Wrap-TTL": v})
        assert_error(r, 400, "X-Vault-Wrap-TTL")
    r = dev_server.request("GET", "/v1/auth/token/lookup-self", token=dev_server.root_token,
                           headers={"X-Vault-Wrap-TTL": "876000h"})
    assert r.status_code == 200 and r.json()["wrap_info"]["ttl"] == 100 * 365 * 86400, r.text


# Tokens and accessors in URL paths (Vault's deprecated forms such as
# auth/token/lookup/<token>) are "#name" route parameters: HMAC'd inside
# request.path in audit entries, redacted in the server log.

def paths_audit_file(srv, tmp_path, name="edges"):
    log = tmp_path / f"{name}.log"
    r = srv.request("PUT", f"/v1/sys/audit/{name}", token=srv.root_token,
                    json={"type": "file", "options": {"file_path": str(log)}})
    assert r.status_code in (200, 204), r.text
    return log


def paths_audit_hash(srv, device, text):
    r = srv.request("POST", f"/v1/sys/audit-hash/{device}", token=srv.root_token, json={"input": text})
    assert r.status_code == 200, r.text
    return r.json()["hash"]


def paths_new_token(srv):
    r = srv.request("POST", "/v1/auth/token/create", token=srv.root_token, json={"ttl": "1h"})
    assert r.status_code == 200, r.text
    return r.json()["auth"]["client_token"], r.json()["auth"]["accessor"]


def test_paths_token_in_url_hmaced_in_audit(dev_server, tmp_path):
    srv = dev_server
    log = paths_audit_file(srv, tmp_path)
    secrets_seen = []
    calls = []
    for method, route, kind in (("GET", "lookup", "token"), ("POST", "renew", "token"),
                                ("POST", "lookup-accessor", "accessor"), ("POST", "revoke-accessor", "accessor"),
                                ("POST", "revoke", "token"), ("POST", "revoke-orphan", "token")):
        tok, acc = paths_new_token(srv)
        secret = tok if kind == "token" else acc
        secrets_seen += [tok, acc]
        r = srv.request(method, f"/v1/auth/token/{route}/{secret}", token=srv.root_token)
        assert r.status_code in (200, 204), (route, r.status_code, r.text)
        if route == "lookup":
            assert r.json()["data"]["id"] == tok
        calls.append((route, secret))
    # A revoked token is gone: the URL form acted on the token it named.
    assert srv.get(f"/v1/auth/token/lookup-self", token=calls[4][1]).status_code == 403
    text = log.read_text()
    for s in secrets_seen:
        assert s not in text, "a token or accessor from a URL path reached the audit log in clear"
    entries = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    paths = {e["request"]["path"] for e in entries if "request" in e}
    for route, secret in calls:
        want = f"auth/token/{route}/{paths_audit_hash(srv, 'edges', secret)}"
        assert want in paths, (want, sorted(paths))


def test_paths_token_in_url_redacted_in_server_log(dev_server):
    srv = dev_server
    tok, acc = paths_new_token(srv)
    # A socket device whose peer goes away refuses entries: requests fail
    # closed with a 500, which the server logs with the request's path.
    peer = socket.socket()
    peer.bind(("127.0.0.1", 0))
    peer.listen(8)
    addr = "127.0.0.1:%d" % peer.getsockname()[1]
    r = srv.request("PUT", "/v1/sys/audit/gone", token=srv.root_token,
                    json={"type": "socket", "options": {"address": addr, "socket_type": "tcp"}})
    assert r.status_code in (200, 204), r.text
    peer.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = srv.request("GET", f"/v1/auth/token/lookup/{tok}", token=srv.root_token)
        if r.status_code == 500:
            break
        time.sleep(0.05)
    assert r.status_code == 500, r.text
    r = srv.request("POST", f"/v1/auth/token/revoke-accessor/{acc}", token=srv.root_token)
    assert r.status_code == 500, r.text
    deadline = time.monotonic() + 5
    while "revoke-accessor" not in srv.proc.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    err = srv.proc.stderr_text()
    assert "auth/token/lookup/[redacted]" in err and "auth/token/revoke-accessor/[redacted]" in err, err[-2000:]
    assert tok not in err and acc not in err


# The pid file is never reached through a symlink nor anything but a
# regular file; the LMDB data directory must be the server's own and
# closed to group and others.

def files_server_config(tmp_path, data, extra=""):
    from trove_harness import free_port, hcl_config
    cfg = tmp_path / "files.hcl"
    cfg.write_text(hcl_config(data, free_port(), top_extra=extra))
    return cfg


def test_files_pid_file_symlink_not_followed(config_server, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "trove.pid"
    link.symlink_to(victim)
    srv = config_server(top_extra=f'pid_file = "{link}"')
    deadline = time.monotonic() + 5
    while "pid_file" not in srv.proc.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim.read_text() == "precious\n", "the pid file followed a symlink and overwrote its target"
    assert "cannot write pid_file" in srv.proc.stderr_text()
    assert "symbolic link" in srv.proc.stderr_text()


def test_files_pid_file_fifo_refused_without_blocking(config_server, tmp_path):
    fifo = tmp_path / "trove.pid"
    os.mkfifo(fifo)
    # Before, the open blocked on the FIFO and the server never answered.
    srv = config_server(top_extra=f'pid_file = "{fifo}"')
    assert srv.get("/v1/sys/health").status_code in (200, 429, 472, 473, 501, 503)
    deadline = time.monotonic() + 5
    while "pid_file" not in srv.proc.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "not a regular file" in srv.proc.stderr_text()


def test_files_pid_file_regular_written(config_server, tmp_path):
    pid = tmp_path / "trove.pid"
    pid.write_text("999999999 stale and longer than a pid\n")
    srv = config_server(top_extra=f'pid_file = "{pid}"')
    assert pid.read_text() == f"{srv.proc.proc.pid}\n"


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_files_data_dir_writable_by_others_refused(tmp_path, mode):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(mode)
    p = run_cli(["server", "-config", files_server_config(tmp_path, data)], timeout=20)
    assert p.returncode == 1, f"exit {p.returncode}\nstderr:{p.stderr}"
    assert str(data) in p.stderr and "writable by" in p.stderr and "%04o" % mode in p.stderr, p.stderr


def test_files_data_dir_of_another_owner_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to give the directory away")
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    os.chown(data, 65534, 65534)
    p = run_cli(["server", "-config", files_server_config(tmp_path, data)], timeout=20)
    assert p.returncode == 1, f"exit {p.returncode}\nstderr:{p.stderr}"
    assert str(data) in p.stderr and "owned by uid 65534" in p.stderr, p.stderr


def test_files_data_dir_created_private(config_server, tmp_path):
    data = tmp_path / "fresh" / "data"
    data.parent.mkdir()
    p = subprocess.Popen([os.environ.get("TROVE_BIN", "build/trove"), "server", "-config",
                          str(files_server_config(tmp_path, data))],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not (data / "data.mdb").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert data.is_dir() and (data.stat().st_mode & 0o777) == 0o700, oct(data.stat().st_mode)
    finally:
        p.terminate()
        p.wait(timeout=10)


# (end of section: paths and durations)


# ---------------------------------------------------------------------------
# 7-8. Bodies: parsed after routing, bounded, and 413 readable.
# ---------------------------------------------------------------------------

def bodies_stalled_audit(srv, root, write_timeout):
    """Enables a socket audit device whose peer never reads: once its
    buffers are full, every audited request waits write_timeout in the
    device. Returns the listening socket (keep it open)."""
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(1)
    addr = "127.0.0.1:%d" % stalled.getsockname()[1]
    r = srv.request("PUT", "/v1/sys/audit/stall", token=root,
                    json={"type": "socket", "options": {"address": addr, "write_timeout": write_timeout}})
    assert r.status_code == 204, r.text
    return stalled


@pytest.mark.time_limit(120)
def test_bodies_timeout_answers_504_while_workers_still_run(config_server):
    """Item 10: the loop answers 504 from what it copied at hand-off while
    the workers still own the requests; run under ASan this is the stress
    for the timer path (the job is freed only when its worker is done)."""
    srv = config_server(listener_extra="max_request_duration = \"1s\"")
    root = srv.init(shares=1, threshold=1)["root_token"]
    srv.unseal()
    stalled = bodies_stalled_audit(srv, root, "3s")
    # 2,000 hashed leaves make entries of about 160 KB: the buffers fill
    # after a few requests and the next ones wait in the device.
    body = {f"k{i}": "v" for i in range(2000)}
    seen = []
    for i in range(50):
        r = srv.request("POST", f"/v1/cubbyhole/fill{i}", token=root, json=body)
        seen.append(r.status_code)
        if r.status_code == 504:
            break
    assert seen[-1] == 504, seen
    results = []

    def one(i):
        t0 = time.monotonic()
        r = srv.request("PUT" if i % 2 else "POST", f"/v1/cubbyhole/slow{i}", token=root, json=body)
        results.append((r.status_code, r.json(), r.headers.get("Content-Type"), time.monotonic() - t0))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    for status, js, ctype, elapsed in results:
        assert status == 504, results
        assert js == {"errors": ["request exceeded max_request_duration"]}
        assert ctype == "application/json"
        assert elapsed < 2.5  # the timer answered, not the worker
    time.sleep(4)  # the workers finish after their clients were answered
    assert srv.get("/v1/sys/health").status_code == 200
    assert srv.proc.running
    stalled.close()
    # Under a ThreadSanitizer build (TROVE_BIN built with
    # -Db_sanitize=thread) the timer path must not race with the workers.
    races = [r for r in srv.proc.stderr_text().split("WARNING: ThreadSanitizer")[1:]
             if "on_duration_exceeded" in r]
    assert not races, races[0][:3000]


def bodies_raw_put(srv, path, body, token=None, ctype="application/json"):
    """PUT body (bytes) with Content-Length; returns (status, parsed JSON)."""
    host, port = srv.host_port
    head = f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {ctype}\r\n"
    if token:
        head += f"X-Vault-Token: {token}\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    raw, _ = raw_http(host, port, head.encode() + body, timeout=60)
    _, _, text = raw.partition(b"\r\n\r\n")
    return status_of(raw), (json.loads(text) if text.strip() else None)


def bodies_peak_rss_kib(srv):
    for line in Path(f"/proc/{srv.proc.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def bodies_sanitized(srv):
    """Whether the server runs under a sanitizer (whose allocator keeps
    freed memory in quarantine, so peak RSS says little)."""
    maps = Path(f"/proc/{srv.proc.proc.pid}/maps").read_text()
    return "libasan" in maps or "libtsan" in maps


def bodies_limited_token(srv, root, rules):
    r = srv.request("PUT", "/v1/sys/policy/bodies", token=root, json={"policy": rules})
    assert r.status_code in (200, 204), r.text
    r = srv.request("POST", "/v1/auth/token/create", token=root, json={"policies": ["bodies"]})
    assert r.status_code == 200, r.text
    return r.json()["auth"]["client_token"]



def test_bodies_big_body_runs_once_on_the_pool(dev_server, tmp_path):
    """Item 7: a request with a body over 64 KiB goes to the worker pool,
    where its body is parsed only once the token is allowed. Allowed, it
    runs exactly once: one audit request entry and one response entry, one
    use of its token; refused, it is recorded as a refusal."""
    srv, root = dev_server, dev_server.root_token
    log = tmp_path / "audit.log"
    r = srv.request("PUT", "/v1/sys/audit/file", token=root, json={"type": "file", "options": {"file_path": str(log)}})
    assert r.status_code == 204, r.text
    r = srv.request("PUT", "/v1/sys/policy/bodies-big", token=root,
                    json={"policy": 'path "secret/data/big" { capabilities = ["create", "update", "read"] }'})
    assert r.status_code in (200, 204), r.text
    r = srv.request("POST", "/v1/auth/token/create", token=root, json={"policies": ["bodies-big"], "num_uses": 2})
    assert r.status_code == 200, r.text
    tok = r.json()["auth"]["client_token"]
    value = "v" * (200 * 1024)
    body = json.dumps({"data": {"blob": value}}).encode()

    status, js = bodies_raw_put(srv, "/v1/secret/data/big", body, token=tok)
    assert status == 200, js
    # the second and last use of the token reads it back whole
    r = srv.request("GET", "/v1/secret/data/big", token=tok)
    assert r.status_code == 200 and r.json()["data"]["data"]["blob"] == value
    r = srv.request("GET", "/v1/secret/data/big", token=tok)
    assert r.status_code == 403, r.text

    # refused on the loop: without a token, and with a token of no rights
    status, js = bodies_raw_put(srv, "/v1/secret/data/big", body)
    assert status == 403, js
    status, js = bodies_raw_put(srv, "/v1/secret/data/big", body, token="s.not-a-token")
    assert status == 403, js

    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    writes = [e for e in entries if e["request"]["path"] == "secret/data/big" and e["request"]["operation"] in ("create", "update")]
    kinds = [(e["type"], "error" in e and bool(e.get("error"))) for e in writes]
    # the allowed write: one request and one response entry; each refusal too
    assert [k for k, _ in kinds].count("request") == 3, kinds
    assert [k for k, _ in kinds].count("response") == 3, kinds
    assert sum(1 for k, err in kinds if k == "response" and not err) == 1, kinds


@pytest.mark.time_limit(180)
def test_bodies_unauthenticated_body_is_never_parsed(dev_server):
    """Item 7: a body without a token, or with one the ACL refuses, is not
    turned into JSON: a malformed body gets the 403, and 16 MiB arrays of
    zeros (millions of JSON nodes) do not grow the server's memory."""
    srv, root = dev_server, dev_server.root_token
    # Malformed: the 403 comes first (the body was never parsed).
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/x", b'{"a": ')
    assert status == 403, js
    assert js == {"errors": ["permission denied"]}
    reader = bodies_limited_token(srv, root, 'path "secret/*" { capabilities = ["read"] }')
    status, js = bodies_raw_put(srv, "/v1/secret/data/x", b'{"a": ', token=reader)
    assert status == 403, js
    # Allowed: the same body is a 400 naming the parse error.
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/x", b'{"a": ', token=root)
    assert status == 400 and "failed to parse JSON input" in js["errors"][0], js
    # The flood: 16 MiB arrays, without a token and with the reader's.
    before = bodies_peak_rss_kib(srv)
    flood = b"[" + b"0," * (8 << 20) + b"0]"
    for token in (None, reader, None, reader):
        status, js = bodies_raw_put(srv, "/v1/secret/data/x", flood, token=token)
        assert status == 403, js
    grown_mib = (bodies_peak_rss_kib(srv) - before) / 1024
    # The bytes themselves are held (h2o's buffer, the worker's copy), never
    # the eight million nodes (several hundred MiB) parsing would make.
    if not bodies_sanitized(srv):
        assert grown_mib < 200, f"peak RSS grew by {grown_mib:.0f} MiB"
    assert srv.get("/v1/sys/health").status_code == 200


def test_bodies_depth_and_member_limits(dev_server):
    """Item 7: an allowed request's body is bounded: 64 levels, 10,000
    members per object or array, 100,000 values in all; past them a 400
    names the limit, and at them the body is accepted."""
    srv, root = dev_server, dev_server.root_token
    ok = b'{"a": ' + b"[" * 63 + b"]" * 63 + b"}"
    assert bodies_raw_put(srv, "/v1/cubbyhole/deep", ok, token=root)[0] == 204
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/deep", b'{"a": ' + b"[" * 64 + b"]" * 64 + b"}", token=root)
    assert status == 400, js
    assert "nesting deeper than 64 levels" in js["errors"][0], js
    # Refused before jansson recurses: a 1 MiB nest answers at once.
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/deep", b'{"a": ' + b"[" * (1 << 20), token=root)
    assert status == 400 and "nesting deeper than 64 levels" in js["errors"][0], js
    wide = {f"k{i}": i for i in range(10000)}
    assert bodies_raw_put(srv, "/v1/cubbyhole/wide", json.dumps(wide).encode(), token=root)[0] == 204
    wide["one-more"] = 0
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/wide", json.dumps(wide).encode(), token=root)
    assert status == 400 and "more than 10000 members" in js["errors"][0], js
    many = {f"k{i}": [0] * 20 for i in range(5000)}
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/many", json.dumps(many).encode(), token=root)
    assert status == 400 and "more than 100000 values" in js["errors"][0], js
    # Forms are bounded alike.
    status, js = bodies_raw_put(srv, "/v1/cubbyhole/form", b"&".join([b"a=1"] * 100001), token=root,
                                ctype="application/x-www-form-urlencoded")
    assert status == 400 and "too many parameters" in js["errors"][0], js


def test_bodies_parameter_constraints_still_see_the_body(dev_server):
    """Item 7: parsing after the capability check keeps parameter
    constraints working: the body is parsed for the token whose
    capabilities allow the write, then its parameters decide."""
    srv, root = dev_server, dev_server.root_token
    tok = bodies_limited_token(srv, root, 'path "secret/data/*" {\n  capabilities = ["create", "update"]\n'
                                          '  denied_parameters = { "options" = [] }\n}\n')
    assert bodies_raw_put(srv, "/v1/secret/data/p", b'{"data": {"a": "1"}}', token=tok)[0] == 200
    status, js = bodies_raw_put(srv, "/v1/secret/data/p", b'{"data": {"a": "1"}, "options": {}}', token=tok)
    assert status == 403, js
    status, js = bodies_raw_put(srv, "/v1/secret/data/p", b"options=1", token=tok,
                                ctype="application/x-www-form-urlencoded")
    assert status == 403, js


@pytest.mark.time_limit(240)
def test_bodies_big_bodies_do_not_stall_the_loop(dev_server):
    """Item 7: 32 MiB bodies are parsed on the worker pool: while four
    clients send them, sys/health keeps answering promptly."""
    srv, root = dev_server, dev_server.root_token
    host, port = srv.host_port
    body = b'{"v": "' + b"a" * ((32 << 20) - 64) + b'"}'
    stop = threading.Event()
    statuses = []

    def sender():
        while not stop.is_set():
            statuses.append(bodies_raw_put(srv, "/v1/cubbyhole/big", body, token=root)[0])

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    lat = []
    t_end = time.monotonic() + 8
    with socket.create_connection((host, port), timeout=10) as s:
        req = f"GET /v1/sys/health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            s.sendall(req)
            got = b""
            while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"}"):
                got += s.recv(65536)
            lat.append(time.monotonic() - t0)
            time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join()
    assert statuses and set(statuses) == {204}, statuses
    lat.sort()
    p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
    print(f"sys/health over {len(lat)} requests: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    assert p50 < 0.1 and p99 < 2, f"sys/health p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms over {len(lat)}"


def bodies_send_whole_then_read(host, port, head, pieces, timeout=60):
    """Like requests or hvac: send the head and every piece of the body,
    then read the answer until the server closes. Returns (raw answer,
    the error that cut sending or reading short, or None)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            s.sendall(head)
            for p in pieces:
                s.sendall(p)
        except OSError as e:
            return b"", e
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out, None
                out += chunk
        except OSError as e:
            return out, e


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("chunked", [False, True])
def test_bodies_oversized_body_gets_a_readable_413(config_server, chunked):
    """Item 8: a client that sends its whole oversized body before reading
    gets the 413, in the JSON error envelope, not a connection reset."""
    srv = config_server(listener_extra="max_request_size = 1024")
    host, port = srv.host_port
    total = 16 << 20
    piece = b"a" * 65536
    head = f"PUT /v1/sys/init HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    if chunked:
        head += "Transfer-Encoding: chunked\r\n\r\n"
        pieces = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (total // len(piece)) + [b"0\r\n\r\n"]
    else:
        head += f"Content-Length: {total}\r\n\r\n"
        pieces = [piece] * (total // len(piece))
    raw, err = bodies_send_whole_then_read(host, port, head.encode(), pieces)
    assert err is None, f"{err!r} after {len(raw)} bytes of answer"
    assert status_of(raw) == 413, raw[:300]
    headers, _, body = raw.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in headers.lower(), headers
    assert json.loads(body) == {"errors": ["request body is larger than max_request_size (1024 bytes)"]}
    assert srv.get("/v1/sys/init").json() == {"initialized": False}


@pytest.mark.time_limit(120)
def test_bodies_oversized_body_gets_a_readable_413_over_tls(config_server, tls_material):
    """Item 8 over TLS: the drain runs under the TLS session (its records
    are discarded) and the 413 record arrives before the close."""
    import ssl

    srv = config_server(tls=tls_material, listener_extra="max_request_size = 1024")
    host, port = srv.host_port
    ctx = ssl.create_default_context(cafile=str(tls_material.ca_cert))
    ctx.load_cert_chain(*tls_material.client_pair)
    total, piece = 8 << 20, b"a" * 65536
    head = (f"PUT /v1/sys/init HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {total}\r\n\r\n").encode()
    with socket.create_connection((host, port), timeout=60) as raw_sock:
        with ctx.wrap_socket(raw_sock, server_hostname="127.0.0.1") as s:
            s.sendall(head)
            for _ in range(total // len(piece)):
                s.sendall(piece)
            out = b""
            try:
                while chunk := s.recv(65536):
                    out += chunk
            except ssl.SSLError:
                pass  # the server's close after close_notify
    assert status_of(out) == 413, out[:300]
    assert out.endswith(b'{"errors":["request body is larger than max_request_size (1024 bytes)"]}\n'), out[-300:]


# (end of section: bodies)


# ---------------------------------------------------------------------------
# 9-10. Login floods, lockouts and the smaller holes.
# ---------------------------------------------------------------------------

def logins_enable_userpass(srv, path="userpass"):
    r = srv.request("POST", f"/v1/sys/auth/{path}", token=srv.root_token, json={"type": "userpass"})
    assert r.status_code == 204, r.text


def logins_user(srv, name, password, mount="userpass", **extra):
    r = srv.request("POST", f"/v1/auth/{mount}/users/{name}", token=srv.root_token,
                    json={"password": password, **extra})
    assert r.status_code == 204, r.text


def logins_login(srv, name, password, mount="userpass", session=None):
    import requests

    return (session or requests).post(f"{srv.url}/v1/auth/{mount}/login/{name}",
                                      json={"password": password}, timeout=30)


def logins_flood(srv, seconds, nthreads, outcomes, stop, name_of=None):
    """nthreads clients posting logins of fresh random names until stop is
    set or `seconds` pass; every answer's status (and the Retry-After
    header and body of 429s) lands in outcomes."""
    import requests

    lock = threading.Lock()

    def one():
        s = requests.Session()
        end = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < end:
            name = name_of() if name_of else "flood-" + secrets.token_hex(6)
            try:
                r = logins_login(srv, name, "not-the-password", session=s)
            except Exception as e:  # a refused connection is an outcome too
                with lock:
                    outcomes.append(("exc", repr(e), None))
                continue
            with lock:
                outcomes.append((r.status_code, r.headers.get("Retry-After"), r.text))
            if r.status_code == 429:
                time.sleep(0.01)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(nthreads)]
    for t in threads:
        t.start()
    return threads


@pytest.mark.time_limit(120)
def test_logins_flood_gets_429_and_never_starves_writes(dev_server):
    srv = dev_server
    logins_enable_userpass(srv)
    outcomes, stop = [], threading.Event()
    threads = logins_flood(srv, 8, 96, outcomes, stop)
    time.sleep(1.0)  # let the flood fill every queue
    writes = []
    import requests

    s = requests.Session()
    t_end = time.monotonic() + 5
    i = 0
    while time.monotonic() < t_end:
        t0 = time.perf_counter()
        r = s.post(f"{srv.url}/v1/secret/data/under-flood-{i % 5}",
                   headers={"X-Vault-Token": srv.root_token}, json={"data": {"n": i}}, timeout=30)
        writes.append((r.status_code, time.perf_counter() - t0, r.text))
        i += 1
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(30)
    statuses = [w[0] for w in writes]
    lat = sorted(w[1] for w in writes)
    print(f"writes under the flood: {len(writes)}, p50 {lat[len(lat) // 2] * 1000:.1f} ms, "
          f"max {lat[-1] * 1000:.1f} ms; flood answers: "
          f"{ {k: sum(1 for o in outcomes if o[0] == k) for k in {o[0] for o in outcomes}} }")
    assert statuses and all(st == 200 for st in statuses), [w for w in writes if w[0] != 200][:3]
    codes = [o[0] for o in outcomes]
    assert 503 not in codes and "exc" not in codes, [o for o in outcomes if o[0] in (503, "exc")][:3]
    limited = [o for o in outcomes if o[0] == 429]
    assert limited, "the flood was never told to slow down"
    for _, retry_after, body in limited[:50]:
        assert retry_after is not None and retry_after.isdigit() and int(retry_after) >= 1, retry_after
        errors = json.loads(body)["errors"]
        assert errors and isinstance(errors[0], str)
    # The ones that got through were verified and refused as usual.
    assert all(o[0] in (400, 429) for o in outcomes), {o[0] for o in outcomes}


@pytest.mark.time_limit(120)
def test_logins_flood_of_other_names_keeps_victims_counted(config_server):
    srv = config_server(top_extra="user_lockout_max_entries = 32\n")
    srv.init(3, 2)
    srv.unseal()
    logins_enable_userpass(srv)
    for name in ("victim", "carol", "dave"):
        logins_user(srv, name, "the-right-one")
    for _ in range(5):
        assert logins_login(srv, "victim", "wrong").status_code == 400
    assert logins_login(srv, "victim", "the-right-one").status_code == 403
    for _ in range(2):
        assert logins_login(srv, "carol", "wrong").status_code == 400
    # A flood of other names, more than the table holds.
    outcomes, stop = [], threading.Event()
    counter = iter(range(10**6))
    threads = logins_flood(srv, 60, 4, outcomes, stop,
                           name_of=lambda: f"other-{next(counter)}-{secrets.token_hex(3)}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(1 for o in outcomes if o[0] == 429) < 20:
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(30)
    refused = [o for o in outcomes if o[0] == 429]
    assert refused, {o[0] for o in outcomes}
    assert all(o[0] in (400, 429) for o in outcomes), {o[0] for o in outcomes}
    for _, retry_after, body in refused[:20]:
        assert retry_after == "1", retry_after
        assert json.loads(body) == {"errors": ["too many failed logins; try again later"]}
    # The locked user stays locked, the right password notwithstanding ...
    r = logins_login(srv, "victim", "the-right-one")
    assert r.status_code == 403 and r.json() == {"errors": ["permission denied"]}, r.text
    r = srv.get("/v1/sys/locked-users", token=srv.root_token)
    assert r.status_code == 200 and "victim" in r.text, r.text
    # ... and carol kept her two failures: three more lock her.
    for _ in range(3):
        assert logins_login(srv, "carol", "wrong").status_code == 400
    assert logins_login(srv, "carol", "the-right-one").status_code == 403
    # A name the full table does not track waits, known or not, with the
    # same answer.
    a, b = logins_login(srv, "dave", "the-right-one"), logins_login(srv, "nobody-at-all", "x")
    assert a.status_code == b.status_code == 429 and a.json() == b.json(), (a.text, b.text)


def logins_session_from(addr):
    import requests
    from requests.adapters import HTTPAdapter

    class Source(HTTPAdapter):
        def init_poolmanager(self, *args, **kw):
            kw["source_address"] = (addr, 0)
            super().init_poolmanager(*args, **kw)

    s = requests.Session()
    s.mount("http://", Source())
    return s


def test_logins_userpass_cidr_refusal_does_not_tell_the_password(dev_server):
    srv = dev_server
    logins_enable_userpass(srv)
    logins_user(srv, "fenced", "the-right-one", token_bound_cidrs=["127.0.0.1/32"])
    away = logins_session_from("127.0.0.2")
    right = logins_login(srv, "fenced", "the-right-one", session=away)
    wrong = logins_login(srv, "fenced", "wrong", session=away)
    assert right.status_code == wrong.status_code == 403, (right.text, wrong.text)
    assert right.json() == wrong.json() == {"errors": ["permission denied"]}
    # The same time, too: neither pays for a password check. Compared
    # with the cost of one (another user's wrong password), not with a
    # fixed figure, so a loaded machine does not make it flaky.
    def timed(user, pw, session, status):
        t0 = time.perf_counter()
        assert logins_login(srv, user, pw, session=session).status_code == status
        return time.perf_counter() - t0

    logins_user(srv, "measure", "its-password")
    t_hash = sorted(timed("measure", "wrong", None, 400) for _ in range(3))[1]
    t_right = sorted(timed("fenced", "the-right-one", away, 403) for _ in range(5))[2]
    t_wrong = sorted(timed("fenced", "wrong", away, 403) for _ in range(5))[2]
    assert max(t_right, t_wrong) < t_hash / 2, (t_right, t_wrong, t_hash)
    # Refusals from outside are not failed attempts: at home it works.
    assert logins_login(srv, "fenced", "the-right-one").status_code == 200


def test_logins_approle_role_cidrs_checked_before_the_secret_id(dev_server):
    srv = dev_server
    root = {"X-Vault-Token": srv.root_token}
    import requests

    assert requests.post(f"{srv.url}/v1/sys/auth/approle", headers=root, json={"type": "approle"},
                         timeout=10).status_code == 204
    r = requests.post(f"{srv.url}/v1/auth/approle/role/fenced", headers=root, timeout=10,
                      json={"secret_id_bound_cidrs": ["127.0.0.1/32"], "token_policies": ["default"]})
    assert r.status_code == 204, r.text
    role_id = requests.get(f"{srv.url}/v1/auth/approle/role/fenced/role-id", headers=root,
                           timeout=10).json()["data"]["role_id"]
    secret_id = requests.post(f"{srv.url}/v1/auth/approle/role/fenced/secret-id", headers=root,
                              timeout=10).json()["data"]["secret_id"]
    away = logins_session_from("127.0.0.2")
    url = f"{srv.url}/v1/auth/approle/login"
    right = away.post(url, json={"role_id": role_id, "secret_id": secret_id}, timeout=10)
    wrong = away.post(url, json={"role_id": role_id, "secret_id": "0" * 36}, timeout=10)
    assert right.status_code == wrong.status_code == 400, (right.text, wrong.text)
    assert right.json() == wrong.json(), (right.text, wrong.text)
    assert "CIDR restrictions on the role" in right.json()["errors"][0]
    ok = requests.post(url, json={"role_id": role_id, "secret_id": secret_id}, timeout=10)
    assert ok.status_code == 200, ok.text


def test_logins_batch_tokens_have_no_cubbyhole(dev_server):
    srv = dev_server
    import requests

    r = requests.post(f"{srv.url}/v1/auth/token/create", headers={"X-Vault-Token": srv.root_token},
                      json={"type": "batch", "policies": ["default"], "ttl": "10m"}, timeout=10)
    assert r.status_code == 200, r.text
    batch = {"X-Vault-Token": r.json()["auth"]["client_token"]}
    msg = 'cubbyhole operations are only supported by "service" type tokens'
    for method, path, body in (("POST", "cubbyhole/x", {"a": "b"}), ("GET", "cubbyhole/x", None),
                               ("LIST", "cubbyhole/", None), ("DELETE", "cubbyhole/x", None)):
        r = requests.request(method, f"{srv.url}/v1/{path}", headers=batch, json=body, timeout=10)
        assert r.status_code == 400 and r.json() == {"errors": [msg]}, (method, r.status_code, r.text)
    # Service tokens keep theirs.
    root = {"X-Vault-Token": srv.root_token}
    assert requests.post(f"{srv.url}/v1/cubbyhole/x", headers=root, json={"a": "b"}, timeout=10).status_code == 204
    assert requests.get(f"{srv.url}/v1/cubbyhole/x", headers=root, timeout=10).json()["data"] == {"a": "b"}


@pytest.mark.time_limit(180)
def test_logins_during_disable_leave_no_valid_token(dev_server):
    srv = dev_server
    import requests

    root = {"X-Vault-Token": srv.root_token}
    for round_no in range(3):
        mount = f"doomed{round_no}"
        assert requests.post(f"{srv.url}/v1/sys/auth/{mount}", headers=root, json={"type": "approle"},
                             timeout=10).status_code == 204
        r = requests.post(f"{srv.url}/v1/auth/{mount}/role/r", headers=root, timeout=10,
                          json={"bind_secret_id": False, "secret_id_bound_cidrs": ["127.0.0.0/8"],
                                "token_policies": ["default"], "token_type": "service"})
        assert r.status_code == 204, r.text
        role_id = requests.get(f"{srv.url}/v1/auth/{mount}/role/r/role-id", headers=root,
                               timeout=10).json()["data"]["role_id"]
        tokens, statuses, lock, stop = [], [], threading.Lock(), threading.Event()

        def flood():
            s = requests.Session()
            while not stop.is_set():
                try:
                    r = s.post(f"{srv.url}/v1/auth/{mount}/login", json={"role_id": role_id}, timeout=30)
                except Exception as e:
                    with lock:
                        statuses.append(repr(e))
                    continue
                with lock:
                    statuses.append(r.status_code)
                    if r.status_code == 200:
                        tokens.append(r.json()["auth"]["client_token"])

        threads = [threading.Thread(target=flood, daemon=True) for _ in range(12)]
        for t in threads:
            t.start()
        while len(tokens) < 200:
            time.sleep(0.01)
        r = requests.delete(f"{srv.url}/v1/sys/auth/{mount}", headers=root, timeout=60)
        assert r.status_code == 204, r.text
        time.sleep(0.3)  # answers already on their way arrive
        stop.set()
        for t in threads:
            t.join(30)
        assert all(st in (200, 400, 403, 404) for st in statuses), set(map(str, statuses))
        alive = []
        s = requests.Session()
        for tok in tokens:
            r = s.get(f"{srv.url}/v1/auth/token/lookup-self", headers={"X-Vault-Token": tok}, timeout=10)
            if r.status_code != 403:
                alive.append((r.status_code, r.text[:200]))
        assert not alive, f"round {round_no}: {len(alive)} of {len(tokens)} tokens outlived the disable: {alive[:2]}"


# (end of section: logins and small holes)


# ---------------------------------------------------------------------------
# 11. Storage rollback.
# ---------------------------------------------------------------------------

def rollback_unseal(srv, keys):
    """Submits keys until unsealed or refused; returns the last response."""
    r = None
    for k in keys:
        r = srv.put("/v1/sys/unseal", json={"key": k})
        if r.status_code != 200 or not r.json()["sealed"]:
            return r
    return r


def rollback_guarded_server(config_server, tmp_path):
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir(mode=0o700)
    guard = guard_dir / "trove.epoch"
    srv = config_server(top_extra=f'rollback_guard_file = "{guard}"\n')
    srv.init(3, 2)
    srv.unseal()
    return srv, guard


def test_rollback_older_storage_copy_refused_at_unseal(config_server, tmp_path):
    import shutil

    srv, guard = rollback_guarded_server(config_server, tmp_path)
    root = srv.root_token
    assert guard.is_file() and (guard.stat().st_mode & 0o777) == 0o600
    r = srv.request("POST", "/v1/auth/token/create", token=root, json={"policies": ["default"]})
    assert r.status_code == 200, r.text
    victim = r.json()["auth"]["client_token"]

    # a copy of the storage, taken while the token was valid
    srv.stop()
    backup = tmp_path / "backup"
    shutil.copytree(srv.data_dir, backup)
    srv.start()
    srv.unseal()
    r = srv.request("POST", "/v1/auth/token/revoke-self", token=victim)
    assert r.status_code == 204, r.text
    srv.stop()

    # put the old copy back: the shares still open it, the guard refuses it
    newest = tmp_path / "newest"
    shutil.move(str(srv.data_dir), newest)
    shutil.copytree(backup, srv.data_dir)
    srv.start()
    r = rollback_unseal(srv, srv.unseal_keys)
    assert_error(r, 500, "rolled back", str(guard))
    assert srv.seal_status()["sealed"] is True
    r = srv.request("GET", "/v1/auth/token/lookup-self", token=victim)
    assert r.status_code == 503, r.text

    # the newest storage unseals as before, the revoked token stays revoked
    srv.stop()
    shutil.rmtree(srv.data_dir)
    shutil.move(str(newest), srv.data_dir)
    srv.start()
    srv.unseal()
    r = srv.request("GET", "/v1/auth/token/lookup-self", token=victim)
    assert r.status_code == 403, r.text

    # restored on purpose: the operator removes the guard, and it starts over
    srv.stop()
    shutil.rmtree(srv.data_dir)
    shutil.copytree(backup, srv.data_dir)
    guard.unlink()
    srv.start()
    srv.unseal()
    r = srv.request("GET", "/v1/auth/token/lookup-self", token=victim)
    assert r.status_code == 200, r.text


def test_rollback_guard_from_another_installation_refused(config_server, tmp_path):
    srv, guard = rollback_guarded_server(config_server, tmp_path)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other, other_guard = rollback_guarded_server(config_server, other_dir)
    other.stop()
    srv.stop()
    guard.write_bytes(other_guard.read_bytes())
    srv.start()
    r = rollback_unseal(srv, srv.unseal_keys)
    assert_error(r, 500, "not written for this storage")
    assert srv.seal_status()["sealed"] is True


def test_rollback_guard_symlink_never_followed(config_server, tmp_path):
    srv, guard = rollback_guarded_server(config_server, tmp_path)
    srv.stop()
    target = tmp_path / "elsewhere"
    guard.unlink()
    guard.symlink_to(target)
    srv.start()
    r = rollback_unseal(srv, srv.unseal_keys)
    assert r.status_code >= 400, r.text
    assert srv.seal_status()["sealed"] is True
    assert not target.exists()


# (end of section: rollback)


# ---------------------------------------------------------------------------
# Compatibility defects found by real clients.
# ---------------------------------------------------------------------------

# -- client compatibility --


def compat_enable_auth(srv, path, type_):
    r = srv.request("POST", f"/v1/sys/auth/{path}", token=srv.root_token, json={"type": type_})
    assert r.status_code == 204, r.text
    return srv.get("/v1/sys/auth", token=srv.root_token).json()["data"][path + "/"]["accessor"]


def test_compat_group_alias_without_canonical_id_creates_external_group(dev_server):
    srv = dev_server
    acc = compat_enable_auth(srv, "userpass", "userpass")
    r = srv.request("POST", "/v1/identity/group-alias", token=srv.root_token,
                    json={"name": "devs", "mount_accessor": acc})
    assert r.status_code == 200, r.text
    aid, gid = r.json()["data"]["id"], r.json()["data"]["canonical_id"]
    g = srv.get(f"/v1/identity/group/id/{gid}", token=srv.root_token).json()["data"]
    assert g["type"] == "external" and g["alias"]["id"] == aid and g["alias"]["name"] == "devs"
    assert g["name"].startswith("group_")
    a = srv.get(f"/v1/identity/group-alias/id/{aid}", token=srv.root_token).json()["data"]
    assert a["canonical_id"] == gid and a["mount_accessor"] == acc
    # a refused alias leaves no group behind
    groups = srv.request("LIST", "/v1/identity/group/id", token=srv.root_token).json()["data"]["keys"]
    r = srv.request("POST", "/v1/identity/group-alias", token=srv.root_token,
                    json={"name": "devs", "mount_accessor": acc})
    assert_error(r, 400, "already")
    after = srv.request("LIST", "/v1/identity/group/id", token=srv.root_token).json()["data"]["keys"]
    assert after == groups
    # an update without canonical_id keeps the alias on its group
    r = srv.request("POST", f"/v1/identity/group-alias/id/{aid}", token=srv.root_token,
                    json={"name": "devs2", "mount_accessor": acc})
    assert r.status_code in (200, 204), r.text
    a = srv.get(f"/v1/identity/group-alias/id/{aid}", token=srv.root_token).json()["data"]
    assert a["canonical_id"] == gid and a["name"] == "devs2"


def compat_fake_debian(root, with_sudo):
    """A PATH directory whose dpkg-query says meson is missing until a
    stub apt-get 'installs' it; every apt-get call (and the sudo wrapper,
    when there is one) is logged."""
    d = Path(root)
    d.mkdir()
    d.chmod(0o777)  # the stub apt-get may run as the plain user
    log = d / "calls.log"
    (d / "dpkg-query").write_text(
        "#!/bin/sh\n"
        f'for a; do pkg=$a; done\n'
        f'if [ "$pkg" = meson ] && [ ! -e {d}/installed ]; then exit 1; fi\n'
        "printf 'ii '\n"
    )
    (d / "apt-get").write_text(
        f'#!/bin/sh\necho "apt-get uid=$(id -u) $*" >>{log}\n'
        f'case "$*" in *install*) touch {d}/installed ;; esac\n'
    )
    if with_sudo:
        (d / "sudo").write_text(f'#!/bin/sh\necho "sudo $1" >>{log}\nexec "$@"\n')
    for f in d.iterdir():
        f.chmod(0o755)
    log.touch()
    log.chmod(0o666)
    return d, log


def compat_run_deps(fake, as_nobody):
    env = {"PATH": f"{fake}:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C"}
    cmd = ["bash", str(Path(__file__).resolve().parents[2] / "scripts" / "deps.sh")]
    if as_nobody:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to try both root and a plain user")
def test_compat_deps_sh_works_as_root_without_sudo_and_as_a_user_through_sudo():
    import shutil
    import tempfile

    # not tmp_path: pytest's is private to root, the plain user could not enter it
    base = Path(tempfile.mkdtemp(prefix="trove-deps-"))
    base.chmod(0o755)
    try:
        compat_deps_both_ways(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def compat_deps_both_ways(base):
    # root, no sudo anywhere on PATH: apt-get runs directly
    fake, log = compat_fake_debian(base / "root", with_sudo=False)
    p = compat_run_deps(fake, as_nobody=False)
    assert p.returncode == 0, p.stderr
    calls = log.read_text()
    assert "apt-get uid=0" in calls and "install" in calls and "sudo" not in calls
    # a plain user with sudo: only apt-get goes through sudo
    fake, log = compat_fake_debian(base / "user", with_sudo=True)
    p = compat_run_deps(fake, as_nobody=True)
    assert p.returncode == 0, p.stderr
    calls = log.read_text().splitlines()
    assert calls and all(c.startswith("sudo env") or c.startswith("apt-get") for c in calls), calls
    assert sum(c.startswith("sudo") for c in calls) == sum(c.startswith("apt-get") for c in calls)
    # a plain user without sudo: a clear error naming the way out
    fake, log = compat_fake_debian(base / "bare", with_sudo=False)
    p = compat_run_deps(fake, as_nobody=True)
    assert p.returncode == 1 and "run this script as root" in p.stderr
    assert log.read_text() == ""


# Every command family, as Vault's CLI: 0 success, 1 a local error (here an
# unknown flag), 2 a remote error (a 403 for a bad token, and a refused
# connection). Rows run in order against one dev server: (number of
# command words, arguments, stdin). "{root}" stands for the root token.
COMPAT_CLI_ROWS = [
    (2, ["kv", "put", "secret/compat", "a=1"], None),
    (2, ["kv", "get", "secret/compat"], None),
    (2, ["kv", "patch", "secret/compat", "b=2"], None),
    (2, ["kv", "list", "secret/"], None),
    (3, ["kv", "metadata", "get", "secret/compat"], None),
    (1, ["write", "cubbyhole/compat", "a=1"], None),
    (1, ["read", "cubbyhole/compat"], None),
    (1, ["list", "cubbyhole/"], None),
    (1, ["patch", "secret/data/compat", "-"], '{"data": {"c": "3"}}'),
    (1, ["delete", "cubbyhole/compat"], None),
    (2, ["secrets", "list"], None),
    (2, ["secrets", "enable", "-path=compat-kv", "kv"], None),
    (2, ["secrets", "tune", "-default-lease-ttl=1h", "compat-kv/"], None),
    (2, ["auth", "list"], None),
    (2, ["auth", "enable", "-path=compat-up", "userpass"], None),
    (2, ["policy", "write", "compat", "-"], 'path "secret/*" { capabilities = ["read"] }'),
    (2, ["policy", "read", "compat"], None),
    (2, ["policy", "list"], None),
    (2, ["policy", "delete", "compat"], None),
    (2, ["token", "lookup"], None),
    (2, ["token", "create", "-policy=default"], None),
    (2, ["token", "capabilities", "sys/mounts"], None),
    (2, ["operator", "key-status"], None),
    (1, ["login", "-no-store", "{root}"], None),
    (2, ["secrets", "disable", "compat-kv"], None),
]


def compat_cli(srv, args, token, input=None, addr=None):
    args = [srv.root_token if a == "{root}" and token == srv.root_token else
            ("not-a-token" if a == "{root}" else a) for a in args]
    env = {"VAULT_ADDR": addr or srv.url, "VAULT_TOKEN": token, "HOME": "/nonexistent-home"}
    return run_cli(args, env=env, input=input)


def test_compat_cli_exit_codes_for_every_command_family(dev_server):
    srv = dev_server
    dead = f"http://127.0.0.1:{compat_free_port()}"
    for n, args, stdin in COMPAT_CLI_ROWS:
        bad_flag = args[:n] + ["-compat-no-such-flag"] + args[n:]
        p = compat_cli(srv, bad_flag, srv.root_token, stdin)
        assert p.returncode == 1, (bad_flag, p.returncode, p.stderr)
        p = compat_cli(srv, args, "not-a-token", stdin)
        assert p.returncode == 2, (args, "bad token", p.returncode, p.stderr)
        p = compat_cli(srv, args, srv.root_token, stdin, addr=dead)
        assert p.returncode == 2, (args, "refused", p.returncode, p.stderr)
        p = compat_cli(srv, args, srv.root_token, stdin)
        assert p.returncode == 0, (args, p.returncode, p.stderr)
    # kv and read of what is not there: "No value found" is remote, 2
    assert compat_cli(srv, ["kv", "get", "secret/compat-none"], srv.root_token).returncode == 2
    assert compat_cli(srv, ["read", "cubbyhole/compat"], srv.root_token).returncode == 2
    # status and operator init -status keep 2 for their state; failures are 1
    for args in (["status"], ["operator", "init", "-status"]):
        assert compat_cli(srv, args, srv.root_token).returncode == 0
        assert compat_cli(srv, args, srv.root_token, addr=dead).returncode == 1
        assert compat_cli(srv, args + ["-compat-no-such-flag"], srv.root_token).returncode == 1
    assert srv.put("/v1/sys/seal", token=srv.root_token).status_code == 204
    assert compat_cli(srv, ["status"], srv.root_token).returncode == 2


def compat_free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_compat_sys_mounts_reads_auth_mounts_as_the_terraform_provider_does(dev_server):
    # vault_auth_backend (and the JWT/OIDC backend) read an auth mount with
    # GET sys/mounts/auth/<path>; Vault answers it from the one router.
    srv = dev_server
    acc = compat_enable_auth(srv, "compat-up", "userpass")
    for path in ("auth/compat-up", "auth/compat-up/"):
        r = srv.get(f"/v1/sys/mounts/{path}", token=srv.root_token)
        assert r.status_code == 200, r.text
        d = r.json()["data"]
        assert d["type"] == "userpass" and d["accessor"] == acc
        assert "default_lease_ttl" in d["config"] and "max_lease_ttl" in d["config"]
        assert d == {k: r.json()[k] for k in d}  # also at the top level, as Vault sends it
    assert srv.get("/v1/sys/mounts/auth/token", token=srv.root_token).json()["data"]["type"] == "token"
    # an unknown auth mount: Vault's 400 and message, which the provider
    # reads as "gone" (so the plan re-creates it only when it is really gone)
    r = srv.get("/v1/sys/mounts/auth/compat-none", token=srv.root_token)
    assert_error(r, 400, "No secret engine mount at auth/compat-none/")
    # sys/auth/<path> and secret mounts read as before
    assert srv.get("/v1/sys/mounts/secret", token=srv.root_token).json()["data"]["type"] == "kv"
    r = srv.get("/v1/sys/mounts/compat-none", token=srv.root_token)
    assert_error(r, 400, "No secret engine mount at compat-none/")
    # reading is all it opens: writes through sys/mounts/auth/ do not touch the auth mount
    r = srv.request("DELETE", "/v1/sys/mounts/auth/compat-up", token=srv.root_token)
    assert srv.get("/v1/sys/auth", token=srv.root_token).json()["data"]["compat-up/"]["accessor"] == acc
    # and it needs the same rights as any sys/mounts read
    tok = srv.request("POST", "/v1/auth/token/create", token=srv.root_token,
                      json={"policies": ["default"]}).json()["auth"]["client_token"]
    assert srv.get("/v1/sys/mounts/auth/compat-up", token=tok).status_code == 403


def test_compat_entity_alias_custom_metadata_is_kept_checked_and_persisted(unsealed_server):
    srv = unsealed_server
    hv = srv.client(srv.root_token)
    acc = compat_enable_auth(srv, "userpass", "userpass")
    eid = hv.secrets.identity.create_or_update_entity(name="compat-ann")["data"]["id"]
    r = srv.request("POST", "/v1/identity/entity-alias", token=srv.root_token,
                    json={"name": "ann", "mount_accessor": acc, "canonical_id": eid,
                          "custom_metadata": {"team": "ops", "tier": "1"}})
    assert r.status_code == 200, r.text
    aid = r.json()["data"]["id"]
    read = lambda: srv.get(f"/v1/identity/entity-alias/id/{aid}", token=srv.root_token).json()["data"]
    assert read()["custom_metadata"] == {"team": "ops", "tier": "1"}
    # the entity shows it on its alias too
    e = hv.secrets.identity.read_entity(eid)["data"]
    assert e["aliases"][0]["custom_metadata"] == {"team": "ops", "tier": "1"}
    # an update replaces it; an update without it keeps it
    r = srv.request("POST", f"/v1/identity/entity-alias/id/{aid}", token=srv.root_token,
                    json={"custom_metadata": {"team": "dev"}})
    assert r.status_code in (200, 204), r.text
    assert read()["custom_metadata"] == {"team": "dev"}
    r = srv.request("POST", f"/v1/identity/entity-alias/id/{aid}", token=srv.root_token, json={"name": "ann2"})
    assert r.status_code in (200, 204), r.text
    assert read()["custom_metadata"] == {"team": "dev"} and read()["name"] == "ann2"
    # Vault's limits: 64 keys, keys of 128 bytes, values of 512; the 400 names the field
    for bad, needle in (({f"k{i}": "v" for i in range(65)}, "64"),
                        ({"k" * 129: "v"}, "128"),
                        ({"k": "v" * 513}, "512"),
                        ({"k": {"nested": "x"}}, "string"),
                        ("not-a-map", "custom_metadata")):
        r = srv.request("POST", f"/v1/identity/entity-alias/id/{aid}", token=srv.root_token,
                        json={"custom_metadata": bad})
        assert_error(r, 400, "custom_metadata", needle)
        assert read()["custom_metadata"] == {"team": "dev"}
    ok = {f"k{i}": "v" * 512 for i in range(63)} | {"k" * 128: "x"}
    r = srv.request("POST", f"/v1/identity/entity-alias/id/{aid}", token=srv.root_token,
                    json={"custom_metadata": ok})
    assert r.status_code in (200, 204), r.text
    # kept across a restart
    srv.restart()
    srv.unseal()
    assert read()["custom_metadata"] == ok
    # a new alias without it reads an empty map
    acc2 = compat_enable_auth(srv, "approle", "approle")
    r = srv.request("POST", "/v1/identity/entity-alias", token=srv.root_token,
                    json={"name": "bare", "mount_accessor": acc2, "canonical_id": eid})
    bare = srv.get(f"/v1/identity/entity-alias/id/{r.json()['data']['id']}", token=srv.root_token).json()["data"]
    assert bare["custom_metadata"] == {}


# -- rekey and generate-root --
# sys/rekey and sys/generate-root were missing (404): operators could not
# change key shares or recover a root token. Both take no token, so the
# key shares are the only authority: guessed shares must get nowhere, and
# shares replaced by a rekey must stop working.


def test_rekey_old_shares_stop_working(unsealed_server):
    srv = unsealed_server
    old = srv.unseal_keys
    r = srv.put("/v1/sys/rekey/init", json={"secret_shares": 2, "secret_threshold": 2})
    assert r.status_code == 200, r.text
    nonce = r.json()["nonce"]
    for k in old[:2]:
        r = srv.put("/v1/sys/rekey/update", json={"key": k, "nonce": nonce})
        assert r.status_code == 200, r.text
    new = r.json()["keys"]
    assert r.json()["complete"] is True and len(new) == 2

    # The old shares can neither start another rekey's progress nor unseal.
    r = srv.put("/v1/sys/rekey/init", json={"secret_shares": 3, "secret_threshold": 2})
    nonce = r.json()["nonce"]
    assert srv.put("/v1/sys/rekey/update", json={"key": old[0], "nonce": nonce}).status_code == 200
    r = srv.put("/v1/sys/rekey/update", json={"key": old[2], "nonce": nonce})
    assert_error(r, 400, "do not combine")
    srv.request("DELETE", "/v1/sys/rekey/init")
    srv.restart()
    srv.put("/v1/sys/unseal", json={"key": old[0]})
    assert_error(srv.put("/v1/sys/unseal", json={"key": old[1]}), 400, "progress was reset")
    srv.unseal(new)


def test_generate_root_guessed_shares_yield_no_token(unsealed_server):
    srv = unsealed_server
    r = srv.put("/v1/sys/generate-root/attempt", json={})
    assert r.status_code == 200, r.text
    nonce = r.json()["nonce"]
    guesses = [secrets.token_hex(32) + "%02x" % x for x in (1, 2)]
    for g in guesses[:1]:
        assert srv.put("/v1/sys/generate-root/update", json={"key": g, "nonce": nonce}).status_code == 200
    r = srv.put("/v1/sys/generate-root/update", json={"key": guesses[1], "nonce": nonce})
    assert_error(r, 400, "do not combine")
    assert "encoded_token" not in r.text
    # The nonce of one attempt is worthless for the next.
    srv.request("DELETE", "/v1/sys/generate-root/attempt")
    srv.put("/v1/sys/generate-root/attempt", json={})
    r = srv.put("/v1/sys/generate-root/update", json={"key": srv.unseal_keys[0], "nonce": nonce})
    assert_error(r, 400, "nonce")


# (end of section: compatibility)
