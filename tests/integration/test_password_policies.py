"""Password policies (sys/policies/password): written, read, listed,
deleted and used to generate passwords through hvac (its generic read,
write, list and delete: this hvac has no password policy methods), raw
HTTP and the `trove` CLI; refusals name what is wrong; a token without
the capability gets 403; policies survive a restart on LMDB and are not
stored in clear."""

import base64
import json
import secrets
import string


from trove_harness import run_cli

POLICY = """length = 16
rule "charset" {
  charset = "abcdefghijklmnopqrstuvwxyz"
  min-chars = 2
}
rule "charset" {
  charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
  min-chars = 2
}
rule "charset" {
  charset = "0123456789"
  min-chars = 2
}
rule "charset" {
  charset = "!@#$%^&*"
  min-chars = 2
}
"""
ALLOWED = set(string.ascii_letters + string.digits + "!@#$%^&*")


def obeys(pw):
    return (
        len(pw) == 16
        and set(pw) <= ALLOWED
        and sum(c in string.ascii_lowercase for c in pw) >= 2
        and sum(c in string.ascii_uppercase for c in pw) >= 2
        and sum(c in string.digits for c in pw) >= 2
        and sum(c in "!@#$%^&*" for c in pw) >= 2
    )


def test_hvac_lifecycle_and_generate(dev_server):
    srv = dev_server
    c = srv.client(srv.root_token)
    c.write("sys/policies/password/app", policy=POLICY)
    assert c.read("sys/policies/password/app")["data"]["policy"] == POLICY
    assert c.list("sys/policies/password")["data"]["keys"] == ["app"]

    seen = set()
    for _ in range(200):
        pw = c.read("sys/policies/password/app/generate")["data"]["password"]
        assert obeys(pw), pw
        seen.add(pw)
    assert len(seen) == 200

    # Vault's base64 form: stored and read back decoded.
    enc = base64.b64encode(b'length = 10\nrule "charset" { charset = "xyz" }\n').decode()
    c.write("sys/policies/password/b64", policy=enc)
    assert c.read("sys/policies/password/b64")["data"]["policy"].startswith("length = 10")
    assert set(c.read("sys/policies/password/b64/generate")["data"]["password"]) <= set("xyz")

    c.delete("sys/policies/password/app")
    assert c.read("sys/policies/password/app/generate") is None  # hvac's read of a 404
    assert srv.get("/v1/sys/policies/password/app/generate", token=srv.root_token).status_code == 404
    assert c.list("sys/policies/password")["data"]["keys"] == ["b64"]


def test_http_shapes_and_refusals(dev_server):
    srv = dev_server
    root = srv.root_token
    r = srv.request("POST", "/v1/sys/policies/password/p", token=root, json={"policy": POLICY})
    assert r.status_code == 204, r.text
    r = srv.get("/v1/sys/policies/password/p/generate", token=root)
    assert r.status_code == 200 and obeys(r.json()["data"]["password"])
    assert r.json()["lease_duration"] == 0
    r = srv.get("/v1/sys/policies/password?list=true", token=root)
    assert r.status_code == 200 and r.json()["data"]["keys"] == ["p"]

    r = srv.get("/v1/sys/policies/password/nope", token=root)
    assert r.status_code == 404 and r.json()["errors"] == ["policy does not exist"]

    cases = [
        ({}, "missing policy"),
        ({"policy": "length = 20\n"}, 'at least one rule "charset"'),
        ({"policy": 'length = 2\nrule "charset" { charset = "ab" }'}, "between 4 and 100"),
        ({"policy": 'length = 20\nrule "charset" { charset = "ab"\n mins = 1 }'}, 'unknown key "mins"'),
        ({"policy": 'length = 20\nlenght = 3\nrule "charset" { charset = "ab" }'}, 'unknown key "lenght"'),
        ({"policy": 'length = 20\nrule "regexp" { charset = "ab" }'}, 'unknown rule type "regexp"'),
        ({"policy": 'length = 4\nrule "charset" { charset = "ab"\n min-chars = 5 }'}, "min-chars add up"),
        ({"policy": 'length = 20\nrule "charset" { charset = "aé" }'}, "printable ASCII"),
        ({"policy": 'length = 20\nrule "charset" {'}, "invalid password policy: line"),
    ]
    for body, frag in cases:
        r = srv.request("POST", "/v1/sys/policies/password/bad", token=root, json=body)
        assert r.status_code == 400, (body, r.text)
        assert frag in r.json()["errors"][0], (body, r.text)
    assert srv.get("/v1/sys/policies/password/bad", token=root).status_code == 404


