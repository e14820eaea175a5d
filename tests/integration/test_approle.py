"""auth/approle through hvac (the calls real clients make) and raw HTTP.

Covers role CRUD shapes, role IDs (custom, unique), secret IDs (generated,
custom, lookup, destroy by ID and by accessor, listing, metadata given as
a JSON string), login (policies, metadata, batch tokens, messages),
num_uses (the last use works, the next fails, concurrent logins never
overspend), TTL expiry before tidy, CIDR restrictions on the secret ID,
the role and the issued token, tidy, and that a secret ID never appears
in clear in storage files, server output or an audit log."""

import base64
import json
import re
import secrets
import threading
import time
import uuid

import pytest
from hvac import exceptions

from trove_harness import assert_error

MOUNT = "approle"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
INVALID = "invalid role or secret ID"


def enable(srv, path=MOUNT):
    r = srv.request("POST", f"/v1/sys/auth/{path}", token=srv.root_token, json={"type": "approle"})
    assert r.status_code == 204, r.text


def login_raw(srv, role_id, secret_id=None, mount=MOUNT):
    body = {"role_id": role_id}
    if secret_id is not None:
        body["secret_id"] = secret_id
    return srv.request("POST", f"/v1/auth/{mount}/login", json=body)


def put_policy(srv, name, rules):
    r = srv.request("PUT", f"/v1/sys/policy/{name}", token=srv.root_token, json={"policy": rules})
    assert r.status_code == 204, r.text


def assert_no_canary(data, canaries, where):
    for c in canaries:
        forms = [c.encode(), c.encode().hex().encode(), base64.b64encode(c.encode()).rstrip(b"=")]
        for f in forms:
            assert f not in data, f"{c!r} found in {where}"


@pytest.fixture
def ar(dev_server):
    enable(dev_server)
    dev_server.hv = dev_server.client(dev_server.root_token)
    return dev_server


def new_role(srv, name, **kw):
    srv.hv.auth.approle.create_or_update_approle(name, mount_point=MOUNT, **kw)
    role_id = srv.hv.auth.approle.read_role_id(name, mount_point=MOUNT)["data"]["role_id"]
    return role_id


def gen(srv, name, **kw):
    return srv.hv.auth.approle.generate_secret_id(name, mount_point=MOUNT, **kw)["data"]


# --- roles ------------------------------------------------------------------


def test_role_crud_shapes(ar):
    hv = ar.hv.auth.approle
    hv.create_or_update_approle(
        "web",
        token_policies=["p1", "p2"],
        token_ttl="10m",
        token_max_ttl="1h",
        secret_id_ttl="30m",
        secret_id_num_uses=40,
        secret_id_bound_cidrs=["127.0.0.0/8", "10.0.0.0/8"],
        token_bound_cidrs=["127.0.0.1"],
        mount_point=MOUNT,
    )
    d = hv.read_role("web", mount_point=MOUNT)["data"]
    assert d["bind_secret_id"] is True
    assert d["secret_id_bound_cidrs"] == ["127.0.0.0/8", "10.0.0.0/8"]
    assert d["secret_id_num_uses"] == 40
    assert d["secret_id_ttl"] == 1800
    assert d["local_secret_ids"] is False
    assert d["token_ttl"] == 600 and d["token_max_ttl"] == 3600
    assert d["token_policies"] == ["p1", "p2"]
    assert d["token_bound_cidrs"] == ["127.0.0.1"]
    for k in ("token_period", "token_explicit_max_ttl", "token_no_default_policy", "token_num_uses", "token_type"):
        assert k in d, k
    assert "role_id" not in d and "hmac_key" not in d

    role_id = hv.read_role_id("web", mount_point=MOUNT)["data"]["role_id"]
    assert UUID_RE.match(role_id), role_id

    # Update keeps what is not sent.
    hv.create_or_update_approle("web", token_ttl="20m", mount_point=MOUNT)
    d = hv.read_role("web", mount_point=MOUNT)["data"]
    assert d["token_ttl"] == 1200 and d["secret_id_num_uses"] == 40 and d["token_policies"] == ["p1", "p2"]
    assert hv.read_role_id("web", mount_point=MOUNT)["data"]["role_id"] == role_id

    hv.create_or_update_approle("db", token_policies=["p3"], mount_point=MOUNT)
    assert hv.list_roles(mount_point=MOUNT)["data"]["keys"] == ["db", "web"]
    # Vault's pagination parameters.
    r = ar.request("LIST", f"/v1/auth/{MOUNT}/role", token=ar.root_token, params={"after": "db"})
    assert r.status_code == 200 and r.json()["data"]["keys"] == ["web"], r.text

    hv.delete_role("web", mount_point=MOUNT)
    with pytest.raises(exceptions.InvalidPath):
        hv.read_role("web", mount_point=MOUNT)
    with pytest.raises(exceptions.InvalidPath):
        hv.read_role_id("web", mount_point=MOUNT)
    hv.delete_role("web", mount_point=MOUNT)  # deleting again is fine
    hv.delete_role("db", mount_point=MOUNT)
    with pytest.raises(exceptions.InvalidPath):
        hv.list_roles(mount_point=MOUNT)


