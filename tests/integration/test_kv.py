"""KV v1, KV v2 and cubbyhole over HTTP, with hvac 0.11.2 (the calls it
really makes) and raw requests where the wire shape matters: 404 bodies,
warnings, merge-patch, the v1 -> v2 upgrade by tune."""

import re

import pytest
from hvac import exceptions

from trove_harness import assert_error, assert_json_headers

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$")
INVALID_PATH = "Invalid path for a versioned K/V secrets engine"


@pytest.fixture
def root(dev_server):
    return dev_server.client(token=dev_server.root_token)


def req(srv, method, path, **kw):
    return srv.request(method, path, token=srv.root_token, **kw)


def version_meta_ok(meta, version, deleted=False, destroyed=False):
    assert set(meta) == {"created_time", "custom_metadata", "deletion_time", "destroyed", "version"}, meta
    assert RFC3339.match(meta["created_time"]), meta
    assert meta["version"] == version
    assert meta["destroyed"] is destroyed
    if deleted:
        assert RFC3339.match(meta["deletion_time"]), meta
    else:
        assert meta["deletion_time"] == ""


# --- kv v2 (dev mode mounts it at secret/) -----------------------------------------------------


def test_v2_write_read_envelope(dev_server, root):
    kv = root.secrets.kv.v2
    w = kv.create_or_update_secret(path="app/db", secret={"user": "u", "pass": "p"})
    assert isinstance(w, dict), w
    assert set(w["data"]) == {"created_time", "custom_metadata", "deletion_time", "destroyed", "version"}
    assert w["data"]["version"] == 1
    assert w["data"]["custom_metadata"] is None

    r = kv.read_secret_version(path="app/db")
    assert r["data"]["data"] == {"user": "u", "pass": "p"}
    version_meta_ok(r["data"]["metadata"], 1)
    for k in ("request_id", "lease_id", "renewable", "lease_duration", "wrap_info", "warnings", "auth"):
        assert k in r, r
    assert r["lease_id"] == ""

    kv.create_or_update_secret(path="app/db", secret={"user": "u2"})
    assert kv.read_secret_version(path="app/db")["data"]["data"] == {"user": "u2"}
    old = kv.read_secret_version(path="app/db", version=1)
    assert old["data"]["data"] == {"user": "u", "pass": "p"}
    assert old["data"]["metadata"]["version"] == 1

    raw = req(dev_server, "GET", "/v1/secret/data/app/db")
    assert raw.status_code == 200
    assert_json_headers(raw)


def test_v2_missing_is_404_with_empty_errors(dev_server, root):
    with pytest.raises(exceptions.InvalidPath):
        root.secrets.kv.v2.read_secret_version(path="nope")
    r = req(dev_server, "GET", "/v1/secret/data/nope")
    assert r.status_code == 404
    assert r.json() == {"errors": []}
    r = req(dev_server, "GET", "/v1/secret/data/nope", params={"version": "3"})
    assert r.status_code == 404
    r = req(dev_server, "GET", "/v1/secret/metadata/nope")
    assert r.status_code == 404


def test_v2_cas(dev_server, root):
    kv = root.secrets.kv.v2
    kv.create_or_update_secret(path="c", secret={"a": 1}, cas=0)
    with pytest.raises(exceptions.InvalidRequest) as e:
        kv.create_or_update_secret(path="c", secret={"a": 2}, cas=0)
    assert "check-and-set parameter did not match the current version" in str(e.value)
    kv.create_or_update_secret(path="c", secret={"a": 2}, cas=1)

    kv.configure(max_versions=10, cas_required=True)
    cfg = kv.read_configuration()["data"]
    assert cfg == {"max_versions": 10, "cas_required": True, "delete_version_after": "0s"}
    r = req(dev_server, "POST", "/v1/secret/data/c", json={"data": {"a": 3}})
    assert_error(r, 400, "check-and-set parameter required for this call")
    kv.create_or_update_secret(path="c", secret={"a": 3}, cas=2)
    kv.configure(max_versions=0, cas_required=False)

    kv.update_metadata(path="c", cas_required=True)
    with pytest.raises(exceptions.InvalidRequest):
        kv.create_or_update_secret(path="c", secret={"a": 4})
    assert kv.read_secret_metadata(path="c")["data"]["cas_required"] is True


