"""Socket Mode end to end (issue 14): apps.connections.open, the app's
WebSocket with Slack's hello, events_api envelopes and acknowledgements,
redelivery of what was not acknowledged, and events kept while the app is
away. Runs against chatd and the separate servers."""
import json
import time

import pytest
import websocket

from conftest import http_request, unique, wait_until

EVENTS = ["message.channels", "message.im", "app_mention", "reaction_added",
          "member_joined_channel", "channel_created", "team_join"]


def manifest(events=EVENTS, scopes=None, commands=()):
    return {
        "display_information": {"name": "Sock Bot"},
        "features": {"bot_user": {"display_name": "sockbot"},
                     "slash_commands": [{"command": c, "description": "d"} for c in commands]},
        "oauth_config": {"scopes": {"bot": scopes or [
            "chat:write", "channels:read", "channels:join", "channels:history", "im:history",
            "app_mentions:read", "reactions:read", "users:read"]}},
        "settings": {"socket_mode_enabled": True,
                     "event_subscriptions": {"bot_events": events}},
    }


def make_app(server, owner, **kw):
    j = owner.ok("apps.manifest.create", via="json", manifest=manifest(**kw))
    return j, server.api(j["bot_token"]), server.api(j["app_token"])


class Link:
    """One Socket Mode connection, read by hand."""

    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=10)
        self.hello = self.next()

    def next(self, timeout=10):
        self.ws.settimeout(timeout)
        return json.loads(self.ws.recv())

    def event(self, pred, timeout=15, ack=True, what="an envelope"):
        """The next events_api envelope whose event matches pred (others are
        acknowledged and skipped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                env = self.next(max(0.1, deadline - time.monotonic()))
            except websocket.WebSocketTimeoutException:
                break
            if env.get("type") != "events_api":
                continue
            if pred(env["payload"]["event"]):
                if ack:
                    self.ack(env)
                return env
            self.ack(env)
        raise AssertionError(f"no {what} within {timeout} s")

    def quiet(self, pred, seconds):
        """Asserts no envelope matching pred arrives for a while."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                env = self.next(max(0.1, deadline - time.monotonic()))
            except websocket.WebSocketTimeoutException:
                return
            if "envelope_id" in env:  # events, and slash commands too
                assert not pred(env["payload"].get("event", env["payload"])), env
                self.ack(env)

    def ack(self, env):
        self.ws.send(json.dumps({"envelope_id": env["envelope_id"]}))

    def close(self):
        self.ws.close()


@pytest.fixture
def links():
    opened = []

    def open_link(app):
        link = Link(app.ok("apps.connections.open")["url"])
        opened.append(link)
        return link
    yield open_link
    for link in opened:
        try:
            link.close()
        except Exception:
            pass


def text_is(text):
    return lambda e: e.get("type") == "message" and e.get("text") == text


def test_connections_open_takes_an_app_token_only(server, alice):
    j, bot, app = make_app(server, alice)
    url = app.ok("apps.connections.open")["url"]
    assert url.startswith(f"ws://127.0.0.1:{server.port}/link/?ticket=xapp-"), url
    bot.fail("apps.connections.open", "not_allowed_token_type")
    alice.fail("apps.connections.open", "not_allowed_token_type")
    # the app-level token calls nothing else
    app.fail("chat.postMessage", "not_allowed_token_type", channel="C1", text="x")
    # the ticket is no bot token either
    ticket = url.split("ticket=")[1]
    server.api(ticket).fail("chat.postMessage", "not_allowed_token_type", channel="C1",
                            text="x")


