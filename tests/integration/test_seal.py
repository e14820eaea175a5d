"""Init, unseal, seal, seal-status and leader, through hvac's `sys` API and
raw HTTP: the allowed paths and the denied ones."""

import base64
import os

import hvac
import hvac.exceptions
import pytest

from trove_harness import SEMVER_RE, assert_error, assert_json_headers

SEAL_STATUS_KEYS = {"type", "initialized", "sealed", "t", "n", "progress", "nonce", "version", "migration",
                    "recovery_seal", "storage_type"}
LEADER_KEYS = {"ha_enabled", "is_self", "leader_address", "leader_cluster_address", "performance_standby"}


def test_lifecycle_through_hvac(config_server):
    srv = config_server()
    client = srv.client()

    assert client.sys.is_initialized() is False
    assert client.sys.read_init_status() == {"initialized": False}
    assert client.sys.is_sealed() is True

    result = client.sys.initialize(3, 2)
    keys, keys_b64, root = result["keys"], result["keys_base64"], result["root_token"]
    assert len(keys) == 3 and len(keys_b64) == 3
    assert len(set(keys)) == 3
    for h, b in zip(keys, keys_b64):
        assert bytes.fromhex(h) == base64.b64decode(b)
    assert isinstance(root, str) and root
    assert client.sys.is_initialized() is True

    status = client.sys.read_seal_status()
    assert SEAL_STATUS_KEYS <= status.keys(), status
    assert status["type"] == "shamir"
    assert (status["initialized"], status["sealed"]) == (True, True)
    assert (status["t"], status["n"], status["progress"]) == (2, 3, 0)
    assert SEMVER_RE.match(status["version"]), status["version"]
    assert status["storage_type"] == "lmdb"

    # One share: progress 1, still sealed. A base64 share completes it.
    status = client.sys.submit_unseal_key(keys[0])
    assert (status["sealed"], status["progress"]) == (True, 1)
    assert status["nonce"]
    status = client.sys.submit_unseal_key(keys_b64[1])
    assert status["sealed"] is False
    assert status["progress"] == 0
    assert client.sys.is_sealed() is False

    health = client.sys.read_health_status(method="GET")
    assert isinstance(health, dict) and health["initialized"] and not health["sealed"]

    leader = client.sys.read_leader_status()
    assert LEADER_KEYS <= leader.keys(), leader
    assert leader["ha_enabled"] is False

    # Seal needs the token; hvac gets 204.
    with pytest.raises(hvac.exceptions.Forbidden):
        client.sys.seal()
    assert client.sys.is_sealed() is False
    client.token = root
    resp = client.sys.seal()
    assert resp.status_code == 204
    assert client.sys.is_sealed() is True

    status = client.sys.submit_unseal_keys([keys[2], keys[0]])
    assert status["sealed"] is False


def test_dev_server_seal_status_and_leader(dev_server):
    client = dev_server.client(dev_server.root_token)
    status = client.sys.read_seal_status()
    assert SEAL_STATUS_KEYS <= status.keys()
    assert (status["initialized"], status["sealed"], status["t"], status["n"]) == (True, False, 1, 1)
    leader = client.sys.read_leader_status()
    assert leader["ha_enabled"] is False
    r = dev_server.get("/v1/sys/seal-status")
    assert_json_headers(r)
    r = dev_server.get("/v1/sys/leader")
    assert r.status_code == 200
    assert_json_headers(r)


def test_dev_unseal_key_reunseals(dev_server):
    r = dev_server.put("/v1/sys/seal", token=dev_server.root_token)
    assert r.status_code == 204 and r.content == b""
    assert dev_server.seal_status()["sealed"] is True
    status = dev_server.client().sys.submit_unseal_key(dev_server.unseal_key)
    assert status["sealed"] is False


