"""The distributed deployment found through etcd (tests/e2e/topology.py).

test_etcd_smoke (ctest e2e_etcd_discovery, label etcd): one instance of each
service and one gateway on the embedded backends, no rpc.* key anywhere:
signup, a post, its history and its WebSocket event.
"""
from conftest import Api, Rtm, unique, wait_until
from topology import SERVICES, Topology


def signup(api, prefix):
    email = f"{unique(prefix)}@example.com"
    j = api.ok("auth.signup", email=email, password="correct horse battery staple",
               real_name=prefix.capitalize())
    a = api.as_(j["token"])
    a.user_id = j["user_id"]
    return a


def test_etcd_smoke():
    topo = Topology(gateways=1, debug=False, name="etcd")
    topo.start()
    ok = False
    try:
        reg = topo.registered()
        want = {svc: {p.address for p in topo.instances[svc]} for svc in SERVICES}
        want["gateway"] = {topo.gateway_bases[0]}
        assert reg == want
        api = Api(topo.base)
        alice = signup(api, "alice")
        bob = signup(api, "bob")
        c = alice.ok("conversations.create", name=unique("etcd"))["channel"]["id"]
        bob.ok("conversations.join", channel=c)
        w = Rtm(bob.ok("rtm.connect")["url"])
        try:
            ts = alice.post(c, "found through etcd")["ts"]
            ev = w.wait_type("message", channel=c)
            assert ev["text"] == "found through etcd" and ev["ts"] == ts, ev
        finally:
            w.close()
        hist = bob.ok("conversations.history", channel=c)["messages"]
        assert [m["text"] for m in hist] == ["found through etcd"]
        wait_until(lambda: bob.ok("conversations.info", channel=c)["channel"]["unread_count"] == 1,
                   "bob has 1 unread")
        ok = True
    finally:
        codes = topo.stop()
        logs = topo.all_logs()
        topo.cleanup(keep=not ok)
    assert all(code == 0 for code in codes.values()), f"exit codes {codes}:\n{logs}"
    # A clean stop revokes every lease: nothing is left registered.
    assert topo.registered() == {}
