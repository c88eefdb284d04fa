"""The Events API end to end (issue 14): an app that gives a request URL
gets its events as signed HTTP POSTs, after Slack's url_verification
challenge; what its URL does not take is sent again with X-Slack-Retry-Num,
and what happens while it is down waits for it. Runs against chatd and the
separate servers."""
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time
import urllib.parse

import pytest

from conftest import NO_RATE_LIMIT, free_port, new_server, stop_checked, unique, wait_until

RETRY_MS = 1000


@pytest.fixture(scope="module")
def server():
    """This module's server retries a failed POST after a second, not a minute."""
    srv = new_server(NO_RATE_LIMIT + ("--set", f"gateway.app_retry_ms={RETRY_MS}"),
                     name="mod").start()
    yield srv
    stop_checked(srv)


class Endpoint:
    """An app's request URL: checks each request's signature and answers the
    challenge; `fail` makes it answer 500 that many times."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        self.secret = None
        self.requests = []   # (headers, body as JSON) of every request, in order
        self.fail = 0
        self.command_reply = b""
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                ts = self.headers["X-Slack-Request-Timestamp"]
                want = "v0=" + hmac.new(outer.secret.encode(), f"v0:{ts}:".encode() + raw,
                                        hashlib.sha256).hexdigest()
                ok_sig = hmac.compare_digest(want, self.headers["X-Slack-Signature"] or "")
                if self.headers["Content-Type"] == "application/x-www-form-urlencoded":
                    body = {k: v[0] for k, v in urllib.parse.parse_qs(
                        raw.decode(), keep_blank_values=True).items()}
                    body["type"] = "slash_command"
                else:
                    body = json.loads(raw)
                with outer.lock:
                    outer.requests.append((dict(self.headers), body, ok_sig))
                    failing = outer.fail > 0 and body["type"] != "url_verification"
                    if failing:
                        outer.fail -= 1
                if failing or not ok_sig:
                    self.send_response(500)
                    self.end_headers()
                    return
                reply = body["challenge"].encode() if body["type"] == "url_verification" else \
                    outer.command_reply if body["type"] == "slash_command" else b""
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.httpd = None
        self.handler = Handler

    def start(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def events(self):
        with self.lock:
            return [(h, b) for h, b, _ in self.requests if b.get("type") == "event_callback"]

    def event(self, pred, what):
        return wait_until(lambda: next((hb for hb in self.events() if pred(hb[1]["event"])),
                                       None), what=what, timeout=20)


@pytest.fixture
def endpoint():
    e = Endpoint().start()
    yield e
    e.stop()


def make_app(server, owner, url, events=("message.channels", "app_mention"), socket=False,
             commands=(), command_url=None):
    cmds = [dict(command=c, **({"url": command_url} if command_url else {})) for c in commands]
    m = {"display_information": {"name": "Hook Bot"},
         "features": {"bot_user": {"display_name": "hookbot"}, "slash_commands": cmds},
         "oauth_config": {"scopes": {"bot": ["chat:write", "channels:join", "channels:history",
                                             "app_mentions:read"]}},
         "settings": {"socket_mode_enabled": socket,
                      "event_subscriptions": {"bot_events": list(events),
                                              **({"request_url": url} if url else {})}}}
    j = owner.ok("apps.manifest.create", via="json", manifest=m)
    return j, server.api(j["bot_token"])


def joined_channel(alice, bot):
    c = alice.ok("conversations.create", name=unique("hook"))["channel"]["id"]
    bot.ok("conversations.join", channel=c)
    return c


def test_signed_posts_after_the_challenge(server, alice, endpoint):
    j, bot = make_app(server, alice, endpoint.url)
    endpoint.secret = j["credentials"]["signing_secret"]
    c = joined_channel(alice, bot)
    posted = alice.post(c, f"<@{j['bot_user_id']}> ship it")
    h, body = endpoint.event(lambda e: e["type"] == "message", "the message event")
    with endpoint.lock:
        kinds = [b["type"] for _, b, _ in endpoint.requests]
        assert all(ok for _, _, ok in endpoint.requests), "a request was not signed right"
    assert kinds[0] == "url_verification", kinds
    assert abs(int(h["X-Slack-Request-Timestamp"]) - time.time()) < 60, h
    assert h["Content-Type"] == "application/json" and "X-Slack-Retry-Num" not in h, h
    assert body["api_app_id"] == j["app_id"] and body["team_id"] == alice.team_id, body
    assert body["authorizations"][0]["user_id"] == j["bot_user_id"], body
    e = body["event"]
    assert (e["channel"], e["ts"], e["user"]) == (c, posted["ts"], alice.user_id), e
    h, m = endpoint.event(lambda e: e["type"] == "app_mention", "the app_mention")
    assert m["event"]["ts"] == posted["ts"] and m["event_id"] != body["event_id"], m
    # taken with a 200: never sent again
    time.sleep(RETRY_MS / 1000 * 2.5)
    assert len([b for _, b in endpoint.events() if b["event_id"] == body["event_id"]]) == 1


def test_failed_posts_are_retried(server, alice, endpoint):
    j, bot = make_app(server, alice, endpoint.url, events=("message.channels",))
    endpoint.secret = j["credentials"]["signing_secret"]
    c = joined_channel(alice, bot)
    endpoint.fail = 2
    alice.post(c, "try again")
    wait_until(lambda: len([1 for _, b in endpoint.events()
                            if b["event"].get("text") == "try again"]) == 3,
               what="the first try and two retries", timeout=20)
    tries = [h for h, b in endpoint.events() if b["event"].get("text") == "try again"]
    assert [h.get("X-Slack-Retry-Num") for h in tries] == [None, "1", "2"], tries
    assert tries[1]["X-Slack-Retry-Reason"] == "http_error"
    time.sleep(RETRY_MS / 1000 * 2.5)  # the third was taken
    assert len([1 for _, b in endpoint.events() if b["event"].get("text") == "try again"]) == 3


def test_events_wait_while_the_url_is_down(server, alice):
    port = free_port()
    down = Endpoint(port)  # not listening yet
    j, bot = make_app(server, alice, down.url, events=("message.channels",))
    down.secret = j["credentials"]["signing_secret"]
    c = joined_channel(alice, bot)
    alice.post(c, "while down")
    time.sleep(RETRY_MS / 1000 * 1.5)  # a try or two fail: nobody listens
    down.start()
    try:
        down.event(lambda e: e.get("text") == "while down", "the event kept while down")
    finally:
        down.stop()


def test_socket_mode_apps_get_no_posts(server, alice, endpoint):
    j, bot = make_app(server, alice, endpoint.url, events=("message.channels",), socket=True)
    endpoint.secret = j["credentials"]["signing_secret"]
    c = joined_channel(alice, bot)
    alice.post(c, "sockets only")
    time.sleep(RETRY_MS / 1000 * 1.5)
    with endpoint.lock:
        assert endpoint.requests == []


def test_slash_commands_over_http(server, alice, endpoint, rtms):
    """A command is a signed form POST to its URL; what the app answers with
    is its reply, to the person alone. (The app has no request URL: commands
    need none.)"""
    j, bot = make_app(server, alice, None, events=(), commands=("/ship",),
                      command_url=endpoint.url)
    endpoint.secret = j["credentials"]["signing_secret"]
    endpoint.command_reply = b"shipping"
    c = alice.ok("conversations.create", name=unique("hookcmd"))["channel"]["id"]
    wa = rtms(server, alice)
    alice.ok("chat.command", channel=c, command="/ship", text="v2")
    got = wait_until(lambda: next((hb for hb in endpoint.requests
                                   if hb[1]["type"] == "slash_command"), None),
                     what="the command's POST", timeout=20)
    h, body, ok_sig = got
    assert ok_sig, h
    assert [b["type"] for _, b, _ in endpoint.requests] == ["slash_command"]  # no challenge
    assert (body["command"], body["text"], body["user_id"], body["channel_id"]) == (
        "/ship", "v2", alice.user_id, c), body
    assert body["response_url"].startswith(server.base + "/hooks/respond/"), body
    e = wa.wait_for(lambda e: e.get("type") == "message" and e.get("text") == "shipping",
                    what="the app's reply")
    assert e["is_ephemeral"] is True and e["bot_id"] == j["bot_id"], e
