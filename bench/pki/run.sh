#!/usr/bin/env bash
# bench/pki/run.sh — pki/issue per second on one core, beside the same
# machine's OpenSSL bound.
#
# Starts `trove server -config` on a fresh LMDB directory pinned to
# SERVER_CPU, mounts pki with an EC P-256 root, and makes two roles with
# no_store=true (so the figure is the issuing path, not storage):
# bench-ec (key_type ec, P-256) and bench-rsa (key_type rsa, 2048). wrk,
# pinned to WRK_CPU, drives POST pki/issue/<role>. The bound is measured
# here too, on SERVER_CPU: bench_pki_bound (bench/pki/bound.c) does an
# EC P-256 key generation plus one ECDSA-SHA256 signature of a
# certificate-sized TBS per iteration, and an RSA 2048 key generation per
# iteration; `openssl speed` figures are printed beside them, and so is
# `bench_pki_bound ec-kept`, the same crypto through kept contexts. After
# the EC rate, nginx serves one of Trove's answers from the same core
# (the HTTP ceiling), and the rate a server paying only the crypto and
# that transport would reach is printed beside Trove's.
#
#   bash bench/pki/run.sh                  # KEY_TYPES="ec rsa"
#   KEY_TYPES=ec DURATION=20s bash bench/pki/run.sh
#
# Knobs (environment): DURATION (10s) CONNECTIONS (8; RSA_CONNECTIONS,
#   1, for rsa: a 2048-bit key takes tens of milliseconds and more
#   connections only queue behind one core) THREADS (1)
#   WARMUP (2s) SERVER_CPU (0) WRK_CPU (1) TROVE_BIN (build/trove)
#   KEY_TYPES ("ec rsa") DATA_DIR KEEP=1
# The server's worker pool is not configurable; pinned with taskset, all
# of its threads share the one core. Target: EC >= 80% of the bound.
# On a shared machine the rate moves ±20% between runs: callgrind.sh
# counts instructions per request instead, to judge a change. After each
# rate, CTX_SECS (3) more seconds of the same load count the server's
# context switches per request (every thread's, from /proc).
# Benchmarks report; they do not fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONNECTIONS=${CONNECTIONS:-8}
KEY_TYPES=${KEY_TYPES:-ec rsa}
. bench/lib/lmdb_server.sh
. bench/lib/nginx.sh

BOUND=build/bench/bench_pki_bound
[ -x "$BOUND" ] || die "no $BOUND (ninja -C build)"
BOUND_SECS=${BOUND_SECS:-5}
CTX_SECS=${CTX_SECS:-3}

# The server's context switches so far, every thread's.
ctx_total() {
	cat /proc/"$PID"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'
}

# The server's user and system CPU time so far, in clock ticks.
cpu_ticks() {
	awk '{ print $14, $15 }' /proc/"$PID"/stat
}

# Context switches and CPU time (user, system) per request over CTX_SECS
# of the load in LUA.
ctx_per_request() { # LUA
	local before after n t0 t1
	before=$(ctx_total)
	t0=$(cpu_ticks)
	n=$("${PIN_WRK[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${CTX_SECS}s" -s "$1" "$URL" |
		awk '/requests in/ { print $1 }')
	t1=$(cpu_ticks)
	after=$(ctx_total)
	awk -v b="$before" -v a="$after" -v n="$n" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(t0, x, " "); split(t1, y, " ")
		printf "context switches: %.2f per request (%d requests)\n", (a - b) / n, n
		printf "server CPU per request: user %.0f us, system %.0f us\n", 1e6 * (y[1] - x[1]) / hz / n, 1e6 * (y[2] - x[2]) / hz / n
	}'
}

