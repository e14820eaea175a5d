#!/usr/bin/env bash
# test.sh — one command from a fresh Debian 12 machine to the whole test suite:
#
#   1. dependencies, test-only ones included      (scripts/deps.sh --test)
#   2. release build in build/ with -Werror        + unit tests (meson test)
#   3. ASan+UBSan build in build-asan/             + unit tests
#   4. integration tests (pytest) against build-asan/trove
#   5. libFuzzer build in build-fuzz/ (clang)      + a short smoke run per target
#   6. integration tests against build/trove, when the time budget allows
#
# Every stage runs even when an earlier one failed (unless it needs what
# failed). The last line printed is exactly "N passed, N failed"; the exit
# status is non-zero when anything failed. Logs go to build-logs/.
#
# Knobs (environment): FUZZ_SECONDS (20), TROVE_TEST_BUDGET seconds after
# which the optional release-build integration pass is skipped (720),
# TROVE_TEST_SKIP_FUZZ=1, TROVE_TEST_JOBS (ninja/meson parallelism),
# TROVE_TEST_PYTEST_WORKERS (integration test processes; TROVE_TEST_JOBS).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

START=$(date +%s)
PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()
LOGS="$ROOT/build-logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"

FUZZ_SECONDS=${FUZZ_SECONDS:-20}
BUDGET=${TROVE_TEST_BUDGET:-720}
JOBS=${TROVE_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
PYTEST_WORKERS=${TROVE_TEST_PYTEST_WORKERS:-$JOBS}
PY=/usr/bin/python3

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:print_summary=1}
# h2o-internal allocations only; see the file for why each is there.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp:print_suppressions=0}

elapsed() { echo $(($(date +%s) - START)); }
stage() { printf '\n=== [%4ss] %s ===\n' "$(elapsed)" "$*"; }
ok() { # ok COUNT WHAT
	PASSED=$((PASSED + $1))
	printf 'test.sh: %s: %s passed\n' "$2" "$1"
}
bad() { # bad COUNT WHAT
	FAILED=$((FAILED + $1))
	FAILURES+=("$2 ($1)")
	printf 'test.sh: FAILED: %s: %s failed\n' "$2" "$1" >&2
}

finish() {
	echo
	echo "=== summary ($(elapsed)s, logs in build-logs/) ==="
	if [ "${#FAILURES[@]}" -gt 0 ]; then
		printf '  failed: %s\n' "${FAILURES[@]}"
	fi
	[ "$SKIPPED" -gt 0 ] && echo "  skipped tests: $SKIPPED"
	echo "$PASSED passed, $FAILED failed"
	if [ "$FAILED" -gt 0 ] || [ "$PASSED" -eq 0 ]; then
		exit 1
	fi
	exit 0
}

# setup_dir DIR [meson options...] — configure DIR, reusing it when it is a
# meson build directory made with the same compiler (CC).
setup_dir() {
	local dir=$1
	shift
	local want_cc=${CC:-cc}
	if [ -f "$dir/meson-private/coredata.dat" ]; then
		local have
		have=$(cat "$dir/.trove-cc" 2>/dev/null || echo unknown)
		if [ "$have" = "$want_cc" ]; then
			meson configure "$dir" "$@" && return 0
		fi
		rm -rf "$dir"
	elif [ -e "$dir" ]; then
		rm -rf "$dir"
	fi
	meson setup "$dir" "$@" || return 1
	echo "$want_cc" >"$dir/.trove-cc"
}

# build NAME DIR [meson options...] — configure and compile; counts one result.
build() {
	local name=$1 dir=$2
	shift 2
	stage "build $name ($dir)"
	if setup_dir "$dir" "$@" >"$LOGS/setup-$name.log" 2>&1 &&
		ninja -C "$dir" -j "$JOBS" >"$LOGS/build-$name.log" 2>&1; then
		tail -n 3 "$LOGS/build-$name.log"
		ok 1 "build $name"
		return 0
	fi
	tail -n 40 "$LOGS/setup-$name.log" "$LOGS/build-$name.log" 2>/dev/null >&2
	bad 1 "build $name"
	return 1
}

