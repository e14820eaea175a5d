"""Leases and the expiration manager (sys/leases/*, the legacy sys/renew,
sys/revoke*, and expiry) through hvac 0.11.2 and raw HTTP.

Every service token has a lease whose id is "<creation path>/<locator>";
the root token and batch tokens have none. Tokens expose no lease id, so
the tests find a new token's lease by listing sys/leases/lookup/<path>/
before and after creating it. Covered: lookup and list shapes, the sudo
rules, renew (refused for tokens), revoke (one lease, by prefix, forced),
tidy, the irrevocable counts and metric, expiry without any request
touching the token, renewal moving the expiry, mount disable, and leases
surviving a restart on LMDB (a token that expires while the server is
down is revoked soon after unseal)."""

import datetime
import re
import time

import hvac
import hvac.exceptions
import pytest

from trove_harness import assert_error, assert_json_headers

INVALID_LEASE = "invalid lease"
TOKEN_RENEW_REFUSED = "tokens cannot be renewed through this endpoint"
LOOKUP_KEYS = {"id", "issue_time", "expire_time", "last_renewal", "renewable", "ttl"}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

# Everything on sys/leases but sudo, and the same with sudo.
NO_SUDO_POLICY = '''
path "sys/leases/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "sys/revoke-prefix/*" { capabilities = ["update"] }
path "sys/revoke-force/*" { capabilities = ["update"] }
'''
SUDO_POLICY = '''
path "sys/leases/*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }
path "sys/revoke-prefix/*" { capabilities = ["update", "sudo"] }
path "sys/revoke-force/*" { capabilities = ["update", "sudo"] }
'''


# --- helpers ------------------------------------------------------------------


def rfc3339(s):
    assert isinstance(s, str) and RFC3339.match(s), f"not an RFC 3339 time: {s!r}"
    s = re.sub(r"\.(\d{6})\d+", r".\1", s)  # Python parses at most microseconds
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def post(srv, path, token, body=None):
    return srv.request("PUT", "/v1/" + path, token=token, json=body if body is not None else {})


def create(srv, token, path="auth/token/create", **body):
    r = post(srv, path, token, body)
    assert r.status_code == 200, r.text
    return r.json()["auth"]


def lease_keys(srv, prefix, token=None):
    """The keys of LIST sys/leases/lookup/<prefix> (an empty list for the
    404 an empty listing answers)."""
    r = srv.request("LIST", "/v1/sys/leases/lookup/" + prefix, token=token or srv.root_token)
    if r.status_code == 404:
        return []
    assert r.status_code == 200, r.text
    keys = r.json()["data"]["keys"]
    assert isinstance(keys, list) and all(isinstance(k, str) for k in keys), keys
    return keys


def new_lease(srv, folder, before):
    """The one lease id that appeared under folder (ending in '/')."""
    added = sorted(set(lease_keys(srv, folder)) - set(before))
    assert len(added) == 1, f"want exactly one new lease under {folder}, got {added}"
    assert not added[0].endswith("/"), added
    return folder + added[0]


def token_with_lease(srv, token=None, path="auth/token/create", **body):
    """Creates a token; returns (auth, lease id)."""
    folder = path + "/"
    before = lease_keys(srv, folder)
    auth = create(srv, token or srv.root_token, path=path, **body)
    return auth, new_lease(srv, folder, before)


def lookup(srv, lease_id, token=None):
    r = post(srv, "sys/leases/lookup", token or srv.root_token, {"lease_id": lease_id})
    assert r.status_code == 200, r.text
    assert_json_headers(r)
    return r.json()["data"]


def accessors(srv):
    r = srv.request("LIST", "/v1/auth/token/accessors", token=srv.root_token)
    if r.status_code == 404:
        return []
    assert r.status_code == 200, r.text
    return r.json()["data"]["keys"]


def status(srv, token):
    return srv.get("/v1/auth/token/lookup-self", token=token).status_code


def put_policy(srv, name, text):
    r = srv.request("PUT", f"/v1/sys/policy/{name}", token=srv.root_token, json={"policy": text})
    assert r.status_code in (200, 204), r.text


