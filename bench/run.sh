#!/usr/bin/env bash
# bench/run.sh — Trove beside its same-machine ceiling.
#
# For each workload, wrk drives `trove server -dev` and then nginx serving the
# very same response body as a static file, and the two rates are printed side
# by side with their ratio. The server under test (trove, or nginx with one
# worker) is pinned to one core and wrk to another, so the two never compete.
#
#   sudo bash bench/run.sh                     # defaults below
#   DURATION=30s CONNECTIONS=64 bash bench/run.sh
#
# Knobs (environment):
#   DURATION (10s)  CONNECTIONS (32)  THREADS (1)  WARMUP (2s)
#   SERVER_CPU (0)  WRK_CPU (1)       TROVE_BIN (build/trove)
#   WORKLOADS ("health")   any of: health seal-status unseal-pool kv-read
#                          kv-read-audit
#     kv-read is a KV v2 read with a non-root token whose policy has 20 rules
#     (one per application, the one that grants the read among them).
#     kv-read-audit is the same read with one file audit device enabled
#     (AUDIT_FILE, default a file in the scratch directory; AUDIT_RECORDED
#     "flushed" or "fsynced"); list it after kv-read: it enables the device
#     for every workload measured after it. Target: >= 0.80 of kv-read.
#     unseal-pool is PUT sys/unseal with the dev key on an unsealed server: a
#     200 no-op that, as a write, runs on the worker pool, so it measures the
#     loop -> pool -> loop hand-off; nginx serves its reply bytes to GET.
#   KEEP=1 keeps the scratch directory (nginx config, logs) for inspection
# Benchmarks report; they do not pass or fail. Target: trove >= 80% of nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-2s}
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
WORKLOADS=${WORKLOADS:-health}
TROVE_BIN=${TROVE_BIN:-build/trove}
TARGET=0.80

die() {
	echo "bench: ERROR: $*" >&2
	exit 1
}

# Dependencies (wrk, nginx-light, python3) and a release build.
if ! command -v wrk >/dev/null 2>&1 || ! [ -x /usr/sbin/nginx ] || ! [ -x /usr/bin/python3 ]; then
	bash scripts/deps.sh --test
fi
if [ "$TROVE_BIN" = build/trove ]; then
	if [ ! -f build/meson-private/coredata.dat ]; then
		rm -rf build
		meson setup build --buildtype=release >/dev/null || die "meson setup failed"
	fi
	buildtype=$(meson introspect build --buildoptions 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))' ||
		echo unknown)
	[ "$buildtype" = release ] || echo "bench: warning: build/ is a '$buildtype' build, not release"
	ninja -C build >/dev/null || die "build failed"
fi
[ -x "$TROVE_BIN" ] || die "no trove binary at $TROVE_BIN"
. bench/lib/nginx.sh
NGINX=$(nginx_bin) || die "nginx not found (package nginx-light)"

cpus=$(nproc)
PIN_SERVER=(taskset -c "$SERVER_CPU")
PIN_WRK=(taskset -c "$WRK_CPU")
if [ "$cpus" -lt 2 ]; then
	echo "bench: warning: only $cpus CPU; not pinning, figures will be pessimistic"
	PIN_SERVER=()
	PIN_WRK=()
fi

WORK=$(mktemp -d /tmp/trove-bench.XXXXXX)
PIDS=()
cleanup() {
	nginx_stop
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

fetch() { # fetch URL FILE [PUT-BODY-FILE|""] [TOKEN] — the body, whatever the status
	/usr/bin/python3 - "$@" <<'EOF'
import sys, urllib.request, urllib.error
data = open(sys.argv[3], "rb").read() if len(sys.argv) > 3 and sys.argv[3] else None
req = urllib.request.Request(sys.argv[1], data=data, method="PUT" if data else "GET")
if len(sys.argv) > 4:
    req.add_header("X-Vault-Token", sys.argv[4])
try:
    body = urllib.request.urlopen(req, timeout=5).read()
except urllib.error.HTTPError as e:
    body = e.read()
open(sys.argv[2], "wb").write(body)
EOF
}

path_of() {
	case "$1" in
	health) echo /v1/sys/health ;;
	seal-status) echo /v1/sys/seal-status ;;
	unseal-pool) echo /v1/sys/unseal ;;
	kv-read | kv-read-audit) echo /v1/secret/data/app-07/prod/db ;;
	*) die "unknown workload $1 (known: health seal-status unseal-pool kv-read kv-read-audit)" ;;
	esac
}

