#!/usr/bin/env bash
# bench/leases/run.sh — leases at scale, on LMDB through the HTTP API.
#
#   MODE=restore  creates LEASES service tokens (each has a lease; default
#                 1,000,000), restarts the server, and measures the time from
#                 the unseal call to the first answered authenticated request,
#                 and the memory the server holds per lease: its RSS after a
#                 KV read burst, minus the same for a server with no leases,
#                 divided by LEASES. Targets: <= 1 s, <= 300 bytes per lease.
#   MODE=storm    creates STORM tokens (default 100,000) whose TTL ends while
#                 a KV v2 read runs (wrk --latency), so they all expire and
#                 are revoked inside one minute, and prints the read's p99
#                 beside the same read with nothing expiring. Target: p99 <=
#                 10 ms during the storm, every lease revoked.
#
#   MODE=restore bash bench/leases/run.sh
#   MODE=storm bash bench/leases/run.sh
#
# Knobs: LEASES, STORM, STORM_TTL (30s: the tokens' TTL), READ_SECONDS (60),
# CONNECTIONS (32), SERVER_CPU (0), WRK_CPU (1), TROVE_BIN (build/trove),
# DATA_DIR, KEEP=1. Benchmarks report; they do not fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
# A million tokens with their leases take ~2.5 GB of LMDB pages.
LMDB_MAX_SIZE=${LMDB_MAX_SIZE:-8GiB}
. bench/lib/lmdb_server.sh

MODE=${MODE:-restore}
LEASES=${LEASES:-1000000}
STORM=${STORM:-100000}
STORM_TTL=${STORM_TTL:-30}
READ_SECONDS=${READ_SECONDS:-60}

api() { /usr/bin/python3 -c "import sys; sys.path.insert(0, 'bench/lib'); $1" "${@:2}"; }

# init + unseal; prints "ROOT KEY"
init_server() {
	api '
from trove_api import init_unseal, call
root, key = init_unseal(sys.argv[1])
call(sys.argv[1], "POST", "/v1/sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, root)
call(sys.argv[1], "POST", "/v1/secret/data/app/db", {"data": {"password": "x" * 24}}, root)
print(root, key)' "$URL"
}

# Unseals the restarted server; prints the seconds from the unseal call to
# the first authenticated request answered.
unseal_and_time() {
	api '
import time, urllib.request
from trove_api import wait_up, call
url, key, root = sys.argv[1], sys.argv[2], sys.argv[3]
wait_up(url)
t0 = time.monotonic()
call(url, "PUT", "/v1/sys/unseal", {"key": key})
while True:
    try:
        call(url, "GET", "/v1/secret/data/app/db", None, root)
        break
    except Exception:
        time.sleep(0.005)
print("%.3f" % (time.monotonic() - t0))' "$URL" "$1" "$2"
}

rss() { # PID -> "rss_kb anon_kb file_kb"
	awk '/^VmRSS/ {r=$2} /^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {print r, a, f}' "/proc/$1/status"
}

fill() { # COUNT TTL — wrk rounds of at most 5 s (fill.lua stops a round at its count)
	local left=$1 out done bad=0
	while [ "$left" -gt 0 ]; do
		out=$(LEASES=$left LEASE_TTL=$2 "${PIN_WRK[@]}" wrk -t1 -c"$CONNECTIONS" -d5s -s bench/leases/fill.lua "$URL" -- 1 |
			grep '^non200=')
		done=$(echo "$out" | sed 's/.*requests=\([0-9]*\).*/\1/')
		bad=$((bad + $(echo "$out" | sed 's/^non200=\([0-9]*\).*/\1/')))
		left=$((left - done))
	done
	echo "non200=$bad"
	[ "$bad" = 0 ] || die "$bad token creations failed"
}

read_burst() { # SECONDS -> wrk output
	"${PIN_WRK[@]}" wrk -t1 -c"$CONNECTIONS" -d"$1"s --latency -s bench/leases/read.lua "$URL"
}

p99_of() { awk '$1 == "99%" {print $2}'; }

restart_server() {
	kill "$PID"
	wait "$PID" 2>/dev/null || true
	"${PIN_SERVER[@]}" "$TROVE_BIN" server -config "$WORK/trove.hcl" >>"$WORK/trove.out" 2>>"$WORK/trove.err" &
	PID=$!
}

lmdb_server_start
read -r ROOT KEY < <(init_server)
export TROVE_TOKEN="$ROOT"

case "$MODE" in
restore)
	restart_server
	empty_secs=$(unseal_and_time "$KEY" "$ROOT")
	read_burst 5 >/dev/null
	read -r e_rss e_anon e_file < <(rss "$PID")
	echo "no leases: unseal-to-serving ${empty_secs}s, RSS ${e_rss} kB (anon ${e_anon}, file ${e_file})"
	echo "creating $LEASES leases..."
	start=$(date +%s)
	fill "$LEASES" 720h
	echo "created in $(($(date +%s) - start)) s"
	restart_server
	secs=$(unseal_and_time "$KEY" "$ROOT")
	read_burst 5 >/dev/null
	sleep 2
	read -r rss_kb anon_kb file_kb < <(rss "$PID")
	echo "$LEASES leases: unseal-to-serving ${secs}s, RSS ${rss_kb} kB (anon ${anon_kb}, file ${file_kb})"
	awk -v n="$LEASES" -v a="$rss_kb" -v b="$e_rss" -v aa="$anon_kb" -v ba="$e_anon" -v s="$secs" 'BEGIN {
		per = (a - b) * 1024 / n; pera = (aa - ba) * 1024 / n
		printf "per lease: %.1f bytes of RSS (%.1f anonymous)\n", per, pera
		printf "target unseal-to-serving <= 1 s: %s\n", (s <= 1.0) ? "met" : "NOT met"
		printf "target <= 300 bytes per lease: %s\n", (per <= 300) ? "met" : "NOT met"
	}'
	;;
storm)
	base=$(read_burst 15)
	echo "$base" | grep '^non200='
	base_p99=$(echo "$base" | p99_of)
	echo "creating $STORM tokens with TTL ${STORM_TTL}s..."
	start=$(date +%s)
	fill "$STORM" "${STORM_TTL}s"
	made=$(($(date +%s) - start))
	echo "created in ${made} s; reading for ${READ_SECONDS} s while they expire"
	storm=$(read_burst "$READ_SECONDS")
	echo "$storm" | grep -E '^non200=|Latency'
	storm_p99=$(echo "$storm" | p99_of)
	left=$(api '
from trove_api import call
import urllib.error
try:
    out = call(sys.argv[1], "LIST", "/v1/sys/leases/lookup/auth/token/create/", None, sys.argv[2])
    print(len(out["data"]["keys"]))
except urllib.error.HTTPError as e:
    print(0 if e.code == 404 else "error %d" % e.code)' "$URL" "$ROOT")
	revoked=$(curl -s -H "X-Vault-Token: $ROOT" "$URL/v1/sys/metrics?format=prometheus" |
		awk '$1 == "trove_expire_revocations_total" {print $2}')
	echo "read p99: ${base_p99} with nothing expiring, ${storm_p99} during the storm"
	echo "leases left after the storm: $left (revoked by the timer: $revoked)"
	awk -v p="$storm_p99" 'BEGIN {
		v = p + 0; if (p ~ /us$/) v /= 1000; else if (p ~ /ms$/) v += 0; else if (p ~ /s$/) v *= 1000
		printf "target p99 <= 10 ms during the storm: %s\n", (v <= 10) ? "met" : "NOT met"
	}'
	;;
*) die "unknown MODE $MODE (restore or storm)" ;;
esac