# unit NAME DIR — meson test, counted from its "Ok:/Fail:" summary.
unit() {
	local name=$1 dir=$2
	local log="$LOGS/unit-$name.log"
	stage "unit tests $name"
	timeout --kill-after=30 900 meson test -C "$dir" --print-errorlogs \
		--num-processes "$JOBS" >"$log" 2>&1
	local rc=$?
	grep -E '^ *[0-9]+/[0-9]+ ' "$log" | tail -n 60
	local okn failn
	okn=$(awk -F: '/^Ok:/ {gsub(/ /,"",$2); print $2}' "$log" | tail -n1)
	failn=$(awk -F: '/^(Fail|Timeout|Unexpected Pass):/ {gsub(/ /,"",$2); s+=$2} END {print s+0}' "$log")
	local skipn
	skipn=$(awk -F: '/^Skipped:/ {gsub(/ /,"",$2); print $2}' "$log" | tail -n1)
	SKIPPED=$((SKIPPED + ${skipn:-0}))
	if [ -z "$okn" ]; then
		tail -n 30 "$log" >&2
		bad 1 "unit $name (no meson test summary, exit $rc)"
		return
	fi
	[ "$okn" -gt 0 ] && ok "$okn" "unit $name"
	if [ "$failn" -gt 0 ]; then
		bad "$failn" "unit $name"
	elif [ "$rc" -ne 0 ]; then
		bad 1 "unit $name (meson test exit $rc)"
	elif [ "$okn" -eq 0 ]; then
		bad 1 "unit $name (no unit test ran)"
	fi
}

# integration NAME BINARY — pytest against the real binary, counted from
# its junit xml.
integration() {
	local name=$1 bin=$2
	local xml="$LOGS/integration-$name.xml"
	stage "integration tests $name ($bin)"
	if [ ! -x "$bin" ]; then
		bad 1 "integration $name (binary $bin missing)"
		return
	fi
	# Test files run on PYTEST_WORKERS processes (one per core), each file
	# whole on one worker, so a module's started services (PostgreSQL,
	# the Kubernetes stand-in, ports 80/443 for ACME) stay its own.
	TROVE_BIN="$ROOT/$bin" TROVE_TEST_LOGS="$LOGS/integration-$name" \
		timeout --kill-after=30 2400 "$PY" -m pytest tests/integration \
		-n "$PYTEST_WORKERS" --dist loadfile \
		-q -rfE -p no:cacheprovider --junitxml="$xml" -o junit_family=xunit2 \
		2>&1 | tee "$LOGS/integration-$name.log" | tail -n 80
	local rc=${PIPESTATUS[0]}
	local counts
	if ! counts=$("$PY" - "$xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
# A test whose call passed but whose teardown failed appears twice; a test
# counts as failed when any of its entries has a failure or an error.
state = {}
for tc in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    key = (tc.get("classname"), tc.get("name"))
    if tc.find("failure") is not None or tc.find("error") is not None:
        state[key] = "failed"
    elif tc.find("skipped") is not None:
        state.setdefault(key, "skipped")
    else:
        state.setdefault(key, "passed")
v = list(state.values())
print(v.count("passed"), v.count("failed"), v.count("skipped"))
EOF
	); then
		bad 1 "integration $name (no junit report, pytest exit $rc)"
		return
	fi
	local p fl s
	read -r p fl s <<<"$counts"
	SKIPPED=$((SKIPPED + s))
	[ "$p" -gt 0 ] && ok "$p" "integration $name"
	if [ "$fl" -gt 0 ]; then
		bad "$fl" "integration $name"
	elif [ "$rc" -ne 0 ]; then
		bad 1 "integration $name (pytest exit $rc)"
	elif [ "$p" -eq 0 ]; then
		bad 1 "integration $name (no test ran)"
	fi
}

