"""auth/userpass and user lockout against the real server.

Users are managed through hvac (create_or_update_user, read_user, list_user,
delete_user, update_password_on_user, login), the rest through raw HTTP.
Covered: user CRUD, reads that never show the password, logins that carry
the user's token settings (policies + default, TTLs, bound CIDRs, which are
enforced when the token is used from another source address), one answer
for an unknown user and a wrong password — in text and in time —, Vault's
lockout after five failures with sys/locked-users and unlock, and canary
passwords that must never reach server output, the LMDB files or a file
audit log.

Every login from the same test counts towards the lockout of its user, so
tests that need many failures spread them over several users."""

import json
import secrets
import statistics
import time

import hvac
import pytest
import requests
from requests.adapters import HTTPAdapter

BAD_LOGIN = "invalid username or password"


# --- helpers ------------------------------------------------------------------


def enable_userpass(srv, path="userpass"):
    r = srv.request("POST", f"/v1/sys/auth/{path}", token=srv.root_token, json={"type": "userpass"})
    assert r.status_code == 204, r.text
    r = srv.get("/v1/sys/auth", token=srv.root_token)
    assert r.status_code == 200, r.text
    return r.json()["data"][path.strip("/") + "/"]["accessor"]


def login_raw(srv, user, password, mount="userpass", session=None):
    url = f"{srv.url}/v1/auth/{mount}/login/{user}"
    return (session or requests).post(url, json={"password": password}, timeout=10)


def put_policy(srv, name):
    r = srv.request(
        "PUT",
        f"/v1/sys/policies/acl/{name}",
        token=srv.root_token,
        json={"policy": 'path "secret/*" { capabilities = ["read"] }'},
    )
    assert r.status_code == 204, r.text


class SourceAdapter(HTTPAdapter):
    """Connects from a chosen local address (127.0.0.2 reaches 127.0.0.1)."""

    def __init__(self, source, **kw):
        self._source = source
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self._source, 0)
        super().init_poolmanager(*args, **kw)


def session_from(addr):
    s = requests.Session()
    s.mount("http://", SourceAdapter(addr))
    return s


def assert_no_canary(data, canaries, where):
    if isinstance(data, str):
        data = data.encode()
    for c in canaries:
        assert c.encode() not in data, f"password canary {c!r} found in {where}"


@pytest.fixture
def up(dev_server):
    srv = dev_server
    srv.accessor = enable_userpass(srv)
    srv.hv = srv.client(srv.root_token)
    return srv


# --- users ------------------------------------------------------------------------


def test_user_crud_and_reads_never_show_the_password(up):
    canary = "pw-" + secrets.token_hex(12)
    hv = up.hv
    put_policy(up, "dev")
    hv.auth.userpass.create_or_update_user(
        "Ann", password=canary, token_policies=["dev"], token_ttl="10m", token_bound_cidrs=["127.0.0.1/32"]
    )
    hv.auth.userpass.create_or_update_user("bob", password="bob-pw", policies="ops")

    # Case-insensitive names, stored lowercased.
    assert sorted(hv.auth.userpass.list_user()["data"]["keys"]) == ["ann", "bob"]
    for name in ("ann", "ANN"):
        r = up.get(f"/v1/auth/userpass/users/{name}", token=up.root_token)
        assert r.status_code == 200, r.text
        assert canary not in r.text and "argon2" not in r.text and "password" not in r.text, r.text
        d = r.json()["data"]
        assert d["token_policies"] == ["dev"]
        assert d["token_ttl"] == 600
        assert d["token_bound_cidrs"] == ["127.0.0.1/32"]
    # The legacy "policies" parameter sets token_policies.
    assert hv.auth.userpass.read_user("bob")["data"]["token_policies"] == ["ops"]

    # An update without a password keeps it.
    hv.auth.userpass.create_or_update_user("ann", token_ttl="20m")
    assert hv.auth.userpass.read_user("ann")["data"]["token_ttl"] == 1200
    assert login_raw(up, "ann", canary).status_code == 200

    new = "pw2-" + secrets.token_hex(8)
    hv.auth.userpass.update_password_on_user("ann", new)
    assert login_raw(up, "ann", canary).status_code == 400
    assert login_raw(up, "ann", new).status_code == 200

    r = up.request(
        "POST", "/v1/auth/userpass/users/bob/policies", token=up.root_token, json={"token_policies": "a,b"}
    )
    assert r.status_code in (200, 204), r.text
    assert hv.auth.userpass.read_user("bob")["data"]["token_policies"] == ["a", "b"]

    hv.auth.userpass.delete_user("bob")
    assert hv.auth.userpass.list_user()["data"]["keys"] == ["ann"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        hv.auth.userpass.read_user("bob")
    r = login_raw(up, "bob", "bob-pw")
    assert r.status_code == 400 and r.json()["errors"] == [BAD_LOGIN], r.text

    assert_no_canary(up.proc.all_output_bytes(), [canary, new], "server output")


def test_refused_writes(up):
    hv = up.hv
    # A create needs a non-empty password.
    with pytest.raises(hvac.exceptions.InvalidRequest, match="missing password"):
        hv.auth.userpass.create_or_update_user("carl", token_policies=["x"])
    with pytest.raises(hvac.exceptions.InvalidRequest, match="missing password"):
        hv.auth.userpass.create_or_update_user("carl", password="")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid username"):
        hv.auth.userpass.create_or_update_user("-carl", password="x")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="does not exist"):
        hv.auth.userpass.update_password_on_user("nobody", "x")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        hv.auth.userpass.create_or_update_user("carl", password="x", token_bound_cidrs=["not-a-cidr"])
    # Managing users needs a token; logging in does not.
    r = up.get("/v1/auth/userpass/users/carl")
    assert r.status_code == 403, r.text
    with pytest.raises(hvac.exceptions.InvalidPath):
        hv.auth.userpass.list_user()


