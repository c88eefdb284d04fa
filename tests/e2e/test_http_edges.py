"""The gateway's own HTTP/1.1 server and WebSocket code (libchat/gateway/
httpd.c, hub.c) driven over raw sockets, where a client library would smooth
over what the server does: pipelining, chunked bodies, 100-continue, HEAD,
keep-alive and close, half-close, refused heads, and hand-made WebSocket
frames (fragments, control frames, close codes)."""
import json
import os
import socket
import struct
import threading
import time
import urllib.parse

import pytest

from conftest import EVENT_TIMEOUT, unique

TIMEOUT = 30.0
FORM = "application/x-www-form-urlencoded"
MAX_HEAD = 16 * 1024        # httpd.c
MAX_WS_FRAME = 512 * 1024   # hub.c


# ---------------------------------------------------------- raw HTTP ---


class Raw:
    """One TCP connection to the server, with the bytes read but not yet
    taken kept for the next read: pipelined answers arrive in one recv."""

    def __init__(self, server, timeout=TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"the server closed; unread: {self.buf[:200]!r}")
        self.buf += chunk

    def read_exact(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self):
        """(status, {lowercase name: value}) of the next response head."""
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status = lines[0].split(" ", 2)[:2]
        assert version == "HTTP/1.1", lines[0]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(status), headers

    def read_response(self, head_only=False):
        """(status, headers, body); the body by Content-Length (none for HEAD)."""
        status, headers = self.read_head()
        n = 0 if head_only else int(headers.get("content-length", "0"))
        return status, headers, self.read_exact(n)

    def at_eof(self, timeout=TIMEOUT):
        """Whether the server closes with nothing more to say."""
        self.sock.settimeout(timeout)
        try:
            rest = self.sock.recv(65536)
        except ConnectionResetError:
            rest = b""
        self.after_eof = self.buf + rest  # what came instead, for the message
        return rest == b"" and self.buf == b""

    def close(self):
        self.sock.close()


@pytest.fixture
def raw(server):
    """Opens raw connections to the module's server; closed after the test."""
    opened = []

    def connect(srv=None):
        c = Raw(srv or server)
        opened.append(c)
        return c

    yield connect
    for c in opened:
        c.close()


@pytest.fixture(autouse=True)
def still_serving(server):
    """After every test: the server answers and is alive."""
    yield
    r = server.health()
    assert (r.status, r.json) == (200, {"ok": True}), r
    assert server.alive(), server.log_tail()