# fuzz_start NAME — check one libFuzzer target and its seeds, then run it
# in the background on a scratch copy of its corpus; its exit status lands
# in $LOGS/fuzz-NAME/rc. Returns 1 (and counts the failure) when it cannot
# start.
fuzz_start() {
	local name=$1
	local bin="build-fuzz/tests/fuzz/fuzz_$name"
	local seeds="tests/fuzz/corpus/$name"
	local work="$LOGS/fuzz-$name"
	if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
		bad 1 "fuzz $name (seed corpus $seeds missing or empty)"
		return 1
	fi
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts"
	cp -r "$seeds/." "$work/corpus/"
	local dict=()
	[ -f "tests/fuzz/$name.dict" ] && dict=("-dict=tests/fuzz/$name.dict")
	(
		timeout --kill-after=10 $((FUZZ_SECONDS + 120)) "$bin" "${dict[@]}" \
			-max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="$work/artifacts/" \
			"$work/corpus" >"$work/fuzz.log" 2>&1
		echo $? >"$work/rc"
	) &
}

# fuzz_result NAME — count a finished target's run.
fuzz_result() {
	local name=$1
	local work="$LOGS/fuzz-$name"
	local rc
	rc=$(cat "$work/rc" 2>/dev/null || echo missing)
	stage "fuzz smoke $name (${FUZZ_SECONDS}s)"
	grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done )' "$work/fuzz.log" || true
	if [ "$rc" = 0 ]; then
		ok 1 "fuzz $name"
	else
		tail -n 40 "$work/fuzz.log" >&2
		ls -l "$work/artifacts" >&2 || true
		bad 1 "fuzz $name (exit $rc; artifacts in $work/artifacts)"
	fi
}

# fuzz_smoke TARGET... — runs the targets JOBS at a time (each is one
# process on one core), then counts them in order.
fuzz_smoke() {
	local t started=()
	for t in "$@"; do
		while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
			wait -n || true
		done
		fuzz_start "$t" && started+=("$t")
	done
	wait
	for t in "${started[@]}"; do
		fuzz_result "$t"
	done
}

# ---------------------------------------------------------------------------

stage "dependencies"
if ! bash scripts/deps.sh --test; then
	bad 1 "dependencies (see the ERROR lines above)"
	finish
fi
ok 1 "dependencies"

if build release build --buildtype=release -Dwerror=true -Dfuzz=false; then
	unit release build
fi

if build asan build-asan --buildtype=debugoptimized -Dwerror=true -Dfuzz=false \
	-Db_sanitize=address,undefined -Db_lundef=false; then
	unit asan build-asan
fi

integration asan build-asan/trove

if [ "${TROVE_TEST_SKIP_FUZZ:-0}" != 1 ]; then
	stage "build fuzz (build-fuzz, clang)"
	fuzz_targets=()
	for f in tests/fuzz/fuzz_*.c; do
		n=${f##*/fuzz_}
		fuzz_targets+=("${n%.c}")
	done
	if CC=clang setup_dir build-fuzz --buildtype=debugoptimized -Dwerror=true -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false >"$LOGS/setup-fuzz.log" 2>&1; then
		built=()
		ninja -C build-fuzz -j "$JOBS" >>"$LOGS/build-fuzz.log" 2>&1
		for t in "${fuzz_targets[@]}"; do
			if ninja -C build-fuzz -j "$JOBS" "tests/fuzz/fuzz_$t" >>"$LOGS/build-fuzz.log" 2>&1; then
				ok 1 "build fuzz_$t"
				built+=("$t")
			else
				tail -n 30 "$LOGS/build-fuzz.log" >&2
				bad 1 "build fuzz_$t"
			fi
		done
		stage "fuzz smoke: ${#built[@]} targets, $JOBS at a time"
		fuzz_smoke "${built[@]}"
	else
		tail -n 40 "$LOGS/setup-fuzz.log" >&2
		bad 1 "build fuzz (meson setup)"
	fi
fi

if [ "$(elapsed)" -lt "$BUDGET" ]; then
	integration release build/trove
else
	stage "integration tests release: skipped, $(elapsed)s used of a ${BUDGET}s budget"
fi

finish
