"""What chatd answers to bad requests, and that none of them hurts it: every
test here ends by checking that the server still answers and is alive."""
import json
import os
import socket
import subprocess
import time

import pytest

from conftest import b64url, http_request, jwt_claims, jwt_sign

MAX_BODY = 1 << 20  # the gateway's default body limit
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def user(server):
    return server.signup("err")


@pytest.fixture(autouse=True)
def still_serving(server):
    """After every test: /health answers and the process is alive."""
    yield
    r = server.health()
    assert (r.status, r.json) == (200, {"ok": True}), r
    assert server.alive(), server.log_tail()


def call_raw(server, method, body=None, content_type=None, token=None, verb=None, query=""):
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if token:
        headers["Authorization"] = "Bearer " + token
    return http_request(f"{server.base}/api/{method}{query}", body, headers, verb)


def expect(r, status, error, detail=None):
    assert r.status == status, r
    assert r.headers.get("Content-Type") == "application/json; charset=utf-8", r
    assert r.json["ok"] is False and r.json["error"] == error, r
    if detail is not None:
        assert r.json["detail"] == detail, r


def general(server, user):
    return [c["id"] for c in user.ok("conversations.list")["channels"] if c["is_general"]][0]


# ------------------------------------------------------------- bodies ---


@pytest.mark.parametrize("body", [b"{bad", b'{"channel":', b"[1,2,3]", b'"text"', b"{}{}",
                                  b"\x00"])
def test_malformed_json(server, user, body):
    r = call_raw(server, "auth.test", body, JSON, user.token)
    expect(r, 200, "invalid_json")


def test_wrong_content_type(server, user):
    r = call_raw(server, "auth.test", b"hello", "text/plain", user.token)
    expect(r, 200, "invalid_post_type",
           "use application/x-www-form-urlencoded or application/json")
    multipart = (b"--XyZ\r\nContent-Disposition: form-data; name=\"channel\"\r\n\r\nC1\r\n"
                 b"--XyZ--\r\n")
    r = call_raw(server, "chat.postMessage", multipart, "multipart/form-data; boundary=XyZ",
                 user.token)
    expect(r, 200, "invalid_post_type")
    r = call_raw(server, "auth.test", b"<a/>", "application/xml", user.token)
    expect(r, 200, "invalid_post_type")
    # a form without a Content-Type is read as a form
    r = call_raw(server, "api.test", b"foo=bar", None)
    assert (r.status, r.json) == (200, {"ok": True, "args": {"foo": "bar"}}), r


# -------------------------------------------------------------- tokens ---


def test_missing_token(server):
    for verb, body, ct in (("GET", None, None), ("POST", b"", FORM), ("POST", b"{}", JSON)):
        r = call_raw(server, "auth.test", body, ct, verb=verb)
        expect(r, 200, "not_authed", "no token")
    expect(call_raw(server, "auth.test", query="?token="), 200, "not_authed")
    r = http_request(server.base + "/api/auth.test",
                     headers={"Authorization": "Basic dXNlcjpwdw=="})
    expect(r, 200, "not_authed")


def test_forged_tokens(server, user):
    head, body, sig = user.token.split(".")
    flipped = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
    claims = jwt_claims(user.token)
    forged = [
        "garbage",
        "a.b.c",
        f"{head}.{body}.{flipped}",                       # wrong signature
        f"{head}.{body}",                                  # no signature
        jwt_sign(claims, b"k" * 32),                       # another key
        jwt_sign({**claims, "exp": claims["exp"] + 3600}, b"k" * 32),
        # alg none with the real claims
        f"{b64url(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{body}.",
        # the real signature over changed claims (another user)
        f"{head}.{b64url(json.dumps({**claims, 'sub': 'UOTHERUSER1'}).encode())}.{sig}",
        "x" * 5000,
    ]
    for tok in forged:
        for via in ("get", "form", "json"):
            r = user.as_(tok).request("auth.test", via=via)
            expect(r, 200, "invalid_auth")
        r = user.as_(tok).request("auth.test", token_param=True)
        expect(r, 200, "invalid_auth")
    assert user.ok("auth.test")["user_id"] == user.user_id  # the real one still works


