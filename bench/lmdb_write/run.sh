#!/usr/bin/env bash
# bench/lmdb_write/run.sh — durable writes on LMDB through the HTTP API.
#
# Starts `trove server -config` on a fresh LMDB directory (durable: every
# write is fsync'd, shared by LMDB group commit), initialises and unseals
# it, then drives one write workload with wrk and bench/lmdb_write/write.lua:
#   WORKLOAD=token-create  POST /v1/auth/token/create (service tokens)
#   WORKLOAD=kv-write      POST /v1/secret/data/bench/<n> (a new kv-v2 secret each)
# Prints the rate and the number of non-200 answers (which must be 0 for
# the figure to count).
#
#   bash bench/lmdb_write/run.sh
#   WORKLOAD=kv-write DURATION=30s CONNECTIONS=64 bash bench/lmdb_write/run.sh
#
# Knobs (environment):
#   DURATION (10s)  CONNECTIONS (32)  THREADS (1)  WARMUP (2s)
#   SERVER_CPU (0)  WRK_CPU (1)       TROVE_BIN (build/trove)
#   DATA_DIR (a temporary directory; set it to put LMDB on a given disk)
#   TOKEN_BODY ('{"policies":["default"],"ttl":"1h"}')
#   KEEP=1 keeps the scratch directory (config, server logs, data)
# Targets: token-create >= 10,000/s, kv-write >= 5,000/s. Benchmarks report;
# they do not fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib/lmdb_server.sh

WORKLOAD=${WORKLOAD:-token-create}
case "$WORKLOAD" in
token-create) TARGET=10000 ;;
kv-write) TARGET=5000 ;;
*)
	echo "bench: unknown WORKLOAD $WORKLOAD (token-create or kv-write)" >&2
	exit 1
	;;
esac

lmdb_server_start

# Initialise and unseal with one share; keep the root token for wrk.
ROOT=$(/usr/bin/python3 - "$URL" "$WORKLOAD" <<'PY'
import sys
sys.path.insert(0, "bench/lib")
from trove_api import call, ready_root
url, workload = sys.argv[1], sys.argv[2]
tok = ready_root(url)
# One request by hand: the endpoint must work before it is measured.
if workload == "kv-write":
    call(url, "POST", "/v1/sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, tok)
    out = call(url, "POST", "/v1/secret/data/bench/first", {"data": {"password": "x" * 24}}, tok)
    assert out["data"]["version"] == 1, out
else:
    out = call(url, "POST", "/v1/auth/token/create", {"policies": ["default"], "ttl": "1h"}, tok)
    assert out["auth"]["client_token"].startswith("hvs."), out
print(tok)
PY
) || {
	cat "$WORK/trove.err" >&2
	die "could not initialise the server"
}

export TROVE_TOKEN="$ROOT" WORKLOAD
[ -z "${TOKEN_BODY:-}" ] || export TOKEN_BODY
wrk_report "$WORKLOAD-lmdb" "$TARGET" "writes/s" bench/lmdb_write/write.lua
