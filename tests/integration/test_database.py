"""The `database` engine at the HTTP level, through hvac's
`secrets.database` methods unchanged, before any database plugin is in the
build: roles, refusals that name the field, the root password kept out of
answers and the audit log, and a token allowed only `database/creds/ro`.
Creating users on real PostgreSQL and MySQL servers is tested with their
plugins."""

import hvac.exceptions
import pytest

PASSWORD = "s3cr:t@/#%?&' \\x-never-shown"


def mount(srv):
    r = srv.put("/v1/sys/mounts/database", token=srv.root_token, json={"type": "database"})
    assert r.status_code == 204, r.text


def test_roles_through_hvac(dev_server):
    mount(dev_server)
    c = dev_server.client(dev_server.root_token)
    c.secrets.database.create_role(
        "ro", db_name="pg",
        creation_statements=["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL "
                             "'{{expiration}}';", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\";"],
        revocation_statements=["DROP ROLE \"{{name}}\";"], default_ttl="1h", max_ttl="24h")
    role = c.secrets.database.read_role("ro")["data"]
    assert role["db_name"] == "pg"
    assert role["default_ttl"] == 3600 and role["max_ttl"] == 86400  # integer seconds
    assert len(role["creation_statements"]) == 2 and role["credential_type"] == "password"
    assert role["renew_statements"] == [] and role["rollback_statements"] == []
    assert c.secrets.database.list_roles()["data"]["keys"] == ["ro"]
    # a statement holding a comma stays one statement
    c.secrets.database.create_role("rw", db_name="pg", creation_statements="GRANT SELECT, INSERT ON t TO x;")
    assert c.secrets.database.read_role("rw")["data"]["creation_statements"] == ["GRANT SELECT, INSERT ON t TO x;"]
    c.secrets.database.delete_role("rw")
    with pytest.raises(hvac.exceptions.InvalidPath):
        c.secrets.database.read_role("rw")
    # the role's connection does not exist: refused, nothing made
    with pytest.raises(hvac.exceptions.InvalidRequest, match="could not find connection"):
        c.secrets.database.generate_credentials("ro")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="unknown role"):
        c.secrets.database.generate_credentials("nope")


def test_refusals_name_the_field(dev_server):
    mount(dev_server)
    tok = dev_server.root_token
    r = dev_server.put("/v1/database/config/pg", token=tok,
                       json={"plugin_name": "no-such-plugin", "connection_url": "postgres://{{username}}:"
                             "{{password}}@h/d", "username": "root", "password": PASSWORD})
    assert r.status_code == 400 and "plugin_name" in r.text and "no-such-plugin" in r.text
    assert PASSWORD not in r.text and "s3cr" not in r.text
    assert dev_server.get("/v1/database/config/pg", token=tok).status_code == 404
    r = dev_server.put("/v1/database/roles/x", token=tok, json={"db_name": "pg"})
    assert r.status_code == 400 and "creation_statements" in r.text
    r = dev_server.put("/v1/database/roles/x", token=tok, json={"creation_statements": "c"})
    assert r.status_code == 400 and "db_name" in r.text
    r = dev_server.put("/v1/database/roles/x", token=tok,
                       json={"db_name": "pg", "creation_statements": "c", "default_ttl": 100, "max_ttl": 50})
    assert r.status_code == 400 and "max_ttl" in r.text
    r = dev_server.put("/v1/database/roles/x", token=tok,
                       json={"db_name": "pg", "creation_statements": {"not": "a list"}})
    assert r.status_code == 400 and "creation_statements" in r.text
    r = dev_server.put("/v1/database/roles/x", token=tok,
                       json={"db_name": "pg", "creation_statements": "c", "credential_type": "kerberos"})
    assert r.status_code == 400 and "credential_type" in r.text
    r = dev_server.put("/v1/database/config/pg", token=tok, json={"max_open_connections": 0,
                                                                  "plugin_name": "x"})
    assert r.status_code == 400 and "max_open_connections" in r.text
    assert dev_server.request("LIST", "/v1/database/config", token=tok).status_code == 404
    r = dev_server.put("/v1/database/rotate-root/pg", token=tok)
    assert r.status_code == 400 and "pg" in r.text
    r = dev_server.put("/v1/database/reset/pg", token=tok)
    assert r.status_code == 400


def test_password_never_in_audit(audited_server):
    srv, log = audited_server
    mount(srv)
    r = srv.put("/v1/database/config/pg", token=srv.root_token,
                json={"plugin_name": "no-such-plugin", "username": "root", "password": PASSWORD})
    assert r.status_code == 400
    text = log.read_text()
    assert "database/config/pg" in text
    assert "s3cr" not in text and "never-shown" not in text


def test_token_allowed_only_creds_ro(dev_server):
    mount(dev_server)
    root = dev_server.client(dev_server.root_token)
    root.secrets.database.create_role("ro", db_name="pg", creation_statements="CREATE {{name}}")
    root.secrets.database.create_role("rw", db_name="pg", creation_statements="CREATE {{name}}")
    root.sys.create_or_update_policy("creds-ro", 'path "database/creds/ro" { capabilities = ["read"] }')
    tok = root.auth.token.create(policies=["creds-ro"])["auth"]["client_token"]
    # the one path it may read gets through the ACL (and fails on the
    # missing connection); everything else is 403
    assert dev_server.get("/v1/database/creds/ro", token=tok).status_code == 400
    for method, path in [("GET", "/v1/database/creds/rw"), ("GET", "/v1/database/config/pg"),
                         ("PUT", "/v1/database/config/pg"), ("GET", "/v1/database/roles/ro"),
                         ("PUT", "/v1/database/roles/ro"), ("DELETE", "/v1/database/roles/ro"),
                         ("LIST", "/v1/database/roles"), ("LIST", "/v1/database/config"),
                         ("PUT", "/v1/database/rotate-root/pg"), ("PUT", "/v1/database/reset/pg")]:
        kw = {"json": {}} if method == "PUT" else {}
        assert dev_server.request(method, path, token=tok, **kw).status_code == 403, (method, path)
