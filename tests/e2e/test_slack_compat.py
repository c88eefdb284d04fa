"""Slack platform compatibility end to end (issue 14): what software written
for Slack expects of the Web API and the events, beyond the basic methods
that test_api.py covers. Runs against chatd and the separate servers."""
import json

from conftest import http_request, unique, wait_until


def new_channel(api, prefix="compat", **kw):
    return api.ok("conversations.create", name=unique(prefix), **kw)["channel"]


def new_channel_id(api, prefix="compat"):
    return new_channel(api, prefix)["id"]


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



# ----------------------------------------------------- rich messages ---

BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "Deploy report"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*api* is live <@UNOBODY>"},
     "fields": [{"type": "mrkdwn", "text": "*Env*\nprod"}],
     "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Logs"},
                   "action_id": "logs", "value": "42"}},
    {"type": "divider"},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "by ci"},
                                     {"type": "image", "image_url": "https://x.test/i.png",
                                      "alt_text": "ci"}]},
    {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
        {"type": "text", "text": "ping "}, {"type": "user", "user_id": "UABC"},
        {"type": "emoji", "name": "tada"}]}]},
]
ATTACHMENTS = [{"color": "#36a64f", "pretext": "pre", "title": "T",
                "title_link": "https://example.com/t", "text": "att \u00e9 text",
                "fields": [{"title": "F1", "value": "v1", "short": True}], "footer": "foot",
                "ts": 123456789}]
METADATA = {"event_type": "deploy_done", "event_payload": {"id": 42, "ok": True,
                                                            "tags": ["a", "b"]}}


def test_blocks_attachments_and_metadata_round_trip(server, alice, bob):
    c = new_channel_id(alice)
    bob.ok("conversations.join", channel=c)
    for via in ("json", "form"):
        # JSON bodies carry arrays; forms carry them as JSON text, as Slack's SDKs send
        j = alice.ok("chat.postMessage", via=via, channel=c, text="fallback",
                     blocks=BLOCKS if via == "json" else json.dumps(BLOCKS),
                     attachments=ATTACHMENTS if via == "json" else json.dumps(ATTACHMENTS),
                     metadata=METADATA if via == "json" else json.dumps(METADATA),
                     unfurl_links=True)
        m = j["message"]
        assert (m["text"], m["blocks"], m["attachments"], m["metadata"]) == (
            "fallback", BLOCKS, ATTACHMENTS, METADATA), m
        got = bob.ok("conversations.history", channel=c, limit=1)["messages"][0]
        assert (got["ts"], got["blocks"], got["attachments"], got["metadata"]) == (
            j["ts"], BLOCKS, ATTACHMENTS, METADATA), got
    # a plain message carries none of them
    plain = alice.post(c, "plain")["message"]
    assert not {"blocks", "attachments", "metadata", "username", "icons"} & plain.keys()


def test_text_is_derived_from_blocks(server, alice):
    c = new_channel_id(alice)
    m = alice.ok("chat.postMessage", via="json", channel=c, blocks=BLOCKS)["message"]
    assert m["text"] == ("Deploy report\n*api* is live <@UNOBODY>\n*Env*\nprod\nby ci\n"
                         "ping <@UABC>:tada:"), m
    assert m["blocks"] == BLOCKS
    # search finds what only the blocks said
    hits = alice.ok("search.messages", query="Deploy report")["messages"]["matches"]
    assert m["ts"] in [h["ts"] for h in hits]
    # blocks with nothing to read: Slack's placeholder
    m = alice.ok("chat.postMessage", via="json", channel=c,
                 blocks=[{"type": "divider"}])["message"]
    assert m["text"] == "This content can't be displayed."
    # attachments alone are a message, with empty text
    m = alice.ok("chat.postMessage", via="json", channel=c, attachments=ATTACHMENTS)["message"]
    assert (m["attachments"], m.get("text", "")) == (ATTACHMENTS, "")
    # nothing at all is still no_text; an empty blocks array is nothing
    alice.fail("chat.postMessage", "no_text", channel=c)
    alice.fail("chat.postMessage", "no_text", via="json", channel=c, blocks=[])


