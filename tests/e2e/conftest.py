"""End-to-end fixtures: a real chatd process, a Web API client and a WebSocket
(RTM) client.

chatd's path comes from the CHATD environment variable (ctest sets it). Each
server runs on a free loopback port with its own temporary data directory, is
ready once /health answers, and is stopped with SIGTERM (SIGKILL if it does not
exit in time); a server that crashes or exits non-zero on SIGTERM fails the
test that owned it.
"""
import base64
import hashlib
import hmac
import http.client as httpclient
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import pytest
import websocket  # websocket-client

# Generous: the same suite runs under AddressSanitizer, several tests at once.
START_TIMEOUT = float(os.environ.get("CHAT_E2E_START_TIMEOUT", "60"))
STOP_TIMEOUT = 30.0


def dump_stuck(p):
    """Says which process did not stop on SIGTERM, with its threads' stacks
    (gdb, when installed), before it is killed: the failure names its cause."""
    sys.stderr.write(f"\n{p.args[0]} (pid {p.pid}) did not stop within {STOP_TIMEOUT} s\n")
    if shutil.which("gdb"):
        r = subprocess.run(["gdb", "-batch", "-p", str(p.pid), "-ex", "thread apply all bt"],
                           capture_output=True, text=True, timeout=60)
        sys.stderr.write(r.stdout[-20000:])
HTTP_TIMEOUT = 30.0
EVENT_TIMEOUT = float(os.environ.get("CHAT_E2E_EVENT_TIMEOUT", "15"))

# The default limits (200/s, burst 400) are part of what test_rate_limit.py
# checks; the other suites post hundreds of messages and must not trip them.
NO_RATE_LIMIT = ("--set", "ratelimit.per_sec=1000000", "--set", "ratelimit.burst=1000000")

PASSWORD = "correct horse battery staple"
_uniq = itertools.count(1)


def unique(prefix):
    """A name no other call in this process returns: prefix + pid + counter."""
    return f"{prefix}{os.getpid()}x{next(_uniq)}"


def chatd_path():
    path = os.environ.get("CHATD")
    if not path:
        pytest.fail("CHATD is not set: run through ctest, or set CHATD=/path/to/chatd")
    if not os.access(path, os.X_OK):
        pytest.fail(f"CHATD={path} is not an executable")
    return path


def _die_with_parent():
    """In the child: ask Linux to SIGTERM it when the test process dies, so a
    test run killed by a timeout leaves no chatd behind."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port():
    """A port to hand a server that binds it later. Taken below the kernel's
    ephemeral range: a port from bind(0) lies inside it, and under load an
    outgoing connection of another process could take it as its local port
    before the server binds (the topology's gateway once failed so)."""
    import random
    for _ in range(200):
        port = random.randrange(20000, 32768)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32767")


# --------------------------------------------------------------- HTTP ---


class Response:
    """One HTTP answer: status, headers and the body (parsed when JSON)."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.json = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            self.json = None

    @property
    def ok(self):
        return isinstance(self.json, dict) and self.json.get("ok") is True

    @property
    def error(self):
        return self.json.get("error") if isinstance(self.json, dict) else None

    def __repr__(self):
        return f"<HTTP {self.status} {self.raw[:400]!r}>"


def wait_until(pred, what, timeout=EVENT_TIMEOUT, interval=0.05):
    """Polls pred until it returns something true, and returns that; fails
    naming `what` (e.g. "bob has 3 unread") when `timeout` seconds pass first.
    For state that changes in the background: wait on the state, never sleep."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting until {what}")
        time.sleep(interval)