def test_init_twice_rejected(dev_server):
    r = dev_server.put("/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1})
    assert_error(r, 400, "Vault is already initialized")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        dev_server.client().sys.initialize(1, 1)


def test_init_twice_on_config_server(config_server):
    srv = config_server()
    srv.init(1, 1)
    r = srv.put("/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1})
    assert_error(r, 400, "Vault is already initialized")


@pytest.mark.parametrize(
    "body",
    [
        {"secret_shares": 2, "secret_threshold": 3},  # threshold above shares
        {"secret_shares": 0, "secret_threshold": 0},
        {"secret_shares": 3, "secret_threshold": 0},
        {"secret_shares": -1, "secret_threshold": 1},
        {"secret_shares": 3, "secret_threshold": 1},  # threshold 1 with several shares
        {"secret_shares": 300, "secret_threshold": 2},  # Shamir over GF(256): at most 255 shares
    ],
)
def test_init_bad_parameters(config_server, body):
    srv = config_server()
    r = srv.put("/v1/sys/init", json=body)
    assert_error(r, 400)
    assert srv.get("/v1/sys/init").json() == {"initialized": False}


def _forged_like(hex_key):
    """A share of the same length as a real one but with other bytes."""
    raw = bytearray(os.urandom(len(bytes.fromhex(hex_key))))
    return raw.hex()


def _unseal_error(srv, first, second):
    r = srv.put("/v1/sys/unseal", json={"key": first})
    assert r.status_code == 200, r.text
    assert r.json()["progress"] == 1
    r = srv.put("/v1/sys/unseal", json={"key": second})
    errors = assert_error(r, 400)
    st = srv.seal_status()
    assert st["sealed"] is True
    assert st["progress"] == 0, "a failed unseal attempt must reset progress"
    return errors


def test_unseal_wrong_key_resets_progress(config_server):
    srv = config_server()
    srv.init(3, 2)
    good = srv.unseal_keys[0]
    bad = _forged_like(good)
    err_bad_second = _unseal_error(srv, good, bad)
    err_bad_first = _unseal_error(srv, bad, good)
    # The message must not tell which share was wrong, nor echo any share.
    assert err_bad_second == err_bad_first
    text = " ".join(err_bad_first)
    for k in (good, bad, base64.b64encode(bytes.fromhex(good)).decode()):
        assert k not in text
    # The correct shares still unseal afterwards.
    srv.unseal()
    assert srv.seal_status()["sealed"] is False


def test_unseal_duplicate_share_does_not_count_twice(config_server):
    # docs/decisions/0002: a share submitted twice is refused (400) and the
    # progress stays where it was.
    srv = config_server()
    srv.init(3, 2)
    k = srv.unseal_keys[0]
    r = srv.put("/v1/sys/unseal", json={"key": k})
    assert r.json()["progress"] == 1
    # Same share again, once in hex and once in base64.
    for again in (k, base64.b64encode(bytes.fromhex(k)).decode()):
        r = srv.put("/v1/sys/unseal", json={"key": again})
        assert_error(r, 400)
        assert k not in r.text
        st = srv.seal_status()
        assert st["sealed"] is True, "the same share twice must not unseal"
        assert st["progress"] == 1
    srv.unseal(srv.unseal_keys[1:])
    assert srv.seal_status()["sealed"] is False


def test_unseal_reset(config_server):
    srv = config_server()
    srv.init(3, 2)
    r = srv.put("/v1/sys/unseal", json={"key": srv.unseal_keys[0]})
    assert r.json()["progress"] == 1
    r = srv.put("/v1/sys/unseal", json={"reset": True})
    assert r.status_code == 200, r.text
    assert (r.json()["sealed"], r.json()["progress"]) == (True, 0)
    status = srv.client().sys.submit_unseal_key(reset=True)
    assert status["progress"] == 0
    srv.unseal(srv.unseal_keys[1:])
    r = srv.put("/v1/sys/unseal", json={"reset": True})
    assert_error(r, 400, "unsealed")


def test_unseal_missing_or_garbage_key(config_server):
    srv = config_server()
    srv.init(3, 2)
    assert_error(srv.put("/v1/sys/unseal", json={}), 400, "key")
    assert_error(srv.put("/v1/sys/unseal", data=b""), 400)
    for junk in ("not-hex-or-base64!!", "abcd", "00" * 200, ""):
        assert_error(srv.put("/v1/sys/unseal", json={"key": junk}), 400)
    assert srv.seal_status()["sealed"] is True


def test_unseal_before_init(config_server):
    srv = config_server()
    r = srv.put("/v1/sys/unseal", json={"key": "00" * 33})
    assert_error(r, 400)


def test_seal_needs_root_token(dev_server):
    assert_error(dev_server.put("/v1/sys/seal"), 403)
    assert_error(dev_server.put("/v1/sys/seal", token="not-a-token"), 403)
    assert_error(dev_server.put("/v1/sys/seal", headers={"Authorization": "Bearer wrong"}), 403)
    assert dev_server.seal_status()["sealed"] is False
    r = dev_server.put("/v1/sys/seal", token=dev_server.root_token)
    assert r.status_code == 204
    assert r.content == b""
    assert dev_server.seal_status()["sealed"] is True


SEALED_BODY = {"errors": ["Vault is sealed"]}
# Everything except seal-status, health, unseal, init and leader.
GUARDED = [
    ("GET", "/v1/sys/key-status"),
    ("PUT", "/v1/sys/rotate"),
    ("GET", "/v1/sys/mounts"),
    ("GET", "/v1/sys/policy"),
    ("GET", "/v1/secret/foo"),
    ("PUT", "/v1/secret/foo"),
    ("DELETE", "/v1/secret/foo"),
    ("LIST", "/v1/secret/"),
    ("GET", "/v1/sys/no-such-thing"),
    ("GET", "/v1/auth/token/lookup-self"),
]


def _check_guarded(srv, token):
    for method, path in GUARDED:
        for tok in (None, token):
            r = srv.request(method, path, token=tok, json={} if method == "PUT" else None)
            assert r.status_code == 503, f"{method} {path} (token={bool(tok)}): {r.status_code} {r.text}"
            assert_json_headers(r)
            assert r.json() == SEALED_BODY, f"{method} {path}: {r.text}"


def _check_exempt(srv, want_health):
    assert srv.get("/v1/sys/seal-status").status_code == 200
    assert srv.get("/v1/sys/init").status_code == 200
    assert srv.get("/v1/sys/health").status_code == want_health
    r = srv.put("/v1/sys/unseal", json={"reset": True})
    assert r.status_code in (200, 400), r.text  # 400 only while uninitialised
    r = srv.get("/v1/sys/leader")
    assert r.status_code in (200, 503), r.text
    assert_json_headers(r)


def test_sealed_server_answers_503(dev_server):
    assert dev_server.put("/v1/sys/seal", token=dev_server.root_token).status_code == 204
    _check_guarded(dev_server, dev_server.root_token)
    _check_exempt(dev_server, 503)


def test_uninitialised_server_answers_503(config_server):
    srv = config_server()
    _check_guarded(srv, "whatever")
    _check_exempt(srv, 501)
    assert srv.get("/v1/sys/init").json() == {"initialized": False}


def test_sealed_config_server_answers_503(config_server):
    srv = config_server()
    srv.init(3, 2)
    _check_guarded(srv, srv.root_token)
    _check_exempt(srv, 503)