def test_role_names_and_validation(ar):
    root = ar.root_token
    # Names are case-insensitive (Vault lowercases new roles).
    ar.hv.auth.approle.create_or_update_approle("MyApp", token_policies=["a"], mount_point=MOUNT)
    assert ar.hv.auth.approle.read_role("myapp", mount_point=MOUNT)["data"]["token_policies"] == ["a"]
    assert ar.hv.auth.approle.list_roles(mount_point=MOUNT)["data"]["keys"] == ["myapp"]

    cases = [
        ({"bind_secret_id": False}, "at least one constraint"),
        ({"secret_id_num_uses": -1}, "secret_id_num_uses cannot be negative"),
        ({"secret_id_bound_cidrs": "not-a-cidr"}, "failed to validate CIDR blocks"),
        ({"token_type": "nonsense"}, "token_type"),
        ({"secret_id_ttl": "forever"}, "secret_id_ttl"),
    ]
    for body, msg in cases:
        r = ar.request("POST", f"/v1/auth/{MOUNT}/role/bad", token=root, json=body)
        assert_error(r, 400, msg)
    r = ar.request("GET", f"/v1/auth/{MOUNT}/role/bad", token=root)
    assert r.status_code == 404

    r = ar.request("POST", f"/v1/auth/{MOUNT}/role/-bad", token=root, json={})
    assert_error(r, 400, "role_name")

    # local_secret_ids only at creation (hvac's enable_local_secret_ids too).
    ar.hv.auth.approle.create_or_update_approle("loc", enable_local_secret_ids=True, mount_point=MOUNT)
    r = ar.request("GET", f"/v1/auth/{MOUNT}/role/loc/local-secret-ids", token=root)
    assert r.status_code == 200 and r.json()["data"] == {"local_secret_ids": True}, r.text
    r = ar.request("POST", f"/v1/auth/{MOUNT}/role/loc", token=root, json={"local_secret_ids": False})
    assert_error(r, 400, "local_secret_ids can only be modified during role creation")

    # default-service has no useful meaning (Vault's warning).
    r = ar.request("POST", f"/v1/auth/{MOUNT}/role/ds", token=root, json={"token_type": "default-service"})
    assert r.status_code == 200 and "adjusting to service" in json.dumps(r.json()["warnings"]), r.text
    assert ar.hv.auth.approle.read_role("ds", mount_point=MOUNT)["data"]["token_type"] == "service"


def test_per_field_endpoints(ar):
    root = ar.root_token
    new_role(ar, "f", token_policies=["a"], secret_id_num_uses=5, secret_id_bound_cidrs=["127.0.0.0/8"])
    base = f"/v1/auth/{MOUNT}/role/f"

    r = ar.request("GET", base + "/secret-id-num-uses", token=root)
    assert r.json()["data"] == {"secret_id_num_uses": 5}, r.text
    assert ar.request("POST", base + "/secret-id-num-uses", token=root, json={"secret_id_num_uses": 9}).status_code == 204
    assert ar.request("GET", base + "/secret-id-num-uses", token=root).json()["data"]["secret_id_num_uses"] == 9
    assert ar.request("DELETE", base + "/secret-id-num-uses", token=root).status_code == 204
    assert ar.request("GET", base + "/secret-id-num-uses", token=root).json()["data"]["secret_id_num_uses"] == 0
    r = ar.request("POST", base + "/secret-id-num-uses", token=root, json={})
    assert_error(r, 400, "missing secret_id_num_uses")

    assert ar.request("POST", base + "/policies", token=root, json={"token_policies": "x,y"}).status_code == 204
    assert ar.request("GET", base + "/policies", token=root).json()["data"]["token_policies"] == ["x", "y"]
    # A per-field endpoint changes only its field.
    r = ar.request("POST", base + "/token-ttl", token=root, json={"token_ttl": "5m", "secret_id_num_uses": 77})
    assert r.status_code in (200, 204), r.text
    d = ar.hv.auth.approle.read_role("f", mount_point=MOUNT)["data"]
    assert d["token_ttl"] == 300 and d["secret_id_num_uses"] == 0 and d["token_policies"] == ["x", "y"]

    r = ar.request("GET", base + "/secret-id-bound-cidrs", token=root)
    assert r.json()["data"] == {"secret_id_bound_cidrs": ["127.0.0.0/8"]}, r.text
    # Turning off bind_secret_id is fine while a CIDR list remains ...
    assert ar.request("POST", base + "/bind-secret-id", token=root, json={"bind_secret_id": False}).status_code == 204
    # ... but not removing the last constraint.
    r = ar.request("DELETE", base + "/secret-id-bound-cidrs", token=root)
    assert_error(r, 400, "at least one constraint")
    assert ar.request("DELETE", base + "/bind-secret-id", token=root).status_code == 204
    assert ar.request("GET", base + "/bind-secret-id", token=root).json()["data"] == {"bind_secret_id": True}

    assert ar.request("POST", base + "/period", token=root, json={"period": "1h"}).status_code == 204
    assert ar.request("GET", base + "/period", token=root).json()["data"]["token_period"] == 3600
    assert ar.request("GET", f"/v1/auth/{MOUNT}/role/nope/token-ttl", token=root).status_code == 404