# --- login --------------------------------------------------------------------------


def test_login_token_carries_the_users_settings(up):
    put_policy(up, "dev")
    up.hv.auth.userpass.create_or_update_user(
        "dana", password="dana-pw", token_policies=["dev"], token_ttl="30m", token_max_ttl="1h"
    )
    client = up.client()
    auth = client.auth.userpass.login("DANA", "dana-pw")["auth"]
    assert auth["policies"] == ["default", "dev"]
    assert auth["token_policies"] == ["default", "dev"]
    assert auth["metadata"] == {"username": "dana"}
    assert auth["lease_duration"] == 1800
    assert auth["renewable"] is True
    assert client.token == auth["client_token"]

    me = client.auth.token.lookup_self()["data"]
    assert me["display_name"] == "userpass-dana"
    assert me["path"] == "auth/userpass/login/DANA"
    assert 1790 <= me["ttl"] <= 1800
    assert me["policies"] == ["default", "dev"]


def test_login_ttl_capped_by_token_max_ttl(up):
    # Without token_ttl the mount's default (32 days) applies, capped by
    # the user's token_max_ttl, with Vault's warning.
    up.hv.auth.userpass.create_or_update_user("dora", password="d", token_max_ttl="1h")
    r = login_raw(up, "dora", "d")
    assert r.status_code == 200, r.text
    assert r.json()["auth"]["lease_duration"] == 3600
    assert any("max_ttl" in w for w in r.json()["warnings"] or []), r.text


def test_renewal_capped_by_token_max_ttl(up):
    up.hv.auth.userpass.create_or_update_user("dina", password="d", token_ttl="30m", token_max_ttl="1h")
    client = up.client()
    client.auth.userpass.login("dina", "d")
    renewed = client.auth.token.renew_self(increment="5h")["auth"]
    assert 1800 < renewed["lease_duration"] <= 3600, renewed


def test_display_name_of_a_nested_mount(dev_server):
    srv = dev_server
    enable_userpass(srv, "corp/people")
    srv.client(srv.root_token).auth.userpass.create_or_update_user("eve", password="e", mount_point="corp/people")
    client = srv.client()
    client.auth.userpass.login("eve", "e", mount_point="corp/people")
    assert client.auth.token.lookup_self()["data"]["display_name"] == "corp-people-eve"