def enable_userpass(srv, *users):
    r = srv.request("POST", "/v1/sys/auth/userpass", token=srv.root_token, json={"type": "userpass"})
    assert r.status_code == 204, r.text
    for u in users:
        r = srv.request("POST", f"/v1/auth/userpass/users/{u}", token=srv.root_token,
                        json={"password": u + "-pw", "token_ttl": "1h"})
        assert r.status_code in (200, 204), r.text


def login(srv, user):
    """Logs in to userpass; returns (auth, lease id)."""
    folder = f"auth/userpass/login/{user}/"
    before = lease_keys(srv, folder)
    r = srv.request("POST", f"/v1/auth/userpass/login/{user}", json={"password": user + "-pw"})
    assert r.status_code == 200, r.text
    return r.json()["auth"], new_lease(srv, folder, before)


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    assert cond(), f"{what} (waited {timeout}s)"


# --- lookup and list ------------------------------------------------------------


def test_token_lease_id_and_lookup(dev_server):
    srv = dev_server
    t0 = time.time()
    auth, lease_id = token_with_lease(srv, policies=["default"], ttl="1h")
    tok = auth["client_token"]
    locator = lease_id[len("auth/token/create/"):]
    assert re.fullmatch(r"[0-9a-f]{16}\.[0-9a-f]{64}", locator), lease_id
    # The id names the token without giving it away.
    assert tok not in lease_id and tok.split(".", 1)[-1] not in lease_id
    assert auth["accessor"] not in lease_id

    d = srv.client(srv.root_token).sys.read_lease(lease_id)["data"]
    assert LOOKUP_KEYS <= d.keys(), d
    assert d["id"] == lease_id
    issued, expires = rfc3339(d["issue_time"]), rfc3339(d["expire_time"])
    assert t0 - 2 <= issued <= time.time() + 2
    assert 3598 <= expires - issued <= 3602
    assert d["last_renewal"] is None
    assert d["renewable"] is True
    assert 3590 <= d["ttl"] <= 3600
    # The lease and the token agree on the expiry.
    info = srv.get("/v1/auth/token/lookup-self", token=tok).json()["data"]
    assert abs(rfc3339(info["expire_time"]) - expires) <= 1

    # The default policy may look up leases (the id is what is secret).
    assert lookup(srv, lease_id, token=tok)["id"] == lease_id
    # A non-renewable token's lease says so.
    _, lease2 = token_with_lease(srv, policies=["default"], ttl="1h", renewable=False)
    assert lookup(srv, lease2)["renewable"] is False


def test_creation_path_names_the_lease(dev_server):
    srv, root = dev_server, dev_server.root_token
    _, lease_id = token_with_lease(srv, path="auth/token/create-orphan", policies=["default"], ttl="1h")
    assert lease_id.startswith("auth/token/create-orphan/")
    r = post(srv, "auth/token/roles/web", root, {"allowed_policies": ["web"]})
    assert r.status_code == 204, r.text
    _, lease_id = token_with_lease(srv, path="auth/token/create/web", policies=["web"], ttl="1h")
    assert lease_id.startswith("auth/token/create/web/")
    assert lookup(srv, lease_id)["id"] == lease_id
    assert "web/" in lease_keys(srv, "auth/token/create/")


def test_root_and_batch_tokens_have_no_lease(dev_server):
    srv, root = dev_server, dev_server.root_token
    # Only the dev root token exists so far: nothing is leased.
    assert lease_keys(srv, "auth/token/") == []
    auth = create(srv, root, policies=["default"], type="batch", ttl="1h")
    assert auth["client_token"].startswith("hvb.")
    assert lease_keys(srv, "auth/token/") == []
    token_with_lease(srv, policies=["default"], ttl="1h")
    assert lease_keys(srv, "auth/token/") == ["create/"]


