"""The WebSocket event stream end to end: what each client hears, and what it
must not; sending over the socket; resuming after a disconnect."""
import json
import socket
import threading
import time

import pytest
import websocket

from conftest import NO_RATE_LIMIT, BadFrame, Rtm, unique


CLOSED = (websocket.WebSocketConnectionClosedException, ConnectionError)


def channel_with(owner, *members, private=False):
    c = owner.ok("conversations.create", name=unique("ev"), is_private=private)["channel"]["id"]
    if members:
        if private:
            owner.ok("conversations.invite", channel=c, users=[m.user_id for m in members])
        else:
            for m in members:
                m.ok("conversations.join", channel=c)
    return c


def general_id(api):
    return [c["id"] for c in api.ok("conversations.list")["channels"] if c["is_general"]][0]


def seqs(events):
    return [e["seq"] for e in events if "seq" in e and e.get("type") != "hello"]


def assert_in_order(rtm):
    s = seqs(rtm.seen)
    assert s == sorted(set(s)), f"events out of order or repeated: {s}"


def message_event(rtm, channel, text):
    return rtm.wait_for(lambda e: e.get("type") == "message" and "subtype" not in e
                        and e.get("channel") == channel and e.get("text") == text,
                        what=f"message {text!r} in {channel}")


def check_message(ev, channel, user, text, ts, team, thread_ts=None):
    assert ev["type"] == "message" and "subtype" not in ev, ev
    assert (ev["channel"], ev["user"], ev["text"], ev["ts"], ev["team"]) == (
        channel, user, text, ts, team), ev
    assert ev.get("thread_ts") == thread_ts, ev
    assert isinstance(ev["seq"], int) and ev["seq"] > 0, ev
    assert isinstance(ev["event_ts"], str) and float(ev["event_ts"]) > 0, ev


# ------------------------------------------------------------ messages ---


def test_hello(server, alice, rtms):
    j = alice.ok("rtm.connect")
    assert j["url"].startswith(f"ws://127.0.0.1:{server.port}/rtm?token=")
    assert j["self"] == {"id": alice.user_id} and j["team"] == {"id": alice.team_id}
    ws = rtms(server, alice)
    h = ws.hello
    assert set(h) == {"type", "epoch", "seq", "self", "team"}, h
    assert h["self"] == {"id": alice.user_id} and h["team"] == {"id": alice.team_id}
    assert isinstance(h["epoch"], str) and len(h["epoch"]) == 16
    assert isinstance(h["seq"], int) and h["seq"] >= 0
    # a second connection of the same server has the same epoch
    assert rtms(server, alice).hello["epoch"] == h["epoch"]


def test_messages_posted_over_http_and_websocket(server, alice, bob, rtms):
    c = channel_with(alice, bob)
    wa, wb = rtms(server, alice), rtms(server, bob)

    j = alice.post(c, "hello over HTTP")
    ev = message_event(wb, c, "hello over HTTP")
    check_message(ev, c, alice.user_id, "hello over HTTP", j["ts"], alice.team_id)
    assert ev["seq"] > wb.hello["seq"]
    check_message(message_event(wa, c, "hello over HTTP"), c, alice.user_id, "hello over HTTP",
                  j["ts"], alice.team_id)  # the sender hears it too

    wa.send({"type": "message", "id": 7, "channel": c, "text": "hello over the socket ✓"})
    reply = wa.wait_for(lambda e: e.get("reply_to") == 7, what="reply_to 7")
    assert reply["ok"] is True and reply["channel"] == c, reply
    assert reply["message"]["text"] == "hello over the socket ✓"
    assert reply["message"]["user"] == alice.user_id
    ev = message_event(wb, c, "hello over the socket ✓")
    check_message(ev, c, alice.user_id, "hello over the socket ✓", reply["ts"], alice.team_id)
    # both are in the channel's history, as they were heard
    hist = bob.ok("conversations.history", channel=c)["messages"]
    assert [(m["ts"], m["text"]) for m in hist] == [
        (reply["ts"], "hello over the socket ✓"), (j["ts"], "hello over HTTP")]

    # a socket send that fails says why, to the sender only
    wa.send({"type": "message", "id": 8, "channel": "CNOSUCHCHAN", "text": "lost"})
    bad = wa.wait_for(lambda e: e.get("reply_to") == 8, what="reply_to 8")
    assert bad["ok"] is False and bad["error"] == "channel_not_found", bad
    wa.send({"type": "message", "id": 9, "channel": c, "text": "x" * 40001})
    bad = wa.wait_for(lambda e: e.get("reply_to") == 9, what="reply_to 9")
    assert bad["ok"] is False and bad["error"] == "msg_too_long", bad
    assert_in_order(wa)
    assert_in_order(wb)


