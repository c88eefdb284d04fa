"""deploy/cluster as an operator meets it: `up` (by the session fixture)
leaves every part running and healthy, the roles are the seed's, and a Slack
SDK talks to the load balancer."""
import os
import time

from slack_sdk import WebClient

PASSWORD = "drill password 1"


def test_status_after_up(cluster):
    print(f"drill: up took {cluster.up_seconds:.1f} s", flush=True)
    rows, code = cluster.status()
    assert code == 0, "\n".join(rows.values())
    expected = ([f"etcd{i}" for i in (1, 2, 3)] + [f"kafka{i}" for i in (1, 2, 3)] +
                [f"redis{i}" for i in (1, 2, 3)] + [f"sentinel{i}" for i in (1, 2, 3)] +
                [f"pg-{s}{i}" for s in ("auth", "user", "channel") for i in (1, 2, 3)] +
                ["mongo", "s3"] +
                [f"{s}{i}" for s in ("auth", "user", "channel", "message", "presence")
                 for i in (1, 2)] + ["gateway1", "gateway2", "lb"])
    assert sorted(rows) == sorted(expected)
    for name in expected:
        assert " up" in rows[name], rows[name]
    for svc in ("auth", "user", "channel"):
        assert "primary" in rows[f"pg-{svc}1"], rows[f"pg-{svc}1"]
        assert f"pg_{svc}2=sync" in rows[f"pg-{svc}1"], rows[f"pg-{svc}1"]
        assert f"pg_{svc}3=potential" in rows[f"pg-{svc}1"], rows[f"pg-{svc}1"]
        assert "standby" in rows[f"pg-{svc}2"] and "standby" in rows[f"pg-{svc}3"]
    assert "master" in rows["redis1"] and "slave" in rows["redis2"], rows["redis1"]
    for i in (1, 2):
        assert "registered" in rows[f"auth{i}"] and "not registered" not in rows[f"auth{i}"]


def test_slack_sdk_through_the_load_balancer(cluster):
    j = cluster.api("auth.signup", email="sdk@drill.example", password=PASSWORD,
                    real_name="SDK user")
    assert j["ok"], j
    client = WebClient(token=j["token"], base_url=cluster.url + "/api/")
    assert client.auth_test()["ok"]
    ch = client.conversations_create(name="drill-sdk")["channel"]["id"]
    posted = client.chat_postMessage(channel=ch, text="hello through HAProxy")
    assert posted["ok"]
    hist = client.conversations_history(channel=ch)
    assert [m["text"] for m in hist["messages"]][0] == "hello through HAProxy"
    # The same call lands on either gateway: both answer it.
    for _ in range(4):
        assert client.conversations_info(channel=ch)["channel"]["name"] == "drill-sdk"


def test_logs_in_one_folder(cluster):
    r = cluster.run("logs")
    files = {os.path.basename(p) for p in r.stdout.split()}
    for name in ("gateway1.log", "auth1.log", "lb.log", "pg-auth1.log", "kafka1.log",
                 "etcd1.log", "redis1.log", "mongo.log", "s3.log"):
        assert name in files, sorted(files)


def redis_primary(cluster):
    rows, _ = cluster.status()
    masters = [n for n in ("redis1", "redis2", "redis3") if " master " in rows[n]]
    return masters[0] if len(masters) == 1 else None


def test_failover_redis(cluster):
    """`failover redis` asks Sentinel to promote a replica: another server is
    the primary afterwards, and presence still answers through the cluster."""
    before = redis_primary(cluster)
    assert before, "no single Redis primary"
    r = cluster.run("failover", "redis")
    assert "the primary is" in r.stderr, r.stderr
    deadline = time.monotonic() + 30
    while redis_primary(cluster) in (before, None):
        assert time.monotonic() < deadline, f"{before} is still the primary 30 s later"
        time.sleep(0.5)
    j = cluster.api("auth.signup", email="presence@drill.example", password=PASSWORD)
    assert cluster.api("users.setPresence", j["token"], presence="away")["ok"]
    got = cluster.api("users.getPresence", j["token"])
    assert got["ok"] and got["presence"] == "away", got