def test_bad_rich_parts_are_refused_and_nothing_is_posted(server, alice):
    c = new_channel_id(alice)
    cases = [
        ({"blocks": "[not json"}, "invalid_blocks_format"),
        ({"blocks": '{"type":"section"}'}, "invalid_blocks_format"),
        ({"blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        ({"blocks": [{"text": "no type"}]}, "invalid_blocks"),
        ({"blocks": ["a string"]}, "invalid_blocks"),
        ({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 70000}}]},
         "msg_blocks_too_long"),
        # too deep: a JSON body stops at 32 levels, a form's blocks text at 32 too
        ({"blocks": [{"type": "x", "deep": json.loads("[" * 40 + "]" * 40)}]},
         {"json": "invalid_json", "form": "invalid_blocks_format"}),
        ({"attachments": '{"not": "an array"}'}, "invalid_attachments"),
        ({"attachments": [1, 2]}, "invalid_attachments"),
        ({"attachments": [{"text": "a"}] * 101}, "too_many_attachments"),
        ({"metadata": {"event_payload": {}}}, "invalid_metadata_format"),
        ({"metadata": {"event_type": "t", "event_payload": [1]}}, "invalid_metadata_format"),
        ({"metadata": "nope"}, "invalid_metadata_format"),
        ({"metadata": {"event_type": "t", "event_payload": {"x": "y" * 70000}}},
         "metadata_too_large"),
    ]
    for args, err in cases:
        for via in ("json", "form"):
            if via == "form":
                args = {k: v if isinstance(v, str) else json.dumps(v) for k, v in args.items()}
            alice.fail("chat.postMessage", err[via] if isinstance(err, dict) else err,
                       via=via, channel=c, text="t", **args)
    assert history_texts(alice, c) == []


def test_update_replaces_or_keeps_blocks(server, alice):
    c = new_channel_id(alice)
    ts = alice.ok("chat.postMessage", via="json", channel=c, text="v1", blocks=BLOCKS,
                  attachments=ATTACHMENTS)["ts"]
    # text only: blocks and attachments stay
    m = alice.ok("chat.update", via="json", channel=c, ts=ts, text="v2")["message"]
    assert (m["text"], m["blocks"], m["attachments"]) == ("v2", BLOCKS, ATTACHMENTS)
    # new blocks without text: the text follows them
    nb = [{"type": "section", "text": {"type": "plain_text", "text": "Approved"}}]
    m = alice.ok("chat.update", via="json", channel=c, ts=ts, blocks=nb)["message"]
    assert (m["text"], m["blocks"]) == ("Approved", nb)
    # an empty array removes them; the text stays
    m = alice.ok("chat.update", via="json", channel=c, ts=ts, blocks=[], attachments=[])["message"]
    assert m["text"] == "Approved" and "blocks" not in m and "attachments" not in m
    got = alice.ok("conversations.history", channel=c)["messages"][0]
    assert got["text"] == "Approved" and "blocks" not in got
    # without any rich part left, an edit needs text
    alice.fail("chat.update", "no_text", channel=c, ts=ts, text="")


def test_rich_parts_reach_listeners(server, alice, bob):
    c = new_channel_id(alice)
    bob.ok("conversations.join", channel=c)
    rtm = server.rtm(bob)
    try:
        ts = alice.ok("chat.postMessage", via="json", channel=c, text="t", blocks=BLOCKS,
                      attachments=ATTACHMENTS, metadata=METADATA)["ts"]
        ev = rtm.wait_for(lambda e: e.get("type") == "message" and e.get("ts") == ts)
        assert (ev["blocks"], ev["attachments"], ev["metadata"]) == (BLOCKS, ATTACHMENTS,
                                                                     METADATA), ev
    finally:
        rtm.close()


def test_webhook_takes_the_chat_post_message_payload(server, alice, bob):
    c = new_channel_id(alice)
    bob.ok("conversations.join", channel=c)
    hook = alice.ok("webhooks.create", channel=c)
    r = http_request(hook["url"], json.dumps({
        "text": "fallback", "blocks": BLOCKS, "attachments": ATTACHMENTS,
        "username": "Deploy Bot", "icon_emoji": ":rocket:"}).encode(),
        {"Content-Type": "application/json"})
    assert (r.status, r.raw) == (200, b"ok"), r
    m = bob.ok("conversations.history", channel=c, limit=1)["messages"][0]
    assert (m["text"], m["blocks"], m["attachments"], m["username"], m["icons"]) == (
        "fallback", BLOCKS, ATTACHMENTS, "Deploy Bot", {"emoji": ":rocket:"}), m
    r = http_request(hook["url"], json.dumps({
        "blocks": [{"type": "section", "text": {"type": "plain_text", "text": "only blocks"}}],
        "icon_url": "https://example.com/bot.png"}).encode(),
        {"Content-Type": "application/json"})
    assert (r.status, r.raw) == (200, b"ok"), r
    m = bob.ok("conversations.history", channel=c, limit=1)["messages"][0]
    assert m["text"] == "only blocks" and m["icons"]["image_48"] == "https://example.com/bot.png"
    for payload, word in (({"blocks": "[oops"}, b"invalid_blocks_format"),
                          ({"text": "x", "attachments": [{"a": 1}] * 101},
                           b"too_many_attachments"),
                          ({"text": "x", "icon_url": "javascript:alert(1)"},
                           b"invalid_payload"),
                          ({"text": "x", "icon_emoji": "rocket"}, b"invalid_payload")):
        r = http_request(hook["url"], json.dumps(payload).encode(),
                         {"Content-Type": "application/json"})
        assert (r.status, r.raw) == (400, word), (payload, r)
    # a person's token cannot post under another name
    m = alice.ok("chat.postMessage", channel=c, text="me", username="Not Alice",
                 icon_emoji=":ghost:")["message"]
    assert "username" not in m and "icons" not in m