# --- role IDs ---------------------------------------------------------------


def test_custom_role_id_is_unique(ar):
    hv = ar.hv.auth.approle
    new_role(ar, "one", token_policies=["a"])
    new_role(ar, "two", token_policies=["b"])
    old = hv.read_role_id("one", mount_point=MOUNT)["data"]["role_id"]
    hv.update_role_id("one", "custom-role-id-1", mount_point=MOUNT)
    assert hv.read_role_id("one", mount_point=MOUNT)["data"]["role_id"] == "custom-role-id-1"

    with pytest.raises(exceptions.InvalidRequest, match="role_id already in use"):
        hv.update_role_id("two", "custom-role-id-1", mount_point=MOUNT)
    r = ar.request("POST", f"/v1/auth/{MOUNT}/role/three", token=ar.root_token, json={"role_id": "custom-role-id-1"})
    assert_error(r, 400, "role_id already in use")
    r = ar.request("POST", f"/v1/auth/{MOUNT}/role/one/role-id", token=ar.root_token, json={})
    assert_error(r, 400, "missing role_id")

    sid = gen(ar, "one")["secret_id"]
    assert login_raw(ar, "custom-role-id-1", sid).status_code == 200
    # The old role ID is gone, and its index can be taken by another role.
    assert_error(login_raw(ar, old, sid), 400, INVALID)
    hv.update_role_id("two", old, mount_point=MOUNT)
    sid2 = gen(ar, "two")["secret_id"]
    assert login_raw(ar, old, sid2).json()["auth"]["metadata"]["role_name"] == "two"
    # Setting a role's own role ID again is fine.
    hv.update_role_id("two", old, mount_point=MOUNT)
    # A deleted role frees its role ID.
    hv.delete_role("one", mount_point=MOUNT)
    hv.update_role_id("two", "custom-role-id-1", mount_point=MOUNT)


# --- login ------------------------------------------------------------------


def test_login_token_has_role_policies_and_metadata(ar):
    put_policy(ar, "reader", 'path "secret/data/app" { capabilities = ["read"] }')
    role_id = new_role(ar, "app", token_policies=["reader"], token_ttl="15m")
    sd = gen(ar, "app", metadata={"team": "blue", "env": "prod"})
    assert UUID_RE.match(sd["secret_id"]) and UUID_RE.match(sd["secret_id_accessor"])
    assert sd["secret_id"] != sd["secret_id_accessor"]
    assert sd["secret_id_ttl"] == 0 and sd["secret_id_num_uses"] == 0

    c = ar.client()
    resp = c.auth.approle.login(role_id, sd["secret_id"], mount_point=MOUNT)
    a = resp["auth"]
    assert a["policies"] == ["default", "reader"] and a["token_policies"] == ["default", "reader"]
    assert a["metadata"] == {"role_name": "app", "team": "blue", "env": "prod"}
    assert a["lease_duration"] == 900 and a["renewable"] is True
    assert a["token_type"] == "service" and a["accessor"] and a["orphan"] is True
    assert c.token == a["client_token"]
    me = c.lookup_token()["data"]
    assert me["display_name"] == "approle" and me["policies"] == ["default", "reader"]
    assert me["path"] == f"auth/{MOUNT}/login"
    ar.hv.secrets.kv.v2.create_or_update_secret("app", {"k": "v"})
    assert c.secrets.kv.v2.read_secret_version("app")["data"]["data"] == {"k": "v"}
    with pytest.raises(exceptions.Forbidden):
        c.secrets.kv.v2.create_or_update_secret("app", {"k": "w"})

    # Credentials are trimmed, as Vault does.
    assert login_raw(ar, f"  {role_id} ", f" {sd['secret_id']}\n").status_code == 200


