#!/bin/bash
# services.sh BINDIR [--ipc] [--loadgen PATH] [chat_loadgen options...]
#
# The distributed servers on one machine, on the embedded stores: chat-authd,
# chat-userd, chat-channeld, chat-messaged, chat-presenced and one
# chat-gateway from BINDIR (e.g. build/rel/servers), each service on its own
# SQLite files, events through the SQLite broker, addresses listed in the
# configuration (tcp:// on free ports, or ipc:// sockets with --ipc). Runs
# chat_loadgen against the gateway with the options given (e.g. -n 10 -m 8
# --http -d 10), then prints each process's CPU time and context switches,
# per message accepted, and stops everything. Builds nothing; cheap password
# hashing and no rate limits, as run.sh.
#
#   chat_loadgen: --loadgen PATH, else $LOADGEN, else BINDIR/../tests/bench/.
#   $BENCH_KEEP=1 keeps the data directory and the logs.
set -eu

if [ $# -lt 1 ] || [ ! -x "$1/chat-gateway" ]; then
    echo "usage: $0 BINDIR [--ipc] [--loadgen PATH] [chat_loadgen options...]" >&2
    exit 2
fi
bindir=$1
shift
ipc=0
loadgen=${LOADGEN:-$bindir/../tests/bench/chat_loadgen}
while [ $# -gt 0 ]; do
    case $1 in
    --ipc) ipc=1; shift ;;
    --loadgen) loadgen=$2; shift 2 ;;
    *) break ;;
    esac
done
[ -x "$loadgen" ] || { echo "services.sh: no chat_loadgen at $loadgen (--loadgen PATH)" >&2; exit 2; }

services="auth user channel message presence"
dir=$(mktemp -d "${TMPDIR:-/tmp}/chat-services.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "services.sh: kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
gw_port=$(free_port)
declare -A addr
for s in $services; do
    if [ $ipc = 1 ]; then addr[$s]="ipc://$dir/$s.sock"; else addr[$s]="tcp://127.0.0.1:$(free_port)"; fi
done
{
    echo "data_dir = $dir"
    echo "broker = sqlite:$dir/events.db"
    echo "jwt.secret = services-bench-secret-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
    echo "gateway.public_url = http://127.0.0.1:$gw_port"
    for s in $services; do echo "rpc.$s = ${addr[$s]}"; done
    echo "ratelimit.per_sec = 1000000"
    echo "ratelimit.burst = 1000000"
    echo "argon2.m_cost_kib = 64"
    echo "argon2.t_cost = 1"
} >"$dir/chat.conf"

names=()
for s in $services; do
    "$bindir/chat-${s}d" --config "$dir/chat.conf" --listen "${addr[$s]}" >"$dir/$s.log" 2>&1 &
    pids+=($!)
    names+=("chat-${s}d")
done
"$bindir/chat-gateway" --config "$dir/chat.conf" --listen "http://127.0.0.1:$gw_port" \
    >"$dir/gateway.log" 2>&1 &
pids+=($!)
names+=(chat-gateway)
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$gw_port/api/api.test" && break
    sleep 0.1
done

# CPU ticks (utime + stime) and context switches of every thread, per process.
sample() {
    for p in "${pids[@]}"; do
        read -ra f <"/proc/$p/stat"
        cs=$(cat /proc/"$p"/task/*/status 2>/dev/null |
            awk '/^(non)?voluntary_ctxt_switches:/ {n += $2} END {print n + 0}')
        echo "$((f[13] + f[14])) $cs"
    done
}
mapfile -t before < <(sample)
rc=0
"$loadgen" --url "http://127.0.0.1:$gw_port" "$@" | tee "$dir/loadgen.out" || rc=$?
mapfile -t after < <(sample)

accepted=$(sed -n 's/^RESULT .* accepted=\([0-9]*\) .*/\1/p' "$dir/loadgen.out")
accepted=${accepted:-0}
hz=$(getconf CLK_TCK)
echo "per process ($([ $ipc = 1 ] && echo ipc || echo tcp)), $accepted messages accepted:"
total=0
totcs=0
for i in "${!pids[@]}"; do
    read -r t0 c0 <<<"${before[$i]}"
    read -r t1 c1 <<<"${after[$i]}"
    dt=$((t1 - t0))
    dc=$((c1 - c0))
    total=$((total + dt))
    totcs=$((totcs + dc))
    awk -v n="${names[$i]}" -v t="$dt" -v c="$dc" -v a="$accepted" -v hz="$hz" 'BEGIN {
        printf "  %-15s %7.2f CPU s  %6.3f ms/msg  %5.1f switches/msg\n", n, t / hz,
               a ? 1000 * t / hz / a : 0, a ? c / a : 0 }'
done
awk -v t="$total" -v c="$totcs" -v a="$accepted" -v hz="$hz" 'BEGIN {
    printf "  %-15s %7.2f CPU s  %6.3f ms/msg  %5.1f switches/msg\n", "all", t / hz,
           a ? 1000 * t / hz / a : 0, a ? c / a : 0 }'
exit $rc
