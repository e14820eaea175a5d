# bench/lib/lmdb_server.sh — sourced by the LMDB benchmarks: a fresh
# `trove server -config` on LMDB, pinned, and wrk's result against a target.
#
#   lmdb_server_start          sets WORK, DATA_DIR, URL, PID; cleans up on exit
#   wrk_report NAME TARGET UNIT LUA
#                              warms up, measures, prints the rate and the
#                              non-200 count, and whether TARGET is met
# Reads DURATION, CONNECTIONS, THREADS, WARMUP, SERVER_CPU, WRK_CPU,
# TROVE_BIN, DATA_DIR, LMDB_MAX_SIZE (the map size, "1GiB") and KEEP from
# the environment (defaults below).

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-2s}
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
TROVE_BIN=${TROVE_BIN:-build/trove}
LMDB_MAX_SIZE=${LMDB_MAX_SIZE:-1GiB}

die() {
	echo "bench: ERROR: $*" >&2
	exit 1
}

lmdb_server_start() {
	command -v wrk >/dev/null 2>&1 || bash scripts/deps.sh --test
	[ -x "$TROVE_BIN" ] || die "no trove binary at $TROVE_BIN (build it first)"
	PIN_SERVER=(taskset -c "$SERVER_CPU")
	PIN_WRK=(taskset -c "$WRK_CPU")
	if [ "$(nproc)" -lt 2 ]; then
		echo "bench: warning: one CPU; not pinning, figures will be pessimistic"
		PIN_SERVER=()
		PIN_WRK=()
	fi
	WORK=$(mktemp -d /tmp/trove-bench.XXXXXX)
	DATA_DIR=${DATA_DIR:-$WORK/data}
	mkdir -p "$DATA_DIR"
	PID=
	trap lmdb_server_stop EXIT INT TERM
	local port
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	URL="http://127.0.0.1:$port"
	cat >"$WORK/trove.hcl" <<CFG
storage "lmdb" {
  path = "$DATA_DIR"
  max_size = "$LMDB_MAX_SIZE"
}

listener "tcp" {
  address = "127.0.0.1:$port"
  tls_disable = true
}

disable_mlock = true
CFG
	"${PIN_SERVER[@]}" "$TROVE_BIN" server -config "$WORK/trove.hcl" >"$WORK/trove.out" 2>"$WORK/trove.err" &
	PID=$!
}

lmdb_server_stop() {
	if [ -n "${PID:-}" ]; then
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}

wrk_report() { # NAME TARGET UNIT LUA
	local name=$1 target=$2 unit=$3 lua=$4 out line rate bad
	"${PIN_WRK[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$lua" "$URL" >/dev/null 2>&1 || true
	out=$("${PIN_WRK[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$lua" "$URL")
	echo "$out" | grep -E 'Latency|50%|99%' || true
	line=$(echo "$out" | grep '^non200=')
	rate=$(echo "$line" | sed 's/.*rate=\([0-9.]*\).*/\1/')
	bad=$(echo "$line" | sed 's/^non200=\([0-9]*\).*/\1/')
	printf '%-22s %12s %8s\n' workload "$unit" non200
	printf '%-22s %12.0f %8s\n' "$name" "$rate" "$bad"
	if [ "$bad" != 0 ]; then
		echo "bench: WARNING: $bad requests were not 200: the rate above is not a result"
	elif awk -v r="$rate" -v t="$target" 'BEGIN { exit !(r >= t) }'; then
		echo "target >= $target/s: met"
	else
		echo "target >= $target/s: NOT met"
	fi
}
