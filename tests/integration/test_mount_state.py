"""Per-mount state against the real server: what one mount keeps in memory
(its user lockout table, kv-v2's settings and caches) belongs to that
mount alone, lives through tune and remount, and goes when it is disabled.

The lockout tests run a config-file server with a small
user_lockout_max_entries, so a handful of failed logins fills one mount's
table."""
import pytest

LOCKOUT_MAX = 16  # the smallest table the config allows


def enable(srv, table, path, type="userpass", **body):
    """POST sys/<table>/<path> (table: "auth" or "mounts")."""
    r = srv.request("POST", f"/v1/sys/{table}/{path}", token=srv.root_token, json={"type": type, **body})
    assert r.status_code == 204, r.text


def user(srv, mount, name, password):
    r = srv.request("POST", f"/v1/auth/{mount}/users/{name}", token=srv.root_token, json={"password": password})
    assert r.status_code == 204, r.text


def login(srv, mount, name, password):
    return srv.request("POST", f"/v1/auth/{mount}/login/{name}", json={"password": password})


def locked_users(srv):
    r = srv.get("/v1/sys/locked-users", token=srv.root_token)
    assert r.status_code == 200, r.text
    return r.json()["data"]


@pytest.fixture
def small_tables(config_server):
    srv = config_server(top_extra=f"user_lockout_max_entries = {LOCKOUT_MAX}\n")
    srv.init(1, 1)
    srv.unseal()
    return srv


@pytest.mark.time_limit(120)
def test_a_full_lockout_table_on_one_mount_leaves_another_alone(small_tables):
    srv = small_tables
    enable(srv, "auth", "upa")
    enable(srv, "auth", "upb")
    user(srv, "upb", "dave", "dave-pw")
    # Fill upa's table with names still counting failures.
    for i in range(LOCKOUT_MAX):
        assert login(srv, "upa", f"flood-{i}", "x").status_code == 400
    r = login(srv, "upa", "one-more", "x")
    assert r.status_code == 429 and r.json() == {"errors": ["too many failed logins; try again later"]}, r.text
    # upb has a table of its own: its users log in, and its failures count.
    assert login(srv, "upb", "dave", "dave-pw").status_code == 200
    assert login(srv, "upb", "nobody", "x").status_code == 400
    for _ in range(5):
        assert login(srv, "upb", "dave", "wrong").status_code == 400
    assert login(srv, "upb", "dave", "dave-pw").status_code == 403
    data = locked_users(srv)
    assert data["total"] == 1, data
    accessors = data["by_namespace"][0]["mount_accessors"]
    assert [a["alias_identifiers"] for a in accessors] == [["dave"]], accessors


@pytest.mark.time_limit(120)
def test_a_lock_lives_through_tune_and_remount_and_goes_with_the_mount(small_tables):
    srv = small_tables
    enable(srv, "auth", "upa")
    user(srv, "upa", "ann", "ann-pw")
    for _ in range(5):
        assert login(srv, "upa", "ann", "wrong").status_code == 400
    assert login(srv, "upa", "ann", "ann-pw").status_code == 403
    r = srv.request("POST", "/v1/sys/auth/upa/tune", token=srv.root_token, json={"description": "tuned"})
    assert r.status_code == 204, r.text
    assert login(srv, "upa", "ann", "ann-pw").status_code == 403
    r = srv.request("POST", "/v1/sys/remount", token=srv.root_token, json={"from": "auth/upa", "to": "auth/upc"})
    assert r.status_code in (200, 204), r.text
    assert login(srv, "upc", "ann", "ann-pw").status_code == 403
    assert locked_users(srv)["total"] == 1
    r = srv.request("DELETE", "/v1/sys/auth/upc", token=srv.root_token)
    assert r.status_code == 204, r.text
    assert locked_users(srv) == {"by_namespace": [], "total": 0}
    enable(srv, "auth", "upa")
    user(srv, "upa", "ann", "ann-pw")
    assert login(srv, "upa", "ann", "ann-pw").status_code == 200


def kv_config(srv, mount):
    r = srv.get(f"/v1/{mount}/config", token=srv.root_token)
    assert r.status_code == 200, r.text
    return r.json()["data"]


@pytest.mark.time_limit(120)
def test_kv2_settings_are_per_mount_and_stored(small_tables):
    srv = small_tables
    for m in ("kva", "kvb"):
        enable(srv, "mounts", m, type="kv", options={"version": "2"})
    r = srv.request("POST", "/v1/kva/config", token=srv.root_token,
                    json={"max_versions": 2, "cas_required": True, "delete_version_after": "1h"})
    assert r.status_code == 204, r.text
    r = srv.request("POST", "/v1/kva/config", token=srv.root_token, json={"max_versions": -1})
    assert r.status_code == 400 and r.json() == {"errors": ["max_versions: must not be negative"]}, r.text
    assert kv_config(srv, "kva") == {"cas_required": True, "delete_version_after": "1h0m0s", "max_versions": 2}
    assert kv_config(srv, "kvb") == {"cas_required": False, "delete_version_after": "0s", "max_versions": 0}
    # kva's settings apply to kva only.
    for i in range(3):
        r = srv.request("POST", "/v1/kva/data/s", token=srv.root_token, json={"data": {"n": i}, "options": {"cas": i}})
        assert r.status_code == 200, r.text
        r = srv.request("POST", "/v1/kvb/data/s", token=srv.root_token, json={"data": {"n": i}})
        assert r.status_code == 200, r.text
    assert srv.request("POST", "/v1/kva/data/t", token=srv.root_token, json={"data": {}}).status_code == 400
    assert sorted(srv.get("/v1/kva/metadata/s", token=srv.root_token).json()["data"]["versions"]) == ["2", "3"]
    assert len(srv.get("/v1/kvb/metadata/s", token=srv.root_token).json()["data"]["versions"]) == 3
    # A tune keeps them; a restart reads them back from storage.
    r = srv.request("POST", "/v1/sys/mounts/kva/tune", token=srv.root_token, json={"description": "tuned"})
    assert r.status_code == 204, r.text
    assert kv_config(srv, "kva")["max_versions"] == 2
    srv.restart()
    srv.unseal()
    assert kv_config(srv, "kva") == {"cas_required": True, "delete_version_after": "1h0m0s", "max_versions": 2}
    # Disabling kvb leaves kva's secrets and settings as they were.
    assert srv.request("DELETE", "/v1/sys/mounts/kvb", token=srv.root_token).status_code == 204
    r = srv.get("/v1/kva/data/s", token=srv.root_token)
    assert r.status_code == 200 and r.json()["data"]["data"] == {"n": 2}, r.text
    assert kv_config(srv, "kva")["cas_required"] is True
