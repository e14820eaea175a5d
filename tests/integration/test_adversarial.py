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


# (end of section: compatibility)