# ------------------------------------------------------- event shapes ---


def msg_event(rtm, pred):
    return rtm.wait_for(lambda e: e.get("type") == "message" and pred(e))


def test_message_events_have_slacks_shape(server, alice, bob):
    c = new_channel_id(alice)
    p = new_channel(alice, "priv", is_private=True)["id"]
    bob.ok("conversations.join", channel=c)
    alice.ok("conversations.invite", channel=p, users=bob.user_id)
    dm = alice.ok("conversations.open", users=bob.user_id)["channel"]["id"]
    rtm = server.rtm(bob)
    try:
        for chan, kind in ((c, "channel"), (p, "group"), (dm, "im")):
            ts = alice.post(chan, "hello " + kind)["ts"]
            ev = msg_event(rtm, lambda e: e.get("ts") == ts)
            # a new message's event_ts is its ts, so a reply may thread on either
            assert (ev["event_ts"], ev["channel"], ev["channel_type"]) == (ts, chan, kind), ev

        ts = alice.post(c, "before")["ts"]
        msg_event(rtm, lambda e: e.get("ts") == ts)
        alice.ok("chat.update", channel=c, ts=ts, text="after")
        ev = msg_event(rtm, lambda e: e.get("subtype") == "message_changed")
        assert ev["channel"] == c and ev["channel_type"] == "channel" and ev["hidden"] is True
        assert ev["ts"] == ev["event_ts"] and ev["ts"] != ts, ev
        assert (ev["message"]["ts"], ev["message"]["text"]) == (ts, "after")
        assert ev["message"]["edited"]["user"] == alice.user_id
        assert (ev["previous_message"]["ts"], ev["previous_message"]["text"]) == (ts, "before")
        assert "edited" not in ev["previous_message"]

        alice.ok("chat.delete", channel=c, ts=ts)
        ev = msg_event(rtm, lambda e: e.get("subtype") == "message_deleted")
        assert (ev["channel"], ev["deleted_ts"], ev["previous_message"]["text"]) == (c, ts, "after")
        assert ev["ts"] == ev["event_ts"] and ev["ts"] != ts, ev

        # a broadcast reply is a thread_broadcast, in the event and in history
        root = alice.post(c, "root")["ts"]
        r = alice.ok("chat.postMessage", channel=c, text="for all", thread_ts=root,
                     reply_broadcast=True)
        assert r["message"]["subtype"] == "thread_broadcast"
        ev = msg_event(rtm, lambda e: e.get("ts") == r["ts"])
        assert (ev["subtype"], ev["thread_ts"]) == ("thread_broadcast", root), ev
        top = bob.ok("conversations.history", channel=c, limit=1)["messages"][0]
        assert (top["ts"], top["subtype"]) == (r["ts"], "thread_broadcast")
        # replying to an event's event_ts lands in its thread
        ev = msg_event(rtm, lambda e: e.get("text") == "root")
        bob.ok("chat.postMessage", channel=c, text="re", thread_ts=ev["event_ts"])
        replies = bob.ok("conversations.replies", channel=c, ts=root)["messages"]
        assert [m["text"] for m in replies] == ["root", "for all", "re"]
    finally:
        rtm.close()


def test_team_join_reaches_the_team(server, alice):
    rtm = server.rtm(alice)
    try:
        newcomer = server.signup("newcomer", "New Comer")
        ev = rtm.wait_for(lambda e: e.get("type") == "team_join" and
                          e["user"]["id"] == newcomer.user_id)
        assert ev["user"]["real_name"] == "New Comer" and ev["user"]["team_id"] == alice.team_id
    finally:
        rtm.close()


def test_a_shared_file_is_a_file_share(server, alice):
    c = new_channel_id(alice)
    f = alice.ok("files.upload", channels=c, content="some notes", filename="notes.txt",
                 initial_comment="the notes")["file"]
    m = alice.ok("conversations.history", channel=c)["messages"][0]
    assert (m["subtype"], m["text"], [x["id"] for x in m["files"]]) == (
        "file_share", "the notes", [f["id"]]), m


# ---------------------------------------------------- more methods ---


def test_me_message(server, alice, bob):
    c = new_channel_id(alice)
    j = alice.ok("chat.meMessage", channel=c, text="waves")
    assert j["channel"] == c and j["ts"]
    m = bob.ok("conversations.history", channel=c)["messages"][0]
    assert (m["ts"], m["subtype"], m["text"]) == (j["ts"], "me_message", "waves")
    alice.fail("chat.meMessage", "no_text", channel=c, text="")
    bob.fail("chat.meMessage", "not_in_channel", channel=c, text="x")