def test_v2_write_validation(dev_server):
    assert_error(req(dev_server, "POST", "/v1/secret/data/v", json={"options": {}}), 400, "no data provided")
    assert_error(req(dev_server, "POST", "/v1/secret/data/v", json={"data": "x"}), 400, "data")
    assert_error(req(dev_server, "POST", "/v1/secret/data/v", json={"data": {}, "options": {"cas": "x"}}), 400,
                 "cas")


def test_v2_hvac_patch_and_http_patch(dev_server, root):
    kv = root.secrets.kv.v2
    with pytest.raises(exceptions.InvalidPath):
        kv.patch(path="p", secret={"a": 1})
    kv.create_or_update_secret(path="p", secret={"keep": "k", "drop": "d", "nest": {"x": 1, "y": 2}})
    kv.patch(path="p", secret={"new": "n"})  # read, then write with cas
    assert kv.read_secret_version(path="p")["data"]["data"] == {
        "keep": "k", "drop": "d", "nest": {"x": 1, "y": 2}, "new": "n"}

    r = req(dev_server, "PATCH", "/v1/secret/data/p",
            headers={"Content-Type": "application/merge-patch+json"},
            json={"data": {"drop": None, "nest": {"y": None, "z": 3}}, "options": {"cas": 2}})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["version"] == 3
    assert kv.read_secret_version(path="p")["data"]["data"] == {
        "keep": "k", "nest": {"x": 1, "z": 3}, "new": "n"}

    r = req(dev_server, "PATCH", "/v1/secret/data/p", headers={"Content-Type": "application/json"},
            json={"data": {"a": 1}})
    assert r.status_code == 415, r.text
    r = req(dev_server, "PATCH", "/v1/secret/data/absent",
            headers={"Content-Type": "application/merge-patch+json"}, json={"data": {"a": 1}})
    assert r.status_code == 404, r.text


def test_v2_deleted_and_destroyed_404_with_body(dev_server, root):
    kv = root.secrets.kv.v2
    kv.create_or_update_secret(path="d", secret={"v": 1})
    kv.create_or_update_secret(path="d", secret={"v": 2})
    kv.delete_latest_version_of_secret(path="d")

    r = req(dev_server, "GET", "/v1/secret/data/d")
    assert r.status_code == 404
    assert_json_headers(r)
    body = r.json()
    assert body["data"]["data"] is None
    version_meta_ok(body["data"]["metadata"], 2, deleted=True)
    assert "request_id" in body
    with pytest.raises(exceptions.InvalidPath):
        kv.read_secret_version(path="d")
    assert kv.read_secret_version(path="d", version=1)["data"]["data"] == {"v": 1}

    kv.undelete_secret_versions(path="d", versions=[2])
    assert kv.read_secret_version(path="d")["data"]["data"] == {"v": 2}

    kv.delete_secret_versions(path="d", versions=[1, 2])
    assert req(dev_server, "GET", "/v1/secret/data/d", params={"version": 1}).status_code == 404
    kv.undelete_secret_versions(path="d", versions=[1])
    assert kv.read_secret_version(path="d", version=1)["data"]["data"] == {"v": 1}

    kv.destroy_secret_versions(path="d", versions=[1])
    r = req(dev_server, "GET", "/v1/secret/data/d", params={"version": "1"})
    assert r.status_code == 404
    version_meta_ok(r.json()["data"]["metadata"], 1, destroyed=True)
    assert r.json()["data"]["data"] is None
    meta = kv.read_secret_metadata(path="d")["data"]
    assert meta["versions"]["1"]["destroyed"] is True
    assert meta["versions"]["2"]["destroyed"] is False

    assert_error(req(dev_server, "POST", "/v1/secret/destroy/d", json={"versions": []}), 400,
                 "no version number provided")
    assert_error(req(dev_server, "PUT", "/v1/secret/delete/d", json={}), 400, "no version number provided")


