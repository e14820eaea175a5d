#!/usr/bin/env bash
# bench/agent/http_rss.sh — what an API request costs in resident memory,
# over HTTPS and HTTP, through libcurl (the CLI's transport) and through the
# native HTTP/1.1 transport (the agent's).
#
#   bash bench/agent/http_rss.sh          # RUNS=5 COUNT=1
#   COUNT=100 bash bench/agent/http_rss.sh
#
# Starts `trove server` with a TLS listener (a throwaway CA and server
# certificate made with openssl) and a plain one; the server is left
# uninitialised, so sys/health answers 501, an answer all the same. Then runs
# build/bench/bench_http_rss for each transport RUNS times and prints the
# smallest and largest peak RSS (VmHWM) of each, beside the program with no
# request at all. Reports; does not pass or fail.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-5}
COUNT=${COUNT:-1}
TROVE_BIN=${TROVE_BIN:-build/trove}
BENCH=${BENCH:-build/bench/bench_http_rss}

ninja -C build >/dev/null
dir=$(mktemp -d /tmp/trove-http-rss.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
	-keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
	-keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$dir/ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 1 \
	-extfile "$dir/ext" -out "$dir/server.pem" 2>/dev/null

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
plain=$(free_port)
mkdir -p "$dir/data"
cat >"$dir/server.hcl" <<HCL
storage "lmdb" {
  path = "$dir/data"
}
listener "tcp" {
  address       = "127.0.0.1:$port"
  tls_cert_file = "$dir/server.pem"
  tls_key_file  = "$dir/server.key"
}
listener "tcp" {
  address     = "127.0.0.1:$plain"
  tls_disable = true
}
HCL
"$TROVE_BIN" server -config "$dir/server.hcl" >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	"$BENCH" native "https://127.0.0.1:$port" "$dir/ca.pem" >/dev/null 2>&1 && break
	sleep 0.1
done

measure() { # label address
	echo "$1: one client, $COUNT GET(s) of sys/health, $RUNS runs each; peak RSS in KiB"
	for t in none curl native; do
		min= max=
		for _ in $(seq "$RUNS"); do
			out=$("$BENCH" "$t" "$2" "$dir/ca.pem" "$COUNT")
			kib=$(sed -n 's/.*max_rss_kib=\([0-9]*\).*/\1/p' <<<"$out")
			[ -z "$min" ] || [ "$kib" -lt "$min" ] && min=$kib
			[ -z "$max" ] || [ "$kib" -gt "$max" ] && max=$kib
		done
		printf "  %-7s %6s .. %6s KiB   (last run: %s)\n" "$t" "$min" "$max" "$(sed "s/^[a-z]* //" <<<"$out")"
	done
}
measure "HTTPS (TLS 1.3, CA file)" "https://127.0.0.1:$port"
measure "HTTP" "http://127.0.0.1:$plain"
