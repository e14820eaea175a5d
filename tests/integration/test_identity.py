"""The identity store (identity/, a built-in mount) through hvac and raw HTTP.

Covers entities (create, read by id and name, update, rename, delete, list
by id and name, case-insensitive unique names), entity aliases (unique per
mount accessor and name, unknown accessors refused, one alias per mount per
entity), groups (internal and external, members, nested groups, cycles
refused, parent ids), group aliases (external groups only), lookups (by
name, id, alias id, alias name + accessor; 204 when nothing matches), merge
(aliases move, conflicts refused unless force) and persistence across a
restart."""

import pytest
from hvac import exceptions

from trove_harness import assert_error


def enable_auth(srv, path, type_):
    r = srv.request("POST", f"/v1/sys/auth/{path}", token=srv.root_token, json={"type": type_})
    assert r.status_code == 204, r.text
    r = srv.get("/v1/sys/auth", token=srv.root_token)
    return r.json()["data"][path + "/"]["accessor"]


@pytest.fixture
def idn(dev_server):
    dev_server.hv = dev_server.client(dev_server.root_token)
    dev_server.up = enable_auth(dev_server, "userpass", "userpass")
    dev_server.ar = enable_auth(dev_server, "approle", "approle")
    return dev_server


def post(srv, path, body):
    return srv.request("POST", f"/v1/identity/{path}", token=srv.root_token, json=body)


# --- the mount ----------------------------------------------------------------


def test_identity_is_a_builtin_mount(dev_server):
    r = dev_server.get("/v1/sys/mounts", token=dev_server.root_token)
    m = r.json()["data"]["identity/"]
    assert m["type"] == "identity"
    assert m["accessor"].startswith("identity_")
    r = dev_server.request("DELETE", "/v1/sys/mounts/identity", token=dev_server.root_token)
    assert r.status_code == 400, r.text
    r = dev_server.request("POST", "/v1/sys/mounts/identity2", token=dev_server.root_token, json={"type": "identity"})
    assert r.status_code == 400, r.text


# --- entities -----------------------------------------------------------------


def test_entity_crud_with_hvac(idn):
    hv = idn.hv
    created = hv.secrets.identity.create_or_update_entity(
        name="ann", metadata={"team": "ops"}, policies=["p1", "p2"]
    )["data"]
    eid = created["id"]
    assert created["name"] == "ann"
    assert len(eid) == 36 and eid.count("-") == 4

    e = hv.secrets.identity.read_entity(eid)["data"]
    assert e["id"] == eid and e["name"] == "ann"
    assert e["metadata"] == {"team": "ops"}
    assert e["policies"] == ["p1", "p2"]
    assert e["disabled"] is False
    assert e["aliases"] == [] and e["group_ids"] == [] and e["direct_group_ids"] == []
    assert e["namespace_id"] == "root"
    assert e["creation_time"].endswith("Z")

    assert hv.secrets.identity.read_entity_by_name("ANN")["data"]["id"] == eid

    # update through the id: only given fields change
    hv.secrets.identity.create_or_update_entity(name="ann", entity_id=eid, disabled=True)
    e = hv.secrets.identity.read_entity(eid)["data"]
    assert e["disabled"] is True and e["policies"] == ["p1", "p2"] and e["metadata"] == {"team": "ops"}

    # rename through entity/id/:id
    r = post(idn, f"entity/id/{eid}", {"name": "ann2"})
    assert r.status_code in (200, 204), r.text
    assert hv.secrets.identity.read_entity_by_name("ann2")["data"]["id"] == eid
    assert idn.get("/v1/identity/entity/name/ann", token=idn.root_token).status_code == 404

    hv.secrets.identity.create_or_update_entity(name="bob")
    keys = hv.secrets.identity.list_entities()["data"]["keys"]
    assert eid in keys and len(keys) == 2
    r = idn.request("LIST", "/v1/identity/entity/name", token=idn.root_token)
    assert sorted(r.json()["data"]["keys"]) == ["ann2", "bob"]
    assert r.json()["data"]["key_info"]["bob"]["name"] == "bob"

    hv.secrets.identity.delete_entity(eid)
    assert idn.get(f"/v1/identity/entity/id/{eid}", token=idn.root_token).status_code == 404
    # deleting again is a no-op
    r = idn.request("DELETE", f"/v1/identity/entity/id/{eid}", token=idn.root_token)
    assert r.status_code == 204


