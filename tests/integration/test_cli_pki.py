"""`trove pki issue|verify-sign|list-intermediates|health-check` end to end.

Against a dev server: a root and an intermediate made through the API, then
the commands, their output (table and JSON) and exit codes (0 ok, 1 usage,
2 a remote error; health-check's own codes 0/2-6 and 1 for any error). What
the commands claim about certificates is checked against python's
`cryptography`, never taken from the server's JSON. A small scripted HTTP
server stands in for the pki paths the dev server may not serve yet
(roles, config/crl, auto-tidy, ACME) so health-check's verdicts on them
are seen through the real command."""

import http.server
import json
import re
import threading

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from trove_harness import free_port, run_cli
from test_cli_everyday import ok, table
from test_pki import verify_signed_by

CHECKS = [
    "ca_validity_period", "crl_validity_period", "root_issued_leaves", "role_allows_localhost",
    "role_allows_glob_wildcards", "role_no_store_false", "audit_visibility", "allow_if_modified_since",
    "enable_auto_tidy", "tidy_last_run", "too_many_certs", "enable_acme_issuance", "allow_acme_headers",
]


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
    for sub in ("issue", "verify-sign", "list-intermediates", "health-check"):
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
    ["pki", "health-check"],
    ["pki", "health-check", "pki", "pki_int"],
    ["pki", "health-check", "-return-indicator=loud", "pki"],
    ["pki", "health-check", "-health-config=/nonexistent/cfg.json", "pki"],
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
    # health-check keeps 2 for "informational": any failure is 1.
    p = run_cli(["pki", "health-check", "pki"], env=DEAD)
    assert p.returncode == 1, p.stderr


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


# -- health-check ----------------------------------------------------------------------


def results_of(p):
    return json.loads(p.stdout)


def statuses(res, check):
    return [r["status"] for r in res[check]]


def test_health_check_fresh_mount(hierarchy):
    srv = hierarchy
    p = cli(srv, "pki", "health-check", "-format=json", "pki")
    res = results_of(p)
    assert sorted(res) == sorted(CHECKS), res.keys()
    assert list(res) == sorted(res)
    for check, items in res.items():
        for r in items:
            assert set(r) == {"status_code", "status", "endpoint", "message"}, r
            assert r["message"] and r["endpoint"].startswith(("/pki/", "/sys/mounts/pki/tune")), r
    root_id = api(srv, "GET", "pki/issuer/root")["issuer_id"]
    # A five-year root: outside every window.
    assert res["ca_validity_period"] == [{"status_code": 1, "status": "ok", "endpoint": f"/pki/issuer/{root_id}",
                                          "message": res["ca_validity_period"][0]["message"]}]
    assert statuses(res, "root_issued_leaves") == ["ok"]
    assert statuses(res, "too_many_certs") == ["ok"]
    assert len(res["audit_visibility"]) == 30 and set(statuses(res, "audit_visibility")) == {"informational"}
    assert statuses(res, "allow_if_modified_since") == ["informational"]
    # Paths this server may not serve yet are invalid_version, as Vault reports them on an older
    # server; served ones get real verdicts.
    for check, path in (("enable_auto_tidy", "config/auto-tidy"), ("tidy_last_run", "tidy-status"),
                        ("enable_acme_issuance", "config/acme")):
        served = srv.request("GET", f"/v1/pki/{path}", token=srv.root_token).status_code == 200
        assert (statuses(res, check) == ["invalid_version"]) != served, (check, res[check])
    highest = max(r["status_code"] for items in res.values() for r in items)
    assert p.returncode == highest, (p.returncode, highest)

    # The table: one section per check, with Vault's columns.
    p = cli(srv, "pki", "health-check", "pki")
    assert p.returncode == highest
    for check in CHECKS:
        assert re.search(rf"^{check}\n-{{{len(check)}}}\nstatus\s+endpoint\s+message\n------", p.stdout, re.M), check
    assert re.search(rf"^ok\s+/pki/issuer/{root_id}\s+\S", p.stdout, re.M), p.stdout

    # The intermediate has a year: past the 180-day informational window of intermediates.
    res = results_of(cli(srv, "pki", "health-check", "-format=json", "pki_int"))
    assert "ok" in statuses(res, "ca_validity_period"), res["ca_validity_period"]

    # A short-lived root is critical.
    mount(srv, "pki_short")
    api(srv, "POST", "pki_short/root/generate/internal", {"common_name": "Short", "ttl": "240h"})
    p = cli(srv, "pki", "health-check", "-format=json", "pki_short")
    assert statuses(results_of(p), "ca_validity_period") == ["critical"]
    assert p.returncode >= 4


