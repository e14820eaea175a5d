#!/usr/bin/env bash
# bench/bodies/run.sh — the event loop's latency while big bodies arrive.
#
# Starts `trove server -config` on a fresh LMDB directory, initialises and
# unseals it, then has CLIENTS connections send SIZE-byte bodies back to
# back (bench/bodies/send.py) while wrk measures GET sys/health on one
# connection. Bodies are parsed by the router, after the token check, on
# the worker pool when they are large: the loop only receives them.
#
#   bash bench/bodies/run.sh                    # MODE=unauth
#   MODE=string bash bench/bodies/run.sh
#
# Knobs (environment): CLIENTS (8) SIZE (33554000: just under the 32 MiB
#   max_request_size) MODE (unauth: JSON arrays of zeros without a token;
#   string: one JSON string per body with the root token, the token for
#   POST auth/token/lookup: parsed, refused, nothing written)
#   DURATION (10s) SERVER_CPU (0) WRK_CPU (1) TROVE_BIN (build/trove) KEEP=1
# The server is pinned to SERVER_CPU; wrk and the senders share WRK_CPU.
# Target: sys/health p99 < 50 ms. Benchmarks report; they do not fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib/lmdb_server.sh

CLIENTS=${CLIENTS:-8}
SIZE=${SIZE:-33554000}
MODE=${MODE:-unauth}
secs=${DURATION%s}

lmdb_server_start
ROOT_TOKEN=$(/usr/bin/python3 - "$URL" <<'PY'
import sys
sys.path.insert(0, "bench/lib")
from trove_api import ready_root
print(ready_root(sys.argv[1]))
PY
) || {
	cat "$WORK/trove.err" >&2
	die "could not set up the server"
}

"${PIN_WRK[@]}" /usr/bin/python3 bench/bodies/send.py "$URL" "$CLIENTS" "$SIZE" "$((secs + 2))" "$MODE" \
	"$ROOT_TOKEN" >"$WORK/send.out" &
SENDER=$!
sleep 1 # the senders are under way
"${PIN_WRK[@]}" wrk -t1 -c1 -d"$DURATION" --latency "$URL/v1/sys/health" >"$WORK/wrk.out"
wait "$SENDER"
rss=$(awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$PID/status")

echo "trove: $("$TROVE_BIN" version 2>/dev/null | head -n1)  cores: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$CLIENTS clients x $SIZE-byte bodies ($MODE) for $DURATION; wrk -t1 -c1 on sys/health"
cat "$WORK/send.out"
grep -E 'Requests/sec|50%|90%|99%' "$WORK/wrk.out"
echo "server peak RSS: $rss MiB"
if awk '/^Requests\/sec:/ { exit !($2 < 0.5) }' "$WORK/wrk.out"; then
	echo "target sys/health p99 < 50 ms: NOT met (sys/health was not answered)"
	exit 0
fi
p99=$(awk '$1 == "99%" {v = $2; if (v ~ /us$/) ms = v / 1000; else if (v ~ /ms$/) ms = v + 0; else ms = v * 1000; print ms}' "$WORK/wrk.out")
if awk -v p="$p99" 'BEGIN { exit !(p < 50) }'; then
	echo "target sys/health p99 < 50 ms: met ($p99 ms)"
else
	echo "target sys/health p99 < 50 ms: NOT met ($p99 ms)"
fi
