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


def _openapi(srv, token=None, query=""):
    r = srv.request("GET", "/v1/sys/internal/specs/openapi" + query, token=token)
    assert r.status_code == 200, r.text
    return r.json()


def test_openapi_document_from_the_declarations(dev_server):
    srv, root = dev_server, dev_server.root_token
    doc = _openapi(srv, root)
    assert doc["openapi"] == "3.0.2"
    paths = doc["paths"]
    # Every mount's routes under its path, parameters in braces.
    kv = paths["/secret/data/{path}"]
    assert kv["parameters"][0]["name"] == "path" and kv["parameters"][0]["in"] == "path"
    assert {"get", "post", "delete"} <= set(kv)
    assert kv["x-vault-createSupported"] is True
    assert "/secret/metadata/{path}" in paths
    assert "/sys/policies/acl/{name}" in paths
    # Flags and declarations.
    assert paths["/sys/rotate"]["x-vault-sudo"] is True
    assert paths["/sys/health"]["x-vault-unauthenticated"] is True
    schema = paths["/sys/audit-hash/{path}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["input"]
    assert schema["properties"]["input"]["x-vault-displayAttrs"] == {"sensitive": True}
    create = paths["/auth/token/create"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create["properties"]["policies"]["type"] == "array"
    assert create["properties"]["ttl"]["format"] == "duration"
    # Operation ids are unique.
    ids = [op["operationId"] for item in paths.values() for k, op in item.items() if k in ("get", "post", "delete")]
    assert len(ids) == len(set(ids))


def test_openapi_follows_the_token(dev_server):
    srv, root = dev_server, dev_server.root_token
    # No token: only what anyone may call.
    public = _openapi(srv)["paths"]
    assert "/sys/health" in public and "/sys/seal-status" in public
    assert not any(p.startswith("/secret/") for p in public)
    assert "/sys/policies/acl/{name}" not in public
    # A token that reaches one mount sees that mount's routes and no others.
    r = srv.request("PUT", "/v1/sys/policies/acl/kv-reader", token=root,
                    json={"policy": 'path "secret/data/app/*" { capabilities = ["read"] }'})
    assert r.status_code == 204, r.text
    r = srv.request("POST", "/v1/auth/token/create", token=root,
                    json={"policies": ["kv-reader"], "no_default_policy": True})
    reader = r.json()["auth"]["client_token"]
    seen = _openapi(srv, reader)["paths"]
    assert "/secret/data/{path}" in seen
    assert "/sys/policies/acl/{name}" not in seen
    assert not any(p.startswith("/cubbyhole/") for p in seen)
    # A bad token is no token.
    assert _openapi(srv, "not-a-token")["paths"] == public
    # Without a token, an auth method's login shows only once the mount is
    # listed to everyone (as sys/internal/ui/mounts lists it).
    assert srv.request("POST", "/v1/sys/auth/userpass", token=root, json={"type": "userpass"}).status_code == 204
    assert "/auth/userpass/login/{username}" not in _openapi(srv)["paths"]
    assert "/auth/userpass/login/{username}" in _openapi(srv, root)["paths"]
    r = srv.request("POST", "/v1/sys/auth/userpass/tune", token=root, json={"listing_visibility": "unauth"})
    assert r.status_code == 204, r.text
    assert "/auth/userpass/login/{username}" in _openapi(srv)["paths"]


def test_openapi_generic_mount_paths(dev_server):
    paths = _openapi(dev_server, dev_server.root_token, "?generic_mount_paths=true")["paths"]
    assert "/{mount_path}/data/{path}" in paths
    assert "/sys/health" in paths  # built-in mounts keep their paths


def test_help_of_a_path(dev_server):
    srv, root = dev_server, dev_server.root_token
    r = srv.request("GET", "/v1/secret/data/app/db?help=1", token=root)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "Request:        secret/data/app/db" in body["help"]
    assert "## PARAMETERS" in body["help"] and "version (int)" in body["help"]
    assert list(body["openapi"]["paths"]) == ["/secret/data/{path}"]
    assert body["see_also"] is None
    # The handler did not run: nothing was read, nothing is there.
    assert srv.request("GET", "/v1/secret/data/app/db", token=root).status_code == 404
    # Sensitive fields are marked.
    body = srv.request("GET", "/v1/auth/token/lookup?help=1", token=root).json()
    assert "token (string, sensitive)" in body["help"]


def test_help_needs_a_token_but_no_capability(dev_server):
    srv, root = dev_server, dev_server.root_token
    assert srv.request("GET", "/v1/secret/data/x?help=1").status_code == 403
    assert srv.request("GET", "/v1/secret/data/x?help=1", token="nope").status_code == 403
    r = srv.request("POST", "/v1/auth/token/create", token=root,
                    json={"policies": ["default"], "num_uses": 1})
    limited = r.json()["auth"]["client_token"]
    # Vault allows help whatever the ACL; no use of the token is spent.
    assert srv.request("GET", "/v1/sys/policies/acl/x?help=1", token=limited).status_code == 200
    assert srv.request("GET", "/v1/auth/token/lookup-self", token=limited).status_code == 200
    # A route that needs no token gives its help to anyone.
    assert srv.request("GET", "/v1/sys/health?help=1").status_code == 200
    assert srv.request("GET", "/v1/nowhere/x?help=1", token=root).status_code == 404


def _cli(srv, token, *args):
    import os
    import subprocess

    from trove_harness import TROVE_BIN
    env = dict(os.environ, VAULT_ADDR=srv.url, VAULT_TOKEN=token)
    return subprocess.run([TROVE_BIN, *args], env=env, capture_output=True, text=True, timeout=30)


def test_cli_path_help(dev_server):
    srv, root = dev_server, dev_server.root_token
    r = _cli(srv, root, "path-help", "auth/token/lookup")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Request:        auth/token/lookup")
    assert "token (string, sensitive)" in r.stdout
    r = _cli(srv, root, "path-help", "-format=json", "secret/data/app")
    assert r.returncode == 0, r.stderr
    assert "/secret/data/{path}" in json.loads(r.stdout)["openapi"]["paths"]
    # Remote errors exit 2, local ones 1.
    assert _cli(srv, root, "path-help", "nowhere/x").returncode == 2
    assert _cli(srv, "not-a-token", "path-help", "secret/data/app").returncode == 2
    assert _cli(srv, root, "path-help").returncode == 1