def test_hello_then_events_in_slacks_envelopes(server, alice, links):
    j, bot, app = make_app(server, alice)
    link = links(app)
    h = link.hello
    assert h["type"] == "hello" and h["num_connections"] == 1, h
    assert h["connection_info"] == {"app_id": j["app_id"]}, h
    assert h["debug_info"]["approximate_connection_time"] > 0, h

    c = alice.ok("conversations.create", name=unique("sock"))["channel"]["id"]
    bot.ok("conversations.join", channel=c)
    # (membership is read as the event is handled: the creator's join, just
    # before the bot's, may come too)
    joined = link.event(lambda e: e["type"] == "member_joined_channel" and
                        e["user"] == j["bot_user_id"], what="the bot's join")
    assert joined["payload"]["event"]["channel"] == c
    posted = alice.post(c, "hello app")
    env = link.event(text_is("hello app"))
    assert env["type"] == "events_api" and env["accepts_response_payload"] is False, env
    assert env["retry_attempt"] == 0 and env["retry_reason"] == "", env
    assert len(env["envelope_id"]) == 36, env
    p = env["payload"]
    assert p["type"] == "event_callback" and p["api_app_id"] == j["app_id"], p
    assert p["team_id"] == alice.team_id and p["event_id"].startswith("Ev"), p
    assert p["authorizations"] == [{"enterprise_id": None, "team_id": alice.team_id,
                                    "user_id": j["bot_user_id"], "is_bot": True,
                                    "is_enterprise_install": False}], p
    assert isinstance(p["event_time"], int) and p["event_time"] > 1.7e9, p
    e = p["event"]
    assert (e["channel"], e["user"], e["ts"], e["event_ts"], e["channel_type"]) == (
        c, alice.user_id, posted["ts"], posted["ts"], "channel"), e
    assert "seq" not in e, e

    # a mention of the bot is an app_mention too, an event of its own
    alice.post(c, f"<@{j['bot_user_id']}> deploy please")
    m = link.event(lambda e: e["type"] == "app_mention", what="the app_mention")
    assert m["payload"]["event"]["text"] == f"<@{j['bot_user_id']}> deploy please"
    assert m["payload"]["event"]["user"] == alice.user_id
    assert m["payload"]["event_id"] != env["payload"]["event_id"]

    # reactions in its channels; a channel created in the team
    alice.ok("reactions.add", channel=c, timestamp=posted["ts"], name="tada")
    r = link.event(lambda e: e["type"] == "reaction_added", what="the reaction")
    assert r["payload"]["event"]["item"] == {"type": "message", "channel": c,
                                             "ts": posted["ts"]}, r
    name = unique("sockc")
    alice.ok("conversations.create", name=name)
    cc = link.event(lambda e: e["type"] == "channel_created", what="channel_created")
    assert cc["payload"]["event"]["channel"]["name"] == name


def test_only_its_channels_and_subscriptions(server, alice, links):
    j, bot, app = make_app(server, alice, events=["message.channels"])
    link = links(app)
    mine = alice.ok("conversations.create", name=unique("sock"))["channel"]["id"]
    other = alice.ok("conversations.create", name=unique("sock"))["channel"]["id"]
    bot.ok("conversations.join", channel=mine)
    alice.post(other, "not for the bot")
    alice.post(mine, f"<@{j['bot_user_id']}> no mention subscribed")
    alice.ok("reactions.add", channel=mine,
             timestamp=alice.post(mine, "react here")["ts"], name="eyes")
    alice.post(mine, "for the bot")
    link.event(text_is("for the bot"))
    link.quiet(lambda e: e.get("text") == "not for the bot" or
               e["type"] in ("app_mention", "reaction_added", "member_joined_channel"), 1.5)

    # a scope the app lacks keeps the subscription off: no DMs without im:history
    k, kbot, kapp = make_app(server, alice, events=["message.im"],
                             scopes=["chat:write", "channels:history"])
    klink = links(kapp)
    dm = alice.ok("conversations.open", users=k["bot_user_id"])["channel"]["id"]
    alice.post(dm, "psst")
    klink.quiet(lambda e: True, 1.5)


