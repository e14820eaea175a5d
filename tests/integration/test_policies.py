"""Policies through hvac and the raw API: CRUD on sys/policy and
sys/policies/acl, byte-identical read-back, the default and root
policies, JSON policies, parse errors naming the line, and capabilities
for self, another token and an accessor."""

import json

from trove_harness import assert_error

RULES = '''# app policy
path "secret/data/app/*" {
  capabilities = ["read", "list"]
}

path "secret/data/app/admin" {
  capabilities = ["deny"]
}
'''


def test_crud_through_hvac(dev_server):
    c = dev_server.client(dev_server.root_token)
    c.sys.create_or_update_policy("app", RULES)
    assert "app" in c.sys.list_policies()["data"]["policies"]
    assert c.sys.read_policy("app")["data"]["rules"] == RULES
    # The ACL API returns the text byte-identical (Terraform diffs it).
    r = dev_server.get("/v1/sys/policies/acl/app", token=dev_server.root_token)
    assert r.json()["data"]["policy"] == RULES
    r = dev_server.request("LIST", "/v1/sys/policies/acl", token=dev_server.root_token)
    assert {"app", "default"} <= set(r.json()["data"]["keys"])
    # A JSON document works too (hvac sends one when given a dict).
    c.sys.create_or_update_policy("json-app", {"path": {"secret/data/j/*": {"capabilities": ["read"]}}})
    text = c.sys.read_policy("json-app")["data"]["rules"]
    assert json.loads(text)["path"]["secret/data/j/*"]["capabilities"] == ["read"]
    c.sys.delete_policy("app")
    assert "app" not in c.sys.list_policies()["data"]["policies"]
    r = dev_server.get("/v1/sys/policies/acl/app", token=dev_server.root_token)
    assert r.status_code == 404


def test_builtin_policies(dev_server):
    t = dev_server.root_token
    r = dev_server.get("/v1/sys/policies/acl/default", token=t)
    assert r.status_code == 200 and "auth/token/lookup-self" in r.json()["data"]["policy"]
    assert dev_server.request("DELETE", "/v1/sys/policies/acl/default", token=t).status_code == 400
    r = dev_server.request("PUT", "/v1/sys/policies/acl/root", token=t, json={"policy": 'path "*" {capabilities=["read"]}'})
    assert_error(r, 400, "root")
    assert dev_server.request("DELETE", "/v1/sys/policies/acl/root", token=t).status_code == 400


def test_parse_errors_name_the_line(dev_server):
    t = dev_server.root_token
    bad = 'path "a/*" {\n  capabilities = ["read"]\n}\npath "b/*" {\n  capabilities = ["fly"]\n}\n'
    r = dev_server.request("PUT", "/v1/sys/policies/acl/bad", token=t, json={"policy": bad})
    assert_error(r, 400, "line 5")
    r = dev_server.request("PUT", "/v1/sys/policies/acl/bad", token=t, json={"policy": 'path "a" {'})
    assert r.status_code == 400
    r = dev_server.request("PUT", "/v1/sys/policies/acl/bad", token=t, json={})
    assert r.status_code == 400
    assert dev_server.get("/v1/sys/policies/acl/bad", token=t).status_code == 404


def test_capabilities_for_self_token_and_accessor(dev_server):
    t = dev_server.root_token
    c = dev_server.client(t)
    c.sys.create_or_update_policy("app", RULES)
    tok = c.auth.token.create(policies=["app"], ttl="1h")["auth"]
    user = dev_server.client(tok["client_token"])
    caps = user.sys.get_capabilities(["secret/data/app/x", "secret/data/app/admin", "secret/data/other"])
    assert sorted(caps["secret/data/app/x"]) == ["list", "read"]
    assert caps["secret/data/app/admin"] == ["deny"]
    assert caps["secret/data/other"] == ["deny"]
    # Root asks about another token, by token and by accessor.
    caps = c.sys.get_capabilities(["secret/data/app/x"], token=tok["client_token"])
    assert sorted(caps["secret/data/app/x"]) == ["list", "read"]
    caps = c.sys.get_capabilities(["secret/data/app/x"], accessor=tok["accessor"])
    assert sorted(caps["secret/data/app/x"]) == ["list", "read"]
    assert c.sys.get_capabilities(["anything"])["anything"] == ["root"]
    # A plain token may not ask about other tokens.
    r = dev_server.request("POST", "/v1/sys/capabilities", token=tok["client_token"],
                           json={"token": t, "paths": ["x"]})
    assert r.status_code == 403
    # The resultant ACL of the token names its rules.
    r = dev_server.get("/v1/sys/internal/ui/resultant-acl", token=tok["client_token"])
    assert r.status_code == 200, r.text
    assert "secret/data/app/" in json.dumps(r.json()["data"])