def test_entity_by_name_endpoints(idn):
    r = post(idn, "entity/name/carol", {"policies": "a,b"})
    assert r.status_code == 200, r.text
    eid = r.json()["data"]["id"]
    r = idn.get("/v1/identity/entity/name/carol", token=idn.root_token)
    assert r.json()["data"]["policies"] == ["a", "b"]
    # the same name updates the same entity
    r = post(idn, "entity/name/carol", {"metadata": {"k": "v"}})
    assert r.json()["data"]["id"] == eid
    r = idn.request("DELETE", "/v1/identity/entity/name/carol", token=idn.root_token)
    assert r.status_code == 204
    assert idn.request("LIST", "/v1/identity/entity/id", token=idn.root_token).status_code == 404


def test_entity_errors(idn):
    hv = idn.hv
    hv.secrets.identity.create_or_update_entity(name="Dup")
    r = post(idn, "entity", {"name": "dup"})
    assert_error(r, 400, "already in use")
    r = post(idn, "entity/id/00000000-0000-4000-8000-000000000000", {"name": "x"})
    assert_error(r, 400, "not found")
    r = post(idn, "entity", {"name": "m", "metadata": "notamap"})
    assert r.status_code == 400, r.text
    r = idn.get("/v1/identity/entity/id/nope", token=idn.root_token)
    assert r.status_code == 404
    # unnamed entities get a generated name
    r = post(idn, "entity", {})
    assert r.json()["data"]["name"].startswith("entity_")


# --- entity aliases ------------------------------------------------------------


def test_entity_alias_crud_and_errors(idn):
    hv = idn.hv
    eid = hv.secrets.identity.create_or_update_entity(name="ann")["data"]["id"]
    a = hv.secrets.identity.create_or_update_entity_alias(name="ann", canonical_id=eid, mount_accessor=idn.up)["data"]
    assert a["canonical_id"] == eid
    alias = hv.secrets.identity.read_entity_alias(a["id"])["data"]
    assert alias["name"] == "ann" and alias["mount_accessor"] == idn.up
    assert alias["mount_path"] == "auth/userpass/" and alias["mount_type"] == "userpass"
    e = hv.secrets.identity.read_entity(eid)["data"]
    assert [x["id"] for x in e["aliases"]] == [a["id"]]

    # (mount_accessor, name) is unique
    other = hv.secrets.identity.create_or_update_entity(name="other")["data"]["id"]
    r = post(idn, "entity-alias", {"name": "ann", "mount_accessor": idn.up, "canonical_id": other})
    assert_error(r, 400, "already exists")
    # the same name on another mount is fine
    r = post(idn, "entity-alias", {"name": "ann", "mount_accessor": idn.ar, "canonical_id": other})
    assert r.status_code == 200, r.text
    # one alias per mount per entity
    r = post(idn, "entity-alias", {"name": "ann-b", "mount_accessor": idn.up, "canonical_id": eid})
    assert_error(r, 400, "already has an alias")
    # unknown accessor, unknown entity, missing name
    r = post(idn, "entity-alias", {"name": "z", "mount_accessor": "auth_userpass_deadbeef", "canonical_id": eid})
    assert_error(r, 400, "mount accessor")
    r = post(idn, "entity-alias", {"name": "z", "mount_accessor": idn.up, "canonical_id": "nope"})
    assert_error(r, 400, "canonical")
    r = post(idn, "entity-alias", {"mount_accessor": idn.up, "canonical_id": eid})
    assert_error(r, 400, "name")
    # a secret mount's accessor is not an auth mount accessor
    acc = idn.get("/v1/sys/mounts", token=idn.root_token).json()["data"]["cubbyhole/"]["accessor"]
    r = post(idn, "entity-alias", {"name": "z", "mount_accessor": acc, "canonical_id": eid})
    assert_error(r, 400, "mount accessor")

    # alias without canonical_id creates an entity
    r = post(idn, "entity-alias", {"name": "lone", "mount_accessor": idn.up})
    lone_entity = r.json()["data"]["canonical_id"]
    assert idn.get(f"/v1/identity/entity/id/{lone_entity}", token=idn.root_token).status_code == 200

    r = idn.request("LIST", "/v1/identity/entity-alias/id", token=idn.root_token)
    assert a["id"] in r.json()["data"]["keys"] and len(r.json()["data"]["keys"]) == 3

    # update, delete
    r = post(idn, f"entity-alias/id/{a['id']}", {"name": "ann-renamed"})
    assert r.status_code == 200, r.text
    assert hv.secrets.identity.read_entity_alias(a["id"])["data"]["name"] == "ann-renamed"
    r = idn.request("DELETE", f"/v1/identity/entity-alias/id/{a['id']}", token=idn.root_token)
    assert r.status_code == 204
    assert idn.get(f"/v1/identity/entity-alias/id/{a['id']}", token=idn.root_token).status_code == 404

    # deleting an entity deletes its aliases
    hv.secrets.identity.delete_entity(other)
    r = idn.request("LIST", "/v1/identity/entity-alias/id", token=idn.root_token)
    assert len(r.json()["data"]["keys"]) == 1