def test_health_check_config_and_indicator(hierarchy, tmp_path):
    srv = hierarchy
    mount(srv, "pki_short")
    api(srv, "POST", "pki_short/root/generate/internal", {"common_name": "Short", "ttl": "240h"})
    only_ca = tmp_path / "only-ca.json"
    only_ca.write_text(json.dumps({"ca_validity_period": {"enabled": True, "root_expiry_critical": "5d",
                                                          "root_expiry_warning": "30d"}}))
    p = cli(srv, "pki", "health-check", "-format=json", "-default-disabled", f"-health-config={only_ca}", "pki_short")
    res = results_of(p)
    assert list(res) == ["ca_validity_period"] and statuses(res, "ca_validity_period") == ["warning"]
    assert p.returncode == 3
    p = cli(srv, "pki", "health-check", "-default-disabled", f"-health-config={only_ca}", "-return-indicator=critical",
            "pki_short")
    assert p.returncode == 0, p.stdout
    p = cli(srv, "pki", "health-check", "-default-disabled", f"-health-config={only_ca}", "-return-indicator=warning",
            "pki_short")
    assert p.returncode == 3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ca_validity_period": {"root_expiry_critical": "soon"}}))
    p = cli(srv, "pki", "health-check", f"-health-config={bad}", "pki_short")
    assert p.returncode == 1 and "root_expiry_critical" in p.stderr, p.stderr
    bad.write_text("[1, 2")
    p = cli(srv, "pki", "health-check", f"-health-config={bad}", "pki_short")
    assert p.returncode == 1 and "configuration file" in p.stderr, p.stderr

    p = ok(cli(srv, "pki", "health-check", "-list"))
    assert p.stdout.startswith("Default health check config:\n")
    listed = json.loads(p.stdout.split("\n", 1)[1])
    assert list(listed) == sorted(CHECKS)  # sorted, as Vault prints them
    assert list(listed["ca_validity_period"]) == sorted(listed["ca_validity_period"])
    assert listed["ca_validity_period"]["root_expiry_critical"] == "180d"
    assert json.loads(ok(cli(srv, "pki", "health-check", "-list", "-format=json")).stdout) == listed


def test_health_check_refusals(hierarchy):
    srv = hierarchy
    mount(srv, "pki_empty")
    p = cli(srv, "pki", "health-check", "pki_empty")
    assert p.returncode == 1 and "no issuers" in p.stderr, p.stderr
    p = cli(srv, "pki", "health-check", "secret")
    assert p.returncode == 1 and "type kv" in p.stderr, p.stderr
    p = cli(srv, "pki", "health-check", "auth/token")
    assert p.returncode == 1 and "auth mount" in p.stderr, p.stderr
    p = cli(srv, "pki", "health-check", "nowhere")
    assert p.returncode == 1, p.stderr

    # A token that may read the mount but not its tuning: insufficient_permissions, exit 6.
    api(srv, "PUT", "sys/policies/acl/pki-reader",
        {"policy": 'path "pki/*" { capabilities = ["read", "list"] }'}, status=204)
    tok = srv.request("POST", "/v1/auth/token/create", token=srv.root_token,
                      json={"policies": ["pki-reader"]}).json()["auth"]["client_token"]
    p = cli(srv, "pki", "health-check", "-format=json", "pki", token=tok)
    res = results_of(p)
    assert statuses(res, "audit_visibility") == ["insufficient_permissions"], res["audit_visibility"]
    assert "This token may not read" in res["audit_visibility"][0]["message"]
    assert p.returncode == 6
    p = cli(srv, "pki", "health-check", "-format=json", "-return-indicator=permission", "pki", token=tok)
    assert p.returncode == 6