def test_thread_reply_carries_thread_ts(server, alice, bob, rtms):
    c = channel_with(alice, bob)
    wb = rtms(server, bob)
    parent = alice.post(c, "parent")["ts"]
    message_event(wb, c, "parent")
    r = bob.post(c, "a reply", thread_ts=parent)
    check_message(message_event(wb, c, "a reply"), c, bob.user_id, "a reply", r["ts"],
                  bob.team_id, thread_ts=parent)
    wa = rtms(server, alice)
    wa.send({"type": "message", "id": 1, "channel": c, "text": "reply by socket",
             "thread_ts": parent})
    ts = wa.wait_for(lambda e: e.get("reply_to") == 1)["ts"]
    check_message(message_event(wb, c, "reply by socket"), c, alice.user_id, "reply by socket",
                  ts, alice.team_id, thread_ts=parent)


def test_edit_and_delete_events(server, alice, bob, rtms):
    c = channel_with(alice, bob)
    wb = rtms(server, bob)
    ts = alice.post(c, "draft")["ts"]
    message_event(wb, c, "draft")

    alice.ok("chat.update", channel=c, ts=ts, text="final")
    ev = wb.wait_type("message", subtype="message_changed")
    assert ev["channel"] == c and ev["hidden"] is True, ev
    m = ev["message"]
    assert (m["type"], m["ts"], m["text"], m["user"]) == ("message", ts, "final", alice.user_id)
    assert m["edited"]["user"] == alice.user_id

    alice.ok("chat.delete", channel=c, ts=ts)
    ev = wb.wait_type("message", subtype="message_deleted")
    assert (ev["channel"], ev["deleted_ts"], ev["hidden"]) == (c, ts, True), ev
    assert ev["previous_message"]["text"] == "final"
    assert ev["previous_message"]["ts"] == ts
    assert_in_order(wb)


def test_reaction_events(server, alice, bob, rtms):
    c = channel_with(alice, bob)
    wa = rtms(server, alice)
    ts = alice.post(c, "react here")["ts"]
    message_event(wa, c, "react here")

    bob.ok("reactions.add", channel=c, timestamp=ts, name="rocket")
    ev = wa.wait_type("reaction_added")
    item = {"type": "message", "channel": c, "ts": ts}
    assert (ev["user"], ev["reaction"], ev["item_user"], ev["item"]) == (
        bob.user_id, "rocket", alice.user_id, item), ev
    bob.ok("reactions.remove", channel=c, timestamp=ts, name="rocket")
    ev = wa.wait_type("reaction_removed")
    assert (ev["user"], ev["reaction"], ev["item_user"], ev["item"]) == (
        bob.user_id, "rocket", alice.user_id, item), ev


# ------------------------------------------------------- channel events ---


def test_member_joined_and_left(server, alice, bob, carol, rtms):
    c = channel_with(alice)
    wa, wb = rtms(server, alice), rtms(server, bob)  # bob connects before he joins

    bob.ok("conversations.join", channel=c)
    want = {"type": "member_joined_channel", "user": bob.user_id, "channel": c,
            "channel_type": "C", "team": alice.team_id}
    for w in (wa, wb):
        ev = w.wait_type("member_joined_channel", channel=c, user=bob.user_id)
        assert {k: ev[k] for k in want} == want and "inviter" not in ev, ev
    # having joined, bob hears the channel at once on the same connection
    ts = alice.post(c, "welcome bob")["ts"]
    check_message(message_event(wb, c, "welcome bob"), c, alice.user_id, "welcome bob", ts,
                  alice.team_id)

    alice.ok("conversations.invite", channel=c, users=carol.user_id)
    ev = wb.wait_type("member_joined_channel", channel=c, user=carol.user_id)
    assert ev["inviter"] == alice.user_id, ev

    alice.ok("conversations.kick", channel=c, user=bob.user_id)
    ev = wb.wait_type("member_left_channel", channel=c, user=bob.user_id)
    assert (ev["channel_type"], ev["actor"]) == ("C", alice.user_id), ev
    # kicked: nothing more from that channel
    alice.post(c, "after the kick")
    gen = general_id(alice)
    alice.post(gen, unique("marker"))
    marker = wb.wait_for(lambda e: e.get("channel") == gen and e.get("type") == "message")
    assert marker["user"] == alice.user_id
    assert not [e for e in wb.seen if e.get("text") == "after the kick"], wb.seen
    assert_in_order(wb)