def test_post_ephemeral_reaches_only_its_reader(server, alice, bob, carol):
    c = new_channel_id(alice)
    bob.ok("conversations.join", channel=c)
    carol.ok("conversations.join", channel=c)
    rb, rc = server.rtm(bob), server.rtm(carol)
    try:
        j = alice.ok("chat.postEphemeral", via="json", channel=c, user=bob.user_id,
                     text="only you", blocks=[{"type": "divider"}])
        ev = rb.wait_for(lambda e: e.get("type") == "message" and e.get("is_ephemeral"))
        assert (ev["ts"], ev["text"], ev["user"], ev["channel"], ev["blocks"]) == (
            j["message_ts"], "only you", alice.user_id, c, [{"type": "divider"}]), ev
        # carol hears the next ordinary message and never the ephemeral one
        ts = alice.post(c, "for all")["ts"]
        rc.wait_for(lambda e: e.get("ts") == ts)
        assert not [e for e in rc.pending if e.get("is_ephemeral")]
        # nothing was stored
        assert history_texts(bob, c) == ["for all"]
    finally:
        rb.close()
        rc.close()
    outsider = server.signup("outsider")
    alice.fail("chat.postEphemeral", "user_not_in_channel", channel=c, user=outsider.user_id,
               text="x")
    alice.fail("chat.postEphemeral", "user_not_found", channel=c, user="nobody", text="x")
    alice.fail("chat.postEphemeral", "no_text", channel=c, user=bob.user_id)
    outsider.fail("chat.postEphemeral", "not_in_channel", channel=c, user=bob.user_id, text="x")


def test_emoji_list_and_dnd_info(server, alice, bob):
    j = alice.ok("emoji.list")
    assert j["emoji"] == {} and j["cache_ts"] > 0
    d = alice.ok("dnd.info", user=bob.user_id)
    assert (d["dnd_enabled"], d["snooze_enabled"]) == (False, False)
    alice.ok("dnd.info")
    alice.fail("dnd.info", "user_not_found", user="not-a-user")


def test_user_objects_always_carry_slacks_profile_fields(server, alice, bob):
    """Apps index these without checking; Slack sends them even when empty."""
    for u in (alice.ok("users.info", user=bob.user_id)["user"],
              [m for m in alice.ok("users.list")["members"] if m["id"] == bob.user_id][0]):
        assert u["real_name"] == "Bob" and "tz" in u, u
        p = u["profile"]
        for key in ("display_name", "display_name_normalized", "real_name",
                    "real_name_normalized", "status_text", "status_emoji", "title"):
            assert isinstance(p[key], str), (key, p)


def test_profiles_have_pictures(server, alice):
    """profile.image_*: the person's initials on their colour, served by the
    gateway as SVG for good; nothing else passes for a picture."""
    alice.ok("users.profile.set", name="display_name", value="Élodie Ward")
    p = alice.ok("users.info", user=alice.user_id)["user"]["profile"]
    assert len(p["avatar_hash"]) == 12, p
    for size in (24, 32, 48, 72, 192, 512):
        assert p[f"image_{size}"].startswith(f"{server.base}/avatars/{size}/"), p
    assert p["image_72"].endswith("/%C3%89W.svg"), p
    assert alice.ok("users.profile.get")["profile"]["image_48"] == p["image_48"]
    r = http_request(p["image_72"])
    assert r.status == 200 and r.headers["Content-Type"] == "image/svg+xml", r
    assert "immutable" in r.headers["Cache-Control"], r.headers
    assert ">ÉW</text>" in r.raw.decode() and 'width="72"' in r.raw.decode(), r.raw
    base = p["image_72"].rsplit("/", 3)[0]
    for bad in ("/50/c2410c/AB.svg", "/72/C2410C/AB.svg", "/72/c2410c/ABC.svg",
                "/72/c2410c/%3Cs%3E.svg", "/72/c2410c/AB.png", "/72/c2410c/.svg",
                "/72/zz410c/AB.svg", "/72/c2410c/A%FF.svg", "/72/c2410c/AB.svg?x=1"):
        assert http_request(base + bad).status == 404, bad


# --------------------------------------------------------- apps, bots ---

MANIFEST = {
    "display_information": {"name": "Deploy Bot"},
    "features": {"bot_user": {"display_name": "deploybot"}},
    "oauth_config": {"scopes": {"bot": ["chat:write", "chat:write.customize", "channels:read",
                                        "channels:join", "channels:history", "users:read"]}},
    "settings": {"socket_mode_enabled": True},
}


def make_app(server, owner, manifest=MANIFEST):
    j = owner.ok("apps.manifest.create", via="json", manifest=manifest)
    return j, server.api(j["bot_token"]), server.api(j["app_token"])


