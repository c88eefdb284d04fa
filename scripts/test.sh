#!/usr/bin/env bash
# The test command: installs what is missing, builds libchat twice (plain, and
# with AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test in
# both builds. Usage: scripts/test.sh [ctest args...]
# Build trees go to $CHAT_BUILD_DIR (default: build/ in the checkout).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${CHAT_BUILD_DIR:-$here/build}
jobs=$(nproc)

"$here/scripts/deps.sh"

run_suite() {
  local dir=$1; shift
  cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" "${CTEST_ARGS[@]}")
}

CTEST_ARGS=("$@")
echo "== build and test =="
run_suite "$build/plain"
echo "== build and test under ASan + UBSan =="
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite "$build/asan" -DCHAT_SANITIZE=ON
