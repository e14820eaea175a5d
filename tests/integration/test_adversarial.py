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

# (end of section: compatibility)