def test_login_failures_do_not_say_which_part_was_wrong(ar):
    role_id = new_role(ar, "app", token_policies=["a"])
    sid = gen(ar, "app")["secret_id"]
    other_id = new_role(ar, "other", token_policies=["b"])
    other_sid = gen(ar, "other")["secret_id"]
    bad = [
        login_raw(ar, role_id, str(uuid.uuid4())),
        login_raw(ar, str(uuid.uuid4()), sid),
        login_raw(ar, str(uuid.uuid4()), str(uuid.uuid4())),
        login_raw(ar, role_id, other_sid),  # another role's secret ID
        login_raw(ar, other_id, sid),
        login_raw(ar, role_id, gen(ar, "app")["secret_id_accessor"]),  # an accessor is no secret ID
        login_raw(ar, role_id, sid + "x"),
        login_raw(ar, role_id, "x" * 5000),
    ]
    for r in bad:
        assert r.status_code == 400 and r.json() == {"errors": [INVALID]}, r.text
    assert_error(login_raw(ar, ""), 400, "missing role_id")
    assert_error(login_raw(ar, role_id), 400, "missing secret_id")
    r = ar.request("POST", f"/v1/auth/{MOUNT}/login", json={"role_id": role_id, "secret_id": None})
    assert_error(r, 400, "missing secret_id")
    assert login_raw(ar, role_id, sid).status_code == 200


def test_batch_token_login(ar):
    role_id = new_role(ar, "batch", token_policies=["a"], token_type="batch", token_ttl="5m")
    sid = gen(ar, "batch")["secret_id"]
    c = ar.client()
    a = c.auth.approle.login(role_id, sid, mount_point=MOUNT)["auth"]
    assert a["token_type"] == "batch" and a["client_token"].startswith("hvb.")
    assert a["accessor"] == "" and a["renewable"] is False and a["lease_duration"] == 300
    assert a["metadata"] == {"role_name": "batch"}
    assert c.lookup_token()["data"]["type"] == "batch"
    # An unlimited secret ID keeps working for batch logins.
    for _ in range(20):
        assert login_raw(ar, role_id, sid).status_code == 200


def test_bind_secret_id_false_with_secret_id_bound_cidrs(ar):
    role_id = new_role(ar, "open", bind_secret_id=False, secret_id_bound_cidrs=["127.0.0.0/8"], token_policies=["a"])
    r = login_raw(ar, role_id)
    assert r.status_code == 200, r.text
    assert r.json()["auth"]["metadata"] == {"role_name": "open"}
    # A secret ID is ignored, and none can be generated.
    assert login_raw(ar, role_id, "whatever").status_code == 200
    with pytest.raises(exceptions.InvalidRequest, match="bind_secret_id is not set on the role"):
        gen(ar, "open")

    far = new_role(ar, "far", bind_secret_id=False, secret_id_bound_cidrs=["10.0.0.0/8"], token_policies=["a"])
    assert_error(login_raw(ar, far), 400, "source address", "unauthorized by CIDR restrictions on the role")


def test_cidr_list_on_the_secret_id(ar):
    role_id = new_role(ar, "c", token_policies=["a"])
    far = gen(ar, "c", cidr_list=["10.1.0.0/16"])["secret_id"]
    near = gen(ar, "c", cidr_list=["127.0.0.1/32", "10.0.0.0/8"])["secret_id"]
    assert_error(login_raw(ar, role_id, far), 400, "unauthorized through CIDR restrictions on the secret ID")
    assert login_raw(ar, role_id, near).status_code == 200

    # A refused address spends no use.
    role_id = new_role(ar, "c1", token_policies=["a"], secret_id_num_uses=1)
    far1 = gen(ar, "c1", cidr_list=["10.0.0.0/8"])
    assert login_raw(ar, role_id, far1["secret_id"]).status_code == 400
    info = ar.hv.auth.approle.read_secret_id_accessor("c1", far1["secret_id_accessor"], mount_point=MOUNT)
    assert info["data"]["secret_id_num_uses"] == 1 and info["data"]["cidr_list"] == ["10.0.0.0/8"]

    # cidr_list must lie within the role's secret_id_bound_cidrs.
    new_role(ar, "sub", token_policies=["a"], secret_id_bound_cidrs=["127.0.0.0/8"])
    with pytest.raises(exceptions.InvalidRequest, match="subset"):
        gen(ar, "sub", cidr_list=["10.0.0.0/8"])
    with pytest.raises(exceptions.InvalidRequest, match="failed to validate CIDR"):
        gen(ar, "sub", cidr_list=["300.1.1.1/8"])
    assert gen(ar, "sub", cidr_list=["127.0.0.1/32"])["secret_id"]