def test_health_check_risky_role_on_server(hierarchy):
    """On a server that serves roles: the risky role's warnings."""
    srv = hierarchy
    r = srv.request("POST", "/v1/pki/roles/risky", token=srv.root_token,
                    json={"allowed_domains": ["*.example.com"], "allow_glob_domains": True,
                          "allow_wildcard_certificates": True, "allow_localhost": True, "no_store": False})
    if r.status_code == 404:
        res = results_of(cli(srv, "pki", "health-check", "-format=json", "pki"))
        for check in ("role_allows_localhost", "role_allows_glob_wildcards", "role_no_store_false"):
            assert statuses(res, check) == ["invalid_version"], res[check]
        pytest.skip("this server does not serve pki roles yet; the scripted server below covers them")
    assert r.status_code in (200, 204), r.text
    srv.request("POST", "/v1/pki/roles/safe", token=srv.root_token,
                json={"allowed_domains": ["example.com"], "no_store": True, "allow_localhost": False})
    res = results_of(cli(srv, "pki", "health-check", "-format=json", "pki"))
    assert statuses(res, "role_allows_localhost") == ["warning"]
    assert res["role_allows_localhost"][0]["endpoint"] == "/pki/roles/risky"
    assert statuses(res, "role_allows_glob_wildcards") == ["warning"]
    assert [r["endpoint"] for r in res["role_no_store_false"] if r["status"] in ("warning", "informational")] == \
        ["/pki/roles/risky"]


# -- a scripted server for what the dev server may not serve ---------------------------


class Scripted(http.server.BaseHTTPRequestHandler):
    routes = {}

    def do_GET(self):
        self.answer("GET")

    def do_LIST(self):
        self.answer("LIST")

    def answer(self, method):
        path = self.path.split("?")[0]
        status, body = self.routes.get((method, path), (404, {"errors": ["unsupported path"]}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@pytest.fixture
def scripted(dev_server):
    """A server answering like a mount with a root, a risky role and a
    safe one, config/crl, auto-tidy and ACME settings; the root's
    certificate comes from a real dev server."""
    srv = dev_server
    mount(srv, "pki")
    root = api(srv, "POST", "pki/root/generate/internal", {"common_name": "Root CA", "ttl": "43800h"})
    risky = {"allow_localhost": True, "allowed_domains": ["*.example.com"], "allow_glob_domains": True,
             "allow_wildcard_certificates": True, "no_store": False}
    safe = {"allow_localhost": False, "allowed_domains": ["example.com"], "allow_glob_domains": False,
            "allow_wildcard_certificates": True, "no_store": True}
    d = lambda x: (200, {"data": x})  # noqa: E731
    Scripted.routes = {
        ("GET", "/v1/sys/mounts/pki"): d({"type": "pki"}),
        ("LIST", "/v1/pki/issuers"): d({"keys": ["r1"]}),
        ("GET", "/v1/pki/issuer/r1/json"): d({"certificate": root["certificate"]}),
        ("LIST", "/v1/pki/certs"): d({"keys": []}),
        ("LIST", "/v1/pki/roles"): d({"keys": ["risky", "safe"]}),
        ("GET", "/v1/pki/roles/risky"): d(risky),
        ("GET", "/v1/pki/roles/safe"): d(safe),
        ("GET", "/v1/pki/config/crl"): d({"auto_rebuild": False, "disabled": False}),
        ("GET", "/v1/pki/config/auto-tidy"): d({"enabled": False}),
        ("GET", "/v1/pki/tidy-status"): d({"time_finished": None}),
        ("GET", "/v1/pki/config/acme"): d({"enabled": True}),
        ("GET", "/v1/pki/config/cluster"): d({"path": ""}),
        ("GET", "/v1/sys/mounts/pki/tune"): d({"allowed_response_headers": ["Location"]}),
    }
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Scripted)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{port}"
    httpd.shutdown()
    httpd.server_close()


def test_health_check_scripted(scripted):
    p = run_cli(["pki", "health-check", "-format=json", "pki"], env=env_for(scripted, "t"))
    res = results_of(p)
    assert statuses(res, "role_allows_localhost") == ["warning"]
    assert res["role_allows_localhost"][0]["endpoint"] == "/pki/roles/risky"
    assert "[*.example.com]" in res["role_allows_localhost"][0]["message"]
    assert statuses(res, "role_allows_glob_wildcards") == ["warning"]
    assert statuses(res, "role_no_store_false") == ["warning"]
    assert res["role_no_store_false"][0]["endpoint"] == "/pki/roles/risky"
    assert statuses(res, "enable_auto_tidy") == ["informational"]
    assert statuses(res, "tidy_last_run") == ["critical"]
    assert statuses(res, "enable_acme_issuance") == ["warning"]
    assert statuses(res, "allow_acme_headers") == ["warning"]
    assert statuses(res, "crl_validity_period") == ["invalid_version"]
    assert p.returncode == 5

    # The risky role alone passes once allowed; the table shows the warnings.
    p = run_cli(["pki", "health-check", "pki"], env=env_for(scripted, "t"))
    assert re.search(r"^warning\s+/pki/roles/risky\s+The role allows wildcard", p.stdout, re.M), p.stdout
    assert p.returncode == 5
