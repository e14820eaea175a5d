#!/usr/bin/env bash
# bench/bodies/ab.sh — bench/bodies/run.sh for two or more builds in turn
# (A, B, A, B, ...), so that a host's changing load falls on each alike.
# One line per run, then each build's range. nginx is not measured
# (NGINX=0); every other knob of run.sh passes through the environment.
#
#   bash bench/bodies/ab.sh ROUNDS TROVE_BIN_A TROVE_BIN_B [...]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:?ROUNDS}
shift
[ $# -ge 2 ] || { echo "usage: $0 ROUNDS TROVE_BIN_A TROVE_BIN_B [...]" >&2; exit 2; }
results=$(mktemp)
trap 'rm -f "$results"' EXIT
# ms VALUE: wrk's latency (us, ms or s) in milliseconds
ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v / 1000; else if (v ~ /ms$/) print v + 0; else print v * 1000 }'; }
for r in $(seq "$rounds"); do
	for bin in "$@"; do
		out=$(TROVE_BIN=$bin NGINX=0 bash bench/bodies/run.sh 2>&1)
		p50=$(ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
		p99=$(ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
		mib=$(echo "$out" | sed -n 's/.*sent \([0-9]*\) MiB\/s.*/\1/p')
		rss=$(echo "$out" | sed -n 's/^server peak RSS: \([0-9]*\) MiB/\1/p')
		printf '%s round %s  load %s  p50 %s ms  p99 %s ms  %s MiB/s  peak RSS %s MiB\n' "$bin" "$r" \
			"$(cut -d' ' -f1 /proc/loadavg)" "$p50" "$p99" "$mib" "$rss"
		echo "$bin $p50 $p99" >>"$results"
	done
done
echo "-- ranges (sys/health, ms)"
for bin in "$@"; do
	awk -v b="$bin" '$1 == b { n++; if (n == 1 || $2 < a) a = $2; if ($2 > A) A = $2; if (n == 1 || $3 < c) c = $3; if ($3 > C) C = $3 }
		END { printf "%s  p50 %s-%s  p99 %s-%s  (%d runs)\n", b, a, A, c, C, n }' "$results"
done
