"""Mount tables over the API and through hvac: sys/mounts, sys/auth, tune,
remount, sys/internal/ui/mounts, conflicts, reserved paths, persistence
across restarts, and deletion of a mount's data when it is disabled."""

import hvac.exceptions
import pytest

from trove_harness import assert_error


def test_builtin_mounts_listed(dev_server):
    c = dev_server.client(dev_server.root_token)
    mounts = c.sys.list_mounted_secrets_engines()
    data = mounts["data"]
    assert data["sys/"]["type"] == "system"
    assert data["cubbyhole/"]["type"] == "cubbyhole"
    assert data["cubbyhole/"]["local"] is True
    assert data["identity/"]["type"] == "identity"
    # The legacy top-level copy of data (older clients read it).
    assert mounts["sys/"] == data["sys/"]
    for m in data.values():
        assert set(m) >= {"accessor", "config", "description", "local", "options", "seal_wrap", "type", "uuid"}
        assert len(m["uuid"]) == 36
    auths = c.sys.list_auth_methods()["data"]
    assert auths["token/"]["type"] == "token"
    assert auths["token/"]["accessor"].startswith("auth_token_")


def test_enable_tune_move_disable(dev_server):
    c = dev_server.client(dev_server.root_token)
    c.sys.enable_secrets_engine("kv", path="team-a", description="team A", options={"version": "1"},
                                config={"default_lease_ttl": "1h", "max_lease_ttl": "2h"})
    m = c.sys.list_mounted_secrets_engines()["data"]["team-a/"]
    assert m["type"] == "kv"
    assert m["description"] == "team A"
    assert m["options"] == {"version": "1"}
    assert m["config"]["default_lease_ttl"] == 3600
    assert m["config"]["max_lease_ttl"] == 7200
    assert m["accessor"].startswith("kv_")

    # A single mount, by longest prefix (the Go client and Terraform use it).
    r = dev_server.get("/v1/sys/mounts/team-a/some/deeper/path", token=dev_server.root_token)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["uuid"] == m["uuid"]

    tune = c.sys.read_mount_configuration("team-a")
    assert tune["data"]["default_lease_ttl"] == 3600
    c.sys.tune_mount_configuration("team-a", default_lease_ttl="30m", description="team A secrets",
                                   audit_non_hmac_request_keys=["username"], listing_visibility="unauth")
    tune = c.sys.read_mount_configuration("team-a")["data"]
    assert tune["default_lease_ttl"] == 1800
    assert tune["description"] == "team A secrets"
    assert tune["audit_non_hmac_request_keys"] == ["username"]
    assert tune["listing_visibility"] == "unauth"
    # Tuning never changes identity.
    m2 = c.sys.list_mounted_secrets_engines()["data"]["team-a/"]
    assert (m2["uuid"], m2["accessor"]) == (m["uuid"], m["accessor"])

    c.sys.move_backend("team-a", "team-b")
    data = c.sys.list_mounted_secrets_engines()["data"]
    assert "team-a/" not in data
    assert data["team-b/"]["uuid"] == m["uuid"]

    # The move reports a migration id whose status can be polled.
    r = dev_server.request("POST", "/v1/sys/remount", token=dev_server.root_token,
                           json={"from": "team-b", "to": "team-c"})
    assert r.status_code == 200, r.text
    mid = r.json()["data"]["migration_id"]
    st = dev_server.get(f"/v1/sys/remount/status/{mid}", token=dev_server.root_token).json()["data"]
    assert st["migration_info"]["status"] == "success"
    assert st["migration_info"]["target_mount"] == "team-c"
    assert dev_server.get("/v1/sys/remount/status/nope", token=dev_server.root_token).status_code == 404
    c.sys.move_backend("team-c", "team-b")
    c.sys.disable_secrets_engine("team-b")
    assert "team-b/" not in c.sys.list_mounted_secrets_engines()["data"]
    r = dev_server.get("/v1/sys/mounts/team-b", token=dev_server.root_token)
    assert_error(r, 400, "No secret engine mount at team-b/")


