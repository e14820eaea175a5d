#!/usr/bin/env bash
# bench/database/run.sh — database/creds/:role per second on a local
# PostgreSQL, beside the same statements issued directly over one
# connection (the ceiling), and revocation throughput for REVOKE_N
# expiring users beside the raw DROP rate.
#
# Starts its own PostgreSQL 15 (bench/database/pg.py: a temporary
# directory, loopback port, SCRAM logins, fsync off, 8 tables and a role
# bench_read holding SELECT on them) and `trove server -config` on a fresh
# LMDB directory; mounts `database`, writes the connection `pg`
# (max_open_connections MAX_OPEN) and roles whose creation statements are
#   CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';
# then, GRANT "table" (role bench, the issue's typical statement):
#   GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";
# or GRANT "member" (roles bench-member and bench-rev):
#   GRANT bench_read TO "{{name}}";
# Then, for each GRANT style:
#  (a) the ceiling: psql, one session, CEILING_N users per mode
#      (bench/database/ceiling.py: raw, tx = BEGIN/CREATE/GRANT/COMMIT,
#      tx1 = the same in one round trip), each mode's users dropped after
#      it (DROP OWNED + DROP ROLE, one query per user: the drop rate);
#  (b) Trove: wrk GET database/creds/<role> with the root token,
#      CONNECTIONS connections, rate, latency percentiles and the CPU
#      seconds Trove and PostgreSQL used; its users are revoked after;
# and
#  (c) revocation: REVOKE_N creds of bench-rev (GRANT member: a table's
#      ACL cannot hold 10,000 roles), all made due at once (revoke-prefix,
#      sync=false: the expiration workers), timed until pg_roles holds
#      none of them, beside the member drop rate.
#
#   bash bench/database/run.sh
#   PASSWORD_ENCRYPTION=md5 bash bench/database/run.sh   # no SCRAM hashing per CREATE ROLE
#
# Knobs (environment): DURATION (5s) WARMUP (2s) CONNECTIONS (8)
#   THREADS (1) MAX_OPEN (8) CEILING_N (1000) REVOKE_N (10000)
#   REVOKE_CONCURRENCY (8) REVOCATION_WORKERS (lease_revocation_workers,
#   8) PASSWORD_ENCRYPTION (scram-sha-256) REVOCATION (drop: bench-rev
#   revokes with the ceiling's DROP OWNED + DROP ROLE; default: the
#   plugin's default DO block, heavier than the ceiling) SERVER_CPU,
#   WRK_CPU (0-1: not pinned; PostgreSQL, which does most of the work,
#   cannot be given a core of its own on two) TROVE_BIN (build/trove)
#   KEEP=1 PHASES ("ceiling creds revoke").
# Benchmarks report; they do not fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONNECTIONS=${CONNECTIONS:-8}
DURATION=${DURATION:-5s}
SERVER_CPU=${SERVER_CPU:-0-1}
WRK_CPU=${WRK_CPU:-0-1}
MAX_OPEN=${MAX_OPEN:-8}
CEILING_N=${CEILING_N:-1000}
REVOKE_N=${REVOKE_N:-10000}
REVOKE_CONCURRENCY=${REVOKE_CONCURRENCY:-8}
REVOCATION_WORKERS=${REVOCATION_WORKERS:-8}
PASSWORD_ENCRYPTION=${PASSWORD_ENCRYPTION:-scram-sha-256}
REVOCATION=${REVOCATION:-drop}
PHASES=${PHASES:-ceiling creds revoke}
TARGET=1000
. bench/lib/lmdb_server.sh

command -v psql >/dev/null 2>&1 || die "psql not found (package postgresql-client-15)"

# lmdb_server_start writes the config and starts the server; once it
# answers it is restarted with the revocation workers added.
lmdb_server_start
/usr/bin/python3 -c 'import sys; sys.path.insert(0, "bench/lib"); import trove_api; trove_api.wait_up(sys.argv[1])' "$URL" ||
	die "trove did not start"
kill "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
PG_PID=
# Its own directory: the scratch one is private and PostgreSQL may run as
# the postgres user.
PG_TOP=$(mktemp -d /tmp/trove-bench-pg.XXXXXX)
stop_all() {
	if [ -n "${PG_PID:-}" ]; then
		kill -INT "$PG_PID" 2>/dev/null || true
		for _ in $(seq 1 150); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
	fi
	lmdb_server_stop
	[ -n "${KEEP:-}" ] || rm -rf "$PG_TOP"
}
trap stop_all EXIT INT TERM
echo "lease_revocation_workers = $REVOCATION_WORKERS" >>"$WORK/trove.hcl"
"${PIN_SERVER[@]}" "$TROVE_BIN" server -config "$WORK/trove.hcl" >"$WORK/trove.out" 2>"$WORK/trove.err" &
PID=$!

read -r PG_PORT PG_PASSWORD PG_PID < <(/usr/bin/python3 bench/database/pg.py "$PG_TOP" "$PASSWORD_ENCRYPTION") ||
	die "could not start PostgreSQL"
PG_SOCK="$PG_TOP/pg"
PG_URL="postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"

TOKEN=$(/usr/bin/python3 bench/database/setup.py "$URL" "$PG_URL" "$MAX_OPEN" "$REVOCATION") || {
	cat "$WORK/trove.err" >&2
	die "could not set up the server"
}
export TOKEN

