"""The token store (auth/token/) through hvac 0.11.2 and raw HTTP: creation
rules, lookups, renewal, revocation trees, uses, expiry, batch tokens,
roles, and the denied paths."""

import time

import hvac
import hvac.exceptions
import pytest

from trove_harness import assert_error, assert_json_headers

AUTH_KEYS = {"client_token", "accessor", "policies", "token_policies", "metadata", "lease_duration", "renewable",
             "entity_id", "token_type", "orphan", "mfa_requirement", "num_uses"}
LOOKUP_KEYS = {"accessor", "creation_time", "creation_ttl", "display_name", "entity_id", "expire_time",
               "explicit_max_ttl", "id", "issue_time", "meta", "num_uses", "orphan", "path", "policies", "renewable",
               "ttl", "type"}
ROLE_KEYS = {"allowed_policies", "disallowed_policies", "allowed_policies_glob", "disallowed_policies_glob", "orphan",
             "renewable", "path_suffix", "token_type", "token_period", "token_explicit_max_ttl", "token_bound_cidrs",
             "token_no_default_policy", "token_num_uses", "name", "period", "explicit_max_ttl"}
DEFAULT_TTL = 2764800


# "dev" may create child tokens (the default policy may not).
DEV_POLICY = '''
path "auth/token/create" { capabilities = ["create", "update"] }
path "auth/token/create-orphan" { capabilities = ["create", "update"] }
path "auth/token/create/*" { capabilities = ["create", "update"] }
'''


@pytest.fixture
def srv(dev_server):
    r = dev_server.request("PUT", "/v1/sys/policy/dev", token=dev_server.root_token, json={"policy": DEV_POLICY})
    assert r.status_code in (200, 204), r.text
    return dev_server


def post(srv, path, token, body=None):
    return srv.request("POST", "/v1/" + path, token=token, json=body or {})


def create(srv, token, **body):
    r = post(srv, "auth/token/create", token, body)
    assert r.status_code == 200, r.text
    return r.json()["auth"]


def lookup_self_status(srv, token):
    return srv.get("/v1/auth/token/lookup-self", token=token).status_code


def test_create_and_lookup_shapes(dev_server):
    root = dev_server.client(dev_server.root_token)
    resp = root.auth.token.create(policies=["web"], meta={"user": "ann"}, ttl="1h", display_name="my app")
    auth = resp["auth"]
    assert AUTH_KEYS <= auth.keys(), auth
    assert auth["client_token"].startswith("hvs.") and len(auth["client_token"]) >= 28
    assert len(auth["accessor"]) == 40  # 16 hex digits of creation sequence + 24 random
    assert auth["policies"] == ["default", "web"]
    assert auth["token_policies"] == ["default", "web"]
    assert auth["metadata"] == {"user": "ann"}
    assert auth["lease_duration"] == 3600
    assert auth["renewable"] is True
    assert auth["token_type"] == "service"
    assert auth["orphan"] is False
    assert auth["mfa_requirement"] is None
    assert auth["num_uses"] == 0
    assert resp["data"] is None
    assert 'Policy "web" does not exist' in resp["warnings"]

    tok = auth["client_token"]
    me = dev_server.client(tok).auth.token.lookup_self()["data"]
    assert LOOKUP_KEYS <= me.keys(), me
    assert me["id"] == tok
    assert me["accessor"] == auth["accessor"]
    assert me["display_name"] == "token-my-app"
    assert me["path"] == "auth/token/create"
    assert me["meta"] == {"user": "ann"}
    assert me["creation_ttl"] == 3600
    assert 3590 <= me["ttl"] <= 3600
    assert isinstance(me["expire_time"], str) and me["expire_time"].endswith("Z")
    assert me["type"] == "service"

    # Lookup by token (no use consumed) and by accessor (no id).
    other = root.auth.token.lookup(tok)["data"]
    assert other["id"] == tok and other["policies"] == ["default", "web"]
    by_acc = root.auth.token.lookup_accessor(auth["accessor"])["data"]
    assert by_acc["id"] == "" and by_acc["accessor"] == auth["accessor"]

    # The root token: never expires.
    rootinfo = root.auth.token.lookup_self()["data"]
    assert rootinfo["expire_time"] is None and rootinfo["ttl"] == 0
    assert rootinfo["policies"] == ["root"]
    assert root.is_authenticated()

    # Unknown token and accessor.
    assert_error(post(dev_server, "auth/token/lookup", dev_server.root_token, {"token": "hvs.unknown"}), 403)
    assert_error(post(dev_server, "auth/token/lookup", dev_server.root_token, {}), 400, "missing token")
    assert_error(post(dev_server, "auth/token/lookup-accessor", dev_server.root_token, {"accessor": "nope"}), 400)


