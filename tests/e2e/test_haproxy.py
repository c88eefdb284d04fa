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
