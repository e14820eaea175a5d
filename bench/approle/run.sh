#!/usr/bin/env bash
# bench/approle/run.sh — AppRole logins per second on LMDB.
#
# Starts `trove server -config` on a fresh LMDB directory, initialises and
# unseals it, enables auth/approle, makes a role issuing TOKEN_TYPE tokens
# (batch or service) and one secret ID without a use limit (as Vault's
# benchmark does), then drives POST auth/approle/login with wrk. A service
# token login writes the token (durable, group commit); a batch token login
# writes nothing.
#
#   bash bench/approle/run.sh                      # TOKEN_TYPE=batch
#   TOKEN_TYPE=service bash bench/approle/run.sh
#
# Knobs (environment): DURATION (10s) CONNECTIONS (32) THREADS (1)
#   WARMUP (2s) SERVER_CPU (0) WRK_CPU (1) TROVE_BIN (build/trove)
#   TOKEN_TYPE (batch) DATA_DIR KEEP=1
# Targets: batch >= 20,000/s, service >= 5,000/s. Benchmarks report; they
# do not fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib/lmdb_server.sh

TOKEN_TYPE=${TOKEN_TYPE:-batch}
case "$TOKEN_TYPE" in
batch) TARGET=20000 ;;
service) TARGET=5000 ;;
*)
	echo "bench: TOKEN_TYPE must be batch or service" >&2
	exit 1
	;;
esac

lmdb_server_start

IDS=$(/usr/bin/python3 - "$URL" "$TOKEN_TYPE" <<'PY'
import sys
sys.path.insert(0, "bench/lib")
from trove_api import call, ready_root
url, token_type = sys.argv[1], sys.argv[2]
root = ready_root(url)
call(url, "POST", "/v1/sys/auth/approle", {"type": "approle"}, root)
call(url, "POST", "/v1/auth/approle/role/bench", {"token_type": token_type, "token_policies": ["default"],
                                                  "token_ttl": "1h"}, root)
role_id = call(url, "GET", "/v1/auth/approle/role/bench/role-id", token=root)["data"]["role_id"]
secret_id = call(url, "POST", "/v1/auth/approle/role/bench/secret-id", {}, root)["data"]["secret_id"]
out = call(url, "POST", "/v1/auth/approle/login", {"role_id": role_id, "secret_id": secret_id})
assert out["auth"]["token_type"] == token_type, out
print(role_id, secret_id)
PY
) || {
	cat "$WORK/trove.err" >&2
	die "could not set up the server"
}
read -r ROLE_ID SECRET_ID <<<"$IDS"
export ROLE_ID SECRET_ID

wrk_report "approle-$TOKEN_TYPE-lmdb" "$TARGET" "logins/s" bench/approle/login.lua