# --- groups ---------------------------------------------------------------------


def test_groups_members_and_cycles(idn):
    hv = idn.hv
    e1 = hv.secrets.identity.create_or_update_entity(name="e1")["data"]["id"]
    g1 = hv.secrets.identity.create_or_update_group(name="g1", policies=["gp1"], member_entity_ids=[e1])["data"]
    g1id = g1["id"]
    assert g1["name"] == "g1"
    g2id = hv.secrets.identity.create_or_update_group(name="g2", member_group_ids=[g1id])["data"]["id"]
    g3id = hv.secrets.identity.create_or_update_group(name="g3", member_group_ids=[g2id])["data"]["id"]

    g = hv.secrets.identity.read_group(g1id)["data"]
    assert g["type"] == "internal" and g["policies"] == ["gp1"] and g["member_entity_ids"] == [e1]
    assert g["parent_group_ids"] == [g2id]
    assert g["alias"] == {}

    e = hv.secrets.identity.read_entity(e1)["data"]
    assert e["direct_group_ids"] == [g1id]
    assert sorted(e["inherited_group_ids"]) == sorted([g2id, g3id])
    assert sorted(e["group_ids"]) == sorted([g1id, g2id, g3id])

    # cycles: g1 containing g3 (g3 > g2 > g1), or itself
    r = post(idn, f"group/id/{g1id}", {"member_group_ids": [g3id]})
    assert_error(r, 400, "cycle")
    r = post(idn, f"group/id/{g1id}", {"member_group_ids": [g1id]})
    assert_error(r, 400, "cycle")
    # unknown members, duplicate names, bad type
    r = post(idn, "group", {"name": "bad", "member_entity_ids": ["nope"]})
    assert_error(r, 400, "member entity")
    r = post(idn, "group", {"name": "bad", "member_group_ids": ["nope"]})
    assert_error(r, 400, "member group")
    r = post(idn, "group", {"name": "G1"})
    assert_error(r, 400, "already in use")
    r = post(idn, "group", {"name": "t", "type": "weird"})
    assert_error(r, 400, "type")

    keys = hv.secrets.identity.list_groups()["data"]["keys"]
    assert sorted(keys) == sorted([g1id, g2id, g3id])
    r = idn.request("LIST", "/v1/identity/group/name", token=idn.root_token)
    assert sorted(r.json()["data"]["keys"]) == ["g1", "g2", "g3"]
    r = idn.get("/v1/identity/group/name/G2", token=idn.root_token)
    assert r.json()["data"]["member_group_ids"] == [g1id]

    # deleting a group removes it from its parents; deleting an entity from its groups
    r = idn.request("DELETE", f"/v1/identity/group/id/{g2id}", token=idn.root_token)
    assert r.status_code == 204
    assert hv.secrets.identity.read_group(g3id)["data"]["member_group_ids"] == []
    hv.secrets.identity.delete_entity(e1)
    assert hv.secrets.identity.read_group(g1id)["data"]["member_entity_ids"] == []


