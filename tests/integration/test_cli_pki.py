"""`trove pki issue|verify-sign|list-intermediates` end to end.

Against a dev server: a root and an intermediate made through the API, then
the commands, their output (table and JSON) and exit codes (0 ok, 1 usage,
2 a remote error). What the commands claim about certificates is checked
against python's `cryptography`, never taken from the server's JSON."""

import json
import re

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from trove_harness import run_cli
from test_cli_everyday import ok, table
from test_pki import verify_signed_by

def env_for(url, token=None):
    e = {"VAULT_ADDR": url, "HOME": "/nonexistent-home"}
    if token:
        e["VAULT_TOKEN"] = token
    return e


def cli(srv, *args, token=None):
    return run_cli(list(args), env=env_for(srv.url, token or srv.root_token))


DEAD = env_for("http://127.0.0.1:9", "some-token")


def api(srv, method, path, body=None, status=200):
    r = srv.request(method, f"/v1/{path}", token=srv.root_token, json=body)
    assert r.status_code == status, (method, path, r.status_code, r.text)
    return r.json().get("data") if r.text else None


def mount(srv, path):
    api(srv, "POST", f"sys/mounts/{path}", {"type": "pki", "config": {"max_lease_ttl": "87600h"}}, status=204)


def cert(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def ski(c):
    return c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def aki(c):
    return c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier


@pytest.fixture
def hierarchy(dev_server):
    """pki: a root named "root"; pki_int: an intermediate "int" it signed
    (through the API); other: an unrelated root."""
    srv = dev_server
    mount(srv, "pki")
    mount(srv, "pki_int")
    mount(srv, "other")
    api(srv, "POST", "pki/root/generate/internal", {"common_name": "Root CA", "ttl": "43800h", "issuer_name": "root"})
    api(srv, "POST", "other/root/generate/internal", {"common_name": "Other CA", "issuer_name": "other"})
    csr = api(srv, "POST", "pki_int/intermediate/generate/internal", {"common_name": "Int CA"})["csr"]
    signed = api(srv, "POST", "pki/issuer/root/sign-intermediate", {"csr": csr, "common_name": "Int CA",
                                                                      "ttl": "8760h"})
    imported = api(srv, "POST", "pki_int/intermediate/set-signed",
                   {"certificate": signed["certificate"] + "\n" + signed["issuing_ca"]})
    new = [i for i in imported["imported_issuers"]
           if cert(api(srv, "GET", f"pki_int/issuer/{i}")["certificate"]).subject.rfc4514_string() == "CN=Int CA"]
    api(srv, "POST", f"pki_int/issuer/{new[0]}", {"issuer_name": "int"})
    return srv


# -- help and usage (no server needed) --------------------------------------------------


def test_help():
    p = ok(run_cli(["pki", "-h"]))
    for sub in ("issue", "verify-sign", "list-intermediates"):
        assert re.search(rf"^\s+{sub}\s", p.stdout, re.M), p.stdout
        h = ok(run_cli(["pki", sub, "-h"]))
        assert f"Usage: trove pki {sub}" in h.stdout, h.stdout[:300]
    assert re.search(r"^\s+pki\s", run_cli(["-h"]).stdout, re.M)
    p = run_cli(["pki"])
    assert p.returncode == 1 and "Usage" in p.stderr
    p = run_cli(["pki", "frobnicate"])
    assert p.returncode == 1 and "frobnicate" in p.stderr


@pytest.mark.parametrize("args", [
    ["pki", "verify-sign"],
    ["pki", "verify-sign", "pki/issuer/root"],
    ["pki", "verify-sign", "a", "b", "c"],
    ["pki", "verify-sign", "-nope", "a", "b"],
    ["pki", "list-intermediates"],
    ["pki", "list-intermediates", "pki/issuer/root", "pki_int", "-format=json"],
    ["pki", "issue", "pki/issuer/root", "pki_int"],
    ["pki", "issue", "pki/root", "pki_int", "common_name=x"],
    ["pki", "issue", "pki/issuer/root/json", "pki_int", "common_name=x"],
    ["pki", "issue", "-type=exported", "pki/issuer/root", "pki_int", "common_name=x"],
    ["pki", "issue", "pki/issuer/root", "pki_int", "not-a-pair"],
])
def test_usage_errors_exit_1(args):
    p = run_cli(args, env=DEAD)
    assert p.returncode == 1, (args, p.returncode, p.stdout, p.stderr)
    assert p.stdout == ""


def test_unreachable_server():
    for args in (["verify-sign", "pki/issuer/a", "pki/issuer/b"], ["list-intermediates", "pki/issuer/a", "x/issuer/b"],
                 ["issue", "pki/issuer/root", "pki_int", "common_name=x"]):
        p = run_cli(["pki"] + args, env=DEAD)
        assert p.returncode == 2, (args, p.stderr)
        assert p.stdout == ""


# -- verify-sign and list-intermediates ---------------------------------------------------


def test_verify_sign(hierarchy):
    srv = hierarchy
    root = cert(api(srv, "GET", "pki/issuer/root")["certificate"])
    inter = cert(api(srv, "GET", "pki_int/issuer/int")["certificate"])
    # What the command must find, established independently.
    assert inter.issuer == root.subject and aki(inter) == ski(root)
    verify_signed_by(inter, root)

    p = ok(cli(srv, "pki", "verify-sign", "pki/issuer/root", "/pki_int/issuer/int/"))
    assert p.stdout.startswith("issuer:pki/issuer/root\nissued:pki_int/issuer/int\n\n"), p.stdout
    rows = table(p.stdout)
    assert rows == {"field": "value", "key_id_match": "true", "path_match": "true", "signature_match": "true",
                    "subject_match": "true", "trust_match": "true"}, rows

    out = json.loads(ok(cli(srv, "pki", "verify-sign", "-format=json", "pki_int/issuer/int", "pki/issuer/root")).stdout)
    assert out == {"key_id_match": False, "path_match": False, "signature_match": False, "subject_match": False,
                   "trust_match": False}
    assert list(out) == sorted(out)

    out = json.loads(ok(cli(srv, "pki", "verify-sign", "-format=json", "other/issuer/other", "pki_int/issuer/int")).stdout)
    assert not any(out.values()), out
    # Issuer JSON paths (issuer/<ref>/json) work as well.
    out = json.loads(ok(cli(srv, "pki", "verify-sign", "-format=json", "pki/issuer/root/json",
                            "pki_int/issuer/int/json")).stdout)
    assert out["signature_match"] and out["trust_match"], out

    p = cli(srv, "pki", "verify-sign", "pki/issuer/nope", "pki_int/issuer/int")
    assert p.returncode == 2 and "Error reading the issuer" in p.stderr and "nope" in p.stderr, p.stderr
    p = cli(srv, "pki", "verify-sign", "pki/issuer/root", "sys/health")
    assert p.returncode == 2 and "certificate" in p.stderr, p.stderr


def test_list_intermediates(hierarchy):
    srv = hierarchy
    ids = api(srv, "LIST", "pki_int/issuers")["keys"]
    p = ok(cli(srv, "pki", "list-intermediates", "pki/issuer/root", "pki_int", "other"))
    rows = table(p.stdout)
    assert rows.pop("intermediate") == "match?"
    other = api(srv, "LIST", "other/issuers")["keys"]
    int_id = api(srv, "GET", "pki_int/issuer/int")["issuer_id"]
    assert rows[f"pki_int/issuer/{int_id}"] == "true"
    assert rows[f"other/issuer/{other[0]}"] == "false"
    assert len(rows) == len(ids) + len(other)

    # Names, JSON, and no children: every pki mount.
    out = json.loads(ok(cli(srv, "pki", "list-intermediates", "-format=json", "-use_names", "pki/issuer/root")).stdout)
    assert out["pki_int/issuer/int"] is True
    assert out["other/issuer/other"] is False
    assert out["pki/issuer/root"] is True  # a root signed itself
    # Certificate paths as children; path_match asks for the parent in ca_chain.
    out = json.loads(ok(cli(srv, "pki", "list-intermediates", "-format=json", "-path_match", "pki/issuer/root",
                            "pki_int/issuer/int", "other/issuer/other")).stdout)
    assert out == {"pki_int/issuer/int": True, "other/issuer/other": False}
    p = cli(srv, "pki", "list-intermediates", "pki/issuer/nope", "pki_int")
    assert p.returncode == 2, p.stderr


# -- issue -----------------------------------------------------------------------------


def test_issue(hierarchy):
    srv = hierarchy
    mount(srv, "pki_new")
    p = ok(cli(srv, "pki", "issue", "-issuer_name=int-2", "pki/issuer/root", "pki_new",
               "common_name=Second Int", "ttl=720h", "key_type=ec", "key_bits=256"))
    rows = table(p.stdout)
    assert rows["issuer_name"] == "int-2", rows
    assert "private_key" not in p.stdout

    new = api(srv, "GET", "pki_new/issuer/int-2")
    root = cert(api(srv, "GET", "pki/issuer/root")["certificate"])
    c = cert(new["certificate"])
    assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Second Int"
    assert c.issuer == root.subject and aki(c) == ski(root)
    assert c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert new["key_id"], new  # linked to the key generated on pki_new
    assert api(srv, "GET", f"pki_new/key/{new['key_id']}")["key_type"] == "ec"
    # The parent's certificate came along, named as the parent's reference.
    parent = api(srv, "GET", "pki_new/issuer/root")
    assert cert(parent["certificate"]) == root
    # verify-sign agrees.
    out = json.loads(ok(cli(srv, "pki", "verify-sign", "-format=json", "pki/issuer/root", "pki_new/issuer/int-2")).stdout)
    assert all(out.values()), out

    # A child whose own root is already called "root": the parent is imported unnamed, with a warning.
    mount(srv, "pki_clash")
    api(srv, "POST", "pki_clash/root/generate/internal", {"common_name": "Clash", "issuer_name": "root"})
    p = ok(cli(srv, "pki", "issue", "-issuer_name=int-3", "pki/issuer/root", "pki_clash", "common_name=Clash Int"))
    assert "Warning:" in p.stderr and "could not be named root" in p.stderr, p.stderr
    assert cert(api(srv, "GET", "pki_clash/issuer/int-3")["certificate"]).issuer == root.subject

    # JSON output is the issuer read.
    mount(srv, "pki_json")
    out = json.loads(ok(cli(srv, "pki", "issue", "-format=json", "pki/issuer/root", "pki_json",
                            "common_name=Third Int")).stdout)
    assert cert(out["data"]["certificate"]).issuer == root.subject
    assert out["data"]["issuer_name"] == ""


def test_issue_remote_errors(hierarchy):
    srv = hierarchy
    before = api(srv, "LIST", "pki/certs")["keys"]
    # A parent that does not exist: nothing happens on the child.
    mount(srv, "pki_x")
    p = cli(srv, "pki", "issue", "pki/issuer/nope", "pki_x", "common_name=x")
    assert p.returncode == 2 and "Error reading the parent issuer" in p.stderr, p.stderr
    assert srv.request("LIST", "/v1/pki_x/keys", token=srv.root_token).status_code == 404
    # A child that is no pki mount: nothing is signed.
    p = cli(srv, "pki", "issue", "pki/issuer/root", "secret", "common_name=x")
    assert p.returncode == 2 and "Error generating the intermediate CSR" in p.stderr, p.stderr
    assert api(srv, "LIST", "pki/certs")["keys"] == before
    # Refused by the signer after the key was made: the command says what exists.
    api(srv, "POST", "other/issuer/other", {"usage": "read-only"})
    p = cli(srv, "pki", "issue", "other/issuer/other", "pki_x", "common_name=x")
    assert p.returncode == 2, p.stderr
    assert "Error signing the intermediate" in p.stderr, p.stderr
    key_id = api(srv, "LIST", "pki_x/keys")["keys"][0]
    assert key_id in p.stderr and f"trove delete pki_x/key/{key_id}" in p.stderr, p.stderr
    # A token that may not read the parent.
    api(srv, "PUT", "sys/policies/acl/child-only", {"policy": 'path "pki_x/*" { capabilities = ["create", "update", "read"] }'},
        status=204)
    tok = srv.request("POST", "/v1/auth/token/create", token=srv.root_token,
                      json={"policies": ["child-only"]}).json()["auth"]["client_token"]
    p = cli(srv, "pki", "issue", "pki/issuer/root", "pki_x", "common_name=x", token=tok)
    assert p.returncode == 2 and "permission denied" in p.stderr, p.stderr
