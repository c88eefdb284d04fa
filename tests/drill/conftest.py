"""The drills' cluster: `deploy/cluster up` once per session in a fresh
directory (CHAT_CLUSTER_DIR) from the build's servers (CHAT_BINDIR, set by
ctest), `deploy/cluster down --purge` at the end."""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER = os.path.join(REPO, "deploy", "cluster")


def free_port():
    """Below the ephemeral range, as in tests/e2e/conftest.py."""
    import random
    import socket
    for _ in range(200):
        port = random.randrange(20000, 32768)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32767")


class Cluster:
    def __init__(self, root):
        self.root = root
        self.env = dict(os.environ, CHAT_CLUSTER_DIR=root)
        self.url = None

    def run(self, *args, check=True, timeout=180):
        t = time.monotonic()
        r = subprocess.run([sys.executable, CLUSTER, *args], env=self.env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        took = time.monotonic() - t
        if check and r.returncode != 0:
            raise AssertionError(f"deploy/cluster {' '.join(args)} exited {r.returncode} "
                                 f"after {took:.1f} s:\n{r.stdout}\n{r.stderr}")
        r.took = took
        return r

    def api(self, method, token=None, **args):
        """A Web API call through the load balancer: the reply's JSON."""
        req = urllib.request.Request(f"{self.url}/api/{method}", json.dumps(args).encode(),
                                     {"Content-Type": "application/json; charset=utf-8"})
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read() or b'{"ok":false,"error":"http"}')

    def status(self):
        r = self.run("status", check=False)
        return {line.split()[0]: line for line in r.stdout.splitlines()
                if line and not line.startswith("load balancer")}, r.returncode


@pytest.fixture(scope="session")
def cluster():
    if not os.environ.get("CHAT_BINDIR"):
        pytest.fail("CHAT_BINDIR must name the built servers (ctest sets it)")
    root = tempfile.mkdtemp(prefix="libchat-drill-")
    os.chmod(root, 0o755)  # PostgreSQL runs as the postgres user in there
    c = Cluster(root)
    try:
        # up takes about 90 s here; JVMs starting three Kafka brokers on two
        # busy cores have taken over 180 s, so allow 300.
        r = c.run("up", "--port", str(free_port()), timeout=300)
        c.url = r.stdout.strip().splitlines()[-1]
        c.up_seconds = r.took
        print(f"drill: deploy/cluster up took {r.took:.1f} s; {c.url}", flush=True)
        yield c
    finally:
        c.run("down", "--purge", check=False)
