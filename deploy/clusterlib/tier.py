"""The data tier: etcd, Kafka, Redis + Sentinel, PostgreSQL per service,
FerretDB and S3Proxy, each started by its script in tests/fixtures (the same
servers the test suite runs, with their data under the cluster's directory).

A script's `start` prints the server's address on its last line and keeps its
port in the server's directory; `restart`, `stop` and `kill` take the same
directory."""
import os
import shutil
import socket
import subprocess
import threading

from .state import PG_SERVICES, REDIS_MASTER

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "fixtures")


# Files survive `down` and `up` (file ids are flat keys, which S3Proxy's
# filesystem store holds).
S3_ENV = {"CHAT_TEST_S3_BACKEND": "filesystem"}


class TierError(Exception):
    pass


def fixture(state, script, *args, env=None):
    """Runs tests/fixtures/<script>.sh ARGS; its last line of output.
    Its stderr goes to logs/fixtures.log; on failure the tail of it is the
    error."""
    os.makedirs(state.logs, exist_ok=True)
    log_path = os.path.join(state.logs, "fixtures.log")
    with open(log_path, "a") as log:
        log.write(f"$ {script}.sh {' '.join(args)}\n")
        log.flush()
        r = subprocess.run(["bash", os.path.join(FIXTURES, f"{script}.sh"), *args],
                           stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                           env=dict(os.environ, **(env or {})), text=True)
    if r.returncode != 0:
        with open(log_path) as f:
            tail = f.readlines()[-8:]
        raise TierError(f"{script}.sh {' '.join(args)} failed:\n" + "".join(tail))
    lines = r.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def part_dir(state, name):
    """The directory a fixture script keeps NAME's server in."""
    if name.startswith("etcd"):
        return state.dir("etcd", f"member{name[4:]}")
    if name.startswith("kafka"):
        return state.dir("kafka", f"broker{name[5:]}")
    return state.dir(name)


def script_of(name):
    for prefix, script in (("etcd", "etcd"), ("kafka", "kafka"), ("redis", "redis"),
                           ("sentinel", "redis"), ("pg-", "postgres"),
                           ("mongo", "ferretdb"), ("s3", "s3")):
        if name.startswith(prefix):
            return script
    raise TierError(f"{name} is not a data-tier server")