def test_list_folders(dev_server):
    srv = dev_server
    enable_userpass(srv, "ann", "bob")
    _, ann_lease = login(srv, "ann")
    login(srv, "bob")
    token_with_lease(srv, policies=["default"], ttl="1h")

    assert "auth/" in lease_keys(srv, "")
    assert sorted(lease_keys(srv, "auth/")) == ["token/", "userpass/"]
    assert lease_keys(srv, "auth/userpass/") == ["login/"]
    assert sorted(lease_keys(srv, "auth/userpass/login/")) == ["ann/", "bob/"]
    assert lease_keys(srv, "auth/userpass/login/ann/") == [ann_lease.rsplit("/", 1)[1]]
    # hvac's list_leases: the same.
    keys = srv.client(srv.root_token).sys.list_leases("auth/userpass/login/")["data"]["keys"]
    assert sorted(keys) == ["ann/", "bob/"]
    # The lease of a login: the user's TTL.
    d = lookup(srv, ann_lease)
    assert d["id"] == ann_lease and 3590 <= d["ttl"] <= 3600
    # Nothing under an unknown prefix.
    r = srv.request("LIST", "/v1/sys/leases/lookup/auth/nothing-here/", token=srv.root_token)
    assert r.status_code == 404, r.text


def test_sudo_rules(dev_server):
    srv, root = dev_server, dev_server.root_token
    put_policy(srv, "leases-no-sudo", NO_SUDO_POLICY)
    put_policy(srv, "leases-sudo", SUDO_POLICY)
    plain = create(srv, root, policies=["leases-no-sudo"], ttl="1h")["client_token"]
    admin = create(srv, root, policies=["leases-sudo"], ttl="1h")["client_token"]
    default = create(srv, root, policies=["default"], ttl="1h")["client_token"]
    _, victim_lease = token_with_lease(srv, policies=["default"], ttl="1h")

    for tok in (plain, default):
        assert_error(srv.request("LIST", "/v1/sys/leases/lookup/auth/token/create/", token=tok), 403)
        assert_error(srv.request("LIST", "/v1/sys/leases/lookup/", token=tok), 403)
        assert_error(post(srv, "sys/leases/revoke-prefix/auth/token/create", tok, {}), 403)
        assert_error(post(srv, "sys/leases/revoke-force/auth/token/create", tok, {}), 403)
        assert_error(post(srv, "sys/revoke-prefix/auth/token/create", tok, {}), 403)
        assert_error(post(srv, "sys/revoke-force/auth/token/create", tok, {}), 403)
    # The default policy does not allow revoking someone else's lease.
    assert_error(post(srv, "sys/leases/revoke", default, {"lease_id": victim_lease}), 403)
    # Without sudo, looking one lease up is fine.
    assert lookup(srv, victim_lease, token=plain)["id"] == victim_lease
    # Nothing was revoked by the refused requests.
    assert victim_lease.rsplit("/", 1)[1] in lease_keys(srv, "auth/token/create/")
    # With sudo, the list works.
    keys = lease_keys(srv, "auth/token/create/", token=admin)
    assert victim_lease.rsplit("/", 1)[1] in keys
    # No token at all: refused.
    assert_error(srv.request("LIST", "/v1/sys/leases/lookup/auth/"), 403)
    assert_error(post(srv, "sys/leases/lookup", None, {"lease_id": victim_lease}), 403)


