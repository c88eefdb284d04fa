#!/bin/sh
# run.sh CHATD [--loadgen PATH] [chat_loadgen options...]
#
# Starts CHATD (a built chatd) on a fresh data directory and a free port, with
# cheap password hashing and no rate limits, runs chat_loadgen against it with
# the options given (e.g. -n 1000 -m 4 -r 1000 -d 10), samples the server's
# VmRSS from /proc while it runs, prints the figures and the peak, and stops
# the server. Builds nothing. Exits with chat_loadgen's status.
#
#   chat_loadgen is taken from --loadgen, else $LOADGEN, else next to the
#   build tree of CHATD (BUILD/servers/chatd -> BUILD/tests/bench/), else PATH.
#   Extra chatd flags can be given in $CHATD_ARGS (e.g. "--set store.x=y").
#   $BENCH_KEEP=1 keeps the data directory and the server log.
#   $BENCH_DATA=DIR runs chatd on DIR (e.g. what bench_history_fill built)
#   instead of a fresh directory, and leaves it there.
set -eu

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 CHATD [--loadgen PATH] [chat_loadgen options...]" >&2
    exit 2
fi
chatd=$1
shift
loadgen=${LOADGEN:-}
if [ $# -ge 2 ] && [ "$1" = "--loadgen" ]; then
    loadgen=$2
    shift 2
fi
if [ -z "$loadgen" ]; then
    guess=$(dirname "$chatd")/../tests/bench/chat_loadgen
    if [ -x "$guess" ]; then
        loadgen=$guess
    else
        loadgen=$(command -v chat_loadgen || true)
    fi
fi
if [ -z "$loadgen" ] || [ ! -x "$loadgen" ]; then
    echo "run.sh: chat_loadgen not found (use --loadgen PATH)" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chat-bench.XXXXXX")
pid=
sampler=
cleanup() {
    if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null || true; fi
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "run.sh: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free port: try random ones until chatd says it is listening.
port=
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 ))
    data=${BENCH_DATA:-$tmp/data}
    if [ -z "${BENCH_DATA:-}" ]; then
        rm -rf "$tmp/data"
        mkdir -p "$tmp/data"
    fi
    # shellcheck disable=SC2086
    "$chatd" --data "$data" --listen "http://127.0.0.1:$p" \
        --set argon2.m_cost_kib=64 --set argon2.t_cost=1 \
        --set ratelimit.per_sec=1000000 --set ratelimit.burst=1000000 \
        ${CHATD_ARGS:-} >"$tmp/chatd.log" 2>&1 &
    pid=$!
    i=0
    while [ $i -lt 100 ]; do
        if grep -q "listening on" "$tmp/chatd.log" 2>/dev/null; then
            port=$p
            break
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$port" ] && break
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
done
if [ -z "$port" ]; then
    echo "run.sh: chatd did not start:" >&2
    cat "$tmp/chatd.log" >&2
    exit 1
fi
echo "run.sh: $(head -1 "$tmp/chatd.log") (pid $pid)"

# Peak VmRSS, sampled every 100 ms into a file (the loop runs in a subshell).
echo 0 >"$tmp/rss.peak"
(
    peak=0
    while [ -r "/proc/$pid/status" ]; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        if [ -n "$rss" ] && [ "$rss" -gt "$peak" ]; then
            peak=$rss
            echo "$peak" >"$tmp/rss.peak"
        fi
        sleep 0.1
    done
) &
sampler=$!

# Context switches of all chatd's threads: lock waits and hand-offs show up
# here even when a busy machine hides them in the throughput.
switches() {
    cat /proc/"$pid"/task/*/status 2>/dev/null |
        awk '/^(non)?voluntary_ctxt_switches:/ {n += $2} END {print n + 0}'
}
cs0=$(switches)
rc=0
"$loadgen" --url "http://127.0.0.1:$port" --server-pid "$pid" "$@" || rc=$?
cs1=$(switches)
echo "chatd context switches: $((cs1 - cs0))"

rss_end=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=
peak=$(cat "$tmp/rss.peak")
echo "chatd RSS: peak $((peak / 1024)) MiB ($peak kB), $((rss_end / 1024)) MiB at the end"

kill -TERM "$pid" 2>/dev/null || true
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
if kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: chatd did not stop on SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    rc=1
fi
wait "$pid" 2>/dev/null || true
pid=
if grep -qi "error\|assert\|sanitizer" "$tmp/chatd.log"; then
    echo "run.sh: chatd log:" >&2
    tail -20 "$tmp/chatd.log" >&2
fi
exit $rc
