"""sys/key-status and sys/rotate: the response envelope, token handling
(X-Vault-Token and Authorization: Bearer) and the denied paths."""

import hvac.exceptions
import pytest

from trove_harness import UUID_RE, assert_error, assert_json_headers

ENVELOPE_KEYS = {"request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth"}


def key_status(srv, **kw):
    r = srv.get("/v1/sys/key-status", token=srv.root_token, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def test_key_status_envelope(dev_server):
    r = dev_server.get("/v1/sys/key-status", token=dev_server.root_token)
    assert r.status_code == 200, r.text
    assert_json_headers(r)
    body = r.json()
    assert ENVELOPE_KEYS <= body.keys(), body
    assert UUID_RE.match(body["request_id"]), body["request_id"]
    assert body["lease_id"] == ""
    assert body["renewable"] is False
    assert body["lease_duration"] == 0
    assert body["wrap_info"] is None
    assert body["warnings"] is None
    assert body["auth"] is None
    data = body["data"]
    assert isinstance(data["term"], int) and data["term"] >= 1
    assert isinstance(data["install_time"], str) and data["install_time"]
    # sys/key-status is one of the routes whose data is also at the top level.
    assert body.get("term") == data["term"]


def test_request_ids_are_unique(dev_server):
    ids = {key_status(dev_server)["request_id"] for _ in range(5)}
    assert len(ids) == 5


def test_rotate_increments_term(dev_server):
    term = key_status(dev_server)["data"]["term"]
    r = dev_server.put("/v1/sys/rotate", token=dev_server.root_token)
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert key_status(dev_server)["data"]["term"] == term + 1
    client = dev_server.client(dev_server.root_token)
    client.sys.rotate_encryption_key()
    status = client.sys.get_encryption_key_status()
    assert status["data"]["term"] == term + 2


def test_key_status_and_rotate_need_a_token(dev_server):
    term = key_status(dev_server)["data"]["term"]
    for headers in ({}, {"X-Vault-Token": "bogus"}, {"Authorization": "Bearer bogus"},
                    {"Authorization": f"Basic {dev_server.root_token}"}, {"X-Vault-Token": ""}):
        assert_error(dev_server.get("/v1/sys/key-status", headers=headers), 403)
        assert_error(dev_server.put("/v1/sys/rotate", headers=headers), 403)
    assert key_status(dev_server)["data"]["term"] == term
    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.client().sys.rotate_encryption_key()
    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.client("bogus").sys.get_encryption_key_status()


def test_bearer_token_accepted(dev_server):
    bearer = {"Authorization": f"Bearer {dev_server.root_token}"}
    r = dev_server.get("/v1/sys/key-status", headers=bearer)
    assert r.status_code == 200, r.text
    term = r.json()["data"]["term"]
    assert dev_server.put("/v1/sys/rotate", headers=bearer).status_code == 204
    assert key_status(dev_server)["data"]["term"] == term + 1


def test_x_vault_token_wins_over_bearer(dev_server):
    # X-Vault-Token is read first; a bad one is not rescued by a good Bearer.
    h = {"X-Vault-Token": "bogus", "Authorization": f"Bearer {dev_server.root_token}"}
    assert_error(dev_server.get("/v1/sys/key-status", headers=h), 403)
    h = {"X-Vault-Token": dev_server.root_token, "Authorization": "Bearer bogus"}
    assert dev_server.get("/v1/sys/key-status", headers=h).status_code == 200


def test_ignored_vault_headers(dev_server):
    h = {"X-Vault-Request": "true", "X-Vault-Namespace": "root", "X-Vault-Token": dev_server.root_token}
    assert dev_server.get("/v1/sys/key-status", headers=h).status_code == 200


def test_key_status_on_lmdb_server(unsealed_server):
    srv = unsealed_server
    term = key_status(srv)["data"]["term"]
    assert srv.put("/v1/sys/rotate", token=srv.root_token).status_code == 204
    assert key_status(srv)["data"]["term"] == term + 1
