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

def rollback_unseal(srv, keys):
    """Submits keys until unsealed or refused; returns the last response."""
    r = None
    for k in keys:
        r = srv.put("/v1/sys/unseal", json={"key": k})
        if r.status_code != 200 or not r.json()["sealed"]:
            return r
    return r


def rollback_guarded_server(config_server, tmp_path):
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir(mode=0o700)
    guard = guard_dir / "trove.epoch"
    srv = config_server(top_extra=f'rollback_guard_file = "{guard}"\n')
    srv.init(3, 2)
    srv.unseal()
    return srv, guard


def test_rollback_older_storage_copy_refused_at_unseal(config_server, tmp_path):
    import shutil

    srv, guard = rollback_guarded_server(config_server, tmp_path)
    root = srv.root_token
    assert guard.is_file() and (guard.stat().st_mode & 0o777) == 0o600
    r = srv.request("POST", "/v1/auth/token/create", token=root, json={"policies": ["default"]})
    assert r.status_code == 200, r.text
    victim = r.json()["auth"]["client_token"]

    # a copy of the storage, taken while the token was valid
    srv.stop()
    backup = tmp_path / "backup"
    shutil.copytree(srv.data_dir, backup)
    srv.start()
    srv.unseal()
    r = srv.request("POST", "/v1/auth/token/revoke-self", token=victim)
    assert r.status_code == 204, r.text
    srv.stop()

    # put the old copy back: the shares still open it, the guard refuses it
    newest = tmp_path / "newest"
    shutil.move(str(srv.data_dir), newest)
    shutil.copytree(backup, srv.data_dir)
    srv.start()
    r = rollback_unseal(srv, srv.unseal_keys)
    assert_error(r, 500, "rolled back", str(guard))
    assert srv.seal_status()["sealed"] is True
    r = srv.request("GET", "/v1/auth/token/lookup-self", token=victim)
    assert r.status_code == 503, r.text

    # the newest storage unseals as before, the revoked token stays revoked
    srv.stop()
    shutil.rmtree(srv.data_dir)
    shutil.move(str(newest), srv.data_dir)
    srv.start()
    srv.unseal()
    r = srv.request("GET", "/v1/auth/token/lookup-self", token=victim)
    assert r.status_code == 403, r.text

    # restored on purpose: the operator removes the guard, and it starts over
    srv.stop()
    shutil.rmtree(srv.data_dir)
    shutil.copytree(backup, srv.data_dir)
    guard.unlink()
    srv.start()
    srv.unseal()
    r = srv.request("GET", "/v1/auth/token/lookup-self", token=victim)
    assert r.status_code == 200, r.text


def test_rollback_guard_from_another_installation_refused(config_server, tmp_path):
    srv, guard = rollback_guarded_server(config_server, tmp_path)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other, other_guard = rollback_guarded_server(config_server, other_dir)
    other.stop()
    srv.stop()
    guard.write_bytes(other_guard.read_bytes())
    srv.start()
    r = rollback_unseal(srv, srv.unseal_keys)
    assert_error(r, 500, "not written for this storage")
    assert srv.seal_status()["sealed"] is True


def test_rollback_guard_symlink_never_followed(config_server, tmp_path):
    srv, guard = rollback_guarded_server(config_server, tmp_path)
    srv.stop()
    target = tmp_path / "elsewhere"
    guard.unlink()
    guard.symlink_to(target)
    srv.start()
    r = rollback_unseal(srv, srv.unseal_keys)
    assert r.status_code >= 400, r.text
    assert srv.seal_status()["sealed"] is True
    assert not target.exists()


# (end of section: rollback)


# ---------------------------------------------------------------------------
# Compatibility defects found by real clients.
# ---------------------------------------------------------------------------

# (end of section: compatibility)