def test_external_group_and_group_alias(idn):
    hv = idn.hv
    ext = hv.secrets.identity.create_or_update_group(name="ext", group_type="external", policies=["x"])["data"]["id"]
    internal = hv.secrets.identity.create_or_update_group(name="int")["data"]["id"]
    e = hv.secrets.identity.create_or_update_entity(name="e")["data"]["id"]
    r = post(idn, "group", {"name": "ext2", "type": "external", "member_entity_ids": [e]})
    assert_error(r, 400, "external")
    r = post(idn, f"group/id/{ext}", {"type": "internal"})
    assert_error(r, 400, "type")

    a = hv.secrets.identity.create_or_update_group_alias(name="admins", mount_accessor=idn.up, canonical_id=ext)
    aid = a["data"]["id"]
    g = hv.secrets.identity.read_group(ext)["data"]
    assert g["type"] == "external" and g["alias"]["id"] == aid and g["alias"]["name"] == "admins"
    r = idn.get(f"/v1/identity/group-alias/id/{aid}", token=idn.root_token)
    assert r.json()["data"]["canonical_id"] == ext
    r = post(idn, "group-alias", {"name": "other", "mount_accessor": idn.up, "canonical_id": internal})
    assert_error(r, 400, "internal group")
    r = post(idn, "group-alias", {"name": "other", "mount_accessor": idn.up, "canonical_id": ext})
    assert_error(r, 400, "already has an alias")
    r = post(idn, "group-alias", {"name": "x", "mount_accessor": "nope", "canonical_id": ext})
    assert_error(r, 400, "mount accessor")
    r = idn.request("LIST", "/v1/identity/group-alias/id", token=idn.root_token)
    assert r.json()["data"]["keys"] == [aid]

    g = hv.secrets.identity.lookup_group(alias_name="admins", alias_mount_accessor=idn.up)["data"]
    assert g["id"] == ext
    r = idn.request("DELETE", f"/v1/identity/group/id/{ext}", token=idn.root_token)
    assert r.status_code == 204
    assert idn.get(f"/v1/identity/group-alias/id/{aid}", token=idn.root_token).status_code == 404


# --- lookups --------------------------------------------------------------------


def test_lookups(idn):
    hv = idn.hv
    eid = hv.secrets.identity.create_or_update_entity(name="ann")["data"]["id"]
    aid = hv.secrets.identity.create_or_update_entity_alias(name="ann-u", canonical_id=eid, mount_accessor=idn.up)[
        "data"
    ]["id"]
    gid = hv.secrets.identity.create_or_update_group(name="grp", member_entity_ids=[eid])["data"]["id"]

    assert hv.secrets.identity.lookup_entity(name="ANN")["data"]["id"] == eid
    assert hv.secrets.identity.lookup_entity(entity_id=eid)["data"]["name"] == "ann"
    assert hv.secrets.identity.lookup_entity(alias_id=aid)["data"]["id"] == eid
    got = hv.secrets.identity.lookup_entity(alias_name="ann-u", alias_mount_accessor=idn.up)["data"]
    assert got["id"] == eid and got["direct_group_ids"] == [gid]
    assert hv.secrets.identity.lookup_group(name="grp")["data"]["id"] == gid
    assert hv.secrets.identity.lookup_group(group_id=gid)["data"]["member_entity_ids"] == [eid]

    # nothing matches: 204
    r = post(idn, "lookup/entity", {"name": "nobody"})
    assert r.status_code == 204
    r = post(idn, "lookup/entity", {"alias_name": "ann-u", "alias_mount_accessor": idn.ar})
    assert r.status_code == 204
    # criteria errors
    assert_error(post(idn, "lookup/entity", {}), 400, "must be supplied")
    assert_error(post(idn, "lookup/entity", {"name": "a", "id": "b"}), 400, "only one")
    assert_error(post(idn, "lookup/entity", {"alias_name": "a"}), 400, "alias_mount_accessor")


