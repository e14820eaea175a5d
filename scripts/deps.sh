#!/usr/bin/env bash
# deps.sh — install what building (and, with --test, testing) Trove needs on
# Debian 12. Safe to run again: packages already present are not touched and
# apt is not contacted at all when nothing is missing.
#
#   bash scripts/deps.sh          build dependencies
#   bash scripts/deps.sh --test   build + test/benchmark dependencies
#
# Runs as root, or through sudo when not root. Exits non-zero naming the
# package, command or pkg-config module that is missing.
set -euo pipefail

want_test=0
for arg in "$@"; do
	case "$arg" in
	--test) want_test=1 ;;
	-h | --help)
		sed -n '2,10p' "$0"
		exit 0
		;;
	*)
		echo "deps.sh: unknown argument: $arg" >&2
		exit 2
		;;
	esac
done

say() { printf 'deps: %s\n' "$*"; }
die() {
	printf 'deps: ERROR: %s\n' "$*" >&2
	exit 1
}

build_pkgs=(meson ninja-build pkg-config gcc clang libh2o-evloop-dev libjansson-dev libp11-kit-dev
	liblmdb-dev libssl-dev libcurl4-openssl-dev libcmocka-dev libclang-rt-14-dev libargon2-dev
	libpq-dev libmariadb-dev)
test_pkgs=(python3 python3-pytest python3-pytest-xdist python3-hvac python3-requests python3-cryptography python3-jwt python3-botocore python3-yaml
	wrk nginx-light lmdb-utils openssl procps util-linux certbot lego
	postgresql mariadb-server chromium softhsm2)

pkgs=("${build_pkgs[@]}")
if [ "$want_test" = 1 ]; then
	pkgs+=("${test_pkgs[@]}")
fi
# node-vault's tests need Node.js and npm; use the machine's if it has
# them, Debian's otherwise.
if [ "$want_test" = 1 ] && ! { command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; }; then
	pkgs+=(nodejs npm)
fi

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script supports Debian 12 only"
if [ -r /etc/os-release ]; then
	# shellcheck disable=SC1091
	. /etc/os-release
	if [ "${ID:-}" != debian ] || [ "${VERSION_ID:-}" != 12 ]; then
		say "warning: written for Debian 12, this is ${PRETTY_NAME:-unknown}; trying anyway"
	fi
fi

SUDO=()

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]
}

missing=()
for p in "${pkgs[@]}"; do
	installed "$p" || missing+=("$p")
done

apt_lists_fresh() {
	# Fresh = some Packages index exists and is younger than a day.
	local f
	f=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 -print -quit 2>/dev/null || true)
	[ -n "$f" ]
}

apt_update() {
	say "apt-get update"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
		die "apt-get update failed (no network or a broken source list?)"
}

apt_install() {
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "$@"
}

if [ "${#missing[@]}" -gt 0 ]; then
	say "installing: ${missing[*]}"
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null 2>&1 ||
			die "missing package(s) ${missing[*]}; not root and sudo is not installed: run this script as root"
		SUDO=(sudo)
	fi
	updated=0
	if ! apt_lists_fresh; then
		apt_update
		updated=1
	fi
	if ! apt_install "${missing[@]}"; then
		if [ "$updated" = 0 ]; then
			apt_update
			updated=1
		fi
		if ! apt_install "${missing[@]}"; then
			# Install one at a time so the failure names its package.
			failed=()
			for p in "${missing[@]}"; do
				installed "$p" && continue
				apt_install "$p" || failed+=("$p")
			done
			[ "${#failed[@]}" -eq 0 ] || die "could not install package(s): ${failed[*]}"
		fi
	fi
	for p in "${missing[@]}"; do
		installed "$p" || die "package $p is still not installed after apt-get install"
	done
else
	say "all ${#pkgs[@]} packages already installed"
fi

# The Node.js client tests' packages (pinned by package-lock.json).
NODE_DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/integration/node"
# The packages package.json names that node_modules lacks (all of them
# before the first npm ci; a package added later, in a checkout made
# before it).
node_missing() {
	(cd "$NODE_DIR" && node -e '
const fs = require("fs");
const deps = Object.keys(require("./package.json").dependencies || {});
for (const d of deps) if (!fs.existsSync("node_modules/" + d + "/package.json")) console.log(d);')
}
if [ "$want_test" = 1 ] && [ -n "$(node_missing)" ]; then
	say "npm ci in tests/integration/node"
	(cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error) ||
		die "npm ci failed in tests/integration/node (the npm registry must be reachable)"
fi

# Verify the pieces the build and the tests actually use.
problems=()
for c in meson ninja pkg-config gcc clang; do
	command -v "$c" >/dev/null 2>&1 || problems+=("command $c")
done
for m in libh2o-evloop jansson lmdb libssl libcrypto libcurl cmocka libpq libmariadb p11-kit-1; do
	pkg-config --exists "$m" 2>/dev/null || problems+=("pkg-config module $m")
done
if ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 &&
	! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer*.a >/dev/null 2>&1; then
	problems+=("clang libFuzzer runtime (libclang_rt.fuzzer, package libclang-rt-14-dev)")
fi
if [ "$want_test" = 1 ]; then
	for c in wrk openssl mdb_stat taskset pgrep softhsm2-util; do
		command -v "$c" >/dev/null 2>&1 || problems+=("command $c")
	done
	[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || problems+=("command nginx (package nginx-light)")
	[ -x /usr/bin/python3 ] || problems+=("/usr/bin/python3")
	for c in node npm; do
		command -v "$c" >/dev/null 2>&1 || problems+=("command $c")
	done
	for m in $(node_missing); do
		problems+=("npm package $m in tests/integration/node")
	done
	for mod in pytest xdist hvac requests cryptography botocore jwt yaml; do
		/usr/bin/python3 -c "import $mod" >/dev/null 2>&1 ||
			problems+=("python module $mod for /usr/bin/python3 (package python3-$mod)")
	done
fi
if [ "${#problems[@]}" -gt 0 ]; then
	for p in "${problems[@]}"; do
		printf 'deps: ERROR: missing %s\n' "$p" >&2
	done
	exit 1
fi
say "ok"
