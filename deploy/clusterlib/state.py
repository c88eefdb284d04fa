"""The cluster's layout and its state file (DIR/cluster.json).

Every part has a name (etcd1, pg-auth2, auth1, gateway2, lb, ...), a kind and
a directory under DIR. Data-tier servers keep their ports in their own
directories (the fixture scripts remember them); libchat's processes get a
port here once, kept in the state file so that `start NAME` and `up` after
`down` reuse it."""
import json
import os
import secrets
import socket

SERVICES = ("auth", "user", "channel", "message", "presence")
PG_SERVICES = ("auth", "user", "channel")  # each has a PostgreSQL cluster of its own
INSTANCES = 2                               # of every service, and gateways
REDIS_MASTER = "chat"                       # the name Sentinel knows the primary by


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_free(port, host="127.0.0.1"):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


class State:
    """DIR/cluster.json: {"secret", "lb_port", "ports": {name: port},
    "urls": {part: url}, "pg": {svc: {"primary", "sync", "async"}},
    "pids": {name: pid}}."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.path = os.path.join(self.root, "cluster.json")
        self.data = {}
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.data = json.load(f)
        self.data.setdefault("secret", secrets.token_hex(24))
        self.data.setdefault("ports", {})
        self.data.setdefault("urls", {})
        self.data.setdefault("pg", {})
        self.data.setdefault("pids", {})

    def exists(self):
        return os.path.exists(self.path)

    def save(self):
        os.makedirs(self.root, exist_ok=True)
        # Servers that run as other users (PostgreSQL as postgres) make
        # their directories in here.
        os.chmod(self.root, 0o755)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def dir(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def logs(self):
        return self.dir("logs")

    def port(self, name):
        """The port kept for a libchat process, chosen once."""
        ports = self.data["ports"]
        if name not in ports:
            ports[name] = free_port()
        return ports[name]

    def lb_port(self, wanted=None):
        if wanted:
            self.data["lb_port"] = wanted
        if "lb_port" not in self.data:
            self.data["lb_port"] = 8080 if port_free(8080) else free_port()
        return self.data["lb_port"]


def service_names():
    return [f"{svc}{i}" for svc in SERVICES for i in range(1, INSTANCES + 1)]


def gateway_names():
    return [f"gateway{i}" for i in range(1, INSTANCES + 1)]


def tier_names():
    names = [f"etcd{i}" for i in (1, 2, 3)] + [f"kafka{i}" for i in (1, 2, 3)]
    names += [f"redis{i}" for i in (1, 2, 3)] + [f"sentinel{i}" for i in (1, 2, 3)]
    names += [f"pg-{svc}{i}" for svc in PG_SERVICES for i in (1, 2, 3)]
    return names + ["mongo", "s3"]


def all_names():
    return tier_names() + service_names() + gateway_names() + ["lb"]