# --- merge ------------------------------------------------------------------------


def test_merge(idn):
    hv = idn.hv
    to = hv.secrets.identity.create_or_update_entity(name="to", policies=["a"])["data"]["id"]
    fr = hv.secrets.identity.create_or_update_entity(name="from", policies=["b"])["data"]["id"]
    a_to = hv.secrets.identity.create_or_update_entity_alias(name="u-to", canonical_id=to, mount_accessor=idn.up)[
        "data"
    ]["id"]
    a_fr = hv.secrets.identity.create_or_update_entity_alias(name="r-from", canonical_id=fr, mount_accessor=idn.ar)[
        "data"
    ]["id"]
    gid = hv.secrets.identity.create_or_update_group(name="g", member_entity_ids=[fr])["data"]["id"]

    r = hv.secrets.identity.merge_entities(from_entity_ids=[fr], to_entity_id=to)
    assert r.status_code == 204
    e = hv.secrets.identity.read_entity(to)["data"]
    assert sorted(x["id"] for x in e["aliases"]) == sorted([a_to, a_fr])
    assert sorted(e["policies"]) == ["a", "b"]
    assert e["merged_entity_ids"] == [fr]
    assert e["direct_group_ids"] == [gid]
    assert idn.get(f"/v1/identity/entity/id/{fr}", token=idn.root_token).status_code == 404
    assert hv.secrets.identity.read_entity_alias(a_fr)["data"]["canonical_id"] == to

    # conflicting aliases on one mount: refused, then forced (the destination's is kept)
    fr2 = hv.secrets.identity.create_or_update_entity(name="from2")["data"]["id"]
    a_fr2 = hv.secrets.identity.create_or_update_entity_alias(name="u-from2", canonical_id=fr2, mount_accessor=idn.up)[
        "data"
    ]["id"]
    with pytest.raises(exceptions.InvalidRequest) as ei:
        hv.secrets.identity.merge_entities(from_entity_ids=[fr2], to_entity_id=to)
    assert "same mount accessor" in str(ei.value)
    assert hv.secrets.identity.read_entity(fr2)["data"]["aliases"][0]["id"] == a_fr2
    hv.secrets.identity.merge_entities(from_entity_ids=[fr2], to_entity_id=to, force=True)
    e = hv.secrets.identity.read_entity(to)["data"]
    assert sorted(x["id"] for x in e["aliases"]) == sorted([a_to, a_fr])
    assert idn.get(f"/v1/identity/entity-alias/id/{a_fr2}", token=idn.root_token).status_code == 404

    # conflicting_alias_ids_to_keep keeps the from-entity's alias instead
    fr3 = hv.secrets.identity.create_or_update_entity(name="from3")["data"]["id"]
    a_fr3 = hv.secrets.identity.create_or_update_entity_alias(name="u-from3", canonical_id=fr3, mount_accessor=idn.up)[
        "data"
    ]["id"]
    r = post(idn, "entity/merge", {"from_entity_ids": [fr3], "to_entity_id": to, "conflicting_alias_ids_to_keep": [a_fr3]})
    assert r.status_code == 204, r.text
    e = hv.secrets.identity.read_entity(to)["data"]
    assert sorted(x["id"] for x in e["aliases"]) == sorted([a_fr3, a_fr])

    assert_error(post(idn, "entity/merge", {"from_entity_ids": [fr], "to_entity_id": to}), 400, "merge from")
    assert_error(post(idn, "entity/merge", {"from_entity_ids": [to], "to_entity_id": "nope"}), 400, "merge to")


