"""The everyday `trove` CLI commands end to end against a dev server: login,
read/write/list/delete/patch, kv (v1 and v2), secrets, auth, policy and
token. Expectations follow the Vault CLI: output shapes, exit codes (0 ok,
1 local error: flags, arguments, files; 2 remote error: any non-2xx answer,
an unreachable server, or "no value found"), the token helper file, and
Content-Type application/merge-patch+json for PATCH."""

import json
import os
import re
import stat

import pytest

from trove_harness import free_port, run_cli


def env_for(srv, token=None, home=None, **extra):
    e = {"VAULT_ADDR": srv.url}
    if token:
        e["VAULT_TOKEN"] = token
    if home is not None:
        e["HOME"] = str(home)
    e.update(extra)
    return e


def cli(srv, *args, token=None, input=None, home=None, **extra):
    """Run trove against srv with the root token (unless token= is given).
    HOME points at an empty directory so no real token file is used."""
    if home is None:
        home = "/nonexistent-home"
    return run_cli(list(args), env=env_for(srv, token or srv.root_token, home=home, **extra), input=input)


def ok(p):
    assert p.returncode == 0, f"rc={p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p


def table(stdout):
    """Key/Value rows of a Vault-style table as a dict."""
    rows = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\S+)\s{2,}(.*)$", line)
        if m and set(m.group(1)) != {"-"}:
            rows[m.group(1)] = m.group(2).strip()
    return rows


# -- help and usage ---------------------------------------------------------------


NEW_COMMANDS = [
    ["login"], ["read"], ["write"], ["list"], ["delete"], ["patch"],
    ["kv"], ["kv", "get"], ["kv", "put"], ["kv", "patch"], ["kv", "list"], ["kv", "delete"],
    ["kv", "undelete"], ["kv", "destroy"], ["kv", "metadata"], ["kv", "metadata", "get"],
    ["kv", "metadata", "put"], ["kv", "metadata", "patch"], ["kv", "metadata", "delete"],
    ["secrets"], ["secrets", "enable"], ["secrets", "disable"], ["secrets", "list"],
    ["secrets", "tune"], ["secrets", "move"],
    ["auth"], ["auth", "enable"], ["auth", "disable"], ["auth", "list"], ["auth", "tune"],
    ["policy"], ["policy", "write"], ["policy", "read"], ["policy", "list"], ["policy", "delete"],
    ["policy", "fmt"],
    ["token"], ["token", "create"], ["token", "lookup"], ["token", "renew"], ["token", "revoke"],
    ["token", "capabilities"],
]


def test_help_for_every_new_command():
    for args in NEW_COMMANDS:
        p = run_cli(args + ["-h"])
        assert p.returncode == 0, (args, p.stderr)
        assert "Usage: trove " + " ".join(args) in p.stdout, (args, p.stdout[:300])
    top = run_cli(["-h"]).stdout
    for name in ("login", "read", "write", "list", "delete", "patch", "kv", "secrets", "auth", "policy", "token"):
        assert re.search(rf"^\s+{name}\s", top, re.M), f"{name} missing from trove -h"
    p = run_cli(["kv", "frobnicate"])
    assert p.returncode == 1 and "frobnicate" in p.stderr
    p = run_cli(["kv"])
    assert p.returncode == 1 and "Usage" in p.stderr


def test_usage_errors_exit_1(dev_server):
    # local errors (flags, arguments, files) are 1, as with Vault
    assert cli(dev_server, "write", "secret/data/x").returncode == 1  # no data, no -force
    assert cli(dev_server, "write", "secret/data/x", "novalue").returncode == 1
    assert cli(dev_server, "write", "secret/data/x", "a=@/nonexistent/file").returncode == 1
    assert cli(dev_server, "read").returncode == 1
    assert cli(dev_server, "read", "-format=xml", "secret/data/x").returncode == 1
    assert cli(dev_server, "kv", "get").returncode == 1
    assert cli(dev_server, "token", "revoke").returncode == 1
    assert cli(dev_server, "token", "revoke", "-self", "-accessor").returncode == 1
    p = cli(dev_server, "kv", "undelete", "secret/x")
    assert p.returncode == 1 and "-versions" in p.stderr


# -- kv version 2 -----------------------------------------------------------------


