"""deploy/cluster's commands."""
import os
import subprocess
import sys
import threading
import time
import urllib.request

from . import health, procs, tier
from .state import (PG_SERVICES, REDIS_MASTER, SERVICES, all_names, gateway_names,
                    service_names, tier_names)

REPO = tier.REPO
SERVER_TARGETS = [f"chat-{s}d" for s in SERVICES] + ["chat-gateway"]
UP_TIMEOUT = 60


def say(text):
    print(text, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ build ---

def ensure_built(bindir, rebuild):
    missing = [t for t in SERVER_TARGETS if not os.access(os.path.join(bindir, t), os.X_OK)]
    if not missing and not rebuild:
        return
    build = os.path.dirname(bindir.rstrip("/"))
    if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        say(f"configuring {build}")
        subprocess.run(["cmake", "-S", REPO, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
                       check=True, stdout=subprocess.DEVNULL)
    say(f"building {', '.join(SERVER_TARGETS)} in {build}")
    subprocess.run(["cmake", "--build", build, f"-j{os.cpu_count() or 1}", "--target",
                    *SERVER_TARGETS], check=True, stdout=subprocess.DEVNULL)


def ensure_tools():
    """The servers' programs; scripts/deps.sh installs them when one is missing."""
    need = ["haproxy", "redis-server", "etcd", "java", "psql", "kcat", "pg_basebackup"]
    if any(subprocess.run(["sh", "-c", f"command -v {t}"], stdout=subprocess.DEVNULL)
           .returncode for t in need):
        say("installing the servers' packages (scripts/deps.sh)")
        subprocess.run([os.path.join(REPO, "scripts", "deps.sh")], check=True)


# ----------------------------------------------------------------- config ---

def pg_url(state, svc):
    hosts = ",".join(f"127.0.0.1:{tier.port_of(state, f'pg-{svc}{i}')}" for i in (1, 2, 3))
    return f"postgresql://postgres@{hosts}/postgres?schema={svc}"


def write_conf(state):
    urls = state.data["urls"]
    s3 = urls["s3"]
    lines = [
        "# Written by deploy/cluster: one configuration for every process of the cluster.",
        f"data_dir = {state.dir('data')}",
        f"jwt.secret = {state.data['secret']}",
        f"discovery = {urls['etcd']}/chat",
        f"broker = {urls['kafka']}?prefix=chat.&replication=3",
        f"presence = redis+sentinel://{urls['sentinels']}/{REDIS_MASTER}",
        f"store.message = {urls['mongo'].rstrip('/')}/chat",
        f"blob = s3://chatkey:chatsecret@chat?endpoint={s3}&create_bucket=1",
        f"gateway.public_url = http://127.0.0.1:{state.lb_port()}",
    ]
    lines += [f"store.{svc} = {pg_url(state, svc)}" for svc in PG_SERVICES]
    conf = state.dir("chat.conf")
    os.makedirs(state.dir("data"), exist_ok=True)
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    return conf


def link_tier_logs(state):
    """logs/NAME.log for every data-tier server, linked to its own log."""
    files = {"etcd": "etcd.log", "kafka": "server.log", "redis": "redis.log",
             "sentinel": "redis.log", "pg-": "server.log", "mongo": "ferretdb.log",
             "s3": "s3proxy.log"}
    for name in tier_names():
        target = next((f for p, f in files.items() if name.startswith(p)), None)
        path = os.path.join(tier.part_dir(state, name), target)
        link = os.path.join(state.logs, f"{name}.log")
        if os.path.exists(path) and not os.path.lexists(link):
            os.symlink(path, link)


# --------------------------------------------------------------- commands ---

def wait_until(what, check, timeout):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"cluster: {what} not ready after {timeout} s "
                             "(see `deploy/cluster status` and `deploy/cluster logs`)")
        time.sleep(0.1)


def registered_all(state, names):
    reg = health.registered(state) or {}
    return all(procs.address(state, n) in reg for n in names)


def healthy(url):
    try:
        with urllib.request.urlopen(url + "/health?services=1", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def cmd_up(state, args):
    t0 = time.monotonic()
    ensure_tools()
    ensure_built(args.bindir, args.build)
    state.lb_port(args.port)
    state.save()
    say(f"starting the data tier in {state.root}")
    tier.start_all(state, tier_names())
    state.save()
    link_tier_logs(state)
    conf = write_conf(state)
    say(f"data tier up in {time.monotonic() - t0:.1f} s; starting the services")
    # One instance of each service first: the first chat-userd on an empty
    # store makes the default workspace, the second then reads it.
    for wave in (1, 2):
        names = [f"{svc}{wave}" for svc in SERVICES]
        for n in names:
            procs.spawn(state, n, args.bindir, conf)
        wait_until("services", lambda: registered_all(state, names), UP_TIMEOUT)
    for n in gateway_names():
        procs.spawn(state, n, args.bindir, conf)
    for n in gateway_names():
        wait_until(n, lambda: healthy(f"http://127.0.0.1:{state.port(n)}"), UP_TIMEOUT)
    procs.spawn(state, "lb", args.bindir, conf)
    lb = f"http://127.0.0.1:{state.lb_port()}"
    wait_until("the load balancer", lambda: healthy(lb), UP_TIMEOUT)
    state.save()
    say(f"cluster up in {time.monotonic() - t0:.1f} s: `deploy/cluster status`, "
        f"logs in {state.logs}")
    print(lb)


def cmd_down(state, args):
    t0 = time.monotonic()
    procs.stop_all(state, ["lb"] + gateway_names() + service_names())
    errors = []

    def stop(name):
        try:
            tier.stop(state, name)
        except tier.TierError as e:
            errors.append(str(e))

    threads = [threading.Thread(target=stop, args=(n,)) for n in tier_names()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        say(e)
    state.save()
    say(f"cluster down in {time.monotonic() - t0:.1f} s")
    if args.purge:
        import shutil
        shutil.rmtree(state.root)
        say(f"removed {state.root}")


def cmd_status(state, args):
    names = args.names or all_names()
    rows = health.rows(state, names)
    w = max(len(n) for n in names)
    bad = 0
    for name, run, role, h in rows:
        print(f"{name:<{w}}  {run:<16}  {role:<34}  {h}")
        bad += not run.startswith("up")
    if state.exists():
        print(f"load balancer: http://127.0.0.1:{state.lb_port()}  logs: {state.logs}")
    return 1 if bad else 0


def cmd_logs(state, args):
    if not args.name:
        for f in sorted(os.listdir(state.logs)):
            print(os.path.join(state.logs, f))
        return 0
    path = os.path.join(state.logs, f"{args.name}.log")
    if not os.path.exists(path):
        raise SystemExit(f"cluster: no log for {args.name} in {state.logs}")
    os.execvp("tail", ["tail", "-n", str(args.lines)] + (["-F"] if args.follow else []) + [path])


def check_name(name):
    if name not in all_names():
        raise SystemExit(f"cluster: unknown name {name!r}; names: {' '.join(all_names())}")


def cmd_kill(state, args):
    check_name(args.name)
    if procs.is_libchat(args.name):
        procs.kill(state, args.name)
    else:
        tier.kill(state, args.name)
    say(f"killed {args.name} (kill -9)")


def cmd_start(state, args):
    check_name(args.name)
    if procs.is_libchat(args.name):
        procs.spawn(state, args.name, args.bindir, state.dir("chat.conf"))
    elif not tier.up(state, args.name):
        tier.restart(state, args.name)
        state.save()
    say(f"started {args.name}")


def cmd_failover(state, args):
    name = args.name
    if name.startswith("pg-"):
        svc = name[3:].rstrip("0123456789")
        if svc not in PG_SERVICES:
            raise SystemExit(f"cluster: failover takes pg-auth, pg-user, pg-channel or redis")
        new = tier.failover_pg(state, svc)
        state.save()
        say(f"pg-{svc}: {new} is the primary now")
    elif name.startswith(("redis", "sentinel")):
        say(f"redis: the primary is {tier.failover_redis(state)} now")
    else:
        raise SystemExit("cluster: failover takes pg-auth, pg-user, pg-channel or redis")
