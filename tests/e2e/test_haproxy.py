"""The seed's load balancer: HAProxy (deploy/haproxy.cfg) in front of two
chat-gateways of the distributed deployment. Requests are spread over both,
events reach WebSocket clients whichever gateway took the post, and losing a
gateway loses no request."""

import signal
import time

import pytest

from conftest import NO_RATE_LIMIT, Distributed, Rtm, stop_checked, unique


class TwoGateways(Distributed):
    gateways = 2


@pytest.fixture
def lb():
    srv = TwoGateways(NO_RATE_LIMIT, name="lb").start()
    yield srv
    stop_checked(srv)


def test_requests_and_events_through_the_balancer(lb):
    from conftest import Api
    alice, bob = lb.signup("alice"), lb.signup("bob")
    c = alice.ok("conversations.create", name=unique("lb"))["channel"]["id"]
    bob.ok("conversations.join", channel=c)
    # Both gateways answer, directly and through HAProxy.
    for base in lb.gateway_bases:
        assert Api(base, alice.token).ok("auth.test")["user_id"] == alice.user_id
    w = lb.rtm(bob)
    assert w.url.startswith(f"ws://127.0.0.1:{lb.port}/rtm")
    try:
        # Posts are spread over both gateways; bob's one socket hears them all.
        texts = [f"via the balancer {i}" for i in range(10)]
        for t in texts:
            alice.post(c, t)
        got = [w.wait_type("message", channel=c)["text"] for _ in texts]
        assert got == texts
    finally:
        w.close()


def test_a_gateway_can_die(lb):
    alice = lb.signup("alice")
    c = alice.ok("conversations.create", name=unique("lb"))["channel"]["id"]
    # Kill the first gateway outright; HAProxy retries refused connections on
    # the other one and takes the dead one out after its health checks.
    gw1 = lb.procs[len(lb.SERVICES)]
    gw1.send_signal(signal.SIGKILL)
    gw1.wait()
    deadline = time.monotonic() + 10
    sent = 0
    while time.monotonic() < deadline and sent < 30:
        alice.post(c, f"still here {sent}")
        sent += 1
    hist = alice.ok("conversations.history", channel=c, limit=100)["messages"]
    assert [m["text"] for m in reversed(hist)] == [f"still here {i}" for i in range(sent)]
    lb.procs.remove(gw1)  # it was meant to die: the rest must stop cleanly


def _post_with_request_id(base, token, channel, text, rid):
    import urllib.parse
    from conftest import http_request
    body = urllib.parse.urlencode({"channel": channel, "text": text}).encode()
    r = http_request(f"{base}/api/chat.postMessage", body,
                     {"Authorization": "Bearer " + token, "X-Request-Id": rid,
                      "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200 and r.ok, (r.status, r.raw)
    return r.json["ts"]


def test_a_request_sent_again_is_not_posted_twice(lb):
    # HAProxy marks each request with an X-Request-Id it keeps when it sends
    # the request again to the other gateway (the first died mid-request);
    # a post without client_msg_id takes its key from it.
    alice, bob = lb.signup("alice"), lb.signup("bob")
    c = alice.ok("conversations.create", name=unique("lb"))["channel"]["id"]
    bob.ok("conversations.join", channel=c)
    gw1, gw2 = lb.gateway_bases
    first = _post_with_request_id(gw1, alice.token, c, "once", "req-42")
    again = _post_with_request_id(gw2, alice.token, c, "once", "req-42")
    assert again == first
    # Another request id, or another user with the same one: other messages.
    other = _post_with_request_id(gw1, alice.token, c, "once", "req-43")
    bobs = _post_with_request_id(gw2, bob.token, c, "once", "req-42")
    assert len({first, other, bobs}) == 3
    hist = alice.ok("conversations.history", channel=c, limit=10)["messages"]
    assert [m["ts"] for m in hist].count(first) == 1
    assert len([m for m in hist if m["text"] == "once"]) == 3
    # Through the balancer, a client's own X-Request-Id is replaced by
    # HAProxy's, so two requests are two messages.
    one = _post_with_request_id(lb.base, alice.token, c, "twice", "client-id")
    two = _post_with_request_id(lb.base, alice.token, c, "twice", "client-id")
    assert one != two
