"""The Web API end to end: accounts, users, conversations, messages, reactions,
history paging and search, against a real chatd over HTTP."""
import http.client
import threading
import time

from conftest import NO_RATE_LIMIT, PASSWORD, http_request, new_server, unique, wait_until

VIAS = ("get", "form", "json")


def ids(items):
    return [x["id"] for x in items]


def general_id(api):
    chans = api.ok("conversations.list")["channels"]
    gen = [c for c in chans if c["is_general"]]
    assert len(gen) == 1, chans
    return gen[0]["id"]


def new_channel(api, prefix="chan", **kw):
    name = unique(prefix)
    c = api.ok("conversations.create", name=name, **kw)["channel"]
    assert c["name"] == name
    return c


def history_all(api, channel, limit, **kw):
    """Every message of a channel through cursor paging, newest first."""
    got, cursor, pages = [], None, 0
    while True:
        j = api.ok("conversations.history", channel=channel, limit=limit, cursor=cursor, **kw)
        pages += 1
        assert len(j["messages"]) <= limit
        got.extend(j["messages"])
        cursor = j["response_metadata"]["next_cursor"]
        assert j["has_more"] is bool(cursor), j
        if not cursor:
            return got, pages
        assert pages < 1000, "history paging does not end"


# --------------------------------------------------------- accounts ---


def test_signup_login_and_auth_test(server):
    anon = server.api()
    email = f"{unique('Ada')}@Example.com"
    j = anon.ok("auth.signup", email=email, password=PASSWORD, real_name="Ada Lovelace")
    assert j["user_id"].startswith("U") and j["team_id"].startswith("T")
    assert j["user"]["id"] == j["user_id"]
    assert j["user"]["team_id"] == j["team_id"]
    assert j["user"]["real_name"] == "Ada Lovelace"
    assert j["user"]["profile"]["email"] == email.lower()
    # the user name is the email's local part, lower-cased
    assert j["user"]["name"] == email.split("@")[0].lower()
    assert j["user"]["deleted"] is False

    me = anon.as_(j["token"]).ok("auth.test")
    assert me == {"ok": True, "url": server.base + "/", "team": "My Workspace",
                  "user": j["user"]["name"], "team_id": j["team_id"], "user_id": j["user_id"],
                  "is_enterprise_install": False}

    # log in (the email in another case), get a second working token
    k = anon.ok("auth.login", email=email.upper(), password=PASSWORD)
    assert k["user_id"] == j["user_id"] and k["team_id"] == j["team_id"]
    assert k["token"] != j["token"]
    assert anon.as_(k["token"]).ok("auth.test")["user_id"] == j["user_id"]

    anon.fail("auth.login", "invalid_auth", email=email, password=PASSWORD + "x")
    anon.fail("auth.login", "invalid_auth", email="nobody-" + email, password=PASSWORD)
    anon.fail("auth.signup", "email_taken", email=email, password=PASSWORD)
    anon.fail("auth.signup", "invalid_email", email="not-an-email", password=PASSWORD)


def test_auth_revoke(server):
    a = server.signup("rev")
    other = server.api().ok("auth.login", email=a.email, password=PASSWORD)["token"]
    # test=true checks the call and revokes nothing
    assert a.ok("auth.revoke", test=True) == {"ok": True, "revoked": False}
    assert a.ok("auth.test")["user_id"] == a.user_id
    assert a.ok("auth.revoke") == {"ok": True, "revoked": True}
    for tok in (a.token, other):  # every token issued before the revoke
        for via in VIAS:
            j = server.api(tok).fail("auth.test", "token_revoked", via=via)
            assert j["detail"] == "this token was revoked"
    # logging in again gives a token that works
    fresh = server.api().ok("auth.login", email=a.email, password=PASSWORD)["token"]
    assert server.api(fresh).ok("auth.test")["user_id"] == a.user_id


# ------------------------------------------------------------- users ---