def test_bound_cidrs_enforced_at_login_and_at_use(up):
    up.hv.auth.userpass.create_or_update_user("fred", password="f", token_bound_cidrs=["127.0.0.1/32"])
    r = login_raw(up, "fred", "f")
    assert r.status_code == 200, r.text
    token = r.json()["auth"]["client_token"]
    lookup = f"{up.url}/v1/auth/token/lookup-self"

    home, away = session_from("127.0.0.1"), session_from("127.0.0.2")
    assert home.get(lookup, headers={"X-Vault-Token": token}, timeout=10).status_code == 200
    r = away.get(lookup, headers={"X-Vault-Token": token}, timeout=10)
    assert r.status_code == 403, r.text

    # Vault also refuses the login itself from outside the CIDRs; it is
    # not counted as a failed attempt.
    for _ in range(6):
        r = login_raw(up, "fred", "f", session=away)
        assert r.status_code == 403, r.text
    assert login_raw(up, "fred", "f", session=home).status_code == 200


def test_unknown_user_and_wrong_password_answer_alike(up):
    up.hv.auth.userpass.create_or_update_user("gail", password="right")
    wrong = login_raw(up, "gail", "wrong")
    unknown = login_raw(up, "nobody-" + secrets.token_hex(4), "wrong")
    weird = login_raw(up, "-not.a.name-", "wrong")
    for r in (wrong, unknown, weird):
        assert r.status_code == 400, r.text
        assert r.json() == {"errors": [BAD_LOGIN]}
    with pytest.raises(hvac.exceptions.InvalidRequest, match=BAD_LOGIN):
        up.client().auth.userpass.login("gail", "wrong")
    # No password at all is a different (caller) error.
    r = requests.post(f"{up.url}/v1/auth/userpass/login/gail", json={}, timeout=10)
    assert r.status_code == 400 and "missing password" in r.text


@pytest.mark.time_limit(240)
def test_unknown_user_costs_the_same_as_a_wrong_password(up):
    # Five known users take four wrong passwords each (under the lockout
    # threshold); every unknown name is fresh.
    known = [f"timed{i}" for i in range(5)]
    for name in known:
        up.hv.auth.userpass.create_or_update_user(name, password="the-right-one")
    s = requests.Session()
    # Warm up both paths (connection, caches, the dummy hash).
    assert login_raw(up, "warm-unknown", "x", session=s).status_code == 400
    assert login_raw(up, "the-right-user", "x", session=s).status_code == 400

    def timed(user):
        t0 = time.perf_counter()
        r = login_raw(up, user, "wrong-password", session=s)
        t = time.perf_counter() - t0
        assert r.status_code == 400 and r.json() == {"errors": [BAD_LOGIN]}, r.text
        return t

    t_unknown, t_wrong = [], []
    for i in range(20):
        ghost = f"ghost-{i}-{secrets.token_hex(3)}"
        # Alternate which goes first, so drift and ordering cancel out.
        if i % 2:
            t_unknown.append(timed(ghost))
            t_wrong.append(timed(known[i % 5]))
        else:
            t_wrong.append(timed(known[i % 5]))
            t_unknown.append(timed(ghost))
    mu, mw = statistics.median(t_unknown), statistics.median(t_wrong)
    print(f"median login: unknown user {mu * 1000:.1f} ms, wrong password {mw * 1000:.1f} ms")
    # Both really ran argon2id (milliseconds, not microseconds) ...
    assert mu > 0.003 and mw > 0.003, (mu, mw)
    # ... and cost the same.
    assert abs(mu - mw) / max(mu, mw) < 0.25, (mu, mw)


# --- lockout -------------------------------------------------------------------------