def test_expired_token(server, user):
    """chatd signs with the key kept in its data directory (jwt.key, as no
    jwt.secret is set): a token made with it is genuine, so one whose exp has
    passed must be refused as token_expired, not invalid_auth."""
    with open(os.path.join(server.data_dir, "jwt.key"), "rb") as f:
        key = f.read()
    assert len(key) == 32
    claims = jwt_claims(user.token)
    assert set(claims) == {"iss", "sub", "team", "iat", "exp", "gen", "jti"}
    now = int(time.time())
    # control: a token made here with a future exp is accepted, so the key and
    # the claims are right and the next refusal is about exp alone
    fresh = jwt_sign({**claims, "iat": now - 10, "exp": now + 600, "jti": "e2e-fresh-token-aaaa"},
                     key)
    assert user.as_(fresh).ok("auth.test")["user_id"] == user.user_id
    for exp in (now - 1, now - 86400, 1):
        old = jwt_sign({**claims, "iat": min(exp, now) - 60, "exp": exp,
                        "jti": "e2e-expired-token-aaa"}, key)
        for via in ("get", "form", "json"):
            r = user.as_(old).request("auth.test", via=via)
            expect(r, 200, "token_expired", "token expired")
    # on the WebSocket as well
    r = user.as_(old).request("rtm.connect")
    expect(r, 200, "token_expired")


# ---------------------------------------------------------------- sizes ---


def test_oversized_body(server, user):
    # exactly the limit is read (and is a valid call)
    body = b"foo=" + b"x" * (MAX_BODY - 4)
    assert len(body) == MAX_BODY
    r = call_raw(server, "api.test", body, FORM)
    assert r.status == 200 and r.json["ok"] is True and len(r.json["args"]["foo"]) == MAX_BODY - 4
    # one byte more is refused, whatever the type and whether authenticated
    for ct, body in ((FORM, b"foo=" + b"x" * (MAX_BODY - 3)),
                     (JSON, b'{"text":"' + b"x" * MAX_BODY + b'"}'),
                     ("text/plain", b"y" * (MAX_BODY + 1))):
        r = call_raw(server, "chat.postMessage", body, ct, user.token)
        expect(r, 413, "request_too_large", f"bodies are limited to {MAX_BODY} bytes")
        r = call_raw(server, "api.test", body, ct)
        expect(r, 413, "request_too_large")