def test_unknown_leases_and_malformed_bodies(dev_server):
    srv, root = dev_server, dev_server.root_token
    _, lease_id = token_with_lease(srv, policies=["default"], ttl="1h")
    missing = "auth/token/create/" + "0" * 16 + "." + "f" * 64

    assert_error(post(srv, "sys/leases/lookup", root, {"lease_id": missing}), 400, INVALID_LEASE)
    assert_error(post(srv, "sys/leases/lookup", root, {"lease_id": "nope"}), 400, INVALID_LEASE)
    assert_error(post(srv, "sys/leases/renew", root, {"lease_id": missing}), 400, INVALID_LEASE)
    assert_error(post(srv, "sys/leases/renew/" + missing, root, {}), 400, INVALID_LEASE)
    assert_error(post(srv, "sys/renew/" + missing, root, {}), 400, INVALID_LEASE)
    with pytest.raises(hvac.exceptions.InvalidRequest, match=INVALID_LEASE):
        srv.client(root).sys.read_lease(missing)

    # Missing or badly typed fields: 400, naming the field.
    for path in ("sys/leases/lookup", "sys/leases/renew", "sys/leases/revoke", "sys/renew", "sys/revoke"):
        assert_error(post(srv, path, root, {}), 400, "lease_id")
        assert_error(post(srv, path, root, {"lease_id": ""}), 400, "lease_id")
        assert_error(post(srv, path, root, {"lease_id": ["a", "b"]}), 400, "lease_id")
        assert_error(post(srv, path, root, {"lease_id": {"x": 1}}), 400, "lease_id")
    assert_error(post(srv, "sys/leases/renew", root, {"lease_id": lease_id, "increment": "forever"}), 400,
                 "increment")
    assert_error(post(srv, "sys/leases/renew", root, {"lease_id": lease_id, "increment": [1]}), 400, "increment")
    assert_error(post(srv, "sys/leases/revoke", root, {"lease_id": lease_id, "sync": "maybe"}), 400, "sync")
    assert_error(post(srv, "sys/leases/revoke-prefix/auth/token", root, {"sync": "maybe"}), 400, "sync")
    # A body that is not JSON.
    r = srv.request("PUT", "/v1/sys/leases/lookup", token=root, data=b'{"lease_id": ',
                    headers={"Content-Type": "application/json"})
    assert_error(r, 400)
    # None of that touched the lease.
    assert lookup(srv, lease_id)["id"] == lease_id

    # Revoking what does not exist changes nothing; Vault answers 204.
    for r in (post(srv, "sys/leases/revoke", root, {"lease_id": missing, "sync": True}),
              post(srv, "sys/leases/revoke", root, {"lease_id": missing})):
        assert r.status_code == 204, r.text
    r = post(srv, "sys/leases/revoke-prefix/auth/nothing-here", root, {"sync": True})
    assert r.status_code == 204, r.text
    assert lookup(srv, lease_id)["id"] == lease_id


# --- renew --------------------------------------------------------------------------


def test_token_leases_are_not_renewed_here(dev_server):
    srv, root = dev_server, dev_server.root_token
    auth, lease_id = token_with_lease(srv, policies=["default"], ttl="1h")
    before = lookup(srv, lease_id)
    for r in (
        post(srv, "sys/leases/renew", root, {"lease_id": lease_id, "increment": 7200}),
        post(srv, "sys/leases/renew", root, {"lease_id": lease_id}),
        post(srv, "sys/leases/renew/" + lease_id, root, {}),
        post(srv, "sys/renew/" + lease_id, root, {}),
        post(srv, "sys/renew", root, {"lease_id": lease_id}),
    ):
        assert_error(r, 400, TOKEN_RENEW_REFUSED)
    with pytest.raises(hvac.exceptions.InvalidRequest, match=TOKEN_RENEW_REFUSED):
        srv.client(root).sys.renew_lease(lease_id, increment=600)
    # The token's own holder is refused the same way (default policy).
    r = post(srv, "sys/leases/renew", auth["client_token"], {"lease_id": lease_id})
    assert_error(r, 400, TOKEN_RENEW_REFUSED)
    after = lookup(srv, lease_id)
    assert after["expire_time"] == before["expire_time"] and after["last_renewal"] is None


