"""The policy boundary: one policy per application and environment.

payments-prod, payments-dev and billing-prod each get a policy over their
own kv-v2 subtree; every token reads and writes only its own paths and is
refused everywhere else: other apps' data, metadata, delete/undelete/destroy
and subkeys, LIST on parent folders, and paths that differ by case or a
trailing slash. Malformed paths ("..", ".", "//", encoded dots, NUL bytes)
are refused before any lookup for every token. A refusal never reveals
whether the secret exists."""

import pytest

from trove_harness import raw_http, status_of

APPS = ["payments/prod", "payments/dev", "billing/prod"]


def policy_for(app):
    return f'''
path "secret/data/{app}/*" {{
  capabilities = ["create", "read", "update", "patch", "delete"]
}}
path "secret/metadata/{app}/*" {{
  capabilities = ["read", "list", "delete"]
}}
path "secret/metadata/{app}/" {{
  capabilities = ["list"]
}}
path "secret/delete/{app}/*" {{
  capabilities = ["update"]
}}
path "secret/undelete/{app}/*" {{
  capabilities = ["update"]
}}
path "secret/destroy/{app}/*" {{
  capabilities = ["update"]
}}
path "secret/subkeys/{app}/*" {{
  capabilities = ["read"]
}}
'''


@pytest.fixture
def world(dev_server):
    root = dev_server.root_token
    c = dev_server.client(root)
    tokens = {}
    for app in APPS:
        name = app.replace("/", "-")
        c.sys.create_or_update_policy(name, policy_for(app))
        r = dev_server.request("POST", "/v1/auth/token/create", token=root,
                               json={"policies": [name], "ttl": "1h"})
        assert r.status_code == 200, r.text
        tokens[app] = r.json()["auth"]["client_token"]
        assert r.json()["auth"]["policies"] == sorted(["default", name])
        # Each app owns one secret, written by root.
        r = dev_server.request("POST", f"/v1/secret/data/{app}/db", token=root,
                               json={"data": {"password": f"pw-{name}"}})
        assert r.status_code == 200, r.text
    return dev_server, tokens


def call(srv, method, path, token, **kw):
    return srv.request(method, "/v1/" + path, token=token, **kw)