def test_an_app_has_a_bot_with_slacks_tokens(server, alice, bob):
    j, bot, app = make_app(server, alice)
    assert j["app_id"].startswith("A") and j["bot_id"].startswith("B")
    assert j["bot_token"].startswith("xoxb-") and j["app_token"].startswith("xapp-")
    assert len(j["credentials"]["signing_secret"]) == 64
    t = bot.ok("auth.test")
    assert (t["user_id"], t["bot_id"], t["team_id"]) == (j["bot_user_id"], j["bot_id"],
                                                         alice.team_id), t
    assert "bot_id" not in alice.ok("auth.test")
    info = bob.ok("bots.info", bot=j["bot_id"])["bot"]
    assert (info["id"], info["app_id"], info["user_id"], info["name"]) == (
        j["bot_id"], j["app_id"], j["bot_user_id"], "Deploy Bot"), info
    bob.fail("bots.info", "bot_not_found", bot="BNOSUCHBOT1")
    u = bob.ok("users.info", user=j["bot_user_id"])["user"]
    assert u["is_bot"] is True and u["profile"]["bot_id"] == j["bot_id"], u
    assert u["real_name"] == "deploybot" and u["name"].startswith("deploybot")
    assert "email" not in u["profile"]

    # the bot posts as itself; with a name of its choosing it is a bot_message
    gen = [c for c in bot.ok("conversations.list")["channels"] if c["is_general"]][0]["id"]
    bot.ok("conversations.join", channel=gen)
    m = bot.ok("chat.postMessage", channel=gen, text="deployed")["message"]
    assert (m["user"], m["bot_id"]) == (j["bot_user_id"], j["bot_id"]) and "subtype" not in m
    m = bot.ok("chat.postMessage", channel=gen, text="as ci", username="CI",
               icon_emoji=":robot_face:")["message"]
    assert (m["subtype"], m["username"], m["icons"]["emoji"]) == ("bot_message", "CI",
                                                                  ":robot_face:"), m
    got = bob.ok("conversations.history", channel=gen, limit=1)["messages"][0]
    assert (got["bot_id"], got["username"]) == (j["bot_id"], "CI")


def test_tokens_are_held_to_their_kind_and_scopes(server, alice):
    j, bot, app = make_app(server, alice)
    gen = [c for c in bot.ok("conversations.list")["channels"] if c["is_general"]][0]["id"]
    bot.ok("conversations.join", channel=gen)
    ts = bot.ok("chat.postMessage", channel=gen, text="x")["ts"]
    # a scope the manifest did not ask for
    r = bot.fail("reactions.add", "missing_scope", channel=gen, timestamp=ts, name="tada")
    assert "reactions:write" in r["detail"]
    bot.fail("users.lookupByEmail", "missing_scope", email=alice.email)
    # the app-level token is for Socket Mode only
    app.fail("chat.postMessage", "not_allowed_token_type", channel=gen, text="x")
    app.fail("conversations.list", "not_allowed_token_type")
    # apps are made by people
    bot.fail("apps.manifest.create", "not_allowed_token_type", via="json", manifest=MANIFEST)
    # a person's token dressed as a bot's, or a bot's as an app's, is nobody's
    for forged in ("xoxb-" + alice.token, "xapp-" + j["bot_token"][5:],
                   "xoxb-" + j["app_token"][5:], j["bot_token"][5:]):
        server.api(forged).fail("auth.test", "invalid_auth")


def test_history_scopes_go_by_the_channel_type(server, alice):
    """conversations.history admits any history scope; the channel's type
    then says which one the bot needs."""
    j, bot, _ = make_app(server, alice)  # channels:history only
    c = new_channel_id(alice)
    bot.ok("conversations.join", channel=c)
    alice.post(c, "public")
    assert "public" in history_texts(bot, c)
    dm = alice.ok("conversations.open", users=j["bot_user_id"])["channel"]["id"]
    posted = alice.post(dm, "private words")
    r = bot.fail("conversations.history", "missing_scope", channel=dm)
    assert "im:history" in r["detail"], r
    bot.fail("conversations.replies", "missing_scope", channel=dm, ts=posted["ts"])


def test_bad_manifests_are_refused(server, alice):
    for manifest, why in (
            ({}, "display_information.name"),
            ({"display_information": {"name": "x" * 36}}, "35"),
            ({"display_information": {"name": "A"},
              "oauth_config": {"scopes": {"bot": ["chat:write", "Root All!"]}}}, "Root All!"),
            ({"display_information": {"name": "A"},
              "features": {"bot_user": {"display_name": "b" * 81}}}, "80"),
            ("not json", "is not JSON: "),
            ([1], "not a JSON object")):
        r = alice.fail("apps.manifest.create", "invalid_manifest", via="json", manifest=manifest)
        assert why in r["detail"], r
    alice.fail("apps.manifest.create", "invalid_manifest")


def test_slack_sdk_runs_as_the_bot(server, alice):
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
    j, _, _ = make_app(server, alice)
    client = WebClient(token=j["bot_token"], base_url=server.base + "/api/")
    assert client.auth_test()["bot_id"] == j["bot_id"]
    gen = [c for c in client.conversations_list()["channels"] if c["is_general"]][0]["id"]
    client.conversations_join(channel=gen)
    r = client.chat_postMessage(channel="#general", text="from the sdk",
                                blocks=[{"type": "section",
                                         "text": {"type": "mrkdwn", "text": "*hi*"}}])
    assert r["channel"] == gen and r["message"]["bot_id"] == j["bot_id"]
    try:
        client.reactions_add(channel=gen, timestamp=r["ts"], name="tada")
        raise AssertionError("reactions.add without reactions:write")
    except SlackApiError as e:
        assert e.response["error"] == "missing_scope"


