"""Slack platform compatibility end to end (issue 14): what software written
for Slack expects of the Web API and the events, beyond the basic methods
that test_api.py covers. Runs against chatd and the separate servers."""
import json

from conftest import http_request, unique, wait_until


def new_channel(api, prefix="compat", **kw):
    return api.ok("conversations.create", name=unique(prefix), **kw)["channel"]


def history_texts(api, channel):
    return [m["text"] for m in api.ok("conversations.history", channel=channel)["messages"]]


# ------------------------------------------------------------- routing ---


def test_unknown_method_is_200_with_its_name(server, alice):
    """Slack answers 200 {"ok":false,"error":"unknown_method"}; the node SDK
    retries a 404 for half an hour."""
    for via in ("get", "form", "json"):
        r = alice.request("chat.noSuchMethod", via=via, channel="C1")
        assert r.status == 200, r
        assert r.json == {"ok": False, "error": "unknown_method",
                          "detail": 'no method "chat.noSuchMethod"',
                          "req_method": "chat.noSuchMethod"}, r


# ------------------------------------------------------- post targets ---


def test_post_by_channel_name(server, alice, bob):
    c = new_channel(alice)
    for target in ("#" + c["name"], c["name"]):
        j = alice.ok("chat.postMessage", channel=target, text="by name " + target)
        assert j["channel"] == c["id"], j
        assert j["message"]["text"] == "by name " + target
    assert history_texts(alice, c["id"]) == ["by name " + c["name"],
                                             "by name #" + c["name"]]
    # a public channel by name: one must still be a member to post
    bob.fail("chat.postMessage", "not_in_channel", channel="#" + c["name"], text="x")
    # a private channel's name is not admitted to outsiders
    p = new_channel(alice, "secret", is_private=True)
    alice.ok("chat.postMessage", channel="#" + p["name"], text="inside")
    bob.fail("chat.postMessage", "channel_not_found", channel="#" + p["name"], text="x")
    for bad in ("#no-such-channel-here", "#", "#Not A Name", "no such"):
        alice.fail("chat.postMessage", "channel_not_found", channel=bad, text="x")
    # other methods keep taking ids only, as Slack's do
    alice.fail("conversations.history", "channel_not_found", channel="#" + c["name"])


def test_post_to_a_user_id_posts_to_the_dm(server, alice, bob):
    j = alice.ok("chat.postMessage", channel=bob.user_id, text="hello bob")
    dm = j["channel"]
    assert dm.startswith("D"), j
    assert alice.ok("conversations.open", users=bob.user_id)["channel"]["id"] == dm
    assert history_texts(bob, dm) == ["hello bob"]
    # the same DM every time, from either side
    assert bob.ok("chat.postMessage", channel=alice.user_id, text="hi")["channel"] == dm
    # oneself: the self-DM
    me = alice.ok("chat.postMessage", channel=alice.user_id, text="note to self")["channel"]
    assert me.startswith("D") and me != dm
    alice.fail("chat.postMessage", "channel_not_found", channel="UNOSUCHUSER1", text="x")