def test_token_bound_cidrs_reach_the_token(ar):
    role_id = new_role(ar, "t", token_policies=["a"], token_bound_cidrs=["127.0.0.0/8", "10.0.0.0/8"])
    a = login_raw(ar, role_id, gen(ar, "t")["secret_id"]).json()["auth"]
    r = ar.request("GET", "/v1/auth/token/lookup-self", token=a["client_token"])
    assert r.status_code == 200 and r.json()["data"]["bound_cidrs"] == ["127.0.0.0/8", "10.0.0.0/8"], r.text

    # The secret ID's own token_bound_cidrs (a subset) override the role's.
    sd = gen(ar, "t", token_bound_cidrs=["10.2.0.0/16"])
    a = login_raw(ar, role_id, sd["secret_id"]).json()["auth"]
    r = ar.request("GET", "/v1/auth/token/lookup-self", token=a["client_token"])
    assert r.status_code == 403, r.text  # we are 127.0.0.1
    with pytest.raises(exceptions.InvalidRequest, match="subset"):
        gen(ar, "t", token_bound_cidrs=["192.168.0.0/16"])


def test_num_uses_last_use_works_next_fails(ar):
    role_id = new_role(ar, "n", token_policies=["a"], secret_id_num_uses=3)
    sd = gen(ar, "n")
    assert sd["secret_id_num_uses"] == 3
    for left in (2, 1):
        assert login_raw(ar, role_id, sd["secret_id"]).status_code == 200
        info = ar.hv.auth.approle.read_secret_id("n", sd["secret_id"], mount_point=MOUNT)["data"]
        assert info["secret_id_num_uses"] == left
    assert login_raw(ar, role_id, sd["secret_id"]).status_code == 200  # the last use
    assert_error(login_raw(ar, role_id, sd["secret_id"]), 400, INVALID)
    # Used up means gone: no lookup, no accessor.
    r = ar.request("POST", f"/v1/auth/{MOUNT}/role/n/secret-id/lookup", token=ar.root_token,
                   json={"secret_id": sd["secret_id"]})
    assert r.status_code == 204
    with pytest.raises(exceptions.InvalidPath):
        ar.hv.auth.approle.list_secret_id_accessors("n", mount_point=MOUNT)

    # num_uses on the secret ID: not above the role's, not unlimited then.
    r = ar.request("POST", f"/v1/auth/{MOUNT}/role/n/secret-id", token=ar.root_token, json={"num_uses": 4})
    assert_error(r, 400, "num_uses cannot be higher than the role's secret_id_num_uses")
    r = ar.request("POST", f"/v1/auth/{MOUNT}/role/n/secret-id", token=ar.root_token, json={"num_uses": 0})
    assert_error(r, 400, "num_uses cannot be higher")
    r = ar.request("POST", f"/v1/auth/{MOUNT}/role/n/secret-id", token=ar.root_token, json={"num_uses": 1})
    assert r.status_code == 200 and r.json()["data"]["secret_id_num_uses"] == 1
    one = r.json()["data"]["secret_id"]
    assert login_raw(ar, role_id, one).status_code == 200
    assert login_raw(ar, role_id, one).status_code == 400


def test_concurrent_logins_never_overspend(ar):
    uses, workers = 5, 24
    role_id = new_role(ar, "race", token_policies=["a"], secret_id_num_uses=uses, token_type="batch")
    sid = gen(ar, "race")["secret_id"]
    codes = []
    lock = threading.Lock()
    start = threading.Barrier(workers)

    def worker():
        start.wait()
        code = login_raw(ar, role_id, sid).status_code
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(200) == uses, codes
    assert codes.count(400) == workers - uses, codes