@pytest.mark.time_limit(60)
def test_token_renewal_moves_the_lease(dev_server):
    srv, root = dev_server, dev_server.root_token
    auth, lease_id = token_with_lease(srv, policies=["default"], ttl="3s", explicit_max_ttl="2h")
    tok, acc = auth["client_token"], auth["accessor"]
    first = lookup(srv, lease_id)
    assert first["last_renewal"] is None and first["ttl"] <= 3

    t0 = time.time()
    r = post(srv, "auth/token/renew-self", tok, {"increment": "1h"})
    assert r.status_code == 200 and r.json()["auth"]["lease_duration"] == 3600, r.text
    d = lookup(srv, lease_id)
    assert d["issue_time"] == first["issue_time"]
    assert d["last_renewal"] is not None
    assert t0 - 2 <= rfc3339(d["last_renewal"]) <= time.time() + 2
    assert 3595 <= rfc3339(d["expire_time"]) - rfc3339(d["last_renewal"]) <= 3601
    assert 3590 <= d["ttl"] <= 3600

    # Renewal by another token (auth/token/renew) moves it again.
    r = post(srv, "auth/token/renew", root, {"token": tok, "increment": 600})
    assert r.status_code == 200, r.text
    d = lookup(srv, lease_id)
    assert 590 <= d["ttl"] <= 600

    # The old expiry passes: the token lives on, untouched by the manager.
    time.sleep(max(0, rfc3339(first["expire_time"]) + 3 - time.time()))
    assert acc in accessors(srv)
    assert lease_id.rsplit("/", 1)[1] in lease_keys(srv, "auth/token/create/")
    assert status(srv, tok) == 200


# --- revoke ---------------------------------------------------------------------------


def test_revoke_a_token_lease(dev_server):
    srv, root = dev_server, dev_server.root_token
    put_policy(srv, "maker", 'path "auth/token/create" { capabilities = ["update"] }')
    parent, parent_lease = token_with_lease(srv, policies=["maker"], ttl="1h")
    child, child_lease = token_with_lease(srv, token=parent["client_token"], policies=["default"], ttl="1h")
    other, other_lease = token_with_lease(srv, policies=["default"], ttl="1h")

    r = post(srv, "sys/leases/revoke", root, {"lease_id": parent_lease})
    assert r.status_code == 204, r.text
    # Done before the reply: the token and its child are gone at once.
    assert status(srv, parent["client_token"]) == 403
    assert status(srv, child["client_token"]) == 403
    assert status(srv, other["client_token"]) == 200
    assert parent["accessor"] not in accessors(srv) and child["accessor"] not in accessors(srv)
    for gone in (parent_lease, child_lease):
        assert_error(post(srv, "sys/leases/lookup", root, {"lease_id": gone}), 400, INVALID_LEASE)
        assert gone.rsplit("/", 1)[1] not in lease_keys(srv, "auth/token/create/")
    assert lookup(srv, other_lease)["id"] == other_lease

    # sync=true, the path form, the legacy path and hvac.
    forms = [
        lambda lid: post(srv, "sys/leases/revoke", root, {"lease_id": lid, "sync": True}),
        lambda lid: post(srv, "sys/leases/revoke/" + lid, root, {}),
        lambda lid: post(srv, "sys/revoke/" + lid, root, {}),
        lambda lid: post(srv, "sys/revoke", root, {"lease_id": lid}),
        lambda lid: srv.client(root).sys.revoke_lease(lid),
    ]
    for revoke in forms:
        auth, lid = token_with_lease(srv, policies=["default"], ttl="1h")
        r = revoke(lid)
        assert r.status_code == 204, r.text
        assert status(srv, auth["client_token"]) == 403
        assert_error(post(srv, "sys/leases/lookup", root, {"lease_id": lid}), 400, INVALID_LEASE)