def get(path, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


def post(path, body, extra="", content_type=FORM):
    body = body if isinstance(body, bytes) else body.encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def chunked(parts):
    out = b""
    for p in parts:
        p = p.encode() if isinstance(p, str) else p
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return out + b"0\r\n\r\n"


def expect_refused(c, status):
    """A refusal the server ends the connection after."""
    got, headers, body = c.read_response()
    assert got == status, (got, headers, body)
    assert headers.get("connection") == "close", headers
    assert c.at_eof(), "the server should close after refusing"
    return body


def general(user):
    return [ch["id"] for ch in user.ok("conversations.list")["channels"] if ch["is_general"]][0]


# ------------------------------------------------------- HTTP requests ---


def test_pipelined_requests_answered_in_order(raw):
    """Several requests in one send: one answer each, in the order asked,
    even when the first takes a worker and the next is answered by the loop."""
    c = raw()
    c.send(get("/api/api.test?foo=first") + get("/no/such/thing/at/all") +
           get("/api/api.test?foo=second") + get("/health"))
    status, _, body = c.read_response()
    assert status == 200 and json.loads(body)["args"]["foo"] == "first", body
    status, _, body = c.read_response()
    assert status == 404, body
    status, _, body = c.read_response()
    assert status == 200 and json.loads(body)["args"]["foo"] == "second", body
    status, _, body = c.read_response()
    assert (status, json.loads(body)) == (200, {"ok": True})


def test_pipelined_answers_never_overtake(server):
    """Thousands of pipelined requests on a few connections at once: each
    answer in its request's place. A worker that answered quickly used to
    let the loop dispatch the next request before its own answer was queued,
    so the next one could overtake it (seen within a few hundred requests)."""
    n, conns = 3000, 6
    wrong = []

    def one():
        c = Raw(server)
        try:
            reqs = b"".join(get(f"/api/api.test?foo=n{i}") if i % 3 else get("/health")
                            for i in range(n))
            sender = threading.Thread(target=c.send, args=(reqs,))
            sender.start()
            for i in range(n):
                _, _, body = c.read_response()
                want = {"ok": True} if i % 3 == 0 else {"ok": True, "args": {"foo": f"n{i}"}}
                if json.loads(body) != want:
                    wrong.append((i, body[:60]))
            sender.join()
        except (OSError, EOFError, ValueError) as e:
            wrong.append(repr(e))
        finally:
            c.close()

    threads = [threading.Thread(target=one) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong, wrong[:10]


def test_pipelined_posts_with_bodies(raw):
    """A body followed by the next request in the same packet: the body's end
    is where the next head starts."""
    c = raw()
    c.send(post("/api/api.test", "foo=one") + post("/api/api.test", "foo=two%20too") +
           get("/api/api.test?foo=three"))
    for want in ("one", "two too", "three"):
        status, _, body = c.read_response()
        assert status == 200 and json.loads(body)["args"]["foo"] == want, body


def test_chunked_bodies(server, raw):
    c = raw()
    c.send(f"POST /api/api.test HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
           "Transfer-Encoding: chunked\r\n\r\n")
    c.send(chunked(["fo", "o=chu", "nked%20body"]))
    status, _, body = c.read_response()
    assert status == 200 and json.loads(body)["args"]["foo"] == "chunked body", body

    # with a chunk extension and a trailer, and the next request right behind
    c.send(f"POST /api/api.test HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
           "Transfer-Encoding: chunked\r\n\r\n".encode() +
           b"4;ext=1\r\nfoo=\r\n3\r\nabc\r\n0\r\nX-Trailer: yes\r\n\r\n" + get("/health"))
    status, _, body = c.read_response()
    assert status == 200 and json.loads(body)["args"]["foo"] == "abc", body
    assert c.read_response()[0] == 200

    # an authenticated method, JSON in chunks, sent a few bytes at a time
    user = server.signup("chunky")
    gen = general(user)
    text = unique("chunked message ✓ ")
    payload = json.dumps({"channel": gen, "text": text}).encode()
    c.send(f"POST /api/chat.postMessage HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           f"Authorization: Bearer {user.token}\r\n"
           "Content-Type: application/json; charset=utf-8\r\n"
           "Transfer-Encoding: chunked\r\n\r\n")
    for part in chunked([payload[i:i + 7] for i in range(0, len(payload), 7)]).split(b"\r\n"):
        c.send(part + b"\r\n" if part else b"\r\n")
    status, _, body = c.read_response()
    j = json.loads(body)
    assert status == 200 and j["ok"] is True and j["message"]["text"] == text, body
    got = user.ok("conversations.history", channel=gen, limit=1)["messages"][0]
    assert (got["ts"], got["text"]) == (j["ts"], text)


def test_malformed_chunked_body_is_refused(raw):
    c = raw()
    c.send(f"POST /api/api.test HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
           "Transfer-Encoding: chunked\r\n\r\nzz\r\nfoo=x\r\n0\r\n\r\n")
    expect_refused(c, 400)


def test_expect_100_continue(raw):
    """The 100 comes after the head and before the body is sent."""
    c = raw()
    body = b"foo=after%20the%20hundred"
    c.send(f"POST /api/api.test HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
           f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n")
    status, headers = c.read_head()
    assert status == 100, headers
    assert c.buf == b""
    c.send(body)
    status, _, got = c.read_response()
    assert status == 200 and json.loads(got)["args"]["foo"] == "after the hundred", got
    # too large: refused at once instead of a 100
    c = raw()
    c.send(f"POST /api/api.test HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
           f"Content-Length: {64 << 20}\r\nExpect: 100-continue\r\n\r\n")
    expect_refused(c, 413)


def test_head_has_headers_and_no_body(raw):
    c = raw()
    c.send(f"HEAD /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    status, headers, body = c.read_response(head_only=True)
    assert status == 200, headers
    assert headers["content-length"] == str(len(b'{"ok":true}')), headers
    assert headers["content-type"].startswith("application/json"), headers
    # no body followed: the next bytes are the next answer's status line
    c.send(get("/health"))
    status, headers, body = c.read_response()
    assert (status, json.loads(body)) == (200, {"ok": True})
    # HEAD of what is not there: a 404 head alone, the connection kept
    c.send(b"HEAD /no/such/file.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + get("/health"))
    status, headers, _ = c.read_response(head_only=True)
    assert status == 404 and int(headers["content-length"]) > 0, headers
    assert c.read_response()[0] == 200


def test_wrong_method_is_405(raw):
    c = raw()
    c.send(b"POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
           b"DELETE /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + get("/health"))
    for _ in range(2):
        status, headers, _ = c.read_response()
        assert status == 405 and headers.get("allow") == "GET, HEAD", headers
    assert c.read_response()[0] == 200  # kept alive: no body to skip
    # with a body the server would have to skip, it answers and closes
    c = raw()
    c.send(f"PUT /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc")
    expect_refused(c, 405)


@pytest.mark.parametrize("web_root", ["built in", "none"])
def test_unknown_path_is_404(server, make_server, raw, web_root):
    """404 whether the web client's route takes everything else (the default
    web root) or nothing does (--web-root '')."""
    srv = server if web_root == "built in" else make_server("--web-root", "", name="noweb")
    c = raw(srv)
    c.send(get("/no/such/page.html") + get("/api/api.test?foo=after"))
    status, _, body = c.read_response()
    assert status == 404, body
    status, _, body = c.read_response()
    assert status == 200 and json.loads(body)["args"]["foo"] == "after", body
    # a body with the unknown path: answered, then the connection ends
    c = raw(srv)
    c.send(post("/nowhere/at/all", "a=b"))
    assert c.read_response()[0] in (404, 405)


def test_head_over_16k_is_431(raw):
    c = raw()
    c.send(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {'a' * MAX_HEAD}\r\n\r\n")
    body = expect_refused(c, 431)
    assert json.loads(body) == {"ok": False, "error": "request_header_too_large"}
    # one that never ends: refused once it passes the limit, without its end
    c = raw()
    c.send(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {'b' * (MAX_HEAD + 10)}")
    expect_refused(c, 431)
    # just under the limit is fine
    c = raw()
    c.send(get("/health", f"X-Big: {'c' * (MAX_HEAD - 200)}\r\n"))
    assert c.read_response()[0] == 200


@pytest.mark.parametrize("line", [
    "GARBAGE",
    "GET /health",                      # HTTP/0.9
    "GET /health HTTP/1.1 extra",
    "GET  /health HTTP/1.1",            # two spaces
    "GET /hea\x01lth HTTP/1.1",         # a control character in the target
    "GET /health HTTP/1.x",
    "G(T /health HTTP/1.1",             # not a token
])
def test_malformed_request_line_is_400(raw, line):
    c = raw()
    c.send(f"{line}\r\nHost: 127.0.0.1\r\n\r\n")
    body = expect_refused(c, 400)
    assert json.loads(body) == {"ok": False, "error": "invalid_request"}


def test_nothing_is_read_after_a_refusal(server, raw):
    """After a refused request nothing more on the connection is served, even
    while the refusal waits behind unread answers: here a client pipelines
    ~28 MiB of answers without reading them, sends a bad request, then a
    valid chat.postMessage, which must not be posted."""
    user = server.signup("smuggler")
    gen = general(user)
    c = raw()
    c.send(get("/style.css") * 1000)
    time.sleep(0.5)  # answered (queued) before the next bytes come
    c.send(b"GARBAGE\r\n\r\n")
    time.sleep(0.5)  # refused before the next bytes come: they are a new read
    text = unique("after the refusal ")
    c.send(post("/api/chat.postMessage", urllib.parse.urlencode({"channel": gen, "text": text}),
                f"Authorization: Bearer {user.token}\r\n"))
    time.sleep(1.0)  # what a worker would need to post it
    c.close()
    texts = [m["text"] for m in user.ok("conversations.history", channel=gen)["messages"]]
    assert text not in texts


def rss_kib(srv):
    with open(f"/proc/{srv.proc.pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])


def check_growth(srv, before, limit_kib):
    """Fails when srv grew by more than limit_kib since `before`; not under
    AddressSanitizer, whose quarantine keeps what the requests freed."""
    with open(f"/proc/{srv.proc.pid}/maps") as f:
        if "libasan" in f.read():
            return
    grown = rss_kib(srv) - before
    assert grown < limit_kib, f"the server grew by {grown} KiB for answers nobody reads"


def test_answers_left_unread_stop_the_reading(server):
    """A client that pipelines requests and reads none of the answers: the
    server stops reading once 1 MiB of answers wait (httpd.c MAX_UNSENT)
    instead of queueing them all (here 3,000 x 28 KiB = 84 MiB); every
    answer still comes, in order, once the client reads."""
    n = 3000
    css = http_get_len(server, "/style.css")
    c = Raw(server)
    try:
        before = rss_kib(server)
        sender = threading.Thread(target=c.send, args=(get("/style.css") * n,), daemon=True)
        sender.start()
        time.sleep(2.0)  # what the server would need to queue them all
        check_growth(server, before, 32 * 1024)
        for i in range(n):
            status, _, body = c.read_response()
            assert status == 200 and len(body) == css, (i, status, len(body))
        sender.join(10)
    finally:
        c.close()


def test_404s_left_unread_stop_the_reading(make_server):
    """The same for answers the loop makes itself (404 without a web root):
    150,000 pipelined requests (5.6 MiB) whose 20 MiB of 404s nobody reads."""
    srv = make_server("--web-root", "", name="noweb")
    n = 150_000
    req = get("/nowhere")
    c = Raw(srv)
    try:
        before = rss_kib(srv)
        sender = threading.Thread(target=c.send, args=(req * n,), daemon=True)
        sender.start()
        time.sleep(3.0)  # what the server would need to read them all
        check_growth(srv, before, 12 * 1024)
        for i in range(n):
            status, _, _ = c.read_response()
            assert status == 404, (i, status)
        sender.join(10)
    finally:
        c.close()


def http_get_len(srv, path):
    c = Raw(srv)
    try:
        c.send(get(path))
        status, _, body = c.read_response()
        assert status == 200
        return len(body)
    finally:
        c.close()


def test_content_length_with_transfer_encoding_is_400(raw):
    c = raw()
    c.send(f"POST /api/api.test HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
           "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nfoo=bad\r\n0\r\n\r\n")
    expect_refused(c, 400)
    # and two differing Content-Lengths
    c = raw()
    c.send(f"POST /api/api.test HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
           "Content-Length: 7\r\nContent-Length: 8\r\n\r\nfoo=bad")
    expect_refused(c, 400)


def test_200_requests_on_one_connection(raw):
    c = raw()
    for i in range(200):
        if i % 2:
            c.send(get(f"/api/api.test?foo=n{i}"))
        else:
            c.send(post("/api/api.test", f"foo=n{i}"))
        status, headers, body = c.read_response()
        assert status == 200 and json.loads(body)["args"]["foo"] == f"n{i}", (i, body)
        assert "connection" not in headers, headers


def test_connection_close(raw):
    c = raw()
    c.send(get("/api/api.test?foo=last", "Connection: close\r\n"))
    status, headers, body = c.read_response()
    assert status == 200 and json.loads(body)["args"]["foo"] == "last", body
    assert headers.get("connection") == "close", headers
    assert c.at_eof(), "the server should close after Connection: close"
    # HTTP/1.0 without keep-alive: the same
    c = raw()
    c.send("GET /health HTTP/1.0\r\n\r\n")
    status, headers, body = c.read_response()
    assert status == 200 and headers.get("connection") == "close", headers
    assert c.at_eof()


def test_http10_keep_alive_is_confirmed(raw):
    """An HTTP/1.0 client asking for keep-alive keeps the connection only
    when the answer says so."""
    c = raw()
    for path in ("/health", "/no/such/thing", "/health"):
        c.send(f"GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        status, headers, _ = c.read_response()
        assert status in (200, 404) and headers.get("connection") == "keep-alive", headers


def test_half_close_still_gets_the_whole_response(raw):
    """A client that sends its request and shuts its sending side: the answer,
    here larger than a socket buffer, comes whole, then the server closes."""
    value = "x" * (800 * 1024)
    for pipelined in (1, 2):
        c = raw()
        c.send(post("/api/api.test", f"foo={value}") * pipelined)
        c.sock.shutdown(socket.SHUT_WR)
        for _ in range(pipelined):
            status, _, body = c.read_response()
            assert status == 200 and json.loads(body)["args"]["foo"] == value, body[:200]
        assert c.at_eof()


def test_half_close_in_the_middle_of_a_body(server):
    """The body can no longer come: 400 and the end at once, not after the
    idle timeout (120 s; this waits 10)."""
    for body_start in (f"Content-Length: 10\r\n\r\nfoo",
                       "Transfer-Encoding: chunked\r\n\r\n5\r\nfoo"):
        c = Raw(server, timeout=10)
        try:
            c.send(f"POST /api/api.test HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Content-Type: {FORM}\r\n{body_start}")
            c.sock.shutdown(socket.SHUT_WR)
            status, headers, _ = c.read_response()
            assert status == 400 and headers.get("connection") == "close", headers
            assert c.at_eof(10)
        finally:
            c.close()


# ---------------------------------------------------------- WebSocket ---

WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 1.3's example


def ws_frame(opcode, payload=b"", fin=True, mask=True, length=None):
    """A client frame; length overrides the payload's in the header."""
    payload = payload.encode() if isinstance(payload, str) else payload
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


class RawWs:
    """A WebSocket over a Raw connection, made by hand."""

    def __init__(self, c):
        self.c = c

    def frame(self):
        """(opcode, fin, payload) of the next server frame (never masked)."""
        b0, b1 = self.c.read_exact(2)
        assert not b1 & 0x80, "server frames are not masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self.c.read_exact(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self.c.read_exact(8))[0]
        return b0 & 0x0F, bool(b0 & 0x80), self.c.read_exact(n)

    def text(self):
        """The next text message, control frames skipped."""
        while True:
            op, fin, payload = self.frame()
            if op == 0x1:
                assert fin
                return json.loads(payload)
            assert op in (0x9, 0xA), (op, payload)

    def reply(self, id_):
        """The answer to message id_; events met meanwhile are skipped."""
        while True:
            j = self.text()
            if j.get("reply_to") == id_:
                return j

    def close_code(self):
        """The code of the close frame that ends what the server sends; then
        the server hangs up."""
        while True:
            op, _, payload = self.frame()
            if op == 0x8:
                assert len(payload) >= 2, payload
                assert self.c.at_eof(), f"the server should hang up after its close: {self.c.after_eof[:200]!r}"
                return struct.unpack(">H", payload[:2])[0]
            assert op in (0x1, 0x9, 0xA), (op, payload)

    def send(self, *frames):
        self.c.send(b"".join(frames))


def ws_handshake(srv, c, token, version="13", key=WS_KEY, frames=b""):
    c.send(f"GET /rtm?token={urllib.parse.quote(token)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
           f"Sec-WebSocket-Version: {version}\r\n\r\n".encode() + frames)


@pytest.fixture
def ws(server, raw):
    """A raw WebSocket, upgraded and greeted (its hello read)."""
    user = server.signup("raw")

    def open_():
        c = raw()
        ws_handshake(server, c, user.token)
        status, headers = c.read_head()
        assert status == 101, headers
        assert headers["sec-websocket-accept"] == WS_ACCEPT, headers
        assert headers["upgrade"].lower() == "websocket", headers
        w = RawWs(c)
        hello = w.text()
        assert hello["type"] == "hello", hello
        return w

    return open_


def test_ws_fragmented_message_with_a_ping_between(ws):
    w = ws()
    msg = json.dumps({"type": "ping", "id": 5}).encode()
    a, b, rest = msg[:4], msg[4:11], msg[11:]
    w.send(ws_frame(0x1, a, fin=False), ws_frame(0x0, b, fin=False))
    w.send(ws_frame(0x9, b"are you there"))
    w.send(ws_frame(0x0, rest, fin=True))
    got_pong_frame = got_reply = False
    while not (got_pong_frame and got_reply):
        op, fin, payload = w.frame()
        assert fin
        if op == 0xA:
            assert payload == b"are you there"
            assert not got_reply, "the control frame is answered before the message ends"
            got_pong_frame = True
        elif op == 0x1:
            j = json.loads(payload)
            if j.get("type") == "pong":
                assert j["reply_to"] == 5, j
                got_reply = True
        else:
            raise AssertionError((op, payload))
    # the connection goes on
    w.send(ws_frame(0x1, json.dumps({"type": "ping", "id": 6})))
    assert w.reply(6) == {"type": "pong", "reply_to": 6}


def test_ws_frames_right_behind_the_handshake(server, raw):
    """Frames in the same packet as the upgrade request are read, not dropped
    with the rest of the HTTP buffer."""
    user = server.signup("eager")
    c = raw()
    c.sock.settimeout(10)
    ws_handshake(server, c, user.token,
                 frames=ws_frame(0x1, json.dumps({"type": "ping", "id": 11})) +
                 ws_frame(0x9, b"early"))
    assert c.read_head()[0] == 101
    w = RawWs(c)
    assert w.reply(11) == {"type": "pong", "reply_to": 11}


def test_ws_close_handshake_echoes_the_code(ws):
    for code in (1000, 4001):
        w = ws()
        w.send(ws_frame(0x8, struct.pack(">H", code) + b"bye"))
        assert w.close_code() == code


@pytest.mark.parametrize("payload", [
    b"\x03",                                   # one byte: half a code
    struct.pack(">H", 1005),                   # "no code": never sent in a frame
    struct.pack(">H", 1006),
    struct.pack(">H", 1015),
    struct.pack(">H", 999),
    struct.pack(">H", 2999),                   # unassigned
    struct.pack(">H", 1000) + b"\xc3\x28",     # a reason that is not UTF-8
])
def test_ws_invalid_close_is_1002(ws, payload):
    w = ws()
    w.send(ws_frame(0x8, payload))
    assert w.close_code() == 1002


def test_ws_binary_frame_is_1003(ws):
    w = ws()
    w.send(ws_frame(0x2, b"\x00\x01\x02"))
    assert w.close_code() == 1003


def test_ws_invalid_utf8_is_1007(ws):
    w = ws()
    w.send(ws_frame(0x1, b'{"type":"ping","id":1,"x":"\xc3\x28"}'))
    assert w.close_code() == 1007
    # split across fragments, a character is whole only in the message
    w = ws()
    w.send(ws_frame(0x1, b'{"type":"ping","id":7,"x":"\xc3', fin=False),
           ws_frame(0x0, b'("}', fin=True))
    assert w.close_code() == 1007


def test_ws_character_split_across_fragments_is_fine(ws):
    w = ws()
    whole = json.dumps({"type": "ping", "id": 8, "x": "é😀"}, ensure_ascii=False).encode()
    cut = whole.index("😀".encode()) + 2
    w.send(ws_frame(0x1, whole[:cut], fin=False), ws_frame(0x0, whole[cut:]))
    assert w.reply(8) == {"type": "pong", "reply_to": 8}


def test_ws_unmasked_frame_is_1002(ws):
    w = ws()
    w.send(ws_frame(0x1, json.dumps({"type": "ping", "id": 1}), mask=False))
    assert w.close_code() == 1002


def test_ws_frame_over_512k_is_1009(ws):
    """Refused from its header alone, before the payload is read."""
    w = ws()
    w.send(ws_frame(0x1, b"", length=MAX_WS_FRAME + 1))
    assert w.close_code() == 1009
    # exactly the limit is still read
    w = ws()
    msg = json.dumps({"type": "ping", "id": 9}).encode()
    w.send(ws_frame(0x1, msg + b" " * (MAX_WS_FRAME - len(msg))))
    assert w.reply(9) == {"type": "pong", "reply_to": 9}


def test_ws_bad_version_is_400(server, raw):
    user = server.signup("raw")
    for version in ("8", "14", ""):
        c = raw()
        ws_handshake(server, c, user.token, version=version)
        expect_refused(c, 400)
    c = raw()
    ws_handshake(server, c, user.token, key="short")
    expect_refused(c, 400)