def test_secret_id_ttl_expiry_then_tidy(ar):
    role_id = new_role(ar, "ttl", token_policies=["a"], secret_id_ttl=2)
    short = gen(ar, "ttl")
    assert short["secret_id_ttl"] == 2
    # ttl on the secret ID may not exceed the role's, nor be unlimited.
    r = ar.request("POST", f"/v1/auth/{MOUNT}/role/ttl/secret-id", token=ar.root_token, json={"ttl": "1h"})
    assert_error(r, 400, "ttl cannot be longer than the role's secret_id_ttl")
    info = ar.hv.auth.approle.read_secret_id("ttl", short["secret_id"], mount_point=MOUNT)["data"]
    assert info["secret_id_ttl"] == 2 and info["expiration_time"] != "0001-01-01T00:00:00Z"
    assert login_raw(ar, role_id, short["secret_id"]).status_code == 200

    new_role(ar, "keep", token_policies=["a"])
    keep = gen(ar, "keep")
    time.sleep(2.5)
    # Expired: refused before any tidy ran, and with the usual message.
    assert_error(login_raw(ar, role_id, short["secret_id"]), 400, INVALID)
    assert ar.hv.auth.approle.list_secret_id_accessors("ttl", mount_point=MOUNT)["data"]["keys"] == [
        short["secret_id_accessor"]
    ]

    r = ar.request("POST", f"/v1/auth/{MOUNT}/tidy/secret-id", token=ar.root_token)
    assert r.status_code == 202, r.text
    assert "Tidy operation successfully started" in r.json()["warnings"][0]
    with pytest.raises(exceptions.InvalidPath):
        ar.hv.auth.approle.list_secret_id_accessors("ttl", mount_point=MOUNT)
    with pytest.raises(exceptions.InvalidPath, match="failed to find accessor entry"):
        ar.hv.auth.approle.read_secret_id_accessor("ttl", short["secret_id_accessor"], mount_point=MOUNT)
    # The unexpired one stays.
    assert ar.hv.auth.approle.list_secret_id_accessors("keep", mount_point=MOUNT)["data"]["keys"] == [
        keep["secret_id_accessor"]
    ]


# --- secret IDs -------------------------------------------------------------


def test_lookup_list_and_destroy(ar):
    hv = ar.hv.auth.approle
    role_id = new_role(ar, "d", token_policies=["a"])
    s1 = gen(ar, "d", metadata={"owner": "ann"})
    s2 = gen(ar, "d")
    s3 = gen(ar, "d")
    keys = hv.list_secret_id_accessors("d", mount_point=MOUNT)["data"]["keys"]
    assert sorted(keys) == sorted([s1["secret_id_accessor"], s2["secret_id_accessor"], s3["secret_id_accessor"]])

    info = hv.read_secret_id("d", s1["secret_id"], mount_point=MOUNT)["data"]
    assert set(info) == {
        "secret_id_accessor", "secret_id_num_uses", "secret_id_ttl", "creation_time", "expiration_time",
        "last_updated_time", "metadata", "cidr_list", "token_bound_cidrs",
    }
    assert info["secret_id_accessor"] == s1["secret_id_accessor"]
    assert info["metadata"] == {"owner": "ann"} and info["cidr_list"] == [] and info["token_bound_cidrs"] == []
    assert info["expiration_time"] == "0001-01-01T00:00:00Z"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", info["creation_time"]), info
    assert hv.read_secret_id_accessor("d", s1["secret_id_accessor"], mount_point=MOUNT)["data"] == info
    assert s1["secret_id"] not in json.dumps(info)

    # Destroy by secret ID.
    hv.destroy_secret_id("d", s1["secret_id"], mount_point=MOUNT)
    assert_error(login_raw(ar, role_id, s1["secret_id"]), 400, INVALID)
    r = hv.read_secret_id("d", s1["secret_id"], mount_point=MOUNT)
    assert r.status_code == 204
    hv.destroy_secret_id("d", s1["secret_id"], mount_point=MOUNT)  # again: fine

    # Destroy by accessor.
    assert login_raw(ar, role_id, s2["secret_id"]).status_code == 200
    hv.destroy_secret_id_accessor("d", s2["secret_id_accessor"], mount_point=MOUNT)
    assert_error(login_raw(ar, role_id, s2["secret_id"]), 400, INVALID)
    with pytest.raises(exceptions.InvalidPath, match="failed to find accessor entry"):
        hv.destroy_secret_id_accessor("d", s2["secret_id_accessor"], mount_point=MOUNT)
    assert hv.list_secret_id_accessors("d", mount_point=MOUNT)["data"]["keys"] == [s3["secret_id_accessor"]]

    # Another role's accessor is not reachable through this role (IDOR).
    new_role(ar, "e", token_policies=["b"])
    with pytest.raises(exceptions.InvalidPath, match="failed to find accessor entry"):
        hv.read_secret_id_accessor("e", s3["secret_id_accessor"], mount_point=MOUNT)
    with pytest.raises(exceptions.InvalidPath):
        hv.destroy_secret_id_accessor("e", s3["secret_id_accessor"], mount_point=MOUNT)
    r = hv.read_secret_id("e", s3["secret_id"], mount_point=MOUNT)
    assert r.status_code == 204
    hv.destroy_secret_id("e", s3["secret_id"], mount_point=MOUNT)
    assert login_raw(ar, role_id, s3["secret_id"]).status_code == 200

    # Unknown roles.
    with pytest.raises(exceptions.InvalidPath, match="does not exist"):
        gen(ar, "nope")
    with pytest.raises(exceptions.InvalidRequest, match="does not exist"):
        hv.list_secret_id_accessors("nope", mount_point=MOUNT)