def test_unacknowledged_envelopes_come_again(server, alice, links):
    j, bot, app = make_app(server, alice, events=["message.channels"])
    c = alice.ok("conversations.create", name=unique("sock"))["channel"]["id"]
    bot.ok("conversations.join", channel=c)
    link = links(app)
    alice.post(c, "ack me later")
    first = link.event(text_is("ack me later"), ack=False)
    again = link.event(text_is("ack me later"), timeout=15, ack=True, what="the retry")
    assert again["retry_attempt"] == 1 and again["retry_reason"] == "timeout", again
    assert again["payload"]["event_id"] == first["payload"]["event_id"]
    link.quiet(lambda e: e.get("text") == "ack me later", 6.5)  # acknowledged: never again


def test_events_wait_while_the_app_is_away(server, alice, links):
    j, bot, app = make_app(server, alice, events=["message.channels"])
    c = alice.ok("conversations.create", name=unique("sock"))["channel"]["id"]
    bot.ok("conversations.join", channel=c)
    alice.post(c, "while you were out")
    time.sleep(0.5)
    link = links(app)
    link.event(text_is("while you were out"))
    # and one connection's lease is not another's: a second connection of the
    # app gets what the first leaves unacknowledged, not what it acknowledged
    alice.post(c, "one of two")
    link.event(text_is("one of two"), ack=False)
    link.close()
    second = links(app)
    assert second.hello["type"] == "hello"
    env = second.event(text_is("one of two"), what="the dead connection's envelope")
    assert env["retry_attempt"] == 1, env


def test_bad_tickets_are_turned_away(server, alice):
    base = f"ws://127.0.0.1:{server.port}/link/"
    j, bot, app = make_app(server, alice)
    for ticket in ("", "nonsense", j["app_token"] + "x", j["bot_token"]):
        ws = websocket.create_connection(base + "?ticket=" + ticket, timeout=10)
        msg = json.loads(ws.recv())
        assert msg["type"] == "disconnect" and msg["reason"] == "link_disabled", (ticket, msg)
        ws.close()
    # revoking the app's tokens ends its tickets too
    url = app.ok("apps.connections.open")["url"]
    bot.ok("auth.revoke")
    ws = websocket.create_connection(url, timeout=10)
    assert json.loads(ws.recv())["reason"] == "link_disabled"
    ws.close()


def test_slack_sdk_socket_mode_client(server, alice):
    """Slack's own Socket Mode client connects, hears and acknowledges."""
    from slack_sdk import WebClient
    from slack_sdk.socket_mode import SocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest
    from slack_sdk.socket_mode.response import SocketModeResponse
    j, bot, app = make_app(server, alice, events=["message.channels"])
    c = alice.ok("conversations.create", name=unique("sock"))["channel"]["id"]
    bot.ok("conversations.join", channel=c)
    heard = []
    client = SocketModeClient(app_token=j["app_token"],
                              web_client=WebClient(token=j["bot_token"],
                                                   base_url=server.base + "/api/"))

    def on_request(client, req: SocketModeRequest):
        client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        if req.type == "events_api":
            heard.append(req.payload["event"])
    client.socket_mode_request_listeners.append(on_request)
    client.connect()
    try:
        wait_until(lambda: client.is_connected(), what="the SDK's connection")
        alice.post(c, "hi sdk")
        wait_until(lambda: any(e.get("text") == "hi sdk" for e in heard), timeout=15,
                   what="the SDK's listener")
        time.sleep(LEASE_S + 1)  # acknowledged by the SDK: not sent again
        assert [e.get("text") for e in heard].count("hi sdk") == 1, heard
    finally:
        client.close()


LEASE_S = 5