def port_of(state, name):
    try:
        with open(os.path.join(part_dir(state, name), "port")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def listening(port, timeout=0.5):
    if not port:
        return False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def created(state, name):
    return port_of(state, name) is not None


def up(state, name):
    return listening(port_of(state, name))


def kill(state, name):
    fixture(state, script_of(name), "kill", part_dir(state, name))


def stop(state, name):
    if created(state, name):
        fixture(state, script_of(name), "stop", part_dir(state, name))


def restart(state, name):
    """Starts a server that was created before, on its old port and data. A
    PostgreSQL server that was a primary before a failover comes back as a
    standby of the new one (rebuilt: its timeline has forked)."""
    if name.startswith("pg-"):
        svc = name[3:-1]
        roles = state.data["pg"].get(svc, {})
        if roles.get("primary") != name and roles.get("was_primary") == name:
            return rejoin_pg(state, svc, name)
    fixture(state, script_of(name), "restart", part_dir(state, name), env=S3_ENV)


# ------------------------------------------------------------ first start ---

def start_etcd(state):
    if created(state, "etcd1"):
        return
    url = fixture(state, "etcd", "start-cluster", state.dir("etcd"), "--members", "3")
    state.data["urls"]["etcd"] = url


def start_kafka(state):
    if created(state, "kafka1"):
        return
    url = fixture(state, "kafka", "start-cluster", state.dir("kafka"), "--brokers", "3")
    state.data["urls"]["kafka"] = url


def start_redis(state):
    if created(state, "redis1"):
        return
    primary = fixture(state, "redis", "start", part_dir(state, "redis1"))
    addr = primary.split("://")[-1].split("/")[0]
    for i in (2, 3):
        fixture(state, "redis", "start", part_dir(state, f"redis{i}"), "--replicaof", addr)
    sentinels = []
    for i in (1, 2, 3):
        sentinels.append(fixture(state, "redis", "sentinel", part_dir(state, f"sentinel{i}"),
                                 "--monitor", REDIS_MASTER, addr, "--quorum", "2"))
    state.data["urls"]["sentinels"] = ",".join(sentinels)


def pg_app_name(name):
    return name.replace("-", "_")  # an identifier synchronous_standby_names takes bare


def set_pg_sync(state, svc):
    roles = state.data["pg"][svc]
    standbys = [roles["sync"], roles["async"]]
    names = ", ".join(pg_app_name(n) for n in standbys)
    fixture(state, "postgres", "sync", part_dir(state, roles["primary"]), f"FIRST 1 ({names})")


def start_pg(state, svc):
    first = f"pg-{svc}1"
    if created(state, first):
        return
    fixture(state, "postgres", "start", part_dir(state, first))
    for i in (2, 3):
        fixture(state, "postgres", "start", part_dir(state, f"pg-{svc}{i}"),
                "--standby-of", part_dir(state, first), "--name", pg_app_name(f"pg-{svc}{i}"))
    state.data["pg"][svc] = {"primary": first, "sync": f"pg-{svc}2", "async": f"pg-{svc}3"}
    set_pg_sync(state, svc)


def start_mongo(state):
    if not created(state, "mongo"):
        state.data["urls"]["mongo"] = fixture(state, "ferretdb", "start", part_dir(state, "mongo"))


def start_s3(state):
    if not created(state, "s3"):
        state.data["urls"]["s3"] = fixture(state, "s3", "start", part_dir(state, "s3"),
                                           env=S3_ENV)


def start_all(state, names):
    """Creates what was never created, restarts what is down, in parallel
    by group (a group's members start in order)."""
    groups = [lambda: start_etcd(state), lambda: start_kafka(state),
              lambda: start_redis(state), lambda: start_mongo(state),
              lambda: start_s3(state)]
    groups += [(lambda s=svc: start_pg(state, s)) for svc in PG_SERVICES]
    errors = []

    def run(fn):
        try:
            fn()
        except Exception as e:  # reported together once every group is done
            errors.append(e)

    threads = [threading.Thread(target=run, args=(g,)) for g in groups]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise TierError("\n".join(str(e) for e in errors))
    for name in names:
        if not up(state, name):
            restart(state, name)


# ---------------------------------------------------------------- failover ---

def failover_pg(state, svc):
    """Promotes the synchronous standby (it has every acknowledged commit),
    points the other standby at it and makes that one its synchronous
    standby. The old primary, when it is started again, rejoins as a standby."""
    roles = state.data["pg"][svc]
    old, new, other = roles["primary"], roles["sync"], roles["async"]
    if not up(state, new):
        new, other = other, new
        if not up(state, new):
            raise TierError(f"pg-{svc}: no standby is running to promote")
    if up(state, old):
        fixture(state, "postgres", "stop", part_dir(state, old))
    fixture(state, "postgres", "promote", part_dir(state, new))
    if up(state, other):
        fixture(state, "postgres", "follow", part_dir(state, other), part_dir(state, new))
    state.data["pg"][svc] = {"primary": new, "sync": other, "async": old, "was_primary": old}
    set_pg_sync(state, svc)
    return new


def rejoin_pg(state, svc, name):
    roles = state.data["pg"][svc]
    d = part_dir(state, name)
    port = str(port_of(state, name))
    shutil.rmtree(d)
    fixture(state, "postgres", "start", d, "--port", port,
            "--standby-of", part_dir(state, roles["primary"]), "--name", pg_app_name(name))
    roles.pop("was_primary", None)


def failover_redis(state):
    """Asks a Sentinel for a failover now (it also does one by itself when the
    primary is down); the new primary's address."""
    for i in (1, 2, 3):
        port = port_of(state, f"sentinel{i}")
        if not listening(port):
            continue
        subprocess.run(["redis-cli", "-p", str(port), "SENTINEL", "FAILOVER", REDIS_MASTER],
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return redis_primary(state)
    raise TierError("no Sentinel is running")


def redis_primary(state):
    for i in (1, 2, 3):
        port = port_of(state, f"sentinel{i}")
        if not listening(port):
            continue
        r = subprocess.run(["redis-cli", "-p", str(port), "SENTINEL",
                            "get-master-addr-by-name", REDIS_MASTER],
                           capture_output=True, text=True, timeout=5)
        lines = r.stdout.split()
        if len(lines) == 2:
            return f"{lines[0]}:{lines[1]}"
    return None