def test_custom_secret_id_and_metadata_forms(ar):
    hv = ar.hv.auth.approle
    role_id = new_role(ar, "cu", token_policies=["a"])
    custom = "custom-" + secrets.token_hex(8)
    d = hv.create_custom_secret_id("cu", custom, metadata={"k": "v"}, mount_point=MOUNT)["data"]
    assert d["secret_id"] == custom and UUID_RE.match(d["secret_id_accessor"])
    assert login_raw(ar, role_id, custom).json()["auth"]["metadata"] == {"k": "v", "role_name": "cu"}
    with pytest.raises(exceptions.InvalidRequest, match="already registered"):
        hv.create_custom_secret_id("cu", custom, mount_point=MOUNT)
    # The same custom secret ID on another role is another secret ID.
    other_id = new_role(ar, "cu2", token_policies=["b"])
    hv.create_custom_secret_id("cu2", custom, mount_point=MOUNT)
    assert login_raw(ar, other_id, custom).json()["auth"]["metadata"] == {"role_name": "cu2"}

    base = f"/v1/auth/{MOUNT}/role/cu/secret-id"
    for md, want in [
        ('{"a": "1"}', {"a": "1"}),  # hvac's json.dumps form
        ({"b": "2"}, {"b": "2"}),
        ("x=1, y = 2", {"x": "1", "y": "2"}),
        ("", {}),
        (None, {}),
    ]:
        r = ar.request("POST", base, token=ar.root_token, json={"metadata": md})
        assert r.status_code == 200, r.text
        info = hv.read_secret_id("cu", r.json()["data"]["secret_id"], mount_point=MOUNT)["data"]
        assert info["metadata"] == want, (md, info)
    for md in ['{"a": 1}', "[1,2]", "novalue", 5]:
        r = ar.request("POST", base, token=ar.root_token, json={"metadata": md})
        assert_error(r, 400, "failed to parse metadata")
    r = ar.request("POST", f"/v1/auth/{MOUNT}/role/cu/custom-secret-id", token=ar.root_token, json={})
    assert_error(r, 400, "missing secret_id")


def test_deleting_a_role_kills_its_secret_ids(ar):
    role_id = new_role(ar, "gone", token_policies=["a"])
    sd = gen(ar, "gone")
    ar.hv.auth.approle.delete_role("gone", mount_point=MOUNT)
    assert_error(login_raw(ar, role_id, sd["secret_id"]), 400, INVALID)
    # The same name again is a new role: the old secret ID does not work.
    new_id = new_role(ar, "gone", token_policies=["a"])
    assert_error(login_raw(ar, new_id, sd["secret_id"]), 400, INVALID)
    with pytest.raises(exceptions.InvalidPath):
        ar.hv.auth.approle.list_secret_id_accessors("gone", mount_point=MOUNT)


# --- secrets never in clear -------------------------------------------------