def test_defaults_and_root_children(dev_server):
    t = dev_server.root_token
    auth = create(dev_server, t, policies=["web"])
    assert auth["lease_duration"] == DEFAULT_TTL
    # A root child of root without a TTL never expires.
    auth = create(dev_server, t)
    assert auth["policies"] == ["root"] and auth["lease_duration"] == 0
    # no_default_policy
    auth = create(dev_server, t, policies=["web"], no_default_policy=True)
    assert auth["policies"] == ["web"]
    # A custom id (root only, no '.').
    auth = create(dev_server, t, id="my-custom-token-1", policies=["web"])
    assert auth["client_token"] == "my-custom-token-1"
    assert lookup_self_status(dev_server, "my-custom-token-1") == 200
    assert_error(post(dev_server, "auth/token/create", t, {"id": "my-custom-token-1"}), 400, "duplicate")
    assert_error(post(dev_server, "auth/token/create", t, {"id": "has.dot"}), 400, "period")
    # Bad inputs.
    assert_error(post(dev_server, "auth/token/create", t, {"ttl": "forever"}), 400, "ttl")
    assert_error(post(dev_server, "auth/token/create", t, {"num_uses": -1}), 400)
    assert_error(post(dev_server, "auth/token/create", t, {"type": "weird"}), 400, "type")


def test_non_root_rules(srv):
    dev_server = srv
    t = dev_server.root_token
    child = create(dev_server, t, policies=["dev", "db"])["client_token"]
    # A subset is fine.
    assert create(dev_server, child, policies=["db"])["policies"] == ["db", "default"]
    # Widening is refused, as are root-only options.
    assert_error(post(dev_server, "auth/token/create", child, {"policies": ["admin"]}), 400, "subset")
    assert_error(post(dev_server, "auth/token/create", child, {"policies": ["root"]}), 400)
    assert_error(post(dev_server, "auth/token/create", child, {"id": "mine"}), 400, "root or sudo")
    assert_error(post(dev_server, "auth/token/create", child, {"period": "1h"}), 400, "root or sudo")
    assert_error(post(dev_server, "auth/token/create", child, {"no_parent": True}), 400, "root or sudo")


def test_num_uses(dev_server):
    auth = create(dev_server, dev_server.root_token, policies=["default"], num_uses=2)
    assert auth["num_uses"] == 2
    tok = auth["client_token"]
    r = dev_server.get("/v1/auth/token/lookup-self", token=tok)
    assert r.status_code == 200 and r.json()["data"]["num_uses"] == 1
    # The last use succeeds; the next request fails.
    assert lookup_self_status(dev_server, tok) == 200
    r = dev_server.get("/v1/auth/token/lookup-self", token=tok)
    assert_error(r, 403)
    # Looking a limited token up with another token does not use it.
    tok = create(dev_server, dev_server.root_token, policies=["default"], num_uses=1)["client_token"]
    for _ in range(3):
        assert post(dev_server, "auth/token/lookup", dev_server.root_token, {"token": tok}).status_code == 200
    assert lookup_self_status(dev_server, tok) == 200
    assert lookup_self_status(dev_server, tok) == 403
    # A refused request does not spend a use (as Vault): a single-use
    # token sent to the wrong path still works once where it is allowed.
    tok = create(dev_server, dev_server.root_token, policies=["default"], num_uses=1)["client_token"]
    for _ in range(3):
        assert dev_server.get("/v1/secret/data/not-mine", token=tok).status_code == 403
    assert lookup_self_status(dev_server, tok) == 200
    assert lookup_self_status(dev_server, tok) == 403


@pytest.mark.time_limit(30)
def test_expiry(dev_server):
    tok = create(dev_server, dev_server.root_token, policies=["default"], ttl="2s")["client_token"]
    assert lookup_self_status(dev_server, tok) == 200
    time.sleep(3.1)
    assert lookup_self_status(dev_server, tok) == 403
    assert post(dev_server, "auth/token/lookup", dev_server.root_token, {"token": tok}).status_code == 403


