#!/usr/bin/env bash
# bench/agent/run.sh — the agent's footprint: RSS with two templates and
# the API proxy on, and its idle wake-ups (bench/agent/footprint.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 bench/agent/footprint.py "$@"