def test_acl_denial_and_grant(dev_server):
    srv = dev_server
    root = srv.root_token
    c = srv.client(root)
    c.write("sys/policies/password/p", policy=POLICY)
    c.sys.create_or_update_policy("gen-only", 'path "sys/policies/password/p/generate" { capabilities = ["read"] }')
    gen = c.auth.token.create(policies=["gen-only"], no_default_policy=True)["auth"]["client_token"]
    nothing = c.auth.token.create(policies=["default"])["auth"]["client_token"]

    assert srv.get("/v1/sys/policies/password/p/generate", token=gen).status_code == 200
    for tok in (gen, nothing):
        assert srv.get("/v1/sys/policies/password/p", token=tok).status_code == 403
        assert srv.request("POST", "/v1/sys/policies/password/p", token=tok, json={"policy": POLICY}).status_code == 403
        assert srv.request("DELETE", "/v1/sys/policies/password/p", token=tok).status_code == 403
        assert srv.request("LIST", "/v1/sys/policies/password", token=tok).status_code == 403
    assert srv.get("/v1/sys/policies/password/p/generate", token=nothing).status_code == 403
    assert srv.get("/v1/sys/policies/password/other/generate", token=gen).status_code == 403
    # Not sudo-protected, as in Vault: plain capabilities are enough.
    c.sys.create_or_update_policy("pp-admin", 'path "sys/policies/password/*" { capabilities = ["create", "read", "update", "delete"] }')
    admin = c.auth.token.create(policies=["pp-admin"], no_default_policy=True)["auth"]["client_token"]
    r = srv.request("POST", "/v1/sys/policies/password/q", token=admin, json={"policy": POLICY})
    assert r.status_code == 204, r.text
    assert srv.request("DELETE", "/v1/sys/policies/password/q", token=admin).status_code == 204


def test_cli(dev_server, tmp_path):
    srv = dev_server
    env = {"VAULT_ADDR": srv.url, "VAULT_TOKEN": srv.root_token}
    f = tmp_path / "p.hcl"
    f.write_text(POLICY)
    p = run_cli(["write", "sys/policies/password/p", f"policy=@{f}"], env=env)
    assert p.returncode == 0, p.stderr
    p = run_cli(["read", "-format=json", "sys/policies/password/p/generate"], env=env)
    assert p.returncode == 0, p.stderr
    assert obeys(json.loads(p.stdout)["data"]["password"])
    p = run_cli(["read", "-field=password", "sys/policies/password/p/generate"], env=env)
    assert p.returncode == 0 and obeys(p.stdout.strip()), p.stdout
    p = run_cli(["list", "sys/policies/password"], env=env)
    assert p.returncode == 0 and "p" in p.stdout.split()
    p = run_cli(["write", "sys/policies/password/bad", "policy=length = 20"], env=env)
    assert p.returncode != 0 and 'rule "charset"' in (p.stderr + p.stdout)
    p = run_cli(["delete", "sys/policies/password/p"], env=env)
    assert p.returncode == 0, p.stderr
    p = run_cli(["read", "sys/policies/password/p/generate"], env=env)
    assert p.returncode != 0


def test_restart_keeps_policies_encrypted(unsealed_server):
    srv = unsealed_server
    c = srv.client(srv.root_token)
    marker = "zq" + secrets.token_hex(6).replace("0", "x")
    text = POLICY + f"# {marker}\n"
    c.write("sys/policies/password/kept", policy=text)

    srv.proc.restart()
    srv.unseal()

    c = srv.client(srv.root_token)
    assert c.read("sys/policies/password/kept")["data"]["policy"] == text
    assert obeys(c.read("sys/policies/password/kept/generate")["data"]["password"])
    srv.proc.stop()
    blob = b"".join(p.read_bytes() for p in srv.data_dir.rglob("*") if p.is_file())
    assert marker.encode() not in blob