def envelope_of(link, kind, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        env = link.next(max(0.1, deadline - time.monotonic()))
        if env.get("type") == kind:
            return env
    raise AssertionError(f"no {kind} envelope")


def test_slash_commands(server, alice, bob, links, rtms):
    j, bot, app = make_app(server, alice, events=[], commands=["/deploy"])
    link = links(app)
    c = alice.ok("conversations.create", name=unique("cmd"))["channel"]  # the bot is not in it
    wa = rtms(server, alice)
    alice.ok("chat.command", channel=c["id"], command="/deploy", text="now please")
    env = envelope_of(link, "slash_commands")
    assert env["accepts_response_payload"] is True and env["retry_attempt"] == 0, env
    p = env["payload"]
    assert (p["command"], p["text"], p["user_id"], p["channel_id"], p["channel_name"],
            p["team_id"], p["api_app_id"]) == ("/deploy", "now please", alice.user_id, c["id"],
                                               c["name"], alice.team_id, j["app_id"]), p
    assert p["user_name"] and p["trigger_id"], p
    assert p["response_url"].startswith(server.base + "/hooks/respond/"), p

    # the ack's payload answers the person alone, from the bot
    link.ws.send(json.dumps({"envelope_id": env["envelope_id"],
                             "payload": {"text": "deploying"}}))
    e = wa.wait_for(lambda e: e.get("type") == "message" and e.get("text") == "deploying",
                    what="the ephemeral answer")
    assert e["is_ephemeral"] is True and e["user"] == j["bot_user_id"], e
    assert e["bot_id"] == j["bot_id"] and e["channel"] == c["id"], e
    # the response_url answers the channel, though the bot is not in it
    r = http_request(p["response_url"], json.dumps(
        {"response_type": "in_channel", "text": "deployed"}).encode(),
        {"Content-Type": "application/json"})
    assert r.status == 200 and r.json == {"ok": True}, r
    m = [m for m in alice.ok("conversations.history", channel=c["id"])["messages"]
         if m["text"] == "deployed"]
    assert len(m) == 1 and m[0]["bot_id"] == j["bot_id"], m
    # a forged or altered ticket is refused
    bad = p["response_url"][:-3] + ("AAA" if not p["response_url"].endswith("AAA") else "BBB")
    r = http_request(bad, b'{"text": "x"}', {"Content-Type": "application/json"})
    assert r.status == 404, r

    # who may run what, where
    alice.fail("chat.command", "invalid_command", channel=c["id"], command="/nosuch", text="")
    alice.fail("chat.command", "invalid_command", channel=c["id"], command="deploy", text="")
    bob.fail("chat.command", "not_in_channel", channel=c["id"], command="/deploy", text="")
    bot.fail("chat.command", "not_allowed_token_type", channel=c["id"], command="/deploy",
             text="")
    # a command is not sent again once acknowledged
    link.quiet(lambda e: True, 6)


def test_bad_slash_commands_in_manifests(server, alice):
    for cmds, why in ((["deploy"], "not a slash command"), (["/Deploy"], "not a slash command"),
                      (["/a" * 20], "not a slash command"), (["/x", "/x"], "named twice")):
        r = alice.fail("apps.manifest.create", "invalid_manifest", via="json",
                       manifest=manifest(commands=cmds))
        assert why in r["detail"], r


def test_button_clicks(server, alice, bob, links, rtms):
    j, bot, app = make_app(server, alice, events=[])
    c = alice.ok("conversations.create", name=unique("click"))["channel"]["id"]
    bot.ok("conversations.join", channel=c)
    bob.ok("conversations.join", channel=c)
    link = links(app)
    blocks = [{"type": "section", "block_id": "ask", "text": {"type": "mrkdwn", "text": "Ship?"}},
              {"type": "actions", "block_id": "choice", "elements": [
                  {"type": "button", "action_id": "approve", "value": "v1",
                   "text": {"type": "plain_text", "text": "Approve"}}]}]
    posted = bot.ok("chat.postMessage", channel=c, text="Ship?", blocks=blocks, via="json")
    bob.ok("blocks.actions", channel=c, ts=posted["ts"], action_id="approve")
    env = envelope_of(link, "interactive")
    assert env["accepts_response_payload"] is False, env
    p = env["payload"]
    assert p["type"] == "block_actions" and p["api_app_id"] == j["app_id"], p
    assert p["user"]["id"] == bob.user_id and p["team"]["id"] == alice.team_id, p
    assert p["container"] == {"type": "message", "message_ts": posted["ts"],
                              "channel_id": c, "is_ephemeral": False}, p
    assert p["channel"]["id"] == c and p["message"]["ts"] == posted["ts"], p
    a = p["actions"][0]
    assert (a["action_id"], a["block_id"], a["value"], a["type"]) == (
        "approve", "choice", "v1", "button"), a
    assert p["trigger_id"] and p["response_url"].startswith(server.base + "/hooks/respond/"), p
    link.ack(env)
    wa = rtms(server, alice)
    # the response_url replaces the message clicked
    r = http_request(p["response_url"], json.dumps(
        {"replace_original": True, "text": "Shipped by <@%s>" % bob.user_id}).encode(),
        {"Content-Type": "application/json"})
    assert r.status == 200 and r.json == {"ok": True}, r
    m = alice.ok("conversations.history", channel=c)["messages"][0]
    assert m["ts"] == posted["ts"] and m["text"].startswith("Shipped by"), m
    assert "blocks" not in m, m  # replaced whole: the buttons went
    ev = wa.wait_for(lambda e: e.get("subtype") == "message_changed", what="the change")
    assert ev["message"]["text"].startswith("Shipped by") and "blocks" not in ev["message"], ev

    # only elements the message has; only people; only messages of apps
    bob.fail("blocks.actions", "invalid_arguments", channel=c, ts=posted["ts"],
             action_id="nosuch")
    bob.fail("blocks.actions", "invalid_arguments", channel=c, ts=posted["ts"],
             action_id="approve", block_id="ask")
    bot.fail("blocks.actions", "not_allowed_token_type", channel=c, ts=posted["ts"],
             action_id="approve")
    plain = bob.post(c, "no buttons here")
    bob.fail("blocks.actions", "invalid_arguments", channel=c, ts=plain["ts"],
             action_id="approve")


def test_file_shared(server, alice, links):
    from test_files import v2_upload
    j, bot, app = make_app(server, alice, events=["file_shared"],
                           scopes=["channels:join", "files:read"])
    _, deaf_bot, deaf = make_app(server, alice, events=["file_shared"],
                                 scopes=["channels:join"])
    c = alice.ok("conversations.create", name=unique("files"))["channel"]["id"]
    bot.ok("conversations.join", channel=c)
    deaf_bot.ok("conversations.join", channel=c)
    link, deaf_link = links(app), links(deaf)
    # a file shared where the bot is: file_shared, naming it
    first = v2_upload(alice, b"one", "one.txt", channel_id=c)
    env = link.event(lambda e: e.get("type") == "file_shared", what="file_shared")
    e = env["payload"]["event"]
    assert (e["file_id"], e["file"], e["user_id"], e["channel_id"]) == (
        first["id"], {"id": first["id"]}, alice.user_id, c), e
    assert e["event_ts"] and env["payload"]["event_id"].startswith("Ev"), env
    # where the bot is not, or without files:read, nothing
    other = alice.ok("conversations.create", name=unique("files"))["channel"]["id"]
    v2_upload(alice, b"two", "two.txt", channel_id=other)
    link.quiet(lambda e: e.get("type") == "file_shared", 3)
    deaf_link.quiet(lambda e: e.get("type") == "file_shared", 1)


def test_pin_events(server, alice, links):
    j, bot, app = make_app(server, alice, events=["pin_added", "pin_removed"],
                           scopes=["channels:join", "pins:read"])
    c = alice.ok("conversations.create", name=unique("pins"))["channel"]["id"]
    bot.ok("conversations.join", channel=c)
    link = links(app)
    ts = alice.post(c, "pinned")["ts"]
    alice.ok("pins.add", channel=c, timestamp=ts)
    e = link.event(lambda e: e.get("type") == "pin_added", what="pin_added")["payload"]["event"]
    assert (e["user"], e["channel_id"], e["item"]["message"]["ts"]) == (alice.user_id, c, ts), e
    alice.ok("pins.remove", channel=c, timestamp=ts)
    link.event(lambda e: e.get("type") == "pin_removed", what="pin_removed")