def http_request(url, data=None, headers=None, verb=None, timeout=HTTP_TIMEOUT):
    """A raw HTTP/1.1 request on a new connection; every status comes back as
    a Response. verb defaults to POST with data, else GET."""
    u = urllib.parse.urlsplit(url)
    conn = httpclient.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        if data is not None:
            hdrs.setdefault("Content-Length", str(len(data)))
        path = u.path + ("?" + u.query if u.query else "")
        conn.request(verb or ("POST" if data is not None else "GET"), path, body=data,
                     headers=hdrs)
        r = conn.getresponse()
        return Response(r.status, r.headers, r.read())
    finally:
        conn.close()


def _form_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v)
    return str(v)


class Api:
    """Calls /api/<method> of one server as one token.

    via: "form" (POST application/x-www-form-urlencoded, the default),
    "json" (POST application/json, token in the Authorization header) or
    "get" (GET with a query string). The token goes as a Bearer header unless
    token_param=True puts it among the arguments.
    """

    def __init__(self, base, token=None):
        self.base = base
        self.token = token

    def as_(self, token):
        return Api(self.base, token)

    def request(self, method, via="form", token_param=False, **args):
        args = {k: v for k, v in args.items() if v is not None}
        headers = {}
        if self.token:
            if token_param:
                args["token"] = self.token
            else:
                headers["Authorization"] = "Bearer " + self.token
        url = f"{self.base}/api/{method}"
        if via == "get":
            q = urllib.parse.urlencode({k: _form_value(v) for k, v in args.items()})
            return http_request(url + ("?" + q if q else ""), headers=headers, verb="GET")
        if via == "json":
            headers["Content-Type"] = "application/json; charset=utf-8"
            return http_request(url, json.dumps(args).encode(), headers, "POST")
        if via == "form":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode({k: _form_value(v) for k, v in args.items()})
            return http_request(url, body.encode(), headers, "POST")
        raise ValueError(via)

    def call(self, method, via="form", **args):
        """The JSON reply of a call that must answer HTTP 200."""
        r = self.request(method, via=via, **args)
        assert r.status == 200, f"{method}: {r}"
        assert isinstance(r.json, dict), f"{method}: {r}"
        return r.json

    def ok(self, method, via="form", **args):
        """The reply of a call that must succeed."""
        j = self.call(method, via=via, **args)
        assert j.get("ok") is True, f"{method} {args}: {j}"
        return j

    def fail(self, method, code, via="form", **args):
        """Asserts the call fails with this error code; returns the reply."""
        j = self.call(method, via=via, **args)
        assert j.get("ok") is False and j.get("error") == code, f"{method} {args}: {j}"
        return j

    def post(self, channel, text, **kw):
        return self.ok("chat.postMessage", channel=channel, text=text, **kw)


# -------------------------------------------------------------- chatd ---