def test_each_app_uses_its_own_paths(world):
    srv, tokens = world
    for app, tok in tokens.items():
        r = call(srv, "GET", f"secret/data/{app}/db", tok)
        assert r.status_code == 200, (app, r.text)
        assert r.json()["data"]["data"]["password"] == "pw-" + app.replace("/", "-")
        r = call(srv, "POST", f"secret/data/{app}/api", tok, json={"data": {"key": "k"}})
        assert r.status_code == 200, (app, r.text)
        r = call(srv, "PATCH", f"secret/data/{app}/api", tok, json={"data": {"key2": "k2"}},
                 headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, (app, r.text)
        r = call(srv, "LIST", f"secret/metadata/{app}/", tok)
        assert r.status_code == 200, (app, r.text)
        assert sorted(r.json()["data"]["keys"]) == ["api", "db"]
        assert call(srv, "GET", f"secret/metadata/{app}/db", tok).status_code == 200
        assert call(srv, "GET", f"secret/subkeys/{app}/db", tok).status_code == 200
        assert call(srv, "POST", f"secret/delete/{app}/api", tok, json={"versions": [1]}).status_code == 204
        assert call(srv, "POST", f"secret/undelete/{app}/api", tok, json={"versions": [1]}).status_code == 204
        assert call(srv, "POST", f"secret/destroy/{app}/api", tok, json={"versions": [1]}).status_code == 204
        assert call(srv, "DELETE", f"secret/metadata/{app}/api", tok).status_code == 204


def denied(r, what):
    assert r.status_code == 403, f"{what}: want 403, got {r.status_code}: {r.text[:300]}"
    assert r.json() == {"errors": ["permission denied"]}, what


def test_every_other_path_is_denied(world):
    srv, tokens = world
    for app, tok in tokens.items():
        for other in APPS:
            if other == app:
                continue
            for method, path, kw in [
                ("GET", f"secret/data/{other}/db", {}),
                ("GET", f"secret/data/{other}/db?version=1", {}),
                ("POST", f"secret/data/{other}/db", {"json": {"data": {"x": "y"}}}),
                ("POST", f"secret/data/{other}/new", {"json": {"data": {"x": "y"}}}),
                ("PATCH", f"secret/data/{other}/db",
                 {"json": {"data": {"x": "y"}}, "headers": {"Content-Type": "application/merge-patch+json"}}),
                ("DELETE", f"secret/data/{other}/db", {}),
                ("GET", f"secret/metadata/{other}/db", {}),
                ("POST", f"secret/metadata/{other}/db", {"json": {"max_versions": 1}}),
                ("DELETE", f"secret/metadata/{other}/db", {}),
                ("LIST", f"secret/metadata/{other}/", {}),
                ("POST", f"secret/delete/{other}/db", {"json": {"versions": [1]}}),
                ("POST", f"secret/undelete/{other}/db", {"json": {"versions": [1]}}),
                ("POST", f"secret/destroy/{other}/db", {"json": {"versions": [1]}}),
                ("GET", f"secret/subkeys/{other}/db", {}),
            ]:
                denied(call(srv, method, path, tok, **kw), f"{app} -> {method} {path}")
        # Parents and neighbours of its own subtree.
        top = app.split("/")[0]
        for method, path in [
            ("LIST", "secret/metadata/"),
            ("LIST", f"secret/metadata/{top}/"),
            ("GET", "secret/config"),
            ("POST", "secret/config"),
            ("GET", f"secret/data/{app}"),                   # no trailing slash: not under app/
            ("GET", f"secret/data/{app.upper()}/db"),        # case differs
            ("GET", f"secret/data/{top}/{app.split('/')[1]}x/db"),  # a sibling sharing a prefix
            ("GET", "sys/mounts"),
            ("POST", "sys/mounts/evil"),
            ("GET", "sys/policies/acl/root"),
            ("POST", "auth/token/create-orphan"),
            ("LIST", "auth/token/accessors"),
        ]:
            denied(call(srv, method, path, tok, json={} if method == "POST" else None), f"{app} -> {method} {path}")
    # The other apps' secrets are untouched.
    root = srv.root_token
    for app in APPS:
        r = call(srv, "GET", f"secret/data/{app}/db", root)
        assert r.json()["data"]["data"] == {"password": "pw-" + app.replace("/", "-")}
        assert r.json()["data"]["metadata"]["version"] == 1


def test_encoded_slash_is_the_same_path(world):
    """%2f decodes to '/': it names the same secret, so the same rules apply."""
    srv, tokens = world
    r = call(srv, "GET", "secret/data/payments%2fprod/db", tokens["payments/prod"])
    assert r.status_code == 200, r.text
    denied(call(srv, "GET", "secret/data/payments%2fprod/db", tokens["billing/prod"]), "billing -> %2f")


def test_malformed_paths_are_refused_for_everyone(world):
    # Sent byte for byte: HTTP client libraries would clean these up.
    srv, tokens = world
    host, port = srv.host_port
    bad = [
        "secret/data/payments/prod/../../billing/prod/db",
        "secret/data/payments/prod/%2e%2e/%2e%2e/billing/prod/db",
        "secret/data/payments/prod/%2E%2E/%2E%2E/billing/prod/db",
        "secret/data/payments/prod/./db",
        "secret/data/payments/prod//db",
        "secret/data//billing/prod/db",
        "secret/data/billing/prod/db%00",
        "secret/data/payments/prod/db%00/../../../billing/prod/db",
    ]
    for tok in list(tokens.values()) + [srv.root_token]:
        for p in bad:
            req = (f"GET /v1/{p} HTTP/1.1\r\nHost: {host}\r\nX-Vault-Token: {tok}\r\n"
                   "Connection: close\r\n\r\n").encode()
            raw, _ = raw_http(host, port, req)
            assert status_of(raw) == 400, (p, raw[:200])
            assert b"pw-" not in raw


def test_denial_does_not_reveal_existence(world):
    srv, tokens = world
    tok = tokens["payments/dev"]
    exists = call(srv, "GET", "secret/data/billing/prod/db", tok)
    missing = call(srv, "GET", "secret/data/billing/prod/no-such-secret", tok)
    assert (exists.status_code, exists.text) == (missing.status_code, missing.text)
    exists = call(srv, "GET", "secret/metadata/billing/prod/db", tok)
    missing = call(srv, "GET", "secret/metadata/billing/prod/nope", tok)
    assert (exists.status_code, exists.text) == (missing.status_code, missing.text)
    # Writes are refused the same way whether they would create or update.
    w1 = call(srv, "POST", "secret/data/billing/prod/db", tok, json={"data": {"a": "b"}})
    w2 = call(srv, "POST", "secret/data/billing/prod/nope", tok, json={"data": {"a": "b"}})
    assert (w1.status_code, w1.text) == (w2.status_code, w2.text) == (403, '{"errors":["permission denied"]}\n')


def test_capabilities_report_the_boundary(world):
    srv, tokens = world
    tok = tokens["payments/prod"]
    r = call(srv, "POST", "sys/capabilities-self", tok,
             json={"paths": ["secret/data/payments/prod/db", "secret/data/billing/prod/db"]})
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert sorted(d["secret/data/payments/prod/db"]) == ["create", "delete", "patch", "read", "update"]
    assert d["secret/data/billing/prod/db"] == ["deny"]


def test_revoked_token_loses_access_at_once(world):
    srv, tokens = world
    tok = tokens["billing/prod"]
    assert call(srv, "GET", "secret/data/billing/prod/db", tok).status_code == 200
    assert call(srv, "POST", "auth/token/revoke-self", tok).status_code == 204
    denied(call(srv, "GET", "secret/data/billing/prod/db", tok), "revoked")


def test_policy_change_applies_to_the_next_request(world):
    srv, tokens = world
    tok = tokens["payments/dev"]
    c = srv.client(srv.root_token)
    assert call(srv, "GET", "secret/data/payments/dev/db", tok).status_code == 200
    c.sys.create_or_update_policy("payments-dev", 'path "secret/data/payments/dev/other" { capabilities = ["read"] }')
    denied(call(srv, "GET", "secret/data/payments/dev/db", tok), "after policy narrowed")
    c.sys.delete_policy("payments-dev")
    denied(call(srv, "GET", "secret/data/payments/dev/other", tok), "after policy deleted")