def test_users_info_and_lookup_by_email(server, alice, bob):
    u = alice.ok("users.info", user=bob.user_id)["user"]
    assert u["id"] == bob.user_id
    assert u["team_id"] == bob.team_id
    assert u["real_name"] == "Bob"
    assert u["profile"]["email"] == bob.email
    assert u["is_bot"] is False and u["deleted"] is False
    assert u == bob.user | {"updated": u["updated"]}

    for via in VIAS:
        got = alice.ok("users.lookupByEmail", email=bob.email.upper(), via=via)["user"]
        assert got["id"] == bob.user_id
    alice.fail("users.lookupByEmail", "users_not_found", email="nobody@example.com")
    alice.fail("users.info", "user_not_found", user="UNOSUCHUSER")


def test_users_list_pagination(server, alice):
    made = {server.signup("lister").user_id for _ in range(5)}
    full = alice.ok("users.list", limit=1000)
    assert full["response_metadata"]["next_cursor"] == ""
    everyone = ids(full["members"])
    assert len(everyone) == len(set(everyone))
    assert made <= set(everyone) and alice.user_id in everyone

    for limit in (1, 2, 3):
        paged, cursor, calls = [], None, 0
        while True:
            j = alice.ok("users.list", limit=limit, cursor=cursor)
            calls += 1
            assert len(j["members"]) <= limit
            paged.extend(ids(j["members"]))
            cursor = j["response_metadata"]["next_cursor"]
            if not cursor:
                break
            assert len(j["members"]) == limit
        # same people, same order, no gaps and no duplicates
        assert paged == everyone
        assert calls in (-(-len(everyone) // limit), -(-len(everyone) // limit) + 1)
    alice.fail("users.list", "invalid_cursor", cursor="bm90IGEgY3Vyc29y", limit=2)


def test_profile_set_and_get(server, alice, bob):
    # a profile object: JSON text in a form, an object in a JSON body
    j = alice.ok("users.profile.set", profile={"status_text": "in a meeting",
                                               "status_emoji": ":calendar:"})
    assert j["profile"]["status_text"] == "in a meeting"
    assert j["profile"]["status_emoji"] == ":calendar:"
    j = alice.ok("users.profile.set", via="json", profile={"title": "Engineer"})
    assert j["profile"]["title"] == "Engineer"
    assert j["profile"]["status_text"] == "in a meeting"  # fields not given stay
    # one name/value pair
    j = alice.ok("users.profile.set", name="display_name", value="ally")
    assert j["profile"]["display_name"] == "ally"
    assert j["profile"]["display_name_normalized"] == "ally"

    want = {"real_name": "Alice", "display_name": "ally", "title": "Engineer",
            "status_text": "in a meeting", "status_emoji": ":calendar:",
            "email": alice.email, "real_name_normalized": "Alice",
            "display_name_normalized": "ally", "team": alice.team_id}
    pictures = {k: f"{server.base}/avatars/{k[6:]}/" for k in
                ("image_24", "image_32", "image_48", "image_72", "image_192", "image_512")}

    def without_pictures(p):
        """p less its pictures, which must be ally's initial at each size."""
        for k, prefix in pictures.items():
            url = p.pop(k)
            assert url.startswith(prefix) and url.endswith("/A.svg"), (k, url)
        assert len(p.pop("avatar_hash")) == 12, p
        return p
    assert without_pictures(alice.ok("users.profile.get")["profile"]) == want
    for via in VIAS:  # someone else reads it too
        assert without_pictures(
            bob.ok("users.profile.get", user=alice.user_id, via=via)["profile"]) == want
    assert without_pictures(bob.ok("users.info", user=alice.user_id)["user"]["profile"]) == want
    alice.fail("users.profile.set", "invalid_arguments")


def test_presence(server, alice, bob, rtms):
    # nobody connected: away (offline reads as away), not online
    assert bob.ok("users.getPresence", user=alice.user_id) == {
        "ok": True, "presence": "away", "online": False, "auto_away": True,
        "manual_away": False, "connection_count": 0}
    w = rtms(server, alice)  # a WebSocket connection makes her active ...
    w.wait_type("presence_change", user=alice.user_id)  # ... once it is announced
    assert bob.ok("users.getPresence", user=alice.user_id) == {
        "ok": True, "presence": "active", "online": True, "auto_away": False,
        "manual_away": False, "connection_count": 1}
    assert alice.ok("users.setPresence", presence="away") == {"ok": True}
    for via in VIAS:
        assert bob.ok("users.getPresence", user=alice.user_id, via=via) == {
            "ok": True, "presence": "away", "online": True, "auto_away": False,
            "manual_away": True, "connection_count": 1}
    alice.ok("users.setPresence", via="json", presence="auto")
    assert alice.ok("users.getPresence")["presence"] == "active"
    alice.fail("users.setPresence", "invalid_arguments", presence="busy")
    alice.fail("users.getPresence", "user_not_found", user="not-a-user")


# ------------------------------------------------------ conversations ---


def test_conversations_create_info_list(server, alice, bob):
    pub = new_channel(alice, "pub")
    assert pub["id"].startswith("C")
    assert (pub["is_channel"], pub["is_group"], pub["is_im"], pub["is_mpim"],
            pub["is_private"]) == (True, False, False, False, False)
    assert pub["creator"] == alice.user_id
    assert pub["is_member"] is True and pub["num_members"] == 1
    assert pub["is_archived"] is False and pub["is_general"] is False
    assert pub["name_normalized"] == pub["name"]

    priv = new_channel(alice, "priv", is_private=True)
    assert priv["id"].startswith("G")
    assert (priv["is_channel"], priv["is_group"], priv["is_private"]) == (False, True, True)

    for via in VIAS:
        info = alice.ok("conversations.info", channel=pub["id"], via=via)["channel"]
        assert info == pub
    # a non-member sees the public channel, not the private one
    seen = bob.ok("conversations.info", channel=pub["id"])["channel"]
    assert seen["id"] == pub["id"] and seen["is_member"] is False
    bob.fail("conversations.info", "channel_not_found", channel=priv["id"])

    alice.fail("conversations.create", "name_taken", name=pub["name"])
    alice.fail("conversations.create", "invalid_name_specials", name="Has Spaces")
    alice.fail("conversations.create", "invalid_name_required", name="")

    def listed(api, **kw):
        return ids(api.ok("conversations.list", limit=1000, **kw)["channels"])

    public_only = listed(alice)
    assert pub["id"] in public_only and priv["id"] not in public_only
    assert general_id(alice) in public_only
    private_only = listed(alice, types="private_channel")
    assert priv["id"] in private_only and pub["id"] not in private_only
    both = listed(alice, types="public_channel,private_channel")
    assert {pub["id"], priv["id"]} <= set(both)
    assert priv["id"] not in listed(bob, types="public_channel,private_channel")
    assert pub["id"] in listed(bob)
    dm = alice.ok("conversations.open", users=bob.user_id)["channel"]["id"]
    assert dm in listed(alice, types="im")
    assert dm not in listed(alice, types="public_channel,private_channel")
    alice.fail("conversations.list", "invalid_arguments", types="bogus")


def test_join_leave_invite_kick_members(server, alice, bob, carol):
    c = new_channel(alice, "team")["id"]
    j = bob.ok("conversations.join", channel=c)
    assert j["channel"]["id"] == c and j["channel"]["is_member"] is True
    assert j["already_in_channel"] is False and "warning" not in j
    j = bob.ok("conversations.join", channel=c, via="json")
    assert j["already_in_channel"] is True and j["warning"] == "already_in_channel"
    assert alice.ok("conversations.members", channel=c)["members"] == [alice.user_id,
                                                                       bob.user_id]

    assert bob.ok("conversations.leave", channel=c) == {"ok": True, "not_in_channel": False}
    assert bob.ok("conversations.leave", channel=c) == {"ok": True, "not_in_channel": True}
    assert alice.ok("conversations.members", channel=c)["members"] == [alice.user_id]

    j = alice.ok("conversations.invite", channel=c, users=[bob.user_id, carol.user_id])
    assert j["channel"]["num_members"] == 3
    members = alice.ok("conversations.members", channel=c)["members"]
    assert sorted(members) == sorted([alice.user_id, bob.user_id, carol.user_id])

    # paging through members, one at a time
    paged, cursor = [], None
    while True:
        j = alice.ok("conversations.members", channel=c, limit=1, cursor=cursor)
        paged += j["members"]
        cursor = j["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert paged == members

    bob.fail("conversations.kick", "restricted_action", channel=c, user=carol.user_id)
    alice.fail("conversations.kick", "cant_kick_self", channel=c, user=alice.user_id)
    alice.fail("conversations.invite", "cant_invite_self", channel=c, users=alice.user_id)
    alice.fail("conversations.invite", "user_not_found", channel=c, users="UNOSUCHUSER")
    assert alice.ok("conversations.kick", channel=c, user=carol.user_id) == {"ok": True}
    assert sorted(alice.ok("conversations.members", channel=c)["members"]) == sorted(
        [alice.user_id, bob.user_id])

    gen = general_id(alice)
    alice.fail("conversations.leave", "cant_leave_general", channel=gen)
    alice.fail("conversations.kick", "cant_kick_from_general", channel=gen, user=bob.user_id)
    alice.fail("conversations.join", "channel_not_found", channel="CNOSUCHCHAN")


def test_open_dm_is_idempotent(server, alice, bob, carol):
    first = alice.ok("conversations.open", users=bob.user_id)["channel"]
    assert first["id"].startswith("D")
    assert first["is_im"] is True and first["is_private"] is True
    assert first["user"] == bob.user_id
    for via in VIAS:
        again = alice.ok("conversations.open", users=[bob.user_id], via=via)["channel"]
        assert again["id"] == first["id"]
    theirs = bob.ok("conversations.open", users=alice.user_id)["channel"]
    assert theirs["id"] == first["id"] and theirs["user"] == alice.user_id
    # by id
    assert alice.ok("conversations.open", channel=first["id"])["channel"]["id"] == first["id"]
    # a group DM: any order of the same people is the same conversation
    g = alice.ok("conversations.open", users=[bob.user_id, carol.user_id])["channel"]
    assert g["id"].startswith("G") and g["is_mpim"] is True and g["num_members"] == 3
    g2 = carol.ok("conversations.open", via="json", users=[bob.user_id, alice.user_id])
    assert g2["channel"]["id"] == g["id"]
    # messages in the DM reach the other side's history
    ts = alice.post(first["id"], "psst")["ts"]
    assert [m["ts"] for m in bob.ok("conversations.history", channel=first["id"])["messages"]] \
        == [ts]
    alice.fail("conversations.open", "user_not_found", users="UNOSUCHUSER")


def test_mark(server, alice):
    c = new_channel(alice, "mark")["id"]
    t1 = alice.post(c, "one")["ts"]
    t2 = alice.post(c, "two")["ts"]
    assert alice.ok("conversations.mark", channel=c, ts=t1) == {"ok": True}
    assert alice.ok("conversations.info", channel=c)["channel"]["last_read"] == t1
    alice.ok("conversations.mark", channel=c, ts=t2, via="json")
    assert alice.ok("conversations.info", channel=c)["channel"]["last_read"] == t2
    alice.fail("conversations.mark", "invalid_ts", channel=c, ts="yesterday")


def test_unread_counts_follow_marks(server, alice, bob):
    c = new_channel(alice, "unread")["id"]
    bob.ok("conversations.join", channel=c)
    ts = [alice.post(c, f"news {i}")["ts"] for i in range(3)]

    def unread():
        ch = bob.ok("conversations.info", channel=c)["channel"]
        return ch["unread_count"], ch["unread_count_display"], ch.get("last_read")

    wait_until(lambda: unread()[:2] == (3, 3), "bob has 3 unread")  # counted in the background
    bob.ok("conversations.mark", channel=c, ts=ts[1])
    wait_until(lambda: unread() == (1, 1, ts[1]), "bob has 1 unread")
    bob.ok("conversations.mark", channel=c, ts=ts[2])
    wait_until(lambda: unread() == (0, 0, ts[2]), "bob has read everything")
    # his own posts are not unread for him: once his post is counted (one
    # more unread for alice; the counts of all members come from the same
    # record of the post), bob still has nothing unread
    def alice_unread():
        return alice.ok("conversations.info", channel=c)["channel"]["unread_count"]

    before = alice_unread()
    bob.post(c, "mine")
    wait_until(lambda: alice_unread() == before + 1, "bob's post is counted for alice")
    assert unread()[:2] == (0, 0)


def test_rename_topic_purpose(server, alice, bob):
    c = new_channel(alice, "old")["id"]
    newname = unique("new")
    ch = alice.ok("conversations.rename", channel=c, name=newname)["channel"]
    assert ch["name"] == newname and ch["name_normalized"] == newname
    assert alice.ok("conversations.info", channel=c)["channel"]["name"] == newname
    alice.fail("conversations.rename", "invalid_name_specials", channel=c, name="UPPER")
    alice.fail("conversations.rename", "restricted_action", channel=general_id(alice),
               name=unique("gen"))

    ch = alice.ok("conversations.setTopic", channel=c, topic="Weekly sync")["channel"]
    assert ch["topic"]["value"] == "Weekly sync"
    assert ch["topic"]["creator"] == alice.user_id
    assert abs(ch["topic"]["last_set"] - time.time()) < 300
    ch = alice.ok("conversations.setPurpose", channel=c, purpose="Planning",
                  via="json")["channel"]
    assert ch["purpose"]["value"] == "Planning"
    assert ch["purpose"]["creator"] == alice.user_id
    info = bob.ok("conversations.info", channel=c)["channel"]
    assert info["topic"]["value"] == "Weekly sync" and info["purpose"]["value"] == "Planning"
    bob.fail("conversations.setTopic", "not_in_channel", channel=c, topic="mine now")


def test_archive_unarchive(server, alice, bob):
    c = new_channel(alice, "arch")["id"]
    bob.ok("conversations.join", channel=c)
    assert alice.ok("conversations.archive", channel=c) == {"ok": True}
    assert alice.ok("conversations.info", channel=c)["channel"]["is_archived"] is True
    alice.fail("chat.postMessage", "is_archived", channel=c, text="anyone?")
    alice.fail("conversations.archive", "already_archived", channel=c)
    listed = ids(alice.ok("conversations.list", limit=1000, exclude_archived=True)["channels"])
    assert c not in listed
    assert alice.ok("conversations.unarchive", channel=c, via="json") == {"ok": True}
    assert alice.ok("conversations.info", channel=c)["channel"]["is_archived"] is False
    alice.post(c, "back again")
    alice.fail("conversations.unarchive", "not_archived", channel=c)
    alice.fail("conversations.archive", "cant_archive_general", channel=general_id(alice))


# ---------------------------------------------------------- messages ---


def test_post_message_and_client_msg_id_retry(server, alice):
    c = new_channel(alice, "post")["id"]
    j = alice.post(c, "hello *world*")
    assert j["channel"] == c
    m = j["message"]
    assert (m["type"], m["user"], m["text"], m["ts"]) == ("message", alice.user_id,
                                                           "hello *world*", j["ts"])

    # a retry with the same client_msg_id is the same message
    first = alice.post(c, "exactly once", client_msg_id="0b9a6c1e-retry-1")
    for via in VIAS:
        again = alice.ok("chat.postMessage", via=via, channel=c, text="exactly once",
                         client_msg_id="0b9a6c1e-retry-1")
        assert again["ts"] == first["ts"]
        assert again["message"]["client_msg_id"] == "0b9a6c1e-retry-1"
    other = alice.post(c, "exactly once", client_msg_id="0b9a6c1e-retry-2")
    assert other["ts"] != first["ts"]
    texts = [(x["text"], x["ts"]) for x in
             alice.ok("conversations.history", channel=c)["messages"]]
    assert texts == [("exactly once", other["ts"]), ("exactly once", first["ts"]),
                     ("hello *world*", j["ts"])]

    alice.fail("chat.postMessage", "no_text", channel=c, text="")
    alice.fail("chat.postMessage", "channel_not_found", channel="CNOSUCHCHAN", text="x")


def test_same_method_via_get_form_and_json(server, alice, bob):
    c = new_channel(alice, "vias")["id"]
    posted = {}
    for via in VIAS:
        j = alice.ok("chat.postMessage", via=via, channel=c, text=f"sent by {via} & co ✓")
        assert j["message"]["text"] == f"sent by {via} & co ✓"
        assert j["message"]["user"] == alice.user_id
        posted[via] = j["ts"]
    hist = alice.ok("conversations.history", channel=c)["messages"]
    assert [(m["text"], m["ts"]) for m in hist] == [
        (f"sent by {v} & co ✓", posted[v]) for v in reversed(VIAS)]

    # the same read three ways, and the token as a parameter instead of a header,
    # once the channel's last activity (kept up to date in the background)
    # is the last post
    wait_until(lambda: alice.ok("conversations.info", channel=c)["channel"].get("latest_ts")
               == posted["json"], "latest_ts is the last post")
    infos = [alice.ok("conversations.info", channel=c, via=v) for v in VIAS]
    infos += [alice.ok("conversations.info", channel=c, via=v, token_param=True) for v in VIAS]
    assert all(i == infos[0] for i in infos)
    # and the same failure three ways
    for via in VIAS:
        bob.fail("chat.update", "cant_update_message", via=via, channel=c, ts=posted["get"],
                 text="not mine")


def test_client_msg_id_under_concurrent_retries(server, alice, bob):
    c = new_channel(alice, "race")["id"]
    bob.ok("conversations.join", channel=c)
    replies = []

    def post():
        replies.append(alice.call("chat.postMessage", channel=c, text="once",
                                  client_msg_id="c0ffee00-race"))

    threads = [threading.Thread(target=post) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r["ok"] is True for r in replies), replies
    assert len({r["ts"] for r in replies}) == 1
    hist = alice.ok("conversations.history", channel=c)["messages"]
    assert [(m["ts"], m["text"]) for m in hist] == [(replies[0]["ts"], "once")]
    # the id is the author's: someone else using it is refused, not merged
    j = bob.fail("chat.postMessage", "duplicate", channel=c, text="once",
                 client_msg_id="c0ffee00-race")
    assert j["detail"] == "client_msg_id is another user's"


def test_http_details(server, alice):
    r = http_request(f"{server.base}/api/auth.test",
                     headers={"Authorization": "Bearer " + alice.token})
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.headers["Cache-Control"] == "no-store"
    # several requests on one kept-alive connection
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for i in range(3):
            conn.request("POST", "/api/api.test", body=f"foo=n{i}",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            resp = conn.getresponse()
            assert (resp.status, resp.read()) == (200, b'{"ok":true,"args":{"foo":"n%d"}}' % i)
    finally:
        conn.close()
    # the body wins over the query string, as in Slack
    r = http_request(f"{server.base}/api/api.test?foo=query", b"foo=body",
                     {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert r.json == {"ok": True, "args": {"foo": "body"}}
    r = http_request(f"{server.base}/api/api.test?foo=query", b'{"foo":"json"}',
                     {"Content-Type": "application/json"})
    assert r.json == {"ok": True, "args": {"foo": "json"}}
    # form decoding: '+' is a space, a stray '%' stays
    r = http_request(f"{server.base}/api/api.test?foo=100%25+sure%zz")
    assert r.json == {"ok": True, "args": {"foo": "100% sure%zz"}}
    # JSON numbers and booleans where text is expected are their text
    r = http_request(f"{server.base}/api/api.test", b'{"foo":12.5}',
                     {"Content-Type": "application/json"})
    assert r.json == {"ok": True, "args": {"foo": "12.5"}}
    # a Bearer header wins over a token argument
    r = http_request(f"{server.base}/api/auth.test?token=garbage",
                     headers={"Authorization": "Bearer " + alice.token})
    assert r.json["ok"] is True and r.json["user_id"] == alice.user_id
    # api.test fails on request
    assert server.api().fail("api.test", "channel_not_found", error="channel_not_found") == {
        "ok": False, "error": "channel_not_found", "detail": "api.test was asked to fail"}


def test_update_and_delete(server, alice, bob):
    c = new_channel(alice, "edit")["id"]
    bob.ok("conversations.join", channel=c)
    ts = alice.post(c, "first draft")["ts"]
    j = alice.ok("chat.update", channel=c, ts=ts, text="final text")
    assert (j["channel"], j["ts"], j["text"]) == (c, ts, "final text")
    assert j["message"]["text"] == "final text"
    assert j["message"]["edited"]["user"] == alice.user_id
    hist = bob.ok("conversations.history", channel=c)["messages"]
    assert [(m["ts"], m["text"], m["edited"]["user"]) for m in hist] == [
        (ts, "final text", alice.user_id)]

    bob.fail("chat.update", "cant_update_message", channel=c, ts=ts, text="hijack")
    bob.fail("chat.delete", "cant_delete_message", channel=c, ts=ts)
    assert alice.ok("chat.delete", channel=c, ts=ts, via="json") == {
        "ok": True, "channel": c, "ts": ts}
    assert bob.ok("conversations.history", channel=c)["messages"] == []
    alice.fail("chat.delete", "message_not_found", channel=c, ts=ts)
    alice.fail("chat.update", "message_not_found", channel=c, ts=ts, text="again")


def test_get_permalink(server, alice):
    c = new_channel(alice, "link")["id"]
    ts = alice.post(c, "link me")["ts"]
    for via in VIAS:
        j = alice.ok("chat.getPermalink", channel=c, message_ts=ts, via=via)
        assert j == {"ok": True, "channel": c,
                     "permalink": f"{server.base}/archives/{c}/p{ts.replace('.', '')}"}
    alice.fail("chat.getPermalink", "message_not_found", channel=c, message_ts="1.000001")


def test_reactions(server, alice, bob):
    c = new_channel(alice, "react")["id"]
    bob.ok("conversations.join", channel=c)
    ts = alice.post(c, "react to me")["ts"]
    assert alice.ok("reactions.add", channel=c, timestamp=ts, name="thumbsup") == {"ok": True}
    bob.ok("reactions.add", channel=c, timestamp=ts, name="thumbsup", via="json")
    bob.ok("reactions.add", channel=c, timestamp=ts, name="tada", via="get")
    j = alice.ok("reactions.get", channel=c, timestamp=ts)
    assert (j["type"], j["channel"], j["message"]["ts"]) == ("message", c, ts)
    assert j["message"]["reactions"] == [
        {"name": "thumbsup", "users": [alice.user_id, bob.user_id], "count": 2},
        {"name": "tada", "users": [bob.user_id], "count": 1}]
    alice.fail("reactions.add", "already_reacted", channel=c, timestamp=ts, name="thumbsup")

    assert alice.ok("reactions.remove", channel=c, timestamp=ts, name="thumbsup") == {"ok": True}
    bob.ok("reactions.remove", channel=c, timestamp=ts, name="tada")
    j = bob.ok("reactions.get", channel=c, timestamp=ts, via="json")
    assert j["message"]["reactions"] == [
        {"name": "thumbsup", "users": [bob.user_id], "count": 1}]
    alice.fail("reactions.remove", "no_reaction", channel=c, timestamp=ts, name="thumbsup")
    alice.fail("reactions.add", "message_not_found", channel=c, timestamp="1.000001",
               name="tada")


def test_history_paging_through_250_messages(server, alice):
    c = new_channel(alice, "hist")["id"]
    posted = [alice.post(c, f"message {i:03d}")["ts"] for i in range(250)]
    assert len(set(posted)) == 250 and posted == sorted(posted, key=float)
    newest_first = posted[::-1]

    for limit in (1, 37, 100, 250, 1000):
        got, pages = history_all(alice, c, limit)
        assert [m["ts"] for m in got] == newest_first, f"limit {limit}"
        assert [m["text"] for m in got] == [f"message {i:03d}" for i in range(249, -1, -1)]
        assert pages in (-(-250 // limit), -(-250 // limit) + 1), (limit, pages)

    # a window: oldest < ts < latest, or <= with inclusive
    lo, hi = posted[100], posted[110]
    j = alice.ok("conversations.history", channel=c, oldest=lo, latest=hi)
    assert [m["ts"] for m in j["messages"]] == posted[109:100:-1]
    assert j["has_more"] is False
    for via in VIAS:
        j = alice.ok("conversations.history", channel=c, oldest=lo, latest=hi, inclusive=True,
                     via=via)
        assert [m["ts"] for m in j["messages"]] == posted[110:99:-1]

    # latest with a limit: the newest ones before it, and more to come
    j = alice.ok("conversations.history", channel=c, latest=posted[50], limit=5)
    assert [m["ts"] for m in j["messages"]] == posted[49:44:-1]
    assert j["has_more"] is True
    # oldest alone: everything after it, paged the same way
    got, _ = history_all(alice, c, 30, oldest=posted[199])
    assert [m["ts"] for m in got] == posted[:199:-1]
    got, _ = history_all(alice, c, 7, oldest=posted[20], latest=posted[60], inclusive=True)
    assert [m["ts"] for m in got] == posted[60:19:-1]

    alice.fail("conversations.history", "invalid_limit", channel=c, limit=1001)
    alice.fail("conversations.history", "invalid_ts", channel=c, latest="soon")


def test_replies(server, alice, bob):
    c = new_channel(alice, "thread")["id"]
    bob.ok("conversations.join", channel=c)
    parent = alice.post(c, "parent")["ts"]
    replies = [(bob if i % 2 else alice).post(c, f"reply {i}", thread_ts=parent)["ts"]
               for i in range(6)]
    alice.post(c, "not in the thread")
    for via in VIAS:
        j = alice.ok("conversations.replies", channel=c, ts=parent, via=via)
        msgs = j["messages"]
        assert [m["ts"] for m in msgs] == [parent] + replies
        assert [m["text"] for m in msgs] == ["parent"] + [f"reply {i}" for i in range(6)]
        assert all(m["thread_ts"] == parent for m in msgs)
        assert msgs[0]["reply_count"] == 6
        assert msgs[0]["reply_users_count"] == 2
        assert sorted(msgs[0]["reply_users"]) == sorted([alice.user_id, bob.user_id])
        assert msgs[0]["latest_reply"] == replies[-1]
    # paged: the same messages, in the same order
    seen, cursor = [], None
    while True:
        j = bob.ok("conversations.replies", channel=c, ts=parent, limit=2, cursor=cursor)
        seen += [m["ts"] for m in j["messages"]]
        cursor = j["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == [parent] + replies
    # the channel's history has the parent, not the replies
    top = [m["text"] for m in alice.ok("conversations.history", channel=c)["messages"]]
    assert top == ["not in the thread", "parent"]


def test_search_messages(server, alice, bob):
    word = unique("zebra")
    pub = new_channel(alice, "search")["id"]
    priv = new_channel(alice, "hidden", is_private=True)["id"]
    posted = [alice.post(pub, f"the {word} number {i}")["ts"] for i in range(3)]
    alice.post(priv, f"secret {word}")
    alice.post(pub, "nothing to see")

    for via in VIAS:
        j = bob.ok("search.messages", query=word, via=via)
        assert j["query"] == word
        matches = j["messages"]["matches"]
        assert sorted(m["ts"] for m in matches) == sorted(posted)  # not the private one
        for m in matches:
            assert m["channel"] == {"id": pub, "name": m["channel"]["name"]}
            assert m["user"] == alice.user_id
            assert m["text"].startswith(f"the {word} number ")
            assert m["permalink"] == f"{server.base}/archives/{pub}/p{m['ts'].replace('.', '')}"
        assert j["messages"]["total"] == 3
        assert j["messages"]["paging"] == {"count": 20, "total": 3, "page": 1, "pages": 1}
    # the creator sees the private one as well
    mine = alice.ok("search.messages", query=word)["messages"]
    assert mine["total"] == 4
    # pages of two
    p1 = alice.ok("search.messages", query=word, count=2, page=1)["messages"]
    p2 = alice.ok("search.messages", query=word, count=2, page=2)["messages"]
    assert len(p1["matches"]) == 2 and len(p2["matches"]) == 2
    assert {m["ts"] for m in p1["matches"]}.isdisjoint(m["ts"] for m in p2["matches"])
    assert p1["paging"]["page"] == 1 and p2["paging"]["page"] == 2
    alice.fail("search.messages", "no_query", query="  ")


def test_health_services_names_a_service_that_is_down():
    """/health is the gateway's liveness; /health?services=1 is readiness: every
    service answers its RPC health, and one that is down is named in a 503."""
    srv = new_server(NO_RATE_LIMIT, name="health").start()
    try:
        r = http_request(srv.base + "/health?services=1")
        assert r.status == 200 and r.json == {"ok": True}, r
        procs = getattr(srv, "procs", None)
        if procs is None:
            return  # chatd runs every service in its own process: always ready
        presence = procs[srv.SERVICES.index("presence")]
        presence.kill()
        presence.wait()
        r = http_request(srv.base + "/health?services=1", timeout=10)
        assert r.status == 503, r
        assert r.json["ok"] is False and r.json["error"] == "service_unavailable", r
        assert r.json["detail"].startswith("presence service:"), r
        assert http_request(srv.base + "/health").status == 200  # the gateway lives
    finally:
        srv.stop()
        srv.cleanup()