def test_v2_metadata(dev_server, root):
    kv = root.secrets.kv.v2
    kv.create_or_update_secret(path="m", secret={"a": 1})
    kv.update_metadata(path="m", max_versions=5, delete_version_after="1h")
    meta = kv.read_secret_metadata(path="m")["data"]
    assert set(meta) >= {"cas_required", "created_time", "current_version", "custom_metadata",
                         "delete_version_after", "max_versions", "oldest_version", "updated_time", "versions"}
    assert meta["max_versions"] == 5
    assert meta["delete_version_after"] == "1h0m0s"
    assert meta["current_version"] == 1
    assert meta["custom_metadata"] is None
    assert RFC3339.match(meta["created_time"]) and RFC3339.match(meta["updated_time"])
    assert set(meta["versions"]["1"]) == {"created_time", "deletion_time", "destroyed"}

    r = req(dev_server, "POST", "/v1/secret/metadata/m", json={"custom_metadata": {"owner": "jdoe", "x": "1"}})
    assert r.status_code == 204, r.text
    got = kv.read_secret_version(path="m")["data"]["metadata"]["custom_metadata"]
    assert got == {"owner": "jdoe", "x": "1"}

    r = req(dev_server, "PATCH", "/v1/secret/metadata/m",
            headers={"Content-Type": "application/merge-patch+json"},
            json={"custom_metadata": {"x": None, "y": "2"}})
    assert r.status_code == 204, r.text
    assert kv.read_secret_metadata(path="m")["data"]["custom_metadata"] == {"owner": "jdoe", "y": "2"}

    too_many = {f"k{i}": "v" for i in range(65)}
    assert_error(req(dev_server, "POST", "/v1/secret/metadata/m", json={"custom_metadata": too_many}), 400,
                 "custom_metadata")
    assert_error(req(dev_server, "POST", "/v1/secret/metadata/m", json={"custom_metadata": {"k" * 129: "v"}}),
                 400, "custom_metadata")
    assert_error(req(dev_server, "POST", "/v1/secret/metadata/m", json={"custom_metadata": {"k": "v" * 513}}),
                 400, "custom_metadata")

    kv.delete_metadata_and_all_versions(path="m")
    with pytest.raises(exceptions.InvalidPath):
        kv.read_secret_metadata(path="m")
    with pytest.raises(exceptions.InvalidPath):
        kv.read_secret_version(path="m")


def test_v2_max_versions_pruning(root):
    kv = root.secrets.kv.v2
    kv.update_metadata(path="pr", max_versions=2)
    for i in range(4):
        kv.create_or_update_secret(path="pr", secret={"i": i})
    meta = kv.read_secret_metadata(path="pr")["data"]
    assert sorted(meta["versions"]) == ["3", "4"]
    assert meta["oldest_version"] == 3
    assert meta["current_version"] == 4
    with pytest.raises(exceptions.InvalidPath):
        kv.read_secret_version(path="pr", version=1)


def test_v2_list(dev_server, root):
    kv = root.secrets.kv.v2
    with pytest.raises(exceptions.InvalidPath):
        kv.list_secrets(path="")
    kv.create_or_update_secret(path="dir/a", secret={"x": 1})
    kv.create_or_update_secret(path="dir/sub/b", secret={"x": 1})
    kv.create_or_update_secret(path="top", secret={"x": 1})
    assert kv.list_secrets(path="")["data"]["keys"] == ["dir/", "top"]
    assert kv.list_secrets(path="dir")["data"]["keys"] == ["a", "sub/"]
    r = req(dev_server, "GET", "/v1/secret/metadata/dir/", params={"list": "true"})
    assert r.json()["data"]["keys"] == ["a", "sub/"]
    r = req(dev_server, "LIST", "/v1/secret/metadata/empty/")
    assert r.status_code == 404
    assert r.json() == {"errors": []}