def test_kv_v2_put_get_sections_and_field(dev_server):
    p = ok(cli(dev_server, "kv", "put", "secret/app", "user=web", "password=s3cret"))
    assert "Secret Path" in p.stdout and "secret/data/app" in p.stdout
    assert re.search(r"=+ Metadata =+", p.stdout)
    assert re.search(r"^version\s+1$", p.stdout, re.M), p.stdout

    p = ok(cli(dev_server, "kv", "get", "secret/app"))
    assert re.search(r"^=+ Secret Path =+$", p.stdout, re.M), p.stdout
    assert re.search(r"^=+ Metadata =+$", p.stdout, re.M)
    assert re.search(r"^=+ Data =+$", p.stdout, re.M)
    rows = table(p.stdout.split("Data")[-1])
    assert rows["user"] == "web" and rows["password"] == "s3cret"

    # -field: the raw value, no trailing newline when not a terminal
    p = ok(cli(dev_server, "kv", "get", "-field=password", "secret/app"))
    assert p.stdout == "s3cret"
    p = cli(dev_server, "kv", "get", "-field=nope", "secret/app")
    assert p.returncode == 1 and "nope" in p.stderr

    # the -mount form reaches the same secret
    p = ok(cli(dev_server, "kv", "get", "-mount=secret", "-format=json", "app"))
    out = json.loads(p.stdout)
    assert out["data"]["data"] == {"user": "web", "password": "s3cret"}
    assert out["data"]["metadata"]["version"] == 1

    p = ok(cli(dev_server, "kv", "get", "-format=yaml", "secret/app"))
    assert re.search(r"^data:$", p.stdout, re.M) and re.search(r"^\s+user: web$", p.stdout, re.M), p.stdout


def test_kv_get_missing_is_exit_2(dev_server):
    p = cli(dev_server, "kv", "get", "secret/does-not-exist")
    assert p.returncode == 2
    assert "No value found at secret/data/does-not-exist" in p.stderr


def test_kv_v2_versions_patch_cas_delete_undelete_destroy(dev_server):
    ok(cli(dev_server, "kv", "put", "secret/svc", "a=1", "b=2"))
    # cas mismatch is an API error: 2
    p = cli(dev_server, "kv", "put", "-cas=0", "secret/svc", "a=9")
    assert p.returncode == 2 and "check-and-set" in p.stderr
    ok(cli(dev_server, "kv", "put", "-cas=1", "secret/svc", "a=2", "b=2"))

    # patch (HTTP PATCH, merge patch) keeps the other keys
    ok(cli(dev_server, "kv", "patch", "secret/svc", "c=3"))
    out = json.loads(ok(cli(dev_server, "kv", "get", "-format=json", "secret/svc")).stdout)
    assert out["data"]["data"] == {"a": "2", "b": "2", "c": "3"}
    assert out["data"]["metadata"]["version"] == 3

    # read-modify-write flavour
    ok(cli(dev_server, "kv", "patch", "-method=rw", "secret/svc", "d=4"))
    out = json.loads(ok(cli(dev_server, "kv", "get", "-format=json", "secret/svc")).stdout)
    assert out["data"]["data"]["d"] == "4" and out["data"]["metadata"]["version"] == 4

    # an older version
    p = ok(cli(dev_server, "kv", "get", "-version=1", "-field=a", "secret/svc"))
    assert p.stdout == "1"

    # soft delete of the latest version: metadata shown, no data
    p = ok(cli(dev_server, "kv", "delete", "secret/svc"))
    assert "Success! Data deleted (if it existed) at: secret/data/svc" in p.stdout
    p = cli(dev_server, "kv", "get", "secret/svc")
    assert "deletion_time" in p.stdout and "Data" not in p.stdout.split("Metadata")[-1]

    ok(cli(dev_server, "kv", "undelete", "-versions=4", "secret/svc"))
    assert ok(cli(dev_server, "kv", "get", "-field=d", "secret/svc")).stdout == "4"

    p = ok(cli(dev_server, "kv", "delete", "-versions=1,2", "secret/svc"))
    assert "secret/delete/svc" in p.stdout
    p = ok(cli(dev_server, "kv", "destroy", "-versions=1", "secret/svc"))
    assert "Success! Data written to: secret/destroy/svc" in p.stdout
    meta = json.loads(ok(cli(dev_server, "kv", "metadata", "get", "-format=json", "secret/svc")).stdout)
    assert meta["data"]["versions"]["1"]["destroyed"] is True
    assert meta["data"]["versions"]["2"]["deletion_time"] != ""


