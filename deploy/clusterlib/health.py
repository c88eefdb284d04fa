"""What `status` shows of each part: whether it runs and what it says of
its own health and role. Every check is bounded (at most ~2 s) and they run
in parallel."""
import base64
import json
import subprocess
import threading
import urllib.request

from . import procs, tier


def http_json(url, body=None, timeout=2):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read() or b"null")


def run(argv, timeout=5):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return r.stdout.strip() if r.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def registered(state):
    """{address: service} of what is registered in etcd under the cluster's prefix."""
    members = state.data["urls"].get("etcd", "").split("://")[-1].split(",")
    root = "/chat/services/"
    end = root[:-1] + chr(ord(root[-1]) + 1)
    b64 = lambda s: base64.b64encode(s.encode()).decode()
    for m in members:
        try:
            _, j = http_json(f"http://{m}/v3/kv/range", {"key": b64(root), "range_end": b64(end)})
        except (OSError, ValueError):
            continue
        out = {}
        for kv in j.get("kvs", []):
            svc, _, addr = base64.b64decode(kv["key"]).decode()[len(root):].partition("/")
            out[addr] = svc
        return out
    return None


def tier_row(state, name):
    port = tier.port_of(state, name)
    if port is None:
        return ("never started", "", "")
    if not tier.listening(port):
        return ("down", "", f"port {port}")
    role, health = "", "ok"
    if name.startswith("etcd"):
        try:
            _, j = http_json(f"http://127.0.0.1:{port}/health")
            health = "ok" if j.get("health") == "true" else f"unhealthy {j}"
        except (OSError, ValueError) as e:
            health = f"no answer ({e})"
    elif name.startswith(("redis", "sentinel")):
        out = run(["redis-cli", "-p", str(port), "ROLE" if name.startswith("redis") else "PING"])
        role = (out or "").split("\n")[0] if name.startswith("redis") else "sentinel"
        health = "ok" if out else "no answer"
    elif name.startswith("pg-"):
        out = run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                   "-d", "postgres", "-c",
                   "select case when pg_is_in_recovery() then 'standby' else 'primary' end, "
                   "(select string_agg(application_name || '=' || sync_state, ' ') "
                   "from pg_stat_replication)"])
        if out is None:
            health = "no answer"
        else:
            kind, _, repl = out.partition("|")
            role = kind + (f" (replicas: {repl})" if repl else "")
    return ("up", role, health if port else "")


def proc_row(state, name, reg):
    pid = procs.pid_alive(state, name)
    if not pid:
        return ("down", "", "")
    if name == "lb" or name.startswith("gateway"):
        port = state.lb_port() if name == "lb" else state.port(name)
        try:
            code, _ = http_json(f"http://127.0.0.1:{port}/health?services=1")
            health = "ok" if code == 200 else f"http {code}"
        except urllib.error.HTTPError as e:
            health = f"http {e.code}: {e.read()[:80].decode(errors='replace')}"
        except (OSError, ValueError) as e:
            health = f"no answer ({e})"
        role = "load balancer" if name == "lb" else ""
    else:
        role = ""
        addr = procs.address(state, name)
        if reg is None:
            health = "etcd unreachable"
        else:
            health = "registered" if addr in reg else "not registered"
    if name.startswith("gateway") and reg is not None:
        role = "registered" if procs.address(state, name) in reg else "not registered"
    return (f"up (pid {pid})", role, health)


def rows(state, names):
    reg = registered(state)
    out = {}

    def one(n):
        try:
            out[n] = (procs.is_libchat(n) and proc_row(state, n, reg)) or tier_row(state, n)
        except Exception as e:  # a check that breaks is a row, not a traceback
            out[n] = ("?", "", f"check failed: {e}")

    threads = [threading.Thread(target=one, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [(n, *out[n]) for n in names]
