"""Incoming webhooks: webhooks.create gives a URL; POSTing Slack's payload to it
posts into the channel as the webhook's creator, without a token."""

import json
import urllib.parse

from conftest import http_request, unique


def new_channel(api):
    return api.ok("conversations.create", name=unique("hooks"))["channel"]["id"]


def post_json(url, obj):
    return http_request(url, json.dumps(obj).encode(), {"Content-Type": "application/json"})


def test_webhook_posts_as_its_creator(server, alice, bob):
    c = new_channel(alice)
    bob.ok("conversations.join", channel=c)
    hook = alice.ok("webhooks.create", channel=c)
    assert hook["channel"] == c
    assert hook["url"] == f"{server.base}/hooks/{hook['id']}"

    r = post_json(hook["url"], {"text": "deploy finished"})
    assert (r.status, r.raw) == (200, b"ok")
    form = urllib.parse.urlencode({"payload": json.dumps({"text": "second, as a form"})})
    r = http_request(hook["url"], form.encode(),
                     {"Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status, r.raw) == (200, b"ok")

    msgs = bob.ok("conversations.history", channel=c, limit=10)["messages"]
    assert [(m["text"], m["user"]) for m in msgs[:2]] == [
        ("second, as a form", alice.user_id), ("deploy finished", alice.user_id)]

    # a thread reply through the hook
    r = post_json(hook["url"], {"text": "in the thread", "thread_ts": msgs[1]["ts"]})
    assert r.status == 200
    replies = bob.ok("conversations.replies", channel=c, ts=msgs[1]["ts"])["messages"]
    assert [m["text"] for m in replies] == ["deploy finished", "in the thread"]


def test_webhook_errors(server, alice, bob):
    c = new_channel(alice)
    hook = alice.ok("webhooks.create", channel=c)
    # only members make webhooks
    assert bob.fail("webhooks.create", "not_in_channel", channel=c)
    # a forged or tampered id finds no service
    tampered = hook["url"][:-2] + ("AA" if not hook["url"].endswith("AA") else "BB")
    for url in (tampered, f"{server.base}/hooks/nothing-here", f"{server.base}/hooks/"):
        r = post_json(url, {"text": "x"})
        assert (r.status, r.raw) == (404, b"no_service"), (url, r)
    # what Slack answers for a bad payload
    assert post_json(hook["url"], {"text": ""}).raw == b"no_text"
    r = http_request(hook["url"], b"{not json", {"Content-Type": "application/json"})
    assert (r.status, r.raw) == (400, b"invalid_payload")
    r = post_json(hook["url"], {"text": "y" * 40001})
    assert (r.status, r.raw) == (400, b"invalid_payload")
    # the hook follows its creator's rights: archived channel, then gone
    alice.ok("conversations.archive", channel=c)
    r = post_json(hook["url"], {"text": "too late"})
    assert (r.status, r.raw) == (410, b"channel_is_archived")
    # webhooks are not an API method anyone can call
    r = alice.request("webhooks.post", id=hook["id"], text="x")
    assert (r.status, r.error) == (200, "unknown_method"), r
    assert server.health().status == 200
