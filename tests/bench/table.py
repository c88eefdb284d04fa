#!/usr/bin/env python3
"""tests/bench/table.py - the performance table of docs/performance.md.

Runs chat_loadgen's workloads one after another, each against a fresh chatd
(through run.sh, which also reports the server's CPU time and RSS) or against
a running deployment (--url: only the load generator's own figures, since the
servers are elsewhere), and prints one Markdown table: rate, latency, the
server's CPU and the load generator's CPU side by side, so a figure limited by
the client shows as such.

    tests/bench/table.py build/plain/servers/chatd
    tests/bench/table.py --url http://127.0.0.1:8080 --loadgen build/plain/tests/bench/chat_loadgen
    tests/bench/table.py CHATD --only durable,fanout
    tests/bench/table.py CHATD --only history --history-size 10000000

--history-size N reads a channel of N messages that bench_history_fill
imports into a data directory before chatd starts (--history-dir, kept and
reused while it holds N messages) instead of posting 20,000 over HTTP.

Benchmarks print figures; nothing here passes or fails on a number.
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (what it measures, chat_loadgen arguments)
WORKLOADS = [
    ("durable", "durable sends: 8 closed-loop HTTP senders, 10 listeners",
     ["-n", "10", "-m", "8", "-r", "0", "-d", "10", "--http"]),
    ("latency200", "send->deliver at 200 msgs/s, 100 listeners",
     ["-n", "100", "-m", "4", "-r", "200", "-d", "10", "--http"]),
    ("latency1000", "send->deliver at 1,000 msgs/s, 1,000 listeners",
     ["-n", "1000", "-m", "8", "-r", "1000", "-d", "10", "--http"]),
    ("fanout", "fan-out: 1,000 listeners, 8 closed-loop HTTP senders",
     ["-n", "1000", "-m", "8", "-r", "0", "-d", "10", "--http"]),
    ("idle", "10,000 WebSockets, each its own new user (then 10 msgs/s)",
     ["-n", "10000", "-m", "1", "-r", "10", "-d", "3", "--setup-threads", "32"]),
    ("history", "history: pages of 50, latest and from the middle of 20,000, 4 readers",
     ["-n", "1", "-m", "4", "-d", "10", "--history", "20000"]),
]


def grab(pattern, text, cast=float, default=None):
    m = re.search(pattern, text, re.M)
    return cast(m.group(1)) if m else default


def history_data(args):
    """The history.json of a prebuilt channel of args.history_size messages."""
    d = args.history_dir or os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                         f"chat-history-{args.history_size}")
    path = os.path.join(d, "history.json")
    if os.path.exists(path):
        with open(path) as f:
            if json.load(f).get("messages") == args.history_size:
                return d, path
        sys.exit(f"table.py: {d} holds another channel; remove it or give --history-dir")
    fill = args.fill or os.path.join(os.path.dirname(args.loadgen or os.path.join(
        os.path.dirname(args.chatd), "..", "tests", "bench", "chat_loadgen")), "bench_history_fill")
    subprocess.run([fill, "--data", d, "-n", str(args.history_size)], check=True,
                   stdout=sys.stderr if args.verbose else subprocess.DEVNULL)
    return d, path


def run(args, workload):
    env = None
    if workload and workload[-1] == "@history-data":
        d, path = history_data(args)
        workload = workload[:-1] + ["--history-data", path]
        env = dict(os.environ, BENCH_DATA=d)
    if args.url:
        cmd = [args.loadgen, "--url", args.url, "-q"] + workload
    else:
        cmd = ["sh", os.path.join(HERE, "run.sh"), args.chatd]
        if args.loadgen:
            cmd += ["--loadgen", args.loadgen]
        cmd += ["-q"] + workload
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    out = p.stdout + p.stderr
    if args.verbose:
        sys.stderr.write(out)
    r = {
        "rc": p.returncode,
        "msgs": grab(r"accepted_per_s=([\d.]+)", out),
        "deliv": grab(r"deliveries_per_s=([\d.]+)", out),
        "p50": grab(r" p50_ms=([\d.]+)", out),
        "p99": grab(r" p99_ms=([\d.]+)", out),
        "errors": grab(r" errors=(\d+)", out, int, 0),
        "missing": grab(r" missing=(\d+)", out, int, 0),
        "dups": grab(r" dups=(\d+)", out, int, 0),
        "accepted": grab(r" accepted=(\d+)", out, int, 0),
        "lg_cpu": grab(r"^loadgen: ([\d.]+) CPU s", out),
        "srv_cpu": grab(r"^server pid \d+: ([\d.]+) CPU s", out),
        "rss_before": grab(r"RSS ([\d.]+) MiB before", out),
        "rss_peak": grab(r"peak ([\d.]+) MiB during", out),
        "connect_s": grab(r"WebSockets connected in ([\d.]+) s", out),
        "n": grab(r"^RESULT n=(\d+)", out, int, 0),
        "switches": grab(r"^chatd context switches: (\d+)", out, int),
        "pages": grab(r"pages_per_s=([\d.]+)", out),
        "fill": grab(r"^history: \d+ messages posted in [\d.]+ s \(([\d.]+)/s\)", out),
        "latest_p99": grab(r" latest_p99_ms=([\d.]+)", out),
        "middle_p99": grab(r" middle_p99_ms=([\d.]+)", out),
    }
    return r


def fmt(v, spec="{:,.0f}"):
    return "-" if v is None else spec.format(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("chatd", nargs="?", help="a built chatd (started fresh per workload)")
    ap.add_argument("--url", help="a running deployment instead of chatd")
    ap.add_argument("--loadgen", help="chat_loadgen (default: beside chatd's build)")
    ap.add_argument("--only", help="comma-separated workload names")
    ap.add_argument("--history-size", type=int,
                    help="the history row on a prebuilt channel of this many messages")
    ap.add_argument("--history-dir", help="where to build and keep it")
    ap.add_argument("--fill", help="bench_history_fill (default: beside chat_loadgen)")
    ap.add_argument("-v", "--verbose", action="store_true", help="show chat_loadgen's output")
    args = ap.parse_args()
    if not args.url and not args.chatd:
        ap.error("give a chatd or --url")
    if args.url and not args.loadgen:
        ap.error("--url needs --loadgen")
    want = set(args.only.split(",")) if args.only else None
    print("| workload | msgs/s | deliveries/s | p50 ms | p99 ms | server CPU s (per msg) "
          "| loadgen CPU s | server RSS MiB | notes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, what, workload in WORKLOADS:
        if want and name not in want:
            continue
        if name == "history" and args.history_size:
            what = (f"history: pages of 50, latest and from the middle of "
                    f"{args.history_size:,} (imported), 4 readers")
            workload = ["-n", "1", "-m", "4", "-d", "10", "@history-data"]
        r = run(args, workload)
        per = None
        if r["srv_cpu"] is not None and r["accepted"] and r["pages"] is None:
            per = r["srv_cpu"] / r["accepted"] * 1000
        notes = []
        if r["connect_s"] is not None and name == "idle":
            notes.append(f"{r['n']:,} connected in {r['connect_s']:.2f} s")
            if r["rss_peak"] is not None and r["rss_before"] is not None and r["n"]:
                notes.append(f"RSS {r['rss_peak']:.0f} MiB with them")
        if r["switches"] is not None and r["accepted"] and r["pages"] is None:
            notes.append(f"{r['switches'] / r['accepted']:.1f} context switches/msg")
        if r["pages"] is not None:
            notes.append(f"{r['pages']:,.0f} pages/s")
            if r["fill"] is not None:
                notes.append(f"filled at {r['fill']:,.0f} msgs/s")
            if r["latest_p99"] is not None:
                notes.append(f"p99 latest {r['latest_p99']:.2f} ms, middle {r['middle_p99']:.2f} ms")
        if r["errors"] or r["missing"] or r["dups"] or r["rc"]:
            notes.append(f"errors {r['errors']}, missing {r['missing']}, dups {r['dups']}, "
                         f"exit {r['rc']}")
        cpu = fmt(r["srv_cpu"], "{:.2f}")
        if per is not None:
            cpu += f" ({per:.3f} ms)"
        print(f"| {what} | {fmt(r['msgs'])} | {fmt(r['deliv'])} | {fmt(r['p50'], '{:.1f}')} "
              f"| {fmt(r['p99'], '{:.1f}')} | {cpu} | {fmt(r['lg_cpu'], '{:.2f}')} "
              f"| {fmt(r['rss_peak'], '{:.0f}')} | {'; '.join(notes)} |", flush=True)


if __name__ == "__main__":
    main()
