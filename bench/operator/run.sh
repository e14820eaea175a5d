#!/usr/bin/env bash
# bench/operator/run.sh — trove secrets-operator with 1,000 VaultStaticSecrets
# in 50 namespaces against the Kubernetes API stand-in and a real Trove:
# time to every Secret, RSS, and the request rates at steady state
# (bench/operator/bench.py; N, NAMESPACES, STEADY_SECONDS, REFRESH_AFTER,
# WORKERS override).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 bench/operator/bench.py "$@"