def test_revoke_prefix_and_force(dev_server):
    srv, root = dev_server, dev_server.root_token
    enable_userpass(srv, "ann", "bob")
    ann, ann_lease = login(srv, "ann")
    bob, bob_lease = login(srv, "bob")
    made, made_lease = token_with_lease(srv, policies=["default"], ttl="1h")

    r = post(srv, "sys/leases/revoke-prefix/auth/userpass/", root, {})
    assert r.status_code == 204, r.text
    wait_until(lambda: status(srv, ann["client_token"]) == 403 and status(srv, bob["client_token"]) == 403, 5,
               "userpass tokens still valid after revoke-prefix auth/userpass/")
    assert status(srv, made["client_token"]) == 200
    assert lease_keys(srv, "auth/userpass/") == []
    assert "userpass/" not in lease_keys(srv, "auth/")
    assert lookup(srv, made_lease)["id"] == made_lease
    for gone in (ann_lease, bob_lease):
        assert_error(post(srv, "sys/leases/lookup", root, {"lease_id": gone}), 400, INVALID_LEASE)

    # A prefix is a path: "auth/userpass/login/an" is not a prefix of ann's.
    ann, ann_lease = login(srv, "ann")
    r = post(srv, "sys/leases/revoke-prefix/auth/userpass/login/an", root, {"sync": True})
    assert r.status_code == 204, r.text
    assert status(srv, ann["client_token"]) == 200
    # sync: done before the reply.
    r = post(srv, "sys/leases/revoke-prefix/auth/userpass/login/ann", root, {"sync": True})
    assert r.status_code == 204, r.text
    assert status(srv, ann["client_token"]) == 403

    # revoke-force, the legacy paths and hvac's helpers.
    forms = [
        lambda p: post(srv, "sys/leases/revoke-force/" + p, root, {}),
        lambda p: post(srv, "sys/revoke-prefix/" + p, root, {}),
        lambda p: post(srv, "sys/revoke-force/" + p, root, {}),
        lambda p: srv.client(root).sys.revoke_prefix(p),
        lambda p: srv.client(root).sys.revoke_force(p),
    ]
    for revoke in forms:
        ann, _ = login(srv, "ann")
        r = revoke("auth/userpass")
        assert r.status_code == 204, r.text
        wait_until(lambda: status(srv, ann["client_token"]) == 403, 5, "revoked token still valid")
        assert lease_keys(srv, "auth/userpass/") == []
    assert status(srv, made["client_token"]) == 200


def test_token_revoke_and_mount_disable_remove_leases(dev_server):
    srv, root = dev_server, dev_server.root_token
    auth, lease_id = token_with_lease(srv, policies=["default"], ttl="1h")
    r = post(srv, "auth/token/revoke", root, {"token": auth["client_token"]})
    assert r.status_code == 204, r.text
    assert_error(post(srv, "sys/leases/lookup", root, {"lease_id": lease_id}), 400, INVALID_LEASE)
    assert lease_id.rsplit("/", 1)[1] not in lease_keys(srv, "auth/token/create/")
    # revoke-self too.
    auth, lease_id = token_with_lease(srv, policies=["default"], ttl="1h")
    assert post(srv, "auth/token/revoke-self", auth["client_token"]).status_code == 204
    assert_error(post(srv, "sys/leases/lookup", root, {"lease_id": lease_id}), 400, INVALID_LEASE)

    enable_userpass(srv, "ann")
    ann, ann_lease = login(srv, "ann")
    r = srv.request("DELETE", "/v1/sys/auth/userpass", token=root)
    assert r.status_code == 204, r.text
    assert status(srv, ann["client_token"]) == 403
    assert lease_keys(srv, "auth/userpass/") == []
    assert_error(post(srv, "sys/leases/lookup", root, {"lease_id": ann_lease}), 400, INVALID_LEASE)


# --- tidy, counts, metrics -----------------------------------------------------------


def test_tidy_counts_and_metrics(dev_server):
    srv, root = dev_server, dev_server.root_token
    _, lease_id = token_with_lease(srv, policies=["default"], ttl="1h")
    r = post(srv, "sys/leases/tidy", root)
    assert r.status_code == 202, r.text
    assert r.json()["warnings"], r.text
    assert lookup(srv, lease_id)["id"] == lease_id

    r = srv.get("/v1/sys/leases/count?type=irrevocable", token=root)
    assert r.status_code == 200, r.text
    assert_json_headers(r)
    assert r.json()["data"]["lease_count"] == 0 and r.json()["data"]["counts"] == {}
    r = srv.get("/v1/sys/leases?type=irrevocable", token=root)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["lease_count"] == 0 and r.json()["data"]["leases"] == []
    for path in ("/v1/sys/leases/count", "/v1/sys/leases"):
        assert_error(srv.get(path, token=root), 400, "type")
        assert_error(srv.get(path + "?type=expiring", token=root), 400, "type")

    r = srv.get("/v1/sys/metrics?format=prometheus", token=root)
    assert r.status_code == 200, r.text
    assert re.search(r"^trove_expire_irrevocable_leases 0$", r.text, re.M), r.text[:3000]
    assert re.search(r"^# TYPE trove_expire_irrevocable_leases gauge$", r.text, re.M), r.text[:3000]