def test_v2_subkeys(dev_server, root):
    root.secrets.kv.v2.create_or_update_secret(path="s", secret={"foo": "abc", "bar": {"baz": "d"}, "quux": {}})
    r = req(dev_server, "GET", "/v1/secret/subkeys/s")
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["subkeys"] == {"foo": None, "bar": {"baz": None}, "quux": None}
    version_meta_ok(d["metadata"], 1)
    r = req(dev_server, "GET", "/v1/secret/subkeys/s", params={"depth": "1"})
    assert r.json()["data"]["subkeys"] == {"foo": None, "bar": None, "quux": None}
    assert_error(req(dev_server, "GET", "/v1/secret/subkeys/s", params={"depth": "x"}), 400, "depth")


def test_v2_config_roundtrip(root):
    kv = root.secrets.kv.v2
    assert kv.read_configuration()["data"] == {"max_versions": 0, "cas_required": False,
                                               "delete_version_after": "0s"}
    kv.configure(max_versions=7, delete_version_after="3h25m19s")
    assert kv.read_configuration()["data"] == {"max_versions": 7, "cas_required": False,
                                               "delete_version_after": "3h25m19s"}


def test_v2_delete_version_after(dev_server, root):
    import time

    kv = root.secrets.kv.v2
    kv.update_metadata(path="ttl", delete_version_after="1s")
    w = kv.create_or_update_secret(path="ttl", secret={"a": 1})
    assert RFC3339.match(w["data"]["deletion_time"])
    assert kv.read_secret_version(path="ttl")["data"]["data"] == {"a": 1}
    time.sleep(1.3)
    r = req(dev_server, "GET", "/v1/secret/data/ttl")
    assert r.status_code == 404
    assert r.json()["data"]["data"] is None


def test_v2_unversioned_path_warns(dev_server):
    for method, verb in (("GET", "get"), ("PUT", "put"), ("DELETE", "delete"), ("LIST", "list")):
        kw = {"json": {"a": "b"}} if method == "PUT" else {}
        r = req(dev_server, method, "/v1/secret/foo", **kw)
        assert r.status_code == 404, (method, r.text)
        body = r.json()
        assert body.get("data") is None
        assert any(INVALID_PATH in w and f"kv {verb}" in w for w in body["warnings"]), body


# --- kv v1 ----------------------------------------------------------------------------------------


@pytest.fixture
def kv1(root):
    root.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    return root


def test_v1_hvac(dev_server, kv1):
    kv = kv1.secrets.kv.v1
    with pytest.raises(exceptions.InvalidPath):
        kv.read_secret(path="a", mount_point="kv1")
    r = kv.create_or_update_secret(path="a", secret={"k": "v", "n": 1, "obj": {"x": [1, 2]}}, mount_point="kv1")
    assert r.status_code == 204
    r = kv.create_or_update_secret(path="a", secret={"k": "v2"}, mount_point="kv1")  # PUT: replaces
    assert r.status_code == 204
    got = kv.read_secret(path="a", mount_point="kv1")
    assert got["data"] == {"k": "v2"}
    assert got["lease_duration"] == 2764800
    assert got["renewable"] is False

    kv.create_or_update_secret(path="t", secret={"v": "1", "ttl": "1h"}, mount_point="kv1", method="POST")
    assert kv.read_secret(path="t", mount_point="kv1")["lease_duration"] == 3600

    kv.create_or_update_secret(path="dir/b", secret={"v": "1"}, mount_point="kv1")
    assert kv.list_secrets(path="", mount_point="kv1")["data"]["keys"] == ["a", "dir/", "t"]
    assert kv.list_secrets(path="dir", mount_point="kv1")["data"]["keys"] == ["b"]
    with pytest.raises(exceptions.InvalidPath):
        kv.list_secrets(path="none", mount_point="kv1")

    assert kv.delete_secret(path="a", mount_point="kv1").status_code == 204
    r = req(dev_server, "GET", "/v1/kv1/a")
    assert r.status_code == 404
    assert r.json() == {"errors": []}


def test_v1_no_unknown_field_warnings(dev_server, kv1):
    r = req(dev_server, "POST", "/v1/kv1/w", json={"anything": "goes", "nested": {"a": None}})
    assert r.status_code == 204, r.text
    assert req(dev_server, "GET", "/v1/kv1/w").json()["data"] == {"anything": "goes", "nested": {"a": None}}