def test_cascade_revoke_and_orphans(srv):
    dev_server = srv
    root = dev_server.root_token
    a = create(dev_server, root, policies=["dev"])["client_token"]
    b = create(dev_server, a)["client_token"]
    c = create(dev_server, b)["client_token"]
    d = create(dev_server, a)["client_token"]
    o = post(dev_server, "auth/token/create-orphan", a, {}).json()["auth"]
    assert o["orphan"] is True
    for t in (a, b, c, d, o["client_token"]):
        assert lookup_self_status(dev_server, t) == 200

    hv = dev_server.client(root)
    r = hv.auth.token.revoke(a)
    assert r.status_code == 204
    for t in (a, b, c, d):
        assert lookup_self_status(dev_server, t) == 403
    assert lookup_self_status(dev_server, o["client_token"]) == 200

    # revoke-orphan keeps the children, as orphans.
    a = create(dev_server, root, policies=["dev"])["client_token"]
    b = create(dev_server, a)["client_token"]
    c = create(dev_server, b)["client_token"]
    # It is root-protected.
    assert_error(post(dev_server, "auth/token/revoke-orphan", b, {"token": a}), 403)
    assert hv.auth.token.revoke_and_orphan_children(a).status_code == 204
    assert lookup_self_status(dev_server, a) == 403
    info = dev_server.get("/v1/auth/token/lookup-self", token=b).json()["data"]
    assert info["orphan"] is True
    assert lookup_self_status(dev_server, c) == 200
    # revoke-self takes the subtree along.
    r = dev_server.request("PUT", "/v1/auth/token/revoke-self", token=b)
    assert r.status_code == 204
    assert lookup_self_status(dev_server, c) == 403


def test_accessors(dev_server):
    root = dev_server.root_token
    auth = create(dev_server, root, policies=["dev"])
    tok, acc = auth["client_token"], auth["accessor"]
    # An accessor is not a token.
    assert_error(dev_server.get("/v1/auth/token/lookup-self", token=acc), 403)
    hv = dev_server.client(root)
    keys = hv.auth.token.list_accessors()["data"]["keys"]
    assert acc in keys
    # Listing accessors needs sudo.
    r = dev_server.request("LIST", "/v1/auth/token/accessors", token=tok)
    assert_error(r, 403)
    renewed = hv.auth.token.renew_accessor(acc, increment="1h")["auth"]
    assert renewed["client_token"] == "" and renewed["lease_duration"] == 3600
    assert hv.auth.token.revoke_accessor(acc).status_code == 204
    assert lookup_self_status(dev_server, tok) == 403
    assert_error(post(dev_server, "auth/token/revoke-accessor", root, {"accessor": acc}), 400, "invalid accessor")


def test_renew(dev_server):
    root = dev_server.client(dev_server.root_token)
    auth = create(dev_server, dev_server.root_token, policies=["default"], ttl="10m", explicit_max_ttl="2h")
    tok = auth["client_token"]
    me = dev_server.client(tok)
    renewed = me.auth.token.renew_self(increment="1h")["auth"]
    assert renewed["client_token"] == tok
    assert renewed["lease_duration"] == 3600
    assert renewed["policies"] == ["default"]
    # Capped by explicit_max_ttl.
    r = me.auth.token.renew_self(increment="5h")
    assert 7100 <= r["auth"]["lease_duration"] <= 7200
    assert r["warnings"]
    info = me.auth.token.lookup_self()["data"]
    assert info["last_renewal_time"] >= info["creation_time"]
    assert root.auth.token.renew(tok, increment=600)["auth"]["lease_duration"] == 600
    # renew-self with no body (VSO's LifetimeWatcher): the creation TTL.
    r = dev_server.request("PUT", "/v1/auth/token/renew-self", token=tok)
    assert r.status_code == 200, r.text
    assert r.json()["auth"]["lease_duration"] == 600
    # Periodic tokens renew to the period.
    p = create(dev_server, dev_server.root_token, policies=["default"], period="30m")
    assert p["lease_duration"] == 1800
    r = post(dev_server, "auth/token/renew-self", p["client_token"], {"increment": "10h"})
    assert r.json()["auth"]["lease_duration"] == 1800
    # Not renewable.
    n = create(dev_server, dev_server.root_token, policies=["default"], renewable=False, ttl="1h")
    assert n["renewable"] is False
    assert_error(post(dev_server, "auth/token/renew-self", n["client_token"]), 400, "not renewable")
    assert_error(post(dev_server, "auth/token/renew", dev_server.root_token, {"token": "hvs.nope"}), 400)


def test_batch_tokens(srv):
    dev_server = srv
    auth = create(dev_server, dev_server.root_token, type="batch", policies=["dev"], ttl="1h")
    tok = auth["client_token"]
    assert tok.startswith("hvb.")
    assert auth["token_type"] == "batch" and auth["accessor"] == "" and auth["renewable"] is False
    info = dev_server.get("/v1/auth/token/lookup-self", token=tok).json()["data"]
    assert info["type"] == "batch" and info["policies"] == ["default", "dev"]
    assert_error(post(dev_server, "auth/token/create", tok, {}), 400, "batch tokens cannot create more tokens")
    assert_error(post(dev_server, "auth/token/revoke-self", tok), 400, "batch tokens cannot be revoked")
    assert_error(post(dev_server, "auth/token/revoke", dev_server.root_token, {"token": tok}), 400,
                 "batch tokens cannot be revoked")
    # Tampered: refused.
    bad = tok[:-6] + ("AAAAAA" if not tok.endswith("AAAAAA") else "BBBBBB")
    assert lookup_self_status(dev_server, bad) == 403
    # A batch token dies with its parent.
    parent = create(dev_server, dev_server.root_token, policies=["dev"])["client_token"]
    child = create(dev_server, parent, type="batch")["client_token"]
    assert lookup_self_status(dev_server, child) == 200
    post(dev_server, "auth/token/revoke", dev_server.root_token, {"token": parent})
    assert lookup_self_status(dev_server, child) == 403


