"""Failure drills (issue 12): under a steady load from chat_loadgen --drill
(senders posting through HAProxy with a client_msg_id, resent until
acknowledged, and WebSocket listeners that reconnect), one part of the
cluster is killed with kill -9 (a PostgreSQL primary is then failed over),
started again after the load, and the drill asserts:

- every acknowledged message is stored, once (lost = 0, stored twice = 0);
- no listener got one message twice over its socket (duplicated = 0);
- each listener's unread count is exact once things settle;

and prints the client-visible error window (from the first failed request
or dropped socket to the last recovery) as a "drill:" line and a row of the
table that docs/drills.md keeps (CHAT_DRILL_TABLE=FILE writes it there)."""
import collections
import json
import os
import platform
import subprocess
import tempfile
import time

import pytest

LOAD_SECONDS = 12
KILL_AT = 4
RESULTS = []


def pg_role(cluster, svc, role):
    with open(os.path.join(cluster.root, "cluster.json")) as f:
        return json.load(f)["pg"][svc][role]


def redis_primary(cluster):
    rows, _ = cluster.status()
    return next(n for n in ("redis1", "redis2", "redis3") if " master " in rows[n])


# (scenario, what to kill, what to do right after). Names are resolved when
# the drill runs: after the failover another server is the primary.
SCENARIOS = [
    ("gateway", lambda c: "gateway1", None),
    ("auth service (1 of 2)", lambda c: "auth1", None),
    ("user service (1 of 2)", lambda c: "user1", None),
    ("channel service (1 of 2)", lambda c: "channel1", None),
    ("message service (1 of 2)", lambda c: "message1", None),
    ("presence service (1 of 2)", lambda c: "presence1", None),
    ("PostgreSQL synchronous standby (user)", lambda c: pg_role(c, "user", "sync"), None),
    ("PostgreSQL asynchronous standby (user)", lambda c: pg_role(c, "user", "async"), None),
    ("PostgreSQL primary (user), then failover", lambda c: pg_role(c, "user", "primary"),
     ("failover", "pg-user")),
    ("Redis primary (Sentinel fails over)", lambda c: redis_primary(c), None),
    ("Kafka broker (1 of 3)", lambda c: "kafka2", None),
    ("etcd member (1 of 3)", lambda c: "etcd1", None),
]


def history(cluster, token, channel):
    out, cursor = [], None
    while True:
        args = {"channel": channel, "limit": 200}
        if cursor:
            args["cursor"] = cursor
        j = cluster.api("conversations.history", token, **args)
        assert j.get("ok"), j
        out += j["messages"]
        cursor = (j.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return out


def settle_unread(cluster, report, msgs, timeout=20):
    """Seconds until every listener's unread count is exact; None if never."""
    expected = {}
    for r in report["receivers"]:
        me = cluster.api("auth.test", r["token"])["user_id"]
        expected[r["token"]] = sum(1 for m in msgs if m.get("user") != me and
                                   m.get("text", "").startswith("lg:"))
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        got = {tok: cluster.api("conversations.info", tok, channel=report["channel"])
               .get("channel", {}).get("unread_count") for tok in expected}
        if got == expected:
            return time.monotonic() - t0
        time.sleep(0.25)
    return None


@pytest.mark.parametrize("label,victim,then", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_drill(cluster, label, victim, then):
    loadgen = os.environ["CHAT_LOADGEN"]
    name = victim(cluster)
    report_path = tempfile.mktemp(prefix="drill-", suffix=".json")
    lg = subprocess.Popen([loadgen, "--url", cluster.url, "-n", "4", "-m", "8", "-r", "30",
                           "-d", str(LOAD_SECONDS), "--drill", "--report", report_path,
                           "--quiet", "--setup-threads", "4"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(KILL_AT)
        cluster.run("kill", name)
        if then:
            cluster.run(*then)
        out, _ = lg.communicate(timeout=LOAD_SECONDS + 120)
    finally:
        if lg.poll() is None:
            lg.kill()
    cluster.run("start", name)
    assert lg.returncode == 0, out
    with open(report_path) as f:
        report = json.load(f)
    os.unlink(report_path)
    token = report["receivers"][0]["token"]
    msgs = history(cluster, token, report["channel"])
    stored = collections.Counter()
    for m in msgs:
        text = m.get("text", "")
        if text.startswith("lg:"):
            stored[int(text.split(":")[1])] += 1
    acked = report["acked_ids"]
    lost = [i for i in acked if stored[i] == 0]
    twice = [i for i in acked if stored[i] > 1]
    settled = settle_unread(cluster, report, msgs)
    row = {"scenario": label, "killed": name, "window": report["error_window_s"],
           "errors": report["errors"], "acked": len(acked), "lost": len(lost),
           "stored_twice": len(twice), "duplicated": report["duplicates"],
           "unread": "exact" if settled is not None else "wrong",
           "settle": settled, "reconnects": report["reconnects"],
           "ack_p50": report["ack_p50_ms"], "ack_max": report["ack_max_ms"],
           "first_error": report["first_error"]}
    RESULTS.append(row)
    print(f"drill: {label}: killed {name}; error window {row['window']:.2f} s "
          f"({row['errors']} errors{'; first: ' + row['first_error'][:120] if row['errors'] else ''}); "
          f"acknowledged {row['acked']}, lost {row['lost']}, stored twice {row['stored_twice']}, "
          f"duplicated {row['duplicated']}; unread {row['unread']}"
          f"{f' {settled:.1f} s after the load' if settled is not None else ''}; "
          f"reconnects {row['reconnects']}; post acknowledged in p50 {row['ack_p50']:.0f} ms, "
          f"slowest {row['ack_max'] / 1000:.1f} s", flush=True)
    assert report["refused"] == 0, report["first_error"]
    assert len(acked) > 10, "the load did not run"
    assert not lost, f"acknowledged but not stored: {lost[:20]}"
    assert not twice, f"stored twice: {twice[:20]}"
    assert report["duplicates"] == 0
    assert settled is not None, "unread counts not exact 20 s after the load"


def teardown_module():
    if not RESULTS:
        return
    lines = [f"Run on {time.strftime('%Y-%m-%d')}, {platform.node() or 'this machine'}: "
             f"{os.cpu_count()} cores, {platform.system()} {platform.release()}; load: "
             "8 senders (30 posts/s at most in all), 4 WebSocket listeners, through HAProxy; "
             f"kill -9 at {KILL_AT} s of {LOAD_SECONDS} s.", "",
             "| scenario | killed | error window (s) | errors | acknowledged | lost "
             "| duplicated | unread counts | slowest post (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in RESULTS:
        lines.append(f"| {r['scenario']} | {r['killed']} | {r['window']:.2f} | {r['errors']} "
                     f"| {r['acked']} | {r['lost']} | {r['duplicated'] + r['stored_twice']} "
                     f"| {r['unread']} | {r['ack_max'] / 1000:.1f} |")
    table = "\n".join(lines)
    print("\n" + table, flush=True)
    if os.environ.get("CHAT_DRILL_TABLE"):
        with open(os.environ["CHAT_DRILL_TABLE"], "w") as f:
            f.write(table + "\n")