# -- trove ---------------------------------------------------------------------
TPORT=$(free_port)
"${PIN_SERVER[@]}" "$TROVE_BIN" server -dev -dev-listen-address="127.0.0.1:$TPORT" \
	-dev-root-token-id=bench >"$WORK/trove.out" 2>"$WORK/trove.err" &
PIDS+=($!)
http_wait "http://127.0.0.1:$TPORT/v1/sys/health" || {
	cat "$WORK/trove.err" >&2
	die "trove did not start"
}

# -- nginx, serving the same bytes ---------------------------------------------
mkdir -p "$WORK/html"
# The pool workload writes the dev unseal key back (a no-op while unsealed).
key=$(awk '/^Unseal Key: / {print $3}' "$WORK/trove.out")
printf '{"key": "%s"}' "$key" >"$WORK/unseal.json"
printf 'wrk.method = "PUT"\nwrk.body = [[%s]]\nwrk.headers["Content-Type"] = "application/json"\n' \
	"$(cat "$WORK/unseal.json")" >"$WORK/put.lua"
# The kv-read workload: 20 applications, a policy with one rule each, a
# token holding only that policy, and one secret to read.
if [[ " $WORKLOADS " == *" kv-read "* || " $WORKLOADS " == *" kv-read-audit "* ]]; then
	KV_TOKEN=$(/usr/bin/python3 - "http://127.0.0.1:$TPORT" <<'EOF'
import json, sys, urllib.request
base, root = sys.argv[1], "bench"
def call(method, path, body=None, token=root):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                 method=method, headers={"X-Vault-Token": token})
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
        return json.loads(raw) if raw else None
rules = "".join('path "secret/data/app-%02d/prod/*" { capabilities = ["read"] }\n' % i for i in range(20))
call("PUT", "/v1/sys/policies/acl/bench-apps", {"policy": rules})
call("POST", "/v1/secret/data/app-07/prod/db", {"data": {"username": "app07", "password": "x" * 24,
                                                        "host": "db.internal", "port": "5432"}})
tok = call("POST", "/v1/auth/token/create", {"policies": ["bench-apps"], "no_default_policy": True})
print(tok["auth"]["client_token"])
EOF
	) || die "kv-read setup failed"
	printf 'wrk.headers["X-Vault-Token"] = "%s"\n' "$KV_TOKEN" >"$WORK/kv.lua"
fi
for w in $WORKLOADS; do
	p=$(path_of "$w")
	mkdir -p "$WORK/html$(dirname "$p")"
	if [ "$w" = unseal-pool ]; then
		fetch "http://127.0.0.1:$TPORT$p" "$WORK/html$p" "$WORK/unseal.json"
	elif [ "$w" = kv-read ] || [ "$w" = kv-read-audit ]; then
		fetch "http://127.0.0.1:$TPORT$p" "$WORK/html$p" "" "$KV_TOKEN"
	else
		fetch "http://127.0.0.1:$TPORT$p" "$WORK/html$p"
	fi
done
nginx_start "$WORK" "${PIN_SERVER[@]}" || die "nginx did not start"
NPORT=$NGINX_PORT

# Both servers must answer 200 with the same body before anything is measured.
for w in $WORKLOADS; do
	p=$(path_of "$w")
	/usr/bin/python3 - "http://127.0.0.1:$NPORT$p" "$WORK/html$p" <<'EOF' ||
import sys, urllib.request
r = urllib.request.urlopen(sys.argv[1], timeout=5)
assert r.status == 200 and r.read() == open(sys.argv[2], "rb").read()
EOF
		die "nginx does not serve $p (see $WORK/nginx/logs/error.log; KEEP=1 keeps it)"