# CPU seconds (user + system) used so far by Trove, and by PostgreSQL's
# postmaster and its live backends.
cpu_secs() { # PID...
	local hz
	hz=$(getconf CLK_TCK)
	for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null || true; done |
		awk -v hz="$hz" '{ sub(/^.*\) /, ""); t += $12 + $13 } END { printf "%.2f", t / hz }'
}
pg_pids() { echo "$PG_PID" $(pgrep -P "$PG_PID" || true); }

secs_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')  cores: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "postgresql: $(psql -X -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres -Atc 'SHOW server_version') password_encryption=$PASSWORD_ENCRYPTION; trove on cpu $SERVER_CPU, wrk on cpu $WRK_CPU"

psql_run() { # FILE — runs it in one session as the superuser, over TCP
	PGPASSWORD=$PG_PASSWORD psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
		-f "$1" >/dev/null
}

# Each mode's users are dropped before the next mode: a table's ACL lives
# in its pg_class row, which cannot grow past one 8 kB page, so a table
# can be granted to only a couple of thousand roles directly.
declare -A CEIL_TX1 CEIL_DROP
if [[ " $PHASES " == *" ceiling "* ]]; then
	for style in table member; do
		echo "== (a) ceiling, GRANT $style: the same statements over one psql connection, $CEILING_N users per mode"
		drop_s=0
		for mode in raw tx tx1; do
			/usr/bin/python3 bench/database/ceiling.py "$mode" "$CEILING_N" "c$mode" "$style" >"$WORK/$mode.sql"
			/usr/bin/python3 bench/database/ceiling.py drop "$CEILING_N" "c$mode" >"$WORK/drop-$mode.sql"
			t=$(date +%s%N)
			psql_run "$WORK/$mode.sql"
			s=$(secs_since "$t")
			rate=$(awk -v n="$CEILING_N" -v s="$s" 'BEGIN { printf "%.0f", n / s }')
			printf 'ceiling %-6s %-4s %8s users/s (%s users in %ss)\n' "$style" "$mode" "$rate" "$CEILING_N" "$s"
			[ "$mode" = tx1 ] && CEIL_TX1[$style]=$rate
			t=$(date +%s%N)
			psql_run "$WORK/drop-$mode.sql"
			drop_s=$(awk -v a="$drop_s" -v b="$(secs_since "$t")" 'BEGIN { print a + b }')
		done
		CEIL_DROP[$style]=$(awk -v n="$((3 * CEILING_N))" -v s="$drop_s" 'BEGIN { printf "%.0f", n / s }')
		printf 'ceiling %-6s drop %8s users/s (DROP OWNED + DROP ROLE, one query per user, %s users in %ss)\n' \
			"$style" "${CEIL_DROP[$style]}" "$((3 * CEILING_N))" "$drop_s"
	done
fi

if [[ " $PHASES " == *" creds "* ]]; then
	for style in table member; do
		ROLE=bench
		[ "$style" = member ] && ROLE=bench-member
		export ROLE
		echo "== (b) trove, GRANT $style: GET database/creds/$ROLE, wrk -c$CONNECTIONS, max_open_connections=$MAX_OPEN"
		t_cpu0=$(cpu_secs "$PID")
		p_cpu0=$(cpu_secs $(pg_pids))
		report=$(wrk_report "creds-$style" "$TARGET" "creds/s" bench/database/creds.lua)
		t_cpu=$(awk -v a="$t_cpu0" -v b="$(cpu_secs "$PID")" 'BEGIN { print b - a }')
		p_cpu=$(awk -v a="$p_cpu0" -v b="$(cpu_secs $(pg_pids))" 'BEGIN { print b - a }')
		echo "$report"
		rate=$(echo "$report" | awk -v n="creds-$style" '$1 == n { print $2 }')
		echo "cpu during warm-up and run: trove ${t_cpu}s, postgresql ${p_cpu}s (its backends that lived on)"
		if [ -n "${CEIL_TX1[$style]:-}" ]; then
			awk -v r="$rate" -v c="${CEIL_TX1[$style]}" 'BEGIN { printf "trove %.0f creds/s beside the one-connection ceiling %.0f users/s (tx1): %.0f%%\n", r, c, 100 * r / c }'
		fi
		# the users made stay until their leases end: drop them now
		/usr/bin/python3 bench/database/revoke.py "$URL" "$TOKEN" "$PG_SOCK" "$PG_PORT" clean "$ROLE" ||
			echo "bench: warning: could not revoke the $ROLE leases"
	done
fi

if [[ " $PHASES " == *" revoke "* ]]; then
	echo "== (c) revocation: $REVOKE_N users of bench-rev ($REVOCATION statements), lease_revocation_workers=$REVOCATION_WORKERS"
	line=$(/usr/bin/python3 bench/database/revoke.py "$URL" "$TOKEN" "$PG_SOCK" "$PG_PORT" "$REVOKE_N" \
		"$REVOKE_CONCURRENCY")
	echo "$line"
	rrate=$(echo "$line" | sed 's/.*revoke_rate=\([0-9.]*\).*/\1/')
	if [ -n "${CEIL_DROP[member]:-}" ]; then
		awk -v r="$rrate" -v c="${CEIL_DROP[member]}" 'BEGIN { printf "trove revokes %.0f users/s beside the raw drop rate %.0f users/s: %.0f%%\n", r, c, 100 * r / c }'
	fi
fi