class Chatd:
    """A chatd process on a free loopback port with its own data directory."""

    def __init__(self, extra_args=(), name="chatd"):
        self.extra_args = list(extra_args)
        self.name = name
        self.proc = None
        self.data_dir = tempfile.mkdtemp(prefix=f"libchat-e2e-{name}-")
        self.log_path = os.path.join(self.data_dir, "chatd.log")
        self.port = None
        self.base = None

    # -- life --

    def start(self):
        exe = chatd_path()
        last = ""
        for _ in range(5):  # another process may take the port in between
            self.port = free_port()
            self.base = f"http://127.0.0.1:{self.port}"
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [exe, "--data", self.data_dir, "--listen", self.base, *self.extra_args],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    preexec_fn=_die_with_parent)
            if self._wait_ready():
                return self
            last = self.log_tail()
            if self.proc.poll() is None:
                self._terminate()
                break
            if "listen" not in last:
                break
        pytest.fail(f"chatd did not become ready on {self.base}:\n{last}")

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                # Readiness: the gateway and every service it calls.
                r = http_request(self.base + "/health?services=1", timeout=5)
                if r.status == 200 and r.json == {"ok": True}:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def _terminate(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            dump_stuck(self.proc)
            self.proc.kill()
            self.proc.wait()
            return None

    def stop(self):
        """Stops the server; returns (exit code or None when it had to be killed)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is not None:
            code = self.proc.returncode
        else:
            code = self._terminate()
        self.proc = None
        return code

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-n:]
        except OSError:
            return ""

    def cleanup(self):
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- use --

    def api(self, token=None):
        return Api(self.base, token)

    def health(self):
        return http_request(self.base + "/health", timeout=5)

    def signup(self, prefix="user", real_name=None):
        """A new user: an Api for its token, with .user_id, .email, .user."""
        email = f"{unique(prefix)}@example.com"
        j = self.api().ok("auth.signup", email=email, password=PASSWORD,
                          real_name=real_name or prefix.capitalize())
        a = self.api(j["token"])
        a.user_id = j["user_id"]
        a.team_id = j["team_id"]
        a.email = email
        a.user = j["user"]
        return a

    def rtm(self, api, **kw):
        """A WebSocket client connected as api's user (URL from rtm.connect)."""
        j = api.ok("rtm.connect")
        return Rtm(j["url"], **kw)

    def ws_url(self, token):
        return f"ws://127.0.0.1:{self.port}/rtm?token={urllib.parse.quote(token)}"


_real_starts = 0


def real_backends():
    """With CHAT_BACKENDS=real, the backend URLs of the seed's distributed
    deployment on the servers that tests/fixtures/*.sh started (their exec mode
    puts the URLs in the environment): PostgreSQL primary + standby for auth,
    user and channel (a schema each), MongoDB (FerretDB) for messages, Redis
    (with its replica) for presence, S3 for files and Kafka for events. Each
    deployment gets names of its own, so servers started one after another in a
    run never see each other's data. None for the embedded backends."""
    if os.environ.get("CHAT_BACKENDS") != "real":
        return None
    global _real_starts
    _real_starts += 1
    tag = f"e{os.getpid()}_{_real_starts}"

    def env(name):
        v = os.environ.get(name)
        if not v:
            pytest.fail(f"CHAT_BACKENDS=real needs {name} (run under tests/fixtures/*.sh exec)")
        return v

    pg = env("CHAT_TEST_PG_ALL")
    sep = "&" if "?" in pg else "?"
    s3 = env("CHAT_TEST_S3_URL")
    bucket_end = s3.find("?")
    redis = env("CHAT_TEST_REDIS_URL") + "/" + str(1 + _real_starts % 15)
    replica = os.environ.get("CHAT_TEST_REDIS_REPLICA")
    return {
        "store.auth": f"{pg}{sep}schema=auth_{tag}",
        "store.user": f"{pg}{sep}schema=user_{tag}",
        "store.channel": f"{pg}{sep}schema=channel_{tag}",
        "store.message": env("CHAT_TEST_MONGO_URL").rstrip("/") + f"/chat_{tag}",
        "presence": redis + (f"?replica={replica}" if replica else ""),
        "blob": s3[:bucket_end] + f"/{tag}" + s3[bucket_end:],
        "broker": env("CHAT_TEST_KAFKA_URL") + f"?prefix={tag}.",
    }


class Distributed(Chatd):
    """The same scenario on the distributed deployment: chat-authd, chat-userd,
    chat-channeld, chat-messaged, chat-presenced and chat-gateway as separate
    processes on loopback, sharing events through an SQLite broker file and
    reaching each other over nng RPC. Chosen with CHAT_DEPLOYMENT=distributed;
    the executables are found beside $CHATD."""

    SERVICES = ("auth", "user", "channel", "message", "presence")
    gateways = 1  # with 2, HAProxy (deploy/haproxy.cfg) fronts them at self.base

    def start(self):
        bindir = os.path.dirname(chatd_path())
        last = ""
        for _ in range(5):
            ports = {svc: free_port() for svc in self.SERVICES}
            self.port = free_port()
            self.base = f"http://127.0.0.1:{self.port}"
            gw_ports = [free_port() for _ in range(self.gateways)] if self.gateways > 1 \
                else [self.port]
            self.gateway_bases = [f"http://127.0.0.1:{p}" for p in gw_ports]
            conf = os.path.join(self.data_dir, "chat.conf")
            with open(conf, "w") as f:
                f.write(f"data_dir = {self.data_dir}\n")
                backends = real_backends()
                if backends is None:
                    f.write(f"broker = sqlite:{self.data_dir}/events.db\n")
                else:
                    for key, url in backends.items():
                        f.write(f"{key} = {url}\n")
                f.write("jwt.secret = e2e-distributed-deployment-secret\n")
                f.write(f"gateway.public_url = {self.base}\n")
                for svc, port in ports.items():
                    f.write(f"rpc.{svc} = tcp://127.0.0.1:{port}\n")
            self.procs = []
            with open(self.log_path, "ab") as log:
                for svc, port in ports.items():
                    self.procs.append(subprocess.Popen(
                        [os.path.join(bindir, f"chat-{svc}d"), "--config", conf,
                         "--listen", f"tcp://127.0.0.1:{port}", *self.extra_args],
                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        preexec_fn=_die_with_parent))
                for gw_base in self.gateway_bases:
                    self.proc = subprocess.Popen(
                        [os.path.join(bindir, "chat-gateway"), "--config", conf,
                         "--listen", gw_base, *self.extra_args],
                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        preexec_fn=_die_with_parent)
                    self.procs.append(self.proc)
                if self.gateways > 1:
                    env = dict(os.environ, CHAT_LB_BIND=f"127.0.0.1:{self.port}",
                               CHAT_GATEWAY1=f"127.0.0.1:{gw_ports[0]}",
                               CHAT_GATEWAY2=f"127.0.0.1:{gw_ports[1]}")
                    self.proc = self.lb_proc = subprocess.Popen(
                        ["haproxy", "-db", "-f", os.path.join(REPO, "deploy", "haproxy.cfg")],
                        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        preexec_fn=_die_with_parent)
                    self.procs.append(self.proc)
            if self._wait_ready() and all(p.poll() is None for p in self.procs):
                return self
            last = self.log_tail()
            self._terminate()
            if "address in use" not in last.lower():
                break
        pytest.fail(f"the distributed deployment did not start on {self.base}:\n{last}")

    def _terminate(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        worst = 0
        for p in self.procs:
            try:
                code = p.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                dump_stuck(p)
                p.kill()
                p.wait()
                code = None
            # HAProxy's way to end on SIGTERM is to die of it.
            if p is getattr(self, "lb_proc", None) and code == -signal.SIGTERM:
                code = 0
            if code != 0:
                worst = code
        return worst

    def stop(self):
        if self.proc is None:
            return 0
        if any(p.poll() is not None for p in self.procs):
            code = next(p.returncode for p in self.procs if p.poll() is not None)
            self._terminate()
        else:
            code = self._terminate()
        self.proc = None
        return code

    def alive(self):
        return self.proc is not None and all(p.poll() is None for p in self.procs)


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def new_server(extra_args=(), name="chatd"):
    """chatd, or the distributed deployment when CHAT_DEPLOYMENT=distributed."""
    if os.environ.get("CHAT_DEPLOYMENT") == "distributed":
        return Distributed(extra_args, name=name)
    return Chatd(extra_args, name=name)


def stop_checked(srv):
    """Stops srv and fails unless it was still running and exited cleanly
    (a server the test stopped itself, with srv.stop(), is only cleaned up)."""
    if srv.proc is None:
        srv.cleanup()
        return
    was_alive = srv.alive()
    code = srv.stop()
    tail = srv.log_tail()
    srv.cleanup()
    assert was_alive, f"chatd died during the test:\n{tail}"
    assert code == 0, f"chatd exited with {code} on SIGTERM:\n{tail}"


@pytest.fixture(scope="module")
def server():
    """One chatd for a test module, without rate limits."""
    srv = new_server(NO_RATE_LIMIT, name="mod").start()
    yield srv
    stop_checked(srv)


@pytest.fixture
def make_server():
    """Starts extra chatds with given arguments; each is stopped after the test."""
    started = []

    def make(*args, name="extra"):
        srv = new_server(args, name=name).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        stop_checked(srv)


@pytest.fixture
def alice(server):
    return server.signup("alice", "Alice")


@pytest.fixture
def bob(server):
    return server.signup("bob", "Bob")


@pytest.fixture
def carol(server):
    return server.signup("carol", "Carol")


# ----------------------------------------------------------- WebSocket ---


class BadFrame(AssertionError):
    """The server sent a WebSocket frame that is not a JSON text."""


class Rtm:
    """A WebSocket event-stream client. Reads the hello on connect; events
    read while waiting for something else are kept for later waits."""

    def __init__(self, url, expect_hello=True, timeout=EVENT_TIMEOUT, header=None):
        self.url = url
        self.timeout = timeout
        self.ws = websocket.create_connection(url, timeout=timeout, header=header)
        self.pending = []   # read but not yet taken
        self.seen = []      # everything read, in order
        self.hello = None
        self.closed = False
        if expect_hello:
            self.hello = self.next(timeout)
            assert self.hello.get("type") == "hello", self.hello

    def _read(self, timeout):
        self.ws.settimeout(max(timeout, 0.01))
        try:
            op, data = self.ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return None
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            self.closed = True
            raise
        if op == websocket.ABNF.OPCODE_CLOSE:
            self.closed = True
            raise websocket.WebSocketConnectionClosedException("closed by the server")
        try:
            ev = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
        except ValueError as e:  # UnicodeDecodeError is one too
            raise BadFrame(f"the server sent a frame that is not JSON text "
                                 f"({len(data)} bytes, ending {data[-40:]!r}): {e}") from None
        self.seen.append(ev)
        return ev

    def next(self, timeout=None):
        """The next event (pending first); fails when none comes in time."""
        if self.pending:
            return self.pending.pop(0)
        ev = self._read(self.timeout if timeout is None else timeout)
        assert ev is not None, f"no event within {timeout or self.timeout}s"
        return ev

    def wait_for(self, pred, timeout=None, what="event"):
        """The first event matching pred; others stay pending."""
        for i, ev in enumerate(self.pending):
            if pred(ev):
                return self.pending.pop(i)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            left = deadline - time.monotonic()
            ev = self._read(left) if left > 0 else None
            if ev is None:
                raise AssertionError(f"no {what} within the time; read meanwhile: "
                                     f"{json.dumps(self.pending)[-3000:]}")
            if pred(ev):
                return ev
            self.pending.append(ev)

    def wait_type(self, type_, timeout=None, **match):
        def pred(ev):
            return ev.get("type") == type_ and all(ev.get(k) == v for k, v in match.items())
        return self.wait_for(pred, timeout, what=f"{type_} {match}")

    def drain(self, quiet=0.3):
        """Reads until nothing comes for `quiet` seconds; returns what was read."""
        out = list(self.pending)
        self.pending.clear()
        while True:
            ev = self._read(quiet)
            if ev is None:
                return out
            out.append(ev)

    def send(self, obj):
        self.ws.send(json.dumps(obj))

    def close(self):
        try:
            self.ws.close(timeout=2)
        except Exception:
            pass


@pytest.fixture
def rtms():
    """Opens WebSocket clients (rtms(server, api)) and closes them after the test."""
    opened = []

    def connect(srv, api, **kw):
        c = srv.rtm(api, **kw)
        opened.append(c)
        return c

    yield connect
    for c in opened:
        c.close()


# --------------------------------------------------------------- JWTs ---


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def jwt_sign(claims, key):
    """An HS256 JWT as chatd makes them (header {"alg":"HS256","typ":"JWT"})."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"