def test_user_typing_from_the_socket(server, alice, bob, rtms):
    c = channel_with(alice, bob)
    wa, wb = rtms(server, alice), rtms(server, bob)
    wa.send({"type": "typing", "channel": c})
    ev = wb.wait_type("user_typing")
    assert (ev["channel"], ev["user"]) == (c, alice.user_id), ev


def test_presence_change(server, alice, bob, rtms):
    wb = rtms(server, bob)
    wb.send({"type": "presence_sub", "ids": [alice.user_id]})
    wb.send({"type": "ping", "id": 7})
    wb.wait_type("pong")  # the subscription is in place
    rtms(server, alice)  # alice comes online
    ev = wb.wait_type("presence_change", user=alice.user_id)
    assert ev["presence"] == "active", ev
    alice.ok("users.setPresence", presence="away")
    assert wb.wait_type("presence_change", user=alice.user_id)["presence"] == "away"
    alice.ok("users.setPresence", presence="auto")
    assert wb.wait_type("presence_change", user=alice.user_id)["presence"] == "active"


def test_presence_goes_to_subscribers_only(server, alice, bob, rtms):
    """As Slack since 2018: a socket hears the presence of the users it named
    in its last presence_sub (and its own user's), so N connections coming
    online cost N frames, not N squared."""
    carol = server.signup("carol")
    wb, wc = rtms(server, bob), rtms(server, carol)
    wb.send({"type": "presence_sub", "ids": [alice.user_id, alice.user_id]})
    wc.send({"type": "presence_sub", "ids": [bob.user_id]})  # not alice
    for w in (wb, wc):
        w.send({"type": "ping", "id": 1})
        w.wait_type("pong")
    wa = rtms(server, alice)
    assert wa.wait_type("presence_change", user=alice.user_id)["presence"] == "active"
    assert wb.wait_type("presence_change", user=alice.user_id)["presence"] == "active"
    alice.ok("users.setPresence", presence="away")
    assert wb.wait_type("presence_change", user=alice.user_id)["presence"] == "away"
    assert wa.wait_type("presence_change", user=alice.user_id)["presence"] == "away"
    # an empty list ends the subscription
    wb.send({"type": "presence_sub", "ids": []})
    wb.send({"type": "ping", "id": 2})
    wb.wait_type("pong", reply_to=2)
    alice.ok("users.setPresence", presence="auto")
    assert wa.wait_type("presence_change", user=alice.user_id)["presence"] == "active"
    marker = unique("marker")
    c = channel_with(alice, bob, carol)
    alice.post(c, marker)
    message_event(wb, c, marker)
    message_event(wc, c, marker)
    after_away = [e for e in wb.seen if e.get("type") == "presence_change"
                  and e["user"] == alice.user_id]
    assert [e["presence"] for e in after_away] == ["active", "away"], after_away
    assert not [e for e in wc.seen if e.get("type") == "presence_change"
                and e["user"] == alice.user_id], wc.seen
    # bad lists are refused with a reason
    wb.send({"type": "presence_sub", "ids": "U123", "id": 3})
    assert wb.wait_type(None, reply_to=3)["error"]["code"] == "invalid_array_arg"
    wb.send({"type": "presence_sub", "ids": ["not an id"], "id": 4})
    assert wb.wait_type(None, reply_to=4)["error"]["code"] == "invalid_user_id"


