"""The unmodified npm node-vault client against a dev server: health,
mounts, policies, tokens and KV v2 through its generic calls, and a
denied request (tests/integration/node/smoke.js holds the checks)."""

import os
import subprocess
from pathlib import Path

NODE_DIR = Path(__file__).parent / "node"


def test_node_vault_client(dev_server):
    assert (NODE_DIR / "node_modules" / "node-vault").is_dir(), "run scripts/deps.sh --test (npm ci)"
    env = dict(os.environ, VAULT_ADDR=dev_server.url, VAULT_TOKEN=dev_server.root_token)
    p = subprocess.run(["node", str(NODE_DIR / "smoke.js")], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "all checks passed" in p.stdout