def test_kv_list_and_metadata(dev_server):
    ok(cli(dev_server, "kv", "put", "secret/team/a", "x=1"))
    ok(cli(dev_server, "kv", "put", "secret/team/sub/b", "x=1"))
    p = ok(cli(dev_server, "kv", "list", "secret/team"))
    lines = p.stdout.split()
    assert lines[:2] == ["Keys", "----"] and "a" in lines and "sub/" in lines
    assert json.loads(ok(cli(dev_server, "kv", "list", "-mount=secret", "-format=json", "team/")).stdout) == ["a", "sub/"]
    p = cli(dev_server, "kv", "list", "secret/nothing-here")
    assert p.returncode == 2 and "No value found" in p.stderr

    ok(cli(dev_server, "kv", "metadata", "put", "-max-versions=3", "-custom-metadata=owner=ops",
           "-custom-metadata=tier=1", "secret/team/a"))
    p = ok(cli(dev_server, "kv", "metadata", "get", "secret/team/a"))
    assert re.search(r"=+ Metadata Path =+", p.stdout) and "secret/metadata/team/a" in p.stdout
    assert re.search(r"^max_versions\s+3$", p.stdout, re.M), p.stdout
    assert re.search(r"^custom_metadata\s+map\[owner:ops tier:1\]$", p.stdout, re.M), p.stdout
    assert re.search(r"=+ Version 1 =+", p.stdout)

    ok(cli(dev_server, "kv", "metadata", "patch", "-cas-required=true", "secret/team/a"))
    meta = json.loads(ok(cli(dev_server, "kv", "metadata", "get", "-format=json", "secret/team/a")).stdout)
    assert meta["data"]["cas_required"] is True and meta["data"]["max_versions"] == 3

    ok(cli(dev_server, "kv", "metadata", "delete", "secret/team/a"))
    assert cli(dev_server, "kv", "metadata", "get", "secret/team/a").returncode == 2
    assert cli(dev_server, "kv", "get", "secret/team/a").returncode == 2


def test_kv_v1_mount(dev_server):
    ok(cli(dev_server, "secrets", "enable", "-path=old", "kv"))
    p = ok(cli(dev_server, "kv", "put", "old/db", "user=x", "pw=y"))
    assert "Success! Data written to: old/db" in p.stdout
    p = ok(cli(dev_server, "kv", "get", "old/db"))
    assert "Secret Path" not in p.stdout and re.search(r"=+ Data =+", p.stdout)
    assert table(p.stdout)["pw"] == "y"
    assert json.loads(ok(cli(dev_server, "kv", "list", "-format=json", "old/")).stdout) == ["db"]
    assert cli(dev_server, "kv", "patch", "old/db", "a=1").returncode == 2  # v2 only
    ok(cli(dev_server, "kv", "delete", "old/db"))
    assert cli(dev_server, "kv", "get", "old/db").returncode == 2


# -- read / write / list / delete / patch ------------------------------------------------


def test_read_write_with_files_stdin_and_json(dev_server, tmp_path):
    ok(cli(dev_server, "secrets", "enable", "-path=plain", "kv"))
    f = tmp_path / "v.txt"
    f.write_text("from-a-file")
    p = ok(cli(dev_server, "write", "plain/one", "a=1", "a=2", f"f=@{f}"))
    assert "Success! Data written to: plain/one" in p.stdout
    out = json.loads(ok(cli(dev_server, "read", "-format=json", "plain/one")).stdout)
    assert out["data"] == {"a": ["1", "2"], "f": "from-a-file"}

    ok(cli(dev_server, "write", "plain/two", "s=-", "n=3", input="piped"))
    assert ok(cli(dev_server, "read", "-field=s", "plain/two")).stdout == "piped"

    ok(cli(dev_server, "write", "plain/three", "-", input=json.dumps({"obj": {"k": [1, 2]}, "flag": True})))
    out = json.loads(ok(cli(dev_server, "read", "-format=json", "plain/three")).stdout)
    assert out["data"] == {"obj": {"k": [1, 2]}, "flag": True}

    p = ok(cli(dev_server, "read", "plain/three"))
    rows = table(p.stdout)
    assert rows["refresh_interval"] == "768h", p.stdout
    assert rows["obj"] == "map[k:[1 2]]" and rows["flag"] == "true"

    p = ok(cli(dev_server, "read", "-format=yaml", "plain/three"))
    assert re.search(r"^data:\n  flag: true$", p.stdout, re.M) or "flag: true" in p.stdout, p.stdout

    p = ok(cli(dev_server, "list", "plain"))
    assert {"one", "two", "three"} <= set(p.stdout.split())
    p = ok(cli(dev_server, "delete", "plain/one"))
    assert "Success! Data deleted (if it existed) at: plain/one" in p.stdout
    p = cli(dev_server, "read", "plain/one")
    assert p.returncode == 2 and "No value found at plain/one" in p.stderr
    p = cli(dev_server, "list", "plain/empty")
    assert p.returncode == 2