def test_secret_ids_never_in_storage_files_or_logs(config_server):
    srv = config_server()
    srv.init(1, 1)
    srv.unseal()
    enable(srv)
    srv.hv = srv.client(srv.root_token)
    role_id = new_role(srv, "store", token_policies=["a"], secret_id_num_uses=10)
    generated = gen(srv, "store")["secret_id"]
    custom = "canary-" + secrets.token_hex(12)
    srv.hv.auth.approle.create_custom_secret_id("store", custom, mount_point=MOUNT)
    assert login_raw(srv, role_id, generated).status_code == 200
    assert login_raw(srv, role_id, custom).status_code == 200
    assert login_raw(srv, role_id, custom + "x").status_code == 400
    srv.stop()
    files = srv.storage_files()
    assert files, "no storage files"
    for f in files:
        assert_no_canary(f.read_bytes(), [generated, custom, role_id], f"storage file {f.name}")
    assert_no_canary(srv.proc.all_output_bytes(), [generated, custom], "server output")

    # Everything survives a restart (the mount's salt is persisted).
    srv.start()
    srv.unseal()
    assert login_raw(srv, role_id, generated).status_code == 200
    assert login_raw(srv, role_id, custom).status_code == 200


def test_audit_log_never_holds_a_secret_id(ar, tmp_path):
    log = tmp_path / "audit.log"
    r = ar.request("PUT", "/v1/sys/audit/file", token=ar.root_token,
                   json={"type": "file", "options": {"file_path": str(log)}})
    assert r.status_code == 204, r.text
    role_id = new_role(ar, "aud", token_policies=["a"])
    sd = gen(ar, "aud")
    custom = "canary-" + secrets.token_hex(12)
    ar.hv.auth.approle.create_custom_secret_id("aud", custom, mount_point=MOUNT)
    a = login_raw(ar, role_id, sd["secret_id"]).json()["auth"]
    assert login_raw(ar, role_id, custom).status_code == 200
    assert login_raw(ar, role_id, sd["secret_id"] + "x").status_code == 400
    ar.hv.auth.approle.read_secret_id("aud", sd["secret_id"], mount_point=MOUNT)
    ar.hv.auth.approle.destroy_secret_id("aud", custom, mount_point=MOUNT)

    text = log.read_text()
    assert f"auth/{MOUNT}/login" in text, "logins were not audited"
    assert_no_canary(text.encode(), [sd["secret_id"], custom, a["client_token"]], "the audit log")
    assert_no_canary(ar.proc.all_output_bytes(), [sd["secret_id"], custom], "server output")


# --- logins tried on the event loop ----------------------------------------------


def test_logins_that_write_move_to_the_pool_with_one_audit_pair(ar, tmp_path):
    """Logins are tried on the event loop; one that needs a write (a first
    login's entity and alias, a service token, a use to spend) stops before
    writing and runs again on the worker pool. Whatever the path, each
    login has exactly one request and one response entry, and the result
    is the same as before."""
    log = tmp_path / "audit.log"
    r = ar.request("PUT", "/v1/sys/audit/f", token=ar.root_token,
                   json={"type": "file", "options": {"file_path": str(log)}})
    assert r.status_code == 204, r.text
    batch_id = new_role(ar, "b", token_type="batch", token_policies=["p"])
    service_id = new_role(ar, "s", token_type="service", token_policies=["p"])
    sid_b = gen(ar, "b")["secret_id"]
    sid_s = gen(ar, "s")["secret_id"]
    r = ar.request("POST", f"/v1/auth/{MOUNT}/role/b/secret-id", token=ar.root_token, json={"num_uses": 2})
    sid_two = r.json()["data"]["secret_id"]

    cases = [
        (batch_id, sid_b, "batch"),     # first login: a new entity (pool)
        (batch_id, sid_b, "batch"),     # known alias: served on the loop
        (service_id, sid_s, "service"),  # a service token (pool)
        (batch_id, sid_two, "batch"),   # a use to spend (pool)
        (batch_id, sid_two, "batch"),   # the last use
    ]
    ids = []
    for role_id, sid, kind in cases:
        r = login_raw(ar, role_id, sid)
        assert r.status_code == 200, r.text
        auth = r.json()["auth"]
        assert auth["token_type"] == kind
        assert ar.get("/v1/auth/token/lookup-self", token=auth["client_token"]).status_code == 200
        ids.append(r.json()["request_id"])
    # The use-limited secret ID is spent exactly twice.
    assert_error(login_raw(ar, batch_id, sid_two), 400, INVALID)
    # One entity for the role, however many logins and paths.
    entities = {login_raw(ar, batch_id, sid_b).json()["auth"]["entity_id"] for _ in range(3)}
    assert len(entities) == 1

    entries = [json.loads(line) for line in log.read_text().splitlines()]
    for rid in ids:
        kinds = sorted(e["type"] for e in entries if e["request"]["id"] == rid)
        assert kinds == ["request", "response"], (rid, kinds)