def locked_users(srv, **params):
    r = srv.get("/v1/sys/locked-users", token=srv.root_token, params=params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_lockout_after_five_failures_and_unlock(up):
    up.hv.auth.userpass.create_or_update_user("hank", password="hank-pw")
    assert locked_users(up) == {"by_namespace": [], "total": 0}

    # Four failures, then success: the count starts over.
    for _ in range(4):
        assert login_raw(up, "hank", "bad").status_code == 400
    assert login_raw(up, "hank", "hank-pw").status_code == 200
    for _ in range(5):
        r = login_raw(up, "hank", "bad")
        assert r.status_code == 400 and r.json()["errors"] == [BAD_LOGIN], r.text
    # Locked: even the right password fails, with Vault's answer.
    r = login_raw(up, "hank", "hank-pw")
    assert r.status_code == 403 and r.json()["errors"] == ["permission denied"], r.text
    with pytest.raises(hvac.exceptions.Forbidden):
        up.client().auth.userpass.login("HANK", "hank-pw")

    # Unknown users lock the same way (a lock tells nothing about existence).
    for _ in range(5):
        assert login_raw(up, "ivy", "bad").status_code == 400
    assert login_raw(up, "ivy", "bad").status_code == 403

    data = locked_users(up)
    assert data["total"] == 2
    (ns,) = data["by_namespace"]
    assert ns["namespace_id"] == "root" and ns["namespace_path"] == "" and ns["counts"] == 2
    (m,) = ns["mount_accessors"]
    assert m == {"mount_accessor": up.accessor, "counts": 2, "alias_identifiers": ["hank", "ivy"]}
    assert locked_users(up, mount_accessor=up.accessor)["total"] == 2
    assert locked_users(up, mount_accessor="auth_userpass_00000000")["total"] == 0
    r = up.request("LIST", "/v1/sys/locked-users", token=up.root_token)
    assert r.status_code == 200 and r.json()["data"]["total"] == 2, r.text

    # Only a token may look or unlock.
    assert up.get("/v1/sys/locked-users").status_code == 403
    unlock = f"/v1/sys/locked-users/{up.accessor}/unlock/hank"
    assert up.request("POST", unlock).status_code == 403

    r = up.request("POST", unlock, token=up.root_token)
    assert r.status_code == 204, r.text
    assert up.request("POST", unlock, token=up.root_token).status_code == 204  # idempotent
    assert locked_users(up)["total"] == 1
    assert login_raw(up, "hank", "hank-pw").status_code == 200
    # Another mount's users are counted apart.
    acc2 = enable_userpass(up, "other")
    up.hv.auth.userpass.create_or_update_user("hank", password="x", mount_point="other")
    assert login_raw(up, "hank", "x", mount="other").status_code == 200
    assert acc2 != up.accessor


# --- canaries ------------------------------------------------------------------------


def test_password_canary_never_in_the_audit_log(up, tmp_path):
    log = tmp_path / "audit.log"
    r = up.request(
        "PUT", "/v1/sys/audit/file", token=up.root_token, json={"type": "file", "options": {"file_path": str(log)}}
    )
    assert r.status_code == 204, r.text
    c_create, c_wrong, c_new, c_unknown = ("canary-" + secrets.token_hex(10) for _ in range(4))

    up.hv.auth.userpass.create_or_update_user("jane", password=c_create)
    assert login_raw(up, "jane", c_create).status_code == 200
    assert login_raw(up, "jane", c_wrong).status_code == 400
    up.hv.auth.userpass.update_password_on_user("jane", c_new)
    assert login_raw(up, "jane", c_new).status_code == 200
    assert login_raw(up, "nobody", c_unknown).status_code == 400

    text = log.read_text()
    canaries = [c_create, c_wrong, c_new, c_unknown]
    assert_no_canary(text, canaries, "the audit log")
    # The logins were audited, with the password HMAC'd.
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    logins = [e for e in entries if e.get("request", {}).get("path") == "auth/userpass/login/jane"]
    assert len(logins) >= 6, f"expected request+response entries for 3 logins, got {len(logins)}"
    pw = logins[0]["request"]["data"]["password"]
    assert pw.startswith("hmac-sha256:"), pw
    assert_no_canary(up.proc.all_output_bytes(), canaries, "server output")


def test_password_canary_never_in_storage_files(config_server):
    srv = config_server()
    srv.init(1, 1)
    srv.unseal()
    enable_userpass(srv)
    canary = "canary-" + secrets.token_hex(12)
    hv = srv.client(srv.root_token)
    hv.auth.userpass.create_or_update_user("kim", password=canary, token_policies=["p"])
    assert login_raw(srv, "kim", canary).status_code == 200
    assert login_raw(srv, "kim", canary + "x").status_code == 400
    srv.stop()
    files = srv.storage_files()
    assert files, "no storage files"
    for f in files:
        assert_no_canary(f.read_bytes(), [canary], f"storage file {f.name}")
    assert_no_canary(srv.proc.all_output_bytes(), [canary], "server output")

    # The user survives a restart (and a restart unlocks nobody's password).
    srv.start()
    srv.unseal()
    assert login_raw(srv, "kim", canary).status_code == 200