def test_roles(srv):
    dev_server = srv
    root = dev_server.root_token
    hv = dev_server.client(root)
    with pytest.raises(hvac.exceptions.InvalidPath):
        hv.auth.token.list_roles()
    r = hv.auth.token.create_or_update_role("web", allowed_policies=["web", "db"], orphan=True, path_suffix="v1")
    assert r.status_code == 204
    r = post(dev_server, "auth/token/roles/globby", root,
             {"allowed_policies_glob": ["app-*"], "disallowed_policies_glob": ["app-secret*"],
              "token_period": "1h", "token_bound_cidrs": ["127.0.0.0/8"], "token_num_uses": 5,
              "token_type": "default-service"})
    assert r.status_code == 204, r.text
    role = hv.auth.token.read_role("web")["data"]
    assert ROLE_KEYS <= role.keys(), role
    assert role["allowed_policies"] == ["db", "web"]
    assert role["orphan"] is True and role["path_suffix"] == "v1"
    assert role["token_bound_cidrs"] == [] and role["token_type"] == "default-service"
    assert sorted(hv.auth.token.list_roles()["data"]["keys"]) == ["globby", "web"]
    r = dev_server.get("/v1/auth/token/roles?list=true", token=root)
    assert r.status_code == 200

    # A default-only token creates through the role what it could not alone.
    user = create(dev_server, root, policies=["dev"])["client_token"]
    auth = dev_server.client(user).auth.token.create(role_name="web", policies=["web"])["auth"]
    assert auth["policies"] == ["default", "web"] and auth["orphan"] is True
    info = dev_server.get("/v1/auth/token/lookup-self", token=auth["client_token"]).json()["data"]
    assert info["path"] == "auth/token/create/web/v1" and info["role"] == "web"
    assert_error(post(dev_server, "auth/token/create/web", user, {"policies": ["admin"]}), 400, "admin")

    auth = post(dev_server, "auth/token/create/globby", user, {"policies": ["app-front"]}).json()["auth"]
    assert auth["lease_duration"] == 3600 and auth["num_uses"] == 5
    assert_error(post(dev_server, "auth/token/create/globby", user, {"policies": ["app-secrets"]}), 400,
                 "disallowed")
    assert_error(post(dev_server, "auth/token/create/nope", user, {}), 400, "unknown role")

    assert hv.auth.token.delete_role("web").status_code == 204
    with pytest.raises(hvac.exceptions.InvalidPath):
        hv.auth.token.read_role("web")
    assert_error(post(dev_server, "auth/token/roles/bad", root, {"token_type": "weird"}), 400, "token_type")
    assert_error(post(dev_server, "auth/token/roles/bad", root, {"token_bound_cidrs": ["300.1.1.1/8"]}), 400)


def test_bound_cidrs(dev_server):
    root = dev_server.root_token
    post(dev_server, "auth/token/roles/far", root, {"token_bound_cidrs": ["10.99.0.0/16"]})
    post(dev_server, "auth/token/roles/near", root, {"token_bound_cidrs": ["127.0.0.0/8"]})
    far = post(dev_server, "auth/token/create/far", root, {"policies": ["default"]}).json()["auth"]["client_token"]
    near = post(dev_server, "auth/token/create/near", root, {"policies": ["default"]}).json()["auth"]["client_token"]
    assert lookup_self_status(dev_server, near) == 200
    assert lookup_self_status(dev_server, far) == 403


def test_tidy_and_capabilities_accessor(dev_server):
    root = dev_server.root_token
    r = post(dev_server, "auth/token/tidy", root)
    assert r.status_code == 200 and r.json()["warnings"]
    acc = dev_server.client(root).auth.token.lookup_self()["data"]["accessor"]
    r = post(dev_server, "sys/capabilities-accessor", root, {"accessor": acc, "paths": ["secret/x"]})
    assert r.status_code == 200, r.text
    assert_json_headers(r)
    body = r.json()
    assert body["data"]["secret/x"] == ["root"]
    assert body["secret/x"] == ["root"]  # top-level injection