# --- persistence --------------------------------------------------------------------


def test_identity_persists_across_restart(unsealed_server):
    srv = unsealed_server
    hv = srv.client(srv.root_token)
    acc = enable_auth(srv, "userpass", "userpass")
    eid = hv.secrets.identity.create_or_update_entity(name="Keeper", metadata={"k": "v"}, policies=["p"])["data"]["id"]
    aid = hv.secrets.identity.create_or_update_entity_alias(name="keeper", canonical_id=eid, mount_accessor=acc)[
        "data"
    ]["id"]
    gid = hv.secrets.identity.create_or_update_group(name="grp", member_entity_ids=[eid])["data"]["id"]
    ident_dir_before = srv.get("/v1/sys/mounts", token=srv.root_token).json()["data"]["identity/"]["uuid"]

    srv.proc.restart()
    srv.unseal()

    hv = srv.client(srv.root_token)
    assert srv.get("/v1/sys/mounts", token=srv.root_token).json()["data"]["identity/"]["uuid"] == ident_dir_before
    e = hv.secrets.identity.read_entity_by_name("keeper")["data"]
    assert e["id"] == eid and e["metadata"] == {"k": "v"} and e["policies"] == ["p"]
    assert [a["id"] for a in e["aliases"]] == [aid]
    assert e["direct_group_ids"] == [gid]
    assert hv.secrets.identity.lookup_entity(alias_name="keeper", alias_mount_accessor=acc)["data"]["id"] == eid
    # the unique indexes are rebuilt too
    r = srv.request("POST", "/v1/identity/entity", token=srv.root_token, json={"name": "KEEPER"})
    assert_error(r, 400, "already in use")
    # nothing is stored in clear
    for f in srv.storage_files():
        assert b"Keeper" not in f.read_bytes(), f


# --- stage 2: logins create and reuse entities -----------------------------------


def userpass_user(srv, name, password="pw-123456", policies=""):
    r = srv.request(
        "POST", f"/v1/auth/userpass/users/{name}", token=srv.root_token, json={"password": password, "policies": policies}
    )
    assert r.status_code == 204, r.text


def userpass_login(srv, name, password="pw-123456"):
    return srv.request("POST", f"/v1/auth/userpass/login/{name}", json={"password": password})


def test_userpass_login_creates_then_reuses_entity(idn):
    userpass_user(idn, "ann")
    r = userpass_login(idn, "ann")
    assert r.status_code == 200, r.text
    eid = r.json()["auth"]["entity_id"]
    assert len(eid) == 36
    e = idn.hv.secrets.identity.read_entity(eid)["data"]
    assert len(e["aliases"]) == 1
    assert e["aliases"][0]["name"] == "ann" and e["aliases"][0]["mount_accessor"] == idn.up
    assert e["aliases"][0]["mount_type"] == "userpass"

    # a second login reuses the entity and its alias
    r = userpass_login(idn, "ann")
    assert r.json()["auth"]["entity_id"] == eid
    assert len(idn.hv.secrets.identity.list_entities()["data"]["keys"]) == 1
    r = idn.request("LIST", "/v1/identity/entity-alias/id", token=idn.root_token)
    assert len(r.json()["data"]["keys"]) == 1

    # lookup by alias finds it; the token knows its entity
    got = idn.hv.secrets.identity.lookup_entity(alias_name="ann", alias_mount_accessor=idn.up)["data"]
    assert got["id"] == eid
    tok = userpass_login(idn, "ann").json()["auth"]["client_token"]
    r = idn.get("/v1/auth/token/lookup-self", token=tok)
    assert r.json()["data"]["entity_id"] == eid

    # another user gets another entity
    userpass_user(idn, "bob")
    assert userpass_login(idn, "bob").json()["auth"]["entity_id"] not in ("", eid)


