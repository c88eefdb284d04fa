"""chatd for the SDK tests: one process on a free loopback port with its
own data directory (CHATD names the executable; ctest sets it), people signed
up with plain urllib, stopped at the end (it must exit 0 on SIGTERM). With
CHAT_SDK_BASE set (tests/sdk/distributed.py), the servers already run there:
start() waits for them and stop() leaves them to whoever started them."""
import itertools
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

START_TIMEOUT = float(os.environ.get("CHAT_E2E_START_TIMEOUT", "60"))
STOP_TIMEOUT = 30.0
HTTP_TIMEOUT = 30
PASSWORD = "correct horse battery staple"

_uniq = itertools.count(1)


def unique(prefix):
    return f"{prefix}{os.getpid()}x{next(_uniq)}"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_post(url, fields):
    """POST a form with plain urllib; returns (status, parsed JSON body)."""
    body = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
            return r.status, json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw.decode())
        except ValueError:
            return e.code, raw


class Chatd:
    """One chatd process on a free loopback port with its own data directory."""

    def __init__(self, extra_args=()):
        self.extra_args = list(extra_args)
        self.external = os.environ.get("CHAT_SDK_BASE")
        self.data_dir = tempfile.mkdtemp(prefix="libchat-sdk-python-")
        self.log_path = os.environ.get("CHAT_SDK_LOG") or os.path.join(self.data_dir, "chatd.log")
        self.proc = None
        self.base = self.external
        if self.external:
            return
        self.exe = os.environ.get("CHATD")
        if not self.exe:
            pytest.fail("CHATD is not set: run through ctest, or set CHATD=/path/to/chatd")
        if not os.access(self.exe, os.X_OK):
            pytest.fail(f"CHATD={self.exe} is not an executable")

    def start(self):
        if self.external:
            deadline = time.monotonic() + START_TIMEOUT
            while not self._healthy():
                if time.monotonic() > deadline:
                    pytest.fail(f"nothing healthy at CHAT_SDK_BASE={self.base}")
                time.sleep(0.1)
            return self
        last = ""
        for _ in range(5):  # another process may take the port in between
            port = free_port()
            self.base = f"http://127.0.0.1:{port}"
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [self.exe, "--data", os.path.join(self.data_dir, "data"),
                     "--listen", self.base,
                     # fast signups; no rate limits in the way of 250 posts
                     "--set", "argon2.m_cost_kib=64", "--set", "argon2.t_cost=1",
                     "--set", "ratelimit.per_sec=1000000", "--set", "ratelimit.burst=1000000",
                     *self.extra_args],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if self._wait_ready():
                return self
            last = self.log_tail()
            if self.proc.poll() is None:
                self._terminate()
                break
        pytest.fail(f"chatd did not become ready on {self.base}:\n{last}")

    def _healthy(self):
        try:
            with urllib.request.urlopen(self.base + "/health", timeout=2) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        return False

    def _terminate(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def stop(self):
        """(was it still running, exit code or None when it had to be killed)."""
        if self.external:
            return self._healthy(), 0  # its starter checks how it exits
        if self.proc is None:
            return False, None
        alive = self.proc.poll() is None
        code = self._terminate() if alive else self.proc.returncode
        self.proc = None
        return alive, code

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-n:]
        except OSError:
            return ""

    def signup(self, prefix, real_name):
        email = f"{unique(prefix)}@example.com"
        status, j = raw_post(self.base + "/api/auth.signup",
                             {"email": email, "password": PASSWORD, "real_name": real_name})
        assert status == 200 and isinstance(j, dict) and j.get("ok") is True, (status, j)
        assert j["token"] and j["user_id"] and j["team_id"], j
        return j