def test_huge_body_is_refused_before_it_is_read(server, user):
    """Far past the limit (here 64 MiB announced), the server answers 413
    without waiting for the body, and closes (libchat/gateway/httpd.c refuses
    above 4x the limit; the method refuses what lies between)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        # headers only: the answer must come without the body
        s.sendall((f"POST /api/chat.postMessage HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Authorization: Bearer {user.token}\r\nContent-Type: {FORM}\r\n"
                   f"Content-Length: {64 << 20}\r\n\r\n").encode())
        answer = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1 413 "), head
    assert b"Connection: close" in head, head
    assert json.loads(body) == {"ok": False, "error": "request_too_large"}, body


# ---------------------------------------------------------------- UTF-8 ---


def test_invalid_utf8(server, user):
    gen = general(server, user)
    cases = [
        (FORM, f"channel={gen}&text=%C3%28".encode()),        # bad continuation, escaped
        (FORM, f"channel={gen}&text=".encode() + b"\xff\xfe"),  # raw bytes
        (FORM, f"channel={gen}&te%ffxt=hi".encode()),          # in a key
        (FORM, f"channel={gen}&text=%ED%A0%80".encode()),     # a UTF-16 surrogate
        (FORM, f"channel={gen}&text=%C0%AF".encode()),        # overlong '/'
        (FORM, f"channel={gen}&text=a%00b".encode()),         # NUL
        (JSON, b'{"channel":"' + gen.encode() + b'","text":"\xff"}'),
        (JSON, b'{"channel":"' + gen.encode() + b'","text":"\xc3\x28"}'),
        (JSON, b'{"channel":"' + gen.encode() + b'","te\xe2\x82xt":"hi"}'),
    ]
    for ct, body in cases:
        r = call_raw(server, "chat.postMessage", body, ct, user.token)
        expect(r, 200, "invalid_utf8")
    r = call_raw(server, "chat.postMessage", None, None, user.token, "GET",
                 f"?channel={gen}&text=%FF")
    expect(r, 200, "invalid_utf8")
    # nothing of it was posted
    texts = [m["text"] for m in user.ok("conversations.history", channel=gen, limit=1000)
             ["messages"]]
    assert all("\ufffd" not in t for t in texts)
    assert "hi" not in texts


# -------------------------------------------------------------- routing ---


def test_unknown_method(server, user):
    for name in ("no.such", "chat.postmessage", "auth.verify", "rtm.heartbeat", "rtm.typing",
                 "", "x" * 300):
        r = call_raw(server, name, token=user.token)
        expect(r, 200, "unknown_method")
        r = call_raw(server, name, b"a=b", FORM)
        expect(r, 200, "unknown_method")


def test_http_verbs(server, user):
    for verb in ("PUT", "DELETE", "PATCH"):
        r = call_raw(server, "auth.test", b"", FORM, user.token, verb)
        expect(r, 405, "method_not_allowed", "use GET or POST")
    r = call_raw(server, "chat.postMessage", b"{}", JSON, user.token, "PUT")
    expect(r, 405, "method_not_allowed")


# ------------------------------------------------------------ arguments ---


def test_message_too_long(server, user):
    gen = general(server, user)
    for via in ("form", "json"):
        j = user.fail("chat.postMessage", "msg_too_long", via=via, channel=gen,
                      text="x" * 40001)
        assert j["detail"] == "text has 40001 characters, more than 40000"
    # 40,000 characters is the limit, counted in characters, not bytes
    for text in ("y" * 40000, "é" * 40000, "😀" * 40000):
        ts = user.post(gen, text)["ts"]
        got = user.ok("conversations.history", channel=gen, latest=ts, inclusive=True, limit=1)
        assert got["messages"][0]["text"] == text
    user.fail("chat.postMessage", "msg_too_long", channel=gen, text="😀" * 40001)
    ts = user.post(gen, "short")["ts"]
    user.fail("chat.update", "msg_too_long", channel=gen, ts=ts, text="z" * 40001)


def test_wrong_argument_types(server, user):
    gen = general(server, user)
    user.fail("conversations.history", "invalid_arguments", channel=gen, limit="ten")
    user.fail("conversations.history", "invalid_arguments", via="json", channel=gen,
              limit={"a": 1})
    user.fail("conversations.history", "invalid_limit", channel=gen, limit=-5)
    user.fail("users.profile.set", "invalid_arguments", profile="{not json")


def test_server_survived_everything(server):
    """Runs last in this module: the process that took all of the above is
    the one that still answers, and it stops cleanly (checked at teardown)."""
    assert server.alive()
    a = server.signup("survivor")
    gen = general(server, a)
    ts = a.post(gen, "still here")["ts"]
    assert a.ok("conversations.history", channel=gen, limit=1)["messages"][0]["ts"] == ts


# ------------------------------------------------------- the data dir ---


def _second_chatd(server, *args):
    from conftest import chatd_path, free_port
    return subprocess.run([chatd_path(), "--data", server.data_dir, "--listen",
                           f"http://127.0.0.1:{free_port()}", *args],
                          capture_output=True, text=True, timeout=60)


def test_a_second_chatd_on_the_same_data_dir_is_refused(server, user):
    """chatd keeps the locks of its SQLite files (sqlite.locking = exclusive):
    a second one on the same directory says why and exits, and the first
    keeps serving what it had."""
    before = user.ok("conversations.history", channel=general(server, user))
    p = _second_chatd(server)
    assert p.returncode != 0, p.stdout + p.stderr
    assert "is in use by another process (sqlite.locking is exclusive)" in p.stderr, p.stderr
    assert user.ok("conversations.history", channel=general(server, user)) == before


def test_a_bad_sqlite_locking_is_a_config_error(server):
    p = _second_chatd(server, "--set", "sqlite.locking=sometimes")
    assert p.returncode != 0
    assert 'sqlite.locking is "sometimes": exclusive or shared' in p.stderr, p.stderr