def test_disabling_an_auth_mount_revokes_its_tokens_and_drops_its_aliases(idn):
    userpass_user(idn, "ann")
    r = userpass_login(idn, "ann")
    eid, tok = r.json()["auth"]["entity_id"], r.json()["auth"]["client_token"]
    other = idn.request("POST", "/v1/auth/token/create", token=idn.root_token, json={"ttl": "1h"})
    other_tok = other.json()["auth"]["client_token"]
    assert idn.get("/v1/auth/token/lookup-self", token=tok).status_code == 200

    r = idn.request("DELETE", "/v1/sys/auth/userpass", token=idn.root_token)
    assert r.status_code == 204, r.text
    # Its tokens are revoked, other tokens are not.
    assert idn.get("/v1/auth/token/lookup-self", token=tok).status_code == 403
    assert idn.get("/v1/auth/token/lookup-self", token=other_tok).status_code == 200
    # The entity stays; the alias naming the gone mount does not.
    e = idn.hv.secrets.identity.read_entity(eid)["data"]
    assert e["aliases"] == []
    r = idn.request("LIST", "/v1/identity/entity-alias/id", token=idn.root_token)
    assert r.status_code == 404, r.text


def test_pre_created_alias_is_used_and_disabled_entity_refuses_login(idn):
    eid = idn.hv.secrets.identity.create_or_update_entity(name="carol-entity")["data"]["id"]
    idn.hv.secrets.identity.create_or_update_entity_alias(name="carol", canonical_id=eid, mount_accessor=idn.up)
    userpass_user(idn, "carol")
    r = userpass_login(idn, "carol")
    assert r.json()["auth"]["entity_id"] == eid
    idn.hv.secrets.identity.create_or_update_entity(name="carol-entity", entity_id=eid, disabled=True)
    r = userpass_login(idn, "carol")
    assert_error(r, 403, "disabled")
    idn.hv.secrets.identity.create_or_update_entity(name="carol-entity", entity_id=eid, disabled=False)
    assert userpass_login(idn, "carol").status_code == 200


def test_approle_login_alias_is_the_role_id(idn):
    r = idn.request("POST", "/v1/auth/approle/role/web", token=idn.root_token, json={"bind_secret_id": False, "secret_id_bound_cidrs": "127.0.0.0/8"})
    assert r.status_code == 204, r.text
    role_id = idn.get("/v1/auth/approle/role/web/role-id", token=idn.root_token).json()["data"]["role_id"]
    r = idn.request("POST", "/v1/auth/approle/login", json={"role_id": role_id})
    assert r.status_code == 200, r.text
    eid = r.json()["auth"]["entity_id"]
    got = idn.hv.secrets.identity.lookup_entity(alias_name=role_id, alias_mount_accessor=idn.ar)["data"]
    assert got["id"] == eid
    # As Vault's, the alias carries the role's name.
    assert [a["metadata"] for a in got["aliases"]] == [{"role_name": "web"}]
    r = idn.request("POST", "/v1/auth/approle/login", json={"role_id": role_id})
    assert r.json()["auth"]["entity_id"] == eid


# --- stage 3: identity policies on every request -----------------------------------


def put_policy(srv, name, rules):
    r = srv.request("PUT", f"/v1/sys/policy/{name}", token=srv.root_token, json={"policy": rules})
    assert r.status_code == 204, r.text


