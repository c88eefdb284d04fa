#!/usr/bin/env bash
# The test command: installs what is missing, builds libchat twice (plain, and
# with AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test in
# both builds. Usage: scripts/test.sh [ctest args...]
# Build trees go to $CHAT_BUILD_DIR (default: build/ in the checkout).
#
# A test that fails is run once more before it counts (ctest --repeat
# until-pass:2); a test that fails twice fails the run. Retries are not
# silent: after each suite, and again at the very end, the script lists every
# test that ran more than once, e.g.
#   retried: e2e_web (2 attempts) in asan, then passed
# and the run's last line says how many needed one ("0 tests needed a retry"
# when none did). The counts come from ctest's Testing/Temporary/LastTest.log,
# which has one entry per attempt. A suite whose tests fail stops the run
# with ctest's exit status (the asan suite does not run after a failed plain
# one), after the summary.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${CHAT_BUILD_DIR:-$here/build}
jobs=$(nproc)

"$here/scripts/deps.sh"

# The tests that ran more than once in the ctest run that wrote the log $1, in
# the order they first started: "name<TAB>attempts<TAB>passed|failed" lines.
# Each attempt's entry starts with "i/n Testing: name" and ends with a
# "Test Passed." or "Test Failed." line; the test's own output, from "Output:"
# to the "<end of output>" line that "Test time = ..." follows, is skipped,
# whatever it prints.
retried_tests() {
  awk '
    out == 2 && /^Test time = / { out = 0; next }
    out { out = ($0 == "<end of output>") ? 2 : 1; next }
    /^Output:$/ { out = 1; next }
    match($0, /^[0-9]+\/[0-9]+ Testing: /) {
      name = substr($0, RLENGTH + 1)
      if (!(name in runs)) order[++k] = name
      runs[name]++
      passed[name] = 0
      next
    }
    /^Test Passed\.$/ { passed[name] = 1 }
    END {
      for (i = 1; i <= k; i++)
        if (runs[order[i]] > 1)
          printf "%s\t%d\t%s\n", order[i], runs[order[i]],
                 passed[order[i]] ? "passed" : "failed"
    }' "$1"
}

retried=()      # "retried: ..." lines of the suites run so far
suites_run=()
ctest_rc=0

# Builds in $2 with the cmake arguments after it, runs the tests and reports
# their retries as suite $1. ctest's exit status is left in ctest_rc.
run_suite() {
  local suite=$1 dir=$2; shift 2
  cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  # A test that fails is run once more before it counts: the suite starts real
  # servers and browsers on two shared cores, where a one-off stall is not a
  # defect of the code; a test that fails twice in a row fails the run.
  local log=$dir/Testing/Temporary/LastTest.log
  rm -f "$log"
  ctest_rc=0
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --repeat until-pass:2 \
     "${SUITE_CTEST_ARGS[@]}" "${CTEST_ARGS[@]}") ||
    ctest_rc=$?
  suites_run+=("$suite")
  local lines=() name attempts result
  if [[ -f $log ]]; then
    while IFS=$'\t' read -r name attempts result; do
      if [[ $result == passed ]]; then result="then passed"; else result="failed every time"; fi
      lines+=("retried: $name ($attempts attempts) in $suite, $result")
    done < <(retried_tests "$log")
  else
    echo "warning: no $log: retries in $suite are unknown" >&2
  fi
  echo "== retries in $suite: ${#lines[@]} =="
  if ((${#lines[@]})); then
    printf '%s\n' "${lines[@]}"
    retried+=("${lines[@]}")
  fi
}

# The summary of the whole run, last; exits with status $1.
finish() {
  echo "== retries in this run (suites run: ${suites_run[*]}) =="
  if ((${#retried[@]})); then printf '%s\n' "${retried[@]}"; fi
  local n=${#retried[@]}
  echo "$n $( ((n == 1)) && echo test || echo tests) needed a retry"
  exit "$1"
}

CTEST_ARGS=("$@")
SUITE_CTEST_ARGS=()
echo "== build and test =="
run_suite plain "$build/plain"
((ctest_rc == 0)) || finish "$ctest_rc"
echo "== build and test under ASan + UBSan =="
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The topology suite (e2e_topology: two of every server on every real
# backend, under load), the failure drills (drill_cluster: the whole cluster
# of deploy/cluster) and the other "heavy" tests (a 3-broker Kafka under a
# broker's death, a contract suite run again with other URL options) run in
# the plain build only: they measure failover times, which sanitizers on two
# cores would only blur, take minutes, and run C code that lighter tests run
# under the sanitizers.
SUITE_CTEST_ARGS=(-LE "topology|drill|heavy")
run_suite asan "$build/asan" -DCHAT_SANITIZE=ON
finish "$ctest_rc"