done

AUDIT_FILE=${AUDIT_FILE:-$WORK/audit.log}
AUDIT_RECORDED=${AUDIT_RECORDED:-flushed}
enable_audit() {
	/usr/bin/python3 - "http://127.0.0.1:$TPORT" "$AUDIT_FILE" "$AUDIT_RECORDED" <<'EOF' || die "enabling the audit device failed"
import json, sys, urllib.request
base, path, recorded = sys.argv[1:4]
body = {"type": "file", "options": {"file_path": path, "recorded": recorded}}
req = urllib.request.Request(base + "/v1/sys/audit/bench", data=json.dumps(body).encode(), method="PUT",
                             headers={"X-Vault-Token": "bench"})
urllib.request.urlopen(req, timeout=10)
EOF
}

# -- measure ---------------------------------------------------------------------
rate() { # rate URL [wrk args...] — requests/second from wrk
	local url=$1
	shift
	"${PIN_WRK[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$@" "$url" >/dev/null
	"${PIN_WRK[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" >"$WORK/wrk.out"
	if grep -q 'Non-2xx' "$WORK/wrk.out"; then
		echo "bench: warning: non-2xx answers from $1" >&2
	fi
	awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.out"
}

echo "trove: $("$TROVE_BIN" version 2>/dev/null | head -n1)   nginx: $("$NGINX" -v 2>&1 | sed 's/.*\///')"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')  cores: $cpus"
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION (keep-alive); server on cpu $SERVER_CPU, wrk on cpu $WRK_CPU"
echo
printf '%-14s %14s %14s %8s\n' workload "trove req/s" "nginx req/s" ratio
below=0
for w in $WORKLOADS; do
	p=$(path_of "$w")
	if [ "$w" = unseal-pool ]; then
		t=$(rate "http://127.0.0.1:$TPORT$p" -s "$WORK/put.lua")
	elif [ "$w" = kv-read ]; then
		t=$(rate "http://127.0.0.1:$TPORT$p" -s "$WORK/kv.lua")
		kv_plain=$t
	elif [ "$w" = kv-read-audit ]; then
		enable_audit
		t=$(rate "http://127.0.0.1:$TPORT$p" -s "$WORK/kv.lua")
		kv_audit=$t
	else
		t=$(rate "http://127.0.0.1:$TPORT$p")
	fi
	n=$(rate "http://127.0.0.1:$NPORT$p")
	r=$(awk -v t="$t" -v n="$n" 'BEGIN { printf "%.2f", (n > 0 ? t / n : 0) }')
	printf '%-14s %14.0f %14.0f %8s\n' "$w" "$t" "$n" "$r"
	# Targets: 0.80 for the bare HTTP path, 0.50 for a KV read through the
	# ACL; unseal-pool only shows the hand-off cost.
	goal=$TARGET
	[ "$w" = kv-read ] && goal=0.50
	[ "$w" = kv-read-audit ] && goal=0.40
	[ "$w" = unseal-pool ] || { awk -v r="$r" -v g="$goal" 'BEGIN { exit !(r < g) }' && below=1; }
done
if [ -n "${kv_plain:-}" ] && [ -n "${kv_audit:-}" ]; then
	a=$(awk -v t="$kv_audit" -v n="$kv_plain" 'BEGIN { printf "%.2f", (n > 0 ? t / n : 0) }')
	echo
	echo "kv-read with one file audit device ($AUDIT_RECORDED) / without: $a (target >= 0.80)"
	awk -v r="$a" 'BEGIN { exit !(r < 0.80) }' && below=1
	echo "audit log: $(wc -l <"$AUDIT_FILE") lines, $(du -h "$AUDIT_FILE" | cut -f1)"
fi
echo
if [ "$below" = 1 ]; then
	echo "target: trove >= ${TARGET} x nginx — NOT met for at least one workload"
else
	echo "target: trove >= ${TARGET} x nginx — met"
fi