# The HTTP ceiling beside the crypto one: nginx, pinned to the server's
# core, serving one of Trove's EC answers as a static file to the same
# number of connections. A server whose every request cost the bound's
# keygen and signature plus nginx's transport, and nothing else, would
# issue 1 / (1/bound + 1/transport) certificates a second: printed, with
# its share of the bound, so that the target is read against it.
transport_ceiling() { # TROVE_RATE BOUND_RATE KEPT_RATE
	mkdir -p "$WORK/static/html"
	chmod a+x "$WORK" # nginx's worker, unprivileged, reaches static/ (only)
	curl -sf -X POST -H "X-Vault-Token: $TOKEN" -H 'Content-Type: application/json' \
		-d '{"common_name":"svc.bench.test","ttl":"1h"}' "$URL/v1/pki/issue/$ROLE" \
		-o "$WORK/static/html/issue.json" || die "could not fetch an answer for nginx to serve"
	nginx_start "$WORK/static" "${PIN_SERVER[@]}" || die "nginx did not start"
	local t
	t=$(URL="http://127.0.0.1:$NGINX_PORT/issue.json" wrk_report nginx-same-bytes 0 req/s bench/lib/count.lua |
		awk '$1 == "nginx-same-bytes" { print $2 }')
	nginx_stop
	awk -v t="$t" -v r="$1" -v b="$2" -v k="$3" -v n="$(wc -c <"$WORK/static/html/issue.json")" 'BEGIN {
		c = 1 / (1 / b + 1 / t)
		kc = 1 / (1 / k + 1 / t)
		printf "transport ceiling: nginx serves the same %d bytes at %.0f/s (%.1f us a request)\n", n, t, 1e6 / t
		printf "bound + transport: %.0f/s = %.0f%% of the bound; Trove is at %.0f%% of it\n", c, 100 * c / b, 100 * r / c
		printf "kept contexts + transport: %.0f/s = %.0f%% of the bound; Trove is at %.0f%% of it\n", kc, 100 * kc / b, 100 * r / kc
		printf "time a request (us): Trove %.1f, bound %.1f, kept contexts %.1f, transport %.1f\n", 1e6 / r, 1e6 / b, 1e6 / k, 1e6 / t
	}'
}

lmdb_server_start
trap 'nginx_stop; lmdb_server_stop' EXIT INT TERM

TOKEN=$(/usr/bin/python3 bench/pki/setup.py "$URL") || {
	cat "$WORK/trove.err" >&2
	die "could not set up the server"
}
export TOKEN

PIN_BOUND=(taskset -c "$SERVER_CPU")
[ "$(nproc)" -ge 2 ] || PIN_BOUND=()
echo "== OpenSSL bound on CPU $SERVER_CPU (${BOUND_SECS}s each)"
for kt in $KEY_TYPES; do
	line=$("${PIN_BOUND[@]}" "$BOUND" "$kt" "$BOUND_SECS")
	echo "bound $line"
	eval "BOUND_${kt}=$(echo "$line" | sed 's|^[a-z]* \([0-9]*\)/s.*|\1|')"
done
case " $KEY_TYPES " in *" ec "*)
	line=$("${PIN_BOUND[@]}" "$BOUND" ec-kept "$BOUND_SECS")
	echo "with kept contexts (not the bound) $line"
	KEPT_ec=$(echo "$line" | sed 's|^[a-z-]* \([0-9]*\)/s.*|\1|')
	;;
esac
echo "openssl speed (sign/s, verify/s):"
"${PIN_BOUND[@]}" openssl speed -seconds 2 ecdsap256 2>/dev/null | tail -1 || true
case " $KEY_TYPES " in *" rsa "*) "${PIN_BOUND[@]}" openssl speed -seconds 2 rsa2048 2>/dev/null | tail -1 || true ;; esac

for kt in $KEY_TYPES; do
	echo "== pki/issue key_type=$kt no_store=true"
	export ROLE="bench-$kt"
	[ "$kt" = rsa ] && CONNECTIONS=${RSA_CONNECTIONS:-1}
	bound_var="BOUND_$kt"
	bound=${!bound_var}
	target=$(awk -v b="$bound" 'BEGIN { printf "%d", b * 0.8 }')
	report=$(wrk_report "pki-issue-$kt" "$target" "certs/s" bench/pki/issue.lua)
	echo "$report"
	rate=$(echo "$report" | awk -v n="pki-issue-$kt" '$1 == n { print $2 }')
	awk -v r="$rate" -v b="$bound" -v k="$kt" 'BEGIN { printf "%s: %.0f certs/s = %.0f%% of the OpenSSL bound (%.0f/s)\n", k, r, 100 * r / b, b }'
	[ "$kt" = rsa ] || ctx_per_request bench/pki/issue.lua
	[ "$kt" = rsa ] || transport_ceiling "$rate" "$bound" "$KEPT_ec"
done
