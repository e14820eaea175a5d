"""Field declarations applied by the router to every engine alike:
sensitive fields stay HMAC'd in audit entries whatever the mount's
audit_non_hmac_request_keys says, required fields of a write are refused
with a 400 naming the field (after the ACL), and the OpenAPI document and
?help=1 are generated from the same declarations."""

import json

HASH = "hmac-sha256:"


def _entries(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_sensitive_field_stays_hashed_when_the_mount_lists_it(dev_server, tmp_path):
    srv, root = dev_server, dev_server.root_token
    log = tmp_path / "audit.log"
    r = srv.request("PUT", "/v1/sys/audit/file", token=root,
                    json={"type": "file", "options": {"file_path": str(log)}})
    assert r.status_code == 204, r.text
    assert srv.request("POST", "/v1/sys/auth/userpass", token=root, json={"type": "userpass"}).status_code == 204
    r = srv.request("POST", "/v1/sys/auth/userpass/tune", token=root,
                    json={"audit_non_hmac_request_keys": ["username", "password"]})
    assert r.status_code == 204, r.text
    r = srv.request("POST", "/v1/auth/userpass/users/ann", token=root,
                    json={"password": "correct-horse-battery", "token_policies": "default"})
    assert r.status_code == 204, r.text
    r = srv.request("POST", "/v1/auth/userpass/login/ann", json={"password": "correct-horse-battery"})
    assert r.status_code == 200, r.text

    text = log.read_text()
    assert "correct-horse-battery" not in text
    logins = [e for e in _entries(log) if e["request"]["path"] == "auth/userpass/login/ann"]
    assert logins, text
    for e in logins:
        # The listed key that is not sensitive is in clear ...
        assert e["request"]["data"].get("username", "ann") == "ann"
        # ... the sensitive one is not, whatever the tune says.
        assert e["request"]["data"]["password"].startswith(HASH)


def test_required_field_missing_is_a_400_naming_it(dev_server):
    srv, root = dev_server, dev_server.root_token
    r = srv.request("PUT", "/v1/sys/audit-hash/nothing", token=root, json={})
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == ["input: missing"]


def test_required_field_missing_is_refused_after_the_acl(dev_server):
    srv, root = dev_server, dev_server.root_token
    r = srv.request("POST", "/v1/auth/token/create", token=root, json={"policies": ["default"]})
    user = r.json()["auth"]["client_token"]
    # Not allowed: 403, whatever the body lacks.
    r = srv.request("PUT", "/v1/sys/audit-hash/nothing", token=user, json={})
    assert r.status_code == 403, r.text
