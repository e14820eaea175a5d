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

# -- rekey and generate-root --
# sys/rekey and sys/generate-root were missing (404): operators could not
# change key shares or recover a root token. Both take no token, so the
# key shares are the only authority: guessed shares must get nowhere, and
# shares replaced by a rekey must stop working.


def test_rekey_old_shares_stop_working(unsealed_server):
    srv = unsealed_server
    old = srv.unseal_keys
    r = srv.put("/v1/sys/rekey/init", json={"secret_shares": 2, "secret_threshold": 2})
    assert r.status_code == 200, r.text
    nonce = r.json()["nonce"]
    for k in old[:2]:
        r = srv.put("/v1/sys/rekey/update", json={"key": k, "nonce": nonce})
        assert r.status_code == 200, r.text
    new = r.json()["keys"]
    assert r.json()["complete"] is True and len(new) == 2

    # The old shares can neither start another rekey's progress nor unseal.
    r = srv.put("/v1/sys/rekey/init", json={"secret_shares": 3, "secret_threshold": 2})
    nonce = r.json()["nonce"]
    assert srv.put("/v1/sys/rekey/update", json={"key": old[0], "nonce": nonce}).status_code == 200
    r = srv.put("/v1/sys/rekey/update", json={"key": old[2], "nonce": nonce})
    assert_error(r, 400, "do not combine")
    srv.request("DELETE", "/v1/sys/rekey/init")
    srv.restart()
    srv.put("/v1/sys/unseal", json={"key": old[0]})
    assert_error(srv.put("/v1/sys/unseal", json={"key": old[1]}), 400, "progress was reset")
    srv.unseal(new)


def test_generate_root_guessed_shares_yield_no_token(unsealed_server):
    srv = unsealed_server
    r = srv.put("/v1/sys/generate-root/attempt", json={})
    assert r.status_code == 200, r.text
    nonce = r.json()["nonce"]
    guesses = [secrets.token_hex(32) + "%02x" % x for x in (1, 2)]
    for g in guesses[:1]:
        assert srv.put("/v1/sys/generate-root/update", json={"key": g, "nonce": nonce}).status_code == 200
    r = srv.put("/v1/sys/generate-root/update", json={"key": guesses[1], "nonce": nonce})
    assert_error(r, 400, "do not combine")
    assert "encoded_token" not in r.text
    # The nonce of one attempt is worthless for the next.
    srv.request("DELETE", "/v1/sys/generate-root/attempt")
    srv.put("/v1/sys/generate-root/attempt", json={})
    r = srv.put("/v1/sys/generate-root/update", json={"key": srv.unseal_keys[0], "nonce": nonce})
    assert_error(r, 400, "nonce")


# (end of section: compatibility)
