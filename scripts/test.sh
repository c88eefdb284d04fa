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
  # A test that fails is run once more before it counts: the suite starts real
  # servers and browsers on two shared cores, where a one-off stall is not a
  # defect of the code; a test that fails twice in a row fails the run.
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --repeat until-pass:2 "${CTEST_ARGS[@]}")
}

CTEST_ARGS=("$@")
echo "== build and test =="
run_suite "$build/plain"
echo "== build and test under ASan + UBSan =="
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite "$build/asan" -DCHAT_SANITIZE=ON
