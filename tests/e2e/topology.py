"""A deployment of the distributed servers found through etcd: any number of
instances per service (chat-authd, chat-userd, chat-channeld, chat-messaged,
chat-presenced), one or more chat-gateways, and HAProxy (deploy/haproxy.cfg)
in front of two gateways. No rpc.* key is written: every process registers in
etcd (`discovery = etcd://...`) and finds the others there.

Each process runs in a process group of its own (kill -9 of one instance is
os.killpg of its group) and dies with the test process (PR_SET_PDEATHSIG).
Its output (stdout and stderr) is read by a thread that stamps every line
with time.monotonic() when it arrives, keeps it in memory and writes it to
<dir>/<name>.log, so a test can say when an instance took its first request
or its last one (CHAT_LOG_LEVEL=debug makes a service log one "chat-rpc:"
line per request it serves).

The etcd server comes from tests/fixtures/etcd.sh exec (CHAT_TEST_ETCD); the
backends from real_backends() (conftest.py) or the embedded ones.
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest

from conftest import REPO, START_TIMEOUT, _die_with_parent, chatd_path, free_port, http_request

SERVICES = ("auth", "user", "channel", "message", "presence")
SECRET = "e2e-topology-deployment-secret"


def etcd_address():
    addr = os.environ.get("CHAT_TEST_ETCD")
    if not addr:
        pytest.fail("CHAT_TEST_ETCD is not set: run under tests/fixtures/etcd.sh exec")
    return addr


class Proc:
    """One server process; .lines holds (monotonic time, text) of its output."""

    def __init__(self, name, argv, log_path, env=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.lines = []
        self.lock = threading.Lock()
        self.popen = None
        self.started = None
        self.signalled = None   # (signal, monotonic time) once the test sent one
        self.exited = None      # monotonic time the test saw it gone
        self.reader = None

    def start(self):
        self.started = time.monotonic()
        self.popen = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=self.env, start_new_session=True,
            preexec_fn=_die_with_parent)
        self.reader = threading.Thread(target=self._read, name=f"log-{self.name}", daemon=True)
        self.reader.start()
        return self

    def _read(self):
        with open(self.log_path, "a", encoding="utf-8", errors="replace") as log:
            for raw in iter(self.popen.stdout.readline, b""):
                t = time.monotonic()
                text = raw.decode("utf-8", "replace").rstrip("\n")
                with self.lock:
                    self.lines.append((t, text))
                log.write(f"{t:.3f} {text}\n")
                log.flush()
        self.popen.stdout.close()

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig):
        """Sends sig to the process's group (its own: start_new_session)."""
        self.signalled = (sig, time.monotonic())
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def kill9(self):
        self.signal(signal.SIGKILL)
        self.popen.wait()
        self.exited = time.monotonic()

    def wait(self, timeout):
        """The exit code, or None when it is still running after timeout s."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        if self.exited is None:
            self.exited = time.monotonic()
        return code

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def rpc_lines(self, after=None, health=False):
        """(time, method) of the "chat-rpc:" lines (health probes left out
        unless health=True), those after `after` only when given."""
        out = []
        for t, text in self.snapshot():
            if after is not None and t <= after:
                continue
            if not text.startswith("chat-rpc: "):
                continue
            method = text.split(" ", 2)[1]
            if method == "health" and not health:
                continue
            out.append((t, method))
        return out

    def tail(self, n=40, rpc=True):
        """The last n lines (without the "chat-rpc:" ones unless rpc)."""
        lines = [text for _, text in self.snapshot()
                 if rpc or not text.startswith("chat-rpc: ")]
        return "\n".join(lines[-n:])


class Topology:
    """The deployment. counts: instances per service; gateways: 1 (clients
    use it directly) or 2 (HAProxy in front, at self.base)."""

    def __init__(self, counts=None, gateways=2, backends=None, ttl=None, debug=True,
                 name="topo", extra_conf=None):
        self.counts = dict(counts or {s: 1 for s in SERVICES})
        self.ngateways = gateways
        self.backends = backends
        self.ttl = ttl
        self.debug = debug
        self.dir = tempfile.mkdtemp(prefix=f"libchat-e2e-{name}-")
        self.etcd = etcd_address()
        self.prefix = f"chat{os.getpid()}x{int(time.time() * 1000) % 100000}"
        self.bindir = os.path.dirname(chatd_path())
        self.instances = {s: [] for s in SERVICES}   # Proc, in start order
        self.gateways = []                           # Proc
        self.gateway_bases = []
        self.lb = None
        self.procs = []
        self.seq = {}
        self.extra_conf = dict(extra_conf or {})
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.conf = os.path.join(self.dir, "chat.conf")

    # ------------------------------------------------------------ config ---

    def write_conf(self):
        with open(self.conf, "w") as f:
            f.write(f"data_dir = {self.dir}\n")
            if self.backends is None:
                f.write(f"broker = sqlite:{self.dir}/events.db\n")
            else:
                for key, url in self.backends.items():
                    f.write(f"{key} = {url}\n")
            f.write(f"jwt.secret = {SECRET}\n")
            f.write(f"gateway.public_url = {self.base}\n")
            f.write(f"discovery = etcd://{self.etcd}/{self.prefix}\n")
            if self.ttl is not None:
                f.write(f"server.announce_ttl = {self.ttl}\n")
            # Load, not rate limits, is what this suite measures.
            f.write("ratelimit.per_sec = 1000000\nratelimit.burst = 1000000\n")
            for k, v in self.extra_conf.items():
                f.write(f"{k} = {v}\n")
        with open(self.conf) as f:
            assert "rpc." not in f.read()  # found through etcd only

    def _env(self):
        env = dict(os.environ)
        if self.debug:
            env["CHAT_LOG_LEVEL"] = "debug"
        return env

    # ----------------------------------------------------------- etcd ---

    def _etcd_post(self, path, body, timeout=2):
        req = urllib.request.Request(f"http://{self.etcd}{path}", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    def registered(self):
        """{service: set(addresses)} as etcd holds them now."""
        root = f"/{self.prefix}/services/"
        end = root[:-1] + chr(ord(root[-1]) + 1)
        b64 = lambda s: base64.b64encode(s.encode()).decode()
        j = self._etcd_post("/v3/kv/range", {"key": b64(root), "range_end": b64(end)})
        out = {}
        for kv in j.get("kvs", []):
            key = base64.b64decode(kv["key"]).decode()[len(root):]
            svc, _, addr = key.partition("/")
            out.setdefault(svc, set()).add(addr)
        return out

    # ------------------------------------------------------------ start ---

    def _name(self, svc):
        self.seq[svc] = self.seq.get(svc, 0) + 1
        return f"{svc}{self.seq[svc]}"

    def _launch(self, svc):
        """Starts one instance of svc on a free port."""
        port = free_port()
        name = self._name(svc)
        p = Proc(name, [os.path.join(self.bindir, f"chat-{svc}d"), "--config", self.conf,
                        "--listen", f"tcp://127.0.0.1:{port}"],
                 os.path.join(self.dir, f"{name}.log"), self._env())
        p.svc = svc
        p.address = f"tcp://127.0.0.1:{port}"
        p.start()
        self.procs.append(p)
        return p

    def _wait_registered(self, procs, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        pending = list(procs)
        while pending:
            try:
                reg = self.registered()
            except OSError:
                reg = {}
            for p in list(pending):
                if p.address in reg.get(p.svc, ()):
                    p.registered = time.monotonic()
                    pending.remove(p)
                elif not p.alive():
                    raise AssertionError(f"{p.name} exited with {p.popen.returncode}:\n"
                                         f"{p.tail()}")
            if pending and time.monotonic() > deadline:
                raise AssertionError("not registered in etcd in time: " + ", ".join(
                    f"{p.name} ({p.address}):\n{p.tail(10)}" for p in pending))
            if pending:
                time.sleep(0.02)

    def add_instance(self, svc, wait=True):
        """One more instance of svc, started now; with wait, returned once
        it is registered in etcd (p.started, p.registered: monotonic times)."""
        p = self._launch(svc)
        self.instances[svc].append(p)
        if wait:
            self._wait_registered([p])
        return p

    def start(self):
        self.write_conf()
        try:
            # The first instance of each service, then the others once it is
            # registered: two chat-userd opening an empty store at once both
            # create the default team and the loser exits ("domain default is
            # taken", domain/ctx.c ensure_default_team).
            for wave in (1, max(self.counts.values(), default=1)):
                started = []
                for svc in SERVICES:
                    while len(self.instances[svc]) < min(wave, self.counts.get(svc, 1)):
                        started.append(self.add_instance(svc, wait=False))
                self._wait_registered(started)
            for i in range(self.ngateways):
                port = self.port if self.ngateways == 1 else free_port()
                base = f"http://127.0.0.1:{port}"
                p = Proc(f"gateway{i + 1}",
                         [os.path.join(self.bindir, "chat-gateway"), "--config", self.conf,
                          "--listen", base],
                         os.path.join(self.dir, f"gateway{i + 1}.log"), self._env())
                p.svc = "gateway"
                p.address = base
                p.base = base
                p.start()
                self.procs.append(p)
                self.gateways.append(p)
                self.gateway_bases.append(base)
            if self.ngateways > 1:
                assert self.ngateways == 2, "deploy/haproxy.cfg names two gateways"
                env = dict(os.environ, CHAT_LB_BIND=f"127.0.0.1:{self.port}",
                           CHAT_GATEWAY1=self.gateway_bases[0][len("http://"):],
                           CHAT_GATEWAY2=self.gateway_bases[1][len("http://"):])
                self.lb = Proc("haproxy", ["haproxy", "-db", "-f",
                                           os.path.join(REPO, "deploy", "haproxy.cfg")],
                               os.path.join(self.dir, "haproxy.log"), env)
                self.lb.svc = "lb"
                self.lb.start()
                self.procs.append(self.lb)
            deadline = time.monotonic() + START_TIMEOUT
            for base in self.gateway_bases + ([self.base] if self.lb else []):
                self._wait_health(base, deadline)
            # HAProxy takes a gateway in after two good checks (500 ms apart).
            if self.lb:
                self._wait_lb_both(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_health(self, base, deadline):
        while True:
            for p in self.procs:
                if not p.alive():
                    raise AssertionError(f"{p.name} exited with {p.popen.returncode}:\n"
                                         f"{p.tail()}")
            try:
                r = http_request(base + "/health?services=1", timeout=5)
                if r.status == 200 and r.json == {"ok": True}:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{base} is not healthy in time:\n" + "\n".join(
                    f"--- {p.name}\n{p.tail(10)}" for p in self.procs))
            time.sleep(0.05)

    def _wait_lb_both(self, deadline):
        """Until HAProxy has sent a health check to both gateways and has
        had the two good answers it needs (rise 2, inter 500 ms)."""
        time.sleep(1.2)

    # ------------------------------------------------------------- stop ---

    def alive_instances(self, svc):
        return [p for p in self.instances[svc] if p.alive()]

    def stop(self):
        """SIGTERM to every process still running (gateways and HAProxy
        first), SIGKILL to a group that has not gone after 20 s. Returns
        {name: exit code} of those it stopped."""
        order = ([self.lb] if self.lb else []) + self.gateways + \
            [p for svc in SERVICES for p in self.instances[svc]]
        order += [p for p in self.procs if p not in order]
        codes = {}
        for p in order:
            if p.alive():
                p.signal(signal.SIGTERM)
                codes[p.name] = None
        deadline = time.monotonic() + 20
        for p in order:
            if p.name not in codes:
                continue
            code = p.wait(max(0.1, deadline - time.monotonic()))
            if code is None:
                p.signal(signal.SIGKILL)
                code = p.wait(5)
            codes[p.name] = code
        # Whatever a process left in its group (nothing, normally).
        for p in order:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for p in order:
            if p.reader:
                p.reader.join(2)
        if self.lb and codes.get(self.lb.name) == -signal.SIGTERM:
            codes[self.lb.name] = 0  # HAProxy's way to end on SIGTERM
        return codes

    def cleanup(self, keep=False):
        if keep:
            return
        shutil.rmtree(self.dir, ignore_errors=True)

    def all_logs(self, n=15):
        """The last lines of every process but its "chat-rpc:" ones."""
        return "\n".join(f"--- {p.name} ({'alive' if p.alive() else 'gone'})\n"
                         f"{p.tail(n, rpc=False)}" for p in self.procs)