def test_generic_patch_on_kv2(dev_server):
    ok(cli(dev_server, "kv", "put", "secret/pat", "a=1", "b=2"))
    ok(cli(dev_server, "patch", "secret/data/pat", "-", input=json.dumps({"data": {"b": None, "c": "3"}})))
    out = json.loads(ok(cli(dev_server, "kv", "get", "-format=json", "secret/pat")).stdout)
    assert out["data"]["data"] == {"a": "1", "c": "3"}


def test_api_error_is_exit_2_and_names_the_problem(dev_server):
    p = cli(dev_server, "read", "secret/data/x", token="not-a-real-token")
    assert p.returncode == 2
    assert "Code: 403" in p.stderr or "permission denied" in p.stderr
    assert "not-a-real-token" not in p.stdout + p.stderr


# -- login and the token helper file ---------------------------------------------------


def test_login_writes_private_token_file(dev_server, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    p = run_cli(["login", dev_server.root_token], env=env_for(dev_server, home=home))
    assert p.returncode == 0, p.stderr
    assert "Success! You are now authenticated" in p.stdout
    rows = table(p.stdout)
    assert rows["token"] == dev_server.root_token
    assert rows["token_policies"] == '["root"]' and rows["token_duration"] == "∞"
    tf = home / ".vault-token"
    assert tf.read_text().strip() == dev_server.root_token
    assert stat.S_IMODE(tf.stat().st_mode) == 0o600
    assert [x.name for x in home.iterdir()] == [".vault-token"], "temporary file left behind"

    # later commands pick the token up from the file
    p = run_cli(["token", "lookup", "-field=policies"], env=env_for(dev_server, home=home))
    assert p.returncode == 0, p.stderr
    assert "root" in p.stdout


def test_login_stdin_no_store_and_failures(dev_server, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    e = env_for(dev_server, home=home)
    p = run_cli(["login", "-"], env=e, input=dev_server.root_token + "\n")
    assert p.returncode == 0, p.stderr
    assert (home / ".vault-token").read_text().strip() == dev_server.root_token
    (home / ".vault-token").unlink()

    p = run_cli(["login", "-no-store", dev_server.root_token], env=e)
    assert p.returncode == 0 and not (home / ".vault-token").exists()
    p = run_cli(["login", "-token-only", dev_server.root_token], env=e)
    assert p.returncode == 0 and p.stdout == dev_server.root_token

    p = run_cli(["login", "bogus-token"], env=e)
    assert p.returncode == 2 and not (home / ".vault-token").exists()
    assert "bogus-token" not in p.stderr

    p = run_cli(["login", "-method=kerberos", "username=x"], env=e)
    assert p.returncode == 1 and "kerberos" in p.stderr and "not supported" in p.stderr


def test_token_path_env_and_atomic_replace(dev_server, tmp_path):
    tf = tmp_path / "tok"
    tf.write_text("old")
    os.chmod(tf, 0o644)
    p = run_cli(["login", dev_server.root_token], env=env_for(dev_server, home=tmp_path, TROVE_TOKEN_PATH=str(tf)))
    assert p.returncode == 0, p.stderr
    assert tf.read_text().strip() == dev_server.root_token
    assert stat.S_IMODE(tf.stat().st_mode) == 0o600


# -- token ------------------------------------------------------------------------


def test_token_create_lookup_renew_capabilities_revoke(dev_server):
    p = ok(cli(dev_server, "token", "create", "-policy=default", "-ttl=1h", "-metadata=team=ci",
               "-display-name=ci"))
    rows = table(p.stdout)
    for k in ("token", "token_accessor", "token_duration", "token_renewable", "token_policies",
              "identity_policies", "policies"):
        assert k in rows, (k, p.stdout)
    assert rows["token_duration"] == "1h" and rows["token_renewable"] == "true"
    assert rows["token_meta_team"] == "ci"

    tok = ok(cli(dev_server, "token", "create", "-policy=default", "-ttl=1h", "-field=token")).stdout
    assert tok and "\n" not in tok

    out = json.loads(ok(cli(dev_server, "token", "lookup", "-format=json", tok)).stdout)
    assert "default" in out["data"]["policies"]
    acc = out["data"]["accessor"]
    out = json.loads(ok(cli(dev_server, "token", "lookup", "-format=json", "-accessor", acc)).stdout)
    assert out["data"]["accessor"] == acc

    # the token looks itself up
    assert ok(cli(dev_server, "token", "lookup", "-field=accessor", token=tok)).stdout == acc

    p = ok(cli(dev_server, "token", "renew", "-increment=30m", tok))
    assert "token_duration" in p.stdout

    assert ok(cli(dev_server, "token", "capabilities", "sys/mounts")).stdout.strip() == "root"
    p = ok(cli(dev_server, "token", "capabilities", tok, "secret/data/x"))
    assert p.stdout.strip() == "deny"
    p = ok(cli(dev_server, "token", "capabilities", "auth/token/lookup-self", token=tok))
    assert "read" in p.stdout.split(", ") or "read" in p.stdout

    p = ok(cli(dev_server, "token", "revoke", "-accessor", acc))
    assert "Success! Revoked token" in p.stdout
    p = cli(dev_server, "token", "lookup", tok)
    assert p.returncode == 2


def test_token_create_orphan_role_and_revoke_self(dev_server):
    p = ok(cli(dev_server, "token", "create", "-orphan", "-policy=default", "-format=json"))
    out = json.loads(p.stdout)
    tok = out["auth"]["client_token"]
    assert out["auth"]["orphan"] is True
    ok(cli(dev_server, "token", "revoke", "-self", token=tok))
    assert cli(dev_server, "token", "lookup", token=tok).returncode == 2


def test_other_output_never_shows_the_token(dev_server):
    ok(cli(dev_server, "kv", "put", "secret/quiet", "a=1"))
    for args in (["kv", "get", "secret/quiet"], ["secrets", "list"], ["policy", "list"],
                 ["read", "-format=json", "secret/data/quiet"]):
        p = cli(dev_server, *args)
        assert dev_server.root_token not in p.stdout + p.stderr, args


# -- policy -----------------------------------------------------------------------


POLICY = 'path "secret/data/app/*" {\n  capabilities = ["read", "list"]\n}\n'


def test_policy_write_read_list_delete(dev_server, tmp_path):
    f = tmp_path / "p.hcl"
    f.write_text(POLICY)
    p = ok(cli(dev_server, "policy", "write", "Readers", str(f)))
    assert "Success! Uploaded policy: readers" in p.stdout
    ok(cli(dev_server, "policy", "write", "piped", "-", input=POLICY))
    assert POLICY.strip() in ok(cli(dev_server, "policy", "read", "readers")).stdout
    names = ok(cli(dev_server, "policy", "list")).stdout.split()
    assert {"default", "root", "readers", "piped"} <= set(names)
    assert "readers" in json.loads(ok(cli(dev_server, "policy", "list", "-format=json")).stdout)
    p = ok(cli(dev_server, "policy", "delete", "piped"))
    assert "Success! Deleted policy: piped" in p.stdout
    p = cli(dev_server, "policy", "read", "piped")
    assert p.returncode == 2 and "piped" in p.stderr

    # a token with the policy can read under it and nothing else
    tok = ok(cli(dev_server, "token", "create", "-policy=readers", "-field=token")).stdout
    caps = ok(cli(dev_server, "token", "capabilities", tok, "secret/data/app/x")).stdout.strip()
    assert caps == "list, read"


def test_policy_fmt(tmp_path):
    f = tmp_path / "p.hcl"
    f.write_text('path   "secret/*" {capabilities=["read","list"]}\npath "a" {\n capabilities = [ "deny" ]\n'
                 '   allowed_parameters = { "owner" = [] }\n}\n')
    os.chmod(f, 0o640)
    p = run_cli(["policy", "fmt", str(f)])
    assert p.returncode == 0, p.stderr
    assert f.read_text() == (
        'path "secret/*" {\n  capabilities = ["read", "list"]\n}\n\n'
        'path "a" {\n  capabilities       = ["deny"]\n  allowed_parameters = {\n    owner = []\n  }\n}\n'
    )
    assert stat.S_IMODE(f.stat().st_mode) == 0o640
    assert run_cli(["policy", "fmt", str(f)]).returncode == 0  # idempotent

    bad = tmp_path / "bad.hcl"
    bad.write_text('path "x" {\n  capabilities = ["read"]\n}\n\npath "y" {\n  capabilities = ["fly"]\n}\n')
    p = run_cli(["policy", "fmt", str(bad)])
    assert p.returncode == 1 and "line 6" in p.stderr and "fly" in p.stderr
    syn = tmp_path / "syn.hcl"
    syn.write_text('path "x" {\n  capabilities = ["read"\n}\n')
    p = run_cli(["policy", "fmt", str(syn)])
    assert p.returncode == 1 and re.search(r"line \d+", p.stderr)
    assert syn.read_text() == 'path "x" {\n  capabilities = ["read"\n}\n'  # untouched


# -- secrets and auth ---------------------------------------------------------------------


def test_secrets_enable_list_tune_move_disable(dev_server):
    p = ok(cli(dev_server, "secrets", "enable", "-path=apps", "-description=app secrets", "-version=2",
               "-max-lease-ttl=48h", "kv"))
    assert "Success! Enabled the kv secrets engine at: apps/" in p.stdout
    p = ok(cli(dev_server, "secrets", "list"))
    assert re.search(r"^Path\s+Type\s+Accessor\s+Description$", p.stdout, re.M), p.stdout
    assert re.search(r"^apps/\s+kv\s+\S+\s+app secrets$", p.stdout, re.M), p.stdout
    assert re.search(r"^secret/\s+kv\s", p.stdout, re.M)
    mounts = json.loads(ok(cli(dev_server, "secrets", "list", "-format=json")).stdout)
    assert mounts["apps/"]["options"]["version"] == "2"
    assert "Max TTL" in ok(cli(dev_server, "secrets", "list", "-detailed")).stdout

    # kv v2 detection works on the new mount
    ok(cli(dev_server, "kv", "put", "apps/x", "k=v"))
    assert ok(cli(dev_server, "kv", "get", "-field=k", "apps/x")).stdout == "v"

    p = ok(cli(dev_server, "secrets", "tune", "-default-lease-ttl=1h", "apps/"))
    assert "Success! Tuned the secrets engine at: apps/" in p.stdout
    tune = dev_server.get("/v1/sys/mounts/apps/tune", token=dev_server.root_token).json()
    assert tune["data"]["default_lease_ttl"] == 3600

    ok(cli(dev_server, "secrets", "enable", "kv-v2"))
    mounts = json.loads(ok(cli(dev_server, "secrets", "list", "-format=json")).stdout)
    assert mounts["kv-v2/"]["type"] == "kv" and mounts["kv-v2/"]["options"]["version"] == "2"

    p = ok(cli(dev_server, "secrets", "move", "apps/", "apps-moved/"))
    assert "apps-moved/" in p.stdout
    assert ok(cli(dev_server, "kv", "get", "-field=k", "apps-moved/x")).stdout == "v"

    p = ok(cli(dev_server, "secrets", "disable", "apps-moved"))
    assert "Success! Disabled the secrets engine (if it existed) at: apps-moved/" in p.stdout
    assert "apps-moved/" not in json.loads(ok(cli(dev_server, "secrets", "list", "-format=json")).stdout)
    p = cli(dev_server, "secrets", "enable", "-path=kv-v2", "kv")
    assert p.returncode == 2 and "Error" in p.stderr


def test_auth_list_tune_and_unknown_method(dev_server):
    # Only the built-in token method exists so far: list and tune it, and
    # an unknown method is refused with the server's reason.
    p = ok(cli(dev_server, "auth", "list"))
    assert re.search(r"^token/\s+token\s", p.stdout, re.M), p.stdout
    p = ok(cli(dev_server, "auth", "tune", "-default-lease-ttl=72h", "token/"))
    assert "Success! Tuned the auth method at: token/" in p.stdout
    tune = dev_server.get("/v1/sys/auth/token/tune", token=dev_server.root_token).json()
    assert tune["data"]["default_lease_ttl"] == 72 * 3600
    p = cli(dev_server, "auth", "enable", "-path=people", "no-such-method")
    assert p.returncode != 0
    assert "no-such-method" in p.stderr
    assert "people/" not in json.loads(ok(cli(dev_server, "auth", "list", "-format=json")).stdout)


def test_cli_against_dead_server_fails_with_2():
    # a connection refused is a remote error, as with Vault
    dead = f"http://127.0.0.1:{free_port()}"
    p = run_cli(["kv", "get", "secret/x"], env={"VAULT_ADDR": dead, "VAULT_TOKEN": "t"})
    assert p.returncode == 2 and p.stderr.strip()
    p = run_cli(["read", "secret/data/x"], env={"VAULT_ADDR": dead, "VAULT_TOKEN": "t"})
    assert p.returncode == 2 and "127.0.0.1" in p.stderr
