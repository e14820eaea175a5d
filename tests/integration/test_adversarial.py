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
