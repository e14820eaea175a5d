"""Adversarial regression suite: the holes found at the edges, each with a
test that failed before its fix.

Every section names the item it guards. Each test starts the real server
and attacks it the way a client holding the named token (or none) could:
host paths through audit options, non-canonical names and parameters that
slip past a policy, durations that overflow, bodies that flood the loop,
login floods, and the smaller holes. The denied form is tested as
carefully as the allowed one."""

import json
import os
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from trove_harness import assert_error, raw_http, run_cli, status_of


# ---------------------------------------------------------------------------
# 1-2. Audit devices: where a file device may write, and enabling one that
#      cannot record.
# ---------------------------------------------------------------------------

# (end of section: audit)


# ---------------------------------------------------------------------------
# 3-4. Canonicalise, then authorise: parameter constraints see canonical
#      values; names in paths are canonical or refused.
# ---------------------------------------------------------------------------

# (end of section: canonical)


# ---------------------------------------------------------------------------
# 5-6. Secrets in URL paths; durations that overflow.
# ---------------------------------------------------------------------------

# (end of section: paths and durations)


# ---------------------------------------------------------------------------
# 7-8. Bodies: parsed after routing, bounded, and 413 readable.
# ---------------------------------------------------------------------------

# (end of section: bodies)


# ---------------------------------------------------------------------------
# 9-10. Login floods, lockouts and the smaller holes.
# ---------------------------------------------------------------------------

# (end of section: logins and small holes)


# ---------------------------------------------------------------------------
# 11. Storage rollback.
# ---------------------------------------------------------------------------

# (end of section: rollback)


# ---------------------------------------------------------------------------
# Compatibility defects found by real clients.
# ---------------------------------------------------------------------------

# -- client compatibility --


def compat_enable_auth(srv, path, type_):
    r = srv.request("POST", f"/v1/sys/auth/{path}", token=srv.root_token, json={"type": type_})
    assert r.status_code == 204, r.text
    return srv.get("/v1/sys/auth", token=srv.root_token).json()["data"][path + "/"]["accessor"]


def test_compat_group_alias_without_canonical_id_creates_external_group(dev_server):
    srv = dev_server
    acc = compat_enable_auth(srv, "userpass", "userpass")
    r = srv.request("POST", "/v1/identity/group-alias", token=srv.root_token,
                    json={"name": "devs", "mount_accessor": acc})
    assert r.status_code == 200, r.text
    aid, gid = r.json()["data"]["id"], r.json()["data"]["canonical_id"]
    g = srv.get(f"/v1/identity/group/id/{gid}", token=srv.root_token).json()["data"]
    assert g["type"] == "external" and g["alias"]["id"] == aid and g["alias"]["name"] == "devs"
    assert g["name"].startswith("group_")
    a = srv.get(f"/v1/identity/group-alias/id/{aid}", token=srv.root_token).json()["data"]
    assert a["canonical_id"] == gid and a["mount_accessor"] == acc
    # a refused alias leaves no group behind
    groups = srv.request("LIST", "/v1/identity/group/id", token=srv.root_token).json()["data"]["keys"]
    r = srv.request("POST", "/v1/identity/group-alias", token=srv.root_token,
                    json={"name": "devs", "mount_accessor": acc})
    assert_error(r, 400, "already")
    after = srv.request("LIST", "/v1/identity/group/id", token=srv.root_token).json()["data"]["keys"]
    assert after == groups
    # an update without canonical_id keeps the alias on its group
    r = srv.request("POST", f"/v1/identity/group-alias/id/{aid}", token=srv.root_token,
                    json={"name": "devs2", "mount_accessor": acc})
    assert r.status_code in (200, 204), r.text
    a = srv.get(f"/v1/identity/group-alias/id/{aid}", token=srv.root_token).json()["data"]
    assert a["canonical_id"] == gid and a["name"] == "devs2"


# (end of section: compatibility)
