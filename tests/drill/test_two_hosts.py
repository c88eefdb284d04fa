"""Two hosts on one machine (issue 12, point 4): a second "host" on the
loopback address 127.0.0.2 runs one instance of every service and a gateway
from the same binaries, with its own configuration file and data directory,
found through the cluster's etcd. Then every libchat process of the first
host (127.0.0.1) is killed, and the second serves everything alone, the
first host's messages included: nothing depends on sharing a machine, an
address or a data directory."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

SERVICES = ("auth", "user", "channel", "message", "presence")
HOST_B = "127.0.0.2"
FIRST_HOST = [f"{s}{i}" for s in SERVICES for i in (1, 2)] + ["gateway1", "gateway2"]


def free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def call(base, method, token=None, **args):
    req = urllib.request.Request(f"{base}/api/{method}", json.dumps(args).encode(),
                                 {"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=15) as r:
        return json.loads(r.read())


def wait(pred, what, timeout=30):
    t = time.monotonic()
    while not pred():
        assert time.monotonic() - t < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - t


def test_second_host_serves_alone(cluster, tmp_path):
    bindir = os.environ["CHAT_BINDIR"]
    conf_a = os.path.join(cluster.root, "chat.conf")
    gw_port = free_port(HOST_B)
    base_b = f"http://{HOST_B}:{gw_port}"
    # Host B's own file: the same settings but its own data directory.
    data_b = tmp_path / "host-b-data"
    data_b.mkdir()
    with open(conf_a) as f:
        lines = [ln for ln in f if not ln.startswith(("data_dir", "gateway.public_url"))]
    conf_b = tmp_path / "chat.conf"
    conf_b.write_text("".join(lines) + f"data_dir = {data_b}\ngateway.public_url = {base_b}\n")

    procs = []
    try:
        for svc in SERVICES:
            port = free_port(HOST_B)
            procs.append(subprocess.Popen(
                [os.path.join(bindir, f"chat-{svc}d"), "--config", str(conf_b),
                 "--listen", f"tcp://{HOST_B}:{port}"],
                stdout=open(tmp_path / f"{svc}.log", "wb"), stderr=subprocess.STDOUT,
                start_new_session=True))
        procs.append(subprocess.Popen(
            [os.path.join(bindir, "chat-gateway"), "--config", str(conf_b), "--listen", base_b],
            stdout=open(tmp_path / "gateway.log", "wb"), stderr=subprocess.STDOUT,
            start_new_session=True))

        def healthy():
            try:
                with urllib.request.urlopen(base_b + "/health?services=1", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        wait(healthy, "host B's gateway healthy")

        # Traffic through host A (the load balancer) while both hosts run.
        j = call(cluster.url, "auth.signup", email="two-hosts@drill.example",
                 password="two hosts password", real_name="Two Hosts")
        token = j["token"]
        ch = call(cluster.url, "conversations.create", token, name="two-hosts")["channel"]["id"]
        for i in range(5):
            assert call(cluster.url, "chat.postMessage", token, channel=ch, text=f"via A {i}")["ok"]

        # Host A is lost: every libchat process on it, at once.
        t_kill = time.monotonic()
        for name in FIRST_HOST:
            cluster.run("kill", name)
        # Host B alone: it reads A's messages, takes posts, and signs in.
        took = wait(lambda: call(base_b, "conversations.history", token, channel=ch).get("ok"),
                    "host B answers alone")
        hist = call(base_b, "conversations.history", token, channel=ch)
        assert sorted(m["text"] for m in hist["messages"] if m["text"].startswith("via A")) == \
            [f"via A {i}" for i in range(5)]
        assert call(base_b, "chat.postMessage", token, channel=ch, text="via B")["ok"]
        j2 = call(base_b, "auth.login", email="two-hosts@drill.example",
                  password="two hosts password")
        assert j2["ok"], j2
        hist = call(base_b, "conversations.history", j2["token"], channel=ch)
        assert hist["messages"][0]["text"] == "via B"
        print(f"drill: two hosts: host B served alone {took * 1000:.0f} ms after host A's "
              f"{len(FIRST_HOST)} libchat processes were killed "
              f"({time.monotonic() - t_kill:.1f} s for the whole check)", flush=True)
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        for name in FIRST_HOST:
            cluster.run("start", name, check=False)
