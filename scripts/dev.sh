#!/usr/bin/env bash
# dev.sh — one command from a fresh Debian 12 machine to a running dev server:
# installs the build dependencies, builds build/trove (release) and starts
#   build/trove server -dev  [extra arguments are passed on]
# The dev server keeps everything in memory, starts initialised and unsealed,
# and prints its unseal key and root token. Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh

if [ ! -f build/meson-private/coredata.dat ]; then
	rm -rf build
	meson setup build --buildtype=release ||
		{
			echo "dev: ERROR: meson setup failed" >&2
			exit 1
		}
fi
ninja -C build || {
	echo "dev: ERROR: build failed" >&2
	exit 1
}
[ -x build/trove ] || {
	echo "dev: ERROR: build/trove was not produced" >&2
	exit 1
}

exec build/trove server -dev "$@"
