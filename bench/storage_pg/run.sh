#!/usr/bin/env bash
# bench/storage_pg/run.sh — Trove on PostgreSQL storage: KV v2 writes and
# reads per second through the HTTP API, beside the raw single-row INSERT
# rate of the same PostgreSQL.
#
# Starts its own PostgreSQL 15 (bench/storage_pg/pg.py: the test suite's
# server, loopback TCP, SCRAM) and `trove server -config` on storage
# "postgresql" (synchronous_commit on, as always), then:
#  (a) raw: pgbench, CONNECTIONS clients, bench/storage_pg/insert.sql (one
#      upsert of a 160-byte value per transaction, Trove's table layout),
#      with synchronous_commit on like Trove's sessions;
#  (b) kv-write: wrk POST /v1/secret/data/bench/<new name> (bench/lmdb_write/write.lua);
#  (c) kv-read: wrk GET /v1/secret/data/bench/first (read.lua).
#
#   bash bench/storage_pg/run.sh
#   DURATION=10s CONNECTIONS=16 bash bench/storage_pg/run.sh
#
# Knobs (environment): DURATION (5s) WARMUP (2s) CONNECTIONS (16)
#   THREADS (1) MAX_PARALLEL (storage max_parallel, 16) TROVE_BIN
#   (build/trove) KEEP=1. Nothing is pinned: PostgreSQL, Trove and the
#   load generator share the machine's cores. The test suite's PostgreSQL
#   runs with fsync=off, so the figures measure the round trips and the
#   work per write, not the disk. Benchmarks report; they do not fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-1}
MAX_PARALLEL=${MAX_PARALLEL:-16}
TROVE_BIN=${TROVE_BIN:-build/trove}
PIN_WRK=()
die() {
	echo "bench: ERROR: $*" >&2
	exit 1
}
command -v pgbench >/dev/null 2>&1 || die "pgbench not found (package postgresql-client-15)"
command -v wrk >/dev/null 2>&1 || die "wrk not found"
[ -x "$TROVE_BIN" ] || die "no trove binary at $TROVE_BIN (build it first)"

WORK=$(mktemp -d /tmp/trove-bench-pg.XXXXXX)
PG_PID=
PID=
stop_all() {
	[ -z "$PID" ] || { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
	if [ -n "$PG_PID" ]; then
		kill -INT "$PG_PID" 2>/dev/null || true
		for _ in $(seq 1 150); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
	fi
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap stop_all EXIT INT TERM

read -r PG_PORT PG_PASSWORD PG_PID < <(/usr/bin/python3 bench/storage_pg/pg.py "$WORK")
export PGPASSWORD=$PG_PASSWORD

echo "== (a) raw: pgbench, $CONNECTIONS clients, one upsert per transaction"
PGOPTIONS="-c synchronous_commit=on" pgbench -n -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "$CONNECTIONS" \
	-j "$THREADS" -T "${DURATION%s}" -f bench/storage_pg/insert.sql postgres 2>/dev/null |
	grep -E '^(tps|latency average)' | tee "$WORK/raw.txt"
RAW=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/raw.txt")

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$port"
cat >"$WORK/trove.hcl" <<CFG
storage "postgresql" {
  connection_url = "postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
  max_parallel = $MAX_PARALLEL
}

listener "tcp" {
  address = "127.0.0.1:$port"
  tls_disable = true
}

disable_mlock = true
CFG
"$TROVE_BIN" server -config "$WORK/trove.hcl" >"$WORK/trove.out" 2>"$WORK/trove.err" &
PID=$!
ROOT=$(/usr/bin/python3 - "$URL" <<'PY'
import sys
sys.path.insert(0, "bench/lib")
from trove_api import call, ready_root
url = sys.argv[1]
tok = ready_root(url)
call(url, "POST", "/v1/sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, tok)
out = call(url, "POST", "/v1/secret/data/bench/first", {"data": {"password": "x" * 24}}, tok)
assert out["data"]["version"] == 1, out
print(tok)
PY
) || {
	cat "$WORK/trove.err" >&2
	die "could not initialise the server"
}
export TROVE_TOKEN="$ROOT" WORKLOAD=kv-write

run_wrk() { # NAME LUA
	local out line
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$2" "$URL" >/dev/null 2>&1 || true
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$2" "$URL")
	echo "$out" | grep -E 'Latency|50%|99%' || true
	line=$(echo "$out" | grep '^non200=')
	echo "$1 $line"
	echo "$line" | sed 's/.*rate=\([0-9.]*\).*/\1/' >"$WORK/$1.rate"
	case "$line" in non200=0\ *) ;; *) echo "bench: WARNING: $1 had non-200 answers: its rate is not a result" ;; esac
}
echo "== (b) Trove kv-v2 writes, $CONNECTIONS connections"
run_wrk kv-write bench/lmdb_write/write.lua
echo "== (c) Trove kv-v2 reads, $CONNECTIONS connections"
run_wrk kv-read bench/storage_pg/read.lua

printf '\n%-32s %10s\n' measure "per second"
printf '%-32s %10.0f\n' "raw INSERT (pgbench)" "$RAW"
printf '%-32s %10.0f\n' "Trove kv-v2 write" "$(cat "$WORK/kv-write.rate")"
printf '%-32s %10.0f\n' "Trove kv-v2 read" "$(cat "$WORK/kv-read.rate")"