def test_group_policy_applies_and_removal_denies_next_request(idn):
    put_policy(idn, "kv-read", 'path "plain/*" { capabilities = ["read", "list"] }')
    put_policy(idn, "kv-write", 'path "plain/*" { capabilities = ["create", "update"] }')
    r = idn.request("POST", "/v1/sys/mounts/plain", token=idn.root_token, json={"type": "kv"})
    assert r.status_code == 204, r.text
    r = idn.request("PUT", "/v1/plain/app", token=idn.root_token, json={"v": "1"})
    assert r.status_code == 204, r.text

    userpass_user(idn, "ann")
    login = userpass_login(idn, "ann").json()["auth"]
    tok, eid = login["client_token"], login["entity_id"]
    assert login["identity_policies"] is None
    assert idn.get("/v1/plain/app", token=tok).status_code == 403

    # nested: the entity is in "inner", "outer" contains "inner" and grants kv-read
    inner = idn.hv.secrets.identity.create_or_update_group(name="inner", member_entity_ids=[eid])["data"]["id"]
    outer = idn.hv.secrets.identity.create_or_update_group(name="outer", policies=["kv-read"], member_group_ids=[inner])[
        "data"
    ]["id"]
    r = idn.get("/v1/plain/app", token=tok)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"v": "1"}
    assert idn.request("PUT", "/v1/plain/app", token=tok, json={"v": "2"}).status_code == 403

    # the entity's own policies count too
    idn.hv.secrets.identity.create_or_update_entity(name=idn.hv.secrets.identity.read_entity(eid)["data"]["name"], entity_id=eid, policies=["kv-write"])
    assert idn.request("PUT", "/v1/plain/app", token=tok, json={"v": "2"}).status_code == 204

    me = idn.get("/v1/auth/token/lookup-self", token=tok).json()["data"]
    assert me["identity_policies"] == ["kv-read", "kv-write"]
    assert me["policies"] == ["default"]

    # a new login reports them in its auth block
    auth = userpass_login(idn, "ann").json()["auth"]
    assert auth["identity_policies"] == ["kv-read", "kv-write"]
    assert auth["token_policies"] == ["default"]
    assert auth["policies"] == ["default", "kv-read", "kv-write"]

    # removed from the group: the very next request is denied
    r = post(idn, f"group/id/{inner}", {"member_entity_ids": []})
    assert r.status_code == 200, r.text
    assert idn.get("/v1/plain/app", token=tok).status_code == 403
    # back in, then the outer group loses its policy
    post(idn, f"group/id/{inner}", {"member_entity_ids": [eid]})
    assert idn.get("/v1/plain/app", token=tok).status_code == 200
    post(idn, f"group/id/{outer}", {"policies": []})
    assert idn.get("/v1/plain/app", token=tok).status_code == 403

    # a disabled entity's tokens are refused
    idn.hv.secrets.identity.create_or_update_entity(name="x", entity_id=eid, disabled=True)
    assert idn.get("/v1/auth/token/lookup-self", token=tok).status_code == 403


def test_audit_entry_has_identity_policies(idn, tmp_path):
    import json

    put_policy(idn, "grp-pol", 'path "sys/mounts" { capabilities = ["read"] }')
    log = tmp_path / "audit.log"
    r = idn.request("PUT", "/v1/sys/audit/file", token=idn.root_token, json={"type": "file", "options": {"file_path": str(log)}})
    assert r.status_code == 204, r.text
    userpass_user(idn, "ann")
    login = userpass_login(idn, "ann").json()["auth"]
    idn.hv.secrets.identity.create_or_update_group(name="g", policies=["grp-pol"], member_entity_ids=[login["entity_id"]])
    r = idn.get("/v1/sys/mounts", token=login["client_token"])
    assert r.status_code == 200, r.text
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    mine = [e for e in entries if e.get("type") == "response" and e["request"]["path"] == "sys/mounts" and e["auth"].get("entity_id") == login["entity_id"]]
    assert mine, entries[-3:]
    auth = mine[-1]["auth"]
    assert auth["identity_policies"] == ["grp-pol"]
    assert auth["token_policies"] == ["default"]
    assert auth["policies"] == ["default", "grp-pol"]
