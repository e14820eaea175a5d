#!/usr/bin/env bash
# bench/bodies/run.sh — the event loop's latency while big bodies arrive.
#
# Starts `trove server -config` on a fresh LMDB directory, initialises and
# unseals it, then has CLIENTS connections send SIZE-byte bodies back to
# back (bench/bodies/send.py) while wrk measures GET sys/health on one
# connection. Bodies are parsed by the router, after the token check, on
# the worker pool when they are large: the loop only receives them.
#
# The ceiling: nginx (one worker, pinned the same way) under the same
# senders, holding each body whole in memory (client_body_buffer_size of
# the body's size, one buffer) before refusing it (a proxy_pass to a
# closed port: 502), while it answers sys/health itself. NGINX=0 skips it.
#
#   bash bench/bodies/run.sh                    # MODE=unauth
#   MODE=string bash bench/bodies/run.sh
#
# Knobs (environment): CLIENTS (8) SIZE (33554000: just under the 32 MiB
#   max_request_size) MODE (unauth: JSON arrays of zeros without a token;
#   string: one JSON string per body with the root token, the token for
#   POST auth/token/lookup: parsed, refused, nothing written)
#   DURATION (10s) SERVER_CPU (0) WRK_CPU (1) TROVE_BIN (build/trove) KEEP=1
#   NGINX (1)
# The servers are pinned to SERVER_CPU; wrk and the senders share WRK_CPU.
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

# measure NAME URL: the senders and wrk against one server; prints the
# figures and sets P99 to sys/health's p99 in ms ("none": not answered).
measure() {
	local name=$1 url=$2 sender
	"${PIN_WRK[@]}" /usr/bin/python3 bench/bodies/send.py "$url" "$CLIENTS" "$SIZE" "$((secs + 2))" "$MODE" \
		"$ROOT_TOKEN" >"$WORK/send-$name.out" &
	sender=$!
	sleep 1 # the senders are under way
	"${PIN_WRK[@]}" wrk -t1 -c1 -d"$DURATION" --latency "$url/v1/sys/health" >"$WORK/wrk-$name.out"
	wait "$sender"
	echo "-- $name"
	cat "$WORK/send-$name.out"
	grep -E 'Requests/sec|50%|90%|99%' "$WORK/wrk-$name.out"
	if awk '/^Requests\/sec:/ { exit !($2 < 0.5) }' "$WORK/wrk-$name.out"; then
		P99=none
	else
		P99=$(awk '$1 == "99%" {v = $2; if (v ~ /us$/) ms = v / 1000; else if (v ~ /ms$/) ms = v + 0; else ms = v * 1000; print ms}' \
			"$WORK/wrk-$name.out")
	fi
}

echo "trove: $("$TROVE_BIN" version 2>/dev/null | head -n1)  cores: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$CLIENTS clients x $SIZE-byte bodies ($MODE) for $DURATION; wrk -t1 -c1 on sys/health"
measure trove "$URL"
trove_p99=$P99
echo "server peak RSS: $(awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$PID/status") MiB"
kill "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
PID=

if [ "${NGINX:-1}" != 0 ]; then
	. bench/lib/nginx.sh
	NGINX_HTTP="client_max_body_size $((SIZE + 1024)); client_body_buffer_size $((SIZE + 1024)); client_body_in_single_buffer on;"
	NGINX_SERVER="location = /v1/sys/health { return 200 '{\"initialized\":true,\"sealed\":false,\"standby\":false}'; }
        location / { proxy_pass http://127.0.0.1:1; }"
	nginx_start "$WORK" "${PIN_SERVER[@]}" || die "nginx did not start"
	measure nginx "http://127.0.0.1:$NGINX_PORT"
	nginx_stop
	echo "nginx sys/health p99: $P99 ms (the same-machine ceiling)"
fi

if [ "$trove_p99" = none ]; then
	echo "target sys/health p99 < 50 ms: NOT met (sys/health was not answered)"
elif awk -v p="$trove_p99" 'BEGIN { exit !(p < 50) }'; then
	echo "target sys/health p99 < 50 ms: met ($trove_p99 ms)"
else
	echo "target sys/health p99 < 50 ms: NOT met ($trove_p99 ms)"
fi
