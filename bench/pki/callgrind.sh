#!/usr/bin/env bash
# bench/pki/callgrind.sh — instructions per POST pki/issue/bench-ec
# (EC P-256, no_store), counted by callgrind: steady where run.sh's rates
# move ±20% on a shared machine, so a change can be judged by it. Runs the
# server under callgrind twice on a fresh LMDB directory, once with the
# set-up alone (setup.py) and once with N more issues, and prints the
# difference over N, beside the same count for one iteration of the
# OpenSSL bound (bench_pki_bound ec: keygen + one signature). User-space
# instructions only: the kernel's share (sockets, wake-ups) is not in it.
#
#   bash bench/pki/callgrind.sh          # N=200
#   N=500 KEEP=1 bash bench/pki/callgrind.sh   # keeps the .cg files for
#                                              # callgrind_annotate
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-200}
REAL=$(realpath "${TROVE_BIN:-build/trove}")
BOUND=build/bench/bench_pki_bound
command -v valgrind >/dev/null || { echo "bench: ERROR: no valgrind" >&2; exit 1; }
[ -x "$BOUND" ] || { echo "bench: ERROR: no $BOUND (ninja -C build)" >&2; exit 1; }
OUT=$(mktemp -d /tmp/trove-callgrind.XXXXXX)

total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }

run() { # COUNT: instructions of a server that served the set-up and COUNT issues
	local count=$1
	cat >"$OUT/trove-cg" <<WRAP
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=$OUT/issue-$count.cg "$REAL" "\$@"
WRAP
	chmod +x "$OUT/trove-cg"
	(
		TROVE_BIN=$OUT/trove-cg
		. bench/lib/lmdb_server.sh
		lmdb_server_start
		/usr/bin/python3 bench/pki/setup.py "$URL" "$count" >/dev/null || {
			cat "$WORK/trove.err" >&2
			die "could not set up the server"
		}
	)
	total "$OUT/issue-$count.cg"
}

base=$(run 0)
with=$(run "$N")
valgrind --tool=callgrind --callgrind-out-file="$OUT/bound.cg" "$BOUND" ec 2 >"$OUT/bound.txt" 2>/dev/null
ops=$(awk '{ print $3 }' "$OUT/bound.txt")
bound=$(total "$OUT/bound.cg")
awk -v b="$base" -v w="$with" -v n="$N" -v bi="$bound" -v bo="$ops" 'BEGIN {
	per = (w - b) / n; pb = bi / bo
	printf "pki/issue ec: %.0f instructions/request (%d requests)\n", per, n
	printf "bound ec:     %.0f instructions/iteration (%d iterations)\n", pb, bo
	printf "ratio (instructions only): %.0f%%\n", 100 * pb / per
}'
if [ -n "${KEEP:-}" ]; then echo "callgrind files: $OUT"; else rm -rf "$OUT"; fi