def test_scopes_libchat_does_not_know_are_kept_and_grant_nothing(server, alice):
    m = {"display_information": {"name": "Future"},
         "oauth_config": {"scopes": {"bot": ["chat:write", "assistant:write"]}}}
    j, bot, _ = make_app(server, alice, m)
    assert bot.ok("auth.test")["bot_id"] == j["bot_id"]


def test_revoking_an_apps_token_revokes_all_of_them(server, alice):
    j, bot, app = make_app(server, alice)
    assert bot.ok("auth.revoke")["revoked"] is True
    bot.fail("auth.test", "token_revoked")
    app.fail("auth.test", "token_revoked")
    alice.ok("auth.test")  # the maker is not touched


def test_files_and_the_event_stream_hold_tokens_to_their_kind(server, alice):
    j, bot, app = make_app(server, alice)  # no files:write, but channels:history
    gen = [c for c in bot.ok("conversations.list")["channels"] if c["is_general"]][0]["id"]
    bot.ok("conversations.join", channel=gen)
    for who, err in ((bot, "missing_scope"), (app, "not_allowed_token_type")):
        r = who.request("files.upload", channels=gen, content="x", filename="x.txt")
        assert r.json["error"] == err, r
    # the RTM stream: a bot with a history scope may, an app-level token never
    assert bot.ok("rtm.connect")["url"]
    app.fail("rtm.connect", "not_allowed_token_type")
    m = {"display_information": {"name": "Quiet"},
         "oauth_config": {"scopes": {"bot": ["chat:write"]}}}
    _, quiet, _ = make_app(server, alice, m)
    quiet.fail("rtm.connect", "missing_scope")


def test_pins(server, alice, bob, rtms):
    """pins.add/remove/list as Slack's, pin_added/pin_removed for members."""
    c = alice.ok("conversations.create", name=unique("pins"))["channel"]["id"]
    first = alice.post(c, "pin me")["ts"]
    second = alice.post(c, "and me")["ts"]
    wa = rtms(server, alice)
    alice.ok("pins.add", channel=c, timestamp=first)
    e = wa.wait_for(lambda e: e.get("type") == "pin_added", what="pin_added")
    assert (e["user"], e["channel_id"], e["item"]["type"], e["item"]["created_by"]) == (
        alice.user_id, c, "message", alice.user_id), e
    assert e["item"]["message"]["ts"] == first and e["item"]["message"]["text"] == "pin me", e
    alice.fail("pins.add", "already_pinned", channel=c, timestamp=first)
    alice.ok("pins.add", channel=c, timestamp=second)
    items = alice.ok("pins.list", channel=c)["items"]
    assert [(i["type"], i["message"]["ts"], i["created_by"], i["channel"]) for i in items] == [
        ("message", second, alice.user_id, c), ("message", first, alice.user_id, c)], items
    assert all(i["created"] > 0 for i in items), items

    # members only; a message of the channel; Slack's errors
    bob.fail("pins.add", "not_in_channel", channel=c, timestamp=first)
    assert len(bob.ok("pins.list", channel=c)["items"]) == 2  # a public channel's are readable
    alice.fail("pins.add", "message_not_found", channel=c, timestamp="1700000000.000001")
    alice.fail("pins.add", "bad_timestamp", channel=c, timestamp="yesterday")
    alice.fail("pins.add", "no_item_specified", channel=c)
    alice.fail("pins.add", "channel_not_found", channel="CNOSUCH1", timestamp=first)

    alice.ok("pins.remove", channel=c, timestamp=first)
    e = wa.wait_for(lambda e: e.get("type") == "pin_removed", what="pin_removed")
    assert e["item"]["message"]["ts"] == first, e
    alice.fail("pins.remove", "no_pin", channel=c, timestamp=first)
    assert [i["message"]["ts"] for i in alice.ok("pins.list", channel=c)["items"]] == [second]
    # a deleted message is no longer listed, and its pin can still be taken down
    alice.ok("chat.delete", channel=c, ts=second)
    assert alice.ok("pins.list", channel=c)["items"] == []
    alice.ok("pins.remove", channel=c, timestamp=second)
    alice.fail("pins.remove", "no_pin", channel=c, timestamp=second)


def test_bots_pin_with_their_scopes(server, alice):
    j = alice.ok("apps.manifest.create", via="json", manifest={
        **MANIFEST, "oauth_config": {"scopes": {"bot": ["chat:write", "channels:join"]}}})
    bot = server.api(j["bot_token"])
    c = alice.ok("conversations.create", name=unique("pins"))["channel"]["id"]
    bot.ok("conversations.join", channel=c)
    ts = bot.post(c, "from the bot")["ts"]
    r = bot.fail("pins.add", "missing_scope", channel=c, timestamp=ts)
    assert "pins:write" in r["detail"], r
    bot.fail("pins.list", "missing_scope", channel=c)