# --- v1 -> v2 upgrade -----------------------------------------------------------------------------


def test_upgrade_v1_to_v2_by_tune(dev_server, kv1):
    kv1.secrets.kv.v1.create_or_update_secret(path="app/db", secret={"user": "u", "pass": "p"},
                                              mount_point="kv1")
    kv1.secrets.kv.v1.create_or_update_secret(path="top", secret={"n": 1}, mount_point="kv1")

    kv1.sys.tune_mount_configuration(path="kv1", options={"version": "2"})
    mounts = req(dev_server, "GET", "/v1/sys/mounts").json()["data"]
    assert mounts["kv1/"]["options"]["version"] == "2"

    kv = kv1.secrets.kv.v2
    r = kv.read_secret_version(path="app/db", mount_point="kv1")
    assert r["data"]["data"] == {"user": "u", "pass": "p"}
    version_meta_ok(r["data"]["metadata"], 1)
    assert kv.list_secrets(path="", mount_point="kv1")["data"]["keys"] == ["app/", "top"]
    w = kv.create_or_update_secret(path="top", secret={"n": 2}, cas=1, mount_point="kv1")
    assert w["data"]["version"] == 2

    # Downgrade is refused and the data stays versioned.
    r = req(dev_server, "POST", "/v1/sys/mounts/kv1/tune", json={"options": {"version": "1"}})
    assert r.status_code == 400, r.text
    assert kv.read_secret_version(path="top", mount_point="kv1")["data"]["data"] == {"n": 2}


# --- cubbyhole ------------------------------------------------------------------------------------


def test_cubbyhole_is_private_per_token(dev_server, root):
    root.write("cubbyhole/x", secret="root-only")
    assert root.read("cubbyhole/x")["data"] == {"secret": "root-only"}

    child_tok = root.auth.token.create(policies=["root"])["auth"]["client_token"]
    child = dev_server.client(token=child_tok)
    assert child.read("cubbyhole/x") is None  # hvac maps 404 to None
    child.write("cubbyhole/x", secret="child")
    child.write("cubbyhole/dir/y", v="1")
    assert child.read("cubbyhole/x")["data"] == {"secret": "child"}
    assert root.read("cubbyhole/x")["data"] == {"secret": "root-only"}
    assert child.list("cubbyhole/")["data"]["keys"] == ["dir/", "x"]
    assert root.list("cubbyhole/")["data"]["keys"] == ["x"]

    r = dev_server.request("GET", "/v1/cubbyhole/x", token=child_tok)
    assert r.json()["lease_duration"] == 0

    child.delete("cubbyhole/x")
    assert child.read("cubbyhole/x") is None
    assert root.read("cubbyhole/x")["data"] == {"secret": "root-only"}

    root.auth.token.revoke(child_tok)
    # The revoked token can no longer reach anything, and root's entry stays.
    assert dev_server.request("GET", "/v1/cubbyhole/dir/y", token=child_tok).status_code == 403
    assert root.read("cubbyhole/x")["data"] == {"secret": "root-only"}


def test_deeply_nested_values(dev_server, root):
    """Nesting up to the body limit (64 levels) round-trips through write,
    read, patch and subkeys; deeper input is a clear 400, never a crash."""
    t = dev_server.root_token
    for depth, want in ((62, 200), (63, 400), (3000, 400)):
        body = '{"data": {"d": ' + '{"a": ' * depth + '"x"' + '}' * depth + '}}'
        r = dev_server.request("POST", f"/v1/secret/data/deep{depth}", token=t, data=body)
        assert r.status_code == want, r.text[:200]
        if want != 200:
            assert "nesting deeper than 64 levels" in r.text
            continue
        assert dev_server.get(f"/v1/secret/data/deep{depth}", token=t).status_code == 200
        r = dev_server.request("PATCH", f"/v1/secret/data/deep{depth}", token=t, data=body,
                               headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text[:200]
        assert dev_server.get(f"/v1/secret/subkeys/deep{depth}", token=t).status_code == 200