def test_conflicts_and_bad_input(dev_server):
    t = dev_server.root_token
    c = dev_server.client(t)
    c.sys.enable_secrets_engine("kv", path="apps/payments")
    for p in ("apps/payments", "apps", "apps/payments/prod"):
        r = dev_server.request("POST", f"/v1/sys/mounts/{p}", token=t, json={"type": "kv"})
        assert_error(r, 409, "path is already in use at apps/payments/")
    for p in ("sys", "sys/foo", "auth", "cubbyhole", "identity"):
        r = dev_server.request("POST", f"/v1/sys/mounts/{p}", token=t, json={"type": "kv"})
        assert r.status_code == 400, (p, r.text)
    r = dev_server.request("POST", "/v1/sys/mounts/x", token=t, json={"type": "no-such-engine"})
    assert_error(r, 400, "no-such-engine")
    r = dev_server.request("POST", "/v1/sys/mounts/x", token=t, json={})
    assert_error(r, 400, "type")
    r = dev_server.request("POST", "/v1/sys/mounts/x", token=t, json={"type": "kv", "config": {"max_lease_ttl": "soon"}})
    assert_error(r, 400, "max_lease_ttl")
    r = dev_server.request("POST", "/v1/sys/mounts/x", token=t, json={"type": "kv", "options": {"version": [2]}})
    assert_error(r, 400, "options")
    r = dev_server.request("POST", "/v1/sys/mounts/x", token=t, json={"type": "kv", "config": "nope"})
    assert r.status_code == 400
    # Built-in mounts cannot be removed.
    for p in ("sys", "cubbyhole"):
        r = dev_server.request("DELETE", f"/v1/sys/mounts/{p}", token=t)
        assert r.status_code == 400, (p, r.text)
    r = dev_server.request("DELETE", "/v1/sys/auth/token", token=t)
    assert r.status_code == 400
    # Tune of a missing mount names it (Terraform matches this text).
    r = dev_server.request("POST", "/v1/sys/mounts/ghost/tune", token=t, json={"default_lease_ttl": 60})
    assert_error(r, 400, "No secret engine mount at ghost/")
    r = dev_server.get("/v1/sys/auth/ghost", token=t)
    assert_error(r, 400, "No auth engine at ghost/")


def test_mount_admin_needs_a_privileged_token(dev_server):
    r = dev_server.request("POST", "/v1/sys/mounts/x", json={"type": "kv"})
    assert r.status_code == 403
    r = dev_server.request("POST", "/v1/sys/mounts/x", token="hvs.notatoken", json={"type": "kv"})
    assert r.status_code == 403
    r = dev_server.get("/v1/sys/mounts")
    assert r.status_code == 403


def test_ui_mounts(dev_server):
    t = dev_server.root_token
    c = dev_server.client(t)
    c.sys.enable_secrets_engine("kv", path="listed", config={"listing_visibility": "unauth"})
    c.sys.enable_secrets_engine("kv", path="hidden-kv")
    anon = dev_server.get("/v1/sys/internal/ui/mounts").json()["data"]
    assert "listed/" in anon["secret"]
    assert "hidden-kv/" not in anon["secret"]
    rooted = dev_server.get("/v1/sys/internal/ui/mounts", token=t).json()["data"]
    assert "hidden-kv/" in rooted["secret"]
    one = dev_server.get("/v1/sys/internal/ui/mounts/hidden-kv/a/b", token=t)
    assert one.status_code == 200, one.text
    assert one.json()["data"]["path"] == "hidden-kv/"
    assert one.json()["data"]["type"] == "kv"
    r = dev_server.get("/v1/sys/internal/ui/mounts/hidden-kv/a")
    assert r.status_code == 403
    r = dev_server.get("/v1/sys/internal/ui/mounts/nothing-here", token=t)
    assert r.status_code == 403


def test_auth_mounts_enable_tune_disable(dev_server):
    t = dev_server.root_token
    c = dev_server.client(t)
    # Only built-in auth methods exist so far; the token method cannot be
    # enabled twice, and unknown types are refused.
    r = dev_server.request("POST", "/v1/sys/auth/other-token", token=t, json={"type": "token"})
    assert r.status_code == 400
    r = dev_server.request("POST", "/v1/sys/auth/x", token=t, json={"type": "no-such-method"})
    assert_error(r, 400, "no-such-method")
    tune = c.sys.read_auth_method_tuning("token")["data"]
    assert tune["default_lease_ttl"] == 2764800
    c.sys.tune_auth_method("token", default_lease_ttl="1h")
    assert c.sys.read_auth_method_tuning("token")["data"]["default_lease_ttl"] == 3600
    # The Go client tunes auth mounts through sys/mounts/auth/<path>/tune.
    r = dev_server.get("/v1/sys/mounts/auth/token/tune", token=t)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["default_lease_ttl"] == 3600


def test_mounts_survive_restart_and_disable_deletes_data(unsealed_server):
    srv = unsealed_server
    t = srv.root_token
    c = srv.client(t)
    c.sys.enable_secrets_engine("kv", path="keep", options={"version": "1"})
    c.sys.enable_secrets_engine("kv", path="drop", options={"version": "1"})
    assert srv.request("POST", "/v1/keep/a", token=t, json={"v": "1"}).status_code == 204
    assert srv.request("POST", "/v1/drop/b", token=t, json={"v": "2"}).status_code == 204
    before = c.sys.list_mounted_secrets_engines()["data"]
    srv.proc.restart()
    srv.unseal()
    after = c.sys.list_mounted_secrets_engines()["data"]
    assert after["keep/"]["uuid"] == before["keep/"]["uuid"]
    assert srv.get("/v1/keep/a", token=t).json()["data"] == {"v": "1"}
    c.sys.disable_secrets_engine("drop")
    # Mounting again at the same path starts empty.
    c.sys.enable_secrets_engine("kv", path="drop", options={"version": "1"})
    assert srv.get("/v1/drop/b", token=t).status_code == 404