def test_scheduled_messages(server, alice, bob):
    """chat.scheduleMessage posts at its time, once, as its author; the list
    and delete are the author's own."""
    import time
    c = alice.ok("conversations.create", name=unique("later"))["channel"]["id"]
    now = int(time.time())
    j = alice.ok("chat.scheduleMessage", channel=c, text="see you soon", post_at=now + 2)
    assert j["channel"] == c and j["post_at"] == now + 2, j
    qid = j["scheduled_message_id"]
    assert qid.startswith("Q") and j["message"]["type"] == "delayed_message", j
    assert j["message"]["text"] == "see you soon" and j["message"]["user"] == alice.user_id, j
    gone = alice.ok("chat.scheduleMessage", via="json", channel=c, post_at=str(now + 3600),
                    blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*later*"}}])
    listed = alice.ok("chat.scheduledMessages.list")["scheduled_messages"]
    assert [(m["id"], m["channel_id"], m["post_at"]) for m in listed] == [
        (qid, c, now + 2), (gone["scheduled_message_id"], c, now + 3600)], listed
    assert listed[0]["text"] == "see you soon" and listed[0]["date_created"] >= now, listed
    assert alice.ok("chat.scheduledMessages.list", channel=c, latest=str(now + 10))[
        "scheduled_messages"][0]["id"] == qid
    assert bob.ok("chat.scheduledMessages.list")["scheduled_messages"] == []
    # only its author deletes it, in its channel
    bob.fail("chat.deleteScheduledMessage", "invalid_scheduled_message_id", channel=c,
             scheduled_message_id=gone["scheduled_message_id"])
    other = alice.ok("conversations.create", name=unique("later"))["channel"]["id"]
    alice.fail("chat.deleteScheduledMessage", "invalid_scheduled_message_id", channel=other,
               scheduled_message_id=gone["scheduled_message_id"])
    alice.ok("chat.deleteScheduledMessage", channel=c,
             scheduled_message_id=gone["scheduled_message_id"])
    alice.fail("chat.deleteScheduledMessage", "invalid_scheduled_message_id", channel=c,
               scheduled_message_id=gone["scheduled_message_id"])
    # Slack's errors
    alice.fail("chat.scheduleMessage", "time_in_past", channel=c, text="x", post_at=now - 1)
    alice.fail("chat.scheduleMessage", "time_too_far", channel=c, text="x",
               post_at=now + 121 * 86400)
    alice.fail("chat.scheduleMessage", "invalid_time", channel=c, text="x")
    alice.fail("chat.scheduleMessage", "no_text", channel=c, post_at=now + 60)
    bob.fail("chat.scheduleMessage", "not_in_channel", channel=c, text="x", post_at=now + 60)

    # at its time, posted once, as its author
    def posted():
        return [m for m in alice.ok("conversations.history", channel=c)["messages"]
                if m["text"] == "see you soon"]
    wait_until(lambda: posted(), timeout=15, what="the scheduled message")
    time.sleep(1.5)
    m = posted()
    assert len(m) == 1 and m[0]["user"] == alice.user_id, m
    assert alice.ok("chat.scheduledMessages.list")["scheduled_messages"] == []


def test_bookmarks(server, alice, bob):
    """bookmarks.add/edit/remove/list as Slack's: members change them,
    whoever sees the channel lists them."""
    c = alice.ok("conversations.create", name=unique("bm"))["channel"]["id"]
    b = alice.ok("bookmarks.add", channel_id=c, title="Design doc", type="link",
                 link="https://example.com/design", emoji=":memo:")["bookmark"]
    assert b["id"].startswith("Bk") and (b["channel_id"], b["title"], b["link"], b["emoji"],
                                         b["type"]) == (c, "Design doc",
                                                        "https://example.com/design", ":memo:",
                                                        "link"), b
    assert b["last_updated_by_user_id"] == alice.user_id and b["date_created"] > 0, b
    second = alice.ok("bookmarks.add", channel_id=c, title="Runbook", type="link",
                      link="https://example.com/run")["bookmark"]
    e = alice.ok("bookmarks.edit", channel_id=c, bookmark_id=b["id"],
                 title="Design doc v2")["bookmark"]
    assert (e["id"], e["title"], e["link"], e["emoji"]) == (
        b["id"], "Design doc v2", "https://example.com/design", ":memo:"), e
    listed = bob.ok("bookmarks.list", channel_id=c)["bookmarks"]  # public: bob sees them
    assert [x["id"] for x in listed] == [b["id"], second["id"]], listed
    bob.fail("bookmarks.add", "not_in_channel", channel_id=c, title="x", type="link",
             link="https://example.com")
    alice.fail("bookmarks.add", "invalid_link", channel_id=c, title="x", type="link",
               link="javascript:alert(1)")
    alice.fail("bookmarks.add", "invalid_bookmark_type", channel_id=c, title="x",
               type="folder", link="https://example.com")
    alice.fail("bookmarks.edit", "invalid_bookmark_id", channel_id=c, bookmark_id="BkNOSUCH",
               title="x")
    alice.ok("bookmarks.remove", channel_id=c, bookmark_id=b["id"])
    alice.fail("bookmarks.remove", "invalid_bookmark_id", channel_id=c, bookmark_id=b["id"])
    assert [x["id"] for x in alice.ok("bookmarks.list", channel_id=c)["bookmarks"]] == [
        second["id"]]


def test_usergroups(server, alice, bob):
    """usergroups.* as Slack's: created with a handle, members set, listed,
    disabled and enabled; names and handles once per workspace."""
    c = alice.ok("conversations.create", name=unique("ug"))["channel"]["id"]
    name = unique("Oncall Team")
    g = alice.ok("usergroups.create", name=name, description="who is up",
                 channels=c)["usergroup"]
    assert g["id"].startswith("S") and g["is_usergroup"] and g["name"] == name, g
    assert g["handle"] == name.lower().replace(" ", "-"), g  # made from the name
    assert g["prefs"]["channels"] == [c] and g["created_by"] == alice.user_id, g
    assert g["date_delete"] == 0 and g["description"] == "who is up", g
    alice.fail("usergroups.create", "name_already_exists", name=name, handle=unique("other"))
    alice.fail("usergroups.create", "handle_already_exists", name=unique("x"),
               handle=g["handle"])
    alice.fail("usergroups.create", "invalid_arguments", name="x", handle="Not Valid!")
    alice.fail("usergroups.create", "name_already_exists", name=name.upper(),
               handle=unique("other"))  # names are one whatever their case
    jp = alice.ok("usergroups.create", name="当番表")["usergroup"]
    assert jp["handle"].startswith("group-"), jp  # no ASCII to make a handle of
    u = alice.ok("usergroups.users.update", usergroup=g["id"],
                 users=f"{alice.user_id},{bob.user_id},{alice.user_id}",
                 include_count=True)["usergroup"]
    assert u["users"] == [alice.user_id, bob.user_id] and u["user_count"] == 2, u
    alice.fail("usergroups.users.update", "invalid_users", usergroup=g["id"], users="UNOSUCH1")
    assert bob.ok("usergroups.users.list", usergroup=g["id"])["users"] == [
        alice.user_id, bob.user_id]
    e = bob.ok("usergroups.update", usergroup=g["id"], description="nights")["usergroup"]
    assert (e["name"], e["description"], e["updated_by"]) == (name, "nights", bob.user_id), e
    listed = [x for x in bob.ok("usergroups.list", include_users=True)["usergroups"]
              if x["id"] == g["id"]]
    assert listed and listed[0]["users"] == [alice.user_id, bob.user_id], listed
    d = alice.ok("usergroups.disable", usergroup=g["id"])["usergroup"]
    assert d["date_delete"] > 0, d
    alice.fail("usergroups.disable", "already_disabled", usergroup=g["id"])
    assert g["id"] not in [x["id"] for x in alice.ok("usergroups.list")["usergroups"]]
    assert g["id"] in [x["id"] for x in alice.ok("usergroups.list", include_disabled=True)[
        "usergroups"]]
    alice.ok("usergroups.enable", usergroup=g["id"])
    alice.fail("usergroups.update", "no_such_subteam", usergroup="SNOSUCH1", name="x")


def test_reactions_list(server, alice, bob):
    """reactions.list: what a person reacted to, newest first, of the
    channels the caller may read, with a cursor."""
    c = alice.ok("conversations.create", name=unique("rx"))["channel"]["id"]
    secret = alice.ok("conversations.create", name=unique("rx"), is_private=True)["channel"]["id"]
    ts = [alice.post(c, f"react {i}")["ts"] for i in range(3)]
    hidden = alice.post(secret, "only alice")["ts"]
    for t in ts:
        alice.ok("reactions.add", channel=c, timestamp=t, name="thumbsup")
    alice.ok("reactions.add", channel=secret, timestamp=hidden, name="eyes")
    alice.ok("reactions.remove", channel=c, timestamp=ts[1], name="thumbsup")
    j = alice.ok("reactions.list", limit=1)
    assert [(i["type"], i["channel"], i["message"]["ts"]) for i in j["items"]] == [
        ("message", secret, hidden)], j
    rest = alice.ok("reactions.list", cursor=j["response_metadata"]["next_cursor"])["items"]
    assert [i["message"]["ts"] for i in rest] == [ts[2], ts[0]], rest
    assert rest[0]["message"]["reactions"][0]["name"] == "thumbsup", rest
    # bob asks about alice: the private channel's stays out
    assert [i["message"]["ts"] for i in bob.ok("reactions.list", user=alice.user_id)[
        "items"]] == [ts[2], ts[0]]
    assert bob.ok("reactions.list")["items"] == []
    bob.fail("reactions.list", "user_not_found", user="UNOSUCH1")