# --- expiry ------------------------------------------------------------------------------


@pytest.mark.time_limit(40)
def test_expiry_revokes_without_a_request(dev_server):
    srv = dev_server
    auth, lease_id = token_with_lease(srv, policies=["default"], ttl="2s")
    keep, keep_lease = token_with_lease(srv, policies=["default"], ttl="1h")
    acc, item = auth["accessor"], lease_id.rsplit("/", 1)[1]
    expires = rfc3339(lookup(srv, lease_id)["expire_time"])
    assert acc in accessors(srv)

    # Nothing uses the token: only the manager can remove it.
    time.sleep(max(0, expires - time.time()))
    wait_until(lambda: acc not in accessors(srv), 4, "expired token's accessor still listed")
    assert item not in lease_keys(srv, "auth/token/create/")
    assert_error(post(srv, "sys/leases/lookup", srv.root_token, {"lease_id": lease_id}), 400, INVALID_LEASE)
    assert status(srv, auth["client_token"]) == 403
    # The other token is untouched.
    assert keep["accessor"] in accessors(srv)
    assert lookup(srv, keep_lease)["id"] == keep_lease


@pytest.mark.time_limit(40)
def test_expiry_takes_the_children(dev_server):
    srv, root = dev_server, dev_server.root_token
    put_policy(srv, "maker", 'path "auth/token/create" { capabilities = ["update"] }')
    parent, _ = token_with_lease(srv, policies=["maker"], ttl="2s")
    child, child_lease = token_with_lease(srv, token=parent["client_token"], policies=["default"], ttl="1h")
    wait_until(lambda: parent["accessor"] not in accessors(srv) and child["accessor"] not in accessors(srv), 6,
               "a child outlived its expired parent")
    assert_error(post(srv, "sys/leases/lookup", root, {"lease_id": child_lease}), 400, INVALID_LEASE)


# --- restart (LMDB) ---------------------------------------------------------------------


@pytest.mark.time_limit(90)
def test_leases_survive_restart_and_expire_while_down(unsealed_server):
    srv = unsealed_server
    root = srv.root_token
    long_auth, long_lease = token_with_lease(srv, policies=["default"], ttl="1h")
    short_auth, short_lease = token_with_lease(srv, policies=["default"], ttl="3s")
    before = lookup(srv, long_lease)
    short_expires = rfc3339(lookup(srv, short_lease)["expire_time"])

    # Down across the short token's expiry.
    srv.proc.stop()
    time.sleep(max(0, short_expires + 1 - time.time()))
    srv.proc.start()
    srv.unseal()

    # Without anyone touching it, the short token goes soon after unseal.
    wait_until(lambda: short_auth["accessor"] not in accessors(srv), 5,
               "a token that expired while the server was down is still listed after unseal")
    assert short_lease.rsplit("/", 1)[1] not in lease_keys(srv, "auth/token/create/")
    assert_error(post(srv, "sys/leases/lookup", root, {"lease_id": short_lease}), 400, INVALID_LEASE)

    after = lookup(srv, long_lease)
    for k in ("id", "issue_time", "expire_time", "last_renewal", "renewable"):
        assert after[k] == before[k], (k, before, after)
    assert long_auth["accessor"] in accessors(srv)
    assert status(srv, long_auth["client_token"]) == 200
    assert status(srv, short_auth["client_token"]) == 403

    # A renewal before a restart is kept too.
    r = post(srv, "auth/token/renew-self", long_auth["client_token"], {"increment": "2h"})
    assert r.status_code == 200, r.text
    renewed = lookup(srv, long_lease)
    srv.proc.restart()
    srv.unseal()
    assert lookup(srv, long_lease)["expire_time"] == renewed["expire_time"]
    assert lookup(srv, long_lease)["last_renewal"] == renewed["last_renewal"]
    assert renewed["last_renewal"] is not None