def test_presence_expires_without_heartbeats(make_server):
    """With presence.ttl=2 s: pings keep a user active; once the socket is gone
    the sweeper announces them away (offline reads as away)."""
    srv = make_server(*NO_RATE_LIMIT, "--set", "presence.ttl=2", name="presence")
    a, b = srv.signup("pa"), srv.signup("pb")
    wb = srv.rtm(b)
    wb.send({"type": "presence_sub", "ids": [a.user_id]})
    wb.send({"type": "ping", "id": 1})
    wb.wait_type("pong")
    wa = srv.rtm(a)
    try:
        assert wb.wait_type("presence_change", user=a.user_id)["presence"] == "active"
        # The sleep is the point: time passes on purpose (5 s, more than twice
        # the ttl) with a ping every 0.5 s, and presence must not flap.
        for i in range(10):
            wa.send({"type": "ping", "id": i})
            time.sleep(0.5)
        wb.drain(0.1)
        changes = [e["presence"] for e in wb.seen
                   if e.get("type") == "presence_change" and e["user"] == a.user_id]
        assert changes == ["active"]  # no flapping while she pings
        assert b.ok("users.getPresence", user=a.user_id)["presence"] == "active"
        wa.close()
        t0 = time.monotonic()
        ev = wb.wait_type("presence_change", user=a.user_id, timeout=15)
        assert ev["presence"] == "away", ev
        assert time.monotonic() - t0 >= 0.5  # not at once: when the ttl ran out
        assert b.ok("users.getPresence", user=a.user_id) == {
            "ok": True, "presence": "away", "online": False, "auto_away": True,
            "manual_away": False, "connection_count": 0}
    finally:
        wa.close()
        wb.close()


def test_channel_marked_goes_to_the_marker_only(server, alice, bob, rtms):
    c = channel_with(alice, bob)
    wa, wb = rtms(server, alice), rtms(server, bob)
    wa2 = rtms(server, alice)  # a second session of the marker
    ts = bob.post(c, "read me")["ts"]
    alice.ok("conversations.mark", channel=c, ts=ts)
    for w in (wa, wa2):
        ev = w.wait_type("channel_marked")
        assert (ev["channel"], ev["ts"]) == (c, ts), ev
    marker = unique("marker")
    alice.post(c, marker)
    message_event(wb, c, marker)  # everything before this has reached bob
    assert not [e for e in wb.seen if e.get("type") == "channel_marked"], wb.seen


def test_private_channel_never_reaches_non_members(server, alice, bob, carol, rtms):
    g = channel_with(alice, carol, private=True)
    wb, wc = rtms(server, bob), rtms(server, carol)
    secret = [f"secret {i} {unique('s')}" for i in range(6)]
    for text in secret[:4]:
        alice.post(g, text)
    wa = rtms(server, alice)
    for i, text in enumerate(secret[4:]):
        wa.send({"type": "message", "id": 100 + i, "channel": g, "text": text})
        assert wa.wait_for(lambda e: e.get("reply_to") == 100 + i)["ok"] is True
    ts = alice.post(g, "to be edited")["ts"]
    alice.ok("chat.update", channel=g, ts=ts, text="edited secret")
    alice.ok("reactions.add", channel=g, timestamp=ts, name="lock")
    wa.send({"type": "typing", "channel": g})
    alice.ok("conversations.setTopic", channel=g, topic="hush")
    alice.ok("chat.delete", channel=g, ts=ts)

    # carol, a member, hears all of it (so it was sent) ...
    for text in secret:
        message_event(wc, g, text)
    wc.wait_type("message", subtype="message_deleted")
    # ... and bob, once he has a later public message, has heard none of it
    gen = general_id(alice)
    marker = unique("public marker")
    alice.post(gen, marker)
    message_event(wb, gen, marker)
    leaked = [e for e in wb.seen if g in json.dumps(e) or "secret" in json.dumps(e)]
    assert leaked == [], leaked
    # nor does he when he resumes from before it all
    rb = Rtm(server.ws_url(bob.token) + f"&since={wb.hello['seq']}&epoch={wb.hello['epoch']}")
    try:
        message_event(rb, gen, marker)
        leaked = [e for e in rb.seen if g in json.dumps(e) or "secret" in json.dumps(e)]
        assert leaked == [], leaked
    finally:
        rb.close()


