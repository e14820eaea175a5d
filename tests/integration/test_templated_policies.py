"""Templated policies: a path holding {{identity...}} is expanded with the
requesting token's entity (acl.h). A user reads its own app's secrets and
nothing else; a metadata value that could widen the path ("*", "../other",
"a/b", ...) or a missing key grants nothing; identity changes apply to the
next request."""

import pytest

POLICY = 'path "secret/data/{{identity.entity.metadata.app}}/*" { capabilities = ["read"] }\n'


def root(srv, method, path, body=None):
    r = srv.request(method, path, token=srv.root_token, json=body)
    assert r.status_code in (200, 204), (path, r.status_code, r.text)
    return r


@pytest.fixture
def env(dev_server):
    srv = dev_server
    root(srv, "POST", "/v1/sys/auth/userpass", {"type": "userpass"})
    root(srv, "PUT", "/v1/sys/policies/acl/app-tmpl", {"policy": POLICY})
    for app in ("web", "other", "a", "x"):
        root(srv, "POST", f"/v1/secret/data/{app}/config", {"data": {"app": app}})
    root(srv, "POST", "/v1/secret/data/a/b/config", {"data": {"app": "a/b"}})
    return srv


def login(srv, name, policies=""):
    root(srv, "POST", f"/v1/auth/userpass/users/{name}", {"password": "pw-123456", "token_policies": policies})
    r = srv.request("POST", f"/v1/auth/userpass/login/{name}", json={"password": "pw-123456"})
    assert r.status_code == 200, r.text
    return r.json()["auth"]["client_token"], r.json()["auth"]["entity_id"]


def set_app(srv, eid, app):
    meta = {} if app is None else {"app": app}
    root(srv, "POST", f"/v1/identity/entity/id/{eid}", {"metadata": meta})


def status(srv, tok, path):
    return srv.get(f"/v1/secret/data/{path}", token=tok).status_code


ALL = ("web/config", "other/config", "a/config", "a/b/config", "x/config")


def test_token_policy_reads_own_app_only(env):
    tok, eid = login(env, "ann", "app-tmpl")
    assert len(eid) == 36
    # no metadata yet: the templated rule grants nothing
    assert all(status(env, tok, p) == 403 for p in ALL)
    set_app(env, eid, "web")
    assert status(env, tok, "web/config") == 200
    assert env.get("/v1/secret/data/web/config", token=tok).json()["data"]["data"] == {"app": "web"}
    assert status(env, tok, "other/config") == 403
    # a change to the entity applies to the next request, same token
    set_app(env, eid, "other")
    assert status(env, tok, "other/config") == 200
    assert status(env, tok, "web/config") == 403
    # capabilities-self follows the same expansion
    r = env.request("POST", "/v1/sys/capabilities-self", token=tok,
                    json={"paths": ["secret/data/other/config", "secret/data/web/config"]})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["secret/data/other/config"] == ["read"]
    assert r.json()["data"]["secret/data/web/config"] == ["deny"]


def test_group_policy_and_two_users(env):
    root(env, "PUT", "/v1/sys/policies/acl/plain", {"policy": 'path "secret/data/x/*" { capabilities = ["read"] }'})
    tok_a, eid_a = login(env, "amy")
    tok_b, eid_b = login(env, "ben")
    set_app(env, eid_a, "web")
    set_app(env, eid_b, "other")
    root(env, "POST", "/v1/identity/group", {"name": "apps", "policies": ["app-tmpl", "plain"],
                                            "member_entity_ids": [eid_a, eid_b]})
    assert status(env, tok_a, "web/config") == 200
    assert status(env, tok_a, "other/config") == 403
    assert status(env, tok_b, "other/config") == 200
    assert status(env, tok_b, "web/config") == 403
    # the untemplated policy of the same set is unaffected
    assert status(env, tok_a, "x/config") == 200 and status(env, tok_b, "x/config") == 200


@pytest.mark.parametrize("value", ["*", "+", "../other", "a/b", "x\ny", "", "..", "web*", "{{identity.entity.id}}"])
def test_dangerous_metadata_grants_nothing(env, value):
    tok, eid = login(env, "eve", "app-tmpl")
    set_app(env, eid, value)
    for p in ALL:
        assert status(env, tok, p) == 403, (value, p)
    # the literal value never matches either
    r = env.get("/v1/secret/data/" + value.replace("\n", "%0A") + "/config", token=tok)
    assert r.status_code != 200, (value, r.status_code)
    # and a sane value afterwards works (the rule is dropped, not poisoned)
    set_app(env, eid, "a")
    assert status(env, tok, "a/config") == 200
    assert status(env, tok, "other/config") == 403


def test_missing_key_and_root_token_unaffected(env):
    tok, eid = login(env, "max", "app-tmpl")
    set_app(env, eid, None)
    assert all(status(env, tok, p) == 403 for p in ALL)
    # a token without an entity gets nothing from a templated policy
    r = root(env, "POST", "/v1/auth/token/create", {"policies": ["app-tmpl"]})
    plain = r.json()["auth"]["client_token"]
    assert all(status(env, plain, p) == 403 for p in ALL)
    assert status(env, env.root_token, "other/config") == 200