def test_ping_pong_and_bad_frames(server, alice, rtms):
    w = rtms(server, alice)
    w.send({"type": "ping", "id": 42})
    assert w.wait_for(lambda e: e.get("type") == "pong") == {"type": "pong", "reply_to": 42}
    w.send({"type": "ping", "id": 43, "time": 123})
    assert w.wait_for(lambda e: e.get("type") == "pong") == {"type": "pong", "reply_to": 43}
    w.send({"type": "dance", "id": 5})
    assert w.wait_for(lambda e: e.get("reply_to") == 5) == {
        "ok": False, "reply_to": 5, "error": {"code": "unknown_type"}}
    w.ws.send("{not json")
    ev = w.wait_for(lambda e: e.get("ok") is False and "reply_to" in e)
    assert ev["error"] == {"code": "invalid_json"}, ev
    # and the connection still works
    w.send({"type": "ping", "id": 44})
    assert w.wait_for(lambda e: e.get("type") == "pong") == {"type": "pong", "reply_to": 44}


def test_new_dm_and_private_invite_reach_connected_members(server, alice, bob, rtms):
    wa, wb = rtms(server, alice), rtms(server, bob)  # both online before either exists
    d = alice.ok("conversations.open", users=bob.user_id)["channel"]["id"]
    ev = wb.wait_type("im_created")
    assert (ev["user"], ev["channel"]["id"], ev["channel"]["is_im"]) == (alice.user_id, d, True)
    ts = alice.post(d, "psst")["ts"]
    check_message(message_event(wb, d, "psst"), d, alice.user_id, "psst", ts, alice.team_id)

    g = channel_with(alice, private=True)
    ev = wa.wait_type("group_joined")
    assert ev["channel"]["id"] == g and ev["channel"]["is_private"] is True, ev
    alice.ok("conversations.invite", channel=g, users=bob.user_id)
    ev = wb.wait_type("member_joined_channel", channel=g)
    assert (ev["user"], ev["channel_type"], ev["inviter"]) == (bob.user_id, "G", alice.user_id)
    ts = alice.post(g, "welcome to the club")["ts"]
    check_message(message_event(wb, g, "welcome to the club"), g, alice.user_id,
                  "welcome to the club", ts, alice.team_id)
    assert not [e for e in wb.seen if e.get("type") == "group_joined"], wb.seen


def test_channel_events(server, alice, bob, rtms):
    wb = rtms(server, bob)
    c = alice.ok("conversations.create", name=unique("chev"))["channel"]["id"]
    ev = wb.wait_type("channel_created")  # public: the whole team hears of it
    assert (ev["user"], ev["channel"]["id"]) == (alice.user_id, c), ev
    bob.ok("conversations.join", channel=c)
    name = unique("renamed")
    alice.ok("conversations.rename", channel=c, name=name)
    ev = wb.wait_type("channel_rename")
    assert (ev["user"], ev["channel"]["id"], ev["channel"]["name"]) == (alice.user_id, c, name)
    # a new topic or purpose is a notice in the channel, as Slack's
    alice.ok("conversations.setTopic", channel=c, topic="new topic")
    ev = wb.wait_for(lambda e: e.get("subtype") == "channel_topic", what="the topic notice")
    assert (ev["type"], ev["channel"], ev["user"], ev["topic"], ev["text"]) == (
        "message", c, alice.user_id, "new topic", "set the channel topic: new topic"), ev
    alice.ok("conversations.setPurpose", channel=c, purpose="new purpose")
    ev = wb.wait_for(lambda e: e.get("subtype") == "channel_purpose", what="the purpose notice")
    assert (ev["channel"], ev["purpose"]) == (c, "new purpose"), ev
    assert not [e for e in wb.seen if e.get("type") in ("channel_topic", "channel_purpose")]
    notices = [m for m in alice.ok("conversations.history", channel=c)["messages"]
               if m.get("subtype") in ("channel_topic", "channel_purpose")]
    assert [m["subtype"] for m in notices] == ["channel_purpose", "channel_topic"], notices
    alice.ok("conversations.archive", channel=c)
    ev = wb.wait_type("channel_archive")
    assert (ev["channel"], ev["user"]) == (c, alice.user_id), ev
    alice.ok("conversations.unarchive", channel=c)
    ev = wb.wait_type("channel_unarchive")
    assert (ev["channel"], ev["user"]) == (c, alice.user_id), ev
    bob.ok("users.profile.set", profile={"title": "Boss"})
    ev = wb.wait_type("user_change")
    assert (ev["user"]["id"], ev["user"]["profile"]["title"]) == (bob.user_id, "Boss"), ev


def test_concurrent_posts_reach_every_client_once_in_order(server, alice, bob, rtms):
    c = channel_with(alice, bob)
    clients = [rtms(server, bob) for _ in range(3)] + [rtms(server, alice)]
    posters = [alice, bob, server.signup("poster")]
    posters[2].ok("conversations.join", channel=c)
    per = 40
    errors = []

    def run(k, api):
        for i in range(per):
            j = api.call("chat.postMessage", channel=c, text=f"burst {k}-{i}")
            if not j.get("ok"):
                errors.append(j)

    threads = [threading.Thread(target=run, args=(k, api)) for k, api in enumerate(posters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    want = {f"burst {k}-{i}" for k in range(len(posters)) for i in range(per)}
    history = [m["ts"] for m in alice.ok("conversations.history", channel=c,
                                          limit=1000)["messages"]]
    for w in clients:
        got = []
        while len(got) < len(want):
            got.append(w.wait_for(lambda e: e.get("type") == "message"
                                  and e.get("channel") == c))
        assert {e["text"] for e in got} == want
        assert len({e["ts"] for e in got}) == len(want)
        assert [e["ts"] for e in got] == history[::-1]  # in the order they were stored
        assert_in_order(w)


def test_long_messages_over_the_socket(server, alice, bob, rtms):
    """Events and replies up to 64 KiB (a 40,000-character ASCII message)."""
    c = channel_with(alice, bob)
    wa, wb = rtms(server, alice), rtms(server, bob)
    for i, text in enumerate(("a" * 40000, "é" * 30000, "😀" * 15000)):
        wa.send({"type": "message", "id": 10 + i, "channel": c, "text": text})
        reply = wa.wait_for(lambda e: e.get("reply_to") == 10 + i, what="reply")
        assert reply["ok"] is True, {k: v for k, v in reply.items() if k != "message"}
        assert reply["message"]["text"] == text
        ev = message_event(wb, c, text)
        assert ev["ts"] == reply["ts"]


# Regression tests: until fb3126c every event over 64 KiB (nng's default
# NNG_OPT_WS_SENDMAXFRAME) reached clients cut off at 65,536 bytes.
@pytest.mark.parametrize("text", ["é" * 40000, "😀" * 40000, '"\\' * 20000],
                         ids=["2-byte", "4-byte", "escaped"])
def test_longest_message_event_arrives_whole(server, alice, bob, rtms, text):
    """A 40,000-character message is allowed; its event is 80-170 KB."""
    c = channel_with(alice, bob)
    wb = rtms(server, bob)
    ts = alice.post(c, text)["ts"]
    ev = message_event(wb, c, text)
    assert ev["ts"] == ts


def test_longest_message_replayed_whole(server, alice, bob, rtms):
    c = channel_with(alice, bob)
    w = rtms(server, bob)
    epoch, seq = w.hello["epoch"], w.hello["seq"]
    text = "ü" * 40000
    ts = alice.post(c, text)["ts"]
    r = Rtm(server.ws_url(bob.token) + f"&since={seq}&epoch={epoch}")
    try:
        assert message_event(r, c, text)["ts"] == ts
    finally:
        r.close()


# Events larger than nng's default WebSocket frame (64 KiB) and than 256 KiB
# must arrive whole: hub.c sends one event as one frame of up to 16 MiB.
def test_event_over_256k_arrives_whole(server, alice, bob, rtms):
    """The longest text, each character escaped in JSON (U+2028 is written as
    \\u2028: 240,000 bytes), with 200 reactions on it: message_changed is
    about 270 KB. Nothing limits reactions, so such events are possible."""
    c = channel_with(alice, bob)
    text = "\u2028" * 40000
    ts = alice.post(c, text)["ts"]
    names = [f"r{i:03d}" + "x" * 96 for i in range(200)]
    for name in names:
        bob.ok("reactions.add", channel=c, timestamp=ts, name=name)
    wb = rtms(server, bob)
    edited = text[:-1] + "!"
    alice.ok("chat.update", channel=c, ts=ts, text=edited)
    ev = wb.wait_type("message", subtype="message_changed")
    assert ev["message"]["text"] == edited
    assert [r["name"] for r in ev["message"]["reactions"]] == names


# A client may send the longest message in ASCII-escaped JSON (an emoji is
# \ud83d\ude00, 12 bytes): a 480 KB frame, under hub.c's 512 KiB limit.
def test_longest_message_sent_over_the_socket(server, alice, bob, rtms):
    c = channel_with(alice, bob)
    wa = rtms(server, alice)
    text = "😀" * 40000  # the longest message allowed, in characters
    frame = json.dumps({"type": "message", "id": 3, "channel": c, "text": text})
    assert len(frame) > 256 * 1024  # each emoji written as \ud83d\ude00
    wa.ws.send(frame)
    reply = wa.wait_for(lambda e: e.get("reply_to") == 3, what="reply_to 3")
    assert reply["ok"] is True and reply["message"]["text"] == text, reply
    hist = bob.ok("conversations.history", channel=c, limit=1)["messages"]
    assert [(m["ts"], m["text"]) for m in hist] == [(reply["ts"], text)]


def test_server_stops_cleanly_with_sockets_open(make_server):
    srv = make_server(*NO_RATE_LIMIT, name="shutdown")
    a, b = srv.signup("sa"), srv.signup("sb")
    c = channel_with(a, b)
    sockets = [srv.rtm(b) for _ in range(4)] + [srv.rtm(a)]
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            try:
                a.request("chat.postMessage", channel=c, text="while stopping")
            except OSError:
                return

    t = threading.Thread(target=traffic)
    t.start()
    try:
        message_event(sockets[0], c, "while stopping")
        t0 = time.monotonic()
        assert srv.stop() == 0, srv.log_tail()  # SIGTERM; None: it had to be killed
        assert time.monotonic() - t0 < 20
        # every socket was closed by the server
        for w in sockets:
            with pytest.raises(CLOSED):
                while True:
                    w.next(10)
    finally:
        stop.set()
        t.join()
        for w in sockets:
            w.close()


# -------------------------------------------------------------- resume ---


@pytest.fixture
def quiet_server(make_server):
    """A server of its own, so that its event sequence holds only this test's."""
    return make_server(*NO_RATE_LIMIT, name="resume")


def test_resume_replays_exactly_what_was_missed(quiet_server):
    srv = quiet_server
    a, b = srv.signup("ra"), srv.signup("rb")
    c = channel_with(a, b)
    w = srv.rtm(b)
    try:
        # bob's own coming online is the last thing before he goes
        assert w.wait_type("presence_change", user=b.user_id)["presence"] == "active"
        w.drain(0.5)
        epoch, last = w.hello["epoch"], w.seen[-1]["seq"]
    finally:
        w.close()

    posted = [a.post(c, f"missed {i}")["ts"] for i in range(20)]

    w = Rtm(srv.ws_url(b.token) + f"&since={last}&epoch={epoch}")
    try:
        # In the distributed deployment events reach the gateway a moment after
        # the posts return, so some may come live rather than replayed: either
        # way, in order, each once.
        assert w.hello["epoch"] == epoch and last <= w.hello["seq"] <= last + 20, w.hello
        replay = [w.next() for _ in range(20)]
        assert [e["seq"] for e in replay] == list(range(last + 1, last + 21))
        assert [(e["type"], e["channel"], e["text"], e["ts"]) for e in replay] == [
            ("message", c, f"missed {i}", ts) for i, ts in enumerate(posted)]
        assert w.drain(0.5) == []  # nothing twice, nothing else
        # then live events, numbered on
        ts = a.post(c, "live")["ts"]
        ev = w.next()
        assert (ev["seq"], ev["text"], ev["ts"]) == (last + 21, "live", ts), ev
        assert_in_order(w)
    finally:
        w.close()

    # resuming from the newest seq replays nothing
    w = Rtm(srv.ws_url(b.token) + f"&since={last + 21}&epoch={epoch}")
    try:
        assert w.hello["seq"] == last + 21
        assert w.drain(0.5) == []
    finally:
        w.close()


def test_resume_with_a_wrong_epoch_or_future_seq_resyncs(server, alice, rtms):
    w = rtms(server, alice)
    epoch, seq = w.hello["epoch"], w.hello["seq"]
    wrong = "0" * 16 if epoch != "0" * 16 else "1" * 16
    for query in (f"&since={seq}&epoch={wrong}", f"&since={seq}&epoch=",
                  f"&since={seq + 1000000}&epoch={epoch}"):
        r = Rtm(server.ws_url(alice.token) + query)
        try:
            assert r.hello["epoch"] == epoch
            assert r.next() == {"type": "resync", "reason": "events_expired"}
        finally:
            r.close()


@pytest.mark.parametrize("token,error", [("not.a.token", "invalid_auth"),
                                         ("garbage", "invalid_auth"),
                                         ("", "not_authed")])
def test_websocket_with_a_bad_token(server, token, error):
    r = Rtm(server.ws_url(token), expect_hello=False)
    try:
        assert r.next() == {"type": "error", "error": error}
        with pytest.raises(CLOSED):
            r.next(10)  # closed by the server, no hello
        assert r.closed
        assert not [e for e in r.seen if e.get("type") == "hello"]
    finally:
        r.close()


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_websocket_token_in_the_authorization_header(server, alice, scheme):
    # The scheme is case-insensitive (RFC 7235), as it is for the Web API.
    r = Rtm(f"ws://127.0.0.1:{server.port}/rtm", header=[f"Authorization: {scheme} {alice.token}"])
    try:
        assert r.hello["self"] == {"id": alice.user_id}
    finally:
        r.close()


def test_websocket_with_a_revoked_token(server):
    u = server.signup("revoked")
    url = u.ok("rtm.connect")["url"]
    u.ok("auth.revoke")
    r = Rtm(url, expect_hello=False)
    try:
        assert r.next() == {"type": "error", "error": "token_revoked"}
        with pytest.raises(CLOSED):
            r.next(10)
    finally:
        r.close()


def test_a_reader_that_cannot_keep_up_is_dropped_not_waited_for(make_server):
    """Backpressure: a socket that reads nothing while 9 MB of events pile up
    is hung up once it lags past the server's bound (its kernel buffers plus
    4 MiB queued); another reader of the same user gets every message
    meanwhile, and the dropped one, resuming, is told to resync."""
    srv = make_server(*NO_RATE_LIMIT, name="slow")
    a, b = srv.signup("sa"), srv.signup("sb")
    c = channel_with(a, b)
    # a small receive buffer, so the backlog stays on the server's side
    slow = websocket.create_connection(
        srv.ws_url(b.token), timeout=10,
        sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    hello = json.loads(slow.recv())
    fast = srv.rtm(b)
    big = "x" * 30000
    n = 300
    got = []

    def read_fast():  # a reader that keeps up, while the posts go out
        while len(got) < n:
            got.append(int(fast.wait_type("message", timeout=30)["text"].split()[0]))

    reader = threading.Thread(target=read_fast)
    reader.start()
    for i in range(n):
        a.post(c, f"{i} {big}")
    reader.join(60)
    assert got == list(range(n))  # the fast reader was not held up
    # Now the slow one reads: whole frames, then the end of the stream.
    seen, last_seq, ended = [], 0, False
    slow.settimeout(5)
    try:
        while True:
            op, data = slow.recv_data()
            if op == websocket.ABNF.OPCODE_CLOSE:
                ended = True
                break
            ev = json.loads(data)
            last_seq = ev.get("seq", last_seq)
            if ev.get("type") == "message" and ev.get("channel") == c:
                seen.append(int(ev["text"].split()[0]))
    except (websocket.WebSocketConnectionClosedException, ConnectionError, ValueError):
        ended = True  # cut off, perhaps inside a frame
    except websocket.WebSocketTimeoutException:
        pass
    slow.close()
    assert ended, f"never hung up; read {len(seen)} of {n}"
    assert len(seen) < n and seen == list(range(len(seen))), seen[-5:]
    # It resumes where it was: what it missed is more than a replay may be
    # (half the live bound), so it is told to resync, and the history has it all.
    w = Rtm(srv.ws_url(b.token) + f"&since={last_seq}&epoch={hello['epoch']}")
    try:
        assert w.next()["type"] == "resync"
    finally:
        w.close()
    texts = [m["text"] for m in b.ok("conversations.history", channel=c, limit=1000)["messages"]]
    assert sorted(int(t.split()[0]) for t in texts if t.endswith(big)) == list(range(n))
